//! The tokio shell around the [`Switchboard`]: it owns the sockets, the media thread,
//! the store writer and the clock, feeds the switchboard what happens, and carries out
//! what it asks. It decides nothing about calls.

mod cluster;
mod media;
mod recorder;
mod surfaces;
mod tcp;

use crate::config::Config;
use crate::core::media::prompt::PromptSet;
use crate::core::sip::endpoint::{CallRef, ConnId, Link, Transmit};
use crate::core::sip::message::MessageError;
use crate::ivr::{Plan, VerifyOutcome};
use crate::store::{AgentRequest, AgentRow, LockPolicy, Store, StoreError, Writer};
use crate::switchboard::Switchboard;
use crate::switchboard::{Host, Input, Loaded, MediaCmd, MediaEvent, Now, Output, Settings};
use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr, UdpSocket as StdUdpSocket};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::mpsc;
use tokio::time::{sleep_until, Instant};

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The database could not be opened or migrated (the message names it).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A dial plan is invalid; the message names file, line and reason.
    #[error("dial plans:\n{0}")]
    Plans(String),
    /// A prompt file is unusable (wrong format); the message names each file.
    #[error("prompts:\n{0}")]
    Prompts(String),
    /// The queues file is invalid.
    #[error("queues file {path}: {message}")]
    Queues { path: String, message: String },
    /// The trunks file is invalid.
    #[error("trunks file {path}: {message}")]
    Trunks { path: String, message: String },
    /// The webhooks file is invalid; the message names file, line and reason.
    #[error("webhooks file {0}")]
    Webhooks(#[from] crate::webhooks::WebhooksError),
    /// `HOTLINE_TEST_CLOCK_START` is not an RFC 3339 time.
    #[error("HOTLINE_TEST_CLOCK_START {0:?} is not an RFC 3339 time")]
    TestClock(String),
    /// The HTTP server could not start.
    #[error("http: {0}")]
    Http(String),
    /// A listening socket could not be opened.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// What the socket tasks, the media thread and the helpers tell the core task.
#[derive(Debug)]
enum Event {
    Connected(ConnId, mpsc::UnboundedSender<Vec<u8>>),
    /// A connection the core asked for could not be made.
    ConnectFailed(ConnId),
    Closed(ConnId),
    Stream(ConnId, SocketAddr, Vec<u8>),
    BadFrame(ConnId, SocketAddr, Vec<u8>, MessageError),
    Committed(CallRef),
    Media(MediaEvent),
    /// Dial plans changed on disk, or SIGHUP: load them again.
    Reload,
    /// Agents changed in the database (`None`: unchanged), and state changes asked for
    /// from the command line.
    Agents(Option<Vec<AgentRow>>, Vec<AgentRequest>),
    /// The numbers blocked now, when the list changed.
    Blocked(Vec<String>),
    /// Follow-ups to call and the calls asked for from the command line.
    DialWork(Vec<crate::store::DialTask>, Vec<crate::store::DialRequest>),
    Verified(CallRef, VerifyOutcome),
    /// The database's answer to a claim on an agent: (call, agent, won).
    Claimed(CallRef, String, bool),
    /// A cluster node's read of the shared database.
    Cluster(crate::switchboard::ClusterView),
}

/// The switchboard's host: binds RTP ports when asked and keeps the sockets until the
/// media engine is told to start on them.
#[derive(Default)]
struct Sockets {
    bound: HashMap<u16, [StdUdpSocket; 2]>,
}

impl Host for Sockets {
    fn bind_rtp(&mut self, ip: IpAddr, port: u16) -> bool {
        let bind = |port: u16| {
            StdUdpSocket::bind(SocketAddr::new(ip, port)).and_then(|s| {
                s.set_nonblocking(true)?;
                Ok(s)
            })
        };
        match bind(port).and_then(|rtp| Ok([rtp, bind(port + 1)?])) {
            Ok(pair) => {
                self.bound.insert(port, pair);
                true
            }
            Err(e) => {
                tracing::debug!(port, %e, "cannot bind RTP port");
                false
            }
        }
    }

    fn local_ip_towards(&mut self, to: SocketAddr) -> Option<IpAddr> {
        let any = if to.ip().is_ipv6() { "::" } else { "0.0.0.0" };
        let probe = StdUdpSocket::bind((any, 0)).ok()?;
        probe.connect(to).ok()?;
        probe.local_addr().ok().map(|a| a.ip())
    }
}

/// Runs the hotline until `shutdown` resolves, then drains calls and flushes records.
pub async fn run(cfg: Config, shutdown: impl Future<Output = ()>) -> Result<(), RuntimeError> {
    test_clock()?;
    // Before anything records: what is recorded without a recorder is lost.
    let metrics = metrics_handle();
    let node_id = cfg.cluster.as_ref().map(|c| c.node_id.as_str());
    let store = Store::connect_node(&cfg.database, node_id).await?;
    // Calls a previous process left open (it was killed, or the machine stopped) are over:
    // close them before taking new ones, while no call of ours is live. A cluster node
    // closes only its own, when it joins (other nodes' calls are live).
    if cfg.cluster.is_none() {
        match store
            .close_unfinished_calls(crate::store::now_ms(), "server_restart")
            .await?
        {
            (0, 0) => {}
            (calls, legs) => {
                tracing::warn!(
                    calls,
                    legs,
                    "closed calls left open by a previous run (end cause server_restart)"
                )
            }
        }
    }
    let sweeper = tokio::spawn(escalate_every_minute(store.clone(), cfg.followups.clone()));
    let udp = bind_udp(cfg.sip_listen)?;
    let tcp = TcpListener::bind(cfg.sip_listen)
        .await
        .map_err(|source| RuntimeError::Bind {
            addr: cfg.sip_listen,
            source,
        })?;
    let udp_addr = udp.local_addr().unwrap_or(cfg.sip_listen);
    let tcp_addr = tcp.local_addr().unwrap_or(cfg.sip_listen);

    let (writer, writer_task) = Writer::spawn(store.clone());
    let (in_tx, in_rx) = mpsc::unbounded_channel();
    tokio::spawn(tcp::accept(tcp, in_tx.clone(), cfg.max_message_bytes));
    let prompts = load_prompts(&cfg)?.map(Arc::new);
    let plans = load_plans(&cfg, prompts.as_deref())?;
    let (queues, features) = load_queues(&cfg)?;
    let outbound = load_trunks(&cfg).await?;
    let hooks = crate::webhooks::load(&cfg.webhooks)?;
    let surfaces = surfaces::Surfaces::start(&cfg, &store, &plans, metrics).await?;
    surfaces.ready.set(true, !plans.is_empty());
    let node = match &cfg.cluster {
        Some(c) => {
            let calendar = plans.first().map_or_else(
                || crate::ivr::calendar::Calendar::new(chrono_tz::UTC),
                |p| p.calendar.clone(),
            );
            let callbacks = cluster::callbacks(cfg.followups.clone(), calendar);
            let ip = cfg
                .advertise_ip
                .or_else(|| Some(udp_addr.ip()).filter(|ip| !ip.is_unspecified()))
                .or_else(|| Sockets::default().local_ip_towards(c.edge))
                .unwrap_or(udp_addr.ip());
            let uri = format!("sip:{}", SocketAddr::new(ip, udp_addr.port()));
            Some(cluster::start(&store, c, uri, callbacks, in_tx.clone()).await?)
        }
        None => None,
    };
    let (media, media_thread) = media::spawn(in_tx.clone(), cfg.rtp_timeout);
    tokio::spawn(watch_plans(cfg.dialplans.clone(), in_tx.clone()));
    let agents = store.agents().await?;
    let registrations = store.registrations(crate::store::now_ms()).await?;
    tokio::spawn(watch_agents(store.clone(), in_tx.clone()));
    tokio::spawn(watch_blocklist(store.clone(), in_tx.clone()));
    tokio::spawn(watch_dial_work(store.clone(), in_tx.clone()));
    let webhooks = tokio::spawn(crate::webhooks::run(store.clone(), hooks));
    let settings = Settings::from_config(&cfg, udp_addr.port(), rand::random());
    let loaded = Loaded {
        plans,
        prompts: prompts.clone(),
        queues,
        features,
        outbound,
    };
    let mut sb = Switchboard::new(real_now(), settings, Sockets::default(), loaded);
    sb.handle_input(
        real_now(),
        Input::Agents {
            agents: Some(agents),
            registrations: Some(registrations),
            requests: vec![],
        },
    );
    let blocked = store.blocked_numbers(real_now().wall_ms).await?;
    sb.handle_input(real_now(), Input::Blocked(blocked));
    // Said once everything is loaded, so a bad dial plan or queues file never looks
    // like a started server.
    println!(
        "hotline {} listening on sip udp {udp_addr} tcp {tcp_addr}, rtp ports {}-{}, database {}",
        env!("CARGO_PKG_VERSION"),
        cfg.rtp_ports.0,
        cfg.rtp_ports.1,
        crate::store::redact_url(&cfg.database)
    );
    let mut shell = Shell {
        udp,
        conns: HashMap::new(),
        connecting: HashMap::new(),
        media,
        writer: writer.clone(),
        store: store.clone(),
        inputs: in_tx,
        cfg: &cfg,
        prompts,
        surfaces,
        node,
    };
    shell.drive(&mut sb, in_rx, shutdown).await;
    shell.surfaces.stop().await;
    drop(shell);
    // The media thread ends once its handle is gone, after finishing recordings.
    let _ = tokio::task::spawn_blocking(move || media_thread.join()).await;
    drop(writer);
    sweeper.abort();
    webhooks.abort();
    match writer_task.await {
        Ok(stats) => tracing::info!(?stats, "call records flushed"),
        Err(e) => tracing::error!(%e, "call record writer failed"),
    }
    store.close().await;
    Ok(())
}

/// What the core task carries out the switchboard's outputs with.
struct Shell<'a> {
    udp: UdpSocket,
    conns: HashMap<ConnId, mpsc::UnboundedSender<Vec<u8>>>,
    /// Connections being opened, with what was sent on them meanwhile.
    connecting: HashMap<ConnId, Vec<Vec<u8>>>,
    media: media::MediaHandle,
    writer: Writer,
    store: Store,
    inputs: mpsc::UnboundedSender<Event>,
    cfg: &'a Config,
    prompts: Option<Arc<PromptSet>>,
    surfaces: surfaces::Surfaces,
    /// A cluster node's tasks; `None` on a single node.
    node: Option<cluster::Node>,
}

