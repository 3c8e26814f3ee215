//! Automatic call distribution (ACD): the queues, the agents, and which agent is offered
//! which waiting call.
//!
//! Sans-IO like the rest of the core: [`Acd`] is the one owner of all queue and agent
//! state, every change comes in as a method call carrying `now`, and every effect goes
//! out as an [`Action`] for the runtime to carry out in order. Nothing here reads a clock
//! or does I/O; the runtime calls [`Acd::handle_timeout`] once [`Acd::poll_timeout`] has passed.
//!
//! Contract with the runtime:
//! - `Ring` sends an INVITE to the agent; it ends with exactly one of: [`Acd::answered`],
//!   [`Acd::ring_failed`] (the runtime saw it fail), or a `CancelRing` from here.
//! - The agent leg is bridged only on `Connect`. An answer the ACD no longer expects
//!   (the caller left, the ring was cancelled) gets no `Connect`: hang that leg up.
//! - Once bridged, the call belongs to the agent until [`Acd::call_ended`]; it is no
//!   longer in any queue, so [`Acd::leave`] does not apply to it.
//! - Every agent state change produces an `AgentState` action, for the `agent_states`
//!   table.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::time::{Duration, Instant};

pub mod config;
mod outbound;
mod types;

pub use types::*;

/// The agent ID (工号).
pub type AgentId = String;
/// The runtime's opaque id for a call.
pub type CallKey = u64;
pub type QueueName = String;

/// How many finished calls per queue the wait estimate averages.
const HANDLE_SAMPLES: usize = 20;
/// An agent whose phone answered busy is skipped this long, so a phone that is busy
/// for another reason is not rung in a tight loop.
pub const BUSY_RETRY: Duration = Duration::from_secs(5);
/// Reason of the automatic pause after `max_missed` missed calls.
pub const MISSED_REASON: &str = "missed";

/// The ACD: all queues, agents and waiting calls.
#[derive(Debug, Default)]
pub struct Acd {
    queues: BTreeMap<QueueName, QueueConfig>,
    agents: BTreeMap<AgentId, Agent>,
    calls: BTreeMap<CallKey, WaitingCall>,
    /// Recent talk + wrap-up times per queue, newest last. Kept across reloads.
    handle_times: HashMap<QueueName, VecDeque<Duration>>,
    /// Round robin: the member last offered a call, per queue.
    rr_last: HashMap<QueueName, AgentId>,
    next_seq: u64,
    /// Callers waiting on other nodes of a cluster: (queue, priority, arrived). They count
    /// in the places announced here, as one queue across nodes.
    waiting_elsewhere: Vec<(QueueName, i32, Instant)>,
}

/// Changes an agent's state, reporting it if it really changed.
fn set_state(
    agent: &mut Agent,
    state: AgentState,
    reason: &str,
    now: Instant,
    out: &mut Vec<Action>,
) {
    if agent.state == state {
        return;
    }
    let reason = match &state {
        AgentState::Paused { reason } => reason.clone(),
        _ => reason.to_string(),
    };
    out.push(Action::AgentState {
        agent: agent.id.clone(),
        state: state.name(),
        reason,
        at: now,
    });
    agent.state = state;
}

/// Ends the agent's handling of a call (talk + wrap-up) and records its duration.
fn finish_handling(
    times: &mut HashMap<QueueName, VecDeque<Duration>>,
    agent: &mut Agent,
    now: Instant,
) {
    if let Some((queue, answered)) = agent.handling.take() {
        let samples = times.entry(queue).or_default();
        if samples.len() == HANDLE_SAMPLES {
            samples.pop_front();
        }
        samples.push_back(now.saturating_duration_since(answered));
    }
}

impl Acd {
    pub fn new(queues: Vec<QueueConfig>) -> Acd {
        Acd {
            queues: queues.into_iter().map(|q| (q.name.clone(), q)).collect(),
            ..Acd::default()
        }
    }

    /// Replaces the queue settings. Waiting calls keep their place; calls of a queue that
    /// no longer exists overflow to its old overflow node.
    pub fn set_queues(&mut self, queues: Vec<QueueConfig>, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        let new = queues.into_iter().map(|q| (q.name.clone(), q)).collect();
        let old = std::mem::replace(&mut self.queues, new);
        let orphans: Vec<CallKey> = self
            .calls
            .values()
            .filter(|c| !self.queues.contains_key(&c.queue))
            .map(|c| c.key)
            .collect();
        for key in orphans {
            let node = old.get(&self.calls[&key].queue).map(|q| q.overflow.clone());
            self.overflow(key, node.unwrap_or_default(), now, &mut out);
        }
        self.dispatch(now, &[], &mut out);
        out
    }

