//! How a job goes on and ends: the agent's preview keys and the customer's revisit
//! answer, deadlines, calls ending (busy, no answer, trunk failover), and the attempt's
//! result recorded once.

use super::*;

impl<H: Host> Switchboard<H> {
    pub(super) fn job_digit(&mut self, now: Instant, key: u64, call: CallRef, digit: Digit) {
        let Some(job) = self.dialer.jobs.get_mut(&key) else {
            return;
        };
        let on_agent = job
            .agent_leg
            .as_ref()
            .is_some_and(|s| s.call == call && s.answered);
        match (job.stage, digit.as_char(), on_agent) {
            (Stage::Preview, '1', true) => {
                self.timers.cancel(call, Due::Dialer);
                self.play(call, &["callback_dialling"], false);
                self.dial_customer(now, key, 0);
            }
            (Stage::Preview, '2', true) => {
                self.job_event(key, "preview", "skipped".into());
                self.finish(now, key, DialResult::Skipped, "preview_skipped");
            }
            (Stage::Survey { .. }, k @ ('1' | '2'), false) => {
                let satisfied = k == '1';
                let (revisit, record, lang) = (
                    job.ticket.as_ref().map(|t| t.id.clone()),
                    job.record.clone(),
                    job.language,
                );
                job.stage = Stage::Ending;
                job.end = Some(("hotline", "completed"));
                self.timers.cancel(call, Due::Dialer);
                if let Some(revisit) = revisit {
                    self.out.store(Write::RevisitAnswered {
                        revisit,
                        call: record,
                        satisfied,
                        urgency_rise: self.settings.followups.escalate_by,
                        at_ms: self.now.wall_ms,
                    });
                }
                let verdict = if satisfied {
                    "satisfied"
                } else {
                    "unsatisfied"
                };
                self.job_event(key, "revisit", verdict.into());
                self.timers.set(call, Due::Dialer, now + PROMPT_LIMIT);
                let prompt = if satisfied {
                    "revisit_thanks"
                } else {
                    "revisit_sorry"
                };
                self.play_in(call, lang, Codec::Pcmu, &[prompt], false);
            }
            _ => {}
        }
    }

    pub(super) fn job_playback_done(&mut self, now: Instant, key: u64, call: CallRef) {
        let Some(job) = self.dialer.jobs.get(&key) else {
            return;
        };
        match job.stage {
            Stage::Ending => self.endpoint.hangup(now, call, EndCause::Completed),
            Stage::Survey { .. } => self.timers.set(call, Due::Dialer, now + SURVEY_WAIT),
            _ => {}
        }
    }

    /// A job's deadline: the agent did not take the preview, the customer did not answer,
    /// or gave no answer to the revisit question (asked twice).
    pub(in crate::switchboard) fn outbound_timeout(&mut self, now: Instant, call: CallRef) {
        let Some(&key) = self.dialer.by_call.get(&call) else {
            return;
        };
        let Some(job) = self.dialer.jobs.get_mut(&key) else {
            return;
        };
        match job.stage {
            Stage::Preview => {
                self.job_event(key, "preview", "not taken".into());
                self.finish(now, key, DialResult::Skipped, "preview_missed");
            }
            Stage::Dialling => self.finish(now, key, DialResult::NoAnswer, "no_answer"),
            Stage::Connected => {}
            Stage::Survey { asked } if asked < 2 => {
                job.stage = Stage::Survey { asked: asked + 1 };
                let lang = job.language;
                self.play_in(call, lang, Codec::Pcmu, &["revisit_question"], true);
                self.timers.set(call, Due::Dialer, now + PROMPT_LIMIT);
            }
            Stage::Survey { .. } => {
                job.stage = Stage::Ending;
                job.end = Some(("hotline", "no_verdict"));
                let lang = job.language;
                self.job_event(key, "revisit", "no answer given".into());
                self.play_in(call, lang, Codec::Pcmu, &["goodbye"], false);
                self.timers.set(call, Due::Dialer, now + PROMPT_LIMIT);
            }
            Stage::Ending => self.endpoint.hangup(now, call, EndCause::Completed),
        }
    }

