//! `comet_validators`: a CometBFT validator set block by block (blocks carry
//! [`palisade_primitives::consensus::CometInfo`]): changes moving more than a share of the
//! voting power, a validator reaching a dangerous share, watched validators' missed blocks over a
//! window (tiered), validators leaving the set (jailed, unbonded or tombstoned), and double-sign
//! or light-client-attack evidence included in blocks. A stalled chain is `chain_health`'s.

use crate::detectors::beacon::instance_id;
use crate::journal::{Snapshots, Stepper};
use crate::{DetectError, Detector, Result};
use palisade_primitives::{BlockData, Finding, Findings, Severity};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::{BTreeMap, VecDeque};

/// Config of `comet_validators`.
#[derive(Debug, Clone, Serialize, Deserialize, palisade_derive::ConfigDoc)]
#[serde(deny_unknown_fields)]
pub struct CometValidatorsConfig {
    /// Instance name.
    #[serde(default)]
    #[config(default = "none")]
    pub name: Option<String>,
    /// Limit to one chain.
    #[serde(default)]
    #[config(default = "every chain")]
    pub chain: Option<String>,
    /// Watched validators, whose misses are counted and whose leaving or double signing is
    /// critical: consensus addresses as 40 hex digits (as in CometBFT blocks) or bech32
    /// (`cosmosvalcons1...`); an account or operator address (`cosmos1...`,
    /// `cosmosvaloper1...`) is refused, since it never signs a block.
    #[serde(default)]
    pub validators: Vec<String>,
    /// Blocks over which misses are counted.
    #[serde(default = "hundred")]
    pub window_blocks: usize,
    /// Missed blocks in the window for low, medium, high and critical.
    #[serde(default = "tiers")]
    pub missed_tiers: [u64; 4],
    /// Share of the voting power a validator-set change may move.
    #[serde(default = "ten")]
    pub max_set_change_pct: f64,
    /// A validator's share of the voting power that is dangerous (it can halt the chain alone).
    #[serde(default = "third")]
    pub dangerous_share_pct: f64,
}

fn hundred() -> usize {
    100
}

fn tiers() -> [u64; 4] {
    [5, 25, 50, 100]
}

fn ten() -> f64 {
    10.0
}

fn third() -> f64 {
    100.0 / 3.0
}

/// Catalog entry.
pub const INFO: crate::About = crate::About {
    kind: "comet_validators",
    description: "CometBFT validator set: changes moving a share of the power, a validator at a dangerous share, watched validators' missed blocks (tiered), validators leaving the set, double-sign evidence.",
    needs_no_config: true,
};

/// The `comet_validators` detector.
#[derive(Debug)]
pub struct CometValidators {
    id: String,
    chain: String,
    cfg: CometValidatorsConfig,
    watched: Vec<String>,
}

/// The previous set, recent misses, what is being reported.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    set: BTreeMap<String, u64>,
    missed: BTreeMap<String, VecDeque<u8>>,
    reported: BTreeMap<String, Severity>,
    dangerous: BTreeMap<String, bool>,
}

/// A watched validator's consensus address as CometBFT writes it in blocks (40 upper-case hex
/// digits), from hex (with or without `0x`) or from its bech32 consensus form
/// (`cosmosvalcons1...`); an account or operator address (`cosmos1...`, `cosmosvaloper1...`) is
/// refused with what to give instead, since it would never match a signature.
fn validator_address(a: &str) -> std::result::Result<String, String> {
    let a = a.trim();
    let hex = a.trim_start_matches("0x");
    if hex.len() == 40 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Ok(hex.to_uppercase());
    }
    match subtle_encoding::bech32::decode(a) {
        Ok((hrp, data)) if hrp.ends_with("valcons") && data.len() == 20 => {
            Ok(data.iter().map(|b| format!("{b:02X}")).collect())
        }
        Ok((hrp, _)) if hrp.ends_with("valcons") => {
            Err(format!("{a:?}: a consensus address holds 20 bytes"))
        }
        Ok((hrp, _)) => Err(format!(
            "{a:?} is a {hrp} address (an account or operator address), which never signs blocks: give the validator's consensus address ({}valcons1...) or its 40 hex digits",
            hrp.trim_end_matches("valoper")
        )),
        Err(_) => Err(format!(
            "{a:?}: expected 40 hex digits or a bech32 consensus address (...valcons1...)"
        )),
    }
}

