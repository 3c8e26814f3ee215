//! `hotline customers import`: customers for verification, from a CSV.

use std::path::PathBuf;
use std::process::ExitCode;

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
            let n = crate::store::import_customers_csv(store, &file).await?;
            println!("{n} customers imported");
            Ok(ExitCode::SUCCESS)
        }),
    }
}
