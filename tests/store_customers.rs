//! Customers, identity verification with lockout across calls, follow-ups, surveys and the IVR
//! columns of a call, against a temporary SQLite file and, when HOTLINE_TEST_POSTGRES_URL is
//! set, against PostgreSQL (each test in its own schema).

#[macro_use]
mod common;

use common::db::{Cleanup, TestDb};
use std::path::PathBuf;
use std::time::Duration;

use hotline::store::{
    import_customers_csv, CallIvr, CustomerError, FollowUpKind, FollowUpStatus, LockPolicy,
    NewCustomer, NewFollowUp, Secret, Store, SurveyRow, Verification, Write,
};

impl TestDb {
    /// Every value of every column of `table`, as text, read around the store's API.
    async fn all_values(&self, table: &str) -> Vec<String> {
        match &self.cleanup {
            Cleanup::File(_) => {
                let pool = sqlx::SqlitePool::connect(&self.url)
                    .await
                    .expect("raw connect");
                let columns: Vec<String> =
                    sqlx::query_scalar("SELECT name FROM pragma_table_info($1)")
                        .bind(table)
                        .fetch_all(&pool)
                        .await
                        .expect("columns");
                let mut values = Vec::new();
                for c in &columns {
                    let q = format!("SELECT CAST({c} AS TEXT) FROM {table}");
                    let col: Vec<Option<String>> = sqlx::query_scalar(&q)
                        .fetch_all(&pool)
                        .await
                        .expect("values");
                    values.extend(col.into_iter().flatten());
                }
                pool.close().await;
                assert!(columns.len() >= 4, "{table}: {columns:?}");
                values
            }
            Cleanup::PgSchema { .. } => {
                let pool = sqlx::PgPool::connect(&self.url).await.expect("raw connect");
                let columns: Vec<String> = sqlx::query_scalar(
                    "SELECT column_name::TEXT FROM information_schema.columns \
                     WHERE table_schema = current_schema() AND table_name = $1",
                )
                .bind(table)
                .fetch_all(&pool)
                .await
                .expect("columns");
                let mut values = Vec::new();
                for c in &columns {
                    let q = format!("SELECT CAST({c} AS TEXT) FROM {table}");
                    let col: Vec<Option<String>> = sqlx::query_scalar(&q)
                        .fetch_all(&pool)
                        .await
                        .expect("values");
                    values.extend(col.into_iter().flatten());
                }
                pool.close().await;
                assert!(columns.len() >= 4, "{table}: {columns:?}");
                values
            }
        }
    }
}

/// A CSV file that is deleted on drop.
struct TempCsv(PathBuf);

impl TempCsv {
    fn new(content: &str) -> TempCsv {
        let path = std::env::temp_dir().join(format!(
            "hotline-customers-{:016x}.csv",
            rand::random::<u64>()
        ));
        std::fs::write(&path, content).expect("write csv");
        TempCsv(path)
    }
}

