//! Every Prometheus metric hotline records, named once here, with its help text and
//! histogram buckets, and the few helpers that compute a label or a figure.
//!
//! Recording goes through the `metrics` facade: without an installed recorder (the
//! command line, tests) every macro is a no-op, so the core and the media thread call
//! them as freely as `tracing`. Labels take values from small fixed sets only (methods,
//! status codes, causes, queue names, states), never a number or an ID, so the series
//! stay few.

use std::collections::BTreeMap;
use std::time::Duration;

use ::metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, Unit};
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder};

use crate::acd::StateName;
use crate::switchboard::Live;

/// Customer calls and agents' legs the SIP endpoint holds now.
pub const CALLS_ACTIVE: &str = "hotline_calls_active";
/// Call records closed, by `outcome` (the record's end cause).
pub const CALLS_TOTAL: &str = "hotline_calls_total";
/// Callers waiting in a queue now, by `queue`.
pub const QUEUE_WAITING: &str = "hotline_queue_waiting";
/// How long the caller waiting longest has waited, by `queue`.
pub const QUEUE_LONGEST_WAIT: &str = "hotline_queue_longest_wait_seconds";
/// Today's service level per `queue`, as on the wallboard.
pub const QUEUE_SERVICE_LEVEL: &str = "hotline_queue_service_level_ratio";
/// Agents by ACD `state`.
pub const AGENTS: &str = "hotline_agents";
/// SIP requests by `method` and `direction` (received, sent; retransmissions too).
pub const SIP_REQUESTS: &str = "hotline_sip_requests_total";
/// SIP responses by `code` and `direction`.
pub const SIP_RESPONSES: &str = "hotline_sip_responses_total";
/// Transactions given up on, by `kind`.
pub const SIP_TIMEOUTS: &str = "hotline_sip_transaction_timeouts_total";
/// RTP packets by `direction` (in, out).
pub const RTP_PACKETS: &str = "hotline_rtp_packets_total";
/// RTP packets lost by `direction`: in as our sequence numbers say, out as the far
/// end's RTCP reports say.
pub const RTP_LOST: &str = "hotline_rtp_lost_total";
/// RTP packets that came after a newer one (reordered or duplicated).
pub const RTP_LATE: &str = "hotline_rtp_late_total";
/// Key presses by `method` (rfc4733, inband, info).
pub const DTMF: &str = "hotline_dtmf_total";
/// Writes per committed store transaction.
pub const STORE_BATCH_SIZE: &str = "hotline_store_batch_size";
/// Time one store transaction took to commit.
pub const STORE_COMMIT_SECONDS: &str = "hotline_store_commit_seconds";
/// Store failures by `kind`: `retried` (a commit that failed and is tried again) or
/// `refused` (a write the database will never take: lost).
pub const STORE_ERRORS: &str = "hotline_store_errors_total";
/// Open follow-ups with a step past its due time.
pub const FOLLOWUPS_OVERDUE: &str = "hotline_followups_overdue";

/// `direction` of a SIP message.
pub const RECEIVED: &str = "received";
pub const SENT: &str = "sent";

/// Batch sizes up to the writer's largest batch (512).
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];
/// From an idle SQLite commit (about a millisecond) to a stalled database.
const COMMIT_BUCKETS: &[f64] = &[
    0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// The exporter, with real histograms (buckets) where a summary would hide the tail.
pub fn builder() -> Result<PrometheusBuilder, BuildError> {
    PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(STORE_BATCH_SIZE.into()), BATCH_BUCKETS)?
        .set_buckets_for_metric(Matcher::Full(STORE_COMMIT_SECONDS.into()), COMMIT_BUCKETS)
}

