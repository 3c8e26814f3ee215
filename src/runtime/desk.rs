//! The agents' desk: registrations and feature codes from agents' phones, the ACD's
//! decisions carried out (ringing agents, announcements, overflow), the legs to agents
//! and their bridge to the caller, and the agent's outcome code after the call.
//!
//! The ACD owns who is free and who waits; this module only turns SIP and media events
//! into ACD events and ACD actions into SIP and media commands, so an agent's state can
//! never outlive the call that caused it.

use super::calls::{bind_rtp, CallCtx, Calls};
use super::media::{MediaCmd, RtpCounters};
use crate::acd::{self, Acd, RingFailure};
use crate::core::media::dtmf::Digit;
use crate::core::media::speech;
use crate::core::sdp::{Codec, LocalMedia, Offer};
use crate::core::sip::endpoint::{
    CallRef, ConnId, Dial, EndCause, EndedBy, Endpoint, IncomingCall, Link, Peer, RequestRef,
};
use crate::core::sip::message::Request;
use crate::core::sip::registrar::{
    Account, AuthOutcome, Binding, Change, ChangeKind, RegisterRequest, Registrar, Transport,
};
use crate::ivr::{Input as IvrInput, Plan, QueueOutcome, Waiting};
use crate::store::{
    now_ms, AgentRequest, AgentRow, AgentWrite, FollowUpKind, NewFollowUp, RegistrationRow, Write,
};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often registered phones are asked whether they are still there.
const PING_EVERY: Duration = Duration::from_secs(30);
/// How long an agent has to key the outcome code after the caller has gone.
const OUTCOME_TIME: Duration = Duration::from_secs(60);

/// A leg from hotline to an agent's phone.
pub(super) struct Leg {
    pub customer: CallRef,
    pub agent: String,
    /// Position among the customer call's legs (call_legs.seq).
    seq: i64,
    record_id: String,
    port: u16,
    answered: bool,
    /// The caller has gone: the agent keys the outcome code (digits so far).
    pub wrap_up: Option<String>,
    /// What an outcome code needs once the caller's call is gone: the plan (its outcome
    /// keys and calendar), the caller's number and verified account.
    after: Option<(Option<Arc<Plan>>, String, Option<String>)>,
    /// The agent's last keys during the call, to spot the escalation code.
    keyed: String,
    rtp: Arc<RtpCounters>,
}

/// A customer call in a queue or with an agent.
struct Queued {
    queue: String,
    bridged: Option<CallRef>,
}

pub(super) struct Desk {
    pub registrar: Registrar,
    pub acd: Acd,
    pub features: acd::config::Features,
    /// Agent ID → extension, and back.
    extension: HashMap<String, String>,
    agent_of: HashMap<String, String>,
    pub legs: HashMap<CallRef, Leg>,
    /// (customer call, agent) → the leg ringing them.
    ringing: HashMap<(CallRef, String), CallRef>,
    queued: HashMap<CallRef, Queued>,
    pings: HashMap<RequestRef, (String, String)>,
    /// TCP connection each TCP-registered phone uses.
    tcp_links: HashMap<SocketAddr, ConnId>,
    next_ping: Instant,
    state_seq: i64,
}

