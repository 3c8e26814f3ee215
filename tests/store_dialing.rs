//! Outbound calls and the callback dialer's rows, against a temporary SQLite file and, when
//! HOTLINE_TEST_POSTGRES_URL is set, against PostgreSQL (each test in its own schema).

#[macro_use]
mod common;

use common::db::{outbound_call, TestDb};
use hotline::report::{compute, Kind, Period, Rows};
use hotline::store::{
    AgentWrite, CallFilter, DialRequest, DialResult, Direction, FollowUpKind, FollowUpStatus,
    NewCustomer, NewFollowUp, RevisitResult, Store, Write,
};

const T0: i64 = 1_796_000_000_000;
const MIN: i64 = 60_000;
const DAY: i64 = 86_400_000;

fn arrived(id: &str, at_ms: i64) -> Write {
    Write::CallArrived {
        id: id.into(),
        sip_call_id: format!("sip-{id}"),
        caller: "13800138000".into(),
        called: "95555".into(),
        source: "192.0.2.10:5060".into(),
        transport: "udp",
        at_ms,
    }
}

fn attempt(followup: &str, call: &str, result: DialResult, at_ms: i64, last: bool) -> Write {
    Write::DialAttempt {
        followup: followup.into(),
        call: call.into(),
        result,
        agent: Some("1024".into()),
        at_ms,
        unreachable: last,
    }
}

/// Applies `w` twice, as the writer does when it retries a batch after an ambiguous failure.
async fn twice(store: &Store, w: &Write) {
    for _ in 0..2 {
        store.apply(std::slice::from_ref(w)).await.unwrap();
    }
}

/// A follow-up of `kind` created at T0 from call `call` (if any).
async fn followup(store: &Store, kind: FollowUpKind, call: Option<&str>) -> NewFollowUp {
    let mut f = NewFollowUp::new(kind, "13900139000", T0);
    f.category = "billing".into();
    f.call_id = call.map(Into::into);
    store.create_followup(&f).await.unwrap();
    f
}

/// The KPIs and per-agent figures of the local day of T0 as `hotline report daily` computes
/// them, debug-printed so two states of the database can be compared.
async fn kpis(store: &Store) -> String {
    let tz = chrono_tz::Asia::Shanghai;
    let day = chrono::TimeZone::timestamp_millis_opt(&tz, T0)
        .unwrap()
        .format("%Y-%m-%d")
        .to_string();
    let period = Period::day(tz, &day).unwrap();
    let (from, to) = (period.from_ms(), period.to_ms());
    let rows = Rows {
        calls: store.report_calls(from, to).await.unwrap(),
        surveys: store.report_surveys(from, to).await.unwrap(),
        followups: store.followups_created(from, to).await.unwrap(),
        agent_states: store.report_agent_states(from, to).await.unwrap(),
        legs: store.report_legs(from, to).await.unwrap(),
        agent_names: store.agent_names().await.unwrap(),
        ..Default::default()
    };
    let r = compute(Kind::Daily, period, &rows, &Default::default(), T0 + DAY);
    format!("{:?}\n{:?}\n{:?}", r.kpis, r.per_day, r.agents)
}

