//! `upgrade_audit`: an audit of every upgrade. When a proxy's implementation changes (an
//! EIP-1967 `Upgraded(address)` event: transparent and UUPS proxies, and beacons, which emit it
//! when their implementation changes; a Safe's `ChangedMasterCopy(address)`), the new
//! implementation's code, fetched at the verified block and checked against its proven code
//! hash, is compared with the previous implementation's: functions added and removed, added
//! functions that write storage and those that do so without reading the caller (no access
//! check), new SELFDESTRUCT, DELEGATECALL or CALLCODE, the code size; a risk score with its
//! reasons sets the severity. The previous implementation is the one this detector saw last for
//! the proxy (its own `Upgraded` event, the proxy's deployment included), or, for a proxy first
//! seen at an upgrade, the code it delegated to in the upgrade's transaction (a UUPS upgrade runs
//! in the implementation it replaces; its code is fetched too when the block has traces). A
//! transparent proxy first seen at an upgrade is audited on the new code alone, and the finding
//! says so. In replay, from the code recorded with the block (`palisade record --config` with
//! this detector).

use crate::bytecode::{diff, summarize, CodeSummary};
use crate::journal::Journal;
use crate::{Checkpoint, DetectError, Detector, Needs, Result};
use palisade_primitives::{
    b256, Address, BlockData, BlockRef, ChainSegment, Finding, Findings, Severity, B256,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::{BTreeMap, VecDeque};

/// `Upgraded(address)` (EIP-1967; OpenZeppelin's proxies and beacons).
pub const UPGRADED: B256 =
    b256!("bc7cd75a20ee27fd9adebab32041f755214dbc6bffa90cc0225b39da2e5c2d3b");
/// Safe's `ChangedMasterCopy(address)` (the singleton, not indexed).
pub const CHANGED_MASTER_COPY: B256 =
    b256!("75e41bc35ff1bf14d81d1d2f649c0084a0f974f9289c803ec9898eeec4c8d0b8");

/// Config of `upgrade_audit`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, palisade_derive::ConfigDoc)]
#[serde(deny_unknown_fields, default)]
pub struct UpgradeAuditConfig {
    /// Instance name; the detector id is `upgrade_audit` or `upgrade_audit:<name>`.
    pub name: Option<String>,
    /// Limit to one chain.
    #[config(default = "every chain")]
    pub chain: Option<String>,
    /// Only these proxies.
    #[config(default = "`[]` (every proxy)")]
    pub proxies: Vec<Address>,
    /// Risk score (0-100) from which an upgrade is high severity; half of it is medium, below
    /// that low.
    pub high_score: u32,
    /// Proxies whose implementation is remembered (the least recently upgraded are forgotten
    /// first).
    pub max_tracked: usize,
}

impl Default for UpgradeAuditConfig {
    fn default() -> Self {
        Self { name: None, chain: None, proxies: Vec::new(), high_score: 50, max_tracked: 100_000 }
    }
}

/// Catalog entry.
pub const INFO: crate::About = crate::About {
    kind: "upgrade_audit",
    description: "Every proxy upgrade audited: both implementations' code at the verified block compared (functions added and removed, storage writers without a caller check, new SELFDESTRUCT/DELEGATECALL/CALLCODE, size), with a risk score and its reasons.",
    needs_no_config: true,
};

/// A proxy's implementation as last seen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Implementation {
    address: Address,
    /// `None` when its code was not available.
    code: Option<CodeSummary>,
}

/// What one upgrade changed, to undo it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Undo {
    proxy: Address,
    old: Option<Implementation>,
    place: Option<usize>,
}

/// The `upgrade_audit` detector.
#[derive(Debug)]
pub struct UpgradeAudit {
    id: String,
    chain: String,
    cfg: UpgradeAuditConfig,
    impls: BTreeMap<Address, Implementation>,
    /// Proxies by last upgrade, oldest first (for `max_tracked`).
    order: VecDeque<Address>,
    /// Per block: each proxy it upgraded, with its implementation before and its place in
    /// `order` before.
    journal: Journal<Vec<Undo>>,
}

