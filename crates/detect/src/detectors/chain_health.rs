//! `chain_health`: is the chain producing blocks the way it should?
//!
//! - **Slow blocks**: the interval between a block and its parent against a robust baseline (the
//!   median of the last `window` intervals, or `expected_block_time_secs` until enough samples).
//! - **Timestamps** that do not increase.
//! - **Reorgs**: depth, replaced and replacing hashes; severity by depth.
//! - **Gas-limit jumps** beyond the protocol's 1/1024 per block, and **base-fee** moves beyond
//!   EIP-1559's 12.5 % per block or spikes against the recent median.
//!
//! A chain that stops producing blocks altogether is reported by the runtime, which has a clock
//! (see `stall_after_secs`); this detector sees only blocks.

use super::median;
use crate::{Checkpoint, DetectError, Detector, Needs, Result};
use palisade_primitives::{BlockRef, ChainSegment, Finding, Findings, Severity, B256};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::VecDeque;

/// Config of `chain_health`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, palisade_derive::ConfigDoc)]
#[serde(deny_unknown_fields, default)]
pub struct ChainHealthConfig {
    /// Instance name.
    pub name: Option<String>,
    /// Limit to one chain.
    #[config(default = "every chain")]
    pub chain: Option<String>,
    /// Expected seconds between blocks.
    pub expected_block_time_secs: u64,
    /// Number of recent intervals in the baseline.
    pub window: usize,
    /// An interval this many times the baseline is a slow block; twice and four times that raise
    /// the severity to medium and high.
    pub slow_factor: f64,
    /// Seconds without a new head before the runtime reports a stalled chain.
    pub stall_after_secs: u64,
    /// Accept a block whose timestamp equals its parent's (Ethereum L1 requires a strictly
    /// increasing timestamp; some L2s and dev nodes such as anvil produce equal ones).
    pub allow_equal_timestamps: bool,
    /// Reorg depth from which a reorg is medium severity (shallower is low).
    pub reorg_medium_depth: u64,
    /// Reorg depth from which a reorg is high severity.
    pub reorg_high_depth: u64,
    /// Largest allowed gas-limit change between two blocks, in percent (the protocol's 1/1024).
    pub gas_limit_max_change_pct: f64,
    /// Largest allowed base-fee change between two blocks, in percent.
    pub base_fee_max_change_pct: f64,
    /// A base fee this many times the recent median is a spike.
    pub base_fee_spike_factor: f64,
}

impl Default for ChainHealthConfig {
    fn default() -> Self {
        Self {
            name: None,
            chain: None,
            expected_block_time_secs: 12,
            window: 64,
            slow_factor: 3.0,
            stall_after_secs: 60,
            allow_equal_timestamps: false,
            reorg_medium_depth: 2,
            reorg_high_depth: 4,
            gas_limit_max_change_pct: 100.0 / 1024.0,
            base_fee_max_change_pct: 12.5,
            base_fee_spike_factor: 3.0,
        }
    }
}

/// Catalog entry.
pub const INFO: crate::About = crate::About {
    kind: "chain_health",
    description: "Block intervals against a robust baseline, stalls, reorgs (depth, hashes), gas-limit and base-fee jumps.",
    needs_no_config: true,
};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Seen {
    number: u64,
    hash: Option<B256>,
    timestamp: Option<u64>,
    gas_limit: Option<u64>,
    base_fee: Option<u128>,
    /// Seconds since the parent, when the parent is the previous entry.
    interval: Option<u64>,
}

/// The `chain_health` detector.
#[derive(Debug)]
pub struct ChainHealth {
    id: String,
    chain: String,
    cfg: ChainHealthConfig,
    /// Recent blocks, oldest first; also the undo journal (pruned by `finalize`).
    recent: VecDeque<Seen>,
}

