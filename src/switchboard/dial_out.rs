//! Agents calling out: an agent dials the prefix from `trunks.toml` (e.g. `9`) and a
//! number on their softphone. hotline checks it is an agent (digest, as for feature
//! codes), answers, and places the call through a trunk with the company's caller ID.
//! Once the customer answers it is an ordinary bridged call recorded as outbound, and
//! the agent keys the outcome after it. A number with an open callback is linked to it,
//! so calling a customer back by hand closes the ticket's loop as the dialer would.

use super::outbound::Purpose;
use super::{Host, MediaCmd, Switchboard};
use crate::core::sdp::{Codec, LocalMedia};
use crate::core::sip::endpoint::{CallRef, IncomingCall, Link};
use crate::store::{normalize_number, FollowUpKind};
use std::sync::Arc;
use std::time::Instant;

impl<H: Host> Switchboard<H> {
    /// The outside number an agent's phone dialled, when `info` is a dial-out: the
    /// prefix, then 3 to 20 digits (a leading + allowed), from the address of a phone
    /// registered by an agent (so a customer dialling a number that starts with the
    /// prefix is never taken for one).
    pub(super) fn dial_out_number(&self, info: &IncomingCall) -> Option<String> {
        let prefix = self.dialer.dial_out_prefix.as_deref()?;
        let number = info.called.strip_prefix(prefix)?;
        let digits = number.strip_prefix('+').unwrap_or(number);
        let plausible =
            (3..=20).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit());
        (plausible && self.sent_by_agent_phone(info)).then(|| number.to_string())
    }

    /// Whether the ACD has the agent on a call or ringing for one, or another node of
    /// the cluster holds them.
    pub(super) fn agent_busy(&self, agent: &str) -> bool {
        use crate::acd::AgentState;
        self.desk.acd.agent(agent).is_some_and(|a| {
            a.elsewhere
                || matches!(
                    a.state,
                    AgentState::OnCall { .. } | AgentState::Ringing { .. }
                )
        })
    }

    /// Whether an INVITE comes from the address of a phone an agent registered (only
    /// those may dial out or call another agent; digest still decides who it is).
    pub(super) fn sent_by_agent_phone(&self, info: &IncomingCall) -> bool {
        if self.desk.node.is_some() {
            return self.edge_agent(info).is_some();
        }
        self.desk.agent_of.keys().any(|ext| {
            self.desk
                .registrar
                .contacts(ext)
                .iter()
                .any(|b| b.source == info.peer.addr)
        })
    }

    /// Answers the agent and calls `number` through a trunk.
    pub(super) fn dial_out(
        &mut self,
        now: Instant,
        call: CallRef,
        info: &IncomingCall,
        number: String,
    ) {
        let Some(agent) = self.authenticate_agent(now, call, info) else {
            return;
        };
        if self.agent_busy(&agent) {
            // On a call or being offered one: that call owns the agent's state.
            return self.endpoint.reject(now, call, 486, &[]);
        }
        if self.dialer.lines.lines.is_empty() {
            tracing::warn!(%agent, "dial-out refused: no trunk is configured (trunks.toml)");
            return self.endpoint.reject(now, call, 503, &[]);
        }
        let offer = match info.offer.clone() {
            Some(Ok(o)) => Some(o),
            Some(Err(_)) => return self.endpoint.reject(now, call, 488, &[]),
            None => None,
        };
        let ip = self.local_ip(info);
        let Some(port) = self.take_rtp_port(ip) else {
            return self
                .endpoint
                .reject(now, call, 503, &[("Retry-After", "5")]);
        };
        let media = LocalMedia {
            ip,
            port,
            session_id: self.session_id(),
            version: 1,
        };
        self.endpoint.answer(now, call, media, offer.clone());
        let rtp = Arc::default();
        self.out.media(MediaCmd::Start {
            call,
            port,
            remote: offer.as_ref().and_then(|o| o.remote),
            codec: offer.as_ref().map_or(Codec::Pcmu, |o| o.codec),
            telephone_event: offer.as_ref().map_or(Some(101), |o| o.telephone_event),
            sending: offer.as_ref().is_none_or(|o| o.dir.sends()),
            counters: Arc::clone(&rtp),
        });
        // Calling back a customer who waits for a callback works on that ticket.
        let wanted = normalize_number(&number);
        let ticket = self
            .dialer
            .tasks()
            .iter()
            .find(|t| t.kind == FollowUpKind::Callback && normalize_number(&t.number) == wanted)
            .filter(|t| !self.dialer.busy_with(&t.id))
            .cloned();
        let transport = match info.peer.link {
            Link::Udp => "udp",
            Link::Tcp(_) => "tcp",
        };
        let key = self.new_job(super::outbound::NewJob {
            ticket,
            purpose: Purpose::DialOut,
            number: number.clone(),
            agent: Some(agent.clone()),
            sip_call_id: info.call_id.clone(),
            source: info.peer.addr.to_string(),
            transport,
        });
        let queue = self.job_queue(key);
        // Free agents stop being offered queue calls; a paused one may still dial.
        if let Ok(actions) = self
            .desk
            .acd
            .take_for_outbound(&agent, key, queue.as_deref(), now)
        {
            self.acd_actions(now, actions);
        }
        tracing::info!(%agent, "agent dials out");
        self.attach_agent_call(key, call, port, rtp);
        self.play(call, &["callback_dialling"], false);
        self.dial_customer(now, key, 0);
    }
}