    /// Adds an agent (logged out, unreachable) or replaces its memberships. A ring for a
    /// queue the agent left is cancelled.
    pub fn upsert_agent(
        &mut self,
        id: &str,
        memberships: Vec<(QueueName, u32)>,
        now: Instant,
    ) -> Vec<Action> {
        let mut out = Vec::new();
        let agent = self
            .agents
            .entry(id.to_string())
            .or_insert_with(|| Agent::new(id));
        agent.memberships = memberships;
        if let AgentState::Ringing { call } = agent.state {
            if agent.penalty(&self.calls[&call].queue).is_none() {
                self.take_ring(id, &mut out);
                let agent = self.agents.get_mut(id).expect("agent exists");
                set_state(agent, AgentState::Available, "membership", now, &mut out);
            }
        }
        self.dispatch(now, &[id.to_string()], &mut out);
        out
    }

    /// Forgets an agent. A ring is cancelled; a bridged call goes on without the ACD
    /// (its `call_ended` is then ignored).
    pub fn remove_agent(&mut self, id: &str, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        self.take_ring(id, &mut out);
        if let Some(mut agent) = self.agents.remove(id) {
            finish_handling(&mut self.handle_times, &mut agent, now);
            set_state(&mut agent, AgentState::LoggedOut, "removed", now, &mut out);
        }
        self.dispatch(now, &[], &mut out);
        out
    }

    pub fn login(&mut self, id: &str, now: Instant) -> Result<Vec<Action>, AcdError> {
        let mut out = Vec::new();
        let agent = self.agent_mut(id)?;
        match agent.state {
            AgentState::LoggedOut => {
                agent.login_at = Some(now);
                agent.missed_in_a_row = 0;
                set_state(agent, AgentState::Available, "login", now, &mut out);
            }
            // Logging in again during a call takes back a logout asked for in it.
            AgentState::OnCall { .. } if agent.after_call == Some(AfterCall::Logout) => {
                agent.after_call = None;
            }
            _ => {}
        }
        self.dispatch(now, &[id.to_string()], &mut out);
        Ok(out)
    }

    /// Logs out now, or when the current call ends. A ring is cancelled.
    pub fn logout(&mut self, id: &str, now: Instant) -> Result<Vec<Action>, AcdError> {
        self.leave_service(id, AfterCall::Logout, now)
    }

    /// Pauses now, or when the current call ends. A ring is cancelled; wrap-up ends.
    pub fn pause(&mut self, id: &str, reason: &str, now: Instant) -> Result<Vec<Action>, AcdError> {
        self.leave_service(id, AfterCall::Pause(reason.to_string()), now)
    }

    /// Ends a pause (also an automatic one, resetting the miss count), or takes back a
    /// pause asked for during the current call.
    pub fn resume(&mut self, id: &str, now: Instant) -> Result<Vec<Action>, AcdError> {
        let mut out = Vec::new();
        let agent = self.agent_mut(id)?;
        match agent.state {
            AgentState::LoggedOut => return Err(AcdError::NotLoggedIn(id.to_string())),
            AgentState::Paused { .. } => {
                agent.missed_in_a_row = 0;
                set_state(agent, AgentState::Available, "resume", now, &mut out);
            }
            AgentState::OnCall { .. } if matches!(agent.after_call, Some(AfterCall::Pause(_))) => {
                agent.after_call = None;
            }
            _ => return Err(AcdError::NotPaused(id.to_string())),
        }
        self.dispatch(now, &[id.to_string()], &mut out);
        Ok(out)
    }

    /// A registration appeared, or expired / stopped answering. Unreachable while
    /// ringing is a failed ring (not a miss); during a call nothing changes here.
    pub fn set_reachable(&mut self, id: &str, reachable: bool, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        let Some(agent) = self.agents.get_mut(id) else {
            return out;
        };
        agent.reachable = reachable;
        if let (false, AgentState::Ringing { call }) = (reachable, &agent.state) {
            let call = *call;
            out.push(Action::CancelRing {
                call,
                agent: id.to_string(),
                failure: Some(RingFailure::Unreachable),
            });
            self.fail_ring(call, id, RingFailure::Unreachable, now, &mut out);
        }
        self.dispatch(now, &[id.to_string()], &mut out);
        out
    }

