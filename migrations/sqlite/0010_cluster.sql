-- A cluster needs PostgreSQL (see migrations/postgres/0010_cluster.sql); SQLite keeps the
-- single-node path and only gets the columns, always NULL, so both schemas read alike.
ALTER TABLE calls ADD COLUMN node_id TEXT;
ALTER TABLE call_legs ADD COLUMN node_id TEXT;
