//! The media pacer: one task sends every call's due 20 ms frame on one tick, rather than
//! a task and a timer per call. It also reads what callers send, to learn where to send
//! back (symmetric RTP, for callers behind NAT).

use crate::core::media::g711::{ALAW_SILENCE, ULAW_SILENCE};
use crate::core::media::rtp::{RtpSender, FRAME_SAMPLES};
use crate::core::sdp::Codec;
use crate::core::sip::endpoint::CallRef;
use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;
use tokio::sync::mpsc;

#[derive(Debug)]
pub(super) enum MediaCmd {
    Start {
        call: CallRef,
        socket: UdpSocket,
        remote: Option<SocketAddr>,
        codec: Codec,
        sending: bool,
    },
    /// A re-INVITE moved or held the stream.
    Update {
        call: CallRef,
        remote: Option<SocketAddr>,
        sending: bool,
    },
    Stop {
        call: CallRef,
    },
}

struct Stream {
    socket: UdpSocket,
    remote: Option<SocketAddr>,
    sender: RtpSender,
    payload: [u8; FRAME_SAMPLES],
    sending: bool,
}

pub(super) type MediaHandle = mpsc::UnboundedSender<MediaCmd>;

pub(super) fn spawn() -> MediaHandle {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(pace(rx));
    tx
}

async fn pace(mut cmds: mpsc::UnboundedReceiver<MediaCmd>) {
    let mut streams: HashMap<CallRef, Stream> = HashMap::new();
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut packet = [0u8; 12 + FRAME_SAMPLES];
    let mut inbound = [0u8; 2048];
    loop {
        tokio::select! {
            cmd = cmds.recv() => match cmd {
                None => return,
                Some(MediaCmd::Start { call, socket, remote, codec, sending }) => {
                    let silence = match codec {
                        Codec::Pcmu => ULAW_SILENCE,
                        Codec::Pcma => ALAW_SILENCE,
                    };
                    let sender = RtpSender::new(rand::random(), rand::random(), rand::random(), codec.payload_type());
                    streams.insert(call, Stream { socket, remote, sender, payload: [silence; FRAME_SAMPLES], sending });
                }
                Some(MediaCmd::Update { call, remote, sending }) => {
                    if let Some(s) = streams.get_mut(&call) {
                        if remote.is_some() {
                            s.remote = remote;
                        }
                        if sending && !s.sending {
                            s.sender.new_talkspurt();
                        }
                        s.sending = sending;
                    }
                }
                Some(MediaCmd::Stop { call }) => {
                    streams.remove(&call);
                }
            },
            _ = tick.tick() => {
                for s in streams.values_mut() {
                    // Latch onto where the caller's packets come from.
                    while let Ok((_, from)) = s.socket.recv_from(&mut inbound) {
                        s.remote = Some(from);
                    }
                    let Some(remote) = s.remote.filter(|_| s.sending) else { continue };
                    let n = s.sender.packet(&s.payload, &mut packet);
                    let _ = s.socket.send_to(&packet[..n], remote);
                }
            }
        }
    }
}
