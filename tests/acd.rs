//! The ACD state machine, driven by a fake clock (a base `Instant` plus seconds).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use hotline::acd::*;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

struct Clock(Instant);

impl Clock {
    fn new() -> Clock {
        Clock(Instant::now())
    }
    fn at(&self, s: u64) -> Instant {
        self.0 + secs(s)
    }
}

fn queue(name: &str, strategy: Strategy) -> QueueConfig {
    QueueConfig {
        strategy,
        overflow: format!("{name}_overflow"),
        // Most cases queue callers before agents log in.
        wait_when_empty: true,
        ..QueueConfig::new(name)
    }
}

fn members(m: &[(&str, u32)]) -> Vec<(QueueName, u32)> {
    m.iter().map(|(q, p)| (q.to_string(), *p)).collect()
}

/// An agent known, reachable and logged in at `now`.
fn add_agent(acd: &mut Acd, id: &str, m: &[(&str, u32)], now: Instant) -> Vec<Action> {
    let mut out = acd.upsert_agent(id, members(m), now);
    out.extend(acd.set_reachable(id, true, now));
    out.extend(acd.login(id, now).unwrap());
    out
}

fn rings(actions: &[Action]) -> Vec<(CallKey, String)> {
    let rings = actions.iter().filter_map(|a| match a {
        Action::Ring { call, agent, .. } => Some((*call, agent.clone())),
        _ => None,
    });
    rings.collect()
}

fn cancels(actions: &[Action]) -> Vec<(CallKey, String)> {
    let cancels = actions.iter().filter_map(|a| match a {
        Action::CancelRing { call, agent, .. } => Some((*call, agent.clone())),
        _ => None,
    });
    cancels.collect()
}

fn ring(call: CallKey, agent: &str) -> (CallKey, String) {
    (call, agent.to_string())
}

fn state(acd: &Acd, id: &str) -> AgentState {
    acd.agent(id).unwrap().state.clone()
}

fn ringing(acd: &Acd, call: CallKey) -> Vec<String> {
    acd.call(call).unwrap().ringing.keys().cloned().collect()
}

/// Answers and hangs up at once, with no wrap-up in the queue: the agent is free again.
fn take_call(acd: &mut Acd, call: CallKey, agent: &str, now: Instant) {
    assert!(acd.answered(call, agent, now).contains(&Action::Connect {
        call,
        agent: agent.into()
    }));
    acd.call_ended(agent, now);
}

#[test]
fn longest_idle_offers_the_agent_idle_longest() {
    let t = Clock::new();
    let mut q = queue("sales", Strategy::LongestIdle);
    q.wrap_up = Duration::ZERO;
    let mut acd = Acd::new(vec![q]);
    add_agent(&mut acd, "b", &[("sales", 0)], t.at(2));
    add_agent(&mut acd, "a", &[("sales", 0)], t.at(1));
    add_agent(&mut acd, "c", &[("sales", 0)], t.at(3));
    // Never had a call: idle since login.
    let out = acd.enqueue(1, "sales", 0, t.at(10), t.at(10)).unwrap();
    assert_eq!(rings(&out), vec![ring(1, "a")]);
    take_call(&mut acd, 1, "a", t.at(20));
    // a's last call ended at 20, after b's and c's logins.
    let out = acd.enqueue(2, "sales", 0, t.at(30), t.at(30)).unwrap();
    assert_eq!(rings(&out), vec![ring(2, "b")]);
    take_call(&mut acd, 2, "b", t.at(40));
    let out = acd.enqueue(3, "sales", 0, t.at(50), t.at(50)).unwrap();
    assert_eq!(rings(&out), vec![ring(3, "c")]);
    take_call(&mut acd, 3, "c", t.at(60));
    let out = acd.enqueue(4, "sales", 0, t.at(70), t.at(70)).unwrap();
    assert_eq!(rings(&out), vec![ring(4, "a")]);
}

#[test]
fn round_robin_rotates_over_members_in_id_order() {
    let t = Clock::new();
    let mut q = queue("sales", Strategy::RoundRobin);
    q.wrap_up = Duration::ZERO;
    let mut acd = Acd::new(vec![q]);
    for id in ["c", "a", "b"] {
        add_agent(&mut acd, id, &[("sales", 0)], t.at(0));
    }
    let mut order = Vec::new();
    for call in 1..=5 {
        let out = acd
            .enqueue(call, "sales", 0, t.at(call), t.at(call))
            .unwrap();
        let (_, agent) = rings(&out)[0].clone();
        take_call(&mut acd, call, &agent, t.at(call));
        order.push(agent);
    }
    assert_eq!(order, ["a", "b", "c", "a", "b"]);
    // A member who is not free is skipped, the pointer moves on past it.
    acd.pause("c", "lunch", t.at(10)).unwrap();
    let out = acd.enqueue(6, "sales", 0, t.at(11), t.at(11)).unwrap();
    assert_eq!(rings(&out), vec![ring(6, "a")]);
}

#[test]
fn fewest_calls_then_longest_idle() {
    let t = Clock::new();
    let mut q = queue("sales", Strategy::FewestCalls);
    q.wrap_up = Duration::ZERO;
    let mut acd = Acd::new(vec![q]);
    add_agent(&mut acd, "a", &[("sales", 0)], t.at(0));
    add_agent(&mut acd, "b", &[("sales", 0)], t.at(1));
    add_agent(&mut acd, "c", &[("sales", 0)], t.at(2));
    // a takes two calls (answered late while free), b one.
    for (call, agent) in [(1, "a"), (2, "a"), (3, "b")] {
        acd.enqueue(call, "sales", 0, t.at(5), t.at(5)).unwrap();
        let out = acd.answered(call, agent, t.at(6));
        assert!(out.contains(&Action::Connect {
            call,
            agent: agent.into()
        }));
        acd.call_ended(agent, t.at(7));
    }
    assert_eq!(acd.agent("a").unwrap().calls_taken, 2);
    let out = acd.enqueue(10, "sales", 0, t.at(20), t.at(20)).unwrap();
    assert_eq!(rings(&out), vec![ring(10, "c")]);
    take_call(&mut acd, 10, "c", t.at(30));
    // b and c have one call each; b has been idle longer.
    let out = acd.enqueue(11, "sales", 0, t.at(40), t.at(40)).unwrap();
    assert_eq!(rings(&out), vec![ring(11, "b")]);
}

