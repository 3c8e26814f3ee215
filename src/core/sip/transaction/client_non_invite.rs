//! Non-INVITE client transaction (RFC 3261 17.1.2): retransmits on Timer E, gives up on
//! Timer F, lingers for stray responses until Timer K.

use super::{Backoff, Timer, Timers, Transport, TxOutput};
use std::time::Instant;

#[derive(Debug)]
enum State {
    Trying,
    Proceeding,
    Completed { k: Instant },
    Terminated,
}

#[derive(Debug)]
pub struct ClientNonInvite {
    state: State,
    transport: Transport,
    timers: Timers,
    request: Vec<u8>,
    e: Option<Backoff>,
    f: Instant,
}

impl ClientNonInvite {
    /// Starts the transaction and sends the request.
    pub fn start(
        now: Instant,
        transport: Transport,
        timers: Timers,
        request: Vec<u8>,
        out: &mut Vec<TxOutput>,
    ) -> Self {
        out.push(TxOutput::Send(request.clone()));
        ClientNonInvite {
            state: State::Trying,
            transport,
            timers,
            request,
            e: (transport == Transport::Unreliable)
                .then(|| Backoff::new(now, timers.t1, Some(timers.t2))),
            f: now + timers.t64(),
        }
    }

    pub fn on_response(&mut self, now: Instant, status: u16, out: &mut Vec<TxOutput>) {
        match self.state {
            State::Trying | State::Proceeding if status < 200 => {
                self.state = State::Proceeding;
                out.push(TxOutput::Response(status));
            }
            State::Trying | State::Proceeding => {
                out.push(TxOutput::Response(status));
                let k = now + self.transport.linger(self.timers.t4);
                self.state = State::Completed { k };
                self.e = None;
                if k <= now {
                    self.terminate(out);
                }
            }
            _ => {}
        }
    }

    pub fn is_terminated(&self) -> bool {
        matches!(self.state, State::Terminated)
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Trying | State::Proceeding => {
                Some(self.e.map_or(self.f, |e| e.next.min(self.f)))
            }
            State::Completed { k } => Some(k),
            State::Terminated => None,
        }
    }

    /// Timers E, F and K.
    pub fn handle_timeout(&mut self, now: Instant, out: &mut Vec<TxOutput>) {
        match self.state {
            State::Trying | State::Proceeding => {
                if now >= self.f {
                    out.push(TxOutput::Timeout(Timer::F));
                    self.terminate(out);
                    return;
                }
                if let Some(e) = self.e.as_mut().filter(|e| now >= e.next) {
                    out.push(TxOutput::Send(self.request.clone()));
                    e.fire(now);
                    if matches!(self.state, State::Proceeding) {
                        e.next = now + self.timers.t2;
                    }
                }
            }
            State::Completed { k } if now >= k => self.terminate(out),
            _ => {}
        }
    }

    /// The transport could not carry the request: reported as Timer F and terminated
    /// at once (RFC 3261 17.1.4).
    pub fn transport_error(&mut self, out: &mut Vec<TxOutput>) {
        if matches!(self.state, State::Trying | State::Proceeding) {
            out.push(TxOutput::Timeout(Timer::F));
            self.terminate(out);
        }
    }

    fn terminate(&mut self, out: &mut Vec<TxOutput>) {
        self.state = State::Terminated;
        out.push(TxOutput::Terminated);
    }
}
