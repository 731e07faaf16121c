//! Adopting what the original maand deployed (docs/migration.md): an
//! allocation imported with the original's hash (never equal to ours) is
//! promoted with our staged tree only once the worker's files were compared
//! with that tree and found equal; one that differs stays an update, and the
//! deploy (dry run included) says why.

use super::{Await, DeployMachine, Op, Step};
use crate::error::Error;
use crate::event::{Event, LEGACY_HASH_PREFIX};
use crate::plan::rollout::tree_hash;
use crate::state::State;
use std::collections::BTreeMap;

/// Per allocation waiting for its comparison: (alloc id, the original's version).
pub(super) type Claims = BTreeMap<String, (String, String)>;

/// How many differing paths a message names before "…".
const NAMED: usize = 5;

impl DeployMachine {
    /// The comparison step for the current job's allocations the original
    /// maand deployed, if any (after staging, before planning).
    pub(super) fn adopt_step(&mut self, state: &State) -> Option<Step> {
        let run = self.job.as_ref()?;
        let claims: Claims = run
            .staged
            .keys()
            .filter_map(|ip| {
                let d = state.deployed.get(&(run.job.clone(), ip.clone()))?;
                d.hash.starts_with(LEGACY_HASH_PREFIX).then(|| (ip.clone(), (d.alloc_id.clone(), d.version.clone())))
            })
            .collect();
        if claims.is_empty() {
            return None;
        }
        let trees = claims.keys().map(|ip| (ip.clone(), run.staged[ip].clone())).collect();
        let step = Step::Compare { job: run.job.clone(), ips: claims.keys().cloned().collect(), trees };
        self.waiting = Some(Await::Compared(claims));
        Some(step)
    }

    /// Adopt the allocations whose files equal the staged tree; say why
    /// the others stay updates.
    pub(super) fn compared(&mut self, claims: Claims, results: Vec<(String, Result<Vec<String>, Error>)>) {
        let Some(run) = self.job.as_ref() else { return };
        let mut events = Vec::new();
        let mut said = Vec::new();
        for (ip, r) in results {
            let (Some((alloc_id, version)), Some(tree)) = (claims.get(&ip), run.staged.get(&ip)) else { continue };
            let why = match r {
                Ok(diff) if diff.is_empty() => {
                    events.push(Event::AllocationPromoted {
                        job: run.job.clone(),
                        ip: ip.clone(),
                        alloc_id: alloc_id.clone(),
                        hash: tree_hash(tree),
                        files: tree.clone(),
                        version: version.clone(),
                        running: true,
                    });
                    said.push(format!(
                        "adopt: {} on {ip}: the worker's files equal the staged tree: adopted as deployed by the original maand (version {version})",
                        run.job
                    ));
                    continue;
                }
                Ok(diff) => {
                    let more =
                        if diff.len() > NAMED { format!(", … ({} in all)", diff.len()) } else { String::new() };
                    format!(
                        "its files differ from the staged tree ({}{more})",
                        diff[..diff.len().min(NAMED)].join(", ")
                    )
                }
                Err(e) => format!("its files could not be compared ({})", e.message()),
            };
            said.push(format!(
                "adopt: {} on {ip}: deployed by the original maand, but {why}: planned as an update",
                run.job
            ));
        }
        let mut front: Vec<Op> = Vec::new();
        if !events.is_empty() {
            let label = format!("{} adopted", run.job);
            front.push(Op::Step(Step::Record(events)));
            front.push(Op::Step(self.checkpoint(label)));
        }
        front.extend(said.into_iter().map(|l| Op::Step(Step::Say(l))));
        self.push_front(front);
    }
}
