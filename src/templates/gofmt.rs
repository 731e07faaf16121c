//! Go's `fmt` (`Sprintf`, `Sprint`, `Sprintln`) and `strconv` float and
//! quoting rules over template values, for `printf`, `print`, `println`
//! and for printing an action's value.
//!
//! gotmpl's own `printf` departs from Go in places a config can show:
//! `%q`/`%d` on lists (Go formats each element), `%+q`, `%O`, flags on
//! `%x` of strings, `%x` of floats, and float printing (`{{ 1e21 }}` is
//! `1e+21` in Go). This is a port of Go 1.19's `fmt/print.go`,
//! `fmt/format.go` and `strconv/ftoa.go` decisions, checked against Go by
//! the differential corpus (tests/templates_go.rs). Values that cannot occur
//! in a template (complex numbers, pointers, channels) are not handled;
//! `%p` prints as a bad verb (Go would print an address).

use gotmpl::Value;
use std::fmt::Write;

const LDIGITS: &[u8; 17] = b"0123456789abcdefx";
const UDIGITS: &[u8; 17] = b"0123456789ABCDEFX";

/// Go's type name of a value (`%T`, `%!verb(type=value)`); `None` for nil.
fn type_name(v: &Value) -> Option<&'static str> {
    Some(match v {
        Value::Nil => return None,
        Value::Bool(_) => "bool",
        Value::Int(_) => "int",
        Value::Uint(_) => "uint",
        Value::Float(_) => "float64",
        Value::String(_) => "string",
        Value::List(items) if items.iter().all(|i| matches!(i, Value::String(_))) => "[]string",
        Value::List(_) => "[]interface {}",
        Value::Map(_) => "map[string]interface {}",
        Value::Function(_) => "func([]interface {}) interface {}",
    })
}

#[derive(Default, Clone, Copy)]
struct Flags {
    wid_present: bool,
    prec_present: bool,
    minus: bool,
    plus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    plus_v: bool,
    sharp_v: bool,
    wid: usize,
    prec: usize,
}

#[derive(Default)]
struct Printer {
    buf: String,
    f: Flags,
}

impl Printer {
    fn padding(&mut self, n: usize) {
        let c = if self.f.zero { '0' } else { ' ' };
        self.buf.extend(std::iter::repeat_n(c, n));
    }

    fn pad(&mut self, s: &str) {
        if !self.f.wid_present || self.f.wid == 0 {
            self.buf.push_str(s);
            return;
        }
        let width = self.f.wid.saturating_sub(s.chars().count());
        if self.f.minus {
            self.buf.push_str(s);
            self.padding(width);
        } else {
            self.padding(width);
            self.buf.push_str(s);
        }
    }

    /// `pad` with space padding whatever the zero flag says.
    fn pad_spaces(&mut self, s: &str) {
        let zero = self.f.zero;
        self.f.zero = false;
        self.pad(s);
        self.f.zero = zero;
    }

    fn fmt_boolean(&mut self, v: bool) {
        self.pad(if v { "true" } else { "false" });
    }

    fn fmt_unicode(&mut self, u: u64) {
        let prec = if self.f.prec_present && self.f.prec > 4 { self.f.prec } else { 4 };
        let mut s = format!("U+{u:0prec$X}");
        if self.f.sharp
            && let Some(c) = u32::try_from(u).ok().and_then(char::from_u32)
            && is_print(c)
        {
            let _ = write!(s, " '{c}'");
        }
        self.pad_spaces(&s);
    }

    fn fmt_integer(&mut self, u: u64, base: u64, signed: bool, verb: char, digits: &[u8; 17]) {
        let negative = signed && (u as i64) < 0;
        let mut u = if negative { (u as i64).unsigned_abs() } else { u };
        let mut prec = 0usize;
        if self.f.prec_present {
            prec = self.f.prec;
            if prec == 0 && u == 0 {
                let zero = self.f.zero;
                self.f.zero = false;
                self.padding(self.f.wid);
                self.f.zero = zero;
                return;
            }
        } else if self.f.zero && self.f.wid_present {
            prec = self.f.wid;
            if negative || self.f.plus || self.f.space {
                prec = prec.saturating_sub(1);
            }
        }
        let mut out: Vec<u8> = Vec::new();
        loop {
            out.push(digits[(u % base) as usize]);
            u /= base;
            if u == 0 {
                break;
            }
        }
        while out.len() < prec {
            out.push(b'0');
        }
        if self.f.sharp {
            match base {
                2 => out.extend_from_slice(b"b0"),
                8 if out.last() != Some(&b'0') => out.push(b'0'),
                16 => out.extend_from_slice(&[digits[16], b'0']),
                _ => {}
            }
        }
        if verb == 'O' {
            out.extend_from_slice(b"o0");
        }
        if negative {
            out.push(b'-');
        } else if self.f.plus {
            out.push(b'+');
        } else if self.f.space {
            out.push(b' ');
        }
        out.reverse();
        let s = String::from_utf8(out).unwrap_or_default();
        self.pad_spaces(&s);
    }

