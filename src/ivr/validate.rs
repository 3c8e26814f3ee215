//! From the file's serde mirror (`schema`) to a checked [`Plan`]: every
//! problem is collected with its position, none stops the others from being found.
//! Checks that need the whole plan (reachability, loops without input, prompts per
//! language, variables) run once every node has been read.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use chrono_tz::Tz;
use toml::Spanned;

use super::calendar::ClockRange;
use super::pattern::{is_key, DigitPattern};
use super::plan::*;
use super::schema::{self, CaseFile, File, NodeFile, Text};
use crate::core::media::prompt::PromptSet;
use crate::core::media::speech;

mod calendar;
mod whole_plan;

type Span = Range<usize>;

/// Reads `text` (the contents of `path`) into a plan, or every problem found.
pub(crate) fn plan(
    path: &Path,
    text: &str,
    prompts: Option<&PromptSet>,
) -> Result<Plan, Vec<PlanError>> {
    let mut cx = Cx::new(path, text);
    let file: File = match toml::from_str(text) {
        Ok(f) => f,
        Err(e) => {
            let at = e.span().map_or(0, |s| s.start);
            cx.err(at..at, e.message().trim_end().to_owned());
            return Err(cx.errors);
        }
    };
    let keys: schema::KeysOnly = toml::from_str(text).unwrap_or(schema::KeysOnly {
        nodes: BTreeMap::new(),
    });
    let plan = cx.read(file, &keys);
    cx.check_graph(&plan);
    cx.check_promises(&plan);
    cx.check_variables();
    cx.check_prompts(prompts);
    if cx.errors.is_empty() {
        Ok(plan)
    } else {
        cx.errors.sort_by_key(|e| (e.line, e.column));
        cx.errors.dedup();
        Err(cx.errors)
    }
}

/// Defaults for the asking nodes, from `[defaults]` or built in.
struct AskDefaults {
    timeout: Duration,
    inter_digit_timeout: Duration,
    retries: u32,
    timeout_prompts: Vec<String>,
    invalid_prompts: Vec<String>,
}

struct Cx<'a> {
    path: &'a Path,
    /// Byte offset where each line starts.
    line_starts: Vec<usize>,
    text: &'a str,
    errors: Vec<PlanError>,
    names: BTreeSet<String>,
    outcomes: BTreeSet<String>,
    targets: BTreeSet<String>,
    defaults: AskDefaults,
    /// Every prompt the plan can play, where it is named.
    prompts: Vec<(String, Span)>,
    /// Languages callers can hear, where each is chosen.
    languages: Vec<(Language, Span)>,
    /// Variables given a value: by a collect (with its `sensitive`) or a set node.
    assigned: BTreeMap<String, Option<bool>>,
    /// Variables read by verify (`true`: as the secret) or branch nodes.
    read: Vec<(String, Span, bool)>,
    node_spans: BTreeMap<String, Span>,
    /// A reference to a node that does not exist was seen.
    bad_refs: bool,
    /// Names of the calendar's named holidays.
    holiday_names: BTreeSet<String>,
}

