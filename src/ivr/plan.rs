//! Dial plans: one hotline per `dialplans/*.toml` file, loaded into the typed [`Plan`]
//! the engine walks. Loading validates everything and reports every problem with its
//! file, line and column, so an operator fixes a file in one pass; a plan with any
//! error is never returned, so a call can never meet a dangling reference.
//!
//! The file format is documented in `dialplans/README.md`; `schema` is its
//! serde mirror and `validate` turns that into these types.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use super::calendar::{Calendar, ClockRange};
use super::pattern::DigitPattern;
use crate::core::media::prompt::PromptSet;

/// One problem in one dial plan file. `line` and `column` count from 1; both are 0 when
/// the problem is the file as a whole (it cannot be read).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PlanError {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file.display(),
                self.line,
                self.column,
                self.message
            )
        }
    }
}

/// The languages prompts exist in. Callers hear the plan's default until a `set` node
/// changes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Language {
    ZhCn,
    En,
}

impl Language {
    /// The prompt folder name and the code stored on the call.
    pub fn code(self) -> &'static str {
        match self {
            Language::ZhCn => "zh-CN",
            Language::En => "en",
        }
    }
}

impl FromStr for Language {
    type Err = String;
    fn from_str(s: &str) -> Result<Language, String> {
        match s {
            "zh-CN" => Ok(Language::ZhCn),
            "en" => Ok(Language::En),
            _ => Err(format!(
                "unknown language {s:?} (expected \"zh-CN\" or \"en\")"
            )),
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Which called numbers (Request-URI user part) a plan answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NumberPattern {
    /// `"95555"`: this number only.
    Exact(String),
    /// `"400*"`: every number starting so.
    Prefix(String),
    /// `"*"`: anything not answered by a more specific plan.
    Any,
}

impl NumberPattern {
    pub fn parse(text: &str) -> Result<NumberPattern, String> {
        let ok = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-_.".contains(c))
        };
        match text.strip_suffix('*') {
            Some("") => Ok(NumberPattern::Any),
            Some(prefix) if ok(prefix) => Ok(NumberPattern::Prefix(prefix.to_owned())),
            None if ok(text) => Ok(NumberPattern::Exact(text.to_owned())),
            _ => Err(format!(
                "bad number pattern {text:?}: use \"95555\", a prefix \"400*\" or \"*\""
            )),
        }
    }

    /// How specific a match of `called` is, higher wins; `None` when it does not match.
    /// Exact beats any prefix, a longer prefix beats a shorter one, `*` comes last.
    pub fn specificity(&self, called: &str) -> Option<usize> {
        match self {
            NumberPattern::Exact(n) => (n == called).then_some(usize::MAX),
            NumberPattern::Prefix(p) => called.starts_with(p.as_str()).then_some(1 + p.len()),
            NumberPattern::Any => Some(0),
        }
    }
}

impl fmt::Display for NumberPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NumberPattern::Exact(n) => f.write_str(n),
            NumberPattern::Prefix(p) => write!(f, "{p}*"),
            NumberPattern::Any => f.write_str("*"),
        }
    }
}

/// A declared outcome code: the stable code stored on the call, a label for reports,
/// and whether calls ending with it need a follow-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutcomeCode {
    pub code: String,
    pub label: String,
    pub follow_up: bool,
    /// Digits an agent keys for it after a call.
    pub key: Option<String>,
}

/// A loaded, validated dial plan. Every node name it mentions exists, every outcome
/// code is declared, every transfer target is allowed.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The file it came from, for logs and for reload.
    pub file: PathBuf,
    pub name: String,
    pub numbers: Vec<NumberPattern>,
    pub language: Language,
    pub calendar: Calendar,
    pub outcomes: Vec<OutcomeCode>,
    pub transfer_targets: Vec<String>,
    /// The company the greeting names, per language (`scripts/make-prompts.sh` makes
    /// the prompts with it).
    pub company: BTreeMap<Language, String>,
    /// After the goodbye, how long the caller may take to hang up first.
    pub hangup_grace: Duration,
    pub start: String,
    pub nodes: BTreeMap<String, Node>,
    /// Where each entry of `numbers` is written, for duplicate checks across files.
    pub(crate) number_positions: Vec<(usize, usize)>,
}

