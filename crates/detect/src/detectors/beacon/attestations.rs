//! `beacon_attestations`: attestation performance of watched validators, from their attester
//! duties and the attestations included in blocks: missed (not included within an epoch), late
//! (included after `max_inclusion_distance` slots), wrong head vote, wrong target vote. Misses
//! are tiered by how many the validator had over the last `window_epochs`.

use super::{instance_id, tier, SLOTS_PER_EPOCH};
use crate::journal::{Snapshots, Stepper};
use crate::{Detector, Result};
use palisade_primitives::{BlockData, Finding, Findings, Severity, B256};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::{BTreeMap, VecDeque};

/// Config of `beacon_attestations`.
#[derive(Debug, Clone, Serialize, Deserialize, palisade_derive::ConfigDoc)]
#[serde(deny_unknown_fields)]
pub struct BeaconAttestationsConfig {
    /// Instance name.
    #[serde(default)]
    #[config(default = "none")]
    pub name: Option<String>,
    /// Limit to one chain.
    #[serde(default)]
    #[config(default = "every chain")]
    pub chain: Option<String>,
    /// Watched validators (indices); with none, every duty the source attaches, which is the
    /// chain's `watched_validators`.
    #[serde(default)]
    #[config(default = "`[]` (every duty read)")]
    pub validators: Vec<u64>,
    /// Inclusion distance from which an attestation is late.
    #[serde(default = "two")]
    pub max_inclusion_distance: u64,
    /// Epochs over which misses are counted.
    #[serde(default = "eight")]
    pub window_epochs: u64,
    /// Misses in the window for low, medium and high.
    #[serde(default = "tiers")]
    pub missed_tiers: [u64; 3],
}

fn two() -> u64 {
    2
}

fn eight() -> u64 {
    8
}

fn tiers() -> [u64; 3] {
    [1, 3, 6]
}

/// Catalog entry.
pub const INFO: crate::About = crate::About {
    kind: "beacon_attestations",
    description: "Watched validators' attestations: missed, late, wrong head or target vote, from their duties and the attestations included in blocks; misses tiered over a window.",
    needs_no_config: false,
};

/// The `beacon_attestations` detector.
#[derive(Debug)]
pub struct BeaconAttestations {
    id: String,
    chain: String,
    cfg: BeaconAttestationsConfig,
}

/// A duty not yet seen included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Pending {
    validator: u64,
    slot: u64,
    index: u64,
    position: u64,
}

/// Duties awaiting inclusion, recent block roots, recent misses.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    pending: Vec<Pending>,
    /// Slot -> root of recent canonical blocks.
    roots: BTreeMap<u64, B256>,
    /// (validator, epoch) of recent misses.
    misses: VecDeque<(u64, u64)>,
}

impl State {
    /// The canonical root at `slot`: the block of that slot, or the last one before it.
    fn root_at(&self, slot: u64) -> Option<B256> {
        self.roots.range(..=slot).next_back().map(|(_, r)| *r)
    }
}

impl BeaconAttestations {
    /// Builds the detector for `chain`.
    pub fn build(cfg: BeaconAttestationsConfig, chain: &str) -> Result<Box<dyn Detector>> {
        Ok(Box::new(Snapshots::new(Self {
            id: instance_id("beacon_attestations", &cfg.name),
            chain: chain.into(),
            cfg,
        })))
    }
}

impl Stepper for BeaconAttestations {
    type State = State;

    fn id(&self) -> &str {
        &self.id
    }

    fn kind(&self) -> &'static str {
        "beacon_attestations"
    }

    fn step(&self, s: &mut State, b: &BlockData, out: &mut Findings) {
        let Some(info) = &b.beacon else { return };
        let at = b.block_ref();
        if let Some(e) = &info.epoch {
            for d in &e.attester_duties {
                let watched =
                    self.cfg.validators.is_empty() || self.cfg.validators.contains(&d.validator);
                let p = Pending {
                    validator: d.validator,
                    slot: d.slot,
                    index: d.committee_index,
                    position: d.position,
                };
                if watched && !s.pending.contains(&p) {
                    s.pending.push(p);
                }
            }
        }
        // Inclusions in this block.
        let mut still = Vec::with_capacity(s.pending.len());
        for p in std::mem::take(&mut s.pending) {
            let inc = info
                .attestations
                .iter()
                .find(|a| a.slot == p.slot && a.index == p.index && a.has(p.position as usize));
            let Some(a) = inc else {
                still.push(p);
                continue;
            };
            let distance = info.slot.saturating_sub(p.slot);
            let epoch_start = a.target_epoch * SLOTS_PER_EPOCH;
            let head_ok = s.root_at(p.slot).is_none_or(|r| r == a.head);
            let target_ok = s.root_at(epoch_start).is_none_or(|r| r == a.target_root);
            let mut issues = Vec::new();
            let mut sev = Severity::Info;
            if distance > self.cfg.max_inclusion_distance {
                issues.push(format!("included {distance} slots late"));
                sev = sev.max(Severity::Low);
            }
            if !head_ok {
                issues.push("voted for another head".to_string());
                sev = sev.max(Severity::Low);
            }
            if !target_ok {
                issues.push("voted for another target".to_string());
                sev = sev.max(Severity::Medium);
            }
            if !issues.is_empty() {
                out.push(
                    Finding::new(&self.id, "beacon_attestations", &self.chain, at, &format!("attestation:{}:{}", p.validator, p.slot), sev,
                        format!("Validator {}'s attestation for slot {}: {}", p.validator, p.slot, issues.join(", ")))
                    .with_evidence(json!({"check": "attestation_quality", "validator": p.validator, "slot": p.slot, "inclusion_slot": info.slot,
                        "inclusion_distance": distance, "head_ok": head_ok, "target_ok": target_ok, "head": a.head, "target_root": a.target_root})),
                );
            }
        }
        s.pending = still;
        // Duties an epoch old and still not included: missed.
        let epoch = info.slot / SLOTS_PER_EPOCH;
        let (expired, live): (Vec<Pending>, Vec<Pending>) = std::mem::take(&mut s.pending)
            .into_iter()
            .partition(|p| p.slot + SLOTS_PER_EPOCH < info.slot);
        s.pending = live;
        for p in expired {
            let e = p.slot / SLOTS_PER_EPOCH;
            s.misses.push_back((p.validator, e));
            let count = s
                .misses
                .iter()
                .filter(|(v, me)| *v == p.validator && *me + self.cfg.window_epochs > epoch)
                .count() as u64;
            let sev = tier(count, &self.cfg.missed_tiers).unwrap_or(Severity::Info);
            out.push(
                Finding::new(&self.id, "beacon_attestations", &self.chain, at, &format!("missed:{}:{}", p.validator, p.slot), sev,
                    format!("Validator {} missed its attestation for slot {} ({count} missed in the last {} epochs)", p.validator, p.slot, self.cfg.window_epochs))
                .with_evidence(json!({"check": "missed_attestation", "validator": p.validator, "slot": p.slot, "committee_index": p.index,
                    "missed_in_window": count, "window_epochs": self.cfg.window_epochs})),
            );
        }
        while s.misses.front().is_some_and(|(_, e)| e + self.cfg.window_epochs <= epoch) {
            s.misses.pop_front();
        }
        s.roots.insert(info.slot, info.root);
        let keep = info.slot.saturating_sub(3 * SLOTS_PER_EPOCH);
        s.roots.retain(|sl, _| *sl >= keep);
    }
}
