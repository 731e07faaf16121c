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

/// Code lines (not comments) of a core source file or folder mentioning a
/// module path.
fn mentions(rel: &str, needles: &[&str]) -> Vec<String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("core/src").join(rel);
    let files: Vec<std::path::PathBuf> =
        if root.is_dir() { std::fs::read_dir(&root).unwrap().map(|e| e.unwrap().path()).collect() } else { vec![root] };
    let mut hits = Vec::new();
    for f in files {
        for (i, line) in std::fs::read_to_string(&f).unwrap().lines().enumerate() {
            let code = line.trim_start();
            if !code.starts_with("//") && needles.iter().any(|n| code.contains(n)) {
                hits.push(format!("{}:{}: {code}", f.display(), i + 1));
            }
        }
    }
    hits
}

/// Inside the core the modules form no cycle: `model` depends on nothing,
/// `event` only on `model`, `state` not on the planners.
#[test]
fn core_modules_are_layered() {
    let up = ["crate::event", "crate::state", "crate::plan", "crate::workspace", "crate::kv"];
    assert_eq!(mentions("model", &up), Vec::<String>::new(), "model must depend on nothing");
    assert_eq!(mentions("event.rs", &up[1..]), Vec::<String>::new(), "event must depend only on model");
    assert_eq!(mentions("state", &["crate::plan", "crate::workspace"]), Vec::<String>::new());
}

/// One crypto backend: rcgen and x509-parser use aws-lc-rs, and ring is not
/// built at all.
#[test]
fn one_crypto_backend() {
    let deps = normal_deps("maand");
    assert!(deps.contains("aws-lc-rs"), "aws-lc-rs expected");
    assert!(!deps.contains("ring"), "ring must not be built beside aws-lc-rs");
}

/// The codec is pinned behind the record layer: only `maand-record` names
/// bincode, so a codec change is one crate's business.
#[test]
fn only_the_record_crate_uses_the_codec() {
    for manifest in ["Cargo.toml", "core/Cargo.toml", "journal-tools/Cargo.toml"] {
        let text = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(manifest)).unwrap();
        assert!(!text.lines().any(|l| l.trim_start().starts_with("bincode")), "{manifest} must not depend on bincode");
    }
}

/// The planted bug of the deploy simulation exists only in test builds: no
/// normal build of maand (the binaries shipped) enables its feature; only
/// maand's own dev-dependency does.
#[test]
fn the_planted_bug_is_in_no_normal_build() {
    let tree = |edges: &str| {
        let out = Command::new(env!("CARGO"))
            .args(["tree", "--offline", "-p", "maand", "-e", edges, "--prefix", "none"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("running cargo tree");
        assert!(out.status.success(), "cargo tree failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let plant = "plant-promote-before-gate";
    assert!(!tree("normal,features").contains(plant), "a normal build enables {plant}");
    assert!(
        tree("normal,dev,features").contains(plant),
        "the test builds must enable {plant} (cargo tree output changed?)"
    );
}
