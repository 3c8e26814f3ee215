//! The switchboard on a fake clock with scripted peers, in the style of quinn-proto's
//! `Pair::drive()`: no socket, no thread, no sleep. [`Board::settle`] carries out every
//! output at the current instant (datagrams to the peer that owns the address, media
//! commands to a fake media engine, records into a list, commits and identity checks
//! answered at once), and [`Board::run_for`] / [`Board::run_until`] move the clock from one
//! deadline to the next (the switchboard's, a peer's or the media engine's).

use hotline::acd::config::Features;
use hotline::acd::QueueConfig;
use hotline::core::media::dtmf::Digit;
use hotline::core::media::prompt::PromptSet;
use hotline::core::sdp::Codec;
use hotline::core::sip::auth::{ha1, Algorithm};
use hotline::core::sip::endpoint::{CallRef, ConnId, EndpointConfig, Link};
use hotline::core::sip::transaction::Timers;
use hotline::ivr::{Plan, VerifyOutcome};
use hotline::store::{
    AgentRequest, AgentRow, AgentWrite, DialRequest, DialTask, RegistrationRow, Secret, Write,
};
use hotline::switchboard::{
    Host, Input, Loaded, MediaCmd, MediaEvent, Now, OutboundSetup, Output, Settings, Switchboard,
    TrunkLine,
};
use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// Where the switchboard listens.
pub const SERVER: &str = "127.0.0.1:5060";
/// RFC 3261 T1, as the board's endpoint uses it.
pub const T1: Duration = Duration::from_millis(500);

pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

pub fn ms(m: u64) -> Duration {
    Duration::from_millis(m)
}

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The shipped prompts, loaded once per test binary, and each clip's prompt name (by the
/// address of its shared buffer) so tests can say what a call heard.
pub struct Prompts {
    pub set: Arc<PromptSet>,
    names: HashMap<usize, String>,
}

fn clip_key(clip: &[u8]) -> usize {
    clip.as_ptr() as usize
}

pub fn prompts() -> &'static Prompts {
    static P: OnceLock<Prompts> = OnceLock::new();
    P.get_or_init(|| {
        let dir = repo("prompts");
        let set = hotline::prompts::load(&dir).expect("shipped prompts load");
        let mut names = HashMap::new();
        for lang in std::fs::read_dir(&dir).unwrap().flatten() {
            if !lang.path().is_dir() {
                continue;
            }
            let lang_name = lang.file_name().to_string_lossy().into_owned();
            for f in std::fs::read_dir(lang.path()).unwrap().flatten() {
                let p = f.path();
                if p.extension().is_some_and(|e| e == "wav") {
                    let name = p.file_stem().unwrap().to_string_lossy().into_owned();
                    if let Some(prompt) = set.get(&lang_name, &name) {
                        for codec in [Codec::Pcmu, Codec::Pcma] {
                            names.insert(clip_key(&prompt.clip(codec)), name.clone());
                        }
                    }
                }
            }
        }
        Prompts {
            set: Arc::new(set),
            names,
        }
    })
}

/// A dial plan from text, checked against the shipped prompts.
pub fn plan(text: &str) -> Arc<Plan> {
    let p = hotline::ivr::plan::load_str(Path::new("test.toml"), text, Some(&prompts().set))
        .unwrap_or_else(|e| panic!("plan does not load: {e:?}"));
    Arc::new(p)
}

pub fn shipped_plan_text() -> String {
    std::fs::read_to_string(repo("dialplans/hotline.toml")).unwrap()
}

pub fn shipped_queues_text() -> String {
    std::fs::read_to_string(repo("queues.toml")).unwrap()
}

/// Monday 23 November 2026, 10:00 in Shanghai: a working day, the shipped plan is open.
pub fn monday_10_ms() -> i64 {
    use chrono::TimeZone;
    chrono_tz::Asia::Shanghai
        .with_ymd_and_hms(2026, 11, 23, 10, 0, 0)
        .unwrap()
        .timestamp_millis()
}

// ---------------------------------------------------------------- host

/// Ports bind unless listed as taken; every phone is reached from 127.0.0.1.
#[derive(Debug, Default)]
pub struct FakeHost {
    pub taken: HashSet<u16>,
    pub bound: Vec<u16>,
}

impl Host for FakeHost {
    fn bind_rtp(&mut self, _ip: IpAddr, port: u16) -> bool {
        if self.taken.contains(&port) {
            return false;
        }
        self.bound.push(port);
        true
    }

    fn local_ip_towards(&mut self, _to: SocketAddr) -> Option<IpAddr> {
        Some(IpAddr::from([127, 0, 0, 1]))
    }
}

// ---------------------------------------------------------------- SIP text

/// One SIP message, loosely read.
#[derive(Debug, Clone)]
pub struct Sip {
    pub text: String,
}

impl Sip {
    pub fn new(bytes: &[u8]) -> Sip {
        Sip {
            text: String::from_utf8_lossy(bytes).into_owned(),
        }
    }

    pub fn first_line(&self) -> &str {
        self.text.split("\r\n").next().unwrap_or("")
    }

    pub fn status(&self) -> Option<u16> {
        let rest = self.text.strip_prefix("SIP/2.0 ")?;
        rest.get(..3)?.parse().ok()
    }

    pub fn method(&self) -> Option<&str> {
        (!self.text.starts_with("SIP/")).then(|| self.text.split(' ').next().unwrap_or(""))
    }

    fn head(&self) -> &str {
        self.text.split("\r\n\r\n").next().unwrap_or("")
    }

    pub fn body(&self) -> &str {
        self.text.split_once("\r\n\r\n").map_or("", |(_, b)| b)
    }

    /// Every header line named `name` (case-insensitive), values trimmed.
    pub fn headers<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.head().split("\r\n").skip(1).filter_map(move |l| {
            let (n, v) = l.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then_some(v.trim())
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.head().split("\r\n").skip(1).find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then_some(v.trim())
        })
    }

    pub fn call_id(&self) -> &str {
        self.header("Call-ID").unwrap_or("")
    }

    /// The method named in CSeq.
    pub fn cseq_method(&self) -> &str {
        self.header("CSeq")
            .and_then(|c| c.split_whitespace().nth(1))
            .unwrap_or("")
    }

    pub fn to_tag(&self) -> Option<String> {
        tag_of(self.header("To")?)
    }

    /// The port of the SDP's m=audio line.
    pub fn media_port(&self) -> Option<u16> {
        self.body()
            .lines()
            .find_map(|l| l.strip_prefix("m=audio "))
            .and_then(|l| l.split(' ').next())
            .and_then(|p| p.parse().ok())
    }
}

fn tag_of(value: &str) -> Option<String> {
    Some(value.split(";tag=").nth(1)?.split(';').next()?.to_string())
}

/// The response to `req`: Via, From, Call-ID and CSeq copied, To with `to_tag` added when
/// it has none.
pub fn response(req: &Sip, status: u16, to_tag: Option<&str>, extra: &str, body: &str) -> String {
    let reason = match status {
        100 => "Trying",
        180 => "Ringing",
        200 => "OK",
        202 => "Accepted",
        486 => "Busy Here",
        487 => "Request Terminated",
        _ => "Whatever",
    };
    let mut s = format!("SIP/2.0 {status} {reason}\r\n");
    for v in req.headers("Via") {
        let _ = write!(s, "Via: {v}\r\n");
    }
    let _ = write!(s, "From: {}\r\n", req.header("From").unwrap_or(""));
    let to = req.header("To").unwrap_or("");
    match to_tag {
        Some(t) if tag_of(to).is_none() => {
            let _ = write!(s, "To: {to};tag={t}\r\n");
        }
        _ => {
            let _ = write!(s, "To: {to}\r\n");
        }
    }
    let _ = write!(s, "Call-ID: {}\r\n", req.call_id());
    let _ = write!(s, "CSeq: {}\r\n", req.header("CSeq").unwrap_or(""));
    s.push_str(extra);
    if !body.is_empty() {
        s.push_str("Content-Type: application/sdp\r\n");
    }
    let _ = write!(s, "Content-Length: {}\r\n\r\n{body}", body.len());
    s
}

