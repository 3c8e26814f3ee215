//! Outbound calls end to end: a real `hotline serve` calls customers through SIP trunks
//! played by SIPp carriers (UAS) on loopback. Revisits ask the customer, who presses a key
//! (an RFC 4733 capture), and the verdict lands on the ticket; a registering carrier and
//! one that only challenges INVITEs get their digest answered; a carrier over TCP takes
//! the revisit and the registration on the connection hotline opens; a 503, or a TCP
//! trunk that refuses the connection, fails over to the next trunk; busy and unanswered customers are counted and, after the last attempt,
//! marked unreachable; a callback rings a baresip agent first, who dials the customer
//! with 1 and keys the outcome after the customer hangs up.
//!
//! The follow-ups are put in the database through the Store API; the server picks them up
//! with its five-second look at the store (or at once, asked with `hotline followups call`).

mod common;

use common::baresip::{hotline, wait_until, Agent, Site};
use common::{always_open_plan, free_port, free_ports, run_sipp, tool, Server, TempDir};
use hotline::store::{
    CallFilter, CallRecord, CallRow, DialResult, Direction, FollowUpChange, FollowUpKind,
    FollowUpMove, FollowUpRow, FollowUpStatus, NewFollowUp, RevisitResult,
};
use std::collections::HashMap;
use std::net::{TcpListener, UdpSocket};
use std::thread::JoinHandle;
use std::time::Duration;

const NUMBER: &str = "13900139000";

/// The longest a carrier runs; SIPp is stopped then if it has not finished.
const CARRIER_LIMIT: Duration = Duration::from_secs(45);

/// A SIPp carrier (UAS) on a loopback port of its own, running in a thread.
struct Carrier {
    port: u16,
    run: JoinHandle<HashMap<String, String>>,
}

impl Carrier {
    /// Runs `tests/sipp/<scenario>` with `subst` applied to its text, for `calls` calls.
    fn start(scenario: &str, subst: &[(&str, &str)], calls: u32) -> Carrier {
        Carrier::start_on(scenario, subst, calls, false)
    }

    /// The same over TCP (`tcp`: SIPp takes connections on its port, and nothing else).
    fn start_on(scenario: &str, subst: &[(&str, &str)], calls: u32, tcp: bool) -> Carrier {
        let dir = TempDir::new("carrier");
        let mut xml = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/sipp")
                .join(scenario),
        )
        .expect("the carrier scenario");
        for (from, to) in subst {
            xml = xml.replace(from, to);
        }
        std::fs::write(dir.0.join(scenario), xml).unwrap();
        let port = free_port();
        let args: Vec<String> = [
            "-t",
            if tcp { "t1" } else { "u1" },
            "-sf",
            scenario,
            "-i",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-mi",
            "127.0.0.1",
            "-mp",
            &free_ports(4).to_string(),
            "-m",
            &calls.to_string(),
            "-trace_msg",
            // A customer who answers sends back what they hear: audio both ways.
            "-rtp_echo",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let run = std::thread::spawn(move || {
            let mut stats = run_sipp(&dir.0, &args, CARRIER_LIMIT);
            // What SIPp sent and received, for a failure's message.
            let messages = std::fs::read_dir(&dir.0)
                .into_iter()
                .flatten()
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with("_messages.log"))
                .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
                .collect::<String>();
            stats.insert("messages".into(), messages);
            drop(dir);
            stats
        });
        // Up once its port is taken.
        let up = wait_until(Duration::from_secs(10), || {
            if tcp {
                TcpListener::bind(("127.0.0.1", port)).is_err()
            } else {
                UdpSocket::bind(("127.0.0.1", port)).is_err()
            }
        });
        assert!(up, "SIPp did not start on port {port}");
        Carrier { port, run }
    }

    /// SIPp's last statistics, once it has ended.
    fn finish(self) -> HashMap<String, String> {
        self.run.join().expect("the SIPp thread")
    }
}

