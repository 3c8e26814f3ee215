//! hotline: call handling and IVR for customer-service hotlines.
//!
//! # Layout
//! - [`core`]: the protocol core (SIP transactions and dialogs, SDP, RTP, G.711). No I/O,
//!   no clock: it takes `(now, bytes)` and returns what to send.
//! - [`store`]: call records through sqlx, SQLite by default, PostgreSQL as an option.
//! - [`config`]: settings from flags, environment and a TOML file, validated once.
//! - [`followup`]: follow-up deadlines on the business calendar, overdue, escalation and
//!   status moves (no I/O); [`report`]: complaint, satisfaction, KPI and per-agent figures
//!   from rows, rendered as Markdown, CSV or HTML (no I/O).
//! - [`cli`]: the whole command line, one subcommand per file; the binary only calls it.
//! - [`acd`]: queues and agents' states (no I/O): who rings, who waits, in what order.
//! - [`runtime`]: the tokio shell that owns sockets, timers and the database, and the
//!   orchestrator that turns SIP events into call records, media, and ACD events.
//!
//! Dependencies point one way: runtime → (core, acd, ivr, store, config).

pub mod acd;
pub mod cli;
pub mod config;
pub mod core;
pub mod followup;
pub mod ivr;
pub mod report;
pub mod runtime;
pub mod store;
