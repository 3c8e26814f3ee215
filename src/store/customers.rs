//! Customers and identity verification: who may hear account details.
//!
//! Secrets (service PIN, last digits of the ID number) are never stored: on the way in each is
//! hashed with argon2id and a fresh random salt, and only the PHC string
//! (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`) reaches the database. Account and phone
//! numbers are stored in clear, since callbacks need them, but never logged: the `Debug` output
//! of every type here that holds one redacts it.
//!
//! # Argon2 parameters
//! argon2id, version 0x13, **m = 19 MiB (19456 KiB), t = 2 passes, p = 1 lane**, 32-byte output,
//! 16-byte salt: the OWASP recommendation for password storage. One verification takes about
//! 45 ms of one core in a release build (measured on the 2-core development machine), so a
//! hotline that verifies a few callers per second spends a few percent of a core on it, while an
//! offline guess at a stolen 6-digit PIN costs a million such computations per account. At most
//! [`MAX_CONCURRENT_HASHES`] computations run at once (each on the blocking pool, never on a
//! runtime thread), which bounds the memory (19 MiB each) and CPU a burst of calls can take.
//! Hashes keep their parameters, so raising them later only affects newly stored secrets.
//!
//! # Lockout across calls
//! `verify_failures` keeps one counter per account keyed as the caller typed it (also for
//! accounts that do not exist). A failure within [`LockPolicy::window`] of the first counted one
//! adds one; the `max_failures`-th locks the account for [`LockPolicy::lock_for`]. A success
//! deletes the counter; a failure after the window or after an expired lock starts a new count.
//! Unknown accounts and wrong secrets look the same to the caller: both are `Failed` with the
//! same count, both cost one argon2 verification (unknown accounts are checked against a dummy
//! hash with the same parameters), and both lock.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::RngCore;
use tokio::sync::Semaphore;

use super::{now_ms, Db, Store, StoreError};

/// argon2 memory cost in KiB (19 MiB).
const ARGON2_M_COST_KIB: u32 = 19 * 1024;
/// argon2 passes over the memory.
const ARGON2_T_COST: u32 = 2;
/// argon2 lanes (one thread per computation; concurrency comes from separate calls).
const ARGON2_P_COST: u32 = 1;
/// Length of the stored hash in bytes.
const ARGON2_OUTPUT_LEN: usize = 32;
/// Length of each random salt in bytes.
const SALT_LEN: usize = 16;
/// Most argon2 computations running at once for verification (each takes 19 MiB and one core).
const MAX_CONCURRENT_HASHES: usize = 4;

/// Verified against when the account does not exist or has no secret of the kind given, so that
/// such a failure costs exactly as long as a wrong secret. The hash of 16 random bytes nobody
/// kept, with the parameters above (a unit test checks they stay the same).
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$mD+0qCQQi78hPwLlMuY/jQ$MdMkV1D3hWsTDQeDiLGcjr7lOLe8faWQ7DlXLUo3vsk";

/// Bounds the argon2 work in flight for [`Store::verify`].
static HASHING: Semaphore = Semaphore::const_new(MAX_CONCURRENT_HASHES);

/// Why adding or importing customers failed.
#[derive(Debug, thiserror::Error)]
pub enum CustomerError {
    /// The CSV file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// A line of the CSV file is malformed; nothing was imported. The message never quotes
    /// the line's content, which holds personal data.
    #[error("{path}:{line}: {message}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// 1-based line number (the header is line 1).
        line: usize,
        /// What is wrong with it.
        message: String,
    },
    /// A [`NewCustomer`] field is not acceptable (the message names the field, not its value).
    #[error("invalid customer: {0}")]
    Invalid(String),
    /// argon2 refused to hash (only possible with broken parameters).
    #[error("hashing a secret failed: {0}")]
    Hash(String),
    /// The database refused the write.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A customer to add (or replace, by account). The secrets are hashed before they are stored;
