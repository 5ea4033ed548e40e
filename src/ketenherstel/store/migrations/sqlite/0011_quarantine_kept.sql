-- The quarantine's counts per partner (waiting and released: `quarantined` 1 and 2) read only
-- the messages that were ever quarantined, not the whole messages table. Messages that never
-- were (0) are not in this index, so accepting them does not write to it.
CREATE INDEX messages_quarantine_kept ON messages (sender, quarantined) WHERE quarantined > 0;
