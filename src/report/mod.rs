//! Management reports, computed from rows without I/O: the complaint summary, the
//! satisfaction report, the KPIs, the agents' figures and the outbound calls of a month or a day. [`render`] writes them as
//! Markdown, CSV or HTML (inline SVG charts, no scripts).
//!
//! Every figure is defined in the README ("KPI definitions"); the code below says the same
//! thing next to each computation.

pub mod labels;
mod load;
pub mod outbound;
pub mod render;

pub use load::build;
pub use outbound::Outbound;

use std::collections::{BTreeMap, HashMap};

use chrono::{Datelike, NaiveDate, TimeZone};
use chrono_tz::Tz;

use crate::followup::{overdue, ReportSettings, Step};
use crate::store::{
    FollowUpKind, FollowUpRow, FollowUpStatus, ReportAgentState, ReportCall, ReportDialAttempt,
    ReportLeg, ReportOutboundCall, ReportSurvey, ReportUnreachable, RevisitResult,
};

/// The statuses in order, as the columns of "counts by category and status".
pub const STATUSES: [FollowUpStatus; 5] = [
    FollowUpStatus::Open,
    FollowUpStatus::Forwarded,
    FollowUpStatus::Answered,
    FollowUpStatus::Resolved,
    FollowUpStatus::Closed,
];

/// The agent states in the order of "time in each state" (logged-in states first).
pub const AGENT_STATES: [&str; 6] = [
    "available",
    "ringing",
    "on_call",
    "wrap_up",
    "paused",
    "logged_out",
];

/// The stretch of time a report covers: local days in the hotline's time zone.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Period {
    /// `2026-11` or `2026-11-25`.
    pub label: String,
    /// The time zone the days are counted in.
    #[serde(serialize_with = "tz_name")]
    pub tz: Tz,
    /// Each local day: its date and its start and end, ms.
    pub days: Vec<(NaiveDate, i64, i64)>,
}

fn tz_name<S: serde::Serializer>(tz: &Tz, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(tz.name())
}

impl Period {
    /// The month `YYYY-MM` in `tz`.
    pub fn month(tz: Tz, text: &str) -> Result<Period, String> {
        let first = NaiveDate::parse_from_str(&format!("{}-01", text.trim()), "%Y-%m-%d")
            .map_err(|_| format!("bad month {text:?}: need YYYY-MM"))?;
        let days = first
            .iter_days()
            .take_while(|d| d.month() == first.month())
            .collect::<Vec<_>>();
        Period::of_days(tz, first.format("%Y-%m").to_string(), &days)
    }

    /// The day `YYYY-MM-DD` in `tz`.
    pub fn day(tz: Tz, text: &str) -> Result<Period, String> {
        let day = crate::ivr::calendar::parse_date(text.trim())?;
        Period::of_days(tz, day.to_string(), &[day])
    }

    fn of_days(tz: Tz, label: String, days: &[NaiveDate]) -> Result<Period, String> {
        let start = |d: NaiveDate| {
            tz.from_local_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default())
                .earliest()
                .map(|t| t.timestamp_millis())
                .ok_or_else(|| format!("{d} has no midnight in {tz}"))
        };
        let mut out = Vec::with_capacity(days.len());
        for d in days {
            let next = d.succ_opt().ok_or("date out of range")?;
            out.push((*d, start(*d)?, start(next)?));
        }
        Ok(Period {
            label,
            tz,
            days: out,
        })
    }

    /// Start of the period, ms.
    pub fn from_ms(&self) -> i64 {
        self.days.first().map_or(0, |d| d.1)
    }

    /// End of the period (exclusive), ms.
    pub fn to_ms(&self) -> i64 {
        self.days.last().map_or(0, |d| d.2)
    }
}

/// A time a person typed, ms: RFC 3339 as it says, or a day `YYYY-MM-DD` in `tz` as its
/// start — or, for an `end`, the next day's start, so a range "to" a day includes it.
pub fn time_bound(text: &str, tz: Tz, end: bool) -> Result<i64, String> {
    let text = text.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(t.timestamp_millis());
    }
    match Period::day(tz, text) {
        Ok(day) if end => Ok(day.to_ms()),
        Ok(day) => Ok(day.from_ms()),
        Err(_) => Err(format!(
            "{text}: expected RFC 3339 (2026-11-30T10:00:00+08:00) or YYYY-MM-DD"
        )),
    }
}

