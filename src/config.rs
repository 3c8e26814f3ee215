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

/// Where a setting's value came from. Named with every problem in it, so a mistake in
/// the config file is not blamed on a flag or an environment variable, and the right one
/// is fixed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layer {
    /// A command-line flag, e.g. `--sip-listen`.
    Flag(String),
    /// An environment variable, e.g. `HOTLINE_SIP_LISTEN`.
    Environment(String),
    /// The `--config` file, at this line.
    File { path: PathBuf, line: usize },
    /// hotline's own default.
    Default,
}

impl std::fmt::Display for Layer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Layer::Flag(flag) => write!(f, "flag {flag}"),
            Layer::Environment(name) => write!(f, "environment {name}"),
            Layer::File { path, line } => write!(f, "config file {}:{line}", path.display()),
            Layer::Default => f.write_str("default"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The config file is not valid TOML; `line` is where the parser stopped.
    #[error("config file {}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Syntax {
        path: PathBuf,
        line: Option<usize>,
        message: String,
    },
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
    /// This node's name in a cluster of hotlines on one PostgreSQL; unset: a single node.
    #[arg(long, env = "HOTLINE_NODE_ID")]
    pub node_id: Option<String>,
    /// The cluster's SIP edge (Kamailio), ip:port: agents' phones register there and
    /// are rung through it. Needed with node_id.
    #[arg(long, env = "HOTLINE_EDGE")]
    pub edge: Option<String>,
    /// The settings above whose value came from the environment rather than the flag
    /// (clap folds both into one field; `crate::cli::parse` tells them apart).
    #[arg(skip)]
    pub from_env: Vec<String>,
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
    /// `None`: a single node, the only one on its database.
    pub cluster: Option<Cluster>,
}

/// A node of a cluster: several hotlines on one PostgreSQL behind one SIP edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    /// Unique among the nodes; a node restarting with the same id takes over its leftovers.
    pub node_id: String,
    /// Kamailio: the registrar of agents' phones, and the way to them.
    pub edge: SocketAddr,
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

impl Config {
    /// The dial plans and prompts folders that do not exist. `check` reports them and
    /// `serve` refuses to start without them: one check, so the two never disagree.
    pub fn missing_folders(&self) -> Vec<Problem> {
        [("dialplans", &self.dialplans), ("prompts", &self.prompts)]
            .into_iter()
            .filter(|(_, dir)| !dir.is_dir())
            .map(|(name, dir)| Problem {
                setting: name.to_string(),
                problem: format!("folder {} does not exist", dir.display()),
            })
            .collect()
    }
}

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
            ("node_id", self.node_id.as_ref()),
            ("edge", self.edge.as_ref()),
        ]
    }

    /// The layer a given (flag or environment) value of `key` came from.
    fn given_layer(&self, key: &str) -> Layer {
        match self.from_env.iter().any(|k| k == key) {
            true => Layer::Environment(format!("HOTLINE_{}", key.to_ascii_uppercase())),
            false => Layer::Flag(format!("--{}", key.replace('_', "-"))),
        }
    }

    /// Merges flags/environment over the file over the defaults, and checks everything.
    pub fn load(&self) -> Result<Config, ConfigError> {
        let config_file = match &self.config {
            Some(path) => Some(File::read(path)?),
            None => None,
        };
        let known: Vec<&str> = self.pairs().iter().map(|(k, _)| *k).collect();
        let mut problems: Vec<Problem> = config_file
            .iter()
            .flat_map(|f| f.settings.iter().map(move |(k, (_, line))| (f, k, *line)))
            .filter(|(_, k, _)| !known.contains(&k.as_str()))
            .map(|(f, k, line)| Problem {
                setting: format!("{k} ({})", f.layer(line)),
                problem: "unknown setting".into(),
            })
            .collect();
        let mut raw: BTreeMap<&str, (String, Layer)> = BTreeMap::new();
        for (key, given) in self.pairs() {
            let from_file = || {
                let f = config_file.as_ref()?;
                let (v, line) = f.settings.get(key)?;
                Some((v.clone(), f.layer(*line)))
            };
            let value = given
                .map(|v| (v.clone(), self.given_layer(key)))
                .or_else(from_file)
                .or_else(|| {
                    DEFAULTS
                        .iter()
                        .find(|(k, _)| *k == key)
                        .map(|(_, v)| (v.to_string(), Layer::Default))
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
        let cluster = read_cluster(&raw, database.as_deref(), &mut check);
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
                    // Named by the one given, with where it was given.
                    let given = ["http_cert", "http_key"]
                        .into_iter()
                        .find(|k| raw.contains_key(k))
                        .unwrap_or("http_cert");
                    problems.push(Problem {
                        setting: named(given, &raw),
                        problem: "HTTPS needs both http_cert and http_key".into(),
                    });
                    None
                }
            }
        };
        let (followups, reports) = match &config_file {
            Some(f) => read_sections(f, &mut problems),
            None => Default::default(),
        };
        if let (Some(t1), Some(t2)) = (t1, t2) {
            if t2 < t1 {
                problems.push(Problem {
                    setting: named("sip_t2_ms", &raw),
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
            (
                realm,
                queues,
                trunks,
                webhooks,
                http_listen,
                http_tls,
                cluster,
            ),
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
                    Some(cluster),
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
                cluster,
            }),
            _ => Err(ConfigError::Invalid(problems)),
        }
    }
}

