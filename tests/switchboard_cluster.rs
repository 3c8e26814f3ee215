//! A cluster node's switchboard on a fake clock: agents claimed in the shared database
//! before they are rung (the board answers claims, lost for agents in
//! `held_elsewhere`), phones reached through the edge, the cluster's view of who is
//! registered, held elsewhere or logged in, and who may speak for an agent. Also the end
//! of wrap-up hanging up the outcome prompt, on a single node as on a cluster.

mod common;

use common::board::{plan, secs, Board, Setup, SERVER};
use hotline::config::Cluster;
use hotline::store::{AgentWrite, ClaimState, Write};
use hotline::switchboard::{ClusterCmd, ClusterView, Input};
use std::net::SocketAddr;

const QUEUE_PLAN: &str = include_str!("fixtures/queue-plan.toml");
const EDGE: &str = "10.0.0.9:5060";

fn edge() -> SocketAddr {
    EDGE.parse().unwrap()
}

/// Node "a" behind the edge; every caller goes straight to the general queue.
fn node() -> Board {
    Board::new(Setup {
        plans: vec![plan(QUEUE_PLAN)],
        cluster: Some(Cluster {
            node_id: "a".into(),
            edge: edge(),
        }),
        ..Setup::default()
    })
}

/// The cluster as read: every agent's phone registered at the edge, `elsewhere` held
/// by other nodes, nothing held by this one, no states.
fn view(b: &Board, elsewhere: &[&str]) -> ClusterView {
    ClusterView {
        registered: b.phones.iter().map(|p| p.agent.clone()).collect(),
        elsewhere: elsewhere.iter().map(|a| a.to_string()).collect(),
        ..ClusterView::default()
    }
}

/// The agents claimed, in order.
fn claims(b: &Board) -> Vec<String> {
    b.cluster_cmds
        .iter()
        .filter_map(|c| match c {
            ClusterCmd::Claim { agent, .. } => Some(agent.clone()),
            _ => None,
        })
        .collect()
}

/// The agent's state changes as written: (state, reason).
fn states(b: &Board, phone: usize) -> Vec<(&'static str, String)> {
    let id = &b.phones[phone].agent;
    b.writes
        .iter()
        .filter_map(|l| match &l.write {
            Write::Agent(AgentWrite::State {
                agent,
                state,
                reason,
                ..
            }) if agent == id => Some((*state, reason.clone())),
            _ => None,
        })
        .collect()
}

/// The Request-URIs of the INVITEs sent to `addr`.
fn invites_to(b: &Board, addr: SocketAddr) -> Vec<String> {
    b.sent
        .iter()
        .filter(|(_, to, m)| *to == addr && m.method() == Some("INVITE"))
        .map(|(_, _, m)| m.first_line().split(' ').nth(1).unwrap_or("").to_string())
        .collect()
}

/// A caller who dials in and waits in the general queue.
fn queued_caller(b: &mut Board, number: &str) -> usize {
    let c = b.call_in(number);
    b.run_until("the caller is queued", secs(20), |b| {
        b.story(c).contains(&"queued".to_string())
    });
    c
}

#[test]
fn an_agent_is_claimed_first_and_then_rung_through_the_edge() {
    let mut b = node();
    let a = b.agent("1001", &["general"]);
    b.agents_ready();
    b.input(Input::Cluster(view(&b, &[])));
    assert!(b.cluster_cmds.is_empty(), "{:?}", b.cluster_cmds);
    let c = b.call_in("13800138000");
    b.run_until("the phone is rung through the edge", secs(20), |b| {
        b.phones[a].rung() == 1
    });
    assert_eq!(
        b.cluster_cmds.first(),
        Some(&ClusterCmd::Claim {
            call: b.call_of(c),
            record: b.record(c),
            agent: "1001".into(),
        }),
        "{}",
        b.dump()
    );
    assert_eq!(invites_to(&b, edge()), ["sip:1001@10.0.0.9:5060"]);
    assert!(b
        .sent_to(edge())
        .contains(&"INVITE sip:1001@10.0.0.9:5060 SIP/2.0".to_string()));
    // The claim goes out before the INVITE, which waits for the answer.
    let at = |what: &str| b.trace.iter().position(|l| l.contains(what));
    let (claim, invite) = (at("cluster Claim"), at("sb -> 10.0.0.9:5060 Udp INVITE"));
    assert!(claim.is_some() && claim < invite, "{}", b.dump());
    // The phone answers through the edge and the caller is put through.
    b.run_until("the agent answers", secs(10), |b| {
        b.legs(c).iter().any(|l| l.answered)
    });
    assert_eq!(b.agent_state(a), "on_call");
}

