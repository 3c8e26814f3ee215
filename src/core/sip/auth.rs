//! HTTP Digest authentication for SIP (RFC 3261 22, RFC 7616, RFC 8760).
//!
//! Pure and sans-IO: time arrives as `now_secs`, randomness as a `u64`, so the registrar
//! decides where both come from and tests stay deterministic.

use std::collections::{HashMap, VecDeque};

use md5::Md5;
use sha2::{Digest, Sha256};

/// Digest hash algorithms we accept; SHA-256 is preferred, MD5 kept for older phones
/// (RFC 8760 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    Sha256,
    Md5,
}

impl Algorithm {
    /// The `algorithm=` token on the wire.
    pub fn token(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Md5 => "MD5",
        }
    }

    /// Parses an `algorithm=` token; `-sess` variants are not supported.
    pub fn from_token(token: &str) -> Option<Self> {
        if token.eq_ignore_ascii_case("SHA-256") {
            Some(Algorithm::Sha256)
        } else if token.eq_ignore_ascii_case("MD5") {
            Some(Algorithm::Md5)
        } else {
            None
        }
    }

    /// Lower-case hex digest of `data`, the `H()` of RFC 7616 3.4.
    pub fn hash(self, data: &[u8]) -> String {
        match self {
            Algorithm::Sha256 => hex::encode(Sha256::digest(data)),
            Algorithm::Md5 => hex::encode(Md5::digest(data)),
        }
    }
}

/// Why an Authorization header could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("authorization scheme is not Digest")]
    Scheme,
    #[error("malformed authorization header: {0}")]
    Syntax(String),
    #[error("missing digest parameter {0}")]
    Missing(&'static str),
    #[error("duplicate digest parameter {0}")]
    Duplicate(String),
    #[error("bad nonce count {0:?}")]
    BadNc(String),
    #[error("unsupported digest algorithm {0:?}")]
    Algorithm(String),
    #[error("unsupported qop {0:?}")]
    Qop(String),
}

/// HA1 = H(user:realm:password); agents' passwords are stored only in this form, one
/// value per algorithm, so a leaked table does not reveal the plain passwords.
pub fn ha1(alg: Algorithm, user: &str, realm: &str, password: &str) -> String {
    alg.hash(format!("{user}:{realm}:{password}").as_bytes())
}

/// Outcome of checking a nonce we issued earlier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceCheck {
    Valid,
    /// Genuine but too old: re-challenge with `stale=true` so the phone retries silently.
    Stale,
    /// Not one of ours (forged, truncated, or tampered with).
    Invalid,
}

/// Issues stateless nonces: `hex(ts) || hex(rand) || hex(SHA-256(secret || those 32 chars))`,
/// so any registrar instance sharing the secret can check them without storing anything.
#[derive(Clone)]
pub struct NonceIssuer {
    secret: [u8; 32],
    lifetime_secs: u64,
}

impl std::fmt::Debug for NonceIssuer {
    // Keeps the secret out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NonceIssuer")
            .field("lifetime_secs", &self.lifetime_secs)
            .finish_non_exhaustive()
    }
}

const NONCE_DATA_LEN: usize = 32;
const NONCE_LEN: usize = NONCE_DATA_LEN + 64;

impl NonceIssuer {
    pub fn new(secret: [u8; 32], lifetime_secs: u64) -> Self {
        NonceIssuer {
            secret,
            lifetime_secs,
        }
    }

    fn mac(&self, data: &str) -> String {
        let mut h = Sha256::new();
        h.update(self.secret);
        h.update(data.as_bytes());
        hex::encode(h.finalize())
    }

    /// A fresh nonce stamped with `now_secs`; `rand` keeps nonces issued in the same
    /// second distinct.
    pub fn issue(&self, now_secs: u64, rand: u64) -> String {
        let data = format!("{now_secs:016x}{rand:016x}");
        let mac = self.mac(&data);
        data + &mac
    }

    /// Checks the MAC first (so forgeries never look merely stale), then the age.
    /// A timestamp slightly in the future (clock stepped back) is still accepted: the MAC
    /// proves we issued it.
    pub fn check(&self, nonce: &str, now_secs: u64) -> NonceCheck {
        if nonce.len() != NONCE_LEN || !nonce.is_ascii() {
            return NonceCheck::Invalid;
        }
        let (data, mac) = nonce.split_at(NONCE_DATA_LEN);
        if !ct_eq(self.mac(data).as_bytes(), mac.as_bytes()) {
            return NonceCheck::Invalid;
        }
        let Ok(issued) = u64::from_str_radix(&data[..16], 16) else {
            return NonceCheck::Invalid;
        };
        if now_secs.saturating_sub(issued) > self.lifetime_secs {
            NonceCheck::Stale
        } else {
            NonceCheck::Valid
        }
    }
}

