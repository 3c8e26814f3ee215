//! Agent farm for `scripts/bench-bridge.sh`: N agent phones simulated in one process, so
//! that 1,000 bridged calls need neither 1,000 softphones nor a SIPp scenario per agent.
//!
//! Each agent (extension `first + i`) registers with digest auth, logs in by dialling the
//! login feature code, then answers every INVITE hotline sends with PCMU, streams a tone
//! in 20 ms frames from a socket of its own per call, counts what hotline relays back, and
//! hangs up `--hangup-after-secs` after answering (by then the caller has gone and the
//! leg is in wrap-up; hanging up there ends only the leg).
//!
//! One UDP socket carries all agents' SIP (Contact users tell them apart); one thread
//! paces all RTP, so the farm stays light next to SIPp on the load core.
//!
//! Output, one line each, for the script to parse:
//! - `farm ms=.. registered=.. ready=.. failed=.. calls=.. answered=.. ended=..` every second;
//! - `rtp ms=.. streams=.. rx=.. exp=.. seq_exp=.. loud=..` every second, cumulative over
//!   all calls: packets received, expected by time (50/s from each call's first packet
//!   to its end), expected by sequence numbers, and those carrying audio (not silence);
//! - `call ...` when a call ends, and `summary ...` at exit (stdin closed).

use clap::Parser;
use hotline::core::media::g711::{linear_to_ulaw, ulaw_to_linear};
use hotline::core::sip::auth::{ha1, Algorithm};
use std::collections::HashMap;
use std::io::{ErrorKind, Read};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[derive(Parser)]
#[command(about = "Simulated agent phones for the bridge benchmark")]
struct Args {
    /// hotline's SIP address.
    #[arg(long, default_value = "127.0.0.1:5060")]
    server: SocketAddr,
    /// Local address for SIP and RTP.
    #[arg(long, default_value = "127.0.0.1")]
    ip: IpAddr,
    /// Extension of the first agent; the others follow.
    #[arg(long, default_value_t = 1000)]
    first: u32,
    #[arg(long, default_value_t = 250)]
    count: u32,
    #[arg(long, env = "FARM_PASSWORD")]
    password: String,
    /// Agents starting registration per second (hotline's CPU stays out of the way).
    #[arg(long, default_value_t = 100)]
    login_rate: u32,
    /// An answered call is hung up this long after the answer.
    #[arg(long, default_value_t = 45)]
    hangup_after_secs: u64,
    /// Answer the MD5 challenge instead of the SHA-256 one.
    #[arg(long)]
    md5: bool,
    /// Login feature code.
    #[arg(long, default_value = "*1")]
    login_code: String,
    /// Ignore the benchmark harness's own arguments (`cargo bench` passes `--bench`).
    #[arg(long, hide = true)]
    bench: bool,
}

const TICK: Duration = Duration::from_millis(20);
const T1: Duration = Duration::from_millis(500);

fn unix_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

fn random_hex() -> String {
    format!("{:016x}", rand::random::<u64>())
}

// ---------------------------------------------------------------- SIP parsing

/// A received SIP message, borrowed from the datagram.
struct Msg<'a> {
    start: &'a str,
    headers: Vec<(&'a str, &'a str)>,
    body: &'a str,
}

