//! The SIP endpoint driven on a fake clock: whole call flows with no sockets.

use hotline::core::sdp::{parse_offer, LocalMedia};
use hotline::core::sip::endpoint::{
    CallRef, EndCause, EndedBy, Endpoint, EndpointConfig, Event, Link, Peer,
};
use hotline::core::sip::message::{frame_stream, parse, Message, StreamFrame};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const SDP: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 17000 RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n";

struct Harness {
    ep: Endpoint,
    now: Instant,
    caller: SocketAddr,
}

/// A request from the test caller, with a given branch, CSeq and optional To tag.
fn request(
    method: &str,
    branch: &str,
    cseq: u32,
    to_tag: Option<&str>,
    extra: &str,
    body: &str,
) -> Vec<u8> {
    let to_tag = to_tag.map(|t| format!(";tag={t}")).unwrap_or_default();
    let ctype = if body.is_empty() {
        String::new()
    } else {
        "Content-Type: application/sdp\r\n".to_string()
    };
    format!(
        "{method} sip:95555@127.0.0.1:5060 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:5070;branch={branch};rport\r\n\
         Max-Forwards: 70\r\n\
         From: \"Caller\" <sip:13800138000@127.0.0.1:5070>;tag=caller1\r\n\
         To: <sip:95555@127.0.0.1:5060>{to_tag}\r\n\
         Call-ID: call-1@test\r\n\
         CSeq: {cseq} {method}\r\n\
         Contact: <sip:13800138000@127.0.0.1:5070>\r\n\
         {extra}{ctype}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[derive(Debug)]
struct Sent {
    status: Option<u16>,
    method: Option<String>,
    text: String,
}

impl Harness {
    fn new() -> Self {
        Harness {
            ep: Endpoint::new(EndpointConfig::default()),
            now: Instant::now(),
            caller: "127.0.0.1:5070".parse().unwrap(),
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.ep.handle_datagram(self.now, self.caller, bytes);
    }

    fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        while let Some(t) = self.ep.poll_timeout().filter(|t| *t <= end) {
            self.now = t.max(self.now);
            self.ep.handle_timeout(self.now);
        }
        self.now = end;
    }

    fn sent(&mut self) -> Vec<Sent> {
        let mut v = Vec::new();
        while let Some(t) = self.ep.poll_transmit() {
            assert_eq!(
                t.peer.addr, self.caller,
                "answers go back where requests came from"
            );
            let text = String::from_utf8(t.bytes.clone()).unwrap();
            match parse(&t.bytes) {
                Ok(Message::Response(r)) => v.push(Sent {
                    status: Some(r.status),
                    method: None,
                    text,
                }),
                Ok(Message::Request(r)) => v.push(Sent {
                    status: None,
                    method: Some(r.method.to_string()),
                    text,
                }),
                // A 400 copies the malformed headers it complains about; read its status line.
                Err(_) if text.starts_with("SIP/2.0 400 ") => v.push(Sent {
                    status: Some(400),
                    method: None,
                    text,
                }),
                Err(e) => panic!("our own output does not parse: {e}\n{text}"),
            }
        }
        v
    }

    fn statuses(&mut self) -> Vec<u16> {
        self.sent().iter().filter_map(|s| s.status).collect()
    }

    fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.ep.poll_event()).collect()
    }

    /// INVITE, then the incoming call's handle.
    fn invite(&mut self) -> CallRef {
        self.send(&request("INVITE", "z9hG4bKinv1", 1, None, "", SDP));
        match self.events().as_slice() {
            [Event::Incoming { call, info }] => {
                assert_eq!(info.caller, "13800138000");
                assert_eq!(info.called, "95555");
                assert_eq!(info.peer.link, Link::Udp);
                *call
            }
            other => panic!("expected one Incoming, got {other:?}"),
        }
    }

    fn answer(&mut self, call: CallRef) -> String {
        let offer = parse_offer(SDP.as_bytes()).unwrap();
        let media = LocalMedia {
            ip: "127.0.0.1".parse().unwrap(),
            port: 10000,
            session_id: 1,
            version: 1,
        };
        self.ep.answer(self.now, call, media, Some(offer));
        let sent = self.sent();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].status, Some(200));
        let text = &sent[0].text;
        let to = text.lines().find(|l| l.starts_with("To:")).unwrap();
        to.split(";tag=").nth(1).unwrap().trim().to_string()
    }
}

