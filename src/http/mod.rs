//! The HTTP surfaces, in the same binary and off unless `http_listen` is set: the JSON
//! API (`/api/v1`), the live wallboard (`/`), the follow-up desk (`/desk`), Prometheus
//! metrics (`/metrics`) and health (`/healthz`, `/readyz`).
//!
//! Nothing here decides about calls. Live figures come from the switchboard's
//! [`Live`] copies, which the runtime publishes on a watch channel; records come from the
//! store; follow-up actions go through [`crate::followup::desk`], as on the command line;
//! agents' state changes are requests the server picks up as it does the CLI's.

pub mod auth;
mod calls;
mod followups;
mod live;
mod pages;
pub mod problem;
mod system;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;
use tokio::sync::{mpsc, oneshot, watch};

use crate::followup::{ReportSettings, Rules};
use crate::ivr::Calendar;
use crate::store::Store;
use crate::switchboard::Live;

pub use live::{today_kpis, Today};

/// What the HTTP side asks of the running server.
#[derive(Debug)]
pub enum Control {
    /// Load the dial plans and queues again; answers how many plans are in force, or why
    /// the new ones were refused (the running ones stay).
    Reload(oneshot::Sender<Result<usize, String>>),
}

/// What `/readyz` reports besides the database.
#[derive(Debug, Default)]
pub struct Readiness {
    pub sip_bound: AtomicBool,
    pub plans_loaded: AtomicBool,
}

impl Readiness {
    pub fn set(&self, sip_bound: bool, plans_loaded: bool) {
        self.sip_bound.store(sip_bound, Ordering::Relaxed);
        self.plans_loaded.store(plans_loaded, Ordering::Relaxed);
    }
}

/// Everything the handlers share.
pub struct Setup {
    pub store: Store,
    pub live: watch::Receiver<Arc<Live>>,
    pub today: watch::Receiver<Arc<Today>>,
    pub control: mpsc::UnboundedSender<Control>,
    pub ready: Arc<Readiness>,
    /// Follow-up deadlines and the calendar they are counted on.
    pub rules: Rules,
    pub calendar: Calendar,
    pub reports: ReportSettings,
    /// Renders `/metrics`; `None`: metrics are off in this process.
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    /// Login cookies are marked `Secure` (HTTPS).
    pub secure_cookies: bool,
}

/// The handlers' shared state.
#[derive(Clone)]
pub struct App(Arc<Setup>);

impl std::ops::Deref for App {
    type Target = Setup;
    fn deref(&self) -> &Setup {
        &self.0
    }
}

/// `?show_numbers=true` on a single item: customers' numbers in full (masked by default,
/// as on the command line).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct Numbers {
    show_numbers: bool,
}

/// A list's page size from `?limit=`: 1 to 500, 50 when absent.
fn page_limit(limit: Option<u32>) -> Result<u32, problem::Problem> {
    let limit = limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(problem::Problem::bad_request("limit must be from 1 to 500"));
    }
    Ok(limit)
}

/// Every route, with the token check and request log around them.
pub fn router(setup: Setup) -> Router {
    let app = App(Arc::new(setup));
    let api = Router::new()
        .route("/openapi.json", get(system::openapi))
        .route("/live", get(live::board))
        .route("/live/events", get(live::events))
        .route("/queues", get(live::queues))
        .route("/agents", get(live::agents))
        .route("/agents/{id}/state", post(live::set_state))
        .route("/calls", get(calls::list))
        .route("/calls/{id}", get(calls::show))
        .route("/followups", get(followups::list))
        .route("/followups/{id}", get(followups::show))
        .route("/followups/{id}/{action}", post(followups::act))
        .route("/reports/{kind}/{period}", get(system::report))
        .route("/reload", post(system::reload));
    Router::new()
        .nest("/api/v1", api)
        .route("/", get(pages::wallboard))
        .route("/desk", get(pages::desk))
        .route("/login", get(pages::login_form).post(pages::login))
        .route("/logout", post(pages::logout))
        .route("/assets/{file}", get(pages::asset))
        .route("/metrics", get(system::metrics))
        .route("/healthz", get(system::healthz))
        .route("/readyz", get(system::readyz))
        .fallback(system::not_found)
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            auth::identify,
        ))
        .with_state(app)
}

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("TLS certificate {cert} / key {key}: {source}")]
    Tls {
        cert: PathBuf,
        key: PathBuf,
        source: std::io::Error,
    },
}

/// Serves `router` on `addr` (HTTPS with `tls`) until `stop` fires; returns the bound
/// address once listening, then runs.
pub async fn bind(
    addr: SocketAddr,
    tls: Option<(PathBuf, PathBuf)>,
    router: Router,
    stop: watch::Receiver<bool>,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>), HttpError> {
    let listener = std::net::TcpListener::bind(addr)
        .and_then(|l| l.set_nonblocking(true).map(|_| l))
        .map_err(|source| HttpError::Bind { addr, source })?;
    let bound = listener.local_addr().unwrap_or(addr);
    let handle = axum_server::Handle::new();
    let mut stop_rx = stop;
    let stopper = handle.clone();
    tokio::spawn(async move {
        while !*stop_rx.borrow() {
            if stop_rx.changed().await.is_err() {
                break;
            }
        }
        stopper.graceful_shutdown(Some(std::time::Duration::from_secs(2)));
    });
    let service = router.into_make_service();
    let task = match tls {
        Some((cert, key)) => {
            let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(&cert, &key)
                .await
                .map_err(|source| HttpError::Tls { cert, key, source })?;
            let server = axum_server::from_tcp_rustls(listener, config)
                .map_err(|source| HttpError::Bind { addr, source })?
                .handle(handle);
            tokio::spawn(async move {
                if let Err(e) = server.serve(service).await {
                    tracing::error!(%e, "https server stopped");
                }
            })
        }
        None => {
            let server = axum_server::from_tcp(listener)
                .map_err(|source| HttpError::Bind { addr, source })?
                .handle(handle);
            tokio::spawn(async move {
                if let Err(e) = server.serve(service).await {
                    tracing::error!(%e, "http server stopped");
                }
            })
        }
    };
    Ok((bound, task))
}
