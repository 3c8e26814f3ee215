//! Whom to call now: the follow-ups the store lists and the calls asked for from the
//! command line, started as jobs (a free agent for a callback, a free trunk line for
//! every attempt).

use super::*;

impl<H: Host> Switchboard<H> {
    /// What is due from the store: the follow-ups to call and the calls asked for from
    /// the command line. Starts what can start now.
    pub(in crate::switchboard) fn dial_work(
        &mut self,
        now: Instant,
        tasks: Vec<DialTask>,
        reqs: Vec<DialRequest>,
    ) {
        let d = &mut self.dialer;
        let listed: HashSet<&str> = tasks.iter().map(|t| t.id.as_str()).collect();
        d.settled.retain(|id| listed.contains(id.as_str()));
        // Kept until the store shows the attempt (its count, or a skip's time).
        d.tried.retain(|id, (attempts, at)| {
            tasks
                .iter()
                .any(|t| &t.id == id && (t.attempts < *attempts || t.last_attempt_at < Some(*at)))
        });
        d.tasks = tasks;
        d.requests.extend(reqs);
        if self.stopping.is_none() {
            self.dial_due(now);
        }
    }

    /// Starts the attempts due now: first the calls asked for, then the schedule.
    pub(super) fn dial_due(&mut self, now: Instant) {
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
            let lines = self.dialer.free_lines();
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
    pub(super) fn start_job(&mut self, now: Instant, task: DialTask, agent: Option<&str>) -> bool {
        if self.dialer.free_lines() == 0 {
            return false;
        }
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
}
