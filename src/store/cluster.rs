//! A cluster's shared state on PostgreSQL: nodes' leases, which node holds which agent,
//! and the sweep of a dead node's leftovers (see `migrations/postgres/0010_cluster.sql`).
//!
//! Every statement here is one short transaction, so a node cut from the database stops
//! claiming at once and holds no lock that others would wait for.

use super::followups::NewFollowUp;
use super::{write_query, Db, Store, StoreError, Write};

/// A lease lasts three renewals: one or two late renewals are forgiven, a dead node is
/// found out within 6 s, and its leftovers are swept within the next sweep (2 s).
const JOIN: &str = "INSERT INTO cluster_nodes (node_id, epoch, sip_uri, joined_at, lease_until) \
     VALUES ($1, 1, $2, now(), now() + interval '6 seconds') \
     ON CONFLICT (node_id) DO UPDATE SET epoch = cluster_nodes.epoch + 1, \
     sip_uri = excluded.sip_uri, joined_at = now(), lease_until = excluded.lease_until \
     RETURNING epoch";
const RENEW: &str = "UPDATE cluster_nodes SET lease_until = now() + interval '6 seconds' \
     WHERE node_id = $1 AND epoch = $2 AND lease_until IS NOT NULL";
const EXPIRED: &str = "SELECT node_id FROM cluster_nodes WHERE lease_until < now() \
     ORDER BY node_id FOR UPDATE SKIP LOCKED";
const MARK_SWEPT: &str =
    "UPDATE cluster_nodes SET epoch = epoch + 1, lease_until = NULL WHERE node_id = $1";
/// Callers who were waiting for an agent: in a queue, never put through.
const WAITING: &str = "SELECT id, caller, customer, queue FROM calls \
     WHERE node_id = $1 AND ended_at IS NULL AND queued_at IS NOT NULL \
     AND connected_at IS NULL AND direction = 'inbound' ORDER BY arrived_at";
const CLOSE_CALLS: &str = "UPDATE calls SET ended_at = $2, ended_by = 'hotline', end_cause = $3 \
     WHERE node_id = $1 AND ended_at IS NULL";
const CLOSE_LEGS: &str =
    "UPDATE call_legs SET ended_at = $2, end_cause = $3 WHERE node_id = $1 AND ended_at IS NULL";
/// The node's agents become available again, noted in their state history (the seq
/// leaves room below for the node's own changes in the same millisecond).
const FREE_AGENTS: &str = "WITH freed AS (DELETE FROM agent_claims WHERE node_id = $1 \
     RETURNING agent_id) \
     INSERT INTO agent_states (agent_id, at, seq, state, reason) \
     SELECT agent_id, $2, 1000000, 'available', $3 FROM freed \
     ON CONFLICT (agent_id, at, seq) DO NOTHING";
/// Callers `w` on live nodes other than `$node` who wait for an agent, not yet offered to
/// anyone: the order guard of [`CLAIM`] and the places announced ([`WAITING_ELSEWHERE`])
/// see the same callers. A caller who left the queue for its overflow (timeline event
/// `queue`/`overflow`) but is still on the line waits no more.
macro_rules! waiting_on_other_nodes {
    ($node:literal) => {
        concat!(
            "FROM calls w JOIN cluster_nodes wn ON wn.node_id = w.node_id \
             AND wn.lease_until > now() \
             WHERE w.node_id <> ",
            $node,
            " AND w.ended_at IS NULL \
             AND w.queued_at IS NOT NULL AND w.connected_at IS NULL \
             AND NOT EXISTS (SELECT 1 FROM agent_claims o WHERE o.call_id = w.id) \
             AND NOT EXISTS (SELECT 1 FROM call_events e WHERE e.call_id = w.id \
               AND e.kind = 'queue' AND e.detail = 'overflow')"
        )
    };
}
/// Only a node with a live lease claims: one cut off from the database long enough to
/// be swept must rejoin first. And one queue is served in order across nodes: the claim
/// fails while a better caller of the same queue (higher priority, or as high and
/// waiting longer) waits on another live node for an agent of that queue; that node
/// takes the agent instead.
const CLAIM: &str = concat!(
    "INSERT INTO agent_claims (agent_id, node_id, call_id, state) \
     SELECT $1, $2, $3, 'ringing' FROM cluster_nodes \
     WHERE node_id = $2 AND lease_until > now() \
     AND NOT EXISTS (SELECT 1 ",
    waiting_on_other_nodes!("$2"),
    " AND EXISTS (SELECT 1 FROM calls mine WHERE mine.id = $3 AND w.queue = mine.queue \
       AND (COALESCE(w.priority, 0) > COALESCE(mine.priority, 0) \
         OR (COALESCE(w.priority, 0) = COALESCE(mine.priority, 0) \
             AND w.queued_at < mine.queued_at))) \
       AND EXISTS (SELECT 1 FROM agent_queues q WHERE q.agent_id = $1 AND q.queue = w.queue)) \
     ON CONFLICT (agent_id) DO NOTHING"
);
/// Keeps (or takes, for a call made without an offer) the node's claim; another node's
/// claim stays. An empty call id keeps the one claimed.
const HOLD: &str = "INSERT INTO agent_claims (agent_id, node_id, call_id, state) \
     VALUES ($1, $2, $3, $4) \
     ON CONFLICT (agent_id) DO UPDATE SET state = excluded.state, since = now(), \
     call_id = CASE WHEN excluded.call_id = '' THEN agent_claims.call_id \
     ELSE excluded.call_id END \
     WHERE agent_claims.node_id = excluded.node_id";
