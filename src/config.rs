//! Settings, layered: command-line flag > environment variable > TOML file > default.
//! Every value is parsed and checked once, here; the rest of the program gets typed values.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One problem with one setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{setting}: {problem}")]
pub struct Problem {
    pub setting: String,
    pub problem: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The config file is not valid TOML or has unknown keys.
    #[error("config file {path}: {message}")]
    Syntax { path: PathBuf, message: String },
    /// One or more settings are invalid.
    #[error("{}", .0.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Problem>),
}

/// The settings as given, before checking. Field names are the TOML keys; each also has
/// a flag `--sip-listen` and an environment variable `HOTLINE_SIP_LISTEN`.
///
/// `config`, `database` and `realm` are skipped here: every command needs them, so the
/// command line declares them once, as global flags (`crate::cli::Globals`), and fills
/// them in.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Overrides {
    /// TOML file with any of the settings below.
    #[arg(skip)]
    pub config: Option<PathBuf>,
    /// SIP address for UDP and TCP [default: 0.0.0.0:5060].
    #[arg(long, env = "HOTLINE_SIP_LISTEN")]
    pub sip_listen: Option<String>,
    /// RTP port range LOW-HIGH [default: 10000-20000].
    #[arg(long, env = "HOTLINE_RTP_PORTS")]
    pub rtp_ports: Option<String>,
    /// Database URL, sqlite:// or postgres:// [default: sqlite://hotline.db].
    #[arg(skip)]
    pub database: Option<String>,
    /// Folder of dial plans [default: dialplans].
    #[arg(long, env = "HOTLINE_DIALPLANS")]
    pub dialplans: Option<String>,
    /// Folder of prompts [default: prompts].
    #[arg(long, env = "HOTLINE_PROMPTS")]
    pub prompts: Option<String>,
    /// Address put in SDP and Contact when listening on 0.0.0.0 [default: detected].
    #[arg(long, env = "HOTLINE_ADVERTISE_IP")]
    pub advertise_ip: Option<String>,
    /// Time from 180 Ringing to 200 OK, in ms [default: 1000].
    #[arg(long, env = "HOTLINE_RING_DELAY_MS")]
    pub ring_delay_ms: Option<String>,
    /// Longest call, in seconds; then hotline hangs up [default: 3600].
    #[arg(long, env = "HOTLINE_MAX_CALL_SECS")]
    pub max_call_secs: Option<String>,
    /// Record every call as a stereo WAV in this folder [default: no recording].
    #[arg(long, env = "HOTLINE_RECORD_DIR")]
    pub record_dir: Option<String>,
    /// Hang up a call after this many seconds without RTP from the caller; 0 = never [default: 30].
    #[arg(long, env = "HOTLINE_RTP_TIMEOUT_SECS")]
    pub rtp_timeout_secs: Option<String>,
    /// How long live calls may go on after a shutdown signal, in seconds [default: 30].
    #[arg(long, env = "HOTLINE_DRAIN_SECS")]
    pub drain_secs: Option<String>,
    /// SIP timer T1 in ms [default: 500].
    #[arg(long, env = "HOTLINE_SIP_T1_MS")]
    pub sip_t1_ms: Option<String>,
    /// SIP timer T2 in ms [default: 4000].
    #[arg(long, env = "HOTLINE_SIP_T2_MS")]
    pub sip_t2_ms: Option<String>,
    /// SIP timer T4 in ms [default: 5000].
    #[arg(long, env = "HOTLINE_SIP_T4_MS")]
    pub sip_t4_ms: Option<String>,
    /// Largest SIP message accepted, in bytes [default: 65535].
    #[arg(long, env = "HOTLINE_MAX_MESSAGE_BYTES")]
    pub max_message_bytes: Option<String>,
    /// Digest realm agents' phones authenticate in [default: hotline].
    #[arg(skip)]
    pub realm: Option<String>,
    /// Queues and agent feature codes, a TOML file; missing: every queue a dial plan
    /// names gets the defaults [default: queues.toml].
    #[arg(long, env = "HOTLINE_QUEUES")]
    pub queues: Option<String>,
    /// SIP trunks for outbound calls, a TOML file; missing: no outbound calls
    /// [default: trunks.toml].
    #[arg(long, env = "HOTLINE_TRUNKS")]
    pub trunks: Option<String>,
    /// Webhooks to tell of ended calls and changed follow-ups, a TOML file; missing: no
    /// webhooks [default: webhooks.toml].
    #[arg(long, env = "HOTLINE_WEBHOOKS")]
    pub webhooks: Option<String>,
    /// Address of the HTTP API, wallboard, desk and /metrics, e.g. 127.0.0.1:8080;
    /// unset: no HTTP server.
    #[arg(long, env = "HOTLINE_HTTP_LISTEN")]
    pub http_listen: Option<String>,
    /// PEM certificate chain for HTTPS (with --http-key); unset: plain HTTP.
    #[arg(long, env = "HOTLINE_HTTP_CERT")]
    pub http_cert: Option<String>,
    /// PEM private key for HTTPS (with --http-cert).
    #[arg(long, env = "HOTLINE_HTTP_KEY")]
    pub http_key: Option<String>,
}

