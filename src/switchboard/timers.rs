//! The switchboard's own deadlines, one per (call, kind): setting one again moves it,
//! and a call's deadlines go when the call does.

use crate::core::sip::endpoint::CallRef;
use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) enum Due {
    /// The ring delay is over: answer once the arrival record is committed.
    Answer,
    /// The longest a call may last.
    MaxDuration,
    /// The call's dial plan session has a deadline (a prompt's timeout, a voicemail's end).
    Ivr,
    /// An agent's leg waits for the outcome code.
    Outcome,
    /// After the goodbye, the caller's time to hang up first; then we do.
    Hangup,
    /// A call hotline placed waits: for the agent's preview choice, the customer's
    /// answer, or the revisit answer.
    Dialer,
}

#[derive(Debug, Default)]
pub(super) struct CallTimers {
    by_key: HashMap<(CallRef, Due), Instant>,
    order: BTreeSet<(Instant, CallRef, Due)>,
}

impl CallTimers {
    /// Sets (or moves) the `due` deadline of `call`.
    pub fn set(&mut self, call: CallRef, due: Due, at: Instant) {
        if let Some(old) = self.by_key.insert((call, due), at) {
            self.order.remove(&(old, call, due));
        }
        self.order.insert((at, call, due));
    }

    pub fn cancel(&mut self, call: CallRef, due: Due) {
        if let Some(at) = self.by_key.remove(&(call, due)) {
            self.order.remove(&(at, call, due));
        }
    }

    /// Drops every deadline of a call that has ended.
    pub fn cancel_all(&mut self, call: CallRef) {
        for due in [
            Due::Answer,
            Due::MaxDuration,
            Due::Ivr,
            Due::Outcome,
            Due::Hangup,
            Due::Dialer,
        ] {
            self.cancel(call, due);
        }
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.order.first().map(|(t, _, _)| *t)
    }

    /// The next deadline that has passed, removed.
    pub fn pop_expired(&mut self, now: Instant) -> Option<(CallRef, Due)> {
        let &(at, call, due) = self.order.first().filter(|(t, _, _)| *t <= now)?;
        self.order.remove(&(at, call, due));
        self.by_key.remove(&(call, due));
        Some((call, due))
    }
}
