//! Where a chain's blocks come from, and what the live chain service needs of it
//! ([`ChainSource`]): agreed heads, canonical hashes by number, verified blocks by hash, and the
//! findings about the endpoints. Implemented for EVM nodes ([`evm::Sources`]), Beacon API nodes
//! ([`beacon::BeaconSources`]) and CometBFT nodes ([`comet::CometSources`]).

pub mod beacon;
pub mod comet;
pub mod endpoints;
pub mod evm;

/// Detector id of findings about endpoints that lie (integrity).
pub const INTEGRITY: &str = "source_integrity";
/// Detector id of findings about endpoints that lag, stall, sync or are slow (health).
pub const HEALTH: &str = "source_health";

use crate::status::{EndpointStatus, QuorumStatus};
use palisade_primitives::{BlockData, BlockRef, Finding, RecordedBlock, B256};
use palisade_source::evm_rpc::HeadSeen;
use std::future::Future;
use std::time::Instant;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// A chain's block source, as [`crate::service::ChainService`] drives it.
pub trait ChainSource: Send + 'static {
    /// Connects and checks what must hold before following (chain ids, genesis, trust roots).
    fn start(&mut self) -> impl Future<Output = eyre::Result<()>> + Send;
    /// The head the source stands behind, if any.
    fn agreed_head(
        &mut self,
        now: Instant,
    ) -> impl Future<Output = eyre::Result<Option<HeadSeen>>> + Send;
    /// The canonical hash at `number`, if known.
    fn agreed_hash_at(
        &mut self,
        number: u64,
    ) -> impl Future<Output = eyre::Result<Option<B256>>> + Send;
    /// The block with `hash`, verified, as a replay line.
    fn fetch_block(
        &mut self,
        hash: B256,
    ) -> impl Future<Output = eyre::Result<RecordedBlock>> + Send;
    /// Findings about the endpoints made since the last call.
    fn take_findings(&mut self) -> Vec<Finding>;
    /// Benches the endpoint a finding names (`endpoint` as findings print it), at a
    /// responder's request. False when this source has no such endpoint.
    fn quarantine_endpoint(&mut self, endpoint: &str, reason: &str) -> bool {
        let _ = (endpoint, reason);
        false
    }
    /// Extra checks once the head is reached (probation of benched endpoints).
    fn probation_checks(&mut self, head: BlockRef) -> impl Future<Output = ()> + Send {
        let _ = head;
        async {}
    }
    /// Starts the head followers; the receiver changes when a new head may be there.
    fn heads(&self, shutdown: CancellationToken) -> watch::Receiver<u64>;
    /// Each endpoint's state.
    fn status(&self, now: Instant) -> Vec<EndpointStatus>;
    /// The vote's state.
    fn quorum_status(&self) -> QuorumStatus;
    /// The endpoint blocks come from now.
    fn content_from(&self) -> Option<usize>;
    /// A block restored from the store (sources that index blocks by more than their hash).
    fn learn(&mut self, b: &BlockData) {
        let _ = b;
    }
}

impl ChainSource for crate::sources::evm::Sources {
    async fn start(&mut self) -> eyre::Result<()> {
        crate::sources::evm::Sources::start(self).await
    }

    async fn agreed_head(&mut self, now: Instant) -> eyre::Result<Option<HeadSeen>> {
        crate::sources::evm::Sources::agreed_head(self, now).await
    }

    async fn agreed_hash_at(&mut self, number: u64) -> eyre::Result<Option<B256>> {
        crate::sources::evm::Sources::agreed_hash_at(self, number).await
    }

    async fn fetch_block(&mut self, hash: B256) -> eyre::Result<RecordedBlock> {
        crate::sources::evm::Sources::fetch_block(self, hash).await
    }

    fn take_findings(&mut self) -> Vec<Finding> {
        crate::sources::evm::Sources::take_findings(self)
    }

    fn quarantine_endpoint(&mut self, endpoint: &str, reason: &str) -> bool {
        crate::sources::evm::Sources::quarantine_endpoint(self, endpoint, reason)
    }

    async fn probation_checks(&mut self, head: BlockRef) {
        crate::sources::evm::Sources::probation_checks(self, head).await
    }

    fn heads(&self, shutdown: CancellationToken) -> watch::Receiver<u64> {
        self.pool().start(shutdown)
    }

    fn status(&self, now: Instant) -> Vec<EndpointStatus> {
        crate::sources::evm::Sources::status(self, now)
    }

    fn quorum_status(&self) -> QuorumStatus {
        crate::sources::evm::Sources::quorum_status(self)
    }

    fn content_from(&self) -> Option<usize> {
        crate::sources::evm::Sources::content_from(self)
    }
}
