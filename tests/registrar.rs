//! The registrar and its authenticator under a fake clock: digest with both algorithms,
//! nonce staleness and replay, no user enumeration, bans and locks, and the binding rules
//! of RFC 3261 10.3.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Once;
use std::time::{Duration, Instant};

use hotline::core::sip::auth::{ha1, Algorithm};
use hotline::core::sip::registrar::{
    Account, AuthOutcome, AuthPolicy, Authenticator, Binding, ChangeKind, RegisterError,
    RegisterRequest, Registrar, RegistrarPolicy, Removal, Transport,
};

const REALM: &str = "hotline.example";
const WALL: u64 = 1_700_000_000;

fn account(ext: &str, agent: &str, password: &str) -> Account {
    Account {
        extension: ext.into(),
        agent_id: agent.into(),
        ha1_sha256: ha1(Algorithm::Sha256, ext, REALM, password),
        ha1_md5: ha1(Algorithm::Md5, ext, REALM, password),
    }
}

fn setup() -> (Registrar, Instant) {
    Capture::install();
    let t0 = Instant::now();
    let auth = Authenticator::new(REALM, [9; 32], 42, AuthPolicy::default(), t0, WALL);
    let mut reg = Registrar::new(auth, RegistrarPolicy::default());
    assert!(reg
        .set_accounts(vec![
            account("1001", "1024", "s3cret"),
            account("1002", "2048", "hunter2"),
        ])
        .is_empty());
    (reg, t0)
}

fn secs(t0: Instant, s: u64) -> Instant {
    t0 + Duration::from_secs(s)
}

fn ip(last: u8) -> IpAddr {
    IpAddr::from([192, 0, 2, last])
}

fn www_values(outcome: &AuthOutcome) -> Vec<String> {
    match outcome {
        AuthOutcome::Challenge { headers } => {
            assert!(headers.iter().all(|(n, _)| n == "WWW-Authenticate"));
            headers.iter().map(|(_, v)| v.clone()).collect()
        }
        other => panic!("expected a challenge, got {other:?}"),
    }
}

/// A (name=value) field of a challenge, quoted or not, parsed independently of the server.
fn field(v: &str, name: &str) -> Option<String> {
    let start = v.find(&format!(" {name}="))? + name.len() + 2;
    let rest = &v[start..];
    Some(match rest.strip_prefix('"') {
        Some(q) => q[..q.find('"').unwrap()].to_string(),
        None => rest[..rest.find(',').unwrap_or(rest.len())].to_string(),
    })
}

/// What a phone answers to one challenge value (RFC 7616 3.4, qop=auth).
fn answer(www: &str, user: &str, password: &str, method: &str, nc: u32) -> String {
    let (realm, nonce) = (field(www, "realm").unwrap(), field(www, "nonce").unwrap());
    let alg_token = field(www, "algorithm").unwrap();
    let alg = Algorithm::from_token(&alg_token).unwrap();
    let uri = "sip:hotline.example";
    let cnonce = "0a4f113b";
    let h1 = ha1(alg, user, &realm, password);
    let h2 = alg.hash(format!("{method}:{uri}").as_bytes());
    let resp = alg.hash(format!("{h1}:{nonce}:{nc:08x}:{cnonce}:auth:{h2}").as_bytes());
    format!(
        "Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", \
         response=\"{resp}\", algorithm={alg_token}, cnonce=\"{cnonce}\", qop=auth, nc={nc:08x}"
    )
}

/// Challenge, then answer the value for `alg`; the full round trip a phone does.
fn login(reg: &mut Registrar, now: Instant, from: IpAddr, user: &str, pw: &str) -> AuthOutcome {
    let www = www_values(&reg.authenticate(now, from, "REGISTER", &[]));
    reg.authenticate(
        now,
        from,
        "REGISTER",
        &[&answer(&www[0], user, pw, "REGISTER", 1)],
    )
}

fn ok(ext: &str, agent: &str) -> AuthOutcome {
    AuthOutcome::Ok {
        extension: ext.into(),
        agent_id: agent.into(),
    }
}

