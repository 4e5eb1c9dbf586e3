//! Parent-linked chain segments and the events that carry them.

use crate::{BlockData, BlockRef, Error, Result};
use std::sync::Arc;

/// A non-empty run of contiguous blocks, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainSegment {
    blocks: Vec<Arc<BlockData>>,
}

impl ChainSegment {
    /// Builds a segment, checking that numbers are consecutive and that parent hashes link
    /// wherever both hashes are known.
    pub fn new(blocks: Vec<Arc<BlockData>>) -> Result<Self> {
        if blocks.is_empty() {
            return Err(Error::EmptySegment);
        }
        for w in blocks.windows(2) {
            let (a, b) = (&w[0].header, &w[1].header);
            let linked = match (a.hash, b.parent_hash) {
                (Some(h), Some(p)) => h == p,
                _ => true,
            };
            if b.number != a.number + 1 || !linked {
                return Err(Error::NotContiguous { number: b.number, prev: a.number });
            }
        }
        Ok(Self { blocks })
    }

    /// A segment of one block.
    pub fn single(block: Arc<BlockData>) -> Self {
        Self { blocks: vec![block] }
    }

    /// Blocks, oldest first.
    pub fn blocks(&self) -> &[Arc<BlockData>] {
        &self.blocks
    }

    /// Number of blocks (at least one).
    pub fn len(&self) -> usize {
        self.blocks.len()
    }

    /// Always false: segments are non-empty. Present for API symmetry.
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    /// Oldest block.
    pub fn first(&self) -> BlockRef {
        self.blocks[0].block_ref()
    }

    /// Newest block.
    pub fn tip(&self) -> BlockRef {
        self.blocks[self.blocks.len() - 1].block_ref()
    }

    /// True when `r` is one of this segment's blocks.
    pub fn contains(&self, r: &BlockRef) -> bool {
        self.blocks.iter().any(|b| b.block_ref() == *r)
    }

    /// Splits into segments of one block each.
    pub fn split_single(&self) -> Vec<ChainSegment> {
        self.blocks.iter().map(|b| Self::single(b.clone())).collect()
    }

    /// The sub-segment `[from, to)` by position.
    ///
    /// # Panics
    /// When the range is empty or out of bounds.
    pub fn slice(&self, from: usize, to: usize) -> ChainSegment {
        assert!(from < to && to <= self.blocks.len(), "invalid segment slice");
        Self { blocks: self.blocks[from..to].to_vec() }
    }
}

/// A change of the canonical chain, in the reth ExEx model: consumers undo `old` (newest first)
/// before applying `new` (oldest first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainEvent {
    /// New blocks extend the canonical chain.
    Committed {
        /// The blocks added.
        new: Arc<ChainSegment>,
    },
    /// Blocks were replaced: `old` left the canonical chain and `new` took its place.
    Reorged {
        /// The blocks removed.
        old: Arc<ChainSegment>,
        /// The blocks added.
        new: Arc<ChainSegment>,
    },
    /// Blocks left the canonical chain with nothing added (yet).
    Reverted {
        /// The blocks removed.
        old: Arc<ChainSegment>,
    },
}

impl ChainEvent {
    /// The segment committed by this event, if any.
    pub fn committed(&self) -> Option<&ChainSegment> {
        match self {
            Self::Committed { new } | Self::Reorged { new, .. } => Some(new),
            Self::Reverted { .. } => None,
        }
    }

    /// The segment reverted by this event, if any.
    pub fn reverted(&self) -> Option<&ChainSegment> {
        match self {
            Self::Reorged { old, .. } | Self::Reverted { old } => Some(old),
            Self::Committed { .. } => None,
        }
    }

    /// The event that undoes this one.
    pub fn inverted(self) -> Self {
        match self {
            Self::Committed { new } => Self::Reverted { old: new },
            Self::Reorged { old, new } => Self::Reorged { old: new, new: old },
            Self::Reverted { old } => Self::Committed { new: old },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Header;
    use alloy_primitives::B256;

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

    #[test]
    fn checks_links() {
        assert!(ChainSegment::new(vec![blk(1, 1, 0), blk(2, 2, 1)]).is_ok());
        assert!(ChainSegment::new(vec![blk(1, 1, 0), blk(2, 2, 9)]).is_err());
        assert!(ChainSegment::new(vec![blk(1, 1, 0), blk(3, 3, 1)]).is_err());
        assert!(ChainSegment::new(vec![]).is_err());
    }

    #[test]
    fn inverted_twice_is_identity() {
        let s = Arc::new(ChainSegment::single(blk(1, 1, 0)));
        let e = ChainEvent::Committed { new: s };
        assert_eq!(e.clone().inverted().inverted(), e);
        assert!(e.clone().inverted().committed().is_none());
    }
}
