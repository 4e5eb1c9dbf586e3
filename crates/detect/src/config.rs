//! Typed detector configuration and the catalog shown by `palisade detectors`.

use crate::detectors::beacon::{
    attestations, execution_link, finality, proposals, slashings, stake, sync_committee, validators,
};
use crate::detectors::{
    admin_call, anomaly, assertion, bridge_invariant, chain_health, comet, contract_deployment,
    exploit_shape, liquidation_health, liquidity_drain, mempool_frontrun, oracle, rule, sandwich,
    simulation, storage_watch, upgrade_audit,
};
use crate::pending::PendingDetector;
use crate::{Detector, Links, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Data sets built into the binary, for side files named `bundled:NAME` (so a config copied
/// out of the repository keeps working): Forta's Etherscan-labelled malicious addresses
/// (forta-network/labelled-datasets, MIT; testdata/forta, unchanged).
pub const BUNDLED: &[(&str, &str)] = &[(
    "forta-etherscan-malicious-labels",
    include_str!("../../../testdata/forta/ethereum-etherscan-malicious-labels.csv"),
)];

/// Declares every detector type once: its config variant, module (whose `INFO` gives the type
/// name and description) and config struct (whose `#[derive(ConfigDoc)]` gives the field
/// reference), and the chains it runs on when that is not its `chain` field. From this come the
/// [`DetectorConfig`] enum, [`DetectorConfig::kind`], [`DetectorConfig::chains`],
/// [`with_config_type`] and [`catalog`].
macro_rules! detectors {
    ($(
        $(#[doc = $doc:literal])*
        $variant:ident($module:path, $config:ty) $(, chains($c:ident) => $chains:expr)?;
    )*) => {
        /// One `[[detectors]]` entry of the config file.
        #[derive(Debug, Clone, Serialize, Deserialize)]
        #[serde(tag = "type", rename_all = "snake_case")]
        pub enum DetectorConfig {
            $( $(#[doc = $doc])* $variant($config), )*
        }

        /// Calls `w` with the config type of detector kind `kind` (`None` for an unknown kind):
        /// lets the config loader re-parse an entry as its concrete type, whose errors keep
        /// their position (serde loses it inside the tagged [`DetectorConfig`]).
        pub fn with_config_type<W: WithConfigType>(kind: &str, w: W) -> Option<W::Out> {
            $( { use $module as m; if kind == m::INFO.kind { return Some(w.with::<$config>()); } } )*
            None
        }

        /// Every detector type, with its fields.
        pub fn catalog() -> &'static [DetectorInfo] {
            static C: OnceLock<Vec<DetectorInfo>> = OnceLock::new();
            C.get_or_init(|| vec![$( { use $module as m; DetectorInfo::of::<$config>(m::INFO) }, )*])
        }

        impl DetectorConfig {
            /// Detector type name.
            pub fn kind(&self) -> &'static str {
                match self {
                    $( Self::$variant(_) => { use $module as m; m::INFO.kind } )*
                }
            }

            /// The chains this detector is limited to; empty for every chain.
            pub fn chains(&self) -> Vec<&str> {
                match self {
                    $( Self::$variant(c) => detectors!(@chains c $(, $c => $chains)?), )*
                }
            }
        }
    };
    (@chains $cfg:ident) => { $cfg.chain.as_deref().into_iter().collect() };
    (@chains $cfg:ident, $c:ident => $e:expr) => {{ let $c = $cfg; $e }};
}

detectors! {
    /// Block production health: intervals, stalls, reorgs, gas-limit and base-fee jumps.
    ChainHealth(chain_health, chain_health::ChainHealthConfig);
    /// Declarative matching of calls, events and transactions.
    Rule(rule, rule::RuleConfig);
    /// Proven storage slots, balances and code hashes of watched accounts.
    StorageWatch(storage_watch, storage_watch::StorageWatchConfig);
    /// Front-run, victims and back-run on one pool.
    Sandwich(sandwich, sandwich::SandwichConfig);
    /// Privileged calls and control events outside an allowlist.
    AdminCall(admin_call, admin_call::AdminCallConfig);
    /// Chainlink-style feeds and pool prices.
    Oracle(oracle, oracle::OracleConfig);
    /// Watched assets leaving watched contracts.
    LiquidityDrain(liquidity_drain, liquidity_drain::LiquidityDrainConfig);
    /// New contracts scored for risk.
    ContractDeployment(contract_deployment, contract_deployment::ContractDeploymentConfig);
    /// Liquidations that stop although prices fell.
    LiquidationHealth(liquidation_health, liquidation_health::LiquidationHealthConfig);
    /// A lock-and-mint bridge on two chains.
    BridgeInvariant(bridge_invariant, bridge_invariant::BridgeInvariantConfig),
        chains(c) => vec![&c.source_chain, &c.dest_chain];
    /// Beacon finality and justification.
    BeaconFinality(finality, finality::BeaconFinalityConfig);
    /// Missed slots and proposals.
    BeaconProposals(proposals, proposals::BeaconProposalsConfig);
    /// Watched validators' attestations.
    BeaconAttestations(attestations, attestations::BeaconAttestationsConfig);
    /// Sync-committee participation.
    BeaconSyncCommittee(sync_committee, sync_committee::BeaconSyncCommitteeConfig);
    /// Slashings.
    BeaconSlashings(slashings, slashings::BeaconSlashingsConfig);
    /// Validator-set transitions.
    BeaconValidators(validators, validators::BeaconValidatorsConfig);
    /// Stake concentration.
    StakeConcentration(stake, stake::StakeConcentrationConfig);
    /// Beacon payloads against the execution chain.
    BeaconExecutionLink(execution_link, execution_link::ExecutionLinkConfig),
        chains(c) => vec![&c.beacon_chain, &c.execution_chain];
    /// A CometBFT validator set.
    CometValidators(comet, comet::CometValidatorsConfig);
    /// Pending front-runs, sandwiches and copied calldata (pending transactions only).
    MempoolFrontrun(mempool_frontrun, mempool_frontrun::MempoolFrontrunConfig);
    /// Simulated losses, invariants and privileged slots (pending transactions only).
    Simulation(simulation, simulation::SimulationConfig);
    /// Flash-loan-funded transactions after which the sender gained and an account only lost.
    ExploitShape(exploit_shape, exploit_shape::ExploitShapeConfig);
    /// Every proxy upgrade audited against the implementation before.
    UpgradeAudit(upgrade_audit, upgrade_audit::UpgradeAuditConfig);
    /// Per-contract anomaly scores with a false-positive budget and a damage gate.
    Anomaly(anomaly, anomaly::AnomalyConfig);
    /// A Solidity assertion contract, pending and committed.
    Assertion(assertion, assertion::AssertionConfig);
}

/// Work done with the concrete config type of a detector kind (see [`with_config_type`]).
pub trait WithConfigType {
    /// The result.
    type Out;
    /// Does the work with `T`, the config type of the kind.
    fn with<T: serde::de::DeserializeOwned>(self) -> Self::Out;
}

impl DetectorConfig {
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
            Self::Assertion(c) => Some(("artifact", c.artifact.as_path())),
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
            Self::Assertion(c) => {
                let mut p = Some(std::mem::take(&mut c.artifact));
                fix(&mut p);
                c.artifact = p.unwrap_or_default();
            }
            _ => {}
        }
    }

    /// True when the detector can run with no configuration beyond its type (used by `replay`
    /// without `--config`).
    pub fn defaults() -> Vec<Self> {
        vec![
            Self::ChainHealth(chain_health::ChainHealthConfig::default()),
            Self::Sandwich(sandwich::SandwichConfig::default()),
            Self::ExploitShape(exploit_shape::ExploitShapeConfig::default()),
            Self::Anomaly(anomaly::AnomalyConfig::default()),
        ]
    }

    /// True for detectors that judge pending transactions only (built with
    /// [`DetectorConfig::build_pending`], never with [`DetectorConfig::build`]).
    pub fn pending_only(&self) -> bool {
        matches!(self, Self::MempoolFrontrun(_) | Self::Simulation(_))
    }

    /// Builds the pending-transaction detector of this config for one chain, when it has one:
    /// the pending-only types, `admin_call` with `pending = true` and `assertion` (unless
    /// `pending = false`). `side` is as for [`DetectorConfig::build`].
    pub fn build_pending(
        &self,
        chain: &str,
        side: Option<&str>,
    ) -> Result<Option<Box<dyn PendingDetector>>> {
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
            Self::Assertion(c) if c.pending => {
                Some(Box::new(assertion::AssertionDetector::new(c.clone(), chain, side)?))
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
            Self::ExploitShape(c) => Box::new(exploit_shape::ExploitShape::new(c.clone(), chain)?),
            Self::UpgradeAudit(c) => Box::new(upgrade_audit::UpgradeAudit::new(c.clone(), chain)?),
            Self::Anomaly(c) => Box::new(anomaly::Anomaly::new(c.clone(), chain)?),
            Self::Assertion(c) => {
                Box::new(assertion::AssertionDetector::new(c.clone(), chain, side)?)
            }
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
            Self::CometValidators(c) => comet::CometValidators::build(c.clone(), chain)?,
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

/// The reference of a config struct's fields, derived from its declaration with
/// `#[derive(palisade_derive::ConfigDoc)]` (names, doc comments, types, serde defaults).
pub trait ConfigDoc {
    /// Its fields, in declaration order.
    fn fields() -> Vec<FieldInfo>;
}

/// A field's default as the reference shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldDefault {
    /// The field must be given.
    Required,
    /// The value serde fills in, written as in TOML.
    Value(String),
    /// A default described in words (an absent optional field: "every chain").
    Words(&'static str),
}

impl FieldDefault {
    /// The default `v`, written as in TOML (`none` for an absent optional value).
    pub fn value<T: Serialize>(v: &T) -> Self {
        fn toml(v: &serde_json::Value) -> String {
            match v {
                serde_json::Value::Null => "none".into(),
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Array(a) => {
                    let items: Vec<String> = a
                        .iter()
                        .map(|x| match x {
                            serde_json::Value::String(s) => format!("{s:?}"),
                            other => toml(other),
                        })
                        .collect();
                    format!("[{}]", items.join(", "))
                }
                // Floats to four decimals at most (1/1024 is 0.0977, a third 33.3333).
                serde_json::Value::Number(n) if n.is_f64() => {
                    let f = n.as_f64().unwrap_or_default();
                    let short = format!("{f:.4}");
                    let short = short.trim_end_matches('0');
                    if short.ends_with('.') {
                        format!("{short}0")
                    } else {
                        short.to_string()
                    }
                }
                other => other.to_string(),
            }
        }
        match serde_json::to_value(v) {
            Ok(serde_json::Value::Null) => Self::Words("none"),
            Ok(x) => Self::Value(toml(&x)),
            Err(_) => Self::Words("see the type's documentation"),
        }
    }

    /// As text: the value, the words, or `required`.
    pub fn text(&self) -> &str {
        match self {
            Self::Required => "required",
            Self::Value(v) => v,
            Self::Words(w) => w,
        }
    }

    /// As a Markdown table cell: a value in backticks.
    pub fn markdown(&self) -> String {
        match self {
            Self::Value(v) => format!("`{v}`"),
            other => other.text().to_string(),
        }
    }
}

impl Serialize for FieldDefault {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.text())
    }
}

/// A documented config field.
#[derive(Debug, Clone, Serialize)]
pub struct FieldInfo {
    /// Field name.
    pub name: &'static str,
    /// Type as written in TOML.
    #[serde(rename = "type")]
    pub ty: &'static str,
    /// Default, or `required`.
    pub default: FieldDefault,
    /// What it does, with units.
    pub doc: &'static str,
    /// The fields of a table (or of each entry of an array of tables).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nested: Vec<FieldInfo>,
}

impl FieldInfo {
    /// A one-line summary of a table's fields, as TOML would write it: `{ a, b?, c = 20 }`
    /// (`?`: optional with no default value).
    pub fn summary(fields: &[FieldInfo]) -> String {
        let parts: Vec<String> = fields
            .iter()
            .map(|f| match &f.default {
                FieldDefault::Required => f.name.to_string(),
                FieldDefault::Words(_) => format!("{}?", f.name),
                FieldDefault::Value(v) if matches!(f.ty, "string" | "severity" | "address") => {
                    format!("{} = {v:?}", f.name)
                }
                FieldDefault::Value(v) => format!("{} = {v}", f.name),
            })
            .collect();
        format!("`{{ {} }}`", parts.join(", "))
    }
}

/// What a detector module says about itself (its `INFO`); the fields come from its config.
#[derive(Debug, Clone, Copy)]
pub struct About {
    /// Type name.
    pub kind: &'static str,
    /// One-line description.
    pub description: &'static str,
    /// True when it runs without configuration (used by `replay` without `--config`).
    pub needs_no_config: bool,
}

/// A documented detector type.
#[derive(Debug, Clone, Serialize)]
pub struct DetectorInfo {
    /// Type name.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// One-line description.
    pub description: &'static str,
    /// True when it runs without configuration (used by `replay` without `--config`).
    pub needs_no_config: bool,
    /// Config fields.
    pub fields: Vec<FieldInfo>,
}

impl DetectorInfo {
    /// The entry of a detector whose module says `about` and whose config is `C`.
    pub fn of<C: ConfigDoc>(about: About) -> Self {
        let mut fields = C::fields();
        // An instance left unnamed is named after its type.
        for f in fields.iter_mut().filter(|f| f.name == "name") {
            if f.default == FieldDefault::Words("none") {
                f.default = FieldDefault::Value(about.kind.to_string());
            }
        }
        Self {
            kind: about.kind,
            description: about.description,
            needs_no_config: about.needs_no_config,
            fields,
        }
    }

    /// Its fields as docs/config.md shows them: a table, then one for each table field's
    /// own fields.
    pub fn markdown_table(&self) -> String {
        fn table(fields: &[FieldInfo]) -> String {
            let mut out = String::from("| field | type | default | meaning |\n|---|---|---|---|\n");
            for f in fields {
                let mut doc = f.doc.to_string();
                if !f.nested.is_empty() {
                    doc.push_str(&format!(" {} (below)", FieldInfo::summary(&f.nested)));
                }
                out.push_str(&format!(
                    "| `{}` | {} | {} | {} |\n",
                    f.name,
                    f.ty,
                    f.default.markdown().replace('|', "\\|"),
                    doc.replace('|', "\\|")
                ));
            }
            out
        }
        fn nested(prefix: &str, fields: &[FieldInfo], out: &mut String) {
            for f in fields.iter().filter(|f| !f.nested.is_empty()) {
                let path = format!("{prefix}{}", f.name);
                let what = if f.ty.starts_with("array") { "Each entry of" } else { "The table" };
                out.push_str(&format!("\n{what} `{path}`:\n\n{}", table(&f.nested)));
                nested(&format!("{path}."), &f.nested, out);
            }
        }
        let mut out = table(&self.fields);
        nested("", &self.fields, &mut out);
        out
    }
}

/// `doc` (docs/config.md) with each detector's field table rewritten from [`catalog`]: the
/// table that follows the detector's `### \`kind\`` heading. `Err` names a detector the
/// document lacks.
pub fn with_generated_tables(doc: &str) -> std::result::Result<String, String> {
    let mut lines: Vec<String> = doc.lines().map(str::to_string).collect();
    for d in catalog() {
        let heading = format!("### `{}`", d.kind);
        let at = lines
            .iter()
            .position(|l| l.starts_with(&heading))
            .ok_or_else(|| format!("no {heading} section"))?;
        let begin = format!("<!-- fields of {}: generated from the config struct -->", d.kind);
        let start = (at + 1..lines.len())
            .find(|&i| lines[i] == begin || lines[i].starts_with("| field |"))
            .filter(|&i| !lines[at + 1..i].iter().any(|l| l.starts_with('#')))
            .ok_or_else(|| format!("no field table under {heading}"))?;
        let end = if lines[start] == begin {
            (start..lines.len())
                .find(|&i| lines[i] == "<!-- end of fields -->")
                .map(|i| i + 1)
                .ok_or_else(|| format!("no end of the fields under {heading}"))?
        } else {
            (start..lines.len()).find(|&i| !lines[i].starts_with('|')).unwrap_or(lines.len())
        };
        let mut block = vec![begin];
        block.extend(d.markdown_table().lines().map(str::to_string));
        block.push("<!-- end of fields -->".into());
        lines.splice(start..end, block);
    }
    let mut out = lines.join("\n");
    out.push('\n');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docs_config_md_shows_each_detectors_fields_as_declared() {
        // The field tables of docs/config.md are the catalog's, which is derived from the config
        // structs: `PALISADE_BLESS=1 cargo test -p palisade-detect docs_config_md` rewrites them.
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/config.md");
        let doc = std::fs::read_to_string(&path).unwrap();
        let fixed = with_generated_tables(&doc).unwrap();
        if std::env::var_os("PALISADE_BLESS").is_some() {
            std::fs::write(&path, &fixed).unwrap();
            return;
        }
        if let Some((a, b)) = doc.lines().zip(fixed.lines()).find(|(a, b)| a != b) {
            panic!(
                "docs/config.md differs from the detectors' config structs (PALISADE_BLESS=1 \
                 cargo test -p palisade-detect docs_config_md rewrites it):\n  doc:  {a}\n  code: {b}"
            );
        }
        assert_eq!(doc, fixed);
    }

    #[test]
    fn no_field_doc_repeats_its_default() {
        // Defaults are declared once, in serde's default: a doc comment that states one would
        // drift from it.
        for d in catalog() {
            let mut stack: Vec<&FieldInfo> = d.fields.iter().collect();
            while let Some(f) = stack.pop() {
                assert!(!f.doc.contains("(default"), "{}.{}: {}", d.kind, f.name, f.doc);
                stack.extend(&f.nested);
            }
        }
    }

    #[test]
    fn catalog_matches_the_config_structs() {
        for info in catalog() {
            // Every documented field is accepted...
            let mut t = toml::Table::new();
            t.insert("type".into(), info.kind.into());
            for f in &info.fields {
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
                            .text()
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
