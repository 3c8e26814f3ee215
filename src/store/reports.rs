//! The rows the reports are computed from. The figures themselves are computed in Rust
//! (`crate::report`), so they are the same on SQLite and PostgreSQL by construction; the
//! queries here are plain range selections that both databases answer alike.

use super::followups::{RawFollowUp, SELECT_FOLLOWUPS};
use super::{Db, FollowUpRow, Store, StoreError};

/// What the KPIs need of one call.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ReportCall {
    /// Our id of the call.
    pub id: String,
    /// ms, the INVITE arrived.
    pub arrived_at: i64,
    /// ms, answered by the hotline (the IVR).
    pub answered_at: Option<i64>,
    /// ms, the call ended.
    pub ended_at: Option<i64>,
    /// `caller` or `hotline`.
    pub ended_by: Option<String>,
    /// Stable end cause.
    pub end_cause: Option<String>,
    /// Queue the call was put in.
    pub queue: Option<String>,
    /// ms, entered the queue.
    pub queued_at: Option<i64>,
    /// ms, first bridged to an agent.
    pub connected_at: Option<i64>,
    /// Agent who took the call.
    pub agent: Option<String>,
    /// The agent's outcome code.
    pub disposition: Option<String>,
}

/// One change of an agent's state, for time in each state.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ReportAgentState {
    /// The agent.
    pub agent_id: String,
    /// ms, when the state began.
    pub at: i64,
    /// Orders changes within one millisecond.
    pub seq: i64,
    /// `logged_out`, `available`, `ringing`, `on_call`, `wrap_up` or `paused`.
    pub state: String,
}

/// One attempt to reach an agent, with the end of its call (when the leg has none).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ReportLeg {
    /// The call.
    pub call_id: String,
    /// 1, 2, ... per call.
    pub seq: i64,
    /// The agent rung.
    pub agent_id: String,
    /// ms, the agent's phone was rung.
    pub started_at: i64,
    /// ms, the agent answered.
    pub answered_at: Option<i64>,
    /// ms, the leg ended.
    pub ended_at: Option<i64>,
    /// Why it ended (`no_answer`, `rejected`, `agent_bye`, ...).
    pub end_cause: Option<String>,
    /// ms, the call ended.
    pub call_ended_at: Option<i64>,
}

/// One survey answer with what the satisfaction report groups it by.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ReportSurvey {
    /// The call answered about.
    pub call_id: String,
    /// 1, 2, ...
    pub question: i32,
    /// 1 to 5.
    pub score: i32,
    /// The agent the answer is about: the survey's, else the call's.
    pub agent: Option<String>,
    /// The call's queue.
    pub queue: Option<String>,
    /// ms, the call arrived.
    pub arrived_at: i64,
}

/// One attempt to call a follow-up's customer that ended in the period, with what the
/// outbound section needs of its follow-up.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ReportDialAttempt {
    /// The follow-up called.
    pub followup_id: String,
    /// Its kind: `callback` or `revisit`.
    pub kind: String,
    /// `answered`, `no_answer`, `busy`, `failed` or `skipped`.
    pub result: String,
    /// ms, the attempt ended.
    pub at: i64,
    /// ms, the follow-up was created.
    pub created_at: i64,
    /// ms, start of the promised callback window.
    pub promised_from: Option<i64>,
    /// ms, end of the promised callback window.
    pub promised_to: Option<i64>,
}

/// A follow-up given up as unreachable in the period.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ReportUnreachable {
    /// The follow-up.
    pub id: String,
    /// Its kind.
    pub kind: String,
    /// ms, given up.
    pub unreachable_at: i64,
}

/// A call the hotline placed in the period.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ReportOutboundCall {
    /// Our id of the call.
    pub id: String,
    /// ms, the INVITE was sent.
    pub arrived_at: i64,
    /// ms, the called party answered.
    pub answered_at: Option<i64>,
    /// The follow-up it worked on; none for an agent dialling out or a plan's transfer.
    pub followup_id: Option<String>,
}

