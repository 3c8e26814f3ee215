//! Calls the endpoint places (legs to agents' phones), REGISTER handed to the owner, and
//! REFER, on a fake clock with no sockets.

use hotline::core::sdp::LocalMedia;
use hotline::core::sip::auth::{self, ha1, parse_authorization, verify, Algorithm};
use hotline::core::sip::endpoint::{
    CallRef, Dial, DialAuth, EndCause, EndedBy, Endpoint, EndpointConfig, Event, Link, Peer,
    OUTBOUND_CONN_BASE,
};
use hotline::core::sip::message::{parse, Message};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const ANSWER: &str = "v=0\r\no=- 7 7 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 18000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n";

struct Phone {
    ep: Endpoint,
    now: Instant,
    addr: SocketAddr,
}

impl Phone {
    fn new() -> Self {
        Phone {
            ep: Endpoint::new(EndpointConfig::default()),
            now: Instant::now(),
            addr: "127.0.0.1:5080".parse().unwrap(),
        }
    }

    fn dial(&mut self) -> CallRef {
        self.dial_with(None)
    }

    /// A call through a trunk that wants these credentials.
    fn dial_with(&mut self, auth: Option<DialAuth>) -> CallRef {
        let peer = Peer {
            link: Link::Udp,
            addr: self.addr,
        };
        self.dial_on(peer, auth)
    }

    fn dial_on(&mut self, peer: Peer, auth: Option<DialAuth>) -> CallRef {
        self.ep.dial(
            self.now,
            Dial {
                peer,
                uri: "sip:1024@127.0.0.1:5080".into(),
                local_host: "127.0.0.1".into(),
                from_user: "13800138000".into(),
                from_display: Some("Customer".into()),
                headers: vec![("X-Hotline-Queue".into(), "billing".into())],
                media: LocalMedia {
                    ip: "127.0.0.1".parse().unwrap(),
                    port: 20000,
                    session_id: 1,
                    version: 1,
                },
                auth,
            },
        )
    }

    /// What the endpoint sent, as text.
    fn sent(&mut self) -> Vec<String> {
        std::iter::from_fn(|| self.ep.poll_transmit())
            .map(|t| {
                assert_eq!(t.peer.addr, self.addr);
                String::from_utf8(t.bytes).unwrap()
            })
            .collect()
    }

    fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.ep.poll_event()).collect()
    }

    fn recv(&mut self, bytes: &str) {
        self.ep
            .handle_datagram(self.now, self.addr, bytes.as_bytes());
    }

    fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        while let Some(t) = self.ep.poll_timeout().filter(|t| *t <= end) {
            self.now = t.max(self.now);
            self.ep.handle_timeout(self.now);
        }
        self.now = end;
    }
}

fn header<'a>(msg: &'a str, name: &str) -> &'a str {
    msg.lines()
        .find_map(|l| {
            l.split_once(':')
                .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.trim())
        })
        .unwrap_or_else(|| panic!("no {name} in\n{msg}"))
}

/// The phone's response to `req`, copying Via, From, Call-ID and CSeq.
fn reply(req: &str, status: u16, to_tag: Option<&str>, body: &str) -> String {
    let to = match to_tag {
        Some(t) => format!("{};tag={t}", header(req, "To")),
        None => header(req, "To").to_string(),
    };
    let ctype = if body.is_empty() {
        ""
    } else {
        "Content-Type: application/sdp\r\n"
    };
    format!(
        "SIP/2.0 {status} Whatever\r\nVia: {}\r\nFrom: {}\r\nTo: {to}\r\nCall-ID: {}\r\nCSeq: {}\r\nContact: <sip:1024@127.0.0.1:5080>\r\n{ctype}Content-Length: {}\r\n\r\n{body}",
        header(req, "Via"),
        header(req, "From"),
        header(req, "Call-ID"),
        header(req, "CSeq"),
        body.len()
    )
}

