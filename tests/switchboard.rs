//! Whole calls through the switchboard on a fake clock: scripted callers and agents'
//! phones, a fake media engine and the records it writes, with no socket, no thread and
//! no sleep. Each test walks one scenario of the agent and IVR end-to-end tests in well
//! under a second.

mod common;

use common::board::{ms, secs, Board, MediaLog, Script, T1};

/// From the shipped plan's language menu (Chinese) to the main menu, then `choice`.
fn main_menu(b: &mut Board, c: usize, choice: &str) {
    let call = b.call_of(c);
    b.run_until("the language menu plays", secs(20), |b| {
        b.heard(call, "language_choice")
    });
    b.keys(c, "1");
    b.run_until("the main menu plays", secs(20), |b| {
        b.heard(call, "main_menu")
    });
    b.keys(c, choice);
}

/// One agent (1024) serving `general`, logged in; a caller in the shipped plan who asks
/// for an agent (0) and is answered.
fn bridged_call(b: &mut Board) -> (usize, usize) {
    let a = b.agent("1024", &["general"]);
    b.agents_ready();
    let c = b.call_in("13800138000");
    main_menu(b, c, "0");
    b.run_until("the agent answers", secs(30), |b| {
        b.legs(c).iter().any(|l| l.answered)
    });
    (a, c)
}

#[test]
fn queued_call_is_bridged_and_the_agent_keys_the_outcome_after_the_caller_hangs_up() {
    let mut b = Board::shipped();
    let (a, c) = bridged_call(&mut b);
    let (call, leg) = (b.call_of(c), b.leg_of(a));
    assert_eq!(b.phones[a].rung(), 1);
    let invite = &b.phones[a].leg().invite;
    assert_eq!(invite.header("X-Hotline-Queue"), Some("general"));
    assert_eq!(invite.header("X-Hotline-Call"), Some(b.record(c).as_str()));
    assert!(
        invite.header("From").unwrap().contains("sip:13800138000@"),
        "the agent's phone shows the caller"
    );
    // The caller hears the agent's ID, then is bridged to the agent.
    assert!(b.media_of(call).contains(&MediaLog::Bridge(call, leg)));
    assert!(b.plays(call).contains(&vec![
        "agent_number".to_string(),
        "digit_1".into(),
        "digit_0".into(),
        "digit_2".into(),
        "digit_4".into(),
        "agent_will_serve".into()
    ]));
    assert_eq!(b.media.streams[&call].bridge, Some(leg));
    // Media is watched on both sides once confirmed.
    assert!(b.media_of(call).contains(&MediaLog::Watch(call)));
    assert!(b.media_of(leg).contains(&MediaLog::Watch(leg)));
    assert_eq!(b.agent_state(a), "on_call");

    b.run_for(secs(20));
    b.hang_up(c);
    assert_eq!(
        b.ended(c).map(|e| (e.0, e.1)),
        Some(("caller", "caller_bye"))
    );
    assert_eq!(b.media.streams[&leg].bridge, None, "unbridged");
    assert_eq!(b.agent_state(a), "wrap_up");
    b.run_until("the agent is asked for the outcome", secs(5), |b| {
        b.heard(leg, "agent_enter_outcome")
    });
    b.agent_keys(a, "1#");
    b.run_until("the leg ends", secs(30), |b| b.legs(c)[0].cause.is_some());
    assert_eq!(
        b.story(c),
        [
            "arrived",
            "answered",
            "queued",
            "leg_started 1 1024",
            "leg_answered 1 1024",
            "rtp",
            "ended caller caller_bye",
            "disposition resolved_on_call",
            "leg_ended 1 completed",
        ],
        "{}",
        b.dump()
    );
    assert!(b.heard(leg, "agent_outcome_saved"));
    assert_eq!(b.phones[a].got("BYE"), 1, "the leg is hung up once saved");
    assert!(b.phones[a].leg().ended);
    assert_eq!(
        b.agent_states(a),
        ["available", "ringing", "on_call", "wrap_up", "available"]
    );
    let ivr = b.ivr(c);
    assert_eq!(ivr.queue.as_deref(), Some("general"));
    assert_eq!(ivr.outcome.as_deref(), Some("general_enquiry"));
    assert_eq!(b.sb.live_calls(), 0);
    let _ = (ms(0), T1, Script::Never);
}
