//! `beacon_validators`: epoch transitions of the validator set: voluntary exits and deposits per
//! epoch above thresholds (churn), and watched validators' balance drops and status changes.

use super::{instance_id, SLOTS_PER_EPOCH};
use crate::journal::{Snapshots, Stepper};
use crate::{Detector, Result};
use palisade_primitives::{BlockData, Finding, Findings, Severity};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;

/// Config of `beacon_validators`.
#[derive(Debug, Clone, Serialize, Deserialize, palisade_derive::ConfigDoc)]
#[serde(deny_unknown_fields)]
pub struct BeaconValidatorsConfig {
    /// Instance name.
    #[serde(default)]
    #[config(default = "none")]
    pub name: Option<String>,
    /// Limit to one chain.
    #[serde(default)]
    #[config(default = "every chain")]
    pub chain: Option<String>,
    /// Voluntary exits included in one epoch that are reported.
    #[serde(default = "sixteen")]
    pub max_exits_per_epoch: u64,
    /// Deposits included in one epoch that are reported.
    #[serde(default = "sixty_four")]
    pub max_deposits_per_epoch: u64,
    /// A watched validator's balance drop between two epochs that is reported, in gwei (0.001 ETH,
    /// well above missed-duty penalties).
    #[serde(default = "milli_eth")]
    pub max_balance_drop_gwei: u64,
}

fn sixteen() -> u64 {
    16
}

fn sixty_four() -> u64 {
    64
}

fn milli_eth() -> u64 {
    1_000_000
}

/// Catalog entry.
pub const INFO: crate::About = crate::About {
    kind: "beacon_validators",
    description: "Validator-set transitions: voluntary exits and deposits per epoch above thresholds, watched validators' balance drops and status changes (exits, ejections, slashing).",
    needs_no_config: true,
};

/// The `beacon_validators` detector.
#[derive(Debug)]
pub struct BeaconValidators {
    id: String,
    chain: String,
    cfg: BeaconValidatorsConfig,
}

/// The epoch being counted and the watched validators' last state.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    /// (epoch, exits, deposits) counted so far.
    epoch: Option<(u64, u64, u64)>,
    /// Validator -> (epoch, balance, status).
    last: BTreeMap<u64, (u64, u64, String)>,
}

impl BeaconValidators {
    /// Builds the detector for `chain`.
    pub fn build(cfg: BeaconValidatorsConfig, chain: &str) -> Result<Box<dyn Detector>> {
        Ok(Box::new(Snapshots::new(Self {
            id: instance_id("beacon_validators", &cfg.name),
            chain: chain.into(),
            cfg,
        })))
    }
}

impl Stepper for BeaconValidators {
    type State = State;

    fn id(&self) -> &str {
        &self.id
    }

    fn kind(&self) -> &'static str {
        "beacon_validators"
    }

    fn step(&self, s: &mut State, b: &BlockData, out: &mut Findings) {
        let Some(info) = &b.beacon else { return };
        let at = b.block_ref();
        let epoch = info.slot / SLOTS_PER_EPOCH;
        // A new epoch: judge the one that ended.
        if let Some((e, exits, deposits)) = s.epoch.filter(|(e, _, _)| *e < epoch) {
            if exits > self.cfg.max_exits_per_epoch {
                out.push(
                    Finding::new(&self.id, "beacon_validators", &self.chain, at, &format!("exits:{e}"), Severity::Medium,
                        format!("{exits} voluntary exits in epoch {e} (threshold {})", self.cfg.max_exits_per_epoch))
                    .with_evidence(json!({"check": "exit_churn", "epoch": e, "exits": exits, "max_exits_per_epoch": self.cfg.max_exits_per_epoch})),
                );
            }
            if deposits > self.cfg.max_deposits_per_epoch {
                out.push(
                    Finding::new(
                        &self.id,
                        "beacon_validators",
                        &self.chain,
                        at,
                        &format!("deposits:{e}"),
                        Severity::Low,
                        format!(
                            "{deposits} deposits in epoch {e} (threshold {})",
                            self.cfg.max_deposits_per_epoch
                        ),
                    )
                    .with_evidence(
                        json!({"check": "deposit_churn", "epoch": e, "deposits": deposits}),
                    ),
                );
            }
            s.epoch = None;
        }
        let (_, exits, deposits) = s.epoch.get_or_insert((epoch, 0, 0));
        *exits += info.exits.len() as u64;
        *deposits += u64::from(info.deposits);
        for v in info.epoch.iter().flat_map(|e| e.validators.iter()) {
            if let Some((pe, pb, ps)) = s.last.get(&v.index).cloned() {
                let drop = pb.saturating_sub(v.balance);
                if drop > self.cfg.max_balance_drop_gwei {
                    out.push(
                        Finding::new(&self.id, "beacon_validators", &self.chain, at, &format!("balance:{}:{epoch}", v.index), Severity::High,
                            format!("Validator {} lost {} ETH ({drop} gwei) between epochs {pe} and {epoch}", v.index, palisade_primitives::units::scaled(&drop.to_string(), 9)))
                        .with_evidence(json!({"check": "balance_drop", "validator": v.index, "from_gwei": pb, "to_gwei": v.balance, "drop_gwei": drop, "from_epoch": pe, "epoch": epoch})),
                    );
                }
                if ps != v.status {
                    let sev = if v.status.contains("slashed") {
                        Severity::Critical
                    } else if v.status.starts_with("exited")
                        || v.status.starts_with("withdrawal")
                        || v.status.contains("exiting")
                    {
                        Severity::Medium
                    } else {
                        Severity::Low
                    };
                    out.push(
                        Finding::new(&self.id, "beacon_validators", &self.chain, at, &format!("status:{}:{epoch}", v.index), sev,
                            format!("Validator {} changed status from {ps} to {} in epoch {epoch}", v.index, v.status))
                        .with_evidence(json!({"check": "status_change", "validator": v.index, "from": ps, "to": v.status, "epoch": epoch})),
                    );
                }
            }
            s.last.insert(v.index, (epoch, v.balance, v.status.clone()));
        }
    }
}
