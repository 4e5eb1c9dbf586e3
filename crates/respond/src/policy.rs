//! The gate every responder stands behind: which findings may make it act.

use palisade_primitives::{Finding, Severity};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// When in a finding's life a responder may act.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum When {
    /// Only on findings about pending transactions (before inclusion).
    Pending,
    /// Only on findings about blocks (after inclusion). The default: acting on a transaction
    /// that may never land is a choice to make explicitly.
    #[default]
    Confirmed,
    /// Both.
    Both,
}

/// The policy of one responder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Detector ids (`simulation:vault`) or types (`simulation`) it acts on (required: a
    /// responder never acts on everything by accident; `publish_risk` acts on the index, not
    /// on findings, and has none).
    #[serde(default)]
    pub detectors: Vec<String>,
    /// Lowest severity it acts on (default `critical`).
    #[serde(default = "critical")]
    pub min_severity: Severity,
    /// Pending, confirmed or both (default `confirmed`).
    #[serde(default)]
    pub stage: When,
    /// At most this many actions... (default 1)
    #[serde(default = "one")]
    pub max_actions: u32,
    /// ...per this many seconds (default 3600).
    #[serde(default = "hour")]
    pub per_seconds: u64,
}

impl Default for Policy {
    /// No detectors: a responder that acts on findings refuses this at its check.
    fn default() -> Self {
        Self {
            detectors: Vec::new(),
            min_severity: critical(),
            stage: When::default(),
            max_actions: one(),
            per_seconds: hour(),
        }
    }
}

fn critical() -> Severity {
    Severity::Critical
}
fn one() -> u32 {
    1
}
fn hour() -> u64 {
    3600
}

/// True when the finding is about a pending transaction.
pub fn is_pending(f: &Finding) -> bool {
    f.stage() == palisade_primitives::Stage::Pending
}

/// Why a finding did not make a responder act.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Not one of its detectors.
    Detector,
    /// Below its minimum severity.
    Severity,
    /// Not its stage.
    Stage,
    /// Its rate limit is spent.
    RateLimited,
}

impl Policy {
    /// Checks `f` against the detector list, the severity and the stage (not the rate).
    pub fn matches(&self, f: &Finding) -> Result<(), Refusal> {
        let det = self.detectors.iter().any(|d| *d == f.detector || *d == f.kind);
        if !det {
            return Err(Refusal::Detector);
        }
        if f.severity < self.min_severity {
            return Err(Refusal::Severity);
        }
        let ok = match self.stage {
            When::Both => true,
            When::Pending => is_pending(f),
            When::Confirmed => !is_pending(f),
        };
        if !ok {
            return Err(Refusal::Stage);
        }
        Ok(())
    }
}

/// Where the actions of responders are counted against their rate limits, and where a
/// responder remembers the findings it already decided about.
///
/// The runtime's ledger is the store ([`palisade_store::Store`]): durable across restarts and
/// shared by every process that uses the same database, so a crash-looping process is still held
/// to its limit. [`MemoryLedger`] keeps the same books in memory, for tools and tests.
pub trait ActionLedger: Send + Sync {
    /// Counts one action of `responder` on finding `id` if fewer than `max` were taken in the
    /// last `window`; a finding already decided about is a duplicate.
    fn reserve<'a>(
        &'a self,
        responder: &'a str,
        id: &'a str,
        max: u32,
        window: Duration,
    ) -> futures::future::BoxFuture<'a, Result<Reservation, String>>;
}

pub use palisade_store::Reservation;

impl ActionLedger for palisade_store::Store {
    fn reserve<'a>(
        &'a self,
        responder: &'a str,
        id: &'a str,
        max: u32,
        window: Duration,
    ) -> futures::future::BoxFuture<'a, Result<Reservation, String>> {
        Box::pin(async move {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0);
            let window_ms = i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
            self.reserve_action(responder, id, max, window_ms, now).await.map_err(|e| e.to_string())
        })
    }
}

/// An [`ActionLedger`] in memory: one process, forgotten on restart.
#[derive(Debug, Default)]
pub struct MemoryLedger {
    books: std::sync::Mutex<(
        std::collections::HashMap<String, RateLimit>,
        std::collections::HashSet<String>,
    )>,
}

