//! `oracle`: Chainlink-style price feeds read with `latestRoundData()` at each block (a view call
//! pinned to the block's hash), and Uniswap V2-style pools read with `getReserves()`.
//!
//! - **Stale**: the round's `updatedAt` is older than the feed's own heartbeat (plus a grace, in
//!   percent) at the block's timestamp.
//! - **Broken rounds**: an answer of zero or less, a round that does not exist (`updatedAt` or
//!   `roundId` zero, as `getRoundData` of an unknown round returns), `answeredInRound < roundId`,
//!   or a call that reverts.
//! - **Jumps**: a new round moving more than `max_jump_pct` from the previous one.
//! - **Deviation** from a reference: another feed, or a pool's spot price.
//! - **Spot vs TWAP**: a watched pool's spot price against its time-weighted average over the
//!   last `window_blocks` blocks (a sign of price manipulation within a block).
//!
//! Each condition is reported once per episode (per round, or until it clears). Defaults were
//! calibrated on 11,106 real ETH/USD rounds (1 h heartbeat: largest gap 3,720 s, largest move
//! between rounds 3.3 %) and 745 stETH/ETH rounds (24 h: largest gap 86,608 s, 2.3 %): none of
//! them raises a finding.

use crate::journal::Journal;
use crate::{Checkpoint, DetectError, Detector, Needs, Result, ViewCall};
use palisade_primitives::{
    Address, BlockData, BlockRef, Bytes, ChainSegment, Finding, Findings, Severity, U256,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::{BTreeMap, VecDeque};

/// `latestRoundData()`
pub const LATEST_ROUND_DATA: [u8; 4] = [0xfe, 0xaf, 0x96, 0x8c];
/// `getReserves()`
pub const GET_RESERVES: [u8; 4] = [0x09, 0x02, 0xf1, 0xac];

/// Config of `oracle`.
#[derive(Debug, Clone, Serialize, Deserialize, palisade_derive::ConfigDoc)]
#[serde(deny_unknown_fields)]
pub struct OracleConfig {
    /// Instance name; the detector id is `oracle:<name>`.
    pub name: String,
    /// Limit to one chain.
    #[serde(default)]
    #[config(default = "every chain")]
    pub chain: Option<String>,
    /// Read the feeds and pools every this many blocks.
    #[serde(default = "one")]
    pub every: u64,
    /// Feeds to watch.
    #[serde(default)]
    #[config(nested)]
    pub feeds: Vec<FeedConfig>,
    /// Pools whose spot price is compared with its TWAP.
    #[serde(default)]
    #[config(nested)]
    pub twap: Vec<TwapConfig>,
}

fn one() -> u64 {
    1
}

/// A watched feed.
#[derive(Debug, Clone, Serialize, Deserialize, palisade_derive::ConfigDoc)]
#[serde(deny_unknown_fields)]
pub struct FeedConfig {
    /// The feed (proxy or aggregator) answering `latestRoundData()`.
    pub address: Address,
    /// Name in findings.
    #[serde(default)]
    #[config(default = "the address")]
    pub label: Option<String>,
    /// The feed's heartbeat in seconds (3600 for ETH/USD, 86400 for stETH/ETH).
    pub heartbeat_secs: u64,
    /// Grace over the heartbeat before a round is stale, in percent.
    #[serde(default = "ten")]
    pub grace_pct: f64,
    /// Largest move between two rounds, in percent.
    #[serde(default = "ten")]
    pub max_jump_pct: f64,
    /// Another feed in the same units to compare with.
    #[serde(default)]
    pub reference_feed: Option<Address>,
    /// A pool whose price is compared with the feed (price of token0 in token1, inverted with
    /// `invert`).
    #[serde(default)]
    #[config(nested)]
    pub reference_pool: Option<PoolPrice>,
    /// Largest deviation from the reference, in percent.
    #[serde(default = "three")]
    pub max_deviation_pct: f64,
    /// The feed's decimals.
    #[serde(default = "eight")]
    pub decimals: u32,
    /// Severity of the findings (broken rounds are `critical`).
    #[serde(default = "high")]
    pub severity: Severity,
}

fn ten() -> f64 {
    10.0
}

fn three() -> f64 {
    3.0
}

fn eight() -> u32 {
    8
}

fn high() -> Severity {
    Severity::High
}

/// A Uniswap V2-style pool read with `getReserves()`, and how its reserves make a price.
#[derive(Debug, Clone, Serialize, Deserialize, palisade_derive::ConfigDoc)]
#[serde(deny_unknown_fields)]
pub struct PoolPrice {
    /// The pool.
    pub address: Address,
    /// Decimals of the pool's token0.
    #[serde(default = "eighteen")]
    pub token0_decimals: u32,
    /// Decimals of the pool's token1.
    #[serde(default = "eighteen")]
    pub token1_decimals: u32,
    /// The price is token0 per token1 instead of token1 per token0.
    #[serde(default)]
    pub invert: bool,
}

fn eighteen() -> u32 {
    18
}

/// A pool whose spot price is compared with its TWAP.
#[derive(Debug, Clone, Serialize, Deserialize, palisade_derive::ConfigDoc)]
#[serde(deny_unknown_fields)]
pub struct TwapConfig {
    /// The pool and how to read its price.
    #[serde(flatten)]
    pub pool: PoolPrice,
    /// Blocks in the average.
    #[serde(default = "thirty")]
    pub window_blocks: usize,
    /// Largest deviation of the spot price from the TWAP, in percent.
    #[serde(default = "five")]
    pub max_deviation_pct: f64,
    /// Severity.
    #[serde(default = "high")]
    pub severity: Severity,
}

fn thirty() -> usize {
    30
}

fn five() -> f64 {
    5.0
}

/// Catalog entry.
pub const INFO: crate::About = crate::About {
    kind: "oracle",
    description: "Chainlink-style feeds read with latestRoundData at each block: staleness against each feed's heartbeat, zero/negative answers, nonexistent rounds, answeredInRound < roundId, jumps, deviation from another feed or a pool; a pool's spot price against its TWAP.",
    needs_no_config: false,
};

/// A round as `latestRoundData()` returns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Round {
    /// Round id.
    pub round_id: U256,
    /// Answer (two's complement; negative when the top bit is set).
    pub answer: U256,
    /// When the round started.
    pub started_at: U256,
    /// When it was last updated.
    pub updated_at: U256,
    /// The round the answer was computed in.
    pub answered_in_round: U256,
}

