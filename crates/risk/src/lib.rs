//! The settlement-risk index: for every block of a chain, a figure from 0 (settles as usual) to
//! 100 (settlement is in doubt), with its components from 0 to 1, each with the raw inputs it
//! used. Pure and reorg-exact like a detector: [`RiskIndex::commit`] scores new blocks,
//! [`RiskIndex::revert`] undoes exactly the newest ones (their points are retracted by whoever
//! kept them), [`RiskIndex::checkpoint`] and [`RiskIndex::restore`] carry it across restarts, and
//! a replay of the same blocks gives the same points, down to their `inputs_hash`.
//!
//! # Components (methodology `palisade-risk/1`; docs/risk.md has the formulas)
//! - `liveness`: the block's interval against a robust baseline of the chain's own recent
//!   intervals (median and median absolute deviation), as a z-score: 0 below 3, 1 at 15 (the
//!   level at which L2BEAT calls a rollup's liveness anomalous); a stall between blocks is
//!   scored the same way by [`RiskIndex::stalled`].
//! - `reorgs`: the depth and the number of reorgs over the last 32 and 1,024 blocks.
//! - `congestion`: the base fee's rank in its trailing distribution and gas used against the
//!   limit.
//! - `source_integrity`, `finality`, `duties`, `oracle_freshness`, `rollup_liveness`: given by
//!   the runtime with the block when it observes them ([`Observed`]); absent components do not
//!   count.
//!
//! The index combines the components that were observed as
//! `100 × (1 − Π (1 − vᵢ)^(wᵢ / max w))`: one component at 1 gives 100 whatever the others, two
//! at 0.5 with the top weight give 75, and a component with half the top weight counts as the
//! square root of its complement.

mod consensus;
mod feeds;
mod stats;

use alloy_primitives::{keccak256, B256};
use palisade_primitives::{BlockData, BlockRef, ChainSegment, Severity};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{BTreeMap, VecDeque};

pub use feeds::{FeedWatch, RollupWatch, SequencerFeed};
pub use stats::{median, median_abs_dev, rank};

/// The methodology every point carries: a change of formula, weight or window changes it.
pub const METHODOLOGY_VERSION: &str = "palisade-risk/2";

/// Errors of the index.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RiskError {
    /// Blocks reverted that are not the newest scored.
    #[error("revert of block {got} but the newest scored block is {want:?}")]
    NotTip {
        /// The block asked to revert.
        got: u64,
        /// The newest scored block.
        want: Option<u64>,
    },
    /// A checkpoint that does not read.
    #[error("risk checkpoint: {0}")]
    Checkpoint(String),
    /// A config value out of range.
    #[error("risk config: {0}")]
    Config(String),
}

/// Result alias for this crate.
pub type Result<T, E = RiskError> = std::result::Result<T, E>;

/// The weight of each component (relative; only their ratios matter).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Weights {
    /// Block production.
    pub liveness: f64,
    /// Reorgs.
    pub reorgs: f64,
    /// Congestion.
    pub congestion: f64,
    /// Finality.
    pub finality: f64,
    /// Validator duties.
    pub duties: f64,
    /// The monitor's own sources.
    pub source_integrity: f64,
    /// Oracles.
    pub oracle_freshness: f64,
    /// A rollup's sequencer and postings.
    pub rollup_liveness: f64,
}

impl Default for Weights {
    fn default() -> Self {
        Self {
            liveness: 1.0,
            reorgs: 0.8,
            congestion: 0.5,
            finality: 1.0,
            duties: 0.6,
            source_integrity: 0.8,
            oracle_freshness: 0.6,
            rollup_liveness: 1.0,
        }
    }
}

impl Weights {
    fn of(&self, name: &str) -> f64 {
        match name {
            "liveness" => self.liveness,
            "reorgs" => self.reorgs,
            "congestion" => self.congestion,
            "finality" => self.finality,
            "duties" => self.duties,
            "source_integrity" => self.source_integrity,
            "oracle_freshness" => self.oracle_freshness,
            "rollup_liveness" => self.rollup_liveness,
            _ => 0.0,
        }
    }

