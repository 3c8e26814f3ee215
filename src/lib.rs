//! hotline: call handling and IVR for customer-service hotlines.
//!
//! # Layout
//! - [`core`]: the protocol core (SIP transactions and dialogs, SDP, RTP, G.711). No I/O,
//!   no clock: it takes `(now, bytes)` and returns what to send.
//! - [`store`]: call records through sqlx, SQLite by default, PostgreSQL as an option.
//! - [`config`]: settings from flags, environment and a TOML file, validated once.
//! - [`followup`]: follow-up deadlines on the business calendar, overdue, escalation and
//!   status moves (no I/O); [`report`]: complaint, satisfaction, KPI and per-agent figures
//!   from rows, rendered as Markdown, CSV or HTML (no I/O); [`cli`]: the `followups` and `report`
//!   commands over the store.
//! - [`acd`]: queues and agents' states (no I/O): who rings, who waits, in what order.
//! - [`switchboard`]: every call's orchestration as one state machine without I/O: it
//!   owns the SIP endpoint, the registrar, the ACD, the dial plan sessions and every
//!   call with its legs; `handle_input(now, Input)` in, `poll_output()` out.
//! - [`runtime`]: the tokio shell that owns sockets, threads, the clock and the
//!   database, feeds the switchboard and carries out what it asks.
//!
//! Dependencies point one way: runtime → switchboard → (core, acd, ivr, followup);
//! runtime → store; switchboard uses store's row and write types only.

pub mod acd;
pub mod cli;
pub mod config;
pub mod core;
pub mod followup;
pub mod ivr;
pub mod report;
pub mod runtime;
pub mod store;
pub mod switchboard;
