//! Requests inside a dialog: BYE, INFO, OPTIONS, re-INVITE (hold and resume) and REFER.

use super::names::contact;
use super::{CallRef, CallState, EndCause, EndedBy, Endpoint, Event, Peer, ServerKey};
use crate::core::sdp;
use crate::core::sip::admission::{capabilities, ALLOW};
use crate::core::sip::dialog::addr_uri;
use crate::core::sip::message::{Method, Request};
use std::time::Instant;

impl Endpoint {
    pub(super) fn find_dialog(&self, req: &Request) -> Option<CallRef> {
        let tag = req.to_tag.as_ref()?;
        self.dialogs
            .get(&(req.ess.call_id.clone(), tag.clone()))
            .copied()
    }

    pub(super) fn in_dialog(&mut self, now: Instant, key: ServerKey, peer: Peer, req: Request) {
        let Some(call) = self.find_dialog(&req) else {
            return self.respond(now, &key, &req.ess, peer, 481, None, &[], None);
        };
        let Some(c) = self.calls.get_mut(&call) else {
            return self.respond(now, &key, &req.ess, peer, 481, None, &[], None);
        };
        if !c.dialog.accept_cseq(req.cseq) {
            return self.respond(now, &key, &req.ess, peer, 500, None, &[], None);
        }
        if let Some(tx) = self.servers.get_mut(&key) {
            tx.call = Some(call);
        }
        match req.method {
            Method::Bye => {
                let by = if c.outbound.is_some() {
                    EndedBy::Remote
                } else {
                    EndedBy::Caller
                };
                self.respond(now, &key, &req.ess, peer, 200, None, &[], None);
                self.end_call(call, by, EndCause::CallerBye, None);
            }
            Method::Refer => self.on_refer(now, call, key, peer, req),
            Method::Info => {
                self.respond(now, &key, &req.ess, peer, 200, None, &[], None);
                self.events.push_back(Event::Info {
                    call,
                    content_type: req.content_type.clone(),
                    body: req.body,
                });
            }
            Method::Options => {
                self.respond(now, &key, &req.ess, peer, 200, None, &capabilities(), None)
            }
            Method::Invite => self.on_reinvite(now, call, key, peer, req),
            _ => self.respond(
                now,
                &key,
                &req.ess,
                peer,
                405,
                None,
                &[("Allow", ALLOW)],
                None,
            ),
        }
    }

    /// A re-INVITE: answer with the same session, the direction mirrored (hold).
    fn on_reinvite(
        &mut self,
        now: Instant,
        call: CallRef,
        key: ServerKey,
        peer: Peer,
        req: Request,
    ) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let (Some(media), CallState::Answered) = (c.media.as_mut(), c.state) else {
            return self.respond(now, &key, &req.ess, peer, 491, None, &[], None);
        };
        let offer = if req.body.is_empty() {
            c.offer.clone().ok_or(sdp::SdpError::NoCommonCodec)
        } else {
            sdp::parse_offer(&req.body)
        };
        let offer = match offer {
            Ok(o) => o,
            Err(_) => return self.respond(now, &key, &req.ess, peer, 488, None, &[], None),
        };
        let changed = c.offer.as_ref() != Some(&offer);
        let body = media.answer(&offer, changed);
        c.offer = Some(offer.clone());
        c.invite_tx = Some(key.clone());
        let contact = contact(&c.local_host, self.cfg.port, peer);
        let tag = c.dialog.local_tag.clone();
        let ess = req.ess.clone();
        self.respond(
            now,
            &key,
            &ess,
            peer,
            200,
            Some(&tag),
            &[("Contact", &contact)],
            Some(&body),
        );
        if changed {
            self.events.push_back(Event::MediaChanged { call, offer });
        }
    }

    /// REFER (RFC 3515, blind transfer): accepted with 202; the owner is told the target
    /// and the far end hears a final NOTIFY at once, so its phone can hang up.
    fn on_refer(&mut self, now: Instant, call: CallRef, key: ServerKey, peer: Peer, req: Request) {
        let Some(target) = req.header("Refer-To").map(|v| addr_uri(v).to_string()) else {
            return self.respond(now, &key, &req.ess, peer, 400, None, &[], None);
        };
        let tag = self.calls.get(&call).map(|c| c.dialog.local_tag.clone());
        self.respond(now, &key, &req.ess, peer, 202, tag.as_deref(), &[], None);
        let branch = self.new_branch();
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let via = format!(
            "SIP/2.0/{} {}:{};branch={branch};rport",
            peer.via_transport(),
            c.local_host,
            self.cfg.port
        );
        let bytes = c.dialog.request_with_body(
            "NOTIFY",
            &via,
            &[
                ("Event", "refer"),
                ("Subscription-State", "terminated;reason=noresource"),
            ],
            ("message/sipfrag;version=2.0", b"SIP/2.0 200 OK\r\n"),
        );
        let peer = c.peer;
        self.start_client(now, peer, branch, "NOTIFY", bytes, None);
        self.events.push_back(Event::Refer { call, target });
    }
}
