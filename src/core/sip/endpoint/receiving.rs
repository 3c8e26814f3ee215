//! What the endpoint does with a request outside a dialog's in-dialog methods: routing
//! it to its transaction, a new INVITE (checked, then reported as a call or refused),
//! CANCEL, and the ACK of our 2xx.

use super::*;

impl Endpoint {
    pub(super) fn on_request(&mut self, now: Instant, peer: Peer, req: Request) {
        let key = server_key(&req);
        if req.method == Method::Ack {
            return self.on_ack(now, key, &req);
        }
        if let Some(tx) = self.servers.get_mut(&key) {
            let mut out = std::mem::take(&mut self.scratch);
            match &mut tx.machine {
                ServerMachine::Invite(m) => m.on_retransmission(&mut out),
                ServerMachine::NonInvite(m) => m.on_retransmission(&mut out),
            }
            self.apply_server(now, &key, &mut out);
            self.scratch = out;
            return;
        }
        let machine = if req.method == Method::Invite {
            ServerMachine::Invite(ServerInvite::new(peer.transport(), self.cfg.timers))
        } else {
            ServerMachine::NonInvite(ServerNonInvite::new(peer.transport(), self.cfg.timers))
        };
        self.servers.insert(
            key.clone(),
            ServerTx {
                machine,
                peer,
                call: None,
                scheduled: None,
            },
        );
        if let Some((status, extra)) = precheck(&req) {
            let extra: Vec<(&str, &str)> = extra.iter().map(|(n, v)| (*n, v.as_str())).collect();
            return self.respond(now, &key, &req.ess, peer, status, None, &extra, None);
        }
        match (&req.method, req.to_tag.is_some()) {
            (Method::Invite, false) => self.on_invite(now, key, peer, req),
            (Method::Cancel, _) => self.on_cancel(now, key, peer, &req),
            // Draining, a ping is answered as a new call would be: a proxy's prober (the
            // cluster edge's dispatcher) stops sending calls here.
            (Method::Options, false) if self.draining => {
                self.refuse_draining(now, &key, peer, &req)
            }
            (Method::Options, false) => {
                self.respond(now, &key, &req.ess, peer, 200, None, &capabilities(), None)
            }
            (Method::Register, _) => {
                let id = RequestRef(self.next_request);
                self.next_request += 1;
                self.pending.insert(id, (key, req.ess.clone(), peer));
                self.events.push_back(Event::Request {
                    id,
                    peer,
                    request: Box::new(req),
                });
            }
            (_, true) => self.in_dialog(now, key, peer, req),
            (_, false) => self.respond(now, &key, &req.ess, peer, 481, None, &[], None),
        }
    }

    /// 503 with Retry-After: this endpoint takes no new calls now.
    fn refuse_draining(&mut self, now: Instant, key: &ServerKey, peer: Peer, req: &Request) {
        let secs = self.cfg.retry_after.as_secs().to_string();
        self.respond(
            now,
            key,
            &req.ess,
            peer,
            503,
            None,
            &[("Retry-After", &secs)],
            None,
        );
    }

    pub(super) fn on_invite(&mut self, now: Instant, key: ServerKey, peer: Peer, req: Request) {
        if self.draining {
            return self.refuse_draining(now, &key, peer, &req);
        }
        let call = CallRef(self.next_call);
        self.next_call += 1;
        let local_tag = self.new_tag();
        let dialog = Dialog::uas(&req, local_tag.clone());
        let local_host = (self.config().host.clone())
            .or_else(|| request_host(&req.uri))
            .unwrap_or_else(|| peer.addr.ip().to_string());
        let record_route = req
            .headers
            .iter()
            .filter(|(n, _)| n == "Record-Route")
            .flat_map(|(_, v)| split_list(v))
            .collect();
        let offer = (!req.body.is_empty()).then(|| sdp::parse_offer(&req.body));
        self.dialogs
            .insert((req.ess.call_id.clone(), local_tag), call);
        self.calls.insert(
            call,
            Call {
                peer,
                ess: req.ess.clone(),
                record_route,
                dialog,
                local_host: local_host.clone(),
                invite_tx: Some(key.clone()),
                state: CallState::Early,
                media: None,
                offer: None,
                outbound: None,
            },
        );
        if let Some(tx) = self.servers.get_mut(&key) {
            tx.call = Some(call);
        }
        // 100 Trying at once, so the caller stops retransmitting (RFC 3261 17.2.1).
        self.respond(now, &key, &req.ess, peer, 100, None, &[], None);
        self.events.push_back(Event::Incoming {
            call,
            info: Box::new(IncomingCall {
                call_id: req.ess.call_id.clone(),
                caller: req.from_user.clone().unwrap_or_default(),
                called: req.uri_user.clone().unwrap_or_default(),
                peer,
                local_host,
                offer,
                authorization: req
                    .headers
                    .iter()
                    .filter(|(n, _)| n == "Authorization")
                    .map(|(_, v)| v.clone())
                    .collect(),
                user_agent: req.header("User-Agent").map(str::to_string),
                asserted_agent: req.header("X-Hotline-Agent").map(str::to_string),
            }),
        });
    }

    pub(super) fn on_cancel(&mut self, now: Instant, key: ServerKey, peer: Peer, req: &Request) {
        let invite_key = ServerKey {
            invite: true,
            method: "INVITE".into(),
            ..key.clone()
        };
        let target = self.servers.get(&invite_key).map(|tx| {
            let pending = match &tx.machine {
                ServerMachine::Invite(m) => !m.is_final(),
                ServerMachine::NonInvite(_) => false,
            };
            (pending, tx.call)
        });
        let Some((pending, call)) = target else {
            return self.respond(now, &key, &req.ess, peer, 481, None, &[], None);
        };
        self.respond(now, &key, &req.ess, peer, 200, None, &[], None);
        if let (true, Some(call)) = (pending, call) {
            self.respond_invite(now, call, 487, &[], None);
            self.end_call(call, EndedBy::Caller, EndCause::CallerCancel, Some(487));
        }
    }

    pub(super) fn on_ack(&mut self, now: Instant, key: ServerKey, req: &Request) {
        let invite_key = ServerKey {
            invite: true,
            method: "INVITE".into(),
            ..key
        };
        let mut out = std::mem::take(&mut self.scratch);
        if let Some(ServerTx {
            machine: ServerMachine::Invite(m),
            ..
        }) = self.servers.get_mut(&invite_key)
        {
            m.on_ack(now, &mut out);
        }
        self.apply_server(now, &invite_key, &mut out);
        self.scratch = out;
        // The ACK of a 2xx is its own transaction; the dialog finds it.
        let Some(call) = self.find_dialog(req) else {
            return;
        };
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        let Some(k) = c.invite_tx.clone() else {
            return;
        };
        if let Some(ServerTx {
            machine: ServerMachine::Invite(m),
            ..
        }) = self.servers.get_mut(&k)
        {
            if m.on_2xx_ack() {
                // After an offer in our 2xx, the ACK carries the answer (RFC 3264).
                let answer = match (&c.offer, req.body.is_empty()) {
                    (None, false) => sdp::parse_offer(&req.body).ok(),
                    _ => None,
                };
                if let (Some(a), Some(c)) = (&answer, self.calls.get_mut(&call)) {
                    c.offer = Some(a.clone());
                }
                self.events.push_back(Event::Confirmed { call, answer });
            }
        }
    }

    // ---- responses to our requests ----
}
