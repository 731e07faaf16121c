//! maand's template functions, with the original's semantics (its FuncMap
//! in `deploy/templates.go`): the Go signatures decide which arguments are
//! accepted (`add` takes two `int`s, so `add "1" 2` fails as in Go),
//! integer arithmetic wraps like Go's `int`, `split`/`trim`/`upper`/`lower`
//! are Go's `strings` functions. Differences from the original, on purpose:
//! `keys` lists in sorted order (the original's order was random), and a
//! division by zero is an error where the original panicked (which Go's
//! template engine also turns into an error).

use super::KvView;
use super::gofmt;
use crate::kv::access::{self, HookScope, KvOp};
use crate::workspace::manifest::HookEvent;
use gotmpl::Value;

/// Every maand function, by template name.
pub(super) const MAAND_FUNCS: &[&str] = &[
    "get",
    "getOptional",
    "getSecret",
    "keys",
    "split",
    "trim",
    "join",
    "upper",
    "lower",
    "add",
    "sub",
    "mul",
    "div",
    "min",
    "max",
    "int",
    "scrapeConfigs",
    "ruleFiles",
];

/// The functions of a `_prometheus/scrape.yaml.tpl`, rendered at build (the
/// original's smaller set: no `getOptional`, `trim`, `min`, `max`, nor the
/// server job's `scrapeConfigs`/`ruleFiles`).
pub(super) const SCRAPE_TEMPLATE_FUNCS: &[&str] =
    &["get", "getSecret", "keys", "split", "join", "upper", "lower", "add", "sub", "mul", "div", "int"];

/// A function: the KV view of the render, the arguments.
pub(super) type Call = fn(&KvView, &[Value]) -> Result<Value, CallError>;

/// Why a call failed.
#[derive(Debug)]
pub(super) struct CallError {
    pub message: String,
    /// `(namespace, key)` when a KV read failed.
    pub kv: Option<(String, String)>,
}

fn err(message: impl Into<String>) -> CallError {
    CallError { message: message.into(), kv: None }
}

/// Go built-ins maand implements itself, where gotmpl's differ from Go:
/// the comparisons (Go refuses to compare an int with a float) and the
/// printing functions (Go's `fmt`, see `gofmt`).
pub(super) const GO_BUILTINS: &[&str] = &["eq", "ne", "lt", "le", "gt", "ge", "printf", "print", "println"];

/// Internal functions of the instrumented trees (names no template can write).
pub(super) const PRINT: &str = "\0print";
/// Evaluates to nil (the data of `{{template "x"}}`).
pub(super) const NIL: &str = "\0nil";
/// Field access `.A.B` on its first argument (Go's rules under
/// `missingkey=error`: a missing key and a field of nil data are errors).
pub(super) const FIELD: &str = "\0field";
/// Fails with its argument (assignment to an undeclared variable).
pub(super) const UNDEFINED: &str = "\0undefined";

/// The implementation of `name`: maand's functions, the Go built-ins above
/// and the internal ones.
pub(super) fn lookup(name: &str) -> Option<Call> {
    Some(match name {
        "eq" => |_, a| eq(a).map(Value::Bool),
        "ne" => |_, a| {
            arity("ne", a, 2)?;
            eq(a).map(|b| Value::Bool(!b))
        },
        "lt" => |_, a| two("lt", a).and_then(|(x, y)| lt(x, y)).map(Value::Bool),
        "le" => |_, a| two("le", a).and_then(|(x, y)| le(x, y)).map(Value::Bool),
        "gt" => |_, a| two("gt", a).and_then(|(x, y)| le(x, y)).map(|b| Value::Bool(!b)),
        "ge" => |_, a| two("ge", a).and_then(|(x, y)| lt(x, y)).map(|b| Value::Bool(!b)),
        "printf" => printf,
        "print" => |_, a| Ok(Value::String(gofmt::sprint(a).into())),
        "println" => |_, a| Ok(Value::String(gofmt::sprintln(a).into())),
        PRINT => |_, a| Ok(Value::String(a.last().map(gofmt::print_action_value).unwrap_or_default().into())),
        NIL => |_, _| Ok(Value::Nil),
        FIELD => field,
        UNDEFINED => |_, a| Err(err(a.first().map(|v| v.to_string()).unwrap_or_default())),
        "get" => get,
        "getOptional" => get_optional,
        "getSecret" => get_secret,
        "keys" => keys,
        "split" => split,
        "trim" => trim,
        "join" => join,
        "upper" => upper,
        "lower" => lower,
        "add" => |_, a| ints("add", a).map(|(x, y)| Value::Int(x.wrapping_add(y))),
        "sub" => |_, a| ints("sub", a).map(|(x, y)| Value::Int(x.wrapping_sub(y))),
        "mul" => |_, a| ints("mul", a).map(|(x, y)| Value::Int(x.wrapping_mul(y))),
        "div" => div,
        "min" => |_, a| ints("min", a).map(|(x, y)| Value::Int(x.min(y))),
        "max" => |_, a| ints("max", a).map(|(x, y)| Value::Int(x.max(y))),
        "int" => int,
        // Prometheus server jobs (docs/prometheus.md): the text is computed by
        // `crate::prometheus`; these only hand it to the engine.
        "scrapeConfigs" => |v, a| {
            arity("scrapeConfigs", a, 0)?;
            crate::prometheus::scrape_configs_text(&v.state)
                .map(|t| Value::String(t.into()))
                .map_err(|e| err(e.message()))
        },
        "ruleFiles" => |v, a| {
            arity("ruleFiles", a, 0)?;
            Ok(Value::String(crate::prometheus::rule_files_text(&v.state).into()))
        },
        _ => return None,
    })
}

