//! Typed detector configuration and the catalog shown by `palisade detectors`.

use crate::detectors::beacon::{
    attestations, execution_link, finality, proposals, slashings, stake, sync_committee, validators,
};
use crate::detectors::{
    admin_call, bridge_invariant, chain_health, contract_deployment, liquidation_health,
    liquidity_drain, mempool_frontrun, oracle, rule, sandwich, simulation, storage_watch,
};
use crate::pending::PendingDetector;
use crate::{Detector, Links, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Data sets built into the binary, for side files named `bundled:NAME` (so a config copied
/// out of the repository keeps working): Forta's Etherscan-labelled malicious addresses
/// (forta-network/labelled-datasets, MIT; testdata/forta, unchanged).
pub const BUNDLED: &[(&str, &str)] = &[(
    "forta-etherscan-malicious-labels",
    include_str!("../../../testdata/forta/ethereum-etherscan-malicious-labels.csv"),
)];

/// One `[[detectors]]` entry of the config file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DetectorConfig {
    /// Block production health: intervals, stalls, reorgs, gas-limit and base-fee jumps.
    ChainHealth(chain_health::ChainHealthConfig),
    /// Declarative matching of calls, events and transactions.
    Rule(rule::RuleConfig),
    /// Proven storage slots, balances and code hashes of watched accounts.
    StorageWatch(storage_watch::StorageWatchConfig),
    /// Front-run, victims and back-run on one pool.
    Sandwich(sandwich::SandwichConfig),
    /// Privileged calls and control events outside an allowlist.
    AdminCall(admin_call::AdminCallConfig),
    /// Chainlink-style feeds and pool prices.
    Oracle(oracle::OracleConfig),
    /// Watched assets leaving watched contracts.
    LiquidityDrain(liquidity_drain::LiquidityDrainConfig),
    /// New contracts scored for risk.
    ContractDeployment(contract_deployment::ContractDeploymentConfig),
    /// Liquidations that stop although prices fell.
    LiquidationHealth(liquidation_health::LiquidationHealthConfig),
    /// A lock-and-mint bridge on two chains.
    BridgeInvariant(bridge_invariant::BridgeInvariantConfig),
    /// Beacon finality and justification.
    BeaconFinality(finality::BeaconFinalityConfig),
    /// Missed slots and proposals.
    BeaconProposals(proposals::BeaconProposalsConfig),
    /// Watched validators' attestations.
    BeaconAttestations(attestations::BeaconAttestationsConfig),
    /// Sync-committee participation.
    BeaconSyncCommittee(sync_committee::BeaconSyncCommitteeConfig),
    /// Slashings.
    BeaconSlashings(slashings::BeaconSlashingsConfig),
    /// Validator-set transitions.
    BeaconValidators(validators::BeaconValidatorsConfig),
    /// Stake concentration.
    StakeConcentration(stake::StakeConcentrationConfig),
    /// Beacon payloads against the execution chain.
    BeaconExecutionLink(execution_link::ExecutionLinkConfig),
    /// A CometBFT validator set.
    CometValidators(crate::detectors::comet::CometValidatorsConfig),
    /// Pending front-runs, sandwiches and copied calldata (pending transactions only).
    MempoolFrontrun(mempool_frontrun::MempoolFrontrunConfig),
    /// Simulated losses, invariants and privileged slots (pending transactions only).
    Simulation(simulation::SimulationConfig),
}

/// Work done with the concrete config type of a detector kind (see [`with_config_type`]).
pub trait WithConfigType {
    /// The result.
    type Out;
    /// Does the work with `T`, the config type of the kind.
    fn with<T: serde::de::DeserializeOwned>(self) -> Self::Out;
}

/// Calls `w` with the config type of detector kind `kind` (`None` for an unknown kind): lets
/// the config loader re-parse an entry as its concrete type, whose errors keep their position
/// (serde loses it inside the tagged [`DetectorConfig`]).
pub fn with_config_type<W: WithConfigType>(kind: &str, w: W) -> Option<W::Out> {
    Some(match kind {
        "chain_health" => w.with::<chain_health::ChainHealthConfig>(),
        "rule" => w.with::<rule::RuleConfig>(),
        "storage_watch" => w.with::<storage_watch::StorageWatchConfig>(),
        "sandwich" => w.with::<sandwich::SandwichConfig>(),
        "admin_call" => w.with::<admin_call::AdminCallConfig>(),
        "oracle" => w.with::<oracle::OracleConfig>(),
        "liquidity_drain" => w.with::<liquidity_drain::LiquidityDrainConfig>(),
        "contract_deployment" => w.with::<contract_deployment::ContractDeploymentConfig>(),
        "liquidation_health" => w.with::<liquidation_health::LiquidationHealthConfig>(),
        "bridge_invariant" => w.with::<bridge_invariant::BridgeInvariantConfig>(),
        "beacon_finality" => w.with::<finality::BeaconFinalityConfig>(),
        "beacon_proposals" => w.with::<proposals::BeaconProposalsConfig>(),
        "beacon_attestations" => w.with::<attestations::BeaconAttestationsConfig>(),
        "beacon_sync_committee" => w.with::<sync_committee::BeaconSyncCommitteeConfig>(),
        "beacon_slashings" => w.with::<slashings::BeaconSlashingsConfig>(),
        "beacon_validators" => w.with::<validators::BeaconValidatorsConfig>(),
        "stake_concentration" => w.with::<stake::StakeConcentrationConfig>(),
        "beacon_execution_link" => w.with::<execution_link::ExecutionLinkConfig>(),
        "comet_validators" => w.with::<crate::detectors::comet::CometValidatorsConfig>(),
        "mempool_frontrun" => w.with::<mempool_frontrun::MempoolFrontrunConfig>(),
        "simulation" => w.with::<simulation::SimulationConfig>(),
        _ => return None,
    })
}

impl DetectorConfig {
    /// Detector type name.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::ChainHealth(_) => "chain_health",
            Self::Rule(_) => "rule",
            Self::StorageWatch(_) => "storage_watch",
            Self::Sandwich(_) => "sandwich",
            Self::AdminCall(_) => "admin_call",
            Self::Oracle(_) => "oracle",
            Self::LiquidityDrain(_) => "liquidity_drain",
            Self::ContractDeployment(_) => "contract_deployment",
            Self::LiquidationHealth(_) => "liquidation_health",
            Self::BridgeInvariant(_) => "bridge_invariant",
            Self::BeaconFinality(_) => "beacon_finality",
            Self::BeaconProposals(_) => "beacon_proposals",
            Self::BeaconAttestations(_) => "beacon_attestations",
            Self::BeaconSyncCommittee(_) => "beacon_sync_committee",
            Self::BeaconSlashings(_) => "beacon_slashings",
            Self::BeaconValidators(_) => "beacon_validators",
            Self::StakeConcentration(_) => "stake_concentration",
            Self::BeaconExecutionLink(_) => "beacon_execution_link",
            Self::CometValidators(_) => "comet_validators",
            Self::MempoolFrontrun(_) => "mempool_frontrun",
            Self::Simulation(_) => "simulation",
        }
    }

    /// The chains this detector is limited to; empty for every chain.
    pub fn chains(&self) -> Vec<&str> {
        let one = match self {
            Self::ChainHealth(c) => c.chain.as_deref(),
            Self::Rule(c) => c.chain.as_deref(),
            Self::StorageWatch(c) => c.chain.as_deref(),
            Self::Sandwich(c) => c.chain.as_deref(),
            Self::AdminCall(c) => c.chain.as_deref(),
            Self::Oracle(c) => c.chain.as_deref(),
            Self::LiquidityDrain(c) => c.chain.as_deref(),
            Self::ContractDeployment(c) => c.chain.as_deref(),
            Self::LiquidationHealth(c) => c.chain.as_deref(),
            Self::BridgeInvariant(c) => return vec![&c.source_chain, &c.dest_chain],
            Self::BeaconExecutionLink(c) => return vec![&c.beacon_chain, &c.execution_chain],
            Self::BeaconFinality(c) => c.chain.as_deref(),
            Self::BeaconProposals(c) => c.chain.as_deref(),
            Self::BeaconAttestations(c) => c.chain.as_deref(),
            Self::BeaconSyncCommittee(c) => c.chain.as_deref(),
            Self::BeaconSlashings(c) => c.chain.as_deref(),
            Self::BeaconValidators(c) => c.chain.as_deref(),
            Self::StakeConcentration(c) => c.chain.as_deref(),
            Self::CometValidators(c) => c.chain.as_deref(),
            Self::MempoolFrontrun(c) => c.chain.as_deref(),
            Self::Simulation(c) => c.chain.as_deref(),
        };
        one.into_iter().collect()
    }

    /// True when this detector runs on `chain`.
    pub fn applies_to(&self, chain: &str) -> bool {
        let cs = self.chains();
        cs.is_empty() || cs.contains(&chain)
    }

    /// The file this detector reads besides its config, if any, with the field that names it:
    /// a rule's ABI (`abi`) or a list of labelled addresses (`labels_file`). The runtime reads it
    /// and passes its content to [`DetectorConfig::build`].
    pub fn side_file(&self) -> Option<(&'static str, &Path)> {
        match self {
            Self::Rule(c) => c.abi.as_deref().map(|p| ("abi", p)),
            Self::ContractDeployment(c) => c.labels_file.as_deref().map(|p| ("labels_file", p)),
            _ => None,
        }
    }

    /// Reads the side file: a bundled data set named `bundled:NAME` (see [`BUNDLED`]), else
    /// the file at its path.
    pub fn read_side_file(path: &Path) -> std::io::Result<String> {
        match path.to_str().and_then(|p| p.strip_prefix("bundled:")) {
            Some(name) => BUNDLED
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, text)| (*text).to_string())
                .ok_or_else(|| {
                    let known: Vec<&str> = BUNDLED.iter().map(|(n, _)| *n).collect();
                    std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        format!("no bundled data set {name:?} (bundled: {})", known.join(", ")),
                    )
                }),
            None => std::fs::read_to_string(path),
        }
    }

    /// Makes a relative [`DetectorConfig::side_file`] path relative to `base` (the config
    /// file's directory); `bundled:` names stay as they are.
    pub fn resolve_paths(&mut self, base: &Path) {
        let fix = |p: &mut Option<PathBuf>| {
            if let Some(x) = p.as_mut() {
                if !x.to_str().is_some_and(|s| s.starts_with("bundled:")) {
                    *x = base.join(&*x);
                }
            }
        };
        match self {
            Self::Rule(c) => fix(&mut c.abi),
            Self::ContractDeployment(c) => fix(&mut c.labels_file),
            _ => {}
        }
    }

    /// True when the detector can run with no configuration beyond its type (used by `replay`
    /// without `--config`).
    pub fn defaults() -> Vec<Self> {
        vec![
            Self::ChainHealth(chain_health::ChainHealthConfig::default()),
            Self::Sandwich(sandwich::SandwichConfig::default()),
        ]
    }

    /// True for detectors that judge pending transactions only (built with
    /// [`DetectorConfig::build_pending`], never with [`DetectorConfig::build`]).
    pub fn pending_only(&self) -> bool {
        matches!(self, Self::MempoolFrontrun(_) | Self::Simulation(_))
    }

    /// Builds the pending-transaction detector of this config for one chain, when it has one:
    /// the pending-only types, and `admin_call` with `pending = true`.
    pub fn build_pending(&self, chain: &str) -> Result<Option<Box<dyn PendingDetector>>> {
        Ok(match self {
            Self::MempoolFrontrun(c) => {
                Some(Box::new(mempool_frontrun::MempoolFrontrun::new(c.clone(), chain)?))
            }
            Self::Simulation(c) => {
                Some(Box::new(simulation::SimulationGuard::new(c.clone(), chain)?))
            }
            Self::AdminCall(c) if c.pending => {
                Some(Box::new(admin_call::AdminCall::new(c.clone(), chain)?))
            }
            _ => None,
        })
    }

    /// Builds the detector for one chain. `side` is the content of the file named by
    /// [`DetectorConfig::side_file`], read by the caller; `links` is shared by every chain of
    /// one configuration.
    pub fn build(
        &self,
        chain: &str,
        side: Option<&str>,
        links: &Links,
    ) -> Result<Box<dyn Detector>> {
        Ok(match self {
            Self::MempoolFrontrun(_) | Self::Simulation(_) => {
                return Err(crate::DetectError::Config {
                    detector: self.kind().into(),
                    field: "type".into(),
                    reason: "judges pending transactions only (see build_pending)".into(),
                })
            }
            Self::ChainHealth(c) => Box::new(chain_health::ChainHealth::new(c.clone(), chain)?),
            Self::Rule(c) => Box::new(rule::Rule::new(c.clone(), chain, side)?),
            Self::StorageWatch(c) => Box::new(storage_watch::StorageWatch::new(c.clone(), chain)?),
            Self::Sandwich(c) => Box::new(sandwich::Sandwich::new(c.clone(), chain)?),
            Self::AdminCall(c) => Box::new(admin_call::AdminCall::new(c.clone(), chain)?),
            Self::Oracle(c) => Box::new(oracle::Oracle::new(c.clone(), chain)?),
            Self::LiquidityDrain(c) => {
                Box::new(liquidity_drain::LiquidityDrain::new(c.clone(), chain)?)
            }
            Self::ContractDeployment(c) => {
                Box::new(contract_deployment::ContractDeployment::new(c.clone(), chain, side)?)
            }
            Self::LiquidationHealth(c) => {
                Box::new(liquidation_health::LiquidationHealth::new(c.clone(), chain)?)
            }
            Self::BridgeInvariant(c) => Box::new(bridge_invariant::BridgeInvariant::new(
                c.clone(),
                chain,
                links.bridge(&format!("bridge_invariant:{}", c.name)),
            )?),
            Self::BeaconFinality(c) => finality::BeaconFinality::build(c.clone(), chain)?,
            Self::BeaconProposals(c) => proposals::BeaconProposals::build(c.clone(), chain)?,
            Self::BeaconAttestations(c) => {
                attestations::BeaconAttestations::build(c.clone(), chain)?
            }
            Self::BeaconSyncCommittee(c) => {
                sync_committee::BeaconSyncCommittee::build(c.clone(), chain)?
            }
            Self::BeaconSlashings(c) => slashings::BeaconSlashings::build(c.clone(), chain)?,
            Self::BeaconValidators(c) => validators::BeaconValidators::build(c.clone(), chain)?,
            Self::StakeConcentration(c) => stake::StakeConcentration::build(c.clone(), chain)?,
            Self::CometValidators(c) => {
                crate::detectors::comet::CometValidators::build(c.clone(), chain)?
            }
            Self::BeaconExecutionLink(c) => execution_link::ExecutionLink::build(
                c.clone(),
                chain,
                links.execution(&format!(
                    "beacon_execution_link:{}:{}",
                    c.beacon_chain, c.execution_chain
                )),
            )?,
        })
    }
}