#[test]
fn a_lost_claim_offers_the_call_to_the_next_agent_without_a_miss() {
    let mut b = node();
    let a = b.agent("1001", &["general"]);
    let z = b.agent("2048", &["general"]);
    // 1001 logs in first: idle longest, offered first, but held by another node.
    b.agents_ready();
    b.input(Input::Cluster(view(&b, &[])));
    b.held_elsewhere.insert("1001".into());
    let c = b.call_in("13800138000");
    b.run_until("the next agent is rung", secs(20), |b| {
        b.phones[z].rung() == 1
    });
    assert_eq!(claims(&b), ["1001", "2048"]);
    assert_eq!(b.phones[a].rung(), 0, "nobody rings a phone not claimed");
    assert_eq!(invites_to(&b, edge()), ["sip:2048@10.0.0.9:5060"]);
    let legs = b.legs(c);
    assert_eq!(legs.len(), 1, "{legs:?}");
    assert_eq!(legs[0].agent, "2048");
    // A lost claim is no change of the agent's: nothing rang here, nothing is noted.
    assert_eq!(
        states(&b, a).last(),
        Some(&("available", "login".to_string()))
    );
}

#[test]
fn lost_claims_are_not_misses_and_never_pause_the_agent() {
    let mut b = node();
    let a = b.agent("1001", &["general"]);
    b.agents_ready();
    b.input(Input::Cluster(view(&b, &[])));
    b.held_elsewhere.insert("1001".into());
    let c = queued_caller(&mut b, "13800138000");
    assert_eq!(claims(&b), ["1001"]);
    // Lost: not offered here again until a read of the cluster lets the agent go; each
    // read does, and each claim is lost again. The general queue pauses after 3 misses.
    for _ in 0..4 {
        b.input(Input::Cluster(view(&b, &[])));
    }
    assert_eq!(claims(&b).len(), 5, "{}", b.dump());
    assert!(
        !states(&b, a).iter().any(|(s, _)| *s == "paused"),
        "{:?}",
        states(&b, a)
    );
    // A lost claim is no change of the agent's: nothing rang here, nothing is noted.
    assert_eq!(
        states(&b, a).last(),
        Some(&("available", "login".to_string()))
    );
    assert_eq!(b.phones[a].rung(), 0);
    // The other node lets go: the next claim is won and the phone rings.
    b.held_elsewhere.clear();
    b.input(Input::Cluster(view(&b, &[])));
    b.run_until("the agent answers", secs(10), |b| {
        b.legs(c).iter().any(|l| l.answered)
    });
    assert_eq!(claims(&b).len(), 6);
    assert_eq!(b.phones[a].rung(), 1);
}

#[test]
fn an_agent_held_elsewhere_is_offered_the_waiting_call_once_let_go() {
    let mut b = node();
    let a = b.agent("1001", &["general"]);
    b.agents_ready();
    b.input(Input::Cluster(view(&b, &["1001"])));
    let c = queued_caller(&mut b, "13800138000");
    b.run_for(secs(5));
    assert!(claims(&b).is_empty(), "{:?}", b.cluster_cmds);
    assert_eq!(b.phones[a].rung(), 0);
    b.input(Input::Cluster(view(&b, &[])));
    assert_eq!(claims(&b), ["1001"]);
    b.run_until("the agent answers", secs(10), |b| {
        b.legs(c).iter().any(|l| l.answered)
    });
}

