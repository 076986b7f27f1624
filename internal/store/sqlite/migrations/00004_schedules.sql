-- A project's own rebuild schedule (a cron spec or @descriptor, "" for
-- none), from the index's Hoist extension key "schedule".

-- +goose Up
ALTER TABLE projects ADD COLUMN schedule TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE projects DROP COLUMN schedule;
