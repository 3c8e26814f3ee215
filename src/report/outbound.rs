//! The outbound section: how the callback dialer and the revisit calls did, and every call
//! the hotline placed. Computed from rows without I/O, like the rest of the report.
//!
//! Per follow-up kind (callback, revisit), over the dial attempts that ended in the period
//! (`dial_attempts.at`):
//! - **called**: distinct follow-ups with at least one attempt that was not a skipped preview;
//! - **attempts**: attempts that were not skipped, split into answered, busy, no answer and
//!   failed; **skipped** previews are counted apart (they cost no attempt);
//! - **reached**: distinct follow-ups with an `answered` attempt; **reached rate** = reached ÷
//!   called;
//! - **unreachable**: follow-ups given up (`followups.unreachable_at`) in the period;
//! - **time from promise to call**, of the reached: from the promise (`promised_from`, else
//!   `created_at`) to the follow-up's first answered attempt in the period, average and
//!   median in minutes (a call before the promised window opened counts as 0);
//! - **reached on time**: of the reached with a promised window end (`promised_to`), those
//!   whose first answered attempt was by it; the share is taken of those with a window end.
//!
//! And the calls placed in the period (`calls.direction = 'outbound'`, by `arrived_at`), with
//! a follow-up and without one (agents dialling out, a plan's transfers), and how many of
//! them the called party answered (`answered_at` set).

use std::collections::{BTreeMap, BTreeSet};

use super::{mean, ratio, Rows};
use crate::store::{FollowUpKind, ReportDialAttempt};

/// The outbound section of a report.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Outbound {
    /// Callbacks the dialer called.
    pub callbacks: FollowUpCalls,
    /// Revisits called.
    pub revisits: FollowUpCalls,
    /// Every call placed.
    pub calls: PlacedCalls,
}

/// How the calls to one kind of follow-up went in the period.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct FollowUpCalls {
    /// Distinct follow-ups with at least one attempt (skipped previews aside).
    pub called: usize,
    /// Attempts, skipped previews aside: answered + busy + no_answer + failed.
    pub attempts: usize,
    /// Attempts the customer answered.
    pub answered: usize,
    /// Attempts that found the line busy.
    pub busy: usize,
    /// Attempts that rang out.
    pub no_answer: usize,
    /// Attempts that could not be placed.
    pub failed: usize,
    /// Previews the agent skipped (no attempt used).
    pub skipped: usize,
    /// Distinct follow-ups with an answered attempt.
    pub reached: usize,
    /// reached / called.
    pub reached_rate: Option<f64>,
    /// Follow-ups given up as unreachable in the period.
    pub unreachable: usize,
    /// Mean minutes from the promise to the first answered attempt, of the reached.
    pub avg_minutes_to_reach: Option<f64>,
    /// Median of the same.
    pub median_minutes_to_reach: Option<f64>,
    /// Reached follow-ups with a promised window end.
    pub reached_with_window: usize,
    /// Of those, reached by the window's end.
    pub reached_on_time: usize,
    /// reached_on_time / reached_with_window.
    pub on_time_share: Option<f64>,
}

/// The calls the hotline placed in the period.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct PlacedCalls {
    /// Calls working on a follow-up (callbacks, revisits).
    pub with_followup: usize,
    /// Of those, answered by the called party.
    pub with_followup_connected: usize,
    /// Calls without a follow-up: agents dialling out, a plan's transfers.
    pub without_followup: usize,
    /// Of those, answered by the called party.
    pub without_followup_connected: usize,
}

/// The outbound section of `[from, to)` (ms) from `rows`.
pub fn outbound(rows: &Rows, from: i64, to: i64) -> Outbound {
    let in_period = |t: i64| t >= from && t < to;
    let mut calls = PlacedCalls::default();
    for c in rows
        .outbound_calls
        .iter()
        .filter(|c| in_period(c.arrived_at))
    {
        let connected = usize::from(c.answered_at.is_some());
        match c.followup_id {
            Some(_) => {
                calls.with_followup += 1;
                calls.with_followup_connected += connected;
            }
            None => {
                calls.without_followup += 1;
                calls.without_followup_connected += connected;
            }
        }
    }
    let of_kind = |kind: FollowUpKind| {
        let unreachable: BTreeSet<&str> = rows
            .unreachable
            .iter()
            .filter(|u| u.kind == kind.as_str() && in_period(u.unreachable_at))
            .map(|u| u.id.as_str())
            .collect();
        let attempts = rows
            .dial_attempts
            .iter()
            .filter(|a| a.kind == kind.as_str() && in_period(a.at));
        FollowUpCalls {
            unreachable: unreachable.len(),
            ..follow_up_calls(attempts)
        }
    };
    Outbound {
        callbacks: of_kind(FollowUpKind::Callback),
        revisits: of_kind(FollowUpKind::Revisit),
        calls,
    }
}