impl ChainHealth {
    /// Builds the detector for `chain`.
    pub fn new(cfg: ChainHealthConfig, chain: &str) -> Result<Self> {
        let bad = |field: &str, reason: &str| DetectError::Config {
            detector: "chain_health".into(),
            field: field.into(),
            reason: reason.into(),
        };
        if cfg.window < 3 {
            return Err(bad("window", "must be at least 3"));
        }
        if cfg.expected_block_time_secs == 0 {
            return Err(bad("expected_block_time_secs", "must be positive"));
        }
        for (f, v) in [
            ("slow_factor", cfg.slow_factor),
            ("gas_limit_max_change_pct", cfg.gas_limit_max_change_pct),
            ("base_fee_max_change_pct", cfg.base_fee_max_change_pct),
            ("base_fee_spike_factor", cfg.base_fee_spike_factor),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(bad(f, "must be a positive number"));
            }
        }
        if cfg.reorg_medium_depth < 1 || cfg.reorg_high_depth < cfg.reorg_medium_depth {
            return Err(bad(
                "reorg_high_depth",
                "need 1 <= reorg_medium_depth <= reorg_high_depth",
            ));
        }
        let id = cfg.name.clone().unwrap_or_else(|| "chain_health".into());
        Ok(Self { id, chain: chain.into(), cfg, recent: VecDeque::new() })
    }

    fn finding(&self, at: BlockRef, subject: &str, sev: Severity, title: String) -> Finding {
        Finding::new(&self.id, "chain_health", &self.chain, at, subject, sev, title)
    }

    fn baseline_interval(&self) -> u128 {
        let mut xs: Vec<u128> = self
            .recent
            .iter()
            .rev()
            .filter_map(|s| s.interval)
            .take(self.cfg.window)
            .map(u128::from)
            .collect();
        if xs.len() < self.cfg.window.min(8) {
            return u128::from(self.cfg.expected_block_time_secs);
        }
        median(&mut xs).unwrap_or(u128::from(self.cfg.expected_block_time_secs)).max(1)
    }

    fn baseline_base_fee(&self) -> Option<u128> {
        let mut xs: Vec<u128> =
            self.recent.iter().rev().filter_map(|s| s.base_fee).take(self.cfg.window).collect();
        if xs.len() < self.cfg.window.min(8) {
            return None;
        }
        median(&mut xs)
    }

    fn check(&self, s: &Seen, at: BlockRef, out: &mut Findings) {
        let adjacent = self.recent.back().filter(|p| p.number + 1 == s.number);
        if let (Some(p), Some(ts)) = (adjacent, s.timestamp) {
            if let Some(pts) = p.timestamp {
                if ts < pts || (ts == pts && !self.cfg.allow_equal_timestamps) {
                    out.push(
                        self.finding(
                            at,
                            "timestamp",
                            Severity::High,
                            format!(
                                "Block {} timestamp does not increase ({ts} <= {pts})",
                                s.number
                            ),
                        )
                        .with_evidence(
                            json!({"check": "timestamp", "timestamp": ts, "parent_timestamp": pts}),
                        ),
                    );
                }
            }
        }
        if let Some(iv) = s.interval {
            let base = self.baseline_interval();
            let ratio = iv as f64 / base as f64;
            if ratio >= self.cfg.slow_factor {
                let sev = if ratio >= self.cfg.slow_factor * 4.0 {
                    Severity::High
                } else if ratio >= self.cfg.slow_factor * 2.0 {
                    Severity::Medium
                } else {
                    Severity::Low
                };
                out.push(
                    self.finding(
                        at,
                        "slow_block",
                        sev,
                        format!(
                            "Slow block {}: {iv} s after its parent (baseline {base} s)",
                            s.number
                        ),
                    )
                    .with_evidence(json!({
                        "check": "slow_block", "interval_secs": iv, "baseline_secs": base as u64,
                        "ratio": (ratio * 100.0).round() / 100.0,
                    })),
                );
            }
        }
        if let Some(p) = adjacent {
            if let (Some(gl), Some(pgl)) = (s.gas_limit, p.gas_limit) {
                let change = gl.abs_diff(pgl) as f64 * 100.0 / pgl.max(1) as f64;
                if change > self.cfg.gas_limit_max_change_pct + 1e-9 {
                    out.push(
                        self.finding(
                            at,
                            "gas_limit",
                            Severity::High,
                            format!("Gas limit jumped {:.3}% at block {} ({pgl} -> {gl})", change, s.number),
                        )
                        .with_evidence(json!({"check": "gas_limit", "gas_limit": gl.to_string(),
                            "parent_gas_limit": pgl.to_string(), "change_pct": (change * 1000.0).round() / 1000.0})),
                    );
                }
            }
            if let (Some(bf), Some(pbf)) = (s.base_fee, p.base_fee) {
                if pbf > 0 {
                    let change = bf.abs_diff(pbf) as f64 * 100.0 / pbf as f64;
                    // One wei of rounding slack, as the EIP-1559 formula rounds.
                    let slack = 100.0 / pbf as f64;
                    if change > self.cfg.base_fee_max_change_pct + slack {
                        out.push(
                            self.finding(
                                at,
                                "base_fee_bound",
                                Severity::High,
                                format!("Base fee moved {:.2}% at block {}, beyond the per-block bound", change, s.number),
                            )
                            .with_evidence(json!({"check": "base_fee_bound", "base_fee_wei": bf.to_string(),
                                "parent_base_fee_wei": pbf.to_string(), "change_pct": (change * 100.0).round() / 100.0})),
                        );
                    }
                }
            }
        }
        if let (Some(bf), Some(med)) = (s.base_fee, self.baseline_base_fee()) {
            let limit = med as f64 * self.cfg.base_fee_spike_factor;
            let prev_over = adjacent.and_then(|p| p.base_fee).is_some_and(|pb| pb as f64 >= limit);
            if med > 0 && bf as f64 >= limit && !prev_over {
                out.push(
                    self.finding(
                        at,
                        "base_fee_spike",
                        Severity::Medium,
                        format!(
                            "Base fee spike at block {}: {:.1}x the recent median",
                            s.number,
                            bf as f64 / med as f64
                        ),
                    )
                    .with_evidence(
                        json!({"check": "base_fee_spike", "base_fee_wei": bf.to_string(),
                        "median_base_fee_wei": med.to_string()}),
                    ),
                );
            }
        }
    }
}

