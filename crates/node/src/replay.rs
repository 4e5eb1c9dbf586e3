//! Replay of recorded blocks: each input (one per chain) through its own [`ChainEngine`], the
//! inputs merged in timestamp order, with detectors that span chains sharing their state as in
//! a live run. Findings stream out as they are made (a long replay holds none of them).
//!
//! Decoding is what costs: with `workers > 1` each input is read and decoded ahead in chunks on
//! a pool of `workers` threads while the engine commits the blocks strictly in order, so the
//! findings are the same as a sequential replay's.

use crate::engine::{replay_block, Applied, ChainEngine};
use eyre::WrapErr;
use palisade_detect::DetectorConfig;
use palisade_primitives::{BlockData, ChainEvent};
use palisade_source::replay::{RecordedLine, RecordedReader};
use palisade_source::SourceError;
use rayon::prelude::*;
use std::collections::BTreeMap;

/// Lines decoded per chunk when decoding ahead.
const CHUNK: usize = 64;
/// Chunks decoded ahead of the engine (bounds memory).
const AHEAD: usize = 2;

/// Totals of a replay.
#[derive(Debug, Default, Clone)]
pub struct Summary {
    /// Blocks replayed.
    pub blocks: u64,
    /// Transactions in them.
    pub transactions: u64,
    /// Bytes of JSON read.
    pub bytes: u64,
    /// Findings made.
    pub findings: u64,
    /// Blocks whose findings a recorded reorg retracted.
    pub retracted: u64,
    /// Checks that could not be made, with the number of blocks each concerns.
    pub unchecked: BTreeMap<String, u64>,
    /// Notes about the data (blocks that did not link, duplicates).
    pub data_notes: Vec<String>,
}

/// One recorded input: the chain its blocks belong to, that chain's reorg depth, and the reader.
#[derive(Debug)]
pub struct Input {
    /// Chain name.
    pub chain: String,
    /// Deepest reorg undone exactly.
    pub max_reorg_depth: u64,
    /// The recorded lines.
    pub reader: RecordedReader,
    /// The settlement-risk index's weights and windows.
    pub risk: palisade_risk::RiskConfig,
}

/// Reads `reader` in chunks on a thread of its own and maps each line (decoded, or the error
/// reading or decoding it) with `f` on a pool of `workers` threads, ahead of the consumer:
/// results come out in file order, at most a few chunks ahead (bounded memory). Reading stops
/// after the first error.
pub fn map_ahead<T: Send + 'static>(
    mut reader: RecordedReader,
    workers: usize,
    f: impl Fn(Result<RecordedLine, SourceError>) -> T + Send + Sync + 'static,
) -> impl Iterator<Item = T> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<T>>(AHEAD);
    std::thread::spawn(move || {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(workers.max(1)).build().ok();
        loop {
            let mut raw: Vec<Result<(u64, String), SourceError>> = Vec::with_capacity(CHUNK);
            while raw.len() < CHUNK {
                match reader.next_owned() {
                    None => break,
                    Some(Ok((n, t))) => raw.push(Ok((n, t))),
                    Some(Err(e)) => {
                        raw.push(Err(e));
                        break;
                    }
                }
            }
            if raw.is_empty() {
                return;
            }
            let last = raw.last().is_some_and(|r| r.is_err());
            let path = reader.path().to_string();
            let one = |r: Result<(u64, String), SourceError>| {
                f(r.and_then(|(line, text)| {
                    let bytes = text.len() as u64 + 1;
                    BlockData::from_json_line(&text)
                        .map(|block| RecordedLine {
                            line,
                            block: proven_prestate(block, &path, line),
                            bytes,
                        })
                        .map_err(|e| SourceError::Recorded {
                            path: path.clone(),
                            line,
                            reason: e.to_string(),
                        })
                }))
            };
            let mapped: Vec<T> = match &pool {
                Some(p) => p.install(|| raw.into_par_iter().map(one).collect()),
                None => raw.into_iter().map(one).collect(),
            };
            if tx.send(mapped).is_err() || last {
                return;
            }
        }
    });
    rx.into_iter().flatten()
}

/// `block` with its recorded `prestate` only when it is proven (proofs against the parent's
/// state root, code against the proven code hashes, the parent against `parentHash`); one that
/// is not is dropped, with a warning naming the line, so no assertion judges a block on state
/// nobody proved (the recording's other checks are `palisade verify`'s).
fn proven_prestate(mut block: BlockData, path: &str, line: u64) -> BlockData {
    let Some(pre) = &block.prestate else { return block };
    let n = block.header.number;
    if let Err(e) = palisade_verify::verify_decoded_prestate(n, block.header.parent_hash, pre) {
        tracing::warn!(
            "{path}:{line}: the recorded state before block {n} is not proven, assertions do not run on it: {e}"
        );
        block.prestate = None;
    }
    block
}

/// Decoded lines of one input, decoded ahead on a thread pool, or inline.
enum Lines {
    Inline(RecordedReader),
    Ahead(Box<dyn Iterator<Item = Result<RecordedLine, SourceError>>>),
}

