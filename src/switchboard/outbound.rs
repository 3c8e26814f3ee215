//! Calls hotline places to customers, to close the loop on follow-ups.
//!
//! - **Callback:** a free agent is rung first and hears a preview (press 1 to call, 2 to
//!   skip); then the customer is called through a trunk; once they answer they hear the
//!   greeting with the agent's ID and are bridged, and from there the call is an ordinary
//!   bridged call (the agent keys the outcome after it, which moves the ticket).
//! - **Revisit (回访):** the customer is called with no agent and asked whether they were
//!   satisfied with how their complaint was handled; the answer is recorded on the ticket.
//!
//! Whom to call and when is [`crate::dialer`]'s rule; this module carries out one attempt
//! (a *job*) per follow-up, records it as an outbound call linked to the ticket, and
//! reports what became of it.

use super::call::Call;
use super::legs::Leg;
use super::timers::Due;
use super::trunk::{refusal, Lines, OutboundSetup, Placed, Refusal};
use super::{desk::Queued, Host, MediaCmd, RtpCounters, Switchboard, DEFAULT_LANGUAGE};
use crate::core::media::dtmf::{self, Digit};
use crate::core::media::speech;
use crate::core::sdp::{Codec, LocalMedia};
use crate::core::sip::endpoint::{CallRef, Dial, EndCause, EndedBy, Event};
use crate::dialer::{self, Next, Rules};
use crate::store::{AgentWrite, DialRequest, DialResult, DialTask, FollowUpKind, Write};
use crate::trunks::DialerSettings;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a revisit waits for the customer's key after the question.
const SURVEY_WAIT: Duration = Duration::from_secs(10);

/// ACD call keys of outbound jobs, apart from the endpoint's call numbers.
const JOB_KEYS: u64 = 1 << 62;

/// The dialer's state: trunks, jobs under way, and what was tried since the store last
/// told us.
#[derive(Default)]
pub(super) struct Dialer {
    pub lines: Lines,
    settings: DialerSettings,
    jobs: HashMap<u64, Job>,
    /// Each call of a job (the agent's leg, the customer's call) → the job.
    by_call: HashMap<CallRef, u64>,
    next_job: u64,
    tasks: Vec<DialTask>,
    requests: Vec<DialRequest>,
    /// Attempts this process made and when the last ended, until the store shows them.
    tried: HashMap<String, (u32, i64)>,
    /// Reached or unreachable: not called again while the store still lists it.
    settled: HashSet<String>,
    /// hotline's registrations with the trunks that want one.
    pub registrations: Vec<super::trunk_reg::TrunkReg>,
    /// What agents dial in front of an outside number.
    pub dial_out_prefix: Option<String>,
}

impl Dialer {
    pub fn new(setup: OutboundSetup) -> Dialer {
        Dialer {
            lines: Lines::new(setup.lines),
            settings: setup.dialer,
            dial_out_prefix: setup.dial_out_prefix,
            next_job: 1,
            ..Dialer::default()
        }
    }

    fn rules(&self) -> Rules {
        Rules {
            retry_after: Duration::from_secs(u64::from(self.settings.retry_after_mins) * 60),
            max_attempts: self.settings.max_attempts,
        }
    }

    /// The follow-ups the store listed last.
    pub fn tasks(&self) -> &[DialTask] {
        &self.tasks
    }

    pub fn busy_with(&self, followup: &str) -> bool {
        self.jobs
            .values()
            .any(|j| j.ticket.as_ref().is_some_and(|t| t.id == followup))
    }

    /// The store's view of a follow-up, with what this process tried since.
    fn candidate(&self, t: &DialTask) -> dialer::Candidate {
        let mut c = dialer::Candidate::from(t);
        if let Some(&(attempts, at)) = self.tried.get(&t.id) {
            c.attempts = c.attempts.max(attempts);
            c.last_attempt_at = c.last_attempt_at.max(Some(at));
        }
        c
    }
}

/// One attempt to reach a customer.
struct Job {
    /// The follow-up it works on (none: an agent's own call to a number no open
    /// callback has).
    ticket: Option<DialTask>,
    purpose: Purpose,
    /// The customer's number, as stored.
    number: String,
    /// The queue whose handle time the agent's call counts in.
    queue: Option<String>,
    /// The outbound call's record id.
    record: String,
    agent: Option<String>,
    agent_leg: Option<Side>,
    customer: Option<Side>,
    /// The trunk the customer's call goes through.
    trunk: usize,
    stage: Stage,
    /// The language the customer hears.
    language: &'static str,
    /// call_events written for the record.
    events: i64,
    /// Who ended the outbound call and why, once decided; written when its calls are gone.
    end: Option<(&'static str, &'static str)>,
    /// The caller a plan's transfer puts through (their call stays theirs).
    pub caller: Option<CallRef>,
}

