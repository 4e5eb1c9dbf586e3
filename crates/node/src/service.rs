//! The live chain service: follows a chain's heads, fetches and links blocks (backfilling gaps
//! and walking reorgs back to their fork point), drives the engine and stores each event's
//! effects atomically through [`Persist`].

use crate::config::{ChainConfig, ChainSettings};
use crate::engine::ChainEngine;
use crate::error::{NodeError, Result};
use crate::metrics::Metrics;
use crate::persist::Persist;
use crate::sources::evm::Sources;
use crate::sources::ChainSource;
use crate::status::ChainStatus;
use eyre::{eyre, WrapErr};
use palisade_chain::Outcome;
use palisade_detect::DetectorConfig;
use palisade_primitives::{
    BlockData, BlockRef, ChainEvent, Finding, RecordedBlock, Severity, B256,
};
use palisade_source::evm_rpc::HeadSeen;
use palisade_store::Batch;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Largest number of blocks fetched by number in one backfill step.
const BACKFILL_CHUNK: u64 = 32;

/// One chain's live service.
#[derive(Debug)]
pub struct ChainService<S: ChainSource = Sources> {
    cfg: ChainSettings,
    engine: ChainEngine,
    sources: S,
    persist: Persist,
    metrics: Metrics,
    status: Arc<Mutex<BTreeMap<String, ChainStatus>>>,
    stall_after: Option<Duration>,
    stall_reported: Option<B256>,
    last_block_at: Instant,
    /// When the catch-up under way began (the poll that heard of the head it follows).
    heard_at: Instant,
    lines: HashMap<B256, String>,
    /// Where to start when the window is empty after reverting a dead fork on restart.
    resume_from: Option<u64>,
    /// A start block ahead of the head that the service is waiting for (said once).
    waiting_for: Option<u64>,
    /// The mempool watch of this chain, told each new verified tip.
    tips: Option<tokio::sync::mpsc::Sender<crate::mempool::TipInfo>>,
    /// Quarantine requests from responders.
    control: Option<Arc<crate::respond::Control>>,
    /// Told each stored event (the cluster's verified-chain stream).
    feed: Option<tokio::sync::mpsc::Sender<ChainNote>>,
}

/// A stored chain event, as published on the verified-chain stream: the blocks reverted (newest
/// first) and committed (oldest first, with their recorded lines), and where they went in the
/// block log.
#[derive(Debug, Clone)]
pub(crate) struct ChainNote {
    /// Chain name.
    pub(crate) chain: String,
    /// Block-log sequence of the first reverted or committed block.
    pub(crate) first_seq: i64,
    /// Reverted blocks, newest first.
    pub(crate) reverted: Vec<BlockRef>,
    /// Committed blocks, oldest first, with their lines.
    pub(crate) committed: Vec<(BlockRef, String)>,
}

impl ChainService<Sources> {
    /// An EVM chain: connects, checks the chain id, restores the stored state and, when the
    /// stored head is no longer canonical, reverts to the fork point.
    #[allow(clippy::too_many_arguments)]
    pub async fn start(
        cfg: ChainConfig,
        detectors: &[DetectorConfig],
        links: &palisade_detect::Links,
        persist: Persist,
        metrics: Metrics,
        status: Arc<Mutex<BTreeMap<String, ChainStatus>>>,
    ) -> Result<Self> {
        let dets = crate::config::build_detectors(detectors, &cfg.name, links)
            .map_err(|e| NodeError::Config(format!("{e:#}")))?;
        // What the detectors and the settlement-risk index read at each block.
        let risk = palisade_risk::RiskIndex::new(&cfg.name, persist.risk().clone())
            .map_err(|e| NodeError::Config(format!("{e:#}")))?;
        let needs = dets.iter().fold(risk.needs(), |n, d| n.union(d.needs()));
        let sources = Sources::new(&cfg, needs, metrics.clone())
            .map_err(|e| NodeError::Config(format!("{e:#}")))?;
        Self::start_with((&cfg).into(), sources, dets, detectors, persist, metrics, status).await
    }
}

