-- Smaller key indexes for the catch-up (decision 0015). A catch-up transaction inserts rows
-- with random keys, so each one rewrites nearly every page of the key indexes; the smaller the
-- index, the fewer pages. A message is now found through `key`, the first 128 bits of SHA-256
-- of its source, a NUL and its id (registry_key()), 17 bytes in the index instead of the ~90 of
-- (source, id); the business key and fact hashes are kept as their 16 bytes instead of 32 hex
-- characters. `seq` keeps each row's rowid, the order reconciliation pages through.
CREATE TABLE applied_keyed (
  seq INTEGER PRIMARY KEY,
  key BLOB NOT NULL UNIQUE,
  source TEXT NOT NULL,
  id TEXT NOT NULL,
  type TEXT NOT NULL,
  bkey BLOB,
  fact_hash BLOB,
  outcome TEXT NOT NULL CHECK (outcome IN ('applied', 'same-fact', 'not-a-registration')),
  registration INTEGER,
  applied_at REAL NOT NULL
);
INSERT INTO applied_keyed (seq, key, source, id, type, bkey, fact_hash, outcome, registration,
  applied_at)
  SELECT rowid, registry_key(source, id), source, id, type, registry_unhex(bkey),
    registry_unhex(fact_hash), outcome, registration, applied_at
  FROM applied ORDER BY rowid;
DROP TABLE applied;
ALTER TABLE applied_keyed RENAME TO applied;
CREATE INDEX applied_bkey ON applied (bkey) WHERE bkey IS NOT NULL;
