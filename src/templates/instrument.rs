//! From source to an executable [`gotmpl::Template`] that knows where it is.
//!
//! gotmpl's AST carries a line for every node, but its executor reports
//! none, and Go checks at parse time what gotmpl leaves to execution (an
//! undefined function). So after parsing, maand:
//!
//! - rejects what Go's parser rejects and gotmpl lets through: an
//!   identifier naming no function (`function "x" not defined`), a variable
//!   used before it is declared, `{{break}}`/`{{continue}}` outside a
//!   `range`, and unbalanced `if`/`range`/`with`/`define`/`else`/`end`;
//! - renames each call of a maand function at line L to a per-call-site
//!   alias (the executor resolves functions by name); the alias runs the
//!   function and, when it fails, records which function failed at which line;
//! - passes integral float literals given to the integer functions as
//!   integers, as Go's parser does for `int` parameters (`add 1.0 2` is 3);
//! - runs Go's own rules where gotmpl's built-ins differ (the comparisons,
//!   `printf`/`print`/`println`, and printing an action's value through Go's
//!   `fmt`), gives `{{template "x"}}` nil data as Go does, and makes an
//!   assignment to an undeclared variable fail when it runs;
//! - puts a silent marker before every action, `if`, `range`, `with` and
//!   `template` node, recording the node's line and source text, so any other
//!   execution error (a missing field, an out-of-range `index`) names the
//!   line and the action it came from.
//!
//! The trees are then executed through a one-line entry template
//! `{{template "template" .}}` (the original names its templates
//! "template"), with `missingkey=error`: the original's dot is a struct, on
//! which an unknown field is an error.

use super::Scope;
use super::funcs::{self, Call, GO_BUILTINS, MAAND_FUNCS, PRINT};
use gotmpl::parse::{CommandNode, Expr, ListNode, Node, Number, Parser, PipeNode, Pos, SmolStr};
use gotmpl::{MissingKey, TemplateError, Value, ValueFunc};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// Go's built-in functions (text/template `builtins()`).
const BUILTINS: &[&str] = &[
    "and", "call", "html", "index", "slice", "js", "len", "not", "or", "print", "printf", "println", "urlquery", "eq",
    "ge", "gt", "le", "lt", "ne",
];

/// The name the original gives its templates (`template.New("template")`).
const NAME: &str = "template";

/// The marker function; no template identifier can contain a NUL.
const MARK: &str = "\0mark";

/// Where execution is: the nodes markers point at.
pub(super) struct Site {
    pub line: usize,
    /// The action's source text, shortened.
    pub text: String,
}

type Compiled = (gotmpl::Template, Vec<Site>);

