//! A deploy's timeline: waves, jobs, batches, per-worker lifecycle runs,
//! hook runs and health gates as bars on a time axis, each with the
//! journal events behind it. Built from one session's events alone;
//! rendered as a terminal Gantt ([`render_text`]) or a self-contained HTML
//! page ([`render_html`]).
//!
//! Times come from the events: a lifecycle run starts with its batch
//! (`batch_started`) and lasts its recorded duration; hook runs of one
//! batch are recorded together when the batch ends, so the batch began at
//! that time less its longest run; a health gate has no recorded duration
//! and is drawn from the event before it to its result.

mod html;
mod text;

pub use html::render_html;
pub use text::render_text;

use crate::error::{Error, Result};
use crate::event::{Envelope, Event, Millis};
use crate::journal::{self, JournalReader};
use std::collections::BTreeMap;
use std::ops::ControlFlow;

/// What a bar stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum BarKind {
    /// The whole session.
    Session,
    /// Reconciling removed and disabled allocations before the waves.
    Reconcile,
    /// One `deployment_seq` wave.
    Wave,
    /// One job of a wave.
    Job,
    /// A lifecycle batch (`new`/`update`).
    Batch,
    /// A health gate.
    Health,
    /// A lifecycle target on one worker (`start`, `restart`, `stop`, …).
    Lifecycle,
    /// One hook process for one worker.
    Hook,
}

impl BarKind {
    /// Stable lower-case name (HTML class, JSON).
    pub fn name(self) -> &'static str {
        match self {
            BarKind::Session => "session",
            BarKind::Reconcile => "reconcile",
            BarKind::Wave => "wave",
            BarKind::Job => "job",
            BarKind::Batch => "batch",
            BarKind::Health => "health",
            BarKind::Lifecycle => "lifecycle",
            BarKind::Hook => "hook",
        }
    }
}

/// One bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bar {
    /// What it stands for.
    pub kind: BarKind,
    /// Short label (`update 2/3`, `restart`, `pre_deploy hook_x`).
    pub label: String,
    /// Start.
    pub start: Millis,
    /// End (≥ start).
    pub end: Millis,
    /// Whether it failed (highlighted).
    pub failed: bool,
    /// One line of detail (exit code, health detail, …).
    pub detail: String,
    /// Indexes into [`Timeline::events`] of the events behind it.
    pub events: Vec<usize>,
}

impl Bar {
    /// Duration in milliseconds.
    pub fn duration(&self) -> Millis {
        self.end - self.start
    }
}

/// One row of the chart: a label and its bars.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Nesting level (0 session, 1 wave, 2 job, 3 batches/health/workers).
    pub depth: u8,
    /// Row label.
    pub label: String,
    /// Bars, in time order.
    pub bars: Vec<Bar>,
}

/// A journal event a bar refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRef {
    /// Sequence number.
    pub seq: u64,
    /// When it was recorded.
    pub at: Millis,
    /// Its kind.
    pub kind: &'static str,
    /// Its one-line summary.
    pub summary: String,
}

/// A session's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeline {
    /// Session id.
    pub session: u64,
    /// The command line.
    pub command: String,
    /// The deploy's `update_seq`, when it set one.
    pub update_seq: Option<u64>,
    /// Who ran it (`user@host`).
    pub who: String,
    /// First and last event time.
    pub start: Millis,
    /// See `start`.
    pub end: Millis,
    /// `committed`, `failed: …`, `aborted: …`, `open`.
    pub outcome: String,
    /// Whether the session did not commit.
    pub failed: bool,
    /// The rows, top to bottom.
    pub rows: Vec<Row>,
    /// The events bars refer to.
    pub events: Vec<EventRef>,
}

impl Timeline {
    /// Every bar, top to bottom.
    pub fn bars(&self) -> impl Iterator<Item = &Bar> {
        self.rows.iter().flat_map(|r| r.bars.iter())
    }
}

/// Read session `id` from the bucket's journal and build its timeline.
pub fn load(paths: &crate::bucket::BucketPaths, id: u64) -> Result<Timeline> {
    let reader = JournalReader::open(&paths.journal())?;
    let txn = reader.begin_read()?;
    let rec = journal::reader_session(&txn, id)?
        .ok_or_else(|| Error::usage(format!("no session {id}; `maand-journal sessions` lists them")))?;
    // The index's range ends with the session's last record (an abort
    // marker written later by another process included).
    let mut envs = Vec::new();
    journal::for_each_event(&txn, rec.first_seq..=rec.last_seq, |env| {
        if env.session_id == id {
            envs.push(env);
        }
        Ok(ControlFlow::Continue(()))
    })?;
    Ok(build(id, &envs))
}