#[test]
fn challenge_offers_sha256_then_md5_with_fresh_nonces() {
    let (mut reg, t0) = setup();
    let first = www_values(&reg.authenticate(t0, ip(1), "REGISTER", &[]));
    assert_eq!(first.len(), 2);
    assert_eq!(field(&first[0], "algorithm").as_deref(), Some("SHA-256"));
    assert_eq!(field(&first[1], "algorithm").as_deref(), Some("MD5"));
    for v in &first {
        assert!(v.starts_with("Digest realm=\"hotline.example\""), "{v}");
        assert_eq!(field(v, "qop").as_deref(), Some("auth"));
        assert!(!v.contains("stale"));
    }
    let second = www_values(&reg.authenticate(t0, ip(1), "REGISTER", &[]));
    assert_ne!(field(&first[0], "nonce"), field(&second[0], "nonce"));
    // Garbage or another scheme is as good as no Authorization at all.
    let junk = reg.authenticate(t0, ip(1), "REGISTER", &["Basic Zm9vOmJhcg==", "Digest ,"]);
    assert_eq!(www_values(&junk).len(), 2);
}

#[test]
fn digest_sha256_and_md5() {
    let (mut reg, t0) = setup();
    for (i, alg) in ["SHA-256", "MD5"].into_iter().enumerate() {
        let www = www_values(&reg.authenticate(t0, ip(1), "REGISTER", &[]));
        let value = www.iter().find(|v| v.contains(alg)).unwrap();
        let auth = answer(value, "1001", "s3cret", "REGISTER", 1);
        assert_eq!(
            reg.authenticate(t0, ip(1), "REGISTER", &[&auth]),
            ok("1001", "1024"),
            "{alg}"
        );
        // The same nonce with the next nc, for an INVITE to a feature code.
        let invite = answer(&www[i], "1002", "hunter2", "INVITE", 2);
        assert_eq!(
            reg.authenticate(t0, ip(1), "INVITE", &[&invite]),
            ok("1002", "2048")
        );
        // A response computed for REGISTER does not authenticate an INVITE.
        let wrong_method = answer(&www[i], "1002", "hunter2", "REGISTER", 3);
        assert_eq!(
            reg.authenticate(t0, ip(1), "INVITE", &[&wrong_method]),
            AuthOutcome::Forbidden
        );
    }
}

#[test]
fn credentials_for_our_realm_are_picked() {
    let (mut reg, t0) = setup();
    let www = www_values(&reg.authenticate(t0, ip(1), "REGISTER", &[]));
    let good = answer(&www[1], "1001", "s3cret", "REGISTER", 1);
    let foreign = good.replace("hotline.example\"", "other.example\"");
    assert_eq!(
        reg.authenticate(t0, ip(1), "REGISTER", &[&foreign, &good]),
        ok("1001", "1024")
    );
    // Only a foreign realm: challenged, not refused.
    let only_foreign = reg.authenticate(t0, ip(1), "REGISTER", &[&foreign]);
    assert_eq!(www_values(&only_foreign).len(), 2);
}

#[test]
fn stale_nonce_is_rechallenged_then_accepted() {
    let (mut reg, t0) = setup();
    let www = www_values(&reg.authenticate(t0, ip(1), "REGISTER", &[]));
    let late = secs(t0, 301);
    let auth = answer(&www[0], "1001", "s3cret", "REGISTER", 1);
    let again = www_values(&reg.authenticate(late, ip(1), "REGISTER", &[&auth]));
    assert!(
        again.iter().all(|v| v.ends_with(", stale=true")),
        "{again:?}"
    );
    let auth = answer(&again[0], "1001", "s3cret", "REGISTER", 1);
    assert_eq!(
        reg.authenticate(late, ip(1), "REGISTER", &[&auth]),
        ok("1001", "1024")
    );
    // A nonce we never issued is not stale, just unknown.
    let forged = auth.replace(&field(&again[0], "nonce").unwrap(), &"0".repeat(96));
    let www = www_values(&reg.authenticate(late, ip(1), "REGISTER", &[&forged]));
    assert!(!www[0].contains("stale"));
}

