use super::*;
use crate::event::{Event, KvValue};
use crate::state::{Allocation, JobSpec, Worker};

fn state(policy: &str, globs: &[&str], starts: u64, upgrades: u64, disabled: &[&str]) -> State {
    let mut s = State::default();
    for (i, ip) in ["10.0.0.1", "10.0.0.2", "10.0.0.3"].iter().enumerate() {
        s.apply(&Event::WorkerUpserted(Worker { ip: ip.to_string(), position: i as u64, ..Default::default() }));
        s.apply(&Event::AllocationUpserted(Allocation {
            alloc_id: format!("a{i}"),
            job: "api".into(),
            worker_ip: ip.to_string(),
            disabled: disabled.contains(ip),
            removed: false,
            new_version: "1.0.0".into(),
        }));
    }
    s.apply(&Event::JobUpserted(Box::new(JobSpec {
        name: "api".into(),
        version: "1.0.0".into(),
        restart_policy: policy.into(),
        restart_globs: globs.iter().map(|g| g.to_string()).collect(),
        max_concurrent_starts: starts,
        max_concurrent_upgrades: upgrades,
        ..Default::default()
    })));
    s
}

fn tree(files: &[(&str, &str)]) -> Tree {
    files.iter().map(|(p, h)| (p.to_string(), h.to_string())).collect()
}

fn staged(t: &Tree) -> BTreeMap<String, Tree> {
    ["10.0.0.1", "10.0.0.2", "10.0.0.3"].iter().map(|ip| (ip.to_string(), t.clone())).collect()
}

fn promote(s: &mut State, t: &Tree, version: &str) {
    for (i, ip) in ["10.0.0.1", "10.0.0.2", "10.0.0.3"].iter().enumerate() {
        s.apply(&Event::AllocationPromoted {
            job: "api".into(),
            ip: ip.to_string(),
            alloc_id: format!("a{i}"),
            hash: tree_hash(t),
            files: t.clone(),
            version: version.into(),
            running: true,
        });
    }
}

fn actions(p: &JobPlan) -> Vec<(String, &'static str)> {
    p.allocations.iter().map(|a| (a.ip.clone(), a.action.as_str())).collect()
}

#[test]
fn first_deploy_starts_in_start_batches_then_unchanged_skips() {
    let mut s = state("always", &[], 2, 1, &[]);
    let t = tree(&[("Makefile", "h1"), ("app.conf", "h2")]);
    let p = plan_job(&s, "api", &staged(&t), &RolloutFlags::default()).unwrap();
    assert!(p.allocations.iter().all(|a| a.action == Action::Start));
    assert_eq!(p.start_batches, vec![vec!["10.0.0.1".to_string(), "10.0.0.2".into()], vec!["10.0.0.3".into()]]);
    assert!(p.update_batches.is_empty());
    assert!(p.needs_rollout());
    promote(&mut s, &t, "1.0.0");
    let p = plan_job(&s, "api", &staged(&t), &RolloutFlags::default()).unwrap();
    assert!(p.allocations.iter().all(|a| a.action == Action::Skip));
    assert!(!p.needs_rollout());
    // --force updates everything; zero starts width = one batch.
    let p = plan_job(&s, "api", &staged(&t), &RolloutFlags { force: true, sync_only: false }).unwrap();
    assert_eq!(p.update_batches.len(), 3);
    assert!(p.allocations.iter().all(|a| a.action == Action::Restart));
}

#[test]
fn changes_follow_restart_policy_and_globs() {
    let t1 = tree(&[("Makefile", "h1"), ("app.conf", "h2"), ("bin2/run.sh", "h3")]);
    let t2 = tree(&[("Makefile", "h1"), ("app.conf", "h2x"), ("bin2/run.sh", "h3")]);
    let t3 = tree(&[("Makefile", "h1"), ("app.conf", "h2"), ("bin2/run.sh", "h3x")]);
    let mut s = state("reload", &["bin2/**"], 0, 1, &[]);
    promote(&mut s, &t1, "1.0.0");
    let p = plan_job(&s, "api", &staged(&t2), &RolloutFlags::default()).unwrap();
    assert!(
        p.allocations.iter().all(|a| a.action == Action::Reload && a.matched.is_empty() && a.changed == ["app.conf"])
    );
    let p = plan_job(&s, "api", &staged(&t3), &RolloutFlags::default()).unwrap();
    assert!(p.allocations.iter().all(|a| a.action == Action::Restart && a.matched == ["bin2/run.sh"]));
    // Removed files count as changes.
    let t4 = tree(&[("Makefile", "h1"), ("app.conf", "h2")]);
    let p = plan_job(&s, "api", &staged(&t4), &RolloutFlags::default()).unwrap();
    assert_eq!(p.allocations[0].matched, ["bin2/run.sh"]);
    let mut never = state("never", &[], 0, 1, &[]);
    promote(&mut never, &t1, "1.0.0");
    let p = plan_job(&never, "api", &staged(&t2), &RolloutFlags::default()).unwrap();
    assert!(p.allocations.iter().all(|a| a.action == Action::Sync));
}

#[test]
fn version_only_bump_rolls_and_sync_only_rules() {
    let t = tree(&[("Makefile", "h1")]);
    let mut s = state("always", &[], 0, 2, &[]);
    promote(&mut s, &t, "0.9.0");
    let p = plan_job(&s, "api", &staged(&t), &RolloutFlags::default()).unwrap();
    assert!(p.allocations.iter().all(|a| a.action == Action::Restart && a.current_version == "0.9.0"));
    assert_eq!(p.update_batches.len(), 2);
    let p = plan_job(&s, "api", &staged(&t), &RolloutFlags { force: false, sync_only: true }).unwrap();
    assert!(p.allocations.iter().all(|a| a.action == Action::Sync));
    let fresh = state("always", &[], 0, 1, &[]);
    let e = plan_job(&fresh, "api", &staged(&t), &RolloutFlags { force: false, sync_only: true }).unwrap_err();
    assert!(e.message().contains("--sync-only: job api on 10.0.0.1 has never been started"), "{e}");
}

#[test]
fn rollout_order_and_disabled_allocations() {
    let t = tree(&[("Makefile", "h1")]);
    let mut s = state("always", &[], 1, 1, &["10.0.0.2"]);
    s.apply(&Event::KvPut {
        namespace: "maand/job/api".into(),
        key: "rollout_order".into(),
        value: KvValue::Plain("10.0.0.3,10.0.0.1".into()),
        ttl: 0,
        at: 0,
    });
    let p = plan_job(&s, "api", &staged(&t), &RolloutFlags::default()).unwrap();
    assert_eq!(p.order_source, "kv");
    assert_eq!(p.start_batches, vec![vec!["10.0.0.3".to_string()], vec!["10.0.0.1".into()]]);
    assert_eq!(
        actions(&p),
        [("10.0.0.3".into(), "start"), ("10.0.0.1".into(), "start"), ("10.0.0.2".into(), "disabled")]
    );
    // Determinism: the same inputs give the same plan.
    assert_eq!(p, plan_job(&s, "api", &staged(&t), &RolloutFlags::default()).unwrap());
}