/// Per-job rows under construction.
#[derive(Default)]
struct JobRows {
    wave: Option<u64>,
    first: Option<Millis>,
    last: Millis,
    events: Vec<usize>,
    batches: Vec<Bar>,
    health: Vec<Bar>,
    workers: BTreeMap<String, Vec<Bar>>,
    order: Vec<String>,
    promoted: bool,
    planned_rollout: Option<bool>,
    failed: bool,
}

impl JobRows {
    fn touch(&mut self, start: Millis, end: Millis) {
        self.first = Some(self.first.map_or(start, |f| f.min(start)));
        self.last = self.last.max(end);
    }
    fn worker(&mut self, ip: &str) -> &mut Vec<Bar> {
        if !self.workers.contains_key(ip) {
            self.order.push(ip.to_string());
        }
        self.workers.entry(ip.to_string()).or_default()
    }
}

/// Build the timeline of one session from its events (in journal order).
pub fn build(session: u64, envs: &[Envelope]) -> Timeline {
    let mut t = Timeline {
        session,
        command: String::new(),
        update_seq: None,
        who: String::new(),
        start: envs.first().map_or(0, |e| e.recorded_at),
        end: 0,
        outcome: "open".into(),
        failed: true,
        rows: Vec::new(),
        events: Vec::new(),
    };
    let mut jobs: BTreeMap<String, JobRows> = BTreeMap::new();
    let mut job_order: Vec<String> = Vec::new();
    let mut reconcile: Vec<Bar> = Vec::new();
    let mut session_events = Vec::new();
    // Open batch per job: (index into that job's batches).
    let mut open_batch: BTreeMap<String, usize> = BTreeMap::new();
    let mut prev_at = t.start;
    let mut i = 0;
    while i < envs.len() {
        let env = &envs[i];
        let at = env.recorded_at;
        if !matches!(env.event, Event::SessionAborted { .. }) {
            t.end = t.end.max(at);
        }
        let push = |t: &mut Timeline, env: &Envelope| {
            t.events.push(EventRef {
                seq: env.seq,
                at: env.recorded_at,
                kind: env.event.kind(),
                summary: env.event.summary(),
            });
            t.events.len() - 1
        };
        match &env.event {
            Event::SessionOpened(info) => {
                // `maand deploy`, not the binary's full path.
                let mut words = info.command_line.clone();
                if let Some(first) = words.first_mut() {
                    *first = first.rsplit('/').next().unwrap_or(first).to_string();
                }
                t.command = words.join(" ");
                t.who = format!("{}@{}", info.user, info.host);
                t.start = info.started_at.min(at);
                session_events.push(push(&mut t, env));
            }
            Event::UpdateSeqSet { update_seq } => {
                t.update_seq = Some(*update_seq);
                session_events.push(push(&mut t, env));
            }
            Event::SessionCommitted { .. } => {
                t.outcome = "committed".into();
                t.failed = false;
                session_events.push(push(&mut t, env));
            }
            Event::SessionFailed { error, .. } => {
                t.outcome = format!("failed: {error}");
                session_events.push(push(&mut t, env));
            }
            Event::SessionAborted { reason, .. } => {
                t.outcome = format!("aborted: {reason}");
                session_events.push(push(&mut t, env));
            }
            Event::JobRolloutPlanned(r) => {
                let ix = push(&mut t, env);
                let j = job_entry(&mut jobs, &mut job_order, &r.plan.job);
                j.wave = Some(r.plan.deployment_seq);
                j.planned_rollout = Some(r.plan.needs_rollout());
                j.events.push(ix);
                j.touch(at, at);
                for ip in &r.plan.order {
                    j.worker(ip);
                }
            }
            Event::BatchStarted { job, phase, index, count, allocations, .. } => {
                let ix = push(&mut t, env);
                let j = job_entry(&mut jobs, &mut job_order, job);
                j.touch(at, at);
                j.batches.push(Bar {
                    kind: BarKind::Batch,
                    label: format!("{phase} {}/{count}", index + 1),
                    start: at,
                    end: at,
                    failed: false,
                    detail: format!("[{}]", allocations.join(",")),
                    events: vec![ix],
                });
                open_batch.insert(job.clone(), j.batches.len() - 1);
            }
            Event::BatchEnded { job, ok, .. } => {
                let ix = push(&mut t, env);
                let j = job_entry(&mut jobs, &mut job_order, job);
                j.touch(at, at);
                if let Some(b) = open_batch.remove(job).and_then(|b| j.batches.get_mut(b)) {
                    b.end = at;
                    b.failed = !ok;
                    b.events.push(ix);
                }
                if !ok {
                    j.failed = true;
                }
            }
            Event::LifecycleRan { job, ip, target, exit_code, duration_ms } => {
                let ix = push(&mut t, env);
                let dur = *duration_ms as Millis;
                let failed = *exit_code != Some(0);
                let detail = exit_code.map_or("did not run".into(), |c| format!("exit {c}"));
                let in_batch =
                    jobs.get(job).and_then(|j| open_batch.get(job).and_then(|b| j.batches.get(*b))).map(|b| b.start);
                let start = in_batch.unwrap_or(at - dur);
                let bar = Bar {
                    kind: BarKind::Lifecycle,
                    label: target.clone(),
                    start,
                    end: start + dur,
                    failed,
                    detail,
                    events: vec![ix],
                };
                if in_batch.is_some() {
                    let j = job_entry(&mut jobs, &mut job_order, job);
                    j.touch(bar.start, bar.end);
                    j.failed |= failed;
                    j.worker(ip).push(bar);
                } else {
                    reconcile.push(Bar { label: format!("{job} on {ip}: {target}"), ..bar });
                }
            }
            Event::HookInvoked(_) => {
                // One batch of hook runs is recorded together when it ends.
                let mut k = i;
                let mut runs = Vec::new();
                while let Some(Event::HookInvoked(h)) = envs.get(k).map(|e| &e.event) {
                    let first = match &envs[i].event {
                        Event::HookInvoked(f) => f,
                        _ => unreachable!(),
                    };
                    if k > i && (h.job != first.job || h.hook != first.hook || h.batch_index != first.batch_index) {
                        break;
                    }
                    runs.push((k, h.clone()));
                    k += 1;
                }
                let longest = runs.iter().map(|(_, h)| h.duration_ms as Millis).max().unwrap_or(0);
                let start = at - longest;
                for (k, h) in runs {
                    let ix = push(&mut t, &envs[k]);
                    let failed = !h.ok();
                    let detail = match (h.exit_code, h.signal) {
                        (Some(c), _) => format!("exit {c}"),
                        (None, Some(s)) => format!("killed by signal {s}"),
                        _ => "did not start".into(),
                    };
                    let j = job_entry(&mut jobs, &mut job_order, &h.job);
                    let bar = Bar {
                        kind: BarKind::Hook,
                        label: format!("{} {}", h.event, h.hook),
                        start,
                        end: start + h.duration_ms as Millis,
                        failed,
                        detail: format!("batch {}/{}: {detail}", h.batch_index + 1, h.batch_count),
                        events: vec![ix],
                    };
                    j.touch(bar.start, bar.end);
                    j.failed |= failed;
                    j.worker(&h.ip).push(bar);
                }
                prev_at = at;
                i = k;
                continue;
            }
            Event::HealthChecked { job, allocations, ok, detail } => {
                let ix = push(&mut t, env);
                let j = job_entry(&mut jobs, &mut job_order, job);
                let on = format!("[{}]", allocations.join(","));
                j.health.push(Bar {
                    kind: BarKind::Health,
                    label: format!("gate on {}", plural(allocations.len(), "worker")),
                    start: prev_at.min(at),
                    end: at,
                    failed: !ok,
                    detail: if *ok { format!("{on} passed") } else { format!("{on} {detail}") },
                    events: vec![ix],
                });
                j.touch(prev_at.min(at), at);
                j.failed |= !ok;
            }
            Event::AllocationPromoted { job, .. } | Event::AllocationReady { job, .. } => {
                let promoted = matches!(env.event, Event::AllocationPromoted { .. });
                let ix = push(&mut t, env);
                let j = job_entry(&mut jobs, &mut job_order, job);
                j.events.push(ix);
                j.touch(at, at);
                j.promoted |= promoted;
            }
            Event::AllocationStopped { job, ip } | Event::AllocationUndeployed { job, ip } => {
                let ix = push(&mut t, env);
                reconcile.push(Bar {
                    kind: BarKind::Reconcile,
                    label: format!("{job} on {ip}: {}", env.event.kind()),
                    start: at,
                    end: at,
                    failed: false,
                    detail: env.event.summary(),
                    events: vec![ix],
                });
            }
            _ => {}
        }
        prev_at = at;
        i += 1;
    }
    // A batch never ended: cut off with the session.
    for (job, b) in open_batch {
        if let Some(bar) = jobs.get_mut(&job).and_then(|j| j.batches.get_mut(b)) {
            bar.end = t.end.max(bar.start);
            bar.failed = true;
            bar.detail.push_str(" — never ended (the session stopped)");
        }
        if let Some(j) = jobs.get_mut(&job) {
            j.failed = true;
        }
    }
    // Jobs without a plan (failed before it) inherit the previous job's wave.
    let mut wave = 0;
    for name in &job_order {
        let j = jobs.get_mut(name).expect("listed");
        match j.wave {
            Some(w) => wave = w,
            None => j.wave = Some(wave),
        }
    }
    // A job that neither promoted nor was up to date, in a session that did
    // not commit, failed (or was cut off).
    if t.failed {
        for j in jobs.values_mut() {
            if !j.promoted && j.planned_rollout != Some(false) {
                j.failed = true;
            }
        }
    }

    let end = t.end;
    t.rows.push(Row {
        depth: 0,
        label: format!("session {session}{}", t.update_seq.map(|u| format!(" (deploy {u})")).unwrap_or_default()),
        bars: vec![Bar {
            kind: BarKind::Session,
            label: t.command.clone(),
            start: t.start,
            end,
            failed: t.failed,
            detail: t.outcome.clone(),
            events: session_events,
        }],
    });
    if !reconcile.is_empty() {
        let (s, e) = span(&reconcile);
        let events: Vec<usize> = reconcile.iter().flat_map(|b| b.events.clone()).collect();
        let failed = reconcile.iter().any(|b| b.failed);
        t.rows.push(Row {
            depth: 1,
            label: "reconcile".into(),
            bars: vec![Bar {
                kind: BarKind::Reconcile,
                label: format!("{} step(s)", reconcile.len()),
                start: s,
                end: e,
                failed,
                detail: reconcile.iter().map(|b| b.label.clone()).collect::<Vec<_>>().join("; "),
                events,
            }],
        });
    }
    let mut waves: BTreeMap<u64, Vec<&String>> = BTreeMap::new();
    for name in &job_order {
        waves.entry(jobs[name].wave.unwrap_or(0)).or_default().push(name);
    }
    for (w, names) in waves {
        let job_spans: Vec<(Millis, Millis)> =
            names.iter().filter_map(|n| jobs[*n].first.map(|f| (f, jobs[*n].last))).collect();
        let (ws, we) = (
            job_spans.iter().map(|s| s.0).min().unwrap_or(t.start),
            job_spans.iter().map(|s| s.1).max().unwrap_or(t.start),
        );
        let wave_failed = names.iter().any(|n| jobs[*n].failed);
        t.rows.push(Row {
            depth: 1,
            label: format!("wave {w}"),
            bars: vec![Bar {
                kind: BarKind::Wave,
                label: format!("{} job(s)", names.len()),
                start: ws,
                end: we,
                failed: wave_failed,
                detail: names.iter().map(|n| n.as_str()).collect::<Vec<_>>().join(", "),
                events: Vec::new(),
            }],
        });
        for name in names {
            let j = &jobs[name];
            let (js, je) = (j.first.unwrap_or(ws), j.last);
            let state = if j.failed {
                "failed"
            } else if j.promoted {
                "promoted"
            } else if j.planned_rollout == Some(false) {
                "up to date"
            } else {
                "not promoted"
            };
            t.rows.push(Row {
                depth: 2,
                label: format!("job {name}"),
                bars: vec![Bar {
                    kind: BarKind::Job,
                    label: name.clone(),
                    start: js,
                    end: je.max(js),
                    failed: j.failed,
                    detail: state.into(),
                    events: j.events.clone(),
                }],
            });
            if !j.batches.is_empty() {
                t.rows.push(Row { depth: 3, label: "batches".into(), bars: j.batches.clone() });
            }
            if !j.health.is_empty() {
                t.rows.push(Row { depth: 3, label: "health gates".into(), bars: j.health.clone() });
            }
            for ip in &j.order {
                let mut bars = j.workers[ip].clone();
                if bars.is_empty() {
                    continue;
                }
                bars.sort_by_key(|b| (b.start, b.end));
                t.rows.push(Row { depth: 3, label: ip.clone(), bars });
            }
        }
    }
    t
}

