//! `beacon_proposals`: missed slots (consecutive runs, and the share missed over a window) and
//! missed proposals of watched validators (a duty slot the next block skips over).

use super::{instance_id, SLOTS_PER_EPOCH};
use crate::journal::{Snapshots, Stepper};
use crate::{DetectError, Detector, Result};
use palisade_primitives::{BlockData, Finding, Findings, Severity};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::{BTreeMap, VecDeque};

/// Config of `beacon_proposals`.
#[derive(Debug, Clone, Serialize, Deserialize, palisade_derive::ConfigDoc)]
#[serde(deny_unknown_fields)]
pub struct BeaconProposalsConfig {
    /// Instance name.
    #[serde(default)]
    #[config(default = "none")]
    pub name: Option<String>,
    /// Limit to one chain.
    #[serde(default)]
    #[config(default = "every chain")]
    pub chain: Option<String>,
    /// Watched validators (indices); their missed proposals are high.
    #[serde(default)]
    pub validators: Vec<u64>,
    /// Slots over which the share of missed slots is taken.
    #[serde(default = "sixty_four")]
    pub window_slots: u64,
    /// Share of missed slots in the window that is reported.
    #[serde(default = "ten")]
    pub max_missed_pct: f64,
    /// Consecutive missed slots that are reported.
    #[serde(default = "three")]
    pub max_consecutive_missed: u64,
}

fn sixty_four() -> u64 {
    64
}

fn ten() -> f64 {
    10.0
}

fn three() -> u64 {
    3
}

/// Catalog entry.
pub const INFO: crate::About = crate::About {
    kind: "beacon_proposals",
    description: "Missed slots (runs of consecutive misses, share missed over a window) and missed proposals of watched validators.",
    needs_no_config: false,
};

/// The `beacon_proposals` detector.
#[derive(Debug)]
pub struct BeaconProposals {
    id: String,
    chain: String,
    cfg: BeaconProposalsConfig,
}

/// Recent slots and watched duties.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    /// (slot, slots missed just before it) of recent blocks.
    recent: VecDeque<(u64, u64)>,
    /// Proposer duties of watched validators: slot -> validator.
    duties: BTreeMap<u64, u64>,
    /// All proposers of the current epochs: slot -> validator (for evidence).
    proposers: BTreeMap<u64, u64>,
    /// The missed share is being reported.
    share_reported: bool,
}

impl BeaconProposals {
    /// Builds the detector for `chain`.
    pub fn build(cfg: BeaconProposalsConfig, chain: &str) -> Result<Box<dyn Detector>> {
        let id = instance_id("beacon_proposals", &cfg.name);
        if cfg.window_slots == 0 {
            return Err(DetectError::Config {
                detector: id,
                field: "window_slots".into(),
                reason: "must be at least 1".into(),
            });
        }
        Ok(Box::new(Snapshots::new(Self { id, chain: chain.into(), cfg })))
    }
}

impl Stepper for BeaconProposals {
    type State = State;

    fn id(&self) -> &str {
        &self.id
    }

    fn kind(&self) -> &'static str {
        "beacon_proposals"
    }

    fn step(&self, s: &mut State, b: &BlockData, out: &mut Findings) {
        let Some(info) = &b.beacon else { return };
        let at = b.block_ref();
        if let Some(e) = &info.epoch {
            for (slot, v) in &e.proposers {
                s.proposers.insert(*slot, *v);
                if self.cfg.validators.contains(v) {
                    s.duties.insert(*slot, *v);
                }
            }
        }
        let missed_slots: Vec<u64> =
            info.parent_slot.map_or(Vec::new(), |p| (p + 1..info.slot).collect());
        // Watched validators whose slot was skipped.
        for slot in &missed_slots {
            if let Some(v) = s.duties.get(slot) {
                out.push(
                    Finding::new(&self.id, "beacon_proposals", &self.chain, at, &format!("missed_proposal:{slot}"), Severity::High,
                        format!("Validator {v} missed its proposal at slot {slot}"))
                    .with_evidence(json!({"check": "missed_proposal", "validator": v, "slot": slot, "next_block_slot": info.slot})),
                );
            }
        }
        if missed_slots.len() as u64 >= self.cfg.max_consecutive_missed {
            let who: Vec<serde_json::Value> = missed_slots
                .iter()
                .map(|sl| json!({"slot": sl, "proposer": s.proposers.get(sl)}))
                .collect();
            out.push(
                Finding::new(
                    &self.id,
                    "beacon_proposals",
                    &self.chain,
                    at,
                    &format!("consecutive:{}", info.slot),
                    Severity::High,
                    format!(
                        "{} consecutive slots missed before slot {} ({}..={})",
                        missed_slots.len(),
                        info.slot,
                        missed_slots[0],
                        missed_slots[missed_slots.len() - 1]
                    ),
                )
                .with_evidence(
                    json!({"check": "consecutive_missed", "missed": who, "slot": info.slot}),
                ),
            );
        }
        s.recent.push_back((info.slot, missed_slots.len() as u64));
        let from = info.slot.saturating_sub(self.cfg.window_slots - 1);
        while s.recent.front().is_some_and(|(sl, _)| *sl < from) {
            s.recent.pop_front();
        }
        // Slots of the window that had no block (count the misses before each block in it).
        let missed: u64 = s.recent.iter().map(|(sl, m)| (*m).min(sl.saturating_sub(from))).sum();
        let pct = missed as f64 / self.cfg.window_slots as f64 * 100.0;
        let full = info.slot + 1 >= self.cfg.window_slots;
        if full && pct > self.cfg.max_missed_pct {
            if !s.share_reported {
                s.share_reported = true;
                out.push(
                    Finding::new(&self.id, "beacon_proposals", &self.chain, at, &format!("missed_share:{}", info.slot), Severity::Medium,
                        format!("{missed} of the last {} slots missed ({pct:.1} %)", self.cfg.window_slots))
                    .with_evidence(json!({"check": "missed_share", "missed": missed, "window_slots": self.cfg.window_slots, "missed_pct": (pct * 10.0).round() / 10.0})),
                );
            }
        } else {
            s.share_reported = false;
        }
        s.duties.retain(|slot, _| *slot > info.slot);
        let keep_from = (info.slot / SLOTS_PER_EPOCH).saturating_sub(1) * SLOTS_PER_EPOCH;
        s.proposers.retain(|slot, _| *slot >= keep_from);
    }
}