/// How many of the steps that had to be done by a deadline were done by it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StepShare {
    /// The step.
    pub step: Step,
    /// Complaints whose deadline for this step has passed or which have done the step.
    pub counted: usize,
    /// Of those, done by the deadline.
    pub within: usize,
}

/// A complaint past a deadline.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OverdueItem {
    /// The follow-up.
    pub id: String,
    /// Its category.
    pub category: String,
    /// Its status.
    pub status: FollowUpStatus,
    /// The steps past due.
    pub steps: Vec<Step>,
    /// Its urgency (raised by escalation).
    pub urgency: i32,
    /// Whether it is flagged for the supervisor.
    pub escalated: bool,
    /// Who owns it.
    pub owner: Option<String>,
    /// ms.
    pub created_at: i64,
}

/// The complaint summary.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ComplaintSummary {
    /// Complaints received in the period.
    pub total: usize,
    /// Per category: counts by status, in the order of [`STATUSES`].
    pub by_category: Vec<(String, [usize; 5])>,
    /// Counts by status, all categories.
    pub by_status: [usize; 5],
    /// Share handled within each deadline.
    pub within: Vec<StepShare>,
    /// Complaints overdue now.
    pub overdue: Vec<OverdueItem>,
    /// Complaints resolved.
    pub resolved: usize,
    /// Mean time from received to resolved, hours.
    pub avg_resolve_hours: Option<f64>,
    /// Customers (account, else number) who complained more than once, with their count;
    /// masked when rendered.
    pub repeat: Vec<(String, usize)>,
    /// Complaints from numbers in `caller_flags`, for a supervisor's review.
    pub flagged: Vec<FlaggedItem>,
    /// What the revisits of the period found.
    pub revisits: RevisitFigures,
}

/// A complaint from a flagged number: listed for review, never left out of the figures.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FlaggedItem {
    /// The follow-up.
    pub id: String,
    /// The caller's number (masked when rendered).
    pub number: String,
    /// Its category.
    pub category: String,
    /// Its status.
    pub status: FollowUpStatus,
    /// ms.
    pub created_at: i64,
}

/// The revisits created in the period and what they found.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct RevisitFigures {
    /// Revisits created.
    pub created: usize,
    /// Of those, made (the customer was called: answered, or a verdict recorded).
    pub made: usize,
    /// Made and the customer satisfied.
    pub satisfied: usize,
    /// Made and the customer not satisfied.
    pub unsatisfied: usize,
    /// satisfied / (satisfied + unsatisfied).
    pub satisfaction_rate: Option<f64>,
    /// Complaints reopened by an unsatisfied revisit (each counted once).
    pub reopened: usize,
}

/// One group of survey answers.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ScoreGroup {
    /// Agent ID or queue; `(none)` when unknown.
    pub key: String,
    /// Answers.
    pub answers: usize,
    /// Mean score.
    pub average: f64,
}

/// A call whose caller gave a low score.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Dissatisfied {
    /// Our id of the call.
    pub call_id: String,
    /// ms.
    pub arrived_at: i64,
    /// The lowest score given.
    pub score: i32,
    /// Agent.
    pub agent: Option<String>,
    /// Queue.
    pub queue: Option<String>,
    /// A follow-up already made from the call, if any.
    pub followup: Option<String>,
}

/// The satisfaction report.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Satisfaction {
    /// Survey answers.
    pub answers: usize,
    /// Answers per score 1..5.
    pub distribution: [usize; 5],
    /// Mean of all answers.
    pub average: Option<f64>,
    /// Mean by agent.
    pub by_agent: Vec<ScoreGroup>,
    /// Mean by queue.
    pub by_queue: Vec<ScoreGroup>,
    /// Calls with at least one answer.
    pub surveyed_calls: usize,
    /// Calls answered by an agent (what the share is taken of).
    pub agent_calls: usize,
    /// Calls with a score of 2 or less, for follow-up.
    pub dissatisfied: Vec<Dissatisfied>,
}