impl<S: ChainSource> ChainService<S> {
    /// Starts a chain on any source: connects it, restores the stored state and, when the
    /// stored head is no longer canonical, reverts to the fork point.
    #[allow(clippy::too_many_arguments)]
    pub async fn start_with(
        cfg: ChainSettings,
        mut sources: S,
        dets: Vec<Box<dyn palisade_detect::Detector>>,
        detectors: &[DetectorConfig],
        persist: Persist,
        metrics: Metrics,
        status: Arc<Mutex<BTreeMap<String, ChainStatus>>>,
    ) -> Result<Self> {
        let stall_after = detectors.iter().find_map(|d| match d {
            DetectorConfig::ChainHealth(c) if c.chain.as_deref().is_none_or(|x| x == cfg.name) => {
                Some(Duration::from_secs(c.stall_after_secs))
            }
            _ => None,
        });
        let ids: Vec<String> = dets.iter().map(|d| d.id().to_string()).collect();
        metrics.init_chain(&cfg.name, &ids);
        let mut engine = ChainEngine::new(&cfg.name, dets, cfg.max_reorg_depth, false)
            .with_risk(persist.risk().clone())
            .map_err(|e| NodeError::Config(format!("{e:#}")))?;
        sources.start().await.wrap_err_with(|| format!("chain {}", cfg.name))?;
        let st = persist.store().load_chain(&cfg.name).await.map_err(NodeError::Store)?;
        let mut blocks = Vec::new();
        for (n, _, line) in &st.blocks {
            let rec = RecordedBlock::from_json_line(line)
                .wrap_err_with(|| format!("stored block {n}"))?;
            let b = BlockData::from_recorded(rec).wrap_err_with(|| format!("stored block {n}"))?;
            blocks.push(Arc::new(b));
        }
        for b in &blocks {
            sources.learn(b);
        }
        engine.restore(blocks, &st.checkpoints)?;
        let mut svc = Self {
            cfg,
            engine,
            sources,
            persist,
            metrics,
            status,
            stall_after,
            stall_reported: None,
            last_block_at: Instant::now(),
            heard_at: Instant::now(),
            lines: HashMap::new(),
            resume_from: None,
            waiting_for: None,
            tips: None,
            control: None,
            feed: None,
        };
        svc.flush_source_findings().await?;
        svc.check_canonical().await?;
        Ok(svc)
    }

    fn name(&self) -> &str {
        &self.cfg.name
    }

    /// Tells `tips` (a mempool watch) each new verified tip.
    pub fn with_tips(mut self, tips: tokio::sync::mpsc::Sender<crate::mempool::TipInfo>) -> Self {
        // The tip restored from the store (verified when it was fetched): simulations can start
        // before the next block.
        let tracker = self.engine.tracker();
        if let Some(b) = tracker.tip().and_then(|t| tracker.get(t.number)) {
            let _ =
                tips.try_send(crate::mempool::TipInfo { header: b.header.clone(), mined: vec![] });
        }
        self.tips = Some(tips);
        self
    }

    /// Tells `feed` each stored event (first the stored window, as commits).
    pub(crate) async fn with_feed(
        mut self,
        feed: tokio::sync::mpsc::Sender<ChainNote>,
    ) -> Result<Self> {
        let window =
            self.persist.store().window_log(self.name()).await.map_err(NodeError::Store)?;
        for (seq, number, hash, line) in window {
            let hash: B256 = hash.parse().map_err(|e| eyre!("stored hash {hash}: {e}"))?;
            let note = ChainNote {
                chain: self.name().to_string(),
                first_seq: seq,
                reverted: vec![],
                committed: vec![(BlockRef::new(number, hash), line)],
            };
            let _ = feed.send(note).await;
        }
        self.feed = Some(feed);
        Ok(self)
    }

    /// Applies `control`'s quarantine requests (from responders) to this chain's endpoints.
    pub fn with_control(mut self, control: Arc<crate::respond::Control>) -> Self {
        self.control = Some(control);
        self
    }

