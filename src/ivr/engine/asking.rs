//! The nodes that ask the caller for keys: menu, collect, callback and survey. They
//! share one shape: play the question (barge-in allowed), listen until a deadline, take
//! the keys or count a miss, ask again with the no-input or invalid prompt first, and
//! after the last retry go to the fallback.

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, TimeDelta, Timelike};
use chrono_tz::Tz;

use super::{event, Asking, Keys, Miss, Phase, Question, Session, State, Then, Var};
use super::{CALLBACK_MAX_DIGITS, CALLBACK_MIN_DIGITS};
use crate::core::media::speech;
use crate::ivr::action::Action;
use crate::ivr::plan::*;

/// Keys kept from a prompt for the next question: more than any menu path needs.
const TYPE_AHEAD_MAX: usize = 16;

impl Session {
    pub(super) fn ask_of(&self, node: &str) -> Option<&Ask> {
        match &self.plan.node(node)?.kind {
            NodeKind::Menu(m) => Some(&m.ask),
            NodeKind::Collect(c) => Some(&c.ask),
            NodeKind::Callback(c) => Some(&c.ask),
            NodeKind::Survey(s) => Some(&s.ask),
            _ => None,
        }
    }

    pub(super) fn is_sensitive(&self, a: &Asking) -> bool {
        matches!(a.question, Question::Collect)
            && matches!(self.plan.node(&a.node).map(|n| &n.kind), Some(NodeKind::Collect(c)) if c.sensitive)
    }

    /// The prompt of the question being asked.
    pub(super) fn question_prompts(&self, node: &str, question: &Question) -> Vec<String> {
        let Some(node) = self.plan.node(node) else {
            return Vec::new();
        };
        match (&node.kind, question) {
            (NodeKind::Menu(m), _) => m.prompts.clone(),
            (NodeKind::Collect(c), _) => c.prompts.clone(),
            (NodeKind::Survey(s), Question::Survey(i)) => {
                s.questions.get(*i).cloned().into_iter().collect()
            }
            (NodeKind::Callback(c), Question::Confirm(number)) => {
                let digits = speech::digits(&number.0, self.language.code());
                let mut p = c.number_is.clone();
                p.extend(digits.into_iter().map(str::to_owned));
                p.extend(c.confirm.iter().cloned());
                p
            }
            (NodeKind::Callback(c), _) => c.enter_number.clone(),
            _ => Vec::new(),
        }
    }

    /// Asks `question` (again, after `failures` misses, with `before` played first).
    pub(super) fn ask(
        &mut self,
        node: String,
        question: Question,
        failures: u32,
        before: Vec<String>,
        now: Instant,
        out: &mut Vec<Action>,
    ) -> Option<String> {
        let ask = self.ask_of(&node).cloned()?;
        let typed = std::mem::take(&mut self.typeahead);
        let mut prompts = before;
        if typed.0.is_empty() {
            prompts.extend(self.question_prompts(&node, &question));
        }
        let phase = if prompts.is_empty() {
            Phase::Listening {
                deadline: now + ask.timeout,
            }
        } else {
            out.push(Action::Play {
                prompts,
                barge_in: ask.barge_in,
            });
            Phase::Prompting
        };
        self.state = State::Asking(Asking {
            node,
            question,
            failures,
            phase,
            keys: Keys::default(),
        });
        for c in typed.0.chars() {
            self.key(now, c, out);
        }
        None
    }

    /// A key, in whatever state the session is in.
    pub(super) fn key(&mut self, now: Instant, c: char, out: &mut Vec<Action>) {
        match &self.state {
            State::Playing { barge_in: true, .. } => {
                out.push(Action::StopPlayback);
                self.typeahead.0.push(c);
                if let Some(next) = self.after_play(now, out) {
                    self.goto(next, now, out);
                }
            }
            // Kept for the next asking node, up to a bound (a stuck key cannot grow it).
            State::Playing {
                node,
                then: Then::Goto(_),
                ..
            } if self.types_ahead(node) && self.typeahead.0.len() < TYPE_AHEAD_MAX => {
                self.typeahead.0.push(c);
            }
            State::Asking(a) => {
                if matches!(a.phase, Phase::Prompting) {
                    if !self.ask_of(&a.node).is_some_and(|k| k.barge_in) {
                        return;
                    }
                    out.push(Action::StopPlayback);
                }
                self.answer(now, c, out);
            }
            _ => {}
        }
    }