#[test]
fn registration_at_the_edge_decides_who_is_reachable() {
    let mut b = node();
    let a = b.agent("1001", &["general"]);
    b.agents_ready();
    b.input(Input::Cluster(view(&b, &[])));
    // The phone's registration at the edge lapses.
    b.input(Input::Cluster(ClusterView::default()));
    let c = queued_caller(&mut b, "13800138000");
    b.run_for(secs(5));
    assert!(claims(&b).is_empty(), "{:?}", b.cluster_cmds);
    // Registered again: offered the waiting call.
    b.input(Input::Cluster(view(&b, &[])));
    assert_eq!(claims(&b), ["1001"]);
    b.run_until("the agent answers", secs(10), |b| {
        b.legs(c).iter().any(|l| l.answered)
    });
    assert_eq!(b.phones[a].rung(), 1);
}

#[test]
fn the_claim_follows_the_agent_through_the_call_and_wrap_up_and_is_let_go() {
    let mut b = node();
    let a = b.agent("1001", &["general"]);
    b.agents_ready();
    b.input(Input::Cluster(view(&b, &[])));
    let c = b.call_in("13800138000");
    b.run_until("the agent answers", secs(20), |b| {
        b.legs(c).iter().any(|l| l.answered)
    });
    let (call, record) = (b.call_of(c), b.record(c));
    let agent = || "1001".to_string();
    assert_eq!(
        b.cluster_cmds,
        [
            ClusterCmd::Claim {
                call,
                record: record.clone(),
                agent: agent(),
            },
            ClusterCmd::Hold {
                agent: agent(),
                record: Some(record.clone()),
                state: ClaimState::OnCall,
            },
        ]
    );
    // The database says this node holds the agent, as it does: nothing to let go.
    let mine = ClusterView {
        mine: vec![agent()],
        ..view(&b, &[])
    };
    b.input(Input::Cluster(mine.clone()));
    assert_eq!(b.cluster_cmds.len(), 2);
    b.run_for(secs(5));
    b.hang_up(c);
    assert_eq!(
        b.cluster_cmds.last(),
        Some(&ClusterCmd::Hold {
            agent: agent(),
            record: None,
            state: ClaimState::WrapUp,
        })
    );
    let gone = b.now.at;
    b.run_until("wrap-up is over", secs(30), |b| {
        b.agent_state(a) == "available"
    });
    assert_eq!(b.now.at - gone, secs(10), "the general queue's wrap-up");
    assert_eq!(
        b.cluster_cmds.last(),
        Some(&ClusterCmd::Release {
            agent: agent(),
            record: None,
        })
    );
    assert_eq!(b.cluster_cmds.len(), 4, "{:?}", b.cluster_cmds);
    // The outcome prompt was hung up with the end of wrap-up.
    assert_eq!(b.phones[a].got("BYE"), 1);
    // A claim the database still has for this node (its release lost on the way) is
    // let go again.
    b.input(Input::Cluster(mine));
    assert_eq!(b.cluster_cmds.len(), 5);
    assert_eq!(
        b.cluster_cmds.last(),
        Some(&ClusterCmd::Release {
            agent: agent(),
            record: None,
        })
    );
}

#[test]
fn a_login_noted_by_another_node_is_made_here_without_noting_it_again() {
    let mut b = node();
    let a = b.agent("1001", &["general"]);
    b.sync_agents();
    b.input(Input::Cluster(view(&b, &[])));
    let at = b.now.wall_ms;
    let login = ClusterView {
        states: vec![("1001".into(), "available".into(), "login".into(), at)],
        ..view(&b, &[])
    };
    b.input(Input::Cluster(login));
    assert!(states(&b, a).is_empty(), "another node wrote the login");
    // Logged in here: a caller is offered the agent.
    let c = b.call_in("13800138000");
    b.run_until("the agent answers", secs(20), |b| {
        b.legs(c).iter().any(|l| l.answered)
    });
    assert_eq!(claims(&b), ["1001"]);
    assert_eq!(b.agent_states(a).first(), Some(&"ringing"));
}

#[test]
fn a_state_older_than_the_nodes_own_change_is_not_mirrored() {
    let mut b = node();
    let a = b.agent("1001", &["general"]);
    b.agents_ready();
    b.input(Input::Cluster(view(&b, &[])));
    assert_eq!(b.agent_states(a), ["available"]);
    let own = b.now.wall_ms - 1000;
    b.run_for(secs(10));
    // A logout from before this node's login (its own write came back, or a stale one).
    let stale = ClusterView {
        states: vec![(
            "1001".into(),
            "logged_out".into(),
            "logout".into(),
            own - 5000,
        )],
        ..view(&b, &[])
    };
    b.input(Input::Cluster(stale));
    let c = b.call_in("13800138000");
    b.run_until("the agent answers", secs(20), |b| {
        b.legs(c).iter().any(|l| l.answered)
    });
    assert_eq!(claims(&b), ["1001"]);
}