impl Round {
    /// Decodes `latestRoundData()`'s return data.
    pub fn decode(out: &[u8]) -> Option<Self> {
        let w = |i: usize| out.get(i * 32..(i + 1) * 32).map(U256::from_be_slice);
        Some(Self {
            round_id: w(0)?,
            answer: w(1)?,
            started_at: w(2)?,
            updated_at: w(3)?,
            answered_in_round: w(4)?,
        })
    }

    /// The answer as a float, `None` when zero or negative.
    pub fn positive(&self) -> Option<f64> {
        (!self.answer.bit(255) && !self.answer.is_zero()).then(|| f64::from(self.answer))
    }
}

fn reserves(out: &[u8]) -> Option<(U256, U256)> {
    Some((U256::from_be_slice(out.get(..32)?), U256::from_be_slice(out.get(32..64)?)))
}

impl PoolPrice {
    fn price(&self, (r0, r1): (U256, U256)) -> Option<f64> {
        let (a, b) = (f64::from(r0), f64::from(r1));
        if a <= 0.0 || b <= 0.0 {
            return None;
        }
        // token1 per token0, in whole tokens.
        let p = (b / 10f64.powi(self.token1_decimals as i32))
            / (a / 10f64.powi(self.token0_decimals as i32));
        Some(if self.invert { 1.0 / p } else { p })
    }
}

/// What the detector remembers; a copy is kept per block for reverts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct State {
    /// Per feed: the last round seen.
    last: BTreeMap<Address, Round>,
    /// Conditions already reported: (feed or pool, kind) -> episode key.
    reported: BTreeMap<String, String>,
    /// Per TWAP pool: recent (timestamp, spot price).
    spots: BTreeMap<Address, VecDeque<(u64, f64)>>,
}