/// What SIPp counted: `calls` successful, none failed, no unexpected message.
fn assert_carrier(stats: &HashMap<String, String>, calls: u32, server: &Server) {
    let get = |k: &str| {
        stats
            .get(k)
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    let summary = format!(
        "successful {} failed {} unexpected {}\n{}\n{}\n{}",
        get("SuccessfulCall(C)"),
        get("FailedCall(C)"),
        get("FailedUnexpectedMessage(C)"),
        stats["errors"],
        stats["messages"],
        server.log()
    );
    assert_eq!(get("SuccessfulCall(C)"), calls.to_string(), "{summary}");
    assert_eq!(get("FailedCall(C)"), "0", "{summary}");
    assert_eq!(get("FailedUnexpectedMessage(C)"), "0", "{summary}");
}

/// One `[[trunks]]` entry for a carrier on `port`, with `extra` lines after it.
fn trunk(name: &str, port: u16, extra: &str) -> String {
    format!(
        "[[trunks]]\nname = \"{name}\"\naddress = \"127.0.0.1:{port}\"\ncaller_id = \"4008001234\"\n{extra}\n"
    )
}

/// Ring-outs kept short; one attempt per follow-up during a test.
const DIALER: &str = "[dialer]\nring_secs = 10\nmax_attempts = 1\nretry_after_mins = 30\n";

/// `hotline serve`'s arguments: the shipped prompts and queues, an always-open plan, and
/// `trunks` as its trunks file; with the folders they name.
fn serve_args(trunks: &str) -> (Vec<String>, Vec<TempDir>) {
    let plans = always_open_plan();
    let conf = TempDir::new("trunks");
    let path = conf.0.join("trunks.toml");
    std::fs::write(&path, trunks).unwrap();
    let root = env!("CARGO_MANIFEST_DIR");
    let args = vec![
        "--ring-delay-ms".to_string(),
        "0".into(),
        "--dialplans".into(),
        plans.0.display().to_string(),
        "--queues".into(),
        format!("{root}/queues.toml"),
        "--prompts".into(),
        format!("{root}/prompts"),
        "--trunks".into(),
        path.display().to_string(),
    ];
    (args, vec![plans, conf])
}

fn serve(trunks: &str) -> (Server, Vec<TempDir>) {
    let (args, dirs) = serve_args(trunks);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    (Server::start_logging(&args, "info,sqlx=warn"), dirs)
}

/// A resolved complaint and its open revisit, as resolving it from the work list leaves
/// them; returns (complaint, revisit).
fn resolved_complaint(server: &Server) -> (String, String) {
    server.read(async |store| {
        let now = hotline::store::now_ms();
        let mut c = NewFollowUp::new(FollowUpKind::Complaint, NUMBER, now - 60_000);
        c.category = "billing".into();
        c.urgency = 2;
        c.owner = Some("1024".into());
        store.create_followup(&c).await.unwrap();
        let mut r = NewFollowUp::new(FollowUpKind::Revisit, NUMBER, now);
        r.parent_id = Some(c.id.clone());
        // Urgent: called whatever the hour (the plan is open around the clock anyway).
        r.urgency = hotline::dialer::URGENT;
        let moved = store
            .move_followup(&FollowUpMove {
                id: c.id.clone(),
                from: FollowUpStatus::Open,
                change: FollowUpChange::Resolve {
                    outcome: "refund".into(),
                },
                at: now,
                author: "lead".into(),
                revisit: Some(r.clone()),
            })
            .await
            .unwrap();
        assert!(moved);
        (c.id, r.id)
    })
}

fn followup(server: &Server, id: &str) -> FollowUpRow {
    server.read(async |s| s.followup(id).await.unwrap().expect("the follow-up"))
}

/// The outbound calls made for follow-up `id`, oldest first.
fn outbound_calls(server: &Server, id: &str) -> Vec<CallRecord> {
    let filter = CallFilter {
        direction: Some(Direction::Outbound),
        limit: 50,
        ..CallFilter::default()
    };
    let mut calls: Vec<CallRecord> = server
        .read(async |s| s.calls(&filter).await.unwrap().calls)
        .into_iter()
        .filter(|c| c.followup_id.as_deref() == Some(id))
        .collect();
    calls.reverse();
    calls
}

fn call(server: &Server, id: &str) -> CallRow {
    server.read(async |s| s.call(id).await.unwrap().expect("the call record"))
}

/// The call's timeline as (kind, detail).
fn events(server: &Server, id: &str) -> Vec<(String, String)> {
    server.read(async |s| {
        s.events(id)
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.kind, e.detail))
            .collect()
    })
}

