//! The standing of one endpoint: what it was last seen doing, and whether it is trusted.
//!
//! Pure: every transition takes "now" as an argument (helios' style), so the policy is tested
//! without sleeping. The pool ([`crate::pool`]) records observations here; the chain service
//! decides, from verification and votes, when an endpoint is at fault.
//!
//! An endpoint at fault is quarantined. For an offence against integrity (it served data that
//! fails verification, lost a vote on a block that then verified, reported another chain) the
//! quarantine lasts a penalty that doubles with each offence, up to a maximum. For a condition
//! (its head lags or stalls, it is syncing) it lasts until the condition clears. Either way it
//! then serves a probation: its answers are checked but not counted for a number of blocks, and
//! it is re-admitted only when all of them were right.

use crate::evm_rpc::HeadSeen;
use palisade_primitives::B256;
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// When endpoints are benched and re-admitted, and what is reported about them (the
/// `[chains.health]` table of the config).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthPolicy {
    /// First quarantine after an integrity offence, in seconds (default 60); doubled at each
    /// further offence of the same endpoint, up to `max_quarantine_secs`.
    pub quarantine_secs: u64,
    /// Longest quarantine, in seconds (default 3600).
    pub max_quarantine_secs: u64,
    /// Blocks an endpoint must answer correctly after a quarantine before it counts again
    /// (default 10).
    pub probation_blocks: u64,
    /// An endpoint whose head is more than this many blocks behind the best head is benched
    /// until it catches up (default 5).
    pub max_lag_blocks: u64,
    /// An endpoint whose head has not moved for this many seconds while the best head moved on
    /// is benched until it moves again (default 60).
    pub stall_secs: u64,
    /// Fewer peers than this (`net_peerCount`) is reported; nodes that do not offer the method
    /// are not checked (default 1; 0 turns the check off).
    pub min_peers: u64,
    /// A mean request latency above this is reported, in milliseconds (default 2000).
    pub max_latency_ms: u64,
    /// How often each endpoint's chain id, sync status and peer count are probed, in
    /// milliseconds (default 5000).
    pub probe_interval_ms: u64,
}

impl Default for HealthPolicy {
    fn default() -> Self {
        Self {
            quarantine_secs: 60,
            max_quarantine_secs: 3600,
            probation_blocks: 10,
            max_lag_blocks: 5,
            stall_secs: 60,
            min_peers: 1,
            max_latency_ms: 2000,
            probe_interval_ms: 5000,
        }
    }
}

/// Why an endpoint is benched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Fault {
    /// It served data that fails verification.
    BadData {
        /// What did not match.
        detail: String,
    },
    /// It reported another block at a height where a quorum agreed on a block that verified.
    LostVote {
        /// The height.
        height: u64,
        /// What it reported.
        reported: B256,
        /// What the quorum agreed on.
        agreed: B256,
    },
    /// Its `eth_chainId` is not the configured one.
    WrongChain {
        /// Configured chain id.
        expected: u64,
        /// What it reported.
        got: u64,
    },
    /// Its genesis block is not the chain's.
    DifferentChain {
        /// Its genesis hash.
        genesis: B256,
        /// The chain's genesis hash.
        expected: B256,
    },
    /// Its head is behind the best head.
    Lagging {
        /// Blocks behind.
        behind: u64,
    },
    /// Its head has not moved while the best head did.
    Stalled {
        /// Seconds since its head last moved.
        secs: u64,
    },
    /// It reports that it is syncing.
    Syncing,
}

impl Fault {
    /// True for offences against integrity (penalised, and the penalty grows); false for
    /// conditions that last until they clear.
    pub fn is_offence(&self) -> bool {
        matches!(
            self,
            Self::BadData { .. }
                | Self::LostVote { .. }
                | Self::WrongChain { .. }
                | Self::DifferentChain { .. }
        )
    }