/// A request from the phone inside the dialog of `invite` (answered with tag `ph`).
fn in_dialog(invite: &str, method: &str, cseq: u32, extra: &str) -> String {
    format!(
        "{method} sip:hotline@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bKph{cseq}\r\nMax-Forwards: 70\r\nFrom: {};tag=ph\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {cseq} {method}\r\n{extra}Content-Length: 0\r\n\r\n",
        header(invite, "To"),
        header(invite, "From"),
        header(invite, "Call-ID"),
    )
}

fn method(msg: &str) -> &str {
    msg.split(' ').next().unwrap()
}

#[test]
fn a_placed_call_rings_is_answered_acknowledged_and_hung_up_by_the_phone() {
    let mut p = Phone::new();
    let call = p.dial();
    let sent = p.sent();
    assert_eq!(sent.len(), 1);
    let invite = sent[0].clone();
    assert!(invite.starts_with("INVITE sip:1024@127.0.0.1:5080 SIP/2.0\r\n"));
    assert!(header(&invite, "From").contains("sip:13800138000@127.0.0.1"));
    assert_eq!(header(&invite, "X-Hotline-Queue"), "billing");
    assert!(invite.contains("m=audio 20000 RTP/AVP"));
    assert!(matches!(parse(invite.as_bytes()), Ok(Message::Request(_))));

    // Over UDP the INVITE is repeated until a response comes (Timer A).
    p.advance(Duration::from_millis(600));
    assert_eq!(p.sent().len(), 1, "retransmitted after T1");

    p.recv(&reply(&invite, 180, Some("ph"), ""));
    assert!(
        matches!(p.events().as_slice(), [Event::Progress { call: c, status: 180 }] if *c == call)
    );
    p.advance(Duration::from_secs(5));
    assert!(p.sent().is_empty(), "no retransmission once ringing");

    p.recv(&reply(&invite, 200, Some("ph"), ANSWER));
    let sent = p.sent();
    assert_eq!(sent.len(), 1);
    let ack = &sent[0];
    assert!(ack.starts_with("ACK sip:1024@127.0.0.1:5080 SIP/2.0"));
    assert_eq!(header(ack, "CSeq"), "1 ACK");
    assert!(header(ack, "To").ends_with(";tag=ph"));
    match p.events().as_slice() {
        [Event::Answered {
            call: c,
            answer: Some(a),
        }] => {
            assert_eq!(*c, call);
            assert_eq!(a.remote, Some("127.0.0.1:18000".parse().unwrap()));
        }
        other => panic!("{other:?}"),
    }

    // A repeated 2xx (our ACK was lost) gets the same ACK again.
    p.recv(&reply(&invite, 200, Some("ph"), ANSWER));
    assert_eq!(p.sent(), vec![ack.clone()]);

    // The agent hangs up.
    p.recv(&in_dialog(&invite, "BYE", 1, ""));
    let sent = p.sent();
    assert!(sent[0].starts_with("SIP/2.0 200 OK"), "{}", sent[0]);
    assert!(matches!(
        p.events().as_slice(),
        [Event::Ended { call: c, by: EndedBy::Remote, cause: EndCause::CallerBye, .. }] if *c == call
    ));
    assert!(p.ep.live_calls().is_empty());
}

#[test]
fn hotline_hangs_up_an_answered_leg_with_bye_in_its_dialog() {
    let mut p = Phone::new();
    let call = p.dial();
    let invite = p.sent().remove(0);
    p.recv(&reply(&invite, 200, Some("ph"), ANSWER));
    p.sent();
    p.events();
    p.ep.hangup(p.now, call, EndCause::CallerBye);
    let bye = p.sent().remove(0);
    assert_eq!(method(&bye), "BYE");
    assert_eq!(header(&bye, "CSeq"), "2 BYE");
    assert!(header(&bye, "To").ends_with(";tag=ph"));
    assert!(matches!(p.events().as_slice(), [Event::Ended { .. }]));
}

