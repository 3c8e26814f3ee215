//! The switchboard: every call's orchestration as one plain state machine. It owns the
//! SIP endpoint, the registrar, the ACD, the dial plan sessions and every call (one
//! [`Call`](call) per call id, legs to agents as its children), and does no I/O: no
//! socket, no clock, no thread, no random source of its own.
//!
//! Driving it (the runtime does this with sockets; tests with scripted peers):
//! 1. feed one [`Input`] with [`Switchboard::handle_input`] and the current [`Now`];
//! 2. drain [`Switchboard::poll_output`] until it returns [`Output::Timeout`], carrying
//!    out each output (send the datagram, tell the media engine, queue the write);
//! 3. wait for the next input or that deadline, then feed [`Input::Timeout`].
//!
//! Answers that need the outside world come back as inputs: a committed arrival record
//! ([`Input::Committed`]), an identity check ([`Input::Verified`]), media events. Two
//! questions need an answer at once, before the SDP that names a port is sent: whether
//! an RTP port can be bound and which of our addresses reaches a phone; those go to the
//! [`Host`] the switchboard is built with.

mod call;
pub mod cluster;
mod desk;
mod dial_out;
mod internal;
mod ivr;
mod legs;
mod live;
pub mod media;
mod outbound;
mod phones;
mod timers;
mod transfer_out;
mod trunk;
mod trunk_reg;

pub use live::{Live, LiveAgent, LiveCaller, LiveQueue};
pub use media::{MediaCmd, MediaEvent, RtpCounters};
pub use trunk::{OutboundSetup, TrunkLine};

use crate::acd::{config::Features, Acd, QueueConfig};
use crate::config::Config;
use crate::core::media::ports::PortPool;
use crate::core::media::prompt::PromptSet;
use crate::core::sip::endpoint::{CallRef, ConnId, EndCause, Endpoint, EndpointConfig, Link};
use crate::core::sip::endpoint::{Peer, Transmit};
use crate::core::sip::message::MessageError;
use crate::core::sip::registrar::{AuthPolicy, Authenticator, Registrar, RegistrarPolicy};
use crate::core::sip::transaction::Timers;
use crate::ivr::{Plan, VerifyOutcome};
use crate::store::{AgentRequest, AgentRow, RegistrationRow, Write};
use call::Call;
pub use cluster::{ClusterCmd, ClusterView};
use desk::Desk;
use rand::{rngs::StdRng, Rng, SeedableRng};
use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use timers::{CallTimers, Due};

/// The time an input happens: the monotonic instant runs the timers; the wall clock (ms
/// since the Unix epoch) goes into records and picks the greeting for the time of day.
#[derive(Debug, Clone, Copy)]
pub struct Now {
    pub at: Instant,
    pub wall_ms: i64,
}

impl Now {
    /// Moved to the monotonic instant `at`, the wall clock along with it.
    pub fn at(self, at: Instant) -> Now {
        let ms = |d: Duration| d.as_millis() as i64;
        let wall_ms = match at.checked_duration_since(self.at) {
            Some(d) => self.wall_ms + ms(d),
            None => self.wall_ms - ms(self.at - at),
        };
        Now { at, wall_ms }
    }
}

