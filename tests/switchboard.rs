//! Whole calls through the switchboard on a fake clock: scripted callers and agents'
//! phones, a fake media engine and the records it writes, with no socket, no thread and
//! no sleep. Each test walks one scenario of the agent and IVR end-to-end tests in well
//! under a second.

mod common;

use common::board::{plan, secs, Board, MediaLog, Script, Setup, T1};
use hotline::ivr::VerifyOutcome;
use hotline::store::Write;
use hotline::switchboard::Input;

const QUEUE_PLAN: &str = include_str!("fixtures/queue-plan.toml");

/// One agent (1024) serving `general`, logged in; a caller in the shipped plan who asks
/// for an agent (0) and is answered.
fn bridged_call(b: &mut Board) -> (usize, usize) {
    let a = b.agent("1024", &["general"]);
    b.agents_ready();
    let c = b.call_in("13800138000");
    b.main_menu(c, "0");
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
}

#[test]
fn when_the_agent_hangs_up_first_the_caller_answers_the_survey() {
    let mut b = Board::shipped();
    let (a, c) = bridged_call(&mut b);
    let call = b.call_of(c);
    b.run_for(secs(10));
    b.agent_hangs_up(a);
    assert_eq!(b.legs(c)[0].cause, Some("agent_bye"));
    assert_eq!(b.agent_state(a), "wrap_up");
    b.run_until("the survey question plays", secs(10), |b| {
        b.heard(call, "survey_question")
    });
    assert!(b.ended(c).is_none(), "the caller stays for the survey");
    b.keys(c, "5");
    b.run_until("the call ends", secs(30), |b| b.ended(c).is_some());
    assert!(b.heard(call, "survey_thanks"));
    assert!(b.callers[c].got_bye);
    assert_eq!(
        b.story(c),
        [
            "arrived",
            "answered",
            "queued",
            "leg_started 1 1024",
            "leg_answered 1 1024",
            "leg_ended 1 agent_bye",
            "survey 1 5",
            "rtp",
            "ended hotline agent_bye",
        ],
        "{}",
        b.dump()
    );
    let survey_agent = b.writes.iter().find_map(|l| match &l.write {
        Write::Survey { agent, .. } => Some(agent.clone()),
        _ => None,
    });
    assert_eq!(survey_agent, Some(Some("1024".to_string())));
    // No outcome code was keyed: wrap-up runs out (10 s) and the agent is free again.
    b.run_for(secs(11));
    assert_eq!(b.agent_state(a), "available");
}

#[test]
fn an_unanswered_ring_times_out_and_the_next_agent_is_rung() {
    let mut b = Board::shipped();
    let a = b.agent("1024", &["general"]);
    let z = b.agent("2048", &["general"]);
    b.phones[a].default_script = Script::Never;
    // 1024 logs in first: idle longest, rung first.
    b.agents_ready();
    let c = b.call_in("13800138000");
    b.main_menu(c, "0");
    b.run_until("an agent answers", secs(60), |b| {
        b.legs(c).iter().any(|l| l.answered)
    });
    let legs = b.legs(c);
    assert_eq!(legs.len(), 2, "{legs:?}");
    assert_eq!(
        (legs[0].seq, legs[0].agent.as_str(), legs[0].answered),
        (1, "1024", false)
    );
    assert!(legs[0].cause.is_some(), "the first leg is closed");
    assert_eq!(
        (
            legs[1].seq,
            legs[1].agent.as_str(),
            legs[1].answered,
            legs[1].cause
        ),
        (2, "2048", true, None)
    );
    // The general queue rings for 15 s, then CANCELs.
    let started = b
        .when(c, |w| {
            matches!(
                w,
                Write::Agent(hotline::store::AgentWrite::LegStarted { seq: 1, .. })
            )
        })
        .unwrap();
    let ended = b
        .when(c, |w| {
            matches!(
                w,
                Write::Agent(hotline::store::AgentWrite::LegEnded { seq: 1, .. })
            )
        })
        .unwrap();
    assert_eq!(ended - started, secs(15));
    assert_eq!(b.phones[a].got("CANCEL"), 1);
    assert!(b.phones[a].leg().cancelled);
    assert_eq!(b.phones[z].rung(), 1);
    let (call, leg) = (b.call_of(c), b.leg_of(z));
    assert!(b.media_of(call).contains(&MediaLog::Bridge(call, leg)));
    // One miss does not pause the agent (three do).
    assert_eq!(b.agent_state(a), "available");
    assert_eq!(b.agent_state(z), "on_call");
}

