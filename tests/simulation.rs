//! Deterministic simulation of deploys under faults (see `sim/mod.rs`):
//! a few hundred seeds, each a random workspace deployed through the real
//! deploy machine and executor onto a simulated fleet that fails SSH,
//! rsync, lifecycles, health and hooks, starts slowly, panics, and kills
//! the process at random journal events; after each seed the journal must
//! verify, replay identically, show no promotion without a successful
//! lifecycle and gate and no gated batch run again, and fault-free reruns
//! must converge to everything promoted and healthy.
//!
//! A failing seed prints itself: rerun it alone with
//! `MAAND_SIM_SEED=<seed> cargo test --test simulation`.

mod sim;
use maand::deploy::DeployOptions;
use sim::*;

/// Seeds run by `cargo test` (and CI).
const SEEDS: u64 = 200;

#[test]
fn deploys_under_faults_keep_every_invariant() {
    let seeds = seeds(SEEDS);
    let results = run_seeds(&seeds, false);
    let failures: Vec<String> = results
        .iter()
        .filter_map(|(seed, r)| {
            r.as_ref().err().map(|e| {
                format!(
                    "seed {seed}: {e}\n  reproduce: MAAND_SIM_SEED={seed} cargo test --test simulation deploys_under"
                )
            })
        })
        .collect();
    assert!(failures.is_empty(), "{} of {} seeds failed:\n{}", failures.len(), seeds.len(), failures.join("\n"));
    // Not vacuous: the faults happened and the runs recovered from them.
    let reports: Vec<&SeedReport> = results.iter().filter_map(|(_, r)| r.as_ref().ok()).collect();
    let failed: u64 = reports.iter().map(|r| r.failed).sum();
    let deaths: u64 = reports.iter().map(|r| r.deaths).sum();
    let mut kinds = std::collections::BTreeMap::new();
    for r in &reports {
        for (k, n) in &r.injected {
            *kinds.entry(*k).or_insert(0u64) += n;
        }
    }
    println!(
        "{} seeds, {} deploys, {failed} failed under faults, {deaths} process deaths, faults injected: {kinds:?}",
        reports.len(),
        reports.iter().map(|r| r.deploys).sum::<u64>()
    );
    if seeds.len() as u64 == SEEDS {
        assert!(failed > 0 && deaths > 0, "the faults must bite");
        for kind in ["ssh", "rsync", "exit", "broken", "hook", "panic"] {
            assert!(kinds.get(kind).is_some_and(|n| *n > 0), "no {kind} fault was injected: {kinds:?}");
        }
    }
}

/// The planted bug — promotion before the health gate passed — is caught
/// within the seed budget, naming the broken invariant.
#[test]
fn the_planted_bug_is_caught_within_the_seed_budget() {
    let seeds = seeds(SEEDS);
    let mut caught = None;
    for chunk in seeds.chunks(16) {
        if let Some((seed, Err(e))) = run_seeds(chunk, true).into_iter().find(|(_, r)| r.is_err()) {
            caught = Some((seed, e));
            break;
        }
    }
    let (seed, e) = caught.expect("the planted bug escaped every seed");
    println!("planted bug caught by seed {seed}: {e}");
    assert!(
        e.contains("promoted before its health gate passed") || e.contains("promoted but not healthy"),
        "seed {seed} failed for another reason: {e}"
    );
}

/// One job, three workers, a health gate, all started in one batch.
fn one_job() -> (tempfile::TempDir, SimFleet) {
    one_job_with_hooks(vec![])
}

/// [`one_job`] with hooks registered on `hooks` (events).
fn one_job_with_hooks(hooks: Vec<&'static str>) -> (tempfile::TempDir, SimFleet) {
    let dir = sim_tempdir();
    copy_dir(template(), dir.path());
    let ws = SimWorkspace {
        workers: vec!["10.0.0.1".into(), "10.0.0.2".into(), "10.0.0.3".into()],
        jobs: vec![SimJob {
            name: "j0".into(),
            version: "1.0.0".into(),
            selector: "worker".into(),
            upgrades: 3,
            starts: 0,
            policy: "always".into(),
            health: true,
            hooks,
            demands_previous: false,
            template: true,
            content: 1,
        }],
        disabled: vec![],
    };
    ws.write(dir.path());
    build(dir.path()).unwrap();
    (dir, SimFleet::new(0))
}

