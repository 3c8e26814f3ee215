//! What the endpoint sends of its own accord: calls it places (legs to agents: INVITE,
//! CANCEL, the ACK of a 2xx, a late 2xx ended with BYE, Timer B, answers to a trunk's
//! challenge), OPTIONS pings, our own REGISTERs, and the answers to requests it handed
//! to its owner (REGISTER).

use super::names::contact;
use super::{
    Answered, Call, CallRef, CallState, ClientKey, ClientMachine, ClientTx, Dial, EndCause,
    EndedBy, Endpoint, Event, Link, Outbound, Peer, RequestRef,
};
use crate::core::sdp;
use crate::core::sip::admission::ALLOW;
use crate::core::sip::auth::{authorization, best_challenge};
use crate::core::sip::dialog::Dialog;
use crate::core::sip::message::{Essentials, Response};
use crate::core::sip::registration::{RegisterRequest, RegistrationConfig};
use crate::core::sip::transaction::{AckParts, ClientInvite};
use rand::Rng;
use std::time::Instant;

impl Endpoint {
    /// Places a call (INVITE with our offer). Its progress comes back as
    /// [`Event::Progress`], [`Event::Answered`] or [`Event::Ended`]; [`hangup`](Self::hangup)
    /// cancels it while it rings.
    pub fn dial(&mut self, now: Instant, d: Dial) -> CallRef {
        let call = CallRef(self.next_call);
        self.next_call += 1;
        let (branch, tag) = (self.new_branch(), self.new_tag());
        let call_id = format!("{:016x}@{}", self.rng.gen::<u64>(), d.local_host);
        let via = format!(
            "SIP/2.0/{} {}:{};branch={branch};rport",
            d.peer.via_transport(),
            d.local_host,
            self.cfg.port
        );
        let display = d
            .from_display
            .as_deref()
            .map(|n| format!("\"{}\" ", n.replace(['"', '\\', '\r', '\n'], "")))
            .unwrap_or_default();
        let from = format!(
            "{display}<sip:{}@{}>;tag={tag}",
            sanitize_user(&d.from_user),
            d.local_host
        );
        let to = format!("<{}>", d.uri);
        let media = d.media;
        let body = media.offer();
        let mut rest = format!(
            "Contact: {}\r\nAllow: {ALLOW}\r\n",
            contact(&d.local_host, self.cfg.port, d.peer)
        );
        for (n, v) in &d.headers {
            rest.push_str(&format!("{n}: {}\r\n", v.replace(['\r', '\n'], " ")));
        }
        let parts = AckParts {
            uri: d.uri.clone(),
            via,
            from: from.clone(),
            call_id: call_id.clone(),
            cseq: 1,
            routes: vec![],
        };
        let bytes = build_invite(&parts, &to, &rest, &[], &body);
        let dialog = Dialog {
            call_id,
            local_tag: tag,
            remote_tag: None,
            local: from,
            remote: to.clone(),
            remote_target: d.uri,
            route_set: vec![],
            remote_cseq: 0,
            local_cseq: 1,
        };
        self.calls.insert(
            call,
            Call {
                peer: d.peer,
                ess: Essentials::default(),
                record_route: vec![],
                dialog,
                local_host: d.local_host,
                invite_tx: None,
                state: CallState::Early,
                media: Some(media),
                offer: None,
                outbound: Some(Outbound {
                    branch: branch.clone(),
                    parts: parts.clone(),
                    to,
                    provisional: false,
                    released: false,
                    ack: None,
                    rest,
                    body,
                    auth: d.auth,
                    answered: vec![],
                }),
            },
        );
        self.start_invite(now, d.peer, branch, bytes, parts, call);
        call
    }

    /// Starts the INVITE client transaction of a call we place.
    fn start_invite(
        &mut self,
        now: Instant,
        peer: Peer,
        branch: String,
        bytes: Vec<u8>,
        parts: AckParts,
        call: CallRef,
    ) {
        let mut out = std::mem::take(&mut self.scratch);
        let machine = ClientInvite::start(
            now,
            peer.transport(),
            self.cfg.timers,
            bytes,
            parts,
            &mut out,
        );
        let key: ClientKey = (branch.clone(), "INVITE");
        self.clients.insert(
            key.clone(),
            ClientTx {
                machine: ClientMachine::Invite(machine),
                peer,
                scheduled: None,
                call: Some(call),
                report: None,
            },
        );
        self.placed.insert(branch, call);
        self.apply_client(now, &key, &mut out, None);
        self.scratch = out;
    }

