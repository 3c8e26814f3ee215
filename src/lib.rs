//! hotline: call handling and IVR for customer-service hotlines.
//!
//! # Layout
//! - [`core`]: the protocol core (SIP transactions and dialogs, SDP, RTP, G.711). No I/O,
//!   no clock: it takes `(now, bytes)` and returns what to send.
//! - [`store`]: call records through sqlx, SQLite by default, PostgreSQL as an option.
//! - [`prompts`]: reads the prompt WAVs into the core's in-memory [`core::media::prompt::PromptSet`].
//! - [`config`]: settings from flags, environment and a TOML file, validated once.
//! - [`followup`]: follow-up deadlines on the business calendar, overdue, escalation and
//!   status moves (no I/O), and [`followup::desk`], the work list's actions through the
//!   store, shared by the command line and the HTTP desk; [`report`]: complaint, satisfaction, KPI and per-agent figures
//!   from rows, rendered as Markdown, CSV or HTML (no I/O).
//! - [`cli`]: the whole command line, one subcommand per file; the binary only calls it.
//! - [`acd`]: queues and agents' states (no I/O): who rings, who waits, in what order.
//! - [`switchboard`]: every call's orchestration as one state machine without I/O: it
//!   owns the SIP endpoint, the registrar, the ACD, the dial plan sessions and every
//!   call with its legs; `handle_input(now, Input)` in, `poll_output()` out.
//! - [`http`]: the JSON API, wallboard, desk, metrics and health (axum), off unless
//!   `http_listen` is set; it reads the switchboard's [`switchboard::Live`] copies and the
//!   store, and never touches the switchboard itself.
//! - [`metrics`]: the Prometheus metrics' names, help and buckets, recorded from every
//!   layer through the `metrics` facade (a no-op without a recorder, like `tracing`).
//! - [`webhooks`]: tells a CRM of ended calls and changed follow-ups, signed, through a
//!   durable outbox in the store.
//! - [`runtime`]: the tokio shell that owns sockets, threads, the clock and the
//!   database, feeds the switchboard and carries out what it asks.
//!
//! Dependencies point one way: runtime → switchboard → (core, acd, ivr, followup);
//! runtime → store; switchboard uses store's row and write types only.

pub mod acd;
pub mod cli;
pub mod config;
pub mod core;
pub mod dialer;
pub mod followup;
pub mod http;
pub mod ivr;
pub mod metrics;
pub mod prompts;
pub mod report;
pub mod runtime;
pub mod store;
pub mod switchboard;
pub mod trunks;
pub mod webhooks;

/// The layering promises above, checked by reading the source: a `use` that breaks one
/// compiles fine, so only a test notices.
#[cfg(test)]
mod layering {
    use std::path::{Path, PathBuf};

    /// Every `.rs` file under `src/<dir>`.
    fn sources(dir: &str) -> Vec<PathBuf> {
        let mut todo = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(dir)];
        let mut files = Vec::new();
        while let Some(d) = todo.pop() {
            for entry in std::fs::read_dir(&d).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    todo.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    files.push(path);
                }
            }
        }
        assert!(!files.is_empty(), "no sources under src/{dir}");
        files
    }

    /// `file:line: text` for every line of code (comments left out: they may name what
    /// the code must not do) under `src/<dir>` that contains one of `words`.
    fn uses(dir: &str, words: &[&str]) -> Vec<String> {
        let mut found = Vec::new();
        for file in sources(dir) {
            let text = std::fs::read_to_string(&file).unwrap();
            for (i, line) in text.lines().enumerate() {
                let code = line.trim_start();
                if !code.starts_with("//") && words.iter().any(|w| code.contains(w)) {
                    found.push(format!("{}:{}: {code}", file.display(), i + 1));
                }
            }
        }
        found
    }

    #[test]
    fn core_and_switchboard_do_no_io_and_read_no_clock() {
        for dir in ["core", "switchboard"] {
            let found = uses(
                dir,
                &[
                    "std::fs",
                    "hound::WavReader::open",
                    "tokio",
                    "Instant::now",
                    "SystemTime::now",
                    "now_ms()",
                    "rand::random",
                    "thread_rng",
                    "UdpSocket",
                ],
            );
            assert!(
                found.is_empty(),
                "I/O, a clock or an unseeded random source in src/{dir}:\n{}",
                found.join("\n")
            );
        }
    }

    #[test]
    fn store_does_not_import_the_followup_rules() {
        let found = uses("store", &["crate::followup", "super::super::followup"]);
        assert!(
            found.is_empty(),
            "the store uses the rules:\n{}",
            found.join("\n")
        );
    }
}
