-- Notifications the registry owes member states (ECRIS): one per final conviction of a national
-- of another member state, due within the chain's deadline (30 working days, P42D) of the
-- conviction. sent_at stays NULL until the notification went out through the exchange.
CREATE TABLE ecris_notifications (
  id INTEGER PRIMARY KEY,
  notification_id TEXT NOT NULL UNIQUE,
  registration INTEGER NOT NULL REFERENCES registrations (id),
  skn TEXT NOT NULL,
  case_key TEXT NOT NULL,
  member_state TEXT NOT NULL,
  conviction_date TEXT NOT NULL,
  due_date TEXT NOT NULL,
  known_at REAL NOT NULL,
  sent_at REAL
);
CREATE INDEX ecris_unsent ON ecris_notifications (id) WHERE sent_at IS NULL;
