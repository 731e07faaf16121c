//! Reading history: named points in a journal ([`point`]), what changed
//! between two of them ([`diff`]), a deploy's timeline ([`timeline`]), and
//! where an unfinished deploy stopped ([`unfinished`]). Read-only; the
//! `maand-journal` commands and `maand info` render them.

pub mod diff;
pub mod point;
pub mod timeline;
pub mod unfinished;

use crate::bucket::BucketPaths;
use crate::error::Result;
use crate::journal::JournalReader;
use crate::state::State;
pub use point::{Point, Resolved};

/// The committed state at `point`, with the point resolved.
pub fn state_at(paths: &BucketPaths, point: Point) -> Result<(Resolved, State)> {
    let resolved = {
        let reader = JournalReader::open(&paths.journal())?;
        let txn = reader.begin_read()?;
        point::resolve(&txn, point)?
    };
    let state = crate::replay::state_until(paths, resolved.seq)?;
    Ok((resolved, state))
}

/// Events of a deploy that failed: `web` on two workers, update batches of
/// one, an `after_allocation_started` hook per batch, the second batch's
/// health gate failing. Times are explicit so tests can check the layout.
#[cfg(test)]
pub(crate) mod fixture {
    use crate::event::{Envelope, Event, HookInvocation, JobRollout, SessionInfo};
    use crate::plan::rollout::{Action, AllocPlan, JobPlan, RolloutFlags};

    fn env(seq: u64, at: i64, event: Event) -> Envelope {
        Envelope { format_version: 2, seq, session_id: 7, prev_hash: [0; 32], hash: [0; 32], recorded_at: at, event }
    }

    fn hook(ip: &str, index: u64, ms: u64, exit: i32) -> Event {
        Event::HookInvoked(Box::new(HookInvocation {
            job: "web".into(),
            hook: "hook_warm".into(),
            event: "after_allocation_started".into(),
            alloc_id: format!("a-{ip}"),
            ip: ip.into(),
            batch_index: index,
            batch_count: 2,
            batch_allocations: vec![ip.into()],
            exit_code: Some(exit),
            signal: None,
            duration_ms: ms,
        }))
    }

    /// The events, in journal order.
    pub fn failed_deploy() -> Vec<Envelope> {
        let ips = ["10.0.0.1", "10.0.0.2"];
        let plan = JobPlan {
            job: "web".into(),
            deployment_seq: 1,
            allocations: ips
                .iter()
                .map(|ip| AllocPlan {
                    ip: ip.to_string(),
                    alloc_id: format!("a-{ip}"),
                    action: Action::Restart,
                    tree_hash: "new".into(),
                    current_hash: "old".into(),
                    current_version: "1.0.0".into(),
                    new_version: "1.0.0".into(),
                    matched: vec![],
                    changed: vec!["index.html".into()],
                })
                .collect(),
            order: ips.iter().map(|s| s.to_string()).collect(),
            order_source: "default".into(),
            start_batches: vec![],
            update_batches: ips.iter().map(|s| vec![s.to_string()]).collect(),
        };
        let batch = |index: u64, ip: &str| Event::BatchStarted {
            job: "web".into(),
            phase: "update".into(),
            index,
            count: 2,
            allocations: vec![ip.into()],
            order_source: "default".into(),
        };
        let ran = |ip: &str, ms: u64| Event::LifecycleRan {
            job: "web".into(),
            ip: ip.into(),
            target: "restart".into(),
            exit_code: Some(0),
            duration_ms: ms,
        };
        let health = |ip: &str, ok: bool| Event::HealthChecked {
            job: "web".into(),
            allocations: vec![ip.into()],
            ok,
            detail: if ok { String::new() } else { "tcp 10.0.0.2:8080: refused".into() },
        };
        let ended = |index: u64| Event::BatchEnded { job: "web".into(), phase: "update".into(), index, ok: true };
        let events = vec![
            (
                1_000,
                Event::SessionOpened(SessionInfo {
                    command: "deploy".into(),
                    command_line: vec!["maand".into(), "deploy".into()],
                    user: "ops".into(),
                    host: "control".into(),
                    maand_version: "0.2.0".into(),
                    pid: 1,
                    started_at: 1_000,
                    test_switches: vec![],
                }),
            ),
            (1_010, Event::UpdateSeqSet { update_seq: 9 }),
            (1_020, Event::Checkpoint { label: "update_seq".into() }),
            (
                1_100,
                Event::JobRolloutPlanned(Box::new(JobRollout {
                    update_seq: 9,
                    flags: RolloutFlags { force: false, sync_only: false },
                    staged: Default::default(),
                    plan,
                })),
            ),
            (1_200, batch(0, ips[0])),
            (1_700, ran(ips[0], 400)),
            (1_900, hook(ips[0], 0, 150, 0)),
            (1_910, ended(0)),
            (2_500, health(ips[0], true)),
            (
                2_600,
                Event::AllocationReady {
                    job: "web".into(),
                    ip: ips[0].into(),
                    hash: "new".into(),
                    version: "1.0.0".into(),
                },
            ),
            (2_700, batch(1, ips[1])),
            (3_000, ran(ips[1], 250)),
            (3_100, hook(ips[1], 1, 80, 0)),
            (3_110, ended(1)),
            (6_000, health(ips[1], false)),
            (6_010, Event::SessionFailed { ended_at: 6_010, error: "job web: health check failed".into() }),
        ];
        events.into_iter().enumerate().map(|(i, (at, e))| env(100 + i as u64, at, e)).collect()
    }
}
