//! Agents transferring callers on a fake clock: a blind transfer (REFER) to another
//! agent by their ID rings that agent only, and the caller waits for them.

mod common;

use common::board::{secs, Board};

#[test]
fn a_transfer_to_an_agent_id_rings_that_agent_only() {
    let mut b = Board::shipped();
    let a = b.agent("1024", &["general"]);
    let free = b.agent("1025", &["general"]);
    let named = b.agent("2048", &["general"]);
    b.agents_ready();
    // 1025 takes a call first, so that 1024 is the one bridged to ours.
    let c = b.call_in("13800138000");
    let call = b.call_of(c);
    b.run_until("the language menu", secs(20), |b| {
        b.heard(call, "language_choice")
    });
    b.keys(c, "1");
    b.run_until("the main menu", secs(20), |b| b.heard(call, "main_menu"));
    b.keys(c, "0");
    b.run_until("an agent answers", secs(30), |b| {
        b.legs(c).iter().any(|l| l.answered)
    });
    let first = b.legs(c)[0].agent.clone();
    let from = if first == "1024" { a } else { free };
    let other = if first == "1024" { free } else { a };
    b.run_for(secs(5));
    b.agent_refers(from, "sip:2048@127.0.0.1:5060");
    assert_eq!(b.legs(c)[0].cause, Some("transferred"));
    b.run_until("2048 answers", secs(30), |b| {
        b.legs(c).iter().filter(|l| l.answered).count() == 2
    });
    assert_eq!(b.media.streams[&call].bridge, Some(b.leg_of(named)));
    assert_eq!(
        b.phones[other].rung(),
        0,
        "a free agent of the queue is not rung"
    );
    assert!(b.events(c).contains(&"transfer: agent 2048".to_string()));
}