/// So a list of plans, owned or shared, can be searched alike.
impl AsRef<Plan> for Plan {
    fn as_ref(&self) -> &Plan {
        self
    }
}

impl Plan {
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.get(name)
    }

    pub fn outcome(&self, code: &str) -> Option<&OutcomeCode> {
        self.outcomes.iter().find(|o| o.code == code)
    }

    /// The best specificity with which this plan answers `called`.
    pub fn answers(&self, called: &str) -> Option<usize> {
        self.numbers
            .iter()
            .filter_map(|p| p.specificity(called))
            .max()
    }
}

/// One named step of the flow. `outcome`, when set, becomes the call's outcome code
/// as the caller arrives here.
#[derive(Debug, Clone)]
pub struct Node {
    pub name: String,
    pub outcome: Option<String>,
    pub kind: NodeKind,
}

#[derive(Debug, Clone)]
pub enum NodeKind {
    Play(Play),
    Menu(Menu),
    Collect(Collect),
    Verify(Verify),
    Branch(Branch),
    Queue(Queue),
    Callback(Callback),
    Voicemail(Voicemail),
    Survey(Survey),
    Transfer(Transfer),
    Set(Set),
    Hangup(Hangup),
}

impl NodeKind {
    /// The `kind = "..."` name.
    pub fn name(&self) -> &'static str {
        match self {
            NodeKind::Play(_) => "play",
            NodeKind::Menu(_) => "menu",
            NodeKind::Collect(_) => "collect",
            NodeKind::Verify(_) => "verify",
            NodeKind::Branch(_) => "branch",
            NodeKind::Queue(_) => "queue",
            NodeKind::Callback(_) => "callback",
            NodeKind::Voicemail(_) => "voicemail",
            NodeKind::Survey(_) => "survey",
            NodeKind::Transfer(_) => "transfer",
            NodeKind::Set(_) => "set",
            NodeKind::Hangup(_) => "hangup",
        }
    }

    /// Whether the node stops to wait for the caller's keys; a loop of nodes that never
    /// do would spin (or repeat prompts) forever, so validation refuses it.
    pub fn waits_for_input(&self) -> bool {
        matches!(
            self,
            NodeKind::Menu(_) | NodeKind::Collect(_) | NodeKind::Callback(_) | NodeKind::Survey(_)
        )
    }
}

fn one(s: &Option<String>) -> Vec<&str> {
    s.as_deref().into_iter().collect()
}

impl NodeKind {
    /// The nodes this one can lead to, in declaration order.
    pub fn targets(&self) -> Vec<&str> {
        match self {
            NodeKind::Play(p) => vec![&p.next],
            NodeKind::Menu(m) => m
                .options
                .values()
                .map(String::as_str)
                .chain([m.fallback.as_str()])
                .collect(),
            NodeKind::Collect(c) => vec![&c.next, &c.fallback],
            NodeKind::Verify(v) => vec![&v.ok, &v.failed, &v.locked, &v.exhausted],
            NodeKind::Branch(b) => b
                .cases
                .iter()
                .map(|c| c.goto.as_str())
                .chain([b.default.as_str()])
                .collect(),
            NodeKind::Queue(q) => [&q.overflow]
                .into_iter()
                .map(String::as_str)
                .chain(one(&q.after))
                .collect(),
            NodeKind::Callback(c) => vec![&c.next, &c.fallback],
            NodeKind::Voicemail(v) => one(&v.next),
            NodeKind::Survey(s) => one(&s.next),
            NodeKind::Set(s) => vec![&s.next],
            NodeKind::Transfer(_) | NodeKind::Hangup(_) => Vec::new(),
        }
    }
}

