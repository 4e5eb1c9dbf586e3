//! `palisade risk`: the settlement-risk index over recorded blocks, as CSV (with timestamps, to
//! regress against market data) or JSON lines, and the hash of the whole series.

use eyre::WrapErr;
use palisade_node::replay::run_replay;
use palisade_risk::{RiskConfig, RiskPoint};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `palisade risk`.
#[derive(Debug)]
pub(crate) struct Args {
    pub(crate) files: Vec<String>,
    pub(crate) config: Option<PathBuf>,
    pub(crate) chain: Option<String>,
    pub(crate) csv: bool,
    pub(crate) workers: usize,
}

/// The components a CSV row has a column for, in order.
const COLUMNS: &[&str] = palisade_risk::COMPONENTS;

fn csv_row(p: &RiskPoint) -> String {
    let mut row = vec![
        p.chain.clone(),
        p.block.number.to_string(),
        format!("{:#x}", p.block.hash),
        p.timestamp.map(|t| t.to_string()).unwrap_or_default(),
        p.timestamp.map(palisade_primitives::time::rfc3339_secs).unwrap_or_default(),
        format!("{:.6}", p.index),
    ];
    for c in COLUMNS {
        row.push(p.component(c).map(|v| format!("{v:.6}")).unwrap_or_default());
    }
    row.push(format!("{:#x}", p.inputs_hash));
    row.push(p.methodology_version.clone());
    row.join(",")
}

pub(crate) fn cmd(a: Args) -> eyre::Result<ExitCode> {
    let (chains, risk) = match &a.config {
        Some(p) => match crate::cli::load_config(p) {
            Ok(c) => (c.chains, c.risk),
            Err(code) => return Ok(code),
        },
        None => (Vec::new(), RiskConfig::default()),
    };
    let default_chain = a
        .chain
        .clone()
        .or_else(|| chains.first().map(|c| c.name.clone()))
        .unwrap_or_else(|| "mainnet".into());
    let inputs = match crate::replay::open_inputs(&a.files, &default_chain, &chains, &risk) {
        Ok(i) => i,
        Err(code) => return Ok(code),
    };
    // The points of the canonical chain, by chain and block (a reorg in the data retracts).
    let mut series: BTreeMap<String, BTreeMap<u64, RiskPoint>> = BTreeMap::new();
    let mut out = std::io::stdout().lock();
    let mut emit = |p: &RiskPoint, retract: bool| -> eyre::Result<()> {
        if a.csv {
            return Ok(());
        }
        let line = if retract {
            serde_json::json!({"retract": {"chain": p.chain, "block": p.block.number, "hash": format!("{:#x}", p.block.hash)}})
        } else {
            serde_json::to_value(p)?
        };
        writeln!(out, "{line}").wrap_err("writing")
    };
    // The same engine as `palisade run` and `palisade replay` scores the blocks.
    let summary = run_replay(
        inputs,
        &[],
        a.workers,
        |_| {},
        |chain, _ev, applied| {
            let s = series.entry(chain.to_string()).or_default();
            for gone in &applied.risk_retracted {
                if let Some(p) = s.remove(&gone.number) {
                    emit(&p, true)?;
                }
            }
            for p in &applied.risk {
                emit(p, false)?;
                s.insert(p.block.number, p.clone());
            }
            Ok(())
        },
    )?;
    let mut out = std::io::stdout().lock();
    if a.csv {
        let mut header = vec!["chain", "block", "hash", "timestamp", "time", "index"];
        header.extend_from_slice(COLUMNS);
        header.extend_from_slice(&["inputs_hash", "methodology_version"]);
        writeln!(out, "{}", header.join(","))?;
        for s in series.values() {
            for p in s.values() {
                writeln!(out, "{}", csv_row(p))?;
            }
        }
    }
    for (chain, s) in &series {
        eprintln!(
            "{chain}: {} points over {} blocks, series hash {:#x} ({})",
            s.len(),
            summary.blocks,
            palisade_risk::series_hash(s.values()),
            palisade_risk::METHODOLOGY_VERSION
        );
    }
    Ok(ExitCode::SUCCESS)
}