#[test]
fn answered_call_ends_with_caller_bye() {
    let mut h = Harness::new();
    let call = h.invite();
    assert_eq!(h.statuses(), vec![100], "100 Trying at once");
    h.ep.ring(h.now, call);
    let ringing = h.sent();
    assert_eq!(ringing[0].status, Some(180));
    let tag = h.answer(call);
    // the 200 carries our SDP answer in the caller's first codec (PCMA)
    // retransmitted on T1 until the ACK
    h.advance(Duration::from_millis(600));
    assert_eq!(h.statuses(), vec![200]);
    h.send(&request("ACK", "z9hG4bKack1", 1, Some(&tag), "", ""));
    assert!(matches!(h.events().as_slice(), [Event::Confirmed { .. }]));
    h.advance(Duration::from_secs(10));
    assert!(h.sent().is_empty(), "no retransmission after the ACK");
    h.send(&request("BYE", "z9hG4bKbye1", 2, Some(&tag), "", ""));
    assert_eq!(h.statuses(), vec![200]);
    match h.events().as_slice() {
        [Event::Ended {
            by: EndedBy::Caller,
            cause: EndCause::CallerBye,
            ..
        }] => {}
        other => panic!("{other:?}"),
    }
    // a retransmitted BYE is absorbed by its transaction (Timer J) and answered again
    h.advance(Duration::from_secs(1));
    h.send(&request("BYE", "z9hG4bKbye1", 2, Some(&tag), "", ""));
    assert_eq!(h.statuses(), vec![200]);
    assert!(h.events().is_empty(), "one end per call");
    // after Timer J the same BYE no longer matches a dialog
    h.advance(Duration::from_secs(40));
    h.send(&request("BYE", "z9hG4bKbye1", 2, Some(&tag), "", ""));
    assert_eq!(h.statuses(), vec![481]);
}

#[test]
fn answer_uses_the_callers_codec_order() {
    let mut h = Harness::new();
    let call = h.invite();
    h.sent();
    let offer = parse_offer(SDP.as_bytes()).unwrap();
    let media = LocalMedia {
        ip: "127.0.0.1".parse().unwrap(),
        port: 10002,
        session_id: 9,
        version: 1,
    };
    h.ep.answer(h.now, call, media, Some(offer));
    let text = &h.sent()[0].text;
    assert!(text.contains("m=audio 10002 RTP/AVP 8 101\r\n"), "{text}");
    assert!(text.contains("a=rtpmap:8 PCMA/8000"));
    assert!(text.contains("Content-Type: application/sdp"));
    assert!(text.contains("Contact: <sip:hotline@127.0.0.1:5060>"));
}

#[test]
fn lost_ack_ends_the_call_with_bye_after_64_t1() {
    let mut h = Harness::new();
    let call = h.invite();
    h.sent();
    let _tag = h.answer(call);
    h.advance(Duration::from_millis(31_999));
    let sent = h.sent();
    assert!(
        sent.iter().all(|s| s.status == Some(200)),
        "only 200 retransmissions so far"
    );
    assert!(h.events().is_empty());
    h.advance(Duration::from_millis(1));
    let sent = h.sent();
    let bye = sent
        .iter()
        .find(|s| s.method.as_deref() == Some("BYE"))
        .expect("BYE at 64*T1");
    assert!(bye
        .text
        .starts_with("BYE sip:13800138000@127.0.0.1:5070 SIP/2.0"));
    assert!(bye.text.contains("From: <sip:95555@127.0.0.1:5060>;tag="));
    assert!(bye
        .text
        .contains("To: \"Caller\" <sip:13800138000@127.0.0.1:5070>;tag=caller1"));
    match h.events().as_slice() {
        [Event::Ended {
            call: c,
            by: EndedBy::Hotline,
            cause: EndCause::AckTimeout,
            ..
        }] => assert_eq!(*c, call),
        other => panic!("{other:?}"),
    }
    // the BYE is retransmitted (Timer E) until answered
    h.advance(Duration::from_millis(600));
    assert!(h.sent().iter().any(|s| s.method.as_deref() == Some("BYE")));
    let branch = bye
        .text
        .split("branch=")
        .nth(1)
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .trim()
        .to_string();
    let cseq = bye
        .text
        .lines()
        .find(|l| l.starts_with("CSeq:"))
        .unwrap()
        .to_string();
    let resp = format!(
        "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch={branch}\r\nFrom: <sip:95555@127.0.0.1:5060>;tag=x\r\nTo: <sip:1@h>;tag=caller1\r\nCall-ID: call-1@test\r\n{cseq}\r\nContent-Length: 0\r\n\r\n"
    );
    h.send(resp.as_bytes());
    assert_eq!(h.ep.pending_transactions(), 1, "lingers for Timer K");
    h.advance(Duration::from_secs(6));
    assert_eq!(h.ep.pending_transactions(), 0);
    assert!(h.sent().is_empty());
}