/// Parse `src`, check and instrument its trees, and bind the functions to
/// `scope`. Errors are `(line, reason)`.
pub(super) fn compile(src: &str, scope: &Arc<Scope>) -> Result<Compiled, (usize, String)> {
    let scanned = check_actions(src);
    // Go reports the first error in the text: gotmpl's or the scan's.
    let first = |e: TemplateError| {
        let (line, col, why) = parse_error(e);
        match &scanned {
            Some((off, l, w)) if (*l, col_of(src, *off)) <= (line, col) => (*l, w.clone()),
            _ => (line, why),
        }
    };
    let parsed = gotmpl::Template::new(NAME).parse(src).map_err(first)?;
    let (main, _) = Parser::with_name(Some(NAME), src, "{{", "}}").and_then(|p| p.parse()).map_err(first)?;
    let mut trees: BTreeMap<String, ListNode> = BTreeMap::new();
    for name in parsed.templates() {
        if let Some(t) = parsed.lookup(name) {
            trees.insert(name.to_string(), t.clone());
        }
    }
    // The body runs as "template" (a `{{define "template"}}` replaces an
    // empty body, as in Go).
    trees.entry(NAME.to_string()).or_insert(main);

    let mut rw = Rewriter::new(src, &scope.view);
    rw.errors.extend(scanned);
    for tree in trees.values_mut() {
        rw.vars = Vars::root();
        rw.list(tree);
    }
    // Go's parser stops at the first error in the text.
    if let Some((_, line, why)) = rw.errors.into_iter().min_by_key(|e| e.0) {
        return Err((line, why));
    }

    let mut fm: BTreeMap<String, ValueFunc> = BTreeMap::new();
    let s = scope.clone();
    fm.insert(
        MARK.to_string(),
        Arc::new(move |args: &[Value]| {
            if let Some(Value::Int(i)) = args.first() {
                s.site.store(usize::try_from(*i).unwrap_or(0), Ordering::SeqCst);
            }
            Ok(Value::String("".into()))
        }),
    );
    if let Some(f) = funcs::lookup(PRINT) {
        fm.insert(PRINT.to_string(), bind(scope.clone(), PRINT, 0, f));
    }
    for (alias, (name, line)) in &rw.aliases {
        if let Some(f) = funcs::lookup(name) {
            fm.insert(alias.clone(), bind(scope.clone(), name, *line, f));
        }
    }
    let mut t = gotmpl::Template::new("")
        .missing_key(MissingKey::Error)
        .funcs(fm)
        .parse(&format!("{{{{template {NAME:?} .}}}}"))
        .map_err(|e| (1, e.to_string()))?;
    for (name, tree) in trees {
        t = t.add_parse_tree(&name, tree);
    }
    Ok((t, rw.sites))
}

/// The function behind an alias, recording its failures in `scope`.
fn bind(scope: Arc<Scope>, name: &'static str, line: usize, f: Call) -> ValueFunc {
    Arc::new(move |args: &[Value]| {
        f(&scope.view, args).map_err(|e| {
            let message = e.message.clone();
            // Internal functions are no function of the template's.
            let func = (!name.starts_with('\0')).then(|| name.to_string());
            scope.fail(super::Failure { line, func, kv: e.kv, message: e.message });
            TemplateError::Exec(format!("error calling {name}: {message}"))
        })
    })
}

/// (line, column, reason) of a gotmpl parse error.
fn parse_error(e: TemplateError) -> (usize, usize, String) {
    match e {
        TemplateError::Parse { line, col, message, .. } | TemplateError::Lex { line, col, message, .. } => {
            (line.max(1), col, message)
        }
        other => (1, 0, other.to_string()),
    }
}

/// 1-based column of byte `off`.
fn col_of(src: &str, off: usize) -> usize {
    let Some(head) = src.get(..off.min(src.len())) else { return 0 };
    let start = head.rfind('\n').map_or(0, |i| i + 1);
    head[start..].chars().count() + 1
}

/// Variables in scope: as Go's parser sees them (a variable declared in a
/// control's body stays visible in its `else`) and as its executor does.
#[derive(Default)]
struct Vars {
    parse: Vec<String>,
    exec: Vec<String>,
}

impl Vars {
    /// A template's variables when it starts: `$`.
    fn root() -> Vars {
        Vars { parse: vec!["$".into()], exec: vec!["$".into()] }
    }
}

struct Rewriter<'a> {
    src: &'a str,
    /// The view whose allowed functions the template may call.
    view: &'a super::KvView,
    sites: Vec<Site>,
    /// alias → (function, line).
    aliases: BTreeMap<String, (&'static str, usize)>,
    vars: Vars,
    /// Errors as (byte offset, line, reason).
    errors: Vec<Located>,
}

fn pipe_of(pos: Pos, func: &str, args: Vec<Expr>) -> PipeNode {
    let mut all = vec![Expr::Identifier(pos, func.into())];
    all.extend(args);
    PipeNode { pos, decl: Vec::new(), commands: vec![CommandNode { pos, args: all }], is_assign: false }
}

impl<'a> Rewriter<'a> {
    fn new(src: &'a str, view: &'a super::KvView) -> Self {
        Rewriter { src, view, sites: Vec::new(), aliases: BTreeMap::new(), vars: Vars::default(), errors: Vec::new() }
    }

