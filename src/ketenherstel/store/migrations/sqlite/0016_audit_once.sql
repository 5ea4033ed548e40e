-- An audit record kept first elsewhere and copied here (the gateway register keeps each
-- change's audit record in the change's own line, decision 0019) carries the key it was kept
-- under: a copy made again, after a crash between the copy and its mark, adds nothing.
-- Records written here directly have none (NULL keys never conflict).
ALTER TABLE audit ADD COLUMN idempotency_key TEXT;
CREATE UNIQUE INDEX audit_idempotency_key ON audit (idempotency_key);
