//! `hotline calls`: call records, both directions — listed with filters, one call in full,
//! exported as CSV or JSON — and correcting a call's outcome after the fact. The records
//! are read through [`Store::calls`](crate::store::Store::calls) and
//! [`Store::call_detail`](crate::store::Store::call_detail), as the HTTP API reads them.
//!
//! Numbers (and customers' accounts) are masked, `138****8000`, in tables, JSON and
//! exports alike, unless `--show-numbers`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use chrono_tz::Tz;

use super::{local_minute, rfc3339, Common, Context, Globals};
use crate::report::render::csv_cell;
use crate::store::{CallCursor, CallDetail, CallFilter, CallRecord, Direction, MAX_LIMIT};

/// `hotline calls ...`
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub common: Common,
    #[command(subcommand)]
    pub command: Command,
}

/// The call-record commands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Sets or corrects the outcome code of a call.
    Outcome { call: String, code: String },
    /// Calls, newest first; DIR is `in` (a caller called) or `out` (hotline called: a
    /// callback, a revisit, an agent dialling out).
    List {
        #[command(flatten)]
        filter: Filter,
        /// How many.
        #[arg(long, default_value_t = 50)]
        last: u32,
        /// JSON (`{"calls": [...], "next": ...}`) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// One call with its timeline, agent legs, survey answers and follow-ups.
    Show {
        call: String,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Every call of a period that the filters match, newest first, as CSV (UTF-8 with a
    /// byte-order mark, for spreadsheets) or a JSON array.
    Export {
        #[command(flatten)]
        filter: Filter,
        /// csv or json.
        #[arg(long, value_enum, default_value = "csv")]
        format: ExportFormat,
        /// Write to this file (complete or not at all) instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    Csv,
    Json,
}

/// Which calls: all of them unless narrowed.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Filter {
    /// Arrived at or after: RFC 3339, or YYYY-MM-DD (that day's start) in the dial plan's
    /// time zone.
    #[arg(long)]
    pub from: Option<String>,
    /// Arrived before: RFC 3339, or YYYY-MM-DD (that day included) in the dial plan's time zone.
    #[arg(long)]
    pub to: Option<String>,
    /// Put in this queue.
    #[arg(long)]
    pub queue: Option<String>,
    /// Taken, made or answered by this agent ID.
    #[arg(long)]
    pub agent: Option<String>,
    /// The dial plan's or the agent's outcome code.
    #[arg(long)]
    pub outcome: Option<String>,
    /// The caller's or the called number.
    #[arg(long)]
    pub number: Option<String>,
    /// in or out.
    #[arg(long)]
    pub direction: Option<String>,
}

impl Filter {
    /// The store's filter, times read in `tz`.
    fn to_store(&self, tz: Tz) -> anyhow::Result<CallFilter> {
        let direction = self
            .direction
            .as_deref()
            .map(str::parse::<Direction>)
            .transpose()
            .map_err(|e| anyhow::anyhow!("--direction: {e}"))?;
        Ok(CallFilter {
            from_ms: bound("--from", self.from.as_deref(), tz, false)?,
            to_ms: bound("--to", self.to.as_deref(), tz, true)?,
            queue: self.queue.clone(),
            agent: self.agent.clone(),
            outcome: self.outcome.clone(),
            number: self.number.clone(),
            direction,
            limit: 0,
            after: None,
        })
    }
}

/// A time given on the command line, ms: RFC 3339 as it says, a day as its start (or, for
/// an `end`, the next day's start, so `--to` includes the day named).
fn bound(flag: &str, text: Option<&str>, tz: Tz, end: bool) -> anyhow::Result<Option<i64>> {
    text.map(|t| crate::report::time_bound(t, tz, end).map_err(|e| anyhow::anyhow!("{flag} {e}")))
        .transpose()
}

/// Runs `hotline calls ...` against the database of the settings.
pub async fn run(globals: &Globals, args: Args) -> anyhow::Result<ExitCode> {
    let ctx = Context::open(globals, &args.common).await?;
    let result = dispatch(&ctx, args.command).await;
    ctx.store.close().await;
    result
}

async fn dispatch(ctx: &Context, command: Command) -> anyhow::Result<ExitCode> {
    let store = &ctx.store;
    let tz = ctx.tz();
    let shown = |c: &mut CallRecord| {
        if !ctx.globals.show_numbers {
            c.mask_numbers(|n| ctx.globals.number(n));
        }
    };
    match command {
        Command::Outcome { call, code } => {
            if store.call(&call).await?.is_none() {
                bail!("no call {call}");
            }
            store.set_disposition(&call, &code).await?;
            println!("call {call}: outcome {code}");
        }
        Command::List { filter, last, json } => {
            let mut f = filter.to_store(tz)?;
            let mut calls = Vec::new();
            let mut next = None;
            while calls.len() < last as usize {
                f.limit = (last - calls.len() as u32).min(MAX_LIMIT);
                let page = store.calls(&f).await?;
                calls.extend(page.calls);
                next = page.next;
                match &next {
                    Some(cursor) => f.after = Some(cursor.parse::<CallCursor>()?),
                    None => break,
                }
            }
            calls.iter_mut().for_each(shown);
            if json {
                let page = crate::store::CallPage { calls, next };
                println!("{}", serde_json::to_string_pretty(&page)?);
            } else {
                print!("{}", table(tz, &calls));
            }
        }
        Command::Show { call, json } => {
            let Some(mut d) = store.call_detail(&call).await? else {
                bail!("no call {call}");
            };
            shown(&mut d.call);
            match json {
                true => println!("{}", serde_json::to_string_pretty(&d)?),
                false => print!("{}", detail(tz, &d)),
            }
        }
        Command::Export {
            filter,
            format,
            output,
        } => {
            if filter.from.is_none() || filter.to.is_none() {
                bail!("export needs --from and --to");
            }
            let mut f = filter.to_store(tz)?;
            f.limit = MAX_LIMIT;
            let mut sink = Sink::open(output.as_deref())?;
            let mut out = Export::start(&mut sink.writer, format, tz)?;
            loop {
                let page = store.calls(&f).await?;
                for mut c in page.calls {
                    shown(&mut c);
                    out.row(&c)?;
                }
                match page.next {
                    Some(cursor) => f.after = Some(cursor.parse()?),
                    None => break,
                }
            }
            let count = out.finish()?;
            sink.finish()?;
            if let Some(path) = &output {
                eprintln!("{count} calls written to {}", path.display());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Where an export goes: standard output, or a file written beside its name and renamed
/// into place once complete, so a failed export never leaves half a file under that name.
struct Sink {
    writer: Box<dyn Write>,
    paths: Option<(PathBuf, PathBuf)>,
}

impl Sink {
    fn open(path: Option<&Path>) -> anyhow::Result<Sink> {
        let Some(path) = path else {
            return Ok(Sink {
                writer: Box::new(std::io::BufWriter::new(std::io::stdout())),
                paths: None,
            });
        };
        let mut partial = path.as_os_str().to_owned();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        let file = std::fs::File::create(&partial)
            .with_context(|| format!("cannot write {}", partial.display()))?;
        Ok(Sink {
            writer: Box::new(std::io::BufWriter::new(file)),
            paths: Some((partial, path.to_path_buf())),
        })
    }

    fn finish(mut self) -> anyhow::Result<()> {
        self.writer.flush().context("writing the export")?;
        // Close the file before it takes its name.
        drop(std::mem::replace(
            &mut self.writer,
            Box::new(std::io::sink()),
        ));
        if let Some((partial, path)) = self.paths.take() {
            std::fs::rename(&partial, &path)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        Ok(())
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        // Not finished: leave no partial file behind.
        if let Some((partial, _)) = &self.paths {
            let _ = std::fs::remove_file(partial);
        }
    }
}

/// The columns of a CSV export, in order.
const CSV_COLUMNS: [&str; 24] = [
    "id",
    "direction",
    "arrived_at",
    "answered_at",
    "connected_at",
    "ended_at",
    "duration_secs",
    "talk_secs",
    "caller",
    "called",
    "queue",
    "agent",
    "outcome",
    "disposition",
    "ended_by",
    "end_cause",
    "end_status",
    "language",
    "customer",
    "verified",
    "followup_id",
    "trunk",
    "recording",
    "sip_call_id",
];

/// Writes an export row by row.
struct Export<'a> {
    w: &'a mut dyn Write,
    format: ExportFormat,
    tz: Tz,
    rows: usize,
}

impl<'a> Export<'a> {
    fn start(w: &'a mut dyn Write, format: ExportFormat, tz: Tz) -> anyhow::Result<Export<'a>> {
        match format {
            // The byte-order mark makes spreadsheets read UTF-8 (Chinese names) right.
            ExportFormat::Csv => writeln!(w, "\u{feff}{}", CSV_COLUMNS.join(","))?,
            ExportFormat::Json => w.write_all(b"[")?,
        }
        Ok(Export {
            w,
            format,
            tz,
            rows: 0,
        })
    }

    fn row(&mut self, c: &CallRecord) -> anyhow::Result<()> {
        match self.format {
            ExportFormat::Csv => {
                let cells = csv_cells(self.tz, c);
                let line: Vec<String> = cells.iter().map(|s| csv_cell(s)).collect();
                writeln!(self.w, "{}", line.join(","))?;
            }
            ExportFormat::Json => {
                self.w
                    .write_all(if self.rows == 0 { b"\n" } else { b",\n" })?;
                serde_json::to_writer(&mut *self.w, c)?;
            }
        }
        self.rows += 1;
        Ok(())
    }

    /// Closes the export; the number of calls written.
    fn finish(self) -> anyhow::Result<usize> {
        if self.format == ExportFormat::Json {
            self.w.write_all(b"\n]\n")?;
        }
        Ok(self.rows)
    }
}

/// One CSV row, as text, in the order of [`CSV_COLUMNS`]; times in `tz`.
fn csv_cells(tz: Tz, c: &CallRecord) -> [String; 24] {
    let t = |ms: Option<i64>| ms.map_or(String::new(), |ms| rfc3339(tz, ms));
    let s = |v: &Option<String>| v.clone().unwrap_or_default();
    let secs = |ms: Option<i64>| ms.map_or(String::new(), |ms| (ms / 1000).to_string());
    [
        c.id.clone(),
        c.direction.as_str().into(),
        t(Some(c.arrived_at)),
        t(c.answered_at),
        t(c.connected_at),
        t(c.ended_at),
        secs(c.duration_ms),
        secs(c.talk_ms),
        c.caller.clone(),
        c.called.clone(),
        s(&c.queue),
        s(&c.agent),
        s(&c.outcome),
        s(&c.disposition),
        s(&c.ended_by),
        s(&c.end_cause),
        c.end_status.map_or(String::new(), |v| v.to_string()),
        s(&c.language),
        s(&c.customer),
        c.verified.map_or(String::new(), |v| v.to_string()),
        s(&c.followup_id),
        s(&c.trunk),
        s(&c.recording),
        c.sip_call_id.clone(),
    ]
}

/// `ms` as `HH:MM:SS` in `tz`.
fn clock(tz: Tz, ms: i64) -> String {
    crate::followup::at(tz, ms).map_or(ms.to_string(), |t| t.format("%H:%M:%S").to_string())
}

/// The calls as a table, one line each.
fn table(tz: Tz, rows: &[CallRecord]) -> String {
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let head = [
        "ID",
        "DIR",
        "AT",
        "CALLER",
        "CALLED",
        "QUEUE",
        "AGENT",
        "OUTCOME",
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
            match c.direction {
                Direction::Inbound => "in".into(),
                Direction::Outbound => "out".into(),
            },
            local_minute(tz, c.arrived_at),
            c.caller.clone(),
            c.called.clone(),
            opt(&c.queue),
            opt(&c.agent),
            opt(&c.disposition.clone().or(c.outcome.clone())),
            end,
            opt(&c.followup_id),
        ]);
    }
    let mut out = columns(&lines);
    if rows.is_empty() {
        out.push_str("(no calls)\n");
    }
    out
}

/// `lines` with each column as wide as its widest cell.
fn columns(lines: &[Vec<String>]) -> String {
    let n = lines.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..n)
        .map(|i| {
            lines
                .iter()
                .filter_map(|l| l.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for l in lines {
        let cells: Vec<String> = l
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// One call in full, as text.
fn detail(tz: Tz, d: &CallDetail) -> String {
    let c = &d.call;
    let t = |ms: Option<i64>| ms.map_or("-".to_string(), |ms| rfc3339(tz, ms));
    let o = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let secs = |ms: Option<i64>| ms.map_or("-".to_string(), |ms| format!("{} s", ms / 1000));
    let mut head = vec![
        vec![
            "call".into(),
            format!("{} ({})", c.id, c.direction.as_str()),
        ],
        vec!["caller".into(), c.caller.clone()],
        vec!["called".into(), c.called.clone()],
        vec!["arrived".into(), t(Some(c.arrived_at))],
        vec!["answered".into(), t(c.answered_at)],
        vec!["queued".into(), t(c.queued_at)],
        vec!["connected".into(), t(c.connected_at)],
        vec!["ended".into(), t(c.ended_at)],
        vec!["duration".into(), secs(c.duration_ms)],
        vec!["talk".into(), secs(c.talk_ms)],
        vec![
            "end".into(),
            format!("{} (by {})", o(&c.end_cause), o(&c.ended_by)),
        ],
        vec!["queue".into(), o(&c.queue)],
        vec!["agent".into(), o(&c.agent)],
        vec!["outcome".into(), o(&c.outcome)],
        vec!["disposition".into(), o(&c.disposition)],
        vec!["language".into(), o(&c.language)],
        vec!["customer".into(), o(&c.customer)],
    ];
    let optional = [
        ("follow-up", &c.followup_id),
        ("trunk", &c.trunk),
        ("recording", &c.recording),
    ];
    for (label, value) in optional {
        if let Some(v) = value {
            head.push(vec![label.into(), v.clone()]);
        }
    }
    let mut out = columns(&head);
    out.push_str("timeline:\n");
    if d.events.is_empty() {
        out.push_str("  (none)\n");
    }
    for e in &d.events {
        out.push_str(
            &format!("  {}  {}  {}\n", clock(tz, e.at), e.kind, e.detail).replace("  \n", "\n"),
        );
    }
    if !d.legs.is_empty() {
        out.push_str("legs:\n");
        let rows: Vec<Vec<String>> = d
            .legs
            .iter()
            .map(|l| {
                vec![
                    format!("  {}", l.seq),
                    format!("agent {}", l.agent),
                    o(&l.queue),
                    clock(tz, l.started_at),
                    l.answered_at.map_or("-".into(), |ms| clock(tz, ms)),
                    l.ended_at.map_or("-".into(), |ms| clock(tz, ms)),
                    o(&l.end_cause),
                ]
            })
            .collect();
        out.push_str(&columns(&rows));
    }
    if !d.survey.is_empty() {
        out.push_str("survey:\n");
        for s in &d.survey {
            let about = s
                .agent
                .as_ref()
                .map_or(String::new(), |a| format!(" (agent {a})"));
            out.push_str(&format!("  question {}: {}{about}\n", s.question, s.score));
        }
    }
    if !d.followups.is_empty() {
        out.push_str(&format!("follow-ups: {}\n", d.followups.join(", ")));
    }
    out
}
