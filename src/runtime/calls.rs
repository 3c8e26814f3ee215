//! The call orchestrator: turns endpoint events into call records and media, and
//! decides when to answer (after the ring delay and once the arrival record is
//! committed, so no answered call can lack a record) and when to hang up.

use super::desk::Desk;
use super::ivr::IvrCall;
use super::media::{MediaCmd, MediaEvent, MediaHandle, RtpCounters};
use super::Input;
use crate::config::Config;
use crate::core::media::dtmf::{self, Digit};
use crate::core::media::player::Clip;
use crate::core::media::ports::PortPool;
use crate::core::media::prompt::PromptSet;
use crate::core::sdp::{Codec, LocalMedia, Offer};
use crate::core::sip::endpoint::{CallRef, EndCause, Endpoint, Event, IncomingCall, Link};
use crate::ivr::{Input as IvrInput, Plan};
use crate::store::{now_ms, AgentWrite, CallIvr, Store, Write, Writer};
use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Due {
    Answer,
    MaxDuration,
    /// The call's dial plan session has a deadline.
    Ivr,
    /// An agent's leg waits for the outcome code.
    Leg,
}

pub(super) struct CallCtx {
    pub(super) id: String,
    /// The caller's and the dialled number (personal data: kept in memory, never logged).
    pub(super) caller: String,
    called: String,
    pub(super) codec: Codec,
    /// The dial plan session, once answered (none when no plan answers the number).
    pub(super) ivr: Option<IvrCall>,
    /// Last call_events sequence number used.
    events: i64,
    span: tracing::Span,
    pub(super) local_ip: IpAddr,
    /// When the INVITE came (orders the caller among equal priorities in a queue).
    pub(super) arrived: Instant,
    /// An agent's feature-code call: the prompt confirming it; no call record is kept.
    feature: Option<&'static str>,
    /// The agent who took the call (for survey answers), and whether they hung up first.
    pub(super) agent: Option<String>,
    pub(super) agent_left: bool,
    /// Legs to agents so far (call_legs.seq).
    pub(super) legs: i64,
    /// When the INVITE came, ms since the Unix epoch (as on the record).
    pub(super) arrived_ms: i64,
    /// The call has waited in a queue.
    pub(super) was_queued: bool,
    /// RTP packets to and from the caller, once media started.
    rtp: Option<Arc<RtpCounters>>,
    /// `None` when the INVITE had no SDP: our 200 offers, the ACK answers.
    offer: Option<Offer>,
    committed: bool,
    answer_at: Instant,
    port: Option<u16>,
}

pub(super) struct Calls {
    pub(super) calls: HashMap<CallRef, CallCtx>,
    due: BTreeSet<(Instant, CallRef, Due)>,
    pub(super) ports: PortPool,
    pub(super) desk: Desk,
    pub(super) writer: Writer,
    pub(super) store: Store,
    pub(super) media: MediaHandle,
    pub(super) inputs: mpsc::UnboundedSender<Input>,
    plans: Vec<Arc<Plan>>,
    plans_dir: PathBuf,
    pub(super) voicemail_dir: PathBuf,
    pub(super) media_ip: Option<IpAddr>,
    ring_delay: Duration,
    max_call: Duration,
    pub(super) prompts: Option<PromptSet>,
    pub(super) language: &'static str,
    record_dir: Option<std::path::PathBuf>,
    /// Deadlines of the follow-ups the dial plans create.
    pub(super) followup_rules: crate::followup::Rules,
}

/// What the orchestrator works with, besides the configuration.
pub(super) struct Wiring {
    pub writer: Writer,
    pub store: Store,
    pub media: MediaHandle,
    pub inputs: mpsc::UnboundedSender<Input>,
    pub prompts: Option<PromptSet>,
    pub plans: Vec<Arc<Plan>>,
    pub desk: Desk,
}

