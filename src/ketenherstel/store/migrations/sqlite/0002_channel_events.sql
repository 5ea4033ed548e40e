-- Every change of a channel's state, with who, when and why (the channels table keeps the
-- current state only).
CREATE TABLE channel_events (
  id INTEGER PRIMARY KEY,
  receiver TEXT NOT NULL,
  sender TEXT NOT NULL,
  state TEXT NOT NULL,
  reason TEXT NOT NULL,
  at REAL NOT NULL,
  actor TEXT NOT NULL
);
CREATE INDEX channel_events_receiver ON channel_events (receiver, id);