/// The KPIs.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Kpis {
    /// Calls that arrived.
    pub offered: usize,
    /// Answered by the hotline (the IVR).
    pub answered_ivr: usize,
    /// Put in a queue for an agent.
    pub queued: usize,
    /// Answered by an agent.
    pub answered_agent: usize,
    /// answered_agent / queued.
    pub answer_rate: Option<f64>,
    /// Seconds of the service level.
    pub service_level_secs: u32,
    /// Answered by an agent within that many seconds of queueing.
    pub within_service_level: usize,
    /// within_service_level / queued.
    pub service_level: Option<f64>,
    /// Mean queue wait of agent-answered calls, seconds.
    pub avg_speed_of_answer: Option<f64>,
    /// Queued, never answered by an agent, hung up by the caller.
    pub abandoned: usize,
    /// abandoned / queued.
    pub abandon_rate: Option<f64>,
    /// Seconds below which an abandonment is short.
    pub short_abandon_secs: u32,
    /// Abandoned within that many seconds of queueing (counted apart).
    pub short_abandoned: usize,
    /// Mean from agent answer to the end of the call, seconds.
    pub avg_handle_time: Option<f64>,
    /// Callbacks whose due time has passed or which were made.
    pub callbacks_due: usize,
    /// Of those, made by their due time.
    pub callbacks_on_time: usize,
    /// Calls cut off by a restart of the server.
    pub cut_by_restart: usize,
}

/// Calls per local day, for the chart.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DayCount {
    /// The day.
    pub day: NaiveDate,
    /// Calls that arrived.
    pub offered: usize,
    /// Answered by an agent.
    pub answered_agent: usize,
}

/// One agent's work in the period.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AgentFigures {
    /// Agent ID.
    pub id: String,
    /// Name from the agents table, when the agent is (still) there.
    pub name: Option<String>,
    /// Legs answered in the period.
    pub answered: usize,
    /// Legs rung in the period and not answered: no answer or rejected.
    pub missed: usize,
    /// Mean talk time of answered legs, seconds.
    pub avg_talk_secs: Option<f64>,
    /// (talk time + time in wrap-up) / answered legs with a talk time, seconds.
    pub avg_handle_secs: Option<f64>,
    /// ms in each state within the period, in the order of [`AGENT_STATES`].
    pub state_ms: [i64; 6],
    /// ms in every state but `logged_out`.
    pub logged_in_ms: i64,
    /// (on_call + wrap_up) / logged-in time.
    pub occupancy: Option<f64>,
    /// Calls taken (arrived in the period) per outcome code; `(none)` when not keyed.
    pub outcomes: Vec<(String, usize)>,
}

/// A whole report.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Report {
    /// Monthly or daily.
    pub kind: Kind,
    /// The period covered.
    pub period: Period,
    /// When it was made (what "overdue" is measured against), ms.
    pub generated_at: i64,
    /// Complaint summary (monthly only).
    pub complaints: Option<ComplaintSummary>,
    /// Satisfaction report (monthly only).
    pub satisfaction: Option<Satisfaction>,
    /// KPIs.
    pub kpis: Kpis,
    /// Calls per day.
    pub per_day: Vec<DayCount>,
    /// Per agent, by agent ID.
    pub agents: Vec<AgentFigures>,
    /// Callbacks and revisits called, and every call the hotline placed.
    pub outbound: Outbound,
}