impl UpgradeAudit {
    /// Builds the detector for `chain`.
    pub fn new(cfg: UpgradeAuditConfig, chain: &str) -> Result<Self> {
        let id = cfg.name.as_ref().map_or("upgrade_audit".into(), |n| format!("upgrade_audit:{n}"));
        if cfg.max_tracked == 0 {
            return Err(DetectError::Config {
                detector: id,
                field: "max_tracked".into(),
                reason: "must be at least 1".into(),
            });
        }
        Ok(Self {
            id,
            chain: chain.into(),
            cfg,
            impls: BTreeMap::new(),
            order: VecDeque::new(),
            journal: Journal::default(),
        })
    }

    /// The upgrades a block's logs announce: (tx index, log index, proxy, new implementation).
    fn upgrades(b: &BlockData) -> Vec<(u64, Option<u64>, Address, Address)> {
        let mut out = Vec::new();
        for (ri, r) in b.receipts.iter().flatten().enumerate() {
            if r.status == Some(false) {
                continue;
            }
            let tx = r.transaction_index.unwrap_or(ri as u64);
            for l in &r.logs {
                let new = match l.topics.first() {
                    Some(t) if *t == UPGRADED && l.topics.len() == 2 => {
                        Some(Address::from_word(l.topics[1]))
                    }
                    Some(t) if *t == CHANGED_MASTER_COPY && l.data.len() == 32 => {
                        Some(Address::from_slice(&l.data[12..]))
                    }
                    _ => None,
                };
                if let Some(new) = new {
                    out.push((tx, l.log_index, l.address, new));
                }
            }
        }
        out
    }

    fn scan(&mut self, b: &BlockData, out: &mut Findings) {
        let mut undo = Vec::new();
        for (tx, log_index, proxy, new) in Self::upgrades(b) {
            if !self.cfg.proxies.is_empty() && !self.cfg.proxies.contains(&proxy) {
                continue;
            }
            let code_of = |a: Address| {
                b.code.iter().flatten().find(|(x, _)| *x == a).map(|(_, c)| summarize(c))
            };
            let code = code_of(new);
            // Not seen before: the code the proxy delegated to in the upgrade's transaction (a
            // UUPS upgrade runs in the implementation it replaces), when it was recorded.
            let old = self.impls.get(&proxy).cloned().or_else(|| {
                let frames = palisade_defi::frames(b)?;
                let tf = frames.iter().find(|f| f.index == tx)?;
                let prev = tf
                    .frames
                    .iter()
                    .find(|f| {
                        f.kind == palisade_defi::CallKind::DelegateCall
                            && f.from == proxy
                            && f.to != new
                    })?
                    .to;
                Some(Implementation { address: prev, code: code_of(prev) })
            });
            let hash = b.receipts.iter().flatten().find(|r| r.transaction_index == Some(tx));
            let subject = format!("upgrade:{proxy:#x}:{}", log_index.unwrap_or(tx));
            let finding = match &code {
                None => Finding::new(
                    &self.id,
                    "upgrade_audit",
                    &self.chain,
                    b.block_ref(),
                    &subject,
                    Severity::Medium,
                    format!("Upgrade of {proxy:#x} to {new:#x}: the new implementation's code was not available, so it was not audited"),
                )
                .with_evidence(json!({"check": "upgrade_audit", "proxy": proxy, "new_implementation": new,
                    "old_implementation": old.as_ref().map(|o| o.address), "tx_index": tx, "audited": false})),
                Some(new_code) => {
                    let old_code = old.as_ref().and_then(|o| o.code.as_ref());
                    let d = diff(old_code, new_code);
                    let severity = if d.score >= self.cfg.high_score {
                        Severity::High
                    } else if d.score * 2 >= self.cfg.high_score && d.score > 0 {
                        Severity::Medium
                    } else {
                        Severity::Low
                    };
                    let from = match (&old, old_code) {
                        (Some(o), Some(_)) => format!("{:#x}", o.address),
                        (Some(o), None) => format!("{:#x} (code not seen)", o.address),
                        (None, _) => "an implementation not seen before".into(),
                    };
                    let why = if d.reasons.is_empty() {
                        "no risky change".to_string()
                    } else {
                        d.reasons.join("; ")
                    };
                    Finding::new(
                        &self.id,
                        "upgrade_audit",
                        &self.chain,
                        b.block_ref(),
                        &subject,
                        severity,
                        format!("Upgrade of {proxy:#x} from {from} to {new:#x}: risk {} ({why})", d.score),
                    )
                    .with_evidence(json!({"check": "upgrade_audit", "proxy": proxy, "new_implementation": new,
                        "old_implementation": old.as_ref().map(|o| o.address), "previous_code_seen": old_code.is_some(),
                        "tx_index": tx, "audited": true, "score": d.score, "reasons": d.reasons, "diff": d,
                        "new_code": {"size": new_code.size, "functions": new_code.functions.len(),
                            "selfdestruct": new_code.selfdestruct, "delegatecall": new_code.delegatecall, "callcode": new_code.callcode}}))
                }
            };
            out.push(finding.with_txs(hash.and_then(|r| r.transaction_hash)));
            let place = self.order.iter().position(|p| *p == proxy);
            undo.push(Undo { proxy, old, place });
            self.impls.insert(proxy, Implementation { address: new, code });
            if let Some(i) = place {
                self.order.remove(i);
            }
            self.order.push_back(proxy);
        }
        self.journal.push(b, undo);
    }
}