impl Drop for TempCsv {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Some time in November 2026, ms since the epoch.
const T0: i64 = 1_795_000_000_000;
const MIN: i64 = 60_000;

// Secrets that appear nowhere else in the file's data (accounts, phones), so finding one in the
// database can only mean it was stored in clear.
const PIN_A: &str = "975310";
const ID_A: &str = "4821";
const PIN_B: &str = "864209";
const ID_B: &str = "903X";

const CUSTOMERS_CSV: &str = "\u{feff}account,name,pin,id_last_digits,phones,vip\r\n\
    6225880012345678,Li Lei,975310,4821,13800138000;+86 10 5555 0101,1\r\n\
    6225880087654321,\"Han, Meimei\",864209,903x,13900139000,no\r\n\
    \r\n\
    6225880011112222,No Secrets,,,,\r\n";

const ACCOUNT_A: &str = "6225880012345678";
const ACCOUNT_B: &str = "6225880087654321";

async fn import_customers(store: &Store) {
    let csv = TempCsv::new(CUSTOMERS_CSV);
    let n = import_customers_csv(store, &csv.0).await.expect("import");
    assert_eq!(n, 3);
}

fn arrived(id: &str, at_ms: i64) -> Write {
    Write::CallArrived {
        id: id.to_owned(),
        sip_call_id: format!("{id}@192.0.2.10"),
        caller: "+8613800138000".to_owned(),
        called: "95555".to_owned(),
        source: "192.0.2.10:5060".to_owned(),
        transport: "udp",
        at_ms,
    }
}

fn pin(s: &str) -> Secret {
    Secret::Pin(s.to_owned())
}

fn id_digits(s: &str) -> Secret {
    Secret::IdDigits(s.to_owned())
}

async fn import_and_verify(db: &TestDb) {
    let store = Store::connect(&db.url).await.expect("connect");
    import_customers(&store).await;
    let policy = LockPolicy::default();
    assert_eq!(policy.max_failures, 5);
    assert_eq!(policy.lock_for, Duration::from_secs(30 * 60));

    let a = store.customer(ACCOUNT_A).await.expect("read").expect("A");
    assert_eq!(a.name, "Li Lei");
    assert_eq!(a.phones, ["13800138000", "+86 10 5555 0101"]);
    assert!(a.vip && a.has_pin && a.has_id_digits);
    let b = store.customer(ACCOUNT_B).await.expect("read").expect("B");
    assert_eq!(b.name, "Han, Meimei");
    assert_eq!(b.phones, ["13900139000"]);
    assert!(!b.vip);
    let c = store
        .customer("6225880011112222")
        .await
        .expect("read")
        .expect("C");
    assert!(!c.has_pin && !c.has_id_digits && c.phones.is_empty());
    assert_eq!(store.customer("nobody").await.expect("read"), None);

    let ok_a = Verification::Ok {
        customer: ACCOUNT_A.into(),
        vip: true,
    };
    assert_eq!(
        store
            .verify(ACCOUNT_A, pin(PIN_A), T0, &policy)
            .await
            .expect("verify"),
        ok_a
    );
    assert_eq!(
        store
            .verify(ACCOUNT_A, id_digits(ID_A), T0, &policy)
            .await
            .expect("verify"),
        ok_a
    );
    // ID digits ending in X match whichever case the file and the caller used.
    assert_eq!(
        store
            .verify(ACCOUNT_B, id_digits(ID_B), T0, &policy)
            .await
            .expect("verify"),
        Verification::Ok {
            customer: ACCOUNT_B.into(),
            vip: false
        }
    );
    // The PIN is not the ID digits and vice versa.
    assert_eq!(
        store
            .verify(ACCOUNT_B, pin(ID_B), T0, &policy)
            .await
            .expect("verify"),
        Verification::Failed { remaining: 4 }
    );

    // A wrong PIN and an unknown account look the same.
    let wrong = store
        .verify(ACCOUNT_A, pin("000000"), T0, &policy)
        .await
        .expect("verify");
    let unknown = store
        .verify("6225889999999999", pin(PIN_A), T0, &policy)
        .await
        .expect("verify");
    assert_eq!(wrong, Verification::Failed { remaining: 4 });
    assert_eq!(unknown, wrong);
    // A customer without secrets cannot be verified.
    assert_eq!(
        store
            .verify("6225880011112222", pin(""), T0, &policy)
            .await
            .expect("verify"),
        Verification::Failed { remaining: 4 }
    );
    // Failures count on, across calls, on known and unknown accounts alike.
    assert_eq!(
        store
            .verify(ACCOUNT_A, pin("111111"), T0 + MIN, &policy)
            .await
            .expect("verify"),
        Verification::Failed { remaining: 3 }
    );
    assert_eq!(
        store
            .verify("6225889999999999", id_digits("1234"), T0 + MIN, &policy)
            .await
            .expect("verify"),
        Verification::Failed { remaining: 3 }
    );
    // A success clears the count.
    assert_eq!(
        store
            .verify(ACCOUNT_A, pin(PIN_A), T0 + 2 * MIN, &policy)
            .await
            .expect("verify"),
        ok_a
    );
    assert_eq!(
        store
            .verify(ACCOUNT_A, pin("222222"), T0 + 3 * MIN, &policy)
            .await
            .expect("verify"),
        Verification::Failed { remaining: 4 }
    );

    // Re-importing replaces: a new PIN for A, the old one fails.
    let created = a.created_at;
    store
        .add_customer(&NewCustomer {
            account: ACCOUNT_A.into(),
            name: "Li Lei".into(),
            pin: "246813".into(),
            id_digits: ID_A.into(),
            phones: vec!["13800138000".into()],
            vip: false,
        })
        .await
        .expect("replace");
    let a = store.customer(ACCOUNT_A).await.expect("read").expect("A");
    assert_eq!(a.created_at, created);
    assert!(!a.vip);
    assert_eq!(a.phones, ["13800138000"]);
    assert_eq!(
        store
            .verify(ACCOUNT_A, pin(PIN_A), T0 + 4 * MIN, &policy)
            .await
            .expect("verify"),
        Verification::Failed { remaining: 3 }
    );
    assert_eq!(
        store
            .verify(ACCOUNT_A, pin("246813"), T0 + 5 * MIN, &policy)
            .await
            .expect("verify"),
        Verification::Ok {
            customer: ACCOUNT_A.into(),
            vip: false
        }
    );
    store.close().await;
}

async fn lockout_across_calls(db: &TestDb) {
    let store = Store::connect(&db.url).await.expect("connect");
    import_customers(&store).await;
    let policy = LockPolicy {
        max_failures: 3,
        lock_for: Duration::from_secs(10 * 60),
        window: Duration::from_secs(60 * 60),
    };

    // Three calls, one wrong PIN each: the third locks the account.
    for (i, expected) in [(0, 2), (1, 1)] {
        assert_eq!(
            store
                .verify(ACCOUNT_A, pin("000000"), T0 + i * MIN, &policy)
                .await
                .expect("verify"),
            Verification::Failed {
                remaining: expected
            }
        );
    }
    let until_ms = T0 + 2 * MIN + 10 * MIN;
    let locked = Verification::Locked { until_ms };
    assert_eq!(
        store
            .verify(ACCOUNT_A, id_digits("0000"), T0 + 2 * MIN, &policy)
            .await
            .expect("verify"),
        locked
    );
    // While locked even the right secret is refused, and nothing moves the lock.
    for at in [T0 + 3 * MIN, until_ms - 1] {
        assert_eq!(
            store
                .verify(ACCOUNT_A, pin(PIN_A), at, &policy)
                .await
                .expect("verify"),
            locked
        );
    }
    assert_eq!(
        store
            .verify(ACCOUNT_A, pin("000000"), T0 + 4 * MIN, &policy)
            .await
            .expect("verify"),
        locked
    );
    // Another account is not affected.
    assert!(matches!(
        store
            .verify(ACCOUNT_B, pin(PIN_B), T0 + 4 * MIN, &policy)
            .await
            .expect("verify"),
        Verification::Ok { .. }
    ));
    // Once the time has passed, the right PIN works again.
    assert_eq!(
        store
            .verify(ACCOUNT_A, pin(PIN_A), until_ms, &policy)
            .await
            .expect("verify"),
        Verification::Ok {
            customer: ACCOUNT_A.into(),
            vip: true
        }
    );

    // After a lock expires without a success, the count starts again.
    for (i, expected) in [(0, 2), (1, 1)] {
        assert_eq!(
            store
                .verify(ACCOUNT_B, pin("0"), T0 + i * MIN, &policy)
                .await
                .expect("verify"),
            Verification::Failed {
                remaining: expected
            }
        );
    }
    let b_until = T0 + 2 * MIN + 10 * MIN;
    assert_eq!(
        store
            .verify(ACCOUNT_B, pin("0"), T0 + 2 * MIN, &policy)
            .await
            .expect("verify"),
        Verification::Locked { until_ms: b_until }
    );
    assert_eq!(
        store
            .verify(ACCOUNT_B, pin("0"), b_until + 1, &policy)
            .await
            .expect("verify"),
        Verification::Failed { remaining: 2 }
    );

    // Unknown accounts lock the same way.
    let ghost = "6225880000000000";
    for (i, expected) in [(0, 2), (1, 1)] {
        assert_eq!(
            store
                .verify(ghost, pin("1"), T0 + i * MIN, &policy)
                .await
                .expect("verify"),
            Verification::Failed {
                remaining: expected
            }
        );
    }
    assert_eq!(
        store
            .verify(ghost, pin("1"), T0 + 2 * MIN, &policy)
            .await
            .expect("verify"),
        Verification::Locked {
            until_ms: T0 + 12 * MIN
        }
    );

    // Failures further apart than the window never add up to a lock.
    let c = "6225880011112222";
    for i in 0..4 {
        assert_eq!(
            store
                .verify(c, pin("1"), T0 + i * 61 * MIN, &policy)
                .await
                .expect("verify"),
            Verification::Failed { remaining: 2 }
        );
    }

    // Concurrent calls on one account: every failure counts.
    let policy = LockPolicy {
        max_failures: 10,
        ..policy
    };
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .verify(ACCOUNT_B, pin("0"), T0 + 100 * MIN, &policy)
                .await
                .expect("verify")
        }));
    }
    for t in tasks {
        assert!(matches!(
            t.await.expect("task"),
            Verification::Failed { .. }
        ));
    }
    assert_eq!(
        store
            .verify(ACCOUNT_B, pin("0"), T0 + 101 * MIN, &policy)
            .await
            .expect("verify"),
        Verification::Failed { remaining: 5 }
    );
    store.close().await;
}