/// The rows a report is made of: calls that arrived in the period, their survey answers,
/// the follow-ups created in the period, the agents' state changes (with the last one before
/// the period), the legs to agents rung or answered in the period, the agents' names, and for
/// the outbound section the dial attempts that ended in the period, the follow-ups given up
/// in it and the calls placed in it.
#[derive(Debug, Clone, Default)]
pub struct Rows {
    /// Calls.
    pub calls: Vec<ReportCall>,
    /// Survey answers.
    pub surveys: Vec<ReportSurvey>,
    /// Follow-ups.
    pub followups: Vec<FollowUpRow>,
    /// Agent state changes.
    pub agent_states: Vec<ReportAgentState>,
    /// Legs to agents.
    pub legs: Vec<ReportLeg>,
    /// (agent ID, name).
    pub agent_names: Vec<(String, String)>,
    /// Dial attempts, with their follow-ups' promise.
    pub dial_attempts: Vec<ReportDialAttempt>,
    /// Follow-ups given up as unreachable.
    pub unreachable: Vec<ReportUnreachable>,
    /// Calls placed.
    pub outbound_calls: Vec<ReportOutboundCall>,
}

/// What kind of report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Complaints, satisfaction, KPIs, agents and outbound calls.
    Monthly,
    /// KPIs, agents and outbound calls.
    Daily,
}

/// Computes the report of `period` from `rows`, as of `now_ms`.
pub fn compute(
    kind: Kind,
    period: Period,
    rows: &Rows,
    settings: &ReportSettings,
    now_ms: i64,
) -> Report {
    let per_day = period
        .days
        .iter()
        .map(|(day, from, to)| {
            let of_day = rows
                .calls
                .iter()
                .filter(|c| c.arrived_at >= *from && c.arrived_at < *to);
            DayCount {
                day: *day,
                offered: of_day.clone().count(),
                answered_agent: of_day.filter(|c| c.connected_at.is_some()).count(),
            }
        })
        .collect();
    let (complaints, satisfaction) = match kind {
        Kind::Monthly => (
            Some(complaint_summary(&rows.followups, now_ms)),
            Some(satisfaction(rows)),
        ),
        Kind::Daily => (None, None),
    };
    Report {
        kind,
        generated_at: now_ms,
        complaints,
        satisfaction,
        kpis: kpis(rows, settings, now_ms),
        agents: agents(rows, period.from_ms(), period.to_ms(), now_ms),
        outbound: outbound::outbound(rows, period.from_ms(), period.to_ms()),
        per_day,
        period,
    }
}

fn ratio(n: usize, d: usize) -> Option<f64> {
    (d > 0).then(|| n as f64 / d as f64)
}

fn mean(values: &[i64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<i64>() as f64 / values.len() as f64)
}

fn status_index(s: FollowUpStatus) -> usize {
    STATUSES.iter().position(|x| *x == s).unwrap_or(0)
}

fn complaint_summary(followups: &[FollowUpRow], now_ms: i64) -> ComplaintSummary {
    let complaints: Vec<&FollowUpRow> = followups
        .iter()
        .filter(|f| f.kind == FollowUpKind::Complaint)
        .collect();
    let mut by_category: BTreeMap<String, [usize; 5]> = BTreeMap::new();
    let mut by_status = [0usize; 5];
    for f in &complaints {
        let i = status_index(f.status);
        by_category.entry(f.category.clone()).or_default()[i] += 1;
        by_status[i] += 1;
    }
    // A step counts once its deadline has passed or it was done; it is within if done by
    // the deadline.
    let within = Step::ALL
        .into_iter()
        .map(|step| {
            let mut share = StepShare {
                step,
                counted: 0,
                within: 0,
            };
            for f in &complaints {
                let Some(due) = step.due(f) else { continue };
                let reached = step.reached(f);
                if reached.is_some() || due < now_ms {
                    share.counted += 1;
                    if reached.is_some_and(|r| r <= due) {
                        share.within += 1;
                    }
                }
            }
            share
        })
        .collect();
    let overdue_list = complaints
        .iter()
        .filter_map(|f| {
            let steps = overdue(f, now_ms);
            (!steps.is_empty()).then(|| OverdueItem {
                id: f.id.clone(),
                category: f.category.clone(),
                status: f.status,
                steps,
                urgency: f.urgency,
                escalated: f.escalated_at.is_some(),
                owner: f.owner.clone(),
                created_at: f.created_at,
            })
        })
        .collect();
    let resolve_ms: Vec<i64> = complaints
        .iter()
        .filter_map(|f| f.resolved_at.map(|r| r - f.created_at))
        .collect();
    let mut counts: HashMap<String, usize> = HashMap::new();
    for f in &complaints {
        let who = f.customer.clone().unwrap_or_else(|| f.number.clone());
        *counts.entry(who).or_default() += 1;
    }
    let mut repeat: Vec<(String, usize)> = counts.into_iter().filter(|(_, n)| *n > 1).collect();
    repeat.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    ComplaintSummary {
        total: complaints.len(),
        by_category: by_category.into_iter().collect(),
        by_status,
        within,
        overdue: overdue_list,
        resolved: resolve_ms.len(),
        avg_resolve_hours: mean(&resolve_ms).map(|ms| ms / 3_600_000.0),
        repeat,
        flagged: complaints
            .iter()
            .filter(|f| f.flagged)
            .map(|f| FlaggedItem {
                id: f.id.clone(),
                number: f.number.clone(),
                category: f.category.clone(),
                status: f.status,
                created_at: f.created_at,
            })
            .collect(),
        revisits: revisit_figures(followups),
    }
}

