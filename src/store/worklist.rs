//! Working follow-ups to closure, as rows: status moves with their note, notes, raising an
//! escalation, a revisit's verdict (which may reopen its complaint); and the start-up clean-up of calls a previous process left open. Which moves
//! are allowed and when a complaint escalates are rules, in `crate::followup`, which calls
//! these; nothing here imports it.
//!
//! Each move is one transaction that checks the status it expects (`WHERE status = ...`), so
//! two people working the same follow-up cannot both move it, and a move never applies twice.

use super::followups::{RawFollowUp, SELECT_FOLLOWUPS};
use super::{Db, FollowUpRow, FollowUpStatus, NewFollowUp, RevisitResult, Store, StoreError};

/// What someone does to a follow-up: the row update [`Store::move_followup`] makes.
/// Which changes are allowed from which status is a rule, in `crate::followup`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FollowUpChange {
    /// Hand it to a department.
    Forward {
        /// The department.
        department: String,
    },
    /// The customer was told the complaint is being handled; the status stays.
    Contact,
    /// The customer heard back (or was called back).
    Answer,
    /// Dealt with, with a resolution code.
    Resolve {
        /// Resolution code.
        outcome: String,
    },
    /// Nothing more to do; `reason` when a complaint is closed without its revisit's result.
    Close {
        /// Why it was closed anyway (goes into the note history).
        forced: Option<String>,
    },
}

impl FollowUpChange {
    /// The verb, for notes and errors.
    pub fn verb(&self) -> &'static str {
        match self {
            FollowUpChange::Forward { .. } => "forward",
            FollowUpChange::Contact => "contact the customer of",
            FollowUpChange::Answer => "answer",
            FollowUpChange::Resolve { .. } => "resolve",
            FollowUpChange::Close { .. } => "close",
        }
    }

    /// The status after the change (`None`: it stays as it is).
    pub fn target(&self) -> Option<FollowUpStatus> {
        match self {
            FollowUpChange::Forward { .. } => Some(FollowUpStatus::Forwarded),
            FollowUpChange::Contact => None,
            FollowUpChange::Answer => Some(FollowUpStatus::Answered),
            FollowUpChange::Resolve { .. } => Some(FollowUpStatus::Resolved),
            FollowUpChange::Close { .. } => Some(FollowUpStatus::Closed),
        }
    }

    /// The line added to the note history.
    pub fn note(&self) -> String {
        match self {
            FollowUpChange::Forward { department } => format!("forwarded to {department}"),
            FollowUpChange::Contact => {
                "customer contacted: complaint received and being handled".to_string()
            }
            FollowUpChange::Answer => "customer answered".to_string(),
            FollowUpChange::Resolve { outcome } => format!("resolved: {outcome}"),
            FollowUpChange::Close { forced: None } => "closed".to_string(),
            FollowUpChange::Close {
                forced: Some(reason),
            } => format!("closed without the revisit's result: {reason}"),
        }
    }
}

/// One status move of a follow-up.
#[derive(Debug, Clone)]
pub struct FollowUpMove {
    /// The follow-up.
    pub id: String,
    /// The status it must still be in.
    pub from: FollowUpStatus,
    /// What is done.
    pub change: FollowUpChange,
    /// When, ms since the Unix epoch.
    pub at: i64,
    /// Who did it (agent ID, supervisor, `system`).
    pub author: String,
    /// Created in the same transaction (the revisit of a resolved complaint).
    pub revisit: Option<NewFollowUp>,
}

/// A revisit's verdict, written to the revisit and its complaint in one transaction. An
/// unsatisfied customer reopens the complaint (`reopen`).
#[derive(Debug, Clone)]
pub struct RevisitVerdict {
    /// The revisit.
    pub revisit: String,
    /// The status the revisit must still be in.
    pub revisit_from: FollowUpStatus,
    /// Its complaint.
    pub complaint: String,
    /// The status the complaint must still be in.
    pub complaint_from: FollowUpStatus,
    /// What the customer said.
    pub result: RevisitResult,
    /// For an unsatisfied customer: the complaint's status again and the urgency added.
    pub reopen: Option<(FollowUpStatus, i32)>,
    /// When, ms since the Unix epoch.
    pub at: i64,
    /// Who made the revisit.
    pub author: String,
    /// A line for the revisit's note history, besides the verdict.
    pub note: Option<String>,
}