#[test]
fn ring_all_rings_the_lowest_penalty_and_the_first_answer_wins() {
    let t = Clock::new();
    let mut acd = Acd::new(vec![queue("vip", Strategy::RingAll)]);
    for id in ["a", "b", "c"] {
        add_agent(&mut acd, id, &[("vip", 0)], t.at(0));
    }
    add_agent(&mut acd, "backup", &[("vip", 5)], t.at(0));
    let out = acd.enqueue(1, "vip", 0, t.at(1), t.at(1)).unwrap();
    assert_eq!(rings(&out), vec![ring(1, "a"), ring(1, "b"), ring(1, "c")]);
    assert_eq!(state(&acd, "backup"), AgentState::Available);

    let out = acd.answered(1, "b", t.at(3));
    assert!(out.contains(&Action::Connect {
        call: 1,
        agent: "b".into()
    }));
    assert_eq!(cancels(&out), vec![ring(1, "a"), ring(1, "c")]);
    assert_eq!(state(&acd, "b"), AgentState::OnCall { call: 1 });
    assert_eq!(state(&acd, "a"), AgentState::Available);
    assert_eq!(state(&acd, "c"), AgentState::Available);
    assert!(acd.call(1).is_none());
    // A second answer that crossed the CANCEL is not connected.
    assert!(acd.answered(1, "a", t.at(3)).is_empty());
}

#[test]
fn lower_penalty_first_then_higher() {
    let t = Clock::new();
    let mut acd = Acd::new(vec![queue("sales", Strategy::LongestIdle)]);
    add_agent(&mut acd, "senior", &[("sales", 0)], t.at(5));
    add_agent(&mut acd, "junior", &[("sales", 2)], t.at(0));
    let out = acd.enqueue(1, "sales", 0, t.at(10), t.at(10)).unwrap();
    assert_eq!(rings(&out), vec![ring(1, "senior")]);
    let out = acd.enqueue(2, "sales", 0, t.at(11), t.at(11)).unwrap();
    assert_eq!(rings(&out), vec![ring(2, "junior")]);
}

#[test]
fn priority_then_arrival_orders_the_queue() {
    let t = Clock::new();
    let mut acd = Acd::new(vec![queue("sales", Strategy::LongestIdle)]);
    acd.upsert_agent("a", members(&[("sales", 0)]), t.at(0));
    acd.set_reachable("a", true, t.at(0));
    acd.enqueue(1, "sales", 0, t.at(100), t.at(100)).unwrap();
    acd.enqueue(2, "sales", 10, t.at(110), t.at(110)).unwrap();
    // Arrived long before, transferred in from elsewhere later: ahead of call 1.
    acd.enqueue(3, "sales", 0, t.at(50), t.at(120)).unwrap();
    acd.enqueue(4, "sales", 0, t.at(130), t.at(130)).unwrap();
    let order: Vec<CallKey> = acd.waiting("sales").iter().map(|c| c.key).collect();
    assert_eq!(order, [2, 3, 1, 4]);
    assert_eq!(acd.position(2), Some(1));
    assert_eq!(acd.position(3), Some(2));
    assert_eq!(acd.position(1), Some(3));
    assert_eq!(acd.position(4), Some(4));
    assert_eq!(acd.position(99), None);

    let out = acd.login("a", t.at(140)).unwrap();
    assert_eq!(rings(&out), vec![ring(2, "a")]);
}

#[test]
fn a_free_agent_takes_the_best_call_of_all_its_queues() {
    let t = Clock::new();
    let mut acd = Acd::new(vec![
        queue("sales", Strategy::LongestIdle),
        queue("support", Strategy::LongestIdle),
    ]);
    acd.enqueue(1, "sales", 0, t.at(10), t.at(10)).unwrap();
    acd.enqueue(2, "support", 5, t.at(20), t.at(20)).unwrap();
    acd.enqueue(3, "support", 0, t.at(5), t.at(5)).unwrap();
    let out = add_agent(&mut acd, "a", &[("sales", 0), ("support", 1)], t.at(30));
    assert_eq!(rings(&out), vec![ring(2, "a")]);
    // Equal priority and arrival: the agent's lowest-penalty queue.
    let mut acd = Acd::new(vec![
        queue("sales", Strategy::LongestIdle),
        queue("support", Strategy::LongestIdle),
    ]);
    acd.enqueue(1, "support", 0, t.at(10), t.at(10)).unwrap();
    acd.enqueue(2, "sales", 0, t.at(10), t.at(10)).unwrap();
    let out = add_agent(&mut acd, "a", &[("support", 3), ("sales", 1)], t.at(30));
    assert_eq!(rings(&out), vec![ring(2, "a")]);
}

#[test]
fn ring_timeout_moves_to_the_next_agent() {
    let t = Clock::new();
    let mut acd = Acd::new(vec![queue("sales", Strategy::LongestIdle)]);
    add_agent(&mut acd, "a", &[("sales", 0)], t.at(0));
    add_agent(&mut acd, "b", &[("sales", 0)], t.at(1));
    let out = acd.enqueue(1, "sales", 0, t.at(10), t.at(10)).unwrap();
    assert_eq!(rings(&out), vec![ring(1, "a")]);
    assert!(matches!(out[0], Action::Ring { timeout_at, .. } if timeout_at == t.at(25)));
    assert_eq!(acd.poll_timeout(), Some(t.at(25)));
    assert!(rings(&acd.handle_timeout(t.at(24))).is_empty());

    let out = acd.handle_timeout(t.at(25));
    assert_eq!(cancels(&out), vec![ring(1, "a")]);
    assert_eq!(rings(&out), vec![ring(1, "b")]);
    let a = acd.agent("a").unwrap();
    assert_eq!(
        (a.state.clone(), a.missed_in_a_row),
        (AgentState::Available, 1)
    );
    assert_eq!(acd.poll_timeout(), Some(t.at(40)));
    // b misses too: every candidate has missed it, so offering starts again with a.
    let out = acd.handle_timeout(t.at(40));
    assert_eq!(cancels(&out), vec![ring(1, "b")]);
    assert_eq!(rings(&out), vec![ring(1, "a")]);
}