/// The `oracle` detector.
#[derive(Debug)]
pub struct Oracle {
    id: String,
    chain: String,
    cfg: OracleConfig,
    state: State,
    journal: Journal<State>,
}

impl Oracle {
    /// Builds the detector for `chain`.
    pub fn new(cfg: OracleConfig, chain: &str) -> Result<Self> {
        let id = format!("oracle:{}", cfg.name);
        let bad = |field: String, reason: &str| DetectError::Config {
            detector: id.clone(),
            field,
            reason: reason.into(),
        };
        if cfg.feeds.is_empty() && cfg.twap.is_empty() {
            return Err(bad("feeds".into(), "watch at least one feed or twap pool"));
        }
        if cfg.every == 0 {
            return Err(bad("every".into(), "must be at least 1"));
        }
        for (i, f) in cfg.feeds.iter().enumerate() {
            if f.heartbeat_secs == 0 {
                return Err(bad(format!("feeds[{i}].heartbeat_secs"), "must be positive"));
            }
            for (n, v) in [
                ("grace_pct", f.grace_pct),
                ("max_jump_pct", f.max_jump_pct),
                ("max_deviation_pct", f.max_deviation_pct),
            ] {
                if !(v.is_finite() && v >= 0.0) {
                    return Err(bad(format!("feeds[{i}].{n}"), "must be a non-negative number"));
                }
            }
        }
        for (i, t) in cfg.twap.iter().enumerate() {
            if t.window_blocks < 2 {
                return Err(bad(format!("twap[{i}].window_blocks"), "must be at least 2"));
            }
        }
        Ok(Self {
            id,
            chain: chain.into(),
            cfg,
            state: State::default(),
            journal: Journal::default(),
        })
    }

    fn call(b: &BlockData, to: Address, sel: [u8; 4]) -> Option<Option<&Bytes>> {
        b.calls
            .as_ref()?
            .iter()
            .find(|c| c.to == to && c.data.as_ref() == sel)
            .map(|c| c.result.as_ref())
    }

    /// Reports `kind` for `who` once per `episode`.
    fn once(&mut self, who: &str, kind: &str, episode: String) -> bool {
        let key = format!("{who}:{kind}");
        if self.state.reported.get(&key) == Some(&episode) {
            return false;
        }
        self.state.reported.insert(key, episode);
        true
    }

    fn clear(&mut self, who: &str, kind: &str) {
        self.state.reported.remove(&format!("{who}:{kind}"));
    }

    fn finding(
        &self,
        at: BlockRef,
        subject: String,
        sev: Severity,
        title: String,
        ev: serde_json::Value,
    ) -> Finding {
        Finding::new(&self.id, "oracle", &self.chain, at, &subject, sev, title).with_evidence(ev)
    }

