//! A cluster node's dealings with the shared PostgreSQL: its lease (renewed every 2 s),
//! the switchboard's claims on agents (one ordered task, so a claim, its hold and its
//! release reach the database in the order they were decided), a read of the cluster
//! every second and whenever another node announces a claim taken or let go, and the
//! sweep of dead nodes' leftovers every 2 s.
//!
//! Every database call has a 1 s deadline: a node cut from the database stops claiming
//! at once (a claim that times out is lost, so the caller waits for another agent).

use super::Event;
use crate::config::Cluster;
use crate::followup::{due_times, Rules};
use crate::ivr::calendar::Calendar;
use crate::store::{FollowUpKind, LeftWaiting, NewFollowUp, Store, StoreError};
use crate::switchboard::{ClusterCmd, ClusterView};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinHandle;

const RENEW_EVERY: Duration = Duration::from_secs(2);
const READ_EVERY: Duration = Duration::from_secs(1);
const SWEEP_EVERY: Duration = Duration::from_secs(2);
/// Longest wait for the database on a cluster path.
const DEADLINE: Duration = Duration::from_secs(1);

/// Makes the callback follow-up for a caller a node left waiting.
pub(super) type Callbacks = Arc<dyn Fn(&LeftWaiting) -> NewFollowUp + Send + Sync>;

/// The running cluster tasks; dropped (aborted) at shutdown.
pub(super) struct Node {
    pub cmds: mpsc::UnboundedSender<ClusterCmd>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Node {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// The follow-ups for callers left waiting: a callback due as the rules say on
/// `calendar`, one per call (its id is made from the call's, so a second sweep adds none).
pub(super) fn callbacks(rules: Rules, calendar: Calendar) -> Callbacks {
    Arc::new(move |w: &LeftWaiting| {
        let mut f = NewFollowUp::new(
            FollowUpKind::Callback,
            w.caller.clone(),
            crate::store::now_ms(),
        );
        f.id = format!("lost-{}", w.call_id);
        f.category = "callback".to_string();
        f.call_id = Some(w.call_id.clone());
        f.customer = w.customer.clone();
        due_times(&rules, &calendar, f.kind, &f.category, f.created_at, None).apply(&mut f);
        f
    })
}

/// Joins the cluster and takes over what an earlier run under the same id left, before
/// any call is taken; then starts the node's tasks.
pub(super) async fn start(
    store: &Store,
    cluster: &Cluster,
    sip_uri: String,
    callbacks: Callbacks,
    inputs: mpsc::UnboundedSender<Event>,
) -> Result<Node, StoreError> {
    let node = cluster.node_id.clone();
    let epoch = store.join_cluster(&node, &sip_uri).await?;
    let left = store
        .take_over_leftovers(&node, crate::store::now_ms(), &*callbacks)
        .await?;
    if left.calls + left.legs + left.agents > 0 {
        tracing::warn!(
            calls = left.calls,
            legs = left.legs,
            agents = left.agents,
            callbacks = left.callbacks,
            "closed what a previous run of this node left (end cause server_restart)"
        );
    }
    tracing::info!(%node, epoch, %sip_uri, "joined the cluster");
    let (cmds, rx) = mpsc::unbounded_channel();
    let wake = Arc::new(Notify::new());
    let tasks = vec![
        tokio::spawn(renew(store.clone(), node.clone(), sip_uri, epoch)),
        tokio::spawn(commands(store.clone(), node.clone(), rx, inputs.clone())),
        tokio::spawn(listen(store.clone(), node.clone(), wake.clone())),
        tokio::spawn(read(store.clone(), node.clone(), inputs, wake)),
        tokio::spawn(sweep(store.clone(), callbacks)),
    ];
    Ok(Node { cmds, tasks })
}

/// `op` within the deadline; a timeout is an error like any other.
async fn timely<T>(op: impl Future<Output = Result<T, StoreError>>) -> Result<T, String> {
    match tokio::time::timeout(DEADLINE, op).await {
        Ok(Ok(t)) => Ok(t),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {} s", DEADLINE.as_secs())),
    }
}

/// Renews the lease. Swept meanwhile (cut off too long): another node closed this node's
/// calls and freed its agents, so it rejoins under a new epoch and goes on.
async fn renew(store: Store, node: String, sip_uri: String, mut epoch: i64) {
    let mut tick = tokio::time::interval(RENEW_EVERY);
    loop {
        tick.tick().await;
        match timely(store.renew_lease(&node, epoch)).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::error!(%node, epoch, "this node's lease ran out and it was swept; rejoining");
                match timely(store.join_cluster(&node, &sip_uri)).await {
                    Ok(e) => epoch = e,
                    Err(e) => tracing::warn!(%e, "cannot rejoin the cluster; trying again"),
                }
            }
            Err(e) => tracing::warn!(%e, "cannot renew the cluster lease; trying again"),
        }
    }
}