/// One line of a follow-up's note history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteRow {
    /// ms since the Unix epoch.
    pub at: i64,
    /// Who wrote it.
    pub author: String,
    /// What it says.
    pub text: String,
}

pub(super) const FORWARD: &str = "UPDATE followups SET status = 'forwarded', department = $3, \
     forwarded_at = COALESCE(forwarded_at, $4) WHERE id = $1 AND status = $2";
pub(super) const CONTACT: &str = "UPDATE followups SET contacted_at = $3 \
     WHERE id = $1 AND status = $2 AND contacted_at IS NULL";
// A first answer is also the first contact, when none was recorded.
pub(super) const ANSWER: &str = "UPDATE followups SET status = 'answered', \
     forwarded_at = COALESCE(forwarded_at, $3), contacted_at = COALESCE(contacted_at, $3), \
     answered_at = COALESCE(answered_at, $3) WHERE id = $1 AND status = $2";
// Resolving also completes the earlier steps that were skipped (a complaint settled on the
// first call was never forwarded, and the customer heard back then). A new resolution waits
// for a revisit of its own, so an earlier verdict is cleared.
pub(super) const RESOLVE: &str = "UPDATE followups SET status = 'resolved', outcome = $4, \
     forwarded_at = COALESCE(forwarded_at, $3), contacted_at = COALESCE(contacted_at, $3), \
     answered_at = COALESCE(answered_at, $3), resolved_at = COALESCE(resolved_at, $3), \
     revisit_result = NULL WHERE id = $1 AND status = $2";
// The revisit call was made, with its verdict (once).
pub(super) const REVISIT_MADE: &str =
    "UPDATE followups SET status = 'answered', revisit_result = $4, \
     contacted_at = COALESCE(contacted_at, $3), answered_at = COALESCE(answered_at, $3) \
     WHERE id = $1 AND status = $2 AND revisit_result IS NULL";
pub(super) const COMPLAINT_VERDICT: &str =
    "UPDATE followups SET revisit_result = $3 WHERE id = $1 AND status = $2";
pub(super) const REOPEN: &str = "UPDATE followups SET revisit_result = $3, status = $4, \
     resolved_at = NULL, urgency = urgency + $5 WHERE id = $1 AND status = $2";
pub(super) const CLOSE: &str =
    "UPDATE followups SET status = 'closed', closed_at = COALESCE(closed_at, $3) \
     WHERE id = $1 AND status = $2";
const ESCALATE: &str = "UPDATE followups SET escalation = $2, urgency = urgency + $3, \
     escalated_at = COALESCE(escalated_at, $4) WHERE id = $1 AND escalation < $2";
pub(super) const LAST_NOTE_AT: &str = "SELECT MAX(at) FROM followup_notes WHERE followup_id = $1";
pub(super) const INSERT_NOTE: &str =
    "INSERT INTO followup_notes (followup_id, at, author, text) VALUES ($1, $2, $3, $4)";
const CLOSE_CALLS: &str = "UPDATE calls SET ended_at = $1, ended_by = 'hotline', end_cause = $2 \
     WHERE ended_at IS NULL";
const CLOSE_LEGS: &str =
    "UPDATE call_legs SET ended_at = $1, end_cause = $2 WHERE ended_at IS NULL";

// The steps below are macros rather than functions so that one body serves both databases
// inside `on_db!`, in a transaction of their own or in the writer's batch
// (`Store::apply`); `#[macro_use]` on this module makes them visible to the later modules.

/// Adds a note inside `tx`. Notes are keyed by time: a note in the same millisecond as the
/// last one is put 1 ms after it, so a quick series of moves keeps every line, in order.
macro_rules! insert_note {
    ($tx:expr, $id:expr, $at:expr, $author:expr, $text:expr) => {{
        let last: Option<i64> = sqlx::query_scalar($crate::store::worklist::LAST_NOTE_AT)
            .bind($id)
            .fetch_one(&mut *$tx)
            .await?;
        let at = last.map_or($at, |l| ($at).max(l + 1));
        sqlx::query($crate::store::worklist::INSERT_NOTE)
            .bind($id)
            .bind(at)
            .bind($author)
            .bind($text)
            .execute(&mut *$tx)
            .await?;
    }};
}

