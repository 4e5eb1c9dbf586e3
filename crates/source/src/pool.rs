//! The endpoints of one chain and what is known of each: a head follower and a prober per
//! endpoint write their observations into a shared [`EndpointHealth`] table; the chain service
//! reads it to vote, to choose where to fetch from, and to bench endpoints at fault.
//!
//! # Tasks
//! [`EndpointPool::start`] spawns, per endpoint, a head follower (WebSocket `newHeads` with
//! HTTP polling as fallback) and a prober (`eth_chainId`, `eth_syncing`, `net_peerCount` every
//! `probe_interval_ms`). Both only record; neither judges. They run until the shutdown token
//! fires. The table's lock is never held across an await.

use crate::evm_rpc::{EndpointConfig, HeadSeen, RpcClient, RpcSettings};
use crate::health::{EndpointHealth, HealthPolicy};
use crate::{Result, SourceError};
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// The endpoints of one chain, with their health.
#[derive(Debug, Clone)]
pub struct EndpointPool {
    clients: Arc<Vec<RpcClient>>,
    health: Arc<Mutex<Vec<EndpointHealth>>>,
    settings: RpcSettings,
    policy: HealthPolicy,
}

impl EndpointPool {
    /// Builds a client per endpoint (at least one).
    pub fn new(
        cfgs: &[EndpointConfig],
        settings: RpcSettings,
        policy: HealthPolicy,
    ) -> Result<Self> {
        if cfgs.is_empty() {
            return Err(SourceError::Config("a chain needs at least one endpoint".into()));
        }
        let clients =
            cfgs.iter().map(|c| RpcClient::new(c, &settings)).collect::<Result<Vec<_>>>()?;
        let health = vec![EndpointHealth::default(); clients.len()];
        Ok(Self {
            clients: Arc::new(clients),
            health: Arc::new(Mutex::new(health)),
            settings,
            policy,
        })
    }

    /// Number of endpoints.
    pub fn len(&self) -> usize {
        self.clients.len()
    }

    /// Always false: a pool has at least one endpoint.
    pub fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }

    /// The client of endpoint `i`.
    ///
    /// # Panics
    /// When `i` is out of range.
    pub fn client(&self, i: usize) -> &RpcClient {
        &self.clients[i]
    }

    /// The policy.
    pub fn policy(&self) -> &HealthPolicy {
        &self.policy
    }

    /// The health table. Do not hold the guard across an await.
    pub fn health(&self) -> MutexGuard<'_, Vec<EndpointHealth>> {
        self.health.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A copy of the health table.
    pub fn snapshot(&self) -> Vec<EndpointHealth> {
        self.health().clone()
    }

    /// Runs `f` (a request to endpoint `i`), recording its latency, or the error and whether
    /// the endpoint is unreachable.
    pub async fn timed<T>(&self, i: usize, f: impl Future<Output = Result<T>>) -> Result<T> {
        let t = Instant::now();
        let r = f.await;
        let mut h = self.health();
        match &r {
            Ok(_) => h[i].observe_latency(t.elapsed()),
            Err(e) => h[i].observe_error(e.to_string(), !matches!(e, SourceError::Rpc { .. })),
        }
        r
    }

    /// Starts a head follower and a prober per endpoint. The receiver changes whenever an
    /// endpoint announces a new head (newest wins: read the table for the heads).
    pub fn start(&self, shutdown: CancellationToken) -> watch::Receiver<u64> {
        let (tx, rx) = watch::channel(0u64);
        let tx = Arc::new(tx);
        let poll = Duration::from_millis(self.settings.poll_interval_ms);
        for i in 0..self.len() {
            let (pool, tx, s) = (self.clone(), tx.clone(), shutdown.clone());
            tokio::spawn(async move {
                let on_head = |h: HeadSeen| {
                    pool.health()[i].observe_head(h, Instant::now());
                    tx.send_modify(|v| *v = v.wrapping_add(1));
                };
                pool.clients[i].follow_heads(poll, on_head, s).await;
            });
            let (pool, s) = (self.clone(), shutdown.clone());
            tokio::spawn(async move { pool.probe_loop(i, s).await });
        }
        rx
    }

    /// Probes endpoint `i` once: chain id (with its latency), sync status, peer count.
    pub async fn probe(&self, i: usize) {
        let c = &self.clients[i];
        if let Ok(id) = self.timed(i, c.chain_id()).await {
            self.health()[i].chain_id = Some(id);
        }
        match c.syncing().await {
            Ok(s) => self.health()[i].syncing = s.is_some(),
            // Not offered: say nothing.
            Err(SourceError::Rpc { .. }) => self.health()[i].syncing = false,
            Err(_) => {}
        }
        if let Ok(p) = c.peer_count().await {
            self.health()[i].peers = p;
        }
    }

    async fn probe_loop(&self, i: usize, shutdown: CancellationToken) {
        let every = Duration::from_millis(self.policy.probe_interval_ms.max(100));
        loop {
            self.probe(i).await;
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(every) => {}
            }
        }
    }
}
