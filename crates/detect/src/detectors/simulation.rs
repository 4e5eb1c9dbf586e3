//! `simulation`: judges what a pending transaction *would do* to watched contracts, from its
//! execution on the latest verified state (revm, before any block includes it):
//!
//! - **loss**: a watched contract's ether or token balance would fall by more than
//!   `max_loss_percent` of what it holds (and by at least `min_loss` raw units);
//! - **invariants**: a condition over view calls before and after (for example
//!   `after.totalAssets * 10**18 >= after.totalShares * after.pricePerShare`, written with
//!   integers) that holds before and would not hold after;
//! - **privileged slots**: a storage slot that only an admin should write (an owner, an
//!   EIP-1967 implementation or admin) would change.
//!
//! Transactions that would fail are not judged (the simulation says what they would do: nothing).
//! Pending-only: it needs `[chains.mempool]` with simulation.

use crate::abi::FnSig;
use crate::expr::{self, Expr, PathPart, Scope, Val};
use crate::pending::{mark_pending, Pending, PendingDetector};
use crate::{DetectError, Result};
use palisade_primitives::pending::SimNeeds;
use palisade_primitives::{Address, Bytes, Finding, Findings, Severity, B256, U256};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// An invariant over view calls of one contract.
#[derive(Debug, Clone, Serialize, Deserialize, palisade_derive::ConfigDoc)]
#[serde(deny_unknown_fields)]
pub struct InvariantConfig {
    /// Name, used in findings.
    pub name: String,
    /// The contract called.
    pub contract: Address,
    /// View functions without arguments (`totalAssets()`), each read as an integer; the
    /// expression names them `before.<function>` and `after.<function>`.
    pub views: Vec<String>,
    /// Condition that must hold (see the expression language).
    pub expr: String,
    /// Severity when a transaction would break it.
    #[serde(default = "critical")]
    pub severity: Severity,
}

/// A storage slot only an admin should write.
#[derive(Debug, Clone, Serialize, Deserialize, palisade_derive::ConfigDoc)]
#[serde(deny_unknown_fields)]
pub struct SlotConfig {
    /// The contract.
    pub contract: Address,
    /// The slot: a number (`0`, `0x5`), a 32-byte hex key, or `eip1967.implementation`,
    /// `eip1967.admin`, `eip1967.beacon`.
    pub slot: String,
    /// Name, used in findings (`owner`).
    pub name: String,
    /// Where the value starts in the slot, in bytes from its low-order end: Solidity packs small
    /// variables together (OpenZeppelin 5's `Ownable` owner and `Pausable` flag share slot 0).
    #[serde(default)]
    pub offset: u8,
    /// The value's size in bytes (the whole slot; 20 for an address).
    #[serde(default = "whole")]
    pub size: u8,
    /// Severity.
    #[serde(default = "critical")]
    pub severity: Severity,
}

/// Config of `simulation`.
#[derive(Debug, Clone, Serialize, Deserialize, palisade_derive::ConfigDoc)]
#[serde(deny_unknown_fields)]
pub struct SimulationConfig {
    /// Instance name; the id is `simulation:<name>`.
    pub name: String,
    /// Limit to one chain.
    #[serde(default)]
    #[config(default = "every chain")]
    pub chain: Option<String>,
    /// Contracts guarded: a pending transaction whose call tree reaches one is judged.
    pub contracts: Vec<Address>,
    /// ERC-20 tokens whose balances of the guarded contracts count as losses.
    #[serde(default)]
    pub tokens: Vec<Address>,
    /// Largest share of a balance a transaction may take without a finding, in percent.
    #[serde(default = "ten")]
    pub max_loss_percent: f64,
    /// Smallest loss reported, in raw units, as a decimal string.
    #[serde(default)]
    #[config(default = "\"0\"")]
    pub min_loss: Option<String>,
    /// Severity of a loss.
    #[serde(default = "high")]
    pub loss_severity: Severity,
    /// Senders whose transactions are not judged for losses (the protocol's own operations).
    #[serde(default)]
    pub allowed_senders: Vec<Address>,
    /// Invariants: views without arguments, read as integers before and after; `expr` (the rule
    /// expression language, with `+ - * / %` on exact signed integers) names them
    /// `before.<function>` and `after.<function>`; a transaction after which it no longer holds
    /// (when it held before) is a finding. Example: `after.totalAssets * 1000000000000000000 >=
    /// after.totalShares * before.pricePerShare`.
    #[serde(default)]
    #[config(nested)]
    pub invariants: Vec<InvariantConfig>,
    /// Privileged storage slots: a pending transaction that would write one is a finding.
    #[serde(default)]
    #[config(nested)]
    pub privileged_slots: Vec<SlotConfig>,
}

