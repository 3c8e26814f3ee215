//! What the IVR records about a call beyond its SIP life (language, customer, outcome, queue),
//! the follow-ups a call leaves behind (callbacks, complaints, revisits) and post-call survey
//! answers.
//!
//! These are direct statements rather than [`Write`](super::Write)s; like those, each is
//! idempotent, so a caller may retry after an ambiguous failure: a follow-up carries its id from
//! the moment it is built ([`NewFollowUp::new`]), a survey answer is keyed by call and question,
//! and the IVR columns are plain assignments.

use std::fmt;

use super::customers::Redacted;
use super::{Db, Store, StoreError, Write};

/// What a follow-up is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FollowUpKind {
    /// A promised call back to the customer.
    Callback,
    /// A complaint, with its working-day deadlines.
    Complaint,
    /// A revisit (回访): asking the customer whether they are satisfied.
    Revisit,
}

impl FollowUpKind {
    /// The code stored in `followups.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            FollowUpKind::Callback => "callback",
            FollowUpKind::Complaint => "complaint",
            FollowUpKind::Revisit => "revisit",
        }
    }

    /// The kind with this code.
    pub fn parse(code: &str) -> Option<FollowUpKind> {
        match code {
            "callback" => Some(FollowUpKind::Callback),
            "complaint" => Some(FollowUpKind::Complaint),
            "revisit" => Some(FollowUpKind::Revisit),
            _ => None,
        }
    }
}

/// Where a follow-up stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FollowUpStatus {
    /// Just created.
    Open,
    /// Handed to the department responsible.
    Forwarded,
    /// The customer has heard back.
    Answered,
    /// Dealt with.
    Resolved,
    /// Nothing more to do.
    Closed,
}

impl FollowUpStatus {
    /// The code stored in `followups.status`.
    pub fn as_str(self) -> &'static str {
        match self {
            FollowUpStatus::Open => "open",
            FollowUpStatus::Forwarded => "forwarded",
            FollowUpStatus::Answered => "answered",
            FollowUpStatus::Resolved => "resolved",
            FollowUpStatus::Closed => "closed",
        }
    }

    /// The status with this code.
    pub fn parse(code: &str) -> Option<FollowUpStatus> {
        match code {
            "open" => Some(FollowUpStatus::Open),
            "forwarded" => Some(FollowUpStatus::Forwarded),
            "answered" => Some(FollowUpStatus::Answered),
            "resolved" => Some(FollowUpStatus::Resolved),
            "closed" => Some(FollowUpStatus::Closed),
            _ => None,
        }
    }
}

/// A fresh follow-up id: `fu-` and 16 random hex digits.
pub fn new_followup_id() -> String {
    format!("fu-{:016x}", rand::random::<u64>())
}

/// A follow-up to create (status `open`). Build it once and keep it: creating the same value
/// again is harmless, because its id was chosen when it was built.
#[derive(Clone, PartialEq, Eq)]
pub struct NewFollowUp {
    /// Its id, from [`new_followup_id`].
    pub id: String,
    /// What it is for.
    pub kind: FollowUpKind,
    /// Category from the dial plan or the agent's outcome code.
    pub category: String,
    /// Higher is more urgent.
    pub urgency: i32,
    /// The call it came from, if any (must be a stored call).
    pub call_id: Option<String>,
    /// The customer's account, if known.
    pub customer: Option<String>,
    /// Number to call back.
    pub number: String,
    /// Start of the promised callback window, ms since the Unix epoch.
    pub promised_from: Option<i64>,
    /// End of the promised callback window, ms since the Unix epoch.
    pub promised_to: Option<i64>,
    /// Agent or department that owns it.
    pub owner: Option<String>,
    /// ms since the Unix epoch.
    pub created_at: i64,
    /// Forward to the department by (ms since the Unix epoch).
    pub due_forward: Option<i64>,
    /// Tell the customer the complaint is being handled by (ms since the Unix epoch).
    pub due_contact: Option<i64>,
    /// First answer to the customer by (ms since the Unix epoch).
    pub due_answer: Option<i64>,
    /// Resolve by (ms since the Unix epoch).
    pub due_resolve: Option<i64>,
    /// A revisit's complaint.
    pub parent_id: Option<String>,
    /// The caller's recorded message or complaint description (a WAV path).
    pub recording: Option<String>,
}

impl NewFollowUp {
    /// A follow-up with a fresh id, urgency 0, no category, call, customer, owner, promise or
    /// deadlines; set the other fields directly.
    pub fn new(kind: FollowUpKind, number: impl Into<String>, created_at: i64) -> NewFollowUp {
        NewFollowUp {
            id: new_followup_id(),
            kind,
            category: String::new(),
            urgency: 0,
            call_id: None,
            customer: None,
            number: number.into(),
            promised_from: None,
            promised_to: None,
            owner: None,
            created_at,
            due_forward: None,
            due_contact: None,
            due_answer: None,
            due_resolve: None,
            parent_id: None,
            recording: None,
        }
    }
}