const RELEASE: &str = "DELETE FROM agent_claims WHERE agent_id = $1 AND node_id = $2 \
     AND ($3::text IS NULL OR call_id = $3)";
/// Each agent's latest state change, by whichever node made it (one index probe each).
const LATEST_STATES: &str = "SELECT a.id, s.state, s.reason, s.at FROM agents a \
     CROSS JOIN LATERAL (SELECT state, reason, at FROM agent_states \
     WHERE agent_id = a.id ORDER BY at DESC, seq DESC LIMIT 1) s ORDER BY a.id";
const CLAIMS: &str = "SELECT agent_id, node_id FROM agent_claims ORDER BY agent_id";
/// Callers waiting for an agent on the live nodes other than `$1`: queue, priority, when
/// they arrived (ms).
const WAITING_ELSEWHERE: &str = concat!(
    "SELECT w.queue, COALESCE(w.priority, 0), w.arrived_at ",
    waiting_on_other_nodes!("$1"),
    " AND w.queue IS NOT NULL AND w.direction = 'inbound'"
);

/// Where the database announces claims taken and let go: a channel per schema, named as
/// migration 0011 names it.
const CLAIMS_CHANNEL: &str = "SELECT left('hotline_claims:' || current_schema(), 63)";

/// Claims changing anywhere in the cluster, as the database announces them: a node wakes
/// on another's change instead of waiting for its next read. Announcements made while
/// the link is down are lost; the connection is made again on the next [`Self::next`].
pub struct ClaimsListener(sqlx::postgres::PgListener);

impl ClaimsListener {
    /// The node that took or let go of a claim next.
    pub async fn next(&mut self) -> Result<String, StoreError> {
        Ok(self.0.recv().await?.payload().to_string())
    }
}

/// A caller a node left waiting in a queue, to be called back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftWaiting {
    pub call_id: String,
    pub caller: String,
    pub customer: Option<String>,
    pub queue: Option<String>,
}

/// What one node's leftovers came to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Swept {
    pub node_id: String,
    /// Callback follow-ups made for callers left waiting.
    pub callbacks: u64,
    pub calls: u64,
    pub legs: u64,
    pub agents: u64,
}

/// How a held agent's claim moves on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimState {
    Ringing,
    OnCall,
    WrapUp,
}

impl ClaimState {
    pub fn as_str(self) -> &'static str {
        match self {
            ClaimState::Ringing => "ringing",
            ClaimState::OnCall => "on_call",
            ClaimState::WrapUp => "wrap_up",
        }
    }
}

impl Store {
    fn pg(&self) -> Result<&sqlx::PgPool, StoreError> {
        match &self.db {
            Db::Postgres(pool) => Ok(pool),
            Db::Sqlite(_) => Err(StoreError::NotClustered),
        }
    }

    /// Joins (or rejoins) the cluster as `node`, reached at `sip_uri`; returns the node's
    /// new epoch, which its renewals must name.
    pub async fn join_cluster(&self, node: &str, sip_uri: &str) -> Result<i64, StoreError> {
        let epoch = sqlx::query_scalar(JOIN)
            .bind(node)
            .bind(sip_uri)
            .fetch_one(self.pg()?)
            .await?;
        Ok(epoch)
    }