async fn outbound_calls_are_kept_apart_from_the_kpis(db: &TestDb) {
    let store = Store::connect(&db.url).await.expect("connect");
    // an inbound call queued, answered by an agent and ended
    store
        .apply(&[
            arrived("in-1", T0),
            Write::CallAnswered {
                id: "in-1".into(),
                at_ms: T0 + 1_000,
            },
            Write::Agent(AgentWrite::CallQueued {
                call: "in-1".into(),
                at_ms: T0 + 5_000,
            }),
            Write::Agent(AgentWrite::LegStarted {
                call: "in-1".into(),
                seq: 1,
                agent: "1024".into(),
                queue: Some("general".into()),
                at_ms: T0 + 6_000,
            }),
            Write::Agent(AgentWrite::LegAnswered {
                call: "in-1".into(),
                seq: 1,
                agent: "1024".into(),
                at_ms: T0 + 9_000,
            }),
            Write::CallEnded {
                id: "in-1".into(),
                at_ms: T0 + 120_000,
                by: "caller",
                cause: "caller_bye",
                status: None,
            },
        ])
        .await
        .unwrap();
    let before = kpis(&store).await;
    assert!(before.contains("offered: 1"), "{before}");

    let f = followup(&store, FollowUpKind::Callback, Some("in-1")).await;
    // an outbound callback: agent first, then the customer; answered, talked, ended
    let out = outbound_call("out-1", Some(&f.id), Some("1024"), T0 + 10 * MIN);
    store
        .apply(&[
            out.clone(),
            Write::Agent(AgentWrite::LegStarted {
                call: "out-1".into(),
                seq: 1,
                agent: "1024".into(),
                queue: None,
                at_ms: T0 + 10 * MIN,
            }),
            Write::Agent(AgentWrite::LegAnswered {
                call: "out-1".into(),
                seq: 1,
                agent: "1024".into(),
                at_ms: T0 + 10 * MIN + 2_000,
            }),
            Write::CallAnswered {
                id: "out-1".into(),
                at_ms: T0 + 10 * MIN + 9_000,
            },
            Write::CallEvent {
                id: "out-1".into(),
                seq: 1,
                at_ms: T0 + 10 * MIN + 9_000,
                kind: "customer_answered",
                detail: String::new(),
            },
            Write::CallEnded {
                id: "out-1".into(),
                at_ms: T0 + 14 * MIN,
                by: "hotline",
                cause: "agent_bye",
                status: None,
            },
        ])
        .await
        .unwrap();
    // a retried arrival changes nothing
    store.apply(&[out]).await.unwrap();

    let row = store.call("out-1").await.unwrap().expect("outbound row");
    assert_eq!(row.caller, "95555");
    assert_eq!(row.called, "13800138000");
    assert_eq!(row.answered_at, Some(T0 + 10 * MIN + 9_000));
    assert_eq!(row.ended_at, Some(T0 + 14 * MIN));
    assert_eq!(store.events("out-1").await.unwrap().len(), 1);
    let (queued, agent, connected, _) = store.call_agent_columns("out-1").await.unwrap().unwrap();
    assert_eq!((queued, agent.as_deref()), (None, Some("1024")));
    assert_eq!(connected, Some(T0 + 10 * MIN + 2_000));

    // Placed through the backup trunk after a failover: the route is the last one.
    let routed = |trunk: &str, sip: Option<&str>| Write::CallRouted {
        id: "out-1".into(),
        sip_call_id: sip.map(str::to_string),
        trunk: trunk.into(),
        source: "192.0.2.7:5060".into(),
        transport: "tcp",
    };
    twice(&store, &routed("carrier-b", Some("abc@hotline"))).await;
    assert_eq!(
        store.call("out-1").await.unwrap().unwrap().sip_call_id,
        "abc@hotline"
    );
    // A dial-out keeps the agent's own Call-ID.
    twice(&store, &routed("carrier-a", None)).await;
    let row = store.call("out-1").await.unwrap().unwrap();
    assert_eq!(
        (
            row.sip_call_id.as_str(),
            row.source.as_str(),
            row.transport.as_str()
        ),
        ("abc@hotline", "192.0.2.7:5060", "tcp")
    );

    let filter = CallFilter {
        limit: 10,
        ..CallFilter::default()
    };
    let listed = store.calls(&filter).await.unwrap().calls;
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].id, "out-1");
    assert_eq!(listed[0].direction, Direction::Outbound);
    assert_eq!(listed[0].followup_id.as_deref(), Some(f.id.as_str()));
    assert_eq!(listed[0].trunk.as_deref(), Some("carrier-a"));
    assert_eq!(listed[1].direction, Direction::Inbound);
    assert_eq!(listed[1].followup_id, None);

    assert_eq!(
        kpis(&store).await,
        before,
        "the outbound call changes no figure"
    );
    assert_eq!(store.report_calls(0, i64::MAX).await.unwrap().len(), 1);
    assert_eq!(store.report_legs(0, i64::MAX).await.unwrap().len(), 1);
    store.close().await;
}

