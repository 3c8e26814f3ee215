//! The tokio shell. One task owns the SIP endpoint and the call orchestrator and
//! `select!`s on the UDP socket, TCP connections, the next timer and shutdown; it only
//! forwards bytes and time to the core and carries out what comes back.

mod calls;
mod desk;
mod ivr;
mod media;
mod recorder;
mod tcp;

use crate::config::Config;
use crate::core::media::prompt::PromptSet;
use crate::core::sip::endpoint::{ConnId, Endpoint, EndpointConfig, Link, Peer, Transmit};
use crate::core::sip::message::MessageError;
use crate::core::sip::transaction::Timers;
use crate::store::{Store, StoreError, Writer};
use calls::Calls;
use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr, UdpSocket as StdUdpSocket};
use std::time::Duration;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::mpsc;
use tokio::time::{sleep_until, Instant};

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The database could not be opened or migrated.
    #[error("database: {0}")]
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
    /// A listening socket could not be opened.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// What the socket tasks and helpers tell the core task.
#[derive(Debug)]
enum Input {
    Connected(ConnId, mpsc::UnboundedSender<Vec<u8>>),
    Closed(ConnId),
    Stream(ConnId, SocketAddr, Vec<u8>),
    BadFrame(ConnId, SocketAddr, Vec<u8>, MessageError),
    /// A call's arrival record is committed: it may now be answered.
    Committed(crate::core::sip::endpoint::CallRef),
    /// Something the media engine noticed.
    Media(media::MediaEvent),
    /// Dial plans changed on disk, or SIGHUP: load them again.
    Reload,
    /// Agents changed in the database (`None`: unchanged), and state changes asked for
    /// from the command line.
    Agents(
        Option<Vec<crate::store::AgentRow>>,
        Vec<crate::store::AgentRequest>,
    ),
    /// The answer to a dial plan's identity check.
    Verified(
        crate::core::sip::endpoint::CallRef,
        crate::ivr::VerifyOutcome,
    ),
}

/// Runs the hotline until `shutdown` resolves, then drains calls and flushes records.
pub async fn run(cfg: Config, shutdown: impl Future<Output = ()>) -> Result<(), RuntimeError> {
    let store = Store::connect(&cfg.database).await?;
    // Calls a previous process left open (it was killed, or the machine stopped) are over:
    // close them before taking new ones, while no call of ours is live.
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
    let media_ip = advertise_ip(&cfg);
    let prompts = load_prompts(&cfg)?;
    let (media, media_thread) = media::spawn(in_tx.clone(), cfg.rtp_timeout);
    let mut endpoint = Endpoint::new(EndpointConfig {
        timers: Timers {
            t1: cfg.t1,
            t2: cfg.t2,
            t4: cfg.t4,
        },
        max_message: cfg.max_message_bytes,
        port: udp_addr.port(),
        retry_after: cfg.drain.max(Duration::from_secs(5)),
        seed: rand::random(),
    });
    let plans = load_plans(&cfg, prompts.as_ref())?;
    tokio::spawn(watch_plans(cfg.dialplans.clone(), in_tx.clone()));
    let desk = make_desk(&cfg, &plans)?;
    let agents = store.agents().await?;
    let registrations = store.registrations(crate::store::now_ms()).await?;
    tokio::spawn(watch_agents(store.clone(), in_tx.clone()));
    let wiring = calls::Wiring {
        writer: writer.clone(),
        store: store.clone(),
        media,
        inputs: in_tx,
        prompts,
        plans,
        desk,
    };
    let mut calls = Calls::new(&cfg, media_ip, wiring);
    calls.sync_agents(
        std::time::Instant::now(),
        agents,
        Some(registrations),
        &mut endpoint,
    );
    // Said once everything is loaded, so a bad dial plan or queues file never looks
    // like a started server.
    println!(
        "hotline {} listening on sip udp {udp_addr} tcp {tcp_addr}, rtp ports {}-{}, database {}",
        env!("CARGO_PKG_VERSION"),
        cfg.rtp_ports.0,
        cfg.rtp_ports.1,
        redact_url(&cfg.database)
    );
    drive(&udp, &mut endpoint, &mut calls, in_rx, cfg.drain, shutdown).await;
    drop(calls);
    // The media thread ends once its handle is gone, after finishing recordings.
    let _ = tokio::task::spawn_blocking(move || media_thread.join()).await;
    drop(writer);
    sweeper.abort();
    match writer_task.await {
        Ok(stats) => tracing::info!(?stats, "call records flushed"),
        Err(e) => tracing::error!(%e, "call record writer failed"),
    }
    store.close().await;
    Ok(())
}

