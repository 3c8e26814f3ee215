//! RFC 4475 torture messages, end to end: every message of the shared corpus is sent to a
//! real `hotline serve`, once as a single UDP datagram and once over TCP in random-sized
//! chunks, and the answer is compared with [`EXPECT`]. After each message a well-formed
//! OPTIONS must still get 200 (the server is alive and not wedged), and at the end every
//! server process must still be running.
//!
//! Two things shape the harness:
//! * Responses go to the source address and port of the request (RFC 3581 style), not to
//!   the Via sent-by, so each message is sent from its own fresh socket and read there.
//! * The corpus reuses transaction identifiers: the UDP and TCP copies of a file carry the
//!   same branch and sent-by, and so do cparam01/cparam02, escnull/regescrt and
//!   unkscm/novelsc. RFC 3261 17.2.3 matches server transactions on exactly (branch,
//!   sent-by, method), so a second request with those values within Timer J/H (32 s) is,
//!   correctly, a retransmission: the server repeats the first answer to the first
//!   request's source and the new socket hears nothing. To test each message on its own,
//!   the UDP and the TCP pass run against two separate servers (in parallel, which also
//!   keeps the run short), and a message whose (method, top Via) was already sent on a pass
//!   goes to a further server of that pass.
//!
//! Run: `cargo test --test torture` (add `-- --nocapture` for the per-file table).

mod common;

use common::Server;
use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------
// Expectations
// ---------------------------------------------------------------------------------------

/// What one transaction of a sent message came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// The final response had this status.
    Status(u16),
    /// An INVITE became a call: 1xx then 2xx. The harness ACKs the 2xx and sends a BYE,
    /// which must get 200 (checked separately).
    Call,
    /// Provisional responses only, no final one in time (never expected).
    NoFinal,
}

use Outcome::{Call, Status};

/// The transactions a message must lead to, in order; empty: nothing comes back at all.
type Seq = &'static [Outcome];
const NOTHING: Seq = &[];

/// What a TCP connection must look like after the message and its answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Conn {
    /// Still open: the server keeps the connection (and waits for more bytes if the
    /// message is unfinished).
    Open,
    /// Closed by the server: framing was lost (RFC 3261 18.3; RFC 4475 3.1.2.3, 3.3.9).
    Closed,
    /// Either, as long as the answers came.
    Any,
}

struct Expect {
    file: &'static str,
    /// Allowed results over UDP, each a sequence of transactions.
    udp: &'static [Seq],
    /// Over TCP, when different from UDP.
    tcp: Option<&'static [Seq]>,
    /// The TCP connection afterwards.
    conn: Conn,
}

const fn e(file: &'static str, udp: &'static [Seq]) -> Expect {
    Expect {
        file,
        udp,
        tcp: None,
        conn: Conn::Open,
    }
}

const fn e_tcp(file: &'static str, udp: &'static [Seq], tcp: &'static [Seq], conn: Conn) -> Expect {
    Expect {
        file,
        udp,
        tcp: Some(tcp),
        conn,
    }
}

