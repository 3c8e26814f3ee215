//! DTMF digits, and the two signalled ways a caller's key presses arrive: RFC 4733
//! telephone-events in RTP and SIP INFO bodies. Tones in the audio itself are found by
//! [`super::goertzel`]. All three give a [`Digit`], so the call layer handles one kind
//! of event whichever way the phone chose to send it.
//!
//! Nothing here reads a clock: an RFC 4733 event is identified by its RTP timestamp
//! (RFC 4733 section 2.5.1), which is all the time the receiver needs.

use crate::core::media::rtp::FRAME_SAMPLES;
use std::fmt;
use std::time::{Duration, Instant};

/// A DTMF key: 0-9, `*`, `#`, and the A-D column few phones have.
///
/// The discriminants are the RFC 4733 event codes (section 3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Digit {
    Zero = 0,
    One,
    Two,
    Three,
    Four,
    Five,
    Six,
    Seven,
    Eight,
    Nine,
    Star,
    Hash,
    A,
    B,
    C,
    D,
}

/// The keypad as ITU-T Q.23 lays it out: `KEYPAD[row][column]`.
pub(crate) const KEYPAD: [[Digit; 4]; 4] = [
    [Digit::One, Digit::Two, Digit::Three, Digit::A],
    [Digit::Four, Digit::Five, Digit::Six, Digit::B],
    [Digit::Seven, Digit::Eight, Digit::Nine, Digit::C],
    [Digit::Star, Digit::Zero, Digit::Hash, Digit::D],
];

/// Q.23 low-group (row) frequencies in Hz.
pub const ROW_HZ: [u16; 4] = [697, 770, 852, 941];
/// Q.23 high-group (column) frequencies in Hz.
pub const COLUMN_HZ: [u16; 4] = [1209, 1336, 1477, 1633];

impl Digit {
    /// All sixteen keys in event-code order.
    pub const ALL: [Digit; 16] = [
        Digit::Zero,
        Digit::One,
        Digit::Two,
        Digit::Three,
        Digit::Four,
        Digit::Five,
        Digit::Six,
        Digit::Seven,
        Digit::Eight,
        Digit::Nine,
        Digit::Star,
        Digit::Hash,
        Digit::A,
        Digit::B,
        Digit::C,
        Digit::D,
    ];

    /// RFC 4733 event codes 0-15: 10 is `*`, 11 is `#`, 12-15 are A-D. Other codes
    /// (flash, fax and modem tones) are not keys.
    pub fn from_event_code(code: u8) -> Option<Digit> {
        Self::ALL.get(usize::from(code)).copied()
    }

    /// The RFC 4733 event code.
    pub fn event_code(self) -> u8 {
        self as u8
    }

    /// `0`-`9`, `*`, `#`, `A`-`D`; a-d too, since some phones write them in lower case.
    pub fn from_char(c: char) -> Option<Digit> {
        let code = match c.to_ascii_uppercase() {
            d @ '0'..='9' => d as u8 - b'0',
            '*' => 10,
            '#' => 11,
            l @ 'A'..='D' => l as u8 - b'A' + 12,
            _ => return None,
        };
        Self::from_event_code(code)
    }

    pub fn as_char(self) -> char {
        char::from(b"0123456789*#ABCD"[self as usize])
    }

    /// The key's (row, column) tone pair in Hz, ITU-T Q.23.
    pub fn frequencies(self) -> (u16, u16) {
        for (r, row) in KEYPAD.iter().enumerate() {
            if let Some(c) = row.iter().position(|&d| d == self) {
                return (ROW_HZ[r], COLUMN_HZ[c]);
            }
        }
        unreachable!("every digit is on the keypad")
    }
}

impl fmt::Display for Digit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.as_char())
    }
}

/// Event timestamps remembered, so a late or redundant packet of a recent event is
/// known. A press lasts at least ~40 ms and its packets arrive within a few hundred
/// ms, so sixteen events is far more reordering than any network produces.
const MEMORY: usize = 16;

/// How far behind the highest sequence number a packet may be and still count as
/// merely reordered (RFC 3550 appendix A.1 uses the same figure).
const MAX_MISORDER: i16 = 100;

/// A timestamp this far behind the newest event is not a late packet but a sender
/// that restarted its timestamps (some gateways do on re-INVITE without a new SSRC):
/// 2^20 units is two minutes at 8 kHz.
const RESTART_GAP: u32 = 1 << 20;

/// Timestamp units a long event's next segment (RFC 4733 2.5.1.3) may start after the
/// longest duration seen in the previous one: covers a few lost packets at the end of
/// a segment and senders that wrongly advance the timestamp every packet.
const CONTINUATION_SLACK: u32 = 800;

/// Silence on the telephone-event stream after which earlier events are forgotten: no
/// real stream pauses an event's packets this long, so what comes next is a new press.
const REPLAY_GAP: Duration = Duration::from_millis(250);