#[test]
fn replayed_nonce_count_is_rechallenged_not_counted() {
    let (mut reg, t0) = setup();
    let www = www_values(&reg.authenticate(t0, ip(1), "REGISTER", &[]));
    let auth = answer(&www[0], "1001", "s3cret", "REGISTER", 1);
    assert_eq!(
        reg.authenticate(t0, ip(1), "REGISTER", &[&auth]),
        ok("1001", "1024")
    );
    // Well past the ban threshold: a replay is never a failure.
    for _ in 0..10 {
        let replay = reg.authenticate(t0, ip(1), "REGISTER", &[&auth]);
        assert!(!www_values(&replay)[0].contains("stale"));
    }
    assert_eq!(reg.auth().tracked(), 0);
    let next = answer(&www[0], "1001", "s3cret", "REGISTER", 2);
    assert_eq!(
        reg.authenticate(t0, ip(1), "REGISTER", &[&next]),
        ok("1001", "1024")
    );
}

#[test]
fn unknown_user_and_wrong_password_look_the_same() {
    let (mut reg, t0) = setup();
    let wrong = login(&mut reg, t0, ip(1), "1001", "guess");
    let unknown = login(&mut reg, t0, ip(2), "9999", "guess");
    assert_eq!(wrong, AuthOutcome::Forbidden);
    assert_eq!(wrong, unknown);
    // Both count against the source alike: the fifth failure bans either.
    for _ in 1..5 {
        assert_eq!(
            login(&mut reg, t0, ip(1), "1001", "guess"),
            login(&mut reg, t0, ip(2), "9999", "guess")
        );
    }
    assert_eq!(
        reg.authenticate(t0, ip(1), "REGISTER", &[]),
        AuthOutcome::Ignore
    );
    assert_eq!(
        reg.authenticate(t0, ip(2), "REGISTER", &[]),
        AuthOutcome::Ignore
    );
}

#[test]
fn source_is_banned_then_let_back() {
    let (mut reg, t0) = setup();
    // A success clears the count: 4 failures, a success, 4 more never ban.
    for _ in 0..4 {
        assert_eq!(
            login(&mut reg, t0, ip(1), "1001", "x"),
            AuthOutcome::Forbidden
        );
    }
    assert_eq!(
        login(&mut reg, t0, ip(1), "1001", "s3cret"),
        ok("1001", "1024")
    );
    for _ in 0..4 {
        assert_eq!(
            login(&mut reg, t0, ip(1), "1002", "x"),
            AuthOutcome::Forbidden
        );
    }
    assert_eq!(
        login(&mut reg, t0, ip(1), "1002", "x"),
        AuthOutcome::Forbidden
    );
    // Banned: silence, even with the right password; other sources are unaffected.
    let www = www_values(&reg.authenticate(t0, ip(2), "REGISTER", &[]));
    let good = answer(&www[0], "1001", "s3cret", "REGISTER", 1);
    assert_eq!(
        reg.authenticate(t0, ip(1), "REGISTER", &[&good]),
        AuthOutcome::Ignore
    );
    assert_eq!(
        reg.authenticate(t0, ip(2), "REGISTER", &[&good]),
        ok("1001", "1024")
    );
    let before_end = secs(t0, 299);
    assert_eq!(
        reg.authenticate(before_end, ip(1), "REGISTER", &[]),
        AuthOutcome::Ignore
    );
    let after = secs(t0, 300);
    assert_eq!(
        login(&mut reg, after, ip(1), "1001", "s3cret"),
        ok("1001", "1024")
    );
}

#[test]
fn failures_outside_the_window_do_not_add_up() {
    let (mut reg, t0) = setup();
    for i in 0..12 {
        let now = secs(t0, 30 * i);
        assert_eq!(
            login(&mut reg, now, ip(1), "1001", "x"),
            AuthOutcome::Forbidden
        );
    }
}

