-- An event answered as a duplicate by business key (the same fact under a new id) is not
-- stored, but its id was acknowledged: the id is kept here with its content hash and the
-- position of the message it repeats, so a retry gets the same answer and the same id with
-- another body is a conflict, as for a stored message's id.
CREATE TABLE id_aliases (
  source TEXT NOT NULL,
  id TEXT NOT NULL,
  content_hash TEXT NOT NULL,
  pos BIGINT NOT NULL,
  received_at DOUBLE PRECISION NOT NULL,
  PRIMARY KEY (source, id)
);