impl CometValidators {
    /// Builds the detector for `chain`.
    pub fn build(cfg: CometValidatorsConfig, chain: &str) -> Result<Box<dyn Detector>> {
        let id = instance_id("comet_validators", &cfg.name);
        if cfg.window_blocks == 0 {
            return Err(DetectError::Config {
                detector: id,
                field: "window_blocks".into(),
                reason: "must be at least 1".into(),
            });
        }
        let watched = cfg
            .validators
            .iter()
            .enumerate()
            .map(|(i, a)| {
                validator_address(a).map_err(|reason| DetectError::Config {
                    detector: id.clone(),
                    field: format!("validators[{i}]"),
                    reason,
                })
            })
            .collect::<Result<_>>()?;
        Ok(Box::new(Snapshots::new(Self { id, chain: chain.into(), cfg, watched })))
    }

    fn tier(&self, n: u64) -> Option<Severity> {
        let t = &self.cfg.missed_tiers;
        [(3, Severity::Critical), (2, Severity::High), (1, Severity::Medium), (0, Severity::Low)]
            .into_iter()
            .find(|(i, _)| n >= t[*i])
            .map(|(_, s)| s)
    }
}

impl Stepper for CometValidators {
    type State = State;

    fn id(&self) -> &str {
        &self.id
    }

