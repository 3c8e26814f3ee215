//! Outbound calls as rows: the follow-ups the callback dialer may call ([`DialTask`]), each
//! attempt and what it left on the follow-up, the customer reached or the follow-up resolved
//! on an outbound call, a revisit call's verdict, and the calls asked for from the command
//! line ([`DialRequest`]).
//!
//! Whom to call and when is decided in `crate::dialer`; this only stores. The writes are
//! [`Write`] variants so the switchboard sends them through the group-committing writer like
//! everything else about a call; each is idempotent (the writer retries a batch after an
//! ambiguous failure), and the ones that touch a follow-up check where it stands inside the
//! batch's transaction, so a repeated or late write changes nothing.

use std::collections::HashMap;

use super::{Db, FollowUpKind, FollowUpStatus, Store, StoreError};

/// What became of one attempt to call a follow-up's customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DialResult {
    /// The customer answered.
    Answered,
    /// Rang out.
    NoAnswer,
    /// The customer's line was busy.
    Busy,
    /// The call could not be placed (every trunk failed).
    Failed,
    /// The agent skipped the preview: the customer was never called.
    Skipped,
}

impl DialResult {
    /// The code stored in `dial_attempts.result`.
    pub fn as_str(self) -> &'static str {
        match self {
            DialResult::Answered => "answered",
            DialResult::NoAnswer => "no_answer",
            DialResult::Busy => "busy",
            DialResult::Failed => "failed",
            DialResult::Skipped => "skipped",
        }
    }

    /// The result with this code.
    pub fn parse(code: &str) -> Option<DialResult> {
        match code {
            "answered" => Some(DialResult::Answered),
            "no_answer" => Some(DialResult::NoAnswer),
            "busy" => Some(DialResult::Busy),
            "failed" => Some(DialResult::Failed),
            "skipped" => Some(DialResult::Skipped),
            _ => None,
        }
    }

    /// Whether it uses up an attempt: a skipped preview never called the customer.
    pub fn counts(self) -> bool {
        self != DialResult::Skipped
    }

    /// As a note says it.
    pub(super) fn words(self) -> &'static str {
        match self {
            DialResult::Answered => "answered",
            DialResult::NoAnswer => "no answer",
            DialResult::Busy => "busy",
            DialResult::Failed => "failed",
            DialResult::Skipped => "skipped at the preview",
        }
    }
}

/// A callback or revisit waiting for its customer to be called: what the dialer decides on
/// and what the agent's preview shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialTask {
    /// The follow-up's id.
    pub id: String,
    /// Callback or revisit.
    pub kind: FollowUpKind,
    /// Open or forwarded.
    pub status: FollowUpStatus,
    /// Higher is more urgent.
    pub urgency: i32,
    /// ms since the Unix epoch.
    pub created_at: i64,
    /// Start of the promised callback window, ms.
    pub promised_from: Option<i64>,
    /// End of the promised callback window, ms.
    pub promised_to: Option<i64>,
    /// Attempts made so far (skipped previews not counted).
    pub attempts: u32,
    /// When the last attempt ended (skipped or not), ms.
    pub last_attempt_at: Option<i64>,
    /// The number to call.
    pub number: String,
    /// Category from the dial plan or the agent's outcome code.
    pub category: String,
    /// The customer's account, if known.
    pub customer: Option<String>,
    /// The customer's name, when the account is in `customers`.
    pub customer_name: Option<String>,
    /// The queue of the call it came from.
    pub queue: Option<String>,
    /// The language of the call it came from.
    pub language: Option<String>,
    /// A revisit's complaint.
    pub parent_id: Option<String>,
    /// Agent or department that owns it.
    pub owner: Option<String>,
}

/// A call asked for from the command line (`hotline followups call`), for the running server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialRequest {
    /// The follow-up whose customer to call.
    pub followup: String,
    /// The agent to make the call; `None`: any agent of its queue.
    pub agent: Option<String>,
    /// Who asked.
    pub requested_by: String,
    /// When, ms since the Unix epoch.
    pub at: i64,
}

/// One attempt to call a follow-up's customer, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialAttemptRow {
    /// Our id of the outbound call (or of the skipped preview).
    pub call_id: String,
    /// What became of it.
    pub result: DialResult,
    /// When it ended, ms since the Unix epoch.
    pub at: i64,
    /// The agent who made or skipped it.
    pub agent: Option<String>,
}

