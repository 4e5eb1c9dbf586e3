//! `rule`: declarative matching of function calls (at any depth of the call tree), events and
//! transaction fields, with an expression language over decoded values.
//!
//! A transaction matches when its transaction condition holds and at least one configured
//! function call or event matches (or, with neither configured, when the transaction condition
//! alone holds). One finding per matching transaction lists every call and event that matched.

use crate::abi::{EvSig, FnSig};
use crate::expr::{self, Expr, PathPart, Scope, Val};
use crate::vars::{self, Ty, Vars};
use crate::{DetectError, Needs, Result};
use alloy_json_abi::JsonAbi;
use palisade_primitives::{
    Address, BlockData, CallView, Finding, Findings, Severity, Transaction, U256,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Config of one `rule`.
///
/// A proxy hop (a delegatecall that forwards its caller's calldata unchanged) is the same logical
/// call as the call into the proxy, so it is matched once, at the proxy's address.
#[derive(Debug, Clone, Serialize, Deserialize, palisade_derive::ConfigDoc)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// Rule name, unique in the config; the detector id is `rule:<name>`.
    pub name: String,
    /// Limit to one chain.
    #[serde(default)]
    #[config(default = "every chain")]
    pub chain: Option<String>,
    /// Severity of the findings: `info`, `low`, `medium`, `high` or `critical`.
    #[serde(default = "default_severity")]
    pub severity: Severity,
    /// Title of the findings.
    #[serde(default)]
    #[config(default = "rule name and what matched")]
    pub title: Option<String>,
    /// Contracts watched; empty means any address.
    #[serde(default)]
    #[config(default = "`[]` (any)")]
    pub addresses: Vec<Address>,
    /// ABI JSON file, relative to the config file, to resolve bare function and event names.
    #[serde(default)]
    #[config(default = "none")]
    pub abi: Option<PathBuf>,
    /// Function calls to match.
    #[serde(default)]
    #[config(nested)]
    pub functions: Vec<FunctionMatch>,
    /// Events to match; the signature marks `indexed` parameters.
    #[serde(default)]
    #[config(nested)]
    pub events: Vec<EventMatch>,
    /// Condition on the transaction.
    #[serde(default)]
    #[config(ty = "table", default = "none")]
    #[config(nested)]
    pub transaction: Option<TxMatch>,
}

fn default_severity() -> Severity {
    Severity::Medium
}

fn yes() -> bool {
    true
}

/// A function-call condition.
#[derive(Debug, Clone, Serialize, Deserialize, palisade_derive::ConfigDoc)]
#[serde(deny_unknown_fields)]
pub struct FunctionMatch {
    /// Human-readable signature (`transfer(address to, uint256 amount)`) or a name from the ABI.
    pub signature: String,
    /// Condition over the decoded arguments (by name or `$0`, `$1`...), `call.*`, `tx.*`,
    /// `block.*`.
    #[serde(default)]
    #[config(default = "always true")]
    pub expression: Option<String>,
    /// Also match calls made inside other calls, from traces.
    #[serde(default = "yes")]
    pub include_internal: bool,
    /// Also match calls that reverted.
    #[serde(default)]
    pub include_reverted: bool,
}

/// An event condition.
#[derive(Debug, Clone, Serialize, Deserialize, palisade_derive::ConfigDoc)]
#[serde(deny_unknown_fields)]
pub struct EventMatch {
    /// Human-readable signature with `indexed` markers, or a name from the ABI.
    pub signature: String,
    /// Condition over the decoded fields, `log.*`, `tx.*`, `block.*`.
    #[serde(default)]
    #[config(default = "always true")]
    pub expression: Option<String>,
}

/// Transaction status filter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TxStatus {
    /// Any status (default).
    #[default]
    Any,
    /// Successful transactions only.
    Success,
    /// Reverted transactions only.
    Failure,
}

