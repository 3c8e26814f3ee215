//! Callers to refuse (the blocklist) and callers to review (flags).
//!
//! A number is stored as [`normalize_number`] makes it, and every lookup normalises the
//! same way, so `138 0013-8000` typed at the command line is the caller `13800138000`.
//! A block may end by itself (`until_at`); the running server reloads
//! [`Store::blocked_numbers`] every few seconds, so an expired block needs no clean-up.
//! A flag never refuses a call: it asks a supervisor to review the caller's complaints.
//!
//! Numbers are personal data: the `Debug` output of the rows masks them and hides the
//! free text written about the caller.

use std::fmt;

use super::customers::Redacted;
use super::{Db, Store, StoreError};
use crate::ivr::action::mask;

/// The number as stored and looked up: spaces and dashes dropped, a leading `+` kept.
/// Used on every write and every lookup, so the two always agree.
pub fn normalize_number(number: &str) -> String {
    number
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect()
}

/// A blocked number, as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct BlockedCaller {
    /// The normalised number.
    pub number: String,
    /// Why it is blocked.
    pub reason: String,
    /// ms since the Unix epoch when the block ends; `None`: until unblocked.
    pub until_at: Option<i64>,
    /// ms since the Unix epoch, when it was first blocked.
    pub created_at: i64,
    /// Who blocked it.
    pub created_by: String,
}

impl BlockedCaller {
    /// Whether calls from the number are refused at `now_ms` (the rule
    /// [`Store::blocked_numbers`] applies in SQL).
    pub fn in_force(&self, now_ms: i64) -> bool {
        self.until_at.is_none_or(|until| until > now_ms)
    }
}

impl fmt::Debug for BlockedCaller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockedCaller")
            .field("number", &mask(&self.number))
            .field("reason", &Redacted)
            .field("until_at", &self.until_at)
            .field("created_at", &self.created_at)
            .field("created_by", &self.created_by)
            .finish()
    }
}

/// What a flag says about a caller (the schema's `CHECK` lists the same values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallerFlagKind {
    /// Files complaints in bad faith: a supervisor reviews them.
    Malicious,
}

impl CallerFlagKind {
    /// The stored value.
    pub fn as_str(self) -> &'static str {
        match self {
            CallerFlagKind::Malicious => "malicious",
        }
    }

    /// The kind a stored (or typed) value names.
    pub fn parse(s: &str) -> Option<CallerFlagKind> {
        match s {
            "malicious" => Some(CallerFlagKind::Malicious),
            _ => None,
        }
    }
}

/// A flagged number, as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct CallerFlag {
    /// The normalised number.
    pub number: String,
    /// What the flag says.
    pub flag: CallerFlagKind,
    /// Why, for the supervisor.
    pub note: String,
    /// ms since the Unix epoch, when it was first flagged.
    pub created_at: i64,
    /// Who flagged it.
    pub created_by: String,
}

impl fmt::Debug for CallerFlag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallerFlag")
            .field("number", &mask(&self.number))
            .field("flag", &self.flag)
            .field("note", &Redacted)
            .field("created_at", &self.created_at)
            .field("created_by", &self.created_by)
            .finish()
    }
}

// Blocking or flagging again changes what it says, not who first did it or when.
const UPSERT_BLOCK: &str = "INSERT INTO blocked_callers \
     (number, reason, until_at, created_at, created_by) VALUES ($1, $2, $3, $4, $5) \
     ON CONFLICT (number) DO UPDATE SET reason = excluded.reason, until_at = excluded.until_at";

const UPSERT_FLAG: &str = "INSERT INTO caller_flags \
     (number, flag, note, created_at, created_by) VALUES ($1, $2, $3, $4, $5) \
     ON CONFLICT (number) DO UPDATE SET flag = excluded.flag, note = excluded.note";

type BlockTuple = (String, String, Option<i64>, i64, String);
type FlagTuple = (String, String, String, i64, String);

