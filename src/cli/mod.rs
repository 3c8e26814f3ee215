//! The `hotline` command line, one tree: the top-level flags and subcommands here, one
//! file per subcommand. This is the program's edge, so it may return `anyhow` errors;
//! everything it calls returns typed ones.

pub mod agents;
pub mod callers;
pub mod calls;
pub mod check;
pub mod customers;
pub mod followups;
mod records;
pub mod report;
pub mod serve;
pub mod simulate;
pub mod table;
pub mod tokens;

pub use records::{
    author, calendar_plan, default_calendar, local_minute, plan, rfc3339, CliError, Common, Context,
};

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::config::{Config, Overrides};
use crate::store::{Store, StoreError};

/// `hotline ...`
#[derive(Debug, Parser)]
#[command(
    name = "hotline",
    version,
    about = "Call handling and IVR for customer-service hotlines"
)]
pub struct Cli {
    #[command(flatten)]
    pub globals: Globals,
    #[command(subcommand)]
    pub command: Command,
}

/// Settings every subcommand may need, declared once and accepted before or after the
/// subcommand. Precedence as for every setting: flag > environment > `--config` file >
/// default (see [`crate::config`]).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Globals {
    /// TOML file with any of the settings (and the [followups] and [reports] sections).
    #[arg(long, env = "HOTLINE_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Database URL, sqlite:// or postgres:// [default: sqlite://hotline.db].
    #[arg(long, env = "HOTLINE_DATABASE", global = true)]
    pub database: Option<String>,
    /// Digest realm agents' phones authenticate in [default: hotline].
    #[arg(long, env = "HOTLINE_REALM", global = true)]
    pub realm: Option<String>,
    /// Print callers' numbers in full (by default the middle digits are hidden: 138****8000).
    #[arg(long, global = true)]
    pub show_numbers: bool,
    /// The settings whose value came from their environment variable rather than their
    /// flag (see [`parse`]), so a problem names the layer it is in.
    #[arg(skip)]
    pub from_env: Vec<String>,
}

impl Globals {
    /// A customer's number as this command may print it: masked unless `--show-numbers`.
    pub fn number(&self, number: &str) -> String {
        shown(number, self.show_numbers)
    }

    /// `o` with the global settings filled in.
    pub fn over(&self, o: Overrides) -> Overrides {
        Overrides {
            config: self.config.clone(),
            database: self.database.clone(),
            realm: self.realm.clone(),
            from_env: self.from_env.clone(),
            ..o
        }
    }

