//! `palisade replay`.

use crate::output::finding_line;
use crate::EXIT_USAGE;
use eyre::WrapErr;
use indicatif::{ProgressBar, ProgressStyle};
use palisade_alert::{Batch, Store};
use palisade_detect::DetectorConfig;
use palisade_node::config::build_detectors;
use palisade_node::engine::{replay_block, ChainEngine};
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

/// One recorded input: the chain its blocks belong to, that chain's reorg depth, and the reader.
pub(crate) struct Input {
    pub chain: String,
    pub max_reorg_depth: u64,
    pub reader: palisade_source::replay::RecordedReader,
}

/// Replays recorded inputs through detectors; calls `each` per finding. Several inputs (chains)
/// are merged in timestamp order, each through its own engine, with detectors that span chains
/// sharing their state as in a live run. Errors name file and line.
pub(crate) fn run_replay(
    inputs: Vec<Input>,
    detectors: &[DetectorConfig],
    progress: Option<&ProgressBar>,
    mut each: impl FnMut(&Finding),
    mut batches: Option<&mut Vec<Batch>>,
) -> eyre::Result<Summary> {
    let links = palisade_detect::Links::default();
    let several = inputs.len() > 1;
    let mut lanes = Vec::with_capacity(inputs.len());
    for i in inputs {
        let dets = build_detectors(detectors, &i.chain, &links)?;
        let engine = ChainEngine::new(&i.chain, dets, i.max_reorg_depth, true);
        lanes.push((i.chain, engine, i.reader.peekable()));
    }
    let mut summary = Summary::default();
    let mut notes = Vec::new();
    loop {
        // The lane whose next block is the oldest (errors first, so they are reported).
        let mut pick: Option<(usize, u64)> = None;
        for (i, (_, _, r)) in lanes.iter_mut().enumerate() {
            match r.peek() {
                None => {}
                Some(Err(_)) => {
                    pick = Some((i, 0));
                    break;
                }
                Some(Ok(l)) => {
                    let ts = l.block.header.timestamp.unwrap_or(0);
                    if pick.is_none_or(|(_, t)| ts < t) {
                        pick = Some((i, ts));
                    }
                }
            }
        }
        let Some((i, _)) = pick else { break };
        let (chain, engine, reader) = &mut lanes[i];
        let Some(line) = reader.next() else { break };
        let line = line?;
        summary.blocks += 1;
        summary.transactions += line.block.transactions.len() as u64;
        summary.bytes += line.bytes;
        for n in &line.block.notes {
            *summary.unchecked.entry(n.clone()).or_default() += 1;
        }
        if let Some(p) = progress {
            p.set_position(summary.blocks);
            p.set_message(format!("{} MB", summary.bytes >> 20));
        }
        let mut lane_notes = Vec::new();
        replay_block(engine, line.block, &mut lane_notes, |_ev, applied| {
            for f in &applied.findings {
                each(f);
            }
            summary.retracted += applied.retracted.len() as u64;
            if let Some(b) = batches.as_deref_mut() {
                b.push(Batch {
                    chain: chain.clone(),
                    findings: applied.findings.clone(),
                    retracted: applied.retracted.clone(),
                    ..Default::default()
                });
            }
            summary.findings.extend(applied.findings);
            Ok(())
        })?;
        notes.extend(
            lane_notes.into_iter().map(|n| if several { format!("{chain}: {n}") } else { n }),
        );
    }
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
    files: &[String],
    config: Option<&Path>,
    chain: Option<String>,
    json: bool,
    store: Option<String>,
) -> eyre::Result<ExitCode> {
    let (detectors, chains) = match config {
        Some(p) => match crate::cli::load_config(p) {
            Ok(c) => (c.detectors, c.chains),
            Err(code) => return Ok(code),
        },
        None => (DetectorConfig::defaults(), Vec::new()),
    };
    let default_chain = chain
        .or_else(|| chains.first().map(|c| c.name.clone()))
        .unwrap_or_else(|| "mainnet".into());
    let mut inputs = Vec::new();
    for f in files {
        // CHAIN=PATH names the chain of one input; a plain path takes the default chain.
        let (ch, path) = match f.split_once('=') {
            Some((c, p)) if !c.is_empty() && !c.contains('/') => (c.to_string(), p),
            _ => (default_chain.clone(), f.as_str()),
        };
        if inputs.iter().any(|i: &Input| i.chain == ch) {
            eprintln!("error: two inputs for chain {ch:?}: name each with CHAIN=PATH");
            return Ok(ExitCode::from(EXIT_USAGE));
        }
        let depth = chains.iter().find(|c| c.name == ch).map(|c| c.max_reorg_depth).unwrap_or(64);
        match palisade_source::replay::open(path) {
            Ok(reader) => inputs.push(Input { chain: ch, max_reorg_depth: depth, reader }),
            Err(e) => {
                eprintln!("error: {e}");
                return Ok(ExitCode::from(EXIT_USAGE));
            }
        }
    }
    let file = files.first().map(String::as_str).unwrap_or("-");
    let progress = progress_bar(file != "-");
    let stdout = std::io::stdout();
    let mut batches = store.as_ref().map(|_| Vec::new());
    let result = run_replay(
        inputs,
        &detectors,
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
