//! The RFC 3261 transaction machines on a fake clock: no sockets, no sleeping.

use hotline::core::sip::transaction::{
    AckParts, ClientInvite, ClientNonInvite, ServerInvite, ServerNonInvite, Timer, Timers,
    Transport, TxOutput,
};
use std::time::{Duration, Instant};

const MS: Duration = Duration::from_millis(1);

fn sends(out: &[TxOutput]) -> usize {
    out.iter()
        .filter(|o| matches!(o, TxOutput::Send(_)))
        .count()
}

/// Steps a machine's clock from deadline to deadline until `end`, collecting outputs with
/// the time they happened.
fn run_until<M>(
    m: &mut M,
    mut deadline: impl FnMut(&M) -> Option<Instant>,
    mut fire: impl FnMut(&mut M, Instant, &mut Vec<TxOutput>),
    end: Instant,
) -> Vec<(Instant, TxOutput)> {
    let mut log = Vec::new();
    while let Some(t) = deadline(m).filter(|t| *t <= end) {
        let mut out = Vec::new();
        fire(m, t, &mut out);
        log.extend(out.into_iter().map(|o| (t, o)));
    }
    log
}

#[test]
fn server_invite_retransmits_2xx_on_timer_g_until_ack() {
    let t0 = Instant::now();
    let timers = Timers::default();
    let mut tx = ServerInvite::new(Transport::Unreliable, timers);
    let mut out = Vec::new();
    tx.respond(t0, 100, b"100".to_vec(), &mut out);
    tx.respond(t0, 200, b"200".to_vec(), &mut out);
    assert_eq!(sends(&out), 2);
    // 2xx retransmitted at 0.5, 1.5, 3.5, 7.5, 11.5 s (T1 doubling, capped at T2 = 4 s)
    let log = run_until(
        &mut tx,
        |m| m.poll_timeout(),
        |m, t, o| m.handle_timeout(t, o),
        t0 + Duration::from_millis(12_000),
    );
    let at: Vec<u128> = log
        .iter()
        .filter(|(_, o)| matches!(o, TxOutput::Send(_)))
        .map(|(t, _)| (*t - t0).as_millis())
        .collect();
    assert_eq!(at, vec![500, 1500, 3500, 7500, 11500]);
    // the ACK stops it; later deadlines only absorb retransmitted INVITEs (Timer L)
    assert!(tx.on_2xx_ack());
    assert!(!tx.on_2xx_ack(), "a repeated ACK is not news");
    let log = run_until(
        &mut tx,
        |m| m.poll_timeout(),
        |m, t, o| m.handle_timeout(t, o),
        t0 + Duration::from_secs(40),
    );
    assert!(log
        .iter()
        .all(|(_, o)| !matches!(o, TxOutput::Send(_) | TxOutput::Timeout(_))));
    assert!(log
        .iter()
        .any(|(t, o)| *o == TxOutput::Terminated && *t == t0 + timers.t64()));
}

#[test]
fn server_invite_lost_ack_times_out_after_64_t1() {
    let t0 = Instant::now();
    let timers = Timers::default();
    let mut tx = ServerInvite::new(Transport::Unreliable, timers);
    let mut out = Vec::new();
    tx.respond(t0, 200, b"200".to_vec(), &mut out);
    let log = run_until(
        &mut tx,
        |m| m.poll_timeout(),
        |m, t, o| m.handle_timeout(t, o),
        t0 + Duration::from_secs(60),
    );
    let timeout = log
        .iter()
        .find(|(_, o)| *o == TxOutput::Timeout(Timer::H))
        .expect("no Timer H");
    assert_eq!(timeout.0 - t0, Duration::from_secs(32));
    assert!(tx.is_terminated());
    // retransmissions every 4 s once capped, never after the give-up
    assert!(log
        .iter()
        .filter(|(_, o)| matches!(o, TxOutput::Send(_)))
        .all(|(t, _)| *t < t0 + Duration::from_secs(32)));
}

#[test]
fn server_invite_over_tcp_does_not_retransmit_but_still_times_out() {
    let t0 = Instant::now();
    let mut tx = ServerInvite::new(Transport::Reliable, Timers::default());
    let mut out = Vec::new();
    tx.respond(t0, 200, b"200".to_vec(), &mut out);
    let log = run_until(
        &mut tx,
        |m| m.poll_timeout(),
        |m, t, o| m.handle_timeout(t, o),
        t0 + Duration::from_secs(60),
    );
    assert_eq!(
        sends(&log.iter().map(|(_, o)| o.clone()).collect::<Vec<_>>()),
        0
    );
    assert!(log.iter().any(|(_, o)| *o == TxOutput::Timeout(Timer::H)));
}