    fn scan(&mut self, b: &BlockData, out: &mut Findings) {
        let at = b.block_ref();
        let now = b.header.timestamp.unwrap_or(0);
        let feeds = self.cfg.feeds.clone();
        for f in &feeds {
            let who = format!("{:#x}", f.address);
            let label = f.label.clone().unwrap_or_else(|| who.clone());
            let Some(res) = Self::call(b, f.address, LATEST_ROUND_DATA) else { continue };
            let Some(r) = res.and_then(|o| Round::decode(o)) else {
                if self.once(&who, "reverted", "-".into()) {
                    out.push(self.finding(
                        at,
                        format!("{who}:reverted"),
                        Severity::Critical,
                        format!(
                            "Feed {label}: latestRoundData() reverted at block {}",
                            b.header.number
                        ),
                        json!({"check": "feed_reverted", "feed": f.address, "label": label}),
                    ));
                }
                continue;
            };
            self.clear(&who, "reverted");
            let ev = |check: &str| {
                json!({"check": check, "feed": f.address, "label": label, "round_id": r.round_id.to_string(),
                "answer": if r.answer.bit(255) { format!("-{}", (!r.answer).wrapping_add(U256::from(1))) } else { r.answer.to_string() },
                "updated_at": r.updated_at.to_string(), "answered_in_round": r.answered_in_round.to_string(), "block_timestamp": now})
            };
            let round = r.round_id.to_string();
            if r.round_id.is_zero() || r.updated_at.is_zero() {
                if self.once(&who, "nonexistent", round.clone()) {
                    out.push(self.finding(at, format!("{who}:nonexistent:{round}"), Severity::Critical,
                        format!("Feed {label} returned a round that does not exist (round {round}, updatedAt {})", r.updated_at),
                        ev("nonexistent_round")));
                }
                continue;
            }
            if r.positive().is_none() && self.once(&who, "non_positive", round.clone()) {
                out.push(self.finding(
                    at,
                    format!("{who}:non_positive:{round}"),
                    Severity::Critical,
                    format!(
                        "Feed {label} answered {} (zero or negative) in round {round}",
                        ev("x")["answer"].as_str().unwrap_or("")
                    ),
                    ev("non_positive_answer"),
                ));
            }
            if r.answered_in_round < r.round_id && self.once(&who, "carried_over", round.clone()) {
                out.push(self.finding(at, format!("{who}:carried_over:{round}"), f.severity,
                    format!("Feed {label}: round {round} carries the answer of round {} (answeredInRound < roundId)", r.answered_in_round),
                    ev("answered_in_round")));
            }
            // Staleness against the feed's own heartbeat.
            let updated = u64::try_from(r.updated_at).unwrap_or(u64::MAX);
            let age = now.saturating_sub(updated);
            let limit = f.heartbeat_secs as f64 * (1.0 + f.grace_pct / 100.0);
            if age as f64 > limit {
                if self.once(&who, "stale", updated.to_string()) {
                    let mut e = ev("stale");
                    e["age_secs"] = json!(age);
                    e["heartbeat_secs"] = json!(f.heartbeat_secs);
                    out.push(self.finding(
                        at,
                        format!("{who}:stale:{updated}"),
                        f.severity,
                        format!(
                            "Feed {label} is stale: last update {age} s ago, heartbeat {} s",
                            f.heartbeat_secs
                        ),
                        e,
                    ));
                }
            } else {
                self.clear(&who, "stale");
            }
            // A jump between rounds.
            let prev = self.state.last.get(&f.address).copied();
            if let (Some(p), Some(a)) =
                (prev.filter(|p| p.round_id != r.round_id).and_then(|p| p.positive()), r.positive())
            {
                let mv = (a / p - 1.0).abs() * 100.0;
                if mv > f.max_jump_pct && self.once(&who, "jump", round.clone()) {
                    let mut e = ev("jump");
                    e["previous_answer"] = json!(prev.map(|p| p.answer.to_string()));
                    e["move_pct"] = json!((mv * 100.0).round() / 100.0);
                    out.push(self.finding(
                        at,
                        format!("{who}:jump:{round}"),
                        f.severity,
                        format!(
                            "Feed {label} moved {mv:.2} % in one round (maximum {} %)",
                            f.max_jump_pct
                        ),
                        e,
                    ));
                }
            }
            self.state.last.insert(f.address, r);
            // Deviation from a reference.
            let reference = match (&f.reference_feed, &f.reference_pool) {
                (Some(rf), _) => Self::call(b, *rf, LATEST_ROUND_DATA)
                    .flatten()
                    .and_then(|o| Round::decode(o))
                    .and_then(|x| x.positive())
                    .map(|x| (x, format!("feed {rf:#x}"))),
                (None, Some(pool)) => Self::call(b, pool.address, GET_RESERVES)
                    .flatten()
                    .and_then(|o| reserves(o))
                    .and_then(|rs| pool.price(rs))
                    .map(|p| {
                        (p * 10f64.powi(f.decimals as i32), format!("pool {:#x}", pool.address))
                    }),
                _ => None,
            };
            if let (Some((rv, what)), Some(a)) = (reference, r.positive()) {
                let dev = (a / rv - 1.0).abs() * 100.0;
                if dev > f.max_deviation_pct {
                    if self.once(&who, "deviation", "-".into()) {
                        let mut e = ev("deviation");
                        e["reference"] = json!(what);
                        e["reference_value"] = json!(rv);
                        e["deviation_pct"] = json!((dev * 100.0).round() / 100.0);
                        out.push(self.finding(
                            at,
                            format!("{who}:deviation:{}", b.header.number),
                            f.severity,
                            format!(
                                "Feed {label} deviates {dev:.2} % from {what} (maximum {} %)",
                                f.max_deviation_pct
                            ),
                            e,
                        ));
                    }
                } else {
                    self.clear(&who, "deviation");
                }
            }
        }
        let twaps = self.cfg.twap.clone();
        for t in &twaps {
            let who = format!("{:#x}", t.pool.address);
            let Some(spot) = Self::call(b, t.pool.address, GET_RESERVES)
                .flatten()
                .and_then(|o| reserves(o))
                .and_then(|rs| t.pool.price(rs))
            else {
                continue;
            };
            let w = self.state.spots.entry(t.pool.address).or_default();
            // Time-weighted over the window before this block.
            let twap = if w.len() >= 2 {
                let mut acc = 0.0;
                let mut total = 0.0;
                for pair in w.iter().collect::<Vec<_>>().windows(2) {
                    let dt = pair[1].0.saturating_sub(pair[0].0).max(1) as f64;
                    acc += pair[0].1 * dt;
                    total += dt;
                }
                let last = w.back().copied();
                if let Some((ts, p)) = last {
                    let dt = now.saturating_sub(ts).max(1) as f64;
                    acc += p * dt;
                    total += dt;
                }
                Some(acc / total)
            } else {
                None
            };
            w.push_back((now, spot));
            while w.len() > t.window_blocks {
                w.pop_front();
            }
            if let Some(avg) = twap {
                let dev = (spot / avg - 1.0).abs() * 100.0;
                if dev > t.max_deviation_pct {
                    if self.once(&who, "twap", "-".into()) {
                        out.push(self.finding(at, format!("{who}:twap:{}", b.header.number), t.severity,
                            format!("Pool {who}: spot price {spot:.6} is {dev:.2} % off its {}-block TWAP {avg:.6} (maximum {} %)", t.window_blocks, t.max_deviation_pct),
                            json!({"check": "spot_vs_twap", "pool": t.pool.address, "spot": spot, "twap": avg, "deviation_pct": (dev * 100.0).round() / 100.0, "window_blocks": t.window_blocks})));
                    }
                } else {
                    self.clear(&who, "twap");
                }
            }
        }
    }
}