/// A transaction condition.
#[derive(Debug, Clone, Default, Serialize, Deserialize, palisade_derive::ConfigDoc)]
#[serde(deny_unknown_fields)]
pub struct TxMatch {
    /// Status filter: `any`, `success` or `failure`.
    #[serde(default)]
    #[config(ty = "string")]
    pub status: TxStatus,
    /// Condition over `tx.*` and `block.*`.
    #[serde(default)]
    #[config(default = "always true")]
    pub expression: Option<String>,
}

/// Catalog entry.
pub const INFO: crate::About = crate::About {
    kind: "rule",
    description: "Declarative matching of function calls (at any call depth, from traces), events and transaction fields, with expressions over decoded values.",
    needs_no_config: false,
};

#[derive(Debug)]
struct CompiledFn {
    sig: FnSig,
    expr: Option<Expr>,
    include_internal: bool,
    include_reverted: bool,
}

#[derive(Debug)]
struct CompiledEv {
    sig: EvSig,
    expr: Option<Expr>,
}

/// The `rule` detector. Stateless: commit and revert keep no state.
#[derive(Debug)]
pub struct Rule {
    id: String,
    chain: String,
    cfg: RuleConfig,
    functions: Vec<CompiledFn>,
    events: Vec<CompiledEv>,
    tx_expr: Option<Expr>,
}

const TX_ROOTS: &[&str] = &["tx", "block"];

/// The fields of `tx.*`, `block.*`, `call.*` and `log.*` with their types: what
/// [`RuleScope::lookup`] answers (a test checks that every one of them has a value).
fn tx_fields() -> Ty {
    Ty::fields(&[
        ("hash", Ty::FixedBytes(32)),
        ("index", Ty::Uint(64)),
        ("from", Ty::Address),
        ("to", Ty::Address),
        ("value", Ty::Uint(256)),
        ("gas", Ty::Uint(64)),
        ("nonce", Ty::Uint(64)),
        ("input", Ty::Bytes),
        ("gas_used", Ty::Uint(64)),
        ("success", Ty::Bool),
        ("status", Ty::Str),
    ])
}

fn block_fields() -> Ty {
    Ty::fields(&[
        ("number", Ty::Uint(64)),
        ("timestamp", Ty::Uint(64)),
        ("miner", Ty::Address),
        ("base_fee", Ty::Uint(256)),
        ("gas_used", Ty::Uint(64)),
        ("gas_limit", Ty::Uint(64)),
    ])
}

fn call_fields() -> Ty {
    Ty::fields(&[
        ("from", Ty::Address),
        ("to", Ty::Address),
        ("value", Ty::Uint(256)),
        ("depth", Ty::Uint(64)),
        ("type", Ty::Str),
        ("reverted", Ty::Bool),
        ("input", Ty::Bytes),
    ])
}

fn log_fields() -> Ty {
    Ty::fields(&[("address", Ty::Address), ("index", Ty::Uint(64))])
}

/// The variables of a rule expression: `tx.*`, `block.*`, `extra` (`call` or `log`), and the
/// decoded arguments by name, by position (`$0`...) and as `args`.
fn rule_vars(extra: Option<(&str, Ty)>, names: &[String], types: &[Ty]) -> Vars {
    let mut v = Vars::new().with("tx", tx_fields()).with("block", block_fields());
    let mut hint = String::new();
    for n in names.iter().filter(|n| !n.is_empty()) {
        hint += &format!("{n}, ");
    }
    if !names.is_empty() {
        hint += "$0.., args, ";
    }
    hint += "tx.*, block.*";
    if let Some((name, ty)) = extra {
        hint += &format!(", {name}.*");
        v = v.with(name, ty);
    }
    for (i, (n, t)) in names.iter().zip(types).enumerate() {
        v = v.with(n, t.clone()).with(&format!("${i}"), t.clone());
    }
    v.with("args", Ty::Tuple(types.to_vec())).hint(&hint)
}

fn check_expr(e: &Expr, vars: &Vars, rule: &str, field: &str) -> Result<()> {
    vars::check(e, vars).map_err(|reason| DetectError::Config {
        detector: format!("rule:{rule}"),
        field: field.into(),
        reason,
    })
}

