//! Buckets as the original (Go) maand leaves them, for the import tests
//! (written by `tests/import/original_bucket.py`), and a snapshot of a
//! bucket's files to show a refused import changed nothing.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// The original bucket's id.
pub const BUCKET_ID: &str = "3f2c9a7e-1b4d-4e8a-9c6f-2a1b3c4d5e6f";
/// The secret the original sealed under its kv.key.
pub const SECRET: &str = "s3cr3t-root-token";

/// Write an original-format bucket with `tests/import/original_bucket.py`:
/// job `api` on `workers`, deployed `hashes`, certificates when `certs`.
pub fn original_bucket(dir: &Path, workers: &[&str], hashes: &[(&str, &str)], certs: bool) {
    let spec = serde_json::json!({
        "bucket_id": BUCKET_ID, "workers": workers, "job": "api", "port": 30007, "update_seq": 17,
        "hashes": hashes.iter().map(|(ip, h)| (ip.to_string(), serde_json::json!(h))).collect::<serde_json::Map<_, _>>(),
        "version": "1.0.0", "secret": SECRET, "certs": certs,
        "now": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs(),
    });
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/import/original_bucket.py");
    let out = std::process::Command::new("python3").arg(script).arg(dir).arg(spec.to_string()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// Every entry under `dir` (links not followed): kind, mode, size, and the
/// bytes of files up to 1 MiB (bigger ones by size and modification time).
pub fn tree(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            let rel = p.strip_prefix(dir).unwrap().display().to_string();
            let what = if m.file_type().is_symlink() {
                format!("link {}", std::fs::read_link(&p).unwrap().display())
            } else if m.is_dir() {
                todo.push(p.clone());
                format!("dir {:o}", m.mode())
            } else if m.len() <= 1 << 20 {
                format!("file {:o} {:?}", m.mode(), std::fs::read(&p).unwrap())
            } else {
                format!("file {:o} {} bytes, mtime {}.{}", m.mode(), m.len(), m.mtime(), m.mtime_nsec())
            };
            out.insert(rel, what);
        }
    }
    out
}
