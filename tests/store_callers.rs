//! The blocklist and caller flags against a temporary SQLite file and, when
//! HOTLINE_TEST_POSTGRES_URL is set, against PostgreSQL (each test in its own schema).

#[macro_use]
mod common;

use common::db::TestDb;
use hotline::store::{normalize_number, CallerFlagKind, Store};

const T0: i64 = 1_796_000_000_000;
const HOUR: i64 = 3_600_000;

async fn block_unblock_and_expiry(db: &TestDb) {
    let store = Store::connect(&db.url).await.expect("connect");
    assert!(store.blocked_callers().await.unwrap().is_empty());

    store
        .block_caller("13800138000", "abuse", None, "alice", T0)
        .await
        .unwrap();
    store
        .block_caller("13900139000", "spam", Some(T0 + HOUR), "bob", T0 + 1)
        .await
        .unwrap();
    assert_eq!(
        store.blocked_numbers(T0 + 10).await.unwrap(),
        ["13800138000", "13900139000"]
    );
    // the end is exclusive: at T0 + HOUR the timed block no longer holds
    assert_eq!(
        store.blocked_numbers(T0 + HOUR - 1).await.unwrap(),
        ["13800138000", "13900139000"]
    );
    assert_eq!(
        store.blocked_numbers(T0 + HOUR).await.unwrap(),
        ["13800138000"]
    );
    // an expired block is still listed (and can be lifted) until someone unblocks it
    let rows = store.blocked_callers().await.unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1].number, "13900139000");
    assert_eq!(rows[1].until_at, Some(T0 + HOUR));
    assert!(rows[1].in_force(T0 + HOUR - 1) && !rows[1].in_force(T0 + HOUR));
    assert!(rows[0].in_force(i64::MAX));

    // blocking again replaces reason and end, and keeps who blocked it first and when
    store
        .block_caller("13900139000", "spam, again", None, "carol", T0 + 2 * HOUR)
        .await
        .unwrap();
    let rows = store.blocked_callers().await.unwrap();
    assert_eq!(rows.len(), 2, "still one row per number");
    let again = &rows[1];
    assert_eq!(again.reason, "spam, again");
    assert_eq!(again.until_at, None);
    assert_eq!(
        (again.created_at, again.created_by.as_str()),
        (T0 + 1, "bob")
    );
    assert_eq!(store.blocked_numbers(T0 + 3 * HOUR).await.unwrap().len(), 2);

    assert!(store.unblock_caller("13800138000").await.unwrap());
    assert!(
        !store.unblock_caller("13800138000").await.unwrap(),
        "a number not blocked is said so"
    );
    assert_eq!(store.blocked_numbers(T0).await.unwrap(), ["13900139000"]);
    store.close().await;
}

async fn numbers_are_normalised_on_write_and_lookup(db: &TestDb) {
    let store = Store::connect(&db.url).await.expect("connect");
    store
        .block_caller("+86 138-0013 8000", "abuse", None, "alice", T0)
        .await
        .unwrap();
    assert_eq!(store.blocked_numbers(T0).await.unwrap(), ["+8613800138000"]);
    // the same number typed another way is the same row
    store
        .block_caller("+8613800138000", "abuse twice", None, "alice", T0)
        .await
        .unwrap();
    assert_eq!(store.blocked_callers().await.unwrap().len(), 1);
    assert!(store.unblock_caller("+86-138-0013-8000").await.unwrap());
    assert!(store.blocked_callers().await.unwrap().is_empty());

    store
        .flag_caller(" 139 0013 9000 ", CallerFlagKind::Malicious, "n", "bob", T0)
        .await
        .unwrap();
    assert_eq!(store.caller_flags().await.unwrap()[0].number, "13900139000");
    assert!(store.unflag_caller("139-0013-9000").await.unwrap());
    store.close().await;
}

async fn flags(db: &TestDb) {
    let store = Store::connect(&db.url).await.expect("connect");
    assert!(store.caller_flags().await.unwrap().is_empty());
    store
        .flag_caller(
            "13800138000",
            CallerFlagKind::Malicious,
            "five complaints about nothing",
            "alice",
            T0,
        )
        .await
        .unwrap();
    store
        .flag_caller(
            "13800138000",
            CallerFlagKind::Malicious,
            "six now",
            "bob",
            T0 + 5,
        )
        .await
        .unwrap();
    let rows = store.caller_flags().await.unwrap();
    assert_eq!(rows.len(), 1);
    let f = &rows[0];
    assert_eq!(f.flag, CallerFlagKind::Malicious);
    assert_eq!(f.note, "six now");
    assert_eq!((f.created_at, f.created_by.as_str()), (T0, "alice"));
    // a flag never blocks
    assert!(store.blocked_numbers(T0 + 10).await.unwrap().is_empty());
    assert!(store.unflag_caller("13800138000").await.unwrap());
    assert!(!store.unflag_caller("13800138000").await.unwrap());
    assert!(store.caller_flags().await.unwrap().is_empty());
    store.close().await;
}

backend_tests!(blocklist_tests, block_unblock_and_expiry);
backend_tests!(normalise_tests, numbers_are_normalised_on_write_and_lookup);
backend_tests!(flag_tests, flags);

#[test]
fn normalising_drops_spaces_and_dashes_and_keeps_the_plus() {
    assert_eq!(normalize_number("+86 138-0013-8000"), "+8613800138000");
    assert_eq!(normalize_number("\t010 1234 5678\n"), "01012345678");
    assert_eq!(normalize_number("13800138000"), "13800138000");
}

#[tokio::test]
async fn debug_output_masks_the_number_and_hides_the_text() {
    let store = Store::connect("sqlite::memory:").await.expect("connect");
    store
        .block_caller("13800138000", "said 6225880012345678", None, "alice", T0)
        .await
        .unwrap();
    store
        .flag_caller(
            "13900139000",
            CallerFlagKind::Malicious,
            "id 12345X",
            "bob",
            T0,
        )
        .await
        .unwrap();
    let text = format!(
        "{:?} {:?}",
        store.blocked_callers().await.unwrap(),
        store.caller_flags().await.unwrap()
    );
    assert!(
        text.contains("138****8000") && text.contains("139****9000"),
        "{text}"
    );
    for secret in ["13800138000", "13900139000", "6225880012345678", "12345X"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
}
