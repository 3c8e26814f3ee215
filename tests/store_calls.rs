//! Call records for the command line and the API (`Store::calls`, `Store::call_detail`)
//! against a temporary SQLite file and, when HOTLINE_TEST_POSTGRES_URL is set, against
//! PostgreSQL: every filter, keyset pages that neither skip nor repeat a call (also calls
//! arriving in the same millisecond), and one call with its timeline, legs and survey.

#[macro_use]
mod common;

use common::db::TestDb;
use hotline::store::{
    AgentWrite, CallCursor, CallFilter, CallIvr, Direction, FollowUpKind, NewFollowUp, Store, Write,
};

const T0: i64 = 1_796_000_000_000;
const MIN: i64 = 60_000;

fn arrived(id: &str, caller: &str, at_ms: i64) -> Write {
    Write::CallArrived {
        id: id.into(),
        sip_call_id: format!("sip-{id}"),
        caller: caller.into(),
        called: "95555".into(),
        source: "192.0.2.10:5060".into(),
        transport: "udp",
        at_ms,
    }
}

fn ended(id: &str, at_ms: i64) -> Write {
    Write::CallEnded {
        id: id.into(),
        at_ms,
        by: "caller",
        cause: "caller_bye",
        status: None,
    }
}

fn ivr(id: &str, queue: &str, outcome: Option<&str>) -> Write {
    Write::CallIvr {
        id: id.into(),
        ivr: CallIvr {
            language: Some("zh-CN".into()),
            customer: Some("6225880012345678".into()),
            verified: Some(true),
            outcome: outcome.map(str::to_string),
            queue: Some(queue.into()),
            priority: Some(1),
        },
    }
}

/// Agent `agent` rings on leg `seq` at `at` and answers (when `answer`) a second later.
fn leg(call: &str, seq: i64, agent: &str, at: i64, answer: bool) -> Vec<Write> {
    let mut w = vec![Write::Agent(AgentWrite::LegStarted {
        call: call.into(),
        seq,
        agent: agent.into(),
        queue: Some("cards".into()),
        at_ms: at,
    })];
    if answer {
        w.push(Write::Agent(AgentWrite::LegAnswered {
            call: call.into(),
            seq,
            agent: agent.into(),
            at_ms: at + 1000,
        }));
    }
    w.push(Write::Agent(AgentWrite::LegEnded {
        call: call.into(),
        seq,
        at_ms: at + 30_000,
        cause: if answer { "transferred" } else { "no_answer" },
        rtp: (10, 10),
    }));
    w
}

/// Six calls:
/// - c1 (T0): 13800138000, queue cards, plan outcome `balance`, agent 2048 answered and
///   transferred to 1024 (the call's agent), ended;
/// - c2 (T0+1m): 139-0013-9000, queue loans, agent 1024 disposition `7`, ended;
/// - c3 (T0+2m): outbound to 13800138000 by agent 2048, live;
/// - c4, c5 (both T0+3m): the same millisecond; c6 (T0+4m), queue cards.
async fn calls(store: &Store) {
    let mut w = vec![
        arrived("c1", "13800138000", T0),
        ivr("c1", "cards", Some("balance")),
        Write::Agent(AgentWrite::CallQueued {
            call: "c1".into(),
            at_ms: T0 + 5000,
        }),
    ];
    w.extend(leg("c1", 1, "2048", T0 + 6000, true));
    w.extend(leg("c1", 2, "1024", T0 + 40_000, true));
    w.push(ended("c1", T0 + 90_000));
    w.extend([
        arrived("c2", "13900139000", T0 + MIN),
        ivr("c2", "loans", None),
        Write::Agent(AgentWrite::Disposition {
            call: "c2".into(),
            code: "7".into(),
        }),
        ended("c2", T0 + MIN + 20_000),
        Write::OutboundCall {
            id: "c3".into(),
            sip_call_id: "sip-c3".into(),
            caller: "4008001234".into(),
            called: "13800138000".into(),
            source: "198.51.100.1:5060".into(),
            transport: "udp",
            followup: None,
            agent: Some("2048".into()),
            trunk: Some("carrier".into()),
            at_ms: T0 + 2 * MIN,
        },
        arrived("c4", "13700137000", T0 + 3 * MIN),
        arrived("c5", "13700137000", T0 + 3 * MIN),
        arrived("c6", "13700137000", T0 + 4 * MIN),
        ivr("c6", "cards", None),
    ]);
    store.apply(&w).await.unwrap();
}