/// One call of a job.
struct Side {
    call: CallRef,
    port: u16,
    rtp: Arc<RtpCounters>,
    answered: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Purpose {
    /// A callback the dialer started: the agent previews it first.
    Callback,
    /// A revisit: no agent, the customer answers the question.
    Revisit,
    /// An agent dialled the number from their phone.
    DialOut,
    /// The dial plan's `transfer` node: the caller is put through to an outside number.
    Transfer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// The agent's phone rings, then the agent hears the preview.
    Preview,
    /// The customer's phone rings.
    Dialling,
    /// The revisit question was asked `asked` times.
    Survey { asked: u8 },
    /// A transfer's far end answered: bridged to the caller until either hangs up.
    Connected,
    /// The result is recorded; the last prompt plays, then hotline hangs up.
    Ending,
}

/// What a new attempt starts from.
pub(super) struct NewJob {
    pub ticket: Option<DialTask>,
    pub purpose: Purpose,
    pub number: String,
    pub agent: Option<String>,
    /// The agent's INVITE for a dial-out; empty when hotline starts the call.
    pub sip_call_id: String,
    pub source: String,
    pub transport: &'static str,
}

impl Dialer {
    /// A plan transfer's caller.
    pub fn set_caller(&mut self, key: u64, caller: CallRef) {
        if let Some(j) = self.jobs.get_mut(&key) {
            j.caller = Some(caller);
        }
    }

    /// A transfer's caller and target number.
    pub fn transfer_of(&self, key: u64) -> Option<(CallRef, String)> {
        let j = self.jobs.get(&key)?;
        Some((j.caller?, j.number.clone()))
    }

    pub fn set_connected(&mut self, key: u64) {
        if let Some(j) = self.jobs.get_mut(&key) {
            j.stage = Stage::Connected;
        }
    }

    /// The transfer job whose caller is `caller`, and its far end's call if placed.
    pub fn transfer_by_caller(&self, caller: CallRef) -> Option<(u64, Option<CallRef>)> {
        self.jobs
            .iter()
            .find(|(_, j)| j.caller == Some(caller))
            .map(|(k, j)| (*k, j.customer.as_ref().map(|s| s.call)))
    }

    /// Ends a transfer's bridge (`end`: who and why, for the far end's record); gives
    /// back the caller, who is no longer the job's.
    pub fn end_transfer(&mut self, key: u64, end: (&'static str, &'static str)) -> Option<CallRef> {
        let j = self.jobs.get_mut(&key)?;
        j.stage = Stage::Ending;
        j.end.get_or_insert(end);
        j.caller.take()
    }

    /// The key the next job gets (its ACD call key too).
    fn next_key(&self) -> u64 {
        JOB_KEYS | self.next_job
    }
}

impl<H: Host> Switchboard<H> {
    /// Opens the attempt's outbound call record and the job; returns its key.
    pub(super) fn new_job(&mut self, j: NewJob) -> u64 {
        let key = self.dialer.next_key();
        self.dialer.next_job += 1;
        let record = format!(
            "{:012x}{:08x}",
            self.now.wall_ms,
            rand::Rng::gen::<u32>(&mut self.rng)
        );
        let caller = self
            .dialer
            .lines
            .lines
            .first()
            .map(|l| l.trunk.caller_id.clone())
            .unwrap_or_default();
        self.out.store(Write::OutboundCall {
            id: record.clone(),
            sip_call_id: j.sip_call_id,
            caller,
            called: j.number.clone(),
            source: j.source,
            transport: j.transport,
            followup: j.ticket.as_ref().map(|t| t.id.clone()),
            agent: j.agent.clone(),
            trunk: None,
            at_ms: self.now.wall_ms,
        });
        let language = match j.ticket.as_ref().and_then(|t| t.language.as_deref()) {
            Some("en") => "en",
            _ => DEFAULT_LANGUAGE,
        };
        let job = Job {
            queue: j.ticket.as_ref().and_then(|t| t.queue.clone()),
            ticket: j.ticket,
            purpose: j.purpose,
            number: j.number,
            record,
            agent: j.agent,
            agent_leg: None,
            customer: None,
            trunk: 0,
            stage: match j.purpose {
                Purpose::Callback => Stage::Preview,
                _ => Stage::Dialling,
            },
            language,
            events: 0,
            end: None,
            caller: None,
        };
        self.dialer.jobs.insert(key, job);
        key
    }

