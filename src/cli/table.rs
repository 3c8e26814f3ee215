//! Plain-text tables for the terminal, aligned by display width: a Chinese character
//! takes two columns, so padding by `chars().count()` (or `{:<20}`) misaligns every row
//! with a Chinese name. One helper for every list the command line prints.

use unicode_width::UnicodeWidthStr;

/// Two spaces between columns: wide enough to tell them apart, narrow enough for 80 columns.
const GAP: &str = "  ";

/// `headers` then `rows`, one line each, every column padded to its widest cell by
/// display width; the last column is not padded and no line ends in spaces.
pub fn render<S: AsRef<str>>(headers: &[&str], rows: &[Vec<S>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.width()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            let w = cell.as_ref().width();
            match widths.get_mut(i) {
                Some(max) => *max = (*max).max(w),
                None => widths.push(w),
            }
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut text = String::new();
        for (i, cell) in cells.enumerate() {
            if i > 0 {
                text.push_str(GAP);
            }
            text.push_str(cell);
            let pad = widths[i].saturating_sub(cell.width());
            text.extend(std::iter::repeat_n(' ', pad));
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&mut headers.iter().copied());
    for row in rows {
        line(&mut row.iter().map(AsRef::as_ref));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up_by_display_width() {
        let rows = vec![
            vec!["1024", "李雷", "billing"],
            vec!["2048", "Han Meimei", "cards"],
        ];
        let text = render(&["ID", "NAME", "QUEUES"], &rows);
        let starts: Vec<usize> = text
            .lines()
            .map(|l| {
                let at = l.find(['b', 'c', 'Q']).unwrap();
                l[..at].width()
            })
            .collect();
        assert_eq!(starts, vec![18, 18, 18], "{text}");
        assert!(text.lines().all(|l| !l.ends_with(' ')), "{text}");
    }
}