impl Calls {
    pub(super) fn new(cfg: &Config, media_ip: Option<IpAddr>, w: Wiring) -> Self {
        let Wiring {
            writer,
            store,
            media,
            inputs,
            prompts,
            plans,
            desk,
        } = w;
        Calls {
            calls: HashMap::new(),
            due: BTreeSet::new(),
            ports: PortPool::new(cfg.rtp_ports.0, cfg.rtp_ports.1),
            desk,
            writer,
            media,
            inputs,
            media_ip,
            ring_delay: cfg.ring_delay,
            max_call: cfg.max_call,
            prompts,
            language: "zh-CN",
            record_dir: cfg.record_dir.clone(),
            followup_rules: cfg.followups.clone(),
            store,
            plans,
            plans_dir: cfg.dialplans.clone(),
            voicemail_dir: cfg
                .record_dir
                .clone()
                .unwrap_or_else(|| PathBuf::from("voicemail")),
        }
    }

    /// Loads the dial plans again. A valid set applies to new calls (calls in progress
    /// keep the plan they began with); any error leaves the running plans in force.
    pub(super) fn reload_plans(&mut self) {
        let (plans, errors) = crate::ivr::load_dir(&self.plans_dir, self.prompts.as_ref());
        if errors.is_empty() {
            tracing::info!(count = plans.len(), "dial plans reloaded");
            self.plans = plans.into_iter().map(Arc::new).collect();
        } else {
            for e in &errors {
                tracing::error!(error = %e, "dial plan rejected; the running plans stay in force");
            }
        }
    }