    fn max(&self) -> f64 {
        COMPONENTS.iter().map(|n| self.of(n)).fold(0.0, f64::max)
    }
}

/// `[risk]` in the config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RiskConfig {
    /// Component weights.
    pub weights: Weights,
    /// Intervals in the liveness baseline (default 256).
    pub baseline_blocks: usize,
    /// Blocks in the short reorg window (default 32).
    pub short_window: u64,
    /// Blocks in the long reorg window and the congestion baseline (default 1024).
    pub long_window: u64,
    /// Levels whose crossing is a finding (default: none).
    pub thresholds: Vec<Threshold>,
    /// Price feeds whose freshness counts, beyond those of the `oracle` detectors.
    pub feeds: Vec<FeedWatch>,
    /// L2 sequencer uptime feeds.
    pub sequencer_feeds: Vec<SequencerFeed>,
    /// Rollups whose postings on their L1 count.
    pub rollups: Vec<RollupWatch>,
    /// Add the feeds of the `oracle` detectors to `feeds` (default true).
    pub oracle_detector_feeds: bool,
}

impl Default for RiskConfig {
    fn default() -> Self {
        Self {
            weights: Weights::default(),
            baseline_blocks: 256,
            short_window: 32,
            long_window: 1024,
            thresholds: Vec::new(),
            feeds: Vec::new(),
            sequencer_feeds: Vec::new(),
            rollups: Vec::new(),
            oracle_detector_feeds: true,
        }
    }
}

/// A level of the index or of one component whose upward crossing is a finding, with
/// hysteresis: it fires when the value reaches `above` and again only after it went below
/// `clear_below`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Threshold {
    /// `index` (0-100) or a component's name (0-1).
    pub on: String,
    /// Fires at or above this.
    pub above: f64,
    /// Re-arms below this (default: `above`, no hysteresis).
    #[serde(default)]
    pub clear_below: Option<f64>,
    /// Severity of the finding (default high).
    #[serde(default = "high")]
    pub severity: Severity,
}

fn high() -> Severity {
    Severity::High
}

/// The component names a threshold can watch.
pub const COMPONENTS: &[&str] = &[
    "liveness",
    "reorgs",
    "congestion",
    "finality",
    "duties",
    "source_integrity",
    "oracle_freshness",
    "rollup_liveness",
];

impl RiskConfig {
    /// Checks ranges.
    pub fn check(&self) -> Result<()> {
        let w = &self.weights;
        for n in COMPONENTS {
            let v = w.of(n);
            if !v.is_finite() || v < 0.0 {
                return Err(RiskError::Config(format!("weights.{n}: {v} is not a weight >= 0")));
            }
        }
        if w.max() <= 0.0 {
            return Err(RiskError::Config("weights: at least one must be above 0".into()));
        }
        if self.baseline_blocks < 8 {
            return Err(RiskError::Config("baseline_blocks: at least 8".into()));
        }
        if self.short_window == 0 || self.long_window < self.short_window {
            return Err(RiskError::Config(
                "short_window >= 1 and long_window >= short_window".into(),
            ));
        }
        for (i, t) in self.thresholds.iter().enumerate() {
            let max = if t.on == "index" {
                100.0
            } else if COMPONENTS.contains(&t.on.as_str()) {
                1.0
            } else {
                return Err(RiskError::Config(format!(
                    "thresholds[{i}].on: {:?} is not `index` or one of {}",
                    t.on,
                    COMPONENTS.join(", ")
                )));
            };
            let clear = t.clear_below.unwrap_or(t.above);
            if !(0.0..=max).contains(&t.above) || !(0.0..=t.above).contains(&clear) {
                return Err(RiskError::Config(format!(
                    "thresholds[{i}]: want 0 <= clear_below <= above <= {max}"
                )));
            }
        }
        for (i, f) in self.feeds.iter().enumerate() {
            if f.heartbeat_secs == 0 {
                return Err(RiskError::Config(format!(
                    "feeds[{i}].heartbeat_secs: must be positive"
                )));
            }
            if !(f.grace_pct >= 0.0 && f.max_deviation_pct > 0.0) {
                return Err(RiskError::Config(format!(
                    "feeds[{i}]: grace_pct >= 0 and max_deviation_pct > 0"
                )));
            }
        }
        for (i, r) in self.rollups.iter().enumerate() {
            if r.batch_inbox.is_none() && r.state_roots.is_none() {
                return Err(RiskError::Config(format!(
                    "rollups[{i}] ({}): give batch_inbox, state_roots or both",
                    r.name
                )));
            }
        }
        Ok(())
    }

