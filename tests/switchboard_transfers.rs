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
    // Whichever agent of general takes the call transfers it.
    let c = b.call_in("13800138000");
    let call = b.call_of(c);
    b.main_menu(c, "0");
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

/// 1024 (general) bridged to a caller; 2048 (billing) free.
fn consulting() -> (Board, usize, usize, usize) {
    let mut b = Board::shipped();
    let a = b.agent("1024", &["general"]);
    let z = b.agent("2048", &["billing"]);
    b.agents_ready();
    let c = b.call_in("13800138000");
    b.main_menu(c, "0");
    b.run_until("1024 answers", secs(30), |b| {
        b.legs(c).iter().any(|l| l.answered)
    });
    b.run_for(secs(5));
    (b, a, z, c)
}

#[test]
fn an_agent_calls_another_agent_by_id_and_hanging_up_ends_both_sides() {
    let (mut b, a, z, _) = consulting();
    let d = b.agent_dials(a, "2048");
    b.run_until("2048 answers the consultation", secs(10), |b| {
        b.callers[d].final_status == Some(200)
    });
    let consult = b.leg_of(z);
    assert_eq!(
        b.phones[z].leg().invite.header("X-Hotline-Consult"),
        Some("1024")
    );
    assert_eq!(
        b.agent_state(z),
        "on_call",
        "not offered queue calls meanwhile"
    );
    assert!(
        b.media.streams[&consult].bridge.is_some(),
        "the two agents talk"
    );
    b.hang_up(d);
    b.run_for(secs(2));
    assert!(
        b.phones[z].leg().ended,
        "the consulted agent's leg is hung up"
    );
    assert_eq!(b.agent_state(z), "available");
}

#[test]
fn an_attended_transfer_hands_the_caller_to_the_consulted_agent() {
    let (mut b, a, z, c) = consulting();
    let call = b.call_of(c);
    let d = b.agent_dials(a, "2048");
    b.run_until("2048 answers the consultation", secs(10), |b| {
        b.callers[d].final_status == Some(200)
    });
    let consult = b.leg_of(z);
    let (cid, tag) = (
        b.callers[d].call_id.clone(),
        b.callers[d].to_tag.clone().unwrap(),
    );
    let target = format!(
        "sip:2048@127.0.0.1:5060?Replaces={cid}%3Bto-tag%3D{tag}%3Bfrom-tag%3Dc{}",
        b.phones[a].addr.port()
    );
    b.agent_refers(a, &target);
    b.run_for(secs(2));
    assert_eq!(
        b.media.streams[&call].bridge,
        Some(consult),
        "the caller talks to 2048"
    );
    assert!(b.callers[d].got_bye, "the transferor's consultation ends");
    let legs: Vec<_> = b
        .legs(c)
        .into_iter()
        .map(|l| (l.agent, l.answered, l.cause))
        .collect();
    assert_eq!(
        legs,
        [
            ("1024".to_string(), true, Some("transferred")),
            ("2048".to_string(), true, None)
        ]
    );
    assert!(b
        .events(c)
        .contains(&"transfer: attended to agent 2048".to_string()));
    assert_eq!(b.agent_state(a), "wrap_up");
    // The caller hangs up: 2048 keys the outcome, as after any call.
    b.run_for(secs(10));
    b.hang_up(c);
    b.run_until("2048 is asked for the outcome", secs(5), |b| {
        b.heard(consult, "agent_enter_outcome")
    });
}