impl ActionLedger for MemoryLedger {
    fn reserve<'a>(
        &'a self,
        responder: &'a str,
        id: &'a str,
        max: u32,
        window: Duration,
    ) -> futures::future::BoxFuture<'a, Result<Reservation, String>> {
        let mut b = self.books.lock().unwrap_or_else(|p| p.into_inner());
        let (limits, seen) = &mut *b;
        let key = format!("{responder}\u{0}{id}");
        let r = if seen.contains(&key) {
            Reservation::Duplicate
        } else {
            let limit =
                limits.entry(responder.to_string()).or_insert_with(|| RateLimit::new(max, window));
            if limit.take(Instant::now()) {
                seen.insert(key);
                Reservation::Granted
            } else {
                Reservation::RateLimited
            }
        };
        Box::pin(std::future::ready(Ok(r)))
    }
}

/// A sliding-window rate limit: at most `max` actions in any `window`.
#[derive(Debug, Clone)]
pub struct RateLimit {
    max: usize,
    window: Duration,
    taken: VecDeque<Instant>,
}

impl RateLimit {
    /// A limit of `max` per `window`.
    pub fn new(max: u32, window: Duration) -> Self {
        Self { max: max as usize, window, taken: VecDeque::new() }
    }

    /// Takes one action at `now` if the limit allows it.
    pub fn take(&mut self, now: Instant) -> bool {
        while self.taken.front().is_some_and(|t| now.duration_since(*t) >= self.window) {
            self.taken.pop_front();
        }
        if self.taken.len() >= self.max {
            return false;
        }
        self.taken.push_back(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_primitives::BlockRef;
    use serde_json::json;

    fn finding(detector: &str, sev: Severity, pending: bool) -> Finding {
        let mut f =
            Finding::new(detector, "simulation", "eth", BlockRef::synthetic(5), "s", sev, "t");
        if pending {
            f.facts.pending = Some(palisade_primitives::PendingFacts {
                hash: Default::default(),
                sender: Default::default(),
                nonce: 0,
                priority_fee: 1,
                max_fee: 2,
            });
        }
        f
    }

    #[test]
    fn the_gate_checks_detector_severity_and_stage() {
        let p: Policy =
            serde_json::from_value(json!({"detectors": ["simulation:vault"], "stage": "pending"}))
                .unwrap();
        assert_eq!(p.min_severity, Severity::Critical);
        assert_eq!(p.matches(&finding("simulation:vault", Severity::Critical, true)), Ok(()));
        assert_eq!(
            p.matches(&finding("simulation:other", Severity::Critical, true)),
            Err(Refusal::Detector)
        );
        assert_eq!(
            p.matches(&finding("simulation:vault", Severity::High, true)),
            Err(Refusal::Severity)
        );
        assert_eq!(
            p.matches(&finding("simulation:vault", Severity::Critical, false)),
            Err(Refusal::Stage)
        );
        // A type name matches every instance; the default stage is confirmed only.
        let p: Policy = serde_json::from_value(json!({"detectors": ["simulation"]})).unwrap();
        assert_eq!(p.matches(&finding("simulation:x", Severity::Critical, false)), Ok(()));
        assert_eq!(
            p.matches(&finding("simulation:x", Severity::Critical, true)),
            Err(Refusal::Stage)
        );
        // Without detectors a policy matches nothing (and a responder that acts on findings
        // refuses it at its check: see the lib tests).
        let none: Policy = serde_json::from_value(json!({})).unwrap();
        assert_eq!(
            none.matches(&finding("simulation:x", Severity::Critical, false)),
            Err(Refusal::Detector)
        );
    }

    #[test]
    fn the_rate_limit_slides() {
        let mut r = RateLimit::new(2, Duration::from_secs(10));
        let t = Instant::now();
        assert!(r.take(t));
        assert!(r.take(t + Duration::from_secs(1)));
        assert!(!r.take(t + Duration::from_secs(9)));
        assert!(r.take(t + Duration::from_secs(10)));
        assert!(!r.take(t + Duration::from_secs(10)));
    }
}