type Board = Switchboard<Sockets>;

impl Shell<'_> {
    /// The core task's loop: feed an input, carry out the outputs, wait for the next
    /// input or the switchboard's deadline; until the switchboard says it is finished.
    async fn drive(
        &mut self,
        sb: &mut Board,
        mut events: mpsc::UnboundedReceiver<Event>,
        shutdown: impl Future<Output = ()>,
    ) {
        let mut buf = vec![0u8; 65_536];
        let mut shutdown = std::pin::pin!(shutdown);
        let mut stopping = false;
        // A turn at least this often, so live state reaches the wallboard while idle.
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while let Some(wake) = self.carry_out(sb).await {
            self.surfaces.publish(sb, std::time::Instant::now());
            tokio::select! {
                r = self.udp.recv_from(&mut buf) => {
                    let now = real_now();
                    if let Ok((n, from)) = r {
                        sb.handle_input(now, Input::Datagram { from, bytes: &buf[..n] });
                    }
                    // Take whatever else is queued before carrying out the outputs.
                    for _ in 0..64 {
                        match self.udp.try_recv_from(&mut buf) {
                            Ok((n, from)) => sb.handle_input(now, Input::Datagram { from, bytes: &buf[..n] }),
                            Err(_) => break,
                        }
                    }
                }
                Some(ev) = events.recv() => self.on_event(sb, ev),
                Some(request) = self.surfaces.request() => match request {
                    crate::http::Control::Reload(reply) => {
                        let _ = reply.send(self.reload(sb));
                    }
                },
                _ = tick.tick() => {}
                _ = sleep_until(Instant::from_std(wake)) => {}
                _ = &mut shutdown, if !stopping => {
                    stopping = true;
                    sb.handle_input(real_now(), Input::Shutdown);
                }
            }
            // Timers that have come due run on every turn, not only when the sleep wins
            // the select: under load the sockets are always ready.
            let now = real_now();
            if now.at >= wake {
                sb.handle_input(now, Input::Timeout);
            }
        }
    }

    fn on_event(&mut self, sb: &mut Board, ev: Event) {
        let now = real_now();
        match ev {
            Event::Connected(id, tx) => {
                for bytes in self.connecting.remove(&id).unwrap_or_default() {
                    let _ = tx.send(bytes);
                }
                self.conns.insert(id, tx);
            }
            Event::ConnectFailed(id) => {
                self.connecting.remove(&id);
                sb.handle_input(now, Input::ConnectFailed(id));
            }
            Event::Closed(id) => {
                self.conns.remove(&id);
                sb.handle_input(now, Input::Closed(id));
            }
            Event::Stream(conn, from, bytes) => sb.handle_input(
                now,
                Input::Stream {
                    conn,
                    from,
                    bytes: &bytes,
                },
            ),
            Event::BadFrame(conn, from, bytes, error) => sb.handle_input(
                now,
                Input::BadFrame {
                    conn,
                    from,
                    bytes: &bytes,
                    error: &error,
                },
            ),
            Event::Committed(call) => sb.handle_input(now, Input::Committed(call)),
            Event::Media(ev) => sb.handle_input(now, Input::Media(ev)),
            Event::Verified(call, outcome) => sb.handle_input(now, Input::Verified(call, outcome)),
            Event::Claimed(call, agent, won) => {
                sb.handle_input(now, Input::Claimed { call, agent, won })
            }
            Event::Cluster(view) => sb.handle_input(now, Input::Cluster(view)),
            Event::Blocked(numbers) => sb.handle_input(now, Input::Blocked(numbers)),
            Event::DialWork(tasks, requests) => {
                sb.handle_input(now, Input::DialWork { tasks, requests })
            }
            Event::Agents(agents, requests) => sb.handle_input(
                now,
                Input::Agents {
                    agents,
                    registrations: None,
                    requests,
                },
            ),
            Event::Reload => {
                let _ = self.reload(sb);
            }
        }
    }

    /// Loads the dial plans again (the switchboard reloads the queues with them); a bad
    /// plan is refused, with its file, line and reason, and the running ones stay.
    fn reload(&mut self, sb: &mut Board) -> Result<usize, String> {
        let (plans, errors) = crate::ivr::load_dir(&self.cfg.dialplans, self.prompts.as_deref());
        if errors.is_empty() {
            let count = plans.len();
            let plans = plans.into_iter().map(Arc::new).collect();
            sb.handle_input(real_now(), Input::Reload(plans));
            self.surfaces.ready.set(true, count > 0);
            Ok(count)
        } else {
            for e in &errors {
                tracing::error!(error = %e, "dial plan rejected; the running plans stay in force");
            }
            Err(errors
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n"))
        }
    }

    /// Carries out the switchboard's outputs; returns when to wake it, or `None` once
    /// it has finished.
    async fn carry_out(&mut self, sb: &mut Board) -> Option<std::time::Instant> {
        loop {
            match sb.poll_output() {
                Output::Connect { conn, addr } => {
                    self.connecting.insert(conn, Vec::new());
                    let (inputs, max) = (self.inputs.clone(), self.cfg.max_message_bytes);
                    tokio::spawn(tcp::connect(addr, conn, inputs, max));
                }
                Output::Transmit(t) => self.send(t).await,
                Output::Media(cmd) => self.media_cmd(sb, cmd),
                Output::Store { write, ack } => {
                    if let crate::store::Write::CallEnded { cause, .. } = &write {
                        metrics::counter!(crate::metrics::CALLS_TOTAL, "outcome" => *cause)
                            .increment(1);
                    }
                    let Some(call) = ack else {
                        self.writer.send(write);
                        continue;
                    };
                    let done = self.writer.submit(write);
                    let inputs = self.inputs.clone();
                    tokio::spawn(async move {
                        if done.await.is_ok() {
                            let _ = inputs.send(Event::Committed(call));
                        }
                    });
                }
                Output::Verify {
                    call,
                    account,
                    secret,
                } => {
                    let (store, inputs) = (self.store.clone(), self.inputs.clone());
                    tokio::spawn(async move {
                        let outcome = verify(&store, &account, secret).await;
                        let _ = inputs.send(Event::Verified(call, outcome));
                    });
                }
                Output::Cluster(cmd) => {
                    if let Some(node) = &self.node {
                        let _ = node.cmds.send(cmd);
                    }
                }
                Output::Timeout(at) => return Some(at),
                Output::Finished => return None,
            }
        }
    }

    /// Hands a command to the media thread, with the sockets a new stream runs on.
    fn media_cmd(&mut self, sb: &mut Board, cmd: MediaCmd) {
        let sockets = match &cmd {
            MediaCmd::Start { port, .. } => {
                let Some(pair) = sb.host_mut().bound.remove(port) else {
                    tracing::error!(port, "media start for a port that was not bound");
                    return;
                };
                Some(pair)
            }
            MediaCmd::Record { path, .. } => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    if let Err(e) = std::fs::create_dir_all(dir) {
                        tracing::error!(%e, dir = %dir.display(), "cannot create the recordings folder");
                    }
                }
                None
            }
            _ => None,
        };
        let _ = self.media.send((cmd, sockets));
    }

    async fn send(&mut self, t: Transmit) {
        match t.peer.link {
            Link::Udp => {
                if let Err(e) = self.udp.try_send_to(&t.bytes, t.peer.addr) {
                    if e.kind() == std::io::ErrorKind::WouldBlock {
                        let _ = self.udp.send_to(&t.bytes, t.peer.addr).await;
                    } else {
                        tracing::debug!(%e, to = %t.peer.addr, "udp send failed");
                    }
                }
            }
            Link::Tcp(id) => {
                if let Some(tx) = self.conns.get(&id) {
                    let _ = tx.send(t.bytes);
                } else if let Some(queue) = self.connecting.get_mut(&id) {
                    queue.push(t.bytes);
                }
            }
        }
    }
}

