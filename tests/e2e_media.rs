//! End-to-end media: what a caller hears (paced, continuous RTP carrying the greeting),
//! digits three ways (RFC 4733, SIP INFO, in-band tones), and lost media ending a call.

mod common;

use common::{Phone, Server};
use hotline::core::media::dtmf::Digit;
use hotline::core::media::g711::{linear_to_ulaw, ulaw_to_linear};
use std::net::UdpSocket;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(10);

fn prompts_dir() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/prompts").to_string()
}

fn media_socket(phone: &Phone) -> UdpSocket {
    let s = phone.media_socket();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    s
}

struct Rtp {
    marker: bool,
    pt: u8,
    seq: u16,
    ts: u32,
    ssrc: u32,
    payload: Vec<u8>,
}

fn read_rtp(b: &[u8]) -> Rtp {
    Rtp {
        marker: b[1] & 0x80 != 0,
        pt: b[1] & 0x7f,
        seq: u16::from_be_bytes([b[2], b[3]]),
        ts: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
        ssrc: u32::from_be_bytes([b[8], b[9], b[10], b[11]]),
        payload: b[12..].to_vec(),
    }
}

fn rtp_packet(pt: u8, seq: u16, ts: u32, marker: bool, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, pt | if marker { 0x80 } else { 0 }];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&0x1234_5678u32.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

#[test]
fn caller_hears_the_greeting_as_paced_continuous_rtp() {
    let server = Server::start(&["--ring-delay-ms", "0", "--prompts", &prompts_dir()]);
    let phone = Phone::new(&server.addr());
    let media = media_socket(&phone);
    phone.call("hear-1", &phone.sdp());
    let mut buf = [0u8; 2048];
    let mut packets = Vec::new();
    let start = Instant::now();
    while packets.len() < 50 {
        let (n, _) = media.recv_from(&mut buf).expect("RTP within 3 s");
        packets.push(read_rtp(&buf[..n]));
    }
    let span = start.elapsed();
    assert!(packets[0].marker, "the first packet starts a talkspurt");
    for w in packets.windows(2) {
        assert_eq!(w[1].seq, w[0].seq.wrapping_add(1), "sequence continuous");
        assert_eq!(
            w[1].ts,
            w[0].ts.wrapping_add(160),
            "20 ms of samples per packet"
        );
        assert_eq!(w[1].ssrc, w[0].ssrc);
        assert_eq!(w[1].pt, 0, "PCMU, as offered");
        assert_eq!(w[1].payload.len(), 160);
    }
    // 50 packets are one second of audio; paced, they cannot arrive in a burst.
    assert!(
        span >= Duration::from_millis(900),
        "50 packets in {span:?}: not paced"
    );
    let loud = packets
        .iter()
        .flat_map(|p| p.payload.iter())
        .filter(|&&b| ulaw_to_linear(b).unsigned_abs() > 500)
        .count();
    assert!(
        loud > 1000,
        "the greeting is speech, not silence ({loud} loud samples)"
    );
}

