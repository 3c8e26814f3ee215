//! The browser pages — wallboard, desk, login — and their assets, embedded in the binary
//! so there is no build step and nothing to install beside it.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use serde::Deserialize;

use super::auth::{Holder, COOKIE};
use super::problem::Problem;
use super::App;
use crate::store::Role;

const HEAD: &str = include_str!("assets/head.html");
const WALLBOARD: &str = include_str!("assets/wallboard.html");
const DESK: &str = include_str!("assets/desk.html");
const LOGIN: &str = include_str!("assets/login.html");

/// A whole page: the head every page shares, `body`, the language switcher's script, then
/// the page's own script if it has one.
fn document(body: &str, script: Option<&str>) -> String {
    let own = script.map_or(String::new(), |s| {
        format!("<script src=\"/assets/{s}\"></script>\n")
    });
    format!("{HEAD}{body}<script src=\"/assets/i18n.js\"></script>\n{own}</body>\n</html>\n")
}

/// (name, content type, body) of each asset.
const ASSETS: &[(&str, &str, &str)] = &[
    ("app.css", "text/css", include_str!("assets/app.css")),
    ("i18n.js", "text/javascript", include_str!("assets/i18n.js")),
    (
        "wallboard.js",
        "text/javascript",
        include_str!("assets/wallboard.js"),
    ),
    ("desk.js", "text/javascript", include_str!("assets/desk.js")),
];

/// Text for an HTML page, with `<` `>` `&` `"` escaped.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A page for `holder` if their role reaches `role`; else to the login page (no token)
/// or a 403.
fn page(holder: Option<Holder>, role: Role, path: &str, html: String) -> Response {
    match holder {
        None => Redirect::to(&format!("/login?next={path}")).into_response(),
        Some(h) => match h.require(role) {
            Ok(()) => Html(html).into_response(),
            Err(p) => p.into_response(),
        },
    }
}

/// `GET /`: the wallboard (viewer).
pub async fn wallboard(holder: Option<Extension<Holder>>) -> Response {
    page(
        holder.map(|h| h.0),
        Role::Viewer,
        "/",
        document(WALLBOARD, Some("wallboard.js")),
    )
}

/// `GET /desk`: the follow-up desk (agent and up).
pub async fn desk(holder: Option<Extension<Holder>>) -> Response {
    let holder = holder.map(|h| h.0);
    let who = holder
        .as_ref()
        .map(|h| format!("{} · {}", h.name, h.role))
        .unwrap_or_default();
    page(
        holder,
        Role::Agent,
        "/desk",
        document(&DESK.replace("{{holder}}", &escape(&who)), Some("desk.js")),
    )
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Next {
    next: String,
}

/// Only a path on this site is a place to go after login.
fn local(next: &str) -> &str {
    // Browsers drop tabs and newlines from URLs, so "/\t/evil" would become "//evil".
    if next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && next.bytes().all(|b| b.is_ascii_graphic())
    {
        next
    } else {
        "/"
    }
}

fn login_page(status: StatusCode, error: &str, next: &str) -> Response {
    let body = LOGIN
        .replace("{{error}}", &escape(error))
        .replace("{{next}}", &escape(local(next)));
    let html = document(&body, None);
    (status, Html(html)).into_response()
}

/// `GET /login`.
pub async fn login_form(Query(q): Query<Next>) -> Response {
    login_page(StatusCode::OK, "", &q.next)
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    token: String,
    #[serde(default)]
    next: String,
}

/// `POST /login`: checks the token and keeps it in an HttpOnly cookie.
pub async fn login(State(app): State<App>, Form(form): Form<LoginForm>) -> Response {
    match app.store.token_holder(form.token.trim()).await {
        Ok(Some(t)) => {
            tracing::info!(target: "hotline::http", token = %t.name, "logged in");
            let secure = if app.secure_cookies { "; Secure" } else { "" };
            let cookie = format!(
                "{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age=604800{secure}",
                form.token.trim()
            );
            let mut r = Redirect::to(local(&form.next)).into_response();
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        }
        Ok(None) => login_page(
            StatusCode::UNAUTHORIZED,
            "unknown or revoked token",
            &form.next,
        ),
        Err(e) => Problem::from(e).into_response(),
    }
}

/// `POST /logout`: forgets the cookie.
pub async fn logout() -> Response {
    let mut r = Redirect::to("/login").into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("hotline_token=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    r
}

/// `GET /assets/{file}`: the pages' styles and scripts (no data in them, no token).
pub async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, kind, body)) => (
            [
                (header::CONTENT_TYPE, *kind),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            *body,
        )
            .into_response(),
        None => Problem::not_found(format!("no asset {file}")).into_response(),
    }
}