#[test]
fn a_pause_noted_by_another_node_pauses_the_agent_here() {
    let mut b = node();
    let a = b.agent("1001", &["general"]);
    b.agents_ready();
    b.input(Input::Cluster(view(&b, &[])));
    b.run_for(secs(10));
    let at = b.now.wall_ms;
    let paused = ClusterView {
        states: vec![("1001".into(), "paused".into(), "lunch".into(), at)],
        ..view(&b, &[])
    };
    b.input(Input::Cluster(paused));
    assert_eq!(b.agent_states(a), ["available"], "not noted again");
    let c = b.call_in("13800138000");
    b.run_for(secs(10));
    assert!(claims(&b).is_empty(), "{:?}", b.cluster_cmds);
    assert!(b.legs(c).is_empty());
    assert_eq!(b.phones[a].rung(), 0);
}

#[test]
fn only_the_edge_speaks_for_an_agent() {
    let mut b = node();
    let a = b.agent("1001", &["general"]);
    b.sync_agents();
    b.input(Input::Cluster(view(&b, &[])));
    // Anyone else naming the agent is refused.
    let elsewhere: SocketAddr = "127.0.0.1:7777".parse().unwrap();
    let x = b.dial_from(elsewhere, "1001", "*1", "X-Hotline-Agent: 1001\r\n");
    b.run_until("refused", secs(5), |b| b.callers[x].final_status.is_some());
    assert_eq!(b.callers[x].final_status, Some(403));
    // So is the phone itself, with the agent's password: the edge authenticates.
    let d = b.agent_dials(a, "*1");
    b.run_until("refused", secs(5), |b| b.callers[d].final_status.is_some());
    assert_eq!(b.callers[d].final_status, Some(403));
    // The edge without saying who: refused.
    let n = b.dial_from(edge(), "1001", "*1", "");
    b.run_until("refused", secs(5), |b| b.callers[n].final_status.is_some());
    assert_eq!(b.callers[n].final_status, Some(403));
    assert!(states(&b, a).is_empty(), "nobody logged in");
    // The edge vouching for extension 1001: logged in.
    let e = b.dial_from(edge(), "1001", "*1", "X-Hotline-Agent: 1001\r\n");
    b.run_until("answered", secs(5), |b| b.callers[e].final_status.is_some());
    assert_eq!(b.callers[e].final_status, Some(200));
    assert_eq!(states(&b, a), [("available", "login".to_string())]);
}

#[test]
fn the_place_announced_counts_callers_waiting_ahead_on_other_nodes() {
    let mut b = node();
    b.agent("1001", &["general"]);
    b.agents_ready();
    // The only agent is busy on another node; three callers of the queue wait there: two
    // as urgent as this one (the plan's priority 5) and waiting a minute, one less urgent.
    let mut seen = view(&b, &["1001"]);
    let arrived = b.now.wall_ms - 60_000;
    seen.waiting = vec![
        ("general".into(), 5, arrived),
        ("general".into(), 5, arrived),
        ("general".into(), 0, arrived),
        ("billing".into(), 9, arrived),
    ];
    b.input(Input::Cluster(seen));
    let c = queued_caller(&mut b, "13800138000");
    b.run_until("announced", secs(5), |b| {
        b.events(c).iter().any(|e| e.starts_with("announce"))
    });
    let announced: Vec<String> = b
        .events(c)
        .into_iter()
        .filter(|e| e.starts_with("announce"))
        .collect();
    assert!(
        announced[0].starts_with("announce: position 3 "),
        "{announced:?}"
    );
}

