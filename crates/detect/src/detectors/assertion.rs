//! `assertion`: a Solidity assertion contract (see `palisade-assert`) run on every transaction
//! that triggers it, before inclusion (on the pending transaction's simulation) and on every
//! committed block (the block's transactions re-executed in order on the state before it,
//! recorded with the block), and in replay over recordings that carry that state. A function
//! that reverts is a violation: the finding names the transaction, the call that triggered it,
//! the reason and the values the assertion read. One that runs out of its gas budget, or could
//! not run, is reported apart and never stops the others.

use crate::pending::{mark_pending, Pending, PendingDetector};
use crate::{DetectError, Needs, Result};
use alloy_json_abi::JsonAbi;
use palisade_assert::{
    block_cfg, block_env, check_block, last_candidate, Prepared, PrestateDb, TxRun,
};
use palisade_primitives::assertion::{
    AssertionOutcome, AssertionSpec, Trigger, TriggerKind, Verdict, DEFAULT_GAS_BUDGET,
};
use palisade_primitives::pending::SimNeeds;
use palisade_primitives::{Address, BlockData, BlockRef, Bytes, Finding, Findings, Severity};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// A trigger given in config (besides those the contract registers in `triggers()`).
#[derive(Debug, Clone, Serialize, Deserialize, palisade_derive::ConfigDoc)]
#[serde(deny_unknown_fields)]
pub struct TriggerConfig {
    /// The assertion function that runs: its name (`assertOutflow`) or signature
    /// (`assertOutflow()`), or a 4-byte selector.
    pub assertion: String,
    /// What runs it: `call` (a call to `function` of the protected contract), `any_call`,
    /// `storage` (a change of `slot`, or of any slot), `balance` (its ether balance, or its
    /// balance of an ERC-20 token, changed) or `tx_end` (the end of a transaction that touched
    /// it).
    pub on: String,
    /// For `call`: the protected contract's function (`migrate(address)`) or selector.
    pub function: Option<String>,
    /// For `storage`: the slot (a number, a 32-byte key, `eip1967.implementation`, `.admin`,
    /// `.beacon`).
    #[config(default = "every slot")]
    pub slot: Option<String>,
}

/// Config of `assertion`.
#[derive(Debug, Clone, Serialize, Deserialize, palisade_derive::ConfigDoc)]
#[serde(deny_unknown_fields)]
pub struct AssertionConfig {
    /// Instance name; the id is `assertion:<name>`.
    pub name: String,
    /// Limit to one chain.
    #[serde(default)]
    #[config(default = "every chain")]
    pub chain: Option<String>,
    /// The protected contract (the assertion's "adopter": what `getAssertionAdopter()` returns).
    pub contract: Address,
    /// The compiled assertion, relative to the config file: a JSON artifact with its creation
    /// `bytecode` and `abi` (solc or solcjs output gathered in one file, Hardhat's artifacts,
    /// Foundry's `out/<File>.sol/<Contract>.json`), or a file holding the creation code in hex.
    pub artifact: PathBuf,
    /// Constructor arguments, one string each, read as the ABI's constructor inputs say
    /// (`["0x5FbD...", "5000"]`).
    #[serde(default)]
    pub args: Vec<String>,
    /// Triggers besides those the contract registers.
    #[serde(default)]
    #[config(nested)]
    pub triggers: Vec<TriggerConfig>,
    /// Gas each assertion function may use per transaction.
    #[serde(default = "budget")]
    pub gas_budget: u64,
    /// Severity of a violation.
    #[serde(default = "critical")]
    pub severity: Severity,
    /// Check pending transactions (needs `[chains.mempool]` with simulation).
    #[serde(default = "yes")]
    pub pending: bool,
    /// Check committed blocks (the source records the state before each block whose
    /// transactions reach the contract).
    #[serde(default = "yes")]
    pub blocks: bool,
}

fn budget() -> u64 {
    DEFAULT_GAS_BUDGET
}
fn critical() -> Severity {
    Severity::Critical
}
fn yes() -> bool {
    true
}

/// Catalog entry.
pub const INFO: crate::About = crate::About {
    kind: "assertion",
    description: "A Solidity assertion contract (Phylax's cheatcode interface, served in revm) run on each transaction that triggers it: before inclusion on the pending transaction's simulation, on every committed block re-executed on its prior state, and in replay. A revert is a violation, named with the transaction, the call and the values read; a gas budget per function.",
    needs_no_config: false,
};