fn sdp(addr: SocketAddr) -> String {
    format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n",
        addr.port() + 2
    )
}

// ---------------------------------------------------------------- caller

/// A customer's phone: one call, placed with [`Board::dial`].
#[derive(Debug)]
pub struct Caller {
    pub addr: SocketAddr,
    pub number: String,
    pub called: String,
    pub call_id: String,
    /// Never acknowledge the 2xx.
    pub lose_acks: bool,
    /// Sends RTP (a well-behaved phone does).
    pub sends_rtp: bool,
    /// The switchboard's handle and our record id, once the call arrived.
    pub call: Option<CallRef>,
    pub record: Option<String>,
    pub to_tag: Option<String>,
    cseq: u32,
    branches: u32,
    invite: Option<String>,
    pub received: Vec<Sip>,
    /// Final status of the INVITE.
    pub final_status: Option<u16>,
    /// The switchboard hung up (BYE).
    pub got_bye: bool,
    /// Answers a 401 with digest credentials (an agent's phone dialling out).
    pub password: Option<String>,
    /// Header lines added to the INVITE, each ending in CRLF.
    pub headers: String,
}

impl Caller {
    fn branch(&mut self) -> String {
        self.branches += 1;
        format!("z9hG4bK{}-{}", self.call_id, self.branches)
    }

    fn our_from(&self) -> String {
        format!(
            "<sip:{}@{}>;tag=c{}",
            self.number,
            self.addr,
            self.addr.port()
        )
    }

    fn to(&self) -> String {
        let tag = self
            .to_tag
            .as_ref()
            .map(|t| format!(";tag={t}"))
            .unwrap_or_default();
        format!("<sip:{}@{SERVER}>{tag}", self.called)
    }

    fn request(&mut self, method: &str, cseq: u32, branch: &str, to: &str, body: &str) -> String {
        let ctype = if body.is_empty() {
            ""
        } else {
            "Content-Type: application/sdp\r\n"
        };
        format!(
            "{method} sip:{called}@{SERVER} SIP/2.0\r\nVia: SIP/2.0/UDP {addr};branch={branch};rport\r\nMax-Forwards: 70\r\nFrom: {from}\r\nTo: {to}\r\nCall-ID: {cid}\r\nCSeq: {cseq} {method}\r\nContact: <sip:{num}@{addr}>\r\nUser-Agent: board-caller\r\n{ctype}Content-Length: {len}\r\n\r\n{body}",
            called = self.called,
            addr = self.addr,
            from = self.our_from(),
            cid = self.call_id,
            num = self.number,
            len = body.len(),
        )
    }

    fn invite(&mut self) -> String {
        let branch = self.branch();
        let to = self.to();
        let body = sdp(self.addr);
        let text = self.request("INVITE", 1, &branch, &to, &body).replacen(
            "User-Agent:",
            &format!("{}User-Agent:", self.headers),
            1,
        );
        self.invite = Some(text.clone());
        text
    }

    /// The INVITE again, answering the 401's challenge (CSeq 2, a new branch).
    fn authenticated_invite(&mut self, challenge: &Sip) -> String {
        use hotline::core::sip::auth;
        let ch = auth::best_challenge(challenge.headers("WWW-Authenticate")).expect("a challenge");
        let uri = format!("sip:{}@{SERVER}", self.called);
        let password = self.password.clone().unwrap_or_default();
        let authz = auth::authorization(&ch, &self.number, &password, "INVITE", &uri, "c0ffee", 1);
        self.cseq = 2;
        let (branch, to, body) = (self.branch(), self.to(), sdp(self.addr));
        let text = self.request("INVITE", 2, &branch, &to, &body).replacen(
            "User-Agent:",
            &format!("Authorization: {authz}\r\nUser-Agent:"),
            1,
        );
        self.invite = Some(text.clone());
        text
    }

    fn in_dialog(&mut self, method: &str) -> String {
        self.cseq += 1;
        let (cseq, branch, to) = (self.cseq, self.branch(), self.to());
        self.request(method, cseq, &branch, &to, "")
    }

    fn cancel(&self) -> String {
        let invite = Sip {
            text: self.invite.clone().expect("an INVITE was sent"),
        };
        let via = invite.header("Via").unwrap();
        format!(
            "CANCEL sip:{}@{SERVER} SIP/2.0\r\nVia: {via}\r\nMax-Forwards: 70\r\nFrom: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: 1 CANCEL\r\nContent-Length: 0\r\n\r\n",
            self.called,
            invite.header("From").unwrap(),
            invite.header("To").unwrap(),
            self.call_id
        )
    }

    fn receive(&mut self, msg: Sip) -> Vec<String> {
        let mut out = Vec::new();
        match (msg.status(), msg.method()) {
            (Some(status), _) if msg.cseq_method() == "INVITE" => {
                if (200..300).contains(&status) {
                    self.to_tag = msg.to_tag();
                    self.final_status.get_or_insert(status);
                    if !self.lose_acks {
                        let (branch, to, cseq) = (self.branch(), self.to(), self.cseq);
                        out.push(self.request("ACK", cseq, &branch, &to, ""));
                    }
                } else if status >= 300 {
                    let challenged = status == 401 && self.password.is_some() && self.cseq == 1;
                    if !challenged {
                        self.final_status.get_or_insert(status);
                    }
                    // A non-2xx is acknowledged in its own transaction.
                    let invite = Sip {
                        text: self.invite.clone().unwrap_or_default(),
                    };
                    out.push(format!(
                        "ACK sip:{}@{SERVER} SIP/2.0\r\nVia: {}\r\nMax-Forwards: 70\r\nFrom: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
                        self.called,
                        invite.header("Via").unwrap_or(""),
                        invite.header("From").unwrap_or(""),
                        msg.header("To").unwrap_or(""),
                        self.call_id
                    ));
                    if challenged {
                        out.push(self.authenticated_invite(&msg));
                    }
                }
            }
            (Some(_), _) => {}
            (None, Some("BYE")) => {
                self.got_bye = true;
                out.push(response(&msg, 200, None, "", ""));
            }
            (None, Some("ACK")) => {}
            (None, Some(_)) => out.push(response(&msg, 200, None, "", "")),
            (None, None) => {}
        }
        self.received.push(msg);
        out
    }
}

// ---------------------------------------------------------------- agent phone

/// What an agent's phone does with the next INVITE (after its 180).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Script {
    /// 200 with SDP after this long.
    Answer(Duration),
    /// Rings until cancelled.
    Never,
    /// 486 Busy Here.
    Busy,
    /// This final status at once (a trunk's 503, a 404).
    Refuse(u16),
    /// 401 with a digest challenge; the INVITE sent again with credentials is answered.
    Challenge,
}

/// One call a phone was offered.
#[derive(Debug, Clone)]
pub struct PhoneLeg {
    pub invite: Sip,
    pub tag: String,
    /// The switchboard's handle of the leg (by the port its SDP offers).
    pub call: Option<CallRef>,
    pub answered: bool,
    pub acked: bool,
    pub cancelled: bool,
    /// Ended by a BYE either way.
    pub ended: bool,
    pub answer_at: Option<Instant>,
}

#[derive(Debug)]
pub struct AgentPhone {
    pub agent: String,
    pub addr: SocketAddr,
    pub queues: Vec<String>,
    /// Scripts for the next INVITEs; then `default_script`.
    pub script: VecDeque<Script>,
    pub default_script: Script,
    pub sends_rtp: bool,
    pub legs: Vec<PhoneLeg>,
    pub received: Vec<Sip>,
    cseq: u32,
}

