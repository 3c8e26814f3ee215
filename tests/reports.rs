//! Reports from a seeded month of calls, follow-ups and surveys give exactly the expected
//! figures in every section, on SQLite and (with HOTLINE_TEST_POSTGRES_URL) PostgreSQL.

mod common;

use chrono::TimeZone;
use common::db::TestDb;
use hotline::cli::report::build;
use hotline::followup::{Change, ReportSettings, Rules, Step};
use hotline::report::render::{render, Format};
use hotline::report::{Kind, Period, ScoreGroup};
use hotline::store::{
    CallIvr, FollowUpKind, FollowUpMove, FollowUpStatus, NewFollowUp, Store, Write,
};

const TZ: chrono_tz::Tz = chrono_tz::Asia::Shanghai;

/// ms of a local Shanghai time in 2026.
fn t(m: u32, d: u32, h: u32, min: u32) -> i64 {
    TZ.with_ymd_and_hms(2026, m, d, h, min, 0)
        .unwrap()
        .timestamp_millis()
}

const S: i64 = 1000;

/// The agent columns (written by the queue, not by a Write in this code).
async fn set_agent_columns(
    url: &str,
    id: &str,
    queued: Option<i64>,
    connected: Option<i64>,
    agent: Option<&str>,
) {
    let q = "UPDATE calls SET queued_at = $2, connected_at = $3, agent = $4 WHERE id = $1";
    if url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        sqlx::query(q)
            .bind(id)
            .bind(queued)
            .bind(connected)
            .bind(agent)
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        sqlx::query(q)
            .bind(id)
            .bind(queued)
            .bind(connected)
            .bind(agent)
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    }
}

struct Call {
    id: &'static str,
    arrived: i64,
    /// seconds after arrival
    answered: Option<i64>,
    queued: Option<i64>,
    connected: Option<i64>,
    ended: i64,
    by: &'static str,
    cause: &'static str,
    queue: Option<&'static str>,
    agent: Option<&'static str>,
}

fn calls() -> Vec<Call> {
    let c = |id, arrived, answered, queued, connected, ended, by, cause, queue, agent| Call {
        id,
        arrived,
        answered,
        queued,
        connected,
        ended,
        by,
        cause,
        queue,
        agent,
    };
    vec![
        // wait 10 s, handle 300 s
        c(
            "c01",
            t(11, 2, 10, 0),
            Some(1),
            Some(30),
            Some(40),
            340,
            "caller",
            "caller_bye",
            Some("billing"),
            Some("A1"),
        ),
        // wait 25 s (outside the 20 s service level), handle 200 s
        c(
            "c02",
            t(11, 2, 11, 0),
            Some(1),
            Some(20),
            Some(45),
            245,
            "caller",
            "caller_bye",
            Some("billing"),
            Some("A2"),
        ),
        // abandoned after 3 s in the queue (short)
        c(
            "c03",
            t(11, 3, 9, 0),
            Some(1),
            Some(10),
            None,
            13,
            "caller",
            "caller_bye",
            Some("general"),
            None,
        ),
        // abandoned after 30 s
        c(
            "c04",
            t(11, 3, 9, 30),
            Some(1),
            Some(10),
            None,
            40,
            "caller",
            "caller_bye",
            Some("general"),
            None,
        ),
        // wait 5 s, handle 100 s
        c(
            "c05",
            t(11, 4, 10, 0),
            Some(1),
            Some(5),
            Some(10),
            110,
            "caller",
            "caller_bye",
            Some("general"),
            Some("A1"),
        ),
        // the IVR only
        c(
            "c06",
            t(11, 5, 10, 0),
            Some(1),
            None,
            None,
            60,
            "caller",
            "caller_bye",
            None,
            None,
        ),
        // never answered
        c(
            "c07",
            t(11, 5, 10, 5),
            None,
            None,
            None,
            3,
            "caller",
            "caller_cancel",
            None,
            None,
        ),
        // cut off by a restart
        c(
            "c08",
            t(11, 6, 12, 0),
            Some(1),
            None,
            None,
            100,
            "hotline",
            "server_restart",
            None,
            None,
        ),
        // the month's last half hour; wait exactly 20 s, handle 60 s
        c(
            "c09",
            t(11, 30, 23, 30),
            Some(1),
            Some(0),
            Some(20),
            80,
            "caller",
            "caller_bye",
            Some("general"),
            Some("A2"),
        ),
        // outside November on either side
        c(
            "c10",
            t(12, 1, 0, 10),
            Some(1),
            Some(5),
            Some(8),
            50,
            "caller",
            "caller_bye",
            Some("general"),
            Some("A1"),
        ),
        c(
            "c11",
            t(10, 31, 23, 50),
            Some(1),
            Some(5),
            Some(8),
            50,
            "caller",
            "caller_bye",
            Some("general"),
            Some("A1"),
        ),
    ]
}

