//! `hotline calls outcome`: correcting call records after the fact.

use std::process::ExitCode;

use crate::config::Config;

/// The call-record commands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Sets or corrects the outcome code of a call.
    Outcome { call: String, code: String },
}

/// Runs `hotline calls ...` against the database of `config`.
pub fn run(config: &Config, command: Command) -> anyhow::Result<ExitCode> {
    super::with_store(config, async |store| match command {
        Command::Outcome { call, code } => {
            if store.call(&call).await?.is_none() {
                anyhow::bail!("no call {call}");
            }
            store.set_disposition(&call, &code).await?;
            println!("call {call}: outcome {code}");
            Ok(ExitCode::SUCCESS)
        }
    })
}
