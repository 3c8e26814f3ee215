//! `trunks.toml`: the SIP trunks hotline places outbound calls through (a carrier or a
//! PBX), in the order they are tried, and the prefix agents dial to reach an outside
//! number, and how the callback dialer paces itself. Read and checked here (`hotline check`
//! refuses a bad file with the trunk and the reason); the switchboard places the calls.
//!
//! ```toml
//! [dial_out]
//! prefix = "9"                  # agents dial 9 + the number
//!
//! [dialer]                      # the callback dialer (defaults shown)
//! retry_after_mins = 30         # wait after a failed attempt
//! max_attempts = 3              # then the follow-up is unreachable, for a supervisor
//! ring_secs = 45                # how long the customer's phone rings
//! preview_secs = 30             # the agent's time to answer the preview and press 1 or 2
//!
//! [[trunks]]
//! name = "carrier"
//! address = "sip.carrier.example:5060"
//! transport = "udp"             # or "tcp"
//! caller_id = "4008001234"      # the company's number, shown to customers
//! strip = "+86"                 # removed from the front of a number, then
//! add = "0"                     # put in front (national format)
//! max_calls = 30
//! [trunks.register]             # optional: hotline registers as a UAC
//! user = "hotline"
//! password = "..."
//! expires_secs = 3600
//! [trunks.auth]                 # optional: answers the trunk's digest challenge to
//! user = "hotline"              # an INVITE; without it, register's user and password
//! password = "..."              # are used
//! ```
//!
//! A carrier that registers its customers usually challenges their INVITEs with the
//! same credentials (`register` alone is enough); one that authenticates by IP address
//! wants neither; one that challenges INVITEs without a registration takes `auth` alone.

use std::fmt;

use serde::Deserialize;

/// How hotline reaches a trunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrunkTransport {
    Udp,
    Tcp,
}

impl TrunkTransport {
    /// As stored in `calls.transport`.
    pub fn as_str(self) -> &'static str {
        match self {
            TrunkTransport::Udp => "udp",
            TrunkTransport::Tcp => "tcp",
        }
    }
}

/// Registration with the trunk (hotline as the client); without it the trunk
/// authenticates hotline by its IP address.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    pub user: String,
    pub password: String,
    #[serde(default = "default_expires")]
    pub expires_secs: u32,
}

fn default_expires() -> u32 {
    3600
}

/// The password never shows.
impl fmt::Debug for Registration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registration")
            .field("user", &self.user)
            .field("password", &"****")
            .field("expires_secs", &self.expires_secs)
            .finish()
    }
}

/// The user and password that answer a trunk's digest challenge to an INVITE.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    pub user: String,
    pub password: String,
}

/// The password never shows.
impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"****")
            .finish()
    }
}

/// One trunk, as declared.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trunk {
    pub name: String,
    /// `host:port` (a name or an address; IPv6 in brackets).
    pub address: String,
    #[serde(default = "default_transport")]
    pub transport: TrunkTransport,
    /// The number customers see.
    pub caller_id: String,
    /// Removed from the front of a number before dialling, when present.
    #[serde(default)]
    pub strip: String,
    /// Put in front of the number after `strip`.
    #[serde(default)]
    pub add: String,
    /// Calls at once through this trunk; more go to the next trunk.
    #[serde(default = "default_max_calls")]
    pub max_calls: u32,
    pub register: Option<Registration>,
    /// For INVITE challenges; `register`'s credentials when absent.
    pub auth: Option<Credentials>,
}

fn default_transport() -> TrunkTransport {
    TrunkTransport::Udp
}

fn default_max_calls() -> u32 {
    30
}

impl Trunk {
    /// `number` as this trunk wants it: `strip` removed from its front, then `add`.
    pub fn rewrite(&self, number: &str) -> String {
        let rest = match self.strip.is_empty() {
            true => number,
            false => number.strip_prefix(self.strip.as_str()).unwrap_or(number),
        };
        format!("{}{rest}", self.add)
    }

