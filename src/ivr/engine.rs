//! One call's walk through a dial plan, as a pure state machine.
//!
//! The owner drives it the way the rest of the core is driven: give it an input and the
//! current time, carry out the actions it returns in order, and call
//! `handle_input(now, Input::Timeout)` once `poll_timeout()` has passed. The session never reads
//! a clock; the caller's local time is the `local_now` given at the start plus the
//! time elapsed on the `Instant`s passed in, so a fake clock drives it completely.
//!
//! Playback contract: `Input::PlaybackDone` answers the latest `Action::Play` that ended
//! by itself; after `Action::StopPlayback` none is expected. Keys pressed while a
//! barge-in prompt plays stop it and count as input (also for the next asking node:
//! a caller who knows the menu may type ahead); during other prompts they are ignored.
//!
//! Secrets: keys collected by a `sensitive` node appear in no `Event`, and neither the
//! session's nor its actions' `Debug` output shows any key buffer or secret.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta};
use chrono_tz::Tz;

use super::action::{Action, CallInfo, Input, QueueOutcome, Secret, VerifyOutcome, Waiting};
use super::plan::*;

mod asking;

/// Nodes entered in one step without waiting for anything; more means a loop the
/// validator missed, and the call is ended rather than spinning.
const MAX_HOPS: usize = 200;
/// Bounds for a number typed for a callback.
const CALLBACK_MIN_DIGITS: usize = 5;
const CALLBACK_MAX_DIGITS: usize = 20;

/// Keys typed so far. Always hidden from `Debug`: only the node knows if they are secret.
#[derive(Clone, Default, PartialEq, Eq)]
struct Keys(String);

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} keys>", self.0.chars().count())
    }
}

#[derive(Clone)]
struct Var {
    value: String,
    sensitive: bool,
}

impl fmt::Debug for Var {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.sensitive {
            f.write_str("\"****\"")
        } else {
            write!(f, "{:?}", self.value)
        }
    }
}

/// What an asking node is asking right now.
#[derive(Debug, Clone)]
enum Question {
    Menu,
    Collect,
    /// Callback: "we will call you back on <number>; 1 to confirm, 2 for another".
    Confirm(Keys),
    /// Callback: typing another number.
    EnterNumber,
    /// Survey question, from 0.
    Survey(usize),
}

#[derive(Debug, Clone, Copy)]
enum Phase {
    /// The question's prompt plays.
    Prompting,
    /// Waiting for a key until `deadline`.
    Listening { deadline: Instant },
}

#[derive(Debug, Clone)]
struct Asking {
    node: String,
    question: Question,
    failures: u32,
    phase: Phase,
    keys: Keys,
}

/// What happens when a node's prompts have played.
#[derive(Debug, Clone)]
enum Then {
    Goto(String),
    Queue,
    Record,
    Transfer,
    Hangup,
}

#[derive(Debug, Clone)]
enum State {
    NotStarted,
    Playing {
        node: String,
        barge_in: bool,
        then: Then,
    },
    Asking(Asking),
    Verifying {
        node: String,
    },
    Queued {
        node: String,
    },
    Connected {
        node: String,
    },
    Recording {
        node: String,
        deadline: Instant,
    },
    Ended,
}

/// Why an answer was not taken.
#[derive(Clone, Copy)]
enum Miss {
    NoInput,
    Invalid,
}

/// One call in one plan. See the module documentation for how to drive it.
pub struct Session {
    plan: Arc<Plan>,
    call: CallInfo,
    /// The caller's local time at the first input, and the `Instant` it happened.
    local_start: DateTime<Tz>,
    started: Option<Instant>,
    language: Language,
    verified: bool,
    customer: Option<String>,
    outcome: Option<String>,
    vars: BTreeMap<String, Var>,
    path: Vec<String>,
    verify_failures: u32,
    /// Keys pressed during a barge-in prompt, for the next asking node.
    typeahead: Keys,
    /// After a collect ended at its maximum, its terminator (pressed out of habit) is
    /// dropped rather than taken as the next node's input.
    swallow: Option<char>,
    state: State,
}

