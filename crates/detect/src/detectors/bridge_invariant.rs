//! `bridge_invariant`: a lock-and-mint bridge watched on both of its chains at once.
//!
//! On the source chain the bridge contract emits a lock event for each deposit and an unlock
//! event for each release; on the destination chain the bridged token emits a mint event for
//! each lock and a burn event for each withdrawal. Events are named by configured signatures, so
//! any bridge of this shape can be watched. Findings:
//!
//! - **mint without lock**: a mint whose transfer id (or, without ids, amount) no lock on the
//!   source chain matches; a mint larger than its lock; a second mint of the same lock;
//! - **unlock without burn**: the same in the other direction;
//! - **undercollateralized**: at a destination block, the bridged supply (minted minus burned)
//!   exceeds the collateral (locked minus unlocked) by more than `tolerance`;
//! - **signer change**: the bridge's signer set or threshold changed (configured events; Safe's
//!   owner and threshold events and common `SignerAdded`-style events by default).
//!
//! The two chains advance independently, so each side judges its own events only once the other
//! chain has been processed past them: a mint at time `t` is judged at the first destination
//! block processed after the source chain's processed head reached `t + max_clock_skew_secs`.
//! Each judgment compares a side's events with the other side's events up to a time that does
//! not depend on how far the other chain has got, so live runs and replays agree. Findings are
//! anchored at the block of the event they are about (the destination block for collateral).
//!
//! The two per-chain parts share one ledger through [`crate::Links`]; each checkpoints its own
//! side. A reorg of one chain reverts that side's events and judgments; a mint already matched
//! against a lock that the source chain later reorgs out is not judged again.

use crate::abi::EvSig;
use crate::expr::Val;
use crate::journal::Journal;
use crate::{Checkpoint, DetectError, Detector, Needs, Result};
use palisade_primitives::{
    Address, BlockData, BlockRef, ChainSegment, Finding, Findings, Severity, B256, U256,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};

/// Config of `bridge_invariant`.
#[derive(Debug, Clone, Serialize, Deserialize, palisade_derive::ConfigDoc)]
#[serde(deny_unknown_fields)]
pub struct BridgeInvariantConfig {
    /// Instance name; the detector id is `bridge_invariant:<name>`.
    pub name: String,
    /// The chain where collateral is locked.
    pub source_chain: String,
    /// The chain where the bridged token is minted.
    pub dest_chain: String,
    /// The bridge contract on the source chain (emits locks and unlocks).
    pub source_contract: Address,
    /// The bridge or token contract on the destination chain (emits mints and burns).
    pub dest_contract: Address,
    /// Lock event signature, with parameter names. For example `Locked(address indexed sender,
    /// address indexed recipient, uint256 amount, uint256 nonce)`
    pub lock_event: String,
    /// Mint event signature. For example `Minted(address indexed recipient, uint256 amount, uint256
    /// nonce)`
    pub mint_event: String,
    /// Burn event signature (no withdrawals are watched).
    #[serde(default)]
    #[config(default = "none")]
    pub burn_event: Option<String>,
    /// Unlock event signature.
    #[serde(default)]
    #[config(default = "none")]
    pub unlock_event: Option<String>,
    /// The parameter holding the amount in every transfer event.
    #[serde(default = "amount")]
    pub amount_field: String,
    /// The parameter holding the transfer id that links a lock to its mint and a burn to its unlock
    /// (empty: match by amount, oldest first).
    #[serde(default = "nonce")]
    pub id_field: String,
    /// Supply above collateral that is tolerated, in raw units.
    #[serde(default)]
    #[config(default = "\"0\"")]
    pub tolerance: Option<String>,
    /// Collateral locked before monitoring started, in raw units.
    #[serde(default)]
    #[config(default = "\"0\"")]
    pub initial_locked: Option<String>,
    /// Supply minted before monitoring started, in raw units.
    #[serde(default)]
    #[config(default = "\"0\"")]
    pub initial_minted: Option<String>,
    /// How far the chains' clocks may disagree, in seconds: a lock may carry a timestamp up to this
    /// much later than its mint.
    #[serde(default = "sixty")]
    pub max_clock_skew_secs: u64,
    /// Events of either bridge contract that change its signer set or threshold: by default
    /// Safe's owner and threshold events, `SignerAdded`, `SignerRemoved`, `ThresholdChanged`,
    /// `ValidatorAdded`, `ValidatorRemoved`, `GuardianSetAdded`.
    #[serde(default)]
    #[config(default = "built-in list")]
    pub signer_events: Option<Vec<String>>,
    /// Severity of the findings.
    #[serde(default = "critical")]
    pub severity: Severity,
}