impl Detector for ChainHealth {
    fn warmup(&self) -> Option<u64> {
        Some(self.cfg.window as u64 + 1)
    }

    fn id(&self) -> &str {
        &self.id
    }

    fn kind(&self) -> &'static str {
        "chain_health"
    }

    fn needs(&self) -> Needs {
        Needs::default()
    }

    fn commit(&mut self, seg: &ChainSegment, out: &mut Findings) -> Result<()> {
        for b in seg.blocks() {
            let h = &b.header;
            let interval = self.recent.back().and_then(|p| {
                let linked = match (p.hash, h.parent_hash) {
                    (Some(a), Some(b)) => a == b,
                    _ => true,
                };
                (p.number + 1 == h.number && linked)
                    .then_some(())
                    .and_then(|()| Some(h.timestamp?.checked_sub(p.timestamp?)).flatten())
            });
            let s = Seen {
                number: h.number,
                hash: h.hash,
                timestamp: h.timestamp,
                gas_limit: h.gas_limit,
                base_fee: h.base_fee_per_gas,
                interval,
            };
            self.check(&s, b.block_ref(), out);
            self.recent.push_back(s);
        }
        Ok(())
    }

    fn revert(&mut self, seg: &ChainSegment, _out: &mut Findings) -> Result<()> {
        for b in seg.blocks().iter().rev() {
            match self.recent.back() {
                Some(s) if s.number == b.header.number && s.hash == b.header.hash => {
                    self.recent.pop_back();
                }
                _ => {
                    return Err(DetectError::RevertMismatch {
                        detector: self.id.clone(),
                        number: b.header.number,
                    })
                }
            }
        }
        Ok(())
    }

    fn reorg(&mut self, old: &ChainSegment, new: Option<&ChainSegment>, out: &mut Findings) {
        let depth = old.len() as u64;
        let first = &old.blocks()[0].header;
        let fork = BlockRef::maybe(first.number.saturating_sub(1), first.parent_hash);
        let sev = if depth >= self.cfg.reorg_high_depth {
            Severity::High
        } else if depth >= self.cfg.reorg_medium_depth {
            Severity::Medium
        } else {
            Severity::Low
        };
        let old_hashes: Vec<_> = old.blocks().iter().map(|b| b.block_ref().hash).collect();
        let new_hashes: Vec<_> = new
            .map(|n| n.blocks().iter().map(|b| b.block_ref().hash).collect())
            .unwrap_or_default();
        let subject = format!(
            "reorg:{}:{}",
            old.tip().hash,
            new.map(|n| n.tip().hash.to_string()).unwrap_or_default()
        );
        let title = match new {
            Some(n) => format!(
                "Reorg of depth {depth} at block {}: {} blocks replaced by {}",
                fork.number + 1,
                depth,
                n.len()
            ),
            None => format!("{depth} blocks reverted above block {}", fork.number),
        };
        out.push(self.finding(fork, &subject, sev, title).with_evidence(json!({
            "check": "reorg",
            "depth": depth,
            "fork_point": fork.number,
            "old_hashes": old_hashes,
            "new_hashes": new_hashes,
            "old_tip": old.tip().hash,
            "new_tip": new.map(|n| n.tip().hash),
        })));
    }

    fn finalize(&mut self, upto: BlockRef, _out: &mut Findings) {
        let keep = self.cfg.window + 1;
        while self.recent.len() > keep
            && self.recent.front().is_some_and(|s| s.number <= upto.number)
        {
            self.recent.pop_front();
        }
    }

    fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            head: self.recent.back().map(|s| BlockRef::maybe(s.number, s.hash)),
            state: serde_json::to_value(&self.recent).unwrap_or_default(),
        }
    }

    fn restore(&mut self, cp: &Checkpoint) -> Result<()> {
        self.recent = serde_json::from_value(cp.state.clone()).map_err(|e| {
            DetectError::Restore { detector: self.id.clone(), reason: e.to_string() }
        })?;
        Ok(())
    }
}
