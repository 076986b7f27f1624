-- Leases: a claimed build is held by a runner (lease_holder) until
-- lease_until unless renewed; NULL lease_until is no lease (a claim without
-- one, or not running). A build whose lease expired is queued again as its
-- next attempt, claimable from not_before on; one that had its last
-- attempt fails with lease_lost set, so that its lost runner cannot record it.

-- +goose Up
ALTER TABLE builds ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1;
ALTER TABLE builds ADD COLUMN lease_holder TEXT NOT NULL DEFAULT '';
ALTER TABLE builds ADD COLUMN lease_until INTEGER;
ALTER TABLE builds ADD COLUMN lease_lost INTEGER NOT NULL DEFAULT 0;
ALTER TABLE builds ADD COLUMN not_before INTEGER;
CREATE INDEX builds_lease ON builds (status, lease_until);

-- +goose Down
DROP INDEX builds_lease;
ALTER TABLE builds DROP COLUMN not_before;
ALTER TABLE builds DROP COLUMN lease_lost;
ALTER TABLE builds DROP COLUMN lease_until;
ALTER TABLE builds DROP COLUMN lease_holder;
ALTER TABLE builds DROP COLUMN attempt;