    /// On restart: keep the stored blocks that are still canonical, revert the rest.
    async fn check_canonical(&mut self) -> Result<()> {
        let stored: Vec<BlockRef> = self.engine.tracker().blocks().map(|b| b.block_ref()).collect();
        let Some(tip) = stored.last().copied() else { return Ok(()) };
        let mut keep = None;
        for r in stored.iter().rev() {
            let h = self.sources.agreed_hash_at(r.number).await?;
            if h == Some(r.hash) {
                keep = Some(r.number);
                break;
            }
        }
        match keep {
            Some(n) if n == tip.number => {
                tracing::info!(target: "palisade::node", chain = %self.name(), tip = tip.number, "Resuming from the stored head.");
            }
            Some(n) => {
                tracing::warn!(target: "palisade::node", chain = %self.name(), from = tip.number, to = n, "Stored head is no longer canonical; reverting to the fork point.");
                if let Some(ev) = self.engine.revert_above(n) {
                    self.handle(ev).await?;
                }
            }
            None => {
                let lowest = stored[0].number;
                tracing::error!(target: "palisade::node", chain = %self.name(), "No stored block is canonical any more; reverting all of them.");
                self.revert_window(lowest).await?;
                let fork_point = self.revert_below_window(lowest).await?;
                self.deep_reorg_finding(stored[0], lowest, fork_point).await?;
                self.resume_from = Some(fork_point + 1);
            }
        }
        Ok(())
    }

    /// Fetches the block with `hash`, verified (see [`Sources::fetch_block`]), and stores any
    /// findings about the endpoints on the way.
    async fn fetch_hash(&mut self, hash: B256) -> Result<Arc<BlockData>> {
        let r = self.sources.fetch_block(hash).await;
        self.flush_source_findings().await?;
        self.decode(r?)
    }

    /// Stores the findings about endpoints. Delivered at once: they are about the monitor's
    /// sources, not about a block that gathers confirmations.
    async fn flush_source_findings(&mut self) -> Result<()> {
        let findings = self.sources.take_findings();
        if findings.is_empty() {
            return Ok(());
        }
        for f in &findings {
            self.metrics.findings.with_label_values(&[self.name(), &f.detector]).inc();
        }
        self.persist.findings(findings, None, 0).await?;
        Ok(())
    }

    /// Walks down by parent hash from `top` (an agreed hash) to block `lower`, or until a block
    /// whose parent the tracker holds: every block is bound to the vote on `top`.
    async fn fetch_branch(&mut self, top: B256, lower: u64) -> Result<Vec<Arc<BlockData>>> {
        let mut out = Vec::new();
        let mut next = top;
        loop {
            let b = self.fetch_hash(next).await?;
            let n = b.header.number;
            let parent = b.header.parent_hash;
            out.push(b);
            let known = parent
                .is_some_and(|p| self.engine.tracker().blocks().any(|x| x.header.hash == Some(p)));
            match parent {
                Some(p) if n > lower && n > 0 && !known => next = p,
                _ => break,
            }
        }
        out.reverse();
        Ok(out)
    }

    fn decode(&mut self, rec: RecordedBlock) -> Result<Arc<BlockData>> {
        let line = rec.to_json_line();
        let b = BlockData::from_recorded(rec).map_err(eyre::Report::new)?;
        if let Some(h) = b.header.hash {
            self.lines.insert(h, line);
        }
        Ok(Arc::new(b))
    }

