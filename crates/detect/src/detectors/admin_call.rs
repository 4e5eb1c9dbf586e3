//! `admin_call`: privileged functions of watched contracts called by anyone outside an
//! allowlist, at any depth of the call tree (a proxy hop counts once, at the proxy); and the
//! events that say a contract's control changed: ownership, roles, EIP-1967 upgrades, pauses,
//! Safe owners and threshold, timelock schedules and executions.
//!
//! One finding per transaction lists everything that matched. An event's actor is the account
//! the event names (`sender` of a role change), else the caller of the last call into the
//! emitting contract when traces are attached, else the transaction's sender; events whose actor
//! is allowed, or that come from a transaction sent by or to an allowed account (a multisig),
//! are not reported.

use crate::abi::{EvSig, FnSig};
use crate::detectors::rule::args_json;
use crate::pending::{mark_pending, Pending, PendingDetector};
use crate::{DetectError, Needs, Result};
use palisade_primitives::pending::PendingTx;
use palisade_primitives::{Address, BlockData, Finding, Findings, Severity};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Config of `admin_call`.
#[derive(Debug, Clone, Serialize, Deserialize, palisade_derive::ConfigDoc)]
#[serde(deny_unknown_fields)]
pub struct AdminCallConfig {
    /// Instance name; the detector id is `admin_call:<name>`.
    pub name: String,
    /// Limit to one chain.
    #[serde(default)]
    #[config(default = "every chain")]
    pub chain: Option<String>,
    /// Severity of calls by callers outside the allowlist.
    #[serde(default = "critical")]
    pub severity: Severity,
    /// Contracts watched (events need them; with none, functions match on any contract).
    #[serde(default)]
    pub contracts: Vec<Address>,
    /// Privileged functions, as signatures (`upgradeTo(address)`, `transferOwnership(address
    /// newOwner)`).
    #[serde(default)]
    pub functions: Vec<String>,
    /// Callers allowed to call them (a multisig, a timelock); an event in a transaction sent by
    /// or to one of them is allowed too.
    #[serde(default)]
    pub allowed_callers: Vec<Address>,
    /// Report the built-in control events of watched contracts.
    #[serde(default = "yes")]
    pub builtin_events: bool,
    /// Severity of control events by actors outside the allowlist.
    #[serde(default = "high")]
    pub event_severity: Severity,
    /// Also report calls that reverted.
    #[serde(default)]
    pub include_reverted: bool,
    /// Also judge pending transactions, before inclusion, when the chain has a mempool watch
    /// (`[chains.mempool]`): calldata alone, and the simulated call tree and events when the
    /// transaction touches a contract a simulation watches.
    #[serde(default = "yes")]
    pub pending: bool,
}

fn critical() -> Severity {
    Severity::Critical
}

fn high() -> Severity {
    Severity::High
}

fn yes() -> bool {
    true
}

/// The control events watched when `builtin_events` is on.
pub const BUILTIN_EVENTS: &[&str] = &[
    "OwnershipTransferred(address indexed previousOwner, address indexed newOwner)",
    "OwnershipTransferStarted(address indexed previousOwner, address indexed newOwner)",
    "RoleGranted(bytes32 indexed role, address indexed account, address indexed sender)",
    "RoleRevoked(bytes32 indexed role, address indexed account, address indexed sender)",
    "RoleAdminChanged(bytes32 indexed role, bytes32 indexed previousAdminRole, bytes32 indexed newAdminRole)",
    "Upgraded(address indexed implementation)",
    "AdminChanged(address previousAdmin, address newAdmin)",
    "BeaconUpgraded(address indexed beacon)",
    "Paused(address account)",
    "Unpaused(address account)",
    // Safe v1.3 (not indexed) and v1.4.1 (indexed).
    "AddedOwner(address owner)",
    "AddedOwner(address indexed owner)",
    "RemovedOwner(address owner)",
    "RemovedOwner(address indexed owner)",
    "ChangedThreshold(uint256 threshold)",
    "EnabledModule(address module)",
    "EnabledModule(address indexed module)",
    "DisabledModule(address module)",
    "DisabledModule(address indexed module)",
    "ChangedGuard(address guard)",
    "ChangedGuard(address indexed guard)",
    // OpenZeppelin TimelockController.
    "CallScheduled(bytes32 indexed id, uint256 indexed index, address target, uint256 value, bytes data, bytes32 predecessor, uint256 delay)",
    "CallExecuted(bytes32 indexed id, uint256 indexed index, address target, uint256 value, bytes data)",
    "Cancelled(bytes32 indexed id)",
    // Compound's Timelock.
    "QueueTransaction(bytes32 indexed txHash, address indexed target, uint256 value, string signature, bytes data, uint256 eta)",
    "ExecuteTransaction(bytes32 indexed txHash, address indexed target, uint256 value, string signature, bytes data, uint256 eta)",
    "CancelTransaction(bytes32 indexed txHash, address indexed target, uint256 value, string signature, bytes data, uint256 eta)",
];

