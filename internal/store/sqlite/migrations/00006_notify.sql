-- Notifications: a project's notify-success opt-in, what its owners were
-- last told (so that failures coalesce into one notice until the project
-- recovers), and every notification delivery with its attempts. Times are
-- Unix nanoseconds (UTC).

-- +goose Up
ALTER TABLE projects ADD COLUMN notify_success INTEGER NOT NULL DEFAULT 0;

CREATE TABLE notify_state (
    project  TEXT PRIMARY KEY,
    health   TEXT NOT NULL, -- failing | ok
    build_id INTEGER NOT NULL,
    updated  INTEGER
);

CREATE TABLE notifications (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    build_id   INTEGER NOT NULL,
    project    TEXT NOT NULL,
    event      TEXT NOT NULL,   -- failed | recovered | succeeded
    channel    TEXT NOT NULL,   -- email | webhook | slack
    recipient  TEXT NOT NULL,
    status     TEXT NOT NULL,   -- pending | sent | failed
    attempts   INTEGER NOT NULL,
    last_error TEXT NOT NULL,
    created    INTEGER,
    updated    INTEGER
);

CREATE INDEX notifications_build ON notifications (build_id);

-- +goose Down
DROP INDEX notifications_build;
DROP TABLE notifications;
DROP TABLE notify_state;
ALTER TABLE projects DROP COLUMN notify_success;
