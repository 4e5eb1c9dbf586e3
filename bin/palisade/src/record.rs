//! `palisade record`.

use crate::EXIT_USAGE;
use eyre::WrapErr;
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use palisade_source::evm_rpc::{EndpointConfig, Enrich, RpcClient};
use serde_json::Value;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;

/// Blocks per zstd frame (and per flush of a plain file): after a kill the file holds every
/// chunk written whole, and `--resume` goes on from the last complete one.
const CHUNK: usize = 32;

/// What `palisade record` was asked.
pub(crate) struct Args<'a> {
    pub(crate) rpc: &'a str,
    pub(crate) from: u64,
    pub(crate) to: u64,
    pub(crate) output: &'a str,
    pub(crate) enrich: Enrich,
    pub(crate) proofs: &'a [String],
    pub(crate) needs: &'a palisade_detect::Needs,
    /// Blocks in flight at once (written in order).
    pub(crate) concurrency: usize,
    /// Go on from the last complete line of `output`.
    pub(crate) resume: bool,
}

pub(crate) async fn cmd(a: Args<'_>) -> eyre::Result<ExitCode> {
    let Args { rpc, mut from, to, output, enrich, proofs, needs, concurrency, resume } = a;
    if to < from {
        eprintln!("error: --to ({to}) is below --from ({from})");
        return Ok(ExitCode::from(EXIT_USAGE));
    }
    if resume && output == "-" {
        eprintln!("error: --resume needs an output file, not stdout");
        return Ok(ExitCode::from(EXIT_USAGE));
    }
    let accounts = match parse_proofs(proofs) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: --proof: {e}");
            return Ok(ExitCode::from(EXIT_USAGE));
        }
    };
    // A node that says 429 is waited for as it asks, for a while, instead of failing the run.
    let eps = match RpcClient::new(&EndpointConfig::http(rpc), &Default::default()) {
        Ok(e) => std::sync::Arc::new(e.with_rate_limit_retries(12)),
        Err(e) => {
            eprintln!("error: --rpc: {e}");
            return Ok(ExitCode::from(EXIT_USAGE));
        }
    };
    let zst = output.ends_with(".zst");
    let mut append = false;
    if resume && std::path::Path::new(output).exists() {
        match resume_point(output, zst).wrap_err_with(|| format!("reading {output} to resume"))? {
            Some(last) if last >= to => {
                eprintln!("{output} already holds block {last}: nothing to record");
                return Ok(ExitCode::SUCCESS);
            }
            Some(last) => {
                if last + 1 > from {
                    from = last + 1;
                }
                eprintln!("resuming after block {last} in {output}");
            }
            None => eprintln!("{output} holds no complete block: recording from {from}"),
        }
        append = true;
    }
    let raw: Box<dyn Write> = if output == "-" {
        Box::new(std::io::stdout().lock())
    } else if append {
        Box::new(
            std::fs::OpenOptions::new()
                .append(true)
                .open(output)
                .wrap_err_with(|| format!("opening {output}"))?,
        )
    } else {
        Box::new(std::fs::File::create(output).wrap_err_with(|| format!("creating {output}"))?)
    };
    let mut out = Chunks { raw, zst, buf: Vec::new(), lines: 0 };
    let bar = if std::io::stderr().is_terminal() && output != "-" {
        let b = ProgressBar::new(to - from + 1);
        b.set_style(
            ProgressStyle::with_template(
                "{bar:40} {pos}/{len} blocks [{elapsed_precise}, eta {eta}]",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Some(b)
    } else {
        None
    };
    // Assertions re-execute blocks: their state is recorded for the chain's own id.
    let chain_id = if needs.assertions.is_empty() {
        0
    } else {
        eps.chain_id().await.wrap_err("asking the node for its chain id")?
    };
    let fetch = Fetch { eps: &eps, enrich, accounts: &accounts, needs, chain_id };
    // A window of blocks in flight, each one batch of requests; written in block order. Once
    // `stop` is set no block is started: the window drains.
    let stop = std::sync::atomic::AtomicBool::new(false);
    let mut blocks = futures::stream::iter(from..=to)
        .take_while(|_| std::future::ready(!stop.load(std::sync::atomic::Ordering::Relaxed)))
        .map(|n| fetch.block(n))
        .buffered(concurrency.max(1));
    // The blocks still in flight are finished (and dropped) before returning, so none is cut
    // off mid-request by the runtime's shutdown (a block's re-execution for its prestate runs on
    // a blocking thread that still uses the runtime's timers).
    async fn settle<S: futures::Stream + Unpin>(
        stop: &std::sync::atomic::AtomicBool,
        blocks: &mut S,
    ) {
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let drain = async { while blocks.next().await.is_some() {} };
        tokio::time::timeout(std::time::Duration::from_secs(30), drain).await.ok();
    }
    let (mut with_traces, mut written) = (0u64, 0u64);
    let mut last = None;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let interrupted = loop {
        let next = tokio::select! {
            biased;
            _ = &mut ctrl_c => break true,
            next = blocks.next() => next,
        };
        let Some(r) = next else { break false };
        let (n, line, traced) = match r {
            Ok(x) => x,
            Err(e) => {
                // What was fetched in order before the failure stays readable.
                out.finish()?;
                settle(&stop, &mut blocks).await;
                return Err(e.wrap_err(format!(
                    "after {written} blocks{}; `--resume` goes on from there",
                    last.map(|l| format!(" (the last {l})")).unwrap_or_default()
                )));
            }
        };
        with_traces += u64::from(traced);
        out.line(&line)?;
        written += 1;
        last = Some(n);
        if let Some(b) = &bar {
            b.inc(1);
        }
    };
    out.finish()?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if interrupted {
        settle(&stop, &mut blocks).await;
        eprintln!(
            "interrupted: {written} blocks ({with_traces} with traces) written to {output}{}; `palisade record --resume` with the same arguments goes on",
            last.map(|l| format!(", the last {l}")).unwrap_or_default()
        );
        return Ok(ExitCode::from(130));
    }
    eprintln!("recorded {written} blocks ({with_traces} with traces) to {output}");
    Ok(ExitCode::SUCCESS)
}

/// What each block is fetched with.
struct Fetch<'a> {
    eps: &'a std::sync::Arc<RpcClient>,
    chain_id: u64,
    enrich: Enrich,
    accounts: &'a [(palisade_primitives::Address, Vec<palisade_primitives::B256>)],
    needs: &'a palisade_detect::Needs,
}

