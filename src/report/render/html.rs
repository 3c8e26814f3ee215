//! The report as one HTML page: tables, inline SVG charts (bars, and stacked bars for
//! agents' time), a CJK font stack and the page's `lang`.

use super::*;

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

/// Fonts that have the Chinese glyphs on every common system, before the generic fallback.
const FONTS: &str =
    "\"Noto Sans CJK SC\",\"Source Han Sans SC\",\"PingFang SC\",\"Microsoft YaHei\",sans-serif";

const CSS: &str = "table{border-collapse:collapse;margin:.5em 0 1.5em}\
th,td{border:1px solid #bbb;padding:.25em .6em;text-align:left}\
th{background:#eee}figure{margin:1em 0;max-width:42em}\
figcaption{font-size:.9em;color:#444}\
@media print{body{margin:1cm}h2{break-before:page}h2:first-of-type{break-before:auto}\
table,figure{break-inside:avoid}th{background:none}}";

pub(super) fn html(r: &Report, st: &Style, blocks: &[Block]) -> String {
    let title = title(r, st);
    let mut s = format!(
        "<!DOCTYPE html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\"><title>{t}</title>\
         <style>body{{font-family:{FONTS};margin:2em;color:#111}}{CSS}</style></head><body>\n\
         <h1>{t}</h1>\n<p>{sub}</p>\n",
        lang = st.lang.code(),
        t = esc(&title),
        sub = esc(&subtitle(r, st)),
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
                    let _ = writeln!(s, "<p>{}</p>", esc(st.t(Label::NoRows)));
                    continue;
                }
                s.push_str("<table><thead><tr>");
                for h in head {
                    let _ = write!(s, "<th>{}</th>", esc(&h.text));
                }
                s.push_str("</tr></thead><tbody>\n");
                for r in rows {
                    s.push_str("<tr>");
                    for c in r {
                        let _ = write!(s, "<td>{}</td>", esc(&shown(st, c)));
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