fn complaint(
    id: &str,
    created: i64,
    due: [i64; 3],
    category: &str,
    who: (Option<&str>, &str),
) -> NewFollowUp {
    let mut f = NewFollowUp::new(FollowUpKind::Complaint, who.1, created);
    f.id = id.into();
    f.category = category.into();
    f.customer = who.0.map(str::to_string);
    f.due_forward = Some(due[0]);
    f.due_answer = Some(due[1]);
    f.due_resolve = Some(due[2]);
    f
}

fn callback(id: &str, created: i64, due: i64) -> NewFollowUp {
    let mut f = NewFollowUp::new(FollowUpKind::Callback, "13700137000", created);
    f.id = id.into();
    f.category = "callback".into();
    f.due_answer = Some(due);
    f.promised_to = Some(due);
    f
}

async fn step(store: &Store, id: &str, from: FollowUpStatus, change: Change, at: i64) {
    let moved = store
        .move_followup(&FollowUpMove {
            id: id.into(),
            from,
            change,
            at,
            author: "A1".into(),
            revisit: None,
        })
        .await
        .unwrap();
    assert!(moved, "{id} from {from:?}");
}

/// Generated on 1 December 10:00.
fn now() -> i64 {
    t(12, 1, 10, 0)
}

async fn seed(db: &TestDb) -> Store {
    let store = Store::connect(&db.url).await.expect("connect");
    for c in calls() {
        let mut w = vec![Write::CallArrived {
            id: c.id.into(),
            sip_call_id: format!("{}@test", c.id),
            caller: "13800138000".into(),
            called: "95555".into(),
            source: "127.0.0.1:5060".into(),
            transport: "udp",
            at_ms: c.arrived,
        }];
        if let Some(a) = c.answered {
            w.push(Write::CallAnswered {
                id: c.id.into(),
                at_ms: c.arrived + a * S,
            });
        }
        w.push(Write::CallIvr {
            id: c.id.into(),
            ivr: CallIvr {
                queue: c.queue.map(str::to_string),
                ..CallIvr::default()
            },
        });
        w.push(Write::CallEnded {
            id: c.id.into(),
            at_ms: c.arrived + c.ended * S,
            by: c.by,
            cause: c.cause,
            status: None,
        });
        store.apply(&w).await.unwrap();
        set_agent_columns(
            &db.url,
            c.id,
            c.queued.map(|q| c.arrived + q * S),
            c.connected.map(|q| c.arrived + q * S),
            c.agent,
        )
        .await;
    }
    // surveys: without an agent, the answer is about the call's agent
    for (call, q, score, agent) in [
        ("c01", 1, 5, None),
        ("c01", 2, 4, None),
        ("c02", 1, 2, None),
        ("c05", 1, 4, Some("A1")),
        ("c09", 1, 1, None),
        ("c10", 1, 1, None), // December: not in the report
    ] {
        store
            .record_survey(call, q, score, agent, t(11, 2, 12, 0))
            .await
            .unwrap();
    }
    let mut k1 = complaint(
        "k1",
        t(11, 2, 11, 10),
        [t(11, 2, 23, 10), t(11, 3, 18, 0), t(11, 11, 18, 0)],
        "billing",
        (Some("6225880012345678"), "13800138000"),
    );
    k1.call_id = Some("c02".into());
    let k2 = complaint(
        "k2",
        t(11, 9, 10, 0),
        [t(11, 9, 22, 0), t(11, 10, 18, 0), t(11, 18, 18, 0)],
        "billing",
        (Some("6225880012345678"), "13800138000"),
    );
    let k3 = complaint(
        "k3",
        t(11, 20, 10, 0),
        [t(11, 20, 22, 0), t(11, 23, 18, 0), t(12, 1, 18, 0)],
        "service",
        (None, "13900139000"),
    );
    let k4 = complaint(
        "k4",
        t(11, 27, 10, 0),
        [t(11, 27, 22, 0), t(11, 30, 18, 0), t(12, 8, 18, 0)],
        "service",
        (None, "13900139000"),
    );
    let k5 = complaint(
        "k5",
        t(11, 30, 10, 0),
        [t(11, 30, 22, 0), t(12, 1, 18, 0), t(12, 9, 18, 0)],
        "billing",
        (Some("1111222233334444"), "13600136000"),
    );
    for f in [&k1, &k2, &k3, &k4, &k5] {
        store.create_followup(f).await.unwrap();
    }
    for f in [
        callback("cb1", t(11, 10, 9, 0), t(11, 10, 12, 0)),
        callback("cb2", t(11, 12, 9, 0), t(11, 12, 12, 0)),
        callback("cb3", t(11, 28, 9, 0), t(11, 28, 12, 0)),
        callback("cb4", t(11, 30, 17, 0), t(12, 5, 12, 0)),
    ] {
        store.create_followup(&f).await.unwrap();
    }
    use FollowUpStatus::*;
    let fwd = || Change::Forward {
        department: "billing".into(),
    };
    let res = || Change::Resolve {
        outcome: "refund".into(),
    };
    step(&store, "k1", Open, fwd(), t(11, 2, 15, 0)).await;
    step(&store, "k1", Forwarded, Change::Answer, t(11, 3, 10, 0)).await;
    step(&store, "k1", Answered, res(), t(11, 5, 11, 10)).await;
    step(&store, "k2", Open, fwd(), t(11, 10, 9, 0)).await;
    step(&store, "k2", Forwarded, Change::Answer, t(11, 10, 17, 0)).await;
    step(&store, "k2", Answered, res(), t(11, 20, 10, 0)).await;
    step(&store, "k2", Resolved, Change::Close, t(11, 21, 10, 0)).await;
    step(&store, "k3", Open, fwd(), t(11, 20, 12, 0)).await;
    step(&store, "cb1", Open, Change::Answer, t(11, 10, 11, 0)).await;
    step(&store, "cb2", Open, Change::Answer, t(11, 12, 13, 0)).await;
    // what `hotline report` does first
    let escalated = store
        .escalate_overdue(&Rules::default(), now())
        .await
        .unwrap();
    assert_eq!(escalated, 3, "k3, k4 and k5 are overdue");
    assert_eq!(
        store
            .escalate_overdue(&Rules::default(), now())
            .await
            .unwrap(),
        0,
        "escalating again changes nothing"
    );
    store
}

