//! Stable identifiers derived from names (UUID v5), so the same workspace
//! always yields the same ids and the fold never needs randomness.

use uuid::Uuid;

/// Namespace UUID of maand's derived ids.
const MAAND_NS: Uuid =
    Uuid::from_bytes([0x6d, 0x61, 0x61, 0x6e, 0x64, 0x2d, 0x40, 0x69, 0x80, 0x73, 0x2d, 0x76, 0x35, 0x2d, 0x6e, 0x73]);

fn v5(kind: &str, name: &str) -> String {
    Uuid::new_v5(&MAAND_NS, format!("{kind}|{name}").as_bytes()).to_string()
}

/// Id of the worker at `ip`.
pub fn worker_id(ip: &str) -> String {
    v5("worker", ip)
}

/// Id of job `name`.
pub fn job_id(name: &str) -> String {
    v5("job", name)
}

/// Id of the allocation of `job` on `ip` (derived from `job|worker_ip`).
pub fn alloc_id(job: &str, ip: &str) -> String {
    Uuid::new_v5(&MAAND_NS, format!("{job}|{ip}").as_bytes()).to_string()
}

/// Id of a worker label.
pub fn label_id(label: &str) -> String {
    v5("label", label)
}
