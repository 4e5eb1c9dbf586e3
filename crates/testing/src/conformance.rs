//! The conformance suite every detector passes (the laws of `palisade_detect::Detector`):
//!
//! 1. commit then revert of the same segment leaves the checkpoint unchanged;
//! 2. one block at a time, the whole segment and seeded random splits give identical findings;
//! 3. a reorg from A to B leaves the same active findings and checkpoint as a fresh run over B
//!    (reorg notices aside);
//! 4. checkpoint, restore into a fresh instance, continue: same findings as never stopping;
//! 5. warm-up: a fresh instance fed from `warmup()` blocks before any split point makes, about
//!    the blocks from the split point on, the findings a run from the start makes.

use palisade_detect::{drive, Detector};
use palisade_primitives::{BlockData, ChainEvent, ChainSegment, Finding, FindingKey, Findings};
use std::collections::BTreeSet;
use std::sync::Arc;

/// A small deterministic generator (seeded; no randomness in tests).
#[derive(Debug, Clone)]
pub struct Lcg(u64);

impl Lcg {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407))
    }
    /// Next value below `n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % n.max(1)
    }
}

fn seg(blocks: &[Arc<BlockData>]) -> ChainSegment {
    ChainSegment::new(blocks.to_vec()).unwrap_or_else(|e| panic!("fixture chain: {e}"))
}

fn commit_all(d: &mut dyn Detector, parts: &[&[Arc<BlockData>]]) -> Vec<Finding> {
    let mut out = Findings::new();
    for p in parts {
        if p.is_empty() {
            continue;
        }
        let ev = ChainEvent::Committed { new: Arc::new(seg(p)) };
        drive(d, &ev, &mut out).unwrap_or_else(|e| panic!("{e}"));
    }
    out.take().0
}

fn keys(fs: &[Finding]) -> Vec<FindingKey> {
    fs.iter().map(|f| f.key).collect()
}

/// Runs every law on `chain` (contiguous, parent-linked) and a competing fork `fork` that
/// shares `chain[..fork_at]`. `make` builds a fresh detector.
///
/// # Panics
/// When a law does not hold, naming it.
pub fn check(
    name: &str,
    make: &dyn Fn() -> Box<dyn Detector>,
    chain: &[Arc<BlockData>],
    fork: &[Arc<BlockData>],
    fork_at: usize,
) {
    assert!(chain.len() >= 3 && fork_at > 0 && fork_at < chain.len(), "{name}: fixture too short");
    // Law 2: splits.
    let whole = commit_all(make().as_mut(), &[chain]);
    let singles: Vec<&[Arc<BlockData>]> = chain.chunks(1).collect();
    let one_by_one = commit_all(make().as_mut(), &singles);
    assert_eq!(whole, one_by_one, "{name}: one block at a time differs from the whole segment");
    let mut rng = Lcg::new(0x5EED);
    for round in 0..8 {
        let mut parts = Vec::new();
        let mut i = 0;
        while i < chain.len() {
            let len = 1 + rng.below(4) as usize;
            let j = (i + len).min(chain.len());
            parts.push(&chain[i..j]);
            i = j;
        }
        let got = commit_all(make().as_mut(), &parts);
        assert_eq!(whole, got, "{name}: random split {round} differs from the whole segment");
    }
    // Law 1: commit then revert restores the checkpoint, at every split point.
    for k in 1..chain.len() {
        let mut d = make();
        commit_all(d.as_mut(), &[&chain[..k]]);
        let before = d.checkpoint();
        let tail = Arc::new(seg(&chain[k..]));
        let mut out = Findings::new();
        d.commit(&tail, &mut out).unwrap_or_else(|e| panic!("{e}"));
        d.revert(&tail, &mut out).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            before,
            d.checkpoint(),
            "{name}: commit then revert of blocks {k}.. changed the state"
        );
    }
    // Law 3: reorg A -> B equals a fresh run over B.
    let mut d = make();
    let mut out = Findings::new();
    drive(d.as_mut(), &ChainEvent::Committed { new: Arc::new(seg(&chain[..fork_at])) }, &mut out)
        .unwrap();
    drive(d.as_mut(), &ChainEvent::Committed { new: Arc::new(seg(&chain[fork_at..])) }, &mut out)
        .unwrap();
    let ev =
        ChainEvent::Reorged { old: Arc::new(seg(&chain[fork_at..])), new: Arc::new(seg(fork)) };
    drive(d.as_mut(), &ev, &mut out).unwrap_or_else(|e| panic!("{e}"));
    let retracted: BTreeSet<_> = out.retracted().iter().copied().collect();
    let notices: BTreeSet<_> = out.notices().iter().copied().collect();
    let active: Vec<FindingKey> = out
        .emitted()
        .iter()
        .filter(|f| !retracted.contains(&f.anchor) && !notices.contains(&f.key))
        .map(|f| f.key)
        .collect();
    let mut fresh = make();
    let expected = commit_all(fresh.as_mut(), &[&chain[..fork_at], fork]);
    assert_eq!(active, keys(&expected), "{name}: reorg A->B differs from a fresh run over B");
    assert_eq!(
        d.checkpoint(),
        fresh.checkpoint(),
        "{name}: state after reorg A->B differs from a fresh run over B"
    );
    // Law 4: checkpoint and restore.
    let k = chain.len() / 2;
    let mut a = make();
    let first = commit_all(a.as_mut(), &[&chain[..k]]);
    let cp = a.checkpoint();
    let mut b = make();
    b.restore(&cp).unwrap_or_else(|e| panic!("{name}: restore: {e}"));
    let second = commit_all(b.as_mut(), &[&chain[k..]]);
    let mut all = first;
    all.extend(second);
    assert_eq!(keys(&whole), keys(&all), "{name}: restoring a checkpoint changed the findings");
    // Law 5: a range replayed after its declared warm-up gives the findings of a full run.
    if let Some(w) = make().warmup() {
        for k in 1..chain.len() {
            let start = k.saturating_sub(w as usize);
            let from = chain[k].header.number;
            let got: Vec<FindingKey> = commit_all(make().as_mut(), &[&chain[start..]])
                .into_iter()
                .filter(|f| f.anchor.number >= from)
                .map(|f| f.key)
                .collect();
            let want: Vec<FindingKey> =
                whole.iter().filter(|f| f.anchor.number >= from).map(|f| f.key).collect();
            assert_eq!(
                got, want,
                "{name}: a range from block {from} after a warm-up of {w} differs"
            );
        }
    }
}