/// an empty secret means the customer has none of that kind (verifying with it always fails).
#[derive(Clone, PartialEq, Eq)]
pub struct NewCustomer {
    /// Account number, as the caller keys it.
    pub account: String,
    /// Customer's name.
    pub name: String,
    /// Service PIN, digits.
    pub pin: String,
    /// Last digits of the ID number: digits, or `X` (Chinese ID numbers may end in X).
    pub id_digits: String,
    /// Phone numbers for callbacks.
    pub phones: Vec<String>,
    /// VIP customers get priority in queues.
    pub vip: bool,
}

impl fmt::Debug for NewCustomer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewCustomer")
            .field("account", &Redacted)
            .field("name", &Redacted)
            .field("pin", &Redacted)
            .field("id_digits", &Redacted)
            .field("phones", &self.phones.len())
            .field("vip", &self.vip)
            .finish()
    }
}

/// A stored customer, without the secrets.
#[derive(Clone, PartialEq, Eq)]
pub struct CustomerRow {
    /// Account number.
    pub account: String,
    /// Customer's name.
    pub name: String,
    /// Phone numbers for callbacks, in the order given.
    pub phones: Vec<String>,
    /// VIP flag.
    pub vip: bool,
    /// Whether a PIN is set.
    pub has_pin: bool,
    /// Whether ID digits are set.
    pub has_id_digits: bool,
    /// ms since the Unix epoch, first added.
    pub created_at: i64,
    /// ms since the Unix epoch, last replaced.
    pub updated_at: i64,
}

impl fmt::Debug for CustomerRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CustomerRow")
            .field("account", &Redacted)
            .field("name", &Redacted)
            .field("phones", &self.phones.len())
            .field("vip", &self.vip)
            .field("has_pin", &self.has_pin)
            .field("has_id_digits", &self.has_id_digits)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .finish()
    }
}

/// What the caller keyed to prove who they are. `Debug` never shows the digits.
#[derive(Clone, PartialEq, Eq)]
pub enum Secret {
    /// The service PIN.
    Pin(String),
    /// The last digits of the ID number.
    IdDigits(String),
}

impl Secret {
    fn kind(&self) -> &'static str {
        match self {
            Secret::Pin(_) => "pin",
            Secret::IdDigits(_) => "id_digits",
        }
    }

    /// The secret as hashed: ID digits compare with `x` and `X` alike.
    fn normalized(&self) -> String {
        match self {
            Secret::Pin(s) => s.trim().to_owned(),
            Secret::IdDigits(s) => s.trim().to_ascii_uppercase(),
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Secret::Pin(_) => f.write_str("Pin(<redacted>)"),
            Secret::IdDigits(_) => f.write_str("IdDigits(<redacted>)"),
        }
    }
}

/// When repeated failures lock an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockPolicy {
    /// Failures (across calls) that lock the account; the last of them returns `Locked`.
    /// 0 is taken as 1.
    pub max_failures: u32,
    /// How long a locked account stays locked.
    pub lock_for: Duration,
    /// Failures count together when they fall within this time of the first one counted;
    /// after it the count starts again.
    pub window: Duration,
}

impl Default for LockPolicy {
    /// 5 failures within 24 hours lock the account for 30 minutes.
    fn default() -> Self {
        LockPolicy {
            max_failures: 5,
            lock_for: Duration::from_secs(30 * 60),
            window: Duration::from_secs(24 * 60 * 60),
        }
    }
}

/// The result of [`Store::verify`].
#[derive(Clone, PartialEq, Eq)]
pub enum Verification {
    /// The secret matches; the failure count of the account is cleared.
    Ok {
        /// The customer's account number.
        customer: String,
        /// VIP flag.
        vip: bool,
    },
    /// Wrong secret or unknown account (the caller cannot tell which).
    Failed {
        /// Failures left before the account locks (at least 1).
        remaining: u32,
    },
    /// Too many failures: no verification is attempted until then.
    Locked {
        /// ms since the Unix epoch when the lock ends.
        until_ms: i64,
    },
}

/// The dial plan's secret, as the verifier takes it.
impl From<crate::ivr::Secret> for Secret {
    fn from(s: crate::ivr::Secret) -> Secret {
        match s {
            crate::ivr::Secret::Pin(d) => Secret::Pin(d),
            crate::ivr::Secret::IdDigits(d) => Secret::IdDigits(d),
        }
    }
}