/// Catalog entry.
pub const INFO: crate::About = crate::About {
    kind: "admin_call",
    description: "Privileged functions of watched contracts called by anyone outside an allowlist, at any call depth; ownership, role, EIP-1967 upgrade, pause, Safe owner/threshold and timelock events by actors outside it.",
    needs_no_config: false,
};

/// The `admin_call` detector. Stateless.
#[derive(Debug)]
pub struct AdminCall {
    id: String,
    chain: String,
    cfg: AdminCallConfig,
    functions: Vec<FnSig>,
    events: Vec<EvSig>,
}

impl AdminCall {
    /// Builds the detector for `chain`.
    pub fn new(cfg: AdminCallConfig, chain: &str) -> Result<Self> {
        let id = format!("admin_call:{}", cfg.name);
        let err = |field: String, reason: String| DetectError::Config {
            detector: id.clone(),
            field,
            reason,
        };
        if cfg.name.trim().is_empty() {
            return Err(err("name".into(), "must not be empty".into()));
        }
        let functions = cfg
            .functions
            .iter()
            .enumerate()
            .map(|(i, f)| FnSig::parse(f, None).map_err(|e| err(format!("functions[{i}]"), e)))
            .collect::<Result<Vec<_>>>()?;
        if functions.is_empty() && (cfg.contracts.is_empty() || !cfg.builtin_events) {
            return Err(err(
                "functions".into(),
                "watch at least one function, or contracts with builtin_events".into(),
            ));
        }
        let events = if cfg.builtin_events {
            BUILTIN_EVENTS
                .iter()
                .map(|s| EvSig::parse(s, None).map_err(|e| err("builtin_events".into(), e)))
                .collect::<Result<Vec<_>>>()?
        } else {
            Vec::new()
        };
        Ok(Self { id, chain: chain.into(), cfg, functions, events })
    }

    fn watched(&self, a: Option<Address>) -> bool {
        self.cfg.contracts.is_empty() || a.is_some_and(|a| self.cfg.contracts.contains(&a))
    }

    fn allowed(&self, a: Option<Address>) -> bool {
        a.is_some_and(|a| self.cfg.allowed_callers.contains(&a))
    }