    /// The queue a job's agent call counts in.
    pub(super) fn job_queue(&self, key: u64) -> Option<String> {
        self.dialer.jobs.get(&key).and_then(|j| j.queue.clone())
    }

    /// The agent's own answered call (a dial-out) joins the job as its agent side.
    pub(super) fn attach_agent_call(
        &mut self,
        key: u64,
        call: CallRef,
        port: u16,
        rtp: Arc<RtpCounters>,
    ) {
        self.dialer.by_call.insert(call, key);
        if let Some(job) = self.dialer.jobs.get_mut(&key) {
            job.agent_leg = Some(Side {
                call,
                port,
                rtp,
                answered: true,
            });
        }
    }

    /// What is due from the store: the follow-ups to call and the calls asked for from
    /// the command line. Starts what can start now.
    pub(super) fn dial_work(&mut self, now: Instant, tasks: Vec<DialTask>, reqs: Vec<DialRequest>) {
        let d = &mut self.dialer;
        let listed: HashSet<&str> = tasks.iter().map(|t| t.id.as_str()).collect();
        d.settled.retain(|id| listed.contains(id.as_str()));
        d.tried.retain(|id, (attempts, _)| {
            tasks.iter().any(|t| &t.id == id && t.attempts < *attempts)
        });
        d.tasks = tasks;
        d.requests.extend(reqs);
        if self.stopping.is_none() {
            self.dial_due(now);
        }
    }

    /// Starts the attempts due now: first the calls asked for, then the schedule.
    fn dial_due(&mut self, now: Instant) {
        if self.dialer.lines.lines.is_empty() {
            if !self.dialer.requests.is_empty() {
                tracing::warn!("a call was asked for but no trunk is configured (trunks.toml)");
                self.dialer.requests.clear();
            }
            return;
        }
        let requests = std::mem::take(&mut self.dialer.requests);
        for r in requests {
            let Some(task) = self
                .dialer
                .tasks
                .iter()
                .find(|t| t.id == r.followup)
                .cloned()
            else {
                tracing::warn!(followup = %r.followup, "cannot call: not an open callback or revisit");
                continue;
            };
            if self.dialer.busy_with(&task.id) {
                continue;
            }
            if !self.start_job(now, task, r.agent.as_deref()) {
                // No agent free yet: asked again with the next look at the store.
                self.dialer.requests.push(r);
            }
        }
        let Some(calendar) = self.plans.first().map(|p| p.calendar.clone()) else {
            return;
        };
        let rules = self.dialer.rules();
        let waiting: Vec<(dialer::Candidate, DialTask)> = self
            .dialer
            .tasks
            .iter()
            .filter(|t| !self.dialer.busy_with(&t.id) && !self.dialer.settled.contains(&t.id))
            .map(|t| (self.dialer.candidate(t), t.clone()))
            .collect();
        for kind in [FollowUpKind::Callback, FollowUpKind::Revisit] {
            let of_kind: Vec<&(dialer::Candidate, DialTask)> =
                waiting.iter().filter(|(c, _)| c.kind == kind).collect();
            let cands: Vec<dialer::Candidate> = of_kind.iter().map(|(c, _)| c.clone()).collect();
            // Every attempt needs a trunk line; a callback an agent as well.
            let lines = self.dialer.lines.free();
            let room = match kind {
                FollowUpKind::Revisit => lines,
                _ => lines.min(self.desk.acd.free_agents(None, now).len()),
            };
            let due = dialer::due(&cands, self.now.wall_ms, &calendar, &rules, room);
            let due: Vec<DialTask> = due
                .iter()
                .filter_map(|c| of_kind.iter().find(|(k, _)| k.id == c.id))
                .map(|(_, t)| t.clone())
                .collect();
            for task in due {
                self.start_job(now, task, None);
            }
        }
    }

    /// Starts one attempt: the agent's preview for a callback, the customer at once for a
    /// revisit. False when no agent is free for it.
    fn start_job(&mut self, now: Instant, task: DialTask, agent: Option<&str>) -> bool {
        let key = self.dialer.next_key();
        let agent = match task.kind {
            FollowUpKind::Revisit => None,
            _ => {
                let free = |q| self.desk.acd.free_agents(q, now);
                let pick = match agent {
                    Some(a) => free(None).into_iter().find(|f| f == a),
                    None => free(task.queue.as_deref())
                        .into_iter()
                        .next()
                        .or_else(|| free(None).into_iter().next()),
                };
                let Some(a) = pick else { return false };
                match self
                    .desk
                    .acd
                    .take_for_outbound(&a, key, task.queue.as_deref(), now)
                {
                    Ok(actions) => self.acd_actions(now, actions),
                    Err(_) => return false,
                }
                Some(a)
            }
        };
        let purpose = match task.kind {
            FollowUpKind::Revisit => Purpose::Revisit,
            _ => Purpose::Callback,
        };
        tracing::info!(followup = %task.id, kind = task.kind.as_str(), agent = ?agent, "outbound attempt");
        let key = self.new_job(NewJob {
            number: task.number.clone(),
            ticket: Some(task),
            purpose,
            agent: agent.clone(),
            sip_call_id: String::new(),
            source: String::new(),
            transport: "udp",
        });
        match agent {
            Some(a) => self.ring_for_preview(now, key, &a),
            None => self.dial_customer(now, key, 0),
        }
        true
    }

