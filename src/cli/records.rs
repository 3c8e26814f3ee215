//! What the commands over the records (`hotline followups ...`, `hotline report ...`)
//! share: each opens the database, reads the settings and the business calendar the same
//! way `serve` does, and takes "now" from `--now` (hidden; for tests and for re-running a
//! report as of a past moment) or the clock.

use std::path::PathBuf;

use chrono::DateTime;
use chrono_tz::Tz;

use super::Globals;
use crate::config::{Config, ConfigError, Overrides};
use crate::ivr::calendar::{Calendar, ClockRange};
use crate::ivr::Plan;
use crate::store::{Store, StoreError};

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The settings are wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A value given on the command line is wrong.
    #[error("{0}")]
    Usage(String),
    /// No follow-up with this id.
    #[error("no follow-up {0}")]
    NotFound(String),
    /// The rules refuse the move.
    #[error(transparent)]
    NotAllowed(#[from] crate::followup::NotAllowed),
    /// The rules refuse the revisit's verdict.
    #[error(transparent)]
    Verdict(#[from] crate::followup::VerdictRefused),
    /// The report could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Settings the record commands add to the global ones (`--config`, `--database`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Common {
    /// Folder of dial plans, for the business calendar [default: dialplans].
    #[arg(long, env = "HOTLINE_DIALPLANS", global = true)]
    pub dialplans: Option<String>,
    /// Act as if it were this moment (RFC 3339, e.g. 2026-11-30T10:00:00+08:00).
    #[arg(long, env = "HOTLINE_NOW", global = true, hide = true)]
    pub now: Option<String>,
}

/// What a record command works with.
pub struct Context {
    /// The global flags (how customers' numbers are shown).
    pub globals: Globals,
    /// The checked settings.
    pub config: Config,
    /// The database.
    pub store: Store,
    /// The business calendar.
    pub calendar: Calendar,
    /// The dial plan the calendar is taken from (its language and outcome labels), if any.
    pub plan: Option<Plan>,
    /// Now, ms since the Unix epoch.
    pub now_ms: i64,
}

impl Context {
    /// Reads the settings, opens the existing database, loads the calendar.
    pub async fn open(globals: &Globals, common: &Common) -> Result<Context, CliError> {
        Context::load(globals, common, Store::open_existing).await
    }

    /// The same with the database opened read-only, for commands that only read: they
    /// run on a replica and can change nothing.
    pub async fn open_read_only(globals: &Globals, common: &Common) -> Result<Context, CliError> {
        Context::load(globals, common, Store::open_read_only).await
    }

    async fn load<F: AsyncFnOnce(&str) -> Result<Store, StoreError>>(
        globals: &Globals,
        common: &Common,
        open: F,
    ) -> Result<Context, CliError> {
        let config = globals
            .over(Overrides {
                dialplans: common.dialplans.clone(),
                ..Overrides::default()
            })
            .load()?;
        let now_ms = match &common.now {
            Some(text) => DateTime::parse_from_rfc3339(text.trim())
                .map_err(|_| {
                    CliError::Usage(format!(
                        "--now {text}: expected RFC 3339, e.g. 2026-11-30T10:00:00+08:00"
                    ))
                })?
                .timestamp_millis(),
            None => crate::store::now_ms(),
        };
        // The database first: when it is missing, that is the one thing to say.
        let store = open(&config.database).await?;
        let plan = plan(&config);
        let calendar = match &plan {
            Some(p) => p.calendar.clone(),
            None => {
                eprintln!(
                    "hotline: no dial plan in {} to take the business calendar from; \
                     counting working time as Monday to Friday 09:00-18:00, Asia/Shanghai",
                    config.dialplans.display()
                );
                default_calendar()
            }
        };
        Ok(Context {
            globals: globals.clone(),
            config,
            store,
            calendar,
            plan,
            now_ms,
        })
    }

    /// The calendar's time zone.
    pub fn tz(&self) -> Tz {
        self.calendar.time_zone()
    }
}

/// The dial plan named by `[followups] calendar`, else the first plan in the folder: its
/// calendar counts working time, its language and outcome labels word the reports.
/// Who is acting, for notes, blocks and flags: `--by`, else the OS user, else `cli`.
pub fn author(by: Option<&str>) -> String {
    by.map(str::to_string)
        .or_else(|| std::env::var("USER").ok())
        .or_else(|| std::env::var("USERNAME").ok())
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "cli".to_string())
}

pub fn plan(config: &Config) -> Option<Plan> {
    calendar_plan(config, crate::ivr::load_dir(&config.dialplans, None).0)
}

/// Of `plans`, the one whose calendar the follow-ups' deadlines follow: the file named by
/// `[followups] calendar`, else the first. The command line and the server choose alike.
pub fn calendar_plan<P: AsRef<Plan>>(
    config: &Config,
    plans: impl IntoIterator<Item = P>,
) -> Option<P> {
    let mut plans = plans.into_iter();
    match &config.followups.calendar {
        Some(name) => plans.find(|p| {
            p.as_ref()
                .file
                .file_name()
                .is_some_and(|f| f.to_string_lossy() == *name)
        }),
        None => plans.next(),
    }
}

/// Monday to Friday 09:00-18:00 in Asia/Shanghai, no holidays.
pub fn default_calendar() -> Calendar {
    let mut cal = Calendar::new(chrono_tz::Asia::Shanghai);
    if let Ok(day) = ClockRange::parse("09:00-18:00") {
        for weekday in 0..5 {
            cal = cal.with_hours(weekday, vec![day]);
        }
    }
    cal
}

/// `ms` as local time in `tz`, `YYYY-MM-DD HH:MM`.
pub fn local_minute(tz: Tz, ms: i64) -> String {
    crate::followup::at(tz, ms).map_or(ms.to_string(), |t| t.format("%Y-%m-%d %H:%M").to_string())
}

/// `ms` as RFC 3339 in `tz`.
pub fn rfc3339(tz: Tz, ms: i64) -> String {
    crate::followup::at(tz, ms).map_or(ms.to_string(), |t| t.to_rfc3339())
}