    /// Adds the feeds the `oracle` detectors watch (with their heartbeat, grace, reference
    /// feed and deviation) to `feeds`, unless `oracle_detector_feeds` is false or the feed is
    /// listed already: the index's oracle freshness then judges what the detector judges.
    pub fn adopt_oracle_feeds(&mut self, detectors: &[palisade_detect::DetectorConfig]) {
        if !self.oracle_detector_feeds {
            return;
        }
        for d in detectors {
            let palisade_detect::DetectorConfig::Oracle(o) = d else { continue };
            for f in &o.feeds {
                let chain = o.chain.clone();
                if self.feeds.iter().any(|x| x.address == f.address && x.chain == chain) {
                    continue;
                }
                self.feeds.push(FeedWatch {
                    chain,
                    address: f.address,
                    label: f.label.clone(),
                    heartbeat_secs: f.heartbeat_secs,
                    grace_pct: f.grace_pct,
                    reference_feed: f.reference_feed,
                    max_deviation_pct: f.max_deviation_pct,
                });
            }
        }
    }
}

/// Components the runtime observed with a block, beyond what the block itself says (each 0 to
/// 1 with its raw inputs). Replays of recorded blocks have none of these unless recorded.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Observed {
    /// Extra components, by name.
    pub components: BTreeMap<String, (f64, BTreeMap<String, Value>)>,
    /// The mempool watch's view, when the chain's mempool is watched: part of `congestion`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mempool: Option<MempoolSeen>,
}

/// What the mempool watch saw around a block.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct MempoolSeen {
    /// Pending transactions held (the backlog).
    pub pending: usize,
    /// Median wait of the block's transactions that were seen pending (milliseconds).
    pub inclusion_delay_ms: Option<u64>,
    /// How many of its transactions were seen pending.
    pub included_seen: usize,
}

/// One component of a point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Component {
    /// Its name.
    pub name: String,
    /// 0 (as usual) to 1 (settlement in doubt).
    pub value: f64,
    /// Its weight.
    pub weight: f64,
    /// The raw inputs it used.
    pub inputs: BTreeMap<String, Value>,
}

/// The index at one block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiskPoint {
    /// Chain.
    pub chain: String,
    /// The block.
    pub block: BlockRef,
    /// Its timestamp (seconds), when known.
    pub timestamp: Option<u64>,
    /// 0 to 100.
    pub index: f64,
    /// The components, the largest contribution first.
    pub components: Vec<Component>,
    /// [`METHODOLOGY_VERSION`].
    pub methodology_version: String,
    /// keccak256 of the canonical JSON of the methodology, the block and every component's
    /// value and inputs: equal points have equal hashes, on any machine.
    pub inputs_hash: B256,
    /// True for a provisional point about a stall after the block (live only).
    #[serde(default)]
    pub stall: bool,
    /// The thresholds (by position in the config) this block crossed upward.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub crossed: Vec<usize>,
}

impl RiskPoint {
    /// A component's value, if it was observed.
    pub fn component(&self, name: &str) -> Option<f64> {
        self.components.iter().find(|c| c.name == name).map(|c| c.value)
    }
}

/// What the index keeps of a block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct BlockStat {
    number: u64,
    hash: B256,
    /// Which thresholds were firing after this block (hysteresis state, undone with it).
    #[serde(default)]
    firing: Vec<bool>,
    timestamp: Option<u64>,
    base_fee: Option<u128>,
    gas_used: Option<u64>,
    gas_limit: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    beacon: Option<consensus::BeaconStat>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    comet: Option<consensus::CometStat>,
}

/// A reorg seen: the first block it replaced and how many blocks it reverted.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Reorg {
    from: u64,
    depth: u64,
}