#[test]
fn server_invite_non_2xx_waits_for_ack_then_timer_i() {
    let t0 = Instant::now();
    let timers = Timers::default();
    let mut tx = ServerInvite::new(Transport::Unreliable, timers);
    let mut out = Vec::new();
    tx.respond(t0, 486, b"486".to_vec(), &mut out);
    assert!(tx.is_final());
    // Timer G fires once at T1
    out.clear();
    tx.handle_timeout(t0 + 500 * MS, &mut out);
    assert_eq!(out, vec![TxOutput::Send(b"486".to_vec())]);
    // a retransmitted INVITE gets the final response again
    out.clear();
    tx.on_retransmission(&mut out);
    assert_eq!(sends(&out), 1);
    // ACK: Confirmed, retransmissions stop, Timer I = T4 later it ends
    out.clear();
    tx.on_ack(t0 + 600 * MS, &mut out);
    assert_eq!(tx.poll_timeout(), Some(t0 + 600 * MS + timers.t4));
    tx.handle_timeout(t0 + 600 * MS + timers.t4, &mut out);
    assert_eq!(out, vec![TxOutput::Terminated]);
}

#[test]
fn server_invite_late_response_after_final_changes_nothing() {
    let t0 = Instant::now();
    let mut tx = ServerInvite::new(Transport::Unreliable, Timers::default());
    let mut out = Vec::new();
    tx.respond(t0, 200, b"200".to_vec(), &mut out);
    out.clear();
    tx.respond(t0, 487, b"487".to_vec(), &mut out);
    assert!(
        out.is_empty(),
        "a CANCEL losing the race to the 200 changes nothing"
    );
}

#[test]
fn server_non_invite_absorbs_retransmissions_until_timer_j() {
    let t0 = Instant::now();
    let timers = Timers::default();
    let mut tx = ServerNonInvite::new(Transport::Unreliable, timers);
    let mut out = Vec::new();
    // a retransmission before any response is absorbed silently (Trying)
    tx.on_retransmission(&mut out);
    assert!(out.is_empty());
    tx.respond(t0, 200, b"200".to_vec(), &mut out);
    assert_eq!(sends(&out), 1);
    for k in 1..=5u32 {
        out.clear();
        tx.handle_timeout(t0 + k * Duration::from_secs(5), &mut out);
        tx.on_retransmission(&mut out);
        assert_eq!(
            out,
            vec![TxOutput::Send(b"200".to_vec())],
            "retransmission {k}"
        );
    }
    assert_eq!(tx.poll_timeout(), Some(t0 + timers.t64()));
    out.clear();
    tx.handle_timeout(t0 + timers.t64(), &mut out);
    assert_eq!(out, vec![TxOutput::Terminated]);
}

#[test]
fn server_non_invite_over_tcp_ends_at_once() {
    let t0 = Instant::now();
    let mut tx = ServerNonInvite::new(Transport::Reliable, Timers::default());
    let mut out = Vec::new();
    tx.respond(t0, 200, b"200".to_vec(), &mut out);
    assert_eq!(out.last(), Some(&TxOutput::Terminated));
}

#[test]
fn client_non_invite_timer_e_then_f() {
    let t0 = Instant::now();
    let timers = Timers::default();
    let mut out = Vec::new();
    let mut tx =
        ClientNonInvite::start(t0, Transport::Unreliable, timers, b"BYE".to_vec(), &mut out);
    assert_eq!(sends(&out), 1);
    let log = run_until(
        &mut tx,
        |m| m.poll_timeout(),
        |m, t, o| m.handle_timeout(t, o),
        t0 + Duration::from_secs(40),
    );
    let at: Vec<u128> = log
        .iter()
        .filter(|(_, o)| matches!(o, TxOutput::Send(_)))
        .map(|(t, _)| (*t - t0).as_millis())
        .collect();
    assert_eq!(&at[..5], &[500, 1500, 3500, 7500, 11500]);
    let (t_f, _) = log
        .iter()
        .find(|(_, o)| *o == TxOutput::Timeout(Timer::F))
        .expect("Timer F");
    assert_eq!(*t_f - t0, timers.t64());
    assert!(tx.is_terminated());
}

