//! Regression tests for what fuzzing found (fuzz/README.md, "Fixed findings"), on the
//! minimised inputs the fuzzer saved. Plain `cargo test`; no fuzzing needed. Debug builds
//! keep overflow checks on, which is where F3 used to panic.
//!
//! - F1: From/To/Contact without a real URI were accepted, and the BYE we send when the
//!   call ends copies them (Request-URI from the Contact, To from the From), so it did
//!   not parse. Such INVITEs must now get a 400 and create no call.
//! - F2: `parse_offer` counted m-lines on LF while the SDP parser also splits on a bare
//!   CR; the answer then dropped or moved the declined m-lines.
//! - F3: ezk-sdp-types 0.4 computes an `a=crypto` key lifetime `|2^N` as `2u32.pow(N)`,
//!   which panics for N >= 32 with overflow checks on.

use hotline::core::sdp::{parse_offer, Codec, LocalMedia};
use hotline::core::sip::endpoint::{EndCause, Endpoint, EndpointConfig, Event};
use hotline::core::sip::message::{parse, Message};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------
// F1: From/To/Contact must be URIs

/// A well-formed INVITE (fuzz/artifacts/sip_datagram/F1-contact-port with its Contact
/// port repaired); the F1 variants change one header of it.
const INVITE: &str = "INVITE sip:400@192.0.2.1 SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK1\r\n\
From: <sip:a@192.0.2.10>;tag=1\r\n\
To: <sip:400@192.0.2.1>\r\n\
Call-ID: c1ab\r\n\
CSeq: 1 INVITE\r\n\
Contact: <sip:a@192.0.2.10:5062>\r\n\
Content-Length: 0\r\n\
\r\n";

/// fuzz/artifacts/sip_datagram/F1-min, the minimised first crash: `From:@<TAB>et;` made
/// the dialog's remote target `@\tet`, and our BYE went out as `BYE @\tet SIP/2.0`.
const F1_MIN: &[u8] = b"INVITE sip:om SIP/2.0\r\nVia:P/0/UDP c\r\nFrom:@\tet;\r\nTo:e\r\n\
Call-ID: \x00m\r\nCSeq: 56 INVITE\r\n\r\n\r0\r\n\n";

/// The INVITE with the header `name` replaced by `value` (each from a saved artifact).
fn variant(name: &str, value: &str) -> Vec<u8> {
    let prefix = format!("{name}: ");
    let line = INVITE
        .split("\r\n")
        .find(|l| l.starts_with(&prefix))
        .expect("header in the template");
    INVITE
        .replacen(line, &format!("{name}:{value}"), 1)
        .into_bytes()
}

/// The INVITE with its From replaced and no Contact, as in the artifacts: the dialog's
/// remote target, the BYE's Request-URI, is then the From URI.
fn from_variant(value: &str) -> Vec<u8> {
    let invite = String::from_utf8(variant("From", value)).unwrap();
    invite
        .replace("Contact: <sip:a@192.0.2.10:5062>\r\n", "")
        .into_bytes()
}

/// Every F1 input: (what it is, the datagram). Each was accepted before the fix, a call
/// made and answered; all but the To variant then sent a BYE that did not parse.
fn f1_inputs() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("F1-min: From `@<TAB>et;`", F1_MIN.to_vec()),
        // F1-crash (RFC 4475 torture message with a TAB put into the From host)
        (
            "From with a TAB in its host",
            from_variant(" <sip:+13035551111@ift.client.example.n\tet;user=phone>;tag=1"),
        ),
        // F1-stream-crash: a `%` before the scheme
        (
            "From `%sip:...`",
            from_variant("%sip:caller@example.net;tag=141334"),
        ),
        ("From `@<TAB>et;`", from_variant("@\tet;tag=1")),
        // F1-min's To: no scheme. It becomes our BYE's From; rsipstack let that BYE by,
        // but the fix checks To as strictly as From.
        ("To `e`", variant("To", "e")),
        // F1-contact-port: the BYE's Request-URI would carry port 136222
        (
            "Contact with port 136222",
            variant("Contact", " <sip:a@192.0.2.10:136222>"),
        ),
        // F1-stream-port: a baresip INVITE whose Contact was mangled
        (
            "Contact `127.0..0:136222`",
            variant("Contact", " <sip:caller-0x5648bb6b44a0@127.0..0:136222>"),
        ),
        ("Contact `@<TAB>et`", variant("Contact", " <@\tet>")),
    ]
}

/// What the endpoint did with one datagram, driven as the runtime's owner would.
struct Outcome {
    /// Every message it sent, in order.
    sent: Vec<Vec<u8>>,
    /// Calls it reported as Incoming.
    calls: usize,
}

impl Outcome {
    fn statuses(&self) -> Vec<u16> {
        self.sent
            .iter()
            .filter_map(|b| std::str::from_utf8(b).ok()?.strip_prefix("SIP/2.0 "))
            .filter_map(|s| s.get(..3)?.parse().ok())
            .collect()
    }

    fn requests(&self) -> Vec<&[u8]> {
        self.sent
            .iter()
            .filter(|b| !b.starts_with(b"SIP/"))
            .map(Vec::as_slice)
            .collect()
    }
}

