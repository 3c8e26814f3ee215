//! Call detail records for people and programs: a filtered list of calls, newest first, in
//! pages ([`Store::calls`]), and one call with its timeline, agent legs and survey answers
//! ([`Store::call_detail`]). `hotline calls` and the HTTP API both read calls through these,
//! so a filter means the same everywhere.
//!
//! The types serialise (serde) as the API and `--json` show them: times as RFC 3339 in UTC
//! with milliseconds (`2026-11-30T02:00:00.000Z`), numbers in full. Whoever shows them to a
//! person masks the numbers first ([`CallRecord::mask_numbers`]).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{normalize_number, Db, EventRow, LegRow, Store, StoreError, SurveyRow};

/// Page size when the filter names none.
pub const DEFAULT_LIMIT: u32 = 100;
/// Largest page: a bigger export goes page by page.
pub const MAX_LIMIT: u32 = 1000;

/// Which way a call went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// A caller called the hotline.
    Inbound,
    /// The hotline called out (a callback, a revisit, an agent dialling out).
    Outbound,
}

impl Direction {
    /// The code stored in `calls.direction`.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }
}

impl FromStr for Direction {
    type Err = String;

    /// `inbound`/`in` or `outbound`/`out`.
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "inbound" | "in" => Ok(Direction::Inbound),
            "outbound" | "out" => Ok(Direction::Outbound),
            _ => Err(format!("direction {s:?}: expected inbound or outbound")),
        }
    }
}

/// Where a page of calls ends: the next page starts after this call. Shown to clients only
/// as an opaque string (its `Display`), which its `FromStr` reads back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallCursor {
    /// `arrived_at` of the last call of the page, ms.
    pub arrived_at: i64,
    /// Its id (calls arriving in the same millisecond are ordered by id).
    pub id: String,
}

impl fmt::Display for CallCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Hex keeps it URL-safe without escaping and says nothing a client should rely on.
        f.write_str(&hex::encode(format!("{}:{}", self.arrived_at, self.id)))
    }
}

/// A cursor string that no page of calls gave out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a cursor from a page of calls")]
pub struct BadCursor;

impl FromStr for CallCursor {
    type Err = BadCursor;

    fn from_str(s: &str) -> Result<Self, BadCursor> {
        let bytes = hex::decode(s.trim()).map_err(|_| BadCursor)?;
        let text = String::from_utf8(bytes).map_err(|_| BadCursor)?;
        let (at, id) = text.split_once(':').ok_or(BadCursor)?;
        Ok(CallCursor {
            arrived_at: at.parse().map_err(|_| BadCursor)?,
            id: id.to_string(),
        })
    }
}

/// Which calls to list. Every field left `None` matches every call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallFilter {
    /// Arrived at or after this, ms since the Unix epoch.
    pub from_ms: Option<i64>,
    /// Arrived before this, ms (exclusive, so days and months join without overlap).
    pub to_ms: Option<i64>,
    /// Put in this queue.
    pub queue: Option<String>,
    /// Taken or made by this agent ID, or answered by them on a leg (a call they
    /// transferred on still counts).
    pub agent: Option<String>,
    /// The dial plan's outcome code or the agent's outcome code (disposition) is this.
    pub outcome: Option<String>,
    /// The caller's or the called number is this (spaces and dashes ignored).
    pub number: Option<String>,
    /// Only calls that went this way.
    pub direction: Option<Direction>,
    /// Calls per page: 0 means [`DEFAULT_LIMIT`]; at most [`MAX_LIMIT`].
    pub limit: u32,
    /// Start after this call (the `next` of the previous page).
    pub after: Option<CallCursor>,
}

