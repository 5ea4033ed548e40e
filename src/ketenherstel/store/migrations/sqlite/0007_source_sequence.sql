-- A source's message by sequence number: the event time at a receiver's watermark (decision
-- 0010, the registry's freshness).
CREATE INDEX messages_source_sequence ON messages (source, sequence) WHERE sequence IS NOT NULL;
