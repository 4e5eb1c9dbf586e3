//! A CometBFT chain followed through its RPC, with every block verified as a light client does:
//! from a trusted height and hash, each new block is verified by skipping verification (more
//! than a third of the trusted validators' power signed it; otherwise a block in between is
//! verified first), its commit by more than 2/3 of its own validators with Ed25519, and blocks
//! below a verified one by the hash chain. A block that does not verify is a finding against
//! the endpoint, which is benched.

use crate::config::CometChainConfig;
use crate::sources::endpoints::Endpoints;
use crate::sources::ChainSource;
use crate::status::{EndpointStatus, QuorumStatus};
use eyre::eyre;
use palisade_consensus::comet::{from_json, options, verify_commit, verify_step, StepVerdict};
use palisade_primitives::consensus::{CometInfo, EvidenceInfo};
use palisade_primitives::{BlockData, BlockRef, Finding, RecordedBlock, B256};
use palisade_source::comet_rpc::CometClient;
use palisade_source::evm_rpc::HeadSeen;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tendermint::block::signed_header::SignedHeader;
use tendermint::block::CommitSig;
use tendermint::validator;
use tendermint_light_client_verifier::types::{LightBlock, PeerId, Time};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// The RPC sources of one CometBFT chain.
#[derive(Debug)]
pub struct CometSources {
    cfg: CometChainConfig,
    clients: Vec<CometClient>,
    endpoints: Endpoints,
    findings: Vec<Finding>,
    /// The highest verified block.
    trusted: Option<LightBlock>,
    /// Heights whose hash is authenticated (verified, or named by a verified child).
    authentic: BTreeMap<u64, B256>,
}

fn hash_of(h: tendermint::Hash) -> B256 {
    B256::from_slice(h.as_bytes().get(..32).unwrap_or(&[0u8; 32]))
}

impl CometSources {
    /// Sources for `cfg`'s endpoints.
    pub fn new(cfg: &CometChainConfig) -> eyre::Result<Self> {
        if cfg.endpoints.is_empty() {
            return Err(eyre!("CometBFT chain {}: no endpoints", cfg.name));
        }
        let t = Duration::from_millis(cfg.timeout_ms);
        let clients = cfg
            .endpoints
            .iter()
            .map(|e| CometClient::new(&e.url, e.ws.as_deref(), t))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            endpoints: Endpoints::new(
                &cfg.name,
                clients.iter().map(|c| c.url().to_string()).collect(),
            ),
            clients,
            cfg: cfg.clone(),
            findings: Vec::new(),
            trusted: None,
            authentic: BTreeMap::new(),
        })
    }

    async fn any<T, F, Fut>(&mut self, what: &str, mut f: F) -> eyre::Result<(usize, T)>
    where
        F: FnMut(CometClient) -> Fut,
        Fut: std::future::Future<Output = eyre::Result<T>>,
    {
        let mut last = None;
        for i in self.endpoints.order() {
            match f(self.clients[i].clone()).await {
                Ok(v) => {
                    self.endpoints.ok(i);
                    return Ok((i, v));
                }
                Err(e) => {
                    self.endpoints.failed(i, &format!("{e:#}"));
                    last = Some(e);
                }
            }
        }
        Err(last.unwrap_or_else(|| eyre!("no endpoint")).wrap_err(what.to_string()))
    }

    /// The light block of `height` from endpoint `i` (signed header, validators of the height
    /// and of the next).
    async fn light_block_from(c: &CometClient, height: u64) -> eyre::Result<(LightBlock, Value)> {
        let commit = c.commit(height).await?;
        let sh: SignedHeader = from_json(&format!("commit {height}"), &commit["signed_header"])?;
        let vals = |v: Vec<Value>| -> eyre::Result<validator::Set> {
            let infos: Vec<validator::Info> =
                v.iter().map(|x| from_json("validator", x)).collect::<Result<_, _>>()?;
            Ok(validator::Set::without_proposer(infos))
        };
        let validators = vals(c.validators(height).await?)?;
        // The next set: announced by this height, served for the next one.
        let next = match c.validators(height + 1).await {
            Ok(v) => vals(v)?,
            Err(_) => validators.clone(),
        };
        let block = c.block(height).await?;
        Ok((LightBlock::new(sh, validators, next, PeerId::new([0u8; 20])), block))
    }

    async fn light_block(&mut self, height: u64) -> eyre::Result<(usize, LightBlock, Value)> {
        let (i, (lb, block)) = self
            .any("light block", |c| async move { Self::light_block_from(&c, height).await })
            .await?;
        Ok((i, lb, block))
    }

    fn strike(&mut self, i: usize, at: BlockRef, what: &str, detail: String) {
        let f = self.endpoints.strike(i, at, what, detail);
        self.findings.push(f);
    }

    /// Verifies `target` from the trusted block, bisecting when the trusted validators'
    /// overlap is too small, and moves the trust up.
    async fn verify_up_to(&mut self, target: LightBlock, from: usize) -> eyre::Result<()> {
        let opts =
            options(Duration::from_secs(self.cfg.trusting_period_secs), Duration::from_secs(10));
        let mut stack = vec![(from, target)];
        for _ in 0..256 {
            let Some((i, t)) = stack.last().cloned() else { return Ok(()) };
            let trusted = self.trusted.clone().ok_or_else(|| eyre!("no trusted block"))?;
            let now = Time::now();
            match verify_step(&trusted, &t, &opts, now) {
                (StepVerdict::Success, _) => {
                    self.authentic
                        .insert(t.height().value(), hash_of(t.signed_header.header.hash()));
                    if let Some(id) = t.signed_header.header.last_block_id {
                        self.authentic.insert(t.height().value() - 1, hash_of(id.hash));
                    }
                    self.trusted = Some(t);
                    stack.pop();
                }
                (StepVerdict::NotEnoughTrust, _) => {
                    let low = trusted.height().value();
                    let mid = low + (t.height().value() - low) / 2;
                    if mid == low {
                        return Err(eyre!("height {}: no height left to bisect at", t.height()));
                    }
                    let (j, m, _) = self.light_block(mid).await?;
                    stack.push((j, m));
                }
                (StepVerdict::Invalid, why) => {
                    let at = BlockRef::maybe(
                        t.height().value(),
                        Some(hash_of(t.signed_header.header.hash())),
                    );
                    self.strike(i, at, "light_block", why.clone());
                    return Err(eyre!("height {}: {why}", t.height()));
                }
            }
        }
        Err(eyre!("too many bisection steps"))
    }
}