async fn ids(store: &Store, f: CallFilter) -> Vec<String> {
    let page = store.calls(&f).await.unwrap();
    assert!(page.next.is_none(), "one page: {:?}", page.next);
    page.calls.into_iter().map(|c| c.id).collect()
}

async fn filters_and_pages(db: &TestDb) {
    let store = Store::connect(&db.url).await.expect("connect");
    calls(&store).await;
    let all = ids(&store, CallFilter::default()).await;
    assert_eq!(
        all,
        ["c6", "c5", "c4", "c3", "c2", "c1"],
        "newest first, then by id"
    );

    let f = |edit: fn(&mut CallFilter)| {
        let mut f = CallFilter::default();
        edit(&mut f);
        f
    };
    let cases: Vec<(CallFilter, Vec<&str>)> = vec![
        (
            f(|f| f.from_ms = Some(T0 + MIN)),
            vec!["c6", "c5", "c4", "c3", "c2"],
        ),
        (f(|f| f.to_ms = Some(T0 + MIN)), vec!["c1"]),
        (
            f(|f| (f.from_ms, f.to_ms) = (Some(T0 + MIN), Some(T0 + 3 * MIN))),
            vec!["c3", "c2"],
        ),
        (f(|f| f.queue = Some("cards".into())), vec!["c6", "c1"]),
        // 2048 answered c1 before transferring it, and made c3
        (f(|f| f.agent = Some("2048".into())), vec!["c3", "c1"]),
        (f(|f| f.agent = Some("1024".into())), vec!["c1"]),
        (f(|f| f.outcome = Some("balance".into())), vec!["c1"]),
        (f(|f| f.outcome = Some("7".into())), vec!["c2"]),
        // caller or called, typed with dashes
        (
            f(|f| f.number = Some("138-0013-8000".into())),
            vec!["c3", "c1"],
        ),
        (f(|f| f.number = Some("139 0013 9000".into())), vec!["c2"]),
        (f(|f| f.direction = Some(Direction::Outbound)), vec!["c3"]),
        (
            f(|f| {
                f.direction = Some(Direction::Inbound);
                f.queue = Some("cards".into());
                f.from_ms = Some(T0 + MIN);
            }),
            vec!["c6"],
        ),
        (f(|f| f.queue = Some("nobody".into())), vec![]),
    ];
    for (filter, want) in cases {
        assert_eq!(ids(&store, filter.clone()).await, want, "{filter:?}");
    }

    // Pages of two, through the tie at T0+3m: each call once, in order.
    let mut filter = CallFilter {
        limit: 2,
        ..CallFilter::default()
    };
    let mut paged = Vec::new();
    let mut pages = 0;
    loop {
        let page = store.calls(&filter).await.unwrap();
        pages += 1;
        assert!(page.calls.len() <= 2);
        paged.extend(page.calls.iter().map(|c| c.id.clone()));
        match page.next {
            Some(next) => filter.after = Some(next.parse::<CallCursor>().unwrap()),
            None => break,
        }
    }
    assert_eq!(paged, all);
    assert_eq!(pages, 3, "the last full page says no more");

    // A call arriving meanwhile does not shift the later pages.
    let first = store
        .calls(&CallFilter {
            limit: 3,
            ..CallFilter::default()
        })
        .await
        .unwrap();
    store
        .apply(&[arrived("c7", "13700137000", T0 + 5 * MIN)])
        .await
        .unwrap();
    let rest = store
        .calls(&CallFilter {
            limit: 3,
            after: Some(first.next.unwrap().parse().unwrap()),
            ..CallFilter::default()
        })
        .await
        .unwrap();
    let rest: Vec<&str> = rest.calls.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(rest, ["c3", "c2", "c1"]);

    // Columns and figures.
    let page = store.calls(&CallFilter::default()).await.unwrap();
    let c1 = page.calls.iter().find(|c| c.id == "c1").unwrap();
    assert_eq!(c1.direction, Direction::Inbound);
    assert_eq!(c1.agent.as_deref(), Some("1024"));
    assert_eq!(c1.connected_at, Some(T0 + 7000), "first connection kept");
    assert_eq!(c1.duration_ms, Some(90_000));
    assert_eq!(c1.talk_ms, Some(83_000));
    assert_eq!(c1.verified, Some(true));
    assert_eq!(c1.priority, Some(1));
    let c3 = page.calls.iter().find(|c| c.id == "c3").unwrap();
    assert_eq!(c3.direction, Direction::Outbound);
    assert_eq!((c3.ended_at, c3.duration_ms), (None, None), "live");
    assert_eq!(c3.trunk.as_deref(), Some("carrier"));
    store.close().await;
}