#[test]
fn a_caller_who_hangs_up_while_the_agent_rings_cancels_the_leg_and_frees_the_agent() {
    let mut b = Board::shipped();
    let a = b.agent("1024", &["general"]);
    b.phones[a].default_script = Script::Never;
    b.agents_ready();
    let c = b.call_in("13800138000");
    b.main_menu(c, "0");
    b.run_until("the agent's phone rings", secs(30), |b| {
        b.phones[a].rung() == 1
    });
    assert_eq!(b.agent_state(a), "ringing");
    b.run_for(secs(3));
    b.hang_up(c);
    assert_eq!(
        b.ended(c).map(|e| (e.0, e.1)),
        Some(("caller", "caller_bye"))
    );
    assert_eq!(b.phones[a].got("CANCEL"), 1, "{}", b.dump());
    assert!(b.phones[a].leg().cancelled);
    let sent = b.sent_to(b.phones[a].addr);
    assert!(
        sent.last().is_some_and(|l| l.starts_with("ACK ")),
        "the 487 is acknowledged: {sent:?}"
    );
    let legs = b.legs(c);
    assert_eq!(legs.len(), 1);
    assert_eq!(
        (legs[0].answered, legs[0].cause),
        (false, Some("cancelled"))
    );
    assert_eq!(b.agent_state(a), "available");
    assert!(
        !b.media.streams.contains_key(&b.leg_of(a)),
        "the leg's media stopped"
    );

    // Free again: the next caller gets 1024 at once.
    b.phones[a].default_script = Script::Answer(secs(1));
    let c2 = b.call_in("13900139000");
    b.main_menu(c2, "0");
    b.run_until("1024 answers the next call", secs(30), |b| {
        b.legs(c2).iter().any(|l| l.answered)
    });
    assert_eq!(b.legs(c2)[0].agent, "1024");
}

#[test]
fn a_blind_transfer_requeues_the_caller_for_another_agent() {
    let mut b = Board::shipped();
    let (a, c) = bridged_call(&mut b);
    let z = b.agent("2048", &["billing"]);
    b.sync_agents();
    b.agent_request(z, "login");
    let call = b.call_of(c);
    b.run_for(secs(5));
    b.agent_refers(a, "sip:billing@127.0.0.1:5060");
    assert_eq!(b.legs(c)[0].cause, Some("transferred"));
    assert_eq!(
        b.phones[a].got("NOTIFY"),
        1,
        "the transferor hears the transfer went through"
    );
    assert_eq!(b.phones[a].got("BYE"), 1, "and its leg is hung up");
    assert!(b.heard(call, "transferring"));
    b.run_until("2048 answers", secs(30), |b| {
        b.legs(c).iter().filter(|l| l.answered).count() == 2
    });
    let leg2 = b.leg_of(z);
    assert_eq!(b.media.streams[&call].bridge, Some(leg2));
    assert_eq!(
        b.phones[z].leg().invite.header("X-Hotline-Queue"),
        Some("billing")
    );
    b.run_for(secs(30));
    b.agent_hangs_up(z);
    b.run_until("the survey plays", secs(10), |b| {
        b.heard(call, "survey_question")
    });
    b.hang_up(c);
    let legs: Vec<_> = b
        .legs(c)
        .into_iter()
        .map(|l| (l.seq, l.agent, l.queue, l.answered, l.cause))
        .collect();
    assert_eq!(
        legs,
        [
            (
                1,
                "1024".into(),
                Some("general".into()),
                true,
                Some("transferred")
            ),
            (
                2,
                "2048".into(),
                Some("billing".into()),
                true,
                Some("agent_bye")
            ),
        ]
    );
    assert!(b.events(c).contains(&"transfer: billing".to_string()));
    assert_eq!(
        b.ended(c).map(|e| (e.0, e.1)),
        Some(("caller", "caller_bye"))
    );
    assert_eq!(b.agent_state(a), "available", "wrap-up over");
    assert_eq!(b.agent_state(z), "wrap_up");
}

