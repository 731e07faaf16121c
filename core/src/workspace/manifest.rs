//! `workspace/jobs/<job>/manifest.json`.

use super::json_input::parse_json;
use super::names::{check_cert_name, check_hook_name, check_label, check_legacy_hook_name, check_port_name};
use super::units::{Unit, parse_quantity};
use super::version::parse_version;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// When a hook runs.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum HookEvent {
    /// After `maand build` commits.
    PostBuild,
    /// Before a job is staged in deploy.
    PreDeploy,
    /// After a job's rollout in deploy.
    PostDeploy,
    /// Replaces the Makefile lifecycle.
    JobControl,
    /// Health checking.
    HealthCheck,
    /// `maand hooks`.
    Cli,
    /// After a start/restart batch.
    AfterAllocationStarted,
    /// After allocations are stopped.
    AfterAllocationStopped,
}

impl HookEvent {
    /// The name used in manifests and env (`EVENT`).
    pub fn as_str(self) -> &'static str {
        match self {
            HookEvent::PostBuild => "post_build",
            HookEvent::PreDeploy => "pre_deploy",
            HookEvent::PostDeploy => "post_deploy",
            HookEvent::JobControl => "job_control",
            HookEvent::HealthCheck => "health_check",
            HookEvent::Cli => "cli",
            HookEvent::AfterAllocationStarted => "after_allocation_started",
            HookEvent::AfterAllocationStopped => "after_allocation_stopped",
        }
    }
}

/// How deploy applies an update.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum RestartPolicy {
    /// `make restart` on every update.
    #[default]
    Always,
    /// `make reload`, or restart when a changed path matches `restart_globs`.
    Reload,
    /// Files only.
    Never,
}