#[test]
fn client_non_invite_final_response_then_timer_k() {
    let t0 = Instant::now();
    let timers = Timers::default();
    let mut out = Vec::new();
    let mut tx =
        ClientNonInvite::start(t0, Transport::Unreliable, timers, b"BYE".to_vec(), &mut out);
    out.clear();
    tx.on_response(t0 + 100 * MS, 200, &mut out);
    assert_eq!(out, vec![TxOutput::Response(200)]);
    // a retransmitted 200 is absorbed
    out.clear();
    tx.on_response(t0 + 200 * MS, 200, &mut out);
    assert!(out.is_empty());
    assert_eq!(tx.poll_timeout(), Some(t0 + 100 * MS + timers.t4));
    tx.handle_timeout(t0 + 100 * MS + timers.t4, &mut out);
    assert_eq!(out, vec![TxOutput::Terminated]);
}

fn ack_parts() -> AckParts {
    AckParts {
        uri: "sip:agent@127.0.0.1:5062".into(),
        via: "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKabc".into(),
        from: "<sip:hotline@127.0.0.1>;tag=1".into(),
        call_id: "c1".into(),
        cseq: 7,
        routes: vec![],
    }
}

#[test]
fn client_invite_timer_a_then_b() {
    let t0 = Instant::now();
    let timers = Timers::default();
    let mut out = Vec::new();
    let mut tx = ClientInvite::start(
        t0,
        Transport::Unreliable,
        timers,
        b"INVITE".to_vec(),
        ack_parts(),
        &mut out,
    );
    let log = run_until(
        &mut tx,
        |m| m.poll_timeout(),
        |m, t, o| m.handle_timeout(t, o),
        t0 + Duration::from_secs(40),
    );
    let at: Vec<u128> = log
        .iter()
        .filter(|(_, o)| matches!(o, TxOutput::Send(_)))
        .map(|(t, _)| (*t - t0).as_millis())
        .collect();
    // Timer A doubles without a cap: 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s
    assert_eq!(at, vec![500, 1500, 3500, 7500, 15500, 31500]);
    assert!(log
        .iter()
        .any(|(t, o)| *o == TxOutput::Timeout(Timer::B) && *t - t0 == timers.t64()));
}

#[test]
fn client_invite_acks_non_2xx_and_absorbs_retransmissions_until_timer_d() {
    let t0 = Instant::now();
    let timers = Timers::default();
    let mut out = Vec::new();
    let mut tx = ClientInvite::start(
        t0,
        Transport::Unreliable,
        timers,
        b"INVITE".to_vec(),
        ack_parts(),
        &mut out,
    );
    out.clear();
    tx.on_response(t0 + 10 * MS, 180, "<sip:a@b>;tag=x", &mut out);
    assert_eq!(out, vec![TxOutput::Response(180)]);
    assert_eq!(tx.poll_timeout(), None, "no retransmission once proceeding");
    out.clear();
    tx.on_response(t0 + 20 * MS, 486, "<sip:a@b>;tag=x", &mut out);
    let ack = match &out[1] {
        TxOutput::Send(b) => String::from_utf8(b.clone()).unwrap(),
        o => panic!("expected the ACK, got {o:?}"),
    };
    assert!(ack.starts_with("ACK sip:agent@127.0.0.1:5062 SIP/2.0\r\n"));
    assert!(ack.contains("To: <sip:a@b>;tag=x\r\n"));
    assert!(ack.contains("CSeq: 7 ACK\r\n"));
    assert!(
        ack.contains("branch=z9hG4bKabc"),
        "same branch as the INVITE"
    );
    out.clear();
    tx.on_response(t0 + 600 * MS, 486, "<sip:a@b>;tag=x", &mut out);
    assert_eq!(out, vec![TxOutput::Send(ack.into_bytes())]);
    out.clear();
    tx.handle_timeout(t0 + 20 * MS + Duration::from_secs(32), &mut out);
    assert_eq!(out, vec![TxOutput::Terminated]);
}

#[test]
fn client_invite_2xx_ends_the_transaction() {
    let t0 = Instant::now();
    let mut out = Vec::new();
    let mut tx = ClientInvite::start(
        t0,
        Transport::Reliable,
        Timers::default(),
        b"INVITE".to_vec(),
        ack_parts(),
        &mut out,
    );
    out.clear();
    tx.on_response(t0, 200, "<sip:a@b>;tag=x", &mut out);
    assert_eq!(out, vec![TxOutput::Response(200), TxOutput::Terminated]);
}
