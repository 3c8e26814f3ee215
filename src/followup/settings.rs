//! The `[followups]` and `[reports]` sections of the configuration file.
//!
//! ```toml
//! [followups]
//! forward = "12 hours"           # complaints: forwarded to the department by
//! contact = "12 hours"           # complaints: the customer told it is being handled by
//! answer = "1 working day"       # complaints: the customer hears back by
//! resolve = "7 working days"     # complaints: resolved by
//! callback = "4 working hours"   # callbacks without a promised window
//! revisit_after = "3 working days"
//! escalate_by = 1                # urgency added per missed deadline
//! calendar = "hotline.toml"      # dial plan whose calendar counts working time
//!
//! [followups.categories.billing]
//! answer = "4 working hours"
//!
//! [reports]
//! service_level_secs = 20
//! short_abandon_secs = 5
//! ```

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, TimeDelta};
use chrono_tz::Tz;

use crate::ivr::calendar::Calendar;
use crate::store::FollowUpKind;

/// A length of time as the service standards state it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    /// Elapsed hours, nights and weekends included.
    Hours(u32),
    /// Hours of working time on the calendar.
    WorkingHours(u32),
    /// The end of the N-th working day after the day it starts (T+N).
    WorkingDays(u32),
    /// Calendar days, same wall-clock time.
    Days(u32),
}

impl Span {
    /// Parses `12 hours`, `12h`, `4 working hours`, `4wh`, `1 working day`, `1 business day`,
    /// `7wd`, `3 days`, `3d`.
    pub fn parse(text: &str) -> Result<Span, String> {
        let t = text.trim().to_ascii_lowercase();
        let digits: String = t.chars().take_while(|c| c.is_ascii_digit()).collect();
        let unit = t[digits.len()..].trim().replace(['_', '-'], " ");
        let n: u32 = digits
            .parse()
            .map_err(|_| format!("{text:?} does not start with a number"))?;
        if n > 10_000 {
            return Err(format!("{text:?} is too long"));
        }
        match unit.as_str() {
            "h" | "hour" | "hours" => Ok(Span::Hours(n)),
            "wh" | "working hour" | "working hours" | "business hour" | "business hours" => {
                Ok(Span::WorkingHours(n))
            }
            "wd" | "bd" | "working day" | "working days" | "business day" | "business days" => {
                Ok(Span::WorkingDays(n))
            }
            "d" | "day" | "days" => Ok(Span::Days(n)),
            _ => Err(format!(
                "{text:?}: expected a number and hours, working hours, working days or days"
            )),
        }
    }

    /// The moment this span after `from`, on `calendar`.
    pub fn after(self, from: DateTime<Tz>, calendar: &Calendar) -> Option<DateTime<Tz>> {
        match self {
            Span::Hours(n) => Some(from + TimeDelta::hours(i64::from(n))),
            Span::WorkingHours(n) => calendar.add_working_hours(from, n),
            Span::WorkingDays(n) => calendar.add_working_days(from, n),
            Span::Days(n) => {
                let local = calendar.local(from).naive_local() + TimeDelta::days(i64::from(n));
                use chrono::TimeZone;
                calendar
                    .time_zone()
                    .from_local_datetime(&local)
                    .earliest()
                    .or_else(|| Some(from + TimeDelta::days(i64::from(n))))
            }
        }
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (n, unit) = match self {
            Span::Hours(n) => (n, "hour"),
            Span::WorkingHours(n) => (n, "working hour"),
            Span::WorkingDays(n) => (n, "working day"),
            Span::Days(n) => (n, "day"),
        };
        write!(f, "{n} {unit}{}", if *n == 1 { "" } else { "s" })
    }
}

/// Deadlines for one category; `None` fields fall back to the defaults.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CategoryRule {
    /// Forward by (complaints).
    pub forward: Option<Span>,
    /// The customer contacted by (complaints).
    pub contact: Option<Span>,
    /// First answer by (complaints), call made by (callbacks without a window, revisits).
    pub answer: Option<Span>,
    /// Resolve by (complaints).
    pub resolve: Option<Span>,
}

/// The follow-up rules: deadlines per kind and category, revisits, escalation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    /// A complaint is forwarded to the department responsible within this.
    pub forward: Span,
    /// A complaint's customer is told it was received and is being handled within this.
    pub contact: Span,
    /// A complaint's customer hears back within this.
    pub answer: Span,
    /// A complaint is resolved within this.
    pub resolve: Span,
    /// A callback without a promised window is made within this.
    pub callback: Span,
    /// A revisit is due this long after its complaint is resolved.
    pub revisit_after: Span,
    /// Urgency added for each missed deadline of a complaint.
    pub escalate_by: i32,
    /// File name of the dial plan whose calendar counts working time (default: the first).
    pub calendar: Option<String>,
    /// Overrides by category.
    pub categories: BTreeMap<String, CategoryRule>,
}

impl Default for Rules {
    fn default() -> Rules {
        Rules {
            forward: Span::Hours(12),
            contact: Span::Hours(12),
            answer: Span::WorkingDays(1),
            resolve: Span::WorkingDays(7),
            callback: Span::WorkingHours(4),
            revisit_after: Span::WorkingDays(3),
            escalate_by: 1,
            calendar: None,
            categories: BTreeMap::new(),
        }
    }
}

