use thiserror::Error;

/// Errors raised while building primitives from untrusted input.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// A JSON value could not be decoded into the expected shape.
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// What was being decoded (for example `block.number`).
        what: String,
        /// Why it failed.
        reason: String,
    },
    /// A recorded line was not valid JSON or missed a required field.
    #[error("malformed recorded block: {0}")]
    Malformed(String),
    /// Blocks handed to [`crate::ChainSegment::new`] are not contiguous and parent-linked.
    #[error("blocks are not contiguous: block {number} does not follow block {prev}")]
    NotContiguous {
        /// Number of the block that does not link.
        number: u64,
        /// Number of the block before it.
        prev: u64,
    },
    /// A segment must hold at least one block.
    #[error("a chain segment cannot be empty")]
    EmptySegment,
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
