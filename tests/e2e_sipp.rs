//! End-to-end: SIPp callers against a real `hotline serve` on loopback, over UDP and TCP.
//! Every call must succeed with no unexpected message, and leave exactly one closed record.

mod common;

use common::{free_port, free_ports, shared, tool, Server, TempDir};
use std::collections::HashMap;
use std::path::Path;

use std::time::Duration;

const CALLS: usize = 200;

/// Runs SIPp against the server and returns its last statistics as name -> value.
fn sipp(server: &Server, dir: &Path, scenario: &[&str], tcp: bool) -> HashMap<String, String> {
    let mut args: Vec<String> = vec![server.addr()];
    args.extend(scenario.iter().map(|s| s.to_string()));
    args.extend(["-i", "127.0.0.1", "-p"].map(String::from));
    args.push(free_port().to_string());
    args.extend(["-m", &CALLS.to_string(), "-r", "50", "-l", "400"].map(String::from));
    args.extend(["-timeout", "120", "-buff_size", "4194304"].map(String::from));
    if tcp {
        args.extend(["-t", "t1"].map(String::from));
    }
    common::run_sipp(dir, &args, Duration::from_secs(90))
}

/// SIPp runs one at a time: each loads both cores, and they would skew each other.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn check_run(scenario: &[&str], tcp: bool, digit_pressed: bool, extra_files: impl FnOnce(&Path)) {
    if tool("sipp").is_none() {
        return;
    }
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut server = Server::start(&["--ring-delay-ms", "100"]);
    let dir = TempDir::new("sipp");
    extra_files(&dir.0);
    let stats = sipp(&server, &dir.0, scenario, tcp);
    let n = |k: &str| {
        stats
            .get(k)
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(u64::MAX)
    };
    let why = || {
        format!(
            "sipp errors:\n{}\nserver log:\n{}",
            stats["errors"],
            server.log()
        )
    };
    assert_eq!(n("SuccessfulCall(C)"), CALLS as u64, "{}", why());
    assert_eq!(n("FailedCall(C)"), 0, "{}", why());
    assert_eq!(n("FailedUnexpectedMessage(C)"), 0, "{}", why());
    assert!(server.stop().success(), "hotline exits 0 on SIGTERM");
    let calls = server.calls();
    assert_eq!(calls.len(), CALLS, "one record per call");
    let transport = if tcp { "tcp" } else { "udp" };
    for c in &calls {
        assert_eq!(c.transport, transport);
        assert!(c.answered_at.is_some(), "answered: {c:?}");
        assert!(c.ended_at.is_some(), "ended: {c:?}");
        assert_eq!(c.end_cause.as_deref(), Some("caller_bye"), "{c:?}");
        assert_eq!(c.ended_by.as_deref(), Some("caller"));
        // 100 ms ring delay; records are stamped a little after the events, so allow slack
        assert!(
            c.answered_at.unwrap() - c.arrived_at >= 50,
            "answered after ringing: {c:?}"
        );
    }
    let distinct: std::collections::HashSet<&str> =
        calls.iter().map(|c| c.sip_call_id.as_str()).collect();
    assert_eq!(distinct.len(), CALLS);
    if digit_pressed {
        // ivr_uac.xml presses "1" (an RFC 4733 pcap) in every call: one event per call
        let events = server.events();
        let ones = events
            .iter()
            .filter(|(_, k, d)| k == "dtmf" && d == "1")
            .count();
        assert_eq!(ones, CALLS, "every call's key press was recognised, once");
    }
}

#[test]
fn sipp_builtin_uac_over_udp() {
    check_run(&["-sn", "uac"], false, false, |_| {});
}

#[test]
fn sipp_builtin_uac_over_tcp() {
    check_run(&["-sn", "uac"], true, false, |_| {});
}

fn ivr_scenario() -> Vec<String> {
    let xml = shared().join("sipp/ivr_uac.xml");
    vec![
        "-sf".into(),
        xml.display().to_string(),
        "-s".into(),
        "hotline".into(),
        "-mi".into(),
        "127.0.0.1".into(),
        "-mp".into(),
        free_ports(4).to_string(),
        "-d".into(),
        "1500".into(),
    ]
}

#[test]
fn sipp_ivr_caller_over_udp() {
    let args = ivr_scenario();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    check_run(&args, false, true, common::sipp_caller_audio);
}

#[test]
fn sipp_ivr_caller_over_tcp() {
    let args = ivr_scenario();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    check_run(&args, true, true, common::sipp_caller_audio);
}
