-- +goose Up
-- When each log chunk was stored, so a build's page can show when each line
-- arrived. Chunks stored before this migration have none (NULL).
ALTER TABLE log_chunks ADD COLUMN stored INTEGER;

-- +goose Down
ALTER TABLE log_chunks DROP COLUMN stored;
