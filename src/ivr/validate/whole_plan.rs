//! Checks that need the whole plan, run once every node has been read: nodes the
//! caller can never reach, loops that never stop for input, variables read before
//! anything sets them, and prompts missing in a language callers can hear.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::Cx;
use crate::core::media::prompt::PromptSet;
use crate::ivr::plan::{NodeKind, Plan};

impl Cx<'_> {
    /// Unreachable nodes and loops that never wait for the caller. Skipped when a
    /// reference is already wrong: the graph would be guesswork.
    pub(super) fn check_graph(&mut self, plan: &Plan) {
        if self.bad_refs {
            return;
        }
        let edges: BTreeMap<&str, Vec<&str>> = plan
            .nodes
            .iter()
            .map(|(name, node)| (name.as_str(), node.kind.targets()))
            .collect();
        let reach = |from: &str, only: &dyn Fn(&str) -> bool| -> BTreeSet<String> {
            let mut seen = BTreeSet::new();
            let mut todo: VecDeque<&str> = edges.get(from).into_iter().flatten().copied().collect();
            while let Some(n) = todo.pop_front() {
                if only(n) && seen.insert(n.to_owned()) {
                    todo.extend(edges.get(n).into_iter().flatten().copied());
                }
            }
            seen
        };
        let mut reachable = reach(&plan.start, &|_| true);
        reachable.insert(plan.start.clone());
        for name in plan.nodes.keys().filter(|n| !reachable.contains(*n)) {
            let span = self.node_spans[name].clone();
            self.err(
                span,
                format!("node {name:?} is unreachable from start {:?}", plan.start),
            );
        }
        // Loops among nodes that never wait for keys.
        let no_input = |n: &str| plan.nodes.get(n).is_some_and(|n| !n.kind.waits_for_input());
        let mut reported = BTreeSet::new();
        let mut by_position: Vec<&String> = plan.nodes.keys().collect();
        by_position.sort_by_key(|n| self.node_spans[*n].start);
        for name in by_position {
            if reported.contains(name) || !no_input(name) {
                continue;
            }
            let onward = reach(name, &no_input);
            if !onward.contains(name) {
                continue;
            }
            let cycle: Vec<String> = onward
                .iter()
                .filter(|m| reach(m, &no_input).contains(name))
                .cloned()
                .collect();
            reported.extend(cycle.iter().cloned());
            let span = self.node_spans[name].clone();
            self.err(
                span,
                format!(
                    "loop with no input: {} and back to {name:?}; none of these nodes waits for the caller's keys",
                    self.cycle_path(name, &edges, &cycle)
                ),
            );
        }
    }

    /// Promises kept: a node that records the caller's message, or sets an outcome whose
    /// `follow_up = true`, must not be able to end the call before a follow-up is
    /// written (a callback node taken to its `next`, or a voicemail with `follow_up`).
    /// What an agent takes over (a queue's `after`) is the agent's to key.
    pub(super) fn check_promises(&mut self, plan: &Plan) {
        if self.bad_refs {
            return;
        }
        let writes = |n: &str| match plan.nodes.get(n).map(|n| &n.kind) {
            Some(NodeKind::Voicemail(v)) => v.promise.is_some(),
            _ => false,
        };
        // Where the call can go from `n` without a follow-up being written.
        let onward = |n: &str| -> Vec<&str> {
            match plan.nodes.get(n).map(|n| &n.kind) {
                Some(NodeKind::Callback(c)) => vec![c.fallback.as_str()],
                Some(NodeKind::Queue(q)) => vec![q.overflow.as_str()],
                Some(kind) => kind.targets(),
                None => Vec::new(),
            }
        };
        let ends = |n: &str| match plan.nodes.get(n).map(|n| &n.kind) {
            Some(NodeKind::Hangup(_) | NodeKind::Transfer(_)) => true,
            Some(NodeKind::Voicemail(v)) => v.next.is_none(),
            Some(NodeKind::Survey(s)) => s.next.is_none(),
            _ => false,
        };
        let mut by_position: Vec<&String> = plan.nodes.keys().collect();
        by_position.sort_by_key(|n| self.node_spans[*n].start);
        for name in by_position {
            let node = &plan.nodes[name];
            let why = match (&node.kind, &node.outcome) {
                (NodeKind::Callback(_), _) => continue,
                (NodeKind::Voicemail(v), _) if v.promise.is_some() => continue,
                (NodeKind::Voicemail(_), _) => "records the caller's message".to_string(),
                (_, Some(code)) if plan.outcome(code).is_some_and(|o| o.follow_up) => {
                    format!("sets outcome {code:?}, which has follow_up = true")
                }
                _ => continue,
            };
            let mut seen = BTreeSet::new();
            let mut todo = VecDeque::from([name.as_str()]);
            let mut end = None;
            while let Some(n) = todo.pop_front() {
                if !seen.insert(n) || (n != name && writes(n)) {
                    continue;
                }
                if ends(n) {
                    end = Some(n);
                    break;
                }
                todo.extend(onward(n));
            }
            if let Some(end) = end {
                let span = self.node_spans[name].clone();
                self.err(
                    span,
                    format!(
                        "node {name:?} {why}, but the call can end at {end:?} with no follow-up \
                         written: lead it through a callback node or give the voicemail a `follow_up`"
                    ),
                );
            }
        }
    }

    /// `"a" -> "b" -> "c"`: a shortest way round the loop from `start`, for the message.
    pub(super) fn cycle_path(
        &self,
        start: &str,
        edges: &BTreeMap<&str, Vec<&str>>,
        within: &[String],
    ) -> String {
        let mut came_from: BTreeMap<&str, &str> = BTreeMap::new();
        let mut todo = VecDeque::from([start]);
        let mut last = start;
        'search: while let Some(n) = todo.pop_front() {
            for &m in edges.get(n).into_iter().flatten() {
                if m == start {
                    last = n;
                    break 'search;
                }
                if within.iter().any(|w| w == m) && !came_from.contains_key(m) {
                    came_from.insert(m, n);
                    todo.push_back(m);
                }
            }
        }
        let mut path = vec![last];
        while let Some(&prev) = came_from.get(path.last().copied().unwrap_or(start)) {
            path.push(prev);
        }
        if path.last() != Some(&start) {
            path.push(start);
        }
        path.reverse();
        path.iter()
            .map(|n| format!("{n:?}"))
            .collect::<Vec<_>>()
            .join(" -> ")
    }

    /// Variables read before anything can set them, and secrets collected in the clear.
    pub(super) fn check_variables(&mut self) {
        for (name, span, secret) in std::mem::take(&mut self.read) {
            match self.assigned.get(&name) {
                None if name == "vip" && !secret => {}
                None => self.err(span, format!("variable {name:?} is never collected or set")),
                Some(Some(false)) if secret => self.err(
                    span,
                    format!("variable {name:?} holds a secret: its collect node needs `sensitive = true`"),
                ),
                Some(_) => {}
            }
        }
    }

    /// Every prompt in every language callers can hear.
    pub(super) fn check_prompts(&mut self, set: Option<&PromptSet>) {
        let Some(set) = set else {
            return;
        };
        let mut langs = BTreeSet::new();
        for (lang, span) in std::mem::take(&mut self.languages) {
            if !set.languages().contains(&lang.code()) {
                self.err(span, format!("no prompts in language {:?}", lang.code()));
            } else {
                langs.insert(lang);
            }
        }
        for (name, span) in std::mem::take(&mut self.prompts) {
            let mut missing: Vec<&str> = langs
                .iter()
                .filter(|l| set.get(l.code(), &name).is_none())
                .map(|l| l.code())
                .collect();
            missing.sort_unstable();
            if !missing.is_empty() {
                self.err(
                    span,
                    format!("prompt {name:?} is missing in {}", missing.join(", ")),
                );
            }
        }
    }
}
