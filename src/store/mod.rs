//! Call records in SQLite (default, one file next to the server) or PostgreSQL (shared, for
//! larger sites), behind one small API.
//!
//! The rest of the server only produces [`Write`]s and reads [`CallRow`]s; it never sees which
//! database is underneath. Call handling should go through the group-committing [`Writer`] so a
//! slow `fsync` never stalls a SIP transaction and many calls share one commit.
//!
//! Times are `i64` milliseconds since the Unix epoch (see [`now_ms`]): portable between both
//! databases and easy to compute KPIs from (wait = answered_at - arrived_at, ...).

mod writer;

pub use open::redact_url;
pub use writer::{Writer, WriterStats, WriterTask};

use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::postgres::PgPool;
use sqlx::query::Query;
use sqlx::sqlite::SqlitePool;
use sqlx::{Database, Encode, Type};

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL is neither `sqlite:...` nor `postgres://...`/`postgresql://...` (held
    /// without its password, see [`redact_url`]).
    #[error("unsupported database URL {0:?}: expected sqlite:... or postgres://...")]
    UnsupportedUrl(String),
    /// Nothing to open at this place (a SQLite file that does not exist, a PostgreSQL
    /// schema without hotline's tables): a mistyped `--database` must not start an empty
    /// database whose reports say zero.
    #[error("no hotline database at {0}; create it with hotline migrate")]
    Missing(String),
    /// The schema lacks migrations this binary has.
    #[error("the hotline database at {0} is older than this hotline; run hotline migrate")]
    Outdated(String),
    /// The schema has migrations this binary does not know.
    #[error("the hotline database at {0} was migrated by a newer hotline; use that one")]
    Newer(String),
    /// The database could not be opened or reached; `at` names it without a password,
    /// `reason` is the cause, said once.
    #[error("cannot open the database at {at}: {reason}")]
    Open {
        /// The SQLite file, or `postgres://user@host:port/db`.
        at: String,
        /// Why, e.g. "Connection refused (os error 111)".
        reason: String,
    },
    /// The database could not be reached or rejected a statement.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The embedded schema migrations could not be applied (or the database is newer than us).
    #[error("migrating the database failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored value does not fit the Rust type, so the row was written by something else.
    #[error("call {id}: column {column} holds an out-of-range value")]
    BadValue {
        /// Our id of the call whose row is bad.
        id: String,
        /// The column that holds the bad value.
        column: &'static str,
    },
    /// A cluster's shared state asked of a SQLite database (a cluster needs PostgreSQL).
    #[error("a cluster needs a PostgreSQL database")]
    NotClustered,
    /// The writer task panicked or was cancelled, so queued writes may be lost.
    #[error("writer task failed: {0}")]
    WriterTask(#[from] tokio::task::JoinError),
}

impl StoreError {
    /// True when retrying the same statement cannot succeed (a constraint rejects the data), as
    /// opposed to I/O, lock or connection trouble that may pass.
    pub fn is_permanent(&self) -> bool {
        use sqlx::error::ErrorKind;
        match self {
            // Unique, foreign-key, not-null or check violation: the data itself is refused.
            StoreError::Database(sqlx::Error::Database(e)) => e.kind() != ErrorKind::Other,
            // The statement does not fit the schema or types.
            StoreError::Database(
                sqlx::Error::ColumnDecode { .. }
                | sqlx::Error::ColumnNotFound(_)
                | sqlx::Error::ColumnIndexOutOfBounds { .. }
                | sqlx::Error::TypeNotFound { .. }
                | sqlx::Error::Encode(_)
                | sqlx::Error::Decode(_),
            ) => true,
            // I/O, timeouts, lost connections, a busy database: may pass.
            StoreError::Database(_) => false,
            _ => true,
        }
    }
}

/// One change to the call records. Writes are applied in order, and every write is idempotent
/// (a repeated arrival is ignored, a repeated answer/end keeps the first time) so a batch can
/// be retried after an ambiguous failure without corrupting anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// An INVITE for a new call arrived.
    CallArrived {
        /// Our own id for the call (primary key).
        id: String,
        /// SIP Call-ID of the INVITE.
        sip_call_id: String,
        /// Caller's SIP user / number.
        caller: String,
        /// Called number / SIP user.
        called: String,
        /// `ip:port` the INVITE came from.
        source: String,
        /// `"udp"` or `"tcp"`.
        transport: &'static str,
        /// Arrival time, ms since the Unix epoch.
        at_ms: i64,
    },
    /// The hotline answered the call.
    CallAnswered {
        /// Our id of the call.
        id: String,
        /// Answer time, ms since the Unix epoch.
        at_ms: i64,
    },
    /// The call is over (hung up, cancelled, timed out or rejected).
    CallEnded {
        /// Our id of the call.
        id: String,
        /// End time, ms since the Unix epoch.
        at_ms: i64,
        /// `"caller"` or `"hotline"`.
        by: &'static str,
        /// Stable cause code: `"caller_bye"`, `"caller_cancel"`, `"ack_timeout"`,
        /// `"max_duration"`, `"shutdown"`, `"rejected"`, ...
        cause: &'static str,
        /// SIP status sent when the call was rejected.
        status: Option<u16>,
    },
    /// Something happened during the call (a digit, a hold, lost media).
    CallEvent {
        /// Our id of the call.
        id: String,
        /// 1, 2, ... within the call: with the id, what makes a retried write harmless.
        seq: i64,
        /// When, ms since the Unix epoch.
        at_ms: i64,
        /// Stable code: `"dtmf"`, `"no_media"`, `"hold"`, ...
        kind: &'static str,
        /// What it was, e.g. the digit.
        detail: String,
    },
    /// What the IVR learnt about the call; `None` fields stay as they are.
    CallIvr {
        /// Our id of the call.
        id: String,
        /// The columns to set.
        ivr: CallIvr,
    },
    /// A post-call survey answer (1 to 5); answering again replaces it.
    Survey {
        /// Our id of the call.
        id: String,
        /// 1, 2, ...
        question: i32,
        /// 1 to 5.
        score: i32,
        /// The agent the answer is about, if any.
        agent: Option<String>,
        /// When, ms since the Unix epoch.
        at_ms: i64,
    },
    /// A callback or complaint to follow up.
    FollowUp(Box<NewFollowUp>),
    /// The call's recording is at this path.
    CallRecording {
        /// Our id of the call.
        id: String,
        /// Path of the WAV file.
        path: String,
    },
    /// An outbound call went out through a trunk (again, after a failover): its
    /// INVITE's Call-ID (`None`: the record keeps the one it has, an agent's own INVITE),
    /// the trunk and its address.
    CallRouted {
        /// Our id of the call.
        id: String,
        sip_call_id: Option<String>,
        trunk: String,
        /// `ip:port` of the trunk.
        source: String,
        /// How the trunk is reached: "udp" or "tcp".
        transport: &'static str,
    },
    /// Agents, registrations, queueing and the legs to agents.
    Agent(AgentWrite),
    /// The hotline placed a call (a callback, a revisit, an agent dialling out). Later
    /// `CallAnswered`, `CallEnded`, `CallEvent` and `Agent(..)` writes apply to it as to an
    /// inbound call; the KPIs leave it out.
    OutboundCall {
        /// Our own id for the call (primary key).
        id: String,
        /// SIP Call-ID of our INVITE.
        sip_call_id: String,
        /// Our caller ID.
        caller: String,
        /// The number dialled.
        called: String,
        /// The trunk's address, or the agent's phone.
        source: String,
        /// `"udp"` or `"tcp"`.
        transport: &'static str,
        /// The follow-up the call works on.
        followup: Option<String>,
        /// The agent making the call.
        agent: Option<String>,
        /// The trunk it goes out through.
        trunk: Option<String>,
        /// When the INVITE was sent, ms since the Unix epoch.
        at_ms: i64,
    },
    /// One attempt to call a follow-up's customer ended: it is kept, the follow-up's attempts
    /// are recounted (a skipped preview does not count) and noted, and it is marked
    /// unreachable once when `unreachable`. Repeating it changes nothing.
    DialAttempt {
        /// The follow-up.
        followup: String,
        /// Our id of the outbound call (or of the skipped preview).
        call: String,
        /// What became of it.
        result: DialResult,
        /// The agent who made or skipped it.
        agent: Option<String>,
        /// When it ended, ms since the Unix epoch.
        at_ms: i64,
        /// That was the last attempt: give up, for a supervisor.
        unreachable: bool,
    },
    /// An outbound call reached the follow-up's customer: an open or forwarded follow-up is
    /// answered (as `hotline followups answer`); otherwise nothing changes.
    FollowUpReached {
        /// The follow-up.
        followup: String,
        /// Our id of the call.
        call: String,
        /// The agent on the call.
        agent: Option<String>,
        /// When, ms since the Unix epoch.
        at_ms: i64,
    },
    /// The follow-up was resolved on an outbound call (as `hotline followups resolve`); a
    /// follow-up already resolved or closed stays as it is.
    FollowUpResolved {
        /// The follow-up.
        followup: String,
        /// Our id of the call.
        call: String,
        /// Resolution code.
        outcome: String,
        /// The agent who resolved it.
        agent: Option<String>,
        /// When, ms since the Unix epoch.
        at_ms: i64,
        /// A complaint's revisit, created with the resolution (build it as the command line
        /// does, with `crate::followup::due_times`). A complaint without one is not
        /// resolved, so no complaint goes without its revisit; ignored for other kinds.
        revisit: Option<Box<NewFollowUp>>,
    },
    /// The customer keyed a verdict on a revisit call: as `hotline followups revisit`, the
    /// revisit is answered and its complaint gets the verdict; an unsatisfied customer
    /// reopens the complaint with its urgency raised. Repeating it changes nothing.
    RevisitAnswered {
        /// The revisit (its complaint is looked up).
        revisit: String,
        /// Our id of the call.
        call: String,
        /// Satisfied (else the complaint is reopened).
        satisfied: bool,
        /// Added to the complaint's urgency when it is reopened: the `[followups]
        /// escalate_by` setting, as `crate::followup::revisit_verdict` returns it.
        urgency_rise: i32,
        /// When, ms since the Unix epoch.
        at_ms: i64,
    },
}