#[test]
fn the_escalation_code_sends_the_caller_to_the_supervisors() {
    let mut b = Board::shipped();
    let (a, c) = bridged_call(&mut b);
    let s = b.agent("9000", &["supervisors"]);
    b.sync_agents();
    b.agent_request(s, "login");
    let call = b.call_of(c);
    b.run_for(secs(5));
    b.agent_keys(a, "*9");
    // The keys also reach the caller, as any key the agent presses.
    let digits: Vec<MediaLog> = b
        .media_of(call)
        .into_iter()
        .filter(|m| matches!(m, MediaLog::SendDigit(..)))
        .collect();
    assert_eq!(
        digits,
        [
            MediaLog::SendDigit(call, '*'),
            MediaLog::SendDigit(call, '9')
        ]
    );
    b.run_until("the supervisor answers", secs(30), |b| {
        b.legs(c).iter().filter(|l| l.answered).count() == 2
    });
    let legs = b.legs(c);
    assert_eq!(
        (legs[0].agent.as_str(), legs[0].cause),
        ("1024", Some("transferred"))
    );
    assert_eq!(
        (
            legs[1].seq,
            legs[1].agent.as_str(),
            legs[1].queue.as_deref()
        ),
        (2, "9000", Some("supervisors"))
    );
    assert!(b.events(c).contains(&"transfer: supervisors".to_string()));
    assert_eq!(b.media.streams[&call].bridge, Some(b.leg_of(s)));
    assert_eq!(b.agent_state(a), "wrap_up");
}

/// The shipped board with the general queue holding callers though nobody is logged in.
fn held_when_empty() -> Board {
    let queues = common::board::shipped_queues_text().replace(
        "[queues.general]\n",
        "[queues.general]\nwait_when_empty = true\n",
    );
    Board::new(Setup {
        queues,
        ..Setup::default()
    })
}

/// Nobody logged in to the queue: the caller is offered a callback at once rather than
/// held for the queue's five minutes.
#[test]
fn an_empty_queue_offers_the_callback_at_once() {
    let mut b = Board::shipped();
    let c = b.call_in("13800138000");
    let call = b.call_of(c);
    b.main_menu(c, "0");
    b.run_until("the callback offer plays", secs(20), |b| {
        b.heard(call, "callback_offer")
    });
    assert!(b.events(c).contains(&"queue: overflow".to_string()));
}

/// A caller who waits hears where and how long at once, with the queue's name.
#[test]
fn the_wait_is_announced_on_entry_with_the_queues_name() {
    let mut b = Board::shipped();
    b.agent("1001", &["general"]);
    b.agents_ready();
    let first = b.call_in("13800138000");
    b.main_menu(first, "0");
    b.run_until("the first caller is rung through", secs(20), |b| {
        b.story(first).contains(&"queued".to_string())
    });
    let c = b.call_in("13900139000");
    let call = b.call_of(c);
    b.main_menu(c, "0");
    b.run_until("queued", secs(20), |b| {
        b.story(c).contains(&"queued".to_string())
    });
    let queued = b.now.at;
    b.run_until("announced", secs(5), |b| {
        b.events(c).iter().any(|e| e.starts_with("announce"))
    });
    assert!(b.now.at - queued < secs(5));
    assert!(b.heard(call, "queue_general") && b.heard(call, "queue_you_are_number"));
}

#[test]
fn with_no_agent_free_the_caller_overflows_to_the_callback_offer_then_leaves_a_message() {
    let mut b = held_when_empty();
    let c = b.call_in("13800138000");
    let call = b.call_of(c);
    b.main_menu(c, "0");
    b.run_until("queued", secs(20), |b| {
        b.story(c).contains(&"queued".to_string())
    });
    let queued = b.now.at;
    b.run_until("the queue overflows", secs(400), |b| {
        b.events(c).contains(&"queue: overflow".to_string())
    });
    // general: 300 s at most, position and wait announced on entry and every 60 s.
    assert_eq!(b.now.at - queued, secs(300), "{}", b.dump());
    let announced = b
        .events(c)
        .iter()
        .filter(|e| e.starts_with("announce"))
        .count();
    assert_eq!(announced, 5, "{:?}", b.events(c));
    assert!(b.heard(call, "queue_you_are_number"));
    b.run_until("the callback offer plays", secs(5), |b| {
        b.heard(call, "callback_offer")
    });
    // No answer to the offer: a message after the tone; # ends it.
    b.run_until("recording", secs(30), |b| {
        b.media_of(call)
            .iter()
            .any(|m| matches!(m, MediaLog::Record(..)))
    });
    assert!(b.media.streams[&call].recording.is_some());
    b.run_for(secs(10));
    b.keys(c, "#");
    assert!(b.media_of(call).contains(&MediaLog::StopRecording(call)));
    b.run_until("goodbye and hang-up", secs(30), |b| b.ended(c).is_some());
    assert!(b.heard(call, "goodbye"));
    assert_eq!(
        b.ended(c).map(|e| (e.0, e.1)),
        Some(("hotline", "completed"))
    );
    assert_eq!(b.ivr(c).outcome.as_deref(), Some("voicemail"));
    assert!(b.legs(c).is_empty());
}

