//! The rule expression language.
//!
//! ```text
//! expr    := or
//! or      := and (("or" | "||") and)*
//! and     := unary (("and" | "&&") unary)*
//! unary   := ("not" | "!") unary | cmp
//! cmp     := sum (op sum)?
//! op      := "==" | "!=" | "<" | "<=" | ">" | ">=" | "contains" | "starts_with" | "ends_with" | "in"
//! sum     := product (("+" | "-") product)*
//! product := operand (("*" | "/" | "%") operand)*
//! operand := "(" expr ")" | number | hex | string | "true" | "false" | list | path
//! list    := "[" (operand ("," operand)*)? "]"
//! path    := ident ("." ident | "[" digits "]")*      e.g. amount, tx.from, $0, path[1]
//! ```
//! Numbers are exact 256-bit integers (decimal with optional `_`, or `0x` hex); no floats, so
//! token amounts compare exactly in raw units. Arithmetic is exact on signed 256-bit magnitudes
//! (`a - b` may be negative); an overflow, a division by zero or a non-number operand gives `null`,
//! so a rule such as `after.totalAssets * 1_000_000 >= after.totalShares * after.price` never holds
//! by accident when a value is missing. A 40-digit hex literal compares equal to the
//! address it spells. A variable that the data does not provide (for example `tx.status` without
//! receipts) is `null`, and any comparison with `null` is false.

use alloy_primitives::{Address, Bytes, U256};
use std::cmp::Ordering;
use std::fmt;

/// A value seen by an expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Val {
    /// Missing data.
    Null,
    /// Boolean.
    Bool(bool),
    /// Non-negative integer.
    Uint(U256),
    /// Negative integer, stored as its magnitude.
    Neg(U256),
    /// Address.
    Addr(Address),
    /// Byte string (also fixed bytes).
    Bytes(Bytes),
    /// Text.
    Str(String),
    /// Array or tuple.
    List(Vec<Val>),
}

impl fmt::Display for Val {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Null => f.write_str("null"),
            Self::Bool(b) => write!(f, "{b}"),
            Self::Uint(u) => write!(f, "{u}"),
            Self::Neg(u) => write!(f, "-{u}"),
            Self::Addr(a) => write!(f, "{a}"),
            Self::Bytes(b) => write!(f, "{b}"),
            Self::Str(s) => f.write_str(s),
            Self::List(xs) => {
                f.write_str("[")?;
                for (i, x) in xs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{x}")?;
                }
                f.write_str("]")
            }
        }
    }
}

impl Val {
    /// The JSON form used in evidence: integers as exact decimal strings.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Self::Null => J::Null,
            Self::Bool(b) => J::Bool(*b),
            Self::List(xs) => J::Array(xs.iter().map(Self::to_json).collect()),
            other => J::String(other.to_string()),
        }
    }
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `contains`
    Contains,
    /// `starts_with`
    StartsWith,
    /// `ends_with`
    EndsWith,
    /// `in`
    In,
}

/// Arithmetic operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArithOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/` (truncating toward zero)
    Div,
    /// `%` (sign of the dividend)
    Rem,
}

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// Arithmetic on two numbers.
    Arith(Box<Expr>, ArithOp, Box<Expr>),
    /// Both sides true.
    And(Box<Expr>, Box<Expr>),
    /// Either side true.
    Or(Box<Expr>, Box<Expr>),
    /// Negation.
    Not(Box<Expr>),
    /// A comparison.
    Cmp(Box<Expr>, CmpOp, Box<Expr>),
    /// A literal.
    Lit(Val),
    /// A hex literal, with its number of digits (its width matters when it is compared with an
    /// address or fixed bytes; see [`crate::vars`]).
    Hex(Val, usize),
    /// A list literal.
    List(Vec<Expr>),
    /// A variable path (`tx.from`, `amount`, `$0`, `path[1]`).
    Var(Vec<PathPart>),
}

