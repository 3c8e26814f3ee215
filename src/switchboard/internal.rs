//! Agent-to-agent calls and attended transfer. An agent dials another agent's ID (or
//! extension) on their softphone: hotline rings that agent and bridges the two, a
//! consultation. The first agent may then hand the caller they hold to the second
//! (REFER with Replaces naming the consultation, RFC 5589): the caller is bridged to the
//! second agent, whose leg becomes the call's, and the first agent's calls end.

use super::legs::Leg;
use super::{Host, MediaCmd, RtpCounters, Switchboard};
use crate::core::sdp::{Codec, LocalMedia, Offer};
use crate::core::sip::endpoint::{CallRef, Dial, EndCause, Event, IncomingCall};
use crate::store::{AgentWrite, Write};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

/// A consultation: agent `from_agent`'s call to hotline and our leg to `to_agent`.
pub(super) struct Internal {
    from: CallRef,
    from_agent: String,
    from_port: Option<u16>,
    offer: Option<Offer>,
    local_ip: IpAddr,
    to: CallRef,
    to_agent: String,
    to_port: u16,
    to_rtp: Arc<RtpCounters>,
    answered: bool,
    /// `to_agent` was free and is held on this call by the ACD.
    took: bool,
}

impl<H: Host> Switchboard<H> {
    /// The agent an agent's phone dialled (their ID or extension), if that is what this
    /// INVITE is.
    pub(super) fn internal_target(&self, info: &IncomingCall) -> Option<String> {
        let called = info.called.as_str();
        let agent = match self.desk.agent_of.get(called) {
            Some(a) => a.clone(),
            None => self.desk.acd.agent(called)?.id.clone(),
        };
        self.sent_by_agent_phone(info).then_some(agent)
    }

    /// Rings agent `to` for the agent calling; both are bridged once `to` answers.
    pub(super) fn internal_call(
        &mut self,
        now: Instant,
        call: CallRef,
        info: &IncomingCall,
        to: String,
    ) {
        let Some(from) = self.authenticate_agent(now, call, info) else {
            return;
        };
        if from == to || self.agent_busy(&to) {
            return self.endpoint.reject(now, call, 486, &[]);
        }
        let offer = match info.offer.clone() {
            Some(Ok(o)) => Some(o),
            Some(Err(_)) => return self.endpoint.reject(now, call, 488, &[]),
            None => None,
        };
        let target = self.desk.agent_phone(&to);
        let Some((peer, binding)) = target else {
            return self.endpoint.reject(now, call, 480, &[]);
        };
        let local_host = self.local_host_for(binding.source);
        let (Some(ip), local_ip) = (local_host.parse().ok(), self.local_ip(info)) else {
            return self.endpoint.reject(now, call, 480, &[]);
        };
        let Some(to_port) = self.take_rtp_port(ip) else {
            return self
                .endpoint
                .reject(now, call, 503, &[("Retry-After", "5")]);
        };
        let media = LocalMedia {
            ip,
            port: to_port,
            session_id: self.session_id(),
            version: 1,
        };
        let leg = self.endpoint.dial(
            now,
            Dial {
                peer,
                uri: binding.uri.clone(),
                local_host,
                from_user: from.clone(),
                from_display: Some(format!("Agent {from}")),
                headers: vec![("X-Hotline-Consult".to_string(), from.clone())],
                media,
                auth: None,
            },
        );
        let to_rtp = self.start_placed_media(leg, to_port);
        self.endpoint.ring(now, call);
        // A free agent is not offered queue calls while consulted.
        let took = match self.desk.acd.take_for_outbound(&to, leg.0, None, now) {
            Ok(actions) => {
                self.acd_actions(now, actions);
                true
            }
            Err(_) => false,
        };
        tracing::info!(%from, %to, "agent calls agent");
        self.desk.internal.push(Internal {
            from: call,
            from_agent: from,
            from_port: None,
            offer,
            local_ip,
            to: leg,
            to_agent: to,
            to_port,
            to_rtp,
            answered: false,
            took,
        });
    }