    fn fmt_c(&mut self, c: u64) {
        let c = u32::try_from(c).ok().and_then(char::from_u32).unwrap_or('\u{FFFD}');
        self.pad(c.encode_utf8(&mut [0; 4]));
    }

    fn fmt_qc(&mut self, c: u64) {
        let c = u32::try_from(c).ok().and_then(char::from_u32).unwrap_or('\u{FFFD}');
        let s = quote_rune(c, self.f.plus);
        self.pad(&s);
    }

    fn truncate<'a>(&self, s: &'a str) -> &'a str {
        if self.f.prec_present
            && let Some((i, _)) = s.char_indices().nth(self.f.prec)
        {
            return &s[..i];
        }
        s
    }

    fn fmt_s(&mut self, s: &str) {
        let s = self.truncate(s);
        self.pad(s);
    }

    fn fmt_sx(&mut self, s: &str, digits: &[u8; 17]) {
        let b = s.as_bytes();
        let mut length = b.len();
        if self.f.prec_present && self.f.prec < length {
            length = self.f.prec;
        }
        let mut width = 2 * length;
        if width > 0 {
            if self.f.space {
                if self.f.sharp {
                    width *= 2;
                }
                width += length - 1;
            } else if self.f.sharp {
                width += 2;
            }
        } else {
            if self.f.wid_present {
                self.padding(self.f.wid);
            }
            return;
        }
        if self.f.wid_present && self.f.wid > width && !self.f.minus {
            self.padding(self.f.wid - width);
        }
        let mut out = String::new();
        if self.f.sharp {
            out.push('0');
            out.push(digits[16] as char);
        }
        for (i, c) in b.iter().take(length).enumerate() {
            if self.f.space && i > 0 {
                out.push(' ');
                if self.f.sharp {
                    out.push('0');
                    out.push(digits[16] as char);
                }
            }
            out.push(digits[(c >> 4) as usize] as char);
            out.push(digits[(c & 0xF) as usize] as char);
        }
        self.buf.push_str(&out);
        if self.f.wid_present && self.f.wid > width && self.f.minus {
            self.padding(self.f.wid - width);
        }
    }

    fn fmt_q(&mut self, s: &str) {
        let s = self.truncate(s);
        if self.f.sharp && can_backquote(s) {
            self.pad(&format!("`{s}`"));
            return;
        }
        let q = quote(s, self.f.plus);
        self.pad(&q);
    }

    fn fmt_float(&mut self, v: f64, verb: char, prec: i32) {
        let prec = if self.f.prec_present { self.f.prec as i32 } else { prec };
        let formatted = format_float(v, verb, prec);
        let mut num: Vec<u8> = Vec::with_capacity(formatted.len() + 1);
        if formatted.starts_with('-') || formatted.starts_with('+') {
            num.extend_from_slice(formatted.as_bytes());
        } else {
            num.push(b'+');
            num.extend_from_slice(formatted.as_bytes());
        }
        if self.f.space && num[0] == b'+' && !self.f.plus {
            num[0] = b' ';
        }
        if num.get(1) == Some(&b'I') || num.get(1) == Some(&b'N') {
            let zero = self.f.zero;
            self.f.zero = false;
            if num[1] == b'N' && !self.f.space && !self.f.plus {
                num.remove(0);
            }
            self.pad(&String::from_utf8_lossy(&num));
            self.f.zero = zero;
            return;
        }
        if self.f.sharp && verb != 'b' {
            let mut digits: i32 = 0;
            if matches!(verb, 'v' | 'g' | 'G' | 'x') {
                digits = if prec == -1 { 6 } else { prec };
            }
            let mut tail: Vec<u8> = Vec::new();
            let mut has_point = false;
            let mut saw_nonzero = false;
            let mut i = 1;
            while i < num.len() {
                match num[i] {
                    b'.' => has_point = true,
                    b'p' | b'P' => {
                        tail.extend_from_slice(&num[i..]);
                        num.truncate(i);
                        break;
                    }
                    b'e' | b'E' if verb != 'x' && verb != 'X' => {
                        tail.extend_from_slice(&num[i..]);
                        num.truncate(i);
                        break;
                    }
                    c => {
                        if c != b'0' {
                            saw_nonzero = true;
                        }
                        if saw_nonzero {
                            digits -= 1;
                        }
                    }
                }
                i += 1;
            }
            if !has_point {
                if num.len() == 2 && num[1] == b'0' {
                    digits -= 1;
                }
                num.push(b'.');
            }
            while digits > 0 {
                num.push(b'0');
                digits -= 1;
            }
            num.extend_from_slice(&tail);
        }
        let s = String::from_utf8_lossy(&num).into_owned();
        if self.f.plus || num[0] != b'+' {
            if self.f.zero && self.f.wid_present && self.f.wid > num.len() {
                self.buf.push(num[0] as char);
                self.padding(self.f.wid - num.len());
                self.buf.push_str(&s[1..]);
                return;
            }
            self.pad(&s);
            return;
        }
        self.pad(&s[1..]);
    }

    fn bad_verb(&mut self, verb: char, arg: &Value) {
        self.buf.push_str("%!");
        self.buf.push(verb);
        self.buf.push('(');
        match type_name(arg) {
            Some(t) => {
                self.buf.push_str(t);
                self.buf.push('=');
                self.print_arg(arg, 'v', true);
            }
            None => self.buf.push_str("<nil>"),
        }
        self.buf.push(')');
    }

    fn fmt_integer_verb(&mut self, u: u64, signed: bool, verb: char, arg: &Value) {
        match verb {
            'v' if self.f.sharp_v && !signed => {
                let sharp = self.f.sharp;
                self.f.sharp = true;
                self.fmt_integer(u, 16, false, 'v', LDIGITS);
                self.f.sharp = sharp;
            }
            'v' | 'd' => self.fmt_integer(u, 10, signed, verb, LDIGITS),
            'b' => self.fmt_integer(u, 2, signed, verb, LDIGITS),
            'o' | 'O' => self.fmt_integer(u, 8, signed, verb, LDIGITS),
            'x' => self.fmt_integer(u, 16, signed, verb, LDIGITS),
            'X' => self.fmt_integer(u, 16, signed, verb, UDIGITS),
            'c' => self.fmt_c(u),
            'q' => self.fmt_qc(u),
            'U' => self.fmt_unicode(u),
            _ => self.bad_verb(verb, arg),
        }
    }

    fn fmt_string(&mut self, s: &str, verb: char, arg: &Value) {
        match verb {
            'v' if self.f.sharp_v => self.fmt_q(s),
            'v' | 's' => self.fmt_s(s),
            'x' => self.fmt_sx(s, LDIGITS),
            'X' => self.fmt_sx(s, UDIGITS),
            'q' => self.fmt_q(s),
            _ => self.bad_verb(verb, arg),
        }
    }

    /// Go's `printArg` (`erroring`: inside a bad verb's parentheses).
    fn print_arg(&mut self, arg: &Value, verb: char, erroring: bool) {
        if matches!(arg, Value::Nil) {
            match verb {
                'T' | 'v' => self.pad("<nil>"),
                _ => self.bad_verb(verb, arg),
            }
            return;
        }
        match verb {
            'T' => {
                let t = type_name(arg).unwrap_or("<nil>");
                self.fmt_s(t);
                return;
            }
            'p' if !erroring => {
                self.bad_verb('p', arg);
                return;
            }
            _ => {}
        }
        self.print_value(arg, verb);
    }

    /// Go's `printValue` (a nil inside a list or map prints `<nil>`).
    fn print_value(&mut self, v: &Value, verb: char) {
        match v {
            Value::Nil => {
                if self.f.sharp_v {
                    self.buf.push_str("interface {}(nil)");
                } else {
                    self.buf.push_str("<nil>");
                }
            }
            Value::Bool(b) => match verb {
                't' | 'v' => self.fmt_boolean(*b),
                _ => self.bad_verb(verb, v),
            },
            Value::Int(i) => self.fmt_integer_verb(*i as u64, true, verb, v),
            Value::Uint(u) => self.fmt_integer_verb(*u, false, verb, v),
            Value::Float(x) => match verb {
                'v' => self.fmt_float(*x, 'g', -1),
                'b' | 'g' | 'G' | 'x' | 'X' => self.fmt_float(*x, verb, -1),
                'f' | 'e' | 'E' => self.fmt_float(*x, verb, 6),
                'F' => self.fmt_float(*x, 'f', 6),
                _ => self.bad_verb(verb, v),
            },
            Value::String(s) => self.fmt_string(s, verb, v),
            Value::List(items) => {
                if self.f.sharp_v {
                    self.buf.push_str(type_name(v).unwrap_or_default());
                    self.buf.push('{');
                    for (i, item) in items.iter().enumerate() {
                        if i > 0 {
                            self.buf.push_str(", ");
                        }
                        self.print_value(item, verb);
                    }
                    self.buf.push('}');
                } else {
                    self.buf.push('[');
                    for (i, item) in items.iter().enumerate() {
                        if i > 0 {
                            self.buf.push(' ');
                        }
                        self.print_value(item, verb);
                    }
                    self.buf.push(']');
                }
            }
            Value::Map(m) => {
                if self.f.sharp_v {
                    self.buf.push_str(type_name(v).unwrap_or_default());
                    self.buf.push('{');
                } else {
                    self.buf.push_str("map[");
                }
                for (i, (k, val)) in m.iter().enumerate() {
                    if i > 0 {
                        self.buf.push_str(if self.f.sharp_v { ", " } else { " " });
                    }
                    self.print_value(&Value::String(k.clone()), verb);
                    self.buf.push(':');
                    self.print_value(val, verb);
                }
                self.buf.push(if self.f.sharp_v { '}' } else { ']' });
            }
            Value::Function(_) => self.bad_verb(verb, v),
        }
    }
}