/// Derived from the corpus' manifest.tsv for what hotline is: a UAS (an IVR), not a proxy
/// but a registrar for agents' phones that authenticates before anything else (RFC 3261
/// 10.3 steps 3-4), so every REGISTER without valid credentials gets 401 once the message
/// itself is valid.
/// The valid INVITEs carry acceptable SDP (PCMU offered), so they become calls.
#[rustfmt::skip]
const EXPECT: &[Expect] = &[
    // ---- valid/ -----------------------------------------------------------------------
    // 3.1.1.1: well-formed, but its To carries a tag: an INVITE inside a dialog we do not
    // have, so 481 (RFC 3261 12.2.2) is the processing-normally answer of a UAS.
    e("wsinv.dat",      &[&[Status(481)]]),
    // 3.1.1.2: an unknown extension method: 501 with Allow.
    e("intmeth.dat",    &[&[Status(501)]]),
    // 3.1.1.3: a valid INVITE with SDP.
    e("esc01.dat",      &[&[Call]]),
    // 3.1.1.4 / 3.3.12 / 3.3.13 / 3.3.14: valid REGISTERs; we are not a registrar.
    e("escnull.dat",    &[&[Status(401)]]),
    e("cparam01.dat",   &[&[Status(401)]]),
    e("cparam02.dat",   &[&[Status(401)]]),
    e("regescrt.dat",   &[&[Status(401)]]),
    // 3.1.1.5: RE%47IST%45R is not REGISTER: 501.
    e("esc02.dat",      &[&[Status(501)]]),
    // 3.1.1.6, 3.1.1.9, 3.1.1.10: valid OPTIONS.
    e("lwsdisp.dat",    &[&[Status(200)]]),
    e("semiuri.dat",    &[&[Status(200)]]),
    e("transports.dat", &[&[Status(200)]]),
    // 3.1.1.7: long values; a valid INVITE with SDP.
    e("longreq.dat",    &[&[Call]]),
    // 3.1.1.8: over UDP only the REGISTER counts, the INVITE octets after its
    // Content-Length: 0 are ignored (RFC 3261 18.3). Over TCP the same bytes are a stream
    // of two messages: the REGISTER, then an INVITE. That INVITE's SDP has a malformed line
    // ("m =video ..."), so 488 is as right as taking the call on its PCMU audio stream. Its
    // Content-Length (150) is 5 bytes short of its body, which leaves "C\r\n\r\n" in the
    // stream: dropping that or closing the connection are both fine, once the INVITE has
    // its final answer.
    e_tcp("dblreq.dat", &[&[Status(401)]], &[&[Status(401), Call], &[Status(401), Status(488)]], Conn::Any),
    // 3.1.1.11: MESSAGE is not a method we implement: 501 (framed by Content-Length: 553
    // although the binary body holds CR, LF and NUL bytes).
    e("mpart01.dat",    &[&[Status(501)]]),
    // 3.1.1.12, 3.1.1.13, 3.3.10: responses that match no transaction of ours: discarded.
    e("unreason.dat",   &[NOTHING]),
    e("noreason.dat",   &[NOTHING]),
    e("bcast.dat",      &[NOTHING]),
    // 3.2.1: branch is only the magic cookie: 400, or processed (it is an OPTIONS).
    e("badbranch.dat",  &[&[Status(200)], &[Status(400)]]),
    // 3.3.2, 3.3.3: Request-URI schemes we do not serve: 416 (404 allowed for novelsc).
    e("unkscm.dat",     &[&[Status(416)]]),
    e("novelsc.dat",    &[&[Status(416)], &[Status(404)]]),
    // 3.3.4: To/From/Contact not SIP URIs: a registrar says 400, or challenges first (401)
    // since it authenticates before it reads the Contact.
    e("unksm2.dat",     &[&[Status(400)], &[Status(401)]]),
    // 3.3.5: Require with unknown option tags: 420 (with Unsupported).
    e("bext01.dat",     &[&[Status(420)]]),
    // 3.3.6: INVITE with a body we cannot read: 415 (with Accept).
    e("invut.dat",      &[&[Status(415)]]),
    // 3.3.7: REGISTER with an unknown Authorization scheme: the registrar ignores
    // credentials it cannot use and challenges (401); the manifest suggests 405 for a
    // non-registrar.
    e("regaut01.dat",   &[&[Status(401)], &[Status(405)]]),
    // 3.3.11: Max-Forwards: 0 on an OPTIONS. A UAS processes it normally (the product's
    // 483-for-Max-Forwards-0 rule is for INVITE and excludes OPTIONS): 200.
    e("zeromf.dat",     &[&[Status(200)]]),
    // 3.3.15: INVITE whose Accept excludes application/sdp: 406 (or 400).
    e("sdp01.dat",      &[&[Status(406)], &[Status(400)]]),
    // 3.4.1: RFC 2543 INVITE (no branch, no From tag, no Max-Forwards, no Content-Length).
    // Over UDP the body runs to the end of the datagram: a call (or 400 without 2543
    // compatibility).
    // Over TCP there is no end of datagram: RFC 3261 18.3 and 20.14 make Content-Length
    // mandatory on stream transports, because without it the receiver cannot tell where
    // the message ends. Reading the missing length as 0 would answer an INVITE whose SDP
    // offer was never seen, and would then treat the 105 bytes of SDP as the start of the
    // next message, so the caller's ACK and BYE on that connection would be swallowed
    // into an unparseable "v=0 ..." message. The right answer is the one for any
    // unframeable stream (ncl, mcl01): 400, then close the connection.
    e_tcp("inv2543.dat", &[&[Call], &[Status(400)]], &[&[Status(400)]], Conn::Closed),

    // ---- invalid/ ---------------------------------------------------------------------
    // 3.1.2.1: Via ";;,;,,", Contact ";;;;": 400.
    e("badinv01.dat",   &[&[Status(400)]]),
    // 3.1.2.2: Content-Length 9999, body 154. UDP: 400. TCP: the rest may still come, so
    // the server waits (its partial-message timeout is 32 s; we close first).
    e_tcp("clerr.dat",  &[&[Status(400)]], &[NOTHING], Conn::Open),
    // 3.1.2.3: Content-Length: -999: 400; over TCP framing is lost: 400 and close.
    e_tcp("ncl.dat",    &[&[Status(400)]], &[&[Status(400)]], Conn::Closed),
    // 3.1.2.4: CSeq beyond 2^32-1: 400.
    e("scalar02.dat",   &[&[Status(400)]]),
    // 3.1.2.5, 3.1.2.19: malformed responses: dropped silently.
    e("scalarlg.dat",   &[NOTHING]),
    e("bigcode.dat",    &[NOTHING]),
    // 3.1.2.6 .. 3.1.2.8: unterminated quote, <> around the Request-URI, LWS in it: 400.
    e("quotbal.dat",    &[&[Status(400)]]),
    e("ltgtruri.dat",   &[&[Status(400)]]),
    e("lwsruri.dat",    &[&[Status(400)]]),
    // 3.1.2.9, 3.1.2.10: extra SPs in the request line: 400, or tolerated.
    e("lwsstart.dat",   &[&[Status(400)], &[Call]]),
    e("trws.dat",       &[&[Status(400)], &[Status(200)]]),
    // 3.1.2.11: escaped headers in the Request-URI: 400, or tolerated (a call) as long as
    // they never become real headers.
    e("escruri.dat",    &[&[Status(400)], &[Call]]),
    // 3.1.2.12: a bad Date value: the Date does not matter to us, so a call (400 allowed).
    e("baddate.dat",    &[&[Call], &[Status(400)]]),
    // 3.1.2.13: Contact with an escaped header not in <>: 400 is reasonable; a liberal
    // element may infer the brackets, and the registrar challenges (401) before it looks
    // at the Contact.
    e("regbadct.dat",   &[&[Status(400)], &[Status(401)]]),
    // 3.1.2.14: spaces within the addr-spec: 400 is reasonable; must not break.
    e("badaspec.dat",   &[&[Status(400)], &[Status(200)]]),
    // 3.1.2.15: non-token display names; the file also lacks the blank line that ends the
    // headers. UDP: the datagram is all there is: 400. TCP: the header section is not
    // finished, so the server waits for more (bounded by its 32 s partial timeout).
    e_tcp("baddn.dat",  &[&[Status(400)]], &[NOTHING], Conn::Open),
    // 3.1.2.16: SIP/7.0: 505.
    e("badvers.dat",    &[&[Status(505)]]),
    // 3.1.2.17: CSeq method differs from the request method: 400.
    e("mismatch01.dat", &[&[Status(400)]]),
    // 3.1.2.18: unknown method and a CSeq mismatch: 501 (400 also acceptable).
    e("mismatch02.dat", &[&[Status(501)], &[Status(400)]]),
    // 3.3.1: no To, From or Call-ID: ideally 400; a response cannot copy headers that are
    // not there, so dropping it is acceptable. Must not break.
    e("insuf.dat",      &[&[Status(400)], NOTHING]),
    // 3.3.8: several To/From/Call-ID/CSeq values: 400.
    e("multi01.dat",    &[&[Status(400)]]),
    // 3.3.9: two Content-Length values: 400; over TCP framing is lost: 400 and close.
    e_tcp("mcl01.dat",  &[&[Status(400)]], &[&[Status(400)]], Conn::Closed),

    // ---- extra/ -------------------------------------------------------------------------
    // No SIP-Version in the request line, a header line without a colon, no Via: 400 or
    // dropped, without crashing.
    e("test.dat",       &[&[Status(400)], NOTHING]),
];

