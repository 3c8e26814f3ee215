//! Agents: who they are, the queues they serve, their SIP password as digest HA1 values,
//! every change of their state, their phones' registrations, and the legs of calls that
//! reached them.

use super::{Db, Store, StoreError, Write};
use crate::core::sip::auth::{ha1, Algorithm};
use sqlx::query::Query;
use sqlx::{Database, Encode, Type};

/// An agent to add. The password is turned into HA1 values at once and never stored.
#[derive(Debug, Clone)]
pub struct NewAgent {
    pub id: String,
    pub name: String,
    pub extension: String,
    pub password: String,
    pub realm: String,
    /// Queue name and penalty (lower is offered calls first).
    pub queues: Vec<(String, u32)>,
}

/// A stored agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentRow {
    pub id: String,
    pub name: String,
    pub extension: String,
    pub ha1_sha256: String,
    pub ha1_md5: String,
    pub realm: String,
    pub queues: Vec<(String, u32)>,
    /// Last recorded state and since when (ms), if any.
    pub state: Option<(String, i64, String)>,
}

/// A state change asked for from the command line, waiting for the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentRequest {
    pub id: i64,
    pub agent_id: String,
    pub action: String,
    pub reason: String,
}

/// A registration as stored, restored at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationRow {
    pub extension: String,
    pub contact: String,
    pub source: String,
    pub transport: String,
    pub expires_at: i64,
}

/// A leg of a call to an agent, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegRow {
    pub seq: i64,
    pub agent_id: String,
    pub queue: Option<String>,
    pub started_at: i64,
    pub answered_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub end_cause: Option<String>,
    /// RTP packets received from and sent to the agent's phone.
    pub rtp_received: Option<i64>,
    pub rtp_sent: Option<i64>,
}

/// Writes about agents and the legs to them; idempotent like every [`Write`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentWrite {
    /// The agent's state changed (`seq` orders changes within one millisecond).
    State {
        agent: String,
        at_ms: i64,
        seq: i64,
        state: &'static str,
        reason: String,
    },
    /// A phone registered or refreshed its registration.
    Registered(RegistrationRow),
    /// A registration was removed or expired.
    Unregistered { extension: String, contact: String },
    /// The call went into a queue.
    CallQueued { call: String, at_ms: i64 },
    /// hotline rang an agent for the call.
    LegStarted {
        call: String,
        seq: i64,
        agent: String,
        queue: Option<String>,
        at_ms: i64,
    },
    /// The agent answered: the call is bridged.
    LegAnswered {
        call: String,
        seq: i64,
        agent: String,
        at_ms: i64,
    },
    LegEnded {
        call: String,
        seq: i64,
        at_ms: i64,
        cause: &'static str,
        /// RTP packets received from and sent to the agent's phone.
        rtp: (i64, i64),
    },
    /// RTP packets received from and sent to the caller, when the call ends.
    CallRtp { call: String, rtp: (i64, i64) },
    /// The agent's outcome code for the call.
    Disposition { call: String, code: String },
}

impl AgentWrite {
    /// The call or agent the write is about, for logs.
    pub fn subject(&self) -> &str {
        match self {
            AgentWrite::State { agent, .. } => agent,
            AgentWrite::Registered(r) => &r.extension,
            AgentWrite::Unregistered { extension, .. } => extension,
            AgentWrite::CallQueued { call, .. }
            | AgentWrite::LegStarted { call, .. }
            | AgentWrite::LegAnswered { call, .. }
            | AgentWrite::LegEnded { call, .. }
            | AgentWrite::CallRtp { call, .. }
            | AgentWrite::Disposition { call, .. } => call,
        }
    }
}

const INSERT_STATE: &str = "INSERT INTO agent_states (agent_id, at, seq, state, reason) \
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (agent_id, at, seq) DO NOTHING";
const UPSERT_REGISTRATION: &str = "INSERT INTO registrations \
     (extension, contact, source, transport, expires_at) VALUES ($1, $2, $3, $4, $5) \
     ON CONFLICT (extension, contact) DO UPDATE SET source = excluded.source, \
     transport = excluded.transport, expires_at = excluded.expires_at";
