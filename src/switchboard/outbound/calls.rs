//! A job's calls: the agent's preview leg and the customer's call through a trunk,
//! their SIP and media events, and the customer answering (a callback is handed over
//! as an ordinary bridged call; a revisit hears its question).

use super::*;

impl<H: Host> Switchboard<H> {
    /// Rings the agent for the preview; the phone shows the customer's number and name
    /// and the ticket.
    pub(super) fn ring_for_preview(&mut self, now: Instant, key: u64, agent: &str) {
        let target = self.desk.agent_phone(agent);
        let Some((peer, binding)) = target else {
            return self.finish(now, key, DialResult::Skipped, "agent_unreachable");
        };
        let local_host = self.local_host_for(binding.source);
        let Some(ip) = local_host.parse().ok() else {
            return self.finish(now, key, DialResult::Skipped, "agent_unreachable");
        };
        let Some(port) = self.take_rtp_port(ip) else {
            return self.finish(now, key, DialResult::Skipped, "no_rtp_port");
        };
        let media = LocalMedia {
            ip,
            port,
            session_id: self.session_id(),
            version: 1,
        };
        let Some(job) = self.dialer.jobs.get(&key) else {
            return;
        };
        let Some(t) = &job.ticket else {
            return;
        };
        let mut headers = vec![
            ("X-Hotline-Call".to_string(), job.record.clone()),
            ("X-Hotline-Followup".to_string(), t.id.clone()),
        ];
        if let Some(c) = &t.customer {
            headers.push(("X-Hotline-Customer".to_string(), c.clone()));
        }
        let display = match &t.customer_name {
            Some(name) => format!("Callback {name}"),
            None => format!("Callback {}", t.category),
        };
        let (number, record, queue) = (t.number.clone(), job.record.clone(), t.queue.clone());
        let leg = self.endpoint.dial(
            now,
            Dial {
                peer,
                uri: binding.uri.clone(),
                local_host,
                from_user: number,
                from_display: Some(display),
                headers,
                media,
                auth: None,
            },
        );
        let rtp = self.start_placed_media(leg, port);
        self.out.store(Write::Agent(AgentWrite::LegStarted {
            call: record,
            seq: 1,
            agent: agent.to_string(),
            queue,
            at_ms: self.now.wall_ms,
        }));
        let preview = Duration::from_secs(u64::from(self.dialer.settings.preview_secs));
        self.timers.set(leg, Due::Dialer, now + preview);
        self.dialer.by_call.insert(leg, key);
        if let Some(job) = self.dialer.jobs.get_mut(&key) {
            job.agent_leg = Some(Side {
                call: leg,
                port,
                rtp,
                answered: false,
            });
        }
    }

    /// Calls the customer through the first trunk from `from` with a free line.
    pub(in crate::switchboard) fn dial_customer(&mut self, now: Instant, key: u64, from: usize) {
        let Some(number) = self.dialer.jobs.get(&key).map(|j| j.number.clone()) else {
            return;
        };
        let Some(Placed {
            call,
            trunk,
            port,
            rtp,
        }) = self.dial_trunk(now, &number, from)
        else {
            // Every trunk failed in turn; or, at the first, no line or port was free,
            // which is no attempt on the customer.
            return match from {
                0 => self.finish(now, key, DialResult::Skipped, "no_line"),
                _ => self.finish(now, key, DialResult::Failed, "trunk_failed"),
            };
        };
        let ring = Duration::from_secs(u64::from(self.dialer.settings.ring_secs));
        self.timers.set(call, Due::Dialer, now + ring);
        self.dialer.by_call.insert(call, key);
        let line = &self.dialer.lines.lines[trunk];
        let (name, source) = (line.trunk.name.clone(), line.addr.to_string());
        let transport = line.trunk.transport.as_str();
        let sip_call_id = self
            .endpoint
            .sip_call_id(call)
            .unwrap_or_default()
            .to_string();
        if let Some(job) = self.dialer.jobs.get(&key) {
            // An agent's dial-out keeps the Call-ID of the agent's own INVITE.
            let write = Write::CallRouted {
                id: job.record.clone(),
                sip_call_id: (job.purpose != Purpose::DialOut).then_some(sip_call_id),
                trunk: name.clone(),
                source,
                transport,
            };
            self.out.store(write);
        }
        if let Some(job) = self.dialer.jobs.get_mut(&key) {
            job.stage = Stage::Dialling;
            job.trunk = trunk;
            job.customer = Some(Side {
                call,
                port,
                rtp,
                answered: false,
            });
        }
        self.job_event(key, "trunk", name);
    }

