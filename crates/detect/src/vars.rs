//! What an expression may read, with the type of each variable, checked when a detector is
//! built: a misspelt path (`tx.valu`) is a config error that suggests the name meant, and so is a
//! comparison that can never hold as written (`tx.to == 0xdeadbeef`: an address against a 4-byte
//! literal; `tx.status == 1`: text against a number).

use crate::expr::{ArithOp, CmpOp, Expr, PathPart, Val};
use alloy_dyn_abi::DynSolType;
use alloy_primitives::U256;
use std::fmt;

/// The static type of a variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ty {
    /// `bool`.
    Bool,
    /// `uintN`.
    Uint(u16),
    /// `intN`.
    Int(u16),
    /// `address`.
    Address,
    /// `bytesN`.
    FixedBytes(u8),
    /// `bytes`.
    Bytes,
    /// Text.
    Str,
    /// `T[]` or `T[N]`.
    List(Box<Ty>),
    /// A tuple (positional).
    Tuple(Vec<Ty>),
    /// Named fields (`tx.*`).
    Struct(Vec<(String, Ty)>),
    /// Not known when the config is loaded (a view call's result).
    Any,
}

impl fmt::Display for Ty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bool => f.write_str("bool"),
            Self::Uint(n) => write!(f, "uint{n}"),
            Self::Int(n) => write!(f, "int{n}"),
            Self::Address => f.write_str("address (20 bytes)"),
            Self::FixedBytes(n) => write!(f, "bytes{n}"),
            Self::Bytes => f.write_str("bytes"),
            Self::Str => f.write_str("text"),
            Self::List(t) => write!(f, "{t}[]"),
            Self::Tuple(_) => f.write_str("tuple"),
            Self::Struct(_) => f.write_str("group of fields"),
            Self::Any => f.write_str("any"),
        }
    }
}

impl Ty {
    /// A named group of fields.
    pub fn fields(fields: &[(&str, Ty)]) -> Self {
        Self::Struct(fields.iter().map(|(n, t)| ((*n).to_string(), t.clone())).collect())
    }

    /// The type of an ABI value as decoded (an indexed event argument of a dynamic type is its
    /// 32-byte hash).
    pub fn of_abi(t: &DynSolType, indexed: bool) -> Self {
        let dynamic = matches!(
            t,
            DynSolType::String
                | DynSolType::Bytes
                | DynSolType::Array(_)
                | DynSolType::FixedArray(..)
                | DynSolType::Tuple(_)
        );
        if indexed && dynamic {
            return Self::FixedBytes(32);
        }
        match t {
            DynSolType::Bool => Self::Bool,
            DynSolType::Uint(n) => Self::Uint(*n as u16),
            DynSolType::Int(n) => Self::Int(*n as u16),
            DynSolType::Address => Self::Address,
            DynSolType::FixedBytes(n) => Self::FixedBytes(*n as u8),
            DynSolType::Function => Self::FixedBytes(24),
            DynSolType::Bytes => Self::Bytes,
            DynSolType::String => Self::Str,
            DynSolType::Array(t) | DynSolType::FixedArray(t, _) => {
                Self::List(Box::new(Self::of_abi(t, false)))
            }
            DynSolType::Tuple(ts) => {
                Self::Tuple(ts.iter().map(|t| Self::of_abi(t, false)).collect())
            }
            #[allow(unreachable_patterns)]
            _ => Self::Any,
        }
    }

    fn is_number(&self) -> bool {
        matches!(self, Self::Uint(_) | Self::Int(_))
    }
}

/// The variables an expression may use: roots with their types.
#[derive(Debug, Clone, Default)]
pub struct Vars {
    roots: Vec<(String, Ty)>,
    /// Roots matched by prefix (`$0`, `$1`... are declared one by one).
    hint: String,
}

impl Vars {
    /// No variables.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a root variable.
    pub fn with(mut self, name: &str, ty: Ty) -> Self {
        if !name.is_empty() {
            self.roots.push((name.to_string(), ty));
        }
        self
    }

    /// A phrase listing what is known, for error messages (default: the root names).
    pub fn hint(mut self, hint: &str) -> Self {
        self.hint = hint.to_string();
        self
    }

