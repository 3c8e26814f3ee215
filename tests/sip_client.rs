//! Registering with a SIP trunk: the sans-IO `Registration` schedule (challenges,
//! refresh, backoff) and the endpoint's REGISTER, on a fake clock with no sockets.

use hotline::core::sip::auth::{challenge, ha1, parse_authorization, verify, Algorithm};
use hotline::core::sip::endpoint::{Endpoint, EndpointConfig, Event, Link, Peer};
use hotline::core::sip::registration::{
    RegState, RegisterRequest, Registration, RegistrationConfig,
};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const USER: &str = "hotline01";
const PASSWORD: &str = "reg-s3cret";
const DOMAIN: &str = "trunk.example";

fn cfg() -> RegistrationConfig {
    RegistrationConfig {
        user: USER.into(),
        password: PASSWORD.into(),
        domain: DOMAIN.into(),
        expires_secs: 600,
    }
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn challenges(nonce: &str, stale: bool) -> Vec<String> {
    challenge(DOMAIN, nonce, stale)
}

/// Checks an Authorization value as the registrar would.
fn assert_verifies(value: &str, nonce: &str, nc: u32) {
    let creds = parse_authorization(value).unwrap();
    assert_eq!(creds.username, USER);
    assert_eq!(creds.realm, DOMAIN);
    assert_eq!(creds.nonce, nonce);
    assert_eq!(creds.uri, format!("sip:{DOMAIN}"));
    assert_eq!(creds.nc, Some(nc));
    assert_eq!(creds.algorithm, Algorithm::Sha256);
    assert!(verify(
        &creds,
        "REGISTER",
        &ha1(Algorithm::Sha256, USER, DOMAIN, PASSWORD)
    ));
}

fn registration(t0: Instant) -> Registration {
    Registration::new(cfg(), "reg-1@10.0.0.5".into(), "ft1".into(), t0)
}

/// Sends the due REGISTER and lets it time out.
fn time_out(r: &mut Registration, now: Instant) {
    assert!(r.handle_timeout(now).is_some(), "a REGISTER is due");
    assert_eq!(r.on_response(now + secs(32), None, &[], None, false), None);
}

#[test]
fn registers_answers_a_401_and_refreshes_at_half_time() {
    let t0 = Instant::now();
    let mut r = registration(t0);
    assert_eq!(r.state(), RegState::Unregistered);
    assert_eq!(r.poll_timeout(), Some(t0), "first REGISTER at once");
    let first = r.handle_timeout(t0).unwrap();
    assert_eq!(
        first,
        RegisterRequest {
            cseq: 1,
            authorization: None,
            expires: 600
        }
    );
    assert_eq!(r.state(), RegState::Registering);
    assert_eq!(r.poll_timeout(), None, "nothing more while it is in flight");
    assert_eq!(r.handle_timeout(t0 + secs(10)), None);

    let second = r
        .on_response(t0, Some(401), &challenges("n1", false), None, false)
        .expect("answered at once");
    assert_eq!(second.cseq, 2);
    let (name, value) = second.authorization.clone().unwrap();
    assert_eq!(name, "Authorization");
    assert_verifies(&value, "n1", 1);

    assert_eq!(r.on_response(t0, Some(200), &[], Some(120), false), None);
    assert_eq!(
        r.state(),
        RegState::Registered {
            until: t0 + secs(120)
        }
    );
    assert_eq!(
        r.poll_timeout(),
        Some(t0 + secs(60)),
        "half the granted time"
    );
    assert_eq!(r.handle_timeout(t0 + secs(59)), None);
    let refresh = r.handle_timeout(t0 + secs(60)).unwrap();
    assert_eq!(refresh.cseq, 3);
    let (_, value) = refresh.authorization.unwrap();
    assert_verifies(&value, "n1", 2);
    assert!(
        matches!(r.state(), RegState::Registered { .. }),
        "still registered while refreshing"
    );

    // Without a granted expiry, what we asked for holds; a short one is refreshed at
    // least 5 s before it runs out.
    let t1 = t0 + secs(61);
    r.on_response(t1, Some(200), &[], None, false);
    assert_eq!(r.poll_timeout(), Some(t1 + secs(300)));
    let t2 = t1 + secs(300);
    r.handle_timeout(t2).unwrap();
    r.on_response(t2, Some(200), &[], Some(8), false);
    assert_eq!(r.poll_timeout(), Some(t2 + secs(3)));
}

#[test]
fn a_stale_nonce_is_answered_again_and_a_407_with_proxy_authorization() {
    let t0 = Instant::now();
    let mut r = registration(t0);
    r.handle_timeout(t0).unwrap();
    let req = r
        .on_response(t0, Some(407), &challenges("n1", false), None, true)
        .unwrap();
    let (name, value) = req.authorization.unwrap();
    assert_eq!(name, "Proxy-Authorization");
    assert_verifies(&value, "n1", 1);
    let req = r
        .on_response(t0, Some(407), &challenges("n2", true), None, true)
        .expect("a stale nonce is answered");
    assert_eq!(req.cseq, 3);
    assert_verifies(&req.authorization.unwrap().1, "n2", 1);
    assert_eq!(
        r.on_response(t0, Some(407), &challenges("n3", true), None, true),
        None,
        "but only once"
    );
    assert!(matches!(
        r.state(),
        RegState::Failed {
            status: Some(407),
            ..
        }
    ));
}

#[test]
fn gives_up_answering_a_repeated_non_stale_challenge() {
    let t0 = Instant::now();
    let mut r = registration(t0);
    r.handle_timeout(t0).unwrap();
    assert!(r
        .on_response(t0, Some(401), &challenges("n1", false), None, false)
        .is_some());
    // Refused again with the nonce we answered: the password is wrong.
    assert_eq!(
        r.on_response(t0, Some(401), &challenges("n1", false), None, false),
        None
    );
    assert_eq!(
        r.state(),
        RegState::Failed {
            retry_at: t0 + secs(30),
            status: Some(401)
        }
    );
    // The retry starts afresh, without the refused credentials; a new nonce is
    // answered once, and a second fresh one is not.
    let t1 = t0 + secs(30);
    let retry = r.handle_timeout(t1).unwrap();
    assert_eq!(retry.cseq, 3);
    assert_eq!(retry.authorization, None);
    assert!(r
        .on_response(t1, Some(401), &challenges("n2", false), None, false)
        .is_some());
    assert_eq!(
        r.on_response(t1, Some(401), &challenges("n3", false), None, false),
        None
    );
    assert_eq!(
        r.poll_timeout(),
        Some(t1 + secs(60)),
        "second failure in a row"
    );

    // A challenge we cannot answer at all is a failure too.
    let t2 = t1 + secs(60);
    r.handle_timeout(t2).unwrap();
    let odd = vec!["Digest realm=\"x\", nonce=\"y\", algorithm=SHA-512-256".to_string()];
    assert_eq!(r.on_response(t2, Some(401), &odd, None, false), None);
    assert_eq!(
        r.state(),
        RegState::Failed {
            retry_at: t2 + secs(120),
            status: Some(401)
        }
    );
}

#[test]
fn backs_off_30_60_120_seconds_up_to_15_minutes_and_a_success_resets_it() {
    let t0 = Instant::now();
    let mut r = registration(t0);
    let mut now = t0;
    for wait in [30, 60, 120, 240, 480, 900, 900] {
        time_out(&mut r, now);
        let done = now + secs(32);
        assert_eq!(
            r.state(),
            RegState::Failed {
                retry_at: done + secs(wait),
                status: None
            }
        );
        assert_eq!(r.poll_timeout(), Some(done + secs(wait)));
        assert_eq!(r.handle_timeout(done + secs(wait) - secs(1)), None);
        now = done + secs(wait);
    }
    // 403 and 5xx count as failures like silence does.
    r.handle_timeout(now).unwrap();
    r.on_response(now, Some(200), &[], Some(600), false);
    now += secs(300);
    r.handle_timeout(now).unwrap();
    r.on_response(now, Some(403), &[], None, false);
    assert_eq!(
        r.state(),
        RegState::Failed {
            retry_at: now + secs(30),
            status: Some(403)
        },
        "reset by the success"
    );
    now += secs(30);
    r.handle_timeout(now).unwrap();
    assert_eq!(r.state(), RegState::Registering);
    r.on_response(now, Some(503), &[], None, false);
    assert_eq!(r.poll_timeout(), Some(now + secs(60)));
    // A late answer to nothing in flight changes nothing.
    assert_eq!(r.on_response(now, Some(200), &[], Some(600), false), None);
    assert_eq!(r.poll_timeout(), Some(now + secs(60)));
}

#[test]
fn cseq_grows_across_every_register() {
    let t0 = Instant::now();
    let mut r = registration(t0);
    let mut seen = vec![];
    let mut now = t0;
    seen.push(r.handle_timeout(now).unwrap().cseq);
    seen.push(
        r.on_response(now, Some(401), &challenges("n1", false), None, false)
            .unwrap()
            .cseq,
    );
    r.on_response(now, Some(500), &[], None, false);
    now += secs(30);
    seen.push(r.handle_timeout(now).unwrap().cseq);
    r.on_response(now, Some(200), &[], Some(60), false);
    now += secs(30);
    seen.push(r.handle_timeout(now).unwrap().cseq);
    assert_eq!(seen, [1, 2, 3, 4]);
    assert_eq!(r.call_id(), "reg-1@10.0.0.5");
    assert_eq!(r.from_tag(), "ft1");
}

#[test]
fn debug_output_never_shows_the_password() {
    let r = registration(Instant::now());
    for shown in [format!("{:?}", cfg()), format!("{r:?}")] {
        assert!(shown.contains(USER), "{shown}");
        assert!(!shown.contains(PASSWORD), "{shown}");
    }
}

// ---- the endpoint's REGISTER ----

struct Trunk {
    ep: Endpoint,
    now: Instant,
    addr: SocketAddr,
    peer: Peer,
}

impl Trunk {
    fn new() -> Self {
        let addr: SocketAddr = "192.0.2.10:5060".parse().unwrap();
        Trunk {
            ep: Endpoint::new(EndpointConfig::default()),
            now: Instant::now(),
            addr,
            peer: Peer {
                link: Link::Udp,
                addr,
            },
        }
    }

    fn send(&mut self, r: &Registration, req: &RegisterRequest) -> (u64, String) {
        let id = self.ep.register(
            self.now,
            self.peer,
            "10.0.0.5",
            r.config(),
            r.call_id(),
            r.from_tag(),
            req,
        );
        let mut sent: Vec<String> = std::iter::from_fn(|| self.ep.poll_transmit())
            .map(|t| {
                assert_eq!(t.peer.addr, self.addr);
                String::from_utf8(t.bytes).unwrap()
            })
            .collect();
        assert_eq!(sent.len(), 1);
        (id.0, sent.remove(0))
    }

    fn recv(&mut self, bytes: &str) {
        self.ep
            .handle_datagram(self.now, self.addr, bytes.as_bytes());
    }

    /// The one RequestDone, as (id, status, challenges, proxy, expires).
    fn done(&mut self) -> (u64, Option<u16>, Vec<String>, bool, Option<u32>) {
        let events: Vec<Event> = std::iter::from_fn(|| self.ep.poll_event()).collect();
        match <[Event; 1]>::try_from(events) {
            Ok(
                [Event::RequestDone {
                    id,
                    status,
                    challenges,
                    proxy,
                    expires,
                }],
            ) => (id.0, status, challenges, proxy, expires),
            Ok([other]) => panic!("{other:?}"),
            Err(events) => panic!("{events:?}"),
        }
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

/// The registrar's answer to `req`, with extra header lines.
fn reply(req: &str, status: u16, extra: &str) -> String {
    format!(
        "SIP/2.0 {status} Whatever\r\nVia: {}\r\nFrom: {}\r\nTo: {};tag=reg\r\nCall-ID: {}\r\nCSeq: {}\r\n{extra}Content-Length: 0\r\n\r\n",
        header(req, "Via"),
        header(req, "From"),
        header(req, "To"),
        header(req, "Call-ID"),
        header(req, "CSeq"),
    )
}

#[test]
fn the_endpoint_registers_through_a_challenge_and_reads_the_granted_expiry() {
    let mut t = Trunk::new();
    let mut r = registration(t.now);
    let req = r.handle_timeout(t.now).unwrap();
    let (id, first) = t.send(&r, &req);
    assert!(
        first.starts_with("REGISTER sip:trunk.example SIP/2.0\r\n"),
        "{first}"
    );
    assert_eq!(
        header(&first, "From"),
        "<sip:hotline01@trunk.example>;tag=ft1"
    );
    assert_eq!(header(&first, "To"), "<sip:hotline01@trunk.example>");
    assert_eq!(header(&first, "Call-ID"), "reg-1@10.0.0.5");
    assert_eq!(header(&first, "CSeq"), "1 REGISTER");
    assert_eq!(header(&first, "Contact"), "<sip:hotline01@10.0.0.5:5060>");
    assert_eq!(header(&first, "Expires"), "600");
    assert!(!first.contains("Authorization"));
    assert!(header(&first, "Via").starts_with("SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK"));

    let extra: String = challenges("n1", false)
        .iter()
        .map(|v| format!("WWW-Authenticate: {v}\r\n"))
        .collect();
    t.recv(&reply(&first, 401, &extra));
    let (done_id, status, ch, proxy, expires) = t.done();
    assert_eq!(
        (done_id, status, proxy, expires),
        (id, Some(401), false, None)
    );
    assert_eq!(ch, challenges("n1", false));

    let req = r.on_response(t.now, status, &ch, expires, proxy).unwrap();
    let (id, second) = t.send(&r, &req);
    assert_eq!(header(&second, "CSeq"), "2 REGISTER");
    assert_eq!(header(&second, "Call-ID"), header(&first, "Call-ID"));
    assert_eq!(header(&second, "From"), header(&first, "From"));
    assert_ne!(header(&second, "Via"), header(&first, "Via"), "new branch");
    assert_verifies(header(&second, "Authorization"), "n1", 1);

    // Our Contact's own expires wins over the Expires header and other bindings.
    t.recv(&reply(
        &second,
        200,
        "Contact: <sip:other@10.0.0.9:5060>;expires=3600, <sip:hotline01@10.0.0.5:5060>;expires=300\r\nExpires: 900\r\n",
    ));
    let (done_id, status, ch, proxy, expires) = t.done();
    assert_eq!((done_id, status, expires), (id, Some(200), Some(300)));
    r.on_response(t.now, status, &ch, expires, proxy);
    assert_eq!(
        r.state(),
        RegState::Registered {
            until: t.now + secs(300)
        }
    );
    assert_eq!(r.poll_timeout(), Some(t.now + secs(150)));

    // Without a matching Contact, the Expires header says.
    t.now += secs(150);
    let req = r.handle_timeout(t.now).unwrap();
    let (_, third) = t.send(&r, &req);
    assert_eq!(header(&third, "CSeq"), "3 REGISTER");
    assert_verifies(header(&third, "Authorization"), "n1", 2);
    t.recv(&reply(&third, 200, "Expires: 240\r\n"));
    let (_, status, ch, proxy, expires) = t.done();
    assert_eq!(expires, Some(240));
    r.on_response(t.now, status, &ch, expires, proxy);

    // 423 Interval Too Brief: its Min-Expires comes with it, and the next REGISTER asks
    // for that.
    t.now += secs(120);
    let req = r.handle_timeout(t.now).unwrap();
    let (_, fourth) = t.send(&r, &req);
    t.recv(&reply(&fourth, 423, "Min-Expires: 1800\r\n"));
    let (_, status, ch, proxy, expires) = t.done();
    assert_eq!((status, expires), (Some(423), Some(1800)));
    let req = r.on_response(t.now, status, &ch, expires, proxy).unwrap();
    let (_, fifth) = t.send(&r, &req);
    assert_eq!(header(&fifth, "Expires"), "1800");
}

#[test]
fn the_endpoint_reports_a_proxy_challenge_and_silence() {
    let mut t = Trunk::new();
    let mut r = registration(t.now);
    let req = r.handle_timeout(t.now).unwrap();
    let (_, first) = t.send(&r, &req);
    let extra: String = challenges("p1", false)
        .iter()
        .map(|v| format!("Proxy-Authenticate: {v}\r\n"))
        .collect();
    t.recv(&reply(&first, 407, &extra));
    let (_, status, ch, proxy, _) = t.done();
    assert_eq!((status, proxy, ch.len()), (Some(407), true, 2));
    let req = r.on_response(t.now, status, &ch, None, proxy).unwrap();
    let (id, second) = t.send(&r, &req);
    assert_verifies(header(&second, "Proxy-Authorization"), "p1", 1);

    // Nothing answers: Timer F reports the silence.
    let end = t.now + secs(40);
    while let Some(at) = t.ep.poll_timeout().filter(|at| *at <= end) {
        t.now = at;
        t.ep.handle_timeout(at);
    }
    while t.ep.poll_transmit().is_some() {}
    let (done_id, status, ch, proxy, expires) = t.done();
    assert_eq!((done_id, status, proxy, expires), (id, None, false, None));
    assert!(ch.is_empty());
    r.on_response(t.now, status, &ch, expires, proxy);
    assert!(matches!(r.state(), RegState::Failed { status: None, .. }));
}

/// 423 Interval Too Brief: the REGISTER is sent again at once asking for the registrar's
/// Min-Expires, and refreshes keep asking for it; a registrar that refuses its own minimum
/// (or names none, or an absurd one) is a failure, retried later.
#[test]
fn a_423_is_answered_with_the_registrars_minimum() {
    let t0 = Instant::now();
    let mut r = registration(t0);
    assert_eq!(r.handle_timeout(t0).unwrap().expires, 600);
    let again = r
        .on_response(t0, Some(423), &[], Some(3600), false)
        .expect("asked again at once");
    assert_eq!((again.cseq, again.expires), (2, 3600));
    assert_eq!(r.on_response(t0, Some(200), &[], Some(3600), false), None);
    let refresh = r.handle_timeout(t0 + secs(1800)).unwrap();
    assert_eq!(refresh.expires, 3600, "refreshes keep the minimum");
    // The same minimum refused again: a failure, not a loop.
    assert_eq!(
        r.on_response(t0 + secs(1800), Some(423), &[], Some(3600), false),
        None
    );
    assert!(matches!(
        r.state(),
        RegState::Failed {
            status: Some(423),
            ..
        }
    ));

    for min in [None, Some(100), Some(1_000_000)] {
        let mut r = registration(t0);
        r.handle_timeout(t0).unwrap();
        assert_eq!(
            r.on_response(t0, Some(423), &[], min, false),
            None,
            "{min:?}"
        );
        assert!(matches!(r.state(), RegState::Failed { .. }), "{min:?}");
    }
}

/// At shutdown the binding is taken back: a REGISTER with Expires: 0 (challenge answered
/// as ever), then nothing more; nothing is sent when no binding is up or one is in flight.
#[test]
fn unregister_takes_the_binding_back_once() {
    let t0 = Instant::now();
    let mut r = registration(t0);
    r.handle_timeout(t0).unwrap();
    assert_eq!(r.on_response(t0, Some(200), &[], Some(600), false), None);
    let bye = r.unregister().expect("a binding to take back");
    assert_eq!((bye.cseq, bye.expires), (2, 0));
    assert_eq!(r.unregister(), None, "once");
    let again = r
        .on_response(t0, Some(401), &challenges("n1", false), None, false)
        .expect("the challenge answered");
    assert_eq!((again.cseq, again.expires), (3, 0));
    assert_verifies(&again.authorization.unwrap().1, "n1", 1);
    assert_eq!(r.on_response(t0, Some(200), &[], None, false), None);
    assert_eq!(r.state(), RegState::Unregistered);
    assert_eq!(r.poll_timeout(), None, "no refresh after");
    assert_eq!(r.handle_timeout(t0 + secs(3600)), None);

    let mut never = registration(t0);
    assert_eq!(never.unregister(), None, "nothing registered yet");
    let mut in_flight = registration(t0);
    in_flight.handle_timeout(t0).unwrap();
    assert_eq!(in_flight.unregister(), None, "a REGISTER is in flight");
}