/// One step of a variable path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathPart {
    /// A named field.
    Name(String),
    /// An index into a list.
    Index(usize),
}

/// A parse error with the byte offset where it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Byte offset in the source.
    pub pos: usize,
    /// What went wrong.
    pub msg: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at column {}: {}", self.pos + 1, self.msg)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    LBrack,
    RBrack,
    Comma,
    Dot,
    Op(CmpOp),
    Arith(ArithOp),
    And,
    Or,
    Not,
    True,
    False,
    Num(U256),
    Hex(String),
    Str(String),
    Ident(String),
}

fn lex(src: &str) -> Result<Vec<(usize, Tok)>, ParseError> {
    let b = src.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    let err = |pos, msg: &str| ParseError { pos, msg: msg.to_string() };
    while i < b.len() {
        let c = b[i];
        let start = i;
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        // `get`, not indexing: the next two bytes may split a multi-byte character.
        let two = src.get(i..i + 2).unwrap_or("");
        let tok = match (c, two) {
            (_, "==") => {
                i += 2;
                Tok::Op(CmpOp::Eq)
            }
            (_, "!=") => {
                i += 2;
                Tok::Op(CmpOp::Ne)
            }
            (_, "<=") => {
                i += 2;
                Tok::Op(CmpOp::Le)
            }
            (_, ">=") => {
                i += 2;
                Tok::Op(CmpOp::Ge)
            }
            (_, "&&") => {
                i += 2;
                Tok::And
            }
            (_, "||") => {
                i += 2;
                Tok::Or
            }
            (b'<', _) => {
                i += 1;
                Tok::Op(CmpOp::Lt)
            }
            (b'>', _) => {
                i += 1;
                Tok::Op(CmpOp::Gt)
            }
            (b'!', _) => {
                i += 1;
                Tok::Not
            }
            (b'+' | b'-' | b'*' | b'/' | b'%', _) => {
                i += 1;
                Tok::Arith(match c {
                    b'+' => ArithOp::Add,
                    b'-' => ArithOp::Sub,
                    b'*' => ArithOp::Mul,
                    b'/' => ArithOp::Div,
                    _ => ArithOp::Rem,
                })
            }
            (b'(', _) => {
                i += 1;
                Tok::LParen
            }
            (b')', _) => {
                i += 1;
                Tok::RParen
            }
            (b'[', _) => {
                i += 1;
                Tok::LBrack
            }
            (b']', _) => {
                i += 1;
                Tok::RBrack
            }
            (b',', _) => {
                i += 1;
                Tok::Comma
            }
            (b'.', _) => {
                i += 1;
                Tok::Dot
            }
            (b'\'' | b'"', _) => {
                let q = c;
                i += 1;
                let s = i;
                while i < b.len() && b[i] != q {
                    i += 1;
                }
                if i >= b.len() {
                    return Err(err(start, "unterminated string"));
                }
                let text = src[s..i].to_string();
                i += 1;
                Tok::Str(text)
            }
            (b'0', "0x" | "0X") => {
                i += 2;
                let s = i;
                while i < b.len() && b[i].is_ascii_hexdigit() {
                    i += 1;
                }
                if i == s {
                    return Err(err(start, "empty hex literal"));
                }
                Tok::Hex(src[s..i].to_ascii_lowercase())
            }
            (b'0'..=b'9', _) => {
                let s = i;
                while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
                    i += 1;
                }
                let digits: String = src[s..i].chars().filter(|c| *c != '_').collect();
                Tok::Num(
                    U256::from_str_radix(&digits, 10)
                        .map_err(|_| err(start, "number does not fit in 256 bits"))?,
                )
            }
            (c, _) if c.is_ascii_alphabetic() || c == b'_' || c == b'$' => {
                let s = i;
                i += 1;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                match &src[s..i] {
                    "and" | "AND" => Tok::And,
                    "or" | "OR" => Tok::Or,
                    "not" | "NOT" => Tok::Not,
                    "true" => Tok::True,
                    "false" => Tok::False,
                    "contains" => Tok::Op(CmpOp::Contains),
                    "starts_with" => Tok::Op(CmpOp::StartsWith),
                    "ends_with" => Tok::Op(CmpOp::EndsWith),
                    "in" => Tok::Op(CmpOp::In),
                    id => Tok::Ident(id.to_string()),
                }
            }
            _ => {
                let ch = src[i..].chars().next().unwrap_or('?');
                return Err(err(start, &format!("unexpected character {ch:?}")));
            }
        };
        out.push((start, tok));
    }
    Ok(out)
}

