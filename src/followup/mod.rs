//! Follow-up rules, without I/O: when each step of a follow-up is due (on the business
//! calendar), which steps are overdue, how far an overdue complaint is escalated, and which
//! status moves are allowed.
//!
//! Every function takes `now` (or the creation time) as an argument; nothing here reads a
//! clock, and only [`escalate_overdue`] touches the database: it applies the escalation
//! rule to the store's rows. The dependency goes one way: this module uses
//! [`crate::store`] for the rows; the store knows nothing of the rules.
//!
//! The steps of a follow-up and the status that completes each:
//! - forward (`due_forward`): `forwarded` or any later status;
//! - first answer (`due_answer`): `answered` or later (for a callback or a revisit: the call
//!   was made);
//! - resolve (`due_resolve`): `resolved` or later.

mod escalate;
mod settings;

/// The row update a status move makes; the rules below say which are allowed
/// ([`check_change`]).
pub use crate::store::FollowUpChange as Change;
pub use escalate::escalate_overdue;
pub use settings::{CategoryRule, ReportSettings, Rules, SettingsError, Span};

use chrono::{DateTime, TimeZone};
use chrono_tz::Tz;

use crate::ivr::calendar::Calendar;
use crate::store::{FollowUpKind, FollowUpRow, FollowUpStatus};

/// The due times of a new follow-up, ms since the Unix epoch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Due {
    /// Forward to the department responsible by.
    pub forward: Option<i64>,
    /// The customer hears back by (a callback or revisit: is called by).
    pub answer: Option<i64>,
    /// Resolved by.
    pub resolve: Option<i64>,
}

/// One step of working a follow-up, each with its own due time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Step {
    /// Handed to the department responsible.
    Forward,
    /// The customer heard back.
    Answer,
    /// Resolved.
    Resolve,
}

impl Step {
    /// All steps, in order.
    pub const ALL: [Step; 3] = [Step::Forward, Step::Answer, Step::Resolve];

    /// Short name, as shown in lists and reports.
    pub fn name(self) -> &'static str {
        match self {
            Step::Forward => "forward",
            Step::Answer => "answer",
            Step::Resolve => "resolve",
        }
    }

    /// The status that completes this step (or any later one).
    pub fn done_at(self) -> FollowUpStatus {
        match self {
            Step::Forward => FollowUpStatus::Forwarded,
            Step::Answer => FollowUpStatus::Answered,
            Step::Resolve => FollowUpStatus::Resolved,
        }
    }

    /// The step's due time on `f`.
    pub fn due(self, f: &FollowUpRow) -> Option<i64> {
        match self {
            Step::Forward => f.due_forward,
            Step::Answer => f.due_answer,
            Step::Resolve => f.due_resolve,
        }
    }

    /// When `f` completed this step, if it has.
    pub fn reached(self, f: &FollowUpRow) -> Option<i64> {
        match self {
            Step::Forward => f.forwarded_at,
            Step::Answer => f.answered_at,
            Step::Resolve => f.resolved_at,
        }
    }
}

/// Order of the statuses: a step is done once the status is at least the step's.
pub fn rank(s: FollowUpStatus) -> u8 {
    match s {
        FollowUpStatus::Open => 0,
        FollowUpStatus::Forwarded => 1,
        FollowUpStatus::Answered => 2,
        FollowUpStatus::Resolved => 3,
        FollowUpStatus::Closed => 4,
    }
}

/// Computes the due times of a follow-up of `kind` and `category` created at `created_ms`,
/// on `calendar`. A callback with a promised window is due by the window's end; otherwise
/// the rules say. `None` for a step the rules do not set or the calendar cannot reach.
pub fn due_times(
    rules: &Rules,
    calendar: &Calendar,
    kind: FollowUpKind,
    category: &str,
    created_ms: i64,
    promised_to: Option<i64>,
) -> Due {
    let Some(created) = at(calendar.time_zone(), created_ms) else {
        return Due::default();
    };
    let rule = rules.rule(kind, category);
    let due = |span: Option<Span>| {
        span.and_then(|s| s.after(created, calendar))
            .map(|t| t.timestamp_millis())
    };
    match kind {
        FollowUpKind::Complaint => Due {
            forward: due(rule.forward),
            answer: due(rule.answer),
            resolve: due(rule.resolve),
        },
        FollowUpKind::Callback => Due {
            forward: None,
            answer: promised_to.or_else(|| due(rule.answer)),
            resolve: None,
        },
        FollowUpKind::Revisit => Due {
            forward: None,
            answer: due(rule.answer),
            resolve: None,
        },
    }
}

/// `ms` since the Unix epoch as a time in `tz`.
pub fn at(tz: Tz, ms: i64) -> Option<DateTime<Tz>> {
    tz.timestamp_millis_opt(ms).single()
}

/// The steps of `f` past their due time at `now_ms` and not done.
pub fn overdue(f: &FollowUpRow, now_ms: i64) -> Vec<Step> {
    Step::ALL
        .into_iter()
        .filter(|s| s.due(f).is_some_and(|d| d < now_ms) && rank(f.status) < rank(s.done_at()))
        .collect()
}

/// A rise in escalation: the new level (deadlines missed) and how much urgency rises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Escalation {
    /// Deadlines missed so far (never lowered).
    pub level: i32,
    /// Added to the urgency.
    pub urgency_rise: i32,
}

/// Whether complaint `f` must be escalated at `now_ms`: each deadline it misses raises its
/// level once, and its urgency by `rules.escalate_by`. Only complaints escalate.
pub fn escalation(f: &FollowUpRow, now_ms: i64, rules: &Rules) -> Option<Escalation> {
    if f.kind != FollowUpKind::Complaint {
        return None;
    }
    let missed = overdue(f, now_ms).len() as i32;
    (missed > f.escalation).then(|| Escalation {
        level: missed,
        urgency_rise: (missed - f.escalation) * rules.escalate_by,
    })
}

/// A status move that is not allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot {verb} a follow-up that is {from}")]
pub struct NotAllowed {
    /// What was tried.
    pub verb: &'static str,
    /// The status it is in.
    pub from: &'static str,
}

/// Whether `change` may be made to a follow-up in status `from`: steps only go forward (a
/// forwarded complaint may be forwarded again, to another department), and nothing follows
/// `closed`.
pub fn check_change(from: FollowUpStatus, change: &Change) -> Result<(), NotAllowed> {
    let ok = match change {
        Change::Forward { .. } => rank(from) <= rank(FollowUpStatus::Forwarded),
        Change::Answer | Change::Resolve { .. } => rank(from) < rank(change.target()),
        Change::Close => from != FollowUpStatus::Closed,
    };
    if ok {
        Ok(())
    } else {
        Err(NotAllowed {
            verb: change.verb(),
            from: from.as_str(),
        })
    }
}
