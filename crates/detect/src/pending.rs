//! Detectors of pending transactions: they judge a transaction before any block includes it,
//! from its calldata, from the other pending transactions, and from what simulating it on the
//! latest verified state showed.
//!
//! Like block detectors they are pure: no I/O, no clock. The runtime feeds each pending
//! transaction once (with its simulation when one ran), tells them when transactions leave the
//! pool ([`PendingDetector::gone`]), and stores what they find. A finding about a pending
//! transaction is anchored at the block it would make (a synthetic reference that no reorg
//! retracts), is keyed by the transaction's hash, and says `"stage": "pending"` in its evidence.

use palisade_primitives::pending::{PendingTx, SimNeeds, Simulation};
use palisade_primitives::{BlockData, Finding, Findings, B256};
use serde_json::Value;

/// A pending transaction as detectors see it.
#[derive(Debug, Clone, Copy)]
pub struct Pending<'a> {
    /// The transaction.
    pub tx: &'a PendingTx,
    /// The block it would make on its own on top of the verified tip (its simulated receipt and
    /// call tree included when a simulation ran): block detectors' rules apply to it.
    pub block: &'a BlockData,
    /// What simulating it showed, when it was simulated.
    pub sim: Option<&'a Simulation>,
    /// Arrival order in the pool (strictly increasing): "later" in front-running means a
    /// higher `seq`.
    pub seq: u64,
}

/// A detector of pending transactions.
pub trait PendingDetector: Send + std::fmt::Debug {
    /// Instance id (the same as the block detector's when one config gives both).
    fn id(&self) -> &str;
    /// Detector type as written in configs.
    fn kind(&self) -> &'static str;
    /// What simulations must report for this detector (watched contracts, views, tokens).
    fn sim_needs(&self) -> SimNeeds {
        SimNeeds::default()
    }
    /// Judges one pending transaction.
    fn pending(&mut self, p: &Pending<'_>, out: &mut Findings);
    /// These transactions left the pool (mined or replaced): forget them.
    fn gone(&mut self, hashes: &[B256]) {
        let _ = hashes;
    }
}

/// Marks findings made about a pending transaction: keyed by its hash, with its typed facts
/// (sender, nonce, fees: what responders price against), and `stage`, the hash and the
/// verified block its simulation ran on in the evidence (for people).
pub fn mark_pending(f: Finding, p: &Pending<'_>) -> Finding {
    let mut f = f.salted(&format!("pending:{:#x}", p.tx.hash));
    if !f.tx_hashes.contains(&p.tx.hash) {
        f.tx_hashes.insert(0, p.tx.hash);
    }
    f.facts.pending = Some(palisade_primitives::PendingFacts {
        hash: p.tx.hash,
        sender: p.tx.from,
        nonce: p.tx.nonce,
        priority_fee: p.tx.priority_fee,
        max_fee: p.tx.max_fee,
    });
    if let Value::Object(m) = &mut f.evidence {
        m.insert("stage".into(), "pending".into());
        m.insert("pending_tx".into(), format!("{:#x}", p.tx.hash).into());
        m.insert("sender".into(), format!("{:#x}", p.tx.from).into());
        m.insert("priority_fee".into(), p.tx.priority_fee.to_string().into());
        m.insert("max_fee".into(), p.tx.max_fee.to_string().into());
        if let Some(s) = p.sim {
            m.insert(
                "state_block".into(),
                serde_json::json!({"number": s.state_block.number, "hash": s.state_block.hash}),
            );
            m.insert("simulated_success".into(), s.success.into());
            m.insert(
                "simulation".into(),
                serde_json::json!({"exec_micros": s.exec_micros, "total_micros": s.total_micros,
                    "state_fetched": s.fetched, "gas_used": s.gas_used}),
            );
        }
    }
    f
}