/// Makes the status move `$m` (a [`FollowUpMove`]) inside `tx` if the follow-up is still in
/// `$m.from`, with the line `$note` in its history and the revisit, if any; evaluates to
/// whether it moved. Nothing is written when it did not.
macro_rules! move_followup_in {
    ($tx:expr, $m:expr, $note:expr) => {{
        use $crate::store::worklist as w;
        let m: &$crate::store::FollowUpMove = $m;
        let q = match &m.change {
            $crate::store::FollowUpChange::Forward { department } => sqlx::query(w::FORWARD)
                .bind(m.id.as_str())
                .bind(m.from.as_str())
                .bind(department.as_str())
                .bind(m.at),
            $crate::store::FollowUpChange::Contact => sqlx::query(w::CONTACT)
                .bind(m.id.as_str())
                .bind(m.from.as_str())
                .bind(m.at),
            $crate::store::FollowUpChange::Answer => sqlx::query(w::ANSWER)
                .bind(m.id.as_str())
                .bind(m.from.as_str())
                .bind(m.at),
            $crate::store::FollowUpChange::Resolve { outcome } => sqlx::query(w::RESOLVE)
                .bind(m.id.as_str())
                .bind(m.from.as_str())
                .bind(m.at)
                .bind(outcome.as_str()),
            $crate::store::FollowUpChange::Close { .. } => sqlx::query(w::CLOSE)
                .bind(m.id.as_str())
                .bind(m.from.as_str())
                .bind(m.at),
        };
        let moved = q.execute(&mut *$tx).await?.rows_affected() == 1;
        if moved {
            let note: String = $note;
            insert_note!($tx, m.id.as_str(), m.at, m.author.as_str(), note.as_str());
            if let Some(r) = &m.revisit {
                let fw = $crate::store::Write::FollowUp(Box::new(r.clone()));
                $crate::store::write_query(&fw).execute(&mut *$tx).await?;
            }
        }
        moved
    }};
}

/// Records the verdict `$v` (a [`RevisitVerdict`]) on the revisit and its complaint inside
/// `tx`, both or neither (a savepoint), with a line in both note histories; evaluates to
/// whether it did.
macro_rules! record_revisit_in {
    ($tx:expr, $v:expr) => {{
        use $crate::store::worklist as w;
        let v: &$crate::store::RevisitVerdict = $v;
        let result = v.result.as_str();
        let (complaint_note, revisit_note) = match v.reopen {
            Some(_) => (
                "reopened: customer not satisfied",
                "revisit: customer not satisfied",
            ),
            None => ("revisit: customer satisfied", "revisit: customer satisfied"),
        };
        let mut sp = sqlx::Connection::begin(&mut *$tx).await?;
        let revisit = sqlx::query(w::REVISIT_MADE)
            .bind(v.revisit.as_str())
            .bind(v.revisit_from.as_str())
            .bind(v.at)
            .bind(result)
            .execute(&mut *sp)
            .await?
            .rows_affected();
        let q = match v.reopen {
            Some((to, rise)) => sqlx::query(w::REOPEN)
                .bind(v.complaint.as_str())
                .bind(v.complaint_from.as_str())
                .bind(result)
                .bind(to.as_str())
                .bind(rise),
            None => sqlx::query(w::COMPLAINT_VERDICT)
                .bind(v.complaint.as_str())
                .bind(v.complaint_from.as_str())
                .bind(result),
        };
        let complaint = q.execute(&mut *sp).await?.rows_affected();
        let done = revisit == 1 && complaint == 1;
        if done {
            insert_note!(
                sp,
                v.revisit.as_str(),
                v.at,
                v.author.as_str(),
                revisit_note
            );
            if let Some(text) = &v.note {
                insert_note!(
                    sp,
                    v.revisit.as_str(),
                    v.at,
                    v.author.as_str(),
                    text.as_str()
                );
            }
            insert_note!(
                sp,
                v.complaint.as_str(),
                v.at,
                v.author.as_str(),
                complaint_note
            );
            sp.commit().await?;
        } else {
            sp.rollback().await?;
        }
        done
    }};
}

