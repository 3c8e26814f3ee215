//! Calls hotline places, on a fake clock: the callback dialer (the agent's preview, the
//! customer through a trunk, the bridge, the outcome moving the ticket), busy and
//! unanswered customers, trunk failover, a challenged trunk, and the revisit survey.
//! The carrier is a scripted peer at the trunk's address.

mod common;

use common::board::{secs, Board, MediaLog, Script, Setup};
use hotline::store::{DialRequest, DialResult, DialTask, FollowUpKind, FollowUpStatus, Write};

const TRUNKS: &str = r#"
[dialer]
retry_after_mins = 30
max_attempts = 2
ring_secs = 30

[[trunks]]
name = "primary"
address = "127.0.0.1:5091"
caller_id = "4008001234"
strip = "+86"

[[trunks]]
name = "backup"
address = "127.0.0.1:5092"
caller_id = "4008001234"
"#;

const CHALLENGED: &str = r#"
[[trunks]]
name = "carrier"
address = "127.0.0.1:5091"
caller_id = "4008001234"
[trunks.register]
user = "hotline"
password = "s3cret"
"#;

fn board(trunks: &str) -> Board {
    Board::new(Setup {
        trunks: trunks.into(),
        ..Setup::default()
    })
}

fn task(id: &str, kind: FollowUpKind, created_at: i64) -> DialTask {
    DialTask {
        id: id.into(),
        kind,
        status: FollowUpStatus::Open,
        urgency: 0,
        created_at,
        promised_from: None,
        promised_to: None,
        attempts: 0,
        last_attempt_at: None,
        number: "+8613800138000".into(),
        category: "billing".into(),
        customer: Some("A1001".into()),
        customer_name: Some("Zhang San".into()),
        queue: Some("general".into()),
        language: Some("zh-CN".into()),
        parent_id: None,
        owner: None,
    }
}

/// The writes of one kind, as (followup, result) for attempts.
fn attempts(b: &Board) -> Vec<(String, DialResult, bool)> {
    b.writes
        .iter()
        .filter_map(|l| match &l.write {
            Write::DialAttempt {
                followup,
                result,
                unreachable,
                ..
            } => Some((followup.clone(), *result, *unreachable)),
            _ => None,
        })
        .collect()
}

fn wrote(b: &Board, f: impl Fn(&Write) -> bool) -> bool {
    b.writes.iter().any(|l| f(&l.write))
}

/// Agent 1024 in `general`, logged in; a carrier at each trunk; the callback is due.
fn callback_previewed(b: &mut Board, carrier: &[Script]) -> (usize, usize, usize) {
    let a = b.agent("1024", &["general"]);
    let c1 = b.carrier("127.0.0.1:5091", carrier);
    let c2 = b.carrier("127.0.0.1:5092", &[]);
    b.agents_ready();
    let t = task("fu-1", FollowUpKind::Callback, b.now.wall_ms);
    b.dial_work(vec![t], vec![]);
    b.run_until("the agent hears the preview", secs(10), |b| {
        b.phones[a].rung() == 1 && b.heard(b.leg_of(a), "callback_preview")
    });
    (a, c1, c2)
}

