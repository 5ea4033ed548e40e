CREATE TABLE partners (
  key TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  oin TEXT NOT NULL UNIQUE,
  webhook_url TEXT,
  created_at DOUBLE PRECISION NOT NULL
);
CREATE TABLE credentials (
  id TEXT PRIMARY KEY,
  principal TEXT NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('partner', 'operator', 'viewer')),
  partner_key TEXT REFERENCES partners(key),
  token_hash TEXT NOT NULL UNIQUE,
  label TEXT NOT NULL,
  created_at DOUBLE PRECISION NOT NULL,
  revoked_at DOUBLE PRECISION
);
CREATE TABLE channels (
  receiver TEXT NOT NULL,
  sender TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('open', 'held')),
  reason TEXT NOT NULL,
  changed_at DOUBLE PRECISION NOT NULL,
  changed_by TEXT NOT NULL,
  PRIMARY KEY (receiver, sender)
);
CREATE TABLE messages (
  pos BIGINT PRIMARY KEY,
  source TEXT NOT NULL,
  id TEXT NOT NULL,
  sender TEXT NOT NULL,
  type TEXT NOT NULL,
  subject TEXT,
  partitionkey TEXT,
  sequence BIGINT,
  time TEXT,
  content_hash TEXT NOT NULL,
  body BYTEA NOT NULL,
  received_at DOUBLE PRECISION NOT NULL
);
CREATE UNIQUE INDEX messages_source_id ON messages (source, id);
CREATE TABLE deliveries (
  id BIGINT PRIMARY KEY,
  pos BIGINT NOT NULL,
  receiver TEXT NOT NULL,
  sender TEXT NOT NULL,
  partitionkey TEXT,
  state TEXT NOT NULL CHECK (state IN ('ready', 'leased', 'acked', 'dead')),
  blocked INTEGER NOT NULL DEFAULT 0,
  attempts INTEGER NOT NULL DEFAULT 0,
  lease_until DOUBLE PRECISION,
  first_attempt_at DOUBLE PRECISION,
  not_before DOUBLE PRECISION NOT NULL,
  last_error TEXT,
  created_at DOUBLE PRECISION NOT NULL,
  updated_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX deliveries_ready ON deliveries (receiver, id) WHERE state = 'ready' AND blocked = 0;
CREATE INDEX deliveries_pending_key ON deliveries (receiver, partitionkey, id)
  WHERE state IN ('ready', 'leased');
CREATE INDEX deliveries_dead ON deliveries (receiver, id) WHERE state = 'dead';
CREATE INDEX deliveries_leased ON deliveries (lease_until) WHERE state = 'leased';
CREATE INDEX deliveries_pos ON deliveries (pos);
CREATE TABLE trail (
  id BIGINT PRIMARY KEY,
  pos BIGINT NOT NULL,
  delivery_id BIGINT,
  receiver TEXT,
  at DOUBLE PRECISION NOT NULL,
  event TEXT NOT NULL,
  actor TEXT NOT NULL,
  detail TEXT NOT NULL
);
CREATE INDEX trail_pos ON trail (pos);
CREATE TABLE sequences (
  source TEXT PRIMARY KEY,
  contiguous BIGINT NOT NULL,
  max_seen BIGINT NOT NULL
);
CREATE TABLE sequence_gaps (
  source TEXT NOT NULL,
  gap_first BIGINT NOT NULL,
  gap_last BIGINT NOT NULL,
  PRIMARY KEY (source, gap_first)
);
CREATE TABLE audit (
  id BIGINT PRIMARY KEY,
  at DOUBLE PRECISION NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  object TEXT NOT NULL,
  detail TEXT NOT NULL
);
CREATE SEQUENCE messages_pos_seq;
CREATE SEQUENCE deliveries_id_seq;
CREATE SEQUENCE trail_id_seq;
CREATE SEQUENCE audit_id_seq;
ALTER TABLE trail ALTER COLUMN id SET DEFAULT nextval('trail_id_seq');
ALTER TABLE audit ALTER COLUMN id SET DEFAULT nextval('audit_id_seq');
