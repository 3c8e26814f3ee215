//! The shipped plan (`dialplans/hotline.toml`) driven through its three main paths, by
//! hand on a fake clock and through the simulator: a verified billing enquiry, a
//! complaint, and a callback requested after hours.

mod common;

use common::ivr::*;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hotline::ivr::{
    load_file, simulate, Action, FollowUpKind, Input, Language, Plan, QueueOutcome, Secret,
    VerifyOutcome,
};

fn shipped_plan() -> Arc<Plan> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("dialplans/hotline.toml");
    Arc::new(load_file(&path, None).unwrap())
}

// ------------------------------------------------------------------ the shipped plan

#[test]
fn shipped_verified_billing_enquiry() {
    let (mut c, first) = Call::start(shipped_plan(), "13800138000", shanghai(2026, 11, 23, 9, 30));
    assert_eq!(
        first,
        [
            event("branch", "welcome: case 5 -> greet_morning"),
            play(&["greeting_morning"], false)
        ]
    );
    assert_eq!(c.done(), [play(&["language_choice"], true)]);
    c.done();
    assert_eq!(
        c.keys("2"),
        [
            event("menu", "language: 2 -> lang_en"),
            Action::SetLanguage { lang: "en".into() },
            event("language", "en"),
            event("branch", "hours_check: case 1 -> main_menu"),
            play(&["main_menu"], true)
        ]
    );
    c.done();
    assert_eq!(
        c.keys("1"),
        [
            event("menu", "main_menu: 1 -> billing"),
            event("branch", "billing: default -> enter_account"),
            play(&["enter_account"], true)
        ]
    );
    c.done();
    assert_eq!(
        c.keys("6225880012345678#"),
        [
            event("dtmf", "account=6225880012345678"),
            play(&["enter_pin"], true)
        ]
    );
    c.done();
    let out = c.keys("908172#");
    assert_eq!(out[0], event("collect", "pin: 6 keys, hidden"));
    assert!(
        matches!(&out[1], Action::Verify { account, secret: Secret::Pin(p) } if account == "6225880012345678" && p == "908172")
    );
    assert_eq!(out.len(), 2);
    assert_eq!(
        c.step(Input::VerifyResult(VerifyOutcome::Ok {
            customer_id: "C1001".into(),
            vip: false
        })),
        [event("verify", "ok"), play(&["verify_ok"], false)]
    );
    assert_eq!(
        c.done(),
        [
            event("branch", "billing_route: default -> billing_queue"),
            outcome("billing_enquiry"),
            play(&["please_hold"], false)
        ]
    );
    assert_eq!(
        c.done()[0],
        Action::Queue {
            queue: "billing".into(),
            priority: 5,
            max_wait: Duration::from_secs(300)
        }
    );
    c.step(Input::QueueOutcome(QueueOutcome::Answered {
        agent: "1001".into(),
    }));
    c.wait(180_000);
    assert_eq!(
        c.step(Input::AgentHungUp)[1],
        play(&["survey_question"], true)
    );
    c.done();
    assert_eq!(
        c.keys("5"),
        [
            Action::SurveyAnswer {
                question: 1,
                score: 5
            },
            event("survey", "question 1: 5"),
            play(&["survey_thanks"], false)
        ]
    );
    assert_eq!(
        c.done(),
        [
            event("branch", "goodbye: default -> goodbye_day"),
            play(&["goodbye"], false)
        ]
    );
    assert_eq!(c.done(), [hangup(Some("billing_enquiry"))]);
    assert_eq!(c.session.language(), Language::En);
    assert!(c.session.verified());
    assert_eq!(c.session.customer(), Some("C1001"));
    assert_eq!(c.session.outcome(), Some("billing_enquiry"));
    for e in c.events() {
        assert!(!e.contains("908172"), "{e}");
    }
    assert!(!format!("{:?} {:?}", c.session, c.all).contains("908172"));
}