impl Rule {
    /// Compiles a rule: parses signatures and expressions and checks variable names.
    pub fn new(cfg: RuleConfig, chain: &str, abi_json: Option<&str>) -> Result<Self> {
        let err = |field: String, reason: String| DetectError::Config {
            detector: format!("rule:{}", cfg.name),
            field,
            reason,
        };
        if cfg.name.trim().is_empty() {
            return Err(err("name".into(), "must not be empty".into()));
        }
        let abi: Option<JsonAbi> = abi_json
            .map(|s| {
                serde_json::from_str::<JsonAbi>(s).or_else(|_| {
                    // Hardhat/Truffle artifacts wrap the ABI in {"abi": [...]}.
                    #[derive(Deserialize)]
                    struct Artifact {
                        abi: JsonAbi,
                    }
                    serde_json::from_str::<Artifact>(s).map(|a| a.abi)
                })
            })
            .transpose()
            .map_err(|e| err("abi".into(), format!("not an ABI JSON file: {e}")))?;
        let parse_expr = |field: String, src: &Option<String>| -> Result<Option<Expr>> {
            src.as_deref()
                .map(|s| expr::parse(s).map_err(|e| err(field.clone(), e.to_string())))
                .transpose()
        };
        let mut functions = Vec::new();
        for (i, f) in cfg.functions.iter().enumerate() {
            let field = format!("functions[{i}]");
            let sig = FnSig::parse(&f.signature, abi.as_ref())
                .map_err(|e| err(format!("{field}.signature"), e))?;
            let ex = parse_expr(format!("{field}.expression"), &f.expression)?;
            if let Some(e) = &ex {
                let vars = rule_vars(Some(("call", call_fields())), &sig.names, &sig.arg_types());
                check_expr(e, &vars, &cfg.name, &format!("{field}.expression"))?;
            }
            functions.push(CompiledFn {
                sig,
                expr: ex,
                include_internal: f.include_internal,
                include_reverted: f.include_reverted,
            });
        }
        let mut events = Vec::new();
        for (i, e) in cfg.events.iter().enumerate() {
            let field = format!("events[{i}]");
            let sig = EvSig::parse(&e.signature, abi.as_ref())
                .map_err(|er| err(format!("{field}.signature"), er))?;
            let ex = parse_expr(format!("{field}.expression"), &e.expression)?;
            if let Some(x) = &ex {
                let names: Vec<String> =
                    sig.indexed_names.iter().chain(&sig.body_names).cloned().collect();
                let vars = rule_vars(Some(("log", log_fields())), &names, &sig.field_types());
                check_expr(x, &vars, &cfg.name, &format!("{field}.expression"))?;
            }
            events.push(CompiledEv { sig, expr: ex });
        }
        let tx_expr = parse_expr(
            "transaction.expression".into(),
            &cfg.transaction.as_ref().and_then(|t| t.expression.clone()),
        )?;
        if let Some(e) = &tx_expr {
            check_expr(e, &rule_vars(None, &[], &[]), &cfg.name, "transaction.expression")?;
        }
        if functions.is_empty() && events.is_empty() && cfg.transaction.is_none() {
            return Err(err(
                "functions".into(),
                "a rule needs at least one of functions, events or transaction".into(),
            ));
        }
        Ok(Self {
            id: format!("rule:{}", cfg.name),
            chain: chain.into(),
            cfg,
            functions,
            events,
            tx_expr,
        })
    }

    fn watched(&self, a: Option<Address>) -> bool {
        self.cfg.addresses.is_empty() || a.is_some_and(|a| self.cfg.addresses.contains(&a))
    }

    fn tx_ok(&self, b: &BlockData, tx_index: u64) -> bool {
        let Some(t) = &self.cfg.transaction else { return true };
        let status = b.receipt(tx_index).and_then(|r| r.status);
        let status_ok = match t.status {
            TxStatus::Any => true,
            TxStatus::Success => status == Some(true),
            TxStatus::Failure => status == Some(false),
        };
        status_ok
            && self.tx_expr.as_ref().is_none_or(|e| {
                e.truthy(&RuleScope { block: b, tx_index, args: &[], call: None, log: None })
            })
    }

