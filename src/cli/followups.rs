//! `hotline followups`: the work list of callbacks, complaints and revisits.
//!
//! The rules live in [`crate::followup::desk`], shared with the HTTP desk; this file only
//! reads the command line and prints. Escalation of overdue complaints is the running
//! server's (every minute), so listing never writes. Customers' numbers
//! are masked unless `--show-numbers`; follow-ups from a flagged number are marked
//! `⚑ review`, never left out. Callbacks and revisits show their call attempts, and
//! `UNREACHABLE` once the dialer has given up on them (for a supervisor: `followups call`
//! asks the running server to try once more).

use std::process::ExitCode;

use serde::Serialize;

use super::{local_minute, CliError, Common, Context, Globals};
use crate::followup::desk::{Desk, DeskError, Detail, Item, ListFilter, View};
use crate::followup::{due_times, overdue, Change, RevisitResult, Step};
use crate::store::{DialState, FollowUpKind, FollowUpRow, NewFollowUp};

/// `hotline followups ...`
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub common: Common,
    /// Who is acting, for the note history [default: $USER, else cli].
    #[arg(long = "by", env = "HOTLINE_USER", global = true)]
    pub by: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

/// The follow-up commands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// The work list: follow-ups not yet resolved or closed (all with --all), most urgent first.
    List {
        /// Only those past a due time.
        #[arg(long)]
        overdue: bool,
        /// Only this kind: callback, complaint or revisit.
        #[arg(long)]
        kind: Option<String>,
        /// Only those owned by this agent (or department).
        #[arg(long)]
        owner: Option<String>,
        /// Include resolved and closed ones.
        #[arg(long)]
        all: bool,
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Everything about one follow-up, with its note history.
    Show {
        id: String,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Creates a follow-up; its due times come from the rules and the calendar.
    Create {
        /// callback, complaint or revisit.
        #[arg(long)]
        kind: String,
        /// Number to call back.
        #[arg(long)]
        number: String,
        /// Category (selects the category's deadlines).
        #[arg(long, default_value = "")]
        category: String,
        /// The customer's account.
        #[arg(long)]
        customer: Option<String>,
        /// The call it came from (our call id).
        #[arg(long)]
        call: Option<String>,
        /// Agent or department that owns it.
        #[arg(long)]
        owner: Option<String>,
        /// Higher is more urgent.
        #[arg(long, default_value_t = 0)]
        urgency: i32,
        /// End of a promised callback window (RFC 3339); the callback is due then.
        #[arg(long)]
        promised_by: Option<String>,
        /// A first note.
        #[arg(long)]
        note: Option<String>,
        /// Print the new follow-up as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Hands a follow-up to the department responsible.
    Forward {
        id: String,
        /// The department.
        #[arg(long)]
        to: String,
    },
    /// Adds a line to the note history.
    Note { id: String, text: String },
    /// A complaint's customer was told it was received and is being handled (status stays).
    Contact { id: String },
    /// The customer has heard back (a callback or revisit: the call was made).
    Answer { id: String },
    /// Resolved, with a resolution code; a resolved complaint gets a revisit.
    Resolve {
        id: String,
        /// Resolution code.
        #[arg(long)]
        outcome: String,
    },
    /// Nothing more to do. A complaint needs its revisit's result first, unless forced.
    Close {
        id: String,
        /// Close a complaint whose revisit has no result.
        #[arg(long, requires = "reason")]
        force: bool,
        /// Why it is closed anyway (goes into the note history).
        #[arg(long, requires = "force")]
        reason: Option<String>,
    },
    /// Records what the revisit found; ID is the revisit's. An unsatisfied customer reopens
    /// the complaint with raised urgency.
    Revisit {
        id: String,
        /// The customer is satisfied with the resolution.
        #[arg(
            long,
            conflicts_with = "unsatisfied",
            required_unless_present = "unsatisfied"
        )]
        satisfied: bool,
        /// The customer is not: the complaint is reopened.
        #[arg(long)]
        unsatisfied: bool,
        /// A line for the revisit's note history.
        #[arg(long)]
        note: Option<String>,
    },
    /// Asks the running server to call the customer of an open or forwarded callback or
    /// revisit now: agent first, then the customer.
    Call {
        id: String,
        /// The agent to make the call [default: any agent of the queue the call came from].
        #[arg(long)]
        agent: Option<String>,
    },
}

