//! Applying the escalation rule to the database: the rule ([`super::escalation`]) decides,
//! the store reads and writes the rows.

use super::{escalation, Rules};
use crate::store::{Store, StoreError};

/// Escalates every open complaint that has missed a deadline it was not yet escalated
/// for, as of `now` (ms since the Unix epoch). Returns how many were escalated. Run by
/// `serve` every minute and by `hotline followups` and `hotline report` before they read.
pub async fn escalate_overdue(store: &Store, rules: &Rules, now: i64) -> Result<usize, StoreError> {
    let mut n = 0;
    for f in store.open_followups().await? {
        if let Some(e) = escalation(&f, now, rules) {
            if store
                .escalate_followup(&f.id, e.level, e.urgency_rise, now)
                .await?
            {
                n += 1;
            }
        }
    }
    Ok(n)
}