fn group(key: &str, answers: usize, average: f64) -> ScoreGroup {
    ScoreGroup {
        key: key.into(),
        answers,
        average,
    }
}

async fn monthly_figures(db: &TestDb) {
    let store = seed(db).await;
    let period = Period::month(TZ, "2026-11").unwrap();
    let r = build(
        &store,
        &ReportSettings::default(),
        Kind::Monthly,
        period,
        now(),
    )
    .await
    .unwrap();

    // KPIs
    let k = &r.kpis;
    assert_eq!(k.offered, 9);
    assert_eq!(k.answered_ivr, 8);
    assert_eq!(k.queued, 6);
    assert_eq!(k.answered_agent, 4);
    assert_eq!(k.answer_rate, Some(4.0 / 6.0));
    assert_eq!(k.within_service_level, 3, "10 s, 5 s and exactly 20 s");
    assert_eq!(k.service_level, Some(0.5));
    assert_eq!(k.avg_speed_of_answer, Some(15.0));
    assert_eq!(k.abandoned, 2);
    assert_eq!(k.abandon_rate, Some(2.0 / 6.0));
    assert_eq!(k.short_abandoned, 1);
    assert_eq!(k.avg_handle_time, Some(165.0));
    assert_eq!((k.callbacks_on_time, k.callbacks_due), (1, 3));
    assert_eq!(k.cut_by_restart, 1);
    assert_eq!(r.per_day.len(), 30);
    assert_eq!((r.per_day[1].offered, r.per_day[1].answered_agent), (2, 2));
    assert_eq!(
        (r.per_day[29].offered, r.per_day[29].answered_agent),
        (1, 1)
    );

    // satisfaction
    let s = r.satisfaction.as_ref().unwrap();
    assert_eq!(s.answers, 5);
    assert_eq!(s.distribution, [1, 1, 0, 2, 1]);
    assert_eq!(s.average, Some(3.2));
    assert_eq!(
        s.by_agent,
        vec![group("A1", 3, 13.0 / 3.0), group("A2", 2, 1.5)],
        "the call's agent fills in for answers without one"
    );
    assert_eq!(
        s.by_queue,
        vec![group("billing", 3, 11.0 / 3.0), group("general", 2, 2.5)]
    );
    assert_eq!((s.surveyed_calls, s.agent_calls), (4, 4));
    let unhappy: Vec<(&str, i32, Option<&str>, Option<&str>)> = s
        .dissatisfied
        .iter()
        .map(|d| {
            (
                d.call_id.as_str(),
                d.score,
                d.agent.as_deref(),
                d.followup.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        unhappy,
        vec![
            ("c02", 2, Some("A2"), Some("k1")),
            ("c09", 1, Some("A2"), None)
        ]
    );

    // complaints
    let c = r.complaints.as_ref().unwrap();
    assert_eq!(c.total, 5);
    assert_eq!(c.by_status, [2, 1, 0, 1, 1]);
    assert_eq!(
        c.by_category,
        vec![
            ("billing".to_string(), [1, 0, 0, 1, 1]),
            ("service".to_string(), [1, 1, 0, 0, 0])
        ]
    );
    let within: Vec<(Step, usize, usize)> = c
        .within
        .iter()
        .map(|s| (s.step, s.counted, s.within))
        .collect();
    assert_eq!(
        within,
        vec![
            (Step::Forward, 5, 2),
            (Step::Answer, 4, 2),
            (Step::Resolve, 2, 1)
        ]
    );
    let overdue: Vec<(&str, Vec<Step>, i32, bool)> = c
        .overdue
        .iter()
        .map(|o| (o.id.as_str(), o.steps.clone(), o.urgency, o.escalated))
        .collect();
    assert_eq!(
        overdue,
        vec![
            ("k3", vec![Step::Answer], 1, true),
            ("k4", vec![Step::Forward, Step::Answer], 2, true),
            ("k5", vec![Step::Forward], 1, true),
        ]
    );
    assert_eq!(c.resolved, 2);
    assert_eq!(c.avg_resolve_hours, Some(168.0), "(72 h + 264 h) / 2");
    assert_eq!(
        c.repeat,
        vec![("****5678".to_string(), 2), ("****9000".to_string(), 2)]
    );

    // the three formats carry the same figures
    let md = render(&r, Format::Md);
    for line in [
        "| answer rate | 66.7% |",
        "| service level (20 s) | 50.0% |",
        "| average speed of answer | 15.0 s |",
        "| abandonment rate | 33.3% |",
        "| abandoned within 5 s | 1 |",
        "| average handle time | 165.0 s |",
        "| callbacks made on time | 1 of 3 (33.3%) |",
        "| billing | 1 | 0 | 0 | 1 | 1 | 3 |",
        "| forward | 5 | 2 | 40.0% |",
        "| 168.0 h |",
        "| A1 | 3 | 4.33 |",
        "| ****5678 | 2 |",
    ] {
        assert!(md.contains(line), "{line:?} not in:\n{md}");
    }
    assert!(!md.contains("13900139000"), "numbers are masked");
    let csv = render(&r, Format::Csv);
    assert!(csv.contains("KPIs,Key figures,answer rate,66.7%"), "{csv}");
    let html = render(&r, Format::Html);
    assert!(html.contains("<svg") && html.contains("<td>66.7%</td>"));
    assert!(!html.contains("<script"), "no scripts");
    assert!(html.contains("@media print"));

    // one day: 3 November, two abandoned calls
    let day = build(
        &store,
        &ReportSettings::default(),
        Kind::Daily,
        Period::day(TZ, "2026-11-03").unwrap(),
        now(),
    )
    .await
    .unwrap();
    assert!(day.complaints.is_none() && day.satisfaction.is_none());
    assert_eq!(
        (
            day.kpis.offered,
            day.kpis.queued,
            day.kpis.abandoned,
            day.kpis.short_abandoned
        ),
        (2, 2, 2, 1)
    );
    assert_eq!(day.kpis.answer_rate, Some(0.0));
    assert_eq!(day.kpis.avg_speed_of_answer, None);
    assert!(render(&day, Format::Md).contains("| average speed of answer | n/a |"));
    store.close().await;
}

#[tokio::test]
async fn monthly_report_on_sqlite() {
    let db = TestDb::sqlite();
    monthly_figures(&db).await;
    db.finish().await;
}

#[tokio::test]
async fn monthly_report_on_postgres() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    monthly_figures(&db).await;
    db.finish().await;
}