#[test]
fn callback_previews_dials_bridges_and_the_outcome_resolves_the_ticket() {
    let mut b = board(TRUNKS);
    let (a, c1, _) = callback_previewed(&mut b, &[Script::Answer(secs(3))]);
    let invite = b.phones[a].leg().invite.clone();
    assert_eq!(invite.header("X-Hotline-Followup"), Some("fu-1"));
    assert!(invite.header("From").unwrap().contains("Zhang San"));
    assert_eq!(b.agent_state(a), "on_call", "taken for the callback");
    assert!(
        b.phones[c1].legs.is_empty(),
        "nothing dialled before the agent says so"
    );

    b.agent_keys(a, "1");
    b.run_until("the customer answers", secs(10), |b| {
        b.phones[c1].legs.iter().any(|l| l.acked)
    });
    let out = &b.phones[c1].leg().invite;
    assert!(
        out.first_line()
            .starts_with("INVITE sip:13800138000@127.0.0.1:5091 "),
        "number rewritten for the trunk: {}",
        out.first_line()
    );
    assert!(out.header("From").unwrap().contains("sip:4008001234@"));
    let (leg, customer) = (b.leg_of(a), b.leg_of(c1));
    assert!(b
        .media_of(customer)
        .contains(&MediaLog::Bridge(customer, leg)));
    let greeting = b.plays(customer).into_iter().next().unwrap_or_default();
    assert_eq!(
        greeting.first().map(String::as_str),
        Some("outbound_greeting")
    );
    assert!(greeting.contains(&"agent_will_serve".to_string()));
    assert_eq!(
        attempts(&b),
        vec![("fu-1".into(), DialResult::Answered, false)]
    );
    assert!(wrote(
        &b,
        |w| matches!(w, Write::FollowUpReached { followup, .. } if followup == "fu-1")
    ));
    assert!(wrote(
        &b,
        |w| matches!(w, Write::OutboundCall { followup: Some(f), agent: Some(a), .. } if f == "fu-1" && a == "1024")
    ));

    // The customer hangs up; the agent keys "resolved on the call".
    b.run_for(secs(30));
    b.agent_hangs_up(c1);
    b.run_until("the agent is asked for the outcome", secs(5), |b| {
        b.heard(leg, "agent_enter_outcome")
    });
    b.agent_keys(a, "1#");
    b.run_for(secs(2));
    assert!(wrote(&b, |w| matches!(w,
        Write::FollowUpResolved { followup, outcome, .. } if followup == "fu-1" && outcome == "resolved_on_call")));
    assert!(wrote(&b, |w| matches!(
        w,
        Write::CallEnded {
            cause: "caller_bye",
            ..
        }
    )));
}

/// The preview says what the callback is about (when the prompts have the category) and
/// the last four digits of the number, before the keys.
#[test]
fn the_preview_names_the_reason_and_the_numbers_last_digits() {
    for (category, reason) in [("voicemail", true), ("billing", false)] {
        let mut b = board(TRUNKS);
        let a = b.agent("1024", &["general"]);
        b.carrier("127.0.0.1:5091", &[]);
        b.agents_ready();
        let mut t = task("fu-1", FollowUpKind::Callback, b.now.wall_ms);
        t.category = category.into();
        b.dial_work(vec![t], vec![]);
        b.run_until("the agent hears the preview", secs(10), |b| {
            b.heard(b.leg_of(a), "callback_preview")
        });
        let preview = b
            .plays(b.leg_of(a))
            .into_iter()
            .find(|p| p.first().is_some_and(|n| n == "callback_preview"))
            .unwrap();
        let mut expected = vec!["callback_preview".to_string()];
        if reason {
            expected.push(format!("callback_reason_{category}"));
        }
        expected.extend(
            [
                "number_ending_in",
                "digit_8",
                "digit_0",
                "digit_0",
                "digit_0",
            ]
            .map(String::from),
        );
        expected.push("callback_preview_keys".into());
        assert_eq!(preview, expected, "{category}");
    }
}

/// The agent's time to press (`preview_secs`, 30 s by default) counts from the end of the
/// spoken preview, not from the answer: a long preview leaves the full time.
#[test]
fn an_unanswered_preview_waits_its_time_after_the_prompt() {
    let mut b = board(TRUNKS);
    let (a, c1, _) = callback_previewed(&mut b, &[]);
    let answered = b.now.wall_ms;
    b.run_until("the preview is given up", secs(120), |b| {
        !attempts(b).is_empty()
    });
    let waited = b.now.wall_ms - answered;
    assert!(
        waited >= 35_000,
        "given up {waited} ms after the answer: the preview itself takes several seconds"
    );
    assert_eq!(
        attempts(&b),
        vec![("fu-1".into(), DialResult::Skipped, false)]
    );
    assert!(b.phones[c1].legs.is_empty(), "nobody dialled");
    assert!(b.phones[a].leg().ended, "the preview leg is hung up");
}

