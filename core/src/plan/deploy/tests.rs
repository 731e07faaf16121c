use super::*;
use crate::model::catalog::{Allocation, JobSpec, Worker};

/// Two jobs on two workers: `web` (wave 0, a health gate, starts one at a
/// time) and `app` (wave 1).
fn state() -> State {
    let mut s = State::default();
    for (i, ip) in ["10.0.0.1", "10.0.0.2"].iter().enumerate() {
        s.apply(&Event::WorkerUpserted(Worker { ip: ip.to_string(), position: i as u64, ..Default::default() }));
    }
    let health = r#"{"checks": [{"type": "tcp", "port": 80}], "timeout_seconds": 1}"#;
    for (job, seq, hc) in [("web", 0, Some(health)), ("app", 1, None)] {
        s.apply(&Event::JobUpserted(Box::new(JobSpec {
            name: job.into(),
            version: "1.0.0".into(),
            max_concurrent_starts: 1,
            max_concurrent_upgrades: 1,
            restart_policy: "always".into(),
            health_check: hc.map(String::from),
            deployment_seq: seq,
            ..Default::default()
        })));
        for ip in ["10.0.0.1", "10.0.0.2"] {
            s.apply(&Event::AllocationUpserted(Allocation {
                alloc_id: format!("{job}-{ip}"),
                job: job.into(),
                worker_ip: ip.into(),
                new_version: "1.0.0".into(),
                ..Default::default()
            }));
        }
    }
    s
}

fn input() -> DeployInput {
    DeployInput {
        jobs: vec![(0, "web".into()), (1, "app".into())],
        all_jobs: true,
        update_seq: 1,
        ..Default::default()
    }
}

/// Everything succeeds.
fn ok(step: &Step) -> Outcome {
    match step {
        Step::PrepareWorkers { check, worker_json } => {
            let mut ips: Vec<String> = check.iter().chain(worker_json).cloned().collect();
            ips.sort();
            ips.dedup();
            Outcome::Prepared(ips.into_iter().map(|i| (i, Ok(Prepared::default()))).collect())
        }
        Step::Ship { ips, .. } => Outcome::PerWorker(ips.iter().map(|i| (i.clone(), Ok(()))).collect()),
        Step::Hooks(_) => Outcome::Hooks(Ok(())),
        Step::Stage { ips, .. } => Outcome::Staged(Ok(ips
            .iter()
            .map(|i| (i.clone(), [("f".to_string(), "h".to_string())].into_iter().collect()))
            .collect())),
        Step::Lifecycle { runs, .. } => Outcome::Ran(
            runs.iter()
                .map(|r| RunResult { ip: r.ip.clone(), exit_code: Some(0), duration_ms: 1, ..Default::default() })
                .collect(),
        ),
        Step::Gate { .. } => Outcome::Gate(Ok(1)),
        Step::Stop { ip, .. } | Step::Remove { ip, .. } => {
            Outcome::Remote(Ok(RunResult { ip: ip.clone(), exit_code: Some(0), duration_ms: 1, ..Default::default() }))
        }
        _ => Outcome::Done,
    }
}

/// Drive a deploy to its end, applying what it records; the steps and the result.
fn drive(
    state: &mut State,
    input: DeployInput,
    answer: impl Fn(&Step) -> Outcome,
) -> (Vec<Step>, std::result::Result<DeployResult, Error>) {
    let mut m = DeployMachine::new(input);
    let mut steps = Vec::new();
    loop {
        let step = m.poll(state);
        if let Step::Done(r) = step {
            return (steps, r);
        }
        if let Step::Record(events) = &step {
            for e in events {
                state.apply(e);
            }
        }
        m.complete(answer(&step));
        steps.push(step);
    }
}

fn position(steps: &[Step], want: impl Fn(&Step) -> bool) -> Option<usize> {
    steps.iter().position(want)
}

fn promoted(step: &Step, job: &str) -> bool {
    matches!(step, Step::Record(ev) if ev.iter().any(|e| matches!(e, Event::AllocationPromoted { job: j, .. } if j == job)))
}

