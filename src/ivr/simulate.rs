//! Walks a flow with no phone, on a fake clock: what `hotline simulate` prints, so an
//! operator can try a changed plan before reloading it.
//!
//! The scripted caller listens to every prompt to the end (each prompt counts as
//! [`PROMPT`] long), then types the next group of keys, one key every [`KEY_GAP`].
//! Groups are separated by spaces: `"2 1 6225880012345678# 123456#"`. A group that
//! ends in the middle of a collect without its terminator is ended by the collect's
//! inter-digit timeout; with no keys left, the caller stays silent and the flow's
//! timeouts take over. What the runtime would answer comes from here: verification
//! from the `verify` function, the queue always overflows (no agents exist yet), and
//! a voicemail lasts [`MESSAGE`].

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta};
use chrono_tz::Tz;

use super::action::{mask, Action, CallInfo, Input, QueueOutcome, Secret, VerifyOutcome, Waiting};
use super::engine::Session;
use super::pattern::is_key;
use super::plan::{NumberPattern, Plan};

/// How long each prompt takes on the fake clock.
pub const PROMPT: Duration = Duration::from_secs(1);
/// Between two keys of a group.
pub const KEY_GAP: Duration = Duration::from_millis(300);
/// How long a simulated voicemail message lasts (or the node's maximum, if shorter).
pub const MESSAGE: Duration = Duration::from_secs(20);
/// Steps before the simulation calls the flow stuck.
const MAX_STEPS: usize = 2000;

/// Runs the call and returns one line per step (`HH:MM:SS what`), or, when the flow
/// errs (stuck, an engine error, keys left over when the call ends), every line so
/// far followed by `error: ...`. `verify` gets the account number and the secret typed.
pub fn simulate(
    plan: Arc<Plan>,
    at: DateTime<Tz>,
    caller: &str,
    keys: &str,
    mut verify: impl FnMut(&str, &Secret) -> VerifyOutcome,
) -> Result<Vec<String>, String> {
    if let Some(bad) = keys.chars().find(|c| !c.is_whitespace() && !is_key(*c)) {
        return Err(format!("error: {bad:?} is not a key (0-9, *, #, A-D)"));
    }
    let mut groups: VecDeque<Vec<char>> = keys
        .split_whitespace()
        .map(|g| g.chars().collect())
        .collect();
    let called = plan
        .numbers
        .iter()
        .find_map(|n| match n {
            NumberPattern::Exact(n) => Some(n.clone()),
            NumberPattern::Prefix(p) => Some(format!("{p}0000")),
            NumberPattern::Any => None,
        })
        .unwrap_or_default();
    let local_start = plan.calendar.local(at);
    let call = CallInfo {
        caller: caller.to_owned(),
        called,
    };
    let mut sim = Sim {
        session: Session::new(plan, call, at),
        // Only differences between instants matter; the wall clock never shows.
        origin: Instant::now(),
        now: Duration::ZERO,
        local_start,
        lines: Vec::new(),
        pending: VecDeque::from([Input::Start]),
        playing: Duration::ZERO,
        verify: &mut verify,
    };
    for _ in 0..MAX_STEPS {
        if let Some(input) = sim.pending.pop_front() {
            sim.feed(input)?;
            continue;
        }
        match sim.session.waiting() {
            Waiting::Ended => {
                sim.summary();
                return match groups.is_empty() {
                    true => Ok(sim.lines),
                    false => sim.fail(format!("the call ended with keys left: {}", join(&groups))),
                };
            }
            Waiting::Start | Waiting::Verification | Waiting::Queue => {
                return sim.fail("the flow waits for an answer that never comes".into());
            }
            Waiting::Playback { .. } => {
                sim.now += sim.playing;
                sim.feed(Input::PlaybackDone)?;
            }
            Waiting::Keys {
                partial: false,
                sensitive,
            } if !groups.is_empty() => {
                let group = groups.pop_front().unwrap_or_default();
                let shown: String = match sensitive {
                    true => "****".into(),
                    false => group.iter().collect(),
                };
                sim.line(format!("keys {shown}"));
                for key in group {
                    sim.now += KEY_GAP;
                    sim.feed(Input::Digit(key))?;
                    while let Some(input) = sim.pending.pop_front() {
                        sim.feed(input)?;
                    }
                }
            }
            Waiting::Keys { .. } | Waiting::Recording => {
                let Some(deadline) = sim.session.poll_timeout() else {
                    return sim.fail("waiting with no timer".into());
                };
                if let Waiting::Recording = sim.session.waiting() {
                    let max = deadline
                        .saturating_duration_since(sim.origin)
                        .saturating_sub(sim.now);
                    sim.now += MESSAGE.min(max);
                    sim.feed(Input::RecordingDone)?;
                } else {
                    sim.now = deadline.saturating_duration_since(sim.origin);
                    sim.line("(no key)".into());
                    sim.feed(Input::Timeout)?;
                }
            }
            Waiting::Agent => {
                sim.now += Duration::from_secs(60);
                sim.line("(agent talks, then hangs up)".into());
                sim.feed(Input::AgentHungUp)?;
            }
        }
    }
    sim.fail(format!("no end after {MAX_STEPS} steps"))
}

