-- A notification's first attempt: a re-send after a crash carries the same moment, so the
-- exchange sees the same event again (a duplicate), not a conflicting one.
ALTER TABLE ecris_notifications ADD COLUMN attempted_at REAL;
-- The catch-up percentage counts what the registry took in from a source since it fell behind.
DROP INDEX registrations_sender;
CREATE INDEX applied_source_at ON applied (source, applied_at);
