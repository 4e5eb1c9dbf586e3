use thiserror::Error;

/// Errors of the store.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database failed; `op` says what the store was doing. The message is the database's
    /// own words, once (the driver's error chain repeats them), and never the store URL.
    #[error("store: {op}: {message}")]
    Db {
        /// Operation.
        op: &'static str,
        /// What the database or the connection said.
        message: String,
        /// True when trying again may help (a lost connection, a timeout, a busy database).
        transient: bool,
    },
    /// The store URL is not one Palisade speaks.
    #[error("store url: {0}")]
    Url(String),
    /// Stored data could not be decoded.
    #[error("store holds corrupt data: {0}")]
    Corrupt(String),
    /// A write for a chain was refused: another process took the chain's lease (its fencing
    /// token is newer). The writer no longer owns the chain and must stop writing for it.
    #[error("chain {chain}: write refused: the lease moved to {holder} (token {current}, this writer's {token})")]
    Fenced {
        /// The chain.
        chain: String,
        /// The token this writer had.
        token: i64,
        /// The newest token stored.
        current: i64,
        /// Who holds it.
        holder: String,
    },
    /// No alert matches.
    #[error("no alert matches {0:?}")]
    NotFound(String),
    /// A key prefix matches several alerts.
    #[error("{0:?} matches several alerts; give more of the key")]
    Ambiguous(String),
}

impl StoreError {
    /// True when the same operation may succeed if tried again (the database restarted, a
    /// connection was lost, SQLite was busy); false for errors that repeat (a missing database,
    /// a permission, corrupt data, a fenced write).
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Db { transient: true, .. })
    }

    /// True when the writer lost its chain to another process.
    pub fn is_fenced(&self) -> bool {
        matches!(self, Self::Fenced { .. })
    }
}

/// Result alias for this crate.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The database's own words for `e`, once, and whether trying again may help.
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

pub(crate) fn db(op: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| {
        let (message, transient) = describe(&e);
        StoreError::Db { op, message, transient }
    }
}
