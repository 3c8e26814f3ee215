//! Reports from a seeded month of calls, follow-ups (with a contact step, revisits, a reopened
//! complaint and a flagged caller), surveys, agent states and legs give exactly the expected
//! figures in every section, on SQLite and (with HOTLINE_TEST_POSTGRES_URL) PostgreSQL; the
//! labels follow the language asked for, and the CSV holds plain numbers.

mod common;

use chrono::TimeZone;
use common::db::TestDb;
use hotline::cli::report::build;
use hotline::followup::{escalate_overdue, Change, ReportSettings, RevisitResult, Rules, Step};
use hotline::ivr::Language;
use hotline::report::render::hms;
use hotline::report::render::{render, Format, Style};
use hotline::report::{AgentFigures, Kind, Period, RevisitFigures, ScoreGroup};
use hotline::store::{
    AgentWrite, CallIvr, FollowUpKind, FollowUpMove, FollowUpStatus, NewAgent, NewFollowUp,
    RevisitVerdict, Store, Write,
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

/// Flags `number` for review (the table another command fills).
async fn flag(url: &str, number: &str) {
    let q = "INSERT INTO caller_flags (number, flag, note, created_at, created_by) \
             VALUES ($1, 'malicious', 'abusive calls', 0, 'supervisor')";
    if url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        sqlx::query(q).bind(number).execute(&pool).await.unwrap();
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        sqlx::query(q).bind(number).execute(&pool).await.unwrap();
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
            Some("1024"),
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
            Some("1025"),
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
            Some("1024"),
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
            Some("1025"),
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
            Some("1024"),
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
            Some("1024"),
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
    f.due_contact = Some(created + 12 * 3600 * S);
    f.due_answer = Some(due[1]);
    f.due_resolve = Some(due[2]);
    f
}

/// The revisit of complaint `parent`, created at `created`.
fn revisit(id: &str, parent: &str, created: i64) -> NewFollowUp {
    let mut f = NewFollowUp::new(FollowUpKind::Revisit, "13800138000", created);
    f.id = id.into();
    f.parent_id = Some(parent.into());
    f.due_answer = Some(created + 72 * 3600 * S);
    f
}

/// Resolves `id` at `at`, creating its revisit `r` in the same move.
async fn resolve(store: &Store, id: &str, from: FollowUpStatus, r: &str, at: i64) {
    let moved = store
        .move_followup(&FollowUpMove {
            id: id.into(),
            from,
            change: Change::Resolve {
                outcome: "refund".into(),
            },
            at,
            author: "1024".into(),
            revisit: Some(revisit(r, id, at)),
        })
        .await
        .unwrap();
    assert!(moved, "{id} from {from:?}");
}

/// Records what revisit `r` of complaint `k` found.
async fn verdict(store: &Store, r: &str, k: &str, result: RevisitResult, at: i64) {
    let reopen = (result == RevisitResult::Unsatisfied).then_some((FollowUpStatus::Forwarded, 1));
    let done = store
        .record_revisit(&RevisitVerdict {
            revisit: r.into(),
            revisit_from: FollowUpStatus::Open,
            complaint: k.into(),
            complaint_from: FollowUpStatus::Resolved,
            result,
            reopen,
            at,
            author: "1024".into(),
            note: None,
        })
        .await
        .unwrap();
    assert!(done, "{r}");
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
            author: "1024".into(),
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
        ("c05", 1, 4, Some("1024")),
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
    step(&store, "k1", Open, fwd(), t(11, 2, 15, 0)).await;
    step(&store, "k1", Forwarded, Change::Answer, t(11, 3, 10, 0)).await;
    // k1: resolved, the customer is not satisfied, reopened and resolved again
    resolve(&store, "k1", Answered, "r1", t(11, 5, 11, 10)).await;
    verdict(
        &store,
        "r1",
        "k1",
        RevisitResult::Unsatisfied,
        t(11, 8, 10, 0),
    )
    .await;
    resolve(&store, "k1", Forwarded, "r3", t(11, 10, 10, 0)).await;
    step(&store, "k2", Open, fwd(), t(11, 10, 9, 0)).await;
    step(&store, "k2", Forwarded, Change::Answer, t(11, 10, 17, 0)).await;
    // k2: resolved, the customer satisfied, closed
    resolve(&store, "k2", Answered, "r2", t(11, 20, 10, 0)).await;
    verdict(
        &store,
        "r2",
        "k2",
        RevisitResult::Satisfied,
        t(11, 21, 9, 0),
    )
    .await;
    let close = Change::Close { forced: None };
    step(&store, "k2", Resolved, close, t(11, 21, 10, 0)).await;
    step(&store, "k3", Open, fwd(), t(11, 20, 12, 0)).await;
    step(&store, "k3", Forwarded, Change::Contact, t(11, 20, 15, 0)).await;
    // k3 and k4 come from a number a supervisor flagged
    flag(&db.url, "13900139000").await;
    step(&store, "cb1", Open, Change::Answer, t(11, 10, 11, 0)).await;
    step(&store, "cb2", Open, Change::Answer, t(11, 12, 13, 0)).await;
    // what `hotline report` does first
    let escalated = escalate_overdue(&store, &Rules::default(), now())
        .await
        .unwrap();
    assert_eq!(escalated, 3, "k3, k4 and k5 are overdue");
    assert_eq!(
        escalate_overdue(&store, &Rules::default(), now())
            .await
            .unwrap(),
        0,
        "escalating again changes nothing"
    );
    seed_agents(&store).await;
    store
}

/// A leg: call, seq, agent, started, answered, ended with cause (seconds after arrival).
type Leg = (
    &'static str,
    i64,
    &'static str,
    i64,
    Option<i64>,
    Option<(i64, &'static str)>,
);

/// Time a call started plus `secs` seconds.
fn at(call: &str, secs: i64) -> i64 {
    let c = calls().into_iter().find(|c| c.id == call).unwrap();
    c.arrived + secs * S
}

/// Agents 1024 (in the agents table as "Li Lei"), 1025 (not in it: a removed agent) and 1026 (logged
/// out all month); their state changes, legs and outcome codes.
async fn seed_agents(store: &Store) {
    for (id, name) in [("1024", "Li Lei"), ("1026", "Han Meimei")] {
        store
            .add_agent(
                &NewAgent {
                    id: id.into(),
                    name: name.into(),
                    extension: id.into(),
                    password: "a long enough secret".into(),
                    realm: "hotline".into(),
                    queues: vec![("general".into(), 0)],
                },
                t(10, 1, 9, 0),
            )
            .await
            .unwrap();
    }
    let st = |agent: &str, at_ms: i64, seq: i64, state: &'static str| {
        Write::Agent(AgentWrite::State {
            agent: agent.into(),
            at_ms,
            seq,
            state,
            reason: String::new(),
        })
    };
    let mut w = vec![
        // 1026: logged out before the month and all through it: not in the report
        st("1026", t(10, 20, 9, 0), 0, "logged_out"),
        // 1024: available since before the month (in force when it starts) ...
        st("1024", t(10, 31, 9, 0), 0, "logged_out"),
        st("1024", t(10, 31, 22, 0), 0, "available"),
        // ... c01 (rung after 1025 rejected it): 5 s ringing, 300 s talk, 10 s wrap-up
        st("1024", at("c01", 35), 0, "ringing"),
        st("1024", at("c01", 40), 0, "on_call"),
        st("1024", at("c01", 340), 0, "wrap_up"),
        st("1024", at("c01", 350), 0, "available"),
        // c02 rings 15 s, unanswered
        st("1024", at("c02", 20), 0, "ringing"),
        st("1024", at("c02", 35), 0, "available"),
        // an hour's lunch break
        st("1024", t(11, 2, 12, 0), 0, "paused"),
        st("1024", t(11, 2, 13, 0), 0, "available"),
        st("1024", t(11, 2, 18, 0), 0, "logged_out"),
        // 4 November: c05, 5 s ringing, 100 s talk, 10 s wrap-up
        st("1024", t(11, 4, 9, 0), 0, "available"),
        st("1024", at("c05", 5), 0, "ringing"),
        st("1024", at("c05", 10), 0, "on_call"),
        st("1024", at("c05", 110), 0, "wrap_up"),
        st("1024", at("c05", 120), 0, "available"),
        st("1024", t(11, 4, 18, 0), 0, "logged_out"),
        // 1025: first seen on 2 November
        st("1025", t(11, 2, 9, 0), 0, "available"),
        st("1025", at("c01", 30), 0, "ringing"),
        st("1025", at("c01", 35), 0, "available"),
        st("1025", at("c02", 35), 0, "ringing"),
        st("1025", at("c02", 45), 0, "on_call"),
        st("1025", at("c02", 245), 0, "wrap_up"),
        st("1025", at("c02", 255), 0, "available"),
        // two changes in one millisecond: seq orders them (paused for no time at all)
        st("1025", t(11, 2, 17, 0), 1, "logged_out"),
        st("1025", t(11, 2, 17, 0), 0, "paused"),
        st("1025", t(11, 3, 9, 0), 0, "available"),
        st("1025", at("c03", 10), 0, "ringing"),
        st("1025", at("c03", 13), 0, "available"),
        st("1025", t(11, 3, 12, 0), 0, "logged_out"),
        // the month's last hour: c09, then still available when the data ends
        st("1025", t(11, 30, 23, 0), 0, "available"),
        st("1025", at("c09", 0), 0, "ringing"),
        st("1025", at("c09", 20), 0, "on_call"),
        st("1025", at("c09", 80), 0, "wrap_up"),
        st("1025", at("c09", 90), 0, "available"),
        // December: after the month
        st("1024", t(12, 1, 0, 5), 0, "available"),
    ];
    let legs: [Leg; 8] = [
        ("c01", 1, "1025", 30, None, Some((35, "rejected"))),
        ("c01", 2, "1024", 35, Some(40), Some((340, "caller_bye"))),
        ("c02", 1, "1024", 20, None, Some((35, "no_answer"))),
        // the leg's end was never written: talk runs to the call's end
        ("c02", 2, "1025", 35, Some(45), None),
        // the caller hung up while it rang: not a missed ring
        ("c03", 1, "1025", 10, None, Some((13, "caller_gone"))),
        ("c05", 1, "1024", 5, Some(10), Some((110, "agent_bye"))),
        ("c09", 1, "1025", 0, Some(20), Some((80, "caller_bye"))),
        // outside November
        ("c10", 1, "1024", 5, Some(8), Some((50, "caller_bye"))),
    ];
    for (call, seq, agent, started, answered, ended) in legs {
        w.push(Write::Agent(AgentWrite::LegStarted {
            call: call.into(),
            seq,
            agent: agent.into(),
            queue: Some("general".into()),
            at_ms: at(call, started),
        }));
        if let Some(a) = answered {
            w.push(Write::Agent(AgentWrite::LegAnswered {
                call: call.into(),
                seq,
                agent: agent.into(),
                at_ms: at(call, a),
            }));
        }
        if let Some((e, cause)) = ended {
            w.push(Write::Agent(AgentWrite::LegEnded {
                call: call.into(),
                seq,
                at_ms: at(call, e),
                cause,
                rtp: (0, 0),
            }));
        }
    }
    // c09 has no outcome code
    for (call, code) in [
        ("c01", "resolved"),
        ("c02", "resolved"),
        ("c05", "callback"),
        ("c10", "resolved"),
    ] {
        w.push(Write::Agent(AgentWrite::Disposition {
            call: call.into(),
            code: code.into(),
        }));
    }
    store.apply(&w).await.unwrap();
}

/// Hours, minutes, seconds in ms.
fn h(h: i64, m: i64, s: i64) -> i64 {
    ((h * 60 + m) * 60 + s) * S
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
        vec![group("1024", 3, 13.0 / 3.0), group("1025", 2, 1.5)],
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
            ("c02", 2, Some("1025"), Some("k1")),
            ("c09", 1, Some("1025"), None)
        ]
    );

    // complaints
    let c = r.complaints.as_ref().unwrap();
    assert_eq!(c.total, 5, "revisits are no complaints");
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
            (Step::Contact, 5, 1),
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
            (
                "k4",
                vec![Step::Forward, Step::Contact, Step::Answer],
                3,
                true
            ),
            ("k5", vec![Step::Forward, Step::Contact], 2, true),
        ]
    );
    assert_eq!(c.resolved, 2);
    let hours = c.avg_resolve_hours.unwrap();
    assert!(
        (hours - (190.0 + 5.0 / 6.0 + 264.0) / 2.0).abs() < 1e-9,
        "k1 counts from its second resolution: {hours}"
    );
    assert_eq!(
        c.repeat,
        vec![
            ("13900139000".to_string(), 2),
            ("6225880012345678".to_string(), 2)
        ]
    );
    let flagged: Vec<(&str, &str)> = c
        .flagged
        .iter()
        .map(|f| (f.id.as_str(), f.number.as_str()))
        .collect();
    assert_eq!(
        flagged,
        vec![("k3", "13900139000"), ("k4", "13900139000")],
        "listed for review, and still counted above"
    );
    assert_eq!(
        c.revisits,
        RevisitFigures {
            created: 3,
            made: 2,
            satisfied: 1,
            unsatisfied: 1,
            satisfaction_rate: Some(0.5),
            reopened: 1,
        }
    );
    let k1 = store.followup("k1").await.unwrap().unwrap();
    assert_eq!(
        (k1.urgency, k1.revisit_result),
        (1, None),
        "raised once by the reopening; the new resolution awaits its own revisit"
    );

    // agents
    assert_eq!(
        r.agents,
        vec![
            AgentFigures {
                id: "1024".into(),
                name: Some("Li Lei".into()),
                answered: 2,
                missed: 1,
                avg_talk_secs: Some(200.0),
                avg_handle_secs: Some(210.0),
                // available, ringing, on_call, wrap_up, paused, logged_out
                state_ms: [
                    h(49, 52, 35),
                    h(0, 0, 25),
                    h(0, 6, 40),
                    h(0, 0, 20),
                    h(1, 0, 0),
                    h(669, 0, 0),
                ],
                logged_in_ms: h(51, 0, 0),
                occupancy: Some(420.0 / 183_600.0),
                outcomes: vec![("callback".into(), 1), ("resolved".into(), 1)],
            },
            AgentFigures {
                id: "1025".into(),
                name: None,
                answered: 2,
                missed: 1,
                avg_talk_secs: Some(130.0),
                avg_handle_secs: Some(140.0),
                state_ms: [
                    h(11, 54, 42),
                    h(0, 0, 38),
                    h(0, 4, 20),
                    h(0, 0, 20),
                    0,
                    h(675, 0, 0),
                ],
                logged_in_ms: h(12, 0, 0),
                occupancy: Some(280.0 / 43_200.0),
                outcomes: vec![("(none)".into(), 1), ("resolved".into(), 1)],
            },
        ]
    );
    let a1 = &r.agents[0];
    assert_eq!(
        a1.state_ms.iter().sum::<i64>(),
        h(30 * 24, 0, 0),
        "1024's state before the month covers all of it"
    );
    assert_eq!(hms(a1.state_ms[0]), "49:52:35");

    // the three formats carry the same figures
    let mut en = Style::new(Language::En);
    en.outcomes
        .insert("callback".into(), "Callback requested".into());
    let md = render(&r, Format::Md, &en);
    for line in [
        "| answer rate | 66.7% |",
        "| service level (20 s) | 50.0% |",
        "| average speed of answer | 15.0 s |",
        "| abandonment rate | 33.3% |",
        "| abandoned within 5 s | 1 |",
        "| average handle time | 165.0 s |",
        "| callbacks made on time | 1 |",
        "| callbacks due or made | 3 |",
        "| share of callbacks made on time | 33.3% |",
        "| billing | 1 | 0 | 0 | 1 | 1 | 3 |",
        "| forward | 5 | 2 | 40.0% |",
        "| contact | 5 | 1 | 20.0% |",
        "| k4 | service | open | forward+contact+answer | 3 | yes |  | 2026-11-27 10:00 |",
        "| 227.4 h |",
        "| 1024 | 3 | 4.33 |",
        "| 622****5678 | 2 |",
        "### Complaints from flagged numbers, for supervisor review",
        "| k3 | 139****9000 | service | forwarded | 2026-11-20 10:00 |",
        "| revisits made | 2 |",
        "| satisfaction rate of revisits | 50.0% |",
        "| complaints reopened | 1 |",
        "| agent | name | calls answered | rings missed | average talk time | average handle time | occupancy |",
        "| 1024 | Li Lei | 2 | 1 | 200.0 s | 210.0 s | 0.2% |",
        "| 1025 |  | 2 | 1 | 130.0 s | 140.0 s | 0.6% |",
        "| agent | available | ringing | on_call | wrap_up | paused | logged_out | logged in |",
        "| 1024 | 49:52:35 | 0:00:25 | 0:06:40 | 0:00:20 | 1:00:00 | 669:00:00 | 51:00:00 |",
        "| 1025 | 11:54:42 | 0:00:38 | 0:04:20 | 0:00:20 | 0:00:00 | 675:00:00 | 12:00:00 |",
        "| 1024 | callback | Callback requested | 1 |",
        "| 1025 | (none) |  | 1 |",
    ] {
        assert!(md.contains(line), "{line:?} not in:\n{md}");
    }
    for number in ["13900139000", "6225880012345678"] {
        assert!(!md.contains(number), "numbers are masked");
    }
    let csv = render(&r, Format::Csv, &en);
    assert!(
        csv.as_bytes().starts_with(b"\xEF\xBB\xBF"),
        "a byte-order mark"
    );
    for line in [
        "section,table,figure,value\nKPIs,Key figures,calls offered,9\n",
        "KPIs,Key figures,answer rate (%),66.7\n",
        "KPIs,Key figures,average handle time (s),165.0\n",
        "Complaint summary,Resolution,2,227.4\n",
        "section,table,agent,name,calls answered,rings missed,average talk time (s),\
         average handle time (s),occupancy (%)\n",
        "Agents,Calls by agent,1024,Li Lei,2,1,200.0,210.0,0.2\n",
        "Agents,Time in each state,1025,42882,38,260,20,0,2430000,43200\n",
        "Agents,Outcome codes by agent,1024,resolved,,1\n",
    ] {
        assert!(csv.contains(line), "{line:?} not in:\n{csv}");
    }
    plain_numbers(&csv);
    let html = render(&r, Format::Html, &en);
    assert!(html.contains("<html lang=\"en\">"), "{html}");
    assert!(html.contains("<svg") && html.contains("<td>66.7%</td>"));
    assert!(html.contains("<h2>Agents</h2>") && html.contains("<td>Li Lei</td>"));
    assert!(
        html.contains("aria-label=\"Logged-in time in each state by agent\"")
            && html.contains("<title>1024 paused 1:00:00</title>")
            && html.contains("<title>1025 on_call 0:04:20</title>")
            && !html.contains("<title>1024 logged_out"),
        "a stacked bar per agent: {html}"
    );
    assert!(!html.contains("<script"), "no scripts");
    assert!(html.contains("@media print"));

    // the same report in Chinese
    let zh = Style::new(Language::ZhCn);
    let md = render(&r, Format::Md, &zh);
    for line in [
        "# 月度报表 2026-11",
        "## 投诉汇总",
        "| 接通率 | 66.7% |",
        "| 平均处理时长 | 165.0 秒 |",
        "| 联系客户 | 5 | 1 | 20.0% |",
        "| 回访满意率 | 50.0% |",
        "| k3 | 139****9000 | service | 已转办 | 2026-11-20 10:00 |",
    ] {
        assert!(md.contains(line), "{line:?} not in:\n{md}");
    }
    assert!(!md.contains("answer rate"), "{md}");
    let csv = render(&r, Format::Csv, &zh);
    assert!(csv.contains("关键指标,关键数据,接通率 (%),66.7\n"), "{csv}");
    plain_numbers(&csv);
    let html = render(&r, Format::Html, &zh);
    assert!(html.contains("<html lang=\"zh-CN\">") && html.contains("Noto Sans CJK SC"));
    assert!(html.contains("<h2>坐席</h2>"), "{html}");

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
    let md = render(&day, Format::Md, &en);
    assert!(md.contains("| average speed of answer | n/a |"));
    assert!(md.starts_with("# Daily report 2026-11-03"), "{md}");
    // 1024 was logged out all day; 1025 worked the morning and was rung once by a caller who
    // hung up
    assert_eq!(day.agents.len(), 1, "{:?}", day.agents);
    let a = &day.agents[0];
    assert_eq!(
        (a.id.as_str(), a.answered, a.missed, a.avg_talk_secs),
        ("1025", 0, 0, None)
    );
    assert_eq!(a.state_ms, [h(2, 59, 57), h(0, 0, 3), 0, 0, 0, h(21, 0, 0)]);
    assert_eq!(day.agents[0].occupancy, Some(0.0));
    assert!(md.contains("| 1025 |  | 0 | 0 | n/a | n/a | 0.0% |"));

    // the month's last day, made at 23:40 that day: 1025's last state runs to now
    let last = build(
        &store,
        &ReportSettings::default(),
        Kind::Daily,
        Period::day(TZ, "2026-11-30").unwrap(),
        t(11, 30, 23, 40),
    )
    .await
    .unwrap();
    assert_eq!(
        last.agents,
        vec![AgentFigures {
            id: "1025".into(),
            name: None,
            answered: 1,
            missed: 0,
            avg_talk_secs: Some(60.0),
            avg_handle_secs: Some(70.0),
            state_ms: [
                h(0, 38, 30),
                h(0, 0, 20),
                h(0, 1, 0),
                h(0, 0, 10),
                0,
                h(23, 0, 0)
            ],
            logged_in_ms: h(0, 40, 0),
            occupancy: Some(70.0 / 2400.0),
            outcomes: vec![("(none)".into(), 1)],
        }]
    );
    store.close().await;
}