/// The WWW-Authenticate values for a 401: SHA-256 first, then MD5, since RFC 8760 2.4
/// has servers offer every algorithm they support in order of preference.
pub fn challenge(realm: &str, nonce: &str, stale: bool) -> Vec<String> {
    [Algorithm::Sha256, Algorithm::Md5]
        .iter()
        .map(|alg| {
            let mut v = format!(
                "Digest realm=\"{}\", nonce=\"{}\", algorithm={}, qop=\"auth\"",
                quote(realm),
                quote(nonce),
                alg.token()
            );
            if stale {
                v.push_str(", stale=true");
            }
            v
        })
        .collect()
}

fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A Digest challenge from a server we call or register with (WWW-Authenticate on 401,
/// Proxy-Authenticate on 407), reduced to what answering it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub realm: String,
    pub nonce: String,
    pub algorithm: Algorithm,
    /// The server offered `qop=auth`; without it we answer in the RFC 2617 form.
    pub qop_auth: bool,
    /// Echoed back unchanged (RFC 7616 3.3).
    pub opaque: Option<String>,
    /// Our previous credentials were right but the nonce expired: retrying is expected.
    pub stale: bool,
}

/// Parses a WWW-Authenticate or Proxy-Authenticate value. Algorithms other than MD5 and
/// SHA-256 and qop lists without `auth` are refused, since we could not answer them.
pub fn parse_challenge(value: &str) -> Result<Challenge, AuthError> {
    let value = value.trim_start_matches(is_lws);
    let scheme_end = value.find(is_lws).unwrap_or(value.len());
    if !value[..scheme_end].eq_ignore_ascii_case("Digest") {
        return Err(AuthError::Scheme);
    }
    let params = parse_params(&value[scheme_end..])?;
    let need = |name: &'static str| params.get(name).cloned().ok_or(AuthError::Missing(name));
    let realm = need("realm")?;
    let nonce = need("nonce")?;
    let algorithm = match params.get("algorithm") {
        None => Algorithm::Md5,
        Some(a) => Algorithm::from_token(a).ok_or_else(|| AuthError::Algorithm(a.clone()))?,
    };
    let qop_auth = match params.get("qop") {
        None => false,
        Some(list) => {
            if !list
                .split(',')
                .any(|q| q.trim().eq_ignore_ascii_case("auth"))
            {
                return Err(AuthError::Qop(list.clone()));
            }
            true
        }
    };
    Ok(Challenge {
        realm,
        nonce,
        algorithm,
        qop_auth,
        opaque: params.get("opaque").cloned(),
        stale: params
            .get("stale")
            .is_some_and(|s| s.eq_ignore_ascii_case("true")),
    })
}

/// The challenge to answer among those a response carried: servers offer one per
/// algorithm (RFC 8760 2.4), and SHA-256 is preferred over MD5; unusable ones are skipped.
pub fn best_challenge<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<Challenge> {
    values
        .into_iter()
        .filter_map(|v| parse_challenge(v).ok())
        .min_by_key(|c| match c.algorithm {
            Algorithm::Sha256 => 0,
            Algorithm::Md5 => 1,
        })
}

/// The Authorization (or Proxy-Authorization) value answering `ch` for a request with
/// this method and Request-URI. `cnonce` should be unpredictable and `nc` counts the
/// requests sent with this nonce, starting at 1 (RFC 7616 3.4).
pub fn authorization(
    ch: &Challenge,
    user: &str,
    password: &str,
    method: &str,
    uri: &str,
    cnonce: &str,
    nc: u32,
) -> String {
    let alg = ch.algorithm;
    let ha1 = ha1(alg, user, &ch.realm, password);
    let ha2 = alg.hash(format!("{method}:{uri}").as_bytes());
    let response = if ch.qop_auth {
        alg.hash(format!("{ha1}:{}:{nc:08x}:{cnonce}:auth:{ha2}", ch.nonce).as_bytes())
    } else {
        alg.hash(format!("{ha1}:{}:{ha2}", ch.nonce).as_bytes())
    };
    let mut v = format!(
        "Digest username=\"{}\", realm=\"{}\", nonce=\"{}\", uri=\"{}\", response=\"{response}\", algorithm={}",
        quote(user),
        quote(&ch.realm),
        quote(&ch.nonce),
        quote(uri),
        alg.token()
    );
    if ch.qop_auth {
        v.push_str(&format!(
            ", qop=auth, nc={nc:08x}, cnonce=\"{}\"",
            quote(cnonce)
        ));
    }
    if let Some(o) = &ch.opaque {
        v.push_str(&format!(", opaque=\"{}\"", quote(o)));
    }
    v
}