#[test]
fn digits_by_rfc4733_and_sip_info_become_call_events() {
    let mut server = Server::start(&["--ring-delay-ms", "0"]);
    let phone = Phone::new(&server.addr());
    let media = media_socket(&phone);
    let tag = phone.call("dtmf-1", &phone.sdp());
    let mut buf = [0u8; 2048];
    let (_, hotline_media) = media.recv_from(&mut buf).expect("RTP from hotline");
    // "7" as RFC 4733: a start packet lost, two updates, three redundant end packets
    let ts = 16_000;
    for (i, (end, dur)) in [
        (false, 320u16),
        (false, 480),
        (true, 640),
        (true, 640),
        (true, 640),
    ]
    .iter()
    .enumerate()
    {
        let mut ev = vec![7u8, if *end { 0x80 | 10 } else { 10 }];
        ev.extend_from_slice(&dur.to_be_bytes());
        media
            .send_to(
                &rtp_packet(101, 100 + i as u16, ts, false, &ev),
                hotline_media,
            )
            .unwrap();
    }
    // "5" and "#" by SIP INFO, both body types
    let info = |cseq: u32, ctype: &str, body: &str| {
        let req = phone
            .request(
                "INFO",
                "dtmf-1",
                cseq,
                &format!("z9hG4bKinfo{cseq}"),
                Some(&tag),
                "",
            )
            .replace(
                "Content-Length: 0\r\n\r\n",
                &format!(
                    "Content-Type: {ctype}\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                ),
            );
        phone.send(&req);
        phone
            .wait_for(WAIT, |r| r.status() == Some(200) && r.text.contains("INFO"))
            .expect("200 to INFO");
    };
    std::thread::sleep(Duration::from_millis(200));
    info(2, "application/dtmf-relay", "Signal=5\r\nDuration=160\r\n");
    info(3, "application/dtmf", "#");
    std::thread::sleep(Duration::from_millis(200));
    phone.send(&phone.request("BYE", "dtmf-1", 4, "z9hG4bKbye", Some(&tag), ""));
    phone
        .wait_for(WAIT, |r| r.status() == Some(200) && r.text.contains("BYE"))
        .expect("200 to BYE");
    assert!(server.stop().success());
    let digits: Vec<String> = server
        .events()
        .into_iter()
        .filter(|(_, kind, _)| kind == "dtmf")
        .map(|(_, _, d)| d)
        .collect();
    assert_eq!(digits, vec!["7", "5", "#"], "one event per press, in order");
    assert!(
        !server.log().contains("Signal=5"),
        "digits stay out of the log"
    );
}

/// A DTMF tone pair for `ms` milliseconds, as µ-law.
fn tone(d: Digit, ms: usize) -> Vec<u8> {
    let (lo, hi) = d.frequencies();
    (0..ms * 8)
        .map(|i| {
            let t = i as f64 / 8000.0;
            let x = (2.0 * std::f64::consts::PI * f64::from(lo) * t).sin()
                + (2.0 * std::f64::consts::PI * f64::from(hi) * t).sin();
            linear_to_ulaw((x * 6000.0) as i16)
        })
        .collect()
}

#[test]
fn inband_tones_are_heard_when_no_telephone_event_was_offered() {
    let mut server = Server::start(&["--ring-delay-ms", "0"]);
    let phone = Phone::new(&server.addr());
    let media = media_socket(&phone);
    let tag = phone.call("inband-1", &phone.sdp_without_telephone_event());
    let mut buf = [0u8; 2048];
    let (_, hotline_media) = media.recv_from(&mut buf).expect("RTP from hotline");
    // 2 then 9: 100 ms tone, 100 ms silence each, sent as 20 ms packets in real time
    let mut audio = Vec::new();
    for d in [
        Digit::from_char('2').unwrap(),
        Digit::from_char('9').unwrap(),
    ] {
        audio.extend(tone(d, 100));
        audio.extend(std::iter::repeat_n(0xFFu8, 800));
    }
    for (i, frame) in audio.chunks(160).enumerate() {
        media
            .send_to(
                &rtp_packet(0, i as u16, i as u32 * 160, i == 0, frame),
                hotline_media,
            )
            .unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    phone.send(&phone.request("BYE", "inband-1", 2, "z9hG4bKbye", Some(&tag), ""));
    phone
        .wait_for(WAIT, |r| r.status() == Some(200) && r.text.contains("BYE"))
        .expect("200 to BYE");
    assert!(server.stop().success());
    let digits: Vec<String> = server
        .events()
        .into_iter()
        .filter(|(_, kind, _)| kind == "dtmf")
        .map(|(_, _, d)| d)
        .collect();
    assert_eq!(digits, vec!["2", "9"]);
}

#[test]
fn a_caller_who_sends_no_rtp_is_hung_up() {
    let mut server = Server::start(&["--ring-delay-ms", "0", "--rtp-timeout-secs", "1"]);
    let phone = Phone::new(&server.addr());
    let _media = media_socket(&phone);
    phone.call("silent-1", &phone.sdp());
    let bye = phone
        .wait_for(WAIT, |r| r.method() == Some("BYE"))
        .expect("BYE for lost media");
    phone.ok(&bye);
    assert!(server.stop().success());
    let calls = server.calls();
    assert_eq!(calls[0].end_cause.as_deref(), Some("no_media"));
    assert_eq!(calls[0].ended_by.as_deref(), Some("hotline"));
    assert!(server.events().iter().any(|(_, k, _)| k == "no_media"));
}

#[test]
fn recording_is_a_stereo_wav_playable_while_the_call_goes_on() {
    let dir = common::TempDir::new("rec");
    let rec_dir = dir.0.clone();
    let rec = rec_dir.display().to_string();
    let mut server = Server::start(&[
        "--ring-delay-ms",
        "0",
        "--prompts",
        &prompts_dir(),
        "--record-dir",
        &rec,
    ]);
    let phone = Phone::new(&server.addr());
    let media = media_socket(&phone);
    let tag = phone.call("rec-1", &phone.sdp());
    let mut buf = [0u8; 2048];
    let (_, hotline_media) = media.recv_from(&mut buf).expect("RTP from hotline");
    // the caller speaks (a 1 kHz tone) for 3 s, in real time
    let tone: Vec<u8> = (0..160)
        .map(|i| {
            linear_to_ulaw(((i as f64 * 2.0 * std::f64::consts::PI / 8.0).sin() * 8000.0) as i16)
        })
        .collect();
    for i in 0..150u32 {
        media
            .send_to(
                &rtp_packet(0, i as u16, i * 160, i == 0, &tone),
                hotline_media,
            )
            .unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
    // mid-call, the file on disk is already a valid WAV (a crash would leave this much)
    let path = std::fs::read_dir(&rec_dir)
        .unwrap()
        .flatten()
        .next()
        .expect("a recording")
        .path();
    let partial = hound::WavReader::open(&path).expect("playable mid-call");
    assert!(
        partial.duration() >= 8000,
        "at least a second flushed, got {}",
        partial.duration()
    );
    drop(partial);
    phone.send(&phone.request("BYE", "rec-1", 2, "z9hG4bKbye", Some(&tag), ""));
    phone
        .wait_for(WAIT, |r| r.status() == Some(200) && r.text.contains("BYE"))
        .expect("200 to BYE");
    assert!(server.stop().success());
    // Recordings and the database hold customers' data: the owner's alone.
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600, "recording");
    let db = server.dir.0.join("hotline.db");
    assert_eq!(mode(&db), 0o600, "database");
    for side in ["hotline.db-wal", "hotline.db-shm"] {
        let p = server.dir.0.join(side);
        if p.exists() {
            assert_eq!(mode(&p), 0o600, "{side}");
        }
    }
    let mut wav = hound::WavReader::open(&path).expect("final WAV");
    let spec = wav.spec();
    assert_eq!(
        (spec.channels, spec.sample_rate, spec.bits_per_sample),
        (2, 8000, 16)
    );
    let samples: Vec<i16> = wav.samples::<i16>().map(Result::unwrap).collect();
    let seconds = samples.len() as f64 / 2.0 / 8000.0;
    assert!(
        (2.5..6.0).contains(&seconds),
        "about the call's length: {seconds} s"
    );
    let energy = |ch: usize| {
        samples
            .iter()
            .skip(ch)
            .step_by(2)
            .filter(|s| s.unsigned_abs() > 1000)
            .count()
    };
    assert!(energy(0) > 8000, "left channel holds the caller");
    assert!(energy(1) > 2000, "right channel holds the greeting");
    let calls = server.calls();
    assert_eq!(
        calls[0].recording.as_deref(),
        Some(path.display().to_string().as_str())
    );
}