    pub(super) fn next_timeout(&self) -> Option<Instant> {
        [
            self.due.first().map(|(t, _, _)| *t),
            self.desk.next_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    pub(super) fn due_leg_timeout(&mut self, leg: CallRef, at: Instant) {
        self.due.insert((at, leg, Due::Leg));
    }

    /// The language of the call's dial plan session (the default without one).
    pub(super) fn call_language(&self, call: CallRef) -> &'static str {
        self.calls
            .get(&call)
            .and_then(|c| c.ivr.as_ref())
            .map_or(self.language, |i| i.session.language().code())
    }

    /// Prompts by name, in the call's language and codec (legs: the default language).
    pub(super) fn clip_names(&self, call: CallRef, names: &[&str]) -> Vec<Clip> {
        let Some(prompts) = &self.prompts else {
            return vec![];
        };
        let lang = self.call_language(call);
        let codec = self.calls.get(&call).map_or(Codec::Pcmu, |c| c.codec);
        names
            .iter()
            .filter_map(|n| prompts.get(lang, n))
            .map(|p| p.clip(codec))
            .collect()
    }

    /// Prompts for an agent's leg (PCMU, the default language).
    pub(super) fn leg_clips(&self, names: &[&str]) -> Vec<Clip> {
        let Some(prompts) = &self.prompts else {
            return vec![];
        };
        names
            .iter()
            .filter_map(|n| prompts.get(self.language, n))
            .map(|p| p.clip(Codec::Pcmu))
            .collect()
    }

    pub(super) fn on_event(&mut self, now: Instant, ev: Event, ep: &mut Endpoint) {
        match ev {
            Event::Incoming { call, info } => self.incoming(now, call, *info, ep),
            Event::Answered { call, answer } => self.leg_answered(now, call, answer, ep),
            Event::Request { id, peer, request } => self.on_register(now, id, peer, &request, ep),
            Event::RequestDone { id, status } => self.on_ping_done(now, id, status, ep),
            Event::Refer { call, target } => self.leg_refer(now, call, &target, ep),
            Event::Progress { .. } => {}
            Event::MediaChanged { call, offer } if self.is_leg(call) => {
                // The agent put the caller on hold: the caller hears music meanwhile.
                let customer = self.desk.legs[&call].customer;
                let _ = self.media.send(MediaCmd::Update {
                    call,
                    remote: offer.remote,
                    sending: offer.dir.sends(),
                    codec: None,
                    telephone_event: offer.telephone_event,
                });
                if offer.dir.sends() {
                    let _ = self.media.send(MediaCmd::Hold {
                        call: customer,
                        music: None,
                    });
                    let _ = self.media.send(MediaCmd::Bridge {
                        a: customer,
                        b: call,
                    });
                    self.event(customer, "resume", String::new());
                } else {
                    let _ = self.media.send(MediaCmd::Unbridge { call: customer });
                    let music = self
                        .clip_names(customer, &["hold_music"])
                        .into_iter()
                        .next();
                    let _ = self.media.send(MediaCmd::Hold {
                        call: customer,
                        music,
                    });
                    self.event(customer, "hold", String::new());
                }
            }
            Event::Ended {
                call,
                by,
                cause,
                status,
            } if self.is_leg(call) => self.leg_ended(now, call, by, cause, status, ep),
            Event::Confirmed { call, answer } => {
                if let Some(c) = self.calls.get(&call) {
                    c.span.in_scope(|| tracing::debug!("ACK received"));
                }
                if let Some(a) = answer {
                    let _ = self.media.send(MediaCmd::Update {
                        call,
                        remote: a.remote,
                        sending: a.dir.sends(),
                        codec: Some(a.codec),
                        telephone_event: a.telephone_event,
                    });
                    let has_ivr = self.calls.get_mut(&call).is_some_and(|c| {
                        c.codec = a.codec;
                        c.ivr.is_some()
                    });
                    if a.codec != Codec::Pcmu && !has_ivr {
                        // The greeting was queued in what we offered first; start it again.
                        let (clips, music) = self.greeting(a.codec);
                        let _ = self.media.send(MediaCmd::Play {
                            call,
                            clips,
                            barge_in: true,
                        });
                        let _ = self.media.send(MediaCmd::Hold { call, music });
                    }
                }
            }
            Event::MediaChanged { call, offer } => {
                let kind = if offer.dir.sends() { "resume" } else { "hold" };
                self.event(call, kind, String::new());
                let _ = self.media.send(MediaCmd::Update {
                    call,
                    remote: offer.remote,
                    sending: offer.dir.sends(),
                    codec: None,
                    telephone_event: offer.telephone_event,
                });
            }
            Event::Info {
                call,
                content_type,
                body,
            } => {
                let digit = content_type
                    .as_deref()
                    .and_then(|t| dtmf::parse_info(t, &body));
                if let (Some(digit), true) = (digit, self.is_leg(call)) {
                    return self.leg_digit(now, call, digit, ep);
                }
                if let Some(digit) = digit {
                    let _ = self.media.send(MediaCmd::KeyPressed { call });
                    self.digit(now, call, digit, "info", ep);
                }
            }
            Event::Ended {
                call,
                by,
                cause,
                status,
            } => {
                let Some(c) = self.calls.remove(&call) else {
                    return;
                };
                c.span.in_scope(|| {
                    tracing::info!(
                        by = by.as_str(),
                        cause = cause.as_str(),
                        status,
                        "call ended"
                    )
                });
                if let Some(port) = c.port {
                    let _ = self.media.send(MediaCmd::Stop { call });
                    self.ports.release(port);
                }
                self.customer_gone(now, call, &c, ep);
                if c.feature.is_some() {
                    return;
                }
                if let Some(rtp) = &c.rtp {
                    self.writer.send(Write::Agent(AgentWrite::CallRtp {
                        call: c.id.clone(),
                        rtp: rtp.read(),
                    }));
                }
                self.writer.send(Write::CallEnded {
                    id: c.id,
                    at_ms: now_ms(),
                    by: by.as_str(),
                    cause: cause.as_str(),
                    status,
                });
            }
        }
    }

    /// Digits, lost media and the like, from the media engine.
    pub(super) fn on_media(&mut self, now: Instant, ev: MediaEvent, ep: &mut Endpoint) {
        match ev {
            MediaEvent::Digit { call, digit, .. } if self.is_leg(call) => {
                self.leg_digit(now, call, digit, ep)
            }
            MediaEvent::PlaybackDone { call } if self.is_leg(call) => {
                self.leg_playback_done(now, call, ep)
            }
            MediaEvent::NoMedia { call } if self.is_leg(call) => {
                ep.hangup(now, call, EndCause::NoMedia)
            }
            MediaEvent::Digit { call, digit, via } => self.digit(now, call, digit, via, ep),
            MediaEvent::PlaybackDone { call } => {
                if self.calls.get(&call).is_some_and(|c| c.feature.is_some()) {
                    return ep.hangup(now, call, EndCause::Completed);
                }
                self.ivr_step(now, call, IvrInput::PlaybackDone, ep)
            }
            MediaEvent::NoMedia { call } => {
                if let Some(c) = self.calls.get(&call) {
                    c.span
                        .in_scope(|| tracing::info!("no RTP from the caller; hanging up"));
                    self.event(call, "no_media", String::new());
                    ep.hangup(now, call, EndCause::NoMedia);
                }
            }
        }
    }

    /// A key press. Digits are personal data: logged without the digit, and put on the
    /// call's timeline only while the dial plan is not collecting a secret.
    fn digit(
        &mut self,
        now: Instant,
        call: CallRef,
        digit: Digit,
        via: &'static str,
        ep: &mut Endpoint,
    ) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        c.span.in_scope(|| tracing::debug!(via, "digit received"));
        if !c.ivr.as_ref().is_some_and(IvrCall::sensitive) {
            self.event(call, "dtmf", digit.as_char().to_string());
        }
        if self.waiting_in_queue(call) {
            return self.queue_key(now, call, digit.as_char(), ep);
        }
        self.customer_digit(call, digit);
        self.ivr_key(now, call, digit.as_char(), ep);
    }

