//! Shared driver for the SIP fuzz targets: a fresh [`Endpoint`] per input, a fake clock,
//! an owner that answers calls the way `src/runtime/calls.rs` does, and the checks every
//! output must pass.
//!
//! Checks (a failed one panics, which libFuzzer reports as a crash):
//! - every Transmit frames as exactly one whole message for its transport;
//! - every Transmit parses with `message::parse`, unless it is the salvaged 400/501/505
//!   answer to an input that itself did not parse (that answer copies the caller's
//!   headers verbatim, as RFC 3261 8.2.6.2 asks, so it may be as malformed as they were);
//!   a request we send (BYE, re-sent or not) must always parse (F1 in fuzz/README.md);
//! - every request the endpoint accepts has a From, To and Contact whose URI works as a
//!   Request-URI (the dialog makes them the Request-URI, From and To of our BYE; F1);
//! - a 2xx to an INVITE carries SDP that `sdp::parse_offer` accepts;
//! - events are consistent: one Incoming per call, nothing after Ended, Ended once;
//! - timers settle: stepping through `poll_timeout` ends, and after the last call is hung
//!   up and all timers have run, no call and no client transaction is left.
//!
//! Set `HOTLINE_FUZZ_TRACE=1` to print every input, output and event to stderr (for
//! triage, e.g. `cargo fuzz run sip_datagram crash-file` or on a seed).

#![allow(dead_code)]

use hotline::core::sdp::{self, LocalMedia, Offer};
use hotline::core::sip::endpoint::{
    CallRef, EndCause, Endpoint, EndpointConfig, Event, Link, Peer, Transmit,
};
use hotline::core::sip::message::{self, Message, Method, StreamFrame};
use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The fake clock's origin: read once per process, every input adds durations to it.
pub fn epoch() -> Instant {
    static T0: OnceLock<Instant> = OnceLock::new();
    *T0.get_or_init(Instant::now)
}

pub fn tracing_on() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("HOTLINE_FUZZ_TRACE").is_some())
}

macro_rules! trace {
    ($($arg:tt)*) => {
        if $crate::common::tracing_on() {
            eprintln!($($arg)*);
        }
    };
}

pub fn esc(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string()
}

/// What the owner does with an incoming call (chosen from the input's length, so the
/// fuzzer reaches every branch by inserting or removing bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// Ring and answer at once (what the brief asks for; the common case).
    AnswerNow,
    /// Ring; answer only after the split parts were fed, so they meet an early dialog
    /// (CANCEL, BYE before 200, re-INVITE while early).
    AnswerLater,
    /// Ring and never answer; the final hang-up sends 480 on an early call.
    RingOnly,
}

impl Owner {
    pub fn from_len(len: usize) -> Owner {
        match len % 4 {
            0 | 1 => Owner::AnswerNow,
            2 => Owner::AnswerLater,
            _ => Owner::RingOnly,
        }
    }
}

pub struct Harness {
    pub ep: Endpoint,
    pub now: Instant,
    owner: Owner,
    incoming: HashSet<CallRef>,
    ended: HashSet<CallRef>,
    answered: HashSet<CallRef>,
    deferred: Vec<(CallRef, IpAddr, Option<Offer>)>,
    pub transmits: usize,
}

impl Harness {
    pub fn new(owner: Owner) -> Harness {
        Harness {
            ep: Endpoint::new(EndpointConfig::default()),
            now: epoch(),
            owner,
            incoming: HashSet::new(),
            ended: HashSet::new(),
            answered: HashSet::new(),
            deferred: Vec::new(),
            transmits: 0,
        }
    }

    pub fn max_message(&self) -> usize {
        self.ep.config().max_message
    }

    /// Moves the fake clock to `epoch + at` (never backwards).
    pub fn set_time(&mut self, at: Duration) {
        let t = epoch() + at;
        if t > self.now {
            self.now = t;
        }
    }

    /// Whether the endpoint will parse this datagram (so its answers must parse too).
    pub fn datagram_parses(&self, bytes: &[u8]) -> bool {
        message::frame_datagram(bytes, self.max_message())
            .ok()
            .is_some_and(|m| message::parse(m).is_ok())
    }

