//! Properties of templates in deploy staging, checked on generated inputs:
//!
//! - rendering is a pure function of (template text, context, KV view): the
//!   same inputs render the same bytes however the KV history was written,
//!   whether the parsed template is reused (after a failed render too) or
//!   parsed again;
//! - redeploys converge: after any sequence of file changes, KV changes,
//!   version bumps and partly failed deploys, through the real staging code
//!   and the pure rollout planner, with a template that prints
//!   `.CurrentVersion` and `.UpdateSeq`, the deploy after a successful one
//!   skips every allocation, and a real change is never skipped.

use maand::bucket::BucketPaths;
use maand::deploy::stage::{StageContext, stage_job};
use maand::event::{Event, KvValue};
use maand::kv::seal::KvKey;
use maand::plan::rollout::{Action, JobPlan, RolloutFlags, Tree, plan_job};
use maand::state::{Allocation, JobFile, JobSpec, State, Worker};
use maand::templates::{KvView, Template, TemplateContext};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::sync::Arc;

fn key() -> KvKey {
    KvKey::from_bytes(&[7; 32]).unwrap()
}

fn put(ns: &str, k: &str, v: &str) -> Event {
    Event::KvPut { namespace: ns.into(), key: k.into(), value: KvValue::Plain(v.into()), ttl: 0, at: 0 }
}

// ---- purity -------------------------------------------------------------

const FRAGMENTS: &[&str] = &[
    "{{ . }}",
    "{{ range $k, $v := . }}{{ $k }}={{ $v }};{{ end }}",
    "{{ printf \"%v|%q|%#v\" . .Labels .Labels }}",
    "{{ range keys \"vars/bucket\" }}{{ . }},{{ end }}",
    "{{ keys \"vars/job/api\" }}",
    "{{ getOptional \"vars/bucket\" \"a\" }}",
    "{{ get \"vars/job/api\" \"b\" }}",
    "{{ .CurrentVersion }}/{{ .NewVersion }}/{{ .UpdateSeq }}",
    "{{ join .Labels \",\" }}",
    "{{ len . }}",
    "{{ with getOptional \"vars/bucket\" \"c\" }}{{ upper . }}{{ end }}",
    "\n",
    "text ",
    "{{ index . \"WorkerIP\" }}",
    "{{ if gt .UpdateSeq 500 }}big{{ else }}small{{ end }}",
    "{{ printf \"%05d|%x|%.2f\" .UpdateSeq .Job 1.5 }}",
    "{{ $n := 0 }}{{ range .Labels }}{{ $n = add $n 1 }}{{ end }}{{ $n }}",
    "{{ int (getOptional \"vars/bucket\" \"d\") }}",
];

