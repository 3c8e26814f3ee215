//! DTMF three ways: RFC 4733 telephone-events, SIP INFO bodies and in-band tones, each
//! giving one `Digit` per key press.

use hotline::core::media::dtmf::{parse_info, Digit, Rfc4733Receiver};
use hotline::core::media::g711::{linear_to_ulaw, ulaw_to_linear};
use hotline::core::media::goertzel::InbandDetector;

// ---------------------------------------------------------------------------------
// Digits

#[test]
fn digits_map_codes_and_characters() {
    let chars = "0123456789*#ABCD";
    for (code, c) in chars.chars().enumerate() {
        let d = Digit::from_event_code(code as u8).unwrap();
        assert_eq!(d.as_char(), c);
        assert_eq!(Digit::from_char(c), Some(d));
        assert_eq!(Digit::from_char(c.to_ascii_lowercase()), Some(d));
        assert_eq!(d.event_code(), code as u8);
    }
    assert_eq!(Digit::from_event_code(16), None, "16 is flash, not a key");
    assert_eq!(Digit::from_char('E'), None);
    assert_eq!(Digit::from_char(' '), None);
}

// ---------------------------------------------------------------------------------
// RFC 4733

/// One event block: code, E bit, volume, duration.
fn block(code: u8, end: bool, volume: u8, duration: u16) -> [u8; 4] {
    let [hi, lo] = duration.to_be_bytes();
    [code, (u8::from(end) << 7) | (volume & 0x3F), hi, lo]
}

/// A sender of one RTP stream's telephone-events: every packet gets the next sequence
/// number, and each press a timestamp of its own, as RFC 4733 says.
struct Sender {
    seq: u16,
}

/// A packet as it leaves the sender: (seq, timestamp, marker, payload).
type Packet = (u16, u32, bool, [u8; 4]);

impl Sender {
    /// A press: a start packet with the marker, `updates` more while the key is held,
    /// and the end packet three times.
    fn press(&mut self, timestamp: u32, code: u8, updates: u16) -> Vec<Packet> {
        let mut packets = Vec::new();
        for i in 0..=updates {
            packets.push((self.seq, timestamp, i == 0, block(code, false, 10, 160 * i)));
            self.seq = self.seq.wrapping_add(1);
        }
        for _ in 0..3 {
            packets.push((
                self.seq,
                timestamp,
                false,
                block(code, true, 10, 160 * (updates + 1)),
            ));
            self.seq = self.seq.wrapping_add(1);
        }
        packets
    }
}

fn receive(rx: &mut Rfc4733Receiver, packets: &[Packet]) -> Vec<Digit> {
    packets
        .iter()
        .filter_map(|&(seq, ts, marker, payload)| rx.on_packet(seq, ts, marker, &payload))
        .collect()
}

fn digit(c: char) -> Digit {
    Digit::from_char(c).unwrap()
}

#[test]
fn redundant_end_packets_give_one_digit_on_the_first_packet() {
    let mut rx = Rfc4733Receiver::new();
    let packets = Sender { seq: 100 }.press(8000, 5, 4);
    let (seq, ts, marker, payload) = packets[0];
    assert_eq!(rx.on_packet(seq, ts, marker, &payload), Some(digit('5')));
    assert_eq!(receive(&mut rx, &packets[1..]), vec![]);
    // The whole press retransmitted (a duplicating network) still adds nothing.
    assert_eq!(receive(&mut rx, &packets), vec![]);
}

#[test]
fn a_press_made_of_end_packets_only_counts_once() {
    let mut rx = Rfc4733Receiver::new();
    let mut tx = Sender { seq: 1 };
    let packets = tx.press(1000, 11, 0);
    assert_eq!(receive(&mut rx, &packets[1..]), vec![digit('#')]);
}