    /// Rings the agent for the preview; the phone shows the customer's number and name
    /// and the ticket.
    fn ring_for_preview(&mut self, now: Instant, key: u64, agent: &str) {
        let contact = self
            .desk
            .extension
            .get(agent)
            .and_then(|ext| self.desk.registrar.contacts(ext).into_iter().last());
        let target =
            contact.and_then(|b| Some((super::desk::peer_of(&b, &self.desk.tcp_links)?, b)));
        let Some((peer, binding)) = target else {
            return self.finish(now, key, DialResult::Skipped, "agent_unreachable");
        };
        let local_host = self.local_host_for(binding.source);
        let Some(ip) = local_host.parse().ok() else {
            return self.finish(now, key, DialResult::Skipped, "agent_unreachable");
        };
        let Some(port) = self.take_rtp_port(ip) else {
            return self.finish(now, key, DialResult::Failed, "no_rtp_port");
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
        let rtp = Arc::new(RtpCounters::default());
        self.out.media(MediaCmd::Start {
            call: leg,
            port,
            remote: None,
            codec: Codec::Pcmu,
            telephone_event: Some(101),
            sending: false,
            counters: Arc::clone(&rtp),
        });
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
    pub(super) fn dial_customer(&mut self, now: Instant, key: u64, from: usize) {
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
            return self.finish(now, key, DialResult::Failed, "trunk_failed");
        };
        let ring = Duration::from_secs(u64::from(self.dialer.settings.ring_secs));
        self.timers.set(call, Due::Dialer, now + ring);
        self.dialer.by_call.insert(call, key);
        let name = self.dialer.lines.lines[trunk].trunk.name.clone();
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
    pub(super) fn outbound_event(&mut self, now: Instant, ev: Event) -> Option<Event> {
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
                    self.out.media(MediaCmd::Update {
                        call,
                        remote: a.remote,
                        sending: a.dir.sends(),
                        codec: Some(a.codec),
                        telephone_event: a.telephone_event,
                    });
                }
                self.out.media(MediaCmd::WatchRtp { call });
                self.job_answered(now, key, call, answer.map_or(Codec::Pcmu, |a| a.codec));
            }
            Event::Confirmed { answer, .. } => {
                // A dial-out: the agent's ACK (with the answer when our 200 offered).
                self.out.media(MediaCmd::WatchRtp { call });
                if let Some(a) = answer {
                    self.out.media(MediaCmd::Update {
                        call,
                        remote: a.remote,
                        sending: a.dir.sends(),
                        codec: Some(a.codec),
                        telephone_event: a.telephone_event,
                    });
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
            Event::MediaChanged { offer, .. } => self.out.media(MediaCmd::Update {
                call,
                remote: offer.remote,
                sending: offer.dir.sends(),
                codec: None,
                telephone_event: offer.telephone_event,
            }),
            _ => {}
        }
        None
    }

    /// Media events about a job's calls; any other event is given back.
    pub(super) fn outbound_media(
        &mut self,
        now: Instant,
        ev: super::MediaEvent,
    ) -> Option<super::MediaEvent> {
        use super::MediaEvent as M;
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

    fn job_answered(&mut self, now: Instant, key: u64, call: CallRef, codec: Codec) {
        let Some(job) = self.dialer.jobs.get_mut(&key) else {
            return self.endpoint.hangup(now, call, EndCause::Cancelled);
        };
        let is_agent = job.agent_leg.as_ref().is_some_and(|s| s.call == call);
        let side = if is_agent {
            job.agent_leg.as_mut()
        } else {
            job.customer.as_mut()
        };
        if let Some(s) = side {
            s.answered = true;
        }
        if is_agent {
            let (record, agent) = (job.record.clone(), job.agent.clone().unwrap_or_default());
            self.out.store(Write::Agent(AgentWrite::LegAnswered {
                call: record,
                seq: 1,
                agent,
                at_ms: self.now.wall_ms,
            }));
            let preview = Duration::from_secs(u64::from(self.dialer.settings.preview_secs));
            self.timers.set(call, Due::Dialer, now + preview);
            return self.play(call, &["callback_preview"], true);
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
        if purpose == Purpose::Revisit {
            if let Some(job) = self.dialer.jobs.get_mut(&key) {
                job.stage = Stage::Survey { asked: 1 };
            }
            let lang = self.dialer.jobs[&key].language;
            return self.play_in(call, lang, codec, &["revisit_question"], true);
        }
        if let Some(followup) = followup {
            self.out.store(Write::FollowUpReached {
                followup,
                call: record,
                agent,
                at_ms,
            });
        }
        self.bridge_callback(now, key, codec);
    }

    /// The customer answered a callback: the call becomes an ordinary bridged call (the
    /// customer hears the greeting with the agent's ID), and the job is done.
    fn bridge_callback(&mut self, now: Instant, key: u64, codec: Codec) {
        let Some(job) = self.dialer.jobs.remove(&key) else {
            return;
        };
        let (Some(leg), Some(customer), Some(agent)) = (job.agent_leg, job.customer, job.agent)
        else {
            return;
        };
        self.dialer.by_call.remove(&leg.call);
        self.dialer.by_call.remove(&customer.call);
        self.timers.cancel_all(leg.call);
        let span = tracing::info_span!("call", id = %job.record);
        let plan = self.plans.first().cloned();
        let c = Call::placed(super::call::PlacedCall {
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

    fn job_digit(&mut self, now: Instant, key: u64, call: CallRef, digit: Digit) {
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

    fn job_playback_done(&mut self, now: Instant, key: u64, call: CallRef) {
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
    pub(super) fn outbound_timeout(&mut self, now: Instant, call: CallRef) {
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
            }
            Stage::Survey { .. } => {
                job.stage = Stage::Ending;
                job.end = Some(("hotline", "no_verdict"));
                let lang = job.language;
                self.job_event(key, "revisit", "no answer given".into());
                self.play_in(call, lang, Codec::Pcmu, &["goodbye"], false);
            }
            Stage::Ending => self.endpoint.hangup(now, call, EndCause::Completed),
        }
    }

    /// One of a job's calls ended.
    fn job_call_ended(
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
                Stage::Survey { .. } => self.finish(now, key, DialResult::Answered, "caller_bye"),
                _ => {}
            }
        }
        self.end_job_if_idle(key);
    }

    /// Records the attempt's result once (the attempt count, a retry or unreachable).
    fn settle_attempt(&mut self, key: u64, result: DialResult) {
        let at_ms = self.now.wall_ms;
        let rules = self.dialer.rules();
        let Some(job) = self.dialer.jobs.get(&key) else {
            return;
        };
        let Some(t) = &job.ticket else {
            return;
        };
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
    }

    /// The attempt ended without the customer bridged: records it, tells the agent, and
    /// hangs up what is left.
    fn finish(&mut self, now: Instant, key: u64, result: DialResult, cause: &'static str) {
        let Some(job) = self.dialer.jobs.get_mut(&key) else {
            return;
        };
        if job.stage == Stage::Ending {
            return;
        }
        job.stage = Stage::Ending;
        let by = if cause == "caller_bye" {
            "caller"
        } else {
            "hotline"
        };
        job.end.get_or_insert((by, cause));
        if result != DialResult::Answered {
            self.settle_attempt(key, result);
        }
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
            let actions = self.desk.acd.release_outbound(&agent, now);
            self.acd_actions(now, actions);
        }
        if let Some(call) = customer {
            if result != DialResult::Answered {
                self.endpoint.hangup(now, call, EndCause::Completed);
            }
        }
        match agent_leg {
            Some((leg, true)) if result.counts() => {
                let prompt = match purpose {
                    Purpose::DialOut => "dial_out_failed",
                    _ => "callback_not_reached",
                };
                self.play(leg, &[prompt], false);
            }
            Some((leg, _)) => self.endpoint.hangup(now, leg, EndCause::Completed),
            None => {}
        }
        self.end_job_if_idle(key);
    }

    /// Frees what a job's call held.
    fn forget_job_call(&mut self, key: u64, call: CallRef) {
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
    fn end_job_if_idle(&mut self, key: u64) {
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
    fn job_event(&mut self, key: u64, kind: &'static str, detail: String) {
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
    fn play_in(&mut self, call: CallRef, lang: &str, codec: Codec, names: &[&str], barge_in: bool) {
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
