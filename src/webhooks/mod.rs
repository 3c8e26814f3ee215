//! Webhooks: a CRM is told when a call ends (`call.ended`) and when a follow-up changes
//! (`followup.changed`), by a signed JSON POST, and nothing is lost while the receiver or
//! hotline is down.
//!
//! The path of a change to a receiver:
//! 1. the database's triggers note it in `webhook_changes` in the transaction that makes it
//!    (migration 0009), whichever process makes it;
//! 2. [`fan_out`] turns each noted change into one outbox row per webhook that wants it,
//!    with its body, and forgets the change, in one transaction;
//! 3. one [`sender::work`] loop per webhook posts the due rows, retrying with [`Backoff`]
//!    until the receiver answers 2xx, or gives a row up (logged) when it is still
//!    undelivered after `give_up_after`.
//!
//! Delivery is at least once: a receiver that answers 2xx too late, or a crash between the
//! answer and its record, gets the same delivery id again. Deliveries are posted in order
//! per webhook, but one that fails waits its backoff while later ones go on.

pub mod config;
pub mod payload;
pub mod sender;

pub use config::{load, parse, Webhook, WebhooksError};
pub use sender::{signature, verify, Client, PostError, SIGNATURE_HEADER};

use std::time::Duration;

use crate::store::{now_ms, NewDelivery, Store, StoreError};

/// Changes fanned out per transaction.
const FAN_OUT_BATCH: u32 = 200;

/// How long a failed delivery waits: `first`, then twice as long after each failure, at most
/// `max`; given up when still undelivered `give_up_after` after it was fanned out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
    pub give_up_after: Duration,
}

impl Default for Backoff {
    /// 5 s, 10 s, 20 s, ... 10 min; given up after 3 days.
    fn default() -> Self {
        Backoff {
            first: Duration::from_secs(5),
            max: Duration::from_secs(600),
            give_up_after: Duration::from_secs(3 * 86_400),
        }
    }
}

impl Backoff {
    /// The wait after the `failures`-th failure in a row (1-based).
    pub fn delay(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(31);
        self.first
            .checked_mul(1 << doublings)
            .unwrap_or(self.max)
            .min(self.max)
    }
}

/// How the webhook task paces itself; the defaults for the server, milliseconds in tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// How often new changes and due deliveries are looked for.
    pub poll: Duration,
    /// Retries.
    pub backoff: Backoff,
    /// Delivered rows are deleted this long after delivery.
    pub keep_delivered: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            poll: Duration::from_secs(1),
            backoff: Backoff::default(),
            keep_delivered: Duration::from_secs(7 * 86_400),
        }
    }
}

/// The server's webhook task: [`run_with`] the default settings.
pub async fn run(store: Store, hooks: Vec<Webhook>) {
    run_with(store, hooks, Settings::default()).await
}

/// Fans changes out and works every webhook's outbox, for ever (until the task is dropped,
/// which stops the senders too). Without webhooks it still forgets the noted changes, so
/// configuring one later does not flood it with the past.
pub async fn run_with(store: Store, hooks: Vec<Webhook>, settings: Settings) {
    match store.pending_webhook_deliveries().await {
        Ok(pending) => {
            for (webhook, count) in pending {
                match hooks.iter().any(|h| h.name == webhook) {
                    true => tracing::info!(%webhook, count, "webhook deliveries still to post"),
                    false => tracing::warn!(%webhook, count,
                        "deliveries for a webhook no longer in the webhooks file wait until it is again"),
                }
            }
        }
        Err(e) => tracing::warn!(%e, "cannot read the webhook outbox"),
    }
    if !hooks.is_empty() {
        let names: Vec<&str> = hooks.iter().map(|h| h.name.as_str()).collect();
        tracing::info!(webhooks = ?names, "posting webhooks");
    }
    let client = Client::new();
    let mut senders = tokio::task::JoinSet::new();
    for hook in &hooks {
        senders.spawn(sender::work(
            store.clone(),
            hook.clone(),
            client.clone(),
            settings,
        ));
    }
    let mut purged_at = 0;
    loop {
        match fan_out(&store, &hooks).await {
            Ok(n) if n == FAN_OUT_BATCH as usize => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(%e, "cannot fan webhook changes out; trying again"),
        }
        let now = now_ms();
        if now - purged_at > 3_600_000 {
            purged_at = now;
            let keep = i64::try_from(settings.keep_delivered.as_millis()).unwrap_or(i64::MAX);
            match store
                .purge_webhook_deliveries(now.saturating_sub(keep))
                .await
            {
                Ok(0) => {}
                Ok(n) => tracing::debug!(deleted = n, "old delivered webhook rows deleted"),
                Err(e) => tracing::warn!(%e, "cannot delete old delivered webhook rows"),
            }
        }
        tokio::time::sleep(settings.poll).await;
    }
}

/// Turns up to one batch of noted changes into outbox rows for the `hooks` that want them;
/// returns how many changes it took. A change whose call or follow-up is gone is dropped.
pub async fn fan_out(store: &Store, hooks: &[Webhook]) -> Result<usize, StoreError> {
    let changes = store.webhook_changes(FAN_OUT_BATCH).await?;
    if changes.is_empty() {
        return Ok(0);
    }
    let mut deliveries = Vec::new();
    for change in &changes {
        let wanted: Vec<&Webhook> = hooks.iter().filter(|h| h.wants(change.event)).collect();
        if wanted.is_empty() {
            continue;
        }
        let Some(data) = payload::data(store, change).await? else {
            tracing::warn!(event = %change.event, subject = %change.subject,
                "the record of a webhook change is gone; not posted");
            continue;
        };
        for hook in wanted {
            let delivery = payload::delivery_id();
            deliveries.push(NewDelivery {
                payload: payload::body(&delivery, change, &data),
                delivery,
                change_id: change.id,
                webhook: hook.name.clone(),
                event: change.event,
            });
        }
    }
    let done: Vec<i64> = changes.iter().map(|c| c.id).collect();
    store
        .fan_out_webhook_changes(&done, &deliveries, now_ms())
        .await?;
    Ok(changes.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_first_wait_up_to_the_cap() {
        let b = Backoff::default();
        let secs: Vec<u64> = (1..=10).map(|n| b.delay(n).as_secs()).collect();
        assert_eq!(secs, [5, 10, 20, 40, 80, 160, 320, 600, 600, 600]);
        assert_eq!(b.delay(0), Duration::from_secs(5));
        assert_eq!(b.delay(u32::MAX), Duration::from_secs(600));
    }
}
