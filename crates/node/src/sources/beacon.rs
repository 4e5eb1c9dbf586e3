//! A beacon chain followed through the standard Beacon API, with every block checked before a
//! detector sees it: its SSZ root recomputed from what was served, and the sync committee's
//! aggregate signature it carries (over its parent) verified with the committees a light client
//! learnt from a trusted checkpoint, one verified handover at a time.
//!
//! Blocks travel through the chain engine numbered by their execution payload's block number
//! (contiguous after the merge: a missed slot makes no block), hashed by their root.

use crate::config::BeaconChainConfig;
use crate::sources::endpoints::Endpoints;
use crate::sources::ChainSource;
use crate::status::{EndpointStatus, QuorumStatus};
use eyre::{eyre, WrapErr};
use palisade_consensus::beacon::light_client::LightClient;
use palisade_consensus::beacon::summary::{block_info, header_json};
use palisade_consensus::beacon::types::{
    LightClientBootstrap, LightClientUpdate, SignedBeaconBlock, Versioned,
};
use palisade_consensus::beacon::{period_of, Network, SLOTS_PER_EPOCH};
use palisade_primitives::consensus::{
    AttesterDuty, EpochInfo, FinalityInfo, StakeInfo, ValidatorInfo,
};
use palisade_primitives::{BlockData, BlockRef, Finding, RecordedBlock, B256};
use palisade_source::beacon_api::BeaconClient;
use palisade_source::evm_rpc::HeadSeen;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// The Beacon API sources of one beacon chain.
#[derive(Debug)]
pub struct BeaconSources {
    cfg: BeaconChainConfig,
    network: Network,
    clients: Vec<BeaconClient>,
    endpoints: Endpoints,
    lc: Option<LightClient>,
    findings: Vec<Finding>,
    /// Blocks fetched lately, by root.
    cache: HashMap<B256, SignedBeaconBlock>,
    /// Execution number -> (slot, root) of blocks seen.
    by_number: BTreeMap<u64, (u64, B256)>,
    /// Root -> slot of blocks seen.
    slots: HashMap<B256, u64>,
}

