-- Index tracking: projects whose entry left the index are disabled, not
-- deleted, and every reconcile of the index is recorded. Times are Unix
-- nanoseconds (UTC).

-- +goose Up
ALTER TABLE projects ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;

CREATE TABLE reconciles (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    time     INTEGER,
    revision TEXT NOT NULL,
    added    INTEGER NOT NULL, -- counts, for lists
    changed  INTEGER NOT NULL,
    removed  INTEGER NOT NULL,
    diff     TEXT NOT NULL,    -- JSON {added, changed, removed}
    errors   TEXT NOT NULL     -- JSON array of strings
);

-- +goose Down
DROP TABLE reconciles;
ALTER TABLE projects DROP COLUMN disabled;