fn follow_up_calls<'a>(attempts: impl Iterator<Item = &'a ReportDialAttempt>) -> FollowUpCalls {
    let mut f = FollowUpCalls::default();
    let mut called: BTreeSet<&str> = BTreeSet::new();
    let mut first_answer: BTreeMap<&str, &ReportDialAttempt> = BTreeMap::new();
    for a in attempts {
        let id = a.followup_id.as_str();
        match a.result.as_str() {
            "skipped" => {
                f.skipped += 1;
                continue;
            }
            "answered" => {
                f.answered += 1;
                let first = first_answer.entry(id).or_insert(a);
                if a.at < first.at {
                    *first = a;
                }
            }
            "busy" => f.busy += 1,
            "no_answer" => f.no_answer += 1,
            "failed" => f.failed += 1,
            // the schema allows no other result
            _ => continue,
        }
        f.attempts += 1;
        called.insert(id);
    }
    let mut waits: Vec<i64> = Vec::with_capacity(first_answer.len());
    for a in first_answer.values() {
        let promise = a.promised_from.unwrap_or(a.created_at);
        waits.push((a.at - promise).max(0));
        if let Some(end) = a.promised_to {
            f.reached_with_window += 1;
            if a.at <= end {
                f.reached_on_time += 1;
            }
        }
    }
    let minutes = |ms: f64| ms / 60_000.0;
    f.called = called.len();
    f.reached = first_answer.len();
    f.reached_rate = ratio(f.reached, f.called);
    f.avg_minutes_to_reach = mean(&waits).map(minutes);
    f.median_minutes_to_reach = median(&mut waits).map(minutes);
    f.on_time_share = ratio(f.reached_on_time, f.reached_with_window);
    f
}