/// One pending transaction as the mempool service gives it to detectors.
#[derive(Debug, Clone)]
pub struct PendingInput {
    /// The transaction.
    pub tx: palisade_primitives::pending::PendingTx,
    /// Its would-be block.
    pub block: BlockData,
    /// Its simulation, when one ran.
    pub sim: Option<palisade_primitives::pending::Simulation>,
}

fn feed(
    d: &mut dyn palisade_detect::pending::PendingDetector,
    inputs: &[PendingInput],
) -> Vec<Finding> {
    let mut out = Findings::new();
    for (i, p) in inputs.iter().enumerate() {
        let pending = palisade_detect::pending::Pending {
            tx: &p.tx,
            block: &p.block,
            sim: p.sim.as_ref(),
            seq: i as u64 + 1,
        };
        d.pending(&pending, &mut out);
    }
    out.take().0
}

/// The laws of a pending detector, on `inputs` in arrival order; returns the findings of one run.
///
/// 1. deterministic: two fresh instances give identical findings;
/// 2. every finding is marked: `stage` is `pending`, the pending transaction is its first
///    transaction hash, it is anchored at the would-be block (synthetic, no hash), and findings
///    of different transactions never share a key;
/// 3. forgetting is complete: after `gone` of every transaction fed, a second batch of inputs
///    gives what a fresh instance gives on that batch;
/// 4. a transaction fed again gives no key it did not give the first time.
///
/// # Panics
/// When a law does not hold, naming it.
pub fn check_pending(
    name: &str,
    make: &dyn Fn() -> Box<dyn palisade_detect::pending::PendingDetector>,
    inputs: &[PendingInput],
) -> Vec<Finding> {
    let mut a = make();
    let first = feed(a.as_mut(), inputs);
    let again = feed(make().as_mut(), inputs);
    assert_eq!(first, again, "{name}: law 1 (deterministic)");
    let mut seen_keys = std::collections::BTreeMap::new();
    for f in &first {
        assert_eq!(f.evidence["stage"], "pending", "{name}: law 2 (stage) {f:?}");
        let p = inputs
            .iter()
            .find(|p| f.tx_hashes.first() == Some(&p.tx.hash))
            .unwrap_or_else(|| panic!("{name}: law 2 (first tx is the pending one) {f:?}"));
        assert_eq!(f.anchor.known_hash(), None, "{name}: law 2 (anchor has no hash)");
        assert_eq!(f.anchor.number, p.block.header.number, "{name}: law 2 (anchor number)");
        if let Some(other) = seen_keys.insert(f.key, p.tx.hash) {
            assert_eq!(other, p.tx.hash, "{name}: law 2 (one key, two transactions)");
        }
    }
    // Law 3: split the inputs; forget the first half, then the second half must give what a
    // fresh instance gives on it.
    let half = inputs.len() / 2;
    let mut b = make();
    feed(b.as_mut(), &inputs[..half]);
    let hashes: Vec<_> = inputs[..half].iter().map(|p| p.tx.hash).collect();
    b.gone(&hashes);
    let after_forget = feed(b.as_mut(), &inputs[half..]);
    let fresh = feed(make().as_mut(), &inputs[half..]);
    assert_eq!(keys(&after_forget), keys(&fresh), "{name}: law 3 (forgetting is complete)");
    // Law 4.
    let known: BTreeSet<FindingKey> = first.iter().map(|f| f.key).collect();
    let repeat = feed(a.as_mut(), inputs);
    assert!(
        repeat.iter().all(|f| known.contains(&f.key)),
        "{name}: law 4 (a transaction fed again made a new finding)"
    );
    first
}
