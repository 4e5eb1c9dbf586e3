//! Ethereum proof-of-stake: Beacon API containers, their SSZ roots, and the light-client checks
//! that tie headers, sync committees and execution payloads together.

pub mod light_client;
pub mod summary;
pub mod types;

use alloy_primitives::{FixedBytes, B256};
use sha2::{Digest, Sha256};
use tree_hash::TreeHash;
use tree_hash_derive::TreeHash;

/// Slots in an epoch.
pub const SLOTS_PER_EPOCH: u64 = 32;
/// Epochs in a sync-committee period.
pub const EPOCHS_PER_SYNC_COMMITTEE_PERIOD: u64 = 256;
/// Members of a sync committee.
pub const SYNC_COMMITTEE_SIZE: usize = 512;
/// Seconds per slot.
pub const SECONDS_PER_SLOT: u64 = 12;
/// `DOMAIN_SYNC_COMMITTEE`.
pub const DOMAIN_SYNC_COMMITTEE: [u8; 4] = [7, 0, 0, 0];
/// `DOMAIN_BEACON_PROPOSER`.
pub const DOMAIN_BEACON_PROPOSER: [u8; 4] = [0, 0, 0, 0];

/// The sync-committee period of a slot.
pub fn period_of(slot: u64) -> u64 {
    slot / SLOTS_PER_EPOCH / EPOCHS_PER_SYNC_COMMITTEE_PERIOD
}

/// A network: its genesis and its fork schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    /// Name (`mainnet`).
    pub name: String,
    /// `genesis_validators_root`.
    pub genesis_validators_root: B256,
    /// Genesis time (Unix seconds).
    pub genesis_time: u64,
    /// (epoch, fork version, fork name), in epoch order, genesis first.
    pub forks: Vec<(u64, [u8; 4], &'static str)>,
}

impl Network {
    /// Ethereum mainnet.
    pub fn mainnet() -> Self {
        Self {
            name: "mainnet".into(),
            genesis_validators_root: alloy_primitives::b256!(
                "4b363db94e286120d76eb905340fdd4e54bfe9f06bf33ff6cf5ad27f511bfe95"
            ),
            genesis_time: 1_606_824_023,
            forks: vec![
                (0, [0, 0, 0, 0], "phase0"),
                (74_240, [1, 0, 0, 0], "altair"),
                (144_896, [2, 0, 0, 0], "bellatrix"),
                (194_048, [3, 0, 0, 0], "capella"),
                (269_568, [4, 0, 0, 0], "deneb"),
                (364_032, [5, 0, 0, 0], "electra"),
            ],
        }
    }

    /// The fork (version, name) in force at `epoch`.
    pub fn fork_at(&self, epoch: u64) -> ([u8; 4], &'static str) {
        self.forks
            .iter()
            .rev()
            .find(|(e, _, _)| *e <= epoch)
            .map(|(_, v, n)| (*v, *n))
            .unwrap_or(([0; 4], "phase0"))
    }

    /// The Unix time a slot starts.
    pub fn slot_time(&self, slot: u64) -> u64 {
        self.genesis_time + slot * SECONDS_PER_SLOT
    }

    /// `compute_domain(domain_type, fork_version, genesis_validators_root)`.
    pub fn domain(&self, domain_type: [u8; 4], fork_version: [u8; 4]) -> B256 {
        let fork_data = ForkData {
            current_version: FixedBytes(fork_version),
            genesis_validators_root: self.genesis_validators_root,
        };
        let root = fork_data.tree_hash_root();
        let mut d = [0u8; 32];
        d[..4].copy_from_slice(&domain_type);
        d[4..].copy_from_slice(&root[..28]);
        B256::from(d)
    }
}

#[derive(TreeHash)]
struct ForkData {
    current_version: FixedBytes<4>,
    genesis_validators_root: B256,
}

#[derive(TreeHash)]
struct SigningData {
    object_root: B256,
    domain: B256,
}

/// `compute_signing_root(object_root, domain)`.
pub fn signing_root(object_root: B256, domain: B256) -> B256 {
    SigningData { object_root, domain }.tree_hash_root()
}

/// `is_valid_merkle_branch(leaf, branch, depth, index, root)`: the branch's sibling hashes,
/// deepest first, lead from `leaf` at position `index` (of a tree of `depth`) to `root`.
pub fn is_valid_merkle_branch(
    leaf: B256,
    branch: &[B256],
    depth: usize,
    index: u64,
    root: B256,
) -> bool {
    if branch.len() != depth {
        return false;
    }
    let mut value = leaf;
    for (i, sibling) in branch.iter().enumerate() {
        let mut h = Sha256::new();
        if (index >> i) & 1 == 1 {
            h.update(sibling);
            h.update(value);
        } else {
            h.update(value);
            h.update(sibling);
        }
        value = B256::from_slice(&h.finalize());
    }
    value == root
}

/// A generalized index as (depth, index at that depth).
pub(crate) const fn gindex(g: u64) -> (usize, u64) {
    let depth = 63 - g.leading_zeros() as usize;
    (depth, g - (1 << depth))
}