async fn secrets_never_in_clear(db: &TestDb) {
    let store = Store::connect(&db.url).await.expect("connect");
    import_customers(&store).await;
    store
        .verify(ACCOUNT_A, pin("123123"), T0, &LockPolicy::default())
        .await
        .expect("verify");

    let values = db.all_values("customers").await;
    let hashes: Vec<&String> = values
        .iter()
        .filter(|v| v.starts_with("$argon2id$"))
        .collect();
    assert_eq!(hashes.len(), 4, "two secrets each for A and B");
    for h in &hashes {
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
    }
    let distinct: std::collections::HashSet<&&String> = hashes.iter().collect();
    assert_eq!(distinct.len(), 4, "every hash has its own salt");
    let mut all = values;
    all.extend(db.all_values("verify_failures").await);
    for secret in [PIN_A, ID_A, PIN_B, ID_B, "903x", "123123"] {
        for v in &all {
            assert!(!v.contains(secret), "a secret is stored in clear");
        }
    }
    assert!(all.iter().any(|v| v == ACCOUNT_A), "accounts are in clear");
    store.close().await;
}

async fn bad_csv_names_the_line(db: &TestDb) {
    let store = Store::connect(&db.url).await.expect("connect");
    let cases = [
        (
            "account,name,pin,id_last_digits,phones,vip\n\
             1001,Good,111111,1234,13800138000,0\n\
             1002,Also good,222222,5678,,1\n\
             1003,Bad VIP,333333,9012,,maybe\n",
            4,
            "vip",
        ),
        (
            "account,name,pin,id_last_digits,phones,vip\n\
             1001,Good,111111,1234,13800138000,0\n\
             \n\
             1002,Too few,222222\n",
            4,
            "fields",
        ),
        (
            "account,name,pin,id_last_digits,phones,vip\n\
             1001,Good,111111,1234,13800138000,0\n\
             1002,Letters in the PIN,12ab56,,,0\n",
            3,
            "pin",
        ),
        (
            "account,name,pin,id_last_digits,phones,vip\n\
             1001,Good,111111,1234,13800138000,0\n\
             1001,Twice,444444,,,0\n",
            3,
            "already on line 2",
        ),
        (
            "account,name,pin,id_last_digits,phones\n1001,Good,111111,1234,138\n",
            1,
            "header",
        ),
        (
            "account,name,pin,id_last_digits,phones,vip\n\
             ,No account,555555,,,0\n",
            2,
            "account",
        ),
    ];
    for (content, want_line, want_text) in cases {
        let csv = TempCsv::new(content);
        let err = import_customers_csv(&store, &csv.0)
            .await
            .expect_err("bad file refused");
        let text = err.to_string();
        match err {
            CustomerError::Csv { line, message, .. } => {
                assert_eq!(line, want_line, "{text}");
                assert!(message.contains(want_text), "{text}");
            }
            other => panic!("expected a CSV error, got {other}"),
        }
        assert!(
            text.contains(&format!(":{want_line}: ")),
            "the message names the line: {text}"
        );
        for secret in ["333333", "222222", "12ab56", "444444", "555555"] {
            assert!(!text.contains(secret), "error quotes a secret: {text}");
        }
    }
    // Nothing from a refused file was stored, not even its good lines.
    assert_eq!(store.customer("1001").await.expect("read"), None);

    let missing = import_customers_csv(&store, std::path::Path::new("/nonexistent/c.csv"))
        .await
        .expect_err("missing file");
    assert!(matches!(missing, CustomerError::Io { .. }), "{missing}");
    store.close().await;
}