const DELETE_REGISTRATION: &str = "DELETE FROM registrations WHERE extension = $1 AND contact = $2";
const SET_QUEUED: &str = "UPDATE calls SET queued_at = COALESCE(queued_at, $2) WHERE id = $1";
const INSERT_LEG: &str = "INSERT INTO call_legs (call_id, seq, agent_id, queue, started_at) \
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (call_id, seq) DO NOTHING";
// The call keeps its first connection time and its last agent.
const ANSWER_LEG: &str = "UPDATE call_legs SET answered_at = COALESCE(answered_at, $3) \
     WHERE call_id = $1 AND seq = $2";
const CONNECT_CALL: &str =
    "UPDATE calls SET connected_at = COALESCE(connected_at, $3), agent = $2 WHERE id = $1";
const END_LEG: &str = "UPDATE call_legs SET \
     end_cause = CASE WHEN ended_at IS NULL THEN $4 ELSE end_cause END, \
     rtp_received = COALESCE(rtp_received, $5), rtp_sent = COALESCE(rtp_sent, $6), \
     ended_at = COALESCE(ended_at, $3) WHERE call_id = $1 AND seq = $2";
const SET_CALL_RTP: &str = concat!(set_call_rtp!("$2", "$3"), " WHERE id = $1");
const SET_DISPOSITION: &str = "UPDATE calls SET disposition = $2 WHERE id = $1";

/// The statements for one write (a leg's answer also updates the call).
pub(super) fn agent_queries<'q, DB>(
    w: &'q AgentWrite,
) -> Vec<Query<'q, DB, <DB as Database>::Arguments<'q>>>
where
    DB: Database,
    &'q str: Encode<'q, DB> + Type<DB>,
    i64: Encode<'q, DB> + Type<DB>,
    Option<&'q str>: Encode<'q, DB> + Type<DB>,
{
    match w {
        AgentWrite::State {
            agent,
            at_ms,
            seq,
            state,
            reason,
        } => vec![sqlx::query(INSERT_STATE)
            .bind(agent.as_str())
            .bind(*at_ms)
            .bind(*seq)
            .bind(*state)
            .bind(reason.as_str())],
        AgentWrite::Registered(r) => vec![sqlx::query(UPSERT_REGISTRATION)
            .bind(r.extension.as_str())
            .bind(r.contact.as_str())
            .bind(r.source.as_str())
            .bind(r.transport.as_str())
            .bind(r.expires_at)],
        AgentWrite::Unregistered { extension, contact } => vec![sqlx::query(DELETE_REGISTRATION)
            .bind(extension.as_str())
            .bind(contact.as_str())],
        AgentWrite::CallQueued { call, at_ms } => {
            vec![sqlx::query(SET_QUEUED).bind(call.as_str()).bind(*at_ms)]
        }
        AgentWrite::LegStarted {
            call,
            seq,
            agent,
            queue,
            at_ms,
        } => vec![sqlx::query(INSERT_LEG)
            .bind(call.as_str())
            .bind(*seq)
            .bind(agent.as_str())
            .bind(queue.as_deref())
            .bind(*at_ms)],
        AgentWrite::LegAnswered {
            call,
            seq,
            agent,
            at_ms,
        } => vec![
            sqlx::query(ANSWER_LEG)
                .bind(call.as_str())
                .bind(*seq)
                .bind(*at_ms),
            sqlx::query(CONNECT_CALL)
                .bind(call.as_str())
                .bind(agent.as_str())
                .bind(*at_ms),
        ],
        AgentWrite::LegEnded {
            call,
            seq,
            at_ms,
            cause,
            rtp,
        } => vec![sqlx::query(END_LEG)
            .bind(call.as_str())
            .bind(*seq)
            .bind(*at_ms)
            .bind(*cause)
            .bind(rtp.0)
            .bind(rtp.1)],
        AgentWrite::CallRtp { call, rtp } => vec![sqlx::query(SET_CALL_RTP)
            .bind(call.as_str())
            .bind(rtp.0)
            .bind(rtp.1)],
        AgentWrite::Disposition { call, code } => vec![sqlx::query(SET_DISPOSITION)
            .bind(call.as_str())
            .bind(code.as_str())],
    }
}

