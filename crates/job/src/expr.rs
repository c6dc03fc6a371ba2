//! The small, safe expression language of `{{ }}` and `<%= %>`.
//!
//! It covers what LKP job files really write, with Ruby's meaning, and nothing that could run
//! code: literals (integers, floats, both string quotes with `#{}` interpolation, nil, true,
//! false, arrays), job keys as names (Hashugar: `a.b.c` into nested hashes, `self['a-b']`,
//! `self.A`, `job['x']`), indexing, a few methods (`first`, `last`, `size`, `to_i`, `to_s`,
//! `upcase`, `downcase`, …), `+ - * / %` with Ruby's integer division, comparisons, `&& || !`,
//! `c ? a : b`, `case … when … then … else … end`, and the functions of LKP's `lib/unit.rb`
//! (`to_seconds`, `to_byte`). Errors are values of [`EvalError`]; the caller adds the location.

use crate::value::{Map, MapExt, Value};

/// Why an expression failed, without its location.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalError(pub String);

type R<T> = std::result::Result<T, EvalError>;

fn err<T>(msg: impl Into<String>) -> R<T> {
    Err(EvalError(msg.into()))
}

const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Int(i64),
    Float(f64),
    Str(Vec<Part>),
    Ident(String),
    Const(String),
    Sym(String),
    Punct(&'static str),
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Lit(String),
    Code(String),
}

/// A parsed expression.
#[derive(Debug, Clone)]
pub enum Expr {
    Lit(Value),
    Interp(Vec<InterpPart>),
    Array(Vec<Expr>),
    Name(String),
    SelfRef,
    Index(Box<Expr>, Box<Expr>),
    Method(Box<Expr>, String, Vec<Expr>),
    Call(String, Vec<Expr>),
    Neg(Box<Expr>),
    Not(Box<Expr>),
    Bin(&'static str, Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    If(Box<Expr>, Box<Expr>, Box<Expr>),
    Case(Box<Expr>, Vec<(Vec<Expr>, Expr)>, Option<Box<Expr>>),
}

#[derive(Debug, Clone)]
pub enum InterpPart {
    Lit(String),
    Expr(Expr),
}

const PUNCTS: &[&str] = &[
    "&&", "||", "==", "!=", "<=", ">=", "=~", "::", "(", ")", "[", "]", ",", ".", "?", ":", "+",
    "-", "*", "/", "%", "<", ">", "!", "=", "{", "}", "|", ";",
];

fn lex(src: &str) -> R<Vec<Tok>> {
    let chars: Vec<char> = src.chars().collect();
    let mut i = 0;
    let mut out: Vec<Tok> = Vec::new();
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '_') {
                i += 1;
            }
            let mut is_float = false;
            if i + 1 < chars.len() && chars[i] == '.' && chars[i + 1].is_ascii_digit() {
                is_float = true;
                i += 1;
                while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '_') {
                    i += 1;
                }
            }
            if i < chars.len() && (chars[i] == 'e' || chars[i] == 'E') {
                let save = i;
                i += 1;
                if i < chars.len() && (chars[i] == '+' || chars[i] == '-') {
                    i += 1;
                }
                if i < chars.len() && chars[i].is_ascii_digit() {
                    is_float = true;
                    while i < chars.len() && chars[i].is_ascii_digit() {
                        i += 1;
                    }
                } else {
                    i = save;
                }
            }
            let text: String = chars[start..i].iter().filter(|c| **c != '_').collect();
            if is_float {
                match text.parse() {
                    Ok(f) => out.push(Tok::Float(f)),
                    Err(_) => return err(format!("bad number {text}")),
                }
            } else {
                match text.parse() {
                    Ok(n) => out.push(Tok::Int(n)),
                    Err(_) => return err(format!("integer {text} is too large")),
                }
            }
            continue;
        }
        if c.is_alphabetic() || c == '_' || c == '@' || c == '$' {
            if c == '@' || c == '$' {
                return err(format!(
                    "`{c}` variables are Ruby, not part of the expression language"
                ));
            }
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let after_dot = matches!(out.last(), Some(Tok::Punct(".")));
            if after_dot && i < chars.len() && (chars[i] == '?' || chars[i] == '!') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            if !after_dot && word.starts_with(|c: char| c.is_uppercase()) {
                out.push(Tok::Const(word));
            } else {
                out.push(Tok::Ident(word));
            }
            continue;
        }
        if c == '\'' || c == '"' {
            let (parts, next) = lex_string(&chars, i)?;
            out.push(Tok::Str(parts));
            i = next;
            continue;
        }
        if c == ':' && i + 1 < chars.len() && (chars[i + 1].is_alphabetic() || chars[i + 1] == '_')
        {
            let prev_is_value = matches!(
                out.last(),
                Some(Tok::Int(_) | Tok::Float(_) | Tok::Str(_) | Tok::Ident(_) | Tok::Const(_))
                    | Some(Tok::Punct(")" | "]"))
            );
            if !prev_is_value {
                i += 1;
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                out.push(Tok::Sym(chars[start..i].iter().collect()));
                continue;
            }
        }
        let rest: String = chars[i..chars.len().min(i + 2)].iter().collect();
        match PUNCTS.iter().find(|p| rest.starts_with(**p)) {
            Some(p) => {
                out.push(Tok::Punct(p));
                i += p.chars().count();
            }
            None => return err(format!("unexpected character `{c}`")),
        }
    }
    Ok(out)
}