impl Write {
    /// Our id of the call this write is about, for logs.
    pub fn call_id(&self) -> &str {
        match self {
            Write::CallArrived { id, .. }
            | Write::CallAnswered { id, .. }
            | Write::CallEnded { id, .. }
            | Write::CallEvent { id, .. }
            | Write::CallRecording { id, .. }
            | Write::CallRouted { id, .. }
            | Write::CallIvr { id, .. }
            | Write::Survey { id, .. } => id,
            Write::FollowUp(f) => f.call_id.as_deref().unwrap_or(&f.id),
            Write::Agent(a) => a.subject(),
            Write::OutboundCall { id, .. } => id,
            Write::DialAttempt { call, .. }
            | Write::FollowUpReached { call, .. }
            | Write::FollowUpResolved { call, .. }
            | Write::RevisitAnswered { call, .. } => call,
        }
    }

    /// Short name of the kind of write, for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Write::CallArrived { .. } => "call_arrived",
            Write::CallAnswered { .. } => "call_answered",
            Write::CallEnded { .. } => "call_ended",
            Write::CallEvent { .. } => "call_event",
            Write::CallRecording { .. } => "call_recording",
            Write::CallRouted { .. } => "call_routed",
            Write::CallIvr { .. } => "call_ivr",
            Write::Survey { .. } => "survey",
            Write::FollowUp(_) => "followup",
            Write::Agent(_) => "agent",
            Write::OutboundCall { .. } => "outbound_call",
            Write::DialAttempt { .. } => "dial_attempt",
            Write::FollowUpReached { .. } => "followup_reached",
            Write::FollowUpResolved { .. } => "followup_resolved",
            Write::RevisitAnswered { .. } => "revisit_answered",
        }
    }

    /// Whether this write checks where a follow-up stands and so takes more than one
    /// statement (see `apply_dialing!`).
    fn is_dialing(&self) -> bool {
        matches!(
            self,
            Write::DialAttempt { .. }
                | Write::FollowUpReached { .. }
                | Write::FollowUpResolved { .. }
                | Write::RevisitAnswered { .. }
        )
    }
}

