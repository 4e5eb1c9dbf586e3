//! `beacon_slashings`: proposer and attester slashings included in blocks (high), and watched
//! validators slashed (critical), whether seen in a block or in their status.

use super::instance_id;
use crate::journal::{Snapshots, Stepper};
use crate::{Detector, Result};
use palisade_primitives::{BlockData, Finding, Findings, Severity};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeSet;

/// Config of `beacon_slashings`.
#[derive(Debug, Clone, Serialize, Deserialize, palisade_derive::ConfigDoc)]
#[serde(deny_unknown_fields)]
pub struct BeaconSlashingsConfig {
    /// Instance name.
    #[serde(default)]
    #[config(default = "none")]
    pub name: Option<String>,
    /// Limit to one chain.
    #[serde(default)]
    #[config(default = "every chain")]
    pub chain: Option<String>,
    /// Watched validators: their slashing is critical.
    #[serde(default)]
    pub validators: Vec<u64>,
}

/// Catalog entry.
pub const INFO: crate::About = crate::About {
    kind: "beacon_slashings",
    description: "Proposer and attester slashings included in blocks (high) and watched validators slashed (critical).",
    needs_no_config: true,
};

/// The `beacon_slashings` detector.
#[derive(Debug)]
pub struct BeaconSlashings {
    id: String,
    chain: String,
    cfg: BeaconSlashingsConfig,
}

/// Watched validators already reported slashed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    reported: BTreeSet<u64>,
}

impl BeaconSlashings {
    /// Builds the detector for `chain`.
    pub fn build(cfg: BeaconSlashingsConfig, chain: &str) -> Result<Box<dyn Detector>> {
        Ok(Box::new(Snapshots::new(Self {
            id: instance_id("beacon_slashings", &cfg.name),
            chain: chain.into(),
            cfg,
        })))
    }
}

impl Stepper for BeaconSlashings {
    type State = State;

    fn id(&self) -> &str {
        &self.id
    }

    fn kind(&self) -> &'static str {
        "beacon_slashings"
    }

    fn step(&self, s: &mut State, b: &BlockData, out: &mut Findings) {
        let Some(info) = &b.beacon else { return };
        let at = b.block_ref();
        let mut slashed: Vec<(u64, &str)> =
            info.proposer_slashings.iter().map(|v| (*v, "proposer")).collect();
        for list in &info.attester_slashings {
            slashed.extend(list.iter().map(|v| (*v, "attester")));
        }
        for (i, (v, kind)) in slashed.iter().enumerate() {
            let watched = self.cfg.validators.contains(v);
            if watched {
                s.reported.insert(*v);
            }
            out.push(
                Finding::new(&self.id, "beacon_slashings", &self.chain, at, &format!("{kind}:{v}:{i}"), if watched { Severity::Critical } else { Severity::High },
                    format!("{} validator {v} slashed ({kind} slashing) in slot {}", if watched { "Watched" } else { "A" }, info.slot))
                .with_evidence(json!({"check": format!("{kind}_slashing"), "validator": v, "watched": watched, "slot": info.slot})),
            );
        }
        for v in info.epoch.iter().flat_map(|e| e.validators.iter()) {
            if v.slashed && self.cfg.validators.contains(&v.index) && s.reported.insert(v.index) {
                out.push(
                    Finding::new(&self.id, "beacon_slashings", &self.chain, at, &format!("status:{}", v.index), Severity::Critical,
                        format!("Watched validator {} is slashed (status {})", v.index, v.status))
                    .with_evidence(json!({"check": "watched_slashed", "validator": v.index, "status": v.status, "balance_gwei": v.balance})),
                );
            }
        }
    }
}