// Every report is about calls to the hotline: the calls it places (callbacks, revisits, agents
// dialling out) would count as offered, answered and handled and skew every rate.
const REPORT_CALLS: &str = "SELECT id, arrived_at, answered_at, ended_at, ended_by, end_cause, \
     queue, queued_at, connected_at, agent, disposition FROM calls \
     WHERE arrived_at >= $1 AND arrived_at < $2 AND direction = 'inbound' \
     ORDER BY arrived_at, id";

const REPORT_SURVEYS: &str = "SELECT s.call_id AS call_id, s.question AS question, \
     s.score AS score, COALESCE(s.agent, c.agent) AS agent, c.queue AS queue, \
     c.arrived_at AS arrived_at \
     FROM surveys s JOIN calls c ON c.id = s.call_id \
     WHERE c.arrived_at >= $1 AND c.arrived_at < $2 AND c.direction = 'inbound' \
     ORDER BY c.arrived_at, s.call_id, s.question";

// The changes in the period, and each agent's last change before it (the state in force when
// the period starts).
const REPORT_AGENT_STATES: &str = "SELECT s.agent_id AS agent_id, s.at AS at, \
     CAST(s.seq AS BIGINT) AS seq, s.state AS state FROM agent_states s \
     WHERE s.at < $2 AND (s.at >= $1 OR NOT EXISTS (SELECT 1 FROM agent_states t \
     WHERE t.agent_id = s.agent_id AND t.at < $1 \
     AND (t.at > s.at OR (t.at = s.at AND t.seq > s.seq)))) \
     ORDER BY s.agent_id, s.at, s.seq";

// Legs of inbound calls rung or answered in the period (an agent's legs answered, missed and
// talk time are about calls to the hotline, as the KPIs are).
const REPORT_LEGS: &str = "SELECT l.call_id AS call_id, CAST(l.seq AS BIGINT) AS seq, \
     l.agent_id AS agent_id, l.started_at AS started_at, l.answered_at AS answered_at, \
     l.ended_at AS ended_at, l.end_cause AS end_cause, c.ended_at AS call_ended_at \
     FROM call_legs l JOIN calls c ON c.id = l.call_id \
     WHERE c.direction = 'inbound' AND ((l.started_at >= $1 AND l.started_at < $2) \
     OR (l.answered_at >= $1 AND l.answered_at < $2)) \
     ORDER BY l.agent_id, l.started_at, l.call_id, l.seq";

// The outbound section: attempts that ended in the period, follow-ups given up in it, and the
// calls hotline placed in it.
const REPORT_DIAL_ATTEMPTS: &str = "SELECT a.followup_id AS followup_id, f.kind AS kind, \
     a.result AS result, a.at AS at, f.created_at AS created_at, \
     f.promised_from AS promised_from, f.promised_to AS promised_to \
     FROM dial_attempts a JOIN followups f ON f.id = a.followup_id \
     WHERE a.at >= $1 AND a.at < $2 \
     ORDER BY a.at, a.followup_id, a.call_id";

const REPORT_UNREACHABLE: &str = "SELECT id, kind, unreachable_at FROM followups \
     WHERE unreachable_at >= $1 AND unreachable_at < $2 ORDER BY unreachable_at, id";

/// Calls that went out through a trunk: a callback's record starts with the agent's
/// preview, and one whose preview was skipped never reached a trunk.
const REPORT_OUTBOUND_CALLS: &str = "SELECT id, arrived_at, answered_at, followup_id \
     FROM calls WHERE arrived_at >= $1 AND arrived_at < $2 AND direction = 'outbound' \
     AND trunk IS NOT NULL ORDER BY arrived_at, id";

