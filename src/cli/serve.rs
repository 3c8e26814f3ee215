//! `hotline serve`: answer calls until SIGINT or SIGTERM.

use std::process::ExitCode;

use crate::config::{Config, ConfigError};

/// Runs the server on `cfg` until a shutdown signal, then drains and stops. Refuses to
/// start without its dial plans or prompts folder, as `hotline check` reports them.
pub fn run(cfg: Config) -> anyhow::Result<ExitCode> {
    let missing = cfg.missing_folders();
    if !missing.is_empty() {
        return Err(ConfigError::Invalid(missing).into());
    }
    // Two sockets per call: lift the soft limit on open files as far as the hard one allows.
    if let Err(e) = rlimit::increase_nofile_limit(u64::MAX) {
        tracing::warn!(%e, "could not raise the open-file limit");
    }
    super::runtime()?.block_on(async {
        crate::runtime::run(cfg, shutdown_signal()).await?;
        tracing::info!("stopped");
        Ok(ExitCode::SUCCESS)
    })
}

/// SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing the SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