fn amount() -> String {
    "amount".into()
}

fn nonce() -> String {
    "nonce".into()
}

fn sixty() -> u64 {
    60
}

fn critical() -> Severity {
    Severity::Critical
}

/// Signer-set and threshold events watched by default.
pub const SIGNER_EVENTS: &[&str] = &[
    "AddedOwner(address owner)",
    "AddedOwner(address indexed owner)",
    "RemovedOwner(address owner)",
    "RemovedOwner(address indexed owner)",
    "ChangedThreshold(uint256 threshold)",
    "SignerAdded(address indexed signer)",
    "SignerRemoved(address indexed signer)",
    "ThresholdChanged(uint256 threshold)",
    "ValidatorAdded(address indexed validator)",
    "ValidatorRemoved(address indexed validator)",
    "GuardianSetAdded(uint32 indexed index)",
];

/// Catalog entry.
pub const INFO: crate::About = crate::About {
    kind: "bridge_invariant",
    description: "A lock-and-mint bridge on two chains at once: mints without a matching lock, unlocks without a matching burn, supply above collateral beyond a tolerance, and changes of the bridge's signer set or threshold.",
    needs_no_config: false,
};

/// What a transfer event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Kind {
    Lock,
    Unlock,
    Mint,
    Burn,
}

/// One transfer event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Move {
    kind: Kind,
    block: u64,
    hash: Option<B256>,
    ts: u64,
    tx: Option<B256>,
    log_index: u64,
    id: Option<String>,
    amount: U256,
    /// Judged (mints and unlocks) against the other side.
    judged: bool,
}

/// One chain's side of the ledger.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Side {
    /// Transfer events not yet folded into the totals, in chain order.
    moves: Vec<Move>,
    /// Sums of folded events by kind (their times are all below every pending judgment).
    folded: BTreeMap<String, U256>,
    /// Timestamp of the newest block processed.
    watermark: Option<u64>,
    /// Destination: blocks whose collateral check waits for the source chain.
    pending: VecDeque<(u64, Option<B256>, u64)>,
    /// Other side's events this side's judgments consumed: ids (or log keys in amount mode).
    consumed: BTreeSet<String>,
    /// Ids this side already matched (a second mint or unlock of one id is reported).
    matched_ids: BTreeSet<String>,
    /// True while supply exceeds collateral (destination).
    violating: bool,
}

/// The ledger both chains' parts share.
#[derive(Debug, Default)]
pub struct Ledger {
    sides: [Side; 2],
}

const SRC: usize = 0;
const DST: usize = 1;

/// The per-chain part of `bridge_invariant`.
#[derive(Debug)]
pub struct BridgeInvariant {
    id: String,
    chain: String,
    cfg: BridgeInvariantConfig,
    side: usize,
    contract: Address,
    /// (event, kind) decoded on this side.
    moves: Vec<(EvSig, Kind)>,
    signer: Vec<EvSig>,
    tolerance: U256,
    initial_locked: U256,
    initial_minted: U256,
    ledger: Arc<Mutex<Ledger>>,
    journal: Journal<Side>,
}

fn amount_of(id: &str, name: &str, s: &Option<String>) -> Result<U256> {
    match s {
        None => Ok(U256::ZERO),
        Some(s) => U256::from_str_radix(s.trim(), 10).map_err(|_| DetectError::Config {
            detector: id.into(),
            field: name.into(),
            reason: format!("want a decimal amount in raw units, got {s:?}"),
        }),
    }
}

