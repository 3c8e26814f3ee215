//! Opening the database, three ways. `serve` and `migrate` create it and bring the schema
//! up to date ([`Store::connect`]); every other command opens only a database that exists
//! at this binary's schema ([`Store::open_existing`]), read-only when it only reads
//! ([`Store::open_read_only`]), so a mistyped path is refused instead of creating an empty
//! database and a report runs on a replica. Every failure names the database without its
//! password and says why once, within [`CONNECT_TIMEOUT`].

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::Connection;

use super::{Db, Store, StoreError};

/// Schema for SQLite; embedded so the binary carries its own migrations.
static SQLITE_MIGRATOR: Migrator = sqlx::migrate!("migrations/sqlite");
/// Schema for PostgreSQL; same tables, PostgreSQL types.
static POSTGRES_MIGRATOR: Migrator = sqlx::migrate!("migrations/postgres");

/// How long a SQLite connection waits for another connection's write lock before failing, so
/// short overlaps (a report query, a second process) are not errors.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// SQLite has one writer at a time; a few connections are enough for concurrent reads (WAL).
const SQLITE_MAX_CONNECTIONS: u32 = 4;
/// PostgreSQL pool size: the writer needs one, the rest serve reads.
const POSTGRES_MAX_CONNECTIONS: u32 = 8;
/// How long reaching the database may take before the command says why it could not
/// (sqlx's own default is 30 s of silence, then "pool timed out").
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// A cluster node's transaction left waiting this long between statements (the node cut
/// off from the database halfway through) is ended by the server, and its row locks with
/// it: else the server keeps them until the dead link's TCP connection times out (hours),
/// and the other nodes' sweep of the node waits on them. Shorter than the 4 s at least
/// between a cut and the node's lease running out.
const NODE_IDLE_IN_TRANSACTION: &str = "3s";

/// How a command uses the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Create it if missing and migrate it: `serve`, `migrate`.
    Create,
    /// It must exist, at this binary's schema.
    Existing,
    /// The same, and nothing may be written: reports and lists.
    ReadOnly,
}

enum Parsed {
    Sqlite(SqliteConnectOptions, bool),
    Postgres(PgConnectOptions),
}

/// A database URL without its password (`postgres://user:***@host/db`, and a `password=`
/// parameter hidden too), for every message that names a database.
pub fn redact_url(url: &str) -> String {
    let mut out = match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => match url[s + 3..at].split_once(':') {
            Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
            None => url.to_string(),
        },
        _ => url.to_string(),
    };
    if let Some(q) = out.find('?') {
        let params: Vec<String> = out[q + 1..]
            .split('&')
            .map(|p| match p.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => p.to_string(),
            })
            .collect();
        out = format!("{}?{}", &out[..q], params.join("&"));
    }
    out
}

/// Picks the backend from the URL scheme and sets the options `mode` relies on.
fn parse_url(url: &str, mode: Mode) -> Result<Parsed, StoreError> {
    let bad = |e: sqlx::Error| StoreError::Open {
        at: redact_url(url),
        reason: reason(&e),
    };
    if url.starts_with("sqlite:") {
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let opts = SqliteConnectOptions::from_str(url)
            .map_err(bad)?
            .busy_timeout(SQLITE_BUSY_TIMEOUT);
        let opts = match mode {
            // Nothing to set: a read-only connection cannot change the journal mode, and
            // the file keeps the WAL mode it was created with.
            Mode::ReadOnly => opts.read_only(true),
            Mode::Create | Mode::Existing => opts
                .create_if_missing(mode == Mode::Create)
                // WAL: readers never block the writer and commits are one sequential append.
                .journal_mode(SqliteJournalMode::Wal)
                // FULL: a committed call record survives power loss, not just a crash.
                .synchronous(SqliteSynchronous::Full),
        };
        Ok(Parsed::Sqlite(opts, in_memory))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let opts = PgConnectOptions::from_str(url).map_err(bad)?;
        Ok(Parsed::Postgres(match mode {
            // The server refuses any write in these sessions, whatever a bug may try.
            Mode::ReadOnly => opts.options([("default_transaction_read_only", "on")]),
            Mode::Create | Mode::Existing => opts,
        }))
    } else {
        Err(StoreError::UnsupportedUrl(redact_url(url)))
    }
}

/// The cause of a failed connection in a few words, once (sqlx's own text wraps it in
/// "error returned from database: (code: 14) ...").
fn reason(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(db) => db.message().to_string(),
        sqlx::Error::Io(io) => io.to_string(),
        sqlx::Error::PoolTimedOut => {
            format!("no connection within {} s", CONNECT_TIMEOUT.as_secs())
        }
        other => other.to_string(),
    }
}

