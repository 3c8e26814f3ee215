//! `hotline agents ...`: managing agents in the database. The running server picks changes
//! up within seconds (it polls the agents table and the state requests), so nothing here
//! talks to it directly.

use std::process::ExitCode;

use anyhow::Context as _;
use serde::Serialize;

use crate::config::Config;
use crate::store::{now_ms, AgentRow, NewAgent, Store};

/// The agent commands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Adds an agent. The SIP password is read from HOTLINE_AGENT_PASSWORD or --password
    /// and stored only as digest HA1 values.
    Add {
        /// Agent ID (工号), digits, announced to callers.
        #[arg(long)]
        id: String,
        #[arg(long)]
        name: String,
        /// SIP user name the phone registers with [default: the agent ID].
        #[arg(long)]
        extension: Option<String>,
        #[arg(long, env = "HOTLINE_AGENT_PASSWORD", hide_env_values = true)]
        password: String,
        /// Queue served, as NAME or NAME:PENALTY (lower penalty is offered calls first);
        /// repeat for several.
        #[arg(long = "queue")]
        queues: Vec<String>,
    },
    /// Lists agents with their queues and last state.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Removes an agent (their history stays).
    Remove { id: String },
    /// Sets a new SIP password.
    Passwd {
        id: String,
        #[arg(long, env = "HOTLINE_AGENT_PASSWORD", hide_env_values = true)]
        password: String,
    },
    /// Logs an agent in or out, pauses or resumes them (carried out by the running server).
    State {
        id: String,
        #[arg(value_parser = ["login", "logout", "pause", "resume"])]
        action: String,
        #[arg(long, default_value = "")]
        reason: String,
    },
}

/// Runs `hotline agents ...` against the database of `config`; HA1 values are made for
/// its realm, as the server checks them. Listing opens it read-only.
pub fn run(config: &Config, command: Command) -> anyhow::Result<ExitCode> {
    let read_only = matches!(command, Command::List { .. });
    let work = async |store: &Store| agents(store, &config.realm, command).await;
    match read_only {
        true => super::read_store(config, work),
        false => super::with_store(config, work),
    }
}

async fn agents(store: &Store, realm: &str, command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Add {
            id,
            name,
            extension,
            password,
            queues,
        } => {
            let queues = queues
                .iter()
                .map(|q| match q.split_once(':') {
                    Some((n, p)) => p
                        .parse::<u32>()
                        .map(|p| (n.to_string(), p))
                        .with_context(|| format!("--queue {q}: penalty must be a number")),
                    None => Ok((q.clone(), 0)),
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let agent = NewAgent {
                extension: extension.unwrap_or_else(|| id.clone()),
                id,
                name,
                password,
                realm: realm.to_string(),
                queues,
            };
            store.add_agent(&agent, now_ms()).await?;
            println!("agent {} added (extension {})", agent.id, agent.extension);
        }
        Command::List { json } => print!("{}", list(&store.agents().await?, json)?),
        Command::Remove { id } => {
            store.remove_agent(&id).await?;
            println!("agent {id} removed");
        }
        Command::Passwd { id, password } => {
            store
                .set_agent_password(&id, &password, realm, now_ms())
                .await?;
            println!("password of agent {id} changed");
        }
        Command::State { id, action, reason } => {
            store
                .request_agent_state(&id, &action, &reason, now_ms())
                .await?;
            println!("agent {id}: {action} requested");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The agents as a table, or as JSON (one array, one object per agent).
fn list(agents: &[AgentRow], json: bool) -> serde_json::Result<String> {
    if json {
        let list: Vec<AgentJson> = agents.iter().map(AgentJson::of).collect();
        return Ok(format!("{}\n", serde_json::to_string(&list)?));
    }
    let rows: Vec<Vec<String>> = agents
        .iter()
        .map(|a| {
            let queues: Vec<String> = a.queues.iter().map(|(q, p)| format!("{q}:{p}")).collect();
            let state = match &a.state {
                None => "logged_out".to_string(),
                Some((s, _, r)) if r.is_empty() => s.clone(),
                Some((s, _, r)) => format!("{s} ({r})"),
            };
            vec![
                a.id.clone(),
                a.name.clone(),
                a.extension.clone(),
                queues.join(","),
                state,
            ]
        })
        .collect();
    Ok(super::table::render(
        &["ID", "NAME", "EXTENSION", "QUEUES", "STATE"],
        &rows,
    ))
}

/// An agent as `agents list --json` prints it.
#[derive(Serialize)]
struct AgentJson<'a> {
    id: &'a str,
    name: &'a str,
    extension: &'a str,
    queues: Vec<QueueJson<'a>>,
    /// `logged_out` when the agent never logged in.
    state: &'a str,
    /// Since when, ms since the Unix epoch (0: never).
    since_ms: i64,
    reason: &'a str,
}

#[derive(Serialize)]
struct QueueJson<'a> {
    queue: &'a str,
    penalty: u32,
}

impl<'a> AgentJson<'a> {
    fn of(a: &'a AgentRow) -> AgentJson<'a> {
        let (state, since_ms, reason) = match &a.state {
            Some((s, since, r)) => (s.as_str(), *since, r.as_str()),
            None => ("logged_out", 0, ""),
        };
        AgentJson {
            id: &a.id,
            name: &a.name,
            extension: &a.extension,
            queues: a
                .queues
                .iter()
                .map(|(queue, penalty)| QueueJson {
                    queue,
                    penalty: *penalty,
                })
                .collect(),
            state,
            since_ms,
            reason,
        }
    }
}