async fn attempts_are_counted_once_and_skips_are_free(db: &TestDb) {
    let store = Store::connect(&db.url).await.expect("connect");
    let f = followup(&store, FollowUpKind::Callback, None).await;

    let first = attempt(&f.id, "out-1", DialResult::NoAnswer, T0 + MIN, false);
    twice(&store, &first).await;
    let s = store.dial_states().await.unwrap()[&f.id];
    assert_eq!((s.attempts, s.last_attempt_at), (1, Some(T0 + MIN)));
    assert_eq!(store.followup_notes(&f.id).await.unwrap().len(), 1);

    // a skipped preview is kept and delays the next try, but costs no attempt
    store
        .apply(&[attempt(
            &f.id,
            "pre-2",
            DialResult::Skipped,
            T0 + 2 * MIN,
            false,
        )])
        .await
        .unwrap();
    store
        .apply(&[attempt(
            &f.id,
            "out-3",
            DialResult::Busy,
            T0 + 3 * MIN,
            false,
        )])
        .await
        .unwrap();
    let s = store.dial_states().await.unwrap()[&f.id];
    assert_eq!(
        (s.attempts, s.last_attempt_at, s.unreachable_at),
        (2, Some(T0 + 3 * MIN), None)
    );
    let task = store.dial_tasks().await.unwrap();
    assert_eq!(task.len(), 1);
    assert_eq!(task[0].attempts, 2);
    assert_eq!(task[0].last_attempt_at, Some(T0 + 3 * MIN));

    // the last attempt gives up: unreachable once, for a supervisor
    let last = attempt(&f.id, "out-4", DialResult::Failed, T0 + 4 * MIN, true);
    twice(&store, &last).await;
    // a late write of another attempt does not move the first give-up
    store
        .apply(&[attempt(
            &f.id,
            "out-5",
            DialResult::NoAnswer,
            T0 + 5 * MIN,
            true,
        )])
        .await
        .unwrap();
    let s = store.dial_states().await.unwrap()[&f.id];
    assert_eq!((s.attempts, s.unreachable_at), (4, Some(T0 + 4 * MIN)));

    let rows = store.dial_attempts(&f.id).await.unwrap();
    let seen: Vec<(&str, DialResult)> = rows
        .iter()
        .map(|a| (a.call_id.as_str(), a.result))
        .collect();
    assert_eq!(
        seen,
        [
            ("out-1", DialResult::NoAnswer),
            ("pre-2", DialResult::Skipped),
            ("out-3", DialResult::Busy),
            ("out-4", DialResult::Failed),
            ("out-5", DialResult::NoAnswer),
        ]
    );
    assert_eq!(rows[0].agent.as_deref(), Some("1024"));
    assert_eq!(rows[0].at, T0 + MIN);

    let notes: Vec<String> = store
        .followup_notes(&f.id)
        .await
        .unwrap()
        .into_iter()
        .map(|n| {
            assert_eq!(n.author, "hotline");
            n.text
        })
        .collect();
    assert_eq!(notes.len(), 6, "{notes:?}");
    assert!(
        notes[0].starts_with("call attempt 1: no answer (call out-1"),
        "{notes:?}"
    );
    assert!(
        notes[1].contains("skipped") && notes[1].contains("not counted"),
        "{notes:?}"
    );
    assert!(notes[2].starts_with("call attempt 2: busy"), "{notes:?}");
    assert!(notes[3].starts_with("call attempt 3: failed"), "{notes:?}");
    assert_eq!(notes[4], "unreachable after 3 attempts: for a supervisor");
    assert!(
        notes[5].starts_with("call attempt 4: no answer"),
        "{notes:?}"
    );
    assert!(
        store.dial_tasks().await.unwrap().is_empty(),
        "unreachable: no longer dialled"
    );

    // an attempt for a follow-up that does not exist is ignored, not an error
    store
        .apply(&[attempt("fu-none", "out-9", DialResult::Busy, T0, false)])
        .await
        .unwrap();
    assert!(store.dial_attempts("fu-none").await.unwrap().is_empty());
    store.close().await;
}

