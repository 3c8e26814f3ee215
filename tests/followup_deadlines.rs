//! Follow-up deadlines on the shipped dial plan's business calendar (Asia/Shanghai, Monday to
//! Friday 09:00-18:00, the 2026 public holidays and make-up working days): across a weekend,
//! a public holiday, on a make-up working Saturday, across a time-zone boundary; and the rules
//! for overdue, escalation, status moves, closing and revisits, with the revisit's verdict
//! and the caller flag in the store on SQLite and (with HOTLINE_TEST_POSTGRES_URL) PostgreSQL.

mod common;

use chrono::{DateTime, TimeZone};
use chrono_tz::Tz;
use common::db::TestDb;
use hotline::followup::{
    check_change, due_times, escalation, overdue, revisit_verdict, Change, Due, NotAllowed,
    RevisitResult, Rules, Span, Step, VerdictRefused,
};
use hotline::ivr::calendar::{Calendar, ClockRange};
use hotline::store::{
    FollowUpKind, FollowUpMove, FollowUpRow, FollowUpStatus, NewFollowUp, RevisitVerdict, Store,
};

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
    assert_eq!(show(d.contact), "2026-11-28 03:00 Sat", "12 elapsed hours");
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
        contact = "6 hours"
        [categories.billing]
        answer = "4 working hours"
        resolve = "3wd"
        contact = "2h"
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
    assert_eq!(
        show(d.contact),
        "2026-11-23 12:00 Mon",
        "the category's own"
    );
    assert_eq!(show(d.answer), "2026-11-23 14:00 Mon");
    assert_eq!(show(d.resolve), "2026-11-26 18:00 Thu");
    let d = due_times(&rules, &cal, FollowUpKind::Complaint, "other", at, None);
    assert_eq!(show(d.answer), "2026-11-24 18:00 Tue");
    assert_eq!(
        show(d.contact),
        "2026-11-23 16:00 Mon",
        "the section's default"
    );
    let r = due_times(&rules, &cal, FollowUpKind::Revisit, "billing", at, None);
    assert_eq!(show(r.answer), "2026-11-25 18:00 Wed");
    assert_eq!(r.contact, None, "only complaints have a contact step");
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
    due.apply(&mut spec);
    FollowUpRow {
        spec,
        status: FollowUpStatus::Open,
        department: None,
        forwarded_at: None,
        contacted_at: None,
        answered_at: None,
        resolved_at: None,
        closed_at: None,
        outcome: None,
        escalation: 0,
        escalated_at: None,
        revisit_result: None,
        flagged: false,
    }
}

#[test]
fn the_customer_is_contacted_within_12_hours() {
    let cal = shipped();
    let created = sh(2026, 11, 23, 10, 0);
    let due = complaint_due(&cal, created);
    assert_eq!(due.contact, Some(ms(created) + 12 * 3_600_000));
    let mut f = complaint(due);
    f.spec.created_at = ms(created);
    f.status = FollowUpStatus::Forwarded;
    f.forwarded_at = Some(ms(created) + 3_600_000);
    let contact_due = due.contact.unwrap();
    assert!(overdue(&f, contact_due).is_empty(), "due, not late");
    assert_eq!(overdue(&f, contact_due + 1), vec![Step::Contact]);
    let e = escalation(&f, contact_due + 1, &Rules::default()).unwrap();
    assert_eq!(
        (e.level, e.urgency_rise),
        (1, 1),
        "the missed contact escalates"
    );
    f.contacted_at = Some(contact_due - 60_000);
    assert!(overdue(&f, contact_due + 1).is_empty(), "contacted in time");
    // a first answer is a contact too
    f.contacted_at = None;
    f.status = FollowUpStatus::Answered;
    assert!(overdue(&f, contact_due + 1).is_empty());
}

#[test]
fn overdue_steps_escalate_once_each() {
    let rules = Rules::default();
    let mut f = complaint(Due {
        forward: Some(100),
        answer: Some(200),
        resolve: Some(300),
        ..Due::default()
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
        ..Due::default()
    });
    cb.spec.kind = FollowUpKind::Callback;
    assert_eq!(overdue(&cb, 101), vec![Step::Answer]);
    assert_eq!(
        escalation(&cb, 101, &rules),
        None,
        "only complaints escalate"
    );
}

fn at_status(kind: FollowUpKind, status: FollowUpStatus) -> FollowUpRow {
    let mut f = complaint(Due::default());
    f.spec.kind = kind;
    f.status = status;
    f
}