impl Store {
    /// Blocks `number` from `at` (ms) until `until` (ms; `None`: until unblocked), as `by`
    /// said, for `reason`. Blocking a blocked number replaces its reason and end.
    pub async fn block_caller(
        &self,
        number: &str,
        reason: &str,
        until: Option<i64>,
        by: &str,
        at: i64,
    ) -> Result<(), StoreError> {
        let number = normalize_number(number);
        on_db!(&self.db, pool => {
            sqlx::query(UPSERT_BLOCK)
                .bind(number.as_str())
                .bind(reason)
                .bind(until)
                .bind(at)
                .bind(by)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Lifts the block on `number`; false when it was not blocked (expired blocks count as
    /// blocked until lifted: their row is still there).
    pub async fn unblock_caller(&self, number: &str) -> Result<bool, StoreError> {
        let number = normalize_number(number);
        let done = on_db!(&self.db, pool => {
            sqlx::query("DELETE FROM blocked_callers WHERE number = $1")
                .bind(number.as_str())
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(done > 0)
    }

    /// Every block, in force or expired, oldest first.
    pub async fn blocked_callers(&self) -> Result<Vec<BlockedCaller>, StoreError> {
        let rows: Vec<BlockTuple> = on_db!(&self.db, pool => {
            sqlx::query_as(
                "SELECT number, reason, until_at, created_at, created_by FROM blocked_callers \
                 ORDER BY created_at, number",
            )
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(
                |(number, reason, until_at, created_at, created_by)| BlockedCaller {
                    number,
                    reason,
                    until_at,
                    created_at,
                    created_by,
                },
            )
            .collect())
    }

    /// The numbers whose calls are refused at `now_ms`, sorted: blocks with no end or an
    /// end after `now_ms`. The running server reloads this every few seconds.
    pub async fn blocked_numbers(&self, now_ms: i64) -> Result<Vec<String>, StoreError> {
        let numbers: Vec<String> = on_db!(&self.db, pool => {
            sqlx::query_scalar(
                "SELECT number FROM blocked_callers \
                 WHERE until_at IS NULL OR until_at > $1 ORDER BY number",
            )
            .bind(now_ms)
            .fetch_all(pool)
            .await?
        });
        Ok(numbers)
    }

    /// Flags `number` from `at` (ms), as `by` said, with a `note` for the supervisor.
    /// Flagging a flagged number replaces its flag and note.
    pub async fn flag_caller(
        &self,
        number: &str,
        flag: CallerFlagKind,
        note: &str,
        by: &str,
        at: i64,
    ) -> Result<(), StoreError> {
        let number = normalize_number(number);
        on_db!(&self.db, pool => {
            sqlx::query(UPSERT_FLAG)
                .bind(number.as_str())
                .bind(flag.as_str())
                .bind(note)
                .bind(at)
                .bind(by)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Removes the flag on `number`; false when it had none.
    pub async fn unflag_caller(&self, number: &str) -> Result<bool, StoreError> {
        let number = normalize_number(number);
        let done = on_db!(&self.db, pool => {
            sqlx::query("DELETE FROM caller_flags WHERE number = $1")
                .bind(number.as_str())
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(done > 0)
    }

    /// Every flag, oldest first.
    pub async fn caller_flags(&self) -> Result<Vec<CallerFlag>, StoreError> {
        let rows: Vec<FlagTuple> = on_db!(&self.db, pool => {
            sqlx::query_as(
                "SELECT number, flag, note, created_at, created_by FROM caller_flags \
                 ORDER BY created_at, number",
            )
            .fetch_all(pool)
            .await?
        });
        rows.into_iter()
            .map(|(number, flag, note, created_at, created_by)| {
                let flag = CallerFlagKind::parse(&flag).ok_or_else(|| {
                    let why = format!("caller_flags.flag holds {flag:?}, not a known flag");
                    StoreError::Database(sqlx::Error::Decode(why.into()))
                })?;
                Ok(CallerFlag {
                    number,
                    flag,
                    note,
                    created_at,
                    created_by,
                })
            })
            .collect()
    }
}