/// One row of `call_events`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow {
    /// Order within the call.
    pub seq: i64,
    /// ms since the Unix epoch.
    pub at: i64,
    /// Stable code, e.g. `"dtmf"`.
    pub kind: String,
    /// E.g. the digit.
    pub detail: String,
}

/// One row of `calls`, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRow {
    /// Our own id for the call.
    pub id: String,
    /// SIP Call-ID of the INVITE.
    pub sip_call_id: String,
    /// Caller's SIP user / number.
    pub caller: String,
    /// Called number / SIP user.
    pub called: String,
    /// `ip:port` the INVITE came from.
    pub source: String,
    /// `"udp"` or `"tcp"`.
    pub transport: String,
    /// ms since the Unix epoch.
    pub arrived_at: i64,
    /// ms since the Unix epoch; `None` if never answered.
    pub answered_at: Option<i64>,
    /// ms since the Unix epoch; `None` while the call is in progress.
    pub ended_at: Option<i64>,
    /// `"caller"` or `"hotline"`.
    pub ended_by: Option<String>,
    /// Stable cause code, see [`Write::CallEnded`].
    pub end_cause: Option<String>,
    /// SIP status sent when the call was rejected.
    pub end_status: Option<u16>,
    /// Path of the call's recording, if it was recorded.
    pub recording: Option<String>,
}