fn info_of(lb: &LightBlock, block: &Value) -> CometInfo {
    let h = &lb.signed_header.header;
    let evidence = block
        .pointer("/block/evidence/evidence")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .map(|e| {
                    let t = e["type"].as_str().unwrap_or("");
                    let v = &e["value"];
                    let kind = if t.contains("DuplicateVote") {
                        "duplicate_vote"
                    } else if t.contains("LightClientAttack") {
                        "light_client_attack"
                    } else {
                        "other"
                    };
                    let height = v
                        .pointer("/vote_a/height")
                        .or(v.pointer("/conflicting_block/signed_header/header/height"))
                        .and_then(|x| x.as_str().and_then(|s| s.parse().ok()).or(x.as_u64()))
                        .unwrap_or(0);
                    EvidenceInfo {
                        kind: kind.into(),
                        validator: v
                            .pointer("/vote_a/validator_address")
                            .and_then(Value::as_str)
                            .map(str::to_string),
                        height,
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    CometInfo {
        chain_id: h.chain_id.to_string(),
        height: h.height.value(),
        proposer: h.proposer_address.to_string(),
        validators: lb
            .validators
            .validators()
            .iter()
            .map(|v| (v.address.to_string(), v.power()))
            .collect(),
        signatures: lb
            .signed_header
            .commit
            .signatures
            .iter()
            .filter_map(|s| match s {
                CommitSig::BlockIdFlagCommit { validator_address, .. } => {
                    Some((validator_address.to_string(), true))
                }
                CommitSig::BlockIdFlagNil { validator_address, .. } => {
                    Some((validator_address.to_string(), false))
                }
                CommitSig::BlockIdFlagAbsent => None,
            })
            .collect(),
        evidence,
        verified: true,
    }
}

impl ChainSource for CometSources {
    async fn start(&mut self) -> eyre::Result<()> {
        let (_, st) = self.any("status", |c| async move { Ok(c.status().await?) }).await?;
        let network = st.pointer("/node_info/network").and_then(Value::as_str).unwrap_or("");
        if network != self.cfg.chain_id {
            return Err(eyre!(
                "CometBFT chain {}: the endpoint serves chain {network:?}, not {:?}",
                self.cfg.name,
                self.cfg.chain_id
            ));
        }
        let h = self.cfg.trusted_height;
        let (i, lb, _) = self.light_block(h).await?;
        let got = hash_of(lb.signed_header.header.hash());
        if got != self.cfg.trusted_hash {
            let at = BlockRef::maybe(h, Some(got));
            self.strike(
                i,
                at,
                "trusted_block",
                format!("height {h} hashes to {got}, not the trusted {}", self.cfg.trusted_hash),
            );
            return Err(eyre!(
                "CometBFT chain {}: height {h} is {got}, not the trusted hash {}",
                self.cfg.name,
                self.cfg.trusted_hash
            ));
        }
        verify_commit(&lb).map_err(|e| eyre!("the trusted block does not verify: {e}"))?;
        self.authentic.insert(h, got);
        self.trusted = Some(lb);
        tracing::info!(target: "palisade::source", chain = %self.cfg.name, height = h, "CometBFT light client trusts its configured height.");
        Ok(())
    }

    async fn agreed_head(&mut self, _now: Instant) -> eyre::Result<Option<HeadSeen>> {
        let (i, st) = self.any("status", |c| async move { Ok(c.status().await?) }).await?;
        let q = |p: &str| st.pointer(p).cloned().unwrap_or(Value::Null);
        let number: u64 = q("/sync_info/latest_block_height")
            .as_str()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| eyre!("status without a height"))?;
        let hash: B256 = q("/sync_info/latest_block_hash")
            .as_str()
            .and_then(|s| format!("0x{}", s.trim_start_matches("0x")).parse().ok())
            .ok_or_else(|| eyre!("status without a hash"))?;
        self.endpoints.head(i, number);
        Ok(Some(HeadSeen { number, hash }))
    }

    async fn agreed_hash_at(&mut self, number: u64) -> eyre::Result<Option<B256>> {
        let (_, c) = self.any("commit", |c| async move { Ok(c.commit(number).await?) }).await?;
        Ok(c.pointer("/signed_header/commit/block_id/hash")
            .and_then(Value::as_str)
            .and_then(|s| format!("0x{s}").parse().ok()))
    }

    async fn fetch_block(&mut self, hash: B256) -> eyre::Result<RecordedBlock> {
        let hex = format!("0x{}", alloy_primitives::hex::encode_upper(hash));
        let (_, b) = self
            .any("block by hash", |c| {
                let hex = hex.clone();
                async move { Ok(c.block_by_hash(&hex).await?) }
            })
            .await?;
        let height: u64 = b
            .pointer("/block/header/height")
            .and_then(|h| h.as_str().and_then(|s| s.parse().ok()))
            .ok_or_else(|| eyre!("no endpoint serves block {hash}"))?;
        let (i, lb, block) = self.light_block(height).await?;
        let got = hash_of(lb.signed_header.header.hash());
        let at = BlockRef::maybe(height, Some(hash));
        if got != hash {
            self.strike(
                i,
                at,
                "block_hash",
                format!(
                    "asked for block {hash} at height {height}, the header served hashes to {got}"
                ),
            );
            return Err(eyre!("height {height}: served header hashes to {got}"));
        }
        if lb.signed_header.header.chain_id.as_str() != self.cfg.chain_id {
            self.strike(
                i,
                at,
                "chain_id",
                format!("header of chain {}", lb.signed_header.header.chain_id),
            );
            return Err(eyre!("height {height}: another chain"));
        }
        let trusted_h = self.trusted.as_ref().map_or(0, |t| t.height().value());
        if self.authentic.get(&height) == Some(&hash) {
            if let Err(e) = verify_commit(&lb) {
                self.strike(i, at, "commit", e.to_string());
                return Err(eyre!(e));
            }
            if let Some(id) = lb.signed_header.header.last_block_id {
                self.authentic.insert(height - 1, hash_of(id.hash));
            }
        } else if height > trusted_h {
            self.verify_up_to(lb.clone(), i).await?;
        } else {
            self.strike(i, at, "fork", format!("block {hash} at height {height} is not on the chain verified from the trusted height"));
            return Err(eyre!("height {height}: not on the verified chain"));
        }
        while self.authentic.len() > 100_000 {
            self.authentic.pop_first();
        }
        let h = &lb.signed_header.header;
        let parent = h.last_block_id.map(|id| hash_of(id.hash));
        let time = h.time.unix_timestamp().max(0) as u64;
        Ok(RecordedBlock {
            prestate: serde_json::Value::Null,
            block: json!({"number": format!("{height:#x}"), "hash": hash, "parentHash": parent, "timestamp": format!("{time:#x}")}),
            receipts: Value::Null,
            traces: Value::Null,
            call_traces: Value::Null,
            proofs: Value::Null,
            calls: Value::Null,
            code: Value::Null,
            beacon: Value::Null,
            comet: serde_json::to_value(info_of(&lb, &block))?,
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
                    let stream = c.new_blocks(&etx);
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
                        tracing::debug!(target: "palisade::source", error = %e, "CometBFT event stream down; polling, then reconnecting.");
                    }
                    let mut t = tokio::time::interval(poll);
                    let until = tokio::time::Instant::now() + backoff;
                    while tokio::time::Instant::now() < until {
                        tokio::select! {
                            () = shutdown.cancelled() => return,
                            _ = t.tick() => tx.send_modify(|n| *n += 1),
                        }
                    }
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
        if let Some(h) = b.header.hash {
            self.authentic.insert(b.header.number, h);
        }
    }
}