/// One call, as listed. Numbers are in full; see [`CallRecord::mask_numbers`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallRecord {
    /// Our id of the call.
    pub id: String,
    /// Inbound or outbound.
    pub direction: Direction,
    /// The caller's number (outbound: our caller ID).
    pub caller: String,
    /// The number called (outbound: the customer's).
    pub called: String,
    /// The INVITE arrived (outbound: was sent).
    #[serde(with = "utc")]
    pub arrived_at: i64,
    /// The hotline answered (outbound: the customer answered).
    #[serde(with = "utc::option")]
    pub answered_at: Option<i64>,
    /// Entered a queue.
    #[serde(with = "utc::option")]
    pub queued_at: Option<i64>,
    /// First bridged to an agent.
    #[serde(with = "utc::option")]
    pub connected_at: Option<i64>,
    /// Over; `None` while the call is live.
    #[serde(with = "utc::option")]
    pub ended_at: Option<i64>,
    /// Arrival to end, ms.
    pub duration_ms: Option<i64>,
    /// Bridged to an agent until the end, ms.
    pub talk_ms: Option<i64>,
    /// `caller` or `hotline`.
    pub ended_by: Option<String>,
    /// Stable end cause (`caller_bye`, `no_answer`, ... see the README).
    pub end_cause: Option<String>,
    /// SIP status sent when the call was rejected.
    pub end_status: Option<u16>,
    /// The queue it was put in.
    pub queue: Option<String>,
    /// Its priority there.
    pub priority: Option<i32>,
    /// The agent who took (or made) it, the last one bridged.
    pub agent: Option<String>,
    /// Outcome code the dial plan declared.
    pub outcome: Option<String>,
    /// Outcome code the agent keyed or set later.
    pub disposition: Option<String>,
    /// The caller's language, e.g. `zh-CN`.
    pub language: Option<String>,
    /// The customer's account, once known.
    pub customer: Option<String>,
    /// Identity verified (`None`: never tried).
    pub verified: Option<bool>,
    /// Path of the recording, if recorded.
    pub recording: Option<String>,
    /// Outbound: the follow-up it worked on.
    pub followup_id: Option<String>,
    /// Outbound: the trunk it went out through.
    pub trunk: Option<String>,
    /// SIP Call-ID of the INVITE.
    pub sip_call_id: String,
    /// `ip:port` the INVITE came from (outbound: the trunk or phone it went to).
    pub source: String,
    /// `udp` or `tcp`.
    pub transport: String,
    /// RTP packets from the caller (one-way audio shows here).
    pub rtp_received: Option<i64>,
    /// RTP packets to the caller.
    pub rtp_sent: Option<i64>,
}

impl CallRecord {
    /// Replaces the caller's and called numbers and the customer's account with
    /// `mask(value)`, for showing to a person (`138****8000`).
    pub fn mask_numbers(&mut self, mask: impl Fn(&str) -> String) {
        self.caller = mask(&self.caller);
        self.called = mask(&self.called);
        self.customer = self.customer.as_deref().map(&mask);
    }
}

/// One page of calls, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallPage {
    /// The calls.
    pub calls: Vec<CallRecord>,
    /// Give this as `after` for the next page; `None`: this was the last page.
    pub next: Option<String>,
}

/// One thing that happened during a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimelineEvent {
    /// 1, 2, ... in order.
    pub seq: i64,
    /// When.
    #[serde(with = "utc")]
    pub at: i64,
    /// Stable code: `dtmf`, `menu`, `verify`, `hold`, ...
    pub kind: String,
    /// E.g. the key; never a key of a secret.
    pub detail: String,
}

/// One attempt to reach an agent for the call, and the conversation if answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentLeg {
    /// 1, 2, ... in order.
    pub seq: i64,
    /// The agent ID.
    pub agent: String,
    /// The queue it was offered from.
    pub queue: Option<String>,
    /// The agent's phone was called.
    #[serde(with = "utc")]
    pub started_at: i64,
    /// The agent answered.
    #[serde(with = "utc::option")]
    pub answered_at: Option<i64>,
    /// The leg ended.
    #[serde(with = "utc::option")]
    pub ended_at: Option<i64>,
    /// `no_answer`, `rejected`, `agent_bye`, `transferred`, ...
    pub end_cause: Option<String>,
}

