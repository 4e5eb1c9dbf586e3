//! `[[beacon_chains]]`.

use eyre::eyre;
use palisade_consensus::beacon::Network;
use palisade_primitives::B256;
use serde::{Deserialize, Serialize};

/// `[[beacon_chains]]`: a beacon chain and its Beacon API endpoints.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BeaconChainConfig {
    /// Name used in alerts (required).
    pub name: String,
    /// Network (`mainnet`): its genesis validators root and fork schedule.
    #[serde(default = "mainnet")]
    pub network: String,
    /// Beacon API endpoints in order of preference: `{ url = "http://..." }` (required).
    pub endpoints: Vec<BeaconEndpoint>,
    /// A block root trusted out of band (a recent finalized checkpoint): the light client starts
    /// from its bootstrap. Required unless `trust_node_checkpoint`.
    #[serde(default)]
    pub checkpoint: Option<B256>,
    /// Start from the node's own finalized checkpoint when no `checkpoint` is given (trust on
    /// first use; default false).
    #[serde(default)]
    pub trust_node_checkpoint: bool,
    /// Validators whose duties, balances and status are read at each epoch.
    #[serde(default)]
    pub watched_validators: Vec<u64>,
    /// Read the whole validator set every this many epochs, for stake concentration (default 0:
    /// never; a mainnet set is a few hundred MB).
    #[serde(default)]
    pub stake_every_epochs: u64,
    /// Blocks on top before delivery (default 0).
    #[serde(default)]
    pub confirmations: u64,
    /// Deepest reorg undone exactly (default 64).
    #[serde(default = "sixty_four")]
    pub max_reorg_depth: u64,
    /// Per-request timeout in milliseconds (default 10000).
    #[serde(default = "ten_secs")]
    pub timeout_ms: u64,
    /// Head polling interval when the event stream is down, in milliseconds (default 2000).
    #[serde(default = "two_secs")]
    pub poll_interval_ms: u64,
}

/// A Beacon API endpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BeaconEndpoint {
    /// Base URL (`http://127.0.0.1:5052`).
    pub url: String,
}

fn mainnet() -> String {
    "mainnet".into()
}

fn sixty_four() -> u64 {
    64
}

fn ten_secs() -> u64 {
    10_000
}

fn two_secs() -> u64 {
    2_000
}

impl BeaconChainConfig {
    /// The network's constants.
    pub fn network(&self) -> eyre::Result<Network> {
        match self.network.as_str() {
            "mainnet" => Ok(Network::mainnet()),
            other => {
                Err(eyre!("beacon chain {}: unknown network {other:?} (known: mainnet)", self.name))
            }
        }
    }
}
