-- Leader leases (pipeline.Leader): the one process that runs a job
-- (polling, schedules, re-scans, index reconciles) among the servers
-- sharing the database, until the database's clock reaches until unless
-- renewed. A table rather than advisory locks: a lease outlives a
-- connection a pool recycles, and a killed holder's lease simply expires.

-- +goose Up
CREATE TABLE leaders (
    name   TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    until  TIMESTAMPTZ NOT NULL
);

-- +goose Down
DROP TABLE leaders;
