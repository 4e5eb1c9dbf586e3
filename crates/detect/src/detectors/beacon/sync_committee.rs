//! `beacon_sync_committee`: sync-committee participation, network-wide (the average share of the
//! 512 members signing over a window of blocks) and per watched member (blocks it did not sign
//! in over the window, tiered).

use super::{instance_id, tier};
use crate::journal::{Snapshots, Stepper};
use crate::{DetectError, Detector, Result};
use palisade_primitives::{BlockData, Finding, Findings, Severity};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::{BTreeMap, VecDeque};

/// Config of `beacon_sync_committee`.
#[derive(Debug, Clone, Serialize, Deserialize, palisade_derive::ConfigDoc)]
#[serde(deny_unknown_fields)]
pub struct BeaconSyncCommitteeConfig {
    /// Instance name.
    #[serde(default)]
    #[config(default = "none")]
    pub name: Option<String>,
    /// Limit to one chain.
    #[serde(default)]
    #[config(default = "every chain")]
    pub chain: Option<String>,
    /// Watched validators.
    #[serde(default)]
    #[config(default = "`[]` (every duty read)")]
    pub validators: Vec<u64>,
    /// Blocks in the window.
    #[serde(default = "thirty_two")]
    pub window_blocks: usize,
    /// Average participation below which the network is reported, percent.
    #[serde(default = "eighty")]
    pub min_participation_pct: f64,
    /// Blocks a watched member missed in the window, for low, medium, high.
    #[serde(default = "tiers")]
    pub missed_tiers: [u64; 3],
}

fn thirty_two() -> usize {
    32
}

fn eighty() -> f64 {
    80.0
}

fn tiers() -> [u64; 3] {
    [4, 16, 32]
}

/// Catalog entry.
pub const INFO: crate::About = crate::About {
    kind: "beacon_sync_committee",
    description: "Sync-committee participation: the network's average over a window, and blocks each watched member did not sign, tiered.",
    needs_no_config: false,
};

/// The `beacon_sync_committee` detector.
#[derive(Debug)]
pub struct BeaconSyncCommittee {
    id: String,
    chain: String,
    cfg: BeaconSyncCommitteeConfig,
}

/// Recent participation and members.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    recent: VecDeque<u32>,
    /// Watched member -> its positions in the committee.
    positions: BTreeMap<u64, Vec<u64>>,
    /// Watched member -> 1 for each recent block it did not sign, 0 otherwise.
    missed: BTreeMap<u64, VecDeque<u8>>,
    /// Severity reported per member in the current episode.
    reported: BTreeMap<u64, Severity>,
    network_reported: bool,
}

impl BeaconSyncCommittee {
    /// Builds the detector for `chain`.
    pub fn build(cfg: BeaconSyncCommitteeConfig, chain: &str) -> Result<Box<dyn Detector>> {
        let id = instance_id("beacon_sync_committee", &cfg.name);
        if cfg.window_blocks == 0 {
            return Err(DetectError::Config {
                detector: id,
                field: "window_blocks".into(),
                reason: "must be at least 1".into(),
            });
        }
        Ok(Box::new(Snapshots::new(Self { id, chain: chain.into(), cfg })))
    }
}

impl Stepper for BeaconSyncCommittee {
    type State = State;

    fn id(&self) -> &str {
        &self.id
    }

    fn kind(&self) -> &'static str {
        "beacon_sync_committee"
    }

    fn step(&self, s: &mut State, b: &BlockData, out: &mut Findings) {
        let Some(info) = &b.beacon else { return };
        let at = b.block_ref();
        if let Some(e) = &info.epoch {
            if !e.sync_duties.is_empty() {
                s.positions.clear();
                for (v, pos) in &e.sync_duties {
                    if self.cfg.validators.is_empty() || self.cfg.validators.contains(v) {
                        s.positions.insert(*v, pos.clone());
                    }
                }
            }
        }
        let Some(n) = info.sync_participants else { return };
        s.recent.push_back(n);
        while s.recent.len() > self.cfg.window_blocks {
            s.recent.pop_front();
        }
        let avg =
            s.recent.iter().map(|x| f64::from(*x)).sum::<f64>() / s.recent.len() as f64 / 512.0
                * 100.0;
        if s.recent.len() == self.cfg.window_blocks && avg < self.cfg.min_participation_pct {
            if !s.network_reported {
                s.network_reported = true;
                out.push(
                    Finding::new(&self.id, "beacon_sync_committee", &self.chain, at, &format!("participation:{}", info.slot), Severity::Medium,
                        format!("Sync-committee participation averaged {avg:.1} % over the last {} blocks (minimum {} %)", self.cfg.window_blocks, self.cfg.min_participation_pct))
                    .with_evidence(json!({"check": "network_participation", "average_pct": (avg * 10.0).round() / 10.0, "window_blocks": self.cfg.window_blocks, "slot": info.slot})),
                );
            }
        } else {
            s.network_reported = false;
        }
        let bits = info.sync_bits.clone().unwrap_or_default();
        let signed = |p: u64| bits.get(p as usize / 8).is_some_and(|byte| byte >> (p % 8) & 1 == 1);
        let members: Vec<(u64, Vec<u64>)> =
            s.positions.iter().map(|(v, p)| (*v, p.clone())).collect();
        for (v, pos) in members {
            let miss = u8::from(!pos.iter().all(|p| signed(*p)));
            let w = s.missed.entry(v).or_default();
            w.push_back(miss);
            while w.len() > self.cfg.window_blocks {
                w.pop_front();
            }
            let count: u64 = w.iter().map(|x| u64::from(*x)).sum();
            match tier(count, &self.cfg.missed_tiers) {
                Some(sev) if s.reported.get(&v).is_none_or(|r| *r < sev) => {
                    s.reported.insert(v, sev);
                    out.push(
                        Finding::new(&self.id, "beacon_sync_committee", &self.chain, at, &format!("member:{v}:{sev}"), sev,
                            format!("Validator {v} did not sign in {count} of the last {} blocks as a sync-committee member", w.len()))
                        .with_evidence(json!({"check": "member_missed", "validator": v, "missed": count, "window_blocks": w.len(), "positions": pos, "slot": info.slot})),
                    );
                }
                None => {
                    s.reported.remove(&v);
                }
                _ => {}
            }
        }
    }
}
