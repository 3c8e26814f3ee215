//! A cluster node's side of the desk: agents' phones are reached through the edge
//! (Kamailio), and an agent is claimed in the shared database before being rung, so no
//! agent is offered two calls at once whichever nodes the calls are on.
//!
//! The local ACD still chooses (same strategies, penalties and priorities as a single
//! node); the database only arbitrates. A claim's answer comes back as
//! [`Input::Claimed`](super::Input::Claimed); what other nodes hold and which phones are
//! registered at the edge come as [`Input::Cluster`](super::Input::Cluster).

use super::{Host, Output, Switchboard};
use crate::acd::{self, AgentState, RingFailure, StateName};
use crate::core::sip::endpoint::{CallRef, IncomingCall, Link, Peer};
use crate::core::sip::registrar::{Binding, Transport};
use crate::store::ClaimState;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Instant;

/// What the runtime does in the shared database for the switchboard, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterCmd {
    /// Claim `agent` for customer call `call` (record id `record`); answer with
    /// [`Input::Claimed`](super::Input::Claimed).
    Claim {
        call: CallRef,
        record: String,
        agent: String,
    },
    /// The agent this node holds moved on: talking on call `record`, or in wrap-up
    /// (`record` `None`: the call stays as it was).
    Hold {
        agent: String,
        record: Option<String>,
        state: ClaimState,
    },
    /// This node lets go of `agent`: its claim for call `record` only, or whatever it
    /// holds the agent for (`None`).
    Release {
        agent: String,
        record: Option<String>,
    },
}

/// The cluster as the runtime last read it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterView {
    /// Extensions with a live registration at the edge.
    pub registered: Vec<String>,
    /// Agents other nodes hold.
    pub elsewhere: Vec<String>,
    /// Agents the database says this node holds.
    pub mine: Vec<String>,
    /// Each agent's latest state as noted by any node: (agent, state, reason, at ms).
    pub states: Vec<(String, String, String, i64)>,
    /// Callers waiting on other nodes: (queue, priority, arrived at, ms). Times, not ages,
    /// so the view changes only when they do.
    pub waiting: Vec<(String, i32, i64)>,
}

/// The desk's cluster state.
#[derive(Debug)]
pub(super) struct Node {
    pub edge: SocketAddr,
    /// Claims asked for and not yet answered: (customer call, agent) → queue.
    pub claiming: std::collections::HashMap<(CallRef, String), String>,
    /// Agents this node holds in the database.
    pub held: HashSet<String>,
    /// When the node started: the edge's bindings have no expiry of their own.
    started: Instant,
}

impl Node {
    pub(super) fn new(edge: SocketAddr, started: Instant) -> Node {
        Node {
            edge,
            claiming: Default::default(),
            held: HashSet::new(),
            started,
        }
    }

    /// How the edge reaches extension `ext`: an INVITE to `sip:EXT@edge`.
    pub(super) fn phone(&self, ext: &str) -> (Peer, Binding) {
        let peer = Peer {
            link: Link::Udp,
            addr: self.edge,
        };
        let binding = Binding {
            extension: ext.to_string(),
            uri: format!("sip:{ext}@{}", self.edge),
            source: self.edge,
            transport: Transport::Udp,
            expires_at: self.started,
        };
        (peer, binding)
    }
}

impl<H: Host> Switchboard<H> {
    /// A ring the ACD decided: claimed first on a cluster node, at once on a single one.
    pub(super) fn offer(&mut self, now: Instant, call: CallRef, agent: &str, queue: &str) {
        let record = self.calls.get(&call).map(|c| c.id.clone());
        let (Some(node), Some(record)) = (self.desk.node.as_mut(), record) else {
            return self.ring(now, call, agent, queue);
        };
        node.claiming
            .insert((call, agent.to_string()), queue.to_string());
        self.out.push(Output::Cluster(ClusterCmd::Claim {
            call,
            record,
            agent: agent.to_string(),
        }));
    }

    /// The database's answer to a claim. Won and still wanted: ring. Lost: the ACD offers
    /// the call to someone else. Won but no longer wanted: let go at once.
    pub(super) fn on_claimed(&mut self, now: Instant, call: CallRef, agent: &str, won: bool) {
        let record = self.calls.get(&call).map(|c| c.id.clone());
        let Some(node) = self.desk.node.as_mut() else {
            return;
        };
        let queue = node.claiming.remove(&(call, agent.to_string()));
        let wanted = self
            .desk
            .acd
            .agent(agent)
            .is_some_and(|a| a.state == AgentState::Ringing { call: call.0 });
        match (queue, won) {
            (Some(queue), true) if wanted => {
                node.held.insert(agent.to_string());
                self.note_state(agent, StateName::Ringing, queue.clone());
                self.ring(now, call, agent, &queue);
            }
            (Some(_), false) if wanted => {
                tracing::info!(%agent, "agent held by another node, or left to a caller waiting longer there");
                let actions = self
                    .desk
                    .acd
                    .ring_failed(call.0, agent, RingFailure::Elsewhere, now);
                self.acd_actions(now, actions);
            }
            (_, true) => {
                // Withdrawn while the claim was on its way (the caller left, another
                // agent answered): nobody is rung, so the claim for this call goes.
                self.out.push(Output::Cluster(ClusterCmd::Release {
                    agent: agent.to_string(),
                    record,
                }));
            }
            (_, false) => {}
        }
    }