fn lex_string(chars: &[char], start: usize) -> R<(Vec<Part>, usize)> {
    let quote = chars[start];
    let mut i = start + 1;
    let mut parts = Vec::new();
    let mut cur = String::new();
    while i < chars.len() {
        let c = chars[i];
        if c == quote {
            if !cur.is_empty() || parts.is_empty() {
                parts.push(Part::Lit(cur));
            }
            return Ok((parts, i + 1));
        }
        if c == '\\' && i + 1 < chars.len() {
            let n = chars[i + 1];
            i += 2;
            if quote == '\'' {
                if n == '\'' || n == '\\' {
                    cur.push(n);
                } else {
                    cur.push('\\');
                    cur.push(n);
                }
            } else {
                cur.push(match n {
                    'n' => '\n',
                    't' => '\t',
                    'r' => '\r',
                    's' => ' ',
                    'e' => '\u{1b}',
                    '0' => '\0',
                    other => other,
                });
            }
            continue;
        }
        if quote == '"' && c == '#' && chars.get(i + 1) == Some(&'{') {
            let mut depth = 1;
            let mut j = i + 2;
            while j < chars.len() && depth > 0 {
                match chars[j] {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    _ => {}
                }
                j += 1;
            }
            if depth > 0 {
                return err("unterminated `#{` in a string");
            }
            if !cur.is_empty() {
                parts.push(Part::Lit(std::mem::take(&mut cur)));
            }
            parts.push(Part::Code(chars[i + 2..j - 1].iter().collect()));
            i = j;
            continue;
        }
        cur.push(c);
        i += 1;
    }
    err("unterminated string")
}

struct P {
    toks: Vec<Tok>,
    pos: usize,
    depth: usize,
}

/// Parses an expression.
pub fn parse(src: &str) -> R<Expr> {
    parse_depth(src, 0)
}

fn parse_depth(src: &str, depth: usize) -> R<Expr> {
    let toks = lex(src)?;
    if toks.is_empty() {
        return err("empty expression");
    }
    let mut p = P {
        toks,
        pos: 0,
        depth,
    };
    let e = p.expr()?;
    if p.pos < p.toks.len() {
        return err(format!(
            "unexpected {} after the expression (only expressions are supported: no \
             assignments, blocks or statements)",
            describe(&p.toks[p.pos])
        ));
    }
    Ok(e)
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Int(n) => n.to_string(),
        Tok::Float(f) => f.to_string(),
        Tok::Str(_) => "a string".into(),
        Tok::Ident(s) | Tok::Const(s) => format!("`{s}`"),
        Tok::Sym(s) => format!("`:{s}`"),
        Tok::Punct(p) => format!("`{p}`"),
    }
}

