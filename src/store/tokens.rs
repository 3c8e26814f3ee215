//! Tokens for the HTTP surfaces. A token is shown once, when made; only its SHA-256 is
//! stored, so a copy of the database lets nobody in.

use std::fmt;

use rand::RngCore;
use sha2::{Digest, Sha256};

use super::{Db, Store, StoreError};

/// What a token may do; each role may do everything the ones before it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The wallboard and live figures.
    Viewer,
    /// Their own calls and follow-ups.
    Agent,
    /// Every call and follow-up, reports, agents' states.
    Supervisor,
    /// Also reloads the dial plans.
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Agent, Role::Supervisor, Role::Admin];

    /// The stored (and typed) value.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Agent => "agent",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A token's holder, as stored (never the token).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TokenRow {
    pub name: String,
    pub role: Role,
    /// For role agent: the agent whose calls and follow-ups it reaches.
    pub agent_id: Option<String>,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// A new token: the secret to hand over once, and what is stored of it.
pub struct NewToken {
    /// `hl_` and 64 hex digits.
    pub secret: String,
}

impl fmt::Debug for NewToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewToken(..)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("a token named {0:?} exists already")]
    Exists(String),
    #[error("no token named {0:?}")]
    NotFound(String),
    #[error("role agent needs --agent ID (whose calls the token reaches), and only it takes one")]
    AgentRole,
    #[error("no agent {0}")]
    NoAgent(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Hex SHA-256: what is stored of a token and what a presented token is looked up by.
fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

type Row = (String, String, Option<String>, i64, Option<i64>);

fn row((name, role, agent_id, created_at, revoked_at): Row) -> TokenRow {
    TokenRow {
        name,
        // The schema's CHECK allows only known roles; an unknown one reads as the least.
        role: Role::parse(&role).unwrap_or(Role::Viewer),
        agent_id,
        created_at,
        revoked_at,
    }
}

impl Store {
    /// Makes a token for `name` with `role` at `now_ms`; returns the secret, shown once.
    pub async fn add_token(
        &self,
        name: &str,
        role: Role,
        agent_id: Option<&str>,
        now_ms: i64,
    ) -> Result<NewToken, TokenError> {
        if (role == Role::Agent) != agent_id.is_some() {
            return Err(TokenError::AgentRole);
        }
        if let Some(a) = agent_id {
            if self.agent(a).await?.is_none() {
                return Err(TokenError::NoAgent(a.to_string()));
            }
        }
        if self.tokens().await?.iter().any(|t| t.name == name) {
            return Err(TokenError::Exists(name.to_string()));
        }
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let secret = format!("hl_{}", hex::encode(bytes));
        let hash = digest(&secret);
        on_db!(&self.db, pool => {
            sqlx::query(
                "INSERT INTO api_tokens (name, role, agent_id, hash, created_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(name)
            .bind(role.as_str())
            .bind(agent_id)
            .bind(hash.as_str())
            .bind(now_ms)
            .execute(pool)
            .await
            .map_err(StoreError::from)?;
        });
        Ok(NewToken { secret })
    }

    /// Every token ever made, revoked ones too, by name.
    pub async fn tokens(&self) -> Result<Vec<TokenRow>, StoreError> {
        let rows: Vec<Row> = on_db!(&self.db, pool => {
            sqlx::query_as(
                "SELECT name, role, agent_id, created_at, revoked_at FROM api_tokens ORDER BY name",
            )
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(row).collect())
    }

    /// The holder of `secret`, unless unknown or revoked.
    pub async fn token_holder(&self, secret: &str) -> Result<Option<TokenRow>, StoreError> {
        let hash = digest(secret);
        let found: Option<Row> = on_db!(&self.db, pool => {
            sqlx::query_as(
                "SELECT name, role, agent_id, created_at, revoked_at FROM api_tokens \
                 WHERE hash = $1 AND revoked_at IS NULL",
            )
            .bind(hash.as_str())
            .fetch_optional(pool)
            .await?
        });
        Ok(found.map(row))
    }

    /// Stops accepting the token named `name` from `now_ms` on.
    pub async fn revoke_token(&self, name: &str, now_ms: i64) -> Result<(), TokenError> {
        let done = on_db!(&self.db, pool => {
            sqlx::query(
                "UPDATE api_tokens SET revoked_at = $1 WHERE name = $2 AND revoked_at IS NULL",
            )
            .bind(now_ms)
            .bind(name)
            .execute(pool)
            .await
            .map_err(StoreError::from)?
            .rows_affected()
        });
        if done == 0 {
            return Err(TokenError::NotFound(name.to_string()));
        }
        Ok(())
    }
}
