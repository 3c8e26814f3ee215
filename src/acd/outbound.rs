//! Agents on calls hotline places (callbacks): taken while free, so no queue offers
//! them a call meanwhile, and given back as after any call (wrap-up) once the customer
//! was reached, or at once when the call never got that far.

use super::{set_state, Acd, AcdError, Action, AgentId, AgentState, CallKey};
use std::time::Instant;

impl Acd {
    /// Agents free for an outbound call now: members of `queue` (any agent when `None`),
    /// lowest penalty first, then the longest idle.
    pub fn free_agents(&self, queue: Option<&str>, now: Instant) -> Vec<AgentId> {
        let mut free: Vec<(u32, Option<Instant>, &AgentId)> = self
            .agents
            .values()
            .filter(|a| a.offerable(now))
            .filter_map(|a| match queue {
                Some(q) => a.penalty(q).map(|p| (p, a.last_call_end, &a.id)),
                None => Some((0, a.last_call_end, &a.id)),
            })
            .collect();
        free.sort();
        free.into_iter().map(|(_, _, id)| id.clone()).collect()
    }

    /// Takes a free agent for the outbound call `call`; its talk and wrap-up count
    /// towards `queue`'s handle time. The agent leaves it with [`Acd::call_ended`]
    /// (reached: wrap-up follows) or [`Acd::release_outbound`] (never reached).
    pub fn take_for_outbound(
        &mut self,
        agent: &str,
        call: CallKey,
        queue: Option<&str>,
        now: Instant,
    ) -> Result<Vec<Action>, AcdError> {
        let mut out = Vec::new();
        let a = self
            .agents
            .get_mut(agent)
            .ok_or_else(|| AcdError::UnknownAgent(agent.to_string()))?;
        if !a.offerable(now) {
            return Err(AcdError::NotFree(agent.to_string()));
        }
        let queue = queue
            .map(str::to_string)
            .or_else(|| a.memberships.first().map(|(q, _)| q.clone()));
        a.handling = queue.map(|q| (q, now));
        set_state(a, AgentState::OnCall { call }, "outbound", now, &mut out);
        Ok(out)
    }

    /// Gives back an agent taken for the outbound call `call` that never reached the
    /// customer (skipped, no answer, busy): free at once, no wrap-up, no handle time
    /// counted. An agent on any other call is left alone.
    pub fn release_outbound(&mut self, agent: &str, call: CallKey, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        let Some(a) = self.agents.get_mut(agent) else {
            return out;
        };
        if a.state != (AgentState::OnCall { call }) {
            return out;
        }
        a.handling = None;
        let next = match a.after_call.take() {
            Some(super::AfterCall::Logout) => AgentState::LoggedOut,
            Some(super::AfterCall::Pause(reason)) => AgentState::Paused { reason },
            None => AgentState::Available,
        };
        set_state(a, next, "outbound_ended", now, &mut out);
        self.dispatch(now, &[agent.to_string()], &mut out);
        out
    }
}