#[test]
fn a_lost_ack_ends_the_call_at_64_t1_and_not_as_silence() {
    let mut b = Board::shipped();
    let c = b.caller("13800138000", "95555");
    b.callers[c].lose_acks = true;
    b.callers[c].sends_rtp = false;
    b.dial(c);
    b.run_until("answered", secs(5), |b| {
        b.callers[c].final_status == Some(200)
    });
    let call = b.call_of(c);
    let answered = b.now.at;
    b.run_until("the call ends", secs(120), |b| b.ended(c).is_some());
    let (by, cause, _, _) = b.ended(c).unwrap();
    assert_eq!((by, cause), ("hotline", "ack_timeout"), "{}", b.dump());
    assert_eq!(b.now.at - answered, T1 * 64);
    assert!(b.callers[c].got_bye, "hung up with BYE");
    let oks = b
        .sent_to(b.callers[c].addr)
        .iter()
        .filter(|l| l.starts_with("SIP/2.0 200"))
        .count();
    assert!(oks >= 8, "the 200 is retransmitted until given up: {oks}");
    // The RTP timeout (30 s) is shorter, but silence counts only once confirmed.
    assert!(!b.media_of(call).contains(&MediaLog::Watch(call)));
    assert!(!b.media_of(call).contains(&MediaLog::NoMedia(call)));
    assert!(!b.events(c).iter().any(|e| e.starts_with("no_media")));
}

#[test]
fn a_confirmed_call_with_no_rtp_ends_after_the_rtp_timeout() {
    // The other side of the lost-ACK test: the watchdog does fire once confirmed.
    let mut b = Board::shipped();
    let c = b.caller("13800138000", "95555");
    b.callers[c].sends_rtp = false;
    b.dial(c);
    b.run_until("answered", secs(5), |b| {
        b.callers[c].final_status == Some(200)
    });
    let confirmed = b.now.at;
    b.run_until("the call ends", secs(120), |b| b.ended(c).is_some());
    assert_eq!(
        b.ended(c).map(|e| (e.0, e.1)),
        Some(("hotline", "no_media"))
    );
    assert_eq!(b.now.at - confirmed, secs(30));
    assert!(b.events(c).contains(&"no_media: ".to_string()));
}

#[test]
fn shutdown_refuses_new_calls_and_hangs_up_live_ones_after_the_drain() {
    let mut b = Board::shipped();
    let c = b.call_in("13800138000");
    b.run_for(secs(2));
    b.input(Input::Shutdown);
    let stop = b.now.at;
    let late = b.caller("13900139000", "95555");
    b.dial(late);
    assert_eq!(b.callers[late].final_status, Some(503));
    let refusal = b.callers[late]
        .received
        .iter()
        .find(|m| m.status() == Some(503))
        .unwrap();
    assert_eq!(refusal.header("Retry-After"), Some("5"));
    assert!(
        b.callers[late].record.is_none(),
        "a refused call leaves no record"
    );
    b.run_for(secs(4));
    assert!(
        b.ended(c).is_none() && !b.callers[c].got_bye,
        "the live call goes on"
    );
    assert!(!b.finished);
    b.run_until("the live call is hung up", secs(2), |b| {
        b.ended(c).is_some()
    });
    assert_eq!(b.now.at - stop, secs(5));
    assert_eq!(
        b.ended(c).map(|e| (e.0, e.1)),
        Some(("hotline", "shutdown"))
    );
    assert!(b.callers[c].got_bye);
    b.run_until("finished", secs(10), |b| b.finished);
    assert_eq!(b.sb.live_calls(), 0);
}

