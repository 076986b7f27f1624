-- The list version (00014) counts the writes to scans and to the FROM
-- images of projects too: a project's page shows its scans and what
-- rebuilds when it changes, and the server keeps it until the version
-- changes.

-- +goose Up
-- +goose StatementBegin
CREATE TRIGGER list_version_scans_insert AFTER INSERT ON scans BEGIN UPDATE list_version SET n = n + 1; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER list_version_scans_update AFTER UPDATE ON scans BEGIN UPDATE list_version SET n = n + 1; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER list_version_scans_delete AFTER DELETE ON scans BEGIN UPDATE list_version SET n = n + 1; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER list_version_project_from_insert AFTER INSERT ON project_from BEGIN UPDATE list_version SET n = n + 1; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER list_version_project_from_update AFTER UPDATE ON project_from BEGIN UPDATE list_version SET n = n + 1; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER list_version_project_from_delete AFTER DELETE ON project_from BEGIN UPDATE list_version SET n = n + 1; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER list_version_project_from_known_insert AFTER INSERT ON project_from_known BEGIN UPDATE list_version SET n = n + 1; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER list_version_project_from_known_update AFTER UPDATE ON project_from_known BEGIN UPDATE list_version SET n = n + 1; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER list_version_project_from_known_delete AFTER DELETE ON project_from_known BEGIN UPDATE list_version SET n = n + 1; END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER list_version_project_from_known_delete;
DROP TRIGGER list_version_project_from_known_update;
DROP TRIGGER list_version_project_from_known_insert;
DROP TRIGGER list_version_project_from_delete;
DROP TRIGGER list_version_project_from_update;
DROP TRIGGER list_version_project_from_insert;
DROP TRIGGER list_version_scans_delete;
DROP TRIGGER list_version_scans_update;
DROP TRIGGER list_version_scans_insert;