#[test]
fn an_old_packet_after_a_newer_event_does_not_repeat() {
    let mut rx = Rfc4733Receiver::new();
    let mut tx = Sender { seq: 500 };
    let one = tx.press(10_000, 1, 5);
    let two = tx.press(12_000, 2, 5);
    assert_eq!(receive(&mut rx, &one), vec![digit('1')]);
    assert_eq!(receive(&mut rx, &two), vec![digit('2')]);
    // Late copies of the first press: its start, a middle packet and an end.
    assert_eq!(receive(&mut rx, &[one[0], one[3], one[7]]), vec![]);
    assert_eq!(receive(&mut rx, &two[2..4]), vec![]);
}

#[test]
fn reordering_within_a_press_reports_it_once() {
    let mut rx = Rfc4733Receiver::new();
    let mut packets = Sender { seq: 9 }.press(4242, 7, 4);
    packets.reverse();
    assert_eq!(receive(&mut rx, &packets), vec![digit('7')]);
}

#[test]
fn a_lost_start_packet_loses_nothing() {
    let mut rx = Rfc4733Receiver::new();
    let mut tx = Sender { seq: 30 };
    let first = tx.press(1000, 9, 3);
    let second = tx.press(3000, 9, 3);
    // Neither start packet (the one with the marker) arrives.
    assert_eq!(receive(&mut rx, &first[1..]), vec![digit('9')]);
    assert_eq!(receive(&mut rx, &second[1..]), vec![digit('9')]);
}

#[test]
fn the_same_key_twice_is_two_presses() {
    let mut rx = Rfc4733Receiver::new();
    let mut tx = Sender { seq: 7 };
    let mut packets = tx.press(16_000, 4, 6);
    packets.extend(tx.press(17_600, 4, 6));
    assert_eq!(receive(&mut rx, &packets), vec![digit('4'), digit('4')]);
}

#[test]
fn sequence_and_timestamp_wrap_around() {
    let mut rx = Rfc4733Receiver::new();
    let mut tx = Sender { seq: 65_530 };
    let start = u32::MAX - 1_000;
    let three = tx.press(start, 3, 4); // seq 65530..=65537, wrapping
    let four = tx.press(start.wrapping_add(1_600), 4, 4); // timestamp wrapped to 599
    let five = tx.press(start.wrapping_add(3_200), 5, 4);
    assert!(
        three.iter().any(|p| p.0 == 0),
        "the sequence wraps inside the first press"
    );
    assert_eq!(receive(&mut rx, &three), vec![digit('3')]);
    assert_eq!(receive(&mut rx, &four), vec![digit('4')]);
    // A late packet from before the wrap, in both numbers.
    assert_eq!(receive(&mut rx, &three[..2]), vec![]);
    assert_eq!(receive(&mut rx, &five), vec![digit('5')]);
    assert_eq!(receive(&mut rx, &four[4..]), vec![]);
}

#[test]
fn malformed_and_odd_payloads() {
    let mut rx = Rfc4733Receiver::new();
    for short in [&[][..], &[5], &[5, 0x80], &[5, 0x80, 0]] {
        assert_eq!(rx.on_packet(1, 800, true, short), None, "{short:?}");
    }
    // Flash (16) and other non-key events are not digits.
    assert_eq!(
        rx.on_packet(2, 1600, true, &block(16, false, 10, 160)),
        None
    );
    // A zero duration, an odd volume and a trailing block change nothing.
    let mut payload = block(6, false, 63, 0).to_vec();
    payload.extend(block(7, false, 10, 160));
    assert_eq!(rx.on_packet(3, 2400, true, &payload), Some(digit('6')));
    assert_eq!(rx.on_packet(4, 2400, false, &block(6, false, 63, 0)), None);
    // A duration going backwards within the press is not a new press.
    assert_eq!(rx.on_packet(5, 2400, false, &block(6, true, 10, 80)), None);
}