#[test]
fn a_skipped_preview_dials_nobody_and_costs_no_attempt() {
    let mut b = board(TRUNKS);
    let (a, c1, c2) = callback_previewed(&mut b, &[]);
    b.agent_keys(a, "2");
    b.run_for(secs(5));
    assert!(b.phones[c1].legs.is_empty() && b.phones[c2].legs.is_empty());
    assert_eq!(
        attempts(&b),
        vec![("fu-1".into(), DialResult::Skipped, false)]
    );
    assert_eq!(b.agent_state(a), "available", "free again at once");
    assert!(wrote(&b, |w| matches!(
        w,
        Write::CallEnded {
            cause: "preview_skipped",
            ..
        }
    )));
}

#[test]
fn a_busy_customer_is_an_attempt_the_agent_hears_about_and_is_not_redialled_at_once() {
    let mut b = board(TRUNKS);
    let (a, c1, c2) = callback_previewed(&mut b, &[Script::Busy]);
    b.agent_keys(a, "1");
    b.run_until(
        "the agent hears the customer was not reached",
        secs(10),
        |b| b.heard(b.leg_of(a), "callback_not_reached"),
    );
    assert_eq!(attempts(&b), vec![("fu-1".into(), DialResult::Busy, false)]);
    assert!(b.phones[c2].legs.is_empty(), "busy is not a trunk failure");
    b.run_for(secs(20));
    assert_eq!(b.agent_state(a), "available");
    assert!(b.phones[a].leg().ended, "the preview leg is hung up");

    // The store has not caught up yet: the same task again is not called before the wait.
    let t = task("fu-1", FollowUpKind::Callback, b.start.wall_ms);
    b.dial_work(vec![t.clone()], vec![]);
    b.run_for(secs(10));
    assert_eq!(b.phones[a].rung(), 1);
    let _ = c1;
}

#[test]
fn a_failing_trunk_fails_over_to_the_next() {
    let mut b = board(TRUNKS);
    let (a, c1, c2) = callback_previewed(&mut b, &[Script::Refuse(503)]);
    b.agent_keys(a, "1");
    b.run_until("the backup trunk's customer answers", secs(10), |b| {
        b.phones[c2].legs.iter().any(|l| l.acked)
    });
    assert_eq!(b.phones[c1].rung(), 1);
    let via_backup = &b.phones[c2].leg().invite;
    assert!(
        via_backup
            .first_line()
            .starts_with("INVITE sip:+8613800138000@127.0.0.1:5092 "),
        "the backup trunk strips nothing: {}",
        via_backup.first_line()
    );
    assert_eq!(
        attempts(&b),
        vec![("fu-1".into(), DialResult::Answered, false)]
    );
    assert!(wrote(
        &b,
        |w| matches!(w, Write::CallEvent { kind: "trunk_failed", detail, .. } if detail == "503")
    ));
    let routes: Vec<(String, bool)> = b
        .writes
        .iter()
        .filter_map(|l| match &l.write {
            Write::CallRouted {
                trunk, sip_call_id, ..
            } => Some((
                trunk.clone(),
                sip_call_id.as_deref().is_some_and(|s| !s.is_empty()),
            )),
            _ => None,
        })
        .collect();
    assert_eq!(
        routes,
        vec![("primary".into(), true), ("backup".into(), true)]
    );
}

#[test]
fn an_unanswered_last_attempt_marks_the_ticket_unreachable() {
    let mut b = board(TRUNKS);
    let a = b.agent("1024", &["general"]);
    let c1 = b.carrier("127.0.0.1:5091", &[Script::Never]);
    b.agents_ready();
    let mut t = task("fu-1", FollowUpKind::Callback, b.now.wall_ms);
    t.attempts = 1;
    t.last_attempt_at = Some(b.now.wall_ms - 31 * 60_000);
    b.dial_work(vec![t], vec![]);
    b.run_until("the preview", secs(10), |b| b.phones[a].rung() == 1);
    b.run_until("the agent hears the preview", secs(10), |b| {
        b.heard(b.leg_of(a), "callback_preview")
    });
    b.agent_keys(a, "1");
    b.run_until("the customer's phone rings out", secs(60), |b| {
        !attempts(b).is_empty()
    });
    assert_eq!(
        attempts(&b),
        vec![("fu-1".into(), DialResult::NoAnswer, true)]
    );
    assert!(
        b.phones[c1].leg().cancelled,
        "the ringing call is cancelled"
    );
    b.run_for(secs(2));
    assert!(
        b.heard(b.leg_of(a), "callback_unreachable"),
        "the agent hears it was the last attempt"
    );
}

