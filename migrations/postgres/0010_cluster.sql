-- A cluster: several hotline nodes on this one database behind one SIP edge (Kamailio).
-- Single nodes never read these tables; SQLite has only the `node_id` columns.

-- Each node's lease, renewed every 2 s. Database time (`now()`) decides, so nodes' clocks
-- need not agree. `epoch` grows each time the node (re)joins or is swept: a node whose
-- renewal finds another epoch has been declared dead and must stop taking agents.
CREATE TABLE cluster_nodes (
    node_id     TEXT PRIMARY KEY NOT NULL,
    epoch       BIGINT NOT NULL,
    sip_uri     TEXT NOT NULL,                 -- where the edge reaches the node, sip:ip:port
    joined_at   TIMESTAMPTZ NOT NULL,
    lease_until TIMESTAMPTZ                    -- NULL: swept (dead, leftovers cleaned up)
);

-- Which node holds an agent right now (ringing, talking or in wrap-up). The primary key is
-- the whole point: a second node's claim on a held agent inserts nothing, so no agent is
-- ever offered two calls at once, whichever nodes the calls are on.
CREATE TABLE agent_claims (
    agent_id TEXT PRIMARY KEY NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    node_id  TEXT NOT NULL,
    call_id  TEXT NOT NULL,                    -- the customer call (or agent leg) it is for
    state    TEXT NOT NULL CHECK (state IN ('ringing', 'on_call', 'wrap_up')),
    since    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX agent_claims_node ON agent_claims (node_id);

-- The node that took the call. Filled in by the node's own connections (`hotline.node_id`
-- set per session), so the rows' writers need not name it; existing rows stay NULL.
ALTER TABLE calls ADD COLUMN node_id TEXT;
ALTER TABLE calls ALTER COLUMN node_id SET DEFAULT current_setting('hotline.node_id', true);
ALTER TABLE call_legs ADD COLUMN node_id TEXT;
ALTER TABLE call_legs ALTER COLUMN node_id SET DEFAULT current_setting('hotline.node_id', true);
CREATE INDEX calls_open_by_node ON calls (node_id) WHERE ended_at IS NULL;

-- For Kamailio's auth_db: agents' phones authenticate at the edge with the HA1 hotline
-- keeps (MD5: Kamailio's auth takes one algorithm, and every phone speaks MD5).
CREATE VIEW kamailio_subscriber AS
    SELECT extension AS username, realm AS domain, ha1_md5 AS ha1, ha1_md5 AS ha1b
    FROM agents;

-- For Kamailio's sqlops: an agent's own calls (feature codes, transfers) go to the node
-- that holds the agent's call, so the two legs meet on one node.
CREATE VIEW kamailio_agent_node AS
    SELECT a.extension AS username, n.sip_uri AS node_uri
    FROM agent_claims c
    JOIN agents a ON a.id = c.agent_id
    JOIN cluster_nodes n ON n.node_id = c.node_id
    WHERE n.lease_until > now();
