//! What is happening now — callers waiting, agents' states — as a plain copy the runtime
//! hands to the wallboard, the API and the metrics, so none of them ever reaches into the
//! switchboard while it works.

use super::{Host, Switchboard};
use crate::acd::AgentState;
use crate::core::sip::endpoint::CallRef;
use serde::Serialize;
use std::time::Instant;

/// The switchboard's live state at one moment.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Live {
    /// Every queue, in name order, with its waiting callers in service order.
    pub queues: Vec<LiveQueue>,
    /// Every agent the ACD knows, in ID order.
    pub agents: Vec<LiveAgent>,
    /// Customer calls and agents' legs the SIP endpoint holds.
    pub calls_active: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LiveQueue {
    pub name: String,
    pub waiting: Vec<LiveCaller>,
    /// When the wallboard warns about this queue (from the queues file).
    pub alert: crate::acd::Alert,
}

/// A caller waiting in a queue.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LiveCaller {
    /// The call record's ID.
    pub call_id: String,
    /// The caller's number with its middle hidden.
    pub caller: String,
    pub priority: i32,
    /// When the caller was queued, ms since the Unix epoch.
    pub queued_at_ms: i64,
    /// Agents ringing for this caller right now.
    pub ringing: Vec<String>,
}

/// An agent as the ACD sees them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LiveAgent {
    pub id: String,
    /// `logged_out`, `available`, `ringing`, `on_call`, `wrap_up` or `paused`.
    pub state: &'static str,
    /// Why paused, when paused.
    pub reason: Option<String>,
    /// When the agent entered this state, ms since the Unix epoch (unknown before this
    /// process saw a change).
    pub since_ms: Option<i64>,
    /// Has a live registration.
    pub reachable: bool,
    pub queues: Vec<String>,
}

impl<H: Host> Switchboard<H> {
    /// A copy of what is live now, for readers outside the switchboard.
    pub fn live(&self) -> Live {
        let wall = |t: Instant| {
            let ago = self.now.at.saturating_duration_since(t).as_millis();
            self.now.wall_ms - i64::try_from(ago).unwrap_or(i64::MAX)
        };
        let acd = &self.desk.acd;
        let queues = acd
            .queues()
            .map(|q| LiveQueue {
                name: q.name.clone(),
                alert: q.alert.clone(),
                waiting: acd
                    .waiting(&q.name)
                    .into_iter()
                    .map(|w| LiveCaller {
                        call_id: self
                            .calls
                            .get(&CallRef(w.key))
                            .map(|c| c.id.clone())
                            .unwrap_or_default(),
                        caller: self
                            .calls
                            .get(&CallRef(w.key))
                            .map(|c| crate::ivr::action::mask(&c.caller))
                            .unwrap_or_default(),
                        priority: w.priority,
                        queued_at_ms: wall(w.queued),
                        ringing: w.ringing.keys().cloned().collect(),
                    })
                    .collect(),
            })
            .collect();
        let agents = acd
            .agents()
            .map(|a| LiveAgent {
                id: a.id.clone(),
                state: a.state.name().as_str(),
                reason: match &a.state {
                    AgentState::Paused { reason } => Some(reason.clone()),
                    _ => None,
                },
                since_ms: self.desk.state_since.get(&a.id).copied(),
                reachable: a.reachable,
                queues: a.memberships.iter().map(|(q, _)| q.clone()).collect(),
            })
            .collect();
        Live {
            queues,
            agents,
            calls_active: self.live_calls(),
        }
    }
}
