//! `stake_concentration`: the share of active stake held by the largest entities (withdrawal
//! credentials, grouped by address for execution credentials, or by configured labels), the
//! Nakamoto coefficient (fewest entities holding more than a third), and a finding when an
//! entity crosses a third or two thirds of the stake, or the coefficient falls below a floor.

use super::instance_id;
use crate::journal::{Snapshots, Stepper};
use crate::{DetectError, Detector, Result};
use palisade_primitives::{Address, BlockData, Finding, Findings, Severity, B256};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;

/// Config of `stake_concentration`.
#[derive(Debug, Clone, Serialize, Deserialize, palisade_derive::ConfigDoc)]
#[serde(deny_unknown_fields)]
pub struct StakeConcentrationConfig {
    /// Instance name.
    #[serde(default)]
    #[config(default = "none")]
    pub name: Option<String>,
    /// Limit to one chain.
    #[serde(default)]
    #[config(default = "every chain")]
    pub chain: Option<String>,
    /// Entity labels: validators whose withdrawal credentials (32 bytes) or withdrawal address (20
    /// bytes) match count as that entity.
    #[serde(default)]
    #[config(nested)]
    pub labels: Vec<Label>,
    /// Share of one entity that is reported as high, percent.
    #[serde(default = "twenty_five")]
    pub warn_share_pct: f64,
    /// Lowest Nakamoto coefficient tolerated.
    #[serde(default = "four")]
    pub min_nakamoto: u64,
}

/// An entity label.
#[derive(Debug, Clone, Serialize, Deserialize, palisade_derive::ConfigDoc)]
#[serde(deny_unknown_fields)]
pub struct Label {
    /// Withdrawal credentials (32 bytes) or address (20 bytes), hex.
    pub credentials: String,
    /// The entity.
    pub label: String,
}

fn twenty_five() -> f64 {
    25.0
}

fn four() -> u64 {
    4
}

/// Catalog entry.
pub const INFO: crate::About = crate::About {
    kind: "stake_concentration",
    description: "Stake concentration from the validator set: largest entities' shares (by withdrawal credentials, address or label), the Nakamoto coefficient, and findings when an entity crosses 1/3 or 2/3 or the coefficient falls below a floor.",
    needs_no_config: true,
};

/// The `stake_concentration` detector.
#[derive(Debug)]
pub struct StakeConcentration {
    id: String,
    chain: String,
    cfg: StakeConcentrationConfig,
    by_credentials: BTreeMap<B256, String>,
    by_address: BTreeMap<Address, String>,
}

/// What is being reported.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    /// Entity -> level reported (1: warn, 2: a third, 3: two thirds).
    levels: BTreeMap<String, u8>,
    /// The Nakamoto coefficient reported as low.
    nakamoto: Option<u64>,
}

impl StakeConcentration {
    /// Builds the detector for `chain`.
    pub fn build(cfg: StakeConcentrationConfig, chain: &str) -> Result<Box<dyn Detector>> {
        let id = instance_id("stake_concentration", &cfg.name);
        let (mut by_credentials, mut by_address) = (BTreeMap::new(), BTreeMap::new());
        for (i, l) in cfg.labels.iter().enumerate() {
            if let Ok(c) = l.credentials.parse::<B256>() {
                by_credentials.insert(c, l.label.clone());
            } else if let Ok(a) = l.credentials.parse::<Address>() {
                by_address.insert(a, l.label.clone());
            } else {
                return Err(DetectError::Config {
                    detector: id,
                    field: format!("labels[{i}].credentials"),
                    reason: format!(
                        "{:?} is neither 32-byte credentials nor an address",
                        l.credentials
                    ),
                });
            }
        }
        Ok(Box::new(Snapshots::new(Self {
            id,
            chain: chain.into(),
            cfg,
            by_credentials,
            by_address,
        })))
    }