#[test]
fn a_reload_leaves_calls_in_progress_on_their_plan_and_gives_new_calls_the_new_one() {
    let mut b = Board::shipped();
    let c = b.call_in("13800138000");
    let call = b.call_of(c);
    b.run_until("the language menu plays", secs(20), |b| {
        b.heard(call, "language_choice")
    });
    b.input(Input::Reload(vec![plan(QUEUE_PLAN)]));
    // The new call starts in the new plan: queued at once, in English.
    let c2 = b.call_in("13900139000");
    b.run_until("the new call is queued", secs(20), |b| {
        b.story(c2).contains(&"queued".to_string())
    });
    assert_eq!(b.ivr(c2).language.as_deref(), Some("en"));
    assert!(!b.heard(b.call_of(c2), "language_choice"));
    // The first call still walks the shipped plan.
    b.keys(c, "1");
    b.run_until("the main menu plays", secs(20), |b| {
        b.heard(call, "main_menu")
    });
    b.keys(c, "9");
    b.run_until("queued as urgent", secs(20), |b| {
        b.story(c).contains(&"queued".to_string())
    });
    assert_eq!(b.ivr(c).language.as_deref(), Some("zh-CN"));
    assert_eq!(b.ivr(c).queue.as_deref(), Some("urgent"));
    assert_eq!(b.ivr(c2).queue.as_deref(), Some("general"));
}

#[test]
fn leaving_the_queue_with_star_gives_a_callback_that_keeps_the_arrival_time() {
    let mut b = held_when_empty();
    let c = b.call_in("13800138000");
    let call = b.call_of(c);
    b.main_menu(c, "0");
    b.run_until("queued", secs(20), |b| {
        b.story(c).contains(&"queued".to_string())
    });
    b.run_for(secs(70));
    b.keys(c, "*");
    assert!(
        b.events(c).contains(&"queue_left: ".to_string()),
        "{:?}",
        b.events(c)
    );
    b.run_until("the callback offer plays", secs(10), |b| {
        b.heard(call, "callback_offer")
    });
    b.keys(c, "1");
    b.run_until("the number is read back", secs(10), |b| {
        b.heard(call, "callback_confirm_keys")
    });
    b.keys(c, "1");
    b.run_until("the call ends", secs(30), |b| b.ended(c).is_some());
    let arrived = b
        .writes
        .iter()
        .find_map(|l| match &l.write {
            Write::CallArrived { at_ms, .. } => Some(*at_ms),
            _ => None,
        })
        .unwrap();
    let f = first_followup(&b).expect("a callback");
    assert_eq!(f.category, "callback");
    assert_eq!(f.number, "13800138000");
    assert_eq!(f.call_id.as_deref(), Some(b.record(c).as_str()));
    assert_eq!(
        f.created_at, arrived,
        "counts from the call's arrival, not the key"
    );
    assert!(b.now.wall_ms - arrived > 70_000);
    assert_eq!(b.ivr(c).outcome.as_deref(), Some("callback_requested"));
    assert_eq!(
        b.ended(c).map(|e| (e.0, e.1)),
        Some(("hotline", "completed"))
    );
}

/// To the shipped plan's billing menu with an account and PIN.
fn verify(b: &mut Board, c: usize, account: &str, pin: &str) {
    let call = b.call_of(c);
    b.main_menu(c, "1");
    b.run_until("asked for the account", secs(20), |b| {
        b.heard(call, "enter_account")
    });
    b.keys(c, &format!("{account}#"));
    b.run_until("asked for the PIN", secs(20), |b| {
        b.heard(call, "enter_pin")
    });
    b.keys(c, &format!("{pin}#"));
}

