//! The mempool service of an EVM chain: follows pending transactions, simulates each on the
//! latest verified state, runs the pending detectors on it, stores what they find at once and
//! hands it to the responders, before any block includes the transaction.
//!
//! The chain service tells it each new verified tip ([`TipInfo`]): simulations move to that
//! state, and the transactions the block mined leave the pool.

use crate::config::{ChainConfig, MempoolConfig};
use crate::error::Result;
use crate::metrics::Metrics;
use crate::persist::Persist;
use crate::status::{ChainStatus, MempoolStatus};
use eyre::WrapErr;
use futures::StreamExt;
use palisade_detect::pending::{Pending, PendingDetector};
use palisade_detect::DetectorConfig;
use palisade_primitives::pending::{would_be_block, PendingTx, SimNeeds};
use palisade_primitives::{Address, Findings, Header, B256};
use palisade_sim::Simulator;
use palisade_source::evm_rpc::RpcClient;
use palisade_source::mempool::{follow_pending, Pool, PoolEvent};
use palisade_source::SensitiveUrl;
use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// A new verified tip: its header and the transactions its blocks mined (hash, sender, nonce).
#[derive(Debug, Clone)]
pub struct TipInfo {
    /// The newest verified block's header.
    pub header: Header,
    /// Transactions mined by the blocks committed with it.
    pub mined: Vec<(B256, Address, u64)>,
}

/// A pending transaction with its simulation (`None`: none was run).
struct Simulated {
    tx: PendingTx,
    at: Instant,
    parent: Header,
    result: Option<
        Result<Result<palisade_sim::Outcome, palisade_sim::SimError>, tokio::time::error::Elapsed>,
    >,
}

/// Capacity of the channel of tips from the chain service.
pub const TIP_CHANNEL: usize = 256;

/// Hashes remembered after they leave the pool, so a late poll does not judge them again.
const SEEN_CAP: usize = 50_000;

/// One chain's mempool watch.
#[derive(Debug)]
pub struct MempoolService {
    chain: String,
    cfg: MempoolConfig,
    rpc: Arc<RpcClient>,
    ws: Option<SensitiveUrl>,
    sim: Option<Arc<Simulator>>,
    needs: Arc<SimNeeds>,
    detectors: Vec<Box<dyn PendingDetector>>,
    pool: Pool,
    seen: HashSet<B256>,
    seen_order: VecDeque<B256>,
    tips: mpsc::Receiver<TipInfo>,
    tip: Option<Header>,
    persist: Persist,
    metrics: Metrics,
    seq: u64,
    status: Arc<std::sync::Mutex<std::collections::BTreeMap<String, ChainStatus>>>,
    stats: MempoolStatus,
    /// The verified block whose state the node was last caught lying about (reported once).
    lie_reported: Option<u64>,
    /// When each pending transaction in the pool was first seen (for inclusion delays).
    seen_at: std::collections::HashMap<B256, std::time::Instant>,
}

impl MempoolService {
    /// Builds the watch of `chain` (its first endpoint), with the pending detectors of
    /// `detectors` that apply to it.
    pub fn new(
        chain: &ChainConfig,
        detectors: &[DetectorConfig],
        tips: mpsc::Receiver<TipInfo>,
        persist: Persist,
        metrics: Metrics,
        status: Arc<std::sync::Mutex<std::collections::BTreeMap<String, ChainStatus>>>,
    ) -> eyre::Result<Self> {
        let ep = chain
            .endpoints
            .first()
            .ok_or_else(|| eyre::eyre!("chain {}: no endpoint", chain.name))?;
        let rpc = Arc::new(
            RpcClient::new(ep, &chain.rpc).wrap_err_with(|| format!("chain {}", chain.name))?,
        );
        let ws = ep
            .ws
            .as_deref()
            .map(SensitiveUrl::parse)
            .transpose()
            .map_err(|e| eyre::eyre!("chain {}: ws: {e}", chain.name))?;
        let mut dets = Vec::new();
        for d in detectors.iter().filter(|d| d.applies_to(&chain.name)) {
            let side = match d.side_file() {
                Some((field, p)) => {
                    Some(DetectorConfig::read_side_file(p).wrap_err_with(|| {
                        format!("detector {}: {field} {}", d.kind(), p.display())
                    })?)
                }
                None => None,
            };
            if let Some(p) = d.build_pending(&chain.name, side.as_deref())? {
                dets.push(p);
            }
        }
        let mut needs = SimNeeds::default();
        for d in &dets {
            needs.merge(&d.sim_needs());
        }
        let sim = (chain.mempool.simulate && !needs.is_empty())
            .then(|| Arc::new(Simulator::new(rpc.clone(), chain.chain_id)));
        tracing::info!(target: "palisade::mempool", chain = %chain.name, detectors = dets.len(),
            watched = needs.watched.len(), simulate = sim.is_some(), "Mempool watch ready.");
        Ok(Self {
            chain: chain.name.clone(),
            cfg: chain.mempool.clone(),
            rpc,
            ws,
            sim,
            needs: Arc::new(needs),
            detectors: dets,
            pool: Pool::new(chain.mempool.max_pending),
            seen: HashSet::new(),
            seen_order: VecDeque::new(),
            tips,
            tip: None,
            persist,
            metrics,
            seq: 0,
            status,
            stats: Default::default(),
            lie_reported: None,
            seen_at: Default::default(),
        })
    }

