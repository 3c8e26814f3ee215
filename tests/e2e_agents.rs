//! End-to-end with real softphones: two baresip agents register with digest auth, log in
//! by feature code, and take queued calls; audio flows both ways through hotline's relay;
//! the call record shows queue, agent, wait, talk time and the agent's outcome code.
//! Also: with no agent, the caller hears position and wait and overflows.

mod common;

use common::baresip::{hotline, wait_until, Site};
use common::{tool, Phone, Server, TempDir};
use hotline::store::Store;
use std::net::UdpSocket;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const PLAN: &str = include_str!("fixtures/queue-plan.toml");

const QUEUES: &str = r#"
[queues.general]
strategy = "longest_idle"
ring_timeout_secs = 10
max_wait_secs = 8
wrap_up_secs = 3
announce_every_secs = 3
# Several cases queue callers before (or without) an agent logging in.
wait_when_empty = true

# Nobody logs in here: an escalation overflows at once.
[queues.supervisors]
max_wait_secs = 4
"#;

/// A running hotline with `plan` and the queues above.
fn site(plan: &str) -> Site {
    let (dir, args) = setup_with(plan);
    Site::start(&args, vec![dir])
}

fn setup_with(plan: &str) -> (TempDir, Vec<String>) {
    let dir = TempDir::new("agents");
    std::fs::create_dir_all(dir.0.join("plans")).unwrap();
    std::fs::write(dir.0.join("plans/test.toml"), plan).unwrap();
    std::fs::write(dir.0.join("queues.toml"), QUEUES).unwrap();
    let args = vec![
        "--ring-delay-ms".to_string(),
        "0".into(),
        "--dialplans".into(),
        dir.0.join("plans").display().to_string(),
        "--queues".into(),
        dir.0.join("queues.toml").display().to_string(),
        "--prompts".into(),
        concat!(env!("CARGO_MANIFEST_DIR"), "/prompts").into(),
    ];
    (dir, args)
}

/// The caller's media: a 1 kHz tone out, and what comes back counted and measured.
struct CallerRtp {
    stop: Arc<AtomicBool>,
    received: Arc<AtomicU32>,
    loud: Arc<AtomicU32>,
    /// RFC 4733 packets (payload type 101): keys the agent pressed.
    events: Arc<AtomicU32>,
}