/// The state carried between blocks (and in checkpoints).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct State {
    blocks: VecDeque<BlockStat>,
    reorgs: VecDeque<Reorg>,
    /// Blocks reverted since the last commit (a reorg in progress).
    pending_revert: u64,
    pending_from: u64,
    /// Rollup postings seen (by stream).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    postings: feeds::Postings,
}

/// The index of one chain.
#[derive(Debug, Clone)]
pub struct RiskIndex {
    chain: String,
    cfg: RiskConfig,
    state: State,
    /// This chain's feeds, sequencer feeds and rollups.
    feeds: Vec<FeedWatch>,
    sequencers: Vec<SequencerFeed>,
    rollups: Vec<RollupWatch>,
}

/// Rounds to 6 decimals, so that points compare and hash the same everywhere.
fn r6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

fn clamp01(x: f64) -> f64 {
    if x.is_nan() {
        0.0
    } else {
        x.clamp(0.0, 1.0)
    }
}

impl RiskIndex {
    /// An index for `chain`.
    pub fn new(chain: &str, cfg: RiskConfig) -> Result<Self> {
        cfg.check()?;
        let feeds = cfg
            .feeds
            .iter()
            .filter(|f| f.chain.as_deref().is_none_or(|c| c == chain))
            .cloned()
            .collect();
        let sequencers = cfg.sequencer_feeds.iter().filter(|f| f.chain == chain).cloned().collect();
        let rollups = cfg.rollups.iter().filter(|r| r.chain == chain).cloned().collect();
        Ok(Self { chain: chain.into(), cfg, state: State::default(), feeds, sequencers, rollups })
    }

    /// The view calls the index reads at each block (its feeds' `latestRoundData()`), for the
    /// runtime to attach.
    pub fn needs(&self) -> palisade_detect::Needs {
        let sel = palisade_detect::detectors::oracle::LATEST_ROUND_DATA;
        let mut calls = Vec::new();
        let feeds =
            self.feeds.iter().flat_map(|f| std::iter::once(f.address).chain(f.reference_feed));
        for to in feeds.chain(self.sequencers.iter().map(|s| s.address)) {
            let c = palisade_detect::ViewCall {
                to,
                data: alloy_primitives::Bytes::copy_from_slice(&sel),
                every: 1,
            };
            if !calls.contains(&c) {
                calls.push(c);
            }
        }
        palisade_detect::Needs { calls, ..Default::default() }
    }

    /// Scores the blocks of `seg` (oldest first), with what the runtime observed of each (by
    /// block number; none in a replay).
    pub fn commit(
        &mut self,
        seg: &ChainSegment,
        observed: &BTreeMap<u64, Observed>,
    ) -> Vec<RiskPoint> {
        if self.state.pending_revert > 0 {
            let r = Reorg { from: self.state.pending_from, depth: self.state.pending_revert };
            self.state.reorgs.push_back(r);
            self.state.pending_revert = 0;
        }
        let mut out = Vec::with_capacity(seg.blocks().len());
        for b in seg.blocks() {
            let mut stat = stat_of(b);
            if b.beacon.is_some() {
                let before: Vec<&BlockStat> = self.state.blocks.iter().collect();
                stat.beacon = consensus::beacon_stat(b, &before);
            }
            let w = &self.cfg.weights;
            let mut extra = Vec::new();
            if !self.feeds.is_empty() {
                extra.extend(feeds::oracle_freshness(b, &self.feeds, w.oracle_freshness));
            }
            if !self.rollups.is_empty() {
                feeds::record_postings(b, &self.rollups, &mut self.state.postings);
            }
            if !self.rollups.is_empty() || !self.sequencers.is_empty() {
                extra.extend(feeds::rollup_liveness(
                    b,
                    &self.rollups,
                    &self.state.postings,
                    &self.sequencers,
                    w.rollup_liveness,
                ));
            }
            let obs = observed.get(&stat.number);
            let mut p = self.score_at(&stat, None, extra, obs, self.state.blocks.len());
            let before = self.state.blocks.back().map(|x| x.firing.clone()).unwrap_or_default();
            stat.firing = Vec::with_capacity(self.cfg.thresholds.len());
            for (i, t) in self.cfg.thresholds.iter().enumerate() {
                let v = if t.on == "index" { Some(p.index) } else { p.component(&t.on) };
                let was = before.get(i).copied().unwrap_or(false);
                let now = match v {
                    Some(v) if !was && v >= t.above => {
                        p.crossed.push(i);
                        true
                    }
                    Some(v) if was && v < t.clear_below.unwrap_or(t.above) => false,
                    _ => was,
                };
                stat.firing.push(now);
            }
            out.push(p);
            self.state.blocks.push_back(stat);
            while self.state.blocks.len() as u64
                > self.cfg.long_window.max(self.cfg.baseline_blocks as u64 + 1)
            {
                self.state.blocks.pop_front();
            }
        }
        let newest = self.state.blocks.back().map_or(0, |b| b.number);
        while self.state.reorgs.front().is_some_and(|r| r.from + self.cfg.long_window <= newest) {
            self.state.reorgs.pop_front();
        }
        out
    }