/// Why an agent could not be added or changed.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("agent ID {0:?} must be 1 to 16 digits")]
    BadId(String),
    #[error("extension {0:?} must be 1 to 32 letters, digits, '.', '-' or '_'")]
    BadExtension(String),
    #[error("the SIP password must be at least 8 characters")]
    WeakPassword,
    #[error("no agent {0}")]
    Unknown(String),
    #[error("agent ID or extension already in use")]
    Taken,
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn check_new(a: &NewAgent) -> Result<(), AgentError> {
    if a.id.is_empty() || a.id.len() > 16 || !a.id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AgentError::BadId(a.id.clone()));
    }
    let ext_ok = |c: char| c.is_ascii_alphanumeric() || ".-_".contains(c);
    if a.extension.is_empty() || a.extension.len() > 32 || !a.extension.chars().all(ext_ok) {
        return Err(AgentError::BadExtension(a.extension.clone()));
    }
    if a.password.chars().count() < 8 {
        return Err(AgentError::WeakPassword);
    }
    Ok(())
}

type RawAgent = (String, String, String, String, String, String);
/// Agents, their queues (agent, queue, penalty) and last states (agent, state, at, reason).
type AgentTables = (
    Vec<RawAgent>,
    Vec<(String, String, i64)>,
    Vec<(String, String, i64, String)>,
);

impl Store {
    /// Adds an agent with its queues.
    pub async fn add_agent(&self, a: &NewAgent, now_ms: i64) -> Result<(), AgentError> {
        check_new(a)?;
        let sha = ha1(Algorithm::Sha256, &a.extension, &a.realm, &a.password);
        let md5 = ha1(Algorithm::Md5, &a.extension, &a.realm, &a.password);
        let insert = "INSERT INTO agents (id, name, extension, ha1_sha256, ha1_md5, realm, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)";
        let member = "INSERT INTO agent_queues (agent_id, queue, penalty) VALUES ($1, $2, $3)";
        let result: Result<(), sqlx::Error> = on_db!(&self.db, pool => async {
            let mut tx = pool.begin().await?;
            sqlx::query(insert)
                .bind(&a.id).bind(&a.name).bind(&a.extension).bind(&sha).bind(&md5)
                .bind(&a.realm).bind(now_ms)
                .execute(&mut *tx).await?;
            for (q, penalty) in &a.queues {
                sqlx::query(member).bind(&a.id).bind(q).bind(i64::from(*penalty))
                    .execute(&mut *tx).await?;
            }
            tx.commit().await
        }.await);
        match result {
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(AgentError::Taken),
            other => Ok(other.map_err(StoreError::from)?),
        }
    }

    /// Sets a new SIP password (new HA1 values) for agent `id`.
    pub async fn set_agent_password(
        &self,
        id: &str,
        password: &str,
        realm: &str,
        now_ms: i64,
    ) -> Result<(), AgentError> {
        if password.chars().count() < 8 {
            return Err(AgentError::WeakPassword);
        }
        let agent = self
            .agent(id)
            .await?
            .ok_or_else(|| AgentError::Unknown(id.into()))?;
        let sha = ha1(Algorithm::Sha256, &agent.extension, realm, password);
        let md5 = ha1(Algorithm::Md5, &agent.extension, realm, password);
        let q = "UPDATE agents SET ha1_sha256 = $2, ha1_md5 = $3, realm = $4, updated_at = $5 \
             WHERE id = $1";
        on_db!(&self.db, pool => {
            sqlx::query(q).bind(id).bind(&sha).bind(&md5).bind(realm).bind(now_ms)
                .execute(pool).await.map_err(StoreError::from)?;
        });
        Ok(())
    }