#[test]
fn rejected_goes_to_the_next_agent_and_counts_a_miss() {
    let t = Clock::new();
    let mut acd = Acd::new(vec![queue("sales", Strategy::LongestIdle)]);
    add_agent(&mut acd, "a", &[("sales", 0)], t.at(0));
    add_agent(&mut acd, "b", &[("sales", 0)], t.at(1));
    acd.enqueue(1, "sales", 0, t.at(10), t.at(10)).unwrap();
    let out = acd.ring_failed(1, "a", RingFailure::Rejected, t.at(12));
    assert!(cancels(&out).is_empty(), "the runtime already knows");
    assert_eq!(rings(&out), vec![ring(1, "b")]);
    assert_eq!(acd.agent("a").unwrap().missed_in_a_row, 1);
    // A stale report changes nothing.
    assert!(acd
        .ring_failed(1, "a", RingFailure::NoAnswer, t.at(13))
        .is_empty());
}

#[test]
fn busy_is_not_a_miss_and_is_retried_later() {
    let t = Clock::new();
    let mut acd = Acd::new(vec![queue("sales", Strategy::LongestIdle)]);
    add_agent(&mut acd, "a", &[("sales", 0)], t.at(0));
    acd.enqueue(1, "sales", 0, t.at(10), t.at(10)).unwrap();
    let out = acd.ring_failed(1, "a", RingFailure::Busy, t.at(11));
    assert!(rings(&out).is_empty());
    assert_eq!(acd.agent("a").unwrap().missed_in_a_row, 0);
    assert_eq!(acd.poll_timeout(), Some(t.at(11) + BUSY_RETRY));
    let out = acd.handle_timeout(t.at(11) + BUSY_RETRY);
    assert_eq!(rings(&out), vec![ring(1, "a")]);
}

#[test]
fn auto_pause_after_max_missed_in_a_row() {
    let t = Clock::new();
    let mut q = queue("sales", Strategy::LongestIdle);
    q.max_missed = 2;
    let mut acd = Acd::new(vec![q]);
    add_agent(&mut acd, "a", &[("sales", 0)], t.at(0));
    acd.enqueue(1, "sales", 0, t.at(10), t.at(10)).unwrap();
    // The only agent misses; offering starts over with them.
    let out = acd.handle_timeout(t.at(25));
    assert_eq!(rings(&out), vec![ring(1, "a")]);
    let out = acd.ring_failed(1, "a", RingFailure::Rejected, t.at(27));
    assert!(out.contains(&Action::AgentState {
        agent: "a".into(),
        state: StateName::Paused,
        reason: MISSED_REASON.into(),
        at: t.at(27)
    }));
    assert_eq!(
        state(&acd, "a"),
        AgentState::Paused {
            reason: "missed".into()
        }
    );
    assert!(ringing(&acd, 1).is_empty());
    // Unreachable and busy are not misses; resume resets the count.
    let out = acd.resume("a", t.at(30)).unwrap();
    assert_eq!(rings(&out), vec![ring(1, "a")]);
    assert_eq!(acd.agent("a").unwrap().missed_in_a_row, 0);
    let out = acd.answered(1, "a", t.at(31));
    assert!(out.contains(&Action::Connect {
        call: 1,
        agent: "a".into()
    }));
}

#[test]
fn a_miss_streak_ends_with_an_answer() {
    let t = Clock::new();
    let mut q = queue("sales", Strategy::LongestIdle);
    q.max_missed = 2;
    q.wrap_up = Duration::ZERO;
    let mut acd = Acd::new(vec![q]);
    add_agent(&mut acd, "a", &[("sales", 0)], t.at(0));
    acd.enqueue(1, "sales", 0, t.at(1), t.at(1)).unwrap();
    acd.ring_failed(1, "a", RingFailure::NoAnswer, t.at(2));
    take_call(&mut acd, 1, "a", t.at(3));
    acd.enqueue(2, "sales", 0, t.at(4), t.at(4)).unwrap();
    acd.ring_failed(2, "a", RingFailure::NoAnswer, t.at(5));
    assert_eq!(state(&acd, "a"), AgentState::Ringing { call: 2 });
}

#[test]
fn wrap_up_then_available_and_a_waiting_call_is_offered_at_once() {
    let t = Clock::new();
    let mut q = queue("sales", Strategy::LongestIdle);
    q.wrap_up = secs(30);
    let mut acd = Acd::new(vec![q]);
    add_agent(&mut acd, "a", &[("sales", 0)], t.at(0));
    acd.enqueue(1, "sales", 0, t.at(1), t.at(1)).unwrap();
    acd.answered(1, "a", t.at(2));
    let out = acd.enqueue(2, "sales", 0, t.at(3), t.at(3)).unwrap();
    assert!(rings(&out).is_empty());
    let out = acd.call_ended("a", t.at(60));
    assert!(rings(&out).is_empty());
    assert_eq!(state(&acd, "a"), AgentState::WrapUp { until: t.at(90) });
    assert_eq!(acd.agent("a").unwrap().last_call_end, Some(t.at(60)));
    assert!(rings(&acd.handle_timeout(t.at(89))).is_empty());
    let out = acd.handle_timeout(t.at(90));
    assert_eq!(rings(&out), vec![ring(2, "a")]);
    assert_eq!(state(&acd, "a"), AgentState::Ringing { call: 2 });

    // Keying the outcome early ends wrap-up at once.
    acd.answered(2, "a", t.at(91));
    acd.enqueue(3, "sales", 0, t.at(92), t.at(92)).unwrap();
    acd.call_ended("a", t.at(100));
    let out = acd.wrap_up_done("a", t.at(105));
    assert_eq!(rings(&out), vec![ring(3, "a")]);
}

