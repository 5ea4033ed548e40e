-- Who made each credential. Its maker has seen its token, so for a two-person rule the maker
-- and the holder are not two people (decision 0004). Credentials made before this migration
-- take their maker from the audit trail's token-created entry.
ALTER TABLE credentials ADD COLUMN created_by TEXT;
UPDATE credentials SET created_by = (
  SELECT a.actor FROM audit a
  WHERE a.action = 'token-created' AND a.object = credentials.id
  ORDER BY a.at LIMIT 1
);