/// Feeds `bytes` to a fresh endpoint on a fake clock. Any call it creates is rung and
/// answered (answering its offer, or offering when it had none); then, with
/// `hang_up`, we hang up at once (BYE from `hangup`), else the ACK never comes and
/// the endpoint gives up on it (BYE after 64*T1). Finally all timers run out.
fn drive(bytes: &[u8], hang_up: bool) -> Outcome {
    let caller: SocketAddr = "192.0.2.10:5062".parse().unwrap();
    let mut ep = Endpoint::new(EndpointConfig::default());
    let mut now = Instant::now();
    let mut out = Outcome {
        sent: Vec::new(),
        calls: 0,
    };
    ep.handle_datagram(now, caller, bytes);
    let events: Vec<Event> = std::iter::from_fn(|| ep.poll_event()).collect();
    for ev in events {
        if let Event::Incoming { call, info } = ev {
            out.calls += 1;
            ep.ring(now, call);
            let offer = match info.offer {
                Some(Ok(offer)) => Some(offer),
                None => None,
                Some(Err(_)) => {
                    ep.reject(now, call, 488, &[]);
                    continue;
                }
            };
            let media = LocalMedia {
                ip: "192.0.2.1".parse().unwrap(),
                port: 40_000,
                session_id: 1,
                version: 1,
            };
            ep.answer(now, call, media, offer);
        }
    }
    out.sent
        .extend(std::iter::from_fn(|| ep.poll_transmit()).map(|t| t.bytes));
    if hang_up {
        for call in ep.live_calls() {
            ep.hangup(now, call, EndCause::MaxDuration);
        }
    }
    let end = now + Duration::from_secs(600);
    while let Some(t) = ep.poll_timeout().filter(|t| *t <= end) {
        now = t.max(now);
        ep.handle_timeout(now);
        out.sent
            .extend(std::iter::from_fn(|| ep.poll_transmit()).map(|t| t.bytes));
    }
    for call in ep.live_calls() {
        ep.hangup(now, call, EndCause::MaxDuration);
    }
    out.sent
        .extend(std::iter::from_fn(|| ep.poll_transmit()).map(|t| t.bytes));
    while std::iter::from_fn(|| ep.poll_event()).next().is_some() {}
    out
}

/// Every request we sent (the BYEs) parses.
fn assert_requests_parse(what: &str, out: &Outcome) {
    for req in out.requests() {
        if let Err(e) = parse(req) {
            panic!(
                "{what}: our request does not parse ({e}): {}",
                req.escape_ascii()
            );
        }
    }
}

/// The control: the template INVITE is a call, and both ways of ending it send a BYE
/// that parses and targets the Contact. Without this, the F1 tests below could pass
/// because no BYE is ever sent.
#[test]
fn f1_control_well_formed_invite_is_answered_and_its_bye_parses() {
    for hang_up in [true, false] {
        let out = drive(INVITE.as_bytes(), hang_up);
        assert_eq!(out.calls, 1, "hang_up={hang_up}");
        assert!(out.statuses().contains(&200), "{:?}", out.statuses());
        let byes: Vec<_> = out
            .requests()
            .into_iter()
            .filter(|r| r.starts_with(b"BYE "))
            .collect();
        assert!(!byes.is_empty(), "no BYE sent (hang_up={hang_up})");
        for bye in byes {
            match parse(bye) {
                Ok(Message::Request(r)) => {
                    assert_eq!(r.method.to_string(), "BYE");
                    assert!(bye.starts_with(b"BYE sip:a@192.0.2.10:5062 SIP/2.0\r\n"));
                }
                other => panic!("our BYE: {other:?}: {}", bye.escape_ascii()),
            }
        }
    }
}

#[test]
fn f1_invite_with_non_uri_from_to_or_contact_gets_400_and_no_call() {
    for (what, bytes) in f1_inputs() {
        for hang_up in [true, false] {
            let out = drive(&bytes, hang_up);
            // The symptom first: whatever we send, our requests (BYE) parse.
            assert_requests_parse(what, &out);
            assert_eq!(out.calls, 0, "{what}: a call was created");
            assert_eq!(out.statuses(), [400], "{what}");
            assert!(out.requests().is_empty(), "{what}: we sent a request");
        }
        assert!(parse(&bytes).is_err(), "{what}: still parses");
    }
}

// ---------------------------------------------------------------------------------
// F2: m-lines counted as the SDP parser splits lines (on a bare CR too)

/// fuzz/artifacts/sdp_offer/F2-video-dropped: a video m-line before the audio, whose
/// last attribute ends in a bare CR (`\r\r` then `m=audio`). Before the fix the answer
/// put our audio first and dropped the declined video.
const F2_VIDEO: &[u8] =
    b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
m=video 5000 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\rm=audio 4000 RTP/AVP 0\r\n";

/// fuzz/artifacts/sdp_offer/F2-min: the minimised first crash (LF line ends, then a bare
/// CR before the only m-line).
const F2_MIN: &[u8] = b"o=- 7 1 IN IP4 \ns=\nt=0 3\rm=audio1P 0";