/// The checked settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub sip_listen: SocketAddr,
    pub rtp_ports: (u16, u16),
    pub database: String,
    pub dialplans: PathBuf,
    pub prompts: PathBuf,
    pub advertise_ip: Option<IpAddr>,
    pub ring_delay: Duration,
    pub max_call: Duration,
    /// Where recordings go; `None`: calls are not recorded.
    pub record_dir: Option<PathBuf>,
    /// `None`: never hang up for lack of RTP.
    pub rtp_timeout: Option<Duration>,
    pub drain: Duration,
    pub t1: Duration,
    pub t2: Duration,
    pub t4: Duration,
    pub max_message_bytes: usize,
    pub realm: String,
    pub queues: PathBuf,
    pub trunks: PathBuf,
    pub webhooks: PathBuf,
    /// The HTTP server's address; `None`: no HTTP server.
    pub http_listen: Option<SocketAddr>,
    /// Certificate and key for HTTPS; `None`: plain HTTP.
    pub http_tls: Option<(PathBuf, PathBuf)>,
    /// The `[followups]` section: deadlines, revisits, escalation.
    pub followups: crate::followup::Rules,
    /// The `[reports]` section.
    pub reports: crate::followup::ReportSettings,
}

/// Sections of the config file that are tables of their own rather than single settings.
const SECTIONS: &[&str] = &["followups", "reports"];

const DEFAULTS: &[(&str, &str)] = &[
    ("sip_listen", "0.0.0.0:5060"),
    ("rtp_ports", "10000-20000"),
    ("database", "sqlite://hotline.db"),
    ("dialplans", "dialplans"),
    ("prompts", "prompts"),
    ("ring_delay_ms", "1000"),
    ("max_call_secs", "3600"),
    ("rtp_timeout_secs", "30"),
    ("drain_secs", "30"),
    ("sip_t1_ms", "500"),
    ("sip_t2_ms", "4000"),
    ("sip_t4_ms", "5000"),
    ("max_message_bytes", "65535"),
    ("realm", "hotline"),
    ("queues", "queues.toml"),
    ("trunks", "trunks.toml"),
    ("webhooks", "webhooks.toml"),
];

