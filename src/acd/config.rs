//! The queues file (`queues.toml`): each queue's strategy and timers, and the feature
//! codes agents dial. Queues a dial plan names but the file does not declare get
//! [`QueueConfig::new`]'s defaults.

use super::{QueueConfig, Strategy};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// What agents dial from their phones, and the key a waiting caller presses to leave the
/// queue for a callback.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Features {
    pub login: String,
    pub logout: String,
    pub pause: String,
    pub resume: String,
    pub leave_queue_key: char,
    /// Queue an agent's REFER to `supervisor`, or the escalation code keyed during a
    /// call, sends the caller to.
    pub supervisor_queue: String,
    /// Keyed by the agent during a call: the caller goes to the supervisors' queue.
    pub escalate: String,
    /// User-Agent prefixes of phones that give up when SHA-256 is offered first (they
    /// take the first challenge only): they are challenged with MD5 alone.
    pub md5_only_user_agents: Vec<String>,
}

impl Default for Features {
    fn default() -> Self {
        Features {
            login: "*1".into(),
            logout: "*2".into(),
            pause: "*3".into(),
            resume: "*4".into(),
            leave_queue_key: '*',
            supervisor_queue: "supervisors".into(),
            escalate: "*9".into(),
            md5_only_user_agents: vec!["baresip v1.0".into(), "baresip v0.".into()],
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct QueueFile {
    #[serde(default)]
    features: Features,
    #[serde(default)]
    queues: BTreeMap<String, QueueEntry>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct QueueEntry {
    strategy: Option<String>,
    ring_timeout_secs: Option<u64>,
    max_wait_secs: Option<u64>,
    wrap_up_secs: Option<u64>,
    max_missed: Option<u32>,
    announce_every_secs: Option<u64>,
    default_handle_secs: Option<u64>,
    wait_when_empty: Option<bool>,
    alert_service_level_pct: Option<u8>,
    alert_wait_secs: Option<u64>,
}

/// Why the queues file was refused.
#[derive(Debug, thiserror::Error)]
pub enum QueuesError {
    #[error("{0}")]
    Syntax(String),
    #[error("queue {queue}: {problem}")]
    Invalid { queue: String, problem: String },
}

/// Parses the queues file.
pub fn parse(text: &str) -> Result<(Vec<QueueConfig>, Features), QueuesError> {
    let file: QueueFile = toml::from_str(text).map_err(|e| QueuesError::Syntax(e.to_string()))?;
    let mut out = Vec::new();
    for (name, e) in file.queues {
        let bad = |problem: &str| QueuesError::Invalid {
            queue: name.clone(),
            problem: problem.into(),
        };
        let mut q = QueueConfig::new(name.clone());
        if let Some(s) = &e.strategy {
            q.strategy = match s.as_str() {
                "longest_idle" => Strategy::LongestIdle,
                "round_robin" => Strategy::RoundRobin,
                "ring_all" => Strategy::RingAll,
                "fewest_calls" => Strategy::FewestCalls,
                _ => {
                    return Err(bad(
                        "strategy must be longest_idle, round_robin, ring_all or fewest_calls",
                    ))
                }
            };
        }
        let secs = Duration::from_secs;
        if let Some(n) = e.ring_timeout_secs {
            if n == 0 {
                return Err(bad("ring_timeout_secs must be at least 1"));
            }
            q.ring_timeout = secs(n);
        }
        q.max_wait = e.max_wait_secs.map_or(q.max_wait, secs);
        q.wrap_up = e.wrap_up_secs.map_or(q.wrap_up, secs);
        q.max_missed = e.max_missed.unwrap_or(q.max_missed);
        q.announce_every = e.announce_every_secs.map_or(q.announce_every, secs);
        q.default_handle = e.default_handle_secs.map_or(q.default_handle, secs);
        q.wait_when_empty = e.wait_when_empty.unwrap_or(q.wait_when_empty);
        if let Some(pct) = e.alert_service_level_pct {
            if pct > 100 {
                return Err(bad("alert_service_level_pct must be from 0 to 100"));
            }
            q.alert.service_level_pct = pct;
        }
        q.alert.longest_wait = e.alert_wait_secs.map_or(q.alert.longest_wait, secs);
        out.push(q);
    }
    Ok((out, file.features))
}