fn too_large(x: i64) -> bool {
    !(-1_000_000..=1_000_000).contains(&x)
}

/// Go's `parsenum`: (number, is a number, next index).
fn parse_num(s: &[u8], start: usize, end: usize) -> (i64, bool, usize) {
    if start >= end {
        return (0, false, end);
    }
    let (mut num, mut isnum, mut i) = (0i64, false, start);
    while i < end && s[i].is_ascii_digit() {
        if too_large(num) {
            return (0, false, end);
        }
        num = num * 10 + i64::from(s[i] - b'0');
        isnum = true;
        i += 1;
    }
    (num, isnum, i)
}

/// Go's `intFromArg`: (number, is an int, next argument).
fn int_from_arg(a: &[Value], arg_num: usize) -> (i64, bool, usize) {
    let Some(v) = a.get(arg_num) else { return (0, false, arg_num) };
    let (num, is_int) = match v {
        Value::Int(i) => (*i, true),
        Value::Uint(u) => i64::try_from(*u).map_or((0, false), |i| (i, true)),
        _ => (0, false),
    };
    if too_large(num) { (0, false, arg_num + 1) } else { (num, is_int, arg_num + 1) }
}

/// Go's `parseArgNumber` on `format` starting at `[`: (index, width, ok).
fn parse_arg_number(format: &[u8]) -> (i64, usize, bool) {
    if format.len() < 3 {
        return (0, 1, false);
    }
    for i in 1..format.len() {
        if format[i] == b']' {
            let (width, ok, newi) = parse_num(format, 1, i);
            if !ok || newi != i {
                return (0, i + 1, false);
            }
            return (width - 1, i + 1, true);
        }
    }
    (0, 1, false)
}