/// `key` with the layer its value came from, as problems name a setting.
fn named(key: &str, raw: &BTreeMap<&str, (String, Layer)>) -> String {
    match raw.get(key) {
        Some((_, layer)) => format!("{key} ({layer})"),
        None => key.to_string(),
    }
}

struct Checker<'a> {
    raw: &'a BTreeMap<&'a str, (String, Layer)>,
    problems: &'a mut Vec<Problem>,
}

impl Checker<'_> {
    fn value<T>(&mut self, key: &str, parse: impl FnOnce(&str) -> Result<T, String>) -> Option<T> {
        let (v, _) = self.raw.get(key)?;
        match parse(v.trim()) {
            Ok(t) => Some(t),
            Err(problem) => {
                self.problems.push(Problem {
                    setting: named(key, self.raw),
                    problem,
                });
                None
            }
        }
    }
}

/// `node_id` and `edge`, both or neither, on PostgreSQL only (nodes share its rows).
/// `Some(None)`: a single node; `None`: a problem was noted.
fn read_cluster(
    raw: &BTreeMap<&str, (String, Layer)>,
    database: Option<&str>,
    check: &mut Checker,
) -> Option<Option<Cluster>> {
    let node_id = check.value("node_id", |v| {
        let ok = !v.is_empty()
            && v.len() <= 64
            && v.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        ok.then(|| v.to_string()).ok_or(format!(
            "'{v}' must be 1 to 64 letters, digits, '-', '_' or '.'"
        ))
    });
    let edge = check.value("edge", |v| {
        v.parse::<SocketAddr>()
            .map_err(|_| format!("'{v}' is not an address like 127.0.0.10:5060"))
    });
    let mut problem = |key: &str, problem: &str| {
        check.problems.push(Problem {
            setting: named(key, raw),
            problem: problem.to_string(),
        });
        None
    };
    match (raw.contains_key("node_id"), raw.contains_key("edge")) {
        (false, false) => Some(None),
        (true, false) => problem("node_id", "a cluster node needs the edge's address (edge)"),
        (false, true) => problem("edge", "the edge is only for a cluster node (node_id)"),
        (true, true) if database.is_some_and(|d| d.starts_with("sqlite:")) => problem(
            "node_id",
            "a cluster needs a PostgreSQL database: nodes cannot share a SQLite file",
        ),
        (true, true)
            if raw.get("sip_listen").is_some_and(|(v, _)| {
                (v.trim().parse::<SocketAddr>()).is_ok_and(|a| a.ip().is_unspecified())
            }) && !raw.contains_key("advertise_ip") =>
        {
            problem(
                "sip_listen",
                "a cluster node needs its own address for the edge to reach it: listen on one IP, or set advertise_ip",
            )
        }
        (true, true) => Some(Some(Cluster {
            node_id: node_id?,
            edge: edge?,
        })),
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
/// problems are added to `problems`, each with the file and line of its key).
fn read_sections(
    file: &File,
    problems: &mut Vec<Problem>,
) -> (crate::followup::Rules, crate::followup::ReportSettings) {
    use crate::followup::{ReportSettings, Rules};
    let mut note = |e: crate::followup::SettingsError| {
        problems.extend(e.0.into_iter().map(|text| {
            // Each problem starts with its key's dotted path: "followups.forward: ...".
            let (path, problem) = text.split_once(": ").unwrap_or(("", &text));
            let keys: Vec<&str> = path.split('.').collect();
            Problem {
                setting: format!("{path} ({})", file.layer(file.line_of(&keys))),
                problem: problem.to_string(),
            }
        }))
    };
    let mut table = |name: &str| match file.sections.get(name) {
        None => Some(toml::Table::new()),
        Some(toml::Value::Table(t)) => Some(t.clone()),
        Some(_) => {
            note(crate::followup::SettingsError(vec![format!(
                "{name}: must be a table"
            )]));
            None
        }
    };
    let (f, r) = (table("followups"), table("reports"));
    let followups = match f.map(|t| Rules::from_toml(&t)) {
        Some(Ok(rules)) => rules,
        Some(Err(e)) => {
            note(e);
            Rules::default()
        }
        None => Rules::default(),
    };
    let reports = match r.map(|t| ReportSettings::from_toml(&t)) {
        Some(Ok(s)) => s,
        Some(Err(e)) => {
            note(e);
            ReportSettings::default()
        }
        None => ReportSettings::default(),
    };
    (followups, reports)
}

/// The config file as read: each setting's value as text (numbers and strings alike) with
/// its line, the sections (`[followups]`, `[reports]`) as tables, and the document, to
/// find the line of any key.
struct File {
    path: PathBuf,
    settings: BTreeMap<String, (String, usize)>,
    sections: toml::Table,
    doc: toml_edit::ImDocument<String>,
}

impl File {
    fn read(path: &Path) -> Result<File, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let syntax = |message: &str, span: Option<std::ops::Range<usize>>| ConfigError::Syntax {
            path: path.to_path_buf(),
            line: span.map(|s| line_at(&text, s.start)),
            message: message.trim().replace('\n', " "),
        };
        let table: BTreeMap<String, toml::Value> =
            toml::from_str(&text).map_err(|e: toml::de::Error| syntax(e.message(), e.span()))?;
        let doc = toml_edit::ImDocument::parse(text.clone())
            .map_err(|e| syntax(e.message(), e.span()))?;
        let mut file = File {
            path: path.to_path_buf(),
            settings: BTreeMap::new(),
            sections: toml::Table::new(),
            doc,
        };
        for (key, value) in table {
            if SECTIONS.contains(&key.as_str()) {
                file.sections.insert(key, value);
                continue;
            }
            let line = file.line_of(&[&key]);
            let text = match value {
                toml::Value::String(s) => s,
                other => other.to_string(),
            };
            file.settings.insert(key, (text, line));
        }
        Ok(file)
    }

    /// The line of the key at `keys` (a dotted path), or of the deepest part of it found.
    fn line_of(&self, keys: &[&str]) -> usize {
        let mut table: &dyn toml_edit::TableLike = self.doc.as_table();
        let mut line = 1;
        for key in keys {
            let Some((k, item)) = table.get_key_value(key) else {
                break;
            };
            if let Some(span) = k.span() {
                line = line_at(self.doc.raw(), span.start);
            }
            match item.as_table_like() {
                Some(t) => table = t,
                None => break,
            }
        }
        line
    }

    fn layer(&self, line: usize) -> Layer {
        Layer::File {
            path: self.path.clone(),
            line,
        }
    }
}

/// The 1-based line of byte `offset` in `text`.
fn line_at(text: &str, offset: usize) -> usize {
    1 + text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
}