#[test]
fn max_wait_overflows_the_call() {
    let t = Clock::new();
    let mut q = queue("sales", Strategy::LongestIdle);
    q.max_wait = secs(120);
    q.ring_timeout = secs(300);
    let mut acd = Acd::new(vec![q]);
    add_agent(&mut acd, "a", &[("sales", 0)], t.at(0));
    acd.enqueue(1, "sales", 0, t.at(0), t.at(10)).unwrap();
    acd.enqueue(2, "sales", 0, t.at(20), t.at(20)).unwrap();
    assert_eq!(acd.poll_timeout(), Some(t.at(70))); // call 1's first announcement
    acd.handle_timeout(t.at(70));
    assert_eq!(acd.poll_timeout(), Some(t.at(80))); // call 2's
    acd.handle_timeout(t.at(80));
    assert_eq!(acd.poll_timeout(), Some(t.at(130))); // max wait counts from queueing
    let out = acd.handle_timeout(t.at(130));
    assert!(out.contains(&Action::Overflow {
        call: 1,
        queue: "sales".into(),
        node: "sales_overflow".into()
    }));
    // Call 1 was ringing a: the ring is cancelled and a takes call 2.
    assert_eq!(cancels(&out), vec![ring(1, "a")]);
    assert_eq!(rings(&out), vec![ring(2, "a")]);
    assert!(acd.call(1).is_none());
    assert!(acd.answered(1, "a", t.at(131)).is_empty());
}

#[test]
fn announcements_every_period_with_positions() {
    let t = Clock::new();
    let mut q = queue("sales", Strategy::LongestIdle);
    q.announce_every = secs(30);
    q.max_wait = Duration::ZERO;
    let mut acd = Acd::new(vec![q]);
    acd.enqueue(1, "sales", 0, t.at(0), t.at(0)).unwrap();
    acd.enqueue(2, "sales", 0, t.at(0), t.at(0)).unwrap();
    acd.enqueue(3, "sales", 9, t.at(0), t.at(0)).unwrap();
    let announced = |out: &[Action]| -> Vec<(CallKey, usize)> {
        let a = out.iter().filter_map(|a| match a {
            Action::Announce { call, position, .. } => Some((*call, *position)),
            _ => None,
        });
        a.collect()
    };
    assert!(announced(&acd.handle_timeout(t.at(29))).is_empty());
    assert_eq!(
        announced(&acd.handle_timeout(t.at(30))),
        [(3, 1), (1, 2), (2, 3)]
    );
    assert!(announced(&acd.handle_timeout(t.at(45))).is_empty());
    acd.leave(3, t.at(50));
    assert_eq!(announced(&acd.handle_timeout(t.at(60))), [(1, 1), (2, 2)]);
    // A late poll announces once, then every period from then.
    assert_eq!(announced(&acd.handle_timeout(t.at(200))), [(1, 1), (2, 2)]);
    assert_eq!(acd.poll_timeout(), Some(t.at(230)));

    // Zero means never.
    let mut q = queue("quiet", Strategy::LongestIdle);
    q.announce_every = Duration::ZERO;
    q.max_wait = Duration::ZERO;
    let mut acd = Acd::new(vec![q]);
    acd.enqueue(1, "quiet", 0, t.at(0), t.at(0)).unwrap();
    assert_eq!(acd.poll_timeout(), None);
    assert!(announced(&acd.handle_timeout(t.at(1000))).is_empty());
}

#[test]
fn callers_waiting_on_other_nodes_count_in_the_place_announced() {
    let t = Clock::new();
    let mut q = queue("sales", Strategy::LongestIdle);
    q.max_wait = Duration::ZERO;
    let mut acd = Acd::new(vec![q, queue("billing", Strategy::LongestIdle)]);
    acd.enqueue(1, "sales", 0, t.at(10), t.at(10)).unwrap();
    acd.enqueue(2, "sales", 5, t.at(20), t.at(20)).unwrap();
    assert_eq!((acd.position(1), acd.position(2)), (Some(2), Some(1)));
    // Elsewhere: one of sales arrived earlier, one later, one of higher priority later,
    // one of another queue.
    acd.set_waiting_elsewhere(vec![
        ("sales".into(), 0, t.at(5)),
        ("sales".into(), 0, t.at(15)),
        ("sales".into(), 9, t.at(30)),
        ("billing".into(), 9, t.at(0)),
    ]);
    assert_eq!(
        acd.position(1),
        Some(4),
        "behind 2, the earlier and the urgent one"
    );
    assert_eq!(acd.position(2), Some(2), "behind the urgent one only");
    // The estimate follows the place.
    let one = acd.estimated_wait(2).unwrap();
    assert_eq!(acd.estimated_wait(1).unwrap(), one * 2);
    acd.set_waiting_elsewhere(Vec::new());
    assert_eq!(acd.position(1), Some(2));
}

#[test]
fn a_caller_hears_the_wait_on_entry_and_an_empty_queue_overflows_at_once() {
    let t = Clock::new();
    let mut q = queue("sales", Strategy::LongestIdle);
    q.wait_when_empty = false;
    let mut acd = Acd::new(vec![q]);
    // Nobody logged in: the caller goes to the overflow at once.
    let out = acd.enqueue(1, "sales", 0, t.at(0), t.at(0)).unwrap();
    assert!(
        matches!(&out[..], [Action::Overflow { call: 1, .. }]),
        "{out:?}"
    );
    // One agent, busy with a first caller: the second hears place and wait at once.
    add_agent(&mut acd, "a", &[("sales", 0)], t.at(1));
    let out = acd.enqueue(2, "sales", 0, t.at(1), t.at(1)).unwrap();
    assert_eq!(rings(&out), [(2, "a".to_string())]);
    assert!(!out.iter().any(|a| matches!(a, Action::Announce { .. })));
    // (the ringing call still counts ahead of it until answered)
    let out = acd.enqueue(3, "sales", 0, t.at(2), t.at(2)).unwrap();
    assert_eq!(
        out,
        [Action::Announce {
            call: 3,
            position: 2,
            wait: secs(360)
        }]
    );
    // The next one comes a period after entry, not after the queue's start.
    assert_eq!(acd.poll_timeout().map(|d| d >= t.at(15)), Some(true));
}