fn attempts(server: &Server, id: &str) -> Vec<DialResult> {
    server.read(async |s| {
        s.dial_attempts(id)
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.result)
            .collect()
    })
}

/// Waits until follow-up `id` has one outbound call and that call has ended; returns it.
fn ended_call(server: &Server, id: &str, limit: Duration) -> CallRow {
    let done = wait_until(limit, || {
        outbound_calls(server, id)
            .first()
            .is_some_and(|c| call(server, &c.id).ended_at.is_some())
    });
    assert!(done, "no ended outbound call for {id}:\n{}", server.log());
    call(server, &outbound_calls(server, id)[0].id)
}

/// A revisit answered with `key` through the carrier at `scenario` (KEY pressed 1.5 s
/// after the ACK, during the question); returns the server, complaint, revisit and call.
fn revisit_answered(
    scenario: &str,
    key: &str,
    calls: u32,
    trunk_extra: &str,
) -> (Server, Vec<TempDir>, String, String, CallRow) {
    revisit_answered_over(false, scenario, key, calls, trunk_extra)
}

/// The same, the carrier on TCP when `tcp` (`trunk_extra` then says `transport`).
fn revisit_answered_over(
    tcp: bool,
    scenario: &str,
    key: &str,
    calls: u32,
    trunk_extra: &str,
) -> (Server, Vec<TempDir>, String, String, CallRow) {
    let subst = [("KEY_DELAY_MS", "1500"), ("KEY", key)];
    let carrier = Carrier::start_on(scenario, &subst, calls, tcp);
    let (server, dirs) = serve(&format!(
        "{DIALER}{}",
        trunk("carrier", carrier.port, trunk_extra)
    ));
    let (complaint, revisit) = resolved_complaint(&server);
    let row = ended_call(&server, &revisit, Duration::from_secs(40));
    let stats = carrier.finish();
    assert_carrier(&stats, calls, &server);
    (server, dirs, complaint, revisit, row)
}

/// The record of an answered revisit: outbound, linked, answered, ended by hotline after
/// its last prompt, one attempt answered.
fn assert_revisit_call(server: &Server, revisit: &str, row: &CallRow, verdict: &str) {
    let summary = &outbound_calls(server, revisit)[0];
    assert_eq!(summary.direction, Direction::Outbound);
    assert_eq!(summary.followup_id.as_deref(), Some(revisit));
    assert_eq!(summary.called, NUMBER);
    assert_eq!(summary.caller, "4008001234");
    assert!(row.answered_at.is_some(), "{row:?}");
    assert_eq!(row.ended_by.as_deref(), Some("hotline"), "{row:?}");
    assert_eq!(row.end_cause.as_deref(), Some("completed"), "{row:?}");
    assert_eq!(attempts(server, revisit), [DialResult::Answered]);
    let timeline = events(server, &row.id);
    assert!(
        timeline.contains(&("revisit".into(), verdict.into())),
        "{timeline:?}"
    );
    // Satisfied closes the loop; unsatisfied leaves the revisit answered and reopens
    // the complaint.
    let want = match verdict {
        "satisfied" => FollowUpStatus::Closed,
        _ => FollowUpStatus::Answered,
    };
    let r = followup(server, revisit);
    assert_eq!(r.status, want, "{r:?}");
}

