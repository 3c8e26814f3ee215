//! The reports' outbound section from rows the dialer writes (outbound calls, dial attempts,
//! a follow-up given up as unreachable), on SQLite and (with HOTLINE_TEST_POSTGRES_URL)
//! PostgreSQL: the figures of a day and of its month, an empty day, and the section as Markdown,
//! CSV, HTML and JSON in both languages.

#[macro_use]
mod common;

use chrono::TimeZone;
use common::db::{outbound_call, TestDb};
use hotline::followup::ReportSettings;
use hotline::ivr::Language;
use hotline::report::outbound::{FollowUpCalls, Outbound, PlacedCalls};
use hotline::report::render::{render, Format, Style};
use hotline::report::{build, Kind, Period, Report};
use hotline::store::{DialResult, FollowUpKind, NewFollowUp, Store, Write};

const TZ: chrono_tz::Tz = chrono_tz::Asia::Shanghai;

/// ms of a local Shanghai time in November 2026.
fn t(d: u32, h: u32, min: u32) -> i64 {
    TZ.with_ymd_and_hms(2026, 11, d, h, min, 0)
        .unwrap()
        .timestamp_millis()
}

fn now() -> i64 {
    t(30, 18, 0)
}

/// The call went out through a trunk.
fn routed(id: &str) -> Write {
    Write::CallRouted {
        id: id.into(),
        sip_call_id: None,
        trunk: "carrier-a".into(),
        source: "198.51.100.7:5060".into(),
        transport: "udp",
    }
}

fn answered(id: &str, at_ms: i64) -> Write {
    Write::CallAnswered {
        id: id.into(),
        at_ms,
    }
}

fn ended(id: &str, at_ms: i64) -> Write {
    Write::CallEnded {
        id: id.into(),
        at_ms,
        by: "hotline",
        cause: "agent_bye",
        status: None,
    }
}

/// One attempt on `f` as the dialer writes it: its record (a skipped preview's too, though
/// it never reached a trunk), routed through the trunk, answered when it was, ended, and
/// the attempt itself.
async fn attempt(store: &Store, f: &NewFollowUp, call: &str, result: DialResult, at: i64) {
    let mut writes = vec![outbound_call(call, Some(&f.id), Some("1024"), at - 60_000)];
    if result != DialResult::Skipped {
        writes.push(routed(call));
        if result == DialResult::Answered {
            writes.push(answered(call, at - 50_000));
        }
    }
    writes.push(ended(call, at));
    writes.push(Write::DialAttempt {
        followup: f.id.clone(),
        call: call.into(),
        result,
        agent: Some("1024".into()),
        at_ms: at,
        unreachable: false,
    });
    store.apply(&writes).await.unwrap();
}

async fn followup(
    store: &Store,
    kind: FollowUpKind,
    created_at: i64,
    window: (Option<i64>, Option<i64>),
    parent: Option<&str>,
) -> NewFollowUp {
    let mut f = NewFollowUp::new(kind, "13900139000", created_at);
    f.category = "billing".into();
    (f.promised_from, f.promised_to) = window;
    f.parent_id = parent.map(Into::into);
    store.create_followup(&f).await.unwrap();
    f
}

