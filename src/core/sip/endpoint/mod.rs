//! The SIP user agent server: routes each message to its transaction (by the top Via's
//! branch) or dialog (by Call-ID and tags), answers what needs no decision, and reports
//! calls to its owner as [`Event`]s.
//!
//! Driving it: feed [`Endpoint::handle_datagram`] / [`Endpoint::handle_message`] and
//! [`Endpoint::handle_timeout`] with the current time, then drain
//! [`Endpoint::poll_transmit`] and [`Endpoint::poll_event`], and wake again at
//! [`Endpoint::poll_timeout`]. It never reads a clock or touches a socket.

use super::admission::{capabilities, precheck, ALLOW};
pub use super::call::{CallRef, EndCause, EndedBy, Event, IncomingCall, RequestRef};
use super::dialog::{split_list, Dialog};
use super::message::{
    self, build_response, frame_datagram, salvage_request, Essentials, Message, MessageError,
    Method, Request, Response,
};
pub use super::peer::{ConnId, Link, Peer, Transmit};
use super::transaction::{
    AckParts, ClientInvite, ClientNonInvite, ServerInvite, ServerNonInvite, Timer, Timers, TxOutput,
};
use crate::core::sdp::{self, LocalMedia, Offer};
use rand::{rngs::StdRng, Rng, SeedableRng};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

mod connections;
mod in_dialog;
mod names;
mod placing;
mod receiving;

pub use connections::OUTBOUND_CONN_BASE;
use names::{contact, request_host, server_key};

/// Settings of the SIP core.
#[derive(Debug, Clone)]
pub struct EndpointConfig {
    pub timers: Timers,
    pub max_message: usize,
    /// Our SIP port, for Contact.
    pub port: u16,
    /// Sent as Retry-After with 503 while draining.
    pub retry_after: Duration,
    pub seed: u64,
    /// Our host for Contact when it is fixed: a cluster node behind the edge is reached
    /// at its own address, whatever host the Request-URI names (the edge's). `None`: the
    /// host each request was sent to.
    pub host: Option<String>,
}

