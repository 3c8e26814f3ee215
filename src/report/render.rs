//! A report as Markdown, CSV or HTML. The report is first laid out as blocks (headings,
//! tables, charts), then each format writes the blocks, so the three always hold the same
//! figures.

use std::fmt::Write as _;

use super::{Report, AGENT_STATES, STATUSES};
use crate::followup::at;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Markdown tables.
    Md,
    /// One table after the other: `section,table,row...`.
    Csv,
    /// A printable page with inline SVG charts.
    Html,
}

/// One piece of the laid-out report.
#[derive(Debug, Clone, PartialEq)]
enum Block {
    /// A section heading.
    Heading(String),
    /// A table with a caption.
    Table {
        caption: String,
        head: Vec<String>,
        rows: Vec<Vec<String>>,
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

/// Renders `r` as `format`.
pub fn render(r: &Report, format: Format) -> String {
    let blocks = layout(r);
    match format {
        Format::Md => markdown(r, &blocks),
        Format::Csv => csv(&blocks),
        Format::Html => html(r, &blocks),
    }
}

/// `0.875` as `87.5%`; `n/a` when there was nothing to count.
pub fn pct(v: Option<f64>) -> String {
    v.map_or("n/a".into(), |v| format!("{:.1}%", v * 100.0))
}

fn secs(v: Option<f64>) -> String {
    v.map_or("n/a".into(), |v| format!("{v:.1} s"))
}

/// A duration in ms as `H:MM:SS` (hours may pass 24), to the nearest second.
pub fn hms(ms: i64) -> String {
    let s = (ms + 500).div_euclid(1000);
    format!("{}:{:02}:{:02}", s / 3600, s % 3600 / 60, s % 60)
}

fn local(r: &Report, ms: i64) -> String {
    at(r.period.tz, ms).map_or(ms.to_string(), |t| t.format("%Y-%m-%d %H:%M").to_string())
}

fn row(cells: &[&dyn ToString]) -> Vec<String> {
    cells.iter().map(|c| c.to_string()).collect()
}

fn table(caption: &str, head: &[&str], rows: Vec<Vec<String>>) -> Block {
    Block::Table {
        caption: caption.to_string(),
        head: head.iter().map(|h| h.to_string()).collect(),
        rows,
    }
}

fn layout(r: &Report) -> Vec<Block> {
    let mut out = Vec::new();
    if let Some(c) = &r.complaints {
        out.push(Block::Heading("Complaint summary".into()));
        let mut head = vec!["category"];
        head.extend(STATUSES.iter().map(|s| s.as_str()));
        head.push("total");
        let mut rows: Vec<Vec<String>> = c
            .by_category
            .iter()
            .map(|(cat, n)| {
                let mut v = vec![if cat.is_empty() {
                    "(none)".into()
                } else {
                    cat.clone()
                }];
                v.extend(n.iter().map(|x| x.to_string()));
                v.push(n.iter().sum::<usize>().to_string());
                v
            })
            .collect();
        let mut all = vec!["all".to_string()];
        all.extend(c.by_status.iter().map(|x| x.to_string()));
        all.push(c.total.to_string());
        rows.push(all);
        out.push(table("Complaints by category and status", &head, rows));
        out.push(Block::Bars {
            caption: "Complaints by status".into(),
            bars: STATUSES
                .iter()
                .zip(c.by_status)
                .map(|(s, n)| (s.as_str().to_string(), n as f64))
                .collect(),
        });
        out.push(table(
            "Handled within each deadline",
            &["deadline", "due or done", "within", "share"],
            c.within
                .iter()
                .map(|s| {
                    row(&[
                        &s.step.name(),
                        &s.counted,
                        &s.within,
                        &pct(super::ratio(s.within, s.counted)),
                    ])
                })
                .collect(),
        ));
        out.push(table(
            "Overdue complaints",
            &[
                "id",
                "category",
                "status",
                "overdue",
                "urgency",
                "escalated",
                "owner",
                "received",
            ],
            c.overdue
                .iter()
                .map(|o| {
                    let steps: Vec<&str> = o.steps.iter().map(|s| s.name()).collect();
                    row(&[
                        &o.id,
                        &o.category,
                        &o.status.as_str(),
                        &steps.join("+"),
                        &o.urgency,
                        &if o.escalated { "yes" } else { "no" },
                        &o.owner.clone().unwrap_or_default(),
                        &local(r, o.created_at),
                    ])
                })
                .collect(),
        ));
        out.push(table(
            "Resolution",
            &["resolved", "average time to resolve"],
            vec![row(&[
                &c.resolved,
                &c.avg_resolve_hours
                    .map_or("n/a".into(), |h| format!("{h:.1} h")),
            ])],
        ));
        out.push(table(
            "Repeat complainers",
            &["customer", "complaints"],
            c.repeat.iter().map(|(w, n)| row(&[w, n])).collect(),
        ));
    }
    if let Some(s) = &r.satisfaction {
        out.push(Block::Heading("Satisfaction".into()));
        out.push(table(
            "Score distribution",
            &["score", "answers", "share"],
            (1..=5)
                .map(|k| {
                    let n = s.distribution[k - 1];
                    row(&[&k, &n, &pct(super::ratio(n, s.answers))])
                })
                .collect(),
        ));
        out.push(Block::Bars {
            caption: "Survey scores".into(),
            bars: (1..=5)
                .map(|k| (k.to_string(), s.distribution[k - 1] as f64))
                .collect(),
        });
        out.push(table(
            "Overall",
            &[
                "answers",
                "average",
                "surveyed calls",
                "agent-answered calls",
                "share surveyed",
            ],
            vec![row(&[
                &s.answers,
                &s.average.map_or("n/a".into(), |a| format!("{a:.2}")),
                &s.surveyed_calls,
                &s.agent_calls,
                &pct(super::ratio(s.surveyed_calls, s.agent_calls)),
            ])],
        ));
        for (caption, groups, what) in [
            ("Average by agent", &s.by_agent, "agent"),
            ("Average by queue", &s.by_queue, "queue"),
        ] {
            out.push(table(
                caption,
                &[what, "answers", "average"],
                groups
                    .iter()
                    .map(|g| row(&[&g.key, &g.answers, &format!("{:.2}", g.average)]))
                    .collect(),
            ));
        }
        out.push(table(
            "Dissatisfied callers (score 2 or less), for follow-up",
            &["call", "arrived", "score", "agent", "queue", "follow-up"],
            s.dissatisfied
                .iter()
                .map(|d| {
                    row(&[
                        &d.call_id,
                        &local(r, d.arrived_at),
                        &d.score,
                        &d.agent.clone().unwrap_or_default(),
                        &d.queue.clone().unwrap_or_default(),
                        &d.followup.clone().unwrap_or_else(|| "none yet".into()),
                    ])
                })
                .collect(),
        ));
    }
    let k = &r.kpis;
    out.push(Block::Heading("KPIs".into()));
    let sl = format!("service level ({} s)", k.service_level_secs);
    let short = format!("abandoned within {} s", k.short_abandon_secs);
    let kpi_rows: Vec<(&str, String)> = vec![
        ("calls offered", k.offered.to_string()),
        ("answered by IVR", k.answered_ivr.to_string()),
        ("queued for an agent", k.queued.to_string()),
        ("answered by agents", k.answered_agent.to_string()),
        ("answer rate", pct(k.answer_rate)),
        (sl.as_str(), pct(k.service_level)),
        ("average speed of answer", secs(k.avg_speed_of_answer)),
        ("abandoned", k.abandoned.to_string()),
        ("abandonment rate", pct(k.abandon_rate)),
        (short.as_str(), k.short_abandoned.to_string()),
        ("average handle time", secs(k.avg_handle_time)),
        (
            "callbacks made on time",
            format!(
                "{} of {} ({})",
                k.callbacks_on_time,
                k.callbacks_due,
                pct(super::ratio(k.callbacks_on_time, k.callbacks_due))
            ),
        ),
        (
            "calls cut off by a server restart",
            k.cut_by_restart.to_string(),
        ),
    ];
    out.push(table(
        "Key figures",
        &["figure", "value"],
        kpi_rows
            .into_iter()
            .map(|(a, b)| vec![a.to_string(), b])
            .collect(),
    ));
    if r.per_day.len() > 1 {
        out.push(Block::Bars {
            caption: "Calls offered per day".into(),
            bars: r
                .per_day
                .iter()
                .map(|d| (d.day.format("%d").to_string(), d.offered as f64))
                .collect(),
        });
        out.push(table(
            "Calls per day",
            &["day", "offered", "answered by agents"],
            r.per_day
                .iter()
                .map(|d| row(&[&d.day, &d.offered, &d.answered_agent]))
                .collect(),
        ));
    }
    agents(r, &mut out);
    out
}

fn agents(r: &Report, out: &mut Vec<Block>) {
    out.push(Block::Heading("Agents".into()));
    out.push(table(
        "Calls by agent",
        &[
            "agent",
            "name",
            "calls answered",
            "rings missed",
            "average talk time",
            "average handle time",
            "occupancy",
        ],
        r.agents
            .iter()
            .map(|a| {
                row(&[
                    &a.id,
                    &a.name.clone().unwrap_or_default(),
                    &a.answered,
                    &a.missed,
                    &secs(a.avg_talk_secs),
                    &secs(a.avg_handle_secs),
                    &pct(a.occupancy),
                ])
            })
            .collect(),
    ));
    let mut head = vec!["agent"];
    head.extend(AGENT_STATES);
    head.push("logged in");
    out.push(table(
        "Time in each state",
        &head,
        r.agents
            .iter()
            .map(|a| {
                let mut v = vec![a.id.clone()];
                v.extend(a.state_ms.iter().map(|ms| hms(*ms)));
                v.push(hms(a.logged_in_ms));
                v
            })
            .collect(),
    ));
    // Logged-out time is left out of the chart: it would dwarf the working states.
    let logged_in = AGENT_STATES.len() - 1;
    out.push(Block::Stacked {
        caption: "Logged-in time in each state by agent".into(),
        parts: AGENT_STATES[..logged_in]
            .iter()
            .map(|s| s.to_string())
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
    out.push(table(
        "Outcome codes by agent",
        &["agent", "outcome", "calls"],
        r.agents
            .iter()
            .flat_map(|a| a.outcomes.iter().map(|(code, n)| row(&[&a.id, code, n])))
            .collect(),
    ));
}

fn markdown(r: &Report, blocks: &[Block]) -> String {
    let mut s = format!(
        "# {} {}\n\nTime zone {}; generated {}.\n",
        r.title,
        r.period.label,
        r.period.tz,
        local(r, r.generated_at)
    );
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
                    s.push_str("None.\n");
                    continue;
                }
                let _ = writeln!(s, "| {} |", head.join(" | "));
                let _ = writeln!(s, "|{}", "---|".repeat(head.len()));
                for r in rows {
                    let cells: Vec<String> = r.iter().map(|c| c.replace('|', "\\|")).collect();
                    let _ = writeln!(s, "| {} |", cells.join(" | "));
                }
            }
            Block::Bars { .. } | Block::Stacked { .. } => {}
        }
    }
    s
}