impl BridgeInvariant {
    /// Builds the part of the detector for `chain` (which must be one of its two chains), sharing
    /// `ledger` with the other part.
    pub fn new(
        cfg: BridgeInvariantConfig,
        chain: &str,
        ledger: Arc<Mutex<Ledger>>,
    ) -> Result<Self> {
        let id = format!("bridge_invariant:{}", cfg.name);
        let bad = |field: &str, reason: String| DetectError::Config {
            detector: id.clone(),
            field: field.into(),
            reason,
        };
        if cfg.source_chain == cfg.dest_chain {
            return Err(bad("dest_chain", "must differ from source_chain".into()));
        }
        let side = if chain == cfg.source_chain {
            SRC
        } else if chain == cfg.dest_chain {
            DST
        } else {
            return Err(bad(
                "source_chain",
                format!("chain {chain:?} is neither the source nor the destination"),
            ));
        };
        let parse = |field: &str, sig: &str| EvSig::parse(sig, None).map_err(|e| bad(field, e));
        let lock = parse("lock_event", &cfg.lock_event)?;
        let mint = parse("mint_event", &cfg.mint_event)?;
        let burn = cfg.burn_event.as_deref().map(|s| parse("burn_event", s)).transpose()?;
        let unlock = cfg.unlock_event.as_deref().map(|s| parse("unlock_event", s)).transpose()?;
        for (field, e) in [
            ("lock_event", Some(&lock)),
            ("mint_event", Some(&mint)),
            ("burn_event", burn.as_ref()),
            ("unlock_event", unlock.as_ref()),
        ] {
            let Some(e) = e else { continue };
            let has = |n: &str| e.indexed_names.iter().chain(&e.body_names).any(|x| x == n);
            if !has(&cfg.amount_field) {
                return Err(bad(
                    field,
                    format!(
                        "{} has no parameter named {:?} (amount_field)",
                        e.signature, cfg.amount_field
                    ),
                ));
            }
            if !cfg.id_field.is_empty() && !has(&cfg.id_field) {
                return Err(bad(
                    field,
                    format!("{} has no parameter named {:?} (id_field)", e.signature, cfg.id_field),
                ));
            }
        }
        let moves = if side == SRC {
            [Some((lock, Kind::Lock)), unlock.map(|u| (u, Kind::Unlock))]
                .into_iter()
                .flatten()
                .collect()
        } else {
            [Some((mint, Kind::Mint)), burn.map(|b| (b, Kind::Burn))]
                .into_iter()
                .flatten()
                .collect()
        };
        let signer = match &cfg.signer_events {
            Some(list) => {
                list.iter().map(|s| parse("signer_events", s)).collect::<Result<Vec<_>>>()?
            }
            None => SIGNER_EVENTS
                .iter()
                .map(|s| parse("signer_events", s))
                .collect::<Result<Vec<_>>>()?,
        };
        let tolerance = amount_of(&id, "tolerance", &cfg.tolerance)?;
        let initial_locked = amount_of(&id, "initial_locked", &cfg.initial_locked)?;
        let initial_minted = amount_of(&id, "initial_minted", &cfg.initial_minted)?;
        let contract = if side == SRC { cfg.source_contract } else { cfg.dest_contract };
        Ok(Self {
            id,
            chain: chain.into(),
            cfg,
            side,
            contract,
            moves,
            signer,
            tolerance,
            initial_locked,
            initial_minted,
            ledger,
            journal: Journal::default(),
        })
    }

    fn finding(
        &self,
        at: BlockRef,
        subject: String,
        sev: Severity,
        title: String,
        ev: serde_json::Value,
    ) -> Finding {
        Finding::new(&self.id, "bridge_invariant", &self.chain, at, &subject, sev, title)
            .with_evidence(ev)
    }