/// What happens to the switchboard.
#[derive(Debug)]
pub enum Input<'a> {
    /// A SIP datagram on the UDP socket.
    Datagram { from: SocketAddr, bytes: &'a [u8] },
    /// A whole SIP message framed from a TCP connection.
    Stream {
        conn: ConnId,
        from: SocketAddr,
        bytes: &'a [u8],
    },
    /// A TCP frame that could not be a SIP message.
    BadFrame {
        conn: ConnId,
        from: SocketAddr,
        bytes: &'a [u8],
        error: &'a MessageError,
    },
    /// A connection asked for with [`Output::Connect`] could not be made (refused,
    /// unreachable, or not within a few seconds).
    ConnectFailed(ConnId),
    /// A TCP connection closed (one accepted or one asked for).
    Closed(ConnId),
    /// The deadline of the last [`Output::Timeout`] (or a later time) has come.
    Timeout,
    /// Something the media engine noticed.
    Media(MediaEvent),
    /// The arrival record of this call is committed: it may now be answered.
    Committed(CallRef),
    /// The answer to a dial plan's identity check ([`Output::Verify`]).
    Verified(CallRef, VerifyOutcome),
    /// Agents read from the store: the table when it changed, the registrations to
    /// restore (at start only), and state changes asked for from the command line.
    Agents {
        agents: Option<Vec<AgentRow>>,
        registrations: Option<Vec<RegistrationRow>>,
        requests: Vec<AgentRequest>,
    },
    /// A new, valid set of dial plans (the runtime loads and validates the files; calls
    /// in progress keep the plan they began with).
    Reload(Vec<Arc<Plan>>),
    /// The callers' numbers blocked now (the whole list, as the store normalises them).
    Blocked(Vec<String>),
    /// Follow-ups to call (callbacks and revisits not yet reached, as the store has them)
    /// and the calls asked for from the command line.
    DialWork {
        tasks: Vec<crate::store::DialTask>,
        requests: Vec<crate::store::DialRequest>,
    },
    /// The answer to [`ClusterCmd::Claim`]: whether this node now holds the agent.
    Claimed {
        call: CallRef,
        agent: String,
        won: bool,
    },
    /// A cluster node's periodic read of the shared database.
    Cluster(ClusterView),
    /// Stop: refuse new calls, let live ones go on for the drain time, then hang up.
    Shutdown,
}

/// What the switchboard asks the outside world to do.
#[derive(Debug)]
pub enum Output {
    /// Open a TCP connection to `addr`, numbered `conn`; transmits on it may follow at
    /// once and wait until it is connected. Feed [`Input::ConnectFailed`] when it cannot
    /// be made; once made it is like an accepted one ([`Input::Stream`] with `conn`).
    Connect {
        conn: ConnId,
        addr: SocketAddr,
    },
    Transmit(Transmit),
    Media(MediaCmd),
    /// A record to write; with `ack`, feed [`Input::Committed`] for that call once it
    /// is committed (an answer waits on its arrival record).
    Store {
        write: Write,
        ack: Option<CallRef>,
    },
    /// Check a caller's identity (slow hashing: off the switchboard) and feed
    /// [`Input::Verified`].
    Verify {
        call: CallRef,
        account: String,
        secret: crate::store::Secret,
    },
    /// A cluster node's claim on an agent, in the shared database, in this order.
    Cluster(ClusterCmd),
    /// Nothing more to do now; feed [`Input::Timeout`] at this instant.
    Timeout(Instant),
    /// Shut down and drained: every call has ended.
    Finished,
}

/// The two questions the switchboard needs answered at once.
pub trait Host {
    /// Binds the RTP port and the RTCP port above it on `ip`; `false` when either is
    /// taken (the switchboard then tries another). The media engine's
    /// [`MediaCmd::Start`] uses what was bound.
    fn bind_rtp(&mut self, ip: IpAddr, port: u16) -> bool;
    /// Our address as a phone at `to` reaches it (the route's source address).
    fn local_ip_towards(&mut self, to: SocketAddr) -> Option<IpAddr>;
}

/// The switchboard's settings, from the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    pub endpoint: EndpointConfig,
    /// The address put in SDP when the configuration fixes one; otherwise each call uses
    /// the address its caller dialled.
    pub media_ip: Option<IpAddr>,
    pub rtp_ports: (u16, u16),
    pub ring_delay: Duration,
    pub max_call: Duration,
    /// Where calls are recorded; `None`: not recorded.
    pub record_dir: Option<PathBuf>,
    pub voicemail_dir: PathBuf,
    pub followups: crate::followup::Rules,
    pub realm: String,
    /// How long live calls may go on after a shutdown is asked for.
    pub drain: Duration,
    /// Seeds call ids, SDP session ids and digest nonces (fixed in tests).
    pub seed: u64,
    /// A node of a cluster: agents' phones are reached through the edge, and agents are
    /// claimed in the shared database before they are rung. `None`: a single node.
    pub cluster: Option<crate::config::Cluster>,
}