/// Row as the databases return it; `end_status` is a plain INTEGER there.
#[derive(sqlx::FromRow)]
struct RawCallRow {
    id: String,
    sip_call_id: String,
    caller: String,
    called: String,
    source: String,
    transport: String,
    arrived_at: i64,
    answered_at: Option<i64>,
    ended_at: Option<i64>,
    ended_by: Option<String>,
    end_cause: Option<String>,
    end_status: Option<i32>,
    recording: Option<String>,
}

impl TryFrom<RawCallRow> for CallRow {
    type Error = StoreError;

    fn try_from(r: RawCallRow) -> Result<Self, StoreError> {
        let end_status = match r.end_status {
            None => None,
            Some(s) => Some(u16::try_from(s).map_err(|_| StoreError::BadValue {
                id: r.id.clone(),
                column: "end_status",
            })?),
        };
        Ok(CallRow {
            id: r.id,
            sip_call_id: r.sip_call_id,
            caller: r.caller,
            called: r.called,
            source: r.source,
            transport: r.transport,
            arrived_at: r.arrived_at,
            answered_at: r.answered_at,
            ended_at: r.ended_at,
            ended_by: r.ended_by,
            end_cause: r.end_cause,
            end_status,
            recording: r.recording,
        })
    }
}

/// Which database a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A local SQLite file (or in-memory database).
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

#[derive(Clone, Debug)]
enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs the same code against whichever pool the store has; the body is type-checked once per
/// database, so every query is written once and must compile for both.
macro_rules! on_db {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            Db::Sqlite($pool) => $body,
            Db::Postgres($pool) => $body,
        }
    };
}

// The call-record statements, each written once with its values as parameters: the
// one-write statements and PostgreSQL's bulk ones (`bulk.rs`) then share their semantics.
// COALESCE / CASE keep the first answer and end: a late duplicate (e.g. BYE racing shutdown)
// must not rewrite history, and a retried batch must not change anything.
#[rustfmt::skip]
macro_rules! insert_call {
    ($rows:literal) => { concat!(
        "INSERT INTO calls (id, sip_call_id, caller, called, source, transport, arrived_at) ",
        $rows, " ON CONFLICT (id) DO NOTHING"
    ) };
}

#[rustfmt::skip]
macro_rules! answer_call {
    ($at:literal) => {
        concat!("UPDATE calls SET answered_at = COALESCE(answered_at, ", $at, ")")
    };
}

#[rustfmt::skip]
macro_rules! end_call {
    ($at:literal, $by:literal, $cause:literal, $status:literal) => { concat!(
        "UPDATE calls SET ",
        "ended_by = CASE WHEN ended_at IS NULL THEN ", $by, " ELSE ended_by END, ",
        "end_cause = CASE WHEN ended_at IS NULL THEN ", $cause, " ELSE end_cause END, ",
        "end_status = CASE WHEN ended_at IS NULL THEN ", $status, " ELSE end_status END, ",
        "ended_at = COALESCE(ended_at, ", $at, ")"
    ) };
}

#[rustfmt::skip]
macro_rules! insert_event {
    ($rows:literal) => { concat!(
        "INSERT INTO call_events (call_id, seq, at, kind, detail) ",
        $rows, " ON CONFLICT (call_id, seq) DO NOTHING"
    ) };
}