    fn scan(&self, b: &BlockData, out: &mut Findings) {
        // tx index -> matched items (BTreeMap: findings come out in block order).
        let mut hits: BTreeMap<u64, Vec<Value>> = BTreeMap::new();
        if !self.functions.is_empty() {
            for c in b.calls() {
                if !self.watched(c.to) {
                    continue;
                }
                for f in &self.functions {
                    if (c.depth > 0 && !f.include_internal)
                        || (c.reverted && !f.include_reverted)
                        || c.forwarded
                    {
                        continue;
                    }
                    let Some(decoded) = f.sig.decode(c.input) else { continue };
                    let Ok(vals) = decoded else { continue };
                    let args: Vec<(String, Val)> = f.sig.names.iter().cloned().zip(vals).collect();
                    let scope = RuleScope {
                        block: b,
                        tx_index: c.tx_index,
                        args: &args,
                        call: Some(&c),
                        log: None,
                    };
                    if f.expr.as_ref().is_none_or(|e| e.truthy(&scope)) {
                        hits.entry(c.tx_index).or_default().push(json!({
                            "type": "function",
                            "signature": f.sig.signature,
                            "address": c.to,
                            "caller": c.from,
                            "depth": c.depth,
                            "call_type": c.call_type,
                            "value_wei": c.value.to_string(),
                            "args": args_json(&args),
                        }));
                    }
                }
            }
        }
        if !self.events.is_empty() {
            if let Some(receipts) = &b.receipts {
                for (i, r) in receipts.iter().enumerate() {
                    let tx_index = r.transaction_index.unwrap_or(i as u64);
                    for (li, log) in r.logs.iter().enumerate() {
                        if !self.watched(Some(log.address)) {
                            continue;
                        }
                        for e in &self.events {
                            let Some(decoded) = e.sig.decode(&log.topics, &log.data) else {
                                continue;
                            };
                            let Ok(args) = decoded else { continue };
                            let li = log.log_index.unwrap_or(li as u64);
                            let scope = RuleScope {
                                block: b,
                                tx_index,
                                args: &args,
                                call: None,
                                log: Some((log.address, li)),
                            };
                            if e.expr.as_ref().is_none_or(|x| x.truthy(&scope)) {
                                hits.entry(tx_index).or_default().push(json!({
                                    "type": "event",
                                    "signature": e.sig.signature,
                                    "address": log.address,
                                    "log_index": li,
                                    "args": args_json(&args),
                                }));
                            }
                        }
                    }
                }
            }
        }
        if self.functions.is_empty() && self.events.is_empty() {
            for t in &b.transactions {
                if self.watched(t.to) {
                    hits.entry(t.index).or_default();
                }
            }
        }
        for (tx_index, matched) in hits {
            if !self.tx_ok(b, tx_index) {
                continue;
            }
            let what = matched
                .first()
                .and_then(|m| m["signature"].as_str())
                .map(|s| s.to_string())
                .unwrap_or_else(|| "transaction".into());
            let title = self.cfg.title.clone().unwrap_or_else(|| {
                format!("{}: {what} in tx {tx_index} of block {}", self.cfg.name, b.header.number)
            });
            let tx = b.transactions.get(tx_index as usize);
            let mut ev = json!({
                "rule": self.cfg.name,
                "tx_index": tx_index,
                "matched": matched,
                "calls_from": b.call_source(),
            });
            if let Some(t) = tx {
                ev["tx"] = tx_json(t, b);
            }
            let f = Finding::new(
                &self.id,
                "rule",
                &self.chain,
                b.block_ref(),
                &format!("tx:{tx_index}"),
                self.cfg.severity,
                title,
            )
            .with_txs(b.tx_hash(tx_index))
            .with_evidence(ev);
            out.push(f);
        }
    }
}

pub(crate) fn args_json(args: &[(String, Val)]) -> Value {
    let mut m = Map::new();
    for (i, (n, v)) in args.iter().enumerate() {
        let key = if n.is_empty() { format!("${i}") } else { n.clone() };
        m.insert(key, v.to_json());
    }
    Value::Object(m)
}

