//! The media engine: one OS thread paces every call's 20 ms frames on one clock (no task
//! or timer per call), reads what callers send, and turns it into events. Reading what
//! arrives also tells where to send (symmetric RTP, for callers behind NAT) and when a
//! caller has gone silent for good.
//!
//! A thread rather than a tokio task: it sleeps to absolute deadlines, so its packets
//! keep their 20 ms spacing whatever the async side is doing.

use super::recorder::{self, RecCmd};
use super::Event;
use crate::core::media::dtmf::{EventSender, Rfc4733Receiver};
use crate::core::media::g711::{
    alaw_to_linear, linear_to_alaw, linear_to_ulaw, ulaw_to_linear, ALAW_SILENCE, ULAW_SILENCE,
};
use crate::core::media::goertzel::InbandDetector;
use crate::core::media::player::{Frame, Player};
use crate::core::media::rtp::{reported_lost, ReceiveStats, RtpSender, FRAME_SAMPLES};
use crate::core::sdp::Codec;
use crate::core::sip::endpoint::CallRef;
use crate::metrics::RtpTally;
use crate::switchboard::{MediaCmd, MediaEvent, RtpCounters};
use std::collections::{BTreeMap, VecDeque};
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::Ordering;
use std::sync::mpsc as std_mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

const TICK: Duration = Duration::from_millis(20);

/// Ticks between reads of the RTCP sockets, and between updates of the RTP metrics
/// (one second).
const RTCP_EVERY: u64 = 50;
/// Frames of a bridged peer's audio held for sending: enough to ride out jitter, few
/// enough that a burst does not turn into lasting delay (oldest are dropped).
const RELAY_DEPTH: usize = 5;

struct Stream {
    socket: UdpSocket,
    rtcp: UdpSocket,
    remote: Option<SocketAddr>,
    codec: Codec,
    telephone_event: Option<u8>,
    sender: RtpSender,
    player: Player,
    /// Whether a key press stops what is playing.
    barge_in: bool,
    sending: bool,
    silence: [u8; FRAME_SAMPLES],
    rfc4733: Rfc4733Receiver,
    inband: Option<InbandDetector>,
    last_rx: Instant,
    /// Silence counts only once the call is confirmed ([`MediaCmd::WatchRtp`]).
    watched: bool,
    timed_out: bool,
    /// While recording: this tick's audio from the caller and to the caller.
    rec: Option<(Vec<i16>, Vec<i16>)>,
    /// The call this one is bridged to, and its audio waiting to be sent here.
    bridge: Option<CallRef>,
    relay: VecDeque<(Codec, [u8; FRAME_SAMPLES])>,
    /// Keys waiting to be sent as telephone-events.
    keys: EventSender,
    counters: Arc<RtpCounters>,
    /// Losses and late packets of what the caller sends.
    received: ReceiveStats,
    /// What the far end's last RTCP report says it lost of what we send.
    lost_out: u64,
    /// What of this stream's figures the metrics already have.
    tallied: RtpTally,
}

impl Stream {
    /// This stream's figures since they were last taken for the metrics.
    fn untallied(&mut self) -> RtpTally {
        let (received, sent) = self.counters.read();
        let now = RtpTally {
            packets_in: received as u64,
            packets_out: sent as u64,
            lost_in: self.received.lost(),
            lost_out: self.lost_out,
            late: self.received.late(),
        };
        let was = std::mem::replace(&mut self.tallied, now);
        // Losses may fall (a late packet came, a report corrected itself): only rises
        // count, and a fall is made up before anything new counts.
        self.tallied.lost_in = now.lost_in.max(was.lost_in);
        self.tallied.lost_out = now.lost_out.max(was.lost_out);
        RtpTally {
            packets_in: now.packets_in.saturating_sub(was.packets_in),
            packets_out: now.packets_out.saturating_sub(was.packets_out),
            lost_in: now.lost_in.saturating_sub(was.lost_in),
            lost_out: now.lost_out.saturating_sub(was.lost_out),
            late: now.late.saturating_sub(was.late),
        }
    }
}

