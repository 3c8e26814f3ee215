//! `sdp::parse_offer` on the input; when it accepts, our answer to it (IPv4 and IPv6,
//! plain and version-bumped) must be SDP that `parse_offer` accepts again and that says
//! the same thing: same codec, same telephone-event payload type, our address as the
//! remote, the direction mirrored back, and as many m-lines as the offer with ours at
//! the same place (RFC 3264 6), however the offer's lines end (CRLF, LF or a bare CR:
//! F2 in fuzz/README.md). Nothing is skipped: an `a=crypto` line with any key lifetime
//! must not panic (F3).
#![no_main]

use hotline::core::sdp::{parse_offer, Dir, LocalMedia};
use libfuzzer_sys::fuzz_target;
use std::net::{IpAddr, SocketAddr};

/// Our own offer (the 200 to an INVITE without SDP) must be one we accept ourselves.
fn check_our_offer() {
    static DONE: std::sync::Once = std::sync::Once::new();
    DONE.call_once(|| {
        for ip in [
            IpAddr::from([203, 0, 113, 5]),
            "2001:db8::5".parse().unwrap(),
        ] {
            let local = LocalMedia {
                ip,
                port: 40_000,
                session_id: 42,
                version: 1,
            };
            let ours = local.offer();
            if let Err(e) = parse_offer(&ours) {
                panic!(
                    "our own offer does not parse ({e}): {}",
                    ours.escape_ascii()
                );
            }
        }
    });
}

fuzz_target!(|data: &[u8]| {
    check_our_offer();
    let Ok(offer) = parse_offer(data) else {
        return;
    };
    let ips: [IpAddr; 2] = [[203, 0, 113, 5].into(), "2001:db8::5".parse().unwrap()];
    for (ip, bump) in ips.into_iter().zip([false, true]) {
        let mut local = LocalMedia {
            ip,
            port: 40_000,
            session_id: 42,
            version: 1,
        };
        let answer = local.answer(&offer, bump);
        let back = match parse_offer(&answer) {
            Ok(b) => b,
            Err(e) => panic!(
                "our answer does not parse ({e})\noffer: {offer:?}\nanswer: {}",
                answer.escape_ascii()
            ),
        };
        let mirrored = match offer.dir {
            Dir::SendOnly => Dir::RecvOnly,
            Dir::RecvOnly => Dir::SendOnly,
            d => d,
        };
        let why = format!(
            "offer: {offer:?}\nback: {back:?}\nanswer: {}",
            answer.escape_ascii()
        );
        assert_eq!(back.codec, offer.codec, "codec changed\n{why}");
        assert_eq!(
            back.telephone_event, offer.telephone_event,
            "telephone-event changed\n{why}"
        );
        assert_eq!(
            back.remote,
            Some(SocketAddr::new(ip, 40_000)),
            "remote\n{why}"
        );
        assert_eq!(back.dir, mirrored, "direction not mirrored\n{why}");
        assert_eq!(
            back.m_lines.len(),
            offer.m_lines.len(),
            "answer has another number of m-lines than the offer\n{why}"
        );
        assert_eq!(
            back.m_lines.iter().position(Option::is_none),
            offer.m_lines.iter().position(Option::is_none),
            "our m-line moved\n{why}"
        );
    }
});