#[test]
fn account_is_locked_after_failures_from_many_sources() {
    let (mut reg, t0) = setup();
    // Two failures from each of five sources: no source ban, ten on the account.
    for i in 0..10 {
        let from = ip(10 + i / 2);
        assert_eq!(
            login(&mut reg, t0, from, "1001", "x"),
            AuthOutcome::Forbidden
        );
    }
    // Locked: even the right password is refused, with the same answer...
    assert_eq!(
        login(&mut reg, t0, ip(99), "1001", "s3cret"),
        AuthOutcome::Forbidden
    );
    // ...which does not count against the owner's source.
    for _ in 0..6 {
        assert_eq!(
            login(&mut reg, t0, ip(99), "1001", "s3cret"),
            AuthOutcome::Forbidden
        );
    }
    assert_eq!(
        login(&mut reg, t0, ip(99), "1002", "hunter2"),
        ok("1002", "2048")
    );
    let later = secs(t0, 300);
    assert_eq!(
        login(&mut reg, later, ip(99), "1001", "s3cret"),
        ok("1001", "1024")
    );
}

#[test]
fn auth_state_is_pruned() {
    let (mut reg, t0) = setup();
    login(&mut reg, t0, ip(1), "9999", "x");
    login(&mut reg, t0, ip(2), "1001", "x");
    assert_eq!(reg.auth().tracked(), 3, "two sources and one real account");
    assert_eq!(reg.poll_timeout(), Some(secs(t0, 60)));
    assert!(reg.handle_timeout(secs(t0, 59)).is_empty());
    assert_eq!(reg.auth().tracked(), 3);
    reg.handle_timeout(secs(t0, 60));
    assert_eq!(reg.auth().tracked(), 0);
    assert_eq!(reg.poll_timeout(), None);
}

#[test]
fn security_log_lines() {
    let (mut reg, t0) = setup();
    let lines = Capture::on_this_thread(|| {
        login(&mut reg, t0, ip(7), "evil user=1", "x");
        for _ in 0..4 {
            login(&mut reg, t0, ip(7), "1001", "x");
        }
    });
    let events: Vec<&str> = lines.iter().map(|l| l["event"].as_str()).collect();
    let mut expected = vec!["auth_failure"; 5];
    expected.push("source_banned");
    assert_eq!(events, expected);
    assert_eq!(lines[0]["source"], "192.0.2.7");
    // The client's user name is quoted, so it cannot fake fields.
    assert_eq!(lines[0]["user"], "\"evil user=1\"");
    assert_eq!(lines[0]["reason"], "unknown_user");
    assert_eq!(lines[1]["reason"], "wrong_password");
    assert_eq!(lines[5]["ban_secs"], "300");
}

fn req(contacts: &[&str], expires: Option<u32>, call_id: &str, cseq: u32) -> RegisterRequest {
    RegisterRequest {
        contacts: contacts.iter().map(|c| c.to_string()).collect(),
        expires_header: expires,
        call_id: call_id.into(),
        cseq,
        source: "198.51.100.7:5062".parse().unwrap(),
        transport: Transport::Udp,
    }
}

const DESK: &str = "sip:1001@10.0.0.5:5060";
const SOFT: &str = "sip:1001@10.0.0.6:5070;transport=tcp";

#[test]
fn add_refresh_and_query() {
    let (mut reg, t0) = setup();
    let r = reg
        .register(t0, "1001", req(&[&format!("<{DESK}>")], None, "c1", 1))
        .unwrap();
    assert_eq!(r.contacts, [format!("<{DESK}>;expires=3600")]);
    assert_eq!(r.changes.len(), 1);
    let change = &r.changes[0];
    assert_eq!((change.kind, change.reachable), (ChangeKind::Added, true));
    assert_eq!(change.agent_id, "1024");
    assert_eq!(change.binding.source, "198.51.100.7:5062".parse().unwrap());
    assert_eq!(change.binding.expires_at, secs(t0, 3600));

    // Query: no Contact, nothing changes, remaining time reported.
    let q = reg
        .register(secs(t0, 100), "1001", req(&[], None, "c1", 2))
        .unwrap();
    assert_eq!(q.contacts, [format!("<{DESK}>;expires=3500")]);
    assert!(q.changes.is_empty());

    let r = reg
        .register(secs(t0, 1000), "1001", req(&[DESK], Some(600), "c1", 3))
        .unwrap();
    assert_eq!(r.contacts, [format!("<{DESK}>;expires=600")]);
    assert_eq!(r.changes[0].kind, ChangeKind::Refreshed);
    assert_eq!(reg.contacts("1001")[0].expires_at, secs(t0, 1600));
    assert_eq!(reg.poll_timeout(), Some(secs(t0, 1600)));
}

