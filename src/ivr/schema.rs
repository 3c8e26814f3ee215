//! The dial plan file as serde sees it: every value that can be wrong keeps its
//! position (`Spanned`), so validation can name the line and column. Unknown keys are
//! refused here (`deny_unknown_fields`), which catches typos such as `retires`.
//!
//! All node keys live in one struct because `kind` decides which apply; serde's tagged
//! enums would buffer the values and lose their positions. `validate` checks
//! which keys belong to which kind.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

pub type Text = Spanned<String>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    pub name: Option<Text>,
    pub numbers: Spanned<Vec<Text>>,
    pub language: Text,
    pub time_zone: Text,
    pub start: Text,
    #[serde(default)]
    pub transfer_targets: Vec<Text>,
    /// The company's name per language: `[company] zh-CN = "..."`.
    #[serde(default)]
    pub company: BTreeMap<Text, Text>,
    pub hangup_grace_secs: Option<Spanned<u64>>,
    #[serde(default)]
    pub defaults: Defaults,
    pub calendar: CalendarFile,
    #[serde(default)]
    pub outcomes: Vec<OutcomeFile>,
    pub nodes: BTreeMap<Text, Spanned<NodeFile>>,
}

/// Plan-wide defaults for the asking nodes, so each menu need not repeat them.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    pub timeout: Option<Spanned<u64>>,
    pub inter_digit_timeout: Option<Spanned<u64>>,
    pub retries: Option<u32>,
    pub timeout_prompts: Option<Vec<Text>>,
    pub invalid_prompts: Option<Vec<Text>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarFile {
    #[serde(default)]
    pub hours: BTreeMap<Text, Text>,
    pub working_days: Option<Vec<Text>>,
    pub holiday_hours: Option<Text>,
    pub makeup_hours: Option<Text>,
    #[serde(default)]
    pub holidays: Vec<Text>,
    /// `spring_festival = "2026-02-15..2026-02-23"`: holidays with a name.
    #[serde(default)]
    pub named_holidays: BTreeMap<Text, Text>,
    #[serde(default)]
    pub makeup_days: Vec<Text>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutcomeFile {
    pub code: Text,
    pub label: String,
    #[serde(default)]
    pub follow_up: bool,
    /// Digits an agent keys after the call for this outcome (e.g. "3").
    #[serde(default)]
    pub key: Option<Text>,
}

/// One `[nodes.NAME]` table, every key any kind may use.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeFile {
    pub kind: Text,
    pub outcome: Option<Text>,
    pub next: Option<Text>,
    pub fallback: Option<Text>,
    pub prompts: Option<Vec<Text>>,
    pub barge_in: Option<bool>,
    pub type_ahead: Option<bool>,
    // asking
    pub timeout: Option<Spanned<u64>>,
    pub retries: Option<u32>,
    pub timeout_prompts: Option<Vec<Text>>,
    pub invalid_prompts: Option<Vec<Text>>,
    // menu
    pub options: Option<BTreeMap<Text, Text>>,
    // collect
    pub variable: Option<Text>,
    pub min_digits: Option<Spanned<usize>>,
    pub max_digits: Option<Spanned<usize>>,
    pub terminator: Option<Text>,
    pub inter_digit_timeout: Option<Spanned<u64>>,
    pub pattern: Option<Text>,
    pub sensitive: Option<bool>,
    // verify
    pub account: Option<Text>,
    pub secret: Option<Text>,
    pub method: Option<Text>,
    pub attempts: Option<Spanned<u32>>,
    pub ok: Option<Text>,
    pub failed: Option<Text>,
    pub locked: Option<Text>,
    pub exhausted: Option<Text>,
    // branch
    pub cases: Option<Vec<CaseFile>>,
    pub default: Option<Text>,
    // queue
    pub queue: Option<Text>,
    pub priority: Option<Spanned<u8>>,
    pub max_wait: Option<Spanned<u64>>,
    pub overflow: Option<Text>,
    pub after: Option<Text>,
    // callback
    pub follow_up: Option<Text>,
    pub category: Option<Text>,
    pub confirm_number: Option<bool>,
    pub number_is: Option<Vec<Text>>,
    pub confirm: Option<Vec<Text>>,
    pub enter_number: Option<Vec<Text>>,
    pub confirmed: Option<Vec<Text>>,
    pub within_hours: Option<u32>,
    pub category_from: Option<Text>,
    pub urgent: Option<bool>,
    pub say_time: Option<bool>,
    // voicemail
    pub beep: Option<Text>,
    pub max: Option<Spanned<u64>>,
    // survey
    pub questions: Option<Vec<Text>>,
    // transfer
    pub target: Option<Text>,
    // set
    pub variables: Option<BTreeMap<Text, Text>>,
    pub language: Option<Text>,
}

