//! The health gate: manifest probes (tcp, http, ssh) on allocations, with
//! the manifest's wait policy (deploy always waits: default 30 × 1 s).

use crate::state::JobSpec;
use crate::transport::Transport;
use crate::workspace::manifest::{HealthCheckJson, PortRef, Probe};
use std::io::{Read, Write};
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
        Probe::Http { port: p, path, expect_status, scheme } => {
            let port = port(spec, p).ok_or_else(|| format!("{ip}: unknown port {p:?}"))?;
            if scheme != "http" {
                return Err(format!("{scheme}://{ip}:{port}{path}: only http probes are supported so far"));
            }
            let a = addr(ip, port).ok_or_else(|| format!("{ip}:{port}: bad address"))?;
            let mut s = TcpStream::connect_timeout(&a, timeout).map_err(|e| format!("http {ip}:{port}{path}: {e}"))?;
            let _ = s.set_read_timeout(Some(timeout));
            write!(s, "GET {path} HTTP/1.0\r\nHost: {ip}:{port}\r\nUser-Agent: maand\r\n\r\n")
                .map_err(|e| format!("http {ip}:{port}{path}: {e}"))?;
            let mut buf = [0u8; 64];
            let n = s.read(&mut buf).map_err(|e| format!("http {ip}:{port}{path}: {e}"))?;
            let head = String::from_utf8_lossy(&buf[..n]);
            let status: u16 = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
            if status == *expect_status {
                Ok(())
            } else {
                Err(format!("http {ip}:{port}{path}: status {status}, expected {expect_status}"))
            }
        }
        Probe::Ssh { command } => match transport.run(ip, command) {
            Ok(r) if r.ok() => Ok(()),
            Ok(r) => Err(format!("ssh {ip} `{command}`: exit {}: {}", r.code.unwrap_or(-1), r.stderr.trim())),
            Err(e) => Err(e.message().to_string()),
        },
    }
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
        if started.elapsed() + pause > budget || tries >= attempts.max(1) * 20 {
            return Err(failures.join("; "));
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_secs(interval.max(1)));
    }
}