/// How a node asks for keys: shared by menu, collect, callback and survey.
#[derive(Debug, Clone)]
pub struct Ask {
    /// Keys pressed while the prompt plays stop it and count as input.
    pub barge_in: bool,
    /// From the end of the prompt to the first key.
    pub timeout: Duration,
    /// Further attempts after the first, on no input or a wrong input.
    pub retries: u32,
    pub timeout_prompts: Vec<String>,
    pub invalid_prompts: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Play {
    pub prompts: Vec<String>,
    pub barge_in: bool,
    /// Keys pressed while it plays (without barge-in) are kept for the next asking
    /// node, as a caller who knows the menu types ahead; off before a PIN.
    pub type_ahead: bool,
    pub next: String,
}

#[derive(Debug, Clone)]
pub struct Menu {
    pub prompts: Vec<String>,
    pub ask: Ask,
    pub options: BTreeMap<char, String>,
    /// After the last retry.
    pub fallback: String,
}

#[derive(Debug, Clone)]
pub struct Collect {
    pub prompts: Vec<String>,
    pub ask: Ask,
    pub variable: String,
    pub min_digits: usize,
    pub max_digits: usize,
    pub terminator: Option<char>,
    pub inter_digit_timeout: Duration,
    pub pattern: Option<DigitPattern>,
    /// PINs and ID digits: never in events, logs or `Debug` output.
    pub sensitive: bool,
    pub next: String,
    pub fallback: String,
}

/// What the caller proves their identity with, besides the account number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    Pin,
    IdDigits,
}

#[derive(Debug, Clone)]
pub struct Verify {
    /// Variable holding the account number.
    pub account: String,
    /// Variable holding the PIN or ID digits; cleared once sent for verification.
    pub secret: String,
    pub method: SecretKind,
    /// Failed verifications allowed per call; the last one leads to `exhausted`.
    pub attempts: u32,
    pub ok: String,
    pub failed: String,
    pub locked: String,
    pub exhausted: String,
}

#[derive(Debug, Clone)]
pub struct Branch {
    pub cases: Vec<Case>,
    pub default: String,
}

/// All conditions must hold (none: always).
#[derive(Debug, Clone)]
pub struct Case {
    pub when: Vec<Condition>,
    pub goto: String,
}

#[derive(Debug, Clone)]
pub enum Condition {
    /// Local time of day inside the range (may wrap past midnight).
    Time(ClockRange),
    /// Within opening hours, per the calendar.
    Open(bool),
    WorkingDay(bool),
    Holiday(bool),
    /// The day is in the calendar's holiday of this name (`"spring_festival"`).
    HolidayName(String),
    MakeupDay(bool),
    /// Caller number starts with one of these.
    CallerPrefix(Vec<String>),
    Verified(bool),
    VariableEquals {
        name: String,
        value: String,
    },
    Language(Language),
}

#[derive(Debug, Clone)]
pub struct Queue {
    pub queue: String,
    /// 0-9, higher is answered first.
    pub priority: u8,
    pub max_wait: Duration,
    /// Played before the call joins the queue.
    pub prompts: Vec<String>,
    /// No agent (or none within `max_wait`).
    pub overflow: String,
    /// After the agent hangs up (a survey); none: the call ends.
    pub after: Option<String>,
}

/// What a follow-up record is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowUpKind {
    Callback,
    Complaint,
}

impl FollowUpKind {
    pub fn name(self) -> &'static str {
        match self {
            FollowUpKind::Callback => "callback",
            FollowUpKind::Complaint => "complaint",
        }
    }
}

/// What a node promises the caller will happen: the follow-up it writes.
#[derive(Debug, Clone)]
pub struct Promise {
    pub kind: FollowUpKind,
    pub category: String,
    /// A variable whose value, when set, is the category (e.g. chosen from a menu).
    pub category_from: Option<String>,
    /// Within this many working hours on the calendar; when `urgent`, clock hours.
    pub within_hours: u32,
    /// Around the clock (nights and holidays count) and at the top of the work list.
    pub urgent: bool,
}

