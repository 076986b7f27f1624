-- Times are Unix nanoseconds (UTC); NULL is the zero time.

-- +goose Up
CREATE TABLE projects (
    key              TEXT PRIMARY KEY,
    id               INTEGER NOT NULL,
    app_id           TEXT NOT NULL,
    job_id           TEXT NOT NULL,
    tag              TEXT NOT NULL,
    git_url          TEXT NOT NULL,
    git_branch       TEXT NOT NULL,
    git_path         TEXT NOT NULL,
    target_file      TEXT NOT NULL,
    build_context    TEXT NOT NULL,
    prebuild_script  TEXT NOT NULL,
    prebuild_context TEXT NOT NULL,
    depends_on       TEXT NOT NULL, -- JSON array of {namespace, name, tag}
    notify_email     TEXT NOT NULL,
    origin_file      TEXT NOT NULL,
    origin_line      INTEGER NOT NULL
);

CREATE TABLE builds (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    project      TEXT NOT NULL,
    number       INTEGER NOT NULL,
    status       TEXT NOT NULL,
    cause        TEXT NOT NULL,
    git_commit   TEXT NOT NULL,
    failed_stage TEXT NOT NULL,
    reason       TEXT NOT NULL,
    image        TEXT NOT NULL,
    digest       TEXT NOT NULL,
    created      INTEGER,
    started      INTEGER,
    finished     INTEGER,
    UNIQUE (project, number)
);

CREATE TABLE stages (
    build_id INTEGER NOT NULL REFERENCES builds (id) ON DELETE CASCADE,
    name     TEXT NOT NULL,
    status   TEXT NOT NULL,
    started  INTEGER,
    finished INTEGER,
    error    TEXT NOT NULL,
    PRIMARY KEY (build_id, name)
);

-- end_offset is the length of the log up to and including the chunk, so the
-- chunk holding byte N is the first with end_offset > N: one indexed seek.
CREATE TABLE log_chunks (
    build_id   INTEGER NOT NULL REFERENCES builds (id) ON DELETE CASCADE,
    stage      TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    end_offset INTEGER NOT NULL,
    data       BLOB NOT NULL,
    PRIMARY KEY (build_id, stage, seq),
    UNIQUE (build_id, stage, end_offset)
);

CREATE TABLE images (
    image      TEXT PRIMARY KEY,
    project    TEXT NOT NULL,
    digest     TEXT NOT NULL,
    git_commit TEXT NOT NULL,
    build_id   INTEGER NOT NULL,
    delivered  INTEGER
);

CREATE INDEX images_delivered ON images (delivered);

-- +goose Down
DROP TABLE images;
DROP TABLE log_chunks;
DROP TABLE stages;
DROP TABLE builds;
DROP TABLE projects;
