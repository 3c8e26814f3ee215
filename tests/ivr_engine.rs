//! The IVR engine on a fake clock: every node kind, timeouts, retries, barge-in,
//! secrets kept out of events and debug output, verification results, the calendar in
//! branch conditions, the shipped plan's main paths, and the simulator.

mod common;

use common::ivr::*;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chrono::{DateTime, TimeZone};
use chrono_tz::Tz;
use hotline::ivr::plan::load_str;
use hotline::ivr::{
    Action, FollowUpKind, Input, Language, Plan, QueueOutcome, Secret, VerifyOutcome, Waiting,
};

/// Every node kind, one scenario per caller prefix (see `route`).
const PLAN: &str = r##"
name = "engine"
numbers = ["100"]
language = "zh-CN"
time_zone = "Asia/Shanghai"
start = "route"
transfer_targets = ["8001"]

[defaults]
timeout = 5
inter_digit_timeout = 3
retries = 1
timeout_prompts = ["no_input"]
invalid_prompts = ["invalid_key"]

[calendar]
makeup_hours = "09:00-18:00"
holidays = ["2026-10-01..2026-10-07"]
makeup_days = ["2026-10-10"]

[calendar.hours]
mon = "09:00-18:00"
tue = "09:00-18:00"
wed = "09:00-18:00"
thu = "09:00-18:00"
fri = "09:00-18:00"

[[outcomes]]
code = "done"
label = "Done"

[[outcomes]]
code = "menu_fail"
label = "Gave up in a menu"

[[outcomes]]
code = "cb"
label = "Callback"
follow_up = true

[[outcomes]]
code = "vm"
label = "Voicemail"
follow_up = true

[nodes]
route = { kind = "branch", default = "callback_test", cases = [
    { caller_prefix = "101", goto = "play_test" },
    { caller_prefix = "102", goto = "collect_test" },
    { caller_prefix = "103", goto = "pin_account" },
    { caller_prefix = "104", goto = "queue_test" },
    { caller_prefix = "105", goto = "voicemail_test" },
    { caller_prefix = "106", goto = "survey_test" },
    { caller_prefix = "107", goto = "transfer_test" },
    { caller_prefix = "108", goto = "set_test" },
    { caller_prefix = "109", goto = "when_test" },
    { caller_prefix = ["138", "139"], goto = "callback_test" },
] }
play_test = { kind = "play", prompts = ["greeting_morning"], type_ahead = false, next = "play_skip" }
play_skip = { kind = "play", prompts = ["main_menu"], barge_in = true, next = "menu" }
menu = { kind = "menu", prompts = ["language_choice"], options = { "1" = "done", "2" = "menu_second" }, fallback = "menu_failed" }
menu_second = { kind = "play", prompts = ["verify_ok"], next = "done" }
done = { kind = "hangup", prompts = ["goodbye"], outcome = "done" }
menu_failed = { kind = "hangup", outcome = "menu_fail" }
collect_test = { kind = "collect", prompts = ["enter_account"], variable = "account", min_digits = 4, max_digits = 8, terminator = "#", pattern = "62.", next = "collected", fallback = "menu_failed" }
collected = { kind = "hangup", prompts = ["goodbye"] }
pin_account = { kind = "collect", prompts = ["enter_account"], variable = "account", min_digits = 4, max_digits = 19, terminator = "#", next = "pin", fallback = "menu_failed" }
pin = { kind = "collect", prompts = ["enter_pin"], variable = "pin", min_digits = 6, max_digits = 6, terminator = "#", sensitive = true, next = "check", fallback = "menu_failed" }
check = { kind = "verify", account = "account", secret = "pin", attempts = 2, ok = "verified", failed = "retry", locked = "locked", exhausted = "gave_up" }
verified = { kind = "play", prompts = ["verify_ok"], next = "is_vip" }
is_vip = { kind = "branch", default = "done", cases = [{ verified = true, variable = "vip", equals = "true", goto = "vip_bye" }] }
vip_bye = { kind = "hangup", prompts = ["urgent_line"], outcome = "done" }
retry = { kind = "play", prompts = ["verify_failed"], next = "pin" }
locked = { kind = "hangup", prompts = ["verify_locked"] }
gave_up = { kind = "hangup", prompts = ["goodbye"], outcome = "menu_fail" }
queue_test = { kind = "queue", queue = "general", priority = 7, max_wait = 60, prompts = ["please_hold"], overflow = "overflowed", after = "survey_test" }
overflowed = { kind = "hangup", prompts = ["queue_all_busy"] }
callback_test = { kind = "callback", category = "billing", number_is = ["callback_number_is"], confirm = ["callback_confirm_keys"], enter_number = ["beep"], confirmed = ["callback_confirmed"], within_hours = 4, outcome = "cb", next = "done_cb", fallback = "menu_failed" }
done_cb = { kind = "hangup" }
voicemail_test = { kind = "voicemail", prompts = ["voicemail"], max = 60, outcome = "vm", follow_up = "callback", category = "voicemail" }
survey_test = { kind = "survey", questions = ["survey_question", "survey_question"], next = "survey_bye" }
survey_bye = { kind = "hangup", prompts = ["survey_thanks"] }
transfer_test = { kind = "transfer", prompts = ["transferring"], target = "8001" }
set_test = { kind = "set", language = "en", variables = { segment = "gold" }, next = "by_lang" }
by_lang = { kind = "branch", default = "menu_failed", cases = [{ language = "en", variable = "segment", equals = "gold", goto = "lang_ok" }] }
lang_ok = { kind = "hangup", prompts = ["goodbye"] }
when_test = { kind = "branch", default = "p_afternoon", cases = [
    { holiday = true, goto = "p_holiday" },
    { makeup_day = true, goto = "p_makeup" },
    { working_day = false, goto = "p_weekend" },
    { open = false, goto = "p_closed" },
    { time = "09:00-12:00", goto = "p_morning" },
] }
p_holiday = { kind = "hangup", prompts = ["greeting_holiday"] }
p_makeup = { kind = "hangup", prompts = ["please_hold"] }
p_weekend = { kind = "hangup", prompts = ["after_hours"] }
p_closed = { kind = "hangup", prompts = ["callback_offer"] }
p_morning = { kind = "hangup", prompts = ["greeting_morning"] }
p_afternoon = { kind = "hangup", prompts = ["greeting_afternoon"] }
"##;

