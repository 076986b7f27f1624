-- As the SQLite store's migration 00018: a cancel asked for on a server
-- that does not run the build; the runner holding its lease reads it and
-- cancels the build with it as the reason.

-- +goose Up
ALTER TABLE builds ADD COLUMN cancel_request TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE builds DROP COLUMN cancel_request;