impl Store {
    /// Attempts to call follow-ups' customers that ended in `[from, to)` (ms), skipped
    /// previews included, oldest first.
    pub async fn report_dial_attempts(
        &self,
        from: i64,
        to: i64,
    ) -> Result<Vec<ReportDialAttempt>, StoreError> {
        let rows = on_db!(&self.db, pool => {
            sqlx::query_as(REPORT_DIAL_ATTEMPTS).bind(from).bind(to).fetch_all(pool).await?
        });
        Ok(rows)
    }

    /// Follow-ups given up as unreachable in `[from, to)` (ms).
    pub async fn report_unreachable(
        &self,
        from: i64,
        to: i64,
    ) -> Result<Vec<ReportUnreachable>, StoreError> {
        let rows = on_db!(&self.db, pool => {
            sqlx::query_as(REPORT_UNREACHABLE).bind(from).bind(to).fetch_all(pool).await?
        });
        Ok(rows)
    }

    /// Calls the hotline placed in `[from, to)` (ms), oldest first.
    pub async fn report_outbound_calls(
        &self,
        from: i64,
        to: i64,
    ) -> Result<Vec<ReportOutboundCall>, StoreError> {
        let rows = on_db!(&self.db, pool => {
            sqlx::query_as(REPORT_OUTBOUND_CALLS).bind(from).bind(to).fetch_all(pool).await?
        });
        Ok(rows)
    }

    /// The agents' state changes in `[from, to)` (ms), with each agent's last change before
    /// `from`; by agent, then in order.
    pub async fn report_agent_states(
        &self,
        from: i64,
        to: i64,
    ) -> Result<Vec<ReportAgentState>, StoreError> {
        let rows = on_db!(&self.db, pool => {
            sqlx::query_as(REPORT_AGENT_STATES).bind(from).bind(to).fetch_all(pool).await?
        });
        Ok(rows)
    }

    /// Legs to agents started or answered in `[from, to)` (ms).
    pub async fn report_legs(&self, from: i64, to: i64) -> Result<Vec<ReportLeg>, StoreError> {
        let rows = on_db!(&self.db, pool => {
            sqlx::query_as(REPORT_LEGS).bind(from).bind(to).fetch_all(pool).await?
        });
        Ok(rows)
    }

    /// Every agent's ID and name.
    pub async fn agent_names(&self) -> Result<Vec<(String, String)>, StoreError> {
        let rows = on_db!(&self.db, pool => {
            sqlx::query_as("SELECT id, name FROM agents ORDER BY id").fetch_all(pool).await?
        });
        Ok(rows)
    }

    /// Calls that arrived in `[from, to)` (ms), oldest first.
    pub async fn report_calls(&self, from: i64, to: i64) -> Result<Vec<ReportCall>, StoreError> {
        let rows = on_db!(&self.db, pool => {
            sqlx::query_as(REPORT_CALLS).bind(from).bind(to).fetch_all(pool).await?
        });
        Ok(rows)
    }

    /// Survey answers of calls that arrived in `[from, to)` (ms).
    pub async fn report_surveys(
        &self,
        from: i64,
        to: i64,
    ) -> Result<Vec<ReportSurvey>, StoreError> {
        let rows = on_db!(&self.db, pool => {
            sqlx::query_as(REPORT_SURVEYS).bind(from).bind(to).fetch_all(pool).await?
        });
        Ok(rows)
    }

    /// Follow-ups created in `[from, to)` (ms), oldest first.
    pub async fn followups_created(
        &self,
        from: i64,
        to: i64,
    ) -> Result<Vec<FollowUpRow>, StoreError> {
        let query = format!(
            "{SELECT_FOLLOWUPS} WHERE created_at >= $1 AND created_at < $2 ORDER BY created_at, id"
        );
        let raw: Vec<RawFollowUp> = on_db!(&self.db, pool => {
            sqlx::query_as(&query).bind(from).bind(to).fetch_all(pool).await?
        });
        raw.into_iter().map(FollowUpRow::try_from).collect()
    }
}