impl<'a> Msg<'a> {
    fn parse(text: &'a str) -> Option<Msg<'a>> {
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((text, ""));
        let mut lines = head.split("\r\n");
        let start = lines.next()?;
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim(), v.trim()))
            .collect();
        Some(Msg {
            start,
            headers,
            body,
        })
    }

    /// All values of a header, compact forms included.
    fn all(&self, name: &'static str) -> impl Iterator<Item = &'a str> + '_ {
        let compact = match name {
            "Via" => "v",
            "From" => "f",
            "To" => "t",
            "Call-ID" => "i",
            "Contact" => "m",
            _ => "",
        };
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name) || n.eq_ignore_ascii_case(compact))
            .map(|(_, v)| *v)
    }

    fn header(&self, name: &'static str) -> &'a str {
        self.all(name).next().unwrap_or("")
    }

    fn status(&self) -> Option<u16> {
        let rest = self.start.strip_prefix("SIP/2.0 ")?;
        rest.get(..3)?.parse().ok()
    }

    fn method(&self) -> &'a str {
        self.start.split(' ').next().unwrap_or("")
    }

    /// User part of the Request-URI.
    fn uri_user(&self) -> &'a str {
        let uri = self.start.split(' ').nth(1).unwrap_or("");
        let rest = uri.split_once(':').map_or(uri, |(_, r)| r);
        rest.split(['@', ';']).next().unwrap_or("")
    }

    fn cseq(&self) -> (u32, &'a str) {
        let mut it = self.header("CSeq").split_whitespace();
        let n = it.next().and_then(|n| n.parse().ok()).unwrap_or(0);
        (n, it.next().unwrap_or(""))
    }

    /// The URI inside a Contact (or any name-addr) value.
    fn contact_uri(&self) -> String {
        addr_uri(self.header("Contact")).to_string()
    }

    /// hotline's media address from the SDP body.
    fn sdp_remote(&self) -> Option<SocketAddr> {
        let ip = self
            .body
            .lines()
            .find_map(|l| l.strip_prefix("c=IN IP4 "))?
            .trim();
        let port = self
            .body
            .lines()
            .find_map(|l| l.strip_prefix("m=audio "))?
            .split(' ')
            .next()?;
        format!("{ip}:{port}").parse().ok()
    }
}

fn addr_uri(v: &str) -> &str {
    match (v.find('<'), v.find('>')) {
        (Some(a), Some(b)) if a < b => &v[a + 1..b],
        _ => v.split(';').next().unwrap_or(v).trim(),
    }
}

fn tag_of(v: &str) -> Option<&str> {
    let i = v.find(";tag=")?;
    v[i + 5..].split([';', '>', ' ']).next()
}

/// A parameter of a WWW-Authenticate value, quoted or not.
fn param(v: &str, name: &str) -> Option<String> {
    let start = v.find(&format!("{name}="))? + name.len() + 1;
    let rest = &v[start..];
    Some(match rest.strip_prefix('"') {
        Some(q) => q[..q.find('"')?].to_string(),
        None => rest[..rest.find(',').unwrap_or(rest.len())]
            .trim()
            .to_string(),
    })
}

/// The Authorization value answering one of a 401's challenges (RFC 7616, qop=auth).
fn authorization(
    resp: &Msg,
    md5: bool,
    user: &str,
    password: &str,
    method: &str,
    uri: &str,
) -> Option<String> {
    let want = if md5 { "MD5" } else { "SHA-256" };
    let challenges: Vec<&str> = resp.all("WWW-Authenticate").collect();
    let www = challenges
        .iter()
        .find(|c| param(c, "algorithm").is_some_and(|a| a.eq_ignore_ascii_case(want)))
        .or(challenges.first())?;
    let token = param(www, "algorithm").unwrap_or_else(|| "MD5".into());
    let alg = Algorithm::from_token(&token)?;
    let (realm, nonce) = (param(www, "realm")?, param(www, "nonce")?);
    let cnonce = random_hex();
    let h1 = ha1(alg, user, &realm, password);
    let h2 = alg.hash(format!("{method}:{uri}").as_bytes());
    let response = alg.hash(format!("{h1}:{nonce}:00000001:{cnonce}:auth:{h2}").as_bytes());
    Some(format!(
        "Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", \
         response=\"{response}\", algorithm={token}, cnonce=\"{cnonce}\", qop=auth, nc=00000001"
    ))
}

fn sdp(ip: IpAddr, port: u16) -> String {
    format!(
        "v=0\r\no=- {} 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\nm=audio {port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n",
        rand::random::<u32>()
    )
}

// ---------------------------------------------------------------- RTP thread

enum RtpCmd {
    Start {
        id: u64,
        ext: u32,
        socket: UdpSocket,
        remote: SocketAddr,
    },
    Stop {
        id: u64,
    },
}

/// One call's media: what it sends and what it counted.
struct Stream {
    ext: u32,
    socket: UdpSocket,
    remote: SocketAddr,
    seq: u16,
    ts: u32,
    ssrc: u32,
    rx: u64,
    loud: u64,
    first_rx: Option<Instant>,
    /// Current remote SSRC, and the extended sequence numbers seen under it.
    peer_ssrc: Option<u32>,
    seq_base: i64,
    seq_max: i64,
    /// Expected-by-sequence of earlier SSRCs.
    seq_done: u64,
}

impl Stream {
    fn seq_expected(&self) -> u64 {
        let current = match self.peer_ssrc {
            Some(_) => (self.seq_max - self.seq_base + 1) as u64,
            None => 0,
        };
        self.seq_done + current
    }