/// One survey answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SurveyAnswer {
    /// 1, 2, ... in the plan's order.
    pub question: i32,
    /// 1 to 5.
    pub score: i32,
    /// The agent the answer is about.
    pub agent: Option<String>,
    /// When.
    #[serde(with = "utc")]
    pub at: i64,
}

/// One call with everything about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallDetail {
    /// The call's own columns (flattened into the same JSON object).
    #[serde(flatten)]
    pub call: CallRecord,
    /// Its timeline, in order.
    pub events: Vec<TimelineEvent>,
    /// Its agent legs, in order.
    pub legs: Vec<AgentLeg>,
    /// Its survey answers, by question.
    pub survey: Vec<SurveyAnswer>,
    /// Follow-ups (callbacks, complaints) it left behind, oldest first.
    pub followups: Vec<String>,
}

impl From<EventRow> for TimelineEvent {
    fn from(e: EventRow) -> Self {
        TimelineEvent {
            seq: e.seq,
            at: e.at,
            kind: e.kind,
            detail: e.detail,
        }
    }
}

impl From<LegRow> for AgentLeg {
    fn from(l: LegRow) -> Self {
        AgentLeg {
            seq: l.seq,
            agent: l.agent_id,
            queue: l.queue,
            started_at: l.started_at,
            answered_at: l.answered_at,
            ended_at: l.ended_at,
            end_cause: l.end_cause,
        }
    }
}

impl From<SurveyRow> for SurveyAnswer {
    fn from(s: SurveyRow) -> Self {
        SurveyAnswer {
            question: s.question,
            score: s.score,
            agent: s.agent,
            at: s.at,
        }
    }
}

/// Times as RFC 3339 in UTC with milliseconds, for serde's `with`.
pub(crate) mod utc {
    use serde::Serializer;

    /// `ms` since the Unix epoch as `2026-11-30T02:00:00.000Z`.
    pub fn text(ms: i64) -> String {
        chrono::DateTime::from_timestamp_millis(ms).map_or(ms.to_string(), |t| {
            t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        })
    }

    pub fn serialize<S: Serializer>(ms: &i64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&text(*ms))
    }

    pub mod option {
        use serde::Serializer;

        pub fn serialize<S: Serializer>(ms: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
            match ms {
                Some(ms) => s.serialize_str(&super::text(*ms)),
                None => s.serialize_none(),
            }
        }
    }
}

const SELECT_RECORDS: &str = "SELECT id, direction, caller, called, arrived_at, answered_at, \
     queued_at, connected_at, ended_at, ended_by, end_cause, end_status, queue, priority, agent, \
     outcome, disposition, language, customer, verified, recording, followup_id, trunk, \
     sip_call_id, source, transport, rtp_received, rtp_sent FROM calls";

/// A row as the databases return it (`end_status` is a plain INTEGER there).
#[derive(sqlx::FromRow)]
struct RawRecord {
    id: String,
    direction: String,
    caller: String,
    called: String,
    arrived_at: i64,
    answered_at: Option<i64>,
    queued_at: Option<i64>,
    connected_at: Option<i64>,
    ended_at: Option<i64>,
    ended_by: Option<String>,
    end_cause: Option<String>,
    end_status: Option<i32>,
    queue: Option<String>,
    priority: Option<i32>,
    agent: Option<String>,
    outcome: Option<String>,
    disposition: Option<String>,
    language: Option<String>,
    customer: Option<String>,
    verified: Option<bool>,
    recording: Option<String>,
    followup_id: Option<String>,
    trunk: Option<String>,
    sip_call_id: String,
    source: String,
    transport: String,
    rtp_received: Option<i64>,
    rtp_sent: Option<i64>,
}

impl TryFrom<RawRecord> for CallRecord {
    type Error = StoreError;