    /// Puts the session's next deadline on the timer list.
    pub(super) fn schedule_ivr(&mut self, call: CallRef) {
        if let Some(t) = self
            .calls
            .get(&call)
            .and_then(|c| c.ivr.as_ref())
            .and_then(IvrCall::next_timeout)
        {
            self.due.insert((t, call, Due::Ivr));
        }
    }

    /// Appends to the call's timeline.
    pub(super) fn event(&mut self, call: CallRef, kind: &'static str, detail: String) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        c.events += 1;
        self.writer.send(Write::CallEvent {
            id: c.id.clone(),
            seq: c.events,
            at_ms: now_ms(),
            kind,
            detail,
        });
    }

    /// The greeting for this time of day, then hold music, in the caller's language.
    fn greeting(&self, codec: Codec) -> (Vec<Clip>, Option<Clip>) {
        let Some(prompts) = &self.prompts else {
            return (vec![], None);
        };
        let clip = |name: &str| prompts.get(self.language, name).map(|p| p.clip(codec));
        let hour = chrono::Timelike::hour(&chrono::Local::now());
        let greeting = match hour {
            5..=11 => "greeting_morning",
            12..=17 => "greeting_afternoon",
            _ => "greeting_evening",
        };
        (clip(greeting).into_iter().collect(), clip("hold_music"))
    }

