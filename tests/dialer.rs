//! The callback dialer's schedule on the shipped calendar, on a fake clock: calling
//! hours, holidays, urgent callbacks at night, retries and their limit, more callbacks
//! than free agents, and an agent who skips the preview.

use std::path::Path;

use chrono::TimeZone;
use hotline::dialer::{after, callable, due, Attempt, Candidate, Next, Rules, URGENT};
use hotline::ivr::Calendar;
use hotline::store::{FollowUpKind, FollowUpStatus};

fn calendar() -> Calendar {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("dialplans/hotline.toml");
    hotline::ivr::load_file(&path, None).unwrap().calendar
}

/// Shanghai local time as ms since the epoch.
fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> i64 {
    chrono_tz::Asia::Shanghai
        .with_ymd_and_hms(y, m, d, h, min, 0)
        .unwrap()
        .timestamp_millis()
}

fn callback(id: &str, urgency: i32, created: i64) -> Candidate {
    Candidate {
        id: id.into(),
        kind: FollowUpKind::Callback,
        status: FollowUpStatus::Open,
        urgency,
        created_at: created,
        promised_from: Some(created),
        promised_to: Some(created + 4 * 3_600_000),
        attempts: 0,
        last_attempt_at: None,
    }
}

const MIN: i64 = 60_000;

#[test]
fn only_in_calling_hours_unless_urgent() {
    let (cal, rules) = (calendar(), Rules::default());
    let friday_evening = at(2026, 11, 20, 20, 0);
    let ordinary = callback("a", 0, friday_evening);
    let urgent = callback("b", URGENT, friday_evening);
    // Friday night: only the urgent one is called.
    assert!(!callable(&ordinary, friday_evening + MIN, &cal, &rules));
    assert!(callable(&urgent, friday_evening + MIN, &cal, &rules));
    // Saturday: a weekend, still not; Monday 09:00: yes.
    assert!(!callable(&ordinary, at(2026, 11, 21, 10, 0), &cal, &rules));
    assert!(callable(&ordinary, at(2026, 11, 23, 9, 0), &cal, &rules));
    // National Day: a holiday, closed all day; urgent still goes out.
    let holiday = at(2026, 10, 2, 10, 0);
    assert!(!callable(&callback("c", 0, holiday), holiday, &cal, &rules));
    assert!(callable(
        &callback("d", URGENT, holiday),
        holiday,
        &cal,
        &rules
    ));
    // A make-up working Saturday is a working day.
    let makeup = at(2026, 10, 10, 10, 0);
    assert!(callable(&callback("e", 0, makeup), makeup, &cal, &rules));
}

#[test]
fn not_before_the_promise_and_not_once_reached() {
    let (cal, rules) = (calendar(), Rules::default());
    let now = at(2026, 11, 23, 10, 0);
    let mut later = callback("a", 0, now);
    later.promised_from = Some(now + 30 * MIN);
    assert!(!callable(&later, now, &cal, &rules));
    assert!(callable(&later, now + 30 * MIN, &cal, &rules));
    let mut answered = callback("b", 0, now);
    answered.status = FollowUpStatus::Answered;
    assert!(!callable(&answered, now, &cal, &rules));
    let mut complaint = callback("c", 0, now);
    complaint.kind = FollowUpKind::Complaint;
    assert!(
        !callable(&complaint, now, &cal, &rules),
        "complaints are worked, not dialled"
    );
    let mut revisit = callback("d", 0, now);
    revisit.kind = FollowUpKind::Revisit;
    assert!(callable(&revisit, now, &cal, &rules));
}

#[test]
fn one_call_per_free_agent_most_urgent_then_earliest_promise() {
    let (cal, rules) = (calendar(), Rules::default());
    let now = at(2026, 11, 23, 11, 0);
    let first = callback("first", 0, at(2026, 11, 23, 9, 0));
    let second = callback("second", 0, at(2026, 11, 23, 9, 30));
    let urgent = callback("urgent", URGENT, at(2026, 11, 23, 10, 30));
    let all = [second.clone(), urgent.clone(), first.clone()];
    let ids = |n| -> Vec<String> {
        due(&all, now, &cal, &rules, n)
            .iter()
            .map(|c| c.id.clone())
            .collect()
    };
    assert_eq!(ids(1), ["urgent"]);
    assert_eq!(ids(2), ["urgent", "first"]);
    assert_eq!(ids(5), ["urgent", "first", "second"]);
    assert!(ids(0).is_empty());
}

#[test]
fn retries_wait_and_end_unreachable() {
    let (cal, rules) = (calendar(), Rules::default());
    let start = at(2026, 11, 23, 10, 0);
    let mut c = callback("a", 0, start);
    let mut now = start;
    for attempt in 1..=rules.max_attempts {
        assert!(callable(&c, now, &cal, &rules), "attempt {attempt}");
        let next = after(Attempt::NoAnswer, c.attempts, now, &rules);
        c.attempts += 1;
        c.last_attempt_at = Some(now);
        if attempt < rules.max_attempts {
            let retry = now + 30 * MIN;
            assert_eq!(next, Next::RetryAt(retry));
            assert!(!callable(&c, retry - 1, &cal, &rules), "too early");
            now = retry;
        } else {
            assert_eq!(next, Next::Unreachable);
            assert!(!callable(&c, now + 24 * 60 * MIN, &cal, &rules));
        }
    }
    assert_eq!(after(Attempt::Answered, 0, now, &rules), Next::Reached);
    assert_eq!(
        after(Attempt::Busy, 0, now, &rules),
        Next::RetryAt(now + 30 * MIN)
    );
}

#[test]
fn an_agent_who_skips_does_not_use_up_an_attempt() {
    let rules = Rules::default();
    let now = at(2026, 11, 23, 10, 0);
    // Even at the last attempt, a skip is retried, never unreachable.
    let last = rules.max_attempts - 1;
    assert_eq!(
        after(Attempt::Skipped, last, now, &rules),
        Next::RetryAt(now + 30 * MIN)
    );
    assert!(!Attempt::Skipped.counts());
    assert!(Attempt::NoAnswer.counts() && Attempt::Failed.counts());
}
