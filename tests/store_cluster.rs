//! A cluster's shared state on PostgreSQL (with HOTLINE_TEST_POSTGRES_URL; skipped
//! otherwise): leases and epochs, the sweep of a dead node's leftovers and a restarted
//! node's own, and claims on agents: one holder at a time, only by a live node, and one
//! queue served in order across nodes.

mod common;

use common::db::TestDb;
use hotline::store::{
    AgentWrite, CallIvr, ClaimState, ClaimsListener, FollowUpKind, LeftWaiting, NewAgent,
    NewFollowUp, Store, Swept, Write,
};
use sqlx::PgPool;

const T0: i64 = 1_796_000_000_000;

/// Two nodes' stores on one database: their rows carry their node id.
struct Cluster {
    db: TestDb,
    a: Store,
    b: Store,
    sql: PgPool,
}

impl Cluster {
    async fn new() -> Option<Cluster> {
        let db = TestDb::postgres().await?;
        let a = Store::connect_node(&db.url, Some("a"))
            .await
            .expect("node a");
        let b = Store::connect_node(&db.url, Some("b"))
            .await
            .expect("node b");
        let sql = PgPool::connect(&db.url).await.expect("connect");
        for id in ["1001", "2002"] {
            let agent = NewAgent {
                id: id.into(),
                name: format!("Agent {id}"),
                extension: id.into(),
                password: "secret-password".into(),
                realm: "hotline".into(),
                queues: vec![("general".into(), 0), ("billing".into(), 0)],
            };
            a.add_agent(&agent, T0).await.expect("agent");
        }
        Some(Cluster { db, a, b, sql })
    }

    async fn finish(self) {
        self.a.close().await;
        self.b.close().await;
        self.sql.close().await;
        self.db.finish().await;
    }

    async fn join_both(&self) {
        self.a.join_cluster("a", "sip:10.0.0.1:5060").await.unwrap();
        self.b.join_cluster("b", "sip:10.0.0.2:5060").await.unwrap();
    }

    /// Lets `node`'s lease run out.
    async fn expire(&self, node: &str) {
        sqlx::query(
            "UPDATE cluster_nodes SET lease_until = now() - interval '1 second' \
             WHERE node_id = $1",
        )
        .bind(node)
        .execute(&self.sql)
        .await
        .unwrap();
    }

    /// Callers waiting in queues, each on its node: (node, call, queue, priority, arrived).
    async fn waiting(&self, callers: &[(&str, &str, &str, i32, i64)]) {
        for (node, id, queue, priority, at) in callers {
            let store = if *node == "a" { &self.a } else { &self.b };
            let rows = caller(id, queue, *priority, *at, true);
            store.apply(&rows).await.unwrap();
        }
    }

    async fn scalar(&self, q: &str) -> i64 {
        sqlx::query_scalar(q).fetch_one(&self.sql).await.unwrap()
    }

    /// (ended_at, ended_by, end_cause) of a call.
    async fn ended(&self, id: &str) -> (Option<i64>, Option<String>, Option<String>) {
        sqlx::query_as("SELECT ended_at, ended_by, end_cause FROM calls WHERE id = $1")
            .bind(id)
            .fetch_one(&self.sql)
            .await
            .unwrap()
    }

    async fn claims(&self) -> Vec<(String, String)> {
        self.a.agent_claims().await.unwrap()
    }
}

/// A caller in `queue` (priority `priority`), arrived at `at`: waiting when `queued`,
/// just in the IVR otherwise.
fn caller(id: &str, queue: &str, priority: i32, at: i64, queued: bool) -> Vec<Write> {
    let mut w = vec![
        Write::CallArrived {
            id: id.into(),
            sip_call_id: format!("sip-{id}"),
            caller: format!("1380013{:04}", at % 10_000),
            called: "95555".into(),
            source: "192.0.2.10:5060".into(),
            transport: "udp",
            at_ms: at,
        },
        Write::CallIvr {
            id: id.into(),
            ivr: CallIvr {
                queue: Some(queue.into()),
                priority: Some(priority),
                ..CallIvr::default()
            },
        },
    ];
    if queued {
        w.push(Write::Agent(AgentWrite::CallQueued {
            call: id.into(),
            at_ms: at + 100,
        }));
    }
    w
}