    /// Brings the processed chain up to the head a quorum agrees on: backfills gaps in chunks
    /// (each bound to a vote at its top) and follows reorgs.
    pub async fn catch_up(&mut self) -> Result<()> {
        self.heard_at = Instant::now();
        let head = self.sources.agreed_head(Instant::now()).await;
        self.flush_source_findings().await?;
        let Some(head) = head? else { return Ok(()) };
        self.metrics.head.with_label_values(&[self.name()]).set(head.number as i64);
        // A catch-up of more than one chunk is said at -v: where it starts, its progress every
        // few seconds, and its end with the rate.
        let from = self
            .engine
            .tracker()
            .tip()
            .map(|t| t.number + 1)
            .or(self.resume_from.or(self.cfg.start_block));
        let behind = from.map_or(0, |f| (head.number + 1).saturating_sub(f));
        let catching = behind > BACKFILL_CHUNK;
        let started = Instant::now();
        let mut said = Instant::now();
        if catching {
            tracing::info!(target: "palisade::node", chain = %self.name(), from = from.unwrap_or_default(), head = head.number, blocks = behind, "Catching up.");
        }
        for _ in 0..1_000_000 {
            if self.engine.tracker().blocks().any(|b| b.header.hash == Some(head.hash)) {
                break;
            }
            let (top, lower) = match self.engine.tracker().tip() {
                None => {
                    let start = self.resume_from.or(self.cfg.start_block).unwrap_or(head.number);
                    if start > head.number {
                        // A start block ahead of the chain: wait for it, and say so once.
                        if self.waiting_for != Some(start) {
                            self.waiting_for = Some(start);
                            tracing::warn!(target: "palisade::node", chain = %self.name(), start_block = start, head = head.number, "The start block is ahead of the chain's head; waiting for the chain to reach it.");
                        }
                        return Ok(());
                    }
                    self.resume_from = None;
                    (self.checkpoint_hash(start + BACKFILL_CHUNK - 1, head).await?, start)
                }
                Some(t) => {
                    (self.checkpoint_hash(t.number + BACKFILL_CHUNK, head).await?, t.number + 1)
                }
            };
            let branch = self.fetch_branch(top, lower).await?;
            self.offer(branch).await?;
            if catching && said.elapsed() >= Duration::from_secs(5) {
                said = Instant::now();
                let at = self.engine.tracker().tip().map_or(0, |t| t.number);
                tracing::info!(target: "palisade::node", chain = %self.name(), at, head = head.number, left = head.number.saturating_sub(at), "Catching up.");
            }
            if let Some(t) = self.engine.tracker().tip() {
                if t.hash == head.hash {
                    self.sources.probation_checks(t).await;
                    self.flush_source_findings().await?;
                }
            }
        }
        if catching {
            let secs = started.elapsed().as_secs_f64();
            tracing::info!(target: "palisade::node", chain = %self.name(), head = head.number, blocks = behind, secs = format!("{secs:.1}"), blocks_per_sec = format!("{:.0}", behind as f64 / secs.max(1e-3)), "Caught up.");
        }
        if let Some(t) = self.engine.tracker().tip() {
            self.metrics
                .lag
                .with_label_values(&[self.name()])
                .set(head.number as i64 - t.number as i64);
        }
        Ok(())
    }

    /// The hash to walk down from: the agreed head when `n` is at or above it, else the hash a
    /// quorum agrees on at `n` (a backfill checkpoint).
    async fn checkpoint_hash(&mut self, n: u64, head: HeadSeen) -> Result<B256> {
        if n >= head.number {
            return Ok(head.hash);
        }
        let h = self.sources.agreed_hash_at(n).await;
        self.flush_source_findings().await?;
        Ok(h?.ok_or_else(|| eyre!("no quorum on the hash of block {n}; retrying"))?)
    }

    async fn offer(&mut self, mut branch: Vec<Arc<BlockData>>) -> Result<()> {
        loop {
            match self.engine.connect(branch.clone())? {
                Outcome::Event(ev) => return self.handle(ev).await,
                Outcome::Known | Outcome::Gap { .. } => return Ok(()),
                Outcome::NeedParent { hash, .. } => {
                    if branch.len() as u64 > self.cfg.max_reorg_depth + 1 {
                        return self.too_deep(branch).await;
                    }
                    let p = self.fetch_hash(hash).await?;
                    branch.insert(0, p);
                }
                Outcome::TooDeep { .. } => return self.too_deep(branch).await,
            }
        }
    }

