//! The JSON bodies posted to webhooks. Each is an envelope — the delivery id, the event,
//! when it happened — around the event's data: a `call.ended` carries the call as `hotline
//! calls show --json` does ([`crate::store::CallDetail`]); a `followup.changed` carries the
//! follow-up and what changed. Numbers are in full: a receiver is trusted with what the
//! database holds, and is reached only with the shared secret's signature.

use serde::Serialize;

use crate::store::{utc, Store, StoreError, WebhookChange, WebhookEvent};

/// What every body looks like.
#[derive(Serialize)]
struct Envelope<'a> {
    /// The delivery id, as in `X-Hotline-Delivery`: the same on every retry.
    id: &'a str,
    event: WebhookEvent,
    /// When it happened.
    #[serde(with = "utc")]
    at: i64,
    data: &'a serde_json::Value,
}

/// The data of a `followup.changed`.
#[derive(Serialize)]
struct FollowUpChanged {
    /// The follow-up's id.
    id: String,
    /// `callback`, `complaint` or `revisit`.
    kind: &'static str,
    /// Its status after the change.
    status: Option<String>,
    /// What changed: `created`, or the line it added to the note history
    /// (`forwarded to billing`, `resolved: refund`, a note's text, ...).
    change: Option<String>,
    /// Who made the change (agent ID, user, `system`, `hotline`); `None` when created.
    by: Option<String>,
    /// When.
    #[serde(with = "utc")]
    at: i64,
    category: String,
    urgency: i32,
    /// The call it came from.
    call_id: Option<String>,
    /// The customer's account, if known.
    customer: Option<String>,
    /// The number to call back.
    number: String,
    /// Agent or department that owns it.
    owner: Option<String>,
    /// A revisit's complaint.
    parent_id: Option<String>,
}

/// The data of `change`, read from the store now; `None` when its call or follow-up is gone.
pub async fn data(
    store: &Store,
    change: &WebhookChange,
) -> Result<Option<serde_json::Value>, StoreError> {
    let value = match change.event {
        WebhookEvent::CallEnded => store
            .call_detail(&change.subject)
            .await?
            .map(serde_json::to_value),
        WebhookEvent::FollowUpChanged => store.followup(&change.subject).await?.map(|row| {
            let f = row.spec;
            serde_json::to_value(FollowUpChanged {
                kind: f.kind.as_str(),
                status: change.status.clone(),
                change: change.change.clone(),
                by: change.author.clone(),
                at: change.at,
                category: f.category,
                urgency: f.urgency,
                call_id: f.call_id,
                customer: f.customer,
                number: f.number,
                owner: f.owner,
                parent_id: f.parent_id,
                id: f.id,
            })
        }),
    };
    // Serialising these types cannot fail (no maps with non-string keys, no NaN).
    Ok(value.and_then(Result::ok))
}

/// The body posted for `change` as delivery `delivery`.
pub fn body(delivery: &str, change: &WebhookChange, data: &serde_json::Value) -> String {
    let envelope = Envelope {
        id: delivery,
        event: change.event,
        at: change.at,
        data,
    };
    serde_json::to_string(&envelope).unwrap_or_default()
}

/// A fresh delivery id: random, so ids from two databases never collide at a receiver.
pub fn delivery_id() -> String {
    format!("dlv-{:032x}", rand::random::<u128>())
}