impl RestartPolicy {
    /// Manifest spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RestartPolicy::Always => "always",
            RestartPolicy::Reload => "reload",
            RestartPolicy::Never => "never",
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ManifestJson {
    version: Option<StrOrNum>,
    #[serde(default)]
    selectors: Vec<String>,
    max_concurrent_upgrades: Option<u64>,
    max_concurrent_starts: Option<u64>,
    min_allocations_count: Option<u64>,
    #[serde(default)]
    restart_policy: RestartPolicy,
    #[serde(default)]
    restart_globs: Vec<String>,
    #[serde(default)]
    resources: ResourcesJson,
    hooks: Option<BTreeMap<String, HookJson>>,
    /// The original's name of `hooks` (accepted with a deprecation note).
    commands: Option<BTreeMap<String, HookJson>>,
    health_check: Option<HealthCheckJson>,
    #[serde(default)]
    certs: BTreeMap<String, CertJson>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum StrOrNum {
    S(String),
    N(u64),
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ResourcesJson {
    memory: Option<BoundsJson>,
    cpu: Option<BoundsJson>,
    #[serde(default)]
    ports: BTreeMap<String, serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BoundsJson {
    min: Option<String>,
    max: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HookJson {
    executed_on: Vec<HookEvent>,
    demands: Option<DemandJson>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DemandJson {
    #[serde(default)]
    job: String,
    #[serde(default)]
    hook: String,
    /// The original's name of `hook`.
    command: Option<String>,
    #[serde(default)]
    config: serde_json::Map<String, serde_json::Value>,
}

/// Manifest health probes.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct HealthCheckJson {
    /// Probes; all must pass on every active allocation. None (health
    /// judged by `health_check` hooks only, with this `wait`) is valid, as
    /// in the original.
    #[serde(default)]
    pub checks: Vec<Probe>,
    /// Per-probe timeout.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
    /// Retry policy with `--wait` and in deploy.
    pub wait: Option<WaitJson>,
}

fn default_timeout() -> u64 {
    5
}

impl HealthCheckJson {
    /// No probes, the default timeout and wait: how a job without a
    /// `health_check` configuration gates on its `health_check` hooks.
    pub fn hooks_only() -> HealthCheckJson {
        HealthCheckJson { checks: Vec::new(), timeout_seconds: default_timeout(), wait: None }
    }
}

/// Retry policy of health checks.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct WaitJson {
    /// Attempts before giving up.
    pub attempts: u64,
    /// Seconds between attempts.
    pub interval_seconds: u64,
}

/// One manifest probe.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum Probe {
    /// TCP connect to a port of the job.
    Tcp {
        /// Port name (from `resources.ports`) or number.
        port: PortRef,
    },
    /// HTTP GET.
    Http {
        /// Port name or number.
        port: PortRef,
        /// Path, default `/`.
        #[serde(default = "default_path")]
        path: String,
        /// Expected status, default 200.
        #[serde(default = "default_status")]
        expect_status: u16,
        /// `http` or `https`.
        #[serde(default = "default_scheme")]
        scheme: String,
        /// `https` only: accept any certificate instead of requiring one
        /// signed by the bucket CA. Omitted from the stored JSON when false,
        /// so manifests without it keep their recorded spec.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        tls_skip_verify: bool,
    },
    /// A command over SSH on the worker.
    Ssh {
        /// Shell line.
        command: String,
    },
}

fn default_path() -> String {
    "/".into()
}
fn default_status() -> u16 {
    200
}
fn default_scheme() -> String {
    "http".into()
}

/// A port given by name or number.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
#[serde(untagged)]
pub enum PortRef {
    /// A name from `resources.ports`.
    Name(String),
    /// A literal number.
    Number(u16),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CertJson {
    subject: SubjectJson,
    #[serde(default)]
    pkcs8: bool,
    #[serde(default)]
    one: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SubjectJson {
    common_name: String,
}

/// Memory or CPU bounds, in MB or MHz (0 = unbounded on that side).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Bounds {
    /// Lower bound.
    pub min: u64,
    /// Upper bound.
    pub max: u64,
}

/// A port declaration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortDecl {
    /// `{}`: assigned from the bucket pool.
    Pool,
    /// A fixed number.
    Fixed(u16),
}

/// A hook's dependency on another job's hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Demand {
    /// Upstream job.
    pub job: String,
    /// Upstream hook.
    pub hook: String,
    /// `config` as canonical JSON.
    pub config: String,
    /// `config.min_version`, parsed.
    pub min_version: Option<semver::Version>,
    /// `config.max_version`, parsed.
    pub max_version: Option<semver::Version>,
}

/// A hook declaration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookDecl {
    /// Events it runs on (sorted, unique).
    pub executed_on: Vec<HookEvent>,
    /// Its demand, if any.
    pub demand: Option<Demand>,
}

/// A certificate declaration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertDecl {
    /// Subject CN.
    pub common_name: String,
    /// PKCS#8 (`PRIVATE KEY`) instead of PKCS#1 (`RSA PRIVATE KEY`).
    pub pkcs8: bool,
    /// One shared pair for all allocations.
    pub one: bool,
}

/// A validated manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// Declared version, normalised; `None` when absent (0.0.0).
    pub version: Option<semver::Version>,
    /// Effective selectors (job name when none), sorted.
    pub selectors: Vec<String>,
    /// Batch width for updates (≥ 1).
    pub max_concurrent_upgrades: u64,
    /// Batch width for first starts (0 = all).
    pub max_concurrent_starts: u64,
    /// Minimum non-removed allocations.
    pub min_allocations_count: u64,
    /// Update policy.
    pub restart_policy: RestartPolicy,
    /// Globs forcing restart under `reload`.
    pub restart_globs: Vec<String>,
    /// Memory bounds, if declared.
    pub memory: Option<Bounds>,
    /// CPU bounds, if declared.
    pub cpu: Option<Bounds>,
    /// Ports by name.
    pub ports: BTreeMap<String, PortDecl>,
    /// Hooks by name.
    pub hooks: BTreeMap<String, HookDecl>,
    /// Health probes.
    pub health_check: Option<HealthCheckJson>,
    /// Certificates by name.
    pub certs: BTreeMap<String, CertDecl>,
}