impl Store {
    /// Makes the move `m` if the follow-up is still in `m.from`, with a line in its note
    /// history (and the revisit, if any), all in one transaction. Returns false, changing
    /// nothing, if it is not in that status (any more) or does not exist.
    pub async fn move_followup(&self, m: &FollowUpMove) -> Result<bool, StoreError> {
        let moved = on_db!(&self.db, pool => {
            let mut tx = pool.begin().await?;
            let moved = move_followup_in!(tx, m, m.change.note());
            if moved {
                tx.commit().await?;
            }
            moved
        });
        Ok(moved)
    }

    /// Records the verdict `v` on the revisit (now answered) and its complaint, reopening the
    /// complaint for an unsatisfied customer, with a line in both note histories, all in one
    /// transaction. Returns false, changing nothing, if either is no longer in the status
    /// expected or the revisit already has a verdict.
    pub async fn record_revisit(&self, v: &RevisitVerdict) -> Result<bool, StoreError> {
        let done = on_db!(&self.db, pool => {
            let mut tx = pool.begin().await?;
            let done = record_revisit_in!(tx, v);
            if done {
                tx.commit().await?;
            }
            done
        });
        Ok(done)
    }

    /// Adds `text` to the note history of follow-up `id`. Returns false if there is no such
    /// follow-up.
    pub async fn add_followup_note(
        &self,
        id: &str,
        at: i64,
        author: &str,
        text: &str,
    ) -> Result<bool, StoreError> {
        if self.followup(id).await?.is_none() {
            return Ok(false);
        }
        on_db!(&self.db, pool => {
            let mut tx = pool.begin().await?;
            insert_note!(tx, id, at, author, text);
            tx.commit().await?;
        });
        Ok(true)
    }

    /// The note history of follow-up `id`, oldest first.
    pub async fn followup_notes(&self, id: &str) -> Result<Vec<NoteRow>, StoreError> {
        let q = "SELECT at, author, text FROM followup_notes WHERE followup_id = $1 ORDER BY at";
        let rows: Vec<(i64, String, String)> = on_db!(&self.db, pool => {
            sqlx::query_as(q).bind(id).fetch_all(pool).await?
        });
        Ok(rows
            .into_iter()
            .map(|(at, author, text)| NoteRow { at, author, text })
            .collect())
    }

    /// Raises follow-up `id` to escalation `level` (if it is lower), adds `urgency_rise` to its
    /// urgency, flags it for the supervisor at `at` (the first time) and notes it. Returns
    /// whether it changed; applying the same escalation twice changes nothing.
    pub async fn escalate_followup(
        &self,
        id: &str,
        level: i32,
        urgency_rise: i32,
        at: i64,
    ) -> Result<bool, StoreError> {
        let text = format!(
            "escalated to the supervisor: {level} deadline{} missed",
            if level == 1 { "" } else { "s" }
        );
        let changed = on_db!(&self.db, pool => {
            let mut tx = pool.begin().await?;
            let changed = sqlx::query(ESCALATE)
                .bind(id)
                .bind(level)
                .bind(urgency_rise)
                .bind(at)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                == 1;
            if changed {
                insert_note!(tx, id, at, "system", text.as_str());
                tx.commit().await?;
            }
            changed
        });
        Ok(changed)
    }

    /// Follow-ups not yet resolved or closed, oldest first.
    pub async fn open_followups(&self) -> Result<Vec<FollowUpRow>, StoreError> {
        let query = format!(
            "{SELECT_FOLLOWUPS} WHERE status IN ('open', 'forwarded', 'answered') \
             ORDER BY created_at, id"
        );
        let raw: Vec<RawFollowUp> = on_db!(&self.db, pool => {
            sqlx::query_as(&query).fetch_all(pool).await?
        });
        raw.into_iter().map(FollowUpRow::try_from).collect()
    }

    /// Closes every call (and agent leg) a previous process left without an end: its end is
    /// `at`, by `hotline`, with `cause`. Only for `serve` at start-up, before any call is
    /// taken: a running server's live calls look just the same. Returns (calls, legs) closed.
    pub async fn close_unfinished_calls(
        &self,
        at: i64,
        cause: &str,
    ) -> Result<(u64, u64), StoreError> {
        let closed = on_db!(&self.db, pool => {
            let mut tx = pool.begin().await?;
            let calls = sqlx::query(CLOSE_CALLS)
                .bind(at)
                .bind(cause)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            let legs = sqlx::query(CLOSE_LEGS)
                .bind(at)
                .bind(cause)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
            (calls, legs)
        });
        Ok(closed)
    }
}