    /// Records this block's events and makes the judgments it allows.
    fn apply(&self, l: &mut Ledger, b: &BlockData, out: &mut Findings) {
        let at = b.block_ref();
        let ts = b.header.timestamp.unwrap_or(0);
        for r in b.receipts.iter().flatten() {
            if r.status == Some(false) {
                continue;
            }
            for (i, log) in r.logs.iter().enumerate() {
                if log.address != self.contract {
                    continue;
                }
                let log_index = log.log_index.unwrap_or(i as u64);
                for (sig, kind) in &self.moves {
                    let Some(Ok(vals)) = sig.decode(&log.topics, &log.data) else { continue };
                    let get = |n: &str| vals.iter().find(|(k, _)| k == n).map(|(_, v)| v);
                    let Some(Val::Uint(amount)) = get(&self.cfg.amount_field).cloned() else {
                        continue;
                    };
                    let id = (!self.cfg.id_field.is_empty())
                        .then(|| get(&self.cfg.id_field).map(val_text))
                        .flatten();
                    l.sides[self.side].moves.push(Move {
                        kind: *kind,
                        block: b.header.number,
                        hash: b.header.hash,
                        ts,
                        tx: r.transaction_hash,
                        log_index,
                        id,
                        amount,
                        judged: false,
                    });
                }
                for sig in &self.signer {
                    let Some(Ok(vals)) = sig.decode(&log.topics, &log.data) else { continue };
                    let args: serde_json::Map<String, serde_json::Value> =
                        vals.iter().map(|(k, v)| (k.clone(), json!(val_text(v)))).collect();
                    out.push(
                        self.finding(at, format!("signer:{log_index}"), self.cfg.severity,
                            format!("Bridge {}: {} on {} at {:#x}", self.cfg.name, sig.signature, self.chain, self.contract),
                            json!({"check": "signer_change", "event": sig.signature, "args": args, "contract": self.contract, "log_index": log_index}))
                        .with_txs(r.transaction_hash),
                    );
                }
            }
        }
        let me = &mut l.sides[self.side];
        me.watermark = Some(ts);
        if self.side == DST {
            me.pending.push_back((b.header.number, b.header.hash, ts));
            while me.pending.len() > 100_000 {
                me.pending.pop_front();
            }
        }
        self.judge(l, out);
    }

