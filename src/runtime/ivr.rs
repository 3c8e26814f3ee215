//! Runs each call's dial plan session: feeds it what happens on the call (answer, keys,
//! prompts finished, timers, verification results) and carries out its actions with
//! the media engine, the store and the endpoint.

use super::calls::Calls;
use super::media::MediaCmd;
use super::Input as RuntimeInput;
use crate::core::media::player::Clip;
use crate::core::sip::endpoint::{CallRef, EndCause, Endpoint};
use crate::ivr::{Action, FollowUpKind, Input, Plan, Secret, Session, VerifyOutcome, Waiting};
use crate::store::{self, now_ms, CallIvr, LockPolicy, NewFollowUp, Verification, Write};
use std::sync::Arc;
use std::time::Instant;

/// What the IVR adds to a call.
pub(super) struct IvrCall {
    pub session: Session,
    /// Ends a voicemail recording if the caller does not press # first.
    pub recording_until: Option<Instant>,
}

impl IvrCall {
    pub fn new(plan: Arc<Plan>, caller: &str, called: &str) -> IvrCall {
        let now = chrono::Utc::now().with_timezone(&chrono_tz::UTC);
        let local = plan.calendar.local(now);
        let info = crate::ivr::CallInfo {
            caller: caller.to_string(),
            called: called.to_string(),
        };
        IvrCall {
            session: Session::new(plan, info, local),
            recording_until: None,
        }
    }

    /// Whether keys now are part of a secret (then they must not be recorded).
    pub fn sensitive(&self) -> bool {
        matches!(
            self.session.waiting(),
            Waiting::Keys {
                sensitive: true,
                ..
            }
        )
    }

    /// The earliest time this call's IVR needs waking.
    pub fn next_timeout(&self) -> Option<Instant> {
        [self.session.next_timeout(), self.recording_until]
            .into_iter()
            .flatten()
            .min()
    }
}

impl Calls {
    /// Steps call `call`'s session with `input` and carries out what it asks.
    pub(super) fn ivr_step(
        &mut self,
        now: Instant,
        call: CallRef,
        input: Input,
        ep: &mut Endpoint,
    ) {
        let mut pending = vec![input];
        while let Some(input) = pending.pop() {
            let Some(ivr) = self.ivr_mut(call) else {
                return;
            };
            if input == Input::RecordingDone {
                ivr.recording_until = None;
            }
            let actions = ivr.session.step(now, input);
            for action in actions {
                if let Some(next) = self.ivr_act(now, call, action, ep) {
                    pending.insert(0, next);
                }
            }
        }
        self.schedule_ivr(call);
    }

    /// Wakes the IVR of calls whose deadline passed.
    pub(super) fn ivr_timeout(&mut self, now: Instant, call: CallRef, ep: &mut Endpoint) {
        let Some(ivr) = self.ivr_mut(call) else {
            return;
        };
        if ivr.recording_until.is_some_and(|t| t <= now) {
            self.stop_voicemail(call);
            return self.ivr_step(now, call, Input::RecordingDone, ep);
        }
        if ivr.session.next_timeout().is_some_and(|t| t <= now) {
            self.ivr_step(now, call, Input::Timeout, ep);
        } else {
            self.schedule_ivr(call);
        }
    }

    /// A key: ends a voicemail on #, otherwise goes to the session.
    pub(super) fn ivr_key(&mut self, now: Instant, call: CallRef, key: char, ep: &mut Endpoint) {
        let Some(ivr) = self.ivr_mut(call) else {
            return;
        };
        if ivr.session.waiting() == Waiting::Recording {
            if key == '#' {
                self.stop_voicemail(call);
                self.ivr_step(now, call, Input::RecordingDone, ep);
            }
            return;
        }
        self.ivr_step(now, call, Input::Digit(key), ep);
    }

    /// Carries out one action; returns an input to feed back at once, if any.
    fn ivr_act(
        &mut self,
        now: Instant,
        call: CallRef,
        action: Action,
        ep: &mut Endpoint,
    ) -> Option<Input> {
        match action {
            Action::Play { prompts, barge_in } => {
                let clips = self.clips(call, &prompts);
                let _ = self.media.send(MediaCmd::Play {
                    call,
                    clips,
                    barge_in,
                });
            }
            Action::StopPlayback => {
                let _ = self.media.send(MediaCmd::Play {
                    call,
                    clips: vec![],
                    barge_in: true,
                });
            }
            Action::Verify { account, secret } => self.verify(call, account, secret),
            Action::Queue {
                queue,
                priority,
                max_wait: _,
            } => {
                self.set_columns(
                    call,
                    CallIvr {
                        queue: Some(queue.clone()),
                        priority: Some(i32::from(priority)),
                        ..CallIvr::default()
                    },
                );
                self.enqueue(now, call, &queue, i32::from(priority), ep);
            }
            Action::RecordVoicemail { max } => self.start_voicemail(now, call, max),
            Action::FollowUp {
                kind,
                number,
                window,
                category,
            } => {
                let (id, customer, plan, created) = match self.calls.get(&call) {
                    Some(c) => (
                        c.id.clone(),
                        c.ivr
                            .as_ref()
                            .and_then(|i| i.session.customer().map(str::to_string)),
                        c.ivr.as_ref().map(|i| Arc::clone(i.session.plan())),
                        // A caller who waited in a queue keeps their place: the callback
                        // counts from when they called, so callbacks are served in the
                        // order callers arrived.
                        if c.legs > 0 || c.was_queued {
                            c.arrived_ms
                        } else {
                            now_ms()
                        },
                    ),
                    None => return None,
                };
                let kind = match kind {
                    FollowUpKind::Callback => store::FollowUpKind::Callback,
                    FollowUpKind::Complaint => store::FollowUpKind::Complaint,
                };
                let mut f = NewFollowUp::new(kind, number, created);
                f.category = category;
                f.call_id = Some(id);
                f.customer = customer;
                f.promised_from = window.map(|(a, _)| a.timestamp_millis());
                f.promised_to = window.map(|(_, b)| b.timestamp_millis());
                self.write_followup(f, plan.as_deref());
            }
            Action::Transfer { target: _ } => {
                // Transfers need the agent leg (B2BUA), which does not exist yet.
                self.event(call, "transfer_unavailable", String::new());
                ep.hangup(now, call, EndCause::Completed);
            }
            Action::Event { kind, detail } => self.event(call, kind, detail),
            Action::SetOutcome { code } => self.set_columns(
                call,
                CallIvr {
                    outcome: Some(code),
                    ..CallIvr::default()
                },
            ),
            Action::SetLanguage { lang } => self.set_columns(
                call,
                CallIvr {
                    language: Some(lang),
                    ..CallIvr::default()
                },
            ),
            Action::SurveyAnswer { question, score } => {
                let agent = self.calls.get(&call).and_then(|c| c.agent.clone());
                self.ivr_record(call, |id| Write::Survey {
                    id,
                    question: question as i32,
                    score: i32::from(score),
                    agent,
                    at_ms: now_ms(),
                })
            }
            Action::Hangup { outcome } => {
                if let Some(code) = outcome {
                    self.set_columns(
                        call,
                        CallIvr {
                            outcome: Some(code),
                            ..CallIvr::default()
                        },
                    );
                }
                // After the agent hung up, the call's end is theirs.
                let cause = match self.calls.get(&call).is_some_and(|c| c.agent_left) {
                    true => EndCause::AgentBye,
                    false => EndCause::Completed,
                };
                ep.hangup(now, call, cause);
            }
        }
        None
    }