fn critical() -> Severity {
    Severity::Critical
}
fn high() -> Severity {
    Severity::High
}
fn whole() -> u8 {
    32
}
fn ten() -> f64 {
    10.0
}

/// Catalog entry.
pub const INFO: crate::About = crate::About {
    kind: "simulation",
    description: "Executes pending transactions that reach guarded contracts on the latest verified state (revm) and reports a loss above a threshold, a broken invariant over view calls, or a write to a privileged slot, before inclusion. Needs [chains.mempool].",
    needs_no_config: false,
};

#[derive(Debug)]
struct Invariant {
    cfg: InvariantConfig,
    views: Vec<(String, Bytes)>,
    expr: Expr,
}

/// The `simulation` detector. Stateless.
#[derive(Debug)]
pub struct SimulationGuard {
    id: String,
    chain: String,
    cfg: SimulationConfig,
    min_loss: U256,
    invariants: Vec<Invariant>,
    slots: Vec<PrivSlot>,
    needs: SimNeeds,
}

#[derive(Debug)]
struct PrivSlot {
    contract: Address,
    slot: B256,
    name: String,
    offset: u8,
    size: u8,
    severity: Severity,
}

impl PrivSlot {
    fn part(&self, v: U256) -> U256 {
        let shifted = v >> (8 * self.offset as usize);
        if self.size >= 32 {
            shifted
        } else {
            shifted & ((U256::from(1) << (8 * self.size as usize)) - U256::from(1))
        }
    }
}

/// The storage slot named by `s`.
pub fn parse_slot(s: &str) -> std::result::Result<B256, String> {
    let named = |label: &str| {
        let h = palisade_primitives::keccak256(label.as_bytes());
        B256::from(U256::from_be_bytes(h.0) - U256::from(1))
    };
    match s.trim() {
        "eip1967.implementation" => Ok(named("eip1967.proxy.implementation")),
        "eip1967.admin" => Ok(named("eip1967.proxy.admin")),
        "eip1967.beacon" => Ok(named("eip1967.proxy.beacon")),
        t => {
            let n = if let Some(h) = t.strip_prefix("0x") {
                U256::from_str_radix(h, 16)
            } else {
                U256::from_str_radix(t, 10)
            };
            n.map(B256::from).map_err(|_| format!("not a slot: {s:?}"))
        }
    }
}