#[test]
fn status_moves_only_go_forward() {
    use FollowUpStatus::*;
    let c = |s| at_status(FollowUpKind::Complaint, s);
    let fwd = Change::Forward {
        department: "billing".into(),
    };
    let res = Change::Resolve {
        outcome: "refund".into(),
    };
    assert!(check_change(&c(Open), &fwd).is_ok());
    assert!(
        check_change(&c(Forwarded), &fwd).is_ok(),
        "forwarded again elsewhere"
    );
    assert!(check_change(&c(Answered), &fwd).is_err());
    assert!(check_change(&c(Open), &Change::Answer).is_ok());
    assert!(check_change(&c(Answered), &Change::Answer).is_err());
    assert!(check_change(&c(Open), &res).is_ok());
    assert!(check_change(&c(Resolved), &res).is_err());
    let blank = Change::Resolve {
        outcome: "  ".into(),
    };
    assert_eq!(
        check_change(&c(Answered), &blank),
        Err(NotAllowed::NoOutcome)
    );
    let close = Change::Close { forced: None };
    let e = check_change(&c(Closed), &close).unwrap_err();
    assert_eq!(e.to_string(), "cannot close a follow-up that is closed");
    // callbacks and revisits close as they are
    assert!(check_change(&at_status(FollowUpKind::Callback, Open), &close).is_ok());
    assert!(check_change(&at_status(FollowUpKind::Revisit, Answered), &close).is_ok());
}

#[test]
fn contact_is_a_complaints_step_recorded_once() {
    use FollowUpStatus::*;
    let c = |s| at_status(FollowUpKind::Complaint, s);
    assert!(check_change(&c(Open), &Change::Contact).is_ok());
    assert!(check_change(&c(Forwarded), &Change::Contact).is_ok());
    let mut done = c(Forwarded);
    done.contacted_at = Some(5);
    assert_eq!(
        check_change(&done, &Change::Contact),
        Err(NotAllowed::AlreadyContacted)
    );
    assert!(check_change(&c(Answered), &Change::Contact).is_err());
    let e = check_change(&at_status(FollowUpKind::Callback, Open), &Change::Contact).unwrap_err();
    assert!(e.to_string().contains("only complaints"), "{e}");
}

#[test]
fn a_complaint_closes_once_its_revisit_has_a_result() {
    use FollowUpStatus::*;
    let close = Change::Close { forced: None };
    let mut f = at_status(FollowUpKind::Complaint, Resolved);
    let e = check_change(&f, &close).unwrap_err();
    assert_eq!(e, NotAllowed::NoRevisitResult { status: "resolved" });
    assert!(e.to_string().contains("revisit"), "{e}");
    f.revisit_result = Some(RevisitResult::Satisfied);
    assert!(check_change(&f, &close).is_ok());
    // not resolved (reopened, or never): no verdict on a resolution to close on
    let open = at_status(FollowUpKind::Complaint, Forwarded);
    assert!(check_change(&open, &close).is_err());
    // forced, with a reason
    let forced = |r: &str| Change::Close {
        forced: Some(r.into()),
    };
    assert!(check_change(&open, &forced("customer withdrew the complaint")).is_ok());
    assert_eq!(check_change(&open, &forced(" ")), Err(NotAllowed::NoReason));
}

#[test]
fn an_unsatisfied_revisit_reopens_with_raised_urgency() {
    use FollowUpStatus::*;
    let rules = Rules {
        escalate_by: 2,
        ..Rules::default()
    };
    let revisit = at_status(FollowUpKind::Revisit, Open);
    let mut complaint = at_status(FollowUpKind::Complaint, Resolved);
    let v = |r, c: &FollowUpRow| revisit_verdict(&revisit, c, r, &rules);
    assert_eq!(v(RevisitResult::Satisfied, &complaint), Ok(None));
    assert_eq!(
        v(RevisitResult::Unsatisfied, &complaint),
        Ok(Some((Open, 2))),
        "never forwarded: back to open"
    );
    complaint.department = Some("billing".into());
    assert_eq!(
        v(RevisitResult::Unsatisfied, &complaint),
        Ok(Some((Forwarded, 2))),
        "back to its department"
    );
    complaint.status = Closed;
    assert!(matches!(
        v(RevisitResult::Satisfied, &complaint),
        Err(VerdictRefused::NotResolved { .. })
    ));
    complaint.status = Resolved;
    let mut again = revisit.clone();
    again.revisit_result = Some(RevisitResult::Satisfied);
    let e = revisit_verdict(&again, &complaint, RevisitResult::Unsatisfied, &rules).unwrap_err();
    assert_eq!(
        e.to_string(),
        "revisit fu-1 already found the customer satisfied"
    );
}