struct Parser {
    toks: Vec<(usize, Tok)>,
    pos: usize,
    end: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.1)
    }
    fn at(&self) -> usize {
        self.toks.get(self.pos).map_or(self.end, |t| t.0)
    }
    fn err(&self, msg: impl Into<String>) -> ParseError {
        ParseError { pos: self.at(), msg: msg.into() }
    }
    fn bump(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).map(|t| t.1.clone());
        self.pos += 1;
        t
    }
    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > 64 {
            return Err(self.err("expression nested too deeply"));
        }
        Ok(())
    }
    fn or(&mut self) -> Result<Expr, ParseError> {
        self.enter()?;
        let mut l = self.and()?;
        while self.peek() == Some(&Tok::Or) {
            self.bump();
            l = Expr::Or(Box::new(l), Box::new(self.and()?));
        }
        self.depth -= 1;
        Ok(l)
    }
    fn and(&mut self) -> Result<Expr, ParseError> {
        let mut l = self.unary()?;
        while self.peek() == Some(&Tok::And) {
            self.bump();
            l = Expr::And(Box::new(l), Box::new(self.unary()?));
        }
        Ok(l)
    }
    fn unary(&mut self) -> Result<Expr, ParseError> {
        if self.peek() == Some(&Tok::Not) {
            self.bump();
            self.enter()?;
            let e = Expr::Not(Box::new(self.unary()?));
            self.depth -= 1;
            return Ok(e);
        }
        let l = self.sum()?;
        if let Some(Tok::Op(op)) = self.peek() {
            let op = *op;
            self.bump();
            let r = self.sum()?;
            return Ok(Expr::Cmp(Box::new(l), op, Box::new(r)));
        }
        Ok(l)
    }
    fn sum(&mut self) -> Result<Expr, ParseError> {
        let mut l = self.product()?;
        while let Some(Tok::Arith(op @ (ArithOp::Add | ArithOp::Sub))) = self.peek() {
            let op = *op;
            self.bump();
            l = Expr::Arith(Box::new(l), op, Box::new(self.product()?));
        }
        Ok(l)
    }
    fn product(&mut self) -> Result<Expr, ParseError> {
        let mut l = self.operand()?;
        while let Some(Tok::Arith(op @ (ArithOp::Mul | ArithOp::Div | ArithOp::Rem))) = self.peek()
        {
            let op = *op;
            self.bump();
            l = Expr::Arith(Box::new(l), op, Box::new(self.operand()?));
        }
        Ok(l)
    }
    fn operand(&mut self) -> Result<Expr, ParseError> {
        let at = self.at();
        match self.bump() {
            Some(Tok::LParen) => {
                let e = self.or()?;
                match self.bump() {
                    Some(Tok::RParen) => Ok(e),
                    _ => Err(ParseError { pos: at, msg: "unclosed \"(\"".into() }),
                }
            }
            Some(Tok::LBrack) => {
                let mut items = Vec::new();
                if self.peek() == Some(&Tok::RBrack) {
                    self.bump();
                    return Ok(Expr::List(items));
                }
                loop {
                    items.push(self.operand()?);
                    match self.bump() {
                        Some(Tok::Comma) => continue,
                        Some(Tok::RBrack) => return Ok(Expr::List(items)),
                        _ => return Err(ParseError { pos: at, msg: "unclosed \"[\"".into() }),
                    }
                }
            }
            Some(Tok::True) => Ok(Expr::Lit(Val::Bool(true))),
            Some(Tok::False) => Ok(Expr::Lit(Val::Bool(false))),
            Some(Tok::Num(n)) => Ok(Expr::Lit(Val::Uint(n))),
            Some(Tok::Str(s)) => Ok(Expr::Lit(Val::Str(s))),
            Some(Tok::Hex(h)) => {
                let digits = h.len();
                let v = if h.len() == 40 {
                    let a: Address = h
                        .parse()
                        .map_err(|_| ParseError { pos: at, msg: "bad address literal".into() })?;
                    Val::Addr(a)
                } else if h.len() <= 64 {
                    let n = U256::from_str_radix(&h, 16)
                        .map_err(|_| ParseError { pos: at, msg: "bad hex literal".into() })?;
                    Val::Uint(n)
                } else {
                    let padded = if h.len() % 2 == 1 { format!("0{h}") } else { h };
                    let b: Bytes = format!("0x{padded}")
                        .parse()
                        .map_err(|_| ParseError { pos: at, msg: "bad hex literal".into() })?;
                    Val::Bytes(b)
                };
                Ok(Expr::Hex(v, digits))
            }
            Some(Tok::Ident(id)) => {
                let mut path = vec![PathPart::Name(id)];
                loop {
                    match self.peek() {
                        Some(Tok::Dot) => {
                            self.bump();
                            match self.bump() {
                                Some(Tok::Ident(n)) => path.push(PathPart::Name(n)),
                                Some(Tok::Num(n)) if n < U256::from(1u64 << 32) => {
                                    path.push(PathPart::Index(n.to::<usize>()))
                                }
                                _ => return Err(self.err("expected a field name after \".\"")),
                            }
                        }
                        Some(Tok::LBrack) => {
                            self.bump();
                            let idx = match self.bump() {
                                Some(Tok::Num(n)) if n < U256::from(1u64 << 32) => n.to::<usize>(),
                                _ => return Err(self.err("expected an index")),
                            };
                            if self.bump() != Some(Tok::RBrack) {
                                return Err(self.err("expected \"]\""));
                            }
                            path.push(PathPart::Index(idx));
                        }
                        _ => break,
                    }
                }
                Ok(Expr::Var(path))
            }
            Some(t) => Err(ParseError { pos: at, msg: format!("unexpected {}", tok_name(&t)) }),
            None => Err(ParseError { pos: at, msg: "unexpected end of expression".into() }),
        }
    }
}