    /// One of a job's calls ended.
    pub(super) fn job_call_ended(
        &mut self,
        now: Instant,
        key: u64,
        call: CallRef,
        by: EndedBy,
        cause: EndCause,
        status: Option<u16>,
    ) {
        self.forget_job_call(key, call);
        let Some(job) = self.dialer.jobs.get(&key) else {
            return;
        };
        let was_agent = job.agent_leg.as_ref().is_some_and(|s| s.call == call);
        let stage = job.stage;
        if was_agent {
            if let Some(job) = self.dialer.jobs.get_mut(&key) {
                job.agent_leg = None;
            }
            if stage != Stage::Ending {
                // The agent missed or left the preview, or gave up while the customer rang.
                self.job_event(key, "preview", "agent left".into());
                self.finish(now, key, DialResult::Skipped, "agent_left");
            }
        } else {
            if let Some(job) = self.dialer.jobs.get_mut(&key) {
                job.customer = None;
            }
            match stage {
                Stage::Dialling if by == EndedBy::Remote => {
                    let trunk = self.dialer.jobs[&key].trunk;
                    match refusal(cause, status) {
                        Refusal::TryNext => {
                            let what = status.map_or("no response".into(), |s| s.to_string());
                            self.job_event(key, "trunk_failed", what);
                            self.dial_customer(now, key, trunk + 1);
                        }
                        Refusal::Busy => self.finish(now, key, DialResult::Busy, "busy"),
                        Refusal::NoAnswer => {
                            self.finish(now, key, DialResult::NoAnswer, "no_answer")
                        }
                        Refusal::Failed => self.finish(now, key, DialResult::Failed, "rejected"),
                    }
                }
                Stage::Connected => self.transfer_far_end_gone(now, key),
                // The customer hung up during the revisit question: reached, no verdict.
                Stage::Survey { .. } if by == EndedBy::Remote => {
                    self.finish(now, key, DialResult::Answered, "caller_bye")
                }
                // Hung up by hotline itself (a shutdown): no attempt on the customer.
                Stage::Survey { .. } => self.finish(now, key, DialResult::Answered, "shutdown"),
                Stage::Preview | Stage::Dialling => {
                    self.finish(now, key, DialResult::Skipped, "shutdown")
                }
                Stage::Ending => {}
            }
        }
        self.end_job_if_idle(key);
    }

    /// Records the attempt's result once (the attempt count, a retry or unreachable).
    pub(super) fn settle_attempt(&mut self, key: u64, result: DialResult) -> Option<Next> {
        let at_ms = self.now.wall_ms;
        let rules = self.dialer.rules();
        let job = self.dialer.jobs.get(&key)?;
        let t = job.ticket.as_ref()?;
        let before = self.dialer.candidate(t).attempts;
        let next = dialer::after(result, before, at_ms, &rules);
        let write = Write::DialAttempt {
            followup: t.id.clone(),
            call: job.record.clone(),
            result,
            agent: job.agent.clone(),
            at_ms,
            unreachable: next == Next::Unreachable,
        };
        let id = t.id.clone();
        self.out.store(write);
        if result.counts() {
            self.dialer.tried.insert(id.clone(), (before + 1, at_ms));
        } else {
            let attempts = self.dialer.tried.get(&id).map_or(before, |t| t.0);
            self.dialer.tried.insert(id.clone(), (attempts, at_ms));
        }
        if matches!(next, Next::Reached | Next::Unreachable) {
            if next == Next::Unreachable {
                tracing::warn!(followup = %id, "customer unreachable after the last attempt: for a supervisor");
            }
            self.dialer.settled.insert(id);
        }
        Some(next)
    }