/// A frame of one call's audio on its way to the bridged call.
struct Forward {
    to: CallRef,
    codec: Codec,
    frame: [u8; FRAME_SAMPLES],
}

/// A command, with the RTP and RTCP sockets when it starts a stream.
pub(super) type MediaHandle = std_mpsc::Sender<(MediaCmd, Option<[UdpSocket; 2]>)>;

/// The media thread; joining it waits until recordings are finished too.
pub(super) type MediaThread = std::thread::JoinHandle<()>;

/// Starts the media thread; it ends when every handle is dropped.
pub(super) fn spawn(
    events: mpsc::UnboundedSender<Event>,
    rtp_timeout: Option<Duration>,
) -> (MediaHandle, MediaThread) {
    let (tx, rx) = std_mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("hotline-media".into())
        .spawn(move || {
            raise_priority();
            let (recorder, recorder_thread) = recorder::spawn();
            run(rx, events, rtp_timeout, recorder);
            let _ = recorder_thread.join();
        })
        .expect("starting the media thread");
    (tx, thread)
}

/// Asks for real-time scheduling so the 20 ms deadlines hold when the core is busy; the
/// thread sleeps most of each tick, so others still run. Without the privilege it stays
/// an ordinary thread.
fn raise_priority() {
    use thread_priority::{
        set_thread_priority_and_policy, thread_native_id, RealtimeThreadSchedulePolicy,
        ThreadPriority, ThreadSchedulePolicy,
    };
    let policy = ThreadSchedulePolicy::Realtime(RealtimeThreadSchedulePolicy::Fifo);
    let priority = ThreadPriority::Crossplatform(50u8.try_into().unwrap_or_default());
    match set_thread_priority_and_policy(thread_native_id(), priority, policy) {
        Ok(()) => tracing::debug!("media thread runs with real-time priority"),
        Err(e) => tracing::info!(?e, "media thread keeps normal priority"),
    }
}

fn run(
    cmds: std_mpsc::Receiver<(MediaCmd, Option<[UdpSocket; 2]>)>,
    events: mpsc::UnboundedSender<Event>,
    rtp_timeout: Option<Duration>,
    recorder: std_mpsc::Sender<RecCmd>,
) {
    let mut streams: BTreeMap<CallRef, Stream> = BTreeMap::new();
    let mut packet = [0u8; 12 + FRAME_SAMPLES];
    let mut inbound = [0u8; 2048];
    let mut pcm = [0i16; 2048];
    let mut next = Instant::now() + TICK;
    let mut ticks: u64 = 0;
    let mut forwards: Vec<Forward> = Vec::new();
    // Figures of streams closed since the metrics were last updated.
    let mut closed = RtpTally::default();
    loop {
        ticks += 1;
        // Send first, right on the tick, so each stream keeps its 20 ms spacing whatever
        // the rest of the tick costs; streams go in call order, which does not change.
        for (&call, s) in streams.iter_mut() {
            let was_playing = s.player.is_playing();
            transmit(s, &mut packet);
            if was_playing && !s.player.is_playing() {
                let _ = events.send(Event::Media(MediaEvent::PlaybackDone { call }));
            }
        }
        let now = Instant::now();
        for (&call, s) in streams.iter_mut() {
            receive(call, s, now, &mut inbound, &mut pcm, &events, &mut forwards);
            if ticks.is_multiple_of(RTCP_EVERY) {
                // RTCP reports (one every few seconds) are read so they do not pile up;
                // only what the far end lost of our stream is kept.
                while let Ok((n, _)) = s.rtcp.recv_from(&mut inbound) {
                    if let Some(lost) = reported_lost(&inbound[..n], s.sender.ssrc()) {
                        s.lost_out = u64::from(lost);
                    }
                }
            }
            if let Some(limit) = rtp_timeout {
                if s.watched && !s.timed_out && now.duration_since(s.last_rx) >= limit {
                    s.timed_out = true;
                    let _ = events.send(Event::Media(MediaEvent::NoMedia { call }));
                }
            }
            if let Some((caller, heard)) = s.rec.as_mut() {
                let _ = recorder.send(RecCmd::Samples {
                    call,
                    caller: std::mem::take(caller),
                    heard: std::mem::replace(heard, Vec::with_capacity(FRAME_SAMPLES)),
                });
            }
        }
        if ticks.is_multiple_of(RTCP_EVERY) {
            let mut tally = std::mem::take(&mut closed);
            for s in streams.values_mut() {
                tally += s.untallied();
            }
            tally.record();
        }
        for f in forwards.drain(..) {
            if let Some(peer) = streams.get_mut(&f.to).filter(|p| p.bridge.is_some()) {
                if peer.relay.len() >= RELAY_DEPTH {
                    peer.relay.pop_front();
                }
                peer.relay.push_back((f.codec, f.frame));
            }
        }
        loop {
            match cmds.try_recv() {
                Ok((cmd, sockets)) => apply(&mut streams, cmd, sockets, &recorder, &mut closed),
                Err(std_mpsc::TryRecvError::Empty) => break,
                Err(std_mpsc::TryRecvError::Disconnected) => {
                    for s in streams.values_mut() {
                        closed += s.untallied();
                    }
                    return closed.record();
                }
            }
        }
        next += TICK;
        let now = Instant::now();
        if next + TICK * 5 < now {
            // We fell far behind (the machine stalled): restart the clock rather than burst.
            next = now + TICK;
        }
        std::thread::sleep(next.saturating_duration_since(now));
    }
}