impl AgentPhone {
    fn leg_of(&mut self, call_id: &str) -> Option<&mut PhoneLeg> {
        self.legs
            .iter_mut()
            .rev()
            .find(|l| l.invite.call_id() == call_id)
    }

    fn ok_to_invite(&self, leg: &PhoneLeg) -> String {
        let contact = format!("Contact: <sip:{}@{}>\r\n", self.agent, self.addr);
        response(&leg.invite, 200, Some(&leg.tag), &contact, &sdp(self.addr))
    }

    fn receive(&mut self, now: Instant, msg: Sip, leg_call: Option<CallRef>) -> Vec<String> {
        let mut out = Vec::new();
        match msg.method() {
            Some("INVITE") if self.leg_of(msg.call_id()).is_none() => {
                let tag = format!("ph{}-{}", self.addr.port(), self.legs.len() + 1);
                let script = self.script.pop_front().unwrap_or(self.default_script);
                out.push(response(&msg, 180, Some(&tag), "", ""));
                let mut leg = PhoneLeg {
                    invite: msg.clone(),
                    tag: tag.clone(),
                    call: leg_call,
                    answered: false,
                    acked: false,
                    cancelled: false,
                    ended: false,
                    answer_at: None,
                };
                match script {
                    Script::Answer(d) if d.is_zero() => {
                        leg.answered = true;
                        out.push(self.ok_to_invite(&leg));
                    }
                    Script::Answer(d) => leg.answer_at = Some(now + d),
                    Script::Never => {}
                    Script::Busy => {
                        leg.ended = true;
                        out.push(response(&msg, 486, Some(&tag), "", ""));
                    }
                    Script::Refuse(status) => {
                        leg.ended = true;
                        out.push(response(&msg, status, Some(&tag), "", ""));
                    }
                    Script::Challenge => {
                        leg.ended = true;
                        let challenge = "WWW-Authenticate: Digest realm=\"carrier\", nonce=\"n0nce\", algorithm=MD5, qop=\"auth\"\r\n";
                        out.push(response(&msg, 401, Some(&tag), challenge, ""));
                    }
                }
                self.legs.push(leg);
            }
            // The INVITE again with credentials (a new branch, the same Call-ID).
            Some("INVITE") if msg.header("Authorization").is_some() => {
                let answered = self.leg_of(msg.call_id()).is_some_and(|l| l.answered);
                if !answered {
                    let tag = format!("ph{}-{}", self.addr.port(), self.legs.len() + 1);
                    let leg = PhoneLeg {
                        invite: msg.clone(),
                        tag,
                        call: leg_call,
                        answered: true,
                        acked: false,
                        cancelled: false,
                        ended: false,
                        answer_at: None,
                    };
                    out.push(self.ok_to_invite(&leg));
                    self.legs.push(leg);
                }
            }
            Some("INVITE") => {} // a retransmission
            Some("ACK") => {
                if let Some(l) = self.leg_of(msg.call_id()) {
                    l.acked = true;
                }
            }
            Some("CANCEL") => {
                out.push(response(&msg, 200, None, "", ""));
                if let Some(l) = self.leg_of(msg.call_id()) {
                    if !l.answered {
                        l.cancelled = true;
                        l.answer_at = None;
                        let (invite, tag) = (l.invite.clone(), l.tag.clone());
                        out.push(response(&invite, 487, Some(&tag), "", ""));
                    }
                }
            }
            Some("BYE") => {
                out.push(response(&msg, 200, None, "", ""));
                if let Some(l) = self.leg_of(msg.call_id()) {
                    l.ended = true;
                }
            }
            Some(_) => out.push(response(&msg, 200, None, "", "")),
            None => {}
        }
        self.received.push(msg);
        out
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.legs.iter().filter_map(|l| l.answer_at).min()
    }

    fn fire(&mut self, now: Instant) -> Vec<String> {
        let mut out = Vec::new();
        for i in 0..self.legs.len() {
            if self.legs[i].answer_at.is_some_and(|t| t <= now) {
                self.legs[i].answer_at = None;
                self.legs[i].answered = true;
                out.push(self.ok_to_invite(&self.legs[i]));
            }
        }
        out
    }

    /// The latest leg.
    pub fn leg(&self) -> &PhoneLeg {
        self.legs.last().expect("the phone was rung")
    }

    /// A request inside the latest leg's dialog.
    fn in_dialog(&mut self, method: &str, extra: &str) -> String {
        self.cseq += 1;
        let leg = self.leg().clone();
        let target = leg
            .invite
            .header("Contact")
            .map(|c| c.trim_start_matches('<').split('>').next().unwrap_or(c))
            .unwrap_or("sip:hotline@127.0.0.1:5060")
            .to_string();
        format!(
            "{method} {target} SIP/2.0\r\nVia: SIP/2.0/UDP {addr};branch=z9hG4bKph{port}x{cseq};rport\r\nMax-Forwards: 70\r\nFrom: {to};tag={tag}\r\nTo: {from}\r\nCall-ID: {cid}\r\nCSeq: {cseq} {method}\r\nContact: <sip:{agent}@{addr}>\r\n{extra}Content-Length: 0\r\n\r\n",
            addr = self.addr,
            port = self.addr.port(),
            cseq = self.cseq + 100,
            to = leg.invite.header("To").unwrap_or(""),
            tag = leg.tag,
            from = leg.invite.header("From").unwrap_or(""),
            cid = leg.invite.call_id(),
            agent = self.agent,
        )
    }

    /// The INVITEs this phone received, in order.
    pub fn rung(&self) -> usize {
        self.legs.len()
    }

    pub fn got(&self, method: &str) -> usize {
        self.received
            .iter()
            .filter(|m| m.method() == Some(method))
            .count()
    }
}

// ---------------------------------------------------------------- media

/// What the media engine was asked, as tests check it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaLog {
    Start(CallRef, u16),
    Watch(CallRef),
    Play(CallRef, Vec<String>),
    Hold(CallRef, bool),
    Bridge(CallRef, CallRef),
    Unbridge(CallRef),
    Record(CallRef, PathBuf),
    StopRecording(CallRef),
    SendDigit(CallRef, char),
    KeyPressed(CallRef),
    Update(CallRef),
    Stop(CallRef),
    /// An event the engine reported.
    Done(CallRef),
    NoMedia(CallRef),
}

#[derive(Debug, Clone)]
pub struct Stream {
    pub port: u16,
    /// When what is queued has played.
    pub playing: Option<Instant>,
    pub barge_in: bool,
    pub music: bool,
    pub bridge: Option<CallRef>,
    /// Since when silence counts (WatchRtp).
    pub watched_since: Option<Instant>,
    /// Nothing arrives from the peer.
    pub silent: bool,
    pub timed_out: bool,
    pub recording: Option<PathBuf>,
}

/// Stands in for the runtime's media thread, on the contract of
/// `hotline::switchboard::media`.
#[derive(Debug)]
pub struct FakeMedia {
    pub rtp_timeout: Duration,
    pub streams: HashMap<CallRef, Stream>,
    /// Port → the stream last started on it.
    pub port_call: HashMap<u16, CallRef>,
    pub log: Vec<(Instant, MediaLog)>,
}

/// How long clips play: whole 20 ms frames of 160 samples.
pub fn clips_duration(clips: &[Arc<[u8]>]) -> Duration {
    let frames: usize = clips.iter().map(|c| c.len() / 160).sum();
    Duration::from_millis(20 * frames as u64)
}