/// Whether `name` takes `int` parameters (Go passes integral literals such
/// as `1.0` to those as integers).
pub(super) fn takes_integers(name: &str) -> bool {
    matches!(name, "add" | "sub" | "mul" | "div" | "min" | "max")
}

fn field(_: &KvView, args: &[Value]) -> Result<Value, CallError> {
    let Some((mut v, names)) = args.split_first().map(|(v, n)| (v.clone(), n)) else {
        return Err(err("field: no receiver"));
    };
    for name in names {
        let name = name.to_string();
        v = match &v {
            Value::Map(m) => match m.get(name.as_str()) {
                Some(x) => x.clone(),
                None => return Err(err(format!("map has no entry for key {name:?}"))),
            },
            Value::Nil => return Err(err(format!("nil data; no entry for key {name:?}"))),
            other => return Err(err(format!("can't evaluate field {name} in type {}", go_type(other)))),
        };
    }
    Ok(v)
}

fn printf(_: &KvView, args: &[Value]) -> Result<Value, CallError> {
    let Some(format) = args.first() else {
        return Err(err("wrong number of args for printf: want at least 1 got 0"));
    };
    Ok(Value::String(gofmt::sprintf(string(format)?, &args[1..]).into()))
}

/// Go's comparison kinds (`basicKind`); `Other` for lists, maps, nil.
#[derive(PartialEq, Eq, Clone, Copy)]
enum Kind {
    Bool,
    Int,
    Uint,
    Float,
    Str,
    Other,
}

fn kind(v: &Value) -> Kind {
    match v {
        Value::Bool(_) => Kind::Bool,
        Value::Int(_) => Kind::Int,
        Value::Uint(_) => Kind::Uint,
        Value::Float(_) => Kind::Float,
        Value::String(_) => Kind::Str,
        _ => Kind::Other,
    }
}

const BAD_TYPE: &str = "invalid type for comparison";
const INCOMPATIBLE: &str = "incompatible types for comparison";

fn two<'a>(name: &str, a: &'a [Value]) -> Result<(&'a Value, &'a Value), CallError> {
    arity(name, a, 2)?;
    Ok((&a[0], &a[1]))
}