    /// Endpoint events about a job's calls; any other event is given back.
    pub(in crate::switchboard) fn outbound_event(
        &mut self,
        now: Instant,
        ev: Event,
    ) -> Option<Event> {
        let call = match &ev {
            Event::Answered { call, .. }
            | Event::Confirmed { call, .. }
            | Event::Ended { call, .. }
            | Event::Progress { call, .. }
            | Event::Info { call, .. }
            | Event::MediaChanged { call, .. } => *call,
            _ => return Some(ev),
        };
        let Some(&key) = self.dialer.by_call.get(&call) else {
            return Some(ev);
        };
        match ev {
            Event::Answered { answer, .. } => {
                if let Some(a) = &answer {
                    self.out.media(MediaCmd::update_from(call, a, true));
                }
                self.out.media(MediaCmd::WatchRtp { call });
                self.job_answered(now, key, call, answer.map_or(Codec::Pcmu, |a| a.codec));
            }
            Event::Confirmed { answer, .. } => {
                // A dial-out: the agent's ACK (with the answer when our 200 offered).
                self.out.media(MediaCmd::WatchRtp { call });
                if let Some(a) = answer {
                    self.out.media(MediaCmd::update_from(call, &a, true));
                }
            }
            Event::Ended {
                by, cause, status, ..
            } => self.job_call_ended(now, key, call, by, cause, status),
            Event::Info {
                content_type, body, ..
            } => {
                let digit = content_type
                    .as_deref()
                    .and_then(|t| dtmf::parse_info(t, &body));
                if let Some(digit) = digit {
                    self.job_digit(now, key, call, digit);
                }
            }
            Event::MediaChanged { offer, .. } => {
                self.out.media(MediaCmd::update_from(call, &offer, false))
            }
            _ => {}
        }
        None
    }

    /// Media events about a job's calls; any other event is given back.
    pub(in crate::switchboard) fn outbound_media(
        &mut self,
        now: Instant,
        ev: crate::switchboard::MediaEvent,
    ) -> Option<crate::switchboard::MediaEvent> {
        use crate::switchboard::MediaEvent as M;
        let call = match &ev {
            M::Digit { call, .. } | M::NoMedia { call } | M::PlaybackDone { call } => *call,
        };
        let Some(&key) = self.dialer.by_call.get(&call) else {
            return Some(ev);
        };
        match ev {
            M::Digit { digit, .. } => self.job_digit(now, key, call, digit),
            M::NoMedia { .. } => self.endpoint.hangup(now, call, EndCause::NoMedia),
            M::PlaybackDone { .. } => self.job_playback_done(now, key, call),
        }
        None
    }

    pub(super) fn job_answered(&mut self, now: Instant, key: u64, call: CallRef, codec: Codec) {
        let Some(job) = self
            .dialer
            .jobs
            .get_mut(&key)
            .filter(|j| j.stage != Stage::Ending)
        else {
            // The attempt is over (a late answer): this call ends too.
            return self.endpoint.hangup(now, call, EndCause::Cancelled);
        };
        let is_agent = job.agent_leg.as_ref().is_some_and(|s| s.call == call);
        let preview = is_agent.then(|| preview_prompts(job));
        let side = if is_agent {
            job.agent_leg.as_mut()
        } else {
            job.customer.as_mut()
        };
        if let Some(s) = side {
            s.answered = true;
        }
        if let Some(names) = preview {
            // The time to press counts from the end of the preview, which is long (G.711:
            // 8 bytes a millisecond).
            let spoken: usize = self.clips(call, &names).iter().map(|c| c.len()).sum();
            let wait = Duration::from_secs(u64::from(self.dialer.settings.preview_secs))
                + Duration::from_millis(spoken as u64 / 8);
            self.timers.set(call, Due::Dialer, now + wait);
            return self.play(call, &names, true);
        }
        self.timers.cancel(call, Due::Dialer);
        let (record, followup, agent, purpose) = (
            job.record.clone(),
            job.ticket.as_ref().map(|t| t.id.clone()),
            job.agent.clone(),
            job.purpose,
        );
        let at_ms = self.now.wall_ms;
        self.out.store(Write::CallAnswered {
            id: record.clone(),
            at_ms,
        });
        self.settle_attempt(key, DialResult::Answered);
        if purpose == Purpose::Transfer {
            return self.transfer_answered(key, call);
        }
        if let Some(followup) = followup {
            self.out.store(Write::FollowUpReached {
                followup,
                call: record,
                agent,
                at_ms,
            });
        }
        if purpose == Purpose::Revisit {
            if let Some(job) = self.dialer.jobs.get_mut(&key) {
                job.stage = Stage::Survey { asked: 1 };
            }
            let lang = self.dialer.jobs[&key].language;
            self.timers.set(call, Due::Dialer, now + PROMPT_LIMIT);
            return self.play_in(call, lang, codec, &["revisit_question"], true);
        }
        self.bridge_callback(now, key, codec);
    }