impl SimulationGuard {
    /// Builds the detector for `chain`.
    pub fn new(cfg: SimulationConfig, chain: &str) -> Result<Self> {
        let id = format!("simulation:{}", cfg.name);
        let err = |field: String, reason: String| DetectError::Config {
            detector: id.clone(),
            field,
            reason,
        };
        if cfg.name.trim().is_empty() {
            return Err(err("name".into(), "must not be empty".into()));
        }
        if cfg.contracts.is_empty() {
            return Err(err("contracts".into(), "guard at least one contract".into()));
        }
        if !(cfg.max_loss_percent.is_finite() && (0.0..=100.0).contains(&cfg.max_loss_percent)) {
            return Err(err("max_loss_percent".into(), "must be between 0 and 100".into()));
        }
        let min_loss = match &cfg.min_loss {
            Some(s) => U256::from_str_radix(s.trim(), 10)
                .map_err(|_| err("min_loss".into(), format!("not a decimal integer: {s:?}")))?,
            None => U256::ZERO,
        };
        let mut invariants = Vec::new();
        for (i, inv) in cfg.invariants.iter().enumerate() {
            let mut views = Vec::new();
            for (j, v) in inv.views.iter().enumerate() {
                let f = FnSig::parse(v, None)
                    .map_err(|e| err(format!("invariants[{i}].views[{j}]"), e))?;
                if !f.names.is_empty() {
                    return Err(err(
                        format!("invariants[{i}].views[{j}]"),
                        "only functions without arguments can be read".into(),
                    ));
                }
                let name = f.signature.split('(').next().unwrap_or_default().to_string();
                views.push((name, Bytes::copy_from_slice(&f.selector)));
            }
            let e = expr::parse(&inv.expr)
                .map_err(|e| err(format!("invariants[{i}].expr"), e.to_string()))?;
            // `before.<view>` and `after.<view>` for each view read; their results are
            // numbers or values the contract defines.
            let read: Vec<(&str, crate::vars::Ty)> =
                views.iter().map(|(n, _)| (n.as_str(), crate::vars::Ty::Any)).collect();
            let side = crate::vars::Ty::fields(&read);
            let vars = crate::vars::Vars::new()
                .with("before", side.clone())
                .with("after", side)
                .hint("before.<view> and after.<view> of the views listed");
            crate::vars::check(&e, &vars).map_err(|r| err(format!("invariants[{i}].expr"), r))?;
            invariants.push(Invariant { cfg: inv.clone(), views, expr: e });
        }
        let slots = cfg
            .privileged_slots
            .iter()
            .enumerate()
            .map(|(i, s)| {
                if s.size == 0 || s.offset as u16 + s.size as u16 > 32 {
                    return Err(err(
                        format!("privileged_slots[{i}].size"),
                        "offset + size must be within the 32 bytes of a slot".into(),
                    ));
                }
                parse_slot(&s.slot)
                    .map(|slot| PrivSlot {
                        contract: s.contract,
                        slot,
                        name: s.name.clone(),
                        offset: s.offset,
                        size: s.size,
                        severity: s.severity,
                    })
                    .map_err(|e| err(format!("privileged_slots[{i}].slot"), e))
            })
            .collect::<Result<Vec<_>>>()?;
        // What simulations must report: the guarded contracts (and those with privileged
        // slots), the tokens, and every invariant's views once.
        let mut needs = SimNeeds {
            watched: cfg.contracts.clone(),
            tokens: cfg.tokens.clone(),
            views: Vec::new(),
            all: false,
            assertions: Vec::new(),
        };
        needs.merge(&SimNeeds {
            watched: slots.iter().map(|s| s.contract).collect(),
            views: invariants
                .iter()
                .flat_map(|inv| inv.views.iter().map(|(_, d)| (inv.cfg.contract, d.clone())))
                .collect(),
            ..SimNeeds::default()
        });
        Ok(Self { id, chain: chain.into(), cfg, min_loss, invariants, slots, needs })
    }

    fn finding(&self, p: &Pending<'_>, subject: &str, sev: Severity, title: String) -> Finding {
        Finding::new(&self.id, "simulation", &self.chain, p.block.block_ref(), subject, sev, title)
    }
}

struct ViewScope<'a> {
    before: &'a [(String, Option<U256>)],
    after: &'a [(String, Option<U256>)],
}

impl Scope for ViewScope<'_> {
    fn lookup(&self, path: &[PathPart]) -> Val {
        let side = match path.first() {
            Some(PathPart::Name(n)) if n == "before" => self.before,
            Some(PathPart::Name(n)) if n == "after" => self.after,
            _ => return Val::Null,
        };
        match path.get(1..) {
            Some([PathPart::Name(v)]) => side
                .iter()
                .find(|(n, _)| n == v)
                .and_then(|(_, x)| x.map(Val::Uint))
                .unwrap_or(Val::Null),
            _ => Val::Null,
        }
    }

    fn knows(&self, root: &str) -> bool {
        root == "before" || root == "after"
    }
}

fn word(b: &Option<Bytes>) -> Option<U256> {
    b.as_ref().filter(|b| b.len() >= 32).map(|b| U256::from_be_slice(&b[..32]))
}

impl PendingDetector for SimulationGuard {
    fn id(&self) -> &str {
        &self.id
    }

