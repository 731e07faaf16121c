//! An unprivileged local user for the attacker's side of security tests:
//! created on first use (`useradd`; the tests run as root in CI) and used
//! through `setpriv`, which keeps the environment and resource limits.
#![allow(dead_code)]

use std::process::Command;
use std::sync::OnceLock;

/// Name of the attacker account.
pub const USER: &str = "maand-hostile";

/// uid and gid of the attacker account, creating it if needed; `None` (with
/// the reason printed) where that is impossible outside CI.
pub fn attacker() -> Option<(u32, u32)> {
    static IDS: OnceLock<Result<(u32, u32), String>> = OnceLock::new();
    match IDS.get_or_init(create) {
        Ok(ids) => Some(*ids),
        Err(why) => {
            assert!(std::env::var_os("CI").is_none(), "hostile-user tests must run in CI: {why}");
            eprintln!("SKIPPED: {why}");
            None
        }
    }
}

fn id(flag: &str) -> Option<u32> {
    let o = Command::new("id").args([flag, USER]).output().ok()?;
    String::from_utf8_lossy(&o.stdout).trim().parse().ok().filter(|_| o.status.success())
}

fn create() -> Result<(u32, u32), String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err("creating a second local user needs root".into());
    }
    if id("-u").is_none() {
        // Another test process may create it at the same moment: check again after.
        let _ = Command::new("useradd")
            .args(["--system", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", USER])
            .status()
            .map_err(|e| format!("useradd: {e}"))?;
    }
    match (id("-u"), id("-g")) {
        (Some(u), Some(g)) => Ok((u, g)),
        _ => Err(format!("could not create user {USER} with useradd")),
    }
}

/// `program args…` to be run as the attacker (uid, gid, no supplementary groups).
pub fn command(program: &str) -> Command {
    let (uid, gid) = attacker().expect("attacker account");
    let mut c = Command::new("setpriv");
    c.arg(format!("--reuid={uid}")).arg(format!("--regid={gid}")).arg("--clear-groups").arg("--").arg(program);
    // The system's tools, not root's (a root-only pyenv shim, say).
    c.env("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin").env("HOME", "/nonexistent");
    c
}

/// Run a shell snippet as the attacker; panics when it fails.
pub fn sh(script: &str) -> String {
    let o = command("bash").args(["-c", script]).output().unwrap();
    assert!(
        o.status.success(),
        "as {USER}: {script}\n{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Make `dir` (created by a root test in a 0700 temp dir) reachable by the
/// attacker, as a bucket in a shared place would be.
pub fn open_up(dir: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
}
