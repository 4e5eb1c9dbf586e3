//! Typed detector configuration and the catalog shown by `palisade detectors`.

use crate::detectors::{chain_health, rule, storage_watch};
use crate::{Detector, Result};
use serde::{Deserialize, Serialize};

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
}

impl DetectorConfig {
    /// Detector type name.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::ChainHealth(_) => "chain_health",
            Self::Rule(_) => "rule",
            Self::StorageWatch(_) => "storage_watch",
        }
    }

    /// The chain this detector is limited to, or `None` for every chain.
    pub fn chain(&self) -> Option<&str> {
        match self {
            Self::ChainHealth(c) => c.chain.as_deref(),
            Self::Rule(c) => c.chain.as_deref(),
            Self::StorageWatch(c) => c.chain.as_deref(),
        }
    }

    /// Path of an ABI JSON file this detector reads, if any (relative to the config file).
    pub fn abi_path(&self) -> Option<&std::path::Path> {
        match self {
            Self::Rule(c) => c.abi.as_deref(),
            Self::ChainHealth(_) | Self::StorageWatch(_) => None,
        }
    }

    /// True when the detector can run with no configuration beyond its type (used by `replay`
    /// without `--config`).
    pub fn defaults() -> Vec<Self> {
        vec![Self::ChainHealth(chain_health::ChainHealthConfig::default())]
    }

    /// Builds the detector for one chain. `abi_json` is the content of the file named by
    /// [`DetectorConfig::abi_path`], read by the caller.
    pub fn build(&self, chain: &str, abi_json: Option<&str>) -> Result<Box<dyn Detector>> {
        Ok(match self {
            Self::ChainHealth(c) => Box::new(chain_health::ChainHealth::new(c.clone(), chain)?),
            Self::Rule(c) => Box::new(rule::Rule::new(c.clone(), chain, abi_json)?),
            Self::StorageWatch(c) => Box::new(storage_watch::StorageWatch::new(c.clone(), chain)?),
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
pub const CATALOG: &[DetectorInfo] = &[chain_health::INFO, rule::INFO, storage_watch::INFO];

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
                    "integer" => 1.into(),
                    "float" => 1.5.into(),
                    "bool" => true.into(),
                    "severity" => "high".into(),
                    "array of addresses" => toml::Value::Array(vec![]),
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