    /// The checked settings, for commands that have no flags of their own among them.
    pub fn load(&self) -> Result<Config, crate::config::ConfigError> {
        self.over(Overrides::default()).load()
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Answer calls.
    Serve(Overrides),
    /// Check the configuration without starting; one line per problem.
    Check(Overrides),
    /// Walks a dial plan with no phone: prints each step; exits non-zero if the flow errs.
    Simulate(simulate::Args),
    /// Customers for verification (test data and small sites).
    Customers {
        #[command(subcommand)]
        command: customers::Command,
    },
    /// Callbacks, complaints and revisits: the work list and its deadlines.
    Followups(followups::Args),
    /// Monthly and daily reports: complaints, satisfaction, KPIs.
    Report(report::Args),
    /// Create or update the database schema.
    Migrate,
    /// Agents: add, list, remove, passwd, state.
    Agents {
        #[command(subcommand)]
        command: agents::Command,
    },
    /// Call records: list, show, export; set an outcome code.
    Calls(calls::Args),
    /// Callers: block and unblock numbers, flag them for review, list both.
    Callers(callers::Args),
    /// Tokens for the HTTP API, wallboard and desk: add, list, revoke.
    Tokens {
        #[command(subcommand)]
        command: tokens::Command,
    },
}

/// The command line of this process, noting which settings came from the environment.
pub fn parse() -> Cli {
    let matches = Cli::command().get_matches();
    let mut cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let mut sources = std::collections::BTreeMap::new();
    sources_of(&matches, &mut sources);
    cli.globals.from_env = sources
        .into_iter()
        .filter(|(_, source)| *source == ValueSource::EnvVariable)
        .map(|(id, _)| id)
        .collect();
    cli
}

/// Where each argument of `m` and its subcommands got its value; the deepest level
/// decides, as it is the one clap fills the fields from.
fn sources_of(m: &ArgMatches, into: &mut std::collections::BTreeMap<String, ValueSource>) {
    for id in m.ids() {
        if let Some(source) = m.value_source(id.as_str()) {
            into.insert(id.to_string(), source);
        }
    }
    if let Some((_, sub)) = m.subcommand() {
        sources_of(sub, into);
    }
}

/// Runs the command `cli` names; the exit code on success, the error otherwise.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    private_files();
    init_logging();
    let g = &cli.globals;
    match cli.command {
        Command::Serve(o) => serve::run(g.over(o).load()?),
        Command::Check(o) => Ok(check::run(g.over(o))),
        Command::Simulate(args) => simulate::run(&args),
        Command::Migrate => migrate(&g.load()?),
        Command::Customers { command } => customers::run(&g.load()?, command),
        Command::Agents { command } => agents::run(&g.load()?, command),
        Command::Calls(args) => runtime()?.block_on(calls::run(g, args)),
        Command::Followups(args) => Ok(runtime()?.block_on(followups::run(g, args))?),
        Command::Report(args) => Ok(runtime()?.block_on(report::run(g, args))?),
        Command::Callers(args) => runtime()?.block_on(callers::run(g, args)),
        Command::Tokens { command } => tokens::run(&g.load()?, command),
    }
}

/// `number` in full when `show` is set, else with its middle hidden (`138****8000`).
pub fn shown(number: &str, show: bool) -> String {
    match show {
        true => number.to_string(),
        false => crate::ivr::action::mask(number),
    }
}

/// The error as one line: each cause once (a cause whose text its wrapper already
/// repeats is left out).
pub fn error_text(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain().map(ToString::to_string) {
        if !text.contains(&cause) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&cause);
        }
    }
    text
}

fn init_logging() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        // Plain text when not on a terminal, so log files (and security lines) parse.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
}

/// What hotline writes holds customers' data (the database and its WAL, recordings,
/// voicemail, reports): files it creates are readable by its own user only (0600,
/// folders 0700), whatever the umask of the shell that started it.
fn private_files() {
    #[cfg(unix)]
    // SAFETY: umask only sets the process's file-creation mask; called before any thread
    // starts, so no file is being created concurrently.
    unsafe {
        libc::umask(0o077);
    }
}

/// The async runtime the database commands and `serve` run on.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Opens the existing database of `config` (never creating one), runs `f` on it, closes it.
pub fn with_store<F>(config: &Config, f: F) -> anyhow::Result<ExitCode>
where
    F: AsyncFnOnce(&Store) -> anyhow::Result<ExitCode>,
{
    on_store(Store::open_existing(&config.database), f)
}

/// The same, read-only: for the commands that only list or report.
pub fn read_store<F>(config: &Config, f: F) -> anyhow::Result<ExitCode>
where
    F: AsyncFnOnce(&Store) -> anyhow::Result<ExitCode>,
{
    on_store(Store::open_read_only(&config.database), f)
}

fn on_store<F>(
    open: impl std::future::Future<Output = Result<Store, StoreError>>,
    f: F,
) -> anyhow::Result<ExitCode>
where
    F: AsyncFnOnce(&Store) -> anyhow::Result<ExitCode>,
{
    runtime()?.block_on(async {
        // The store's error names the database and the cause; nothing to add.
        let store = open.await?;
        let result = f(&store).await;
        store.close().await;
        result
    })
}

fn migrate(config: &Config) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        Store::migrate(&config.database).await?;
        println!(
            "database schema up to date ({})",
            crate::store::redact_url(&config.database)
        );
        Ok(ExitCode::SUCCESS)
    })
}
