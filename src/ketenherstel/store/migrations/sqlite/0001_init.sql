CREATE TABLE partners (
  key TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  oin TEXT NOT NULL UNIQUE,
  webhook_url TEXT,
  created_at REAL NOT NULL
);
CREATE TABLE credentials (
  id TEXT PRIMARY KEY,
  principal TEXT NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('partner', 'operator', 'viewer')),
  partner_key TEXT REFERENCES partners(key),
  token_hash TEXT NOT NULL UNIQUE,
  label TEXT NOT NULL,
  created_at REAL NOT NULL,
  revoked_at REAL
);
CREATE TABLE channels (
  receiver TEXT NOT NULL,
  sender TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('open', 'held')),
  reason TEXT NOT NULL,
  changed_at REAL NOT NULL,
  changed_by TEXT NOT NULL,
  PRIMARY KEY (receiver, sender)
);
CREATE TABLE messages (
  pos INTEGER PRIMARY KEY,
  source TEXT NOT NULL,
  id TEXT NOT NULL,
  sender TEXT NOT NULL,
  type TEXT NOT NULL,
  subject TEXT,
  partitionkey TEXT,
  sequence INTEGER,
  time TEXT,
  content_hash TEXT NOT NULL,
  body BLOB NOT NULL,
  received_at REAL NOT NULL
);
CREATE UNIQUE INDEX messages_source_id ON messages (source, id);
CREATE TABLE deliveries (
  id INTEGER PRIMARY KEY,
  pos INTEGER NOT NULL,
  receiver TEXT NOT NULL,
  sender TEXT NOT NULL,
  partitionkey TEXT,
  state TEXT NOT NULL CHECK (state IN ('ready', 'leased', 'acked', 'dead')),
  blocked INTEGER NOT NULL DEFAULT 0,
  attempts INTEGER NOT NULL DEFAULT 0,
  lease_until REAL,
  first_attempt_at REAL,
  not_before REAL NOT NULL,
  last_error TEXT,
  created_at REAL NOT NULL,
  updated_at REAL NOT NULL
);
CREATE INDEX deliveries_ready ON deliveries (receiver, id) WHERE state = 'ready' AND blocked = 0;
CREATE INDEX deliveries_pending_key ON deliveries (receiver, partitionkey, id)
  WHERE state IN ('ready', 'leased');
CREATE INDEX deliveries_dead ON deliveries (receiver, id) WHERE state = 'dead';
CREATE INDEX deliveries_leased ON deliveries (lease_until) WHERE state = 'leased';
CREATE INDEX deliveries_pos ON deliveries (pos);
CREATE TABLE trail (
  id INTEGER PRIMARY KEY,
  pos INTEGER NOT NULL,
  delivery_id INTEGER,
  receiver TEXT,
  at REAL NOT NULL,
  event TEXT NOT NULL,
  actor TEXT NOT NULL,
  detail TEXT NOT NULL
);
CREATE INDEX trail_pos ON trail (pos);
CREATE TABLE sequences (
  source TEXT PRIMARY KEY,
  contiguous INTEGER NOT NULL,
  max_seen INTEGER NOT NULL
);
CREATE TABLE sequence_gaps (
  source TEXT NOT NULL,
  gap_first INTEGER NOT NULL,
  gap_last INTEGER NOT NULL,
  PRIMARY KEY (source, gap_first)
);
CREATE TABLE audit (
  id INTEGER PRIMARY KEY,
  at REAL NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  object TEXT NOT NULL,
  detail TEXT NOT NULL
);