fn test_plan() -> Arc<Plan> {
    static PLAN_ONCE: OnceLock<Arc<Plan>> = OnceLock::new();
    PLAN_ONCE
        .get_or_init(|| {
            let plan = load_str(Path::new("engine.toml"), PLAN, None).unwrap_or_else(|e| {
                panic!(
                    "{}",
                    e.iter()
                        .map(|e| e.to_string())
                        .collect::<Vec<_>>()
                        .join("\n")
                )
            });
            Arc::new(plan)
        })
        .clone()
}

#[test]
fn play_without_barge_in_ignores_keys_and_with_it_passes_them_on() {
    let (mut c, first) = Call::start(test_plan(), "1010", monday_10());
    assert_eq!(
        first,
        [
            event("branch", "route: case 1 -> play_test"),
            play(&["greeting_morning"], false)
        ]
    );
    assert_eq!(c.session.waiting(), Waiting::Playback { barge_in: false });
    assert_eq!(c.keys("1"), []);
    assert_eq!(c.done(), [play(&["main_menu"], true)]);
    // a key during a barge-in prompt stops it and answers the menu behind it
    assert_eq!(
        c.keys("2"),
        [
            Action::StopPlayback,
            event("menu", "menu: 2 -> menu_second"),
            play(&["verify_ok"], false)
        ]
    );
    assert_eq!(c.done(), [outcome("done"), play(&["goodbye"], false)]);
    assert_eq!(c.done(), [hangup(Some("done"))]);
    assert!(c.session.is_ended());
    assert_eq!(c.step(Input::Digit('1')), []);
    assert_eq!(
        c.session.path(),
        [
            "route",
            "play_test",
            "play_skip",
            "menu",
            "menu_second",
            "done"
        ]
    );
}