impl FakeMedia {
    fn apply(&mut self, now: Instant, cmd: MediaCmd) {
        let names = &prompts().names;
        let entry = match cmd {
            MediaCmd::Start { call, port, .. } => {
                self.streams.insert(
                    call,
                    Stream {
                        port,
                        playing: None,
                        barge_in: true,
                        music: false,
                        bridge: None,
                        watched_since: None,
                        silent: false,
                        timed_out: false,
                        recording: None,
                    },
                );
                self.port_call.insert(port, call);
                MediaLog::Start(call, port)
            }
            MediaCmd::WatchRtp { call } => {
                if let Some(s) = self.streams.get_mut(&call) {
                    s.watched_since = Some(now);
                }
                MediaLog::Watch(call)
            }
            MediaCmd::Play {
                call,
                clips,
                barge_in,
            } => {
                if let Some(s) = self.streams.get_mut(&call) {
                    let d = clips_duration(&clips);
                    s.playing = (!d.is_zero()).then_some(now + d);
                    s.barge_in = barge_in;
                }
                let n = clips
                    .iter()
                    .map(|c| {
                        names
                            .get(&clip_key(c))
                            .cloned()
                            .unwrap_or_else(|| "?".into())
                    })
                    .collect();
                MediaLog::Play(call, n)
            }
            MediaCmd::KeyPressed { call } => {
                if let Some(s) = self.streams.get_mut(&call).filter(|s| s.barge_in) {
                    s.playing = None;
                }
                MediaLog::KeyPressed(call)
            }
            MediaCmd::Hold { call, music } => {
                if let Some(s) = self.streams.get_mut(&call) {
                    s.music = music.is_some_and(|m| !m.is_empty());
                }
                MediaLog::Hold(call, self.streams.get(&call).is_some_and(|s| s.music))
            }
            MediaCmd::Update { call, .. } => MediaLog::Update(call),
            MediaCmd::Record { call, path } => {
                if let Some(s) = self.streams.get_mut(&call) {
                    s.recording = Some(path.clone());
                }
                MediaLog::Record(call, path)
            }
            MediaCmd::StopRecording { call } => {
                if let Some(s) = self.streams.get_mut(&call) {
                    s.recording = None;
                }
                MediaLog::StopRecording(call)
            }
            MediaCmd::Bridge { a, b } => {
                if a != b && self.streams.contains_key(&a) && self.streams.contains_key(&b) {
                    self.streams.get_mut(&a).unwrap().bridge = Some(b);
                    self.streams.get_mut(&b).unwrap().bridge = Some(a);
                }
                MediaLog::Bridge(a, b)
            }
            MediaCmd::Unbridge { call } => {
                self.unbridge(call);
                MediaLog::Unbridge(call)
            }
            MediaCmd::SendDigit { call, digit } => MediaLog::SendDigit(call, digit.as_char()),
            MediaCmd::Stop { call } => {
                self.unbridge(call);
                self.streams.remove(&call);
                MediaLog::Stop(call)
            }
        };
        self.log.push((now, entry));
    }

    fn unbridge(&mut self, call: CallRef) {
        if let Some(other) = self.streams.get_mut(&call).and_then(|s| s.bridge.take()) {
            if let Some(o) = self.streams.get_mut(&other) {
                o.bridge = None;
            }
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.streams
            .values()
            .flat_map(|s| {
                let silence = s
                    .watched_since
                    .filter(|_| s.silent && !s.timed_out)
                    .map(|t| t + self.rtp_timeout);
                s.playing.into_iter().chain(silence)
            })
            .min()
    }

    fn fire(&mut self, now: Instant) -> Vec<MediaEvent> {
        let mut due: Vec<CallRef> = self.streams.keys().copied().collect();
        due.sort_by_key(|c| c.0);
        let mut out = Vec::new();
        for call in due {
            let rtp_timeout = self.rtp_timeout;
            let s = self.streams.get_mut(&call).unwrap();
            if s.playing.is_some_and(|t| t <= now) {
                s.playing = None;
                out.push(MediaEvent::PlaybackDone { call });
                self.log.push((now, MediaLog::Done(call)));
            }
            let s = self.streams.get_mut(&call).unwrap();
            let silent_until = s.watched_since.filter(|_| s.silent && !s.timed_out);
            if silent_until.is_some_and(|t| t + rtp_timeout <= now) {
                s.timed_out = true;
                out.push(MediaEvent::NoMedia { call });
                self.log.push((now, MediaLog::NoMedia(call)));
            }
        }
        out
    }

    /// A key from the peer of `call`: a barge-in prompt stops, as in the real engine.
    fn key(&mut self, call: CallRef) {
        if let Some(s) = self.streams.get_mut(&call).filter(|s| s.barge_in) {
            s.playing = None;
        }
    }
}

// ---------------------------------------------------------------- the board

enum Work {
    /// A datagram from the switchboard to a peer.
    Deliver(SocketAddr, Vec<u8>),
    /// A datagram from a peer to the switchboard.
    Datagram(SocketAddr, Vec<u8>),
    Committed(CallRef),
    Verified(CallRef, VerifyOutcome),
    Media(MediaEvent),
    /// A message from a peer on a TCP connection the switchboard opened.
    Stream(ConnId, SocketAddr, Vec<u8>),
    ConnectFailed(ConnId),
    /// The shared database's answer to a claim on an agent.
    Claimed(CallRef, String, bool),
}

/// What a board is built with.
pub struct Setup {
    pub plans: Vec<Arc<Plan>>,
    pub queues: String,
    pub ring_delay: Duration,
    pub rtp_timeout: Duration,
    pub drain: Duration,
    pub max_call: Duration,
    /// `trunks.toml` text; trunk addresses must be IP:port (carriers are scripted
    /// phones there, see [`Board::carrier`]).
    pub trunks: String,
    /// A cluster node's settings (`None`: a single node).
    pub cluster: Option<hotline::config::Cluster>,
}

impl Default for Setup {
    /// The shipped dial plan and queues.
    fn default() -> Self {
        Setup {
            plans: vec![plan(&shipped_plan_text())],
            queues: shipped_queues_text(),
            ring_delay: secs(1),
            rtp_timeout: secs(30),
            drain: secs(5),
            max_call: secs(3600),
            trunks: String::new(),
            cluster: None,
        }
    }
}

/// A logged write with when it was made.
#[derive(Debug, Clone)]
pub struct Logged {
    pub at: Instant,
    pub write: Write,
}

/// A leg as the records tell it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegRecord {
    pub seq: i64,
    pub agent: String,
    pub queue: Option<String>,
    pub answered: bool,
    pub cause: Option<&'static str>,
}

pub struct Board {
    pub sb: Switchboard<FakeHost>,
    pub start: Now,
    pub now: Now,
    sb_deadline: Option<Instant>,
    pub finished: bool,
    pub media: FakeMedia,
    pub callers: Vec<Caller>,
    pub phones: Vec<AgentPhone>,
    pub writes: Vec<Logged>,
    /// Everything the switchboard sent: (when, to, first line).
    pub sent: Vec<(Instant, SocketAddr, Sip)>,
    /// How each of `sent` went (UDP, or which TCP connection).
    pub links: Vec<Link>,
    /// TCP connections the switchboard asked for, in order.
    pub connects: Vec<(ConnId, SocketAddr)>,
    /// The connections it opened that are up, by peer address.
    pub tcp_open: HashMap<SocketAddr, ConnId>,
    /// Addresses where a TCP connection is refused.
    pub refuse_tcp: HashSet<SocketAddr>,
    /// A cluster node's commands to the shared database, in order.
    pub cluster_cmds: Vec<hotline::switchboard::ClusterCmd>,
    /// Agents another node holds: claims on them are lost.
    pub held_elsewhere: HashSet<String>,
    /// A cluster node's edge: agents' phones register there (not with hotline), are rung
    /// through it (an INVITE for `sip:EXT@edge` reaches the phone of EXT) and reach
    /// hotline from its address.
    pub edge: Option<SocketAddr>,
    /// Hold arrival commits until [`Board::commit_held`].
    pub hold_commits: bool,
    pub held: Vec<CallRef>,
    /// Identity checks: (account, secret) → outcome; anything else fails.
    pub accounts: HashMap<(String, String), VerifyOutcome>,
    pub verifies: Vec<(CallRef, String)>,
    pub trace: Vec<String>,
    work: VecDeque<Work>,
    next_port: u16,
    request_id: i64,
    _voicemail: super::TempDir,
}