impl Fetch<'_> {
    /// Block `n` as a line of the replay format, and whether it has traces.
    async fn block(&self, n: u64) -> eyre::Result<(u64, String, bool)> {
        let eps = self.eps;
        let mut rec = eps
            .block_by_number_batched(n, self.enrich)
            .await
            .wrap_err_with(|| format!("fetching block {n}"))?
            .ok_or_else(|| eyre::eyre!("the node has no block {n}"))?;
        let hash = palisade_primitives::quantity::b256(&rec.block["hash"])
            .map_err(|e| eyre::eyre!("block {n}: {e}"))?;
        // The --proof accounts and the detectors' watched accounts, slots merged per account.
        let mut wanted: std::collections::BTreeMap<_, Vec<_>> =
            self.needs.accounts_at(n).into_iter().collect();
        for (a, slots) in self.accounts {
            let e = wanted.entry(*a).or_default();
            e.extend(slots.iter().filter(|s| !e.contains(s)).copied().collect::<Vec<_>>());
        }
        // New contracts' code, with account proofs that tie it to the state root.
        let created = if self.needs.code { rec.code_wanted() } else { Vec::new() };
        for a in &created {
            wanted.entry(*a).or_default();
        }
        let wanted: Vec<_> = wanted.into_iter().collect();
        if !wanted.is_empty() {
            rec.proofs = eps
                .proofs(&wanted, hash)
                .await
                .wrap_err_with(|| format!("fetching proofs at block {n}"))?;
        }
        let calls = self.needs.calls_at(n);
        if !calls.is_empty() {
            rec.calls = eps
                .view_calls(&calls, hash)
                .await
                .wrap_err_with(|| format!("making view calls at block {n}"))?;
        }
        if !created.is_empty() {
            rec.code = eps
                .code_at(&created, hash)
                .await
                .wrap_err_with(|| format!("fetching new contracts' code at block {n}"))?;
        }
        if !self.needs.assertions.is_empty() {
            rec.prestate = self.prestate(&rec).await.wrap_err_with(|| {
                format!("recording the state assertions read before block {n}")
            })?;
        }
        let traced = !rec.traces.is_null() || !rec.call_traces.is_null();
        Ok((n, rec.to_json_line(), traced))
    }

    /// The state before `rec` that its assertions read (null when none applies to it).
    async fn prestate(&self, rec: &palisade_primitives::RecordedBlock) -> eyre::Result<Value> {
        let block = palisade_primitives::BlockData::from_recorded(rec.clone())?;
        let adopters: Vec<_> = self.needs.assertions.iter().map(|s| s.adopter).collect();
        if palisade_assert::last_candidate(&block, &adopters).is_none() {
            return Ok(Value::Null);
        }
        let parent_hash = block.header.parent_hash.ok_or_else(|| eyre::eyre!("no parentHash"))?;
        let prec = self
            .eps
            .block_by_hash(parent_hash, Default::default())
            .await?
            .ok_or_else(|| eyre::eyre!("the node has no parent block {parent_hash}"))?;
        if !palisade_verify::verify_block(&prec).passed.contains(&palisade_verify::Check::BlockHash)
        {
            eyre::bail!("the parent block {parent_hash} does not hash to its hash");
        }
        let parent = palisade_primitives::BlockData::from_recorded(prec)?.header;
        Ok(palisade_sim::record_prestate(
            self.eps.clone(),
            self.chain_id,
            &parent,
            &rec.block,
            &block,
            &self.needs.assertions,
        )
        .await?)
    }
}

