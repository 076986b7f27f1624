-- As the SQLite store's migrations 00014 and 00019: a count of the writes
-- to projects, builds, delivered images, scans and the FROM images of
-- projects, whichever process writes. The server keeps the pages and
-- lists made of them until it changes (ListVersion).
--
-- The count is raised by deferred triggers, at commit: a transaction
-- holds the row's lock only from then to its end, waiting for no other
-- lock meanwhile, so writers queue briefly but cannot deadlock on it. A
-- reader that reads the count before the lists sees at least the writes
-- it counts; a write committed after raises it again.

-- +goose Up
CREATE TABLE list_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n  BIGINT NOT NULL
);
INSERT INTO list_version (id, n) VALUES (1, 0);

-- +goose StatementBegin
CREATE FUNCTION list_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE list_version SET n = n + 1 WHERE id = 1;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE CONSTRAINT TRIGGER list_version AFTER INSERT OR UPDATE OR DELETE ON projects
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION list_version_bump();
CREATE CONSTRAINT TRIGGER list_version AFTER INSERT OR UPDATE OR DELETE ON builds
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION list_version_bump();
CREATE CONSTRAINT TRIGGER list_version AFTER INSERT OR UPDATE OR DELETE ON images
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION list_version_bump();
CREATE CONSTRAINT TRIGGER list_version AFTER INSERT OR UPDATE OR DELETE ON scans
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION list_version_bump();
CREATE CONSTRAINT TRIGGER list_version AFTER INSERT OR UPDATE OR DELETE ON project_from
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION list_version_bump();
CREATE CONSTRAINT TRIGGER list_version AFTER INSERT OR UPDATE OR DELETE ON project_from_known
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION list_version_bump();

-- +goose Down
DROP TRIGGER list_version ON project_from_known;
DROP TRIGGER list_version ON project_from;
DROP TRIGGER list_version ON scans;
DROP TRIGGER list_version ON images;
DROP TRIGGER list_version ON builds;
DROP TRIGGER list_version ON projects;
DROP FUNCTION list_version_bump();
DROP TABLE list_version;