#[derive(Debug, Clone)]
pub struct Callback {
    pub ask: Ask,
    pub promise: Promise,
    /// Read the number back and ask 1 = confirm / 2 = another; false takes the caller's
    /// number as it is (still asking for one when the caller withheld it).
    pub confirm_number: bool,
    /// "We will call you back on", before the digits.
    pub number_is: Vec<String>,
    /// "To confirm, press 1. To enter another number, press 2."
    pub confirm: Vec<String>,
    /// Asks for another number.
    pub enter_number: Vec<String>,
    /// Played once the record is made, before the promised time.
    pub confirmed: Vec<String>,
    /// Speak the promised time after `confirmed` ("before 15:30 today").
    pub say_time: bool,
    pub next: String,
    pub fallback: String,
}

#[derive(Debug, Clone)]
pub struct Voicemail {
    pub prompts: Vec<String>,
    pub beep: String,
    pub max: Duration,
    /// The follow-up the message becomes, with the recording on it.
    pub promise: Option<Promise>,
    pub next: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Survey {
    pub ask: Ask,
    /// One prompt per question; answers are keys 1-5.
    pub questions: Vec<String>,
    pub next: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Transfer {
    pub prompts: Vec<String>,
    pub target: String,
}

#[derive(Debug, Clone)]
pub struct Set {
    pub variables: BTreeMap<String, String>,
    pub language: Option<Language>,
    pub next: String,
}

#[derive(Debug, Clone)]
pub struct Hangup {
    pub prompts: Vec<String>,
}

/// Reads and validates one plan. `prompts`, when given, is checked for every prompt the
/// plan can play, in every language the plan can switch to.
pub fn load_file(path: &Path, prompts: Option<&PromptSet>) -> Result<Plan, Vec<PlanError>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![PlanError {
            file: path.to_owned(),
            line: 0,
            column: 0,
            message: format!("cannot read: {e}"),
        }]
    })?;
    load_str(path, &text, prompts)
}

/// Validates a plan given as text; `path` names it in errors.
pub fn load_str(
    path: &Path,
    text: &str,
    prompts: Option<&PromptSet>,
) -> Result<Plan, Vec<PlanError>> {
    super::validate::plan(path, text, prompts)
}

/// Every `*.toml` in `dir`, in file-name order. Valid plans are returned even when other
/// files fail, so one bad file does not take the hotline down; a number answered
/// exactly by two files is an error on the second.
pub fn load_dir(dir: &Path, prompts: Option<&PromptSet>) -> (Vec<Plan>, Vec<PlanError>) {
    let whole = |file: &Path, message: String| PlanError {
        file: file.to_owned(),
        line: 0,
        column: 0,
        message,
    };
    let mut files = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "toml") && p.is_file())
            .collect::<Vec<_>>(),
        Err(e) => {
            return (
                Vec::new(),
                vec![whole(dir, format!("cannot read folder: {e}"))],
            )
        }
    };
    files.sort();
    let (mut plans, mut errors) = (Vec::<Plan>::new(), Vec::new());
    for file in files {
        match load_file(&file, prompts) {
            Ok(plan) => {
                let clash = plan.numbers.iter().zip(&plan.number_positions).find_map(
                    |(number, &(line, column))| {
                        let NumberPattern::Exact(n) = number else {
                            return None;
                        };
                        let other = plans.iter().find(|p| p.numbers.contains(number))?;
                        Some(PlanError {
                            file: file.clone(),
                            line,
                            column,
                            message: format!(
                                "number {n:?} is already answered by {}",
                                other.file.display()
                            ),
                        })
                    },
                );
                match clash {
                    Some(e) => errors.push(e),
                    None => plans.push(plan),
                }
            }
            Err(mut e) => errors.append(&mut e),
        }
    }
    if plans.is_empty() && errors.is_empty() {
        errors.push(whole(dir, "no dial plans (*.toml)".into()));
    }
    (plans, errors)
}

/// The plan answering `called`: the most specific pattern wins (exact, then the longest
/// prefix, then `*`); among equals, the first in `plans`.
pub fn select<'a>(plans: &'a [Arc<Plan>], called: &str) -> Option<&'a Arc<Plan>> {
    let mut best: Option<(usize, &Arc<Plan>)> = None;
    for plan in plans {
        if let Some(s) = plan.answers(called) {
            if best.is_none_or(|(b, _)| s > b) {
                best = Some((s, plan));
            }
        }
    }
    best.map(|(_, p)| p)
}
