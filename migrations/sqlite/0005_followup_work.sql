-- Working follow-ups to closure: when each step was reached (so reports can say whether it
-- was on time), where a complaint was forwarded, how it was resolved, the revisit's complaint,
-- and escalation. Times are milliseconds since the Unix epoch (UTC), as everywhere.
ALTER TABLE followups ADD COLUMN department TEXT;        -- department it was forwarded to
ALTER TABLE followups ADD COLUMN forwarded_at INTEGER;     -- ms, reached 'forwarded' (or a later step)
ALTER TABLE followups ADD COLUMN answered_at INTEGER;      -- ms, the customer first heard back
ALTER TABLE followups ADD COLUMN resolved_at INTEGER;      -- ms, resolved
ALTER TABLE followups ADD COLUMN closed_at INTEGER;        -- ms, closed
ALTER TABLE followups ADD COLUMN outcome TEXT;           -- resolution code
ALTER TABLE followups ADD COLUMN parent_id TEXT;         -- a revisit's complaint
ALTER TABLE followups ADD COLUMN escalation INTEGER NOT NULL DEFAULT 0; -- deadlines missed so far
ALTER TABLE followups ADD COLUMN escalated_at INTEGER;     -- ms, first flagged for the supervisor

CREATE INDEX followups_parent ON followups (parent_id);
CREATE INDEX calls_ended_at_open ON calls (ended_at);