impl fmt::Debug for NewFollowUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewFollowUp")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("category", &self.category)
            .field("urgency", &self.urgency)
            .field("call_id", &self.call_id)
            .field("customer", &self.customer.as_ref().map(|_| Redacted))
            .field("number", &Redacted)
            .field("promised_from", &self.promised_from)
            .field("promised_to", &self.promised_to)
            .field("owner", &self.owner)
            .field("created_at", &self.created_at)
            .field("due_forward", &self.due_forward)
            .field("due_contact", &self.due_contact)
            .field("due_answer", &self.due_answer)
            .field("due_resolve", &self.due_resolve)
            .field("parent_id", &self.parent_id)
            .field("recording", &self.recording)
            .finish()
    }
}

/// One row of `followups`, as stored: what it was created with (read through `Deref`,
/// so `row.number` works), and where it has got to since.
#[derive(Clone, PartialEq, Eq)]
pub struct FollowUpRow {
    /// The follow-up as created; its urgency rises as it escalates.
    pub spec: NewFollowUp,
    /// Where it stands.
    pub status: FollowUpStatus,
    /// Department it was forwarded to.
    pub department: Option<String>,
    /// When it reached `forwarded` (or a later step first), ms.
    pub forwarded_at: Option<i64>,
    /// When the customer was first told it is being handled (a first answer counts), ms.
    pub contacted_at: Option<i64>,
    /// When the customer first heard back, ms.
    pub answered_at: Option<i64>,
    /// When it was resolved, ms.
    pub resolved_at: Option<i64>,
    /// When it was closed, ms.
    pub closed_at: Option<i64>,
    /// Resolution code.
    pub outcome: Option<String>,
    /// Deadlines missed so far (complaints escalate once per missed deadline).
    pub escalation: i32,
    /// When it was first flagged for the supervisor, ms.
    pub escalated_at: Option<i64>,
    /// What the revisit found: on a revisit, its verdict; on a complaint, the verdict on its
    /// latest resolution (cleared when it is resolved again).
    pub revisit_result: Option<RevisitResult>,
    /// The number is in `caller_flags`: a supervisor reviews its complaints.
    pub flagged: bool,
}

/// What a revisit found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RevisitResult {
    /// The customer is satisfied with the resolution.
    Satisfied,
    /// The customer is not: the complaint is reopened.
    Unsatisfied,
}

impl RevisitResult {
    /// The code stored in `followups.revisit_result`.
    pub fn as_str(self) -> &'static str {
        match self {
            RevisitResult::Satisfied => "satisfied",
            RevisitResult::Unsatisfied => "unsatisfied",
        }
    }

    /// The result with this code.
    pub fn parse(code: &str) -> Option<RevisitResult> {
        match code {
            "satisfied" => Some(RevisitResult::Satisfied),
            "unsatisfied" => Some(RevisitResult::Unsatisfied),
            _ => None,
        }
    }
}

impl std::ops::Deref for FollowUpRow {
    type Target = NewFollowUp;
    fn deref(&self) -> &NewFollowUp {
        &self.spec
    }
}

impl fmt::Debug for FollowUpRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The spec's own Debug keeps the number and the customer out of logs.
        f.debug_struct("FollowUpRow")
            .field("spec", &self.spec)
            .field("status", &self.status)
            .field("department", &self.department)
            .field("forwarded_at", &self.forwarded_at)
            .field("contacted_at", &self.contacted_at)
            .field("answered_at", &self.answered_at)
            .field("resolved_at", &self.resolved_at)
            .field("closed_at", &self.closed_at)
            .field("outcome", &self.outcome)
            .field("escalation", &self.escalation)
            .field("escalated_at", &self.escalated_at)
            .field("revisit_result", &self.revisit_result)
            .field("flagged", &self.flagged)
            .finish()
    }
}

/// The IVR's columns of a call row (`None`: not set yet).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct CallIvr {
    /// Language the caller chose, e.g. `"zh-CN"`.
    pub language: Option<String>,
    /// The customer's account, once known.
    pub customer: Option<String>,
    /// Whether identity verification succeeded (`None`: never tried).
    pub verified: Option<bool>,
    /// Outcome code.
    pub outcome: Option<String>,
    /// Queue the call was put in.
    pub queue: Option<String>,
    /// Its priority there.
    pub priority: Option<i32>,
}