    /// Undoes [`RiskIndex::commit`] for exactly the blocks of `seg` (the newest scored); their
    /// points are to be retracted. The blocks count as a reorg of that depth once the next
    /// blocks are committed.
    pub fn revert(&mut self, seg: &ChainSegment) -> Result<Vec<BlockRef>> {
        let mut gone = Vec::new();
        for b in seg.blocks().iter().rev() {
            let n = b.header.number;
            let tip = self.state.blocks.back().map(|x| x.number);
            match tip {
                Some(t) if t == n => {
                    self.state.blocks.pop_back();
                    feeds::revert_postings(n, &mut self.state.postings);
                }
                // Blocks scored before this index kept state (a store from before it) are
                // not in its window: nothing to undo, their points are still retracted.
                None => {}
                Some(t) if t < n => {}
                _ => return Err(RiskError::NotTip { got: n, want: tip }),
            }
            gone.push(b.block_ref());
            self.state.pending_revert += 1;
            self.state.pending_from = n;
        }
        Ok(gone)
    }

    /// A provisional point for the newest block when `now` (seconds) is long after it: the
    /// stall scored as its interval (live only; replays have no clock).
    pub fn stalled(&self, now: u64) -> Option<RiskPoint> {
        let tip = self.state.blocks.back()?.clone();
        let since = now.checked_sub(tip.timestamp?)?;
        let mut p = self.score_at(&tip, Some(since), Vec::new(), None, self.state.blocks.len() - 1);
        p.stall = true;
        Some(p)
    }

    /// The state to persist.
    pub fn checkpoint(&self) -> String {
        serde_json::to_string(&self.state).unwrap_or_default()
    }

    /// Restores a state made by [`RiskIndex::checkpoint`].
    pub fn restore(&mut self, cp: &str) -> Result<()> {
        self.state = serde_json::from_str(cp).map_err(|e| RiskError::Checkpoint(e.to_string()))?;
        Ok(())
    }

    /// The config.
    pub fn config(&self) -> &RiskConfig {
        &self.cfg
    }

