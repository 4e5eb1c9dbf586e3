//! The engine: one chain's tracker and detectors. Live monitoring, backfill and replay all feed
//! blocks through [`ChainEngine::connect`] and events through [`ChainEngine::apply`].

use palisade_chain::{ChainTracker, Outcome};
use palisade_detect::{drive, Checkpoint, Detector, Needs};
use palisade_primitives::{BlockData, BlockRef, ChainEvent, Finding, Findings};
use std::sync::Arc;

/// What applying one event produced.
#[derive(Debug, Default)]
pub struct Applied {
    /// New findings, in detector order then block order.
    pub findings: Vec<Finding>,
    /// Blocks whose findings are retracted.
    pub retracted: Vec<BlockRef>,
    /// Newest block that became final (pruned from the window), if any.
    pub finalized: Option<BlockRef>,
}

/// One chain's tracker and detectors.
#[derive(Debug)]
pub struct ChainEngine {
    chain: String,
    tracker: ChainTracker,
    detectors: Vec<Box<dyn Detector>>,
}

impl ChainEngine {
    /// An engine; `allow_gaps` for replay of recordings with holes.
    pub fn new(
        chain: &str,
        detectors: Vec<Box<dyn Detector>>,
        max_reorg_depth: u64,
        allow_gaps: bool,
    ) -> Self {
        Self {
            chain: chain.into(),
            tracker: ChainTracker::new(max_reorg_depth, allow_gaps),
            detectors,
        }
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
        self.detectors.iter().fold(Needs::default(), |a, d| a.union(d.needs()))
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
        let finalized = self.tracker.prune();
        if let Some(f) = finalized {
            for d in &mut self.detectors {
                d.finalize(f, &mut out);
            }
        }
        let (findings, retracted) = out.take();
        Ok(Applied { findings, retracted, finalized })
    }

    /// Every detector's checkpoint as (id, JSON).
    pub fn checkpoints(&self) -> Vec<(String, String)> {
        self.detectors
            .iter()
            .map(|d| {
                (d.id().to_string(), serde_json::to_string(&d.checkpoint()).unwrap_or_default())
            })
            .collect()
    }
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
