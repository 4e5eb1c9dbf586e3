//! The canonical-chain tracker: a parent-linked window of recent blocks that turns new heads into
//! [`ChainEvent`]s (commits, reorgs of any depth up to the window, reverts).
//!
//! The tracker is pure: it never fetches. When a head does not connect to the window it says
//! what it needs ([`Outcome::NeedParent`], [`Outcome::Gap`]) and the caller fetches those blocks
//! and offers a longer branch.
//!
//! ```
//! use palisade_chain::{ChainTracker, Outcome};
//! use palisade_primitives::{BlockData, Header, B256};
//! use std::sync::Arc;
//! let blk = |n: u64, h: u8, p: u8| Arc::new(BlockData { header: Header { number: n,
//!     hash: Some(B256::repeat_byte(h)), parent_hash: Some(B256::repeat_byte(p)),
//!     ..Default::default() }, ..Default::default() });
//! let mut t = ChainTracker::new(64, false);
//! assert!(matches!(t.connect(vec![blk(1, 1, 0)]).unwrap(), Outcome::Event(_)));
//! assert!(matches!(t.connect(vec![blk(2, 2, 1)]).unwrap(), Outcome::Event(_)));
//! // A competing block 2 whose parent is block 1: a reorg of depth 1.
//! match t.connect(vec![blk(2, 9, 1)]).unwrap() {
//!     Outcome::Event(ev) => assert_eq!(ev.reverted().unwrap().len(), 1),
//!     other => panic!("{other:?}"),
//! }
//! ```
//!
//! # Invariants
//! - The window is contiguous and parent-linked, oldest first, and holds at most
//!   `max_reorg_depth + 1` blocks after [`ChainTracker::prune`].
//! - Every event, applied in order, turns the previous canonical chain into the new one: no block
//!   is committed twice without being reverted in between.

use palisade_primitives::{BlockData, BlockRef, ChainEvent, ChainSegment, B256};
use std::collections::VecDeque;
use std::sync::Arc;
use thiserror::Error;

/// Errors of the chain tracker.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ChainError {
    /// A branch offered to [`ChainTracker::connect`] is not contiguous.
    #[error("branch is not contiguous: {0}")]
    BadBranch(#[from] palisade_primitives::Error),
}

/// Result alias for this crate.
pub type Result<T, E = ChainError> = std::result::Result<T, E>;

/// What happened when a branch was offered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The canonical chain changed.
    Event(ChainEvent),
    /// Every block of the branch is already canonical.
    Known,
    /// The branch's first block does not link to the window: fetch its parent (by hash) and
    /// offer the longer branch.
    NeedParent {
        /// Hash of the missing parent.
        hash: B256,
        /// Its number.
        number: u64,
    },
    /// Blocks `from..=to` are missing between the tip and the branch: fetch them.
    Gap {
        /// First missing number.
        from: u64,
        /// Last missing number.
        to: u64,
    },
    /// The fork point is below the window: a reorg deeper than the tracker can undo.
    TooDeep {
        /// Lowest block the tracker still holds.
        lowest: u64,
        /// First block of the branch.
        branch_first: u64,
    },
}

/// The canonical-chain tracker.
#[derive(Debug)]
pub struct ChainTracker {
    window: VecDeque<Arc<BlockData>>,
    max_reorg_depth: u64,
    allow_gaps: bool,
}

fn links(parent: &BlockData, child: &BlockData) -> bool {
    child.header.number == parent.header.number + 1
        && match (parent.header.hash, child.header.parent_hash) {
            (Some(h), Some(p)) => h == p,
            _ => true,
        }
}

impl ChainTracker {
    /// A tracker that can undo reorgs up to `max_reorg_depth` blocks. With `allow_gaps` (replay
    /// of recorded data with holes), a branch above the tip is committed even if blocks are
    /// missing in between.
    pub fn new(max_reorg_depth: u64, allow_gaps: bool) -> Self {
        Self { window: VecDeque::new(), max_reorg_depth, allow_gaps }
    }

