//! `beacon_finality`: epochs since the last finalized checkpoint (an inactivity leak begins
//! after four) and since the last justified one, read from each epoch's finality checkpoints.

use super::{instance_id, SLOTS_PER_EPOCH};
use crate::journal::{Snapshots, Stepper};
use crate::{Detector, Result};
use palisade_primitives::{BlockData, Finding, Findings, Severity};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Config of `beacon_finality`.
#[derive(Debug, Clone, Serialize, Deserialize, palisade_derive::ConfigDoc)]
#[serde(deny_unknown_fields)]
pub struct BeaconFinalityConfig {
    /// Instance name (the id is `beacon_finality`).
    #[serde(default)]
    #[config(default = "none")]
    pub name: Option<String>,
    /// Limit to one chain.
    #[serde(default)]
    #[config(default = "every chain")]
    pub chain: Option<String>,
    /// Epochs since finality from which it is reported as high (2 is normal).
    #[serde(default = "four")]
    pub max_epochs_since_finality: u64,
    /// Epochs since finality from which it is critical: the inactivity leak is draining offline
    /// validators.
    #[serde(default = "five")]
    pub leak_epochs: u64,
    /// Epochs since the last justified checkpoint from which a justification stall is reported.
    #[serde(default = "three")]
    pub max_epochs_since_justified: u64,
}

fn three() -> u64 {
    3
}

fn four() -> u64 {
    4
}

fn five() -> u64 {
    5
}

/// Catalog entry.
pub const INFO: crate::About = crate::About {
    kind: "beacon_finality",
    description: "Beacon chain finality: epochs since the last finalized checkpoint (high, then critical when the inactivity leak starts) and justification stalls.",
    needs_no_config: false,
};

/// The `beacon_finality` detector.
#[derive(Debug)]
pub struct BeaconFinality {
    id: String,
    chain: String,
    cfg: BeaconFinalityConfig,
}

/// What was reported for the current episodes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    /// (finalized epoch, severity) reported.
    finality: Option<(u64, Severity)>,
    /// Justified epoch reported as stalled.
    justification: Option<u64>,
}

impl BeaconFinality {
    /// Builds the detector for `chain`.
    pub fn build(cfg: BeaconFinalityConfig, chain: &str) -> Result<Box<dyn Detector>> {
        Ok(Box::new(Snapshots::new(Self {
            id: instance_id("beacon_finality", &cfg.name),
            chain: chain.into(),
            cfg,
        })))
    }
}

impl Stepper for BeaconFinality {
    type State = State;

    fn id(&self) -> &str {
        &self.id
    }

    fn kind(&self) -> &'static str {
        "beacon_finality"
    }

    fn step(&self, s: &mut State, b: &BlockData, out: &mut Findings) {
        let Some(info) = &b.beacon else { return };
        let Some(f) = &info.finality else { return };
        let epoch = info.slot / SLOTS_PER_EPOCH;
        let since = epoch.saturating_sub(f.finalized_epoch);
        let sev = if since >= self.cfg.leak_epochs {
            Some(Severity::Critical)
        } else if since >= self.cfg.max_epochs_since_finality {
            Some(Severity::High)
        } else {
            None
        };
        match sev {
            Some(sev) if s.finality.is_none_or(|(e, r)| e != f.finalized_epoch || r < sev) => {
                s.finality = Some((f.finalized_epoch, sev));
                let what = if sev == Severity::Critical {
                    "the inactivity leak has started"
                } else {
                    "finality is delayed"
                };
                out.push(
                    Finding::new(&self.id, "beacon_finality", &self.chain, b.block_ref(), &format!("finality:{}:{sev}", f.finalized_epoch), sev,
                        format!("No finality for {since} epochs (last finalized epoch {}, now epoch {epoch}): {what}", f.finalized_epoch))
                    .with_evidence(json!({"check": "finality", "epoch": epoch, "finalized_epoch": f.finalized_epoch, "epochs_since_finality": since,
                        "justified_epoch": f.justified_epoch, "finalized_root": f.finalized_root})),
                );
            }
            None => s.finality = None,
            _ => {}
        }
        let since_j = epoch.saturating_sub(f.justified_epoch);
        if since_j >= self.cfg.max_epochs_since_justified {
            if s.justification != Some(f.justified_epoch) {
                s.justification = Some(f.justified_epoch);
                out.push(
                    Finding::new(&self.id, "beacon_finality", &self.chain, b.block_ref(), &format!("justification:{}", f.justified_epoch), Severity::High,
                        format!("No justification for {since_j} epochs (last justified epoch {}, now epoch {epoch})", f.justified_epoch))
                    .with_evidence(json!({"check": "justification", "epoch": epoch, "justified_epoch": f.justified_epoch, "epochs_since_justified": since_j})),
                );
            }
        } else {
            s.justification = None;
        }
    }
}
