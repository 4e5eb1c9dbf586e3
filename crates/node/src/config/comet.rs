//! `[[comet_chains]]`.

use palisade_primitives::B256;
use serde::{Deserialize, Serialize};

/// `[[comet_chains]]`: a CometBFT chain and its RPC endpoints.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CometChainConfig {
    /// Name used in alerts (required).
    pub name: String,
    /// The chain id every endpoint and header must have (required).
    pub chain_id: String,
    /// RPC endpoints in order of preference: `{ url = "http://...", ws = "ws://.../websocket" }`.
    pub endpoints: Vec<CometEndpoint>,
    /// A height trusted out of band (required).
    pub trusted_height: u64,
    /// Its header hash (required).
    pub trusted_hash: B256,
    /// How long a validator set is trusted for, in seconds (default 1,209,600: 14 days; below
    /// the chain's unbonding period).
    #[serde(default = "two_weeks")]
    pub trusting_period_secs: u64,
    /// Blocks on top before delivery (default 0).
    #[serde(default)]
    pub confirmations: u64,
    /// Per-request timeout in milliseconds (default 10000).
    #[serde(default = "ten_secs")]
    pub timeout_ms: u64,
    /// Head polling interval, in milliseconds (default 1000).
    #[serde(default = "one_sec")]
    pub poll_interval_ms: u64,
}

/// A CometBFT RPC endpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CometEndpoint {
    /// RPC base URL (`http://127.0.0.1:26657`).
    pub url: String,
    /// WebSocket URL (`ws://127.0.0.1:26657/websocket`), for new-block events.
    #[serde(default)]
    pub ws: Option<String>,
}

fn two_weeks() -> u64 {
    14 * 24 * 3600
}

fn ten_secs() -> u64 {
    10_000
}

fn one_sec() -> u64 {
    1_000
}