impl CallerRtp {
    fn start(sock: UdpSocket, to: String) -> CallerRtp {
        let stop = Arc::new(AtomicBool::new(false));
        let received = Arc::new(AtomicU32::new(0));
        let loud = Arc::new(AtomicU32::new(0));
        let events = Arc::new(AtomicU32::new(0));
        let (s2, r2, l2, e2) = (stop.clone(), received.clone(), loud.clone(), events.clone());
        sock.set_read_timeout(Some(Duration::from_millis(5)))
            .unwrap();
        std::thread::spawn(move || {
            let mut seq: u16 = 0;
            let mut ts: u32 = 0;
            let mut next = Instant::now();
            let mut buf = [0u8; 2048];
            let mut phase = 0f64;
            while !s2.load(Ordering::Relaxed) {
                if Instant::now() >= next {
                    next += Duration::from_millis(20);
                    let mut pkt = vec![0x80, 0, (seq >> 8) as u8, seq as u8];
                    pkt.extend_from_slice(&ts.to_be_bytes());
                    pkt.extend_from_slice(&0x1234_5678u32.to_be_bytes());
                    for _ in 0..160 {
                        let v = (phase.sin() * 8000.0) as i16;
                        phase += 2.0 * std::f64::consts::PI * 1000.0 / 8000.0;
                        pkt.push(hotline::core::media::g711::linear_to_ulaw(v));
                    }
                    let _ = sock.send_to(&pkt, &to);
                    seq = seq.wrapping_add(1);
                    ts = ts.wrapping_add(160);
                }
                if let Ok((n, _)) = sock.recv_from(&mut buf) {
                    if n > 12 && buf[1] & 0x7f == 101 {
                        e2.fetch_add(1, Ordering::Relaxed);
                    }
                    if n > 12 && buf[1] & 0x7f == 0 {
                        r2.fetch_add(1, Ordering::Relaxed);
                        let peak = buf[12..n]
                            .iter()
                            .map(|&b| {
                                i32::from(hotline::core::media::g711::ulaw_to_linear(b)).abs()
                            })
                            .max()
                            .unwrap_or(0);
                        if peak > 2000 {
                            l2.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }
        });
        CallerRtp {
            stop,
            received,
            loud,
            events,
        }
    }
}

impl Drop for CallerRtp {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// hotline's RTP address for a call, from the SDP of its 200 OK.
fn media_port(ok: &common::Received) -> u16 {
    ok.text
        .lines()
        .find_map(|l| l.strip_prefix("m=audio "))
        .and_then(|l| l.split(' ').next())
        .and_then(|p| p.parse().ok())
        .expect("m=audio in the 200")
}

fn place_call(phone: &Phone, id: &str) -> (String, u16) {
    phone.send(&phone.request(
        "INVITE",
        id,
        1,
        &format!("z9hG4bK{id}i"),
        None,
        &phone.sdp(),
    ));
    let ok = phone
        .wait_for(Duration::from_secs(10), |r| {
            r.status() == Some(200) && r.text.contains("INVITE")
        })
        .unwrap_or_else(|| panic!("no 200 OK to the INVITE"));
    let tag = ok.to_tag().unwrap();
    phone.send(&phone.request("ACK", id, 1, &format!("z9hG4bK{id}a"), Some(&tag), ""));
    (tag, media_port(&ok))
}

/// A caller on the test's own SIP and RTP sockets, in a call answered by hotline.
fn call_in(server: &Server, id: &str) -> (Phone, String, CallerRtp) {
    let phone = Phone::new(&server.addr());
    let rtp = phone.media_socket();
    let (tag, port) = place_call(&phone, id);
    let media = CallerRtp::start(rtp, format!("127.0.0.1:{port}"));
    (phone, tag, media)
}

#[test]
fn baresip_agents_register_log_in_and_take_queued_calls() {
    if tool("baresip").is_none() {
        return;
    }
    let site = site(PLAN);
    let (server, rt, store, db) = (&site.server, &site.rt, &site.store, &site.server.db_url);
    let phones = site.agents(&[("1024", "Li Lei"), ("2048", "Han Meimei")]);
    let (a, b) = (&phones[0], &phones[1]);
    let state = |id: &str| site.state(id);
    // Agent 1024 logs in first, so it has been idle longest.
    site.login("1024", a);
    site.login("2048", b);

    // First call: the longest-idle agent (1024) answers; audio both ways.
    let (phone, tag, media) = call_in(server, "agents-1");
    site.wait_state("1024", "on_call", a);
    // Let the agent ID announcement play, then measure the conversation.
    std::thread::sleep(Duration::from_secs(6));
    let before = media.received.load(Ordering::Relaxed);
    let loud_before = media.loud.load(Ordering::Relaxed);
    std::thread::sleep(Duration::from_secs(2));
    let got = media.received.load(Ordering::Relaxed) - before;
    let loud = media.loud.load(Ordering::Relaxed) - loud_before;
    assert!(got >= 80, "caller received {got} packets in 2 s");
    assert!(
        loud >= 60,
        "the agent's tone reached the caller in {loud} of {got} packets"
    );

    // Keys cross the bridge both ways: the agent's as RFC 4733 to the caller, the
    // caller's (here by SIP INFO) as RFC 4733 to the agent's phone.
    a.command("sndcode", "7");
    assert!(
        wait_until(Duration::from_secs(5), || media
            .events
            .load(Ordering::Relaxed)
            >= 3),
        "no telephone-event reached the caller"
    );
    let info = phone
        .request(
            "INFO",
            "agents-1",
            2,
            "z9hG4bKagents-1n",
            Some(&tag),
            "Signal=5\r\nDuration=160\r\n",
        )
        .replace("application/sdp", "application/dtmf-relay");
    phone.send(&info);
    assert!(
        wait_until(Duration::from_secs(5), || a
            .log()
            .contains("received event: '5'")),
        "the caller's key did not reach the agent:\n{}\n{}",
        a.log(),
        server.log()
    );

    // The caller hangs up; the agent keys the outcome code 3#.
    phone.send(&phone.request("BYE", "agents-1", 3, "z9hG4bKagents-1b", Some(&tag), ""));
    drop(media);
    assert!(wait_until(Duration::from_secs(10), || state("1024")
        == "wrap_up"
        || state("1024") == "available"));
    std::thread::sleep(Duration::from_secs(1));
    a.keys("3#");
    let calls = server.calls();
    let first = calls.first().expect("a call record").id.clone();
    let cols = || {
        rt.block_on(store.call_agent_columns(&first))
            .unwrap()
            .unwrap()
    };
    assert!(
        wait_until(Duration::from_secs(10), || cols().3.as_deref()
            == Some("agent_callback")),
        "outcome code not stored: {:?}\n{}\n{}",
        cols(),
        server.log(),
        a.log()
    );
    let (queued_at, agent, connected_at, disposition) = cols();
    assert_eq!(agent.as_deref(), Some("1024"));
    // "3" is the plan's key for agent_callback, which needs follow-up: a callback to the
    // caller, due by the plan's calendar.
    assert_eq!(disposition.as_deref(), Some("agent_callback"));
    let followups = rt.block_on(store.followups()).unwrap();
    let callback = followups
        .iter()
        .find(|f| f.call_id.as_deref() == Some(first.as_str()))
        .expect("the outcome opened a follow-up");
    assert_eq!(callback.category, "agent_callback");
    assert_eq!(callback.number, "13800138000");
    assert!(callback.due_answer.is_some());
    let (queued_at, connected_at) = (queued_at.unwrap(), connected_at.unwrap());
    assert!(connected_at >= queued_at, "wait time is never negative");
    let row = rt.block_on(store.call(&first)).unwrap().unwrap();
    let ivr = server.ivr(&first).unwrap();
    assert_eq!(ivr.queue.as_deref(), Some("general"));
    let talk = row.ended_at.unwrap() - connected_at;
    assert!(talk >= 6_000, "talk time {talk} ms");
    let legs = rt.block_on(store.legs(&first)).unwrap();
    assert_eq!(legs.len(), 1, "{legs:?}");
    assert_eq!(legs[0].agent_id, "1024");
    assert!(legs[0].answered_at.is_some());
    // Packets counted at both ends of hotline: from and to the caller (the test's own
    // count of what it received agrees), from and to the agent's phone.
    let (from_caller, to_caller) = rt.block_on(store.call_rtp(&first)).unwrap().unwrap();
    assert!(
        from_caller >= 400 && to_caller >= 400,
        "{from_caller} / {to_caller}"
    );
    // The agent's leg ends once "saved" has played.
    let leg_ended = || rt.block_on(store.legs(&first)).unwrap()[0].clone();
    assert!(wait_until(Duration::from_secs(10), || leg_ended()
        .ended_at
        .is_some()));
    let leg = leg_ended();
    assert_eq!(leg.end_cause.as_deref(), Some("completed"));
    let (from_agent, to_agent) = (leg.rtp_received.unwrap(), leg.rtp_sent.unwrap());
    assert!(
        from_agent >= 300 && to_agent >= 300,
        "{from_agent} / {to_agent}"
    );
    // Agent 1024's phone heard the caller's tone through the relay.
    std::thread::sleep(Duration::from_secs(1));
    assert!(a.heard_peak() > 2000, "agent heard silence");

    // Second call goes to the other agent (2048 has now been idle longest). 2048
    // transfers it (REFER) back to the queue, where 1024 takes it; 1024's hang-up ends
    // the caller's leg.
    assert!(wait_until(Duration::from_secs(10), || state("1024") == "available"));
    let (phone2, _tag2, media2) = call_in(server, "agents-2");
    site.wait_state("2048", "on_call", b);
    std::thread::sleep(Duration::from_secs(5));
    assert!(media2.loud.load(Ordering::Relaxed) > 20);
    b.command("transfer", &format!("sip:general@{}", server.addr()));
    site.wait_state("1024", "on_call", b);
    std::thread::sleep(Duration::from_secs(2));
    let heard = media2.loud.load(Ordering::Relaxed);
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        media2.loud.load(Ordering::Relaxed) > heard + 20,
        "the caller hears the second agent"
    );
    a.command("hangup", "");
    let bye = phone2.wait_for(Duration::from_secs(10), |r| r.method() == Some("BYE"));
    let bye = bye.expect("the agent's hang-up ends the caller's leg");
    phone2.ok(&bye);
    drop(media2);
    let second = server
        .calls()
        .into_iter()
        .find(|c| c.id != first)
        .expect("second record");
    assert!(
        wait_until(Duration::from_secs(10), || {
            rt.block_on(store.call(&second.id))
                .ok()
                .flatten()
                .is_some_and(|c| c.end_cause.as_deref() == Some("agent_bye"))
        }),
        "{:?}",
        rt.block_on(store.call(&second.id))
    );
    assert_eq!(cols_of(rt, store, &second.id).1.as_deref(), Some("1024"));
    let legs = rt.block_on(store.legs(&second.id)).unwrap();
    let summary: Vec<(&str, Option<&str>, bool)> = legs
        .iter()
        .map(|l| {
            (
                l.agent_id.as_str(),
                l.end_cause.as_deref(),
                l.answered_at.is_some(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("2048", Some("transferred"), true),
            ("1024", Some("agent_bye"), true)
        ],
        "every leg is kept"
    );
    // The outcome can be set afterwards from the command line.
    hotline(&["calls", "--database", db, "outcome", &second.id, "7"]);
    assert_eq!(cols_of(rt, store, &second.id).3.as_deref(), Some("7"));
    assert!(wait_until(Duration::from_secs(10), || state("2048")
        == "available"
        && state("1024") == "available"));
}

#[allow(clippy::type_complexity)]
fn cols_of(
    rt: &tokio::runtime::Runtime,
    store: &Store,
    id: &str,
) -> (Option<i64>, Option<String>, Option<i64>, Option<String>) {
    rt.block_on(store.call_agent_columns(id)).unwrap().unwrap()
}

#[test]
fn with_no_agent_the_caller_hears_position_and_wait_then_overflows() {
    let site = site(PLAN);
    let server = &site.server;
    let (phone, _tag, media) = call_in(server, "overflow-1");
    // max_wait is 8 s: the overflow node says goodbye and hangs up.
    let bye = phone
        .wait_for(Duration::from_secs(30), |r| r.method() == Some("BYE"))
        .expect("overflow ends the call");
    phone.ok(&bye);
    assert!(media.received.load(Ordering::Relaxed) > 300);
    let rec = server.calls().pop().unwrap();
    let ivr = server.ivr(&rec.id).unwrap();
    assert_eq!(ivr.outcome.as_deref(), Some("overflow"));
    // Announcements every 3 s while waiting, played into the call.
    let log = server.log();
    let _ = Path::new(&log);
    let events: Vec<String> = server
        .events()
        .into_iter()
        .filter(|(id, _, _)| *id == rec.sip_call_id)
        .map(|(_, kind, detail)| format!("{kind}:{detail}"))
        .collect();
    assert!(events.iter().any(|e| e == "queue:overflow"), "{events:?}");
    let announced = events.iter().filter(|e| e.starts_with("announce")).count();
    assert!(announced >= 2, "{events:?}");
}

/// A SIPp caller (a tone as RTP, an RFC 4733 "1" a second in) is queued and bridged to a
/// baresip agent: the agent hears the caller's tone, and hotline counts packets both ways
/// on both legs.
#[test]
fn sipp_caller_is_bridged_to_a_baresip_agent() {
    if tool("baresip").is_none() || tool("sipp").is_none() {
        return;
    }
    let site = site(PLAN);
    let (server, rt, store) = (&site.server, &site.rt, &site.store);
    let phones = site.agents(&[("1024", "Li Lei")]);
    let agent = &phones[0];
    site.login("1024", agent);

    let work = TempDir::new("sipp-agent");
    common::sipp_caller_audio(&work.0);
    let sipp_args: Vec<String> = vec![
        server.addr(),
        "-sf".into(),
        common::shared()
            .join("sipp/ivr_uac.xml")
            .display()
            .to_string(),
        "-s".into(),
        "hotline".into(),
        "-i".into(),
        "127.0.0.1".into(),
        "-p".into(),
        common::free_port().to_string(),
        "-mi".into(),
        "127.0.0.1".into(),
        "-mp".into(),
        common::free_ports(4).to_string(),
        "-m".into(),
        "1".into(),
        "-d".into(),
        "10000".into(),
    ];
    let stats = common::run_sipp(&work.0, &sipp_args, Duration::from_secs(60));
    assert_eq!(
        stats.get("SuccessfulCall(C)").map(|v| v.trim()),
        Some("1"),
        "{}\n{}",
        stats["errors"],
        server.log()
    );
    let call = server.calls().pop().expect("a record");
    let cols = rt
        .block_on(store.call_agent_columns(&call.id))
        .unwrap()
        .unwrap();
    assert_eq!(cols.1.as_deref(), Some("1024"), "{}", server.log());
    assert!(cols.2.is_some(), "connected");
    // The caller's tone reached the agent through the relay. (SIPp's "1", a second in,
    // comes while the caller still waits, so it stays with hotline.)
    assert!(agent.heard_peak() > 2000, "agent heard silence");
    // Packets counted on both legs, both ways (the caller streamed for about 10 s, the
    // agent's phone answered after a second or two).
    // Stored with the end of the call, committed a moment after SIPp has its 200.
    let rtp = || rt.block_on(store.call_rtp(&call.id)).unwrap();
    assert!(wait_until(Duration::from_secs(10), || rtp().is_some()));
    let (from_caller, to_caller) = rtp().unwrap();
    assert!(
        from_caller >= 400 && to_caller >= 400,
        "{from_caller} / {to_caller}"
    );
    agent.command("hangup", "");
    let leg = || rt.block_on(store.legs(&call.id)).unwrap()[0].clone();
    assert!(wait_until(Duration::from_secs(10), || leg()
        .ended_at
        .is_some()));
    let (from_agent, to_agent) = (leg().rtp_received.unwrap(), leg().rtp_sent.unwrap());
    assert!(
        from_agent >= 300 && to_agent >= 300,
        "{from_agent} / {to_agent}"
    );
}

/// The caller presses * while waiting: they leave the queue for the callback offer, and
/// the callback keeps their arrival time, so callbacks are served in the order callers
/// arrived.
#[test]
fn star_leaves_the_queue_for_a_callback_that_keeps_the_arrival_time() {
    let plan = PLAN.replace(
        "[nodes.offer]\nkind = \"hangup\"\nprompts = [\"callback_offer\"]\noutcome = \"overflow\"",
        "[nodes.offer]\nkind = \"callback\"\nfollow_up = \"callback\"\ncategory = \"callback\"\nconfirm_number = false\nnumber_is = [\"callback_number_is\"]\nconfirm = [\"callback_confirm_keys\"]\nenter_number = [\"callback_enter_number\"]\nconfirmed = [\"callback_confirmed\"]\nwithin_hours = 4\noutcome = \"overflow\"\nnext = \"bye\"\nfallback = \"bye\"\n\n[nodes.bye]\nkind = \"hangup\"",
    );
    assert_ne!(plan, PLAN);
    let (_dir, args) = setup_with(&plan);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Server::start_logging(&args, "info,sqlx=warn");
    let phone = Phone::new(&server.addr());
    let (tag, _port) = place_call(&phone, "leave-1");
    std::thread::sleep(Duration::from_secs(3));
    let info = phone
        .request(
            "INFO",
            "leave-1",
            2,
            "z9hG4bKleave-1n",
            Some(&tag),
            "Signal=*\r\nDuration=160\r\n",
        )
        .replace("application/sdp", "application/dtmf-relay");
    phone.send(&info);
    let bye = phone
        .wait_for(Duration::from_secs(20), |r| r.method() == Some("BYE"))
        .expect("the callback node confirms and hangs up");
    phone.ok(&bye);
    let call = server.calls().pop().unwrap();
    let events: Vec<String> = server
        .events()
        .into_iter()
        .filter(|(id, _, _)| *id == call.sip_call_id)
        .map(|(_, kind, _)| kind)
        .collect();
    assert!(events.iter().any(|k| k == "queue_left"), "{events:?}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let store = rt.block_on(Store::connect(&server.db_url)).unwrap();
    let followups = rt.block_on(store.followups()).unwrap();
    let f = followups
        .iter()
        .find(|f| f.call_id.as_deref() == Some(call.id.as_str()))
        .expect("a callback");
    assert!(
        (f.created_at - call.arrived_at).abs() <= 50,
        "the callback counts from the call's arrival ({} vs {})",
        f.created_at,
        call.arrived_at
    );
}

/// The agent holds and resumes the caller, then escalates with *9: the caller goes to the
/// supervisors' queue; with no supervisor free, the call ends when that queue's wait runs
/// out instead of waiting in silence (no dial plan node waits for a queue a transfer
/// chose).
#[test]
fn hold_then_escalation_to_an_empty_supervisors_queue_ends_after_its_wait() {
    if tool("baresip").is_none() {
        return;
    }
    let site = site(PLAN);
    let server = &site.server;
    let phones = site.agents(&[("1024", "Li Lei")]);
    let agent = &phones[0];
    site.login("1024", agent);
    let (phone, _tag, media) = call_in(server, "escalate-1");
    site.wait_state("1024", "on_call", agent);
    std::thread::sleep(Duration::from_secs(4));
    // The agent puts the caller on hold (re-INVITE): the caller hears music meanwhile,
    // and the conversation resumes.
    let kinds = || -> Vec<String> {
        server
            .events()
            .into_iter()
            .filter(|(id, _, _)| id == "escalate-1")
            .map(|(_, kind, _)| kind)
            .collect()
    };
    agent.command("hold", "");
    assert!(
        wait_until(Duration::from_secs(10), || kinds()
            .contains(&"hold".to_string())),
        "{:?}\n{}",
        kinds(),
        agent.log()
    );
    let before = media.loud.load(Ordering::Relaxed);
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        media.loud.load(Ordering::Relaxed) > before + 30,
        "the caller hears hold music"
    );
    agent.command("resume", "");
    assert!(
        wait_until(Duration::from_secs(10), || kinds()
            .contains(&"resume".to_string())),
        "{:?}",
        kinds()
    );
    std::thread::sleep(Duration::from_secs(1));
    agent.keys("*9");
    // The agent is released at once; nobody is in the supervisors' queue, so the caller
    // goes to the plan's overflow node at once, which says goodbye.
    site.wait_state("1024", "wrap_up", agent);
    let bye = phone
        .wait_for(Duration::from_secs(20), |r| r.method() == Some("BYE"))
        .expect("the call ends when the supervisors' queue overflows");
    phone.ok(&bye);
    let call = server.calls().pop().unwrap();
    let legs = site.rt.block_on(site.store.legs(&call.id)).unwrap();
    assert_eq!(legs.len(), 1);
    assert_eq!(legs[0].end_cause.as_deref(), Some("transferred"));
    // The call's last events are committed a moment after its BYE goes out.
    let events = || -> Vec<(String, String)> {
        server
            .events()
            .into_iter()
            .filter(|(id, _, _)| *id == call.sip_call_id)
            .map(|(_, kind, detail)| (kind, detail))
            .collect()
    };
    let overflow = ("queue".to_string(), "overflow after transfer".to_string());
    assert!(
        wait_until(Duration::from_secs(10), || events().contains(&overflow)),
        "{:?}",
        events()
    );
    assert!(
        events().contains(&("transfer".into(), "supervisors".into())),
        "{:?}",
        events()
    );
}
