-- Isolation, holds per scope, rates, priority, business keys, quarantine, emergency routes and
-- signed bundles (issue 3, decision 0008).
--
-- A channel rule is (receiver or *, sender or *, scope): scope is *, a message type, or
-- process:<key>. The most specific matching rule decides whether a delivery is held; every
-- matching rule with a rate limits it (a token bucket kept on the rule).
CREATE TABLE channel_rules (
  receiver TEXT NOT NULL,
  sender TEXT NOT NULL,
  scope TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('open', 'held')),
  rate REAL,
  tokens REAL,
  refreshed_at REAL,
  reason TEXT NOT NULL,
  changed_at REAL NOT NULL,
  changed_by TEXT NOT NULL,
  PRIMARY KEY (receiver, sender, scope)
);
INSERT INTO channel_rules (receiver, sender, scope, state, reason, changed_at, changed_by)
  SELECT receiver, sender, '*', state, reason, changed_at, changed_by FROM channels;
DROP TABLE channels;
ALTER TABLE channel_events ADD COLUMN scope TEXT NOT NULL DEFAULT '*';
ALTER TABLE channel_events ADD COLUMN rate REAL;
-- A partner as a whole: online, isolated (everything to and from it held, its own traffic
-- quarantined) or returning (its traffic quarantined until two operators release it).
CREATE TABLE partner_states (
  partner TEXT PRIMARY KEY,
  state TEXT NOT NULL CHECK (state IN ('online', 'isolated', 'returning')),
  reason TEXT NOT NULL,
  changed_at REAL NOT NULL,
  changed_by TEXT NOT NULL
);
CREATE TABLE partner_events (
  id INTEGER PRIMARY KEY,
  partner TEXT NOT NULL,
  state TEXT NOT NULL,
  reason TEXT NOT NULL,
  at REAL NOT NULL,
  actor TEXT NOT NULL
);
-- bkey: sha256 of the business key (type + the type's key fields), so tombstones keep it
-- without keeping case data. fact_hash: sha256 of the event's data alone.
ALTER TABLE messages ADD COLUMN bkey TEXT;
ALTER TABLE messages ADD COLUMN fact_hash TEXT;
ALTER TABLE messages ADD COLUMN quarantined INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN supersedes INTEGER;
ALTER TABLE messages ADD COLUMN via_route INTEGER;
CREATE INDEX messages_bkey ON messages (bkey);
CREATE INDEX messages_via_route ON messages (via_route, partitionkey) WHERE via_route IS NOT NULL;
CREATE INDEX messages_quarantined ON messages (sender, pos) WHERE quarantined = 1;
ALTER TABLE deliveries ADD COLUMN type TEXT NOT NULL DEFAULT '';
ALTER TABLE deliveries ADD COLUMN process TEXT NOT NULL DEFAULT '';
UPDATE deliveries SET type = (SELECT m.type FROM messages m WHERE m.pos = deliveries.pos);
ALTER TABLE deliveries ADD COLUMN held INTEGER NOT NULL DEFAULT 0;
ALTER TABLE deliveries ADD COLUMN quarantined INTEGER NOT NULL DEFAULT 0;
ALTER TABLE deliveries ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
ALTER TABLE deliveries ADD COLUMN supersedes INTEGER;
DROP INDEX deliveries_ready;
CREATE INDEX deliveries_ready ON deliveries (receiver, priority, id)
  WHERE state = 'ready' AND blocked = 0 AND held = 0 AND quarantined = 0;
CREATE INDEX deliveries_group ON deliveries (receiver, sender, type)
  WHERE state IN ('ready', 'leased');
CREATE TABLE emergency_routes (
  id INTEGER PRIMARY KEY,
  type TEXT NOT NULL,
  sender TEXT NOT NULL,
  around TEXT NOT NULL,
  receiver TEXT NOT NULL,
  superseded_by TEXT NOT NULL,
  reason TEXT NOT NULL,
  opened_at REAL NOT NULL,
  opened_by TEXT NOT NULL,
  closed_at REAL,
  closed_by TEXT
);
CREATE TABLE quarantine_releases (
  id INTEGER PRIMARY KEY,
  partner TEXT NOT NULL,
  up_to_pos INTEGER NOT NULL,
  messages INTEGER NOT NULL,
  checks TEXT NOT NULL,
  reason TEXT NOT NULL,
  requested_by TEXT NOT NULL,
  requested_at REAL NOT NULL,
  approved_by TEXT,
  approved_at REAL
);
CREATE TABLE partner_keys (
  partner TEXT PRIMARY KEY,
  public_key TEXT NOT NULL,
  registered_at REAL NOT NULL,
  registered_by TEXT NOT NULL
);
CREATE TABLE bundle_imports (
  digest TEXT PRIMARY KEY,
  source TEXT NOT NULL,
  first_sequence INTEGER NOT NULL,
  last_sequence INTEGER NOT NULL,
  events INTEGER NOT NULL,
  imported_at REAL NOT NULL,
  imported_by TEXT NOT NULL
);
CREATE INDEX bundle_imports_source ON bundle_imports (source, last_sequence);
