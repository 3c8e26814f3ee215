//! The protocol core. No I/O and no clock: every function here takes the current time
//! and bytes as arguments and returns what to send, so it runs the same under a fake
//! clock in tests as under tokio in production.

pub mod media;
pub mod sdp;
pub mod sip;