    fn incoming(&mut self, now: Instant, call: CallRef, info: IncomingCall, ep: &mut Endpoint) {
        let id = format!("{:012x}{:08x}", now_ms(), rand::random::<u32>());
        let span = tracing::info_span!("call", call_id = %info.call_id, id = %id);
        if let Some(action) = self.feature(&info.called) {
            // An agent's feature code: authenticated, carried out, confirmed, no record.
            let local_ip = self.local_ip(&info);
            let offer = match info.offer.clone() {
                Some(Ok(o)) => Some(o),
                Some(Err(_)) => return ep.reject(now, call, 488, &[]),
                None => None,
            };
            let prompt = self.feature_call(now, call, &info, action, ep);
            if let Some(prompt) = prompt {
                self.track(call, id, span, &info, local_ip, offer, now);
                if let Some(c) = self.calls.get_mut(&call) {
                    c.feature = Some(prompt);
                    c.committed = true;
                }
                self.answer(now, call, ep);
            }
            return;
        }
        span.in_scope(|| tracing::info!(from = %info.peer.addr, "call arrived"));
        let transport = match info.peer.link {
            Link::Udp => "udp",
            Link::Tcp(_) => "tcp",
        };
        let done = self.writer.submit(Write::CallArrived {
            id: id.clone(),
            sip_call_id: info.call_id.clone(),
            caller: info.caller.clone(),
            called: info.called.clone(),
            source: info.peer.addr.to_string(),
            transport,
            at_ms: now_ms(),
        });
        let inputs = self.inputs.clone();
        tokio::spawn(async move {
            if done.await.is_ok() {
                let _ = inputs.send(Input::Committed(call));
            }
        });
        let offer = match info.offer.clone() {
            Some(Ok(offer)) => Some(offer),
            // No SDP in the INVITE: our 200 carries an offer and the ACK the answer.
            None => None,
            Some(Err(e)) => {
                span.in_scope(|| tracing::info!(%e, "refusing call: SDP not acceptable"));
                self.track(
                    call,
                    id,
                    span,
                    &info,
                    IpAddr::from([127, 0, 0, 1]),
                    None,
                    now,
                );
                ep.reject(now, call, 488, &[]);
                return;
            }
        };
        let local_ip = self.local_ip(&info);
        ep.ring(now, call);
        let answer_at = now + self.ring_delay;
        self.track(call, id, span, &info, local_ip, offer, answer_at);
        self.due.insert((answer_at, call, Due::Answer));
    }

    /// Our address for the call's media: the configured one, else what the caller dialled.
    fn local_ip(&self, info: &IncomingCall) -> IpAddr {
        self.media_ip
            .or_else(|| info.local_host.trim_matches(['[', ']']).parse().ok())
            .unwrap_or(IpAddr::from([127, 0, 0, 1]))
    }

    #[allow(clippy::too_many_arguments)]
    fn track(
        &mut self,
        call: CallRef,
        id: String,
        span: tracing::Span,
        info: &IncomingCall,
        local_ip: IpAddr,
        offer: Option<Offer>,
        answer_at: Instant,
    ) {
        let arrived_ms = now_ms();
        self.calls.insert(
            call,
            CallCtx {
                id,
                caller: info.caller.clone(),
                called: info.called.clone(),
                codec: Codec::Pcmu,
                ivr: None,
                events: 0,
                span,
                local_ip,
                arrived: Instant::now(),
                feature: None,
                agent: None,
                agent_left: false,
                legs: 0,
                arrived_ms,
                was_queued: false,
                rtp: None,
                offer,
                committed: false,
                answer_at,
                port: None,
            },
        );
    }

