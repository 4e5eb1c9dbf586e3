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
    /// The receiver refused a delivery with a status that trying again cannot change (a 4xx
    /// other than 408 and 429).
    #[error("sink {sink}: refused: HTTP {status}{}", if said.is_empty() { String::new() } else { format!(": {said}") })]
    Refused {
        /// Sink id.
        sink: String,
        /// The HTTP status.
        status: u16,
        /// The receiver's answer, short.
        said: String,
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
    /// True when the receiver refused the sink itself (its URL or credentials: HTTP 401, 403,
    /// 404, 410): every notification would be refused alike, so the sink stops until its
    /// config is fixed, its queue kept.
    pub fn refuses_sink(&self) -> bool {
        matches!(self, Self::Refused { status: 401 | 403 | 404 | 405 | 410, .. })
    }

    /// True when the receiver refused this notification for what it is (HTTP 400, 413, 422,
    /// any other 4xx but 408 and 429): it is parked and the sink's queue goes on.
    pub fn refuses_notification(&self) -> bool {
        matches!(self, Self::Refused { .. }) && !self.refuses_sink()
    }

    /// True when trying again may help (see [`palisade_store::StoreError::is_transient`]).
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Store(e) if e.is_transient())
    }
}

/// Result alias for this crate.
pub type Result<T, E = AlertError> = std::result::Result<T, E>;