#[test]
fn shipped_complaint() {
    let (mut c, _) = Call::start(shipped_plan(), "13800138000", monday_10());
    c.done();
    c.done();
    c.keys("1");
    c.done();
    assert_eq!(
        c.keys("3"),
        [
            event("menu", "main_menu: 3 -> complaint"),
            play(&["complaint_category"], true)
        ]
    );
    c.done();
    assert_eq!(
        c.keys("1"),
        [
            event("menu", "complaint: 1 -> complaint_service"),
            play(&["complaint_describe", "beep"], false)
        ]
    );
    assert_eq!(
        c.done(),
        [
            Action::RecordVoicemail {
                max: Duration::from_secs(120)
            },
            event("voicemail", "recording")
        ]
    );
    c.wait(20_000);
    let out = c.keys("#");
    assert_eq!(
        out[..3],
        [
            Action::StopRecording,
            event("voicemail", "recorded"),
            outcome("complaint")
        ]
    );
    // One working day (9 working hours) from the call, said as a time: tomorrow 10:00.
    assert!(
        matches!(&out[3], Action::FollowUp { kind: FollowUpKind::Complaint, category, urgent: false, window: Some((_, to)), .. }
            if category == "service_attitude" && *to == shanghai(2026, 11, 24, 10, 0)),
        "{out:?}"
    );
    assert_eq!(
        out[5],
        play(
            &[
                "complaint_recorded",
                "time_by",
                "time_tomorrow",
                "num_10",
                "time_hour",
                "time_before"
            ],
            false
        )
    );
    assert_eq!(
        c.done(),
        [
            event("branch", "complaint_route: case 1 -> complaint_queue"),
            play(&["please_hold"], false)
        ]
    );
    assert_eq!(
        c.done()[0],
        Action::Queue {
            queue: "complaints".into(),
            priority: 7,
            max_wait: Duration::from_secs(300)
        }
    );
    c.step(Input::QueueOutcome(QueueOutcome::Answered {
        agent: "1002".into(),
    }));
    c.step(Input::AgentHungUp);
    c.done();
    c.keys("2");
    c.done();
    assert_eq!(c.done(), [hangup(Some("complaint"))]);
    assert_eq!(c.session.language(), Language::ZhCn);
    assert!(c.all.contains(&Action::SurveyAnswer {
        question: 1,
        score: 2
    }));
}

/// A holiday morning: the urgent line is the duty queue; nobody there, so an urgent
/// callback within the hour, and the call's outcome stays `urgent`.
#[test]
fn shipped_holiday_urgent_line() {
    let (mut c, first) = Call::start(shipped_plan(), "13800138000", shanghai(2026, 10, 1, 10, 0));
    assert_eq!(
        first[0],
        event("branch", "welcome: case 3 -> greet_national_day")
    );
    c.done();
    c.done();
    c.keys("1");
    c.done();
    let out = c.keys("9");
    assert!(
        out.contains(&event("branch", "urgent: default -> urgent_duty")),
        "{out:?}"
    );
    assert!(out.contains(&outcome("urgent")));
    c.done();
    let out = c.step(Input::QueueOutcome(QueueOutcome::Overflow));
    assert!(
        out.iter().any(|a| matches!(a, Action::FollowUp { kind: FollowUpKind::Callback, urgent: true, window: Some((from, to)), category, .. }
            if category == "urgent" && *to - *from == chrono::TimeDelta::hours(1))),
        "{out:?}"
    );
    c.done();
    assert_eq!(c.done(), [hangup(Some("urgent"))]);
    assert!(c.session.path().contains(&"goodbye_holiday".to_string()));
}