    fn remember(&mut self, h: B256) -> bool {
        if !self.seen.insert(h) {
            return false;
        }
        self.seen_order.push_back(h);
        while self.seen_order.len() > SEEN_CAP {
            if let Some(old) = self.seen_order.pop_front() {
                self.seen.remove(&old);
            }
        }
        true
    }

    fn publish(&mut self) {
        self.stats.pending = self.pool.len();
        self.stats.state_block = self.tip.as_ref().map(|h| h.number);
        let mut st = self.status.lock().unwrap_or_else(|p| p.into_inner());
        st.entry(self.chain.clone()).or_default().mempool = Some(self.stats.clone());
    }

    fn apply_tip(&mut self, t: TipInfo) {
        if let Some(sim) = &self.sim {
            if let Err(e) = sim.set_tip(&t.header) {
                tracing::warn!(target: "palisade::mempool", chain = %self.chain, error = %e, "Cannot simulate on this tip.");
            }
        }
        // How long the block's transactions that were seen pending waited (inclusion delay).
        let mut delays: Vec<u64> = t
            .mined
            .iter()
            .filter_map(|m| self.seen_at.get(&m.0).map(|at| at.elapsed().as_millis() as u64))
            .collect();
        delays.sort_unstable();
        self.stats.inclusion_delay_ms = delays.get(delays.len() / 2).copied();
        self.stats.included_seen = delays.len();
        self.pool.mined(&t.mined);
        let held: std::collections::HashSet<B256> = self.pool.iter().map(|p| p.hash).collect();
        self.seen_at.retain(|h, _| held.contains(h));
        let gone: Vec<B256> = t.mined.iter().map(|m| m.0).collect();
        for h in &gone {
            self.remember(*h);
        }
        for d in &mut self.detectors {
            d.gone(&gone);
        }
        self.tip = Some(t.header);
        self.publish();
    }

    /// Follows the pool until `shutdown`.
    pub async fn run(mut self, shutdown: CancellationToken) -> Result<()> {
        let (ptx, mut prx) = mpsc::channel::<PendingTx>(4096);
        let poll = if self.cfg.poll_interval_ms == 0 {
            Duration::from_secs(3600 * 24 * 365)
        } else {
            Duration::from_millis(self.cfg.poll_interval_ms)
        };
        tokio::spawn(follow_pending(
            self.rpc.clone(),
            self.ws.clone(),
            poll,
            ptx,
            shutdown.clone(),
        ));
        // Simulations run concurrently (up to `sim_workers`); verdicts come out in arrival
        // order, so "later" and "higher fee" stay exact for the front-running rules.
        let mut inflight = futures::stream::FuturesOrdered::new();
        let workers = self.cfg.sim_workers.max(1);
        loop {
            tokio::select! {
                biased;
                () = shutdown.cancelled() => return Ok(()),
                t = self.tips.recv() => match t {
                    Some(t) => self.apply_tip(t),
                    None => return Ok(()),
                },
                Some(done) = inflight.next(), if !inflight.is_empty() => self.judge(done).await?,
                p = prx.recv(), if inflight.len() < workers => match p {
                    Some(p) => {
                        if let Some(tx) = self.arrived(p) {
                            inflight.push_back(self.simulate(tx, Instant::now()));
                        }
                    }
                    None => return Ok(()),
                },
            }
        }
    }

    /// Admits a transaction into the pool: `None` when it was seen or lost to another.
    fn arrived(&mut self, tx: PendingTx) -> Option<PendingTx> {
        // Apply any tip that came meanwhile first: simulate on the newest verified state.
        while let Ok(t) = self.tips.try_recv() {
            self.apply_tip(t);
        }
        if self.seen.contains(&tx.hash) {
            return None;
        }
        let events = self.pool.insert(tx.clone())?;
        self.remember(tx.hash);
        self.seen_at.entry(tx.hash).or_insert_with(std::time::Instant::now);
        let replaced: Vec<B256> = events
            .iter()
            .filter_map(|e| match e {
                PoolEvent::Replaced { old, .. } => Some(*old),
                PoolEvent::Added(..) => None,
            })
            .collect();
        if !replaced.is_empty() {
            for d in &mut self.detectors {
                d.gone(&replaced);
            }
        }
        self.metrics.pending_seen.with_label_values(&[&self.chain]).inc();
        Some(tx)
    }

