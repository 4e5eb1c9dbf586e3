//! The endpoints of a consensus chain (Beacon API, CometBFT RPC): which one to ask, failover
//! to the next, and benching one that served data failing verification (60 s, doubled at each
//! offence, up to an hour), with the finding that says so. Consensus data is checked by
//! signatures, not by votes, so one honest endpoint is enough.

use crate::status::{EndpointStatus, QuorumStatus};
use palisade_primitives::{BlockRef, Finding, Severity};
use serde_json::json;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Default)]
struct Seen {
    head: Option<u64>,
    error: Option<String>,
    strikes: u32,
    benched_until: Option<Instant>,
}

/// The endpoints of one chain.
#[derive(Debug, Clone)]
pub struct Endpoints {
    chain: String,
    urls: Vec<String>,
    seen: Vec<Seen>,
    active: usize,
}

impl Endpoints {
    /// Endpoints with these (redacted) URLs.
    pub fn new(chain: &str, urls: Vec<String>) -> Self {
        Self { chain: chain.into(), seen: vec![Seen::default(); urls.len()], urls, active: 0 }
    }

    /// The order to ask them in: the active one first, benched ones skipped unless all are.
    pub fn order(&self) -> Vec<usize> {
        let now = Instant::now();
        let n = self.urls.len();
        let benched = |i: usize| self.seen[i].benched_until.is_some_and(|t| t > now);
        let all = (0..n).all(benched);
        (0..n).map(|k| (self.active + k) % n).filter(|i| all || !benched(*i)).collect()
    }

    /// Endpoint `i` answered.
    pub fn ok(&mut self, i: usize) {
        self.seen[i].error = None;
        self.active = i;
    }

    /// Endpoint `i` failed to answer.
    pub fn failed(&mut self, i: usize, e: &str) {
        self.seen[i].error = Some(e.to_string());
    }

    /// The active endpoint.
    pub fn active(&self) -> usize {
        self.active
    }

    /// Endpoint `i` announced a head at `n`.
    pub fn head(&mut self, i: usize, n: u64) {
        self.seen[i].head = Some(n);
    }

    /// Endpoint `i` served data that does not verify: it is benched and the finding returned.
    pub fn strike(&mut self, i: usize, at: BlockRef, what: &str, detail: String) -> Finding {
        self.seen[i].strikes += 1;
        let secs = (60u64 << (self.seen[i].strikes - 1).min(6)).min(3600);
        self.seen[i].benched_until = Some(Instant::now() + Duration::from_secs(secs));
        if self.urls.len() > 1 {
            self.active = (i + 1) % self.urls.len();
        }
        let url = &self.urls[i];
        tracing::warn!(target: "palisade::source", chain = %self.chain, endpoint = %url, what, detail = %detail, bench_secs = secs, "Data failed verification; endpoint benched.");
        Finding::new("source_integrity", "source_integrity", &self.chain, at, &format!("{what}:{i}"), Severity::Critical,
            format!("Endpoint {url} served {what} that does not verify: {detail}"))
        .with_evidence(json!({"check": what, "endpoint": url, "endpoint_index": i, "detail": detail, "benched_secs": secs}))
        .with_endpoint(url.as_str())
    }

    /// Each endpoint's state.
    pub fn status(&self, now: Instant) -> Vec<EndpointStatus> {
        self.urls
            .iter()
            .enumerate()
            .map(|(i, url)| {
                let s = &self.seen[i];
                let left = s.benched_until.and_then(|t| t.checked_duration_since(now));
                EndpointStatus {
                    index: i,
                    url: url.clone(),
                    state: if left.is_some() {
                        "quarantined".into()
                    } else if s.error.is_some() {
                        "unreachable".into()
                    } else {
                        "active".into()
                    },
                    reason: s.error.clone(),
                    strikes: s.strikes,
                    head: s.head,
                    lag: None,
                    latency_ms: None,
                    peers: None,
                    syncing: false,
                    quarantine_secs_left: left.map(|d| d.as_secs()),
                    probation_blocks_left: None,
                    last_error: s.error.clone(),
                }
            })
            .collect()
    }

    /// One answering endpoint is enough.
    pub fn quorum_status(&self) -> QuorumStatus {
        let counting = self.seen.iter().filter(|s| s.error.is_none()).count();
        QuorumStatus { required: 1, counting, met: counting >= 1 }
    }
}
