//! `palisade replay`.

use crate::output::finding_line;
use crate::EXIT_USAGE;
use eyre::WrapErr;
use indicatif::{ProgressBar, ProgressStyle};
use palisade_detect::DetectorConfig;
use palisade_node::replay::{run_replay, Input, Summary};
use palisade_store::{Batch, Store};
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

/// Shows progress on `p` (when there is one).
pub(crate) fn show(p: Option<&ProgressBar>) -> impl FnMut(&Summary) + '_ {
    move |s: &Summary| {
        if let Some(p) = p {
            if s.blocks.is_multiple_of(16) {
                p.set_position(s.blocks);
                p.set_message(format!("{} MB", s.bytes >> 20));
            }
        }
    }
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

/// What `palisade replay` was asked.
pub(crate) struct Args {
    pub(crate) files: Vec<String>,
    pub(crate) config: Option<std::path::PathBuf>,
    pub(crate) chain: Option<String>,
    pub(crate) json: bool,
    pub(crate) store: Option<String>,
    pub(crate) workers: usize,
    pub(crate) cluster: bool,
    pub(crate) range_lines: Option<u64>,
}

/// Opens each `[CHAIN=]FILE` as a replay input (a plain path takes `default_chain`), with the
/// chain's reorg depth from `chains`; a second input for one chain or a file that does not
/// open is a usage error, said on stderr.
pub(crate) fn open_inputs(
    files: &[String],
    default_chain: &str,
    chains: &[palisade_node::config::ChainConfig],
    risk: &palisade_risk::RiskConfig,
) -> Result<Vec<Input>, ExitCode> {
    let mut inputs: Vec<Input> = Vec::new();
    for f in files {
        // CHAIN=PATH names the chain of one input; a plain path takes the default chain.
        let (ch, path) = match f.split_once('=') {
            Some((c, p)) if !c.is_empty() && !c.contains('/') => (c.to_string(), p),
            _ => (default_chain.to_string(), f.as_str()),
        };
        if inputs.iter().any(|i| i.chain == ch) {
            eprintln!("error: two inputs for chain {ch:?}: name each with CHAIN=PATH");
            return Err(ExitCode::from(EXIT_USAGE));
        }
        let depth = chains.iter().find(|c| c.name == ch).map(|c| c.max_reorg_depth).unwrap_or(64);
        match palisade_source::replay::open(path) {
            Ok(reader) => {
                inputs.push(Input { chain: ch, max_reorg_depth: depth, reader, risk: risk.clone() })
            }
            Err(e) => {
                eprintln!("error: {e}");
                return Err(ExitCode::from(EXIT_USAGE));
            }
        }
    }
    Ok(inputs)
}

pub(crate) async fn cmd(a: Args) -> eyre::Result<ExitCode> {
    let Args { files, config, chain, json, store, workers, cluster, range_lines } = a;
    let files = files.as_slice();
    let config: Option<&Path> = config.as_deref();
    let (detectors, chains, cluster_cfg, risk) = match config {
        Some(p) => match crate::cli::load_config(p) {
            Ok(c) => (c.detectors, c.chains, c.cluster, c.risk),
            Err(code) => return Ok(code),
        },
        None => (DetectorConfig::defaults(), Vec::new(), None, Default::default()),
    };
    let default_chain = chain
        .or_else(|| chains.first().map(|c| c.name.clone()))
        .unwrap_or_else(|| "mainnet".into());
    let mut inputs = match open_inputs(files, &default_chain, &chains, &risk) {
        Ok(i) => i,
        Err(code) => return Ok(code),
    };
    let file = files.first().map(String::as_str).unwrap_or("-");
    if cluster {
        let Some(cl) = cluster_cfg else {
            eprintln!("error: --cluster needs a config with a [cluster] table");
            return Ok(ExitCode::from(EXIT_USAGE));
        };
        if inputs.len() != 1 || file == "-" {
            eprintln!("error: --cluster replays one recorded file (not stdin), which every member can read at the same path");
            return Ok(ExitCode::from(EXIT_USAGE));
        }
        let input = inputs.remove(0);
        let (path, chain) = (files[0].rsplit_once('=').map_or(file, |(_, p)| p), input.chain);
        let (findings, ranges) = palisade_node::cluster_replay(
            &cl,
            path,
            &chain,
            input.max_reorg_depth,
            &detectors,
            range_lines,
        )
        .await?;
        let mut out = std::io::stdout().lock();
        for f in &findings {
            let _ = if json {
                writeln!(out, "{}", f.to_json())
            } else {
                writeln!(out, "{}", finding_line(f))
            };
        }
        eprintln!(
            "replayed {path} in {ranges} ranges across the cluster: {} findings",
            findings.len()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let progress = progress_bar(file != "-");
    // Findings go out as they are made; with --store, each event's batch goes to the store as
    // it is made too (through a bounded channel: a long replay holds nothing in memory).
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Batch>(1024);
    let writer = match store {
        Some(url) => {
            let st = Store::open(&url).await.wrap_err("opening the store")?;
            Some(tokio::spawn(async move {
                while let Some(b) = rx.recv().await {
                    st.apply(&b).await?;
                }
                Ok::<(), palisade_store::StoreError>(())
            }))
        }
        None => None,
    };
    let storing = writer.is_some();
    let replay = tokio::task::spawn_blocking(move || {
        let stdout = std::io::stdout();
        let result = run_replay(
            inputs,
            &detectors,
            workers,
            show(progress.as_ref()),
            |chain, _ev, applied| {
                let mut out = stdout.lock();
                for f in &applied.findings {
                    let _ = if json {
                        writeln!(out, "{}", f.to_json())
                    } else {
                        writeln!(out, "{}", finding_line(f))
                    };
                }
                if storing && !(applied.findings.is_empty() && applied.retracted.is_empty()) {
                    let b = Batch {
                        chain: chain.to_string(),
                        findings: applied.findings.clone(),
                        retracted: applied.retracted.clone(),
                        ..Default::default()
                    };
                    tx.blocking_send(b).map_err(|_| eyre::eyre!("the store writer stopped"))?;
                }
                Ok(())
            },
        );
        if let Some(p) = &progress {
            p.finish_and_clear();
        }
        result
    });
    let result = replay.await.map_err(|e| eyre::eyre!("replay panicked: {e}"))?;
    if let Some(w) = writer {
        w.await.map_err(|e| eyre::eyre!("store writer panicked: {e}"))??;
    }
    let summary = match result {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e:#}");
            return Ok(ExitCode::FAILURE);
        }
    };
    eprintln!(
        "replayed {} blocks, {} transactions, {:.1} MB: {} findings{}",
        summary.blocks,
        summary.transactions,
        summary.bytes as f64 / 1e6,
        summary.findings,
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