    fn time_expected(&self, end: Instant) -> u64 {
        self.first_rx.map_or(0, |t| {
            (end.saturating_duration_since(t).as_millis() / TICK.as_millis()) as u64 + 1
        })
    }

    fn on_packet(&mut self, pkt: &[u8]) {
        if pkt.len() < 12 + 160 || pkt[0] >> 6 != 2 || pkt[1] & 0x7f != 0 {
            return;
        }
        let seq = u16::from_be_bytes([pkt[2], pkt[3]]);
        let ssrc = u32::from_be_bytes([pkt[8], pkt[9], pkt[10], pkt[11]]);
        self.rx += 1;
        self.first_rx.get_or_insert_with(Instant::now);
        if self.peer_ssrc != Some(ssrc) {
            self.seq_done = self.seq_expected();
            self.peer_ssrc = Some(ssrc);
            self.seq_base = i64::from(seq);
            self.seq_max = self.seq_base;
        } else {
            let last = (self.seq_max & 0xffff) as u16;
            let ext = self.seq_max + i64::from(seq.wrapping_sub(last) as i16);
            self.seq_max = self.seq_max.max(ext);
        }
        let peak = pkt[12..]
            .iter()
            .map(|&b| i32::from(ulaw_to_linear(b)).abs())
            .max()
            .unwrap_or(0);
        if peak > 1000 {
            self.loud += 1;
        }
    }
}

/// Totals of ended calls, so the cumulative counters never go back.
#[derive(Default)]
struct Totals {
    calls: u64,
    rx: u64,
    exp: u64,
    seq_exp: u64,
    loud: u64,
    /// Calls that received less than 99% of the packets expected by time.
    short: u64,
    worst: Option<(f64, u32)>,
}

fn rtp_thread(cmds: mpsc::Receiver<RtpCmd>, quit: Arc<AtomicBool>) {
    // A 1 kHz tone: eight samples a period, so every 20 ms frame is the same.
    let tone: Vec<u8> = (0..160)
        .map(|i| {
            let v = (f64::from(i) * std::f64::consts::TAU / 8.0).sin() * 8000.0;
            linear_to_ulaw(v as i16)
        })
        .collect();
    let mut streams: HashMap<u64, Stream> = HashMap::new();
    let mut totals = Totals::default();
    let mut buf = [0u8; 2048];
    let mut pkt = vec![0u8; 12 + 160];
    let mut next = Instant::now() + TICK;
    let mut ticks: u64 = 0;
    let end_stream = |s: Stream, totals: &mut Totals, now: Instant| {
        let exp = s.time_expected(now);
        let ratio = if exp == 0 {
            0.0
        } else {
            s.rx as f64 / exp as f64
        };
        println!(
            "call ext={} rx={} exp={} seq_exp={} loud={} ratio={ratio:.4}",
            s.ext,
            s.rx,
            exp,
            s.seq_expected(),
            s.loud
        );
        totals.calls += 1;
        totals.rx += s.rx;
        totals.exp += exp;
        totals.seq_exp += s.seq_expected();
        totals.loud += s.loud;
        if ratio < 0.99 {
            totals.short += 1;
        }
        if totals.worst.is_none_or(|(w, _)| ratio < w) {
            totals.worst = Some((ratio, s.ext));
        }
    };
    while !quit.load(Ordering::Relaxed) {
        ticks += 1;
        let now = Instant::now();
        while let Ok(cmd) = cmds.try_recv() {
            match cmd {
                RtpCmd::Start {
                    id,
                    ext,
                    socket,
                    remote,
                } => {
                    let _ = socket.set_nonblocking(true);
                    streams.insert(
                        id,
                        Stream {
                            ext,
                            socket,
                            remote,
                            seq: rand::random(),
                            ts: rand::random(),
                            ssrc: rand::random(),
                            rx: 0,
                            loud: 0,
                            first_rx: None,
                            peer_ssrc: None,
                            seq_base: 0,
                            seq_max: 0,
                            seq_done: 0,
                        },
                    );
                }
                RtpCmd::Stop { id } => {
                    if let Some(mut s) = streams.remove(&id) {
                        while let Ok(n) = s.socket.recv(&mut buf) {
                            s.on_packet(&buf[..n]);
                        }
                        end_stream(s, &mut totals, now);
                    }
                }
            }
        }
        for s in streams.values_mut() {
            pkt[0] = 0x80;
            pkt[1] = 0;
            pkt[2..4].copy_from_slice(&s.seq.to_be_bytes());
            pkt[4..8].copy_from_slice(&s.ts.to_be_bytes());
            pkt[8..12].copy_from_slice(&s.ssrc.to_be_bytes());
            pkt[12..].copy_from_slice(&tone);
            let _ = s.socket.send_to(&pkt, s.remote);
            s.seq = s.seq.wrapping_add(1);
            s.ts = s.ts.wrapping_add(160);
        }
        for s in streams.values_mut() {
            loop {
                match s.socket.recv(&mut buf) {
                    Ok(n) => s.on_packet(&buf[..n]),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(_) => break, // ICMP errors surface here; nothing to count
                }
            }
        }
        if ticks.is_multiple_of(50) {
            let now = Instant::now();
            let live = streams.values();
            let (mut rx, mut exp, mut seq_exp, mut loud) =
                (totals.rx, totals.exp, totals.seq_exp, totals.loud);
            for s in live {
                rx += s.rx;
                exp += s.time_expected(now);
                seq_exp += s.seq_expected();
                loud += s.loud;
            }
            println!(
                "rtp ms={} streams={} rx={rx} exp={exp} seq_exp={seq_exp} loud={loud}",
                unix_ms(),
                streams.len()
            );
        }
        next += TICK;
        let now = Instant::now();
        if next < now {
            next = now; // fell behind: catch up without bursting
        }
        std::thread::sleep(next - now);
    }
    let now = Instant::now();
    for (_, s) in streams.drain() {
        end_stream(s, &mut totals, now);
    }
    let loss = if totals.exp == 0 {
        0.0
    } else {
        100.0 * (1.0 - totals.rx as f64 / totals.exp as f64)
    };
    let (worst, worst_ext) = totals.worst.unwrap_or((0.0, 0));
    println!(
        "summary calls={} rx={} exp={} seq_exp={} loud={} loss_pct={loss:.3} calls_below_99pct={} worst_ratio={worst:.4} worst_ext={worst_ext}",
        totals.calls, totals.rx, totals.exp, totals.seq_exp, totals.loud, totals.short
    );
}