    /// Walks down from below the window until the block Palisade logged is canonical again,
    /// records the blocks in between as reverted and retracts their alerts. Returns the fork
    /// point.
    async fn revert_below_window(&mut self, lowest: u64) -> Result<u64> {
        let mut below = Vec::new();
        let mut n = lowest;
        while n > 0 && below.len() < 100_000 {
            n -= 1;
            let logged = self.persist.store().logged_hash_at(self.name(), n).await;
            let Some(ours) = logged.map_err(NodeError::Store)? else { break };
            let canon = self.sources.agreed_hash_at(n).await?.map(|h| format!("{h:#x}"));
            if canon.as_deref() == Some(ours.as_str()) {
                break;
            }
            let hash: B256 =
                ours.parse().map_err(|e| eyre!("block log holds a bad hash {ours}: {e}"))?;
            below.push(BlockRef::new(n, hash));
        }
        let fork_point =
            below.last().map_or(lowest.saturating_sub(1), |b| b.number.saturating_sub(1));
        if !below.is_empty() {
            let batch =
                Batch { reverted: below.clone(), retracted: below.clone(), ..Default::default() };
            self.persist.save(batch, 0).await?;
            self.metrics.reverted.with_label_values(&[self.name()]).inc_by(below.len() as u64);
        }
        Ok(fork_point)
    }

    /// Reverts every block of the window (detectors undo them exactly) and empties it.
    async fn revert_window(&mut self, lowest: u64) -> Result<()> {
        if let Some(ev) = self.engine.revert_above(lowest.saturating_sub(1)) {
            self.handle(ev).await?;
        }
        if self.engine.tracker().tip().is_some() {
            // Block 0 cannot be reverted below; start over.
            self.engine.restore(Vec::new(), &[])?;
        }
        Ok(())
    }

    /// A reorg whose fork point is below the window: revert the window exactly, record the
    /// blocks below it that left the chain (their alerts are retracted; the detectors' undo data
    /// for them is gone, which the alert says), then follow the new fork from the fork point.
    async fn too_deep(&mut self, branch: Vec<Arc<BlockData>>) -> Result<()> {
        let first = branch[0].block_ref();
        let lowest = self.engine.tracker().lowest().map(|l| l.number).unwrap_or(first.number);
        self.revert_window(lowest).await?;
        let fork_point = self.revert_below_window(lowest).await?;
        self.deep_reorg_finding(first, lowest, fork_point).await?;
        let mut full = match branch[0].header.parent_hash {
            Some(p) if first.number > fork_point + 1 => {
                self.fetch_branch(p, fork_point + 1).await?
            }
            _ => Vec::new(),
        };
        full.extend(branch.iter().cloned());
        if palisade_primitives::ChainSegment::new(full.clone()).is_err() {
            // The chain moved again while fetching: start from the branch; the next head fixes up.
            full = branch;
        }
        match self.engine.connect(full)? {
            Outcome::Event(ev) => self.handle(ev).await,
            _ => Ok(()),
        }
    }

    async fn deep_reorg_finding(
        &mut self,
        at: BlockRef,
        lowest: u64,
        fork_point: u64,
    ) -> Result<()> {
        let f = Finding::new(
            "chain_health",
            "chain_health",
            self.name(),
            at,
            "deep_reorg",
            Severity::Critical,
            format!(
                "Reorg deeper than max_reorg_depth ({}): fork point at block {fork_point}, below the {} blocks held",
                self.cfg.max_reorg_depth,
                self.cfg.max_reorg_depth + 1
            ),
        )
        .with_evidence(serde_json::json!({"check": "deep_reorg", "max_reorg_depth": self.cfg.max_reorg_depth,
            "fork_point": fork_point, "lowest_block_held": lowest,
            "note": "alerts of every reverted block are retracted; detector state for the blocks below the window could not be undone exactly"}));
        self.store_findings(vec![f]).await
    }

    async fn store_findings(&mut self, findings: Vec<Finding>) -> Result<()> {
        let confirmed_upto = self.confirmed_upto();
        self.persist.findings(findings, confirmed_upto, 0).await.map(drop)
    }

