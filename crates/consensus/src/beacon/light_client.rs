//! The light-client checks of the Altair sync protocol (as updated for Capella, Deneb and
//! Electra): a bootstrap tied to a trusted block root, updates signed by the known sync
//! committee, the Merkle branches that prove finalized headers, the next committee and
//! execution payload headers, and the handover from one period's committee to the next.
//!
//! [`LightClient`] keeps the committees it has verified; every header it returns has been
//! signed by more than `min_participation` of a committee it trusts (or proven final by such a
//! header), and its execution block hash is proven against its beacon body root.

use super::types::{
    BeaconBlockHeader, LightClientBootstrap, LightClientHeader, LightClientUpdate, SyncCommittee,
};
use super::{
    gindex, is_valid_merkle_branch, period_of, signing_root, Network, DOMAIN_SYNC_COMMITTEE,
    SLOTS_PER_EPOCH, SYNC_COMMITTEE_SIZE,
};
use crate::{bls, ConsensusError, Result};
use alloy_primitives::B256;
use blst::min_pk::PublicKey;
use tree_hash::TreeHash;

/// Generalized indices of the proven fields, by fork.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gindices {
    /// `finalized_checkpoint.root` in the beacon state.
    pub finalized_root: u64,
    /// `current_sync_committee` in the beacon state.
    pub current_sync_committee: u64,
    /// `next_sync_committee` in the beacon state.
    pub next_sync_committee: u64,
    /// `execution_payload` in the block body.
    pub execution_payload: u64,
}

impl Gindices {
    /// The indices for a fork name (Altair to Deneb share them; Electra's state has more fields).
    pub fn for_fork(fork: &str) -> Self {
        match fork {
            "electra" | "fulu" => Self {
                finalized_root: 169,
                current_sync_committee: 86,
                next_sync_committee: 87,
                execution_payload: 25,
            },
            _ => Self {
                finalized_root: 105,
                current_sync_committee: 54,
                next_sync_committee: 55,
                execution_payload: 25,
            },
        }
    }
}

/// A sync committee with its keys decoded once.
#[derive(Debug, Clone)]
pub struct Committee {
    /// The period it signs for.
    pub period: u64,
    /// Its `hash_tree_root`.
    pub root: B256,
    keys: Vec<PublicKey>,
}

impl Committee {
    /// Decodes and validates the 512 keys.
    pub fn new(period: u64, c: &SyncCommittee) -> Result<Self> {
        let keys =
            c.pubkeys.iter().map(|k| bls::public_key(k.as_slice())).collect::<Result<Vec<_>>>()?;
        Ok(Self { period, root: c.tree_hash_root(), keys })
    }

    /// The keys of the members whose bit is set.
    fn participants(
        &self,
        bits: &ssz_types::BitVector<ssz_types::typenum::U512>,
    ) -> Vec<PublicKey> {
        self.keys
            .iter()
            .enumerate()
            .filter(|(i, _)| bits.get(*i).unwrap_or(false))
            .map(|(_, k)| *k)
            .collect()
    }
}

/// What a verified update told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The header the committee signed.
    pub attested: BeaconBlockHeader,
    /// Its root.
    pub attested_root: B256,
    /// The finalized header it proved, if any.
    pub finalized: Option<BeaconBlockHeader>,
    /// Execution blocks proven in those headers: (beacon slot, execution number, hash).
    pub execution: Vec<(u64, u64, B256)>,
    /// Members that signed (of 512).
    pub participants: usize,
    /// The period whose committee signed.
    pub period: u64,
    /// A next committee was proven and is now known.
    pub handover: bool,
}

/// A light client's verified view: the committees it trusts and the best headers.
#[derive(Debug, Clone)]
pub struct LightClient {
    network: Network,
    current: Committee,
    next: Option<Committee>,
    /// The newest finalized header verified.
    pub finalized: BeaconBlockHeader,
    /// The newest attested (optimistic) header verified.
    pub optimistic: BeaconBlockHeader,
    /// Least share of the committee (in 512ths) an update needs to be accepted (default 342,
    /// more than 2/3).
    pub min_participation: usize,
}

/// Checks an execution payload header against its beacon header's body root.
pub fn verify_execution(h: &LightClientHeader, fork: &str) -> Result<Option<(u64, B256)>> {
    let Some(e) = &h.execution else { return Ok(None) };
    let (depth, index) = gindex(Gindices::for_fork(fork).execution_payload);
    if !is_valid_merkle_branch(e.root(), &h.execution_branch, depth, index, h.beacon.body_root) {
        return Err(ConsensusError::Branch {
            slot: h.beacon.slot,
            what: "execution payload header",
            root_name: "body root",
            root: h.beacon.body_root,
        });
    }
    Ok(Some((e.block_number, e.block_hash)))
}