fn csv_cell(c: &str) -> String {
    if c.contains([',', '"', '\n']) {
        format!("\"{}\"", c.replace('"', "\"\""))
    } else {
        c.to_string()
    }
}

fn csv(blocks: &[Block]) -> String {
    let mut s = String::new();
    let mut section = String::new();
    for b in blocks {
        match b {
            Block::Heading(h) => section = h.clone(),
            Block::Table {
                caption,
                head,
                rows,
            } => {
                let line = |cells: &[String]| {
                    let mut v = vec![csv_cell(&section), csv_cell(caption)];
                    v.extend(cells.iter().map(|c| csv_cell(c)));
                    v.join(",")
                };
                let mut h = vec!["section".to_string(), "table".to_string()];
                h.extend(head.iter().cloned());
                let _ = writeln!(
                    s,
                    "{}",
                    h.iter().map(|c| csv_cell(c)).collect::<Vec<_>>().join(",")
                );
                for r in rows {
                    let _ = writeln!(s, "{}", line(r));
                }
                s.push('\n');
            }
            Block::Bars { .. } | Block::Stacked { .. } => {}
        }
    }
    s
}

fn esc(t: &str) -> String {
    t.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A vertical bar chart as inline SVG.
fn svg_bars(caption: &str, bars: &[(String, f64)]) -> String {
    let (w, h, pad) = (640.0_f64, 200.0_f64, 24.0_f64);
    let max = bars.iter().map(|b| b.1).fold(0.0, f64::max).max(1.0);
    let slot = (w - 2.0 * pad) / bars.len().max(1) as f64;
    let mut s = format!(
        "<figure><svg role=\"img\" aria-label=\"{}\" viewBox=\"0 0 {w} {}\" width=\"100%\" \
         xmlns=\"http://www.w3.org/2000/svg\">",
        esc(caption),
        h + 2.0 * pad
    );
    let _ = write!(
        s,
        "<line x1=\"{pad}\" y1=\"{y}\" x2=\"{x2}\" y2=\"{y}\" stroke=\"#444\"/>",
        y = h + pad,
        x2 = w - pad
    );
    for (i, (label, v)) in bars.iter().enumerate() {
        let bh = v / max * (h - pad);
        let x = pad + i as f64 * slot + slot * 0.15;
        let bw = slot * 0.7;
        let y = h + pad - bh;
        let _ = write!(
            s,
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bw:.1}\" height=\"{bh:.1}\" fill=\"#3b6ea5\"/>\
             <text x=\"{cx:.1}\" y=\"{ty:.1}\" font-size=\"10\" text-anchor=\"middle\">{v}</text>\
             <text x=\"{cx:.1}\" y=\"{ly:.1}\" font-size=\"10\" text-anchor=\"middle\">{l}</text>",
            cx = x + bw / 2.0,
            ty = y - 3.0,
            ly = h + pad + 14.0,
            l = esc(label)
        );
    }
    let _ = writeln!(
        s,
        "</svg><figcaption>{}</figcaption></figure>",
        esc(caption)
    );
    s
}

