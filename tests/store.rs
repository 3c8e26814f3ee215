//! Store and group-commit writer against a temporary SQLite file and, when
//! HOTLINE_TEST_POSTGRES_URL is set, against PostgreSQL (each test in its own schema).

#[macro_use]
mod common;

use common::db::{Cleanup, TestDb};
use hotline::store::{AgentWrite, Backend, CallIvr, CallRow, Store, StoreError, Write, Writer};

fn arrived(id: &str, at_ms: i64) -> Write {
    arrived_via(id, at_ms, "udp")
}

fn arrived_via(id: &str, at_ms: i64, transport: &'static str) -> Write {
    Write::CallArrived {
        id: id.to_owned(),
        sip_call_id: format!("{id}@192.0.2.10"),
        caller: "+8613800138000".to_owned(),
        called: "95555".to_owned(),
        source: "192.0.2.10:5060".to_owned(),
        transport,
        at_ms,
    }
}

async fn round_trip(db: &TestDb) {
    let store = Store::connect(&db.url).await.expect("connect");
    assert_eq!(store.call("nope").await.expect("query"), None);

    store.apply(&[arrived("c1", 1_000)]).await.expect("arrive");
    let row = store.call("c1").await.expect("query").expect("row");
    assert_eq!(
        row,
        CallRow {
            id: "c1".into(),
            sip_call_id: "c1@192.0.2.10".into(),
            caller: "+8613800138000".into(),
            called: "95555".into(),
            source: "192.0.2.10:5060".into(),
            transport: "udp".into(),
            arrived_at: 1_000,
            answered_at: None,
            ended_at: None,
            ended_by: None,
            end_cause: None,
            end_status: None,
            recording: None,
        }
    );

    let answered = Write::CallAnswered {
        id: "c1".into(),
        at_ms: 1_500,
    };
    store.apply(&[answered]).await.expect("answer");
    let ended = Write::CallEnded {
        id: "c1".into(),
        at_ms: 9_000,
        by: "caller",
        cause: "caller_bye",
        status: None,
    };
    store.apply(&[ended]).await.expect("end");
    // A late duplicate end (e.g. shutdown racing the BYE) must not rewrite the first one,
    // and a repeated arrival must not reset the row.
    let late = Write::CallEnded {
        id: "c1".into(),
        at_ms: 9_999,
        by: "hotline",
        cause: "shutdown",
        status: None,
    };
    store
        .apply(&[late, arrived("c1", 5)])
        .await
        .expect("duplicates are ignored");
    let row = store.call("c1").await.expect("query").expect("row");
    assert_eq!(row.arrived_at, 1_000);
    assert_eq!(row.answered_at, Some(1_500));
    assert_eq!(row.ended_at, Some(9_000));
    assert_eq!(row.ended_by.as_deref(), Some("caller"));
    assert_eq!(row.end_cause.as_deref(), Some("caller_bye"));
    assert_eq!(row.end_status, None);

    // Arrival, answer and end in one transaction apply in order.
    store
        .apply(&[
            arrived_via("c2", 2_000, "tcp"),
            Write::CallEnded {
                id: "c2".into(),
                at_ms: 2_001,
                by: "hotline",
                cause: "rejected",
                status: Some(486),
            },
        ])
        .await
        .expect("batch");
    let row = store.call("c2").await.expect("query").expect("row");
    assert_eq!(row.transport, "tcp");
    assert_eq!(row.answered_at, None);
    assert_eq!(row.ended_at, Some(2_001));
    assert_eq!(row.ended_by.as_deref(), Some("hotline"));
    assert_eq!(row.end_cause.as_deref(), Some("rejected"));
    assert_eq!(row.end_status, Some(486));

    // Through the writer: all three land even though they share one batch.
    let (writer, task) = Writer::spawn(store.clone());
    writer.send(arrived("c3", 3_000));
    writer.send(Write::CallAnswered {
        id: "c3".into(),
        at_ms: 3_100,
    });
    let done = writer.submit(Write::CallEnded {
        id: "c3".into(),
        at_ms: 3_200,
        by: "hotline",
        cause: "max_duration",
        status: None,
    });
    done.await.expect("committed");
    let row = store.call("c3").await.expect("query").expect("row");
    assert_eq!((row.answered_at, row.ended_at), (Some(3_100), Some(3_200)));
    assert_eq!(row.end_cause.as_deref(), Some("max_duration"));
    assert_eq!(store.count_calls().await.expect("count"), 3);

    drop(writer);
    let stats = task.await.expect("writer task");
    assert_eq!(stats.writes, 3);
    assert_eq!(stats.rejected, 0);
    store.close().await;
}

