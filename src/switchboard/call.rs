//! A customer's call: arrival record, answer (after the ring delay and once the arrival
//! record is committed, so no answered call can lack a record), keys, media events and
//! the end. Agents' feature-code calls take the same path without a record.

use super::ivr::start_session;
use super::timers::Due;
use super::{Host, MediaCmd, MediaEvent, Output, RtpCounters, Switchboard, DEFAULT_LANGUAGE};
use crate::core::media::dtmf::{self, Digit};
use crate::core::media::player::Clip;
use crate::core::sdp::{Codec, LocalMedia, Offer};
use crate::core::sip::endpoint::{CallRef, EndCause, Event, IncomingCall, Link};
use crate::ivr::{Input as IvrInput, Waiting};
use crate::store::{AgentWrite, CallIvr, Write};
use rand::Rng;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

pub(super) struct Call {
    /// The record's id.
    pub id: String,
    /// The caller's and the dialled number (personal data: kept in memory, never logged).
    pub caller: String,
    called: String,
    pub codec: Codec,
    /// The dial plan session, once answered (none when no plan answers the number).
    pub ivr: Option<crate::ivr::Session>,
    /// Last call_events sequence number used.
    events: i64,
    pub span: tracing::Span,
    pub local_ip: IpAddr,
    /// When the INVITE came (orders the caller among equal priorities in a queue).
    pub arrived: Instant,
    /// When the INVITE came, ms since the Unix epoch (as on the record).
    pub arrived_ms: i64,
    /// An agent's feature-code call: the prompt confirming it; no call record is kept.
    feature: Option<&'static str>,
    /// The agent who took the call (for survey answers), and whether they hung up first.
    pub agent: Option<String>,
    pub agent_left: bool,
    /// Legs to agents so far (call_legs.seq).
    pub legs: i64,
    /// The call has waited in a queue.
    pub was_queued: bool,
    /// The caller's recorded message or description (path), for the follow-up it goes on.
    pub message: Option<String>,
    /// RTP packets to and from the caller, once media started.
    rtp: Option<Arc<RtpCounters>>,
    /// `None` when the INVITE had no SDP: our 200 offers, the ACK answers.
    offer: Option<Offer>,
    /// The arrival record is committed.
    pub committed: bool,
    /// The caller is on the blocklist: answered with the refusal prompt, then ended.
    refused: bool,
    /// A last prompt plays (a transfer nobody answered); then hotline hangs up.
    pub closing: bool,
    answer_at: Instant,
    port: Option<u16>,
    /// A call hotline placed: the plan whose outcome codes the agent keys after it.
    pub plan: Option<Arc<crate::ivr::Plan>>,
    /// A call hotline placed through a trunk: the line it holds until it ends.
    pub trunk: Option<usize>,
}

/// A call hotline placed to a customer, answered and handed over to be bridged.
pub(super) struct PlacedCall {
    pub id: String,
    pub number: String,
    pub codec: Codec,
    pub span: tracing::Span,
    pub now: Instant,
    pub wall_ms: i64,
    pub port: u16,
    pub rtp: Arc<RtpCounters>,
    /// call_events already written for the record.
    pub events: i64,
    pub agent: String,
    pub plan: Option<Arc<crate::ivr::Plan>>,
    pub trunk: usize,
}

impl Call {
    /// From here on the customer's call is handled like an inbound call bridged to its
    /// agent (the customer's number stands where the caller's does).
    pub(super) fn placed(p: PlacedCall) -> Call {
        Call {
            id: p.id,
            caller: p.number,
            called: String::new(),
            codec: p.codec,
            ivr: None,
            events: p.events,
            span: p.span,
            local_ip: IpAddr::from([127, 0, 0, 1]),
            arrived: p.now,
            arrived_ms: p.wall_ms,
            feature: None,
            agent: Some(p.agent),
            agent_left: false,
            legs: 1,
            was_queued: false,
            message: None,
            rtp: Some(p.rtp),
            offer: None,
            committed: true,
            refused: false,
            closing: false,
            answer_at: p.now,
            port: Some(p.port),
            plan: p.plan,
            trunk: Some(p.trunk),
        }
    }
}

