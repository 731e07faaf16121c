//! The health gate's configuration and retry schedule (pure).

use crate::error::{Error, Result};
use crate::model::catalog::JobSpec;
use crate::workspace::manifest::HealthCheckJson;
use std::time::Duration;

/// The job's stored health-check configuration, decoded strictly: `None`
/// when the job has none, an error when the stored text does not decode
/// (never "no health gate").
pub fn health_config(spec: &JobSpec) -> Result<Option<HealthCheckJson>> {
    match spec.health_check.as_deref() {
        None => Ok(None),
        Some(text) => serde_json::from_str(text).map(Some).map_err(|e| {
            Error::op(format!(
                "the stored health_check configuration of job {} does not decode ({e}); run `maand build` again",
                spec.name
            ))
        }),
    }
}

/// How a gate retries: at most `attempts` × 20 tries within `budget`,
/// pausing 50 ms at first and doubling up to `max_pause` (a service that
/// just restarted is usually up within milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GatePolicy {
    /// Total time the gate may take (attempts × interval).
    pub budget: Duration,
    /// Upper bound on tries.
    pub max_tries: u64,
    /// The longest pause between tries.
    pub max_pause: Duration,
    /// Timeout of one probe.
    pub probe_timeout: Duration,
}

impl GatePolicy {
    /// The policy of `cfg`: waiting (deploy, `--wait`: the manifest's
    /// `wait`, default 30 × 1 s) or a single attempt.
    pub fn of(cfg: &HealthCheckJson, wait: bool) -> GatePolicy {
        let (attempts, interval) =
            if wait { cfg.wait.as_ref().map_or((30, 1), |w| (w.attempts.max(1), w.interval_seconds)) } else { (1, 0) };
        GatePolicy {
            budget: Duration::from_secs(attempts * interval),
            max_tries: attempts.max(1) * 20,
            max_pause: Duration::from_secs(interval.max(1)),
            probe_timeout: Duration::from_secs(cfg.timeout_seconds.max(1)),
        }
    }

    /// The pause before the next try after `tries` failed ones, having
    /// spent `elapsed`; `None` when the gate gives up.
    pub fn next_pause(&self, tries: u64, elapsed: Duration) -> Option<Duration> {
        let shift = tries.saturating_sub(1).min(20) as u32;
        let pause = Duration::from_millis(50).saturating_mul(1u32 << shift).min(self.max_pause);
        if elapsed + pause > self.budget || tries >= self.max_tries { None } else { Some(pause) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workspace::manifest::WaitJson;

    #[test]
    fn undecodable_config_is_an_error_not_no_gate() {
        let mut spec = JobSpec { name: "web".into(), ..Default::default() };
        assert_eq!(health_config(&spec).unwrap(), None);
        spec.health_check = Some("{\"checks\": 7}".into());
        let e = health_config(&spec).unwrap_err();
        assert!(e.message().contains("the stored health_check configuration of job web does not decode"), "{e}");
        spec.health_check = Some(String::new());
        assert!(health_config(&spec).is_err());
        spec.health_check = Some(r#"{"checks": [{"type": "ssh", "command": "true"}]}"#.into());
        assert_eq!(health_config(&spec).unwrap().unwrap().checks.len(), 1);
    }

    #[test]
    fn pauses_double_up_to_the_interval_within_the_budget() {
        let cfg = HealthCheckJson {
            checks: vec![],
            timeout_seconds: 2,
            wait: Some(WaitJson { attempts: 3, interval_seconds: 1 }),
        };
        let p = GatePolicy::of(&cfg, true);
        assert_eq!(p.next_pause(1, Duration::ZERO), Some(Duration::from_millis(50)));
        assert_eq!(p.next_pause(2, Duration::ZERO), Some(Duration::from_millis(100)));
        assert_eq!(p.next_pause(9, Duration::ZERO), Some(Duration::from_secs(1)));
        assert_eq!(p.next_pause(2, Duration::from_millis(2950)), None, "over the 3 s budget");
        assert_eq!(GatePolicy::of(&cfg, false).next_pause(1, Duration::ZERO), None, "one attempt without wait");
    }
}
