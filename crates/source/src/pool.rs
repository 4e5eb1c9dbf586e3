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
    clients: Arc<Vec<Arc<RpcClient>>>,
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
        let clients = cfgs
            .iter()
            .map(|c| RpcClient::new(c, &settings).map(Arc::new))
            .collect::<Result<Vec<_>>>()?;
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

    /// Endpoint `i`'s client, shared (for work that outlives a borrow of the pool).
    pub fn shared_client(&self, i: usize) -> Arc<RpcClient> {
        self.clients[i].clone()
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

    /// How long to wait for endpoint `i` before also asking the next one: three times its usual
    /// time (`usual_ms`, an average of earlier answers), at least `hedge_after_ms`; a tenth of
    /// the timeout while nothing is known. `None` when hedging is off.
    pub fn hedge_delay(&self, usual_ms: Option<f64>) -> Option<Duration> {
        if self.settings.hedge_after_ms == 0 {
            return None;
        }
        let floor = self.settings.hedge_after_ms as f64;
        let ms = match usual_ms {
            Some(u) => (3.0 * u).max(floor),
            None => (self.settings.timeout_ms as f64 / 10.0).max(floor),
        };
        Some(Duration::from_secs_f64(ms.min(self.settings.timeout_ms as f64) / 1000.0))
    }

    /// Asks the endpoints in `order` the same question, hedged: the first at once, the next when
    /// the previous has not answered within its [`hedge_delay`](Self::hedge_delay) (for a block
    /// fetch, against its usual block time) or as soon as it fails. Answers come out as they
    /// arrive; the caller takes the first good one and drops the rest.
    pub fn hedged<T: Send + 'static>(
        &self,
        order: Vec<usize>,
        block_fetch: bool,
        ask: impl FnMut(usize) -> futures::future::BoxFuture<'static, Result<T>> + Send + 'static,
    ) -> Hedged<T> {
        Hedged {
            pool: self.clone(),
            waiting: order.into(),
            running: futures::stream::FuturesUnordered::new(),
            next_at: None,
            block_fetch,
            ask: Box::new(ask),
            started: Vec::new(),
        }
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

type Ask<T> = Box<dyn FnMut(usize) -> futures::future::BoxFuture<'static, Result<T>> + Send>;
type Running<T> = futures::stream::FuturesUnordered<
    futures::future::BoxFuture<'static, (usize, Result<T>, Duration)>,
>;

/// Hedged requests in flight (see [`EndpointPool::hedged`]).
pub struct Hedged<T> {
    pool: EndpointPool,
    waiting: std::collections::VecDeque<usize>,
    running: Running<T>,
    next_at: Option<tokio::time::Instant>,
    block_fetch: bool,
    ask: Ask<T>,
    /// Requests started and not answered yet, with when.
    started: Vec<(usize, Instant)>,
}

impl<T> Drop for Hedged<T> {
    /// Requests still out when the answer came from elsewhere took at least this long: for a
    /// block fetch, that counts in the endpoint's usual time (so a slow endpoint loses its
    /// place).
    fn drop(&mut self) {
        if !self.block_fetch || self.started.is_empty() {
            return;
        }
        let mut h = self.pool.health();
        for (i, t) in &self.started {
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            if h[*i].fetch_ms.is_none_or(|m| m < ms) {
                h[*i].fetch_ms = Some(h[*i].fetch_ms.map_or(ms, |m| m * 0.5 + ms * 0.5));
            }
        }
    }
}

impl<T> std::fmt::Debug for Hedged<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hedged").field("waiting", &self.waiting).finish_non_exhaustive()
    }
}

impl<T: Send + 'static> Hedged<T> {
    fn start_next(&mut self) {
        let Some(i) = self.waiting.pop_front() else {
            self.next_at = None;
            return;
        };
        let usual = {
            let h = &self.pool.health()[i];
            if self.block_fetch {
                h.fetch_ms
            } else {
                h.latency_ms
            }
        };
        self.next_at = self.pool.hedge_delay(usual).map(|d| tokio::time::Instant::now() + d);
        let fut = (self.ask)(i);
        let pool = self.pool.clone();
        self.started.push((i, Instant::now()));
        self.running.push(Box::pin(async move {
            let t = Instant::now();
            let r = pool.timed(i, fut).await;
            (i, r, t.elapsed())
        }));
    }

    /// The next answer (endpoint, result), or `None` when every endpoint has answered.
    pub async fn next(&mut self) -> Option<(usize, Result<T>)> {
        use futures::StreamExt;
        loop {
            if self.running.is_empty() {
                if self.waiting.is_empty() {
                    return None;
                }
                self.start_next();
            }
            let hedge = async {
                match self.next_at {
                    Some(t) if !self.waiting.is_empty() => tokio::time::sleep_until(t).await,
                    _ => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                done = self.running.next() => {
                    let Some((i, r, took)) = done else { continue };
                    self.started.retain(|(j, _)| *j != i);
                    match &r {
                        Ok(_) if self.block_fetch => {
                            let ms = took.as_secs_f64() * 1000.0;
                            let mut h = self.pool.health();
                            h[i].fetch_ms = Some(h[i].fetch_ms.map_or(ms, |m| m * 0.8 + ms * 0.2));
                        }
                        Ok(_) => {}
                        // A failure hands over at once.
                        Err(_) => self.start_next(),
                    }
                    return Some((i, r));
                }
                () = hedge => {
                    tracing::debug!(target: "palisade::source", waiting = self.waiting.len(), "An endpoint is slow to answer; asking the next one too.");
                    self.start_next();
                }
            }
        }
    }
}