/// Four callbacks and a revisit called on 25 November (one callback also on the 24th), one
/// callback given up, two agents' dial-outs and a transfer.
async fn seed(db: &TestDb) -> Store {
    use DialResult::*;
    let store = Store::connect(&db.url).await.expect("connect");
    let cb = FollowUpKind::Callback;
    // promised 10:00-12:00, reached 10:40: 40 min, on time (after a no answer and a skip)
    let a = followup(
        &store,
        cb,
        t(25, 9, 0),
        (Some(t(25, 10, 0)), Some(t(25, 12, 0))),
        None,
    )
    .await;
    attempt(&store, &a, "out-a1", NoAnswer, t(25, 10, 5)).await;
    attempt(&store, &a, "pre-a2", Skipped, t(25, 10, 20)).await;
    attempt(&store, &a, "out-a3", Answered, t(25, 10, 40)).await;
    // no promise: from its creation at 09:30 to 13:30, 240 min
    let b = followup(&store, cb, t(25, 9, 30), (None, None), None).await;
    attempt(&store, &b, "out-b1", Busy, t(25, 11, 0)).await;
    attempt(&store, &b, "out-b2", Answered, t(25, 13, 30)).await;
    // never reached: failed, then no answer and given up
    let c = followup(
        &store,
        cb,
        t(25, 8, 0),
        (Some(t(25, 8, 0)), Some(t(25, 9, 0))),
        None,
    )
    .await;
    attempt(&store, &c, "out-c1", Failed, t(25, 9, 30)).await;
    store
        .apply(&[
            outbound_call("out-c2", Some(&c.id), Some("1024"), t(25, 9, 59)),
            routed("out-c2"),
            ended("out-c2", t(25, 10, 0)),
            Write::DialAttempt {
                followup: c.id.clone(),
                call: "out-c2".into(),
                result: NoAnswer,
                agent: Some("1024".into()),
                at_ms: t(25, 10, 0),
                unreachable: true,
            },
        ])
        .await
        .unwrap();
    // created the day before, window ending 11:00, reached 11:30: 1230 min, late; its first
    // attempt was the day before
    let d = followup(&store, cb, t(24, 15, 0), (None, Some(t(25, 11, 0))), None).await;
    attempt(&store, &d, "out-d0", NoAnswer, t(24, 16, 0)).await;
    attempt(&store, &d, "out-d1", Answered, t(25, 11, 30)).await;
    // a revisit of a complaint, reached 300 min after it was made
    let k = followup(
        &store,
        FollowUpKind::Complaint,
        t(20, 9, 0),
        (None, None),
        None,
    )
    .await;
    let r = followup(
        &store,
        FollowUpKind::Revisit,
        t(25, 9, 0),
        (None, None),
        Some(&k.id),
    )
    .await;
    attempt(&store, &r, "out-r1", Answered, t(25, 14, 0)).await;
    // calls without a follow-up: two dial-outs (one answered) and a transfer
    store
        .apply(&[
            outbound_call("dial-1", None, Some("1025"), t(25, 15, 0)),
            routed("dial-1"),
            answered("dial-1", t(25, 15, 1)),
            ended("dial-1", t(25, 15, 9)),
            outbound_call("dial-2", None, Some("1025"), t(25, 15, 10)),
            routed("dial-2"),
            ended("dial-2", t(25, 15, 11)),
            outbound_call("xfer-1", None, None, t(25, 16, 0)),
            routed("xfer-1"),
            answered("xfer-1", t(25, 16, 1)),
            ended("xfer-1", t(25, 16, 5)),
        ])
        .await
        .unwrap();
    store
}

async fn report(store: &Store, kind: Kind, period: Period) -> Report {
    build(store, &ReportSettings::default(), kind, period, now())
        .await
        .unwrap()
}

fn expected_day() -> Outbound {
    Outbound {
        callbacks: FollowUpCalls {
            called: 4,
            attempts: 7,
            answered: 3,
            busy: 1,
            no_answer: 2,
            failed: 1,
            skipped: 1,
            reached: 3,
            reached_rate: Some(0.75),
            unreachable: 1,
            avg_minutes_to_reach: Some((40.0 + 240.0 + 1230.0) / 3.0),
            median_minutes_to_reach: Some(240.0),
            reached_with_window: 2,
            reached_on_time: 1,
            on_time_share: Some(0.5),
        },
        revisits: FollowUpCalls {
            called: 1,
            attempts: 1,
            answered: 1,
            reached: 1,
            reached_rate: Some(1.0),
            avg_minutes_to_reach: Some(300.0),
            median_minutes_to_reach: Some(300.0),
            ..Default::default()
        },
        calls: PlacedCalls {
            with_followup: 8,
            with_followup_connected: 4,
            without_followup: 3,
            without_followup_connected: 2,
        },
    }
}

async fn outbound_figures(db: &TestDb) {
    let store = seed(db).await;

    let day = report(&store, Kind::Daily, Period::day(TZ, "2026-11-25").unwrap()).await;
    assert_eq!(day.outbound, expected_day());
    assert_eq!(day.kpis.offered, 0, "the KPIs count no outbound call");

    // the month also has callback d's first attempt and its call, on the 24th
    let month = report(&store, Kind::Monthly, Period::month(TZ, "2026-11").unwrap()).await;
    let mut want = expected_day();
    want.callbacks.attempts += 1;
    want.callbacks.no_answer += 1;
    want.calls.with_followup += 1;
    assert_eq!(month.outbound, want);

    // the day before: one attempt, nothing reached
    let before = report(&store, Kind::Daily, Period::day(TZ, "2026-11-24").unwrap()).await;
    let c = &before.outbound.callbacks;
    assert_eq!((c.called, c.attempts, c.no_answer, c.reached), (1, 1, 1, 0));
    assert_eq!((c.reached_rate, c.avg_minutes_to_reach), (Some(0.0), None));

    let json = serde_json::to_value(&day).unwrap();
    assert_eq!(json["outbound"]["callbacks"]["reached"], 3);
    assert_eq!(
        json["outbound"]["revisits"]["median_minutes_to_reach"],
        300.0
    );
    assert_eq!(json["outbound"]["calls"]["without_followup"], 3);

    rendered(&day);
    empty_day(&store).await;
    store.close().await;
}

