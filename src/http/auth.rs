//! Who is asking: a token sent as `Authorization: Bearer …` (API clients) or in the
//! `hotline_token` cookie the login page sets (browsers: an EventSource cannot send
//! headers). Every request is logged with the token's name, never the token.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::{header, request::Parts, HeaderMap};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::problem::Problem;
use super::App;
use crate::store::Role;

/// The cookie the login page sets.
pub const COOKIE: &str = "hotline_token";

/// The holder of the token a request came with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub name: String,
    pub role: Role,
    /// An agent's token: the agent.
    pub agent_id: Option<String>,
}

impl Holder {
    /// Refuses with 403 unless the token's role is at least `role`.
    pub fn require(&self, role: Role) -> Result<(), Problem> {
        if self.role >= role {
            Ok(())
        } else {
            Err(Problem::forbidden(format!(
                "token {:?} has role {}; this needs {role}",
                self.name, self.role
            )))
        }
    }

    /// The agent this token is limited to (role agent), `None` for supervisors and up.
    pub fn only_agent(&self) -> Option<&str> {
        match self.role {
            Role::Agent => self.agent_id.as_deref(),
            _ => None,
        }
    }
}

/// Where a request's token came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum From {
    Header,
    Cookie,
}

/// The token a request presents, from the header or else the cookie.
pub(super) fn presented(headers: &HeaderMap) -> Option<(String, From)> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| (t.trim().to_string(), From::Header));
    bearer.or_else(|| {
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .find_map(|kv| kv.trim().strip_prefix(COOKIE)?.strip_prefix('='))
            .map(|t| (t.to_string(), From::Cookie))
    })
}

/// Finds the holder of the request's token, runs the request, and logs it.
pub async fn identify(State(app): State<App>, mut req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let holder = match presented(req.headers()) {
        None => None,
        Some((secret, from)) => match app.store.token_holder(&secret).await {
            Ok(Some(t)) => Some(Holder {
                name: t.name,
                role: t.role,
                agent_id: t.agent_id,
            }),
            // A stale cookie only means "not logged in", so the login page stays
            // reachable; a client sending a bad bearer token is told so.
            Ok(None) if from == From::Cookie => None,
            Ok(None) => {
                tracing::warn!(target: "hotline::http", %method, %path, "unknown or revoked token");
                return Problem::unauthorized("unknown or revoked token").into_response();
            }
            Err(e) => return Problem::from(e).into_response(),
        },
    };
    let name = holder.as_ref().map_or("-".to_string(), |h| h.name.clone());
    if let Some(h) = holder {
        req.extensions_mut().insert(h);
    }
    let response = next.run(req).await;
    tracing::info!(
        target: "hotline::http",
        token = %name,
        %method,
        %path,
        status = response.status().as_u16(),
        "request"
    );
    response
}

impl<S: Send + Sync> FromRequestParts<S> for Holder {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Holder, Problem> {
        parts.extensions.get::<Holder>().cloned().ok_or_else(|| {
            Problem::unauthorized("send Authorization: Bearer TOKEN (made with hotline tokens add)")
        })
    }
}