impl<H: Host> Switchboard<H> {
    pub(super) fn on_event(&mut self, now: Instant, ev: Event) {
        let Some(ev) = self.outbound_event(now, ev) else {
            return;
        };
        let Some(ev) = self.internal_event(now, ev) else {
            return;
        };
        match ev {
            Event::Incoming { call, info } => self.incoming(now, call, *info),
            Event::Answered { call, answer } => self.leg_answered(now, call, answer),
            Event::Request { id, peer, request } => self.on_register(now, id, peer, &request),
            Event::RequestDone {
                id,
                status,
                challenges,
                proxy,
                expires,
            } => {
                if !self.trunk_reg_answered(now, id, status, &challenges, proxy, expires) {
                    self.on_ping_done(now, id, status);
                }
            }
            Event::Refer { call, target } => self.leg_refer(now, call, &target),
            Event::Progress { .. } => {}
            Event::MediaChanged { call, offer } if self.is_leg(call) => self.leg_held(call, offer),
            Event::Ended {
                call,
                by,
                cause,
                status,
            } if self.is_leg(call) => self.leg_ended(now, call, by, cause, status),
            Event::Confirmed { call, answer } => self.confirmed(call, answer),
            Event::MediaChanged { call, offer } => {
                let kind = if offer.dir.sends() { "resume" } else { "hold" };
                self.event(call, kind, String::new());
                self.out.media(MediaCmd::update_from(call, &offer, false));
            }
            Event::Info {
                call,
                content_type,
                body,
            } => {
                let digit = content_type
                    .as_deref()
                    .and_then(|t| dtmf::parse_info(t, &body));
                let Some(digit) = digit else { return };
                if self.is_leg(call) {
                    return self.leg_digit(now, call, digit);
                }
                self.out.media(MediaCmd::KeyPressed { call });
                self.digit(now, call, digit, "info");
            }
            Event::Ended {
                call,
                by,
                cause,
                status,
            } => {
                // A caller who hangs up while leaving a message has left it ("press # or
                // simply hang up"): the recording ends as by #, so its follow-up is written.
                let recording = self.calls.get(&call).and_then(|c| c.ivr.as_ref());
                if recording.is_some_and(|s| s.waiting() == Waiting::Recording) {
                    self.ivr_step(now, call, IvrInput::RecordingDone);
                }
                let Some(c) = self.calls.remove(&call) else {
                    return;
                };
                self.timers.cancel_all(call);
                c.span.in_scope(|| {
                    tracing::info!(
                        by = by.as_str(),
                        cause = cause.as_str(),
                        status,
                        "call ended"
                    )
                });
                if let Some(port) = c.port {
                    self.out.media(MediaCmd::Stop { call });
                    self.ports.release(port);
                }
                if let Some(line) = c.trunk {
                    self.dialer.lines.release(line);
                }
                self.customer_gone(now, call, &c);
                self.transfer_caller_gone(now, call);
                if c.feature.is_some() {
                    return;
                }
                if let Some(rtp) = &c.rtp {
                    self.out.store(Write::Agent(AgentWrite::CallRtp {
                        call: c.id.clone(),
                        rtp: rtp.read(),
                    }));
                }
                let at_ms = self.now.wall_ms;
                self.out.store(Write::CallEnded {
                    id: c.id,
                    at_ms,
                    by: by.as_str(),
                    cause: cause.as_str(),
                    status,
                });
            }
        }
    }