fn tx_json(t: &Transaction, b: &BlockData) -> Value {
    json!({
        "from": t.from,
        "to": t.to,
        "value_wei": t.value.map(|v| v.to_string()),
        "status": b.receipt(t.index).and_then(|r| r.status).map(|s| if s { "success" } else { "failure" }),
    })
}

struct RuleScope<'a> {
    block: &'a BlockData,
    tx_index: u64,
    args: &'a [(String, Val)],
    call: Option<&'a CallView<'a>>,
    log: Option<(Address, u64)>,
}

fn opt_addr(a: Option<Address>) -> Val {
    a.map_or(Val::Null, Val::Addr)
}

fn opt_u(a: Option<u64>) -> Val {
    a.map_or(Val::Null, |x| Val::Uint(U256::from(x)))
}

impl Scope for RuleScope<'_> {
    fn knows(&self, root: &str) -> bool {
        TX_ROOTS.contains(&root) || self.args.iter().any(|(n, _)| n == root)
    }

    fn lookup(&self, path: &[PathPart]) -> Val {
        let Some(PathPart::Name(root)) = path.first() else { return Val::Null };
        let field = match path.get(1) {
            Some(PathPart::Name(n)) => n.as_str(),
            _ => "",
        };
        let b = self.block;
        let v = match root.as_str() {
            "tx" => {
                let t = b.transactions.get(self.tx_index as usize);
                let r = b.receipt(self.tx_index);
                match field {
                    "hash" => b
                        .tx_hash(self.tx_index)
                        .map_or(Val::Null, |h| Val::Bytes(h.0.to_vec().into())),
                    "index" => Val::Uint(U256::from(self.tx_index)),
                    "from" => opt_addr(t.and_then(|t| t.from)),
                    "to" => opt_addr(t.and_then(|t| t.to)),
                    "value" => t.and_then(|t| t.value).map_or(Val::Null, Val::Uint),
                    "gas" => opt_u(t.and_then(|t| t.gas)),
                    "nonce" => opt_u(t.and_then(|t| t.nonce)),
                    "input" => t.and_then(|t| t.input.clone()).map_or(Val::Null, Val::Bytes),
                    "gas_used" => opt_u(r.and_then(|r| r.gas_used)),
                    "success" => r.and_then(|r| r.status).map_or(Val::Null, Val::Bool),
                    "status" => r.and_then(|r| r.status).map_or(Val::Null, |s| {
                        Val::Str(if s { "success" } else { "failure" }.into())
                    }),
                    _ => Val::Null,
                }
            }
            "block" => match field {
                "number" => Val::Uint(U256::from(b.header.number)),
                "timestamp" => opt_u(b.header.timestamp),
                "miner" => opt_addr(b.header.miner),
                "base_fee" => {
                    b.header.base_fee_per_gas.map_or(Val::Null, |x| Val::Uint(U256::from(x)))
                }
                "gas_used" => opt_u(b.header.gas_used),
                "gas_limit" => opt_u(b.header.gas_limit),
                _ => Val::Null,
            },
            "call" => match (self.call, field) {
                (Some(c), "from") => opt_addr(c.from),
                (Some(c), "to") => opt_addr(c.to),
                (Some(c), "value") => Val::Uint(c.value),
                (Some(c), "depth") => Val::Uint(U256::from(c.depth)),
                (Some(c), "type") => Val::Str(c.call_type.to_string()),
                (Some(c), "reverted") => Val::Bool(c.reverted),
                (Some(c), "input") => Val::Bytes(c.input.clone()),
                _ => Val::Null,
            },
            "log" => match (self.log, field) {
                (Some((a, _)), "address") => Val::Addr(a),
                (Some((_, i)), "index") => Val::Uint(U256::from(i)),
                _ => Val::Null,
            },
            "args" => {
                let list = Val::List(self.args.iter().map(|(_, v)| v.clone()).collect());
                return index_into(list, &path[1..]);
            }
            r if r.starts_with('$') => {
                let v = r[1..]
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| self.args.get(i))
                    .map_or(Val::Null, |(_, v)| v.clone());
                return index_into(v, &path[1..]);
            }
            name => {
                let v =
                    self.args.iter().find(|(n, _)| n == name).map_or(Val::Null, |(_, v)| v.clone());
                return index_into(v, &path[1..]);
            }
        };
        if path.len() > 2 {
            return index_into(v, &path[2..]);
        }
        v
    }
}

