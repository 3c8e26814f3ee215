//! Webhooks through the durable outbox, against a hand-rolled HTTP/1.1 receiver on
//! loopback and the real store (a temporary SQLite file and, with
//! HOTLINE_TEST_POSTGRES_URL, PostgreSQL): a receiver that fails twice still gets every
//! event exactly once, signed; one that is down (also across a restart of the sender) gets
//! everything once it is up; what waits too long is given up, not dropped silently. And the
//! server itself posts `call.ended` for a real SIP call.

#[macro_use]
mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::db::TestDb;
use hmac::{Hmac, Mac};
use hotline::store::{
    FollowUpChange, FollowUpKind, FollowUpMove, FollowUpStatus, NewFollowUp, Store, WebhookEvent,
    Write,
};
use hotline::webhooks::{fan_out, run_with, Backoff, Settings, Webhook};
use sha2::Sha256;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

const SECRET: &str = "a-shared-secret-of-some-length";
const T0: i64 = 1_796_000_000_000;

/// One request the receiver got, and what it answered.
#[derive(Debug, Clone)]
struct Got {
    headers: HashMap<String, String>,
    body: Vec<u8>,
    status: u16,
}

impl Got {
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// A tiny HTTP/1.1 server: answers 500 to the first `fail` requests, then 200, and keeps
/// every request.
struct Receiver {
    addr: SocketAddr,
    got: Arc<Mutex<Vec<Got>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    async fn start(addr: &str, fail: usize) -> Receiver {
        let listener = TcpListener::bind(addr).await.expect("bind the receiver");
        let addr = listener.local_addr().unwrap();
        let got = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::new(AtomicUsize::new(0));
        let kept = got.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((conn, _)) = listener.accept().await else {
                    return;
                };
                let (got, seen) = (kept.clone(), seen.clone());
                tokio::spawn(async move {
                    let (read, mut write) = conn.into_split();
                    let mut read = BufReader::new(read);
                    // One request after another on the kept-alive connection.
                    while let Some((headers, body)) = read_request(&mut read).await {
                        let status = match seen.fetch_add(1, Ordering::SeqCst) < fail {
                            true => 500,
                            false => 200,
                        };
                        got.lock().unwrap().push(Got {
                            headers,
                            body,
                            status,
                        });
                        let answer = format!("HTTP/1.1 {status} X\r\ncontent-length: 2\r\n\r\nok");
                        if write.write_all(answer.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Receiver { addr, got, task }
    }

    fn url(&self) -> String {
        format!("http://{}/hotline/events", self.addr)
    }

    fn got(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }

    /// The requests answered 200.
    fn delivered(&self) -> Vec<Got> {
        self.got().into_iter().filter(|g| g.status == 200).collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn read_request<R: AsyncBufReadExt + Unpin>(
    r: &mut R,
) -> Option<(HashMap<String, String>, Vec<u8>)> {
    let mut line = String::new();
    r.read_line(&mut line).await.ok().filter(|n| *n > 0)?;
    assert!(line.starts_with("POST /hotline/events HTTP/1.1"), "{line}");
    let mut headers = HashMap::new();
    loop {
        line.clear();
        r.read_line(&mut line).await.ok().filter(|n| *n > 0)?;
        let Some((k, v)) = line.trim_end().split_once(':') else {
            break;
        };
        headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
    }
    let len: usize = headers.get("content-length")?.parse().ok()?;
    let mut body = vec![0; len];
    r.read_exact(&mut body).await.ok()?;
    Some((headers, body))
}

fn hook(url: &str, events: &[WebhookEvent]) -> Webhook {
    Webhook {
        name: "crm".into(),
        url: url.parse().unwrap(),
        events: events.to_vec(),
        secret: SECRET.into(),
        timeout: Duration::from_secs(2),
    }
}

/// Milliseconds instead of seconds, so retries happen within the test.
fn fast(give_up_after: Duration) -> Settings {
    Settings {
        poll: Duration::from_millis(20),
        backoff: Backoff {
            first: Duration::from_millis(40),
            max: Duration::from_millis(300),
            give_up_after,
        },
        ..Settings::default()
    }
}

async fn until(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let end = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A call that arrives and ends (twice: one change), and a complaint created, forwarded
/// and noted: one `call.ended` and three `followup.changed`.
async fn changes(store: &Store) -> String {
    let end = |at_ms| Write::CallEnded {
        id: "c-1".into(),
        at_ms,
        by: "caller",
        cause: "caller_bye",
        status: None,
    };
    store
        .apply(&[
            Write::CallArrived {
                id: "c-1".into(),
                sip_call_id: "sip-c-1".into(),
                caller: "13800138000".into(),
                called: "95555".into(),
                source: "192.0.2.10:5060".into(),
                transport: "udp",
                at_ms: T0,
            },
            end(T0 + 60_000),
            end(T0 + 61_000),
        ])
        .await
        .unwrap();
    let mut f = NewFollowUp::new(FollowUpKind::Complaint, "13800138000", T0 + 60_000);
    f.call_id = Some("c-1".into());
    f.category = "billing".into();
    store.create_followup(&f).await.unwrap();
    let moved = store
        .move_followup(&FollowUpMove {
            id: f.id.clone(),
            from: FollowUpStatus::Open,
            change: FollowUpChange::Forward {
                department: "billing".into(),
            },
            at: T0 + 120_000,
            author: "1024".into(),
            revisit: None,
        })
        .await
        .unwrap();
    assert!(moved);
    store
        .add_followup_note(&f.id, T0 + 180_000, "1024", "called the customer")
        .await
        .unwrap();
    f.id
}

fn hmac_hex(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

async fn fails_twice_then_every_event_arrives_once(db: &TestDb) {
    let store = Store::connect(&db.url).await.expect("connect");
    let followup = changes(&store).await;
    let receiver = Receiver::start("127.0.0.1:0", 2).await;
    let hooks = vec![hook(
        &receiver.url(),
        &[WebhookEvent::CallEnded, WebhookEvent::FollowUpChanged],
    )];
    let task = tokio::spawn(run_with(
        store.clone(),
        hooks,
        fast(Duration::from_secs(3600)),
    ));
    until(Duration::from_secs(20), "four deliveries", || {
        receiver.delivered().len() >= 4
    })
    .await;
    // Anything more would come within a few polls.
    tokio::time::sleep(Duration::from_millis(300)).await;
    task.abort();

    let got = receiver.got();
    assert_eq!(got.len(), 6, "two failures, four deliveries: {got:?}");
    let delivered = receiver.delivered();
    let mut ids: Vec<&str> = delivered
        .iter()
        .map(|g| g.headers["x-hotline-delivery"].as_str())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 4, "each delivered exactly once");
    // The failed ones were retried under the same delivery id.
    for g in got.iter().filter(|g| g.status == 500) {
        assert!(ids.contains(&g.headers["x-hotline-delivery"].as_str()));
    }
    for g in &got {
        let sig = &g.headers["x-hotline-signature"];
        assert_eq!(sig, &hmac_hex(&g.body), "HMAC-SHA256 of the body, in hex");
        assert!(hotline::webhooks::verify(SECRET, &g.body, sig));
        assert!(!hotline::webhooks::verify("another secret!!", &g.body, sig));
        let v = g.json();
        assert_eq!(v["id"], g.headers["x-hotline-delivery"].as_str());
        assert_eq!(v["event"], g.headers["x-hotline-event"].as_str());
        assert_eq!(g.headers["content-type"], "application/json");
        let ts: i64 = g.headers["x-hotline-timestamp"].parse().unwrap();
        assert!((ts - hotline::store::now_ms() / 1000).abs() < 60, "{ts}");
    }

    let bodies: Vec<serde_json::Value> = delivered.iter().map(Got::json).collect();
    let ended: Vec<&serde_json::Value> = bodies
        .iter()
        .filter(|v| v["event"] == "call.ended")
        .collect();
    assert_eq!(ended.len(), 1, "one end, though written twice");
    let call = &ended[0]["data"];
    assert_eq!(call["id"], "c-1");
    assert_eq!(
        call["caller"], "13800138000",
        "the CRM gets numbers in full"
    );
    assert_eq!(call["end_cause"], "caller_bye");
    assert_eq!(call["followups"][0], followup.as_str());
    assert_eq!(ended[0]["at"], "2026-11-30T00:54:20.000Z");

    let mut changed: Vec<(String, String, String)> = bodies
        .iter()
        .filter(|v| v["event"] == "followup.changed")
        .map(|v| {
            let d = &v["data"];
            assert_eq!(d["id"], followup.as_str());
            assert_eq!(d["kind"], "complaint");
            assert_eq!(d["call_id"], "c-1");
            let s = |k: &str| d[k].as_str().unwrap_or("-").to_string();
            (s("change"), s("status"), s("by"))
        })
        .collect();
    changed.sort();
    assert_eq!(
        changed,
        [
            (
                "called the customer".into(),
                "forwarded".into(),
                "1024".into()
            ),
            ("created".into(), "open".into(), "-".into()),
            (
                "forwarded to billing".into(),
                "forwarded".into(),
                "1024".into()
            ),
        ]
    );

    let rows = store.webhook_deliveries().await.unwrap();
    assert_eq!(rows.len(), 4);
    assert!(rows
        .iter()
        .all(|r| r.delivered_at.is_some() && r.dead_at.is_none()));
    let attempts: usize = rows.iter().map(|r| r.attempts as usize).sum();
    assert_eq!(attempts, 6, "every attempt counted");
    assert!(store.webhook_changes(10).await.unwrap().is_empty());
    store.close().await;
}

async fn fan_out_keeps_what_each_webhook_wants(db: &TestDb) {
    let store = Store::connect(&db.url).await.expect("connect");
    // Changes while no webhook is configured are forgotten, not saved up.
    changes(&store).await;
    assert_eq!(store.webhook_changes(10).await.unwrap().len(), 4);
    assert_eq!(fan_out(&store, &[]).await.unwrap(), 4);
    assert!(store.webhook_changes(10).await.unwrap().is_empty());
    assert!(store.webhook_deliveries().await.unwrap().is_empty());

    let only = hook("http://127.0.0.1:9/", &[WebhookEvent::FollowUpChanged]);
    let both = Webhook {
        name: "both".into(),
        ..hook(
            "http://127.0.0.1:9/",
            &[WebhookEvent::CallEnded, WebhookEvent::FollowUpChanged],
        )
    };
    let mut f = NewFollowUp::new(FollowUpKind::Callback, "13900139000", T0);
    f.call_id = Some("c-1".into());
    store.create_followup(&f).await.unwrap();
    store
        .apply(&[Write::CallArrived {
            id: "c-2".into(),
            sip_call_id: "sip-c-2".into(),
            caller: "13900139000".into(),
            called: "95555".into(),
            source: "192.0.2.10:5060".into(),
            transport: "tcp",
            at_ms: T0,
        }])
        .await
        .unwrap();
    assert!(
        store.webhook_changes(10).await.unwrap().len() == 1,
        "no end yet"
    );
    store
        .apply(&[Write::CallEnded {
            id: "c-2".into(),
            at_ms: T0 + 5000,
            by: "hotline",
            cause: "rejected",
            status: Some(486),
        }])
        .await
        .unwrap();
    assert_eq!(fan_out(&store, &[only, both]).await.unwrap(), 2);
    let rows = store.webhook_deliveries().await.unwrap();
    let mut seen: Vec<(&str, WebhookEvent)> =
        rows.iter().map(|r| (r.webhook.as_str(), r.event)).collect();
    seen.sort_by_key(|(w, e)| (w.to_string(), e.as_str()));
    assert_eq!(
        seen,
        [
            ("both", WebhookEvent::CallEnded),
            ("both", WebhookEvent::FollowUpChanged),
            ("crm", WebhookEvent::FollowUpChanged),
        ]
    );
    assert!(rows
        .iter()
        .all(|r| r.attempts == 0 && r.delivered_at.is_none()));
    let ids: std::collections::HashSet<&str> = rows.iter().map(|r| r.delivery.as_str()).collect();
    assert_eq!(ids.len(), 3, "one delivery id per webhook and change");
    let ended: serde_json::Value = serde_json::from_str(
        &rows
            .iter()
            .find(|r| r.event == WebhookEvent::CallEnded)
            .unwrap()
            .payload,
    )
    .unwrap();
    assert_eq!(ended["data"]["end_status"], 486);
    store.close().await;
}

backend_tests!(retry_tests, fails_twice_then_every_event_arrives_once);
backend_tests!(fan_out_tests, fan_out_keeps_what_each_webhook_wants);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_down_then_up_gets_everything_across_a_restart() {
    let db = TestDb::sqlite();
    let store = Store::connect(&db.url).await.unwrap();
    // A port with nobody listening: connections are refused.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let url = format!("http://{addr}/hotline/events");
    let hooks = vec![hook(&url, &WebhookEvent::ALL)];
    changes(&store).await;
    let first = tokio::spawn(run_with(
        store.clone(),
        hooks.clone(),
        fast(Duration::from_secs(3600)),
    ));
    let noted = store.clone();
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let rows = noted.webhook_deliveries().await.unwrap();
        if rows.iter().any(|r| r.attempts >= 2) {
            assert!(rows[0].last_error.is_some(), "{rows:?}");
            break;
        }
        assert!(
            Instant::now() < end,
            "no retries while the receiver is down"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // hotline stops; more happens while it is down; then both come back.
    first.abort();
    let _ = first.await;
    store
        .add_followup_note(
            &store.followups().await.unwrap()[0].id,
            T0 + 300_000,
            "2048",
            "while down",
        )
        .await
        .unwrap();
    let receiver = Receiver::start(&addr.to_string(), 0).await;
    let second = tokio::spawn(run_with(
        store.clone(),
        hooks,
        fast(Duration::from_secs(3600)),
    ));
    until(Duration::from_secs(20), "five deliveries", || {
        receiver.delivered().len() >= 5
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    second.abort();
    let got = receiver.got();
    assert_eq!(got.len(), 5, "each once: {got:?}");
    assert!(got
        .iter()
        .any(|g| g.json()["data"]["change"] == "while down"));
    let rows = store.webhook_deliveries().await.unwrap();
    assert!(rows.iter().all(|r| r.delivered_at.is_some()), "{rows:?}");
    store.close().await;
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_undelivered_too_long_is_given_up_and_kept() {
    let db = TestDb::sqlite();
    let store = Store::connect(&db.url).await.unwrap();
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let hooks = vec![hook(
        &format!("http://{addr}/hotline/events"),
        &[WebhookEvent::CallEnded],
    )];
    changes(&store).await;
    let task = tokio::spawn(run_with(
        store.clone(),
        hooks,
        fast(Duration::from_millis(100)),
    ));
    let end = Instant::now() + Duration::from_secs(10);
    let dead = loop {
        let rows = store.webhook_deliveries().await.unwrap();
        if let Some(d) = rows.iter().find(|r| r.dead_at.is_some()) {
            break d.clone();
        }
        assert!(Instant::now() < end, "never given up: {rows:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    // Given up, it is no longer tried, even once the receiver is back.
    let receiver = Receiver::start(&addr.to_string(), 0).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    task.abort();
    assert!(receiver.got().is_empty());
    assert!(dead.delivered_at.is_none() && dead.attempts >= 1);
    assert!(dead.last_error.is_some());
    store.close().await;
    db.finish().await;
}

/// The server with a webhooks file: a call from a scripted phone ends, and the receiver
/// is told, with the call's SIP Call-ID.
#[test]
fn the_server_posts_call_ended_for_a_real_call() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let receiver = rt.block_on(Receiver::start("127.0.0.1:0", 0));
    let dir = common::TempDir::new("webhooks-e2e");
    let file = dir.0.join("webhooks.toml");
    std::fs::write(
        &file,
        format!(
            "[[webhooks]]\nname = \"crm\"\nurl = \"{}\"\nevents = [\"call.ended\"]\nsecret = \"{SECRET}\"\n",
            receiver.url()
        ),
    )
    .unwrap();
    let server =
        common::Server::start(&["--ring-delay-ms", "0", "--webhooks", file.to_str().unwrap()]);
    let phone = common::Phone::new(&server.addr());
    phone.send(&phone.request("INVITE", "hook-call-1", 1, "z9hG4bKh1", None, &phone.sdp()));
    let ok = phone
        .wait_for(Duration::from_secs(10), |r| r.status() == Some(200))
        .expect("200 OK");
    let tag = ok.to_tag().expect("To tag");
    phone.send(&phone.request("ACK", "hook-call-1", 1, "z9hG4bKh1a", Some(&tag), ""));
    std::thread::sleep(Duration::from_millis(300));
    phone.send(&phone.request("BYE", "hook-call-1", 2, "z9hG4bKh1b", Some(&tag), ""));
    let end = Instant::now() + Duration::from_secs(15);
    while receiver.delivered().is_empty() {
        assert!(
            Instant::now() < end,
            "no call.ended posted:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let got = receiver.delivered();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].headers["x-hotline-event"], "call.ended");
    assert!(hotline::webhooks::verify(
        SECRET,
        &got[0].body,
        &got[0].headers["x-hotline-signature"]
    ));
    let v = got[0].json();
    assert_eq!(v["data"]["sip_call_id"], "hook-call-1");
    assert_eq!(v["data"]["end_cause"], "caller_bye");
    drop(server);
    drop(receiver);
}

/// `hotline check` names the file, the line and the reason, and never the secret.
#[test]
fn check_refuses_a_bad_webhooks_file_by_line() {
    let dir = common::TempDir::new("webhooks-check");
    let file = dir.0.join("webhooks.toml");
    std::fs::write(
        &file,
        "[[webhooks]]\nname = \"crm\"\nurl = \"ftp://crm.example.com/in\"\n\
         events = [\"call.ended\"]\nsecret = \"supersecretvalue-123\"\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hotline"))
        .args(["check", "--webhooks", file.to_str().unwrap()])
        .args([
            "--dialplans",
            concat!(env!("CARGO_MANIFEST_DIR"), "/dialplans"),
        ])
        .args(["--prompts", concat!(env!("CARGO_MANIFEST_DIR"), "/prompts")])
        .env_remove("HOTLINE_WEBHOOKS")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    let line = format!("{}:3: webhook \"crm\": url must be", file.display());
    assert!(text.contains(&line), "{text}");
    assert!(!text.contains("supersecretvalue"), "{text}");
}
