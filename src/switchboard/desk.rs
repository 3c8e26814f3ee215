//! The agents' desk: registrations and feature codes from agents' phones, the ACD's
//! decisions carried out (ringing agents, announcements, overflow), the legs to agents
//! and their bridge to the caller, and the agent's outcome code after the call.
//!
//! The ACD owns who is free and who waits; this module only turns SIP and media events
//! into ACD events and ACD actions into SIP and media commands, so an agent's state can
//! never outlive the call that caused it.

use super::legs::Leg;
use super::{Host, MediaCmd, Switchboard};
use crate::acd::{self, Acd, RingFailure, StateName};
use crate::core::media::speech;
use crate::core::sdp::LocalMedia;
use crate::core::sip::endpoint::{CallRef, ConnId, Dial, EndCause, Link, Peer, RequestRef};
use crate::core::sip::registrar::{Binding, Registrar, Transport};
use crate::ivr::{Input as IvrInput, QueueOutcome, Waiting};
use crate::store::{AgentWrite, Write};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// How often registered phones are asked whether they are still there.
pub(super) const PING_EVERY: Duration = Duration::from_secs(30);

/// A customer call in a queue or with an agent.
pub(super) struct Queued {
    pub bridged: Option<CallRef>,
    pub queue: String,
    /// Said before the first announcement ("transferring you"), then cleared.
    pub intro: Vec<&'static str>,
}

pub(super) struct Desk {
    pub registrar: Registrar,
    pub acd: Acd,
    pub features: acd::config::Features,
    /// Agent ID → extension, and back.
    pub extension: HashMap<String, String>,
    pub agent_of: HashMap<String, String>,
    pub legs: HashMap<CallRef, Leg>,
    /// (customer call, agent) → the leg ringing them.
    pub ringing: HashMap<(CallRef, String), CallRef>,
    pub queued: HashMap<CallRef, Queued>,
    pub pings: HashMap<RequestRef, (String, String)>,
    /// TCP connection each TCP-registered phone uses.
    pub tcp_links: HashMap<SocketAddr, ConnId>,
    pub next_ping: Instant,
    pub state_seq: i64,
    /// When each agent entered their current state, ms since the Unix epoch.
    pub state_since: HashMap<String, i64>,
    /// Agent-to-agent calls (consultations) under way.
    pub internal: Vec<super::internal::Internal>,
    /// A cluster node's part; `None` on a single node.
    pub node: Option<super::cluster::Node>,
    /// The agent whose state another node changed and this one is following: that
    /// change is not noted again.
    pub mirroring: Option<String>,
}

impl Desk {
    pub(super) fn new(
        registrar: Registrar,
        acd: Acd,
        features: acd::config::Features,
        now: Instant,
        node: Option<super::cluster::Node>,
    ) -> Self {
        Desk {
            registrar,
            acd,
            features,
            extension: HashMap::new(),
            agent_of: HashMap::new(),
            legs: HashMap::new(),
            ringing: HashMap::new(),
            queued: HashMap::new(),
            pings: HashMap::new(),
            tcp_links: HashMap::new(),
            next_ping: now + PING_EVERY,
            state_seq: 0,
            state_since: HashMap::new(),
            internal: Vec::new(),
            node,
            mirroring: None,
        }
    }

    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        [
            self.acd.poll_timeout(),
            self.registrar.poll_timeout(),
            Some(self.next_ping),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Where agent `agent`'s phone is reached: its latest registration, or on a cluster
    /// node the edge, which knows the registrations.
    pub(super) fn agent_phone(&self, agent: &str) -> Option<(Peer, Binding)> {
        let ext = self.extension.get(agent)?;
        if let Some(node) = &self.node {
            return Some(node.phone(ext));
        }
        let b = self.registrar.contacts(ext).into_iter().last()?;
        Some((peer_of(&b, &self.tcp_links)?, b))
    }

    /// Whether `call` is waiting in a queue (keys go to the queue, not the dial plan).
    pub(super) fn is_queued(&self, call: CallRef) -> bool {
        self.queued.get(&call).is_some_and(|q| q.bridged.is_none())
    }
}

pub(super) fn peer_of(b: &Binding, tcp: &HashMap<SocketAddr, ConnId>) -> Option<Peer> {
    let link = match b.transport {
        Transport::Udp => Link::Udp,
        Transport::Tcp => Link::Tcp(*tcp.get(&b.source)?),
    };
    Some(Peer {
        link,
        addr: b.source,
    })
}

/// The user part of a To/From header value.
pub(super) fn header_user(value: &str) -> Option<&str> {
    let uri = crate::core::sip::dialog::addr_uri(value);
    let rest = uri.split_once(':')?.1;
    let user = rest.split_once('@')?.0;
    Some(user.split(';').next().unwrap_or(user))
}

impl<H: Host> Switchboard<H> {
    // ---- queueing ----