/// One `[[nodes.NAME.cases]]` entry of a branch.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseFile {
    pub goto: Text,
    pub time: Option<Text>,
    pub open: Option<bool>,
    pub working_day: Option<bool>,
    pub holiday: Option<bool>,
    pub holiday_name: Option<Text>,
    pub makeup_day: Option<bool>,
    pub caller_prefix: Option<OneOrMany>,
    pub verified: Option<bool>,
    pub variable: Option<Text>,
    pub equals: Option<Text>,
    pub language: Option<Text>,
}

/// `"138"` or `["138", "139"]`.
#[derive(Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

/// Only the key names of each node, with positions: the second, cheap pass that lets
/// validation say "`options` does not apply to a play node" at the key itself.
#[derive(Deserialize)]
pub struct KeysOnly {
    #[serde(default)]
    pub nodes: BTreeMap<String, BTreeMap<Text, serde::de::IgnoredAny>>,
}

/// Which keys each kind reads (besides `kind` and `outcome`, which every node has).
pub fn keys_for(kind: &str) -> Option<&'static [&'static str]> {
    const ASK: [&str; 5] = [
        "barge_in",
        "timeout",
        "retries",
        "timeout_prompts",
        "invalid_prompts",
    ];
    let keys: &'static [&'static str] = match kind {
        "play" => &["prompts", "barge_in", "type_ahead", "next"],
        "menu" => &[
            "prompts", "options", "fallback", ASK[0], ASK[1], ASK[2], ASK[3], ASK[4],
        ],
        "collect" => &[
            "prompts",
            "variable",
            "min_digits",
            "max_digits",
            "terminator",
            "inter_digit_timeout",
            "pattern",
            "sensitive",
            "next",
            "fallback",
            ASK[0],
            ASK[1],
            ASK[2],
            ASK[3],
            ASK[4],
        ],
        "verify" => &[
            "account",
            "secret",
            "method",
            "attempts",
            "ok",
            "failed",
            "locked",
            "exhausted",
        ],
        "branch" => &["cases", "default"],
        "queue" => &[
            "queue", "priority", "max_wait", "prompts", "overflow", "after",
        ],
        "callback" => &[
            "follow_up",
            "category",
            "confirm_number",
            "number_is",
            "confirm",
            "enter_number",
            "confirmed",
            "within_hours",
            "category_from",
            "urgent",
            "say_time",
            "next",
            "fallback",
            ASK[0],
            ASK[1],
            ASK[2],
            ASK[3],
            ASK[4],
        ],
        "voicemail" => &[
            "prompts",
            "beep",
            "max",
            "follow_up",
            "category",
            "category_from",
            "within_hours",
            "urgent",
            "next",
        ],
        "survey" => &["questions", "next", ASK[0], ASK[1], ASK[2], ASK[3], ASK[4]],
        "transfer" => &["prompts", "target"],
        "set" => &["variables", "language", "next"],
        "hangup" => &["prompts"],
        _ => return None,
    };
    Some(keys)
}

/// Every node kind, for the "unknown kind" message.
pub const KINDS: &str =
    "play, menu, collect, verify, branch, queue, callback, voicemail, survey, transfer, set, hangup";