fn apply(
    streams: &mut BTreeMap<CallRef, Stream>,
    cmd: MediaCmd,
    sockets: Option<[UdpSocket; 2]>,
    recorder: &std_mpsc::Sender<RecCmd>,
    closed: &mut RtpTally,
) {
    match cmd {
        MediaCmd::Start {
            call,
            port: _,
            remote,
            codec,
            telephone_event,
            sending,
            counters,
        } => {
            let Some([socket, rtcp]) = sockets else {
                return;
            };
            let silence = silence_of(codec);
            let sender = RtpSender::new(
                rand::random(),
                rand::random(),
                rand::random(),
                codec.payload_type(),
            );
            let replaced = streams.insert(
                call,
                Stream {
                    socket,
                    rtcp,
                    remote,
                    codec,
                    telephone_event,
                    sender,
                    player: Player::default(),
                    barge_in: true,
                    sending,
                    silence: [silence; FRAME_SAMPLES],
                    rfc4733: Rfc4733Receiver::new(),
                    inband: telephone_event.is_none().then(InbandDetector::new),
                    last_rx: Instant::now(),
                    watched: false,
                    timed_out: false,
                    rec: None,
                    bridge: None,
                    relay: VecDeque::new(),
                    keys: EventSender::default(),
                    counters,
                    received: ReceiveStats::default(),
                    lost_out: 0,
                    tallied: RtpTally::default(),
                },
            );
            if let Some(mut old) = replaced {
                *closed += old.untallied();
            }
        }
        MediaCmd::WatchRtp { call } => {
            if let Some(s) = streams.get_mut(&call) {
                s.watched = true;
                s.last_rx = Instant::now();
            }
        }
        MediaCmd::Play {
            call,
            clips,
            barge_in,
        } => {
            if let Some(s) = streams.get_mut(&call) {
                s.player.play(clips);
                s.barge_in = barge_in;
            }
        }
        MediaCmd::KeyPressed { call } => {
            if let Some(s) = streams.get_mut(&call).filter(|s| s.barge_in) {
                s.player.stop();
            }
        }
        MediaCmd::Hold { call, music } => {
            if let Some(s) = streams.get_mut(&call) {
                s.player.set_hold(music);
            }
        }
        MediaCmd::Update {
            call,
            remote,
            sending,
            codec,
            telephone_event,
        } => {
            if let Some(s) = streams.get_mut(&call) {
                if telephone_event.is_some() {
                    // Keys now come as events; listening in the audio too would hear
                    // a phone that also plays the tone twice.
                    s.telephone_event = telephone_event;
                    s.inband = None;
                }
                if remote.is_some() {
                    s.remote = remote;
                }
                s.sending = sending;
                if let Some(codec) = codec.filter(|c| *c != s.codec) {
                    s.codec = codec;
                    s.silence = [silence_of(codec); FRAME_SAMPLES];
                    s.sender.set_payload_type(codec.payload_type());
                }
            }
        }
        MediaCmd::Record { call, path } => {
            if let Some(s) = streams.get_mut(&call) {
                let _ = recorder.send(RecCmd::Open { call, path });
                s.rec = Some((Vec::new(), Vec::new()));
            }
        }
        MediaCmd::StopRecording { call } => {
            if let Some(s) = streams.get_mut(&call) {
                if s.rec.take().is_some() {
                    let _ = recorder.send(RecCmd::Close { call });
                }
            }
        }
        MediaCmd::Bridge { a, b } => {
            if streams.contains_key(&a) && streams.contains_key(&b) && a != b {
                for (x, y) in [(a, b), (b, a)] {
                    if let Some(s) = streams.get_mut(&x) {
                        s.bridge = Some(y);
                        s.relay.clear();
                    }
                }
            }
        }
        MediaCmd::Unbridge { call } => unbridge(streams, call),
        MediaCmd::SendDigit { call, digit } => {
            if let Some(s) = streams
                .get_mut(&call)
                .filter(|s| s.telephone_event.is_some())
            {
                s.keys.push(digit);
            }
        }
        MediaCmd::Stop { call } => {
            unbridge(streams, call);
            if let Some(mut s) = streams.remove(&call) {
                *closed += s.untallied();
                if s.rec.is_some() {
                    let _ = recorder.send(RecCmd::Close { call });
                }
            }
        }
    }
}