impl Default for EndpointConfig {
    fn default() -> Self {
        EndpointConfig {
            timers: Timers::default(),
            max_message: 65_535,
            port: 5060,
            retry_after: Duration::from_secs(30),
            seed: 0,
            host: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct ServerKey {
    branch: String,
    sent_by: String,
    invite: bool,
    method: String,
}

/// A client transaction: its branch and method (a CANCEL shares its INVITE's branch).
type ClientKey = (String, &'static str);

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum TimerRef {
    Server(ServerKey),
    Client(ClientKey),
}

#[derive(Debug)]
enum ServerMachine {
    Invite(ServerInvite),
    NonInvite(ServerNonInvite),
}

#[derive(Debug)]
struct ServerTx {
    machine: ServerMachine,
    peer: Peer,
    call: Option<CallRef>,
    scheduled: Option<Instant>,
}

#[derive(Debug)]
enum ClientMachine {
    Invite(ClientInvite),
    NonInvite(ClientNonInvite),
}

#[derive(Debug)]
struct ClientTx {
    machine: ClientMachine,
    peer: Peer,
    scheduled: Option<Instant>,
    /// The call an INVITE places.
    call: Option<CallRef>,
    /// Reported to the owner when it ends (OPTIONS pings).
    report: Option<RequestRef>,
}

/// What we place a call with (a leg to an agent's phone).
#[derive(Debug, Clone)]
pub struct Dial {
    pub peer: Peer,
    /// Request-URI: the phone's registered Contact.
    pub uri: String,
    /// Our address as the phone reaches it, for Via, From and Contact.
    pub local_host: String,
    /// From: the caller's number, so the agent's phone shows who is calling.
    pub from_user: String,
    pub from_display: Option<String>,
    /// Extra headers (the call's context for the agent's screen).
    pub headers: Vec<(String, String)>,
    /// Our offer.
    pub media: LocalMedia,
    /// Credentials for a trunk that challenges the INVITE (401/407); `None` for
    /// agents' phones.
    pub auth: Option<DialAuth>,
}

/// Digest credentials for calls through a trunk.
#[derive(Clone, PartialEq, Eq)]
pub struct DialAuth {
    pub user: String,
    pub password: String,
}

impl std::fmt::Debug for DialAuth {
    // Dials are logged; the password must not be.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DialAuth")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// What a call we placed needs until it is answered.
#[derive(Debug)]
struct Outbound {
    branch: String,
    /// Builds the CANCEL (and knows the INVITE's From and To).
    parts: AckParts,
    to: String,
    /// A provisional response came: CANCEL may be sent (RFC 3261 9.1).
    provisional: bool,
    /// The owner gave the call up before it was answered: CANCEL when possible, and a
    /// late 2xx is acknowledged and ended with BYE.
    released: bool,
    /// Our ACK of the 2xx, resent when the 2xx is (RFC 3261 13.2.2.4).
    ack: Option<Vec<u8>>,
    /// The INVITE's headers after CSeq (Contact, Allow, the owner's) and its body, to
    /// send it again with credentials.
    rest: String,
    body: Vec<u8>,
    auth: Option<DialAuth>,
    /// Challenges answered so far, one per realm and kind.
    answered: Vec<Answered>,
}

/// A challenge a placed INVITE was answered with, and the credentials we sent for it.
#[derive(Debug)]
struct Answered {
    /// 407 (Proxy-Authorization) rather than 401 (Authorization).
    proxy: bool,
    realm: String,
    /// The one retry a `stale=true` challenge allows was used.
    stale_retried: bool,
    value: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CallState {
    /// INVITE received, no final response yet.
    Early,
    /// 2xx sent.
    Answered,
}

#[derive(Debug)]
struct Call {
    peer: Peer,
    ess: Essentials,
    record_route: Vec<String>,
    dialog: Dialog,
    local_host: String,
    /// The INVITE transaction whose ACK we wait for (the latest INVITE or re-INVITE
    /// received; none for a call we placed until the agent re-INVITEs).
    invite_tx: Option<ServerKey>,
    state: CallState,
    media: Option<LocalMedia>,
    offer: Option<Offer>,
    outbound: Option<Outbound>,
}

pub struct Endpoint {
    cfg: EndpointConfig,
    rng: StdRng,
    next_call: u64,
    draining: bool,
    servers: HashMap<ServerKey, ServerTx>,
    clients: HashMap<ClientKey, ClientTx>,
    calls: HashMap<CallRef, Call>,
    /// INVITE branch of each call we placed, to find it from any response.
    placed: HashMap<String, CallRef>,
    /// Our Contact URI in each REGISTER we sent, to find the expiry granted to it.
    registers: HashMap<RequestRef, String>,
    /// Requests waiting for the owner's answer.
    pending: HashMap<RequestRef, (ServerKey, Essentials, Peer)>,
    next_request: u64,
    dialogs: HashMap<(String, String), CallRef>,
    timers: BinaryHeap<Reverse<(Instant, u64, TimerRef)>>,
    timer_seq: u64,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    scratch: Vec<TxOutput>,
    /// Our TCP connections (open or opening), one per remote address.
    tcp_out: HashMap<SocketAddr, ConnId>,
    next_conn: ConnId,
    /// Connections to open, for the runtime.
    connects: VecDeque<(ConnId, SocketAddr)>,
}

impl Endpoint {
    pub fn new(cfg: EndpointConfig) -> Self {
        Endpoint {
            rng: StdRng::seed_from_u64(cfg.seed),
            cfg,
            next_call: 1,
            draining: false,
            servers: HashMap::new(),
            clients: HashMap::new(),
            calls: HashMap::new(),
            placed: HashMap::new(),
            registers: HashMap::new(),
            pending: HashMap::new(),
            next_request: 1,
            dialogs: HashMap::new(),
            timers: BinaryHeap::new(),
            timer_seq: 0,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            scratch: Vec::new(),
            tcp_out: HashMap::new(),
            next_conn: 0,
            connects: VecDeque::new(),
        }
    }

    pub fn config(&self) -> &EndpointConfig {
        &self.cfg
    }

    /// The SIP Call-ID of a live call (for the record of a call we placed).
    pub fn sip_call_id(&self, call: CallRef) -> Option<&str> {
        self.calls.get(&call).map(|c| c.dialog.call_id.as_str())
    }

    /// While draining, new calls get 503 with Retry-After; live calls go on.
    pub fn set_draining(&mut self, draining: bool) {
        self.draining = draining;
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        let t = self.transmits.pop_front()?;
        crate::metrics::sip_sent(&t.bytes);
        Some(t)
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The earliest time [`handle_timeout`](Self::handle_timeout) has work to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.peek().map(|Reverse((t, _, _))| *t)
    }

    /// Calls not yet ended.
    pub fn live_calls(&self) -> Vec<CallRef> {
        let mut v: Vec<CallRef> = self
            .calls
            .iter()
            .filter(|(_, c)| !c.outbound.as_ref().is_some_and(|o| o.released))
            .map(|(k, _)| *k)
            .collect();
        v.sort();
        v
    }

    /// Transactions still running (for shutdown: wait until BYEs are done).
    pub fn pending_transactions(&self) -> usize {
        self.clients.len()
    }

    /// One UDP datagram: frames it (RFC 3261 18.3) and handles the message.
    pub fn handle_datagram(&mut self, now: Instant, addr: SocketAddr, bytes: &[u8]) {
        let peer = Peer {
            link: Link::Udp,
            addr,
        };
        match frame_datagram(bytes, self.cfg.max_message) {
            Ok(msg) => self.handle_message(now, peer, msg),
            Err(e) => self.reject_malformed(peer, bytes, &e),
        }
    }

    /// One framed message from any transport.
    pub fn handle_message(&mut self, now: Instant, peer: Peer, bytes: &[u8]) {
        match message::parse(bytes) {
            Ok(Message::Request(req)) => {
                crate::metrics::sip_request(req.method.as_str(), crate::metrics::RECEIVED);
                self.on_request(now, peer, *req)
            }
            Ok(Message::Response(resp)) => {
                crate::metrics::sip_response(resp.status, crate::metrics::RECEIVED);
                self.on_response(now, *resp)
            }
            Err(e) => self.reject_malformed(peer, bytes, &e),
        }
    }

    /// Answers a message that could not be framed or parsed: 400 (505 for a foreign
    /// version, 501 for an unknown method) when enough of it is readable, else nothing.
    pub fn reject_malformed(&mut self, peer: Peer, bytes: &[u8], err: &MessageError) {
        let Some(ess) = salvage_request(bytes) else {
            tracing::debug!(%err, from = %peer.addr, "dropped unreadable message");
            return;
        };
        let method = message::request_method(bytes);
        if method == Some(Method::Ack) {
            return; // never answer an ACK
        }
        let status = match (err, method) {
            (MessageError::Version, _) => 505,
            (MessageError::TooLarge { .. }, _) => 513,
            (MessageError::CseqMismatch, Some(Method::Other(_))) => 501,
            _ => 400,
        };
        tracing::debug!(%err, status, from = %peer.addr, "malformed request");
        let reason = format!("\"{}\"", err.to_string().replace(['"', '\r', '\n'], " "));
        let warning = format!("399 hotline {reason}");
        let extra: Vec<(&str, &str)> = if status == 501 {
            vec![("Allow", ALLOW)]
        } else {
            vec![("Warning", &warning)]
        };
        let bytes = build_response(&ess, peer.addr, status, None, &extra, None);
        self.transmits.push_back(Transmit { peer, bytes });
    }

    // ---- commands from the owner ----

    /// 180 Ringing.
    pub fn ring(&mut self, now: Instant, call: CallRef) {
        self.respond_invite(now, call, 180, &[], None);
    }

    /// 200 OK with our SDP. With an offer we answer it; without one (an INVITE with no
    /// SDP) the 200 carries an offer of PCMU and PCMA.
    pub fn answer(
        &mut self,
        now: Instant,
        call: CallRef,
        mut media: LocalMedia,
        offer: Option<Offer>,
    ) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if c.state != CallState::Early || c.outbound.is_some() {
            return;
        }
        let body = match &offer {
            Some(offer) => media.answer(offer, false),
            None => media.offer(),
        };
        c.media = Some(media);
        c.offer = offer;
        c.state = CallState::Answered;
        self.respond_invite(now, call, 200, &[], Some(body));
    }

    /// Refuses a call that was not answered yet.
    pub fn reject(&mut self, now: Instant, call: CallRef, status: u16, extra: &[(&str, &str)]) {
        if !self
            .calls
            .get(&call)
            .is_some_and(|c| c.state == CallState::Early && c.outbound.is_none())
        {
            return;
        }
        self.respond_invite(now, call, status, extra, None);
        self.end_call(call, EndedBy::Hotline, EndCause::Rejected, Some(status));
    }

    /// Ends a call from our side: BYE once answered, else a final error response.
    pub fn hangup(&mut self, now: Instant, call: CallRef, cause: EndCause) {
        let branch = self.new_branch();
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if c.state == CallState::Early && c.outbound.is_some() {
            return self.cancel(now, call, cause);
        }
        match c.state {
            CallState::Early => {
                let status = if cause == EndCause::Shutdown {
                    503
                } else {
                    480
                };
                self.respond_invite(now, call, status, &[], None);
                self.end_call(call, EndedBy::Hotline, cause, Some(status));
            }
            CallState::Answered => {
                let peer = c.peer;
                let via = format!(
                    "SIP/2.0/{} {}:{};branch={branch};rport",
                    peer.via_transport(),
                    c.local_host,
                    self.cfg.port
                );
                let bytes = c.dialog.request("BYE", &via, &[]);
                // The caller obviously got our 2xx if we give up on its ACK; stop repeating it.
                if let Some(ServerTx {
                    machine: ServerMachine::Invite(tx),
                    ..
                }) = c.invite_tx.as_ref().and_then(|k| self.servers.get_mut(k))
                {
                    tx.on_2xx_ack();
                }
                self.start_client(now, peer, branch, "BYE", bytes, None);
                self.end_call(call, EndedBy::Hotline, cause, None);
            }
        }
    }

    fn start_client(
        &mut self,
        now: Instant,
        peer: Peer,
        branch: String,
        method: &'static str,
        bytes: Vec<u8>,
        report: Option<RequestRef>,
    ) {
        let mut out = std::mem::take(&mut self.scratch);
        let machine =
            ClientNonInvite::start(now, peer.transport(), self.cfg.timers, bytes, &mut out);
        let key: ClientKey = (branch, method);
        self.clients.insert(
            key.clone(),
            ClientTx {
                machine: ClientMachine::NonInvite(machine),
                peer,
                scheduled: None,
                call: None,
                report,
            },
        );
        self.apply_client(now, &key, &mut out, None);
        self.scratch = out;
    }

    // ---- time ----

    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(Reverse((t, _, _))) = self.timers.peek() {
            if *t > now {
                break;
            }
            let Some(Reverse((t, _, r))) = self.timers.pop() else {
                break;
            };
            let mut out = std::mem::take(&mut self.scratch);
            match r {
                TimerRef::Server(key) => {
                    let Some(tx) = self.servers.get_mut(&key) else {
                        continue;
                    };
                    if tx.scheduled != Some(t) {
                        continue;
                    }
                    tx.scheduled = None;
                    match &mut tx.machine {
                        ServerMachine::Invite(m) => m.handle_timeout(now, &mut out),
                        ServerMachine::NonInvite(m) => m.handle_timeout(now, &mut out),
                    }
                    self.apply_server(now, &key, &mut out);
                }
                TimerRef::Client(key) => {
                    let Some(tx) = self.clients.get_mut(&key) else {
                        continue;
                    };
                    if tx.scheduled != Some(t) {
                        continue;
                    }
                    tx.scheduled = None;
                    match &mut tx.machine {
                        ClientMachine::Invite(m) => m.handle_timeout(now, &mut out),
                        ClientMachine::NonInvite(m) => m.handle_timeout(now, &mut out),
                    }
                    self.apply_client(now, &key, &mut out, None);
                }
            }
            self.scratch = out;
        }
    }

    // ---- requests ----

    fn on_response(&mut self, now: Instant, resp: Response) {
        let method: &'static str = match resp.cseq_method {
            Method::Invite => "INVITE",
            Method::Bye => "BYE",
            Method::Cancel => "CANCEL",
            Method::Options => "OPTIONS",
            Method::Notify => "NOTIFY",
            Method::Register => "REGISTER",
            _ => return,
        };
        let key: ClientKey = (resp.branch.clone(), method);
        let mut out = std::mem::take(&mut self.scratch);
        if let Some(tx) = self.clients.get_mut(&key) {
            match &mut tx.machine {
                ClientMachine::Invite(m) => m.on_response(now, resp.status, &resp.to, &mut out),
                ClientMachine::NonInvite(m) => m.on_response(now, resp.status, &mut out),
            }
        }
        self.apply_client(now, &key, &mut out, Some(&resp));
        self.scratch = out;
        if method == "INVITE" {
            if let Some(&call) = self.placed.get(&resp.branch) {
                self.on_placed_response(now, call, resp);
            }
        }
    }

    // ---- plumbing ----

    fn respond_invite(
        &mut self,
        now: Instant,
        call: CallRef,
        status: u16,
        extra: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        let Some(key) = c.invite_tx.clone() else {
            return;
        };
        let (ess, peer) = (c.ess.clone(), c.peer);
        let tag = c.dialog.local_tag.clone();
        let mut headers: Vec<(&str, String)> =
            extra.iter().map(|(n, v)| (*n, v.to_string())).collect();
        if (101..300).contains(&status) {
            headers.push(("Contact", contact(&c.local_host, self.cfg.port, peer)));
            for rr in &c.record_route {
                headers.push(("Record-Route", rr.clone()));
            }
        }
        if status == 200 {
            headers.push(("Allow", ALLOW.to_string()));
        }
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        self.respond(
            now,
            &key,
            &ess,
            peer,
            status,
            Some(&tag),
            &headers,
            body.as_deref(),
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn respond(
        &mut self,
        now: Instant,
        key: &ServerKey,
        ess: &Essentials,
        peer: Peer,
        status: u16,
        tag: Option<&str>,
        extra: &[(&str, &str)],
        body: Option<&[u8]>,
    ) {
        let tag = match tag {
            Some(t) => Some(t.to_string()),
            None if status > 100 => Some(self.new_tag()),
            None => None,
        };
        let bytes = build_response(
            ess,
            peer.addr,
            status,
            tag.as_deref(),
            extra,
            body.map(|b| ("application/sdp", b)),
        );
        let mut out = std::mem::take(&mut self.scratch);
        if let Some(tx) = self.servers.get_mut(key) {
            match &mut tx.machine {
                ServerMachine::Invite(m) => m.respond(now, status, bytes, &mut out),
                ServerMachine::NonInvite(m) => m.respond(now, status, bytes, &mut out),
            }
        }
        self.apply_server(now, key, &mut out);
        self.scratch = out;
    }

    fn apply_server(&mut self, now: Instant, key: &ServerKey, out: &mut Vec<TxOutput>) {
        let Some(tx) = self.servers.get(key) else {
            out.clear();
            return;
        };
        let (peer, call) = (tx.peer, tx.call);
        let mut terminated = false;
        for o in out.drain(..) {
            match o {
                TxOutput::Send(bytes) => self.send(peer, bytes),
                TxOutput::Timeout(Timer::H) => {
                    count_timeout("ack");
                    let answered_call = call.filter(|c| {
                        self.calls.get(c).is_some_and(|c| {
                            c.state == CallState::Answered && c.invite_tx.as_ref() == Some(key)
                        })
                    });
                    if let Some(call) = answered_call {
                        tracing::info!(call = call.0, "no ACK for 2xx; hanging up");
                        self.hangup(now, call, EndCause::AckTimeout);
                    }
                }
                TxOutput::Terminated => terminated = true,
                TxOutput::Timeout(_) | TxOutput::Response(_) => {}
            }
        }
        if terminated {
            self.servers.remove(key);
        } else {
            self.reschedule(TimerRef::Server(key.clone()));
        }
    }

    /// Carries out what a client transaction asked; `resp` is the response that drove
    /// it, if any, for what the owner is told about a final one.
    fn apply_client(
        &mut self,
        _now: Instant,
        key: &ClientKey,
        out: &mut Vec<TxOutput>,
        resp: Option<&Response>,
    ) {
        let Some(tx) = self.clients.get(key) else {
            out.clear();
            return;
        };
        let (mut peer, call, report) = (tx.peer, tx.call, tx.report);
        let mut terminated = false;
        for o in out.drain(..) {
            match o {
                TxOutput::Send(bytes) => {
                    // A connection of ours that closed: the request goes on a new one.
                    let now_peer = self.route(peer);
                    if now_peer != peer {
                        peer = now_peer;
                        if let Some(tx) = self.clients.get_mut(key) {
                            tx.peer = peer;
                        }
                    }
                    self.transmits.push_back(Transmit { peer, bytes });
                }
                TxOutput::Timeout(t) => {
                    tracing::debug!(?t, method = key.1, "request got no answer");
                    count_timeout(if t == Timer::B {
                        "invite"
                    } else {
                        "non_invite"
                    });
                    if let Some(id) = report {
                        self.registers.remove(&id);
                        self.events.push_back(Event::RequestDone {
                            id,
                            status: None,
                            challenges: vec![],
                            proxy: false,
                            expires: None,
                        });
                    }
                    if let Some(call) = call {
                        self.placed_timed_out(call);
                    }
                }
                TxOutput::Response(status) if status >= 200 => {
                    if let Some(id) = report {
                        let contact = self.registers.remove(&id);
                        let proxy = status == 407;
                        let challenges = match (resp, status) {
                            (Some(r), 401 | 407) => r
                                .header_values(if proxy {
                                    "Proxy-Authenticate"
                                } else {
                                    "WWW-Authenticate"
                                })
                                .map(str::to_string)
                                .collect(),
                            _ => vec![],
                        };
                        let expires = match (resp, contact) {
                            (Some(r), Some(c)) if (200..300).contains(&status) => {
                                granted_expires(r, &c)
                            }
                            (Some(r), Some(_)) if status == 423 => r
                                .header_values("Min-Expires")
                                .next()
                                .and_then(|v| v.trim().parse().ok()),
                            _ => None,
                        };
                        self.events.push_back(Event::RequestDone {
                            id,
                            status: Some(status),
                            challenges,
                            proxy,
                            expires,
                        });
                    }
                }
                TxOutput::Terminated => terminated = true,
                TxOutput::Response(_) => {}
            }
        }
        if terminated {
            self.clients.remove(key);
        } else {
            self.reschedule(TimerRef::Client(key.clone()));
        }
    }

    fn reschedule(&mut self, r: TimerRef) {
        let (deadline, slot) = match &r {
            TimerRef::Server(k) => match self.servers.get_mut(k) {
                Some(tx) => (
                    match &tx.machine {
                        ServerMachine::Invite(m) => m.poll_timeout(),
                        ServerMachine::NonInvite(m) => m.poll_timeout(),
                    },
                    &mut tx.scheduled,
                ),
                None => return,
            },
            TimerRef::Client(k) => match self.clients.get_mut(k) {
                Some(tx) => (
                    match &tx.machine {
                        ClientMachine::Invite(m) => m.poll_timeout(),
                        ClientMachine::NonInvite(m) => m.poll_timeout(),
                    },
                    &mut tx.scheduled,
                ),
                None => return,
            },
        };
        if deadline == *slot {
            return;
        }
        *slot = deadline;
        if let Some(d) = deadline {
            self.timer_seq += 1;
            self.timers.push(Reverse((d, self.timer_seq, r)));
        }
    }

    fn end_call(&mut self, call: CallRef, by: EndedBy, cause: EndCause, status: Option<u16>) {
        if let Some(c) = self.calls.remove(&call) {
            self.dialogs
                .remove(&(c.dialog.call_id.clone(), c.dialog.local_tag.clone()));
            if let Some(o) = &c.outbound {
                self.placed.remove(&o.branch);
            }
            self.events.push_back(Event::Ended {
                call,
                by,
                cause,
                status,
            });
        }
    }

    fn new_tag(&mut self) -> String {
        format!("{:016x}", self.rng.gen::<u64>())
    }

    fn new_branch(&mut self) -> String {
        format!("z9hG4bK{:016x}", self.rng.gen::<u64>())
    }
}

/// Counts a transaction given up on, by what it waited for.
fn count_timeout(kind: &'static str) {
    metrics::counter!(crate::metrics::SIP_TIMEOUTS, "kind" => kind).increment(1);
}

/// The lifetime a registrar granted our binding (RFC 3261 10.2.4): the `expires`
/// parameter of the Contact that is ours, else the Expires header.
fn granted_expires(resp: &Response, ours: &str) -> Option<u32> {
    let base = |uri: &str| {
        uri.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    };
    let ours = base(ours);
    let from_contact = resp
        .header_values("Contact")
        .flat_map(|v| message::split_outside(v, ','))
        .filter(|c| base(super::dialog::addr_uri(c)) == ours)
        .find_map(|c| message::header_param(c, "expires")?.parse().ok());
    from_contact.or_else(|| resp.header_values("Expires").next()?.trim().parse().ok())
}