/// The `assertion` detector.
#[derive(Debug)]
pub struct AssertionDetector {
    id: String,
    chain: String,
    cfg: AssertionConfig,
    spec: Arc<AssertionSpec>,
    /// Deployed for the chain id of the blocks seen (deployed once, kept).
    prepared: Mutex<Option<(u64, Arc<Prepared>)>>,
}

/// The creation code and ABI of an artifact's text.
fn read_artifact(text: &str) -> std::result::Result<(Bytes, Option<JsonAbi>), String> {
    let t = text.trim();
    if !t.starts_with('{') {
        let hex = t.strip_prefix("0x").unwrap_or(t);
        let code = alloy_primitives::hex::decode(hex)
            .map_err(|e| format!("neither a JSON artifact nor hex creation code: {e}"))?;
        return Ok((code.into(), None));
    }
    let v: serde_json::Value =
        serde_json::from_str(t).map_err(|e| format!("not valid JSON: {e}"))?;
    let code = match v.get("bytecode") {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(o) => o
            .get("object")
            .and_then(|x| x.as_str())
            .map(str::to_string)
            .ok_or("\"bytecode\" has no \"object\"")?,
        None => return Err("no \"bytecode\"".into()),
    };
    let hex = code.trim().strip_prefix("0x").unwrap_or(code.trim()).to_string();
    if hex.is_empty() {
        return Err("empty bytecode (an interface or an abstract contract?)".into());
    }
    if hex.contains("__") {
        return Err("the bytecode has unlinked libraries".into());
    }
    let code = alloy_primitives::hex::decode(&hex).map_err(|e| format!("bytecode: {e}"))?;
    let abi = match v.get("abi") {
        Some(a) => {
            Some(serde_json::from_value::<JsonAbi>(a.clone()).map_err(|e| format!("abi: {e}"))?)
        }
        None => None,
    };
    Ok((code.into(), abi))
}

fn selector_of(s: &str) -> std::result::Result<[u8; 4], String> {
    let s = s.trim();
    if let Some(h) = s.strip_prefix("0x") {
        let b = alloy_primitives::hex::decode(h).map_err(|e| format!("{s:?}: {e}"))?;
        return b.try_into().map_err(|_| format!("{s:?}: a selector has 4 bytes"));
    }
    if !s.contains('(') {
        return Err(format!("{s:?}: give a signature (`name(type,...)`) or a selector"));
    }
    let sig: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    Ok(palisade_primitives::keccak256(sig.as_bytes())[..4].try_into().unwrap_or_default())
}