async fn concurrent_writes_are_batched(db: &TestDb) {
    const TASKS: usize = 50;
    const PER_TASK: usize = 20;
    let store = Store::connect(&db.url).await.expect("connect");
    let (writer, task) = Writer::spawn(store.clone());

    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let writer = writer.clone();
        tasks.push(tokio::spawn(async move {
            let receipts: Vec<_> = (0..PER_TASK)
                .map(|i| writer.submit(arrived(&format!("t{t}-{i}"), (t * PER_TASK + i) as i64)))
                .collect();
            for r in receipts {
                r.await.expect("write committed");
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }

    assert_eq!(store.count_calls().await.expect("count"), 1000);
    let stats = writer.stats();
    assert_eq!(stats.writes, 1000);
    assert_eq!(stats.rejected, 0);
    assert!(stats.batches < 1000, "writes were not grouped: {stats:?}");
    println!(
        "{:?}: 1000 writes in {} transactions",
        store.backend(),
        stats.batches
    );

    drop(writer);
    task.await.expect("writer task");
    store.close().await;
}

async fn flush_and_shutdown(db: &TestDb) {
    let store = Store::connect(&db.url).await.expect("connect");
    let (writer, task) = Writer::spawn(store.clone());
    for i in 0..100 {
        writer.send(arrived(&format!("f{i}"), i));
    }
    writer.flush().await;
    assert_eq!(store.count_calls().await.expect("count"), 100);
    // Flushing an idle writer returns too.
    writer.flush().await;

    // Dropping every handle commits what is still queued before the task ends.
    let other = writer.clone();
    for i in 100..300 {
        other.send(arrived(&format!("f{i}"), i));
    }
    drop(writer);
    drop(other);
    let stats = task.await.expect("writer task");
    assert_eq!(stats.writes, 300);
    assert_eq!(store.count_calls().await.expect("count"), 300);
    store.close().await;
}

async fn migrate_twice(db: &TestDb) {
    Store::migrate(&db.url).await.expect("first migrate");
    Store::migrate(&db.url).await.expect("second migrate");
    let store = Store::connect(&db.url)
        .await
        .expect("connect migrates a third time");
    assert_eq!(store.count_calls().await.expect("count"), 0);
    store.close().await;
}

fn answered(id: &str, at_ms: i64) -> Write {
    Write::CallAnswered {
        id: id.into(),
        at_ms,
    }
}

fn ended(id: &str, at_ms: i64, cause: &'static str, status: Option<u16>) -> Write {
    Write::CallEnded {
        id: id.into(),
        at_ms,
        by: "hotline",
        cause,
        status,
    }
}

fn event(id: &str, seq: i64, detail: &str) -> Write {
    Write::CallEvent {
        id: id.into(),
        seq,
        at_ms: 1_000 + seq,
        kind: "dtmf",
        detail: detail.into(),
    }
}

fn ivr(id: &str, language: Option<&str>, outcome: Option<&str>) -> Write {
    Write::CallIvr {
        id: id.into(),
        ivr: CallIvr {
            language: language.map(Into::into),
            outcome: outcome.map(Into::into),
            verified: Some(false),
            ..CallIvr::default()
        },
    }
}

fn rtp(id: &str, received: i64, sent: i64) -> Write {
    Write::Agent(AgentWrite::CallRtp {
        call: id.into(),
        rtp: (received, sent),
    })
}

/// Runs `sql` on the test's database behind the store's back.
async fn raw_execute(db: &TestDb, sql: &str) {
    match db.cleanup {
        Cleanup::File(_) => {
            let pool = sqlx::SqlitePool::connect(&db.url)
                .await
                .expect("raw connect");
            sqlx::query(sql)
                .execute(&pool)
                .await
                .expect("raw statement");
            pool.close().await;
        }
        Cleanup::PgSchema { .. } => {
            let pool = sqlx::PgPool::connect(&db.url).await.expect("raw connect");
            sqlx::query(sql)
                .execute(&pool)
                .await
                .expect("raw statement");
            pool.close().await;
        }
    }
}

/// `(subject, at)` of the noted `call.ended` webhook changes, in order.
async fn ended_changes(db: &TestDb) -> Vec<(String, i64)> {
    let sql = "SELECT subject, at FROM webhook_changes WHERE event = 'call.ended' \
               ORDER BY subject, at";
    match db.cleanup {
        Cleanup::File(_) => {
            let pool = sqlx::SqlitePool::connect(&db.url)
                .await
                .expect("raw connect");
            let rows = sqlx::query_as(sql).fetch_all(&pool).await.expect("changes");
            pool.close().await;
            rows
        }
        Cleanup::PgSchema { .. } => {
            let pool = sqlx::PgPool::connect(&db.url).await.expect("raw connect");
            let rows = sqlx::query_as(sql).fetch_all(&pool).await.expect("changes");
            pool.close().await;
            rows
        }
    }
}

/// Call records of every kind, interleaved with other writes that need the call's row and
/// with repeats; every id starts with `p`.
fn mixed_batch(p: &str) -> Vec<Write> {
    let c = |n: &str| format!("{p}{n}");
    vec![
        arrived(&c("c1"), 1_000),
        arrived(&c("c2"), 1_001),
        answered(&c("c1"), 1_100),
        ivr(&c("c1"), Some("zh-CN"), None),
        event(&c("c1"), 1, "1"),
        event(&c("c1"), 2, "#"),
        // Needs c1's row: it must not run before the arrivals.
        Write::Survey {
            id: c("c1"),
            question: 1,
            score: 5,
            agent: None,
            at_ms: 1_200,
        },
        ivr(&c("c1"), None, Some("sales")),
        Write::Agent(AgentWrite::CallQueued {
            call: c("c2"),
            at_ms: 1_150,
        }),
        answered(&c("ghost"), 1_300),
        answered(&c("c2"), 1_310),
        ivr(&c("c2"), Some("en"), None),
        rtp(&c("c1"), 10, 20),
        ended(&c("c1"), 2_000, "caller_bye", None),
        event(&c("c2"), 1, "first"),
        // Repeats: the first answer, end and event win, later IVR fields and RTP counts.
        ivr(&c("c2"), Some("zh-CN"), Some("billing")),
        answered(&c("c2"), 1_320),
        rtp(&c("c1"), 11, 21),
        ended(&c("c1"), 2_100, "shutdown", None),
        event(&c("c2"), 1, "second"),
        arrived(&c("c1"), 5),
        // Answered before it arrived: as one by one, the answer finds no call.
        answered(&c("c3"), 1_400),
        arrived(&c("c3"), 1_390),
        event(&c("c3"), 1, "9"),
        ended(&c("c2"), 2_200, "rejected", Some(486)),
        ended(&c("c3"), 2_300, "caller_cancel", None),
    ]
}

/// Everything stored about calls c1 to c3 and ghost, with the prefix `p` taken out.
async fn stored(store: &Store, db: &TestDb, p: &str) -> Vec<String> {
    let mut out = Vec::new();
    for n in ["c1", "c2", "c3", "ghost"] {
        let detail = store.call_detail(&format!("{p}{n}")).await.expect("detail");
        out.push(serde_json::to_string(&detail).expect("json").replace(p, ""));
    }
    for (subject, at) in ended_changes(db).await {
        if let Some(n) = subject.strip_prefix(p) {
            out.push(format!("call.ended {n} {at}"));
        }
    }
    out
}

async fn one_batch_equals_one_by_one(db: &TestDb) {
    let store = Store::connect(&db.url).await.expect("connect");
    store.apply(&mixed_batch("p:")).await.expect("one batch");
    // The reference: one statement per write (SQLite's way), one write per transaction.
    let each_db = TestDb::sqlite();
    let each = Store::connect(&each_db.url).await.expect("connect");
    for w in mixed_batch("p:") {
        each.apply(&[w]).await.expect("one write");
    }
    let one = stored(&store, db, "p:").await;
    assert_eq!(one, stored(&each, &each_db, "p:").await);
    each.close().await;
    // Not vacuous: the calls are there, with their timelines and the first end.
    let c1 = store
        .call_detail("p:c1")
        .await
        .expect("detail")
        .expect("c1");
    assert_eq!(c1.events.len(), 2);
    assert_eq!(c1.survey.len(), 1);
    assert_eq!(c1.call.end_cause.as_deref(), Some("caller_bye"));
    assert_eq!(one.len(), 4 + 3, "{one:?}");
    store.close().await;
}

async fn a_repeated_batch_changes_nothing(db: &TestDb) {
    let store = Store::connect(&db.url).await.expect("connect");
    // Bar the answer that comes before its call: a retry would find the call.
    let mut batch = mixed_batch("r:");
    batch.retain(|w| !matches!(w, Write::CallAnswered { id, .. } if id == "r:c3"));
    store.apply(&batch).await.expect("first");
    let before = stored(&store, db, "r:").await;
    store.apply(&batch).await.expect("again");
    assert_eq!(stored(&store, db, "r:").await, before);
    store.close().await;
}

async fn repeats_in_one_batch_apply_in_order(db: &TestDb) {
    let store = Store::connect(&db.url).await.expect("connect");
    store
        .apply(&[
            arrived("d1", 1_000),
            answered("d1", 1_200),
            ivr("d1", Some("en"), Some("sales")),
            rtp("d1", 1, 2),
            ended("d1", 3_000, "caller_bye", None),
            event("d1", 1, "first"),
            // Earlier times and other causes, so neither "last" nor "least" passes for "first".
            answered("d1", 1_100),
            ivr("d1", Some("zh-CN"), None),
            rtp("d1", 3, 4),
            ended("d1", 2_000, "rejected", Some(486)),
            event("d1", 1, "second"),
        ])
        .await
        .expect("batch");
    let d1 = store.call_detail("d1").await.expect("detail").expect("d1");
    assert_eq!(d1.call.answered_at, Some(1_200));
    assert_eq!(d1.call.ended_at, Some(3_000));
    assert_eq!(d1.call.end_cause.as_deref(), Some("caller_bye"));
    assert_eq!(d1.call.end_status, None);
    assert_eq!(d1.call.language.as_deref(), Some("zh-CN"));
    assert_eq!(d1.call.outcome.as_deref(), Some("sales"));
    assert_eq!((d1.call.rtp_received, d1.call.rtp_sent), (Some(3), Some(4)));
    assert_eq!(d1.events.len(), 1);
    assert_eq!(d1.events[0].detail, "first");
    assert_eq!(ended_changes(db).await, vec![("d1".to_string(), 3_000)]);
    store.close().await;
}

/// A write the database refuses for good sinks its whole batch; the writer then commits the
/// others one by one.
async fn refused_write_is_isolated(db: &TestDb) {
    let store = Store::connect(&db.url).await.expect("connect");
    // A constraint that a second arrival with the same SIP Call-ID violates.
    raw_execute(
        db,
        "CREATE UNIQUE INDEX test_unique_sip_call_id ON calls (sip_call_id)",
    )
    .await;
    let bad = Write::CallArrived {
        id: "i2".into(),
        sip_call_id: "i1@192.0.2.10".into(),
        caller: "c".into(),
        called: "d".into(),
        source: "192.0.2.11:5060".into(),
        transport: "udp",
        at_ms: 2,
    };
    let batch = [
        arrived("i1", 1),
        bad,
        answered("i1", 3),
        event("i1", 1, "5"),
    ];
    let err = store.apply(&batch).await.expect_err("refused");
    assert!(err.is_permanent(), "{err}");
    assert_eq!(
        store.count_calls().await.expect("count"),
        0,
        "all or nothing"
    );

    // All four in one batch (see `refused_write_tests`).
    let (writer, task) = Writer::spawn(store.clone());
    let receipts: Vec<_> = batch.into_iter().map(|w| writer.submit(w)).collect();
    let results = committed(receipts).await;
    assert_eq!(results, [true, false, true, true]);
    let row = store.call("i1").await.expect("query").expect("row");
    assert_eq!(row.answered_at, Some(3));
    assert_eq!(store.events("i1").await.expect("events").len(), 1);
    assert_eq!(store.call("i2").await.expect("query"), None);
    let stats = writer.stats();
    assert_eq!((stats.writes, stats.rejected), (3, 1), "{stats:?}");
    // After the batch failed, each good write was committed on its own.
    assert_eq!(stats.batches, 3, "{stats:?}");

    drop(writer);
    task.await.expect("writer task");
    store.close().await;
}

/// For each receipt, whether its write was committed.
async fn committed(receipts: Vec<tokio::sync::oneshot::Receiver<()>>) -> Vec<bool> {
    let mut out = Vec::new();
    for r in receipts {
        out.push(r.await.is_ok());
    }
    out
}

backend_tests!(one_batch_tests, one_batch_equals_one_by_one);
backend_tests!(repeated_batch_tests, a_repeated_batch_changes_nothing);
backend_tests!(repeats_tests, repeats_in_one_batch_apply_in_order);

// On one thread, unlike `backend_tests!`: the writer runs only once the test waits, so it
// takes the writes as one batch.
mod refused_write_tests {
    use super::*;

    #[tokio::test]
    async fn sqlite() {
        let db = TestDb::sqlite();
        refused_write_is_isolated(&db).await;
        db.finish().await;
    }

    #[tokio::test]
    async fn postgres() {
        let Some(db) = TestDb::postgres().await else {
            return;
        };
        refused_write_is_isolated(&db).await;
        db.finish().await;
    }
}

backend_tests!(round_trip_tests, round_trip);
backend_tests!(concurrent_writes_tests, concurrent_writes_are_batched);
backend_tests!(flush_tests, flush_and_shutdown);
backend_tests!(migrate_tests, migrate_twice);
backend_tests!(events_tests, events_round_trip);

#[tokio::test]
async fn sqlite_file_is_created_in_wal_mode() {
    let db = TestDb::sqlite();
    let Cleanup::File(path) = &db.cleanup else {
        unreachable!()
    };
    assert!(!path.exists());
    let store = Store::connect(&db.url).await.expect("connect");
    assert_eq!(store.backend(), Backend::Sqlite);
    assert!(path.exists(), "database file created");
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(
            &sqlx::SqlitePool::connect(&db.url)
                .await
                .expect("raw connect"),
        )
        .await
        .expect("pragma");
    assert_eq!(mode, "wal");
    store.close().await;
}

#[tokio::test]
async fn in_memory_sqlite_keeps_its_data() {
    let store = Store::connect("sqlite::memory:").await.expect("connect");
    store.apply(&[arrived("m1", 1)]).await.expect("arrive");
    assert_eq!(store.count_calls().await.expect("count"), 1);
}

#[tokio::test]
async fn unsupported_url_is_refused() {
    let err = Store::connect("mysql://localhost/hotline")
        .await
        .expect_err("mysql is not supported");
    assert!(matches!(err, StoreError::UnsupportedUrl(_)), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writer_retries_until_the_database_recovers() {
    let db = TestDb::sqlite();
    let store = Store::connect(&db.url).await.expect("connect");
    let raw = sqlx::SqlitePool::connect(&db.url)
        .await
        .expect("raw connect");
    let (writer, task) = Writer::spawn(store.clone());

    // Make every insert fail with an error that is not the data's fault.
    sqlx::query("ALTER TABLE calls RENAME TO calls_away")
        .execute(&raw)
        .await
        .expect("rename");
    let mut done = writer.submit(arrived("r1", 1));
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(writer.stats().retries >= 2, "{:?}", writer.stats());
    assert!(done.try_recv().is_err(), "not committed yet");

    sqlx::query("ALTER TABLE calls_away RENAME TO calls")
        .execute(&raw)
        .await
        .expect("rename back");
    tokio::time::timeout(std::time::Duration::from_secs(5), done)
        .await
        .expect("committed after recovery")
        .expect("not refused");
    assert_eq!(store.count_calls().await.expect("count"), 1);
    assert_eq!(writer.stats().rejected, 0);

    drop(writer);
    task.await.expect("writer task");
    raw.close().await;
    store.close().await;
}

async fn events_round_trip(db: &TestDb) {
    let store = Store::connect(&db.url).await.expect("connect");
    store.apply(&[arrived("e1", 1_000)]).await.expect("arrive");
    let digit = |seq: i64, d: &str| Write::CallEvent {
        id: "e1".into(),
        seq,
        at_ms: 1_000 + seq,
        kind: "dtmf",
        detail: d.into(),
    };
    store
        .apply(&[digit(1, "1"), digit(2, "#")])
        .await
        .expect("events");
    // a retried batch changes nothing
    store
        .apply(&[digit(1, "1"), digit(2, "#")])
        .await
        .expect("events again");
    store
        .apply(&[Write::CallRecording {
            id: "e1".into(),
            path: "/var/lib/hotline/e1.wav".into(),
        }])
        .await
        .expect("recording");
    let events = store.events("e1").await.expect("read");
    assert_eq!(events.len(), 2);
    assert_eq!(
        (events[0].kind.as_str(), events[0].detail.as_str()),
        ("dtmf", "1")
    );
    assert_eq!(events[1].detail, "#");
    let row = store.call("e1").await.expect("query").expect("row");
    assert_eq!(row.recording.as_deref(), Some("/var/lib/hotline/e1.wav"));
    store.close().await;
}
