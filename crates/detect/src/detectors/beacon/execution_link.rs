//! `beacon_execution_link`: each beacon block's execution payload names an execution block
//! (number and hash); that block must be the one the execution chain Palisade follows has at
//! that number. Two chains at once, as `bridge_invariant`: the execution chain's part records
//! its canonical hashes, the beacon chain's part judges each payload once the execution chain
//! has been processed `confirmations` blocks past it, and reports a mismatch (critical) at the
//! beacon block.

use crate::journal::Journal;
use crate::{Checkpoint, DetectError, Detector, Result};
use palisade_primitives::{BlockRef, ChainSegment, Finding, Findings, Severity, B256};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Config of `beacon_execution_link`.
#[derive(Debug, Clone, Serialize, Deserialize, palisade_derive::ConfigDoc)]
#[serde(deny_unknown_fields)]
pub struct ExecutionLinkConfig {
    /// Instance name.
    #[serde(default)]
    #[config(default = "none")]
    pub name: Option<String>,
    /// The beacon chain.
    pub beacon_chain: String,
    /// The execution chain it drives.
    pub execution_chain: String,
    /// Execution blocks on top before a payload is judged.
    #[serde(default = "two")]
    pub confirmations: u64,
}

fn two() -> u64 {
    2
}

/// Catalog entry.
pub const INFO: crate::About = crate::About {
    kind: "beacon_execution_link",
    description: "Each beacon block's execution payload (number, hash) against the execution chain Palisade follows: a mismatch is critical.",
    needs_no_config: false,
};

/// One chain's side.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Side {
    /// Execution: number -> canonical hash (recent). Beacon: number -> (payload hash, slot,
    /// beacon block) awaiting judgement.
    hashes: BTreeMap<u64, B256>,
    pending: BTreeMap<u64, (B256, u64, BlockRef)>,
    watermark: Option<u64>,
}

/// The ledger both parts share.
#[derive(Debug, Default)]
pub struct Ledger {
    beacon: Side,
    execution: Side,
}

/// One chain's part of `beacon_execution_link`.
#[derive(Debug)]
pub struct ExecutionLink {
    id: String,
    chain: String,
    cfg: ExecutionLinkConfig,
    beacon: bool,
    ledger: Arc<Mutex<Ledger>>,
    journal: Journal<Side>,
}

impl ExecutionLink {
    /// Builds the part for `chain` (one of its two chains), sharing `ledger`.
    pub fn build(
        cfg: ExecutionLinkConfig,
        chain: &str,
        ledger: Arc<Mutex<Ledger>>,
    ) -> Result<Box<dyn Detector>> {
        let id = super::instance_id("beacon_execution_link", &cfg.name);
        let beacon = if chain == cfg.beacon_chain {
            true
        } else if chain == cfg.execution_chain {
            false
        } else {
            return Err(DetectError::Config {
                detector: id,
                field: "beacon_chain".into(),
                reason: format!("chain {chain:?} is neither the beacon nor the execution chain"),
            });
        };
        if cfg.beacon_chain == cfg.execution_chain {
            return Err(DetectError::Config {
                detector: id,
                field: "execution_chain".into(),
                reason: "must differ from beacon_chain".into(),
            });
        }
        Ok(Box::new(Self {
            id,
            chain: chain.into(),
            cfg,
            beacon,
            ledger,
            journal: Journal::default(),
        }))
    }

    fn side<'a>(&self, l: &'a mut Ledger) -> &'a mut Side {
        if self.beacon {
            &mut l.beacon
        } else {
            &mut l.execution
        }
    }
}

impl Detector for ExecutionLink {
    fn id(&self) -> &str {
        &self.id
    }

    fn kind(&self) -> &'static str {
        "beacon_execution_link"
    }

    fn commit(&mut self, seg: &ChainSegment, out: &mut Findings) -> Result<()> {
        let ledger = Arc::clone(&self.ledger);
        let mut l = ledger.lock().unwrap_or_else(|p| p.into_inner());
        for b in seg.blocks() {
            let snapshot = self.side(&mut l).clone();
            self.journal.push(b, snapshot);
            let n = b.header.number;
            if !self.beacon {
                let e = &mut l.execution;
                if let Some(h) = b.header.hash {
                    e.hashes.insert(n, h);
                }
                e.watermark = Some(n);
                while e.hashes.len() > 8192 {
                    e.hashes.pop_first();
                }
                continue;
            }
            if let Some(info) = &b.beacon {
                if let Some(h) = info.execution_hash {
                    l.beacon.pending.insert(n, (h, info.slot, b.block_ref()));
                }
            }
            l.beacon.watermark = Some(n);
            let Some(w) = l.execution.watermark else { continue };
            let due: Vec<u64> = l
                .beacon
                .pending
                .range(..=w.saturating_sub(self.cfg.confirmations))
                .map(|(k, _)| *k)
                .collect();
            for num in due {
                let Some((payload, slot, at)) = l.beacon.pending.remove(&num) else { continue };
                let Some(theirs) = l.execution.hashes.get(&num).copied() else { continue };
                if theirs != payload {
                    out.push(
                        Finding::new(&self.id, "beacon_execution_link", &self.chain, at, &format!("payload:{num}"), Severity::Critical,
                            format!("Beacon block at slot {slot} carries execution block {num} {payload}, but {} has {theirs} at {num}", self.cfg.execution_chain))
                        .with_evidence(json!({"check": "execution_link", "slot": slot, "number": num, "payload_hash": payload,
                            "execution_chain": self.cfg.execution_chain, "execution_hash": theirs})),
                    );
                }
            }
            while l.beacon.pending.len() > 8192 {
                l.beacon.pending.pop_first();
            }
        }
        Ok(())
    }

    fn revert(&mut self, seg: &ChainSegment, _out: &mut Findings) -> Result<()> {
        let ledger = Arc::clone(&self.ledger);
        let mut l = ledger.lock().unwrap_or_else(|p| p.into_inner());
        for b in seg.blocks().iter().rev() {
            let s = self.journal.pop(&self.id, b)?;
            *self.side(&mut l) = s;
        }
        Ok(())
    }

    fn finalize(&mut self, upto: BlockRef, _out: &mut Findings) {
        self.journal.finalize(upto, 0);
    }

    fn checkpoint(&self) -> Checkpoint {
        let mut l = self.ledger.lock().unwrap_or_else(|p| p.into_inner());
        let side = self.side(&mut l).clone();
        Checkpoint {
            head: self.journal.head(),
            state: json!({"side": side, "journal": self.journal}),
        }
    }

    fn restore(&mut self, cp: &Checkpoint) -> Result<()> {
        if cp.state.is_null() {
            return Ok(());
        }
        let side: Side = cp.field(&self.id, "side")?;
        self.journal = cp.field(&self.id, "journal")?;
        let ledger = Arc::clone(&self.ledger);
        let mut l = ledger.lock().unwrap_or_else(|p| p.into_inner());
        *self.side(&mut l) = side;
        Ok(())
    }
}
