//! Posting deliveries: one small HTTP/1.1 client (hyper, rustls with Mozilla's roots for
//! `https://`), the signature, and the loop that works one webhook's outbox with backoff.

use std::time::Duration;

use hmac::{Hmac, Mac};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::Request;
use hyper_util::client::legacy::{connect::HttpConnector, Client as HyperClient};
use hyper_util::rt::TokioExecutor;
use sha2::Sha256;

use super::{Settings, Webhook};
use crate::store::{now_ms, Delivery, Store};

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "x-hotline-signature";

/// Deliveries fetched per round.
const BATCH: u32 = 50;
/// Most of a receiver's answer read (then the connection is dropped).
const MAX_ANSWER: usize = 64 * 1024;
/// How long to wait for a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// `sha256=HEX(HMAC-SHA256(secret, body))`, the value of `X-Hotline-Signature`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = mac(secret);
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Whether `header` is the signature of `body` with `secret`, compared in constant time;
/// what a receiver does (see the README).
pub fn verify(secret: &str, body: &[u8], header: &str) -> bool {
    let Some(sig) = header
        .strip_prefix("sha256=")
        .and_then(|h| hex::decode(h).ok())
    else {
        return false;
    };
    let mut mac = mac(secret);
    mac.update(body);
    mac.verify_slice(&sig).is_ok()
}

fn mac(secret: &str) -> Hmac<Sha256> {
    // HMAC takes a key of any length.
    Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts any key length")
}

/// Why one attempt failed; every kind is retried.
#[derive(Debug, thiserror::Error)]
pub enum PostError {
    /// No connection, a reset, a TLS failure.
    #[error("{0}")]
    Connection(String),
    /// No complete answer within the webhook's timeout.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The receiver answered, but not 2xx.
    #[error("HTTP {0}")]
    Status(u16),
}

