//! Template functions beyond Go's built-ins.

use super::with_data;
use crate::kv::access::{self, HookScope, KvOp};
use crate::workspace::manifest::HookEvent;
use gtmpl::{Func, FuncError, Value};

/// Every function, by name.
pub(super) const ALL: &[(&str, Func)] = &[
    ("get", get),
    ("getOptional", get_optional),
    ("getSecret", get_secret),
    ("keys", keys),
    ("split", split),
    ("trim", trim),
    ("join", join),
    ("upper", upper),
    ("lower", lower),
    ("add", add),
    ("sub", sub),
    ("mul", mul),
    ("div", div),
    ("min", min),
    ("max", max),
    ("int", int),
    // Prometheus server jobs (docs/prometheus.md): the text is computed by
    // `crate::prometheus`; these only hand it to the engine.
    ("scrapeConfigs", scrape_configs),
    ("ruleFiles", rule_files),
];

/// The functions of a `_prometheus/scrape.yaml.tpl`, rendered at build
/// (the original's smaller set: no `getOptional`, no `scrapeConfigs`).
pub(super) const SCRAPE_TEMPLATE: &[(&str, Func)] = &[
    ("get", get),
    ("getSecret", get_secret),
    ("keys", keys),
    ("split", split),
    ("join", join),
    ("upper", upper),
    ("lower", lower),
    ("add", add),
    ("sub", sub),
    ("mul", mul),
    ("div", div),
    ("int", int),
];

fn generic(msg: impl Into<String>) -> FuncError {
    FuncError::Generic(msg.into())
}

fn string(v: &Value) -> Result<String, FuncError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(generic(format!("expected a string, got {other}"))),
    }
}

fn integer(v: &Value) -> Result<i64, FuncError> {
    match v {
        Value::Number(n) => {
            n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)).ok_or_else(|| generic(format!("{n} is not an integer")))
        }
        Value::String(s) => s.trim().parse().map_err(|_| generic(format!("{s:?} is not an integer"))),
        Value::Bool(b) => Ok(*b as i64),
        other => Err(generic(format!("{other} is not an integer"))),
    }
}

fn args2(name: &str, a: &[Value]) -> Result<(String, String), FuncError> {
    if a.len() != 2 {
        return Err(FuncError::ExactlyXArgs(name.into(), 2));
    }
    Ok((string(&a[0])?, string(&a[1])?))
}

/// Look up a key under the hook read rules; `Ok(None)` when missing.
fn lookup(ns: &str, key: &str) -> Result<Option<String>, FuncError> {
    with_data(|d| {
        let scope = HookScope { job: &d.job, ip: &d.ip, event: HookEvent::PreDeploy, upstream: &d.upstream };
        let fail = |why: &str| {
            d.failure.borrow_mut().get_or_insert((ns.to_string(), key.to_string(), why.to_string()));
            generic(format!("{ns} {key}: {why}"))
        };
        if access::check(&scope, KvOp::Get, ns, key).is_err() {
            return Err(fail("namespace not readable by this job"));
        }
        match d.state.kv.get(ns, key) {
            None => Ok(None),
            Some(v) => d.kv_key.open(ns, key, v).map(Some).map_err(|_| fail("cannot decrypt")),
        }
    })
    .unwrap_or_else(|| Err(generic("template functions used outside a render")))
}

fn missing(ns: &str, key: &str) -> FuncError {
    with_data(|d| {
        d.failure.borrow_mut().get_or_insert((ns.to_string(), key.to_string(), "key not found".into()));
    });
    generic(format!("{ns} {key}: key not found"))
}

fn get(a: &[Value]) -> Result<Value, FuncError> {
    let (ns, key) = args2("get", a)?;
    lookup(&ns, &key)?.map(Value::String).ok_or_else(|| missing(&ns, &key))
}

fn get_optional(a: &[Value]) -> Result<Value, FuncError> {
    let (ns, key) = args2("getOptional", a)?;
    Ok(Value::String(lookup(&ns, &key)?.unwrap_or_default()))
}

fn get_secret(a: &[Value]) -> Result<Value, FuncError> {
    if a.len() != 1 {
        return Err(FuncError::ExactlyXArgs("getSecret".into(), 1));
    }
    let key = string(&a[0])?;
    let ns = with_data(|d| format!("secrets/job/{}", d.job)).unwrap_or_default();
    lookup(&ns, &key)?.map(Value::String).ok_or_else(|| missing(&ns, &key))
}

