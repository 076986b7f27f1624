-- +goose Up
-- A build's page finds the scan that ran in it.
CREATE INDEX scans_build ON scans (build_id) WHERE build_id != 0;

-- +goose Down
DROP INDEX scans_build;
