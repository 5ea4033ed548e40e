-- The priority of each message type as last set (a go-live plan's agreed priorities, then the
-- computed order). New deliveries take it; a restarted exchange reads it back, so a restart in
-- the middle of a go-live keeps the order the plan set (decision 0009).
CREATE TABLE type_priorities (
  type TEXT PRIMARY KEY,
  priority INTEGER NOT NULL,
  changed_at REAL NOT NULL
);