    /// The entity behind withdrawal credentials.
    fn entity(&self, c: &B256) -> String {
        if let Some(l) = self.by_credentials.get(c) {
            return l.clone();
        }
        // 0x01 and 0x02 credentials end with an execution address.
        if c[0] == 1 || c[0] == 2 {
            let a = Address::from_slice(&c[12..]);
            return self.by_address.get(&a).cloned().unwrap_or_else(|| format!("{a:#x}"));
        }
        format!("{c:#x}")
    }
}

impl Stepper for StakeConcentration {
    type State = State;

    fn id(&self) -> &str {
        &self.id
    }

    fn kind(&self) -> &'static str {
        "stake_concentration"
    }

    fn step(&self, s: &mut State, b: &BlockData, out: &mut Findings) {
        let Some(stake) =
            b.beacon.as_ref().and_then(|i| i.epoch.as_ref()).and_then(|e| e.stake.as_ref())
        else {
            return;
        };
        if stake.total_gwei == 0 {
            return;
        }
        let at = b.block_ref();
        let mut entities: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        for (c, g, n) in &stake.by_credentials {
            let e = entities.entry(self.entity(c)).or_default();
            e.0 += g;
            e.1 += n;
        }
        let mut ranked: Vec<(String, u64, u64)> =
            entities.into_iter().map(|(k, (g, n))| (k, g, n)).collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let total = stake.total_gwei as f64;
        let share = |g: u64| g as f64 / total * 100.0;
        let mut acc = 0u64;
        let mut nakamoto = 0u64;
        for (_, g, _) in &ranked {
            acc += g;
            nakamoto += 1;
            if acc * 3 > stake.total_gwei {
                break;
            }
        }
        let top: Vec<serde_json::Value> = ranked
            .iter()
            .take(10)
            .map(|(e, g, n)| json!({"entity": e, "stake_gwei": g, "validators": n, "share_pct": (share(*g) * 100.0).round() / 100.0}))
            .collect();
        let mut levels = BTreeMap::new();
        for (e, g, _) in &ranked {
            let level = if *g * 3 > stake.total_gwei * 2 {
                3
            } else if *g * 3 > stake.total_gwei {
                2
            } else if share(*g) > self.cfg.warn_share_pct {
                1
            } else {
                break;
            };
            levels.insert(e.clone(), level);
            if s.levels.get(e).is_none_or(|l| *l < level) {
                let (sev, what) = match level {
                    3 => (
                        Severity::Critical,
                        "more than two thirds of the stake: it alone can finalize",
                    ),
                    2 => (
                        Severity::Critical,
                        "more than a third of the stake: it alone can halt finality",
                    ),
                    _ => (Severity::High, "a dangerous share of the stake"),
                };
                out.push(
                    Finding::new(&self.id, "stake_concentration", &self.chain, at, &format!("entity:{e}:{level}"), sev,
                        format!("{e} holds {:.2} % of the active stake, {what}", share(*g)))
                    .with_evidence(json!({"check": "entity_share", "entity": e, "share_pct": (share(*g) * 100.0).round() / 100.0,
                        "nakamoto_coefficient": nakamoto, "active_validators": stake.active, "top": top})),
                );
            }
        }
        s.levels = levels;
        if nakamoto < self.cfg.min_nakamoto {
            if s.nakamoto.is_none_or(|n| nakamoto < n) {
                out.push(
                    Finding::new(&self.id, "stake_concentration", &self.chain, at, &format!("nakamoto:{nakamoto}"), Severity::High,
                        format!("Nakamoto coefficient {nakamoto}: {nakamoto} entities hold more than a third of the stake (floor {})", self.cfg.min_nakamoto))
                    .with_evidence(json!({"check": "nakamoto", "nakamoto_coefficient": nakamoto, "min_nakamoto": self.cfg.min_nakamoto, "top": top})),
                );
            }
            s.nakamoto = Some(nakamoto);
        } else {
            s.nakamoto = None;
        }
    }
}
