//! Live figures: queues, agents and today's KPIs per queue — as JSON, and as a stream of
//! Server-Sent Events the wallboard listens to.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::auth::Holder;
use super::problem::Problem;
use super::App;
use crate::followup::ReportSettings;
use crate::report::{kpis_by_queue, Kpis, Period};
use crate::store::{now_ms, AgentError, Role, Store};
use crate::switchboard::{Live, LiveAgent, LiveCaller};

/// Today's figures, refreshed every few seconds from the records.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Today {
    /// The local day, `YYYY-MM-DD`.
    pub day: String,
    pub by_queue: BTreeMap<String, Kpis>,
    /// Agent ID → name, for the wallboard.
    #[serde(skip)]
    pub names: BTreeMap<String, String>,
}

/// Keeps `tx` up to date with today's KPIs per queue (in `tz`), every `every`.
pub async fn today_kpis(
    store: Store,
    settings: ReportSettings,
    tz: Tz,
    every: Duration,
    tx: watch::Sender<Arc<Today>>,
) {
    loop {
        let now = now_ms();
        let day = crate::followup::at(tz, now)
            .map(|t| t.date_naive().to_string())
            .unwrap_or_default();
        let figures = async {
            let period = Period::day(tz, &day).map_err(|e| e.to_string())?;
            let calls = store
                .report_calls(period.from_ms(), now + 1)
                .await
                .map_err(|e| e.to_string())?;
            let names = store.agent_names().await.map_err(|e| e.to_string())?;
            // A caller still waiting has neither met nor missed the service level yet.
            let settled: Vec<_> = calls
                .into_iter()
                .filter(|c| c.connected_at.is_some() || c.ended_at.is_some())
                .collect();
            Ok::<_, String>(Today {
                by_queue: kpis_by_queue(&settled, &settings, now),
                names: names.into_iter().collect(),
                day: day.clone(),
            })
        };
        match figures.await {
            Ok(today) => {
                tx.send_if_modified(|t| {
                    let changed = **t != today;
                    if changed {
                        *t = Arc::new(today);
                    }
                    changed
                });
            }
            // Kept: the last figures stay on the board; the next round tries again.
            Err(e) => tracing::warn!(error = %e, "today's figures not refreshed"),
        }
        if tx.is_closed() {
            return;
        }
        tokio::time::sleep(every).await;
    }
}

/// How often an open event stream checks that its token still holds.
const RECHECK_TOKEN: Duration = Duration::from_secs(30);

/// Agents in each state, for one queue.
#[derive(Debug, Default, Serialize)]
struct StateCounts {
    available: usize,
    ringing: usize,
    on_call: usize,
    wrap_up: usize,
    paused: usize,
}

/// One queue on the wallboard.
#[derive(Debug, Serialize)]
struct QueueBoard<'a> {
    name: &'a str,
    waiting: usize,
    longest_wait_secs: u64,
    callers: &'a [LiveCaller],
    agents: StateCounts,
    today: Option<&'a Kpis>,
    alert: &'a crate::acd::Alert,
    /// What crosses its threshold now: `service_level`, `longest_wait`.
    alerts: Vec<&'static str>,
}

#[derive(Debug, Serialize)]
struct AgentBoard<'a> {
    #[serde(flatten)]
    agent: &'a LiveAgent,
    name: Option<&'a str>,
}

/// The whole wallboard at one moment.
#[derive(Debug, Serialize)]
struct Board<'a> {
    as_of_ms: i64,
    day: &'a str,
    calls_active: usize,
    queues: Vec<QueueBoard<'a>>,
    agents: Vec<AgentBoard<'a>>,
}

fn figures<'a>(live: &'a Live, today: &'a Today, now: i64) -> Board<'a> {
    let queues = live
        .queues
        .iter()
        .map(|q| {
            let mut agents = StateCounts::default();
            for a in live.agents.iter().filter(|a| a.queues.contains(&q.name)) {
                match a.state {
                    "available" => agents.available += 1,
                    "ringing" => agents.ringing += 1,
                    "on_call" => agents.on_call += 1,
                    "wrap_up" => agents.wrap_up += 1,
                    "paused" => agents.paused += 1,
                    _ => {}
                }
            }
            let longest = q
                .waiting
                .iter()
                .map(|c| now.saturating_sub(c.queued_at_ms).max(0) as u64 / 1000)
                .max()
                .unwrap_or(0);
            let kpis = today.by_queue.get(&q.name);
            let mut alerts = Vec::new();
            let sl = kpis.and_then(|k| k.service_level);
            if q.alert.service_level_pct > 0
                && sl.is_some_and(|sl| sl * 100.0 < f64::from(q.alert.service_level_pct))
            {
                alerts.push("service_level");
            }
            let limit = q.alert.longest_wait.as_secs();
            if limit > 0 && longest > limit {
                alerts.push("longest_wait");
            }
            QueueBoard {
                name: &q.name,
                waiting: q.waiting.len(),
                longest_wait_secs: longest,
                callers: &q.waiting,
                agents,
                today: kpis,
                alert: &q.alert,
                alerts,
            }
        })
        .collect();
    Board {
        as_of_ms: now,
        day: &today.day,
        calls_active: live.calls_active,
        queues,
        agents: live
            .agents
            .iter()
            .filter(|a| a.state != "logged_out" || a.reachable)
            .map(|a| AgentBoard {
                agent: a,
                name: today.names.get(&a.id).map(String::as_str),
            })
            .collect(),
    }
}

