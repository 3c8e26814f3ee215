//! Agents' phones: the agents table, registrations, OPTIONS pings and feature codes.

use super::desk::{header_user, peer_of, PING_EVERY};
use super::{Host, Switchboard};
use crate::core::sip::endpoint::{CallRef, IncomingCall, Link, Peer, RequestRef};
use crate::core::sip::message::Request;
use crate::core::sip::registrar::{
    Account, AuthOutcome, Binding, Change, ChangeKind, RegisterRequest, Transport,
};
use crate::store::{AgentRequest, AgentRow, AgentWrite, RegistrationRow, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

impl<H: Host> Switchboard<H> {
    // ---- agents from the database ----

    /// The agents table changed (or this is the start): accounts, queues, and at start the
    /// states and registrations agents had before a restart.
    pub(super) fn sync_agents(
        &mut self,
        now: Instant,
        agents: Vec<AgentRow>,
        restore: Option<Vec<RegistrationRow>>,
    ) {
        let accounts = agents
            .iter()
            .map(|a| Account {
                extension: a.extension.clone(),
                agent_id: a.id.clone(),
                ha1_sha256: a.ha1_sha256.clone(),
                ha1_md5: a.ha1_md5.clone(),
            })
            .collect();
        let changes = self.desk.registrar.set_accounts(accounts);
        self.registration_changes(now, changes);
        let known: Vec<String> = self.desk.acd.agents().map(|a| a.id.clone()).collect();
        for id in known {
            if !agents.iter().any(|a| a.id == id) {
                let actions = self.desk.acd.remove_agent(&id, now);
                self.acd_actions(now, actions);
            }
        }
        self.desk.extension.clear();
        self.desk.agent_of.clear();
        for a in &agents {
            self.desk
                .extension
                .insert(a.id.clone(), a.extension.clone());
            self.desk.agent_of.insert(a.extension.clone(), a.id.clone());
            let actions = self.desk.acd.upsert_agent(&a.id, a.queues.clone(), now);
            self.acd_actions(now, actions);
        }
        let Some(rows) = restore else {
            return;
        };
        // After a restart: phones stay registered and agents keep their state.
        let wall = self.now.wall_ms;
        let bindings = rows
            .into_iter()
            .filter_map(|r| {
                let source = r.source.parse().ok()?;
                let left = Duration::from_millis(u64::try_from(r.expires_at - wall).ok()?);
                let transport = if r.transport == "tcp" {
                    Transport::Tcp
                } else {
                    Transport::Udp
                };
                Some(Binding {
                    extension: r.extension,
                    uri: r.contact,
                    source,
                    transport,
                    expires_at: now + left,
                })
            })
            .collect();
        self.desk.registrar.restore(bindings);
        for a in &agents {
            let reachable = !self.desk.registrar.contacts(&a.extension).is_empty();
            let mut actions = self.desk.acd.set_reachable(&a.id, reachable, now);
            match a.state.as_ref().map(|(s, _, r)| (s.as_str(), r.clone())) {
                None | Some(("logged_out", _)) => {}
                Some(("paused", reason)) => {
                    actions.extend(self.desk.acd.login(&a.id, now).unwrap_or_default());
                    actions.extend(self.desk.acd.pause(&a.id, &reason, now).unwrap_or_default());
                }
                Some(_) => actions.extend(self.desk.acd.login(&a.id, now).unwrap_or_default()),
            }
            self.acd_actions(now, actions);
        }
    }

    /// State changes asked for with `hotline agents state`.
    pub(super) fn agent_requests(&mut self, now: Instant, requests: Vec<AgentRequest>) {
        for r in requests {
            let result = match r.action.as_str() {
                "login" => self.desk.acd.login(&r.agent_id, now),
                "logout" => self.desk.acd.logout(&r.agent_id, now),
                "pause" => self.desk.acd.pause(&r.agent_id, &r.reason, now),
                "resume" => self.desk.acd.resume(&r.agent_id, now),
                _ => Ok(vec![]),
            };
            match result {
                Ok(actions) => self.acd_actions(now, actions),
                Err(e) => {
                    tracing::warn!(agent = %r.agent_id, action = %r.action, %e, "agent state request refused")
                }
            }
        }
    }

    // ---- registrations ----

    /// A REGISTER: digest authentication, then the registrar.
    pub(super) fn on_register(&mut self, now: Instant, id: RequestRef, peer: Peer, req: &Request) {
        if self.desk.node.is_some() {
            // A cluster node is no registrar: phones register at the edge.
            return self.endpoint.respond_to(now, id, 403, &[]);
        }
        let authz: Vec<&str> = req
            .headers
            .iter()
            .filter(|(n, _)| n == "Authorization")
            .map(|(_, v)| v.as_str())
            .collect();
        let extension =
            match self
                .desk
                .registrar
                .authenticate(now, peer.addr.ip(), "REGISTER", &authz)
            {
                AuthOutcome::Challenge { headers } => {
                    let headers = self.challenge_for(req.header("User-Agent"), headers);
                    let h: Vec<(&str, &str)> = headers
                        .iter()
                        .map(|(n, v)| (n.as_str(), v.as_str()))
                        .collect();
                    return self.endpoint.respond_to(now, id, 401, &h);
                }
                AuthOutcome::Forbidden => return self.endpoint.respond_to(now, id, 403, &[]),
                AuthOutcome::Ignore => return self.endpoint.drop_request(id),
                AuthOutcome::Ok { extension, .. } => extension,
            };
        // One may only register one's own extension.
        if header_user(&req.ess.to) != Some(extension.as_str()) {
            return self.endpoint.respond_to(now, id, 403, &[]);
        }
        let transport = match peer.link {
            Link::Udp => Transport::Udp,
            Link::Tcp(conn) => {
                self.desk.tcp_links.insert(peer.addr, conn);
                Transport::Tcp
            }
        };
        let request = RegisterRequest {
            contacts: req
                .headers
                .iter()
                .filter(|(n, _)| n == "Contact")
                .map(|(_, v)| v.clone())
                .collect(),
            expires_header: req.header("Expires").and_then(|v| v.trim().parse().ok()),
            call_id: req.ess.call_id.clone(),
            cseq: req.cseq,
            source: peer.addr,
            transport,
        };
        match self.desk.registrar.register(now, &extension, request) {
            Ok(reg) => {
                let h: Vec<(&str, &str)> = reg
                    .contacts
                    .iter()
                    .map(|c| ("Contact", c.as_str()))
                    .collect();
                self.endpoint.respond_to(now, id, 200, &h);
                self.registration_changes(now, reg.changes);
            }
            Err(e) => {
                let headers = e.headers();
                let h: Vec<(&str, &str)> = headers
                    .iter()
                    .map(|(n, v)| (n.as_str(), v.as_str()))
                    .collect();
                self.endpoint.respond_to(now, id, e.status(), &h);
            }
        }
    }

    /// Stores registration changes and tells the ACD who can be reached.
    pub(super) fn registration_changes(&mut self, now: Instant, changes: Vec<Change>) {
        for c in changes {
            let b = &c.binding;
            let write = match c.kind {
                ChangeKind::Added | ChangeKind::Refreshed => {
                    let left = b.expires_at.saturating_duration_since(now).as_millis() as i64;
                    AgentWrite::Registered(RegistrationRow {
                        extension: b.extension.clone(),
                        contact: b.uri.clone(),
                        source: b.source.to_string(),
                        transport: b.transport.as_str().to_string(),
                        expires_at: self.now.wall_ms + left,
                    })
                }
                ChangeKind::Removed(_) => AgentWrite::Unregistered {
                    extension: b.extension.clone(),
                    contact: b.uri.clone(),
                },
            };
            tracing::info!(agent = %c.agent_id, change = ?c.kind, "registration");
            self.out.store(Write::Agent(write));
            let actions = self.desk.acd.set_reachable(&c.agent_id, c.reachable, now);
            self.acd_actions(now, actions);
        }
    }

    /// An OPTIONS ping ended; silence means the phone is gone.
    pub(super) fn on_ping_done(&mut self, now: Instant, id: RequestRef, status: Option<u16>) {
        let Some((extension, contact)) = self.desk.pings.remove(&id) else {
            return;
        };
        if status.is_none() {
            tracing::info!(%extension, "phone does not answer OPTIONS; registration dropped");
            if let Some(change) = self.desk.registrar.mark_dead(&extension, &contact) {
                self.registration_changes(now, vec![change]);
            }
        }
    }

    /// Timers: registrations expire, the ACD's timers, pings.
    pub(super) fn desk_timeout(&mut self, now: Instant) {
        if self.desk.registrar.poll_timeout().is_some_and(|t| t <= now) {
            let changes = self.desk.registrar.handle_timeout(now);
            self.registration_changes(now, changes);
        }
        if self.desk.acd.poll_timeout().is_some_and(|t| t <= now) {
            let actions = self.desk.acd.handle_timeout(now);
            self.acd_actions(now, actions);
        }
        if self.desk.next_ping <= now {
            self.desk.next_ping = now + PING_EVERY;
            let extensions: Vec<String> = self.desk.agent_of.keys().cloned().collect();
            for ext in extensions {
                for b in self.desk.registrar.contacts(&ext) {
                    let Some(peer) = peer_of(&b, &self.desk.tcp_links) else {
                        continue;
                    };
                    let host = self.local_host_for(b.source);
                    let id = self.endpoint.ping(now, peer, &b.uri, &host);
                    self.desk.pings.insert(id, (ext.clone(), b.uri.clone()));
                }
            }
        }
    }

    /// Our address as a phone at `to` reaches it: the configured one, else the source
    /// address of the route to it.
    pub(super) fn local_host_for(&mut self, to: SocketAddr) -> String {
        match self.settings.media_ip {
            Some(ip) => ip.to_string(),
            None => self
                .host
                .local_ip_towards(to)
                .map_or_else(|| "127.0.0.1".into(), |ip| ip.to_string()),
        }
    }

    /// The challenge headers for a phone: MD5 alone for phones known to fail on the
    /// SHA-256 challenge that comes first.
    pub(super) fn challenge_for(
        &self,
        user_agent: Option<&str>,
        mut headers: Vec<(String, String)>,
    ) -> Vec<(String, String)> {
        let legacy = user_agent.is_some_and(|ua| {
            self.desk
                .features
                .md5_only_user_agents
                .iter()
                .any(|p| ua.starts_with(p.as_str()))
        });
        if legacy {
            headers.retain(|(_, v)| v.contains("algorithm=MD5"));
        }
        headers
    }

    // ---- feature codes ----

    /// The action an extension dialled from an agent's phone asks for, if it is one.
    pub(super) fn feature(&self, called: &str) -> Option<&'static str> {
        let f = &self.desk.features;
        [
            (&f.login, "login"),
            (&f.logout, "logout"),
            (&f.pause, "pause"),
            (&f.resume, "resume"),
        ]
        .into_iter()
        .find(|(code, _)| code.as_str() == called)
        .map(|(_, action)| action)
    }

    /// The agent an INVITE from an agent's phone comes from (digest, as for REGISTER);
    /// `None` once it was challenged or refused.
    pub(super) fn authenticate_agent(
        &mut self,
        now: Instant,
        call: CallRef,
        info: &IncomingCall,
    ) -> Option<String> {
        if self.desk.node.is_some() {
            let agent = self.edge_agent(info);
            if agent.is_none() {
                self.endpoint.reject(now, call, 403, &[]);
            }
            return agent;
        }
        let (peer, user_agent) = (info.peer, info.user_agent.as_deref());
        let authz: Vec<&str> = info.authorization.iter().map(String::as_str).collect();
        match self
            .desk
            .registrar
            .authenticate(now, peer.addr.ip(), "INVITE", &authz)
        {
            AuthOutcome::Challenge { headers } => {
                let headers = self.challenge_for(user_agent, headers);
                let h: Vec<(&str, &str)> = headers
                    .iter()
                    .map(|(n, v)| (n.as_str(), v.as_str()))
                    .collect();
                self.endpoint.reject(now, call, 401, &h);
                None
            }
            AuthOutcome::Forbidden | AuthOutcome::Ignore => {
                self.endpoint.reject(now, call, 403, &[]);
                None
            }
            AuthOutcome::Ok { agent_id, .. } => Some(agent_id),
        }
    }

    /// Authenticates a feature-code INVITE and carries it out. Returns the prompt that
    /// confirms it, or `None` when the call was refused (challenged).
    pub(super) fn feature_call(
        &mut self,
        now: Instant,
        call: CallRef,
        info: &IncomingCall,
        action: &str,
    ) -> Option<&'static str> {
        let agent = self.authenticate_agent(now, call, info)?;
        let result = match action {
            "login" => self.desk.acd.login(&agent, now),
            "logout" => self.desk.acd.logout(&agent, now),
            "pause" => self.desk.acd.pause(&agent, "phone", now),
            _ => self.desk.acd.resume(&agent, now),
        };
        match result {
            Ok(actions) => self.acd_actions(now, actions),
            Err(e) => tracing::info!(%agent, action, %e, "feature code changed nothing"),
        }
        Some(match action {
            "login" => "agent_logged_in",
            "logout" => "agent_logged_out",
            "pause" => "agent_paused",
            _ => "agent_resumed",
        })
    }
}