/// A follow-up's call attempts so far, for the work list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DialState {
    /// Attempts made (skipped previews not counted).
    pub attempts: u32,
    /// When the last attempt ended, ms.
    pub last_attempt_at: Option<i64>,
    /// When it was given up as unreachable (for a supervisor), ms.
    pub unreachable_at: Option<i64>,
}

pub(super) const INSERT_OUTBOUND_CALL: &str = "INSERT INTO calls \
     (id, sip_call_id, caller, called, source, transport, arrived_at, direction, followup_id, \
      agent, trunk) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, 'outbound', $8, $9, $10) \
     ON CONFLICT (id) DO NOTHING";

// Only for a follow-up that exists, so an attempt for a wrong id is ignored rather than
// refused by the foreign key (which would make the writer drop the whole batch's retry).
pub(super) const INSERT_ATTEMPT: &str = "INSERT INTO dial_attempts \
     (followup_id, call_id, result, at, agent) \
     SELECT $1, $2, $3, $4, $5 WHERE EXISTS (SELECT 1 FROM followups WHERE id = $1) \
     ON CONFLICT (followup_id, call_id) DO NOTHING";

// The count is recomputed from the attempts, not incremented, so it cannot drift.
pub(super) const COUNT_ATTEMPTS: &str = "UPDATE followups SET \
     attempts = (SELECT COUNT(*) FROM dial_attempts \
                 WHERE dial_attempts.followup_id = followups.id AND result <> 'skipped'), \
     last_attempt_at = CASE WHEN last_attempt_at IS NULL OR last_attempt_at < $2 \
                       THEN $2 ELSE last_attempt_at END, \
     unreachable_at = COALESCE(unreachable_at, $3) \
     WHERE id = $1";

pub(super) const FOLLOWUP_ATTEMPTS: &str =
    "SELECT attempts, unreachable_at FROM followups WHERE id = $1";

/// kind, status, parent_id, revisit_result, department: what the dialer's writes check.
pub(super) type FollowUpState = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

pub(super) const FOLLOWUP_STATE: &str =
    "SELECT kind, status, parent_id, revisit_result, department FROM followups WHERE id = $1";

const DIAL_TASKS: &str = "SELECT f.id AS id, f.kind AS kind, f.status AS status, \
     f.urgency AS urgency, f.created_at AS created_at, f.promised_from AS promised_from, \
     f.promised_to AS promised_to, f.attempts AS attempts, f.last_attempt_at AS last_attempt_at, \
     f.number AS number, f.category AS category, f.customer AS customer, \
     cu.name AS customer_name, c.queue AS queue, c.language AS language, \
     f.parent_id AS parent_id, f.owner AS owner \
     FROM followups f \
     LEFT JOIN calls c ON c.id = f.call_id \
     LEFT JOIN customers cu ON cu.account = f.customer \
     WHERE f.kind IN ('callback', 'revisit') AND f.status IN ('open', 'forwarded') \
     AND f.unreachable_at IS NULL \
     ORDER BY f.created_at, f.id";

#[derive(sqlx::FromRow)]
struct RawDialTask {
    id: String,
    kind: String,
    status: String,
    urgency: i32,
    created_at: i64,
    promised_from: Option<i64>,
    promised_to: Option<i64>,
    attempts: i32,
    last_attempt_at: Option<i64>,
    number: String,
    category: String,
    customer: Option<String>,
    customer_name: Option<String>,
    queue: Option<String>,
    language: Option<String>,
    parent_id: Option<String>,
    owner: Option<String>,
}

impl TryFrom<RawDialTask> for DialTask {
    type Error = StoreError;

    fn try_from(r: RawDialTask) -> Result<Self, StoreError> {
        let bad = |column| StoreError::BadValue {
            id: r.id.clone(),
            column,
        };
        Ok(DialTask {
            kind: FollowUpKind::parse(&r.kind).ok_or_else(|| bad("kind"))?,
            status: FollowUpStatus::parse(&r.status).ok_or_else(|| bad("status"))?,
            attempts: u32::try_from(r.attempts).map_err(|_| bad("attempts"))?,
            id: r.id,
            urgency: r.urgency,
            created_at: r.created_at,
            promised_from: r.promised_from,
            promised_to: r.promised_to,
            last_attempt_at: r.last_attempt_at,
            number: r.number,
            category: r.category,
            customer: r.customer,
            customer_name: r.customer_name,
            queue: r.queue,
            language: r.language,
            parent_id: r.parent_id,
            owner: r.owner,
        })
    }
}

