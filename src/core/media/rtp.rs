//! An outgoing RTP stream (RFC 3550): SSRC, sequence and timestamp stay continuous
//! across whatever is played, and the marker bit flags the start of a talkspurt. And
//! what a stream lost: ours in from sequence numbers, ours out from RTCP reports.

use rtp_rs::{RtpPacketBuilder, Seq};

/// Samples in one 20 ms G.711 frame at 8 kHz.
pub const FRAME_SAMPLES: usize = 160;

#[derive(Debug, Clone)]
pub struct RtpSender {
    ssrc: u32,
    seq: u16,
    timestamp: u32,
    payload_type: u8,
    talkspurt: bool,
    /// Timestamp of the telephone-event being sent (all its packets carry it).
    event_timestamp: u32,
}

impl RtpSender {
    pub fn new(ssrc: u32, first_seq: u16, first_timestamp: u32, payload_type: u8) -> Self {
        RtpSender {
            ssrc,
            seq: first_seq,
            timestamp: first_timestamp,
            payload_type,
            talkspurt: true,
            event_timestamp: first_timestamp,
        }
    }

    /// Our SSRC, which the far end's RTCP reports name.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// Switches codec mid-stream (the SDP answer chose another one).
    pub fn set_payload_type(&mut self, payload_type: u8) {
        self.payload_type = payload_type;
    }

    /// Marks the next packet as the start of a talkspurt.
    pub fn new_talkspurt(&mut self) {
        self.talkspurt = true;
    }

    /// A 20 ms frame not sent (on hold): the timestamp keeps pace with the clock, and
    /// the next packet starts a talkspurt (RFC 3550 5.1).
    pub fn skip_frame(&mut self) {
        self.timestamp = self.timestamp.wrapping_add(FRAME_SAMPLES as u32);
        self.talkspurt = true;
    }

    /// Writes the next 20 ms packet carrying `payload` into `buf`; returns its length.
    pub fn packet(&mut self, payload: &[u8], buf: &mut [u8]) -> usize {
        let n = RtpPacketBuilder::new()
            .payload_type(self.payload_type)
            .ssrc(self.ssrc)
            .sequence(Seq::from(self.seq))
            .timestamp(self.timestamp)
            .marked(self.talkspurt)
            .payload(payload)
            .build_into(buf)
            .unwrap_or(0);
        self.talkspurt = false;
        self.seq = self.seq.wrapping_add(1);
        self.timestamp = self.timestamp.wrapping_add(FRAME_SAMPLES as u32);
        n
    }

    /// Writes this tick's RFC 4733 packet (payload type `pt`) into `buf`: an event's
    /// packets share the timestamp of its start, and audio after it starts a talkspurt.
    pub fn event(
        &mut self,
        pt: u8,
        ev: &crate::core::media::dtmf::EventPacket,
        buf: &mut [u8],
    ) -> usize {
        if ev.first {
            self.event_timestamp = self.timestamp;
        }
        let n = RtpPacketBuilder::new()
            .payload_type(pt)
            .ssrc(self.ssrc)
            .sequence(Seq::from(self.seq))
            .timestamp(self.event_timestamp)
            .marked(ev.first)
            .payload(&ev.payload)
            .build_into(buf)
            .unwrap_or(0);
        self.seq = self.seq.wrapping_add(1);
        self.timestamp = self.timestamp.wrapping_add(FRAME_SAMPLES as u32);
        self.talkspurt = true;
        n
    }
}

/// Sequence numbers further ahead than this are a restarted stream, not a loss
/// (RFC 3550 A.1's MAX_DROPOUT).
const MAX_DROPOUT: i32 = 3000;
/// Sequence numbers at most this far behind are late packets, not a restart
/// (RFC 3550 A.1's MAX_MISORDER).
const MAX_MISORDER: i32 = 100;

/// What an incoming RTP stream lost and delivered late, counted from sequence numbers
/// as RFC 3550 A.3 does: expected (highest minus first, plus one) less received. A
/// packet older than one already received is late (a player would have skipped it),
/// and still not lost. A new SSRC or a jump of more than [`MAX_DROPOUT`] starts a new
/// run, keeping what the old one lost.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReceiveStats {
    run: Option<Run>,
    lost_before: u64,
    late: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Run {
    ssrc: u32,
    /// Extended sequence numbers (wraps counted): the first of the run and the highest.
    first: i64,
    highest: i64,
    /// Distinct packets received in the run.
    received: u64,
}

impl Run {
    fn lost(&self) -> u64 {
        let expected = (self.highest - self.first + 1) as u64;
        expected.saturating_sub(self.received)
    }
}