#[test]
fn a_first_deploy_starts_in_batches_gates_then_promotes_wave_by_wave() {
    let mut s = state();
    let (steps, r) = drive(&mut s, input(), ok);
    assert_eq!(
        r.unwrap(),
        DeployResult { promoted: vec!["web".into(), "app".into()], up_to_date: vec![], ..Default::default() }
    );
    assert!(matches!(&steps[0], Step::Record(e) if e == &vec![Event::UpdateSeqSet { update_seq: 1 }]));
    let batches: Vec<&Step> =
        steps.iter().filter(|s| matches!(s, Step::Lifecycle { job, .. } if job == "web")).collect();
    assert_eq!(batches.len(), 2, "max_concurrent_starts 1: one start batch per worker");
    let gate =
        position(&steps, |s| matches!(s, Step::Gate { job, ips, .. } if job == "web" && ips.len() == 2)).unwrap();
    let last_batch = steps.iter().rposition(|s| matches!(s, Step::Lifecycle { job, .. } if job == "web")).unwrap();
    let promote_web = position(&steps, |s| promoted(s, "web")).unwrap();
    let stage_app = position(&steps, |s| matches!(s, Step::Stage { job, .. } if job == "app")).unwrap();
    assert!(last_batch < gate && gate < promote_web && promote_web < stage_app, "{steps:#?}");
    assert!(!steps.iter().any(|s| matches!(s, Step::Gate { job, .. } if job == "app")), "app has no probes");
    assert_eq!(s.deployed.len(), 4);
    // Planned again on the promoted state: nothing to do.
    let (steps, r) = drive(&mut s, DeployInput { update_seq: 2, ..input() }, ok);
    assert_eq!(r.unwrap().up_to_date, vec!["web".to_string(), "app".to_string()]);
    assert!(!steps.iter().any(|s| matches!(s, Step::Lifecycle { .. } | Step::Ship { .. })));
}

/// `app` demands `web` through a hook.
fn app_demands_web(s: &mut State) {
    let mut spec = s.catalog.jobs["app"].spec.clone();
    spec.hooks.insert(
        "hook_x".into(),
        crate::model::catalog::Hook {
            script: "_hooks/hook_x.py".into(),
            executed_on: vec!["pre_deploy".into()],
            demand: Some(crate::model::catalog::HookDemand {
                job: "web".into(),
                hook: "hook_y".into(),
                config: "{}".into(),
            }),
        },
    );
    s.apply(&Event::JobUpserted(Box::new(spec)));
}

fn refused(step: &Step) -> Outcome {
    match step {
        Step::Gate { .. } => Outcome::Gate(Err("tcp 10.0.0.2:80: refused".into())),
        other => ok(other),
    }
}

#[test]
fn a_failed_gate_fails_its_job_only_and_promotes_nothing_of_it() {
    let mut s = state();
    let (steps, r) = drive(&mut s, input(), refused);
    let r = r.unwrap();
    assert_eq!(r.failed.len(), 1);
    assert_eq!(r.failed[0].job, "web");
    assert_eq!(r.failed[0].reason, "health check failed for web on [10.0.0.1,10.0.0.2]: tcp 10.0.0.2:80: refused");
    assert_eq!(r.promoted, vec!["app".to_string()], "app does not demand web: it runs");
    let e = r.failure().unwrap();
    assert_eq!(e.exit_code(), 1);
    assert!(e.message().contains("  failed web (wave 0): health check failed for web"), "{e}");
    assert!(!steps.iter().any(|st| promoted(st, "web")), "nothing promoted before its gate passed");
    assert!(steps.iter().any(|st| matches!(st, Step::Record(ev) if ev.iter().any(
        |e| matches!(e, Event::JobDeployFailed { job, wave: 0, .. } if job == "web")))));
    // The gated allocations of web are marked health_failed (not ready: the
    // next deploy runs them again).
    let marked: Vec<&String> = s.ready.keys().map(|(_, ip)| ip).collect();
    assert_eq!(marked, ["10.0.0.1", "10.0.0.2"]);
    assert!(s.ready.values().all(|(h, _)| crate::state::health_failed_tree(h).is_some()), "{:?}", s.ready);
    assert_eq!(s.deployed.keys().map(|(j, _)| j.as_str()).collect::<Vec<_>>(), ["app", "app"]);
}

