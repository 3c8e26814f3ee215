//! TCP connections we open ourselves (to trunks): one per remote address, numbered from
//! [`OUTBOUND_CONN_BASE`] so they never collide with the ones the runtime accepts. The
//! endpoint asks for a connection with [`Endpoint::poll_connect`] before anything is sent
//! on it; the runtime holds what is sent until it is connected. A connection that could
//! not be made, or that closed, fails the transactions waiting on it as a transport error
//! (RFC 3261 17.1.4, reported like a timeout); the next request to that address opens a
//! new one.

use super::{ClientKey, ClientMachine, ConnId, Endpoint, Link, Peer, Transmit};
use std::net::SocketAddr;
use std::time::Instant;

/// The first number of a connection we open; accepted connections count up from 1.
pub const OUTBOUND_CONN_BASE: ConnId = 1 << 62;

impl Endpoint {
    /// The TCP connection to `addr`: the open (or opening) one, else a new one, asked
    /// for through [`poll_connect`](Self::poll_connect).
    pub fn tcp_peer(&mut self, addr: SocketAddr) -> Peer {
        let id = match self.tcp_out.get(&addr) {
            Some(&id) => id,
            None => {
                let id = OUTBOUND_CONN_BASE + self.next_conn;
                self.next_conn += 1;
                self.tcp_out.insert(addr, id);
                self.connects.push_back((id, addr));
                tracing::debug!(conn = id, %addr, "opening a TCP connection");
                id
            }
        };
        Peer {
            link: Link::Tcp(id),
            addr,
        }
    }

    /// A connection to open: (its number, the address). Poll before
    /// [`poll_transmit`](Self::poll_transmit), which may send on it.
    pub fn poll_connect(&mut self) -> Option<(ConnId, SocketAddr)> {
        self.connects.pop_front()
    }

    /// A connection we asked for could not be made (refused, unreachable, timed out):
    /// every request waiting on it fails as if unanswered.
    pub fn connect_failed(&mut self, now: Instant, id: ConnId) {
        self.fail_requests_on(now, id, "TCP connection failed; its requests fail");
    }

    /// A TCP connection closed: the next request to its address opens a new one. On one
    /// of ours, the requests still waiting for an answer fail as if unanswered (a trunk
    /// answers on the connection it was asked on), so a call goes on to the next trunk
    /// at once and no transaction waits for a response that cannot come.
    pub fn connection_closed(&mut self, now: Instant, id: ConnId) {
        if id >= OUTBOUND_CONN_BASE {
            self.fail_requests_on(now, id, "TCP connection closed; its requests fail");
        } else {
            self.forget_conn(id);
        }
    }

    fn fail_requests_on(&mut self, now: Instant, id: ConnId, why: &'static str) {
        self.forget_conn(id);
        let keys: Vec<ClientKey> = self
            .clients
            .iter()
            .filter(|(_, tx)| tx.peer.link == Link::Tcp(id))
            .map(|(k, _)| k.clone())
            .collect();
        tracing::debug!(conn = id, requests = keys.len(), "{why}");
        for key in keys {
            let mut out = std::mem::take(&mut self.scratch);
            if let Some(tx) = self.clients.get_mut(&key) {
                match &mut tx.machine {
                    ClientMachine::Invite(m) => m.transport_error(&mut out),
                    ClientMachine::NonInvite(m) => m.transport_error(&mut out),
                }
            }
            self.apply_client(now, &key, &mut out, None);
            self.scratch = out;
        }
    }

    fn forget_conn(&mut self, id: ConnId) {
        self.tcp_out.retain(|_, v| *v != id);
    }

    /// Where a message for `peer` goes now: a connection of ours that closed is
    /// replaced by the current (or a new) one to the same address.
    pub(super) fn route(&mut self, peer: Peer) -> Peer {
        match peer.link {
            Link::Tcp(id)
                if id >= OUTBOUND_CONN_BASE && self.tcp_out.get(&peer.addr) != Some(&id) =>
            {
                self.tcp_peer(peer.addr)
            }
            _ => peer,
        }
    }

    /// Queues `bytes` for `peer`, on its current connection.
    pub(super) fn send(&mut self, peer: Peer, bytes: Vec<u8>) {
        let peer = self.route(peer);
        self.transmits.push_back(Transmit { peer, bytes });
    }
}