/// Parse and validate `manifest.json` of job `job`.
pub fn parse_manifest(job: &str, src: &str) -> Result<Manifest> {
    parse_manifest_noting(job, src).map(|(m, _)| m)
}

/// [`parse_manifest`], also returning one deprecation note per legacy
/// spelling of the original maand the manifest uses (`commands`,
/// `demands.command`, `command_*` hook names).
pub fn parse_manifest_noting(job: &str, src: &str) -> Result<(Manifest, Vec<String>)> {
    let file = format!("workspace/jobs/{job}/manifest.json");
    let m: ManifestJson = parse_json(&file, src)?;
    let bad = |field: &str, why: String| Error::input(format!("{file}: field `{field}`: {why}"));
    let mut notes = Vec::new();
    let mut note = |what: String| notes.push(format!("{file}: {what}"));

    let version = match m.version {
        None => None,
        // `maand job create` of the original writes an empty version,
        // which it reads as 0.0.0: same as no version here.
        Some(StrOrNum::S(s)) if s.trim().is_empty() => None,
        Some(StrOrNum::S(s)) => Some(parse_version(&s).map_err(|e| bad("version", e))?),
        Some(StrOrNum::N(n)) => Some(parse_version(&n.to_string()).map_err(|e| bad("version", e))?),
    };
    let mut selectors = if m.selectors.is_empty() { vec![job.to_string()] } else { m.selectors };
    for s in &selectors {
        check_label(s).map_err(|e| bad("selectors", e))?;
    }
    selectors.sort();
    selectors.dedup();
    let max_concurrent_upgrades = m.max_concurrent_upgrades.unwrap_or(1);
    if max_concurrent_upgrades == 0 {
        return Err(bad("max_concurrent_upgrades", "must be at least 1".into()));
    }
    if !m.restart_globs.is_empty() && m.restart_policy != RestartPolicy::Reload {
        return Err(bad("restart_globs", "only allowed with \"restart_policy\": \"reload\"".into()));
    }
    for g in &m.restart_globs {
        globset::Glob::new(g).map_err(|e| bad("restart_globs", format!("{g:?} is not a glob: {e}")))?;
    }
    let memory = m
        .resources
        .memory
        .as_ref()
        .map(|b| bounds(b, Unit::Memory))
        .transpose()
        .map_err(|e| bad("resources.memory", e))?;
    let cpu =
        m.resources.cpu.as_ref().map(|b| bounds(b, Unit::Cpu)).transpose().map_err(|e| bad("resources.cpu", e))?;

    let mut ports = BTreeMap::new();
    for (name, v) in &m.resources.ports {
        let field = format!("resources.ports.{name}");
        check_port_name(name).map_err(|e| bad(&field, e))?;
        let decl = match v {
            serde_json::Value::Object(o) if o.is_empty() => PortDecl::Pool,
            serde_json::Value::Number(n) => match n.as_u64() {
                Some(p) if (1..=65535).contains(&p) => PortDecl::Fixed(p as u16),
                _ => return Err(bad(&field, format!("{n} is not a port number (1-65535)"))),
            },
            other => {
                return Err(bad(&field, format!("{other} must be {{}} (assign from the pool) or a port number")));
            }
        };
        ports.insert(name.clone(), decl);
    }

    let (hooks_field, declared) = match (m.hooks, m.commands) {
        (Some(_), Some(_)) => {
            return Err(bad("commands", "the original's name of `hooks`; give one of the two, not both".into()));
        }
        (Some(h), None) => ("hooks", h),
        (None, Some(c)) => {
            note("field `commands` is the original's name of `hooks`; rename it".into());
            ("commands", c)
        }
        (None, None) => ("hooks", BTreeMap::new()),
    };
    let mut hooks = BTreeMap::new();
    for (name, h) in declared {
        let field = format!("{hooks_field}.{name}");
        if name.starts_with("command_") {
            check_legacy_hook_name(&name).map_err(|e| bad(&field, e))?;
            note(format!(
                "hook name {name} follows the original's `command_` naming; new hooks are named hook_* in _hooks/"
            ));
        } else {
            check_hook_name(&name).map_err(|e| bad(&field, e))?;
        }
        if h.executed_on.is_empty() {
            return Err(bad(&format!("{field}.executed_on"), "lists no event".into()));
        }
        let mut executed_on = h.executed_on;
        executed_on.sort();
        executed_on.dedup();
        let demands = match h.demands {
            Some(DemandJson { command: Some(_), ref hook, .. }) if !hook.is_empty() => {
                return Err(bad(
                    &format!("{field}.demands.command"),
                    "the original's name of `hook`; give one of the two, not both".into(),
                ));
            }
            Some(DemandJson { command: Some(c), job, config, .. }) => {
                note(format!("field `{field}.demands.command` is the original's name of `demands.hook`; rename it"));
                Some(DemandJson { job, hook: c, command: None, config })
            }
            other => other,
        };
        let demand = match demands {
            None => None,
            Some(d) if d.job.is_empty() && d.hook.is_empty() => None,
            Some(d) if d.job.is_empty() || d.hook.is_empty() => {
                return Err(bad(&format!("{field}.demands"), "set both `job` and `hook`, or neither".into()));
            }
            Some(d) => {
                let bound = |k: &str| -> Result<Option<semver::Version>> {
                    d.config
                        .get(k)
                        .map(super::version::parse_version_value)
                        .transpose()
                        .map_err(|e| bad(&format!("{field}.demands.config.{k}"), e))
                };
                let min_version = bound("min_version")?;
                let max_version = bound("max_version")?;
                if d.job == job {
                    return Err(bad(&format!("{field}.demands.job"), "a job cannot demand itself".into()));
                }
                Some(Demand {
                    job: d.job,
                    hook: d.hook,
                    config: serde_json::Value::Object(d.config).to_string(),
                    min_version,
                    max_version,
                })
            }
        };
        hooks.insert(name, HookDecl { executed_on, demand });
    }

    if let Some(hc) = &m.health_check {
        for (i, p) in hc.checks.iter().enumerate() {
            let field = format!("health_check.checks[{i}]");
            match p {
                Probe::Tcp { port } | Probe::Http { port, .. } => {
                    if let PortRef::Name(n) = port
                        && !ports.contains_key(n)
                    {
                        return Err(bad(&field, format!("port {n:?} is not declared in resources.ports")));
                    }
                }
                Probe::Ssh { command } if command.trim().is_empty() => {
                    return Err(bad(&field, "command is empty".into()));
                }
                Probe::Ssh { .. } => {}
            }
            if let Probe::Http { scheme, .. } = p
                && scheme != "http"
                && scheme != "https"
            {
                return Err(bad(&field, format!("scheme {scheme:?} must be \"http\" or \"https\"")));
            }
        }
    }

    let mut certs = BTreeMap::new();
    for (name, c) in m.certs {
        check_cert_name(&name).map_err(|e| bad(&format!("certs.{name}"), e))?;
        if c.subject.common_name.trim().is_empty() {
            return Err(bad(&format!("certs.{name}.subject.common_name"), "is empty".into()));
        }
        certs.insert(name, CertDecl { common_name: c.subject.common_name, pkcs8: c.pkcs8, one: c.one });
    }

    let manifest = Manifest {
        version,
        selectors,
        max_concurrent_upgrades,
        max_concurrent_starts: m.max_concurrent_starts.unwrap_or(0),
        min_allocations_count: m.min_allocations_count.unwrap_or(0),
        restart_policy: m.restart_policy,
        restart_globs: m.restart_globs,
        memory,
        cpu,
        ports,
        hooks,
        health_check: m.health_check,
        certs,
    };
    Ok((manifest, notes))
}