    /// Whether another node of the cluster holds the agent. Held elsewhere, the agent is
    /// not offered calls here; let go, they are offered the best waiting call at once.
    pub fn set_elsewhere(&mut self, id: &str, elsewhere: bool, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        let Some(agent) = self.agents.get_mut(id) else {
            return out;
        };
        if agent.elsewhere != elsewhere {
            agent.elsewhere = elsewhere;
            if !elsewhere {
                self.dispatch(now, &[id.to_string()], &mut out);
            }
        }
        out
    }

    /// Puts a call in a queue and offers it if an agent is free. `arrived` is the
    /// caller's original arrival (it orders equal priorities); `max_wait` counts from `now`.
    pub fn enqueue(
        &mut self,
        call: CallKey,
        queue: &str,
        priority: i32,
        arrived: Instant,
        now: Instant,
    ) -> Result<Vec<Action>, AcdError> {
        self.enqueue_for(call, queue, priority, arrived, now, None)
    }

    /// As [`Acd::enqueue`], offered to `only` that agent when given (a transfer to a
    /// named agent): the caller waits for them within the queue's limits, then overflows.
    pub fn enqueue_for(
        &mut self,
        call: CallKey,
        queue: &str,
        priority: i32,
        arrived: Instant,
        now: Instant,
        only: Option<&str>,
    ) -> Result<Vec<Action>, AcdError> {
        if !self.queues.contains_key(queue) {
            return Err(AcdError::UnknownQueue(queue.to_string()));
        }
        let connected = self
            .agents
            .values()
            .any(|a| a.state == AgentState::OnCall { call });
        if connected || self.calls.contains_key(&call) {
            return Err(AcdError::DuplicateCall(call));
        }
        self.next_seq += 1;
        self.calls.insert(
            call,
            WaitingCall {
                key: call,
                queue: queue.to_string(),
                priority,
                arrived,
                queued: now,
                ringing: BTreeMap::new(),
                missed: BTreeSet::new(),
                last_announce: now,
                seq: self.next_seq,
                max_wait: None,
                only: only.map(str::to_string),
            },
        );
        let mut out = Vec::new();
        let staffed = self
            .agents
            .values()
            .any(|a| a.working() && only.map_or(a.penalty(queue).is_some(), |o| a.id == o));
        if !staffed && !self.queues[queue].wait_when_empty {
            // Nobody is logged in to take it: waiting would only delay the overflow.
            let node = self.queues[queue].overflow.clone();
            self.overflow(call, node, now, &mut out);
            return Ok(out);
        }
        self.dispatch(now, &[], &mut out);
        // Not offered at once: the caller hears their place and the wait now, then
        // every `announce_every`.
        let announces = !self.queues[queue].announce_every.is_zero();
        if announces && self.calls.get(&call).is_some_and(|c| c.ringing.is_empty()) {
            let (position, wait) = (self.position(call), self.estimated_wait(call));
            if let (Some(position), Some(wait)) = (position, wait) {
                out.push(Action::Announce {
                    call,
                    position,
                    wait,
                });
            }
        }
        Ok(out)
    }

    /// Limits how long a waiting call may wait (the dial plan's `max_wait`), on top of
    /// its queue's limit; the earlier of the two sends it to the overflow.
    pub fn limit_wait(&mut self, call: CallKey, max_wait: Duration) {
        if let Some(c) = self.calls.get_mut(&call) {
            c.max_wait = Some(max_wait);
        }
    }

    /// The caller left the queue (hung up, or pressed the key to leave). Unknown or
    /// already connected calls are ignored.
    pub fn leave(&mut self, call: CallKey, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        if let Some(c) = self.calls.remove(&call) {
            self.release_rings(&c, None, "caller_gone", now, &mut out);
            self.dispatch(now, &[], &mut out);
        }
        out
    }

