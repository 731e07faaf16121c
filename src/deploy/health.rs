//! The health gate: manifest probes (tcp, http, ssh) on allocations, with
//! the manifest's wait policy (deploy always waits: default 30 × 1 s).

use crate::plan::deploy::GatePolicy;
use crate::state::JobSpec;
use crate::transport::Transport;
use crate::workspace::manifest::{HealthCheckJson, PortRef, Probe};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// The job's health-check configuration, decoded strictly: a stored
/// configuration that does not decode is an error, never "no health gate".
pub fn config(spec: &JobSpec) -> crate::error::Result<Option<HealthCheckJson>> {
    crate::plan::deploy::health_config(spec)
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

/// Health probes and the clock a gate waits on: the real workers (probes
/// over the network and SSH, the wall clock) or the simulation's.
pub trait Probes: Sync {
    /// One probe of `spec` on `ip`; `Err` names what failed.
    fn probe(&self, spec: &JobSpec, probe: &Probe, ip: &str, timeout: Duration) -> Result<(), String>;
    /// Time since an origin of the implementation's choice.
    fn now(&self) -> Duration;
    /// Pause between attempts.
    fn sleep(&self, d: Duration);
}

impl<W: super::Workers + ?Sized> Probes for W {
    fn probe(&self, spec: &JobSpec, p: &Probe, ip: &str, timeout: Duration) -> Result<(), String> {
        super::Workers::probe(self, spec, p, ip, timeout)
    }
    fn now(&self) -> Duration {
        super::Workers::now(self)
    }
    fn sleep(&self, d: Duration) {
        super::Workers::sleep(self, d)
    }
}

/// Probes over a [`Transport`] and the wall clock (day-2 commands).
struct TransportProbes<'a> {
    transport: &'a Transport,
    origin: std::time::Instant,
}

impl Probes for TransportProbes<'_> {
    fn probe(&self, spec: &JobSpec, p: &Probe, ip: &str, timeout: Duration) -> Result<(), String> {
        probe(spec, p, ip, timeout, self.transport)
    }
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }
    fn sleep(&self, d: Duration) {
        std::thread::sleep(d);
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
    check_with(&TransportProbes { transport, origin: std::time::Instant::now() }, spec, cfg, ips, wait)
}

/// [`check`] with any [`Probes`] (deploy passes its workers). A panicked
/// probe is a failed probe.
pub fn check_with<P: Probes + ?Sized>(
    probes: &P,
    spec: &JobSpec,
    cfg: &HealthCheckJson,
    ips: &[String],
    wait: bool,
) -> Result<u64, String> {
    let policy = GatePolicy::of(cfg, wait);
    let started = probes.now();
    let pairs: Vec<(&String, &Probe)> = ips.iter().flat_map(|ip| cfg.checks.iter().map(move |c| (ip, c))).collect();
    let mut tries = 0;
    loop {
        tries += 1;
        let failures: Vec<String> = crate::ops::fanout::fan_out(
            &pairs,
            |(ip, _)| format!("health probe on {ip}"),
            |(ip, c)| probes.probe(spec, c, ip, policy.probe_timeout),
        )
        .into_iter()
        .filter_map(|r| match r {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e),
            Err(e) => Some(e.message().to_string()),
        })
        .collect();
        if failures.is_empty() {
            return Ok(tries);
        }
        match policy.next_pause(tries, probes.now().saturating_sub(started)) {
            Some(pause) => probes.sleep(pause),
            None => return Err(failures.join("; ")),
        }
    }
}

/// Run `run` (one whole run of a job's `health_check` hooks) until it
/// passes or `policy`'s budget is spent, pausing as the probe gate does;
/// `now`/`sleep` are the caller's clock (the workers', the wall clock).
/// Bad input or usage (a hook that cannot run at all) is not retried.
/// `Ok(attempts)`, or the last failure naming how many attempts were made.
pub fn retry_hooks(
    policy: GatePolicy,
    now: &dyn Fn() -> Duration,
    sleep: &dyn Fn(Duration),
    mut run: impl FnMut(u64) -> crate::error::Result<()>,
) -> crate::error::Result<u64> {
    let started = now();
    let mut tries = 0;
    loop {
        tries += 1;
        let e = match run(tries) {
            Ok(()) => return Ok(tries),
            Err(e) if e.exit_code() == 2 => return Err(e),
            Err(e) => e,
        };
        match policy.next_pause(tries, now().saturating_sub(started)) {
            Some(pause) => {
                let first = e.message().lines().next().unwrap_or_default().to_string();
                println!("  health_check hooks failed (attempt {tries}), retrying: {first}");
                sleep(pause);
            }
            None if tries > 1 => {
                return Err(crate::error::Error::op(format!("{} (after {tries} attempts)", e.message())));
            }
            None => return Err(e),
        }
    }
}

/// The wall clock for [`retry_hooks`] (day-2 commands).
pub fn wall_clock() -> (impl Fn() -> Duration, impl Fn(Duration)) {
    let origin = std::time::Instant::now();
    (move || origin.elapsed(), std::thread::sleep)
}
