//! The dial plan's `transfer` node: the caller is put through to an outside number (a
//! department, a partner's line) through a trunk, and stays on hotline's media path so
//! the call is recorded to its end. The far end's call has an outbound record of its
//! own; the caller's timeline says where they went. If nobody answers, the caller hears
//! so and is hung up, never left in silence.

use super::outbound::{NewJob, Purpose};
use super::{Host, MediaCmd, Switchboard};
use crate::core::sip::endpoint::{CallRef, EndCause};
use std::time::Instant;

impl<H: Host> Switchboard<H> {
    /// Calls `target` for the caller of `call`, who waits with music meanwhile.
    pub(super) fn transfer_out(&mut self, now: Instant, call: CallRef, target: &str) {
        if self.dialer.lines.lines.is_empty() {
            // No trunk to carry it: said on the timeline, and the call ends.
            self.event(call, "transfer_unavailable", target.to_string());
            return self.endpoint.hangup(now, call, EndCause::Completed);
        }
        let key = self.new_job(NewJob {
            ticket: None,
            purpose: Purpose::Transfer,
            number: target.to_string(),
            agent: None,
            sip_call_id: String::new(),
            source: String::new(),
            transport: "udp",
        });
        self.dialer.set_caller(key, call);
        let music = self.clips(call, &["hold_music"]).into_iter().next();
        self.out.media(MediaCmd::Hold { call, music });
        self.dial_customer(now, key, 0);
    }

    /// The far end answered: the caller is bridged to it.
    pub(super) fn transfer_answered(&mut self, key: u64, far: CallRef) {
        let Some((caller, target)) = self.dialer.transfer_of(key) else {
            return;
        };
        self.dialer.set_connected(key);
        self.out.media(MediaCmd::Hold {
            call: caller,
            music: None,
        });
        self.out.media(MediaCmd::Bridge { a: caller, b: far });
        self.event(caller, "transferred", target);
    }

    /// Nobody answered (or every trunk failed): the caller is told, then hung up.
    pub(super) fn transfer_failed(&mut self, caller: CallRef) {
        self.event(caller, "transfer_failed", String::new());
        self.out.media(MediaCmd::Hold {
            call: caller,
            music: None,
        });
        self.play(caller, &["dial_out_failed", "goodbye"], false);
        if let Some(c) = self.calls.get_mut(&caller) {
            c.closing = true;
        }
    }

    /// The far end hung up: so does hotline, on the caller.
    pub(super) fn transfer_far_end_gone(&mut self, now: Instant, key: u64) {
        if let Some(caller) = self.dialer.end_transfer(key, ("remote", "caller_bye")) {
            self.out.media(MediaCmd::Unbridge { call: caller });
            self.endpoint.hangup(now, caller, EndCause::Completed);
        }
    }

    /// The caller hung up: the far end's call ends too (cancelled while it rings).
    pub(super) fn transfer_caller_gone(&mut self, now: Instant, caller: CallRef) {
        let Some((key, far)) = self.dialer.transfer_by_caller(caller) else {
            return;
        };
        self.dialer.end_transfer(key, ("hotline", "caller_gone"));
        if let Some(far) = far {
            self.endpoint.hangup(now, far, EndCause::Completed);
        }
    }
}
