//! A beacon block reduced to what the detectors read ([`BeaconInfo`]), and the header line
//! that carries it through the chain engine.

use super::types::{SignedBeaconBlock, SyncAggregate};
use super::Network;
use palisade_primitives::consensus::{AttestationInfo, BeaconInfo};
use palisade_primitives::Bytes;
use ssz::Encode;

/// The detector's view of a block (without the epoch data and finality the source adds).
pub fn block_info(b: &SignedBeaconBlock, parent_slot: Option<u64>) -> BeaconInfo {
    let m = &b.message;
    let body = &m.body;
    let sync = body.sync_aggregate.as_ref();
    BeaconInfo {
        slot: m.slot,
        parent_slot,
        proposer_index: m.proposer_index,
        root: m.root(),
        parent_root: m.parent_root,
        execution_hash: body.execution_payload.as_ref().map(|p| p.block_hash),
        sync_participants: sync
            .map(|s: &SyncAggregate| s.sync_committee_bits.num_set_bits() as u32),
        sync_bits: sync.map(|s| Bytes::from(s.sync_committee_bits.as_ssz_bytes())),
        attestations: body
            .attestations
            .iter()
            .map(|a| AttestationInfo {
                slot: a.data.slot,
                index: a.data.index,
                bits: Bytes::from(a.aggregation_bits.as_ssz_bytes()),
                head: a.data.beacon_block_root,
                source_epoch: a.data.source.epoch,
                target_epoch: a.data.target.epoch,
                target_root: a.data.target.root,
            })
            .collect(),
        proposer_slashings: body
            .proposer_slashings
            .iter()
            .map(|s| s.signed_header_1.message.proposer_index)
            .collect(),
        attester_slashings: body
            .attester_slashings
            .iter()
            .map(|s| {
                let a: std::collections::BTreeSet<u64> =
                    s.attestation_1.attesting_indices.iter().copied().collect();
                s.attestation_2
                    .attesting_indices
                    .iter()
                    .filter(|i| a.contains(i))
                    .copied()
                    .collect()
            })
            .collect(),
        exits: body.voluntary_exits.iter().map(|e| e.message.validator_index).collect(),
        deposits: body.deposits.len() as u32,
        finality: None,
        epoch: None,
    }
}

/// The `block` object of a replay line for a beacon block: its execution block number as the
/// number (contiguous across missed slots), its root as the hash, the slot's start as the time.
pub fn header_json(b: &SignedBeaconBlock, network: &Network) -> serde_json::Value {
    let m = &b.message;
    let number = m.body.execution_payload.as_ref().map_or(m.slot, |p| p.block_number);
    serde_json::json!({
        "number": format!("{number:#x}"),
        "hash": m.root(),
        "parentHash": m.parent_root,
        "timestamp": format!("{:#x}", network.slot_time(m.slot)),
    })
}