/// Keys typed during a greeting (no barge-in) are kept for the menus after it, as a
/// caller who knows "1 then 0" types it at once; a `type_ahead = false` prompt drops them.
#[test]
fn keys_typed_during_a_greeting_reach_the_menus_after_it() {
    let plan = |type_ahead: bool| {
        let text = format!(
            r#"
numbers = ["1"]
language = "zh-CN"
time_zone = "Asia/Shanghai"
start = "greet"
[calendar]
[nodes.greet]
kind = "play"
prompts = ["greeting_morning"]
type_ahead = {type_ahead}
next = "language"
[nodes.language]
kind = "menu"
prompts = ["language_choice"]
options = {{ "1" = "main" }}
fallback = "main"
[nodes.main]
kind = "menu"
prompts = ["main_menu"]
options = {{ "0" = "agent" }}
fallback = "bye"
[nodes.agent]
kind = "hangup"
prompts = ["transferring"]
[nodes.bye]
kind = "hangup"
prompts = ["goodbye"]
"#
        );
        Arc::new(load_str(Path::new("typeahead.toml"), &text, None).unwrap())
    };
    let (mut c, _) = Call::start(plan(true), "1010", monday_10());
    assert_eq!(c.keys("10"), []);
    let out = c.done();
    assert!(
        out.contains(&event("menu", "language: 1 -> main"))
            && out.contains(&event("menu", "main: 0 -> agent"))
            && out.last() == Some(&play(&["transferring"], false)),
        "{out:?}"
    );
    let (mut c, _) = Call::start(plan(false), "1010", monday_10());
    assert_eq!(c.keys("10"), []);
    assert_eq!(c.done(), [play(&["language_choice"], true)]);
}

#[test]
fn menu_timeout_invalid_key_retries_and_fallback() {
    let (mut c, _) = Call::start(test_plan(), "1010", monday_10());
    c.done();
    assert_eq!(c.done(), [play(&["language_choice"], true)]);
    assert_eq!(
        c.session.poll_timeout(),
        None,
        "no timer while the prompt plays"
    );
    c.done();
    let deadline = c.session.poll_timeout().unwrap();
    assert_eq!(deadline, c.now + Duration::from_secs(5));
    c.wait(4000);
    assert_eq!(c.step(Input::Timeout), [], "early timeouts are ignored");
    assert_eq!(
        c.expire(),
        [
            event("no_input", "menu (attempt 1 of 2)"),
            play(&["no_input", "language_choice"], true)
        ]
    );
    c.done();
    assert_eq!(
        c.keys("7"),
        [
            event("invalid", "menu (attempt 2 of 2)"),
            outcome("menu_fail"),
            hangup(Some("menu_fail"))
        ]
    );
}

#[test]
fn menu_barge_in_and_invalid_key_prompt() {
    let (mut c, _) = Call::start(test_plan(), "1010", monday_10());
    c.done();
    c.done();
    // during the menu prompt: stop it, and the wrong key gets the invalid prompt
    assert_eq!(
        c.keys("9"),
        [
            Action::StopPlayback,
            event("invalid", "menu (attempt 1 of 2)"),
            play(&["invalid_key", "language_choice"], true)
        ]
    );
    assert_eq!(
        c.keys("1"),
        [
            Action::StopPlayback,
            event("menu", "menu: 1 -> done"),
            outcome("done"),
            play(&["goodbye"], false)
        ]
    );
}

