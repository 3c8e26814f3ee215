//! `/api/v1/calls`: call records, filtered and paged, through the same store queries as
//! `hotline calls list|show|export`. An agent's token reaches the agent's own calls.
//! Numbers are masked unless `show_numbers=true`.

use axum::extract::{Path, Query, State};
use axum::Json;
use serde::Deserialize;

use super::auth::Holder;
use super::problem::Problem;
use super::App;
use crate::ivr::action::mask;
use crate::report::time_bound;
use crate::store::{CallDetail, CallFilter, CallPage, Direction, Role};

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ListQuery {
    from: Option<String>,
    to: Option<String>,
    queue: Option<String>,
    agent: Option<String>,
    outcome: Option<String>,
    number: Option<String>,
    direction: Option<String>,
    limit: Option<u32>,
    after: Option<String>,
    show_numbers: bool,
}

/// `GET /api/v1/calls`: newest first; `next` pages on.
pub async fn list(
    State(app): State<App>,
    holder: Holder,
    Query(q): Query<ListQuery>,
) -> Result<Json<CallPage>, Problem> {
    holder.require(Role::Agent)?;
    let tz = app.calendar.time_zone();
    let bound = |text: &Option<String>, end: bool| {
        text.as_deref()
            .map(|t| time_bound(t, tz, end))
            .transpose()
            .map_err(Problem::bad_request)
    };
    let limit = super::page_limit(q.limit)?;
    let filter = CallFilter {
        from_ms: bound(&q.from, false)?,
        to_ms: bound(&q.to, true)?,
        queue: q.queue,
        agent: holder.only_agent().map(str::to_string).or(q.agent),
        outcome: q.outcome,
        number: q.number,
        direction: q
            .direction
            .as_deref()
            .map(str::parse::<Direction>)
            .transpose()
            .map_err(Problem::bad_request)?,
        limit,
        after: q
            .after
            .as_deref()
            .map(str::parse)
            .transpose()
            .map_err(|e| Problem::bad_request(format!("after: {e}")))?,
    };
    let mut page = app.store.calls(&filter).await?;
    if !q.show_numbers {
        for c in &mut page.calls {
            c.mask_numbers(mask);
        }
    }
    Ok(Json(page))
}

/// `GET /api/v1/calls/{id}`: one call with its timeline, legs and survey answers.
pub async fn show(
    State(app): State<App>,
    holder: Holder,
    Path(id): Path<String>,
    Query(q): Query<super::Numbers>,
) -> Result<Json<CallDetail>, Problem> {
    holder.require(Role::Agent)?;
    let not_found = || Problem::not_found(format!("no call {id}"));
    let mut detail = app.store.call_detail(&id).await?.ok_or_else(not_found)?;
    if let Some(agent) = holder.only_agent() {
        let theirs = detail.call.agent.as_deref() == Some(agent)
            || detail
                .legs
                .iter()
                .any(|l| l.agent == agent && l.answered_at.is_some());
        if !theirs {
            return Err(not_found());
        }
    }
    if !q.show_numbers {
        detail.call.mask_numbers(mask);
    }
    Ok(Json(detail))
}
