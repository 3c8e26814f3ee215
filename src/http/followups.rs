//! `/api/v1/followups`: the work list over HTTP, through the same
//! [`Desk`](crate::followup::desk::Desk) as `hotline followups`. An agent's token reaches
//! the follow-ups the agent owns; a supervisor's reaches all. Numbers are masked unless
//! `show_numbers=true`, as on the command line.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::auth::Holder;
use super::problem::Problem;
use super::App;
use crate::followup::desk::{Desk, DeskError, Item, ListFilter, View};
use crate::followup::{Change, RevisitResult};
use crate::ivr::action::mask;
use crate::store::{now_ms, FollowUpKind, FollowUpRow, Role};

impl From<DeskError> for Problem {
    fn from(e: DeskError) -> Problem {
        match e {
            DeskError::NotFound(_) => Problem::not_found(e.to_string()),
            DeskError::Refused(_) => Problem::bad_request(e.to_string()),
            DeskError::Changed(_) | DeskError::NotAllowed(_) | DeskError::Verdict(_) => {
                Problem::conflict(e.to_string())
            }
            DeskError::Store(e) => Problem::from(e),
        }
    }
}

fn desk(app: &App) -> Desk<'_> {
    Desk {
        store: &app.store,
        rules: &app.rules,
        calendar: &app.calendar,
        now_ms: now_ms(),
    }
}

