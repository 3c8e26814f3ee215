-- Tokens for the HTTP API, the wallboard and the desk. Only a SHA-256 of each token is
-- kept (tokens are 256 random bits, so a slow hash buys nothing); the token itself is shown
-- once, when made. A role says what it may do; an agent's token is bound to that agent.
-- Times are milliseconds since the Unix epoch (UTC), as everywhere.
CREATE TABLE api_tokens (
    name       TEXT PRIMARY KEY,               -- who holds it, logged with every request
    role       TEXT NOT NULL
               CHECK (role IN ('viewer', 'agent', 'supervisor', 'admin')),
    agent_id   TEXT,                           -- role agent: whose calls and follow-ups
    hash       TEXT NOT NULL UNIQUE,           -- hex SHA-256 of the token
    created_at INTEGER NOT NULL,
    revoked_at INTEGER,                         -- no longer accepted from then on
    CHECK ((role = 'agent') = (agent_id IS NOT NULL))
);
