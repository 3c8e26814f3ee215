//! The `hotline` command: serve, check, migrate.

use anyhow::Context;
use clap::{Parser, Subcommand};
use hotline::config::Overrides;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "hotline",
    version,
    about = "Call handling and IVR for customer-service hotlines"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Answer calls.
    Serve(Overrides),
    /// Check the configuration without starting; one line per problem.
    Check(Overrides),
    /// Customers for verification (test data and small sites).
    Customers {
        #[command(subcommand)]
        command: CustomersCommand,
    },
    /// Create or update the database schema.
    Migrate {
        /// Database URL, sqlite:// or postgres://.
        #[arg(long, env = "HOTLINE_DATABASE", default_value = "sqlite://hotline.db")]
        database: String,
    },
}

#[derive(Subcommand)]
enum CustomersCommand {
    /// Imports a CSV (account,name,pin,id_last_digits,phones,vip); secrets are hashed on
    /// the way in.
    Import {
        file: std::path::PathBuf,
        /// Database URL, sqlite:// or postgres://.
        #[arg(long, env = "HOTLINE_DATABASE", default_value = "sqlite://hotline.db")]
        database: String,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(o) => serve(o),
        Command::Check(o) => check(o),
        Command::Migrate { database } => migrate(database),
        Command::Customers {
            command: CustomersCommand::Import { file, database },
        } => import_customers(file, database),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("hotline: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn serve(o: Overrides) -> anyhow::Result<ExitCode> {
    let cfg = o.load()?;
    // Two sockets per call: lift the soft limit on open files as far as the hard one allows.
    if let Err(e) = rlimit::increase_nofile_limit(u64::MAX) {
        tracing::warn!(%e, "could not raise the open-file limit");
    }
    runtime()?.block_on(async {
        hotline::runtime::run(cfg, shutdown_signal()).await?;
        tracing::info!("stopped");
        Ok(ExitCode::SUCCESS)
    })
}

fn check(o: Overrides) -> anyhow::Result<ExitCode> {
    match o.load() {
        Ok(cfg) => {
            let mut problems = Vec::new();
            for (name, dir) in [("dialplans", &cfg.dialplans), ("prompts", &cfg.prompts)] {
                if !dir.is_dir() {
                    problems.push(format!("{name}: folder {} does not exist", dir.display()));
                }
            }
            let prompts = if cfg.prompts.is_dir() {
                problems.extend(hotline::core::media::prompt::check(&cfg.prompts));
                hotline::core::media::prompt::PromptSet::load(&cfg.prompts).ok()
            } else {
                None
            };
            if cfg.dialplans.is_dir() {
                let (_, errors) = hotline::ivr::load_dir(&cfg.dialplans, prompts.as_ref());
                problems.extend(errors.iter().map(|e| e.to_string()));
            }
            for p in &problems {
                println!("{p}");
            }
            if problems.is_empty() {
                println!("configuration ok");
                Ok(ExitCode::SUCCESS)
            } else {
                Ok(ExitCode::FAILURE)
            }
        }
        Err(e) => {
            println!("{e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

fn migrate(database: String) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        hotline::store::Store::migrate(&database)
            .await
            .with_context(|| format!("migrating {database}"))?;
        println!("database schema up to date");
        Ok(ExitCode::SUCCESS)
    })
}

fn import_customers(file: std::path::PathBuf, database: String) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let store = hotline::store::Store::connect(&database)
            .await
            .with_context(|| format!("opening {database}"))?;
        let n = hotline::store::import_customers_csv(&store, &file).await?;
        store.close().await;
        println!("{n} customers imported");
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