async fn followups_round_trip(db: &TestDb) {
    let store = Store::connect(&db.url).await.expect("connect");
    assert!(store.followups().await.expect("read").is_empty());
    store.apply(&[arrived("c1", T0)]).await.expect("arrive");

    let mut complaint = NewFollowUp::new(FollowUpKind::Complaint, "13800138000", T0 + 1_000);
    complaint.category = "billing".into();
    complaint.urgency = 2;
    complaint.call_id = Some("c1".into());
    complaint.customer = Some(ACCOUNT_A.into());
    complaint.due_forward = Some(T0 + 12 * 60 * MIN);
    complaint.due_answer = Some(T0 + 24 * 60 * MIN);
    complaint.due_resolve = Some(T0 + 7 * 24 * 60 * MIN);
    let id = store.create_followup(&complaint).await.expect("create");
    assert_eq!(id, complaint.id);
    assert!(id.starts_with("fu-"), "{id}");
    // Retrying the same follow-up creates nothing new.
    assert_eq!(store.create_followup(&complaint).await.expect("retry"), id);

    let mut callback = NewFollowUp::new(FollowUpKind::Callback, "13900139000", T0 + 2_000);
    callback.promised_from = Some(T0 + 60 * MIN);
    callback.promised_to = Some(T0 + 120 * MIN);
    callback.owner = Some("dept-billing".into());
    assert_ne!(callback.id, complaint.id);
    let id2 = store.create_followup(&callback).await.expect("create");

    let rows = store.followups().await.expect("read");
    assert_eq!(rows.len(), 2);
    let first = &rows[0];
    assert_eq!(first.id, id);
    assert_eq!(first.kind, FollowUpKind::Complaint);
    assert_eq!(first.status, FollowUpStatus::Open);
    assert_eq!(first.category, "billing");
    assert_eq!(first.urgency, 2);
    assert_eq!(first.call_id.as_deref(), Some("c1"));
    assert_eq!(first.customer.as_deref(), Some(ACCOUNT_A));
    assert_eq!(first.number, "13800138000");
    assert_eq!(first.created_at, T0 + 1_000);
    assert_eq!(first.due_forward, Some(T0 + 12 * 60 * MIN));
    assert_eq!(first.due_answer, Some(T0 + 24 * 60 * MIN));
    assert_eq!(first.due_resolve, Some(T0 + 7 * 24 * 60 * MIN));
    assert_eq!((first.promised_from, first.promised_to), (None, None));
    assert_eq!(first.owner, None);
    let second = store.followup(&id2).await.expect("read").expect("row");
    assert_eq!(second, rows[1]);
    assert_eq!(second.kind, FollowUpKind::Callback);
    assert_eq!(second.call_id, None);
    assert_eq!(
        (second.promised_from, second.promised_to),
        (Some(T0 + 60 * MIN), Some(T0 + 120 * MIN))
    );
    assert_eq!(second.owner.as_deref(), Some("dept-billing"));
    assert_eq!(store.followup("fu-none").await.expect("read"), None);
    // Personal data stays out of Debug output.
    let debug = format!("{second:?}");
    assert!(!debug.contains("13900139000"), "{debug}");

    // A follow-up of a call that does not exist is refused for good.
    let mut orphan = NewFollowUp::new(FollowUpKind::Revisit, "1", T0);
    orphan.call_id = Some("no-such-call".into());
    let err = store.create_followup(&orphan).await.expect_err("refused");
    assert!(err.is_permanent(), "{err}");
    store.close().await;
}

