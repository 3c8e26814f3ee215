//! Non-INVITE server transaction (RFC 3261 17.2.2): absorbs retransmitted requests by
//! repeating the last response until Timer J.

use super::{Timers, Transport, TxOutput};
use std::time::Instant;

#[derive(Debug)]
enum State {
    Trying,
    Proceeding { last: Vec<u8> },
    Completed { response: Vec<u8>, j: Instant },
    Terminated,
}

#[derive(Debug)]
pub struct ServerNonInvite {
    state: State,
    transport: Transport,
    timers: Timers,
}

impl ServerNonInvite {
    pub fn new(transport: Transport, timers: Timers) -> Self {
        ServerNonInvite {
            state: State::Trying,
            transport,
            timers,
        }
    }

    pub fn respond(&mut self, now: Instant, status: u16, bytes: Vec<u8>, out: &mut Vec<TxOutput>) {
        if matches!(self.state, State::Completed { .. } | State::Terminated) {
            return;
        }
        out.push(TxOutput::Send(bytes.clone()));
        if status < 200 {
            self.state = State::Proceeding { last: bytes };
            return;
        }
        let j = now + self.transport.linger(self.timers.t64());
        self.state = State::Completed { response: bytes, j };
        if j <= now {
            self.handle_timeout(now, out);
        }
    }

    /// The request arrived again: repeat the last response, if any (17.2.2).
    pub fn on_retransmission(&mut self, out: &mut Vec<TxOutput>) {
        match &self.state {
            State::Proceeding { last: r } | State::Completed { response: r, .. } => {
                out.push(TxOutput::Send(r.clone()))
            }
            _ => {}
        }
    }

    pub fn is_terminated(&self) -> bool {
        matches!(self.state, State::Terminated)
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.state {
            State::Completed { j, .. } => Some(*j),
            _ => None,
        }
    }

    /// Timer J.
    pub fn handle_timeout(&mut self, now: Instant, out: &mut Vec<TxOutput>) {
        if let State::Completed { j, .. } = self.state {
            if now >= j {
                self.state = State::Terminated;
                out.push(TxOutput::Terminated);
            }
        }
    }
}