/// The parameters of a Digest Authorization header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub realm: String,
    pub nonce: String,
    pub uri: String,
    pub response: String,
    /// MD5 when absent (RFC 7616 3.4).
    pub algorithm: Algorithm,
    /// Only `auth` is supported; `None` means the RFC 2069 form.
    pub qop: Option<String>,
    pub nc: Option<u32>,
    pub cnonce: Option<String>,
    pub opaque: Option<String>,
}

/// Parses an Authorization (or Proxy-Authorization) header value.
pub fn parse_authorization(value: &str) -> Result<Credentials, AuthError> {
    let value = value.trim_start_matches(is_lws);
    let scheme_end = value.find(is_lws).unwrap_or(value.len());
    if !value[..scheme_end].eq_ignore_ascii_case("Digest") {
        return Err(AuthError::Scheme);
    }
    let params = parse_params(&value[scheme_end..])?;
    let get = |name: &'static str| params.get(name).cloned();
    let need = |name: &'static str| get(name).ok_or(AuthError::Missing(name));
    let username = need("username")?;
    let realm = need("realm")?;
    let nonce = need("nonce")?;
    let uri = need("uri")?;
    let response = need("response")?;
    let algorithm = match get("algorithm") {
        None => Algorithm::Md5,
        Some(a) => Algorithm::from_token(&a).ok_or(AuthError::Algorithm(a))?,
    };
    let qop = get("qop");
    let (nc, cnonce) = match &qop {
        None => (None, get("cnonce")),
        Some(q) if q.eq_ignore_ascii_case("auth") => {
            let raw = get("nc").ok_or(AuthError::Missing("nc"))?;
            let cnonce = get("cnonce").ok_or(AuthError::Missing("cnonce"))?;
            (Some(parse_nc(&raw)?), Some(cnonce))
        }
        Some(q) => return Err(AuthError::Qop(q.clone())),
    };
    Ok(Credentials {
        username,
        realm,
        nonce,
        uri,
        response,
        algorithm,
        qop: qop.map(|q| q.to_ascii_lowercase()),
        nc,
        cnonce,
        opaque: get("opaque"),
    })
}

/// nc is exactly 8 hex digits (RFC 7616 3.4); anything else is a broken or hostile client.
fn parse_nc(raw: &str) -> Result<u32, AuthError> {
    if raw.len() != 8 || !raw.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AuthError::BadNc(raw.to_string()));
    }
    u32::from_str_radix(raw, 16).map_err(|_| AuthError::BadNc(raw.to_string()))
}

fn is_lws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// `name=value` pairs separated by commas; names lower-cased, quoted values unescaped.
fn parse_params(s: &str) -> Result<HashMap<String, String>, AuthError> {
    let mut out = HashMap::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|&c| is_lws(c) || c == ',') {
            chars.next();
        }
        if chars.peek().is_none() {
            return Ok(out);
        }
        let mut name = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || is_lws(c) || c == ',' || c == '"' {
                break;
            }
            name.push(c.to_ascii_lowercase());
            chars.next();
        }
        while chars.peek().is_some_and(|&c| is_lws(c)) {
            chars.next();
        }
        if name.is_empty() || chars.next() != Some('=') {
            return Err(AuthError::Syntax(format!(
                "expected name=value near {name:?}"
            )));
        }
        while chars.peek().is_some_and(|&c| is_lws(c)) {
            chars.next();
        }
        let mut val = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    None => return Err(AuthError::Syntax("unterminated quoted string".into())),
                    Some('"') => break,
                    Some('\\') => match chars.next() {
                        Some(c) => val.push(c),
                        None => return Err(AuthError::Syntax("dangling escape".into())),
                    },
                    Some(c) => val.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' || is_lws(c) {
                    break;
                }
                if c == '"' || c == '=' {
                    return Err(AuthError::Syntax(format!("stray {c:?} in {name}")));
                }
                val.push(c);
                chars.next();
            }
            if val.is_empty() {
                return Err(AuthError::Syntax(format!("empty value for {name}")));
            }
        }
        while chars.peek().is_some_and(|&c| is_lws(c)) {
            chars.next();
        }
        if chars.peek().is_some_and(|&c| c != ',') {
            return Err(AuthError::Syntax(format!("missing comma after {name}")));
        }
        if out.contains_key(&name) {
            return Err(AuthError::Duplicate(name));
        }
        out.insert(name, val);
    }
}