#[test]
fn several_contacts_with_their_own_expires() {
    let (mut reg, t0) = setup();
    let one_header = format!(
        "\"Desk, 3rd floor <east>\" <{DESK}>;expires=120, <{SOFT}>;+sip.instance=\"<urn:uuid:1;a,b>\""
    );
    let third = "sip:1001@10.0.0.7;expires=9999";
    let r = reg
        .register(t0, "1001", req(&[&one_header, third], Some(900), "c1", 1))
        .unwrap();
    assert_eq!(
        r.contacts,
        [
            format!("<{DESK}>;expires=120"),
            format!("<{SOFT}>;expires=900"),
            "<sip:1001@10.0.0.7>;expires=3600".to_string(),
        ]
    );
    assert!(r.changes.iter().all(|c| c.kind == ChangeKind::Added));
    assert_eq!(reg.contacts("1001").len(), 3);
    assert!(reg.contacts("1002").is_empty());
}

#[test]
fn expires_zero_removes_one_and_star_removes_all() {
    let (mut reg, t0) = setup();
    reg.register(
        t0,
        "1001",
        req(&[DESK, &format!("<{SOFT}>")], None, "c1", 1),
    )
    .unwrap();
    let r = reg
        .register(
            t0,
            "1001",
            req(&[&format!("<{DESK}>;expires=0")], None, "c1", 2),
        )
        .unwrap();
    assert_eq!(r.contacts, [format!("<{SOFT}>;expires=3600")]);
    let gone = &r.changes[0];
    assert_eq!(gone.kind, ChangeKind::Removed(Removal::Unregistered));
    assert_eq!((gone.binding.uri.as_str(), gone.reachable), (DESK, true));

    // Expires header 0 with an unknown contact: nothing to remove, no error.
    let r = reg.register(t0, "1001", req(&["<sip:1001@10.9.9.9>"], Some(0), "c1", 3));
    assert!(r.unwrap().changes.is_empty());

    reg.register(t0, "1001", req(&[DESK], None, "c1", 4))
        .unwrap();
    // `*` needs Expires: 0 and to be alone.
    for bad in [req(&["*"], None, "c2", 1), req(&["*"], Some(60), "c2", 1)] {
        assert_eq!(
            reg.register(t0, "1001", bad),
            Err(RegisterError::BadWildcard)
        );
    }
    let mixed = req(&["*", DESK], Some(0), "c2", 1);
    assert_eq!(
        reg.register(t0, "1001", mixed),
        Err(RegisterError::BadWildcard)
    );
    let r = reg
        .register(t0, "1001", req(&["*"], Some(0), "c2", 1))
        .unwrap();
    assert!(r.contacts.is_empty());
    assert_eq!(r.changes.len(), 2);
    assert_eq!(
        r.changes.iter().map(|c| c.reachable).collect::<Vec<_>>(),
        [true, false],
        "the last removal makes the agent unreachable"
    );
    assert!(reg.contacts("1001").is_empty());
    assert_eq!(reg.poll_timeout(), None);
}

