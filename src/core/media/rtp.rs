//! An outgoing RTP stream (RFC 3550): SSRC, sequence and timestamp stay continuous
//! across whatever is played, and the marker bit flags the start of a talkspurt.

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
