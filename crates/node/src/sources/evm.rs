//! The endpoints of one chain as the chain service sees them: which head a quorum agrees on,
//! blocks fetched by hash and verified before anything else sees them, proofs of watched state,
//! and the endpoints benched for lying or lagging.
//!
//! # Trust
//! A block is followed only when a quorum of the endpoints that count reports its hash at its
//! height ([`palisade_verify::agreement`]), or, below the quorum, when every endpoint left agrees
//! (and a `quorum_lost` alert says so). Its data is then fetched by that hash and verified: the
//! header must hash to it, and the transactions, receipts, withdrawals and proofs must match the
//! header's roots. Ancestors are fetched by the parent hash of a verified child, so the whole
//! chain below an agreed head is bound to that vote. Endpoints that dissented from a vote are
//! benched only once the agreed block verified; endpoints that served data failing verification
//! are benched at once.
//!
//! Findings about endpoints are collected here and stored by the service ([`Sources::take_findings`]).

use crate::config::{ChainConfig, Verification};
use crate::metrics::Metrics;
use crate::status::{EndpointStatus, QuorumStatus};
use eyre::eyre;
use futures::future::join_all;
use palisade_detect::Needs;
use palisade_primitives::{quantity as q, BlockRef, Finding, RecordedBlock, Severity, B256};
use palisade_source::evm_rpc::{Enrich, HeadSeen};
use palisade_source::health::{EndpointHealth, Fault, Standing, Transition};
use palisade_source::pool::EndpointPool;
use palisade_source::SourceError;
use palisade_verify::agreement::{quorum_height, tally, Ballot, Tally};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

use super::{HEALTH, INTEGRITY};

/// A vote whose block has not verified yet: its dissenters are judged when it does.
#[derive(Debug, Clone)]
struct PendingVote {
    height: u64,
    hash: B256,
    voters: Vec<usize>,
    dissenters: Vec<(usize, B256)>,
    /// What endpoints on probation answered (checked, not counted).
    probation: Vec<Ballot>,
}

/// The sources of one chain.
#[derive(Debug)]
pub struct Sources {
    chain: String,
    cfg: ChainConfig,
    pool: EndpointPool,
    enrich: Enrich,
    needs: Needs,
    metrics: Metrics,
    pending: Vec<PendingVote>,
    quorum_met: Option<bool>,
    /// Since when the quorum has been short (not yet reported while in its grace period).
    short_since: Option<Instant>,
    divergence_reported: bool,
    /// Endpoint the last block's data came from.
    content_from: Option<usize>,
    /// Blocks fetched (to try a demoted slow endpoint first now and then).
    fetches: u64,
    /// Newest agreed height (anchors findings about endpoints).
    height: u64,
    findings: Vec<Finding>,
}

fn redacted(pool: &EndpointPool, i: usize) -> String {
    pool.client(i).url().to_string()
}

impl Sources {
    /// Builds the pool of a chain's endpoints. `needs` says what to attach to blocks.
    pub fn new(cfg: &ChainConfig, needs: Needs, metrics: Metrics) -> eyre::Result<Self> {
        let pool = EndpointPool::new(&cfg.endpoints, cfg.rpc, cfg.health)?;
        Ok(Self {
            chain: cfg.name.clone(),
            cfg: cfg.clone(),
            pool,
            enrich: Enrich { receipts: needs.receipts, traces: needs.traces },
            needs,
            metrics,
            pending: Vec::new(),
            quorum_met: None,
            short_since: None,
            divergence_reported: false,
            content_from: None,
            fetches: 0,
            height: 0,
            findings: Vec::new(),
        })
    }

    /// The pool.
    pub fn pool(&self) -> &EndpointPool {
        &self.pool
    }

    /// Findings about endpoints made since the last call, to be stored.
    pub fn take_findings(&mut self) -> Vec<Finding> {
        std::mem::take(&mut self.findings)
    }

    /// Endpoint the last block's data came from.
    pub fn content_from(&self) -> Option<usize> {
        self.content_from
    }