    /// Removes agent `id` (its history stays in the state log and call legs).
    pub async fn remove_agent(&self, id: &str) -> Result<(), AgentError> {
        let rows = on_db!(&self.db, pool => async {
            let mut tx = pool.begin().await?;
            sqlx::query("DELETE FROM agent_queues WHERE agent_id = $1").bind(id)
                .execute(&mut *tx).await?;
            let done = sqlx::query("DELETE FROM agents WHERE id = $1").bind(id)
                .execute(&mut *tx).await?;
            tx.commit().await?;
            Ok::<u64, sqlx::Error>(done.rows_affected())
        }.await)
        .map_err(StoreError::from)?;
        if rows == 0 {
            return Err(AgentError::Unknown(id.into()));
        }
        Ok(())
    }

    /// One agent.
    pub async fn agent(&self, id: &str) -> Result<Option<AgentRow>, StoreError> {
        Ok(self.agents().await?.into_iter().find(|a| a.id == id))
    }

    /// Every agent with queues and last state, by agent ID.
    pub async fn agents(&self) -> Result<Vec<AgentRow>, StoreError> {
        let (agents, queues, states): AgentTables = on_db!(&self.db, pool => (
            sqlx::query_as("SELECT id, name, extension, ha1_sha256, ha1_md5, realm FROM agents ORDER BY id")
                .fetch_all(pool).await?,
            sqlx::query_as("SELECT agent_id, queue, CAST(penalty AS BIGINT) FROM agent_queues ORDER BY agent_id, penalty, queue")
                .fetch_all(pool).await?,
            sqlx::query_as("SELECT s.agent_id, s.state, s.at, s.reason FROM agent_states s \
                 WHERE NOT EXISTS (SELECT 1 FROM agent_states t WHERE t.agent_id = s.agent_id \
                 AND (t.at > s.at OR (t.at = s.at AND t.seq > s.seq)))")
                .fetch_all(pool).await?,
        ));
        Ok(agents
            .into_iter()
            .map(
                |(id, name, extension, ha1_sha256, ha1_md5, realm)| AgentRow {
                    queues: queues
                        .iter()
                        .filter(|(a, _, _)| *a == id)
                        .map(|(_, q, p)| (q.clone(), u32::try_from(*p).unwrap_or(0)))
                        .collect(),
                    state: states
                        .iter()
                        .find(|(a, ..)| *a == id)
                        .map(|(_, s, at, r)| (s.clone(), *at, r.clone())),
                    id,
                    name,
                    extension,
                    ha1_sha256,
                    ha1_md5,
                    realm,
                },
            )
            .collect())
    }

    /// Changes to the agents table show here: (count, last update), cheap to poll.
    pub async fn agents_version(&self) -> Result<(i64, i64), StoreError> {
        Ok(on_db!(&self.db, pool => {
            sqlx::query_as("SELECT COUNT(*), CAST(COALESCE(MAX(updated_at), 0) AS BIGINT) FROM agents")
                .fetch_one(pool).await?
        }))
    }

    /// Asks the running server to change an agent's state.
    pub async fn request_agent_state(
        &self,
        agent: &str,
        action: &str,
        reason: &str,
        now_ms: i64,
    ) -> Result<(), AgentError> {
        if self.agent(agent).await?.is_none() {
            return Err(AgentError::Unknown(agent.into()));
        }
        let q = "INSERT INTO agent_requests (agent_id, at, action, reason) VALUES ($1, $2, $3, $4)";
        on_db!(&self.db, pool => {
            sqlx::query(q).bind(agent).bind(now_ms).bind(action).bind(reason)
                .execute(pool).await.map_err(StoreError::from)?;
        });
        Ok(())
    }