/// A resolved complaint with its revisit, in `store`, at ms 1000.
async fn resolved_complaint(store: &Store, number: &str) -> (String, String) {
    let mut k = NewFollowUp::new(FollowUpKind::Complaint, number, 1000);
    k.urgency = 3;
    store.create_followup(&k).await.unwrap();
    let r = NewFollowUp::new(FollowUpKind::Revisit, number, 5000);
    let mut r = r;
    r.parent_id = Some(k.id.clone());
    let moves = [
        (
            FollowUpStatus::Open,
            Change::Forward {
                department: "billing".into(),
            },
            None,
        ),
        (FollowUpStatus::Forwarded, Change::Contact, None),
        (
            FollowUpStatus::Forwarded,
            Change::Resolve {
                outcome: "refund".into(),
            },
            Some(r.clone()),
        ),
    ];
    for (i, (from, change, revisit)) in moves.into_iter().enumerate() {
        let m = FollowUpMove {
            id: k.id.clone(),
            from,
            change,
            at: 2000 + i as i64 * 1000,
            author: "1024".into(),
            revisit,
        };
        assert!(store.move_followup(&m).await.unwrap(), "{m:?}");
    }
    (k.id, r.id)
}

async fn verdicts_in_the_store(db: &TestDb) {
    let store = Store::connect(&db.url).await.unwrap();
    let (k, r) = resolved_complaint(&store, "13800138000").await;
    let row = store.followup(&k).await.unwrap().unwrap();
    assert_eq!(
        row.contacted_at,
        Some(3000),
        "the contact move kept its time"
    );
    assert_eq!(row.status, FollowUpStatus::Resolved);
    assert!(!row.flagged);
    let verdict = |result, reopen| RevisitVerdict {
        revisit: r.clone(),
        revisit_from: FollowUpStatus::Open,
        complaint: k.clone(),
        complaint_from: FollowUpStatus::Resolved,
        result,
        reopen,
        at: 9000,
        author: "1024".into(),
        note: Some("still charged twice".into()),
    };
    let unhappy = verdict(
        RevisitResult::Unsatisfied,
        Some((FollowUpStatus::Forwarded, 1)),
    );
    assert!(store.record_revisit(&unhappy).await.unwrap());
    let row = store.followup(&k).await.unwrap().unwrap();
    assert_eq!(
        (row.status, row.resolved_at, row.urgency, row.revisit_result),
        (
            FollowUpStatus::Forwarded,
            None,
            4,
            Some(RevisitResult::Unsatisfied)
        )
    );
    let notes: Vec<String> = store
        .followup_notes(&k)
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.text)
        .collect();
    assert_eq!(notes.last().unwrap(), "reopened: customer not satisfied");
    let rv = store.followup(&r).await.unwrap().unwrap();
    assert_eq!(
        (rv.status, rv.answered_at, rv.revisit_result),
        (
            FollowUpStatus::Answered,
            Some(9000),
            Some(RevisitResult::Unsatisfied)
        )
    );
    let notes = store.followup_notes(&r).await.unwrap();
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert_eq!(notes[1].text, "still charged twice");
    // the same verdict again changes nothing: the revisit has one already
    assert!(!store.record_revisit(&unhappy).await.unwrap());
    assert_eq!(store.followup(&k).await.unwrap().unwrap().urgency, 4);

    // a verdict whose complaint moved on in between changes neither row
    let (k2, r2) = resolved_complaint(&store, "13900139000").await;
    let stale = RevisitVerdict {
        revisit: r2.clone(),
        complaint: k2.clone(),
        complaint_from: FollowUpStatus::Answered,
        ..verdict(RevisitResult::Satisfied, None)
    };
    assert!(!store.record_revisit(&stale).await.unwrap());
    let rv = store.followup(&r2).await.unwrap().unwrap();
    assert_eq!((rv.status, rv.revisit_result), (FollowUpStatus::Open, None));

    // a flagged number shows on every row read
    let q = "INSERT INTO caller_flags (number, flag, created_at, created_by) \
             VALUES ('13900139000', 'malicious', 0, 'supervisor')";
    if db.url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
        sqlx::query(q).execute(&pool).await.unwrap();
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
        sqlx::query(q).execute(&pool).await.unwrap();
        pool.close().await;
    }
    let flagged: Vec<(String, bool)> = store
        .followups()
        .await
        .unwrap()
        .into_iter()
        .map(|f| (f.id.clone(), f.flagged))
        .collect();
    assert_eq!(flagged.len(), 4, "none dropped");
    for (id, flagged) in flagged {
        assert_eq!(flagged, id == k2 || id == r2, "{id}");
    }
    store.close().await;
}

#[tokio::test]
async fn verdicts_in_the_store_on_sqlite() {
    let db = TestDb::sqlite();
    verdicts_in_the_store(&db).await;
    db.finish().await;
}

#[tokio::test]
async fn verdicts_in_the_store_on_postgres() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    verdicts_in_the_store(&db).await;
    db.finish().await;
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
    // each named once, with the file and line of its key
    assert!(
        err.contains("followups.resolve (config file ") && err.contains("hotline.toml:2): "),
        "{err}"
    );
    assert!(
        err.contains("reports.service_level_secs (config file ")
            && err.contains("hotline.toml:4): "),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