/// Records metrics for `/metrics` when nothing else in the process has yet.
fn metrics_handle() -> Option<metrics_exporter_prometheus::PrometheusHandle> {
    match crate::metrics::builder().and_then(|b| b.install_recorder()) {
        Ok(handle) => {
            crate::metrics::describe();
            // Histogram samples pile up until drained; a scrape drains them, but nothing
            // may scrape for days.
            let upkeep = handle.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(5));
                loop {
                    tick.tick().await;
                    upkeep.run_upkeep();
                }
            });
            Some(handle)
        }
        Err(e) => {
            tracing::warn!(%e, "metrics are off");
            None
        }
    }
}

/// The machine's clocks: the switchboard reads none, so every input carries them.
fn real_now() -> Now {
    Now {
        at: std::time::Instant::now(),
        wall_ms: crate::store::now_ms() + CLOCK_OFFSET_MS.load(Ordering::Relaxed),
    }
}

/// Added to the wall clock of every input: zero, except in end-to-end tests, which set
/// `HOTLINE_TEST_CLOCK_START` (RFC 3339) to run the shipped dial plan at a fixed
/// instant (a holiday morning, an evening) from the moment the server starts.
static CLOCK_OFFSET_MS: AtomicI64 = AtomicI64::new(0);

/// Sets the test clock from `HOTLINE_TEST_CLOCK_START`, if given.
fn test_clock() -> Result<(), RuntimeError> {
    let Ok(start) = std::env::var("HOTLINE_TEST_CLOCK_START") else {
        return Ok(());
    };
    let start =
        chrono::DateTime::parse_from_rfc3339(&start).map_err(|_| RuntimeError::TestClock(start))?;
    let offset = start.timestamp_millis() - crate::store::now_ms();
    CLOCK_OFFSET_MS.store(offset, Ordering::Relaxed);
    tracing::warn!(%start, "test clock in force: calls see this time, not the real one");
    Ok(())
}