/// `fmt.Sprintf`.
pub(super) fn sprintf(format: &str, a: &[Value]) -> String {
    let fb = format.as_bytes();
    let end = fb.len();
    let mut p = Printer::default();
    let mut arg_num = 0usize;
    let mut after_index;
    let mut reordered = false;
    let mut i = 0;
    // Go's argNumber: (arg, next index, found); sets reordered/good.
    let arg_number = |arg_num: usize, i: usize, reordered: &mut bool, good: &mut bool| -> (usize, usize, bool) {
        if i >= end || fb[i] != b'[' {
            return (arg_num, i, false);
        }
        *reordered = true;
        let (index, wid, ok) = parse_arg_number(&fb[i..]);
        if ok && index >= 0 && (index as usize) < a.len() {
            return (index as usize, i + wid, true);
        }
        *good = false;
        (arg_num, i + wid, ok)
    };
    'format: while i < end {
        let mut good = true;
        let last = i;
        while i < end && fb[i] != b'%' {
            i += 1;
        }
        if i > last {
            p.buf.push_str(&format[last..i]);
        }
        if i >= end {
            break;
        }
        i += 1;
        p.f = Flags::default();
        while i < end {
            let c = fb[i];
            match c {
                b'#' => p.f.sharp = true,
                b'0' => p.f.zero = !p.f.minus,
                b'+' => p.f.plus = true,
                b'-' => {
                    p.f.minus = true;
                    p.f.zero = false;
                }
                b' ' => p.f.space = true,
                _ => {
                    if c.is_ascii_lowercase() && arg_num < a.len() {
                        if c == b'v' {
                            p.f.sharp_v = p.f.sharp;
                            p.f.sharp = false;
                            p.f.plus_v = p.f.plus;
                            p.f.plus = false;
                        }
                        p.print_arg(&a[arg_num], c as char, false);
                        arg_num += 1;
                        i += 1;
                        continue 'format;
                    }
                    break;
                }
            }
            i += 1;
        }
        (arg_num, i, after_index) = arg_number(arg_num, i, &mut reordered, &mut good);
        if i < end && fb[i] == b'*' {
            i += 1;
            let (w, present, next) = int_from_arg(a, arg_num);
            arg_num = next;
            p.f.wid_present = present;
            if !present {
                p.buf.push_str("%!(BADWIDTH)");
            }
            if w < 0 {
                p.f.minus = true;
                p.f.zero = false;
            }
            p.f.wid = w.unsigned_abs() as usize;
            after_index = false;
        } else {
            let (w, present, next) = parse_num(fb, i, end);
            p.f.wid = w as usize;
            p.f.wid_present = present;
            i = next;
            if after_index && present {
                good = false;
            }
        }
        if i + 1 < end && fb[i] == b'.' {
            i += 1;
            if after_index {
                good = false;
            }
            (arg_num, i, after_index) = arg_number(arg_num, i, &mut reordered, &mut good);
            if i < end && fb[i] == b'*' {
                i += 1;
                let (pr, mut present, next) = int_from_arg(a, arg_num);
                arg_num = next;
                let mut pr = pr;
                if pr < 0 {
                    pr = 0;
                    present = false;
                }
                p.f.prec = pr as usize;
                p.f.prec_present = present;
                if !present {
                    p.buf.push_str("%!(BADPREC)");
                }
                after_index = false;
            } else {
                let (pr, present, next) = parse_num(fb, i, end);
                i = next;
                p.f.prec = if present { pr as usize } else { 0 };
                p.f.prec_present = true;
            }
        }
        if !after_index {
            (arg_num, i, _) = arg_number(arg_num, i, &mut reordered, &mut good);
        }
        if i >= end {
            p.buf.push_str("%!(NOVERB)");
            break;
        }
        let verb = format[i..].chars().next().unwrap_or('?');
        i += verb.len_utf8();
        if verb == '%' {
            p.buf.push('%');
        } else if !good {
            p.buf.push_str("%!");
            p.buf.push(verb);
            p.buf.push_str("(BADINDEX)");
        } else if arg_num >= a.len() {
            p.buf.push_str("%!");
            p.buf.push(verb);
            p.buf.push_str("(MISSING)");
        } else {
            if verb == 'v' {
                p.f.sharp_v = p.f.sharp;
                p.f.sharp = false;
                p.f.plus_v = p.f.plus;
                p.f.plus = false;
            }
            p.print_arg(&a[arg_num], verb, false);
            arg_num += 1;
        }
    }
    if !reordered && arg_num < a.len() {
        p.f = Flags::default();
        p.buf.push_str("%!(EXTRA ");
        for (i, arg) in a[arg_num..].iter().enumerate() {
            if i > 0 {
                p.buf.push_str(", ");
            }
            match type_name(arg) {
                None => p.buf.push_str("<nil>"),
                Some(t) => {
                    p.buf.push_str(t);
                    p.buf.push('=');
                    p.print_arg(arg, 'v', false);
                }
            }
        }
        p.buf.push(')');
    }
    p.buf
}

