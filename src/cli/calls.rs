//! `hotline calls`: the latest call records, both directions, and correcting them after the
//! fact. Numbers are always shown masked here.

use std::process::ExitCode;

use crate::config::Config;
use crate::store::CallSummary;

/// The call-record commands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Sets or corrects the outcome code of a call.
    Outcome { call: String, code: String },
    /// The latest calls, newest first; DIR is `in` (a caller called) or `out` (hotline called:
    /// a callback, a revisit, an agent dialling out).
    List {
        /// How many.
        #[arg(long, default_value_t = 50)]
        last: u32,
    },
}

/// Runs `hotline calls ...` against the database of `config`.
pub fn run(config: &Config, command: Command) -> anyhow::Result<ExitCode> {
    let tz = super::plan(config).map_or(chrono_tz::Asia::Shanghai, |p| p.calendar.time_zone());
    super::with_store(config, async |store| match command {
        Command::Outcome { call, code } => {
            if store.call(&call).await?.is_none() {
                anyhow::bail!("no call {call}");
            }
            store.set_disposition(&call, &code).await?;
            println!("call {call}: outcome {code}");
            Ok(ExitCode::SUCCESS)
        }
        Command::List { last } => {
            print!("{}", table(tz, &store.recent_calls(last).await?));
            Ok(ExitCode::SUCCESS)
        }
    })
}

fn table(tz: chrono_tz::Tz, rows: &[CallSummary]) -> String {
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let head = [
        "ID",
        "DIR",
        "AT",
        "CALLER",
        "CALLED",
        "QUEUE",
        "AGENT",
        "END",
        "FOLLOW-UP",
    ];
    let mut lines: Vec<Vec<String>> = vec![head.iter().map(|s| s.to_string()).collect()];
    for c in rows {
        let end = match (&c.end_cause, c.ended_at) {
            (Some(cause), _) => cause.clone(),
            (None, Some(_)) => "ended".into(),
            (None, None) => "live".into(),
        };
        lines.push(vec![
            c.id.clone(),
            if c.outbound { "out" } else { "in" }.to_string(),
            super::local_minute(tz, c.arrived_at),
            super::shown(&c.caller, false),
            super::shown(&c.called, false),
            opt(&c.queue),
            opt(&c.agent),
            end,
            opt(&c.followup_id),
        ]);
    }
    let widths: Vec<usize> = (0..head.len())
        .map(|i| {
            lines
                .iter()
                .map(|l| l[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for l in &lines {
        let cells: Vec<String> = l
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    if rows.is_empty() {
        out.push_str("(no calls)\n");
    }
    out
}
