//! hotline registering with the trunks that want it (as a UAC): a REGISTER when due,
//! the digest challenge answered, refreshed before it expires, retried with backoff after
//! a failure; each change of state is logged with the trunk's name.

use super::{Host, Switchboard};
use crate::core::sip::endpoint::RequestRef;
use crate::core::sip::registration::{RegState, RegisterRequest, Registration, RegistrationConfig};
use rand::Rng;
use std::time::Instant;

/// One trunk's registration and the REGISTER in flight.
pub(super) struct TrunkReg {
    trunk: usize,
    reg: Registration,
    pending: Option<RequestRef>,
    last: RegState,
}

impl<H: Host> Switchboard<H> {
    /// Registrations for the trunks that declare one, the first REGISTER due at once.
    pub(super) fn start_trunk_registrations(&mut self, now: Instant) {
        let mut regs = Vec::new();
        for (i, line) in self.dialer.lines.lines.iter().enumerate() {
            let Some(r) = &line.trunk.register else {
                continue;
            };
            let cfg = RegistrationConfig {
                user: r.user.clone(),
                password: r.password.clone(),
                domain: line.trunk.address.clone(),
                expires_secs: r.expires_secs,
            };
            let call_id = format!("{:016x}@hotline", self.rng.gen::<u64>());
            let tag = format!("{:08x}", self.rng.gen::<u32>());
            regs.push(TrunkReg {
                trunk: i,
                reg: Registration::new(cfg, call_id, tag, now),
                pending: None,
                last: RegState::Unregistered,
            });
        }
        self.dialer.registrations = regs;
    }

    pub(super) fn trunk_reg_timeout(&self) -> Option<Instant> {
        self.dialer
            .registrations
            .iter()
            .filter_map(|r| r.reg.poll_timeout())
            .min()
    }

    /// Sends the REGISTERs that are due.
    pub(super) fn trunk_reg_due(&mut self, now: Instant) {
        for i in 0..self.dialer.registrations.len() {
            if let Some(req) = self.dialer.registrations[i].reg.handle_timeout(now) {
                self.send_register(now, i, &req);
            }
        }
    }

    /// At shutdown: every binding that is up is taken back (Expires: 0), so the trunks
    /// stop sending calls here.
    pub(super) fn unregister_trunks(&mut self, now: Instant) {
        for i in 0..self.dialer.registrations.len() {
            if let Some(req) = self.dialer.registrations[i].reg.unregister() {
                self.send_register(now, i, &req);
            }
        }
    }

    /// The answer to one of our REGISTERs; false when `id` is not one.
    pub(super) fn trunk_reg_answered(
        &mut self,
        now: Instant,
        id: RequestRef,
        status: Option<u16>,
        challenges: &[String],
        proxy: bool,
        expires: Option<u32>,
    ) -> bool {
        let Some(i) = self
            .dialer
            .registrations
            .iter()
            .position(|r| r.pending == Some(id))
        else {
            return false;
        };
        let r = &mut self.dialer.registrations[i];
        r.pending = None;
        let again = r.reg.on_response(now, status, challenges, expires, proxy);
        let state = r.reg.state();
        if std::mem::discriminant(&state) != std::mem::discriminant(&r.last) {
            let name = &self.dialer.lines.lines[r.trunk].trunk.name;
            match state {
                RegState::Registered { .. } => {
                    tracing::info!(trunk = %name, "registered with the trunk")
                }
                RegState::Failed { status, .. } => {
                    tracing::warn!(trunk = %name, ?status, "registration with the trunk failed; retrying later")
                }
                RegState::Unregistered => {
                    tracing::info!(trunk = %name, ?status, "registration with the trunk taken back")
                }
                _ => {}
            }
            r.last = state;
        }
        if let Some(req) = again {
            self.send_register(now, i, &req);
        }
        true
    }

    fn send_register(&mut self, now: Instant, i: usize, req: &RegisterRequest) {
        let line = self.dialer.lines.lines[self.dialer.registrations[i].trunk].clone();
        let peer = self.trunk_peer(&line);
        let local_host = self.local_host_for(line.addr);
        let r = &self.dialer.registrations[i];
        let id = self.endpoint.register(
            now,
            peer,
            &local_host,
            r.reg.config(),
            r.reg.call_id(),
            r.reg.from_tag(),
            req,
        );
        self.dialer.registrations[i].pending = Some(id);
    }
}
