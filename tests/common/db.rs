//! A database for one store test: a temporary SQLite file, or a fresh schema in the
//! PostgreSQL database named by HOTLINE_TEST_POSTGRES_URL.

use std::path::PathBuf;

/// A database for one test; cleaned up by `finish` (or, for SQLite, on drop as well).
pub struct TestDb {
    pub url: String,
    pub cleanup: Cleanup,
}

pub enum Cleanup {
    File(PathBuf),
    PgSchema { admin_url: String, schema: String },
}

impl TestDb {
    pub fn sqlite() -> TestDb {
        let path = std::env::temp_dir().join(format!(
            "hotline-store-test-{:016x}.db",
            rand::random::<u64>()
        ));
        TestDb {
            url: format!("sqlite://{}", path.display()),
            cleanup: Cleanup::File(path),
        }
    }

    /// A fresh schema in the PostgreSQL database, so tests running in parallel each see an
    /// empty `calls` table; `None` (after saying so) when no server is configured.
    pub async fn postgres() -> Option<TestDb> {
        let admin_url = match std::env::var("HOTLINE_TEST_POSTGRES_URL") {
            Ok(url) if !url.is_empty() => url,
            _ if std::env::var("CI").as_deref() == Ok("true") => {
                panic!("HOTLINE_TEST_POSTGRES_URL must be set when CI=true")
            }
            _ => {
                println!("skipping the postgres half: HOTLINE_TEST_POSTGRES_URL not set");
                return None;
            }
        };
        let schema = format!("hotline_test_{:016x}", rand::random::<u64>());
        let admin = sqlx::PgPool::connect(&admin_url)
            .await
            .expect("connect to HOTLINE_TEST_POSTGRES_URL");
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&admin)
            .await
            .expect("create test schema");
        admin.close().await;
        let sep = if admin_url.contains('?') { '&' } else { '?' };
        Some(TestDb {
            url: format!("{admin_url}{sep}options=-c%20search_path%3D{schema}"),
            cleanup: Cleanup::PgSchema { admin_url, schema },
        })
    }

    pub async fn finish(self) {
        if let Cleanup::PgSchema { admin_url, schema } = &self.cleanup {
            let admin = sqlx::PgPool::connect(admin_url)
                .await
                .expect("connect to drop test schema");
            sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
                .execute(&admin)
                .await
                .expect("drop test schema");
            admin.close().await;
        }
        // Files go in Drop.
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Cleanup::File(path) = &self.cleanup {
            for suffix in ["", "-wal", "-shm", "-journal"] {
                let mut p = path.clone().into_os_string();
                p.push(suffix);
                let _ = std::fs::remove_file(p);
            }
        }
    }
}

/// `backend_tests!(module, body)`: `body(&TestDb)` as two tests, on SQLite and on
/// PostgreSQL (skipped without `HOTLINE_TEST_POSTGRES_URL`, failed under CI).
#[allow(unused_macros)]
macro_rules! backend_tests {
    ($name:ident, $body:ident) => {
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let db = TestDb::sqlite();
                $body(&db).await;
                db.finish().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(db) = TestDb::postgres().await else {
                    return;
                };
                $body(&db).await;
                db.finish().await;
            }
        }
    };
}

/// The record of one outbound call as the switchboard starts it: no trunk yet (a
/// `CallRouted` names it once the call goes out); `followup` is `None` for an agent
/// dialling out or a transfer.
pub fn outbound_call(
    id: &str,
    followup: Option<&str>,
    agent: Option<&str>,
    at_ms: i64,
) -> hotline::store::Write {
    hotline::store::Write::OutboundCall {
        id: id.into(),
        sip_call_id: format!("sip-{id}"),
        caller: "95555".into(),
        called: "13800138000".into(),
        source: "198.51.100.7:5060".into(),
        transport: "udp",
        followup: followup.map(Into::into),
        agent: agent.map(Into::into),
        trunk: None,
        at_ms,
    }
}