    /// Simulates `tx` on the current verified tip (when there is one and a detector needs it).
    fn simulate(&self, tx: PendingTx, at: Instant) -> impl std::future::Future<Output = Simulated> {
        let parent = self.tip.clone();
        let sim = self.sim.clone().filter(|_| parent.is_some());
        let needs = self.needs.clone();
        let timeout = Duration::from_millis(self.cfg.sim_timeout_ms.max(1));
        async move {
            let result = match sim {
                Some(sim) => Some(tokio::time::timeout(timeout, sim.simulate(&tx, &needs)).await),
                None => None,
            };
            Simulated { tx, at, parent: parent.unwrap_or_default(), result }
        }
    }

    /// The node answered a simulation's state request with data that contradicts the verified
    /// state root: it lied (or serves another chain). Nothing it said was used; the pending
    /// transaction was judged without a simulation.
    fn lie_finding(
        &self,
        tx: &PendingTx,
        number: u64,
        reason: &str,
    ) -> palisade_primitives::Finding {
        let url = self.rpc.url().to_string();
        palisade_primitives::Finding::new(
            crate::sources::INTEGRITY,
            crate::sources::INTEGRITY,
            &self.chain,
            palisade_primitives::BlockRef::synthetic(number),
            &format!("simulation-state:{url}:{number}"),
            palisade_primitives::Severity::Critical,
            format!(
                "Endpoint {url} served state for block {number} that does not match its verified state root; pending transactions are judged without simulation until it does"
            ),
        )
        .with_txs([tx.hash])
        .with_evidence(serde_json::json!({"check": "simulation_state", "endpoint": url,
            "state_block": number, "reason": reason, "pending_tx": tx.hash}))
        .with_endpoint(&url)
    }

    async fn judge(&mut self, done: Simulated) -> Result<()> {
        let Simulated { tx, at, parent, result } = done;
        let tx = &tx;
        let mut extra = Vec::new();
        let outcome = match result {
            Some(r) => {
                let label = match &r {
                    Ok(Ok(o)) if o.sim.success => "ok",
                    Ok(Ok(_)) => "reverted",
                    Ok(Err(_)) => "error",
                    Err(_) => "timeout",
                };
                self.metrics.pending_simulated.with_label_values(&[&self.chain, label]).inc();
                match r {
                    Ok(Ok(o)) => Some(o),
                    Ok(Err(e)) => {
                        tracing::warn!(target: "palisade::mempool", chain = %self.chain, tx = %tx.hash, error = %e, "Simulation failed.");
                        self.stats.last_error = Some(format!("{}: {e}", tx.hash));
                        if let palisade_sim::SimError::Lie { number, reason } = &e {
                            if self.lie_reported != Some(*number) {
                                self.lie_reported = Some(*number);
                                extra.push(self.lie_finding(tx, *number, reason));
                            }
                        }
                        None
                    }
                    Err(_) => {
                        tracing::warn!(target: "palisade::mempool", chain = %self.chain, tx = %tx.hash, "Simulation timed out.");
                        None
                    }
                }
            }
            None => None,
        };
        let block = would_be_block(
            &parent,
            tx,
            outcome.as_ref().map(|o| (&o.sim, o.logs.clone(), o.frame.clone())),
        );
        self.seq += 1;
        let p = Pending { tx, block: &block, sim: outcome.as_ref().map(|o| &o.sim), seq: self.seq };
        let mut out = Findings::new();
        for d in &mut self.detectors {
            d.pending(&p, &mut out);
        }
        let mut findings = out.take().0;
        findings.extend(extra);
        self.stats.judged += 1;
        self.stats.findings += findings.len() as u64;
        if !findings.is_empty() {
            for f in &findings {
                self.metrics.findings.with_label_values(&[&self.chain, &f.detector]).inc();
                tracing::warn!(target: "palisade::mempool", chain = %self.chain, detector = %f.detector,
                    severity = ?f.severity, "{}", f.title);
            }
            // Stored at once (no block will confirm them), retried, then delivered and
            // handed to the responders; a store that stays down stops the process rather than
            // losing the finding.
            let base_fee = parent.base_fee_per_gas.unwrap_or_default();
            self.persist.findings(findings, None, base_fee).await?;
        }
        self.metrics
            .pending_verdict_seconds
            .with_label_values(&[&self.chain])
            .observe(at.elapsed().as_secs_f64());
        self.publish();
        Ok(())
    }
}