#[test]
fn a_ringing_leg_is_cancelled_and_the_487_acknowledged() {
    let mut p = Phone::new();
    let call = p.dial();
    let invite = p.sent().remove(0);
    p.recv(&reply(&invite, 180, Some("ph"), ""));
    p.events();
    p.ep.hangup(p.now, call, EndCause::Cancelled);
    assert!(matches!(
        p.events().as_slice(),
        [Event::Ended {
            cause: EndCause::Cancelled,
            by: EndedBy::Hotline,
            ..
        }]
    ));
    let cancel = p.sent().remove(0);
    assert_eq!(method(&cancel), "CANCEL");
    assert_eq!(
        header(&cancel, "Via"),
        header(&invite, "Via"),
        "same branch"
    );
    assert_eq!(header(&cancel, "CSeq"), "1 CANCEL");
    assert!(!header(&cancel, "To").contains("tag="));
    p.recv(&reply(&cancel, 200, Some("ph"), ""));
    p.recv(&reply(&invite, 487, Some("ph"), ""));
    let sent = p.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(method(&sent[0]), "ACK");
    assert!(p.events().is_empty(), "the owner was told once");
    assert!(p.ep.live_calls().is_empty());
}

#[test]
fn cancel_waits_for_a_provisional_response_and_a_racing_2xx_is_ended_with_bye() {
    let mut p = Phone::new();
    let call = p.dial();
    let invite = p.sent().remove(0);
    p.ep.hangup(p.now, call, EndCause::Cancelled);
    assert!(matches!(p.events().as_slice(), [Event::Ended { .. }]));
    assert!(
        p.sent().is_empty(),
        "no CANCEL before a provisional response"
    );
    p.recv(&reply(&invite, 100, None, ""));
    let cancel = p.sent().remove(0);
    assert_eq!(method(&cancel), "CANCEL");
    // The phone answered before it saw the CANCEL.
    p.recv(&reply(&invite, 200, Some("ph"), ANSWER));
    let sent = p.sent();
    let methods: Vec<&str> = sent.iter().map(|m| method(m)).collect();
    assert_eq!(methods, ["ACK", "BYE"]);
    assert!(p.events().is_empty());
}

#[test]
fn a_refused_leg_is_acknowledged_and_reported_with_its_status() {
    let mut p = Phone::new();
    let call = p.dial();
    let invite = p.sent().remove(0);
    p.recv(&reply(&invite, 486, Some("ph"), ""));
    assert_eq!(method(&p.sent()[0]), "ACK");
    assert!(matches!(
        p.events().as_slice(),
        [Event::Ended { call: c, cause: EndCause::Rejected, status: Some(486), by: EndedBy::Remote }] if *c == call
    ));
}

#[test]
fn a_phone_that_never_answers_ends_the_leg_after_timer_b() {
    let mut p = Phone::new();
    let call = p.dial();
    p.sent();
    p.advance(Duration::from_secs(31));
    assert!(p.events().is_empty());
    p.advance(Duration::from_secs(2));
    assert!(matches!(
        p.events().as_slice(),
        [Event::Ended { call: c, cause: EndCause::NoAnswer, .. }] if *c == call
    ));
}

#[test]
fn register_is_handed_to_the_owner_and_answered_as_it_says() {
    let mut p = Phone::new();
    let reg = "REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bKreg1\r\nMax-Forwards: 70\r\nFrom: <sip:1024@127.0.0.1>;tag=r1\r\nTo: <sip:1024@127.0.0.1>\r\nCall-ID: reg-1\r\nCSeq: 1 REGISTER\r\nContact: <sip:1024@127.0.0.1:5080>\r\nExpires: 600\r\nContent-Length: 0\r\n\r\n";
    p.recv(reg);
    let id = match p.events().as_slice() {
        [Event::Request { id, request, .. }] => {
            assert_eq!(request.header("Expires"), Some("600"));
            *id
        }
        other => panic!("{other:?}"),
    };
    p.ep.respond_to(
        p.now,
        id,
        401,
        &[("WWW-Authenticate", "Digest realm=\"x\"")],
    );
    let sent = p.sent();
    assert!(sent[0].starts_with("SIP/2.0 401 "));
    assert_eq!(header(&sent[0], "WWW-Authenticate"), "Digest realm=\"x\"");
    // The retransmission gets the same answer from the transaction, not a new event.
    p.recv(reg);
    assert!(p.sent()[0].starts_with("SIP/2.0 401 "));
    assert!(p.events().is_empty());

    // A dropped request leaves nothing behind; its retransmission is a new request.
    let reg2 = reg.replace("z9hG4bKreg1", "z9hG4bKreg2");
    p.recv(&reg2);
    let [Event::Request { id, .. }] = p.events()[..] else {
        panic!()
    };
    p.ep.drop_request(id);
    assert!(p.sent().is_empty());
    p.recv(&reg2);
    assert!(matches!(p.events().as_slice(), [Event::Request { .. }]));
}