impl fmt::Debug for CallIvr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallIvr")
            .field("language", &self.language)
            .field("customer", &self.customer.as_ref().map(|_| Redacted))
            .field("verified", &self.verified)
            .field("outcome", &self.outcome)
            .field("queue", &self.queue)
            .field("priority", &self.priority)
            .finish()
    }
}

/// One survey answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SurveyRow {
    /// 1, 2, ... in the plan's order.
    pub question: i32,
    /// 1 to 5.
    pub score: i32,
    /// Agent the answer is about.
    pub agent: Option<String>,
    /// ms since the Unix epoch.
    pub at: i64,
}

pub(super) const INSERT_FOLLOWUP: &str = "INSERT INTO followups \
     (id, kind, category, urgency, status, call_id, customer, number, promised_from, \
      promised_to, owner, created_at, due_forward, due_answer, due_resolve, parent_id, recording, \
      due_contact) \
     VALUES ($1, $2, $3, $4, 'open', $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) \
     ON CONFLICT (id) DO NOTHING";

// `flagged` is read here, with every row, so no list can leave a flagged caller unmarked.
pub(super) const SELECT_FOLLOWUPS: &str = "SELECT id, kind, category, urgency, status, call_id, \
     customer, number, promised_from, promised_to, owner, created_at, due_forward, due_answer, \
     due_resolve, department, forwarded_at, answered_at, resolved_at, closed_at, outcome, \
     parent_id, escalation, escalated_at, recording, due_contact, contacted_at, revisit_result, \
     EXISTS (SELECT 1 FROM caller_flags WHERE caller_flags.number = followups.number) AS flagged \
     FROM followups";

pub(super) const SET_CALL_IVR: &str = concat!(
    set_call_ivr!("$2", "$3", "$4", "$5", "$6", "$7"),
    " WHERE id = $1"
);

const SELECT_CALL_IVR: &str =
    "SELECT language, customer, verified, outcome, queue, priority FROM calls WHERE id = $1";

// A caller who answers a question again (the IVR repeated it) replaces the first answer.
// Without an agent given, the answer is about the agent who took the call, if any.
pub(super) const UPSERT_SURVEY: &str = "INSERT INTO surveys (call_id, question, score, agent, at) \
     VALUES ($1, $2, $3, COALESCE($4, (SELECT agent FROM calls WHERE id = $1)), $5) \
     ON CONFLICT (call_id, question) DO UPDATE SET \
     score = excluded.score, agent = excluded.agent, at = excluded.at";

#[derive(sqlx::FromRow)]
pub(super) struct RawFollowUp {
    id: String,
    kind: String,
    category: String,
    urgency: i32,
    status: String,
    call_id: Option<String>,
    customer: Option<String>,
    number: String,
    promised_from: Option<i64>,
    promised_to: Option<i64>,
    owner: Option<String>,
    created_at: i64,
    due_forward: Option<i64>,
    due_answer: Option<i64>,
    due_resolve: Option<i64>,
    department: Option<String>,
    forwarded_at: Option<i64>,
    answered_at: Option<i64>,
    resolved_at: Option<i64>,
    closed_at: Option<i64>,
    outcome: Option<String>,
    parent_id: Option<String>,
    escalation: i32,
    escalated_at: Option<i64>,
    recording: Option<String>,
    due_contact: Option<i64>,
    contacted_at: Option<i64>,
    revisit_result: Option<String>,
    flagged: bool,
}

impl TryFrom<RawFollowUp> for FollowUpRow {
    type Error = StoreError;

    fn try_from(r: RawFollowUp) -> Result<Self, StoreError> {
        let bad = |column| StoreError::BadValue {
            id: r.id.clone(),
            column,
        };
        let kind = FollowUpKind::parse(&r.kind).ok_or_else(|| bad("kind"))?;
        let status = FollowUpStatus::parse(&r.status).ok_or_else(|| bad("status"))?;
        let revisit_result = match r.revisit_result.as_deref() {
            Some(code) => Some(RevisitResult::parse(code).ok_or_else(|| bad("revisit_result"))?),
            None => None,
        };
        Ok(FollowUpRow {
            spec: NewFollowUp {
                id: r.id,
                kind,
                category: r.category,
                urgency: r.urgency,
                call_id: r.call_id,
                customer: r.customer,
                number: r.number,
                promised_from: r.promised_from,
                promised_to: r.promised_to,
                owner: r.owner,
                created_at: r.created_at,
                due_forward: r.due_forward,
                due_contact: r.due_contact,
                due_answer: r.due_answer,
                due_resolve: r.due_resolve,
                parent_id: r.parent_id,
                recording: r.recording,
            },
            status,
            department: r.department,
            forwarded_at: r.forwarded_at,
            contacted_at: r.contacted_at,
            answered_at: r.answered_at,
            resolved_at: r.resolved_at,
            closed_at: r.closed_at,
            outcome: r.outcome,
            escalation: r.escalation,
            escalated_at: r.escalated_at,
            revisit_result,
            flagged: r.flagged,
        })
    }
}