/// Go's `eq arg1 arg2...`: true when arg1 equals any of the others.
fn eq(args: &[Value]) -> Result<bool, CallError> {
    let Some((a, rest)) = args.split_first() else {
        return Err(err("wrong number of args for eq: want at least 1 got 0"));
    };
    if rest.is_empty() {
        return Err(err("missing argument for comparison"));
    }
    let ka = kind(a);
    for b in rest {
        let kb = kind(b);
        let truth = if ka != kb {
            match (a, b) {
                (Value::Int(x), Value::Uint(y)) | (Value::Uint(y), Value::Int(x)) => {
                    u64::try_from(*x).is_ok_and(|x| x == *y)
                }
                (Value::Nil, _) | (_, Value::Nil) => false,
                _ => return Err(err(INCOMPATIBLE)),
            }
        } else {
            match (a, b) {
                (Value::Bool(x), Value::Bool(y)) => x == y,
                (Value::Int(x), Value::Int(y)) => x == y,
                (Value::Uint(x), Value::Uint(y)) => x == y,
                (Value::Float(x), Value::Float(y)) => x == y,
                (Value::String(x), Value::String(y)) => x == y,
                (Value::Nil, Value::Nil) => true,
                (Value::Nil, _) | (_, Value::Nil) => false,
                (x, y) if std::mem::discriminant(x) != std::mem::discriminant(y) => {
                    return Err(err(format!("non-comparable types {x}: {}, {}: {y}", go_type(x), go_type(y))));
                }
                (_, y) => return Err(err(format!("non-comparable type {y}: {}", go_type(y)))),
            }
        };
        if truth {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Go's `lt`.
fn lt(a: &Value, b: &Value) -> Result<bool, CallError> {
    let (ka, kb) = (kind(a), kind(b));
    if ka == Kind::Other || kb == Kind::Other {
        return Err(err(BAD_TYPE));
    }
    Ok(match (a, b) {
        (Value::Int(x), Value::Uint(y)) => *x < 0 || (*x as u64) < *y,
        (Value::Uint(x), Value::Int(y)) => *y >= 0 && *x < *y as u64,
        _ if ka != kb => return Err(err(INCOMPATIBLE)),
        (Value::Bool(_), _) => return Err(err(BAD_TYPE)),
        (Value::Int(x), Value::Int(y)) => x < y,
        (Value::Uint(x), Value::Uint(y)) => x < y,
        (Value::Float(x), Value::Float(y)) => x < y,
        (Value::String(x), Value::String(y)) => x < y,
        _ => return Err(err(BAD_TYPE)),
    })
}

/// Go's `le`: `lt`, then `eq`.
fn le(a: &Value, b: &Value) -> Result<bool, CallError> {
    if lt(a, b)? {
        return Ok(true);
    }
    eq(&[a.clone(), b.clone()])
}

/// Go's name of a value's type, for messages.
fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Nil => "nil",
        Value::Bool(_) => "bool",
        Value::Int(_) => "int",
        Value::Uint(_) => "uint",
        Value::Float(_) => "float64",
        Value::String(_) => "string",
        Value::List(_) => "[]string",
        Value::Map(_) => "map[string]interface {}",
        Value::Function(_) => "func",
    }
}

fn arity(name: &str, args: &[Value], want: usize) -> Result<(), CallError> {
    if args.len() != want {
        return Err(err(format!("wrong number of args for {name}: want {want} got {}", args.len())));
    }
    Ok(())
}

fn string(v: &Value) -> Result<&str, CallError> {
    match v {
        Value::String(s) => Ok(s),
        other => Err(err(format!("wrong type for value; expected string; got {}", go_type(other)))),
    }
}

fn strings<'a, const N: usize>(name: &str, args: &'a [Value]) -> Result<[&'a str; N], CallError> {
    arity(name, args, N)?;
    let mut out = [""; N];
    for (o, a) in out.iter_mut().zip(args) {
        *o = string(a)?;
    }
    Ok(out)
}

fn ints(name: &str, args: &[Value]) -> Result<(i64, i64), CallError> {
    arity(name, args, 2)?;
    let int = |v: &Value| match v {
        Value::Int(i) => Ok(*i),
        other => Err(err(format!("wrong type for value; expected int; got {}", go_type(other)))),
    };
    Ok((int(&args[0])?, int(&args[1])?))
}

/// A KV value under the hook read rules; `Ok(None)` when missing.
fn read(view: &KvView, ns: &str, key: &str) -> Result<Option<String>, CallError> {
    let fail = |why: &str| CallError { message: why.to_string(), kv: Some((ns.to_string(), key.to_string())) };
    readable(view, ns).map_err(|_| fail("namespace not readable by this job"))?;
    match view.state.kv.get(ns, key) {
        None => Ok(None),
        Some(v) => {
            if v.is_sealed() {
                view.mark_sealed_read();
            }
            view.kv_key.open(ns, key, &v).map(Some).map_err(|_| fail("cannot decrypt"))
        }
    }
}

fn readable(view: &KvView, ns: &str) -> Result<(), CallError> {
    let scope = HookScope { job: &view.job, ip: &view.ip, event: HookEvent::PreDeploy, upstream: &view.upstream };
    access::check(&scope, KvOp::Get, ns, "")
        .map_err(|_| err(format!("namespace {ns:?} is not readable by job {}", view.job)))
}

fn missing(ns: &str, key: &str) -> CallError {
    CallError { message: "key not found".into(), kv: Some((ns.to_string(), key.to_string())) }
}

fn get(view: &KvView, args: &[Value]) -> Result<Value, CallError> {
    let [ns, key] = strings("get", args)?;
    read(view, ns, key)?.map(|v| Value::String(v.into())).ok_or_else(|| missing(ns, key))
}

fn get_optional(view: &KvView, args: &[Value]) -> Result<Value, CallError> {
    let [ns, key] = strings("getOptional", args)?;
    Ok(Value::String(read(view, ns, key)?.unwrap_or_default().into()))
}

fn get_secret(view: &KvView, args: &[Value]) -> Result<Value, CallError> {
    let [key] = strings("getSecret", args)?;
    let ns = format!("secrets/job/{}", view.job);
    read(view, &ns, key)?.map(|v| Value::String(v.into())).ok_or_else(|| missing(&ns, key))
}