#[test]
fn a_verified_caller_reaches_billing_and_the_agent_sees_the_customer() {
    let mut b = Board::shipped();
    b.accounts.insert(
        ("62258800".into(), "777777".into()),
        VerifyOutcome::Ok {
            customer_id: "C-1".into(),
            vip: false,
        },
    );
    let a = b.agent("3000", &["billing"]);
    b.agents_ready();
    let c = b.call_in("13800138000");
    verify(&mut b, c, "62258800", "777777");
    b.run_until("the billing agent answers", secs(60), |b| {
        b.legs(c).iter().any(|l| l.answered)
    });
    assert_eq!(b.verifies.len(), 1);
    let ivr = b.ivr(c);
    assert_eq!(ivr.verified, Some(true));
    assert_eq!(ivr.customer.as_deref(), Some("C-1"));
    assert_eq!(ivr.queue.as_deref(), Some("billing"));
    assert!(b.heard(b.call_of(c), "verify_ok"));
    let invite = &b.phones[a].leg().invite;
    assert_eq!(invite.header("X-Hotline-Customer"), Some("C-1"));
    let events = b.events(c);
    assert!(events.contains(&"dtmf: 6".to_string()), "{events:?}");
    assert!(
        events.contains(&"collect: pin: 6 keys, hidden".to_string()),
        "{events:?}"
    );
}

#[test]
fn pin_keys_typed_over_the_pin_prompt_stay_off_the_timeline() {
    let mut b = Board::shipped();
    let c = b.call_in("13800138000");
    verify(&mut b, c, "62258800", "777777");
    b.run_until("verified", secs(20), |b| !b.verifies.is_empty());
    let events = b.events(c);
    assert!(!events.contains(&"dtmf: 7".to_string()), "{events:?}");
}

#[test]
fn a_ring_timeout_is_recorded_as_no_answer() {
    let mut b = Board::shipped();
    let a = b.agent("1024", &["general"]);
    b.phones[a].default_script = Script::Never;
    b.agents_ready();
    let c = b.call_in("13800138000");
    b.main_menu(c, "0");
    b.run_until("the ring times out", secs(60), |b| {
        b.legs(c).first().is_some_and(|l| l.cause.is_some())
    });
    assert_eq!(b.legs(c)[0].cause, Some("no_answer"));
}

#[test]
fn a_locked_account_ends_the_call_with_the_locked_outcome() {
    let mut b = Board::shipped();
    b.accounts
        .insert(("62258800".into(), "777777".into()), VerifyOutcome::Locked);
    let c = b.call_in("13800138000");
    verify(&mut b, c, "62258800", "777777");
    b.run_until("the call ends", secs(60), |b| b.ended(c).is_some());
    let call = b.call_of(c);
    assert!(b.heard(call, "verify_locked"));
    let ivr = b.ivr(c);
    assert_eq!(ivr.verified, Some(false));
    assert_eq!(ivr.outcome.as_deref(), Some("verify_locked"));
    assert_eq!(
        b.ended(c).map(|e| (e.0, e.1)),
        Some(("hotline", "completed"))
    );
    assert!(b.story(c).iter().all(|s| s != "queued"));
}

#[test]
fn a_held_arrival_record_holds_the_answer() {
    let mut b = Board::new(Setup::default());
    b.hold_commits = true;
    let c = b.caller("13800138000", "95555");
    b.dial(c);
    b.run_for(secs(3));
    assert_eq!(
        b.callers[c].final_status, None,
        "not answered before the record is committed"
    );
    assert!(b.callers[c]
        .received
        .iter()
        .any(|m| m.status() == Some(180)));
    b.commit_held();
    assert_eq!(
        b.callers[c].final_status,
        Some(200),
        "answered at once when committed late"
    );
}

/// A callback booked from the main menu (4, then 1 to confirm the number); returns
/// when the call ended (wall ms) and how.
fn book_callback(b: &mut Board, hang_up_after_goodbye: bool) -> (i64, &'static str) {
    let c = b.call_in("13800138000");
    let call = b.call_of(c);
    b.main_menu(c, "4");
    b.run_until("the number is read back", secs(20), |b| {
        b.heard(call, "callback_confirm_keys")
    });
    b.keys(c, "1");
    b.run_until("the goodbye plays", secs(30), |b| b.heard(call, "goodbye"));
    if hang_up_after_goodbye {
        b.run_for(secs(4));
        if b.ended(c).is_none() {
            b.hang_up(c);
        }
    }
    b.run_until("the call ends", secs(30), |b| b.ended(c).is_some());
    let (by, _, _, at) = b.ended(c).unwrap();
    (at, by)
}