#[test]
fn a_satisfied_customer_closes_the_loop_on_the_complaint() {
    if tool("sipp").is_none() {
        return;
    }
    let (server, _dirs, complaint, revisit, row) =
        revisit_answered("carrier_answer.xml", "1", 1, "");
    assert_revisit_call(&server, &revisit, &row, "satisfied");
    let timeline = events(&server, &row.id);
    assert_eq!(timeline.first(), Some(&("trunk".into(), "carrier".into())));
    let r = followup(&server, &revisit);
    assert_eq!(r.revisit_result, Some(RevisitResult::Satisfied));
    let c = followup(&server, &complaint);
    assert_eq!(c.status, FollowUpStatus::Closed);
    assert_eq!(c.revisit_result, Some(RevisitResult::Satisfied));
    assert_eq!(c.urgency, 2);
}

#[test]
fn an_unsatisfied_customer_reopens_the_complaint_more_urgent() {
    if tool("sipp").is_none() {
        return;
    }
    let (server, _dirs, complaint, revisit, row) =
        revisit_answered("carrier_answer.xml", "2", 1, "");
    assert_revisit_call(&server, &revisit, &row, "unsatisfied");
    let r = followup(&server, &revisit);
    assert_eq!(r.revisit_result, Some(RevisitResult::Unsatisfied));
    let c = followup(&server, &complaint);
    assert_eq!(c.status, FollowUpStatus::Open, "{c:?}");
    assert_eq!(c.revisit_result, Some(RevisitResult::Unsatisfied));
    assert!(c.urgency > 2, "urgency raised: {c:?}");
}

/// A carrier that registers hotline and challenges its INVITEs with the same credentials:
/// `[trunks.register]` alone answers both.
#[test]
fn registering_carrier_gets_register_and_invite_digests() {
    if tool("sipp").is_none() {
        return;
    }
    let register = "[trunks.register]\nuser = \"hotline\"\npassword = \"s3cret\"\n";
    let (server, _dirs, _complaint, revisit, row) =
        revisit_answered("carrier_registrar.xml", "1", 2, register);
    assert!(
        server.log().contains("registered with the trunk"),
        "{}",
        server.log()
    );
    assert_revisit_call(&server, &revisit, &row, "satisfied");
}

/// A carrier reached over TCP: hotline opens the connection, the revisit goes on it.
#[test]
fn a_tcp_trunk_carries_the_revisit() {
    if tool("sipp").is_none() {
        return;
    }
    let (server, _dirs, _complaint, revisit, row) =
        revisit_answered_over(true, "carrier_answer.xml", "1", 1, "transport = \"tcp\"\n");
    assert_revisit_call(&server, &revisit, &row, "satisfied");
}

/// A registering, challenging carrier over TCP: the REGISTERs and the call share the
/// connection hotline opened.
#[test]
fn a_tcp_trunk_takes_the_registration_and_the_call() {
    if tool("sipp").is_none() {
        return;
    }
    let extra =
        "transport = \"tcp\"\n[trunks.register]\nuser = \"hotline\"\npassword = \"s3cret\"\n";
    let (server, _dirs, _complaint, revisit, row) =
        revisit_answered_over(true, "carrier_registrar.xml", "1", 2, extra);
    assert!(
        server.log().contains("registered with the trunk"),
        "{}",
        server.log()
    );
    assert_revisit_call(&server, &revisit, &row, "satisfied");
}

/// A carrier that challenges INVITEs but takes no registration: `[trunks.auth]`.
#[test]
fn challenging_carrier_without_registration_gets_the_invite_digest() {
    if tool("sipp").is_none() {
        return;
    }
    let auth = "[trunks.auth]\nuser = \"hotline\"\npassword = \"s3cret\"\n";
    let (server, _dirs, _complaint, revisit, row) =
        revisit_answered("carrier_challenge.xml", "1", 1, auth);
    assert!(
        !server.log().contains("registered with the trunk"),
        "no registration"
    );
    assert_revisit_call(&server, &revisit, &row, "satisfied");
}