    fn try_from(r: RawRecord) -> Result<Self, StoreError> {
        let bad = |column| StoreError::BadValue {
            id: r.id.clone(),
            column,
        };
        let direction = r.direction.parse().map_err(|_| bad("direction"))?;
        let end_status = r
            .end_status
            .map(u16::try_from)
            .transpose()
            .map_err(|_| bad("end_status"))?;
        let since = |start: Option<i64>| Some(r.ended_at? - start?);
        Ok(CallRecord {
            duration_ms: since(Some(r.arrived_at)),
            talk_ms: since(r.connected_at),
            direction,
            end_status,
            id: r.id,
            caller: r.caller,
            called: r.called,
            arrived_at: r.arrived_at,
            answered_at: r.answered_at,
            queued_at: r.queued_at,
            connected_at: r.connected_at,
            ended_at: r.ended_at,
            ended_by: r.ended_by,
            end_cause: r.end_cause,
            queue: r.queue,
            priority: r.priority,
            agent: r.agent,
            outcome: r.outcome,
            disposition: r.disposition,
            language: r.language,
            customer: r.customer,
            verified: r.verified,
            recording: r.recording,
            followup_id: r.followup_id,
            trunk: r.trunk,
            sip_call_id: r.sip_call_id,
            source: r.source,
            transport: r.transport,
            rtp_received: r.rtp_received,
            rtp_sent: r.rtp_sent,
        })
    }
}

/// A value bound to a numbered parameter of the list query.
enum Bind {
    Int(i64),
    Text(String),
}

/// The list query for `f` (asking one row more than a page, to know whether another
/// follows) and its parameters in order.
fn list_query(f: &CallFilter, limit: u32) -> (String, Vec<Bind>) {
    let mut binds = Vec::new();
    let mut conds: Vec<String> = Vec::new();
    let mut param = |b: Bind| {
        binds.push(b);
        format!("${}", binds.len())
    };
    if let Some(ms) = f.from_ms {
        conds.push(format!("arrived_at >= {}", param(Bind::Int(ms))));
    }
    if let Some(ms) = f.to_ms {
        conds.push(format!("arrived_at < {}", param(Bind::Int(ms))));
    }
    if let Some(q) = &f.queue {
        conds.push(format!("queue = {}", param(Bind::Text(q.clone()))));
    }
    if let Some(a) = &f.agent {
        let p = param(Bind::Text(a.clone()));
        conds.push(format!(
            "(agent = {p} OR EXISTS (SELECT 1 FROM call_legs l WHERE l.call_id = calls.id \
             AND l.agent_id = {p} AND l.answered_at IS NOT NULL))"
        ));
    }
    if let Some(o) = &f.outcome {
        let p = param(Bind::Text(o.clone()));
        conds.push(format!("(outcome = {p} OR disposition = {p})"));
    }
    if let Some(n) = &f.number {
        let p = param(Bind::Text(normalize_number(n)));
        conds.push(format!("(caller = {p} OR called = {p})"));
    }
    if let Some(d) = f.direction {
        conds.push(format!(
            "direction = {}",
            param(Bind::Text(d.as_str().into()))
        ));
    }
    if let Some(c) = &f.after {
        let at = param(Bind::Int(c.arrived_at));
        let id = param(Bind::Text(c.id.clone()));
        conds.push(format!(
            "(arrived_at < {at} OR (arrived_at = {at} AND id < {id}))"
        ));
    }
    let limit = param(Bind::Int(i64::from(limit) + 1));
    let mut sql = SELECT_RECORDS.to_string();
    if !conds.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&conds.join(" AND "));
    }
    sql.push_str(&format!(" ORDER BY arrived_at DESC, id DESC LIMIT {limit}"));
    (sql, binds)
}