/// The middle value (the mean of the two middle ones for an even count).
fn median(values: &mut [i64]) -> Option<f64> {
    values.sort_unstable();
    let n = values.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(values[n / 2] as f64),
        _ => Some((values[n / 2 - 1] + values[n / 2]) as f64 / 2.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{ReportOutboundCall, ReportUnreachable};

    const T0: i64 = 1_796_000_000_000;
    const MIN: i64 = 60_000;
    const FROM: i64 = T0;
    const TO: i64 = T0 + 1_440 * MIN;

    fn at(id: &str, kind: &str, result: &str, at: i64) -> ReportDialAttempt {
        ReportDialAttempt {
            followup_id: id.into(),
            kind: kind.into(),
            result: result.into(),
            at,
            created_at: T0,
            promised_from: None,
            promised_to: None,
        }
    }

    fn promised(mut a: ReportDialAttempt, from: Option<i64>, to: Option<i64>) -> ReportDialAttempt {
        a.promised_from = from;
        a.promised_to = to;
        a
    }

    fn of(attempts: Vec<ReportDialAttempt>) -> Outbound {
        let rows = Rows {
            dial_attempts: attempts,
            ..Default::default()
        };
        outbound(&rows, FROM, TO)
    }

    #[test]
    fn results_are_split_and_skips_cost_no_attempt() {
        let o = of(vec![
            at("a", "callback", "no_answer", T0 + MIN),
            at("a", "callback", "skipped", T0 + 2 * MIN),
            at("a", "callback", "answered", T0 + 3 * MIN),
            at("b", "callback", "busy", T0 + 4 * MIN),
            at("b", "callback", "failed", T0 + 5 * MIN),
            at("c", "callback", "skipped", T0 + 6 * MIN),
            at("r", "revisit", "answered", T0 + 7 * MIN),
        ]);
        let c = &o.callbacks;
        assert_eq!(
            (
                c.attempts,
                c.answered,
                c.busy,
                c.no_answer,
                c.failed,
                c.skipped
            ),
            (4, 1, 1, 1, 1, 2)
        );
        // "c" was only skipped: never called
        assert_eq!((c.called, c.reached), (2, 1));
        assert_eq!(c.reached_rate, Some(0.5));
        let r = &o.revisits;
        assert_eq!((r.called, r.attempts, r.answered, r.reached), (1, 1, 1, 1));
        assert_eq!(r.reached_rate, Some(1.0));
    }

    #[test]
    fn a_follow_up_called_twice_counts_once() {
        let o = of(vec![
            at("a", "callback", "answered", T0 + 10 * MIN),
            at("a", "callback", "answered", T0 + 20 * MIN),
            at("a", "callback", "no_answer", T0 + 5 * MIN),
        ]);
        let c = &o.callbacks;
        assert_eq!((c.called, c.attempts, c.answered, c.reached), (1, 3, 2, 1));
        // from the first answered attempt, not the later one
        assert_eq!(c.avg_minutes_to_reach, Some(10.0));
        assert_eq!(c.median_minutes_to_reach, Some(10.0));
    }

    #[test]
    fn median_of_an_even_count_is_the_mean_of_the_middle_two() {
        let o = of(vec![
            at("a", "callback", "answered", T0 + 10 * MIN),
            at("b", "callback", "answered", T0 + 20 * MIN),
            at("c", "callback", "answered", T0 + 40 * MIN),
            at("d", "callback", "answered", T0 + 130 * MIN),
        ]);
        let c = &o.callbacks;
        assert_eq!(c.median_minutes_to_reach, Some(30.0));
        assert_eq!(c.avg_minutes_to_reach, Some(50.0));
        let mut odd = [5, 1, 3];
        assert_eq!(median(&mut odd), Some(3.0));
        assert_eq!(median(&mut []), None);
    }

    #[test]
    fn the_promise_is_the_window_start_else_the_creation() {
        let o = of(vec![
            // created at T0, promised from T0 + 60 min: 30 min after the promise
            promised(
                at("a", "callback", "answered", T0 + 90 * MIN),
                Some(T0 + 60 * MIN),
                None,
            ),
            // no window: from its creation at T0
            at("b", "callback", "answered", T0 + 50 * MIN),
            // called before its window opened: no negative wait
            promised(
                at("c", "callback", "answered", T0 + 10 * MIN),
                Some(T0 + 120 * MIN),
                None,
            ),
        ]);
        let c = &o.callbacks;
        assert_eq!(c.avg_minutes_to_reach, Some((30.0 + 50.0 + 0.0) / 3.0));
        assert_eq!(c.median_minutes_to_reach, Some(30.0));
        // none had a window end
        assert_eq!((c.reached_with_window, c.reached_on_time), (0, 0));
        assert_eq!(c.on_time_share, None);
    }

    #[test]
    fn on_time_is_by_the_end_of_the_promised_window() {
        let window = |a| promised(a, Some(T0), Some(T0 + 60 * MIN));
        let o = of(vec![
            window(at("early", "callback", "answered", T0 + 30 * MIN)),
            window(at("edge", "callback", "answered", T0 + 60 * MIN)),
            window(at("late", "callback", "answered", T0 + 61 * MIN)),
            // reached, but no window end: not in the share
            at("open", "callback", "answered", T0 + 5 * MIN),
            // not reached: not in the share
            window(at("missed", "callback", "no_answer", T0 + 10 * MIN)),
        ]);
        let c = &o.callbacks;
        assert_eq!((c.called, c.reached), (5, 4));
        assert_eq!((c.reached_with_window, c.reached_on_time), (3, 2));
        assert_eq!(c.on_time_share, Some(2.0 / 3.0));
    }

    #[test]
    fn only_the_period_counts() {
        let rows = Rows {
            dial_attempts: vec![
                at("a", "callback", "answered", FROM - 1),
                at("b", "callback", "busy", TO),
                at("c", "callback", "busy", FROM),
                at("d", "complaint", "busy", FROM),
            ],
            unreachable: vec![
                ReportUnreachable {
                    id: "c".into(),
                    kind: "callback".into(),
                    unreachable_at: TO - 1,
                },
                ReportUnreachable {
                    id: "e".into(),
                    kind: "callback".into(),
                    unreachable_at: TO,
                },
                ReportUnreachable {
                    id: "r".into(),
                    kind: "revisit".into(),
                    unreachable_at: FROM,
                },
            ],
            outbound_calls: vec![
                placed("o1", FROM, Some(FROM + 1), Some("c")),
                placed("o2", FROM + 5, None, Some("c")),
                placed("o3", FROM + 9, Some(FROM + 20), None),
                placed("o4", FROM - 1, Some(FROM), None),
                placed("o5", TO, None, Some("b")),
            ],
            ..Default::default()
        };
        let o = outbound(&rows, FROM, TO);
        let c = &o.callbacks;
        assert_eq!((c.called, c.attempts, c.busy, c.reached), (1, 1, 1, 0));
        assert_eq!(c.unreachable, 1);
        assert_eq!(o.revisits.unreachable, 1);
        assert_eq!(o.revisits.called, 0);
        assert_eq!(
            o.calls,
            PlacedCalls {
                with_followup: 2,
                with_followup_connected: 1,
                without_followup: 1,
                without_followup_connected: 1,
            }
        );
    }

    fn placed(id: &str, at: i64, answered: Option<i64>, f: Option<&str>) -> ReportOutboundCall {
        ReportOutboundCall {
            id: id.into(),
            arrived_at: at,
            answered_at: answered,
            followup_id: f.map(Into::into),
        }
    }

    #[test]
    fn an_empty_period_has_no_rates() {
        let o = outbound(&Rows::default(), FROM, TO);
        assert_eq!(o, Outbound::default());
        assert_eq!(o.callbacks.reached_rate, None);
        assert_eq!(o.callbacks.avg_minutes_to_reach, None);
        assert_eq!(o.callbacks.median_minutes_to_reach, None);
        assert_eq!(o.callbacks.on_time_share, None);
    }
}