/// The cells of one CSV line (quotes as RFC 4180 has them).
fn csv_cells(line: &str) -> Vec<String> {
    let (mut cells, mut cell, mut quoted) = (Vec::new(), String::new(), false);
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cell.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => cells.push(std::mem::take(&mut cell)),
            _ => cell.push(c),
        }
    }
    cells.push(cell);
    cells
}

/// No CSV cell carries a unit, and every cell under a header with a unit is a number (or
/// empty, for a figure that has no value).
fn plain_numbers(csv: &str) {
    let mut units: Vec<bool> = Vec::new();
    for line in csv.trim_start_matches('\u{feff}').lines() {
        let cells = csv_cells(line);
        if line.is_empty() {
            continue;
        }
        if cells[0] == "section" {
            units = cells.iter().map(|c| c.ends_with(')')).collect();
            continue;
        }
        for (i, c) in cells.iter().enumerate().skip(2) {
            let numeric = c.starts_with(|d: char| d.is_ascii_digit());
            let with_unit = numeric
                && (c.ends_with('%')
                    || c.ends_with(" s")
                    || c.ends_with(" h")
                    || c.ends_with('秒')
                    || c.matches(':').count() == 2);
            assert!(!with_unit, "{c:?} in {line:?}");
            let unit =
                units.get(i).copied().unwrap_or(false) || (i == 3 && cells[2].ends_with(')'));
            if unit && !c.is_empty() {
                assert!(c.parse::<f64>().is_ok(), "{c:?} in {line:?}");
            }
        }
    }
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