impl Session {
    /// A session for `call` on `plan`; `local_now` is the time the call is answered
    /// (any time zone: it is read in the plan's).
    pub fn new(plan: Arc<Plan>, call: CallInfo, local_now: DateTime<Tz>) -> Session {
        let local_start = plan.calendar.local(local_now);
        Session {
            language: plan.language,
            plan,
            call,
            local_start,
            started: None,
            verified: false,
            customer: None,
            outcome: None,
            vars: BTreeMap::new(),
            path: Vec::new(),
            verify_failures: 0,
            typeahead: Keys::default(),
            swallow: None,
            state: State::NotStarted,
        }
    }

    pub fn plan(&self) -> &Arc<Plan> {
        &self.plan
    }

    pub fn call(&self) -> &CallInfo {
        &self.call
    }

    pub fn language(&self) -> Language {
        self.language
    }

    pub fn verified(&self) -> bool {
        self.verified
    }

    /// The customer ID from a successful verification.
    pub fn customer(&self) -> Option<&str> {
        self.customer.as_deref()
    }

    pub fn outcome(&self) -> Option<&str> {
        self.outcome.as_deref()
    }

    /// A variable's value; `None` for sensitive ones, which never leave the session.
    pub fn variable(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .filter(|v| !v.sensitive)
            .map(|v| v.value.as_str())
    }

    /// Every variable that is not sensitive, sorted by name.
    pub fn variables(&self) -> Vec<(&str, &str)> {
        self.vars
            .iter()
            .filter(|(_, v)| !v.sensitive)
            .map(|(k, v)| (k.as_str(), v.value.as_str()))
            .collect()
    }

    /// The nodes entered so far, in order (a node entered twice appears twice).
    pub fn path(&self) -> &[String] {
        &self.path
    }

    /// The node the call is in, once started and until it ends.
    pub fn current_node(&self) -> Option<&str> {
        match &self.state {
            State::NotStarted | State::Ended => None,
            State::Playing { node, .. }
            | State::Verifying { node }
            | State::Queued { node }
            | State::Connected { node }
            | State::Recording { node, .. } => Some(node),
            State::Asking(a) => Some(&a.node),
        }
    }

    pub fn waiting(&self) -> Waiting {
        match &self.state {
            State::NotStarted => Waiting::Start,
            State::Playing { barge_in, .. } => Waiting::Playback {
                barge_in: *barge_in,
            },
            State::Asking(a) => match a.phase {
                Phase::Prompting => Waiting::Playback {
                    barge_in: self.ask_of(&a.node).is_some_and(|k| k.barge_in),
                },
                Phase::Listening { .. } => Waiting::Keys {
                    sensitive: self.is_sensitive(a),
                    partial: !a.keys.0.is_empty(),
                },
            },
            State::Verifying { .. } => Waiting::Verification,
            State::Queued { .. } => Waiting::Queue,
            State::Connected { .. } => Waiting::Agent,
            State::Recording { .. } => Waiting::Recording,
            State::Ended => Waiting::Ended,
        }
    }

    /// Whether a key pressed now may become part of a secret, so its owner keeps it off
    /// the timeline and out of logs. True while a sensitive collect asks, its prompt
    /// included (keys barge in), and during a barge-in prompt leading to one (keys typed
    /// ahead go to it). `Waiting::Keys { sensitive }` alone misses those prompts.
    pub fn keys_are_secret(&self) -> bool {
        match &self.state {
            State::Asking(a) => self.is_sensitive(a),
            State::Playing {
                node,
                barge_in,
                then: Then::Goto(next),
            } if *barge_in || self.types_ahead(node) => self.leads_to_secret(next, 8),
            _ => false,
        }
    }

    /// Whether keys pressed while `node` plays are kept for the next asking node.
    pub(super) fn types_ahead(&self, node: &str) -> bool {
        matches!(self.plan.node(node).map(|n| &n.kind), Some(NodeKind::Play(p)) if p.type_ahead)
    }

