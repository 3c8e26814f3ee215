//! Media: RTP packets, G.711 and the port pool.

pub mod g711;
pub mod player;
pub mod ports;
pub mod rtp;
