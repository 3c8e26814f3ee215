//! A report as Markdown, CSV or HTML, in the language of the dial plan (or `--lang`). The
//! report is first laid out as blocks (headings, tables of typed cells, charts), then each
//! format writes the blocks, so the three always hold the same figures: Markdown and HTML
//! with units beside the numbers, CSV with plain numbers and the unit in the header.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::labels::Label;
use super::outbound::FollowUpCalls;
use super::{Kind, Report, AGENT_STATES, STATUSES};
use crate::followup::at;
use crate::ivr::Language;

mod html;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Markdown tables.
    Md,
    /// One table after the other: `section,table,row...`, UTF-8 with a byte-order mark so
    /// spreadsheets read the Chinese right.
    Csv,
    /// A printable page with inline SVG charts.
    Html,
}

/// How a report is worded and what it may show.
pub struct Style<'a> {
    /// The language of the labels.
    pub lang: Language,
    /// A customer's number (or account) as it may be shown.
    pub number: &'a dyn Fn(&str) -> String,
    /// Outcome code → the dial plan's label.
    pub outcomes: BTreeMap<String, String>,
}

impl Style<'static> {
    /// Labels in `lang`, numbers masked, no outcome labels.
    pub fn new(lang: Language) -> Style<'static> {
        Style {
            lang,
            number: &crate::ivr::action::mask,
            outcomes: BTreeMap::new(),
        }
    }
}

impl Style<'_> {
    fn t(&self, l: Label) -> &'static str {
        l.text(self.lang)
    }
}

/// The unit of a column or figure, named in the CSV header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Secs,
    Mins,
    Hours,
    Pct,
}

/// One cell: what it is decides how each format writes it.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Text(String),
    Count(i64),
    /// A ratio, shown as a percentage.
    Pct(Option<f64>),
    Secs(Option<f64>),
    Mins(Option<f64>),
    Hours(Option<f64>),
    /// ms, shown as `H:MM:SS` (CSV: whole seconds).
    Duration(i64),
    /// A mean survey score.
    Score(Option<f64>),
    /// The name of a figure whose value has `unit` (the CSV puts the unit after it).
    Figure(String, Option<Unit>),
}

impl Cell {
    fn unit(&self) -> Option<Unit> {
        match self {
            Cell::Pct(_) => Some(Unit::Pct),
            Cell::Secs(_) | Cell::Duration(_) => Some(Unit::Secs),
            Cell::Mins(_) => Some(Unit::Mins),
            Cell::Hours(_) => Some(Unit::Hours),
            _ => None,
        }
    }
}

fn text(t: impl ToString) -> Cell {
    Cell::Text(t.to_string())
}

fn count(n: usize) -> Cell {
    Cell::Count(n as i64)
}

/// A column heading; its unit goes into the CSV header.
#[derive(Debug, Clone, PartialEq)]
struct Head {
    text: String,
    unit: Option<Unit>,
}

/// One piece of the laid-out report.
#[derive(Debug, Clone, PartialEq)]
enum Block {
    /// A section heading.
    Heading(String),
    /// A table with a caption.
    Table {
        caption: String,
        head: Vec<Head>,
        rows: Vec<Vec<Cell>>,
    },
    /// A bar chart (HTML only): caption, (label, value) bars.
    Bars {
        caption: String,
        bars: Vec<(String, f64)>,
    },
    /// Horizontal stacked bars on one scale (HTML only): caption, the names of the parts,
    /// and per bar its label and the size of each part.
    Stacked {
        caption: String,
        parts: Vec<String>,
        bars: Vec<(String, Vec<f64>)>,
    },
}

/// Renders `r` as `format`, worded and masked as `style` says.
pub fn render(r: &Report, format: Format, style: &Style) -> String {
    let blocks = Layout { r, st: style }.blocks();
    match format {
        Format::Md => markdown(r, style, &blocks),
        Format::Csv => csv(style, &blocks),
        Format::Html => html::html(r, style, &blocks),
    }
}

/// A duration in ms as `H:MM:SS` (hours may pass 24), to the nearest second.
pub fn hms(ms: i64) -> String {
    let s = (ms + 500).div_euclid(1000);
    format!("{}:{:02}:{:02}", s / 3600, s % 3600 / 60, s % 60)
}