    /// Restores the window from stored blocks (oldest first).
    pub fn restore(&mut self, blocks: Vec<Arc<BlockData>>) -> Result<()> {
        if !blocks.is_empty() {
            ChainSegment::new(blocks.clone())?;
        }
        self.window = blocks.into();
        Ok(())
    }

    /// The canonical tip.
    pub fn tip(&self) -> Option<BlockRef> {
        self.window.back().map(|b| b.block_ref())
    }

    /// The oldest block held.
    pub fn lowest(&self) -> Option<BlockRef> {
        self.window.front().map(|b| b.block_ref())
    }

    /// The canonical block at `number`, if held.
    pub fn get(&self, number: u64) -> Option<&Arc<BlockData>> {
        let first = self.window.front()?.header.number;
        self.window.get(usize::try_from(number.checked_sub(first)?).ok()?)
    }

    /// Blocks held, oldest first.
    pub fn blocks(&self) -> impl Iterator<Item = &Arc<BlockData>> {
        self.window.iter()
    }

    /// Offers a branch (oldest first, contiguous) ending at a new head.
    pub fn connect(&mut self, branch: Vec<Arc<BlockData>>) -> Result<Outcome> {
        let mut branch = ChainSegment::new(branch)?.blocks().to_vec();
        // Drop the prefix that is already canonical.
        while let Some(b) = branch.first() {
            match self.get(b.header.number) {
                Some(c) if c.block_ref() == b.block_ref() => {
                    branch.remove(0);
                }
                _ => break,
            }
        }
        let Some(first) = branch.first().cloned() else { return Ok(Outcome::Known) };
        let Some(tip) = self.window.back().cloned() else {
            return Ok(self.commit(branch));
        };
        let n = first.header.number;
        if n == tip.header.number + 1 {
            if links(&tip, &first) {
                return Ok(self.commit(branch));
            }
        } else if n > tip.header.number + 1 {
            if self.allow_gaps {
                return Ok(self.commit(branch));
            }
            return Ok(Outcome::Gap { from: tip.header.number + 1, to: n - 1 });
        }
        // The branch forks off below the tip (or its first block competes with the tip's child).
        match self.get(n - 1) {
            Some(parent) if links(parent, &first) => {
                let keep = (n - self.window[0].header.number) as usize;
                let old: Vec<_> = self.window.drain(keep..).collect();
                let old = Arc::new(ChainSegment::new(old)?);
                let new = Arc::new(ChainSegment::new(branch.clone())?);
                self.window.extend(branch);
                Ok(Outcome::Event(ChainEvent::Reorged { old, new }))
            }
            Some(_) => match first.header.parent_hash {
                Some(hash) => Ok(Outcome::NeedParent { hash, number: n - 1 }),
                None => {
                    Ok(Outcome::TooDeep { lowest: self.window[0].header.number, branch_first: n })
                }
            },
            None => {
                if n == 0 || n <= self.window[0].header.number {
                    Ok(Outcome::TooDeep { lowest: self.window[0].header.number, branch_first: n })
                } else {
                    // n - 1 is above the tip: cannot happen (handled above); be explicit anyway.
                    Ok(Outcome::Gap { from: tip.header.number + 1, to: n - 1 })
                }
            }
        }
    }

    fn commit(&mut self, branch: Vec<Arc<BlockData>>) -> Outcome {
        // `branch` was checked contiguous by the caller.
        let seg = match ChainSegment::new(branch.clone()) {
            Ok(s) => s,
            Err(_) => return Outcome::Known,
        };
        let contiguous =
            self.window.back().is_none_or(|t| t.header.number + 1 == branch[0].header.number);
        if !contiguous {
            // Replay with a hole: the window restarts at the branch.
            self.window.clear();
        }
        self.window.extend(branch);
        Outcome::Event(ChainEvent::Committed { new: Arc::new(seg) })
    }

    /// Reverts every block above `number`: used on restart when the stored head is no longer
    /// canonical. Returns the event, or `None` when nothing is above `number`.
    pub fn revert_above(&mut self, number: u64) -> Option<ChainEvent> {
        let first = self.window.front()?.header.number;
        let keep = usize::try_from(number.checked_add(1)?.saturating_sub(first)).ok()?;
        if keep >= self.window.len() {
            return None;
        }
        let old: Vec<_> = self.window.drain(keep..).collect();
        ChainSegment::new(old).ok().map(|s| ChainEvent::Reverted { old: Arc::new(s) })
    }