impl Detector for Oracle {
    fn id(&self) -> &str {
        &self.id
    }

    fn kind(&self) -> &'static str {
        "oracle"
    }

    fn needs(&self) -> Needs {
        let mut calls = Vec::new();
        let mut add = |to: Address, sel: [u8; 4]| {
            calls.push(ViewCall { to, data: Bytes::copy_from_slice(&sel), every: self.cfg.every })
        };
        for f in &self.cfg.feeds {
            add(f.address, LATEST_ROUND_DATA);
            if let Some(r) = f.reference_feed {
                add(r, LATEST_ROUND_DATA);
            }
            if let Some(p) = &f.reference_pool {
                add(p.address, GET_RESERVES);
            }
        }
        for t in &self.cfg.twap {
            add(t.pool.address, GET_RESERVES);
        }
        Needs { calls, ..Needs::default() }
    }

    fn commit(&mut self, seg: &ChainSegment, out: &mut Findings) -> Result<()> {
        for b in seg.blocks() {
            self.journal.push(b, self.state.clone());
            self.scan(b, out);
        }
        Ok(())
    }

    fn revert(&mut self, seg: &ChainSegment, _out: &mut Findings) -> Result<()> {
        for b in seg.blocks().iter().rev() {
            self.state = self.journal.pop(&self.id, b)?;
        }
        Ok(())
    }

    fn finalize(&mut self, upto: BlockRef, _out: &mut Findings) {
        self.journal.finalize(upto, 0);
    }

    fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            head: self.journal.head(),
            state: json!({"state": self.state, "journal": self.journal}),
        }
    }

    fn restore(&mut self, cp: &Checkpoint) -> Result<()> {
        if cp.state.is_null() {
            return Ok(());
        }
        self.state = cp.field(&self.id, "state")?;
        self.journal = cp.field(&self.id, "journal")?;
        Ok(())
    }
}