    /// Endpoint events about consultations; any other event is given back.
    pub(super) fn internal_event(&mut self, now: Instant, ev: Event) -> Option<Event> {
        let call = match &ev {
            Event::Answered { call, .. }
            | Event::Confirmed { call, .. }
            | Event::Ended { call, .. }
            | Event::MediaChanged { call, .. } => *call,
            _ => return Some(ev),
        };
        let Some(i) = self
            .desk
            .internal
            .iter()
            .position(|c| c.from == call || c.to == call)
        else {
            return Some(ev);
        };
        match ev {
            Event::Answered { answer, .. } => self.consult_answered(now, i, answer),
            Event::Confirmed { answer, .. } => {
                self.out.media(MediaCmd::WatchRtp { call });
                if let Some(a) = answer {
                    self.out.media(MediaCmd::update_from(call, &a, true));
                }
            }
            // A hold (or its end) on either side of the consultation.
            Event::MediaChanged { offer, .. } => {
                self.out.media(MediaCmd::update_from(call, &offer, false))
            }
            Event::Ended { status, .. } => {
                let c = self.desk.internal.remove(i);
                self.consult_ended(now, c, call, status);
            }
            _ => {}
        }
        None
    }

    /// The consulted agent answered: the calling agent is answered and bridged to them.
    fn consult_answered(&mut self, now: Instant, i: usize, answer: Option<Offer>) {
        let c = &self.desk.internal[i];
        let (from, to, local_ip, offer) = (c.from, c.to, c.local_ip, c.offer.clone());
        if let Some(a) = &answer {
            self.out.media(MediaCmd::update_from(to, a, true));
        }
        self.out.media(MediaCmd::WatchRtp { call: to });
        let Some(port) = self.take_rtp_port(local_ip) else {
            self.endpoint.hangup(now, to, EndCause::Completed);
            return self.endpoint.reject(now, from, 503, &[]);
        };
        let media = LocalMedia {
            ip: local_ip,
            port,
            session_id: self.session_id(),
            version: 1,
        };
        self.endpoint.answer(now, from, media, offer.clone());
        self.out.media(MediaCmd::Start {
            call: from,
            port,
            remote: offer.as_ref().and_then(|o| o.remote),
            codec: offer.as_ref().map_or(Codec::Pcmu, |o| o.codec),
            telephone_event: offer.as_ref().map_or(Some(101), |o| o.telephone_event),
            sending: offer.as_ref().is_none_or(|o| o.dir.sends()),
            counters: Arc::default(),
        });
        self.out.media(MediaCmd::Bridge { a: from, b: to });
        let c = &mut self.desk.internal[i];
        c.from_port = Some(port);
        c.answered = true;
    }

    /// One side of a consultation ended: the other side ends too.
    fn consult_ended(&mut self, now: Instant, c: Internal, ended: CallRef, status: Option<u16>) {
        if c.took {
            let actions = self.desk.acd.release_outbound(&c.to_agent, c.to.0, now);
            self.acd_actions(now, actions);
        }
        self.out.media(MediaCmd::Stop { call: c.to });
        self.ports.release(c.to_port);
        if let Some(port) = c.from_port {
            self.out.media(MediaCmd::Stop { call: c.from });
            self.ports.release(port);
        }
        if ended == c.from {
            self.endpoint.hangup(now, c.to, EndCause::Completed);
        } else if c.answered {
            self.endpoint.hangup(now, c.from, EndCause::Completed);
        } else {
            let busy = matches!(status, Some(486 | 600));
            self.endpoint
                .reject(now, c.from, if busy { 486 } else { 480 }, &[]);
        }
    }