/// Agent `agent` put through on leg 1 of call `id`, the leg still up.
fn talking(id: &str, agent: &str, at: i64) -> Vec<Write> {
    vec![
        Write::Agent(AgentWrite::LegStarted {
            call: id.into(),
            seq: 1,
            agent: agent.into(),
            queue: Some("general".into()),
            at_ms: at,
        }),
        Write::Agent(AgentWrite::LegAnswered {
            call: id.into(),
            seq: 1,
            agent: agent.into(),
            at_ms: at + 1000,
        }),
    ]
}

fn ended(id: &str, at: i64) -> Write {
    Write::CallEnded {
        id: id.into(),
        at_ms: at,
        by: "caller",
        cause: "caller_bye",
        status: None,
    }
}

/// A callback for a caller left waiting, as the runtime makes them (its id from the call's).
fn callback(w: &LeftWaiting) -> NewFollowUp {
    let mut f = NewFollowUp::new(FollowUpKind::Callback, w.caller.clone(), T0);
    f.id = format!("lost-{}", w.call_id);
    f.category = "callback".into();
    f.call_id = Some(w.call_id.clone());
    f.customer = w.customer.clone();
    f
}

#[tokio::test]
async fn leases_epochs_and_fencing() {
    let Some(c) = Cluster::new().await else {
        return;
    };
    assert_eq!(c.a.join_cluster("a", "sip:10.0.0.1:5060").await.unwrap(), 1);
    assert_eq!(c.a.join_cluster("a", "sip:10.0.0.1:5060").await.unwrap(), 2);
    assert!(c.a.renew_lease("a", 2).await.unwrap());
    assert!(
        !c.a.renew_lease("a", 1).await.unwrap(),
        "an old epoch is fenced"
    );
    // Swept while cut off: the renewal fails and the node must rejoin.
    c.expire("a").await;
    let swept = c.b.sweep_dead_nodes(T0, &callback).await.unwrap();
    assert_eq!(swept.len(), 1);
    assert!(!c.a.renew_lease("a", 2).await.unwrap());
    let epoch = c.a.join_cluster("a", "sip:10.0.0.1:5060").await.unwrap();
    assert!(epoch > 2, "{epoch}");
    assert!(c.a.renew_lease("a", epoch).await.unwrap());
    c.finish().await;
}