    /// Scores `b` against the blocks before position `upto` of the window, with the
    /// components read from the block itself (`extra`) and those the runtime observed.
    fn score_at(
        &self,
        b: &BlockStat,
        gap: Option<u64>,
        extra: Vec<Component>,
        obs: Option<&Observed>,
        upto: usize,
    ) -> RiskPoint {
        let before: Vec<&BlockStat> = self.state.blocks.iter().take(upto).collect();
        let w = &self.cfg.weights;
        let mut comps = extra;
        let live = self.liveness(b, gap, &before);
        let live_value = live.as_ref().map_or(0.0, |c| c.value);
        let age = gap.or_else(|| b.timestamp?.checked_sub(before.last()?.timestamp?));
        // Congestion reads the liveness baseline (the mempool's delay in blocks); the order
        // here does not matter, the components are sorted below.
        comps.extend(self.congestion(b, &before, obs.and_then(|o| o.mempool), live.as_ref()));
        comps.extend(live);
        if let Some(s) = &b.beacon {
            comps.extend(consensus::beacon_finality(s, w.finality));
            comps.push(consensus::beacon_duties(s, &before, w.duties));
        }
        if let Some(s) = &b.comet {
            comps.extend(consensus::comet_finality(s, age, live_value, w.finality));
            comps.extend(consensus::comet_duties(s, &before, w.duties));
        }
        comps.push(self.reorgs(b.number));
        if let Some(o) = obs {
            for (name, (v, inputs)) in &o.components {
                comps.push(Component {
                    name: name.clone(),
                    value: r6(clamp01(*v)),
                    weight: self.cfg.weights.of(name),
                    inputs: inputs.clone(),
                });
            }
        }
        let max = self.cfg.weights.max();
        let mut keep = 1.0;
        for c in &comps {
            keep *= (1.0 - c.value).powf(c.weight / max);
        }
        let index = r6(100.0 * clamp01(1.0 - keep));
        comps.sort_by(|a, b| {
            (b.value * b.weight).total_cmp(&(a.value * a.weight)).then(a.name.cmp(&b.name))
        });
        let canon = json!({
            "methodology_version": METHODOLOGY_VERSION,
            "chain": self.chain,
            "block": b.number,
            "hash": format!("{:#x}", b.hash),
            "stall_secs": gap,
            "components": comps.iter().map(|c| json!({"name": c.name, "value": c.value, "weight": c.weight, "inputs": c.inputs})).collect::<Vec<_>>(),
        });
        RiskPoint {
            chain: self.chain.clone(),
            block: BlockRef::new(b.number, b.hash),
            timestamp: b.timestamp,
            index,
            components: comps,
            methodology_version: METHODOLOGY_VERSION.into(),
            inputs_hash: keccak256(canon.to_string().as_bytes()),
            stall: false,
            crossed: Vec::new(),
        }
    }

    fn liveness(
        &self,
        b: &BlockStat,
        gap: Option<u64>,
        before: &[&BlockStat],
    ) -> Option<Component> {
        let interval = match gap {
            Some(g) => g,
            None => b.timestamp?.checked_sub(before.last()?.timestamp?)?,
        };
        let n = self.cfg.baseline_blocks;
        let start = before.len().saturating_sub(n + 1);
        let intervals: Vec<f64> = before[start..]
            .windows(2)
            .filter_map(|w| Some(w[1].timestamp?.checked_sub(w[0].timestamp?)? as f64))
            .collect();
        let mut inputs = BTreeMap::new();
        inputs.insert("interval_secs".into(), json!(interval));
        inputs.insert("baseline_intervals".into(), json!(intervals.len()));
        if intervals.len() < 8 {
            // Too little history for a baseline: counted as usual.
            return Some(Component {
                name: "liveness".into(),
                value: 0.0,
                weight: self.cfg.weights.liveness,
                inputs,
            });
        }
        let med = median(&intervals);
        let mad = median_abs_dev(&intervals, med);
        // A chain with a fixed slot time has a MAD of 0: its spread floor is half the median
        // (one missed slot is routine; eight in a row count 0.9) and at least 1 s, the
        // timestamps' resolution.
        let spread = (1.4826 * mad).max(med * 0.5).max(1.0);
        let z = (interval as f64 - med) / spread;
        inputs.insert("baseline_median_secs".into(), json!(r6(med)));
        inputs.insert("baseline_mad_secs".into(), json!(r6(mad)));
        inputs.insert("z".into(), json!(r6(z)));
        Some(Component {
            name: "liveness".into(),
            value: r6(clamp01((z - 3.0) / 12.0)),
            weight: self.cfg.weights.liveness,
            inputs,
        })
    }

    fn reorgs(&self, number: u64) -> Component {
        let (short, long) = (self.cfg.short_window, self.cfg.long_window);
        let within = |w: u64| self.state.reorgs.iter().filter(move |r| r.from + w > number);
        let short_count = within(short).count() as u64;
        let short_depth = within(short).map(|r| r.depth).max().unwrap_or(0);
        let long_count = within(long).count() as u64;
        let long_depth = within(long).map(|r| r.depth).max().unwrap_or(0);
        let v = (short_depth as f64 / 6.0)
            .max(short_count as f64 / 4.0)
            .max(long_count as f64 / 32.0)
            .max(long_depth as f64 / 24.0);
        let mut inputs = BTreeMap::new();
        inputs.insert("short_window_blocks".into(), json!(short));
        inputs.insert("short_count".into(), json!(short_count));
        inputs.insert("short_deepest".into(), json!(short_depth));
        inputs.insert("long_window_blocks".into(), json!(long));
        inputs.insert("long_count".into(), json!(long_count));
        inputs.insert("long_deepest".into(), json!(long_depth));
        Component {
            name: "reorgs".into(),
            value: r6(clamp01(v)),
            weight: self.cfg.weights.reorgs,
            inputs,
        }
    }

