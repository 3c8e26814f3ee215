//! The IVR: dial plans and the engine that walks one call through them.
//!
//! - [`plan`]: the typed dial plan, loading (`load_file`, `load_dir`) and `select`.
//! - `schema` and `validate`: the TOML file as serde reads it, and every check a
//!   plan passes before any call may use it.
//! - [`calendar`]: opening hours, public holidays and make-up working days.
//! - [`pattern`]: Asterisk-style digit patterns for `collect` nodes.
//! - [`action`] and [`engine`]: a call's session, `handle_input(now, input) -> Vec<Action>`,
//!   pure and fake-clock driven.
//! - [`mod@simulate`]: walks a flow with scripted keys, for `hotline simulate` and tests.
//!
//! Nothing here does I/O except `plan::load_file`/`load_dir` reading plan files at
//! start-up and reload; nothing reads a clock.

pub mod action;
pub mod calendar;
pub mod engine;
pub mod pattern;
pub mod plan;
mod schema;
pub mod simulate;
mod validate;

pub use action::{
    Action, CallInfo, FollowUpKind, Input, QueueOutcome, Secret, VerifyOutcome, Waiting,
};
pub use calendar::Calendar;
pub use engine::Session;
pub use plan::{load_dir, load_file, select, Language, Plan, PlanError};
pub use simulate::simulate;