    pub(super) fn answer(&mut self, now: Instant, c: char, out: &mut Vec<Action>) {
        let State::Asking(a) = &mut self.state else {
            return;
        };
        a.phase = Phase::Listening { deadline: now };
        let node_name = a.node.clone();
        let plan = Arc::clone(&self.plan);
        let Some(node) = plan.node(&node_name) else {
            return;
        };
        let question = a.question.clone();
        match (&node.kind, question) {
            (NodeKind::Menu(m), _) => match m.options.get(&c) {
                Some(target) => {
                    out.push(event("menu", format!("{node_name}: {c} -> {target}")));
                    self.goto(target.clone(), now, out);
                }
                None => self.miss(Miss::Invalid, now, out),
            },
            (NodeKind::Collect(col), _) => {
                if Some(c) == col.terminator {
                    return self.collected(col, now, out);
                }
                a.keys.0.push(c);
                if a.keys.0.chars().count() >= col.max_digits {
                    self.swallow = col.terminator;
                    return self.collected(col, now, out);
                }
                a.phase = Phase::Listening {
                    deadline: now + col.inter_digit_timeout,
                };
            }
            (NodeKind::Survey(s), Question::Survey(i)) => match c.to_digit(10) {
                Some(score @ 1..=5) => {
                    out.push(Action::SurveyAnswer {
                        question: i + 1,
                        score: score as u8,
                    });
                    out.push(event("survey", format!("question {}: {score}", i + 1)));
                    self.next_question(s, i, now, out);
                }
                _ => self.miss(Miss::Invalid, now, out),
            },
            (NodeKind::Callback(_), Question::Confirm(number)) => match c {
                '1' => {
                    if let Some(next) = self.follow_up(&node_name, number.0, now, out) {
                        self.goto(next, now, out);
                    }
                }
                '2' => {
                    let failures = a.failures;
                    self.ask(
                        node_name,
                        Question::EnterNumber,
                        failures,
                        Vec::new(),
                        now,
                        out,
                    );
                }
                _ => self.miss(Miss::Invalid, now, out),
            },
            (NodeKind::Callback(cb), _) => {
                if c == '#' {
                    return self.number_entered(now, out);
                }
                a.keys.0.push(c);
                if a.keys.0.len() >= CALLBACK_MAX_DIGITS {
                    return self.number_entered(now, out);
                }
                a.phase = Phase::Listening {
                    deadline: now + cb.ask.timeout,
                };
            }
            _ => {}
        }
    }

    /// No key before the deadline: a miss, or the end of a number being typed.
    pub(super) fn timeout(&mut self, now: Instant, out: &mut Vec<Action>) {
        match &self.state {
            State::Recording { .. } => self.recording_done(now, out),
            State::Asking(a) if !a.keys.0.is_empty() => {
                let plan = Arc::clone(&self.plan);
                match plan.node(&a.node).map(|n| &n.kind) {
                    Some(NodeKind::Collect(c)) => self.collected(c, now, out),
                    Some(NodeKind::Callback(_)) => self.number_entered(now, out),
                    _ => self.miss(Miss::NoInput, now, out),
                }
            }
            State::Asking(_) => self.miss(Miss::NoInput, now, out),
            _ => {}
        }
    }

    /// A collect node's keys are in: check them and store them, or ask again.
    pub(super) fn collected(&mut self, col: &Collect, now: Instant, out: &mut Vec<Action>) {
        let State::Asking(a) = &mut self.state else {
            return;
        };
        let keys = std::mem::take(&mut a.keys).0;
        let n = keys.chars().count();
        let fits = n >= col.min_digits
            && n <= col.max_digits
            && col.pattern.as_ref().is_none_or(|p| p.matches(&keys));
        if !fits {
            return self.miss(Miss::Invalid, now, out);
        }
        let var = &col.variable;
        out.push(if col.sensitive {
            event("collect", format!("{var}: {n} keys, hidden"))
        } else {
            event("dtmf", format!("{var}={keys}"))
        });
        let value = Var {
            value: keys,
            sensitive: col.sensitive,
        };
        self.vars.insert(var.clone(), value);
        self.goto(col.next.clone(), now, out);
    }

    /// A callback number has been typed: read it back for confirmation.
    pub(super) fn number_entered(&mut self, now: Instant, out: &mut Vec<Action>) {
        let State::Asking(a) = &mut self.state else {
            return;
        };
        let keys = std::mem::take(&mut a.keys);
        let digits = keys.0.chars().all(|c| c.is_ascii_digit());
        if !digits || !(CALLBACK_MIN_DIGITS..=CALLBACK_MAX_DIGITS).contains(&keys.0.len()) {
            return self.miss(Miss::Invalid, now, out);
        }
        let (node, failures) = (a.node.clone(), a.failures);
        self.ask(
            node,
            Question::Confirm(keys),
            failures,
            Vec::new(),
            now,
            out,
        );
    }

