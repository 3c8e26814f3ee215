-- The timeline of a call: what happened and when (digits pressed, prompts, media changes).
-- (call_id, seq) makes a retried batch harmless: a repeated event is ignored.
CREATE TABLE call_events (
    call_id TEXT NOT NULL REFERENCES calls (id),
    seq     BIGINT NOT NULL,           -- 1, 2, ... per call, in the order things happened
    at      BIGINT NOT NULL,           -- ms since the Unix epoch
    kind    TEXT NOT NULL,             -- stable code: 'dtmf', 'no_media', 'hold', ...
    detail  TEXT NOT NULL DEFAULT '',  -- e.g. the digit; never a digit of sensitive input
    PRIMARY KEY (call_id, seq)
);

-- Where the call's recording is, when it was recorded.
ALTER TABLE calls ADD COLUMN recording TEXT;
