//! The HTTP server's side of the core task: it publishes the switchboard's live state
//! for the wallboard, the API and the metrics, and takes the API's requests (reload) —
//! only when `http_listen` is set.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use super::{Board, RuntimeError};
use crate::config::Config;
use crate::http::{Control, Readiness, Setup, Today};
use crate::ivr::{Calendar, Plan};
use crate::store::Store;
use crate::switchboard::Live;

/// How often live state is copied out at most: often enough that a wallboard shows a
/// change within a second, rarely enough to cost nothing under load.
const PUBLISH_EVERY: Duration = Duration::from_millis(200);

pub(super) struct Surfaces {
    live: watch::Sender<Arc<Live>>,
    published: Instant,
    control: mpsc::UnboundedReceiver<Control>,
    /// Kept so `control` stays open (and pending) when there is no HTTP server.
    _control_tx: mpsc::UnboundedSender<Control>,
    pub ready: Arc<Readiness>,
    stop: watch::Sender<bool>,
    server: Option<tokio::task::JoinHandle<()>>,
}

/// The calendar follow-up deadlines count on: the plan `[followups] calendar` names, else
/// the first plan, else weekdays 09:00-18:00 (as the command line).
fn desk_calendar(cfg: &Config, plans: &[Arc<Plan>]) -> Calendar {
    crate::cli::calendar_plan(cfg, plans)
        .map(|p| p.calendar.clone())
        .unwrap_or_else(crate::cli::default_calendar)
}

impl Surfaces {
    /// Starts the HTTP server if `http_listen` is set, with `metrics` rendering /metrics.
    pub(super) async fn start(
        cfg: &Config,
        store: &Store,
        plans: &[Arc<Plan>],
        metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    ) -> Result<Surfaces, RuntimeError> {
        let (live, live_rx) = watch::channel(Arc::new(Live::default()));
        let (control_tx, control) = mpsc::unbounded_channel();
        let (stop, stop_rx) = watch::channel(false);
        let ready = Arc::new(Readiness::default());
        let mut surfaces = Surfaces {
            live,
            published: Instant::now(),
            control,
            _control_tx: control_tx.clone(),
            ready: ready.clone(),
            stop,
            server: None,
        };
        let Some(addr) = cfg.http_listen else {
            return Ok(surfaces);
        };
        let calendar = desk_calendar(cfg, plans);
        let (today_tx, today) = watch::channel(Arc::new(Today::default()));
        tokio::spawn(service_level_gauges(today.clone()));
        tokio::spawn(crate::http::today_kpis(
            store.clone(),
            cfg.reports,
            calendar.time_zone(),
            Duration::from_secs(5),
            today_tx,
        ));
        let router = crate::http::router(Setup {
            store: store.clone(),
            live: live_rx,
            today,
            control: control_tx,
            ready,
            rules: cfg.followups.clone(),
            calendar,
            reports: cfg.reports,
            metrics,
            secure_cookies: cfg.http_tls.is_some(),
        });
        let (bound, task) = crate::http::bind(addr, cfg.http_tls.clone(), router, stop_rx)
            .await
            .map_err(|e| RuntimeError::Http(e.to_string()))?;
        let scheme = if cfg.http_tls.is_some() {
            "https"
        } else {
            "http"
        };
        println!("hotline {scheme} on {bound}: wallboard /, desk /desk, API /api/v1, /metrics");
        surfaces.server = Some(task);
        Ok(surfaces)
    }

    /// Copies the switchboard's live state out, at most every [`PUBLISH_EVERY`] unless
    /// `now` is forced; readers are woken only when something changed. The gauges are
    /// set from the same copy, with or without an HTTP server to read it.
    pub(super) fn publish(&mut self, sb: &Board, now: Instant) {
        if now.duration_since(self.published) < PUBLISH_EVERY {
            return;
        }
        self.published = now;
        let live = sb.live();
        crate::metrics::live(&live, &self.live.borrow(), super::real_now().wall_ms);
        self.live.send_if_modified(|old| {
            let changed = **old != live;
            if changed {
                *old = Arc::new(live);
            }
            changed
        });
    }

    /// The next request from the API; pending forever without an HTTP server.
    pub(super) async fn request(&mut self) -> Option<Control> {
        self.control.recv().await
    }

    /// Stops the HTTP server (open event streams end within 2 s).
    pub(super) async fn stop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.server.take() {
            let _ = task.await;
        }
    }
}

/// Sets the service level gauges whenever today's figures change; a queue of yesterday's
/// figures that has none today (past midnight) shows no level rather than yesterday's.
async fn service_level_gauges(mut today: watch::Receiver<Arc<Today>>) {
    let mut shown: Vec<String> = Vec::new();
    while today.changed().await.is_ok() {
        let figures = today.borrow_and_update().clone();
        let gone = shown.iter().filter(|q| !figures.by_queue.contains_key(*q));
        let levels = figures.by_queue.iter().map(|(q, k)| (q, k.service_level));
        crate::metrics::service_levels(levels.chain(gone.map(|q| (q, None))));
        shown = figures.by_queue.keys().cloned().collect();
    }
}