impl Board {
    pub fn shipped() -> Board {
        Board::new(Setup::default())
    }

    pub fn new(setup: Setup) -> Board {
        let start = Now {
            at: Instant::now(),
            wall_ms: monday_10_ms(),
        };
        let voicemail = super::TempDir::new("board-voicemail");
        let settings = Settings {
            endpoint: EndpointConfig {
                timers: Timers::default(),
                max_message: 65_535,
                port: 5060,
                retry_after: setup.drain.max(secs(5)),
                seed: 7,
                host: None,
            },
            media_ip: None,
            rtp_ports: (20_000, 20_998),
            ring_delay: setup.ring_delay,
            max_call: setup.max_call,
            record_dir: None,
            voicemail_dir: voicemail.0.clone(),
            followups: hotline::followup::Rules::default(),
            realm: "hotline".into(),
            drain: setup.drain,
            seed: 7,
            cluster: setup.cluster.clone(),
        };
        let (queues, features): (Vec<QueueConfig>, Features) =
            hotline::acd::config::parse(&setup.queues).expect("queues file parses");
        let trunks = hotline::trunks::parse(&setup.trunks).expect("trunks file parses");
        let outbound = OutboundSetup {
            lines: trunks
                .trunks
                .into_iter()
                .map(|trunk| TrunkLine {
                    addr: trunk.address.parse().expect("trunk address is IP:port"),
                    trunk,
                })
                .collect(),
            dialer: trunks.dialer,
            dial_out_prefix: trunks.dial_out.map(|d| d.prefix),
        };
        let loaded = Loaded {
            plans: setup.plans,
            prompts: Some(Arc::clone(&prompts().set)),
            queues,
            features,
            outbound,
        };
        let sb = Switchboard::new(start, settings, FakeHost::default(), loaded);
        let mut b = Board {
            sb,
            start,
            now: start,
            sb_deadline: None,
            finished: false,
            media: FakeMedia {
                rtp_timeout: setup.rtp_timeout,
                streams: HashMap::new(),
                port_call: HashMap::new(),
                log: Vec::new(),
            },
            callers: Vec::new(),
            phones: Vec::new(),
            writes: Vec::new(),
            sent: Vec::new(),
            links: Vec::new(),
            connects: Vec::new(),
            tcp_open: HashMap::new(),
            refuse_tcp: HashSet::new(),
            cluster_cmds: Vec::new(),
            held_elsewhere: HashSet::new(),
            edge: setup.cluster.as_ref().map(|c| c.edge),
            hold_commits: false,
            held: Vec::new(),
            accounts: HashMap::new(),
            verifies: Vec::new(),
            trace: Vec::new(),
            work: VecDeque::new(),
            next_port: 6000,
            request_id: 0,
            _voicemail: voicemail,
        };
        b.settle();
        b
    }

    /// Seconds since the board started, for traces.
    pub fn t(&self) -> f64 {
        self.now.at.duration_since(self.start.at).as_secs_f64()
    }

    fn note(&mut self, s: String) {
        let line = format!("{:9.3} {s}", self.t());
        self.trace.push(line);
    }

    /// Everything that happened, for failure messages.
    pub fn dump(&self) -> String {
        self.trace.join("\n")
    }

    fn fresh_addr(&mut self) -> SocketAddr {
        self.next_port += 10;
        SocketAddr::from(([127, 0, 0, 1], self.next_port))
    }

    // ---- driving ----

    /// Carries out every output at the current instant, until the switchboard waits.
    pub fn settle(&mut self) {
        let mut guard = 0u32;
        loop {
            guard += 1;
            assert!(
                guard < 100_000,
                "the board does not settle:\n{}",
                self.dump()
            );
            self.drain();
            let Some(w) = self.work.pop_front() else {
                break;
            };
            let now = self.now;
            match w {
                Work::Deliver(to, bytes) => self.deliver(to, bytes),
                Work::Datagram(from, bytes) => self.sb.handle_input(
                    now,
                    Input::Datagram {
                        from,
                        bytes: &bytes,
                    },
                ),
                Work::Committed(call) => self.sb.handle_input(now, Input::Committed(call)),
                Work::Verified(call, outcome) => {
                    self.sb.handle_input(now, Input::Verified(call, outcome))
                }
                Work::Media(ev) => self.sb.handle_input(now, Input::Media(ev)),
                Work::Stream(conn, from, bytes) => self.sb.handle_input(
                    now,
                    Input::Stream {
                        conn,
                        from,
                        bytes: &bytes,
                    },
                ),
                Work::ConnectFailed(conn) => self.sb.handle_input(now, Input::ConnectFailed(conn)),
                Work::Claimed(call, agent, won) => self
                    .sb
                    .handle_input(now, Input::Claimed { call, agent, won }),
            }
        }
    }

    fn drain(&mut self) {
        loop {
            match self.sb.poll_output() {
                Output::Connect { conn, addr } => {
                    let refused = self.refuse_tcp.contains(&addr);
                    self.note(format!("connect {conn} to {addr} (refused: {refused})"));
                    self.connects.push((conn, addr));
                    if refused {
                        self.work.push_back(Work::ConnectFailed(conn));
                    } else {
                        self.tcp_open.insert(addr, conn);
                    }
                }
                Output::Transmit(t) => {
                    let msg = Sip::new(&t.bytes);
                    self.note(format!(
                        "sb -> {} {:?} {}",
                        t.peer.addr,
                        t.peer.link,
                        msg.first_line()
                    ));
                    self.sent.push((self.now.at, t.peer.addr, msg));
                    self.links.push(t.peer.link);
                    let open = match t.peer.link {
                        Link::Udp => true,
                        Link::Tcp(conn) => self.tcp_open.get(&t.peer.addr) == Some(&conn),
                    };
                    if open {
                        self.work.push_back(Work::Deliver(t.peer.addr, t.bytes));
                    } else {
                        self.note("(no such connection: not delivered)".into());
                    }
                }
                Output::Media(cmd) => self.media_cmd(cmd),
                Output::Store { write, ack } => self.store(write, ack),
                Output::Cluster(cmd) => {
                    self.note(format!("cluster {cmd:?}"));
                    if let hotline::switchboard::ClusterCmd::Claim { call, agent, .. } = &cmd {
                        let won = !self.held_elsewhere.contains(agent);
                        self.work
                            .push_back(Work::Claimed(*call, agent.clone(), won));
                    }
                    self.cluster_cmds.push(cmd);
                }
                Output::Verify {
                    call,
                    account,
                    secret,
                } => {
                    let s = match &secret {
                        Secret::Pin(s) | Secret::IdDigits(s) => s.clone(),
                    };
                    let outcome = self
                        .accounts
                        .get(&(account.clone(), s))
                        .cloned()
                        .unwrap_or(VerifyOutcome::Failed);
                    self.note(format!("verify {call:?} {account} -> {outcome:?}"));
                    self.verifies.push((call, account));
                    self.work.push_back(Work::Verified(call, outcome));
                }
                Output::Timeout(at) => {
                    self.sb_deadline = Some(at);
                    return;
                }
                Output::Finished => {
                    if !self.finished {
                        self.note("switchboard finished".into());
                    }
                    self.finished = true;
                    self.sb_deadline = None;
                    return;
                }
            }
        }
    }

    fn media_cmd(&mut self, cmd: MediaCmd) {
        let start = match &cmd {
            MediaCmd::Start { call, .. } => Some(*call),
            _ => None,
        };
        self.media.apply(self.now.at, cmd);
        let (at, entry) = self.media.log.last().cloned().unwrap();
        let _ = at;
        self.note(format!("media {entry:?}"));
        if let Some(call) = start {
            let silent = self
                .callers
                .iter()
                .any(|c| c.call == Some(call) && !c.sends_rtp);
            if let Some(s) = self.media.streams.get_mut(&call) {
                s.silent = silent;
            }
        }
    }