    /// The user and password that answer a challenge to an INVITE, if any: `auth`, else
    /// `register`'s.
    pub fn invite_credentials(&self) -> Option<(&str, &str)> {
        match (&self.auth, &self.register) {
            (Some(a), _) => Some((&a.user, &a.password)),
            (None, Some(r)) => Some((&r.user, &r.password)),
            (None, None) => None,
        }
    }
}

/// What agents dial to reach an outside number.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DialOut {
    pub prefix: String,
}

/// How the callback dialer paces its calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DialerSettings {
    /// Wait after a failed attempt before the next one.
    pub retry_after_mins: u32,
    /// Attempts before a follow-up is marked unreachable for a supervisor.
    pub max_attempts: u32,
    /// How long the customer's phone may ring.
    pub ring_secs: u32,
    /// How long an agent has to answer the preview and press 1 or 2.
    pub preview_secs: u32,
}

impl Default for DialerSettings {
    fn default() -> Self {
        DialerSettings {
            retry_after_mins: 30,
            max_attempts: 3,
            ring_secs: 45,
            preview_secs: 30,
        }
    }
}

/// The whole file: trunks in the order they are tried.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trunks {
    pub dial_out: Option<DialOut>,
    #[serde(default)]
    pub dialer: DialerSettings,
    #[serde(default)]
    pub trunks: Vec<Trunk>,
}

/// Why `trunks.toml` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrunksError {
    #[error("{0}")]
    Syntax(String),
    #[error("trunk {trunk:?}: {problem}")]
    Invalid { trunk: String, problem: String },
    #[error("[dial_out] prefix {0:?}: 1 to 4 keys (0-9, *, #)")]
    DialOut(String),
    #[error("[dialer] {0}")]
    Dialer(String),
}

/// Parses and checks the file's text.
pub fn parse(text: &str) -> Result<Trunks, TrunksError> {
    let file: Trunks = toml::from_str(text).map_err(|e| TrunksError::Syntax(e.to_string()))?;
    let mut seen = std::collections::BTreeSet::new();
    for t in &file.trunks {
        let bad = |problem: String| TrunksError::Invalid {
            trunk: t.name.clone(),
            problem,
        };
        if t.name.is_empty() || !seen.insert(t.name.as_str()) {
            return Err(bad("the name is empty or used twice".into()));
        }
        check_address(&t.address).map_err(bad)?;
        if !is_number(&t.caller_id) {
            return Err(bad(format!(
                "caller_id {:?} is not a number (digits, an optional leading +)",
                t.caller_id
            )));
        }
        if !t.strip.is_empty() && !is_number(&t.strip) || !t.add.chars().all(|c| c.is_ascii_digit())
        {
            return Err(bad(
                "strip and add are digits (strip may start with +)".into()
            ));
        }
        if t.max_calls == 0 {
            return Err(bad("max_calls must be at least 1".into()));
        }
        if let Some(r) = &t.register {
            if r.user.is_empty() || r.password.is_empty() {
                return Err(bad("register needs a user and a password".into()));
            }
            if !(60..=86_400).contains(&r.expires_secs) {
                return Err(bad("register expires_secs is 60 to 86400".into()));
            }
        }
        if let Some(a) = &t.auth {
            if a.user.is_empty() || a.password.is_empty() {
                return Err(bad("auth needs a user and a password".into()));
            }
        }
    }
    let d = file.dialer;
    if d.max_attempts == 0 || d.max_attempts > 20 || d.retry_after_mins == 0 {
        return Err(TrunksError::Dialer(
            "max_attempts is 1 to 20 and retry_after_mins at least 1".into(),
        ));
    }
    if !(10..=300).contains(&d.ring_secs) || !(5..=300).contains(&d.preview_secs) {
        return Err(TrunksError::Dialer(
            "ring_secs is 10 to 300 and preview_secs 5 to 300".into(),
        ));
    }
    if let Some(d) = &file.dial_out {
        let keys = d
            .prefix
            .chars()
            .all(|c| c.is_ascii_digit() || c == '*' || c == '#');
        if d.prefix.is_empty() || d.prefix.len() > 4 || !keys {
            return Err(TrunksError::DialOut(d.prefix.clone()));
        }
    }
    Ok(file)
}