/// Colours of the parts of a stacked bar, in the order of [`AGENT_STATES`].
const PART_COLOURS: [&str; 6] = [
    "#6aa84f", "#f1c232", "#3b6ea5", "#8e7cc3", "#e69138", "#cccccc",
];

/// Horizontal stacked bars, one per label, on one scale, with a legend, as inline SVG.
/// Parts are in seconds; each part's `<title>` gives its time, and the bar's total is
/// written at its end.
fn svg_stacked(caption: &str, parts: &[String], bars: &[(String, Vec<f64>)]) -> String {
    let (w, pad, label_w, bar_h, gap) = (640.0_f64, 8.0_f64, 96.0_f64, 16.0_f64, 6.0_f64);
    let legend_h = 20.0;
    let max = bars
        .iter()
        .map(|b| b.1.iter().sum::<f64>())
        .fold(0.0, f64::max)
        .max(1.0);
    // room on the right for each bar's total
    let span = w - label_w - 2.0 * pad - 56.0;
    let h = legend_h + bars.len() as f64 * (bar_h + gap) + pad;
    let mut s = format!(
        "<figure><svg role=\"img\" aria-label=\"{}\" viewBox=\"0 0 {w} {h}\" width=\"100%\" \
         xmlns=\"http://www.w3.org/2000/svg\">",
        esc(caption)
    );
    let slot = (w - 2.0 * pad) / parts.len().max(1) as f64;
    for (i, p) in parts.iter().enumerate() {
        let x = pad + i as f64 * slot;
        let _ = write!(
            s,
            "<rect x=\"{x:.1}\" y=\"4\" width=\"10\" height=\"10\" fill=\"{c}\"/>\
             <text x=\"{tx:.1}\" y=\"13\" font-size=\"10\">{p}</text>",
            c = PART_COLOURS[i % PART_COLOURS.len()],
            tx = x + 14.0,
            p = esc(p)
        );
    }
    for (row, (label, sizes)) in bars.iter().enumerate() {
        let y = legend_h + row as f64 * (bar_h + gap);
        let _ = write!(
            s,
            "<text x=\"{lx:.1}\" y=\"{ty:.1}\" font-size=\"10\" text-anchor=\"end\">{l}</text>",
            lx = pad + label_w - 6.0,
            ty = y + bar_h * 0.75,
            l = esc(label)
        );
        let mut x = pad + label_w;
        for (i, v) in sizes.iter().enumerate() {
            if *v <= 0.0 {
                continue;
            }
            let bw = v / max * span;
            let part = parts.get(i).map_or("", String::as_str);
            let _ = write!(
                s,
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bw:.1}\" height=\"{bar_h}\" \
                 fill=\"{c}\"><title>{l} {p} {t}</title></rect>",
                c = PART_COLOURS[i % PART_COLOURS.len()],
                l = esc(label),
                p = esc(part),
                t = hms((v * 1000.0).round() as i64)
            );
            x += bw;
        }
        let _ = write!(
            s,
            "<text x=\"{tx:.1}\" y=\"{ty:.1}\" font-size=\"10\">{t}</text>",
            tx = x + 4.0,
            ty = y + bar_h * 0.75,
            t = hms((sizes.iter().sum::<f64>() * 1000.0).round() as i64)
        );
    }
    let _ = writeln!(
        s,
        "</svg><figcaption>{}</figcaption></figure>",
        esc(caption)
    );
    s
}