// ---------------------------------------------------------------- agents (SIP)

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    Waiting,
    Registering,
    LoggingIn,
    Ready,
    Failed,
}

/// A request of ours awaiting its response, retransmitted on T1 doubling (RFC 3261 17.1).
struct Pending {
    bytes: Vec<u8>,
    next: Instant,
    interval: Duration,
    give_up: Instant,
}

impl Pending {
    fn new(bytes: Vec<u8>, now: Instant) -> Pending {
        Pending {
            bytes,
            next: now + T1,
            interval: T1,
            give_up: now + T1 * 64,
        }
    }
}

struct Agent {
    ext: u32,
    phase: Phase,
    reg_call_id: String,
    login_call_id: String,
    tag: String,
    pending: Option<Pending>,
}

/// A call hotline placed to an agent (or the agent's own login call).
struct Call {
    agent: usize,
    id: u64,
    /// Our 200 OK, resent on INVITE retransmissions and until the ACK.
    ok: Vec<u8>,
    ok_retx: Option<Pending>,
    acked: bool,
    /// When we hang up, and the BYE once sent.
    hangup_at: Option<Instant>,
    bye: Option<Pending>,
    /// What a BYE of ours needs from the INVITE.
    remote_uri: String,
    local_from: String,
    remote_to: String,
    /// The login call (hotline hangs it up after its prompt).
    login: bool,
}

struct Farm {
    args: Args,
    sock: UdpSocket,
    local: SocketAddr,
    agents: Vec<Agent>,
    /// Call-ID → agent, for responses to our REGISTERs and login INVITEs.
    uac: HashMap<String, usize>,
    calls: HashMap<String, Call>,
    rtp: mpsc::Sender<RtpCmd>,
    /// Where hotline sends the login prompt; drained and ignored.
    sink: UdpSocket,
    next_id: u64,
    answered: u64,
    ended: u64,
}

impl Farm {
    fn send(&self, bytes: &[u8]) {
        let _ = self.sock.send_to(bytes, self.args.server);
    }