/// The verifier's answer, as the dial plan takes it.
impl From<Verification> for crate::ivr::VerifyOutcome {
    fn from(v: Verification) -> crate::ivr::VerifyOutcome {
        match v {
            Verification::Ok { customer, vip } => crate::ivr::VerifyOutcome::Ok {
                customer_id: customer,
                vip,
            },
            Verification::Failed { .. } => crate::ivr::VerifyOutcome::Failed,
            Verification::Locked { .. } => crate::ivr::VerifyOutcome::Locked,
        }
    }
}

impl fmt::Debug for Verification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verification::Ok { vip, .. } => f
                .debug_struct("Ok")
                .field("customer", &Redacted)
                .field("vip", vip)
                .finish(),
            Verification::Failed { remaining } => f
                .debug_struct("Failed")
                .field("remaining", remaining)
                .finish(),
            Verification::Locked { until_ms } => f
                .debug_struct("Locked")
                .field("until_ms", until_ms)
                .finish(),
        }
    }
}

/// Stands in for personal data in `Debug` output.
pub(super) struct Redacted;

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A customer ready to store: secrets replaced by their hashes.
struct HashedCustomer {
    account: String,
    name: String,
    pin_hash: Option<String>,
    id_digits_hash: Option<String>,
    phones: String,
    vip: bool,
}

fn argon2() -> Argon2<'static> {
    let params = Params::new(
        ARGON2_M_COST_KIB,
        ARGON2_T_COST,
        ARGON2_P_COST,
        Some(ARGON2_OUTPUT_LEN),
    )
    .expect("argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The PHC string of `secret` with a fresh random salt; `None` for an empty secret. CPU-heavy:
/// call from a blocking thread.
fn hash_secret(secret: &str) -> Result<Option<String>, CustomerError> {
    if secret.is_empty() {
        return Ok(None);
    }
    let mut salt = [0u8; SALT_LEN];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| CustomerError::Hash(e.to_string()))?;
    let hash = argon2()
        .hash_password(secret.as_bytes(), &salt)
        .map_err(|e| CustomerError::Hash(e.to_string()))?;
    Ok(Some(hash.to_string()))
}

/// Whether `given` matches `stored`; with no stored hash, `given` is checked against
/// [`DUMMY_HASH`] so the answer (false) takes as long. CPU-heavy: call from a blocking thread.
fn check_secret(stored: Option<&str>, given: &str) -> bool {
    let parsed = stored.and_then(|s| match PasswordHash::new(s) {
        Ok(h) => Some(h),
        Err(e) => {
            // Not logged with the account: the operator can find such rows by their prefix.
            tracing::error!(error = %e, "stored secret hash is not a PHC string; verification fails");
            None
        }
    });
    match parsed {
        Some(hash) => argon2().verify_password(given.as_bytes(), &hash).is_ok(),
        None => {
            let dummy = PasswordHash::new(DUMMY_HASH).expect("DUMMY_HASH is a PHC string");
            let _ = argon2().verify_password(given.as_bytes(), &dummy);
            false
        }
    }
}

/// Runs `f` on the blocking pool; a panic there is re-raised here.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, StoreError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(v) => Ok(v),
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        // Only when the runtime is shutting down.
        Err(e) => Err(StoreError::WriterTask(e)),
    }
}

/// Checks what [`Store::add_customer`] and the CSV import require; the message names the field.
fn validate(c: &NewCustomer) -> Result<(), String> {
    let account = c.account.trim();
    if account.is_empty() {
        return Err("account: empty".into());
    }
    if account
        .chars()
        .any(|ch| ch.is_control() || ch.is_whitespace())
    {
        return Err("account: contains spaces or control characters".into());
    }
    let pin = c.pin.trim();
    if !pin.chars().all(|ch| ch.is_ascii_digit()) {
        return Err("pin: digits only".into());
    }
    let id = c.id_digits.trim();
    if !id
        .chars()
        .all(|ch| ch.is_ascii_digit() || ch == 'x' || ch == 'X')
    {
        return Err("id_last_digits: digits (and X) only".into());
    }
    for phone in &c.phones {
        if phone.contains([',', ';']) || phone.chars().any(|ch| ch.is_control()) {
            return Err("phones: a number contains ',', ';' or a control character".into());
        }
    }
    Ok(())
}