impl P {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn is_punct(&self, p: &str) -> bool {
        matches!(self.peek(), Some(Tok::Punct(q)) if *q == p)
    }
    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(q)) if q == w)
    }
    fn eat_punct(&mut self, p: &str) -> bool {
        if self.is_punct(p) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn eat_word(&mut self, w: &str) -> bool {
        if self.is_word(w) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn expect_punct(&mut self, p: &str) -> R<()> {
        if self.eat_punct(p) {
            Ok(())
        } else {
            match self.peek() {
                Some(t) => err(format!("expected `{p}`, found {}", describe(t))),
                None => err(format!("expected `{p}` at the end of the expression")),
            }
        }
    }

    fn expr(&mut self) -> R<Expr> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return err("expression nested too deeply");
        }
        let e = self.ternary();
        self.depth -= 1;
        e
    }

    fn ternary(&mut self) -> R<Expr> {
        let cond = self.or()?;
        if self.eat_punct("?") {
            let a = self.expr()?;
            self.expect_punct(":")?;
            let b = self.expr()?;
            return Ok(Expr::If(Box::new(cond), Box::new(a), Box::new(b)));
        }
        Ok(cond)
    }

    fn or(&mut self) -> R<Expr> {
        let mut l = self.and()?;
        while self.eat_punct("||") || self.eat_word("or") {
            let r = self.and()?;
            l = Expr::Or(Box::new(l), Box::new(r));
        }
        Ok(l)
    }

    fn and(&mut self) -> R<Expr> {
        let mut l = self.not()?;
        while self.eat_punct("&&") || self.eat_word("and") {
            let r = self.not()?;
            l = Expr::And(Box::new(l), Box::new(r));
        }
        Ok(l)
    }

    fn not(&mut self) -> R<Expr> {
        if self.eat_word("not") {
            let e = self.not()?;
            return Ok(Expr::Not(Box::new(e)));
        }
        self.equality()
    }

    fn equality(&mut self) -> R<Expr> {
        let l = self.comparison()?;
        for op in ["==", "!=", "=~"] {
            if self.eat_punct(op) {
                if op == "=~" {
                    return err("regular expressions (`=~`) are not supported");
                }
                let r = self.comparison()?;
                return Ok(Expr::Bin(op_name(op), Box::new(l), Box::new(r)));
            }
        }
        Ok(l)
    }

    fn comparison(&mut self) -> R<Expr> {
        let mut l = self.additive()?;
        loop {
            let Some(op) = ["<=", ">=", "<", ">"]
                .into_iter()
                .find(|op| self.is_punct(op))
            else {
                return Ok(l);
            };
            self.pos += 1;
            let r = self.additive()?;
            l = Expr::Bin(op_name(op), Box::new(l), Box::new(r));
        }
    }

    fn additive(&mut self) -> R<Expr> {
        let mut l = self.multiplicative()?;
        loop {
            let Some(op) = ["+", "-"].into_iter().find(|op| self.is_punct(op)) else {
                return Ok(l);
            };
            self.pos += 1;
            let r = self.multiplicative()?;
            l = Expr::Bin(op_name(op), Box::new(l), Box::new(r));
        }
    }

    fn multiplicative(&mut self) -> R<Expr> {
        let mut l = self.unary()?;
        loop {
            let Some(op) = ["*", "/", "%"].into_iter().find(|op| self.is_punct(op)) else {
                return Ok(l);
            };
            self.pos += 1;
            let r = self.unary()?;
            l = Expr::Bin(op_name(op), Box::new(l), Box::new(r));
        }
    }

    fn unary(&mut self) -> R<Expr> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return err("expression nested too deeply");
        }
        let e = if self.eat_punct("!") {
            self.unary().map(|e| Expr::Not(Box::new(e)))
        } else if self.eat_punct("-") {
            self.unary().map(|e| match e {
                Expr::Lit(Value::Int(n)) => Expr::Lit(Value::Int(-n)),
                Expr::Lit(Value::Float(f)) => Expr::Lit(Value::Float(-f)),
                e => Expr::Neg(Box::new(e)),
            })
        } else if self.eat_punct("+") {
            self.unary()
        } else {
            self.postfix()
        };
        self.depth -= 1;
        e
    }

    fn args(&mut self) -> R<Vec<Expr>> {
        let mut args = Vec::new();
        if self.eat_punct(")") {
            return Ok(args);
        }
        loop {
            args.push(self.expr()?);
            if self.eat_punct(")") {
                return Ok(args);
            }
            self.expect_punct(",")?;
        }
    }

    fn postfix(&mut self) -> R<Expr> {
        let mut e = self.primary()?;
        loop {
            if self.eat_punct(".") {
                let name = match self.peek() {
                    Some(Tok::Ident(n)) | Some(Tok::Const(n)) => n.clone(),
                    Some(t) => {
                        return err(format!("expected a name after `.`, found {}", describe(t)));
                    }
                    None => return err("expected a name after `.`"),
                };
                self.pos += 1;
                let args = if self.eat_punct("(") {
                    self.args()?
                } else {
                    Vec::new()
                };
                if self.is_punct("{") || self.is_word("do") {
                    return err("blocks (`{ … }`, `do … end`) are not supported");
                }
                e = Expr::Method(Box::new(e), name, args);
            } else if self.is_punct("[") {
                self.pos += 1;
                let idx = self.expr()?;
                self.expect_punct("]")?;
                e = Expr::Index(Box::new(e), Box::new(idx));
            } else {
                return Ok(e);
            }
        }
    }

    fn primary(&mut self) -> R<Expr> {
        let Some(tok) = self.peek().cloned() else {
            return err("the expression ends too early");
        };
        self.pos += 1;
        match tok {
            Tok::Int(n) => Ok(Expr::Lit(Value::Int(n))),
            Tok::Float(f) => Ok(Expr::Lit(Value::Float(f))),
            Tok::Sym(s) => Ok(Expr::Lit(Value::Symbol(s))),
            Tok::Str(parts) => {
                let mut out = Vec::new();
                for part in parts {
                    match part {
                        Part::Lit(s) => out.push(InterpPart::Lit(s)),
                        Part::Code(c) => {
                            out.push(InterpPart::Expr(parse_depth(&c, self.depth + 1)?))
                        }
                    }
                }
                match out.as_slice() {
                    [InterpPart::Lit(s)] => Ok(Expr::Lit(Value::str(s.clone()))),
                    _ => Ok(Expr::Interp(out)),
                }
            }
            Tok::Punct("(") => {
                let e = self.expr()?;
                self.expect_punct(")")?;
                Ok(e)
            }
            Tok::Punct("[") => {
                let mut items = Vec::new();
                if !self.eat_punct("]") {
                    loop {
                        items.push(self.expr()?);
                        if self.eat_punct("]") {
                            break;
                        }
                        self.expect_punct(",")?;
                        if self.eat_punct("]") {
                            break;
                        }
                    }
                }
                Ok(Expr::Array(items))
            }
            Tok::Const(c) => err(format!(
                "`{c}` is a Ruby constant: write `self.{c}` or `self['{c}']` for a job key"
            )),
            Tok::Ident(w) => self.word(w),
            Tok::Punct(p) => err(format!("unexpected `{p}`")),
        }
    }

    fn word(&mut self, w: String) -> R<Expr> {
        match w.as_str() {
            "nil" => Ok(Expr::Lit(Value::Nil)),
            "true" => Ok(Expr::Lit(Value::Bool(true))),
            "false" => Ok(Expr::Lit(Value::Bool(false))),
            "self" => Ok(Expr::SelfRef),
            "case" => self.case(),
            "if" | "unless" | "while" | "until" | "for" | "def" | "class" | "module" | "begin"
            | "do" | "end" | "then" | "else" | "elsif" | "when" | "yield" | "return" | "lambda"
            | "proc" | "eval" | "system" | "exec" | "require" | "load" | "send"
            | "instance_eval" | "binding" | "puts" | "print" | "exit" | "abort" | "raise"
            | "__send__" | "open" | "spawn" => err(format!(
                "`{w}` is outside the supported expression language"
            )),
            _ => {
                if self.eat_punct("(") {
                    let args = self.args()?;
                    Ok(Expr::Call(w, args))
                } else if self.is_punct("=") {
                    err("assignments are outside the supported expression language")
                } else {
                    Ok(Expr::Name(w))
                }
            }
        }
    }

    fn case(&mut self) -> R<Expr> {
        let subject = self.expr()?;
        let mut whens = Vec::new();
        let mut otherwise = None;
        loop {
            if self.eat_word("when") {
                let mut values = vec![self.expr()?];
                while self.eat_punct(",") {
                    values.push(self.expr()?);
                }
                if !self.eat_word("then") && !self.eat_punct(";") {
                    return err("expected `then` after `when …`");
                }
                whens.push((values, self.expr()?));
            } else if self.eat_word("else") {
                otherwise = Some(Box::new(self.expr()?));
                if !self.eat_word("end") {
                    return err("expected `end` after `else …` in `case`");
                }
                break;
            } else if self.eat_word("end") {
                break;
            } else {
                return err("expected `when`, `else` or `end` in `case`");
            }
        }
        if whens.is_empty() {
            return err("`case` without `when`");
        }
        Ok(Expr::Case(Box::new(subject), whens, otherwise))
    }
}

