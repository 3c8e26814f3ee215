//! Call recording: a thread of its own writes one stereo WAV per call (left: the caller,
//! right: what the caller heard), so disk writes never delay the media clock. The file's
//! header is brought up to date every two seconds of audio, so a crash leaves a playable
//! file with at most that much missing.

use crate::core::sip::endpoint::CallRef;
use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::sync::mpsc;

/// Samples per channel between header updates (two seconds at 8 kHz).
const FLUSH_EVERY: usize = 16_000;
/// How far one side may run ahead before the other is padded with silence (jitter).
const MAX_SKEW: usize = 3_200;

#[derive(Debug)]
pub(super) enum RecCmd {
    Open {
        call: CallRef,
        path: PathBuf,
    },
    /// One tick's audio: what arrived from the caller, and what was sent to them.
    Samples {
        call: CallRef,
        caller: Vec<i16>,
        heard: Vec<i16>,
    },
    Close {
        call: CallRef,
    },
}

struct Recording {
    wav: hound::WavWriter<BufWriter<File>>,
    caller: VecDeque<i16>,
    heard: VecDeque<i16>,
    since_flush: usize,
    path: PathBuf,
}

/// Starts the recorder; it finishes every open file and ends when the sender is dropped.
pub(super) fn spawn() -> (mpsc::Sender<RecCmd>, std::thread::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::Builder::new()
        .name("hotline-recorder".into())
        .spawn(move || run(rx))
        .expect("starting the recorder thread");
    (tx, handle)
}

fn run(rx: mpsc::Receiver<RecCmd>) {
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut open: HashMap<CallRef, Recording> = HashMap::new();
    while let Ok(cmd) = rx.recv() {
        match cmd {
            RecCmd::Open { call, path } => match hound::WavWriter::create(&path, spec) {
                Ok(wav) => {
                    open.insert(
                        call,
                        Recording {
                            wav,
                            caller: VecDeque::new(),
                            heard: VecDeque::new(),
                            since_flush: 0,
                            path,
                        },
                    );
                }
                Err(e) => tracing::error!(%e, path = %path.display(), "cannot create recording"),
            },
            RecCmd::Samples {
                call,
                caller,
                heard,
            } => {
                if let Some(r) = open.get_mut(&call) {
                    r.caller.extend(caller);
                    r.heard.extend(heard);
                    if let Err(e) = r.write() {
                        tracing::error!(%e, path = %r.path.display(), "recording write failed; recording stopped");
                        open.remove(&call);
                    }
                }
            }
            RecCmd::Close { call } => {
                if let Some(r) = open.remove(&call) {
                    r.finish();
                }
            }
        }
    }
    for (_, r) in open.drain() {
        r.finish();
    }
}

impl Recording {
    /// Writes what is left and the final header.
    fn finish(mut self) {
        let pad = self.caller.len().max(self.heard.len());
        self.caller.resize(pad, 0);
        self.heard.resize(pad, 0);
        let path = self.path.clone();
        if let Err(e) = self.write().and_then(|_| self.wav.finalize()) {
            tracing::error!(%e, path = %path.display(), "recording not finalised");
        }
    }

    /// Writes what both sides have, padding a side that fell too far behind.
    fn write(&mut self) -> Result<(), hound::Error> {
        if self.caller.len() > self.heard.len() + MAX_SKEW {
            let n = self.caller.len() - self.heard.len();
            self.heard.extend(std::iter::repeat_n(0, n));
        } else if self.heard.len() > self.caller.len() + MAX_SKEW {
            let n = self.heard.len() - self.caller.len();
            self.caller.extend(std::iter::repeat_n(0, n));
        }
        let n = self.caller.len().min(self.heard.len());
        for (l, r) in self.caller.drain(..n).zip(self.heard.drain(..n)) {
            self.wav.write_sample(l)?;
            self.wav.write_sample(r)?;
        }
        self.since_flush += n;
        if self.since_flush >= FLUSH_EVERY {
            self.since_flush = 0;
            self.wav.flush()?;
        }
        Ok(())
    }
}