    fn via(&self) -> String {
        format!(
            "SIP/2.0/UDP {};branch=z9hG4bK{};rport",
            self.local,
            random_hex()
        )
    }

    fn server_host(&self) -> String {
        self.args.server.to_string()
    }

    fn contact(&self, ext: u32) -> String {
        format!("<sip:{ext}@{}>", self.local)
    }

    fn register(&mut self, i: usize, cseq: u32, auth: Option<String>, now: Instant) {
        let a = &self.agents[i];
        let host = self.server_host();
        let auth = auth.map_or(String::new(), |v| format!("Authorization: {v}\r\n"));
        let msg = format!(
            "REGISTER sip:{host} SIP/2.0\r\nVia: {}\r\nMax-Forwards: 70\r\nFrom: <sip:{ext}@{host}>;tag={tag}\r\nTo: <sip:{ext}@{host}>\r\nCall-ID: {cid}\r\nCSeq: {cseq} REGISTER\r\nContact: {}\r\nExpires: 3600\r\n{auth}User-Agent: hotline-agent-farm\r\nContent-Length: 0\r\n\r\n",
            self.via(),
            self.contact(a.ext),
            ext = a.ext,
            tag = a.tag,
            cid = a.reg_call_id,
        );
        self.send(msg.as_bytes());
        self.agents[i].pending = Some(Pending::new(msg.into_bytes(), now));
    }

    fn login_uri(&self) -> String {
        format!("sip:{}@{}", self.args.login_code, self.server_host())
    }

    fn login_invite(&mut self, i: usize, cseq: u32, auth: Option<String>, now: Instant) {
        let a = &self.agents[i];
        let host = self.server_host();
        let body = sdp(self.args.ip, self.sink.local_addr().map_or(9, |s| s.port()));
        let auth = auth.map_or(String::new(), |v| format!("Authorization: {v}\r\n"));
        let msg = format!(
            "INVITE {uri} SIP/2.0\r\nVia: {}\r\nMax-Forwards: 70\r\nFrom: <sip:{ext}@{host}>;tag={tag}\r\nTo: <{uri}>\r\nCall-ID: {cid}\r\nCSeq: {cseq} INVITE\r\nContact: {}\r\n{auth}User-Agent: hotline-agent-farm\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
            self.via(),
            self.contact(a.ext),
            body.len(),
            uri = self.login_uri(),
            ext = a.ext,
            tag = a.tag,
            cid = a.login_call_id,
        );
        self.send(msg.as_bytes());
        self.agents[i].pending = Some(Pending::new(msg.into_bytes(), now));
    }

    /// ACK for a final response to our INVITE: same branch for a non-2xx (RFC 3261
    /// 17.1.1.3), a new one for the 2xx (13.2.2.4).
    fn ack(&self, resp: &Msg, invite_via: Option<&str>) {
        let (n, _) = resp.cseq();
        let uri = match invite_via {
            Some(_) => self.login_uri(),
            None => {
                let c = resp.contact_uri();
                if c.is_empty() {
                    self.login_uri()
                } else {
                    c
                }
            }
        };
        let via = invite_via.map_or_else(|| self.via(), str::to_string);
        let msg = format!(
            "ACK {uri} SIP/2.0\r\nVia: {via}\r\nMax-Forwards: 70\r\nFrom: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {n} ACK\r\nContent-Length: 0\r\n\r\n",
            resp.header("From"),
            resp.header("To"),
            resp.header("Call-ID"),
        );
        self.send(msg.as_bytes());
    }

