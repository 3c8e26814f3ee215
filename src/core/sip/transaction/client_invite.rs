//! INVITE client transaction (RFC 3261 17.1.1): Timer A retransmits, Timer B gives up,
//! a non-2xx final is ACKed here and Timer D absorbs its retransmissions. A 2xx ends the
//! transaction; its ACK belongs to the dialog (RFC 3261 13.2.2.4).

use super::{Backoff, Timer, Timers, Transport, TxOutput};
use std::time::Instant;

/// What the ACK of a non-2xx final copies from the INVITE (RFC 3261 17.1.1.3).
#[derive(Debug, Clone)]
pub struct AckParts {
    pub uri: String,
    pub via: String,
    pub from: String,
    pub call_id: String,
    pub cseq: u32,
    pub routes: Vec<String>,
}

impl AckParts {
    /// The ACK, with the To header (and its tag) taken from the response.
    pub fn build(&self, to: &str) -> Vec<u8> {
        self.build_method("ACK", to)
    }

    /// The CANCEL of the INVITE (RFC 3261 9.1): same Request-URI, Via, From, To, Call-ID
    /// and CSeq number; `to` is the INVITE's To, without a tag.
    pub fn build_cancel(&self, to: &str) -> Vec<u8> {
        self.build_method("CANCEL", to)
    }

    fn build_method(&self, method: &str, to: &str) -> Vec<u8> {
        let mut s = format!(
            "{method} {} SIP/2.0\r\nVia: {}\r\nMax-Forwards: 70\r\nFrom: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {} {method}\r\n",
            self.uri, self.via, self.from, to, self.call_id, self.cseq
        );
        for r in &self.routes {
            s.push_str("Route: ");
            s.push_str(r);
            s.push_str("\r\n");
        }
        s.push_str("Content-Length: 0\r\n\r\n");
        s.into_bytes()
    }
}

#[derive(Debug)]
enum State {
    Calling { a: Option<Backoff>, b: Instant },
    Proceeding,
    Completed { ack: Vec<u8>, d: Instant },
    Terminated,
}

#[derive(Debug)]
pub struct ClientInvite {
    state: State,
    transport: Transport,
    timers: Timers,
    request: Vec<u8>,
    ack: AckParts,
}

impl ClientInvite {
    /// Starts the transaction and sends the INVITE.
    pub fn start(
        now: Instant,
        transport: Transport,
        timers: Timers,
        request: Vec<u8>,
        ack: AckParts,
        out: &mut Vec<TxOutput>,
    ) -> Self {
        out.push(TxOutput::Send(request.clone()));
        let a = (transport == Transport::Unreliable).then(|| Backoff::new(now, timers.t1, None));
        ClientInvite {
            state: State::Calling {
                a,
                b: now + timers.t64(),
            },
            transport,
            timers,
            request,
            ack,
        }
    }

    /// A response arrived; `to` is its To header value, for the ACK of a non-2xx.
    pub fn on_response(&mut self, now: Instant, status: u16, to: &str, out: &mut Vec<TxOutput>) {
        match &self.state {
            State::Calling { .. } | State::Proceeding => {
                out.push(TxOutput::Response(status));
                match status {
                    100..=199 => self.state = State::Proceeding,
                    200..=299 => self.terminate(out),
                    _ => {
                        let ack = self.ack.build(to);
                        out.push(TxOutput::Send(ack.clone()));
                        let d = now + self.transport.linger(self.timers.t1 * 64);
                        self.state = State::Completed { ack, d };
                        if d <= now {
                            self.terminate(out);
                        }
                    }
                }
            }
            State::Completed { ack, .. } if status >= 300 => out.push(TxOutput::Send(ack.clone())),
            _ => {}
        }
    }

    pub fn is_terminated(&self) -> bool {
        matches!(self.state, State::Terminated)
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.state {
            State::Calling { a, b } => Some(a.map_or(*b, |a| a.next.min(*b))),
            State::Completed { d, .. } => Some(*d),
            _ => None,
        }
    }

    /// Timers A, B and D.
    pub fn handle_timeout(&mut self, now: Instant, out: &mut Vec<TxOutput>) {
        match &mut self.state {
            State::Calling { a, b } => {
                if now >= *b {
                    out.push(TxOutput::Timeout(Timer::B));
                    self.terminate(out);
                } else if let Some(a) = a.as_mut().filter(|a| now >= a.next) {
                    out.push(TxOutput::Send(self.request.clone()));
                    a.fire(now);
                }
            }
            State::Completed { d, .. } if now >= *d => self.terminate(out),
            _ => {}
        }
    }

    /// The transport could not carry the INVITE (a TCP connection refused or timed
    /// out): reported as Timer B and terminated at once (RFC 3261 17.1.4), so the owner
    /// treats it as no response.
    pub fn transport_error(&mut self, out: &mut Vec<TxOutput>) {
        if matches!(self.state, State::Calling { .. } | State::Proceeding) {
            out.push(TxOutput::Timeout(Timer::B));
            self.terminate(out);
        }
    }

    fn terminate(&mut self, out: &mut Vec<TxOutput>) {
        self.state = State::Terminated;
        out.push(TxOutput::Terminated);
    }
}
