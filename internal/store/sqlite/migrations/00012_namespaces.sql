-- Owners: a project belongs to its namespace (its app-id); a namespace has
-- members with a role; admins may do everything. Users that existed before
-- owners did become admins, so that they keep doing what they could.

-- +goose Up
ALTER TABLE users ADD COLUMN admin INTEGER NOT NULL DEFAULT 0;
UPDATE users SET admin = 1;

CREATE TABLE namespaces (
    name    TEXT PRIMARY KEY,
    created INTEGER
);

CREATE TABLE members (
    namespace TEXT NOT NULL REFERENCES namespaces (name) ON DELETE CASCADE,
    user_id   INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role      TEXT NOT NULL,
    PRIMARY KEY (namespace, user_id)
);

CREATE INDEX members_user ON members (user_id);

-- +goose Down
DROP TABLE members;
DROP TABLE namespaces;
ALTER TABLE users DROP COLUMN admin;
