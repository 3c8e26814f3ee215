//! Trunks over TCP, on a fake clock: hotline asks for a connection to the trunk before
//! its INVITE, sends the whole call on it (TCP Via, `transport=tcp` Contact), reuses it
//! for the next call, opens a new one once it closed, fails over to the next trunk when
//! it cannot connect, and registers over it.

mod common;

use common::board::{secs, Board, Script, Setup};
use hotline::core::sip::endpoint::{ConnId, Link, OUTBOUND_CONN_BASE};
use hotline::store::{DialResult, DialTask, FollowUpKind, FollowUpStatus, Write};
use std::net::SocketAddr;

const TCP_TRUNK: &str = r#"
[dialer]
retry_after_mins = 30
max_attempts = 2
ring_secs = 30

[[trunks]]
name = "primary"
address = "127.0.0.1:5091"
caller_id = "4008001234"
transport = "tcp"

[[trunks]]
name = "backup"
address = "127.0.0.1:5092"
caller_id = "4008001234"
"#;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn board(trunks: &str) -> Board {
    Board::new(Setup {
        trunks: trunks.into(),
        ..Setup::default()
    })
}

fn revisit(id: &str, b: &Board) -> DialTask {
    DialTask {
        id: id.into(),
        kind: FollowUpKind::Revisit,
        status: FollowUpStatus::Open,
        urgency: 0,
        created_at: b.now.wall_ms,
        promised_from: None,
        promised_to: None,
        attempts: 0,
        last_attempt_at: None,
        number: "+8613800138000".into(),
        category: "billing".into(),
        customer: Some("A1001".into()),
        customer_name: None,
        queue: Some("general".into()),
        language: Some("zh-CN".into()),
        parent_id: Some("fu-c".into()),
        owner: None,
    }
}

/// What the switchboard sent to `to`: (method or status line, link).
fn sent(b: &Board, to: SocketAddr) -> Vec<(String, Link)> {
    b.sent
        .iter()
        .zip(&b.links)
        .filter(|((_, a, _), _)| *a == to)
        .map(|((_, _, m), l)| {
            let what = m
                .method()
                .map(str::to_string)
                .unwrap_or_else(|| m.first_line().to_string());
            (what, *l)
        })
        .collect()
}

/// Runs one revisit to the carrier `c` until hotline has hung up after the verdict.
fn revisit_answered(b: &mut Board, c: usize, id: &str) {
    let calls = b.phones[c].rung();
    b.dial_work(vec![revisit(id, b)], vec![]);
    b.run_until("the customer hears the question", secs(10), |b| {
        b.phones[c].rung() == calls + 1
            && b.phones[c].leg().acked
            && b.heard(b.leg_of(c), "revisit_question")
    });
    b.run_for(secs(3));
    b.agent_keys(c, "1");
    b.run_until("hotline hangs up after the ending", secs(30), |b| {
        b.phones[c].leg().ended
    });
}

fn ours(conn: ConnId) -> bool {
    conn >= OUTBOUND_CONN_BASE
}

#[test]
fn a_call_to_a_tcp_trunk_connects_first_and_goes_on_that_connection() {
    let mut b = board(TCP_TRUNK);
    let trunk = addr("127.0.0.1:5091");
    let c = b.carrier("127.0.0.1:5091", &[Script::Answer(secs(1))]);
    revisit_answered(&mut b, c, "fu-r");
    assert_eq!(b.connects.len(), 1, "{}", b.dump());
    let (conn, to) = b.connects[0];
    assert_eq!(to, trunk);
    assert!(
        ours(conn),
        "numbered apart from accepted connections: {conn}"
    );
    let link = Link::Tcp(conn);
    let methods: Vec<(String, Link)> = sent(&b, trunk);
    assert_eq!(
        methods,
        vec![
            ("INVITE".to_string(), link),
            ("ACK".to_string(), link),
            ("BYE".to_string(), link)
        ],
        "{}",
        b.dump()
    );
    let invite = &b.phones[c].leg().invite;
    assert!(
        invite
            .first_line()
            .starts_with("INVITE sip:+8613800138000@127.0.0.1:5091;transport=tcp "),
        "{}",
        invite.first_line()
    );
    assert!(
        invite.header("Via").unwrap().starts_with("SIP/2.0/TCP "),
        "{:?}",
        invite.header("Via")
    );
    assert!(invite.header("Contact").unwrap().contains(";transport=tcp"));
    assert!(b.writes.iter().any(|l| matches!(&l.write,
        Write::RevisitAnswered { revisit, satisfied: true, .. } if revisit == "fu-r")));
}