    /// Answers a 401/407 to a call we place with the Dial's credentials: the same
    /// INVITE again (same Call-ID and From tag) in a new transaction with the next CSeq
    /// (RFC 3261 22.2). A realm is answered once, and once more only when the nonce
    /// merely went stale; `false` when the challenge cannot or may not be answered.
    fn answer_challenge(&mut self, now: Instant, call: CallRef, resp: &Response) -> bool {
        if !self
            .calls
            .get(&call)
            .and_then(|c| c.outbound.as_ref())
            .is_some_and(|o| o.auth.is_some() && !o.released)
        {
            return false;
        }
        let proxy = resp.status == 407;
        let header = if proxy {
            "Proxy-Authenticate"
        } else {
            "WWW-Authenticate"
        };
        let Some(ch) = best_challenge(resp.header_values(header)) else {
            return false;
        };
        let cnonce = format!("{:016x}", self.rng.gen::<u64>());
        let branch = self.new_branch();
        let port = self.cfg.port;
        let Some(c) = self.calls.get_mut(&call) else {
            return false;
        };
        let Some(o) = c.outbound.as_mut() else {
            return false;
        };
        let Some(auth) = &o.auth else {
            return false;
        };
        let value = authorization(
            &ch,
            &auth.user,
            &auth.password,
            "INVITE",
            &o.parts.uri,
            &cnonce,
            1,
        );
        let full = o.answered.len() >= MAX_REALMS;
        match o
            .answered
            .iter_mut()
            .find(|a| a.proxy == proxy && a.realm == ch.realm)
        {
            Some(a) if ch.stale && !a.stale_retried => {
                a.stale_retried = true;
                a.value = value;
            }
            Some(_) => return false,
            None if !full => o.answered.push(Answered {
                proxy,
                realm: ch.realm.clone(),
                stale_retried: false,
                value,
            }),
            None => return false,
        }
        o.parts.via = format!(
            "SIP/2.0/{} {}:{port};branch={branch};rport",
            c.peer.via_transport(),
            c.local_host
        );
        o.parts.cseq += 1;
        c.dialog.local_cseq = o.parts.cseq;
        o.provisional = false;
        let old = std::mem::replace(&mut o.branch, branch.clone());
        let creds: Vec<(&str, &str)> = o
            .answered
            .iter()
            .map(|a| {
                let name = if a.proxy {
                    "Proxy-Authorization"
                } else {
                    "Authorization"
                };
                (name, a.value.as_str())
            })
            .collect();
        let bytes = build_invite(&o.parts, &o.to, &o.rest, &creds, &o.body);
        let (parts, peer) = (o.parts.clone(), c.peer);
        self.placed.remove(&old);
        tracing::debug!(
            call = call.0,
            status = resp.status,
            "INVITE challenged; answering"
        );
        self.start_invite(now, peer, branch, bytes, parts, call);
        true
    }

    /// Gives up a call we placed that is not answered: CANCEL once the phone has sent a
    /// provisional response (else as soon as it does). The owner hears `Ended` now.
    pub(super) fn cancel(&mut self, now: Instant, call: CallRef, cause: EndCause) {
        let Some(o) = self.calls.get_mut(&call).and_then(|c| c.outbound.as_mut()) else {
            return;
        };
        if o.released {
            return;
        }
        o.released = true;
        let send_now = o.provisional;
        self.events.push_back(Event::Ended {
            call,
            by: EndedBy::Hotline,
            cause,
            status: None,
        });
        if send_now {
            self.send_cancel(now, call);
        }
    }