#[test]
fn refer_is_accepted_reported_and_notified() {
    let mut p = Phone::new();
    let call = p.dial();
    let invite = p.sent().remove(0);
    p.recv(&reply(&invite, 200, Some("ph"), ANSWER));
    p.sent();
    p.events();
    p.recv(&in_dialog(
        &invite,
        "REFER",
        1,
        "Refer-To: <sip:complaints@127.0.0.1>\r\n",
    ));
    let sent = p.sent();
    assert!(sent[0].starts_with("SIP/2.0 202 "), "{}", sent[0]);
    assert_eq!(method(&sent[1]), "NOTIFY");
    assert!(sent[1].ends_with("SIP/2.0 200 OK\r\n"));
    assert!(header(&sent[1], "Subscription-State").starts_with("terminated"));
    assert!(matches!(
        p.events().as_slice(),
        [Event::Refer { call: c, target }] if *c == call && target == "sip:complaints@127.0.0.1"
    ));
}

#[test]
fn an_options_ping_reports_the_answer_or_the_silence() {
    let mut p = Phone::new();
    let peer = Peer {
        link: Link::Udp,
        addr: p.addr,
    };
    let id =
        p.ep.ping(p.now, peer, "sip:1024@127.0.0.1:5080", "127.0.0.1");
    let opt = p.sent().remove(0);
    assert_eq!(method(&opt), "OPTIONS");
    p.recv(&reply(&opt, 200, Some("x"), ""));
    assert!(matches!(
        p.events().as_slice(),
        [Event::RequestDone { id: i, status: Some(200), .. }] if *i == id
    ));
    let id =
        p.ep.ping(p.now, peer, "sip:1024@127.0.0.1:5080", "127.0.0.1");
    p.advance(Duration::from_secs(40));
    assert!(matches!(
        p.events().as_slice(),
        [Event::RequestDone { id: i, status: None, .. }] if *i == id
    ));
}

const USER: &str = "hotline-trunk";
const PASSWORD: &str = "tr8nk-s3cret";
const REALM: &str = "sip.carrier.example";

fn trunk_auth() -> Option<DialAuth> {
    Some(DialAuth {
        user: USER.into(),
        password: PASSWORD.into(),
    })
}

/// The trunk's 401 (WWW-Authenticate) or 407 (Proxy-Authenticate) to `req`.
fn challenge(req: &str, status: u16, nonce: &str, stale: bool) -> String {
    let name = if status == 407 {
        "Proxy-Authenticate"
    } else {
        "WWW-Authenticate"
    };
    let extra: String = auth::challenge(REALM, nonce, stale)
        .iter()
        .map(|v| format!("{name}: {v}\r\n"))
        .collect();
    reply(req, status, Some("tr"), "").replace(
        "Content-Length: 0\r\n",
        &format!("{extra}Content-Length: 0\r\n"),
    )
}

/// The Via branch of a request.
fn branch(msg: &str) -> &str {
    header(msg, "Via")
        .split(';')
        .find_map(|p| p.strip_prefix("branch="))
        .unwrap()
}