// NULL leaves a column as it is, so each IVR step sets only what it learnt.
#[rustfmt::skip]
macro_rules! set_call_ivr {
    ($language:literal, $customer:literal, $verified:literal, $outcome:literal,
     $queue:literal, $priority:literal) => { concat!(
        "UPDATE calls SET ",
        "language = COALESCE(", $language, ", language), ",
        "customer = COALESCE(", $customer, ", customer), ",
        "verified = COALESCE(", $verified, ", verified), ",
        "outcome = COALESCE(", $outcome, ", outcome), ",
        "queue = COALESCE(", $queue, ", queue), ",
        "priority = COALESCE(", $priority, ", priority)"
    ) };
}

#[rustfmt::skip]
macro_rules! set_call_rtp {
    ($received:literal, $sent:literal) => {
        concat!("UPDATE calls SET rtp_received = ", $received, ", rtp_sent = ", $sent)
    };
}

/// Applies one write with its own statements inside `$tx`: SQLite's way, and PostgreSQL's
/// for the writes `bulk` does not take.
macro_rules! apply_one {
    ($tx:expr, $w:expr) => {{
        let w: &Write = $w;
        if let Write::Agent(a) = w {
            for q in agents::agent_queries(a) {
                q.execute(&mut *$tx).await?;
            }
        } else if w.is_dialing() {
            apply_dialing!($tx, w);
        } else {
            let done = write_query(w).execute(&mut *$tx).await?;
            note_no_effect(w, done.rows_affected());
        }
    }};
}

// Declared after `on_db!` so they can use it; the two with transaction steps as macros
// first, so the later modules and `Store::apply` can use those.
#[macro_use]
mod worklist;

#[macro_use]
mod dialing;

mod agents;
mod bulk;
mod callers;
mod calls;
mod cluster;
mod customers;
mod followups;
mod open;
mod reports;
mod tokens;
mod webhooks;

pub use agents::{
    AgentError, AgentRequest, AgentRow, AgentWrite, LegRow, NewAgent, RegistrationRow,
};
pub use callers::{normalize_number, BlockedCaller, CallerFlag, CallerFlagKind};
pub(crate) use calls::utc;
pub use calls::{
    AgentLeg, BadCursor, CallCursor, CallDetail, CallFilter, CallPage, CallRecord, Direction,
    SurveyAnswer, TimelineEvent, DEFAULT_LIMIT, MAX_LIMIT,
};
pub use cluster::{ClaimState, ClaimsListener, LeftWaiting, Swept};
pub use customers::{
    import_customers_csv, import_customers_csv_with, CustomerError, CustomerRow, ImportProgress,
    LockPolicy, NewCustomer, Secret, Verification,
};
pub use dialing::{DialAttemptRow, DialRequest, DialResult, DialState, DialTask};
pub use followups::{
    new_followup_id, CallIvr, FollowUpKind, FollowUpRow, FollowUpStatus, NewFollowUp,
    RevisitResult, SurveyRow,
};
pub use reports::{
    ReportAgentState, ReportCall, ReportDialAttempt, ReportLeg, ReportOutboundCall, ReportSurvey,
    ReportUnreachable,
};
pub use tokens::{NewToken, Role, TokenError, TokenRow};
pub use webhooks::{Delivery, NewDelivery, WebhookChange, WebhookEvent};
pub use worklist::{FollowUpChange, FollowUpMove, NoteRow, RevisitVerdict};

/// Handle to the call database. Cheap to clone (it is a connection pool handle).
#[derive(Clone, Debug)]
pub struct Store {
    db: Db,
}

const INSERT_CALL: &str = insert_call!("VALUES ($1, $2, $3, $4, $5, $6, $7)");

// The WHERE clause matches by id only, so "0 rows" means the call is unknown.
const ANSWER_CALL: &str = concat!(answer_call!("$2"), " WHERE id = $1");

const END_CALL: &str = concat!(end_call!("$2", "$3", "$4", "$5"), " WHERE id = $1");

const INSERT_EVENT: &str = insert_event!("VALUES ($1, $2, $3, $4, $5)");

const SET_RECORDING: &str = "UPDATE calls SET recording = $2 WHERE id = $1";

const SET_ROUTE: &str =
    "UPDATE calls SET sip_call_id = COALESCE($2, sip_call_id), trunk = $3, source = $4, \
     transport = $5 WHERE id = $1";

const SELECT_CALLS: &str = "SELECT id, sip_call_id, caller, called, source, transport, \
     arrived_at, answered_at, ended_at, ended_by, end_cause, end_status, recording FROM calls";