impl<'a> Cx<'a> {
    fn new(path: &'a Path, text: &'a str) -> Cx<'a> {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Cx {
            path,
            line_starts,
            text,
            errors: Vec::new(),
            names: BTreeSet::new(),
            outcomes: BTreeSet::new(),
            targets: BTreeSet::new(),
            defaults: AskDefaults {
                timeout: Duration::from_secs(5),
                inter_digit_timeout: Duration::from_secs(3),
                retries: 2,
                timeout_prompts: Vec::new(),
                invalid_prompts: Vec::new(),
            },
            prompts: Vec::new(),
            languages: Vec::new(),
            assigned: BTreeMap::new(),
            read: Vec::new(),
            node_spans: BTreeMap::new(),
            bad_refs: false,
            holiday_names: BTreeSet::new(),
        }
    }

    /// Line and column (from 1, columns in characters) of a byte offset.
    fn position(&self, offset: usize) -> (usize, usize) {
        let mut at = offset.min(self.text.len());
        while !self.text.is_char_boundary(at) {
            at -= 1;
        }
        let line = self.line_starts.partition_point(|&s| s <= at);
        let start = self.line_starts[line - 1];
        (line, self.text[start..at].chars().count() + 1)
    }

    fn err(&mut self, span: Span, message: impl Into<String>) {
        let (line, column) = self.position(span.start);
        self.errors.push(PlanError {
            file: self.path.to_owned(),
            line,
            column,
            message: message.into(),
        });
    }

    fn read(&mut self, file: File, keys: &schema::KeysOnly) -> Plan {
        let name = file.name.map_or_else(
            || {
                self.path
                    .file_stem()
                    .map_or_else(String::new, |s| s.to_string_lossy().into_owned())
            },
            Spanned::into_inner,
        );
        let mut numbers = Vec::new();
        let mut number_positions = Vec::new();
        if file.numbers.get_ref().is_empty() {
            self.err(
                file.numbers.span(),
                "`numbers` is empty: the plan would answer no call",
            );
        }
        for n in file.numbers.get_ref() {
            match NumberPattern::parse(n.get_ref()) {
                Ok(p) => {
                    numbers.push(p);
                    number_positions.push(self.position(n.span().start));
                }
                Err(m) => self.err(n.span(), m),
            }
        }
        let language = self.language(&file.language);
        let tz = file.time_zone.get_ref().parse::<Tz>().unwrap_or_else(|_| {
            self.err(
                file.time_zone.span(),
                format!(
                    "unknown time zone {:?} (an IANA name such as \"Asia/Shanghai\")",
                    file.time_zone.get_ref()
                ),
            );
            Tz::UTC
        });
        for t in &file.transfer_targets {
            if t.get_ref().trim().is_empty() || !self.targets.insert(t.get_ref().clone()) {
                self.err(
                    t.span(),
                    format!("transfer target {:?} is empty or listed twice", t.get_ref()),
                );
            }
        }
        self.read_defaults(&file.defaults);
        let mut outcomes = Vec::new();
        for o in &file.outcomes {
            let code = o.code.get_ref();
            let good = !code.is_empty()
                && code
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.-".contains(c));
            if !good {
                self.err(
                    o.code.span(),
                    format!("outcome code {code:?}: use lower-case letters, digits, _ . -"),
                );
            } else if !self.outcomes.insert(code.clone()) {
                self.err(
                    o.code.span(),
                    format!("outcome code {code:?} is declared twice"),
                );
            }
            let key = o.key.as_ref().map(|k| k.get_ref().clone());
            if let (Some(k), Some(span)) = (&key, o.key.as_ref().map(|k| k.span())) {
                if k.is_empty() || k.len() > 8 || !k.bytes().all(|b| b.is_ascii_digit()) {
                    self.err(span, format!("outcome key {k:?}: 1 to 8 digits"));
                } else if outcomes
                    .iter()
                    .any(|x: &OutcomeCode| x.key.as_ref() == Some(k))
                {
                    self.err(span, format!("outcome key {k:?} is used twice"));
                }
            }
            outcomes.push(OutcomeCode {
                code: code.clone(),
                label: o.label.clone(),
                follow_up: o.follow_up,
                key,
            });
        }
        let calendar = self.read_calendar(&file.calendar, tz);
        self.names = file.nodes.keys().map(|k| k.get_ref().clone()).collect();
        let start = self.node_ref(&file.start);
        let mut nodes = BTreeMap::new();
        for (key, node) in &file.nodes {
            let name = key.get_ref().clone();
            self.node_spans.insert(name.clone(), node.span());
            if let Some(present) = keys.nodes.get(&name) {
                self.check_keys(node.get_ref(), present);
            }
            if let Some(kind) = self.read_node(node.get_ref(), node.span()) {
                let outcome = node.get_ref().outcome.as_ref().map(|o| self.outcome(o));
                nodes.insert(
                    name.clone(),
                    Node {
                        name,
                        outcome,
                        kind,
                    },
                );
            }
        }
        Plan {
            file: self.path.to_owned(),
            name,
            numbers,
            language,
            calendar,
            outcomes,
            transfer_targets: self.targets.iter().cloned().collect(),
            company: file
                .company
                .iter()
                .map(|(lang, name)| (self.language(lang), name.get_ref().clone()))
                .collect(),
            hangup_grace: match &file.hangup_grace_secs {
                Some(g) if *g.get_ref() > 60 => {
                    self.err(g.span(), "`hangup_grace_secs` is 0 to 60");
                    Duration::from_secs(3)
                }
                Some(g) => Duration::from_secs(*g.get_ref()),
                None => Duration::from_secs(3),
            },
            start,
            nodes,
            number_positions,
        }
    }

    fn read_defaults(&mut self, d: &schema::Defaults) {
        if let Some(t) = &d.timeout {
            self.defaults.timeout = self.seconds(t);
        }
        if let Some(t) = &d.inter_digit_timeout {
            self.defaults.inter_digit_timeout = self.seconds(t);
        }
        if let Some(r) = d.retries {
            self.defaults.retries = r;
        }
        if let Some(p) = &d.timeout_prompts {
            self.defaults.timeout_prompts = self.prompt_list(p);
        }
        if let Some(p) = &d.invalid_prompts {
            self.defaults.invalid_prompts = self.prompt_list(p);
        }
    }

    fn language(&mut self, t: &Text) -> Language {
        match t.get_ref().parse() {
            Ok(l) => {
                self.languages.push((l, t.span()));
                l
            }
            Err(m) => {
                self.err(t.span(), m);
                Language::ZhCn
            }
        }
    }

    fn node_ref(&mut self, t: &Text) -> String {
        if !self.names.contains(t.get_ref()) {
            self.bad_refs = true;
            self.err(t.span(), format!("unknown node {:?}", t.get_ref()));
        }
        t.get_ref().clone()
    }

    fn outcome(&mut self, t: &Text) -> String {
        if !self.outcomes.contains(t.get_ref()) {
            self.err(
                t.span(),
                format!(
                    "unknown outcome code {:?} (declare it under [[outcomes]])",
                    t.get_ref()
                ),
            );
        }
        t.get_ref().clone()
    }

    fn seconds(&mut self, v: &Spanned<u64>) -> Duration {
        if *v.get_ref() == 0 || *v.get_ref() > 86_400 {
            self.err(v.span(), "must be between 1 and 86400 seconds");
        }
        Duration::from_secs(*v.get_ref())
    }

    fn prompt(&mut self, t: &Text) -> String {
        let name = t.get_ref();
        let good = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !good {
            self.err(
                t.span(),
                format!("bad prompt name {name:?}: a file name without .wav"),
            );
        }
        self.prompts.push((name.clone(), t.span()));
        name.clone()
    }

    fn prompt_list(&mut self, list: &[Text]) -> Vec<String> {
        list.iter().map(|t| self.prompt(t)).collect()
    }

    fn variable(&mut self, t: &Text) -> String {
        let name = t.get_ref();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            self.err(
                t.span(),
                format!("bad variable name {name:?}: letters, digits and _"),
            );
        }
        name.clone()
    }

    /// Keys that exist but do not apply to the node's kind are mistakes, not noise.
    fn check_keys(&mut self, node: &NodeFile, present: &BTreeMap<Text, serde::de::IgnoredAny>) {
        let kind = node.kind.get_ref();
        let Some(allowed) = schema::keys_for(kind) else {
            return;
        };
        for key in present.keys() {
            let k = key.get_ref().as_str();
            if k != "kind" && k != "outcome" && !allowed.contains(&k) {
                self.err(key.span(), format!("`{k}` does not apply to a {kind} node"));
            }
        }
    }

    /// A key a kind cannot do without; reported at the node.
    fn need<'t, T>(&mut self, at: &Span, kind: &str, key: &str, v: &'t Option<T>) -> Option<&'t T> {
        if v.is_none() {
            self.err(at.clone(), format!("a {kind} node needs `{key}`"));
        }
        v.as_ref()
    }

    fn need_ref(&mut self, at: &Span, kind: &str, key: &str, v: &Option<Text>) -> String {
        match self.need(at, kind, key, v) {
            Some(t) => self.node_ref(t),
            None => String::new(),
        }
    }

    fn opt_ref(&mut self, v: &Option<Text>) -> Option<String> {
        v.as_ref().map(|t| self.node_ref(t))
    }

    fn prompts_of(&mut self, v: &Option<Vec<Text>>) -> Vec<String> {
        v.as_deref()
            .map(|l| self.prompt_list(l))
            .unwrap_or_default()
    }

    fn ask(&mut self, n: &NodeFile) -> Ask {
        let timeout = match &n.timeout {
            Some(t) => self.seconds(t),
            None => self.defaults.timeout,
        };
        let timeout_prompts = match &n.timeout_prompts {
            Some(p) => self.prompt_list(p),
            None => self.defaults.timeout_prompts.clone(),
        };
        let invalid_prompts = match &n.invalid_prompts {
            Some(p) => self.prompt_list(p),
            None => self.defaults.invalid_prompts.clone(),
        };
        Ask {
            barge_in: n.barge_in.unwrap_or(true),
            timeout,
            retries: n.retries.unwrap_or(self.defaults.retries),
            timeout_prompts,
            invalid_prompts,
        }
    }

    fn read_node(&mut self, n: &NodeFile, at: Span) -> Option<NodeKind> {
        let kind = n.kind.get_ref().as_str();
        Some(match kind {
            "play" => {
                let prompts = self.prompts_of(&n.prompts);
                if prompts.is_empty() {
                    self.err(
                        at.clone(),
                        "a play node needs at least one prompt in `prompts`",
                    );
                }
                NodeKind::Play(Play {
                    prompts,
                    barge_in: n.barge_in.unwrap_or(false),
                    type_ahead: n.type_ahead.unwrap_or(true),
                    next: self.need_ref(&at, kind, "next", &n.next),
                })
            }
            "menu" => {
                let mut options = BTreeMap::new();
                for (key, target) in self
                    .need(&at, kind, "options", &n.options)
                    .into_iter()
                    .flatten()
                {
                    let mut chars = key.get_ref().chars();
                    match (chars.next(), chars.next()) {
                        (Some(c), None) if is_key(c) => {
                            options.insert(c, self.node_ref(target));
                        }
                        _ => self.err(
                            key.span(),
                            format!("menu option {:?} is not one key (0-9, *, #)", key.get_ref()),
                        ),
                    }
                }
                NodeKind::Menu(Menu {
                    prompts: self.prompts_of(&n.prompts),
                    ask: self.ask(n),
                    options,
                    fallback: self.need_ref(&at, kind, "fallback", &n.fallback),
                })
            }
            "collect" => NodeKind::Collect(self.read_collect(n, &at)),
            "verify" => {
                let var = |cx: &mut Self, key, v: &Option<Text>, secret| {
                    let t = cx.need(&at, kind, key, v)?;
                    let name = cx.variable(t);
                    cx.read.push((name.clone(), t.span(), secret));
                    Some(name)
                };
                let account = var(self, "account", &n.account, false).unwrap_or_default();
                let secret = var(self, "secret", &n.secret, true).unwrap_or_default();
                let method = match n.method.as_ref().map(|m| (m.get_ref().as_str(), m.span())) {
                    None | Some(("pin", _)) => SecretKind::Pin,
                    Some(("id_digits", _)) => SecretKind::IdDigits,
                    Some((other, span)) => {
                        self.err(
                            span,
                            format!("unknown method {other:?} (\"pin\" or \"id_digits\")"),
                        );
                        SecretKind::Pin
                    }
                };
                let attempts = n.attempts.as_ref().map_or(3, |a| *a.get_ref());
                if attempts == 0 {
                    self.err(
                        n.attempts.as_ref().map_or(at.clone(), |a| a.span()),
                        "`attempts` must be at least 1",
                    );
                }
                NodeKind::Verify(Verify {
                    account,
                    secret,
                    method,
                    attempts,
                    ok: self.need_ref(&at, kind, "ok", &n.ok),
                    failed: self.need_ref(&at, kind, "failed", &n.failed),
                    locked: self.need_ref(&at, kind, "locked", &n.locked),
                    exhausted: self.need_ref(&at, kind, "exhausted", &n.exhausted),
                })
            }
            "branch" => {
                let cases = n
                    .cases
                    .iter()
                    .flatten()
                    .map(|c| self.read_case(c))
                    .collect();
                NodeKind::Branch(Branch {
                    cases,
                    default: self.need_ref(&at, kind, "default", &n.default),
                })
            }
            "queue" => {
                let queue = self
                    .need(&at, kind, "queue", &n.queue)
                    .map(|q| q.get_ref().clone())
                    .unwrap_or_default();
                let priority = n.priority.as_ref().map_or(5, |p| *p.get_ref());
                if priority > 9 {
                    let span = n.priority.as_ref().map_or(at.clone(), |p| p.span());
                    self.err(span, "`priority` is 0 to 9 (9 is answered first)");
                }
                let max_wait = n
                    .max_wait
                    .as_ref()
                    .map_or(Duration::from_secs(300), |w| self.seconds(w));
                NodeKind::Queue(Queue {
                    queue,
                    priority,
                    max_wait,
                    prompts: self.prompts_of(&n.prompts),
                    overflow: self.need_ref(&at, kind, "overflow", &n.overflow),
                    after: self.opt_ref(&n.after),
                })
            }
            "callback" => NodeKind::Callback(self.read_callback(n, &at)),
            "voicemail" => {
                let beep = match &n.beep {
                    Some(b) => self.prompt(b),
                    None => {
                        self.prompts.push(("beep".into(), at.clone()));
                        "beep".into()
                    }
                };
                NodeKind::Voicemail(Voicemail {
                    prompts: self.prompts_of(&n.prompts),
                    beep,
                    max: n
                        .max
                        .as_ref()
                        .map_or(Duration::from_secs(120), |m| self.seconds(m)),
                    promise: n.follow_up.is_some().then(|| self.promise(n)),
                    next: self.opt_ref(&n.next),
                })
            }
            "survey" => {
                let questions = self.prompts_of(&n.questions);
                if questions.is_empty() {
                    self.err(
                        at.clone(),
                        "a survey node needs at least one prompt in `questions`",
                    );
                }
                NodeKind::Survey(Survey {
                    ask: self.ask(n),
                    questions,
                    next: self.opt_ref(&n.next),
                })
            }
            "transfer" => {
                let target = match self.need(&at, kind, "target", &n.target) {
                    Some(t) if !self.targets.contains(t.get_ref()) => {
                        self.err(
                            t.span(),
                            format!(
                                "transfer target {:?} is not listed in `transfer_targets`",
                                t.get_ref()
                            ),
                        );
                        t.get_ref().clone()
                    }
                    Some(t) => t.get_ref().clone(),
                    None => String::new(),
                };
                NodeKind::Transfer(Transfer {
                    prompts: self.prompts_of(&n.prompts),
                    target,
                })
            }
            "set" => {
                let mut variables = BTreeMap::new();
                for (k, v) in n.variables.iter().flatten() {
                    let name = self.variable(k);
                    self.assigned.entry(name.clone()).or_insert(None);
                    variables.insert(name, v.get_ref().clone());
                }
                NodeKind::Set(Set {
                    variables,
                    language: n.language.as_ref().map(|l| self.language(l)),
                    next: self.need_ref(&at, kind, "next", &n.next),
                })
            }
            "hangup" => NodeKind::Hangup(Hangup {
                prompts: self.prompts_of(&n.prompts),
            }),
            other => {
                self.err(
                    n.kind.span(),
                    format!("unknown node kind {other:?} (one of {})", schema::KINDS),
                );
                return None;
            }
        })
    }

    fn read_collect(&mut self, n: &NodeFile, at: &Span) -> Collect {
        let variable = match self.need(at, "collect", "variable", &n.variable) {
            Some(v) => self.variable(v),
            None => String::new(),
        };
        let sensitive = n.sensitive.unwrap_or(false);
        self.assigned.insert(variable.clone(), Some(sensitive));
        let min = n.min_digits.as_ref().map_or(1, |m| *m.get_ref());
        let max = n.max_digits.as_ref().map_or(20, |m| *m.get_ref());
        if min == 0 || min > max || max > 64 {
            let span = n
                .min_digits
                .as_ref()
                .or(n.max_digits.as_ref())
                .map_or(at.clone(), |m| m.span());
            self.err(
                span,
                format!("digits: need 1 <= min_digits <= max_digits <= 64, got {min} and {max}"),
            );
        }
        let terminator = n.terminator.as_ref().and_then(|t| {
            let mut chars = t.get_ref().chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) if is_key(c) => Some(c),
                _ => {
                    self.err(
                        t.span(),
                        format!("terminator {:?} is not one key", t.get_ref()),
                    );
                    None
                }
            }
        });
        let pattern = n
            .pattern
            .as_ref()
            .and_then(|p| match DigitPattern::parse(p.get_ref()) {
                Ok(pat) => {
                    let (lo, hi) = pat.length();
                    if lo > max || hi.is_some_and(|hi| hi < min) {
                        self.err(
                            p.span(),
                            format!(
                                "pattern {:?} can never match {min} to {max} keys",
                                p.get_ref()
                            ),
                        );
                    }
                    Some(pat)
                }
                Err(m) => {
                    self.err(p.span(), m);
                    None
                }
            });
        let inter_digit_timeout = match &n.inter_digit_timeout {
            Some(t) => self.seconds(t),
            None => self.defaults.inter_digit_timeout,
        };
        Collect {
            prompts: self.prompts_of(&n.prompts),
            ask: self.ask(n),
            variable,
            min_digits: min,
            max_digits: max,
            terminator,
            inter_digit_timeout,
            pattern,
            sensitive,
            next: self.need_ref(at, "collect", "next", &n.next),
            fallback: self.need_ref(at, "collect", "fallback", &n.fallback),
        }
    }

    /// The follow-up a callback or voicemail node writes.
    fn promise(&mut self, n: &NodeFile) -> Promise {
        let kind = match n
            .follow_up
            .as_ref()
            .map(|f| (f.get_ref().as_str(), f.span()))
        {
            None | Some(("callback", _)) => FollowUpKind::Callback,
            Some(("complaint", _)) => FollowUpKind::Complaint,
            Some((other, span)) => {
                self.err(
                    span,
                    format!("unknown follow_up {other:?} (\"callback\" or \"complaint\")"),
                );
                FollowUpKind::Callback
            }
        };
        let category_from = n.category_from.as_ref().map(|v| {
            let name = self.variable(v);
            self.read.push((name.clone(), v.span(), false));
            name
        });
        Promise {
            kind,
            category: n
                .category
                .as_ref()
                .map_or_else(|| kind.name().to_owned(), |c| c.get_ref().clone()),
            category_from,
            within_hours: n.within_hours.unwrap_or(4),
            urgent: n.urgent.unwrap_or(false),
        }
    }

    fn read_callback(&mut self, n: &NodeFile, at: &Span) -> Callback {
        let confirm_number = n.confirm_number.unwrap_or(true);
        let confirm = self.prompts_of(&n.confirm);
        // Needed even without `confirm_number`: a number the caller types is always
        // read back for confirmation.
        if confirm.is_empty() {
            self.err(
                at.clone(),
                "a callback node needs `confirm` prompts (1 = confirm, 2 = another number)",
            );
        }
        // The number is read back digit by digit (speech::digits), the promised time
        // with speech::deadline.
        let say_time = n.say_time.unwrap_or(true);
        let spoken = speech::digits("0123456789", "en").into_iter().chain(
            say_time
                .then_some(speech::DEADLINE_NAMES)
                .into_iter()
                .flatten()
                .copied(),
        );
        for d in spoken {
            self.prompts.push((d.to_owned(), at.clone()));
        }
        Callback {
            ask: self.ask(n),
            promise: self.promise(n),
            confirm_number,
            number_is: self.prompts_of(&n.number_is),
            confirm,
            enter_number: self.prompts_of(&n.enter_number),
            confirmed: self.prompts_of(&n.confirmed),
            say_time,
            next: self.need_ref(at, "callback", "next", &n.next),
            fallback: self.need_ref(at, "callback", "fallback", &n.fallback),
        }
    }

    fn read_case(&mut self, c: &CaseFile) -> Case {
        let mut when = Vec::new();
        if let Some(t) = &c.time {
            match ClockRange::parse(t.get_ref()) {
                Ok(r) => when.push(Condition::Time(r)),
                Err(m) => self.err(t.span(), m),
            }
        }
        let flags = [
            (c.open, Condition::Open as fn(bool) -> Condition),
            (c.working_day, Condition::WorkingDay),
            (c.holiday, Condition::Holiday),
            (c.makeup_day, Condition::MakeupDay),
            (c.verified, Condition::Verified),
        ];
        when.extend(flags.into_iter().filter_map(|(v, f)| v.map(f)));
        if let Some(h) = &c.holiday_name {
            if !self.holiday_names.contains(h.get_ref()) {
                self.err(
                    h.span(),
                    format!(
                        "no holiday named {:?} in [calendar.named_holidays]",
                        h.get_ref()
                    ),
                );
            }
            when.push(Condition::HolidayName(h.get_ref().clone()));
        }
        if let Some(p) = &c.caller_prefix {
            when.push(Condition::CallerPrefix(p.to_vec()));
        }
        match (&c.variable, &c.equals) {
            (Some(v), Some(e)) => {
                let name = self.variable(v);
                self.read.push((name.clone(), v.span(), false));
                when.push(Condition::VariableEquals {
                    name,
                    value: e.get_ref().clone(),
                });
            }
            (Some(t), None) | (None, Some(t)) => {
                self.err(t.span(), "`variable` and `equals` go together");
            }
            (None, None) => {}
        }
        if let Some(l) = &c.language {
            match l.get_ref().parse() {
                Ok(lang) => when.push(Condition::Language(lang)),
                Err(m) => self.err(l.span(), m),
            }
        }
        Case {
            when,
            goto: self.node_ref(&c.goto),
        }
    }
}
