//! What a call hears, frame by frame: a queue of encoded clips, then hold music on a
//! loop, or silence. The pacer asks for one 20 ms frame per tick; the RTP sender keeps
//! sequence and timestamp continuous across clips and silence, and the player says when
//! a talkspurt starts so the marker bit can be set.

use super::rtp::FRAME_SAMPLES;
use std::collections::VecDeque;
use std::sync::Arc;

/// Encoded audio (one byte per sample, G.711), shared by every call that plays it.
pub type Clip = Arc<[u8]>;

#[derive(Debug, Default)]
pub struct Player {
    queue: VecDeque<Clip>,
    pos: usize,
    hold: Option<Clip>,
    hold_pos: usize,
    /// Whether the last frame was audio (for talkspurt marking).
    talking: bool,
}

/// One frame to send.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// Audio; `start` marks the first frame after silence (RTP marker bit).
    Audio { payload: &'a [u8], start: bool },
    /// Nothing to play: the caller hears silence.
    Silence,
}

impl Player {
    /// Plays `clips` after whatever is queued.
    pub fn enqueue(&mut self, clips: impl IntoIterator<Item = Clip>) {
        self.queue
            .extend(clips.into_iter().filter(|c| !c.is_empty()));
    }

    /// Replaces everything queued with `clips` (a new prompt interrupts the old one).
    pub fn play(&mut self, clips: impl IntoIterator<Item = Clip>) {
        self.stop();
        self.enqueue(clips);
    }

    /// Barge-in: drops what is queued; hold music, if set, resumes.
    pub fn stop(&mut self) {
        self.queue.clear();
        self.pos = 0;
    }

    /// Music to loop when nothing else is queued; `None` for silence.
    pub fn set_hold(&mut self, hold: Option<Clip>) {
        self.hold = hold.filter(|c| !c.is_empty());
        self.hold_pos = 0;
    }

    /// Whether a queued clip is still playing (hold music does not count).
    pub fn is_playing(&self) -> bool {
        !self.queue.is_empty()
    }

    /// The next 20 ms.
    pub fn next_frame(&mut self) -> Frame<'_> {
        let start = !self.talking;
        // Clips are whole frames; a ragged end is dropped rather than padded here.
        while let Some(clip) = self.queue.front() {
            if self.pos + FRAME_SAMPLES <= clip.len() {
                break;
            }
            self.queue.pop_front();
            self.pos = 0;
        }
        if let Some(clip) = self.queue.front() {
            let at = self.pos;
            self.pos += FRAME_SAMPLES;
            self.talking = true;
            return Frame::Audio {
                payload: &clip[at..at + FRAME_SAMPLES],
                start,
            };
        }
        if let Some(hold) = &self.hold {
            if hold.len() >= FRAME_SAMPLES {
                if self.hold_pos + FRAME_SAMPLES > hold.len() {
                    self.hold_pos = 0;
                }
                let at = self.hold_pos;
                self.hold_pos += FRAME_SAMPLES;
                self.talking = true;
                return Frame::Audio {
                    payload: &hold[at..at + FRAME_SAMPLES],
                    start,
                };
            }
        }
        self.talking = false;
        Frame::Silence
    }
}
