use thiserror::Error;

/// Errors of alert delivery.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum AlertError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] palisade_store::StoreError),
    /// A sink failed to deliver.
    #[error("sink {sink}: {reason}")]
    Sink {
        /// Sink id.
        sink: String,
        /// Why.
        reason: String,
    },
    /// A sink config is invalid.
    #[error("sink {sink}: {reason}")]
    SinkConfig {
        /// Sink id or type.
        sink: String,
        /// Why.
        reason: String,
    },
}

impl AlertError {
    /// True when trying again may help (see [`palisade_store::StoreError::is_transient`]).
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Store(e) if e.is_transient())
    }
}

/// Result alias for this crate.
pub type Result<T, E = AlertError> = std::result::Result<T, E>;