/// Checks the credentials in `header_name` of `invite` as the trunk would.
fn assert_credentials(invite: &str, header_name: &str, nonce: &str) {
    let creds = parse_authorization(header(invite, header_name)).unwrap();
    assert_eq!(creds.username, USER);
    assert_eq!(creds.realm, REALM);
    assert_eq!(creds.nonce, nonce);
    assert_eq!(creds.uri, "sip:1024@127.0.0.1:5080");
    assert_eq!(creds.algorithm, Algorithm::Sha256, "SHA-256 preferred");
    let h = ha1(Algorithm::Sha256, USER, REALM, PASSWORD);
    assert!(verify(&creds, "INVITE", &h));
}

/// Dials with credentials and answers the first INVITE with `status`: returns the call,
/// the first INVITE and the INVITE sent with credentials.
fn challenged(p: &mut Phone, status: u16) -> (CallRef, String, String) {
    let call = p.dial_with(trunk_auth());
    let first = p.sent().remove(0);
    p.recv(&reply(&first, 100, None, ""));
    p.recv(&challenge(&first, status, "n1", false));
    let sent = p.sent();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!(method(&sent[0]), "ACK");
    assert_eq!(header(&sent[0], "CSeq"), "1 ACK");
    assert_eq!(
        branch(&sent[0]),
        branch(&first),
        "the ACK of a non-2xx is hop by hop"
    );
    assert_eq!(method(&sent[1]), "INVITE");
    assert!(
        p.events().is_empty(),
        "the owner hears nothing of the challenge"
    );
    (call, first, sent[1].clone())
}

#[test]
fn a_trunk_401_is_answered_with_the_same_invite_and_credentials() {
    let mut p = Phone::new();
    let (call, first, second) = challenged(&mut p, 401);
    assert!(second.starts_with("INVITE sip:1024@127.0.0.1:5080 SIP/2.0\r\n"));
    for h in ["Call-ID", "From", "To", "X-Hotline-Queue", "Contact"] {
        assert_eq!(header(&second, h), header(&first, h), "{h}");
    }
    assert_ne!(branch(&second), branch(&first), "a new transaction");
    assert_eq!(header(&second, "CSeq"), "2 INVITE");
    assert_eq!(
        second.split_once("\r\n\r\n").unwrap().1,
        first.split_once("\r\n\r\n").unwrap().1,
        "same offer"
    );
    assert!(!second.contains("Proxy-Authorization"));
    assert_credentials(&second, "Authorization", "n1");
    assert!(
        matches!(parse(second.as_bytes()), Ok(Message::Request(_))),
        "{second}"
    );

    // A retransmitted 401 is absorbed by the first transaction: only its ACK again.
    p.recv(&challenge(&first, 401, "n1", false));
    let sent = p.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(header(&sent[0], "CSeq"), "1 ACK");
    assert!(p.events().is_empty());

    // The trunk answers the second INVITE: the ACK and the dialog follow its CSeq.
    p.recv(&reply(&second, 200, Some("tr2"), ANSWER));
    let ack = p.sent().remove(0);
    assert_eq!(method(&ack), "ACK");
    assert_eq!(header(&ack, "CSeq"), "2 ACK");
    assert!(header(&ack, "To").ends_with(";tag=tr2"));
    assert!(matches!(
        p.events().as_slice(),
        [Event::Answered { call: c, .. }] if *c == call
    ));
    p.ep.hangup(p.now, call, EndCause::CallerBye);
    let bye = p.sent().remove(0);
    assert_eq!(header(&bye, "CSeq"), "3 BYE");
}

#[test]
fn a_407_is_answered_with_proxy_authorization() {
    let mut p = Phone::new();
    let (call, _, second) = challenged(&mut p, 407);
    assert_credentials(&second, "Proxy-Authorization", "n1");
    assert!(!second.contains("\r\nAuthorization:"));
    assert_eq!(header(&second, "CSeq"), "2 INVITE");
    // The proxy lets it through and the trunk behind it challenges too: both go along.
    p.recv(&challenge(&second, 401, "n2", false));
    let third = p.sent().remove(1);
    assert_eq!(header(&third, "CSeq"), "3 INVITE");
    assert_credentials(&third, "Proxy-Authorization", "n1");
    assert_credentials(&third, "Authorization", "n2");
    assert!(p.events().is_empty());
    p.recv(&reply(&third, 200, Some("tr"), ANSWER));
    assert!(matches!(
        p.events().as_slice(),
        [Event::Answered { call: c, .. }] if *c == call
    ));
}

