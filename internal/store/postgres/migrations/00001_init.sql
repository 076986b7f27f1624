-- Hoist's schema on PostgreSQL: the SQLite store's schema as of its
-- migration 00013, in one step. Times are Unix nanoseconds (UTC) in BIGINT,
-- NULL for the zero time: timestamptz keeps microseconds only. Text that
-- carries what a build printed (a reason, a stage's error, a check's detail
-- and output, a delivery's last error) is BYTEA, since PostgreSQL's TEXT
-- refuses NUL bytes and invalid UTF-8.

-- +goose Up
CREATE TABLE projects (
    key              TEXT PRIMARY KEY,
    id               BIGINT NOT NULL,
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
    origin_line      BIGINT NOT NULL,
    schedule         TEXT NOT NULL DEFAULT '',
    notify_success   BOOLEAN NOT NULL DEFAULT FALSE,
    disabled         BOOLEAN NOT NULL DEFAULT FALSE,
    -- set by an admin only (SetTrusted, SetLimits); PutProject keeps them
    trusted          BOOLEAN NOT NULL DEFAULT FALSE,
    limit_memory     BIGINT NOT NULL DEFAULT 0,
    limit_cpus       DOUBLE PRECISION NOT NULL DEFAULT 0,
    limit_pids       BIGINT NOT NULL DEFAULT 0
);

CREATE INDEX projects_app_id ON projects (app_id);

CREATE TABLE builds (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project      TEXT NOT NULL,
    number       BIGINT NOT NULL,
    status       TEXT NOT NULL,
    cause        TEXT NOT NULL,
    git_commit   TEXT NOT NULL,
    failed_stage TEXT NOT NULL,
    reason       BYTEA NOT NULL,
    image        TEXT NOT NULL,
    digest       TEXT NOT NULL,
    created      BIGINT,
    started      BIGINT,
    finished     BIGINT,
    UNIQUE (project, number)
);

-- The queue asks for queued and running builds (Claim, Active, FailRunning)
-- and for a project's queued or running build (Enqueue, Claim).
CREATE INDEX builds_status ON builds (status);
CREATE INDEX builds_project_status ON builds (project, status);

CREATE TABLE stages (
    build_id BIGINT NOT NULL REFERENCES builds (id) ON DELETE CASCADE,
    name     TEXT NOT NULL,
    status   TEXT NOT NULL,
    started  BIGINT,
    finished BIGINT,
    error    BYTEA NOT NULL,
    PRIMARY KEY (build_id, name)
);

-- end_offset is the length of the log up to and including the chunk, so the
-- chunk holding byte N is the first with end_offset > N: one indexed seek.
CREATE TABLE log_chunks (
    build_id   BIGINT NOT NULL REFERENCES builds (id) ON DELETE CASCADE,
    stage      TEXT NOT NULL,
    seq        BIGINT NOT NULL,
    end_offset BIGINT NOT NULL,
    data       BYTEA NOT NULL,
    stored     BIGINT,
    PRIMARY KEY (build_id, stage, seq),
    UNIQUE (build_id, stage, end_offset)
);

CREATE TABLE images (
    image      TEXT PRIMARY KEY,
    project    TEXT NOT NULL,
    digest     TEXT NOT NULL,
    git_commit TEXT NOT NULL,
    build_id   BIGINT NOT NULL,
    delivered  BIGINT
);

CREATE INDEX images_delivered ON images (delivered);

CREATE TABLE users (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created       BIGINT,
    admin         BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE credentials (
    kind    TEXT NOT NULL,
    hash    TEXT NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name    TEXT NOT NULL,
    created BIGINT,
    expires BIGINT,
    PRIMARY KEY (kind, hash)
);

CREATE INDEX credentials_user ON credentials (user_id);

-- The image graph: the FROM images each project's target file named at its
-- last checkout. A project with no FROM image Hoist could build still gets
-- a row in project_from_known, so that "its FROM lines are known" can be
-- told from "it never checked out".
CREATE TABLE project_from (
    project TEXT NOT NULL,
    seq     BIGINT NOT NULL,
    image   TEXT NOT NULL, -- ns/name:tag
    PRIMARY KEY (project, seq)
);

CREATE TABLE project_from_known (
    project TEXT PRIMARY KEY
);

-- Each build's identity (a hash of its inputs), whether it was forced to
-- run with unchanged inputs, and the commit a rebuild checks out ('' for
-- its branch's head).
CREATE TABLE build_identity (
    build_id   BIGINT PRIMARY KEY REFERENCES builds (id) ON DELETE CASCADE,
    project    TEXT NOT NULL,
    identity   TEXT NOT NULL DEFAULT '',
    force      BOOLEAN NOT NULL DEFAULT FALSE,
    pin_commit TEXT NOT NULL DEFAULT ''
);

CREATE INDEX build_identity_project ON build_identity (project, identity);

CREATE TABLE reconciles (
    id       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    time     BIGINT,
    revision TEXT NOT NULL,
    added    BIGINT NOT NULL, -- counts, for lists
    changed  BIGINT NOT NULL,
    removed  BIGINT NOT NULL,
    diff     TEXT NOT NULL,   -- JSON {added, changed, removed}
    errors   TEXT NOT NULL    -- JSON array of strings
);

CREATE TABLE notify_state (
    project  TEXT PRIMARY KEY,
    health   TEXT NOT NULL, -- failing | ok
    build_id BIGINT NOT NULL,
    updated  BIGINT
);

CREATE TABLE notifications (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    build_id   BIGINT NOT NULL,
    project    TEXT NOT NULL,
    event      TEXT NOT NULL,   -- failed | recovered | succeeded
    channel    TEXT NOT NULL,   -- email | webhook | slack
    recipient  TEXT NOT NULL,
    status     TEXT NOT NULL,   -- pending | sent | failed
    attempts   BIGINT NOT NULL,
    last_error BYTEA NOT NULL,
    created    BIGINT,
    updated    BIGINT
);

CREATE INDEX notifications_build ON notifications (build_id);

CREATE TABLE check_results (
    build_id    BIGINT NOT NULL REFERENCES builds (id) ON DELETE CASCADE,
    seq         BIGINT NOT NULL,
    id          TEXT NOT NULL,
    grp         TEXT NOT NULL,
    description TEXT NOT NULL,
    status      TEXT NOT NULL,
    detail      BYTEA NOT NULL,
    blocking    BOOLEAN NOT NULL,
    location    TEXT NOT NULL,
    duration    BIGINT NOT NULL, -- nanoseconds
    output      BYTEA NOT NULL,
    PRIMARY KEY (build_id, seq)
);

CREATE TABLE artifacts (
    build_id     BIGINT NOT NULL REFERENCES builds (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    content_type TEXT NOT NULL,
    data         BYTEA NOT NULL,
    created      BIGINT,
    PRIMARY KEY (build_id, name)
);

-- build_id is 0 for a re-scan, so it refers to no build; the SBOM, which
-- can be megabytes, has its own column so that lists do not read it.
CREATE TABLE scans (
    id       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project  TEXT NOT NULL,
    image    TEXT NOT NULL,
    digest   TEXT NOT NULL,
    build_id BIGINT NOT NULL,
    cause    TEXT NOT NULL,
    started  BIGINT,
    finished BIGINT,
    report   TEXT NOT NULL, -- JSON pipeline.ScanReport without its SBOM
    sbom     BYTEA NOT NULL
);

CREATE INDEX scans_project ON scans (project, id);
CREATE INDEX scans_build ON scans (build_id) WHERE build_id != 0;

-- Owners: a project belongs to its namespace (its app-id); a namespace has
-- members with a role; admins may do everything.
CREATE TABLE namespaces (
    name    TEXT PRIMARY KEY,
    created BIGINT
);

CREATE TABLE members (
    namespace TEXT NOT NULL REFERENCES namespaces (name) ON DELETE CASCADE,
    user_id   BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role      TEXT NOT NULL,
    PRIMARY KEY (namespace, user_id)
);

CREATE INDEX members_user ON members (user_id);

-- +goose Down
DROP TABLE members;
DROP TABLE namespaces;
DROP TABLE scans;
DROP TABLE artifacts;
DROP TABLE check_results;
DROP TABLE notifications;
DROP TABLE notify_state;
DROP TABLE reconciles;
DROP TABLE build_identity;
DROP TABLE project_from_known;
DROP TABLE project_from;
DROP TABLE credentials;
DROP TABLE users;
DROP TABLE images;
DROP TABLE log_chunks;
DROP TABLE stages;
DROP TABLE builds;
DROP TABLE projects;
