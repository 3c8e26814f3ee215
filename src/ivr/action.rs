//! What goes into an IVR session ([`Input`]) and what comes out ([`Action`]).
//!
//! Secrets and personal data travel in types whose `Debug` hides them, so that logging
//! an action or an input (`{:?}`) can never put a PIN or a phone number in a log.

use std::fmt;
use std::time::Duration;

use chrono::DateTime;
use chrono_tz::Tz;

pub use super::plan::FollowUpKind;

/// The call a session serves. `caller` is personal data: `Debug` masks it.
#[derive(Clone, PartialEq, Eq)]
pub struct CallInfo {
    /// The caller's number (From user part); empty when withheld.
    pub caller: String,
    /// The number dialled (Request-URI user part).
    pub called: String,
}

impl fmt::Debug for CallInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallInfo")
            .field("caller", &mask(&self.caller))
            .field("called", &self.called)
            .finish()
    }
}

/// A phone number with its middle hidden (`138****8000`), for logs and simulation
/// output; short numbers are hidden entirely.
pub fn mask(number: &str) -> String {
    let chars: Vec<char> = number.chars().collect();
    if chars.len() < 7 {
        return "*".repeat(chars.len().max(1));
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}****{tail}")
}

/// What the runtime tells a session.
#[derive(Clone, PartialEq, Eq)]
pub enum Input {
    /// The call is answered: the first input of every session.
    Start,
    /// A key: `0`-`9`, `*`, `#`, `A`-`D`.
    Digit(char),
    /// The last `Play` finished by itself (never sent after `StopPlayback`).
    PlaybackDone,
    /// `poll_timeout()` has passed.
    Timeout,
    /// The answer to `Action::Verify`.
    VerifyResult(VerifyOutcome),
    /// What became of `Action::Queue`.
    QueueOutcome(QueueOutcome),
    /// The agent ended their side of the call; the caller is still on the line.
    AgentHungUp,
    /// `Action::RecordVoicemail` ended (the caller pressed # or the time ran out).
    RecordingDone,
    /// The caller hung up; the session ends without further actions.
    CallerHungUp,
}

/// Keys are hidden: whether a key was part of a PIN is only known to the session.
impl fmt::Debug for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Input::Start => f.write_str("Start"),
            Input::Digit(_) => f.write_str("Digit(*)"),
            Input::PlaybackDone => f.write_str("PlaybackDone"),
            Input::Timeout => f.write_str("Timeout"),
            Input::VerifyResult(v) => write!(f, "VerifyResult({v:?})"),
            Input::QueueOutcome(q) => write!(f, "QueueOutcome({q:?})"),
            Input::AgentHungUp => f.write_str("AgentHungUp"),
            Input::RecordingDone => f.write_str("RecordingDone"),
            Input::CallerHungUp => f.write_str("CallerHungUp"),
        }
    }
}

/// The customer lookup's answer to `Action::Verify`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyOutcome {
    /// Account and secret match.
    Ok { customer_id: String, vip: bool },
    /// They do not (or the account does not exist: the caller must not learn which).
    Failed,
    /// Too many failures across calls; the account is locked for a while.
    Locked,
}

/// What the queue did with a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueOutcome {
    /// An agent took the call.
    Answered { agent: String },
    /// No agent, the queue is full, or `max_wait` passed.
    Overflow,
    /// The caller left the queue (hung up).
    Abandoned,
}

/// A secret the caller typed, on its way to verification. `Debug` and `Display` show
/// only its kind, never the digits.
#[derive(Clone, PartialEq, Eq)]
pub enum Secret {
    Pin(String),
    IdDigits(String),
}

impl Secret {
    /// The digits, for the verifier to hash and compare; nothing else should call this.
    pub fn expose(&self) -> &str {
        match self {
            Secret::Pin(s) | Secret::IdDigits(s) => s,
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Secret::Pin(_) => f.write_str("Pin(****)"),
            Secret::IdDigits(_) => f.write_str("IdDigits(****)"),
        }
    }
}