impl Lines {
    /// With several workers, each block is also prepared (what the detectors derive from it
    /// alone, such as its DeFi actions) on the worker that decoded it.
    fn new(reader: RecordedReader, workers: usize, needs: palisade_detect::Needs) -> Self {
        if workers <= 1 {
            Self::Inline(reader)
        } else {
            Self::Ahead(Box::new(map_ahead(reader, workers, move |r| {
                if let Ok(l) = &r {
                    needs.prepare(&l.block);
                }
                r
            })))
        }
    }

    fn next(&mut self) -> Option<Result<RecordedLine, SourceError>> {
        match self {
            Self::Inline(r) => r.next(),
            Self::Ahead(it) => it.next(),
        }
    }
}

/// A lane: one input with its engine and the next line looked at.
struct Lane {
    chain: String,
    engine: ChainEngine,
    lines: Lines,
    next: Option<Result<RecordedLine, SourceError>>,
}

impl Lane {
    fn fill(&mut self) {
        if self.next.is_none() {
            self.next = self.lines.next();
        }
    }

    /// The timestamp of the next line (errors first, so they are reported).
    fn key(&mut self) -> Option<u64> {
        self.fill();
        match &self.next {
            None => None,
            Some(Err(_)) => Some(0),
            Some(Ok(l)) => Some(l.block.header.timestamp.unwrap_or(0)),
        }
    }
}

/// Replays `inputs` through `detectors`, decoding with `workers` threads; `each` gets every
/// event's output (its findings, retractions) with the chain's name, as it is made.
pub fn run_replay(
    inputs: Vec<Input>,
    detectors: &[DetectorConfig],
    workers: usize,
    mut progress: impl FnMut(&Summary),
    mut each: impl FnMut(&str, &ChainEvent, &Applied) -> eyre::Result<()>,
) -> eyre::Result<Summary> {
    let links = palisade_detect::Links::default();
    let several = inputs.len() > 1;
    let mut lanes = Vec::with_capacity(inputs.len());
    for i in inputs {
        let dets = crate::config::build_detectors(detectors, &i.chain, &links)?;
        let engine = ChainEngine::new(&i.chain, dets, i.max_reorg_depth, true).with_risk(i.risk)?;
        let needs = engine.needs();
        lanes.push(Lane {
            chain: i.chain,
            engine,
            lines: Lines::new(i.reader, workers, needs),
            next: None,
        });
    }
    let mut summary = Summary::default();
    loop {
        // The lane whose next block is the oldest.
        let mut pick: Option<(usize, u64)> = None;
        for (i, lane) in lanes.iter_mut().enumerate() {
            if let Some(ts) = lane.key() {
                if pick.is_none_or(|(_, t)| ts < t) {
                    pick = Some((i, ts));
                }
            }
        }
        let Some((i, _)) = pick else { break };
        let lane = &mut lanes[i];
        let Some(line) = lane.next.take() else { break };
        let line = line?;
        summary.blocks += 1;
        summary.transactions += line.block.transactions.len() as u64;
        summary.bytes += line.bytes;
        for n in &line.block.notes {
            *summary.unchecked.entry(n.clone()).or_default() += 1;
        }
        progress(&summary);
        let mut notes = Vec::new();
        let chain = lane.chain.clone();
        replay_block(&mut lane.engine, line.block, &mut notes, |ev, applied| {
            summary.findings += applied.findings.len() as u64;
            summary.retracted += applied.retracted.len() as u64;
            each(&chain, ev, &applied).wrap_err("handing out findings")
        })?;
        summary.data_notes.extend(notes.into_iter().map(|n| {
            if several {
                format!("{chain}: {n}")
            } else {
                n
            }
        }));
    }
    Ok(summary)
}

/// The warm-up a split replay needs with these detectors on `chain`: the most any of them
/// declares (see `palisade_detect::Detector::warmup`), or `None` when one keeps state without
/// bound (then the replay cannot be split and runs whole).
pub fn warmup(detectors: &[DetectorConfig], chain: &str) -> eyre::Result<Option<u64>> {
    let dets =
        crate::config::build_detectors(detectors, chain, &palisade_detect::Links::default())?;
    Ok(dets.iter().try_fold(0u64, |w, d| d.warmup().map(|x| w.max(x))))
}

/// One range of a recorded file, replayed apart from the rest.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Range {
    /// First line (1-based) whose blocks' findings are kept.
    pub from: u64,
    /// Last line whose blocks' findings are kept.
    pub to: u64,
    /// Lines fed before `from` so stateful detectors warm up.
    pub warm: u64,
    /// Lines fed after `to`, for findings about the range made later (a reorg's retraction).
    pub tail: u64,
}

/// Splits a file of `lines` lines into ranges of about `size` lines, each with `warm` lines of
/// warm-up before it and as many after it.
pub fn split(lines: u64, size: u64, warm: u64) -> Vec<Range> {
    let size = size.max(1);
    (0..lines.div_ceil(size))
        .map(|i| Range { from: i * size + 1, to: ((i + 1) * size).min(lines), warm, tail: warm })
        .collect()
}