    /// The agent picked up. Accepted (`Connect`) if the agent was ringing for the call,
    /// or is free and the call still waits in one of its queues (an answer that crossed
    /// a timeout's CANCEL). Otherwise nothing is returned and the runtime hangs up
    /// the agent leg.
    pub fn answered(&mut self, call: CallKey, agent: &str, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        let (Some(a), Some(c)) = (self.agents.get(agent), self.calls.get(&call)) else {
            return out;
        };
        let late = a.state == AgentState::Available && a.penalty(&c.queue).is_some();
        if a.state != (AgentState::Ringing { call }) && !late {
            return out;
        }
        let c = self.calls.remove(&call).expect("call waits");
        out.push(Action::Connect {
            call,
            agent: agent.to_string(),
        });
        self.release_rings(&c, Some(agent), "answered_elsewhere", now, &mut out);
        let a = self.agents.get_mut(agent).expect("agent exists");
        a.calls_taken += 1;
        a.missed_in_a_row = 0;
        a.busy_until = None;
        a.handling = Some((c.queue, now));
        set_state(a, AgentState::OnCall { call }, "answered", now, &mut out);
        self.dispatch(now, &[], &mut out);
        out
    }

    /// The runtime saw a ring fail. Stale reports (the ring already ended) are ignored.
    pub fn ring_failed(
        &mut self,
        call: CallKey,
        agent: &str,
        why: RingFailure,
        now: Instant,
    ) -> Vec<Action> {
        let mut out = Vec::new();
        if self.agents.get(agent).map(|a| &a.state) == Some(&AgentState::Ringing { call }) {
            self.fail_ring(call, agent, why, now, &mut out);
            self.dispatch(now, &[], &mut out);
        }
        out
    }

    /// The bridged call is over (either side hung up, or it was transferred away).
    /// The agent goes to wrap-up, or applies a logout/pause asked for during the call.
    pub fn call_ended(&mut self, agent: &str, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        let Some(a) = self.agents.get_mut(agent) else {
            return out;
        };
        if !matches!(a.state, AgentState::OnCall { .. }) {
            return out;
        }
        a.last_call_end = Some(now);
        let wrap_up = a
            .handling
            .as_ref()
            .and_then(|(q, _)| self.queues.get(q))
            .map_or(Duration::ZERO, |q| q.wrap_up);
        let times = &mut self.handle_times;
        match a.after_call.take() {
            Some(AfterCall::Logout) => {
                finish_handling(times, a, now);
                set_state(a, AgentState::LoggedOut, "logout", now, &mut out);
            }
            Some(AfterCall::Pause(reason)) => {
                finish_handling(times, a, now);
                set_state(a, AgentState::Paused { reason }, "", now, &mut out);
            }
            None if wrap_up.is_zero() => {
                finish_handling(times, a, now);
                set_state(a, AgentState::Available, "call_ended", now, &mut out);
            }
            None => {
                let until = now + wrap_up;
                set_state(a, AgentState::WrapUp { until }, "call_ended", now, &mut out);
            }
        }
        self.dispatch(now, &[agent.to_string()], &mut out);
        out
    }

    /// The agent finished after-call work early (keyed the outcome).
    pub fn wrap_up_done(&mut self, agent: &str, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        if let Some(a) = self.agents.get_mut(agent) {
            if matches!(a.state, AgentState::WrapUp { .. }) {
                finish_handling(&mut self.handle_times, a, now);
                set_state(a, AgentState::Available, "wrap_up_done", now, &mut out);
                self.dispatch(now, &[agent.to_string()], &mut out);
            }
        }
        out
    }