#[test]
fn a_repeated_challenge_ends_the_call_unless_the_nonce_went_stale() {
    // Wrong password: the same realm challenges again without stale.
    let mut p = Phone::new();
    let (call, _, second) = challenged(&mut p, 401);
    p.recv(&challenge(&second, 401, "n2", false));
    let sent = p.sent();
    assert_eq!(sent.len(), 1, "only the ACK: {sent:?}");
    assert_eq!(header(&sent[0], "CSeq"), "2 ACK");
    assert!(matches!(
        p.events().as_slice(),
        [Event::Ended { call: c, by: EndedBy::Remote, cause: EndCause::Rejected, status: Some(401) }] if *c == call
    ));
    assert!(p.ep.live_calls().is_empty());

    // A stale nonce is answered once more, then the next challenge ends the call.
    let mut p = Phone::new();
    let (call, _, second) = challenged(&mut p, 407);
    p.recv(&challenge(&second, 407, "n2", true));
    let third = p.sent().remove(1);
    assert_eq!(header(&third, "CSeq"), "3 INVITE");
    assert_credentials(&third, "Proxy-Authorization", "n2");
    assert_eq!(third.matches("Proxy-Authorization:").count(), 1, "replaced");
    assert!(p.events().is_empty());
    p.recv(&challenge(&third, 407, "n3", true));
    assert_eq!(p.sent().len(), 1, "only the ACK");
    assert!(matches!(
        p.events().as_slice(),
        [Event::Ended { call: c, cause: EndCause::Rejected, status: Some(407), .. }] if *c == call
    ));
}

#[test]
fn without_credentials_a_challenge_ends_the_call() {
    let mut p = Phone::new();
    let call = p.dial();
    let invite = p.sent().remove(0);
    p.recv(&challenge(&invite, 401, "n1", false));
    let sent = p.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(method(&sent[0]), "ACK");
    assert!(matches!(
        p.events().as_slice(),
        [Event::Ended { call: c, cause: EndCause::Rejected, status: Some(401), by: EndedBy::Remote }] if *c == call
    ));

    // Credentials do not help against a challenge we cannot answer.
    let mut p = Phone::new();
    let call = p.dial_with(trunk_auth());
    let invite = p.sent().remove(0);
    let odd = reply(&invite, 401, Some("tr"), "").replace(
        "Content-Length: 0\r\n",
        "WWW-Authenticate: Digest realm=\"r\", nonce=\"n\", algorithm=SHA-512-256\r\nContent-Length: 0\r\n",
    );
    p.recv(&odd);
    assert_eq!(p.sent().len(), 1);
    assert!(matches!(
        p.events().as_slice(),
        [Event::Ended { call: c, status: Some(401), .. }] if *c == call
    ));
}

#[test]
fn cancel_after_an_authenticated_invite_uses_its_branch_and_cseq() {
    let mut p = Phone::new();
    let (call, _, second) = challenged(&mut p, 401);
    // No provisional response to the new INVITE yet: CANCEL waits for one.
    p.ep.hangup(p.now, call, EndCause::Cancelled);
    assert!(matches!(
        p.events().as_slice(),
        [Event::Ended {
            cause: EndCause::Cancelled,
            by: EndedBy::Hotline,
            ..
        }]
    ));
    assert!(p.sent().is_empty(), "the first INVITE's 100 does not count");
    p.recv(&reply(&second, 180, Some("tr"), ""));
    let cancel = p.sent().remove(0);
    assert_eq!(method(&cancel), "CANCEL");
    assert_eq!(header(&cancel, "Via"), header(&second, "Via"));
    assert_eq!(header(&cancel, "CSeq"), "2 CANCEL");
    assert!(!cancel.contains("Authorization"));
    p.recv(&reply(&cancel, 200, Some("tr"), ""));
    p.recv(&reply(&second, 487, Some("tr"), ""));
    let sent = p.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(header(&sent[0], "CSeq"), "2 ACK");
    assert!(p.events().is_empty());
    assert!(p.ep.live_calls().is_empty());
}