/// Gives every metric its help text, and starts the counters alerts compute rates of at
/// zero, so `rate()` has a series before the first event.
pub fn describe() {
    describe_gauge!(
        CALLS_ACTIVE,
        "Customer calls and agent legs the SIP endpoint holds now"
    );
    describe_counter!(CALLS_TOTAL, "Call records closed, by end cause");
    describe_gauge!(QUEUE_WAITING, "Callers waiting in the queue now");
    describe_gauge!(
        QUEUE_LONGEST_WAIT,
        Unit::Seconds,
        "Wait so far of the caller waiting longest in the queue (0 when none waits)"
    );
    describe_gauge!(
        QUEUE_SERVICE_LEVEL,
        "Today's share of queued callers answered by an agent within the service level (NaN before the first)"
    );
    describe_gauge!(AGENTS, "Agents by ACD state");
    describe_counter!(
        SIP_REQUESTS,
        "SIP requests received and sent, retransmissions included"
    );
    describe_counter!(
        SIP_RESPONSES,
        "SIP responses received and sent, by status code (rare ones by class)"
    );
    describe_counter!(
        SIP_TIMEOUTS,
        "SIP transactions given up on: invite (no final response, Timer B), non_invite (Timer F), ack (no ACK, Timer H)"
    );
    describe_counter!(RTP_PACKETS, "RTP packets received (in) and sent (out)");
    describe_counter!(
        RTP_LOST,
        "RTP packets lost: in from sequence numbers, out as the far end reports in RTCP"
    );
    describe_counter!(
        RTP_LATE,
        "RTP packets received after a newer one (reordered or duplicated)"
    );
    describe_counter!(DTMF, "Key presses by how they came: rfc4733, inband, info");
    describe_histogram!(STORE_BATCH_SIZE, "Writes per committed store transaction");
    describe_histogram!(
        STORE_COMMIT_SECONDS,
        Unit::Seconds,
        "Time to commit one store transaction"
    );
    describe_counter!(
        STORE_ERRORS,
        "Store failures: retried commits, refused (lost) writes"
    );
    describe_gauge!(
        FOLLOWUPS_OVERDUE,
        "Open follow-ups with a step past its due time"
    );
    for direction in ["in", "out"] {
        counter!(RTP_PACKETS, "direction" => direction).absolute(0);
        counter!(RTP_LOST, "direction" => direction).absolute(0);
    }
    counter!(RTP_LATE).absolute(0);
    for kind in ["retried", "refused"] {
        counter!(STORE_ERRORS, "kind" => kind).absolute(0);
    }
}

/// The `method` label: the common methods by name, anything else as `other`, so a
/// scanner's made-up methods cannot add series.
pub fn sip_method(token: &str) -> &'static str {
    const KNOWN: &[&str] = &[
        "INVITE",
        "ACK",
        "BYE",
        "CANCEL",
        "OPTIONS",
        "INFO",
        "REGISTER",
        "REFER",
        "NOTIFY",
        "SUBSCRIBE",
        "MESSAGE",
        "UPDATE",
        "PRACK",
        "PUBLISH",
    ];
    KNOWN
        .iter()
        .find(|m| **m == token)
        .copied()
        .unwrap_or("other")
}

/// The `code` label: the codes a hotline sees daily exactly, others by class (`4xx`).
pub fn sip_status(code: u16) -> &'static str {
    const EXACT: &[(u16, &str)] = &[
        (100, "100"),
        (180, "180"),
        (183, "183"),
        (200, "200"),
        (202, "202"),
        (400, "400"),
        (401, "401"),
        (403, "403"),
        (404, "404"),
        (407, "407"),
        (408, "408"),
        (480, "480"),
        (481, "481"),
        (486, "486"),
        (487, "487"),
        (488, "488"),
        (500, "500"),
        (503, "503"),
        (603, "603"),
    ];
    const CLASSES: [&str; 6] = ["1xx", "2xx", "3xx", "4xx", "5xx", "6xx"];
    match EXACT.iter().find(|(c, _)| *c == code) {
        Some((_, label)) => label,
        None => CLASSES[usize::from(code / 100).clamp(1, 6) - 1],
    }
}

/// Counts a received request.
pub fn sip_request(method: &str, direction: &'static str) {
    counter!(SIP_REQUESTS, "method" => sip_method(method), "direction" => direction).increment(1);
}

/// Counts a received response.
pub fn sip_response(code: u16, direction: &'static str) {
    counter!(SIP_RESPONSES, "code" => sip_status(code), "direction" => direction).increment(1);
}

/// Counts a message about to be sent, from its start line (all sends pass one place,
/// which holds only the bytes).
pub fn sip_sent(bytes: &[u8]) {
    let line = bytes.split(|&b| b == b' ').next().unwrap_or_default();
    if line == b"SIP/2.0" {
        let code = bytes.get(8..11).and_then(|c| std::str::from_utf8(c).ok());
        if let Some(code) = code.and_then(|c| c.parse().ok()) {
            sip_response(code, SENT);
        }
    } else if let Ok(method) = std::str::from_utf8(line) {
        if !method.trim().is_empty() {
            sip_request(method, SENT);
        }
    }
}