    /// The attempt ended without the customer bridged: records it, tells the agent, and
    /// hangs up what is left.
    pub(super) fn finish(
        &mut self,
        now: Instant,
        key: u64,
        result: DialResult,
        cause: &'static str,
    ) {
        let Some(job) = self.dialer.jobs.get_mut(&key) else {
            return;
        };
        if job.stage == Stage::Ending {
            return;
        }
        job.stage = Stage::Ending;
        let by = if cause == "caller_bye" {
            "remote"
        } else {
            "hotline"
        };
        job.end.get_or_insert((by, cause));
        let next = match result {
            DialResult::Answered => None,
            _ => self.settle_attempt(key, result),
        };
        let Some(job) = self.dialer.jobs.get_mut(&key) else {
            return;
        };
        let agent_leg = job.agent_leg.as_ref().map(|s| (s.call, s.answered));
        let purpose = job.purpose;
        let customer = job.customer.as_ref().map(|s| s.call);
        let (caller, agent) = (job.caller.take(), job.agent.take());
        if let Some(caller) = caller {
            self.transfer_failed(caller);
        }
        if let Some(agent) = agent {
            let actions = self.desk.acd.release_outbound(&agent, key, now);
            self.acd_actions(now, actions);
        }
        if let Some(call) = customer {
            if result != DialResult::Answered {
                self.endpoint.hangup(now, call, EndCause::Completed);
            }
        }
        match agent_leg {
            Some((leg, true)) if result.counts() => {
                let prompt = match (purpose, next) {
                    (Purpose::DialOut, _) => "dial_out_failed",
                    (_, Some(Next::Unreachable)) => "callback_unreachable",
                    _ => "callback_not_reached",
                };
                self.play(leg, &[prompt], false);
                self.timers.set(leg, Due::Dialer, now + PROMPT_LIMIT);
            }
            Some((leg, _)) => self.endpoint.hangup(now, leg, EndCause::Completed),
            None => {}
        }
        self.end_job_if_idle(key);
    }

    /// Frees what a job's call held.
    pub(super) fn forget_job_call(&mut self, key: u64, call: CallRef) {
        self.dialer.by_call.remove(&call);
        self.timers.cancel_all(call);
        self.out.media(MediaCmd::Stop { call });
        let Some(job) = self.dialer.jobs.get(&key) else {
            return;
        };
        let agent = job.agent_leg.as_ref().filter(|s| s.call == call);
        let customer = job.customer.as_ref().filter(|s| s.call == call);
        if let Some(s) = agent {
            self.ports.release(s.port);
            self.out.store(Write::Agent(AgentWrite::LegEnded {
                call: job.record.clone(),
                seq: 1,
                at_ms: self.now.wall_ms,
                cause: "completed",
                rtp: s.rtp.read(),
            }));
        }
        if let Some(s) = customer {
            self.ports.release(s.port);
            self.dialer.lines.release(job.trunk);
        }
    }

    /// A job whose calls have all ended is over: its record is closed.
    pub(super) fn end_job_if_idle(&mut self, key: u64) {
        let idle = self.dialer.jobs.get(&key).is_some_and(|j| {
            j.stage == Stage::Ending && j.agent_leg.is_none() && j.customer.is_none()
        });
        if !idle {
            return;
        }
        let Some(job) = self.dialer.jobs.remove(&key) else {
            return;
        };
        let (by, cause) = job.end.unwrap_or(("hotline", "completed"));
        self.out.store(Write::CallEnded {
            id: job.record,
            at_ms: self.now.wall_ms,
            by,
            cause,
            status: None,
        });
    }

    /// Appends to the outbound call's timeline.
    pub(super) fn job_event(&mut self, key: u64, kind: &'static str, detail: String) {
        let at_ms = self.now.wall_ms;
        let Some(job) = self.dialer.jobs.get_mut(&key) else {
            return;
        };
        job.events += 1;
        let write = Write::CallEvent {
            id: job.record.clone(),
            seq: job.events,
            at_ms,
            kind,
            detail,
        };
        self.out.store(write);
    }

    /// Plays prompts in a given language and codec (a job's customer has no dial plan
    /// session to say which).
    pub(super) fn play_in(
        &mut self,
        call: CallRef,
        lang: &str,
        codec: Codec,
        names: &[&str],
        barge_in: bool,
    ) {
        let clips = match &self.prompts {
            Some(p) => names
                .iter()
                .filter_map(|n| p.get(lang, n))
                .map(|p| p.clip(codec))
                .collect(),
            None => vec![],
        };
        self.out.media(MediaCmd::Play {
            call,
            clips,
            barge_in,
        });
    }
}
