//! A beacon chain scenario for the consensus detectors: seven epochs of blocks (numbered by
//! execution block number, as the runtime numbers them) with what each detector looks for,
//! planted at known places, and a competing fork of the last blocks. Built in code: recorded
//! mainnet data has three blocks, not seven epochs of duties.

use alloy_primitives::{Bytes, B256};
use palisade_primitives::consensus::{
    AttestationInfo, AttesterDuty, BeaconInfo, EpochInfo, FinalityInfo, StakeInfo, ValidatorInfo,
};
use palisade_primitives::{BlockData, Header};
use std::sync::Arc;

/// First slot (epoch 222170's start).
pub const S0: u64 = 7_109_440;
/// Execution number of the first block.
pub const N0: u64 = 17_923_200;
/// Slots with no block: one alone, then three in a row (a watched proposer's among them), one
/// more.
pub const MISSED: [u64; 5] = [S0 + 5, S0 + 40, S0 + 41, S0 + 42, S0 + 70];
/// A watched validator: proposes at `S0 + 41` (missed), attests, sits in the sync committee,
/// loses balance, is slashed in epoch 2.
pub const WATCHED: u64 = 7;
/// A watched validator whose attestations are never included after epoch 0.
pub const OFFLINE: u64 = 8;
/// The slot of the block with the slashings.
pub const SLASHING_SLOT: u64 = S0 + 60;
/// Epochs in the scenario.
pub const EPOCHS: u64 = 7;

fn root(salt: u8, slot: u64) -> B256 {
    crate::fixtures::fake_hash(salt, slot)
}

fn bits(n: usize, set: impl Fn(usize) -> bool) -> Vec<u8> {
    let mut v = vec![0u8; n.div_ceil(8)];
    for i in 0..n {
        if set(i) {
            v[i / 8] |= 1 << (i % 8);
        }
    }
    v
}

/// An SSZ bitlist of `len` bits with `pos` set.
fn bitlist(len: usize, pos: &[usize]) -> Bytes {
    let mut v = bits(len + 1, |i| pos.contains(&i) || i == len);
    while v.last() == Some(&0) {
        v.pop();
    }
    Bytes::from(v)
}

/// The scenario chain; `salt` 1 is the main chain. `fork_from` (a slot) starts another fork
/// (salt 2) whose blocks from that slot on differ: no slashing, full sync participation.
pub fn chain(fork_from: Option<u64>) -> Vec<Arc<BlockData>> {
    let mut out: Vec<Arc<BlockData>> = Vec::new();
    let mut parent: Option<(u64, B256)> = None;
    let mut number = N0;
    for slot in S0..S0 + EPOCHS * 32 {
        let forked = fork_from.is_some_and(|f| slot >= f);
        let salt = if forked { 2 } else { 1 };
        if MISSED.contains(&slot) && !(forked && slot == S0 + 70) {
            continue;
        }
        let epoch = slot / 32;
        let e = slot - S0;
        let me = root(salt, slot);
        let mut info = BeaconInfo {
            slot,
            parent_slot: parent.map(|p| p.0),
            proposer_index: 1000 + slot % 64,
            root: me,
            parent_root: parent.map_or(root(1, S0 - 1), |p| p.1),
            execution_hash: Some(root(9 + salt, number)),
            ..Default::default()
        };
        // Sync committee: 500 of 512 sign; epoch 5 onwards only 300; the watched member
        // (position 100) misses every block of epoch 2.
        let participants = if forked {
            512
        } else if e >= 160 {
            300
        } else {
            500
        };
        let watched_missing = !forked && (64..96).contains(&e);
        let sync = bits(512, |i| if i == 100 { !watched_missing } else { i < participants });
        info.sync_participants = Some(sync.iter().map(|b| b.count_ones()).sum());
        info.sync_bits = Some(Bytes::from(sync));
        // Attestations for the previous slot's duties.
        let prev = slot - 1;
        let prev_epoch = prev / 32;
        let target_root = root(1, prev_epoch * 32);
        let head = parent.map_or(root(1, S0 - 1), |p| p.1);
        // WATCHED attests at slot 3 of each epoch (committee 1, position 5); in epoch 2 its
        // target vote is wrong.
        if prev % 32 == 3 {
            let wrong = prev_epoch == S0 / 32 + 2;
            info.attestations.push(AttestationInfo {
                slot: prev,
                index: 1,
                bits: bitlist(64, &[5, 6]),
                head,
                source_epoch: prev_epoch - 1,
                target_epoch: prev_epoch,
                target_root: if wrong { B256::repeat_byte(0xee) } else { target_root },
            });
        }
        // OFFLINE attests at slot 10 (committee 2, position 0) only in the first epoch.
        if prev % 32 == 10 && prev_epoch == S0 / 32 {
            info.attestations.push(AttestationInfo {
                slot: prev,
                index: 2,
                bits: bitlist(64, &[0]),
                head,
                source_epoch: prev_epoch - 1,
                target_epoch: prev_epoch,
                target_root,
            });
        }
        if slot == SLASHING_SLOT && !forked {
            info.proposer_slashings = vec![99];
            info.attester_slashings = vec![vec![WATCHED, 55]];
        }
        // Twenty exits in epoch 1.
        if e / 32 == 1 && e % 32 < 20 {
            info.exits = vec![2000 + e];
        }
        let first_of_epoch = parent.is_none_or(|p| p.0 / 32 < epoch);
        if first_of_epoch {
            let k = epoch - S0 / 32;
            // Finality: normal (two epochs behind) until epoch 3, then stuck at epoch 1.
            let fin = if k < 3 { epoch - 2 } else { S0 / 32 + 1 };
            info.finality = Some(FinalityInfo {
                finalized_epoch: fin,
                finalized_root: root(1, fin * 32),
                justified_epoch: if k < 3 { epoch - 1 } else { S0 / 32 + 2 },
                previous_justified_epoch: if k < 3 { epoch - 2 } else { S0 / 32 + 1 },
            });
            let mut ep = EpochInfo {
                epoch,
                proposers: (epoch * 32..epoch * 32 + 32)
                    .map(|s| (s, if s == S0 + 41 { WATCHED } else { 1000 + s % 64 }))
                    .collect(),
                attester_duties: vec![
                    AttesterDuty {
                        validator: WATCHED,
                        slot: epoch * 32 + 3,
                        committee_index: 1,
                        position: 5,
                    },
                    AttesterDuty {
                        validator: OFFLINE,
                        slot: epoch * 32 + 10,
                        committee_index: 2,
                        position: 0,
                    },
                ],
                sync_duties: vec![(WATCHED, vec![100])],
                validators: vec![ValidatorInfo {
                    index: WATCHED,
                    status: if k >= 2 { "active_slashed".into() } else { "active_ongoing".into() },
                    balance: match k {
                        0 => 32_000_000_000,
                        1 => 31_990_000_000,
                        _ => 31_000_000_000 - k * 1000,
                    },
                    effective_balance: 32_000_000_000,
                    slashed: k >= 2,
                }],
                stake: None,
            };
            if k == 0 {
                // 40 % behind one execution address, 20 % twice, 20 % in small holders.
                let cred = |a: u8| {
                    let mut c = [0u8; 32];
                    c[0] = 1;
                    c[12..].copy_from_slice(&[a; 20]);
                    B256::from(c)
                };
                let gwei = 32_000_000_000u64;
                let mut by: Vec<(B256, u64, u64)> = vec![
                    (cred(0xaa), 40 * gwei, 40),
                    (cred(0xbb), 20 * gwei, 20),
                    (cred(0xcc), 20 * gwei, 20),
                ];
                by.extend((0..20u8).map(|i| (B256::repeat_byte(i), gwei, 1)));
                ep.stake =
                    Some(StakeInfo { active: 100, total_gwei: 100 * gwei, by_credentials: by });
            }
            info.epoch = Some(ep);
        }
        let b = BlockData {
            header: Header {
                number,
                hash: Some(me),
                parent_hash: Some(info.parent_root),
                timestamp: Some(1_606_824_023 + slot * 12),
                ..Default::default()
            },
            beacon: Some(Arc::new(info)),
            ..Default::default()
        };
        parent = Some((slot, me));
        number += 1;
        out.push(Arc::new(b));
    }
    out
}