#[test]
fn a_trunk_answering_503_fails_over_to_the_next() {
    if tool("sipp").is_none() {
        return;
    }
    let down = Carrier::start("carrier_503.xml", &[], 1);
    let up = Carrier::start(
        "carrier_answer.xml",
        &[("KEY_DELAY_MS", "1500"), ("KEY", "1")],
        1,
    );
    let (server, _dirs) = serve(&format!(
        "{DIALER}{}{}",
        trunk("down", down.port, ""),
        trunk("up", up.port, "")
    ));
    let (_complaint, revisit) = resolved_complaint(&server);
    let row = ended_call(&server, &revisit, Duration::from_secs(40));
    assert_carrier(&down.finish(), 1, &server);
    assert_carrier(&up.finish(), 1, &server);
    assert_revisit_call(&server, &revisit, &row, "satisfied");
    assert_trunks_tried(&server, &row.id, "503");
    assert_eq!(outbound_calls(&server, &revisit).len(), 1, "one record");
}

/// A TCP trunk where nothing listens: the refused connection fails over at once, like a
/// trunk that does not answer.
#[test]
fn a_refused_tcp_connection_fails_over_to_the_next_trunk() {
    if tool("sipp").is_none() {
        return;
    }
    let down = free_port();
    let up = Carrier::start(
        "carrier_answer.xml",
        &[("KEY_DELAY_MS", "1500"), ("KEY", "1")],
        1,
    );
    let (server, _dirs) = serve(&format!(
        "{DIALER}{}{}",
        trunk("down", down, "transport = \"tcp\"\n"),
        trunk("up", up.port, "")
    ));
    let (_complaint, revisit) = resolved_complaint(&server);
    let row = ended_call(&server, &revisit, Duration::from_secs(40));
    assert_carrier(&up.finish(), 1, &server);
    assert_revisit_call(&server, &revisit, &row, "satisfied");
    assert_trunks_tried(&server, &row.id, "no response");
}

/// Call `id`'s timeline tried trunk "down", which failed with `why`, then "up".
fn assert_trunks_tried(server: &Server, id: &str, why: &str) {
    let timeline = events(server, id);
    let trunks: Vec<(&str, &str)> = timeline
        .iter()
        .filter(|(k, _)| k.starts_with("trunk"))
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        trunks,
        [("trunk", "down"), ("trunk_failed", why), ("trunk", "up")],
        "{timeline:?}"
    );
}

/// A refused attempt: the result stored, and with one attempt allowed the follow-up is
/// unreachable for a supervisor.
fn refused(scenario: &str, want: DialResult) -> (Server, CallRow) {
    let carrier = Carrier::start(scenario, &[], 1);
    let (server, _dirs) = serve(&format!("{DIALER}{}", trunk("carrier", carrier.port, "")));
    let (_complaint, revisit) = resolved_complaint(&server);
    let row = ended_call(&server, &revisit, Duration::from_secs(40));
    assert_carrier(&carrier.finish(), 1, &server);
    assert!(row.answered_at.is_none(), "{row:?}");
    assert_eq!(attempts(&server, &revisit), [want]);
    let states = server.read(async |s| s.dial_states().await.unwrap());
    let state = states.get(&revisit).copied().unwrap_or_default();
    assert_eq!(state.attempts, 1, "{state:?}");
    assert!(state.unreachable_at.is_some(), "{state:?}");
    let r = followup(&server, &revisit);
    assert_eq!(r.status, FollowUpStatus::Open, "still for a supervisor");
    assert_eq!(r.revisit_result, None);
    (server, row)
}

#[test]
fn a_busy_customer_is_counted_and_unreachable_after_the_last_attempt() {
    if tool("sipp").is_none() {
        return;
    }
    let (_server, row) = refused("carrier_busy.xml", DialResult::Busy);
    assert_eq!(row.end_cause.as_deref(), Some("busy"), "{row:?}");
}

