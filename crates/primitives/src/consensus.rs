//! Consensus-layer blocks as Palisade's detectors read them: a beacon block (with what the
//! source attached at epoch boundaries) or a CometBFT block (with its commit and validators).
//! Both travel through the same chain engine as execution blocks: a beacon block is numbered by
//! its execution payload's block number (contiguous after the merge; missed slots make no
//! block), a CometBFT block by its height. In the replay format they are the optional `beacon`
//! and `comet` fields of a line.

use alloy_primitives::{Bytes, B256};
use serde::{Deserialize, Serialize};

/// Quoted or bare integers (the Beacon API quotes them).
mod q {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(*v)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Q {
            S(String),
            N(u64),
        }
        match Q::deserialize(d)? {
            Q::S(s) => s.parse().map_err(serde::de::Error::custom),
            Q::N(n) => Ok(n),
        }
    }
}

/// A beacon block.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BeaconInfo {
    /// Slot.
    #[serde(with = "q")]
    pub slot: u64,
    /// Slot of the parent block (the slots in between were missed).
    #[serde(default)]
    pub parent_slot: Option<u64>,
    /// Proposer.
    #[serde(with = "q")]
    pub proposer_index: u64,
    /// Block root.
    pub root: B256,
    /// Parent root.
    pub parent_root: B256,
    /// Execution payload block hash.
    #[serde(default)]
    pub execution_hash: Option<B256>,
    /// Sync-committee members that signed the parent (of 512).
    #[serde(default)]
    pub sync_participants: Option<u32>,
    /// Their bits (64 bytes, member i is bit i % 8 of byte i / 8).
    #[serde(default)]
    pub sync_bits: Option<Bytes>,
    /// Attestations included.
    #[serde(default)]
    pub attestations: Vec<AttestationInfo>,
    /// Proposers slashed by the block's proposer slashings.
    #[serde(default)]
    pub proposer_slashings: Vec<u64>,
    /// Validators slashed by each attester slashing (in both attestations).
    #[serde(default)]
    pub attester_slashings: Vec<Vec<u64>>,
    /// Validators whose voluntary exit the block includes.
    #[serde(default)]
    pub exits: Vec<u64>,
    /// Deposits the block includes.
    #[serde(default)]
    pub deposits: u32,
    /// Finality as of this block's state.
    #[serde(default)]
    pub finality: Option<FinalityInfo>,
    /// Epoch data, attached to the first block of an epoch.
    #[serde(default)]
    pub epoch: Option<EpochInfo>,
}

/// An aggregate attestation as included in a block.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttestationInfo {
    /// The slot attested to.
    #[serde(with = "q")]
    pub slot: u64,
    /// Committee index.
    #[serde(with = "q")]
    pub index: u64,
    /// Aggregation bits (SSZ bitlist bytes).
    pub bits: Bytes,
    /// Head vote.
    pub head: B256,
    /// Source epoch.
    #[serde(with = "q")]
    pub source_epoch: u64,
    /// Target epoch.
    #[serde(with = "q")]
    pub target_epoch: u64,
    /// Target root.
    pub target_root: B256,
}

impl AttestationInfo {
    /// Whether committee member `position` is in the aggregate (the bitlist's highest set bit
    /// is its length marker).
    pub fn has(&self, position: usize) -> bool {
        let len = bitlist_len(&self.bits);
        position < len && self.bits.get(position / 8).is_some_and(|b| b >> (position % 8) & 1 == 1)
    }
}

/// Length of an SSZ bitlist from its bytes.
fn bitlist_len(bits: &[u8]) -> usize {
    match bits.last() {
        Some(&last) if last != 0 => (bits.len() - 1) * 8 + (7 - last.leading_zeros() as usize),
        _ => 0,
    }
}

/// Finality checkpoints.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FinalityInfo {
    /// Finalized epoch.
    #[serde(with = "q")]
    pub finalized_epoch: u64,
    /// Finalized root.
    pub finalized_root: B256,
    /// Current justified epoch.
    #[serde(with = "q")]
    pub justified_epoch: u64,
    /// Previous justified epoch.
    #[serde(with = "q")]
    pub previous_justified_epoch: u64,
}

/// What the source fetched for an epoch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EpochInfo {
    /// The epoch.
    #[serde(with = "q")]
    pub epoch: u64,
    /// Proposer of each slot: (slot, validator).
    #[serde(default)]
    pub proposers: Vec<(u64, u64)>,
    /// Attester duties of watched validators.
    #[serde(default)]
    pub attester_duties: Vec<AttesterDuty>,
    /// Sync-committee positions of watched validators: (validator, positions).
    #[serde(default)]
    pub sync_duties: Vec<(u64, Vec<u64>)>,
    /// Watched validators.
    #[serde(default)]
    pub validators: Vec<ValidatorInfo>,
    /// Stake by withdrawal credentials, when the whole set was read this epoch.
    #[serde(default)]
    pub stake: Option<StakeInfo>,
}