/// Runs `hotline followups ...`.
pub async fn run(globals: &Globals, args: Args) -> Result<ExitCode, CliError> {
    // Looking changes nothing, so it also works on a read-only replica.
    let ctx = match args.command {
        Command::List { .. } | Command::Show { .. } => {
            Context::open_read_only(globals, &args.common).await?
        }
        _ => Context::open(globals, &args.common).await?,
    };
    let result = dispatch(&ctx, &args).await;
    ctx.store.close().await;
    result
}

impl From<DeskError> for CliError {
    fn from(e: DeskError) -> CliError {
        match e {
            DeskError::NotFound(id) => CliError::NotFound(id),
            DeskError::NotAllowed(e) => CliError::NotAllowed(e),
            DeskError::Verdict(e) => CliError::Verdict(e),
            DeskError::Store(e) => CliError::Store(e),
            e @ (DeskError::Refused(_) | DeskError::Changed(_)) => CliError::Usage(e.to_string()),
        }
    }
}

fn desk(ctx: &Context) -> Desk<'_> {
    Desk {
        store: &ctx.store,
        rules: &ctx.config.followups,
        calendar: &ctx.calendar,
        now_ms: ctx.now_ms,
    }
}

fn view(ctx: &Context, item: &Item, detail: Option<&Detail>) -> View {
    View::of(item, detail, ctx.tz(), ctx.now_ms, |n| {
        ctx.globals.number(n)
    })
}

