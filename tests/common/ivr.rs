//! A dial plan session driven on a fake clock, for the IVR tests.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone};
use chrono_tz::Tz;
use hotline::ivr::{Action, CallInfo, Input, Plan, Session};

/// The fake clock's origin: the only real clock read in these tests.
pub fn base() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

pub fn shanghai(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Tz> {
    chrono_tz::Asia::Shanghai
        .with_ymd_and_hms(y, m, d, h, min, 0)
        .unwrap()
}

/// Monday 23 November 2026, 10:00 in Shanghai: a working day, open.
pub fn monday_10() -> DateTime<Tz> {
    shanghai(2026, 11, 23, 10, 0)
}

/// One call on the fake clock, with every action it produced kept for later checks.
pub struct Call {
    pub session: Session,
    pub now: Instant,
    pub all: Vec<Action>,
}

impl Call {
    pub fn start(plan: Arc<Plan>, caller: &str, at: DateTime<Tz>) -> (Call, Vec<Action>) {
        let info = CallInfo {
            caller: caller.into(),
            called: "100".into(),
        };
        let mut call = Call {
            session: Session::new(plan, info, at),
            now: base(),
            all: Vec::new(),
        };
        let first = call.step(Input::Start);
        (call, first)
    }

    pub fn step(&mut self, input: Input) -> Vec<Action> {
        let out = self.session.handle_input(self.now, input);
        self.all.extend(out.iter().cloned());
        out
    }

    pub fn wait(&mut self, ms: u64) {
        self.now += Duration::from_millis(ms);
    }

    /// The prompt plays for a second and ends.
    pub fn done(&mut self) -> Vec<Action> {
        self.wait(1000);
        self.step(Input::PlaybackDone)
    }

    /// Keys 200 ms apart; all actions together.
    pub fn keys(&mut self, keys: &str) -> Vec<Action> {
        let mut out = Vec::new();
        for k in keys.chars() {
            self.wait(200);
            out.extend(self.step(Input::Digit(k)));
        }
        out
    }

    /// Jumps to the next deadline and lets it pass.
    pub fn expire(&mut self) -> Vec<Action> {
        let deadline = self.session.poll_timeout().expect("a timer runs");
        self.now = deadline;
        self.step(Input::Timeout)
    }

    pub fn events(&self) -> Vec<String> {
        self.all
            .iter()
            .filter_map(|a| match a {
                Action::Event { kind, detail } => Some(format!("{kind}: {detail}")),
                _ => None,
            })
            .collect()
    }
}

pub fn play(prompts: &[&str], barge_in: bool) -> Action {
    Action::Play {
        prompts: prompts.iter().map(|p| p.to_string()).collect(),
        barge_in,
    }
}

pub fn event(kind: &'static str, detail: &str) -> Action {
    Action::Event {
        kind,
        detail: detail.into(),
    }
}

pub fn outcome(code: &str) -> Action {
    Action::SetOutcome { code: code.into() }
}

pub fn hangup(code: Option<&str>) -> Action {
    Action::Hangup {
        outcome: code.map(String::from),
    }
}

pub fn digits(number: &str) -> Vec<String> {
    number.chars().map(|c| format!("digit_{c}")).collect()
}

pub fn read_back(number: &str) -> Action {
    let mut prompts = vec!["callback_number_is".to_string()];
    prompts.extend(digits(number));
    prompts.push("callback_confirm_keys".into());
    Action::Play {
        prompts,
        barge_in: true,
    }
}