    fn congestion(
        &self,
        b: &BlockStat,
        before: &[&BlockStat],
        mempool: Option<MempoolSeen>,
        live: Option<&Component>,
    ) -> Option<Component> {
        let mut inputs = BTreeMap::new();
        // The mempool's part: how many blocks the block's transactions that were seen pending
        // waited, against the chain's median interval (1 block: 0; 5 or more: 1).
        let waited = mempool.map(|m| {
            inputs.insert("mempool_pending".into(), json!(m.pending));
            inputs.insert("mempool_included_seen".into(), json!(m.included_seen));
            let median = live
                .and_then(|c| c.inputs.get("baseline_median_secs"))
                .and_then(Value::as_f64)
                .filter(|m| *m > 0.0);
            match (m.inclusion_delay_ms, median) {
                (Some(ms), Some(med)) => {
                    let blocks = ms as f64 / 1000.0 / med;
                    inputs.insert("inclusion_delay_ms".into(), json!(ms));
                    inputs.insert("inclusion_delay_blocks".into(), json!(r6(blocks)));
                    clamp01((blocks - 1.0) / 4.0)
                }
                (Some(ms), None) => {
                    inputs.insert("inclusion_delay_ms".into(), json!(ms));
                    0.0
                }
                _ => 0.0,
            }
        });
        let gas = match (b.gas_used, b.gas_limit) {
            (Some(u), Some(l)) if l > 0 => {
                inputs.insert("gas_used".into(), json!(u));
                inputs.insert("gas_limit".into(), json!(l));
                Some(u as f64 / l as f64)
            }
            _ => None,
        };
        let fee = b.base_fee.and_then(|fee| {
            let window: Vec<f64> =
                before.iter().filter_map(|x| x.base_fee.map(|f| f as f64)).collect();
            inputs.insert("base_fee_wei".into(), json!(fee.to_string()));
            inputs.insert("base_fee_window".into(), json!(window.len()));
            (window.len() >= 8).then(|| {
                let r = rank(&window, fee as f64);
                inputs.insert("base_fee_rank".into(), json!(r6(r)));
                r
            })
        });
        if gas.is_none() && fee.is_none() && waited.is_none() {
            return None;
        }
        // Above the median of its own history a base fee counts; a block more than half full
        // counts (EIP-1559's target is half).
        let g = gas.map_or(0.0, |r| clamp01((r - 0.5) * 2.0));
        let f = fee.map_or(0.0, |r| clamp01((r - 0.5) * 2.0));
        let v = if fee.is_some() { 0.6 * f + 0.4 * g } else { g };
        let v = v.max(waited.unwrap_or(0.0));
        Some(Component {
            name: "congestion".into(),
            value: r6(clamp01(v)),
            weight: self.cfg.weights.congestion,
            inputs,
        })
    }
}

fn stat_of(b: &BlockData) -> BlockStat {
    let h = &b.header;
    BlockStat {
        number: h.number,
        hash: b.block_ref().hash,
        firing: Vec::new(),
        timestamp: h.timestamp,
        base_fee: h.base_fee_per_gas,
        gas_used: h.gas_used,
        gas_limit: h.gas_limit,
        beacon: None,
        comet: consensus::comet_stat(b),
    }
}

/// A hash of a whole series of points (their `inputs_hash`es in order): two runs over the same
/// blocks give the same series hash.
pub fn series_hash<'a>(points: impl IntoIterator<Item = &'a RiskPoint>) -> B256 {
    let mut buf = Vec::new();
    for p in points {
        buf.extend_from_slice(p.inputs_hash.as_slice());
    }
    keccak256(&buf)
}

#[cfg(test)]
mod tests;