    /// A response to one of our requests.
    fn on_response(&mut self, now: Instant, resp: &Msg) {
        let call_id = resp.header("Call-ID");
        let status = resp.status().unwrap_or(0);
        let (cseq, method) = resp.cseq();
        if method == "BYE" {
            if let Some(c) = self.calls.get_mut(call_id) {
                if status >= 200 {
                    c.bye = None;
                    let id = c.id;
                    self.calls.remove(call_id);
                    self.ended += 1;
                    let _ = self.rtp.send(RtpCmd::Stop { id });
                }
            }
            return;
        }
        let Some(&i) = self.uac.get(call_id) else {
            return;
        };
        let ext = self.agents[i].ext.to_string();
        let password = self.args.password.clone();
        match (self.agents[i].phase, method, status) {
            (_, "INVITE", 100..=199) => {
                if let Some(p) = self.agents[i].pending.as_mut() {
                    p.next = p.give_up; // provisional: stop retransmitting
                }
            }
            (_, _, 100..=199) => {}
            (Phase::Registering, "REGISTER", 401) if cseq == 1 => {
                let host = self.server_host();
                match authorization(
                    resp,
                    self.args.md5,
                    &ext,
                    &password,
                    "REGISTER",
                    &format!("sip:{host}"),
                ) {
                    Some(auth) => self.register(i, 2, Some(auth), now),
                    None => self.fail(i, "unusable REGISTER challenge"),
                }
            }
            (Phase::Registering, "REGISTER", 200) => {
                self.agents[i].pending = None;
                self.agents[i].phase = Phase::LoggingIn;
                self.uac.insert(self.agents[i].login_call_id.clone(), i);
                self.login_invite(i, 1, None, now);
            }
            (Phase::LoggingIn, "INVITE", 401) if cseq == 1 => {
                let via = self.agents[i]
                    .pending
                    .as_ref()
                    .and_then(|p| {
                        let text = std::str::from_utf8(&p.bytes).ok()?;
                        Msg::parse(text).map(|m| m.header("Via").to_string())
                    })
                    .unwrap_or_default();
                self.ack(resp, Some(&via));
                match authorization(
                    resp,
                    self.args.md5,
                    &ext,
                    &password,
                    "INVITE",
                    &self.login_uri(),
                ) {
                    Some(auth) => self.login_invite(i, 2, Some(auth), now),
                    None => self.fail(i, "unusable INVITE challenge"),
                }
            }
            (Phase::LoggingIn | Phase::Ready, "INVITE", 200) => {
                self.ack(resp, None);
                if self.agents[i].phase == Phase::LoggingIn {
                    self.agents[i].pending = None;
                    self.agents[i].phase = Phase::Ready;
                    let login = Call {
                        agent: i,
                        id: 0,
                        ok: vec![],
                        ok_retx: None,
                        acked: true,
                        hangup_at: None,
                        bye: None,
                        remote_uri: String::new(),
                        local_from: String::new(),
                        remote_to: String::new(),
                        login: true,
                    };
                    self.calls.insert(call_id.to_string(), login);
                }
            }
            (Phase::Registering | Phase::LoggingIn, _, s) if s >= 300 => {
                if method == "INVITE" {
                    self.ack(resp, None);
                }
                self.fail(i, &format!("{method} answered {}", resp.start));
            }
            _ => {}
        }
    }

    fn fail(&mut self, i: usize, why: &str) {
        eprintln!("agent {}: {why}", self.agents[i].ext);
        self.agents[i].phase = Phase::Failed;
        self.agents[i].pending = None;
    }

    /// A response to a request from hotline, copying what RFC 3261 8.2.6.2 asks for.
    fn respond(&self, req: &Msg, status: &str, to_tag: Option<&str>, extra: &str) -> Vec<u8> {
        let mut s = format!("SIP/2.0 {status}\r\n");
        for v in req.all("Via") {
            s.push_str(&format!("Via: {v}\r\n"));
        }
        let to = req.header("To");
        let to = match to_tag {
            Some(t) if tag_of(to).is_none() => format!("{to};tag={t}"),
            _ => to.to_string(),
        };
        s.push_str(&format!(
            "From: {}\r\nTo: {to}\r\nCall-ID: {}\r\nCSeq: {}\r\n{extra}",
            req.header("From"),
            req.header("Call-ID"),
            req.header("CSeq"),
        ));
        if !extra.contains("Content-Length") {
            s.push_str("Content-Length: 0\r\n\r\n");
        }
        s.into_bytes()
    }

    fn on_request(&mut self, now: Instant, req: &Msg) {
        let call_id = req.header("Call-ID").to_string();
        match req.method() {
            "INVITE" => self.on_invite(now, req, call_id),
            "ACK" => {
                if let Some(c) = self.calls.get_mut(&call_id) {
                    if !c.acked {
                        c.acked = true;
                        c.ok_retx = None;
                        c.hangup_at = Some(now + Duration::from_secs(self.args.hangup_after_secs));
                    }
                }
            }
            "BYE" => {
                let known = self.calls.remove(&call_id);
                let status = if known.is_some() {
                    "200 OK"
                } else {
                    "481 Call/Transaction Does Not Exist"
                };
                let r = self.respond(req, status, None, "");
                self.send(&r);
                if let Some(c) = known.filter(|c| !c.login) {
                    self.ended += 1;
                    let _ = self.rtp.send(RtpCmd::Stop { id: c.id });
                }
            }
            "CANCEL" => {
                let r = self.respond(req, "200 OK", None, "");
                self.send(&r);
            }
            _ => {
                // OPTIONS pings and anything else: we are here.
                let r = self.respond(req, "200 OK", Some(&random_hex()), "");
                self.send(&r);
            }
        }
    }

