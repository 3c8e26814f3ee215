//! `hotline check`: every problem with the settings, the folders, the prompts, the dial
//! plans, the queues, trunks and webhooks files, and whether the database can be reached,
//! one line each on standard output, without starting and without creating or changing
//! anything.

use std::process::ExitCode;

use crate::config::Overrides;
use crate::store::Store;

/// Checks the settings `o`; exit 1 if anything is wrong.
pub fn run(o: Overrides) -> ExitCode {
    let cfg = match o.load() {
        Ok(cfg) => cfg,
        Err(e) => {
            println!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let mut problems: Vec<String> = cfg
        .missing_folders()
        .iter()
        .map(|p| p.to_string())
        .collect();
    let prompts = if cfg.prompts.is_dir() {
        problems.extend(crate::prompts::check(&cfg.prompts));
        crate::prompts::load(&cfg.prompts).ok()
    } else {
        None
    };
    if cfg.dialplans.is_dir() {
        let (_, errors) = crate::ivr::load_dir(&cfg.dialplans, prompts.as_ref());
        problems.extend(errors.iter().map(|e| e.to_string()));
    }
    if let Ok(text) = std::fs::read_to_string(&cfg.queues) {
        if let Err(e) = crate::acd::config::parse(&text) {
            problems.push(format!("{}: {e}", cfg.queues.display()));
        }
    }
    if let Ok(text) = std::fs::read_to_string(&cfg.trunks) {
        if let Err(e) = crate::trunks::parse(&text) {
            problems.push(format!("{}: {e}", cfg.trunks.display()));
        }
    }
    let database = super::runtime().map(|rt| rt.block_on(Store::probe(&cfg.database)));
    match database {
        Ok(Ok(())) => {}
        Ok(Err(e)) => problems.push(e.to_string()),
        Err(e) => problems.push(format!("{e:#}")),
    }
    if let Err(e) = crate::webhooks::load(&cfg.webhooks) {
        problems.push(e.to_string());
    }
    for p in &problems {
        println!("{p}");
    }
    if problems.is_empty() {
        println!("configuration ok");
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