/// `fmt.Sprint`: spaces between operands when neither is a string.
pub(super) fn sprint(a: &[Value]) -> String {
    let mut p = Printer::default();
    let mut prev_string = false;
    for (i, arg) in a.iter().enumerate() {
        let is_string = matches!(arg, Value::String(_));
        if i > 0 && !is_string && !prev_string {
            p.buf.push(' ');
        }
        p.f = Flags::default();
        p.print_arg(arg, 'v', false);
        prev_string = is_string;
    }
    p.buf
}

/// `fmt.Sprintln`: spaces between operands, a newline after.
pub(super) fn sprintln(a: &[Value]) -> String {
    let mut p = Printer::default();
    for (i, arg) in a.iter().enumerate() {
        if i > 0 {
            p.buf.push(' ');
        }
        p.f = Flags::default();
        p.print_arg(arg, 'v', false);
    }
    p.buf.push('\n');
    p.buf
}

/// How an action prints its value (`text/template`'s `printValue`: a
/// missing value is `<no value>`, anything else `fmt.Fprint`).
pub(super) fn print_action_value(v: &Value) -> String {
    match v {
        Value::Nil => "<no value>".to_string(),
        Value::String(s) => s.to_string(),
        other => sprint(std::slice::from_ref(other)),
    }
}