fn keys(view: &KvView, args: &[Value]) -> Result<Value, CallError> {
    let [ns] = strings("keys", args)?;
    readable(view, ns)?;
    Ok(Value::List(view.state.kv.live_keys(ns).map(|k| Value::String(k.into())).collect()))
}

fn list(items: impl Iterator<Item = String>) -> Value {
    Value::List(items.map(|s| Value::String(s.into())).collect())
}

/// Go's `strings.Split`: an empty separator splits after each character.
fn split(_: &KvView, args: &[Value]) -> Result<Value, CallError> {
    let [s, sep] = strings("split", args)?;
    Ok(if sep.is_empty() { list(s.chars().map(String::from)) } else { list(s.split(sep).map(String::from)) })
}

/// Go's `strings.TrimSpace` (Unicode white space, as Rust's `trim`).
fn trim(_: &KvView, args: &[Value]) -> Result<Value, CallError> {
    let [s] = strings("trim", args)?;
    Ok(Value::String(s.trim().into()))
}

/// Go's `strings.Join`: the list must hold strings.
fn join(_: &KvView, args: &[Value]) -> Result<Value, CallError> {
    arity("join", args, 2)?;
    let sep = string(&args[1])?;
    let Value::List(items) = &args[0] else {
        return Err(err(format!("wrong type for value; expected []string; got {}", go_type(&args[0]))));
    };
    let parts = items.iter().map(string).collect::<Result<Vec<_>, _>>()?;
    Ok(Value::String(parts.join(sep).into()))
}

/// Go's `unicode.ToUpper`: the simple (one character) case mapping.
fn upper_char(c: char) -> char {
    let u = c as u32;
    // Greek with ypogegrammeni: full mapping is two characters, the simple
    // one is the titlecase letter.
    let simple = match u {
        0x1F80..=0x1F87 | 0x1F90..=0x1F97 | 0x1FA0..=0x1FA7 => Some(u + 8),
        0x1FB3 => Some(0x1FBC),
        0x1FC3 => Some(0x1FCC),
        0x1FF3 => Some(0x1FFC),
        _ => None,
    };
    if let Some(s) = simple.and_then(char::from_u32) {
        return s;
    }
    let mut it = c.to_uppercase();
    match (it.next(), it.next()) {
        (Some(one), None) => one,
        _ => c,
    }
}

/// Go's `unicode.ToLower`: the simple case mapping (no final sigma).
fn lower_char(c: char) -> char {
    if c == '\u{130}' {
        return 'i';
    }
    let mut it = c.to_lowercase();
    match (it.next(), it.next()) {
        (Some(one), None) => one,
        _ => c,
    }
}

fn upper(_: &KvView, args: &[Value]) -> Result<Value, CallError> {
    let [s] = strings("upper", args)?;
    Ok(Value::String(s.chars().map(upper_char).collect::<String>().into()))
}

fn lower(_: &KvView, args: &[Value]) -> Result<Value, CallError> {
    let [s] = strings("lower", args)?;
    Ok(Value::String(s.chars().map(lower_char).collect::<String>().into()))
}

/// Integer division truncating toward zero; `MIN / -1` is `MIN`, as in Go.
fn div(_: &KvView, args: &[Value]) -> Result<Value, CallError> {
    let (x, y) = ints("div", args)?;
    if y == 0 {
        return Err(err("integer divide by zero"));
    }
    Ok(Value::Int(x.wrapping_div(y)))
}

/// An integer as it is, or a string parsed like Go's `strconv.Atoi` after
/// trimming white space.
fn int(_: &KvView, args: &[Value]) -> Result<Value, CallError> {
    arity("int", args, 1)?;
    match &args[0] {
        Value::Int(i) => Ok(Value::Int(*i)),
        Value::String(s) => {
            let t = s.trim();
            t.parse::<i64>().map(Value::Int).map_err(|e| {
                let why = match e.kind() {
                    std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => "value out of range",
                    _ => "invalid syntax",
                };
                err(format!("strconv.Atoi: parsing {t:?}: {why}"))
            })
        }
        _ => Err(err("int: expected string or integer")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_case_mapping_is_per_character_and_simple() {
        let up = |s: &str| s.chars().map(upper_char).collect::<String>();
        let low = |s: &str| s.chars().map(lower_char).collect::<String>();
        assert_eq!(up("straße ǆ ᾀ ﬀ"), "STRAßE Ǆ ᾈ ﬀ");
        assert_eq!(low("İSTANBUL ΣΑΣ Ǆ"), "istanbul σασ ǆ");
    }
}
