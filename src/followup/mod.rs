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
//! - customer contacted (`due_contact`, complaints): `contacted_at` set (the customer was told
//!   the complaint is being handled), or a first answer;
//! - first answer (`due_answer`): `answered` or later (for a callback or a revisit: the call
//!   was made);
//! - resolve (`due_resolve`): `resolved` or later.
//!
//! A step is also done once its time is recorded, so a complaint reopened after an
//! unsatisfied revisit owes only the resolution again.

pub mod desk;
mod escalate;
mod settings;

/// The row update a status move makes; the rules below say which are allowed
/// ([`check_change`]).
pub use crate::store::FollowUpChange as Change;
pub use crate::store::RevisitResult;
pub use escalate::escalate_overdue;
pub use settings::{CategoryRule, ReportSettings, Rules, SettingsError, Span};

use chrono::{DateTime, TimeZone};
use chrono_tz::Tz;

use crate::ivr::calendar::Calendar;
use crate::store::{FollowUpKind, FollowUpRow, FollowUpStatus, NewFollowUp};

/// The due times of a new follow-up, ms since the Unix epoch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Due {
    /// Forward to the department responsible by.
    pub forward: Option<i64>,
    /// Tell the customer the complaint was received and is being handled by.
    pub contact: Option<i64>,
    /// The customer hears back by (a callback or revisit: is called by).
    pub answer: Option<i64>,
    /// Resolved by.
    pub resolve: Option<i64>,
}

impl Due {
    /// Sets these as the due times of `f`.
    pub fn apply(self, f: &mut NewFollowUp) {
        f.due_forward = self.forward;
        f.due_contact = self.contact;
        f.due_answer = self.answer;
        f.due_resolve = self.resolve;
    }
}

/// One step of working a follow-up, each with its own due time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Step {
    /// Handed to the department responsible.
    Forward,
    /// The customer was told the complaint is being handled.
    Contact,
    /// The customer heard back.
    Answer,
    /// Resolved.
    Resolve,
}

impl Step {
    /// All steps, in order.
    pub const ALL: [Step; 4] = [Step::Forward, Step::Contact, Step::Answer, Step::Resolve];

    /// Short name, as shown in lists and reports.
    pub fn name(self) -> &'static str {
        match self {
            Step::Forward => "forward",
            Step::Contact => "contact",
            Step::Answer => "answer",
            Step::Resolve => "resolve",
        }
    }

    /// The status that completes this step (or any later one).
    pub fn done_at(self) -> FollowUpStatus {
        match self {
            Step::Forward => FollowUpStatus::Forwarded,
            Step::Contact | Step::Answer => FollowUpStatus::Answered,
            Step::Resolve => FollowUpStatus::Resolved,
        }
    }

    /// Whether `f` has done this step: its time is recorded, or its status is the step's
    /// or later.
    pub fn done(self, f: &FollowUpRow) -> bool {
        self.reached(f).is_some() || rank(f.status) >= rank(self.done_at())
    }

    /// The step's due time on `f`.
    pub fn due(self, f: &FollowUpRow) -> Option<i64> {
        match self {
            Step::Forward => f.due_forward,
            Step::Contact => f.due_contact,
            Step::Answer => f.due_answer,
            Step::Resolve => f.due_resolve,
        }
    }

    /// When `f` completed this step, if it has.
    pub fn reached(self, f: &FollowUpRow) -> Option<i64> {
        match self {
            Step::Forward => f.forwarded_at,
            Step::Contact => f.contacted_at,
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
            contact: due(rule.contact),
            answer: due(rule.answer),
            resolve: due(rule.resolve),
        },
        FollowUpKind::Callback => Due {
            answer: promised_to.or_else(|| due(rule.answer)),
            ..Due::default()
        },
        FollowUpKind::Revisit => Due {
            answer: due(rule.answer),
            ..Due::default()
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
        .filter(|s| s.due(f).is_some_and(|d| d < now_ms) && !s.done(f))
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

/// A move the rules refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotAllowed {
    /// Not from the status it is in.
    #[error("cannot {verb} a follow-up that is {from}")]
    Status {
        /// What was tried.
        verb: &'static str,
        /// The status it is in.
        from: &'static str,
    },
    /// Not for this kind of follow-up.
    #[error("cannot {verb} a {kind}: only complaints have that step")]
    Kind {
        /// What was tried.
        verb: &'static str,
        /// Its kind.
        kind: &'static str,
    },
    /// The contact step is done already.
    #[error("the customer was already contacted")]
    AlreadyContacted,
    /// A resolution needs its outcome.
    #[error("resolving needs a resolution outcome")]
    NoOutcome,
    /// A complaint closes once resolved and its revisit has found the customer satisfied.
    #[error(
        "cannot close a complaint that is {status} without its revisit's result: record it \
         (`followups revisit`), or force the close with a reason"
    )]
    NoRevisitResult {
        /// The complaint's status.
        status: &'static str,
    },
    /// A forced close needs a reason for the note history.
    #[error("a forced close needs a reason")]
    NoReason,
}