#[test]
fn estimated_wait_follows_handle_times_and_working_agents() {
    let t = Clock::new();
    let mut q = queue("sales", Strategy::LongestIdle);
    q.wrap_up = secs(20);
    q.ring_timeout = secs(1000);
    let mut acd = Acd::new(vec![q]);
    acd.enqueue(1, "sales", 0, t.at(0), t.at(0)).unwrap();
    acd.enqueue(2, "sales", 0, t.at(1), t.at(1)).unwrap();
    acd.enqueue(3, "sales", 0, t.at(2), t.at(2)).unwrap();
    // Nobody working: as for one agent, with the default 180 s handle time.
    assert_eq!(acd.estimated_wait(1), Some(secs(180)));
    assert_eq!(acd.estimated_wait(3), Some(secs(540)));
    // Two agents working (one of them paused does not count).
    add_agent(&mut acd, "a", &[("sales", 0)], t.at(3));
    add_agent(&mut acd, "b", &[("sales", 0)], t.at(3));
    add_agent(&mut acd, "c", &[("sales", 0)], t.at(3));
    acd.pause("c", "training", t.at(3)).unwrap();
    // a and b ring for calls 1 and 2; call 3 is third: ceil(3/2) = 2 rounds.
    assert_eq!(acd.estimated_wait(3), Some(secs(360)));
    // One call handled in 40 s talk + 20 s wrap-up = 60 s.
    acd.answered(1, "a", t.at(10));
    acd.call_ended("a", t.at(50));
    acd.handle_timeout(t.at(70));
    // a took call 3 after wrap-up; call 2 still waits (ringing b), position 1 of 1.
    assert_eq!(acd.estimated_wait(2), Some(secs(60)));
    // A second call of 120 s: the average is 90 s.
    acd.answered(2, "b", t.at(70));
    acd.call_ended("b", t.at(180));
    acd.wrap_up_done("b", t.at(190));
    acd.enqueue(4, "sales", 0, t.at(200), t.at(200)).unwrap();
    acd.enqueue(5, "sales", 0, t.at(201), t.at(201)).unwrap();
    assert_eq!(acd.position(5), Some(3));
    assert_eq!(acd.estimated_wait(5), Some(secs(180)));
    acd.resume("c", t.at(202)).unwrap();
    // Three working: ceil(3/3) = 1 round.
    assert_eq!(acd.estimated_wait(5), Some(secs(90)));
}

/// The runtime as the tests play it: what it was told, and the invariants that must hold
/// between that and the ACD.
#[derive(Default)]
struct Runtime {
    rings: BTreeSet<(CallKey, String)>,
    connected: BTreeMap<String, CallKey>,
    states: HashMap<String, StateName>,
    overflowed: BTreeSet<CallKey>,
}

impl Runtime {
    fn apply(&mut self, actions: &[Action]) {
        for a in actions {
            match a {
                Action::Ring { call, agent, .. } => {
                    assert!(
                        self.rings.insert((*call, agent.clone())),
                        "rung twice: {a:?}"
                    );
                }
                Action::CancelRing { call, agent, .. } => {
                    assert!(
                        self.rings.remove(&(*call, agent.clone())),
                        "not ringing: {a:?}"
                    );
                }
                Action::Connect { call, agent } => {
                    self.rings.remove(&(*call, agent.clone()));
                    assert!(self.connected.insert(agent.clone(), *call).is_none());
                }
                Action::Overflow { call, .. } => {
                    assert!(self.overflowed.insert(*call));
                }
                Action::AgentState { agent, state, .. } => {
                    self.states.insert(agent.clone(), *state);
                }
                Action::Announce { .. } => {}
            }
        }
    }

    fn check(&self, acd: &Acd, now: Instant) {
        let mut acd_rings = BTreeSet::new();
        let mut timed = false;
        for q in acd.queues() {
            let waiting = acd.waiting(&q.name);
            for (i, c) in waiting.iter().enumerate() {
                assert_eq!(acd.position(c.key), Some(i + 1));
                assert!(!self.overflowed.contains(&c.key));
                timed |= !q.max_wait.is_zero() || !c.ringing.is_empty();
                for agent in c.ringing.keys() {
                    acd_rings.insert((c.key, agent.clone()));
                    assert_eq!(state(acd, agent), AgentState::Ringing { call: c.key });
                }
                // Never stuck: a call nobody is ringing has no free candidate.
                if c.ringing.is_empty() {
                    let free = acd
                        .agents()
                        .find(|a| a.offerable(now) && a.penalty(&q.name).is_some());
                    assert!(free.is_none(), "call {} waits but {free:?} is free", c.key);
                }
            }
        }
        assert_eq!(
            self.rings, acd_rings,
            "rings the runtime knows vs the ACD's"
        );
        for a in acd.agents() {
            let told = self.states.get(&a.id).copied();
            assert_eq!(
                told.unwrap_or(StateName::LoggedOut),
                a.state.name(),
                "{}",
                a.id
            );
            match a.state {
                AgentState::Ringing { call } => {
                    assert!(acd.call(call).unwrap().ringing.contains_key(&a.id))
                }
                AgentState::OnCall { call } => {
                    assert_eq!(self.connected.get(&a.id), Some(&call));
                    assert!(acd.call(call).is_none(), "call {call} in two places");
                }
                _ => assert!(
                    !self.connected.contains_key(&a.id),
                    "{} lost its call",
                    a.id
                ),
            }
            timed |= matches!(
                a.state,
                AgentState::WrapUp { .. } | AgentState::Ringing { .. }
            );
        }
        for agent in self.connected.keys() {
            assert!(matches!(state(acd, agent), AgentState::OnCall { .. }));
        }
        if timed {
            assert!(acd.poll_timeout().is_some());
        }
    }
}

/// Two agents on "sales", `a` idle longest; call 1 rings `a`.
fn two_agents_one_call(t: &Clock) -> (Acd, Runtime) {
    let mut q = queue("sales", Strategy::LongestIdle);
    q.wrap_up = secs(10);
    let mut acd = Acd::new(vec![q]);
    let mut rt = Runtime::default();
    rt.apply(&add_agent(&mut acd, "a", &[("sales", 0)], t.at(0)));
    rt.apply(&add_agent(&mut acd, "b", &[("sales", 0)], t.at(1)));
    rt.apply(&acd.enqueue(1, "sales", 0, t.at(5), t.at(5)).unwrap());
    assert_eq!(state(&acd, "a"), AgentState::Ringing { call: 1 });
    rt.check(&acd, t.at(5));
    (acd, rt)
}

/// No call owned or rung by anyone, everyone in `expected`.
fn assert_settled(acd: &Acd, rt: &Runtime, now: Instant, expected: &[(&str, StateName)]) {
    rt.check(acd, now);
    for (id, name) in expected {
        assert_eq!(state(acd, id).name(), *name, "agent {id}");
    }
}

