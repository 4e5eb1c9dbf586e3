//! Palisade consensus: what a monitor checks itself instead of trusting the node that serves it.
//!
//! - [`beacon`]: Ethereum proof-of-stake light-client verification. Sync-committee aggregate BLS
//!   signatures over attested headers, the Merkle branches that tie finalized headers, sync
//!   committees and execution payloads to beacon state and block roots, the handover from one
//!   sync committee to the next, and the SSZ roots of full Capella and Deneb blocks (so a block
//!   body served by a node can be tied to a header the sync committee signed).
//! - [`bls`]: BLS12-381 signatures as Ethereum uses them (blst), checked against the consensus
//!   spec's vectors.
//! - [`comet`]: CometBFT light blocks: commits verified with Ed25519 against validator sets
//!   (more than 2/3 of the voting power), validator-set hashes chained from height to height,
//!   skipping verification with bisection, and conflicting headers from witnesses detected; on
//!   the tendermint light-client verifier.
//!
//! Everything here is pure: data in, verdicts out, errors that name the slot or height and what
//! did not match.

pub mod beacon;
pub mod bls;
pub mod comet;
mod error;

pub use error::{ConsensusError, Result};