impl LightClient {
    /// Starts from a bootstrap whose header has the `trusted` block root (obtained out of band:
    /// a checkpoint everyone agrees on).
    pub fn bootstrap(network: Network, trusted: B256, b: &LightClientBootstrap) -> Result<Self> {
        let got = b.header.beacon.root();
        if got != trusted {
            return Err(ConsensusError::Bootstrap { want: trusted, got });
        }
        let fork = network.fork_at(b.header.beacon.slot / SLOTS_PER_EPOCH).1;
        let (depth, index) = gindex(Gindices::for_fork(fork).current_sync_committee);
        let committee_root = b.current_sync_committee.tree_hash_root();
        if !is_valid_merkle_branch(
            committee_root,
            &b.current_sync_committee_branch,
            depth,
            index,
            b.header.beacon.state_root,
        ) {
            return Err(ConsensusError::Branch {
                slot: b.header.beacon.slot,
                what: "current sync committee",
                root_name: "state root",
                root: b.header.beacon.state_root,
            });
        }
        verify_execution(&b.header, fork)?;
        let current = Committee::new(period_of(b.header.beacon.slot), &b.current_sync_committee)?;
        Ok(Self {
            network,
            current,
            next: None,
            finalized: b.header.beacon.clone(),
            optimistic: b.header.beacon.clone(),
            min_participation: SYNC_COMMITTEE_SIZE * 2 / 3 + 1,
        })
    }

    /// The period of the committee it trusts now.
    pub fn period(&self) -> u64 {
        self.current.period
    }

    /// True when it knows the next period's committee.
    pub fn knows_next(&self) -> bool {
        self.next.is_some()
    }

    /// Verifies an update (full, finality or optimistic) without applying it.
    pub fn verify(&self, u: &LightClientUpdate) -> Result<Verified> {
        let att = &u.attested_header.beacon;
        let slot = att.slot;
        let bad = |reason: String| ConsensusError::Update { slot, reason };
        if u.signature_slot <= slot {
            return Err(bad(format!(
                "signature slot {} is not after the attested slot",
                u.signature_slot
            )));
        }
        if let Some(f) = &u.finalized_header {
            if f.beacon.slot > slot {
                return Err(bad(format!(
                    "finalized slot {} is after the attested slot",
                    f.beacon.slot
                )));
            }
        }
        let sig_period = period_of(u.signature_slot);
        let committee = if sig_period == self.current.period {
            &self.current
        } else if let Some(n) = self.next.as_ref().filter(|n| n.period == sig_period) {
            n
        } else {
            return Err(bad(format!(
                "signed in period {sig_period}, but the known committees are for {}{}",
                self.current.period,
                self.next.as_ref().map(|n| format!(" and {}", n.period)).unwrap_or_default()
            )));
        };
        let bits = &u.sync_aggregate.sync_committee_bits;
        let participants = bits.num_set_bits();
        if participants < self.min_participation {
            return Err(bad(format!(
                "{participants} of {SYNC_COMMITTEE_SIZE} members signed, fewer than the {} required",
                self.min_participation
            )));
        }
        // Fork of the attested header's state, for the branches; of the slot before the
        // signature, for the domain (as the spec computes it).
        let att_fork = self.network.fork_at(slot / SLOTS_PER_EPOCH).1;
        let g = Gindices::for_fork(att_fork);
        let mut execution = Vec::new();
        if let Some(e) = verify_execution(&u.attested_header, att_fork)? {
            execution.push((slot, e.0, e.1));
        }
        let finalized = match &u.finalized_header {
            Some(f) if !u.finality_branch.is_empty() => {
                let (depth, index) = gindex(g.finalized_root);
                // The genesis checkpoint is proven as a zero root.
                let leaf = if f.beacon.slot == 0 { B256::ZERO } else { f.beacon.root() };
                if !is_valid_merkle_branch(leaf, &u.finality_branch, depth, index, att.state_root) {
                    return Err(ConsensusError::Branch {
                        slot,
                        what: "finalized header",
                        root_name: "state root",
                        root: att.state_root,
                    });
                }
                let f_fork = self.network.fork_at(f.beacon.slot / SLOTS_PER_EPOCH).1;
                if let Some(e) = verify_execution(f, f_fork)? {
                    execution.push((f.beacon.slot, e.0, e.1));
                }
                Some(f.beacon.clone())
            }
            _ => None,
        };
        let mut handover = false;
        if let Some(n) = &u.next_sync_committee {
            if !u.next_sync_committee_branch.is_empty() {
                let (depth, index) = gindex(g.next_sync_committee);
                if !is_valid_merkle_branch(
                    n.tree_hash_root(),
                    &u.next_sync_committee_branch,
                    depth,
                    index,
                    att.state_root,
                ) {
                    return Err(ConsensusError::Branch {
                        slot,
                        what: "next sync committee",
                        root_name: "state root",
                        root: att.state_root,
                    });
                }
                handover = true;
            }
        }
        let (keys, message, sig) = self.signing_inputs(u)?;
        if !bls::fast_aggregate_verify(&keys, message.as_slice(), &sig) {
            return Err(ConsensusError::Signature {
                slot,
                participants,
                size: SYNC_COMMITTEE_SIZE,
            });
        }
        let attested_root = att.root();
        Ok(Verified {
            attested: att.clone(),
            attested_root,
            finalized,
            execution,
            participants,
            period: committee.period,
            handover,
        })
    }