/// ", agent A" when there is one, for notes.
pub(super) fn by_agent(agent: Option<&str>) -> String {
    agent.map_or(String::new(), |a| format!(", agent {a}"))
}

/// Applies one of the dialer's follow-up writes (`DialAttempt`, `FollowUpReached`,
/// `FollowUpResolved`, `RevisitAnswered`) inside the batch's transaction `tx`. Each reads
/// where the follow-up stands first and changes nothing when the write was applied already
/// or no longer fits, so a retried batch is harmless.
macro_rules! apply_dialing {
    ($tx:expr, $w:expr) => {{
        use $crate::store::dialing as d;
        use $crate::store::{
            FollowUpChange, FollowUpKind, FollowUpMove, FollowUpStatus, RevisitResult,
            RevisitVerdict, Write,
        };
        match $w {
            Write::DialAttempt {
                followup,
                call,
                result,
                agent,
                at_ms,
                unreachable,
            } => {
                let inserted = sqlx::query(d::INSERT_ATTEMPT)
                    .bind(followup.as_str())
                    .bind(call.as_str())
                    .bind(result.as_str())
                    .bind(*at_ms)
                    .bind(agent.as_deref())
                    .execute(&mut *$tx)
                    .await?
                    .rows_affected()
                    == 1;
                if inserted {
                    sqlx::query(d::COUNT_ATTEMPTS)
                        .bind(followup.as_str())
                        .bind(*at_ms)
                        .bind(unreachable.then_some(*at_ms))
                        .execute(&mut *$tx)
                        .await?;
                    let (attempts, unreachable_at): (i32, Option<i64>) =
                        sqlx::query_as(d::FOLLOWUP_ATTEMPTS)
                            .bind(followup.as_str())
                            .fetch_one(&mut *$tx)
                            .await?;
                    let text = match result.counts() {
                        true => format!(
                            "call attempt {attempts}: {} (call {call}{})",
                            result.words(),
                            d::by_agent(agent.as_deref())
                        ),
                        false => format!(
                            "call {}: not counted (call {call}{})",
                            result.words(),
                            d::by_agent(agent.as_deref())
                        ),
                    };
                    insert_note!($tx, followup.as_str(), *at_ms, "hotline", text.as_str());
                    if *unreachable && unreachable_at == Some(*at_ms) {
                        let text =
                            format!("unreachable after {attempts} attempts: for a supervisor");
                        insert_note!($tx, followup.as_str(), *at_ms, "hotline", text.as_str());
                    }
                } else {
                    tracing::debug!(followup = %followup, call = %call,
                        "dial attempt already recorded, or for an unknown follow-up: ignored");
                }
            }
            Write::FollowUpReached {
                followup,
                call,
                agent,
                at_ms,
            } => {
                let state: Option<d::FollowUpState> =
                    sqlx::query_as(d::FOLLOWUP_STATE)
                        .bind(followup.as_str())
                        .fetch_optional(&mut *$tx)
                        .await?;
                match state.as_ref().and_then(|s| FollowUpStatus::parse(&s.1)) {
                    Some(from @ (FollowUpStatus::Open | FollowUpStatus::Forwarded)) => {
                        let m = FollowUpMove {
                            id: followup.clone(),
                            from,
                            change: FollowUpChange::Answer,
                            at: *at_ms,
                            author: agent.clone().unwrap_or_else(|| "hotline".into()),
                            revisit: None,
                        };
                        let note = format!(
                            "reached by call {call}{}",
                            agent
                                .as_deref()
                                .map_or(String::new(), |a| format!(" (agent {a})"))
                        );
                        move_followup_in!($tx, &m, note);
                    }
                    Some(_) => tracing::debug!(followup = %followup,
                        "customer reached on a follow-up already answered: nothing to change"),
                    None => tracing::warn!(followup = %followup,
                        "customer reached on an unknown follow-up: ignored"),
                }
            }
            Write::FollowUpResolved {
                followup,
                call,
                outcome,
                agent,
                at_ms,
                revisit,
            } => {
                let state: Option<d::FollowUpState> =
                    sqlx::query_as(d::FOLLOWUP_STATE)
                        .bind(followup.as_str())
                        .fetch_optional(&mut *$tx)
                        .await?;
                let kind = state.as_ref().and_then(|s| FollowUpKind::parse(&s.0));
                match state.as_ref().and_then(|s| FollowUpStatus::parse(&s.1)) {
                    Some(
                        from @ (FollowUpStatus::Open
                        | FollowUpStatus::Forwarded
                        | FollowUpStatus::Answered),
                    ) if kind != Some(FollowUpKind::Complaint) || revisit.is_some() => {
                        // Only a complaint is revisited.
                        let revisit = match kind {
                            Some(FollowUpKind::Complaint) => revisit.as_deref().cloned(),
                            _ => None,
                        };
                        let m = FollowUpMove {
                            id: followup.clone(),
                            from,
                            change: FollowUpChange::Resolve {
                                outcome: outcome.clone(),
                            },
                            at: *at_ms,
                            author: agent.clone().unwrap_or_else(|| "hotline".into()),
                            revisit,
                        };
                        let note = format!(
                            "resolved: {outcome} (call {call}{})",
                            d::by_agent(agent.as_deref())
                        );
                        move_followup_in!($tx, &m, note);
                    }
                    Some(FollowUpStatus::Open | FollowUpStatus::Forwarded | FollowUpStatus::Answered) => {
                        tracing::warn!(followup = %followup,
                            "complaint resolved on a call without its revisit: not resolved")
                    }
                    Some(_) => tracing::debug!(followup = %followup,
                        "follow-up already resolved or closed: nothing to change"),
                    None => tracing::warn!(followup = %followup,
                        "resolution of an unknown follow-up: ignored"),
                }
            }
            Write::RevisitAnswered {
                revisit,
                call,
                satisfied,
                urgency_rise,
                at_ms,
            } => {
                let state: Option<d::FollowUpState> =
                    sqlx::query_as(d::FOLLOWUP_STATE)
                        .bind(revisit.as_str())
                        .fetch_optional(&mut *$tx)
                        .await?;
                let waiting = state.as_ref().and_then(|s| {
                    let status = FollowUpStatus::parse(&s.1)?;
                    let open = matches!(
                        status,
                        FollowUpStatus::Open | FollowUpStatus::Forwarded | FollowUpStatus::Answered
                    );
                    (s.0 == FollowUpKind::Revisit.as_str() && s.3.is_none() && open)
                        .then(|| (status, s.2.clone()))
                });
                let complaint = match &waiting {
                    Some((_, Some(parent))) => {
                        let c: Option<d::FollowUpState> =
                            sqlx::query_as(d::FOLLOWUP_STATE)
                                .bind(parent.as_str())
                                .fetch_optional(&mut *$tx)
                                .await?;
                        c.filter(|c| c.1 == FollowUpStatus::Resolved.as_str())
                            .map(|c| (parent.clone(), c.4))
                    }
                    _ => None,
                };
                match (waiting, complaint) {
                    (Some((revisit_from, _)), Some((complaint, department))) => {
                        let result = match satisfied {
                            true => RevisitResult::Satisfied,
                            false => RevisitResult::Unsatisfied,
                        };
                        // As `crate::followup::revisit_verdict` decides for the command line:
                        // back to its department if it had one, else open.
                        let reopen = (!*satisfied).then(|| {
                            let to = match department {
                                Some(_) => FollowUpStatus::Forwarded,
                                None => FollowUpStatus::Open,
                            };
                            (to, *urgency_rise)
                        });
                        let v = RevisitVerdict {
                            revisit: revisit.clone(),
                            revisit_from,
                            complaint,
                            complaint_from: FollowUpStatus::Resolved,
                            result,
                            reopen,
                            at: *at_ms,
                            author: "hotline".into(),
                            note: Some(format!("verdict keyed on call {call}")),
                        };
                        let recorded = record_revisit_in!($tx, &v);
                        // A satisfied customer closes the loop: the complaint and its
                        // revisit are closed (an unsatisfied one reopened it above).
                        if recorded && *satisfied {
                            for (id, from) in [
                                (&v.complaint, FollowUpStatus::Resolved),
                                (&v.revisit, FollowUpStatus::Answered),
                            ] {
                                let m = FollowUpMove {
                                    id: id.clone(),
                                    from,
                                    change: FollowUpChange::Close { forced: None },
                                    at: *at_ms,
                                    author: "hotline".into(),
                                    revisit: None,
                                };
                                move_followup_in!($tx, &m, "closed: customer satisfied on the revisit call".to_string());
                            }
                        }
                    }
                    _ => tracing::debug!(revisit = %revisit,
                        "revisit verdict already recorded, or its complaint is not resolved: ignored"),
                }
            }
            other => unreachable!("{} is not a dialing write", other.kind()),
        }
    }};
}