async fn dispatch(ctx: &Context, args: &Args) -> Result<ExitCode, CliError> {
    let by = super::author(args.by.as_deref());
    let desk = desk(ctx);
    match &args.command {
        Command::List {
            overdue,
            kind,
            owner,
            all,
            json,
        } => {
            let filter = ListFilter {
                overdue: *overdue,
                kind: kind.as_deref().map(parse_kind).transpose()?,
                owner: owner.clone(),
                all: *all,
            };
            let items = desk.list(&filter).await?;
            if *json {
                let views: Vec<View> = items.iter().map(|i| view(ctx, i, None)).collect();
                println!("{}", to_json(&views));
            } else {
                print!("{}", table(ctx, &items));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Show { id, json } => {
            let d = desk.show(id).await?;
            if *json {
                println!("{}", to_json(&view(ctx, &d.item, Some(&d))));
            } else {
                print!("{}", details(ctx, &d));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Create {
            kind,
            number,
            category,
            customer,
            call,
            owner,
            urgency,
            promised_by,
            note,
            json,
        } => {
            let kind = parse_kind(kind)?;
            let mut f = NewFollowUp::new(kind, number.clone(), ctx.now_ms);
            f.category = category.clone();
            f.customer = customer.clone();
            f.call_id = call.clone();
            f.owner = owner.clone();
            f.urgency = *urgency;
            if let Some(t) = promised_by {
                let t = chrono::DateTime::parse_from_rfc3339(t).map_err(|_| {
                    CliError::Usage(format!("--promised-by {t}: expected RFC 3339"))
                })?;
                f.promised_to = Some(t.timestamp_millis());
            }
            due_times(
                &ctx.config.followups,
                &ctx.calendar,
                kind,
                category,
                ctx.now_ms,
                f.promised_to,
            )
            .apply(&mut f);
            let id = ctx.store.create_followup(&f).await?;
            if let Some(text) = note {
                ctx.store
                    .add_followup_note(&id, ctx.now_ms, &by, text)
                    .await?;
            }
            if *json {
                let item = Item {
                    row: desk.find(&id).await?,
                    dial: DialState::default(),
                };
                println!("{}", to_json(&view(ctx, &item, None)));
            } else {
                println!("{id}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Note { id, text } => {
            desk.note(id, &by, text).await?;
            println!("{id}: note added");
            Ok(ExitCode::SUCCESS)
        }
        Command::Forward { id, to } => {
            change(
                ctx,
                id,
                Change::Forward {
                    department: to.clone(),
                },
                &by,
            )
            .await
        }
        Command::Contact { id } => change(ctx, id, Change::Contact, &by).await,
        Command::Answer { id } => change(ctx, id, Change::Answer, &by).await,
        Command::Resolve { id, outcome } => {
            change(
                ctx,
                id,
                Change::Resolve {
                    outcome: outcome.clone(),
                },
                &by,
            )
            .await
        }
        Command::Close { id, reason, .. } => {
            let forced = reason.clone();
            change(ctx, id, Change::Close { forced }, &by).await
        }
        Command::Revisit {
            id,
            satisfied,
            note,
            ..
        } => {
            let result = match satisfied {
                true => RevisitResult::Satisfied,
                false => RevisitResult::Unsatisfied,
            };
            revisit(ctx, id, result, note.clone(), &by).await
        }
        Command::Call { id, agent } => call(ctx, id, agent.as_deref(), &by).await,
    }
}

/// Asks the running server for the call (only it knows who is free) and says so.
async fn call(
    ctx: &Context,
    id: &str,
    agent: Option<&str>,
    by: &str,
) -> Result<ExitCode, CliError> {
    let desk = desk(ctx);
    let asked = desk.request_call(id, agent, by).await?;
    let f = desk.find(id).await?;
    let again = asked.again_after.map_or(String::new(), |n| {
        format!(" (once more: unreachable after {n} attempts)")
    });
    let who = match (agent, asked.queue) {
        (Some(a), _) => format!("agent {a} is free"),
        (None, Some(q)) => format!("an agent of queue {q} is free"),
        (None, None) => "an agent is free".to_string(),
    };
    println!(
        "{id}: call to {} requested{again}; the running server calls when {who}",
        ctx.globals.number(&f.number)
    );
    Ok(ExitCode::SUCCESS)
}

/// Records the verdict of revisit `id` and says what it did to the complaint.
async fn revisit(
    ctx: &Context,
    id: &str,
    result: RevisitResult,
    note: Option<String>,
    by: &str,
) -> Result<ExitCode, CliError> {
    let v = desk(ctx).revisit(id, result, note, by).await?;
    println!("{id}: customer {}", result.as_str());
    match v.reopened {
        Some((status, urgency)) => println!(
            "complaint {} reopened ({}), urgency {urgency} (+{})",
            v.complaint,
            status.as_str(),
            ctx.config.followups.escalate_by
        ),
        None => println!("complaint {} may now be closed", v.complaint),
    }
    Ok(ExitCode::SUCCESS)
}

fn parse_kind(k: &str) -> Result<FollowUpKind, CliError> {
    FollowUpKind::parse(k).ok_or_else(|| {
        CliError::Usage(format!(
            "unknown kind {k:?}: callback, complaint or revisit"
        ))
    })
}

/// Makes a status move and says what it did.
async fn change(ctx: &Context, id: &str, change: Change, by: &str) -> Result<ExitCode, CliError> {
    let note = change.note();
    let revisit = desk(ctx).change(id, change, by).await?;
    println!("{id}: {note}");
    if let Some(r) = revisit {
        println!(
            "revisit {} created, due {}",
            r.id,
            r.due_answer
                .map_or("-".into(), |d| local_minute(ctx.tz(), d))
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The marker of a follow-up from a number in `caller_flags`: a supervisor reviews it.
const REVIEW: &str = "⚑ review";
/// The marker of a follow-up the dialer gave up on after its last attempt.
const UNREACHABLE: &str = "UNREACHABLE";

fn flags(ctx: &Context, f: &FollowUpRow, dial: DialState) -> String {
    let mut v = Vec::new();
    if dial.unreachable_at.is_some() {
        v.push(UNREACHABLE.to_string());
    }
    let late: Vec<&str> = overdue(f, ctx.now_ms).iter().map(|s| s.name()).collect();
    if !late.is_empty() {
        v.push(format!("OVERDUE({})", late.join("+")));
    }
    if f.escalated_at.is_some() {
        v.push("ESCALATED".to_string());
    }
    if f.flagged {
        v.push(REVIEW.to_string());
    }
    v.join(" ")
}

fn table(ctx: &Context, rows: &[Item]) -> String {
    let tz = ctx.tz();
    let when = |t: Option<i64>| t.map_or("-".to_string(), |t| local_minute(tz, t));
    let head = [
        "ID",
        "KIND",
        "CATEGORY",
        "STATUS",
        "URG",
        "CALLS",
        "OWNER",
        "FORWARD BY",
        "CONTACT BY",
        "ANSWER BY",
        "RESOLVE BY",
        "FLAGS",
    ];
    let mut lines: Vec<Vec<String>> = Vec::new();
    for Item { row: f, dial: st } in rows {
        let st = *st;
        lines.push(vec![
            f.id.clone(),
            f.kind.as_str().to_string(),
            f.category.clone(),
            f.status.as_str().to_string(),
            f.urgency.to_string(),
            st.attempts.to_string(),
            f.owner
                .clone()
                .or_else(|| f.department.clone())
                .unwrap_or_else(|| "-".into()),
            when(f.due_forward),
            when(f.due_contact),
            when(f.due_answer),
            when(f.due_resolve),
            flags(ctx, f, st),
        ]);
    }
    let mut out = super::table::render(&head, &lines);
    if rows.is_empty() {
        out.push_str("(no follow-ups)\n");
    }
    out
}

fn details(ctx: &Context, d: &Detail) -> String {
    let (f, dial, notes, attempts) = (&d.item.row, d.item.dial, &d.notes, &d.attempts);
    let tz = ctx.tz();
    let when = |t: Option<i64>| t.map_or("-".to_string(), |t| local_minute(tz, t));
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let mut s = String::new();
    let mut line = |k: &str, v: String| s.push_str(&format!("{k:<14}{v}\n"));
    line("id", f.id.clone());
    line("kind", f.kind.as_str().into());
    line("category", f.category.clone());
    line("status", f.status.as_str().into());
    line("urgency", f.urgency.to_string());
    line("flags", flags(ctx, f, dial));
    line("number", ctx.globals.number(&f.number));
    line(
        "customer",
        f.customer
            .as_deref()
            .map_or("-".into(), |c| ctx.globals.number(c)),
    );
    line("call", opt(&f.call_id));
    line("owner", opt(&f.owner));
    line("department", opt(&f.department));
    line("created", when(Some(f.created_at)));
    if f.promised_to.is_some() {
        line(
            "promised",
            format!("{} to {}", when(f.promised_from), when(f.promised_to)),
        );
    }
    for step in Step::ALL {
        if let Some(due) = step.due(f) {
            line(
                &format!("{} by", step.name()),
                format!("{} (done {})", when(Some(due)), when(step.reached(f))),
            );
        }
    }
    if let Some(o) = &f.outcome {
        line("outcome", o.clone());
    }
    if let Some(p) = &f.parent_id {
        line("revisit of", p.clone());
    }
    if let Some(r) = f.revisit_result {
        line("revisit", format!("customer {}", r.as_str()));
    }
    if f.closed_at.is_some() {
        line("closed", when(f.closed_at));
    }
    if dial.attempts > 0 || !attempts.is_empty() {
        line(
            "call attempts",
            format!("{} (last {})", dial.attempts, when(dial.last_attempt_at)),
        );
    }
    if dial.unreachable_at.is_some() {
        line("unreachable", when(dial.unreachable_at));
    }
    if !attempts.is_empty() {
        s.push_str("dial attempts:\n");
        for a in attempts {
            s.push_str(&format!(
                "  {}  {:<10} call {}{}\n",
                when(Some(a.at)),
                a.result.as_str(),
                a.call_id,
                a.agent
                    .as_deref()
                    .map_or(String::new(), |x| format!("  agent {x}"))
            ));
        }
    }
    s.push_str("notes:\n");
    if notes.is_empty() {
        s.push_str("  (none)\n");
    }
    for n in notes {
        s.push_str(&format!(
            "  {}  {}: {}\n",
            when(Some(n.at)),
            n.author,
            n.text
        ));
    }
    s
}

fn to_json<T: Serialize>(v: &T) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}