impl AssertionDetector {
    /// Builds the detector; `artifact` is the content of the file `cfg.artifact` names.
    pub fn new(cfg: AssertionConfig, chain: &str, artifact: Option<&str>) -> Result<Self> {
        let id = format!("assertion:{}", cfg.name);
        let err = |field: &str, reason: String| DetectError::Config {
            detector: id.clone(),
            field: field.into(),
            reason,
        };
        if cfg.name.trim().is_empty() {
            return Err(err("name", "must not be empty".into()));
        }
        if cfg.gas_budget < 10_000 {
            return Err(err("gas_budget", "must be at least 10000".into()));
        }
        let text = artifact.ok_or_else(|| err("artifact", "the file was not read".into()))?;
        let (code, abi) = read_artifact(text).map_err(|e| err("artifact", e))?;
        let mut functions = Vec::new();
        let mut init = code.to_vec();
        if let Some(abi) = &abi {
            for f in abi.functions() {
                functions.push((f.selector().0, f.name.clone()));
            }
            let inputs = abi.constructor().map(|c| c.inputs.clone()).unwrap_or_default();
            if inputs.len() != cfg.args.len() {
                return Err(err(
                    "args",
                    format!(
                        "the constructor takes {} argument(s) ({}), {} given",
                        inputs.len(),
                        inputs.iter().map(|p| p.ty.as_str()).collect::<Vec<_>>().join(", "),
                        cfg.args.len()
                    ),
                ));
            }
            let mut values = Vec::new();
            for (i, (p, a)) in inputs.iter().zip(&cfg.args).enumerate() {
                use alloy_dyn_abi::Specifier;
                let ty = p.resolve().map_err(|e| err(&format!("args[{i}]"), e.to_string()))?;
                let v = ty
                    .coerce_str(a)
                    .map_err(|e| err(&format!("args[{i}]"), format!("{a:?} as {}: {e}", p.ty)))?;
                values.push(v);
            }
            if !values.is_empty() {
                init.extend(alloy_dyn_abi::DynSolValue::Tuple(values).abi_encode_params());
            }
        } else if !cfg.args.is_empty() {
            return Err(err(
                "args",
                "a hex artifact has no ABI to encode arguments with: append them to the code"
                    .into(),
            ));
        }
        let mut triggers = Vec::new();
        for (i, t) in cfg.triggers.iter().enumerate() {
            let field = |f: &str| format!("triggers[{i}].{f}");
            let function = match abi.as_ref().and_then(|abi| {
                let name = t.assertion.split('(').next().unwrap_or_default().trim();
                abi.functions().find(|f| {
                    f.name == name
                        && (!t.assertion.contains('(')
                            || f.signature() == t.assertion.replace(' ', ""))
                })
            }) {
                Some(f) => f.selector().0,
                None => selector_of(&t.assertion).map_err(|e| {
                    err(&field("assertion"), format!("{e} (no function of that name in the ABI)"))
                })?,
            };
            let kind = match t.on.as_str() {
                "call" => {
                    let f = t.function.as_deref().ok_or_else(|| {
                        err(&field("function"), "`call` needs the protected function".into())
                    })?;
                    TriggerKind::Call {
                        selector: selector_of(f).map_err(|e| err(&field("function"), e))?,
                    }
                }
                "any_call" => TriggerKind::AnyCall,
                "storage" => TriggerKind::StorageChange {
                    slot: t
                        .slot
                        .as_deref()
                        .map(super::simulation::parse_slot)
                        .transpose()
                        .map_err(|e| err(&field("slot"), e))?,
                },
                "balance" => TriggerKind::BalanceChange,
                "tx_end" => TriggerKind::TxEnd,
                other => {
                    return Err(err(
                        &field("on"),
                        format!("{other:?}: one of call, any_call, storage, balance, tx_end"),
                    ))
                }
            };
            triggers.push(Trigger { kind, function });
        }
        let spec = Arc::new(AssertionSpec {
            name: cfg.name.clone(),
            adopter: cfg.contract,
            init_code: init.into(),
            triggers,
            gas_budget: cfg.gas_budget,
            functions,
        });
        // Deployed once here, so that a contract that cannot deploy or names no trigger is a
        // config error, not a silent gap.
        Prepared::new(spec.clone(), 1).map_err(|e| err("artifact", e.to_string()))?;
        Ok(Self { id, chain: chain.into(), cfg, spec, prepared: Mutex::new(None) })
    }

    /// The assertion as configured.
    pub fn spec(&self) -> &AssertionSpec {
        &self.spec
    }

    /// Re-executes `b`'s transactions (up to the last that reaches the protected contract) on
    /// the state recorded before it, checking each: `None` when the block carries no such state
    /// or no transaction reaches the contract.
    pub fn run_block(&self, b: &BlockData) -> Option<std::result::Result<Vec<TxRun>, String>> {
        if !self.cfg.blocks {
            return None;
        }
        let pre = b.prestate.as_ref()?;
        let last = last_candidate(b, &[self.cfg.contract])?;
        let prepared = match self.prepared(pre.chain_id) {
            Ok(p) => p,
            Err(e) => return Some(Err(format!("the assertion could not be deployed: {e}"))),
        };
        let txs = &pre.txs[..(last + 1).min(pre.txs.len())];
        let env = block_env(&b.header, pre);
        Some(
            check_block(PrestateDb::new(pre), &env, &block_cfg(pre.chain_id), txs, &[prepared])
                .map_err(|e| e.to_string()),
        )
    }

    fn prepared(&self, chain_id: u64) -> std::result::Result<Arc<Prepared>, String> {
        let mut p = self.prepared.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((id, prep)) = p.as_ref() {
            if *id == chain_id {
                return Ok(prep.clone());
            }
        }
        let prep = Arc::new(Prepared::new(self.spec.clone(), chain_id).map_err(|e| e.to_string())?);
        *p = Some((chain_id, prep.clone()));
        Ok(prep)
    }

