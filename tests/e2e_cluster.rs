//! A cluster on this machine: Kamailio as the edge on 127.0.0.10, two hotline nodes on
//! 127.0.0.11 and 127.0.0.12, one throw-away PostgreSQL schema, baresip agents that
//! register once at the edge, SIPp callers. All started here and removed after.
//!
//! Needs kamailio (+ kamailio-postgres-modules), baresip, sipp and
//! HOTLINE_TEST_POSTGRES_URL (scripts/test.sh provides them all).

mod common;

use common::baresip::wait_until;
use common::cluster::{assert_one_call_at_a_time, legs, sipp_args, Cluster};
use std::time::{Duration, Instant};

#[test]
fn agents_registered_at_the_edge_serve_callers_on_every_node_one_call_at_a_time() {
    let ids = ["1024", "2048"];
    let Some((c, phones)) = Cluster::with_agents(&ids, None) else {
        return;
    };

    let calls = 200;
    let stats = c.callers(&c.edge.addr(), calls, 20, 3000);
    let done = wait_until(Duration::from_secs(30), || c.all_closed());
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
    assert_one_call_at_a_time(&legs);
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
    let Some((mut c, _phones)) = Cluster::with_agents(&ids, None) else {
        return;
    };

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
    // Freed by the sweep (node B may offer the agent a caller at once), and not left
    // ringing or on a call once B's callers are gone.
    let freed = c.scalar(
        "SELECT COUNT(*) FROM agent_states WHERE agent_id = '1024' AND state = 'available' \
         AND reason = 'node_lost'",
    );
    assert_eq!(freed, 1, "the sweep should free the agent:\n{}", c.logs());
    let idle = wait_until(Duration::from_secs(15), || c.state("1024") == "available");
    assert!(idle, "{}", c.logs());
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

/// A caller on node A, put through to one agent, is transferred by that agent (REFER
/// through the edge) to a colleague whose last call was on node B: node A claims the
/// colleague and rings them through the edge; nobody is held when it is over.
#[test]
fn an_agent_transfers_a_caller_to_a_colleague_last_busy_on_the_other_node() {
    let ids = ["1024", "2048"];
    let Some((c, phones)) = Cluster::with_agents(&ids, None) else {
        return;
    };
    let all_closed = || c.all_closed();
    // One call on node B: its agent is the colleague.
    let on_b = c.callers(&c.nodes[1].addr(), 1, 1, 3000);
    assert!(
        wait_until(Duration::from_secs(20), all_closed),
        "{on_b:?}\n{}",
        c.logs()
    );
    let legs_b = legs(&c);
    let colleague = ids
        .into_iter()
        .find(|id| legs_b.get(*id).is_some_and(|l| l.iter().any(|l| l.3)))
        .unwrap_or_else(|| panic!("nobody answered on node B: {on_b:?}\n{}", c.logs()));
    let first = ids.into_iter().find(|id| *id != colleague).unwrap();
    let colleague_free = wait_until(Duration::from_secs(10), || {
        c.state(colleague) == "available" && c.scalar("SELECT COUNT(*) FROM agent_claims") == 0
    });
    assert!(colleague_free, "{}", c.logs());

    // A caller on node A, put through to the other agent (idle longest).
    let _on_a = c.callers_in_background(&c.nodes[0].addr(), 1, 1, 15_000);
    let put_through = wait_until(Duration::from_secs(20), || {
        c.talking_on("node-a").as_deref() == Some(first)
    });
    assert!(put_through, "{first} should talk on node A:\n{}", c.logs());
    std::thread::sleep(Duration::from_secs(1));
    let phone = &phones[ids.iter().position(|id| *id == first).unwrap()];
    phone.command("transfer", &format!("sip:{colleague}@{}", c.edge.addr()));
    let taken = wait_until(Duration::from_secs(20), || {
        c.talking_on("node-a").as_deref() == Some(colleague)
    });
    assert!(
        taken,
        "the colleague should take the call on node A:\n{}\n{}",
        c.logs(),
        phone.log()
    );
    assert!(
        wait_until(Duration::from_secs(30), all_closed),
        "{}",
        c.logs()
    );

    let call: String =
        c.rt.block_on(
            sqlx::query_scalar("SELECT id FROM calls WHERE node_id = 'node-a'").fetch_one(&c.pool),
        )
        .unwrap();
    let summary: Vec<(String, Option<String>, bool)> =
        c.rt.block_on(
            sqlx::query_as(
                "SELECT agent_id, end_cause, answered_at IS NOT NULL FROM call_legs \
                 WHERE call_id = $1 ORDER BY seq",
            )
            .bind(&call)
            .fetch_all(&c.pool),
        )
        .unwrap();
    assert_eq!(summary.len(), 2, "{summary:?}");
    assert_eq!(
        (summary[0].0.as_str(), summary[0].1.as_deref(), summary[0].2),
        (first, Some("transferred"), true)
    );
    assert_eq!((summary[1].0.as_str(), summary[1].2), (colleague, true));
    let free = wait_until(Duration::from_secs(10), || {
        c.scalar("SELECT COUNT(*) FROM agent_claims") == 0
    });
    assert!(free, "agents still claimed:\n{}", c.logs());
    assert_one_call_at_a_time(&legs(&c));
}

#[test]
fn a_node_cut_from_the_database_stops_claiming_is_swept_and_rejoins_without_double_offers() {
    let ids = ["1024", "2048"];
    let Some((c, phones)) = Cluster::with_agents(&ids, Some(0)) else {
        return;
    };
    let relay = &c.relay.as_ref().unwrap().1;
    let all_closed = || c.all_closed();
    let answered_on = |node: &str, since_ms: i64| {
        c.scalar(&format!(
            "SELECT COUNT(*) FROM call_legs WHERE node_id = '{node}' \
             AND answered_at IS NOT NULL AND started_at > {since_ms}"
        ))
    };
    let text = |q: &str| -> Option<String> {
        c.rt.block_on(sqlx::query_scalar(q).fetch_optional(&c.pool))
            .unwrap()
    };

    // Both nodes at work: callers through the edge put through on each.
    let stats = c.callers(&c.edge.addr(), 10, 5, 3000);
    let settled = wait_until(Duration::from_secs(30), all_closed);
    assert!(settled, "calls left open:\n{}", c.logs());
    for node in ["node-a", "node-b"] {
        assert!(
            answered_on(node, 0) > 0,
            "nobody put through on {node}: sipp {stats:?}\n{}",
            c.logs()
        );
    }

    // One agent talking on node B; on node A, the other talking to a caller and a second
    // caller waiting.
    let node_a = c.nodes[0].addr();
    let _on_b = c.callers_in_background(&c.nodes[1].addr(), 1, 1, 20_000);
    let busy = wait_until(Duration::from_secs(20), || c.talking_on("node-b").is_some());
    assert!(busy, "an agent should be talking on node B:\n{}", c.logs());
    let _on_a = c.callers_in_background(&node_a, 2, 2, 60_000);
    let waiting_on_a = "SELECT COUNT(*) FROM calls WHERE node_id = 'node-a' AND ended_at IS NULL \
                        AND queued_at IS NOT NULL AND connected_at IS NULL";
    let ready = wait_until(Duration::from_secs(20), || {
        c.talking_on("node-a").is_some() && c.scalar(waiting_on_a) == 1
    });
    assert!(
        ready,
        "node A should have one caller through and one waiting:\n{}",
        c.logs()
    );
    let agent_a = c.talking_on("node-a").unwrap();
    let phone_a = &phones[ids.iter().position(|id| **id == agent_a).unwrap()];
    let open_on_a: Vec<(String, bool)> =
        c.rt.block_on(
            sqlx::query_as(
                "SELECT id, connected_at IS NULL FROM calls \
                 WHERE node_id = 'node-a' AND ended_at IS NULL",
            )
            .fetch_all(&c.pool),
        )
        .unwrap();
    let epoch = c.scalar("SELECT epoch FROM cluster_nodes WHERE node_id = 'node-a'");

    // Node A cut from the database for 15 s. Its agent hangs up: node A offers the waiting
    // caller to them and cannot claim them. Callers keep coming through the edge.
    relay.cut();
    let cut = Instant::now();
    let cut_ms = now_ms();
    let cut_db = text("SELECT now()::text").unwrap();
    std::thread::sleep(Duration::from_secs(1));
    phone_a.command("hangup", "");
    let _during = c.callers_in_background(&c.edge.addr(), 8, 1, 6000);
    let swept_q = format!(
        "SELECT COUNT(*) FROM cluster_nodes WHERE node_id = 'node-a' \
         AND lease_until IS NULL AND epoch > {epoch}"
    );
    let claimed_q = format!(
        "SELECT COUNT(*) FROM agent_claims WHERE node_id = 'node-a' AND since > '{cut_db}'"
    );
    let mut swept_after = None;
    let mut claims_in_cut = 0;
    while cut.elapsed() < Duration::from_secs(15) {
        claims_in_cut = claims_in_cut.max(c.scalar(&claimed_q));
        if swept_after.is_none() && c.scalar(&swept_q) == 1 {
            swept_after = Some(cut.elapsed());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let Some(swept_after) = swept_after else {
        panic!("node A was never swept during the cut:\n{}", c.logs());
    };
    assert_eq!(claims_in_cut, 0, "node A claimed an agent while cut off");
    assert!(
        c.nodes[0].log().contains("cannot claim the agent"),
        "node A should have tried to claim its agent during the cut:\n{}",
        c.logs()
    );
    assert!(
        c.nodes[1].log().contains("a node's lease ran out"),
        "node B should have swept node A:\n{}",
        c.logs()
    );
    // The sweep: A's calls open at the cut closed `node_lost`, its waiting caller to be
    // called back, its agent's claim gone.
    let quoted: Vec<String> = open_on_a.iter().map(|(id, _)| format!("'{id}'")).collect();
    let lost = c.scalar(&format!(
        "SELECT COUNT(*) FROM calls WHERE id IN ({}) AND end_cause = 'node_lost'",
        quoted.join(", ")
    ));
    assert_eq!(
        lost,
        2,
        "calls open on A at the cut: {open_on_a:?}\n{}",
        c.logs()
    );
    let (waiting_id, _) = open_on_a.iter().find(|(_, waiting)| *waiting).unwrap();
    let callbacks = c.scalar(&format!(
        "SELECT COUNT(*) FROM followups WHERE call_id IN ({}) AND kind = 'callback' \
         AND status = 'open' AND id = 'lost-{waiting_id}' AND number = '13800138000'",
        quoted.join(", ")
    ));
    assert_eq!(callbacks, 1, "A's waiting caller should be called back");
    assert_eq!(
        c.scalar("SELECT COUNT(*) FROM agent_claims WHERE node_id = 'node-a'"),
        0,
        "node A's agent should be free once A is swept"
    );
    let swept_epoch = c.scalar("SELECT epoch FROM cluster_nodes WHERE node_id = 'node-a'");

    // Restored: A finds it was swept, rejoins under a new epoch and serves callers again.
    relay.restore();
    let restored = Instant::now();
    let restore_ms = now_ms();
    let rejoined = wait_until(Duration::from_secs(15), || {
        c.scalar(&format!(
            "SELECT COUNT(*) FROM cluster_nodes WHERE node_id = 'node-a' \
             AND epoch > {swept_epoch} AND lease_until > now()"
        )) == 1
    });
    let rejoined_after = restored.elapsed();
    assert!(rejoined, "node A never rejoined:\n{}", c.logs());
    let new_served_on_a = format!(
        "SELECT COUNT(*) FROM call_legs l JOIN calls k ON k.id = l.call_id \
         WHERE l.node_id = 'node-a' AND l.answered_at IS NOT NULL AND k.arrived_at > {}",
        now_ms()
    );
    let after = c.callers(&node_a, 3, 1, 15_000);
    let served_on_a = wait_until(Duration::from_secs(20), || c.scalar(&new_served_on_a) > 0);
    assert!(
        served_on_a,
        "no new caller put through on node A after it rejoined: sipp {after:?}\n{}",
        c.logs()
    );

    let settled = wait_until(Duration::from_secs(60), all_closed);
    assert!(settled, "calls left open after the restore:\n{}", c.logs());
    // Not one agent rung by A while it was cut off, and none ever offered two calls.
    let legs_in_cut = c.scalar(&format!(
        "SELECT COUNT(*) FROM call_legs WHERE node_id = 'node-a' \
         AND started_at BETWEEN {cut_ms} AND {restore_ms}"
    ));
    assert_eq!(legs_in_cut, 0, "agents rung by node A while it was cut off");
    assert_one_call_at_a_time(&legs(&c));
    let free = wait_until(Duration::from_secs(10), || {
        c.scalar("SELECT COUNT(*) FROM agent_claims") == 0
    });
    assert!(free, "agents still claimed:\n{}", c.logs());
    let arrived_in_cut = format!(
        "SELECT COUNT(*) FROM calls WHERE node_id = 'node-a' \
         AND arrived_at BETWEEN {cut_ms} AND {restore_ms}"
    );
    println!(
        "cut: node A swept {:.1} s after the cut, rejoined {:.1} s after the restore \
         (epoch {epoch} → {swept_epoch} → {}); {lost} calls closed node_lost, {callbacks} \
         callback; {} callers reached A during the cut ({} answered before the restore); \
         after the rejoin, {} new callers put through on A (the swept waiting caller too: {})",
        swept_after.as_secs_f64(),
        rejoined_after.as_secs_f64(),
        c.scalar("SELECT epoch FROM cluster_nodes WHERE node_id = 'node-a'"),
        c.scalar(&arrived_in_cut),
        c.scalar(&format!("{arrived_in_cut} AND answered_at < {restore_ms}")),
        c.scalar(&new_served_on_a),
        c.scalar(&format!(
            "SELECT COUNT(*) FROM calls WHERE id = '{waiting_id}' AND connected_at IS NOT NULL"
        )) == 1,
    );
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}
