//! `hotline callers`: the blocklist (numbers whose calls are refused) and caller flags
//! (numbers whose complaints a supervisor reviews). The running server reloads the
//! blocklist every few seconds, so nothing here talks to it.
//!
//! Numbers are printed masked unless `--show-numbers`, in confirmations, lists and
//! errors alike, since any of them may end up in a log.

use std::process::ExitCode;

use anyhow::bail;
use chrono::{DateTime, LocalResult, NaiveDateTime, TimeZone};
use chrono_tz::Tz;
use serde::Serialize;

use super::{local_minute, rfc3339, Common, Context, Globals};
use crate::store::{normalize_number, BlockedCaller, CallerFlag, CallerFlagKind};

/// `hotline callers ...`
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub common: Common,
    /// Who is acting, recorded with a block or flag [default: $USER, else cli].
    #[arg(long = "by", env = "HOTLINE_USER", global = true)]
    pub by: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

/// The caller commands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Refuses calls from NUMBER (spaces and dashes are ignored); again: new reason and end.
    Block {
        number: String,
        /// Why, shown in the list.
        #[arg(long)]
        reason: String,
        /// When the block ends: RFC 3339, or YYYY-MM-DDTHH:MM in the dial plan's time zone
        /// [default: until unblocked].
        #[arg(long)]
        until: Option<String>,
    },
    /// Lifts the block on NUMBER.
    Unblock { number: String },
    /// Blocked and flagged numbers, with why, until when, by whom and since when.
    List {
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Flags NUMBER for a supervisor to review its complaints (calls are still taken).
    Flag {
        number: String,
        #[arg(value_parser = ["malicious"])]
        flag: String,
        /// Why, for the supervisor.
        #[arg(long)]
        note: String,
    },
    /// Removes the flag on NUMBER.
    Unflag { number: String },
}

/// Runs `hotline callers ...` against the database of the settings (read-only to list).
pub async fn run(globals: &Globals, args: Args) -> anyhow::Result<ExitCode> {
    let ctx = match args.command {
        Command::List { .. } => Context::open_read_only(globals, &args.common).await?,
        _ => Context::open(globals, &args.common).await?,
    };
    let result = dispatch(&ctx, globals, &args).await;
    ctx.store.close().await;
    result
}

async fn dispatch(ctx: &Context, g: &Globals, args: &Args) -> anyhow::Result<ExitCode> {
    let store = &ctx.store;
    match &args.command {
        Command::Block {
            number,
            reason,
            until,
        } => {
            let number = checked(g, number)?;
            if reason.trim().is_empty() {
                bail!("--reason: say why the number is blocked");
            }
            let until = until
                .as_deref()
                .map(|t| parse_time("--until", t, ctx.tz()))
                .transpose()?;
            let again = store
                .blocked_callers()
                .await?
                .iter()
                .any(|b| b.number == number);
            store
                .block_caller(
                    &number,
                    reason.trim(),
                    until,
                    &super::author(args.by.as_deref()),
                    ctx.now_ms,
                )
                .await?;
            let span = match until {
                None => "until unblocked".to_string(),
                Some(ms) if ms <= ctx.now_ms => format!(
                    "until {} {}, already past: its calls are not refused",
                    local_minute(ctx.tz(), ms),
                    ctx.tz()
                ),
                Some(ms) => format!("until {} {}", local_minute(ctx.tz(), ms), ctx.tz()),
            };
            let again = match again {
                true => " (it was blocked already: reason and end replaced)",
                false => "",
            };
            println!("{} blocked {span}{again}", g.number(&number));
        }
        Command::Unblock { number } => {
            let number = checked(g, number)?;
            if !store.unblock_caller(&number).await? {
                bail!("{} is not blocked", g.number(&number));
            }
            println!("{} unblocked", g.number(&number));
        }
        Command::List { json } => {
            let blocked = store.blocked_callers().await?;
            let flagged = store.caller_flags().await?;
            if *json {
                let list = ListJson {
                    blocked: blocked.iter().map(|b| BlockJson::of(ctx, g, b)).collect(),
                    flagged: flagged.iter().map(|f| FlagJson::of(ctx, g, f)).collect(),
                };
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                print!("{}", table(ctx, g, &blocked, &flagged));
            }
        }
        Command::Flag { number, flag, note } => {
            let number = checked(g, number)?;
            let Some(kind) = CallerFlagKind::parse(flag) else {
                bail!("{flag}: not a flag (malicious)");
            };
            let again = store
                .caller_flags()
                .await?
                .iter()
                .any(|f| f.number == number);
            store
                .flag_caller(
                    &number,
                    kind,
                    note.trim(),
                    &super::author(args.by.as_deref()),
                    ctx.now_ms,
                )
                .await?;
            let again = match again {
                true => " (it was flagged already: note replaced)",
                false => "",
            };
            println!("{} flagged {}{again}", g.number(&number), kind.as_str());
        }
        Command::Unflag { number } => {
            let number = checked(g, number)?;
            if !store.unflag_caller(&number).await? {
                bail!("{} is not flagged", g.number(&number));
            }
            println!("{} unflagged", g.number(&number));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `number` as stored, refused unless it is digits after an optional `+`: anything else
/// would be stored and never match a caller.
fn checked(g: &Globals, number: &str) -> anyhow::Result<String> {
    let n = normalize_number(number);
    let digits = n.strip_prefix('+').unwrap_or(&n);
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        bail!(
            "{}: not a phone number (digits, optionally after a leading +; spaces and dashes are ignored)",
            g.number(number)
        );
    }
    Ok(n)
}

/// `text` as ms since the Unix epoch: RFC 3339, or `YYYY-MM-DDTHH:MM` in `tz` (refused
/// when a clock change makes that minute missing or twice, rather than guessing).
fn parse_time(flag: &str, text: &str, tz: Tz) -> anyhow::Result<i64> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.timestamp_millis());
    }
    let Ok(naive) = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M") else {
        bail!("{flag} {text}: expected RFC 3339 (2026-12-31T18:00:00+08:00) or YYYY-MM-DDTHH:MM");
    };
    match tz.from_local_datetime(&naive) {
        LocalResult::Single(t) => Ok(t.timestamp_millis()),
        _ => bail!(
            "{flag} {text}: not one moment in {tz} (a clock change); give it in RFC 3339 with its offset"
        ),
    }
}