    fn confirmed_upto(&self) -> Option<u64> {
        let tip = self.engine.tracker().tip()?.number;
        (self.cfg.confirmations > 0).then(|| tip.saturating_sub(self.cfg.confirmations))
    }

    async fn handle(&mut self, ev: ChainEvent) -> Result<()> {
        // The risk index counts the sources' standing as the runtime sees it now.
        let observed = {
            let st = self.status.lock().unwrap_or_else(|p| p.into_inner());
            st.get(self.name()).map(crate::risk::observed).unwrap_or_default()
        };
        self.engine.observe(observed);
        let applied = self.engine.apply(&ev)?;
        let chain = self.name().to_string();
        let reverted: Vec<BlockRef> = ev
            .reverted()
            .map(|s| s.blocks().iter().rev().map(|b| b.block_ref()).collect())
            .unwrap_or_default();
        let mut committed = Vec::new();
        if let Some(new) = ev.committed() {
            for b in new.blocks() {
                let r = b.block_ref();
                // Every committed block was fetched in this catch-up, with its line.
                let line = self
                    .lines
                    .remove(&r.hash)
                    .ok_or_else(|| eyre!("internal error: no recorded line for block {r}"))?;
                committed.push((r, line));
            }
        }
        if !reverted.is_empty() {
            self.metrics.reverted.with_label_values(&[&chain]).inc_by(reverted.len() as u64);
            if !committed.is_empty() {
                self.metrics.reorgs.with_label_values(&[&chain]).inc();
            }
            tracing::warn!(target: "palisade::chain", chain = %chain, depth = reverted.len(), "Reorg.");
        }
        for f in &applied.findings {
            self.metrics.findings.with_label_values(&[&chain, &f.detector]).inc();
        }
        self.metrics.blocks.with_label_values(&[&chain]).inc_by(committed.len() as u64);
        let note = self.feed.as_ref().map(|_| ChainNote {
            chain: chain.clone(),
            first_seq: 0,
            reverted: reverted.clone(),
            committed: committed.clone(),
        });
        let batch = Batch {
            reverted,
            committed,
            prune_below: self.engine.tracker().lowest().map(|l| l.number),
            checkpoints: self.engine.checkpoints(),
            findings: applied.findings,
            retracted: applied.retracted,
            confirmed_upto: self.confirmed_upto(),
            risk: applied.risk.iter().map(crate::risk::row).collect(),
            risk_retracted: applied.risk_retracted,
            ..Default::default()
        };
        for p in &applied.risk {
            crate::risk::gauge(&self.metrics, p);
        }
        let base_fee = ev
            .committed()
            .and_then(|n| n.blocks().last().and_then(|b| b.header.base_fee_per_gas))
            .unwrap_or_default();
        // Stored with its findings in one transaction (retried; a store that stays down stops
        // the process, and a restart resumes from the store), then delivered and answered.
        let found = !batch.findings.is_empty();
        let stored = self.persist.save(batch, base_fee).await?;
        if found {
            self.metrics
                .block_to_alert_seconds
                .with_label_values(&[&chain])
                .observe(self.heard_at.elapsed().as_secs_f64());
        }
        if let (Some(feed), Some(mut note)) = (&self.feed, note) {
            note.first_seq = stored.first_seq;
            if feed.try_send(note).is_err() {
                tracing::warn!(target: "palisade::node", chain = %chain, "The verified-chain stream is behind; an event was not published (it is stored).");
            }
        }
        if let (Some(tips), Some(new)) = (&self.tips, ev.committed()) {
            let mined = new
                .blocks()
                .iter()
                .flat_map(|b| b.transactions.iter())
                .filter_map(|t| Some((t.hash?, t.from?, t.nonce?)))
                .collect();
            if let Some(b) = new.blocks().last() {
                let tip = crate::mempool::TipInfo { header: b.header.clone(), mined };
                if tips.try_send(tip).is_err() {
                    tracing::warn!(target: "palisade::node", chain = %chain, "Mempool watch is behind; a tip was skipped.");
                }
            }
        }
        if let Some(t) = self.engine.tracker().tip() {
            self.metrics.tip.with_label_values(&[&chain]).set(t.number as i64);
            self.last_block_at = Instant::now();
            self.stall_reported = None;
            let mut st = self.status.lock().unwrap_or_else(|p| p.into_inner());
            let s = st.entry(chain).or_default();
            s.tip = Some(t.number);
            s.error = None;
        }
        Ok(())
    }