    /// Runs the timers due at `now`: max wait, ring timeouts, wrap-up ends, busy
    /// retries and announcements, then offers calls to whoever became free.
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        // Max wait first, so a call about to overflow is not rung again.
        let overflowing: Vec<(CallKey, String)> = self
            .calls
            .values()
            .filter(|c| self.max_wait_at(c).is_some_and(|t| t <= now))
            .map(|c| (c.key, self.queues[&c.queue].overflow.clone()))
            .collect();
        for (key, node) in overflowing {
            self.overflow(key, node, now, &mut out);
        }
        let timed_out: Vec<(CallKey, AgentId)> = self
            .calls
            .values()
            .flat_map(|c| {
                let due = c.ringing.iter().filter(|(_, t)| **t <= now);
                due.map(|(a, _)| (c.key, a.clone()))
            })
            .collect();
        for (call, agent) in timed_out {
            out.push(Action::CancelRing {
                call,
                agent: agent.clone(),
                failure: Some(RingFailure::NoAnswer),
            });
            self.fail_ring(call, &agent, RingFailure::NoAnswer, now, &mut out);
        }
        let mut freed = Vec::new();
        for a in self.agents.values_mut() {
            if a.busy_until.is_some_and(|t| t <= now) {
                a.busy_until = None;
            }
            if matches!(a.state, AgentState::WrapUp { until } if until <= now) {
                finish_handling(&mut self.handle_times, a, now);
                set_state(a, AgentState::Available, "wrap_up_end", now, &mut out);
                freed.push(a.id.clone());
            }
        }
        self.dispatch(now, &freed, &mut out);
        for key in self.service_order(None) {
            let c = &self.calls[&key];
            let every = self.queues[&c.queue].announce_every;
            if every.is_zero() || c.last_announce + every > now {
                continue;
            }
            let position = self.position(key).expect("call waits");
            let wait = self.estimated_wait(key).expect("call waits");
            let c = self.calls.get_mut(&key).expect("call waits");
            // Behind by more than a period (a late poll): restart from now, no burst.
            let next = c.last_announce + every;
            c.last_announce = if next + every <= now { now } else { next };
            out.push(Action::Announce {
                call: key,
                position,
                wait,
            });
        }
        out
    }

    /// The earliest time `poll` has something to do, if anything is timed.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let calls = self.calls.values().flat_map(|c| {
            let q = &self.queues[&c.queue];
            let announce =
                (!q.announce_every.is_zero()).then(|| c.last_announce + q.announce_every);
            c.ringing
                .values()
                .copied()
                .chain(self.max_wait_at(c))
                .chain(announce)
        });
        let agents = self.agents.values().flat_map(|a| {
            let wrap = match a.state {
                AgentState::WrapUp { until } => Some(until),
                _ => None,
            };
            wrap.into_iter().chain(a.busy_until)
        });
        calls.chain(agents).min()
    }

    /// The call's 1-based place among the calls of its queue, in service order, counting
    /// those ahead of it waiting on other nodes.
    pub fn position(&self, call: CallKey) -> Option<usize> {
        let c = self.calls.get(&call)?;
        let order = self.service_order(Some(&c.queue));
        let here = order.iter().position(|k| *k == call)? + 1;
        let ahead = |(q, p, arrived): &&(QueueName, i32, Instant)| {
            *q == c.queue && (*p > c.priority || (*p == c.priority && *arrived < c.arrived))
        };
        Some(here + self.waiting_elsewhere.iter().filter(ahead).count())
    }

    /// The callers waiting on the other nodes of a cluster, as last read: (queue,
    /// priority, arrived). Only the places announced take them in.
    pub fn set_waiting_elsewhere(&mut self, waiting: Vec<(QueueName, i32, Instant)>) {
        self.waiting_elsewhere = waiting;
    }

    /// Estimated time until the call is answered:
    ///
    /// `wait = ceil(position / max(working, 1)) × average_handle`
    ///
    /// where `average_handle` is the mean talk + wrap-up time of the queue's last 20
    /// finished calls (the queue's `default_handle` before any), and `working` counts
    /// the queue's members who are logged in and not paused. With nobody working it
    /// still answers as for one agent, so an announcement always has a number.
    pub fn estimated_wait(&self, call: CallKey) -> Option<Duration> {
        let position = self.position(call)?;
        let queue = &self.calls[&call].queue;
        let working = self
            .agents
            .values()
            .filter(|a| a.working() && a.penalty(queue).is_some())
            .count();
        let rounds = position.div_ceil(working.max(1));
        let average = match self.handle_times.get(queue) {
            Some(s) if !s.is_empty() => s.iter().sum::<Duration>() / s.len() as u32,
            _ => self.queues[queue].default_handle,
        };
        Some(average * rounds as u32)
    }

    pub fn agent(&self, id: &str) -> Option<&Agent> {
        self.agents.get(id)
    }

    /// All agents, in ID order.
    pub fn agents(&self) -> impl Iterator<Item = &Agent> {
        self.agents.values()
    }

    pub fn queues(&self) -> impl Iterator<Item = &QueueConfig> {
        self.queues.values()
    }

    pub fn call(&self, call: CallKey) -> Option<&WaitingCall> {
        self.calls.get(&call)
    }

    /// The calls waiting in `queue`, in service order.
    pub fn waiting(&self, queue: &str) -> Vec<&WaitingCall> {
        let order = self.service_order(Some(queue));
        order.iter().map(|k| &self.calls[k]).collect()
    }

    fn agent_mut(&mut self, id: &str) -> Result<&mut Agent, AcdError> {
        self.agents
            .get_mut(id)
            .ok_or_else(|| AcdError::UnknownAgent(id.to_string()))
    }

    /// When the call overflows: the queue's `max_wait` or the call's own, whichever
    /// comes first (zero: no limit).
    fn max_wait_at(&self, c: &WaitingCall) -> Option<Instant> {
        let q = &self.queues[&c.queue];
        [Some(q.max_wait), c.max_wait]
            .into_iter()
            .flatten()
            .filter(|w| !w.is_zero())
            .min()
            .map(|w| c.queued + w)
    }

    /// Waiting calls (of one queue, or all), in service order.
    fn service_order(&self, queue: Option<&str>) -> Vec<CallKey> {
        let mut calls: Vec<&WaitingCall> = self
            .calls
            .values()
            .filter(|c| queue.is_none_or(|q| c.queue == q))
            .collect();
        calls.sort_by_key(|c| c.order());
        calls.iter().map(|c| c.key).collect()
    }

    /// Logout or pause: now, or after the call if on one.
    fn leave_service(
        &mut self,
        id: &str,
        what: AfterCall,
        now: Instant,
    ) -> Result<Vec<Action>, AcdError> {
        let mut out = Vec::new();
        let agent = self.agent_mut(id)?;
        match agent.state {
            AgentState::LoggedOut => return Err(AcdError::NotLoggedIn(id.to_string())),
            AgentState::OnCall { .. } => {
                agent.after_call = Some(what);
                return Ok(out);
            }
            _ => {}
        }
        self.take_ring(id, &mut out);
        let agent = self.agents.get_mut(id).expect("agent exists");
        finish_handling(&mut self.handle_times, agent, now);
        agent.busy_until = None;
        let state = match what {
            AfterCall::Logout => AgentState::LoggedOut,
            AfterCall::Pause(reason) => AgentState::Paused { reason },
        };
        set_state(agent, state, "logout", now, &mut out);
        self.dispatch(now, &[], &mut out);
        Ok(out)
    }

    /// Withdraws the agent's ring, if any, with a `CancelRing`. The caller sets the
    /// agent's new state.
    fn take_ring(&mut self, id: &str, out: &mut Vec<Action>) {
        let Some(AgentState::Ringing { call }) = self.agents.get(id).map(|a| &a.state) else {
            return;
        };
        if let Some(c) = self.calls.get_mut(call) {
            c.ringing.remove(id);
        }
        out.push(Action::CancelRing {
            call: *call,
            agent: id.to_string(),
            failure: None,
        });
    }

    /// Cancels the rings of a call that has left the queue, except the answering
    /// agent's; those agents are free again, no miss counted.
    fn release_rings(
        &mut self,
        call: &WaitingCall,
        except: Option<&str>,
        reason: &str,
        now: Instant,
        out: &mut Vec<Action>,
    ) {
        for id in call.ringing.keys().filter(|id| Some(id.as_str()) != except) {
            out.push(Action::CancelRing {
                call: call.key,
                agent: id.clone(),
                failure: None,
            });
            if let Some(a) = self.agents.get_mut(id) {
                set_state(a, AgentState::Available, reason, now, out);
            }
        }
    }

    fn overflow(&mut self, key: CallKey, node: String, now: Instant, out: &mut Vec<Action>) {
        if let Some(c) = self.calls.remove(&key) {
            self.release_rings(&c, None, "overflow", now, out);
            out.push(Action::Overflow {
                call: key,
                queue: c.queue,
                node,
            });
        }
    }

    /// One agent's ring for a call ended without an answer. The call remembers the
    /// agent; misses count towards the automatic pause.
    fn fail_ring(
        &mut self,
        call: CallKey,
        id: &str,
        why: RingFailure,
        now: Instant,
        out: &mut Vec<Action>,
    ) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if c.ringing.remove(id).is_none() {
            return;
        }
        c.missed.insert(id.to_string());
        let max_missed = self.queues[&c.queue].max_missed;
        let Some(a) = self.agents.get_mut(id) else {
            return;
        };
        let miss = matches!(why, RingFailure::Rejected | RingFailure::NoAnswer);
        match why {
            RingFailure::Rejected | RingFailure::NoAnswer => a.missed_in_a_row += 1,
            RingFailure::Unreachable => a.reachable = false,
            RingFailure::Busy => a.busy_until = Some(now + BUSY_RETRY),
            RingFailure::Elsewhere => a.elsewhere = true,
        }
        let state = if miss && max_missed > 0 && a.missed_in_a_row >= max_missed {
            AgentState::Paused {
                reason: MISSED_REASON.to_string(),
            }
        } else {
            AgentState::Available
        };
        set_state(a, state, why.as_str(), now, out);
    }

    /// Offers waiting calls to free agents until no more pairs fit: first the best call
    /// for each agent in `first` (just became free), then every unoffered call in
    /// service order. Offering only takes agents, so one pass reaches the fixpoint.
    fn dispatch(&mut self, now: Instant, first: &[AgentId], out: &mut Vec<Action>) {
        for id in first {
            if let Some(call) = self.best_call_for(id, now) {
                self.offer(call, now, out);
            }
        }
        for call in self.service_order(None) {
            if self.calls[&call].ringing.is_empty() {
                self.offer(call, now, out);
            }
        }
    }

    /// The unoffered call a free agent should take: highest priority, then earliest
    /// arrival, then the agent's lowest-penalty queue.
    fn best_call_for(&self, id: &str, now: Instant) -> Option<CallKey> {
        let a = self.agents.get(id).filter(|a| a.offerable(now))?;
        self.calls
            .values()
            .filter(|c| c.ringing.is_empty())
            .filter(|c| c.only.as_ref().is_none_or(|o| *o == a.id))
            .filter_map(|c| match &c.only {
                Some(_) => Some((c, 0)),
                None => a.penalty(&c.queue).map(|p| (c, p)),
            })
            .min_by_key(|(c, p)| (Reverse(c.priority), c.arrived, *p, c.seq))
            .map(|(c, _)| c.key)
    }

    /// Rings the agent(s) the call's queue strategy picks among the free members of
    /// the lowest penalty, skipping those who missed it unless all have.
    fn offer(&mut self, key: CallKey, now: Instant, out: &mut Vec<Action>) {
        let c = &self.calls[&key];
        let q = &self.queues[&c.queue];
        let candidates: Vec<(&Agent, u32)> = self
            .agents
            .values()
            .filter(|a| a.offerable(now))
            .filter_map(|a| match &c.only {
                Some(o) => (*o == a.id).then_some((a, 0)),
                None => a.penalty(&q.name).map(|p| (a, p)),
            })
            .collect();
        let fresh: Vec<(&Agent, u32)> = candidates
            .iter()
            .filter(|(a, _)| !c.missed.contains(&a.id))
            .copied()
            .collect();
        let restart = fresh.is_empty();
        let pool = if restart { candidates } else { fresh };
        let Some(best) = pool.iter().map(|(_, p)| *p).min() else {
            return;
        };
        let tier: Vec<&Agent> = pool
            .iter()
            .filter(|(_, p)| *p == best)
            .map(|(a, _)| *a)
            .collect();
        let chosen: Vec<&Agent> = match q.strategy {
            Strategy::RingAll => tier,
            Strategy::LongestIdle => tier
                .into_iter()
                .min_by_key(|a| (a.idle_since(), &a.id))
                .into_iter()
                .collect(),
            Strategy::FewestCalls => tier
                .into_iter()
                .min_by_key(|a| (a.calls_taken, a.idle_since(), &a.id))
                .into_iter()
                .collect(),
            Strategy::RoundRobin => {
                let last = self.rr_last.get(&q.name);
                let next = tier.iter().find(|a| last.is_none_or(|l| a.id > *l));
                next.or(tier.first()).copied().into_iter().collect()
            }
        };
        let chosen: Vec<AgentId> = chosen.iter().map(|a| a.id.clone()).collect();
        let (queue, timeout_at) = (q.name.clone(), now + q.ring_timeout);
        if q.strategy == Strategy::RoundRobin {
            self.rr_last.insert(queue.clone(), chosen[0].clone());
        }
        let c = self.calls.get_mut(&key).expect("call waits");
        if restart {
            c.missed.clear();
        }
        for id in chosen {
            c.ringing.insert(id.clone(), timeout_at);
            out.push(Action::Ring {
                call: key,
                agent: id.clone(),
                queue: queue.clone(),
                timeout_at,
            });
            let a = self.agents.get_mut(&id).expect("agent exists");
            set_state(a, AgentState::Ringing { call: key }, &queue, now, out);
        }
    }
}