    fn scan(&self, b: &BlockData, pending: Option<&PendingTx>, out: &mut Findings) {
        // tx index -> matched items
        let mut per_tx: std::collections::BTreeMap<u64, Vec<Value>> = Default::default();
        let calls = b.calls();
        for c in &calls {
            if c.forwarded || (c.reverted && !self.cfg.include_reverted) || !self.watched(c.to) {
                continue;
            }
            for f in &self.functions {
                let Some(args) = f.decode(c.input) else { continue };
                if self.allowed(c.from) {
                    continue;
                }
                let args: Vec<(String, crate::expr::Val)> = match args {
                    Ok(vs) => f.names.iter().cloned().zip(vs).collect(),
                    Err(_) => Vec::new(),
                };
                per_tx.entry(c.tx_index).or_default().push(json!({
                    "kind": "call",
                    "function": f.signature,
                    "contract": c.to,
                    "caller": c.from,
                    "depth": c.depth,
                    "call_type": c.call_type,
                    "reverted": c.reverted,
                    "args": args_json(&args),
                }));
            }
        }
        if !self.events.is_empty() && !self.cfg.contracts.is_empty() {
            for r in b.receipts.iter().flatten() {
                let Some(ti) = r.transaction_index else { continue };
                if r.status == Some(false) {
                    continue;
                }
                let tx = b.transactions.iter().find(|t| t.index == ti);
                if self.allowed(tx.and_then(|t| t.from)) || self.allowed(tx.and_then(|t| t.to)) {
                    continue;
                }
                for (li, l) in r.logs.iter().enumerate() {
                    if !self.cfg.contracts.contains(&l.address) {
                        continue;
                    }
                    for e in &self.events {
                        let Some(Ok(fields)) = e.decode(&l.topics, &l.data) else { continue };
                        let named_actor =
                            fields.iter().find(|(n, _)| n == "sender").and_then(|(_, v)| match v {
                                crate::expr::Val::Addr(a) => Some(*a),
                                _ => None,
                            });
                        // The caller of the last call into the emitting contract, when traced.
                        let traced = calls
                            .iter()
                            .rfind(|c| {
                                c.tx_index == ti
                                    && c.to == Some(l.address)
                                    && c.call_type != "staticcall"
                                    && !c.reverted
                            })
                            .and_then(|c| c.from);
                        let actor = named_actor.or(traced).or(tx.and_then(|t| t.from));
                        if self.allowed(actor) {
                            continue;
                        }
                        per_tx.entry(ti).or_default().push(json!({
                            "kind": "event",
                            "event": e.signature,
                            "contract": l.address,
                            "actor": actor,
                            "log_index": l.log_index.unwrap_or(li as u64),
                            "fields": args_json(&fields),
                        }));
                        break;
                    }
                }
            }
        }
        for (ti, matched) in per_tx {
            let has_call = matched.iter().any(|m| m["kind"] == "call");
            let sev = if has_call { self.cfg.severity } else { self.cfg.event_severity };
            let what: Vec<String> = matched
                .iter()
                .map(|m| {
                    m["function"]
                        .as_str()
                        .or(m["event"].as_str())
                        .unwrap_or("")
                        .split('(')
                        .next()
                        .unwrap_or("")
                        .to_string()
                })
                .collect();
            let by = matched
                .iter()
                .find_map(|m| m["caller"].as_str().or(m["actor"].as_str()).map(str::to_string))
                .unwrap_or_else(|| "an unknown account".into());
            let title = match pending {
                Some(p) => format!(
                    "{} on watched contract by {by} (not allowed) in pending tx {:#x}",
                    what.join(", "),
                    p.hash
                ),
                None => format!(
                    "{} on watched contract by {by} (not allowed) in tx {ti} of block {}",
                    what.join(", "),
                    b.header.number
                ),
            };
            out.push(
                Finding::new(
                    &self.id,
                    "admin_call",
                    &self.chain,
                    b.block_ref(),
                    &format!("tx:{ti}"),
                    sev,
                    title,
                )
                .with_txs(b.tx_hash(ti))
                .with_evidence(json!({"check": "admin_call", "tx_index": ti, "matched": matched})),
            );
        }
    }
}

impl PendingDetector for AdminCall {
    fn id(&self) -> &str {
        &self.id
    }

    fn kind(&self) -> &'static str {
        "admin_call"
    }

    fn pending(&mut self, p: &Pending<'_>, out: &mut Findings) {
        let mut found = Findings::new();
        self.scan(p.block, Some(p.tx), &mut found);
        for f in found.take().0 {
            out.push(mark_pending(f, p));
        }
    }
}

impl crate::Stateless for AdminCall {
    const KIND: &'static str = "admin_call";

    fn instance(&self) -> &str {
        &self.id
    }

    fn wants(&self) -> Needs {
        Needs { receipts: !self.events.is_empty(), traces: true, ..Needs::default() }
    }

