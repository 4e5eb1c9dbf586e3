//! The consensus components, from what beacon and CometBFT blocks carry: `finality` and
//! `duties`.
//!
//! Beacon chain:
//! - `finality`: the epochs between the block's epoch and the last finalized checkpoint (2 when
//!   all is well: 0; 5, where the inactivity leak starts: 1), with the justified checkpoint's
//!   distance and the leak as inputs.
//! - `duties`: beaconcha.in's weights over the last 32 slots: attestations 54/64 (the watched
//!   validators' duties of the previous epoch that no block included), proposals 8/64 (slots
//!   with no block), sync committee 2/64 (the committee's bits not set). Parts the blocks do
//!   not carry are left out and the others' weights renormalized. The weighted miss rate counts
//!   from 5 % (0) to a third (1: the share of stake whose absence stops finality).
//!
//! CometBFT:
//! - `finality`: the voting power that signed the block's commit against the two thirds a
//!   commit needs (all signed: 0; two thirds: 1), or the age of the last commit when it is
//!   larger (scored as liveness is: a commit that is long in coming is finality stalled).
//! - `duties`: the voting power that did not sign, averaged over the last 32 heights (a third:
//!   1).

use crate::{clamp01, r6, BlockStat, Component};
use palisade_primitives::BlockData;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;

/// Slots per epoch.
const SLOTS_PER_EPOCH: u64 = 32;
/// Epochs of finality delay at which the inactivity leak starts (MIN_EPOCHS_TO_INACTIVITY_PENALTY
/// is 4: the leak is on when the delay is above it).
const LEAK_DISTANCE: u64 = 5;
/// beaconcha.in's weights: attestations, proposals, sync duties (of 64).
const W_ATT: f64 = 54.0;
const W_PROP: f64 = 8.0;
const W_SYNC: f64 = 2.0;
/// Window of the duty rates, in slots or heights.
const WINDOW: u64 = 32;

/// An attester duty: (slot, committee index, position in the committee).
type Duty = (u64, u64, u64);

/// What the index keeps of a beacon block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct BeaconStat {
    slot: u64,
    /// Slots with no block between the parent and this one.
    missed_before: u64,
    /// Sync committee bits set and the committee's size.
    sync: Option<(u32, u32)>,
    /// The newest finalized and justified epochs known at this block (carried or inherited).
    finality: Option<(u64, u64)>,
    /// The watched validators' attester duties this block carries (an epoch's first block).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    duties: Vec<Duty>,
    /// Duties this block's attestations include.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    hits: Vec<Duty>,
}

/// What the index keeps of a CometBFT block: voting power in all and power that signed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct CometStat {
    total: u64,
    signed: u64,
}

/// The beacon part of a block's stat, given the stats before it (oldest first).
pub(crate) fn beacon_stat(b: &BlockData, before: &[&BlockStat]) -> Option<BeaconStat> {
    let info = b.beacon.as_ref()?;
    let prev = before.iter().rev().find_map(|s| s.beacon.as_ref());
    let missed_before = info.parent_slot.map_or(0, |p| info.slot.saturating_sub(p + 1));
    let sync = info.sync_bits.as_ref().map(|bits| {
        let set = bits.iter().map(|x| x.count_ones()).sum::<u32>();
        (set, (bits.len() * 8) as u32)
    });
    let finality = info
        .finality
        .as_ref()
        .map(|f| (f.finalized_epoch, f.justified_epoch))
        .or_else(|| prev.and_then(|p| p.finality));
    let duties: Vec<Duty> = info
        .epoch
        .as_ref()
        .map(|e| {
            e.attester_duties.iter().map(|d| (d.slot, d.committee_index, d.position)).collect()
        })
        .unwrap_or_default();
    let mut hits = Vec::new();
    if !info.attestations.is_empty() {
        // Duties known for the last three epochs (this block's own first).
        let mut known: Vec<Duty> = duties.clone();
        let oldest = (info.slot / SLOTS_PER_EPOCH).saturating_sub(2) * SLOTS_PER_EPOCH;
        for s in before.iter().rev().filter_map(|s| s.beacon.as_ref()) {
            if s.slot < oldest {
                break;
            }
            known.extend_from_slice(&s.duties);
        }
        for a in &info.attestations {
            for d in known.iter().filter(|d| d.0 == a.slot && d.1 == a.index) {
                if a.has(d.2 as usize) && !hits.contains(d) {
                    hits.push(*d);
                }
            }
        }
    }
    Some(BeaconStat { slot: info.slot, missed_before, sync, finality, duties, hits })
}

