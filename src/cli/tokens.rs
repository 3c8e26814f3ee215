//! `hotline tokens ...`: tokens for the HTTP API, the wallboard and the desk. A new token
//! is printed once and stored only as a hash; a lost one is revoked and made anew.

use std::process::ExitCode;

use crate::config::Config;
use crate::store::{now_ms, Role};

/// The token commands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Makes a token and prints it once.
    Add {
        /// Who holds it (a person, a wall screen, a CRM); logged with every request.
        #[arg(long)]
        name: String,
        /// viewer (wallboard), agent (own calls and follow-ups), supervisor (the desk,
        /// reports), admin (also reload).
        #[arg(long, value_parser = ["viewer", "agent", "supervisor", "admin"])]
        role: String,
        /// For role agent: the agent ID whose calls and follow-ups it reaches.
        #[arg(long)]
        agent: Option<String>,
    },
    /// Lists tokens by name (never the tokens themselves).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Stops accepting a token.
    Revoke { name: String },
}

/// Runs `hotline tokens ...` against the database of `config`.
pub fn run(config: &Config, command: Command) -> anyhow::Result<ExitCode> {
    let tz = super::plan(config).map_or(chrono_tz::Asia::Shanghai, |p| p.calendar.time_zone());
    super::with_store(config, async |store| {
        match command {
            Command::Add { name, role, agent } => {
                let role = Role::parse(&role).unwrap_or(Role::Viewer);
                let token = store
                    .add_token(&name, role, agent.as_deref(), now_ms())
                    .await?;
                eprintln!("token {name} ({role}) made; it is shown this once:");
                println!("{}", token.secret);
            }
            Command::List { json } => {
                let tokens = store.tokens().await?;
                if json {
                    println!("{}", serde_json::to_string_pretty(&tokens)?);
                } else {
                    let rows: Vec<Vec<String>> = tokens
                        .iter()
                        .map(|t| {
                            vec![
                                t.name.clone(),
                                t.role.to_string(),
                                t.agent_id.clone().unwrap_or_else(|| "-".into()),
                                super::local_minute(tz, t.created_at),
                                t.revoked_at
                                    .map_or("-".into(), |r| super::local_minute(tz, r)),
                            ]
                        })
                        .collect();
                    let head = ["NAME", "ROLE", "AGENT", "CREATED", "REVOKED"];
                    print!("{}", super::table::render(&head, &rows));
                    if tokens.is_empty() {
                        println!("(no tokens: hotline tokens add --name N --role R)");
                    }
                }
            }
            Command::Revoke { name } => {
                store.revoke_token(&name, now_ms()).await?;
                println!("token {name} revoked");
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}