impl BeaconSources {
    /// Sources for `cfg`'s endpoints.
    pub fn new(cfg: &BeaconChainConfig) -> eyre::Result<Self> {
        if cfg.endpoints.is_empty() {
            return Err(eyre!("beacon chain {}: no endpoints", cfg.name));
        }
        let t = Duration::from_millis(cfg.timeout_ms);
        let clients = cfg
            .endpoints
            .iter()
            .map(|e| BeaconClient::new(&e.url, t))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            network: cfg.network()?,
            endpoints: Endpoints::new(
                &cfg.name,
                clients.iter().map(|c| c.url().to_string()).collect(),
            ),
            clients,
            cfg: cfg.clone(),
            lc: None,
            findings: Vec::new(),
            cache: HashMap::new(),
            by_number: BTreeMap::new(),
            slots: HashMap::new(),
        })
    }

    fn name(&self) -> &str {
        &self.cfg.name
    }

    /// A finding against endpoint `i` about data that did not verify; the endpoint is benched.
    fn integrity(&mut self, i: usize, at: BlockRef, what: &str, detail: String) {
        let f = self.endpoints.strike(i, at, what, detail);
        self.findings.push(f);
    }

    /// Runs `f` on the active endpoint, then on the others in turn, until one answers.
    async fn any<T, F, Fut>(&mut self, what: &str, mut f: F) -> eyre::Result<T>
    where
        F: FnMut(BeaconClient) -> Fut,
        Fut: std::future::Future<Output = eyre::Result<T>>,
    {
        let mut last = None;
        for i in self.endpoints.order() {
            match f(self.clients[i].clone()).await {
                Ok(v) => {
                    self.endpoints.ok(i);
                    return Ok(v);
                }
                Err(e) => {
                    self.endpoints.failed(i, &format!("{e:#}"));
                    last = Some(e);
                }
            }
        }
        Err(last.unwrap_or_else(|| eyre!("no endpoint")).wrap_err(what.to_string()))
    }

    /// Brings the light client to the sync-committee period of `slot` with verified updates.
    async fn committee_for(&mut self, slot: u64) -> eyre::Result<()> {
        let want = period_of(slot);
        for _ in 0..64 {
            let Some(lc) = &self.lc else {
                return Err(eyre!("the light client is not bootstrapped"));
            };
            let have = lc.period();
            if want == have || (want == have + 1 && lc.knows_next()) {
                return Ok(());
            }
            if want < have {
                return Err(eyre!(
                    "slot {slot} is in period {want}, before the light client's period {have}"
                ));
            }
            let start = if lc.knows_next() { have + 1 } else { have };
            let count = (want - start + 1).min(16);
            let v = self
                .any("light-client updates", |c| async move {
                    c.updates(start, count).await?.ok_or_else(|| eyre!("no updates served"))
                })
                .await?;
            let updates: Vec<Versioned<LightClientUpdate>> =
                serde_json::from_value(v).wrap_err("light-client updates")?;
            if updates.is_empty() {
                return Err(eyre!("no light-client update for period {start}"));
            }
            let mut progressed = false;
            for u in updates {
                let before = self.lc.as_ref().map(|l| (l.period(), l.knows_next()));
                let lc = self.lc.as_mut().ok_or_else(|| eyre!("no light client"))?;
                if let Err(e) = lc.apply(&u.data) {
                    let at = BlockRef::maybe(
                        u.data.attested_header.beacon.slot,
                        Some(u.data.attested_header.beacon.root()),
                    );
                    let i = self.endpoints.active();
                    self.integrity(i, at, "light_client_update", e.to_string());
                    return Err(eyre!(e));
                }
                progressed |= before != self.lc.as_ref().map(|l| (l.period(), l.knows_next()));
            }
            if !progressed {
                return Err(eyre!("light-client updates did not advance past period {start}"));
            }
        }
        Err(eyre!("too many light-client steps"))
    }

    async fn get_block(&mut self, root: B256) -> eyre::Result<Option<SignedBeaconBlock>> {
        if let Some(b) = self.cache.get(&root) {
            return Ok(Some(b.clone()));
        }
        let id = format!("{root:#x}");
        let v = self
            .any("beacon block", |c| {
                let id = id.clone();
                async move { Ok(c.block(&id).await?) }
            })
            .await?;
        let Some(v) = v else { return Ok(None) };
        let b: Versioned<SignedBeaconBlock> =
            serde_json::from_value(v).wrap_err_with(|| format!("block {root}"))?;
        let b = b.data;
        let got = b.message.root();
        if got != root {
            let at = BlockRef::maybe(b.message.slot, Some(root));
            let i = self.endpoints.active();
            self.integrity(
                i,
                at,
                "block_root",
                format!("asked for block {root}, the body served hashes to {got}"),
            );
            return Err(eyre!("block {root}: served content hashes to {got}"));
        }
        if self.cache.len() > 256 {
            self.cache.clear();
        }
        self.cache.insert(root, b.clone());
        self.slots.insert(root, b.message.slot);
        if let Some(p) = &b.message.body.execution_payload {
            self.by_number.insert(p.block_number, (b.message.slot, root));
            while self.by_number.len() > 100_000 {
                self.by_number.pop_first();
            }
        }
        Ok(Some(b))
    }

    async fn slot_of(&mut self, root: B256) -> eyre::Result<Option<u64>> {
        if let Some(s) = self.slots.get(&root) {
            return Ok(Some(*s));
        }
        let id = format!("{root:#x}");
        let h = self
            .any("header", |c| {
                let id = id.clone();
                async move { Ok(c.header(&id).await?) }
            })
            .await?;
        let slot = h
            .as_ref()
            .and_then(|h| h["header"]["message"]["slot"].as_str())
            .and_then(|s| s.parse().ok());
        if let Some(s) = slot {
            self.slots.insert(root, s);
        }
        Ok(slot)
    }

    /// What the epoch of `b` brings: finality, proposers, watched validators' duties and state,
    /// and the stake by withdrawal credentials when due. Parts an endpoint does not serve are
    /// left out.
    async fn epoch_info(&mut self, b: &SignedBeaconBlock) -> (Option<FinalityInfo>, EpochInfo) {
        let epoch = b.message.slot / SLOTS_PER_EPOCH;
        let state = format!("{:#x}", b.message.state_root);
        let mut info = EpochInfo { epoch, ..Default::default() };
        let finality = match self
            .any("finality", |c| {
                let s = state.clone();
                async move { Ok(c.finality(&s).await?) }
            })
            .await
        {
            Ok(Some(f)) => (|| {
                let q = |v: &Value| v.as_str().and_then(|s| s.parse::<u64>().ok());
                Some(FinalityInfo {
                    finalized_epoch: q(&f["finalized"]["epoch"])?,
                    finalized_root: f["finalized"]["root"].as_str()?.parse().ok()?,
                    justified_epoch: q(&f["current_justified"]["epoch"])?,
                    previous_justified_epoch: q(&f["previous_justified"]["epoch"])?,
                })
            })(),
            _ => None,
        };
        if let Ok(Some(Value::Array(d))) = self
            .any("proposer duties", |c| async move { Ok(c.proposer_duties(epoch).await?) })
            .await
        {
            info.proposers = d
                .iter()
                .filter_map(|x| {
                    Some((
                        x["slot"].as_str()?.parse().ok()?,
                        x["validator_index"].as_str()?.parse().ok()?,
                    ))
                })
                .collect();
        }
        let watched = self.cfg.watched_validators.clone();
        if !watched.is_empty() {
            let w = watched.clone();
            if let Ok(Some(Value::Array(d))) = self
                .any("attester duties", |c| {
                    let w = w.clone();
                    async move { Ok(c.attester_duties(epoch, &w).await?) }
                })
                .await
            {
                info.attester_duties = d
                    .iter()
                    .filter_map(|x| {
                        let q = |k: &str| x[k].as_str().and_then(|s| s.parse::<u64>().ok());
                        Some(AttesterDuty {
                            validator: q("validator_index")?,
                            slot: q("slot")?,
                            committee_index: q("committee_index")?,
                            position: q("validator_committee_index")?,
                        })
                    })
                    .collect();
            }
            let w = watched.clone();
            if let Ok(Some(Value::Array(d))) = self
                .any("sync duties", |c| {
                    let w = w.clone();
                    async move { Ok(c.sync_duties(epoch, &w).await?) }
                })
                .await
            {
                info.sync_duties = d
                    .iter()
                    .filter_map(|x| {
                        let v = x["validator_index"].as_str()?.parse().ok()?;
                        let pos = x["validator_sync_committee_indices"]
                            .as_array()?
                            .iter()
                            .filter_map(|p| p.as_str()?.parse().ok())
                            .collect();
                        Some((v, pos))
                    })
                    .collect();
            }
            let (s, w) = (state.clone(), watched.clone());
            if let Ok(Some(Value::Array(d))) = self
                .any("validators", |c| {
                    let (s, w) = (s.clone(), w.clone());
                    async move { Ok(c.validators(&s, &w).await?) }
                })
                .await
            {
                info.validators = d.iter().filter_map(validator_info).collect();
            }
        }
        if self.cfg.stake_every_epochs > 0 && epoch.is_multiple_of(self.cfg.stake_every_epochs) {
            let s = state.clone();
            if let Ok(Some(Value::Array(d))) = self
                .any("validator set", |c| {
                    let s = s.clone();
                    async move { Ok(c.validators(&s, &[]).await?) }
                })
                .await
            {
                info.stake = Some(stake(&d));
            }
        }
        (finality, info)
    }
}