/// Replays one range of `reader` through `detectors`: feeds lines `from - warm ..= to + tail`
/// and returns every finding made about the blocks of lines `from ..= to` (their numbers), in
/// the order made. The union over a split equals a replay of the whole file when `warm` covers
/// every detector's declared warm-up.
pub fn replay_range(
    mut reader: RecordedReader,
    chain: &str,
    max_reorg_depth: u64,
    detectors: &[DetectorConfig],
    range: &Range,
) -> eyre::Result<Vec<palisade_primitives::Finding>> {
    let start = range.from.saturating_sub(range.warm).max(1);
    let end = range.to.saturating_add(range.tail);
    let dets =
        crate::config::build_detectors(detectors, chain, &palisade_detect::Links::default())?;
    let mut engine = ChainEngine::new(chain, dets, max_reorg_depth, true);
    let (mut lo, mut hi) = (u64::MAX, 0u64);
    let mut kept = Vec::new();
    let mut notes = Vec::new();
    let mut made = Vec::new();
    loop {
        let (line, text) = match reader.next_raw() {
            None => break,
            Some(Err(e)) => return Err(e.into()),
            Some(Ok((n, t))) => (n, t.to_string()),
        };
        if line < start {
            continue;
        }
        if line > end {
            break;
        }
        let block = BlockData::from_json_line(&text)
            .map_err(|e| eyre::eyre!("{}:{line}: {e}", reader.path()))?;
        let block = proven_prestate(block, reader.path(), line);
        if (range.from..=range.to).contains(&line) {
            lo = lo.min(block.header.number);
            hi = hi.max(block.header.number);
        }
        replay_block(&mut engine, block, &mut notes, |_, applied| {
            made.extend(applied.findings);
            Ok(())
        })?;
    }
    for f in made {
        if (lo..=hi).contains(&f.anchor.number) {
            kept.push(f);
        }
    }
    Ok(kept)
}

/// The number of workers to decode with by default: the cores.
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(chain: &str, text: &str, dir: &std::path::Path) -> Input {
        let p = dir.join(format!("{chain}.jsonl"));
        std::fs::write(&p, text).unwrap();
        Input {
            chain: chain.into(),
            max_reorg_depth: 8,
            reader: palisade_source::replay::open(p.to_str().unwrap()).unwrap(),
            risk: Default::default(),
        }
    }

    fn blocks(n: u64, t0: u64, step: u64) -> String {
        (1..=n)
            .map(|i| {
                format!(
                    "{{\"block\":{{\"number\":\"{i:#x}\",\"hash\":\"0x{:064x}\",\"parentHash\":\"0x{:064x}\",\"timestamp\":\"{:#x}\"}}}}\n",
                    i,
                    i - 1,
                    t0 + i * step
                )
            })
            .collect()
    }

    /// Lanes merge by timestamp, and decoding ahead on several threads commits the same blocks
    /// in the same order as decoding inline.
    #[test]
    fn lanes_merge_by_time_and_workers_keep_the_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut orders = Vec::new();
        for workers in [1, 3] {
            let a = input("a", &blocks(300, 0, 2), dir.path());
            let b = input("b", &blocks(200, 1, 3), dir.path());
            let mut order = Vec::new();
            let s = run_replay(
                vec![a, b],
                &[],
                workers,
                |_| {},
                |chain, ev, _| {
                    for b in ev.committed().map(|s| s.blocks().to_vec()).unwrap_or_default() {
                        order.push((chain.to_string(), b.header.number, b.header.timestamp));
                    }
                    Ok(())
                },
            )
            .unwrap();
            assert_eq!(s.blocks, 500);
            let ts: Vec<u64> = order.iter().map(|o| o.2.unwrap()).collect();
            assert!(ts.windows(2).all(|w| w[0] <= w[1]), "merged by time");
            orders.push(order);
        }
        assert_eq!(orders[0], orders[1], "the same order with 1 and 3 workers");
    }

    #[test]
    fn ranges_cover_the_file_once() {
        let r = split(1000, 300, 64);
        assert_eq!(r.len(), 4);
        assert_eq!((r[0].from, r[0].to), (1, 300));
        assert_eq!((r[3].from, r[3].to), (901, 1000));
        assert!(r.windows(2).all(|w| w[1].from == w[0].to + 1));
    }

    #[test]
    fn a_bad_line_is_named_with_workers_too() {
        let dir = tempfile::tempdir().unwrap();
        let text = blocks(100, 0, 1) + "{\"block\": nope}\n";
        for workers in [1, 2] {
            let e = run_replay(
                vec![input("a", &text, dir.path())],
                &[],
                workers,
                |_| {},
                |_, _, _| Ok(()),
            )
            .unwrap_err();
            assert!(format!("{e:#}").contains(":101:"), "{e:#}");
        }
    }
}