#[test]
fn a_callback_asked_for_from_the_command_line_takes_the_named_agent() {
    let mut b = board(TRUNKS);
    let a = b.agent("1024", &["general"]);
    let other = b.agent("1025", &["billing"]);
    b.carrier("127.0.0.1:5091", &[]);
    b.agents_ready();
    // Not due yet (promised for tomorrow): only the request makes it start now.
    let mut t = task("fu-9", FollowUpKind::Callback, b.now.wall_ms);
    t.promised_from = Some(b.now.wall_ms + 86_400_000);
    let r = DialRequest {
        followup: "fu-9".into(),
        agent: Some("1025".into()),
        requested_by: "supervisor".into(),
        at: b.now.wall_ms,
    };
    b.dial_work(vec![t], vec![r]);
    b.run_until("the named agent is rung", secs(5), |b| {
        b.phones[other].rung() == 1
    });
    assert_eq!(b.phones[a].rung(), 0);
}

#[test]
fn a_challenged_trunk_gets_the_invite_again_with_credentials() {
    // register's credentials; [trunks.auth] alone (a carrier that challenges INVITEs but
    // takes no registration); and auth before register's when a trunk has both.
    let auth_only = CHALLENGED.replace("[trunks.register]", "[trunks.auth]");
    let both = format!("{CHALLENGED}[trunks.auth]\nuser = \"invites\"\npassword = \"s3cret\"\n");
    for (trunks, user) in [
        (CHALLENGED.to_string(), "hotline"),
        (auth_only, "hotline"),
        (both, "invites"),
    ] {
        let mut b = board(&trunks);
        let (a, c1, _) = callback_previewed(&mut b, &[Script::Challenge]);
        b.agent_keys(a, "1");
        b.run_until("the customer answers", secs(10), |b| {
            b.phones[c1].legs.iter().any(|l| l.acked)
        });
        let auth = b.phones[c1]
            .leg()
            .invite
            .header("Authorization")
            .unwrap()
            .to_string();
        assert!(
            auth.contains(&format!("username=\"{user}\"")) && auth.contains("realm=\"carrier\""),
            "{trunks}: {auth}"
        );
        assert!(
            !auth.contains("s3cret"),
            "the password never goes on the wire"
        );
        assert_eq!(
            attempts(&b),
            vec![("fu-1".into(), DialResult::Answered, false)]
        );
    }
}

#[test]
fn a_revisit_asks_the_customer_and_records_the_verdict() {
    for (key, satisfied, ending) in [("1", true, "revisit_thanks"), ("2", false, "revisit_sorry")] {
        let mut b = board(TRUNKS);
        let c1 = b.carrier("127.0.0.1:5091", &[Script::Answer(secs(2))]);
        let mut t = task("fu-r", FollowUpKind::Revisit, b.now.wall_ms);
        t.parent_id = Some("fu-c".into());
        b.dial_work(vec![t], vec![]);
        b.run_until("the customer hears the question", secs(10), |b| {
            b.phones[c1].legs.iter().any(|l| l.acked) && b.heard(b.leg_of(c1), "revisit_question")
        });
        b.run_for(secs(3));
        b.agent_keys(c1, key);
        b.run_until("hotline hangs up after the ending", secs(30), |b| {
            b.phones[c1].leg().ended
        });
        assert!(b.heard(b.leg_of(c1), ending));
        assert!(wrote(&b, |w| matches!(w,
            Write::RevisitAnswered { revisit, satisfied: s, .. } if revisit == "fu-r" && *s == satisfied)));
        assert_eq!(
            attempts(&b),
            vec![("fu-r".into(), DialResult::Answered, false)]
        );
        assert!(wrote(&b, |w| matches!(
            w,
            Write::CallEnded {
                cause: "completed",
                by: "hotline",
                ..
            }
        )));
    }
}

