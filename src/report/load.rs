//! Reading a report's rows from the store: the one I/O step before [`super::compute`],
//! shared by the command line and the HTTP API.

use super::{compute, Kind, Period, Report, Rows};
use crate::followup::ReportSettings;
use crate::store::{Store, StoreError};

/// Reads the rows of `period` from `store` and computes the report, as of `now_ms`.
pub async fn build(
    store: &Store,
    settings: &ReportSettings,
    kind: Kind,
    period: Period,
    now_ms: i64,
) -> Result<Report, StoreError> {
    let (from, to) = (period.from_ms(), period.to_ms());
    let rows = Rows {
        calls: store.report_calls(from, to).await?,
        surveys: store.report_surveys(from, to).await?,
        followups: store.followups_created(from, to).await?,
        agent_states: store.report_agent_states(from, to).await?,
        legs: store.report_legs(from, to).await?,
        agent_names: store.agent_names().await?,
        dial_attempts: store.report_dial_attempts(from, to).await?,
        unreachable: store.report_unreachable(from, to).await?,
        outbound_calls: store.report_outbound_calls(from, to).await?,
    };
    Ok(compute(kind, period, &rows, settings, now_ms))
}
