-- The store this registry file belongs to (decision 0014).
CREATE TABLE registry_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
