-- What the registry took in, per source and apply transaction (every row of one transaction
-- has the same applied_at): the catch-up percentage sums these instead of counting applied
-- rows through an index that every insert had to update.
CREATE TABLE applied_counts (
  source TEXT NOT NULL,
  applied_at REAL NOT NULL,
  n INTEGER NOT NULL,
  PRIMARY KEY (source, applied_at)
);
INSERT INTO applied_counts (source, applied_at, n)
  SELECT source, applied_at, COUNT(*) FROM applied GROUP BY source, applied_at;
DROP INDEX applied_source_at;
