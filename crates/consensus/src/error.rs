//! The crate's one error type.

use alloy_primitives::B256;

/// What failed, naming the slot or height and the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConsensusError {
    /// A key or signature that is not a valid BLS12-381 point, or a failed BLS operation.
    #[error("BLS: {0}")]
    Bls(String),
    /// A Merkle branch that does not lead to the root it must.
    #[error("slot {slot}: the {what} branch does not lead to the {root_name} {root}")]
    Branch {
        /// Slot of the header whose root was expected.
        slot: u64,
        /// What the branch proves (`finalized header`, `next sync committee`, ...).
        what: &'static str,
        /// Which root (`state root`, `body root`).
        root_name: &'static str,
        /// The root.
        root: B256,
    },
    /// A sync-committee signature that does not verify.
    #[error("slot {slot}: the sync committee's signature over the attested header does not verify ({participants} of {size} signed)")]
    Signature {
        /// The attested header's slot.
        slot: u64,
        /// Participants in the aggregate.
        participants: usize,
        /// Committee size.
        size: usize,
    },
    /// A bootstrap whose header is not the trusted block root.
    #[error("the bootstrap header's root {got} is not the trusted block root {want}")]
    Bootstrap {
        /// The trusted root.
        want: B256,
        /// The bootstrap header's root.
        got: B256,
    },
    /// An update that cannot apply (slots out of order, unknown sync-committee period, ...).
    #[error("slot {slot}: {reason}")]
    Update {
        /// The attested header's slot.
        slot: u64,
        /// Why.
        reason: String,
    },
    /// Data that does not decode.
    #[error("{what}: {reason}")]
    Decode {
        /// What was being decoded.
        what: String,
        /// Why it failed.
        reason: String,
    },
    /// A CometBFT light block that does not verify.
    #[error("height {height}: {reason}")]
    Comet {
        /// Height of the block.
        height: u64,
        /// What failed.
        reason: String,
    },
}

/// Result with [`ConsensusError`].
pub type Result<T, E = ConsensusError> = std::result::Result<T, E>;