    fn error(&mut self, pos: Pos, why: String) {
        self.errors.push((pos.offset, pos.line, why));
    }

    fn list(&mut self, list: &mut ListNode) {
        let nodes = std::mem::take(&mut list.nodes);
        let mut out = Vec::with_capacity(nodes.len() * 2);
        for mut node in nodes {
            let pos = match &mut node {
                Node::Action(a) => {
                    if a.pipe.is_assign
                        && let Some(v) = a.pipe.decl.iter().find(|v| !self.vars.exec.iter().any(|d| d == v.as_str()))
                    {
                        // Go fails when the assignment runs.
                        let why = Expr::String(a.pos, format!("undefined variable: {v}").into());
                        a.pipe = pipe_of(a.pos, funcs::UNDEFINED, vec![why]);
                    }
                    self.pipe(&mut a.pipe);
                    if a.pipe.decl.is_empty() {
                        a.pipe
                            .commands
                            .push(CommandNode { pos: a.pos, args: vec![Expr::Identifier(a.pos, PRINT.into())] });
                    }
                    Some(a.pos)
                }
                Node::If(b) | Node::Range(b) | Node::With(b) => {
                    let saved = (self.vars.parse.len(), self.vars.exec.len());
                    self.pipe(&mut b.pipe);
                    let in_body = self.vars.exec.len();
                    self.list(&mut b.body);
                    self.vars.exec.truncate(in_body);
                    if let Some(e) = b.else_body.as_mut() {
                        self.list(e);
                    }
                    self.vars.parse.truncate(saved.0);
                    self.vars.exec.truncate(saved.1);
                    Some(b.pos)
                }
                Node::Template(t) => {
                    let pipe = t.pipe.get_or_insert_with(|| pipe_of(t.pos, funcs::NIL, Vec::new()));
                    self.pipe(pipe);
                    Some(t.pos)
                }
                Node::List(l) => {
                    self.list(l);
                    None
                }
                Node::Define(d) => {
                    let saved = std::mem::replace(&mut self.vars, Vars::root());
                    self.list(&mut d.body);
                    self.vars = saved;
                    None
                }
                Node::Text(_) | Node::Break(_) | Node::Continue(_) => None,
            };
            if let Some(pos) = pos {
                let site = self.sites.len() as i64 + 1;
                self.sites.push(Site { line: pos.line, text: action_text(self.src, pos.offset) });
                out.push(marker(pos, site));
            }
            out.push(node);
        }
        list.nodes = out;
    }

    /// The per-call-site name of function `f` at `line`.
    fn alias(&mut self, f: &'static str, line: usize) -> SmolStr {
        let alias = format!("{f}\0{line}");
        self.aliases.insert(alias.clone(), (f, line));
        alias.into()
    }

    /// `receiver.A.B` (receiver already rewritten) as a call of the field
    /// function, parenthesized so it stays one operand.
    fn field_access(&mut self, receiver: Expr, fields: Vec<SmolStr>) -> Expr {
        let pos = receiver.pos();
        let mut args = vec![receiver];
        args.extend(fields.into_iter().map(|f| Expr::String(pos, f.as_str().into())));
        let mut pipe = pipe_of(pos, funcs::FIELD, args);
        pipe.commands[0].args[0] = Expr::Identifier(pos, self.alias(funcs::FIELD, pos.line));
        Expr::Pipe(pos, pipe)
    }

    fn pipe(&mut self, pipe: &mut PipeNode) {
        // Go's parser declares before it reads the commands.
        for v in &pipe.decl {
            self.vars.parse.push(v.to_string());
        }
        for cmd in &mut pipe.commands {
            self.command(cmd);
        }
        if !pipe.is_assign {
            for v in &pipe.decl {
                self.vars.exec.push(v.to_string());
            }
        }
    }