/// Checks a caller's identity; a database error counts as a failed attempt (logged).
async fn verify(store: &Store, account: &str, secret: crate::store::Secret) -> VerifyOutcome {
    let now = crate::store::now_ms();
    match store
        .verify(account, secret, now, &LockPolicy::default())
        .await
    {
        Ok(v) => v.into(),
        Err(e) => {
            tracing::error!(%e, "verification failed for a database error; treated as a failed attempt");
            VerifyOutcome::Failed
        }
    }
}

/// The queues file's queues and features (defaults without a file).
fn load_queues(
    cfg: &Config,
) -> Result<(Vec<crate::acd::QueueConfig>, crate::acd::config::Features), RuntimeError> {
    match std::fs::read_to_string(&cfg.queues) {
        Ok(text) => crate::acd::config::parse(&text).map_err(|e| RuntimeError::Queues {
            path: cfg.queues.display().to_string(),
            message: e.to_string(),
        }),
        Err(_) => {
            tracing::info!(path = %cfg.queues.display(), "no queues file: default queues");
            Ok((vec![], crate::acd::config::Features::default()))
        }
    }
}

/// The trunks file (missing: no outbound calls). A trunk whose name does not resolve
/// is left out with a warning, so a DNS failure never keeps the hotline from answering.
async fn load_trunks(cfg: &Config) -> Result<crate::switchboard::OutboundSetup, RuntimeError> {
    let path = cfg.trunks.display().to_string();
    let Ok(text) = std::fs::read_to_string(&cfg.trunks) else {
        tracing::info!(%path, "no trunks file: no outbound calls");
        return Ok(Default::default());
    };
    let file = crate::trunks::parse(&text).map_err(|e| RuntimeError::Trunks {
        path: path.clone(),
        message: e.to_string(),
    })?;
    let mut lines = Vec::new();
    for trunk in file.trunks {
        let found = tokio::net::lookup_host(trunk.address.clone()).await;
        match found {
            Ok(mut addrs) => match addrs.next() {
                Some(addr) => lines.push(crate::switchboard::TrunkLine { trunk, addr }),
                None => {
                    tracing::warn!(trunk = %trunk.name, "trunk address resolves to nothing; left out")
                }
            },
            Err(e) => {
                tracing::warn!(trunk = %trunk.name, %e, "cannot resolve the trunk's address; left out")
            }
        }
    }
    tracing::info!(%path, trunks = lines.len(), "trunks loaded");
    Ok(crate::switchboard::OutboundSetup {
        lines,
        dialer: file.dialer,
        dial_out_prefix: file.dial_out.map(|d| d.prefix),
    })
}

