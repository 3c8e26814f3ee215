-- What the IVR and the follow-up work need: customers to verify callers against, a failure
-- counter that locks an account across calls, follow-ups, survey answers, and the IVR's columns
-- on the call. Times are milliseconds since the Unix epoch (UTC), as everywhere.

-- Customers the IVR verifies callers against. Secrets are never stored: pin_hash and
-- id_digits_hash are argon2id PHC strings with their own random salt (NULL: the customer has no
-- secret of that kind, so verifying with it always fails). Account and phone numbers are kept in
-- clear because callbacks need them, and must never be logged.
CREATE TABLE customers (
    account        TEXT PRIMARY KEY NOT NULL,     -- account number as the caller keys it
    name           TEXT NOT NULL,
    pin_hash       TEXT,                          -- argon2id PHC string of the service PIN
    id_digits_hash TEXT,                          -- argon2id PHC string of the ID number's last digits
    phones         TEXT NOT NULL DEFAULT '',      -- phone numbers, comma-separated
    vip            BOOLEAN NOT NULL DEFAULT FALSE,
    created_at     BIGINT NOT NULL,               -- ms, first added
    updated_at     BIGINT NOT NULL                -- ms, last imported / changed
);

-- Failed verifications per account ACROSS calls, one row per account (also accounts that do not
-- exist, so a locked unknown account looks like a locked real one). `failures` counts the
-- failures since `window_start`; the row is reset when the window has passed or a lock has
-- expired, set locked when `failures` reaches the policy's maximum, and deleted on success.
CREATE TABLE verify_failures (
    account      TEXT PRIMARY KEY NOT NULL,
    failures     INTEGER NOT NULL,
    window_start BIGINT NOT NULL,                 -- ms, first failure of the current count
    locked_until BIGINT                           -- ms; NULL: not locked
);

-- Work that a call leaves behind: a promised callback, a complaint, a revisit (回访).
CREATE TABLE followups (
    id            TEXT PRIMARY KEY NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('callback', 'complaint', 'revisit')),
    category      TEXT NOT NULL DEFAULT '',
    urgency       INTEGER NOT NULL DEFAULT 0,     -- higher is more urgent
    status        TEXT NOT NULL DEFAULT 'open'
                  CHECK (status IN ('open', 'forwarded', 'answered', 'resolved', 'closed')),
    call_id       TEXT REFERENCES calls (id),     -- the call it came from, if any
    customer      TEXT,                           -- customers.account, if known
    number        TEXT NOT NULL,                  -- number to call back
    promised_from BIGINT,                         -- ms, promised callback window
    promised_to   BIGINT,
    owner         TEXT,                           -- agent or department that owns it
    created_at    BIGINT NOT NULL,
    due_forward   BIGINT,                         -- ms, forward to the department by
    due_answer    BIGINT,                         -- ms, first answer to the customer by
    due_resolve   BIGINT                          -- ms, resolved by
);

CREATE INDEX followups_status_created ON followups (status, created_at);
CREATE INDEX followups_call_id ON followups (call_id);
CREATE INDEX followups_customer ON followups (customer);

-- A follow-up's note history. (followup_id, at, author) makes a retried note harmless.
CREATE TABLE followup_notes (
    followup_id TEXT NOT NULL REFERENCES followups (id),
    at          BIGINT NOT NULL,
    author      TEXT NOT NULL,
    text        TEXT NOT NULL,
    PRIMARY KEY (followup_id, at, author)
);

-- Post-call survey answers, one row per question answered; a repeated answer replaces the first.
CREATE TABLE surveys (
    call_id  TEXT NOT NULL REFERENCES calls (id),
    question INTEGER NOT NULL CHECK (question >= 1),  -- 1, 2, ... in the plan's order
    score    INTEGER NOT NULL CHECK (score BETWEEN 1 AND 5),
    agent    TEXT,                                    -- agent the answer is about, if any
    at       BIGINT NOT NULL,
    PRIMARY KEY (call_id, question)
);

CREATE INDEX surveys_agent ON surveys (agent);

-- What the IVR learnt about the call.
ALTER TABLE calls ADD COLUMN language TEXT;       -- e.g. 'zh-CN', 'en'
ALTER TABLE calls ADD COLUMN customer TEXT;       -- customers.account, once known
ALTER TABLE calls ADD COLUMN verified BOOLEAN;    -- identity verified (NULL: never tried)
ALTER TABLE calls ADD COLUMN outcome TEXT;        -- outcome code declared by the plan
ALTER TABLE calls ADD COLUMN queue TEXT;          -- queue the call was put in
ALTER TABLE calls ADD COLUMN priority INTEGER;    -- its priority there
