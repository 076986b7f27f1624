-- Leader leases (pipeline.Leader): the one process that runs a job
-- (polling, schedules, re-scans, index reconciles) among the servers
-- sharing the database, until the nanosecond time until unless renewed.

-- +goose Up
CREATE TABLE leaders (
    name   TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    until  INTEGER NOT NULL
);

-- +goose Down
DROP TABLE leaders;