fn board_json(app: &App) -> String {
    let live = app.live.borrow().clone();
    let today = app.today.borrow().clone();
    serde_json::to_string(&figures(&live, &today, now_ms())).unwrap_or_default()
}

/// `GET /api/v1/live`: the wallboard's figures.
pub async fn board(State(app): State<App>, holder: Holder) -> Result<Response, Problem> {
    holder.require(Role::Viewer)?;
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        board_json(&app),
    )
        .into_response())
}

/// `GET /api/v1/live/events`: the wallboard's figures as Server-Sent Events, sent on every
/// change and at least every second (waits grow while nothing happens).
pub async fn events(
    State(app): State<App>,
    holder: Holder,
    headers: axum::http::HeaderMap,
) -> Result<Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>>, Problem> {
    holder.require(Role::Viewer)?;
    let secret = super::auth::presented(&headers).map(|(s, _)| s);
    let (live, today) = (app.live.clone(), app.today.clone());
    let checked = tokio::time::Instant::now();
    let stream = futures_util::stream::unfold(
        (app, live, today, true, checked),
        move |(app, mut live, mut today, first, mut checked)| {
            let secret = secret.clone();
            async move {
                // A revoked token (or a logged-out browser's) stops receiving within this.
                if checked.elapsed() >= RECHECK_TOKEN {
                    checked = tokio::time::Instant::now();
                    let still = match &secret {
                        Some(s) => matches!(app.store.token_holder(s).await, Ok(Some(_))),
                        None => false,
                    };
                    if !still {
                        return None;
                    }
                }
                if !first {
                    // A closed channel: the server is stopping; so does the stream.
                    let open = tokio::select! {
                        r = live.changed() => r.is_ok(),
                        r = today.changed() => r.is_ok(),
                        _ = tokio::time::sleep(Duration::from_secs(1)) => true,
                    };
                    if !open {
                        return None;
                    }
                }
                live.mark_unchanged();
                today.mark_unchanged();
                let event = Event::default().event("board").data(board_json(&app));
                Some((Ok(event), (app, live, today, false, checked)))
            }
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// `GET /api/v1/queues`: each queue with its waiting callers (numbers masked).
pub async fn queues(State(app): State<App>, holder: Holder) -> Result<Json<Live>, Problem> {
    holder.require(Role::Viewer)?;
    let live = app.live.borrow().clone();
    Ok(Json(Live::clone(&live)))
}

/// `GET /api/v1/agents`: every agent with their live state.
pub async fn agents(
    State(app): State<App>,
    holder: Holder,
) -> Result<Json<Vec<LiveAgent>>, Problem> {
    holder.require(Role::Viewer)?;
    let live = app.live.borrow().clone();
    Ok(Json(live.agents.clone()))
}

#[derive(Debug, Deserialize)]
pub struct StateChange {
    /// `login`, `logout`, `pause` or `resume`.
    action: String,
    #[serde(default)]
    reason: String,
}

/// `POST /api/v1/agents/{id}/state`: the same request `hotline agents state` leaves for
/// the server; an agent may change their own state, a supervisor anyone's.
pub async fn set_state(
    State(app): State<App>,
    holder: Holder,
    Path(id): Path<String>,
    Json(change): Json<StateChange>,
) -> Result<axum::http::StatusCode, Problem> {
    if holder.agent_id.as_deref() != Some(id.as_str()) {
        holder.require(Role::Supervisor)?;
    }
    if !["login", "logout", "pause", "resume"].contains(&change.action.as_str()) {
        return Err(Problem::bad_request(format!(
            "action {:?}: login, logout, pause or resume",
            change.action
        )));
    }
    let reason = match (change.action.as_str(), change.reason.trim()) {
        ("pause", "") => "break".to_string(),
        (_, r) => r.to_string(),
    };
    match app
        .store
        .request_agent_state(&id, &change.action, &reason, now_ms())
        .await
    {
        Ok(()) => Ok(axum::http::StatusCode::ACCEPTED),
        Err(AgentError::Unknown(_)) => Err(Problem::not_found(format!("no agent {id}"))),
        Err(e) => Err(Problem::internal(&e)),
    }
}