impl Settings {
    /// The settings `cfg` gives, for a server whose SIP port is `sip_port`.
    pub fn from_config(cfg: &Config, sip_port: u16, seed: u64) -> Settings {
        let media_ip = cfg
            .advertise_ip
            .or_else(|| Some(cfg.sip_listen.ip()).filter(|ip| !ip.is_unspecified()));
        Settings {
            endpoint: EndpointConfig {
                timers: Timers {
                    t1: cfg.t1,
                    t2: cfg.t2,
                    t4: cfg.t4,
                },
                max_message: cfg.max_message_bytes,
                port: sip_port,
                retry_after: cfg.drain.max(Duration::from_secs(5)),
                seed,
                host: cfg.cluster.as_ref().and(media_ip).map(|ip| ip.to_string()),
            },
            media_ip,
            rtp_ports: cfg.rtp_ports,
            ring_delay: cfg.ring_delay,
            max_call: cfg.max_call,
            record_dir: cfg.record_dir.clone(),
            voicemail_dir: cfg
                .record_dir
                .clone()
                .unwrap_or_else(|| PathBuf::from("voicemail")),
            followups: cfg.followups.clone(),
            realm: cfg.realm.clone(),
            drain: cfg.drain,
            seed,
            cluster: cfg.cluster.clone(),
        }
    }
}

/// What the switchboard is built from besides its settings: files the runtime has read.
pub struct Loaded {
    pub plans: Vec<Arc<Plan>>,
    pub prompts: Option<Arc<PromptSet>>,
    pub queues: Vec<QueueConfig>,
    pub features: Features,
    /// Trunks and the dialer's pacing (none: no outbound calls).
    pub outbound: OutboundSetup,
}

/// Outputs waiting to be polled; a field of its own so that handlers can queue one
/// while they hold a borrow of a call.
#[derive(Debug, Default)]
struct Outputs(VecDeque<Output>);

impl Outputs {
    fn push(&mut self, o: Output) {
        self.0.push_back(o);
    }

    fn media(&mut self, cmd: MediaCmd) {
        self.0.push_back(Output::Media(cmd));
    }

    fn store(&mut self, write: Write) {
        self.0.push_back(Output::Store { write, ack: None });
    }
}

/// A shutdown under way.
#[derive(Debug, Clone, Copy)]
struct Stopping {
    /// Live calls may go on until then.
    drain_until: Instant,
    /// Then we stop waiting for their BYEs to be answered.
    give_up: Instant,
    hung_up: bool,
}

pub struct Switchboard<H: Host> {
    host: H,
    endpoint: Endpoint,
    desk: Desk,
    calls: HashMap<CallRef, Call>,
    dialer: outbound::Dialer,
    timers: CallTimers,
    out: Outputs,
    rng: StdRng,
    ports: PortPool,
    plans: Vec<Arc<Plan>>,
    prompts: Option<Arc<PromptSet>>,
    /// Callers refused with a polite prompt (normalised numbers).
    blocked: HashSet<String>,
    settings: Settings,
    /// The time of the input being handled.
    now: Now,
    stopping: Option<Stopping>,
    finished: bool,
}

/// The language prompts are in when no dial plan chose one (agents' legs, no plan).
const DEFAULT_LANGUAGE: &str = "zh-CN";