async fn dial_tasks_are_the_callbacks_and_revisits_to_call(db: &TestDb) {
    let store = Store::connect(&db.url).await.expect("connect");
    store
        .add_customer(&NewCustomer {
            account: "6225880012345678".into(),
            name: "Wang Fang".into(),
            pin: "123456".into(),
            id_digits: "1234".into(),
            phones: vec!["13900139000".into()],
            vip: false,
        })
        .await
        .unwrap();
    store.apply(&[arrived("in-1", T0 - DAY)]).await.unwrap();
    assert!(store
        .set_call_ivr(
            "in-1",
            Some("en"),
            Some("6225880012345678"),
            Some(true),
            None,
            Some("cards"),
            None
        )
        .await
        .unwrap());

    let mut cb = NewFollowUp::new(FollowUpKind::Callback, "13900139000", T0);
    cb.call_id = Some("in-1".into());
    cb.customer = Some("6225880012345678".into());
    cb.urgency = 3;
    cb.promised_from = Some(T0 + MIN);
    cb.promised_to = Some(T0 + 60 * MIN);
    cb.owner = Some("1024".into());
    store.create_followup(&cb).await.unwrap();
    let complaint = followup(&store, FollowUpKind::Complaint, Some("in-1")).await;
    let mut revisit = NewFollowUp::new(FollowUpKind::Revisit, "13900139000", T0 + 1);
    revisit.parent_id = Some(complaint.id.clone());
    revisit.call_id = Some("in-1".into());
    store.create_followup(&revisit).await.unwrap();
    let bare = followup(&store, FollowUpKind::Callback, None).await;
    let given_up = followup(&store, FollowUpKind::Callback, None).await;
    store
        .apply(&[attempt(&given_up.id, "o-1", DialResult::Busy, T0, true)])
        .await
        .unwrap();
    let answered = followup(&store, FollowUpKind::Callback, None).await;
    store
        .apply(&[Write::FollowUpReached {
            followup: answered.id.clone(),
            call: "o-2".into(),
            agent: None,
            at_ms: T0,
        }])
        .await
        .unwrap();

    let mut tasks = store.dial_tasks().await.unwrap();
    tasks.sort_by(|a, b| a.id.cmp(&b.id));
    let mut want = vec![cb.id.clone(), revisit.id.clone(), bare.id.clone()];
    want.sort();
    assert_eq!(
        tasks.iter().map(|t| t.id.clone()).collect::<Vec<_>>(),
        want,
        "no complaint, no unreachable, no answered follow-up"
    );
    let t = tasks.iter().find(|t| t.id == cb.id).unwrap();
    assert_eq!(t.kind, FollowUpKind::Callback);
    assert_eq!(t.status, FollowUpStatus::Open);
    assert_eq!((t.urgency, t.created_at), (3, T0));
    assert_eq!(
        (t.promised_from, t.promised_to),
        (cb.promised_from, cb.promised_to)
    );
    assert_eq!((t.attempts, t.last_attempt_at), (0, None));
    assert_eq!(t.number, "13900139000");
    assert_eq!(t.customer.as_deref(), Some("6225880012345678"));
    assert_eq!(t.customer_name.as_deref(), Some("Wang Fang"));
    assert_eq!(t.queue.as_deref(), Some("cards"));
    assert_eq!(t.language.as_deref(), Some("en"));
    assert_eq!(t.owner.as_deref(), Some("1024"));
    let r = tasks.iter().find(|t| t.id == revisit.id).unwrap();
    assert_eq!(r.kind, FollowUpKind::Revisit);
    assert_eq!(r.parent_id.as_deref(), Some(complaint.id.as_str()));
    assert_eq!(r.queue.as_deref(), Some("cards"));
    assert_eq!(r.customer_name, None);
    let b = tasks.iter().find(|t| t.id == bare.id).unwrap();
    assert_eq!((b.queue.as_deref(), b.language.as_deref()), (None, None));
    assert_eq!(b.category, "billing");
    store.close().await;
}