    fn store(&mut self, write: Write, ack: Option<CallRef>) {
        self.note(format!("store {write:?}"));
        if let (
            Write::CallArrived {
                id, sip_call_id, ..
            },
            Some(call),
        ) = (&write, ack)
        {
            if let Some(c) = self.callers.iter_mut().find(|c| c.call_id == *sip_call_id) {
                c.call = Some(call);
                c.record = Some(id.clone());
            }
        }
        self.writes.push(Logged {
            at: self.now.at,
            write,
        });
        if let Some(call) = ack {
            if self.hold_commits {
                self.held.push(call);
            } else {
                self.work.push_back(Work::Committed(call));
            }
        }
    }

    /// Commits the arrival records held so far.
    pub fn commit_held(&mut self) {
        for call in std::mem::take(&mut self.held) {
            self.work.push_back(Work::Committed(call));
        }
        self.settle();
    }

    fn deliver(&mut self, to: SocketAddr, bytes: Vec<u8>) {
        let msg = Sip::new(&bytes);
        let now = self.now.at;
        // Through the edge: the caller of that call, else the phone it is for.
        let via_edge = self.edge == Some(to);
        let caller = self
            .callers
            .iter_mut()
            .find(|c| c.addr == to && (!via_edge || c.call_id == msg.call_id()));
        if let Some(c) = caller {
            let replies = c.receive(msg);
            for r in replies {
                self.peer_sends(to, r);
            }
            return;
        }
        let phone = if via_edge {
            self.edge_phone(&msg)
        } else {
            self.phones.iter().position(|p| p.addr == to)
        };
        if let Some(i) = phone {
            let to = self.phone_source(i);
            let leg_call = (msg.method() == Some("INVITE"))
                .then(|| msg.media_port())
                .flatten()
                .and_then(|p| self.media.port_call.get(&p).copied());
            let sends = self.phones[i].sends_rtp;
            if let Some(s) = leg_call.and_then(|c| self.media.streams.get_mut(&c)) {
                s.silent = !sends;
            }
            let replies = self.phones[i].receive(now, msg, leg_call);
            for r in replies {
                self.peer_sends(to, r);
            }
            return;
        }
        self.note(format!("(nobody at {to})"));
    }

    /// The agent's phone a message sent to the edge is for: the one with a leg of its
    /// Call-ID, else (a new INVITE) the one whose extension the Request-URI names.
    fn edge_phone(&self, msg: &Sip) -> Option<usize> {
        let agents = || {
            self.phones
                .iter()
                .enumerate()
                .filter(|(_, p)| p.agent != "carrier")
        };
        let in_dialog = agents()
            .find(|(_, p)| p.legs.iter().any(|l| l.invite.call_id() == msg.call_id()))
            .map(|(i, _)| i);
        let user = (msg.method() == Some("INVITE"))
            .then(|| msg.first_line().split(' ').nth(1))
            .flatten()
            .and_then(|uri| uri.strip_prefix("sip:")?.split('@').next());
        in_dialog.or_else(|| {
            agents()
                .find(|(_, p)| Some(p.agent.as_str()) == user)
                .map(|(i, _)| i)
        })
    }

    /// Where hotline sees a phone's messages come from: an agent's phone behind a
    /// cluster's edge reaches hotline through the edge.
    pub fn phone_source(&self, phone: usize) -> SocketAddr {
        match self.edge {
            Some(edge) if self.phones[phone].agent != "carrier" => edge,
            _ => self.phones[phone].addr,
        }
    }

    /// A peer at `from` sends `text` (any request, as it is).
    pub fn send_from(&mut self, from: SocketAddr, text: &str) {
        self.peer_sends(from, text.to_string());
        self.settle();
    }

    fn peer_sends(&mut self, from: SocketAddr, text: String) {
        let msg = Sip { text };
        self.note(format!("{from} -> sb {}", msg.first_line()));
        let bytes = msg.text.into_bytes();
        match self.tcp_open.get(&from) {
            // A peer the switchboard connected to answers on that connection.
            Some(&conn) => self.work.push_back(Work::Stream(conn, from, bytes)),
            None => self.work.push_back(Work::Datagram(from, bytes)),
        }
    }

    /// The TCP connection the switchboard opened to `addr` closes.
    pub fn close_tcp(&mut self, addr: SocketAddr) {
        if let Some(conn) = self.tcp_open.remove(&addr) {
            self.input(Input::Closed(conn));
        }
    }

    /// The next instant something is due.
    pub fn next_deadline(&self) -> Option<Instant> {
        let sb = self.sb_deadline.filter(|_| !self.finished);
        let phones = self.phones.iter().filter_map(AgentPhone::poll_timeout);
        sb.into_iter()
            .chain(phones)
            .chain(self.media.poll_timeout())
            .min()
    }

    /// Fires everything due at the current instant.
    fn fire(&mut self) {
        let at = self.now.at;
        if self.sb_deadline.is_some_and(|t| t <= at) && !self.finished {
            self.sb_deadline = None;
            self.sb.handle_input(self.now, Input::Timeout);
            self.settle();
        }
        for i in 0..self.phones.len() {
            let addr = self.phone_source(i);
            for r in self.phones[i].fire(at) {
                self.peer_sends(addr, r);
            }
        }
        for ev in self.media.fire(at) {
            self.work.push_back(Work::Media(ev));
        }
        self.settle();
    }

    /// Moves to the next deadline if it is no later than `end`; false when none is.
    fn step(&mut self, end: Instant) -> bool {
        self.settle();
        match self.next_deadline() {
            Some(t) if t <= end => {
                if t > self.now.at {
                    self.now = self.now.at(t);
                }
                self.fire();
                true
            }
            _ => false,
        }
    }

    /// Runs the clock forward by `d`, handling every deadline on the way.
    pub fn run_for(&mut self, d: Duration) {
        let end = self.now.at + d;
        let mut guard = 0u32;
        while self.step(end) {
            guard += 1;
            assert!(guard < 1_000_000, "the clock is stuck:\n{}", self.dump());
        }
        if end > self.now.at {
            self.now = self.now.at(end);
        }
        self.settle();
    }

    /// Runs the clock until `cond` holds, at most `limit`; panics (with the trace) when
    /// it never does.
    pub fn run_until(&mut self, what: &str, limit: Duration, cond: impl Fn(&Board) -> bool) {
        assert!(
            self.try_until(limit, cond),
            "never: {what}\n{}",
            self.dump()
        );
    }

    /// Runs the clock until `cond` holds, at most `limit`; whether it did.
    pub fn try_until(&mut self, limit: Duration, cond: impl Fn(&Board) -> bool) -> bool {
        let end = self.now.at + limit;
        self.settle();
        let mut guard = 0u32;
        while !cond(self) {
            if !self.step(end) {
                if end > self.now.at {
                    self.now = self.now.at(end);
                }
                return cond(self);
            }
            guard += 1;
            assert!(guard < 1_000_000, "the clock is stuck:\n{}", self.dump());
        }
        true
    }

    /// Feeds an input now and settles.
    pub fn input(&mut self, input: Input<'_>) {
        self.note(format!("input {input:?}"));
        self.sb.handle_input(self.now, input);
        self.settle();
    }

    // ---- callers ----

    /// A new caller (`number`) who will dial `called`.
    pub fn caller(&mut self, number: &str, called: &str) -> usize {
        let addr = self.fresh_addr();
        let n = self.callers.len();
        self.callers.push(Caller {
            addr,
            number: number.into(),
            called: called.into(),
            call_id: format!("call-{n}-{}", addr.port()),
            lose_acks: false,
            sends_rtp: true,
            call: None,
            record: None,
            to_tag: None,
            cseq: 1,
            branches: 0,
            invite: None,
            received: Vec::new(),
            final_status: None,
            got_bye: false,
            password: None,
            headers: String::new(),
        });
        n
    }