impl<H: Host> Switchboard<H> {
    pub fn new(now: Now, settings: Settings, host: H, loaded: Loaded) -> Self {
        let Loaded {
            plans,
            prompts,
            mut queues,
            features,
            outbound: setup,
        } = loaded;
        // Every queue a dial plan names exists, with defaults unless the queues file
        // says otherwise; so does the supervisors' queue.
        for plan in &plans {
            for node in plan.nodes.values() {
                if let crate::ivr::plan::NodeKind::Queue(q) = &node.kind {
                    if !queues.iter().any(|c| c.name == q.queue) {
                        queues.push(QueueConfig::new(q.queue.clone()));
                    }
                }
            }
        }
        if !queues.iter().any(|c| c.name == features.supervisor_queue) {
            queues.push(QueueConfig::new(features.supervisor_queue.clone()));
        }
        let mut rng = StdRng::seed_from_u64(settings.seed);
        let auth = Authenticator::new(
            settings.realm.clone(),
            rng.gen(),
            rng.gen(),
            AuthPolicy::default(),
            now.at,
            u64::try_from(now.wall_ms / 1000).unwrap_or(0),
        );
        let mut sb = Switchboard {
            host,
            endpoint: Endpoint::new(settings.endpoint.clone()),
            desk: Desk::new(
                Registrar::new(auth, RegistrarPolicy::default()),
                Acd::new(queues),
                features,
                now.at,
                settings
                    .cluster
                    .as_ref()
                    .map(|c| cluster::Node::new(c.edge, now.at)),
            ),
            calls: HashMap::new(),
            dialer: outbound::Dialer::new(setup),
            blocked: HashSet::new(),
            timers: CallTimers::default(),
            out: Outputs::default(),
            rng,
            ports: PortPool::new(settings.rtp_ports.0, settings.rtp_ports.1),
            plans,
            prompts,
            settings,
            now,
            stopping: None,
            finished: false,
        };
        sb.start_trunk_registrations(now.at);
        sb
    }

    /// The host the switchboard was built with (the runtime keeps bound sockets there).
    pub fn host_mut(&mut self) -> &mut H {
        &mut self.host
    }

    /// Live calls as the SIP endpoint sees them (customer calls and legs).
    pub fn live_calls(&self) -> usize {
        self.endpoint.live_calls().len()
    }

    /// Handles one input at `now`; then drain [`Self::poll_output`].
    pub fn handle_input(&mut self, now: Now, input: Input<'_>) {
        self.now = now;
        let at = now.at;
        match input {
            Input::Datagram { from, bytes } => self.endpoint.handle_datagram(at, from, bytes),
            Input::Stream { conn, from, bytes } => {
                let peer = Peer {
                    link: Link::Tcp(conn),
                    addr: from,
                };
                self.endpoint.handle_message(at, peer, bytes)
            }
            Input::BadFrame {
                conn,
                from,
                bytes,
                error,
            } => {
                let peer = Peer {
                    link: Link::Tcp(conn),
                    addr: from,
                };
                self.endpoint.reject_malformed(peer, bytes, error)
            }
            Input::ConnectFailed(conn) => self.endpoint.connect_failed(at, conn),
            Input::Closed(conn) => self.endpoint.connection_closed(at, conn),
            Input::Timeout => self.handle_timeout(at),
            Input::Media(ev) => self.on_media(at, ev),
            Input::Committed(call) => self.on_committed(at, call),
            Input::Verified(call, outcome) => self.on_verified(at, call, outcome),
            Input::Agents {
                agents,
                registrations,
                requests,
            } => {
                if let Some(agents) = agents {
                    self.sync_agents(at, agents, registrations);
                }
                self.agent_requests(at, requests);
            }
            Input::Blocked(numbers) => self.blocked = numbers.into_iter().collect(),
            Input::DialWork { tasks, requests } => self.dial_work(at, tasks, requests),
            Input::Reload(plans) => {
                tracing::info!(count = plans.len(), "dial plans reloaded");
                self.plans = plans;
            }
            Input::Claimed { call, agent, won } => self.on_claimed(at, call, &agent, won),
            Input::Cluster(view) => self.on_cluster_view(at, view),
            Input::Shutdown => self.shutdown(at),
        }
        while let Some(ev) = self.endpoint.poll_event() {
            self.on_event(at, ev);
        }
        if self.stopping.is_some() {
            self.check_stopping(at);
            // Hanging up after the drain time may have ended calls at once.
            while let Some(ev) = self.endpoint.poll_event() {
                self.on_event(at, ev);
            }
        }
    }