/// Whether `holder` may see or act on `f`.
fn reaches(holder: &Holder, f: &FollowUpRow) -> bool {
    match holder.only_agent() {
        Some(agent) => f.owner.as_deref() == Some(agent),
        None => true,
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ListQuery {
    overdue: bool,
    kind: Option<String>,
    owner: Option<String>,
    all: bool,
    show_numbers: bool,
    /// At most this many (1-500, default 50).
    limit: Option<u32>,
    /// The `next` of the previous page.
    after: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `after` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

fn view(
    app: &App,
    item: &Item,
    detail: Option<&crate::followup::desk::Detail>,
    show: bool,
) -> View {
    let number = |n: &str| if show { n.to_string() } else { mask(n) };
    View::of(item, detail, app.calendar.time_zone(), now_ms(), number)
}

/// `GET /api/v1/followups`: the work list, most urgent first.
pub async fn list(
    State(app): State<App>,
    holder: Holder,
    Query(q): Query<ListQuery>,
) -> Result<Json<Page<View>>, Problem> {
    holder.require(Role::Agent)?;
    let kind = match q.kind.as_deref() {
        None | Some("") => None,
        Some(k) => Some(FollowUpKind::parse(k).ok_or_else(|| {
            Problem::bad_request(format!("kind {k:?}: callback, complaint or revisit"))
        })?),
    };
    let filter = ListFilter {
        overdue: q.overdue,
        kind,
        owner: holder.only_agent().map(str::to_string).or(q.owner),
        all: q.all,
    };
    let limit = super::page_limit(q.limit)? as usize;
    let skip = match q.after.as_deref() {
        None => 0,
        Some(a) => a
            .parse::<usize>()
            .map_err(|_| Problem::bad_request("after: pass the `next` of the previous page"))?,
    };
    let items = desk(&app).list(&filter).await?;
    let total = items.len();
    let page: Vec<View> = items
        .iter()
        .skip(skip)
        .take(limit)
        .map(|i| view(&app, i, None, q.show_numbers))
        .collect();
    let end = skip.saturating_add(limit);
    let next = (end < total).then(|| end.to_string());
    Ok(Json(Page { items: page, next }))
}

/// `GET /api/v1/followups/{id}`: one follow-up with its notes and call attempts.
pub async fn show(
    State(app): State<App>,
    holder: Holder,
    Path(id): Path<String>,
    Query(q): Query<super::Numbers>,
) -> Result<Json<View>, Problem> {
    holder.require(Role::Agent)?;
    let d = desk(&app).show(&id).await?;
    if !reaches(&holder, &d.item.row) {
        return Err(DeskError::NotFound(id).into());
    }
    Ok(Json(view(&app, &d.item, Some(&d), q.show_numbers)))
}

/// The body of `POST /api/v1/followups/{id}/{action}`; each action reads its own fields.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ActionBody {
    /// forward: the department.
    to: Option<String>,
    /// note: the text; revisit: a line for the history.
    text: Option<String>,
    /// resolve: the resolution code.
    outcome: Option<String>,
    /// close: why a complaint without a revisit result is closed anyway.
    reason: Option<String>,
    /// revisit: the customer's verdict.
    satisfied: Option<bool>,
    /// call: the agent to make it.
    agent: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Done {
    id: String,
    action: String,
    /// What happened, in words.
    result: String,
}

/// `POST /api/v1/followups/{id}/{action}`: forward, note, contact, answer, resolve, close,
/// revisit or call — the same rules as `hotline followups`.
pub async fn act(
    State(app): State<App>,
    holder: Holder,
    Path((id, action)): Path<(String, String)>,
    body: Option<Json<ActionBody>>,
) -> Result<(StatusCode, Json<Done>), Problem> {
    holder.require(Role::Agent)?;
    let body = body.map(|Json(b)| b).unwrap_or_default();
    let desk = desk(&app);
    let f = desk.find(&id).await?;
    if !reaches(&holder, &f) {
        return Err(DeskError::NotFound(id).into());
    }
    let by = holder.name.as_str();
    let need = |v: Option<String>, what: &str| {
        v.filter(|s| !s.trim().is_empty())
            .ok_or_else(|| Problem::bad_request(format!("{action} needs {what}")))
    };
    let change = |c: Change| async {
        let note = c.note();
        let revisit = desk.change(&id, c, by).await?;
        Ok::<_, Problem>(match revisit {
            Some(r) => format!("{note}; revisit {} created", r.id),
            None => note,
        })
    };
    let result = match action.as_str() {
        "forward" => {
            change(Change::Forward {
                department: need(body.to, "\"to\": the department")?,
            })
            .await?
        }
        "note" => {
            desk.note(&id, by, &need(body.text, "\"text\"")?).await?;
            "note added".to_string()
        }
        "contact" => change(Change::Contact).await?,
        "answer" => change(Change::Answer).await?,
        "resolve" => {
            change(Change::Resolve {
                outcome: need(body.outcome, "\"outcome\": the resolution code")?,
            })
            .await?
        }
        "close" => {
            if body.reason.is_some() {
                holder.require(Role::Supervisor)?;
            }
            change(Change::Close {
                forced: body.reason,
            })
            .await?
        }
        "revisit" => {
            let result = match body.satisfied {
                Some(true) => RevisitResult::Satisfied,
                Some(false) => RevisitResult::Unsatisfied,
                None => {
                    return Err(Problem::bad_request(
                        "revisit needs \"satisfied\": true or false",
                    ))
                }
            };
            let v = desk.revisit(&id, result, body.text, by).await?;
            match v.reopened {
                Some((status, urgency)) => format!(
                    "customer {}; complaint {} reopened ({}), urgency {urgency}",
                    result.as_str(),
                    v.complaint,
                    status.as_str()
                ),
                None => format!(
                    "customer {}; complaint {} may now be closed",
                    result.as_str(),
                    v.complaint
                ),
            }
        }
        "call" => {
            let agent = holder.only_agent().map(str::to_string).or(body.agent);
            desk.request_call(&id, agent.as_deref(), by).await?;
            "call requested; the server places it when an agent is free".to_string()
        }
        _ => {
            return Err(Problem::not_found(format!(
            "no action {action:?}: forward, note, contact, answer, resolve, close, revisit or call"
        )))
        }
    };
    tracing::info!(target: "hotline::http", token = %holder.name, followup = %id, %action, "follow-up changed");
    Ok((StatusCode::OK, Json(Done { id, action, result })))
}