/// A cell as Markdown and HTML show it: units beside the numbers.
fn shown(st: &Style, c: &Cell) -> String {
    let na = || st.t(Label::NotApplicable).to_string();
    let with = |v: Option<f64>, digits: usize, unit: Label| {
        v.map_or_else(na, |v| format!("{v:.digits$} {}", st.t(unit)))
    };
    match c {
        Cell::Text(t) | Cell::Figure(t, _) => t.clone(),
        Cell::Count(n) => n.to_string(),
        Cell::Pct(v) => v.map_or_else(na, |v| format!("{:.1}%", v * 100.0)),
        Cell::Secs(v) => with(*v, 1, Label::UnitSecs),
        Cell::Mins(v) => with(*v, 1, Label::UnitMins),
        Cell::Hours(v) => with(*v, 1, Label::UnitHours),
        Cell::Duration(ms) => hms(*ms),
        Cell::Score(v) => v.map_or_else(na, |v| format!("{v:.2}")),
    }
}

/// A cell as the CSV holds it: a plain number (empty when there is none), the unit in the
/// header.
fn plain(st: &Style, c: &Cell) -> String {
    let num = |v: Option<f64>, digits: usize| v.map_or(String::new(), |v| format!("{v:.digits$}"));
    match c {
        Cell::Text(t) => t.clone(),
        Cell::Figure(t, unit) => with_unit(st, t, *unit),
        Cell::Count(n) => n.to_string(),
        Cell::Pct(v) => num(v.map(|v| v * 100.0), 1),
        Cell::Secs(v) | Cell::Mins(v) | Cell::Hours(v) => num(*v, 1),
        Cell::Duration(ms) => (ms + 500).div_euclid(1000).to_string(),
        Cell::Score(v) => num(*v, 2),
    }
}

fn with_unit(st: &Style, t: &str, unit: Option<Unit>) -> String {
    let u = match unit {
        None => return t.to_string(),
        Some(Unit::Secs) => Label::UnitSecs,
        Some(Unit::Mins) => Label::UnitMins,
        Some(Unit::Hours) => Label::UnitHours,
        Some(Unit::Pct) => Label::UnitPct,
    };
    format!("{t} ({})", st.t(u))
}

struct Layout<'a> {
    r: &'a Report,
    st: &'a Style<'a>,
}