    pub(super) fn on_committed(&mut self, now: Instant, call: CallRef, ep: &mut Endpoint) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        c.committed = true;
        if now >= c.answer_at {
            self.answer(now, call, ep);
        }
    }

    pub(super) fn on_timeout(&mut self, now: Instant, ep: &mut Endpoint) {
        self.desk_timeout(now, ep);
        while let Some(&(t, call, due)) = self.due.first() {
            if t > now {
                break;
            }
            self.due.pop_first();
            match due {
                Due::Answer => {
                    if self.calls.get(&call).is_some_and(|c| c.committed) {
                        self.answer(now, call, ep);
                    }
                }
                Due::Ivr => self.ivr_timeout(now, call, ep),
                Due::Leg => self.leg_timeout(now, call, ep),
                Due::MaxDuration => {
                    if let Some(c) = self.calls.get(&call) {
                        c.span
                            .in_scope(|| tracing::info!("maximum call duration reached"));
                        ep.hangup(now, call, EndCause::MaxDuration);
                    }
                }
            }
        }
    }

    /// Ends every live call (shutdown after the drain period).
    pub(super) fn hangup_all(&mut self, now: Instant, ep: &mut Endpoint) {
        for call in ep.live_calls() {
            ep.hangup(now, call, EndCause::Shutdown);
        }
    }

    fn answer(&mut self, now: Instant, call: CallRef, ep: &mut Endpoint) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if c.port.is_some() {
            return;
        }
        let Some((port, [socket, rtcp])) = bind_rtp(&mut self.ports, c.local_ip) else {
            c.span
                .in_scope(|| tracing::warn!("no free RTP port; refusing call"));
            ep.reject(now, call, 503, &[("Retry-After", "5")]);
            return;
        };
        c.port = Some(port);
        let media = LocalMedia {
            ip: c.local_ip,
            port,
            session_id: u64::from(rand::random::<u32>()),
            version: 1,
        };
        ep.answer(now, call, media, c.offer.clone());
        c.span.in_scope(|| tracing::info!(port, "call answered"));
        // Without an offer from the caller, media starts on what we offered and settles
        // when the ACK brings the answer.
        let codec = c.offer.as_ref().map_or(Codec::Pcmu, |o| o.codec);
        let _ = self.media.send(MediaCmd::Start {
            call,
            socket,
            rtcp,
            remote: c.offer.as_ref().and_then(|o| o.remote),
            codec,
            telephone_event: c.offer.as_ref().map_or(Some(101), |o| o.telephone_event),
            sending: c.offer.as_ref().is_none_or(|o| o.dir.sends()),
            counters: Arc::clone(c.rtp.insert(Arc::default())),
        });
        if let Some(prompt) = c.feature {
            let clips = self.leg_clips(&[prompt]);
            let _ = self.media.send(MediaCmd::Play {
                call,
                clips,
                barge_in: false,
            });
            return;
        }
        self.writer.send(Write::CallAnswered {
            id: c.id.clone(),
            at_ms: now_ms(),
        });
        if let Some(dir) = &self.record_dir {
            let path = dir.join(format!("{}.wav", c.id));
            self.writer.send(Write::CallRecording {
                id: c.id.clone(),
                path: path.display().to_string(),
            });
            let _ = self.media.send(MediaCmd::Record { call, path });
        }
        c.codec = codec;
        let plan = crate::ivr::select(&self.plans, &c.called).cloned();
        match plan {
            Some(plan) => {
                c.ivr = Some(IvrCall::new(plan, &c.caller, &c.called));
                self.writer.send(Write::CallIvr {
                    id: c.id.clone(),
                    ivr: CallIvr {
                        language: c
                            .ivr
                            .as_ref()
                            .map(|i| i.session.language().code().to_string()),
                        verified: Some(false),
                        ..CallIvr::default()
                    },
                });
                self.ivr_step(now, call, IvrInput::Start, ep);
            }
            None => {
                let (clips, music) = self.greeting(codec);
                let _ = self.media.send(MediaCmd::Play {
                    call,
                    clips,
                    barge_in: true,
                });
                let _ = self.media.send(MediaCmd::Hold { call, music });
            }
        }
        self.due
            .insert((now + self.max_call, call, Due::MaxDuration));
    }
}

/// Takes a port from the pool and binds it; a port some other program holds is skipped.
/// Binds the RTP port and the RTCP port above it (RTCP is read and ignored).
pub(super) fn bind_rtp(ports: &mut PortPool, ip: IpAddr) -> Option<(u16, [UdpSocket; 2])> {
    let bind = |port: u16| {
        UdpSocket::bind(SocketAddr::new(ip, port)).and_then(|s| {
            s.set_nonblocking(true)?;
            Ok(s)
        })
    };
    for _ in 0..16 {
        let port = ports.take()?;
        match bind(port).and_then(|rtp| Ok([rtp, bind(port + 1)?])) {
            Ok(s) => return Some((port, s)),
            Err(e) => {
                tracing::debug!(port, %e, "RTP port unavailable");
                ports.release(port);
            }
        }
    }
    None
}
