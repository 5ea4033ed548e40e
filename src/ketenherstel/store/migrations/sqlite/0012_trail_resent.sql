-- The picture (decision 0013) counts a re-sent delivery's earlier outcome on its own day: it
-- reads the trail of the deliveries ever re-sent, found through this partial index (a few
-- rows) rather than by scanning the whole trail.
CREATE INDEX trail_resent ON trail (delivery_id, pos) WHERE event = 'resent';