    fn command(&mut self, cmd: &mut CommandNode) {
        let integer_args = matches!(cmd.args.first(), Some(Expr::Identifier(_, n)) if funcs::takes_integers(n));
        for (i, arg) in cmd.args.iter_mut().enumerate() {
            if integer_args
                && i > 0
                && let Expr::Number(pos, Number::Float(f)) = arg
                && let Some(n) = integral(*f)
            {
                *arg = Expr::Number(*pos, Number::Int(n));
            }
            self.expr(arg);
        }
    }

    fn expr(&mut self, e: &mut Expr) {
        match e {
            Expr::Identifier(pos, name) => {
                let known =
                    MAAND_FUNCS.iter().chain(GO_BUILTINS).chain([funcs::NIL, funcs::UNDEFINED, funcs::FIELD].iter());
                let allowed = |f: &&str| !MAAND_FUNCS.contains(f) || self.view.allows(f);
                if let Some(f) = known.copied().find(|f| *f == name.as_str()).filter(allowed) {
                    *name = self.alias(f, pos.line);
                } else if name.as_str() != PRINT && !BUILTINS.contains(&name.as_str()) {
                    let why = format!("function {:?} not defined", name.as_str());
                    self.error(*pos, why);
                }
            }
            Expr::Variable(pos, name, fields) => {
                if !self.vars.parse.iter().any(|v| v == name.as_str()) {
                    let why = format!("undefined variable {:?}", name.as_str());
                    self.error(*pos, why);
                }
                if !fields.is_empty() {
                    let fields = std::mem::take(fields);
                    let var = Expr::Variable(*pos, name.clone(), Vec::new());
                    *e = self.field_access(var, fields);
                }
            }
            Expr::Field(pos, fields) => {
                let fields = std::mem::take(fields);
                *e = self.field_access(Expr::Dot(*pos), fields);
            }
            Expr::Chain(pos, inner, fields) => {
                self.expr(inner);
                let inner = std::mem::replace(inner.as_mut(), Expr::Nil(*pos));
                let fields = std::mem::take(fields);
                *e = self.field_access(inner, fields);
            }
            Expr::Pipe(_, p) => self.pipe(p),
            _ => {}
        }
    }
}

/// `f` as an integer when Go's parser would take the literal as one.
fn integral(f: f64) -> Option<i64> {
    let i = f as i64;
    (f.is_finite() && i as f64 == f && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&f)).then_some(i)
}

fn marker(pos: Pos, site: i64) -> Node {
    Node::Action(gotmpl::parse::ActionNode {
        pos,
        pipe: pipe_of(pos, MARK, vec![Expr::Number(pos, Number::Int(site))]),
    })
}

/// The action around byte `offset`: from the `{{` before it to the `}}`
/// after it, on one line, at most 60 characters.
fn action_text(src: &str, offset: usize) -> String {
    let offset = offset.min(src.len());
    let start = src.get(..(offset + 2).min(src.len())).and_then(|s| s.rfind("{{")).unwrap_or(offset);
    let end = src.get(offset..).and_then(|s| s.find("}}")).map_or(src.len(), |i| offset + i + 2);
    let text: String = src.get(start..end).unwrap_or("").split_whitespace().collect::<Vec<_>>().join(" ");
    if text.chars().count() > 60 { format!("{}…", text.chars().take(59).collect::<String>()) } else { text }
}

/// An error at (byte offset, line): reason.
type Located = (usize, usize, String);

