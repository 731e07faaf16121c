//! Which KV namespaces a hook may read and write (seed 001 "KV read vs
//! write", SPEC §4). Pure: the runtime API asks, then answers with the
//! seed's status and message.

use crate::workspace::manifest::HookEvent;

/// The allocation a hook request speaks for.
#[derive(Debug, Clone)]
pub struct HookScope<'a> {
    /// The hook's job.
    pub job: &'a str,
    /// The allocation's worker address.
    pub ip: &'a str,
    /// The running event (`EVENT` header).
    pub event: HookEvent,
    /// Jobs named by the job's hook demands (readable upstream namespaces).
    pub upstream: &'a [String],
}

/// A KV operation of the runtime API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KvOp {
    /// `GET /kv`.
    Get,
    /// `PUT /kv`.
    Put,
    /// `DELETE /kv`.
    Delete,
    /// `PUT /kv/secret`.
    PutSecret,
    /// `DELETE /kv/secret`.
    DeleteSecret,
    /// `GET /kv/keys`.
    ListKeys,
}

impl KvOp {
    fn writes(self) -> bool {
        matches!(self, KvOp::Put | KvOp::Delete | KvOp::PutSecret | KvOp::DeleteSecret)
    }
}

/// Why a request is refused; both are HTTP 400 with the seed's message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// A write while `EVENT` is `health_check`.
    HealthCheckWrite,
    /// A namespace the hook may not use this way.
    Namespace,
}

impl Denied {
    /// HTTP status.
    pub fn status(self) -> u16 {
        400
    }
    /// The seed's message.
    pub fn message(self) -> &'static str {
        match self {
            Denied::HealthCheckWrite => "KV writes are not allowed during health_check",
            Denied::Namespace => "Invalid or unauthorized namespace",
        }
    }
}

/// Whether `scope` may do `op` on `namespace`/`key`.
pub fn check(scope: &HookScope, op: KvOp, namespace: &str, key: &str) -> Result<(), Denied> {
    if op.writes() && scope.event == HookEvent::HealthCheck {
        return Err(Denied::HealthCheckWrite);
    }
    let (job, ip) = (scope.job, scope.ip);
    let own_vars = namespace == format!("vars/job/{job}");
    let own_secrets = namespace == format!("secrets/job/{job}");
    let upstream = |prefix: &str| scope.upstream.iter().any(|u| namespace == format!("{prefix}/{u}"));
    let ok = match op {
        KvOp::Get => {
            matches!(namespace, "maand/bucket" | "vars/bucket" | "maand/worker")
                || namespace == format!("maand/worker/{ip}")
                || namespace == format!("maand/worker/{ip}/tags")
                || namespace == format!("maand/job/{job}")
                || namespace == format!("vars/bucket/job/{job}")
                || own_vars
                || own_secrets
                || namespace == format!("maand/job/{job}/worker/{ip}")
                || upstream("maand/job")
                || upstream("vars/job")
                || upstream("secrets/job")
        }
        KvOp::ListKeys => own_vars || own_secrets || upstream("vars/job") || upstream("secrets/job"),
        KvOp::Put | KvOp::Delete => {
            own_vars
                || (namespace == format!("maand/job/{job}")
                    && key == "rollout_order"
                    && matches!(scope.event, HookEvent::PreDeploy | HookEvent::Cli))
        }
        KvOp::PutSecret | KvOp::DeleteSecret => own_secrets,
    };
    if ok { Ok(()) } else { Err(Denied::Namespace) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use HookEvent::*;
    use KvOp::*;

    fn scope(event: HookEvent) -> HookScope<'static> {
        static UP: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
        HookScope { job: "api", ip: "10.0.0.1", event, upstream: UP.get_or_init(|| vec!["database".to_string()]) }
    }

    #[test]
    fn read_matrix() {
        let s = scope(Cli);
        for ns in [
            "maand/bucket",
            "vars/bucket",
            "maand/worker",
            "maand/worker/10.0.0.1",
            "maand/worker/10.0.0.1/tags",
            "maand/job/api",
            "vars/bucket/job/api",
            "vars/job/api",
            "secrets/job/api",
            "maand/job/api/worker/10.0.0.1",
            "maand/job/database",
            "vars/job/database",
            "secrets/job/database",
        ] {
            assert_eq!(check(&s, Get, ns, "k"), Ok(()), "{ns}");
        }
        for ns in [
            "maand/worker/10.0.0.2",
            "maand/job/web",
            "vars/job/web",
            "secrets/job/web",
            "maand/job/api/worker/10.0.0.2",
            "vars/bucket/job/database",
            "maand/job/database/worker/10.0.0.1",
            "",
            "vars/job/api/../web",
        ] {
            assert_eq!(check(&s, Get, ns, "k"), Err(Denied::Namespace), "{ns}");
        }
    }

    #[test]
    fn write_matrix_per_event() {
        for ev in [PostBuild, PreDeploy, PostDeploy, JobControl, Cli, AfterAllocationStarted, AfterAllocationStopped] {
            let s = scope(ev);
            assert_eq!(check(&s, Put, "vars/job/api", "k"), Ok(()), "{ev:?}");
            assert_eq!(check(&s, Delete, "vars/job/api", "k"), Ok(()));
            assert_eq!(check(&s, PutSecret, "secrets/job/api", "k"), Ok(()));
            assert_eq!(check(&s, DeleteSecret, "secrets/job/api", "k"), Ok(()));
            assert_eq!(
                check(&s, Put, "secrets/job/api", "k"),
                Err(Denied::Namespace),
                "secrets only through /kv/secret"
            );
            assert_eq!(check(&s, PutSecret, "vars/job/api", "k"), Err(Denied::Namespace));
            assert_eq!(check(&s, Put, "vars/job/database", "k"), Err(Denied::Namespace), "upstream is read-only");
            assert_eq!(check(&s, Put, "vars/bucket", "k"), Err(Denied::Namespace));
            assert_eq!(check(&s, Put, "maand/job/api", "version"), Err(Denied::Namespace));
            let rollout = check(&s, Put, "maand/job/api", "rollout_order");
            assert_eq!(rollout.is_ok(), matches!(ev, PreDeploy | Cli), "{ev:?}");
        }
        let h = scope(HealthCheck);
        for op in [Put, Delete, PutSecret, DeleteSecret] {
            assert_eq!(check(&h, op, "vars/job/api", "k"), Err(Denied::HealthCheckWrite));
        }
        assert_eq!(check(&h, Get, "vars/job/api", "k"), Ok(()));
        assert_eq!(Denied::HealthCheckWrite.message(), "KV writes are not allowed during health_check");
        assert_eq!(Denied::Namespace.message(), "Invalid or unauthorized namespace");
    }
}