fn index_into(mut v: Val, rest: &[PathPart]) -> Val {
    for p in rest {
        v = match (v, p) {
            (Val::List(xs), PathPart::Index(i)) => xs.get(*i).cloned().unwrap_or(Val::Null),
            _ => return Val::Null,
        };
    }
    v
}

impl crate::Stateless for Rule {
    const KIND: &'static str = "rule";

    fn instance(&self) -> &str {
        &self.id
    }

    fn wants(&self) -> Needs {
        let status = self.cfg.transaction.as_ref().is_some_and(|t| t.status != TxStatus::Any);
        Needs {
            receipts: !self.events.is_empty() || status || self.tx_expr.is_some(),
            traces: self.functions.iter().any(|f| f.include_internal),
            ..Needs::default()
        }
    }

    fn judge(&self, b: &BlockData, out: &mut Findings) {
        self.scan(b, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_primitives::RecordedBlock;

    fn block() -> BlockData {
        let line = r#"{"block":{"number":"0x5","hash":"0x0505050505050505050505050505050505050505050505050505050505050505","timestamp":"0x64","miner":"0x00000000000000000000000000000000000000cc","baseFeePerGas":"0x7","gasUsed":"0x5208","gasLimit":"0x1c9c380",
            "transactions":[{"hash":"0x0101010101010101010101010101010101010101010101010101010101010101","transactionIndex":"0x0","from":"0x00000000000000000000000000000000000000aa","to":"0x00000000000000000000000000000000000000bb","value":"0x6","gas":"0x5208","nonce":"0x0","input":"0x"}]},
            "receipts":[{"transactionIndex":"0x0","status":"0x1","gasUsed":"0x5208","cumulativeGasUsed":"0x5208","logs":[]}]}"#;
        BlockData::from_recorded(RecordedBlock::from_json_line(line).unwrap()).unwrap()
    }

    /// The declared fields of `tx.*` and `block.*` are exactly what the scope answers: each has
    /// a value on a complete block.
    #[test]
    fn every_declared_field_has_a_value() {
        let b = block();
        let scope = RuleScope { block: &b, tx_index: 0, args: &[], call: None, log: None };
        for (root, ty) in [("tx", tx_fields()), ("block", block_fields())] {
            let Ty::Struct(fields) = ty else { unreachable!() };
            for (f, _) in fields {
                let v = scope.lookup(&[PathPart::Name(root.into()), PathPart::Name(f.clone())]);
                assert_ne!(v, Val::Null, "{root}.{f}");
            }
        }
    }

    fn rule(expr: &str) -> Result<Rule> {
        let cfg: RuleConfig = serde_json::from_value(json!({
            "name": "r",
            "transaction": {"expression": expr},
        }))
        .unwrap();
        Rule::new(cfg, "c", None)
    }

    /// Issue 11, defect 4: `tx.valu > 1` was accepted and never matched.
    #[test]
    fn a_misspelt_field_is_a_config_error_that_suggests_the_field_meant() {
        assert!(rule("tx.value > 1").is_ok());
        match rule("tx.valu > 1") {
            Err(DetectError::Config { field, reason, .. }) => {
                assert_eq!(field, "transaction.expression");
                assert!(reason.contains("did you mean `tx.value`"), "{reason}");
            }
            other => panic!("accepted: {other:?}"),
        }
        let e = rule("tx.to == 0xdeadbeef").unwrap_err().to_string();
        assert!(e.contains("address"), "{e}");
        let e = rule("blok.number > 1").unwrap_err().to_string();
        assert!(e.contains("did you mean `block`"), "{e}");
    }
}
