//! The timeline as one self-contained HTML page: inline SVG, inline CSS and
//! a few lines of inline script, no network and no external assets. Every
//! bar has a native tooltip (hover) and lists the journal events behind it
//! when clicked; the first failed bar is selected when the page opens.

use super::{BarKind, Timeline, human_ms};
use crate::event::Millis;
use std::fmt::Write;

const LABEL_W: f64 = 230.0;
const CHART_W: f64 = 900.0;
const ROW_H: f64 = 22.0;
const TOP: f64 = 34.0;

/// Escape text for HTML element content and attribute values.
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// A tick step of 1, 2 or 5 × 10^k ms giving about eight ticks.
fn tick_step(total: Millis) -> Millis {
    let raw = (total as f64 / 8.0).max(1.0);
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * mag).find(|s| *s >= raw).unwrap_or(10.0 * mag);
    step.max(1.0) as Millis
}

/// A tick's label: whole or tenths of seconds, or milliseconds.
fn tick_label(at: Millis, step: Millis) -> String {
    match step {
        s if s >= 1000 && s % 1000 == 0 => format!("{} s", at / 1000),
        s if s >= 100 => format!("{:.1} s", at as f64 / 1000.0),
        _ => format!("{at} ms"),
    }
}

const STYLE: &str = "
body{font:14px/1.4 system-ui,-apple-system,'Segoe UI',sans-serif;margin:16px 20px;color:#1e293b;background:#fff}
h1{font-size:18px;margin:0 0 4px}
.meta{margin:0 0 10px;color:#475569}
.outcome{font-weight:600;color:#15803d}.outcome.failed{color:#b91c1c}
.legend{display:flex;gap:14px;flex-wrap:wrap;font-size:12px;margin-bottom:6px;color:#334155}
.legend i{display:inline-block;width:12px;height:10px;margin-right:4px;vertical-align:middle;border-radius:2px}
svg{display:block;border:1px solid #e2e8f0;border-radius:4px;background:#fff}
.label{font-size:12px;fill:#0f172a}.label.d0,.label.d1{font-weight:600}
.tick{stroke:#e2e8f0}.ticktext{font-size:11px;fill:#64748b}
.stripe{fill:#f8fafc}
.bar{cursor:pointer;stroke:#0f172a;stroke-opacity:.15}
.bar:hover,.bar:focus{stroke-opacity:.9;outline:none}
.bar.selected{stroke:#0f172a;stroke-width:2;stroke-opacity:1}
.session{fill:#64748b}.reconcile{fill:#94a3b8}.wave{fill:#6366f1}.job{fill:#0ea5e9}.batch{fill:#14b8a6}
.health{fill:#a855f7}.lifecycle{fill:#22c55e}.hook{fill:#f59e0b}
.bar.failed{fill:#dc2626;stroke:#7f1d1d;stroke-opacity:1;stroke-width:1.5}
.bartext{font-size:10px;fill:#fff;pointer-events:none}
#details{margin-top:12px;border:1px solid #e2e8f0;border-radius:4px;padding:8px 12px;max-width:1110px}
#details h2{font-size:15px;margin:0 0 6px}#details h2.failed{color:#b91c1c}
#events{margin:0;padding-left:0;list-style:none;font:12px/1.5 ui-monospace,SFMono-Regular,Menlo,monospace}
#events li{white-space:pre-wrap;border-top:1px solid #f1f5f9;padding:2px 0}
#events .seq{color:#64748b}#events .kind{color:#0369a1;font-weight:600}
";

const SCRIPT: &str = "
(function(){
var ev=JSON.parse(document.getElementById('timeline-events').textContent);
var start=Number(document.getElementById('chart').dataset.start);
function fmt(ms){return ms<1000?ms+' ms':(ms/1000).toFixed(2)+' s';}
function show(bar){
  document.querySelectorAll('.bar.selected').forEach(function(b){b.classList.remove('selected');});
  bar.classList.add('selected');
  var h=document.getElementById('details-title');
  h.textContent=bar.dataset.title;
  h.className=bar.classList.contains('failed')?'failed':'';
  var ol=document.getElementById('events');ol.textContent='';
  var ids=bar.dataset.events?bar.dataset.events.split(','):[];
  if(!ids.length){var li=document.createElement('li');li.textContent='(no event of its own: it spans the bars below it)';ol.appendChild(li);}
  ids.forEach(function(i){var e=ev[Number(i)];var li=document.createElement('li');li.className='event';
    var s=document.createElement('span');s.className='seq';s.textContent='#'+e[0]+'  +'+fmt(e[1]-start)+'  ';
    var k=document.createElement('span');k.className='kind';k.textContent=e[2];
    li.appendChild(s);li.appendChild(k);li.appendChild(document.createTextNode('  '+e[3]));ol.appendChild(li);});
}
document.querySelectorAll('.bar').forEach(function(b){
  b.addEventListener('click',function(){show(b);});
  b.addEventListener('keydown',function(k){if(k.key==='Enter'||k.key===' '){k.preventDefault();show(b);}});
});
var first=document.querySelector('.bar.failed:not(.session):not(.wave):not(.job)')||document.querySelector('.bar.failed');
if(first){show(first);}
})();
";

/// Render `t` as a self-contained HTML page.
pub fn render_html(t: &Timeline) -> String {
    let total = (t.end - t.start).max(1);
    let x = |at: Millis| LABEL_W + ((at - t.start).max(0) as f64 / total as f64) * CHART_W;
    let height = TOP + ROW_H * t.rows.len() as f64 + 8.0;
    let width = LABEL_W + CHART_W + 16.0;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg id="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" data-start="{}" role="img" aria-label="deploy timeline">"#,
        t.start
    );
    for (i, _) in t.rows.iter().enumerate().filter(|(i, _)| i % 2 == 1) {
        let _ = write!(
            svg,
            r#"<rect class="stripe" x="0" y="{:.1}" width="{width}" height="{ROW_H}"/>"#,
            TOP + ROW_H * i as f64
        );
    }
    let step = tick_step(total);
    let mut at = 0;
    while at <= total {
        let px = x(t.start + at);
        let _ = write!(
            svg,
            r#"<line class="tick" x1="{px:.1}" y1="{}" x2="{px:.1}" y2="{height}"/><text class="ticktext" x="{px:.1}" y="{}" text-anchor="middle">{}</text>"#,
            TOP - 8.0,
            TOP - 12.0,
            tick_label(at, step)
        );
        at += step;
    }
    let mut n = 0usize;
    for (i, row) in t.rows.iter().enumerate() {
        let y = TOP + ROW_H * i as f64;
        let _ = write!(
            svg,
            r#"<g class="row"><text class="label d{}" x="{:.1}" y="{:.1}">{}</text>"#,
            row.depth,
            8.0 + 14.0 * row.depth as f64,
            y + 15.0,
            esc(&row.label)
        );
        for b in &row.bars {
            let container = matches!(b.kind, BarKind::Session | BarKind::Wave | BarKind::Job | BarKind::Reconcile);
            let (h, dy) = if container { (10.0, 6.0) } else { (14.0, 4.0) };
            let bx = x(b.start);
            let bw = (x(b.end) - bx).max(2.0);
            let state = if b.failed { "failed" } else { "ok" };
            let title = format!(
                "{} — {}{} ({}){}",
                row.label,
                b.label,
                if b.failed { " FAILED" } else { "" },
                human_ms(b.duration()),
                if b.detail.is_empty() { String::new() } else { format!(": {}", b.detail) }
            );
            let ids: Vec<String> = b.events.iter().map(|e| e.to_string()).collect();
            let _ = write!(
                svg,
                r#"<rect class="bar {state} {kind}" data-kind="{kind}" data-bar="{n}" data-title="{t}" data-events="{ids}" tabindex="0" x="{bx:.1}" y="{:.1}" width="{bw:.1}" height="{h}" rx="2"><title>{t}</title></rect>"#,
                y + dy,
                kind = b.kind.name(),
                t = esc(&title),
                ids = ids.join(","),
            );
            // A label inside the bar when it fits (about 6 px per character).
            if !container && bw > 6.0 * b.label.chars().count() as f64 + 8.0 {
                let _ = write!(
                    svg,
                    r#"<text class="bartext" x="{:.1}" y="{:.1}">{}</text>"#,
                    bx + 4.0,
                    y + 15.0,
                    esc(&b.label)
                );
            }
            n += 1;
        }
        svg.push_str("</g>");
    }
    svg.push_str("</svg>");

    let events: Vec<serde_json::Value> =
        t.events.iter().map(|e| serde_json::json!([e.seq, e.at, e.kind, e.summary])).collect();
    // Inside a <script> element: no `<` may appear (it could close it).
    let events = serde_json::to_string(&events).unwrap_or_else(|_| "[]".into()).replace('<', "\\u003c");
    let title = format!(
        "Session {}{} — {}",
        t.session,
        t.update_seq.map(|u| format!(", deploy {u}")).unwrap_or_default(),
        t.command
    );
    let legend: String = [
        ("#64748b", "session"),
        ("#6366f1", "wave"),
        ("#0ea5e9", "job"),
        ("#14b8a6", "batch"),
        ("#22c55e", "lifecycle run"),
        ("#f59e0b", "hook run"),
        ("#a855f7", "health gate"),
        ("#dc2626", "failed"),
    ]
    .iter()
    .map(|(c, l)| format!(r#"<span><i style="background:{c}"></i>{l}</span>"#))
    .collect();
    format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{STYLE}</style></head>
<body>
<h1>{title}</h1>
<p class="meta">by {who} · started {started} · {dur} · <span class="outcome{failed}">{outcome}</span></p>
<div class="legend">{legend}</div>
{svg}
<section id="details"><h2 id="details-title">Events</h2><ol id="events"><li>Click a bar to list the journal events behind it; hover for a summary.</li></ol></section>
<script id="timeline-events" type="application/json">{events}</script>
<script>{SCRIPT}</script>
</body></html>
"#,
        title = esc(&title),
        who = esc(&t.who),
        started = esc(&crate::clock::format_ms(t.start)),
        dur = esc(&human_ms(t.end - t.start)),
        failed = if t.failed { " failed" } else { "" },
        outcome = esc(&t.outcome),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round() {
        assert_eq!(tick_step(8_000), 1_000);
        assert_eq!(tick_step(12_345), 2_000);
        assert_eq!(tick_step(40), 5);
        assert_eq!(tick_step(1), 1);
        assert_eq!(
            (tick_label(4000, 2000), tick_label(1500, 500), tick_label(40, 5)),
            ("4 s".into(), "1.5 s".into(), "40 ms".into())
        );
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(esc("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    }
}
