//! Findings: what detectors report, keyed by content.

use crate::{BlockRef, ChainSegment};
use alloy_primitives::{keccak256, Address, B256};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;

/// How bad a finding is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Informational.
    #[default]
    Info,
    /// Worth a look.
    Low,
    /// Needs attention.
    Medium,
    /// Needs attention now.
    High,
    /// Funds or the monitor's integrity are at risk.
    Critical,
}

impl Severity {
    /// Lower-case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }

    /// Parses a lower-case name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "info" => Self::Info,
            "low" => Self::Low,
            "medium" => Self::Medium,
            "high" => Self::High,
            "critical" => Self::Critical,
            _ => return None,
        })
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Content hash identifying a finding: the same finding always gets the same key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FindingKey(pub B256);

impl FindingKey {
    /// Derives a key from the detector id, chain, subject and anchor block.
    pub fn derive(detector: &str, chain: &str, subject: &str, anchor: &BlockRef) -> Self {
        let mut buf = Vec::with_capacity(detector.len() + chain.len() + subject.len() + 48);
        for part in [detector.as_bytes(), chain.as_bytes(), subject.as_bytes()] {
            buf.extend_from_slice(&(part.len() as u64).to_be_bytes());
            buf.extend_from_slice(part);
        }
        buf.extend_from_slice(&anchor.number.to_be_bytes());
        buf.extend_from_slice(anchor.hash.as_slice());
        Self(keccak256(&buf))
    }
}

impl fmt::Display for FindingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:x}", self.0)
    }
}

/// When in a transaction's life a finding was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// About a pending transaction, before inclusion.
    Pending,
    /// About a block (or the sources, or the chain).
    #[default]
    Confirmed,
}

impl Stage {
    /// Snake-case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Confirmed => "confirmed",
        }
    }
}

/// The pending transaction a finding is about: what a responder prices its answer against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingFacts {
    /// Its hash.
    pub hash: B256,
    /// Its sender.
    pub sender: Address,
    /// Its nonce.
    pub nonce: u64,
    /// Its tip cap (the gas price of a legacy transaction), in wei.
    pub priority_fee: u128,
    /// Its fee cap (the gas price of a legacy transaction), in wei.
    pub max_fee: u128,
}

/// Typed facts the runtime acts on (policies, responders): set by whoever makes the finding,
/// never parsed back out of the evidence, which is for people.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facts {
    /// Set on findings about a pending transaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<PendingFacts>,
    /// The endpoint a finding about the monitor's sources names (redacted URL, as shown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
}

impl Facts {
    /// True when nothing is set.
    pub fn is_empty(&self) -> bool {
        self.pending.is_none() && self.endpoint.is_none()
    }
}

/// One thing a detector saw, anchored in a block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Content-derived key.
    pub key: FindingKey,
    /// Id of the detector instance that made it (for example `chain_health` or `rule:weth-whale`).
    pub detector: String,
    /// Detector type (for example `rule`).
    pub kind: String,
    /// Severity.
    pub severity: Severity,
    /// Chain name from the config.
    pub chain: String,
    /// The block the finding is about; when that block is reorged out the finding is retracted.
    pub anchor: BlockRef,
    /// Transactions involved.
    pub tx_hashes: Vec<B256>,
    /// One-line summary.
    pub title: String,
    /// Structured evidence (a JSON object). Token amounts are decimal strings in raw units.
    pub evidence: Value,
    /// Typed facts for the runtime (stage, the pending transaction, the endpoint).
    #[serde(default, skip_serializing_if = "Facts::is_empty")]
    pub facts: Facts,
}

impl Finding {
    /// Starts a finding; `subject` distinguishes findings of one detector in one block (for
    /// example `"tx:3/log:7"`) and goes into the key.
    pub fn new(
        detector: &str,
        kind: &str,
        chain: &str,
        anchor: BlockRef,
        subject: &str,
        severity: Severity,
        title: impl Into<String>,
    ) -> Self {
        Self {
            key: FindingKey::derive(detector, chain, subject, &anchor),
            detector: detector.to_string(),
            kind: kind.to_string(),
            severity,
            chain: chain.to_string(),
            anchor,
            tx_hashes: Vec::new(),
            title: title.into(),
            evidence: Value::Object(Default::default()),
            facts: Facts::default(),
        }
    }