    pub fn datagram(&mut self, addr: SocketAddr, bytes: &[u8]) {
        let strict = self.datagram_parses(bytes);
        if let Ok(m) = message::frame_datagram(bytes, self.max_message()) {
            check_addrs(m);
        }
        trace!(
            "--> datagram from {addr} (parses: {strict}): {}",
            esc(bytes)
        );
        self.ep.handle_datagram(self.now, addr, bytes);
        self.drain(strict);
    }

    pub fn message(&mut self, peer: Peer, bytes: &[u8]) {
        let strict = message::parse(bytes).is_ok();
        check_addrs(bytes);
        trace!(
            "--> message from {peer:?} (parses: {strict}): {}",
            esc(bytes)
        );
        self.ep.handle_message(self.now, peer, bytes);
        self.drain(strict);
    }

    pub fn bad_frame(&mut self, peer: Peer, bytes: &[u8], err: &message::MessageError) {
        trace!(
            "--> unframeable stream from {peer:?} ({err}): {}",
            esc(bytes)
        );
        self.ep.reject_malformed(peer, bytes, err);
        self.drain(false);
    }

    /// Answers the calls whose answer was deferred.
    pub fn answer_deferred(&mut self) {
        for (call, ip, offer) in std::mem::take(&mut self.deferred) {
            self.answer(call, ip, offer);
        }
        self.drain(true);
    }

    fn answer(&mut self, call: CallRef, ip: IpAddr, offer: Option<Offer>) {
        if self.ended.contains(&call) {
            return;
        }
        let media = LocalMedia {
            ip,
            port: 40_000,
            session_id: 0x1234_5678,
            version: 1,
        };
        trace!("=== answer {call:?}");
        self.ep.answer(self.now, call, media, offer);
        self.answered.insert(call);
    }

    /// Steps the clock through every timer deadline up to `epoch + until`, then to it.
    pub fn run_timers(&mut self, until: Duration) {
        let limit = epoch() + until;
        let mut steps = 0u32;
        while let Some(t) = self.ep.poll_timeout() {
            if t > limit {
                break;
            }
            steps += 1;
            assert!(
                steps < 10_000,
                "timer storm: poll_timeout keeps returning deadlines <= {limit:?}"
            );
            if t > self.now {
                self.now = t;
            }
            trace!("=== timeout at +{:?}", self.now - epoch());
            self.ep.handle_timeout(self.now);
            self.drain(true);
        }
        if limit > self.now {
            self.now = limit;
        }
        self.ep.handle_timeout(self.now);
        self.drain(true);
    }

    /// Hangs up every live call, lets every timer run out, and checks nothing is left.
    pub fn finish(&mut self) {
        for call in self.ep.live_calls() {
            trace!("=== hangup {call:?}");
            self.ep.hangup(self.now, call, EndCause::MaxDuration);
        }
        self.drain(true);
        let end = self.now - epoch() + Duration::from_secs(600);
        self.run_timers(end);
        assert!(
            self.ep.live_calls().is_empty(),
            "calls still live after hangup: {:?}",
            self.ep.live_calls()
        );
        assert_eq!(
            self.ep.pending_transactions(),
            0,
            "client transactions never terminated"
        );
        for call in &self.incoming {
            assert!(self.ended.contains(call), "{call:?} never got Ended");
        }
    }

    /// Drains transmits and events, acting on events as the runtime's owner would.
    pub fn drain(&mut self, strict: bool) {
        loop {
            let mut progressed = false;
            while let Some(t) = self.ep.poll_transmit() {
                progressed = true;
                self.transmits += 1;
                check_transmit(&t, strict);
            }
            while let Some(ev) = self.ep.poll_event() {
                progressed = true;
                self.on_event(ev);
            }
            if !progressed {
                break;
            }
        }
    }