/// What the session asks the runtime to do, in order.
#[derive(Clone, PartialEq, Eq)]
pub enum Action {
    /// Play these prompts, in the session's current language, one after the other;
    /// a new `Play` replaces whatever is playing. `Input::PlaybackDone` when done.
    Play {
        prompts: Vec<String>,
        barge_in: bool,
    },
    /// Stop the current prompt (the caller pressed a key during a barge-in prompt).
    StopPlayback,
    /// Check the caller's identity; answer with `Input::VerifyResult`.
    Verify { account: String, secret: Secret },
    /// Put the call in a queue; answer with `Input::QueueOutcome`.
    Queue {
        queue: String,
        priority: u8,
        max_wait: Duration,
    },
    /// Record the caller for at most `max`. The session ends it itself (on # or at
    /// `max`) with `StopRecording`; `Input::RecordingDone` tells it the recording ended
    /// some other way.
    RecordVoicemail { max: Duration },
    /// Stop the voicemail recording.
    StopRecording,
    /// Write a follow-up record: call `number` back within `window` (local times);
    /// `urgent` ones go to the top of the work list. A recording the caller left on
    /// this call (message, complaint description) belongs on it.
    FollowUp {
        kind: FollowUpKind,
        number: String,
        window: Option<(DateTime<Tz>, DateTime<Tz>)>,
        category: String,
        urgent: bool,
    },
    /// Hand the call to a number or extension; the session ends.
    Transfer { target: String },
    /// One line for the call's timeline. Never holds a sensitive key.
    Event { kind: &'static str, detail: String },
    /// The call's outcome code changed.
    SetOutcome { code: String },
    /// The caller's language changed; prompts from now on are in it.
    SetLanguage { lang: String },
    /// An answer to survey question `question` (from 1).
    SurveyAnswer { question: usize, score: u8 },
    /// End the call; the session ends.
    Hangup { outcome: Option<String> },
}

/// As derived, except the follow-up number, which is personal data.
impl fmt::Debug for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Play { prompts, barge_in } => f
                .debug_struct("Play")
                .field("prompts", prompts)
                .field("barge_in", barge_in)
                .finish(),
            Action::StopPlayback => f.write_str("StopPlayback"),
            Action::Verify { account, secret } => f
                .debug_struct("Verify")
                .field("account", account)
                .field("secret", secret)
                .finish(),
            Action::Queue {
                queue,
                priority,
                max_wait,
            } => f
                .debug_struct("Queue")
                .field("queue", queue)
                .field("priority", priority)
                .field("max_wait", max_wait)
                .finish(),
            Action::RecordVoicemail { max } => {
                f.debug_struct("RecordVoicemail").field("max", max).finish()
            }
            Action::StopRecording => f.write_str("StopRecording"),
            Action::FollowUp {
                kind,
                number,
                window,
                category,
                urgent,
            } => f
                .debug_struct("FollowUp")
                .field("kind", kind)
                .field("number", &mask(number))
                .field("window", window)
                .field("category", category)
                .field("urgent", urgent)
                .finish(),
            Action::Transfer { target } => {
                f.debug_struct("Transfer").field("target", target).finish()
            }
            Action::Event { kind, detail } => f
                .debug_struct("Event")
                .field("kind", kind)
                .field("detail", detail)
                .finish(),
            Action::SetOutcome { code } => {
                f.debug_struct("SetOutcome").field("code", code).finish()
            }
            Action::SetLanguage { lang } => {
                f.debug_struct("SetLanguage").field("lang", lang).finish()
            }
            Action::SurveyAnswer { question, score } => f
                .debug_struct("SurveyAnswer")
                .field("question", question)
                .field("score", score)
                .finish(),
            Action::Hangup { outcome } => {
                f.debug_struct("Hangup").field("outcome", outcome).finish()
            }
        }
    }
}

/// What a session is waiting for, so its owner knows which inputs make sense next
/// (and the simulator knows when to press keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waiting {
    /// `Input::Start` not yet given.
    Start,
    /// A prompt is playing.
    Playback {
        barge_in: bool,
    },
    /// Keys; `sensitive` when they are a secret, `partial` once some have come.
    Keys {
        sensitive: bool,
        partial: bool,
    },
    Verification,
    Queue,
    /// Talking to an agent.
    Agent,
    Recording,
    /// The session is over.
    Ended,
}
