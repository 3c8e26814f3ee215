-- Outbound calls: the callback dialer, revisit calls and agents dialling out. A call row now
-- says which way it went (the KPIs count inbound calls only) and which follow-up it worked on;
-- a follow-up counts its call attempts and is marked unreachable after the last; every attempt
-- is kept; and `hotline followups call` leaves a request for the running server. Times are
-- milliseconds since the Unix epoch (UTC), as everywhere.
ALTER TABLE calls ADD COLUMN direction TEXT NOT NULL DEFAULT 'inbound'
    CHECK (direction IN ('inbound', 'outbound'));     -- 'inbound': a caller called us; 'outbound': we called out
ALTER TABLE calls ADD COLUMN followup_id TEXT;        -- outbound: the follow-up the call works on
ALTER TABLE calls ADD COLUMN trunk TEXT;              -- outbound: the trunk it went out through (NULL: an agent's phone)

ALTER TABLE followups ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;  -- call attempts made (a skipped preview does not count)
ALTER TABLE followups ADD COLUMN last_attempt_at INTEGER;  -- ms, the last attempt ended (skipped or not)
ALTER TABLE followups ADD COLUMN unreachable_at INTEGER;   -- ms, given up after the last attempt: for a supervisor

CREATE INDEX calls_followup_id ON calls (followup_id);

-- Every attempt to call a follow-up's customer. (followup_id, call_id) makes a retried write
-- harmless.
CREATE TABLE dial_attempts (
    followup_id TEXT NOT NULL REFERENCES followups (id),
    call_id     TEXT NOT NULL,                 -- our id of the outbound call (or of the skipped preview)
    result      TEXT NOT NULL
                CHECK (result IN ('answered', 'no_answer', 'busy', 'failed', 'skipped')),
    at          INTEGER NOT NULL,              -- ms, the attempt ended
    agent       TEXT,                          -- agent who made (or skipped) it
    PRIMARY KEY (followup_id, call_id)
);

-- Calls asked for from the command line (`hotline followups call`), placed by the running
-- server, which knows which agents are free, and marked done there.
CREATE TABLE dial_requests (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    followup_id  TEXT NOT NULL REFERENCES followups (id),
    agent        TEXT,                         -- agent to make the call; NULL: any agent of its queue
    requested_at INTEGER NOT NULL,             -- ms
    requested_by TEXT NOT NULL,                -- who asked
    done_at      INTEGER                       -- ms, taken by the server; NULL while waiting
);