#[test]
fn an_agent_held_by_another_node_is_busy_to_a_colleague_calling() {
    let mut b = node();
    b.agent("1001", &["general"]);
    b.agent("2048", &["general"]);
    b.agents_ready();
    b.input(Input::Cluster(view(&b, &["2048"])));
    let ring = "X-Hotline-Agent: 1001\r\n";
    let busy = b.dial_from(edge(), "1001", "2048", ring);
    b.run_until("refused", secs(5), |b| {
        b.callers[busy].final_status.is_some()
    });
    assert_eq!(b.callers[busy].final_status, Some(486));
    assert!(invites_to(&b, edge()).is_empty(), "nobody rung");
    // Let go there: the colleague's phone is rung through the edge.
    b.input(Input::Cluster(view(&b, &[])));
    b.dial_from(edge(), "1001", "2048", ring);
    b.run_until("rung through the edge", secs(5), |b| {
        invites_to(b, edge()).contains(&"sip:2048@10.0.0.9:5060".to_string())
    });
}

fn register(from: SocketAddr) -> String {
    format!(
        "REGISTER sip:{SERVER} SIP/2.0\r\nVia: SIP/2.0/UDP {from};branch=z9hG4bKreg{port};rport\r\nMax-Forwards: 70\r\nFrom: <sip:1001@{SERVER}>;tag=r{port}\r\nTo: <sip:1001@{SERVER}>\r\nCall-ID: reg-{port}\r\nCSeq: 1 REGISTER\r\nContact: <sip:1001@{from}>\r\nExpires: 3600\r\nContent-Length: 0\r\n\r\n",
        port = from.port()
    )
}

#[test]
fn a_cluster_node_is_no_registrar() {
    let phone: SocketAddr = "127.0.0.1:7001".parse().unwrap();
    let mut b = node();
    b.agent("1001", &["general"]);
    b.sync_agents();
    b.send_from(phone, &register(phone));
    let replies = b.sent_to(phone);
    assert_eq!(replies.len(), 1, "{replies:?}");
    assert!(replies[0].starts_with("SIP/2.0 403"), "{replies:?}");
    // A single node challenges the same REGISTER.
    let mut single = Board::shipped();
    single.agent("1001", &["general"]);
    single.sync_agents();
    single.send_from(phone, &register(phone));
    let replies = single.sent_to(phone);
    assert!(replies[0].starts_with("SIP/2.0 401"), "{replies:?}");
}

/// On a single node as on a cluster: an agent who does not key the outcome is hung up
/// when the queue's wrap-up time ends, not after the minute the outcome prompt allows,
/// so the phone is free for the caller offered to the agent at that moment.
#[test]
fn the_outcome_prompt_is_hung_up_when_wrap_up_ends() {
    let mut b = Board::new(Setup {
        plans: vec![plan(QUEUE_PLAN)],
        ..Setup::default()
    });
    let a = b.agent("1001", &["general"]);
    b.agents_ready();
    let c = b.call_in("13800138000");
    b.run_until("the agent answers", secs(20), |b| {
        b.legs(c).iter().any(|l| l.answered)
    });
    let leg = b.leg_of(a);
    b.run_for(secs(5));
    // A second caller waits for the agent.
    let w = queued_caller(&mut b, "13900139000");
    b.hang_up(c);
    let gone = b.now.at;
    assert_eq!(b.agent_state(a), "wrap_up");
    b.run_until("the outcome prompt plays", secs(5), |b| {
        b.heard(leg, "agent_enter_outcome")
    });
    b.run_until("the outcome leg is hung up", secs(70), |b| {
        b.phones[a].got("BYE") == 1
    });
    assert_eq!(
        b.now.at - gone,
        secs(10),
        "the general queue's wrap_up_secs"
    );
    assert_eq!(b.legs(c)[0].cause, Some("no_outcome"));
    // Hung up before the phone is rung for the waiting caller, at the same moment.
    let phone = b.phones[a].addr;
    let to_phone: Vec<String> = b
        .sent
        .iter()
        .filter(|(at, to, _)| *to == phone && *at == b.now.at)
        .filter_map(|(_, _, m)| m.method().map(str::to_string))
        .collect();
    assert_eq!(to_phone, ["BYE", "INVITE"], "{}", b.dump());
    b.run_until("the waiting caller is put through", secs(10), |b| {
        b.legs(w).iter().any(|l| l.answered)
    });
}