#[test]
fn an_unanswered_customer_is_cancelled_after_the_ring_time() {
    if tool("sipp").is_none() {
        return;
    }
    // The carrier's scenario passes only if the CANCEL came.
    let (_server, row) = refused("carrier_ringout.xml", DialResult::NoAnswer);
    assert_eq!(row.end_cause.as_deref(), Some("no_answer"), "{row:?}");
}

/// `hotline serve` with `args`, and agent 1024 on a baresip phone, logged in.
fn agent_site(args: &[String], dirs: Vec<TempDir>) -> (Site, Agent) {
    let site = Site::start(args, dirs);
    let agent = site.agents(&[("1024", "Li Lei")]).remove(0);
    site.login("1024", &agent);
    (site, agent)
}

/// A callback asked for from the command line for agent 1024: hotline rings the baresip
/// agent with the preview, the agent presses 1, the customer (a SIPp carrier) answers and
/// is bridged (its greeting takes some 10 s, then about 5 s of talk, echoed back), hangs up,
/// and the agent keys the outcome 1# (resolved on the
/// call), which resolves the ticket.
#[test]
fn a_callback_rings_the_agent_dials_the_customer_and_the_outcome_resolves_it() {
    if tool("sipp").is_none() || tool("baresip").is_none() {
        return;
    }
    let carrier = Carrier::start("carrier_hangup.xml", &[("HOLD_MS", "16000")], 1);
    let (args, dirs) = serve_args(&format!(
        "[dialer]\nring_secs = 10\nmax_attempts = 2\nretry_after_mins = 30\npreview_secs = 20\n{}",
        trunk("carrier", carrier.port, "")
    ));
    let (site, agent) = agent_site(&args, dirs);
    let (server, agent) = (&site.server, &agent);
    // Promised for later, so the schedule leaves it alone: only the request calls it.
    let callback = server.read(async |s| {
        let now = hotline::store::now_ms();
        let mut f = NewFollowUp::new(FollowUpKind::Callback, NUMBER, now);
        f.category = "billing".into();
        f.promised_from = Some(now + 3_600_000);
        f.promised_to = Some(now + 7_200_000);
        s.create_followup(&f).await.unwrap()
    });
    hotline(&[
        "followups",
        "--database",
        &server.db_url,
        "call",
        &callback,
        "--agent",
        "1024",
    ]);
    // The agent's phone answers the preview by itself.
    let record = || {
        outbound_calls(server, &callback)
            .first()
            .map(|c| c.id.clone())
    };
    let legs = |id: &str| site.rt.block_on(site.store.legs(id)).unwrap();
    // (Its leg counts as answered only once the customer is bridged.)
    let previewed = wait_until(Duration::from_secs(20), || {
        record().is_some_and(|id| !legs(&id).is_empty())
            && agent.log().matches("Call established").count() >= 2
    });
    assert!(previewed, "{}\n{}", server.log(), agent.log());
    let id = record().unwrap();
    std::thread::sleep(Duration::from_secs(1));
    agent.command("sndcode", "1");
    let answered = wait_until(Duration::from_secs(20), || {
        call(server, &id).answered_at.is_some()
    });
    assert!(answered, "{}\n{}", server.log(), agent.log());
    assert_eq!(followup(server, &callback).status, FollowUpStatus::Answered);
    let timeline = events(server, &id);
    assert!(
        timeline.contains(&("agent".into(), "1024".into())),
        "bridged: {timeline:?}"
    );
    // The customer hangs up; the agent keys the outcome.
    let hung_up = wait_until(Duration::from_secs(30), || {
        call(server, &id).ended_at.is_some()
    });
    let stats = carrier.finish();
    assert!(hung_up, "{}\n{}", stats["messages"], server.log());
    assert_carrier(&stats, 1, server);
    std::thread::sleep(Duration::from_secs(1));
    agent.keys("1#");
    let resolved = wait_until(Duration::from_secs(10), || {
        followup(server, &callback).status == FollowUpStatus::Resolved
    });
    let f = followup(server, &callback);
    assert!(resolved, "{f:?}\n{}\n{}", server.log(), agent.log());
    assert_eq!(f.outcome.as_deref(), Some("resolved_on_call"));
    let row = call(server, &id);
    // The customer (the far end of a call hotline placed) hung up.
    assert_eq!(row.ended_by.as_deref(), Some("remote"), "{row:?}");
    let leg = &legs(&id)[0];
    assert_eq!(leg.agent_id, "1024");
    assert!(leg.answered_at.is_some());
    assert_eq!(attempts(server, &callback), [DialResult::Answered]);
    // Audio went both ways through hotline's relay: the agent's phone sends a 440 Hz tone,
    // the customer echoes what it hears, and the tone came back to the agent. (The phone
    // writes its recording of the call out when the call ends.)
    agent.command("hangup", "");
    std::thread::sleep(Duration::from_secs(1));
    let tone = agent.heard_tone(440.0);
    assert!(tone > 0.8, "the agent's own tone came back at {tone:.2}");
    let (from_customer, to_customer) = site.rt.block_on(site.store.call_rtp(&id)).unwrap().unwrap();
    assert!(
        from_customer >= 200 && to_customer >= 200,
        "{from_customer} / {to_customer}"
    );
}

