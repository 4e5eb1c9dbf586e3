//! On-call routing: which sinks a finding goes to, by detector, severity, chain and stage.

use palisade_primitives::{Finding, Severity, Stage};
use serde::{Deserialize, Serialize};

/// One `[[routes]]` entry: findings it matches go to its sinks. Every condition given must
/// hold; a condition left out matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// Detector ids (`rule:owner-change`) or types (`rule`).
    #[serde(default)]
    pub detectors: Vec<String>,
    /// At least this severity.
    #[serde(default)]
    pub min_severity: Option<Severity>,
    /// Chain names.
    #[serde(default)]
    pub chains: Vec<String>,
    /// `pending` (before inclusion) or `confirmed`.
    #[serde(default)]
    pub stages: Vec<Stage>,
    /// The sinks (by name) its findings go to.
    pub sinks: Vec<String>,
}

impl Route {
    /// True when `f` meets every condition.
    pub fn matches(&self, f: &Finding) -> bool {
        (self.detectors.is_empty()
            || self.detectors.iter().any(|d| *d == f.detector || *d == f.kind))
            && self.min_severity.is_none_or(|s| f.severity >= s)
            && (self.chains.is_empty() || self.chains.contains(&f.chain))
            && (self.stages.is_empty() || self.stages.contains(&f.stage()))
    }
}

/// The sinks `f` goes to: those of every route that matches it, in the order the routes name
/// them; when none matches, the default route (`default`).
pub fn sinks_for(routes: &[Route], default: &[String], f: &Finding) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in routes.iter().filter(|r| r.matches(f)) {
        for s in &r.sinks {
            if !out.contains(s) {
                out.push(s.clone());
            }
        }
    }
    if routes.iter().any(|r| r.matches(f)) {
        out
    } else {
        default.to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_primitives::{BlockRef, B256};

    fn f(detector: &str, kind: &str, chain: &str, sev: Severity) -> Finding {
        Finding::new(detector, kind, chain, BlockRef::new(1, B256::ZERO), "s", sev, "t")
    }

    #[test]
    fn routes_by_detector_severity_chain_and_stage_with_a_default() {
        let routes = vec![
            Route {
                min_severity: Some(Severity::Critical),
                sinks: vec!["pagerduty".into()],
                ..Default::default()
            },
            Route {
                detectors: vec!["sandwich".into()],
                chains: vec!["mainnet".into()],
                sinks: vec!["mev-desk".into(), "slack".into()],
                ..Default::default()
            },
            Route {
                stages: vec![Stage::Pending],
                sinks: vec!["responders-log".into()],
                ..Default::default()
            },
        ];
        let default = vec!["slack".to_string()];
        let s = |f: &Finding| sinks_for(&routes, &default, f);
        assert_eq!(s(&f("rule:x", "rule", "mainnet", Severity::Low)), ["slack"], "the default");
        assert_eq!(s(&f("rule:x", "rule", "base", Severity::Critical)), ["pagerduty"]);
        assert_eq!(s(&f("sandwich", "sandwich", "mainnet", Severity::High)), ["mev-desk", "slack"]);
        assert_eq!(s(&f("sandwich", "sandwich", "base", Severity::High)), ["slack"]);
        assert_eq!(
            s(&f("sandwich", "sandwich", "mainnet", Severity::Critical)),
            ["pagerduty", "mev-desk", "slack"],
            "every matching route, each sink once"
        );
        // By type as well as by id.
        let by_kind = vec![Route {
            detectors: vec!["rule".into()],
            sinks: vec!["r".into()],
            ..Default::default()
        }];
        assert_eq!(
            sinks_for(&by_kind, &default, &f("rule:owner", "rule", "m", Severity::Low)),
            ["r"]
        );
    }
}