#[test]
fn a_job_demanding_a_failed_one_is_skipped_with_its_reason() {
    let mut s = state();
    app_demands_web(&mut s);
    let (steps, r) = drive(&mut s, input(), refused);
    let r = r.unwrap();
    assert_eq!(r.skipped.len(), 1);
    assert_eq!(r.skipped[0].job, "app");
    assert_eq!(r.skipped[0].reason, "demands job web, which failed in this deploy");
    assert!(!steps.iter().any(|st| matches!(st, Step::Stage { job, .. } if job == "app")), "app never staged");
    let e = r.failure().unwrap().message().to_string();
    assert!(e.contains("1 job(s) failed, 1 skipped") && e.contains("  skipped app (wave 1): demands job web"), "{e}");
    assert!(s.deployed.is_empty());
}

#[test]
fn bad_input_in_one_job_fails_that_job_not_the_deploy() {
    let mut s = state();
    let (steps, r) = drive(&mut s, input(), |step| match step {
        Step::Stage { job, .. } if job == "web" => {
            Outcome::Staged(Err(Error::input("web/config.tpl line 2: function \"nope\" not defined")))
        }
        other => ok(other),
    });
    let r = r.unwrap();
    assert_eq!(r.failed[0].reason, "web/config.tpl line 2: function \"nope\" not defined");
    assert_eq!(r.failure().unwrap().exit_code(), 1, "a failed job is exit 1 even when its cause was bad input");
    assert!(steps.iter().any(|st| matches!(st, Step::Stage { job, .. } if job == "app")));
    assert_eq!(r.promoted, vec!["app".to_string()]);
}

#[test]
fn a_failed_or_missing_lifecycle_result_fails_the_batch() {
    let mut s = state();
    let (steps, r) = drive(&mut s, input(), |step| match step {
        Step::Lifecycle { runs, index: 1, .. } => Outcome::Ran(
            runs.iter()
                .map(|r| RunResult {
                    ip: r.ip.clone(),
                    exit_code: None,
                    duration_ms: 0,
                    detail: "panicked".into(),
                    output: "building\nmake: *** [start] Error 1\n".into(),
                })
                .collect(),
        ),
        other => ok(other),
    });
    let e = r.unwrap().failure().unwrap();
    assert!(e.message().contains("new batch 2/2 failed:\n        10.0.0.2: make start did not run panicked"), "{e}");
    assert!(e.message().contains("\n          | make: *** [start] Error 1"), "the output's end is shown: {e}");
    assert!(steps.iter().any(|st| matches!(st, Step::Record(ev) if ev.iter().any(|e| matches!(e,
        Event::LifecycleOutput { ip, target, tail, .. } if ip == "10.0.0.2" && target == "start" && tail.starts_with("building"))))));
    assert!(!steps.iter().any(|st| matches!(st, Step::Gate { .. })));
    assert!(steps.iter().any(|st| matches!(st, Step::Record(ev) if ev.contains(&Event::BatchEnded {
        job: "web".into(), phase: "new".into(), index: 1, ok: false
    }))));
}

#[test]
fn an_undecodable_health_config_fails_the_job_instead_of_skipping_the_gate() {
    let mut s = state();
    let mut spec = s.catalog.jobs["web"].spec.clone();
    spec.health_check = Some("{\"checks\": 3}".into());
    s.apply(&Event::JobUpserted(Box::new(spec)));
    let (steps, r) = drive(&mut s, input(), ok);
    let e = r.unwrap().failure().unwrap();
    assert!(
        e.message().contains("failed web (wave 0): the stored health_check configuration of job web does not decode"),
        "{e}"
    );
    assert!(
        !steps.iter().any(|st| matches!(st, Step::Lifecycle { job, .. } if job == "web")),
        "no lifecycle without a gate"
    );
}