#[test]
fn cancel_before_answer_gets_487() {
    let mut h = Harness::new();
    let call = h.invite();
    h.ep.ring(h.now, call);
    h.sent();
    h.send(&request("CANCEL", "z9hG4bKinv1", 1, None, "", ""));
    let sent = h.sent();
    assert_eq!(
        sent.iter().filter_map(|s| s.status).collect::<Vec<_>>(),
        vec![200, 487]
    );
    assert!(sent[0].text.contains("CSeq: 1 CANCEL"));
    assert!(sent[1].text.contains("CSeq: 1 INVITE"));
    match h.events().as_slice() {
        [Event::Ended {
            cause: EndCause::CallerCancel,
            status: Some(487),
            ..
        }] => {}
        other => panic!("{other:?}"),
    }
    // answering now changes nothing
    let offer = parse_offer(SDP.as_bytes()).unwrap();
    let media = LocalMedia {
        ip: "127.0.0.1".parse().unwrap(),
        port: 10000,
        session_id: 1,
        version: 1,
    };
    h.ep.answer(h.now, call, media, Some(offer));
    assert!(h.sent().is_empty());
    // the 487 is retransmitted until its ACK (same branch), then stops
    h.advance(Duration::from_millis(500));
    assert_eq!(h.statuses(), vec![487]);
    h.send(&request("ACK", "z9hG4bKinv1", 1, Some("x"), "", ""));
    h.advance(Duration::from_secs(10));
    assert!(h.sent().is_empty());
}

#[test]
fn cancel_after_answer_changes_nothing() {
    let mut h = Harness::new();
    let call = h.invite();
    h.sent();
    let tag = h.answer(call);
    h.send(&request("CANCEL", "z9hG4bKinv1", 1, None, "", ""));
    assert_eq!(h.statuses(), vec![200], "200 to the CANCEL, no 487");
    assert!(h.events().is_empty(), "the call goes on");
    h.send(&request("ACK", "z9hG4bKack1", 1, Some(&tag), "", ""));
    assert!(matches!(h.events().as_slice(), [Event::Confirmed { .. }]));
    assert_eq!(h.ep.live_calls(), vec![call]);
}

#[test]
fn cancel_for_no_invite_gets_481() {
    let mut h = Harness::new();
    h.send(&request("CANCEL", "z9hG4bKnothing", 1, None, "", ""));
    assert_eq!(h.statuses(), vec![481]);
}

#[test]
fn hangup_sends_bye_and_reports_the_cause() {
    let mut h = Harness::new();
    let call = h.invite();
    h.sent();
    let tag = h.answer(call);
    h.send(&request("ACK", "z9hG4bKack1", 1, Some(&tag), "", ""));
    h.events();
    h.ep.hangup(h.now, call, EndCause::MaxDuration);
    let sent = h.sent();
    assert_eq!(sent[0].method.as_deref(), Some("BYE"));
    assert!(sent[0].text.contains("CSeq: 1 BYE"));
    assert!(matches!(
        h.events().as_slice(),
        [Event::Ended {
            cause: EndCause::MaxDuration,
            by: EndedBy::Hotline,
            ..
        }]
    ));
    // nobody answers the BYE: Timer F ends the transaction
    h.advance(Duration::from_secs(33));
    assert_eq!(h.ep.pending_transactions(), 0);
}

#[test]
fn hangup_before_answer_refuses_the_call() {
    let mut h = Harness::new();
    let call = h.invite();
    h.sent();
    h.ep.hangup(h.now, call, EndCause::Shutdown);
    assert_eq!(h.statuses(), vec![503]);
    assert!(matches!(
        h.events().as_slice(),
        [Event::Ended {
            status: Some(503),
            ..
        }]
    ));
}

