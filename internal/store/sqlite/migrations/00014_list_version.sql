-- A count of the writes to projects, builds and delivered images, kept by
-- triggers in the writing transaction, whichever process writes: the lists
-- made of them (every project with its newest build and its delivery) are
-- kept in memory until it changes (listcache.go), and the server keeps
-- its encoded list of projects the same way.

-- +goose Up
CREATE TABLE list_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n  INTEGER NOT NULL
);
INSERT INTO list_version (id, n) VALUES (1, 0);

-- +goose StatementBegin
CREATE TRIGGER list_version_projects_insert AFTER INSERT ON projects BEGIN UPDATE list_version SET n = n + 1; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER list_version_projects_update AFTER UPDATE ON projects BEGIN UPDATE list_version SET n = n + 1; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER list_version_projects_delete AFTER DELETE ON projects BEGIN UPDATE list_version SET n = n + 1; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER list_version_builds_insert AFTER INSERT ON builds BEGIN UPDATE list_version SET n = n + 1; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER list_version_builds_update AFTER UPDATE ON builds BEGIN UPDATE list_version SET n = n + 1; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER list_version_builds_delete AFTER DELETE ON builds BEGIN UPDATE list_version SET n = n + 1; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER list_version_images_insert AFTER INSERT ON images BEGIN UPDATE list_version SET n = n + 1; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER list_version_images_update AFTER UPDATE ON images BEGIN UPDATE list_version SET n = n + 1; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER list_version_images_delete AFTER DELETE ON images BEGIN UPDATE list_version SET n = n + 1; END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER list_version_images_delete;
DROP TRIGGER list_version_images_update;
DROP TRIGGER list_version_images_insert;
DROP TRIGGER list_version_builds_delete;
DROP TRIGGER list_version_builds_update;
DROP TRIGGER list_version_builds_insert;
DROP TRIGGER list_version_projects_delete;
DROP TRIGGER list_version_projects_update;
DROP TRIGGER list_version_projects_insert;
DROP TABLE list_version;