impl Layout<'_> {
    fn t(&self, l: Label) -> &'static str {
        self.st.t(l)
    }

    fn local(&self, ms: i64) -> String {
        local(self.r, ms)
    }

    fn head(&self, labels: &[Label]) -> Vec<Head> {
        labels
            .iter()
            .map(|l| Head {
                text: self.t(*l).to_string(),
                unit: None,
            })
            .collect()
    }

    /// A table whose column units are those of its cells (of the first row).
    fn table(&self, caption: Label, mut head: Vec<Head>, rows: Vec<Vec<Cell>>) -> Block {
        if let Some(first) = rows.first() {
            for (h, c) in head.iter_mut().zip(first) {
                h.unit = h.unit.or(c.unit());
            }
        }
        Block::Table {
            caption: self.t(caption).to_string(),
            head,
            rows,
        }
    }

    /// A two-column table of named figures; each figure's name carries its unit.
    fn figures(&self, caption: Label, figures: Vec<(String, Cell)>) -> Block {
        let figures = figures.into_iter().map(|(name, v)| (name, vec![v]));
        self.figures_by(caption, &[Label::Value], figures.collect())
    }

    /// A table of named figures with a value column for each of `columns`; each figure's
    /// name carries the unit of its values.
    fn figures_by(
        &self,
        caption: Label,
        columns: &[Label],
        figures: Vec<(String, Vec<Cell>)>,
    ) -> Block {
        let rows = figures
            .into_iter()
            .map(|(name, values)| {
                let unit = values.first().and_then(Cell::unit);
                let mut row = vec![Cell::Figure(name, unit)];
                row.extend(values);
                row
            })
            .collect();
        let mut head = self.head(&[Label::Figure]);
        head.extend(self.head(columns));
        Block::Table {
            caption: self.t(caption).to_string(),
            head,
            rows,
        }
    }

    fn or_none(&self, v: &str) -> Cell {
        match v.is_empty() {
            true => text(self.t(Label::NoneValue)),
            false => text(v),
        }
    }

    fn blocks(&self) -> Vec<Block> {
        let mut out = Vec::new();
        self.complaints(&mut out);
        self.satisfaction(&mut out);
        self.kpis(&mut out);
        self.outbound(&mut out);
        self.agents(&mut out);
        out
    }

    fn complaints(&self, out: &mut Vec<Block>) {
        let Some(c) = &self.r.complaints else { return };
        out.push(Block::Heading(self.t(Label::ComplaintSummary).into()));
        let mut head = self.head(&[Label::Category]);
        head.extend(self.head(&STATUSES.map(Label::status)));
        head.extend(self.head(&[Label::Total]));
        let line = |name: Cell, n: &[usize; 5]| {
            let mut v = vec![name];
            v.extend(n.iter().map(|x| count(*x)));
            v.push(count(n.iter().sum()));
            v
        };
        let mut rows: Vec<Vec<Cell>> = c
            .by_category
            .iter()
            .map(|(cat, n)| line(self.or_none(cat), n))
            .collect();
        rows.push(line(text(self.t(Label::All)), &c.by_status));
        out.push(self.table(Label::ComplaintsByCategory, head, rows));
        out.push(Block::Bars {
            caption: self.t(Label::ComplaintsByStatus).into(),
            bars: STATUSES
                .iter()
                .zip(c.by_status)
                .map(|(s, n)| (self.t(Label::status(*s)).to_string(), n as f64))
                .collect(),
        });
        out.push(
            self.table(
                Label::WithinDeadline,
                self.head(&[
                    Label::Deadline,
                    Label::DueOrDone,
                    Label::Within,
                    Label::Share,
                ]),
                c.within
                    .iter()
                    .map(|s| {
                        vec![
                            text(self.t(Label::step(s.step))),
                            count(s.counted),
                            count(s.within),
                            Cell::Pct(super::ratio(s.within, s.counted)),
                        ]
                    })
                    .collect(),
            ),
        );
        out.push(
            self.table(
                Label::OverdueComplaints,
                self.head(&[
                    Label::Id,
                    Label::Category,
                    Label::Status,
                    Label::Overdue,
                    Label::Urgency,
                    Label::Escalated,
                    Label::Owner,
                    Label::Received,
                ]),
                c.overdue
                    .iter()
                    .map(|o| {
                        let steps: Vec<&str> =
                            o.steps.iter().map(|s| self.t(Label::step(*s))).collect();
                        vec![
                            text(&o.id),
                            text(&o.category),
                            text(self.t(Label::status(o.status))),
                            text(steps.join("+")),
                            Cell::Count(i64::from(o.urgency)),
                            text(self.t(if o.escalated { Label::Yes } else { Label::No })),
                            text(o.owner.clone().unwrap_or_default()),
                            text(self.local(o.created_at)),
                        ]
                    })
                    .collect(),
            ),
        );
        out.push(self.table(
            Label::Resolution,
            self.head(&[Label::Resolved, Label::AvgTimeToResolve]),
            vec![vec![count(c.resolved), Cell::Hours(c.avg_resolve_hours)]],
        ));
        out.push(
            self.table(
                Label::RepeatComplainers,
                self.head(&[Label::Customer, Label::Complaints]),
                c.repeat
                    .iter()
                    .map(|(w, n)| vec![text((self.st.number)(w)), count(*n)])
                    .collect(),
            ),
        );
        out.push(
            self.table(
                Label::Flagged,
                self.head(&[
                    Label::Id,
                    Label::Number,
                    Label::Category,
                    Label::Status,
                    Label::Received,
                ]),
                c.flagged
                    .iter()
                    .map(|f| {
                        vec![
                            text(&f.id),
                            text((self.st.number)(&f.number)),
                            self.or_none(&f.category),
                            text(self.t(Label::status(f.status))),
                            text(self.local(f.created_at)),
                        ]
                    })
                    .collect(),
            ),
        );
        let v = &c.revisits;
        out.push(self.figures(
            Label::Revisits,
            vec![
                (self.t(Label::RevisitsCreated).into(), count(v.created)),
                (self.t(Label::RevisitsMade).into(), count(v.made)),
                (self.t(Label::Satisfied).into(), count(v.satisfied)),
                (self.t(Label::Unsatisfied).into(), count(v.unsatisfied)),
                (
                    self.t(Label::RevisitRate).into(),
                    Cell::Pct(v.satisfaction_rate),
                ),
                (self.t(Label::Reopened).into(), count(v.reopened)),
            ],
        ));
    }

    fn satisfaction(&self, out: &mut Vec<Block>) {
        let Some(s) = &self.r.satisfaction else {
            return;
        };
        out.push(Block::Heading(self.t(Label::Satisfaction).into()));
        out.push(
            self.table(
                Label::ScoreDistribution,
                self.head(&[Label::Score, Label::Answers, Label::Share]),
                (1..=5)
                    .map(|k| {
                        let n = s.distribution[k - 1];
                        vec![count(k), count(n), Cell::Pct(super::ratio(n, s.answers))]
                    })
                    .collect(),
            ),
        );
        out.push(Block::Bars {
            caption: self.t(Label::SurveyScores).into(),
            bars: (1..=5)
                .map(|k| (k.to_string(), s.distribution[k - 1] as f64))
                .collect(),
        });
        out.push(self.table(
            Label::Overall,
            self.head(&[
                Label::Answers,
                Label::Average,
                Label::SurveyedCalls,
                Label::AgentCalls,
                Label::ShareSurveyed,
            ]),
            vec![vec![
                count(s.answers),
                Cell::Score(s.average),
                count(s.surveyed_calls),
                count(s.agent_calls),
                Cell::Pct(super::ratio(s.surveyed_calls, s.agent_calls)),
            ]],
        ));
        for (caption, groups, what) in [
            (Label::AverageByAgent, &s.by_agent, Label::Agent),
            (Label::AverageByQueue, &s.by_queue, Label::Queue),
        ] {
            out.push(
                self.table(
                    caption,
                    self.head(&[what, Label::Answers, Label::Average]),
                    groups
                        .iter()
                        .map(|g| {
                            let key = match g.key.as_str() {
                                "(none)" => text(self.t(Label::NoneValue)),
                                k => text(k),
                            };
                            vec![key, count(g.answers), Cell::Score(Some(g.average))]
                        })
                        .collect(),
                ),
            );
        }
        out.push(
            self.table(
                Label::Dissatisfied,
                self.head(&[
                    Label::Call,
                    Label::Arrived,
                    Label::Score,
                    Label::Agent,
                    Label::Queue,
                    Label::FollowUp,
                ]),
                s.dissatisfied
                    .iter()
                    .map(|d| {
                        vec![
                            text(&d.call_id),
                            text(self.local(d.arrived_at)),
                            Cell::Count(i64::from(d.score)),
                            text(d.agent.clone().unwrap_or_default()),
                            text(d.queue.clone().unwrap_or_default()),
                            text(
                                d.followup
                                    .clone()
                                    .unwrap_or_else(|| self.t(Label::NoneYet).into()),
                            ),
                        ]
                    })
                    .collect(),
            ),
        );
    }

    fn kpis(&self, out: &mut Vec<Block>) {
        let k = &self.r.kpis;
        out.push(Block::Heading(self.t(Label::Kpis).into()));
        let with_secs = |l: Label, n: u32| self.t(l).replace("{}", &n.to_string());
        let name = |l: Label| self.t(l).to_string();
        out.push(self.figures(
            Label::KeyFigures,
            vec![
                (name(Label::CallsOffered), count(k.offered)),
                (name(Label::AnsweredByIvr), count(k.answered_ivr)),
                (name(Label::QueuedForAgent), count(k.queued)),
                (name(Label::AnsweredByAgents), count(k.answered_agent)),
                (name(Label::AnswerRate), Cell::Pct(k.answer_rate)),
                (
                    with_secs(Label::ServiceLevel, k.service_level_secs),
                    Cell::Pct(k.service_level),
                ),
                (
                    name(Label::AvgSpeedOfAnswer),
                    Cell::Secs(k.avg_speed_of_answer),
                ),
                (name(Label::Abandoned), count(k.abandoned)),
                (name(Label::AbandonRate), Cell::Pct(k.abandon_rate)),
                (
                    with_secs(Label::AbandonedWithin, k.short_abandon_secs),
                    count(k.short_abandoned),
                ),
                (name(Label::AvgHandleTime), Cell::Secs(k.avg_handle_time)),
                (name(Label::CallbacksOnTime), count(k.callbacks_on_time)),
                (name(Label::CallbacksDue), count(k.callbacks_due)),
                (
                    name(Label::CallbacksOnTimeRate),
                    Cell::Pct(super::ratio(k.callbacks_on_time, k.callbacks_due)),
                ),
                (name(Label::CutByRestart), count(k.cut_by_restart)),
            ],
        ));
        if self.r.per_day.len() > 1 {
            out.push(Block::Bars {
                caption: self.t(Label::CallsOfferedPerDay).into(),
                bars: self
                    .r
                    .per_day
                    .iter()
                    .map(|d| (d.day.format("%d").to_string(), d.offered as f64))
                    .collect(),
            });
            out.push(
                self.table(
                    Label::CallsPerDay,
                    self.head(&[Label::Day, Label::Offered, Label::AnsweredByAgents]),
                    self.r
                        .per_day
                        .iter()
                        .map(|d| vec![text(d.day), count(d.offered), count(d.answered_agent)])
                        .collect(),
                ),
            );
        }
    }

    fn outbound(&self, out: &mut Vec<Block>) {
        let o = &self.r.outbound;
        out.push(Block::Heading(self.t(Label::Outbound).into()));
        let row = |l: Label, value: fn(&FollowUpCalls) -> Cell| {
            let values = vec![value(&o.callbacks), value(&o.revisits)];
            (self.t(l).to_string(), values)
        };
        out.push(self.figures_by(
            Label::FollowUpCalls,
            &[Label::CallbackCalls, Label::RevisitCalls],
            vec![
                row(Label::FollowUpsCalled, |f| count(f.called)),
                row(Label::CallAttempts, |f| count(f.attempts)),
                row(Label::DialAnswered, |f| count(f.answered)),
                row(Label::DialBusy, |f| count(f.busy)),
                row(Label::DialNoAnswer, |f| count(f.no_answer)),
                row(Label::DialFailed, |f| count(f.failed)),
                row(Label::PreviewsSkipped, |f| count(f.skipped)),
                row(Label::Reached, |f| count(f.reached)),
                row(Label::ReachedRate, |f| Cell::Pct(f.reached_rate)),
                row(Label::GivenUp, |f| count(f.unreachable)),
                row(Label::AvgPromiseToCall, |f| {
                    Cell::Mins(f.avg_minutes_to_reach)
                }),
                row(Label::MedianPromiseToCall, |f| {
                    Cell::Mins(f.median_minutes_to_reach)
                }),
                row(Label::ReachedWithWindow, |f| count(f.reached_with_window)),
                row(Label::ReachedOnTime, |f| count(f.reached_on_time)),
                row(Label::ReachedOnTimeShare, |f| Cell::Pct(f.on_time_share)),
            ],
        ));
        let p = &o.calls;
        let line = |name: Cell, calls: usize, connected: usize| {
            let rate = Cell::Pct(super::ratio(connected, calls));
            vec![name, count(calls), count(connected), rate]
        };
        out.push(self.table(
            Label::CallsPlaced,
            self.head(&[
                Label::CallType,
                Label::Calls,
                Label::Connected,
                Label::ConnectRate,
            ]),
            vec![
                line(
                    text(self.t(Label::WithFollowUp)),
                    p.with_followup,
                    p.with_followup_connected,
                ),
                line(
                    text(self.t(Label::WithoutFollowUp)),
                    p.without_followup,
                    p.without_followup_connected,
                ),
                line(
                    text(self.t(Label::All)),
                    p.with_followup + p.without_followup,
                    p.with_followup_connected + p.without_followup_connected,
                ),
            ],
        ));
    }

    fn agents(&self, out: &mut Vec<Block>) {
        let r = self.r;
        out.push(Block::Heading(self.t(Label::Agents).into()));
        out.push(
            self.table(
                Label::CallsByAgent,
                self.head(&[
                    Label::Agent,
                    Label::Name,
                    Label::CallsAnswered,
                    Label::RingsMissed,
                    Label::AvgTalkTime,
                    Label::AvgHandleTime,
                    Label::Occupancy,
                ]),
                r.agents
                    .iter()
                    .map(|a| {
                        vec![
                            text(&a.id),
                            text(a.name.clone().unwrap_or_default()),
                            count(a.answered),
                            count(a.missed),
                            Cell::Secs(a.avg_talk_secs),
                            Cell::Secs(a.avg_handle_secs),
                            Cell::Pct(a.occupancy),
                        ]
                    })
                    .collect(),
            ),
        );
        let mut head = self.head(&[Label::Agent]);
        head.extend(self.head(&Label::AGENT_STATES));
        head.extend(self.head(&[Label::LoggedIn]));
        out.push(
            self.table(
                Label::TimeInEachState,
                head,
                r.agents
                    .iter()
                    .map(|a| {
                        let mut v = vec![text(&a.id)];
                        v.extend(a.state_ms.iter().map(|ms| Cell::Duration(*ms)));
                        v.push(Cell::Duration(a.logged_in_ms));
                        v
                    })
                    .collect(),
            ),
        );
        // Logged-out time is left out of the chart: it would dwarf the working states.
        let logged_in = AGENT_STATES.len() - 1;
        out.push(Block::Stacked {
            caption: self.t(Label::LoggedInChart).into(),
            parts: Label::AGENT_STATES[..logged_in]
                .iter()
                .map(|s| self.t(*s).to_string())
                .collect(),
            bars: r
                .agents
                .iter()
                .map(|a| {
                    (
                        a.id.clone(),
                        a.state_ms[..logged_in]
                            .iter()
                            .map(|ms| *ms as f64 / 1000.0)
                            .collect(),
                    )
                })
                .collect(),
        });
        out.push(
            self.table(
                Label::OutcomeCodes,
                self.head(&[
                    Label::Agent,
                    Label::Outcome,
                    Label::OutcomeLabel,
                    Label::Calls,
                ]),
                r.agents
                    .iter()
                    .flat_map(|a| {
                        a.outcomes.iter().map(|(code, n)| {
                            let (code, label) = match code.as_str() {
                                "(none)" => (self.t(Label::NoneValue).to_string(), String::new()),
                                c => (
                                    c.to_string(),
                                    self.st.outcomes.get(c).cloned().unwrap_or_default(),
                                ),
                            };
                            vec![text(&a.id), text(code), text(label), count(*n)]
                        })
                    })
                    .collect(),
            ),
        );
    }
}