#[test]
fn a_dry_run_records_plans_but_touches_no_worker_and_checkpoints_nothing() {
    let mut s = state();
    let (steps, r) = drive(&mut s, DeployInput { dry_run: true, update_seq: 0, ..input() }, ok);
    assert_eq!(r.unwrap().up_to_date.len(), 2);
    for st in &steps {
        assert!(
            !matches!(
                st,
                Step::Checkpoint(_)
                    | Step::Ship { .. }
                    | Step::Lifecycle { .. }
                    | Step::Stop { .. }
                    | Step::Remove { .. }
            ),
            "{st:?}"
        );
        if let Step::PrepareWorkers { worker_json, .. } = st {
            assert!(worker_json.is_empty(), "a dry run writes no worker.json");
        }
    }
    assert_eq!(steps.iter().filter(|s| matches!(s, Step::Stage { .. })).count(), 2);
}

#[test]
fn preparing_workers_is_one_step_whose_failures_end_the_deploy_or_become_notes() {
    // One round trip per worker: checks and worker.json together.
    let mut s = state();
    let (steps, _) = drive(&mut s, input(), ok);
    let prep: Vec<&Step> = steps.iter().filter(|s| matches!(s, Step::PrepareWorkers { .. })).collect();
    assert_eq!(prep.len(), 1, "{steps:#?}");
    assert!(
        matches!(prep[0], Step::PrepareWorkers { check, worker_json } if check.len() == 2 && worker_json.len() == 2)
    );

    // A missing tool on a worker of the deployed jobs ends the deploy
    // before anything changes, naming the worker and the tools.
    let missing = |step: &Step| match step {
        Step::PrepareWorkers { check, .. } => Outcome::Prepared(
            check
                .iter()
                .map(|ip| {
                    let missing = if ip == "10.0.0.2" { vec!["make".to_string(), "rsync".to_string()] } else { vec![] };
                    (ip.clone(), Ok(Prepared { missing, worker_json_error: None }))
                })
                .collect(),
        ),
        other => ok(other),
    };
    let mut s = state();
    let (steps, r) = drive(&mut s, DeployInput { update_seq: 2, ..input() }, missing);
    let e = r.unwrap_err();
    assert!(e.message().contains("worker 10.0.0.2: missing make, missing rsync (install them on the worker)"), "{e}");
    assert!(!steps.iter().any(|s| matches!(s, Step::Stage { .. } | Step::Ship { .. } | Step::Lifecycle { .. })));

    // worker.json that could not be written is said, and the deploy goes on.
    let json_failed = |step: &Step| match step {
        Step::PrepareWorkers { check, .. } => Outcome::Prepared(
            check
                .iter()
                .map(|ip| (ip.clone(), Ok(Prepared { missing: vec![], worker_json_error: Some("disk full".into()) })))
                .collect(),
        ),
        other => ok(other),
    };
    let mut s = state();
    let (steps, r) = drive(&mut s, DeployInput { update_seq: 3, ..input() }, json_failed);
    assert_eq!(r.unwrap().promoted.len(), 2);
    assert!(steps.iter().any(
        |s| matches!(s, Step::Say(l) if l == "note: worker 10.0.0.1: writing worker.json failed: disk full (worker.json not updated)")
    ));
}