    /// What the sync committee's signature of `u` is checked on: the participants' keys, the
    /// signing root of the attested header (with the domain of the signature slot's fork) and
    /// the aggregate signature.
    pub fn signing_inputs(
        &self,
        u: &LightClientUpdate,
    ) -> Result<(Vec<PublicKey>, B256, blst::min_pk::Signature)> {
        let slot = u.attested_header.beacon.slot;
        let sig_period = period_of(u.signature_slot);
        let committee = [Some(&self.current), self.next.as_ref()]
            .into_iter()
            .flatten()
            .find(|c| c.period == sig_period)
            .ok_or_else(|| ConsensusError::Update {
                slot,
                reason: format!("no known committee for period {sig_period}"),
            })?;
        let fork_version =
            self.network.fork_at(u.signature_slot.max(1).saturating_sub(1) / SLOTS_PER_EPOCH).0;
        let domain = self.network.domain(DOMAIN_SYNC_COMMITTEE, fork_version);
        let message = signing_root(u.attested_header.beacon.root(), domain);
        let sig = bls::signature(u.sync_aggregate.sync_committee_signature.as_slice())?;
        Ok((committee.participants(&u.sync_aggregate.sync_committee_bits), message, sig))
    }

    /// Verifies a sync aggregate carried by a block at `signature_slot` over the root of the
    /// block before it (`signed_root`), with the committee of that slot's period. Returns the
    /// number of signers; an aggregate nobody signed verifies nothing and is an error.
    pub fn verify_sync_aggregate(
        &self,
        signed_root: B256,
        agg: &super::types::SyncAggregate,
        signature_slot: u64,
    ) -> Result<usize> {
        let period = period_of(signature_slot);
        let committee = [Some(&self.current), self.next.as_ref()]
            .into_iter()
            .flatten()
            .find(|c| c.period == period)
            .ok_or_else(|| ConsensusError::Update {
                slot: signature_slot,
                reason: format!("no known committee for period {period}"),
            })?;
        let keys = committee.participants(&agg.sync_committee_bits);
        let fork_version =
            self.network.fork_at(signature_slot.max(1).saturating_sub(1) / SLOTS_PER_EPOCH).0;
        let domain = self.network.domain(DOMAIN_SYNC_COMMITTEE, fork_version);
        let message = signing_root(signed_root, domain);
        let sig = bls::signature(agg.sync_committee_signature.as_slice())?;
        if !bls::fast_aggregate_verify(&keys, message.as_slice(), &sig) {
            return Err(ConsensusError::Signature {
                slot: signature_slot,
                participants: keys.len(),
                size: SYNC_COMMITTEE_SIZE,
            });
        }
        Ok(keys.len())
    }

    /// Verifies and applies an update: newer headers are kept, a proven next committee is
    /// learnt (the handover), and once a header of the next period is final, the client moves
    /// to that period.
    pub fn apply(&mut self, u: &LightClientUpdate) -> Result<Verified> {
        let v = self.verify(u)?;
        if v.attested.slot > self.optimistic.slot {
            self.optimistic = v.attested.clone();
        }
        if let Some(f) = &v.finalized {
            if f.slot > self.finalized.slot {
                self.finalized = f.clone();
            }
        }
        if v.handover && period_of(v.attested.slot) == self.current.period && self.next.is_none() {
            if let Some(n) = &u.next_sync_committee {
                self.next = Some(Committee::new(self.current.period + 1, n)?);
            }
        }
        // Rotate once the signing period is the next one (its committee has just been used).
        if self.next.as_ref().is_some_and(|n| n.period == v.period) {
            if let Some(n) = self.next.take() {
                self.current = n;
            }
            if v.handover && period_of(v.attested.slot) == self.current.period {
                if let Some(n) = &u.next_sync_committee {
                    self.next = Some(Committee::new(self.current.period + 1, n)?);
                }
            }
        }
        Ok(v)
    }
}