/// The CometBFT part of a block's stat.
pub(crate) fn comet_stat(b: &BlockData) -> Option<CometStat> {
    let info = b.comet.as_ref()?;
    let total: u64 = info.validators.iter().map(|v| v.1).sum();
    let signed_by: std::collections::BTreeSet<&str> =
        info.signatures.iter().filter(|s| s.1).map(|s| s.0.as_str()).collect();
    let signed =
        info.validators.iter().filter(|v| signed_by.contains(v.0.as_str())).map(|v| v.1).sum();
    Some(CometStat { total, signed })
}

fn comp(
    name: &str,
    value: f64,
    weight: f64,
    inputs: BTreeMap<String, serde_json::Value>,
) -> Component {
    Component { name: name.into(), value: r6(clamp01(value)), weight, inputs }
}

/// `finality` of a beacon block.
pub(crate) fn beacon_finality(s: &BeaconStat, weight: f64) -> Option<Component> {
    let (fin, just) = s.finality?;
    let epoch = s.slot / SLOTS_PER_EPOCH;
    let distance = epoch.saturating_sub(fin);
    let leak = distance >= LEAK_DISTANCE;
    let inputs = BTreeMap::from([
        ("epoch".to_string(), json!(epoch)),
        ("finalized_epoch".to_string(), json!(fin)),
        ("justified_epoch".to_string(), json!(just)),
        ("epochs_since_finalized".to_string(), json!(distance)),
        ("epochs_since_justified".to_string(), json!(epoch.saturating_sub(just))),
        ("inactivity_leak".to_string(), json!(leak)),
    ]);
    let v = distance.saturating_sub(2) as f64 / (LEAK_DISTANCE - 2) as f64;
    Some(comp("finality", v, weight, inputs))
}