fn tok_name(t: &Tok) -> &'static str {
    match t {
        Tok::RParen => "\")\"",
        Tok::RBrack => "\"]\"",
        Tok::Comma => "\",\"",
        Tok::Dot => "\".\"",
        Tok::Op(_) | Tok::Arith(_) => "operator",
        Tok::And => "\"and\"",
        Tok::Or => "\"or\"",
        _ => "token",
    }
}

/// Parses an expression.
pub fn parse(src: &str) -> Result<Expr, ParseError> {
    let toks = lex(src)?;
    let mut p = Parser { toks, pos: 0, end: src.len(), depth: 0 };
    let e = p.or()?;
    if p.pos < p.toks.len() {
        return Err(p.err("unexpected input after the expression"));
    }
    Ok(e)
}

/// Where an expression reads its variables from.
pub trait Scope {
    /// The value at `path`, or [`Val::Null`] when the data does not provide it.
    fn lookup(&self, path: &[PathPart]) -> Val;
    /// True when `root` names a variable this scope can provide (used to reject typos when a
    /// rule is loaded).
    fn knows(&self, root: &str) -> bool;
}

impl Expr {
    /// Evaluates to a truth value.
    pub fn truthy(&self, s: &dyn Scope) -> bool {
        match self.eval(s) {
            Val::Bool(b) => b,
            Val::Null => false,
            Val::Uint(u) => !u.is_zero(),
            _ => true,
        }
    }

