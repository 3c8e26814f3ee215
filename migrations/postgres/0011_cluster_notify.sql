-- A claim taken or let go wakes the other nodes at once (channel `hotline_claims:SCHEMA`,
-- so hotlines in other schemas of the database are not woken; payload the node that made
-- the change, which ignores its own); their 1 s read of the cluster stays as the
-- fallback, since a notification sent while a node is disconnected is lost.
CREATE FUNCTION hotline_claims_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- (a channel name has at most 63 characters)
    PERFORM pg_notify(left('hotline_claims:' || TG_TABLE_SCHEMA, 63),
                      COALESCE(NEW.node_id, OLD.node_id));
    RETURN NULL;
END
$$;

CREATE TRIGGER agent_claims_notify AFTER INSERT OR DELETE ON agent_claims
    FOR EACH ROW EXECUTE FUNCTION hotline_claims_notify();