fn op_name(op: &str) -> &'static str {
    PUNCTS.iter().find(|p| **p == op).copied().unwrap_or("?")
}

/// The names an expression can see.
pub struct Scope<'a> {
    /// The job: bare names and `self` resolve to its keys.
    pub job: &'a Map,
    /// Local names that shadow job keys (`___` in include files).
    pub locals: &'a [(&'a str, Value)],
}

impl Scope<'_> {
    fn name(&self, n: &str) -> R<Value> {
        if let Some((_, v)) = self.locals.iter().find(|(k, _)| *k == n) {
            return Ok(v.clone());
        }
        if n == "job" && !self.job.contains_str("job") {
            return Ok(Value::Hash(self.job.clone()));
        }
        match self.job.get_str(n) {
            Some(v) => Ok(v.clone()),
            None => err(format!(
                "unknown variable `{n}`: the job has no key `{n}` (KeyError)"
            )),
        }
    }
}

/// Evaluates `expr` in `scope`.
pub fn eval(expr: &Expr, scope: &Scope<'_>) -> R<Value> {
    match expr {
        Expr::Lit(v) => Ok(v.clone()),
        Expr::Interp(parts) => {
            let mut s = String::new();
            for p in parts {
                match p {
                    InterpPart::Lit(l) => s.push_str(l),
                    InterpPart::Expr(e) => s.push_str(&eval(e, scope)?.to_ruby_s()),
                }
            }
            Ok(Value::Str(s))
        }
        Expr::Array(items) => items
            .iter()
            .map(|e| eval(e, scope))
            .collect::<R<Vec<_>>>()
            .map(Value::Array),
        Expr::Name(n) => scope.name(n),
        Expr::SelfRef => Ok(Value::Hash(scope.job.clone())),
        Expr::Index(target, idx) => {
            let t = eval(target, scope)?;
            let i = eval(idx, scope)?;
            index(&t, &i)
        }
        Expr::Method(target, name, args) => {
            if let Expr::SelfRef = **target
                && args.is_empty()
            {
                return scope.name(name);
            }
            let t = eval(target, scope)?;
            let args = args.iter().map(|e| eval(e, scope)).collect::<R<Vec<_>>>()?;
            method(&t, name, &args)
        }
        Expr::Call(name, args) => {
            let args = args.iter().map(|e| eval(e, scope)).collect::<R<Vec<_>>>()?;
            call(name, &args)
        }
        Expr::Neg(e) => match eval(e, scope)? {
            Value::Int(n) => n
                .checked_neg()
                .map(Value::Int)
                .ok_or_else(|| EvalError("integer overflow".into())),
            Value::Float(f) => Ok(Value::Float(-f)),
            v => err(format!("undefined method `-@' for {}", v.type_name())),
        },
        Expr::Not(e) => Ok(Value::Bool(!eval(e, scope)?.truthy())),
        Expr::And(a, b) => {
            let a = eval(a, scope)?;
            if a.truthy() { eval(b, scope) } else { Ok(a) }
        }
        Expr::Or(a, b) => {
            let a = eval(a, scope)?;
            if a.truthy() { Ok(a) } else { eval(b, scope) }
        }
        Expr::If(c, a, b) => {
            if eval(c, scope)?.truthy() {
                eval(a, scope)
            } else {
                eval(b, scope)
            }
        }
        Expr::Case(subject, whens, otherwise) => {
            let s = eval(subject, scope)?;
            for (values, result) in whens {
                for v in values {
                    if case_eq(&eval(v, scope)?, &s) {
                        return eval(result, scope);
                    }
                }
            }
            match otherwise {
                Some(e) => eval(e, scope),
                None => Ok(Value::Nil),
            }
        }
        Expr::Bin(op, a, b) => {
            let a = eval(a, scope)?;
            let b = eval(b, scope)?;
            binary(op, &a, &b)
        }
    }
}

