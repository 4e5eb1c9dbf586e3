//! `[[chains]]`: EVM chains.

use palisade_primitives::B256;
use palisade_source::evm_rpc::{EndpointConfig, RpcSettings};
use palisade_source::health::HealthPolicy;
use serde::{Deserialize, Serialize};

/// One `[[chains]]` entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainConfig {
    /// Name used in alerts (required).
    pub name: String,
    /// Expected `eth_chainId` (required); endpoints that disagree are not used.
    pub chain_id: u64,
    /// Endpoints in order of preference: `{ url = "http://...", ws = "ws://..." }` (required).
    pub endpoints: Vec<EndpointConfig>,
    /// Blocks on top of a finding's block before its alert is delivered (default 0: at once; a
    /// reorg then sends a resolution).
    #[serde(default)]
    pub confirmations: u64,
    /// Deepest reorg that is undone exactly (default 64); deeper is a critical alert of its own.
    #[serde(default = "default_max_reorg")]
    pub max_reorg_depth: u64,
    /// Block to start from on the first run (default: the current head).
    #[serde(default)]
    pub start_block: Option<u64>,
    /// RPC timeouts and limits.
    #[serde(default)]
    pub rpc: RpcSettings,
    /// What is checked in every block before detectors see it (default `full`): `full` (block
    /// hash, transaction hashes and root, senders, receipts root, logs bloom, withdrawals root),
    /// `headers` (the same without sender recovery) or `off`.
    #[serde(default)]
    pub verification: Verification,
    /// How many endpoints must report the same block at a height before Palisade follows it
    /// (default: a majority of the endpoints). Below that, monitoring goes on with the endpoints
    /// left, if they agree, and says so with a `quorum_lost` alert.
    #[serde(default)]
    pub quorum: Option<usize>,
    /// How long the quorum may be short because endpoints are unreachable, lagging or
    /// stalled before the critical `quorum_lost` alert (default 30 s): one provider's blip
    /// does not page. A quorum lost because an endpoint lied is reported at once.
    #[serde(default = "default_quorum_grace")]
    pub quorum_grace_secs: u64,
    /// The chain's genesis hash; an endpoint with another genesis is quarantined (default: the
    /// genesis most endpoints report at start).
    #[serde(default)]
    pub genesis_hash: Option<B256>,
    /// Quarantine, probation and endpoint checks: `[chains.health]` (see the reference).
    #[serde(default)]
    pub health: HealthPolicy,
    /// The pending-transaction watch: `[chains.mempool]` (default: off).
    #[serde(default)]
    pub mempool: MempoolConfig,
}

/// `[chains.mempool]`: pending transactions from the chain's first endpoint, judged by the
/// pending detectors (`mempool_frontrun`, `simulation`, `admin_call`) before inclusion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MempoolConfig {
    /// Watch the mempool (default false).
    pub enabled: bool,
    /// `txpool_content` polling interval in milliseconds, besides the WebSocket subscription
    /// (default 1000; 0: subscription only).
    pub poll_interval_ms: u64,
    /// Pending transactions held (default 10000; the oldest are dropped first).
    pub max_pending: usize,
    /// Simulate pending transactions with revm on the latest verified state (default true).
    pub simulate: bool,
    /// Simulations run at once (default 4); verdicts still come out in arrival order.
    pub sim_workers: usize,
    /// A simulation taking longer is abandoned (milliseconds, default 2000).
    pub sim_timeout_ms: u64,
}

impl Default for MempoolConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            poll_interval_ms: 1000,
            max_pending: 10_000,
            simulate: true,
            sim_workers: 4,
            sim_timeout_ms: 2000,
        }
    }
}

impl ChainConfig {
    /// The quorum in force: the configured one, else a majority of the endpoints.
    pub fn quorum(&self) -> usize {
        self.quorum.unwrap_or(self.endpoints.len() / 2 + 1)
    }
}

/// Verification of fetched blocks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verification {
    /// Every check, senders included.
    #[default]
    Full,
    /// Hashes and roots, no sender recovery.
    Headers,
    /// Nothing.
    Off,
}

fn default_max_reorg() -> u64 {
    64
}

fn default_quorum_grace() -> u64 {
    30
}
