//! Health, readiness, metrics, the OpenAPI document, reports, reload and the 404.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use tokio::sync::oneshot;

use super::auth::Holder;
use super::problem::Problem;
use super::{App, Control};
use crate::report::{build, Kind, Period};
use crate::store::{now_ms, Role};

/// `GET /healthz`: the process answers. No token.
pub async fn healthz() -> &'static str {
    "ok\n"
}

#[derive(Debug, Serialize)]
struct Ready {
    ready: bool,
    database: bool,
    sip: bool,
    plans: bool,
}

/// `GET /readyz`: 200 when the database answers, SIP is bound and dial plans are loaded;
/// else 503 saying which. No token.
pub async fn readyz(State(app): State<App>) -> Response {
    let database = matches!(
        tokio::time::timeout(Duration::from_secs(2), app.store.ping()).await,
        Ok(Ok(()))
    );
    let sip = app
        .ready
        .sip_bound
        .load(std::sync::atomic::Ordering::Relaxed);
    let plans = app
        .ready
        .plans_loaded
        .load(std::sync::atomic::Ordering::Relaxed);
    let ready = database && sip && plans;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(Ready {
            ready,
            database,
            sip,
            plans,
        }),
    )
        .into_response()
}

/// `GET /metrics`: Prometheus text format (viewer token).
pub async fn metrics(State(app): State<App>, holder: Holder) -> Result<Response, Problem> {
    holder.require(Role::Viewer)?;
    let Some(handle) = &app.metrics else {
        return Err(Problem::unavailable("metrics are off in this process"));
    };
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle.render(),
    )
        .into_response())
}

/// The API's OpenAPI document, kept next to the routes it describes.
const OPENAPI: &str = include_str!("openapi.json");

/// `GET /api/v1/openapi.json`. No token: it describes, it does not reveal.
pub async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

/// `GET /api/v1/reports/{monthly|daily}/{YYYY-MM|YYYY-MM-DD}`: a report as JSON
/// (supervisor).
pub async fn report(
    State(app): State<App>,
    holder: Holder,
    Path((kind, period)): Path<(String, String)>,
) -> Result<Response, Problem> {
    holder.require(Role::Supervisor)?;
    let tz = app.calendar.time_zone();
    let (kind, period) = match kind.as_str() {
        "monthly" => (Kind::Monthly, Period::month(tz, &period)),
        "daily" => (Kind::Daily, Period::day(tz, &period)),
        _ => return Err(Problem::not_found("reports are monthly or daily")),
    };
    let period = period.map_err(Problem::bad_request)?;
    let report = build(&app.store, &app.reports, kind, period, now_ms()).await?;
    Ok(Json(report).into_response())
}

#[derive(Debug, Serialize)]
struct Reloaded {
    plans: usize,
}

/// `POST /api/v1/reload`: loads the dial plans and queues again (admin). A bad plan is
/// refused with its file, line and reason, and the running plans stay.
pub async fn reload(State(app): State<App>, holder: Holder) -> Result<Response, Problem> {
    holder.require(Role::Admin)?;
    let (tx, rx) = oneshot::channel();
    app.control
        .send(Control::Reload(tx))
        .map_err(|_| Problem::unavailable("the server is stopping"))?;
    match rx.await {
        Ok(Ok(plans)) => Ok(Json(Reloaded { plans }).into_response()),
        Ok(Err(why)) => Err(Problem::bad_request(why)),
        Err(_) => Err(Problem::unavailable("the server is stopping")),
    }
}

/// Any other path.
pub async fn not_found() -> Problem {
    Problem::not_found("no such page or API route")
}
