//! TCP entry point of the SIP core: `frame_stream` run over the input the way the TCP
//! reader (src/runtime/tcp.rs) runs it over its buffer, each framed message fed to
//! `Endpoint::handle_message` with a TCP peer, an unframeable rest to `reject_malformed`.
//!
//! The input arrives in reads of 1..=256 bytes (size from the first byte); the messages
//! framed that way must be exactly those framed from the whole input at once (framing
//! must not depend on how the stream was cut into reads). Then the clock advances, every
//! live call is hung up and all timers run out. See common/mod.rs for the checks.
#![no_main]

mod common;

use common::{Harness, Owner};
use hotline::core::sip::endpoint::{Link, Peer};
use hotline::core::sip::message::{frame_stream, MessageError, StreamFrame};
use libfuzzer_sys::fuzz_target;
use std::time::Duration;

/// The messages framed from `data` arriving in reads of `chunk` bytes, and the error
/// that ended the stream if any (the bytes left in the buffer at that point with it).
fn frame_all(
    data: &[u8],
    chunk: usize,
    max: usize,
) -> (Vec<Vec<u8>>, Option<(Vec<u8>, MessageError)>) {
    let mut buf: Vec<u8> = Vec::new();
    let mut msgs = Vec::new();
    for read in data.chunks(chunk) {
        buf.extend_from_slice(read);
        loop {
            match frame_stream(&buf, max) {
                Ok(StreamFrame::Incomplete) => break,
                Ok(StreamFrame::KeepAlive(n)) => {
                    assert!(
                        n > 0 && n <= buf.len(),
                        "KeepAlive({n}) of a {}-byte buffer",
                        buf.len()
                    );
                    buf.drain(..n);
                }
                Ok(StreamFrame::Message { start, len }) => {
                    assert!(
                        len > 0 && start + len <= buf.len(),
                        "Message {start}+{len} of {}",
                        buf.len()
                    );
                    msgs.push(buf[start..start + len].to_vec());
                    buf.drain(..start + len);
                }
                Err(err) => return (msgs, Some((std::mem::take(&mut buf), err))),
            }
        }
    }
    (msgs, None)
}

fuzz_target!(|data: &[u8]| {
    if data.is_empty() {
        return;
    }
    let _ = common::epoch();
    let mut h = Harness::new(Owner::from_len(data.len()));
    let max = h.max_message();
    let chunk = 1 + data[0] as usize;

    let (msgs, err) = frame_all(data, chunk, max);
    let (whole_msgs, whole_err) = frame_all(data, data.len(), max);
    assert_eq!(
        msgs, whole_msgs,
        "framing depends on how the stream was read"
    );
    assert_eq!(
        err.as_ref().map(|(_, e)| e),
        whole_err.as_ref().map(|(_, e)| e),
        "framing error depends on how the stream was read"
    );

    let peer = Peer {
        link: Link::Tcp(1),
        addr: "198.51.100.7:40123".parse().unwrap(),
    };
    for (i, msg) in msgs.iter().enumerate() {
        h.set_time(Duration::from_millis(10 * i as u64));
        h.message(peer, msg);
        if i == 0 {
            // Give deferred answers once the first message is in, so later messages of
            // the stream meet both early and answered calls.
            continue;
        }
        h.answer_deferred();
    }
    if let Some((rest, e)) = &err {
        h.bad_frame(peer, rest, e);
    }
    h.answer_deferred();
    h.run_timers(Duration::from_secs(1));
    h.run_timers(Duration::from_secs(40));
    h.finish();
});