fn job_entry<'a>(jobs: &'a mut BTreeMap<String, JobRows>, order: &mut Vec<String>, name: &str) -> &'a mut JobRows {
    if !jobs.contains_key(name) {
        order.push(name.to_string());
    }
    jobs.entry(name.to_string()).or_default()
}

fn span(bars: &[Bar]) -> (Millis, Millis) {
    (bars.iter().map(|b| b.start).min().unwrap_or(0), bars.iter().map(|b| b.end).max().unwrap_or(0))
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 { format!("1 {what}") } else { format!("{n} {what}s") }
}

/// `1.23 s`, `456 ms`, `2 min 3 s`.
pub fn human_ms(ms: Millis) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else {
        format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::fixture::failed_deploy;

    fn row<'a>(t: &'a Timeline, label: &str) -> &'a Row {
        t.rows.iter().find(|r| r.label == label).unwrap_or_else(|| panic!("no row {label}: {t:#?}"))
    }

    #[test]
    fn bars_follow_the_recorded_times() {
        let t = build(7, &failed_deploy());
        assert_eq!((t.start, t.end, t.update_seq, t.failed), (1_000, 6_010, Some(9), true));
        let labels: Vec<&str> = t.rows.iter().map(|r| r.label.as_str()).collect();
        assert_eq!(
            labels,
            ["session 7 (deploy 9)", "wave 1", "job web", "batches", "health gates", "10.0.0.1", "10.0.0.2"]
        );
        let batches = &row(&t, "batches").bars;
        assert_eq!((batches[0].start, batches[0].end, batches[0].label.as_str()), (1_200, 1_910, "update 1/2"));
        // Lifecycle runs start with their batch and last their duration.
        let w1 = &row(&t, "10.0.0.1").bars;
        assert_eq!((w1[0].kind, w1[0].start, w1[0].end), (BarKind::Lifecycle, 1_200, 1_600));
        // Hook runs end when recorded, starting at that time less the longest run.
        assert_eq!((w1[1].kind, w1[1].start, w1[1].end), (BarKind::Hook, 1_750, 1_900));
        // A health gate spans from the event before it to its result.
        let gates = &row(&t, "health gates").bars;
        assert_eq!((gates[1].start, gates[1].end, gates[1].failed), (3_110, 6_000, true));
        assert!(!gates[0].failed);
        let job = &row(&t, "job web").bars[0];
        assert!(job.failed && job.detail == "failed");
        assert!(row(&t, "wave 1").bars[0].failed);
        // Every bar lists the events behind it.
        assert_eq!(t.events[gates[1].events[0]].kind, "health_checked");
        assert_eq!(t.bars().count(), 1 + 1 + 1 + 2 + 2 + 2 + 2);
    }

    #[test]
    fn text_and_html_show_the_failure() {
        let t = build(7, &failed_deploy());
        let text = render_text(&t, 40);
        assert!(text.contains("gate on 1 worker 2.9 s FAILED: [10.0.0.2] tcp 10.0.0.2:8080: refused"), "{text}");
        assert!(text.lines().any(|l| l.starts_with("      health gates") && l.contains('X')), "{text}");
        let html = render_html(&t);
        assert_eq!(html.matches("<rect class=\"bar ").count(), t.bars().count());
        assert_eq!(html.matches("<rect class=\"bar failed").count(), t.bars().filter(|b| b.failed).count());
        assert!(!html.contains("<link") && !html.contains(" src="), "no external assets");
    }

    #[test]
    fn journal_text_cannot_break_out_of_the_page() {
        let mut envs = failed_deploy();
        if let Event::SessionFailed { error, .. } = &mut envs.last_mut().unwrap().event {
            *error = "</script><script>alert(1)</script> & <b>".into();
        }
        let html = render_html(&build(7, &envs));
        assert!(!html.contains("<script>alert"), "{html}");
        assert_eq!(html.matches("</script>").count(), 2, "only the page's own scripts close");
    }
}