#[test]
fn a_challenge_to_a_released_call_is_not_answered() {
    let mut p = Phone::new();
    let call = p.dial_with(trunk_auth());
    let invite = p.sent().remove(0);
    p.ep.hangup(p.now, call, EndCause::Cancelled);
    p.events();
    p.recv(&challenge(&invite, 401, "n1", false));
    let sent = p.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(method(&sent[0]), "ACK");
    assert!(p.events().is_empty(), "the owner was told once");
    assert!(p.ep.live_calls().is_empty());
}

#[test]
fn dial_debug_output_hides_the_password() {
    let auth = trunk_auth().unwrap();
    let shown = format!("{auth:?}");
    assert!(shown.contains(USER));
    assert!(!shown.contains(PASSWORD));
}

#[test]
fn a_call_on_a_connection_of_ours_asks_for_it_first_and_never_retransmits() {
    let mut p = Phone::new();
    let peer = p.ep.tcp_peer(p.addr);
    let Link::Tcp(conn) = peer.link else {
        panic!("a TCP peer: {peer:?}");
    };
    assert!(conn >= OUTBOUND_CONN_BASE);
    assert_eq!(p.ep.poll_connect(), Some((conn, p.addr)));
    assert_eq!(p.ep.poll_connect(), None);
    p.dial_on(peer, None);
    let t = p.ep.poll_transmit().expect("the INVITE");
    assert_eq!(t.peer, peer);
    let invite = String::from_utf8(t.bytes).unwrap();
    assert!(
        header(&invite, "Via").starts_with("SIP/2.0/TCP "),
        "{invite}"
    );
    assert!(
        header(&invite, "Contact").ends_with(";transport=tcp>"),
        "{invite}"
    );
    p.advance(Duration::from_secs(20));
    assert!(p.ep.poll_transmit().is_none(), "no Timer A over TCP");
    // The same address: the same connection, nothing more to open.
    assert_eq!(p.ep.tcp_peer(p.addr), peer);
    assert_eq!(p.ep.poll_connect(), None);
    // Once it closed, a new one.
    p.ep.connection_closed(p.now, conn);
    let again = p.ep.tcp_peer(p.addr);
    assert_ne!(again, peer);
    assert_eq!(p.ep.poll_connect().map(|(_, a)| a), Some(p.addr));
}

/// A connection that cannot be made, or that closes while the INVITE waits for its
/// answer, ends the call at once as unanswered: nothing waits for Timer B, and nothing is
/// reopened by itself.
#[test]
fn a_connection_lost_under_a_waiting_invite_ends_its_call_as_unanswered_at_once() {
    for closed in [false, true] {
        let mut p = Phone::new();
        let peer = p.ep.tcp_peer(p.addr);
        let Link::Tcp(conn) = peer.link else {
            panic!("a TCP peer: {peer:?}");
        };
        assert_eq!(p.ep.poll_connect(), Some((conn, p.addr)));
        let call = p.dial_on(peer, None);
        p.sent();
        if closed {
            p.advance(Duration::from_secs(2));
            p.ep.connection_closed(p.now, conn);
        } else {
            p.ep.connect_failed(p.now, conn);
        }
        assert!(
            matches!(
                p.events().as_slice(),
                [Event::Ended { call: c, cause: EndCause::NoAnswer, status: None, by: EndedBy::Remote }] if *c == call
            ),
            "closed: {closed}"
        );
        assert_eq!(p.ep.pending_transactions(), 0, "closed: {closed}");
        assert_eq!(p.ep.poll_connect(), None, "closed: {closed}");
    }
}
