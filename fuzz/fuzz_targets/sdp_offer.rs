//! `sdp::parse_offer` on the input; when it accepts, our answer to it (IPv4 and IPv6,
//! plain and version-bumped) must be SDP that `parse_offer` accepts again and that says
//! the same thing: same codec, same telephone-event payload type, our address as the
//! remote, the direction mirrored back, and as many m-lines as the offer with ours at
//! the same place (RFC 3264 6).
#![no_main]

use hotline::core::sdp::{parse_offer, Dir, LocalMedia};
use libfuzzer_sys::fuzz_target;
use std::net::{IpAddr, SocketAddr};

/// `HOTLINE_FUZZ_NO_KNOWN=1`: report known findings again (to check a fix).
fn no_known() -> bool {
    static OFF: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *OFF.get_or_init(|| std::env::var_os("HOTLINE_FUZZ_NO_KNOWN").is_some())
}

/// Known finding F2 (fuzz/README.md): `parse_offer` numbers m-lines by `str::lines()`
/// while ezk-sdp-types splits lines on CR as well, so with a bare CR the two disagree
/// and `m_lines` is misaligned. Excused (m-line checks skipped) when the input has a CR
/// not followed by LF; `HOTLINE_FUZZ_NO_KNOWN=1` turns that off.
fn known_f2(data: &[u8]) -> bool {
    !no_known()
        && data
            .iter()
            .enumerate()
            .any(|(i, &b)| b == b'\r' && data.get(i + 1) != Some(&b'\n'))
}

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
    // Known finding F3 (fuzz/README.md): ezk-sdp-types panics on `a=crypto ...|2^32`.
    if !no_known() && data.windows(3).any(|w| w == b"|2^") {
        return;
    }
    let Ok(offer) = parse_offer(data) else {
        return;
    };
    let known_f2 = known_f2(data);
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
        if known_f2 {
            continue;
        }
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
