//! Pure verification of what nodes serve: block hashes from headers (every fork's field set up to
//! Prague), transactions, receipts and withdrawals roots, logs blooms, transaction hashes and
//! senders (every transaction type), EIP-1186 account and storage proofs, and the N-of-M
//! [`agreement`] of several nodes on the block at a height.
//!
//! Built on alloy's consensus types and trie code; no hand-written RLP or Merkle-Patricia code.
//! Nothing here does I/O or reads the clock. A failed check is data ([`VerifyError`]) naming the
//! block, the transaction and the field, never a panic.
//!
//! ```
//! let line = r#"{"block":{"number":"0x1"}}"#;
//! let rec = palisade_primitives::RecordedBlock::from_json_line(line).unwrap();
//! let report = palisade_verify::verify_block(&rec);
//! assert!(report.failed.is_empty());
//! assert!(!report.unchecked.is_empty()); // nothing to check without a header
//! ```
//!
//! # Invariants
//! - A check is reported as passed only when it was made against the data's own claim (the
//!   header field, the `from` the node gave); what the data does not allow (an absent field) is
//!   `unchecked`, with the reason. A field that is present but does not parse as its type is a
//!   failure ([`VerifyError::Malformed`]), never an unchecked check.

pub mod agreement;
mod block;
mod error;
mod fields;
mod payload;
mod proof;

pub use block::{receipt_envelope, verify_block, verify_block_with, BlockReport, Check};
pub use error::VerifyError;
pub use payload::verify_execution_payload;
pub use proof::{
    verify_account_proof, verify_code, verify_decoded_prestate, verify_prestate, verify_proofs,
    verify_storage_proofs,
};
