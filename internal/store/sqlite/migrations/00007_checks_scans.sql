-- The test stage's results: each build's check results in the order they
-- were stored, the files a build produced (JUnit reports, SBOMs), and the
-- scans of images, by build or by re-scan. Times are Unix nanoseconds (UTC);
-- NULL is the zero time. Durations are nanoseconds.

-- +goose Up
CREATE TABLE check_results (
    build_id    INTEGER NOT NULL REFERENCES builds (id) ON DELETE CASCADE,
    seq         INTEGER NOT NULL,
    id          TEXT NOT NULL,
    grp         TEXT NOT NULL,
    description TEXT NOT NULL,
    status      TEXT NOT NULL,
    detail      TEXT NOT NULL,
    blocking    INTEGER NOT NULL,
    location    TEXT NOT NULL,
    duration    INTEGER NOT NULL,
    output      TEXT NOT NULL,
    PRIMARY KEY (build_id, seq)
);

CREATE TABLE artifacts (
    build_id     INTEGER NOT NULL REFERENCES builds (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    content_type TEXT NOT NULL,
    data         BLOB NOT NULL,
    created      INTEGER,
    PRIMARY KEY (build_id, name)
);

-- build_id is 0 for a re-scan, so it refers to no build; the SBOM, which
-- can be megabytes, has its own column so that lists do not read it.
CREATE TABLE scans (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    project  TEXT NOT NULL,
    image    TEXT NOT NULL,
    digest   TEXT NOT NULL,
    build_id INTEGER NOT NULL,
    cause    TEXT NOT NULL,
    started  INTEGER,
    finished INTEGER,
    report   TEXT NOT NULL, -- JSON pipeline.ScanReport without its SBOM
    sbom     BLOB NOT NULL
);

CREATE INDEX scans_project ON scans (project, id);

-- +goose Down
DROP INDEX scans_project;
DROP TABLE scans;
DROP TABLE artifacts;
DROP TABLE check_results;
