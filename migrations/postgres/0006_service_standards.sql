-- Service standards: what a complaint carries (the caller's recorded description), the
-- 12-hour "customer contacted" step next to forward / first reply / resolve, the revisit's
-- verdict, and callers to refuse (blocklist) or to review (flags). Times are milliseconds
-- since the Unix epoch (UTC), as everywhere.
ALTER TABLE followups ADD COLUMN recording TEXT;          -- path of the caller's recorded message or description
ALTER TABLE followups ADD COLUMN due_contact BIGINT;      -- ms, complaint: the customer contacted by
ALTER TABLE followups ADD COLUMN contacted_at BIGINT;     -- ms, the customer was first contacted
ALTER TABLE followups ADD COLUMN revisit_result TEXT;     -- 'satisfied' | 'unsatisfied': what the revisit found

-- Numbers refused at the door: the caller hears a polite refusal and the call is recorded.
CREATE TABLE blocked_callers (
    number     TEXT PRIMARY KEY NOT NULL,
    reason     TEXT NOT NULL,
    until_at   BIGINT,                 -- ms; NULL: until unblocked
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL
);

-- Numbers whose complaints a supervisor reviews; never used to drop a call.
CREATE TABLE caller_flags (
    number     TEXT PRIMARY KEY NOT NULL,
    flag       TEXT NOT NULL CHECK (flag IN ('malicious')),
    note       TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL
);