#[tokio::test]
async fn a_dead_nodes_leftovers_are_swept_once() {
    let Some(c) = Cluster::new().await else {
        return;
    };
    c.join_both().await;
    let mut a_rows = Vec::new();
    a_rows.extend(caller("a-wait", "general", 0, T0, true));
    a_rows.extend(caller("a-talk", "general", 0, T0 + 1000, true));
    a_rows.extend(talking("a-talk", "1001", T0 + 2000));
    a_rows.extend(caller("a-ivr", "general", 0, T0 + 3000, false));
    c.a.apply(&a_rows).await.unwrap();
    c.b.apply(&caller("b-wait", "billing", 0, T0 + 4000, true))
        .await
        .unwrap();
    assert_eq!(
        c.scalar("SELECT COUNT(*) FROM calls WHERE node_id = 'a'")
            .await,
        3,
        "the rows take the session's node id"
    );
    assert_eq!(
        c.scalar("SELECT COUNT(*) FROM call_legs WHERE node_id = 'a'")
            .await,
        1
    );
    assert!(c.a.claim_agent("1001", "a", "a-talk").await.unwrap());
    c.a.hold_agent("1001", "a", Some("a-talk"), ClaimState::OnCall)
        .await
        .unwrap();
    assert!(c.b.claim_agent("2002", "b", "b-wait").await.unwrap());

    // Nothing to sweep while both leases are live.
    assert_eq!(
        c.b.sweep_dead_nodes(T0 + 9000, &callback).await.unwrap(),
        Vec::<Swept>::new()
    );
    c.expire("a").await;
    let now = T0 + 10_000;
    let swept = c.b.sweep_dead_nodes(now, &callback).await.unwrap();
    assert_eq!(
        swept,
        [Swept {
            node_id: "a".into(),
            callbacks: 1,
            calls: 3,
            legs: 1,
            agents: 1,
        }]
    );
    for id in ["a-wait", "a-talk", "a-ivr"] {
        assert_eq!(
            c.ended(id).await,
            (Some(now), Some("hotline".into()), Some("node_lost".into())),
            "{id}"
        );
    }
    assert_eq!(
        c.ended("b-wait").await,
        (None, None, None),
        "b's call goes on"
    );
    let leg: (Option<i64>, Option<String>) =
        sqlx::query_as("SELECT ended_at, end_cause FROM call_legs WHERE call_id = 'a-talk'")
            .fetch_one(&c.sql)
            .await
            .unwrap();
    assert_eq!(leg, (Some(now), Some("node_lost".into())));
    // Only the caller who was waiting for an agent is called back.
    let followups = c.a.followups().await.unwrap();
    let ids: Vec<(&str, Option<&str>)> = followups
        .iter()
        .map(|f| (f.spec.id.as_str(), f.spec.call_id.as_deref()))
        .collect();
    assert_eq!(ids, [("lost-a-wait", Some("a-wait"))]);
    // a's agent is free, noted in its state history; b's claim stays.
    assert_eq!(c.claims().await, [("2002".to_string(), "b".to_string())]);
    let states = c.a.latest_agent_states().await.unwrap();
    assert!(
        states.contains(&("1001".into(), "available".into(), "node_lost".into(), now)),
        "{states:?}"
    );
    // A second sweep finds nothing more to do; nor does sweeping the node again.
    assert_eq!(
        c.b.sweep_dead_nodes(now + 2000, &callback).await.unwrap(),
        Vec::<Swept>::new()
    );
    c.expire("a").await;
    let again = c.a.sweep_dead_nodes(now + 4000, &callback).await.unwrap();
    assert_eq!(
        again,
        [Swept {
            node_id: "a".into(),
            ..Swept::default()
        }]
    );
    assert_eq!(c.a.followups().await.unwrap().len(), 1);
    assert_eq!(
        c.scalar("SELECT COUNT(*) FROM agent_states WHERE agent_id = '1001'")
            .await,
        1
    );
    c.finish().await;
}

#[tokio::test]
async fn a_restarted_node_closes_only_its_own_leftovers() {
    let Some(c) = Cluster::new().await else {
        return;
    };
    c.join_both().await;
    c.waiting(&[
        ("a", "a-wait", "general", 0, T0),
        ("b", "b-wait", "general", 0, T0 + 1000),
    ])
    .await;
    assert!(c.a.claim_agent("1001", "a", "a-wait").await.unwrap());
    assert!(c.b.claim_agent("2002", "b", "b-wait").await.unwrap());
    let now = T0 + 5000;
    let left = c.a.take_over_leftovers("a", now, &callback).await.unwrap();
    assert_eq!(
        left,
        Swept {
            node_id: "a".into(),
            callbacks: 1,
            calls: 1,
            legs: 0,
            agents: 1,
        }
    );
    assert_eq!(
        c.ended("a-wait").await,
        (
            Some(now),
            Some("hotline".into()),
            Some("server_restart".into())
        )
    );
    assert_eq!(c.ended("b-wait").await, (None, None, None));
    assert_eq!(c.claims().await, [("2002".to_string(), "b".to_string())]);
    let again = c.a.take_over_leftovers("a", now, &callback).await.unwrap();
    assert_eq!((again.calls, again.callbacks, again.agents), (0, 0, 0));
    c.finish().await;
}