    /// Every variable root used (for checking names when a rule is loaded).
    pub fn roots(&self, out: &mut Vec<String>) {
        match self {
            Self::And(a, b) | Self::Or(a, b) | Self::Cmp(a, _, b) | Self::Arith(a, _, b) => {
                a.roots(out);
                b.roots(out);
            }
            Self::Not(a) => a.roots(out),
            Self::List(xs) => xs.iter().for_each(|x| x.roots(out)),
            Self::Var(p) => {
                if let Some(PathPart::Name(n)) = p.first() {
                    out.push(n.clone());
                }
            }
            Self::Lit(_) | Self::Hex(..) => {}
        }
    }

    fn eval(&self, s: &dyn Scope) -> Val {
        match self {
            Self::And(a, b) => Val::Bool(a.truthy(s) && b.truthy(s)),
            Self::Or(a, b) => Val::Bool(a.truthy(s) || b.truthy(s)),
            Self::Not(a) => Val::Bool(!a.truthy(s)),
            Self::Lit(v) | Self::Hex(v, _) => v.clone(),
            Self::List(xs) => Val::List(xs.iter().map(|x| x.eval(s)).collect()),
            Self::Var(p) => s.lookup(p),
            Self::Cmp(a, op, b) => Val::Bool(compare(&a.eval(s), *op, &b.eval(s))),
            Self::Arith(a, op, b) => arith(&a.eval(s), *op, &b.eval(s)),
        }
    }
}

/// A number as (non-negative, magnitude).
fn signed(v: &Val) -> Option<(bool, U256)> {
    match v {
        Val::Uint(u) => Some((true, *u)),
        Val::Neg(u) => Some((false, *u)),
        Val::Bool(b) => Some((true, U256::from(*b as u8))),
        Val::Bytes(x) if x.len() <= 32 => Some((true, U256::from_be_slice(x))),
        _ => None,
    }
}

fn from_signed(pos: bool, m: U256) -> Val {
    if pos || m.is_zero() {
        Val::Uint(m)
    } else {
        Val::Neg(m)
    }
}

fn arith(a: &Val, op: ArithOp, b: &Val) -> Val {
    let (Some((pa, ma)), Some((pb, mb))) = (signed(a), signed(b)) else { return Val::Null };
    let add = |pa: bool, ma: U256, pb: bool, mb: U256| -> Option<Val> {
        if pa == pb {
            ma.checked_add(mb).map(|m| from_signed(pa, m))
        } else if ma >= mb {
            Some(from_signed(pa, ma - mb))
        } else {
            Some(from_signed(pb, mb - ma))
        }
    };
    let r = match op {
        ArithOp::Add => add(pa, ma, pb, mb),
        ArithOp::Sub => add(pa, ma, !pb, mb),
        ArithOp::Mul => ma.checked_mul(mb).map(|m| from_signed(pa == pb, m)),
        ArithOp::Div => ma.checked_div(mb).map(|m| from_signed(pa == pb, m)),
        ArithOp::Rem => ma.checked_rem(mb).map(|m| from_signed(pa, m)),
    };
    r.unwrap_or(Val::Null)
}

fn num_cmp(a: &Val, b: &Val) -> Option<Ordering> {
    let key = |v: &Val| -> Option<(bool, U256)> {
        match v {
            Val::Uint(u) => Some((true, *u)),
            Val::Neg(u) => Some((false, *u)),
            Val::Addr(a) => Some((true, U256::from_be_slice(a.as_slice()))),
            Val::Bool(b) => Some((true, U256::from(*b as u8))),
            _ => None,
        }
    };
    let (pa, ma) = key(a)?;
    let (pb, mb) = key(b)?;
    Some(match (pa, pb) {
        (true, true) => ma.cmp(&mb),
        (false, false) => mb.cmp(&ma),
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
    })
}

