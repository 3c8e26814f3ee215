//! End-to-end call flows with a scripted phone on a real socket: a lost ACK, and a
//! graceful shutdown with a call in progress.

mod common;

use common::{Phone, Server};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

#[test]
fn lost_ack_hangs_up_with_bye_and_closes_the_record() {
    // T1 = 20 ms: the 2xx is given up on after 64*T1 = 1.28 s
    let mut server = Server::start(&["--ring-delay-ms", "0", "--sip-t1-ms", "20"]);
    let phone = Phone::new(&server.addr());
    phone.send(&phone.request("INVITE", "lost-ack-1", 1, "z9hG4bKla1", None, &phone.sdp()));
    let ok = phone
        .wait_for(WAIT, |r| r.status() == Some(200))
        .expect("200 OK");
    assert!(ok.text.contains("m=audio "), "the 200 carries SDP");
    // never ACK: the 200 is retransmitted, then a BYE comes
    let bye = phone
        .wait_for(WAIT, |r| r.method() == Some("BYE"))
        .expect("BYE after 64*T1");
    assert_eq!(bye.header("Call-ID"), Some("lost-ack-1"));
    phone.ok(&bye);
    assert!(server.stop().success());
    let calls = server.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].end_cause.as_deref(), Some("ack_timeout"));
    assert_eq!(calls[0].ended_by.as_deref(), Some("hotline"));
    assert!(calls[0].answered_at.is_some() && calls[0].ended_at.is_some());
}

#[test]
fn shutdown_refuses_new_calls_then_hangs_up_live_ones() {
    let mut server = Server::start(&["--ring-delay-ms", "0", "--drain-secs", "2"]);
    let phone = Phone::new(&server.addr());
    phone.send(&phone.request("INVITE", "drain-1", 1, "z9hG4bKd1", None, &phone.sdp()));
    let ok = phone
        .wait_for(WAIT, |r| r.status() == Some(200))
        .expect("200 OK");
    let tag = ok.to_tag().expect("To tag");
    phone.send(&phone.request("ACK", "drain-1", 1, "z9hG4bKd1a", Some(&tag), ""));
    // RTP flows to the phone's media port while the call is up
    let media = phone.media_socket();
    media
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut pkt = [0u8; 1500];
    let (n, _) = media.recv_from(&mut pkt).expect("RTP from hotline");
    assert_eq!(n, 12 + 160, "20 ms of G.711 per packet");
    assert_eq!(pkt[1] & 0x7f, 0, "PCMU, as offered");

    server.terminate();
    std::thread::sleep(Duration::from_millis(300));
    let late = Phone::new(&server.addr());
    late.send(&late.request("INVITE", "drain-2", 1, "z9hG4bKd2", None, &late.sdp()));
    let refused = late
        .wait_for(WAIT, |r| r.status().is_some_and(|s| s >= 200))
        .expect("final answer");
    assert_eq!(refused.status(), Some(503), "{}", refused.text);
    assert!(refused.header("Retry-After").is_some());

    let bye = phone
        .wait_for(WAIT, |r| r.method() == Some("BYE"))
        .expect("BYE after the drain period");
    phone.ok(&bye);
    let status = server.wait(WAIT).expect("hotline exits after the drain");
    assert!(status.success(), "exit 0");
    let calls = server.calls();
    let live = calls
        .iter()
        .find(|c| c.sip_call_id == "drain-1")
        .expect("record of the live call");
    assert_eq!(live.end_cause.as_deref(), Some("shutdown"));
    assert_eq!(live.ended_by.as_deref(), Some("hotline"));
}

#[test]
fn caller_digits_never_reach_the_log() {
    let mut server = Server::start_logging(&["--ring-delay-ms", "0"], "trace");
    let phone = Phone::new(&server.addr());
    phone.send(&phone.request("INVITE", "pii-1", 1, "z9hG4bKp1", None, &phone.sdp()));
    let ok = phone
        .wait_for(WAIT, |r| r.status() == Some(200))
        .expect("200 OK");
    let tag = ok.to_tag().unwrap();
    phone.send(&phone.request("BYE", "pii-1", 2, "z9hG4bKp2", Some(&tag), ""));
    phone
        .wait_for(WAIT, |r| r.status() == Some(200) && r.text.contains("BYE"))
        .expect("200 to BYE");
    assert!(server.stop().success());
    assert_eq!(
        server.calls()[0].caller,
        "13800138000",
        "the record keeps the number"
    );
    let log = server.log();
    assert!(log.contains("call arrived"), "the log has the call: {log}");
    assert!(!log.contains("13800138000"), "but not the number");
}
