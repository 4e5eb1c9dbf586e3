//! What the runtime shows of itself (`/health`, `palisade status`): chains, their endpoints and
//! mempool watch, and the cluster. Plain data; filled by the services, read by the API.

use serde::Serialize;

/// Live status of a chain, shown by `/health`.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ChainStatus {
    /// Processed tip number.
    pub tip: Option<u64>,
    /// Newest head announced.
    pub head: Option<u64>,
    /// Index of the endpoint in use.
    pub active_endpoint: usize,
    /// Seconds since the last new block was processed.
    pub last_block_age_secs: Option<u64>,
    /// Last error, if the chain is unhealthy.
    pub error: Option<String>,
    /// Each endpoint's state.
    pub endpoints: Vec<EndpointStatus>,
    /// The quorum.
    pub quorum: QuorumStatus,
    /// The mempool watch, when `[chains.mempool]` is on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mempool: Option<MempoolStatus>,
    /// The newest block with the configured confirmations (alerts at or below it are sent).
    pub confirmed: Option<u64>,
    /// The endpoints' changes of standing, oldest first (the last [`ENDPOINT_HISTORY`]).
    pub endpoint_history: std::collections::VecDeque<EndpointEvent>,
    /// While no block has come for longer than the chain's usual interval: the provisional
    /// settlement-risk point of its newest block with the stall scored (cleared by a block).
    #[serde(skip)]
    pub risk_stall: Option<palisade_risk::RiskPoint>,
}

/// How many endpoint changes of standing a chain keeps.
pub const ENDPOINT_HISTORY: usize = 256;

/// An endpoint's change of standing (active, quarantined, probation, unreachable).
#[derive(Debug, Clone, Serialize)]
pub struct EndpointEvent {
    /// When it was seen (RFC 3339, UTC).
    pub at: String,
    /// The endpoint's position in the config.
    pub index: usize,
    /// Its URL, redacted.
    pub url: String,
    /// Its standing before (`none` at start).
    pub from: String,
    /// Its standing now.
    pub to: String,
    /// Why, when it is not active: the fault and its evidence.
    pub reason: Option<String>,
    /// Its integrity offences by then.
    pub strikes: u32,
}

impl ChainStatus {
    /// Records in [`ChainStatus::endpoint_history`] each endpoint whose standing or reason
    /// differs in `now` from the last snapshot.
    pub fn record_endpoint_changes(&mut self, now: &[EndpointStatus]) {
        for e in now {
            let before = self.endpoints.iter().find(|b| b.index == e.index);
            let changed = match before {
                None => true,
                Some(b) => b.state != e.state || b.reason != e.reason,
            };
            if !changed {
                continue;
            }
            if self.endpoint_history.len() >= ENDPOINT_HISTORY {
                self.endpoint_history.pop_front();
            }
            self.endpoint_history.push_back(EndpointEvent {
                at: palisade_primitives::time::rfc3339_ms(palisade_store::now_ms()),
                index: e.index,
                url: e.url.clone(),
                from: before.map_or_else(|| "none".into(), |b| b.state.clone()),
                to: e.state.clone(),
                reason: e.reason.clone(),
                strikes: e.strikes,
            });
        }
    }
}

/// Live status of a chain's mempool watch.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct MempoolStatus {
    /// Pending transactions held.
    pub pending: usize,
    /// Pending transactions judged since start.
    pub judged: u64,
    /// The verified block simulations run on.
    pub state_block: Option<u64>,
    /// Findings about pending transactions since start.
    pub findings: u64,
    /// The last simulation error, if any.
    pub last_error: Option<String>,
    /// Median wait, from first seen pending to the newest block, of that block's transactions
    /// that were seen pending (milliseconds); none when it had none.
    pub inclusion_delay_ms: Option<u64>,
    /// How many of the newest block's transactions were seen pending.
    pub included_seen: usize,
}

/// The state of one endpoint, as shown by `/health` and `palisade status`.
#[derive(Debug, Clone, Serialize)]
pub struct EndpointStatus {
    /// Position in the config.
    pub index: usize,
    /// URL, redacted.
    pub url: String,
    /// `active`, `quarantined`, `probation` or `unreachable`.
    pub state: String,
    /// Why it is not active.
    pub reason: Option<String>,
    /// Integrity offences so far.
    pub strikes: u32,
    /// Newest head it announced.
    pub head: Option<u64>,
    /// Blocks behind the quorum head.
    pub lag: Option<u64>,
    /// Mean request latency in milliseconds.
    pub latency_ms: Option<f64>,
    /// Peer count, when the node tells.
    pub peers: Option<u64>,
    /// True when it reports syncing.
    pub syncing: bool,
    /// Seconds left of its quarantine penalty.
    pub quarantine_secs_left: Option<u64>,
    /// Blocks left on probation.
    pub probation_blocks_left: Option<u64>,
    /// Last error.
    pub last_error: Option<String>,
}

/// The quorum, as shown by `/health`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct QuorumStatus {
    /// Endpoints that must agree.
    pub required: usize,
    /// Endpoints that count now.
    pub counting: usize,
    /// True when `counting >= required`.
    pub met: bool,
}

/// The cluster as one member sees it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ClusterStatus {
    /// This member.
    pub node_id: String,
    /// Its roles.
    pub roles: Vec<String>,
    /// Every live member.
    pub members: Vec<MemberStatus>,
    /// Each chain's lease: who owns it and since when.
    pub leases: std::collections::BTreeMap<String, LeaseStatus>,
}

/// A live member of the cluster.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MemberStatus {
    /// Its `node_id`.
    pub node_id: String,
    /// Its roles.
    pub roles: Vec<String>,
    /// The chains it owns.
    pub owns: Vec<String>,
    /// Milliseconds since it joined.
    pub up_ms: u64,
    /// Milliseconds since its last heartbeat.
    pub seen_ms_ago: u64,
}

/// A chain's lease.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LeaseStatus {
    /// The member that owns the chain.
    pub owner: String,
    /// The lease's revision now.
    pub revision: u64,
    /// Milliseconds since the owner took it.
    pub held_ms: u64,
    /// Milliseconds since it was last renewed.
    pub renewed_ms_ago: u64,
}