    fn judge(&self, b: &BlockData, out: &mut Findings) {
        self.scan(b, None, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Detector;
    use palisade_primitives::ChainSegment;
    use palisade_primitives::{
        keccak256, BlockData, Bytes, Header, Log, Receipt, Transaction, B256,
    };
    use std::sync::Arc;

    const SAFE: Address = Address::repeat_byte(0x5a);
    const TEAM: Address = Address::repeat_byte(0x7e);
    const EVE: Address = Address::repeat_byte(0xee);

    fn word(a: Address) -> B256 {
        B256::left_padding_from(a.as_slice())
    }

    /// A block of one transaction per log, sent by `from`.
    fn block(logs: Vec<(Address, Log)>) -> ChainSegment {
        let mut txs = Vec::new();
        let mut receipts = Vec::new();
        for (i, (from, l)) in logs.into_iter().enumerate() {
            txs.push(Transaction {
                index: i as u64,
                from: Some(from),
                to: Some(SAFE),
                ..Default::default()
            });
            receipts.push(Receipt {
                transaction_index: Some(i as u64),
                status: Some(true),
                logs: vec![l],
                ..Default::default()
            });
        }
        let b = BlockData {
            header: Header { number: 7, hash: Some(B256::repeat_byte(7)), ..Default::default() },
            transactions: txs,
            receipts: Some(receipts),
            ..Default::default()
        };
        ChainSegment::new(vec![Arc::new(b)]).unwrap()
    }

    fn log(sig: &str, topics: Vec<B256>, data: Vec<u8>) -> Log {
        let mut t = vec![keccak256(sig.as_bytes())];
        t.extend(topics);
        Log { address: SAFE, topics: t, data: Bytes::from(data), log_index: None }
    }

    #[test]
    fn safe_owner_threshold_module_and_timelock_events_are_watched_and_allowed_actors_are_not_reported(
    ) {
        let cfg: AdminCallConfig = toml::from_str(&format!(
            "name = 'safe'\ncontracts = ['{SAFE:#x}']\nallowed_callers = ['{TEAM:#x}']"
        ))
        .unwrap();
        let mut d = AdminCall::new(cfg, "mainnet").unwrap();
        let owner = word(EVE).to_vec();
        let mut two = vec![0u8; 31];
        two.push(2);
        let scheduled = {
            // CallScheduled(bytes32 indexed id, uint256 indexed index, address target, uint256
            // value, bytes data, bytes32 predecessor, uint256 delay)
            let mut d = word(EVE).to_vec();
            d.extend([0u8; 32]);
            d.extend(B256::left_padding_from(&[0xa0]).0); // offset of `data`
            d.extend([0u8; 32]);
            d.extend(B256::left_padding_from(&[0x0e, 0x10]).0); // 3600 s
            d.extend([0u8; 32]); // empty `data`
            d
        };
        let seg = block(vec![
            (EVE, log("AddedOwner(address)", vec![], owner.clone())), // Safe v1.3
            (EVE, log("AddedOwner(address)", vec![word(EVE)], vec![])), // Safe v1.4.1
            (EVE, log("ChangedThreshold(uint256)", vec![], two)),
            (EVE, log("EnabledModule(address)", vec![], owner)),
            (
                EVE,
                log(
                    "CallScheduled(bytes32,uint256,address,uint256,bytes,bytes32,uint256)",
                    vec![B256::repeat_byte(1), B256::ZERO],
                    scheduled,
                ),
            ),
            (TEAM, log("ChangedThreshold(uint256)", vec![], vec![0u8; 32])),
        ]);
        let mut out = Findings::new();
        d.commit(&seg, &mut out).unwrap();
        let events: Vec<String> = out
            .emitted()
            .iter()
            .map(|f| f.evidence["matched"][0]["event"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            events,
            vec![
                "AddedOwner(address)",
                "AddedOwner(address)",
                "ChangedThreshold(uint256)",
                "EnabledModule(address)",
                "CallScheduled(bytes32,uint256,address,uint256,bytes,bytes32,uint256)",
            ]
        );
        assert!(out.emitted().iter().all(|f| f.severity == Severity::High));
        assert_eq!(
            out.emitted()[0].evidence["matched"][0]["fields"]["owner"],
            EVE.to_checksum(None)
        );
    }
}
