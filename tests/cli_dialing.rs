//! `hotline followups call` and what the work list and `hotline calls list` show of outbound
//! calls: the built binary on a temporary SQLite database. A follow-up that cannot be called
//! or an unknown agent is refused by name and leaves no request; numbers are masked unless
//! `--show-numbers`.

mod common;

use common::TempDir;
use hotline::store::{
    DialResult, FollowUpKind, FollowUpStatus, NewAgent, NewFollowUp, Store, Write,
};
use std::process::{Command, Output};

const T0: i64 = 1_796_000_000_000;

fn hotline() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hotline"));
    for (k, _) in std::env::vars() {
        if k.starts_with("HOTLINE_") {
            c.env_remove(k);
        }
    }
    c
}

fn db_url(dir: &TempDir) -> String {
    format!("sqlite://{}/dialing.db", dir.0.display())
}

/// Runs `hotline ARGS...` on the database in `dir`, with the shipped dial plans and
/// `USER=ops` as the OS user.
fn run(dir: &TempDir, command: &str, args: &[&str]) -> Output {
    hotline()
        .env("USER", "ops")
        .args([command, "--database", &db_url(dir)])
        .args([
            "--dialplans",
            concat!(env!("CARGO_MANIFEST_DIR"), "/dialplans"),
        ])
        .args(args)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Succeeded, with exactly one line on stdout; that line.
fn confirmed(o: &Output) -> String {
    assert!(o.status.success(), "{}{}", stdout(o), stderr(o));
    let text = stdout(o);
    assert_eq!(text.lines().count(), 1, "one confirmation line: {text}");
    text
}

/// Failed, naming `id` on stderr; stderr.
fn refused(o: &Output, id: &str) -> String {
    assert!(!o.status.success(), "{}", stdout(o));
    let err = stderr(o);
    assert!(err.contains(id), "names {id}: {err}");
    err
}

/// The follow-ups of the tests: (callback from a call in queue `cards`, complaint, resolved
/// callback, unreachable revisit, outbound call id).
struct Fixture {
    callback: String,
    complaint: String,
    resolved: String,
    unreachable: String,
}

async fn fixture(dir: &TempDir) -> Fixture {
    let store = Store::connect(&db_url(dir)).await.unwrap();
    store
        .add_agent(
            &NewAgent {
                id: "1024".into(),
                name: "Li Lei".into(),
                extension: "1024".into(),
                password: "correct horse 1024".into(),
                realm: "hotline".into(),
                queues: vec![("cards".into(), 0)],
            },
            T0,
        )
        .await
        .unwrap();
    store
        .apply(&[Write::CallArrived {
            id: "in-1".into(),
            sip_call_id: "sip-in-1".into(),
            caller: "13900139000".into(),
            called: "95555".into(),
            source: "192.0.2.10:5060".into(),
            transport: "udp",
            at_ms: T0,
        }])
        .await
        .unwrap();
    store
        .set_call_ivr("in-1", None, None, None, None, Some("cards"), None)
        .await
        .unwrap();
    let new = |kind| {
        let mut f = NewFollowUp::new(kind, "13900139000", T0);
        f.call_id = Some("in-1".into());
        f
    };
    let callback = new(FollowUpKind::Callback);
    let complaint = new(FollowUpKind::Complaint);
    let resolved = new(FollowUpKind::Callback);
    let unreachable = new(FollowUpKind::Revisit);
    for f in [&callback, &complaint, &resolved, &unreachable] {
        store.create_followup(f).await.unwrap();
    }
    store
        .apply(&[
            Write::FollowUpResolved {
                followup: resolved.id.clone(),
                call: "out-0".into(),
                outcome: "done".into(),
                agent: None,
                at_ms: T0 + 1,
                revisit: None,
            },
            Write::OutboundCall {
                id: "out-1".into(),
                sip_call_id: "sip-out-1".into(),
                caller: "95555".into(),
                called: "13900139000".into(),
                source: "198.51.100.7:5060".into(),
                transport: "udp",
                followup: Some(unreachable.id.clone()),
                agent: Some("1024".into()),
                trunk: Some("carrier-a".into()),
                at_ms: T0 + 2,
            },
            Write::DialAttempt {
                followup: unreachable.id.clone(),
                call: "out-1".into(),
                result: DialResult::NoAnswer,
                agent: Some("1024".into()),
                at_ms: T0 + 3,
                unreachable: true,
            },
        ])
        .await
        .unwrap();
    assert_eq!(
        store.followup(&resolved.id).await.unwrap().unwrap().status,
        FollowUpStatus::Resolved
    );
    store.close().await;
    Fixture {
        callback: callback.id,
        complaint: complaint.id,
        resolved: resolved.id,
        unreachable: unreachable.id,
    }
}

async fn requests(dir: &TempDir) -> Vec<hotline::store::DialRequest> {
    let store = Store::connect(&db_url(dir)).await.unwrap();
    let taken = store.take_dial_requests(T0).await.unwrap();
    store.close().await;
    taken
}

#[tokio::test]
async fn followups_call_refuses_what_cannot_be_called() {
    let dir = TempDir::new("cli-dialing");
    let fx = fixture(&dir).await;

    let err = refused(
        &run(&dir, "followups", &["call", "fu-nothere"]),
        "fu-nothere",
    );
    assert!(err.contains("no follow-up"), "{err}");
    let err = refused(
        &run(&dir, "followups", &["call", &fx.complaint]),
        &fx.complaint,
    );
    assert!(err.contains("complaint"), "{err}");
    let err = refused(
        &run(&dir, "followups", &["call", &fx.resolved]),
        &fx.resolved,
    );
    assert!(err.contains("resolved"), "{err}");
    let err = refused(
        &run(
            &dir,
            "followups",
            &["call", &fx.callback, "--agent", "9999"],
        ),
        "9999",
    );
    assert!(err.contains("no agent"), "{err}");

    assert!(
        requests(&dir).await.is_empty(),
        "a refusal leaves no request"
    );
}

#[tokio::test]
async fn followups_call_leaves_a_request_for_the_server() {
    let dir = TempDir::new("cli-dialing");
    let fx = fixture(&dir).await;

    let line = confirmed(&run(&dir, "followups", &["call", &fx.callback]));
    assert!(line.starts_with(&format!("{}: ", fx.callback)), "{line}");
    assert!(line.contains("139****9000"), "masked: {line}");
    assert!(!line.contains("13900139000"), "masked: {line}");
    assert!(line.contains("an agent of queue cards is free"), "{line}");

    let line = confirmed(&run(
        &dir,
        "followups",
        &[
            "call",
            &fx.callback,
            "--agent",
            "1024",
            "--by",
            "lead",
            "--show-numbers",
        ],
    ));
    assert!(line.contains("13900139000"), "{line}");
    assert!(line.contains("agent 1024 is free"), "{line}");

    // given up by the dialer: a supervisor may ask for one more try
    let line = confirmed(&run(&dir, "followups", &["call", &fx.unreachable]));
    assert!(line.contains("once more"), "{line}");

    let taken = requests(&dir).await;
    let seen: Vec<(&str, Option<&str>, &str)> = taken
        .iter()
        .map(|r| {
            (
                r.followup.as_str(),
                r.agent.as_deref(),
                r.requested_by.as_str(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (fx.callback.as_str(), None, "ops"),
            (fx.callback.as_str(), Some("1024"), "lead"),
            (fx.unreachable.as_str(), None, "ops"),
        ]
    );
    assert!(requests(&dir).await.is_empty(), "taken once");
}

#[tokio::test]
async fn attempts_and_direction_are_shown() {
    let dir = TempDir::new("cli-dialing");
    let fx = fixture(&dir).await;

    let list = run(&dir, "followups", &["list"]);
    assert!(list.status.success(), "{}", stderr(&list));
    let text = stdout(&list);
    assert!(text.lines().next().unwrap().contains("CALLS"), "{text}");
    let row = text
        .lines()
        .find(|l| l.starts_with(&fx.unreachable))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(row.contains("UNREACHABLE"), "{row}");
    let row = text
        .lines()
        .find(|l| l.starts_with(&fx.callback))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(!row.contains("UNREACHABLE"), "{row}");

    let show = stdout(&run(&dir, "followups", &["show", &fx.unreachable]));
    assert!(show.contains("dial attempts:"), "{show}");
    let attempt = show
        .lines()
        .find(|l| l.contains("call out-1"))
        .unwrap_or_else(|| panic!("{show}"));
    assert!(
        attempt.contains("no_answer") && attempt.contains("agent 1024"),
        "{attempt}"
    );
    assert!(show.contains("unreachable"), "{show}");

    let out = run(&dir, "followups", &["show", &fx.unreachable, "--json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["attempts"], 1);
    assert_eq!(v["unreachable"], true);
    assert_eq!(v["dial_attempts"][0]["call_id"], "out-1");
    assert_eq!(v["dial_attempts"][0]["result"], "no_answer");

    let calls = hotline()
        .args(["calls", "--database", &db_url(&dir), "list"])
        .output()
        .unwrap();
    assert!(calls.status.success(), "{}", stderr(&calls));
    let text = stdout(&calls);
    assert!(text.lines().next().unwrap().contains("DIR"), "{text}");
    let out = text.lines().find(|l| l.starts_with("out-1")).unwrap();
    assert!(
        out.contains(" out ") && out.contains(&fx.unreachable),
        "{out}"
    );
    let inbound = text.lines().find(|l| l.starts_with("in-1")).unwrap();
    assert!(inbound.contains(" in "), "{inbound}");
    assert!(!text.contains("13900139000"), "masked: {text}");
}