/// Where a PostgreSQL database is, for messages: host, port, user and database, never a
/// password (whether in the URL, a parameter or `PGPASSWORD`).
fn pg_place(opts: &PgConnectOptions) -> String {
    format!(
        "postgres://{}@{}:{}/{}",
        opts.get_username(),
        opts.get_host(),
        opts.get_port(),
        opts.get_database().unwrap_or("")
    )
}

/// One connection first, with a deadline: a server that refuses or does not answer is
/// reported with its reason, where the pool would retry in silence until its timeout.
async fn first_pg_connection(opts: &PgConnectOptions, at: &str) -> Result<(), StoreError> {
    let open = |reason| StoreError::Open {
        at: at.to_string(),
        reason,
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(opts)).await {
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
            Ok(())
        }
        Ok(Err(e)) => Err(open(reason(&e))),
        Err(_) => Err(open(format!(
            "no answer within {} s",
            CONNECT_TIMEOUT.as_secs()
        ))),
    }
}

/// Connects to `url` as `mode` allows; the store and where it is, for messages. A cluster
/// node's PostgreSQL sessions carry its id (`hotline.node_id`), which the call tables take
/// as their `node_id` default, and end a transaction left idle ([`NODE_IDLE_IN_TRANSACTION`]).
async fn connect_pool(
    url: &str,
    mode: Mode,
    node: Option<&str>,
) -> Result<(Store, String), StoreError> {
    match parse_url(url, mode)? {
        Parsed::Sqlite(opts, in_memory) => {
            let file = opts.get_filename().to_path_buf();
            let at = match in_memory {
                true => ":memory:".to_string(),
                false => file.display().to_string(),
            };
            if mode != Mode::Create && !in_memory && !file.exists() {
                return Err(StoreError::Missing(at));
            }
            // An in-memory database lives as long as a connection to it: keep exactly one,
            // forever, so the data does not vanish between queries.
            let pool = match in_memory {
                true => SqlitePoolOptions::new()
                    .max_connections(1)
                    .min_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None),
                false => SqlitePoolOptions::new().max_connections(SQLITE_MAX_CONNECTIONS),
            };
            let pool = pool
                .acquire_timeout(CONNECT_TIMEOUT)
                .connect_with(opts)
                .await
                .map_err(|e| StoreError::Open {
                    at: at.clone(),
                    reason: reason(&e),
                })?;
            Ok((
                Store {
                    db: Db::Sqlite(pool),
                },
                at,
            ))
        }
        Parsed::Postgres(opts) => {
            let opts = match node {
                Some(id) => opts.options([
                    ("hotline.node_id", id),
                    (
                        "idle_in_transaction_session_timeout",
                        NODE_IDLE_IN_TRANSACTION,
                    ),
                ]),
                None => opts,
            };
            let at = pg_place(&opts);
            first_pg_connection(&opts, &at).await?;
            let pool = PgPoolOptions::new()
                .max_connections(POSTGRES_MAX_CONNECTIONS)
                .acquire_timeout(CONNECT_TIMEOUT)
                .connect_with(opts)
                .await
                .map_err(|e| StoreError::Open {
                    at: at.clone(),
                    reason: reason(&e),
                })?;
            Ok((
                Store {
                    db: Db::Postgres(pool),
                },
                at,
            ))
        }
    }
}