/// Revisits created among `followups`: made, what they found, complaints reopened.
fn revisit_figures(followups: &[FollowUpRow]) -> RevisitFigures {
    let revisits: Vec<&FollowUpRow> = followups
        .iter()
        .filter(|f| f.kind == FollowUpKind::Revisit)
        .collect();
    let found = |r: RevisitResult| {
        revisits
            .iter()
            .filter(|f| f.revisit_result == Some(r))
            .count()
    };
    let (satisfied, unsatisfied) = (
        found(RevisitResult::Satisfied),
        found(RevisitResult::Unsatisfied),
    );
    let reopened: std::collections::BTreeSet<&str> = revisits
        .iter()
        .filter(|f| f.revisit_result == Some(RevisitResult::Unsatisfied))
        .filter_map(|f| f.parent_id.as_deref())
        .collect();
    RevisitFigures {
        created: revisits.len(),
        made: revisits
            .iter()
            .filter(|f| f.answered_at.is_some() || f.revisit_result.is_some())
            .count(),
        satisfied,
        unsatisfied,
        satisfaction_rate: ratio(satisfied, satisfied + unsatisfied),
        reopened: reopened.len(),
    }
}

fn score_groups(
    surveys: &[ReportSurvey],
    key: impl Fn(&ReportSurvey) -> Option<&str>,
) -> Vec<ScoreGroup> {
    let mut groups: BTreeMap<String, (usize, i64)> = BTreeMap::new();
    for s in surveys {
        let g = groups
            .entry(key(s).unwrap_or("(none)").to_string())
            .or_default();
        g.0 += 1;
        g.1 += i64::from(s.score);
    }
    groups
        .into_iter()
        .map(|(key, (n, sum))| ScoreGroup {
            key,
            answers: n,
            average: sum as f64 / n as f64,
        })
        .collect()
}

fn satisfaction(rows: &Rows) -> Satisfaction {
    let s = &rows.surveys;
    let mut distribution = [0usize; 5];
    for a in s {
        if let Some(slot) = usize::try_from(a.score - 1)
            .ok()
            .and_then(|i| distribution.get_mut(i))
        {
            *slot += 1;
        }
    }
    let scores: Vec<i64> = s.iter().map(|a| i64::from(a.score)).collect();
    let mut lowest: BTreeMap<&str, &ReportSurvey> = BTreeMap::new();
    for a in s {
        let e = lowest.entry(a.call_id.as_str()).or_insert(a);
        if a.score < e.score {
            *e = a;
        }
    }
    let mut dissatisfied: Vec<Dissatisfied> = lowest
        .values()
        .filter(|a| a.score <= 2)
        .map(|a| Dissatisfied {
            call_id: a.call_id.clone(),
            arrived_at: a.arrived_at,
            score: a.score,
            agent: a.agent.clone(),
            queue: a.queue.clone(),
            followup: rows
                .followups
                .iter()
                .find(|f| f.call_id.as_deref() == Some(a.call_id.as_str()))
                .map(|f| f.id.clone()),
        })
        .collect();
    dissatisfied.sort_by(|a, b| {
        a.arrived_at
            .cmp(&b.arrived_at)
            .then(a.call_id.cmp(&b.call_id))
    });
    Satisfaction {
        answers: s.len(),
        distribution,
        average: mean(&scores),
        by_agent: score_groups(s, |a| a.agent.as_deref()),
        by_queue: score_groups(s, |a| a.queue.as_deref()),
        surveyed_calls: lowest.len(),
        agent_calls: rows
            .calls
            .iter()
            .filter(|c| c.connected_at.is_some())
            .count(),
        dissatisfied,
    }
}