fn equal(a: &Val, b: &Val) -> bool {
    match (a, b) {
        (Val::Null, _) | (_, Val::Null) => false,
        (Val::Str(x), Val::Str(y)) => x == y,
        (Val::Str(x), Val::Addr(y)) | (Val::Addr(y), Val::Str(x)) => {
            x.parse::<Address>().is_ok_and(|x| x == *y)
        }
        (Val::Bytes(x), Val::Bytes(y)) => x == y,
        (Val::Bytes(x), Val::Uint(u)) | (Val::Uint(u), Val::Bytes(x)) => {
            x.len() <= 32 && U256::from_be_slice(x) == *u
        }
        (Val::List(x), Val::List(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| equal(p, q))
        }
        (Val::Bool(x), Val::Bool(y)) => x == y,
        _ => num_cmp(a, b) == Some(Ordering::Equal),
    }
}

fn compare(a: &Val, op: CmpOp, b: &Val) -> bool {
    if matches!(a, Val::Null) || matches!(b, Val::Null) {
        return false;
    }
    match op {
        CmpOp::Eq => equal(a, b),
        CmpOp::Ne => !equal(a, b),
        CmpOp::Lt => num_cmp(a, b) == Some(Ordering::Less),
        CmpOp::Le => matches!(num_cmp(a, b), Some(Ordering::Less | Ordering::Equal)),
        CmpOp::Gt => num_cmp(a, b) == Some(Ordering::Greater),
        CmpOp::Ge => matches!(num_cmp(a, b), Some(Ordering::Greater | Ordering::Equal)),
        CmpOp::In => match b {
            Val::List(xs) => xs.iter().any(|x| equal(a, x)),
            _ => false,
        },
        CmpOp::Contains => match (a, b) {
            (Val::List(xs), _) => xs.iter().any(|x| equal(x, b)),
            (Val::Str(x), Val::Str(y)) => x.to_lowercase().contains(&y.to_lowercase()),
            (Val::Bytes(x), Val::Bytes(y)) => {
                y.is_empty() || x.windows(y.len()).any(|w| w == y.as_ref())
            }
            _ => false,
        },
        CmpOp::StartsWith | CmpOp::EndsWith => {
            let text = |v: &Val| match v {
                Val::Str(s) => Some(s.to_lowercase()),
                Val::Bytes(b) => Some(b.to_string()),
                Val::Addr(a) => Some(a.to_string().to_lowercase()),
                _ => None,
            };
            match (text(a), text(b)) {
                (Some(x), Some(y)) => {
                    let y = if matches!(b, Val::Bytes(_)) && matches!(a, Val::Bytes(_)) {
                        y.trim_start_matches("0x").to_string()
                    } else {
                        y
                    };
                    if op == CmpOp::StartsWith {
                        x.trim_start_matches("0x").starts_with(y.trim_start_matches("0x"))
                    } else {
                        x.ends_with(&y)
                    }
                }
                _ => false,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    struct M(BTreeMap<&'static str, Val>);
    impl Scope for M {
        fn lookup(&self, p: &[PathPart]) -> Val {
            let mut cur = match p.first() {
                Some(PathPart::Name(n)) => self.0.get(n.as_str()).cloned().unwrap_or(Val::Null),
                _ => return Val::Null,
            };
            for part in &p[1..] {
                cur = match (cur, part) {
                    (Val::List(xs), PathPart::Index(i)) => xs.get(*i).cloned().unwrap_or(Val::Null),
                    _ => Val::Null,
                };
            }
            cur
        }
        fn knows(&self, root: &str) -> bool {
            self.0.contains_key(root)
        }
    }

    fn scope() -> M {
        let a: Address = "0x00000000000000000000000000000000000000aa".parse().unwrap();
        M(BTreeMap::from([
            ("amount", Val::Uint(U256::from(1_000_000u64))),
            ("to", Val::Addr(a)),
            ("delta", Val::Neg(U256::from(5u64))),
            ("name", Val::Str("Wrapped Ether".into())),
            ("ok", Val::Bool(true)),
            ("path", Val::List(vec![Val::Addr(a), Val::Uint(U256::from(7u64))])),
        ]))
    }

    fn t(src: &str) -> bool {
        parse(src).unwrap_or_else(|e| panic!("{src}: {e}")).truthy(&scope())
    }

    #[test]
    fn comparisons_and_logic() {
        assert!(t("amount > 999_999 and amount <= 1000000"));
        assert!(!t("amount > 1000000"));
        assert!(t("amount == 0xf4240"));
        assert!(t("to == 0x00000000000000000000000000000000000000AA"));
        assert!(t("to != 0x00000000000000000000000000000000000000ab || false"));
        assert!(t("delta < 0 and delta < amount"));
        assert!(t("name contains 'ether' && name starts_with \"Wrapped\""));
        assert!(t("not (ok == false)"));
        assert!(t("!missing"));
        assert!(!t("missing == 0") && !t("missing != 0"));
        assert!(t("path contains 7 and path[1] == 7 and path.0 == to"));
        assert!(t("to in [0x00000000000000000000000000000000000000aa, 1]"));
        assert!(!t("amount in []"));
        // Precedence: and binds tighter than or.
        assert!(t("ok or amount == 1 and amount == 2"));
        assert!(!t("(ok or amount == 1) and amount == 2"));
    }

    #[test]
    fn arithmetic_is_exact_and_signed() {
        assert!(t("1 + 2 * 3 == 7"));
        assert!(t("(1 + 2) * 3 == 9"));
        assert!(t("2 - 5 < 0"));
        assert!(t("2 - 5 == 0 - 3"));
        assert!(t("(2 - 5) * (0 - 2) == 6"));
        assert!(t("7 / 2 == 3 and 7 % 2 == 1"));
        assert!(t("(0 - 7) / 2 == 0 - 3"));
        assert!(t("10 - 4 - 3 == 3"));
        // Overflow and division by zero are null: no comparison with them holds.
        let max = "0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";
        assert!(!t(&format!("{max} + 1 > 0")));
        assert!(!t(&format!("{max} + 1 <= 0")));
        assert!(!t("1 / 0 == 0"));
        assert!(!t("1 % 0 >= 0"));
        assert!(t(&format!("{max} - {max} == 0")));
    }

    #[test]
    fn errors_have_positions() {
        assert_eq!(parse("amount >").unwrap_err().pos, 8);
        assert_eq!(parse("(a == 1").unwrap_err().msg, "unclosed \"(\"");
        assert!(parse("a == 'x").is_err());
        assert!(parse("a # 1").unwrap_err().msg.contains("unexpected character"));
        assert!(parse("a b").is_err());
        let deep = "(".repeat(200) + "1" + &")".repeat(200);
        assert!(parse(&deep).is_err());
    }

    #[test]
    fn non_ascii_input_is_an_error_not_a_panic() {
        // Found by the rule_expression fuzz target: a two-byte character after `[`.
        let src = "path[\u{3d8} >= 0xff &-& $0 starts_ab'";
        assert!(parse(src).is_err());
        for s in ["é", "a == 'é'", "ü == 1", "a ==\u{1F600}", "\u{1F600}"] {
            let _ = parse(s);
        }
        assert!(parse("a == 'é'").is_ok());
        // Also found by fuzzing: an index too large for usize.
        assert!(parse(&format!("tpth.{}", "4".repeat(60))).is_err());
    }

    #[test]
    fn roots_are_collected() {
        let mut r = vec![];
        parse("tx.from == 1 and amount > 2").unwrap().roots(&mut r);
        assert_eq!(r, vec!["tx".to_string(), "amount".to_string()]);
    }
}
