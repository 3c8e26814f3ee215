//! A cluster on this machine: Kamailio as the edge on 127.0.0.10, two hotline nodes on
//! 127.0.0.11 and 127.0.0.12, one throw-away PostgreSQL schema, baresip agents that
//! register once at the edge, SIPp callers. All started here and removed after.
//!
//! Needs kamailio (+ kamailio-postgres-modules), baresip, sipp and
//! HOTLINE_TEST_POSTGRES_URL (scripts/test.sh provides them all).

mod common;

use common::baresip::wait_until;
use common::cluster::{legs, sipp_args, Cluster};
use std::time::Duration;

#[test]
fn agents_registered_at_the_edge_serve_callers_on_every_node_one_call_at_a_time() {
    let ids = ["1024", "2048"];
    let Some(c) = Cluster::start(&ids) else {
        return;
    };
    let phones = c.phones(&ids);
    for (id, phone) in ids.iter().zip(&phones) {
        c.login(id, phone);
    }
    // Both nodes follow the logins and see the phones at the edge.
    std::thread::sleep(Duration::from_secs(3));

    let calls = 200;
    let stats = c.callers(&c.edge.addr(), calls, 20, 3000);
    let done = wait_until(Duration::from_secs(30), || {
        c.scalar("SELECT COUNT(*) FROM calls WHERE ended_at IS NULL") == 0
            && c.scalar("SELECT COUNT(*) FROM call_legs WHERE ended_at IS NULL") == 0
    });
    if !done {
        let keep = std::env::temp_dir().join("hotline-cluster-failed");
        let _ = std::fs::create_dir_all(&keep);
        for (i, n) in c.nodes.iter().enumerate() {
            let _ = std::fs::write(keep.join(format!("node{i}.log")), n.log());
        }
        let _ = std::fs::write(keep.join("edge.log"), c.edge.log());
        for (i, p) in phones.iter().enumerate() {
            let _ = std::fs::write(keep.join(format!("phone{i}.log")), p.log());
        }
    }
    assert!(
        done,
        "calls or legs left open ({} legs):\n{}",
        c.scalar("SELECT COUNT(*) FROM call_legs WHERE ended_at IS NULL"),
        c.logs()
    );

    let total = c.scalar("SELECT COUNT(*) FROM calls");
    assert_eq!(total, i64::from(calls), "sipp: {stats:?}\n{}", c.logs());
    let per_node: Vec<i64> = ["node-a", "node-b"]
        .iter()
        .map(|n| c.scalar(&format!("SELECT COUNT(*) FROM calls WHERE node_id = '{n}'")))
        .collect();
    assert!(
        per_node.iter().all(|&n| n > 0),
        "the edge should spread callers over both nodes: {per_node:?}"
    );

    // No agent was ever offered two calls at once, whichever nodes the calls were on.
    let legs = legs(&c);
    for (agent, list) in &legs {
        for pair in list.windows(2) {
            assert!(
                pair[0].2 <= pair[1].1,
                "agent {agent} rung for two calls at once: {:?} then {:?}",
                pair[0],
                pair[1]
            );
        }
    }
    // Agents are shared: callers on one node were served by an agent whose previous call
    // was on the other (an agent kept by one node would never switch).
    let switches: usize = legs
        .values()
        .map(|list| {
            let answered: Vec<&str> = list.iter().filter(|l| l.3).map(|l| l.0.as_str()).collect();
            answered.windows(2).filter(|w| w[0] != w[1]).count()
        })
        .sum();
    assert!(
        switches > 0,
        "no agent ever served a caller on the other node after a call: {legs:?}"
    );
    // Every caller was put through or left the queue (hung up while waiting): none lost.
    let served = c.scalar("SELECT COUNT(*) FROM calls WHERE connected_at IS NOT NULL");
    let unserved_with_agent =
        c.scalar("SELECT COUNT(*) FROM calls WHERE connected_at IS NULL AND agent IS NOT NULL");
    assert!(served > 0, "nobody was served:\n{}", c.logs());
    assert_eq!(unserved_with_agent, 0);
    // Everyone let go: no agent stays claimed once the calls and wrap-ups are over.
    let free = wait_until(Duration::from_secs(10), || {
        c.scalar("SELECT COUNT(*) FROM agent_claims") == 0
    });
    assert!(free, "agents still claimed:\n{}", c.logs());
    println!(
        "cluster: {total} calls ({per_node:?} per node), {served} served, {switches} times by an \
         agent whose previous call was on the other node; sipp successful {} failed {}",
        stats.get("SuccessfulCall(C)").map_or("?", String::as_str),
        stats.get("FailedCall(C)").map_or("?", String::as_str),
    );
}