/// Each queue's KPIs over `calls` (those that were queued), by the reports' rules: what
/// the wallboard shows for today.
pub fn kpis_by_queue(
    calls: &[ReportCall],
    settings: &ReportSettings,
    now_ms: i64,
) -> BTreeMap<String, Kpis> {
    let mut by_queue: BTreeMap<String, Rows> = BTreeMap::new();
    for c in calls {
        if let Some(q) = &c.queue {
            by_queue.entry(q.clone()).or_default().calls.push(c.clone());
        }
    }
    by_queue
        .into_iter()
        .map(|(q, rows)| (q, kpis(&rows, settings, now_ms)))
        .collect()
}

fn kpis(rows: &Rows, settings: &ReportSettings, now_ms: i64) -> Kpis {
    let calls = &rows.calls;
    let sl_ms = i64::from(settings.service_level_secs) * 1000;
    let short_ms = i64::from(settings.short_abandon_secs) * 1000;
    let queued: Vec<&ReportCall> = calls.iter().filter(|c| c.queued_at.is_some()).collect();
    let mut waits = Vec::new();
    let mut handles = Vec::new();
    let (mut within_sl, mut abandoned, mut short) = (0, 0, 0);
    for c in &queued {
        let q = c.queued_at.unwrap_or_default();
        match c.connected_at {
            Some(at) => {
                waits.push(at - q);
                if at - q <= sl_ms {
                    within_sl += 1;
                }
                if let Some(end) = c.ended_at {
                    handles.push(end - at);
                }
            }
            None if c.ended_by.as_deref() == Some("caller") => {
                abandoned += 1;
                if c.ended_at.is_some_and(|end| end - q <= short_ms) {
                    short += 1;
                }
            }
            None => {}
        }
    }
    let answered_agent = waits.len();
    let callbacks: Vec<&FollowUpRow> = rows
        .followups
        .iter()
        .filter(|f| f.kind == FollowUpKind::Callback)
        .collect();
    let (mut cb_due, mut cb_on_time) = (0, 0);
    for f in callbacks {
        let Some(due) = f.due_answer else { continue };
        if f.answered_at.is_some() || due < now_ms {
            cb_due += 1;
            if f.answered_at.is_some_and(|a| a <= due) {
                cb_on_time += 1;
            }
        }
    }
    let ms_to_s = |v: f64| v / 1000.0;
    Kpis {
        offered: calls.len(),
        answered_ivr: calls.iter().filter(|c| c.answered_at.is_some()).count(),
        queued: queued.len(),
        answered_agent,
        answer_rate: ratio(answered_agent, queued.len()),
        service_level_secs: settings.service_level_secs,
        within_service_level: within_sl,
        service_level: ratio(within_sl, queued.len()),
        avg_speed_of_answer: mean(&waits).map(ms_to_s),
        abandoned,
        abandon_rate: ratio(abandoned, queued.len()),
        short_abandon_secs: settings.short_abandon_secs,
        short_abandoned: short,
        avg_handle_time: mean(&handles).map(ms_to_s),
        callbacks_due: cb_due,
        callbacks_on_time: cb_on_time,
        cut_by_restart: calls
            .iter()
            .filter(|c| c.end_cause.as_deref() == Some("server_restart"))
            .count(),
    }
}

// Indexes into AGENT_STATES; logged_out is last, so `[..LOGGED_OUT]` is the logged-in time.
const ON_CALL: usize = 2;
const WRAP_UP: usize = 3;
const LOGGED_OUT: usize = 5;