#[test]
fn callbacks_wait_for_opening_hours_unless_urgent() {
    let mut b = board(TRUNKS);
    let a = b.agent("1024", &["general"]);
    b.carrier("127.0.0.1:5091", &[]);
    b.agents_ready();
    // Monday 10:00 on the board's clock; 13 hours later it is 23:00.
    b.run_for(secs(13 * 3600));
    b.sync_agents();
    let calm = task("fu-1", FollowUpKind::Callback, b.start.wall_ms);
    b.dial_work(vec![calm.clone()], vec![]);
    b.run_for(secs(5));
    assert_eq!(b.phones[a].rung(), 0, "no calls at night");
    let mut urgent = calm;
    urgent.urgency = 9;
    b.dial_work(vec![urgent], vec![]);
    b.run_until("the urgent callback is previewed", secs(5), |b| {
        b.phones[a].rung() == 1
    });
}

const DIAL_OUT: &str = r#"
[dial_out]
prefix = "9"

[[trunks]]
name = "primary"
address = "127.0.0.1:5091"
caller_id = "4008001234"
"#;

/// The agent's own call of a dial-out: the port our 200 offered leads to it.
fn dial_out_call(b: &Board, caller: usize) -> hotline::core::sip::endpoint::CallRef {
    let ok = b.callers[caller]
        .received
        .iter()
        .find(|m| m.status() == Some(200) && m.cseq_method() == "INVITE")
        .expect("the agent's call was answered");
    b.media.port_call[&ok.media_port().unwrap()]
}

#[test]
fn an_agent_dials_out_through_the_trunk_and_keys_the_outcome_after() {
    let mut b = board(DIAL_OUT);
    let a = b.agent("1024", &["general"]);
    let c1 = b.carrier("127.0.0.1:5091", &[Script::Answer(secs(2))]);
    b.agents_ready();
    // The customer waits for a callback: calling their number by hand works on it.
    let mut t = task("fu-7", FollowUpKind::Callback, b.now.wall_ms);
    t.promised_from = Some(b.now.wall_ms + 3_600_000);
    t.number = "13800138000".into();
    b.dial_work(vec![t], vec![]);

    let d = b.agent_dials(a, "913800138000");
    b.run_until("the customer answers", secs(10), |b| {
        b.phones[c1].legs.iter().any(|l| l.acked)
    });
    assert_eq!(
        b.callers[d].final_status,
        Some(200),
        "the agent's call is answered"
    );
    let out = &b.phones[c1].leg().invite;
    assert!(out
        .first_line()
        .starts_with("INVITE sip:13800138000@127.0.0.1:5091 "));
    assert!(
        out.header("From").unwrap().contains("sip:4008001234@"),
        "the company's number"
    );
    let (agent_call, customer) = (dial_out_call(&b, d), b.leg_of(c1));
    assert!(b
        .media_of(customer)
        .contains(&MediaLog::Bridge(customer, agent_call)));
    assert!(wrote(&b, |w| matches!(w,
        Write::OutboundCall { agent: Some(a), followup: Some(f), called, .. }
            if a == "1024" && f == "fu-7" && called == "13800138000")));
    assert_eq!(
        attempts(&b),
        vec![("fu-7".into(), DialResult::Answered, false)]
    );
    assert_eq!(b.agent_state(a), "on_call");

    b.run_for(secs(20));
    b.agent_hangs_up(c1);
    b.run_until("the agent is asked for the outcome", secs(5), |b| {
        b.heard(dial_out_call(b, d), "agent_enter_outcome")
    });
    for k in "4#".chars() {
        b.key_on(agent_call, k);
        b.run_for(secs(1));
    }
    assert!(wrote(&b, |w| matches!(w,
        Write::Agent(hotline::store::AgentWrite::Disposition { code, .. }) if code == "information_given")));
    assert!(wrote(&b, |w| matches!(w,
        Write::FollowUpResolved { followup, outcome, .. } if followup == "fu-7" && outcome == "information_given")));
}