/// The m= lines of an SDP, split as the SDP parser splits them.
fn m_lines(sdp: &[u8]) -> Vec<String> {
    std::str::from_utf8(sdp)
        .unwrap()
        .split(['\r', '\n'])
        .filter(|l| l.starts_with("m="))
        .map(str::to_string)
        .collect()
}

#[test]
fn f2_bare_cr_offer_keeps_the_declined_video_m_line_in_place() {
    let offer = parse_offer(F2_VIDEO).expect("the offer parses");
    assert_eq!(offer.codec, Codec::Pcmu);
    assert_eq!(offer.remote, Some("192.0.2.1:4000".parse().unwrap()));
    assert_eq!(
        offer.m_lines,
        [Some("video 0 RTP/AVP 96".to_string()), None],
        "the video declined first, our audio second"
    );
    for bump in [false, true] {
        let mut local = LocalMedia {
            ip: "203.0.113.5".parse().unwrap(),
            port: 40_000,
            session_id: 42,
            version: 1,
        };
        let answer = local.answer(&offer, bump);
        let lines = m_lines(&answer);
        assert_eq!(lines.len(), 2, "{}", answer.escape_ascii());
        assert_eq!(lines[0], "m=video 0 RTP/AVP 96");
        assert!(lines[1].starts_with("m=audio 40000 RTP/AVP 0"), "{lines:?}");
        // and it says the same when read back
        let back = parse_offer(&answer).expect("our answer parses");
        assert_eq!(back.m_lines, offer.m_lines);
        assert_eq!(back.codec, offer.codec);
        assert_eq!(back.remote, Some("203.0.113.5:40000".parse().unwrap()));
    }
}

#[test]
fn f2_minimised_offer_answers_with_as_many_m_lines() {
    // Accepted or not, it must be consistent: when accepted, the answer has as many
    // m-lines as the offer and ours where the offer's audio was.
    if let Ok(offer) = parse_offer(F2_MIN) {
        let answer = LocalMedia {
            ip: "203.0.113.5".parse().unwrap(),
            port: 40_000,
            session_id: 42,
            version: 1,
        }
        .answer(&offer, false);
        let back = parse_offer(&answer).expect("our answer parses");
        assert_eq!(back.m_lines.len(), offer.m_lines.len());
        assert_eq!(
            back.m_lines.iter().position(Option::is_none),
            offer.m_lines.iter().position(Option::is_none)
        );
    }
}

// ---------------------------------------------------------------------------------
// F3: `a=crypto` key lifetimes `|2^N`, N >= 32

/// fuzz/artifacts/sdp_offer/F3-min: the minimised crash.
const F3_MIN: &[u8] = b"a=crypto:1 0 inline:w|2^32";

/// fuzz/artifacts/sip_datagram/F3-via-invite's SDP: a plain offer with that line.
const F3_OFFER: &[u8] = b"v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\n\
t=0 0\r\nm=audio 30000 RTP/AVP 0\r\na=crypto:1 0 inline:w|2^32\r\n";

#[test]
fn f3_crypto_key_lifetime_does_not_panic() {
    // Returning at all (Ok or Err) is the test: the old code panicked in debug builds.
    let _ = parse_offer(F3_MIN);
    for n in [
        "31",
        "32",
        "33",
        "63",
        "64",
        "255",
        "4294967295",
        "99999999999",
    ] {
        let line = format!("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmczkpPywjNWhcYD0mXXtxaVBR|2^{n}|1:4");
        let _ = parse_offer(line.as_bytes());
        // in an offer, in the session part, the media part, and after a bare CR
        for (at, end) in [(4, "\r\n"), (6, "\r\n"), (6, "\r")] {
            let mut lines: Vec<&str> = std::str::from_utf8(F3_OFFER)
                .unwrap()
                .split_terminator("\r\n")
                .filter(|l| !l.starts_with("a=crypto"))
                .collect();
            lines.insert(at, &line);
            let sdp = lines.join(end) + end;
            let offer = parse_offer(sdp.as_bytes())
                .unwrap_or_else(|e| panic!("{e}: {}", sdp.as_bytes().escape_ascii()));
            assert_eq!(offer.codec, Codec::Pcmu);
        }
    }
}

#[test]
fn f3_offer_with_crypto_line_is_answered() {
    let offer = parse_offer(F3_OFFER).expect("the crypto line is ignored");
    assert_eq!(offer.codec, Codec::Pcmu);
    assert_eq!(offer.remote, Some("192.0.2.10:30000".parse().unwrap()));
    assert_eq!(offer.m_lines, [None]);
}

#[test]
fn f3_invite_with_crypto_line_gets_a_call_and_200() {
    let body = std::str::from_utf8(F3_OFFER).unwrap();
    let invite = INVITE.replace(
        "Content-Length: 0\r\n\r\n",
        &format!(
            "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    );
    let out = drive(invite.as_bytes(), true);
    assert_eq!(out.calls, 1);
    assert!(out.statuses().contains(&200), "{:?}", out.statuses());
    assert_requests_parse("F3 INVITE", &out);
}