fn bounds(b: &BoundsJson, unit: Unit) -> std::result::Result<Bounds, String> {
    let min = b.min.as_deref().map(|s| parse_quantity(s, unit)).transpose()?.unwrap_or(0);
    let max = b.max.as_deref().map(|s| parse_quantity(s, unit)).transpose()?.unwrap_or(0);
    let max = if max == 0 { min } else { max };
    if min > max {
        return Err(format!("min ({min}) is greater than max ({max})"));
    }
    Ok(Bounds { min, max })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_manifest() {
        let m = parse_manifest(
            "api",
            r#"{"version":"v2.1","selectors":["worker"],"max_concurrent_upgrades":2,
                "resources":{"memory":{"min":"128 mb","max":"1 gb"},"ports":{"http_port":{},"db_port":5432}},
                "hooks":{"hook_migrate":{"executed_on":["pre_deploy","cli"],"demands":{"job":"db","hook":"hook_schema","config":{"min_version":"2"}}}},
                "health_check":{"checks":[{"type":"tcp","port":"http_port"}]},
                "certs":{"tls":{"subject":{"common_name":"api"},"one":true}}}"#,
        )
        .unwrap();
        assert_eq!(m.version.unwrap().to_string(), "2.1.0");
        assert_eq!(m.memory, Some(Bounds { min: 128, max: 1024 }));
        assert_eq!(m.ports["db_port"], PortDecl::Fixed(5432));
        assert_eq!(m.hooks["hook_migrate"].executed_on, [HookEvent::PreDeploy, HookEvent::Cli]);
        assert_eq!(m.hooks["hook_migrate"].demand.as_ref().unwrap().min_version.as_ref().unwrap().to_string(), "2.0.0");
        assert!(m.certs["tls"].one);
        // Health judged by a hook only: wait and timeout, no checks (valid in the original).
        let h = parse_manifest(
            "hooked",
            r#"{"health_check":{"wait":{"attempts":5,"interval_seconds":1},"timeout_seconds":3}}"#,
        )
        .unwrap();
        let hc = h.health_check.unwrap();
        assert!(hc.checks.is_empty() && hc.wait.unwrap().attempts == 5 && hc.timeout_seconds == 3);
        let d = parse_manifest("solo", "{}").unwrap();
        assert_eq!(d.selectors, ["solo"]);
        assert_eq!(d.max_concurrent_upgrades, 1);
    }

    #[test]
    fn rejects_bad_fields() {
        let cases = [
            (r#"{"selector":["x"]}"#, "unknown field `selector`"),
            (r#"{"version":"1.2.3.4"}"#, "field `version`"),
            (
                r#"{"resources":{"memory":{"min":"2 gb","max":"1 gb"}}}"#,
                "field `resources.memory`: min (2048) is greater than max (1024)",
            ),
            (r#"{"resources":{"ports":{"HTTP":{}}}}"#, "field `resources.ports.HTTP`"),
            (r#"{"resources":{"ports":{"p":70000}}}"#, "not a port number"),
            (r#"{"resources":{"ports":{"p":"x"}}}"#, "must be {} (assign from the pool)"),
            (r#"{"hooks":{"migrate":{"executed_on":["cli"]}}}"#, "must start with \"hook_\""),
            (r#"{"hooks":{"hook_m":{"executed_on":["deploy"]}}}"#, "unknown variant `deploy`"),
            (r#"{"hooks":{"hook_m":{"executed_on":["cli"],"demands":{"job":"x"}}}}"#, "set both `job` and `hook`"),
            (
                r#"{"hooks":{"hook_m":{"executed_on":["cli"],"demands":{"job":"api","hook":"hook_m"}}}}"#,
                "cannot demand itself",
            ),
            (r#"{"restart_globs":["a"]}"#, "only allowed with"),
            (r#"{"max_concurrent_upgrades":0}"#, "at least 1"),
            (r#"{"health_check":{"checks":[{"type":"tcp","port":"nope"}]}}"#, "not declared"),
            (r#"{"certs":{"tls":{"subject":{"common_name":""}}}}"#, "common_name"),
        ];
        for (src, want) in cases {
            let e = parse_manifest("api", src).unwrap_err();
            assert!(e.message().contains(want), "{src}: {e}");
            assert!(e.message().starts_with("workspace/jobs/api/manifest.json"), "{e}");
        }
    }
}
