//! RFC 3261 section 17 transactions, client and server, INVITE and non-INVITE.
//!
//! Each machine is plain data: it takes a message or the current time and pushes
//! [`TxOutput`]s. Timers carry their RFC names; the endpoint asks each machine for its
//! next deadline and calls [`handle_timeout`](ServerInvite::handle_timeout) when it passes.

mod client_invite;
mod client_non_invite;
mod server_invite;
mod server_non_invite;

pub use client_invite::{AckParts, ClientInvite};
pub use client_non_invite::ClientNonInvite;
pub use server_invite::ServerInvite;
pub use server_non_invite::ServerNonInvite;

use std::time::{Duration, Instant};

/// T1, T2 and T4 of RFC 3261 17.1.1.1 (table 4); defaults are the RFC's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timers {
    /// Round-trip estimate.
    pub t1: Duration,
    /// Longest retransmit interval for non-INVITE requests and INVITE responses.
    pub t2: Duration,
    /// Longest time a message stays in the network.
    pub t4: Duration,
}

impl Default for Timers {
    fn default() -> Self {
        Timers {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
        }
    }
}

impl Timers {
    /// 64*T1: Timers B, F, H, J and L.
    pub fn t64(&self) -> Duration {
        self.t1 * 64
    }
}

/// Whether the transport retransmits for us (TCP) or not (UDP); reliable transports set
/// retransmission timers and the linger timers D, I, J and K to zero (RFC 3261 17).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Unreliable,
    Reliable,
}

impl Transport {
    fn linger(self, d: Duration) -> Duration {
        match self {
            Transport::Unreliable => d,
            Transport::Reliable => Duration::ZERO,
        }
    }
}

/// RFC 3261's timer names, for logs and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    A,
    B,
    D,
    E,
    F,
    G,
    H,
    I,
    J,
    K,
    /// RFC 6026: how long an accepted INVITE transaction absorbs retransmissions.
    L,
}

/// What a transaction asks of its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxOutput {
    /// Put these bytes on the wire to the transaction's peer.
    Send(Vec<u8>),
    /// A response for the transaction user (client transactions).
    Response(u16),
    /// The transaction gave up: no response (B, F) or no ACK (H, or the 2xx's ACK).
    Timeout(Timer),
    /// The transaction is over; drop it.
    Terminated,
}

/// Retransmission schedule: doubling from T1, capped (T2 or unbounded).
#[derive(Debug, Clone, Copy)]
struct Backoff {
    next: Instant,
    interval: Duration,
    cap: Option<Duration>,
}

impl Backoff {
    fn new(now: Instant, t1: Duration, cap: Option<Duration>) -> Self {
        Backoff {
            next: now + t1,
            interval: t1,
            cap,
        }
    }
    fn fire(&mut self, now: Instant) {
        self.interval *= 2;
        if let Some(cap) = self.cap {
            self.interval = self.interval.min(cap);
        }
        self.next = now + self.interval;
    }
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}