#[tokio::test]
async fn one_holder_per_agent_and_only_a_live_node_claims() {
    let Some(c) = Cluster::new().await else {
        return;
    };
    c.join_both().await;
    c.waiting(&[
        ("a", "a-1", "general", 0, T0),
        ("a", "a-2", "general", 0, T0 + 1000),
        ("b", "b-1", "billing", 0, T0 + 2000),
    ])
    .await;
    assert!(c.a.claim_agent("1001", "a", "a-1").await.unwrap());
    assert!(!c.a.claim_agent("1001", "a", "a-2").await.unwrap(), "held");
    assert!(!c.b.claim_agent("1001", "b", "b-1").await.unwrap(), "held");
    // Another node's hold does not take the agent over.
    c.b.hold_agent("1001", "b", Some("b-1"), ClaimState::OnCall)
        .await
        .unwrap();
    let held: (String, String, String) =
        sqlx::query_as("SELECT node_id, call_id, state FROM agent_claims WHERE agent_id = '1001'")
            .fetch_one(&c.sql)
            .await
            .unwrap();
    assert_eq!(held, ("a".into(), "a-1".into(), "ringing".into()));
    // The holder's hold moves it on, keeping the call when none is named.
    c.a.hold_agent("1001", "a", None, ClaimState::WrapUp)
        .await
        .unwrap();
    let held: (String, String, String) =
        sqlx::query_as("SELECT node_id, call_id, state FROM agent_claims WHERE agent_id = '1001'")
            .fetch_one(&c.sql)
            .await
            .unwrap();
    assert_eq!(held, ("a".into(), "a-1".into(), "wrap_up".into()));
    // Releasing names the call: a release for another call, or by another node, is none.
    c.a.release_agent("1001", "a", Some("a-2")).await.unwrap();
    c.b.release_agent("1001", "b", None).await.unwrap();
    assert_eq!(c.claims().await, [("1001".to_string(), "a".to_string())]);
    c.a.release_agent("1001", "a", Some("a-1")).await.unwrap();
    assert!(c.claims().await.is_empty());
    assert!(c.a.claim_agent("1001", "a", "a-2").await.unwrap());
    c.a.release_agent("1001", "a", None).await.unwrap();
    assert!(c.claims().await.is_empty());
    // A node whose lease ran out claims nothing until it rejoins.
    c.expire("b").await;
    assert!(!c.b.claim_agent("2002", "b", "b-1").await.unwrap());
    c.b.join_cluster("b", "sip:10.0.0.2:5060").await.unwrap();
    assert!(c.b.claim_agent("2002", "b", "b-1").await.unwrap());
    c.finish().await;
}

#[tokio::test]
async fn one_queue_is_served_in_order_across_nodes() {
    let Some(c) = Cluster::new().await else {
        return;
    };
    c.join_both().await;
    // b's caller has waited longest in general; a's came later.
    c.waiting(&[
        ("b", "b-early", "general", 0, T0),
        ("a", "a-late", "general", 0, T0 + 1000),
        ("a", "a-billing", "billing", 0, T0 + 2000),
        ("a", "a-vip", "general", 5, T0 + 3000),
    ])
    .await;
    let claim_late = || c.a.claim_agent("1001", "a", "a-late");
    assert!(!claim_late().await.unwrap(), "left to b's earlier caller");
    assert!(c.claims().await.is_empty());
    // A caller of another queue, or of a higher priority, does not wait for b's.
    assert!(c.a.claim_agent("1001", "a", "a-billing").await.unwrap());
    c.a.release_agent("1001", "a", None).await.unwrap();
    assert!(c.a.claim_agent("1001", "a", "a-vip").await.unwrap());
    c.a.release_agent("1001", "a", None).await.unwrap();
    c.a.apply(&[ended("a-vip", T0 + 10_000)]).await.unwrap();
    // b offers its caller to someone: a's caller is next.
    assert!(c.b.claim_agent("2002", "b", "b-early").await.unwrap());
    assert!(claim_late().await.unwrap());
    c.a.release_agent("1001", "a", None).await.unwrap();
    // b's offer ends unanswered: b's caller is first again.
    c.b.release_agent("2002", "b", None).await.unwrap();
    assert!(!claim_late().await.unwrap());
    // b's caller hangs up: a's caller is first.
    c.b.apply(&[ended("b-early", T0 + 20_000)]).await.unwrap();
    assert!(claim_late().await.unwrap());
    c.a.release_agent("1001", "a", None).await.unwrap();
    // A caller waiting on a dead node does not hold a live node's queue up.
    c.b.apply(&caller("b-early2", "general", 0, T0 - 5000, true))
        .await
        .unwrap();
    assert!(!claim_late().await.unwrap());
    c.expire("b").await;
    assert!(claim_late().await.unwrap());
    c.finish().await;
}