    /// The prompts' clips in the session's language and the call's codec.
    fn clips(&self, call: CallRef, names: &[String]) -> Vec<Clip> {
        let (Some(c), Some(prompts)) = (self.calls.get(&call), &self.prompts) else {
            return vec![];
        };
        let lang = c
            .ivr
            .as_ref()
            .map_or(self.language, |i| i.session.language().code());
        names
            .iter()
            .filter_map(|n| prompts.get(lang, n))
            .map(|p| p.clip(c.codec))
            .collect()
    }

    /// Checks the caller's identity off the core task (hashing is slow) and feeds the
    /// answer back as an input.
    fn verify(&mut self, call: CallRef, account: String, secret: Secret) {
        let store = self.store.clone();
        let inputs = self.inputs.clone();
        let secret = match secret {
            Secret::Pin(s) => store::Secret::Pin(s),
            Secret::IdDigits(s) => store::Secret::IdDigits(s),
        };
        tokio::spawn(async move {
            let outcome = match store
                .verify(&account, secret, now_ms(), &LockPolicy::default())
                .await
            {
                Ok(Verification::Ok { customer, vip }) => VerifyOutcome::Ok {
                    customer_id: customer,
                    vip,
                },
                Ok(Verification::Failed { .. }) => VerifyOutcome::Failed,
                Ok(Verification::Locked { .. }) => VerifyOutcome::Locked,
                Err(e) => {
                    tracing::error!(%e, "verification failed for a database error; treated as a failed attempt");
                    VerifyOutcome::Failed
                }
            };
            let _ = inputs.send(RuntimeInput::Verified(call, outcome));
        });
    }

    /// The verification answer arrives: the call's record learns the customer.
    pub(super) fn on_verified(
        &mut self,
        now: Instant,
        call: CallRef,
        outcome: VerifyOutcome,
        ep: &mut Endpoint,
    ) {
        if let VerifyOutcome::Ok { customer_id, .. } = &outcome {
            self.set_columns(
                call,
                CallIvr {
                    customer: Some(customer_id.clone()),
                    verified: Some(true),
                    ..CallIvr::default()
                },
            );
        }
        self.ivr_step(now, call, Input::VerifyResult(outcome), ep);
    }

    fn start_voicemail(&mut self, now: Instant, call: CallRef, max: std::time::Duration) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let path = self.voicemail_dir.join(format!("{}-voicemail.wav", c.id));
        if let Err(e) = std::fs::create_dir_all(&self.voicemail_dir) {
            tracing::error!(%e, dir = %self.voicemail_dir.display(), "cannot create the voicemail folder");
        }
        if let Some(ivr) = c.ivr.as_mut() {
            ivr.recording_until = Some(now + max);
        }
        let _ = self.media.send(MediaCmd::Record {
            call,
            path: path.clone(),
        });
        self.event(call, "voicemail", path.display().to_string());
    }

    fn stop_voicemail(&mut self, call: CallRef) {
        if let Some(ivr) = self.ivr_mut(call) {
            ivr.recording_until = None;
        }
        let _ = self.media.send(MediaCmd::StopRecording { call });
    }

    fn ivr_mut(&mut self, call: CallRef) -> Option<&mut IvrCall> {
        self.calls.get_mut(&call).and_then(|c| c.ivr.as_mut())
    }

    /// Sets the IVR's columns of the call's record (`None` fields stay as they are).
    fn set_columns(&mut self, call: CallRef, ivr: CallIvr) {
        self.ivr_record(call, |id| Write::CallIvr { id, ivr });
    }

    /// A write about the call, built from its id.
    fn ivr_record(&mut self, call: CallRef, write: impl FnOnce(String) -> Write) {
        if let Some(c) = self.calls.get(&call) {
            self.writer.send(write(c.id.clone()));
        }
    }
}