    /// Agent `phone` dials `called` from its softphone (digest-authenticated as the
    /// agent, password `secret`), as a caller of its own at the phone's address.
    pub fn agent_dials(&mut self, phone: usize, called: &str) -> usize {
        let (addr, ext) = (self.phones[phone].addr, self.phones[phone].agent.clone());
        let n = self.caller(&ext, called);
        let c = &mut self.callers[n];
        c.addr = addr;
        c.call_id = format!("dialout-{n}-{}", addr.port());
        c.password = Some("secret".into());
        self.dial(n);
        n
    }

    /// A new caller at `addr` (`number`) dials `called` with extra INVITE header lines
    /// (each ending in CRLF): a phone behind the edge, or someone posing as one.
    pub fn dial_from(
        &mut self,
        addr: SocketAddr,
        number: &str,
        called: &str,
        headers: &str,
    ) -> usize {
        let n = self.caller(number, called);
        let c = &mut self.callers[n];
        c.addr = addr;
        c.call_id = format!("from-{n}-{}", addr.port());
        c.headers = headers.to_string();
        self.dial(n);
        n
    }

    /// The caller sends its INVITE.
    pub fn dial(&mut self, caller: usize) {
        let text = self.callers[caller].invite();
        let addr = self.callers[caller].addr;
        self.peer_sends(addr, text);
        self.settle();
    }

    /// A new caller dials 95555 and the call is answered (ring delay and commit).
    pub fn call_in(&mut self, number: &str) -> usize {
        let c = self.caller(number, "95555");
        self.dial(c);
        self.run_until("the call is answered", secs(10), |b| {
            b.callers[c].final_status == Some(200)
        });
        c
    }

    pub fn hang_up(&mut self, caller: usize) {
        let text = self.callers[caller].in_dialog("BYE");
        let addr = self.callers[caller].addr;
        self.peer_sends(addr, text);
        self.settle();
    }

    pub fn cancel(&mut self, caller: usize) {
        let text = self.callers[caller].cancel();
        let addr = self.callers[caller].addr;
        self.peer_sends(addr, text);
        self.settle();
    }

    /// The switchboard's handle of a caller's call.
    pub fn call_of(&self, caller: usize) -> CallRef {
        self.callers[caller]
            .call
            .unwrap_or_else(|| panic!("caller {caller} has no call\n{}", self.dump()))
    }

    /// The record id of a caller's call.
    pub fn record(&self, caller: usize) -> String {
        self.callers[caller]
            .record
            .clone()
            .unwrap_or_else(|| panic!("caller {caller} has no record\n{}", self.dump()))
    }

    /// A key from the peer of `call`, as the media engine reports one (RFC 4733).
    pub fn key_on(&mut self, call: CallRef, key: char) {
        self.note(format!("key {key} on {call:?}"));
        self.media.key(call);
        let digit = Digit::from_char(key).expect("a key");
        self.sb.handle_input(
            self.now,
            Input::Media(MediaEvent::Digit {
                call,
                digit,
                via: "rfc4733",
            }),
        );
        self.settle();
    }

    /// Keys from a caller, 200 ms apart.
    pub fn keys(&mut self, caller: usize, keys: &str) {
        let call = self.call_of(caller);
        for k in keys.chars() {
            self.key_on(call, k);
            self.run_for(ms(200));
        }
    }

    // ---- agents ----

    /// An agent and their phone (extension = agent id), serving `queues`; registered and
    /// logged in with [`Board::sync_agents`] and [`Board::login`].
    pub fn agent(&mut self, id: &str, queues: &[&str]) -> usize {
        let addr = self.fresh_addr();
        self.phones.push(AgentPhone {
            agent: id.into(),
            addr,
            queues: queues.iter().map(|q| q.to_string()).collect(),
            script: VecDeque::new(),
            default_script: Script::Answer(secs(1)),
            sends_rtp: true,
            legs: Vec::new(),
            received: Vec::new(),
            cseq: 0,
        });
        self.phones.len() - 1
    }

    /// A carrier behind a trunk: a scripted phone at `addr` (the trunk's address) that
    /// answers the calls hotline places there; not an agent, never registered.
    pub fn carrier(&mut self, addr: &str, script: &[Script]) -> usize {
        self.phones.push(AgentPhone {
            agent: "carrier".into(),
            addr: addr.parse().expect("carrier address"),
            queues: vec![],
            script: script.iter().copied().collect(),
            default_script: Script::Answer(secs(2)),
            sends_rtp: true,
            legs: Vec::new(),
            received: Vec::new(),
            cseq: 0,
        });
        self.phones.len() - 1
    }

    /// The store's follow-ups to call and the calls asked for, as the runtime feeds them.
    pub fn dial_work(&mut self, tasks: Vec<DialTask>, requests: Vec<DialRequest>) {
        self.input(Input::DialWork { tasks, requests });
    }

    /// The agents table and their phones' registrations, as the store gives them at start
    /// (nobody logged in yet).
    pub fn sync_agents(&mut self) {
        let wall = self.now.wall_ms;
        let agents = self
            .phones
            .iter()
            .filter(|p| p.agent != "carrier")
            .map(|p| AgentRow {
                id: p.agent.clone(),
                name: format!("Agent {}", p.agent),
                extension: p.agent.clone(),
                ha1_sha256: ha1(Algorithm::Sha256, &p.agent, "hotline", "secret"),
                ha1_md5: ha1(Algorithm::Md5, &p.agent, "hotline", "secret"),
                realm: "hotline".into(),
                queues: p.queues.iter().map(|q| (q.clone(), 0)).collect(),
                state: None,
            })
            .collect();
        // Behind an edge, phones register there: hotline has none.
        let registrations = self
            .phones
            .iter()
            .filter(|p| p.agent != "carrier" && self.edge.is_none())
            .map(|p| RegistrationRow {
                extension: p.agent.clone(),
                contact: format!("sip:{}@{}", p.agent, p.addr),
                source: p.addr.to_string(),
                transport: "udp".into(),
                expires_at: wall + 3_600_000,
            })
            .collect();
        self.input(Input::Agents {
            agents: Some(agents),
            registrations: Some(registrations),
            requests: vec![],
        });
    }

    /// State changes as asked for from the command line (`login`, `logout`, ...).
    pub fn agent_request(&mut self, agent: usize, action: &str) {
        self.request_id += 1;
        let r = AgentRequest {
            id: self.request_id,
            agent_id: self.phones[agent].agent.clone(),
            action: action.into(),
            reason: String::new(),
        };
        self.input(Input::Agents {
            agents: None,
            registrations: None,
            requests: vec![r],
        });
    }

    /// Registers every agent, then logs them in one second apart, in order (so the first
    /// has been idle longest).
    pub fn agents_ready(&mut self) {
        self.sync_agents();
        for i in 0..self.phones.len() {
            if self.phones[i].agent == "carrier" {
                continue;
            }
            self.agent_request(i, "login");
            self.run_for(secs(1));
        }
    }

    /// The switchboard's handle of the phone's latest leg.
    pub fn leg_of(&self, phone: usize) -> CallRef {
        self.phones[phone]
            .legs
            .last()
            .and_then(|l| l.call)
            .unwrap_or_else(|| panic!("phone {phone} has no leg\n{}", self.dump()))
    }

    /// From the shipped plan's language menu (Chinese) to the main menu, then `choice`.
    pub fn main_menu(&mut self, c: usize, choice: &str) {
        let call = self.call_of(c);
        self.run_until("the language menu plays", secs(20), |b| {
            b.heard(call, "language_choice")
        });
        self.keys(c, "1");
        self.run_until("the main menu plays", secs(20), |b| {
            b.heard(call, "main_menu")
        });
        self.keys(c, choice);
    }