/// A worker thread that panics (here a lifecycle run, then a health probe)
/// is that worker's failure, reported with the panic's message: never a
/// dropped result, never a success, never promoted.
#[test]
fn a_panicked_worker_thread_is_reported_as_that_workers_failure() {
    quiet_simulated_panics();
    let (dir, fleet) = one_job();
    let d = dir.path();
    *fleet.panic_on.lock().unwrap() = Some(("lifecycle".into(), "10.0.0.2".into()));
    let e = deploy(d, &fleet, None, false).unwrap_err();
    assert!(
        e.contains("failed j0 (wave 0): new batch 1/1 failed:")
            && e.contains(
                "10.0.0.2: make start did not run worker 10.0.0.2: internal error: the task panicked: simulated panic in the lifecycle of j0 on 10.0.0.2"
            ),
        "{e}"
    );
    let promoted =
        |d: &std::path::Path| maand::verify::verify(&maand::bucket::BucketPaths::new(d)).unwrap().state.deployed.len();
    assert_eq!(promoted(d), 0, "nothing is promoted when one worker's run panicked");

    // A panicking health probe fails the gate (it once counted as healthy).
    *fleet.panic_on.lock().unwrap() = Some(("probe".into(), "10.0.0.3".into()));
    let e = deploy(d, &fleet, None, false).unwrap_err();
    assert!(
        e.contains("health check failed for j0 on [10.0.0.1,10.0.0.2,10.0.0.3]")
            && e.contains("health probe on 10.0.0.3: internal error: the task panicked: simulated panic in a health probe on 10.0.0.3"),
        "{e}"
    );
    assert_eq!(promoted(d), 0);

    // Without panics the next deploy promotes everything; the journal holds.
    *fleet.panic_on.lock().unwrap() = None;
    deploy(d, &fleet, None, false).unwrap();
    assert_eq!(promoted(d), 3);
    check_world(d, &fleet).unwrap();
    check_journal(d).unwrap();
}

/// A template using `.CurrentVersion` does not restart its job on the
/// deploy after a promotion (the simulation found it doing so).
#[test]
fn current_version_in_a_template_does_not_roll_the_job_again() {
    let (dir, fleet) = one_job();
    let d = dir.path();
    assert_eq!(deploy(d, &fleet, None, false).unwrap().promoted, vec!["j0".to_string()]);
    let runs = fleet.lifecycle_runs();
    let again = deploy(d, &fleet, None, false).unwrap();
    assert!(again.promoted.is_empty() && fleet.lifecycle_runs() == runs, "rolled again: {:?}", again.promoted);
    // Staged at the promoted version, the template now says so (a dry run
    // keeps its staging area).
    let dry = DeployOptions { dry_run: true, ..Default::default() };
    assert!(deploy_with(d, &fleet, None, dry).unwrap().promoted.is_empty());
    let staged = std::fs::read_to_string(d.join("tmp/workers/10.0.0.1/jobs/j0/config.env")).unwrap();
    assert!(staged.contains("CURRENT=1.0.0\nNEW=1.0.0"), "{staged}");
}

/// A seed replays exactly: the same faults, decisions and events.
#[test]
fn a_seed_replays_identically() {
    quiet_simulated_panics();
    for seed in [3, 11] {
        let a = run_seed(seed, false).unwrap();
        let b = run_seed(seed, false).unwrap();
        assert!(a.failed > 0 || a.deaths > 0 || !a.injected.is_empty(), "seed {seed} injected nothing");
        assert_eq!(a.injected, b.injected, "seed {seed}");
        assert_eq!(a.trace, b.trace, "seed {seed}");
    }
}

/// The fake hook runner records each run's plan (`hook_run_planned`) as
/// the real one does, so `replay --check` re-derives the simulation's hook
/// runs, and a hook decision derived differently is reported as such.
#[test]
fn replay_check_rederives_the_simulated_hook_runs() {
    let hooks = vec!["pre_deploy", "post_deploy", "after_allocation_started"];
    let (dir, fleet) = one_job_with_hooks(hooks);
    let d = dir.path();
    assert_eq!(deploy(d, &fleet, None, false).unwrap().promoted, vec!["j0".to_string()]);
    let paths = maand::bucket::BucketPaths::new(d);
    let report = maand::replay::check(&paths, &Default::default()).unwrap();
    assert!(report.divergence.is_none(), "{:?}", report.divergence);
    let hooks = report.kinds.get(&maand::replay::Kind::Hooks).cloned().unwrap_or_default();
    assert!(hooks.not_rederivable.is_empty(), "{:?}", hooks.not_rederivable);
    assert_eq!(hooks.rederived, 3, "one plan per hook event of the deploy");
    // The same through maand-journal, with the hook derivation perturbed.
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_maand")).with_file_name("maand-journal");
    let o = std::process::Command::new(bin)
        .args(["replay", "--check", "--inject-nondeterminism", "hooks"])
        .current_dir(d)
        .env_remove("MAAND_BUCKET")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("the hooks decision recorded at event"), "{err}");
}
