//! The health gate: manifest probes (tcp, http, ssh) on allocations, with
//! the manifest's wait policy (deploy always waits: default 30 × 1 s).

use crate::state::JobSpec;
use crate::transport::Transport;
use crate::workspace::manifest::{HealthCheckJson, PortRef, Probe};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Parsed manifest health config of a job, if any.
pub fn config(spec: &JobSpec) -> Option<HealthCheckJson> {
    spec.health_check.as_deref().and_then(|j| serde_json::from_str(j).ok())
}

fn port(spec: &JobSpec, p: &PortRef) -> Option<u16> {
    match p {
        PortRef::Number(n) => Some(*n),
        PortRef::Name(name) => spec.ports.get(name).map(|p| p.port),
    }
}

fn addr(ip: &str, port: u16) -> Option<SocketAddr> {
    (ip, port).to_socket_addrs().ok()?.next()
}

/// One probe on one worker; `Err` names what failed.
pub fn probe(spec: &JobSpec, probe: &Probe, ip: &str, timeout: Duration, transport: &Transport) -> Result<(), String> {
    match probe {
        Probe::Tcp { port: p } => {
            let port = port(spec, p).ok_or_else(|| format!("{ip}: unknown port {p:?}"))?;
            let a = addr(ip, port).ok_or_else(|| format!("{ip}:{port}: bad address"))?;
            TcpStream::connect_timeout(&a, timeout).map(|_| ()).map_err(|e| format!("tcp {ip}:{port}: {e}"))
        }
        Probe::Http { port: p, path, expect_status, scheme, tls_skip_verify } => {
            let port = port(spec, p).ok_or_else(|| format!("{ip}: unknown port {p:?}"))?;
            let ca = if scheme == "https" && !tls_skip_verify { transport.bucket_ca() } else { None };
            super::http_probe::HttpProbe {
                scheme,
                ip,
                port,
                path,
                expect_status: *expect_status,
                timeout,
                ca_pem: ca.as_deref(),
                skip_verify: *tls_skip_verify,
            }
            .run()
        }
        Probe::Ssh { command } => match transport.run(ip, command) {
            Ok(r) if r.ok() => Ok(()),
            Ok(r) => Err(format!("ssh {ip} `{command}`: exit {}: {}", r.code.unwrap_or(-1), r.stderr.trim())),
            Err(e) => Err(e.message().to_string()),
        },
    }
}

/// Whether a failed gate tries again: always until `attempts` tries were
/// made (so `interval_seconds: 0` still means N attempts), then while the
/// `attempts × interval` budget lasts, and never past 20 × `attempts` quick
/// retries.
fn keep_trying(tries: u64, attempts: u64, next_try_at: Duration, budget: Duration) -> bool {
    let attempts = attempts.max(1);
    tries < attempts || (next_try_at <= budget && tries < attempts * 20)
}

/// Run every probe on every worker in parallel, retrying within the wait
/// policy's budget (`attempts` × `interval_seconds`): quickly at first (a
/// service that just restarted is usually up within milliseconds), backing
/// off to the interval. `Ok(attempts)` or the last failure.
pub fn gate(spec: &JobSpec, cfg: &HealthCheckJson, ips: &[String], transport: &Transport) -> Result<u64, String> {
    check(spec, cfg, ips, transport, true)
}

/// [`gate`], or a single attempt when `wait` is false (`maand health_check`
/// without `--wait`).
pub fn check(
    spec: &JobSpec,
    cfg: &HealthCheckJson,
    ips: &[String],
    transport: &Transport,
    wait: bool,
) -> Result<u64, String> {
    let (attempts, interval) =
        if wait { cfg.wait.as_ref().map_or((30, 1), |w| (w.attempts.max(1), w.interval_seconds)) } else { (1, 0) };
    let timeout = Duration::from_secs(cfg.timeout_seconds.max(1));
    let budget = Duration::from_secs(attempts * interval);
    let started = std::time::Instant::now();
    let mut pause = Duration::from_millis(50);
    let mut tries = 0;
    loop {
        tries += 1;
        let failures: Vec<String> = std::thread::scope(|s| {
            let hs: Vec<_> = ips
                .iter()
                .flat_map(|ip| cfg.checks.iter().map(move |c| (ip, c)))
                .map(|(ip, c)| s.spawn(move || probe(spec, c, ip, timeout, transport)))
                .collect();
            hs.into_iter().filter_map(|h| h.join().ok().and_then(|r| r.err())).collect()
        });
        if failures.is_empty() {
            return Ok(tries);
        }
        if !keep_trying(tries, attempts, started.elapsed() + pause, budget) {
            return Err(failures.join("; "));
        }
        std::thread::sleep(pause);
        if interval > 0 {
            pause = (pause * 2).min(Duration::from_secs(interval));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::keep_trying;
    use std::time::Duration;

    #[test]
    fn interval_zero_still_means_n_attempts() {
        let zero = Duration::ZERO;
        let tries: Vec<bool> = (1..=4).map(|t| keep_trying(t, 3, Duration::from_millis(50), zero)).collect();
        assert_eq!(tries, [true, true, false, false], "3 attempts, then stop");
        assert!(!keep_trying(1, 0, Duration::from_millis(50), zero), "0 attempts is one attempt");
    }

    #[test]
    fn the_budget_allows_quick_retries_beyond_attempts_but_not_forever() {
        let budget = Duration::from_secs(30);
        assert!(keep_trying(5, 3, Duration::from_secs(1), budget), "within budget: quick retries go on");
        assert!(!keep_trying(5, 3, Duration::from_secs(31), budget), "past the budget: stop");
        assert!(!keep_trying(60, 3, Duration::from_secs(1), budget), "at most 20 × attempts tries");
    }
}
