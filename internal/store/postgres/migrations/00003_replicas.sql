-- What servers sharing the database share beyond builds. Leader leases
-- (pipeline.Leader): the one process that runs a job (polling, schedules,
-- re-scans, index reconciles), until the database's clock reaches until
-- unless renewed. A table rather than advisory locks: a lease outlives a
-- connection a pool recycles, and a killed holder's lease simply expires.
-- Webhooks (pipeline.WebhookLog): when a webhook last reached a repository
-- (nanoseconds), which the poller, on any server, leaves out a while.

-- +goose Up
CREATE TABLE leaders (
    name   TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    until  TIMESTAMPTZ NOT NULL
);

CREATE TABLE webhooks (
    repo TEXT PRIMARY KEY,
    at   BIGINT NOT NULL
);

-- +goose Down
DROP TABLE webhooks;
DROP TABLE leaders;
