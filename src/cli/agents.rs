//! `hotline agents ...`: managing agents in the database. The running server picks changes
//! up within seconds (it polls the agents table and the state requests), so nothing here
//! talks to it directly.

use std::process::ExitCode;

use anyhow::Context as _;

use crate::config::Config;
use crate::store::{now_ms, NewAgent, Store};

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
/// its realm, as the server checks them.
pub fn run(config: &Config, command: Command) -> anyhow::Result<ExitCode> {
    super::with_store(config, async |store| {
        agents(store, &config.realm, command).await
    })
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
        Command::List { json } => {
            let agents = store.agents().await?;
            if json {
                let rows: Vec<String> = agents
                    .iter()
                    .map(|a| {
                        let queues: Vec<String> = a
                            .queues
                            .iter()
                            .map(|(q, p)| format!("{{\"queue\":{},\"penalty\":{p}}}", json_str(q)))
                            .collect();
                        let (state, since, reason) = a
                            .state
                            .clone()
                            .unwrap_or(("logged_out".into(), 0, String::new()));
                        format!(
                            "{{\"id\":{},\"name\":{},\"extension\":{},\"queues\":[{}],\"state\":{},\"since_ms\":{since},\"reason\":{}}}",
                            json_str(&a.id),
                            json_str(&a.name),
                            json_str(&a.extension),
                            queues.join(","),
                            json_str(&state),
                            json_str(&reason)
                        )
                    })
                    .collect();
                println!("[{}]", rows.join(","));
            } else {
                println!(
                    "{:<8} {:<20} {:<12} {:<28} STATE",
                    "ID", "NAME", "EXTENSION", "QUEUES"
                );
                for a in agents {
                    let queues: Vec<String> =
                        a.queues.iter().map(|(q, p)| format!("{q}:{p}")).collect();
                    let state = a.state.map_or("logged_out".to_string(), |(s, _, r)| {
                        if r.is_empty() {
                            s
                        } else {
                            format!("{s} ({r})")
                        }
                    });
                    println!(
                        "{:<8} {:<20} {:<12} {:<28} {state}",
                        a.id,
                        a.name,
                        a.extension,
                        queues.join(",")
                    );
                }
            }
        }
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

/// A JSON string literal.
fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