/// Sets the queue and agent gauges from a live copy; queues `before` had that are gone
/// now (a reload) drop to zero rather than keep their last value.
pub fn live(live: &Live, before: &Live, wall_ms: i64) {
    gauge!(CALLS_ACTIVE).set(live.calls_active as f64);
    for q in &before.queues {
        if !live.queues.iter().any(|n| n.name == q.name) {
            gauge!(QUEUE_WAITING, "queue" => q.name.clone()).set(0.0);
            gauge!(QUEUE_LONGEST_WAIT, "queue" => q.name.clone()).set(0.0);
        }
    }
    for q in &live.queues {
        let longest_ms = q
            .waiting
            .iter()
            .map(|w| wall_ms.saturating_sub(w.queued_at_ms).max(0))
            .max()
            .unwrap_or(0);
        gauge!(QUEUE_WAITING, "queue" => q.name.clone()).set(q.waiting.len() as f64);
        gauge!(QUEUE_LONGEST_WAIT, "queue" => q.name.clone()).set(longest_ms as f64 / 1000.0);
    }
    for (state, n) in agents_by_state(live) {
        gauge!(AGENTS, "state" => state).set(n as f64);
    }
}

/// Agents per state, every state present (zero included) so a dashboard never sees a
/// state vanish.
fn agents_by_state(live: &Live) -> BTreeMap<&'static str, usize> {
    let mut by_state: BTreeMap<&'static str, usize> = [
        StateName::LoggedOut,
        StateName::Available,
        StateName::Ringing,
        StateName::OnCall,
        StateName::WrapUp,
        StateName::Paused,
    ]
    .into_iter()
    .map(|s| (s.as_str(), 0))
    .collect();
    for a in &live.agents {
        *by_state.entry(a.state).or_default() += 1;
    }
    by_state
}

/// Sets today's service level per queue (NaN for a queue nobody queued in yet).
pub fn service_levels<'a>(levels: impl IntoIterator<Item = (&'a String, Option<f64>)>) {
    for (queue, level) in levels {
        gauge!(QUEUE_SERVICE_LEVEL, "queue" => queue.clone()).set(level.unwrap_or(f64::NAN));
    }
}

/// RTP figures gathered over a while, recorded at once: the media thread would spend
/// more on per-packet atomics than on its packets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RtpTally {
    pub packets_in: u64,
    pub packets_out: u64,
    pub lost_in: u64,
    pub lost_out: u64,
    pub late: u64,
}

impl std::ops::AddAssign for RtpTally {
    fn add_assign(&mut self, o: RtpTally) {
        self.packets_in += o.packets_in;
        self.packets_out += o.packets_out;
        self.lost_in += o.lost_in;
        self.lost_out += o.lost_out;
        self.late += o.late;
    }
}

impl RtpTally {
    /// Adds the tally to the counters.
    pub fn record(&self) {
        let add = |name: &'static str, direction: &'static str, n: u64| {
            if n > 0 {
                counter!(name, "direction" => direction).increment(n);
            }
        };
        add(RTP_PACKETS, "in", self.packets_in);
        add(RTP_PACKETS, "out", self.packets_out);
        add(RTP_LOST, "in", self.lost_in);
        add(RTP_LOST, "out", self.lost_out);
        if self.late > 0 {
            counter!(RTP_LATE).increment(self.late);
        }
    }
}

/// Records one committed store transaction.
pub fn store_commit(writes: usize, took: Duration) {
    ::metrics::histogram!(STORE_BATCH_SIZE).record(writes as f64);
    ::metrics::histogram!(STORE_COMMIT_SECONDS).record(took.as_secs_f64());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_stay_within_small_sets() {
        assert_eq!(sip_method("INVITE"), "INVITE");
        assert_eq!(sip_method("XYZZY"), "other");
        assert_eq!(sip_status(486), "486");
        assert_eq!(sip_status(422), "4xx");
        assert_eq!(sip_status(699), "6xx");
    }

    #[test]
    fn every_agent_state_is_reported() {
        let by_state = agents_by_state(&Live::default());
        assert_eq!(by_state.len(), 6);
        assert!(by_state.values().all(|n| *n == 0));
    }
}
