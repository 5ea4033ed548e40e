-- A delivery is pending while `settled = 0`; acked and dead deliveries are settled (decision
-- 0017). The per-case and per-channel indexes are partial on `settled` instead of on `state`:
-- a lease moves a delivery from ready to leased, which changed `state` and so rewrote its entry
-- in both indexes (at random pages of the per-case index) although it stayed pending.
ALTER TABLE deliveries ADD COLUMN settled INTEGER NOT NULL DEFAULT 0;
UPDATE deliveries SET settled = 1 WHERE state IN ('acked', 'dead');
DROP INDEX deliveries_pending_key;
CREATE INDEX deliveries_pending_key ON deliveries (receiver, partitionkey, id) WHERE settled = 0;
DROP INDEX deliveries_group;
CREATE INDEX deliveries_group ON deliveries (receiver, sender, type) WHERE settled = 0;