async fn surveys_are_idempotent(db: &TestDb) {
    let store = Store::connect(&db.url).await.expect("connect");
    store
        .apply(&[arrived("s1", T0), arrived("s2", T0)])
        .await
        .expect("arrive");
    assert!(store.surveys("s1").await.expect("read").is_empty());

    store
        .record_survey("s1", 2, 3, Some("A1001"), T0 + 20)
        .await
        .expect("q2");
    for _ in 0..2 {
        store
            .record_survey("s1", 1, 5, Some("A1001"), T0 + 10)
            .await
            .expect("q1");
    }
    let want = vec![
        SurveyRow {
            question: 1,
            score: 5,
            agent: Some("A1001".into()),
            at: T0 + 10,
        },
        SurveyRow {
            question: 2,
            score: 3,
            agent: Some("A1001".into()),
            at: T0 + 20,
        },
    ];
    assert_eq!(store.surveys("s1").await.expect("read"), want);

    // Answering again replaces the answer.
    store
        .record_survey("s1", 2, 4, Some("A1001"), T0 + 30)
        .await
        .expect("q2 again");
    let rows = store.surveys("s1").await.expect("read");
    assert_eq!(rows.len(), 2);
    assert_eq!((rows[1].score, rows[1].at), (4, T0 + 30));

    store
        .record_survey("s2", 1, 1, None, T0)
        .await
        .expect("no agent");
    assert_eq!(store.surveys("s2").await.expect("read")[0].agent, None);

    for (call, question, score) in [("s1", 3, 6), ("s1", 3, 0), ("s1", 0, 3), ("nope", 1, 3)] {
        let err = store
            .record_survey(call, question, score, None, T0)
            .await
            .expect_err("refused");
        assert!(err.is_permanent(), "{err}");
    }
    assert_eq!(store.surveys("s1").await.expect("read").len(), 2);
    store.close().await;
}

