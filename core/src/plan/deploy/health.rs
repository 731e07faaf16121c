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

/// How a gate retries: always until `attempts` tries were made (so
/// `interval_seconds: 0` still means N attempts), then while the
/// `attempts × interval` budget lasts, never past 20 × `attempts` tries;
/// pausing 50 ms at first and doubling up to the interval (a service that
/// just restarted is usually up within milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GatePolicy {
    /// Tries always made before giving up.
    pub attempts: u64,
    /// Seconds between attempts (0: quick retries only).
    pub interval_seconds: u64,
    /// Timeout of one probe.
    pub probe_timeout: Duration,
}

impl GatePolicy {
    /// The policy of `cfg`: waiting (deploy, `--wait`: the manifest's
    /// `wait`, default 30 × 1 s) or a single attempt.
    pub fn of(cfg: &HealthCheckJson, wait: bool) -> GatePolicy {
        let (attempts, interval_seconds) =
            if wait { cfg.wait.as_ref().map_or((30, 1), |w| (w.attempts.max(1), w.interval_seconds)) } else { (1, 0) };
        GatePolicy { attempts, interval_seconds, probe_timeout: Duration::from_secs(cfg.timeout_seconds.max(1)) }
    }

    /// The pause before the next try after `tries` failed ones, having
    /// spent `elapsed`; `None` when the gate gives up.
    pub fn next_pause(&self, tries: u64, elapsed: Duration) -> Option<Duration> {
        let first = Duration::from_millis(50);
        let pause = if self.interval_seconds == 0 {
            first
        } else {
            let shift = tries.saturating_sub(1).min(20) as u32;
            first.saturating_mul(1u32 << shift).min(Duration::from_secs(self.interval_seconds))
        };
        let attempts = self.attempts.max(1);
        let budget = Duration::from_secs(attempts * self.interval_seconds);
        let keep = tries < attempts || (elapsed + pause <= budget && tries < attempts * 20);
        keep.then_some(pause)
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
        assert_eq!(p.next_pause(3, Duration::from_millis(2950)), None, "attempts made and over the 3 s budget");
        assert_eq!(p.next_pause(2, Duration::from_millis(2950)), Some(Duration::from_millis(100)), "attempts first");
        assert_eq!(GatePolicy::of(&cfg, false).next_pause(1, Duration::ZERO), None, "one attempt without wait");
    }

    #[test]
    fn interval_zero_still_means_n_attempts_and_tries_are_bounded() {
        let wait = |attempts, interval_seconds| HealthCheckJson {
            checks: vec![],
            timeout_seconds: 1,
            wait: Some(WaitJson { attempts, interval_seconds }),
        };
        let p = GatePolicy::of(&wait(3, 0), true);
        let tries: Vec<bool> = (1..=4).map(|t| p.next_pause(t, Duration::ZERO).is_some()).collect();
        assert_eq!(tries, [true, true, false, false], "3 attempts, then stop");
        let p = GatePolicy::of(&wait(3, 10), true);
        assert!(p.next_pause(5, Duration::from_secs(1)).is_some(), "within budget: quick retries go on");
        assert!(p.next_pause(5, Duration::from_secs(31)).is_none(), "past the budget: stop");
        assert!(p.next_pause(60, Duration::from_secs(1)).is_none(), "at most 20 × attempts tries");
    }
}