impl Overrides {
    fn pairs(&self) -> Vec<(&'static str, Option<&String>)> {
        vec![
            ("sip_listen", self.sip_listen.as_ref()),
            ("rtp_ports", self.rtp_ports.as_ref()),
            ("database", self.database.as_ref()),
            ("dialplans", self.dialplans.as_ref()),
            ("prompts", self.prompts.as_ref()),
            ("advertise_ip", self.advertise_ip.as_ref()),
            ("ring_delay_ms", self.ring_delay_ms.as_ref()),
            ("max_call_secs", self.max_call_secs.as_ref()),
            ("rtp_timeout_secs", self.rtp_timeout_secs.as_ref()),
            ("record_dir", self.record_dir.as_ref()),
            ("drain_secs", self.drain_secs.as_ref()),
            ("sip_t1_ms", self.sip_t1_ms.as_ref()),
            ("sip_t2_ms", self.sip_t2_ms.as_ref()),
            ("sip_t4_ms", self.sip_t4_ms.as_ref()),
            ("max_message_bytes", self.max_message_bytes.as_ref()),
            ("realm", self.realm.as_ref()),
            ("queues", self.queues.as_ref()),
            ("trunks", self.trunks.as_ref()),
            ("webhooks", self.webhooks.as_ref()),
            ("http_listen", self.http_listen.as_ref()),
            ("http_cert", self.http_cert.as_ref()),
            ("http_key", self.http_key.as_ref()),
        ]
    }