    /// Snake-case name, as in findings and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::BadData { .. } => "bad_data",
            Self::LostVote { .. } => "lost_vote",
            Self::WrongChain { .. } => "wrong_chain_id",
            Self::DifferentChain { .. } => "different_chain",
            Self::Lagging { .. } => "lagging",
            Self::Stalled { .. } => "stalled",
            Self::Syncing => "syncing",
        }
    }
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::BadData { detail } => write!(f, "served data that fails verification: {detail}"),
            Self::LostVote { height, reported, agreed } => write!(
                f,
                "reported block {reported} at height {height} where the quorum agreed on {agreed}"
            ),
            Self::WrongChain { expected, got } => {
                write!(f, "reports chain id {got}, the config says {expected}")
            }
            Self::DifferentChain { genesis, expected } => {
                write!(f, "serves another chain: genesis {genesis}, expected {expected}")
            }
            Self::Lagging { behind } => write!(f, "head is {behind} blocks behind the best"),
            Self::Stalled { secs } => write!(f, "head has not moved for {secs} s"),
            Self::Syncing => f.write_str("reports that it is syncing"),
        }
    }
}

/// Whether an endpoint is trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// Counted in votes and used for data.
    Active,
    /// Benched: not asked, not counted.
    Quarantined {
        /// Why.
        fault: Fault,
        /// Since when.
        since: Instant,
        /// End of the penalty; `None` while the condition lasts.
        until: Option<Instant>,
    },
    /// Asked and checked, not counted, until `remaining` more blocks were right.
    Probation {
        /// Why it was benched.
        fault: Fault,
        /// Blocks still to answer correctly.
        remaining: u64,
    },
}

impl Standing {
    /// `active`, `quarantined` or `probation`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Quarantined { .. } => "quarantined",
            Self::Probation { .. } => "probation",
        }
    }
}

/// A change of standing worth reporting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    /// The endpoint was benched.
    Quarantined {
        /// Why.
        fault: Fault,
        /// The penalty, for offences.
        penalty: Option<Duration>,
        /// Offences so far.
        strikes: u32,
    },
    /// The quarantine is over; probation starts.
    ProbationStarted,
    /// Probation passed: the endpoint counts again.
    Readmitted,
}

/// What is known of one endpoint.
#[derive(Debug, Clone)]
pub struct EndpointHealth {
    /// Trusted or not.
    pub standing: Standing,
    /// Integrity offences so far (they make penalties grow).
    pub strikes: u32,
    /// Newest head it announced.
    pub head: Option<HeadSeen>,
    /// When that head was first seen.
    pub head_seen_at: Option<Instant>,
    /// Exponentially weighted mean request latency, in milliseconds.
    pub latency_ms: Option<f64>,
    /// Exponentially weighted mean time to serve a whole block (with receipts and traces), in
    /// milliseconds: what a block fetch is hedged against.
    pub fetch_ms: Option<f64>,
    /// Last `net_peerCount` (`None`: not offered or not probed yet).
    pub peers: Option<u64>,
    /// Last `eth_syncing` answer was a sync status.
    pub syncing: bool,
    /// Last `eth_chainId`.
    pub chain_id: Option<u64>,
    /// The last request succeeded (transport level).
    pub reachable: bool,
    /// The last transport or protocol error.
    pub last_error: Option<String>,
    /// Conditions already reported (kind names), so each is reported once per episode.
    pub reported: Vec<&'static str>,
    /// Since when requests succeed again after a transport failure (`None` while unreachable,
    /// or when it never failed). An outage is over only once this has lasted a while, so a
    /// request that gets through in the middle of an outage does not end it.
    pub reachable_since: Option<Instant>,
}

impl Default for EndpointHealth {
    fn default() -> Self {
        Self {
            standing: Standing::Active,
            strikes: 0,
            head: None,
            head_seen_at: None,
            latency_ms: None,
            fetch_ms: None,
            peers: None,
            syncing: false,
            chain_id: None,
            reachable: true,
            last_error: None,
            reported: Vec::new(),
            reachable_since: None,
        }
    }
}