/// Decimal digits of a float: `d` without trailing zeros, the decimal
/// point after `dp` digits (Go's `decimalSlice`).
struct Digits {
    d: Vec<u8>,
    dp: i32,
}

/// Digits from Rust's exponent form (`1.2345e-7`) of a non-negative number.
fn digits_of(e_form: &str) -> Digits {
    let (mant, exp) = e_form.split_once('e').unwrap_or((e_form, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut d: Vec<u8> = mant.bytes().filter(u8::is_ascii_digit).collect();
    while d.last() == Some(&b'0') {
        d.pop();
    }
    if d.is_empty() { Digits { d, dp: 0 } } else { Digits { d, dp: exp + 1 } }
}

fn fmt_e(neg: bool, d: &Digits, prec: i32, fmt: char) -> String {
    let mut s = String::new();
    if neg {
        s.push('-');
    }
    s.push(d.d.first().map_or('0', |c| *c as char));
    if prec > 0 {
        s.push('.');
        let prec = prec as usize;
        for i in 1..=prec {
            s.push(d.d.get(i).map_or('0', |c| *c as char));
        }
    }
    s.push(fmt);
    let exp = if d.d.is_empty() { 0 } else { d.dp - 1 };
    s.push(if exp < 0 { '-' } else { '+' });
    let exp = exp.unsigned_abs();
    if exp < 10 {
        let _ = write!(s, "0{exp}");
    } else {
        let _ = write!(s, "{exp}");
    }
    s
}

fn fmt_f(neg: bool, d: &Digits, prec: i32) -> String {
    let mut s = String::new();
    if neg {
        s.push('-');
    }
    if d.dp > 0 {
        for i in 0..d.dp as usize {
            s.push(d.d.get(i).map_or('0', |c| *c as char));
        }
    } else {
        s.push('0');
    }
    if prec > 0 {
        s.push('.');
        for i in 0..prec {
            let j = d.dp + i;
            s.push(if j >= 0 { d.d.get(j as usize).map_or('0', |c| *c as char) } else { '0' });
        }
    }
    s
}

/// Go's `%x` of a float (`strconv` `fmtX`).
fn fmt_x(v: f64, prec: i32, fmt: char) -> String {
    let bits = v.to_bits();
    let neg = bits >> 63 != 0;
    let mut exp = ((bits >> 52) & 0x7FF) as i32;
    let mut mant = bits & ((1u64 << 52) - 1);
    if exp == 0 {
        exp += 1;
    } else {
        mant |= 1u64 << 52;
    }
    exp -= 1023;
    if mant == 0 {
        exp = 0;
    }
    mant <<= 60 - 52;
    while mant != 0 && mant & (1 << 60) == 0 {
        mant <<= 1;
        exp -= 1;
    }
    if (0..15).contains(&prec) {
        let shift = (prec * 4) as u32;
        let extra = (mant << shift) & ((1u64 << 60) - 1);
        mant >>= 60 - shift;
        if extra | (mant & 1) > 1 << 59 {
            mant += 1;
        }
        mant <<= 60 - shift;
        if mant & (1 << 61) != 0 {
            mant >>= 1;
            exp += 1;
        }
    }
    let hex = if fmt == 'X' { UDIGITS } else { LDIGITS };
    let mut s = String::new();
    if neg {
        s.push('-');
    }
    s.push('0');
    s.push(fmt);
    s.push((b'0' + ((mant >> 60) & 1) as u8) as char);
    mant <<= 4;
    if prec < 0 && mant != 0 {
        s.push('.');
        while mant != 0 {
            s.push(hex[((mant >> 60) & 15) as usize] as char);
            mant <<= 4;
        }
    } else if prec > 0 {
        s.push('.');
        for _ in 0..prec {
            s.push(hex[((mant >> 60) & 15) as usize] as char);
            mant <<= 4;
        }
    }
    s.push(if fmt == 'X' { 'P' } else { 'p' });
    s.push(if exp < 0 { '-' } else { '+' });
    let _ = write!(s, "{:02}", exp.unsigned_abs());
    s
}

/// Go's `%b` of a float: decimal mantissa `p` binary exponent.
fn fmt_b(v: f64) -> String {
    let bits = v.to_bits();
    let neg = bits >> 63 != 0;
    let mut exp = ((bits >> 52) & 0x7FF) as i64;
    let mut mant = bits & ((1u64 << 52) - 1);
    if exp == 0 {
        exp += 1;
    } else {
        mant |= 1u64 << 52;
    }
    exp -= 1023 + 52;
    format!("{}{mant}p{}{exp}", if neg { "-" } else { "" }, if exp >= 0 { "+" } else { "" })
}

/// `strconv.FormatFloat(v, fmt, prec, 64)`.
fn format_float(v: f64, fmt: char, prec: i32) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v < 0.0 { "-Inf".into() } else { "+Inf".into() };
    }
    match fmt {
        'b' => return fmt_b(v),
        'x' | 'X' => return fmt_x(v, prec, fmt),
        _ => {}
    }
    let neg = v.is_sign_negative();
    let a = v.abs();
    if prec < 0 {
        let d = digits_of(&format!("{a:e}"));
        let nd = d.d.len() as i32;
        return match fmt {
            'e' | 'E' => fmt_e(neg, &d, (nd - 1).max(0), fmt),
            'f' => fmt_f(neg, &d, (nd - d.dp).max(0)),
            _ => {
                let exp = d.dp - 1;
                let e = if fmt == 'G' { 'E' } else { 'e' };
                if !(-4..6).contains(&exp) { fmt_e(neg, &d, nd - 1, e) } else { fmt_f(neg, &d, (nd - d.dp).max(0)) }
            }
        };
    }
    match fmt {
        'f' => {
            let s = format!("{a:.*}", prec as usize);
            if neg { format!("-{s}") } else { s }
        }
        'e' | 'E' => fmt_e(neg, &digits_of(&format!("{a:.*e}", prec as usize)), prec, fmt),
        _ => {
            let mut prec = prec.max(1);
            let d = digits_of(&format!("{a:.*e}", (prec - 1) as usize));
            let nd = d.d.len() as i32;
            let mut eprec = prec;
            if eprec > nd && nd >= d.dp {
                eprec = nd;
            }
            let exp = d.dp - 1;
            let e = if fmt == 'G' { 'E' } else { 'e' };
            if exp < -4 || exp >= eprec {
                if prec > nd {
                    prec = nd;
                }
                return fmt_e(neg, &d, prec - 1, e);
            }
            if prec > d.dp {
                prec = nd;
            }
            fmt_f(neg, &d, (prec - d.dp).max(0))
        }
    }
}