/// The section in each format and language.
fn rendered(day: &Report) {
    let en = Style::new(Language::En);
    let md = render(day, Format::Md, &en);
    for line in [
        "## Outbound calls",
        "### Callbacks and revisits called",
        "| figure | callbacks | revisits |",
        "| follow-ups called | 4 | 1 |",
        "| call attempts | 7 | 1 |",
        "| of which no answer | 2 | 0 |",
        "| previews skipped: no attempt used | 1 | 0 |",
        "| customers reached | 3 | 1 |",
        "| reach rate | 75.0% | 100.0% |",
        "| given up as unreachable | 1 | 0 |",
        "| average time from promise to call | 503.3 min | 300.0 min |",
        "| median time from promise to call | 240.0 min | 300.0 min |",
        "| reached within the promised window | 1 | 0 |",
        "| share reached on time | 50.0% | n/a |",
        "### All calls placed",
        "| calls for | calls | connected | connect rate |",
        "| callbacks and revisits | 8 | 4 | 50.0% |",
        "| agents dialling out and transfers | 3 | 2 | 66.7% |",
        "| all | 11 | 6 | 54.5% |",
    ] {
        assert!(md.contains(line), "{line:?} not in:\n{md}");
    }
    let csv = render(day, Format::Csv, &en);
    for line in [
        "section,table,figure,callbacks,revisits\n",
        "Outbound calls,Callbacks and revisits called,follow-ups called,4,1\n",
        "Outbound calls,Callbacks and revisits called,reach rate (%),75.0,100.0\n",
        "Outbound calls,Callbacks and revisits called,average time from promise to call (min),503.3,300.0\n",
        "Outbound calls,Callbacks and revisits called,share reached on time (%),50.0,\n",
        "section,table,calls for,calls,connected,connect rate (%)\n",
        "Outbound calls,All calls placed,all,11,6,54.5\n",
    ] {
        assert!(csv.contains(line), "{line:?} not in:\n{csv}");
    }
    let html = render(day, Format::Html, &en);
    assert!(html.contains("<h2>Outbound calls</h2>"), "{html}");
    assert!(html.contains("<td>reach rate</td><td>75.0%</td><td>100.0%</td>"));

    let zh = Style::new(Language::ZhCn);
    let md = render(day, Format::Md, &zh);
    for line in [
        "## 外呼",
        "| 指标 | 回电 | 回访 |",
        "| 联系成功率 | 75.0% | 100.0% |",
        "| 承诺到外呼平均时间 | 503.3 分钟 | 300.0 分钟 |",
        "| 坐席外拨、转接外线 | 3 | 2 | 66.7% |",
    ] {
        assert!(md.contains(line), "{line:?} not in:\n{md}");
    }
    let csv = render(day, Format::Csv, &zh);
    assert!(
        csv.contains("外呼,回电与回访外呼,承诺到外呼时间中位数 (分钟),240.0,300.0\n"),
        "{csv}"
    );
}

/// A day without a call placed: zeros, and no rate or time.
async fn empty_day(store: &Store) {
    let r = report(store, Kind::Daily, Period::day(TZ, "2026-11-20").unwrap()).await;
    assert_eq!(r.outbound, Outbound::default());
    let en = Style::new(Language::En);
    let md = render(&r, Format::Md, &en);
    for line in [
        "| follow-ups called | 0 | 0 |",
        "| reach rate | n/a | n/a |",
        "| average time from promise to call | n/a | n/a |",
        "| all | 0 | 0 | n/a |",
    ] {
        assert!(md.contains(line), "{line:?} not in:\n{md}");
    }
    let csv = render(&r, Format::Csv, &en);
    assert!(
        csv.contains("Outbound calls,Callbacks and revisits called,reach rate (%),,\n"),
        "{csv}"
    );
}

backend_tests!(outbound_section, outbound_figures);