    /// Requests not carried out yet, oldest first; they are marked done as they are read.
    /// A plain read first and a write only when there is something to mark, so the poll
    /// never holds a read snapshot that the call writer's commits would invalidate.
    pub async fn take_agent_requests(&self, now_ms: i64) -> Result<Vec<AgentRequest>, StoreError> {
        let rows: Vec<(i64, String, String, String)> = on_db!(&self.db, pool => {
            sqlx::query_as(
                "SELECT id, agent_id, action, reason FROM agent_requests WHERE done_at IS NULL ORDER BY id")
                .fetch_all(pool).await?
        });
        if let Some(last) = rows.last().map(|r| r.0) {
            on_db!(&self.db, pool => {
                sqlx::query("UPDATE agent_requests SET done_at = $1 WHERE done_at IS NULL AND id <= $2")
                    .bind(now_ms).bind(last).execute(pool).await?;
            });
        }
        Ok(rows
            .into_iter()
            .map(|(id, agent_id, action, reason)| AgentRequest {
                id,
                agent_id,
                action,
                reason,
            })
            .collect())
    }

    /// Registrations not yet expired at `now_ms`.
    pub async fn registrations(&self, now_ms: i64) -> Result<Vec<RegistrationRow>, StoreError> {
        let rows: Vec<(String, String, String, String, i64)> = on_db!(&self.db, pool => {
            sqlx::query_as("SELECT extension, contact, source, transport, expires_at \
                 FROM registrations WHERE expires_at > $1 ORDER BY extension, contact")
                .bind(now_ms).fetch_all(pool).await?
        });
        Ok(rows
            .into_iter()
            .map(
                |(extension, contact, source, transport, expires_at)| RegistrationRow {
                    extension,
                    contact,
                    source,
                    transport,
                    expires_at,
                },
            )
            .collect())
    }

    /// The legs of call `id`, in order.
    pub async fn legs(&self, id: &str) -> Result<Vec<LegRow>, StoreError> {
        type Raw = (
            i64,
            String,
            Option<String>,
            i64,
            Option<i64>,
            Option<i64>,
            Option<String>,
            Option<i64>,
            Option<i64>,
        );
        let rows: Vec<Raw> = on_db!(&self.db, pool => {
            sqlx::query_as("SELECT CAST(seq AS BIGINT), agent_id, queue, started_at, answered_at, ended_at, end_cause, rtp_received, rtp_sent \
                 FROM call_legs WHERE call_id = $1 ORDER BY seq")
                .bind(id).fetch_all(pool).await?
        });
        Ok(rows
            .into_iter()
            .map(
                |(
                    seq,
                    agent_id,
                    queue,
                    started_at,
                    answered_at,
                    ended_at,
                    end_cause,
                    rtp_received,
                    rtp_sent,
                )| LegRow {
                    seq,
                    agent_id,
                    queue,
                    started_at,
                    answered_at,
                    ended_at,
                    end_cause,
                    rtp_received,
                    rtp_sent,
                },
            )
            .collect())
    }

    /// RTP packets (received from, sent to) the caller of call `id`, once it has ended.
    pub async fn call_rtp(&self, id: &str) -> Result<Option<(i64, i64)>, StoreError> {
        let row: Option<(Option<i64>, Option<i64>)> = on_db!(&self.db, pool => {
            sqlx::query_as("SELECT rtp_received, rtp_sent FROM calls WHERE id = $1")
                .bind(id).fetch_optional(pool).await?
        });
        Ok(row.and_then(|(r, s)| Some((r?, s?))))
    }

    /// Sets or corrects the outcome code of call `id`.
    pub async fn set_disposition(&self, id: &str, code: &str) -> Result<(), StoreError> {
        self.apply(&[Write::Agent(AgentWrite::Disposition {
            call: id.into(),
            code: code.into(),
        })])
        .await
    }

    /// The agent columns of call `id`: (queued_at, agent, connected_at, disposition).
    #[allow(clippy::type_complexity)]
    pub async fn call_agent_columns(
        &self,
        id: &str,
    ) -> Result<Option<(Option<i64>, Option<String>, Option<i64>, Option<String>)>, StoreError>
    {
        Ok(on_db!(&self.db, pool => {
            sqlx::query_as("SELECT queued_at, agent, connected_at, disposition FROM calls WHERE id = $1")
                .bind(id).fetch_optional(pool).await?
        }))
    }
}