/// Reads the follow-ups to call and the calls asked for from the command line every
/// five seconds, for the callback dialer.
async fn watch_dial_work(store: Store, inputs: mpsc::UnboundedSender<Event>) {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    loop {
        tick.tick().await;
        let tasks = match store.dial_tasks().await {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(%e, "cannot read the follow-ups to call; trying again");
                continue;
            }
        };
        let requests = match store.take_dial_requests(real_now().wall_ms).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(%e, "cannot read the calls asked for; trying again");
                vec![]
            }
        };
        if inputs.send(Event::DialWork(tasks, requests)).is_err() {
            return;
        }
    }
}

/// Reads the blocklist every two seconds (an entry's end passes without a change to
/// the table) and sends it to the core task when the numbers blocked now change.
async fn watch_blocklist(store: Store, inputs: mpsc::UnboundedSender<Event>) {
    let mut last = None;
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    loop {
        tick.tick().await;
        match store.blocked_numbers(real_now().wall_ms).await {
            Ok(numbers) if last.as_ref() != Some(&numbers) => {
                last = Some(numbers.clone());
                if inputs.send(Event::Blocked(numbers)).is_err() {
                    return;
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(%e, "cannot read the blocklist; trying again"),
        }
    }
}

/// Looks at the agents table every two seconds: changed agents, and state changes asked
/// for from the command line, go to the core task.
async fn watch_agents(store: Store, inputs: mpsc::UnboundedSender<Event>) {
    let mut last = store.agents_version().await.ok();
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    loop {
        tick.tick().await;
        let version = match store.agents_version().await {
            Ok(v) => Some(v),
            Err(e) => {
                tracing::warn!(%e, "cannot read the agents table; trying again");
                continue;
            }
        };
        let agents = if version != last {
            match store.agents().await {
                Ok(a) => {
                    last = version;
                    Some(a)
                }
                Err(e) => {
                    tracing::warn!(%e, "cannot read the agents; trying again");
                    None
                }
            }
        } else {
            None
        };
        let requests = match store.take_agent_requests(crate::store::now_ms()).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(%e, "cannot read agent state requests; trying again");
                vec![]
            }
        };
        if (agents.is_some() || !requests.is_empty())
            && inputs.send(Event::Agents(agents, requests)).is_err()
        {
            return;
        }
    }
}