/// Ruby's `==` (1 == 1.0 is true, unlike `eql?`).
fn ruby_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Int(x), Value::Float(y)) | (Value::Float(y), Value::Int(x)) => (*x as f64) == *y,
        (Value::Float(x), Value::Float(y)) => x == y,
        _ => a == b,
    }
}

fn case_eq(pattern: &Value, v: &Value) -> bool {
    ruby_eq(pattern, v)
}

fn num(v: &Value) -> Option<f64> {
    match v {
        Value::Int(n) => Some(*n as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    }
}

fn binary(op: &str, a: &Value, b: &Value) -> R<Value> {
    use Value::{Array, Float, Int, Str};
    let type_error = || {
        err(format!(
            "cannot apply `{op}` to {} and {} (TypeError)",
            a.type_name(),
            b.type_name()
        ))
    };
    let overflow = || EvalError("integer overflow".into());
    match op {
        "==" => return Ok(Value::Bool(ruby_eq(a, b))),
        "!=" => return Ok(Value::Bool(!ruby_eq(a, b))),
        "<" | "<=" | ">" | ">=" => {
            let ord = match (a, b) {
                (Str(_) | Value::Template(_), Str(_) | Value::Template(_)) => {
                    a.as_str().partial_cmp(&b.as_str())
                }
                _ => match (num(a), num(b)) {
                    (Some(x), Some(y)) => x.partial_cmp(&y),
                    _ => {
                        return err(format!(
                            "comparison of {} with {} failed (ArgumentError)",
                            a.type_name(),
                            b.type_name()
                        ));
                    }
                },
            };
            let Some(ord) = ord else {
                return Ok(Value::Bool(false));
            };
            use std::cmp::Ordering::*;
            return Ok(Value::Bool(match op {
                "<" => ord == Less,
                "<=" => ord != Greater,
                ">" => ord == Greater,
                _ => ord != Less,
            }));
        }
        _ => {}
    }
    match (a, b) {
        (Int(x), Int(y)) => {
            let (x, y) = (*x, *y);
            let r = match op {
                "+" => x.checked_add(y),
                "-" => x.checked_sub(y),
                "*" => x.checked_mul(y),
                "/" | "%" => {
                    if y == 0 {
                        return err("divided by 0 (ZeroDivisionError)");
                    }
                    if op == "/" {
                        x.checked_div_euclid(y).map(|_| floor_div(x, y))
                    } else {
                        x.checked_rem_euclid(y).map(|_| x - y * floor_div(x, y))
                    }
                }
                _ => return type_error(),
            };
            r.map(Int).ok_or_else(overflow)
        }
        (Int(_) | Float(_), Int(_) | Float(_)) => {
            let (x, y) = (num(a).unwrap_or(0.0), num(b).unwrap_or(0.0));
            match op {
                "+" => Ok(Float(x + y)),
                "-" => Ok(Float(x - y)),
                "*" => Ok(Float(x * y)),
                "/" | "%" if y == 0.0 => err("divided by 0 (ZeroDivisionError)"),
                "/" => Ok(Float(x / y)),
                "%" => Ok(Float(x - y * (x / y).floor())),
                _ => type_error(),
            }
        }
        (Str(_) | Value::Template(_), Str(_) | Value::Template(_)) if op == "+" => Ok(Str(
            format!("{}{}", a.as_str().unwrap_or(""), b.as_str().unwrap_or("")),
        )),
        (Str(s), Int(n)) if op == "*" => {
            if *n < 0 || (*n as usize).saturating_mul(s.len()) > 1 << 20 {
                return err("string repetition out of range");
            }
            Ok(Str(s.repeat(*n as usize)))
        }
        (Str(s), _) if op == "%" => Ok(Str(s.replace("%s", &b.to_ruby_s()))),
        (Array(x), Array(y)) if op == "+" => Ok(Array(x.iter().chain(y).cloned().collect())),
        (Array(x), Array(y)) if op == "-" => Ok(Array(
            x.iter().filter(|v| !y.contains(v)).cloned().collect(),
        )),
        (Str(_), _) | (_, Str(_)) if op == "+" => err(format!(
            "no implicit conversion of {} into String (TypeError)",
            if matches!(a, Str(_)) {
                b.type_name()
            } else {
                a.type_name()
            }
        )),
        (Value::Nil, _) | (_, Value::Nil) => {
            err(format!("undefined method `{op}' for nil (NoMethodError)"))
        }
        _ => type_error(),
    }
}

fn floor_div(x: i64, y: i64) -> i64 {
    let q = x / y;
    if (x % y != 0) && ((x < 0) != (y < 0)) {
        q - 1
    } else {
        q
    }
}

fn index(t: &Value, i: &Value) -> R<Value> {
    match (t, i) {
        (Value::Hash(h), k) => Ok(h.get(k).cloned().unwrap_or(Value::Nil)),
        (Value::Array(a), Value::Int(n)) => {
            let idx = if *n < 0 { a.len() as i64 + n } else { *n };
            Ok(usize::try_from(idx)
                .ok()
                .and_then(|i| a.get(i))
                .cloned()
                .unwrap_or(Value::Nil))
        }
        (Value::Str(s), Value::Int(n)) => {
            let chars: Vec<char> = s.chars().collect();
            let idx = if *n < 0 { chars.len() as i64 + n } else { *n };
            Ok(usize::try_from(idx)
                .ok()
                .and_then(|i| chars.get(i))
                .map(|c| Value::Str(c.to_string()))
                .unwrap_or(Value::Nil))
        }
        (Value::Nil, _) => err("undefined method `[]' for nil (NoMethodError)"),
        (t, i) => err(format!(
            "cannot index {} with {} (TypeError)",
            t.type_name(),
            i.type_name()
        )),
    }
}

fn ruby_to_i(s: &str) -> i64 {
    let s = s.trim_start();
    let mut end = 0;
    for (i, c) in s.char_indices() {
        if c.is_ascii_digit() || c == '_' || (i == 0 && (c == '-' || c == '+')) {
            end = i + c.len_utf8();
        } else {
            break;
        }
    }
    s[..end].replace('_', "").parse().unwrap_or(0)
}

fn ruby_to_f(s: &str) -> f64 {
    let s = s.trim_start();
    let mut best = 0.0;
    for end in (1..=s.len()).rev() {
        if s.is_char_boundary(end)
            && let Ok(f) = s[..end].parse::<f64>()
        {
            best = f;
            break;
        }
    }
    best
}

fn method(t: &Value, name: &str, args: &[Value]) -> R<Value> {
    use Value::*;
    let arity = |n: usize| -> R<()> {
        if args.len() == n {
            Ok(())
        } else {
            err(format!(
                "wrong number of arguments for `{name}' (given {}, expected {n})",
                args.len()
            ))
        }
    };
    // Hashugar: a key wins over a method of the same name.
    if let Hash(h) = t
        && args.is_empty()
        && let Some(v) = h.get_str(name)
    {
        return Ok(v.clone());
    }
    match (name, t) {
        ("nil?", _) => arity(0).map(|_| Bool(t.is_nil())),
        ("to_s", _) => arity(0).map(|_| Str(t.to_ruby_s())),
        ("inspect", _) => arity(0).map(|_| Str(t.inspect())),
        ("to_i", Int(n)) => Ok(Int(*n)),
        ("to_i", Float(f)) => Ok(Int(f.trunc() as i64)),
        ("to_i", Nil) => Ok(Int(0)),
        ("to_i", Str(_) | Template(_)) => Ok(Int(ruby_to_i(t.as_str().unwrap_or("")))),
        ("to_f", Int(n)) => Ok(Float(*n as f64)),
        ("to_f", Float(f)) => Ok(Float(*f)),
        ("to_f", Str(_) | Template(_)) => Ok(Float(ruby_to_f(t.as_str().unwrap_or("")))),
        ("to_a", Nil) => Ok(Array(Vec::new())),
        ("to_a", Array(_)) => Ok(t.clone()),
        ("abs", Int(n)) => Ok(Int(n.saturating_abs())),
        ("abs", Float(f)) => Ok(Float(f.abs())),
        ("round" | "ceil" | "floor", Int(n)) => Ok(Int(*n)),
        ("round", Float(f)) => Ok(Int(f.round() as i64)),
        ("ceil", Float(f)) => Ok(Int(f.ceil() as i64)),
        ("floor", Float(f)) => Ok(Int(f.floor() as i64)),
        ("zero?", Int(n)) => Ok(Bool(*n == 0)),
        ("even?", Int(n)) => Ok(Bool(n % 2 == 0)),
        ("odd?", Int(n)) => Ok(Bool(n % 2 != 0)),
        ("upcase", Str(_) | Template(_)) => Ok(Str(t.as_str().unwrap_or("").to_uppercase())),
        ("downcase", Str(_) | Template(_)) => Ok(Str(t.as_str().unwrap_or("").to_lowercase())),
        ("capitalize", Str(s)) => {
            let mut c = s.chars();
            Ok(Str(match c.next() {
                Some(f) => f
                    .to_uppercase()
                    .chain(c.flat_map(char::to_lowercase))
                    .collect(),
                None => String::new(),
            }))
        }
        ("strip", Str(s)) => Ok(Str(s.trim().to_string())),
        ("to_sym", Str(s)) => Ok(Symbol(s.clone())),
        ("size" | "length", Str(_) | Template(_)) => {
            Ok(Int(t.as_str().unwrap_or("").chars().count() as i64))
        }
        ("size" | "length" | "count", Array(a)) => Ok(Int(a.len() as i64)),
        ("size" | "length" | "count", Hash(h)) => Ok(Int(h.len() as i64)),
        ("empty?", Str(s)) => Ok(Bool(s.is_empty())),
        ("empty?", Array(a)) => Ok(Bool(a.is_empty())),
        ("empty?", Hash(h)) => Ok(Bool(h.is_empty())),
        ("first", Array(a)) => Ok(a.first().cloned().unwrap_or(Nil)),
        ("last", Array(a)) => Ok(a.last().cloned().unwrap_or(Nil)),
        ("first", Hash(h)) => Ok(h
            .first()
            .map(|(k, v)| Array(vec![k.clone(), v.clone()]))
            .unwrap_or(Nil)),
        ("keys", Hash(h)) => Ok(Array(h.keys().cloned().collect())),
        ("values", Hash(h)) => Ok(Array(h.values().cloned().collect())),
        ("key?" | "has_key?" | "include?" | "member?", Hash(h)) => {
            arity(1)?;
            Ok(Bool(h.contains_key(&args[0])))
        }
        ("include?", Array(a)) => {
            arity(1)?;
            Ok(Bool(a.iter().any(|v| ruby_eq(v, &args[0]))))
        }
        ("include?", Str(s)) => {
            arity(1)?;
            Ok(Bool(s.contains(args[0].as_str().unwrap_or("\u{0}\u{0}"))))
        }
        ("start_with?", Str(s)) => {
            arity(1)?;
            Ok(Bool(
                s.starts_with(args[0].as_str().unwrap_or("\u{0}\u{0}")),
            ))
        }
        ("end_with?", Str(s)) => {
            arity(1)?;
            Ok(Bool(s.ends_with(args[0].as_str().unwrap_or("\u{0}\u{0}"))))
        }
        ("split", Str(s)) => {
            let parts: Vec<Value> = match args.first().and_then(Value::as_str) {
                Some(sep) if !sep.is_empty() => s.split(sep).map(Value::str).collect(),
                _ => s.split_whitespace().map(Value::str).collect(),
            };
            Ok(Array(parts))
        }
        ("sub" | "gsub" | "delete", Str(s)) => {
            let from = args.first().and_then(Value::as_str).unwrap_or("");
            let to = args.get(1).and_then(Value::as_str).unwrap_or("");
            if from.is_empty() {
                return Ok(t.clone());
            }
            Ok(Str(match name {
                "sub" => s.replacen(from, to, 1),
                "gsub" => s.replace(from, to),
                _ => s.chars().filter(|c| !from.contains(*c)).collect(),
            }))
        }
        ("join", Array(a)) => {
            let sep = args.first().map(Value::to_ruby_s).unwrap_or_default();
            Ok(Str(a
                .iter()
                .map(Value::to_ruby_s)
                .collect::<Vec<_>>()
                .join(&sep)))
        }
        ("reverse", Array(a)) => Ok(Array(a.iter().rev().cloned().collect())),
        ("uniq", Array(a)) => {
            let mut out: Vec<Value> = Vec::new();
            for v in a {
                if !out.contains(v) {
                    out.push(v.clone());
                }
            }
            Ok(Array(out))
        }
        ("compact", Array(a)) => Ok(Array(a.iter().filter(|v| !v.is_nil()).cloned().collect())),
        ("min" | "max" | "sum" | "sort", Array(a)) => {
            let mut items = a.clone();
            let mut cmp_err = None;
            items.sort_by(|x, y| match binary("<", x, y) {
                Ok(Bool(true)) => std::cmp::Ordering::Less,
                Ok(_) => match binary(">", x, y) {
                    Ok(Bool(true)) => std::cmp::Ordering::Greater,
                    _ => std::cmp::Ordering::Equal,
                },
                Err(e) => {
                    cmp_err = Some(e);
                    std::cmp::Ordering::Equal
                }
            });
            if let Some(e) = cmp_err {
                return Err(e);
            }
            match name {
                "min" => Ok(items.first().cloned().unwrap_or(Nil)),
                "max" => Ok(items.last().cloned().unwrap_or(Nil)),
                "sort" => Ok(Array(items)),
                _ => a.iter().try_fold(Int(0), |acc, v| binary("+", &acc, v)),
            }
        }
        (_, Hash(_)) => err(format!(
            "unknown key `{name}` (KeyError: no such key in the hash)"
        )),
        (_, Nil) => err(format!("undefined method `{name}' for nil (NoMethodError)")),
        _ => err(format!(
            "undefined method `{name}' for {} (not in the supported expression language)",
            t.type_name()
        )),
    }
}

/// `to_seconds` of LKP's `lib/unit.rb`: `10s`, `5m`, `2h`, `1d`, `1w`, `1y`; numbers as they are.
pub fn to_seconds(v: &Value) -> R<Value> {
    match v {
        Value::Int(_) | Value::Float(_) => Ok(v.clone()),
        Value::Str(_) | Value::Template(_) => {
            let s = v.as_str().unwrap_or("");
            let n = ruby_to_i(s);
            let mult = match s.chars().last() {
                Some('y') => 3600 * 24 * 365,
                Some('w') => 3600 * 24 * 7,
                Some('d') => 3600 * 24,
                Some('h') => 3600,
                Some('m') => 60,
                _ => 1,
            };
            n.checked_mul(mult)
                .map(Value::Int)
                .ok_or_else(|| EvalError("integer overflow".into()))
        }
        other => err(format!(
            "to_seconds: expected a String or a number, got {}",
            other.type_name()
        )),
    }
}

/// `to_byte` of LKP's `lib/unit.rb`: `1G` → 1073741824 (K, M, G, T, P; an optional `B`).
pub fn to_byte(v: &Value) -> R<Value> {
    let Some(s) = v.as_str() else {
        return Ok(v.clone());
    };
    let digits_end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let unit = s[digits_end..].to_uppercase();
    let unit = unit.strip_suffix('B').unwrap_or(&unit);
    let shift = match unit {
        "P" => 50,
        "T" => 40,
        "G" => 30,
        "M" => 20,
        "K" => 10,
        _ => return Ok(v.clone()),
    };
    let n = ruby_to_i(s);
    n.checked_mul(1i64 << shift)
        .map(Value::Int)
        .ok_or_else(|| EvalError("integer overflow".into()))
}

fn call(name: &str, args: &[Value]) -> R<Value> {
    let one = || -> R<&Value> {
        match args {
            [a] => Ok(a),
            _ => err(format!(
                "wrong number of arguments for `{name}' (given {}, expected 1)",
                args.len()
            )),
        }
    };
    match name {
        "to_seconds" => to_seconds(one()?),
        "to_byte" | "to_bytes" => to_byte(one()?),
        "Integer" => match one()? {
            Value::Int(n) => Ok(Value::Int(*n)),
            v => v
                .as_str()
                .and_then(|s| s.trim().replace('_', "").parse().ok())
                .map(Value::Int)
                .ok_or_else(|| EvalError(format!("invalid value for Integer(): {}", v.inspect()))),
        },
        _ => err(format!(
            "unknown function `{name}` (supported: to_seconds, to_byte)"
        )),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::yaml::resolve_plain;

    fn job() -> Map {
        let text = "runtime: 300\nnr_cpu: 8\nsuite: mytest\nA: WORLD\nto-a: new-world\npath: {TO: {the: new world}}\narray: [new, world]\nfsmark: {filesize: 16M}\n";
        let map = crate::source::SourceMap::identity("t".into(), text);
        match crate::yaml::load_one(text, &map, Default::default())
            .unwrap()
            .unwrap()
            .value
        {
            Value::Hash(h) => h,
            _ => unreachable!(),
        }
    }

    fn ev(src: &str) -> Result<Value, EvalError> {
        let j = job();
        eval(
            &parse(src)?,
            &Scope {
                job: &j,
                locals: &[],
            },
        )
    }

    #[test]
    fn table() {
        let cases: &[(&str, &str)] = &[
            ("runtime * 2", "600"),
            ("nr_cpu * 1024", "8192"),
            ("to_seconds('1d')", "86400"),
            ("to_seconds('1h')", "3600"),
            ("to_byte('1G')", "1073741824"),
            ("job['suite']", "mytest"),
            ("self['to-a']", "new-world"),
            ("self.A", "WORLD"),
            ("path.TO.the", "new world"),
            ("array[1]", "world"),
            ("array.last", "world"),
            ("array.first", "new"),
            ("array.size", "2"),
            ("-7 / 2", "-4"),
            ("-7 % 3", "2"),
            ("7 / 2", "3"),
            ("runtime > 100 ? 'slow' : 'fast'", "slow"),
            ("!true || nil", ""),
            ("\"#{suite.upcase}_FS\"", "MYTEST_FS"),
            (
                "case fsmark.filesize when '9B' then '256M' when '8K' then '1G' when '16MB' then '16G' end",
                "",
            ),
            ("case 'x' when 'a', 'x' then 1 else 2 end", "1"),
            ("'a' + 'b'", "ab"),
            ("[1, 2] + [3]", "[1, 2, 3]"),
            ("1.5 * 2", "3.0"),
            ("'10'.to_i + 1", "11"),
            ("nr_cpu.to_s + 'x'", "8x"),
        ];
        for (src, want) in cases {
            assert_eq!(
                ev(src).map(|v| v.to_ruby_s()).as_deref(),
                Ok(*want),
                "{src}"
            );
        }
        assert_eq!(ev("runtime * 2").unwrap(), resolve_plain("600"));
    }

    #[test]
    fn errors() {
        for (src, needle) in [
            ("nonexistent_key", "unknown variable"),
            ("1 / 0", "divided by 0"),
            ("'a' + 1", "TypeError"),
            ("A", "constant"),
            ("x = 1", "assignments"),
            ("[1,2].each { |i| i }", "blocks"),
            ("system('ls')", "outside"),
            ("`ls`", "unexpected character"),
            ("9223372036854775807 + 1", "overflow"),
            (
                "((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((1))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))",
                "too deeply",
            ),
        ] {
            let e = ev(src).unwrap_err();
            assert!(e.0.contains(needle), "{src}: {}", e.0);
        }
    }
}