fn validator_info(x: &Value) -> Option<ValidatorInfo> {
    let q = |v: &Value| v.as_str().and_then(|s| s.parse::<u64>().ok());
    Some(ValidatorInfo {
        index: q(&x["index"])?,
        status: x["status"].as_str()?.to_string(),
        balance: q(&x["balance"])?,
        effective_balance: q(&x["validator"]["effective_balance"])?,
        slashed: x["validator"]["slashed"].as_bool().unwrap_or(false),
    })
}

/// Active stake by withdrawal credentials, largest first.
fn stake(vals: &[Value]) -> StakeInfo {
    let mut by: HashMap<B256, (u64, u64)> = HashMap::new();
    let (mut active, mut total) = (0u64, 0u64);
    for v in vals {
        if !v["status"].as_str().is_some_and(|s| s.starts_with("active")) {
            continue;
        }
        let Some(eb) =
            v["validator"]["effective_balance"].as_str().and_then(|s| s.parse::<u64>().ok())
        else {
            continue;
        };
        let Some(cred) =
            v["validator"]["withdrawal_credentials"].as_str().and_then(|s| s.parse::<B256>().ok())
        else {
            continue;
        };
        let e = by.entry(cred).or_default();
        e.0 += eb;
        e.1 += 1;
        active += 1;
        total += eb;
    }
    let mut by_credentials: Vec<(B256, u64, u64)> =
        by.into_iter().map(|(c, (g, n))| (c, g, n)).collect();
    by_credentials.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    StakeInfo { active, total_gwei: total, by_credentials }
}

