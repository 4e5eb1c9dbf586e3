//! Per-block records of a detector, newest last: undo data that `revert` pops, or a window of
//! per-block state. One type, so every detector reverts, finalizes and checkpoints alike.

use crate::{Checkpoint, DetectError, Result};
use palisade_primitives::{BlockData, BlockRef, ChainSegment, B256};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// Records keyed by the block they belong to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound(serialize = "U: Serialize", deserialize = "U: Deserialize<'de>"))]
pub(crate) struct Journal<U> {
    entries: VecDeque<(u64, Option<B256>, U)>,
}

impl<U> Default for Journal<U> {
    fn default() -> Self {
        Self { entries: VecDeque::new() }
    }
}

impl<U> Journal<U> {
    /// Records `u` for block `b` (the newest applied).
    pub(crate) fn push(&mut self, b: &BlockData, u: U) {
        self.entries.push_back((b.header.number, b.header.hash, u));
    }

    /// Takes the record of `b`, which must be the newest: reverts go newest first.
    pub(crate) fn pop(&mut self, detector: &str, b: &BlockData) -> Result<U> {
        match self.entries.back() {
            Some((n, h, _)) if *n == b.header.number && *h == b.header.hash => {}
            _ => {
                return Err(DetectError::RevertMismatch {
                    detector: detector.to_string(),
                    number: b.header.number,
                })
            }
        }
        self.entries.pop_back().map(|(_, _, u)| u).ok_or_else(|| DetectError::RevertMismatch {
            detector: detector.to_string(),
            number: b.header.number,
        })
    }

    /// Drops the records of blocks up to `upto` (they will not be reverted), keeping at least
    /// the newest `keep` (a window the detector still reads).
    pub(crate) fn finalize(&mut self, upto: BlockRef, keep: usize) {
        while self.entries.len() > keep && self.entries.front().is_some_and(|e| e.0 <= upto.number)
        {
            self.entries.pop_front();
        }
    }

    /// Takes the records of a segment being reverted, newest first.
    pub(crate) fn revert(&mut self, detector: &str, seg: &ChainSegment) -> Result<Vec<U>> {
        seg.blocks().iter().rev().map(|b| self.pop(detector, b)).collect()
    }

    /// A checkpoint whose state is this journal.
    pub(crate) fn checkpoint(&self) -> Checkpoint
    where
        U: Serialize,
    {
        Checkpoint { head: self.head(), state: serde_json::to_value(self).unwrap_or_default() }
    }

    /// The journal a [`Journal::checkpoint`] holds (empty for an empty checkpoint).
    pub(crate) fn restore(detector: &str, cp: &Checkpoint) -> Result<Self>
    where
        U: for<'de> Deserialize<'de>,
    {
        if cp.state.is_null() {
            return Ok(Self::default());
        }
        serde_json::from_value(cp.state.clone())
            .map_err(|e| DetectError::Restore { detector: detector.into(), reason: e.to_string() })
    }

    /// The newest block recorded.
    pub(crate) fn head(&self) -> Option<BlockRef> {
        self.entries.back().map(|(n, h, _)| BlockRef::maybe(*n, *h))
    }

    /// The records, oldest first.
    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = &U> + ExactSizeIterator {
        self.entries.iter().map(|e| &e.2)
    }

    /// The newest record.
    pub(crate) fn last(&self) -> Option<&U> {
        self.entries.back().map(|e| &e.2)
    }

    /// The newest record, to amend.
    pub(crate) fn last_mut(&mut self) -> Option<&mut U> {
        self.entries.back_mut().map(|e| &mut e.2)
    }

    /// Number of records.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The record at `i` (0 is the oldest).
    pub(crate) fn get(&self, i: usize) -> Option<&U> {
        self.entries.get(i).map(|e| &e.2)
    }
}

/// A detector whose whole state is small enough to be copied at each block: it only says how
/// one block changes the state ([`Stepper::step`]); [`Snapshots`] makes it a [`crate::Detector`]
/// that reverts, finalizes, checkpoints and restores exactly.
pub(crate) trait Stepper: Send + std::fmt::Debug {
    /// The state.
    type State: Clone + Default + Serialize + for<'de> Deserialize<'de> + Send + std::fmt::Debug;
    /// Instance id.
    fn id(&self) -> &str;
    /// Detector type.
    fn kind(&self) -> &'static str;
    /// Data needed with each block.
    fn needs(&self) -> crate::Needs {
        crate::Needs::default()
    }
    /// Applies one block.
    fn step(&self, s: &mut Self::State, b: &BlockData, out: &mut palisade_primitives::Findings);
}

/// A [`Stepper`] with its state and a copy of it per block not yet final.
#[derive(Debug)]
pub(crate) struct Snapshots<T: Stepper> {
    inner: T,
    state: T::State,
    journal: Journal<T::State>,
}

impl<T: Stepper> Snapshots<T> {
    /// Wraps a stepper.
    pub(crate) fn new(inner: T) -> Self {
        Self { inner, state: T::State::default(), journal: Journal::default() }
    }
}

impl<T: Stepper> crate::Detector for Snapshots<T> {
    fn id(&self) -> &str {
        self.inner.id()
    }

    fn kind(&self) -> &'static str {
        self.inner.kind()
    }

    fn needs(&self) -> crate::Needs {
        self.inner.needs()
    }

    fn commit(
        &mut self,
        seg: &ChainSegment,
        out: &mut palisade_primitives::Findings,
    ) -> Result<()> {
        for b in seg.blocks() {
            self.journal.push(b, self.state.clone());
            self.inner.step(&mut self.state, b, out);
        }
        Ok(())
    }

    fn revert(
        &mut self,
        seg: &ChainSegment,
        _out: &mut palisade_primitives::Findings,
    ) -> Result<()> {
        for b in seg.blocks().iter().rev() {
            self.state = self.journal.pop(self.inner.id(), b)?;
        }
        Ok(())
    }

    fn finalize(&mut self, upto: BlockRef, _out: &mut palisade_primitives::Findings) {
        self.journal.finalize(upto, 0);
    }

    fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            head: self.journal.head(),
            state: serde_json::json!({"state": self.state, "journal": self.journal}),
        }
    }

    fn restore(&mut self, cp: &Checkpoint) -> Result<()> {
        if cp.state.is_null() {
            return Ok(());
        }
        let err = |e: serde_json::Error| DetectError::Restore {
            detector: self.inner.id().into(),
            reason: e.to_string(),
        };
        self.state = serde_json::from_value(cp.state["state"].clone()).map_err(err)?;
        self.journal = serde_json::from_value(cp.state["journal"].clone()).map_err(err)?;
        Ok(())
    }
}