impl Store {
    /// Stores `f` with status `open` and returns its id. Creating the same follow-up (same id)
    /// again changes nothing.
    pub async fn create_followup(&self, f: &NewFollowUp) -> Result<String, StoreError> {
        self.apply(&[Write::FollowUp(Box::new(f.clone()))]).await?;
        Ok(f.id.clone())
    }

    /// Every follow-up, oldest first.
    pub async fn followups(&self) -> Result<Vec<FollowUpRow>, StoreError> {
        let query = format!("{SELECT_FOLLOWUPS} ORDER BY created_at, id");
        let raw: Vec<RawFollowUp> = on_db!(&self.db, pool => {
            sqlx::query_as(&query).fetch_all(pool).await?
        });
        raw.into_iter().map(FollowUpRow::try_from).collect()
    }

    /// The follow-up `id`, if any.
    pub async fn followup(&self, id: &str) -> Result<Option<FollowUpRow>, StoreError> {
        let query = format!("{SELECT_FOLLOWUPS} WHERE id = $1");
        let raw: Option<RawFollowUp> = on_db!(&self.db, pool => {
            sqlx::query_as(&query).bind(id).fetch_optional(pool).await?
        });
        raw.map(FollowUpRow::try_from).transpose()
    }

    /// Sets what the IVR learnt about call `call_id` in one statement; `None` leaves that
    /// column as it is. Returns false if there is no such call.
    #[allow(clippy::too_many_arguments)]
    pub async fn set_call_ivr(
        &self,
        call_id: &str,
        language: Option<&str>,
        customer: Option<&str>,
        verified: Option<bool>,
        outcome: Option<&str>,
        queue: Option<&str>,
        priority: Option<i32>,
    ) -> Result<bool, StoreError> {
        let rows = on_db!(&self.db, pool => {
            sqlx::query(SET_CALL_IVR)
                .bind(call_id)
                .bind(language)
                .bind(customer)
                .bind(verified)
                .bind(outcome)
                .bind(queue)
                .bind(priority)
                .execute(pool)
                .await?
                .rows_affected()
        });
        if rows == 0 {
            tracing::warn!(call = %call_id, "IVR update for unknown call ignored");
        }
        Ok(rows > 0)
    }

    /// The IVR's columns of call `call_id`, if the call exists.
    pub async fn call_ivr(&self, call_id: &str) -> Result<Option<CallIvr>, StoreError> {
        type Raw = (
            Option<String>,
            Option<String>,
            Option<bool>,
            Option<String>,
            Option<String>,
            Option<i32>,
        );
        let raw: Option<Raw> = on_db!(&self.db, pool => {
            sqlx::query_as(SELECT_CALL_IVR).bind(call_id).fetch_optional(pool).await?
        });
        Ok(raw.map(
            |(language, customer, verified, outcome, queue, priority)| CallIvr {
                language,
                customer,
                verified,
                outcome,
                queue,
                priority,
            },
        ))
    }

    /// Stores the answer `score` (1 to 5) to survey question `question` (1, 2, ...) of call
    /// `call_id`, about `agent`, answered at `at_ms`. Answering the same question again replaces
    /// the answer; a score outside 1 to 5 or an unknown call is refused by the database.
    pub async fn record_survey(
        &self,
        call_id: &str,
        question: i32,
        score: i32,
        agent: Option<&str>,
        at_ms: i64,
    ) -> Result<(), StoreError> {
        self.apply(&[Write::Survey {
            id: call_id.to_string(),
            question,
            score,
            agent: agent.map(str::to_string),
            at_ms,
        }])
        .await
    }

    /// The survey answers of call `call_id`, by question.
    pub async fn surveys(&self, call_id: &str) -> Result<Vec<SurveyRow>, StoreError> {
        let query =
            "SELECT question, score, agent, at FROM surveys WHERE call_id = $1 ORDER BY question";
        let rows: Vec<(i32, i32, Option<String>, i64)> = on_db!(&self.db, pool => {
            sqlx::query_as(query).bind(call_id).fetch_all(pool).await?
        });
        Ok(rows
            .into_iter()
            .map(|(question, score, agent, at)| SurveyRow {
                question,
                score,
                agent,
                at,
            })
            .collect())
    }
}

impl serde::Serialize for FollowUpStatus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}
