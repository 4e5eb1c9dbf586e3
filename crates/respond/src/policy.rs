//! The gate every responder stands behind: which findings may make it act.

use palisade_primitives::{Finding, Severity};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// When in a finding's life a responder may act.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
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
    /// responder never acts on everything by accident).
    pub detectors: Vec<String>,
    /// Lowest severity it acts on (default `critical`).
    #[serde(default = "critical")]
    pub min_severity: Severity,
    /// Pending, confirmed or both (default `confirmed`).
    #[serde(default)]
    pub stage: Stage,
    /// At most this many actions... (default 1)
    #[serde(default = "one")]
    pub max_actions: u32,
    /// ...per this many seconds (default 3600).
    #[serde(default = "hour")]
    pub per_seconds: u64,
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
    f.evidence.get("stage").and_then(|s| s.as_str()) == Some("pending")
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
            Stage::Both => true,
            Stage::Pending => is_pending(f),
            Stage::Confirmed => !is_pending(f),
        };
        if !ok {
            return Err(Refusal::Stage);
        }
        Ok(())
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
        let f = Finding::new(detector, "simulation", "eth", BlockRef::synthetic(5), "s", sev, "t");
        if pending {
            f.with_evidence(json!({"stage": "pending"}))
        } else {
            f
        }
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
        assert!(serde_json::from_value::<Policy>(json!({})).is_err(), "detectors are required");
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
