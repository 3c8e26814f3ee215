//! Where SIP messages come from and go to.

use super::transaction::Transport;
use std::net::SocketAddr;

/// A TCP connection, as numbered by the runtime.
pub type ConnId = u64;

/// How a message came in, and so how its answer goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Link {
    Udp,
    Tcp(ConnId),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Peer {
    pub link: Link,
    pub addr: SocketAddr,
}

impl Peer {
    pub(crate) fn transport(&self) -> Transport {
        match self.link {
            Link::Udp => Transport::Unreliable,
            Link::Tcp(_) => Transport::Reliable,
        }
    }
    pub(crate) fn via_transport(&self) -> &'static str {
        match self.link {
            Link::Udp => "UDP",
            Link::Tcp(_) => "TCP",
        }
    }
}

/// Bytes to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub peer: Peer,
    pub bytes: Vec<u8>,
}
