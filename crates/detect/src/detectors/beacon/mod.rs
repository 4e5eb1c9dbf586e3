//! Detectors of a beacon chain (blocks carry [`palisade_primitives::consensus::BeaconInfo`]):
//! finality, proposals and missed slots, attestation performance, sync-committee
//! participation, slashings, validator-set transitions, stake concentration, and the link from
//! each block's execution payload to the execution chain Palisade follows. Reorgs of the beacon
//! chain are `chain_health`'s (its blocks are numbered by their execution block number).

pub mod attestations;
pub mod execution_link;
pub mod finality;
pub mod proposals;
pub mod slashings;
pub mod stake;
pub mod sync_committee;
pub mod validators;

use palisade_primitives::Severity;

/// Slots per epoch.
pub(crate) const SLOTS_PER_EPOCH: u64 = 32;

/// The id of a detector instance: its kind, or `kind:name`.
pub(crate) fn instance_id(kind: &str, name: &Option<String>) -> String {
    name.as_ref().map_or(kind.to_string(), |n| format!("{kind}:{n}"))
}

/// The severity of a count against three thresholds (low, medium, high), if any is met.
pub(crate) fn tier(count: u64, tiers: &[u64; 3]) -> Option<Severity> {
    if count >= tiers[2] {
        Some(Severity::High)
    } else if count >= tiers[1] {
        Some(Severity::Medium)
    } else if count >= tiers[0] {
        Some(Severity::Low)
    } else {
        None
    }
}