/// The output, written a chunk of lines at a time: each chunk of a `.zst` is its own zstd
/// frame, so a file cut short by a kill is every complete frame plus at most one partial one.
struct Chunks {
    raw: Box<dyn Write>,
    zst: bool,
    buf: Vec<u8>,
    lines: usize,
}

impl Chunks {
    fn line(&mut self, line: &str) -> eyre::Result<()> {
        self.buf.extend_from_slice(line.as_bytes());
        self.buf.push(b'\n');
        self.lines += 1;
        if self.lines >= CHUNK {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> eyre::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        if self.zst {
            let frame = zstd::bulk::compress(&self.buf, 9).wrap_err("compressing")?;
            self.raw.write_all(&frame)?;
        } else {
            self.raw.write_all(&self.buf)?;
        }
        self.raw.flush()?;
        self.buf.clear();
        self.lines = 0;
        Ok(())
    }

    fn finish(&mut self) -> eyre::Result<()> {
        self.flush()
    }
}

/// Cuts `path` back to its last complete line (a `.zst`: its last complete frame, whose last
/// line is whole when this command wrote it) and returns that line's block number.
fn resume_point(path: &str, zst: bool) -> eyre::Result<Option<u64>> {
    let data = std::fs::read(path)?;
    let (keep, text) = if zst {
        let mut pos = 0;
        while pos < data.len() {
            match zstd::zstd_safe::find_frame_compressed_size(&data[pos..]) {
                Ok(n) if n > 0 && pos + n <= data.len() => pos += n,
                _ => break,
            }
        }
        let text =
            zstd::stream::decode_all(&data[..pos]).wrap_err("decoding its complete frames")?;
        if text.last().is_some_and(|b| *b != b'\n') {
            eyre::bail!(
                "its last complete zstd frame ends inside a line (not written by this version of record); record again"
            );
        }
        (pos, text)
    } else {
        let pos = data.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        (pos, data[..pos].to_vec())
    };
    if keep < data.len() {
        let f = std::fs::OpenOptions::new().write(true).open(path)?;
        f.set_len(keep as u64)?;
        eprintln!("{path}: dropped {} bytes of an unfinished chunk", data.len() - keep);
    }
    let Some(line) = text.split(|b| *b == b'\n').rev().find(|l| !l.is_empty()) else {
        return Ok(None);
    };
    let v: serde_json::Value = serde_json::from_slice(line).wrap_err("its last line")?;
    let n = palisade_primitives::quantity::u64(&v["block"]["number"])
        .map_err(|e| eyre::eyre!("its last line's block number: {e}"))?;
    Ok(Some(n))
}

/// `ADDRESS[:SLOT,SLOT...]` entries, slots in the `storage_watch` syntax.
fn parse_proofs(
    args: &[String],
) -> Result<Vec<(palisade_primitives::Address, Vec<palisade_primitives::B256>)>, String> {
    args.iter()
        .map(|a| {
            let (addr, slots) = a.split_once(':').unwrap_or((a, ""));
            let addr = addr.parse().map_err(|e| format!("{addr:?}: {e}"))?;
            let slots = slots
                .split(',')
                .filter(|s| !s.is_empty())
                .map(palisade_detect::detectors::storage_watch::parse_slot)
                .collect::<Result<Vec<_>, _>>()?;
            Ok((addr, slots))
        })
        .collect()
}