    /// Judges this side's events that the other side has been processed far enough for.
    fn judge(&self, l: &mut Ledger, out: &mut Findings) {
        let skew = self.cfg.max_clock_skew_secs;
        let Some(theirs) = l.sides[1 - self.side].watermark else { return };
        let (me, other) = if self.side == SRC {
            let [a, b] = &mut l.sides;
            (a, &*b)
        } else {
            let [a, b] = &mut l.sides;
            (b, &*a)
        };
        let (mine, wanted) =
            if self.side == DST { (Kind::Mint, Kind::Lock) } else { (Kind::Unlock, Kind::Burn) };
        for i in 0..me.moves.len() {
            let m = me.moves[i].clone();
            if m.kind != mine || m.judged || m.ts.saturating_add(skew) > theirs {
                continue;
            }
            me.moves[i].judged = true;
            let limit = m.ts.saturating_add(skew);
            let at = BlockRef::maybe(m.block, m.hash);
            let what = if mine == Kind::Mint {
                ("mint", "lock", "source")
            } else {
                ("unlock", "burn", "destination")
            };
            let mut ev = json!({"amount": m.amount.to_string(), "id": m.id, "log_index": m.log_index, "judged_against_time": limit});
            let subject = format!("{}:{}", what.0, m.log_index);
            let (check, title) = match &m.id {
                Some(id) => {
                    if !me.matched_ids.insert(id.clone()) {
                        (
                            format!("duplicate_{}", what.0),
                            format!(
                                "Bridge {}: a second {} for id {id} ({} raw units)",
                                self.cfg.name, what.0, m.amount
                            ),
                        )
                    } else {
                        match other.moves.iter().find(|o| o.kind == wanted && o.id.as_deref() == Some(id) && o.ts <= limit) {
                            Some(o) if o.amount >= m.amount => {
                                me.consumed.insert(id.clone());
                                continue;
                            }
                            Some(o) => {
                                me.consumed.insert(id.clone());
                                ev["matched_amount"] = json!(o.amount.to_string());
                                ev["matched_tx"] = json!(o.tx);
                                (format!("{}_exceeds_{}", what.0, what.1), format!("Bridge {}: {} of {} for id {id} exceeds its {} of {}", self.cfg.name, what.0, m.amount, what.1, o.amount))
                            }
                            None => (format!("{}_without_{}", what.0, what.1), format!("Bridge {}: {} of {} raw units for id {id} with no {} on the {} chain", self.cfg.name, what.0, m.amount, what.1, what.2)),
                        }
                    }
                }
                None => {
                    let key = |o: &Move| format!("{}:{}", o.block, o.log_index);
                    match other.moves.iter().find(|o| o.kind == wanted && o.amount == m.amount && o.ts <= limit && !me.consumed.contains(&key(o))) {
                        Some(o) => {
                            me.consumed.insert(key(o));
                            continue;
                        }
                        None => (format!("{}_without_{}", what.0, what.1), format!("Bridge {}: {} of {} raw units with no {} of that amount on the {} chain", self.cfg.name, what.0, m.amount, what.1, what.2)),
                    }
                }
            };
            ev["check"] = json!(check);
            out.push(self.finding(at, subject, self.cfg.severity, title, ev).with_txs(m.tx));
        }
        if self.side == DST {
            while me.pending.front().is_some_and(|(_, _, t)| t.saturating_add(skew) <= theirs) {
                let Some((n, h, t)) = me.pending.pop_front() else { break };
                let sum = |s: &Side, k: Kind, upto: u64| -> U256 {
                    let f = s.folded.get(&format!("{k:?}")).copied().unwrap_or_default();
                    s.moves
                        .iter()
                        .filter(|m| m.kind == k && m.ts <= upto)
                        .fold(f, |a, m| a.saturating_add(m.amount))
                };
                let supply = self
                    .initial_minted
                    .saturating_add(sum(me, Kind::Mint, t))
                    .saturating_sub(sum(me, Kind::Burn, t));
                let collateral = self
                    .initial_locked
                    .saturating_add(sum(other, Kind::Lock, t.saturating_add(skew)))
                    .saturating_sub(sum(other, Kind::Unlock, t));
                let bad = supply > collateral.saturating_add(self.tolerance);
                if bad && !me.violating {
                    out.push(self.finding(BlockRef::maybe(n, h), "collateral".into(), self.cfg.severity,
                        format!("Bridge {}: supply {supply} exceeds collateral {collateral} by {} raw units (tolerance {})", self.cfg.name, supply - collateral, self.tolerance),
                        json!({"check": "undercollateralized", "supply": supply.to_string(), "collateral": collateral.to_string(), "excess": (supply - collateral).to_string(), "tolerance": self.tolerance.to_string(), "block_timestamp": t})));
                }
                me.violating = bad;
            }
        }
    }
}

fn val_text(v: &Val) -> String {
    match v {
        Val::Uint(u) => u.to_string(),
        Val::Addr(a) => format!("{a:#x}"),
        Val::Bytes(b) => format!("{b}"),
        Val::Str(s) => s.clone(),
        Val::Bool(b) => b.to_string(),
        Val::Neg(u) => format!("-{u}"),
        Val::Null => "null".into(),
        Val::List(xs) => format!("[{}]", xs.iter().map(val_text).collect::<Vec<_>>().join(",")),
    }
}

impl Detector for BridgeInvariant {
    fn id(&self) -> &str {
        &self.id
    }

