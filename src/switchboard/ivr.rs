//! Each call's dial plan session: fed what happens on the call (answer, keys, prompts
//! finished, its deadline, verification results) and its actions carried out as media
//! commands, records and SIP.

use super::timers::Due;
use super::{Host, MediaCmd, Output, Switchboard};
use crate::core::sip::endpoint::{CallRef, EndCause};
use crate::ivr::{Action, FollowUpKind, Input, Plan, Session, VerifyOutcome};
use crate::store::{self, CallIvr, NewFollowUp, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The urgency of a follow-up the dial plan marks urgent: above anything an agent's
/// outcome or an escalation gives a day's work.
const URGENT: i32 = 9;

/// A dial plan session for a call answered at `wall_ms`, on the plan's calendar.
pub(super) fn start_session(plan: Arc<Plan>, caller: &str, called: &str, wall_ms: i64) -> Session {
    let now = chrono::DateTime::from_timestamp_millis(wall_ms)
        .unwrap_or_default()
        .with_timezone(&chrono_tz::UTC);
    let local = plan.calendar.local(now);
    let info = crate::ivr::CallInfo {
        caller: caller.to_string(),
        called: called.to_string(),
    };
    Session::new(plan, info, local)
}

impl<H: Host> Switchboard<H> {
    /// Steps the call's session with `input` and carries out what it asks.
    pub(super) fn ivr_step(&mut self, now: Instant, call: CallRef, input: Input) {
        let Some(ivr) = self.ivr_mut(call) else {
            return;
        };
        for action in ivr.handle_input(now, input) {
            self.ivr_act(now, call, action);
        }
        match self.ivr_mut(call).and_then(|i| i.poll_timeout()) {
            Some(t) => self.timers.set(call, Due::Ivr, t),
            None => self.timers.cancel(call, Due::Ivr),
        }
    }

    /// The session's deadline passed.
    pub(super) fn ivr_timeout(&mut self, now: Instant, call: CallRef) {
        self.ivr_step(now, call, Input::Timeout);
    }

    /// A key for the session (keys while queued go to the queue instead).
    pub(super) fn ivr_key(&mut self, now: Instant, call: CallRef, key: char) {
        self.ivr_step(now, call, Input::Digit(key));
    }

    /// Carries out one action.
    fn ivr_act(&mut self, now: Instant, call: CallRef, action: Action) {
        match action {
            Action::Play { prompts, barge_in } => {
                self.play(call, &prompts, barge_in);
            }
            Action::StopPlayback => self.out.media(MediaCmd::Play {
                call,
                clips: vec![],
                barge_in: true,
            }),
            Action::Verify { account, secret } => self.out.push(Output::Verify {
                call,
                account,
                secret: secret.into(),
            }),
            Action::Queue {
                queue,
                priority,
                max_wait,
            } => {
                self.set_columns(
                    call,
                    CallIvr {
                        queue: Some(queue.clone()),
                        priority: Some(i32::from(priority)),
                        ..CallIvr::default()
                    },
                );
                self.enqueue(now, call, &queue, i32::from(priority), &[]);
                self.desk.acd.limit_wait(call.0, max_wait);
            }
            Action::RecordVoicemail { max: _ } => self.start_voicemail(call),
            Action::StopRecording => self.out.media(MediaCmd::StopRecording { call }),
            Action::FollowUp {
                kind,
                number,
                window,
                category,
                urgent,
            } => {
                let wall = self.now.wall_ms;
                let Some(c) = self.calls.get(&call) else {
                    return;
                };
                let session = c.ivr.as_ref();
                let customer = session.and_then(|s| s.customer().map(str::to_string));
                let plan = session.map(|s| Arc::clone(s.plan()));
                // A caller who waited in a queue keeps their place: the callback counts
                // from when they called, so callbacks are served in the order callers
                // arrived.
                let created = if c.legs > 0 || c.was_queued {
                    c.arrived_ms
                } else {
                    wall
                };
                let kind = match kind {
                    FollowUpKind::Callback => store::FollowUpKind::Callback,
                    FollowUpKind::Complaint => store::FollowUpKind::Complaint,
                };
                let mut f = NewFollowUp::new(kind, number, created);
                f.category = category;
                f.call_id = Some(c.id.clone());
                f.customer = customer;
                f.promised_from = window.map(|(a, _)| a.timestamp_millis());
                f.promised_to = window.map(|(_, b)| b.timestamp_millis());
                f.urgency = if urgent { URGENT } else { 0 };
                f.recording = c.message.clone();
                self.write_followup(f, plan.as_deref());
            }
            Action::Transfer { target } => self.transfer_out(now, call, &target),
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
                let at_ms = self.now.wall_ms;
                let agent = self.calls.get(&call).and_then(|c| c.agent.clone());
                self.ivr_record(call, |id| Write::Survey {
                    id,
                    question: question as i32,
                    score: i32::from(score),
                    agent,
                    at_ms,
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
                // Let the caller hang up first: their BYE within the grace ends the call
                // as theirs; after it, we hang up.
                let grace = self
                    .ivr_mut(call)
                    .map_or(Duration::ZERO, |s| s.plan().hangup_grace);
                match grace.is_zero() {
                    true => self.hang_up_after_goodbye(now, call),
                    false => self.timers.set(call, Due::Hangup, now + grace),
                }
            }
        }
    }

    /// The dial plan said goodbye and the caller has not hung up: we do.
    pub(super) fn hang_up_after_goodbye(&mut self, now: Instant, call: CallRef) {
        // After the agent hung up, the call's end is theirs.
        let cause = match self.calls.get(&call).map(|c| c.agent_left) {
            Some(true) => EndCause::AgentBye,
            Some(false) => EndCause::Completed,
            None => return,
        };
        self.endpoint.hangup(now, call, cause);
    }

    /// The verification answer arrives: the call's record learns the customer.
    pub(super) fn on_verified(&mut self, now: Instant, call: CallRef, outcome: VerifyOutcome) {
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
        self.ivr_step(now, call, Input::VerifyResult(outcome));
    }

    /// Records the caller into the voicemail folder, one file per voicemail node (a
    /// complaint's description and a later message do not overwrite each other); the
    /// session's deadline (or #) ends it.
    fn start_voicemail(&mut self, call: CallRef) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        let node = c
            .ivr
            .as_ref()
            .and_then(|s| s.current_node())
            .unwrap_or("voicemail")
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || "_-".contains(*c))
            .collect::<String>();
        let path = self
            .settings
            .voicemail_dir
            .join(format!("{}-{node}.wav", c.id));
        self.out.media(MediaCmd::Record {
            call,
            path: path.clone(),
        });
        let path = path.display().to_string();
        self.event(call, "voicemail", path.clone());
        if let Some(c) = self.calls.get_mut(&call) {
            c.message = Some(path);
        }
    }

    fn ivr_mut(&mut self, call: CallRef) -> Option<&mut Session> {
        self.calls.get_mut(&call).and_then(|c| c.ivr.as_mut())
    }

    /// Sets the IVR's columns of the call's record (`None` fields stay as they are).
    fn set_columns(&mut self, call: CallRef, ivr: CallIvr) {
        self.ivr_record(call, |id| Write::CallIvr { id, ivr });
    }

    /// A write about the call, built from its id.
    fn ivr_record(&mut self, call: CallRef, write: impl FnOnce(String) -> Write) {
        if let Some(c) = self.calls.get(&call) {
            let w = write(c.id.clone());
            self.out.store(w);
        }
    }
}