    /// REFER with Replaces on agent leg `leg`: the caller goes to the agent consulted in
    /// the dialog `target` names; false when it names no consultation of ours.
    pub(super) fn attended_transfer(&mut self, now: Instant, leg: CallRef, target: &str) -> bool {
        let Some(cid) = replaces_call_id(target) else {
            return false;
        };
        let Some(i) =
            self.desk.internal.iter().position(|c| {
                c.answered && self.endpoint.sip_call_id(c.from) == Some(cid.as_str())
            })
        else {
            tracing::info!("attended transfer names no consultation of ours");
            return false;
        };
        // Only a caller still on the line, with the agent who consulted.
        let Some(l) = self.desk.legs.get(&leg).filter(|l| {
            l.answered
                && l.wrap_up.is_none()
                && self.calls.contains_key(&l.customer)
                && self.desk.internal[i].from_agent == l.agent
        }) else {
            tracing::info!("attended transfer refused: the caller or the consultation is gone");
            return false;
        };
        let (customer, agent, record, followup) = (
            l.customer,
            l.agent.clone(),
            l.record_id.clone(),
            l.followup.clone(),
        );
        // The consulted agent takes the call: the ACD holds them for it.
        if !self.desk.internal[i].took {
            let (to_agent, key) = (
                self.desk.internal[i].to_agent.clone(),
                self.desk.internal[i].to.0,
            );
            let queue = self.desk.queued.get(&customer).map(|q| q.queue.clone());
            match self
                .desk
                .acd
                .take_for_outbound(&to_agent, key, queue.as_deref(), now)
            {
                Ok(actions) => self.acd_actions(now, actions),
                Err(e) => {
                    tracing::info!(%e, "attended transfer refused: the consulted agent is not free");
                    return false;
                }
            }
            self.desk.internal[i].took = true;
        }
        let c = self.desk.internal.remove(i);
        // The first agent's calls end; their leg's record says it was transferred.
        self.out.media(MediaCmd::Unbridge { call: customer });
        self.end_leg(leg, "transferred");
        self.endpoint.hangup(now, leg, EndCause::Transferred);
        if let Some(port) = c.from_port {
            self.out.media(MediaCmd::Stop { call: c.from });
            self.ports.release(port);
        }
        self.endpoint.hangup(now, c.from, EndCause::Transferred);
        let actions = self.desk.acd.call_ended(&agent, now);
        self.acd_actions(now, actions);
        // The consulted agent's leg becomes the call's.
        let seq = self.calls.get_mut(&customer).map_or(1, |cc| {
            cc.legs += 1;
            cc.agent = Some(c.to_agent.clone());
            cc.legs
        });
        let queue = self.desk.queued.get(&customer).map(|q| q.queue.clone());
        for w in [
            AgentWrite::LegStarted {
                call: record.clone(),
                seq,
                agent: c.to_agent.clone(),
                queue,
                at_ms: self.now.wall_ms,
            },
            AgentWrite::LegAnswered {
                call: record.clone(),
                seq,
                agent: c.to_agent.clone(),
                at_ms: self.now.wall_ms,
            },
        ] {
            self.out.store(Write::Agent(w));
        }
        self.desk.legs.insert(
            c.to,
            Leg {
                customer,
                agent: c.to_agent.clone(),
                seq,
                record_id: record,
                port: c.to_port,
                answered: true,
                wrap_up: None,
                after: None,
                keyed: String::new(),
                rtp: c.to_rtp,
                followup,
            },
        );
        if let Some(q) = self.desk.queued.get_mut(&customer) {
            q.bridged = Some(c.to);
        }
        self.out.media(MediaCmd::Unbridge { call: c.to });
        self.out.media(MediaCmd::Hold {
            call: customer,
            music: None,
        });
        self.out.media(MediaCmd::Bridge {
            a: customer,
            b: c.to,
        });
        self.event(
            customer,
            "transfer",
            format!("attended to agent {}", c.to_agent),
        );
        tracing::info!(from = %c.from_agent, to = %c.to_agent, "attended transfer");
        true
    }
}

/// The Call-ID in a Refer-To URI's `Replaces` header (`?Replaces=ID%3Bto-tag%3D...`).
fn replaces_call_id(target: &str) -> Option<String> {
    let (_, headers) = target.split_once('?')?;
    let value = headers.split('&').find_map(|h| {
        h.strip_prefix("Replaces=")
            .or_else(|| h.strip_prefix("replaces="))
    })?;
    let decoded = percent_decode(value);
    let id = decoded.split(';').next()?.trim();
    (!id.is_empty()).then(|| id.to_string())
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
