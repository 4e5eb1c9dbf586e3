//! `liquidation_health`: liquidations in watched lending markets, and a finding when they stop
//! although the collateral's price fell enough that positions should be liquidated: the
//! liquidation engine is stuck (keepers down, a paused market, a broken oracle path).
//!
//! The collateral price is read from a Chainlink-style feed (`latestRoundData()` at each block).
//! A drop is the fall from the highest price of the last `window_blocks` blocks to the current
//! one. Once a drop of `drop_pct` starts, the markets must show a liquidation within
//! `grace_blocks` blocks; otherwise that is reported, once per drop.

use crate::detectors::oracle::{Round, LATEST_ROUND_DATA};
use crate::journal::Journal;
use crate::{Checkpoint, DetectError, Detector, Needs, Result, ViewCall};

use palisade_primitives::{
    Address, BlockData, BlockRef, Bytes, ChainSegment, Finding, Findings, Severity,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Config of `liquidation_health`.
#[derive(Debug, Clone, Serialize, Deserialize, palisade_derive::ConfigDoc)]
#[serde(deny_unknown_fields)]
pub struct LiquidationHealthConfig {
    /// Instance name; the detector id is `liquidation_health:<name>`.
    pub name: String,
    /// Limit to one chain.
    #[serde(default)]
    #[config(default = "every chain")]
    pub chain: Option<String>,
    /// Lending pools or markets whose liquidations count (Aave pools, Compound cTokens).
    pub markets: Vec<Address>,
    /// The collateral's price feed.
    pub feed: Address,
    /// A fall from the window's highest price, in percent, that should bring liquidations.
    #[serde(default = "fifteen")]
    pub drop_pct: f64,
    /// Blocks over which the highest price is taken.
    #[serde(default = "three_hundred")]
    pub window_blocks: usize,
    /// Blocks after the drop began within which a liquidation is expected.
    #[serde(default = "fifty")]
    pub grace_blocks: u64,
    /// Severity.
    #[serde(default = "high")]
    pub severity: Severity,
}

fn fifteen() -> f64 {
    15.0
}

fn three_hundred() -> usize {
    300
}

fn fifty() -> u64 {
    50
}

fn high() -> Severity {
    Severity::High
}

/// Catalog entry.
pub const INFO: crate::About = crate::About {
    kind: "liquidation_health",
    description: "Liquidations in watched lending markets, and a finding when none happens within grace_blocks of a collateral price drop that should bring them (a stuck liquidation engine).",
    needs_no_config: false,
};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Seen {
    price: Option<f64>,
    liquidations: u32,
    /// The block at which the current drop began, if one is under way.
    drop_since: Option<u64>,
    /// The current drop was reported, or answered by a liquidation.
    reported: bool,
}

/// The `liquidation_health` detector.
#[derive(Debug)]
pub struct LiquidationHealth {
    id: String,
    chain: String,
    cfg: LiquidationHealthConfig,
    seen: Journal<Seen>,
}

impl LiquidationHealth {
    /// Builds the detector for `chain`.
    pub fn new(cfg: LiquidationHealthConfig, chain: &str) -> Result<Self> {
        let id = format!("liquidation_health:{}", cfg.name);
        let bad = |f: &str, r: &str| DetectError::Config {
            detector: id.clone(),
            field: f.into(),
            reason: r.into(),
        };
        if cfg.markets.is_empty() {
            return Err(bad("markets", "watch at least one market"));
        }
        if !(cfg.drop_pct.is_finite() && cfg.drop_pct > 0.0 && cfg.drop_pct < 100.0) {
            return Err(bad("drop_pct", "must be between 0 and 100"));
        }
        if cfg.window_blocks < 2 {
            return Err(bad("window_blocks", "must be at least 2"));
        }
        Ok(Self { id, chain: chain.into(), cfg, seen: Journal::default() })
    }

    fn scan(&mut self, b: &BlockData, out: &mut Findings) {
        let price = b
            .calls
            .iter()
            .flatten()
            .find(|c| c.to == self.cfg.feed && c.data.as_ref() == LATEST_ROUND_DATA)
            .and_then(|c| c.result.as_ref())
            .and_then(|o| Round::decode(o))
            .filter(|r| !r.answer.bit(255) && !r.answer.is_zero())
            .map(|r| f64::from(r.answer));
        let liquidations = palisade_defi::actions(b)
            .txs
            .iter()
            .flat_map(|t| t.liquidations.iter())
            .filter(|l| !l.reverted && self.cfg.markets.contains(&l.market))
            .count() as u32;
        let prev = self.seen.last().cloned();
        let start = self.seen.len().saturating_sub(self.cfg.window_blocks - 1);
        let high = self
            .seen
            .iter()
            .skip(start)
            .filter_map(|s| s.price)
            .chain(price)
            .fold(f64::MIN, f64::max);
        let fall = price.filter(|_| high > 0.0).map(|p| (1.0 - p / high) * 100.0).unwrap_or(0.0);
        let mut s = Seen { price, liquidations, drop_since: None, reported: false };
        if fall >= self.cfg.drop_pct {
            s.drop_since = prev.as_ref().and_then(|p| p.drop_since).or(Some(b.header.number));
            s.reported = prev.as_ref().is_some_and(|p| p.reported && p.drop_since.is_some());
        }

        if liquidations > 0 {
            // The engine works: this drop is answered.
            s.reported = s.drop_since.is_some();
        }
        if let Some(since) = s.drop_since {
            // `reported` is carried through the drop and set by any liquidation: while it is
            // unset, the markets have been quiet since the drop began.
            if !s.reported && b.header.number >= since + self.cfg.grace_blocks {
                s.reported = true;
                out.push(
                    Finding::new(&self.id, "liquidation_health", &self.chain, b.block_ref(), &format!("stalled:{since}"), self.cfg.severity,
                        format!("No liquidation in the watched markets for {} blocks although the collateral price fell {fall:.1} % (since block {since})", b.header.number - since))
                    .with_evidence(json!({"check": "liquidations_stalled", "drop_pct": (fall * 100.0).round() / 100.0, "since_block": since,
                        "window_high": high, "price": price, "grace_blocks": self.cfg.grace_blocks, "markets": self.cfg.markets, "feed": self.cfg.feed})),
                );
            }
        }
        self.seen.push(b, s);
    }
}

impl Detector for LiquidationHealth {
    fn id(&self) -> &str {
        &self.id
    }

    fn kind(&self) -> &'static str {
        "liquidation_health"
    }

    fn needs(&self) -> Needs {
        Needs {
            receipts: true,
            traces: true,
            actions: true,
            calls: vec![ViewCall {
                to: self.cfg.feed,
                data: Bytes::copy_from_slice(&LATEST_ROUND_DATA),
                every: 1,
            }],
            ..Needs::default()
        }
    }

    fn commit(&mut self, seg: &ChainSegment, out: &mut Findings) -> Result<()> {
        for b in seg.blocks() {
            self.scan(b, out);
        }
        Ok(())
    }

    fn revert(&mut self, seg: &ChainSegment, _out: &mut Findings) -> Result<()> {
        self.seen.revert(&self.id, seg).map(drop)
    }

    fn finalize(&mut self, upto: BlockRef, _out: &mut Findings) {
        // The window is all the judgement needs (a drop's state is carried block to block).
        self.seen.finalize(upto, self.cfg.window_blocks);
    }

    fn checkpoint(&self) -> Checkpoint {
        self.seen.checkpoint()
    }

    fn restore(&mut self, cp: &Checkpoint) -> Result<()> {
        self.seen = Journal::restore(&self.id, cp)?;
        Ok(())
    }
}
