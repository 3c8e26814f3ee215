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

mod calls;
mod progress;
mod schedule;

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

/// The longest a prompt may play before hotline stops waiting for its end (a missing
/// prompt reports no end at all).
const PROMPT_LIMIT: Duration = Duration::from_secs(60);

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

    /// Trunk lines free for a new attempt: each preview under way will need one.
    pub fn free_lines(&self) -> usize {
        let previews = self
            .jobs
            .values()
            .filter(|j| j.stage == Stage::Preview)
            .count();
        self.lines.free().saturating_sub(previews)
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
        if let Some(job) = self.dialer.jobs.get(&key) {
            let write = AgentWrite::LegStarted {
                call: job.record.clone(),
                seq: 1,
                agent: job.agent.clone().unwrap_or_default(),
                queue: job.queue.clone(),
                at_ms: self.now.wall_ms,
            };
            self.out.store(Write::Agent(write));
        }
        if let Some(job) = self.dialer.jobs.get_mut(&key) {
            job.agent_leg = Some(Side {
                call,
                port,
                rtp,
                answered: true,
            });
        }
    }
}