/// `duties` of a beacon block `s` given the stats before it.
pub(crate) fn beacon_duties(s: &BeaconStat, before: &[&BlockStat], weight: f64) -> Component {
    let from = s.slot.saturating_sub(WINDOW - 1);
    let recent: Vec<&BeaconStat> = before
        .iter()
        .rev()
        .filter_map(|x| x.beacon.as_ref())
        .take_while(|x| x.slot >= from)
        .chain(std::iter::once(s))
        .collect();
    // Proposals: slots without a block among the window's 32 (slots before the first block
    // seen count as proposed: a short history is not a bad one).
    let missed: u64 = recent.iter().map(|x| x.missed_before.min(x.slot - from)).sum();
    let prop = missed as f64 / WINDOW as f64;
    // Sync: bits not set, over the window's blocks that carry them.
    let syncs: Vec<(u32, u32)> = recent.iter().filter_map(|x| x.sync).filter(|x| x.1 > 0).collect();
    let sync = (!syncs.is_empty()).then(|| {
        let (set, size) =
            syncs.iter().fold((0u64, 0u64), |a, x| (a.0 + x.0 as u64, a.1 + x.1 as u64));
        1.0 - set as f64 / size as f64
    });
    // Attestations: the previous epoch's duties, included by any block since they were due.
    let prev_epoch = (s.slot / SLOTS_PER_EPOCH).checked_sub(1);
    let (mut due, mut hit) = (0u64, 0u64);
    if let Some(pe) = prev_epoch {
        let start = pe * SLOTS_PER_EPOCH;
        let in_prev = |d: &&Duty| d.0 >= start && d.0 < start + SLOTS_PER_EPOCH;
        let all: Vec<&BeaconStat> = before
            .iter()
            .rev()
            .filter_map(|x| x.beacon.as_ref())
            .take_while(|x| x.slot >= start.saturating_sub(SLOTS_PER_EPOCH))
            .chain(std::iter::once(s))
            .collect();
        let mut duties: Vec<Duty> =
            all.iter().flat_map(|x| x.duties.iter().filter(in_prev)).copied().collect();
        duties.sort_unstable();
        duties.dedup();
        due = duties.len() as u64;
        hit = duties.iter().filter(|d| all.iter().any(|x| x.hits.contains(d))).count() as u64;
    }
    let att = (due > 0).then(|| (due - hit) as f64 / due as f64);
    let mut wsum = W_PROP;
    let mut miss = W_PROP * prop;
    if let Some(a) = att {
        wsum += W_ATT;
        miss += W_ATT * a;
    }
    if let Some(y) = sync {
        wsum += W_SYNC;
        miss += W_SYNC * y;
    }
    let rate = miss / wsum;
    let mut inputs = BTreeMap::from([
        ("window_slots".to_string(), json!(WINDOW)),
        ("missed_slots".to_string(), json!(missed)),
        ("proposals_missed_rate".to_string(), json!(r6(prop))),
        ("weighted_miss_rate".to_string(), json!(r6(rate))),
    ]);
    if let Some(y) = sync {
        inputs.insert("sync_missed_rate".into(), json!(r6(y)));
    }
    if let Some(a) = att {
        inputs.insert("attestation_duties".into(), json!(due));
        inputs.insert("attestations_missed".into(), json!(due - hit));
        inputs.insert("attestations_missed_rate".into(), json!(r6(a)));
    }
    comp("duties", (rate - 0.05) / (1.0 / 3.0 - 0.05), weight, inputs)
}

/// `finality` of a CometBFT block: the commit's margin over two thirds, or the commit's age
/// scored as liveness (`age_value`) when that is larger.
pub(crate) fn comet_finality(
    s: &CometStat,
    age_secs: Option<u64>,
    age_value: f64,
    weight: f64,
) -> Option<Component> {
    if s.total == 0 {
        return None;
    }
    let share = s.signed as f64 / s.total as f64;
    let margin = share - 2.0 / 3.0;
    let power = clamp01(1.0 - margin * 3.0);
    let mut inputs = BTreeMap::from([
        ("voting_power".to_string(), json!(s.total)),
        ("signed_power".to_string(), json!(s.signed)),
        ("signed_share".to_string(), json!(r6(share))),
        ("margin_over_two_thirds".to_string(), json!(r6(margin))),
    ]);
    if let Some(a) = age_secs {
        inputs.insert("commit_age_secs".into(), json!(a));
    }
    Some(comp("finality", power.max(age_value), weight, inputs))
}

/// `duties` of a CometBFT block: power that did not sign, over the last heights.
pub(crate) fn comet_duties(s: &CometStat, before: &[&BlockStat], weight: f64) -> Option<Component> {
    if s.total == 0 {
        return None;
    }
    let recent: Vec<&CometStat> = before
        .iter()
        .rev()
        .filter_map(|x| x.comet.as_ref())
        .take(WINDOW as usize - 1)
        .chain(std::iter::once(s))
        .collect();
    let missed: f64 = recent
        .iter()
        .filter(|x| x.total > 0)
        .map(|x| 1.0 - x.signed as f64 / x.total as f64)
        .sum::<f64>()
        / recent.len() as f64;
    let inputs = BTreeMap::from([
        ("window_heights".to_string(), json!(recent.len())),
        ("missed_power_share".to_string(), json!(r6(missed))),
        ("missed_power_now".to_string(), json!(s.total - s.signed)),
    ]);
    Some(comp("duties", missed * 3.0, weight, inputs))
}