#[test]
fn the_next_call_reuses_the_connection_and_a_closed_one_is_opened_again() {
    let mut b = board(TCP_TRUNK);
    let trunk = addr("127.0.0.1:5091");
    let c = b.carrier("127.0.0.1:5091", &[]);
    revisit_answered(&mut b, c, "fu-1");
    revisit_answered(&mut b, c, "fu-2");
    assert_eq!(b.connects.len(), 1, "one connection for both calls");
    let first = Link::Tcp(b.connects[0].0);
    assert!(sent(&b, trunk).iter().all(|(_, l)| *l == first));
    assert_eq!(b.phones[c].rung(), 2);

    // The connection closes between calls: the next call opens a new one.
    b.close_tcp(trunk);
    revisit_answered(&mut b, c, "fu-3");
    assert_eq!(b.connects.len(), 2, "{}", b.dump());
    let second = Link::Tcp(b.connects[1].0);
    assert_ne!(first, second);
    let last: Vec<Link> = sent(&b, trunk).iter().skip(6).map(|(_, l)| *l).collect();
    assert_eq!(last, vec![second; 3], "{}", b.dump());
}

#[test]
fn a_bye_after_the_connection_closed_goes_on_a_new_one() {
    let mut b = board(TCP_TRUNK);
    let trunk = addr("127.0.0.1:5091");
    let c = b.carrier("127.0.0.1:5091", &[Script::Answer(secs(1))]);
    b.dial_work(vec![revisit("fu-r", &b)], vec![]);
    b.run_until("the customer answers", secs(10), |b| {
        b.phones[c].legs.iter().any(|l| l.acked)
    });
    b.close_tcp(trunk);
    b.run_for(secs(3));
    b.agent_keys(c, "1");
    b.run_until("hotline hangs up after the ending", secs(30), |b| {
        b.phones[c].leg().ended
    });
    assert_eq!(b.connects.len(), 2, "{}", b.dump());
    let bye = sent(&b, trunk).pop().unwrap();
    assert_eq!(bye, ("BYE".to_string(), Link::Tcp(b.connects[1].0)));
}

#[test]
fn a_refused_connection_fails_over_to_the_next_trunk() {
    let mut b = board(TCP_TRUNK);
    let (primary, backup) = (addr("127.0.0.1:5091"), addr("127.0.0.1:5092"));
    b.refuse_tcp.insert(primary);
    let c1 = b.carrier("127.0.0.1:5091", &[]);
    let c2 = b.carrier("127.0.0.1:5092", &[Script::Answer(secs(1))]);
    let start = b.now.at;
    b.dial_work(vec![revisit("fu-r", &b)], vec![]);
    b.run_until("the backup trunk's customer answers", secs(10), |b| {
        b.phones[c2].legs.iter().any(|l| l.acked)
    });
    assert!(
        b.now.at - start < secs(2),
        "failed over at once, not after Timer B"
    );
    assert!(b.phones[c1].legs.is_empty());
    assert_eq!(b.connects.len(), 1);
    assert!(sent(&b, backup).iter().all(|(_, l)| *l == Link::Udp));
    assert!(b.writes.iter().any(|l| matches!(&l.write,
        Write::CallEvent { kind: "trunk_failed", detail, .. } if detail == "no response")));
    let routes: Vec<(String, &str)> = b
        .writes
        .iter()
        .filter_map(|l| match &l.write {
            Write::CallRouted {
                trunk, transport, ..
            } => Some((trunk.clone(), *transport)),
            _ => None,
        })
        .collect();
    assert_eq!(
        routes,
        vec![
            ("primary".to_string(), "tcp"),
            ("backup".to_string(), "udp")
        ],
        "the record says how each trunk was reached"
    );
    b.run_for(secs(3));
    b.agent_keys(c2, "1");
    b.run_until("hotline hangs up after the ending", secs(30), |b| {
        b.phones[c2].leg().ended
    });
    let results: Vec<DialResult> = b
        .writes
        .iter()
        .filter_map(|l| match &l.write {
            Write::DialAttempt { result, .. } => Some(*result),
            _ => None,
        })
        .collect();
    assert_eq!(results, vec![DialResult::Answered], "{}", b.dump());
}

#[test]
fn registration_with_a_tcp_trunk_goes_over_tcp() {
    let trunks = r#"
[[trunks]]
name = "carrier"
address = "127.0.0.1:5091"
caller_id = "4008001234"
transport = "tcp"
[trunks.register]
user = "hotline"
password = "s3cret"
"#;
    let mut b = board(trunks);
    let trunk = addr("127.0.0.1:5091");
    let c = b.carrier("127.0.0.1:5091", &[Script::Answer(secs(1))]);
    b.run_for(secs(1));
    assert_eq!(b.connects.len(), 1, "{}", b.dump());
    let link = Link::Tcp(b.connects[0].0);
    assert_eq!(sent(&b, trunk), vec![("REGISTER".to_string(), link)]);
    let register = b.phones[c].received.last().unwrap();
    assert!(register.header("Via").unwrap().starts_with("SIP/2.0/TCP "));
    assert!(register
        .header("Contact")
        .unwrap()
        .contains(";transport=tcp"));
    // A call afterwards takes the same connection.
    revisit_answered(&mut b, c, "fu-r");
    assert_eq!(b.connects.len(), 1);
    assert!(sent(&b, trunk).iter().all(|(_, l)| *l == link));
}