/// Builds the statement for one write; generic so the same binding code serves both databases.
fn write_query<'q, DB>(w: &'q Write) -> Query<'q, DB, <DB as Database>::Arguments<'q>>
where
    DB: Database,
    &'q str: Encode<'q, DB> + Type<DB>,
    i64: Encode<'q, DB> + Type<DB>,
    Option<i32>: Encode<'q, DB> + Type<DB>,
    Option<i64>: Encode<'q, DB> + Type<DB>,
    Option<bool>: Encode<'q, DB> + Type<DB>,
    Option<&'q str>: Encode<'q, DB> + Type<DB>,
    i32: Encode<'q, DB> + Type<DB>,
{
    match w {
        Write::CallArrived {
            id,
            sip_call_id,
            caller,
            called,
            source,
            transport,
            at_ms,
        } => sqlx::query(INSERT_CALL)
            .bind(id.as_str())
            .bind(sip_call_id.as_str())
            .bind(caller.as_str())
            .bind(called.as_str())
            .bind(source.as_str())
            .bind(*transport)
            .bind(*at_ms),
        Write::CallAnswered { id, at_ms } => {
            sqlx::query(ANSWER_CALL).bind(id.as_str()).bind(*at_ms)
        }
        Write::CallEnded {
            id,
            at_ms,
            by,
            cause,
            status,
        } => sqlx::query(END_CALL)
            .bind(id.as_str())
            .bind(*at_ms)
            .bind(*by)
            .bind(*cause)
            .bind(status.map(i32::from)),
        Write::CallEvent {
            id,
            seq,
            at_ms,
            kind,
            detail,
        } => sqlx::query(INSERT_EVENT)
            .bind(id.as_str())
            .bind(*seq)
            .bind(*at_ms)
            .bind(*kind)
            .bind(detail.as_str()),
        Write::CallIvr { id, ivr } => sqlx::query(followups::SET_CALL_IVR)
            .bind(id.as_str())
            .bind(ivr.language.as_deref())
            .bind(ivr.customer.as_deref())
            .bind(ivr.verified)
            .bind(ivr.outcome.as_deref())
            .bind(ivr.queue.as_deref())
            .bind(ivr.priority),
        Write::Survey {
            id,
            question,
            score,
            agent,
            at_ms,
        } => sqlx::query(followups::UPSERT_SURVEY)
            .bind(id.as_str())
            .bind(*question)
            .bind(*score)
            .bind(agent.as_deref())
            .bind(*at_ms),
        Write::FollowUp(f) => sqlx::query(followups::INSERT_FOLLOWUP)
            .bind(f.id.as_str())
            .bind(f.kind.as_str())
            .bind(f.category.as_str())
            .bind(f.urgency)
            .bind(f.call_id.as_deref())
            .bind(f.customer.as_deref())
            .bind(f.number.as_str())
            .bind(f.promised_from)
            .bind(f.promised_to)
            .bind(f.owner.as_deref())
            .bind(f.created_at)
            .bind(f.due_forward)
            .bind(f.due_answer)
            .bind(f.due_resolve)
            .bind(f.parent_id.as_deref())
            .bind(f.recording.as_deref())
            .bind(f.due_contact),
        Write::CallRecording { id, path } => sqlx::query(SET_RECORDING)
            .bind(id.as_str())
            .bind(path.as_str()),
        Write::CallRouted {
            id,
            sip_call_id,
            trunk,
            source,
            transport,
        } => sqlx::query(SET_ROUTE)
            .bind(id.as_str())
            .bind(sip_call_id.as_deref())
            .bind(trunk.as_str())
            .bind(source.as_str())
            .bind(*transport),
        Write::OutboundCall {
            id,
            sip_call_id,
            caller,
            called,
            source,
            transport,
            followup,
            agent,
            trunk,
            at_ms,
        } => sqlx::query(dialing::INSERT_OUTBOUND_CALL)
            .bind(id.as_str())
            .bind(sip_call_id.as_str())
            .bind(caller.as_str())
            .bind(called.as_str())
            .bind(source.as_str())
            .bind(*transport)
            .bind(*at_ms)
            .bind(followup.as_deref())
            .bind(agent.as_deref())
            .bind(trunk.as_deref()),
        Write::Agent(_) => unreachable!("agent writes go through agents::agent_queries"),
        Write::DialAttempt { .. }
        | Write::FollowUpReached { .. }
        | Write::FollowUpResolved { .. }
        | Write::RevisitAnswered { .. } => {
            unreachable!("the dialer's follow-up writes go through apply_dialing!")
        }
    }
}