    /// First contact: probes every endpoint, benches those on another chain (chain id, then
    /// genesis). Fails when no endpoint serves the configured chain. While no endpoint answers
    /// at all (the node is down or still starting), it waits, probing again with backoff (1 s
    /// doubling to 30 s) and saying why at each try.
    pub async fn start(&mut self) -> eyre::Result<()> {
        let n = self.pool.len();
        let expected = self.cfg.chain_id;
        let mut delay = Duration::from_secs(1);
        let mut attempt = 0u32;
        let ids = loop {
            let mut probes = Vec::with_capacity(n);
            for i in 0..n {
                probes.push(self.pool.probe(i));
            }
            join_all(probes).await;
            let ids: Vec<(Option<u64>, Option<String>)> =
                self.pool.health().iter().map(|h| (h.chain_id, h.last_error.clone())).collect();
            if ids.iter().any(|(id, _)| id.is_some()) {
                break ids;
            }
            attempt += 1;
            let why = ids.iter().find_map(|(_, e)| e.clone()).unwrap_or_default();
            tracing::warn!(target: "palisade::chain", chain = %self.cfg.name, attempt, retry_in_secs = delay.as_secs(), error = %why, "No endpoint answers eth_chainId yet; waiting for the node.");
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(30));
        };
        let now = Instant::now();
        let mut first_wrong = None;
        for (i, (id, _)) in ids.iter().enumerate() {
            if let Some(got) = *id {
                if got != expected {
                    let url = redacted(&self.pool, i);
                    first_wrong.get_or_insert(SourceError::WrongChain { url, expected, got });
                    self.fault(i, Fault::WrongChain { expected, got }, None, now);
                }
            }
        }
        if !ids.iter().any(|(id, _)| *id == Some(expected)) {
            if let Some(e) = first_wrong {
                return Err(eyre!(e));
            }
            return Err(eyre!("no endpoint serves chain id {expected}"));
        }
        // Genesis: endpoints on another chain with the same id (a fork, a test network). Each
        // endpoint's genesis header is verified first, so liars alike cannot out-vote the truth.
        let counting: Vec<usize> = self.counting();
        let mut fetches = Vec::with_capacity(counting.len());
        for &i in &counting {
            fetches.push(
                self.pool.timed(i, self.pool.client(i).block_by_number(0, Enrich::default())),
            );
        }
        let answers = join_all(fetches).await;
        let mut ballots: Vec<Ballot> = Vec::new();
        for (&i, answer) in counting.iter().zip(answers) {
            let Ok(Some(rec)) = answer else { continue };
            let claimed = rec.block.get("hash").and_then(|h| q::b256(h).ok());
            let r = palisade_verify::verify_block_with(&rec, false);
            match (claimed, r.failed.first()) {
                (Some(h), None) => ballots.push((i, Some(h))),
                (_, Some(e)) => {
                    let anchor = BlockRef::maybe(0, claimed);
                    let failures: Vec<Value> = r
                        .failed
                        .iter()
                        .map(|e| json!({"check": e.check(), "message": e.to_string()}))
                        .collect();
                    let ev = json!({"failures": failures, "block_number": 0});
                    self.fault(
                        i,
                        Fault::BadData { detail: e.to_string() },
                        Some((anchor, ev)),
                        now,
                    );
                }
                (None, None) => {}
            }
        }
        let expected_genesis = match self.cfg.genesis_hash {
            Some(g) => Some(g),
            None => tally(&ballots, ballots.len() / 2 + 1).agreed(),
        };
        if let Some(g) = expected_genesis {
            for (i, h) in ballots {
                if let Some(h) = h.filter(|h| *h != g) {
                    self.fault(i, Fault::DifferentChain { genesis: h, expected: g }, None, now);
                }
            }
        }
        tracing::info!(target: "palisade::source", chain = %self.chain, endpoints = n, counting = self.counting().len(), quorum = self.cfg.quorum(), "Endpoints checked.");
        Ok(())
    }

    fn counting(&self) -> Vec<usize> {
        let h = self.pool.health();
        (0..h.len()).filter(|&i| h[i].counts()).collect()
    }

    fn on_probation(&self) -> Vec<usize> {
        let h = self.pool.health();
        (0..h.len()).filter(|&i| h[i].on_probation() && h[i].reachable).collect()
    }

    /// Who votes: the endpoints that count; with none left, those on probation (their data is
    /// still verified), so a chain with one lying-then-repentant endpoint is not stuck forever.
    fn voters(&self) -> (Vec<usize>, bool) {
        let c = self.counting();
        if c.is_empty() {
            (self.on_probation(), false)
        } else {
            (c, true)
        }
    }

    /// Each endpoint's block hash at `height`: from its announced head when that is the height,
    /// otherwise asked (concurrently). Endpoints that fail to answer are absent. Once `need`
    /// ballots agree among `counted`, an endpoint still silent after its hedge delay (a small
    /// multiple of its usual latency) is counted absent rather than waited for to its timeout.
    async fn ballots(
        &self,
        height: u64,
        who: &[usize],
        counted: &[usize],
        need: usize,
    ) -> Vec<Ballot> {
        use futures::StreamExt;
        let known: Vec<Option<B256>> = {
            let h = self.pool.health();
            who.iter().map(|&i| h[i].head.filter(|x| x.number == height).map(|x| x.hash)).collect()
        };
        let mut out = Vec::with_capacity(who.len());
        let mut asks = futures::stream::FuturesUnordered::new();
        // Once decided, stragglers are waited for as long as the quickest endpoint usually
        // takes (a few times), no longer: a slow endpoint's late ballot cannot change the
        // outcome, and its dissent is caught on a later vote or by verification.
        let start = tokio::time::Instant::now();
        let quickest = {
            let h = self.pool.health();
            who.iter().filter_map(|&i| h[i].latency_ms).min_by(f64::total_cmp)
        };
        let deadline = self.pool.hedge_delay(quickest).map(|d| start + d);
        for (&i, k) in who.iter().zip(known) {
            match k {
                Some(h) => out.push((i, Some(h))),
                None => {
                    let pool = self.pool.clone();
                    asks.push(async move {
                        let r = pool.timed(i, pool.client(i).hash_at(height)).await;
                        (i, r.ok().flatten())
                    });
                }
            }
        }
        let decided = |out: &[Ballot]| {
            let agreeing: Vec<Ballot> =
                out.iter().filter(|(i, _)| counted.contains(i)).cloned().collect();
            matches!(tally(&agreeing, need), Tally::Agreed { .. })
        };
        while !asks.is_empty() {
            let wait = async {
                match deadline {
                    Some(d) if decided(&out) => tokio::time::sleep_until(d).await,
                    _ => std::future::pending().await,
                }
            };
            tokio::select! {
                b = asks.next() => match b {
                    Some(b) => out.push(b),
                    None => break,
                },
                () = wait => {
                    tracing::debug!(target: "palisade::source", chain = %self.chain, height, silent = asks.len(), "The vote is decided; not waiting for slow endpoints.");
                    break;
                }
            }
        }
        // Silent endpoints are absent.
        for &i in who {
            if !out.iter().any(|(j, _)| *j == i) {
                out.push((i, None));
            }
        }
        out
    }

    /// The head to follow: the height a quorum of counting endpoints has reached, and the hash
    /// a quorum reports there. `None` when there is none yet (or the endpoints disagree, which is
    /// reported).
    pub async fn agreed_head(&mut self, now: Instant) -> eyre::Result<Option<HeadSeen>> {
        self.assess(now);
        let (voters, full) = self.voters();
        if voters.is_empty() {
            self.note_quorum(false, 0);
            return Err(eyre!("no endpoint can be used: every one is quarantined or unreachable"));
        }
        let need = if full && voters.len() >= self.cfg.quorum() {
            self.cfg.quorum()
        } else {
            voters.len()
        };
        self.note_quorum(full && voters.len() >= self.cfg.quorum(), voters.len());
        let heads: Vec<u64> = {
            let h = self.pool.health();
            voters.iter().filter_map(|&i| h[i].head.map(|x| x.number)).collect()
        };
        let Some(height) = quorum_height(&heads, need) else { return Ok(None) };
        let hash = self.vote(height, &voters, need).await;
        Ok(hash.map(|hash| HeadSeen { number: height, hash }))
    }

    /// The hash a quorum reports at `height` (for backfill checkpoints and restarts).
    pub async fn agreed_hash_at(&mut self, height: u64) -> eyre::Result<Option<B256>> {
        let (voters, full) = self.voters();
        if voters.is_empty() {
            return Err(eyre!("no endpoint can be used: every one is quarantined or unreachable"));
        }
        let need = if full && voters.len() >= self.cfg.quorum() {
            self.cfg.quorum()
        } else {
            voters.len()
        };
        Ok(self.vote(height, &voters, need).await)
    }

    async fn vote(&mut self, height: u64, voters: &[usize], need: usize) -> Option<B256> {
        let probation: Vec<usize> =
            self.on_probation().into_iter().filter(|i| !voters.contains(i)).collect();
        let mut who = voters.to_vec();
        who.extend(&probation);
        let ballots = self.ballots(height, &who, voters, need).await;
        let (counted, checked): (Vec<Ballot>, Vec<Ballot>) =
            ballots.into_iter().partition(|(i, _)| voters.contains(i));
        let t = tally(&counted, need);
        match &t {
            Tally::Agreed { hash, voters, dissenters, .. } => {
                if self.divergence_reported && dissenters.is_empty() {
                    self.divergence_reported = false;
                }
                self.pending.retain(|p| p.hash != *hash);
                self.pending.push(PendingVote {
                    height,
                    hash: *hash,
                    voters: voters.clone(),
                    dissenters: dissenters.clone(),
                    probation: checked,
                });
                if self.pending.len() > 8 {
                    self.pending.remove(0);
                }
                self.height = self.height.max(height);
                Some(*hash)
            }
            Tally::NoQuorum { groups, absent } => {
                if groups.len() > 1 && !self.divergence_reported {
                    self.divergence_reported = true;
                    let by: Vec<Value> = groups
                        .iter()
                        .map(|(h, v)| {
                            json!({"hash": h, "endpoints": v.iter().map(|&i| redacted(&self.pool, i)).collect::<Vec<_>>()})
                        })
                        .collect();
                    let f = Finding::new(
                        INTEGRITY,
                        INTEGRITY,
                        &self.chain,
                        BlockRef::synthetic(height),
                        "divergence",
                        Severity::Critical,
                        format!(
                            "Endpoints disagree on block {height}: {} different blocks, none reported by {need} endpoints; not following any until they agree (fork or eclipse)",
                            groups.len()
                        ),
                    )
                    .with_evidence(json!({"check": "divergence", "height": height, "groups": by,
                        "absent": absent.iter().map(|&i| redacted(&self.pool, i)).collect::<Vec<_>>(), "needed": need}));
                    tracing::error!(target: "palisade::source", chain = %self.chain, height, groups = groups.len(), "Endpoints disagree; no quorum.");
                    self.findings.push(f);
                }
                None
            }
        }
    }

    fn note_quorum(&mut self, met: bool, counting: usize) {
        let required = self.cfg.quorum();
        self.metrics.quorum_met.with_label_values(&[&self.chain]).set(i64::from(met));
        let now = Instant::now();
        if met {
            self.short_since = None;
        }
        if self.quorum_met == Some(met) {
            return;
        }
        let first = self.quorum_met.is_none();
        if first && met {
            self.quorum_met = Some(true);
            return;
        }
        if !met {
            // Short because endpoints are unreachable or behind: give them the grace period
            // before paging; short because one lied: say so at once.
            let since = *self.short_since.get_or_insert(now);
            let offence = self.pool.health().iter().any(|h| {
                matches!(&h.standing, Standing::Quarantined { fault, .. } if fault.is_offence())
            });
            let grace = Duration::from_secs(self.cfg.quorum_grace_secs);
            if !offence && now.duration_since(since) < grace {
                if since == now {
                    tracing::warn!(target: "palisade::source", chain = %self.chain, counting, required, grace_secs = grace.as_secs(), "Quorum short; alerting if it lasts the grace period.");
                }
                return;
            }
        }
        self.quorum_met = Some(met);
        let at = BlockRef::synthetic(self.height);
        let f = if met {
            tracing::info!(target: "palisade::source", chain = %self.chain, counting, required, "Quorum restored.");
            Finding::new(
                INTEGRITY,
                INTEGRITY,
                &self.chain,
                at,
                "quorum:restored",
                Severity::Info,
                format!(
                    "Quorum restored on {}: {counting} endpoints count, {required} required",
                    self.chain
                ),
            )
            .with_evidence(
                json!({"check": "quorum_restored", "counting": counting, "required": required}),
            )
        } else {
            tracing::error!(target: "palisade::source", chain = %self.chain, counting, required, "Quorum lost; monitoring goes on with the endpoints left.");
            Finding::new(INTEGRITY, INTEGRITY, &self.chain, at, "quorum:lost", Severity::Critical,
                format!("Quorum lost on {}: {counting} endpoints count, {required} required; monitoring goes on with the endpoints left, whose agreement is no longer a quorum", self.chain))
                .with_evidence(json!({"check": "quorum_lost", "counting": counting, "required": required,
                    "endpoints": self.status(Instant::now())}))
        };
        self.findings.push(f);
    }

    /// Benches endpoint `i` for `fault` and reports it (once per quarantine). `block` anchors
    /// the finding at the block the fault is about (bad data), otherwise at the agreed height.
    fn fault(&mut self, i: usize, fault: Fault, block: Option<(BlockRef, Value)>, now: Instant) {
        let policy = *self.pool.policy();
        let t = self.pool.health()[i].quarantine(fault.clone(), now, &policy);
        let Some(Transition::Quarantined { penalty, strikes, .. }) = t else { return };
        let url = redacted(&self.pool, i);
        self.metrics
            .endpoint_faults
            .with_label_values(&[&self.chain, &i.to_string(), fault.kind()])
            .inc();
        let (detector, sev) = if fault.is_offence() {
            (INTEGRITY, Severity::Critical)
        } else {
            (HEALTH, Severity::High)
        };
        let held = match penalty {
            Some(d) => format!("quarantined for {} s (offence {strikes})", d.as_secs()),
            None => "benched until it recovers".to_string(),
        };
        tracing::error!(target: "palisade::source", chain = %self.chain, endpoint = %url, fault = %fault, "Endpoint benched.");
        let (anchor, extra) = block.unwrap_or((BlockRef::synthetic(self.height), Value::Null));
        let mut ev = json!({
            "check": fault.kind(),
            "endpoint": url,
            "endpoint_index": i,
            "fault": fault,
            "quarantine": {"penalty_secs": penalty.map(|d| d.as_secs()), "strikes": strikes,
                "probation_blocks": policy.probation_blocks},
            "height": self.height,
        });
        if let Value::Object(m) = extra {
            for (k, v) in m {
                ev[k] = v;
            }
        }
        let subject = format!("endpoint:{i}:{}:{strikes}:{}", fault.kind(), anchor.hash);
        self.findings.push(
            Finding::new(
                detector,
                detector,
                &self.chain,
                anchor,
                &subject,
                sev,
                format!("Endpoint {url} {fault}; {held}"),
            )
            .with_evidence(ev)
            .with_endpoint(&url),
        );
    }

    /// Benches the endpoint whose (redacted) URL is `endpoint`, at a responder's request: an
    /// offence under the health policy, reported like the others. False when there is none.
    pub fn quarantine_endpoint(&mut self, endpoint: &str, reason: &str) -> bool {
        let Some(i) = (0..self.pool.len()).find(|i| redacted(&self.pool, *i) == endpoint) else {
            return false;
        };
        let fault = Fault::BadData { detail: format!("benched by {reason}") };
        self.fault(i, fault, None, Instant::now());
        true
    }

    /// Re-evaluates every endpoint: penalties served, chain ids, lag, stalls, syncing, peers,
    /// latency.
    pub fn assess(&mut self, now: Instant) {
        let policy = *self.pool.policy();
        let expected = self.cfg.chain_id;
        let snapshot = self.pool.snapshot();
        let counting_heads: Vec<u64> = snapshot
            .iter()
            .filter(|h| h.counts())
            .filter_map(|h| h.head.map(|x| x.number))
            .collect();
        // The head a quorum has reached: one liar announcing a far head cannot make the others
        // look late.
        let best =
            quorum_height(&counting_heads, self.cfg.quorum().min(counting_heads.len().max(1)));
        for (i, h) in snapshot.iter().enumerate() {
            let url = redacted(&self.pool, i);
            let t = self.pool.health()[i].tick(now, &policy);
            match t {
                Some(Transition::ProbationStarted) => {
                    tracing::warn!(target: "palisade::source", chain = %self.chain, endpoint = %url, "Quarantine over; endpoint on probation.");
                }
                Some(Transition::Readmitted) => self.readmitted(i),
                _ => {}
            }
            if let Some(got) = h.chain_id.filter(|g| *g != expected) {
                self.fault(i, Fault::WrongChain { expected, got }, None, now);
                continue;
            }
            let cond = h.condition(best, now, &policy);
            let benched_for_condition =
                matches!(&h.standing, Standing::Quarantined { until: None, .. });
            match cond {
                Some(f) if !h.quarantined() => self.fault(i, f, None, now),
                None if benched_for_condition
                    && self.pool.health()[i].condition_cleared(&policy).is_some() =>
                {
                    tracing::warn!(target: "palisade::source", chain = %self.chain, endpoint = %url, "Endpoint recovered; on probation.");
                }
                _ => {}
            }
            self.note(i, "peers", h.peers.is_some_and(|p| p < policy.min_peers), || {
                (
                    Severity::Medium,
                    format!(
                        "Endpoint {url} has {} peers (minimum {}): it may be isolated or eclipsed",
                        h.peers.unwrap_or(0),
                        policy.min_peers
                    ),
                    json!({"peers": h.peers, "min_peers": policy.min_peers}),
                )
            });
            self.note(i, "latency", h.latency_ms.is_some_and(|l| l > policy.max_latency_ms as f64), || {
                (Severity::Medium, format!("Endpoint {url} is slow: mean latency {:.0} ms (maximum {})", h.latency_ms.unwrap_or(0.0), policy.max_latency_ms),
                    json!({"latency_ms": h.latency_ms, "max_latency_ms": policy.max_latency_ms}))
            });
            // An outage ends once requests have succeeded for two probe intervals: a request
            // that gets through in the middle of it does not end it (and report it again).
            let settle = std::time::Duration::from_millis(policy.probe_interval_ms.max(100) * 2);
            let was_out = h.reported.contains(&"unreachable");
            let out = !h.reachable || (was_out && h.in_outage(now, settle));
            self.note(i, "unreachable", out, || {
                (
                    Severity::Medium,
                    format!(
                        "Endpoint {url} is unreachable: {}",
                        h.last_error.clone().unwrap_or_default()
                    ),
                    json!({"error": h.last_error}),
                )
            });
        }
        self.update_metrics(now, best);
    }

    /// Reports a condition once when it starts; forgets it when it ends.
    fn note(
        &mut self,
        i: usize,
        kind: &'static str,
        on: bool,
        what: impl FnOnce() -> (Severity, String, Value),
    ) {
        let was = self.pool.health()[i].reported.contains(&kind);
        if on == was {
            return;
        }
        if !on {
            self.pool.health()[i].reported.retain(|k| *k != kind);
            return;
        }
        self.pool.health()[i].reported.push(kind);
        let (sev, title, mut ev) = what();
        let url = redacted(&self.pool, i);
        tracing::warn!(target: "palisade::source", chain = %self.chain, endpoint = %url, check = kind, "{title}");
        ev["check"] = json!(kind);
        ev["endpoint"] = json!(url);
        ev["endpoint_index"] = json!(i);
        let subject = format!("endpoint:{i}:{kind}:{}", self.height);
        self.findings.push(
            Finding::new(
                HEALTH,
                HEALTH,
                &self.chain,
                BlockRef::synthetic(self.height),
                &subject,
                sev,
                title,
            )
            .with_evidence(ev)
            .with_endpoint(&url),
        );
    }

    fn readmitted(&mut self, i: usize) {
        let url = redacted(&self.pool, i);
        tracing::info!(target: "palisade::source", chain = %self.chain, endpoint = %url, "Endpoint re-admitted after probation.");
        let strikes = self.pool.health()[i].strikes;
        self.findings.push(
            Finding::new(HEALTH, HEALTH, &self.chain, BlockRef::synthetic(self.height),
                &format!("endpoint:{i}:readmitted:{strikes}:{}", self.height), Severity::Info,
                format!("Endpoint {url} re-admitted after probation"))
            .with_evidence(json!({"check": "readmitted", "endpoint": url, "endpoint_index": i, "strikes": strikes}))
            .with_endpoint(&url),
        );
    }

    /// Fetches the block with `hash` and verifies it before anyone sees it; attaches the proven
    /// state of watched accounts. Endpoints that voted for the hash are asked first. An endpoint
    /// whose answer fails verification is benched and the next one is asked.
    pub async fn fetch_block(&mut self, hash: B256) -> eyre::Result<RecordedBlock> {
        let vote = self.pending.iter().find(|p| p.hash == hash).cloned();
        let mut order: Vec<usize> = vote.as_ref().map(|v| v.voters.clone()).unwrap_or_default();
        let (voters, _) = self.voters();
        for i in voters {
            if !order.contains(&i) {
                order.push(i);
            }
        }
        order.retain(|&i| {
            let h = &self.pool.health()[i];
            h.counts() || h.on_probation()
        });
        // In order of preference, except that an endpoint that usually serves blocks four times
        // slower than the quickest goes last (and is tried first again now and then, so one
        // that recovered gets its place back).
        self.fetches = self.fetches.wrapping_add(1);
        if !self.fetches.is_multiple_of(32) {
            let times: Vec<Option<f64>> = {
                let h = self.pool.health();
                order.iter().map(|&i| h[i].fetch_ms).collect()
            };
            if let Some(best) = times.iter().flatten().copied().min_by(f64::total_cmp) {
                let floor = self.cfg.rpc.hedge_after_ms as f64;
                let slow = |t: &Option<f64>| t.is_some_and(|t| t > 4.0 * best && t > floor);
                let (quick, slow): (Vec<_>, Vec<_>) =
                    order.iter().zip(&times).partition(|(_, t)| !slow(t));
                order = quick.into_iter().chain(slow).map(|(i, _)| *i).collect();
            }
        }
        let mut last_err = None;
        // Hedged: when the endpoint asked has not answered within a small multiple of its usual
        // time, the next is asked too; the first answer that verifies wins.
        let pool = self.pool.clone();
        let enrich = self.enrich;
        let mut answers = self.pool.hedged(order, true, move |i| {
            let pool = pool.clone();
            Box::pin(async move { pool.client(i).block_by_hash(hash, enrich).await })
        });
        while let Some((i, got)) = answers.next().await {
            let now = Instant::now();
            let mut rec = match got {
                Err(e) => {
                    tracing::warn!(target: "palisade::source", chain = %self.chain, error = %e, "Fetching a block failed; trying the next endpoint.");
                    last_err = Some(e.to_string());
                    continue;
                }
                Ok(None) => {
                    if vote.as_ref().is_some_and(|v| v.voters.contains(&i)) {
                        let detail = format!("it announced block {hash} but does not serve it");
                        self.fault(i, Fault::BadData { detail }, None, now);
                    }
                    continue;
                }
                Ok(Some(rec)) => rec,
            };
            if let Err((anchor, failures, first)) = self.check(&rec, hash) {
                let ev = json!({"failures": failures, "block_number": anchor.number});
                self.fault(i, Fault::BadData { detail: first }, Some((anchor, ev)), now);
                continue;
            }
            let number = rec.block.get("number").and_then(|v| q::u64(v).ok()).unwrap_or(0);
            let root = rec.block.get("stateRoot").and_then(|v| q::b256(v).ok());
            let accounts = self.needs.accounts_at(number);
            if !accounts.is_empty() {
                rec.proofs = self.fetch_proofs(i, &accounts, hash, number, root).await?;
            }
            let calls = self.needs.calls_at(number);
            if !calls.is_empty() {
                // View calls are pinned to the verified block's hash; their results are the
                // endpoint's word (state proofs cover storage, not execution).
                match self.pool.timed(i, self.pool.client(i).view_calls(&calls, hash)).await {
                    Ok(c) => rec.calls = c,
                    Err(e) => {
                        last_err = Some(e.to_string());
                        continue;
                    }
                }
            }
            if self.needs.code {
                let created = rec.code_wanted();
                if !created.is_empty() {
                    let code =
                        match self.pool.timed(i, self.pool.client(i).code_at(&created, hash)).await
                        {
                            Ok(c) => c,
                            Err(e) => {
                                last_err = Some(e.to_string());
                                continue;
                            }
                        };
                    let empty: Vec<(palisade_primitives::Address, Vec<B256>)> =
                        created.iter().map(|a| (*a, Vec::new())).collect();
                    let proofs = self.fetch_proofs(i, &empty, hash, number, root).await?;
                    if let Err(e) = palisade_verify::verify_code(number, &code, &proofs) {
                        let anchor = BlockRef::new(number, hash);
                        let ev = json!({"failures": [{"check": "code", "message": e.to_string()}], "block_number": number});
                        self.fault(
                            i,
                            Fault::BadData { detail: e.to_string() },
                            Some((anchor, ev)),
                            now,
                        );
                        continue;
                    }
                    let mut all = rec.proofs.as_array().cloned().unwrap_or_default();
                    all.extend(proofs.as_array().cloned().unwrap_or_default());
                    rec.proofs = Value::Array(all);
                    rec.code = code;
                }
            }
            if !self.needs.assertions.is_empty() {
                match self.prestate(i, &rec).await {
                    Ok(p) => rec.prestate = p,
                    Err(e) => {
                        last_err = Some(format!("{e:#}"));
                        continue;
                    }
                }
            }
            if self.content_from != Some(i) {
                if let Some(prev) = self.content_from {
                    tracing::warn!(target: "palisade::source", chain = %self.chain, from = %redacted(&self.pool, prev), to = %redacted(&self.pool, i), "Failed over to another endpoint.");
                }
                self.content_from = Some(i);
            }
            self.verified(hash, now);
            return Ok(rec);
        }
        Err(eyre!(
            "no endpoint served block {hash} in a form that verifies{}",
            last_err.map(|e| format!(" (last error: {e})")).unwrap_or_default()
        ))
    }

    /// The state before `rec` that its assertions read (see `palisade_sim::record_prestate`),
    /// loaded from endpoint `i` on the parent's verified header; null when no transaction of
    /// the block reaches an assertion's contract.
    async fn prestate(&self, i: usize, rec: &RecordedBlock) -> eyre::Result<Value> {
        let block = palisade_primitives::BlockData::from_recorded(rec.clone())?;
        let adopters: Vec<_> = self.needs.assertions.iter().map(|s| s.adopter).collect();
        if palisade_assert::last_candidate(&block, &adopters).is_none() {
            return Ok(Value::Null);
        }
        let parent_hash = block
            .header
            .parent_hash
            .ok_or_else(|| eyre!("block {}: no parentHash", block.header.number))?;
        let client = self.pool.client(i);
        let prec = client
            .block_by_hash(parent_hash, Default::default())
            .await?
            .ok_or_else(|| eyre!("the endpoint does not serve the parent block {parent_hash}"))?;
        let report = palisade_verify::verify_block(&prec);
        if !report.passed.contains(&palisade_verify::Check::BlockHash) {
            return Err(eyre!("the parent block {parent_hash} it sent does not hash to its hash"));
        }
        let parent = palisade_primitives::BlockData::from_recorded(prec)?.header;
        palisade_sim::record_prestate(
            self.pool.shared_client(i),
            self.cfg.chain_id,
            &parent,
            &rec.block,
            &block,
            &self.needs.assertions,
        )
        .await
        .map_err(|e| eyre!("recording the state before block {}: {e}", block.header.number))
    }

    /// The checks the chain's `verification` asks for, on a block asked for by `hash`.
    /// On failure: the block it claims to be, the failures, and the first one in words.
    fn check(&self, rec: &RecordedBlock, hash: B256) -> Result<(), (BlockRef, Vec<Value>, String)> {
        let number = rec.block.get("number").and_then(|v| q::u64(v).ok()).unwrap_or(0);
        let claimed = rec.block.get("hash").and_then(|h| q::b256(h).ok());
        let anchor = BlockRef::maybe(number, claimed);
        let mut failed = Vec::new();
        if claimed != Some(hash) {
            failed.push(palisade_verify::VerifyError::NotRequested {
                number,
                requested: hash,
                served: claimed.unwrap_or_default(),
            });
        }
        let report = match self.cfg.verification {
            Verification::Off => None,
            Verification::Headers => Some(palisade_verify::verify_block_with(rec, false)),
            Verification::Full => Some(palisade_verify::verify_block(rec)),
        };
        if let Some(r) = report {
            // What was asked for must be checkable: data that evades a check fails it.
            use palisade_verify::Check as C;
            let mut required =
                vec![C::BlockHash, C::TxHashes, C::TransactionsRoot, C::WithdrawalsRoot];
            if self.cfg.verification == Verification::Full {
                required.push(C::Senders);
            }
            if self.enrich.receipts {
                required.extend([C::ReceiptsRoot, C::LogsBloom]);
            }
            failed.extend(r.unverifiable(&required));
            failed.extend(r.failed);
        }
        if failed.is_empty() {
            return Ok(());
        }
        for e in &failed {
            self.metrics.verify_failures.with_label_values(&[&self.chain, e.check()]).inc();
        }
        let first = failed[0].to_string();
        let list =
            failed.iter().map(|e| json!({"check": e.check(), "message": e.to_string()})).collect();
        Err((anchor, list, first))
    }

    async fn fetch_proofs(
        &mut self,
        first: usize,
        accounts: &[(palisade_primitives::Address, Vec<B256>)],
        hash: B256,
        number: u64,
        root: Option<B256>,
    ) -> eyre::Result<Value> {
        let (voters, _) = self.voters();
        let mut order = vec![first];
        order.extend(voters.into_iter().filter(|i| *i != first));
        for i in order {
            let now = Instant::now();
            match self.proofs_from(i, accounts, hash, root).await {
                Ok(p) => return Ok(p),
                Err(None) => continue,
                Err(Some(e)) => {
                    let anchor = BlockRef::new(number, hash);
                    let ev = json!({"failures": [{"check": e.check(), "message": e.to_string()}], "block_number": number});
                    self.fault(
                        i,
                        Fault::BadData { detail: e.to_string() },
                        Some((anchor, ev)),
                        now,
                    );
                }
            }
        }
        Err(eyre!("no endpoint served proofs of block {hash} that verify"))
    }

    /// Proofs from endpoint `i`, verified against `root`. `Err(None)`: it did not answer;
    /// `Err(Some(e))`: what it served twice does not verify. A first answer that does not verify
    /// is asked again once: anvil (1.7.1) answers `eth_getProof` for the block that is the latest
    /// with the state of a block mined meanwhile, and answers right when asked again. Nothing
    /// unverified is ever used; the re-ask is counted (`proofs_reasked`).
    async fn proofs_from(
        &self,
        i: usize,
        accounts: &[(palisade_primitives::Address, Vec<B256>)],
        hash: B256,
        root: Option<B256>,
    ) -> Result<Value, Option<palisade_verify::VerifyError>> {
        let mut first_failure = None;
        for _ in 0..2 {
            let got = self.pool.timed(i, self.pool.client(i).proofs(accounts, hash)).await;
            let proofs = match got {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(target: "palisade::source", chain = %self.chain, error = %e, "Fetching proofs failed; trying the next endpoint.");
                    return Err(None);
                }
            };
            let verdict = match (self.cfg.verification, root) {
                (Verification::Off, _) => Ok(0),
                (_, Some(root)) => palisade_verify::verify_proofs(root, &proofs),
                (_, None) => Err(palisade_verify::VerifyError::Proof {
                    what: "proofs".into(),
                    root: B256::ZERO,
                    reason: "the block has no stateRoot".into(),
                }),
            };
            match verdict {
                Ok(_) => {
                    if first_failure.is_some() {
                        self.metrics
                            .verify_failures
                            .with_label_values(&[&self.chain, "proofs_reasked"])
                            .inc();
                        tracing::warn!(target: "palisade::verify", chain = %self.chain, endpoint = %redacted(&self.pool, i), block = %hash, "Proofs did not verify at first ask; verified when asked again.");
                    }
                    return Ok(proofs);
                }
                Err(e) => {
                    self.metrics.verify_failures.with_label_values(&[&self.chain, e.check()]).inc();
                    first_failure = Some(e);
                }
            }
        }
        Err(first_failure)
    }

    /// The block agreed by a vote verified: its dissenters lied.
    fn verified(&mut self, hash: B256, now: Instant) {
        let Some(pos) = self.pending.iter().position(|p| p.hash == hash) else { return };
        let v = self.pending.remove(pos);
        for (i, reported) in v.dissenters {
            self.fault(i, Fault::LostVote { height: v.height, reported, agreed: hash }, None, now);
        }
        for (i, answer) in v.probation {
            if let Some(reported) = answer.filter(|h| *h != hash) {
                self.fault(
                    i,
                    Fault::LostVote { height: v.height, reported, agreed: hash },
                    None,
                    now,
                );
            }
        }
    }

    /// After a head block is committed: each endpoint on probation serves it again, verified
    /// (the shadow check); one more good block each, or a new quarantine.
    pub async fn probation_checks(&mut self, head: BlockRef) {
        for i in self.on_probation() {
            if self.counting().is_empty() {
                // It is what monitoring runs on: its blocks are checked as they are used.
                if self.pool.health()[i].probation_passed() == Some(Transition::Readmitted) {
                    self.readmitted(i);
                }
                continue;
            }
            let now = Instant::now();
            let got =
                self.pool.timed(i, self.pool.client(i).block_by_hash(head.hash, self.enrich)).await;
            let ok = match got {
                Ok(Some(mut rec)) => match self.check(&rec, head.hash) {
                    Ok(()) => {
                        let accounts = self.needs.accounts_at(head.number);
                        let root = rec.block.get("stateRoot").and_then(|v| q::b256(v).ok());
                        if accounts.is_empty() {
                            true
                        } else {
                            match self.proofs_from(i, &accounts, head.hash, root).await {
                                Ok(p) => {
                                    rec.proofs = p;
                                    true
                                }
                                Err(None) => false,
                                Err(Some(e)) => {
                                    let ev = json!({"failures": [{"check": e.check(), "message": e.to_string()}], "during": "probation"});
                                    self.fault(
                                        i,
                                        Fault::BadData { detail: e.to_string() },
                                        Some((head, ev)),
                                        now,
                                    );
                                    false
                                }
                            }
                        }
                    }
                    Err((anchor, failures, first)) => {
                        let ev = json!({"failures": failures, "block_number": anchor.number, "during": "probation"});
                        self.fault(i, Fault::BadData { detail: first }, Some((anchor, ev)), now);
                        false
                    }
                },
                Ok(None) => false,
                Err(_) => false,
            };
            if ok && self.pool.health()[i].probation_passed() == Some(Transition::Readmitted) {
                self.readmitted(i);
            }
        }
    }

    /// Each endpoint's state, for `/health` and `palisade status`.
    pub fn status(&self, now: Instant) -> Vec<EndpointStatus> {
        let snap = self.pool.snapshot();
        let heads: Vec<u64> =
            snap.iter().filter(|h| h.counts()).filter_map(|h| h.head.map(|x| x.number)).collect();
        let best = quorum_height(&heads, self.cfg.quorum().min(heads.len().max(1)));
        snap.iter()
            .enumerate()
            .map(|(i, h)| endpoint_status(i, redacted(&self.pool, i), h, best, now))
            .collect()
    }

    /// The quorum now.
    pub fn quorum_status(&self) -> QuorumStatus {
        let counting = self.counting().len();
        let required = self.cfg.quorum();
        QuorumStatus { required, counting, met: counting >= required }
    }

    fn update_metrics(&self, now: Instant, best: Option<u64>) {
        let m = &self.metrics;
        let snap = self.pool.snapshot();
        m.endpoints_counting
            .with_label_values(&[&self.chain])
            .set(snap.iter().filter(|h| h.counts()).count() as i64);
        for (i, h) in snap.iter().enumerate() {
            let st = endpoint_status(i, String::new(), h, best, now);
            let idx = i.to_string();
            let url = redacted(&self.pool, i);
            for state in ["active", "quarantined", "probation", "unreachable"] {
                m.endpoint_state
                    .with_label_values(&[&self.chain, &idx, &url, state])
                    .set(i64::from(st.state == state));
            }
            if let Some(l) = st.lag {
                m.endpoint_lag.with_label_values(&[&self.chain, &idx]).set(l as i64);
            }
            if let Some(ms) = h.latency_ms {
                m.endpoint_latency.with_label_values(&[&self.chain, &idx]).set(ms / 1000.0);
            }
        }
    }
}

fn endpoint_status(
    index: usize,
    url: String,
    h: &EndpointHealth,
    best: Option<u64>,
    now: Instant,
) -> EndpointStatus {
    let (state, reason, left, blocks_left) = match &h.standing {
        Standing::Active if !h.reachable => ("unreachable", h.last_error.clone(), None, None),
        Standing::Active => ("active", None, None, None),
        Standing::Quarantined { fault, until, .. } => (
            "quarantined",
            Some(fault.to_string()),
            until.map(|u| u.saturating_duration_since(now).as_secs()),
            None,
        ),
        Standing::Probation { fault, remaining } => {
            ("probation", Some(format!("after: {fault}")), None, Some(*remaining))
        }
    };
    EndpointStatus {
        index,
        url,
        state: state.into(),
        reason,
        strikes: h.strikes,
        head: h.head.map(|x| x.number),
        lag: match (best, h.head) {
            (Some(b), Some(x)) => Some(b.saturating_sub(x.number)),
            _ => None,
        },
        latency_ms: h.latency_ms.map(|l| (l * 100.0).round() / 100.0),
        peers: h.peers,
        syncing: h.syncing,
        quarantine_secs_left: left,
        probation_blocks_left: blocks_left,
        last_error: h.last_error.clone(),
    }
}
