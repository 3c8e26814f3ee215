//! The webhook outbox as rows: changes the database's triggers noted (`webhook_changes`,
//! see migration 0009), their fan-out into one delivery per webhook, and each delivery's
//! attempts until it is delivered or given up. Who gets what, the payloads and the posting
//! are in `crate::webhooks`; this only stores.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{Db, Store, StoreError};

/// What a webhook can be told about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum WebhookEvent {
    /// A call ended (both directions).
    #[serde(rename = "call.ended")]
    CallEnded,
    /// A follow-up was created, moved, noted, escalated or called about.
    #[serde(rename = "followup.changed")]
    FollowUpChanged,
}

impl WebhookEvent {
    /// Every event, in the order the README lists them.
    pub const ALL: [WebhookEvent; 2] = [WebhookEvent::CallEnded, WebhookEvent::FollowUpChanged];

    /// The name in `webhooks.toml`, the payload and `X-Hotline-Event`.
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookEvent::CallEnded => "call.ended",
            WebhookEvent::FollowUpChanged => "followup.changed",
        }
    }
}

impl fmt::Display for WebhookEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for WebhookEvent {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        WebhookEvent::ALL
            .into_iter()
            .find(|e| e.as_str() == s)
            .ok_or_else(|| format!("unknown event {s:?}: expected call.ended or followup.changed"))
    }
}

/// A change noted by a trigger, not yet fanned out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookChange {
    /// Its row id.
    pub id: i64,
    /// What kind of change.
    pub event: WebhookEvent,
    /// The call's or the follow-up's id.
    pub subject: String,
    /// When it happened, ms.
    pub at: i64,
    /// `followup.changed`: who made the change (`None`: the follow-up was created).
    pub author: Option<String>,
    /// `followup.changed`: what changed (the line of its note history, or `created`).
    pub change: Option<String>,
    /// `followup.changed`: its status after the change.
    pub status: Option<String>,
}

/// A delivery to add to the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    /// Random id, for `X-Hotline-Delivery` and the body.
    pub delivery: String,
    /// The change it tells of.
    pub change_id: i64,
    /// The webhook's name.
    pub webhook: String,
    /// The event.
    pub event: WebhookEvent,
    /// The JSON body.
    pub payload: String,
}

/// A delivery in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Row id: deliveries are tried in this order.
    pub id: i64,
    /// Random id, for `X-Hotline-Delivery`.
    pub delivery: String,
    /// The change it tells of.
    pub change_id: i64,
    /// The webhook's name.
    pub webhook: String,
    /// The event.
    pub event: WebhookEvent,
    /// The JSON body, exactly as posted and signed.
    pub payload: String,
    /// Fanned out, ms.
    pub created_at: i64,
    /// Attempts made so far.
    pub attempts: u32,
    /// Not to be tried before, ms.
    pub next_attempt_at: i64,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// The receiver answered 2xx, ms.
    pub delivered_at: Option<i64>,
    /// Given up, ms.
    pub dead_at: Option<i64>,
}

const SELECT_DELIVERIES: &str = "SELECT id, delivery, change_id, webhook, event, payload, \
     created_at, attempts, next_attempt_at, last_error, delivered_at, dead_at FROM webhook_outbox";

const PENDING: &str = "delivered_at IS NULL AND dead_at IS NULL";

type RawChange = (
    i64,
    String,
    String,
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
);

#[derive(sqlx::FromRow)]
struct RawDelivery {
    id: i64,
    delivery: String,
    change_id: i64,
    webhook: String,
    event: String,
    payload: String,
    created_at: i64,
    attempts: i32,
    next_attempt_at: i64,
    last_error: Option<String>,
    delivered_at: Option<i64>,
    dead_at: Option<i64>,
}

impl TryFrom<RawDelivery> for Delivery {
    type Error = StoreError;

    fn try_from(r: RawDelivery) -> Result<Self, StoreError> {
        let bad = |column| StoreError::BadValue {
            id: r.delivery.clone(),
            column,
        };
        Ok(Delivery {
            event: r.event.parse().map_err(|_| bad("event"))?,
            attempts: u32::try_from(r.attempts).map_err(|_| bad("attempts"))?,
            id: r.id,
            delivery: r.delivery,
            change_id: r.change_id,
            webhook: r.webhook,
            payload: r.payload,
            created_at: r.created_at,
            next_attempt_at: r.next_attempt_at,
            last_error: r.last_error,
            delivered_at: r.delivered_at,
            dead_at: r.dead_at,
        })
    }
}

impl Store {
    /// Up to `limit` changes waiting to be fanned out, oldest first.
    pub async fn webhook_changes(&self, limit: u32) -> Result<Vec<WebhookChange>, StoreError> {
        let q = "SELECT id, event, subject, at, author, change, status FROM webhook_changes \
                 ORDER BY id LIMIT $1";
        let rows: Vec<RawChange> = on_db!(&self.db, pool => {
            sqlx::query_as(q).bind(i64::from(limit)).fetch_all(pool).await?
        });
        rows.into_iter()
            .map(|(id, event, subject, at, author, change, status)| {
                Ok(WebhookChange {
                    event: event.parse().map_err(|_| StoreError::BadValue {
                        id: id.to_string(),
                        column: "event",
                    })?,
                    id,
                    subject,
                    at,
                    author,
                    change,
                    status,
                })
            })
            .collect()
    }