    async fn check_stall(&mut self) -> Result<()> {
        let (Some(after), Some(tip)) = (self.stall_after, self.engine.tracker().tip()) else {
            return Ok(());
        };
        let idle = self.last_block_at.elapsed();
        if idle >= after && self.stall_reported != Some(tip.hash) {
            self.stall_reported = Some(tip.hash);
            let f = Finding::new(
                "chain_health",
                "chain_health",
                self.name(),
                tip,
                "stall",
                Severity::High,
                format!("Chain {} stalled: no new block for {} s after block {}", self.name(), idle.as_secs(), tip.number),
            )
            .with_evidence(serde_json::json!({"check": "stall", "idle_secs": idle.as_secs(), "stall_after_secs": after.as_secs()}));
            self.store_findings(vec![f]).await?;
        }
        Ok(())
    }

    /// Follows heads until `shutdown`.
    pub async fn run(mut self, shutdown: CancellationToken) -> Result<()> {
        let mut heads = self.sources.heads(shutdown.clone());
        let mut tick = tokio::time::interval(Duration::from_millis(1000));
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                r = heads.changed() => {
                    if r.is_err() { return Ok(()) }
                }
                _ = tick.tick() => {
                    self.check_stall().await?;
                    if let Some(c) = self.control.clone() {
                        for (endpoint, why) in c.take(self.name()) {
                            if !self.sources.quarantine_endpoint(&endpoint, &why) {
                                tracing::warn!(target: "palisade::respond", chain = %self.name(), endpoint = %endpoint, "A responder asked to bench an endpoint this chain does not have.");
                            }
                        }
                    }
                }
            }
            let result = self.catch_up().await;
            if let Err(e) = result {
                // A store that stays down stops the process; a chain another process took
                // stops this service. Anything else is tried again on the next head.
                if e.is_fatal() || matches!(e, NodeError::Deposed { .. }) {
                    return Err(e);
                }
                self.metrics.source_errors.with_label_values(&[self.name()]).inc();
                tracing::warn!(target: "palisade::node", chain = %self.name(), error = %format!("{e:#}"), "Catching up failed; retrying.");
                let mut st = self.status.lock().unwrap_or_else(|p| p.into_inner());
                st.entry(self.name().to_string()).or_default().error = Some(format!("{e:#}"));
            }
            // Conditions found while assessing (before any block) are stored too.
            self.flush_source_findings().await?;
            let now = Instant::now();
            let endpoints = self.sources.status(now);
            let quorum = self.sources.quorum_status();
            let head = self.metrics.head.with_label_values(&[self.name()]).get();
            let mut st = self.status.lock().unwrap_or_else(|p| p.into_inner());
            let s = st.entry(self.name().to_string()).or_default();
            s.head = (head > 0).then_some(head as u64);
            s.active_endpoint = self.sources.content_from().unwrap_or(0);
            s.last_block_age_secs = Some(self.last_block_at.elapsed().as_secs());
            s.confirmed = s.tip.map(|t| t.saturating_sub(self.cfg.confirmations));
            // A stall scores on the clock between blocks: a provisional point for the tip.
            let now_secs = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            s.risk_stall = self
                .engine
                .risk()
                .stalled(now_secs)
                .filter(|p| p.component("liveness").is_some_and(|v| v > 0.0));
            if let Some(p) = &s.risk_stall {
                crate::risk::gauge(&self.metrics, p);
            }
            s.record_endpoint_changes(&endpoints);
            s.endpoints = endpoints;
            s.quorum = quorum;
        }
    }
}
