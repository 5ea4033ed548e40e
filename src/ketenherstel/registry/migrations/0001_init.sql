-- The registry's own database (decision 0010). Times are epoch seconds (REAL) unless named
-- *_date (YYYY-MM-DD) or *_time (the message's own RFC 3339 time). bkey and fact_hash are the
-- first 128 bits of SHA-256 of the business key and of the data, in hex.
CREATE TABLE applied (
  source TEXT NOT NULL,
  id TEXT NOT NULL,
  type TEXT NOT NULL,
  bkey TEXT,
  fact_hash TEXT,
  outcome TEXT NOT NULL CHECK (outcome IN ('applied', 'same-fact', 'not-a-registration')),
  registration INTEGER,
  applied_at REAL NOT NULL,
  PRIMARY KEY (source, id)
);
CREATE INDEX applied_bkey ON applied (bkey) WHERE bkey IS NOT NULL;
CREATE TABLE registrations (
  id INTEGER PRIMARY KEY,
  skn TEXT NOT NULL,
  case_key TEXT NOT NULL,
  sender TEXT NOT NULL,
  source TEXT NOT NULL,
  msg_id TEXT NOT NULL,
  sequence INTEGER,
  type TEXT NOT NULL,
  state TEXT NOT NULL,
  categories TEXT NOT NULL,
  fact_date TEXT NOT NULL,
  event_at REAL,
  known_at REAL NOT NULL,
  replaced_at REAL,
  replaced_by INTEGER
);
CREATE INDEX registrations_person ON registrations (skn, known_at);
CREATE INDEX registrations_replaced ON registrations (skn, replaced_at) WHERE replaced_at IS NOT NULL;
CREATE INDEX registrations_sender ON registrations (sender, event_at);
-- A case key that an emergency report used before the OM's registration replaced it.
CREATE TABLE case_aliases (
  skn TEXT NOT NULL,
  alias TEXT NOT NULL,
  case_key TEXT NOT NULL,
  PRIMARY KEY (skn, alias)
);
-- The freshness of every source as an answer gave it: one row per moment, shared by the answers
-- given at that moment.
CREATE TABLE freshness_snapshots (
  id INTEGER PRIMARY KEY,
  as_of REAL NOT NULL,
  body TEXT NOT NULL
);
CREATE TABLE screenings (
  id INTEGER PRIMARY KEY,
  reference TEXT NOT NULL UNIQUE,
  consumer TEXT NOT NULL,
  profile TEXT NOT NULL,
  skn TEXT NOT NULL,
  query_date TEXT NOT NULL,
  answered_at REAL NOT NULL,
  cases TEXT NOT NULL,
  freshness INTEGER NOT NULL REFERENCES freshness_snapshots (id),
  purpose TEXT NOT NULL,
  legal_ground TEXT NOT NULL,
  requester_role TEXT NOT NULL
);
CREATE INDEX screenings_person ON screenings (skn, answered_at);
CREATE TABLE decisions (
  screening_id INTEGER PRIMARY KEY REFERENCES screenings (id),
  decision TEXT NOT NULL,
  decided_date TEXT NOT NULL,
  recorded_at REAL NOT NULL,
  actor TEXT NOT NULL
);
CREATE TABLE rescreen_items (
  id INTEGER PRIMARY KEY,
  screening_id INTEGER NOT NULL REFERENCES screenings (id),
  case_key TEXT NOT NULL,
  direction TEXT NOT NULL CHECK (direction IN ('missed', 'wrongly-shown')),
  state TEXT NOT NULL CHECK (state IN ('open', 'assigned', 'reviewed', 'closed')),
  assignee TEXT,
  outcome TEXT,
  note TEXT,
  updated_at REAL NOT NULL,
  UNIQUE (screening_id, case_key, direction)
);
-- Why each source first fell behind: the catch-up percentage counts from there.
CREATE TABLE source_marks (
  source TEXT PRIMARY KEY,
  behind_since_at REAL,
  behind_since REAL
);
-- Every read of a person's data, after the Logboek Dataverwerkingen: the processing activity,
-- who (organisation and role; the name of the official stays here), why, on which ground.
CREATE TABLE reads (
  id INTEGER PRIMARY KEY,
  at REAL NOT NULL,
  activity TEXT NOT NULL,
  organisation TEXT NOT NULL,
  role TEXT NOT NULL,
  actor TEXT NOT NULL,
  purpose TEXT NOT NULL,
  legal_ground TEXT NOT NULL,
  subject TEXT NOT NULL,
  detail TEXT NOT NULL
);
CREATE INDEX reads_subject ON reads (subject, id);
