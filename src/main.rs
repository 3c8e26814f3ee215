//! The `hotline` command: serve, check, migrate.

use anyhow::Context;
use clap::{Parser, Subcommand};
use hotline::config::Overrides;
use std::process::ExitCode;

mod agents_cli;

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
    /// Walks a dial plan with no phone: prints each step; exits non-zero if the flow errs.
    Simulate {
        /// The dial plan file.
        plan: std::path::PathBuf,
        /// Local time of the call in the plan's time zone, e.g. 2026-11-23T09:30.
        #[arg(long)]
        at: String,
        /// The caller's number.
        #[arg(long, default_value = "13800138000")]
        caller: String,
        /// Keys pressed, in groups separated by spaces (one group per question).
        #[arg(long, default_value = "")]
        keys: String,
        /// Customers CSV to verify against, loaded into a throw-away database.
        #[arg(long)]
        customers: Option<std::path::PathBuf>,
        /// Folder of prompts, to check the plan's prompts exist.
        #[arg(long, default_value = "prompts")]
        prompts: std::path::PathBuf,
    },
    /// Customers for verification (test data and small sites).
    Customers {
        #[command(subcommand)]
        command: CustomersCommand,
    },
    /// Callbacks, complaints and revisits: the work list and its deadlines.
    Followups(hotline::cli::followups::Args),
    /// Monthly and daily reports: complaints, satisfaction, KPIs.
    Report(hotline::cli::report::Args),
    /// Create or update the database schema.
    Migrate {
        /// Database URL, sqlite:// or postgres://.
        #[arg(long, env = "HOTLINE_DATABASE", default_value = "sqlite://hotline.db")]
        database: String,
    },
    /// Agents: add, list, remove, passwd, state.
    Agents {
        #[arg(long, env = "HOTLINE_DATABASE", default_value = "sqlite://hotline.db")]
        database: String,
        /// Digest realm the agents' phones authenticate in (as the server's `realm`).
        #[arg(long, env = "HOTLINE_REALM", default_value = "hotline")]
        realm: String,
        #[command(subcommand)]
        command: agents_cli::AgentsCommand,
    },
    /// Call records: set an outcome code.
    Calls {
        #[arg(long, env = "HOTLINE_DATABASE", default_value = "sqlite://hotline.db")]
        database: String,
        #[command(subcommand)]
        command: agents_cli::CallsCommand,
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
        // Plain text when not on a terminal, so log files (and security lines) parse.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(o) => serve(o),
        Command::Check(o) => check(o),
        Command::Migrate { database } => migrate(database),
        Command::Simulate {
            plan,
            at,
            caller,
            keys,
            customers,
            prompts,
        } => simulate(&plan, &at, &caller, &keys, customers.as_deref(), &prompts),
        Command::Customers {
            command: CustomersCommand::Import { file, database },
        } => import_customers(file, database),
        Command::Agents {
            database,
            realm,
            command,
        } => runtime().and_then(|rt| {
            rt.block_on(async {
                let store = hotline::store::Store::connect(&database).await?;
                agents_cli::agents(&store, &realm, command).await
            })
        }),
        Command::Calls { database, command } => runtime().and_then(|rt| {
            rt.block_on(async {
                let store = hotline::store::Store::connect(&database).await?;
                agents_cli::calls(&store, command).await
            })
        }),
        Command::Followups(args) => {
            runtime().and_then(|rt| Ok(rt.block_on(hotline::cli::followups::run(args))?))
        }
        Command::Report(args) => {
            runtime().and_then(|rt| Ok(rt.block_on(hotline::cli::report::run(args))?))
        }
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
            if let Ok(text) = std::fs::read_to_string(&cfg.queues) {
                if let Err(e) = hotline::acd::config::parse(&text) {
                    problems.push(format!("{}: {e}", cfg.queues.display()));
                }
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

fn simulate(
    path: &std::path::Path,
    at: &str,
    caller: &str,
    keys: &str,
    customers: Option<&std::path::Path>,
    prompts: &std::path::Path,
) -> anyhow::Result<ExitCode> {
    use chrono::TimeZone;
    use hotline::ivr::{Secret, VerifyOutcome};
    use hotline::store::{LockPolicy, Store, Verification};
    let prompts = hotline::core::media::prompt::PromptSet::load(prompts).ok();
    let plan = match hotline::ivr::load_file(path, prompts.as_ref()) {
        Ok(plan) => std::sync::Arc::new(plan),
        Err(errors) => {
            for e in errors {
                println!("{e}");
            }
            return Ok(ExitCode::FAILURE);
        }
    };
    let naive = chrono::NaiveDateTime::parse_from_str(at, "%Y-%m-%dT%H:%M")
        .with_context(|| format!("--at {at}: expected YYYY-MM-DDTHH:MM"))?;
    let when = plan
        .calendar
        .time_zone()
        .from_local_datetime(&naive)
        .single()
        .with_context(|| format!("--at {at}: not a single local time in the plan's time zone"))?;
    // A throw-away database, so a simulation never touches real records.
    let dir = std::env::temp_dir().join(format!("hotline-simulate-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let url = format!("sqlite://{}/simulate.db", dir.display());
    let rt = runtime()?;
    let store = rt.block_on(Store::connect(&url))?;
    if let Some(csv) = customers {
        rt.block_on(hotline::store::import_customers_csv(&store, csv))?;
    }
    let verify = |account: &str, secret: &Secret| {
        let secret = match secret {
            Secret::Pin(s) => hotline::store::Secret::Pin(s.clone()),
            Secret::IdDigits(s) => hotline::store::Secret::IdDigits(s.clone()),
        };
        let now = hotline::store::now_ms();
        match rt.block_on(store.verify(account, secret, now, &LockPolicy::default())) {
            Ok(Verification::Ok { customer, vip }) => VerifyOutcome::Ok {
                customer_id: customer,
                vip,
            },
            Ok(Verification::Locked { .. }) => VerifyOutcome::Locked,
            _ => VerifyOutcome::Failed,
        }
    };
    let result = hotline::ivr::simulate(plan, when, caller, keys, verify);
    rt.block_on(store.close());
    let _ = std::fs::remove_dir_all(&dir);
    match result {
        Ok(lines) => {
            for l in lines {
                println!("{l}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(text) => {
            println!("{text}");
            Ok(ExitCode::FAILURE)
        }
    }
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