    /// hotline rings an agent: answer at once with PCMU and start the media.
    fn on_invite(&mut self, now: Instant, req: &Msg, call_id: String) {
        if let Some(c) = self.calls.get(&call_id) {
            // A retransmission (our 200 was lost) or a re-INVITE: the same answer.
            let ok = c.ok.clone();
            self.send(&ok);
            return;
        }
        let user = req.uri_user();
        let Some(i) = user
            .parse::<u32>()
            .ok()
            .and_then(|e| e.checked_sub(self.args.first))
            .map(|i| i as usize)
            .filter(|&i| i < self.agents.len())
        else {
            let r = self.respond(req, "404 Not Found", Some(&random_hex()), "");
            return self.send(&r);
        };
        let (Some(remote), Ok(socket)) = (req.sdp_remote(), UdpSocket::bind((self.args.ip, 0)))
        else {
            let r = self.respond(req, "488 Not Acceptable Here", Some(&random_hex()), "");
            return self.send(&r);
        };
        let port = socket.local_addr().map_or(0, |a| a.port());
        let ext = self.agents[i].ext;
        let body = sdp(self.args.ip, port);
        let extra = format!(
            "Contact: {}\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
            self.contact(ext),
            body.len()
        );
        let tag = random_hex();
        let ok = self.respond(req, "200 OK", Some(&tag), &extra);
        self.send(&ok);
        self.next_id += 1;
        self.answered += 1;
        let id = self.next_id;
        let _ = self.rtp.send(RtpCmd::Start {
            id,
            ext,
            socket,
            remote,
        });
        self.calls.insert(
            call_id,
            Call {
                agent: i,
                id,
                ok: ok.clone(),
                ok_retx: Some(Pending::new(ok, now)),
                acked: false,
                hangup_at: None,
                bye: None,
                remote_uri: req.contact_uri(),
                local_from: format!("{};tag={tag}", req.header("To")),
                remote_to: req.header("From").to_string(),
                login: false,
            },
        );
    }

    /// Retransmissions, our hang-ups, and agents whose turn to log in has come.
    fn timers(&mut self, now: Instant, started: Instant) {
        let due = (now.duration_since(started).as_secs_f64() * f64::from(self.args.login_rate))
            as usize
            + 1;
        for i in 0..self.agents.len().min(due) {
            if self.agents[i].phase == Phase::Waiting {
                self.agents[i].phase = Phase::Registering;
                self.uac.insert(self.agents[i].reg_call_id.clone(), i);
                self.register(i, 1, None, now);
            }
        }
        let mut resend = Vec::new();
        let mut failed = Vec::new();
        for (i, a) in self.agents.iter_mut().enumerate() {
            if let Some(p) = a.pending.as_mut() {
                if now >= p.give_up {
                    failed.push(i);
                } else if now >= p.next {
                    p.interval = (p.interval * 2).min(T1 * 8);
                    p.next = now + p.interval;
                    resend.push(p.bytes.clone());
                }
            }
        }
        for i in failed {
            self.fail(i, "no response (timer F/B)");
        }
        let mut byes = Vec::new();
        let mut gone = Vec::new();
        for (cid, c) in self.calls.iter_mut() {
            for p in [c.ok_retx.as_mut(), c.bye.as_mut()].into_iter().flatten() {
                if now >= p.give_up {
                    gone.push(cid.clone());
                } else if now >= p.next {
                    p.interval = (p.interval * 2).min(T1 * 8);
                    p.next = now + p.interval;
                    resend.push(p.bytes.clone());
                }
            }
            if c.hangup_at.is_some_and(|t| now >= t) && c.bye.is_none() {
                c.hangup_at = None;
                byes.push(cid.clone());
            }
        }
        for bytes in resend {
            self.send(&bytes);
        }
        for cid in gone {
            if let Some(c) = self.calls.remove(&cid) {
                eprintln!(
                    "agent {}: call {cid} timed out (no ACK or no answer to BYE)",
                    self.agents[c.agent].ext
                );
                self.ended += 1;
                let _ = self.rtp.send(RtpCmd::Stop { id: c.id });
            }
        }
        for cid in byes {
            let via = self.via();
            let Some(c) = self.calls.get_mut(&cid) else {
                continue;
            };
            let msg = format!(
                "BYE {} SIP/2.0\r\nVia: {via}\r\nMax-Forwards: 70\r\nFrom: {}\r\nTo: {}\r\nCall-ID: {cid}\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n",
                c.remote_uri, c.local_from, c.remote_to
            );
            c.bye = Some(Pending::new(msg.clone().into_bytes(), now));
            let _ = self.sock.send_to(msg.as_bytes(), self.args.server);
        }
    }