    /// The customer answered a callback: the call becomes an ordinary bridged call (the
    /// customer hears the greeting with the agent's ID), and the job is done.
    pub(super) fn bridge_callback(&mut self, now: Instant, key: u64, codec: Codec) {
        let whole =
            self.dialer.jobs.get(&key).is_some_and(|j| {
                j.agent_leg.is_some() && j.customer.is_some() && j.agent.is_some()
            });
        if !whole {
            // Only an agent and a customer make a bridge: a lone call ends.
            let customer = self.dialer.jobs.get(&key).and_then(|j| j.customer.as_ref());
            if let Some(c) = customer.map(|s| s.call) {
                self.endpoint.hangup(now, c, EndCause::Completed);
            }
            return self.finish(now, key, DialResult::Answered, "completed");
        }
        let Some(job) = self.dialer.jobs.remove(&key) else {
            return;
        };
        let (Some(leg), Some(customer), Some(agent)) = (job.agent_leg, job.customer, job.agent)
        else {
            return;
        };
        // The agent's leg is the call's from now on: answered here, not at the preview.
        self.out.store(Write::Agent(AgentWrite::LegAnswered {
            call: job.record.clone(),
            seq: 1,
            agent: agent.clone(),
            at_ms: self.now.wall_ms,
        }));
        self.dialer.by_call.remove(&leg.call);
        self.dialer.by_call.remove(&customer.call);
        self.timers.cancel_all(leg.call);
        let span = tracing::info_span!("call", id = %job.record);
        let plan = self.plans.first().cloned();
        let c = Call::placed(crate::switchboard::call::PlacedCall {
            id: job.record.clone(),
            number: job.number.clone(),
            codec,
            span,
            now,
            wall_ms: self.now.wall_ms,
            port: customer.port,
            rtp: customer.rtp,
            events: job.events,
            agent: agent.clone(),
            plan,
            trunk: job.trunk,
        });
        self.calls.insert(customer.call, c);
        self.desk.legs.insert(
            leg.call,
            Leg {
                customer: customer.call,
                agent: agent.clone(),
                seq: 1,
                record_id: job.record,
                port: leg.port,
                answered: true,
                wrap_up: None,
                after: None,
                keyed: String::new(),
                rtp: leg.rtp,
                followup: job.ticket.map(|t| t.id),
            },
        );
        let queue = job.queue.unwrap_or_default();
        self.desk.queued.insert(
            customer.call,
            Queued {
                bridged: Some(leg.call),
                queue,
                intro: vec![],
            },
        );
        let lang = job.language;
        let mut names = vec!["outbound_greeting", "agent_number"];
        names.extend(speech::digits(&agent, lang));
        names.push("agent_will_serve");
        self.play_in(customer.call, lang, codec, &names, false);
        self.out.media(MediaCmd::Bridge {
            a: customer.call,
            b: leg.call,
        });
        self.event(customer.call, "agent", agent);
    }
}

/// What the agent hears before a callback: what it is about (`callback_reason_CATEGORY`,
/// when the prompt set has one for the ticket's category), the last four digits of the
/// customer's number, and the keys. The ticket and the customer's name are on the phone's
/// screen: prompts are recorded, so a name cannot be spoken.
fn preview_prompts(job: &Job) -> Vec<String> {
    let mut names = vec!["callback_preview".to_string()];
    if let Some(t) = &job.ticket {
        names.push(format!("callback_reason_{}", t.category));
    }
    let digits: Vec<&str> = speech::digits(&job.number, job.language);
    if !digits.is_empty() {
        names.push("number_ending_in".into());
        names.extend(
            digits[digits.len().saturating_sub(4)..]
                .iter()
                .map(|d| d.to_string()),
        );
    }
    names.push("callback_preview_keys".into());
    names
}