/// After the goodbye, hotline waits `hangup_grace_secs` for the caller to hang up first;
/// a caller who stays is hung up on after it.
#[test]
fn the_caller_may_hang_up_first_after_the_goodbye() {
    let board = |grace: &str| {
        let text = common::board::shipped_plan_text().replace(
            "hangup_grace_secs = 3",
            &format!("hangup_grace_secs = {grace}"),
        );
        Board::new(Setup {
            plans: vec![plan(&text)],
            ..Setup::default()
        })
    };
    let (at_once, by) = book_callback(&mut board("0"), false);
    assert_eq!(by, "hotline");
    let (after_grace, by) = book_callback(&mut board("3"), false);
    assert_eq!(by, "hotline");
    assert!(after_grace - at_once >= 3_000, "{at_once} {after_grace}");
    // With a longer grace, the caller's own BYE ends the call.
    let (_, by) = book_callback(&mut board("10"), true);
    assert_eq!(by, "caller");
}

/// A blocked number is answered, told politely, recorded as `blocked`, and never
/// reaches the dial plan.
#[test]
fn a_blocked_caller_is_refused_politely_and_recorded() {
    let mut b = Board::shipped();
    b.input(Input::Blocked(vec!["13800138000".into()]));
    let c = b.call_in("138-0013-8000");
    let call = b.call_of(c);
    b.run_until("the call ends", secs(30), |b| b.ended(c).is_some());
    assert!(b.heard(call, "blocked_refusal"));
    assert!(!b.heard(call, "language_choice"));
    assert_eq!(b.ivr(c).outcome.as_deref(), Some("blocked"));
    assert!(
        b.events(c).contains(&"blocked: ".to_string()),
        "{:?}",
        b.events(c)
    );
    // Someone else is served as usual.
    let other = b.call_in("13900139000");
    let call = b.call_of(other);
    b.run_until("the greeting plays", secs(10), |b| {
        b.heard(call, "language_choice")
    });
}

/// A message left by hanging up (no #) is a message: its callback follow-up is written,
/// with the recording on it.
#[test]
fn a_message_left_by_hanging_up_becomes_a_callback_with_its_recording() {
    let mut b = Board::shipped();
    let c = b.call_in("13800138000");
    let call = b.call_of(c);
    b.main_menu(c, "0");
    b.run_until("the message is being recorded", secs(60), |b| {
        b.events(c).contains(&"voicemail: recording".to_string())
    });
    b.run_for(secs(3));
    b.hang_up(c);
    b.run_until("the call ends", secs(10), |b| b.ended(c).is_some());
    let f = first_followup(&b).expect("a callback for the message");
    assert_eq!(f.category, "voicemail");
    assert_eq!(f.number, "13800138000");
    let recording = f.recording.expect("the recording is on the follow-up");
    assert!(recording.ends_with("-leave_message.wav"), "{recording}");
    assert_eq!(b.ended(c).map(|e| e.0), Some("caller"));
    assert!(b.heard(call, "voicemail"));
}

/// A complaint described and then hung up on is still filed, with its description.
#[test]
fn a_complaint_described_then_hung_up_on_is_filed_with_the_description() {
    let mut b = Board::shipped();
    let c = b.call_in("13800138000");
    let call = b.call_of(c);
    b.main_menu(c, "3");
    b.run_until("the kinds of complaint are offered", secs(30), |b| {
        b.heard(call, "complaint_category")
    });
    b.keys(c, "2");
    b.run_until("the description is being recorded", secs(30), |b| {
        b.events(c).contains(&"voicemail: recording".to_string())
    });
    b.run_for(secs(5));
    b.hang_up(c);
    b.run_until("the call ends", secs(10), |b| b.ended(c).is_some());
    let f = first_followup(&b).expect("the complaint");
    assert_eq!(f.kind, hotline::store::FollowUpKind::Complaint);
    assert_eq!(f.category, "billing");
    assert!(f
        .recording
        .as_deref()
        .is_some_and(|r| r.ends_with("-complaint_describe.wav")));
    assert_eq!(b.ivr(c).outcome.as_deref(), Some("complaint"));
}

/// The first follow-up the switchboard wrote.
fn first_followup(b: &Board) -> Option<hotline::store::NewFollowUp> {
    b.writes.iter().find_map(|l| match &l.write {
        Write::FollowUp(f) => Some((**f).clone()),
        _ => None,
    })
}