/// Go's `strconv.IsPrint`, without Unicode's tables of unassigned code
/// points (those count as printable here; Go escapes them).
pub(super) fn is_print(c: char) -> bool {
    let u = c as u32;
    if u < 0x100 {
        return (0x20..0x7F).contains(&u) || ((0xA1..=0xFF).contains(&u) && u != 0xAD);
    }
    let format = matches!(u,
        0x0600..=0x0605 | 0x061C | 0x06DD | 0x070F | 0x0890..=0x0891 | 0x08E2 | 0x180E | 0x200B..=0x200F
        | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F | 0xFEFF | 0xFFF9..=0xFFFB | 0x110BD | 0x110CD
        | 0x13430..=0x1343F | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A | 0xE0001 | 0xE0020..=0xE007F);
    let private = matches!(u, 0xE000..=0xF8FF | 0xF0000..=0xFFFFD | 0x100000..=0x10FFFD);
    let nonchar = (0xFDD0..=0xFDEF).contains(&u) || u & 0xFFFE == 0xFFFE;
    !(c.is_control() || c.is_whitespace() || format || private || nonchar)
}

fn escape_rune(out: &mut String, c: char, quote: char, ascii: bool) {
    if c == quote || c == '\\' {
        out.push('\\');
        out.push(c);
        return;
    }
    if if ascii { c.is_ascii() && is_print(c) } else { is_print(c) } {
        out.push(c);
        return;
    }
    match c {
        '\x07' => out.push_str("\\a"),
        '\x08' => out.push_str("\\b"),
        '\x0C' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\x0B' => out.push_str("\\v"),
        c if (c as u32) < 0x20 || c as u32 == 0x7F => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c if (c as u32) < 0x10000 => {
            let _ = write!(out, "\\u{:04x}", c as u32);
        }
        c => {
            let _ = write!(out, "\\U{:08x}", c as u32);
        }
    }
}