/// Logs writes that changed nothing: they are harmless (idempotent) but usually mean a bug or
/// a duplicate event upstream.
fn note_no_effect(w: &Write, rows: u64) {
    if rows == 0 {
        match w {
            Write::CallArrived { id, .. } | Write::OutboundCall { id, .. } => {
                tracing::warn!(call = %id, "call arrival for an existing id ignored")
            }
            Write::CallEvent { id, seq, .. } => {
                tracing::debug!(call = %id, seq, "repeated call event ignored")
            }
            _ => {
                tracing::warn!(call = %w.call_id(), write = w.kind(), "write for unknown call ignored")
            }
        }
    }
}

/// Current wall-clock time in ms since the Unix epoch, as stored in every time column.
pub fn now_ms() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        // A clock set before 1970 is broken; 0 keeps rows writable and obviously wrong.
        Err(_) => 0,
    }
}

impl Store {
    /// Answers when the database does: for `/readyz`.
    pub async fn ping(&self) -> Result<(), StoreError> {
        on_db!(&self.db, pool => {
            sqlx::query("SELECT 1").execute(pool).await?;
        });
        Ok(())
    }

    /// Which database this store talks to.
    pub fn backend(&self) -> Backend {
        match self.db {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// Applies `batch` in order inside ONE transaction: all of it is committed or none of it.
    /// On PostgreSQL, runs of call-record writes go as one statement per kind (see `bulk`):
    /// one round trip per write cannot keep up with thousands of calls a second.
    pub async fn apply(&self, batch: &[Write]) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        match &self.db {
            Db::Sqlite(pool) => {
                let mut tx = pool.begin().await?;
                for w in batch {
                    apply_one!(tx, w);
                }
                tx.commit().await?;
            }
            Db::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                let mut run = bulk::Run::default();
                for w in batch {
                    if !run.push(&mut tx, w).await? {
                        run.flush(&mut tx).await?;
                        apply_one!(tx, w);
                    }
                }
                run.flush(&mut tx).await?;
                tx.commit().await?;
            }
        }
        Ok(())
    }

    /// The stored row of call `id`, if any.
    pub async fn call(&self, id: &str) -> Result<Option<CallRow>, StoreError> {
        let query = format!("{SELECT_CALLS} WHERE id = $1");
        let raw: Option<RawCallRow> = on_db!(&self.db, pool => {
            sqlx::query_as(&query).bind(id).fetch_optional(pool).await?
        });
        raw.map(CallRow::try_from).transpose()
    }

    /// Calls that arrived at or after `since_ms`, oldest first (for reports and tests).
    pub async fn calls_since(&self, since_ms: i64) -> Result<Vec<CallRow>, StoreError> {
        let query = format!("{SELECT_CALLS} WHERE arrived_at >= $1 ORDER BY arrived_at, id");
        let raw: Vec<RawCallRow> = on_db!(&self.db, pool => {
            sqlx::query_as(&query).bind(since_ms).fetch_all(pool).await?
        });
        raw.into_iter().map(CallRow::try_from).collect()
    }

    /// The timeline of call `id`, in order.
    pub async fn events(&self, id: &str) -> Result<Vec<EventRow>, StoreError> {
        let query = "SELECT seq, at, kind, detail FROM call_events WHERE call_id = $1 ORDER BY seq";
        let rows: Vec<(i64, i64, String, String)> = on_db!(&self.db, pool => {
            sqlx::query_as(query).bind(id).fetch_all(pool).await?
        });
        Ok(rows
            .into_iter()
            .map(|(seq, at, kind, detail)| EventRow {
                seq,
                at,
                kind,
                detail,
            })
            .collect())
    }

    /// Number of call rows.
    pub async fn count_calls(&self) -> Result<i64, StoreError> {
        let n: i64 = on_db!(&self.db, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM calls").fetch_one(pool).await?
        });
        Ok(n)
    }

    /// Closes all connections (SQLite checkpoints its WAL on the last one). Other clones of
    /// this store become unusable.
    pub async fn close(&self) {
        on_db!(&self.db, pool => pool.close().await)
    }
}