/// The core task's loop: mutate, drain outputs, wait for the next input or timer.
async fn drive(
    udp: &UdpSocket,
    endpoint: &mut Endpoint,
    calls: &mut Calls,
    mut inputs: mpsc::UnboundedReceiver<Input>,
    drain: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let mut conns: HashMap<ConnId, mpsc::UnboundedSender<Vec<u8>>> = HashMap::new();
    let mut buf = vec![0u8; 65_536];
    let mut shutdown = std::pin::pin!(shutdown);
    // Set at shutdown: until `drain_until` calls may go on; by `give_up` we stop waiting for BYEs.
    let mut stopping: Option<(Instant, Instant)> = None;
    loop {
        let wake = [
            endpoint.poll_timeout(),
            calls.next_timeout(),
            stopping.map(|(d, _)| d.into_std()),
        ]
        .into_iter()
        .flatten()
        .min();
        tokio::select! {
            r = udp.recv_from(&mut buf) => {
                let now = std::time::Instant::now();
                if let Ok((n, addr)) = r {
                    endpoint.handle_datagram(now, addr, &buf[..n]);
                }
                // Take whatever else is queued before waking the timers again.
                for _ in 0..64 {
                    match udp.try_recv_from(&mut buf) {
                        Ok((n, addr)) => endpoint.handle_datagram(now, addr, &buf[..n]),
                        Err(_) => break,
                    }
                }
            }
            Some(input) = inputs.recv() => {
                let now = std::time::Instant::now();
                match input {
                    Input::Connected(id, tx) => { conns.insert(id, tx); }
                    Input::Closed(id) => { conns.remove(&id); }
                    Input::Stream(id, addr, bytes) => {
                        endpoint.handle_message(now, Peer { link: Link::Tcp(id), addr }, &bytes)
                    }
                    Input::BadFrame(id, addr, bytes, err) => {
                        endpoint.reject_malformed(Peer { link: Link::Tcp(id), addr }, &bytes, &err)
                    }
                    Input::Committed(call) => calls.on_committed(now, call, endpoint),
                    Input::Media(ev) => calls.on_media(now, ev, endpoint),
                    Input::Verified(call, outcome) => calls.on_verified(now, call, outcome, endpoint),
                    Input::Reload => calls.reload_plans(),
                    Input::Agents(agents, requests) => {
                        if let Some(agents) = agents {
                            calls.sync_agents(now, agents, None, endpoint);
                        }
                        calls.agent_requests(now, requests, endpoint);
                    }
                }
            }
            _ = sleep_until(wake.map(Instant::from_std).unwrap_or_else(|| Instant::now() + Duration::from_secs(3600))) => {}
            _ = &mut shutdown, if stopping.is_none() => {
                let now = Instant::now();
                tracing::info!(live = endpoint.live_calls().len(), ?drain, "shutting down: refusing new calls, draining live ones");
                endpoint.set_draining(true);
                stopping = Some((now + drain, now + drain + Duration::from_secs(5)));
            }
        }
        let now = std::time::Instant::now();
        endpoint.handle_timeout(now);
        calls.on_timeout(now, endpoint);
        if let Some((drain_until, _)) = stopping {
            if now >= drain_until.into_std() {
                calls.hangup_all(now, endpoint);
            }
        }
        loop {
            let mut busy = false;
            while let Some(ev) = endpoint.poll_event() {
                busy = true;
                calls.on_event(now, ev, endpoint);
            }
            while let Some(t) = endpoint.poll_transmit() {
                busy = true;
                send(udp, &conns, t).await;
            }
            if !busy {
                break;
            }
        }
        if let Some((_, give_up)) = stopping {
            let idle = endpoint.live_calls().is_empty() && endpoint.pending_transactions() == 0;
            if idle || now >= give_up.into_std() {
                return;
            }
        }
    }
}

