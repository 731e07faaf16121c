//! The timeline as a compact Gantt chart for a terminal.

use super::{Bar, BarKind, Timeline, human_ms};
use crate::event::Millis;

const LABEL: usize = 26;

fn glyph(b: &Bar) -> char {
    match b.kind {
        // Containers say FAILED in their note; an X marks the step that failed.
        BarKind::Session | BarKind::Wave | BarKind::Job => return '=',
        _ if b.failed => return 'X',
        _ => {}
    }
    match b.kind {
        BarKind::Session | BarKind::Wave | BarKind::Job | BarKind::Reconcile => '=',
        BarKind::Batch | BarKind::Lifecycle => '#',
        BarKind::Health => '+',
        BarKind::Hook => '~',
    }
}

/// One line: newlines in recorded errors would break the chart.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn note(b: &Bar) -> String {
    let failed = match b.kind {
        // The session's outcome is in the header.
        BarKind::Session if b.failed => " FAILED".to_string(),
        _ if b.failed => format!(" FAILED: {}", one_line(&b.detail)),
        _ => String::new(),
    };
    format!("{} {}{failed}", b.label, human_ms(b.duration()))
}

/// Render `t` with a chart `width` characters wide (at least 20).
pub fn render_text(t: &Timeline, width: usize) -> String {
    let width = width.max(20);
    let total = (t.end - t.start).max(1);
    let col = |at: Millis| (((at - t.start).max(0) as f64 / total as f64) * (width - 1) as f64).round() as usize;
    let mut out = format!(
        "session {} — {} by {} at {}, {}, {}\n",
        t.session,
        t.command,
        t.who,
        crate::clock::format_ms(t.start),
        human_ms(t.end - t.start),
        one_line(&t.outcome)
    );
    let end = human_ms(t.end - t.start);
    out.push_str(&format!("{:LABEL$} |0{}{end}|\n", "", " ".repeat(width.saturating_sub(1 + end.chars().count()))));
    for row in &t.rows {
        let mut line: Vec<char> = vec![' '; width];
        for b in &row.bars {
            let (a, z) = (col(b.start), col(b.end).max(col(b.start)));
            for c in line.iter_mut().take(z + 1).skip(a) {
                // Failures stay visible under later bars of the same row.
                if *c != 'X' {
                    *c = glyph(b);
                }
            }
        }
        let label: String = format!("{}{}", "  ".repeat(row.depth as usize), row.label);
        let label: String =
            if label.chars().count() > LABEL { label.chars().take(LABEL - 1).chain(['…']).collect() } else { label };
        let notes: Vec<String> = row.bars.iter().map(note).collect();
        out.push_str(&format!("{label:LABEL$} |{}| {}\n", line.iter().collect::<String>(), notes.join(", ")));
    }
    out.push_str(&format!("{:LABEL$}  = session/wave/job  # batch/lifecycle  + health gate  ~ hook  X failed\n", ""));
    out
}