    /// No answer or a wrong one: ask again with the matching prompt, or give up.
    pub(super) fn miss(&mut self, miss: Miss, now: Instant, out: &mut Vec<Action>) {
        let State::Asking(a) = &self.state else {
            return;
        };
        let (node, question, failures) = (a.node.clone(), a.question.clone(), a.failures + 1);
        let Some(ask) = self.ask_of(&node).cloned() else {
            return;
        };
        let what = match miss {
            Miss::NoInput => "no_input",
            Miss::Invalid => "invalid",
        };
        out.push(event(
            what,
            format!("{node} (attempt {failures} of {})", ask.retries + 1),
        ));
        if failures <= ask.retries {
            let before = match miss {
                Miss::NoInput => ask.timeout_prompts.clone(),
                Miss::Invalid => ask.invalid_prompts.clone(),
            };
            self.ask(node, question, failures, before, now, out);
            return;
        }
        let plan = Arc::clone(&self.plan);
        let next = match (plan.node(&node).map(|n| &n.kind), question) {
            (Some(NodeKind::Survey(s)), Question::Survey(i)) => {
                out.push(event("survey", format!("question {}: no answer", i + 1)));
                return self.next_question(s, i, now, out);
            }
            (Some(NodeKind::Menu(m)), _) => m.fallback.clone(),
            (Some(NodeKind::Collect(c)), _) => c.fallback.clone(),
            (Some(NodeKind::Callback(c)), _) => c.fallback.clone(),
            _ => return self.hang_up(out),
        };
        self.goto(next, now, out);
    }

    pub(super) fn next_question(
        &mut self,
        s: &Survey,
        answered: usize,
        now: Instant,
        out: &mut Vec<Action>,
    ) {
        let State::Asking(a) = &self.state else {
            return;
        };
        let node = a.node.clone();
        if answered + 1 < s.questions.len() {
            self.ask(
                node,
                Question::Survey(answered + 1),
                0,
                Vec::new(),
                now,
                out,
            );
        } else {
            match &s.next {
                Some(next) => self.goto(next.clone(), now, out),
                None => self.hang_up(out),
            }
        }
    }

    /// Writes the follow-up with its promised window, then plays the confirmation and,
    /// unless the node says otherwise, the promised time.
    pub(super) fn follow_up(
        &mut self,
        node: &str,
        number: String,
        now: Instant,
        out: &mut Vec<Action>,
    ) -> Option<String> {
        let plan = Arc::clone(&self.plan);
        let Some(NodeKind::Callback(c)) = plan.node(node).map(|n| &n.kind) else {
            return None;
        };
        let due = self.promise(&c.promise, number, now, out);
        let mut prompts = c.confirmed.clone();
        if let (true, Some(due)) = (c.say_time, due) {
            let spoken = speech::deadline(
                due.naive_local(),
                self.local(now).naive_local(),
                self.language.code(),
            );
            prompts.extend(spoken.into_iter().map(str::to_owned));
        }
        self.play(
            node.to_owned(),
            prompts,
            false,
            Then::Goto(c.next.clone()),
            now,
            out,
        )
    }

    /// Writes the follow-up `p` promises for `number`; returns the promised time.
    /// Promises are whole minutes, the deadline rounded up to five so that the time
    /// the caller hears is the one stored.
    pub(super) fn promise(
        &mut self,
        p: &Promise,
        number: String,
        now: Instant,
        out: &mut Vec<Action>,
    ) -> Option<DateTime<Tz>> {
        let local = self.local(now);
        let local = local
            .with_second(0)
            .and_then(|t| t.with_nanosecond(0))
            .unwrap_or(local);
        let cal = &self.plan.calendar;
        let window = match p.urgent {
            true => Some((local, local + TimeDelta::hours(i64::from(p.within_hours)))),
            false => cal
                .add_working_hours(local, 0)
                .zip(cal.add_working_hours(local, p.within_hours)),
        }
        .map(|(from, to)| {
            let late = (5 - to.minute() % 5) % 5;
            (from, to + TimeDelta::minutes(i64::from(late)))
        });
        let category = p
            .category_from
            .as_ref()
            .and_then(|v| self.vars.get(v))
            .map_or_else(|| p.category.clone(), |v| v.value.clone());
        let detail = format!(
            "{} ({category}) within {} {}hours",
            p.kind.name(),
            p.within_hours,
            if p.urgent { "" } else { "working " }
        );
        out.push(Action::FollowUp {
            kind: p.kind,
            number,
            window,
            category,
            urgent: p.urgent,
        });
        out.push(event("followup", detail));
        window.map(|(_, to)| to)
    }
}