/// A watched validator's attester duty.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttesterDuty {
    /// Validator.
    #[serde(with = "q")]
    pub validator: u64,
    /// Slot to attest at.
    #[serde(with = "q")]
    pub slot: u64,
    /// Committee index.
    #[serde(with = "q")]
    pub committee_index: u64,
    /// Position in the committee.
    #[serde(with = "q")]
    pub position: u64,
}

/// A validator's state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidatorInfo {
    /// Index.
    #[serde(with = "q")]
    pub index: u64,
    /// Status (`active_ongoing`, `exited_slashed`, ...).
    pub status: String,
    /// Balance in gwei.
    #[serde(with = "q")]
    pub balance: u64,
    /// Effective balance in gwei.
    #[serde(with = "q")]
    pub effective_balance: u64,
    /// Slashed.
    pub slashed: bool,
}

/// The validator set's stake, by withdrawal credentials.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StakeInfo {
    /// Active validators.
    #[serde(with = "q")]
    pub active: u64,
    /// Their effective balance in gwei.
    #[serde(with = "q")]
    pub total_gwei: u64,
    /// (withdrawal credentials, effective balance in gwei, validators), largest first.
    pub by_credentials: Vec<(B256, u64, u64)>,
}

/// A CometBFT block with its commit and validators.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CometInfo {
    /// Chain id.
    pub chain_id: String,
    /// Height.
    #[serde(with = "q")]
    pub height: u64,
    /// Proposer address (hex).
    pub proposer: String,
    /// Validators of this height: (address, voting power), in set order.
    pub validators: Vec<(String, u64)>,
    /// The commit of this height: (validator address, signed for the block).
    pub signatures: Vec<(String, bool)>,
    /// Evidence of misbehaviour included in the block.
    #[serde(default)]
    pub evidence: Vec<EvidenceInfo>,
    /// The commit verified with Ed25519 against this height's validators (more than 2/3).
    #[serde(default)]
    pub verified: bool,
}

/// Evidence included in a CometBFT block.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceInfo {
    /// `duplicate_vote` or `light_client_attack`.
    pub kind: String,
    /// The offending validator (double signing), when one.
    #[serde(default)]
    pub validator: Option<String>,
    /// Height of the offence.
    #[serde(with = "q")]
    pub height: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitlists_know_their_length() {
        // 5 bits 10110 then the marker at bit 5: 0b0010_1101.
        let a = AttestationInfo { bits: Bytes::from(vec![0b0010_1101]), ..Default::default() };
        assert!(a.has(0) && !a.has(1) && a.has(2) && a.has(3) && !a.has(4));
        assert!(!a.has(5) && !a.has(9));
        assert_eq!(bitlist_len(&[0x00, 0x01]), 8);
        assert_eq!(bitlist_len(&[]), 0);
    }
}

#[cfg(test)]
mod line_tests {
    use crate::{BlockData, RecordedBlock};

    #[test]
    fn consensus_fields_decode_alike_on_both_paths() {
        let line = r#"{"block":{"number":"0x10","hash":"0x0000000000000000000000000000000000000000000000000000000000000010","parentHash":"0x000000000000000000000000000000000000000000000000000000000000000f","timestamp":"0x5"},"beacon":{"slot":"7109430","parent_slot":7109429,"proposer_index":"42","root":"0x0000000000000000000000000000000000000000000000000000000000000010","parent_root":"0x000000000000000000000000000000000000000000000000000000000000000f","sync_participants":510,"attestations":[{"slot":"7109429","index":"3","bits":"0x2d","head":"0x000000000000000000000000000000000000000000000000000000000000000f","source_epoch":"222168","target_epoch":"222169","target_root":"0x000000000000000000000000000000000000000000000000000000000000000f"}],"exits":[7]}}"#;
        let fast = crate::fast::decode(line).unwrap();
        let slow = BlockData::from_recorded(RecordedBlock::from_json_line(line).unwrap()).unwrap();
        assert_eq!(fast, slow);
        let b = fast.beacon.unwrap();
        assert_eq!((b.slot, b.parent_slot, b.exits.clone()), (7_109_430, Some(7_109_429), vec![7]));
        assert!(b.attestations[0].has(0));
        // A comet line; and a malformed one names the field.
        let c = r#"{"block":{"number":"0x2"},"comet":{"chain_id":"c","height":2,"proposer":"AA","validators":[["AA",10]],"signatures":[["AA",true]]}}"#;
        assert_eq!(BlockData::from_json_line(c).unwrap().comet.unwrap().validators[0].1, 10);
        let bad = r#"{"block":{"number":"0x2"},"comet":{"height":"x"}}"#;
        let e = BlockData::from_recorded(RecordedBlock::from_json_line(bad).unwrap()).unwrap_err();
        assert!(e.to_string().contains("comet"), "{e}");
    }
}
