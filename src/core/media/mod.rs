//! Media: RTP packets, G.711, prompts and the player, DTMF three ways, the port pool.

pub mod dtmf;
pub mod g711;
pub mod goertzel;
pub mod player;
pub mod ports;
pub mod prompt;
pub mod rtp;
pub mod speech;