#[test]
fn shipped_after_hours_callback() {
    let friday_night = shanghai(2026, 11, 20, 20, 30);
    let (mut c, first) = Call::start(shipped_plan(), "13800138000", friday_night);
    assert_eq!(
        first,
        [
            event("branch", "welcome: default -> greet_evening"),
            play(&["greeting_evening"], false)
        ]
    );
    c.done();
    c.done();
    assert_eq!(
        c.keys("2"),
        [
            event("menu", "language: 2 -> lang_en"),
            Action::SetLanguage { lang: "en".into() },
            event("language", "en"),
            event("branch", "hours_check: default -> after_hours"),
            play(&["after_hours"], true)
        ]
    );
    // the caller knows what to do and presses 1 during the message
    assert_eq!(
        c.keys("1"),
        [
            Action::StopPlayback,
            event("menu", "after_hours: 1 -> callback_request"),
            outcome("callback_requested"),
            read_back("13800138000")
        ]
    );
    c.done();
    let out = c.keys("1");
    assert_eq!(
        out[0],
        Action::FollowUp {
            kind: FollowUpKind::Callback,
            number: "13800138000".into(),
            window: Some((shanghai(2026, 11, 23, 9, 0), shanghai(2026, 11, 23, 13, 0))),
            category: "callback".into(),
            urgent: false,
        }
    );
    // by 1 p.m. on Monday
    assert_eq!(
        out[2],
        play(
            &[
                "callback_confirmed",
                "time_by",
                "num_1",
                "time_oclock",
                "time_pm",
                "weekday_1"
            ],
            false
        )
    );
    c.done();
    assert_eq!(c.done(), [hangup(Some("callback_requested"))]);
    assert_eq!(
        c.session.path(),
        [
            "welcome",
            "greet_evening",
            "language",
            "lang_en",
            "hours_check",
            "after_hours",
            "callback_request",
            "goodbye",
            "goodbye_day"
        ]
    );
}

// ------------------------------------------------------------------ simulate

fn verified(_account: &str, _secret: &hotline::ivr::Secret) -> VerifyOutcome {
    VerifyOutcome::Ok {
        customer_id: "C1001".into(),
        vip: false,
    }
}

#[test]
fn simulate_verified_billing_enquiry() {
    let lines = simulate(
        shipped_plan(),
        shanghai(2026, 11, 23, 9, 30),
        "13800138000",
        "2 1 6225880012345678# 123456#",
        verified,
    )
    .unwrap();
    let text = lines.join("\n");
    println!("{text}");
    assert_eq!(text, SIMULATED_BILLING.trim());
    assert!(!text.contains("123456#") && !text.contains("(pin 123456"));
}

const SIMULATED_BILLING: &str = r#"
09:30:00 branch: welcome: case 5 -> greet_morning
09:30:00 play greeting_morning
09:30:01 play language_choice (barge-in)
09:30:02 keys 2
09:30:02 menu: language: 2 -> lang_en
09:30:02 language en
09:30:02 branch: hours_check: case 1 -> main_menu
09:30:02 play main_menu (barge-in)
09:30:03 keys 1
09:30:03 menu: main_menu: 1 -> billing
09:30:03 branch: billing: default -> enter_account
09:30:03 play enter_account (barge-in)
09:30:04 keys 6225880012345678#
09:30:09 dtmf: account=6225880012345678
09:30:09 play enter_pin (barge-in)
09:30:10 keys ****
09:30:12 collect: pin: 6 keys, hidden
09:30:12 verify account 6225880012345678 with Pin(****)
09:30:12 verify: ok
09:30:12 play verify_ok
09:30:13 branch: billing_route: default -> billing_queue
09:30:13 outcome billing_enquiry
09:30:13 play please_hold
09:30:14 queue billing priority 5 max wait 300 s (no agents)
09:30:14 queue: overflow
09:30:14 play callback_offer (barge-in)
09:30:20 (no key)
09:30:20 no_input: offer_callback (attempt 1 of 1)
09:30:20 outcome voicemail
09:30:20 play voicemail beep
09:30:22 record voicemail (up to 120 s)
09:30:42 stop recording
09:30:42 voicemail: recorded
09:30:42 record follow-up callback (voicemail) to 138****8000, between 2026-11-23 09:30 and 2026-11-23 13:30
09:30:42 followup: callback (voicemail) within 4 working hours
09:30:42 branch: goodbye: default -> goodbye_day
09:30:42 play goodbye
09:30:43 hang up (outcome voicemail)
09:30:43 record call: language en, verified (customer C1001), outcome voicemail
"#;