/// A CometBFT scenario of 40 heights, in the detectors' form (the live test signs the same
/// shape): A, B, C hold 30 each and D 10 (addresses `AAAA...`, 40 hex digits); D (watched) does not sign heights 11..=20; E joins
/// with 60 at height 25; D leaves at 30; block 35 carries evidence of B signing twice. `fork`
/// gives other block hashes from that height on (a chain that cannot reorg, but the laws hold).
pub fn comet_chain(fork: Option<u64>) -> Vec<Arc<BlockData>> {
    use palisade_primitives::consensus::{CometInfo, EvidenceInfo};
    let mut out: Vec<Arc<BlockData>> = Vec::new();
    // Consensus addresses as CometBFT writes them: 20 bytes, upper-case hex.
    let v = |s: &str| s.repeat(20);
    for h in 1..=40u64 {
        let salt = if fork.is_some_and(|f| h >= f) { 4 } else { 3 };
        let mut vals: Vec<(String, u64)> = vec![(v("AA"), 30), (v("BB"), 30), (v("CC"), 30)];
        if h < 30 {
            vals.push((v("DD"), 10));
        }
        if h >= 25 {
            vals.push((v("EE"), 60));
        }
        let signatures = vals
            .iter()
            .filter(|(a, _)| !(*a == v("DD") && (11..=20).contains(&h)))
            .map(|(a, _)| (a.clone(), true))
            .collect();
        let evidence = if h == 35 {
            vec![EvidenceInfo {
                kind: "duplicate_vote".into(),
                validator: Some(v("BB")),
                height: 33,
            }]
        } else {
            Vec::new()
        };
        let info = CometInfo {
            chain_id: "c".into(),
            height: h,
            proposer: v("AA"),
            validators: vals,
            signatures,
            evidence,
            verified: true,
        };
        let parent = out.last().and_then(|b| b.header.hash).or(Some(root(3, 0)));
        out.push(Arc::new(BlockData {
            header: Header {
                number: h,
                hash: Some(root(salt, h)),
                parent_hash: parent,
                timestamp: Some(1_700_000_000 + h * 6),
                ..Default::default()
            },
            comet: Some(Arc::new(info)),
            ..Default::default()
        }));
    }
    out
}
