use thiserror::Error;

/// Errors of the alert pipeline.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum AlertError {
    /// The store failed; `op` says what it was doing. The message is the database's own words,
    /// once (the driver's error chain repeats them), and never the store URL.
    #[error("store: {op}: {message}")]
    Store {
        /// Operation.
        op: &'static str,
        /// What the database or the connection said.
        message: String,
        /// True when trying again may help (a lost connection, a timeout, a busy database).
        transient: bool,
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

impl AlertError {
    /// True when the same operation may succeed if tried again (the database restarted, a
    /// connection was lost, SQLite was busy); false for errors that repeat (a missing database,
    /// a permission, corrupt data).
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Store { transient: true, .. })
    }
}

/// The database's own words for `e`, once.
pub(crate) fn describe(e: &sqlx::Error) -> (String, bool) {
    match e {
        sqlx::Error::Database(d) => {
            // PostgreSQL class 08 (connection), 53 (resources), 57 (operator intervention:
            // shutdown, restart), 40 (serialization); SQLite 5 and 6 (busy, locked).
            let code = d.code().map(|c| c.to_string()).unwrap_or_default();
            let transient = ["08", "53", "57", "40"].iter().any(|p| code.starts_with(p))
                || code == "5"
                || code == "6";
            (d.message().to_string(), transient)
        }
        sqlx::Error::Io(io) => (format!("cannot reach the database: {io}"), true),
        sqlx::Error::PoolTimedOut => ("no database connection within the timeout".into(), true),
        sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => (e.to_string(), true),
        sqlx::Error::Tls(t) => (format!("TLS: {t}"), false),
        other => (other.to_string(), false),
    }
}

pub(crate) fn db(op: &'static str) -> impl FnOnce(sqlx::Error) -> AlertError {
    move |e| {
        let (message, transient) = describe(&e);
        AlertError::Store { op, message, transient }
    }
}