#[test]
fn collect_terminator_pattern_length_and_timeouts() {
    let (mut c, first) = Call::start(test_plan(), "1020", monday_10());
    assert_eq!(first[1], play(&["enter_account"], true));
    c.done();
    // first-digit timeout
    assert_eq!(
        c.expire(),
        [
            event("no_input", "collect_test (attempt 1 of 2)"),
            play(&["no_input", "enter_account"], true)
        ]
    );
    // typed over the prompt; the pattern wants "62" first
    let out = c.keys("1234#");
    assert_eq!(
        out,
        [
            Action::StopPlayback,
            event("invalid", "collect_test (attempt 2 of 2)"),
            outcome("menu_fail"),
            hangup(Some("menu_fail"))
        ]
    );

    // inter-digit timeout ends the number; too short counts as invalid
    let (mut c, _) = Call::start(test_plan(), "1020", monday_10());
    c.done();
    assert_eq!(c.keys("62"), []);
    assert_eq!(
        c.session.poll_timeout(),
        Some(c.now + Duration::from_secs(3))
    );
    assert_eq!(
        c.session.waiting(),
        Waiting::Keys {
            sensitive: false,
            partial: true
        }
    );
    assert_eq!(
        c.expire(),
        [
            event("invalid", "collect_test (attempt 1 of 2)"),
            play(&["invalid_key", "enter_account"], true)
        ]
    );
    c.done();
    c.keys("6212");
    assert_eq!(
        c.expire(),
        [event("dtmf", "account=6212"), play(&["goodbye"], false)]
    );
    assert_eq!(c.session.variable("account"), Some("6212"));

    // the maximum ends it at once; the terminator pressed after it is dropped
    let (mut c, _) = Call::start(test_plan(), "1020", monday_10());
    c.done();
    assert_eq!(
        c.keys("62123456"),
        [event("dtmf", "account=62123456"), play(&["goodbye"], false)]
    );
    assert_eq!(c.keys("#"), []);

    // the terminator
    let (mut c, _) = Call::start(test_plan(), "1020", monday_10());
    c.done();
    assert_eq!(c.keys("62345#")[0], event("dtmf", "account=62345"));
}

/// Drives the PIN scenario to the point where the secret went out for verification.
fn pin_call(pin: &str) -> Call {
    let (mut c, _) = Call::start(test_plan(), "1030", monday_10());
    assert!(!c.session.keys_are_secret());
    c.done();
    assert_eq!(
        c.keys("12345678#"),
        [
            event("dtmf", "account=12345678"),
            play(&["enter_pin"], true)
        ]
    );
    // keys typed over the PIN prompt are PIN digits already
    assert_eq!(c.session.waiting(), Waiting::Playback { barge_in: true });
    assert!(c.session.keys_are_secret());
    c.done();
    assert_eq!(
        c.session.waiting(),
        Waiting::Keys {
            sensitive: true,
            partial: false
        }
    );
    let mut out = Vec::new();
    for (i, k) in pin.chars().enumerate() {
        if i > 0 {
            assert_eq!(
                c.session.waiting(),
                Waiting::Keys {
                    sensitive: true,
                    partial: true
                }
            );
            // the buffer shows as a count only
            assert!(format!("{:?}", c.session).contains(&format!("<{i} keys>")));
        }
        out = c.keys(&k.to_string());
    }
    assert_eq!(
        out,
        [
            event("collect", "pin: 6 keys, hidden"),
            Action::Verify {
                account: "12345678".into(),
                secret: Secret::Pin(pin.into())
            }
        ]
    );
    c
}

#[test]
fn sensitive_digits_stay_out_of_events_and_debug() {
    let pin = "246810";
    let mut c = pin_call(pin);
    assert_eq!(c.session.waiting(), Waiting::Verification);
    let verify = c
        .all
        .iter()
        .find(|a| matches!(a, Action::Verify { .. }))
        .unwrap();
    let Action::Verify { secret, .. } = verify else {
        unreachable!()
    };
    assert_eq!(secret.expose(), pin);
    assert_eq!(format!("{secret:?} {secret}"), "Pin(****) Pin(****)");
    assert!(!format!("{verify:?}").contains(pin));
    // the secret left with the Verify action; the session keeps no copy
    assert_eq!(c.session.variable("pin"), None);
    assert_eq!(c.session.variables(), [("account", "12345678")]);
    assert_eq!(
        c.keys("#"),
        [],
        "the terminator after a full PIN is dropped"
    );
    assert_eq!(
        c.step(Input::VerifyResult(VerifyOutcome::Ok {
            customer_id: "C42".into(),
            vip: true
        })),
        [event("verify", "ok"), play(&["verify_ok"], false)]
    );
    assert_eq!(
        c.done(),
        [
            event("branch", "is_vip: case 1 -> vip_bye"),
            outcome("done"),
            play(&["urgent_line"], false)
        ]
    );
    assert!(c.session.verified());
    assert_eq!(c.session.customer(), Some("C42"));
    assert_eq!(c.session.variable("vip"), Some("true"));
    for e in c.events() {
        assert!(!e.contains(pin), "{e}");
    }
    let debug = format!("{:?} {:?}", c.session, c.all);
    assert!(!debug.contains(pin), "{debug}");
    assert!(debug.contains("Pin(****)"));
}

