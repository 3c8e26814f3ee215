//! The ACD's data: queue settings, agents, waiting calls, actions and errors.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::{Duration, Instant};

use super::{AgentId, CallKey, QueueName};

/// Which of the eligible agents (same lowest penalty) is offered a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strategy {
    /// The agent idle longest (earliest end of last call, or login if none yet).
    #[default]
    LongestIdle,
    /// The next member after the last one offered, in agent-ID order.
    RoundRobin,
    /// Every eligible agent at once; the first to answer wins.
    RingAll,
    /// The agent who has taken the fewest calls, then the one idle longest.
    FewestCalls,
}

/// One queue's settings, reloadable with [`Acd::set_queues`](super::Acd::set_queues).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueConfig {
    pub name: QueueName,
    pub strategy: Strategy,
    /// How long one agent rings before the call goes to the next one. Must not be zero.
    pub ring_timeout: Duration,
    /// From queueing until the call overflows; zero means no limit.
    pub max_wait: Duration,
    /// After-call work time before the agent is offered calls again; zero means none.
    pub wrap_up: Duration,
    /// Missed offers in a row that pause an agent with reason "missed"; zero means never.
    pub max_missed: u32,
    /// Period of position/estimated-wait announcements; zero means never.
    pub announce_every: Duration,
    /// Dial-plan node a call goes to when it overflows.
    pub overflow: String,
    /// Handle time assumed for the wait estimate until calls have finished in this queue.
    pub default_handle: Duration,
    /// Hold callers even when no member is logged in (by default they overflow at once:
    /// nobody can take the call, so the caller gets the callback offer without waiting).
    pub wait_when_empty: bool,
    /// When the wallboard raises its banner for this queue; the ACD does not use it.
    pub alert: Alert,
}

/// A queue's wallboard thresholds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Alert {
    /// Today's service level below this percentage (0: never).
    pub service_level_pct: u8,
    /// A caller waiting longer than this (zero: never).
    #[serde(rename = "longest_wait_secs", serialize_with = "as_secs")]
    pub longest_wait: Duration,
}

fn as_secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_secs())
}

impl QueueConfig {
    /// A queue with everyday defaults: longest idle, 15 s ring, 5 min wait, 10 s wrap-up,
    /// pause after 3 misses, announce every 60 s, 180 s assumed handle time; the wallboard
    /// warns below 80 % service level or past 60 s of waiting.
    pub fn new(name: impl Into<String>) -> QueueConfig {
        QueueConfig {
            name: name.into(),
            strategy: Strategy::LongestIdle,
            ring_timeout: Duration::from_secs(15),
            max_wait: Duration::from_secs(300),
            wrap_up: Duration::from_secs(10),
            max_missed: 3,
            announce_every: Duration::from_secs(60),
            overflow: String::new(),
            default_handle: Duration::from_secs(180),
            wait_when_empty: false,
            alert: Alert {
                service_level_pct: 80,
                longest_wait: Duration::from_secs(60),
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum AgentState {
    #[default]
    LoggedOut,
    Available,
    Ringing {
        call: CallKey,
    },
    OnCall {
        call: CallKey,
    },
    WrapUp {
        until: Instant,
    },
    Paused {
        reason: String,
    },
}

impl AgentState {
    pub fn name(&self) -> StateName {
        match self {
            AgentState::LoggedOut => StateName::LoggedOut,
            AgentState::Available => StateName::Available,
            AgentState::Ringing { .. } => StateName::Ringing,
            AgentState::OnCall { .. } => StateName::OnCall,
            AgentState::WrapUp { .. } => StateName::WrapUp,
            AgentState::Paused { .. } => StateName::Paused,
        }
    }
}

/// An agent state without its data, as stored in `agent_states.state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StateName {
    LoggedOut,
    Available,
    Ringing,
    OnCall,
    WrapUp,
    Paused,
}

impl StateName {
    /// The value for the `agent_states.state` column.
    pub fn as_str(self) -> &'static str {
        match self {
            StateName::LoggedOut => "logged_out",
            StateName::Available => "available",
            StateName::Ringing => "ringing",
            StateName::OnCall => "on_call",
            StateName::WrapUp => "wrap_up",
            StateName::Paused => "paused",
        }
    }
}

impl fmt::Display for StateName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a logout or pause asked for during a call; it applies when the call ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterCall {
    Logout,
    Pause(String),
}

/// Why an offer to an agent did not turn into a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RingFailure {
    /// The agent declined: counts as a miss.
    Rejected,
    /// Nobody picked up: counts as a miss.
    NoAnswer,
    /// The phone could not be reached: the agent is marked unreachable until the
    /// runtime says otherwise (`set_reachable`). Not a miss.
    Unreachable,
    /// The phone said busy: the agent is skipped for [`BUSY_RETRY`](super::BUSY_RETRY). Not a miss.
    Busy,
    /// Another node of the cluster claimed the agent first: not offered here until that
    /// node lets go ([`Acd::set_elsewhere`](super::Acd::set_elsewhere)). Not a miss.
    Elsewhere,
}

impl RingFailure {
    /// The `call_legs.end_cause` vocabulary, also used as the state-change reason.
    pub fn as_str(self) -> &'static str {
        match self {
            RingFailure::Rejected => "rejected",
            RingFailure::NoAnswer => "no_answer",
            RingFailure::Unreachable => "unreachable",
            RingFailure::Busy => "busy",
            RingFailure::Elsewhere => "claimed_elsewhere",
        }
    }
}