impl EndpointHealth {
    /// True when the endpoint counts in votes and serves data: active and reachable.
    pub fn counts(&self) -> bool {
        self.standing == Standing::Active && self.reachable
    }

    /// True while on probation (asked and checked, not counted).
    pub fn on_probation(&self) -> bool {
        matches!(self.standing, Standing::Probation { .. })
    }

    /// True while quarantined.
    pub fn quarantined(&self) -> bool {
        matches!(self.standing, Standing::Quarantined { .. })
    }

    /// Records a head it announced.
    pub fn observe_head(&mut self, h: HeadSeen, now: Instant) {
        if self.head.map(|x| x.number) != Some(h.number) || self.head_seen_at.is_none() {
            self.head_seen_at = Some(now);
        }
        self.head = Some(h);
    }

    /// Records a successful request and its latency.
    pub fn observe_latency(&mut self, took: Duration) {
        let ms = took.as_secs_f64() * 1000.0;
        self.latency_ms = Some(match self.latency_ms {
            Some(m) => m * 0.8 + ms * 0.2,
            None => ms,
        });
        if !self.reachable {
            self.reachable_since = Some(Instant::now());
        }
        self.reachable = true;
    }

    /// Records a failed request.
    pub fn observe_error(&mut self, error: String, transport: bool) {
        if transport {
            self.reachable = false;
            self.reachable_since = None;
        }
        self.last_error = Some(error);
    }

    /// True while the endpoint is in an outage: unreachable now, or reachable again for less
    /// than `settle` after being unreachable (one request getting through does not end it).
    pub fn in_outage(&self, now: Instant, settle: Duration) -> bool {
        !self.reachable
            || self.reachable_since.is_some_and(|t| now.saturating_duration_since(t) < settle)
    }

    /// Benches the endpoint for `fault`. An offence adds a strike and a penalty of
    /// `quarantine_secs * 2^(strikes - 1)` (capped); a condition lasts until it clears. A fault
    /// while already quarantined for the same kind changes nothing (`None`); an offence found
    /// while quarantined for a condition replaces it.
    pub fn quarantine(
        &mut self,
        fault: Fault,
        now: Instant,
        p: &HealthPolicy,
    ) -> Option<Transition> {
        if let Standing::Quarantined { fault: f, until, .. } = &self.standing {
            if f.kind() == fault.kind() || (!fault.is_offence() || until.is_some()) {
                return None;
            }
        }
        let penalty = fault.is_offence().then(|| {
            self.strikes += 1;
            let factor =
                1u64.checked_shl(self.strikes.saturating_sub(1).min(32)).unwrap_or(u64::MAX);
            Duration::from_secs(
                p.quarantine_secs.saturating_mul(factor).min(p.max_quarantine_secs.max(1)),
            )
        });
        // Conditions already reported (an outage, few peers) stay reported: a quarantine during
        // the same episode does not make them new.
        self.standing = Standing::Quarantined {
            fault: fault.clone(),
            since: now,
            until: penalty.map(|d| now + d),
        };
        Some(Transition::Quarantined { fault, penalty, strikes: self.strikes })
    }

    /// Ends quarantines whose penalty is served: probation starts (or, with
    /// `probation_blocks = 0`, the endpoint is re-admitted at once).
    pub fn tick(&mut self, now: Instant, p: &HealthPolicy) -> Option<Transition> {
        match &self.standing {
            Standing::Quarantined { until: Some(u), fault, .. } if *u <= now => {
                let fault = fault.clone();
                Some(self.start_probation(fault, p))
            }
            _ => None,
        }
    }

    /// A quarantine for a condition whose condition cleared: probation starts.
    pub fn condition_cleared(&mut self, p: &HealthPolicy) -> Option<Transition> {
        match &self.standing {
            Standing::Quarantined { until: None, fault, .. } => {
                let fault = fault.clone();
                Some(self.start_probation(fault, p))
            }
            _ => None,
        }
    }