    fn kind(&self) -> &'static str {
        "comet_validators"
    }

    fn step(&self, s: &mut State, b: &BlockData, out: &mut Findings) {
        let Some(info) = &b.comet else { return };
        let at = b.block_ref();
        let h = info.height;
        let set: BTreeMap<String, u64> =
            info.validators.iter().map(|(a, p)| (a.to_uppercase(), *p)).collect();
        let total: u64 = set.values().sum();
        // Set changes against the previous height.
        if !s.set.is_empty() && s.set != set {
            let before: u64 = s.set.values().sum();
            let moved: u64 = s
                .set
                .keys()
                .chain(set.keys())
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .map(|a| {
                    s.set.get(a).copied().unwrap_or(0).abs_diff(set.get(a).copied().unwrap_or(0))
                })
                .sum::<u64>()
                / 2;
            let pct = moved as f64 / before.max(total).max(1) as f64 * 100.0;
            let added: Vec<&String> = set.keys().filter(|a| !s.set.contains_key(*a)).collect();
            let removed: Vec<&String> = s.set.keys().filter(|a| !set.contains_key(*a)).collect();
            if pct > self.cfg.max_set_change_pct {
                out.push(
                    Finding::new(&self.id, "comet_validators", &self.chain, at, &format!("set_change:{h}"), Severity::High,
                        format!("The validator set changed at height {h}: {pct:.1} % of the voting power moved ({} added, {} removed)", added.len(), removed.len()))
                    .with_evidence(json!({"check": "set_change", "height": h, "moved_power": moved, "moved_pct": (pct * 10.0).round() / 10.0, "added": added, "removed": removed})),
                );
            }
            for a in removed {
                let watched = self.watched.contains(a);
                out.push(
                    Finding::new(&self.id, "comet_validators", &self.chain, at, &format!("left:{a}:{h}"), if watched { Severity::Critical } else { Severity::Medium },
                        format!("Validator {a} left the set at height {h} (jailed, unbonded or tombstoned)"))
                    .with_evidence(json!({"check": "left_set", "validator": a, "height": h, "watched": watched, "power_before": s.set.get(a)})),
                );
            }
        }
        // Dangerous shares.
        for (a, p) in &set {
            let share = *p as f64 / total.max(1) as f64 * 100.0;
            let danger = share >= self.cfg.dangerous_share_pct;
            if danger && !s.dangerous.get(a).copied().unwrap_or(false) {
                out.push(
                    Finding::new(&self.id, "comet_validators", &self.chain, at, &format!("share:{a}:{h}"), Severity::Critical,
                        format!("Validator {a} holds {share:.1} % of the voting power at height {h}: it can halt the chain alone"))
                    .with_evidence(json!({"check": "dangerous_share", "validator": a, "height": h, "share_pct": (share * 10.0).round() / 10.0, "power": p, "total_power": total})),
                );
            }
            s.dangerous.insert(a.clone(), danger);
        }
        s.dangerous.retain(|a, _| set.contains_key(a));
        // Watched validators' misses.
        let signed: std::collections::BTreeSet<String> =
            info.signatures.iter().filter(|(_, ok)| *ok).map(|(a, _)| a.to_uppercase()).collect();
        for a in &self.watched {
            if !set.contains_key(a) {
                continue;
            }
            let w = s.missed.entry(a.clone()).or_default();
            w.push_back(u8::from(!signed.contains(a)));
            while w.len() > self.cfg.window_blocks {
                w.pop_front();
            }
            let n: u64 = w.iter().map(|x| u64::from(*x)).sum();
            match self.tier(n) {
                Some(sev) if s.reported.get(a).is_none_or(|r| *r < sev) => {
                    s.reported.insert(a.clone(), sev);
                    out.push(
                        Finding::new(&self.id, "comet_validators", &self.chain, at, &format!("missed:{a}:{sev}"), sev,
                            format!("Validator {a} missed {n} of the last {} blocks", w.len()))
                        .with_evidence(json!({"check": "missed_blocks", "validator": a, "missed": n, "window_blocks": w.len(), "height": h})),
                    );
                }
                None => {
                    s.reported.remove(a);
                }
                _ => {}
            }
        }
        // Evidence of misbehaviour.
        for (i, e) in info.evidence.iter().enumerate() {
            let who = e.validator.clone().unwrap_or_default().to_uppercase();
            let watched = self.watched.contains(&who);
            out.push(
                Finding::new(&self.id, "comet_validators", &self.chain, at, &format!("evidence:{h}:{i}"), if watched { Severity::Critical } else { Severity::High },
                    format!("Evidence of {} by {} at height {} included in block {h}", e.kind.replace('_', " "), if who.is_empty() { "validators" } else { &who }, e.height))
                .with_evidence(json!({"check": "evidence", "kind": e.kind, "validator": e.validator, "offence_height": e.height, "height": h, "watched": watched})),
            );
        }
        s.set = set;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 13: bech32 consensus addresses were accepted and never matched. The bech32 forms
    /// below were encoded from the hex with BIP-173's Python reference code (`bech32_encode`,
    /// 8-to-5-bit conversion), not by this crate.
    #[test]
    fn validators_are_hex_or_bech32_consensus_addresses() {
        let hex = "1F8A6C3F5E2D4B7A9C0E1D2F3A4B5C6D7E8F9A0B";
        assert_eq!(validator_address(hex).unwrap(), hex);
        assert_eq!(validator_address(&format!("0x{}", hex.to_lowercase())).unwrap(), hex);
        assert_eq!(
            validator_address("cosmosvalcons1r79xc067949h48qwr5hn5j6ud4lglxstq5rjue").unwrap(),
            hex
        );
        let e =
            validator_address("cosmosvaloper1r79xc067949h48qwr5hn5j6ud4lglxst58swsc").unwrap_err();
        assert!(e.contains("operator") && e.contains("cosmosvalcons1"), "{e}");
        let e = validator_address("cosmos1r79xc067949h48qwr5hn5j6ud4lglxst3nymut").unwrap_err();
        assert!(e.contains("account"), "{e}");
        // A typo breaks the checksum.
        let e =
            validator_address("cosmosvalcons1r79xc067949h48qwr5hn5j6ud4lglxstq5rjuf").unwrap_err();
        assert!(e.contains("expected 40 hex digits"), "{e}");
        let cfg: CometValidatorsConfig =
            serde_json::from_value(serde_json::json!({"validators": [hex, "nope"]})).unwrap();
        let e = CometValidators::build(cfg, "c").err().unwrap().to_string();
        assert!(e.contains("validators[1]"), "{e}");
    }
}
