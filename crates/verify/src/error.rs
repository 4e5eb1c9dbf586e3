use alloy_primitives::{Address, B256};
use thiserror::Error;

/// A check that failed: what did not match, where.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The block hash is not the hash of the header served with it.
    #[error("block {number}: hash {claimed} is not the header's hash {computed}")]
    BlockHash {
        /// Block number.
        number: u64,
        /// Hash the node claimed.
        claimed: B256,
        /// Hash of the header's fields.
        computed: B256,
    },
    /// A root (or the logs bloom) does not match what the header says.
    #[error("block {number}: {field} in the header is {claimed}, the data gives {computed}")]
    Root {
        /// Block number.
        number: u64,
        /// `transactionsRoot`, `receiptsRoot`, `withdrawalsRoot` or `logsBloom`.
        field: &'static str,
        /// Value in the header.
        claimed: String,
        /// Value computed from the data.
        computed: String,
    },
    /// A transaction's hash is not the hash of its fields.
    #[error("block {number}: transaction {index}: hash {claimed} is not the hash of its fields {computed}")]
    TxHash {
        /// Block number.
        number: u64,
        /// Position in the block.
        index: usize,
        /// Hash the node claimed.
        claimed: B256,
        /// Hash of the encoded transaction.
        computed: B256,
    },
    /// The signature recovers to another sender than the node claimed.
    #[error("block {number}: transaction {index} ({hash}): from is {claimed}, the signature recovers {recovered}")]
    Sender {
        /// Block number.
        number: u64,
        /// Position in the block.
        index: usize,
        /// Transaction hash.
        hash: B256,
        /// Sender the node claimed.
        claimed: Address,
        /// Sender recovered from the signature.
        recovered: Address,
    },
    /// A signature does not recover at all.
    #[error("block {number}: transaction {index}: invalid signature: {reason}")]
    Signature {
        /// Block number.
        number: u64,
        /// Position in the block.
        index: usize,
        /// Why.
        reason: String,
    },
    /// The state recorded before a block (what its re-execution reads, for assertions) is not
    /// the proven state of its parent.
    #[error("block {number}: the prestate is not proven: {reason}")]
    Prestate {
        /// The block.
        number: u64,
        /// Why (the proof or code check that failed).
        reason: String,
    },
    /// A check the data should have allowed could not be made (for example a transaction that
    /// cannot be rebuilt from what the node served).
    #[error("block {number}: {check} could not be checked: {reason}")]
    Unverifiable {
        /// Block number.
        number: u64,
        /// The check (snake case).
        check: &'static str,
        /// Why.
        reason: String,
    },
    /// A field is present but cannot be parsed as its type (a value beyond 256 bits, a 2-byte
    /// hash, a gas figure beyond 64 bits): the data lies about the field, whatever it is.
    #[error("block {number}: {field} is malformed: {reason}")]
    Malformed {
        /// Block number.
        number: u64,
        /// The check the field feeds (snake case).
        check: &'static str,
        /// The field, with its place (`transactions[3].value`).
        field: String,
        /// Why it does not parse.
        reason: String,
    },
    /// The endpoint served another block than the one asked for.
    #[error("block {number}: asked for {requested}, the endpoint served {served}")]
    NotRequested {
        /// Block number of what was served.
        number: u64,
        /// Hash asked for.
        requested: B256,
        /// Hash of what was served (as it claims).
        served: B256,
    },
    /// A Merkle-Patricia proof does not lead to the claimed value under the root.
    #[error("proof of {what} against root {root} fails: {reason}")]
    Proof {
        /// What was proven (account address, or address and storage slot).
        what: String,
        /// The root proven against.
        root: B256,
        /// Why.
        reason: String,
    },
}

impl VerifyError {
    /// The check this failure belongs to (snake case, as in reports).
    pub fn check(&self) -> &'static str {
        match self {
            Self::BlockHash { .. } => "block_hash",
            Self::Root { field: "transactionsRoot", .. } => "transactions_root",
            Self::Root { field: "receiptsRoot", .. } => "receipts_root",
            Self::Root { field: "withdrawalsRoot", .. } => "withdrawals_root",
            Self::Root { field: "logsBloom", .. } => "logs_bloom",
            Self::Root { .. } => "root",
            Self::TxHash { .. } => "tx_hashes",
            Self::Sender { .. } | Self::Signature { .. } => "senders",
            Self::NotRequested { .. } => "requested_block",
            Self::Unverifiable { check, .. } | Self::Malformed { check, .. } => check,
            Self::Proof { .. } => "proofs",
            Self::Prestate { .. } => "prestate",
        }
    }
}
