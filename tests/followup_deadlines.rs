//! Follow-up deadlines on the shipped dial plan's business calendar (Asia/Shanghai, Monday to
//! Friday 09:00-18:00, the 2026 public holidays and make-up working days): across a weekend,
//! a public holiday, on a make-up working Saturday, across a time-zone boundary; and the rules
//! for overdue, escalation and status moves.

use chrono::{DateTime, TimeZone};
use chrono_tz::Tz;
use hotline::followup::{
    check_change, due_times, escalation, overdue, Change, Due, Rules, Span, Step,
};
use hotline::ivr::calendar::{Calendar, ClockRange};
use hotline::store::{FollowUpKind, FollowUpRow, FollowUpStatus, NewFollowUp};

fn shipped() -> Calendar {
    let plan = hotline::ivr::load_file(
        std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/dialplans/hotline.toml"
        )),
        None,
    )
    .expect("the shipped plan loads");
    plan.calendar.clone()
}

fn sh(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Tz> {
    chrono_tz::Asia::Shanghai
        .with_ymd_and_hms(y, m, d, h, min, 0)
        .unwrap()
}

fn ms(t: DateTime<Tz>) -> i64 {
    t.timestamp_millis()
}

fn complaint_due(cal: &Calendar, at: DateTime<Tz>) -> Due {
    due_times(
        &Rules::default(),
        cal,
        FollowUpKind::Complaint,
        "complaint",
        ms(at),
        None,
    )
}

fn show(d: Option<i64>) -> String {
    d.map(|d| {
        chrono_tz::Asia::Shanghai
            .timestamp_millis_opt(d)
            .unwrap()
            .format("%Y-%m-%d %H:%M %a")
            .to_string()
    })
    .unwrap_or_default()
}

#[test]
fn complaint_across_a_weekend() {
    let cal = shipped();
    // Friday 27 November 2026, 15:00
    let d = complaint_due(&cal, sh(2026, 11, 27, 15, 0));
    assert_eq!(show(d.forward), "2026-11-28 03:00 Sat", "12 elapsed hours");
    assert_eq!(
        show(d.answer),
        "2026-11-30 18:00 Mon",
        "1 working day: Monday"
    );
    // Mon 30, Tue 1, Wed 2, Thu 3, Fri 4, Mon 7, Tue 8
    assert_eq!(show(d.resolve), "2026-12-08 18:00 Tue", "7 working days");
}

#[test]
fn complaint_across_a_public_holiday() {
    let cal = shipped();
    // Wednesday 30 September 2026, the eve of the National Day week (1-7 October)
    let d = complaint_due(&cal, sh(2026, 9, 30, 10, 0));
    assert_eq!(show(d.forward), "2026-09-30 22:00 Wed");
    assert_eq!(
        show(d.answer),
        "2026-10-08 18:00 Thu",
        "the holiday week is skipped"
    );
    // Thu 8, Fri 9, Sat 10 (make-up day), Mon 12, Tue 13, Wed 14, Thu 15
    assert_eq!(show(d.resolve), "2026-10-15 18:00 Thu");
    // Received on a holiday: counting starts after it
    let d = complaint_due(&cal, sh(2026, 10, 3, 11, 0));
    assert_eq!(show(d.answer), "2026-10-08 18:00 Thu");
}

#[test]
fn make_up_working_saturday_counts() {
    let cal = shipped();
    // Saturday 10 October 2026 is a make-up working day (09:00-18:00)
    let d = complaint_due(&cal, sh(2026, 10, 10, 10, 0));
    assert_eq!(
        show(d.answer),
        "2026-10-12 18:00 Mon",
        "T+1 from a working Saturday"
    );
    // Friday 9 October 16:00: the next working day is the make-up Saturday
    let d = complaint_due(&cal, sh(2026, 10, 9, 16, 0));
    assert_eq!(
        show(d.answer),
        "2026-10-10 18:00 Sat",
        "the make-up Saturday is T+1"
    );
    // a callback promised within 4 working hours on Friday 16:00: 2 h on Friday, 2 h on
    // the make-up Saturday
    let cb = due_times(
        &Rules::default(),
        &cal,
        FollowUpKind::Callback,
        "callback",
        ms(sh(2026, 10, 9, 16, 0)),
        None,
    );
    assert_eq!(show(cb.answer), "2026-10-10 11:00 Sat");
    assert_eq!((cb.forward, cb.resolve), (None, None));
    // an ordinary Saturday is no working day: the same callback a week later goes to Monday
    let cb = due_times(
        &Rules::default(),
        &cal,
        FollowUpKind::Callback,
        "callback",
        ms(sh(2026, 10, 16, 16, 0)),
        None,
    );
    assert_eq!(show(cb.answer), "2026-10-19 11:00 Mon");
}

#[test]
fn days_are_counted_in_the_calendars_time_zone() {
    let cal = shipped();
    // 20:00 UTC on Sunday 29 November is 04:00 on Monday 30 November in Shanghai: the
    // complaint arrives on a Monday, so T+1 is Tuesday (a UTC reading would say Monday).
    let at = chrono::Utc
        .with_ymd_and_hms(2026, 11, 29, 20, 0, 0)
        .unwrap();
    let d = due_times(
        &Rules::default(),
        &cal,
        FollowUpKind::Complaint,
        "complaint",
        at.timestamp_millis(),
        None,
    );
    assert_eq!(show(d.answer), "2026-12-01 18:00 Tue");
    assert_eq!(show(d.forward), "2026-11-30 16:00 Mon");
    // 12 hours are elapsed hours, also across a daylight-saving change (New York, 1 Nov 2026)
    let ny = chrono_tz::America::New_York;
    let day = ClockRange::parse("09:00-17:00").unwrap();
    let mut cal = Calendar::new(ny);
    for wd in 0..5 {
        cal = cal.with_hours(wd, vec![day]);
    }
    let before = ny.with_ymd_and_hms(2026, 10, 31, 20, 0, 0).unwrap();
    let d = due_times(
        &Rules::default(),
        &cal,
        FollowUpKind::Complaint,
        "x",
        before.timestamp_millis(),
        None,
    );
    let fwd = ny.timestamp_millis_opt(d.forward.unwrap()).unwrap();
    assert_eq!(fwd.to_rfc3339(), "2026-11-01T07:00:00-05:00");
    // Saturday evening: T+1 is Monday, 17:00 New York (EST after the change)
    let ans = ny.timestamp_millis_opt(d.answer.unwrap()).unwrap();
    assert_eq!(ans.to_rfc3339(), "2026-11-02T17:00:00-05:00");
}

#[test]
fn callbacks_are_due_by_their_promise() {
    let cal = shipped();
    let promised = ms(sh(2026, 11, 23, 14, 0));
    let d = due_times(
        &Rules::default(),
        &cal,
        FollowUpKind::Callback,
        "callback",
        ms(sh(2026, 11, 23, 10, 0)),
        Some(promised),
    );
    assert_eq!(d.answer, Some(promised));
}

#[test]
fn rules_per_category_from_the_config_file() {
    let table: toml::Table = toml::from_str(
        r#"
        forward = "4h"
        revisit_after = "2 working days"
        escalate_by = 2
        [categories.billing]
        answer = "4 working hours"
        resolve = "3wd"
        "#,
    )
    .unwrap();
    let rules = Rules::from_toml(&table).unwrap();
    assert_eq!(rules.forward, Span::Hours(4));
    assert_eq!(rules.answer, Span::WorkingDays(1), "default kept");
    let cal = shipped();
    let at = ms(sh(2026, 11, 23, 10, 0)); // Monday
    let d = due_times(&rules, &cal, FollowUpKind::Complaint, "billing", at, None);
    assert_eq!(show(d.forward), "2026-11-23 14:00 Mon");
    assert_eq!(show(d.answer), "2026-11-23 14:00 Mon");
    assert_eq!(show(d.resolve), "2026-11-26 18:00 Thu");
    let d = due_times(&rules, &cal, FollowUpKind::Complaint, "other", at, None);
    assert_eq!(show(d.answer), "2026-11-24 18:00 Tue");
    let r = due_times(&rules, &cal, FollowUpKind::Revisit, "billing", at, None);
    assert_eq!(show(r.answer), "2026-11-25 18:00 Wed");
    for bad in [
        "forward = \"soon\"",
        "forward = 12",
        "nonsense = 1",
        "[categories.x]\nwhen = \"1h\"",
    ] {
        let t: toml::Table = toml::from_str(bad).unwrap();
        assert!(Rules::from_toml(&t).is_err(), "{bad}");
    }
    assert_eq!(Span::parse("7 business days"), Ok(Span::WorkingDays(7)));
    assert_eq!(Span::WorkingDays(7).to_string(), "7 working days");
}

fn complaint(due: Due) -> FollowUpRow {
    let mut spec = NewFollowUp::new(FollowUpKind::Complaint, "13800138000", 0);
    spec.id = "fu-1".into();
    spec.category = "complaint".into();
    spec.urgency = 3;
    spec.due_forward = due.forward;
    spec.due_answer = due.answer;
    spec.due_resolve = due.resolve;
    FollowUpRow {
        spec,
        status: FollowUpStatus::Open,
        department: None,
        forwarded_at: None,
        answered_at: None,
        resolved_at: None,
        closed_at: None,
        outcome: None,
        escalation: 0,
        escalated_at: None,
    }
}

#[test]
fn overdue_steps_escalate_once_each() {
    let rules = Rules::default();
    let mut f = complaint(Due {
        forward: Some(100),
        answer: Some(200),
        resolve: Some(300),
    });
    assert!(overdue(&f, 100).is_empty(), "due at 100 is not late at 100");
    assert_eq!(overdue(&f, 101), vec![Step::Forward]);
    let e = escalation(&f, 101, &rules).unwrap();
    assert_eq!((e.level, e.urgency_rise), (1, 1));
    f.escalation = 1;
    assert_eq!(
        escalation(&f, 150, &rules),
        None,
        "no second escalation for the same miss"
    );
    f.status = FollowUpStatus::Forwarded;
    assert!(overdue(&f, 150).is_empty());
    let e = escalation(&f, 301, &rules).unwrap();
    assert_eq!(
        (e.level, e.urgency_rise),
        (2, 1),
        "answer and resolve late, forward done"
    );
    f.status = FollowUpStatus::Closed;
    assert!(overdue(&f, 10_000).is_empty());
    let mut cb = complaint(Due {
        forward: None,
        answer: Some(100),
        resolve: None,
    });
    cb.spec.kind = FollowUpKind::Callback;
    assert_eq!(overdue(&cb, 101), vec![Step::Answer]);
    assert_eq!(
        escalation(&cb, 101, &rules),
        None,
        "only complaints escalate"
    );
}

#[test]
fn status_moves_only_go_forward() {
    use FollowUpStatus::*;
    let fwd = Change::Forward {
        department: "billing".into(),
    };
    let res = Change::Resolve {
        outcome: "refund".into(),
    };
    assert!(check_change(Open, &fwd).is_ok());
    assert!(
        check_change(Forwarded, &fwd).is_ok(),
        "forwarded again elsewhere"
    );
    assert!(check_change(Answered, &fwd).is_err());
    assert!(check_change(Open, &Change::Answer).is_ok());
    assert!(check_change(Answered, &Change::Answer).is_err());
    assert!(check_change(Open, &res).is_ok());
    assert!(check_change(Resolved, &res).is_err());
    assert!(check_change(Resolved, &Change::Close).is_ok());
    let e = check_change(Closed, &Change::Close).unwrap_err();
    assert_eq!(e.to_string(), "cannot close a follow-up that is closed");
}

#[test]
fn followups_and_reports_sections_of_the_config_file() {
    let dir = std::env::temp_dir().join(format!("hotline-fu-config-{:08x}", rand::random::<u32>()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("hotline.toml");
    std::fs::write(
        &file,
        "ring_delay_ms = 500\n[followups]\nresolve = \"5 working days\"\n\
         [followups.categories.billing]\nanswer = \"4wh\"\n[reports]\nservice_level_secs = 15\n",
    )
    .unwrap();
    let cfg = hotline::config::Overrides {
        config: Some(file.clone()),
        ..Default::default()
    }
    .load()
    .expect("valid config");
    assert_eq!(cfg.followups.resolve, Span::WorkingDays(5));
    assert_eq!(cfg.followups.answer, Span::WorkingDays(1));
    assert_eq!(
        cfg.followups.categories["billing"].answer,
        Some(Span::WorkingHours(4))
    );
    assert_eq!(cfg.reports.service_level_secs, 15);
    assert_eq!(cfg.reports.short_abandon_secs, 5);
    assert_eq!(cfg.ring_delay, std::time::Duration::from_millis(500));
    std::fs::write(
        &file,
        "[followups]\nresolve = \"someday\"\n[reports]\nservice_level_secs = -1\n",
    )
    .unwrap();
    let err = hotline::config::Overrides {
        config: Some(file),
        ..Default::default()
    }
    .load()
    .unwrap_err()
    .to_string();
    assert!(err.contains("followups: followups.resolve"), "{err}");
    assert!(err.contains("reports: reports.service_level_secs"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
