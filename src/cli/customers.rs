//! `hotline customers import`: customers for verification, from a CSV.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::config::Config;

/// The customer commands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Imports a CSV (account,name,pin,id_last_digits,phones,vip); secrets are hashed on
    /// the way in.
    Import { file: PathBuf },
}

/// Runs `hotline customers ...` against the database of `config`.
pub fn run(config: &Config, command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Import { file } => super::with_store(config, async |store| {
            let bar = progress_bar();
            let shown = bar.clone();
            let progress = Arc::new(move |done: usize, total: usize| {
                shown.set_length(total as u64);
                shown.set_position(done as u64);
            });
            let result = crate::store::import_customers_csv_with(store, &file, progress).await;
            bar.finish_and_clear();
            let n = result?;
            println!("{n} customers imported");
            Ok(ExitCode::SUCCESS)
        }),
    }
}

/// A bar on standard error while the secrets are hashed (a few hundred customers take
/// seconds); hidden when standard error is not a terminal, so logs and pipes get only the
/// final count.
fn progress_bar() -> ProgressBar {
    let target = match std::io::stderr().is_terminal() {
        true => ProgressDrawTarget::stderr(),
        false => ProgressDrawTarget::hidden(),
    };
    let bar = ProgressBar::with_draw_target(None, target);
    if let Ok(style) =
        ProgressStyle::with_template("hashing secrets {bar:30} {pos}/{len} customers, {eta} left")
    {
        bar.set_style(style);
    }
    bar
}