const CSS: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#111}\
table{border-collapse:collapse;margin:.5em 0 1.5em}\
th,td{border:1px solid #bbb;padding:.25em .6em;text-align:left}\
th{background:#eee}figure{margin:1em 0;max-width:42em}\
figcaption{font-size:.9em;color:#444}\
@media print{body{margin:1cm}h2{break-before:page}h2:first-of-type{break-before:auto}\
table,figure{break-inside:avoid}th{background:none}}";

fn html(r: &Report, blocks: &[Block]) -> String {
    let title = format!("{} {}", r.title, r.period.label);
    let mut s = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\
         <style>{CSS}</style></head><body>\n<h1>{t}</h1>\n<p>Time zone {}; generated {}.</p>\n",
        r.period.tz,
        local(r, r.generated_at),
        t = esc(&title)
    );
    for b in blocks {
        match b {
            Block::Heading(h) => {
                let _ = writeln!(s, "<h2>{}</h2>", esc(h));
            }
            Block::Table {
                caption,
                head,
                rows,
            } => {
                let _ = writeln!(s, "<h3>{}</h3>", esc(caption));
                if rows.is_empty() {
                    s.push_str("<p>None.</p>\n");
                    continue;
                }
                s.push_str("<table><thead><tr>");
                for h in head {
                    let _ = write!(s, "<th>{}</th>", esc(h));
                }
                s.push_str("</tr></thead><tbody>\n");
                for r in rows {
                    s.push_str("<tr>");
                    for c in r {
                        let _ = write!(s, "<td>{}</td>", esc(c));
                    }
                    s.push_str("</tr>\n");
                }
                s.push_str("</tbody></table>\n");
            }
            Block::Bars { caption, bars } => s.push_str(&svg_bars(caption, bars)),
            Block::Stacked {
                caption,
                parts,
                bars,
            } => {
                if !bars.is_empty() {
                    s.push_str(&svg_stacked(caption, parts, bars));
                }
            }
        }
    }
    s.push_str("</body></html>\n");
    s
}