async fn one_call_in_full(db: &TestDb) {
    let store = Store::connect(&db.url).await.expect("connect");
    calls(&store).await;
    store
        .apply(&[
            Write::CallEvent {
                id: "c1".into(),
                seq: 1,
                at_ms: T0 + 1000,
                kind: "dtmf",
                detail: "2".into(),
            },
            Write::CallEvent {
                id: "c1".into(),
                seq: 2,
                at_ms: T0 + 2000,
                kind: "menu",
                detail: "cards".into(),
            },
            Write::Survey {
                id: "c1".into(),
                question: 1,
                score: 5,
                agent: Some("1024".into()),
                at_ms: T0 + 95_000,
            },
        ])
        .await
        .unwrap();
    let mut fu = NewFollowUp::new(FollowUpKind::Callback, "13800138000", T0 + 90_000);
    fu.call_id = Some("c1".into());
    store.create_followup(&fu).await.unwrap();

    let d = store.call_detail("c1").await.unwrap().expect("c1 exists");
    assert_eq!(d.call.id, "c1");
    let events: Vec<(&str, &str)> = d
        .events
        .iter()
        .map(|e| (e.kind.as_str(), e.detail.as_str()))
        .collect();
    assert_eq!(events, [("dtmf", "2"), ("menu", "cards")]);
    let legs: Vec<(&str, Option<&str>, bool)> = d
        .legs
        .iter()
        .map(|l| {
            (
                l.agent.as_str(),
                l.end_cause.as_deref(),
                l.answered_at.is_some(),
            )
        })
        .collect();
    assert_eq!(
        legs,
        [
            ("2048", Some("transferred"), true),
            ("1024", Some("transferred"), true)
        ]
    );
    assert_eq!(d.survey.len(), 1);
    assert_eq!(
        (d.survey[0].score, d.survey[0].agent.as_deref()),
        (5, Some("1024"))
    );
    assert_eq!(d.followups, [fu.id.clone()]);

    // As the API and --json show it: the call's columns flattened, times in UTC.
    let v = serde_json::to_value(&d).unwrap();
    assert_eq!(v["id"], "c1");
    assert_eq!(v["direction"], "inbound");
    assert_eq!(v["arrived_at"], "2026-11-30T00:53:20.000Z");
    assert_eq!(v["answered_at"], serde_json::Value::Null);
    assert_eq!(v["caller"], "13800138000", "in full until masked");
    assert_eq!(v["events"][0]["at"], "2026-11-30T00:53:21.000Z");
    assert_eq!(v["legs"][1]["agent"], "1024");
    assert_eq!(v["survey"][0]["question"], 1);

    let mut masked = d.clone();
    masked.call.mask_numbers(|n| format!("<{}>", n.len()));
    assert_eq!(masked.call.caller, "<11>");
    assert_eq!(masked.call.customer.as_deref(), Some("<16>"));

    assert!(store.call_detail("nope").await.unwrap().is_none());
    let empty = store.call_detail("c4").await.unwrap().unwrap();
    assert!(empty.events.is_empty() && empty.legs.is_empty() && empty.survey.is_empty());
    store.close().await;
}

backend_tests!(filter_tests, filters_and_pages);
backend_tests!(detail_tests, one_call_in_full);

#[test]
fn a_foreign_cursor_is_refused() {
    assert!("not-hex".parse::<CallCursor>().is_err());
    assert!(hex::encode("T0:c1").parse::<CallCursor>().is_err());
}
