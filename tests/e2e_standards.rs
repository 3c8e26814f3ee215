//! End-to-end service standards on the shipped dial plan (`dialplans/hotline.toml`, the
//! shipped `queues.toml` and `prompts/`): a real SIPp caller against the real server, its
//! call clock started at a fixed instant (`HOTLINE_TEST_CLOCK_START`) so that a holiday
//! morning, office hours or a weekday evening are the same whenever the test runs.
//!
//! Nobody is logged in to any queue, so every queue overflows at once. Each test has a
//! server of its own, on free ports with a temporary database.

mod common;

use common::{free_port, free_ports, tool, Server, TempDir};
use hotline::store::{CallRow, EventRow, FollowUpRow};
use std::path::{Path, PathBuf};
use std::process::Command;

const CALLER: &str = "13800138000";
/// National Day (a named holiday), 10:00 in the plan's time zone.
const HOLIDAY_MORNING: &str = "2026-10-01T10:00:00+08:00";
/// A Monday in office hours.
const MONDAY_MORNING: &str = "2026-11-23T10:00:00+08:00";
/// The same Monday, after hours.
const MONDAY_EVENING: &str = "2026-11-23T20:00:00+08:00";

/// Starts `hotline serve` on the shipped plan, queues and prompts, its clock at `instant`.
fn start_at(instant: &str) -> Server {
    let root = env!("CARGO_MANIFEST_DIR");
    Server::start_with_env(
        &[
            "--ring-delay-ms",
            "0",
            "--dialplans",
            &format!("{root}/dialplans"),
            "--prompts",
            &format!("{root}/prompts"),
            "--queues",
            &format!("{root}/queues.toml"),
        ],
        "info,sqlx=warn",
        &[("HOTLINE_TEST_CLOCK_START", instant)],
    )
}

/// How the SIPp caller's call ends.
enum End {
    /// The caller stays on the line until hotline sends BYE, and answers it.
    AwaitBye,
    /// The caller hangs up this many ms after its last key.
    HangUpAfter(u32),
}

/// A caller scenario from `../shared/sipp/ivr_uac.xml`, From `caller`: for each step, a
/// pause of so many ms, then its keys (RFC 4733 captures, 400 ms apart); then `end`.
fn scenario(dir: &Path, caller: &str, steps: &[(u32, &str)], end: End) -> PathBuf {
    let template = std::fs::read_to_string(common::shared().join("sipp/ivr_uac.xml"))
        .expect("ivr_uac.xml")
        .replace("sip:sipp@", &format!("sip:{caller}@"));
    let head = &template[..template
        .find("<pause milliseconds=\"1000\"/>")
        .expect("the scenario's key press")];
    let bye_start = template
        .find("<send retrans=\"500\" start_rtd=\"bye\">")
        .expect("the scenario's BYE");
    let bye_end = template
        .find("<ResponseTimeRepartition")
        .expect("the scenario's end");
    let mut body = String::new();
    for (pause, keys) in steps {
        body.push_str(&format!("<pause milliseconds=\"{pause}\"/>\n"));
        for k in keys.chars() {
            let name = match k {
                '#' => "pound".to_string(),
                '*' => "star".to_string(),
                d => d.to_string(),
            };
            body.push_str(&format!(
                "<nop><action><exec play_pcap_audio=\"/usr/share/sip-tester/dtmf_2833_{name}.pcap\"/></action></nop>\n<pause milliseconds=\"400\"/>\n"
            ));
        }
    }
    match end {
        End::HangUpAfter(ms) => {
            body.push_str(&format!("<pause milliseconds=\"{ms}\"/>\n"));
            body.push_str(&template[bye_start..bye_end]);
        }
        End::AwaitBye => body.push_str(
            r#"<recv request="BYE" timeout="80000"/>
  <send><![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[service]@[local_ip]:[local_port]>
      Content-Length: 0
    ]]></send>
  "#,
        ),
    }
    let xml = format!("{head}{body}{}", &template[bye_end..]);
    let path = dir.join("standards.xml");
    std::fs::write(&path, xml).unwrap();
    path
}

