//! The engine: one chain's tracker and detectors. Live monitoring, backfill and replay all feed
//! blocks through [`ChainEngine::connect`] and events through [`ChainEngine::apply`].

use palisade_chain::{ChainTracker, Outcome};
use palisade_detect::{drive, Checkpoint, Detector, Needs};
use palisade_primitives::{BlockData, BlockRef, ChainEvent, Finding, Findings};
use palisade_risk::{Observed, RiskConfig, RiskIndex, RiskPoint};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The checkpoint id of the settlement-risk index (stored beside the detectors').
pub const RISK_CHECKPOINT: &str = "settlement_risk";

/// What applying one event produced.
#[derive(Debug, Default)]
pub struct Applied {
    /// New findings, in detector order then block order.
    pub findings: Vec<Finding>,
    /// Blocks whose findings are retracted.
    pub retracted: Vec<BlockRef>,
    /// Newest block that became final (pruned from the window), if any.
    pub finalized: Option<BlockRef>,
    /// The settlement-risk index of each new block.
    pub risk: Vec<RiskPoint>,
    /// Blocks whose risk points are retracted (reverted).
    pub risk_retracted: Vec<BlockRef>,
}

/// One chain's tracker and detectors.
#[derive(Debug)]
pub struct ChainEngine {
    chain: String,
    tracker: ChainTracker,
    detectors: Vec<Box<dyn Detector>>,
    risk: RiskIndex,
    /// What the runtime observed for the next event's blocks (source integrity...).
    observed: Observed,
}

impl ChainEngine {
    /// An engine; `allow_gaps` for replay of recordings with holes.
    pub fn new(
        chain: &str,
        detectors: Vec<Box<dyn Detector>>,
        max_reorg_depth: u64,
        allow_gaps: bool,
    ) -> Self {
        let risk = RiskIndex::new(chain, RiskConfig::default())
            .unwrap_or_else(|_| unreachable!("the default risk config is valid"));
        Self {
            chain: chain.into(),
            tracker: ChainTracker::new(max_reorg_depth, allow_gaps),
            detectors,
            risk,
            observed: Observed::default(),
        }
    }

    /// Scores blocks with this risk config (checked by the config's validation).
    pub fn with_risk(mut self, cfg: RiskConfig) -> eyre::Result<Self> {
        self.risk = RiskIndex::new(&self.chain, cfg)?;
        Ok(self)
    }

    /// What the runtime observed, for the blocks of the next events (live only).
    pub fn observe(&mut self, o: Observed) {
        self.observed = o;
    }

    /// The risk index (for a stall's provisional point).
    pub fn risk(&self) -> &RiskIndex {
        &self.risk
    }

    /// Chain name.
    pub fn chain(&self) -> &str {
        &self.chain
    }

    /// The tracker.
    pub fn tracker(&self) -> &ChainTracker {
        &self.tracker
    }

    /// The detectors.
    pub fn detectors(&self) -> &[Box<dyn Detector>] {
        &self.detectors
    }

    /// What the detectors need attached to blocks.
    pub fn needs(&self) -> Needs {
        self.detectors.iter().fold(self.risk.needs(), |a, d| a.union(d.needs()))
    }

    /// Offers a branch to the tracker.
    pub fn connect(&mut self, branch: Vec<Arc<BlockData>>) -> eyre::Result<Outcome> {
        Ok(self.tracker.connect(branch)?)
    }

    /// Restores the window and detector checkpoints from the store.
    pub fn restore(
        &mut self,
        blocks: Vec<Arc<BlockData>>,
        checkpoints: &[(String, String)],
    ) -> eyre::Result<()> {
        self.tracker.restore(blocks)?;
        for d in &mut self.detectors {
            if let Some((_, s)) = checkpoints.iter().find(|(id, _)| id == d.id()) {
                let cp: Checkpoint = serde_json::from_str(s)?;
                d.restore(&cp)?;
            }
        }
        if let Some((_, s)) = checkpoints.iter().find(|(id, _)| id == RISK_CHECKPOINT) {
            self.risk.restore(s)?;
        }
        Ok(())
    }

    /// Reverts everything above `number` (restart on a dead fork).
    pub fn revert_above(&mut self, number: u64) -> Option<ChainEvent> {
        self.tracker.revert_above(number)
    }

    /// Drives every detector through `ev`, then prunes the window and finalizes detectors.
    pub fn apply(&mut self, ev: &ChainEvent) -> eyre::Result<Applied> {
        let mut out = Findings::new();
        for d in &mut self.detectors {
            drive(d.as_mut(), ev, &mut out)?;
        }
        // The risk index, in step with the detectors: reverted blocks' points retracted, new
        // blocks scored.
        let mut risk_retracted = Vec::new();
        if let Some(old) = ev.reverted() {
            risk_retracted = self.risk.revert(old)?;
        }
        let mut risk = Vec::new();
        if let ChainEvent::Committed { new } | ChainEvent::Reorged { new, .. } = ev {
            let observed: BTreeMap<u64, Observed> =
                if self.observed.components.is_empty() && self.observed.mempool.is_none() {
                    BTreeMap::new()
                } else {
                    new.blocks().iter().map(|b| (b.header.number, self.observed.clone())).collect()
                };
            risk = self.risk.commit(new, &observed);
        }
        let finalized = self.tracker.prune();
        if let Some(f) = finalized {
            for d in &mut self.detectors {
                d.finalize(f, &mut out);
            }
        }
        let (mut findings, retracted) = out.take();
        for p in &risk {
            findings.extend(crossing_findings(&self.risk, p));
        }
        Ok(Applied { findings, retracted, finalized, risk, risk_retracted })
    }

    /// Every detector's checkpoint as (id, JSON), and the risk index's.
    pub fn checkpoints(&self) -> Vec<(String, String)> {
        self.detectors
            .iter()
            .map(|d| {
                (d.id().to_string(), serde_json::to_string(&d.checkpoint()).unwrap_or_default())
            })
            .chain(std::iter::once((RISK_CHECKPOINT.to_string(), self.risk.checkpoint())))
            .collect()
    }
}

/// The detector id of settlement-risk threshold findings.
pub const RISK_DETECTOR: &str = "settlement_risk";

/// A finding for each threshold `p` crossed upward, anchored at its block (so a reorg that
/// removes the block retracts it), with the point's top components as evidence.
fn crossing_findings(idx: &RiskIndex, p: &RiskPoint) -> Vec<Finding> {
    let cfg = idx.config();
    p.crossed
        .iter()
        .filter_map(|&i| cfg.thresholds.get(i).map(|t| (i, t)))
        .map(|(i, t)| {
            let value = if t.on == "index" { p.index } else { p.component(&t.on).unwrap_or(0.0) };
            let top: Vec<String> =
                p.components.iter().take(3).map(|c| format!("{} {:.2}", c.name, c.value)).collect();
            Finding::new(
                RISK_DETECTOR,
                RISK_DETECTOR,
                &p.chain,
                p.block,
                &format!("threshold:{i}:{}", t.on),
                t.severity,
                format!(
                    "Settlement risk: {} at {value:.2} reached {} at block {} (index {:.1}; {})",
                    t.on,
                    t.above,
                    p.block.number,
                    p.index,
                    top.join(", ")
                ),
            )
            .with_evidence(serde_json::json!({
                "threshold": {"on": t.on, "above": t.above, "clear_below": t.clear_below},
                "value": value,
                "index": p.index,
                "components": p.components,
                "methodology_version": p.methodology_version,
                "inputs_hash": format!("{:#x}", p.inputs_hash),
            }))
        })
        .collect()
}

/// Replays recorded blocks through an engine, calling `sink` with each event's output.
/// Returns notes about the data (blocks that did not link, duplicates).
pub fn replay_blocks(
    engine: &mut ChainEngine,
    blocks: impl Iterator<Item = eyre::Result<BlockData>>,
    mut sink: impl FnMut(&ChainEvent, Applied) -> eyre::Result<()>,
) -> eyre::Result<Vec<String>> {
    let mut notes = Vec::new();
    for b in blocks {
        replay_block(engine, b?, &mut notes, &mut sink)?;
    }
    Ok(notes)
}

/// Feeds one recorded block to `engine` (see [`replay_blocks`]); observations go to `notes`.
pub fn replay_block(
    engine: &mut ChainEngine,
    b: BlockData,
    notes: &mut Vec<String>,
    mut sink: impl FnMut(&ChainEvent, Applied) -> eyre::Result<()>,
) -> eyre::Result<()> {
    let b = Arc::new(b);
    let number = b.header.number;
    let ev = match engine.connect(vec![b.clone()])? {
        Outcome::Event(ev) => ev,
        Outcome::Known => {
            notes.push(format!("block {number} appears twice; the repeat was skipped"));
            return Ok(());
        }
        Outcome::NeedParent { .. } | Outcome::TooDeep { .. } | Outcome::Gap { .. } => {
            notes.push(format!(
                "block {number} does not link to the block before it; detectors restart there"
            ));
            let tip = engine.tracker.tip().map(|t| t.number).unwrap_or(0);
            if let Some(ev) = engine.tracker.revert_above(number.saturating_sub(1).min(tip)) {
                let applied = engine.apply(&ev)?;
                sink(&ev, applied)?;
            }
            match engine.connect(vec![b])? {
                Outcome::Event(ev) => ev,
                _ => return Ok(()),
            }
        }
    };
    let applied = engine.apply(&ev)?;
    sink(&ev, applied)
}
