//! Console pages for the Prometheus server job: runbooks rendered from
//! Markdown (with `pulldown-cmark`, the CommonMark crate rustdoc and mdBook
//! use) and index pages for runbooks and dashboards. Prometheus serves
//! `consoles/` through Go's `html/template`, so every `{{`/`}}` in a page is
//! written as a template string that prints itself, and raw HTML in the
//! Markdown is shown as text, never passed through.

use globset::{GlobBuilder, GlobSetBuilder};
use pulldown_cmark::{Event, Options, Parser, html};
use std::collections::BTreeMap;

/// The stylesheet of the pages (also written beside them as `style.css`).
pub const STYLE_CSS: &str = include_str!("style.css");

/// The gitignore-style file listing dashboard files left off the index.
pub const DASHBOARD_IGNORE: &str = ".dashboardignore";

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Neutralise Go template delimiters: Prometheus executes console files as
/// templates, so `{{` and `}}` become actions printing those strings.
fn inert(s: &str) -> String {
    const OPEN: &str = "\u{0}maand-open\u{0}";
    s.replace("{{", OPEN).replace("}}", r#"{{ "}}" }}"#).replace(OPEN, r#"{{ "{{" }}"#)
}

fn page(title: &str, body: &str) -> String {
    inert(&format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n\
         <style>\n{STYLE_CSS}</style>\n</head>\n<body>\n<main>\n{body}</main>\n</body>\n</html>\n",
        escape(title)
    ))
}

/// Markdown to an HTML fragment (tables, strikethrough, task lists,
/// footnotes; raw HTML shown as text).
pub fn markdown(src: &str) -> String {
    let opts =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS | Options::ENABLE_FOOTNOTES;
    let events = Parser::new_ext(src, opts).map(|e| match e {
        Event::Html(h) | Event::InlineHtml(h) => Event::Text(h),
        other => other,
    });
    let mut out = String::new();
    html::push_html(&mut out, events);
    out
}

/// The page of runbook `name` of `job` (`consoles/runbooks/<job>/<name>.html`).
pub fn runbook_page(job: &str, name: &str, src: &str) -> String {
    let body = format!(
        "<p class=\"meta\"><a href=\"../index.html\">Runbooks</a> / {} / {}</p>\n{}",
        escape(job),
        escape(name),
        markdown(src)
    );
    page(&format!("{job} / {name}"), &body)
}

/// An index page: a heading, then per job a list of (href, label) links.
fn index(title: &str, jobs: &BTreeMap<String, Vec<(String, String)>>) -> String {
    let mut body = format!("<h1>{}</h1>\n", escape(title));
    for (job, links) in jobs {
        body.push_str(&format!("<h2>{}</h2>\n<ul>\n", escape(job)));
        for (href, label) in links {
            body.push_str(&format!("<li><a href=\"{}\">{}</a></li>\n", escape(href), escape(label)));
        }
        body.push_str("</ul>\n");
    }
    page(title, &body)
}

/// `consoles/runbooks/index.html` for runbook names by job.
pub fn runbook_index(runbooks: &BTreeMap<String, Vec<String>>) -> String {
    let jobs = runbooks
        .iter()
        .map(|(job, names)| (job.clone(), names.iter().map(|n| (format!("{job}/{n}.html"), n.clone())).collect()))
        .collect();
    index("Runbooks", &jobs)
}

/// `consoles/dashboards/index.html` for dashboard files (path under
/// `dashboards/`, content) by job; each job's `.dashboardignore` patterns
/// and dot files are left off (they are still deployed).
pub fn dashboard_index(dashboards: &BTreeMap<String, Vec<(String, Vec<u8>)>>) -> String {
    let mut jobs: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for (job, files) in dashboards {
        let ignore = files
            .iter()
            .find(|(p, _)| p == DASHBOARD_IGNORE)
            .map(|(_, c)| String::from_utf8_lossy(c).into_owned())
            .unwrap_or_default();
        let ignored = ignore_matcher(&ignore);
        let links: Vec<(String, String)> = files
            .iter()
            .filter(|(p, _)| !p.rsplit('/').next().unwrap_or(p).starts_with('.') && !ignored(p))
            .map(|(p, c)| (format!("{job}/{p}"), title(&String::from_utf8_lossy(c)).unwrap_or_else(|| file_name(p))))
            .collect();
        if !links.is_empty() {
            jobs.insert(job.clone(), links);
        }
    }
    index("Dashboards", &jobs)
}

fn file_name(p: &str) -> String {
    p.rsplit('/').next().unwrap_or(p).to_string()
}

/// The text of an HTML page's first `<title>`, if any.
fn title(html: &str) -> Option<String> {
    let lower = html.to_ascii_lowercase();
    let open = lower.find("<title")?;
    let start = open + lower[open..].find('>')? + 1;
    let end = start + lower[start..].find("</title")?;
    let t = html[start..end].trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// A matcher for `.dashboardignore` lines (gitignore-style globs: `#`
/// comments; a pattern without `/` matches a file name at any depth; `**`
/// crosses directories; a trailing `/` matches everything below).
fn ignore_matcher(src: &str) -> impl Fn(&str) -> bool {
    let mut set = GlobSetBuilder::new();
    for line in src.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let pat = line.trim_start_matches('/');
        let mut pats = Vec::new();
        if let Some(dir) = pat.strip_suffix('/') {
            pats.push(format!("{dir}/**"));
            if !dir.contains('/') {
                pats.push(format!("**/{dir}/**"));
            }
        } else if !line.contains('/') {
            pats.push(pat.to_string());
            pats.push(format!("**/{pat}"));
        } else {
            pats.push(pat.to_string());
        }
        for p in pats {
            if let Ok(g) = GlobBuilder::new(&p).literal_separator(true).build() {
                set.add(g);
            }
        }
    }
    let set = set.build().ok();
    move |p: &str| set.as_ref().is_some_and(|s| s.is_match(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runbooks_render_markdown_without_raw_html_or_live_template_actions() {
        let p = runbook_page(
            "api",
            "down",
            "# Down\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n<script>x()</script>\n\n`docker ps --format \"{{.Names}}\"`\n",
        );
        assert!(p.contains("<h1>Down</h1>") && p.contains("<table>"), "{p}");
        assert!(p.contains("&lt;script&gt;") && !p.contains("<script>"), "{p}");
        assert!(p.contains(r#"{{ "{{" }}.Names{{ "}}" }}"#), "{p}");
        assert!(!p.replace(r#"{{ "{{" }}"#, "").replace(r#"{{ "}}" }}"#, "").contains("{{"), "{p}");
    }

    #[test]
    fn dashboard_index_titles_and_ignores() {
        let mut d = BTreeMap::new();
        d.insert(
            "api".to_string(),
            vec![
                (DASHBOARD_IGNORE.to_string(), b"# partials\n_partial.html\npartials/\n".to_vec()),
                ("_partial.html".to_string(), b"x".to_vec()),
                ("overview.html".to_string(), b"<html><TITLE> API overview </TITLE>".to_vec()),
                ("partials/a.html".to_string(), b"x".to_vec()),
                ("slo/latency.html".to_string(), b"no title".to_vec()),
            ],
        );
        let page = dashboard_index(&d);
        assert!(page.contains(r#"<a href="api/overview.html">API overview</a>"#), "{page}");
        assert!(page.contains(r#"<a href="api/slo/latency.html">latency.html</a>"#), "{page}");
        assert!(
            !page.contains("_partial") && !page.contains("partials/a") && !page.contains("dashboardignore"),
            "{page}"
        );
    }
}
