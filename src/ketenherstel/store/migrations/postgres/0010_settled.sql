-- A delivery is pending while `settled = 0`; acked and dead deliveries are settled (decision
-- 0017). The per-case and per-channel indexes are partial on `settled` instead of on `state`,
-- as in SQLite, where a lease (ready -> leased) then leaves them alone; here every update is a
-- new row version with new index entries anyway. The check keeps the two columns in step.
ALTER TABLE deliveries ADD COLUMN settled BIGINT NOT NULL DEFAULT 0;
UPDATE deliveries SET settled = 1 WHERE state IN ('acked', 'dead');
ALTER TABLE deliveries ADD CONSTRAINT deliveries_settled_state
  CHECK (settled = CASE WHEN state IN ('acked', 'dead') THEN 1 ELSE 0 END);
DROP INDEX deliveries_pending_key;
CREATE INDEX deliveries_pending_key ON deliveries (receiver, partitionkey, id) WHERE settled = 0;
DROP INDEX deliveries_group;
CREATE INDEX deliveries_group ON deliveries (receiver, sender, type) WHERE settled = 0;
