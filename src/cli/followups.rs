//! `hotline followups`: the work list of callbacks, complaints and revisits.
//!
//! Every command first escalates the complaints that have missed a deadline (as of now, or
//! `--now`), so what it shows is up to date even when no server runs. Customers' numbers
//! are masked unless `--show-numbers`; follow-ups from a flagged number are marked
//! `⚑ review`, never left out. Callbacks and revisits show their call attempts, and
//! `UNREACHABLE` once the dialer has given up on them (for a supervisor: `followups call`
//! asks the running server to try once more).

use std::collections::HashMap;
use std::process::ExitCode;

use serde::Serialize;

use super::{local_minute, rfc3339, CliError, Common, Context, Globals};
use crate::followup::{
    check_change, due_times, overdue, revisit_verdict, Change, RevisitResult, Step, VerdictRefused,
};
use crate::store::{
    DialAttemptRow, DialRequest, DialState, FollowUpKind, FollowUpMove, FollowUpRow,
    FollowUpStatus, NewFollowUp, RevisitVerdict,
};

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
    let ctx = Context::open(globals, &args.common).await?;
    let result = dispatch(&ctx, &args).await;
    ctx.store.close().await;
    result
}

async fn dispatch(ctx: &Context, args: &Args) -> Result<ExitCode, CliError> {
    crate::followup::escalate_overdue(&ctx.store, &ctx.config.followups, ctx.now_ms).await?;
    let by = super::author(args.by.as_deref());
    match &args.command {
        Command::List {
            overdue: only_overdue,
            kind,
            owner,
            all,
            json,
        } => {
            let kind = kind.as_deref().map(parse_kind).transpose()?;
            let dial = ctx.store.dial_states().await?;
            let mut rows: Vec<FollowUpRow> = ctx
                .store
                .followups()
                .await?
                .into_iter()
                .filter(|f| {
                    *all || !matches!(f.status, FollowUpStatus::Resolved | FollowUpStatus::Closed)
                })
                .filter(|f| kind.is_none_or(|k| f.kind == k))
                .filter(|f| owner.is_none() || f.owner == *owner)
                .filter(|f| !*only_overdue || !overdue(f, ctx.now_ms).is_empty())
                .collect();
            rows.sort_by(|a, b| {
                b.urgency
                    .cmp(&a.urgency)
                    .then(next_due(a).cmp(&next_due(b)))
                    .then(a.created_at.cmp(&b.created_at))
            });
            if *json {
                let items: Vec<Json> = rows
                    .iter()
                    .map(|f| Json::of(ctx, f, state(&dial, f), None, None))
                    .collect();
                println!("{}", to_json(&items));
            } else {
                print!("{}", table(ctx, &rows, &dial));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Show { id, json } => {
            let f = find(ctx, id).await?;
            let notes = ctx.store.followup_notes(id).await?;
            let dial = ctx.store.dial_states().await?;
            let attempts = ctx.store.dial_attempts(id).await?;
            let st = state(&dial, &f);
            if *json {
                let j = Json::of(ctx, &f, st, Some(&notes), Some(&attempts));
                println!("{}", to_json(&j));
            } else {
                print!("{}", details(ctx, &f, st, &notes, &attempts));
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
                let row = find(ctx, &id).await?;
                let j = Json::of(ctx, &row, DialState::default(), None, None);
                println!("{}", to_json(&j));
            } else {
                println!("{id}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Note { id, text } => {
            if !ctx
                .store
                .add_followup_note(id, ctx.now_ms, &by, text)
                .await?
            {
                return Err(CliError::NotFound(id.clone()));
            }
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

/// Leaves a call request for the running server, which places it when the agent (or any
/// agent of the queue) is free: the command line cannot see who is free, the server can.
async fn call(
    ctx: &Context,
    id: &str,
    agent: Option<&str>,
    by: &str,
) -> Result<ExitCode, CliError> {
    let f = find(ctx, id).await?;
    if !matches!(f.kind, FollowUpKind::Callback | FollowUpKind::Revisit) {
        return Err(CliError::Usage(format!(
            "{id} is a {}: only callbacks and revisits are called",
            f.kind.as_str()
        )));
    }
    if !matches!(f.status, FollowUpStatus::Open | FollowUpStatus::Forwarded) {
        return Err(CliError::Usage(format!(
            "{id} is {}: only an open or forwarded follow-up is called",
            f.status.as_str()
        )));
    }
    if let Some(a) = agent {
        if ctx.store.agent(a).await?.is_none() {
            return Err(CliError::Usage(format!(
                "no agent {a} (see `hotline agents list`)"
            )));
        }
    }
    let queue = match &f.call_id {
        Some(call) => ctx.store.call_ivr(call).await?.and_then(|c| c.queue),
        None => None,
    };
    // An unreachable follow-up may be asked for again: this is one more try (the
    // request gives it back to the dialer).
    let again = match ctx.store.dial_states().await?.get(id) {
        Some(s) if s.unreachable_at.is_some() => {
            format!(" (once more: unreachable after {} attempts)", s.attempts)
        }
        _ => String::new(),
    };
    ctx.store
        .request_dial(&DialRequest {
            followup: id.to_string(),
            agent: agent.map(str::to_string),
            requested_by: by.to_string(),
            at: ctx.now_ms,
        })
        .await?;
    let who = match (agent, queue) {
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

/// The call attempts of `f` (none yet: the default).
fn state(dial: &HashMap<String, DialState>, f: &FollowUpRow) -> DialState {
    dial.get(&f.id).copied().unwrap_or_default()
}

/// Records the verdict of revisit `id` on it and its complaint (reopening the complaint when
/// the customer is not satisfied).
async fn revisit(
    ctx: &Context,
    id: &str,
    result: RevisitResult,
    note: Option<String>,
    by: &str,
) -> Result<ExitCode, CliError> {
    let r = find(ctx, id).await?;
    if r.kind != FollowUpKind::Revisit {
        let hint = match r.kind {
            FollowUpKind::Complaint => ctx
                .store
                .followups()
                .await?
                .into_iter()
                .filter(|x| x.parent_id.as_deref() == Some(id) && x.revisit_result.is_none())
                .map(|x| format!("; its revisit is {}", x.id))
                .next_back()
                .unwrap_or_default(),
            _ => String::new(),
        };
        return Err(VerdictRefused::NotARevisit {
            id: id.to_string(),
            kind: r.kind.as_str(),
            hint,
        }
        .into());
    }
    let parent = r
        .parent_id
        .clone()
        .ok_or_else(|| VerdictRefused::NoComplaint(id.to_string()))?;
    let complaint = find(ctx, &parent).await?;
    let reopen = revisit_verdict(&r, &complaint, result, &ctx.config.followups)?;
    let v = RevisitVerdict {
        revisit: r.id.clone(),
        revisit_from: r.status,
        complaint: complaint.id.clone(),
        complaint_from: complaint.status,
        result,
        reopen,
        at: ctx.now_ms,
        author: by.to_string(),
        note,
    };
    if !ctx.store.record_revisit(&v).await? {
        return Err(changed(id));
    }
    println!("{id}: customer {}", result.as_str());
    match reopen {
        Some((status, rise)) => println!(
            "complaint {parent} reopened ({}), urgency {} (+{rise})",
            status.as_str(),
            complaint.urgency + rise
        ),
        None => println!("complaint {parent} may now be closed"),
    }
    Ok(ExitCode::SUCCESS)
}

fn changed(id: &str) -> CliError {
    CliError::Usage(format!(
        "{id} changed while this command ran; look at it again"
    ))
}

fn parse_kind(k: &str) -> Result<FollowUpKind, CliError> {
    FollowUpKind::parse(k).ok_or_else(|| {
        CliError::Usage(format!(
            "unknown kind {k:?}: callback, complaint or revisit"
        ))
    })
}

async fn find(ctx: &Context, id: &str) -> Result<FollowUpRow, CliError> {
    ctx.store
        .followup(id)
        .await?
        .ok_or_else(|| CliError::NotFound(id.to_string()))
}

/// Makes a status move; resolving a complaint also creates its revisit.
async fn change(ctx: &Context, id: &str, change: Change, by: &str) -> Result<ExitCode, CliError> {
    let f = find(ctx, id).await?;
    check_change(&f, &change)?;
    let revisit = match (&change, f.kind) {
        (Change::Resolve { .. }, FollowUpKind::Complaint) => {
            let mut r = NewFollowUp::new(FollowUpKind::Revisit, f.number.clone(), ctx.now_ms);
            r.category = f.category.clone();
            r.call_id = f.call_id.clone();
            r.customer = f.customer.clone();
            r.owner = f.owner.clone();
            r.parent_id = Some(f.id.clone());
            due_times(
                &ctx.config.followups,
                &ctx.calendar,
                FollowUpKind::Revisit,
                &f.category,
                ctx.now_ms,
                None,
            )
            .apply(&mut r);
            Some(r)
        }
        _ => None,
    };
    let m = FollowUpMove {
        id: id.to_string(),
        from: f.status,
        change: change.clone(),
        at: ctx.now_ms,
        author: by.to_string(),
        revisit: revisit.clone(),
    };
    if !ctx.store.move_followup(&m).await? {
        return Err(changed(id));
    }
    println!("{id}: {}", change.note());
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

/// The earliest due time of a step not yet done (for ordering the list).
fn next_due(f: &FollowUpRow) -> i64 {
    Step::ALL
        .into_iter()
        .filter(|s| !s.done(f))
        .filter_map(|s| s.due(f))
        .min()
        .unwrap_or(i64::MAX)
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

fn table(ctx: &Context, rows: &[FollowUpRow], dial: &HashMap<String, DialState>) -> String {
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
    let mut lines: Vec<Vec<String>> = vec![head.iter().map(|s| s.to_string()).collect()];
    for f in rows {
        let st = state(dial, f);
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
        out.push_str("(no follow-ups)\n");
    }
    out
}

fn details(
    ctx: &Context,
    f: &FollowUpRow,
    dial: DialState,
    notes: &[crate::store::NoteRow],
    attempts: &[DialAttemptRow],
) -> String {
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

/// A follow-up as `--json` prints it: times as RFC 3339 in the calendar's time zone.
#[derive(Serialize)]
struct Json {
    id: String,
    kind: &'static str,
    category: String,
    status: &'static str,
    urgency: i32,
    overdue: Vec<&'static str>,
    escalated: bool,
    escalation: i32,
    escalated_at: Option<String>,
    flagged: bool,
    number: String,
    customer: Option<String>,
    call_id: Option<String>,
    owner: Option<String>,
    department: Option<String>,
    created_at: String,
    promised_from: Option<String>,
    promised_to: Option<String>,
    due_forward: Option<String>,
    due_contact: Option<String>,
    due_answer: Option<String>,
    due_resolve: Option<String>,
    forwarded_at: Option<String>,
    contacted_at: Option<String>,
    answered_at: Option<String>,
    resolved_at: Option<String>,
    closed_at: Option<String>,
    outcome: Option<String>,
    parent_id: Option<String>,
    revisit_result: Option<&'static str>,
    attempts: u32,
    last_attempt_at: Option<String>,
    unreachable: bool,
    unreachable_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dial_attempts: Option<Vec<AttemptJson>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    notes: Option<Vec<NoteJson>>,
}

#[derive(Serialize)]
struct AttemptJson {
    call_id: String,
    result: &'static str,
    at: String,
    agent: Option<String>,
}

#[derive(Serialize)]
struct NoteJson {
    at: String,
    author: String,
    text: String,
}

impl Json {
    fn of(
        ctx: &Context,
        f: &FollowUpRow,
        dial: DialState,
        notes: Option<&[crate::store::NoteRow]>,
        attempts: Option<&[DialAttemptRow]>,
    ) -> Json {
        let tz = ctx.tz();
        let t = |v: Option<i64>| v.map(|ms| rfc3339(tz, ms));
        Json {
            id: f.id.clone(),
            kind: f.kind.as_str(),
            category: f.category.clone(),
            status: f.status.as_str(),
            urgency: f.urgency,
            overdue: overdue(f, ctx.now_ms).iter().map(|s| s.name()).collect(),
            escalated: f.escalated_at.is_some(),
            escalation: f.escalation,
            escalated_at: t(f.escalated_at),
            flagged: f.flagged,
            number: ctx.globals.number(&f.number),
            customer: f.customer.as_deref().map(|c| ctx.globals.number(c)),
            call_id: f.call_id.clone(),
            owner: f.owner.clone(),
            department: f.department.clone(),
            created_at: rfc3339(tz, f.created_at),
            promised_from: t(f.promised_from),
            promised_to: t(f.promised_to),
            due_forward: t(f.due_forward),
            due_contact: t(f.due_contact),
            due_answer: t(f.due_answer),
            due_resolve: t(f.due_resolve),
            forwarded_at: t(f.forwarded_at),
            contacted_at: t(f.contacted_at),
            answered_at: t(f.answered_at),
            resolved_at: t(f.resolved_at),
            closed_at: t(f.closed_at),
            outcome: f.outcome.clone(),
            parent_id: f.parent_id.clone(),
            revisit_result: f.revisit_result.map(RevisitResult::as_str),
            attempts: dial.attempts,
            last_attempt_at: t(dial.last_attempt_at),
            unreachable: dial.unreachable_at.is_some(),
            unreachable_at: t(dial.unreachable_at),
            dial_attempts: attempts.map(|a| {
                a.iter()
                    .map(|a| AttemptJson {
                        call_id: a.call_id.clone(),
                        result: a.result.as_str(),
                        at: rfc3339(tz, a.at),
                        agent: a.agent.clone(),
                    })
                    .collect()
            }),
            notes: notes.map(|n| {
                n.iter()
                    .map(|n| NoteJson {
                        at: rfc3339(tz, n.at),
                        author: n.author.clone(),
                        text: n.text.clone(),
                    })
                    .collect()
            }),
        }
    }
}

fn to_json<T: Serialize>(v: &T) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}