#[test]
fn simulate_complaint_and_after_hours_callback() {
    let lines = simulate(shipped_plan(), monday_10(), "13800138000", "1 3", verified).unwrap();
    let text = lines.join("\n");
    println!("{text}");
    assert_eq!(text, SIMULATED_COMPLAINT.trim());

    let lines = simulate(
        shipped_plan(),
        shanghai(2026, 11, 20, 20, 30),
        "13800138000",
        "2 1 1",
        verified,
    )
    .unwrap();
    let text = lines.join("\n");
    println!("{text}");
    assert_eq!(text, SIMULATED_CALLBACK.trim());
}

const SIMULATED_COMPLAINT: &str = r#"
10:00:00 branch: welcome: case 5 -> greet_morning
10:00:00 play greeting_morning
10:00:01 play language_choice (barge-in)
10:00:02 keys 1
10:00:02 menu: language: 1 -> lang_zh
10:00:02 branch: hours_check: case 1 -> main_menu
10:00:02 play main_menu (barge-in)
10:00:03 keys 3
10:00:03 menu: main_menu: 3 -> complaint
10:00:03 play complaint_category (barge-in)
10:00:09 (no key)
10:00:09 no_input: complaint (attempt 1 of 2)
10:00:09 play no_input complaint_category (barge-in)
10:00:16 (no key)
10:00:16 no_input: complaint (attempt 2 of 2)
10:00:16 play complaint_describe beep
10:00:18 record voicemail (up to 120 s)
10:00:38 stop recording
10:00:38 voicemail: recorded
10:00:38 outcome complaint
10:00:38 record follow-up complaint (other) to 138****8000, between 2026-11-23 10:00 and 2026-11-24 10:00
10:00:38 followup: complaint (other) within 9 working hours
10:00:38 play complaint_recorded time_by time_tomorrow num_10 time_hour time_before
10:00:44 branch: complaint_route: case 1 -> complaint_queue
10:00:44 play please_hold
10:00:45 queue complaints priority 7 max wait 300 s (no agents)
10:00:45 queue: overflow
10:00:45 play complaint_kept
10:00:46 branch: goodbye: default -> goodbye_day
10:00:46 play goodbye
10:00:47 hang up (outcome complaint)
10:00:47 record call: language zh-CN, not verified, outcome complaint
"#;

const SIMULATED_CALLBACK: &str = r#"
20:30:00 branch: welcome: default -> greet_evening
20:30:00 play greeting_evening
20:30:01 play language_choice (barge-in)
20:30:02 keys 2
20:30:02 menu: language: 2 -> lang_en
20:30:02 language en
20:30:02 branch: hours_check: default -> after_hours
20:30:02 play after_hours (barge-in)
20:30:03 keys 1
20:30:03 menu: after_hours: 1 -> callback_request
20:30:03 outcome callback_requested
20:30:03 play callback_number_is digit_1 digit_3 digit_8 digit_0 digit_0 digit_1 digit_3 digit_8 digit_0 digit_0 digit_0 callback_confirm_keys (barge-in)
20:30:16 keys 1
20:30:16 record follow-up callback (callback) to 138****8000, between 2026-11-23 09:00 and 2026-11-23 13:00
20:30:16 followup: callback (callback) within 4 working hours
20:30:16 play callback_confirmed time_by num_1 time_oclock time_pm weekday_1
20:30:22 branch: goodbye: default -> goodbye_day
20:30:22 play goodbye
20:30:23 hang up (outcome callback_requested)
20:30:23 record call: language en, not verified, outcome callback_requested
"#;

#[test]
fn simulate_reports_errors() {
    let err = simulate(
        shipped_plan(),
        shanghai(2026, 11, 20, 20, 30),
        "13800138000",
        "2 1 1 5 5",
        verified,
    )
    .unwrap_err();
    assert!(
        err.ends_with("error: the call ended with keys left: 5 5"),
        "{err}"
    );
    let err = simulate(shipped_plan(), monday_10(), "138", "2 x", verified).unwrap_err();
    assert_eq!(err, "error: 'x' is not a key (0-9, *, #, A-D)");
}
