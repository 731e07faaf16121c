//! The layering ARCHITECTURE.md promises, checked by the compiler's own
//! dependency graph: the pure core depends on no storage, async runtime, OS
//! or RNG crate, and the frozen record crate depends on no domain crate (so
//! a record can never embed a live domain or planner type).

use std::collections::BTreeSet;
use std::process::Command;

/// Crate names in the normal-dependency tree of `package`.
fn normal_deps(package: &str) -> BTreeSet<String> {
    let out = Command::new(env!("CARGO"))
        .args(["tree", "--offline", "-p", package, "-e", "normal", "--prefix", "none", "--format", "{p}"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("running cargo tree");
    assert!(out.status.success(), "cargo tree failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

#[test]
fn the_core_depends_on_no_io_runtime_or_rng_crate() {
    let deps = normal_deps("maand-core");
    assert!(deps.contains("maand-core") && deps.contains("serde"), "cargo tree output looks wrong: {deps:?}");
    let forbidden = ["redb", "rusqlite", "tokio", "axum", "libc", "rand", "rand_core", "getrandom", "maand-record"];
    let found: Vec<&str> = forbidden.iter().copied().filter(|f| deps.contains(*f)).collect();
    assert!(found.is_empty(), "maand-core must stay pure, but depends on {found:?}");
}

#[test]
fn records_depend_on_no_domain_crate() {
    let deps = normal_deps("maand-record");
    assert!(deps.contains("maand-record") && deps.contains("bincode"), "cargo tree output looks wrong: {deps:?}");
    for domain in ["maand-core", "maand"] {
        assert!(!deps.contains(domain), "maand-record must not depend on {domain}");
    }
}
