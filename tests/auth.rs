//! Digest authentication: RFC 7616 vectors, a REGISTER round trip, nonce lifetime,
//! replay protection and header parsing.

use hotline::core::sip::auth::{
    challenge, expected_response, ha1, parse_authorization, verify, Algorithm, AuthError,
    NonceCheck, NonceCounts, NonceIssuer,
};

const SECRET: [u8; 32] = [7u8; 32];

fn rfc7616_header(alg: &str, response: &str) -> String {
    format!(
        "Digest username=\"Mufasa\", realm=\"http-auth@example.org\", uri=\"/dir/index.html\", \
         algorithm={alg}, nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", nc=00000001, \
         cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\", qop=auth, \
         response=\"{response}\", opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\""
    )
}

#[test]
fn rfc7616_example_sha256_and_md5() {
    for (alg, token, expected) in [
        (
            Algorithm::Sha256,
            "SHA-256",
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
        ),
        (Algorithm::Md5, "MD5", "8ca523f5e9506fed4657c9700eebdbec"),
    ] {
        let creds = parse_authorization(&rfc7616_header(token, expected)).unwrap();
        assert_eq!(creds.algorithm, alg);
        assert_eq!(creds.nc, Some(1));
        assert_eq!(
            creds.opaque.as_deref(),
            Some("FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS")
        );
        let h = ha1(alg, "Mufasa", "http-auth@example.org", "Circle of Life");
        assert_eq!(
            expected_response(&creds, "GET", &h).as_deref(),
            Some(expected)
        );
        assert!(verify(&creds, "GET", &h));
        assert!(!verify(&creds, "POST", &h));
    }
}

#[test]
fn algorithm_tokens() {
    assert_eq!(Algorithm::Sha256.token(), "SHA-256");
    assert_eq!(Algorithm::Md5.token(), "MD5");
    assert_eq!(Algorithm::from_token("sha-256"), Some(Algorithm::Sha256));
    assert_eq!(Algorithm::from_token("MD5-sess"), None);
}

#[test]
fn challenge_offers_sha256_then_md5() {
    let c = challenge("hotline.example", "abc", false);
    assert_eq!(
        c,
        vec![
            "Digest realm=\"hotline.example\", nonce=\"abc\", algorithm=SHA-256, qop=\"auth\""
                .to_string(),
            "Digest realm=\"hotline.example\", nonce=\"abc\", algorithm=MD5, qop=\"auth\""
                .to_string(),
        ]
    );
    let stale = challenge("hotline.example", "abc", true);
    assert!(stale.iter().all(|v| v.ends_with(", stale=true")));
    // A realm with a quote survives quoting.
    let odd = challenge("a\"b", "n", false);
    assert!(odd[0].starts_with("Digest realm=\"a\\\"b\""));
}

/// What a phone does with one challenge value: pick the realm/nonce/algorithm and answer.
fn client_answer(www_auth: &str, user: &str, password: &str, uri: &str, nc: u32) -> String {
    let c = parse_challenge(www_auth);
    let alg = Algorithm::from_token(&c.2).unwrap();
    let h1 = ha1(alg, user, &c.0, password);
    let ha2 = alg.hash(format!("REGISTER:{uri}").as_bytes());
    let cnonce = "0a4f113b";
    let resp = alg.hash(format!("{h1}:{}:{nc:08x}:{cnonce}:auth:{ha2}", c.1).as_bytes());
    format!(
        "Digest username=\"{user}\",realm=\"{}\",nonce=\"{}\",uri=\"{uri}\",response=\"{resp}\",\
         algorithm={},cnonce=\"{cnonce}\",qop=auth,nc={nc:08x}",
        c.0, c.1, c.2
    )
}

/// Minimal (realm, nonce, algorithm) extraction, independent of the server's parser.
fn parse_challenge(v: &str) -> (String, String, String) {
    let field = |name: &str| {
        let start = v.find(&format!("{name}=")).unwrap() + name.len() + 1;
        let rest = &v[start..];
        if let Some(q) = rest.strip_prefix('"') {
            q[..q.find('"').unwrap()].to_string()
        } else {
            rest[..rest.find(',').unwrap_or(rest.len())].to_string()
        }
    };
    (field("realm"), field("nonce"), field("algorithm"))
}