impl ChainSource for BeaconSources {
    async fn start(&mut self) -> eyre::Result<()> {
        // The endpoints must serve this network.
        let want = self.network.genesis_validators_root;
        let g = self
            .any("genesis", |c| async move {
                c.request("/eth/v1/beacon/genesis", None).await?.ok_or_else(|| eyre!("no genesis"))
            })
            .await?;
        let got: Option<B256> =
            g["data"]["genesis_validators_root"].as_str().and_then(|s| s.parse().ok());
        if got != Some(want) {
            return Err(eyre!(
                "beacon chain {}: the endpoint's genesis validators root is {}, not {}'s {want}",
                self.name(),
                got.map(|g| g.to_string()).unwrap_or_else(|| "missing".into()),
                self.network.name
            ));
        }
        let checkpoint = match self.cfg.checkpoint {
            Some(c) => c,
            None if self.cfg.trust_node_checkpoint => {
                let h = self
                    .any("finalized header", |c| async move { c.header("finalized").await?.ok_or_else(|| eyre!("no finalized header")) })
                    .await?;
                let root = h["root"].as_str().and_then(|s| s.parse().ok()).ok_or_else(|| eyre!("finalized header without a root"))?;
                tracing::warn!(target: "palisade::source", chain = %self.cfg.name, %root, "No checkpoint configured: trusting the node's finalized checkpoint.");
                root
            }
            None => return Err(eyre!("beacon chain {}: set `checkpoint` (a trusted block root) or `trust_node_checkpoint = true`", self.name())),
        };
        let id = format!("{checkpoint:#x}");
        let v = self
            .any("light-client bootstrap", |c| {
                let id = id.clone();
                async move { c.bootstrap(&id).await?.ok_or_else(|| eyre!("no bootstrap for {id}")) }
            })
            .await?;
        let b: Versioned<LightClientBootstrap> =
            serde_json::from_value(v).wrap_err("light-client bootstrap")?;
        let lc =
            LightClient::bootstrap(self.network.clone(), checkpoint, &b.data).map_err(|e| {
                let i = self.endpoints.active();
                self.integrity(
                    i,
                    BlockRef::maybe(b.data.header.beacon.slot, Some(checkpoint)),
                    "light_client_bootstrap",
                    e.to_string(),
                );
                eyre!("beacon chain {}: {e}", self.cfg.name)
            })?;
        tracing::info!(target: "palisade::source", chain = %self.cfg.name, period = lc.period(), slot = b.data.header.beacon.slot, "Light client bootstrapped from the checkpoint.");
        self.lc = Some(lc);
        Ok(())
    }

    async fn agreed_head(&mut self, _now: Instant) -> eyre::Result<Option<HeadSeen>> {
        let h = self.any("head", |c| async move { Ok(c.header("head").await?) }).await?;
        let Some(h) = h else { return Ok(None) };
        let root: B256 = h["root"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| eyre!("head header without a root"))?;
        let Some(b) = self.get_block(root).await? else { return Ok(None) };
        let i = self.endpoints.active();
        self.endpoints.head(i, b.message.slot);
        let number =
            b.message.body.execution_payload.as_ref().map_or(b.message.slot, |p| p.block_number);
        Ok(Some(HeadSeen { number, hash: root }))
    }

    async fn agreed_hash_at(&mut self, number: u64) -> eyre::Result<Option<B256>> {
        let Some(&(slot, _)) = self.by_number.get(&number) else { return Ok(None) };
        let h = self
            .any("header by slot", |c| async move { Ok(c.header(&slot.to_string()).await?) })
            .await?;
        let Some(root) = h.and_then(|h| h["root"].as_str().and_then(|s| s.parse::<B256>().ok()))
        else {
            return Ok(None);
        };
        // The canonical block at that slot must be the one with that execution number.
        let b = self.get_block(root).await?;
        Ok(b.filter(|b| {
            b.message.body.execution_payload.as_ref().map(|p| p.block_number) == Some(number)
        })
        .map(|_| root))
    }

