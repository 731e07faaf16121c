//! Timeline rendering speed and page weight: `maand-journal timeline`'s
//! model, terminal chart and HTML page for a deploy of one job to N workers
//! in batches of 4 (a `pre_deploy` and an `after_allocation_started` hook
//! per worker, a health gate per batch), built from events as the deploy
//! records them. Run: `cargo bench --bench timeline`.

use maand::event::{Envelope, Event, HookInvocation, SessionInfo};
use maand::history::timeline::{build, render_html, render_text};
use std::time::Instant;

fn deploy_events(workers: usize) -> Vec<Envelope> {
    let ips: Vec<String> = (0..workers).map(|i| format!("10.0.{}.{}", i / 250, i % 250 + 2)).collect();
    let mut ev: Vec<(i64, Event)> = Vec::new();
    let mut t = 1_000_000i64;
    let mut at = |d: i64| {
        t += d;
        t
    };
    ev.push((
        at(0),
        Event::SessionOpened(SessionInfo {
            command: "deploy".into(),
            command_line: vec!["maand".into(), "deploy".into()],
            user: "ops".into(),
            host: "control".into(),
            maand_version: "0.2.0".into(),
            pid: 1,
            started_at: 1_000_000,
            test_switches: vec![],
        }),
    ));
    ev.push((at(5), Event::UpdateSeqSet { update_seq: 2 }));
    let hook = |ip: &str, event: &str, index: u64, count: u64, batch: &[String]| {
        Event::HookInvoked(Box::new(HookInvocation {
            job: "web".into(),
            hook: format!("hook_{event}"),
            event: event.into(),
            alloc_id: format!("alloc-{ip}"),
            ip: ip.into(),
            batch_index: index,
            batch_count: count,
            batch_allocations: batch.to_vec(),
            exit_code: Some(0),
            signal: None,
            duration_ms: 120,
        }))
    };
    let batches: Vec<Vec<String>> = ips.chunks(4).map(|c| c.to_vec()).collect();
    let n = batches.len() as u64;
    for (i, b) in batches.iter().enumerate() {
        let d = at(150);
        for ip in b {
            ev.push((d, hook(ip, "pre_deploy", i as u64, n, b)));
        }
    }
    for (i, b) in batches.iter().enumerate() {
        let i = i as u64;
        let allocations = b.clone();
        ev.push((
            at(50),
            Event::BatchStarted {
                job: "web".into(),
                phase: "update".into(),
                index: i,
                count: n,
                allocations,
                order_source: "default".into(),
            },
        ));
        let d = at(300);
        for ip in b {
            ev.push((
                d,
                Event::LifecycleRan {
                    job: "web".into(),
                    ip: ip.clone(),
                    target: "restart".into(),
                    exit_code: Some(0),
                    duration_ms: 280,
                },
            ));
        }
        let d = at(130);
        for ip in b {
            ev.push((d, hook(ip, "after_allocation_started", i, n, b)));
        }
        ev.push((at(2), Event::BatchEnded { job: "web".into(), phase: "update".into(), index: i, ok: true }));
        let last = i + 1 == n;
        ev.push((
            at(900),
            Event::HealthChecked {
                job: "web".into(),
                allocations: b.clone(),
                ok: !last,
                detail: if last { format!("tcp {}:8080: refused", b[0]) } else { String::new() },
            },
        ));
    }
    ev.push((at(5), Event::SessionFailed { ended_at: t, error: "job web: health check failed".into() }));
    ev.into_iter()
        .enumerate()
        .map(|(i, (at, event))| Envelope {
            format_version: 2,
            seq: 1 + i as u64,
            session_id: 9,
            prev_hash: [0; 32],
            hash: [0; 32],
            recorded_at: at,
            event,
        })
        .collect()
}

fn main() {
    println!("workers  batches  events  bars   page bytes  build+html   text");
    for workers in [16usize, 64, 256] {
        let envs = deploy_events(workers);
        let runs = 200;
        let t = Instant::now();
        let mut bytes = 0;
        let mut bars = 0;
        for _ in 0..runs {
            let tl = build(9, &envs);
            bars = tl.bars().count();
            bytes = render_html(&tl).len();
        }
        let html_ms = t.elapsed().as_secs_f64() * 1000.0 / runs as f64;
        let tl = build(9, &envs);
        let t = Instant::now();
        for _ in 0..runs {
            std::hint::black_box(render_text(&tl, 60));
        }
        let text_ms = t.elapsed().as_secs_f64() * 1000.0 / runs as f64;
        println!(
            "{workers:>7}  {:>7}  {:>6}  {bars:>4}  {bytes:>11}  {html_ms:>8.2} ms  {text_ms:>5.2} ms",
            workers.div_ceil(4),
            envs.len()
        );
    }
}
