-- Trust and limits: set by an admin (hoist project trust|untrust|limits),
-- never by the index or the API, so that a project's row keeps them when
-- PutProject replaces the rest. 0: untrusted, the server's default limits.

-- +goose Up
ALTER TABLE projects ADD COLUMN trusted INTEGER NOT NULL DEFAULT 0;
ALTER TABLE projects ADD COLUMN limit_memory INTEGER NOT NULL DEFAULT 0;
ALTER TABLE projects ADD COLUMN limit_cpus REAL NOT NULL DEFAULT 0;
ALTER TABLE projects ADD COLUMN limit_pids INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE projects DROP COLUMN limit_pids;
ALTER TABLE projects DROP COLUMN limit_cpus;
ALTER TABLE projects DROP COLUMN limit_memory;
ALTER TABLE projects DROP COLUMN trusted;