#[test]
fn a_long_press_split_into_segments_is_one_press() {
    // RFC 4733 2.5.1.3: past 0xFFFF the sender starts a new segment, with a new
    // timestamp and without the marker; it is the same press.
    let mut rx = Rfc4733Receiver::new();
    let t0 = 100_000u32;
    let mut got = vec![];
    let mut seq = 0u16;
    let mut send = |ts: u32, marker: bool, end: bool, duration: u16| {
        seq = seq.wrapping_add(1);
        rx.on_packet(seq, ts, marker, &block(8, end, 10, duration))
    };
    got.extend(send(t0, true, false, 0));
    for d in (160..=0xFF00u32).step_by(8000) {
        got.extend(send(t0, false, false, d as u16));
    }
    got.extend(send(t0, false, false, 0xFFFF));
    let t1 = t0 + 0xFFFF;
    for d in [160u16, 320, 480] {
        got.extend(send(t1, false, false, d));
    }
    for _ in 0..3 {
        got.extend(send(t1, false, true, 640));
    }
    assert_eq!(got, vec![digit('8')]);
}

#[test]
fn a_press_whose_packets_all_came_late_is_still_reported() {
    let mut rx = Rfc4733Receiver::new();
    let mut tx = Sender { seq: 40 };
    let one = tx.press(5000, 1, 3);
    let two = tx.press(6600, 2, 3);
    assert_eq!(receive(&mut rx, &two), vec![digit('2')]);
    assert_eq!(receive(&mut rx, &one), vec![digit('1')]);
    assert_eq!(receive(&mut rx, &one), vec![]);
}

#[test]
fn a_sender_that_restarts_its_timestamps_is_followed() {
    let mut rx = Rfc4733Receiver::new();
    let mut tx = Sender { seq: 1000 };
    assert_eq!(
        receive(&mut rx, &tx.press(1_000_000_000, 1, 3)),
        vec![digit('1')]
    );
    tx.seq = 12;
    assert_eq!(receive(&mut rx, &tx.press(5000, 2, 3)), vec![digit('2')]);
    assert_eq!(receive(&mut rx, &tx.press(6600, 3, 3)), vec![digit('3')]);
}

// ---------------------------------------------------------------------------------
// SIP INFO