#[test]
fn a_number_that_starts_with_the_prefix_from_a_customer_is_an_ordinary_call() {
    let mut b = board(DIAL_OUT);
    let c1 = b.carrier("127.0.0.1:5091", &[]);
    let c = b.caller("13800138000", "95588");
    b.dial(c);
    b.run_for(secs(5));
    assert!(
        b.phones[c1].legs.is_empty(),
        "nothing is dialled out for a customer"
    );
    assert_eq!(
        b.callers[c].final_status,
        Some(200),
        "answered by the dial plan"
    );
}

const TRANSFER_PLAN: &str = r#"
name = "transfer test"
numbers = ["*"]
language = "en"
time_zone = "UTC"
start = "out"
transfer_targets = ["02088886666"]

[calendar]
working_days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

[calendar.hours]
mon = "00:00-24:00"

[nodes.out]
kind = "transfer"
prompts = ["transferring"]
target = "02088886666"
"#;

fn transfer_board() -> Board {
    Board::new(Setup {
        plans: vec![common::board::plan(TRANSFER_PLAN)],
        trunks: DIAL_OUT.into(),
        ..Setup::default()
    })
}

#[test]
fn a_plan_transfer_puts_the_caller_through_a_trunk_until_the_far_end_hangs_up() {
    let mut b = transfer_board();
    let c1 = b.carrier("127.0.0.1:5091", &[Script::Answer(secs(3))]);
    let c = b.call_in("13800138000");
    b.run_until("the far end answers", secs(20), |b| {
        b.phones[c1].legs.iter().any(|l| l.acked)
    });
    let (call, far) = (b.call_of(c), b.leg_of(c1));
    assert!(b.phones[c1]
        .leg()
        .invite
        .first_line()
        .starts_with("INVITE sip:02088886666@127.0.0.1:5091 "));
    assert!(b.media_of(call).contains(&MediaLog::Bridge(call, far)));
    assert!(
        b.events(c).iter().any(|e| e == "transferred: 02088886666"),
        "{:?}",
        b.events(c)
    );
    b.run_for(secs(30));
    b.agent_hangs_up(c1);
    b.run_for(secs(2));
    assert!(
        b.callers[c].got_bye,
        "the caller is hung up with the far end"
    );
    assert!(wrote(
        &b,
        |w| matches!(w, Write::OutboundCall { called, followup: None, agent: None, .. } if called == "02088886666")
    ));
}

#[test]
fn a_transfer_nobody_answers_is_said_and_the_caller_hung_up() {
    let mut b = transfer_board();
    b.carrier("127.0.0.1:5091", &[Script::Busy]);
    let c = b.call_in("13800138000");
    b.run_until("the caller is hung up", secs(60), |b| b.callers[c].got_bye);
    assert!(b.heard(b.call_of(c), "dial_out_failed"));
    assert!(
        b.events(c).iter().any(|e| e.starts_with("transfer_failed")),
        "{:?}",
        b.events(c)
    );
}

#[test]
fn a_caller_who_hangs_up_while_the_transfer_rings_cancels_it() {
    let mut b = transfer_board();
    let c1 = b.carrier("127.0.0.1:5091", &[Script::Never]);
    let c = b.call_in("13800138000");
    b.run_until("the far end rings", secs(20), |b| b.phones[c1].rung() == 1);
    b.hang_up(c);
    b.run_for(secs(5));
    assert!(b.phones[c1].leg().cancelled);
    assert!(wrote(&b, |w| matches!(
        w,
        Write::CallEnded {
            cause: "caller_gone",
            ..
        }
    )));
}

const ONE_LINE: &str = r#"
[dial_out]
prefix = "9"

[[trunks]]
name = "primary"
address = "127.0.0.1:5091"
caller_id = "4008001234"
max_calls = 1
"#;