async fn send(
    udp: &UdpSocket,
    conns: &HashMap<ConnId, mpsc::UnboundedSender<Vec<u8>>>,
    t: Transmit,
) {
    match t.peer.link {
        Link::Udp => {
            if let Err(e) = udp.try_send_to(&t.bytes, t.peer.addr) {
                if e.kind() == std::io::ErrorKind::WouldBlock {
                    let _ = udp.send_to(&t.bytes, t.peer.addr).await;
                } else {
                    tracing::debug!(%e, to = %t.peer.addr, "udp send failed");
                }
            }
        }
        Link::Tcp(id) => {
            if let Some(tx) = conns.get(&id) {
                let _ = tx.send(t.bytes);
            }
        }
    }
}

/// The registrar and the ACD, with the queues file's queues plus defaults for every
/// queue a dial plan names.
fn make_desk(
    cfg: &Config,
    plans: &[std::sync::Arc<crate::ivr::Plan>],
) -> Result<desk::Desk, RuntimeError> {
    use crate::acd::{config, Acd, QueueConfig};
    use crate::core::sip::registrar::{AuthPolicy, Authenticator, Registrar, RegistrarPolicy};
    let (mut queues, features) = match std::fs::read_to_string(&cfg.queues) {
        Ok(text) => config::parse(&text).map_err(|e| RuntimeError::Queues {
            path: cfg.queues.display().to_string(),
            message: e.to_string(),
        })?,
        Err(_) => {
            tracing::info!(path = %cfg.queues.display(), "no queues file: default queues");
            (vec![], config::Features::default())
        }
    };
    for plan in plans {
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
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let auth = Authenticator::new(
        cfg.realm.clone(),
        rand::random(),
        rand::random(),
        AuthPolicy::default(),
        std::time::Instant::now(),
        wall,
    );
    Ok(desk::Desk::new(
        Registrar::new(auth, RegistrarPolicy::default()),
        Acd::new(queues),
        features,
    ))
}

/// Looks at the agents table every two seconds: changed agents, and state changes asked
/// for from the command line, go to the core task.
async fn watch_agents(store: Store, inputs: mpsc::UnboundedSender<Input>) {
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
            && inputs.send(Input::Agents(agents, requests)).is_err()
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
fn load_plans(
    cfg: &Config,
    prompts: Option<&PromptSet>,
) -> Result<Vec<std::sync::Arc<crate::ivr::Plan>>, RuntimeError> {
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
    Ok(plans.into_iter().map(std::sync::Arc::new).collect())
}

/// Asks for a reload on SIGHUP and whenever a dial plan file changes (checked every
/// two seconds by modification time; no extra dependency for a folder of a few files).
async fn watch_plans(dir: std::path::PathBuf, inputs: mpsc::UnboundedSender<Input>) {
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
                    if inputs.send(Input::Reload).is_err() { return; }
                }
            }
            _ = hup_recv => {
                tracing::info!("SIGHUP: reloading dial plans");
                if inputs.send(Input::Reload).is_err() { return; }
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
        match store.escalate_overdue(&rules, crate::store::now_ms()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(escalated = n, "overdue complaints escalated"),
            Err(e) => {
                tracing::warn!(%e, "escalating overdue complaints failed; retried in a minute")
            }
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

/// The address put in SDP when the configuration fixes one: the advertised address or
/// the listening one. Otherwise each call uses the address its caller dialled.
fn advertise_ip(cfg: &Config) -> Option<IpAddr> {
    cfg.advertise_ip
        .or_else(|| Some(cfg.sip_listen.ip()).filter(|ip| !ip.is_unspecified()))
}

/// A database URL without its password, for the start-up line.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => match url[s + 3..at].split_once(':') {
            Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
            None => url.to_string(),
        },
        _ => url.to_string(),
    }
}