/// The response a client holding `ha1` should send for these credentials, or `None` when
/// the combination is not allowed (RFC 2069 form with anything but MD5). The registrar
/// uses `verify`; this is exposed for test clients and outbound registration.
pub fn expected_response(creds: &Credentials, method: &str, ha1: &str) -> Option<String> {
    let alg = creds.algorithm;
    let ha2 = alg.hash(format!("{method}:{}", creds.uri).as_bytes());
    let input = match (&creds.qop, creds.nc, &creds.cnonce) {
        (Some(qop), Some(nc), Some(cnonce)) if qop == "auth" => {
            format!("{ha1}:{}:{nc:08x}:{cnonce}:{qop}:{ha2}", creds.nonce)
        }
        (None, _, _) if alg == Algorithm::Md5 => format!("{ha1}:{}:{ha2}", creds.nonce),
        _ => return None,
    };
    Some(alg.hash(input.as_bytes()))
}

/// True when the client's response matches; compared in constant time so timing does
/// not leak how many leading characters were right. Nonce freshness and nc replay are
/// the caller's job (`NonceIssuer::check`, `NonceCounts::accept`).
pub fn verify(creds: &Credentials, method: &str, ha1: &str) -> bool {
    let Some(expected) = expected_response(creds, method, ha1) else {
        return false;
    };
    let got = creds.response.to_ascii_lowercase();
    ct_eq(expected.as_bytes(), got.as_bytes())
}

fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// Highest nc seen per nonce, so a captured Authorization cannot be replayed while its
/// nonce is still fresh. Bounded: beyond `capacity` the oldest nonce is forgotten, which
/// only reopens replay for that nonce until it goes stale.
#[derive(Debug, Clone)]
pub struct NonceCounts {
    capacity: usize,
    seen: HashMap<String, u32>,
    order: VecDeque<String>,
}

impl NonceCounts {
    pub fn new(capacity: usize) -> Self {
        NonceCounts {
            capacity: capacity.max(1),
            seen: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// Records `nc` for `nonce` if it is higher than any seen before; nc starts at 1.
    pub fn accept(&mut self, nonce: &str, nc: u32) -> bool {
        if let Some(highest) = self.seen.get_mut(nonce) {
            if nc > *highest {
                *highest = nc;
                return true;
            }
            return false;
        }
        if nc == 0 {
            return false;
        }
        while self.seen.len() >= self.capacity {
            match self.order.pop_front() {
                Some(old) => {
                    self.seen.remove(&old);
                }
                None => break,
            }
        }
        self.seen.insert(nonce.to_string(), nc);
        self.order.push_back(nonce.to_string());
        true
    }

    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONCE: &str = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
    const OPAQUE: &str = "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS";
    const CNONCE: &str = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";

    fn rfc7616_challenge(alg: &str) -> String {
        format!(
            "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", algorithm={alg}, nonce=\"{NONCE}\", opaque=\"{OPAQUE}\""
        )
    }

    fn param<'a>(header: &'a str, name: &str) -> &'a str {
        let creds = header.strip_prefix("Digest ").unwrap();
        split_params(creds)
            .into_iter()
            .find_map(|(n, v)| (n == name).then_some(v))
            .unwrap_or_else(|| panic!("no {name} in {header}"))
    }

    fn split_params(s: &str) -> Vec<(&str, &str)> {
        s.split(", ")
            .map(|p| {
                let (n, v) = p.split_once('=').unwrap();
                (n, v.trim_matches('"'))
            })
            .collect()
    }

    #[test]
    fn rfc7616_3_9_1_example_responses() {
        for (token, expected) in [
            (
                "SHA-256",
                "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
            ),
            ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
        ] {
            let ch = parse_challenge(&rfc7616_challenge(token)).unwrap();
            assert!(ch.qop_auth);
            assert_eq!(ch.opaque.as_deref(), Some(OPAQUE));
            let h = authorization(
                &ch,
                "Mufasa",
                "Circle of Life",
                "GET",
                "/dir/index.html",
                CNONCE,
                1,
            );
            assert_eq!(param(&h, "response"), expected, "{token}");
            assert_eq!(param(&h, "nc"), "00000001");
            assert_eq!(param(&h, "qop"), "auth");
            assert_eq!(param(&h, "algorithm"), token);
            assert_eq!(param(&h, "opaque"), OPAQUE);
        }
    }

