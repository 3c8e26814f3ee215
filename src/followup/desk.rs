//! The work list as people act on it — list, look, note, move, record a revisit's
//! verdict, ask for a call — one implementation for the command line and the HTTP desk,
//! so both apply the same rules and deadlines.

use std::collections::HashMap;

use chrono_tz::Tz;
use serde::Serialize;

use super::{
    check_change, due_times, overdue, revisit_verdict, Change, NotAllowed, RevisitResult, Rules,
    Step, VerdictRefused,
};
use crate::ivr::Calendar;
use crate::store::{
    DialAttemptRow, DialRequest, DialState, FollowUpKind, FollowUpMove, FollowUpRow,
    FollowUpStatus, NewFollowUp, NoteRow, RevisitVerdict, Store, StoreError,
};

/// Why an action on the work list was refused.
#[derive(Debug, thiserror::Error)]
pub enum DeskError {
    #[error("no follow-up {0}")]
    NotFound(String),
    /// The request names something wrong (an agent, a kind of follow-up).
    #[error("{0}")]
    Refused(String),
    #[error("{0} changed meanwhile; look at it again")]
    Changed(String),
    #[error(transparent)]
    NotAllowed(#[from] NotAllowed),
    #[error(transparent)]
    Verdict(#[from] VerdictRefused),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Which follow-ups a list shows.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// Only those past a due time.
    pub overdue: bool,
    pub kind: Option<FollowUpKind>,
    /// Only those owned by this agent or department.
    pub owner: Option<String>,
    /// Resolved and closed ones too.
    pub all: bool,
}

/// A follow-up with its call attempts so far.
#[derive(Debug, Clone)]
pub struct Item {
    pub row: FollowUpRow,
    pub dial: DialState,
}

/// One follow-up with everything about it.
#[derive(Debug, Clone)]
pub struct Detail {
    pub item: Item,
    pub notes: Vec<NoteRow>,
    pub attempts: Vec<DialAttemptRow>,
}

/// What a revisit's verdict did to its complaint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub complaint: String,
    /// The status it reopened to and its new urgency; `None`: it may now be closed.
    pub reopened: Option<(FollowUpStatus, i32)>,
}

/// A call asked of the running server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallAsked {
    /// The queue whose agents may make it, when the follow-up came from a queued call.
    pub queue: Option<String>,
    /// Attempts already made, when the dialer had given up (this is one more try).
    pub again_after: Option<u32>,
}

/// The work list at one moment, with the rules and calendar that date its steps.
pub struct Desk<'a> {
    pub store: &'a Store,
    pub rules: &'a Rules,
    pub calendar: &'a Calendar,
    pub now_ms: i64,
}