#[test]
fn an_answered_callback_gives_its_trunk_line_back_when_it_ends() {
    let mut b = board(ONE_LINE);
    let a = b.agent("1024", &["general"]);
    let c1 = b.carrier("127.0.0.1:5091", &[Script::Answer(secs(1))]);
    b.agents_ready();
    let first = task("fu-1", FollowUpKind::Callback, b.now.wall_ms);
    b.dial_work(vec![first], vec![]);
    b.run_until("the preview", secs(10), |b| {
        b.heard(b.leg_of(a), "callback_preview")
    });
    b.agent_keys(a, "1");
    b.run_until("bridged", secs(10), |b| {
        b.phones[c1].legs.iter().any(|l| l.acked)
    });
    b.run_for(secs(10));
    b.agent_hangs_up(c1);
    b.run_until("the outcome is asked for", secs(5), |b| {
        b.heard(b.leg_of(a), "agent_enter_outcome")
    });
    b.agent_keys(a, "1#");
    b.run_for(secs(5));
    // The only line is free again: the next callback reaches the carrier.
    let second = task("fu-2", FollowUpKind::Callback, b.now.wall_ms);
    b.dial_work(vec![second], vec![]);
    b.run_until("the second preview", secs(10), |b| {
        b.phones[a].rung() == 2 && b.heard(b.leg_of(a), "callback_preview")
    });
    b.agent_keys(a, "1");
    b.run_until("the second customer is dialled", secs(10), |b| {
        b.phones[c1].rung() == 2
    });
}

#[test]
fn a_previewed_callback_keeps_its_line_from_a_revisit() {
    let mut b = board(ONE_LINE);
    let a = b.agent("1024", &["general"]);
    let c1 = b.carrier("127.0.0.1:5091", &[]);
    b.agents_ready();
    let callback = task("fu-1", FollowUpKind::Callback, b.now.wall_ms);
    let revisit = task("fu-r", FollowUpKind::Revisit, b.now.wall_ms);
    b.dial_work(vec![callback, revisit], vec![]);
    b.run_until("the preview", secs(10), |b| {
        b.heard(b.leg_of(a), "callback_preview")
    });
    assert!(b.phones[c1].legs.is_empty(), "the revisit waits for a line");
    b.agent_keys(a, "1");
    b.run_until("the callback's customer is dialled", secs(5), |b| {
        b.phones[c1].rung() == 1
    });
    assert!(
        b.phones[c1]
            .leg()
            .invite
            .header("From")
            .unwrap()
            .contains("4008001234"),
        "the one call on the line is the callback"
    );
    assert!(!attempts(&b)
        .iter()
        .any(|(_, r, _)| *r == DialResult::Failed));
}

#[test]
fn an_agent_on_a_call_cannot_dial_out_and_keeps_the_call() {
    let mut b = board(ONE_LINE);
    let a = b.agent("1024", &["general"]);
    let c1 = b.carrier("127.0.0.1:5091", &[]);
    b.agents_ready();
    let c = b.call_in("13800138000");
    b.main_menu(c, "0");
    b.run_until("the agent answers", secs(30), |b| {
        b.legs(c).iter().any(|l| l.answered)
    });
    let d = b.agent_dials(a, "913800138000");
    b.run_for(secs(2));
    assert_eq!(b.callers[d].final_status, Some(486));
    assert!(b.phones[c1].legs.is_empty());
    assert_eq!(b.agent_state(a), "on_call", "still on the caller's call");
}

/// A shutdown takes the trunk registration back (REGISTER with Expires: 0), so the carrier
/// stops sending calls to a hotline that is gone.
#[test]
fn a_shutdown_takes_the_trunk_registration_back() {
    let mut b = board(CHALLENGED);
    let c = b.carrier("127.0.0.1:5091", &[]);
    b.run_for(secs(2));
    let expires = |b: &Board| -> Vec<String> {
        b.phones[c]
            .received
            .iter()
            .filter(|m| m.method() == Some("REGISTER"))
            .map(|m| m.header("Expires").unwrap_or("").to_string())
            .collect()
    };
    assert_eq!(expires(&b), ["3600"], "registered");
    b.input(hotline::switchboard::Input::Shutdown);
    b.run_for(secs(2));
    assert_eq!(expires(&b), ["3600", "0"], "taken back at shutdown");
}
