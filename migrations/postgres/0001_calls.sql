-- One row per inbound call: inserted when the INVITE arrives, updated as the call moves on.
-- Times are milliseconds since the Unix epoch (UTC) so KPIs are plain integer arithmetic and the
-- same on SQLite and PostgreSQL. Later columns (customer, queue, agent, outcome, ...) come in
-- later migrations.
CREATE TABLE calls (
    id          TEXT PRIMARY KEY NOT NULL, -- our own call id, chosen by the application
    sip_call_id TEXT NOT NULL,             -- SIP Call-ID header of the INVITE
    caller      TEXT NOT NULL,             -- caller's SIP user / number
    called      TEXT NOT NULL,             -- dialled number / SIP user
    source      TEXT NOT NULL,             -- ip:port the INVITE came from
    transport   TEXT NOT NULL,             -- 'udp' | 'tcp'
    arrived_at  BIGINT NOT NULL,           -- ms, INVITE received
    answered_at BIGINT,                    -- ms, call answered; NULL if never answered
    ended_at    BIGINT,                    -- ms, call over; NULL while in progress
    ended_by    TEXT,                      -- 'caller' | 'hotline'
    end_cause   TEXT,                      -- stable code: 'caller_bye', 'caller_cancel', 'ack_timeout', 'max_duration', 'shutdown', 'rejected', ...
    end_status  INTEGER                    -- SIP status code sent when the call was rejected
);

CREATE INDEX calls_arrived_at ON calls (arrived_at);
CREATE INDEX calls_sip_call_id ON calls (sip_call_id);