impl Desk<'_> {
    /// The follow-ups `filter` selects, most urgent first, then the earliest due step.
    pub async fn list(&self, filter: &ListFilter) -> Result<Vec<Item>, DeskError> {
        let dial = self.store.dial_states().await?;
        let mut rows: Vec<FollowUpRow> = self
            .store
            .followups()
            .await?
            .into_iter()
            .filter(|f| {
                filter.all || !matches!(f.status, FollowUpStatus::Resolved | FollowUpStatus::Closed)
            })
            .filter(|f| filter.kind.is_none_or(|k| f.kind == k))
            .filter(|f| filter.owner.is_none() || f.owner == filter.owner)
            .filter(|f| !filter.overdue || !overdue(f, self.now_ms).is_empty())
            .collect();
        rows.sort_by(|a, b| {
            b.urgency
                .cmp(&a.urgency)
                .then(next_due(a).cmp(&next_due(b)))
                .then(a.created_at.cmp(&b.created_at))
        });
        Ok(rows
            .into_iter()
            .map(|row| Item {
                dial: state(&dial, &row),
                row,
            })
            .collect())
    }

    pub async fn find(&self, id: &str) -> Result<FollowUpRow, DeskError> {
        self.store
            .followup(id)
            .await?
            .ok_or_else(|| DeskError::NotFound(id.to_string()))
    }

    /// One follow-up with its notes and call attempts.
    pub async fn show(&self, id: &str) -> Result<Detail, DeskError> {
        let row = self.find(id).await?;
        let dial = state(&self.store.dial_states().await?, &row);
        Ok(Detail {
            notes: self.store.followup_notes(id).await?,
            attempts: self.store.dial_attempts(id).await?,
            item: Item { row, dial },
        })
    }

    pub async fn note(&self, id: &str, by: &str, text: &str) -> Result<(), DeskError> {
        if text.trim().is_empty() {
            return Err(DeskError::Refused("a note needs text".into()));
        }
        match self
            .store
            .add_followup_note(id, self.now_ms, by, text)
            .await?
        {
            true => Ok(()),
            false => Err(DeskError::NotFound(id.to_string())),
        }
    }

    /// Makes a status move; resolving a complaint also creates its revisit, returned.
    pub async fn change(
        &self,
        id: &str,
        change: Change,
        by: &str,
    ) -> Result<Option<NewFollowUp>, DeskError> {
        let f = self.find(id).await?;
        check_change(&f, &change)?;
        let revisit = match (&change, f.kind) {
            (Change::Resolve { .. }, FollowUpKind::Complaint) => {
                let mut r = NewFollowUp::new(FollowUpKind::Revisit, f.number.clone(), self.now_ms);
                r.category = f.category.clone();
                r.call_id = f.call_id.clone();
                r.customer = f.customer.clone();
                r.owner = f.owner.clone();
                r.parent_id = Some(f.id.clone());
                due_times(
                    self.rules,
                    self.calendar,
                    FollowUpKind::Revisit,
                    &f.category,
                    self.now_ms,
                    None,
                )
                .apply(&mut r);
                Some(r)
            }
            _ => None,
        };
        let m = FollowUpMove {
            id: id.to_string(),
            from: f.status,
            change,
            at: self.now_ms,
            author: by.to_string(),
            revisit: revisit.clone(),
        };
        if !self.store.move_followup(&m).await? {
            return Err(DeskError::Changed(id.to_string()));
        }
        Ok(revisit)
    }

    /// Records what revisit `id` found; an unsatisfied customer reopens the complaint.
    pub async fn revisit(
        &self,
        id: &str,
        result: RevisitResult,
        note: Option<String>,
        by: &str,
    ) -> Result<Verdict, DeskError> {
        let r = self.find(id).await?;
        if r.kind != FollowUpKind::Revisit {
            let hint = match r.kind {
                FollowUpKind::Complaint => self
                    .store
                    .followups()
                    .await?
                    .into_iter()
                    .filter(|x| x.parent_id.as_deref() == Some(id) && x.revisit_result.is_none())
                    .map(|x| format!("; its revisit is {}", x.id))
                    .next_back()
                    .unwrap_or_default(),
                _ => String::new(),
            };
            return Err(VerdictRefused::NotARevisit {
                id: id.to_string(),
                kind: r.kind.as_str(),
                hint,
            }
            .into());
        }
        let parent = r
            .parent_id
            .clone()
            .ok_or_else(|| VerdictRefused::NoComplaint(id.to_string()))?;
        let complaint = self.find(&parent).await?;
        let reopen = revisit_verdict(&r, &complaint, result, self.rules)?;
        let v = RevisitVerdict {
            revisit: r.id.clone(),
            revisit_from: r.status,
            complaint: complaint.id.clone(),
            complaint_from: complaint.status,
            result,
            reopen,
            at: self.now_ms,
            author: by.to_string(),
            note,
        };
        if !self.store.record_revisit(&v).await? {
            return Err(DeskError::Changed(id.to_string()));
        }
        Ok(Verdict {
            complaint: parent,
            reopened: reopen.map(|(status, rise)| (status, complaint.urgency + rise)),
        })
    }

    /// Leaves a call request for the running server, which places it when the agent (or
    /// an agent of the queue) is free: only the server knows who is free.
    pub async fn request_call(
        &self,
        id: &str,
        agent: Option<&str>,
        by: &str,
    ) -> Result<CallAsked, DeskError> {
        let f = self.find(id).await?;
        if !matches!(f.kind, FollowUpKind::Callback | FollowUpKind::Revisit) {
            return Err(DeskError::Refused(format!(
                "{id} is a {}: only callbacks and revisits are called",
                f.kind.as_str()
            )));
        }
        if !matches!(f.status, FollowUpStatus::Open | FollowUpStatus::Forwarded) {
            return Err(DeskError::Refused(format!(
                "{id} is {}: only an open or forwarded follow-up is called",
                f.status.as_str()
            )));
        }
        if let Some(a) = agent {
            if self.store.agent(a).await?.is_none() {
                return Err(DeskError::Refused(format!("no agent {a}")));
            }
        }
        let queue = match &f.call_id {
            Some(call) => self.store.call_ivr(call).await?.and_then(|c| c.queue),
            None => None,
        };
        let again_after = match self.store.dial_states().await?.get(id) {
            Some(s) if s.unreachable_at.is_some() => Some(s.attempts),
            _ => None,
        };
        self.store
            .request_dial(&DialRequest {
                followup: id.to_string(),
                agent: agent.map(str::to_string),
                requested_by: by.to_string(),
                at: self.now_ms,
            })
            .await?;
        Ok(CallAsked { queue, again_after })
    }
}

/// The call attempts of `f` (none yet: the default).
fn state(dial: &HashMap<String, DialState>, f: &FollowUpRow) -> DialState {
    dial.get(&f.id).copied().unwrap_or_default()
}