    /// Renews `node`'s lease; `false` when the node was swept meanwhile (fenced: another
    /// node has taken over its leftovers and it must rejoin).
    pub async fn renew_lease(&self, node: &str, epoch: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(RENEW)
            .bind(node)
            .bind(epoch)
            .execute(self.pg()?)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Sweeps every node whose lease ran out: its waiting callers become callback
    /// follow-ups (made by `callback`), its calls and legs are closed `node_lost`, its
    /// agents freed. Each node in one transaction; a node another sweeper is on is skipped.
    pub async fn sweep_dead_nodes(
        &self,
        now_ms: i64,
        callback: &(dyn Fn(&LeftWaiting) -> NewFollowUp + Sync),
    ) -> Result<Vec<Swept>, StoreError> {
        let pool = self.pg()?;
        let mut swept = Vec::new();
        loop {
            let mut tx = pool.begin().await?;
            let dead: Option<String> = sqlx::query_scalar(&format!("{EXPIRED} LIMIT 1"))
                .fetch_optional(&mut *tx)
                .await?;
            let Some(node) = dead else {
                return Ok(swept);
            };
            let s = sweep_in(&mut tx, &node, now_ms, "node_lost", callback).await?;
            sqlx::query(MARK_SWEPT)
                .bind(&node)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            swept.push(s);
        }
    }

    /// A node starting again under its old id takes over what its previous run left:
    /// as a sweep, with the cause `server_restart`.
    pub async fn take_over_leftovers(
        &self,
        node: &str,
        now_ms: i64,
        callback: &(dyn Fn(&LeftWaiting) -> NewFollowUp + Sync),
    ) -> Result<Swept, StoreError> {
        let mut tx = self.pg()?.begin().await?;
        let s = sweep_in(&mut tx, node, now_ms, "server_restart", callback).await?;
        tx.commit().await?;
        Ok(s)
    }

    /// Claims `agent` for `call` on `node`: `false` when another call (on any node) holds
    /// the agent already.
    pub async fn claim_agent(
        &self,
        agent: &str,
        node: &str,
        call: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(CLAIM)
            .bind(agent)
            .bind(node)
            .bind(call)
            .execute(self.pg()?)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// `node` holds `agent` in `state`, on call `call` (`None`: the call claimed).
    pub async fn hold_agent(
        &self,
        agent: &str,
        node: &str,
        call: Option<&str>,
        state: ClaimState,
    ) -> Result<(), StoreError> {
        sqlx::query(HOLD)
            .bind(agent)
            .bind(node)
            .bind(call.unwrap_or(""))
            .bind(state.as_str())
            .execute(self.pg()?)
            .await?;
        Ok(())
    }

    /// Lets go of `node`'s claim of `agent`: the one for `call` only (a claim for
    /// another call stays), or any (`None`).
    pub async fn release_agent(
        &self,
        agent: &str,
        node: &str,
        call: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(RELEASE)
            .bind(agent)
            .bind(node)
            .bind(call)
            .execute(self.pg()?)
            .await?;
        Ok(())
    }

    /// Each agent's latest state: (agent, state, reason, at ms), for nodes to mirror
    /// logins and pauses made on another node.
    pub async fn latest_agent_states(
        &self,
    ) -> Result<Vec<(String, String, String, i64)>, StoreError> {
        let states = sqlx::query_as(LATEST_STATES).fetch_all(self.pg()?).await?;
        Ok(states)
    }

    /// Every claim now: (agent, node holding it).
    pub async fn agent_claims(&self) -> Result<Vec<(String, String)>, StoreError> {
        let claims = sqlx::query_as(CLAIMS).fetch_all(self.pg()?).await?;
        Ok(claims)
    }

    /// Listens for claims taken and let go by any node (see [`ClaimsListener`]).
    pub async fn listen_claims(&self) -> Result<ClaimsListener, StoreError> {
        let pool = self.pg()?;
        let channel: String = sqlx::query_scalar(CLAIMS_CHANNEL).fetch_one(pool).await?;
        let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
        listener.listen(&channel).await?;
        Ok(ClaimsListener(listener))
    }

    /// Callers waiting for an agent on nodes other than `node`: (queue, priority, arrived
    /// at, ms).
    pub async fn waiting_elsewhere(
        &self,
        node: &str,
    ) -> Result<Vec<(String, i32, i64)>, StoreError> {
        let rows = sqlx::query_as(WAITING_ELSEWHERE)
            .bind(node)
            .fetch_all(self.pg()?)
            .await?;
        Ok(rows)
    }

    /// Extensions with a live registration at the edge (Kamailio's `location` table).
    pub async fn registered_at_edge(&self) -> Result<Vec<String>, StoreError> {
        let users = sqlx::query_scalar(
            "SELECT DISTINCT username FROM location WHERE expires > now() ORDER BY username",
        )
        .fetch_all(self.pg()?)
        .await?;
        Ok(users)
    }
}

/// One node's leftovers, inside `tx`.
async fn sweep_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    node: &str,
    now_ms: i64,
    cause: &str,
    callback: &(dyn Fn(&LeftWaiting) -> NewFollowUp + Sync),
) -> Result<Swept, StoreError> {
    let waiting: Vec<(String, String, Option<String>, Option<String>)> = sqlx::query_as(WAITING)
        .bind(node)
        .fetch_all(&mut **tx)
        .await?;
    let mut callbacks = 0;
    for (call_id, caller, customer, queue) in waiting {
        let f = callback(&LeftWaiting {
            call_id,
            caller,
            customer,
            queue,
        });
        let w = Write::FollowUp(Box::new(f));
        callbacks += write_query(&w).execute(&mut **tx).await?.rows_affected();
    }
    let close = |sql| {
        sqlx::query(sql)
            .bind(node.to_string())
            .bind(now_ms)
            .bind(cause.to_string())
    };
    let calls = close(CLOSE_CALLS).execute(&mut **tx).await?.rows_affected();
    let legs = close(CLOSE_LEGS).execute(&mut **tx).await?.rows_affected();
    let agents = close(FREE_AGENTS).execute(&mut **tx).await?.rows_affected();
    Ok(Swept {
        node_id: node.to_string(),
        callbacks,
        calls,
        legs,
        agents,
    })
}