impl Store {
    /// One page of the calls `filter` matches, newest first (by arrival, then id), with the
    /// cursor of the next page. Pages are keyset-paged, so a call arriving meanwhile never
    /// shifts a later page.
    pub async fn calls(&self, filter: &CallFilter) -> Result<CallPage, StoreError> {
        let limit = match filter.limit {
            0 => DEFAULT_LIMIT,
            n => n.min(MAX_LIMIT),
        };
        let (sql, binds) = list_query(filter, limit);
        let raw: Vec<RawRecord> = on_db!(&self.db, pool => {
            let mut q = sqlx::query_as(&sql);
            for b in &binds {
                q = match b {
                    Bind::Int(v) => q.bind(*v),
                    Bind::Text(s) => q.bind(s.as_str()),
                };
            }
            q.fetch_all(pool).await?
        });
        let mut calls = raw
            .into_iter()
            .map(CallRecord::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        let more = calls.len() > limit as usize;
        calls.truncate(limit as usize);
        let next = match (more, calls.last()) {
            (true, Some(last)) => Some(
                CallCursor {
                    arrived_at: last.arrived_at,
                    id: last.id.clone(),
                }
                .to_string(),
            ),
            _ => None,
        };
        Ok(CallPage { calls, next })
    }

    /// Call `id` with its timeline, agent legs, survey answers and follow-ups; `None` if
    /// there is no such call.
    pub async fn call_detail(&self, id: &str) -> Result<Option<CallDetail>, StoreError> {
        let sql = format!("{SELECT_RECORDS} WHERE id = $1");
        let raw: Option<RawRecord> = on_db!(&self.db, pool => {
            sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?
        });
        let Some(raw) = raw else {
            return Ok(None);
        };
        let followups: Vec<String> = on_db!(&self.db, pool => {
            sqlx::query_scalar("SELECT id FROM followups WHERE call_id = $1 ORDER BY created_at, id")
                .bind(id).fetch_all(pool).await?
        });
        Ok(Some(CallDetail {
            call: CallRecord::try_from(raw)?,
            events: self.events(id).await?.into_iter().map(Into::into).collect(),
            legs: self.legs(id).await?.into_iter().map(Into::into).collect(),
            survey: self
                .surveys(id)
                .await?
                .into_iter()
                .map(Into::into)
                .collect(),
            followups,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_and_a_made_up_one_is_refused() {
        let c = CallCursor {
            arrived_at: 1_796_000_000_123,
            id: "c-1:x".into(),
        };
        let text = c.to_string();
        assert!(text.chars().all(|ch| ch.is_ascii_hexdigit()), "{text}");
        assert_eq!(text.parse::<CallCursor>(), Ok(c));
        for bad in ["", "zz", "31", &hex::encode("x:y")] {
            assert_eq!(bad.parse::<CallCursor>(), Err(BadCursor), "{bad}");
        }
    }

    #[test]
    fn times_serialise_as_utc_with_milliseconds() {
        assert_eq!(utc::text(1_796_000_000_123), "2026-11-30T00:53:20.123Z");
    }

    #[test]
    fn every_filter_binds_its_own_parameters_in_order() {
        let f = CallFilter {
            from_ms: Some(1),
            to_ms: Some(2),
            queue: Some("q".into()),
            agent: Some("a".into()),
            outcome: Some("o".into()),
            number: Some("138 0013-8000".into()),
            direction: Some(Direction::Inbound),
            limit: 5,
            after: Some(CallCursor {
                arrived_at: 3,
                id: "c".into(),
            }),
        };
        let (sql, binds) = list_query(&f, 5);
        assert_eq!(binds.len(), 10, "{sql}");
        assert!(sql.ends_with("LIMIT $10"), "{sql}");
        assert!(
            matches!(&binds[5], Bind::Text(n) if n == "13800138000"),
            "numbers are normalised"
        );
        let (sql, binds) = list_query(&CallFilter::default(), 5);
        assert!(!sql.contains("WHERE") && binds.len() == 1, "{sql}");
    }
}
