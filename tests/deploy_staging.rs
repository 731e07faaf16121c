//! Deploy stages each job from a view of the state (its workers, their
//! allocations, the job, its deployments, the KV its templates may read)
//! instead of a copy of the whole state; staging from the view must give
//! exactly what staging from the whole state gives.

mod common;
use common::*;
use maand::deploy::exec::staging_view;
use maand::deploy::stage::{StageContext, stage_job};
use maand::kv::seal::KvKey;
use std::sync::Arc;

#[test]
fn staging_from_the_view_equals_staging_from_the_whole_state() {
    let dir = fresh_bucket();
    let p = dir.path();
    acceptance_workspace(p);
    // Templates reading every kind of namespace a job may read.
    write(p, "workspace/jobs/api/config.json.tpl", "{\"port\": \"{{ get \"maand/bucket\" \"api_http_port\" }}\"}\n");
    write(
        p,
        "workspace/jobs/api/all.txt.tpl",
        "{{ get \"maand/bucket\" \"api_http_port\" }} {{ getOptional \"vars/job/api\" \"cluster_name\" }} \
         {{ getOptional \"maand/job/api\" \"workers\" }} {{ getOptional \"maand/job/database\" \"workers\" }} \
         {{ .WorkerIP }} {{ .CurrentVersion }} {{ .Labels }}\n",
    );
    ok(&maand(p, &["build"]));
    let b = open(p, "test");
    let key = KvKey::load(&b.paths.kv_key()).unwrap();
    let bucket_id = b.state.bucket_id().unwrap().to_string();
    let mut staged_any = 0;
    for job in b.state.catalog.jobs.keys() {
        let ips: Vec<String> = b
            .state
            .catalog
            .allocations_of(job)
            .into_iter()
            .filter(|a| !a.removed)
            .map(|a| a.worker_ip.clone())
            .collect();
        let stage = |state: maand::state::State| {
            let cx = StageContext {
                paths: &b.paths,
                state: Arc::new(state),
                kv_key: &key,
                bucket_id: &bucket_id,
                update_seq: 1,
            };
            ips.iter()
                .map(|ip| {
                    let tree = stage_job(&cx, job, ip).unwrap();
                    let wj = std::fs::read_to_string(p.join(format!("tmp/workers/{ip}/worker.json"))).unwrap();
                    let jobs = std::fs::read_to_string(p.join(format!("tmp/workers/{ip}/jobs.json"))).unwrap();
                    (tree, wj, jobs)
                })
                .collect::<Vec<_>>()
        };
        let full = stage(b.state.clone());
        let view = stage(staging_view(&b.state, job, &ips));
        assert_eq!(full, view, "job {job}");
        staged_any += full.iter().filter(|(t, _, _)| !t.is_empty()).count();
    }
    assert!(staged_any >= 5, "the workspace staged too little to compare: {staged_any}");
}