#[test]
fn never_stuck_answer() {
    let t = Clock::new();
    let (mut acd, mut rt) = two_agents_one_call(&t);
    rt.rings.remove(&ring(1, "a"));
    rt.apply(&acd.answered(1, "a", t.at(6)));
    assert_settled(
        &acd,
        &rt,
        t.at(6),
        &[("a", StateName::OnCall), ("b", StateName::Available)],
    );
    rt.connected.remove("a");
    rt.apply(&acd.call_ended("a", t.at(60)));
    rt.apply(&acd.handle_timeout(t.at(70)));
    assert_settled(&acd, &rt, t.at(70), &[("a", StateName::Available)]);
}

#[test]
fn never_stuck_reject_and_ring_timeout() {
    let t = Clock::new();
    let (mut acd, mut rt) = two_agents_one_call(&t);
    rt.rings.remove(&ring(1, "a"));
    rt.apply(&acd.ring_failed(1, "a", RingFailure::Rejected, t.at(6)));
    assert_settled(
        &acd,
        &rt,
        t.at(6),
        &[("a", StateName::Available), ("b", StateName::Ringing)],
    );
    rt.apply(&acd.handle_timeout(t.at(21)));
    // b timed out; a had missed it too, so it rings a again.
    assert_settled(
        &acd,
        &rt,
        t.at(21),
        &[("a", StateName::Ringing), ("b", StateName::Available)],
    );
}

#[test]
fn never_stuck_caller_hangs_up_while_ringing() {
    let t = Clock::new();
    let (mut acd, mut rt) = two_agents_one_call(&t);
    let out = acd.leave(1, t.at(6));
    assert_eq!(cancels(&out), vec![ring(1, "a")]);
    rt.apply(&out);
    assert!(acd.call(1).is_none());
    assert_settled(
        &acd,
        &rt,
        t.at(6),
        &[("a", StateName::Available), ("b", StateName::Available)],
    );
    assert!(acd.leave(1, t.at(7)).is_empty());
    assert_eq!(acd.poll_timeout(), None);
}

#[test]
fn never_stuck_unreachable_while_ringing() {
    let t = Clock::new();
    let (mut acd, mut rt) = two_agents_one_call(&t);
    let out = acd.set_reachable("a", false, t.at(6));
    assert_eq!(cancels(&out), vec![ring(1, "a")]);
    assert_eq!(rings(&out), vec![ring(1, "b")]);
    rt.apply(&out);
    assert_settled(
        &acd,
        &rt,
        t.at(6),
        &[("a", StateName::Available), ("b", StateName::Ringing)],
    );
    let a = acd.agent("a").unwrap();
    assert!(!a.reachable);
    assert_eq!(a.missed_in_a_row, 0);
    // The runtime reporting the same failure later is stale.
    assert!(acd
        .ring_failed(1, "a", RingFailure::Unreachable, t.at(7))
        .is_empty());
}

#[test]
fn never_stuck_unreachable_while_on_call() {
    let t = Clock::new();
    let (mut acd, mut rt) = two_agents_one_call(&t);
    rt.rings.remove(&ring(1, "a"));
    rt.apply(&acd.answered(1, "a", t.at(6)));
    rt.apply(&acd.set_reachable("a", false, t.at(30)));
    assert_settled(&acd, &rt, t.at(30), &[("a", StateName::OnCall)]);
    // The runtime ends the bridged call too.
    rt.connected.remove("a");
    rt.apply(&acd.call_ended("a", t.at(31)));
    rt.apply(&acd.handle_timeout(t.at(41)));
    rt.apply(&acd.enqueue(2, "sales", 0, t.at(42), t.at(42)).unwrap());
    // Available again but not offered calls until it registers.
    assert_settled(
        &acd,
        &rt,
        t.at(42),
        &[("a", StateName::Available), ("b", StateName::Ringing)],
    );
}

#[test]
fn never_stuck_logout_while_on_call() {
    let t = Clock::new();
    let (mut acd, mut rt) = two_agents_one_call(&t);
    rt.rings.remove(&ring(1, "a"));
    rt.apply(&acd.answered(1, "a", t.at(6)));
    assert_eq!(acd.logout("a", t.at(10)), Ok(vec![]));
    assert_eq!(acd.agent("a").unwrap().after_call, Some(AfterCall::Logout));
    assert_settled(&acd, &rt, t.at(10), &[("a", StateName::OnCall)]);
    rt.connected.remove("a");
    let out = acd.call_ended("a", t.at(40));
    rt.apply(&out);
    assert_settled(&acd, &rt, t.at(40), &[("a", StateName::LoggedOut)]);
    assert_eq!(acd.agent("a").unwrap().after_call, None);
}

#[test]
fn never_stuck_pause_while_ringing() {
    let t = Clock::new();
    let (mut acd, mut rt) = two_agents_one_call(&t);
    let out = acd.pause("a", "lunch", t.at(6)).unwrap();
    assert_eq!(cancels(&out), vec![ring(1, "a")]);
    assert!(out.contains(&Action::AgentState {
        agent: "a".into(),
        state: StateName::Paused,
        reason: "lunch".into(),
        at: t.at(6)
    }));
    rt.apply(&out);
    assert_settled(
        &acd,
        &rt,
        t.at(6),
        &[("a", StateName::Paused), ("b", StateName::Ringing)],
    );
    assert_eq!(acd.agent("a").unwrap().missed_in_a_row, 0);
}

#[test]
fn pause_during_a_call_applies_when_it_ends_and_resume_takes_it_back() {
    let t = Clock::new();
    let (mut acd, mut rt) = two_agents_one_call(&t);
    rt.rings.remove(&ring(1, "a"));
    rt.apply(&acd.answered(1, "a", t.at(6)));
    acd.pause("a", "break", t.at(7)).unwrap();
    acd.resume("a", t.at(8)).unwrap();
    acd.pause("a", "break", t.at(9)).unwrap();
    rt.connected.remove("a");
    rt.apply(&acd.call_ended("a", t.at(20)));
    assert_eq!(
        state(&acd, "a"),
        AgentState::Paused {
            reason: "break".into()
        }
    );
    assert_eq!(acd.login("a", t.at(21)), Ok(vec![]));
    rt.check(&acd, t.at(21));
}