async fn reached_and_resolved_move_the_follow_up_once(db: &TestDb) {
    let store = Store::connect(&db.url).await.expect("connect");
    let f = followup(&store, FollowUpKind::Callback, None).await;
    let reached = Write::FollowUpReached {
        followup: f.id.clone(),
        call: "out-1".into(),
        agent: Some("1024".into()),
        at_ms: T0 + MIN,
    };
    twice(&store, &reached).await;
    let row = store.followup(&f.id).await.unwrap().unwrap();
    assert_eq!(row.status, FollowUpStatus::Answered);
    assert_eq!(row.contacted_at, Some(T0 + MIN));
    assert_eq!(row.answered_at, Some(T0 + MIN));
    let notes = store.followup_notes(&f.id).await.unwrap();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0].text, "reached by call out-1 (agent 1024)");
    assert_eq!(notes[0].author, "1024");

    let resolved = Write::FollowUpResolved {
        followup: f.id.clone(),
        call: "out-1".into(),
        outcome: "explained".into(),
        agent: Some("1024".into()),
        at_ms: T0 + 3 * MIN,
        revisit: None,
    };
    twice(&store, &resolved).await;
    let row = store.followup(&f.id).await.unwrap().unwrap();
    assert_eq!(row.status, FollowUpStatus::Resolved);
    assert_eq!(row.outcome.as_deref(), Some("explained"));
    assert_eq!(row.resolved_at, Some(T0 + 3 * MIN));
    assert_eq!(row.answered_at, Some(T0 + MIN), "the first answer stays");
    let notes = store.followup_notes(&f.id).await.unwrap();
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert!(notes[1].text.starts_with("resolved: explained (call out-1"));

    // reached after being resolved: nothing changes
    store
        .apply(&[Write::FollowUpReached {
            followup: f.id.clone(),
            call: "out-2".into(),
            agent: None,
            at_ms: T0 + 5 * MIN,
        }])
        .await
        .unwrap();
    assert_eq!(
        store.followup(&f.id).await.unwrap().unwrap().status,
        FollowUpStatus::Resolved
    );
    assert_eq!(store.followup_notes(&f.id).await.unwrap().len(), 2);

    // resolved straight from open: the earlier steps are completed too
    let g = followup(&store, FollowUpKind::Callback, None).await;
    store
        .apply(&[Write::FollowUpResolved {
            followup: g.id.clone(),
            call: "out-3".into(),
            outcome: "done".into(),
            agent: None,
            at_ms: T0 + 7 * MIN,
            revisit: None,
        }])
        .await
        .unwrap();
    let row = store.followup(&g.id).await.unwrap().unwrap();
    assert_eq!(row.status, FollowUpStatus::Resolved);
    assert_eq!(row.answered_at, Some(T0 + 7 * MIN));

    // a complaint is resolved only with its revisit, in the same transaction
    let c = followup(&store, FollowUpKind::Complaint, None).await;
    let no_revisit = Write::FollowUpResolved {
        followup: c.id.clone(),
        call: "out-4".into(),
        outcome: "refund".into(),
        agent: Some("1024".into()),
        at_ms: T0 + 8 * MIN,
        revisit: None,
    };
    store.apply(&[no_revisit]).await.unwrap();
    assert_eq!(
        store.followup(&c.id).await.unwrap().unwrap().status,
        FollowUpStatus::Open
    );
    let mut r = NewFollowUp::new(FollowUpKind::Revisit, c.number.clone(), T0 + 8 * MIN);
    r.parent_id = Some(c.id.clone());
    let with_revisit = Write::FollowUpResolved {
        followup: c.id.clone(),
        call: "out-4".into(),
        outcome: "refund".into(),
        agent: Some("1024".into()),
        at_ms: T0 + 8 * MIN,
        revisit: Some(Box::new(r.clone())),
    };
    twice(&store, &with_revisit).await;
    assert_eq!(
        store.followup(&c.id).await.unwrap().unwrap().status,
        FollowUpStatus::Resolved
    );
    let revisits: Vec<_> = store
        .followups()
        .await
        .unwrap()
        .into_iter()
        .filter(|x| x.parent_id.as_deref() == Some(c.id.as_str()))
        .collect();
    assert_eq!(revisits.len(), 1);
    assert_eq!(revisits[0].id, r.id);

    // unknown follow-ups are ignored
    store
        .apply(&[Write::FollowUpReached {
            followup: "fu-none".into(),
            call: "x".into(),
            agent: None,
            at_ms: T0,
        }])
        .await
        .unwrap();
    store.close().await;
}

