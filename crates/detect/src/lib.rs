//! Detectors: pure state machines over chain events.
//!
//! A [`Detector`] sees the canonical chain only through [`drive`], which the runtime calls for
//! live blocks, backfill and replay alike, so all three give identical findings. Detectors do no
//! I/O, read no clock and use no randomness; everything they know comes from the blocks.
//!
//! ```
//! use palisade_detect::{drive, Detector, DetectorConfig};
//! use palisade_primitives::{ChainEvent, Findings};
//! let cfg: DetectorConfig = toml::from_str("type = \"chain_health\"").unwrap();
//! let mut d = cfg.build("mainnet", None, &Default::default()).unwrap();
//! assert_eq!(d.kind(), "chain_health");
//! ```
//!
//! # Invariants
//! - `commit(s)` followed by `revert(s)` leaves [`Detector::checkpoint`] unchanged.
//! - Committing a segment at once or one block at a time gives the same findings.
//! - A reorg from A to B leaves the same active findings as a fresh run over B, apart from the
//!   reorg notices emitted by [`Detector::reorg`].
//! - Findings anchored in reverted blocks are retracted by [`drive`], never by the detector.

mod abi;
pub mod bytecode;
mod config;
pub mod detectors;
mod error;
pub mod expr;
mod journal;
pub mod pending;
pub mod vars;

pub use config::{
    catalog, with_config_type, with_generated_tables, About, ConfigDoc, DetectorConfig,
    DetectorInfo, FieldDefault, FieldInfo, WithConfigType,
};
pub use error::{DetectError, Result};

use palisade_primitives::{Address, BlockRef, ChainEvent, ChainSegment, Findings, B256};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// State shared by the per-chain parts of a detector that watches several chains at once
/// (`bridge_invariant`). The runtime makes one `Links` per configuration and passes it to every
/// chain's [`DetectorConfig::build`], so that the parts of one detector find each other.
#[derive(Debug, Clone, Default)]
pub struct Links {
    bridges: Arc<Mutex<BTreeMap<String, Arc<Mutex<detectors::bridge_invariant::Ledger>>>>>,
    execution: Arc<Mutex<BTreeMap<String, Arc<Mutex<detectors::beacon::execution_link::Ledger>>>>>,
}

impl Links {
    /// The ledger of the bridge detector `id`, created on first use.
    pub(crate) fn bridge(&self, id: &str) -> Arc<Mutex<detectors::bridge_invariant::Ledger>> {
        let mut m = self.bridges.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(m.entry(id.to_string()).or_default())
    }

    /// The ledger of the execution-link detector `id`, created on first use.
    pub(crate) fn execution(
        &self,
        id: &str,
    ) -> Arc<Mutex<detectors::beacon::execution_link::Ledger>> {
        let mut m = self.execution.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(m.entry(id.to_string()).or_default())
    }
}

/// What a detector needs attached to each block.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Needs {
    /// Receipts (logs, status).
    pub receipts: bool,
    /// Call traces (internal calls).
    pub traces: bool,
    /// Accounts whose state (balance, nonce, code hash, storage slots) must be proven with
    /// `eth_getProof` against the block's state root.
    pub state: Vec<StateWatch>,
    /// View calls to make at the block's hash (`eth_call`), every `every` blocks.
    pub calls: Vec<ViewCall>,
    /// The code of the contracts each block creates (fetched at the block's hash and checked
    /// against the proven code hash).
    pub code: bool,
    /// The block's decoded DeFi actions (transfers, swaps, loans, liquidations, arbitrages,
    /// sandwiches). Nothing is fetched for it: it is a pure function of the block, which
    /// [`Needs::prepare`] computes ahead on a worker thread when blocks are decoded in parallel.
    #[serde(default)]
    pub actions: bool,
    /// Assertions to run on each block: the source records the state before each block whose
    /// transactions reach their contracts (the block re-executed on a lazily loaded, proven
    /// copy of its parent's state, keeping what was read), for the detector to run them on.
    #[serde(default)]
    pub assertions: Vec<std::sync::Arc<palisade_primitives::assertion::AssertionSpec>>,
}

/// A view call a detector wants made at blocks whose number is a multiple of `every`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewCall {
    /// The contract.
    pub to: Address,
    /// Calldata.
    pub data: palisade_primitives::Bytes,
    /// Period in blocks (at least 1).
    pub every: u64,
}

/// An account to prove, with the storage slots wanted, every `every` blocks (at block numbers
/// that are multiples of `every`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateWatch {
    /// The account.
    pub address: Address,
    /// Storage slots to prove.
    pub slots: Vec<B256>,
    /// Period in blocks (at least 1).
    pub every: u64,
}

impl Needs {
    /// The union of two needs.
    pub fn union(mut self, o: Self) -> Self {
        self.receipts |= o.receipts;
        self.traces |= o.traces;
        self.state.extend(o.state);
        self.calls.extend(o.calls);
        self.code |= o.code;
        self.actions |= o.actions;
        for a in o.assertions {
            if !self.assertions.contains(&a) {
                self.assertions.push(a);
            }
        }
        self
    }

    /// Computes ahead what the detectors derive from `b` alone (cached in the block), so that a
    /// worker thread does it while the detectors, in block order, work on earlier blocks.
    pub fn prepare(&self, b: &palisade_primitives::BlockData) {
        if self.actions {
            palisade_defi::actions(b);
        }
    }