#[test]
fn remove_agent_while_ringing_reoffers_the_call() {
    let t = Clock::new();
    let (mut acd, mut rt) = two_agents_one_call(&t);
    let out = acd.remove_agent("a", t.at(6));
    assert_eq!(cancels(&out), vec![ring(1, "a")]);
    assert_eq!(rings(&out), vec![ring(1, "b")]);
    rt.apply(&out);
    assert!(acd.agent("a").is_none());
    rt.check(&acd, t.at(6));
}

#[test]
fn leaving_a_queue_cancels_its_ring() {
    let t = Clock::new();
    let (mut acd, mut rt) = two_agents_one_call(&t);
    let out = acd.upsert_agent("a", members(&[("other", 0)]), t.at(6));
    assert_eq!(cancels(&out), vec![ring(1, "a")]);
    rt.apply(&out);
    assert_settled(
        &acd,
        &rt,
        t.at(6),
        &[("a", StateName::Available), ("b", StateName::Ringing)],
    );
}

#[test]
fn an_answer_that_crossed_the_timeout_is_connected_if_the_call_still_waits() {
    let t = Clock::new();
    let mut acd = Acd::new(vec![queue("sales", Strategy::LongestIdle)]);
    add_agent(&mut acd, "a", &[("sales", 0)], t.at(0));
    add_agent(&mut acd, "b", &[("sales", 0)], t.at(1));
    acd.enqueue(1, "sales", 0, t.at(5), t.at(5)).unwrap();
    acd.handle_timeout(t.at(20)); // a timed out, b rings
    let out = acd.answered(1, "a", t.at(20));
    assert!(out.contains(&Action::Connect {
        call: 1,
        agent: "a".into()
    }));
    assert_eq!(cancels(&out), vec![ring(1, "b")]);
    assert_eq!(state(&acd, "b"), AgentState::Available);
}

#[test]
fn a_calls_own_wait_limit_overflows_it_before_the_queues() {
    let t = Clock::new();
    let mut q = queue("sales", Strategy::LongestIdle);
    q.max_wait = secs(300);
    let mut acd = Acd::new(vec![q]);
    acd.enqueue(1, "sales", 0, t.at(0), t.at(0)).unwrap();
    acd.enqueue(2, "sales", 0, t.at(0), t.at(0)).unwrap();
    acd.limit_wait(1, secs(120));
    // A limit longer than the queue's changes nothing: the earlier one counts.
    acd.limit_wait(2, secs(900));
    let overflowed = |out: &[Action]| -> Vec<CallKey> {
        out.iter()
            .filter_map(|a| match a {
                Action::Overflow { call, .. } => Some(*call),
                _ => None,
            })
            .collect()
    };
    assert!(overflowed(&acd.handle_timeout(t.at(119))).is_empty());
    assert_eq!(overflowed(&acd.handle_timeout(t.at(120))), vec![1]);
    assert!(overflowed(&acd.handle_timeout(t.at(299))).is_empty());
    assert_eq!(overflowed(&acd.handle_timeout(t.at(300))), vec![2]);
}

#[test]
fn reload_keeps_waiting_calls_and_overflows_calls_of_removed_queues() {
    let t = Clock::new();
    let mut acd = Acd::new(vec![
        queue("sales", Strategy::LongestIdle),
        queue("old", Strategy::LongestIdle),
    ]);
    add_agent(&mut acd, "a", &[("old", 0)], t.at(0));
    acd.enqueue(1, "sales", 0, t.at(1), t.at(1)).unwrap();
    acd.enqueue(2, "sales", 5, t.at(2), t.at(2)).unwrap();
    acd.enqueue(3, "old", 0, t.at(3), t.at(3)).unwrap();
    let mut sales = queue("sales", Strategy::RoundRobin);
    sales.max_wait = secs(600);
    let out = acd.set_queues(vec![sales], t.at(10));
    assert_eq!(cancels(&out), vec![ring(3, "a")]);
    assert!(out.contains(&Action::Overflow {
        call: 3,
        queue: "old".into(),
        node: "old_overflow".into()
    }));
    let order: Vec<CallKey> = acd.waiting("sales").iter().map(|c| c.key).collect();
    assert_eq!(order, [2, 1]);
    assert_eq!(acd.call(1).unwrap().queued, t.at(1));
    assert!(acd
        .handle_timeout(t.at(400))
        .iter()
        .all(|a| !matches!(a, Action::Overflow { .. })));
    assert_eq!(state(&acd, "a"), AgentState::Available);
}

#[test]
fn errors() {
    let t = Clock::new();
    let mut acd = Acd::new(vec![queue("sales", Strategy::LongestIdle)]);
    assert_eq!(
        acd.enqueue(1, "nope", 0, t.at(0), t.at(0)),
        Err(AcdError::UnknownQueue("nope".into()))
    );
    assert_eq!(
        acd.login("x", t.at(0)),
        Err(AcdError::UnknownAgent("x".into()))
    );
    acd.upsert_agent("a", members(&[("sales", 0)]), t.at(0));
    assert_eq!(
        acd.logout("a", t.at(0)),
        Err(AcdError::NotLoggedIn("a".into()))
    );
    assert_eq!(
        acd.pause("a", "x", t.at(0)),
        Err(AcdError::NotLoggedIn("a".into()))
    );
    assert_eq!(
        acd.resume("a", t.at(0)),
        Err(AcdError::NotLoggedIn("a".into()))
    );
    acd.login("a", t.at(0)).unwrap();
    assert_eq!(
        acd.resume("a", t.at(0)),
        Err(AcdError::NotPaused("a".into()))
    );
    acd.enqueue(1, "sales", 0, t.at(0), t.at(0)).unwrap();
    assert_eq!(
        acd.enqueue(1, "sales", 0, t.at(0), t.at(0)),
        Err(AcdError::DuplicateCall(1))
    );
    acd.set_reachable("a", true, t.at(1));
    acd.answered(1, "a", t.at(2));
    assert_eq!(
        acd.enqueue(1, "sales", 0, t.at(0), t.at(3)),
        Err(AcdError::DuplicateCall(1))
    );
    let e: Box<dyn std::error::Error> = Box::new(AcdError::UnknownQueue("vip".into()));
    assert_eq!(e.to_string(), "unknown queue vip");
    // Events for unknown agents and calls are ignored.
    assert!(acd.set_reachable("ghost", true, t.at(4)).is_empty());
    assert!(acd.call_ended("ghost", t.at(4)).is_empty());
    assert!(acd.answered(77, "a", t.at(4)).is_empty());
}