    /// A key the agent presses on the latest leg.
    pub fn agent_keys(&mut self, phone: usize, keys: &str) {
        let leg = self.leg_of(phone);
        for k in keys.chars() {
            self.key_on(leg, k);
            self.run_for(ms(200));
        }
    }

    /// The agent hangs up the latest leg.
    pub fn agent_hangs_up(&mut self, phone: usize) {
        let text = self.phones[phone].in_dialog("BYE", "");
        let addr = self.phone_source(phone);
        self.peer_sends(addr, text);
        self.settle();
    }

    /// The agent's phone transfers the caller (REFER) to `target`.
    pub fn agent_refers(&mut self, phone: usize, target: &str) {
        let extra = format!(
            "Refer-To: <{target}>\r\nReferred-By: <sip:{}@127.0.0.1>\r\n",
            self.phones[phone].agent
        );
        let text = self.phones[phone].in_dialog("REFER", &extra);
        let addr = self.phone_source(phone);
        self.peer_sends(addr, text);
        self.settle();
    }

    // ---- what the records say ----

    /// The writes about a record id, in order.
    pub fn writes_of(&self, record: &str) -> Vec<&Write> {
        self.writes
            .iter()
            .map(|l| &l.write)
            .filter(|w| w.call_id() == record)
            .collect()
    }

    /// A caller's records in short form, without timeline events and IVR columns:
    /// `arrived`, `answered`, `queued`, `leg_started 1 1024`, `leg_answered 1 1024`,
    /// `leg_ended 1 cancelled`, `disposition resolved_on_call`, `rtp`,
    /// `ended caller caller_bye`, `survey 1 5`, `followup callback`.
    pub fn story(&self, caller: usize) -> Vec<String> {
        let record = self.record(caller);
        self.writes_of(&record)
            .into_iter()
            .filter_map(|w| {
                Some(match w {
                    Write::CallArrived { .. } => "arrived".into(),
                    Write::CallAnswered { .. } => "answered".into(),
                    Write::CallEnded { by, cause, .. } => format!("ended {by} {cause}"),
                    Write::Survey {
                        question, score, ..
                    } => format!("survey {question} {score}"),
                    Write::FollowUp(f) => format!("followup {}", f.category),
                    Write::Agent(AgentWrite::CallQueued { .. }) => "queued".into(),
                    Write::Agent(AgentWrite::LegStarted { seq, agent, .. }) => {
                        format!("leg_started {seq} {agent}")
                    }
                    Write::Agent(AgentWrite::LegAnswered { seq, agent, .. }) => {
                        format!("leg_answered {seq} {agent}")
                    }
                    Write::Agent(AgentWrite::LegEnded { seq, cause, .. }) => {
                        format!("leg_ended {seq} {cause}")
                    }
                    Write::Agent(AgentWrite::Disposition { code, .. }) => {
                        format!("disposition {code}")
                    }
                    Write::Agent(AgentWrite::CallRtp { .. }) => "rtp".into(),
                    _ => return None,
                })
            })
            .collect()
    }

    /// The call's timeline (call_events) as `kind: detail`.
    pub fn events(&self, caller: usize) -> Vec<String> {
        let record = self.record(caller);
        self.writes_of(&record)
            .into_iter()
            .filter_map(|w| match w {
                Write::CallEvent { kind, detail, .. } => Some(format!("{kind}: {detail}")),
                _ => None,
            })
            .collect()
    }

    /// How the caller's call ended: (by, cause, status), and when.
    pub fn ended(&self, caller: usize) -> Option<(&'static str, &'static str, Option<u16>, i64)> {
        let record = self.callers[caller].record.as_deref()?;
        self.writes.iter().find_map(|l| match &l.write {
            Write::CallEnded {
                id,
                by,
                cause,
                status,
                at_ms,
            } if id == record => Some((*by, *cause, *status, *at_ms)),
            _ => None,
        })
    }

    /// When (wall ms) a write matching `f` was made about the caller's call.
    pub fn when(&self, caller: usize, f: impl Fn(&Write) -> bool) -> Option<Instant> {
        let record = self.record(caller);
        self.writes
            .iter()
            .find(|l| l.write.call_id() == record && f(&l.write))
            .map(|l| l.at)
    }

    /// The legs of a caller's call, from the records.
    pub fn legs(&self, caller: usize) -> Vec<LegRecord> {
        let record = self.record(caller);
        let mut legs: Vec<LegRecord> = Vec::new();
        for w in self.writes_of(&record) {
            match w {
                Write::Agent(AgentWrite::LegStarted {
                    seq, agent, queue, ..
                }) => legs.push(LegRecord {
                    seq: *seq,
                    agent: agent.clone(),
                    queue: queue.clone(),
                    answered: false,
                    cause: None,
                }),
                Write::Agent(AgentWrite::LegAnswered { seq, .. }) => {
                    if let Some(l) = legs.iter_mut().find(|l| l.seq == *seq) {
                        l.answered = true;
                    }
                }
                Write::Agent(AgentWrite::LegEnded { seq, cause, .. }) => {
                    if let Some(l) = legs.iter_mut().find(|l| l.seq == *seq) {
                        l.cause = Some(cause);
                    }
                }
                _ => {}
            }
        }
        legs
    }

    /// The IVR columns written for the caller's call, merged in order.
    pub fn ivr(&self, caller: usize) -> hotline::store::CallIvr {
        let record = self.record(caller);
        let mut out = hotline::store::CallIvr::default();
        for w in self.writes_of(&record) {
            if let Write::CallIvr { ivr, .. } = w {
                macro_rules! merge {
                    ($($f:ident),*) => {$( if ivr.$f.is_some() { out.$f = ivr.$f.clone(); } )*};
                }
                merge!(language, verified, customer, queue, priority, outcome);
            }
        }
        out
    }

    /// The agent's state changes, in order.
    pub fn agent_states(&self, phone: usize) -> Vec<&'static str> {
        let id = &self.phones[phone].agent;
        self.writes
            .iter()
            .filter_map(|l| match &l.write {
                Write::Agent(AgentWrite::State { agent, state, .. }) if agent == id => Some(*state),
                _ => None,
            })
            .collect()
    }

    pub fn agent_state(&self, phone: usize) -> &'static str {
        self.agent_states(phone).last().copied().unwrap_or("")
    }

    /// The prompts played on `call`, each Play as one list.
    pub fn plays(&self, call: CallRef) -> Vec<Vec<String>> {
        self.media
            .log
            .iter()
            .filter_map(|(_, e)| match e {
                MediaLog::Play(c, names) if *c == call => Some(names.clone()),
                _ => None,
            })
            .collect()
    }

    /// Whether `call` was played the prompt `name`.
    pub fn heard(&self, call: CallRef, name: &str) -> bool {
        self.plays(call).iter().any(|p| p.iter().any(|n| n == name))
    }

    /// The media commands about `call`.
    pub fn media_of(&self, call: CallRef) -> Vec<MediaLog> {
        self.media
            .log
            .iter()
            .map(|(_, e)| e.clone())
            .filter(|e| match e {
                MediaLog::Start(c, _)
                | MediaLog::Watch(c)
                | MediaLog::Play(c, _)
                | MediaLog::Hold(c, _)
                | MediaLog::Unbridge(c)
                | MediaLog::Record(c, _)
                | MediaLog::StopRecording(c)
                | MediaLog::SendDigit(c, _)
                | MediaLog::KeyPressed(c)
                | MediaLog::Update(c)
                | MediaLog::Stop(c)
                | MediaLog::Done(c)
                | MediaLog::NoMedia(c) => *c == call,
                MediaLog::Bridge(a, b) => *a == call || *b == call,
            })
            .collect()
    }

    /// SIP the switchboard sent to `addr`, first lines.
    pub fn sent_to(&self, addr: SocketAddr) -> Vec<String> {
        self.sent
            .iter()
            .filter(|(_, a, _)| *a == addr)
            .map(|(_, _, m)| m.first_line().to_string())
            .collect()
    }
}