/// The keyword each action starts with, its byte offset and line; or the
/// first unterminated quoted string (offset, line, reason), which gotmpl
/// reports a line late.
fn actions(src: &str) -> Result<Vec<(usize, usize, &str)>, Located> {
    let b = src.as_bytes();
    // Byte positions only: a string may hold any character, even escaped.
    let find = |from: usize, pat: &[u8]| -> Option<usize> {
        b.get(from..)?.windows(pat.len()).position(|w| w == pat).map(|k| from + k)
    };
    let line_at = |off: usize| b[..off].iter().filter(|c| **c == b'\n').count() + 1;
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(start) = find(i, b"{{") {
        i = start + 2;
        if b.get(i) == Some(&b'-') && b.get(i + 1).is_some_and(|c| c.is_ascii_whitespace()) {
            i += 1;
        }
        while b.get(i).is_some_and(|c| c.is_ascii_whitespace()) {
            i += 1;
        }
        if b[i..].starts_with(b"/*") {
            i = find(i, b"*/").map_or(b.len(), |k| k + 2);
            i = find(i, b"}}").map_or(b.len(), |k| k + 2);
            continue;
        }
        let word_end = b[i..].iter().position(|c| !c.is_ascii_alphanumeric() && *c != b'_').map_or(b.len(), |k| i + k);
        // ASCII bounds, so character boundaries.
        out.push((start, line_at(start), src.get(i..word_end).unwrap_or("")));
        // Skip to the closing delimiter, over strings, raw strings and chars.
        while i < b.len() && !b[i..].starts_with(b"}}") {
            match b[i] {
                q @ (b'"' | b'\'') => {
                    let open = i;
                    i += 1;
                    while i < b.len() && b[i] != q && b[i] != b'\n' {
                        i += if b[i] == b'\\' { 2 } else { 1 };
                    }
                    if i >= b.len() || b[i] == b'\n' {
                        let what =
                            if q == b'"' { "unterminated quoted string" } else { "unterminated character constant" };
                        return Err((open, line_at(open), what.into()));
                    }
                    i += 1;
                }
                b'`' => i = find(i + 1, b"`").map_or(b.len(), |k| k + 1),
                _ => i += 1,
            }
        }
        i = (i + 2).min(b.len());
    }
    Ok(out)
}

/// Go's parser rules on the block structure, which gotmpl does not enforce:
/// every `if`/`range`/`with`/`define`/`block` is closed by one `end`,
/// `else` only in `if`/`range`/`with` and only one plain `else`, `define`
/// only at top level, `break`/`continue` only in a `range` body. The first
/// violation as (offset, line, reason).
fn check_actions(src: &str) -> Option<Located> {
    struct Frame<'k> {
        kind: &'k str,
        in_else: bool,
    }
    let mut stack: Vec<Frame> = Vec::new();
    let words = match actions(src) {
        Ok(w) => w,
        Err(e) => return Some(e),
    };
    for &(off, line, word) in &words {
        let err = |why: String| Some((off, line, why));
        match word {
            "if" | "range" | "with" | "block" => stack.push(Frame { kind: word, in_else: false }),
            "define" if !stack.is_empty() => return err("unexpected <define> in command".into()),
            "define" => stack.push(Frame { kind: word, in_else: false }),
            "else" => {
                let Some(top) = stack.last_mut().filter(|f| matches!(f.kind, "if" | "range" | "with")) else {
                    return err("unexpected {{else}}".into());
                };
                if top.in_else {
                    return err("expected end; found {{else}}".into());
                }
                // `else if` (and, as in Go 1.23, `else with` in a with)
                // continues the same block, closed by one `end`.
                let after = src.get(off..).unwrap_or("").trim_start_matches("{{").trim_start_matches('-').trim_start();
                let chained = after.get("else".len()..).unwrap_or("").trim_start();
                let next_word = chained.split(|c: char| !c.is_ascii_alphanumeric() && c != '_').next().unwrap_or("");
                match next_word {
                    "if" if top.kind == "if" => continue,
                    "with" if top.kind == "with" => continue,
                    "if" | "with" => return err(format!("unexpected <{next_word}> in input")),
                    _ => {}
                }
                top.in_else = true;
            }
            "end" if stack.pop().is_none() => return err("unexpected {{end}}".into()),
            "break" | "continue" => {
                let in_range = stack
                    .iter()
                    .rev()
                    .take_while(|f| !matches!(f.kind, "define" | "block"))
                    .any(|f| f.kind == "range" && !f.in_else);
                if !in_range {
                    return err(format!("{{{{{word}}}}} outside {{{{range}}}}"));
                }
            }
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Some((src.len(), src.bytes().filter(|c| *c == b'\n').count() + 1, "unexpected EOF".into()));
    }
    None
}