/// A caller who left the queue on another node (its wait ran out, or they pressed the
/// leave key) is in the dial plan's overflow (the callback offer, a message) and waits for
/// no agent any more: the queue goes on with the next caller meanwhile.
#[tokio::test]
async fn a_caller_who_left_the_queue_on_another_node_holds_nobody_up_and_is_not_counted() {
    let Some(c) = Cluster::new().await else {
        return;
    };
    c.join_both().await;
    c.waiting(&[
        ("b", "b-left", "general", 0, T0),
        ("a", "a-late", "general", 0, T0 + 1000),
    ])
    .await;
    assert!(!c.a.claim_agent("1001", "a", "a-late").await.unwrap());
    // Each node sees the other's caller waiting (for the places it announces).
    let queues =
        |w: Vec<(String, i32, i64)>| -> Vec<String> { w.into_iter().map(|r| r.0).collect() };
    assert_eq!(
        queues(c.a.waiting_elsewhere("a").await.unwrap()),
        ["general"]
    );
    assert_eq!(
        queues(c.b.waiting_elsewhere("b").await.unwrap()),
        ["general"]
    );
    // The switchboard notes the overflow on the call's timeline; the caller is still on.
    c.b.apply(&[Write::CallEvent {
        id: "b-left".into(),
        seq: 1,
        at_ms: T0 + 300_000,
        kind: "queue",
        detail: "overflow".into(),
    }])
    .await
    .unwrap();
    assert_eq!(c.ended("b-left").await.0, None);
    assert!(c.a.waiting_elsewhere("a").await.unwrap().is_empty());
    assert!(c.a.claim_agent("1001", "a", "a-late").await.unwrap());
    assert!(
        c.b.waiting_elsewhere("b").await.unwrap().is_empty(),
        "offered"
    );
    c.finish().await;
}

#[tokio::test]
async fn claims_taken_and_let_go_are_announced_with_the_node_that_made_them() {
    let Some(c) = Cluster::new().await else {
        return;
    };
    c.join_both().await;
    c.b.apply(&caller("b-1", "general", 0, T0, true))
        .await
        .unwrap();
    let mut heard = c.a.listen_claims().await.unwrap();
    assert!(c.b.claim_agent("1001", "b", "b-1").await.unwrap());
    assert_eq!(announced(&mut heard).await, "b");
    // A claim that inserts nothing announces nothing; a hold neither.
    assert!(!c.a.claim_agent("1001", "a", "b-1").await.unwrap());
    c.b.hold_agent("1001", "b", None, ClaimState::OnCall)
        .await
        .unwrap();
    c.b.release_agent("1001", "b", None).await.unwrap();
    assert_eq!(
        announced(&mut heard).await,
        "b",
        "the release, nothing before it"
    );
    c.finish().await;
}

/// The next announcement, within 5 s.
async fn announced(claims: &mut ClaimsListener) -> String {
    let next = tokio::time::timeout(std::time::Duration::from_secs(5), claims.next());
    next.await.expect("a claim announced").unwrap()
}