/// `strconv.Quote` (`ascii`: `QuoteToASCII`).
pub(super) fn quote(s: &str, ascii: bool) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        escape_rune(&mut out, c, '"', ascii);
    }
    out.push('"');
    out
}

/// `strconv.QuoteRune` (`ascii`: `QuoteRuneToASCII`).
fn quote_rune(c: char, ascii: bool) -> String {
    let mut out = String::from("'");
    escape_rune(&mut out, c, '\'', ascii);
    out.push('\'');
    out
}

/// `strconv.CanBackquote`.
fn can_backquote(s: &str) -> bool {
    s.chars().all(|c| c != '\u{FEFF}' && c != '`' && c != '\u{7F}' && (c >= ' ' || c == '\t'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Value {
        Value::String(v.into())
    }

    #[test]
    fn printf_follows_go() {
        let labels = Value::List(vec![s("a"), s("b")].into());
        let cases: Vec<(&str, Vec<Value>, &str)> = vec![
            ("%02d|%-4d|%+d|% d", vec![Value::Int(7), Value::Int(3), Value::Int(5), Value::Int(5)], "07|3   |+5| 5"),
            ("%q %d", vec![labels.clone(), labels.clone()], r#"["a" "b"] [%!d(string=a) %!d(string=b)]"#),
            ("%v %g %.3g %e", vec![Value::Float(1e21); 4], "1e+21 1e+21 1e+21 1.000000e+21"),
            (
                "%v|%8.3f|%-8.2f|%08.3f",
                vec![Value::Float(123456789.0), Value::Float(2.5), Value::Float(-1.0), Value::Float(-3.25)],
                "1.23456789e+08|   2.500|-1.00   |-003.250",
            ),
            ("%x %X %#x % x", vec![Value::Float(1.5), Value::Int(255), s("hi"), s("hi")], "0x1.8p+00 FF 0x6869 68 69"),
            ("%s %s", vec![s("a")], "a %!s(MISSING)"),
            ("%s", vec![s("a"), Value::Int(1), Value::Nil], "a%!(EXTRA int=1, <nil>)"),
            ("%[2]s %[1]s %!", vec![s("a"), s("b")], "b a %!!(string=b)"),
            (
                "%+q %#q %q %O",
                vec![s("ü"), s("x`"), Value::Int(0x1F600), Value::Int(8)],
                "\"\\u00fc\" \"x`\" '😀' 0o10",
            ),
            ("%T %T %T %v", vec![Value::Int(1), labels.clone(), Value::Nil, Value::Nil], "int []string <nil> <nil>"),
            ("%#v %6.2f%%", vec![labels, Value::Float(99.5)], "[]string{\"a\", \"b\"}  99.50%"),
        ];
        for (format, args, want) in cases {
            assert_eq!(sprintf(format, &args), want, "{format}");
        }
        assert_eq!(
            sprint(&[s("a"), Value::Int(1), Value::Int(2), s("b"), Value::Float(3.5), Value::Bool(true)]),
            "a1 2b3.5 true"
        );
        assert_eq!(sprintln(&[s("a"), Value::Int(1)]), "a 1\n");
        assert_eq!(print_action_value(&Value::Nil), "<no value>");
        assert_eq!(print_action_value(&Value::Float(1e-7)), "1e-07");
    }
}