#[test]
fn a_node_killed_under_load_leaves_no_caller_and_no_agent_behind() {
    let ids = ["1024"];
    let Some(mut c) = Cluster::start(&ids) else {
        return;
    };
    let phones = c.phones(&ids);
    c.login("1024", &phones[0]);
    std::thread::sleep(Duration::from_secs(3));

    // Three callers straight to node A: the first is put through to the agent, the
    // other two wait in the queue.
    let node_a = c.nodes[0].addr();
    let dir = common::TempDir::new("cluster-sipp-a");
    let mut on_a = std::process::Command::new(common::tool("sipp").unwrap())
        .current_dir(&dir.0)
        .args(sipp_args(&node_a, 3, 2, 60_000))
        .args(["-nostdin", "-timeout", "90s"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let waiting_on_a = "SELECT COUNT(*) FROM calls WHERE node_id = 'node-a' AND ended_at IS NULL \
                        AND queued_at IS NOT NULL AND connected_at IS NULL";
    let settled = wait_until(Duration::from_secs(20), || {
        c.scalar("SELECT COUNT(*) FROM agent_claims WHERE node_id = 'node-a' AND state = 'on_call'")
            == 1
            && c.scalar(waiting_on_a) == 2
    });
    assert!(
        settled,
        "node A never had one caller through and two waiting:\n{}",
        c.logs()
    );

    c.nodes[0].kill();

    // New callers through the edge right after the kill: every one is answered (the edge
    // gives up on node A after 1.5 s and tries node B).
    let stats = c.callers(&c.edge.addr(), 20, 5, 2000);
    let ok = stats.get("SuccessfulCall(C)").cloned().unwrap_or_default();
    assert_eq!(ok, "20", "callers after the kill: {stats:?}\n{}", c.logs());

    // Node B's sweeper: node A's calls closed `node_lost`, its waiting callers to be
    // called back, its agent free.
    let swept = wait_until(Duration::from_secs(15), || {
        c.scalar("SELECT COUNT(*) FROM calls WHERE node_id = 'node-a' AND ended_at IS NULL") == 0
    });
    assert!(swept, "node A's calls were never closed:\n{}", c.logs());
    let lost =
        c.scalar("SELECT COUNT(*) FROM calls WHERE node_id = 'node-a' AND end_cause = 'node_lost'");
    assert!(
        lost >= 3,
        "only {lost} calls closed node_lost:\n{}",
        c.logs()
    );
    let callbacks = c.scalar(
        "SELECT COUNT(*) FROM followups f JOIN calls k ON k.id = f.call_id \
         WHERE f.kind = 'callback' AND f.status = 'open' AND f.id LIKE 'lost-%' \
         AND k.node_id = 'node-a' AND f.number = '13800138000' AND f.due_answer IS NOT NULL",
    );
    assert_eq!(
        callbacks,
        2,
        "the two waiting callers should be called back:\n{}",
        c.logs()
    );
    let legs_open =
        c.scalar("SELECT COUNT(*) FROM call_legs WHERE node_id = 'node-a' AND ended_at IS NULL");
    assert_eq!(legs_open, 0);
    assert_eq!(
        c.scalar("SELECT COUNT(*) FROM agent_claims WHERE node_id = 'node-a'"),
        0
    );
    assert_eq!(c.state("1024"), "available", "{}", c.logs());
    let swept_node = c.scalar(
        "SELECT COUNT(*) FROM cluster_nodes WHERE node_id = 'node-a' AND lease_until IS NULL",
    );
    assert_eq!(swept_node, 1);
    let _ = on_a.kill();
    let _ = on_a.wait();
    println!(
        "kill: 20/20 callers after the kill answered (mean INVITE to 200, h:m:s:µs: {}); node A: {lost} calls closed node_lost, {callbacks} callbacks",
        stats.get("ResponseTime1(C)").map_or("?", String::as_str)
    );
}