impl Desk {
    pub(super) fn new(registrar: Registrar, acd: Acd, features: acd::config::Features) -> Self {
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
            next_ping: Instant::now() + PING_EVERY,
            state_seq: 0,
        }
    }

    pub(super) fn next_timeout(&self) -> Option<Instant> {
        [
            self.acd.next_deadline(),
            self.registrar.next_deadline(),
            Some(self.next_ping),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Whether `call` is waiting in a queue (keys go to the queue, not the dial plan).
    pub(super) fn is_queued(&self, call: CallRef) -> bool {
        self.queued.get(&call).is_some_and(|q| q.bridged.is_none())
    }
}

fn peer_of(b: &Binding, tcp: &HashMap<SocketAddr, ConnId>) -> Option<Peer> {
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
fn header_user(value: &str) -> Option<&str> {
    let uri = crate::core::sip::dialog::addr_uri(value);
    let rest = uri.split_once(':')?.1;
    let user = rest.split_once('@')?.0;
    Some(user.split(';').next().unwrap_or(user))
}

impl Calls {
    // ---- agents from the database ----

    /// The agents table changed (or this is the start): accounts, queues, and at start the
    /// states and registrations agents had before a restart.
    pub(super) fn sync_agents(
        &mut self,
        now: Instant,
        agents: Vec<AgentRow>,
        restore: Option<Vec<RegistrationRow>>,
        ep: &mut Endpoint,
    ) {
        let accounts = agents
            .iter()
            .map(|a| Account {
                extension: a.extension.clone(),
                agent_id: a.id.clone(),
                ha1_sha256: a.ha1_sha256.clone(),
                ha1_md5: a.ha1_md5.clone(),
            })
            .collect();
        let changes = self.desk.registrar.set_accounts(accounts);
        self.registration_changes(now, changes, ep);
        let known: Vec<String> = self.desk.acd.agents().map(|a| a.id.clone()).collect();
        for id in known {
            if !agents.iter().any(|a| a.id == id) {
                let actions = self.desk.acd.remove_agent(&id, now);
                self.acd_actions(now, actions, ep);
            }
        }
        self.desk.extension.clear();
        self.desk.agent_of.clear();
        for a in &agents {
            self.desk
                .extension
                .insert(a.id.clone(), a.extension.clone());
            self.desk.agent_of.insert(a.extension.clone(), a.id.clone());
            let actions = self.desk.acd.upsert_agent(&a.id, a.queues.clone(), now);
            self.acd_actions(now, actions, ep);
        }
        let Some(rows) = restore else {
            return;
        };
        // After a restart: phones stay registered and agents keep their state.
        let wall = now_ms();
        let bindings = rows
            .into_iter()
            .filter_map(|r| {
                let source = r.source.parse().ok()?;
                let left = Duration::from_millis(u64::try_from(r.expires_at - wall).ok()?);
                let transport = if r.transport == "tcp" {
                    Transport::Tcp
                } else {
                    Transport::Udp
                };
                Some(Binding {
                    extension: r.extension,
                    uri: r.contact,
                    source,
                    transport,
                    expires_at: now + left,
                })
            })
            .collect();
        self.desk.registrar.restore(bindings);
        for a in &agents {
            let reachable = !self.desk.registrar.contacts(&a.extension).is_empty();
            let mut actions = self.desk.acd.set_reachable(&a.id, reachable, now);
            match a.state.as_ref().map(|(s, _, r)| (s.as_str(), r.clone())) {
                None | Some(("logged_out", _)) => {}
                Some(("paused", reason)) => {
                    actions.extend(self.desk.acd.login(&a.id, now).unwrap_or_default());
                    actions.extend(self.desk.acd.pause(&a.id, &reason, now).unwrap_or_default());
                }
                Some(_) => actions.extend(self.desk.acd.login(&a.id, now).unwrap_or_default()),
            }
            self.acd_actions(now, actions, ep);
        }
    }

    /// State changes asked for with `hotline agents state`.
    pub(super) fn agent_requests(
        &mut self,
        now: Instant,
        requests: Vec<AgentRequest>,
        ep: &mut Endpoint,
    ) {
        for r in requests {
            let result = match r.action.as_str() {
                "login" => self.desk.acd.login(&r.agent_id, now),
                "logout" => self.desk.acd.logout(&r.agent_id, now),
                "pause" => self.desk.acd.pause(&r.agent_id, &r.reason, now),
                "resume" => self.desk.acd.resume(&r.agent_id, now),
                _ => Ok(vec![]),
            };
            match result {
                Ok(actions) => self.acd_actions(now, actions, ep),
                Err(e) => {
                    tracing::warn!(agent = %r.agent_id, action = %r.action, %e, "agent state request refused")
                }
            }
        }
    }

    // ---- registrations ----

    /// A REGISTER: digest authentication, then the registrar.
    pub(super) fn on_register(
        &mut self,
        now: Instant,
        id: RequestRef,
        peer: Peer,
        req: &Request,
        ep: &mut Endpoint,
    ) {
        let authz: Vec<&str> = req
            .headers
            .iter()
            .filter(|(n, _)| n == "Authorization")
            .map(|(_, v)| v.as_str())
            .collect();
        let extension =
            match self
                .desk
                .registrar
                .authenticate(now, peer.addr.ip(), "REGISTER", &authz)
            {
                AuthOutcome::Challenge { headers } => {
                    let headers = self.challenge_for(req.header("User-Agent"), headers);
                    let h: Vec<(&str, &str)> = headers
                        .iter()
                        .map(|(n, v)| (n.as_str(), v.as_str()))
                        .collect();
                    return ep.respond_to(now, id, 401, &h);
                }
                AuthOutcome::Forbidden => return ep.respond_to(now, id, 403, &[]),
                AuthOutcome::Ignore => return ep.drop_request(id),
                AuthOutcome::Ok { extension, .. } => extension,
            };
        // One may only register one's own extension.
        if header_user(&req.ess.to) != Some(extension.as_str()) {
            return ep.respond_to(now, id, 403, &[]);
        }
        let transport = match peer.link {
            Link::Udp => Transport::Udp,
            Link::Tcp(conn) => {
                self.desk.tcp_links.insert(peer.addr, conn);
                Transport::Tcp
            }
        };
        let request = RegisterRequest {
            contacts: req
                .headers
                .iter()
                .filter(|(n, _)| n == "Contact")
                .map(|(_, v)| v.clone())
                .collect(),
            expires_header: req.header("Expires").and_then(|v| v.trim().parse().ok()),
            call_id: req.ess.call_id.clone(),
            cseq: req.cseq,
            source: peer.addr,
            transport,
        };
        match self.desk.registrar.register(now, &extension, request) {
            Ok(reg) => {
                let h: Vec<(&str, &str)> = reg
                    .contacts
                    .iter()
                    .map(|c| ("Contact", c.as_str()))
                    .collect();
                ep.respond_to(now, id, 200, &h);
                self.registration_changes(now, reg.changes, ep);
            }
            Err(e) => {
                let headers = e.headers();
                let h: Vec<(&str, &str)> = headers
                    .iter()
                    .map(|(n, v)| (n.as_str(), v.as_str()))
                    .collect();
                ep.respond_to(now, id, e.status(), &h);
            }
        }
    }

    /// Stores registration changes and tells the ACD who can be reached.
    fn registration_changes(&mut self, now: Instant, changes: Vec<Change>, ep: &mut Endpoint) {
        for c in changes {
            let b = &c.binding;
            let write = match c.kind {
                ChangeKind::Added | ChangeKind::Refreshed => {
                    let left = b.expires_at.saturating_duration_since(now).as_millis() as i64;
                    AgentWrite::Registered(RegistrationRow {
                        extension: b.extension.clone(),
                        contact: b.uri.clone(),
                        source: b.source.to_string(),
                        transport: b.transport.as_str().to_string(),
                        expires_at: now_ms() + left,
                    })
                }
                ChangeKind::Removed(_) => AgentWrite::Unregistered {
                    extension: b.extension.clone(),
                    contact: b.uri.clone(),
                },
            };
            tracing::info!(agent = %c.agent_id, change = ?c.kind, "registration");
            self.writer.send(Write::Agent(write));
            let actions = self.desk.acd.set_reachable(&c.agent_id, c.reachable, now);
            self.acd_actions(now, actions, ep);
        }
    }

    /// An OPTIONS ping ended; silence means the phone is gone.
    pub(super) fn on_ping_done(
        &mut self,
        now: Instant,
        id: RequestRef,
        status: Option<u16>,
        ep: &mut Endpoint,
    ) {
        let Some((extension, contact)) = self.desk.pings.remove(&id) else {
            return;
        };
        if status.is_none() {
            tracing::info!(%extension, "phone does not answer OPTIONS; registration dropped");
            if let Some(change) = self.desk.registrar.mark_dead(&extension, &contact) {
                self.registration_changes(now, vec![change], ep);
            }
        }
    }

    /// Timers: registrations expire, the ACD's timers, pings.
    pub(super) fn desk_timeout(&mut self, now: Instant, ep: &mut Endpoint) {
        if self
            .desk
            .registrar
            .next_deadline()
            .is_some_and(|t| t <= now)
        {
            let changes = self.desk.registrar.expire(now);
            self.registration_changes(now, changes, ep);
        }
        if self.desk.acd.next_deadline().is_some_and(|t| t <= now) {
            let actions = self.desk.acd.poll(now);
            self.acd_actions(now, actions, ep);
        }
        if self.desk.next_ping <= now {
            self.desk.next_ping = now + PING_EVERY;
            let extensions: Vec<String> = self.desk.agent_of.keys().cloned().collect();
            for ext in extensions {
                for b in self.desk.registrar.contacts(&ext) {
                    let Some(peer) = peer_of(&b, &self.desk.tcp_links) else {
                        continue;
                    };
                    let host = self.local_host_for(b.source);
                    let id = ep.ping(now, peer, &b.uri, &host);
                    self.desk.pings.insert(id, (ext.clone(), b.uri.clone()));
                }
            }
        }
    }

    /// Our address as a phone at `to` reaches it.
    fn local_host_for(&self, to: SocketAddr) -> String {
        match self.media_ip {
            Some(ip) => ip.to_string(),
            None => {
                std::net::UdpSocket::bind((if to.ip().is_ipv6() { "::" } else { "0.0.0.0" }, 0))
                    .and_then(|s| {
                        s.connect(to)?;
                        s.local_addr()
                    })
                    .map(|a| a.ip().to_string())
                    .unwrap_or_else(|_| "127.0.0.1".into())
            }
        }
    }

    /// The challenge headers for a phone: MD5 alone for phones known to fail on the
    /// SHA-256 challenge that comes first.
    fn challenge_for(
        &self,
        user_agent: Option<&str>,
        mut headers: Vec<(String, String)>,
    ) -> Vec<(String, String)> {
        let legacy = user_agent.is_some_and(|ua| {
            self.desk
                .features
                .md5_only_user_agents
                .iter()
                .any(|p| ua.starts_with(p.as_str()))
        });
        if legacy {
            headers.retain(|(_, v)| v.contains("algorithm=MD5"));
        }
        headers
    }

    // ---- feature codes ----

    /// The action an extension dialled from an agent's phone asks for, if it is one.
    pub(super) fn feature(&self, called: &str) -> Option<&'static str> {
        let f = &self.desk.features;
        [
            (&f.login, "login"),
            (&f.logout, "logout"),
            (&f.pause, "pause"),
            (&f.resume, "resume"),
        ]
        .into_iter()
        .find(|(code, _)| code.as_str() == called)
        .map(|(_, action)| action)
    }

    /// Authenticates a feature-code INVITE and carries it out. Returns the prompt that
    /// confirms it, or `None` when the call was refused (challenged).
    pub(super) fn feature_call(
        &mut self,
        now: Instant,
        call: CallRef,
        info: &IncomingCall,
        action: &str,
        ep: &mut Endpoint,
    ) -> Option<&'static str> {
        let (peer, user_agent) = (info.peer, info.user_agent.as_deref());
        let authz: Vec<&str> = info.authorization.iter().map(String::as_str).collect();
        let agent = match self
            .desk
            .registrar
            .authenticate(now, peer.addr.ip(), "INVITE", &authz)
        {
            AuthOutcome::Challenge { headers } => {
                let headers = self.challenge_for(user_agent, headers);
                let h: Vec<(&str, &str)> = headers
                    .iter()
                    .map(|(n, v)| (n.as_str(), v.as_str()))
                    .collect();
                ep.reject(now, call, 401, &h);
                return None;
            }
            AuthOutcome::Forbidden | AuthOutcome::Ignore => {
                ep.reject(now, call, 403, &[]);
                return None;
            }
            AuthOutcome::Ok { agent_id, .. } => agent_id,
        };
        let result = match action {
            "login" => self.desk.acd.login(&agent, now),
            "logout" => self.desk.acd.logout(&agent, now),
            "pause" => self.desk.acd.pause(&agent, "phone", now),
            _ => self.desk.acd.resume(&agent, now),
        };
        match result {
            Ok(actions) => self.acd_actions(now, actions, ep),
            Err(e) => tracing::info!(%agent, action, %e, "feature code changed nothing"),
        }
        Some(match action {
            "login" => "agent_logged_in",
            "logout" => "agent_logged_out",
            "pause" => "agent_paused",
            _ => "agent_resumed",
        })
    }

    // ---- queueing ----

    /// The dial plan queues the call.
    pub(super) fn enqueue(
        &mut self,
        now: Instant,
        call: CallRef,
        queue: &str,
        priority: i32,
        ep: &mut Endpoint,
    ) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        let (arrived, id) = (c.arrived, c.id.clone());
        if let Some(c) = self.calls.get_mut(&call) {
            c.was_queued = true;
        }
        match self.desk.acd.enqueue(call.0, queue, priority, arrived, now) {
            Ok(actions) => {
                self.desk.queued.insert(
                    call,
                    Queued {
                        queue: queue.to_string(),
                        bridged: None,
                    },
                );
                self.writer.send(Write::Agent(AgentWrite::CallQueued {
                    call: id,
                    at_ms: now_ms(),
                }));
                let music = self.clip_names(call, &["hold_music"]).into_iter().next();
                let _ = self.media.send(MediaCmd::Hold { call, music });
                self.acd_actions(now, actions, ep);
            }
            Err(e) => {
                tracing::warn!(%e, queue, "cannot queue the call; overflowing");
                self.ivr_step(
                    now,
                    call,
                    IvrInput::QueueOutcome(QueueOutcome::Overflow),
                    ep,
                );
            }
        }
    }

    /// A key while waiting: the leave key takes the caller to the overflow (callback).
    pub(super) fn queue_key(&mut self, now: Instant, call: CallRef, key: char, ep: &mut Endpoint) {
        if key != self.desk.features.leave_queue_key {
            return;
        }
        self.desk.queued.remove(&call);
        let actions = self.desk.acd.leave(call.0, now);
        self.acd_actions(now, actions, ep);
        self.event(call, "queue_left", String::new());
        self.ivr_step(
            now,
            call,
            IvrInput::QueueOutcome(QueueOutcome::Overflow),
            ep,
        );
    }

    /// Carries out what the ACD decided.
    pub(super) fn acd_actions(
        &mut self,
        now: Instant,
        actions: Vec<acd::Action>,
        ep: &mut Endpoint,
    ) {
        for a in actions {
            match a {
                acd::Action::Ring {
                    call, agent, queue, ..
                } => self.ring(now, CallRef(call), &agent, &queue, ep),
                acd::Action::CancelRing { call, agent } => {
                    if let Some(leg) = self.desk.ringing.remove(&(CallRef(call), agent)) {
                        self.end_leg(leg, "cancelled");
                        ep.hangup(now, leg, EndCause::Cancelled);
                    }
                }
                acd::Action::Connect { call, agent } => {
                    self.connect(now, CallRef(call), &agent, ep)
                }
                acd::Action::Announce {
                    call,
                    position,
                    wait,
                } => self.announce(CallRef(call), position, wait),
                acd::Action::Overflow { call, .. } => {
                    let call = CallRef(call);
                    self.desk.queued.remove(&call);
                    let _ = self.media.send(MediaCmd::Hold { call, music: None });
                    if self.plan_waits_for_queue(call) {
                        let overflow = IvrInput::QueueOutcome(QueueOutcome::Overflow);
                        self.ivr_step(now, call, overflow, ep);
                    } else {
                        // Queued again by a transfer: no dial plan node waits for this
                        // queue, so the call ends here rather than wait in silence.
                        self.event(call, "queue", "overflow after transfer".into());
                        ep.hangup(now, call, EndCause::Completed);
                    }
                }
                acd::Action::AgentState {
                    agent,
                    state,
                    reason,
                    ..
                } => {
                    self.desk.state_seq += 1;
                    tracing::info!(%agent, state = state.as_str(), %reason, "agent state");
                    self.writer.send(Write::Agent(AgentWrite::State {
                        agent: agent.clone(),
                        at_ms: now_ms(),
                        seq: self.desk.state_seq,
                        state: state.as_str(),
                        reason,
                    }));
                }
            }
        }
    }

    /// Rings `agent` for `call`: an INVITE to their phone with the call's context.
    fn ring(&mut self, now: Instant, call: CallRef, agent: &str, queue: &str, ep: &mut Endpoint) {
        let contact = self
            .desk
            .extension
            .get(agent)
            .and_then(|ext| self.desk.registrar.contacts(ext).into_iter().last());
        let target = contact.and_then(|b| Some((peer_of(&b, &self.desk.tcp_links)?, b)));
        let (Some((peer, binding)), Some(c)) = (target, self.calls.get(&call)) else {
            let actions = self
                .desk
                .acd
                .ring_failed(call.0, agent, RingFailure::Unreachable, now);
            return self.acd_actions(now, actions, ep);
        };
        let local_host = self.local_host_for(binding.source);
        let ip = local_host.parse().unwrap_or(c.local_ip);
        let Some((port, [socket, rtcp])) = bind_rtp(&mut self.ports, ip) else {
            tracing::warn!("no free RTP port for an agent leg");
            let actions = self
                .desk
                .acd
                .ring_failed(call.0, agent, RingFailure::Busy, now);
            return self.acd_actions(now, actions, ep);
        };
        let media = LocalMedia {
            ip,
            port,
            session_id: u64::from(rand::random::<u32>()),
            version: 1,
        };
        let mut headers = vec![
            ("X-Hotline-Call".to_string(), c.id.clone()),
            ("X-Hotline-Queue".to_string(), queue.to_string()),
        ];
        if let Some(customer) = c.ivr.as_ref().and_then(|i| i.session.customer()) {
            headers.push(("X-Hotline-Customer".to_string(), customer.to_string()));
        }
        let leg = ep.dial(
            now,
            Dial {
                peer,
                uri: binding.uri.clone(),
                local_host,
                from_user: c.caller.clone(),
                from_display: Some(format!("{queue} queue")),
                headers,
                media,
            },
        );
        let record_id = c.id.clone();
        // Numbered per call, across queues (a transferred call keeps counting).
        let seq = self.calls.get_mut(&call).map_or(1, |c| {
            c.legs += 1;
            c.legs
        });
        self.writer.send(Write::Agent(AgentWrite::LegStarted {
            call: record_id.clone(),
            seq,
            agent: agent.to_string(),
            queue: Some(queue.to_string()),
            at_ms: now_ms(),
        }));
        // The leg's media starts at once so its sockets exist; it sends once answered.
        let rtp = Arc::new(RtpCounters::default());
        let _ = self.media.send(MediaCmd::Start {
            call: leg,
            socket,
            rtcp,
            remote: None,
            codec: Codec::Pcmu,
            telephone_event: Some(101),
            sending: false,
            counters: Arc::clone(&rtp),
        });
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
            },
        );
    }

    /// Position and estimated wait, in the caller's language.
    fn announce(&mut self, call: CallRef, position: usize, wait: Duration) {
        let lang = self.call_language(call);
        let mut names: Vec<&str> = vec!["queue_you_are_number"];
        names.extend(speech::number(position as u32, lang));
        names.push("queue_in_queue");
        names.push("queue_estimated_wait");
        names.extend(speech::minutes(wait.as_secs().div_ceil(60) as u32, lang));
        names.push("queue_press_star_callback");
        let clips = self.clip_names(call, &names);
        let _ = self.media.send(MediaCmd::Play {
            call,
            clips,
            barge_in: true,
        });
        self.event(
            call,
            "announce",
            format!("position {position} wait {}s", wait.as_secs()),
        );
    }

    // ---- legs ----

    /// A leg to an agent was answered.
    pub(super) fn leg_answered(
        &mut self,
        now: Instant,
        leg: CallRef,
        answer: Option<Offer>,
        ep: &mut Endpoint,
    ) {
        let Some(l) = self.desk.legs.get(&leg) else {
            // A leg we already gave up: end it.
            return ep.hangup(now, leg, EndCause::Cancelled);
        };
        let (customer, agent) = (l.customer, l.agent.clone());
        if let Some(a) = &answer {
            let _ = self.media.send(MediaCmd::Update {
                call: leg,
                remote: a.remote,
                sending: a.dir.sends(),
                codec: Some(a.codec),
                telephone_event: a.telephone_event,
            });
        }
        let actions = self.desk.acd.answered(customer.0, &agent, now);
        let connected = actions
            .iter()
            .any(|a| matches!(a, acd::Action::Connect { .. }));
        self.acd_actions(now, actions, ep);
        if !connected {
            // The ACD had moved on (the caller left, another agent answered first).
            self.desk.ringing.remove(&(customer, agent));
            self.end_leg(leg, "answered_elsewhere");
            ep.hangup(now, leg, EndCause::Cancelled);
        }
    }

    /// The ACD accepted the answer: the caller hears the agent's ID, then the agent.
    fn connect(&mut self, now: Instant, call: CallRef, agent: &str, ep: &mut Endpoint) {
        let Some(leg) = self.desk.ringing.remove(&(call, agent.to_string())) else {
            return;
        };
        let Some(l) = self.desk.legs.get_mut(&leg) else {
            return;
        };
        l.answered = true;
        self.writer.send(Write::Agent(AgentWrite::LegAnswered {
            call: l.record_id.clone(),
            seq: l.seq,
            agent: agent.to_string(),
            at_ms: now_ms(),
        }));
        if let Some(q) = self.desk.queued.get_mut(&call) {
            q.bridged = Some(leg);
        }
        if let Some(c) = self.calls.get_mut(&call) {
            c.agent = Some(agent.to_string());
        }
        let lang = self.call_language(call);
        let mut names = vec!["agent_number"];
        names.extend(speech::digits(agent, lang));
        names.push("agent_will_serve");
        let clips = self.clip_names(call, &names);
        let _ = self.media.send(MediaCmd::Hold { call, music: None });
        let _ = self.media.send(MediaCmd::Play {
            call,
            clips,
            barge_in: false,
        });
        let _ = self.media.send(MediaCmd::Bridge { a: call, b: leg });
        self.event(call, "agent", agent.to_string());
        self.ivr_step(
            now,
            call,
            IvrInput::QueueOutcome(QueueOutcome::Answered {
                agent: agent.to_string(),
            }),
            ep,
        );
        let _ = ep;
    }

    /// A leg ended by the endpoint (phone refused, hung up, did not answer).
    pub(super) fn leg_ended(
        &mut self,
        now: Instant,
        leg: CallRef,
        by: EndedBy,
        cause: EndCause,
        status: Option<u16>,
        ep: &mut Endpoint,
    ) {
        let Some(l) = self.desk.legs.get(&leg) else {
            return;
        };
        let (customer, agent, answered, in_wrap_up) =
            (l.customer, l.agent.clone(), l.answered, l.wrap_up.is_some());
        if !answered {
            self.desk.ringing.remove(&(customer, agent.clone()));
            let why = match (cause, status) {
                (_, Some(486 | 600)) => RingFailure::Busy,
                (EndCause::NoAnswer, _) | (_, Some(408 | 480 | 487)) => RingFailure::NoAnswer,
                (_, Some(404 | 410 | 500..=599)) => RingFailure::Unreachable,
                _ => RingFailure::Rejected,
            };
            self.end_leg(leg, why.as_str());
            let actions = self.desk.acd.ring_failed(customer.0, &agent, why, now);
            return self.acd_actions(now, actions, ep);
        }
        let by_agent = by == EndedBy::Remote;
        self.end_leg(leg, if by_agent { "agent_bye" } else { "hotline" });
        if in_wrap_up {
            return;
        }
        // The agent hung up on the caller: the caller goes on with the dial plan
        // (the survey) or is hung up.
        let _ = self.media.send(MediaCmd::Unbridge { call: customer });
        self.desk.queued.remove(&customer);
        let actions = self.desk.acd.call_ended(&agent, now);
        self.acd_actions(now, actions, ep);
        let has_plan = self.calls.get_mut(&customer).is_some_and(|c| {
            c.agent_left = true;
            c.ivr.is_some()
        });
        if has_plan {
            self.ivr_step(now, customer, IvrInput::AgentHungUp, ep);
        } else {
            ep.hangup(now, customer, EndCause::AgentBye);
        }
    }

    /// The caller's call ended: leave the queue, or keep the agent for the outcome code.
    pub(super) fn customer_gone(
        &mut self,
        now: Instant,
        call: CallRef,
        ctx: &CallCtx,
        ep: &mut Endpoint,
    ) {
        let Some(q) = self.desk.queued.remove(&call) else {
            return;
        };
        match q.bridged {
            None => {
                let actions = self.desk.acd.leave(call.0, now);
                self.acd_actions(now, actions, ep);
            }
            Some(leg) => {
                let _ = self.media.send(MediaCmd::Unbridge { call: leg });
                let Some(l) = self.desk.legs.get_mut(&leg) else {
                    return;
                };
                l.wrap_up = Some(String::new());
                let session = ctx.ivr.as_ref().map(|i| &i.session);
                l.after = Some((
                    session.map(|s| Arc::clone(s.plan())),
                    ctx.caller.clone(),
                    session.and_then(|s| s.customer().map(str::to_string)),
                ));
                let agent = l.agent.clone();
                let actions = self.desk.acd.call_ended(&agent, now);
                self.acd_actions(now, actions, ep);
                let clips = self.leg_clips(&["agent_enter_outcome"]);
                let _ = self.media.send(MediaCmd::Play {
                    call: leg,
                    clips,
                    barge_in: true,
                });
                self.due_leg_timeout(leg, now + OUTCOME_TIME);
            }
        }
        let _ = q.queue;
    }

    /// A key from the caller while bridged: passed on to the agent.
    pub(super) fn customer_digit(&mut self, call: CallRef, digit: Digit) {
        if let Some(leg) = self.desk.queued.get(&call).and_then(|q| q.bridged) {
            let _ = self.media.send(MediaCmd::SendDigit { call: leg, digit });
        }
    }

    /// A key from an agent's leg: passed on to the caller during the call (the escalation
    /// code sends the caller to the supervisors); the outcome code during wrap-up, ended
    /// with #.
    pub(super) fn leg_digit(
        &mut self,
        now: Instant,
        leg: CallRef,
        digit: Digit,
        ep: &mut Endpoint,
    ) {
        let key = digit.as_char();
        let Some(l) = self.desk.legs.get_mut(&leg) else {
            return;
        };
        if l.answered && l.wrap_up.is_none() {
            let customer = l.customer;
            l.keyed.push(key);
            let escalate = &self.desk.features.escalate;
            let over = l.keyed.len().saturating_sub(escalate.len());
            l.keyed.drain(..over);
            let escalated = !escalate.is_empty() && l.keyed == *escalate;
            let _ = self.media.send(MediaCmd::SendDigit {
                call: customer,
                digit,
            });
            if escalated {
                let target = format!("sip:{}@hotline", self.desk.features.supervisor_queue);
                self.leg_refer(now, leg, &target, ep);
            }
            return;
        }
        let Some(code) = l.wrap_up.as_mut() else {
            return;
        };
        if key != '#' {
            if code.len() < 8 && key.is_ascii_digit() {
                code.push(key);
            }
            return;
        }
        if code.is_empty() {
            return;
        }
        let (code, call, agent) = (std::mem::take(code), l.record_id.clone(), l.agent.clone());
        let (plan, caller, customer) = l.after.take().unwrap_or_default();
        l.wrap_up = None;
        tracing::info!(%agent, "outcome code keyed");
        // Keys the plan declares stand for its outcome codes; others are kept as keyed.
        let outcome = plan
            .as_ref()
            .and_then(|p| p.outcomes.iter().find(|o| o.key.as_deref() == Some(&code)));
        let (code, follow_up) = outcome.map_or((code, false), |o| (o.code.clone(), o.follow_up));
        if let (true, Some(plan)) = (follow_up, &plan) {
            self.agent_followup(&call, &code, caller, customer, plan);
        }
        self.writer
            .send(Write::Agent(AgentWrite::Disposition { call, code }));
        let clips = self.leg_clips(&["agent_outcome_saved"]);
        let _ = self.media.send(MediaCmd::Play {
            call: leg,
            clips,
            barge_in: false,
        });
        let actions = self.desk.acd.wrap_up_done(&agent, now);
        self.acd_actions(now, actions, ep);
    }

    /// An outcome the plan declares to need follow-up opens a callback to the caller, due
    /// by the plan's calendar.
    fn agent_followup(
        &mut self,
        call: &str,
        code: &str,
        caller: String,
        customer: Option<String>,
        plan: &Plan,
    ) {
        let mut f = NewFollowUp::new(FollowUpKind::Callback, caller, now_ms());
        f.category = code.to_string();
        f.call_id = Some(call.to_string());
        f.customer = customer;
        self.write_followup(f, Some(plan));
    }

    /// Stores a follow-up with its due times on the plan's calendar (none without a plan).
    pub(super) fn write_followup(&mut self, mut f: NewFollowUp, plan: Option<&Plan>) {
        if let Some(plan) = plan {
            let due = crate::followup::due_times(
                &self.followup_rules,
                &plan.calendar,
                f.kind,
                &f.category,
                f.created_at,
                f.promised_to,
            );
            f.due_forward = due.forward;
            f.due_answer = due.answer;
            f.due_resolve = due.resolve;
        }
        self.writer.send(Write::FollowUp(Box::new(f)));
    }

    /// What was playing on a leg finished: after the outcome is saved, hang up.
    pub(super) fn leg_playback_done(&mut self, now: Instant, leg: CallRef, ep: &mut Endpoint) {
        let done = self
            .desk
            .legs
            .get(&leg)
            .is_some_and(|l| l.answered && l.wrap_up.is_none() && !self.is_bridged_leg(leg));
        if done {
            self.end_leg(leg, "completed");
            ep.hangup(now, leg, EndCause::Completed);
        }
    }

    fn is_bridged_leg(&self, leg: CallRef) -> bool {
        self.desk.queued.values().any(|q| q.bridged == Some(leg))
    }

    /// The agent took too long to key the outcome.
    pub(super) fn leg_timeout(&mut self, now: Instant, leg: CallRef, ep: &mut Endpoint) {
        if self
            .desk
            .legs
            .get(&leg)
            .is_some_and(|l| l.wrap_up.is_some())
        {
            self.end_leg(leg, "no_outcome");
            ep.hangup(now, leg, EndCause::Completed);
        }
    }

    /// The agent's phone asked to transfer the caller (REFER): to a queue by name, or to
    /// the supervisors.
    pub(super) fn leg_refer(
        &mut self,
        now: Instant,
        leg: CallRef,
        target: &str,
        ep: &mut Endpoint,
    ) {
        let Some(l) = self.desk.legs.get(&leg) else {
            return;
        };
        let (customer, agent) = (l.customer, l.agent.clone());
        let user = target
            .split_once(':')
            .and_then(|(_, r)| r.split('@').next())
            .unwrap_or("")
            .to_string();
        let queue = if user == "supervisor" {
            self.desk.features.supervisor_queue.clone()
        } else {
            user
        };
        if !self.desk.acd.queues().any(|q| q.name == queue) {
            tracing::info!(%queue, "transfer to an unknown queue refused");
            return;
        }
        self.event(customer, "transfer", queue.clone());
        let _ = self.media.send(MediaCmd::Unbridge { call: customer });
        self.desk.queued.remove(&customer);
        self.end_leg(leg, "transferred");
        ep.hangup(now, leg, EndCause::Transferred);
        let actions = self.desk.acd.call_ended(&agent, now);
        self.acd_actions(now, actions, ep);
        let clips = self.clip_names(customer, &["transferring"]);
        let _ = self.media.send(MediaCmd::Play {
            call: customer,
            clips,
            barge_in: false,
        });
        let priority = 9;
        self.enqueue(now, customer, &queue, priority, ep);
    }

    /// Closes a leg's record, frees its port and media.
    fn end_leg(&mut self, leg: CallRef, cause: &'static str) {
        let Some(l) = self.desk.legs.remove(&leg) else {
            return;
        };
        self.writer.send(Write::Agent(AgentWrite::LegEnded {
            call: l.record_id,
            seq: l.seq,
            at_ms: now_ms(),
            cause,
            rtp: l.rtp.read(),
        }));
        let _ = self.media.send(MediaCmd::Stop { call: leg });
        self.ports.release(l.port);
    }

    /// Whether `call` is a leg to an agent.
    pub(super) fn is_leg(&self, call: CallRef) -> bool {
        self.desk.legs.contains_key(&call)
    }

    /// While waiting in a queue, keys go to the queue.
    pub(super) fn waiting_in_queue(&self, call: CallRef) -> bool {
        self.desk.is_queued(call) && self.plan_waits_for_queue(call)
    }

    /// Whether the call's dial plan session is at a queue node, waiting for its outcome.
    fn plan_waits_for_queue(&self, call: CallRef) -> bool {
        self.calls
            .get(&call)
            .and_then(|c| c.ivr.as_ref())
            .is_some_and(|i| i.session.waiting() == Waiting::Queue)
    }
}