    async fn fetch_block(&mut self, hash: B256) -> eyre::Result<RecordedBlock> {
        let b =
            self.get_block(hash).await?.ok_or_else(|| eyre!("no endpoint serves block {hash}"))?;
        let parent_slot = self.slot_of(b.message.parent_root).await.ok().flatten();
        // The sync aggregate this block carries signs its parent's root.
        if let Some(agg) = b.message.body.sync_aggregate.clone() {
            if agg.sync_committee_bits.num_set_bits() > 0 {
                self.committee_for(b.message.slot).await?;
                let lc = self.lc.as_ref().ok_or_else(|| eyre!("no light client"))?;
                if let Err(e) =
                    lc.verify_sync_aggregate(b.message.parent_root, &agg, b.message.slot)
                {
                    let i = self.endpoints.active();
                    let at = BlockRef::maybe(b.message.slot, Some(hash));
                    self.integrity(
                        i,
                        at,
                        "sync_aggregate",
                        format!("{e} (over parent {})", b.message.parent_root),
                    );
                    self.cache.remove(&hash);
                    return Err(eyre!("block {hash}: {e}"));
                }
            }
        }
        let mut info = block_info(&b, parent_slot);
        let epoch = b.message.slot / SLOTS_PER_EPOCH;
        if parent_slot.is_none_or(|p| p / SLOTS_PER_EPOCH < epoch) {
            let (finality, e) = self.epoch_info(&b).await;
            info.finality = finality;
            info.epoch = Some(e);
        }
        Ok(RecordedBlock {
            prestate: serde_json::Value::Null,
            block: header_json(&b, &self.network),
            receipts: Value::Null,
            traces: Value::Null,
            call_traces: Value::Null,
            proofs: Value::Null,
            calls: Value::Null,
            code: Value::Null,
            beacon: serde_json::to_value(&info)?,
            comet: Value::Null,
        })
    }

    fn take_findings(&mut self) -> Vec<Finding> {
        std::mem::take(&mut self.findings)
    }

    fn heads(&self, shutdown: CancellationToken) -> watch::Receiver<u64> {
        let (tx, rx) = watch::channel(0u64);
        let tx = std::sync::Arc::new(tx);
        let poll = Duration::from_millis(self.cfg.poll_interval_ms);
        for c in self.clients.clone() {
            let (tx, shutdown) = (tx.clone(), shutdown.clone());
            tokio::spawn(async move {
                let mut backoff = Duration::from_millis(500);
                loop {
                    let (etx, mut erx) = tokio::sync::mpsc::channel(64);
                    let stream =
                        c.events(&["head", "block", "chain_reorg", "finalized_checkpoint"], &etx);
                    tokio::pin!(stream);
                    let mut tick = tokio::time::interval(poll);
                    let ended = loop {
                        tokio::select! {
                            () = shutdown.cancelled() => return,
                            r = &mut stream => break r,
                            Some(_) = erx.recv() => {
                                backoff = Duration::from_millis(500);
                                tx.send_modify(|n| *n += 1);
                            }
                            _ = tick.tick() => tx.send_modify(|n| *n += 1),
                        }
                    };
                    if let Err(e) = ended {
                        tracing::debug!(target: "palisade::source", error = %e, "Beacon event stream down; reconnecting.");
                    }
                    // Poll while the stream is down, then reconnect.
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        () = tokio::time::sleep(backoff) => {}
                    }
                    tx.send_modify(|n| *n += 1);
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                }
            });
        }
        rx
    }

    fn status(&self, now: Instant) -> Vec<EndpointStatus> {
        self.endpoints.status(now)
    }

    fn quorum_status(&self) -> QuorumStatus {
        self.endpoints.quorum_status()
    }

    fn content_from(&self) -> Option<usize> {
        Some(self.endpoints.active())
    }

    fn learn(&mut self, b: &BlockData) {
        if let Some(i) = &b.beacon {
            self.by_number.insert(b.header.number, (i.slot, i.root));
            self.slots.insert(i.root, i.slot);
        }
    }
}