#[test]
fn verify_failed_retries_then_exhausted() {
    let mut c = pin_call("111111");
    assert_eq!(
        c.step(Input::VerifyResult(VerifyOutcome::Failed)),
        [
            event("verify", "failed (1 of 2)"),
            play(&["verify_failed"], false)
        ]
    );
    assert_eq!(c.done(), [play(&["enter_pin"], true)]);
    c.done();
    let out = c.keys("222222");
    assert!(matches!(&out[1], Action::Verify { secret: Secret::Pin(p), .. } if p == "222222"));
    assert_eq!(
        c.step(Input::VerifyResult(VerifyOutcome::Failed)),
        [
            event("verify", "failed (2 of 2)"),
            outcome("menu_fail"),
            play(&["goodbye"], false)
        ]
    );
    assert!(!c.session.verified());
    assert_eq!(c.session.customer(), None);
    // a result nobody asked for changes nothing
    assert_eq!(c.step(Input::VerifyResult(VerifyOutcome::Locked)), []);
}

#[test]
fn verify_locked() {
    let mut c = pin_call("333333");
    assert_eq!(
        c.step(Input::VerifyResult(VerifyOutcome::Locked)),
        [event("verify", "locked"), play(&["verify_locked"], false)]
    );
    assert_eq!(c.done(), [hangup(None)]);
}

#[test]
fn queue_overflow_and_answered_then_survey() {
    let (mut c, first) = Call::start(test_plan(), "1040", monday_10());
    assert_eq!(first[1], play(&["please_hold"], false));
    assert_eq!(
        c.done(),
        [
            Action::Queue {
                queue: "general".into(),
                priority: 7,
                max_wait: Duration::from_secs(60)
            },
            event("queue", "general priority 7")
        ]
    );
    assert_eq!(c.session.waiting(), Waiting::Queue);
    assert_eq!(c.keys("5"), [], "keys in the queue are ignored");
    assert_eq!(
        c.step(Input::QueueOutcome(QueueOutcome::Overflow)),
        [event("queue", "overflow"), play(&["queue_all_busy"], false)]
    );

    let (mut c, _) = Call::start(test_plan(), "1040", monday_10());
    c.done();
    assert_eq!(
        c.step(Input::QueueOutcome(QueueOutcome::Answered {
            agent: "1001".into()
        })),
        [event("queue", "answered by agent 1001")]
    );
    assert_eq!(c.session.waiting(), Waiting::Agent);
    assert_eq!(
        c.step(Input::AgentHungUp),
        [
            event("agent", "agent hung up"),
            play(&["survey_question"], true)
        ]
    );
    assert_eq!(
        c.keys("5"),
        [
            Action::StopPlayback,
            Action::SurveyAnswer {
                question: 1,
                score: 5
            },
            event("survey", "question 1: 5"),
            play(&["survey_question"], true)
        ]
    );
    c.done();
    assert_eq!(
        c.keys("8"),
        [
            event("invalid", "survey_test (attempt 1 of 2)"),
            play(&["invalid_key", "survey_question"], true)
        ]
    );
    c.done();
    assert_eq!(
        c.expire(),
        [
            event("no_input", "survey_test (attempt 2 of 2)"),
            event("survey", "question 2: no answer"),
            play(&["survey_thanks"], false)
        ]
    );
    assert_eq!(c.done(), [hangup(None)]);

    let (mut c, _) = Call::start(test_plan(), "1040", monday_10());
    c.done();
    assert_eq!(
        c.step(Input::QueueOutcome(QueueOutcome::Abandoned)),
        [event("queue", "abandoned")]
    );
    assert!(c.session.is_ended());
}