impl Store {
    /// Callbacks and revisits whose customer is still to be reached (open or forwarded) and
    /// that were not given up as unreachable, with the queue and language of the call they
    /// came from and the customer's name. Oldest first; the dialer sorts them its own way.
    pub async fn dial_tasks(&self) -> Result<Vec<DialTask>, StoreError> {
        let raw: Vec<RawDialTask> = on_db!(&self.db, pool => {
            sqlx::query_as(DIAL_TASKS).fetch_all(pool).await?
        });
        raw.into_iter().map(DialTask::try_from).collect()
    }

    /// Leaves a call request for the running server.
    pub async fn request_dial(&self, r: &DialRequest) -> Result<(), StoreError> {
        let q = "INSERT INTO dial_requests (followup_id, agent, requested_at, requested_by) \
                 VALUES ($1, $2, $3, $4)";
        // Asking to call an unreachable follow-up gives it back to the dialer for one more
        // attempt (which, failing, marks it unreachable again).
        let again = "UPDATE followups SET unreachable_at = NULL WHERE id = $1";
        on_db!(&self.db, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(q)
                .bind(r.followup.as_str())
                .bind(r.agent.as_deref())
                .bind(r.at)
                .bind(r.requested_by.as_str())
                .execute(&mut *tx)
                .await?;
            sqlx::query(again).bind(r.followup.as_str()).execute(&mut *tx).await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Call requests not taken yet, oldest first; they are marked done as they are read.
    /// As [`Store::take_agent_requests`]: a plain read first and a write only when there is
    /// something to mark, so the poll holds no snapshot the call writer's commits would spoil.
    pub async fn take_dial_requests(&self, now_ms: i64) -> Result<Vec<DialRequest>, StoreError> {
        let rows: Vec<(i64, String, Option<String>, i64, String)> = on_db!(&self.db, pool => {
            sqlx::query_as("SELECT id, followup_id, agent, requested_at, requested_by \
                 FROM dial_requests WHERE done_at IS NULL ORDER BY id")
                .fetch_all(pool).await?
        });
        // Exactly the rows read: an id below the last may commit after the read.
        for id in rows.iter().map(|r| r.0) {
            on_db!(&self.db, pool => {
                sqlx::query("UPDATE dial_requests SET done_at = $1 WHERE done_at IS NULL AND id = $2")
                    .bind(now_ms).bind(id).execute(pool).await?;
            });
        }
        Ok(rows
            .into_iter()
            .map(|(_, followup, agent, at, requested_by)| DialRequest {
                followup,
                agent,
                requested_by,
                at,
            })
            .collect())
    }

    /// The call attempts of follow-up `followup`, oldest first.
    pub async fn dial_attempts(&self, followup: &str) -> Result<Vec<DialAttemptRow>, StoreError> {
        let rows: Vec<(String, String, i64, Option<String>)> = on_db!(&self.db, pool => {
            sqlx::query_as("SELECT call_id, result, at, agent FROM dial_attempts \
                 WHERE followup_id = $1 ORDER BY at, call_id")
                .bind(followup).fetch_all(pool).await?
        });
        rows.into_iter()
            .map(|(call_id, result, at, agent)| {
                Ok(DialAttemptRow {
                    result: DialResult::parse(&result).ok_or_else(|| StoreError::BadValue {
                        id: call_id.clone(),
                        column: "result",
                    })?,
                    call_id,
                    at,
                    agent,
                })
            })
            .collect()
    }

    /// The call attempts of every follow-up that has had one or was given up, by id.
    pub async fn dial_states(&self) -> Result<HashMap<String, DialState>, StoreError> {
        let rows: Vec<(String, i32, Option<i64>, Option<i64>)> = on_db!(&self.db, pool => {
            sqlx::query_as("SELECT id, attempts, last_attempt_at, unreachable_at FROM followups \
                 WHERE attempts > 0 OR last_attempt_at IS NOT NULL OR unreachable_at IS NOT NULL")
                .fetch_all(pool).await?
        });
        rows.into_iter()
            .map(|(id, attempts, last_attempt_at, unreachable_at)| {
                let attempts = u32::try_from(attempts).map_err(|_| StoreError::BadValue {
                    id: id.clone(),
                    column: "attempts",
                })?;
                Ok((
                    id,
                    DialState {
                        attempts,
                        last_attempt_at,
                        unreachable_at,
                    },
                ))
            })
            .collect()
    }
}
