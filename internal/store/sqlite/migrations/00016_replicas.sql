-- What servers sharing the database share beyond builds. Leader leases
-- (pipeline.Leader): the one process that runs a job (polling, schedules,
-- re-scans, index reconciles), until the nanosecond time until unless
-- renewed. Webhooks (pipeline.WebhookLog): when a webhook last reached a
-- repository, which the poller, on any server, leaves out a while.

-- +goose Up
CREATE TABLE leaders (
    name   TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    until  INTEGER NOT NULL
);

CREATE TABLE webhooks (
    repo TEXT PRIMARY KEY,
    at   INTEGER NOT NULL
);

-- +goose Down
DROP TABLE webhooks;
DROP TABLE leaders;