    /// The finding of one outcome (`None` when the assertion held).
    fn finding(&self, o: &AssertionOutcome, anchor: BlockRef, stage: &str) -> Option<Finding> {
        let when = if stage == "pending" { "pending tx" } else { "tx" };
        let (sev, title, check) = match &o.verdict {
            Verdict::Held => return None,
            Verdict::Violated { reason } => (
                self.cfg.severity,
                format!(
                    "{when} {:#x} {} assertion {:?} ({} on {}): {reason}",
                    o.tx,
                    if stage == "pending" { "would break" } else { "broke" },
                    o.assertion,
                    o.function,
                    o.adopter
                ),
                "violated",
            ),
            Verdict::OverBudget => (
                Severity::Low,
                format!(
                    "assertion {:?} ({}) ran out of its gas budget ({}) on {when} {:#x}: not judged",
                    o.assertion, o.function, self.cfg.gas_budget, o.tx
                ),
                "over_budget",
            ),
            Verdict::Failed { reason } => (
                Severity::Low,
                format!("assertion {:?} could not run on {when} {:#x}: {reason}", o.assertion, o.tx),
                "not_run",
            ),
        };
        let ev = json!({"check": check, "stage": stage, "assertion": o.assertion,
            "function": o.function, "contract": o.adopter, "tx": o.tx,
            "trigger": o.trigger, "verdict": o.verdict, "gas_used": o.gas_used,
            "gas_budget": self.cfg.gas_budget, "reads": o.reads});
        Some(
            Finding::new(
                &self.id,
                "assertion",
                &self.chain,
                anchor,
                &format!("{:#x}:{}:{check}", o.tx, o.function),
                sev,
                title,
            )
            .with_txs(Some(o.tx))
            .with_evidence(ev),
        )
    }
}

/// Why re-executing `b` does not match its receipts (status or gas), if it does not: what the
/// assertions judged is then not what happened, and they are not reported.
pub fn diverged(b: &BlockData, runs: &[TxRun]) -> Option<String> {
    let receipts = b.receipts.as_ref()?;
    runs.iter().find_map(|r| {
        let rc = receipts.get(r.index)?;
        let ok = rc.status.is_none_or(|s| s == r.success) && rc.gas_used.is_none_or(|g| g == r.gas_used);
        (!ok).then(|| {
            format!(
                "re-executing tx {:#x} did not match its receipt (status {:?}, gas {:?}; re-executed: success {}, gas {}): assertions on block {} are not judged",
                r.hash, rc.status, rc.gas_used, r.success, r.gas_used, b.header.number
            )
        })
    })
}

impl PendingDetector for AssertionDetector {
    fn id(&self) -> &str {
        &self.id
    }

    fn kind(&self) -> &'static str {
        "assertion"
    }

    fn sim_needs(&self) -> SimNeeds {
        SimNeeds { assertions: vec![self.spec.clone()], ..Default::default() }
    }

    fn pending(&mut self, p: &Pending<'_>, out: &mut Findings) {
        let Some(sim) = p.sim else { return };
        for o in sim.assertions.iter().filter(|o| o.assertion == self.spec.name) {
            if let Some(f) = self.finding(o, p.block.block_ref(), "pending") {
                out.push(mark_pending(f, p));
            }
        }
    }
}

impl crate::Stateless for AssertionDetector {
    const KIND: &'static str = "assertion";

    fn instance(&self) -> &str {
        &self.id
    }

    fn wants(&self) -> Needs {
        Needs {
            receipts: true,
            assertions: if self.cfg.blocks { vec![self.spec.clone()] } else { Vec::new() },
            ..Default::default()
        }
    }

    fn judge(&self, b: &BlockData, out: &mut Findings) {
        let Some(run) = self.run_block(b) else { return };
        let anchor = b.block_ref();
        let note = |title: String, ev: serde_json::Value| {
            Finding::new(&self.id, "assertion", &self.chain, anchor, "block", Severity::Low, title)
                .with_evidence(ev)
        };
        let runs = match run {
            Ok(r) => r,
            Err(e) => {
                out.push(note(
                    format!(
                        "assertion {:?} could not run on block {}: {e}",
                        self.cfg.name, b.header.number
                    ),
                    json!({"check": "not_run", "reason": e}),
                ));
                return;
            }
        };
        if let Some(d) = diverged(b, &runs) {
            out.push(note(d, json!({"check": "diverged"})));
            return;
        }
        for r in &runs {
            for o in &r.outcomes {
                if let Some(f) = self.finding(o, anchor, "committed") {
                    out.push(f);
                }
            }
        }
    }
}