/// An HTTP/1.1 client for `http://` and `https://`; keeps connections for reuse.
#[derive(Clone)]
pub struct Client {
    inner: HyperClient<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl Client {
    /// A client trusting Mozilla's root certificates (no system store is needed).
    pub fn new() -> Client {
        let mut http = HttpConnector::new();
        http.set_connect_timeout(Some(CONNECT_TIMEOUT));
        http.enforce_http(false);
        // ring builds without cmake or a C++ toolchain; the post-quantum key exchange that
        // rustls deprecates it for is not needed to post a webhook.
        #[allow(deprecated)]
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(provider)
            // Fails only for a provider without TLS 1.2 and 1.3; ring has both.
            .expect("ring supports the default TLS versions")
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        Client {
            inner: HyperClient::builder(TokioExecutor::new()).build(https),
        }
    }

    /// Posts `d` to `hook`, signed; `Ok` when the receiver answered 2xx in time.
    pub async fn post(&self, hook: &Webhook, d: &Delivery) -> Result<(), PostError> {
        let body = Bytes::from(d.payload.clone());
        let request = Request::post(hook.url.clone())
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(
                hyper::header::USER_AGENT,
                concat!("hotline/", env!("CARGO_PKG_VERSION")),
            )
            .header("x-hotline-event", d.event.as_str())
            .header("x-hotline-delivery", d.delivery.as_str())
            .header("x-hotline-timestamp", (now_ms() / 1000).to_string())
            .header(SIGNATURE_HEADER, signature(&hook.secret, &body))
            .body(Full::new(body))
            .map_err(|e| PostError::Connection(e.to_string()))?;
        let exchange = async {
            let answer = self
                .inner
                .request(request)
                .await
                .map_err(|e| PostError::Connection(error_chain(&e)))?;
            let status = answer.status();
            // Read the answer so the connection can be reused; its content does not matter.
            let _ = Limited::new(answer.into_body(), MAX_ANSWER).collect().await;
            match status.is_success() {
                true => Ok(()),
                false => Err(PostError::Status(status.as_u16())),
            }
        };
        tokio::time::timeout(hook.timeout, exchange)
            .await
            .unwrap_or(Err(PostError::Timeout(hook.timeout)))
    }
}

impl Default for Client {
    fn default() -> Self {
        Client::new()
    }
}

/// The error and its causes, one line (hyper's own text is only "client error (Connect)").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Works `hook`'s outbox for ever: posts due deliveries in order; after a failure, the
/// delivery waits its backoff and the whole webhook pauses by the same schedule (counted in
/// failures in a row), so a receiver that is down is asked once per pause, not once per
/// delivery. Never returns.
pub async fn work(store: Store, hook: Webhook, client: Client, settings: Settings) {
    let mut failures: u32 = 0;
    loop {
        let due = match store
            .due_webhook_deliveries(&hook.name, now_ms(), BATCH)
            .await
        {
            Ok(due) => due,
            Err(e) => {
                tracing::warn!(webhook = %hook.name, %e, "cannot read the webhook outbox; trying again");
                tokio::time::sleep(settings.poll).await;
                continue;
            }
        };
        if due.is_empty() {
            tokio::time::sleep(settings.poll).await;
            continue;
        }
        for d in &due {
            match client.post(&hook, d).await {
                Ok(()) => {
                    if failures > 0 {
                        tracing::info!(webhook = %hook.name, "webhook receiver answers again");
                        failures = 0;
                    }
                    tracing::debug!(webhook = %hook.name, delivery = %d.delivery, event = %d.event, "webhook delivered");
                    if let Err(e) = store.webhook_delivered(d.id, now_ms()).await {
                        // It will be posted again: receivers de-duplicate by delivery id.
                        tracing::warn!(webhook = %hook.name, delivery = %d.delivery, %e, "delivered, but cannot mark it so");
                    }
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    failed(&store, &hook, d, &e, &settings).await;
                    tokio::time::sleep(settings.backoff.delay(failures)).await;
                    break;
                }
            }
        }
    }
}

/// Notes a failed attempt at `d` with its next time, logs it, and gives up on what has
/// waited too long.
async fn failed(store: &Store, hook: &Webhook, d: &Delivery, e: &PostError, settings: &Settings) {
    let attempt = d.attempts + 1;
    let wait = settings.backoff.delay(attempt);
    let now = now_ms();
    let next = now.saturating_add(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX));
    tracing::warn!(webhook = %hook.name, delivery = %d.delivery, event = %d.event, attempt,
        retry_in_ms = wait.as_millis() as u64, error = %e, "webhook delivery failed; will retry");
    if let Err(e) = store.webhook_failed(d.id, next, &e.to_string()).await {
        tracing::warn!(webhook = %hook.name, delivery = %d.delivery, %e, "cannot note the failed attempt");
    }
    let give_up = i64::try_from(settings.backoff.give_up_after.as_millis()).unwrap_or(i64::MAX);
    match store
        .give_up_webhook_deliveries(&hook.name, now.saturating_sub(give_up), now)
        .await
    {
        Ok(dead) => {
            for (delivery, event) in dead {
                tracing::error!(webhook = %hook.name, %delivery, %event,
                    undelivered_for_secs = settings.backoff.give_up_after.as_secs(),
                    "webhook delivery given up: still undelivered; kept in the outbox as dead");
            }
        }
        Err(e) => tracing::warn!(webhook = %hook.name, %e, "cannot give up old deliveries"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_in_hex_and_verifies() {
        // RFC 4231 test case 2.
        let sig = signature("Jefe", b"what do ya want for nothing?");
        assert_eq!(
            sig,
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert!(verify("Jefe", b"what do ya want for nothing?", &sig));
        assert!(!verify("Jefe", b"what do ya want for nothing!", &sig));
        assert!(!verify("jefe", b"what do ya want for nothing?", &sig));
        assert!(!verify("Jefe", b"x", "md5=00"));
    }
}