fn local(r: &Report, ms: i64) -> String {
    at(r.period.tz, ms).map_or(ms.to_string(), |t| t.format("%Y-%m-%d %H:%M").to_string())
}

fn title(r: &Report, st: &Style) -> String {
    let kind = match r.kind {
        Kind::Monthly => Label::MonthlyReport,
        Kind::Daily => Label::DailyReport,
    };
    format!("{} {}", st.t(kind), r.period.label)
}

/// "Time zone Asia/Shanghai; generated 2026-12-01 10:00."
fn subtitle(r: &Report, st: &Style) -> String {
    let (sep, end) = match st.lang {
        Language::ZhCn => ("；", "。"),
        Language::En => ("; ", "."),
    };
    format!(
        "{} {}{sep}{} {}{end}",
        st.t(Label::TimeZone),
        r.period.tz,
        st.t(Label::Generated),
        local(r, r.generated_at)
    )
}

fn markdown(r: &Report, st: &Style, blocks: &[Block]) -> String {
    let mut s = format!("# {}\n\n{}\n", title(r, st), subtitle(r, st));
    for b in blocks {
        match b {
            Block::Heading(h) => {
                let _ = write!(s, "\n## {h}\n");
            }
            Block::Table {
                caption,
                head,
                rows,
            } => {
                let _ = write!(s, "\n### {caption}\n\n");
                if rows.is_empty() {
                    let _ = writeln!(s, "{}", st.t(Label::NoRows));
                    continue;
                }
                let head: Vec<&str> = head.iter().map(|h| h.text.as_str()).collect();
                let _ = writeln!(s, "| {} |", head.join(" | "));
                let _ = writeln!(s, "|{}", "---|".repeat(head.len()));
                for r in rows {
                    let cells: Vec<String> =
                        r.iter().map(|c| shown(st, c).replace('|', "\\|")).collect();
                    let _ = writeln!(s, "| {} |", cells.join(" | "));
                }
            }
            Block::Bars { .. } | Block::Stacked { .. } => {}
        }
    }
    s
}

/// One CSV cell (RFC 4180): quoted when it holds a comma, a quote or a line break.
pub(crate) fn csv_cell(c: &str) -> String {
    if c.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", c.replace('"', "\"\""))
    } else {
        c.to_string()
    }
}

fn csv(st: &Style, blocks: &[Block]) -> String {
    let mut s = String::from("\u{feff}");
    let mut section = String::new();
    let join = |cells: Vec<String>| {
        cells
            .iter()
            .map(|c| csv_cell(c))
            .collect::<Vec<_>>()
            .join(",")
    };
    for b in blocks {
        match b {
            Block::Heading(h) => section = h.clone(),
            Block::Table {
                caption,
                head,
                rows,
            } => {
                let mut h = vec!["section".to_string(), "table".to_string()];
                h.extend(head.iter().map(|h| with_unit(st, &h.text, h.unit)));
                let _ = writeln!(s, "{}", join(h));
                for r in rows {
                    let mut v = vec![section.clone(), caption.clone()];
                    v.extend(r.iter().map(|c| plain(st, c)));
                    let _ = writeln!(s, "{}", join(v));
                }
                s.push('\n');
            }
            Block::Bars { .. } | Block::Stacked { .. } => {}
        }
    }
    s
}
