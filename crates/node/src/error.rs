//! The runtime's one error type.

use palisade_store::StoreError;
use thiserror::Error;

/// What can stop a chain's service or the process.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum NodeError {
    /// The config cannot be run (a source that cannot be built, a detector that cannot be).
    #[error("{0}")]
    Config(String),
    /// The store failed and retrying did not help: the engine moved on but the store did not,
    /// so the process stops and a restart resumes from the store.
    #[error("storing failed ({0}); stopping so a restart resumes from the store")]
    Store(StoreError),
    /// Another process took this chain's lease (its write was fenced off, or the lease could
    /// not be renewed): this process stops owning the chain at once.
    #[error("chain {chain}: no longer owned by this process: {why}")]
    Deposed {
        /// The chain.
        chain: String,
        /// How it was found out.
        why: String,
    },
    /// The sources could not give what was asked (endpoints down, no quorum, data that does not
    /// verify, a detector that failed on a block): tried again on the next head.
    #[error(transparent)]
    Source(#[from] eyre::Report),
    /// The cluster (NATS JetStream) failed.
    #[error("cluster: {0}")]
    Cluster(String),
}

impl NodeError {
    /// True when the process must stop (a restart resumes from the store); false when the chain
    /// service retries (sources) or just stops owning the chain (deposed).
    pub fn is_fatal(&self) -> bool {
        match self {
            Self::Config(_) | Self::Store(_) => true,
            Self::Deposed { .. } | Self::Source(_) | Self::Cluster(_) => false,
        }
    }

    /// The error of a store write: a fenced write means the chain moved to another process.
    pub fn from_store(chain: &str, e: StoreError) -> Self {
        match e {
            StoreError::Fenced { .. } => Self::Deposed { chain: chain.into(), why: e.to_string() },
            e => Self::Store(e),
        }
    }
}

/// Result alias for the runtime.
pub type Result<T, E = NodeError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_store_and_config_errors_stop_the_process() {
        let fenced =
            StoreError::Fenced { chain: "c".into(), token: 1, current: 2, holder: "b".into() };
        let e = NodeError::from_store("c", fenced);
        assert!(matches!(e, NodeError::Deposed { .. }) && !e.is_fatal());
        let db = StoreError::Db { op: "commit", message: "disk full".into(), transient: false };
        assert!(NodeError::from_store("c", db).is_fatal());
        assert!(!NodeError::Source(eyre::eyre!("no quorum")).is_fatal());
        assert!(NodeError::Config("x".into()).is_fatal());
    }
}