    fn start_probation(&mut self, fault: Fault, p: &HealthPolicy) -> Transition {
        if p.probation_blocks == 0 {
            self.standing = Standing::Active;
            return Transition::Readmitted;
        }
        self.standing = Standing::Probation { fault, remaining: p.probation_blocks };
        Transition::ProbationStarted
    }

    /// One block answered correctly while on probation. `Some(Readmitted)` when that was the
    /// last one needed.
    pub fn probation_passed(&mut self) -> Option<Transition> {
        if let Standing::Probation { remaining, .. } = &mut self.standing {
            *remaining = remaining.saturating_sub(1);
            if *remaining == 0 {
                self.standing = Standing::Active;
                return Some(Transition::Readmitted);
            }
        }
        None
    }

    /// The condition this endpoint is in, judged against the best head among endpoints: syncing,
    /// stalled (its head has not moved for `stall_secs` while the best is above it) or lagging
    /// (more than `max_lag_blocks` behind).
    pub fn condition(&self, best: Option<u64>, now: Instant, p: &HealthPolicy) -> Option<Fault> {
        if self.syncing {
            return Some(Fault::Syncing);
        }
        let (Some(best), Some(h)) = (best, self.head) else { return None };
        let behind = best.saturating_sub(h.number);
        if behind > 0 {
            if let Some(at) = self.head_seen_at {
                let secs = now.saturating_duration_since(at).as_secs();
                if secs >= p.stall_secs {
                    return Some(Fault::Stalled { secs });
                }
            }
        }
        (behind > p.max_lag_blocks).then_some(Fault::Lagging { behind })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> HealthPolicy {
        HealthPolicy {
            quarantine_secs: 10,
            max_quarantine_secs: 35,
            probation_blocks: 2,
            ..Default::default()
        }
    }

    fn bad() -> Fault {
        Fault::BadData { detail: "receipts root".into() }
    }

    #[test]
    fn penalties_double_with_each_offence_up_to_the_maximum() {
        let p = policy();
        let mut e = EndpointHealth::default();
        let t0 = Instant::now();
        let mut penalties = Vec::new();
        for k in 0..4u64 {
            let now = t0 + Duration::from_secs(1000 * k);
            match e.quarantine(bad(), now, &p) {
                Some(Transition::Quarantined { penalty: Some(d), strikes, .. }) => {
                    assert_eq!(strikes as u64, k + 1);
                    penalties.push(d.as_secs());
                }
                other => panic!("{other:?}"),
            }
            assert!(!e.counts());
            // Served: probation, then re-admitted after two good blocks.
            assert_eq!(
                e.tick(now + Duration::from_secs(36), &p),
                Some(Transition::ProbationStarted)
            );
            assert!(e.on_probation() && !e.counts());
            assert_eq!(e.probation_passed(), None);
            assert_eq!(e.probation_passed(), Some(Transition::Readmitted));
            assert!(e.counts());
        }
        assert_eq!(penalties, vec![10, 20, 35, 35]);
    }

    #[test]
    fn a_quarantine_is_not_over_before_its_penalty() {
        let p = policy();
        let mut e = EndpointHealth::default();
        let t0 = Instant::now();
        e.quarantine(bad(), t0, &p);
        assert_eq!(e.tick(t0 + Duration::from_secs(9), &p), None);
        assert!(e.quarantined());
        // A second report of the same offence while benched changes nothing.
        assert_eq!(e.quarantine(bad(), t0 + Duration::from_secs(1), &p), None);
        assert_eq!(e.strikes, 1);
        assert!(e.tick(t0 + Duration::from_secs(10), &p).is_some());
    }

    #[test]
    fn a_failure_on_probation_benches_again_with_a_longer_penalty() {
        let p = policy();
        let mut e = EndpointHealth::default();
        let t0 = Instant::now();
        e.quarantine(bad(), t0, &p);
        e.tick(t0 + Duration::from_secs(10), &p);
        let t = e.quarantine(bad(), t0 + Duration::from_secs(11), &p);
        assert!(
            matches!(t, Some(Transition::Quarantined { penalty: Some(d), strikes: 2, .. }) if d.as_secs() == 20)
        );
    }

    #[test]
    fn conditions_last_until_they_clear_and_add_no_strike() {
        let p = policy();
        let mut e = EndpointHealth::default();
        let t0 = Instant::now();
        e.observe_head(HeadSeen { number: 10, hash: B256::ZERO }, t0);
        assert_eq!(e.condition(Some(15), t0, &p), None, "5 behind is within max_lag_blocks");
        let f = e.condition(Some(16), t0, &p).unwrap();
        assert_eq!(f, Fault::Lagging { behind: 6 });
        assert!(matches!(
            e.quarantine(f, t0, &p),
            Some(Transition::Quarantined { penalty: None, strikes: 0, .. })
        ));
        assert_eq!(e.tick(t0 + Duration::from_secs(10_000), &p), None, "no timer on a condition");
        // An offence found meanwhile replaces the condition.
        assert!(e.quarantine(bad(), t0, &p).is_some());
        assert_eq!(e.strikes, 1);
        let mut e = EndpointHealth::default();
        e.quarantine(Fault::Syncing, t0, &p);
        assert_eq!(e.condition_cleared(&p), Some(Transition::ProbationStarted));
    }

    #[test]
    fn a_head_that_does_not_move_while_others_do_is_stalled() {
        let p = HealthPolicy { stall_secs: 30, ..policy() };
        let mut e = EndpointHealth::default();
        let t0 = Instant::now();
        e.observe_head(HeadSeen { number: 10, hash: B256::ZERO }, t0);
        // The same head announced again does not reset the clock.
        e.observe_head(HeadSeen { number: 10, hash: B256::ZERO }, t0 + Duration::from_secs(20));
        assert_eq!(
            e.condition(Some(10), t0 + Duration::from_secs(40), &p),
            None,
            "the whole chain is slow"
        );
        assert_eq!(
            e.condition(Some(11), t0 + Duration::from_secs(40), &p),
            Some(Fault::Stalled { secs: 40 })
        );
        let mut s = EndpointHealth { syncing: true, ..Default::default() };
        assert_eq!(s.condition(None, t0, &p), Some(Fault::Syncing));
        s.syncing = false;
        assert_eq!(s.condition(None, t0, &p), None);
    }

    /// Issue 11, defect 9: one outage was reported twice (the quarantine for the stall it
    /// caused cleared what had been reported; a request that got through ended it).
    #[test]
    fn an_outage_is_one_episode_through_a_quarantine_and_a_lucky_request() {
        let p = policy();
        let t0 = Instant::now();
        let mut e = EndpointHealth::default();
        e.observe_error("connection refused".into(), true);
        e.reported.push("unreachable");
        assert!(e.quarantine(Fault::Stalled { secs: 60 }, t0, &p).is_some());
        assert!(e.reported.contains(&"unreachable"), "still the same outage");
        e.observe_latency(Duration::from_millis(3));
        let settle = Duration::from_secs(10);
        assert!(e.in_outage(Instant::now(), settle), "one answer does not end it");
        assert!(!e.in_outage(Instant::now() + settle, settle), "answers for a while do");
        e.observe_error("connection refused".into(), true);
        assert!(e.in_outage(Instant::now() + settle, settle));
    }

    #[test]
    fn unreachable_endpoints_do_not_count() {
        let mut e = EndpointHealth::default();
        e.observe_error("connection refused".into(), true);
        assert!(!e.counts());
        e.observe_latency(Duration::from_millis(3));
        assert!(e.counts());
        e.observe_error("method not found".into(), false);
        assert!(e.counts());
    }
}
