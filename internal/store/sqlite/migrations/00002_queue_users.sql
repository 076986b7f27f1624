-- Users who may write, their credentials (API tokens and login sessions, by
-- the hash of their secret only), and the indexes the build queue needs.
-- Times are Unix nanoseconds (UTC); NULL is the zero time (expires: never).

-- +goose Up
CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created       INTEGER
);

CREATE TABLE credentials (
    kind    TEXT NOT NULL,
    hash    TEXT NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name    TEXT NOT NULL,
    created INTEGER,
    expires INTEGER,
    PRIMARY KEY (kind, hash)
);

CREATE INDEX credentials_user ON credentials (user_id);

-- The queue asks for queued and running builds (Claim, Active, FailRunning)
-- and for a project's queued or running build (Enqueue, Claim).
CREATE INDEX builds_status ON builds (status);
CREATE INDEX builds_project_status ON builds (project, status);

-- +goose Down
DROP INDEX builds_project_status;
DROP INDEX builds_status;
DROP TABLE credentials;
DROP TABLE users;