    /// When in a transaction's life it was made.
    pub fn stage(&self) -> Stage {
        if self.facts.pending.is_some() {
            Stage::Pending
        } else {
            Stage::Confirmed
        }
    }

    /// Names the endpoint a finding about the sources is about.
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.facts.endpoint = Some(endpoint.into());
        self
    }

    /// Re-derives the key with `salt` in the subject, keeping everything else: findings about
    /// different pending transactions, each judged in its own would-be block of the same
    /// number, stay distinct.
    pub fn salted(mut self, salt: &str) -> Self {
        let subject = format!("{salt}/{}", self.key);
        self.key = FindingKey::derive(&self.detector, &self.chain, &subject, &self.anchor);
        self
    }

    /// Sets the transactions involved.
    pub fn with_txs(mut self, txs: impl IntoIterator<Item = B256>) -> Self {
        self.tx_hashes = txs.into_iter().collect();
        self
    }

    /// Sets the evidence object.
    pub fn with_evidence(mut self, evidence: Value) -> Self {
        self.evidence = evidence;
        self
    }

    /// The one-line JSON form used by `--json` output and the JSON-lines sink.
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "key": self.key.to_string(),
            "detector": self.detector,
            "kind": self.kind,
            "severity": self.severity,
            "chain": self.chain,
            "block_number": self.anchor.number,
            "block_hash": self.anchor.known_hash(),
            "tx_hashes": self.tx_hashes,
            "title": self.title,
            "evidence": self.evidence,
        })
    }
}

/// The output buffer detectors write to, in the spirit of vector's `FunctionTransform`.
#[derive(Debug, Default, Clone)]
pub struct Findings {
    emitted: Vec<Finding>,
    retracted: Vec<BlockRef>,
    notices: Vec<FindingKey>,
}

impl Findings {
    /// An empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a finding.
    pub fn push(&mut self, f: Finding) {
        self.emitted.push(f);
    }

    /// Records that every finding anchored in `seg` is retracted (its blocks left the canonical
    /// chain), and drops such findings still in this buffer.
    pub fn retract_anchored_in(&mut self, seg: &ChainSegment) {
        for b in seg.blocks() {
            let r = b.block_ref();
            self.emitted.retain(|f| f.anchor != r);
            self.retracted.push(r);
        }
    }

    /// Marks the findings emitted from position `from` on as reorg notices (see
    /// `palisade_detect::Detector::reorg`).
    pub fn mark_notices_from(&mut self, from: usize) {
        let keys: Vec<_> =
            self.emitted[from.min(self.emitted.len())..].iter().map(|f| f.key).collect();
        self.notices.extend(keys);
    }

    /// Keys of the findings that are reorg notices.
    pub fn notices(&self) -> &[FindingKey] {
        &self.notices
    }

    /// Findings emitted so far.
    pub fn emitted(&self) -> &[Finding] {
        &self.emitted
    }

    /// Blocks whose findings are retracted.
    pub fn retracted(&self) -> &[BlockRef] {
        &self.retracted
    }

    /// Takes the contents, leaving the buffer empty.
    pub fn take(&mut self) -> (Vec<Finding>, Vec<BlockRef>) {
        self.notices.clear();
        (std::mem::take(&mut self.emitted), std::mem::take(&mut self.retracted))
    }

    /// True when nothing was emitted or retracted.
    pub fn is_empty(&self) -> bool {
        self.emitted.is_empty() && self.retracted.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_depend_on_content_only() {
        let a = BlockRef::new(1, B256::repeat_byte(1));
        let k1 = FindingKey::derive("d", "c", "s", &a);
        assert_eq!(k1, FindingKey::derive("d", "c", "s", &a));
        assert_ne!(k1, FindingKey::derive("d", "c", "t", &a));
        assert_ne!(k1, FindingKey::derive("d", "c", "s", &BlockRef::new(1, B256::repeat_byte(2))));
        // Length prefixes keep ("ab","c") and ("a","bc") apart.
        assert_ne!(FindingKey::derive("ab", "c", "", &a), FindingKey::derive("a", "bc", "", &a));
    }
}