impl Detector for UpgradeAudit {
    fn id(&self) -> &str {
        &self.id
    }

    fn kind(&self) -> &'static str {
        "upgrade_audit"
    }

    fn needs(&self) -> Needs {
        Needs { receipts: true, traces: true, code: true, ..Needs::default() }
    }

    fn commit(&mut self, seg: &ChainSegment, out: &mut Findings) -> Result<()> {
        for b in seg.blocks() {
            self.scan(b, out);
        }
        Ok(())
    }

    fn revert(&mut self, seg: &ChainSegment, _out: &mut Findings) -> Result<()> {
        for b in seg.blocks().iter().rev() {
            for u in self.journal.pop(&self.id, b)?.into_iter().rev() {
                match u.old {
                    Some(o) => self.impls.insert(u.proxy, o),
                    None => self.impls.remove(&u.proxy),
                };
                self.order.retain(|p| *p != u.proxy);
                if let Some(i) = u.place {
                    self.order.insert(i.min(self.order.len()), u.proxy);
                }
            }
        }
        Ok(())
    }

    fn finalize(&mut self, upto: BlockRef, _out: &mut Findings) {
        self.journal.finalize(upto, 0);
        // Forget the least recently upgraded proxies beyond the bound.
        while self.order.len() > self.cfg.max_tracked {
            if let Some(p) = self.order.pop_front() {
                self.impls.remove(&p);
            }
        }
    }

    fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            head: self.journal.head(),
            state: json!({"impls": self.impls, "order": self.order, "journal": self.journal}),
        }
    }

    fn restore(&mut self, cp: &Checkpoint) -> Result<()> {
        if cp.state.is_null() {
            return Ok(());
        }
        self.impls = cp.field(&self.id, "impls")?;
        self.order = cp.field(&self.id, "order")?;
        self.journal = cp.field(&self.id, "journal")?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_primitives::keccak256;

    #[test]
    fn event_topics_are_the_hashes_of_their_signatures() {
        assert_eq!(UPGRADED, keccak256(b"Upgraded(address)"));
        assert_eq!(CHANGED_MASTER_COPY, keccak256(b"ChangedMasterCopy(address)"));
    }
}