impl Store {
    /// Opens the database named by `url` (`sqlite://hotline.db`, `sqlite::memory:`,
    /// `postgres://user:pass@host/db`), creating a SQLite file if missing, and brings the schema
    /// up to date. For `serve` and `migrate`; other commands use [`Store::open_existing`].
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        Store::connect_node(url, None).await
    }

    /// As [`Store::connect`], for cluster node `node` (PostgreSQL): the calls it stores
    /// are its own, so a restart or a sweep closes only those.
    pub async fn connect_node(url: &str, node: Option<&str>) -> Result<Store, StoreError> {
        let (store, _) = connect_pool(url, Mode::Create, node).await?;
        if let Err(e) = store.run_migrations().await {
            store.close().await;
            return Err(e);
        }
        Ok(store)
    }

    /// Brings the schema at `url` up to date and disconnects; for `hotline migrate` style
    /// commands and deploy scripts. Safe to run any number of times.
    pub async fn migrate(url: &str) -> Result<(), StoreError> {
        let store = Store::connect(url).await?;
        store.close().await;
        Ok(())
    }

    /// Opens the hotline database at `url` without creating or migrating anything:
    /// [`StoreError::Missing`] when there is none, [`StoreError::Outdated`] when its schema
    /// is older than this binary's.
    pub async fn open_existing(url: &str) -> Result<Store, StoreError> {
        Store::open_checked(url, Mode::Existing).await
    }

    /// The same, read-only: SQLite opens the file read-only, PostgreSQL sessions refuse
    /// writes. For reports and lists, which may run on a replica.
    pub async fn open_read_only(url: &str) -> Result<Store, StoreError> {
        Store::open_checked(url, Mode::ReadOnly).await
    }

    /// Whether `serve` could open the database at `url`, changing nothing: an existing
    /// SQLite file is opened read-only and read, a missing one needs its folder, a
    /// PostgreSQL server must let us in. For `hotline check`.
    pub async fn probe(url: &str) -> Result<(), StoreError> {
        if let Parsed::Sqlite(opts, false) = parse_url(url, Mode::ReadOnly)? {
            let file = opts.get_filename();
            if !file.exists() {
                let folder = file.parent().filter(|p| !p.as_os_str().is_empty());
                return match folder.is_none_or(Path::is_dir) {
                    true => Ok(()),
                    false => Err(StoreError::Open {
                        at: file.display().to_string(),
                        reason: "its folder does not exist".to_string(),
                    }),
                };
            }
        }
        let (store, at) = connect_pool(url, Mode::ReadOnly, None).await?;
        let read = store.has_migrations_table(&at).await.map(|_| ());
        store.close().await;
        read
    }

    async fn open_checked(url: &str, mode: Mode) -> Result<Store, StoreError> {
        let (store, at) = connect_pool(url, mode, None).await?;
        match store.check_schema(&at).await {
            Ok(()) => Ok(store),
            Err(e) => {
                store.close().await;
                Err(e)
            }
        }
    }

    pub(super) async fn run_migrations(&self) -> Result<(), StoreError> {
        match &self.db {
            Db::Sqlite(pool) => SQLITE_MIGRATOR.run(pool).await?,
            Db::Postgres(pool) => POSTGRES_MIGRATOR.run(pool).await?,
        }
        Ok(())
    }

    /// Whether sqlx's migrations table exists; a failure to read names `at`.
    async fn has_migrations_table(&self, at: &str) -> Result<bool, StoreError> {
        let query = match self.db {
            Db::Sqlite(_) => {
                "SELECT COUNT(*) FROM sqlite_master \
                 WHERE type = 'table' AND name = '_sqlx_migrations'"
            }
            Db::Postgres(_) => {
                "SELECT COUNT(*) FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_name = '_sqlx_migrations'"
            }
        };
        let n: Result<i64, sqlx::Error> = on_db!(&self.db, pool => {
            sqlx::query_scalar(query).fetch_one(pool).await
        });
        n.map(|n| n > 0).map_err(|e| StoreError::Open {
            at: at.to_string(),
            reason: reason(&e),
        })
    }

    /// The schema is this binary's: every migration it has is applied, and no other.
    async fn check_schema(&self, at: &str) -> Result<(), StoreError> {
        if !self.has_migrations_table(at).await? {
            return Err(StoreError::Missing(at.to_string()));
        }
        let migrator = match self.db {
            Db::Sqlite(_) => &SQLITE_MIGRATOR,
            Db::Postgres(_) => &POSTGRES_MIGRATOR,
        };
        let query = "SELECT version FROM _sqlx_migrations WHERE success";
        let applied: Vec<i64> = on_db!(&self.db, pool => {
            sqlx::query_scalar(query).fetch_all(pool).await?
        });
        let known: Vec<i64> = migrator
            .iter()
            .filter(|m| !m.migration_type.is_down_migration())
            .map(|m| m.version)
            .collect();
        if applied.iter().any(|v| !known.contains(v)) {
            return Err(StoreError::Newer(at.to_string()));
        }
        if known.iter().any(|v| !applied.contains(v)) {
            return Err(StoreError::Outdated(at.to_string()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_leave_a_url() {
        assert_eq!(
            redact_url("postgres://hotline:s3cret@db:5432/hotline"),
            "postgres://hotline:***@db:5432/hotline"
        );
        assert_eq!(
            redact_url("postgres://db/hotline?user=h&password=s3cret&sslmode=require"),
            "postgres://db/hotline?user=h&password=***&sslmode=require"
        );
        assert_eq!(redact_url("sqlite://hotline.db"), "sqlite://hotline.db");
    }

    #[test]
    fn a_postgres_place_names_host_and_port_but_not_the_password() {
        let opts = PgConnectOptions::from_str("postgres://h:s3cret@db.example/calls").unwrap();
        assert_eq!(pg_place(&opts), "postgres://h@db.example:5432/calls");
    }
}