/// Validates and hashes one customer. CPU-heavy: call from a blocking thread.
fn hash_customer(c: &NewCustomer) -> Result<HashedCustomer, CustomerError> {
    validate(c).map_err(CustomerError::Invalid)?;
    let phones: Vec<&str> = c
        .phones
        .iter()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .collect();
    Ok(HashedCustomer {
        account: c.account.trim().to_owned(),
        name: c.name.trim().to_owned(),
        pin_hash: hash_secret(&Secret::Pin(c.pin.clone()).normalized())?,
        id_digits_hash: hash_secret(&Secret::IdDigits(c.id_digits.clone()).normalized())?,
        phones: phones.join(","),
        vip: c.vip,
    })
}

// Replacing a customer keeps when they were first added.
const UPSERT_CUSTOMER: &str = "INSERT INTO customers \
     (account, name, pin_hash, id_digits_hash, phones, vip, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
     ON CONFLICT (account) DO UPDATE SET \
     name = excluded.name, pin_hash = excluded.pin_hash, \
     id_digits_hash = excluded.id_digits_hash, phones = excluded.phones, vip = excluded.vip, \
     updated_at = excluded.updated_at";

const SELECT_LOCK: &str = "SELECT locked_until FROM verify_failures WHERE account = $1";

const SELECT_SECRETS: &str =
    "SELECT pin_hash, id_digits_hash, vip FROM customers WHERE account = $1";

const CLEAR_FAILURES: &str = "DELETE FROM verify_failures WHERE account = $1";

// One atomic statement, so concurrent calls on the same account count every failure.
// $1 account, $2 now, $3 max failures, $4 lock end if this failure locks, $5 window cutoff
// (a count whose window_start is at or before it has expired). A row still locked (a concurrent
// call locked it meanwhile) is left alone; an expired window or lock starts a new count.
const COUNT_FAILURE: &str = "INSERT INTO verify_failures \
     (account, failures, window_start, locked_until) \
     VALUES ($1, 1, $2, CASE WHEN 1 >= $3 THEN $4 ELSE NULL END) \
     ON CONFLICT (account) DO UPDATE SET \
     failures = CASE \
         WHEN verify_failures.locked_until > $2 THEN verify_failures.failures \
         WHEN verify_failures.locked_until IS NOT NULL OR verify_failures.window_start <= $5 THEN 1 \
         ELSE verify_failures.failures + 1 END, \
     window_start = CASE \
         WHEN verify_failures.locked_until > $2 THEN verify_failures.window_start \
         WHEN verify_failures.locked_until IS NOT NULL OR verify_failures.window_start <= $5 THEN $2 \
         ELSE verify_failures.window_start END, \
     locked_until = CASE \
         WHEN verify_failures.locked_until > $2 THEN verify_failures.locked_until \
         WHEN verify_failures.locked_until IS NOT NULL OR verify_failures.window_start <= $5 \
             THEN CASE WHEN 1 >= $3 THEN $4 ELSE NULL END \
         WHEN verify_failures.failures + 1 >= $3 THEN $4 \
         ELSE NULL END \
     RETURNING failures, locked_until";

const SELECT_CUSTOMER: &str = "SELECT account, name, phones, vip, \
     pin_hash IS NOT NULL, id_digits_hash IS NOT NULL, created_at, updated_at \
     FROM customers WHERE account = $1";

fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Store {
    /// Adds the customer, or replaces the one with the same account (keeping when it was first
    /// added). The PIN and ID digits are hashed first, on the blocking pool.
    pub async fn add_customer(&self, c: &NewCustomer) -> Result<(), CustomerError> {
        let c = c.clone();
        let hashed = blocking(move || hash_customer(&c)).await??;
        self.store_customers(&[hashed], now_ms()).await?;
        Ok(())
    }

    /// Writes hashed customers in one transaction.
    async fn store_customers(&self, batch: &[HashedCustomer], now: i64) -> Result<(), StoreError> {
        on_db!(&self.db, pool => {
            let mut tx = pool.begin().await?;
            for c in batch {
                sqlx::query(UPSERT_CUSTOMER)
                    .bind(c.account.as_str())
                    .bind(c.name.as_str())
                    .bind(c.pin_hash.as_deref())
                    .bind(c.id_digits_hash.as_deref())
                    .bind(c.phones.as_str())
                    .bind(c.vip)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// The customer with this account, without secrets.
    pub async fn customer(&self, account: &str) -> Result<Option<CustomerRow>, StoreError> {
        type Raw = (String, String, String, bool, bool, bool, i64, i64);
        let raw: Option<Raw> = on_db!(&self.db, pool => {
            sqlx::query_as(SELECT_CUSTOMER).bind(account).fetch_optional(pool).await?
        });
        Ok(raw.map(
            |(account, name, phones, vip, has_pin, has_id_digits, created_at, updated_at)| {
                CustomerRow {
                    account,
                    name,
                    phones: phones
                        .split(',')
                        .filter(|p| !p.is_empty())
                        .map(str::to_owned)
                        .collect(),
                    vip,
                    has_pin,
                    has_id_digits,
                    created_at,
                    updated_at,
                }
            },
        ))
    }

    /// Checks `secret` for `account` at time `now_ms` and counts a failure against the account
    /// (across calls) under `policy`. See the module documentation for what the caller can and
    /// cannot learn from the answer.
    pub async fn verify(
        &self,
        account: &str,
        secret: Secret,
        now_ms: i64,
        policy: &LockPolicy,
    ) -> Result<Verification, StoreError> {
        let account = account.trim();
        let max_failures = policy.max_failures.max(1);

        let locked: Option<Option<i64>> = on_db!(&self.db, pool => {
            sqlx::query_scalar(SELECT_LOCK).bind(account).fetch_optional(pool).await?
        });
        if let Some(Some(until_ms)) = locked {
            if until_ms > now_ms {
                return Ok(Verification::Locked { until_ms });
            }
        }

        let row: Option<(Option<String>, Option<String>, bool)> = on_db!(&self.db, pool => {
            sqlx::query_as(SELECT_SECRETS).bind(account).fetch_optional(pool).await?
        });
        let (stored, vip) = match (&row, &secret) {
            (Some((pin, _, vip)), Secret::Pin(_)) => (pin.clone(), *vip),
            (Some((_, id, vip)), Secret::IdDigits(_)) => (id.clone(), *vip),
            (None, _) => (None, false),
        };
        let kind = secret.kind();
        let given = secret.normalized();
        let matched = {
            let _permit = HASHING.acquire().await.expect("HASHING is never closed");
            blocking(move || check_secret(stored.as_deref(), &given)).await?
        };

        if matched {
            on_db!(&self.db, pool => {
                sqlx::query(CLEAR_FAILURES).bind(account).execute(pool).await?;
            });
            tracing::debug!(secret = kind, "customer verified");
            return Ok(Verification::Ok {
                customer: account.to_owned(),
                vip,
            });
        }

        let (failures, locked_until): (i32, Option<i64>) = on_db!(&self.db, pool => {
            sqlx::query_as(COUNT_FAILURE)
                .bind(account)
                .bind(now_ms)
                .bind(i64::from(max_failures))
                .bind(now_ms.saturating_add(duration_ms(policy.lock_for)))
                .bind(now_ms.saturating_sub(duration_ms(policy.window)))
                .fetch_one(pool)
                .await?
        });
        match locked_until {
            Some(until_ms) if until_ms > now_ms => {
                tracing::info!(
                    secret = kind,
                    until_ms,
                    "verification failed; account locked"
                );
                Ok(Verification::Locked { until_ms })
            }
            _ => {
                let remaining = i64::from(max_failures)
                    .saturating_sub(i64::from(failures))
                    .max(1);
                tracing::debug!(secret = kind, remaining, "verification failed");
                Ok(Verification::Failed {
                    remaining: u32::try_from(remaining).unwrap_or(1),
                })
            }
        }
    }
}

/// The header `import_customers_csv` expects (case and spaces around names do not matter).
const CSV_HEADER: [&str; 6] = ["account", "name", "pin", "id_last_digits", "phones", "vip"];

/// Imports customers from a UTF-8 CSV file with the header
/// `account,name,pin,id_last_digits,phones,vip` (phones separated by `;` inside their field,
/// vip one of `1/0`, `true/false`, `yes/no`, `y/n` or empty; fields may be quoted with `"`).
/// The whole file is checked first: a bad line fails the import with its line number and
/// nothing is stored. Then the secrets are hashed (on the blocking pool, several at once) and
/// every customer is added or replaced in one transaction. Returns the number of customers.
pub async fn import_customers_csv(store: &Store, path: &Path) -> Result<usize, CustomerError> {
    import_customers_csv_with(store, path, Arc::new(|_, _| {})).await
}

/// Told how many customers of how many are hashed so far, from the hashing threads: the
/// hashing is what takes the time (about 20 ms a customer), so a progress bar follows it.
pub type ImportProgress = Arc<dyn Fn(usize, usize) + Send + Sync>;

/// [`import_customers_csv`], telling `progress` as each customer is hashed.
pub async fn import_customers_csv_with(
    store: &Store,
    path: &Path,
    progress: ImportProgress,
) -> Result<usize, CustomerError> {
    let owned = path.to_owned();
    let bytes = blocking(move || std::fs::read(&owned))
        .await?
        .map_err(|source| CustomerError::Io {
            path: path.to_owned(),
            source,
        })?;
    let customers = parse_customers_csv(&bytes).map_err(|(line, message)| CustomerError::Csv {
        path: path.to_owned(),
        line,
        message,
    })?;
    let count = customers.len();

    // Hash in as many chunks as there are cores (up to the verification limit).
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, MAX_CONCURRENT_HASHES);
    let chunk = count.div_ceil(workers).max(1);
    let customers = Arc::new(customers);
    let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut jobs = Vec::new();
    for start in (0..count).step_by(chunk) {
        let (customers, done, progress) = (customers.clone(), done.clone(), progress.clone());
        jobs.push(tokio::task::spawn_blocking(move || {
            customers[start..(start + chunk).min(customers.len())]
                .iter()
                .map(|c| {
                    let hashed = hash_customer(c);
                    progress(done.fetch_add(1, Ordering::Relaxed) + 1, count);
                    hashed
                })
                .collect::<Result<Vec<_>, _>>()
        }));
    }
    let mut hashed = Vec::with_capacity(count);
    for job in jobs {
        let part = match job.await {
            Ok(part) => part?,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => return Err(StoreError::WriterTask(e).into()),
        };
        hashed.extend(part);
    }
    store.store_customers(&hashed, now_ms()).await?;
    tracing::info!(customers = count, "customers imported");
    Ok(count)
}

/// Parses the CSV; an error is (1-based line, message).
fn parse_customers_csv(bytes: &[u8]) -> Result<Vec<NewCustomer>, (usize, String)> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = 1 + bytes[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        (line, "not UTF-8 text (save the file as UTF-8)".to_owned())
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));

    let header = loop {
        match lines.next() {
            Some((_, l)) if l.trim().is_empty() => continue,
            Some((n, l)) => break (n, l),
            None => return Err((1, "empty file: expected a header line".to_owned())),
        }
    };
    let names = split_csv_line(header.1).map_err(|m| (header.0, m.to_owned()))?;
    let names: Vec<String> = names.iter().map(|n| n.trim().to_lowercase()).collect();
    if names != CSV_HEADER {
        return Err((
            header.0,
            format!("expected the header {:?}", CSV_HEADER.join(",")),
        ));
    }

    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut customers = Vec::new();
    for (n, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let fields = split_csv_line(line).map_err(|m| (n, m.to_owned()))?;
        let [account, name, pin, id_digits, phones, vip]: [String; 6] =
            fields.try_into().map_err(|f: Vec<String>| {
                (
                    n,
                    format!("expected {} fields, found {}", CSV_HEADER.len(), f.len()),
                )
            })?;
        let vip = match vip.trim().to_lowercase().as_str() {
            "" | "0" | "false" | "no" | "n" => false,
            "1" | "true" | "yes" | "y" => true,
            _ => return Err((n, "vip: expected 1/0, true/false, yes/no or y/n".to_owned())),
        };
        let c = NewCustomer {
            account: account.trim().to_owned(),
            name: name.trim().to_owned(),
            pin: pin.trim().to_owned(),
            id_digits: id_digits.trim().to_owned(),
            phones: phones
                .split(';')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .collect(),
            vip,
        };
        validate(&c).map_err(|m| (n, m))?;
        if let Some(first) = seen.insert(c.account.clone(), n) {
            return Err((n, format!("account: already on line {first}")));
        }
        customers.push(c);
    }
    Ok(customers)
}

/// Splits one CSV record: `,` separates, `"` quotes (with `""` for a quote inside).
fn split_csv_line(line: &str) -> Result<Vec<String>, &'static str> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut was_quoted = false;
    while let Some(ch) = chars.next() {
        if quoted {
            match ch {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                _ => field.push(ch),
            }
        } else {
            match ch {
                ',' => {
                    fields.push(std::mem::take(&mut field));
                    was_quoted = false;
                }
                '"' if field.trim().is_empty() && !was_quoted => {
                    field.clear();
                    quoted = true;
                    was_quoted = true;
                }
                '"' => return Err("a quote inside an unquoted field"),
                _ if was_quoted && !ch.is_whitespace() => return Err("text after a closing quote"),
                _ => field.push(ch),
            }
        }
    }
    if quoted {
        return Err("unterminated quote (a field cannot span lines)");
    }
    fields.push(field);
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dummy_hash_has_the_current_parameters() {
        let dummy = PasswordHash::new(DUMMY_HASH).expect("PHC");
        let real = hash_secret("1").expect("hash").expect("some");
        let real = PasswordHash::new(&real).expect("PHC");
        assert_eq!(dummy.algorithm, real.algorithm);
        assert_eq!(dummy.version, real.version);
        assert_eq!(dummy.params, real.params);
        assert_eq!(
            dummy.hash.map(|h| h.len()),
            real.hash.map(|h| h.len()),
            "output length"
        );
        assert_eq!(
            dummy.salt.map(|s| s.len()),
            real.salt.map(|s| s.len()),
            "salt length"
        );
    }

    #[test]
    fn hash_and_check() {
        let h = hash_secret("123456").expect("hash").expect("some");
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(!h.contains("123456"));
        assert!(check_secret(Some(&h), "123456"));
        assert!(!check_secret(Some(&h), "123457"));
        assert!(!check_secret(None, "123456"));
        assert!(!check_secret(Some("not a hash"), "123456"));
        assert_eq!(hash_secret("").expect("empty"), None);
    }

    #[test]
    fn csv_fields() {
        assert_eq!(split_csv_line("a,b,,c").unwrap(), ["a", "b", "", "c"]);
        assert_eq!(
            split_csv_line(r#"1,"Zhang, Wei","say ""hi""", x"#).unwrap(),
            ["1", "Zhang, Wei", r#"say "hi""#, " x"]
        );
        assert!(split_csv_line(r#"1,"open"#).is_err());
        assert!(split_csv_line(r#"1,ab"c"#).is_err());
        assert!(split_csv_line(r#"1,"ab"c"#).is_err());
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let s = format!("{:?}", Secret::Pin("987654".into()));
        assert!(!s.contains("987654"), "{s}");
        let c = NewCustomer {
            account: "6225880012345678".into(),
            name: "Li Lei".into(),
            pin: "987654".into(),
            id_digits: "1234".into(),
            phones: vec!["13800138000".into()],
            vip: true,
        };
        let s = format!("{c:?}");
        for secret in [
            "6225880012345678",
            "Li Lei",
            "987654",
            "1234",
            "13800138000",
        ] {
            assert!(!s.contains(secret), "{s}");
        }
        let v = format!(
            "{:?}",
            Verification::Ok {
                customer: "6225880012345678".into(),
                vip: false
            }
        );
        assert!(!v.contains("6225880012345678"), "{v}");
    }
}
