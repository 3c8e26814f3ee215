//! The contract between the switchboard and the media engine: what the switchboard asks
//! of a call's RTP stream, and what the engine reports back. The engine itself (a paced
//! thread with real sockets) lives in the runtime; tests stand in for it.

use crate::core::media::dtmf::Digit;
use crate::core::media::player::Clip;
use crate::core::sdp::Codec;
use crate::core::sip::endpoint::CallRef;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// RTP packets a stream received and sent, read when the call ends (stored on the call,
/// so one-way audio shows in the records). Shared with the engine, which counts.
#[derive(Debug, Default)]
pub struct RtpCounters {
    pub received: AtomicU64,
    pub sent: AtomicU64,
}

impl RtpCounters {
    pub fn read(&self) -> (i64, i64) {
        let get = |a: &AtomicU64| i64::try_from(a.load(Ordering::Relaxed)).unwrap_or(i64::MAX);
        (get(&self.received), get(&self.sent))
    }
}

/// What the switchboard asks of the media engine.
#[derive(Debug)]
pub enum MediaCmd {
    /// Opens the stream on `port` (already bound by the host, see [`super::Host`]).
    Start {
        call: CallRef,
        port: u16,
        remote: Option<SocketAddr>,
        codec: Codec,
        /// The peer's telephone-event payload type; without one, digits are listened
        /// for in the audio.
        telephone_event: Option<u8>,
        sending: bool,
        counters: Arc<RtpCounters>,
    },
    /// From now on, report [`MediaEvent::NoMedia`] when nothing arrives for the RTP
    /// timeout. Sent once the call is confirmed (ACK), so a lost ACK ends the call as
    /// the SIP timers say and not as silence.
    WatchRtp { call: CallRef },
    /// Plays clips now, replacing what was playing; `barge_in`: a key press stops them.
    Play {
        call: CallRef,
        clips: Vec<Clip>,
        barge_in: bool,
    },
    /// A key came by SIP INFO: barge-in as for one heard in the media.
    KeyPressed { call: CallRef },
    /// Music to loop when nothing else plays.
    Hold { call: CallRef, music: Option<Clip> },
    /// A re-INVITE or an answer moved or held the stream.
    Update {
        call: CallRef,
        remote: Option<SocketAddr>,
        sending: bool,
        /// A new codec (the answer in an ACK may pick PCMA).
        codec: Option<Codec>,
        /// The telephone-event payload type the peer's SDP names, if any.
        telephone_event: Option<u8>,
    },
    /// Records the call into this WAV file (its folder is created if missing).
    Record {
        call: CallRef,
        path: std::path::PathBuf,
    },
    /// Ends the call's recording (a voicemail is over).
    StopRecording { call: CallRef },
    /// Connects two calls: what each sends is played to the other (converted between
    /// PCMU and PCMA when their codecs differ). Prompts queued on a call still play first.
    Bridge { a: CallRef, b: CallRef },
    /// Disconnects a call from its bridge (both sides).
    Unbridge { call: CallRef },
    /// Sends a key to the call as RFC 4733 events (a key passed on across a bridge);
    /// dropped when the call has no telephone-event payload type.
    SendDigit { call: CallRef, digit: Digit },
    /// Closes the stream and its sockets.
    Stop { call: CallRef },
}

/// What the media engine reports.
impl MediaCmd {
    /// Where and how the far end of `call` wants media now, from its SDP; with its codec
    /// when that SDP settles one (an answer), without when it only moves or holds media.
    pub fn update_from(
        call: CallRef,
        sdp: &crate::core::sdp::Offer,
        settles_codec: bool,
    ) -> MediaCmd {
        MediaCmd::Update {
            call,
            remote: sdp.remote,
            sending: sdp.dir.sends(),
            codec: settles_codec.then_some(sdp.codec),
            telephone_event: sdp.telephone_event,
        }
    }
}

#[derive(Debug)]
pub enum MediaEvent {
    Digit {
        call: CallRef,
        digit: Digit,
        via: &'static str,
    },
    /// No RTP from the peer for the RTP timeout (only once watched).
    NoMedia { call: CallRef },
    /// What was queued to play has been played (hold music aside).
    PlaybackDone { call: CallRef },
}