    /// Merges flags/environment over the file over the defaults, and checks everything.
    pub fn load(&self) -> Result<Config, ConfigError> {
        let (file, sections) = match &self.config {
            Some(path) => read_file(path)?,
            None => (BTreeMap::new(), toml::Table::new()),
        };
        let known: Vec<&str> = self.pairs().iter().map(|(k, _)| *k).collect();
        let mut problems: Vec<Problem> = file
            .keys()
            .filter(|k| !known.contains(&k.as_str()))
            .map(|k| Problem {
                setting: k.clone(),
                problem: "unknown setting in the config file".into(),
            })
            .collect();
        let mut raw: BTreeMap<&str, String> = BTreeMap::new();
        for (key, given) in self.pairs() {
            let value = given
                .cloned()
                .or_else(|| file.get(key).cloned())
                .or_else(|| {
                    DEFAULTS
                        .iter()
                        .find(|(k, _)| *k == key)
                        .map(|(_, v)| v.to_string())
                });
            if let Some(v) = value {
                raw.insert(key, v);
            }
        }
        let mut check = Checker {
            raw: &raw,
            problems: &mut problems,
        };
        let sip_listen = check.value("sip_listen", |v| {
            v.parse::<SocketAddr>()
                .map_err(|_| format!("'{v}' is not an address like 0.0.0.0:5060"))
        });
        let rtp_ports = check.value("rtp_ports", parse_port_range);
        let database = check.value("database", |v| {
            if v.starts_with("sqlite:")
                || v.starts_with("postgres://")
                || v.starts_with("postgresql://")
            {
                Ok(v.to_string())
            } else {
                // Not echoed: a mistyped postgres URL still carries its password.
                Err("the URL is neither sqlite:... nor postgres://...".to_string())
            }
        });
        let dialplans = check.value("dialplans", |v| Ok(PathBuf::from(v)));
        let prompts = check.value("prompts", |v| Ok(PathBuf::from(v)));
        let advertise_ip = match raw.get("advertise_ip") {
            Some(_) => check
                .value("advertise_ip", |v| {
                    v.parse::<IpAddr>()
                        .map_err(|_| format!("'{v}' is not an IP address"))
                })
                .map(Some),
            None => Some(None),
        };
        let ms = |v: &str, lo: u64, hi: u64| {
            v.parse::<u64>()
                .ok()
                .filter(|n| (lo..=hi).contains(n))
                .ok_or(format!("'{v}' is not a whole number from {lo} to {hi}"))
        };
        let ring_delay = check.value("ring_delay_ms", |v| {
            ms(v, 0, 60_000).map(Duration::from_millis)
        });
        let max_call = check.value("max_call_secs", |v| {
            ms(v, 1, 86_400).map(Duration::from_secs)
        });
        let record_dir = match raw.get("record_dir") {
            Some(_) => check
                .value("record_dir", |v| {
                    let dir = PathBuf::from(v);
                    if dir.is_dir() {
                        Ok(Some(dir))
                    } else {
                        Err(format!("folder '{v}' does not exist"))
                    }
                })
                .map(Some)
                .unwrap_or(None),
            None => Some(None),
        };
        let rtp_timeout = check.value("rtp_timeout_secs", |v| {
            ms(v, 0, 3600).map(|n| (n > 0).then(|| Duration::from_secs(n)))
        });
        let drain = check.value("drain_secs", |v| ms(v, 0, 3600).map(Duration::from_secs));
        let t1 = check.value("sip_t1_ms", |v| {
            ms(v, 10, 10_000).map(Duration::from_millis)
        });
        let t2 = check.value("sip_t2_ms", |v| {
            ms(v, 10, 60_000).map(Duration::from_millis)
        });
        let t4 = check.value("sip_t4_ms", |v| {
            ms(v, 10, 60_000).map(Duration::from_millis)
        });
        let max_message_bytes = check.value("max_message_bytes", |v| {
            ms(v, 1024, 1 << 20).map(|n| n as usize)
        });
        let realm = check.value("realm", |v| {
            if !v.is_empty() && v.len() <= 64 && !v.contains(['"', '\\']) {
                Ok(v.to_string())
            } else {
                Err(format!("'{v}' must be 1 to 64 characters without quotes"))
            }
        });
        let queues = check.value("queues", |v| Ok(PathBuf::from(v)));
        let trunks = check.value("trunks", |v| Ok(PathBuf::from(v)));
        let webhooks = check.value("webhooks", |v| Ok(PathBuf::from(v)));
        let http_listen = match raw.get("http_listen") {
            Some(_) => check
                .value("http_listen", |v| {
                    v.parse::<SocketAddr>()
                        .map_err(|_| format!("'{v}' is not an address like 127.0.0.1:8080"))
                })
                .map(Some),
            None => Some(None),
        };
        let file = |key: &str, check: &mut Checker| {
            raw.get(key)?;
            check.value(key, |v| {
                let path = PathBuf::from(v);
                if path.is_file() {
                    Ok(path)
                } else {
                    Err(format!("file '{v}' does not exist"))
                }
            })
        };
        let http_tls = match (file("http_cert", &mut check), file("http_key", &mut check)) {
            (Some(cert), Some(key)) => Some(Some((cert, key))),
            (None, None) if !raw.contains_key("http_cert") && !raw.contains_key("http_key") => {
                Some(None)
            }
            (cert, key) => {
                if cert.is_some() != raw.contains_key("http_cert")
                    || key.is_some() != raw.contains_key("http_key")
                {
                    None
                } else {
                    problems.push(Problem {
                        setting: "http_cert".into(),
                        problem: "HTTPS needs both http_cert and http_key".into(),
                    });
                    None
                }
            }
        };
        let (followups, reports) = read_sections(&sections, &mut problems);
        if let (Some(t1), Some(t2)) = (t1, t2) {
            if t2 < t1 {
                problems.push(Problem {
                    setting: "sip_t2_ms".into(),
                    problem: "T2 must not be shorter than T1".into(),
                });
            }
        }
        match (
            sip_listen,
            rtp_ports,
            database,
            dialplans,
            prompts,
            advertise_ip,
            ring_delay,
            max_call,
            drain,
            (t1, t2, t4, max_message_bytes, rtp_timeout, record_dir),
            (realm, queues, trunks, webhooks, http_listen, http_tls),
        ) {
            (
                Some(sip_listen),
                Some(rtp_ports),
                Some(database),
                Some(dialplans),
                Some(prompts),
                Some(advertise_ip),
                Some(ring_delay),
                Some(max_call),
                Some(drain),
                (
                    Some(t1),
                    Some(t2),
                    Some(t4),
                    Some(max_message_bytes),
                    Some(rtp_timeout),
                    Some(record_dir),
                ),
                (
                    Some(realm),
                    Some(queues),
                    Some(trunks),
                    Some(webhooks),
                    Some(http_listen),
                    Some(http_tls),
                ),
            ) if problems.is_empty() => Ok(Config {
                http_listen,
                http_tls,
                realm,
                queues,
                trunks,
                webhooks,
                sip_listen,
                rtp_ports,
                database,
                dialplans,
                prompts,
                advertise_ip,
                ring_delay,
                max_call,
                rtp_timeout,
                record_dir,
                drain,
                t1,
                t2,
                t4,
                max_message_bytes,
                followups,
                reports,
            }),
            _ => Err(ConfigError::Invalid(problems)),
        }
    }
}