#[test]
fn info_dtmf_relay() {
    let relay = "application/dtmf-relay";
    let cases: &[(&str, &[u8], Option<char>)] = &[
        (relay, b"Signal=5\r\nDuration=160\r\n", Some('5')),
        (relay, b"Signal=5\r\nDuration=160", Some('5')),
        (relay, b"signal=5\nduration=160\n", Some('5')),
        (relay, b"SIGNAL = 9 \r\n", Some('9')),
        (relay, b"Duration=250\r\nSignal=*\r\n", Some('*')),
        (relay, b"\r\nSignal=#\r\nDuration=100\r\n", Some('#')),
        (relay, b"Signal=10\r\nDuration=160\r\n", Some('*')),
        (relay, b"Signal=11\r\nDuration=160\r\n", Some('#')),
        (relay, b"Signal=a\r\n", Some('A')),
        (relay, b"Signal=D\r\n", Some('D')),
        (relay, b"Signal: 3\r\n", Some('3')),
        (relay, b"Signal=\"7\"\r\n", Some('7')),
        (relay, b"Junk=\xff\xfe\r\nSignal=2\r\n", Some('2')),
        (relay, b"Signal=\r\nDuration=160\r\n", None),
        (relay, b"Signal=!\r\n", None),
        (relay, b"Signal=16\r\n", None),
        (relay, b"Signal=12345678901234567890\r\n", None),
        (relay, b"Duration=160\r\n", None),
        (relay, b"", None),
        (
            "Application/DTMF-Relay; charset=UTF-8",
            b"Signal=8\r\n",
            Some('8'),
        ),
        (" application/dtmf-relay ", b"Signal=0\r\n", Some('0')),
        ("text/plain", b"Signal=5\r\n", None),
        ("application/dtmf-relayed", b"Signal=5\r\n", None),
    ];
    for &(content_type, body, expected) in cases {
        assert_eq!(
            parse_info(content_type, body),
            expected.map(digit),
            "{content_type:?} {:?}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn info_dtmf() {
    let cases: &[(&[u8], Option<char>)] = &[
        (b"5", Some('5')),
        (b"5\r\n", Some('5')),
        (b" # ", Some('#')),
        (b"*", Some('*')),
        (b"b", Some('B')),
        (b"10", Some('*')),
        (b"11\r\n", Some('#')),
        (b"15", Some('D')),
        (b"", None),
        (b"55", None),
        (b"x", None),
    ];
    for &(body, expected) in cases {
        let got = parse_info("application/dtmf", body);
        assert_eq!(
            got,
            expected.map(digit),
            "{:?}",
            String::from_utf8_lossy(body)
        );
    }
    assert_eq!(parse_info("APPLICATION/DTMF;x=y", b"4"), Some(digit('4')));
}

// ---------------------------------------------------------------------------------
// In-band (Goertzel)

const RATE: f64 = 8000.0;

/// ITU-T Q.23, written out here rather than taken from the code under test.
const KEYS: [(char, f64, f64); 16] = [
    ('1', 697.0, 1209.0),
    ('2', 697.0, 1336.0),
    ('3', 697.0, 1477.0),
    ('A', 697.0, 1633.0),
    ('4', 770.0, 1209.0),
    ('5', 770.0, 1336.0),
    ('6', 770.0, 1477.0),
    ('B', 770.0, 1633.0),
    ('7', 852.0, 1209.0),
    ('8', 852.0, 1336.0),
    ('9', 852.0, 1477.0),
    ('C', 852.0, 1633.0),
    ('*', 941.0, 1209.0),
    ('0', 941.0, 1336.0),
    ('#', 941.0, 1477.0),
    ('D', 941.0, 1633.0),
];

/// Tone levels like a phone's: the low group about -10 dBm0 and the high group 2 dB
/// louder (0 dBm0 is a sine peaking near 22,700 in 16-bit samples).
const ROW_AMPLITUDE: f64 = 7000.0;
const COLUMN_AMPLITUDE: f64 = 8800.0;

/// xorshift64: small, deterministic white noise.
struct Noise(u64);

impl Noise {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Gaussian, by Box-Muller.
    fn gauss(&mut self) -> f64 {
        let u = self.uniform().max(f64::MIN_POSITIVE);
        let v = self.uniform();
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

fn ms(ms: f64) -> usize {
    (ms * RATE / 1000.0).round() as usize
}

/// A tone pair with the given amplitudes, appended to `out`.
fn tone(out: &mut Vec<f64>, (f1, a1): (f64, f64), (f2, a2): (f64, f64), samples: usize) {
    let start = out.len();
    out.extend((0..samples).map(|n| {
        let t = (start + n) as f64 / RATE;
        let w = 2.0 * std::f64::consts::PI * t;
        a1 * (w * f1 + 0.3).sin() + a2 * (w * f2 + 1.1).sin()
    }));
}

fn silence(out: &mut Vec<f64>, samples: usize) {
    out.resize(out.len() + samples, 0.0);
}

/// Keys pressed one after another: `on` ms of tone, `off` ms of silence, each key's
/// frequencies scaled by (1 + row deviation, 1 + column deviation).
fn keys(sequence: &str, on: f64, off: f64, deviation: (f64, f64)) -> Vec<f64> {
    let mut x = Vec::new();
    silence(&mut x, ms(30.0));
    for c in sequence.chars() {
        let &(_, row, col) = KEYS.iter().find(|k| k.0 == c).expect("a key");
        let row = (row * (1.0 + deviation.0), ROW_AMPLITUDE);
        let col = (col * (1.0 + deviation.1), COLUMN_AMPLITUDE);
        tone(&mut x, row, col, ms(on));
        silence(&mut x, ms(off));
    }
    x
}

/// Adds white noise `snr_db` below the tones' power.
fn add_noise(x: &mut [f64], snr_db: f64, seed: u64) {
    let tone_power = (ROW_AMPLITUDE.powi(2) + COLUMN_AMPLITUDE.powi(2)) / 2.0;
    let sigma = (tone_power / 10f64.powf(snr_db / 10.0)).sqrt();
    let mut noise = Noise(seed);
    for v in x {
        *v += sigma * noise.gauss();
    }
}

fn to_pcm(x: &[f64]) -> Vec<i16> {
    x.iter()
        .map(|v| v.round().clamp(-32768.0, 32767.0) as i16)
        .collect()
}

fn through_ulaw(x: &[i16]) -> Vec<i16> {
    x.iter()
        .map(|&s| ulaw_to_linear(linear_to_ulaw(s)))
        .collect()
}

/// Runs the detector over 20 ms frames, as the runtime does, then a second of silence.
fn detect(pcm: &[i16]) -> String {
    detect_in(pcm, 160)
}

fn detect_in(pcm: &[i16], frame: usize) -> String {
    let mut detector = InbandDetector::new();
    let mut found = String::new();
    let tail = vec![0i16; 8000];
    for chunk in pcm.chunks(frame).chain(tail.chunks(160)) {
        found.extend(detector.push(chunk).map(|d| d.as_char()));
    }
    found
}

const ALL: &str = "123A456B789C*0#D";

#[test]
fn all_sixteen_keys_in_noise() {
    let mut x = keys(ALL, 80.0, 80.0, (0.0, 0.0));
    add_noise(&mut x, 20.0, 1);
    assert_eq!(detect(&to_pcm(&x)), ALL);
}

#[test]
fn all_sixteen_keys_in_noise_through_ulaw() {
    let mut x = keys(ALL, 80.0, 80.0, (0.0, 0.0));
    add_noise(&mut x, 20.0, 2);
    assert_eq!(detect(&through_ulaw(&to_pcm(&x))), ALL);
}

#[test]
fn frequencies_within_one_and_a_half_percent_are_accepted() {
    for deviation in [
        (0.015, 0.015),
        (-0.015, -0.015),
        (0.015, -0.015),
        (-0.015, 0.015),
    ] {
        let mut x = keys(ALL, 80.0, 80.0, deviation);
        add_noise(&mut x, 20.0, 3);
        assert_eq!(detect(&through_ulaw(&to_pcm(&x))), ALL, "{deviation:?}");
    }
}

#[test]
fn frequencies_three_and_a_half_percent_off_are_rejected() {
    let p = 0.035;
    for deviation in [
        (p, 0.0),
        (-p, 0.0),
        (0.0, p),
        (0.0, -p),
        (p, p),
        (-p, -p),
        (p, -p),
        (-p, p),
    ] {
        let mut x = keys(ALL, 200.0, 80.0, deviation);
        add_noise(&mut x, 20.0, 4);
        assert_eq!(detect(&through_ulaw(&to_pcm(&x))), "", "{deviation:?}");
    }
}

#[test]
fn a_25_ms_tone_is_rejected_and_a_40_ms_tone_accepted() {
    // Every alignment to the detector's 4 ms steps.
    for lead in 0..32 {
        let mut short = vec![0.0; lead];
        short.extend(keys(ALL, 25.0, 80.0, (0.0, 0.0)));
        add_noise(&mut short, 20.0, 5 + lead as u64);
        assert_eq!(detect(&to_pcm(&short)), "", "25 ms, lead {lead}");

        let mut long = vec![0.0; lead];
        long.extend(keys(ALL, 40.0, 60.0, (0.0, 0.0)));
        add_noise(&mut long, 20.0, 50 + lead as u64);
        assert_eq!(detect(&to_pcm(&long)), ALL, "40 ms, lead {lead}");
    }
}

#[test]
fn a_single_frequency_is_not_a_key() {
    for f in [697.0, 770.0, 852.0, 941.0, 1209.0, 1336.0, 1477.0, 1633.0] {
        let mut x = Vec::new();
        tone(&mut x, (f, 12_000.0), (0.0, 0.0), ms(500.0));
        add_noise(&mut x, 30.0, 6);
        assert_eq!(detect(&through_ulaw(&to_pcm(&x))), "", "{f} Hz");
    }
}

/// Twist: the row (low) tone may be up to 8 dB louder than the column tone, the column
/// up to 4 dB louder than the row.
fn twisted(twist_db: f64) -> Vec<f64> {
    // Keep the total level, split by the twist: positive = row louder.
    let a = 6000.0;
    let row = a * 10f64.powf(twist_db / 40.0);
    let col = a * 10f64.powf(-twist_db / 40.0);
    let mut x = Vec::new();
    silence(&mut x, ms(30.0));
    for &(_, f_row, f_col) in &KEYS {
        tone(&mut x, (f_row, row), (f_col, col), ms(80.0));
        silence(&mut x, ms(80.0));
    }
    x
}

#[test]
fn twist_within_limits_is_accepted() {
    for twist in [8.0, 6.0, 0.0, -3.0, -4.0] {
        assert_eq!(detect(&to_pcm(&twisted(twist))), ALL, "{twist} dB");
    }
    for twist in [6.0, -3.0] {
        let mut x = twisted(twist);
        add_noise(&mut x, 20.0, 7);
        assert_eq!(
            detect(&through_ulaw(&to_pcm(&x))),
            ALL,
            "{twist} dB in noise"
        );
    }
}

#[test]
fn strong_twist_is_rejected() {
    for twist in [10.0, 14.0, -6.0, -10.0] {
        let mut x = twisted(twist);
        add_noise(&mut x, 20.0, 8);
        assert_eq!(detect(&through_ulaw(&to_pcm(&x))), "", "{twist} dB");
    }
}

#[test]
fn one_report_per_press() {
    // Three presses of the same key with 60 ms pauses: three reports.
    let x = keys("555", 100.0, 60.0, (0.0, 0.0));
    assert_eq!(detect(&to_pcm(&x)), "555");
    // A two-second press: one report.
    let x = keys("8", 2000.0, 100.0, (0.0, 0.0));
    assert_eq!(detect(&to_pcm(&x)), "8");
    // A 10 ms drop-out inside a press is the same press.
    let mut x = Vec::new();
    let (row, col) = ((852.0, ROW_AMPLITUDE), (1477.0, COLUMN_AMPLITUDE));
    tone(&mut x, row, col, ms(100.0));
    silence(&mut x, ms(10.0));
    tone(&mut x, row, col, ms(100.0));
    add_noise(&mut x, 20.0, 9);
    assert_eq!(detect(&to_pcm(&x)), "9");
}

#[test]
fn any_frame_size_gives_the_same_keys() {
    let mut x = keys("19*0#D", 80.0, 80.0, (0.0, 0.0));
    add_noise(&mut x, 20.0, 10);
    let pcm = to_pcm(&x);
    for frame in [1, 7, 33, 80, 160, 161, 1000] {
        assert_eq!(detect_in(&pcm, frame), "19*0#D", "frames of {frame}");
    }
    // All at once: the keys beyond the first come from the following calls.
    let mut detector = InbandDetector::new();
    let mut found: String = detector
        .push(&pcm)
        .map(|d| d.as_char())
        .into_iter()
        .collect();
    while let Some(d) = detector.push(&[]) {
        found.push(d.as_char());
    }
    assert_eq!(found, "19*0#D");
}

/// A voiced, vowel-like sound: a harmonic series on `f0` (which may glide) shaped by
/// three formants, amplitude-modulated at a syllable rate.
fn vowel(formants: [f64; 3], f0: impl Fn(f64) -> f64, seconds: f64) -> Vec<f64> {
    let mut phase = 0.0;
    let mut x: Vec<f64> = (0..(seconds * RATE) as usize)
        .map(|n| {
            let t = n as f64 / RATE;
            let f0 = f0(t);
            phase += 2.0 * std::f64::consts::PI * f0 / RATE;
            let mut v = 0.0;
            let mut k = 1.0;
            while k * f0 < 3800.0 {
                let h = k * f0;
                let mut gain = 1.0 / k.sqrt();
                for (i, fm) in formants.iter().enumerate() {
                    let bandwidth = 80.0 + 40.0 * i as f64;
                    gain *= 3.0 / (1.0 + ((h - fm) / bandwidth).powi(2)).sqrt();
                }
                v += gain * (k * phase).sin();
                k += 1.0;
            }
            v * (0.55 + 0.45 * (2.0 * std::f64::consts::PI * 4.0 * t).sin())
        })
        .collect();
    let peak = x.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    x.iter_mut().for_each(|v| *v *= 20_000.0 / peak);
    x
}

const VOWELS: [[f64; 3]; 7] = [
    [730.0, 1090.0, 2440.0], // a
    [270.0, 2290.0, 3010.0], // i
    [300.0, 870.0, 2240.0],  // u
    [530.0, 1840.0, 2480.0], // e
    [570.0, 840.0, 2410.0],  // o
    // Formants placed on DTMF rows and columns, the worst case for talk-off.
    [700.0, 1220.0, 2600.0],
    [850.0, 1210.0, 2500.0],
];

#[test]
fn speech_like_sound_is_not_a_key() {
    for formants in VOWELS {
        // A steady 120 Hz voice: harmonics at 840, 960, 1200, 1320 Hz sit within
        // tolerance of 852, 941, 1209 and 1336 Hz.
        let x = vowel(formants, |_| 120.0, 3.0);
        assert_eq!(
            detect(&through_ulaw(&to_pcm(&x))),
            "",
            "{formants:?}, 120 Hz"
        );
        // Intonation: the pitch gliding between 100 and 180 Hz.
        let glide = |t: f64| 140.0 + 40.0 * (2.0 * std::f64::consts::PI * 0.7 * t).sin();
        let x = vowel(formants, glide, 3.0);
        assert_eq!(
            detect(&through_ulaw(&to_pcm(&x))),
            "",
            "{formants:?}, gliding"
        );
    }
}

#[test]
fn a_sweep_through_the_band_is_not_a_key() {
    // 300 Hz to 3400 Hz in four seconds, and back down twice as fast.
    let mut x = Vec::new();
    let mut phase = 0.0f64;
    let mut sweep = |from: f64, to: f64, seconds: f64| {
        let n = (seconds * RATE) as usize;
        for i in 0..n {
            let f = from + (to - from) * i as f64 / n as f64;
            phase += 2.0 * std::f64::consts::PI * f / RATE;
            x.push(14_000.0 * phase.sin());
        }
    };
    sweep(300.0, 3400.0, 4.0);
    sweep(3400.0, 300.0, 2.0);
    assert_eq!(detect(&through_ulaw(&to_pcm(&x))), "");
}

#[test]
fn music_like_sound_is_not_a_key() {
    // Pairs of notes whose fundamentals are near a key's tones (F5 698 Hz, G5 784,
    // A#5 932, D#6 1245, E6 1319, F#6 1480, G#6 1661), each with the harmonics of a
    // plucked string.
    let notes = [698.46, 783.99, 932.33, 1244.51, 1318.51, 1479.98, 1661.22];
    let mut x = Vec::new();
    for (i, &a) in notes.iter().enumerate() {
        for &b in &notes[i + 1..] {
            for n in 0..ms(250.0) {
                let t = n as f64 / RATE;
                let w = 2.0 * std::f64::consts::PI * t;
                let v: f64 = (1..8)
                    .map(f64::from)
                    .map(|k| ((w * a * k).sin() + (w * b * k).sin()) / k)
                    .sum();
                x.push(5000.0 * v * (-3.0 * t).exp());
            }
        }
    }
    assert_eq!(detect(&through_ulaw(&to_pcm(&x))), "");
}

#[test]
fn noise_alone_is_not_a_key() {
    let mut x = vec![0.0; ms(10_000.0)];
    let mut noise = Noise(11);
    x.iter_mut().for_each(|v| *v = 8000.0 * noise.gauss());
    assert_eq!(detect(&through_ulaw(&to_pcm(&x))), "");
}

/// Cost, printed rather than asserted (run with `--release -- --nocapture` for numbers
/// that mean something): ns per 20 ms frame over speech-like sound, silence and tones.
#[test]
fn cost_per_frame() {
    let profile = if cfg!(debug_assertions) {
        "debug build"
    } else {
        "release build"
    };
    let mut speech = vowel(VOWELS[0], |_| 120.0, 2.0);
    add_noise(&mut speech, 30.0, 12);
    let inputs = [
        ("speech-like", to_pcm(&speech)),
        ("silence", vec![0i16; ms(2000.0)]),
        ("keys", to_pcm(&keys(ALL, 80.0, 45.0, (0.0, 0.0)))),
    ];
    for (name, pcm) in &inputs {
        let mut detector = InbandDetector::new();
        let frames = pcm.chunks_exact(160).count();
        let rounds = if cfg!(debug_assertions) { 2 } else { 50 };
        let start = std::time::Instant::now();
        for _ in 0..rounds {
            for frame in pcm.chunks_exact(160) {
                std::hint::black_box(detector.push(std::hint::black_box(frame)));
            }
        }
        let ns = start.elapsed().as_nanos() as f64 / (rounds * frames) as f64;
        println!("in-band DTMF, {name}: {ns:.0} ns per 160-sample frame ({profile})");
    }
}

#[test]
fn a_replayed_capture_pressing_the_same_key_again_counts_again() {
    use hotline::core::media::dtmf::Rfc4733Receiver;
    use std::time::{Duration, Instant};
    let t0 = Instant::now();
    let mut rx = Rfc4733Receiver::new();
    // the same packets, byte for byte, sent twice a second apart (SIPp's pcap playback)
    let press = |rx: &mut Rfc4733Receiver, at: Instant| {
        let mut got = Vec::new();
        for (i, (end, dur)) in [
            (false, 160u16),
            (false, 320),
            (true, 480),
            (true, 480),
            (true, 480),
        ]
        .iter()
        .enumerate()
        {
            let payload = [
                1u8,
                if *end { 0x8a } else { 0x0a },
                (dur >> 8) as u8,
                *dur as u8,
            ];
            let now = at + Duration::from_millis(20 * i as u64);
            got.extend(rx.on_packet_at(now, 500 + i as u16, 8000, i == 0, &payload));
        }
        got
    };
    assert_eq!(press(&mut rx, t0).len(), 1);
    assert_eq!(
        press(&mut rx, t0 + Duration::from_secs(1)).len(),
        1,
        "pressed again"
    );
    // but a late straggler of a press, well within the gap, is not a new press
    let late = rx.on_packet_at(
        t0 + Duration::from_millis(1150),
        504,
        8000,
        false,
        &[1, 0x8a, 1, 224],
    );
    assert_eq!(late, None);
}

/// Keys passed on across a bridge: what the sender makes, the receiver hears, once per key.
#[test]
fn event_sender_round_trips_through_the_receiver() {
    use hotline::core::media::dtmf::EventSender;
    use hotline::core::media::rtp::RtpSender;
    let mut tx = EventSender::default();
    for d in [Digit::Three, Digit::Three, Digit::Hash] {
        tx.push(d);
    }
    let mut rtp = RtpSender::new(1, 100, 8000, 0);
    let mut rx = Rfc4733Receiver::new();
    let start = std::time::Instant::now();
    let mut heard = Vec::new();
    let mut packets = 0;
    let mut buf = [0u8; 64];
    for tick in 0..40u32 {
        let Some(ev) = tx.next_packet() else {
            break;
        };
        packets += 1;
        let n = rtp.event(101, &ev, &mut buf);
        let pkt = rtp_rs::RtpReader::new(&buf[..n]).unwrap();
        assert_eq!(pkt.payload_type(), 101);
        assert_eq!(pkt.mark(), ev.first, "the marker starts each event");
        let now = start + std::time::Duration::from_millis(20 * u64::from(tick));
        if let Some(d) = rx.on_packet_at(
            now,
            u16::from(pkt.sequence_number()),
            pkt.timestamp(),
            pkt.mark(),
            pkt.payload(),
        ) {
            heard.push(d);
        }
    }
    assert_eq!(packets, 24, "8 packets per key: 5 of tone, 3 ends");
    assert_eq!(heard, vec![Digit::Three, Digit::Three, Digit::Hash]);
    assert!(tx.next_packet().is_none());
}
