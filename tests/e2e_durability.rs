//! Durability: SIGKILL in the middle of a SIPp load of short calls, then a restart. Every
//! call SIPp saw answered has its record (hotline answers only once the arrival record is
//! committed), and the calls the kill cut off are closed at start-up with the end cause
//! `server_restart`, so no record is left open.

mod common;

use common::{free_port, tool, Phone, Server, TempDir};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What SIPp saw of each call, read from its -trace_msg log.
#[derive(Default, Debug)]
struct Seen {
    /// Call-IDs whose INVITE got a 200.
    answered: HashSet<String>,
    /// Call-IDs for which SIPp sent a BYE.
    bye_sent: HashSet<String>,
}

/// Reads SIPp's message log: blocks separated by dashed lines, each saying whether the
/// message was sent or received, then the message.
fn read_messages(path: &Path) -> Seen {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut seen = Seen::default();
    for block in text.split("-----------------------------------------------") {
        let received = block.contains("message received");
        let sent = block.contains("message sent");
        let header = |name: &str| {
            block.lines().find_map(|l| {
                let (n, v) = l.split_once(':')?;
                n.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| v.trim().to_string())
            })
        };
        let (Some(call_id), Some(cseq)) = (header("Call-ID"), header("CSeq")) else {
            continue;
        };
        let first = block
            .lines()
            .map(str::trim)
            .find(|l| {
                l.starts_with("SIP/2.0 ")
                    || l.starts_with("BYE ")
                    || l.starts_with("INVITE ")
                    || l.starts_with("ACK ")
            })
            .unwrap_or("");
        if received && first.starts_with("SIP/2.0 200") && cseq.ends_with("INVITE") {
            seen.answered.insert(call_id);
        } else if sent && first.starts_with("BYE ") {
            seen.bye_sent.insert(call_id);
        }
    }
    seen
}

#[test]
fn sigkill_during_load_loses_no_answered_call_and_closes_the_cut_ones() {
    let Some(sipp) = tool("sipp") else {
        return;
    };
    let mut server = Server::start(&["--ring-delay-ms", "0"]);
    let work = TempDir::new("durability");
    // Short calls (1.5 s each) at 100 calls/s: about 150 are live at any moment.
    let mut child = Command::new(sipp)
        .current_dir(&work.0)
        .arg(server.addr())
        .args(["-sn", "uac", "-i", "127.0.0.1"])
        .args(["-p", &free_port().to_string()])
        .args(["-r", "100", "-m", "2000", "-l", "1000", "-d", "1500"])
        .args(["-nostdin", "-timeout", "60", "-buff_size", "4194304"])
        .args(["-trace_msg", "-message_file", "messages.log"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("running sipp");
    std::thread::sleep(Duration::from_secs(4));
    server.kill();
    // Let SIPp notice, then stop it (it writes its logs on SIGTERM).
    std::thread::sleep(Duration::from_millis(500));
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let end = Instant::now() + Duration::from_secs(10);
    while Instant::now() < end && !matches!(child.try_wait(), Ok(Some(_))) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    let seen = read_messages(&work.0.join("messages.log"));
    assert!(
        seen.answered.len() > 100,
        "SIPp saw {} calls answered; the load was too light to test anything",
        seen.answered.len()
    );

    // Before the restart, some records are still open: those calls were cut off.
    let open_before = server
        .calls()
        .iter()
        .filter(|c| c.ended_at.is_none())
        .count();
    assert!(open_before > 0, "the kill cut off calls in progress");

    server.restart(&["--ring-delay-ms", "0"], "warn");
    // The records are closed before the server listens; wait until it answers, so the
    // SIGTERM below finds the server running.
    let phone = Phone::new(&server.addr());
    phone.send(&phone.request("OPTIONS", "after-restart", 1, "z9hG4bKopt1", None, ""));
    assert!(
        phone
            .wait_for(Duration::from_secs(30), |r| r.status() == Some(200))
            .is_some(),
        "the restarted server answers"
    );
    let status = server.stop();
    let log = server.log();
    assert!(status.success(), "{status:?}\n{log}");
    assert!(
        log.contains("closed calls left open by a previous run"),
        "{log}"
    );
    let calls = server.calls();
    let by_call_id: HashMap<&str, &hotline::store::CallRow> =
        calls.iter().map(|c| (c.sip_call_id.as_str(), c)).collect();
    let mut cut = 0;
    for id in &seen.answered {
        let c = by_call_id
            .get(id.as_str())
            .unwrap_or_else(|| panic!("call {id} was answered but has no record"));
        assert!(c.ended_at.is_some(), "closed: {c:?}");
        // The arrival row is committed before the 200 goes out; the answer time is written
        // after it, so only a call the kill cut off may have lost it.
        assert!(
            c.answered_at.is_some() || c.end_cause.as_deref() == Some("server_restart"),
            "answered: {c:?}"
        );
        if !seen.bye_sent.contains(id) {
            // SIPp never hung up: only the restart can have ended it.
            assert_eq!(c.end_cause.as_deref(), Some("server_restart"), "{c:?}");
            assert_eq!(c.ended_by.as_deref(), Some("hotline"));
            cut += 1;
        } else {
            assert!(
                matches!(
                    c.end_cause.as_deref(),
                    Some("caller_bye" | "server_restart")
                ),
                "{c:?}"
            );
        }
    }
    assert!(cut > 0, "some answered calls were cut off by the kill");
    assert!(
        calls.iter().all(|c| c.ended_at.is_some()),
        "no record is left open after the restart"
    );
    let restarted = calls
        .iter()
        .filter(|c| c.end_cause.as_deref() == Some("server_restart"))
        .count();
    assert_eq!(
        restarted, open_before,
        "exactly the open records were closed"
    );
    println!(
        "answered {}, cut off {cut}, records {}, closed server_restart {restarted}",
        seen.answered.len(),
        calls.len()
    );
}
