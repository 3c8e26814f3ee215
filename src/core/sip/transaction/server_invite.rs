//! INVITE server transaction (RFC 3261 17.2.1), with the Accepted state of RFC 6026 and
//! the 2xx retransmission of RFC 3261 13.3.1.4 kept here, beside the state it depends on.

use super::{earliest, Backoff, Timer, Timers, Transport, TxOutput};
use std::time::Instant;

#[derive(Debug)]
enum State {
    Proceeding {
        last: Option<Vec<u8>>,
    },
    /// A non-2xx final was sent; waiting for its ACK.
    Completed {
        response: Vec<u8>,
        g: Option<Backoff>,
        h: Instant,
    },
    /// The non-2xx's ACK arrived; absorbing ACK retransmissions until Timer I.
    Confirmed {
        i: Instant,
    },
    /// A 2xx was sent. Until its ACK arrives it is retransmitted (unreliable transports)
    /// and after 64*T1 without one the call is given up; INVITE retransmissions are
    /// absorbed until Timer L.
    Accepted {
        response: Vec<u8>,
        g: Option<Backoff>,
        ack_by: Option<Instant>,
        l: Instant,
    },
    Terminated,
}

#[derive(Debug)]
pub struct ServerInvite {
    state: State,
    transport: Transport,
    timers: Timers,
}

impl ServerInvite {
    pub fn new(transport: Transport, timers: Timers) -> Self {
        ServerInvite {
            state: State::Proceeding { last: None },
            transport,
            timers,
        }
    }

    /// The transaction user sends a response.
    pub fn respond(&mut self, now: Instant, status: u16, bytes: Vec<u8>, out: &mut Vec<TxOutput>) {
        if !matches!(self.state, State::Proceeding { .. }) {
            return; // a final response was already sent: a late one changes nothing
        }
        out.push(TxOutput::Send(bytes.clone()));
        let t = self.timers;
        let retransmit =
            (self.transport == Transport::Unreliable).then(|| Backoff::new(now, t.t1, Some(t.t2)));
        self.state = match status {
            100..=199 => State::Proceeding { last: Some(bytes) },
            200..=299 => State::Accepted {
                response: bytes,
                g: retransmit,
                ack_by: Some(now + t.t64()),
                l: now + t.t64(),
            },
            _ => State::Completed {
                response: bytes,
                g: retransmit,
                h: now + t.t64(),
            },
        };
    }

    /// The INVITE arrived again: answer with the last response (17.2.1).
    pub fn on_retransmission(&mut self, out: &mut Vec<TxOutput>) {
        match &self.state {
            State::Proceeding { last: Some(r) } | State::Completed { response: r, .. } => {
                out.push(TxOutput::Send(r.clone()))
            }
            State::Accepted {
                response,
                ack_by: Some(_),
                ..
            } => out.push(TxOutput::Send(response.clone())),
            _ => {}
        }
    }

    /// An ACK with this transaction's branch: the ACK of a non-2xx final.
    pub fn on_ack(&mut self, now: Instant, out: &mut Vec<TxOutput>) {
        if let State::Completed { .. } = self.state {
            let i = now + self.transport.linger(self.timers.t4);
            self.state = State::Confirmed { i };
            self.check_zero(now, out);
        }
    }

    /// The ACK of our 2xx arrived (matched by the dialog, RFC 3261 13.3.1.4).
    pub fn on_2xx_ack(&mut self) -> bool {
        if let State::Accepted { g, ack_by, .. } = &mut self.state {
            let first = ack_by.is_some();
            *g = None;
            *ack_by = None;
            return first;
        }
        false
    }

    /// True once a final response has been sent: a CANCEL then changes nothing.
    pub fn is_final(&self) -> bool {
        !matches!(self.state, State::Proceeding { .. })
    }

    pub fn is_terminated(&self) -> bool {
        matches!(self.state, State::Terminated)
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.state {
            State::Proceeding { .. } | State::Terminated => None,
            State::Completed { g, h, .. } => earliest(g.map(|g| g.next), Some(*h)),
            State::Confirmed { i } => Some(*i),
            State::Accepted { g, ack_by, l, .. } => {
                earliest(earliest(g.map(|g| g.next), *ack_by), Some(*l))
            }
        }
    }

    pub fn handle_timeout(&mut self, now: Instant, out: &mut Vec<TxOutput>) {
        match &mut self.state {
            State::Completed { response, g, h } => {
                if now >= *h {
                    out.push(TxOutput::Timeout(Timer::H));
                    self.terminate(out);
                } else if let Some(g) = g.as_mut().filter(|g| now >= g.next) {
                    out.push(TxOutput::Send(response.clone()));
                    g.fire(now);
                }
            }
            State::Confirmed { i } => {
                if now >= *i {
                    self.terminate(out);
                }
            }
            State::Accepted {
                response,
                g,
                ack_by,
                l,
            } => {
                if ack_by.is_some_and(|t| now >= t) {
                    *ack_by = None;
                    *g = None;
                    out.push(TxOutput::Timeout(Timer::H));
                }
                if let Some(g) = g.as_mut().filter(|g| now >= g.next) {
                    out.push(TxOutput::Send(response.clone()));
                    g.fire(now);
                }
                if now >= *l {
                    self.terminate(out);
                }
            }
            State::Proceeding { .. } | State::Terminated => {}
        }
    }

    fn check_zero(&mut self, now: Instant, out: &mut Vec<TxOutput>) {
        if self.poll_timeout().is_some_and(|d| d <= now) {
            self.handle_timeout(now, out);
        }
    }

    fn terminate(&mut self, out: &mut Vec<TxOutput>) {
        self.state = State::Terminated;
        out.push(TxOutput::Terminated);
    }
}