    /// Adds `deliveries` to the outbox, due at `now`, and forgets the changes `done`, in one
    /// transaction: a change is either still waiting or in the outbox. Fanning the same change
    /// out to the same webhook twice adds nothing.
    pub async fn fan_out_webhook_changes(
        &self,
        done: &[i64],
        deliveries: &[NewDelivery],
        now: i64,
    ) -> Result<(), StoreError> {
        let insert = "INSERT INTO webhook_outbox \
             (delivery, change_id, webhook, event, payload, created_at, next_attempt_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (change_id, webhook) DO NOTHING";
        on_db!(&self.db, pool => {
            let mut tx = pool.begin().await?;
            for d in deliveries {
                sqlx::query(insert)
                    .bind(d.delivery.as_str())
                    .bind(d.change_id)
                    .bind(d.webhook.as_str())
                    .bind(d.event.as_str())
                    .bind(d.payload.as_str())
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
            }
            for id in done {
                sqlx::query("DELETE FROM webhook_changes WHERE id = $1")
                    .bind(*id)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Up to `limit` deliveries to `webhook` that are due at `now`, in the order they were
    /// fanned out.
    pub async fn due_webhook_deliveries(
        &self,
        webhook: &str,
        now: i64,
        limit: u32,
    ) -> Result<Vec<Delivery>, StoreError> {
        let q = format!(
            "{SELECT_DELIVERIES} WHERE webhook = $1 AND {PENDING} AND next_attempt_at <= $2 \
             ORDER BY id LIMIT $3"
        );
        let raw: Vec<RawDelivery> = on_db!(&self.db, pool => {
            sqlx::query_as(&q).bind(webhook).bind(now).bind(i64::from(limit))
                .fetch_all(pool).await?
        });
        raw.into_iter().map(Delivery::try_from).collect()
    }

    /// Every delivery in the outbox, in order (for tests and inspection).
    pub async fn webhook_deliveries(&self) -> Result<Vec<Delivery>, StoreError> {
        let q = format!("{SELECT_DELIVERIES} ORDER BY id");
        let raw: Vec<RawDelivery> = on_db!(&self.db, pool => {
            sqlx::query_as(&q).fetch_all(pool).await?
        });
        raw.into_iter().map(Delivery::try_from).collect()
    }

    /// Delivery `id` was answered 2xx at `at`.
    pub async fn webhook_delivered(&self, id: i64, at: i64) -> Result<(), StoreError> {
        let q = "UPDATE webhook_outbox SET delivered_at = $2, attempts = attempts + 1, \
                 last_error = NULL WHERE id = $1";
        on_db!(&self.db, pool => {
            sqlx::query(q).bind(id).bind(at).execute(pool).await?;
        });
        Ok(())
    }

    /// An attempt at delivery `id` failed with `error`; the next is due at `next_at`.
    pub async fn webhook_failed(
        &self,
        id: i64,
        next_at: i64,
        error: &str,
    ) -> Result<(), StoreError> {
        let q = "UPDATE webhook_outbox SET attempts = attempts + 1, next_attempt_at = $2, \
                 last_error = $3 WHERE id = $1";
        on_db!(&self.db, pool => {
            sqlx::query(q).bind(id).bind(next_at).bind(error).execute(pool).await?;
        });
        Ok(())
    }

    /// Gives up, at `at`, on every undelivered delivery to `webhook` fanned out before
    /// `before`; returns them (delivery id, event) so each can be logged.
    pub async fn give_up_webhook_deliveries(
        &self,
        webhook: &str,
        before: i64,
        at: i64,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let q = format!(
            "UPDATE webhook_outbox SET dead_at = $3 WHERE webhook = $1 AND {PENDING} \
             AND created_at < $2 RETURNING delivery, event"
        );
        let rows: Vec<(String, String)> = on_db!(&self.db, pool => {
            sqlx::query_as(&q).bind(webhook).bind(before).bind(at).fetch_all(pool).await?
        });
        Ok(rows)
    }

    /// Deletes deliveries delivered before `before`; returns how many.
    pub async fn purge_webhook_deliveries(&self, before: i64) -> Result<u64, StoreError> {
        let q = "DELETE FROM webhook_outbox WHERE delivered_at < $1";
        let done = on_db!(&self.db, pool => {
            sqlx::query(q).bind(before).execute(pool).await?.rows_affected()
        });
        Ok(done)
    }

    /// Undelivered deliveries (not given up) per webhook, for the start-up line: those to
    /// a webhook no longer configured wait until it is configured again.
    pub async fn pending_webhook_deliveries(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let q = format!(
            "SELECT webhook, COUNT(*) FROM webhook_outbox WHERE {PENDING} \
             GROUP BY webhook ORDER BY webhook"
        );
        let rows: Vec<(String, i64)> = on_db!(&self.db, pool => {
            sqlx::query_as(&q).fetch_all(pool).await?
        });
        Ok(rows)
    }
}
