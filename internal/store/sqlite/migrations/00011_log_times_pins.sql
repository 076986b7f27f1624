-- +goose Up
-- When each log chunk was stored, so a build's page can show when each line
-- arrived. Chunks stored before this migration have none (NULL).
ALTER TABLE log_chunks ADD COLUMN stored INTEGER;
-- The commit a rebuild checks out instead of its branch's head; '' for none.
ALTER TABLE build_identity ADD COLUMN pin_commit TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE build_identity DROP COLUMN pin_commit;
ALTER TABLE log_chunks DROP COLUMN stored;