/// `a` is after `b` in RTP timestamp order (RFC 3550 serial arithmetic).
fn after(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

/// The newest event seen, kept to tell a long event's next segment from a new press.
#[derive(Debug, Clone, Copy)]
struct Event {
    timestamp: u32,
    code: u8,
    /// Some packet of it carried the E bit.
    ended: bool,
    /// Longest duration any of its packets reported.
    duration: u16,
}

/// Receives RFC 4733 telephone-event payloads and reports each key press once.
///
/// Sans-IO: the runtime strips the RTP header and passes its sequence number,
/// timestamp and marker with the payload. A press is reported on the first packet of
/// it that arrives, start or not, so a lost start packet costs nothing; its redundant
/// end packets, retransmissions and late arrivals are recognised by their timestamp.
/// Volume is ignored, and duration serves only to join the segments of a long event.
/// Sequence numbers only tell a merely reordered packet (at most 100 behind the
/// highest) from a stale one, for a press whose packets all came after a newer one's.
/// All comparisons use serial-number arithmetic, so both counters may wrap.
#[derive(Debug, Clone, Default)]
pub struct Rfc4733Receiver {
    /// Ring of recent event timestamps, oldest overwritten first.
    recent: [u32; MEMORY],
    /// Filled slots of `recent`.
    len: usize,
    /// Next slot of `recent` to write.
    next: usize,
    newest: Option<Event>,
    highest_seq: Option<u16>,
    /// When the last packet came (only with `on_packet_at`).
    last_heard: Option<Instant>,
}

impl Rfc4733Receiver {
    pub fn new() -> Self {
        Self::default()
    }

    /// One telephone-event packet; returns the key if this packet is the first seen of
    /// a new press. `payload` is everything after the RTP header; payloads shorter than
    /// one 4-byte event block, and events that are not keys, are ignored. If the
    /// payload holds several blocks they share the packet's timestamp, so only the
    /// first is read (redundant older events come in RFC 2198 RED, which the runtime
    /// unwraps into separate calls).
    pub fn on_packet(
        &mut self,
        seq: u16,
        timestamp: u32,
        marker: bool,
        payload: &[u8],
    ) -> Option<Digit> {
        let block = payload.get(..4)?;
        let code = block[0];
        let digit = Digit::from_event_code(code)?;
        let end = block[1] & 0x80 != 0;
        let duration = u16::from_be_bytes([block[2], block[3]]);

        // Reordered: at most MAX_MISORDER behind the highest sequence number seen.
        let seq_delta = self
            .highest_seq
            .map_or(1, |highest| seq.wrapping_sub(highest) as i16);
        let reordered = (-MAX_MISORDER..=0).contains(&seq_delta);
        if seq_delta > 0 {
            self.highest_seq = Some(seq);
        }

        if self.remembers(timestamp) {
            // A redundant end packet, a retransmission or a late packet of a known event.
            if let Some(newest) = self.newest.as_mut().filter(|e| e.timestamp == timestamp) {
                newest.ended |= end;
                newest.duration = newest.duration.max(duration);
            }
            return None;
        }

        let event = Event {
            timestamp,
            code,
            ended: end,
            duration,
        };
        let Some(newest) = self.newest else {
            return self.new_event(event, seq, digit);
        };
        if after(timestamp, newest.timestamp) {
            let continues = code == newest.code
                && !marker
                && !newest.ended
                && timestamp.wrapping_sub(newest.timestamp)
                    <= u32::from(newest.duration) + CONTINUATION_SLACK;
            if continues {
                // The next segment of a long event: the same press.
                self.remember(timestamp);
                self.newest = Some(event);
                return None;
            }
            return self.new_event(event, seq, digit);
        }
        if newest.timestamp.wrapping_sub(timestamp) > RESTART_GAP {
            // The sender's timestamps jumped far back: a restarted stream.
            *self = Self::default();
            return self.new_event(event, seq, digit);
        }
        let oldest = self.recent[if self.len == MEMORY { self.next } else { 0 }];
        if reordered && (self.len < MEMORY || after(timestamp, oldest)) {
            // A press whose earlier packets were all lost or delayed behind a newer
            // one: late, but still a press the caller made.
            self.remember(timestamp);
            return Some(digit);
        }
        // Older than anything remembered, or out of place in the sequence: stale.
        None
    }

    /// As [`on_packet`](Self::on_packet), with the arrival time. After [`REPLAY_GAP`]
    /// with no telephone-event packet at all, what came before is forgotten, so a sender
    /// that reuses timestamps and sequence numbers (a replayed capture does) is heard
    /// pressing again; so is another key under the same timestamp.
    pub fn on_packet_at(
        &mut self,
        now: Instant,
        seq: u16,
        timestamp: u32,
        marker: bool,
        payload: &[u8],
    ) -> Option<Digit> {
        let quiet = self
            .last_heard
            .is_some_and(|t| now.saturating_duration_since(t) > REPLAY_GAP);
        let other_key = self
            .newest
            .is_some_and(|n| n.timestamp == timestamp && Some(&n.code) != payload.first());
        if quiet || other_key {
            *self = Self::default();
        }
        let digit = self.on_packet(seq, timestamp, marker, payload);
        self.last_heard = Some(now);
        digit
    }

    /// Records a new press. If its sequence number is far behind, the sender jumped
    /// (the timestamp says the press is new), so later packets are measured from it.
    fn new_event(&mut self, event: Event, seq: u16, digit: Digit) -> Option<Digit> {
        self.remember(event.timestamp);
        self.newest = Some(event);
        let jumped = self
            .highest_seq
            .is_none_or(|highest| (seq.wrapping_sub(highest) as i16) < -MAX_MISORDER);
        if jumped {
            self.highest_seq = Some(seq);
        }
        Some(digit)
    }

    fn remembers(&self, timestamp: u32) -> bool {
        self.recent[..self.len].contains(&timestamp)
    }

    fn remember(&mut self, timestamp: u32) {
        self.recent[self.next] = timestamp;
        self.next = (self.next + 1) % MEMORY;
        self.len = (self.len + 1).min(MEMORY);
    }
}

/// A key from a SIP INFO body. `application/dtmf-relay` carries `Signal=5` and
/// `Duration=160` lines (keys in any case, `=` or `:`, spaces and bare LF tolerated);
/// `application/dtmf` carries the key alone. The key may be written as a character
/// (`5`, `*`, `#`, `A`-`D`) or, as some phones do, as its event code (`10` for `*`,
/// `11` for `#`). Any other content type, or a body without a key, gives `None`.
/// Each key found is counted as a press by INFO (calls parse an INFO body once).
pub fn parse_info(content_type: &str, body: &[u8]) -> Option<Digit> {
    let digit = info_digit(content_type, body);
    if digit.is_some() {
        metrics::counter!(crate::metrics::DTMF, "method" => "info").increment(1);
    }
    digit
}

fn info_digit(content_type: &str, body: &[u8]) -> Option<Digit> {
    let media_type = content_type.split(';').next().unwrap_or("").trim();
    let body = String::from_utf8_lossy(body);
    if media_type.eq_ignore_ascii_case("application/dtmf-relay") {
        body.lines().find_map(|line| {
            let (key, value) = line.split_once(['=', ':'])?;
            if key.trim().eq_ignore_ascii_case("signal") {
                parse_signal(value)
            } else {
                None
            }
        })
    } else if media_type.eq_ignore_ascii_case("application/dtmf") {
        parse_signal(&body)
    } else {
        None
    }
}

/// `5`, `*`, `a`, or an event code such as `10`, with spaces or quotes around it.
fn parse_signal(value: &str) -> Option<Digit> {
    let value = value.trim().trim_matches('"').trim();
    let mut chars = value.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => Digit::from_char(c),
        _ if value.bytes().all(|b| b.is_ascii_digit()) => {
            Digit::from_event_code(value.parse().ok()?)
        }
        _ => None,
    }
}

