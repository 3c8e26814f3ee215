//! Calls through SIP trunks: which trunk takes a call (the declared order, skipping full
//! ones), what a refusal means (busy, no answer, a failed number, or a trunk failure that
//! the next trunk may not have), and placing the INVITE with the trunk's caller ID and
//! number rewriting.

use super::{Host, RtpCounters, Switchboard};
use crate::core::sdp::LocalMedia;
use crate::core::sip::endpoint::{CallRef, Dial, DialAuth, EndCause, Link, Peer};
use crate::trunks::{DialerSettings, Trunk, TrunkTransport};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

/// A trunk with the address the runtime resolved for it.
#[derive(Debug, Clone)]
pub struct TrunkLine {
    pub trunk: Trunk,
    pub addr: SocketAddr,
}

/// What the switchboard places outbound calls with (from `trunks.toml`).
#[derive(Debug, Clone, Default)]
pub struct OutboundSetup {
    pub lines: Vec<TrunkLine>,
    pub dialer: DialerSettings,
    /// What agents dial in front of an outside number.
    pub dial_out_prefix: Option<String>,
}

/// The trunks and the calls each carries now.
#[derive(Debug, Default)]
pub(super) struct Lines {
    pub lines: Vec<TrunkLine>,
    pub busy: Vec<u32>,
}

impl Lines {
    pub fn new(lines: Vec<TrunkLine>) -> Lines {
        let busy = vec![0; lines.len()];
        Lines { lines, busy }
    }

    /// Calls the trunks can still take.
    pub fn free(&self) -> usize {
        self.lines
            .iter()
            .zip(&self.busy)
            .map(|(l, b)| l.trunk.max_calls.saturating_sub(*b) as usize)
            .sum()
    }

    /// The first trunk at or after `from` with a free line.
    fn pick(&self, from: usize) -> Option<usize> {
        (from..self.lines.len()).find(|&i| self.busy[i] < self.lines[i].trunk.max_calls)
    }

    pub fn release(&mut self, index: usize) {
        if let Some(b) = self.busy.get_mut(index) {
            *b = b.saturating_sub(1);
        }
    }
}

/// How a call through a trunk ended before it was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refusal {
    Busy,
    NoAnswer,
    /// The number cannot be called (404, 484, 403, ...): another trunk would say the same.
    Failed,
    /// The trunk failed (no response at all, 5xx, 503): the next trunk may carry it.
    TryNext,
}

/// What a refusal of our INVITE means (`by_us`: we gave it up ourselves).
pub(super) fn refusal(cause: EndCause, status: Option<u16>) -> Refusal {
    match status {
        Some(486 | 600) => Refusal::Busy,
        Some(408 | 480 | 487 | 603) => Refusal::NoAnswer,
        Some(500..=599) => Refusal::TryNext,
        Some(_) => Refusal::Failed,
        // Timer B: the trunk never answered the INVITE.
        None if cause == EndCause::NoAnswer => Refusal::TryNext,
        None => Refusal::Failed,
    }
}

/// A call placed through a trunk.
pub(super) struct Placed {
    pub call: CallRef,
    pub trunk: usize,
    pub port: u16,
    pub rtp: Arc<RtpCounters>,
}

impl<H: Host> Switchboard<H> {
    /// Places a call to `number` through the first trunk from `from` on with a free line
    /// (over UDP, or over the trunk's TCP connection, opened when there is none). `None`
    /// when no trunk is left or no RTP port is free.
    pub(super) fn dial_trunk(&mut self, now: Instant, number: &str, from: usize) -> Option<Placed> {
        let index = self.dialer.lines.pick(from)?;
        let line = self.dialer.lines.lines[index].clone();
        let local_host = self.local_host_for(line.addr);
        let ip = local_host.parse().ok()?;
        let Some(port) = self.take_rtp_port(ip) else {
            tracing::warn!("no free RTP port for an outbound call");
            return None;
        };
        let media = LocalMedia {
            ip,
            port,
            session_id: self.session_id(),
            version: 1,
        };
        let auth = line
            .trunk
            .invite_credentials()
            .map(|(user, password)| DialAuth {
                user: user.into(),
                password: password.into(),
            });
        let peer = self.trunk_peer(&line);
        let call = self.endpoint.dial(
            now,
            Dial {
                peer,
                uri: format!(
                    "sip:{}@{}{}",
                    line.trunk.rewrite(number),
                    line.trunk.address,
                    match line.trunk.transport {
                        TrunkTransport::Udp => "",
                        TrunkTransport::Tcp => ";transport=tcp",
                    }
                ),
                local_host,
                from_user: line.trunk.caller_id.clone(),
                from_display: None,
                headers: vec![],
                media,
                auth,
            },
        );
        self.dialer.lines.busy[index] += 1;
        tracing::info!(trunk = %line.trunk.name, "outbound call placed");
        let rtp = self.start_placed_media(call, port);
        Some(Placed {
            call,
            trunk: index,
            port,
            rtp,
        })
    }

    /// Where a trunk's requests go: its address over UDP, or its TCP connection.
    pub(super) fn trunk_peer(&mut self, line: &TrunkLine) -> Peer {
        match line.trunk.transport {
            TrunkTransport::Udp => Peer {
                link: Link::Udp,
                addr: line.addr,
            },
            TrunkTransport::Tcp => self.endpoint.tcp_peer(line.addr),
        }
    }
}
