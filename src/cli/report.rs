//! `hotline report monthly|daily`: the management reports, worded in the dial plan's
//! language (or `--lang`), customers' numbers masked unless `--show-numbers`.

use std::path::PathBuf;
use std::process::ExitCode;

use super::{CliError, Common, Context, Globals};
use crate::ivr::Language;
pub use crate::report::build;
use crate::report::render::{render, Format, Style};
use crate::report::{Kind, Period};

/// `hotline report ...`
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub common: Common,
    /// Language of the labels, zh-CN or en [default: the dial plan's].
    #[arg(long, global = true, value_parser = clap::value_parser!(Language))]
    pub lang: Option<Language>,
    #[command(subcommand)]
    pub command: Command,
}

/// Which report.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Complaint summary, satisfaction, KPIs, the agents' figures and the outbound calls of one
    /// month.
    Monthly {
        /// The month, YYYY-MM, in the calendar's time zone.
        #[arg(long)]
        month: String,
        #[command(flatten)]
        out: Output,
    },
    /// The KPIs, the agents' figures and the outbound calls of one day.
    Daily {
        /// The day, YYYY-MM-DD, in the calendar's time zone.
        #[arg(long)]
        day: String,
        #[command(flatten)]
        out: Output,
    },
}

/// Where and how a report is written.
#[derive(Debug, Clone, clap::Args)]
pub struct Output {
    /// md, csv or html.
    #[arg(long, value_enum, default_value = "md")]
    pub format: Format,
    /// Write to this file instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Runs `hotline report ...` on the database opened read-only: a report changes nothing
/// (overdue follow-ups are escalated by the running server's sweep), so it runs on a replica.
pub async fn run(globals: &Globals, args: Args) -> Result<ExitCode, CliError> {
    let ctx = Context::open_read_only(globals, &args.common).await?;
    let result = make(&ctx, &args.command, args.lang).await;
    ctx.store.close().await;
    result
}

async fn make(
    ctx: &Context,
    command: &Command,
    lang: Option<Language>,
) -> Result<ExitCode, CliError> {
    let tz = ctx.tz();
    let (kind, period, out) = match command {
        Command::Monthly { month, out } => (
            Kind::Monthly,
            Period::month(tz, month).map_err(CliError::Usage)?,
            out,
        ),
        Command::Daily { day, out } => (
            Kind::Daily,
            Period::day(tz, day).map_err(CliError::Usage)?,
            out,
        ),
    };
    let report = build(&ctx.store, &ctx.config.reports, kind, period, ctx.now_ms).await?;
    let number = |n: &str| ctx.globals.number(n);
    let style = Style {
        lang: lang
            .or(ctx.plan.as_ref().map(|p| p.language))
            .unwrap_or(Language::En),
        number: &number,
        outcomes: ctx
            .plan
            .iter()
            .flat_map(|p| &p.outcomes)
            .map(|o| (o.code.clone(), o.label.clone()))
            .collect(),
    };
    let text = render(&report, out.format, &style);
    match &out.out {
        Some(path) => std::fs::write(path, text).map_err(|source| CliError::Write {
            path: path.clone(),
            source,
        })?,
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}