    /// An agent state the ACD reports, mirrored into the agent's claim: this node keeps
    /// holding the agent through the call and wrap-up, and lets go when they are free.
    pub(super) fn claim_follows(&mut self, agent: &str, state: StateName) {
        let Some(node) = self.desk.node.as_mut() else {
            return;
        };
        let record = self
            .desk
            .acd
            .agent(agent)
            .and_then(|a| match a.state {
                AgentState::OnCall { call, .. } => Some(call),
                _ => None,
            })
            .and_then(|key| self.calls.get(&CallRef(key)).map(|c| c.id.clone()));
        let hold = |state| ClusterCmd::Hold {
            agent: agent.to_string(),
            record,
            state,
        };
        let cmd = match state {
            // Claimed before the ring (`offer`).
            StateName::Ringing => None,
            StateName::OnCall => Some(hold(ClaimState::OnCall)),
            StateName::WrapUp => Some(hold(ClaimState::WrapUp)),
            // A claim still on its way is released by its answer (`on_claimed`).
            StateName::Available | StateName::Paused | StateName::LoggedOut => {
                node.held.remove(agent).then(|| ClusterCmd::Release {
                    agent: agent.to_string(),
                    record: None,
                })
            }
        };
        if let Some(cmd) = cmd {
            if matches!(cmd, ClusterCmd::Hold { .. }) {
                node.held.insert(agent.to_string());
            }
            self.out.push(Output::Cluster(cmd));
        }
    }

    /// What the runtime read of the cluster: phones registered at the edge are
    /// reachable, agents other nodes hold are not offered calls here.
    pub(super) fn on_cluster_view(&mut self, now: Instant, view: super::ClusterView) {
        let Some(node) = self.desk.node.as_ref() else {
            return;
        };
        // A claim this node no longer knows of (its release was lost with the database
        // link) would keep the agent from every other node: let it go.
        let stale: Vec<String> = view
            .mine
            .iter()
            .filter(|a| !node.held.contains(*a) && !node.claiming.keys().any(|(_, c)| c == *a))
            .cloned()
            .collect();
        for agent in stale {
            tracing::warn!(%agent, "letting go of a claim this node no longer has");
            let record = None;
            self.out
                .push(Output::Cluster(ClusterCmd::Release { agent, record }));
        }
        let registered: HashSet<&str> = view.registered.iter().map(String::as_str).collect();
        let elsewhere: HashSet<&str> = view.elsewhere.iter().map(String::as_str).collect();
        let agents: Vec<(String, bool, bool)> = self
            .desk
            .acd
            .agents()
            .map(|a| {
                let ext = self.desk.extension.get(&a.id).map(String::as_str);
                (
                    a.id.clone(),
                    ext.is_some_and(|e| registered.contains(e)),
                    elsewhere.contains(a.id.as_str()),
                )
            })
            .collect();
        for (id, reachable, held) in agents {
            let mut actions: Vec<acd::Action> = Vec::new();
            if self
                .desk
                .acd
                .agent(&id)
                .is_some_and(|a| a.reachable != reachable)
            {
                actions.extend(self.desk.acd.set_reachable(&id, reachable, now));
            }
            actions.extend(self.desk.acd.set_elsewhere(&id, held, now));
            self.acd_actions(now, actions);
        }
        for (agent, state, reason, at) in view.states {
            self.mirror_state(now, &agent, &state, &reason, at);
        }
        let wall_ms = self.now.wall_ms;
        let waiting = view
            .waiting
            .into_iter()
            .map(|(queue, priority, arrived_ms)| {
                let waited = std::time::Duration::from_millis((wall_ms - arrived_ms).max(0) as u64);
                (queue, priority, now.checked_sub(waited).unwrap_or(now))
            });
        self.desk.acd.set_waiting_elsewhere(waiting.collect());
    }

    /// A login, logout, pause or resume another node noted (an agent's feature code
    /// reached that node, or it took the command-line request) is made here too,
    /// without noting it again. Only news: a state older than this node's own last
    /// change of the agent is its own write or stale.
    fn mirror_state(&mut self, now: Instant, agent: &str, state: &str, reason: &str, at: i64) {
        let node = self.desk.node.as_ref();
        let busy_here = node
            .is_some_and(|n| n.held.contains(agent) || n.claiming.keys().any(|(_, a)| a == agent));
        let seen = self.desk.state_since.get(agent).is_some_and(|&s| s >= at);
        let Some(local) = self.desk.acd.agent(agent).map(|a| a.state.name()) else {
            return;
        };
        if busy_here || seen {
            return;
        }
        let acd = &mut self.desk.acd;
        let result = match (state, local) {
            ("logged_out", StateName::LoggedOut) => return,
            ("logged_out", _) => acd.logout(agent, now),
            ("paused", StateName::Paused) => return,
            ("paused", StateName::LoggedOut) => acd.login(agent, now).and_then(|mut a| {
                a.extend(acd.pause(agent, reason, now)?);
                Ok(a)
            }),
            ("paused", _) => acd.pause(agent, reason, now),
            (_, StateName::LoggedOut) => acd.login(agent, now),
            (_, StateName::Paused) => acd.resume(agent, now),
            _ => return,
        };
        match result {
            Ok(actions) => {
                self.desk.mirroring = Some(agent.to_string());
                self.acd_actions(now, actions);
                self.desk.mirroring = None;
                // Since when the other node says, which is also what the next read of
                // this same state is compared with.
                self.desk.state_since.insert(agent.to_string(), at);
            }
            Err(e) => tracing::debug!(%agent, %e, "agent state from another node not applied"),
        }
    }

    /// The agent the edge vouches for, when `info` came from the edge with one: on a
    /// cluster node the edge authenticates agents' phones (hotline's own digest would be
    /// per node), and anything else claiming to be an agent is not believed.
    pub(super) fn edge_agent(&self, info: &IncomingCall) -> Option<String> {
        let node = self.desk.node.as_ref()?;
        if info.peer.addr != node.edge {
            return None;
        }
        let ext = info.asserted_agent.as_deref()?;
        self.desk.agent_of.get(ext).cloned()
    }
}