    fn kind(&self) -> &'static str {
        "bridge_invariant"
    }

    fn needs(&self) -> Needs {
        Needs { receipts: true, ..Needs::default() }
    }

    fn commit(&mut self, seg: &ChainSegment, out: &mut Findings) -> Result<()> {
        let ledger = Arc::clone(&self.ledger);
        let mut l = ledger.lock().unwrap_or_else(|p| p.into_inner());
        for b in seg.blocks() {
            self.journal.push(b, l.sides[self.side].clone());
            self.apply(&mut l, b, out);
        }
        Ok(())
    }

    fn revert(&mut self, seg: &ChainSegment, _out: &mut Findings) -> Result<()> {
        let ledger = Arc::clone(&self.ledger);
        let mut l = ledger.lock().unwrap_or_else(|p| p.into_inner());
        for b in seg.blocks().iter().rev() {
            l.sides[self.side] = self.journal.pop(&self.id, b)?;
        }
        Ok(())
    }

    fn finalize(&mut self, upto: BlockRef, _out: &mut Findings) {
        self.journal.finalize(upto, 0);
        // Fold final, judged events that no pending judgment can still look at.
        let ledger = Arc::clone(&self.ledger);
        let mut l = ledger.lock().unwrap_or_else(|p| p.into_inner());
        let skew = self.cfg.max_clock_skew_secs;
        let other = &l.sides[1 - self.side];
        // The oldest time a judgment on the other side may still ask about.
        let oldest_open = other
            .moves
            .iter()
            .filter(|m| matches!(m.kind, Kind::Mint | Kind::Unlock) && !m.judged)
            .map(|m| m.ts)
            .chain(other.pending.iter().map(|p| p.2))
            .min()
            .or(other.watermark);
        let Some(oldest_open) = oldest_open else { return };
        let consumed_there = other.consumed.clone();
        let me = &mut l.sides[self.side];
        let mut keep = Vec::with_capacity(me.moves.len());
        for m in std::mem::take(&mut me.moves) {
            let open_here = matches!(m.kind, Kind::Mint | Kind::Unlock) && !m.judged;
            let key = m.id.clone().unwrap_or_else(|| format!("{}:{}", m.block, m.log_index));
            let needed_there =
                matches!(m.kind, Kind::Lock | Kind::Burn) && !consumed_there.contains(&key);
            let old = m.ts.saturating_add(skew) < oldest_open;
            if m.block <= upto.number && old && !open_here && !needed_there {
                let e = me.folded.entry(format!("{:?}", m.kind)).or_default();
                *e = e.saturating_add(m.amount);
            } else {
                keep.push(m);
            }
        }
        me.moves = keep;
    }

    fn checkpoint(&self) -> Checkpoint {
        let l = self.ledger.lock().unwrap_or_else(|p| p.into_inner());
        Checkpoint {
            head: self.journal.head(),
            state: json!({"side": l.sides[self.side], "journal": self.journal}),
        }
    }

    fn restore(&mut self, cp: &Checkpoint) -> Result<()> {
        if cp.state.is_null() {
            return Ok(());
        }
        let side: Side = cp.field(&self.id, "side")?;
        self.journal = cp.field(&self.id, "journal")?;
        self.ledger.lock().unwrap_or_else(|p| p.into_inner()).sides[self.side] = side;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_primitives::{keccak256, BlockData, Bytes, Header, Log, Receipt};

    const SRC_C: Address = Address::repeat_byte(0xaa);
    const DST_C: Address = Address::repeat_byte(0xbb);

    fn cfg() -> BridgeInvariantConfig {
        toml::from_str(&format!(
            r#"
            name = "b"
            source_chain = "l1"
            dest_chain = "l2"
            source_contract = "{SRC_C:#x}"
            dest_contract = "{DST_C:#x}"
            lock_event = "Locked(address indexed sender, address indexed recipient, uint256 amount, uint256 nonce)"
            unlock_event = "Unlocked(address indexed recipient, uint256 amount, uint256 nonce)"
            mint_event = "Minted(address indexed recipient, uint256 amount, uint256 nonce)"
            burn_event = "Burned(address indexed sender, address indexed recipient, uint256 amount, uint256 nonce)"
            max_clock_skew_secs = 5
            "#
        ))
        .unwrap()
    }

    fn word(x: u64) -> [u8; 32] {
        U256::from(x).to_be_bytes::<32>()
    }

    /// A log of `sig` with `indexed` topics (addresses as 0x11..) and (amount, nonce) data.
    fn log(contract: Address, sig: &str, indexed: usize, amount: u64, nonce: u64) -> Log {
        let mut topics = vec![keccak256(sig.as_bytes())];
        topics.extend((0..indexed).map(|i| B256::left_padding_from(&[0x11 + i as u8])));
        let mut data = word(amount).to_vec();
        data.extend_from_slice(&word(nonce));
        Log { address: contract, topics, data: Bytes::from(data), log_index: None }
    }

    fn lock(amount: u64, nonce: u64) -> Log {
        log(SRC_C, "Locked(address,address,uint256,uint256)", 2, amount, nonce)
    }
    fn unlock(amount: u64, nonce: u64) -> Log {
        log(SRC_C, "Unlocked(address,uint256,uint256)", 1, amount, nonce)
    }
    fn mint(amount: u64, nonce: u64) -> Log {
        log(DST_C, "Minted(address,uint256,uint256)", 1, amount, nonce)
    }
    fn burn(amount: u64, nonce: u64) -> Log {
        log(DST_C, "Burned(address,address,uint256,uint256)", 2, amount, nonce)
    }

    fn block(salt: u8, number: u64, ts: u64, logs: Vec<Log>) -> ChainSegment {
        let mut hash = [salt; 32];
        hash[..8].copy_from_slice(&number.to_be_bytes());
        let mut parent = [salt; 32];
        parent[..8].copy_from_slice(&number.wrapping_sub(1).to_be_bytes());
        let b = BlockData {
            header: Header {
                number,
                hash: Some(B256::from(hash)),
                parent_hash: Some(B256::from(parent)),
                timestamp: Some(ts),
                ..Default::default()
            },
            receipts: Some(vec![Receipt { status: Some(true), logs, ..Default::default() }]),
            ..Default::default()
        };
        ChainSegment::new(vec![Arc::new(b)]).unwrap()
    }

    fn pair() -> (BridgeInvariant, BridgeInvariant) {
        let links = crate::Links::default();
        let l = links.bridge("bridge_invariant:b");
        (
            BridgeInvariant::new(cfg(), "l1", l.clone()).unwrap(),
            BridgeInvariant::new(cfg(), "l2", l).unwrap(),
        )
    }

    fn checks(out: &Findings) -> Vec<String> {
        out.emitted()
            .iter()
            .map(|f| f.evidence["check"].as_str().unwrap_or("").to_string())
            .collect()
    }

    #[test]
    fn a_matched_round_trip_is_quiet_and_a_mint_without_lock_is_judged_once_the_source_passes_it() {
        let (mut s, mut d) = pair();
        let mut out = Findings::new();
        s.commit(&block(1, 1, 100, vec![lock(50, 0)]), &mut out).unwrap();
        d.commit(&block(2, 1, 102, vec![mint(50, 0)]), &mut out).unwrap();
        // The source is at 100 < 102 + 5: nothing judged yet.
        assert!(out.emitted().is_empty());
        s.commit(&block(1, 2, 110, vec![]), &mut out).unwrap();
        // A mint for nonce 7, which was never locked.
        d.commit(&block(2, 2, 111, vec![mint(30, 7)]), &mut out).unwrap();
        assert!(out.emitted().is_empty(), "{:?}", checks(&out));
        s.commit(&block(1, 3, 120, vec![]), &mut out).unwrap();
        d.commit(&block(2, 3, 121, vec![]), &mut out).unwrap();
        assert_eq!(checks(&out), vec!["mint_without_lock", "undercollateralized"]);
        // Anchored at the mint's block and the first block whose supply exceeds collateral.
        assert!(out.emitted().iter().all(|f| f.anchor.number == 2 && f.chain == "l2"));
        assert_eq!(out.emitted()[1].evidence["excess"], "30");
        // Burn and unlock: an unlock with no burn is reported on the source chain.
        let mut out = Findings::new();
        d.commit(&block(2, 4, 130, vec![burn(20, 0)]), &mut out).unwrap();
        s.commit(&block(1, 4, 131, vec![unlock(20, 0), unlock(5, 9)]), &mut out).unwrap();
        d.commit(&block(2, 5, 140, vec![]), &mut out).unwrap();
        s.commit(&block(1, 5, 141, vec![]), &mut out).unwrap();
        assert_eq!(checks(&out), vec!["unlock_without_burn"]);
        assert_eq!(out.emitted()[0].chain, "l1");
    }

    #[test]
    fn a_second_mint_of_one_lock_and_a_mint_above_its_lock_are_reported() {
        let (mut s, mut d) = pair();
        let mut out = Findings::new();
        s.commit(&block(1, 1, 100, vec![lock(50, 0), lock(10, 1)]), &mut out).unwrap();
        d.commit(&block(2, 1, 101, vec![mint(50, 0), mint(50, 0), mint(11, 1)]), &mut out).unwrap();
        s.commit(&block(1, 2, 200, vec![]), &mut out).unwrap();
        d.commit(&block(2, 2, 201, vec![]), &mut out).unwrap();
        assert_eq!(
            checks(&out),
            vec!["duplicate_mint", "mint_exceeds_lock", "undercollateralized"]
        );
    }

    #[test]
    fn signer_changes_are_reported_on_the_chain_that_emits_them() {
        let (_, mut d) = pair();
        let mut out = Findings::new();
        let mut added = log(DST_C, "SignerAdded(address)", 1, 0, 0);
        added.data = Bytes::new();
        d.commit(&block(2, 1, 100, vec![added]), &mut out).unwrap();
        assert_eq!(checks(&out), vec!["signer_change"]);
    }

    #[test]
    fn reverting_the_destination_forgets_its_mints_and_a_fresh_run_agrees() {
        let (mut s, mut d) = pair();
        let mut out = Findings::new();
        s.commit(&block(1, 1, 100, vec![]), &mut out).unwrap();
        let bad = block(2, 1, 100, vec![mint(9, 3)]);
        d.commit(&bad, &mut out).unwrap();
        d.revert(&bad, &mut out).unwrap();
        d.commit(&block(3, 1, 100, vec![]), &mut out).unwrap();
        s.commit(&block(1, 2, 300, vec![]), &mut out).unwrap();
        d.commit(&block(3, 2, 301, vec![]), &mut out).unwrap();
        assert!(out.emitted().is_empty(), "{:?}", checks(&out));
        // Checkpoint and restore carry a side.
        let cp = d.checkpoint();
        let (_, mut d2) = pair();
        d2.restore(&cp).unwrap();
        assert_eq!(d2.checkpoint(), cp);
    }

    #[test]
    fn without_ids_mints_match_locks_by_amount_once_each() {
        let mut c = cfg();
        c.id_field = String::new();
        let links = crate::Links::default();
        let l = links.bridge("x");
        let mut s = BridgeInvariant::new(c.clone(), "l1", l.clone()).unwrap();
        let mut d = BridgeInvariant::new(c, "l2", l).unwrap();
        let mut out = Findings::new();
        s.commit(&block(1, 1, 100, vec![lock(50, 0)]), &mut out).unwrap();
        d.commit(&block(2, 1, 100, vec![mint(50, 0), mint(50, 1)]), &mut out).unwrap();
        s.commit(&block(1, 2, 200, vec![]), &mut out).unwrap();
        d.commit(&block(2, 2, 200, vec![]), &mut out).unwrap();
        assert_eq!(checks(&out), vec!["mint_without_lock", "undercollateralized"]);
    }

    #[test]
    fn config_errors_name_the_field() {
        let mut c = cfg();
        c.mint_event = "Minted(address to, uint256 value)".into();
        let e = BridgeInvariant::new(c, "l2", Default::default()).unwrap_err();
        assert!(e.to_string().contains("mint_event"), "{e}");
        let e = BridgeInvariant::new(cfg(), "l3", Default::default()).unwrap_err();
        assert!(e.to_string().contains("neither"), "{e}");
    }
}