    /// Drops blocks that can no longer be reorged (more than `max_reorg_depth` below the tip)
    /// and returns the newest dropped block, which callers pass to `Detector::finalize`.
    pub fn prune(&mut self) -> Option<BlockRef> {
        let tip = self.window.back()?.header.number;
        let floor = tip.saturating_sub(self.max_reorg_depth);
        let mut last = None;
        while self.window.front().is_some_and(|b| b.header.number < floor) {
            last = self.window.pop_front().map(|b| b.block_ref());
        }
        last
    }

    /// The configured maximum reorg depth.
    pub fn max_reorg_depth(&self) -> u64 {
        self.max_reorg_depth
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_primitives::Header;

    fn blk(n: u64, h: u8, p: u8) -> Arc<BlockData> {
        Arc::new(BlockData {
            header: Header {
                number: n,
                hash: Some(B256::repeat_byte(h)),
                parent_hash: Some(B256::repeat_byte(p)),
                ..Default::default()
            },
            ..Default::default()
        })
    }

    fn ev(o: Outcome) -> ChainEvent {
        match o {
            Outcome::Event(e) => e,
            other => panic!("expected an event, got {other:?}"),
        }
    }

    #[test]
    fn commits_reorgs_and_gaps() {
        let mut t = ChainTracker::new(10, false);
        ev(t.connect(vec![blk(1, 1, 0)]).unwrap());
        ev(t.connect(vec![blk(2, 2, 1), blk(3, 3, 2)]).unwrap());
        assert_eq!(t.connect(vec![blk(3, 3, 2)]).unwrap(), Outcome::Known);
        assert_eq!(t.connect(vec![blk(6, 6, 5)]).unwrap(), Outcome::Gap { from: 4, to: 5 });
        // Head 4' on a fork from block 2: need its parent 3'.
        assert_eq!(
            t.connect(vec![blk(4, 0x44, 0x33)]).unwrap(),
            Outcome::NeedParent { hash: B256::repeat_byte(0x33), number: 3 }
        );
        let e = ev(t.connect(vec![blk(3, 0x33, 2), blk(4, 0x44, 0x33)]).unwrap());
        assert_eq!(e.reverted().unwrap().len(), 1);
        assert_eq!(e.committed().unwrap().len(), 2);
        assert_eq!(t.tip().unwrap().hash, B256::repeat_byte(0x44));
        // The branch may repeat canonical blocks: they are skipped.
        let e = ev(t
            .connect(vec![blk(2, 2, 1), blk(3, 0x33, 2), blk(4, 0x44, 0x33), blk(5, 5, 0x44)])
            .unwrap());
        assert_eq!(e.committed().unwrap().len(), 1);
        assert!(e.reverted().is_none());
    }

    #[test]
    fn prunes_and_reports_too_deep() {
        let mut t = ChainTracker::new(2, false);
        for n in 1..=6u8 {
            ev(t.connect(vec![blk(n as u64, n, n - 1)]).unwrap());
            t.prune();
        }
        assert_eq!(t.lowest().unwrap().number, 4);
        assert!(matches!(t.connect(vec![blk(4, 0x40, 0x30)]).unwrap(), Outcome::TooDeep { .. }));
        let e = t.revert_above(4).unwrap();
        assert_eq!(e.reverted().unwrap().len(), 2);
        assert_eq!(t.tip().unwrap().number, 4);
    }

    #[test]
    fn gaps_allowed_in_replay() {
        let mut t = ChainTracker::new(2, true);
        ev(t.connect(vec![blk(1, 1, 0)]).unwrap());
        let e = ev(t.connect(vec![blk(9, 9, 8)]).unwrap());
        assert_eq!(e.committed().unwrap().first().number, 9);
        assert_eq!(t.lowest().unwrap().number, 9);
    }
}
