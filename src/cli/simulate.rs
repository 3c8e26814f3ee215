//! `hotline simulate`: walks a dial plan with no phone, on a fake clock and a throw-away
//! database, printing each step.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use chrono::TimeZone;

use crate::ivr::{Secret, VerifyOutcome};
use crate::store::{LockPolicy, Store};

/// `hotline simulate ...`
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The dial plan file.
    pub plan: PathBuf,
    /// Local time of the call in the plan's time zone, e.g. 2026-11-23T09:30.
    #[arg(long)]
    pub at: String,
    /// The caller's number.
    #[arg(long, default_value = "13800138000")]
    pub caller: String,
    /// Keys pressed, in groups separated by spaces (one group per question).
    #[arg(long, default_value = "")]
    pub keys: String,
    /// Customers CSV to verify against, loaded into a throw-away database.
    #[arg(long)]
    pub customers: Option<PathBuf>,
    /// Folder of prompts, to check the plan's prompts exist.
    #[arg(long, default_value = "prompts")]
    pub prompts: PathBuf,
}

/// Walks the plan; exit 1 if the plan does not load or the flow errs.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let at = &args.at;
    let prompts = crate::prompts::load(&args.prompts).ok();
    let plan = match crate::ivr::load_file(&args.plan, prompts.as_ref()) {
        Ok(plan) => std::sync::Arc::new(plan),
        Err(errors) => {
            for e in errors {
                println!("{e}");
            }
            return Ok(ExitCode::FAILURE);
        }
    };
    let naive = chrono::NaiveDateTime::parse_from_str(at, "%Y-%m-%dT%H:%M")
        .with_context(|| format!("--at {at}: expected YYYY-MM-DDTHH:MM"))?;
    let when = plan
        .calendar
        .time_zone()
        .from_local_datetime(&naive)
        .single()
        .with_context(|| format!("--at {at}: not a single local time in the plan's time zone"))?;
    // A throw-away database, so a simulation never touches real records.
    let dir = std::env::temp_dir().join(format!("hotline-simulate-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let url = format!("sqlite://{}/simulate.db", dir.display());
    let rt = super::runtime()?;
    let store = rt.block_on(Store::connect(&url))?;
    if let Some(csv) = &args.customers {
        rt.block_on(crate::store::import_customers_csv(&store, csv))?;
    }
    let verify = |account: &str, secret: &Secret| {
        let now = crate::store::now_ms();
        let policy = LockPolicy::default();
        match rt.block_on(store.verify(account, secret.clone().into(), now, &policy)) {
            Ok(v) => v.into(),
            Err(_) => VerifyOutcome::Failed,
        }
    };
    let result = crate::ivr::simulate(plan, when, &args.caller, &args.keys, verify);
    rt.block_on(store.close());
    let _ = std::fs::remove_dir_all(&dir);
    match result {
        Ok(lines) => {
            for l in lines {
                println!("{l}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(text) => {
            println!("{text}");
            Ok(ExitCode::FAILURE)
        }
    }
}
