use thiserror::Error;

/// Errors of the alert pipeline.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum AlertError {
    /// The store failed; `op` says what it was doing.
    #[error("store: {op}: {source}")]
    Store {
        /// Operation.
        op: &'static str,
        /// Driver error.
        #[source]
        source: sqlx::Error,
    },
    /// The store URL is not usable.
    #[error("store url: {0}")]
    Url(String),
    /// Stored data could not be decoded.
    #[error("store holds corrupt data: {0}")]
    Corrupt(String),
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
    /// No alert matches.
    #[error("no alert matches {0:?}")]
    NotFound(String),
    /// A key prefix matches several alerts.
    #[error("{0:?} matches several alerts; give more of the key")]
    Ambiguous(String),
}

/// Result alias for this crate.
pub type Result<T, E = AlertError> = std::result::Result<T, E>;

pub(crate) fn db(op: &'static str) -> impl FnOnce(sqlx::Error) -> AlertError {
    move |source| AlertError::Store { op, source }
}
