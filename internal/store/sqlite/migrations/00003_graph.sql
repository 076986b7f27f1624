-- The image graph and build identity: the FROM images each project's target
-- file named at its last checkout, and each build's identity (a hash of its
-- inputs) and whether it was forced to run with unchanged inputs.

-- +goose Up
CREATE TABLE project_from (
    project TEXT NOT NULL,
    seq     INTEGER NOT NULL,
    image   TEXT NOT NULL, -- ns/name:tag
    PRIMARY KEY (project, seq)
);

-- A project with no FROM image Hoist could build still gets a row here, so
-- that "its FROM lines are known" can be told from "it never checked out".
CREATE TABLE project_from_known (
    project TEXT PRIMARY KEY
);

CREATE TABLE build_identity (
    build_id INTEGER PRIMARY KEY REFERENCES builds (id) ON DELETE CASCADE,
    project  TEXT NOT NULL,
    identity TEXT NOT NULL DEFAULT '',
    force    INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX build_identity_project ON build_identity (project, identity);

-- +goose Down
DROP INDEX build_identity_project;
DROP TABLE build_identity;
DROP TABLE project_from_known;
DROP TABLE project_from;