/// Ends `call`'s bridge on both sides.
fn unbridge(streams: &mut BTreeMap<CallRef, Stream>, call: CallRef) {
    let peer = streams.get_mut(&call).and_then(|s| {
        s.relay.clear();
        s.bridge.take()
    });
    if let Some(p) = peer.and_then(|p| streams.get_mut(&p)) {
        p.bridge = None;
        p.relay.clear();
    }
}

/// One G.711 frame in another codec (µ-law and A-law differ only in companding, so the
/// conversion goes through linear samples).
fn transcode(from: Codec, to: Codec, frame: &[u8; FRAME_SAMPLES]) -> [u8; FRAME_SAMPLES] {
    if from == to {
        return *frame;
    }
    let mut out = [0u8; FRAME_SAMPLES];
    for (o, &b) in out.iter_mut().zip(frame) {
        *o = match (from, to) {
            (Codec::Pcmu, _) => linear_to_alaw(ulaw_to_linear(b)),
            (Codec::Pcma, _) => linear_to_ulaw(alaw_to_linear(b)),
        };
    }
    out
}

/// G.711 to linear, into `out`; returns the decoded part.
fn decode<'a>(codec: Codec, payload: &[u8], out: &'a mut [i16]) -> &'a [i16] {
    let n = payload.len().min(out.len());
    for (o, &b) in out[..n].iter_mut().zip(payload) {
        *o = match codec {
            Codec::Pcmu => ulaw_to_linear(b),
            Codec::Pcma => alaw_to_linear(b),
        };
    }
    &out[..n]
}

fn silence_of(codec: Codec) -> u8 {
    match codec {
        Codec::Pcmu => ULAW_SILENCE,
        Codec::Pcma => ALAW_SILENCE,
    }
}