/// The earliest due time of a step not yet done (for ordering the list).
pub fn next_due(f: &FollowUpRow) -> i64 {
    Step::ALL
        .into_iter()
        .filter(|s| !s.done(f))
        .filter_map(|s| s.due(f))
        .min()
        .unwrap_or(i64::MAX)
}

/// A follow-up as JSON shows it (`--json`, the API): times as RFC 3339 in the calendar's
/// time zone, numbers as the caller of [`View::of`] may see them.
#[derive(Debug, Serialize)]
pub struct View {
    id: String,
    kind: &'static str,
    category: String,
    status: &'static str,
    urgency: i32,
    overdue: Vec<&'static str>,
    escalated: bool,
    escalation: i32,
    escalated_at: Option<String>,
    flagged: bool,
    number: String,
    customer: Option<String>,
    call_id: Option<String>,
    owner: Option<String>,
    department: Option<String>,
    created_at: String,
    promised_from: Option<String>,
    promised_to: Option<String>,
    due_forward: Option<String>,
    due_contact: Option<String>,
    due_answer: Option<String>,
    due_resolve: Option<String>,
    forwarded_at: Option<String>,
    contacted_at: Option<String>,
    answered_at: Option<String>,
    resolved_at: Option<String>,
    closed_at: Option<String>,
    outcome: Option<String>,
    parent_id: Option<String>,
    revisit_result: Option<&'static str>,
    recording: Option<String>,
    attempts: u32,
    last_attempt_at: Option<String>,
    unreachable: bool,
    unreachable_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dial_attempts: Option<Vec<AttemptView>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    notes: Option<Vec<NoteView>>,
}

#[derive(Debug, Serialize)]
struct AttemptView {
    call_id: String,
    result: &'static str,
    at: String,
    agent: Option<String>,
}

#[derive(Debug, Serialize)]
struct NoteView {
    at: String,
    author: String,
    text: String,
}

/// RFC 3339 in `tz`.
pub fn rfc3339(tz: Tz, ms: i64) -> String {
    super::at(tz, ms).map_or(ms.to_string(), |t| t.to_rfc3339())
}

impl View {
    /// `item` (with notes and attempts when `detail`) as of `now_ms`; `number` shows a
    /// customer's number as the reader may see it.
    pub fn of(
        item: &Item,
        detail: Option<&Detail>,
        tz: Tz,
        now_ms: i64,
        number: impl Fn(&str) -> String,
    ) -> View {
        let (f, dial) = (&item.row, item.dial);
        let t = |v: Option<i64>| v.map(|ms| rfc3339(tz, ms));
        View {
            id: f.id.clone(),
            kind: f.kind.as_str(),
            category: f.category.clone(),
            status: f.status.as_str(),
            urgency: f.urgency,
            overdue: overdue(f, now_ms).iter().map(|s| s.name()).collect(),
            escalated: f.escalated_at.is_some(),
            escalation: f.escalation,
            escalated_at: t(f.escalated_at),
            flagged: f.flagged,
            number: number(&f.number),
            customer: f.customer.as_deref().map(&number),
            call_id: f.call_id.clone(),
            owner: f.owner.clone(),
            department: f.department.clone(),
            created_at: rfc3339(tz, f.created_at),
            promised_from: t(f.promised_from),
            promised_to: t(f.promised_to),
            due_forward: t(f.due_forward),
            due_contact: t(f.due_contact),
            due_answer: t(f.due_answer),
            due_resolve: t(f.due_resolve),
            forwarded_at: t(f.forwarded_at),
            contacted_at: t(f.contacted_at),
            answered_at: t(f.answered_at),
            resolved_at: t(f.resolved_at),
            closed_at: t(f.closed_at),
            outcome: f.outcome.clone(),
            parent_id: f.parent_id.clone(),
            revisit_result: f.revisit_result.map(RevisitResult::as_str),
            recording: f.recording.clone(),
            attempts: dial.attempts,
            last_attempt_at: t(dial.last_attempt_at),
            unreachable: dial.unreachable_at.is_some(),
            unreachable_at: t(dial.unreachable_at),
            dial_attempts: detail.map(|d| {
                d.attempts
                    .iter()
                    .map(|a| AttemptView {
                        call_id: a.call_id.clone(),
                        result: a.result.as_str(),
                        at: rfc3339(tz, a.at),
                        agent: a.agent.clone(),
                    })
                    .collect()
            }),
            notes: detail.map(|d| {
                d.notes
                    .iter()
                    .map(|n| NoteView {
                        at: rfc3339(tz, n.at),
                        author: n.author.clone(),
                        text: n.text.clone(),
                    })
                    .collect()
            }),
        }
    }
}
