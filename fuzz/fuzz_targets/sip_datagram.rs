//! UDP entry point of the SIP core: `Endpoint::handle_datagram` and everything behind it.
//!
//! One fresh endpoint per input. The input is fed whole as a datagram; then split at a
//! position taken from its first byte and fed again as two datagrams (so one input can
//! carry an INVITE and a second request in the same call); deferred answers are given;
//! the clock advances (+1 s, +4 s) and the whole input is fed once more (a
//! retransmission after the answer); more time passes (+40 s), every live call is hung
//! up and all timers run out. See common/mod.rs for the checks.
//!
//! The peer is IPv6 when the input's last byte is odd (so Via `received=` takes both
//! forms), and the owner answers now / later / never by the input's length mod 4.
#![no_main]

mod common;

use common::{udp_peer_addr, Harness, Owner};
use libfuzzer_sys::fuzz_target;
use std::time::Duration;

fuzz_target!(|data: &[u8]| {
    if data.is_empty() {
        return;
    }
    let _ = common::epoch();
    let mut h = Harness::new(Owner::from_len(data.len()));
    let addr = udp_peer_addr(data[data.len() - 1] & 1 == 1);

    h.datagram(addr, data);

    let pos = data[0] as usize * data.len() / 255;
    let (a, b) = data.split_at(pos.min(data.len()));
    h.set_time(Duration::from_millis(100));
    h.datagram(addr, a);
    h.datagram(addr, b);
    h.answer_deferred();

    h.run_timers(Duration::from_secs(1));
    h.run_timers(Duration::from_secs(4));
    h.datagram(addr, data);
    h.run_timers(Duration::from_secs(40));
    h.finish();
});