    #[test]
    fn parse_challenge_reads_every_parameter() {
        let ch = parse_challenge(
            "Digest realm=\"sip.carrier.example\", nonce=\"n1\", algorithm=SHA-256, qop=\"auth,auth-int\", opaque=\"o\", stale=TRUE",
        )
        .unwrap();
        assert_eq!(
            ch,
            Challenge {
                realm: "sip.carrier.example".into(),
                nonce: "n1".into(),
                algorithm: Algorithm::Sha256,
                qop_auth: true,
                opaque: Some("o".into()),
                stale: true,
            }
        );
        let plain = parse_challenge("Digest realm=\"r\", nonce=\"n\"").unwrap();
        assert_eq!(plain.algorithm, Algorithm::Md5, "MD5 when absent");
        assert!(!plain.qop_auth && !plain.stale && plain.opaque.is_none());
        assert_eq!(
            parse_challenge("Digest realm=\"r\", nonce=\"n\", qop=auth").map(|c| c.qop_auth),
            Ok(true)
        );
    }

    #[test]
    fn parse_challenge_refuses_what_we_cannot_answer() {
        assert_eq!(parse_challenge("Basic realm=\"r\""), Err(AuthError::Scheme));
        assert_eq!(
            parse_challenge("Digest realm=\"r\", nonce=\"n\", algorithm=SHA-512-256"),
            Err(AuthError::Algorithm("SHA-512-256".into()))
        );
        assert_eq!(
            parse_challenge("Digest realm=\"r\", nonce=\"n\", algorithm=MD5-sess"),
            Err(AuthError::Algorithm("MD5-sess".into()))
        );
        assert_eq!(
            parse_challenge("Digest realm=\"r\", nonce=\"n\", qop=\"auth-int\""),
            Err(AuthError::Qop("auth-int".into()))
        );
        assert_eq!(
            parse_challenge("Digest realm=\"r\""),
            Err(AuthError::Missing("nonce"))
        );
    }

    #[test]
    fn best_challenge_prefers_sha256_and_skips_unusable() {
        let values = [
            "Digest realm=\"r\", nonce=\"a\", algorithm=MD5, qop=\"auth\"",
            "Digest realm=\"r\", nonce=\"b\", algorithm=SHA-512-256, qop=\"auth\"",
            "Digest realm=\"r\", nonce=\"c\", algorithm=SHA-256, qop=\"auth\"",
        ];
        assert_eq!(best_challenge(values).unwrap().nonce, "c");
        assert_eq!(
            best_challenge(values[..2].iter().copied()).unwrap().nonce,
            "a"
        );
        assert_eq!(best_challenge([values[1], "Basic realm=\"x\""]), None);
        assert_eq!(
            best_challenge(challenge("h", "n", false).iter().map(String::as_str))
                .unwrap()
                .algorithm,
            Algorithm::Sha256
        );
    }

    #[test]
    fn our_authorization_passes_the_server_side_check() {
        for (alg, stale) in [(Algorithm::Sha256, false), (Algorithm::Md5, true)] {
            let values = challenge("hotline.example", "nonce-1", stale);
            let offered = values.iter().find(|v| v.contains(alg.token())).unwrap();
            let ch = parse_challenge(offered).unwrap();
            assert_eq!(ch.stale, stale);
            let h = authorization(
                &ch,
                "1001",
                "s3cret \"x\"",
                "REGISTER",
                "sip:hotline.example",
                "abc",
                3,
            );
            let creds = parse_authorization(&h).unwrap();
            assert_eq!(creds.username, "1001");
            assert_eq!(creds.nc, Some(3));
            assert_eq!(creds.algorithm, alg);
            let right = ha1(alg, "1001", "hotline.example", "s3cret \"x\"");
            let wrong = ha1(alg, "1001", "hotline.example", "guess");
            assert!(verify(&creds, "REGISTER", &right));
            assert!(!verify(&creds, "INVITE", &right));
            assert!(!verify(&creds, "REGISTER", &wrong));
        }
    }

    #[test]
    fn without_qop_the_rfc2617_form_is_sent() {
        let ch = parse_challenge("Digest realm=\"r\", nonce=\"n\"").unwrap();
        let h = authorization(&ch, "u", "p", "INVITE", "sip:x@r", "unused", 1);
        assert!(!h.contains("qop=") && !h.contains("cnonce=") && !h.contains("nc="));
        let creds = parse_authorization(&h).unwrap();
        assert!(verify(
            &creds,
            "INVITE",
            &ha1(Algorithm::Md5, "u", "r", "p")
        ));
        let ha2 = Algorithm::Md5.hash(b"INVITE:sip:x@r");
        let expected = Algorithm::Md5
            .hash(format!("{}:n:{ha2}", ha1(Algorithm::Md5, "u", "r", "p")).as_bytes());
        assert_eq!(creds.response, expected);
    }
}
