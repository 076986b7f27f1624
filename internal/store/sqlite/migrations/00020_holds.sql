-- A leased build holds its image repository from its claim until its
-- dispatcher settles it after its end (or its lease runs out): every
-- process sharing the store runs one build of a repository at a time, and
-- children wait for their parent's cascade. 1: settled, or never held.

-- +goose Up
ALTER TABLE builds ADD COLUMN settled INTEGER NOT NULL DEFAULT 1;
CREATE INDEX builds_unsettled ON builds (id) WHERE settled = 0;

-- +goose Down
DROP INDEX builds_unsettled;
ALTER TABLE builds DROP COLUMN settled;
