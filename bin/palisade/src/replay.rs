//! `palisade replay`.

use crate::output::finding_line;
use crate::EXIT_USAGE;
use eyre::WrapErr;
use indicatif::{ProgressBar, ProgressStyle};
use palisade_alert::{Batch, Store};
use palisade_detect::DetectorConfig;
use palisade_node::config::build_detectors;
use palisade_node::engine::{replay_blocks, ChainEngine};
use palisade_primitives::Finding;
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

/// Totals of a replay.
#[derive(Debug, Default)]
pub(crate) struct Summary {
    pub blocks: u64,
    pub transactions: u64,
    pub bytes: u64,
    pub findings: Vec<Finding>,
    pub retracted: u64,
    /// Checks that could not be made, with the number of blocks each concerns.
    pub unchecked: BTreeMap<String, u64>,
    pub data_notes: Vec<String>,
}

/// Replays a reader through detectors; calls `each` per finding. Errors name file and line.
pub(crate) fn run_replay(
    reader: palisade_source::replay::RecordedReader,
    detectors: &[DetectorConfig],
    chain: &str,
    max_reorg_depth: u64,
    progress: Option<&ProgressBar>,
    mut each: impl FnMut(&Finding),
    mut batches: Option<&mut Vec<Batch>>,
) -> eyre::Result<Summary> {
    let mut engine = ChainEngine::new(
        chain,
        build_detectors(detectors, chain, &Default::default())?,
        max_reorg_depth,
        true,
    );
    let mut summary = Summary::default();
    let counts = std::cell::RefCell::new((0u64, 0u64, 0u64, BTreeMap::<String, u64>::new()));
    let blocks = reader.map(|r| {
        let line = r?;
        let mut c = counts.borrow_mut();
        c.0 += 1;
        c.1 += line.block.transactions.len() as u64;
        c.2 += line.bytes;
        for n in &line.block.notes {
            *c.3.entry(n.clone()).or_default() += 1;
        }
        if let Some(p) = progress {
            p.set_position(c.0);
            p.set_message(format!("{} MB", c.2 >> 20));
        }
        Ok(line.block)
    });
    let notes = replay_blocks(&mut engine, blocks, |_ev, applied| {
        for f in &applied.findings {
            each(f);
        }
        summary.retracted += applied.retracted.len() as u64;
        if let Some(b) = batches.as_deref_mut() {
            b.push(Batch {
                chain: chain.to_string(),
                findings: applied.findings.clone(),
                retracted: applied.retracted.clone(),
                ..Default::default()
            });
        }
        summary.findings.extend(applied.findings);
        Ok(())
    })?;
    let c = counts.into_inner();
    summary.blocks = c.0;
    summary.transactions = c.1;
    summary.bytes = c.2;
    summary.unchecked = c.3;
    summary.data_notes = notes;
    Ok(summary)
}

pub(crate) fn progress_bar(enabled: bool) -> Option<ProgressBar> {
    if !enabled || !std::io::stderr().is_terminal() {
        return None;
    }
    let p = ProgressBar::new_spinner();
    p.set_style(
        ProgressStyle::with_template("{spinner} {pos} blocks, {msg} [{elapsed_precise}] {per_sec}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    Some(p)
}

pub(crate) async fn cmd(
    file: &str,
    config: Option<&Path>,
    chain: Option<String>,
    json: bool,
    store: Option<String>,
) -> eyre::Result<ExitCode> {
    let (detectors, chain, depth) = match config {
        Some(p) => {
            let cfg = match crate::cli::load_config(p) {
                Ok(c) => c,
                Err(code) => return Ok(code),
            };
            let ch = chain
                .or_else(|| cfg.chains.first().map(|c| c.name.clone()))
                .unwrap_or_else(|| "mainnet".into());
            let depth =
                cfg.chains.iter().find(|c| c.name == ch).map(|c| c.max_reorg_depth).unwrap_or(64);
            (cfg.detectors, ch, depth)
        }
        None => (DetectorConfig::defaults(), chain.unwrap_or_else(|| "mainnet".into()), 64),
    };
    let reader = match palisade_source::replay::open(file) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(EXIT_USAGE));
        }
    };
    let progress = progress_bar(file != "-");
    let stdout = std::io::stdout();
    let mut batches = store.as_ref().map(|_| Vec::new());
    let result = run_replay(
        reader,
        &detectors,
        &chain,
        depth,
        progress.as_ref(),
        |f| {
            let mut out = stdout.lock();
            let _ = if json {
                writeln!(out, "{}", f.to_json())
            } else {
                writeln!(out, "{}", finding_line(f))
            };
        },
        batches.as_mut(),
    );
    if let Some(p) = &progress {
        p.finish_and_clear();
    }
    let summary = match result {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e:#}");
            return Ok(ExitCode::FAILURE);
        }
    };
    if let (Some(url), Some(batches)) = (store, batches) {
        let st = Store::open(&url).await.wrap_err("opening the store")?;
        for b in &batches {
            st.apply(b).await?;
        }
    }
    eprintln!(
        "replayed {} blocks, {} transactions, {:.1} MB: {} findings{}",
        summary.blocks,
        summary.transactions,
        summary.bytes as f64 / 1e6,
        summary.findings.len(),
        if summary.retracted > 0 {
            format!(", findings of {} blocks retracted by recorded reorgs", summary.retracted)
        } else {
            String::new()
        }
    );
    for (note, n) in &summary.unchecked {
        eprintln!("  not checked in {n} blocks: {note}");
    }
    for n in &summary.data_notes {
        eprintln!("  note: {n}");
    }
    Ok(ExitCode::SUCCESS)
}