// ---------------------------------------------------------------------------------------
// The server under test
// ---------------------------------------------------------------------------------------

/// A server for one pass: debug logs, answering at once, stopping at once.
fn start_server() -> Server {
    let level = std::env::var("RUST_LOG").unwrap_or_else(|_| "debug,sqlx=warn".into());
    Server::start_logging(&["--ring-delay-ms", "0", "--drain-secs", "0"], &level)
}

/// Unique tags, branches and Call-IDs for the harness's own requests.
fn unique() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{:x}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

fn addr(server: &Server) -> SocketAddr {
    server.addr().parse().expect("server address")
}

fn log_tail(server: &Server, lines: usize) -> String {
    let log = server.log();
    let all: Vec<&str> = log.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

// ---------------------------------------------------------------------------------------
// Reading responses
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Resp {
    status: u16,
    first_line: String,
    /// (name, value) as the server wrote them: full names, one line each.
    headers: Vec<(String, String)>,
}

impl Resp {
    fn parse(bytes: &[u8]) -> Option<Resp> {
        let end = find(bytes, b"\r\n\r\n").unwrap_or(bytes.len());
        let head = String::from_utf8_lossy(&bytes[..end]);
        let mut lines = head.split("\r\n");
        let first_line = lines.next()?.to_string();
        let status = first_line
            .strip_prefix("SIP/2.0 ")?
            .get(..3)?
            .parse()
            .ok()?;
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
            .collect();
        Some(Resp {
            status,
            first_line,
            headers,
        })
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// (number, method) of CSeq.
    fn cseq(&self) -> (u64, String) {
        let v = self.header("CSeq").unwrap_or("");
        let mut it = v.split_whitespace();
        let n = it.next().and_then(|n| n.parse().ok()).unwrap_or(0);
        (n, it.next().unwrap_or("").to_string())
    }

    /// Which transaction this answers.
    fn tx_key(&self) -> (String, u64, String) {
        let (n, m) = self.cseq();
        (self.header("Call-ID").unwrap_or("").to_string(), n, m)
    }

    fn is_invite(&self) -> bool {
        self.cseq().1 == "INVITE"
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// One way to talk to the server: a UDP socket or a TCP connection.
enum Link {
    Udp {
        sock: UdpSocket,
        server: SocketAddr,
    },
    Tcp {
        stream: TcpStream,
        buf: Vec<u8>,
        /// The server closed (or reset) the connection: reading gave EOF or an error.
        closed: bool,
        /// Writing failed (the server stopped reading); what it sent may still be read.
        broken: bool,
    },
}

impl Link {
    fn udp(server: SocketAddr) -> Link {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("binding a UDP socket");
        Link::Udp { sock, server }
    }

    fn tcp(server: SocketAddr) -> Link {
        let stream = TcpStream::connect_timeout(&server, Duration::from_secs(2))
            .expect("connecting over TCP");
        let _ = stream.set_nodelay(true);
        Link::Tcp {
            stream,
            buf: Vec::new(),
            closed: false,
            broken: false,
        }
    }

    fn local(&self) -> SocketAddr {
        match self {
            Link::Udp { sock, .. } => sock.local_addr().expect("local addr"),
            Link::Tcp { stream, .. } => stream.local_addr().expect("local addr"),
        }
    }

    fn transport(&self) -> &'static str {
        match self {
            Link::Udp { .. } => "UDP",
            Link::Tcp { .. } => "TCP",
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        match self {
            Link::Udp { sock, server } => {
                sock.send_to(bytes, *server).expect("sending a datagram");
            }
            Link::Tcp { stream, broken, .. } => {
                if stream.write_all(bytes).is_err() {
                    *broken = true;
                }
            }
        }
    }

    /// The next response, or `None` once `until` passes (or the connection closed).
    fn recv(&mut self, until: Instant) -> Option<Resp> {
        let mut chunk = vec![0u8; 65_536];
        loop {
            let left = until.checked_duration_since(Instant::now())?;
            let left = left.max(Duration::from_millis(1));
            match self {
                Link::Udp { sock, .. } => {
                    sock.set_read_timeout(Some(left)).ok()?;
                    match sock.recv_from(&mut chunk) {
                        Ok((n, _)) => {
                            if let Some(r) = Resp::parse(&chunk[..n]) {
                                return Some(r);
                            }
                        }
                        Err(e)
                            if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
                        {
                            return None
                        }
                        // ICMP port unreachable and the like: keep listening.
                        Err(_) => std::thread::sleep(Duration::from_millis(1)),
                    }
                }
                Link::Tcp {
                    stream,
                    buf,
                    closed,
                    ..
                } => {
                    if let Some(r) = take_stream_response(buf) {
                        return Some(r);
                    }
                    if *closed {
                        return None;
                    }
                    stream.set_read_timeout(Some(left)).ok()?;
                    match stream.read(&mut chunk) {
                        Ok(0) => *closed = true,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        Err(e)
                            if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
                        {
                            return None
                        }
                        Err(_) => *closed = true,
                    }
                }
            }
        }
    }

    fn closed(&self) -> bool {
        matches!(self, Link::Tcp { closed: true, .. })
    }

    fn broken(&self) -> bool {
        matches!(
            self,
            Link::Tcp { broken: true, .. } | Link::Tcp { closed: true, .. }
        )
    }
}

/// Frames one response off a TCP buffer by its Content-Length.
fn take_stream_response(buf: &mut Vec<u8>) -> Option<Resp> {
    let end = find(buf, b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&buf[..end]).to_string();
    let len = head
        .split("\r\n")
        .filter_map(|l| l.split_once(':'))
        .find(|(n, _)| n.trim().eq_ignore_ascii_case("Content-Length") || n.trim() == "l")
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let total = end + 4 + len;
    if buf.len() < total {
        return None;
    }
    let msg: Vec<u8> = buf.drain(..total).collect();
    Resp::parse(&msg)
}

// ---------------------------------------------------------------------------------------
// Requests the harness makes itself
// ---------------------------------------------------------------------------------------

fn via(link: &Link) -> String {
    format!(
        "SIP/2.0/{} {};branch=z9hG4bK-torture-{};rport",
        link.transport(),
        link.local(),
        unique()
    )
}

fn options(link: &Link) -> Vec<u8> {
    let id = unique();
    format!(
        "OPTIONS sip:alive@127.0.0.1 SIP/2.0\r\n\
         Via: {}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:torture@127.0.0.1>;tag=t{id}\r\n\
         To: <sip:alive@127.0.0.1>\r\n\
         Call-ID: alive-{id}\r\n\
         CSeq: 1 OPTIONS\r\n\
         Content-Length: 0\r\n\r\n",
        via(link)
    )
    .into_bytes()
}

/// A well-formed OPTIONS on a fresh socket or connection must get 200 within 2 s.
fn alive(server: SocketAddr, tcp: bool) -> Result<(), String> {
    let mut link = if tcp {
        Link::tcp(server)
    } else {
        Link::udp(server)
    };
    link.send(&options(&link));
    let until = Instant::now() + Duration::from_secs(2);
    while let Some(r) = link.recv(until) {
        if r.cseq().1 == "OPTIONS" && r.status >= 200 {
            return if r.status == 200 {
                Ok(())
            } else {
                Err(format!("liveness OPTIONS got {}", r.first_line))
            };
        }
    }
    Err(format!(
        "liveness OPTIONS over {} got no answer within 2 s",
        link.transport()
    ))
}

/// A request inside the dialog a 2xx set up (ACK or BYE); Via and Request-URI are ours.
fn in_dialog(link: &Link, ok: &Resp, method: &str, cseq: u64) -> Vec<u8> {
    let contact = ok.header("Contact").unwrap_or("<sip:hotline@127.0.0.1>");
    let target = contact
        .trim()
        .trim_start_matches('<')
        .split('>')
        .next()
        .unwrap_or("sip:hotline@127.0.0.1")
        .to_string();
    format!(
        "{method} {target} SIP/2.0\r\n\
         Via: {}\r\n\
         Max-Forwards: 70\r\n\
         From: {}\r\n\
         To: {}\r\n\
         Call-ID: {}\r\n\
         CSeq: {cseq} {method}\r\n\
         Content-Length: 0\r\n\r\n",
        via(link),
        ok.header("From").unwrap_or(""),
        ok.header("To").unwrap_or(""),
        ok.header("Call-ID").unwrap_or(""),
    )
    .into_bytes()
}

/// The ACK of a non-2xx final answer to an INVITE (RFC 3261 17.1.1.3): same top Via as
/// the INVITE (the server's `received`/`rport=` additions removed), the answer's To.
fn ack_non_2xx(uri: &str, resp: &Resp) -> Vec<u8> {
    let top = resp.header("Via").unwrap_or("");
    let top: Vec<String> = top
        .split(';')
        .filter(|p| !p.trim().to_ascii_lowercase().starts_with("received="))
        .map(|p| {
            if p.trim().to_ascii_lowercase().starts_with("rport=") {
                "rport".to_string()
            } else {
                p.to_string()
            }
        })
        .collect();
    format!(
        "ACK {uri} SIP/2.0\r\n\
         Via: {}\r\n\
         Max-Forwards: 70\r\n\
         From: {}\r\n\
         To: {}\r\n\
         Call-ID: {}\r\n\
         CSeq: {} ACK\r\n\
         Content-Length: 0\r\n\r\n",
        top.join(";"),
        resp.header("From").unwrap_or(""),
        resp.header("To").unwrap_or(""),
        resp.header("Call-ID").unwrap_or(""),
        resp.cseq().0,
    )
    .into_bytes()
}

/// ACKs a 2xx and ends the call with a BYE, which must get 200. Over TCP both go on a
/// fresh connection, so a connection left in a bad framing state cannot swallow them.
fn end_call(link: &mut Link, server: SocketAddr, ok: &Resp) -> Result<(), String> {
    let mut fresh;
    let link: &mut Link = match link {
        Link::Tcp { .. } => {
            fresh = Link::tcp(server);
            &mut fresh
        }
        udp => udp,
    };
    let n = ok.cseq().0;
    let ack = in_dialog(link, ok, "ACK", n);
    link.send(&ack);
    let bye = in_dialog(link, ok, "BYE", n + 1);
    link.send(&bye);
    let until = Instant::now() + Duration::from_secs(2);
    while let Some(r) = link.recv(until) {
        if r.cseq().1 == "BYE" && r.status >= 200 {
            return if r.status == 200 {
                Ok(())
            } else {
                Err(format!("BYE ending the call got {}", r.first_line))
            };
        }
    }
    Err("BYE ending the call got no answer within 2 s".into())
}

// ---------------------------------------------------------------------------------------
// One message, one transport
// ---------------------------------------------------------------------------------------

struct Observed {
    outcomes: Vec<Outcome>,
    /// Status lines as received, for the report.
    lines: Vec<String>,
    closed: bool,
    /// Problems beyond the outcome (a call that could not be ended, ...).
    problems: Vec<String>,
}

/// How long to listen for answers.
#[derive(Clone, Copy)]
struct Listen {
    /// At least this long, to catch every answer (and answers that should not come).
    window: Duration,
    /// Some answer is expected: while none has come, keep listening up to 2 s, so a server
    /// slowed down by a busy machine is not mistaken for a silent one.
    patient: bool,
}

/// Collects answers for the window, longer (up to 3 s) while an INVITE has a provisional
/// answer but no final one, then turns them into one outcome per transaction.
fn collect(link: &mut Link, server: SocketAddr, listen: Listen, uri: &str) -> Observed {
    let start = Instant::now();
    let mut order: Vec<(String, u64, String)> = Vec::new();
    let mut finals: HashMap<(String, u64, String), Resp> = HashMap::new();
    let mut lines = Vec::new();
    loop {
        let pending_invite = order
            .iter()
            .any(|k| k.2 == "INVITE" && !finals.contains_key(k));
        let until = if pending_invite {
            start + Duration::from_secs(3)
        } else if order.is_empty() && listen.patient {
            start + Duration::from_secs(2)
        } else {
            start + listen.window
        };
        let Some(r) = link.recv(until) else {
            break;
        };
        let key = r.tx_key();
        if !order.contains(&key) {
            order.push(key.clone());
        }
        if lines.last() != Some(&r.first_line) || r.status < 200 {
            lines.push(r.first_line.clone());
        }
        if r.status >= 200 {
            finals.entry(key).or_insert(r);
        }
    }
    let mut obs = Observed {
        outcomes: Vec::new(),
        lines,
        closed: false,
        problems: Vec::new(),
    };
    for key in &order {
        match finals.get(key) {
            None => obs.outcomes.push(Outcome::NoFinal),
            Some(r) if r.is_invite() && (200..300).contains(&r.status) => {
                obs.outcomes.push(Call);
                if r.header("Contact").is_none() || !r.header("To").unwrap_or("").contains("tag=") {
                    obs.problems
                        .push(format!("2xx to INVITE lacks Contact or To tag: {r:?}"));
                }
                if let Err(p) = end_call(link, server, r) {
                    obs.problems.push(p);
                }
            }
            Some(r) => {
                obs.outcomes.push(Status(r.status));
                if r.is_invite() {
                    let ack = ack_non_2xx(uri, r);
                    link.send(&ack);
                }
            }
        }
    }
    obs.closed = link.closed();
    obs
}

/// A tiny deterministic PRNG (splitmix64), seeded from the file name.
struct Rng(u64);

impl Rng {
    fn new(seed: &str) -> Rng {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in seed.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        Rng(h)
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn send_udp(server: SocketAddr, bytes: &[u8], uri: &str, patient: bool) -> Observed {
    let mut link = Link::udp(server);
    link.send(bytes);
    let window = Duration::from_millis(300);
    collect(&mut link, server, Listen { window, patient }, uri)
}

/// Writes the message over a new connection in random-sized chunks (1..=96 bytes, with
/// some single bytes) with small pauses, so the server sees it arrive piecemeal.
/// With `want_close`, waits up to 2 s for the server to close the connection.
fn send_tcp(
    server: SocketAddr,
    bytes: &[u8],
    uri: &str,
    seed: &str,
    patient: bool,
    want_close: bool,
) -> Observed {
    let mut link = Link::tcp(server);
    let mut rng = Rng::new(seed);
    let mut at = 0;
    while at < bytes.len() && !link.broken() {
        let size = if rng.below(4) == 0 {
            1
        } else {
            1 + rng.below(96) as usize
        };
        let end = (at + size).min(bytes.len());
        link.send(&bytes[at..end]);
        at = end;
        std::thread::sleep(Duration::from_micros(300 + rng.below(1200)));
    }
    let window = Duration::from_millis(500);
    let mut obs = collect(&mut link, server, Listen { window, patient }, uri);
    if want_close && !obs.closed {
        let until = Instant::now() + Duration::from_secs(2);
        while let Some(r) = link.recv(until) {
            obs.lines.push(format!("(late) {}", r.first_line));
        }
        obs.closed = link.closed();
    }
    // Done: close our side (the server would wait 32 s for the rest of clerr/baddn).
    if let Link::Tcp { stream, .. } = &link {
        let _ = stream.shutdown(Shutdown::Both);
    }
    obs
}

// ---------------------------------------------------------------------------------------
// The test
// ---------------------------------------------------------------------------------------

struct Case {
    name: String,
    bytes: Vec<u8>,
    /// The Request-URI (second token of the start line), for ACKs of non-2xx answers.
    uri: String,
    /// Messages with the same key share a server transaction identity (method + top Via).
    key: Option<String>,
}

/// The request method and top Via of a message, whitespace removed and lowercased: equal
/// keys mean RFC 3261 17.2.3 takes the second message for a retransmission of the first.
fn tx_identity(bytes: &[u8]) -> Option<String> {
    let end = find(bytes, b"\r\n\r\n").unwrap_or(bytes.len());
    let head = String::from_utf8_lossy(&bytes[..end]);
    let mut lines = head.split("\r\n");
    let start = lines.next()?;
    if start.starts_with("SIP/") {
        return None;
    }
    let method = start.split(' ').next()?.to_string();
    let method = if method == "ACK" {
        "INVITE".into()
    } else {
        method
    };
    let mut unfolded: Vec<String> = Vec::new();
    for l in lines {
        if l.starts_with([' ', '\t']) {
            if let Some(last) = unfolded.last_mut() {
                last.push_str(l);
            }
        } else {
            unfolded.push(l.to_string());
        }
    }
    let via = unfolded.iter().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        let n = n.trim().to_ascii_lowercase();
        (n == "via" || n == "v").then(|| v.split(',').next().unwrap_or("").to_string())
    })?;
    let via: String = via
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    Some(format!("{method} {via}"))
}

fn load_corpus(root: &Path) -> Vec<Case> {
    let mut cases = Vec::new();
    for sub in ["valid", "invalid", "extra"] {
        let dir = root.join(sub);
        let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
            .filter_map(|d| d.ok().map(|d| d.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "dat"))
            .collect();
        names.sort();
        for path in names {
            let bytes = std::fs::read(&path).expect("reading a corpus file");
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            let start_end = bytes
                .iter()
                .position(|b| *b == b'\r')
                .unwrap_or(bytes.len());
            let start = String::from_utf8_lossy(&bytes[..start_end]).to_string();
            let uri = start
                .split(' ')
                .filter(|s| !s.is_empty())
                .nth(1)
                .unwrap_or("sip:x@127.0.0.1")
                .to_string();
            cases.push(Case {
                key: tx_identity(&bytes),
                name,
                bytes,
                uri,
            });
        }
    }
    cases
}

/// The result of one pass (all files over one transport).
#[derive(Default)]
struct PassReport {
    failures: Vec<String>,
    table: Vec<String>,
}

fn run_pass(cases: &[Case], tcp: bool) -> PassReport {
    let transport = if tcp { "tcp" } else { "udp" };
    let mut servers: Vec<Server> = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut report = PassReport::default();
    for case in cases {
        let Some(expect) = EXPECT.iter().find(|e| e.file == case.name) else {
            report
                .failures
                .push(format!("{}: no entry in EXPECT", case.name));
            continue;
        };
        // A message whose transaction identity was already used on this pass goes to a
        // server that has not seen it (see the module comment).
        let shard = match &case.key {
            Some(k) => {
                let n = seen.entry(k.clone()).or_insert(0);
                *n += 1;
                *n - 1
            }
            None => 0,
        };
        while servers.len() <= shard {
            servers.push(start_server());
        }
        let server = &mut servers[shard];
        let addr = addr(server);
        let allowed = if tcp {
            expect.tcp.unwrap_or(expect.udp)
        } else {
            expect.udp
        };
        let patient = allowed.iter().all(|seq| !seq.is_empty());
        let obs = if tcp {
            let want_close = expect.conn == Conn::Closed;
            send_tcp(
                addr,
                &case.bytes,
                &case.uri,
                &case.name,
                patient,
                want_close,
            )
        } else {
            send_udp(addr, &case.bytes, &case.uri, patient)
        };
        let mut wrong: Vec<String> = Vec::new();
        if !allowed.contains(&obs.outcomes.as_slice()) {
            wrong.push(format!(
                "got {:?}, expected one of {:?}",
                obs.outcomes, allowed
            ));
        }
        if tcp && expect.conn != Conn::Any {
            let want_closed = expect.conn == Conn::Closed;
            if obs.closed != want_closed {
                wrong.push(format!(
                    "connection {} by the server, expected {}",
                    if obs.closed { "closed" } else { "left open" },
                    if want_closed { "closed" } else { "open" }
                ));
            }
        }
        wrong.extend(obs.problems.iter().cloned());
        let alive_result = alive(addr, tcp);
        let running = server.is_running();
        report.table.push(format!(
            "{transport} {:<15} {:<32} {}{}",
            case.name,
            format!("{:?}", obs.outcomes),
            obs.lines.join(" | "),
            if tcp && obs.closed { " [closed]" } else { "" }
        ));
        if !wrong.is_empty() {
            report.failures.push(format!(
                "{transport} {}: {} (responses: {})",
                case.name,
                wrong.join("; "),
                obs.lines.join(" | ")
            ));
        }
        if let Err(e) = alive_result {
            report
                .failures
                .push(format!("{transport} {}: after it, {e}", case.name));
        }
        if !running {
            report.failures.push(format!(
                "{transport} {}: the server exited; log tail:\n{}",
                case.name,
                log_tail(server, 40)
            ));
            break;
        }
    }
    for (i, s) in servers.iter_mut().enumerate() {
        if !s.is_running() {
            report
                .failures
                .push(format!("{transport} server #{i} is not running at the end"));
        }
        if !report.failures.is_empty() {
            eprintln!(
                "---- log tail of {transport} server #{i} ----\n{}",
                log_tail(s, 30)
            );
        }
    }
    report
}

#[test]
fn rfc4475_torture_messages() {
    let started = Instant::now();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpora/rfc4475");
    if !root.is_dir() {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true");
        assert!(!ci, "corpus not found at {} and CI=true", root.display());
        println!("skipping: corpus not found");
        return;
    }
    let mut cases = load_corpus(&root);
    assert!(!cases.is_empty(), "no .dat files under {}", root.display());
    for e in EXPECT {
        assert!(
            cases.iter().any(|c| c.name == e.file),
            "EXPECT lists {}, which is not in the corpus",
            e.file
        );
    }

    // TORTURE_ONLY=esc01.dat,ncl.dat runs just those files (for debugging).
    if let Ok(only) = std::env::var("TORTURE_ONLY") {
        cases.retain(|c| only.split(',').any(|o| o.trim() == c.name));
    }

    let (udp, tcp) = std::thread::scope(|s| {
        let udp = s.spawn(|| run_pass(&cases, false));
        let tcp = s.spawn(|| run_pass(&cases, true));
        (udp.join(), tcp.join())
    });
    let udp = udp.unwrap_or_else(|p| std::panic::resume_unwind(p));
    let tcp = tcp.unwrap_or_else(|p| std::panic::resume_unwind(p));

    for line in udp.table.iter().chain(&tcp.table) {
        println!("{line}");
    }
    println!(
        "{} files, udp and tcp, in {:.1} s",
        cases.len(),
        started.elapsed().as_secs_f64()
    );
    let failures: Vec<&String> = udp.failures.iter().chain(&tcp.failures).collect();
    assert!(
        failures.is_empty(),
        "{} problem(s):\n{}",
        failures.len(),
        failures
            .iter()
            .map(|f| f.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
}