/// The prompts, encoded once for all calls. A missing folder means silence (with a
/// warning); a file in the wrong format stops the start.
fn load_prompts(cfg: &Config) -> Result<Option<PromptSet>, RuntimeError> {
    if !cfg.prompts.is_dir() {
        tracing::warn!(dir = %cfg.prompts.display(), "no prompts folder: callers will hear silence");
        return Ok(None);
    }
    match crate::prompts::load(&cfg.prompts) {
        Ok(set) => Ok(Some(set)),
        Err(problems) => Err(RuntimeError::Prompts(
            problems
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join("\n"),
        )),
    }
}

/// The dial plans; any invalid one stops the start (run `hotline check` first).
fn load_plans(cfg: &Config, prompts: Option<&PromptSet>) -> Result<Vec<Arc<Plan>>, RuntimeError> {
    if !cfg.dialplans.is_dir() {
        tracing::warn!(dir = %cfg.dialplans.display(), "no dial plans folder: calls are answered with a greeting only");
        return Ok(vec![]);
    }
    let (plans, errors) = crate::ivr::load_dir(&cfg.dialplans, prompts);
    if !errors.is_empty() {
        return Err(RuntimeError::Plans(
            errors
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n"),
        ));
    }
    tracing::info!(count = plans.len(), "dial plans loaded");
    Ok(plans.into_iter().map(Arc::new).collect())
}