    fn status_line(&self) {
        let count = |p: Phase| self.agents.iter().filter(|a| a.phase == p).count();
        println!(
            "farm ms={} registered={} ready={} failed={} calls={} answered={} ended={}",
            unix_ms(),
            count(Phase::LoggingIn) + count(Phase::Ready),
            count(Phase::Ready),
            count(Phase::Failed),
            self.calls.values().filter(|c| !c.login).count(),
            self.answered,
            self.ended
        );
    }
}

fn main() -> std::io::Result<()> {
    let args = Args::parse();
    // Two sockets per call plus the SIP socket: well past the usual 1,024.
    let _ = rlimit::increase_nofile_limit(u64::from(args.count) * 4 + 256);
    let sock = UdpSocket::bind((args.ip, 0))?;
    {
        // Bursts of 1,000 INVITEs at a level's start must not overflow the default buffer.
        let s = socket2::SockRef::from(&sock);
        let _ = s.set_recv_buffer_size(4 << 20);
        let _ = s.set_send_buffer_size(4 << 20);
    }
    sock.set_read_timeout(Some(Duration::from_millis(5)))?;
    let local = sock.local_addr()?;
    let sink = UdpSocket::bind((args.ip, 0))?;
    sink.set_nonblocking(true)?;

    let quit = Arc::new(AtomicBool::new(false));
    {
        // stdin closed (the script's fifo) = stop and print the summary.
        let quit = quit.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 256];
            while matches!(std::io::stdin().read(&mut buf), Ok(n) if n > 0) {}
            quit.store(true, Ordering::Relaxed);
        });
    }
    let (tx, rx) = mpsc::channel();
    let rtp = {
        let quit = quit.clone();
        std::thread::spawn(move || rtp_thread(rx, quit))
    };
    let agents = (0..args.count)
        .map(|i| Agent {
            ext: args.first + i,
            phase: Phase::Waiting,
            reg_call_id: format!("reg-{}-{}", args.first + i, random_hex()),
            login_call_id: format!("login-{}-{}", args.first + i, random_hex()),
            tag: random_hex(),
            pending: None,
        })
        .collect();
    println!(
        "farm sip={local} agents={}..{} server={}",
        args.first,
        args.first + args.count - 1,
        args.server
    );
    let mut farm = Farm {
        args,
        sock,
        local,
        agents,
        uac: HashMap::new(),
        calls: HashMap::new(),
        rtp: tx,
        sink,
        next_id: 0,
        answered: 0,
        ended: 0,
    };
    let started = Instant::now();
    let mut next_status = started;
    let mut next_timers = started;
    let mut buf = vec![0u8; 65536];
    while !quit.load(Ordering::Relaxed) {
        match farm.sock.recv_from(&mut buf) {
            Ok((n, _)) => {
                let now = Instant::now();
                if let Some(msg) = std::str::from_utf8(&buf[..n]).ok().and_then(Msg::parse) {
                    if msg.status().is_some() {
                        farm.on_response(now, &msg);
                    } else {
                        farm.on_request(now, &msg);
                    }
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => eprintln!("sip socket: {e}"),
        }
        let now = Instant::now();
        if now >= next_timers {
            next_timers = now + Duration::from_millis(10);
            let mut junk = [0u8; 2048];
            while farm.sink.recv(&mut junk).is_ok() {}
            farm.timers(now, started);
        }
        if now >= next_status {
            next_status += Duration::from_secs(1);
            farm.status_line();
        }
    }
    farm.status_line();
    drop(farm);
    let _ = rtp.join();
    Ok(())
}