/// An agent as the ACD sees it; read-only outside this module.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Agent {
    pub id: AgentId,
    pub state: AgentState,
    /// Has a live registration; only reachable agents are offered calls.
    pub reachable: bool,
    /// Held by another node of the cluster (ringing, talking or in wrap-up there).
    pub elsewhere: bool,
    /// Queues served and their penalty; a lower penalty is offered calls first.
    pub memberships: Vec<(QueueName, u32)>,
    pub login_at: Option<Instant>,
    pub last_call_end: Option<Instant>,
    pub calls_taken: u32,
    pub missed_in_a_row: u32,
    /// A logout or pause asked for during the current call.
    pub after_call: Option<AfterCall>,
    /// Not offered calls before this, after a busy phone.
    pub busy_until: Option<Instant>,
    /// Queue and answer time of the call being handled (talk and wrap-up), for the
    /// handle-time average.
    pub(super) handling: Option<(QueueName, Instant)>,
}

impl Agent {
    pub(super) fn new(id: &str) -> Agent {
        Agent {
            id: id.to_string(),
            ..Agent::default()
        }
    }

    /// The penalty in `queue`, or `None` if not a member (duplicates: the lowest).
    pub fn penalty(&self, queue: &str) -> Option<u32> {
        self.memberships
            .iter()
            .filter(|(q, _)| q == queue)
            .map(|(_, p)| *p)
            .min()
    }

    /// Idle since the end of the last call, or since login if none yet.
    pub fn idle_since(&self) -> Option<Instant> {
        self.last_call_end.or(self.login_at)
    }

    /// May be offered a call now (queue membership aside).
    pub fn offerable(&self, now: Instant) -> bool {
        self.state == AgentState::Available
            && self.reachable
            && !self.elsewhere
            && self.busy_until.is_none_or(|t| t <= now)
    }

    /// Logged in and not paused: counts towards the queue's wait estimate.
    pub(super) fn working(&self) -> bool {
        !matches!(
            self.state,
            AgentState::LoggedOut | AgentState::Paused { .. }
        )
    }
}

/// A call waiting in a queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitingCall {
    pub key: CallKey,
    pub queue: QueueName,
    /// Higher is served first.
    pub priority: i32,
    /// The caller's original arrival; orders calls of equal priority.
    pub arrived: Instant,
    /// When queued; `max_wait` counts from here.
    pub queued: Instant,
    /// Agents ringing for this call, each with its ring timeout.
    pub ringing: BTreeMap<AgentId, Instant>,
    /// Agents who failed to take this call; not offered it again while others can be.
    pub missed: BTreeSet<AgentId>,
    /// The last announcement, or `queued` before the first.
    pub last_announce: Instant,
    /// Enqueue order, the last tie-break.
    pub(super) seq: u64,
    /// The dial plan's limit on this call's wait, on top of the queue's.
    pub(super) max_wait: Option<Duration>,
    /// Offered to this agent only (a transfer to a named agent).
    pub(super) only: Option<AgentId>,
}

impl WaitingCall {
    /// Service order: higher priority, then earlier arrival, then earlier enqueue.
    pub(super) fn order(&self) -> (Reverse<i32>, Instant, u64) {
        (Reverse(self.priority), self.arrived, self.seq)
    }
}

/// What the ACD asks the runtime to do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send an INVITE for `call` to the agent's contact(s); the ACD gives up at `timeout_at`.
    Ring {
        call: CallKey,
        agent: AgentId,
        queue: QueueName,
        timeout_at: Instant,
    },
    /// CANCEL that INVITE; no `ring_failed` is expected for it. `failure` says why the
    /// ring failed (the ring timeout, the phone gone); `None` when it was withdrawn
    /// (the caller left, another agent answered, the agent paused).
    CancelRing {
        call: CallKey,
        agent: AgentId,
        failure: Option<RingFailure>,
    },
    /// The answer was accepted: bridge the caller to the agent.
    Connect { call: CallKey, agent: AgentId },
    /// Tell the caller their place in the queue.
    Announce {
        call: CallKey,
        position: usize,
        wait: Duration,
    },
    /// `max_wait` passed (or the queue was removed); the call has left the queue.
    Overflow {
        call: CallKey,
        queue: QueueName,
        node: String,
    },
    /// An agent's state changed. `reason` is the pause reason, the queue for `ringing`,
    /// a ring's end cause (`rejected`, `no_answer`, `unreachable`, `busy`, `caller_gone`,
    /// `answered_elsewhere`, `overflow`), or the event: `login`, `logout`, `resume`,
    /// `answered`, `call_ended`, `wrap_up_end`, `wrap_up_done`, `membership`, `removed`.
    AgentState {
        agent: AgentId,
        state: StateName,
        reason: String,
        at: Instant,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcdError {
    UnknownAgent(AgentId),
    UnknownQueue(QueueName),
    /// The call is already waiting or with an agent.
    DuplicateCall(CallKey),
    NotLoggedIn(AgentId),
    NotPaused(AgentId),
    /// Not available (or not reachable) for a call hotline places.
    NotFree(AgentId),
}

impl fmt::Display for AcdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AcdError::UnknownAgent(id) => write!(f, "unknown agent {id}"),
            AcdError::UnknownQueue(q) => write!(f, "unknown queue {q}"),
            AcdError::DuplicateCall(c) => write!(f, "call {c} is already queued or connected"),
            AcdError::NotLoggedIn(id) => write!(f, "agent {id} is not logged in"),
            AcdError::NotFree(id) => write!(f, "agent {id} is not free"),
            AcdError::NotPaused(id) => write!(f, "agent {id} is not paused"),
        }
    }
}

impl std::error::Error for AcdError {}