/// Reads everything the caller sent since the last tick.
fn receive(
    call: CallRef,
    s: &mut Stream,
    now: Instant,
    buf: &mut [u8],
    pcm: &mut [i16],
    events: &mpsc::UnboundedSender<Event>,
    forwards: &mut Vec<Forward>,
) {
    while let Ok((n, from)) = s.socket.recv_from(buf) {
        let Ok(rtp) = rtp_rs::RtpReader::new(&buf[..n]) else {
            continue; // not RTP (or RTCP on a muxed port): ignored
        };
        s.remote = Some(from);
        s.counters.received.fetch_add(1, Ordering::Relaxed);
        s.received
            .on_packet(rtp.ssrc(), u16::from(rtp.sequence_number()));
        s.last_rx = now;
        s.timed_out = false;
        let pt = rtp.payload_type();
        if let (Some(to), true) = (s.bridge, pt == s.codec.payload_type()) {
            // Bridged audio goes on in 20 ms frames, whatever the sender's packet size.
            for chunk in rtp.payload().chunks(FRAME_SAMPLES) {
                let mut frame = [silence_of(s.codec); FRAME_SAMPLES];
                frame[..chunk.len()].copy_from_slice(chunk);
                forwards.push(Forward {
                    to,
                    codec: s.codec,
                    frame,
                });
            }
        }
        let digit = if Some(pt) == s.telephone_event {
            s.rfc4733
                .on_packet_at(
                    now,
                    u16::from(rtp.sequence_number()),
                    rtp.timestamp(),
                    rtp.mark(),
                    rtp.payload(),
                )
                .map(|d| (d, "rfc4733"))
        } else if pt == s.codec.payload_type() && (s.inband.is_some() || s.rec.is_some()) {
            let samples = decode(s.codec, rtp.payload(), pcm);
            if let Some((caller, _)) = s.rec.as_mut() {
                caller.extend_from_slice(samples);
            }
            s.inband
                .as_mut()
                .and_then(|det| det.push(samples))
                .map(|d| (d, "inband"))
        } else {
            None
        };
        if let Some((digit, via)) = digit {
            metrics::counter!(crate::metrics::DTMF, "method" => via).increment(1);
            // Barge-in: a key press stops the prompt that is playing.
            if s.barge_in {
                s.player.stop();
            }
            let _ = events.send(Event::Media(MediaEvent::Digit { call, digit, via }));
        }
    }
}

/// Sends this tick's frame.
fn transmit(s: &mut Stream, packet: &mut [u8]) {
    let Some(remote) = s.remote.filter(|_| s.sending) else {
        s.sender.skip_frame();
        if let Some((_, heard)) = s.rec.as_mut() {
            heard.extend_from_slice(&[0; FRAME_SAMPLES]);
        }
        return;
    };
    if let (Some(pt), Some(ev)) = (s.telephone_event, s.keys.next_packet()) {
        // A key passed on: telephone-events replace this tick's audio.
        let n = s.sender.event(pt, &ev, packet);
        if s.socket.send_to(&packet[..n], remote).is_ok() {
            s.counters.sent.fetch_add(1, Ordering::Relaxed);
        }
        if let Some((_, heard)) = s.rec.as_mut() {
            heard.extend_from_slice(&[0; FRAME_SAMPLES]);
        }
        return;
    }
    if s.bridge.is_some() && !s.player.is_playing() {
        let n = match s.relay.pop_front() {
            Some((codec, frame)) => s.sender.packet(&transcode(codec, s.codec, &frame), packet),
            None => s.sender.packet(&s.silence, packet),
        };
        if s.socket.send_to(&packet[..n], remote).is_ok() {
            s.counters.sent.fetch_add(1, Ordering::Relaxed);
        }
        if let Some((_, heard)) = s.rec.as_mut() {
            let mut pcm = [0i16; FRAME_SAMPLES];
            heard.extend_from_slice(decode(s.codec, &packet[12..n], &mut pcm));
        }
        return;
    }
    let n = match s.player.next_frame() {
        Frame::Audio { payload, start } => {
            if start {
                s.sender.new_talkspurt();
            }
            s.sender.packet(payload, packet)
        }
        Frame::Silence => s.sender.packet(&s.silence, packet),
    };
    if s.socket.send_to(&packet[..n], remote).is_ok() {
        s.counters.sent.fetch_add(1, Ordering::Relaxed);
    }
    if let Some((_, heard)) = s.rec.as_mut() {
        let mut pcm = [0i16; FRAME_SAMPLES];
        heard.extend_from_slice(decode(s.codec, &packet[12..n], &mut pcm));
    }
}