fn state_index(state: &str) -> Option<usize> {
    AGENT_STATES.iter().position(|s| *s == state)
}

/// ms in each state within `[from, end)`: each change lasts until the next one, the last
/// until `end`.
fn time_in_states(changes: &[&ReportAgentState], from: i64, end: i64) -> [i64; 6] {
    let mut out = [0i64; 6];
    for (i, c) in changes.iter().enumerate() {
        let until = changes.get(i + 1).map_or(end, |n| n.at);
        let span = until.min(end) - c.at.max(from);
        if let (Some(k), true) = (state_index(&c.state), span > 0) {
            out[k] += span;
        }
    }
    out
}

fn agents(rows: &Rows, from: i64, to: i64, now_ms: i64) -> Vec<AgentFigures> {
    // An interval still open at the end of the data runs to the period's end, or to now.
    let end = to.min(now_ms);
    let mut changes: BTreeMap<&str, Vec<&ReportAgentState>> = BTreeMap::new();
    for c in &rows.agent_states {
        changes.entry(c.agent_id.as_str()).or_default().push(c);
    }
    let mut ids: BTreeMap<&str, [i64; 6]> = BTreeMap::new();
    for (id, list) in &mut changes {
        list.sort_by_key(|c| (c.at, c.seq));
        let times = time_in_states(list, from, end);
        let logged_in = times[..LOGGED_OUT].iter().sum::<i64>();
        // An agent logged out all through the period is left out.
        if logged_in > 0 || list.iter().any(|c| c.at >= from && c.at < to) {
            ids.insert(id, times);
        }
    }
    for l in &rows.legs {
        ids.entry(l.agent_id.as_str()).or_default();
    }
    for c in &rows.calls {
        if let Some(a) = &c.agent {
            ids.entry(a.as_str()).or_default();
        }
    }
    let names: HashMap<&str, &str> = rows
        .agent_names
        .iter()
        .map(|(id, name)| (id.as_str(), name.as_str()))
        .collect();
    let in_period = |t: i64| t >= from && t < to;
    ids.into_iter()
        .map(|(id, state_ms)| {
            let legs = rows.legs.iter().filter(|l| l.agent_id == id);
            let answered: Vec<&ReportLeg> = legs
                .clone()
                .filter(|l| l.answered_at.is_some_and(in_period))
                .collect();
            let missed = legs
                .filter(|l| {
                    l.answered_at.is_none()
                        && in_period(l.started_at)
                        && matches!(l.end_cause.as_deref(), Some("no_answer" | "rejected"))
                })
                .count();
            // Talk: from the agent's answer to the end of the leg, else of the call; a leg
            // still live has none yet.
            let talks: Vec<i64> = answered
                .iter()
                .filter_map(|l| {
                    let start = l.answered_at?;
                    let stop = l.ended_at.or(l.call_ended_at)?;
                    Some((stop - start).max(0))
                })
                .collect();
            let wrap_up = state_ms[WRAP_UP];
            let logged_in_ms = state_ms[..LOGGED_OUT].iter().sum::<i64>();
            let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
            for c in rows.calls.iter().filter(|c| c.agent.as_deref() == Some(id)) {
                let code = c.disposition.clone().unwrap_or_else(|| "(none)".into());
                *outcomes.entry(code).or_default() += 1;
            }
            AgentFigures {
                id: id.to_string(),
                name: names.get(id).map(|n| n.to_string()),
                answered: answered.len(),
                missed,
                avg_talk_secs: mean(&talks).map(|ms| ms / 1000.0),
                avg_handle_secs: (!talks.is_empty()).then(|| {
                    (talks.iter().sum::<i64>() + wrap_up) as f64 / talks.len() as f64 / 1000.0
                }),
                state_ms,
                logged_in_ms,
                occupancy: (logged_in_ms > 0)
                    .then(|| (state_ms[ON_CALL] + state_ms[WRAP_UP]) as f64 / logged_in_ms as f64),
                outcomes: outcomes.into_iter().collect(),
            }
        })
        .collect()
}