    /// Queues the call (for the dial plan or a transfer, which says `intro` first). The
    /// caller hears at once where they wait and for how long, unless an agent rings.
    pub(super) fn enqueue(
        &mut self,
        now: Instant,
        call: CallRef,
        queue: &str,
        priority: i32,
        intro: &[&'static str],
    ) {
        self.enqueue_for(now, call, queue, priority, intro, None)
    }

    /// As [`Self::enqueue`], for `only` that agent when given (a transfer to a named
    /// agent: the caller waits for them, then gets the queue's overflow).
    pub(super) fn enqueue_for(
        &mut self,
        now: Instant,
        call: CallRef,
        queue: &str,
        priority: i32,
        intro: &[&'static str],
        only: Option<&str>,
    ) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        let (arrived, id) = (c.arrived, c.id.clone());
        if let Some(c) = self.calls.get_mut(&call) {
            c.was_queued = true;
        }
        match self
            .desk
            .acd
            .enqueue_for(call.0, queue, priority, arrived, now, only)
        {
            Ok(actions) => {
                let queued = Queued {
                    bridged: None,
                    queue: queue.to_string(),
                    intro: intro.to_vec(),
                };
                self.desk.queued.insert(call, queued);
                self.out.store(Write::Agent(AgentWrite::CallQueued {
                    call: id,
                    at_ms: self.now.wall_ms,
                }));
                let music = self.clips(call, &["hold_music"]).into_iter().next();
                self.out.media(MediaCmd::Hold { call, music });
                self.acd_actions(now, actions);
                // Rung at once: no announcement, but the intro is still said.
                let intro = self
                    .desk
                    .queued
                    .get_mut(&call)
                    .map(|q| std::mem::take(&mut q.intro));
                if let Some(intro) = intro.filter(|i| !i.is_empty()) {
                    self.play(call, &intro, false);
                }
            }
            Err(e) => {
                tracing::warn!(%e, queue, "cannot queue the call; overflowing");
                self.ivr_step(now, call, IvrInput::QueueOutcome(QueueOutcome::Overflow));
            }
        }
    }

    /// A key while waiting: the leave key takes the caller to the overflow (callback).
    pub(super) fn queue_key(&mut self, now: Instant, call: CallRef, key: char) {
        if key != self.desk.features.leave_queue_key {
            return;
        }
        self.desk.queued.remove(&call);
        let actions = self.desk.acd.leave(call.0, now);
        self.acd_actions(now, actions);
        self.event(call, "queue_left", String::new());
        self.ivr_step(now, call, IvrInput::QueueOutcome(QueueOutcome::Overflow));
    }

    /// Carries out what the ACD decided.
    pub(super) fn acd_actions(&mut self, now: Instant, actions: Vec<acd::Action>) {
        for a in actions {
            match a {
                acd::Action::Ring {
                    call, agent, queue, ..
                } => self.offer(now, CallRef(call), &agent, &queue),
                acd::Action::CancelRing {
                    call,
                    agent,
                    failure,
                } => {
                    if let Some(leg) = self.desk.ringing.remove(&(CallRef(call), agent)) {
                        self.end_leg(leg, failure.map_or("cancelled", RingFailure::as_str));
                        self.endpoint.hangup(now, leg, EndCause::Cancelled);
                    }
                }
                acd::Action::Connect { call, agent } => self.connect(now, CallRef(call), &agent),
                acd::Action::Announce {
                    call,
                    position,
                    wait,
                } => self.announce(CallRef(call), position, wait),
                acd::Action::Overflow { call, .. } => {
                    let call = CallRef(call);
                    self.desk.queued.remove(&call);
                    self.out.media(MediaCmd::Hold { call, music: None });
                    let waiting = self.plan_waiting(call);
                    if waiting == Some(Waiting::Agent) {
                        // Queued again by a transfer or an escalation: the caller gets
                        // the overflow of the queue node that first took them.
                        self.event(call, "queue", "overflow after transfer".into());
                    }
                    match waiting {
                        Some(Waiting::Queue | Waiting::Agent) => {
                            let overflow = IvrInput::QueueOutcome(QueueOutcome::Overflow);
                            self.ivr_step(now, call, overflow);
                        }
                        // No dial plan: nothing to offer instead of the queue.
                        _ => self.endpoint.hangup(now, call, EndCause::Completed),
                    }
                }
                acd::Action::AgentState {
                    agent,
                    state,
                    reason,
                    ..
                } => {
                    self.desk
                        .state_since
                        .insert(agent.clone(), self.now.wall_ms);
                    let mirrored = self.desk.mirroring.as_ref() == Some(&agent)
                        && matches!(
                            state,
                            StateName::LoggedOut | StateName::Available | StateName::Paused
                        );
                    if mirrored {
                        tracing::info!(%agent, state = state.as_str(), %reason, "agent state, as another node noted it");
                        continue;
                    }
                    tracing::info!(%agent, state = state.as_str(), %reason, "agent state");
                    if reason == "wrap_up_end" {
                        self.wrap_up_over(now, &agent);
                    }
                    self.claim_follows(&agent, state);
                    // On a cluster node an offer is noted once its claim is won (see
                    // `on_claimed`), and a lost claim not at all: the agent's history is
                    // the one node's that holds them.
                    let unclaimed = self.desk.node.is_some()
                        && (state == StateName::Ringing
                            || reason == RingFailure::Elsewhere.as_str());
                    if !unclaimed {
                        self.note_state(&agent, state, reason);
                    }
                }
            }
        }
    }

    /// Notes an agent's new state in the store.
    pub(super) fn note_state(&mut self, agent: &str, state: StateName, reason: String) {
        self.desk.state_seq += 1;
        self.out.store(Write::Agent(AgentWrite::State {
            agent: agent.to_string(),
            at_ms: self.now.wall_ms,
            seq: self.desk.state_seq,
            state: state.as_str(),
            reason,
        }));
    }

    /// Rings `agent` for `call`: an INVITE to their phone with the call's context.
    pub(super) fn ring(&mut self, now: Instant, call: CallRef, agent: &str, queue: &str) {
        let target = self.desk.agent_phone(agent);
        let (Some((peer, binding)), Some(c)) = (target, self.calls.get(&call)) else {
            let actions = self
                .desk
                .acd
                .ring_failed(call.0, agent, RingFailure::Unreachable, now);
            return self.acd_actions(now, actions);
        };
        let (caller_ip, record_id, caller) = (c.local_ip, c.id.clone(), c.caller.clone());
        let customer = c
            .ivr
            .as_ref()
            .and_then(|s| s.customer().map(str::to_string));
        let local_host = self.local_host_for(binding.source);
        let ip = local_host.parse().unwrap_or(caller_ip);
        let Some(port) = self.take_rtp_port(ip) else {
            tracing::warn!("no free RTP port for an agent leg");
            let actions = self
                .desk
                .acd
                .ring_failed(call.0, agent, RingFailure::Busy, now);
            return self.acd_actions(now, actions);
        };
        let media = LocalMedia {
            ip,
            port,
            session_id: self.session_id(),
            version: 1,
        };
        let mut headers = vec![
            ("X-Hotline-Call".to_string(), record_id.clone()),
            ("X-Hotline-Queue".to_string(), queue.to_string()),
        ];
        if let Some(customer) = customer {
            headers.push(("X-Hotline-Customer".to_string(), customer));
        }
        let leg = self.endpoint.dial(
            now,
            Dial {
                peer,
                uri: binding.uri.clone(),
                local_host,
                from_user: caller,
                from_display: Some(format!("{queue} queue")),
                headers,
                media,
                auth: None,
            },
        );
        // Numbered per call, across queues (a transferred call keeps counting).
        let seq = self.calls.get_mut(&call).map_or(1, |c| {
            c.legs += 1;
            c.legs
        });
        self.out.store(Write::Agent(AgentWrite::LegStarted {
            call: record_id.clone(),
            seq,
            agent: agent.to_string(),
            queue: Some(queue.to_string()),
            at_ms: self.now.wall_ms,
        }));
        // The leg's media starts at once so its sockets exist; it sends once answered.
        let rtp = self.start_placed_media(leg, port);
        self.desk.ringing.insert((call, agent.to_string()), leg);
        self.desk.legs.insert(
            leg,
            Leg {
                customer: call,
                agent: agent.to_string(),
                seq,
                record_id,
                port,
                answered: false,
                wrap_up: None,
                after: None,
                keyed: String::new(),
                rtp,
                followup: None,
            },
        );
    }

    /// Where the caller waits (the queue's spoken name, `queue_NAME`, when the prompt
    /// set has one), their position and the estimated wait, in the caller's language.
    fn announce(&mut self, call: CallRef, position: usize, wait: Duration) {
        let lang = self.call_language(call);
        let (intro, queue) = match self.desk.queued.get_mut(&call) {
            Some(q) => (std::mem::take(&mut q.intro), format!("queue_{}", q.queue)),
            None => (Vec::new(), String::new()),
        };
        let mut names: Vec<&str> = intro;
        names.push(&queue);
        names.push("queue_you_are_number");
        names.extend(speech::number(position as u32, lang));
        names.push("queue_in_queue");
        names.push("queue_estimated_wait");
        names.extend(speech::minutes(wait.as_secs().div_ceil(60) as u32, lang));
        names.push("queue_press_star_callback");
        self.play(call, &names, true);
        self.event(
            call,
            "announce",
            format!("position {position} wait {}s", wait.as_secs()),
        );
    }

    /// While waiting in a queue, keys go to the queue.
    pub(super) fn waiting_in_queue(&self, call: CallRef) -> bool {
        self.desk.is_queued(call)
            && matches!(
                self.plan_waiting(call),
                Some(Waiting::Queue | Waiting::Agent)
            )
    }

    fn plan_waiting(&self, call: CallRef) -> Option<Waiting> {
        let session = self.calls.get(&call)?.ivr.as_ref()?;
        Some(session.waiting())
    }
}
