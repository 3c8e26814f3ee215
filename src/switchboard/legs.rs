//! Legs to agents: rung, answered and bridged, ended, the outcome code after the call,
//! and transfers.

use super::call::Call;
use super::timers::Due;
use super::{Host, MediaCmd, RtpCounters, Switchboard};
use crate::acd::{self, RingFailure};
use crate::core::media::dtmf::Digit;
use crate::core::media::speech;
use crate::core::sdp::Offer;
use crate::core::sip::endpoint::{CallRef, EndCause, EndedBy};
use crate::ivr::{Input as IvrInput, Plan, QueueOutcome};
use crate::store::{AgentWrite, FollowUpKind, NewFollowUp, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long an agent has to key the outcome code after the caller has gone.
const OUTCOME_TIME: Duration = Duration::from_secs(60);

/// A leg from hotline to an agent's phone.
pub(super) struct Leg {
    pub customer: CallRef,
    pub agent: String,
    /// Position among the customer call's legs (call_legs.seq).
    pub seq: i64,
    pub record_id: String,
    pub port: u16,
    pub answered: bool,
    /// The caller has gone: the agent keys the outcome code (digits so far).
    pub wrap_up: Option<String>,
    /// What an outcome code needs once the caller's call is gone: the plan (its outcome
    /// keys and calendar), the caller's number and verified account.
    pub after: Option<(Option<Arc<Plan>>, String, Option<String>)>,
    /// The agent's last keys during the call, to spot the escalation code.
    pub keyed: String,
    pub rtp: Arc<RtpCounters>,
    /// The ticket a callback works on: the outcome keyed after it moves the ticket.
    pub followup: Option<String>,
}

impl<H: Host> Switchboard<H> {
    // ---- legs ----

    /// A leg to an agent was answered.
    pub(super) fn leg_answered(&mut self, now: Instant, leg: CallRef, answer: Option<Offer>) {
        let Some(l) = self.desk.legs.get(&leg) else {
            // A leg we already gave up: end it.
            return self.endpoint.hangup(now, leg, EndCause::Cancelled);
        };
        let (customer, agent) = (l.customer, l.agent.clone());
        if let Some(a) = &answer {
            self.out.media(MediaCmd::update_from(leg, a, true));
        }
        self.out.media(MediaCmd::WatchRtp { call: leg });
        let actions = self.desk.acd.answered(customer.0, &agent, now);
        let connected = actions
            .iter()
            .any(|a| matches!(a, acd::Action::Connect { .. }));
        self.acd_actions(now, actions);
        if !connected {
            // The ACD had moved on (the caller left, another agent answered first).
            self.desk.ringing.remove(&(customer, agent));
            self.end_leg(leg, "answered_elsewhere");
            self.endpoint.hangup(now, leg, EndCause::Cancelled);
        }
    }

    /// The ACD accepted the answer: the caller hears the agent's ID, then the agent.
    pub(super) fn connect(&mut self, now: Instant, call: CallRef, agent: &str) {
        let Some(leg) = self.desk.ringing.remove(&(call, agent.to_string())) else {
            return;
        };
        let Some(l) = self.desk.legs.get_mut(&leg) else {
            return;
        };
        l.answered = true;
        self.out.store(Write::Agent(AgentWrite::LegAnswered {
            call: l.record_id.clone(),
            seq: l.seq,
            agent: agent.to_string(),
            at_ms: self.now.wall_ms,
        }));
        if let Some(q) = self.desk.queued.get_mut(&call) {
            q.bridged = Some(leg);
        }
        if let Some(c) = self.calls.get_mut(&call) {
            c.agent = Some(agent.to_string());
        }
        let lang = self.call_language(call);
        let mut names = vec!["agent_number"];
        names.extend(speech::digits(agent, lang));
        names.push("agent_will_serve");
        self.out.media(MediaCmd::Hold { call, music: None });
        self.play(call, &names, false);
        self.out.media(MediaCmd::Bridge { a: call, b: leg });
        self.event(call, "agent", agent.to_string());
        self.ivr_step(
            now,
            call,
            IvrInput::QueueOutcome(QueueOutcome::Answered {
                agent: agent.to_string(),
            }),
        );
    }

    /// The agent put the caller on hold (or took them off it): the caller hears music
    /// meanwhile.
    pub(super) fn leg_held(&mut self, leg: CallRef, offer: Offer) {
        let Some(customer) = self.desk.legs.get(&leg).map(|l| l.customer) else {
            return;
        };
        self.out.media(MediaCmd::update_from(leg, &offer, false));
        if offer.dir.sends() {
            self.out.media(MediaCmd::Hold {
                call: customer,
                music: None,
            });
            self.out.media(MediaCmd::Bridge {
                a: customer,
                b: leg,
            });
            self.event(customer, "resume", String::new());
        } else {
            self.out.media(MediaCmd::Unbridge { call: customer });
            let music = self.clips(customer, &["hold_music"]).into_iter().next();
            self.out.media(MediaCmd::Hold {
                call: customer,
                music,
            });
            self.event(customer, "hold", String::new());
        }
    }

    /// A leg ended by the endpoint (phone refused, hung up, did not answer).
    pub(super) fn leg_ended(
        &mut self,
        now: Instant,
        leg: CallRef,
        by: EndedBy,
        cause: EndCause,
        status: Option<u16>,
    ) {
        let Some(l) = self.desk.legs.get(&leg) else {
            return;
        };
        let (customer, agent, answered, in_wrap_up) =
            (l.customer, l.agent.clone(), l.answered, l.wrap_up.is_some());
        if !answered {
            self.desk.ringing.remove(&(customer, agent.clone()));
            let why = match (cause, status) {
                (_, Some(486 | 600)) => RingFailure::Busy,
                (EndCause::NoAnswer, _) | (_, Some(408 | 480 | 487)) => RingFailure::NoAnswer,
                (_, Some(404 | 410 | 500..=599)) => RingFailure::Unreachable,
                _ => RingFailure::Rejected,
            };
            self.end_leg(leg, why.as_str());
            let actions = self.desk.acd.ring_failed(customer.0, &agent, why, now);
            return self.acd_actions(now, actions);
        }
        let by_agent = by == EndedBy::Remote;
        self.end_leg(leg, if by_agent { "agent_bye" } else { "hotline" });
        if in_wrap_up {
            return;
        }
        // The agent hung up on the caller: the caller goes on with the dial plan
        // (the survey) or is hung up.
        self.out.media(MediaCmd::Unbridge { call: customer });
        self.desk.queued.remove(&customer);
        let actions = self.desk.acd.call_ended(&agent, now);
        self.acd_actions(now, actions);
        let has_plan = self.calls.get_mut(&customer).is_some_and(|c| {
            c.agent_left = true;
            c.ivr.is_some()
        });
        if has_plan {
            self.ivr_step(now, customer, IvrInput::AgentHungUp);
        } else {
            self.endpoint.hangup(now, customer, EndCause::AgentBye);
        }
    }

    /// The caller's call ended: leave the queue, or keep the agent for the outcome code.
    pub(super) fn customer_gone(&mut self, now: Instant, call: CallRef, ctx: &Call) {
        let Some(q) = self.desk.queued.remove(&call) else {
            return;
        };
        match q.bridged {
            None => {
                let actions = self.desk.acd.leave(call.0, now);
                self.acd_actions(now, actions);
            }
            Some(leg) => {
                self.out.media(MediaCmd::Unbridge { call: leg });
                let Some(l) = self.desk.legs.get_mut(&leg) else {
                    return;
                };
                l.wrap_up = Some(String::new());
                let session = ctx.ivr.as_ref();
                l.after = Some((
                    session
                        .map(|s| Arc::clone(s.plan()))
                        .or_else(|| ctx.plan.clone()),
                    ctx.caller.clone(),
                    session.and_then(|s| s.customer().map(str::to_string)),
                ));
                let agent = l.agent.clone();
                let actions = self.desk.acd.call_ended(&agent, now);
                self.acd_actions(now, actions);
                self.play(leg, &["agent_enter_outcome"], true);
                self.timers.set(leg, Due::Outcome, now + OUTCOME_TIME);
            }
        }
    }

    /// A key from the caller while bridged: passed on to the agent.
    pub(super) fn customer_digit(&mut self, call: CallRef, digit: Digit) {
        if let Some(leg) = self.desk.queued.get(&call).and_then(|q| q.bridged) {
            self.out.media(MediaCmd::SendDigit { call: leg, digit });
        }
    }

    /// A key from an agent's leg: passed on to the caller during the call (the escalation
    /// code sends the caller to the supervisors); the outcome code during wrap-up, ended
    /// with #.
    pub(super) fn leg_digit(&mut self, now: Instant, leg: CallRef, digit: Digit) {
        let key = digit.as_char();
        let Some(l) = self.desk.legs.get_mut(&leg) else {
            return;
        };
        if l.answered && l.wrap_up.is_none() {
            let customer = l.customer;
            l.keyed.push(key);
            let escalate = &self.desk.features.escalate;
            let over = l.keyed.len().saturating_sub(escalate.len());
            l.keyed.drain(..over);
            let escalated = !escalate.is_empty() && l.keyed == *escalate;
            self.out.media(MediaCmd::SendDigit {
                call: customer,
                digit,
            });
            if escalated {
                let target = format!("sip:{}@hotline", self.desk.features.supervisor_queue);
                self.leg_refer(now, leg, &target);
            }
            return;
        }
        let Some(code) = l.wrap_up.as_mut() else {
            return;
        };
        if key != '#' {
            if code.len() < 8 && key.is_ascii_digit() {
                code.push(key);
            }
            return;
        }
        if code.is_empty() {
            return;
        }
        let (code, call, agent) = (std::mem::take(code), l.record_id.clone(), l.agent.clone());
        let (plan, caller, customer) = l.after.take().unwrap_or_default();
        l.wrap_up = None;
        let ticket = l.followup.take();
        tracing::info!(%agent, "outcome code keyed");
        // Keys the plan declares stand for its outcome codes; others are kept as keyed.
        let outcome = plan
            .as_ref()
            .and_then(|p| p.outcomes.iter().find(|o| o.key.as_deref() == Some(&code)));
        let (code, follow_up) = outcome.map_or((code, false), |o| (o.code.clone(), o.follow_up));
        match (ticket, follow_up, &plan) {
            // A callback: an outcome that needs no more work resolves its ticket; one
            // that does leaves it answered, with the ticket still open.
            (Some(followup), false, _) => self.out.store(Write::FollowUpResolved {
                followup,
                call: call.clone(),
                outcome: code.clone(),
                agent: Some(agent.clone()),
                at_ms: self.now.wall_ms,
                // The dialer calls callbacks only; a complaint's revisit is made when
                // the complaint itself is resolved.
                revisit: None,
            }),
            (Some(_), true, _) => {}
            (None, true, Some(plan)) => self.agent_followup(&call, &code, caller, customer, plan),
            (None, _, _) => {}
        }
        self.out
            .store(Write::Agent(AgentWrite::Disposition { call, code }));
        self.play(leg, &["agent_outcome_saved"], false);
        let actions = self.desk.acd.wrap_up_done(&agent, now);
        self.acd_actions(now, actions);
    }

    /// An outcome the plan declares to need follow-up opens a callback to the caller, due
    /// by the plan's calendar.
    pub(super) fn agent_followup(
        &mut self,
        call: &str,
        code: &str,
        caller: String,
        customer: Option<String>,
        plan: &Plan,
    ) {
        let mut f = NewFollowUp::new(FollowUpKind::Callback, caller, self.now.wall_ms);
        f.category = code.to_string();
        f.call_id = Some(call.to_string());
        f.customer = customer;
        self.write_followup(f, Some(plan));
    }

    /// Stores a follow-up with its due times on the plan's calendar (none without a plan).
    pub(super) fn write_followup(&mut self, mut f: NewFollowUp, plan: Option<&Plan>) {
        if let Some(plan) = plan {
            crate::followup::due_times(
                &self.settings.followups,
                &plan.calendar,
                f.kind,
                &f.category,
                f.created_at,
                f.promised_to,
            )
            .apply(&mut f);
        }
        self.out.store(Write::FollowUp(Box::new(f)));
    }

    /// What was playing on a leg finished: after the outcome is saved, hang up.
    pub(super) fn leg_playback_done(&mut self, now: Instant, leg: CallRef) {
        let done = self
            .desk
            .legs
            .get(&leg)
            .is_some_and(|l| l.answered && l.wrap_up.is_none() && !self.is_bridged_leg(leg));
        if done {
            self.end_leg(leg, "completed");
            self.endpoint.hangup(now, leg, EndCause::Completed);
        }
    }

    pub(super) fn is_bridged_leg(&self, leg: CallRef) -> bool {
        self.desk.queued.values().any(|q| q.bridged == Some(leg))
    }

    /// The queue's wrap-up time is over and the agent is offered calls again: a phone
    /// still waiting for the outcome code is hung up, so it is free for the next call.
    pub(super) fn wrap_up_over(&mut self, now: Instant, agent: &str) {
        let leg = self
            .desk
            .legs
            .iter()
            .find(|(_, l)| l.agent == agent && l.wrap_up.is_some())
            .map(|(leg, _)| *leg);
        if let Some(leg) = leg {
            self.end_leg(leg, "no_outcome");
            self.endpoint.hangup(now, leg, EndCause::Completed);
        }
    }

    /// The agent took too long to key the outcome.
    pub(super) fn leg_timeout(&mut self, now: Instant, leg: CallRef) {
        if self
            .desk
            .legs
            .get(&leg)
            .is_some_and(|l| l.wrap_up.is_some())
        {
            self.end_leg(leg, "no_outcome");
            self.endpoint.hangup(now, leg, EndCause::Completed);
        }
    }

    /// The agent's phone asked to transfer the caller (REFER): to a queue by name, to the
    /// supervisors, or to another agent by their ID (the caller waits for that agent in
    /// the agent's first queue, then gets its overflow).
    pub(super) fn leg_refer(&mut self, now: Instant, leg: CallRef, target: &str) {
        if target.to_ascii_lowercase().contains("replaces=") {
            // Attended: the caller goes to the agent the transferor consulted.
            self.attended_transfer(now, leg, target);
            return;
        }
        let Some(l) = self.desk.legs.get(&leg) else {
            return;
        };
        let (customer, agent) = (l.customer, l.agent.clone());
        let user = target
            .split_once(':')
            .and_then(|(_, r)| r.split(['@', '?', ';']).next())
            .unwrap_or("")
            .to_string();
        let queue = if user == "supervisor" {
            self.desk.features.supervisor_queue.clone()
        } else {
            user.clone()
        };
        let (queue, only) = if self.desk.acd.queues().any(|q| q.name == queue) {
            (queue, None)
        } else if let Some(to) = self.desk.acd.agent(&user).filter(|_| user != agent) {
            let home = to.memberships.first().map(|(q, _)| q.clone());
            let current = self.desk.queued.get(&customer).map(|q| q.queue.clone());
            match home.or(current) {
                Some(q) => (q, Some(user.clone())),
                None => return tracing::info!("transfer to an agent in no queue refused"),
            }
        } else {
            return tracing::info!(%queue, "transfer to an unknown queue or agent refused");
        };
        let detail = only
            .as_ref()
            .map_or(queue.clone(), |a| format!("agent {a}"));
        self.event(customer, "transfer", detail);
        self.out.media(MediaCmd::Unbridge { call: customer });
        self.desk.queued.remove(&customer);
        self.end_leg(leg, "transferred");
        self.endpoint.hangup(now, leg, EndCause::Transferred);
        let actions = self.desk.acd.call_ended(&agent, now);
        self.acd_actions(now, actions);
        let priority = 9;
        self.enqueue_for(
            now,
            customer,
            &queue,
            priority,
            &["transferring"],
            only.as_deref(),
        );
    }

    /// Closes a leg's record, frees its port and media.
    pub(super) fn end_leg(&mut self, leg: CallRef, cause: &'static str) {
        let Some(l) = self.desk.legs.remove(&leg) else {
            return;
        };
        self.out.store(Write::Agent(AgentWrite::LegEnded {
            call: l.record_id,
            seq: l.seq,
            at_ms: self.now.wall_ms,
            cause,
            rtp: l.rtp.read(),
        }));
        self.out.media(MediaCmd::Stop { call: leg });
        self.ports.release(l.port);
        self.timers.cancel_all(leg);
    }

    /// Whether `call` is a leg to an agent.
    pub(super) fn is_leg(&self, call: CallRef) -> bool {
        self.desk.legs.contains_key(&call)
    }
}