#[test]
fn what_the_original_maand_deployed_is_adopted_only_where_the_files_compare_equal() {
    let mut s = state();
    for ip in ["10.0.0.1", "10.0.0.2"] {
        s.apply(&Event::LegacyDeploymentImported {
            job: "app".into(),
            ip: ip.into(),
            alloc_id: format!("app-{ip}"),
            hash: "0a1b".into(),
            version: "1.0.0".into(),
        });
    }
    let input = DeployInput { jobs: vec![(1, "app".into())], all_jobs: false, update_seq: 1, ..Default::default() };
    // 10.0.0.1 equals the staged tree; 10.0.0.2 has another `f`.
    let answer = |step: &Step| match step {
        Step::Compare { ips, trees, .. } => {
            assert_eq!(ips, &["10.0.0.1", "10.0.0.2"]);
            assert_eq!(trees.len(), 2, "compared against the staged trees");
            Outcome::Compared(vec![("10.0.0.1".into(), Ok(vec![])), ("10.0.0.2".into(), Ok(vec!["f".into()]))])
        }
        other => ok(other),
    };
    let (steps, r) = drive(&mut s, input, answer);
    assert_eq!(r.unwrap().promoted, vec!["app".to_string()]);
    let compare = position(&steps, |s| matches!(s, Step::Compare { .. })).expect("compared");
    let plan = position(&steps, |s| matches!(s, Step::Record(e) if matches!(e[0], Event::JobRolloutPlanned(_))));
    assert!(compare < plan.unwrap(), "compared before planning");
    assert!(steps.iter().any(|s| matches!(s, Step::Say(l) if l.contains("10.0.0.2") && l.contains("(f)") && l.contains("planned as an update"))));
    // Only the differing worker runs its lifecycle, as an update.
    let runs: Vec<&LifecycleRun> = steps
        .iter()
        .filter_map(|s| if let Step::Lifecycle { runs, .. } = s { Some(runs) } else { None })
        .flatten()
        .collect();
    assert_eq!(runs.len(), 1);
    assert_eq!((runs[0].ip.as_str(), runs[0].target.as_str()), ("10.0.0.2", "restart"));
    for ip in ["10.0.0.1", "10.0.0.2"] {
        let d = &s.deployed[&("app".to_string(), ip.to_string())];
        assert!(!d.hash.starts_with(crate::event::LEGACY_HASH_PREFIX) && d.running, "{ip}: {d:?}");
    }

    // Converged: nothing is compared or run again.
    let input = DeployInput { jobs: vec![(1, "app".into())], all_jobs: false, update_seq: 2, ..Default::default() };
    let (steps, _) = drive(&mut s, input, ok);
    assert!(!steps.iter().any(|s| matches!(s, Step::Compare { .. } | Step::Lifecycle { .. })));
}

/// Both jobs deployed; then 10.0.0.2 leaves the bucket.
fn worker_two_left() -> State {
    let mut s = state();
    let _ = drive(&mut s, input(), ok);
    s.apply(&Event::WorkerRemoved { ip: "10.0.0.2".into() });
    for job in ["web", "app"] {
        let mut a = s.catalog.allocations[&(job.to_string(), "10.0.0.2".to_string())].clone();
        a.removed = true;
        s.apply(&Event::AllocationUpserted(a));
    }
    s
}

#[test]
fn a_worker_leaving_is_wiped_only_after_every_job_on_it_stopped() {
    let mut s = worker_two_left();
    let (steps, r) = drive(&mut s, DeployInput { update_seq: 2, ..input() }, ok);
    r.unwrap();
    let recorded = steps.iter().find_map(|st| match st {
        Step::Record(ev) => ev.iter().find_map(|e| match e {
            Event::ReconcilePlanned(p) => Some(p.clone()),
            _ => None,
        }),
        _ => None,
    });
    let plan = recorded.expect("the reconcile plan is recorded");
    assert_eq!(plan.items.len(), 2, "{plan:?}");
    assert!(plan.items.iter().all(|i| i.removed && i.worker_gone && i.stop));
    let stops: Vec<usize> =
        steps.iter().enumerate().filter(|(_, st)| matches!(st, Step::Stop { .. })).map(|(i, _)| i).collect();
    let wipes: Vec<usize> = steps
        .iter()
        .enumerate()
        .filter(|(_, st)| matches!(st, Step::Remove { worker_gone: true, .. }))
        .map(|(i, _)| i)
        .collect();
    assert_eq!((stops.len(), wipes.len()), (2, 2), "{steps:#?}");
    assert!(stops.iter().max() < wipes.iter().min(), "every stop before the first wipe: {steps:#?}");
    assert!(!s.deployed.keys().any(|(_, ip)| ip == "10.0.0.2"));
}

#[test]
fn a_dry_run_previews_reconcile_without_stopping_anything() {
    let mut s = worker_two_left();
    let (steps, r) = drive(&mut s, DeployInput { dry_run: true, update_seq: 1, ..input() }, ok);
    r.unwrap();
    let said: Vec<&String> = steps.iter().filter_map(|st| if let Step::Say(l) = st { Some(l) } else { None }).collect();
    for job in ["web", "app"] {
        assert!(
            said.iter()
                .any(|l| l.starts_with(&format!("reconcile (dry run): {job} on 10.0.0.2: would stop, then remove"))),
            "{said:#?}"
        );
    }
    assert!(!steps.iter().any(|st| matches!(st, Step::Stop { .. } | Step::Remove { .. })));
}