#[test]
fn every_state_change_is_reported() {
    let t = Clock::new();
    let mut q = queue("sales", Strategy::LongestIdle);
    q.wrap_up = secs(5);
    let mut acd = Acd::new(vec![q]);
    let mut seen = Vec::new();
    let mut note = |out: Vec<Action>| {
        for a in out {
            if let Action::AgentState { state, reason, .. } = a {
                seen.push(format!("{state}:{reason}"));
            }
        }
    };
    note(add_agent(&mut acd, "a", &[("sales", 0)], t.at(0)));
    note(acd.enqueue(1, "sales", 0, t.at(1), t.at(1)).unwrap());
    note(acd.answered(1, "a", t.at(2)));
    note(acd.call_ended("a", t.at(3)));
    note(acd.handle_timeout(t.at(8)));
    note(acd.pause("a", "lunch", t.at(9)).unwrap());
    note(acd.resume("a", t.at(10)).unwrap());
    note(acd.logout("a", t.at(11)).unwrap());
    assert_eq!(
        seen,
        [
            "available:login",
            "ringing:sales",
            "on_call:answered",
            "wrap_up:call_ended",
            "available:wrap_up_end",
            "paused:lunch",
            "available:resume",
            "logged_out:logout",
        ]
    );
}

/// xorshift64*: small, deterministic, no crates.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        (!items.is_empty()).then(|| &items[self.below(items.len())])
    }
}

fn random_queues(rng: &mut Rng) -> Vec<QueueConfig> {
    let strategies = [
        Strategy::LongestIdle,
        Strategy::RoundRobin,
        Strategy::RingAll,
        Strategy::FewestCalls,
    ];
    let names = ["q0", "q1", "q2"];
    let mut queues = Vec::new();
    for (i, name) in names.iter().enumerate() {
        if i == 2 && rng.below(3) == 0 {
            continue; // q2 comes and goes with reloads
        }
        let mut q = queue(name, *rng.pick(&strategies).unwrap());
        q.ring_timeout = secs(5 + rng.below(20) as u64);
        q.max_wait = secs(rng.below(3) as u64 * 100);
        q.wrap_up = secs(rng.below(3) as u64 * 10);
        q.max_missed = rng.below(4) as u32;
        q.announce_every = secs(rng.below(3) as u64 * 20);
        queues.push(q);
    }
    queues
}

#[test]
fn random_events_keep_the_invariants() {
    for seed in 1..=20u64 {
        random_run(seed, 1500);
    }
}

fn random_run(seed: u64, steps: usize) {
    let t = Clock::new();
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut now = t.at(0);
    let mut acd = Acd::new(random_queues(&mut rng));
    let mut rt = Runtime::default();
    let agents = ["a0", "a1", "a2", "a3", "a4", "a5"];
    let queue_names = ["q0", "q1", "q2", "nope"];
    let failures = [
        RingFailure::Rejected,
        RingFailure::NoAnswer,
        RingFailure::Unreachable,
        RingFailure::Busy,
    ];
    let mut next_call: CallKey = 1;
    for step in 0..steps {
        let agent = *rng.pick(&agents).unwrap();
        let waiting: Vec<CallKey> = acd
            .queues()
            .flat_map(|q| acd.waiting(&q.name))
            .map(|c| c.key)
            .collect();
        let open_rings: Vec<(CallKey, String)> = rt.rings.iter().cloned().collect();
        let out = match rng.below(16) {
            0 | 1 => {
                let mut m = Vec::new();
                for q in ["q0", "q1", "q2"] {
                    if rng.below(2) == 0 {
                        m.push((q.to_string(), rng.below(3) as u32));
                    }
                }
                acd.upsert_agent(agent, m, now)
            }
            2 => acd.login(agent, now).unwrap_or_default(),
            3 => acd.logout(agent, now).unwrap_or_default(),
            4 => acd.pause(agent, "break", now).unwrap_or_default(),
            5 => acd.resume(agent, now).unwrap_or_default(),
            6 => acd.set_reachable(agent, rng.below(4) != 0, now),
            7 | 8 => {
                let q = *rng.pick(&queue_names).unwrap();
                let arrived = now - secs(rng.below(30) as u64).min(now - t.at(0));
                let prio = rng.below(3) as i32 * 5;
                next_call += 1;
                acd.enqueue(next_call, q, prio, arrived, now)
                    .unwrap_or_default()
            }
            9 => match rng.pick(&waiting) {
                Some(call) => acd.leave(*call, now),
                None => Vec::new(),
            },
            10 => match rng.pick(&open_rings).cloned() {
                // Sometimes a stale answer for a ring that ended.
                Some((call, agent)) => {
                    rt.rings.remove(&(call, agent.clone()));
                    acd.answered(call, &agent, now)
                }
                None => acd.answered(next_call, agent, now),
            },
            11 => match rng.pick(&open_rings).cloned() {
                Some((call, agent)) => {
                    rt.rings.remove(&(call, agent.clone()));
                    acd.ring_failed(call, &agent, *rng.pick(&failures).unwrap(), now)
                }
                None => acd.ring_failed(next_call, agent, RingFailure::NoAnswer, now),
            },
            12 => {
                rt.connected.remove(agent);
                acd.call_ended(agent, now)
            }
            13 => acd.wrap_up_done(agent, now),
            14 => {
                if rng.below(10) == 0 {
                    rt.connected.remove(agent);
                    acd.remove_agent(agent, now)
                } else if rng.below(10) == 0 {
                    acd.set_queues(random_queues(&mut rng), now)
                } else {
                    Vec::new()
                }
            }
            _ => {
                now += secs(rng.below(15) as u64);
                let mut out = acd.handle_timeout(now);
                if let Some(d) = acd.poll_timeout() {
                    assert!(d > now, "seed {seed} step {step}: overdue after poll");
                }
                // Sometimes poll exactly at the deadline.
                if rng.below(2) == 0 {
                    if let Some(d) = acd.poll_timeout() {
                        now = now.max(d);
                        out.extend(acd.handle_timeout(now));
                    }
                }
                out
            }
        };
        rt.apply(&out);
        rt.check(&acd, now);
    }
}
