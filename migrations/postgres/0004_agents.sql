-- Agents, their phones' registrations, their states over time, the call's legs to agents, and
-- the queue and agent columns on the call. Times are milliseconds since the Unix epoch (UTC).

-- An agent: the 工号 (agent ID) callers hear, the SIP user their phone registers as, and the
-- digest HA1 values of their SIP password (the password itself is never stored).
CREATE TABLE agents (
    id          TEXT PRIMARY KEY NOT NULL,    -- agent ID (工号), e.g. '1024'
    name        TEXT NOT NULL,                -- display name
    extension   TEXT NOT NULL UNIQUE,         -- SIP user name the phone registers with
    ha1_sha256  TEXT NOT NULL,                -- hex SHA-256(extension:realm:password)
    ha1_md5     TEXT NOT NULL,                -- hex MD5(extension:realm:password), older phones
    realm       TEXT NOT NULL,                -- realm the HA1 values were made for
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

-- Which queues an agent serves; a lower penalty is offered calls first.
CREATE TABLE agent_queues (
    agent_id TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    queue    TEXT NOT NULL,
    penalty  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (agent_id, queue)
);

-- Every change of an agent's state, so the reports can add up time in each state.
-- state: 'logged_out' | 'available' | 'ringing' | 'on_call' | 'wrap_up' | 'paused'.
CREATE TABLE agent_states (
    agent_id TEXT NOT NULL,
    at       BIGINT NOT NULL,
    seq      INTEGER NOT NULL,                -- orders changes within one millisecond
    state    TEXT NOT NULL,
    reason   TEXT NOT NULL DEFAULT '',        -- pause reason, or what caused the change
    PRIMARY KEY (agent_id, at, seq)
);

-- Registered contacts of agents' phones, so a restart keeps them.
CREATE TABLE registrations (
    extension  TEXT NOT NULL,
    contact    TEXT NOT NULL,                 -- Contact URI as registered
    source     TEXT NOT NULL,                 -- ip:port the REGISTER came from
    transport  TEXT NOT NULL,                 -- 'udp' | 'tcp'
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (extension, contact)
);

-- Each attempt to reach an agent for a call, and the bridged conversation when answered.
CREATE TABLE call_legs (
    call_id     TEXT NOT NULL REFERENCES calls (id),
    seq         INTEGER NOT NULL,             -- 1, 2, ... per call
    agent_id    TEXT NOT NULL,
    queue       TEXT,
    started_at  BIGINT NOT NULL,                -- ms, INVITE sent to the agent
    answered_at BIGINT,                         -- ms, agent answered; NULL if never
    ended_at    BIGINT,
    end_cause   TEXT,                         -- 'no_answer', 'rejected', 'unreachable', 'caller_gone', 'agent_bye', 'caller_bye', 'transferred', ...
    rtp_received BIGINT,                         -- RTP packets from the agent's phone
    rtp_sent     BIGINT,                         -- RTP packets to it
    PRIMARY KEY (call_id, seq)
);

CREATE INDEX call_legs_agent ON call_legs (agent_id, started_at);

ALTER TABLE calls ADD COLUMN queued_at BIGINT;       -- ms, entered the queue
ALTER TABLE calls ADD COLUMN agent TEXT;           -- agent ID who took the call (last one bridged)
ALTER TABLE calls ADD COLUMN connected_at BIGINT;    -- ms, first bridged to an agent
ALTER TABLE calls ADD COLUMN disposition TEXT;     -- agent's outcome code, keyed in wrap-up or set later
ALTER TABLE calls ADD COLUMN rtp_received BIGINT;  -- RTP packets from the caller (one-way audio shows here)
ALTER TABLE calls ADD COLUMN rtp_sent BIGINT;      -- RTP packets to the caller

-- State changes asked for from the command line (`hotline agents state`), carried out by
-- the running server, which owns the agents' live state, and marked done there.
CREATE TABLE agent_requests (
    id       BIGSERIAL PRIMARY KEY,
    agent_id TEXT NOT NULL,
    at       BIGINT NOT NULL,
    action   TEXT NOT NULL,                 -- 'login' | 'logout' | 'pause' | 'resume'
    reason   TEXT NOT NULL DEFAULT '',
    done_at  BIGINT
);