    fn on_event(&mut self, ev: Event) {
        trace!("<== event {ev:?}");
        match ev {
            Event::Incoming { call, info } => {
                assert!(
                    self.incoming.insert(call),
                    "{call:?} reported Incoming twice"
                );
                assert!(!self.ended.contains(&call), "{call:?} Incoming after Ended");
                // As src/runtime/calls.rs: answer the caller's offer; with no SDP in the
                // INVITE our 200 makes the offer (and the ACK brings the answer).
                let offer = match info.offer {
                    Some(Ok(offer)) => Some(offer),
                    None => None,
                    Some(Err(_)) => {
                        self.ep.reject(self.now, call, 488, &[]);
                        return;
                    }
                };
                let ip = info
                    .local_host
                    .trim_matches(['[', ']'])
                    .parse()
                    .unwrap_or(IpAddr::from([127, 0, 0, 1]));
                self.ep.ring(self.now, call);
                match self.owner {
                    Owner::AnswerNow => self.answer(call, ip, offer),
                    Owner::AnswerLater => self.deferred.push((call, ip, offer)),
                    Owner::RingOnly => {}
                }
            }
            Event::Confirmed { call, .. }
            | Event::MediaChanged { call, .. }
            | Event::Info { call, .. } => {
                assert!(self.incoming.contains(&call), "event for unknown {call:?}");
                assert!(!self.ended.contains(&call), "event for ended {call:?}");
            }
            Event::Ended { call, .. } => {
                assert!(self.incoming.contains(&call), "Ended for unknown {call:?}");
                assert!(self.ended.insert(call), "{call:?} Ended twice");
            }
        }
    }
}

/// Fixed finding F1 (fuzz/README.md): a request that parses has a From, To and (unless
/// `*`) Contact whose URI, as the dialog takes it, works as a Request-URI: a request with
/// it in its start line parses. The dialog copies them into the BYE we send.
pub fn check_addrs(bytes: &[u8]) {
    let Ok(Message::Request(req)) = message::parse(bytes) else {
        return;
    };
    let contact = req.contact.as_deref().filter(|c| c.trim() != "*");
    let values = [
        ("From", Some(req.ess.from.as_str())),
        ("To", Some(req.ess.to.as_str())),
        ("Contact", contact),
    ];
    for (name, value) in values {
        if let Some(value) = value.filter(|v| !addr_ok(v)) {
            panic!(
                "request accepted with a {name} that is no Request-URI ({}): {}",
                esc(value.as_bytes()),
                esc(bytes)
            );
        }
    }
}

/// Whether the URI of a From/To/Contact value (the name-addr's or addr-spec's, as the
/// dialog takes it) works as a Request-URI, i.e. a request with it in its start line
/// parses.
pub fn addr_ok(value: &str) -> bool {
    let uri = hotline::core::sip::dialog::addr_uri(value);
    let probe = format!(
        "OPTIONS {uri} SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKp\r\nFrom: <sip:a@b>;tag=1\r\n\
         To: <sip:a@b>\r\nCall-ID: p\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    );
    message::parse(probe.as_bytes()).is_ok()
}

/// The checks on one message the endpoint sends. `strict` is false only for what answers
/// an input that did not parse: a salvaged response may then fail to parse, a request
/// never may.
pub fn check_transmit(t: &Transmit, strict: bool) {
    let bytes = &t.bytes;
    trace!("<-- transmit to {:?}: {}", t.peer, esc(bytes));
    // It must frame as exactly one whole message on its own transport.
    match t.peer.link {
        Link::Udp => match message::frame_datagram(bytes, usize::MAX) {
            Ok(m) => assert_eq!(
                m.len(),
                bytes.len(),
                "our datagram frames shorter than it is: {}",
                esc(bytes)
            ),
            Err(e) => panic!("our datagram does not frame ({e}): {}", esc(bytes)),
        },
        Link::Tcp(_) => match message::frame_stream(bytes, usize::MAX) {
            Ok(StreamFrame::Message { start: 0, len }) => assert_eq!(
                len,
                bytes.len(),
                "our stream message frames shorter than it is: {}",
                esc(bytes)
            ),
            other => panic!(
                "our stream message does not frame ({other:?}): {}",
                esc(bytes)
            ),
        },
    }
    match message::parse(bytes) {
        Ok(Message::Response(resp)) => {
            if (200..300).contains(&resp.status)
                && resp.cseq_method == Method::Invite
                && !resp.body.is_empty()
            {
                if let Err(e) = sdp::parse_offer(&resp.body) {
                    panic!("our 2xx SDP does not parse ({e}): {}", esc(bytes));
                }
            }
        }
        Ok(Message::Request(_)) => {}
        Err(e) if strict || !bytes.starts_with(b"SIP/") => {
            panic!("our own output does not parse ({e}): {}", esc(bytes))
        }
        Err(e) => trace!("    (salvaged answer does not parse: {e})"),
    }
}

pub fn udp_peer_addr(v6: bool) -> SocketAddr {
    if v6 {
        "[2001:db8::1]:5062".parse().unwrap()
    } else {
        "192.0.2.10:5062".parse().unwrap()
    }
}