async fn set_call_ivr_partial_updates(db: &TestDb) {
    let store = Store::connect(&db.url).await.expect("connect");
    store.apply(&[arrived("v1", T0)]).await.expect("arrive");
    assert_eq!(
        store.call_ivr("v1").await.expect("read"),
        Some(CallIvr::default())
    );
    assert_eq!(store.call_ivr("nope").await.expect("read"), None);

    assert!(store
        .set_call_ivr("v1", Some("zh-CN"), None, None, None, None, None)
        .await
        .expect("language"));
    assert!(store
        .set_call_ivr("v1", None, Some(ACCOUNT_A), Some(true), None, None, None)
        .await
        .expect("verified"));
    assert!(store
        .set_call_ivr(
            "v1",
            None,
            None,
            None,
            Some("billing"),
            Some("vip"),
            Some(7)
        )
        .await
        .expect("queue"));
    let want = CallIvr {
        language: Some("zh-CN".into()),
        customer: Some(ACCOUNT_A.into()),
        verified: Some(true),
        outcome: Some("billing".into()),
        queue: Some("vip".into()),
        priority: Some(7),
    };
    assert_eq!(
        store.call_ivr("v1").await.expect("read"),
        Some(want.clone())
    );

    // Repeating is harmless; a later value replaces an earlier one; None keeps it.
    assert!(store
        .set_call_ivr("v1", None, None, None, Some("billing"), None, None)
        .await
        .expect("again"));
    assert!(store
        .set_call_ivr("v1", Some("en"), None, Some(false), None, None, Some(0))
        .await
        .expect("change"));
    assert_eq!(
        store.call_ivr("v1").await.expect("read"),
        Some(CallIvr {
            language: Some("en".into()),
            verified: Some(false),
            priority: Some(0),
            ..want
        })
    );
    // The call's own columns are untouched.
    let row = store.call("v1").await.expect("read").expect("row");
    assert_eq!((row.arrived_at, row.ended_at), (T0, None));

    assert!(!store
        .set_call_ivr("nope", Some("en"), None, None, None, None, None)
        .await
        .expect("unknown call"));
    store.close().await;
}

backend_tests!(import_and_verify_tests, import_and_verify);
backend_tests!(lockout_tests, lockout_across_calls);
backend_tests!(secrets_tests, secrets_never_in_clear);
backend_tests!(bad_csv_tests, bad_csv_names_the_line);
backend_tests!(followups_tests, followups_round_trip);
backend_tests!(surveys_tests, surveys_are_idempotent);
backend_tests!(call_ivr_tests, set_call_ivr_partial_updates);

#[test]
fn secret_debug_is_redacted() {
    assert_eq!(format!("{:?}", pin(PIN_A)), "Pin(<redacted>)");
    assert_eq!(format!("{:?}", id_digits(ID_A)), "IdDigits(<redacted>)");
}