    /// Whether typed-ahead keys entering `node` can end up in a sensitive collect;
    /// past `depth` nodes the answer is a cautious yes.
    fn leads_to_secret(&self, node: &str, depth: u8) -> bool {
        if depth == 0 {
            return true;
        }
        match self.plan.node(node).map(|n| &n.kind) {
            Some(NodeKind::Collect(c)) => c.sensitive,
            Some(NodeKind::Play(p)) if p.barge_in || p.type_ahead => {
                self.leads_to_secret(&p.next, depth - 1)
            }
            Some(kind @ (NodeKind::Branch(_) | NodeKind::Set(_))) => kind
                .targets()
                .iter()
                .any(|t| self.leads_to_secret(t, depth - 1)),
            _ => false,
        }
    }

    pub fn is_ended(&self) -> bool {
        matches!(self.state, State::Ended)
    }

    /// When to call `handle_input(now, Input::Timeout)`; `None` while no timer runs.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.state {
            State::Asking(Asking {
                phase: Phase::Listening { deadline },
                ..
            })
            | State::Recording { deadline, .. } => Some(*deadline),
            _ => None,
        }
    }

    /// Feeds one input; returns what to do, in order. Inputs that make no sense in the
    /// current state (a key while nothing listens, an early timeout) are ignored.
    pub fn handle_input(&mut self, now: Instant, input: Input) -> Vec<Action> {
        let mut out = Vec::new();
        if matches!(self.state, State::Ended) {
            return out;
        }
        self.started.get_or_insert(now);
        match input {
            Input::Start => {
                if matches!(self.state, State::NotStarted) {
                    let start = self.plan.start.clone();
                    self.goto(start, now, &mut out);
                }
            }
            Input::CallerHungUp => {
                out.push(event("hangup", "caller hung up"));
                self.state = State::Ended;
            }
            Input::Digit(c) if matches!(self.state, State::Recording { .. }) => {
                // # ends a voicemail early; other keys are part of the message.
                if c == '#' {
                    self.recording_done(now, &mut out);
                }
            }
            Input::Digit(c) => {
                let c = c.to_ascii_uppercase();
                if super::pattern::is_key(c) && self.swallow.take() != Some(c) {
                    self.key(now, c, &mut out);
                }
            }
            Input::PlaybackDone => {
                self.swallow = None;
                self.playback_done(now, &mut out);
            }
            Input::Timeout => {
                if self.poll_timeout().is_some_and(|d| now >= d) {
                    self.timeout(now, &mut out);
                }
            }
            Input::VerifyResult(result) => self.verify_result(now, result, &mut out),
            Input::QueueOutcome(result) => self.queue_outcome(now, result, &mut out),
            Input::AgentHungUp => {
                if let State::Connected { node } = &self.state {
                    let after = match self.plan.node(node).map(|n| &n.kind) {
                        Some(NodeKind::Queue(q)) => q.after.clone(),
                        _ => None,
                    };
                    out.push(event("agent", "agent hung up"));
                    match after {
                        Some(next) => self.goto(next, now, &mut out),
                        None => self.hang_up(&mut out),
                    }
                }
            }
            Input::RecordingDone => {
                if matches!(self.state, State::Recording { .. }) {
                    self.recording_done(now, &mut out);
                }
            }
        }
        out
    }

    /// The caller's local time at `now`.
    fn local(&self, now: Instant) -> DateTime<Tz> {
        let elapsed = now.saturating_duration_since(self.started.unwrap_or(now));
        self.local_start + TimeDelta::from_std(elapsed).unwrap_or(TimeDelta::zero())
    }

    /// Enters `name` and every node after it that does not wait for anything.
    fn goto(&mut self, name: String, now: Instant, out: &mut Vec<Action>) {
        let mut next = Some(name);
        let mut hops = 0;
        while let Some(name) = next {
            hops += 1;
            if hops > MAX_HOPS {
                out.push(event(
                    "error",
                    format!("more than {MAX_HOPS} nodes without input"),
                ));
                self.hang_up(out);
                return;
            }
            next = self.enter(&name, now, out);
        }
    }

    /// Enters one node; `Some(next)` when the flow moves on at once.
    fn enter(&mut self, name: &str, now: Instant, out: &mut Vec<Action>) -> Option<String> {
        let plan = Arc::clone(&self.plan);
        let Some(node) = plan.node(name) else {
            // Validation makes this impossible; end the call rather than panic.
            out.push(event("error", format!("no node {name:?}")));
            self.hang_up(out);
            return None;
        };
        self.path.push(name.to_owned());
        if let Some(code) = &node.outcome {
            if self.outcome.as_ref() != Some(code) {
                self.outcome = Some(code.clone());
                out.push(Action::SetOutcome { code: code.clone() });
            }
        }
        let name = name.to_owned();
        match &node.kind {
            NodeKind::Play(p) => {
                if p.barge_in && !self.typeahead.0.is_empty() {
                    return Some(p.next.clone());
                }
                if !p.barge_in && !p.type_ahead {
                    self.typeahead = Keys::default();
                }
                self.play(
                    name,
                    p.prompts.clone(),
                    p.barge_in,
                    Then::Goto(p.next.clone()),
                    now,
                    out,
                )
            }
            NodeKind::Menu(_) => self.ask(name, Question::Menu, 0, Vec::new(), now, out),
            NodeKind::Collect(_) => self.ask(name, Question::Collect, 0, Vec::new(), now, out),
            NodeKind::Survey(_) => self.ask(name, Question::Survey(0), 0, Vec::new(), now, out),
            NodeKind::Callback(c) => {
                let number = Keys(
                    self.call
                        .caller
                        .chars()
                        .filter(char::is_ascii_digit)
                        .collect(),
                );
                if number.0.is_empty() {
                    self.ask(name, Question::EnterNumber, 0, Vec::new(), now, out)
                } else if c.confirm_number {
                    self.ask(name, Question::Confirm(number), 0, Vec::new(), now, out)
                } else {
                    self.follow_up(&name, number.0, now, out)
                }
            }
            NodeKind::Verify(v) => self.verify(name, v, out),
            NodeKind::Branch(b) => {
                let local = self.local(now);
                let (label, target) = match b
                    .cases
                    .iter()
                    .position(|c| c.when.iter().all(|w| self.holds(w, local)))
                {
                    Some(i) => (format!("case {}", i + 1), b.cases[i].goto.clone()),
                    None => ("default".to_owned(), b.default.clone()),
                };
                out.push(event("branch", format!("{name}: {label} -> {target}")));
                Some(target)
            }
            NodeKind::Queue(q) => {
                self.typeahead = Keys::default();
                self.play(name, q.prompts.clone(), false, Then::Queue, now, out)
            }
            NodeKind::Voicemail(v) => {
                self.typeahead = Keys::default();
                let mut prompts = v.prompts.clone();
                prompts.push(v.beep.clone());
                self.play(name, prompts, false, Then::Record, now, out)
            }
            NodeKind::Transfer(t) => {
                self.play(name, t.prompts.clone(), false, Then::Transfer, now, out)
            }
            NodeKind::Set(s) => {
                for (k, v) in &s.variables {
                    let var = Var {
                        value: v.clone(),
                        sensitive: false,
                    };
                    self.vars.insert(k.clone(), var);
                }
                if let Some(lang) = s.language {
                    if lang != self.language {
                        self.language = lang;
                        out.push(Action::SetLanguage {
                            lang: lang.code().to_owned(),
                        });
                        out.push(event("language", lang.code()));
                    }
                }
                Some(s.next.clone())
            }
            NodeKind::Hangup(h) => {
                self.play(name, h.prompts.clone(), false, Then::Hangup, now, out)
            }
        }
    }

    /// Plays `prompts` (or, when there are none, goes straight on to `then`).
    fn play(
        &mut self,
        node: String,
        prompts: Vec<String>,
        barge_in: bool,
        then: Then,
        now: Instant,
        out: &mut Vec<Action>,
    ) -> Option<String> {
        if prompts.is_empty() {
            self.state = State::Playing {
                node,
                barge_in: false,
                then,
            };
            return self.after_play(now, out);
        }
        out.push(Action::Play { prompts, barge_in });
        self.state = State::Playing {
            node,
            barge_in,
            then,
        };
        None
    }

    /// The prompts of a `Playing` state are done: do what was to follow.
    fn after_play(&mut self, now: Instant, out: &mut Vec<Action>) -> Option<String> {
        let State::Playing { node, then, .. } = std::mem::replace(&mut self.state, State::Ended)
        else {
            return None;
        };
        let plan = Arc::clone(&self.plan);
        let kind = plan.node(&node).map(|n| &n.kind);
        match (then, kind) {
            (Then::Goto(next), _) => Some(next),
            (Then::Queue, Some(NodeKind::Queue(q))) => {
                out.push(Action::Queue {
                    queue: q.queue.clone(),
                    priority: q.priority,
                    max_wait: q.max_wait,
                });
                out.push(event(
                    "queue",
                    format!("{} priority {}", q.queue, q.priority),
                ));
                self.state = State::Queued { node };
                None
            }
            (Then::Record, Some(NodeKind::Voicemail(v))) => {
                out.push(Action::RecordVoicemail { max: v.max });
                out.push(event("voicemail", "recording"));
                self.state = State::Recording {
                    node,
                    deadline: now + v.max,
                };
                None
            }
            (Then::Transfer, Some(NodeKind::Transfer(t))) => {
                out.push(event("transfer", &t.target));
                out.push(Action::Transfer {
                    target: t.target.clone(),
                });
                self.state = State::Ended;
                None
            }
            _ => {
                self.hang_up(out);
                None
            }
        }
    }

    fn playback_done(&mut self, now: Instant, out: &mut Vec<Action>) {
        match &self.state {
            State::Playing { .. } => {
                if let Some(next) = self.after_play(now, out) {
                    self.goto(next, now, out);
                }
            }
            State::Asking(a) if matches!(a.phase, Phase::Prompting) => {
                let deadline = now + self.ask_of(&a.node).map_or(Duration::ZERO, |k| k.timeout);
                if let State::Asking(a) = &mut self.state {
                    a.phase = Phase::Listening { deadline };
                }
            }
            _ => {}
        }
    }

    fn hang_up(&mut self, out: &mut Vec<Action>) {
        out.push(Action::Hangup {
            outcome: self.outcome.clone(),
        });
        self.state = State::Ended;
    }

    fn holds(&self, condition: &Condition, local: DateTime<Tz>) -> bool {
        let cal = &self.plan.calendar;
        let date = local.date_naive();
        match condition {
            Condition::Time(range) => range.contains(local.time()),
            Condition::Open(b) => cal.is_open(local) == *b,
            Condition::WorkingDay(b) => cal.is_working_day(date) == *b,
            Condition::Holiday(b) => cal.is_holiday(date) == *b,
            Condition::HolidayName(name) => cal.holiday_name(date) == Some(name.as_str()),
            Condition::MakeupDay(b) => cal.is_makeup_day(date) == *b,
            Condition::CallerPrefix(list) => list
                .iter()
                .any(|p| self.call.caller.starts_with(p.as_str())),
            Condition::Verified(b) => self.verified == *b,
            Condition::VariableEquals { name, value } => {
                self.vars.get(name).is_some_and(|v| &v.value == value)
            }
            Condition::Language(l) => self.language == *l,
        }
    }

    // ---------------------------------------------------------------- verification

    fn verify(&mut self, node: String, v: &Verify, out: &mut Vec<Action>) -> Option<String> {
        self.typeahead = Keys::default();
        if self.verify_failures >= v.attempts {
            out.push(event("verify", "attempts exhausted"));
            return Some(v.exhausted.clone());
        }
        let account = self.vars.get(&v.account).map(|a| a.value.clone());
        // The secret is needed once; it leaves the session with this action.
        let secret = self.vars.remove(&v.secret).map(|s| s.value);
        let (Some(account), Some(secret)) = (account, secret) else {
            out.push(event("verify", "nothing to verify"));
            return Some(self.verify_failed(v, out));
        };
        let secret = match v.method {
            SecretKind::Pin => Secret::Pin(secret),
            SecretKind::IdDigits => Secret::IdDigits(secret),
        };
        out.push(Action::Verify { account, secret });
        self.state = State::Verifying { node };
        None
    }

    fn verify_failed(&mut self, v: &Verify, out: &mut Vec<Action>) -> String {
        self.verify_failures += 1;
        let (n, max) = (self.verify_failures, v.attempts);
        out.push(event("verify", format!("failed ({n} of {max})")));
        if n >= max {
            v.exhausted.clone()
        } else {
            v.failed.clone()
        }
    }

    fn verify_result(&mut self, now: Instant, result: VerifyOutcome, out: &mut Vec<Action>) {
        let State::Verifying { node } = &self.state else {
            return;
        };
        let plan = Arc::clone(&self.plan);
        let Some(NodeKind::Verify(v)) = plan.node(node).map(|n| &n.kind) else {
            return;
        };
        let next = match result {
            VerifyOutcome::Ok { customer_id, vip } => {
                self.verified = true;
                self.customer = Some(customer_id);
                let vip = Var {
                    value: vip.to_string(),
                    sensitive: false,
                };
                self.vars.insert("vip".into(), vip);
                out.push(event("verify", "ok"));
                v.ok.clone()
            }
            VerifyOutcome::Failed => self.verify_failed(v, out),
            VerifyOutcome::Locked => {
                out.push(event("verify", "locked"));
                v.locked.clone()
            }
        };
        self.goto(next, now, out);
    }

    // ---------------------------------------------------------------- queue, voicemail

    /// What became of the queue. A call an agent transferred to another queue is still
    /// at its queue node (connected): if that queue overflows too, the caller gets this
    /// node's overflow, as any caller nobody could take.
    fn queue_outcome(&mut self, now: Instant, result: QueueOutcome, out: &mut Vec<Action>) {
        let node = match (&self.state, &result) {
            (State::Queued { node }, _) | (State::Connected { node }, QueueOutcome::Overflow) => {
                node
            }
            _ => return,
        };
        let node = node.clone();
        let plan = Arc::clone(&self.plan);
        let Some(NodeKind::Queue(q)) = plan.node(&node).map(|n| &n.kind) else {
            return;
        };
        match result {
            QueueOutcome::Answered { agent } => {
                out.push(event("queue", format!("answered by agent {agent}")));
                self.state = State::Connected { node };
            }
            QueueOutcome::Overflow => {
                out.push(event("queue", "overflow"));
                self.goto(q.overflow.clone(), now, out);
            }
            QueueOutcome::Abandoned => {
                out.push(event("queue", "abandoned"));
                self.state = State::Ended;
            }
        }
    }

    /// The message is recorded: it becomes the node's follow-up, if it promises one.
    fn recording_done(&mut self, now: Instant, out: &mut Vec<Action>) {
        let State::Recording { node, .. } = &self.state else {
            return;
        };
        let plan = Arc::clone(&self.plan);
        let Some(NodeKind::Voicemail(v)) = plan.node(node).map(|n| &n.kind) else {
            return self.hang_up(out);
        };
        out.push(Action::StopRecording);
        out.push(event("voicemail", "recorded"));
        if let Some(p) = &v.promise {
            let number = self
                .call
                .caller
                .chars()
                .filter(char::is_ascii_digit)
                .collect();
            self.promise(p, number, now, out);
        }
        match v.next.clone() {
            Some(next) => self.goto(next, now, out),
            None => self.hang_up(out),
        }
    }
}

fn event(kind: &'static str, detail: impl Into<String>) -> Action {
    Action::Event {
        kind,
        detail: detail.into(),
    }
}

/// Shows where the call is and what it has chosen; never a key buffer or a secret.
impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("plan", &self.plan.name)
            .field("call", &self.call)
            .field("state", &self.state)
            .field("language", &self.language)
            .field("verified", &self.verified)
            .field("customer", &self.customer)
            .field("outcome", &self.outcome)
            .field("variables", &self.vars)
            .field("path", &self.path)
            .field("verify_failures", &self.verify_failures)
            .field("typeahead", &self.typeahead)
            .finish()
    }
}