/// The blocks, then the flags, as one table.
fn table(ctx: &Context, g: &Globals, blocked: &[BlockedCaller], flagged: &[CallerFlag]) -> String {
    if blocked.is_empty() && flagged.is_empty() {
        return "no blocked or flagged callers\n".to_string();
    }
    let tz = ctx.tz();
    let blocks = blocked.iter().map(|b| {
        let state = match b.in_force(ctx.now_ms) {
            true => "blocked",
            false => "expired",
        };
        let until = b
            .until_at
            .map_or("unblocked".to_string(), |ms| local_minute(tz, ms));
        [
            state.to_string(),
            g.number(&b.number),
            until,
            b.created_by.clone(),
            local_minute(tz, b.created_at),
            b.reason.clone(),
        ]
    });
    let flags = flagged.iter().map(|f| {
        [
            f.flag.as_str().to_string(),
            g.number(&f.number),
            "-".to_string(),
            f.created_by.clone(),
            local_minute(tz, f.created_at),
            f.note.clone(),
        ]
    });
    let rows: Vec<Vec<String>> = blocks.chain(flags).map(Vec::from).collect();
    super::table::render(
        &["STATE", "NUMBER", "UNTIL", "BY", "SINCE", "REASON / NOTE"],
        &rows,
    )
}

#[derive(Serialize)]
struct ListJson {
    blocked: Vec<BlockJson>,
    flagged: Vec<FlagJson>,
}

#[derive(Serialize)]
struct BlockJson {
    number: String,
    reason: String,
    /// RFC 3339; null: until unblocked.
    until: Option<String>,
    /// Whether calls from it are refused now.
    in_force: bool,
    by: String,
    at: String,
}

impl BlockJson {
    fn of(ctx: &Context, g: &Globals, b: &BlockedCaller) -> BlockJson {
        BlockJson {
            number: g.number(&b.number),
            reason: b.reason.clone(),
            until: b.until_at.map(|ms| rfc3339(ctx.tz(), ms)),
            in_force: b.in_force(ctx.now_ms),
            by: b.created_by.clone(),
            at: rfc3339(ctx.tz(), b.created_at),
        }
    }
}

#[derive(Serialize)]
struct FlagJson {
    number: String,
    flag: &'static str,
    note: String,
    by: String,
    at: String,
}

impl FlagJson {
    fn of(ctx: &Context, g: &Globals, f: &CallerFlag) -> FlagJson {
        FlagJson {
            number: g.number(&f.number),
            flag: f.flag.as_str(),
            note: f.note.clone(),
            by: f.created_by.clone(),
            at: rfc3339(ctx.tz(), f.created_at),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_or_local_minutes_in_the_plan_zone() {
        let tz = chrono_tz::Asia::Shanghai;
        let utc = parse_time("--until", "2026-12-31T10:00:00Z", tz).unwrap();
        assert_eq!(parse_time("--until", "2026-12-31T18:00", tz).unwrap(), utc);
        assert!(parse_time("--until", "tomorrow", tz).is_err());
        // 02:30 did not happen in New York on 2026-03-08: refused, not guessed
        let ny = chrono_tz::America::New_York;
        assert!(parse_time("--until", "2026-03-08T02:30", ny).is_err());
    }

    #[test]
    fn only_digits_after_an_optional_plus_are_numbers() {
        let g = Globals::default();
        assert_eq!(checked(&g, "+86 138-0013 8000").unwrap(), "+8613800138000");
        assert!(checked(&g, "anonymous").is_err());
        assert!(checked(&g, " - ").is_err());
        assert!(checked(&g, "138+0013").is_err());
    }
}
