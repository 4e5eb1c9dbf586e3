//! `palisade demo`: the bundled real mainnet data through the detectors, no node needed.

use crate::output::finding_line;
use crate::replay::{progress_bar, show};
use eyre::WrapErr;
use palisade_node::config::Config;
use palisade_node::replay::{run_replay, Input};
use palisade_primitives::Severity;
use palisade_store::{Batch, Store};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// The demo config, also in examples/demo.toml.
pub(crate) const DEMO_CONFIG: &str = include_str!("../../../examples/demo.toml");

/// The config for a local anvil, written next to the demo's store for its suggested command.
const ANVIL_CONFIG: &str = include_str!("../../../examples/anvil-local.toml");

/// The bundled data sets: (file name, description, bytes).
pub(crate) const DATASETS: &[(&str, &str, &[u8])] = &[
    (
        "mev-inspect-20.jsonl.zst",
        "20 mainnet blocks 10921990..13666363 with full call traces (flashbots/mev-inspect-py test data, MIT)",
        include_bytes!("../../../testdata/mainnet/mev-inspect-20.jsonl.zst"),
    ),
    (
        "etl-17173049-17173050.jsonl.zst",
        "mainnet blocks 17173049-17173050 with 298 transactions and 681 logs (ethereum-etl test data, MIT)",
        include_bytes!("../../../testdata/mainnet/etl-17173049-17173050.jsonl.zst"),
    ),
    (
        "helios-21925176.jsonl.zst",
        "mainnet block 21925176 with 202 receipts (a16z/helios test data, MIT)",
        include_bytes!("../../../testdata/mainnet/helios-21925176.jsonl.zst"),
    ),
];

pub(crate) fn demo_config() -> eyre::Result<Config> {
    Config::parse(DEMO_CONFIG, "examples/demo.toml", std::path::Path::new("."))
        .map_err(|e| eyre::eyre!("{e}"))
}

/// Writes a bundled data set to a temporary file and opens it.
pub(crate) fn open_dataset(
    dir: &std::path::Path,
    name: &str,
    bytes: &[u8],
) -> eyre::Result<palisade_source::replay::RecordedReader> {
    let p = dir.join(name);
    std::fs::write(&p, bytes).wrap_err_with(|| format!("writing {}", p.display()))?;
    Ok(palisade_source::replay::open(p.to_str().unwrap_or_default())?)
}

pub(crate) async fn cmd(data_dir: Option<PathBuf>) -> eyre::Result<ExitCode> {
    let cfg = demo_config()?;
    let dir = data_dir.unwrap_or_else(|| PathBuf::from(".palisade"));
    std::fs::create_dir_all(&dir).wrap_err_with(|| format!("creating {}", dir.display()))?;
    let db = dir.join("demo.sqlite");
    let url = format!("sqlite://{}", db.display());
    let store = Store::open(&url).await?;
    store.reset_chain("mainnet").await?;
    let tmp = dir.join("demo-data");
    std::fs::create_dir_all(&tmp)?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "Palisade demo: replaying real Ethereum mainnet data through {} detectors.",
        cfg.detectors.len()
    )?;
    writeln!(
        out,
        "No node needed; the data ships with Palisade (testdata/, see testdata/README.md).\n"
    )?;
    let mut total = 0usize;
    let mut by_detector: BTreeMap<String, BTreeMap<Severity, usize>> = BTreeMap::new();
    for (name, about, bytes) in DATASETS {
        let reader = open_dataset(&tmp, name, bytes)?;
        let mut batches = Vec::new();
        let progress = progress_bar(true);
        let input = Input {
            chain: "mainnet".into(),
            max_reorg_depth: 64,
            reader,
            risk: Default::default(),
        };
        let mut findings = Vec::new();
        let s = run_replay(
            vec![input],
            &cfg.detectors,
            palisade_node::replay::default_workers(),
            show(progress.as_ref()),
            |chain, _, applied| {
                findings.extend(applied.findings.iter().cloned());
                batches.push(Batch {
                    chain: chain.to_string(),
                    findings: applied.findings.clone(),
                    retracted: applied.retracted.clone(),
                    ..Default::default()
                });
                Ok(())
            },
        )?;
        if let Some(p) = progress {
            p.finish_and_clear();
        }
        for b in &batches {
            store.apply(b).await?;
        }
        writeln!(out, "== {name}\n   {about}")?;
        writeln!(
            out,
            "   {} blocks, {} transactions, {:.1} MB of JSON: {} findings",
            s.blocks,
            s.transactions,
            s.bytes as f64 / 1e6,
            findings.len()
        )?;
        for (note, n) in &s.unchecked {
            writeln!(out, "   not checked in {n} of {} blocks: {note}", s.blocks)?;
        }
        let mut shown = 0;
        for f in &findings {
            *by_detector.entry(f.detector.clone()).or_default().entry(f.severity).or_default() += 1;
            if shown < 8 {
                writeln!(out, "   {}", finding_line(f))?;
                shown += 1;
            }
        }
        if findings.len() > shown {
            writeln!(out, "   ... and {} more", findings.len() - shown)?;
        }
        writeln!(out)?;
        total += findings.len();
    }
    writeln!(out, "Findings by detector:")?;
    for (d, sev) in &by_detector {
        let parts: Vec<String> = sev.iter().rev().map(|(s, n)| format!("{n} {s}")).collect();
        writeln!(out, "   {d:<28} {}", parts.join(", "))?;
    }
    writeln!(out, "\n{total} alerts stored in {}.", db.display())?;
    // The data and configs the next commands use are left in the data directory, so that they
    // work wherever the binary runs, not only in a checkout.
    let demo_toml = dir.join("demo.toml");
    let anvil_toml = dir.join("anvil-local.toml");
    std::fs::write(&demo_toml, DEMO_CONFIG)?;
    std::fs::write(&anvil_toml, ANVIL_CONFIG)?;
    writeln!(out, "Next (palisade is target/release/palisade, or `cargo run --release --`):")?;
    writeln!(out, "  palisade alerts list --store {url}")?;
    writeln!(
        out,
        "  palisade replay {} --config {} --json",
        tmp.join("etl-17173049-17173050.jsonl.zst").display(),
        demo_toml.display()
    )?;
    writeln!(out, "  palisade run --config {}   # against a local anvil", anvil_toml.display())?;
    writeln!(
        out,
        "  palisade demo --scenario defense   # stop a vault drain before it lands (local anvil)"
    )?;
    Ok(ExitCode::SUCCESS)
}