#[test]
fn callback_confirms_the_callers_number() {
    // Friday evening: the promise starts when the office opens on Monday
    let friday_night = shanghai(2026, 11, 20, 20, 0);
    let (mut c, first) = Call::start(test_plan(), "13800138000", friday_night);
    assert_eq!(
        first,
        [
            event("branch", "route: case 10 -> callback_test"),
            outcome("cb"),
            read_back("13800138000")
        ]
    );
    c.done();
    let out = c.keys("1");
    let follow_up = Action::FollowUp {
        kind: FollowUpKind::Callback,
        number: "13800138000".into(),
        window: Some((shanghai(2026, 11, 23, 9, 0), shanghai(2026, 11, 23, 13, 0))),
        category: "billing".into(),
        urgent: false,
    };
    // The promised time is said: 星期一 十三点 之前 (Monday 13:00, three days on).
    assert_eq!(
        out,
        [
            follow_up.clone(),
            event("followup", "callback (billing) within 4 working hours"),
            play(
                &[
                    "callback_confirmed",
                    "time_by",
                    "weekday_1",
                    "num_13",
                    "time_hour",
                    "time_before"
                ],
                false
            )
        ]
    );
    let debug = format!("{follow_up:?}");
    assert!(
        debug.contains("138****8000") && !debug.contains("13800138000"),
        "{debug}"
    );
    assert_eq!(c.done(), [hangup(Some("cb"))]);
}

#[test]
fn callback_to_another_number_and_withheld_caller() {
    let (mut c, _) = Call::start(test_plan(), "13800138000", monday_10());
    c.done();
    assert_eq!(c.keys("2"), [play(&["beep"], true)]);
    c.done();
    assert_eq!(c.keys("123"), []);
    // too short: asked again
    assert_eq!(
        c.keys("#"),
        [
            event("invalid", "callback_test (attempt 1 of 2)"),
            play(&["invalid_key", "beep"], true)
        ]
    );
    c.done();
    assert_eq!(c.keys("13912345678#"), [read_back("13912345678")]);
    c.done();
    let out = c.keys("1");
    assert!(
        matches!(&out[0], Action::FollowUp { number, window: Some((from, to)), .. }
            if number == "13912345678" && *from == monday_10() && *to == shanghai(2026, 11, 23, 14, 0)),
        "{out:?}"
    );

    // no caller ID: ask for a number straight away
    let (mut c, first) = Call::start(test_plan(), "", monday_10());
    assert_eq!(
        first,
        [
            event("branch", "route: default -> callback_test"),
            outcome("cb"),
            play(&["beep"], true)
        ]
    );
    c.done();
    c.keys("010");
    c.wait(500);
    assert_eq!(
        c.expire(),
        [
            event("invalid", "callback_test (attempt 1 of 2)"),
            play(&["invalid_key", "beep"], true)
        ]
    );
}

#[test]
fn voicemail_beeps_then_records() {
    let (mut c, first) = Call::start(test_plan(), "1050", monday_10());
    assert_eq!(
        first,
        [
            event("branch", "route: case 5 -> voicemail_test"),
            outcome("vm"),
            play(&["voicemail", "beep"], false)
        ]
    );
    assert_eq!(
        c.done(),
        [
            Action::RecordVoicemail {
                max: Duration::from_secs(60)
            },
            event("voicemail", "recording")
        ]
    );
    assert_eq!(c.session.waiting(), Waiting::Recording);
    assert_eq!(
        c.session.poll_timeout(),
        Some(c.now + Duration::from_secs(60))
    );
    // The message becomes a callback follow-up (the window is checked elsewhere).
    let recorded = |mut out: Vec<Action>| {
        for a in &mut out {
            if let Action::FollowUp { window, .. } = a {
                assert!(window.is_some());
                *window = None;
            }
        }
        let follow_up = Action::FollowUp {
            kind: FollowUpKind::Callback,
            number: "1050".into(),
            window: None,
            category: "voicemail".into(),
            urgent: false,
        };
        let want = [
            Action::StopRecording,
            event("voicemail", "recorded"),
            follow_up,
            event("followup", "callback (voicemail) within 4 working hours"),
            hangup(Some("vm")),
        ];
        assert_eq!(out, want);
    };
    c.wait(30_000);
    // Other keys are part of the message; # ends it.
    assert_eq!(c.step(Input::Digit('5')), []);
    recorded(c.step(Input::Digit('#')));

    // Nobody presses #: the session ends the recording at its max.
    let (mut c, _) = Call::start(test_plan(), "1050", monday_10());
    c.done();
    recorded(c.expire());

    // The recording ended some other way (the media engine says so).
    let (mut c, _) = Call::start(test_plan(), "1050", monday_10());
    c.done();
    recorded(c.step(Input::RecordingDone));
}