#[test]
fn register_round_trip() {
    let issuer = NonceIssuer::new(SECRET, 300);
    let realm = "hotline.example";
    let now = 1_700_000_000;
    let nonce = issuer.issue(now, 42);
    let stored = [
        (
            Algorithm::Sha256,
            ha1(Algorithm::Sha256, "1001", realm, "s3cret"),
        ),
        (Algorithm::Md5, ha1(Algorithm::Md5, "1001", realm, "s3cret")),
    ];
    let uri = "sip:hotline.example";
    let mut counts = NonceCounts::new(16);
    for (i, www) in challenge(realm, &nonce, false).iter().enumerate() {
        let header = client_answer(www, "1001", "s3cret", uri, i as u32 + 1);
        let creds = parse_authorization(&header).unwrap();
        let h = &stored
            .iter()
            .find(|(a, _)| *a == creds.algorithm)
            .unwrap()
            .1;
        assert_eq!(issuer.check(&creds.nonce, now + 10), NonceCheck::Valid);
        assert!(counts.accept(&creds.nonce, creds.nc.unwrap()));
        assert!(verify(&creds, "REGISTER", h), "{header}");

        // Wrong password.
        let bad = parse_authorization(&client_answer(www, "1001", "guess", uri, 9)).unwrap();
        assert!(!verify(&bad, "REGISTER", h));

        // Tampered uri: response was computed for another request-URI.
        let mut tampered = creds.clone();
        tampered.uri = "sip:evil.example".into();
        assert!(!verify(&tampered, "REGISTER", h));

        // Wrong method.
        assert!(!verify(&creds, "INVITE", h));
        // Hash of the other algorithm never matches.
        let other = &stored
            .iter()
            .find(|(a, _)| *a != creds.algorithm)
            .unwrap()
            .1;
        assert!(!verify(&creds, "REGISTER", other));
    }
}

#[test]
fn rfc2069_form_only_for_md5() {
    let realm = "r";
    let h = ha1(Algorithm::Md5, "u", realm, "p");
    let ha2 = Algorithm::Md5.hash(b"REGISTER:sip:r");
    let resp = Algorithm::Md5.hash(format!("{h}:n1:{ha2}").as_bytes());
    let creds = parse_authorization(&format!(
        "Digest username=\"u\", realm=\"r\", nonce=\"n1\", uri=\"sip:r\", response=\"{resp}\""
    ))
    .unwrap();
    assert_eq!(creds.algorithm, Algorithm::Md5);
    assert_eq!(creds.qop, None);
    assert!(verify(&creds, "REGISTER", &h));
    // Upper-case hex from the client is still the same response.
    let mut upper = creds.clone();
    upper.response = resp.to_uppercase();
    assert!(verify(&upper, "REGISTER", &h));

    let h256 = ha1(Algorithm::Sha256, "u", realm, "p");
    let ha2 = Algorithm::Sha256.hash(b"REGISTER:sip:r");
    let resp = Algorithm::Sha256.hash(format!("{h256}:n1:{ha2}").as_bytes());
    let creds = parse_authorization(&format!(
        "Digest username=\"u\", realm=\"r\", nonce=\"n1\", uri=\"sip:r\", response=\"{resp}\", algorithm=SHA-256"
    ))
    .unwrap();
    assert!(!verify(&creds, "REGISTER", &h256));
}

#[test]
fn nonce_lifetime_and_forgery() {
    let issuer = NonceIssuer::new(SECRET, 300);
    let now = 1_000_000;
    let nonce = issuer.issue(now, 0xdead_beef);
    assert_ne!(nonce, issuer.issue(now, 0xdead_bef0));
    assert_eq!(issuer.check(&nonce, now), NonceCheck::Valid);
    assert_eq!(issuer.check(&nonce, now + 300), NonceCheck::Valid);
    assert_eq!(issuer.check(&nonce, now + 301), NonceCheck::Stale);

    // Another secret did not issue it.
    let other = NonceIssuer::new([8u8; 32], 300);
    assert_eq!(other.check(&nonce, now), NonceCheck::Invalid);

    // Refreshing the timestamp without the secret breaks the MAC.
    let forged = format!("{:016x}{}", now + 1000, &nonce[16..]);
    assert_eq!(issuer.check(&forged, now + 1000), NonceCheck::Invalid);
    // A flipped MAC character.
    let mut flipped = nonce.clone().into_bytes();
    let last = flipped.len() - 1;
    flipped[last] = if flipped[last] == b'0' { b'1' } else { b'0' };
    let flipped = String::from_utf8(flipped).unwrap();
    assert_eq!(issuer.check(&flipped, now), NonceCheck::Invalid);
    // Malformed.
    for bad in [
        "",
        "xyz",
        &nonce[..nonce.len() - 1],
        "é".repeat(48).as_str(),
    ] {
        assert_eq!(issuer.check(bad, now), NonceCheck::Invalid, "{bad:?}");
    }
    // A forged stale nonce is Invalid, not Stale.
    assert_eq!(issuer.check(&forged, now + 10_000), NonceCheck::Invalid);
    // The secret is not in Debug output.
    assert!(!format!("{issuer:?}").contains('7'));
}