/// Places one SIPp call from `caller` to 95555 and waits for it to finish; fails the
/// test, with SIPp's message trace and the server's log, if SIPp reports a failed call.
fn place_call(sipp: &Path, server: &Server, caller: &str, steps: &[(u32, &str)], end: End) {
    let work = TempDir::new("standards-sipp");
    common::sipp_caller_audio(&work.0);
    let scenario = scenario(&work.0, caller, steps, end);
    let status = Command::new(sipp)
        .current_dir(&work.0)
        .arg(server.addr())
        .args([
            "-sf",
            scenario.to_str().unwrap(),
            "-s",
            "95555",
            "-i",
            "127.0.0.1",
        ])
        .args(["-p", &free_port().to_string(), "-mi", "127.0.0.1"])
        .args(["-mp", &free_ports(4).to_string()])
        .args(["-m", "1", "-r", "1", "-nostdin", "-timeout", "90"])
        .args(["-trace_err", "-trace_msg"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    if !status.success() {
        let trace = std::fs::read_dir(&work.0)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| {
                let n = e.file_name().to_string_lossy().into_owned();
                n.ends_with("_messages.log") || n.ends_with("_errors.log")
            })
            .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
            .collect::<String>();
        panic!(
            "sipp call failed ({status}):\n{trace}\n--- server log ---\n{}",
            server.log()
        );
    }
}

/// What the server stored, read after it stopped.
struct Record {
    call: CallRow,
    ivr: hotline::store::CallIvr,
    events: Vec<EventRow>,
    followups: Vec<FollowUpRow>,
}

impl Record {
    /// The single call's record (the server is stopped first, so everything is flushed).
    fn of_single_call(server: &mut Server) -> Record {
        assert!(server.stop().success(), "{}", server.log());
        let calls = server.calls();
        assert_eq!(calls.len(), 1, "{calls:?}\n{}", server.log());
        let call = calls.into_iter().next().unwrap();
        let ivr = server.ivr(&call.id).expect("the call's IVR columns");
        let id = call.id.clone();
        let (events, followups) = server.read(async |store| {
            (
                store.events(&id).await.expect("reading events"),
                store.followups().await.expect("reading follow-ups"),
            )
        });
        Record {
            call,
            ivr,
            events,
            followups,
        }
    }

    /// Events as "kind detail" lines, for assertions and messages.
    fn timeline(&self) -> Vec<String> {
        self.events
            .iter()
            .map(|e| format!("{} {}", e.kind, e.detail))
            .collect()
    }

    fn has(&self, kind: &str, detail: &str) -> bool {
        self.events
            .iter()
            .any(|e| e.kind == kind && e.detail == detail)
    }

    /// The first event of `kind` whose detail starts with `prefix`.
    fn event(&self, kind: &str, prefix: &str) -> &EventRow {
        self.events
            .iter()
            .find(|e| e.kind == kind && e.detail.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {kind} {prefix}... in {:#?}", self.timeline()))
    }

    /// The index of that event in the timeline.
    fn position(&self, kind: &str, prefix: &str) -> usize {
        self.events
            .iter()
            .position(|e| e.kind == kind && e.detail.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {kind} {prefix}... in {:#?}", self.timeline()))
    }
}

/// A path the server stored, as seen from the test (the server runs in its own folder).
fn server_path(server: &Server, stored: &str) -> PathBuf {
    let p = Path::new(stored);
    match p.is_absolute() {
        true => p.to_path_buf(),
        false => server.dir.0.join(p),
    }
}

/// How long a shipped Chinese prompt plays, in ms (16-bit mono 8 kHz WAV).
fn prompt_ms(name: &str) -> i64 {
    let path = format!("{}/prompts/zh-CN/{name}.wav", env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::metadata(&path).expect("the prompt").len() as i64;
    (bytes - 44) / 16
}

fn ms_of(instant: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(instant)
        .unwrap()
        .timestamp_millis()
}

#[test]
fn holiday_morning_urgent_goes_to_duty_and_leaves_an_urgent_callback() {
    let Some(sipp) = tool("sipp") else {
        return;
    };
    let mut server = start_at(HOLIDAY_MORNING);
    // "1" (Chinese) and "9" (urgent) typed during the National Day greeting.
    place_call(&sipp, &server, CALLER, &[(1000, "19")], End::AwaitBye);
    let r = Record::of_single_call(&mut server);
    let t = r.timeline();
    assert!(
        r.has("branch", "welcome: case 3 -> greet_national_day"),
        "{t:#?}"
    );
    assert!(
        r.has("branch", "hours_check: default -> after_hours"),
        "{t:#?}"
    );
    assert!(r.has("branch", "urgent: default -> urgent_duty"), "{t:#?}");
    assert_eq!(r.ivr.queue.as_deref(), Some("duty"), "{:?}\n{t:#?}", r.ivr);
    assert_eq!(r.ivr.priority, Some(9), "{:?}", r.ivr);
    assert_eq!(r.ivr.outcome.as_deref(), Some("urgent"), "{:?}", r.ivr);
    assert!(r.has("queue", "overflow"), "nobody is on duty: {t:#?}");
    // the urgent callback: caller's number as is, urgency 9, within the clock hour
    assert_eq!(r.followups.len(), 1, "{:#?}", r.followups);
    let f = &r.followups[0].spec;
    assert_eq!(f.kind.as_str(), "callback");
    assert_eq!(f.category, "urgent");
    assert_eq!(f.urgency, 9);
    assert_eq!(f.number, CALLER);
    assert_eq!(f.call_id.as_deref(), Some(r.call.id.as_str()));
    let start = ms_of(HOLIDAY_MORNING);
    assert!(
        f.created_at >= start && f.created_at < start + 10 * 60_000,
        "created on the holiday morning: {}",
        f.created_at
    );
    let to = f.promised_to.expect("a promised time");
    assert!(
        to > f.created_at && to - f.created_at <= 3_600_000 + 60_000,
        "within the hour, nights and holidays included: {f:?}"
    );
    // the holiday goodbye, and hotline hung up after it
    assert!(
        r.has("branch", "goodbye: case 1 -> goodbye_holiday"),
        "{t:#?}"
    );
    assert_eq!(r.call.ended_by.as_deref(), Some("hotline"), "{:?}", r.call);
}

#[test]
fn after_hours_complaint_keeps_its_description_and_four_deadlines() {
    let Some(sipp) = tool("sipp") else {
        return;
    };
    let mut server = start_at(MONDAY_EVENING);
    // 1 Chinese, 3 complaint, 1 service attitude (typed ahead during the greeting); the
    // description is spoken after the tone, well after the prompt, and # ends it; the
    // caller hangs up while told the complaint is kept (nobody is on duty).
    place_call(
        &sipp,
        &server,
        CALLER,
        &[(1000, "131"), (16_000, "#")],
        End::HangUpAfter(12_000),
    );
    let r = Record::of_single_call(&mut server);
    let t = r.timeline();
    assert!(
        r.has("branch", "hours_check: default -> after_hours"),
        "{t:#?}"
    );
    assert!(r.has("voicemail", "recorded"), "{t:#?}");
    assert_eq!(r.ivr.outcome.as_deref(), Some("complaint"), "{:?}", r.ivr);
    assert_eq!(
        r.ivr.queue.as_deref(),
        Some("duty"),
        "after hours, complaints go to the duty queue: {:?}\n{t:#?}",
        r.ivr
    );
    assert!(
        r.has("branch", "complaint_route: default -> complaint_duty"),
        "{t:#?}"
    );
    assert_eq!(r.followups.len(), 1, "{:#?}", r.followups);
    let f = &r.followups[0].spec;
    assert_eq!(f.kind.as_str(), "complaint");
    assert_eq!(f.category, "service_attitude");
    assert_eq!(f.number, CALLER);
    assert_eq!(f.call_id.as_deref(), Some(r.call.id.as_str()));
    for (name, due) in [
        ("due_forward", f.due_forward),
        ("due_contact", f.due_contact),
        ("due_answer", f.due_answer),
        ("due_resolve", f.due_resolve),
    ] {
        let due = due.unwrap_or_else(|| panic!("{name} is missing: {f:?}"));
        assert!(due > f.created_at, "{name} after the call: {f:?}");
    }
    // the description: the WAV the complaint's voicemail node recorded
    let recording = f.recording.as_deref().expect("the description's recording");
    assert!(
        recording.ends_with("-complaint_describe.wav"),
        "{recording}"
    );
    assert!(
        r.has("voicemail", recording),
        "the call's timeline names the same file: {t:#?}"
    );
    let wav = server_path(&server, recording);
    let size = std::fs::metadata(&wav)
        .unwrap_or_else(|e| panic!("{}: {e}", wav.display()))
        .len();
    assert!(
        size > 44 + 8000,
        "a description of some length: {size} bytes"
    );
    // nobody on duty: the queue overflowed; the ticket was there before it
    assert!(
        r.position("followup", "") < r.position("queue", "overflow"),
        "the ticket exists before the queue: {t:#?}"
    );
    assert_eq!(r.call.ended_by.as_deref(), Some("caller"), "{:?}", r.call);
}

#[test]
fn after_hours_message_leaves_a_callback_with_its_recording() {
    let Some(sipp) = tool("sipp") else {
        return;
    };
    let mut server = start_at(MONDAY_EVENING);
    // 1 Chinese, 2 leave a message; # after the tone; the caller hangs up during the
    // goodbye.
    place_call(
        &sipp,
        &server,
        CALLER,
        &[(1000, "12"), (14_000, "#")],
        End::HangUpAfter(2000),
    );
    let r = Record::of_single_call(&mut server);
    let t = r.timeline();
    assert_eq!(r.ivr.outcome.as_deref(), Some("voicemail"), "{:?}", r.ivr);
    assert_eq!(r.followups.len(), 1, "{:#?}\n{t:#?}", r.followups);
    let f = &r.followups[0].spec;
    assert_eq!(f.kind.as_str(), "callback");
    assert_eq!(f.category, "voicemail");
    assert_eq!(f.number, CALLER);
    assert_eq!(f.call_id.as_deref(), Some(r.call.id.as_str()));
    let recording = f.recording.as_deref().expect("the message's recording");
    assert!(recording.ends_with("-leave_message.wav"), "{recording}");
    let wav = server_path(&server, recording);
    assert!(
        wav.starts_with(server.dir.0.join("voicemail")),
        "in the server's voicemail folder: {}",
        wav.display()
    );
    let size = std::fs::metadata(&wav)
        .unwrap_or_else(|e| panic!("{}: {e}", wav.display()))
        .len();
    assert!(size > 44 + 8000, "a message of some length: {size} bytes");
    assert_eq!(r.call.ended_by.as_deref(), Some("caller"), "{:?}", r.call);
}

#[test]
fn keys_typed_during_the_greeting_reach_the_agent_queue() {
    let Some(sipp) = tool("sipp") else {
        return;
    };
    let mut server = start_at(MONDAY_MORNING);
    // "1 0" during the morning greeting, nothing after: the caller hangs up while the
    // callback offer plays (nobody is logged in, so the queue overflowed at once).
    place_call(
        &sipp,
        &server,
        CALLER,
        &[(1000, "10")],
        End::HangUpAfter(8500),
    );
    let r = Record::of_single_call(&mut server);
    let t = r.timeline();
    assert!(
        r.has("branch", "welcome: case 5 -> greet_morning"),
        "{t:#?}"
    );
    assert!(
        r.has("menu", "language: 1 -> lang_zh"),
        "1 chose Chinese: {t:#?}"
    );
    assert_eq!(r.ivr.language.as_deref(), Some("zh-CN"), "{:?}", r.ivr);
    assert!(r.has("menu", "main_menu: 0 -> agent"), "{t:#?}");
    assert!(
        r.has("branch", "hours_check: case 1 -> main_menu"),
        "{t:#?}"
    );
    // the keys came while the greeting played, before any menu
    let keys = r
        .events
        .iter()
        .filter(|e| e.kind == "dtmf")
        .map(|e| e.detail.as_str())
        .collect::<String>();
    assert_eq!(keys, "10", "{t:#?}");
    let greeting = r.event("branch", "welcome:").seq;
    let language = r.event("menu", "language:").seq;
    assert!(
        r.events
            .iter()
            .filter(|e| e.kind == "dtmf")
            .all(|e| e.seq > greeting && e.seq < language),
        "{t:#?}"
    );
    assert_eq!(
        r.ivr.queue.as_deref(),
        Some("general"),
        "{:?}\n{t:#?}",
        r.ivr
    );
    assert_eq!(
        r.ivr.outcome.as_deref(),
        Some("general_enquiry"),
        "{:?}\n{t:#?}",
        r.ivr
    );
    assert!(r.has("queue", "overflow"), "{t:#?}");
    assert_eq!(r.call.ended_by.as_deref(), Some("caller"), "{:?}", r.call);
}

#[test]
fn blocked_number_is_refused_and_recorded() {
    let Some(sipp) = tool("sipp") else {
        return;
    };
    let mut server = start_at(MONDAY_MORNING);
    let mut block = Command::new(env!("CARGO_BIN_EXE_hotline"));
    for (k, _) in std::env::vars() {
        if k.starts_with("HOTLINE_") {
            block.env_remove(k);
        }
    }
    let out = block
        .args(["callers", "block", CALLER, "--reason", "abusive calls"])
        .args(["--database", &server.db_url, "--by", "supervisor"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // started again, it reads the blocklist before taking calls
    assert!(server.stop().success(), "{}", server.log());
    let root = env!("CARGO_MANIFEST_DIR");
    server.restart(
        &[
            "--ring-delay-ms",
            "0",
            "--dialplans",
            &format!("{root}/dialplans"),
            "--prompts",
            &format!("{root}/prompts"),
            "--queues",
            &format!("{root}/queues.toml"),
        ],
        "info,sqlx=warn",
    );
    // the caller presses 0 for an agent: never put through
    place_call(&sipp, &server, CALLER, &[(1000, "10")], End::AwaitBye);
    let r = Record::of_single_call(&mut server);
    let t = r.timeline();
    assert!(
        r.call.answered_at.is_some(),
        "answered to be told: {:?}",
        r.call
    );
    assert_eq!(r.ivr.outcome.as_deref(), Some("blocked"), "{:?}", r.ivr);
    assert!(r.has("blocked", ""), "{t:#?}");
    assert_eq!(r.ivr.queue, None, "{:?}", r.ivr);
    assert!(
        !r.events
            .iter()
            .any(|e| ["branch", "menu", "queue"].contains(&e.kind.as_str())),
        "no dial plan for a blocked caller: {t:#?}"
    );
    assert!(r.followups.is_empty(), "{:#?}", r.followups);
    assert_eq!(r.call.ended_by.as_deref(), Some("hotline"), "{:?}", r.call);
}

#[test]
fn after_the_goodbye_hotline_waits_the_grace_before_hanging_up() {
    let Some(sipp) = tool("sipp") else {
        return;
    };
    let mut server = start_at(MONDAY_EVENING);
    // a message ended with #, then the caller stays on after the goodbye
    place_call(
        &sipp,
        &server,
        CALLER,
        &[(1000, "12"), (14_000, "#")],
        End::AwaitBye,
    );
    let r = Record::of_single_call(&mut server);
    let t = r.timeline();
    let goodbye = r.event("branch", "goodbye: default -> goodbye_day");
    assert!(
        r.position("voicemail", "recorded") < r.position("branch", "goodbye:"),
        "{t:#?}"
    );
    assert_eq!(
        r.events.last().map(|e| e.seq),
        Some(goodbye.seq),
        "nothing after the goodbye: {t:#?}"
    );
    assert_eq!(r.call.ended_by.as_deref(), Some("hotline"), "{:?}", r.call);
    let ended = r.call.ended_at.expect("the call ended");
    // the goodbye plays in full, then the 3 s grace (less a margin) passes before the BYE
    let earliest = goodbye.at + prompt_ms("goodbye") + 2_500;
    assert!(
        ended >= earliest,
        "hotline hung up {} ms after the goodbye began; the prompt is {} ms and the grace 3 s",
        ended - goodbye.at,
        prompt_ms("goodbye")
    );
}