struct Checker<'a> {
    raw: &'a BTreeMap<&'a str, String>,
    problems: &'a mut Vec<Problem>,
}

impl Checker<'_> {
    fn value<T>(&mut self, key: &str, parse: impl FnOnce(&str) -> Result<T, String>) -> Option<T> {
        let v = self.raw.get(key)?;
        match parse(v.trim()) {
            Ok(t) => Some(t),
            Err(problem) => {
                let flag = key.replace('_', "-");
                let env = format!("HOTLINE_{}", key.to_ascii_uppercase());
                self.problems.push(Problem {
                    setting: format!("{key} (--{flag}, {env})"),
                    problem,
                });
                None
            }
        }
    }
}

fn parse_port_range(v: &str) -> Result<(u16, u16), String> {
    let bad = || format!("'{v}' is not a port range like 10000-20000");
    let (lo, hi) = v.split_once('-').ok_or_else(bad)?;
    let lo: u16 = lo.trim().parse().map_err(|_| bad())?;
    let hi: u16 = hi.trim().parse().map_err(|_| bad())?;
    if lo < 1024 || hi <= lo + 2 {
        return Err(format!(
            "'{v}' must start at 1024 or above and hold at least two even ports"
        ));
    }
    Ok((lo, hi))
}

/// The `[followups]` and `[reports]` sections, checked; defaults where absent or wrong (the
/// problems are added to `problems`).
fn read_sections(
    sections: &toml::Table,
    problems: &mut Vec<Problem>,
) -> (crate::followup::Rules, crate::followup::ReportSettings) {
    use crate::followup::{ReportSettings, Rules};
    let mut note = |setting: &str, e: crate::followup::SettingsError| {
        problems.extend(e.0.into_iter().map(|problem| Problem {
            setting: setting.to_string(),
            problem,
        }))
    };
    let mut table = |name: &str| match sections.get(name) {
        None => Some(toml::Table::new()),
        Some(toml::Value::Table(t)) => Some(t.clone()),
        Some(_) => {
            note(
                name,
                crate::followup::SettingsError(vec![format!("[{name}] must be a table")]),
            );
            None
        }
    };
    let (f, r) = (table("followups"), table("reports"));
    let followups = match f.map(|t| Rules::from_toml(&t)) {
        Some(Ok(rules)) => rules,
        Some(Err(e)) => {
            note("followups", e);
            Rules::default()
        }
        None => Rules::default(),
    };
    let reports = match r.map(|t| ReportSettings::from_toml(&t)) {
        Some(Ok(s)) => s,
        Some(Err(e)) => {
            note("reports", e);
            ReportSettings::default()
        }
        None => ReportSettings::default(),
    };
    (followups, reports)
}

/// Reads the TOML file into setting name -> value as text (numbers and strings alike), and
/// the sections (`[followups]`, `[reports]`) as tables.
fn read_file(path: &Path) -> Result<(BTreeMap<String, String>, toml::Table), ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let table: BTreeMap<String, toml::Value> =
        toml::from_str(&text).map_err(|e: toml::de::Error| ConfigError::Syntax {
            path: path.to_path_buf(),
            message: e.to_string().trim().replace('\n', " "),
        })?;
    let (sections, table): (BTreeMap<_, _>, BTreeMap<_, _>) = table
        .into_iter()
        .partition(|(k, _)| SECTIONS.contains(&k.as_str()));
    let flat = table
        .into_iter()
        .map(|(k, v)| {
            let s = match v {
                toml::Value::String(s) => s,
                other => other.to_string(),
            };
            (k, s)
        })
        .collect();
    Ok((flat, sections.into_iter().collect()))
}