/// A resolved complaint (with `department` if given) and its open revisit.
async fn complaint_and_revisit(
    store: &Store,
    department: Option<&str>,
) -> (NewFollowUp, NewFollowUp) {
    let mut c = NewFollowUp::new(FollowUpKind::Complaint, "13900139000", T0);
    c.urgency = 2;
    c.owner = Some("1024".into());
    store.create_followup(&c).await.unwrap();
    let mut r = NewFollowUp::new(FollowUpKind::Revisit, "13900139000", T0 + MIN);
    r.parent_id = Some(c.id.clone());
    let mut moves = vec![];
    if let Some(d) = department {
        moves.push((
            FollowUpStatus::Open,
            hotline::store::FollowUpChange::Forward {
                department: d.into(),
            },
        ));
    }
    let from = if department.is_some() {
        FollowUpStatus::Forwarded
    } else {
        FollowUpStatus::Open
    };
    moves.push((
        from,
        hotline::store::FollowUpChange::Resolve {
            outcome: "refund".into(),
        },
    ));
    for (i, (from, change)) in moves.into_iter().enumerate() {
        let revisit =
            matches!(change, hotline::store::FollowUpChange::Resolve { .. }).then(|| r.clone());
        assert!(store
            .move_followup(&hotline::store::FollowUpMove {
                id: c.id.clone(),
                from,
                change,
                at: T0 + MIN + i as i64,
                author: "lead".into(),
                revisit,
            })
            .await
            .unwrap());
    }
    (c, r)
}