/// Carries out the switchboard's claims in order.
async fn commands(
    store: Store,
    node: String,
    mut rx: mpsc::UnboundedReceiver<ClusterCmd>,
    inputs: mpsc::UnboundedSender<Event>,
) {
    while let Some(cmd) = rx.recv().await {
        match cmd {
            ClusterCmd::Claim {
                call,
                record,
                agent,
            } => {
                let won = match timely(store.claim_agent(&agent, &node, &record)).await {
                    Ok(won) => won,
                    Err(e) => {
                        tracing::warn!(%agent, %e, "cannot claim the agent; offering elsewhere");
                        false
                    }
                };
                if inputs.send(Event::Claimed(call, agent, won)).is_err() {
                    return;
                }
            }
            ClusterCmd::Hold {
                agent,
                record,
                state,
            } => {
                let hold = store.hold_agent(&agent, &node, record.as_deref(), state);
                if let Err(e) = timely(hold).await {
                    let state = state.as_str();
                    tracing::warn!(%agent, state, %e, "cannot note the agent's state in the cluster");
                }
            }
            // A lost release is made good by the next read (`Input::Cluster`).
            ClusterCmd::Release { agent, record } => {
                let release = store.release_agent(&agent, &node, record.as_deref());
                if let Err(e) = timely(release).await {
                    tracing::warn!(%agent, %e, "cannot release the agent in the cluster");
                }
            }
        }
    }
}

/// Wakes the read when another node takes or lets go of a claim, so an agent freed there
/// is offered here at once; the read's own tick covers what the link loses.
async fn listen(store: Store, node: String, wake: Arc<Notify>) {
    loop {
        match timely(store.listen_claims()).await {
            Ok(mut claims) => loop {
                match claims.next().await {
                    Ok(from) if from != node => wake.notify_one(),
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(%e, "lost the cluster's claim announcements; listening again");
                        break;
                    }
                }
            },
            Err(e) => tracing::warn!(%e, "cannot listen for the cluster's claims; trying again"),
        }
        tokio::time::sleep(READ_EVERY).await;
    }
}

/// Reads which phones are registered at the edge and who holds which agent, and tells
/// the switchboard when that changed: every second, and at once when woken.
async fn read(store: Store, node: String, inputs: mpsc::UnboundedSender<Event>, wake: Arc<Notify>) {
    let mut tick = tokio::time::interval(READ_EVERY);
    let mut last = None;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = wake.notified() => tick.reset(),
        }
        let view = async {
            let registered = store.registered_at_edge().await?;
            let claims = store.agent_claims().await?;
            let states = store.latest_agent_states().await?;
            let waiting = store.waiting_elsewhere(&node).await?;
            let (mine, elsewhere): (Vec<_>, Vec<_>) =
                claims.into_iter().partition(|(_, n)| *n == node);
            Ok(ClusterView {
                registered,
                elsewhere: elsewhere.into_iter().map(|(a, _)| a).collect(),
                mine: mine.into_iter().map(|(a, _)| a).collect(),
                states,
                waiting,
            })
        };
        match timely(view).await {
            Ok(view) if last.as_ref() != Some(&view) => {
                last = Some(view.clone());
                if inputs.send(Event::Cluster(view)).is_err() {
                    return;
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(%e, "cannot read the cluster's state; trying again"),
        }
    }
}

/// Sweeps nodes whose lease ran out (any node may; each dead node is swept once).
async fn sweep(store: Store, callbacks: Callbacks) {
    let mut tick = tokio::time::interval(SWEEP_EVERY);
    loop {
        tick.tick().await;
        let swept = store.sweep_dead_nodes(crate::store::now_ms(), &*callbacks);
        match tokio::time::timeout(DEADLINE * 10, swept).await {
            Ok(Ok(nodes)) => {
                for s in nodes {
                    tracing::warn!(
                        node = %s.node_id,
                        calls = s.calls,
                        legs = s.legs,
                        agents = s.agents,
                        callbacks = s.callbacks,
                        "a node's lease ran out: its calls closed (node_lost), its agents freed, its waiting callers to be called back"
                    );
                }
            }
            Ok(Err(e)) => tracing::warn!(%e, "cannot sweep dead nodes; trying again"),
            Err(_) => tracing::warn!("sweeping dead nodes took too long; trying again"),
        }
    }
}