/// Digits, with an optional leading `+`.
fn is_number(s: &str) -> bool {
    let digits = s.strip_prefix('+').unwrap_or(s);
    !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit())
}

/// `host:port`: a port from 1, a host that is an address or a DNS name.
fn check_address(address: &str) -> Result<(), String> {
    let bad = || format!("address {address:?} is not host:port");
    let (host, port) = address.rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let name = !host.is_empty()
        && host
            .split('.')
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    if port == 0 || !(name || host.parse::<std::net::IpAddr>().is_ok()) {
        return Err(bad());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[dial_out]
prefix = "9"

[[trunks]]
name = "carrier"
address = "sip.carrier.example:5060"
caller_id = "4008001234"
strip = "+86"
add = "0"
[trunks.register]
user = "hotline"
password = "very secret"

[[trunks]]
name = "backup"
address = "[2001:db8::1]:5080"
transport = "tcp"
caller_id = "+864008001234"
max_calls = 5
"#;

    #[test]
    fn a_good_file_in_order_with_defaults() {
        let t = parse(GOOD).unwrap();
        assert_eq!(t.dial_out.unwrap().prefix, "9");
        let names: Vec<&str> = t.trunks.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["carrier", "backup"]);
        assert_eq!(t.trunks[0].transport, TrunkTransport::Udp);
        assert_eq!(t.trunks[0].max_calls, 30);
        assert_eq!(t.trunks[0].register.as_ref().unwrap().expires_secs, 3600);
        assert_eq!(t.trunks[1].transport, TrunkTransport::Tcp);
        assert_eq!(t.trunks[0].rewrite("+8613800138000"), "013800138000");
        assert_eq!(t.trunks[0].rewrite("13800138000"), "013800138000");
        assert_eq!(t.trunks[1].rewrite("13800138000"), "13800138000");
        assert!(!format!("{t:?}", t = t.trunks[0]).contains("very secret"));
        assert_eq!(
            t.trunks[0].invite_credentials(),
            Some(("hotline", "very secret"))
        );
        assert_eq!(t.trunks[1].invite_credentials(), None);
    }

    #[test]
    fn invite_credentials_without_registration() {
        let text =
            format!("{GOOD}[trunks.auth]\nuser = \"trunk-user\"\npassword = \"invite secret\"\n");
        let t = parse(&text).unwrap();
        assert!(t.trunks[1].register.is_none());
        assert_eq!(
            t.trunks[1].invite_credentials(),
            Some(("trunk-user", "invite secret"))
        );
        assert!(!format!("{:?}", t.trunks[1]).contains("invite secret"));
        let e = parse(&text.replace("invite secret", "")).unwrap_err();
        assert!(
            e.to_string().contains("auth needs a user and a password"),
            "{e}"
        );
    }

    #[test]
    fn mistakes_name_the_trunk_and_the_reason() {
        let cases = [
            (
                "address = \"sip.carrier.example:5060\"",
                "address = \"sip.carrier.example\"",
                "not host:port",
            ),
            (
                "caller_id = \"4008001234\"",
                "caller_id = \"hotline\"",
                "caller_id",
            ),
            ("name = \"backup\"", "name = \"carrier\"", "used twice"),
            ("max_calls = 5", "max_calls = 0", "at least 1"),
            (
                "password = \"very secret\"",
                "password = \"\"",
                "user and a password",
            ),
            ("prefix = \"9\"", "prefix = \"9x\"", "dial_out"),
            ("transport = \"tcp\"", "transport = \"tls\"", "tls"),
            ("max_calls = 5", "max_call = 5", "max_call"),
        ];
        for (from, to, want) in cases {
            let text = GOOD.replacen(from, to, 1);
            assert_ne!(text, GOOD, "{from}");
            let e = parse(&text).unwrap_err().to_string();
            assert!(e.contains(want), "{to}: {e}");
            assert!(!e.contains("very secret"), "{e}");
        }
        assert!(parse("").unwrap().trunks.is_empty());
    }
}