/// Asks for a reload on SIGHUP and whenever a dial plan file changes (checked every
/// two seconds by modification time; no extra dependency for a folder of a few files).
async fn watch_plans(dir: std::path::PathBuf, inputs: mpsc::UnboundedSender<Event>) {
    let stamp =
        |dir: &std::path::Path| -> Vec<(std::path::PathBuf, Option<std::time::SystemTime>)> {
            let mut v: Vec<_> = std::fs::read_dir(dir)
                .into_iter()
                .flatten()
                .flatten()
                .filter(|e| e.path().extension().is_some_and(|x| x == "toml"))
                .map(|e| (e.path(), e.metadata().and_then(|m| m.modified()).ok()))
                .collect();
            v.sort();
            v
        };
    #[cfg(unix)]
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    let mut last = stamp(&dir);
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    loop {
        #[cfg(unix)]
        let hup_recv = async {
            match hup.as_mut() {
                Some(h) => h.recv().await,
                None => std::future::pending().await,
            }
        };
        #[cfg(not(unix))]
        let hup_recv = std::future::pending::<Option<()>>();
        tokio::select! {
            _ = tick.tick() => {
                let now = stamp(&dir);
                if now != last {
                    last = now;
                    if inputs.send(Event::Reload).is_err() { return; }
                }
            }
            _ = hup_recv => {
                tracing::info!("SIGHUP: reloading dial plans");
                if inputs.send(Event::Reload).is_err() { return; }
            }
        }
    }
}

/// Escalates overdue complaints once a minute, so the work list and the supervisor's flags
/// are current even when nobody runs `hotline followups`.
async fn escalate_every_minute(store: Store, rules: crate::followup::Rules) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        let now = crate::store::now_ms();
        match crate::followup::escalate_overdue(&store, &rules, now).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(escalated = n, "overdue complaints escalated"),
            Err(e) => {
                tracing::warn!(%e, "escalating overdue complaints failed; retried in a minute")
            }
        }
        match store.open_followups().await {
            Ok(open) => {
                let overdue = open
                    .iter()
                    .filter(|f| !crate::followup::overdue(f, now).is_empty())
                    .count();
                metrics::gauge!(crate::metrics::FOLLOWUPS_OVERDUE).set(overdue as f64);
            }
            Err(e) => tracing::warn!(%e, "cannot count overdue follow-ups; retried in a minute"),
        }
    }
}

/// The SIP UDP socket, with buffers large enough for bursts of thousands of calls.
fn bind_udp(addr: SocketAddr) -> Result<UdpSocket, RuntimeError> {
    let err = |source| RuntimeError::Bind { addr, source };
    let domain = socket2::Domain::for_address(addr);
    let sock = socket2::Socket::new(domain, socket2::Type::DGRAM, Some(socket2::Protocol::UDP))
        .map_err(err)?;
    let _ = sock.set_recv_buffer_size(8 << 20);
    let _ = sock.set_send_buffer_size(8 << 20);
    sock.set_nonblocking(true).map_err(err)?;
    sock.bind(&addr.into()).map_err(err)?;
    UdpSocket::from_std(StdUdpSocket::from(sock)).map_err(err)
}