#[test]
fn bindings_expire_with_time() {
    let (mut reg, t0) = setup();
    reg.register(t0, "1001", req(&[DESK], Some(120), "c1", 1))
        .unwrap();
    let soft = format!("<{SOFT}>");
    reg.register(t0, "1001", req(&[&soft], Some(300), "c1", 2))
        .unwrap();
    reg.register(t0, "1002", req(&["sip:1002@10.0.0.8"], None, "c9", 1))
        .unwrap();
    assert_eq!(reg.poll_timeout(), Some(secs(t0, 120)));
    assert!(reg.handle_timeout(secs(t0, 119)).is_empty());
    let changes = reg.handle_timeout(secs(t0, 120));
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].kind, ChangeKind::Removed(Removal::Expired));
    assert_eq!(
        (changes[0].binding.uri.as_str(), changes[0].reachable),
        (DESK, true)
    );
    assert_eq!(reg.poll_timeout(), Some(secs(t0, 300)));
    let changes = reg.handle_timeout(secs(t0, 300));
    assert_eq!(
        (changes[0].agent_id.as_str(), changes[0].reachable),
        ("1024", false)
    );
    assert_eq!(reg.contacts("1002").len(), 1);
}

#[test]
fn interval_too_brief_and_clamped_to_max() {
    let (mut reg, t0) = setup();
    let err = reg
        .register(t0, "1001", req(&[DESK, SOFT], Some(30), "c1", 1))
        .unwrap_err();
    assert_eq!(err, RegisterError::IntervalTooBrief { min_expires: 60 });
    assert_eq!(err.status(), 423);
    assert_eq!(
        err.headers(),
        [("Min-Expires".to_string(), "60".to_string())]
    );
    // One brief contact fails the whole request.
    let mixed = req(&[DESK, &format!("<{SOFT}>;expires=59")], None, "c1", 2);
    assert!(reg.register(t0, "1001", mixed).is_err());
    assert!(reg.contacts("1001").is_empty());

    let r = reg
        .register(t0, "1001", req(&[DESK], Some(86_400), "c1", 3))
        .unwrap();
    assert_eq!(r.contacts, [format!("<{DESK}>;expires=3600")]);
    let r = reg.register(
        t0,
        "1001",
        req(&[&format!("<{DESK}>;expires=60")], None, "c1", 4),
    );
    assert_eq!(r.unwrap().contacts, [format!("<{DESK}>;expires=60")]);
}

#[test]
fn out_of_order_cseq_is_refused() {
    let (mut reg, t0) = setup();
    reg.register(t0, "1001", req(&[DESK], None, "c1", 5))
        .unwrap();
    for cseq in [4, 5] {
        let err = reg
            .register(secs(t0, 10), "1001", req(&[DESK], Some(0), "c1", cseq))
            .unwrap_err();
        assert_eq!(err.status(), 500);
        let err2 = reg.register(t0, "1001", req(&["*"], Some(0), "c1", cseq));
        assert!(matches!(err2, Err(RegisterError::OutOfOrder { .. })));
    }
    assert_eq!(reg.contacts("1001")[0].expires_at, secs(t0, 3600));
    // Another Call-ID (a rebooted phone) starts its own sequence.
    let r = reg
        .register(secs(t0, 10), "1001", req(&[DESK], None, "c2", 1))
        .unwrap();
    assert_eq!(r.changes[0].kind, ChangeKind::Refreshed);
    assert!(reg
        .register(t0, "1001", req(&[DESK], None, "c1", 6))
        .is_ok());
}