#[test]
fn reinvite_hold_is_answered_recvonly() {
    let mut h = Harness::new();
    let call = h.invite();
    h.sent();
    let tag = h.answer(call);
    h.send(&request("ACK", "z9hG4bKack1", 1, Some(&tag), "", ""));
    h.events();
    let hold = SDP.replace("a=sendrecv", "a=sendonly");
    h.send(&request("INVITE", "z9hG4bKreinv", 2, Some(&tag), "", &hold));
    let sent = h.sent();
    assert_eq!(
        sent.iter().filter_map(|s| s.status).collect::<Vec<_>>(),
        vec![200]
    );
    assert!(sent[0].text.contains("a=recvonly"), "{}", sent[0].text);
    assert!(
        sent[0].text.contains("o=hotline 1 2 IN IP4"),
        "version bumped: {}",
        sent[0].text
    );
    assert!(matches!(
        h.events().as_slice(),
        [Event::MediaChanged { .. }]
    ));
    h.send(&request("ACK", "z9hG4bKack2", 2, Some(&tag), "", ""));
    h.advance(Duration::from_secs(2));
    assert!(h.sent().is_empty(), "the re-INVITE's 200 was acknowledged");
    // an older CSeq inside the dialog is out of order
    h.send(&request("INFO", "z9hG4bKinfo", 1, Some(&tag), "", ""));
    assert_eq!(h.statuses(), vec![500]);
}

#[test]
fn requests_outside_any_dialog_get_481() {
    let mut h = Harness::new();
    h.send(&request("BYE", "z9hG4bKb", 2, Some("nosuchtag"), "", ""));
    h.send(&request("INFO", "z9hG4bKi", 2, Some("nosuchtag"), "", ""));
    assert_eq!(h.statuses(), vec![481, 481]);
}

#[test]
fn options_lists_capabilities() {
    let mut h = Harness::new();
    h.send(&request("OPTIONS", "z9hG4bKo", 1, None, "", ""));
    let sent = h.sent();
    assert_eq!(sent[0].status, Some(200));
    for header in [
        "Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, INFO",
        "Accept: application/sdp",
        "Supported:",
    ] {
        assert!(sent[0].text.contains(header), "missing {header}");
    }
    assert!(
        sent[0].text.contains("received=127.0.0.1"),
        "rport/received stamped"
    );
    assert!(sent[0].text.contains("rport=5070"));
}

#[test]
fn refusals_before_any_logic() {
    let mut h = Harness::new();
    h.send(&request(
        "INVITE",
        "z9hG4bK1",
        1,
        None,
        "Require: 100rel, foo\r\n",
        SDP,
    ));
    let sent = h.sent();
    assert_eq!(sent[0].status, Some(420));
    assert!(sent[0].text.contains("Unsupported: 100rel, foo"));
    let zero = String::from_utf8(request("INVITE", "z9hG4bK2", 1, None, "", ""))
        .unwrap()
        .replace("Max-Forwards: 70", "Max-Forwards: 0");
    h.send(zero.as_bytes());
    assert_eq!(h.statuses(), vec![483]);
    let mut text = String::from_utf8(request("INVITE", "z9hG4bK3", 1, None, "", SDP)).unwrap();
    text = text.replace("application/sdp", "text/plain");
    h.send(text.as_bytes());
    let sent = h.sent();
    assert_eq!(sent[0].status, Some(415));
    assert!(sent[0].text.contains("Accept: application/sdp"));
    let text = String::from_utf8(request("OPTIONS", "z9hG4bK4", 1, None, "", ""))
        .unwrap()
        .replace("OPTIONS", "FROB");
    h.send(text.as_bytes());
    let sent = h.sent();
    assert_eq!(sent[0].status, Some(501));
    assert!(sent[0].text.contains("Allow: INVITE"));
    assert!(h.events().is_empty(), "none of these became a call");
    // REGISTER goes to the registrar (the owner), unanswered here.
    h.send(&request("REGISTER", "z9hG4bK5", 1, None, "", ""));
    assert!(h.statuses().is_empty());
    assert!(matches!(h.events().as_slice(), [Event::Request { .. }]));
}

#[test]
fn draining_refuses_new_calls_and_pings_with_retry_after() {
    let mut h = Harness::new();
    h.ep.set_draining(true);
    h.send(&request("INVITE", "z9hG4bK1", 1, None, "", SDP));
    let sent = h.sent();
    assert_eq!(sent[0].status, Some(503));
    assert!(sent[0].text.contains("Retry-After: 30"));
    // A proxy's ping is answered the same way, so it sends the next calls elsewhere.
    h.send(&request("OPTIONS", "z9hG4bK2", 1, None, "", ""));
    assert_eq!(h.statuses(), vec![503]);
    assert!(h.events().is_empty());
}