async fn a_revisit_call_records_the_verdict(db: &TestDb) {
    let store = Store::connect(&db.url).await.expect("connect");

    // satisfied: the loop is closed, the complaint and its revisit alike
    let (c, r) = complaint_and_revisit(&store, None).await;
    let yes = Write::RevisitAnswered {
        revisit: r.id.clone(),
        call: "out-1".into(),
        satisfied: true,
        urgency_rise: 1,
        at_ms: T0 + 2 * DAY,
    };
    twice(&store, &yes).await;
    let rv = store.followup(&r.id).await.unwrap().unwrap();
    assert_eq!(rv.status, FollowUpStatus::Closed);
    assert_eq!(rv.revisit_result, Some(RevisitResult::Satisfied));
    assert_eq!(rv.answered_at, Some(T0 + 2 * DAY));
    let cp = store.followup(&c.id).await.unwrap().unwrap();
    assert_eq!(cp.status, FollowUpStatus::Closed);
    assert_eq!(cp.revisit_result, Some(RevisitResult::Satisfied));
    assert_eq!(cp.urgency, 2);
    let notes: Vec<String> = store
        .followup_notes(&r.id)
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.text)
        .collect();
    assert_eq!(
        notes,
        [
            "revisit: customer satisfied",
            "verdict keyed on call out-1",
            "closed: customer satisfied on the revisit call"
        ]
    );
    let cnotes = store.followup_notes(&c.id).await.unwrap();
    let last: Vec<&str> = cnotes
        .iter()
        .rev()
        .take(2)
        .map(|n| n.text.as_str())
        .collect();
    assert_eq!(
        last,
        [
            "closed: customer satisfied on the revisit call",
            "revisit: customer satisfied"
        ]
    );
    assert_eq!(cnotes.len(), 3, "resolved, the verdict, closed: once each");

    // unsatisfied: reopened as the command line does, urgency raised once
    let (c, r) = complaint_and_revisit(&store, None).await;
    let no = Write::RevisitAnswered {
        revisit: r.id.clone(),
        call: "out-2".into(),
        satisfied: false,
        urgency_rise: 3,
        at_ms: T0 + 2 * DAY,
    };
    twice(&store, &no).await;
    let rv = store.followup(&r.id).await.unwrap().unwrap();
    assert_eq!(rv.revisit_result, Some(RevisitResult::Unsatisfied));
    let cp = store.followup(&c.id).await.unwrap().unwrap();
    assert_eq!(cp.status, FollowUpStatus::Open);
    assert_eq!(cp.revisit_result, Some(RevisitResult::Unsatisfied));
    assert_eq!(cp.resolved_at, None);
    assert_eq!(cp.urgency, 5);
    assert_eq!(
        cp.owner.as_deref(),
        Some("1024"),
        "back on its owner's work list"
    );
    assert_eq!(
        store
            .followup_notes(&c.id)
            .await
            .unwrap()
            .last()
            .unwrap()
            .text,
        "reopened: customer not satisfied"
    );

    // a complaint that had a department goes back to it
    let (c, r) = complaint_and_revisit(&store, Some("billing")).await;
    store
        .apply(&[Write::RevisitAnswered {
            revisit: r.id.clone(),
            call: "out-3".into(),
            satisfied: false,
            urgency_rise: 1,
            at_ms: T0 + 2 * DAY,
        }])
        .await
        .unwrap();
    let cp = store.followup(&c.id).await.unwrap().unwrap();
    assert_eq!(cp.status, FollowUpStatus::Forwarded);
    assert_eq!(cp.department.as_deref(), Some("billing"));

    // not a revisit, or an unknown id: nothing happens
    let before = store.followup(&c.id).await.unwrap().unwrap();
    for id in [c.id.clone(), "fu-none".to_string()] {
        store
            .apply(&[Write::RevisitAnswered {
                revisit: id,
                call: "out-4".into(),
                satisfied: true,
                urgency_rise: 1,
                at_ms: T0 + 3 * DAY,
            }])
            .await
            .unwrap();
    }
    assert_eq!(store.followup(&c.id).await.unwrap().unwrap(), before);
    store.close().await;
}

async fn dial_requests_are_taken_once(db: &TestDb) {
    let store = Store::connect(&db.url).await.expect("connect");
    let f = followup(&store, FollowUpKind::Callback, None).await;
    assert!(store.take_dial_requests(T0).await.unwrap().is_empty());
    let a = DialRequest {
        followup: f.id.clone(),
        agent: Some("1024".into()),
        requested_by: "lead".into(),
        at: T0,
    };
    let b = DialRequest {
        agent: None,
        at: T0 + 1,
        ..a.clone()
    };
    store.request_dial(&a).await.unwrap();
    store.request_dial(&b).await.unwrap();
    assert_eq!(store.take_dial_requests(T0 + 2).await.unwrap(), [a, b]);
    assert!(store.take_dial_requests(T0 + 3).await.unwrap().is_empty());
    store.close().await;
}

#[test]
fn dial_results_round_trip() {
    for r in [
        DialResult::Answered,
        DialResult::NoAnswer,
        DialResult::Busy,
        DialResult::Failed,
        DialResult::Skipped,
    ] {
        assert_eq!(DialResult::parse(r.as_str()), Some(r));
        assert_eq!(r.counts(), r != DialResult::Skipped);
    }
    assert_eq!(DialResult::NoAnswer.as_str(), "no_answer");
    assert_eq!(DialResult::parse("nope"), None);
}

backend_tests!(outbound_kpis, outbound_calls_are_kept_apart_from_the_kpis);
backend_tests!(attempts, attempts_are_counted_once_and_skips_are_free);
backend_tests!(tasks, dial_tasks_are_the_callbacks_and_revisits_to_call);
backend_tests!(
    reached_resolved,
    reached_and_resolved_move_the_follow_up_once
);
backend_tests!(revisit_answered, a_revisit_call_records_the_verdict);
backend_tests!(requests, dial_requests_are_taken_once);