    /// The ACK came: media is watched from now on, and an answer in the ACK (to our
    /// offer) settles the codec.
    fn confirmed(&mut self, call: CallRef, answer: Option<Offer>) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        c.span.in_scope(|| tracing::debug!("ACK received"));
        let has_ivr = c.ivr.is_some();
        if let Some(a) = &answer {
            c.codec = a.codec;
        }
        self.out.media(MediaCmd::WatchRtp { call });
        let Some(a) = answer else { return };
        self.out.media(MediaCmd::update_from(call, &a, true));
        if a.codec != Codec::Pcmu && !has_ivr {
            // The greeting was queued in what we offered first; start it again.
            self.play_greeting(call, a.codec);
        }
    }

    /// Digits, lost media and the like, from the media engine.
    pub(super) fn on_media(&mut self, now: Instant, ev: MediaEvent) {
        let Some(ev) = self.outbound_media(now, ev) else {
            return;
        };
        match ev {
            MediaEvent::Digit { call, digit, .. } if self.is_leg(call) => {
                self.leg_digit(now, call, digit)
            }
            MediaEvent::PlaybackDone { call } if self.is_leg(call) => {
                self.leg_playback_done(now, call)
            }
            MediaEvent::NoMedia { call } if self.is_leg(call) => {
                self.endpoint.hangup(now, call, EndCause::NoMedia)
            }
            MediaEvent::Digit { call, digit, via } => self.digit(now, call, digit, via),
            MediaEvent::PlaybackDone { call } => {
                if self
                    .calls
                    .get(&call)
                    .is_some_and(|c| c.feature.is_some() || c.refused || c.closing)
                {
                    return self.endpoint.hangup(now, call, EndCause::Completed);
                }
                self.ivr_step(now, call, IvrInput::PlaybackDone)
            }
            MediaEvent::NoMedia { call } => {
                if let Some(c) = self.calls.get(&call) {
                    c.span
                        .in_scope(|| tracing::info!("no RTP from the caller; hanging up"));
                    self.event(call, "no_media", String::new());
                    self.endpoint.hangup(now, call, EndCause::NoMedia);
                }
            }
        }
    }

    /// A key press. Digits are personal data: logged without the digit, and put on the
    /// call's timeline only while the dial plan is not collecting a secret.
    fn digit(&mut self, now: Instant, call: CallRef, digit: Digit, via: &'static str) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        c.span.in_scope(|| tracing::debug!(via, "digit received"));
        // Also while the prompt asking for a secret plays and the caller types over it.
        if !c.ivr.as_ref().is_some_and(|s| s.keys_are_secret()) {
            self.event(call, "dtmf", digit.as_char().to_string());
        }
        if self.waiting_in_queue(call) {
            return self.queue_key(now, call, digit.as_char());
        }
        self.customer_digit(call, digit);
        self.ivr_key(now, call, digit.as_char());
    }

    /// Appends to the call's timeline.
    pub(super) fn event(&mut self, call: CallRef, kind: &'static str, detail: String) {
        let at_ms = self.now.wall_ms;
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        c.events += 1;
        let write = Write::CallEvent {
            id: c.id.clone(),
            seq: c.events,
            at_ms,
            kind,
            detail,
        };
        self.out.store(write);
    }

    /// The language of the call's dial plan session (the default without one).
    pub(super) fn call_language(&self, call: CallRef) -> &'static str {
        self.calls
            .get(&call)
            .and_then(|c| c.ivr.as_ref())
            .map_or(DEFAULT_LANGUAGE, |s| s.language().code())
    }

    /// Prompts by name, in the call's language and codec (legs: the default language
    /// and PCMU).
    pub(super) fn clips<S: AsRef<str>>(&self, call: CallRef, names: &[S]) -> Vec<Clip> {
        let Some(prompts) = &self.prompts else {
            return vec![];
        };
        let lang = self.call_language(call);
        let codec = self.calls.get(&call).map_or(Codec::Pcmu, |c| c.codec);
        names
            .iter()
            .filter_map(|n| prompts.get(lang, n.as_ref()))
            .map(|p| p.clip(codec))
            .collect()
    }

    /// Plays prompts by name on `call` (see [`Self::clips`]), replacing what plays.
    pub(super) fn play<S: AsRef<str>>(&mut self, call: CallRef, names: &[S], barge_in: bool) {
        let clips = self.clips(call, names);
        self.out.media(MediaCmd::Play {
            call,
            clips,
            barge_in,
        });
    }

    /// The greeting for this time of day, then hold music (a call no dial plan answers).
    fn play_greeting(&mut self, call: CallRef, codec: Codec) {
        let Some(prompts) = &self.prompts else {
            return;
        };
        let clip = |name: &str| prompts.get(DEFAULT_LANGUAGE, name).map(|p| p.clip(codec));
        let hour = chrono::DateTime::from_timestamp_millis(self.now.wall_ms).map_or(12, |t| {
            chrono::Timelike::hour(&t.with_timezone(&chrono::Local))
        });
        let greeting = match hour {
            5..=11 => "greeting_morning",
            12..=17 => "greeting_afternoon",
            _ => "greeting_evening",
        };
        let (clips, music) = (clip(greeting).into_iter().collect(), clip("hold_music"));
        self.out.media(MediaCmd::Play {
            call,
            clips,
            barge_in: true,
        });
        self.out.media(MediaCmd::Hold { call, music });
    }

    fn incoming(&mut self, now: Instant, call: CallRef, info: IncomingCall) {
        let id = format!("{:012x}{:08x}", self.now.wall_ms, self.rng.gen::<u32>());
        let span = tracing::info_span!("call", call_id = %info.call_id, id = %id);
        if let Some(to) = self.internal_target(&info) {
            return span.in_scope(|| self.internal_call(now, call, &info, to));
        }
        if let Some(number) = self.dial_out_number(&info) {
            return span.in_scope(|| self.dial_out(now, call, &info, number));
        }
        if let Some(action) = self.feature(&info.called) {
            // An agent's feature code: authenticated, carried out, confirmed, no record.
            let local_ip = self.local_ip(&info);
            let offer = match info.offer.clone() {
                Some(Ok(o)) => Some(o),
                Some(Err(_)) => return self.endpoint.reject(now, call, 488, &[]),
                None => None,
            };
            if let Some(prompt) = self.feature_call(now, call, &info, action) {
                let mut c = self.track(now, id, span, &info, local_ip, offer, now);
                c.feature = Some(prompt);
                c.committed = true;
                self.calls.insert(call, c);
                self.answer(now, call);
            }
            return;
        }
        span.in_scope(|| tracing::info!(from = %info.peer.addr, "call arrived"));
        let transport = match info.peer.link {
            Link::Udp => "udp",
            Link::Tcp(_) => "tcp",
        };
        self.out.push(Output::Store {
            write: Write::CallArrived {
                id: id.clone(),
                sip_call_id: info.call_id.clone(),
                caller: info.caller.clone(),
                called: info.called.clone(),
                source: info.peer.addr.to_string(),
                transport,
                at_ms: self.now.wall_ms,
            },
            ack: Some(call),
        });
        let offer = match info.offer.clone() {
            Some(Ok(offer)) => Some(offer),
            // No SDP in the INVITE: our 200 carries an offer and the ACK the answer.
            None => None,
            Some(Err(e)) => {
                span.in_scope(|| tracing::info!(%e, "refusing call: SDP not acceptable"));
                let loopback = IpAddr::from([127, 0, 0, 1]);
                let c = self.track(now, id, span, &info, loopback, None, now);
                self.calls.insert(call, c);
                return self.endpoint.reject(now, call, 488, &[]);
            }
        };
        let local_ip = self.local_ip(&info);
        self.endpoint.ring(now, call);
        let answer_at = now + self.settings.ring_delay;
        let mut c = self.track(now, id, span, &info, local_ip, offer, answer_at);
        c.refused = self
            .blocked
            .contains(&crate::store::normalize_number(&info.caller));
        self.calls.insert(call, c);
        self.timers.set(call, Due::Answer, answer_at);
    }

    /// Our address for the call's media: the configured one, else what the caller dialled.
    pub(super) fn local_ip(&self, info: &IncomingCall) -> IpAddr {
        self.settings
            .media_ip
            .or_else(|| info.local_host.trim_matches(['[', ']']).parse().ok())
            .unwrap_or(IpAddr::from([127, 0, 0, 1]))
    }

    #[allow(clippy::too_many_arguments)]
    fn track(
        &self,
        now: Instant,
        id: String,
        span: tracing::Span,
        info: &IncomingCall,
        local_ip: IpAddr,
        offer: Option<Offer>,
        answer_at: Instant,
    ) -> Call {
        Call {
            id,
            caller: info.caller.clone(),
            called: info.called.clone(),
            codec: Codec::Pcmu,
            ivr: None,
            events: 0,
            span,
            local_ip,
            arrived: now,
            arrived_ms: self.now.wall_ms,
            feature: None,
            agent: None,
            agent_left: false,
            legs: 0,
            was_queued: false,
            message: None,
            rtp: None,
            offer,
            committed: false,
            refused: false,
            closing: false,
            answer_at,
            port: None,
            plan: None,
            trunk: None,
        }
    }

    pub(super) fn on_committed(&mut self, now: Instant, call: CallRef) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        c.committed = true;
        if now >= c.answer_at {
            self.answer(now, call);
        }
    }

    pub(super) fn answer(&mut self, now: Instant, call: CallRef) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        if c.port.is_some() {
            return;
        }
        let (local_ip, span) = (c.local_ip, c.span.clone());
        let Some(port) = self.take_rtp_port(local_ip) else {
            span.in_scope(|| tracing::warn!("no free RTP port; refusing call"));
            return self
                .endpoint
                .reject(now, call, 503, &[("Retry-After", "5")]);
        };
        let media = LocalMedia {
            ip: local_ip,
            port,
            session_id: self.session_id(),
            version: 1,
        };
        let wall = self.now.wall_ms;
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        c.port = Some(port);
        self.endpoint.answer(now, call, media, c.offer.clone());
        c.span.in_scope(|| tracing::info!(port, "call answered"));
        // Without an offer from the caller, media starts on what we offered and settles
        // when the ACK brings the answer.
        let codec = c.offer.as_ref().map_or(Codec::Pcmu, |o| o.codec);
        let start = MediaCmd::Start {
            call,
            port,
            remote: c.offer.as_ref().and_then(|o| o.remote),
            codec,
            telephone_event: c.offer.as_ref().map_or(Some(101), |o| o.telephone_event),
            sending: c.offer.as_ref().is_none_or(|o| o.dir.sends()),
            counters: Arc::clone(c.rtp.insert(Arc::default())),
        };
        let (id, feature) = (c.id.clone(), c.feature);
        c.codec = codec;
        self.out.media(start);
        if let Some(prompt) = feature {
            return self.play(call, &[prompt], false);
        }
        self.out.store(Write::CallAnswered {
            id: id.clone(),
            at_ms: wall,
        });
        if let Some(dir) = &self.settings.record_dir {
            let path = dir.join(format!("{id}.wav"));
            self.out.store(Write::CallRecording {
                id,
                path: path.display().to_string(),
            });
            self.out.media(MediaCmd::Record { call, path });
        }
        self.timers
            .set(call, Due::MaxDuration, now + self.settings.max_call);
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if c.refused {
            // Answered, told politely, recorded; never put through.
            c.span
                .in_scope(|| tracing::info!("caller is blocked; refusing"));
            let write = Write::CallIvr {
                id: c.id.clone(),
                ivr: CallIvr {
                    outcome: Some("blocked".into()),
                    ..CallIvr::default()
                },
            };
            self.out.store(write);
            self.event(call, "blocked", String::new());
            return self.play(call, &["blocked_refusal"], false);
        }
        match crate::ivr::select(&self.plans, &c.called).cloned() {
            Some(plan) => {
                let ivr = start_session(plan, &c.caller, &c.called, wall);
                let language = Some(ivr.language().code().to_string());
                c.ivr = Some(ivr);
                let write = Write::CallIvr {
                    id: c.id.clone(),
                    ivr: CallIvr {
                        language,
                        verified: Some(false),
                        ..CallIvr::default()
                    },
                };
                self.out.store(write);
                self.ivr_step(now, call, IvrInput::Start);
            }
            None => self.play_greeting(call, codec),
        }
    }
}