impl ReceiveStats {
    /// One RTP packet arrived.
    pub fn on_packet(&mut self, ssrc: u32, seq: u16) {
        let Some(run) = self.run.as_mut().filter(|r| r.ssrc == ssrc) else {
            return self.restart(ssrc, seq);
        };
        // Serial-number distance from the highest so far, -32768..=32767.
        let delta = i32::from(seq.wrapping_sub(run.highest as u16) as i16);
        if delta > 0 && delta <= MAX_DROPOUT {
            run.highest += i64::from(delta);
            run.received += 1;
        } else if (-MAX_MISORDER..=0).contains(&delta) {
            self.late += 1;
            // Late but not a duplicate of the highest, and within the run: it arrived.
            if delta < 0 && run.highest + i64::from(delta) >= run.first {
                run.received += 1;
            }
        } else {
            self.restart(ssrc, seq);
        }
    }

    fn restart(&mut self, ssrc: u32, seq: u16) {
        self.lost_before += self.run.as_ref().map_or(0, Run::lost);
        self.run = Some(Run {
            ssrc,
            first: i64::from(seq),
            highest: i64::from(seq),
            received: 1,
        });
    }

    /// Packets never received so far; it can fall when a late one arrives.
    pub fn lost(&self) -> u64 {
        self.lost_before + self.run.as_ref().map_or(0, Run::lost)
    }

    /// Packets that came after a newer one (reordered or repeated).
    pub fn late(&self) -> u64 {
        self.late
    }
}

/// The cumulative number of packets lost that the far end reports for our stream
/// `ssrc` in an RTCP compound packet (a report block of an SR or RR, RFC 3550 6.4), if
/// it has one. Negative values (duplicates) read as zero.
pub fn reported_lost(rtcp: &[u8], ssrc: u32) -> Option<u32> {
    let mut rest = rtcp;
    while rest.len() >= 8 {
        let words = usize::from(u16::from_be_bytes([rest[2], rest[3]]));
        let (packet, next) = rest.split_at(((words + 1) * 4).min(rest.len()));
        let blocks = usize::from(packet[0] & 0x1f);
        // Report blocks follow the sender's SSRC (RR) or its sender info too (SR).
        let start = match packet[1] {
            200 => 28,
            201 => 8,
            _ => {
                rest = next;
                continue;
            }
        };
        for i in 0..blocks {
            let Some(block) = packet.get(start + i * 24..start + (i + 1) * 24) else {
                break;
            };
            if block[..4] == ssrc.to_be_bytes() {
                let lost = i32::from_be_bytes([block[5], block[6], block[7], 0]) >> 8;
                return Some(lost.max(0) as u32);
            }
        }
        rest = next;
    }
    None
}

#[cfg(test)]
mod receive_tests {
    use super::*;

    fn fed(ssrc: u32, seqs: &[u16]) -> ReceiveStats {
        let mut s = ReceiveStats::default();
        for &seq in seqs {
            s.on_packet(ssrc, seq);
        }
        s
    }

    #[test]
    fn gaps_are_lost_and_reordered_packets_late() {
        let s = fed(7, &[10, 11, 13, 14, 17]);
        assert_eq!((s.lost(), s.late()), (3, 0));
        // 12 arrives after 13: late, and no longer lost
        let s = fed(7, &[10, 11, 13, 12, 14]);
        assert_eq!((s.lost(), s.late()), (0, 1));
        // a repeat is late and changes nothing else
        let s = fed(7, &[10, 11, 11, 12]);
        assert_eq!((s.lost(), s.late()), (0, 1));
    }

    #[test]
    fn sequence_numbers_wrap_and_restarts_keep_earlier_losses() {
        let s = fed(7, &[65534, 65535, 1, 2]);
        assert_eq!(s.lost(), 1, "0 is missing across the wrap");
        let mut s = fed(7, &[100, 102]);
        s.on_packet(8, 5000); // a new source
        s.on_packet(8, 5002);
        assert_eq!(s.lost(), 2);
        s.on_packet(8, 40000); // a far jump: restarted
        s.on_packet(8, 40001);
        assert_eq!((s.lost(), s.late()), (2, 0));
    }

    #[test]
    fn the_far_end_reports_what_it_lost_of_our_stream() {
        // RR from SSRC 1 with two blocks: someone else's stream, then ours (0xabcd)
        let mut rr = vec![0x82, 201, 0, 13, 0, 0, 0, 1];
        for (ssrc, lost) in [(0x1234u32, [0, 0, 9]), (0xabcd, [0, 1, 2])] {
            rr.extend(ssrc.to_be_bytes());
            rr.push(0); // fraction lost
            rr.extend(lost);
            rr.extend([0; 16]);
        }
        assert_eq!(reported_lost(&rr, 0xabcd), Some(258));
        assert_eq!(reported_lost(&rr, 0x9999), None);
        // the same block behind an SDES in a compound packet
        let mut compound = vec![0x81, 202, 0, 1, 0, 0, 0, 1];
        compound.extend(&rr);
        assert_eq!(reported_lost(&compound, 0xabcd), Some(258));
        assert_eq!(reported_lost(&rr[..20], 0xabcd), None, "cut short");
    }
}
