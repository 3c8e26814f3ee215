-- Webhooks: telling a CRM that a call ended or a follow-up changed, without losing anything
-- while the receiver or hotline is down. Times are milliseconds since the Unix epoch (UTC).
--
-- Triggers note each change in `webhook_changes` inside the transaction that makes it, so a
-- change made by any process (the server, `hotline followups ...`) is noted exactly when it
-- is committed. The server's webhook task turns each noted change into one `webhook_outbox`
-- row per webhook that wants it and deletes the change, in one transaction; the sender posts
-- outbox rows until the receiver answers 2xx. No cursor over ids or times is kept: ids and
-- clocks need not follow commit order (sequences are taken before commit, `--now`), a row
-- that exists does.

CREATE TABLE webhook_changes (
    id      BIGSERIAL PRIMARY KEY,
    event   TEXT NOT NULL CHECK (event IN ('call.ended', 'followup.changed')),
    subject TEXT NOT NULL,      -- calls.id or followups.id
    at      BIGINT NOT NULL,    -- ms, when it happened
    author  TEXT,               -- followup.changed: who made the change (NULL: created)
    change  TEXT,               -- followup.changed: what changed, the note line or 'created'
    status  TEXT                -- followup.changed: the status after the change
);

CREATE FUNCTION webhook_call_ended() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO webhook_changes (event, subject, at) VALUES ('call.ended', NEW.id, NEW.ended_at);
    RETURN NULL;
END;
$$;

CREATE TRIGGER webhook_call_ended AFTER UPDATE OF ended_at ON calls
FOR EACH ROW WHEN (OLD.ended_at IS NULL AND NEW.ended_at IS NOT NULL)
EXECUTE FUNCTION webhook_call_ended();

CREATE FUNCTION webhook_followup_created() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO webhook_changes (event, subject, at, change, status)
    VALUES ('followup.changed', NEW.id, NEW.created_at, 'created', NEW.status);
    RETURN NULL;
END;
$$;

CREATE TRIGGER webhook_followup_created AFTER INSERT ON followups
FOR EACH ROW EXECUTE FUNCTION webhook_followup_created();

-- Every move, note, escalation, dial attempt and verdict adds a line to the note history.
CREATE FUNCTION webhook_followup_noted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO webhook_changes (event, subject, at, author, change, status)
    SELECT 'followup.changed', NEW.followup_id, NEW.at, NEW.author, NEW.text, f.status
    FROM followups f WHERE f.id = NEW.followup_id;
    RETURN NULL;
END;
$$;

CREATE TRIGGER webhook_followup_noted AFTER INSERT ON followup_notes
FOR EACH ROW EXECUTE FUNCTION webhook_followup_noted();

-- One delivery of one change to one webhook. (change_id, webhook) makes a repeated fan-out
-- harmless.
CREATE TABLE webhook_outbox (
    id              BIGSERIAL PRIMARY KEY,
    delivery        TEXT NOT NULL UNIQUE,   -- random id, sent as X-Hotline-Delivery and in the body
    change_id       BIGINT NOT NULL,        -- the webhook_changes row it came from
    webhook         TEXT NOT NULL,          -- the webhook's name in webhooks.toml
    event           TEXT NOT NULL,          -- 'call.ended' | 'followup.changed'
    payload         TEXT NOT NULL,          -- the JSON body, exactly as posted and signed
    created_at      BIGINT NOT NULL,        -- ms, fanned out
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,        -- ms, not before
    last_error      TEXT,                   -- why the last attempt failed
    delivered_at    BIGINT,                 -- ms, the receiver answered 2xx
    dead_at         BIGINT,                 -- ms, given up (still undelivered long after)
    UNIQUE (change_id, webhook)
);

CREATE INDEX webhook_outbox_due ON webhook_outbox (webhook, next_attempt_at)
    WHERE delivered_at IS NULL AND dead_at IS NULL;