    pub(super) fn send_cancel(&mut self, now: Instant, call: CallRef) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        let Some(o) = &c.outbound else {
            return;
        };
        let bytes = o.parts.build_cancel(&o.to);
        let (peer, branch) = (c.peer, o.branch.clone());
        self.start_client(now, peer, branch, "CANCEL", bytes, None);
    }

    /// Answers a request handed over as [`Event::Request`].
    pub fn respond_to(
        &mut self,
        now: Instant,
        id: RequestRef,
        status: u16,
        extra: &[(&str, &str)],
    ) {
        if let Some((key, ess, peer)) = self.pending.remove(&id) {
            self.respond(now, &key, &ess, peer, status, None, extra, None);
        }
    }

    /// Drops a request handed over as [`Event::Request`] without an answer (a source
    /// that is shut out); its retransmissions come back as new requests.
    pub fn drop_request(&mut self, id: RequestRef) {
        if let Some((key, _, _)) = self.pending.remove(&id) {
            self.servers.remove(&key);
        }
    }

    /// Sends an out-of-dialog OPTIONS (a ping to see whether a phone is alive); the
    /// outcome comes back as [`Event::RequestDone`].
    pub fn ping(&mut self, now: Instant, peer: Peer, uri: &str, local_host: &str) -> RequestRef {
        let id = RequestRef(self.next_request);
        self.next_request += 1;
        let (branch, tag) = (self.new_branch(), self.new_tag());
        let call_id = format!("{:016x}@{local_host}", self.rng.gen::<u64>());
        let bytes = format!(
            "OPTIONS {uri} SIP/2.0\r\nVia: SIP/2.0/{} {local_host}:{};branch={branch};rport\r\nMax-Forwards: 70\r\nFrom: <sip:hotline@{local_host}>;tag={tag}\r\nTo: <{uri}>\r\nCall-ID: {call_id}\r\nCSeq: 1 OPTIONS\r\nAccept: application/sdp\r\nContent-Length: 0\r\n\r\n",
            peer.via_transport(),
            self.cfg.port
        )
        .into_bytes();
        self.start_client(now, peer, branch, "OPTIONS", bytes, Some(id));
        id
    }

    /// Sends a REGISTER of our registration with a trunk (RFC 3261 10.2): To and From
    /// are `sip:user@domain`, Contact is us on `local_host`. The outcome comes back as
    /// [`Event::RequestDone`] with the challenges and the granted expiry, for
    /// [`Registration::on_response`](crate::core::sip::registration::Registration::on_response).
    #[allow(clippy::too_many_arguments)]
    pub fn register(
        &mut self,
        now: Instant,
        peer: Peer,
        local_host: &str,
        cfg: &RegistrationConfig,
        call_id: &str,
        from_tag: &str,
        req: &RegisterRequest,
    ) -> RequestRef {
        let id = RequestRef(self.next_request);
        self.next_request += 1;
        let branch = self.new_branch();
        let clean = |s: &str| -> String {
            s.chars()
                .filter(|c| !c.is_whitespace() && !c.is_control() && !"<>\"".contains(*c))
                .collect()
        };
        let (user, domain, local_host) = (clean(&cfg.user), clean(&cfg.domain), clean(local_host));
        let (call_id, from_tag) = (clean(call_id), clean(from_tag));
        let port = self.cfg.port;
        let ours = match peer.link {
            Link::Udp => format!("sip:{user}@{local_host}:{port}"),
            Link::Tcp(_) => format!("sip:{user}@{local_host}:{port};transport=tcp"),
        };
        let mut s = format!(
            "REGISTER sip:{domain} SIP/2.0\r\nVia: SIP/2.0/{} {local_host}:{port};branch={branch};rport\r\nMax-Forwards: 70\r\nFrom: <sip:{user}@{domain}>;tag={from_tag}\r\nTo: <sip:{user}@{domain}>\r\nCall-ID: {call_id}\r\nCSeq: {} REGISTER\r\nContact: <{ours}>\r\nExpires: {}\r\n",
            peer.via_transport(),
            req.cseq,
            req.expires
        );
        if let Some((name, value)) = &req.authorization {
            s.push_str(&format!("{name}: {}\r\n", value.replace(['\r', '\n'], " ")));
        }
        s.push_str("Content-Length: 0\r\n\r\n");
        self.registers.insert(id, ours);
        self.start_client(now, peer, branch, "REGISTER", s.into_bytes(), Some(id));
        id
    }

    /// A response to an INVITE we sent (also a retransmitted 2xx after the transaction).
    pub(super) fn on_placed_response(&mut self, now: Instant, call: CallRef, resp: Response) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let Some(o) = c.outbound.as_mut() else {
            return;
        };
        match resp.status {
            100..=199 => {
                if !o.provisional {
                    o.provisional = true;
                    if o.released {
                        return self.send_cancel(now, call);
                    }
                }
                if resp.status > 100 && c.state == CallState::Early && !o.released {
                    self.events.push_back(Event::Progress {
                        call,
                        status: resp.status,
                    });
                }
            }
            200..=299 => {
                if let Some(ack) = &o.ack {
                    // A retransmitted 2xx: our ACK was lost.
                    let (peer, bytes) = (c.peer, ack.clone());
                    self.send(peer, bytes);
                    return;
                }
                let branch = format!("z9hG4bK{:016x}", self.rng.gen::<u64>());
                let fallback = c.dialog.remote_target.clone();
                let cseq = o.parts.cseq;
                c.dialog = Dialog::uac(
                    c.dialog.call_id.clone(),
                    c.dialog.local.clone(),
                    c.dialog.local_tag.clone(),
                    &resp,
                    cseq,
                    &fallback,
                );
                let via = format!(
                    "SIP/2.0/{} {}:{};branch={branch};rport",
                    c.peer.via_transport(),
                    c.local_host,
                    self.cfg.port
                );
                let ack = c.dialog.ack(cseq, &via);
                o.ack = Some(ack.clone());
                let released = o.released;
                c.state = CallState::Answered;
                let answer = (!resp.body.is_empty())
                    .then(|| sdp::parse_offer(&resp.body).ok())
                    .flatten();
                c.offer = answer.clone();
                let peer = c.peer;
                self.dialogs
                    .insert((c.dialog.call_id.clone(), c.dialog.local_tag.clone()), call);
                self.send(peer, ack);
                if released {
                    // Answered as we cancelled: end it at once (RFC 3261 15).
                    self.hangup_released(now, call);
                } else {
                    self.events.push_back(Event::Answered { call, answer });
                }
            }
            _ => {
                let released = o.released;
                if matches!(resp.status, 401 | 407) && self.answer_challenge(now, call, &resp) {
                    return;
                }
                self.forget_placed(call);
                if !released {
                    let cause = match resp.status {
                        408 | 480 => EndCause::NoAnswer,
                        _ => EndCause::Rejected,
                    };
                    self.events.push_back(Event::Ended {
                        call,
                        by: EndedBy::Remote,
                        cause,
                        status: Some(resp.status),
                    });
                }
            }
        }
    }

    /// BYE for a call the owner already gave up (a 2xx that raced our CANCEL).
    pub(super) fn hangup_released(&mut self, now: Instant, call: CallRef) {
        let branch = self.new_branch();
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let via = format!(
            "SIP/2.0/{} {}:{};branch={branch};rport",
            c.peer.via_transport(),
            c.local_host,
            self.cfg.port
        );
        let bytes = c.dialog.request("BYE", &via, &[]);
        let peer = c.peer;
        self.start_client(now, peer, branch, "BYE", bytes, None);
        self.forget_placed(call);
    }

    /// Drops a call we placed without telling the owner (it knows already).
    pub(super) fn forget_placed(&mut self, call: CallRef) {
        if let Some(c) = self.calls.remove(&call) {
            self.dialogs
                .remove(&(c.dialog.call_id.clone(), c.dialog.local_tag.clone()));
            if let Some(o) = c.outbound {
                // 2xx retransmissions still find the call's ACK until Timer B would
                // have run out; after that the branch is forgotten.
                self.placed.remove(&o.branch);
            }
        }
    }

    /// Timer B: the phone never gave a final answer.
    pub(super) fn placed_timed_out(&mut self, call: CallRef) {
        let Some(o) = self.calls.get(&call).and_then(|c| c.outbound.as_ref()) else {
            return;
        };
        if o.ack.is_some() {
            return;
        }
        let released = o.released;
        self.forget_placed(call);
        if !released {
            self.events.push_back(Event::Ended {
                call,
                by: EndedBy::Remote,
                cause: EndCause::NoAnswer,
                status: None,
            });
        }
    }
}

/// Realms a placed INVITE answers at most (a proxy and the trunk behind it, say); more
/// would be a loop.
const MAX_REALMS: usize = 4;

/// The INVITE of a call we place, with `parts`' Via and CSeq.
fn build_invite(
    parts: &AckParts,
    to: &str,
    rest: &str,
    creds: &[(&str, &str)],
    body: &[u8],
) -> Vec<u8> {
    let mut s = format!(
        "INVITE {} SIP/2.0\r\nVia: {}\r\nMax-Forwards: 70\r\nFrom: {}\r\nTo: {to}\r\nCall-ID: {}\r\nCSeq: {} INVITE\r\n{rest}",
        parts.uri, parts.via, parts.from, parts.call_id, parts.cseq
    );
    for (name, value) in creds {
        s.push_str(&format!("{name}: {value}\r\n"));
    }
    s.push_str(&format!(
        "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n",
        body.len()
    ));
    let mut bytes = s.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// A user part safe to put in a URI: anything but unreserved characters and the few
/// a telephone number uses is dropped.
fn sanitize_user(user: &str) -> String {
    let s: String = user
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "-_.!~*+".contains(*c))
        .collect();
    if s.is_empty() {
        "anonymous".into()
    } else {
        s
    }
}