    /// The view calls to make at block `number`, without repeats, in a stable order.
    pub fn calls_at(&self, number: u64) -> Vec<(Address, palisade_primitives::Bytes)> {
        let mut out: Vec<(Address, palisade_primitives::Bytes)> = self
            .calls
            .iter()
            .filter(|c| number.is_multiple_of(c.every.max(1)))
            .map(|c| (c.to, c.data.clone()))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// The accounts to prove at block `number`, each with the union of the slots wanted there,
    /// in address order (the order of the recorded `proofs`).
    pub fn accounts_at(&self, number: u64) -> Vec<(Address, Vec<B256>)> {
        let mut m: BTreeMap<Address, Vec<B256>> = BTreeMap::new();
        for w in &self.state {
            if number.is_multiple_of(w.every.max(1)) {
                let slots = m.entry(w.address).or_default();
                for s in &w.slots {
                    if !slots.contains(s) {
                        slots.push(*s);
                    }
                }
            }
        }
        m.into_iter().collect()
    }
}

/// A detector's persisted state: the head it has applied and its serialized state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The newest block applied, if any.
    pub head: Option<BlockRef>,
    /// Detector-specific state, including whatever undo data it keeps.
    pub state: Value,
}

impl Checkpoint {
    /// The field `key` of the state, as `T`; an error names the detector `id` and the field.
    pub fn field<T: serde::de::DeserializeOwned>(&self, id: &str, key: &str) -> Result<T> {
        T::deserialize(&self.state[key]).map_err(|e| DetectError::Restore {
            detector: id.to_string(),
            reason: format!("{key}: {e}"),
        })
    }
}

/// A pure state machine over the canonical chain.
///
/// The runtime owns each detector in a single task and calls it only through [`drive`] (events)
/// and [`Detector::finalize`]. Methods must not block, do I/O or read the clock. An error means
/// the detector's state is no longer trustworthy; the runtime reports it and stops the chain.
pub trait Detector: Send + std::fmt::Debug {
    /// Instance id, unique in a config (for example `chain_health` or `rule:weth-whale`).
    fn id(&self) -> &str;
    /// Detector type as written in configs.
    fn kind(&self) -> &'static str;
    /// Data to attach to each block.
    fn needs(&self) -> Needs {
        Needs::default()
    }
    /// Applies blocks, oldest first.
    fn commit(&mut self, seg: &ChainSegment, out: &mut Findings) -> Result<()>;
    /// Undoes `commit` for exactly these blocks (the newest ones applied).
    fn revert(&mut self, seg: &ChainSegment, out: &mut Findings) -> Result<()>;
    /// Told about a reorg (before the revert); may emit findings about the reorg itself, which
    /// must be anchored below `old` (the fork point survives).
    fn reorg(&mut self, old: &ChainSegment, new: Option<&ChainSegment>, out: &mut Findings) {
        let _ = (old, new, out);
    }
    /// Blocks up to `upto` will not be reverted any more: drop their undo data.
    fn finalize(&mut self, upto: BlockRef, out: &mut Findings) {
        let _ = (upto, out);
    }
    /// How many blocks before a range the detector must be fed for its findings in the range
    /// to be those of a run from the start (so a replay can be split into ranges run apart):
    /// `Some(0)` for a detector that keeps nothing between blocks, `Some(n)` for one whose
    /// state is a window of the last `n` blocks, `None` (the default, always correct) for one
    /// whose state reaches back without bound. The conformance suite holds it to its word.
    fn warmup(&self) -> Option<u64> {
        None
    }
    /// The state to persist.
    fn checkpoint(&self) -> Checkpoint;
    /// Restores a state produced by [`Detector::checkpoint`].
    fn restore(&mut self, cp: &Checkpoint) -> Result<()>;
}

/// A detector that keeps nothing between blocks and judges each block alone: implementing this
/// gives its [`Detector`] (warmup 0, nothing to revert, an empty checkpoint).
pub trait Stateless: Send + std::fmt::Debug {
    /// Detector type as written in configs ([`Detector::kind`]).
    const KIND: &'static str;
    /// Instance id ([`Detector::id`]).
    fn instance(&self) -> &str;
    /// Data to attach to each block ([`Detector::needs`]).
    fn wants(&self) -> Needs;
    /// Judges one block.
    fn judge(&self, b: &palisade_primitives::BlockData, out: &mut Findings);
}

impl<T: Stateless> Detector for T {
    fn warmup(&self) -> Option<u64> {
        Some(0)
    }

    fn id(&self) -> &str {
        self.instance()
    }

    fn kind(&self) -> &'static str {
        T::KIND
    }

    fn needs(&self) -> Needs {
        self.wants()
    }

    fn commit(&mut self, seg: &ChainSegment, out: &mut Findings) -> Result<()> {
        for b in seg.blocks() {
            self.judge(b, out);
        }
        Ok(())
    }

    fn revert(&mut self, _seg: &ChainSegment, _out: &mut Findings) -> Result<()> {
        Ok(())
    }

    fn checkpoint(&self) -> Checkpoint {
        Checkpoint::default()
    }

    fn restore(&mut self, _cp: &Checkpoint) -> Result<()> {
        Ok(())
    }
}

/// Feeds one chain event to a detector: reorg notice, revert of the old blocks (with retraction
/// of their findings), then commit of the new blocks. The only way the runtime drives detectors.
pub fn drive(d: &mut dyn Detector, ev: &ChainEvent, out: &mut Findings) -> Result<()> {
    if let Some(old) = ev.reverted() {
        let before = out.emitted().len();
        d.reorg(old, ev.committed(), out);
        out.mark_notices_from(before);
        d.revert(old, out)?;
        out.retract_anchored_in(old);
    }
    if let Some(new) = ev.committed() {
        d.commit(new, out)?;
    }
    Ok(())
}