    /// The next thing to do: queued outputs first, then what the SIP endpoint sends,
    /// then the deadline to wake at.
    pub fn poll_output(&mut self) -> Output {
        if let Some(o) = self.out.0.pop_front() {
            return o;
        }
        if let Some((conn, addr)) = self.endpoint.poll_connect() {
            return Output::Connect { conn, addr };
        }
        if let Some(t) = self.endpoint.poll_transmit() {
            return Output::Transmit(t);
        }
        if self.finished {
            return Output::Finished;
        }
        Output::Timeout(
            self.poll_timeout()
                .unwrap_or(self.now.at + Duration::from_secs(3600)),
        )
    }

    /// The earliest deadline of the switchboard and everything it owns.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.endpoint.poll_timeout(),
            self.timers.poll_timeout(),
            self.desk.poll_timeout(),
            self.trunk_reg_timeout(),
            self.stopping
                .map(|s| if s.hung_up { s.give_up } else { s.drain_until }),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.endpoint.handle_timeout(now);
        self.desk_timeout(now);
        self.trunk_reg_due(now);
        while let Some((call, due)) = self.timers.pop_expired(now) {
            match due {
                Due::Answer => {
                    if self.calls.get(&call).is_some_and(|c| c.committed) {
                        self.answer(now, call);
                    }
                }
                Due::Ivr => self.ivr_timeout(now, call),
                Due::Outcome => self.leg_timeout(now, call),
                Due::Hangup => self.hang_up_after_goodbye(now, call),
                Due::Dialer => self.outbound_timeout(now, call),
                Due::MaxDuration => {
                    if let Some(c) = self.calls.get(&call) {
                        c.span
                            .in_scope(|| tracing::info!("maximum call duration reached"));
                        self.endpoint.hangup(now, call, EndCause::MaxDuration);
                    }
                }
            }
        }
    }

    /// A shutdown is asked for: new INVITEs get 503, live calls go on for the drain time.
    fn shutdown(&mut self, now: Instant) {
        if self.stopping.is_some() {
            return;
        }
        let drain = self.settings.drain;
        tracing::info!(
            live = self.live_calls(),
            ?drain,
            "shutting down: refusing new calls, draining live ones"
        );
        self.endpoint.set_draining(true);
        self.unregister_trunks(now);
        self.stopping = Some(Stopping {
            drain_until: now + drain,
            give_up: now + drain + Duration::from_secs(5),
            hung_up: false,
        });
    }

    /// After the drain time every live call is hung up; once all have ended (or we gave
    /// up waiting for their BYEs to be answered) the switchboard is finished.
    fn check_stopping(&mut self, now: Instant) {
        let Some(mut s) = self.stopping else {
            return;
        };
        if !s.hung_up && now >= s.drain_until {
            s.hung_up = true;
            for call in self.endpoint.live_calls() {
                self.endpoint.hangup(now, call, EndCause::Shutdown);
            }
        }
        self.stopping = Some(s);
        let idle =
            self.endpoint.live_calls().is_empty() && self.endpoint.pending_transactions() == 0;
        if idle || now >= s.give_up {
            self.finished = true;
        }
    }

    // ---- helpers every part uses ----

    /// Takes a port from the pool and has the host bind it; a port some other program
    /// holds is skipped.
    fn take_rtp_port(&mut self, ip: IpAddr) -> Option<u16> {
        for _ in 0..16 {
            let port = self.ports.take()?;
            if self.host.bind_rtp(ip, port) {
                return Some(port);
            }
            tracing::debug!(port, "RTP port unavailable");
            self.ports.release(port);
        }
        None
    }

    /// Starts the media of a call hotline places, silent until it is answered (its
    /// sockets exist from the INVITE on); the counters go on the leg's record.
    fn start_placed_media(&mut self, call: CallRef, port: u16) -> Arc<RtpCounters> {
        let rtp = Arc::new(RtpCounters::default());
        self.out.media(MediaCmd::Start {
            call,
            port,
            remote: None,
            codec: crate::core::sdp::Codec::Pcmu,
            telephone_event: Some(101),
            sending: false,
            counters: Arc::clone(&rtp),
        });
        rtp
    }

    /// A fresh SDP session id.
    fn session_id(&mut self) -> u64 {
        u64::from(self.rng.gen::<u32>())
    }
}