impl Rules {
    /// The deadlines that apply to a follow-up of `kind` in `category`.
    pub fn rule(&self, kind: FollowUpKind, category: &str) -> CategoryRule {
        let over = self.categories.get(category).copied().unwrap_or_default();
        match kind {
            FollowUpKind::Complaint => CategoryRule {
                forward: over.forward.or(Some(self.forward)),
                contact: over.contact.or(Some(self.contact)),
                answer: over.answer.or(Some(self.answer)),
                resolve: over.resolve.or(Some(self.resolve)),
            },
            FollowUpKind::Callback => CategoryRule {
                answer: over.answer.or(Some(self.callback)),
                ..CategoryRule::default()
            },
            FollowUpKind::Revisit => CategoryRule {
                answer: Some(self.revisit_after),
                ..CategoryRule::default()
            },
        }
    }

    /// Reads the `[followups]` table.
    pub fn from_toml(table: &toml::Table) -> Result<Rules, SettingsError> {
        let mut rules = Rules::default();
        let mut problems = Vec::new();
        for (key, value) in table {
            let span = |problems: &mut Vec<String>| match value.as_str().map(Span::parse) {
                Some(Ok(s)) => Some(s),
                Some(Err(e)) => {
                    problems.push(format!("followups.{key}: {e}"));
                    None
                }
                None => {
                    problems.push(format!(
                        "followups.{key}: expected a text like \"12 hours\""
                    ));
                    None
                }
            };
            match key.as_str() {
                "forward" => rules.forward = span(&mut problems).unwrap_or(rules.forward),
                "contact" => rules.contact = span(&mut problems).unwrap_or(rules.contact),
                "answer" => rules.answer = span(&mut problems).unwrap_or(rules.answer),
                "resolve" => rules.resolve = span(&mut problems).unwrap_or(rules.resolve),
                "callback" => rules.callback = span(&mut problems).unwrap_or(rules.callback),
                "revisit_after" => {
                    rules.revisit_after = span(&mut problems).unwrap_or(rules.revisit_after)
                }
                "escalate_by" => match value.as_integer() {
                    Some(n @ 0..=100) => rules.escalate_by = n as i32,
                    _ => problems.push("followups.escalate_by: expected 0 to 100".into()),
                },
                "calendar" => match value.as_str() {
                    Some(s) => rules.calendar = Some(s.to_string()),
                    None => problems.push("followups.calendar: expected a file name".into()),
                },
                "categories" => match value.as_table() {
                    Some(cats) => {
                        for (name, v) in cats {
                            match category_rule(name, v) {
                                Ok(r) => {
                                    rules.categories.insert(name.clone(), r);
                                }
                                Err(mut p) => problems.append(&mut p),
                            }
                        }
                    }
                    None => problems.push("followups.categories: expected a table".into()),
                },
                other => problems.push(format!("followups.{other}: unknown setting")),
            }
        }
        if problems.is_empty() {
            Ok(rules)
        } else {
            Err(SettingsError(problems))
        }
    }
}

fn category_rule(name: &str, v: &toml::Value) -> Result<CategoryRule, Vec<String>> {
    let mut problems = Vec::new();
    let mut rule = CategoryRule::default();
    let Some(t) = v.as_table() else {
        return Err(vec![format!(
            "followups.categories.{name}: expected a table"
        )]);
    };
    for (key, value) in t {
        let parsed = match value.as_str().map(Span::parse) {
            Some(Ok(s)) => Some(s),
            Some(Err(e)) => {
                problems.push(format!("followups.categories.{name}.{key}: {e}"));
                None
            }
            None => {
                problems.push(format!(
                    "followups.categories.{name}.{key}: expected a text like \"12 hours\""
                ));
                None
            }
        };
        match key.as_str() {
            "forward" => rule.forward = parsed,
            "contact" => rule.contact = parsed,
            "answer" => rule.answer = parsed,
            "resolve" => rule.resolve = parsed,
            other => problems.push(format!(
                "followups.categories.{name}.{other}: unknown setting (forward, contact, answer, resolve)"
            )),
        }
    }
    if problems.is_empty() {
        Ok(rule)
    } else {
        Err(problems)
    }
}

/// Settings of the reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportSettings {
    /// Service level: the share of queued calls an agent answers within this many seconds.
    pub service_level_secs: u32,
    /// Abandonments within this many seconds of queueing are counted apart.
    pub short_abandon_secs: u32,
}

impl Default for ReportSettings {
    fn default() -> ReportSettings {
        ReportSettings {
            service_level_secs: 20,
            short_abandon_secs: 5,
        }
    }
}

impl ReportSettings {
    /// Reads the `[reports]` table.
    pub fn from_toml(table: &toml::Table) -> Result<ReportSettings, SettingsError> {
        let mut s = ReportSettings::default();
        let mut problems = Vec::new();
        for (key, value) in table {
            let secs = value
                .as_integer()
                .filter(|n| (0..=3600).contains(n))
                .map(|n| n as u32);
            match (key.as_str(), secs) {
                ("service_level_secs", Some(n)) => s.service_level_secs = n,
                ("short_abandon_secs", Some(n)) => s.short_abandon_secs = n,
                ("service_level_secs" | "short_abandon_secs", None) => {
                    problems.push(format!("reports.{key}: expected 0 to 3600 seconds"))
                }
                (other, _) => problems.push(format!("reports.{other}: unknown setting")),
            }
        }
        if problems.is_empty() {
            Ok(s)
        } else {
            Err(SettingsError(problems))
        }
    }
}

/// Problems in the `[followups]` or `[reports]` section, one per line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.join("\n"))]
pub struct SettingsError(pub Vec<String>);