#[test]
fn malformed_requests_get_400_and_garbage_is_dropped() {
    let mut h = Harness::new();
    let text = String::from_utf8(request("OPTIONS", "z9hG4bK1", 1, None, "", ""))
        .unwrap()
        .replace("CSeq: 1 OPTIONS", "CSeq: 99999999999 OPTIONS");
    h.send(text.as_bytes());
    assert_eq!(h.statuses(), vec![400]);
    let text = String::from_utf8(request("OPTIONS", "z9hG4bK2", 1, None, "", ""))
        .unwrap()
        .replace("Content-Length: 0", "Content-Length: 50");
    h.send(text.as_bytes());
    assert_eq!(
        h.statuses(),
        vec![400],
        "body shorter than Content-Length over UDP"
    );
    h.send(b"\x00\x01garbage\r\n\r\n");
    h.send(b"");
    assert!(h.sent().is_empty());
}

#[test]
fn tcp_peers_are_answered_on_their_connection_without_retransmission() {
    let mut h = Harness::new();
    let peer = Peer {
        link: Link::Tcp(7),
        addr: h.caller,
    };
    let bytes = request("INVITE", "z9hG4bKt", 1, None, "", SDP);
    h.ep.handle_message(h.now, peer, &bytes);
    let call = match h.events().as_slice() {
        [Event::Incoming { call, .. }] => *call,
        other => panic!("{other:?}"),
    };
    let offer = parse_offer(SDP.as_bytes()).unwrap();
    let media = LocalMedia {
        ip: "127.0.0.1".parse().unwrap(),
        port: 10000,
        session_id: 1,
        version: 1,
    };
    h.ep.answer(h.now, call, media, Some(offer));
    let mut n = 0;
    while let Some(t) = h.ep.poll_transmit() {
        assert_eq!(t.peer, peer);
        n += 1;
    }
    assert_eq!(n, 2, "100 and 200");
    h.advance(Duration::from_secs(5));
    assert!(h.ep.poll_transmit().is_none(), "TCP: no 2xx retransmission");
}

#[test]
fn stream_framing_tolerates_keepalives_and_splits() {
    let msg = request("OPTIONS", "z9hG4bK1", 1, None, "", "");
    let mut stream = b"\r\n\r\n".to_vec();
    stream.extend_from_slice(&msg);
    stream.extend_from_slice(&msg);
    assert_eq!(
        frame_stream(&stream[..3], 65535),
        Ok(StreamFrame::KeepAlive(3))
    );
    assert_eq!(
        frame_stream(&stream[..30], 65535),
        Ok(StreamFrame::Incomplete)
    );
    assert_eq!(
        frame_stream(&stream, 65535),
        Ok(StreamFrame::Message {
            start: 4,
            len: msg.len()
        })
    );
    assert!(frame_stream(&stream, 100).is_err(), "over the maximum size");
    let neg = String::from_utf8(msg)
        .unwrap()
        .replace("Content-Length: 0", "Content-Length: -5");
    assert!(frame_stream(neg.as_bytes(), 65535).is_err());
}

#[test]
fn invite_without_sdp_gets_our_offer_and_the_ack_answers() {
    let mut h = Harness::new();
    h.send(&request("INVITE", "z9hG4bKnosdp", 1, None, "", ""));
    let call = match h.events().as_slice() {
        [Event::Incoming { call, info }] => {
            assert!(info.offer.is_none());
            *call
        }
        other => panic!("{other:?}"),
    };
    h.sent();
    let media = LocalMedia {
        ip: "127.0.0.1".parse().unwrap(),
        port: 10004,
        session_id: 3,
        version: 1,
    };
    h.ep.answer(h.now, call, media, None);
    let sent = h.sent();
    let ok = &sent[0].text;
    assert!(
        ok.contains("m=audio 10004 RTP/AVP 0 8 101\r\n"),
        "an offer of both codecs: {ok}"
    );
    let tag = ok
        .lines()
        .find(|l| l.starts_with("To:"))
        .unwrap()
        .split(";tag=")
        .nth(1)
        .unwrap()
        .trim()
        .to_string();
    let answer = SDP.replace("RTP/AVP 8 0 101", "RTP/AVP 8 101");
    h.send(&request(
        "ACK",
        "z9hG4bKnosdpack",
        1,
        Some(&tag),
        "",
        &answer,
    ));
    match h.events().as_slice() {
        [Event::Confirmed {
            answer: Some(a), ..
        }] => {
            assert_eq!(a.codec, hotline::core::sdp::Codec::Pcma);
            assert_eq!(a.remote, Some("127.0.0.1:17000".parse().unwrap()));
        }
        other => panic!("{other:?}"),
    }
}
