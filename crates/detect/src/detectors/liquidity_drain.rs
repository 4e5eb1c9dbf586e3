//! `liquidity_drain`: watched assets leaving watched contracts (pools, vaults, bridges).
//!
//! - **Over a window**: the net outflow of a token from a contract over the last `window_blocks`
//!   blocks, in absolute terms (`max_outflow`) and as a share of the contract's balance at the
//!   start of the window (`max_outflow_pct`; balances are read each block: ether from the proven
//!   account state, tokens with `balanceOf`).
//! - **In one flash-loan-funded transaction**: a transaction that takes a flash loan while a
//!   watched contract loses a watched token and the transaction's sender (or the loan's
//!   receiver) ends with at least `flash_profit_min` of a token more than it started with.
//!
//! Transfers come from `palisade_defi` (logs, or the call tree when there are no logs; ether
//! needs traces).

use crate::journal::Journal;
use crate::{Checkpoint, DetectError, Detector, Needs, Result, StateWatch, ViewCall};
use palisade_defi::known::ETH;
use palisade_defi::net_flow;
use palisade_primitives::{
    Address, BlockData, BlockRef, Bytes, ChainSegment, Finding, Findings, Severity, U256,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;

/// `balanceOf(address)`
const BALANCE_OF: [u8; 4] = [0x70, 0xa0, 0x82, 0x31];

/// Config of `liquidity_drain`.
#[derive(Debug, Clone, Serialize, Deserialize, palisade_derive::ConfigDoc)]
#[serde(deny_unknown_fields)]
pub struct LiquidityDrainConfig {
    /// Instance name; the detector id is `liquidity_drain:<name>`.
    pub name: String,
    /// Limit to one chain.
    #[serde(default)]
    #[config(default = "every chain")]
    pub chain: Option<String>,
    /// Severity of the findings (a flash-loan-funded drain is `critical`).
    #[serde(default = "high")]
    pub severity: Severity,
    /// Contracts whose holdings are watched.
    pub contracts: Vec<Address>,
    /// Tokens watched, with thresholds; ether is `0xeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee`.
    #[config(nested)]
    pub tokens: Vec<TokenWatch>,
    /// Blocks in the sliding window.
    #[serde(default = "ten")]
    pub window_blocks: usize,
}

fn high() -> Severity {
    Severity::High
}

fn ten() -> usize {
    10
}

/// A watched token and its thresholds (raw units, as decimal strings).
#[derive(Debug, Clone, Serialize, Deserialize, palisade_derive::ConfigDoc)]
#[serde(deny_unknown_fields)]
pub struct TokenWatch {
    /// The token.
    pub token: Address,
    /// Name in findings.
    #[serde(default)]
    #[config(default = "the address")]
    pub label: Option<String>,
    /// Net outflow over the window that is reported, in raw units, as a decimal string.
    #[serde(default)]
    pub max_outflow: Option<String>,
    /// Net outflow over the window as a share of the balance at its start, in percent.
    #[serde(default = "twenty")]
    pub max_outflow_pct: f64,
    /// Gain of the sender of a flash-loan-funded transaction that drains this token, in raw units
    /// as a decimal string, from which it is reported (`"0"`: any gain).
    #[serde(default)]
    #[config(default = "\"0\"")]
    pub flash_profit_min: Option<String>,
    /// Decimals of its raw amounts, for titles in units (by default the bundled table's for
    /// well-known tokens; else titles give raw amounts and the runtime reads the token's own).
    #[serde(default)]
    #[config(default = "bundled table")]
    pub decimals: Option<u8>,
}

impl TokenWatch {
    /// `raw` of this token as a title says it: `600 STK (600000000000000000000 raw)` when its
    /// decimals are known, else `600000000000000000000 STK`.
    fn amount(&self, raw: U256) -> String {
        let known = palisade_primitives::units::token(&self.token);
        let label = self
            .label
            .clone()
            .or_else(|| known.map(|t| t.symbol.to_string()))
            .unwrap_or_else(|| format!("{:#x}", self.token));
        match self.decimals.or(known.map(|t| t.decimals)) {
            Some(d) => {
                format!(
                    "{} {label} ({raw} raw)",
                    palisade_primitives::units::scaled(&raw.to_string(), d)
                )
            }
            None => format!("{raw} {label}"),
        }
    }
}

fn twenty() -> f64 {
    20.0
}

/// Catalog entry.
pub const INFO: crate::About = crate::About {
    kind: "liquidity_drain",
    description: "Net outflow of watched tokens from watched contracts over a sliding window (absolute and as a share of the balance), and flash-loan-funded transactions that drain a watched contract while the sender profits.",
    needs_no_config: false,
};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Seen {
    /// (contract, token) -> (outflow, inflow) in this block.
    flows: BTreeMap<String, (U256, U256)>,
    /// (contract, token) -> balance read at this block (before or after it is the same block).
    balances: BTreeMap<String, U256>,
    /// Episodes reported as of this block: (contract, token).
    reported: Vec<String>,
}

/// The `liquidity_drain` detector.
#[derive(Debug)]
pub struct LiquidityDrain {
    id: String,
    chain: String,
    cfg: LiquidityDrainConfig,
    limits: Vec<(Option<U256>, U256)>,
    window: Journal<Seen>,
}

fn key(c: Address, t: Address) -> String {
    format!("{c:#x}:{t:#x}")
}

impl LiquidityDrain {
    /// Builds the detector for `chain`.
    pub fn new(cfg: LiquidityDrainConfig, chain: &str) -> Result<Self> {
        let id = format!("liquidity_drain:{}", cfg.name);
        let bad = |field: String, reason: String| DetectError::Config {
            detector: id.clone(),
            field,
            reason,
        };
        if cfg.contracts.is_empty() {
            return Err(bad("contracts".into(), "watch at least one contract".into()));
        }
        if cfg.tokens.is_empty() {
            return Err(bad("tokens".into(), "watch at least one token".into()));
        }
        if cfg.window_blocks == 0 {
            return Err(bad("window_blocks".into(), "must be at least 1".into()));
        }
        let amount = |i: usize, f: &str, s: &Option<String>| -> Result<Option<U256>> {
            s.as_ref()
                .map(|s| {
                    U256::from_str_radix(s.trim(), 10).map_err(|_| {
                        bad(
                            format!("tokens[{i}].{f}"),
                            format!("want a decimal amount in raw units, got {s:?}"),
                        )
                    })
                })
                .transpose()
        };
        let mut limits = Vec::new();
        for (i, t) in cfg.tokens.iter().enumerate() {
            if !(t.max_outflow_pct.is_finite() && t.max_outflow_pct > 0.0) {
                return Err(bad(
                    format!("tokens[{i}].max_outflow_pct"),
                    "must be a positive number".into(),
                ));
            }
            limits.push((
                amount(i, "max_outflow", &t.max_outflow)?,
                amount(i, "flash_profit_min", &t.flash_profit_min)?.unwrap_or_default(),
            ));
        }
        Ok(Self { id, chain: chain.into(), cfg, limits, window: Journal::default() })
    }

    fn balance(b: &BlockData, contract: Address, token: Address) -> Option<U256> {
        if token == ETH {
            return b.state.as_ref()?.iter().find(|s| s.address == contract).map(|s| s.balance);
        }
        let data = balance_of_call(contract);
        let c = b.calls.as_ref()?.iter().find(|c| c.to == token && c.data == data)?;
        c.result.as_ref().filter(|r| r.len() >= 32).map(|r| U256::from_be_slice(&r[..32]))
    }

    fn scan(&mut self, b: &BlockData, out: &mut Findings) {
        let at = b.block_ref();
        let actions = palisade_defi::actions(b);
        let mut seen = Seen {
            reported: self.window.last().map(|s| s.reported.clone()).unwrap_or_default(),
            ..Default::default()
        };
        // Per-block flows, and flash-loan-funded drains per transaction.
        for (ti, t) in self.cfg.tokens.iter().enumerate() {
            for c in &self.cfg.contracts {
                let (mut outflow, mut inflow) = (U256::ZERO, U256::ZERO);
                for tx in &actions.txs {
                    let (i, o) = net_flow(&tx.transfers, t.token, *c);
                    outflow += o;
                    inflow += i;
                    if tx.flash_loans.is_empty() || o <= i {
                        continue;
                    }
                    let lost = o - i;
                    // Who gained: the sender, or the loan's receiver (the attack contract).
                    let gainers: Vec<Address> = tx
                        .from
                        .into_iter()
                        .chain(tx.flash_loans.iter().map(|f| f.receiver))
                        .collect();
                    let best = gainers
                        .iter()
                        .filter(|g| !self.cfg.contracts.contains(g))
                        .filter_map(|g| {
                            let (gi, go) = net_flow(&tx.transfers, t.token, *g);
                            (gi > go).then(|| (*g, gi - go))
                        })
                        .max_by_key(|(_, gain)| *gain);
                    if let Some((who, gain)) = best.filter(|(_, g)| *g >= self.limits[ti].1) {
                        out.push(
                            Finding::new(&self.id, "liquidity_drain", &self.chain, at, &format!("flash:{}:{}", tx.index, key(*c, t.token)), Severity::Critical,
                                format!("Flash-loan-funded drain in tx {}: {c:#x} lost {} while {who:#x} gained {}", tx.index, t.amount(lost), t.amount(gain)))
                            .with_txs(tx.hash)
                            .with_evidence(json!({"check": "flash_loan_drain", "contract": c, "token": t.token, "lost": lost.to_string(),
                                "gainer": who, "gain": gain.to_string(), "flash_loans": tx.flash_loans, "tx_index": tx.index})),
                        );
                    }
                }
                let k = key(*c, t.token);
                seen.flows.insert(k.clone(), (outflow, inflow));
                if let Some(bal) = Self::balance(b, *c, t.token) {
                    seen.balances.insert(k, bal);
                }
            }
        }
        self.window.push(b, seen);
        // Window judgement.
        let w = self.cfg.window_blocks;
        let start = self.window.len().saturating_sub(w);
        for (ti, t) in self.cfg.tokens.iter().enumerate() {
            for c in &self.cfg.contracts {
                let k = key(*c, t.token);
                let (mut o, mut i) = (U256::ZERO, U256::ZERO);
                for s in self.window.iter().skip(start) {
                    if let Some((so, si)) = s.flows.get(&k) {
                        o += *so;
                        i += *si;
                    }
                }
                let net = o.saturating_sub(i);
                // Balance at the window's start: read after its first block (calls see the
                // block's post-state), plus what that block took out, less what it brought in.
                let base = self.window.get(start).and_then(|s| {
                    let (so, si) = s.flows.get(&k).copied().unwrap_or_default();
                    s.balances.get(&k).map(|b| b.saturating_add(so).saturating_sub(si))
                });
                let pct =
                    base.filter(|b| !b.is_zero()).map(|b| f64::from(net) / f64::from(b) * 100.0);
                let over_abs = self.limits[ti].0.is_some_and(|m| net > m);
                let over_pct = pct.is_some_and(|p| p > t.max_outflow_pct);
                let reported = self.window.last().is_some_and(|s| s.reported.contains(&k));
                if (over_abs || over_pct) && !reported {
                    out.push(
                        Finding::new(&self.id, "liquidity_drain", &self.chain, at, &format!("window:{k}"), self.cfg.severity,
                            format!("{c:#x} lost {} net over the last {} blocks{}", t.amount(net), self.window.len() - start,
                                pct.map(|p| format!(" ({p:.1} % of its balance)")).unwrap_or_default()))
                        .with_evidence(json!({"check": "window_outflow", "contract": c, "token": t.token, "net_outflow": net.to_string(),
                            "outflow": o.to_string(), "inflow": i.to_string(), "window_blocks": self.window.len() - start,
                            "balance_at_start": base.map(|b| b.to_string()), "share_pct": pct, "max_outflow_pct": t.max_outflow_pct,
                            "max_outflow": self.limits[ti].0.map(|m| m.to_string())})),
                    );
                    if let Some(s) = self.window.last_mut() {
                        s.reported.push(k);
                    }
                } else if !(over_abs || over_pct) && reported {
                    if let Some(s) = self.window.last_mut() {
                        s.reported.retain(|x| *x != k);
                    }
                }
            }
        }
    }
}

fn balance_of_call(holder: Address) -> Bytes {
    let mut d = BALANCE_OF.to_vec();
    d.extend_from_slice(&[0u8; 12]);
    d.extend_from_slice(holder.as_slice());
    d.into()
}

impl Detector for LiquidityDrain {
    fn id(&self) -> &str {
        &self.id
    }

    fn kind(&self) -> &'static str {
        "liquidity_drain"
    }

    fn needs(&self) -> Needs {
        let mut n = Needs { receipts: true, traces: true, actions: true, ..Needs::default() };
        for t in &self.cfg.tokens {
            for c in &self.cfg.contracts {
                if t.token == ETH {
                    n.state.push(StateWatch { address: *c, slots: Vec::new(), every: 1 });
                } else {
                    n.calls.push(ViewCall { to: t.token, data: balance_of_call(*c), every: 1 });
                }
            }
        }
        n
    }

    fn commit(&mut self, seg: &ChainSegment, out: &mut Findings) -> Result<()> {
        for b in seg.blocks() {
            self.scan(b, out);
        }
        Ok(())
    }

    fn revert(&mut self, seg: &ChainSegment, _out: &mut Findings) -> Result<()> {
        self.window.revert(&self.id, seg).map(drop)
    }

    fn finalize(&mut self, upto: BlockRef, _out: &mut Findings) {
        self.window.finalize(upto, self.cfg.window_blocks);
    }

    fn checkpoint(&self) -> Checkpoint {
        self.window.checkpoint()
    }

    fn restore(&mut self, cp: &Checkpoint) -> Result<()> {
        self.window = Journal::restore(&self.id, cp)?;
        Ok(())
    }
}