#[test]
fn bad_requests() {
    let (mut reg, t0) = setup();
    for bad in [
        "mailto:x@y",
        "<sip:1001@h",
        "Desk sip:1001@h",
        "<tel:+4930123>",
    ] {
        let err = reg
            .register(t0, "1001", req(&[bad], None, "c1", 1))
            .unwrap_err();
        assert_eq!(
            (err.status(), &err),
            (400, &RegisterError::BadContact(bad.into()))
        );
    }
    // A malformed expires is taken as 3600 (RFC 3261 20.19), not refused.
    let r = reg.register(
        t0,
        "1001",
        req(&["sip:1001@h;expires=soon"], Some(60), "c0", 1),
    );
    assert_eq!(r.unwrap().contacts, ["<sip:1001@h>;expires=3600"]);
    reg.register(t0, "1001", req(&["*"], Some(0), "c0", 2))
        .unwrap();
    let err = reg
        .register(t0, "7777", req(&[DESK], None, "c1", 1))
        .unwrap_err();
    assert_eq!(err, RegisterError::UnknownExtension("7777".into()));
    let many: Vec<String> = (0..9).map(|i| format!("sip:1001@10.0.1.{i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let err = reg
        .register(t0, "1001", req(&many, None, "c1", 1))
        .unwrap_err();
    assert_eq!(err, RegisterError::TooManyContacts { max: 8 });
    assert!(reg
        .register(t0, "1001", req(&many[..8], None, "c1", 1))
        .is_ok());
}

#[test]
fn restore_mark_dead_and_removed_accounts() {
    let (mut reg, t0) = setup();
    let binding = |ext: &str, uri: &str, at: u64| Binding {
        extension: ext.into(),
        uri: uri.into(),
        source: "198.51.100.9:5060".parse::<SocketAddr>().unwrap(),
        transport: Transport::Tcp,
        expires_at: secs(t0, at),
    };
    let rejected = reg.restore(vec![
        binding("1001", DESK, 500),
        binding("1001", SOFT, 0),
        binding("1002", "sip:1002@10.0.0.8", 900),
        binding("4242", "sip:4242@10.0.0.9", 900),
    ]);
    assert_eq!(rejected, [binding("4242", "sip:4242@10.0.0.9", 900)]);
    assert_eq!(reg.contacts("1001").len(), 2);
    assert_eq!(reg.contacts("1001")[0].transport.as_str(), "tcp");
    // The one already past its time goes at the first expire.
    assert_eq!(reg.poll_timeout(), Some(t0));
    let changes = reg.handle_timeout(t0);
    assert_eq!((changes.len(), changes[0].binding.uri.as_str()), (1, SOFT));
    // Any REGISTER after a restart is in order.
    assert!(reg
        .register(t0, "1001", req(&[DESK], None, "c1", 1))
        .is_ok());

    assert_eq!(reg.mark_dead("1001", SOFT), None);
    assert_eq!(reg.mark_dead("1002", DESK), None);
    let dead = reg.mark_dead("1001", DESK).unwrap();
    assert_eq!(dead.kind, ChangeKind::Removed(Removal::Dead));
    assert_eq!((dead.agent_id.as_str(), dead.reachable), ("1024", false));
    assert!(reg.contacts("1001").is_empty());

    // Reload without 1002: its binding goes, with its old agent ID.
    let changes = reg.set_accounts(vec![account("1001", "1024", "s3cret")]);
    assert_eq!(changes.len(), 1);
    assert_eq!(
        changes[0].kind,
        ChangeKind::Removed(Removal::AccountRemoved)
    );
    assert_eq!(
        (changes[0].agent_id.as_str(), changes[0].reachable),
        ("2048", false)
    );
    assert!(reg.contacts("1002").is_empty());
    assert_eq!(
        login(&mut reg, t0, ip(1), "1002", "hunter2"),
        AuthOutcome::Forbidden
    );
}

type Lines = Vec<BTreeMap<String, String>>;

thread_local! {
    static CAPTURED: RefCell<Option<Lines>> = const { RefCell::new(None) };
}

/// Records the fields of `hotline::security` events, per test thread. It is the
/// process's one subscriber, installed before any test logs: a scoped subscriber
/// would race other tests' threads over the callsites' cached interest.
struct Capture;

impl Capture {
    fn install() {
        static ONCE: Once = Once::new();
        ONCE.call_once(|| {
            tracing::subscriber::set_global_default(Capture).expect("one subscriber")
        });
    }

    /// The security lines `f` logs on this thread.
    fn on_this_thread(f: impl FnOnce()) -> Lines {
        CAPTURED.with(|c| *c.borrow_mut() = Some(Vec::new()));
        f();
        CAPTURED.with(|c| c.borrow_mut().take().unwrap_or_default())
    }
}

struct Fields(BTreeMap<String, String>);

impl tracing::field::Visit for Fields {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().into(), format!("{value:?}"));
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        if event.metadata().target() == "hotline::security" {
            let mut fields = Fields(BTreeMap::new());
            event.record(&mut fields);
            CAPTURED.with(|c| {
                if let Some(lines) = c.borrow_mut().as_mut() {
                    lines.push(fields.0);
                }
            });
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}
