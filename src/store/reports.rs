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

const REPORT_CALLS: &str = "SELECT id, arrived_at, answered_at, ended_at, ended_by, end_cause, \
     queue, queued_at, connected_at, agent FROM calls \
     WHERE arrived_at >= $1 AND arrived_at < $2 ORDER BY arrived_at, id";

const REPORT_SURVEYS: &str = "SELECT s.call_id AS call_id, s.question AS question, \
     s.score AS score, COALESCE(s.agent, c.agent) AS agent, c.queue AS queue, \
     c.arrived_at AS arrived_at \
     FROM surveys s JOIN calls c ON c.id = s.call_id \
     WHERE c.arrived_at >= $1 AND c.arrived_at < $2 ORDER BY c.arrived_at, s.call_id, s.question";

impl Store {
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