/// A documented config field.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct FieldInfo {
    /// Field name.
    pub name: &'static str,
    /// Type as written in TOML.
    #[serde(rename = "type")]
    pub ty: &'static str,
    /// Default, or `required`.
    pub default: &'static str,
    /// What it does, with units.
    pub doc: &'static str,
}

/// A documented detector type.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct DetectorInfo {
    /// Type name.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// One-line description.
    pub description: &'static str,
    /// True when it runs without configuration (used by `replay` without `--config`).
    pub needs_no_config: bool,
    /// Config fields.
    pub fields: &'static [FieldInfo],
}

/// Every detector type.
pub const CATALOG: &[DetectorInfo] = &[
    chain_health::INFO,
    rule::INFO,
    storage_watch::INFO,
    sandwich::INFO,
    admin_call::INFO,
    oracle::INFO,
    liquidity_drain::INFO,
    contract_deployment::INFO,
    liquidation_health::INFO,
    bridge_invariant::INFO,
    finality::INFO,
    proposals::INFO,
    attestations::INFO,
    sync_committee::INFO,
    slashings::INFO,
    validators::INFO,
    stake::INFO,
    execution_link::INFO,
    crate::detectors::comet::INFO,
    mempool_frontrun::INFO,
    simulation::INFO,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_matches_the_config_structs() {
        for info in CATALOG {
            // Every documented field is accepted...
            let mut t = toml::Table::new();
            t.insert("type".into(), info.kind.into());
            for f in info.fields {
                let v: toml::Value = match f.ty {
                    "string" => "x".into(),
                    "address" => "0x0000000000000000000000000000000000000001".into(),
                    "integer" => 1.into(),
                    "float" => 1.5.into(),
                    "bool" => true.into(),
                    "severity" => "high".into(),
                    "array of addresses" | "array of strings" => toml::Value::Array(vec![]),
                    // As many integers as the documented default has (fixed-size tiers).
                    "array of integers" => toml::Value::Array(
                        f.default
                            .split(|c: char| !c.is_ascii_digit())
                            .filter(|x| !x.is_empty())
                            .map(|x| toml::Value::Integer(x.parse().unwrap_or(1)))
                            .collect(),
                    ),
                    "array of tables" => toml::Value::Array(vec![]),
                    "table" => toml::Value::Table(Default::default()),
                    other => panic!("unknown doc type {other}"),
                };
                t.insert(f.name.into(), v);
            }
            let r: std::result::Result<DetectorConfig, _> = t.clone().try_into();
            assert!(r.is_ok(), "{}: {:?}", info.kind, r.err());
            // ...and an undocumented one is rejected.
            t.insert("no_such_field".into(), 1.into());
            let r: std::result::Result<DetectorConfig, _> = t.try_into();
            assert!(r.is_err(), "{} accepted an unknown field", info.kind);
        }
    }
}
