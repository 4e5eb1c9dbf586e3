use thiserror::Error;

/// Errors of detectors and their configuration.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DetectError {
    /// A detector config is invalid; `field` names the offending field.
    #[error("detector {detector}: field `{field}`: {reason}")]
    Config {
        /// Detector id or type.
        detector: String,
        /// Field name.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// A checkpoint could not be restored.
    #[error("detector {detector}: cannot restore checkpoint: {reason}")]
    Restore {
        /// Detector id.
        detector: String,
        /// Why.
        reason: String,
    },
    /// A revert did not match the blocks the detector had applied.
    #[error("detector {detector}: revert of block {number} which is not its head")]
    RevertMismatch {
        /// Detector id.
        detector: String,
        /// Block number asked to revert.
        number: u64,
    },
}

/// Result alias for this crate.
pub type Result<T, E = DetectError> = std::result::Result<T, E>;