/// Whether `change` may be made to `f`: steps only go forward (a forwarded complaint may be
/// forwarded again, to another department), nothing follows `closed`, the contact step is a
/// complaint's and is recorded once, a resolution names its outcome, and a complaint is
/// closed only once its revisit has a result, unless forced with a reason.
pub fn check_change(f: &FollowUpRow, change: &Change) -> Result<(), NotAllowed> {
    let from = f.status;
    let status = || NotAllowed::Status {
        verb: change.verb(),
        from: from.as_str(),
    };
    match change {
        Change::Forward { .. } if rank(from) > rank(FollowUpStatus::Forwarded) => Err(status()),
        Change::Contact if f.kind != FollowUpKind::Complaint => Err(NotAllowed::Kind {
            verb: "record the contact step of",
            kind: f.kind.as_str(),
        }),
        Change::Contact if rank(from) >= rank(FollowUpStatus::Answered) => Err(status()),
        Change::Contact if f.contacted_at.is_some() => Err(NotAllowed::AlreadyContacted),
        Change::Answer if rank(from) >= rank(FollowUpStatus::Answered) => Err(status()),
        Change::Resolve { .. } if rank(from) >= rank(FollowUpStatus::Resolved) => Err(status()),
        Change::Resolve { outcome } if outcome.trim().is_empty() => Err(NotAllowed::NoOutcome),
        Change::Close { .. } if from == FollowUpStatus::Closed => Err(status()),
        Change::Close { forced: Some(r) } if r.trim().is_empty() => Err(NotAllowed::NoReason),
        Change::Close { forced: None }
            if f.kind == FollowUpKind::Complaint
                && (from != FollowUpStatus::Resolved || f.revisit_result.is_none()) =>
        {
            Err(NotAllowed::NoRevisitResult {
                status: from.as_str(),
            })
        }
        _ => Ok(()),
    }
}

/// Why a revisit's verdict cannot be recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerdictRefused {
    /// The follow-up given is not a revisit.
    #[error("{id} is a {kind}, not a revisit{hint}")]
    NotARevisit {
        /// The follow-up given.
        id: String,
        /// Its kind.
        kind: &'static str,
        /// Where to find the revisit, when it is a complaint that has one.
        hint: String,
    },
    /// The revisit has no complaint.
    #[error("revisit {0} has no complaint")]
    NoComplaint(String),
    /// A verdict was recorded already.
    #[error("revisit {id} already found the customer {result}")]
    Already {
        /// The revisit.
        id: String,
        /// Its verdict.
        result: &'static str,
    },
    /// The revisit is resolved or closed.
    #[error("revisit {id} is {status}")]
    RevisitDone {
        /// The revisit.
        id: String,
        /// Its status.
        status: &'static str,
    },
    /// Only a resolved complaint is revisited.
    #[error("complaint {id} is {status}; only a resolved complaint is revisited")]
    NotResolved {
        /// The complaint.
        id: String,
        /// Its status.
        status: &'static str,
    },
}

/// Checks that `result` may be recorded on `revisit` of `complaint`, and says what it does to
/// the complaint: `None` when it stays resolved, else the status it reopens to (`forwarded`
/// when it had a department, else `open`) and the urgency added (`rules.escalate_by`).
pub fn revisit_verdict(
    revisit: &FollowUpRow,
    complaint: &FollowUpRow,
    result: RevisitResult,
    rules: &Rules,
) -> Result<Option<(FollowUpStatus, i32)>, VerdictRefused> {
    if let Some(r) = revisit.revisit_result {
        return Err(VerdictRefused::Already {
            id: revisit.id.clone(),
            result: r.as_str(),
        });
    }
    if rank(revisit.status) >= rank(FollowUpStatus::Resolved) {
        return Err(VerdictRefused::RevisitDone {
            id: revisit.id.clone(),
            status: revisit.status.as_str(),
        });
    }
    if complaint.status != FollowUpStatus::Resolved {
        return Err(VerdictRefused::NotResolved {
            id: complaint.id.clone(),
            status: complaint.status.as_str(),
        });
    }
    Ok((result == RevisitResult::Unsatisfied).then(|| {
        let to = match complaint.department {
            Some(_) => FollowUpStatus::Forwarded,
            None => FollowUpStatus::Open,
        };
        (to, rules.escalate_by)
    }))
}

impl serde::Serialize for Step {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}