fn context(
    (alloc, labels, seq, ip): (&'static str, Vec<&'static str>, u64, &'static str),
    (current, new): (&'static str, &'static str),
) -> TemplateContext {
    TemplateContext {
        allocation_id: alloc.into(),
        job: "api".into(),
        current_version: current.into(),
        new_version: new.into(),
        worker_ip: ip.into(),
        worker_id: format!("w-{ip}"),
        labels: labels.into_iter().map(String::from).collect(),
        bucket_id: "b-1".into(),
        update_seq: seq,
        bucket_path: "/opt/worker/b-1".into(),
        job_path: "/opt/worker/b-1/jobs/api".into(),
    }
}

fn view(state: State) -> KvView {
    KvView::new(Arc::new(state), key(), "api", "10.0.0.1", Vec::new())
}

fn render_once(src: &str, ctx: &TemplateContext, v: KvView) -> Result<String, String> {
    Template::parse("t.tpl", src, v).and_then(|t| t.render(ctx)).map_err(|e| e.to_string())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn rendering_is_a_pure_function_of_template_context_and_kv(
        parts in prop::collection::vec(prop::sample::select(FRAGMENTS), 1..8),
        writes in prop::collection::vec((
            prop::sample::select(&["vars/bucket", "vars/job/api", "maand/bucket"][..]),
            prop::sample::select(&["a", "b", "c", "d", "zz", "A"][..]),
            prop::sample::select(&["1", "x y", "ü", "", "-3", "07"][..]),
        ), 0..12),
        ids in (
            prop::sample::select(&["a-1", "a-2"][..]),
            prop::collection::vec(prop::sample::select(&["web", "db", "worker", "Ω"][..]), 0..4),
            0u64..1000,
            prop::sample::select(&["10.0.0.1", "10.0.0.2"][..]),
        ),
        versions in (prop::sample::select(&["0.0.0", "1.0.0"][..]), prop::sample::select(&["1.0.0", "2.0.0"][..])),
    ) {
        let src: String = parts.concat();
        let ctx = context(ids, versions);
        // The same KV view written two ways: in the generated order (with
        // overwrites), and only the final values in sorted order.
        let mut a = State::default();
        let mut last: BTreeMap<(&str, &str), &str> = BTreeMap::new();
        for (ns, k, v) in &writes {
            a.apply(&put(ns, k, v));
            last.insert((ns, k), v);
        }
        let mut b = State::default();
        for ((ns, k), v) in last.iter().rev() {
            b.apply(&put(ns, k, v));
        }
        let first = render_once(&src, &ctx, view(a.clone()));
        prop_assert_eq!(&first, &render_once(&src, &ctx, view(b)));
        prop_assert_eq!(&first, &render_once(&src, &ctx.clone(), view(a.clone())));
        // A parsed template renders the same again, also after a failed
        // render of another context (no state leaks between renders).
        let t = Template::parse("t.tpl", &src, view(a)).map_err(|e| e.to_string());
        if let Ok(t) = t {
            let mut broken = ctx.clone();
            broken.labels = vec!["x".into(); 3];
            let _ = t.render(&TemplateContext { update_seq: 999, ..broken });
            prop_assert_eq!(&first, &t.render(&ctx).map_err(|e| e.to_string()));
            prop_assert_eq!(&first, &t.render(&ctx).map_err(|e| e.to_string()));
        }
    }
}

// ---- convergence --------------------------------------------------------

const IPS: [&str; 2] = ["10.0.0.1", "10.0.0.2"];

const TEMPLATE: &str = "current={{ .CurrentVersion }} new={{ .NewVersion }} seq={{ .UpdateSeq }}
data={{ get (printf \"vars/job/%s\" .Job) \"data\" }}
{{ if ne .CurrentVersion .NewVersion }}upgrading from {{ .CurrentVersion }}{{ end }}
";

fn spec(version: u32) -> Event {
    Event::JobUpserted(Box::new(JobSpec {
        name: "api".into(),
        version: format!("1.{version}.0"),
        restart_policy: "always".into(),
        max_concurrent_upgrades: 1,
        ..Default::default()
    }))
}

fn file(path: &str, content: &str) -> Event {
    Event::JobFilePut {
        job: "api".into(),
        path: path.into(),
        file: JobFile { mode: 0o644, content: content.as_bytes().to_vec() },
    }
}

fn initial_state() -> State {
    let mut s = State::default();
    for (i, ip) in IPS.iter().enumerate() {
        s.apply(&Event::WorkerUpserted(Worker {
            ip: ip.to_string(),
            worker_id: format!("w{i}"),
            position: i as u64,
            labels: vec!["api".into(), "worker".into()],
            ..Default::default()
        }));
        s.apply(&Event::AllocationUpserted(Allocation {
            alloc_id: format!("a{i}"),
            job: "api".into(),
            worker_ip: ip.to_string(),
            disabled: false,
            removed: false,
            new_version: "1.0.0".into(),
        }));
    }
    s.apply(&spec(0));
    s.apply(&file("Makefile", "start:\n"));
    s.apply(&file("app.conf.tpl", TEMPLATE));
    s.apply(&file("data.txt", "0"));
    s.apply(&put("vars/job/api", "data", "0"));
    s
}

/// A bucket-less deploy: stage every allocation with the real staging code,
/// plan, and promote the allocations `promote` picks among those planned.
struct Fleet {
    state: State,
    dir: tempfile::TempDir,
    update_seq: u64,
}

impl Fleet {
    fn new() -> Fleet {
        Fleet { state: initial_state(), dir: tempfile::tempdir().unwrap(), update_seq: 0 }
    }

    fn deploy(&mut self, promote: impl Fn(usize) -> bool) -> JobPlan {
        self.update_seq += 1;
        let paths = BucketPaths::new(self.dir.path());
        let key = key();
        let scx = StageContext {
            paths: &paths,
            state: Arc::new(self.state.clone()),
            kv_key: &key,
            bucket_id: "b-1",
            update_seq: self.update_seq,
        };
        let staged: BTreeMap<String, Tree> =
            IPS.iter().map(|ip| (ip.to_string(), stage_job(&scx, "api", ip).unwrap())).collect();
        let plan = plan_job(&self.state, "api", &staged, &RolloutFlags::default()).unwrap();
        for (i, a) in plan.allocations.iter().enumerate() {
            if a.action != Action::Skip && promote(i) {
                self.state.apply(&Event::AllocationPromoted {
                    job: "api".into(),
                    ip: a.ip.clone(),
                    alloc_id: a.alloc_id.clone(),
                    hash: a.tree_hash.clone(),
                    files: staged[&a.ip].clone(),
                    version: a.new_version.clone(),
                    running: a.action != Action::Disabled,
                });
            }
        }
        plan
    }

    fn staged(&self, ip: &str) -> String {
        let p = BucketPaths::new(self.dir.path()).tmp().join("workers").join(ip).join("jobs/api/app.conf");
        std::fs::read_to_string(p).unwrap()
    }
}

fn actions(p: &JobPlan) -> Vec<&'static str> {
    p.allocations.iter().map(|a| a.action.as_str()).collect()
}

#[derive(Debug, Clone)]
enum Op {
    ChangeFile(u8),
    ChangeVar(u8),
    Bump,
    Deploy,
    /// A deploy that promotes only the allocations whose bit is set.
    FailedDeploy(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..3).prop_map(Op::ChangeFile),
        (0u8..3).prop_map(Op::ChangeVar),
        Just(Op::Bump),
        Just(Op::Deploy),
        Just(Op::Deploy),
        (0u8..4).prop_map(Op::FailedDeploy),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn redeploys_converge_after_any_changes_bumps_and_failures(ops in prop::collection::vec(op(), 0..14)) {
        let mut f = Fleet::new();
        // The inputs of each allocation's staged tree: (version, data file,
        // KV var); what each allocation last had promoted.
        let mut now = (0u32, 0u8, 0u8);
        let mut promoted: [Option<(u32, u8, u8)>; 2] = [None, None];
        let mut deploy = |f: &mut Fleet, now: (u32, u8, u8), mask: u8| -> Result<(), TestCaseError> {
            let plan = f.deploy(|i| mask & (1 << i) != 0);
            for (i, a) in plan.allocations.iter().enumerate() {
                let want = match promoted[i] {
                    None => Action::Start,
                    Some(p) if p != now => Action::Restart,
                    Some(_) => Action::Skip,
                };
                prop_assert_eq!(a.action, want, "allocation {} of {:?}", i, actions(&plan));
                if mask & (1 << i) != 0 {
                    promoted[i] = Some(now);
                }
            }
            Ok(())
        };
        for op in ops {
            match op {
                Op::ChangeFile(n) => {
                    now.1 = n;
                    f.state.apply(&file("data.txt", &n.to_string()));
                }
                Op::ChangeVar(n) => {
                    now.2 = n;
                    f.state.apply(&put("vars/job/api", "data", &n.to_string()));
                }
                Op::Bump => {
                    now.0 += 1;
                    f.state.apply(&spec(now.0));
                }
                Op::Deploy => {
                    deploy(&mut f, now, 3)?;
                    // The deploy after a successful one skips everything.
                    deploy(&mut f, now, 3)?;
                }
                Op::FailedDeploy(mask) => deploy(&mut f, now, mask)?,
            }
        }
        deploy(&mut f, now, 3)?;
        deploy(&mut f, now, 3)?;
        prop_assert!(promoted.iter().all(|p| *p == Some(now)));
    }
}

/// The sequence: start, unchanged, bump, unchanged, unchanged is one
/// start and one restart per allocation, while the shipped file still shows
/// the running version of the allocation at each deploy.
#[test]
fn current_version_in_a_template_restarts_once_per_version() {
    let mut f = Fleet::new();
    let mut seen = Vec::new();
    seen.push(actions(&f.deploy(|_| true)));
    assert!(f.staged(IPS[0]).starts_with("current=0.0.0 new=1.0.0 seq=1\n"), "{}", f.staged(IPS[0]));
    assert!(f.staged(IPS[0]).contains("upgrading from 0.0.0"));
    seen.push(actions(&f.deploy(|_| true)));
    assert!(f.staged(IPS[0]).starts_with("current=1.0.0 new=1.0.0 seq=2\n"), "{}", f.staged(IPS[0]));
    f.state.apply(&spec(1));
    seen.push(actions(&f.deploy(|_| true)));
    assert!(f.staged(IPS[0]).starts_with("current=1.0.0 new=1.1.0 seq=3\n"), "{}", f.staged(IPS[0]));
    seen.push(actions(&f.deploy(|_| true)));
    seen.push(actions(&f.deploy(|_| true)));
    assert_eq!(
        seen,
        vec![
            vec!["start", "start"],
            vec!["skip", "skip"],
            vec!["restart", "restart"],
            vec!["skip", "skip"],
            vec!["skip", "skip"],
        ]
    );
}