#[test]
fn transfer_ends_the_session() {
    let (mut c, first) = Call::start(test_plan(), "1070", monday_10());
    assert_eq!(first[1], play(&["transferring"], false));
    assert_eq!(
        c.done(),
        [
            event("transfer", "8001"),
            Action::Transfer {
                target: "8001".into()
            }
        ]
    );
    assert!(c.session.is_ended());
    assert_eq!(c.session.waiting(), Waiting::Ended);
}

#[test]
fn set_changes_language_and_variables() {
    let (c, first) = Call::start(test_plan(), "1080", monday_10());
    assert_eq!(
        first,
        [
            event("branch", "route: case 8 -> set_test"),
            Action::SetLanguage { lang: "en".into() },
            event("language", "en"),
            event("branch", "by_lang: case 1 -> lang_ok"),
            play(&["goodbye"], false)
        ]
    );
    assert_eq!(c.session.language(), Language::En);
    assert_eq!(c.session.variable("segment"), Some("gold"));
}

/// The prompt the calendar scenario picks at `at`.
fn greeting_at(at: DateTime<Tz>) -> String {
    let (_, first) = Call::start(test_plan(), "1090", at);
    match first.last() {
        Some(Action::Play { prompts, .. }) => prompts.join(" "),
        other => panic!("{other:?}"),
    }
}

#[test]
fn branch_on_the_calendar() {
    // National Day 2026 (a Thursday)
    assert_eq!(
        greeting_at(shanghai(2026, 10, 1, 10, 0)),
        "greeting_holiday"
    );
    // Saturday 10 October 2026, a make-up working day
    assert_eq!(greeting_at(shanghai(2026, 10, 10, 10, 0)), "please_hold");
    // an ordinary Saturday
    assert_eq!(greeting_at(shanghai(2026, 10, 17, 10, 0)), "after_hours");
    // a Monday: evening (closed), morning, afternoon
    assert_eq!(greeting_at(shanghai(2026, 11, 23, 20, 0)), "callback_offer");
    assert_eq!(
        greeting_at(shanghai(2026, 11, 23, 10, 0)),
        "greeting_morning"
    );
    assert_eq!(
        greeting_at(shanghai(2026, 11, 23, 14, 0)),
        "greeting_afternoon"
    );
    // the same moments given in other time zones are read in Shanghai's
    let utc = chrono_tz::UTC
        .with_ymd_and_hms(2026, 11, 23, 2, 0, 0)
        .unwrap();
    assert_eq!(greeting_at(utc), "greeting_morning");
    let new_york = chrono_tz::America::New_York
        .with_ymd_and_hms(2026, 11, 23, 1, 0, 0)
        .unwrap();
    assert_eq!(greeting_at(new_york), "greeting_afternoon");
    // local time moves with the fake clock: a branch reached later sees the later time
    let (mut c, _) = Call::start(test_plan(), "13800138000", shanghai(2026, 11, 20, 17, 59));
    c.wait(120_000);
    c.done();
    let out = c.keys("1");
    assert!(
        matches!(&out[0], Action::FollowUp { window: Some((from, _)), .. } if *from == shanghai(2026, 11, 23, 9, 0)),
        "{out:?}"
    );
}

#[test]
fn caller_hangup_ends_the_session() {
    let (mut c, _) = Call::start(test_plan(), "1020", monday_10());
    c.done();
    c.keys("62");
    assert_eq!(
        c.step(Input::CallerHungUp),
        [event("hangup", "caller hung up")]
    );
    assert!(c.session.is_ended());
    assert_eq!(c.session.poll_timeout(), None);
    assert_eq!(format!("{:?}", Input::Digit('7')), "Digit(*)");
}