fn keys(a: &[Value]) -> Result<Value, FuncError> {
    if a.len() != 1 {
        return Err(FuncError::ExactlyXArgs("keys".into(), 1));
    }
    let ns = string(&a[0])?;
    lookup(&ns, "")?;
    let list = with_data(|d| d.state.kv.live_keys(&ns).map(|k| Value::String(k.to_string())).collect::<Vec<_>>())
        .unwrap_or_default();
    Ok(Value::Array(list))
}

fn split(a: &[Value]) -> Result<Value, FuncError> {
    let (s, sep) = args2("split", a)?;
    Ok(Value::Array(s.split(sep.as_str()).map(|p| Value::String(p.to_string())).collect()))
}

fn trim(a: &[Value]) -> Result<Value, FuncError> {
    let s = string(a.first().ok_or_else(|| FuncError::ExactlyXArgs("trim".into(), 1))?)?;
    Ok(Value::String(s.trim().to_string()))
}

fn join(a: &[Value]) -> Result<Value, FuncError> {
    if a.len() != 2 {
        return Err(FuncError::ExactlyXArgs("join".into(), 2));
    }
    let sep = string(&a[1])?;
    match &a[0] {
        Value::Array(items) => Ok(Value::String(items.iter().map(string).collect::<Result<Vec<_>, _>>()?.join(&sep))),
        other => Ok(Value::String(string(other)?)),
    }
}

fn upper(a: &[Value]) -> Result<Value, FuncError> {
    Ok(Value::String(string(a.first().ok_or_else(|| FuncError::ExactlyXArgs("upper".into(), 1))?)?.to_uppercase()))
}

fn lower(a: &[Value]) -> Result<Value, FuncError> {
    Ok(Value::String(string(a.first().ok_or_else(|| FuncError::ExactlyXArgs("lower".into(), 1))?)?.to_lowercase()))
}

fn two(name: &str, a: &[Value]) -> Result<(i64, i64), FuncError> {
    if a.len() != 2 {
        return Err(FuncError::ExactlyXArgs(name.into(), 2));
    }
    Ok((integer(&a[0])?, integer(&a[1])?))
}

fn add(a: &[Value]) -> Result<Value, FuncError> {
    let (x, y) = two("add", a)?;
    Ok(Value::from(x.checked_add(y).ok_or_else(|| generic("add overflows"))?))
}
fn sub(a: &[Value]) -> Result<Value, FuncError> {
    let (x, y) = two("sub", a)?;
    Ok(Value::from(x.checked_sub(y).ok_or_else(|| generic("sub overflows"))?))
}
fn mul(a: &[Value]) -> Result<Value, FuncError> {
    let (x, y) = two("mul", a)?;
    Ok(Value::from(x.checked_mul(y).ok_or_else(|| generic("mul overflows"))?))
}
fn div(a: &[Value]) -> Result<Value, FuncError> {
    let (x, y) = two("div", a)?;
    if y == 0 {
        return Err(generic("division by zero"));
    }
    Ok(Value::from(x / y))
}
fn min(a: &[Value]) -> Result<Value, FuncError> {
    let (x, y) = two("min", a)?;
    Ok(Value::from(x.min(y)))
}
fn max(a: &[Value]) -> Result<Value, FuncError> {
    let (x, y) = two("max", a)?;
    Ok(Value::from(x.max(y)))
}
fn int(a: &[Value]) -> Result<Value, FuncError> {
    Ok(Value::from(integer(a.first().ok_or_else(|| FuncError::ExactlyXArgs("int".into(), 1))?)?))
}

fn scrape_configs(a: &[Value]) -> Result<Value, FuncError> {
    if !a.is_empty() {
        return Err(FuncError::ExactlyXArgs("scrapeConfigs".into(), 0));
    }
    with_data(|d| crate::prometheus::scrape_configs_text(&d.state))
        .unwrap_or_else(|| Err(crate::error::Error::op("template functions used outside a render")))
        .map(Value::String)
        .map_err(|e| generic(e.message()))
}

fn rule_files(a: &[Value]) -> Result<Value, FuncError> {
    if !a.is_empty() {
        return Err(FuncError::ExactlyXArgs("ruleFiles".into(), 0));
    }
    with_data(|d| crate::prometheus::rule_files_text(&d.state))
        .map(Value::String)
        .ok_or_else(|| generic("template functions used outside a render"))
}