/// Agent 1024 dials 9 and a number on the baresip softphone: hotline places the call through
/// the trunk with the company's caller ID and the number rewritten, bridges it when the
/// customer answers, and records it as an outbound call with the agent and the trunk; after
/// the customer hangs up, the agent keys the outcome as after any call.
#[test]
fn an_agent_dials_out_through_the_trunk_and_the_call_is_recorded() {
    if tool("sipp").is_none() || tool("baresip").is_none() {
        return;
    }
    let carrier = Carrier::start("carrier_hangup.xml", &[("HOLD_MS", "6000")], 1);
    let (args, dirs) = serve_args(&format!(
        "[dial_out]\nprefix = \"9\"\n{}",
        trunk("carrier", carrier.port, "add = \"0\"")
    ));
    let (site, agent) = agent_site(&args, dirs);
    let (server, agent) = (&site.server, &agent);
    agent.command("dial", &format!("sip:9{NUMBER}@{}", server.addr()));
    let placed = || {
        let filter = CallFilter {
            direction: Some(Direction::Outbound),
            limit: 10,
            ..CallFilter::default()
        };
        site.rt.block_on(site.store.calls(&filter)).unwrap().calls
    };
    let ended = wait_until(Duration::from_secs(40), || {
        placed().first().is_some_and(|c| c.ended_at.is_some())
    });
    let stats = carrier.finish();
    assert!(ended, "{}\n{}", server.log(), agent.log());
    assert_carrier(&stats, 1, server);
    let messages = &stats["messages"];
    assert!(
        messages.contains(&format!("INVITE sip:0{NUMBER}@")),
        "the number rewritten: {messages}"
    );
    assert!(
        messages.contains("From: <sip:4008001234@"),
        "the company's caller ID: {messages}"
    );
    std::thread::sleep(Duration::from_secs(1));
    agent.keys("1#");
    let keyed = wait_until(Duration::from_secs(10), || {
        placed()[0].disposition.as_deref() == Some("resolved_on_call")
    });
    let calls = placed();
    assert!(keyed, "{:?}\n{}", calls, server.log());
    let c = &calls[0];
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(c.agent.as_deref(), Some("1024"), "{c:?}");
    assert_eq!(c.trunk.as_deref(), Some("carrier"), "{c:?}");
    assert!(c.answered_at.is_some(), "{c:?}");
    assert_eq!(c.ended_by.as_deref(), Some("remote"), "{c:?}");
    assert_eq!(c.followup_id, None, "no callback is open for the number");
}