    fn kind(&self) -> &'static str {
        "simulation"
    }

    fn sim_needs(&self) -> SimNeeds {
        self.needs.clone()
    }

    fn pending(&mut self, p: &Pending<'_>, out: &mut Findings) {
        let Some(sim) = p.sim else { return };
        if !sim.success || !sim.touches_any(&self.needs.watched) {
            return;
        }
        let judged_for_loss = !self.cfg.allowed_senders.contains(&p.tx.from);
        for b in &sim.balances {
            if !judged_for_loss || !self.cfg.contracts.contains(&b.account) || b.after >= b.before {
                continue;
            }
            let loss = b.before - b.after;
            // Percent in basis points, exactly.
            let bp = loss.saturating_mul(U256::from(10_000)) / b.before.max(U256::from(1));
            let limit_bp = U256::from((self.cfg.max_loss_percent * 100.0).round() as u64);
            if bp <= limit_bp || loss < self.min_loss {
                continue;
            }
            let asset = b.asset.map(|a| a.to_string()).unwrap_or_else(|| "ether".into());
            let pct = format!("{}.{:02}", bp / U256::from(100), bp % U256::from(100));
            let title = format!(
                "pending tx {:#x} would take {pct}% of the {asset} of {} ({loss} of {})",
                p.tx.hash, b.account, b.before
            );
            let ev = json!({"check": "loss", "contract": b.account, "asset": asset,
                "before": b.before.to_string(), "after": b.after.to_string(),
                "loss": loss.to_string(), "loss_percent": pct,
                "max_loss_percent": self.cfg.max_loss_percent});
            let f = self
                .finding(p, &format!("loss:{}:{asset}", b.account), self.cfg.loss_severity, title)
                .with_evidence(ev);
            out.push(mark_pending(f, p));
        }
        for inv in &self.invariants {
            let read = |after: bool| -> Vec<(String, Option<U256>)> {
                inv.views
                    .iter()
                    .map(|(name, data)| {
                        let v = sim
                            .views
                            .iter()
                            .find(|v| v.to == inv.cfg.contract && &v.data == data)
                            .and_then(|v| word(if after { &v.after } else { &v.before }));
                        (name.clone(), v)
                    })
                    .collect()
            };
            let (before, after) = (read(false), read(true));
            let held = inv.expr.truthy(&ViewScope { before: &before, after: &before });
            let holds = inv.expr.truthy(&ViewScope { before: &before, after: &after });
            if !held || holds {
                continue;
            }
            let vals = |xs: &[(String, Option<U256>)]| -> serde_json::Value {
                xs.iter()
                    .map(|(n, v)| (n.clone(), v.map(|v| v.to_string()).into()))
                    .collect::<serde_json::Map<_, _>>()
                    .into()
            };
            let title = format!(
                "pending tx {:#x} would break invariant {:?} of {} ({})",
                p.tx.hash, inv.cfg.name, inv.cfg.contract, inv.cfg.expr
            );
            let ev = json!({"check": "invariant", "invariant": inv.cfg.name,
                "contract": inv.cfg.contract, "expr": inv.cfg.expr,
                "before": vals(&before), "after": vals(&after)});
            let f = self
                .finding(p, &format!("invariant:{}", inv.cfg.name), inv.cfg.severity, title)
                .with_evidence(ev);
            out.push(mark_pending(f, p));
        }
        for ps in &self.slots {
            let (contract, slot, name) = (ps.contract, ps.slot, &ps.name);
            let Some(c) = sim.slots.iter().find(|c| c.address == contract && c.slot == slot) else {
                continue;
            };
            let (before, after) = (ps.part(c.before), ps.part(c.after));
            if before == after {
                continue;
            }
            let title = format!(
                "pending tx {:#x} would change {name} of {contract} (slot {slot}) from {before:#x} to {after:#x}",
                p.tx.hash
            );
            let ev = json!({"check": "privileged_slot", "contract": contract, "slot": slot,
                "name": name, "offset": ps.offset, "size": ps.size,
                "before": format!("{before:#x}"), "after": format!("{after:#x}")});
            let subject = format!("slot:{contract}:{slot}:{}", ps.offset);
            let f = self.finding(p, &subject, ps.severity, title).with_evidence(ev);
            out.push(mark_pending(f, p));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_primitives::pending::{
        would_be_block, BalanceChange, PendingTx, Simulation, SlotChange, ViewPair,
    };
    use palisade_primitives::{BlockRef, Header};

    const VAULT: Address = Address::repeat_byte(0x5a);
    const OWNER: Address = Address::repeat_byte(0x01);
    const EVE: Address = Address::repeat_byte(0xee);
    const E18: u128 = 1_000_000_000_000_000_000;

    fn cfg() -> SimulationConfig {
        serde_json::from_value(serde_json::json!({
            "name": "vault",
            "contracts": [VAULT],
            "max_loss_percent": 50.0,
            "invariants": [{"name": "backed", "contract": VAULT,
                "views": ["totalAssets()", "totalShares()"],
                "expr": "after.totalAssets >= after.totalShares"}],
            "privileged_slots": [{"contract": VAULT, "slot": "0", "name": "owner"}],
        }))
        .unwrap()
    }

    fn ret(x: u128) -> Option<Bytes> {
        Some(Bytes::from(U256::from(x).to_be_bytes::<32>().to_vec()))
    }

    fn sel(sig: &str) -> Bytes {
        Bytes::copy_from_slice(&palisade_primitives::keccak256(sig)[..4])
    }

    fn sim(from_to: (u128, u128), assets: (u128, u128), shares: (u128, u128)) -> Simulation {
        Simulation {
            state_block: BlockRef::new(10, B256::repeat_byte(10)),
            success: true,
            error: None,
            gas_used: 50_000,
            touched: vec![Address::repeat_byte(0xd0), VAULT],
            balances: vec![BalanceChange {
                account: VAULT,
                asset: None,
                before: U256::from(from_to.0),
                after: U256::from(from_to.1),
            }],
            slots: vec![],
            views: vec![
                ViewPair {
                    to: VAULT,
                    data: sel("totalAssets()"),
                    before: ret(assets.0),
                    after: ret(assets.1),
                },
                ViewPair {
                    to: VAULT,
                    data: sel("totalShares()"),
                    before: ret(shares.0),
                    after: ret(shares.1),
                },
            ],
            exec_micros: 0,
            total_micros: 0,
            fetched: 0,
            assertions: vec![],
            assert_micros: 0,
        }
    }

    fn judge(d: &mut SimulationGuard, from: Address, s: &Simulation) -> Vec<Finding> {
        let t = PendingTx {
            hash: B256::repeat_byte(0x42),
            from,
            to: Some(Address::repeat_byte(0xd0)),
            nonce: 0,
            value: U256::ZERO,
            input: Bytes::new(),
            gas: 100_000,
            priority_fee: 1,
            max_fee: 2,
            tx_type: 2,
            authorizations: Vec::new(),
        };
        let parent = Header { number: 10, hash: Some(B256::repeat_byte(10)), ..Default::default() };
        let b = would_be_block(&parent, &t, Some((s, vec![], None)));
        let mut out = Findings::new();
        d.pending(&Pending { tx: &t, block: &b, sim: Some(s), seq: 1 }, &mut out);
        out.take().0
    }

    #[test]
    fn a_drain_is_a_loss_and_breaks_the_invariant() {
        let mut d = SimulationGuard::new(cfg(), "eth").unwrap();
        let fs = judge(&mut d, EVE, &sim((10 * E18, 0), (10 * E18, 0), (10 * E18, 10 * E18)));
        let loss = fs.iter().find(|f| f.evidence["check"] == "loss").unwrap();
        assert_eq!(loss.severity, Severity::High);
        assert_eq!(loss.evidence["loss_percent"], "100.00");
        assert_eq!(loss.evidence["loss"], (10 * E18).to_string());
        assert_eq!(loss.evidence["stage"], "pending");
        let inv = fs.iter().find(|f| f.evidence["check"] == "invariant").unwrap();
        assert_eq!(inv.severity, Severity::Critical);
        assert_eq!(inv.evidence["after"]["totalAssets"], "0");
        assert_ne!(loss.key, inv.key);
    }

    #[test]
    fn a_rightful_withdrawal_below_the_threshold_raises_nothing() {
        let mut d = SimulationGuard::new(cfg(), "eth").unwrap();
        // 40% out, shares burned alike: under the 50% limit, still backed.
        let s = sim((10 * E18, 6 * E18), (10 * E18, 6 * E18), (10 * E18, 6 * E18));
        assert!(judge(&mut d, OWNER, &s).is_empty());
        // 60% out is a loss finding, but the invariant still holds.
        let s = sim((10 * E18, 4 * E18), (10 * E18, 4 * E18), (10 * E18, 4 * E18));
        let fs = judge(&mut d, OWNER, &s);
        assert_eq!(fs.len(), 1);
        assert_eq!(fs[0].evidence["check"], "loss");
        // Unless the sender is allowed.
        let mut c = cfg();
        c.allowed_senders = vec![OWNER];
        let mut d = SimulationGuard::new(c, "eth").unwrap();
        assert!(judge(&mut d, OWNER, &s).is_empty());
    }

    #[test]
    fn an_invariant_already_broken_is_not_blamed_on_the_transaction_and_failures_are_not_judged() {
        let mut d = SimulationGuard::new(cfg(), "eth").unwrap();
        let s = sim((1, 1), (5, 4), (10, 10));
        assert!(judge(&mut d, EVE, &s).is_empty());
        let mut failed = sim((10 * E18, 0), (10 * E18, 0), (10 * E18, 10 * E18));
        failed.success = false;
        assert!(judge(&mut d, EVE, &failed).is_empty());
        let mut elsewhere = sim((10 * E18, 0), (10 * E18, 0), (10 * E18, 10 * E18));
        elsewhere.touched = vec![Address::repeat_byte(0x33)];
        assert!(judge(&mut d, EVE, &elsewhere).is_empty());
    }

    #[test]
    fn a_privileged_slot_write_is_reported() {
        let mut d = SimulationGuard::new(cfg(), "eth").unwrap();
        let mut s = sim((1, 1), (1, 1), (1, 1));
        s.slots.push(SlotChange {
            address: VAULT,
            slot: B256::ZERO,
            before: U256::from_be_slice(OWNER.as_slice()),
            after: U256::from_be_slice(EVE.as_slice()),
        });
        let fs = judge(&mut d, EVE, &s);
        assert_eq!(fs.len(), 1);
        assert_eq!(
            (fs[0].severity, fs[0].evidence["name"].as_str()),
            (Severity::Critical, Some("owner"))
        );
        // A packed slot: the owner in the low 20 bytes, a pause flag in the next byte. Setting
        // the flag is not an owner change.
        let mut c = cfg();
        c.privileged_slots[0].size = 20;
        let mut d = SimulationGuard::new(c, "eth").unwrap();
        let owner = U256::from_be_slice(OWNER.as_slice());
        s.slots[0] = SlotChange {
            address: VAULT,
            slot: B256::ZERO,
            before: owner,
            after: owner | (U256::from(1) << 160),
        };
        assert!(judge(&mut d, EVE, &s).is_empty());
        s.slots[0].after = U256::from_be_slice(EVE.as_slice()) | (U256::from(1) << 160);
        let eve = format!("{:#x}", U256::from_be_slice(EVE.as_slice()));
        assert_eq!(judge(&mut d, EVE, &s)[0].evidence["after"], eve);
    }

    #[test]
    fn configs_are_checked() {
        let bad = |f: &dyn Fn(&mut SimulationConfig)| {
            let mut c = cfg();
            f(&mut c);
            match SimulationGuard::new(c, "eth") {
                Err(DetectError::Config { field, .. }) => field,
                other => panic!("accepted: {other:?}"),
            }
        };
        assert_eq!(bad(&|c| c.contracts.clear()), "contracts");
        assert_eq!(bad(&|c| c.max_loss_percent = 101.0), "max_loss_percent");
        assert_eq!(bad(&|c| c.min_loss = Some("1e18".into())), "min_loss");
        assert_eq!(
            bad(&|c| c.invariants[0].expr = "after.x >= total".into()),
            "invariants[0].expr"
        );
        assert_eq!(
            bad(&|c| c.invariants[0].views[0] = "balanceOf(address)".into()),
            "invariants[0].views[0]"
        );
        assert_eq!(
            bad(&|c| c.privileged_slots[0].slot = "owner".into()),
            "privileged_slots[0].slot"
        );
        assert_eq!(bad(&|c| c.privileged_slots[0].offset = 20), "privileged_slots[0].size");
        // EIP-1967 names resolve to the standard slots.
        assert_eq!(
            parse_slot("eip1967.implementation").unwrap(),
            "0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc"
                .parse::<B256>()
                .unwrap()
        );
        assert_eq!(
            parse_slot("eip1967.admin").unwrap(),
            "0xb53127684a568b3173ae13b9f8a6016e243e63b6e8ee1178d6a717850b5d6103"
                .parse::<B256>()
                .unwrap()
        );
    }
}
