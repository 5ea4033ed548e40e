-- Retention: a purged message keeps its row as a tombstone (source, id, type, content hash,
-- dates) so duplicates stay recognisable. Its body and case keys are removed.
ALTER TABLE messages ADD COLUMN purged_at REAL;
