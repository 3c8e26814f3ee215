//! The callback dialer's schedule, without I/O: which follow-ups to call now, in which
//! order, and what an attempt's result means for the next one. The switchboard will
//! place the calls (agent first, then the customer through a trunk); this decides only
//! *whom* and *when*, from the follow-ups, the calendar and the agents free, so the
//! whole schedule runs on a fake clock.
//!
//! The rules:
//! - callbacks and revisits that nobody has reached yet (status `open` or `forwarded`)
//!   are called once their promised window has started;
//! - only within the calendar's opening hours (no calls at night, on weekends or on
//!   holidays), except urgent ones (urgency 9 and up), which are called at any hour;
//! - most urgent first, then the earliest promise, then the oldest;
//! - at most one call per free agent;
//! - a failed attempt (no answer, busy, the trunk failed) waits `retry_after` before the
//!   next; after `max_attempts` the follow-up is unreachable, for a supervisor; an agent
//!   who skips the preview does not use up an attempt.

use std::time::Duration;

use chrono::DateTime;
use chrono_tz::Tz;

use crate::ivr::Calendar;
use crate::store::{DialTask, FollowUpKind, FollowUpStatus};

/// Urgency from which a callback is made at any hour.
pub const URGENT: i32 = 9;

/// How the dialer retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    pub retry_after: Duration,
    pub max_attempts: u32,
}

impl Default for Rules {
    /// Three attempts, 30 minutes apart.
    fn default() -> Self {
        Rules {
            retry_after: Duration::from_secs(30 * 60),
            max_attempts: 3,
        }
    }
}

/// A follow-up as the dialer sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub id: String,
    pub kind: FollowUpKind,
    pub status: FollowUpStatus,
    pub urgency: i32,
    /// ms since the Unix epoch.
    pub created_at: i64,
    pub promised_from: Option<i64>,
    pub promised_to: Option<i64>,
    /// Attempts made so far, and when the last one ended (ms).
    pub attempts: u32,
    pub last_attempt_at: Option<i64>,
}

impl From<&DialTask> for Candidate {
    fn from(t: &DialTask) -> Candidate {
        Candidate {
            id: t.id.clone(),
            kind: t.kind,
            status: t.status,
            urgency: t.urgency,
            created_at: t.created_at,
            promised_from: t.promised_from,
            promised_to: t.promised_to,
            attempts: t.attempts,
            last_attempt_at: t.last_attempt_at,
        }
    }
}

/// What became of one attempt (stored with it).
pub use crate::store::DialResult as Attempt;

/// What to do after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Done: the customer was reached.
    Reached,
    /// Call again no earlier than this (ms).
    RetryAt(i64),
    /// No attempts left: mark it unreachable for a supervisor.
    Unreachable,
}

/// Whether `c` may be called at `now_ms`.
pub fn callable(c: &Candidate, now_ms: i64, calendar: &Calendar, rules: &Rules) -> bool {
    let kind = matches!(c.kind, FollowUpKind::Callback | FollowUpKind::Revisit);
    let waiting = matches!(c.status, FollowUpStatus::Open | FollowUpStatus::Forwarded);
    let started = c.promised_from.is_none_or(|from| from <= now_ms);
    let rested = c
        .last_attempt_at
        .is_none_or(|at| at + rules.retry_after.as_millis() as i64 <= now_ms);
    let hours = c.urgency >= URGENT || at(calendar, now_ms).is_some_and(|t| calendar.is_open(t));
    kind && waiting && started && rested && hours && c.attempts < rules.max_attempts
}

/// The follow-ups to call now, at most one per free agent, most urgent first, then the
/// earliest promise, then the oldest.
pub fn due<'a>(
    candidates: &'a [Candidate],
    now_ms: i64,
    calendar: &Calendar,
    rules: &Rules,
    free_agents: usize,
) -> Vec<&'a Candidate> {
    let mut due: Vec<&Candidate> = candidates
        .iter()
        .filter(|c| callable(c, now_ms, calendar, rules))
        .collect();
    due.sort_by_key(|c| {
        (
            std::cmp::Reverse(c.urgency),
            c.promised_to.unwrap_or(i64::MAX),
            c.created_at,
        )
    });
    due.truncate(free_agents);
    due
}

/// What an attempt that ended at `now_ms` leaves to do; `attempts` counts the attempts
/// before this one.
pub fn after(attempt: Attempt, attempts: u32, now_ms: i64, rules: &Rules) -> Next {
    let retry = now_ms + rules.retry_after.as_millis() as i64;
    match attempt {
        Attempt::Answered => Next::Reached,
        Attempt::Skipped => Next::RetryAt(retry),
        Attempt::NoAnswer | Attempt::Busy | Attempt::Failed
            if attempts + 1 >= rules.max_attempts =>
        {
            Next::Unreachable
        }
        Attempt::NoAnswer | Attempt::Busy | Attempt::Failed => Next::RetryAt(retry),
    }
}

fn at(calendar: &Calendar, ms: i64) -> Option<DateTime<Tz>> {
    crate::followup::at(calendar.time_zone(), ms)
}