/// One RFC 4733 packet to send: its payload, and whether it starts a new event (marker
/// bit, new timestamp).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventPacket {
    pub payload: [u8; 4],
    pub first: bool,
}

/// Packets of tone per key (100 ms) and end packets after it (RFC 4733 2.5.1.4 sends the
/// end three times, as packets get lost).
const EVENT_TONE: u16 = 5;
const EVENT_ENDS: u16 = 3;
/// Volume field: -10 dBm0, a typical keypad level.
const EVENT_VOLUME: u8 = 10;

/// Keys to pass on across a bridge as RFC 4733 events, one packet per 20 ms tick.
#[derive(Debug, Default, Clone)]
pub struct EventSender {
    queue: std::collections::VecDeque<Digit>,
    current: Option<(Digit, u16)>,
}

impl EventSender {
    pub fn push(&mut self, digit: Digit) {
        if self.queue.len() < 32 {
            self.queue.push_back(digit);
        }
    }

    /// This tick's packet, or `None` when no key is being sent.
    pub fn next_packet(&mut self) -> Option<EventPacket> {
        if self.current.is_none() {
            self.current = self.queue.pop_front().map(|d| (d, 0));
        }
        let (digit, sent) = self.current.as_mut()?;
        *sent += 1;
        let n = *sent;
        let end = n > EVENT_TONE;
        let duration = n.min(EVENT_TONE) * FRAME_SAMPLES as u16;
        let payload = [
            *digit as u8,
            if end { 0x80 } else { 0 } | EVENT_VOLUME,
            (duration >> 8) as u8,
            duration as u8,
        ];
        if n >= EVENT_TONE + EVENT_ENDS {
            self.current = None;
        }
        Some(EventPacket {
            payload,
            first: n == 1,
        })
    }
}
