-- As the SQLite store's migration 00019: a leased build holds its image
-- repository from its claim until its dispatcher settles it after its end
-- (or its lease runs out).

-- +goose Up
ALTER TABLE builds ADD COLUMN settled BOOLEAN NOT NULL DEFAULT TRUE;
CREATE INDEX builds_unsettled ON builds (id) WHERE NOT settled;

-- +goose Down
DROP INDEX builds_unsettled;
ALTER TABLE builds DROP COLUMN settled;