/// Timeline events that only repeat the action printed just before them.
fn repeats_an_action(kind: &str, detail: &str) -> bool {
    match kind {
        "language" | "transfer" => true,
        "queue" => detail.contains(" priority "),
        "voicemail" => detail == "recording",
        _ => false,
    }
}

fn join(groups: &VecDeque<Vec<char>>) -> String {
    groups
        .iter()
        .map(|g| g.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join(" ")
}

struct Sim<'v> {
    session: Session,
    origin: Instant,
    /// Fake time since the call was answered.
    now: Duration,
    local_start: DateTime<Tz>,
    lines: Vec<String>,
    /// Answers the runtime would give (verification, queue), fed before any key.
    pending: VecDeque<Input>,
    /// Length of the prompts now playing.
    playing: Duration,
    verify: &'v mut dyn FnMut(&str, &Secret) -> VerifyOutcome,
}

impl Sim<'_> {
    fn line(&mut self, text: String) {
        let local = self.local_start + TimeDelta::from_std(self.now).unwrap_or(TimeDelta::zero());
        self.lines
            .push(format!("{} {text}", local.format("%H:%M:%S")));
    }

    /// The call record as it would be written at the end.
    fn summary(&mut self) {
        let s = &self.session;
        let verified = match s.customer() {
            Some(c) if s.verified() => format!("verified (customer {c})"),
            _ => "not verified".to_owned(),
        };
        let text = format!(
            "record call: language {}, {verified}, outcome {}",
            s.language(),
            s.outcome().unwrap_or("none")
        );
        self.line(text);
    }

    fn fail(mut self, why: String) -> Result<Vec<String>, String> {
        self.lines.push(format!("error: {why}"));
        Err(self.lines.join("\n"))
    }

    fn feed(&mut self, input: Input) -> Result<(), String> {
        let actions = self.session.handle_input(self.origin + self.now, input);
        for action in actions {
            let text = match action {
                Action::Play { prompts, barge_in } => {
                    self.playing = PROMPT * prompts.len() as u32;
                    let b = if barge_in { " (barge-in)" } else { "" };
                    format!("play {}{b}", prompts.join(" "))
                }
                Action::StopPlayback => "stop playback".into(),
                Action::Verify { account, secret } => {
                    let answer = (self.verify)(&account, &secret);
                    self.pending.push_back(Input::VerifyResult(answer));
                    format!("verify account {account} with {secret}")
                }
                Action::Queue {
                    queue,
                    priority,
                    max_wait,
                } => {
                    self.pending
                        .push_back(Input::QueueOutcome(QueueOutcome::Overflow));
                    format!(
                        "queue {queue} priority {priority} max wait {} s (no agents)",
                        max_wait.as_secs()
                    )
                }
                Action::RecordVoicemail { max } => {
                    format!("record voicemail (up to {} s)", max.as_secs())
                }
                Action::StopRecording => "stop recording".to_string(),
                Action::FollowUp {
                    kind,
                    number,
                    window,
                    category,
                    urgent,
                } => {
                    let when = window.map_or("no window".into(), |(a, b)| {
                        format!(
                            "between {} and {}",
                            a.format("%Y-%m-%d %H:%M"),
                            b.format("%Y-%m-%d %H:%M")
                        )
                    });
                    format!(
                        "record {}follow-up {} ({category}) to {}, {when}",
                        if urgent { "urgent " } else { "" },
                        kind.name(),
                        mask(&number)
                    )
                }
                Action::Transfer { target } => format!("transfer to {target}"),
                Action::Event { kind, detail } => {
                    if kind == "error" {
                        self.line(format!("{kind}: {detail}"));
                        return Err(self.lines.join("\n"));
                    }
                    if repeats_an_action(kind, &detail) {
                        continue;
                    }
                    format!("{kind}: {detail}")
                }
                Action::SetOutcome { code } => format!("outcome {code}"),
                Action::SetLanguage { lang } => format!("language {lang}"),
                Action::SurveyAnswer { question, score } => {
                    format!("record survey answer: question {question} = {score}")
                }
                Action::Hangup { outcome } => {
                    format!("hang up (outcome {})", outcome.as_deref().unwrap_or("none"))
                }
            };
            self.line(text);
        }
        Ok(())
    }
}
