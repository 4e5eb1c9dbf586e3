//! Where blocks come from: recorded files ([`replay`]) and EVM JSON-RPC nodes ([`evm_rpc`]),
//! several of them per chain in a [`pool`] that tracks each one's [`health`].
//!
//! Sources produce untrusted data. They check shapes and consistency (a receipt list that does
//! not belong to its block is refused), never meaning; the chain tracker and detectors come after.
//!
//! ```no_run
//! # async fn f() -> Result<(), palisade_source::SourceError> {
//! use palisade_source::evm_rpc::{EndpointConfig, RpcClient};
//! let node = RpcClient::new(&EndpointConfig::http("http://127.0.0.1:8545"), &Default::default())?;
//! let id = node.chain_id().await?;
//! # Ok(()) }
//! ```
//!
//! # Assumptions
//! - Nodes answer the standard JSON-RPC methods; `eth_getBlockReceipts`, `trace_block` and
//!   `debug_traceBlockByHash` are optional and fall back or are reported as unavailable.

pub mod beacon_api;
pub mod comet_rpc;
pub mod evm_rpc;
pub mod health;
pub mod mempool;
pub mod pool;
pub mod replay;
mod url;
mod ws;

pub use url::SensitiveUrl;

use thiserror::Error;

/// Errors of sources.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SourceError {
    /// The endpoint could not be reached or the connection failed.
    #[error("{url}: {reason}")]
    Transport {
        /// Redacted endpoint URL.
        url: String,
        /// What failed.
        reason: String,
    },
    /// The endpoint answered with a JSON-RPC error.
    #[error("{url}: {method} failed: {message} (code {code})")]
    Rpc {
        /// Redacted endpoint URL.
        url: String,
        /// Method called.
        method: String,
        /// JSON-RPC error code.
        code: i64,
        /// Error message.
        message: String,
    },
    /// The endpoint answered something that is not a valid response.
    #[error("{url}: {method} returned a malformed answer: {reason}")]
    Malformed {
        /// Redacted endpoint URL.
        url: String,
        /// Method called.
        method: String,
        /// What is wrong.
        reason: String,
    },
    /// The endpoint serves another chain than the config says.
    #[error("{url}: chain id is {got}, but the config says {expected}")]
    WrongChain {
        /// Redacted endpoint URL.
        url: String,
        /// Configured chain id.
        expected: u64,
        /// Chain id the endpoint reported.
        got: u64,
    },
    /// A recorded file is malformed.
    #[error("{path}:{line}: {reason}")]
    Recorded {
        /// File path (`-` for stdin).
        path: String,
        /// 1-based line number.
        line: u64,
        /// What is wrong.
        reason: String,
    },
    /// An I/O error reading a file.
    #[error("{path}: {source}")]
    Io {
        /// File path.
        path: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A bad URL or setting.
    #[error("{0}")]
    Config(String),
}

impl SourceError {
    /// True when retrying (possibly on another endpoint) may help.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Transport { .. } | Self::Malformed { .. } | Self::Rpc { .. })
    }
}

/// Result alias for this crate.
pub type Result<T, E = SourceError> = std::result::Result<T, E>;