#[test]
fn nonce_count_replay_refused() {
    let mut counts = NonceCounts::new(2);
    assert!(counts.is_empty());
    assert!(counts.accept("a", 1));
    assert!(!counts.accept("a", 1), "same nc replayed");
    assert!(counts.accept("a", 2));
    assert!(!counts.accept("a", 1), "older nc");
    assert!(counts.accept("a", 5), "gaps are fine");
    assert!(!counts.accept("b", 0), "nc starts at 1");
    assert!(counts.accept("b", 1));
    assert_eq!(counts.len(), 2);
    // Capacity 2: "c" evicts the oldest, "a".
    assert!(counts.accept("c", 1));
    assert_eq!(counts.len(), 2);
    assert!(!counts.accept("b", 1), "b still remembered");
    assert!(!counts.accept("c", 1), "c remembered");
    assert!(counts.accept("a", 1), "a was forgotten");
}

#[test]
fn parse_odd_formatting() {
    let creds = parse_authorization(
        "  digest   USERNAME = \"agent, one\" ,\r\n\trealm=\"a \\\"quoted\\\" realm\",\
         Nonce=\"n\\\\x\",uri=\"sip:x;transport=tcp\" , response=\"abc\",,  \
         ALGORITHM=sha-256, qop=\"AUTH\", nc=0000000a, cnonce=\"c=1, 2\", unknown=token",
    )
    .unwrap();
    assert_eq!(creds.username, "agent, one");
    assert_eq!(creds.realm, "a \"quoted\" realm");
    assert_eq!(creds.nonce, "n\\x");
    assert_eq!(creds.uri, "sip:x;transport=tcp");
    assert_eq!(creds.response, "abc");
    assert_eq!(creds.algorithm, Algorithm::Sha256);
    assert_eq!(creds.qop.as_deref(), Some("auth"));
    assert_eq!(creds.nc, Some(10));
    assert_eq!(creds.cnonce.as_deref(), Some("c=1, 2"));
    assert_eq!(creds.opaque, None);
}

#[test]
fn parse_bad_headers() {
    let base = "username=\"u\", realm=\"r\", nonce=\"n\", uri=\"sip:r\", response=\"x\"";
    assert_eq!(
        parse_authorization(&format!("Basic {base}")),
        Err(AuthError::Scheme)
    );
    assert_eq!(
        parse_authorization("Basic dXNlcjpwYXNz"),
        Err(AuthError::Scheme)
    );
    assert_eq!(parse_authorization(""), Err(AuthError::Scheme));
    assert_eq!(
        parse_authorization(&format!("Digestive {base}")),
        Err(AuthError::Scheme)
    );
    for field in ["username", "realm", "nonce", "uri", "response"] {
        let without: Vec<&str> = base.split(", ").filter(|p| !p.starts_with(field)).collect();
        assert_eq!(
            parse_authorization(&format!("Digest {}", without.join(", "))),
            Err(AuthError::Missing(field))
        );
    }
    let with = |extra: &str| parse_authorization(&format!("Digest {base}, {extra}"));
    assert_eq!(
        with("qop=auth, cnonce=\"c\""),
        Err(AuthError::Missing("nc"))
    );
    assert_eq!(
        with("qop=auth, nc=00000001"),
        Err(AuthError::Missing("cnonce"))
    );
    for nc in ["1", "000000001", "0000000g", "\"\"", "-0000001"] {
        assert!(
            matches!(
                with(&format!("qop=auth, cnonce=\"c\", nc={nc}")),
                Err(AuthError::BadNc(_))
            ),
            "{nc}"
        );
    }
    assert_eq!(
        with("algorithm=SHA-512-256"),
        Err(AuthError::Algorithm("SHA-512-256".into()))
    );
    assert_eq!(
        with("qop=auth-int, nc=00000001, cnonce=\"c\""),
        Err(AuthError::Qop("auth-int".into()))
    );
    assert_eq!(
        with("realm=\"again\""),
        Err(AuthError::Duplicate("realm".into()))
    );
    for bad in [
        "opaque=\"unterminated",
        "opaque=\"dangling\\",
        "opaque",
        "opaque=",
        "=x",
        "opaque=a b",
        "opaque=\"a\"b",
    ] {
        assert!(
            matches!(with(bad), Err(AuthError::Syntax(_))),
            "{bad}: {:?}",
            with(bad)
        );
    }
}