    fn root(&self, name: &str) -> Option<&Ty> {
        self.roots.iter().find(|(n, _)| n == name).map(|(_, t)| t)
    }

    fn known(&self) -> String {
        if !self.hint.is_empty() {
            return self.hint.clone();
        }
        self.roots
            .iter()
            .filter(|(n, _)| !n.starts_with('$'))
            .map(|(n, t)| if matches!(t, Ty::Struct(_)) { format!("{n}.*") } else { n.clone() })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The closest of `candidates` to `name`, when one is close enough to be a typo.
pub fn suggest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(name, c), strsim::levenshtein(name, c), c))
        .filter(|(j, l, c)| *j >= 0.8 || *l <= 2.min(c.len().saturating_sub(1)))
        .max_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(&a.1)))
        .map(|(_, _, c)| c)
}

fn path_text(path: &[PathPart]) -> String {
    let mut s = String::new();
    for (i, p) in path.iter().enumerate() {
        match p {
            PathPart::Name(n) if i == 0 => s.push_str(n),
            PathPart::Name(n) => {
                s.push('.');
                s.push_str(n);
            }
            PathPart::Index(k) => s.push_str(&format!("[{k}]")),
        }
    }
    s
}

/// Resolves a variable path to its type, or says what is wrong with it.
fn resolve(path: &[PathPart], vars: &Vars) -> Result<Ty, String> {
    let Some(PathPart::Name(root)) = path.first() else {
        return Err("a variable must start with a name".into());
    };
    let Some(mut ty) = vars.root(root).cloned() else {
        let names = vars.roots.iter().map(|(n, _)| n.as_str());
        let hint =
            suggest(root, names).map(|s| format!("; did you mean `{s}`?")).unwrap_or_default();
        return Err(format!("unknown variable `{root}` (known: {}){hint}", vars.known()));
    };
    for (i, part) in path.iter().enumerate().skip(1) {
        let so_far = path_text(&path[..i]);
        ty = match (ty, part) {
            (Ty::Any, _) => Ty::Any,
            (Ty::Struct(fields), PathPart::Name(n)) => match fields.iter().find(|(f, _)| f == n) {
                Some((_, t)) => t.clone(),
                None => {
                    let names: Vec<&str> = fields.iter().map(|(f, _)| f.as_str()).collect();
                    let hint = suggest(n, names.iter().copied())
                        .map(|s| format!("; did you mean `{so_far}.{s}`?"))
                        .unwrap_or_default();
                    return Err(format!(
                        "unknown field `{so_far}.{n}` (known: {}){hint}",
                        names
                            .iter()
                            .map(|f| format!("{so_far}.{f}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
            },
            (Ty::List(t), PathPart::Index(_)) => *t,
            (Ty::Tuple(ts), PathPart::Index(k)) => match ts.get(*k) {
                Some(t) => t.clone(),
                None => {
                    return Err(format!("`{so_far}` has {} items; [{k}] is past the end", ts.len()))
                }
            },
            (t, PathPart::Name(n)) => {
                return Err(format!("`{so_far}` is {t} and has no field `{n}`"));
            }
            (t, PathPart::Index(k)) => {
                return Err(format!("`{so_far}` is {t} and cannot be indexed with [{k}]"));
            }
        };
    }
    Ok(ty)
}

/// What the checker knows of an operand.
#[derive(Debug, Clone)]
enum T {
    Known(Ty, String),
    Dec(U256),
    Hex(usize, Val),
    Unknown,
}

impl T {
    fn text(&self) -> String {
        match self {
            Self::Known(_, s) => format!("`{s}`"),
            Self::Dec(v) => v.to_string(),
            Self::Hex(d, _) => format!("a {d}-digit hex literal"),
            Self::Unknown => "value".into(),
        }
    }
}

fn operand(e: &Expr, vars: &Vars) -> Result<T, String> {
    check_inner(e, vars)?;
    Ok(match e {
        Expr::Var(p) => T::Known(resolve(p, vars)?, path_text(p)),
        Expr::Lit(Val::Uint(u)) => T::Dec(*u),
        Expr::Hex(v, digits) => T::Hex(*digits, v.clone()),
        Expr::Lit(Val::Str(s)) => T::Known(Ty::Str, format!("'{s}'")),
        Expr::Lit(Val::Bool(b)) => T::Known(Ty::Bool, b.to_string()),
        Expr::Arith(..) => T::Known(Ty::Int(256), "arithmetic".into()),
        Expr::Cmp(..) | Expr::And(..) | Expr::Or(..) | Expr::Not(_) => {
            T::Known(Ty::Bool, "a condition".into())
        }
        _ => T::Unknown,
    })
}

fn fits(u: U256, bits: u16) -> bool {
    bits >= 256 || u < (U256::from(1u8) << usize::from(bits))
}

/// Why comparing `a` with `b` can never be what was meant, if it cannot.
fn mismatch(a: &T, op: CmpOp, b: &T) -> Option<String> {
    use T::{Dec, Hex, Known};
    let ordering = matches!(op, CmpOp::Lt | CmpOp::Le | CmpOp::Gt | CmpOp::Ge);
    let (at, bt) = (a.text(), b.text());
    // Check both orders with one table.
    for (x, y, xt, yt) in [(a, b, &at, &bt), (b, a, &bt, &at)] {
        let msg = match (x, y) {
            (Known(Ty::Any, _), _) | (_, Known(Ty::Any, _)) => return None,
            (Known(Ty::Address, _), Hex(d, _)) if *d != 40 => format!(
                "{xt} is an address (20 bytes, 40 hex digits) but {yt} has {} bytes: it can never be equal; write the whole address",
                d.div_ceil(2)
            ),
            (Known(Ty::Address, _), Dec(_)) => format!(
                "{xt} is an address: compare it with a 40-digit hex address, not the number {yt}"
            ),
            (Known(Ty::Address, _), Known(t, _)) if t.is_number() || *t == Ty::Bool => {
                format!("{xt} is an address and {yt} is {t}: they cannot be what was meant")
            }
            (Known(Ty::Address, _), Known(Ty::FixedBytes(n), _)) if *n != 20 => {
                format!("{xt} is an address (20 bytes) and {yt} is bytes{n}")
            }
            (Known(Ty::FixedBytes(n), _), Hex(d, _)) if d.div_ceil(2) > usize::from(*n) => format!(
                "{xt} is bytes{n} but {yt} has {} bytes: it can never be equal",
                d.div_ceil(2)
            ),
            (Known(Ty::FixedBytes(n), _), Known(Ty::FixedBytes(m), _)) if n != m => {
                format!("{xt} is bytes{n} and {yt} is bytes{m}: they can never be equal")
            }
            (Known(Ty::Uint(n), _), Hex(_, Val::Uint(v))) | (Known(Ty::Uint(n), _), Dec(v))
                if !fits(*v, *n) =>
            {
                format!("{xt} is uint{n} and {yt} does not fit in {n} bits: it can never be equal")
            }
            (Known(Ty::Str, _), Dec(_) | Hex(..)) => format!(
                "{xt} is text and {yt} is a number: they are never equal (for a transaction's outcome use tx.success)"
            ),
            (Known(Ty::Str, _), Known(t, _)) if *t != Ty::Str && *t != Ty::Address => {
                format!("{xt} is text and {yt} is {t}: they are never equal")
            }
            (Known(Ty::Bool, _), Known(Ty::Str, _)) => {
                format!("{xt} is a bool and {yt} is text: they are never equal")
            }
            (Known(t @ (Ty::Str | Ty::Bytes | Ty::List(_) | Ty::Tuple(_)), _), _) if ordering => {
                format!("{xt} is {t}: it has no order (use == or contains)")
            }
            _ => continue,
        };
        return Some(msg);
    }
    None
}

fn check_inner(e: &Expr, vars: &Vars) -> Result<(), String> {
    match e {
        Expr::And(a, b) | Expr::Or(a, b) => {
            check_inner(a, vars)?;
            check_inner(b, vars)
        }
        Expr::Not(a) => check_inner(a, vars),
        Expr::Arith(a, op, b) => {
            for side in [a, b] {
                if let T::Known(t, s) = operand(side, vars)? {
                    if matches!(t, Ty::Address | Ty::Str | Ty::Bytes | Ty::List(_) | Ty::Tuple(_)) {
                        let o = match op {
                            ArithOp::Add => "+",
                            ArithOp::Sub => "-",
                            ArithOp::Mul => "*",
                            ArithOp::Div => "/",
                            ArithOp::Rem => "%",
                        };
                        return Err(format!("`{s}` is {t}: it cannot be used with {o}"));
                    }
                }
            }
            Ok(())
        }
        Expr::Cmp(a, op, b) => {
            let ta = operand(a, vars)?;
            match (op, &**b) {
                (CmpOp::In, Expr::List(items)) => {
                    for it in items {
                        let ti = operand(it, vars)?;
                        if let Some(m) = mismatch(&ta, CmpOp::Eq, &ti) {
                            return Err(m);
                        }
                    }
                    Ok(())
                }
                (CmpOp::Eq | CmpOp::Ne | CmpOp::Lt | CmpOp::Le | CmpOp::Gt | CmpOp::Ge, _) => {
                    let tb = operand(b, vars)?;
                    mismatch(&ta, *op, &tb).map_or(Ok(()), Err)
                }
                _ => operand(b, vars).map(drop),
            }
        }
        Expr::List(xs) => xs.iter().try_for_each(|x| check_inner(x, vars)),
        Expr::Var(p) => resolve(p, vars).map(drop),
        Expr::Lit(_) | Expr::Hex(..) => Ok(()),
    }
}

/// Checks every variable path of `e` against `vars` and every comparison for operands that
/// can never be compared as written. The message says what and suggests the name meant.
pub fn check(e: &Expr, vars: &Vars) -> Result<(), String> {
    check_inner(e, vars)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::parse;

    fn vars() -> Vars {
        Vars::new()
            .with(
                "tx",
                Ty::fields(&[
                    ("from", Ty::Address),
                    ("to", Ty::Address),
                    ("value", Ty::Uint(256)),
                    ("status", Ty::Str),
                    ("success", Ty::Bool),
                    ("hash", Ty::FixedBytes(32)),
                ]),
            )
            .with("amount", Ty::Uint(8))
            .with("path", Ty::List(Box::new(Ty::Address)))
            .with("after", Ty::Any)
    }

    fn err(src: &str) -> String {
        check(&parse(src).unwrap(), &vars()).unwrap_err()
    }

    #[test]
    fn misspelt_paths_are_refused_with_a_suggestion() {
        assert!(check(&parse("tx.value > 1").unwrap(), &vars()).is_ok());
        let e = err("tx.valu > 1");
        assert!(
            e.contains("unknown field `tx.valu`") && e.contains("did you mean `tx.value`"),
            "{e}"
        );
        let e = err("amout > 1");
        assert!(e.contains("did you mean `amount`"), "{e}");
        assert!(err("tx.value.x == 1").contains("has no field"));
        assert!(err("amount[0] == 1").contains("cannot be indexed"));
        assert!(
            check(&parse("path[3] == tx.from and after.anything > 0").unwrap(), &vars()).is_ok()
        );
    }

    #[test]
    fn comparisons_that_can_never_hold_are_refused() {
        let e = err("tx.to == 0xdeadbeef");
        assert!(e.contains("address") && e.contains("4 bytes"), "{e}");
        assert!(err("0xdeadbeef != tx.from").contains("address"));
        assert!(err("tx.to == 5").contains("address"));
        assert!(err("tx.status == 1").contains("tx.success"));
        assert!(err("amount == 256").contains("uint8"));
        assert!(err(&format!("tx.hash == 0x{}", "1".repeat(66))).contains("bytes32"));
        assert!(err("tx.from in [0x01, 0x00000000000000000000000000000000000000aa]")
            .contains("address"));
        assert!(err("tx.status > 'a'").contains("no order"));
        assert!(err("tx.to + 1 > 0").contains("cannot be used"));
        for ok in [
            "tx.to == 0x00000000000000000000000000000000000000aa",
            "tx.to == '0x00000000000000000000000000000000000000aa'",
            "tx.status == 'success' and tx.success",
            "amount == 255 and amount < 0xff",
            "tx.hash == 0x01",
            "after.x == 0xdeadbeef",
            "tx.value * 2 > amount - 1",
        ] {
            assert!(check(&parse(ok).unwrap(), &vars()).is_ok(), "{ok}");
        }
    }
}
