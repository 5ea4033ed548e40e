-- Paper work and interim procedures (issue 3).
--
-- manual_records: work done on paper, registered afterwards. bkey is the business key's digest
-- as messages.bkey carries it. At most one record per (partner, bkey) is open (not withdrawn).
-- matched_pos is the earliest message of the same partner and bkey.
CREATE SEQUENCE manual_records_id_seq;
CREATE TABLE manual_records (
  id BIGINT PRIMARY KEY DEFAULT nextval('manual_records_id_seq'),
  partner TEXT NOT NULL,
  case_number TEXT NOT NULL,
  type TEXT NOT NULL,
  fields TEXT NOT NULL,
  bkey TEXT,
  happened_at DOUBLE PRECISION NOT NULL,
  registered_at DOUBLE PRECISION NOT NULL,
  registered_by TEXT NOT NULL,
  status TEXT NOT NULL
    CHECK (status IN ('registered', 'matched', 'confirmed', 'corrected', 'withdrawn')),
  matched_pos BIGINT,
  updated_at DOUBLE PRECISION NOT NULL
);
CREATE UNIQUE INDEX manual_records_key ON manual_records (bkey, partner)
  WHERE status <> 'withdrawn';
-- The accept hook probes this with the new messages' keys: only records still waiting.
CREATE INDEX manual_records_open ON manual_records (bkey)
  WHERE matched_pos IS NULL AND status <> 'withdrawn';
CREATE INDEX manual_records_pair ON manual_records (partner, type, happened_at)
  WHERE status <> 'withdrawn';
CREATE SEQUENCE manual_events_id_seq;
CREATE TABLE manual_events (
  id BIGINT PRIMARY KEY DEFAULT nextval('manual_events_id_seq'),
  record_id BIGINT NOT NULL REFERENCES manual_records (id),
  at DOUBLE PRECISION NOT NULL,
  action TEXT NOT NULL,
  status TEXT NOT NULL,
  reason TEXT NOT NULL,
  actor TEXT NOT NULL,
  detail TEXT NOT NULL
);
CREATE INDEX manual_events_record ON manual_events (record_id, id);
-- Work agreements per process while its digital flow is down; retired by a go-live wave.
-- partners_informed: partner keys joined by commas.
CREATE SEQUENCE interim_procedures_id_seq;
CREATE TABLE interim_procedures (
  id BIGINT PRIMARY KEY DEFAULT nextval('interim_procedures_id_seq'),
  process TEXT NOT NULL,
  replaces TEXT NOT NULL,
  valid_from DOUBLE PRECISION NOT NULL,
  partners_informed TEXT NOT NULL,
  emergency_route TEXT,
  manual_type TEXT,
  created_at DOUBLE PRECISION NOT NULL,
  created_by TEXT NOT NULL,
  retired_at DOUBLE PRECISION,
  retired_by TEXT
);
CREATE INDEX interim_procedures_active ON interim_procedures (process)
  WHERE retired_at IS NULL;
