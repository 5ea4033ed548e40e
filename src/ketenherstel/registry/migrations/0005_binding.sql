-- The store this registry file belongs to (decision 0014).
CREATE TABLE registry_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
-- A consumer's decision replaced by a later one (a VOG issued, then revoked) is kept here.
CREATE TABLE decision_changes (
  screening_id INTEGER NOT NULL REFERENCES screenings (id),
  decision TEXT NOT NULL,
  decided_date TEXT NOT NULL,
  recorded_at REAL NOT NULL,
  actor TEXT NOT NULL,
  replaced_at REAL NOT NULL
);
CREATE INDEX decision_changes_screening ON decision_changes (screening_id);
