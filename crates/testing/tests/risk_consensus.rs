//! The settlement-risk index on the consensus scenarios (palisade_testing::beacon_scenario):
//! missed slots, an offline validator, a sync committee that thins out and finality that stops
//! raise `duties` and `finality`; on CometBFT, a validator that stops signing does. The right
//! values are worked out here from the scenario's construction, not from the index's output.

use palisade_primitives::ChainSegment;
use palisade_risk::{RiskConfig, RiskIndex, RiskPoint};
use palisade_testing::beacon_scenario::{self as sc, S0};
use std::collections::BTreeMap;

fn score(chain: &str, blocks: &[std::sync::Arc<palisade_primitives::BlockData>]) -> Vec<RiskPoint> {
    let mut idx = RiskIndex::new(chain, RiskConfig::default()).unwrap();
    let mut out = Vec::new();
    for chunk in blocks.chunks(7) {
        out.extend(idx.commit(&ChainSegment::new(chunk.to_vec()).unwrap(), &BTreeMap::new()));
    }
    out
}

fn slot(p: &RiskPoint, chain: &[std::sync::Arc<palisade_primitives::BlockData>]) -> u64 {
    chain.iter().find(|b| b.header.number == p.block.number).unwrap().beacon.as_ref().unwrap().slot
}

#[test]
fn beacon_duties_and_finality_rise_with_missed_duties_and_lost_finality() {
    let chain = sc::chain(None);
    let pts = score("beacon", &chain);
    assert_eq!(pts.len(), chain.len());
    let epoch_of = |p: &RiskPoint| (slot(p, &chain) - S0) / 32;
    for p in &pts {
        let k = epoch_of(p);
        let fin = p.component("finality").expect("every block knows finality");
        let duties = p.component("duties").expect("duties");
        let c = |n: &str| p.components.iter().find(|c| c.name == n).unwrap();
        // Finality: two epochs behind until epoch 3, then stuck at S0's epoch + 1, so k - 1
        // epochs behind from epoch 3: 2 -> 0, 3 -> 1/3, 4 -> 2/3, 5 (the leak) -> 1.
        let behind = if k < 3 { 2 } else { k - 1 };
        assert_eq!(c("finality").inputs["epochs_since_finalized"], behind, "epoch {k}");
        let want = (behind.saturating_sub(2) as f64 / 3.0).min(1.0);
        assert!((fin - want).abs() < 1e-5, "epoch {k}: finality {fin}, want {want}");
        assert_eq!(c("finality").inputs["inactivity_leak"], behind >= 5);
        // Duties: in epochs 0 and 1 every watched duty of the epoch before was included; from
        // epoch 2 the offline validator's (one of two) is missing: 54/64 x 1/2 alone is far
        // past a third.
        if k <= 1 {
            assert!(duties < 0.1, "epoch {k}: duties {duties}: {:?}", c("duties"));
        } else {
            assert_eq!(c("duties").inputs["attestations_missed"], 1, "epoch {k}");
            assert_eq!(duties, 1.0, "epoch {k}");
        }
    }
    // The three missed slots in a row (S0+40..42) show in the proposal rate of the next block.
    let after = pts.iter().find(|p| slot(p, &chain) == S0 + 43).unwrap();
    let d = after.components.iter().find(|c| c.name == "duties").unwrap();
    assert!(d.inputs["missed_slots"].as_u64().unwrap() >= 3, "{d:?}");
    // Epoch 6: finality lost and duties missed: the index is at its top.
    assert!(pts.last().unwrap().index > 99.0, "{:?}", pts.last());
    assert!(pts[40].index < 50.0, "{:?}", pts[40]);
}

#[test]
fn comet_missed_signatures_raise_duties_and_finality() {
    let chain = sc::comet_chain(None);
    let pts = score("comet", &chain);
    for p in &pts {
        let h = p.block.number;
        let fin = p.component("finality").unwrap();
        let duties = p.component("duties").unwrap();
        if (11..=20).contains(&h) {
            // D holds 10 of 100: 90 % signed, 0.9 - 2/3 over the third -> 1 - 0.7.
            assert!((fin - 0.3).abs() < 1e-5, "height {h}: finality {fin}");
            // Averaged over the heights so far (at most 32): 10 % missing at (h - 10) of h.
            let want = 3.0 * 0.1 * (h - 10) as f64 / h as f64;
            assert!((duties - want).abs() < 1e-5, "height {h}: duties {duties}, want {want}");
        } else if h <= 10 {
            assert_eq!((fin, duties), (0.0, 0.0), "height {h}");
        } else {
            assert_eq!(fin, 0.0, "height {h}: everyone signs again");
        }
    }
}

#[test]
fn consensus_components_are_reorg_exact() {
    // Scoring the main chain equals scoring a fork of its last blocks, reverting it, and
    // scoring the main chain's blocks again (points and checkpoint alike).
    for (name, main, fork, from) in [
        ("beacon", sc::chain(None), sc::chain(Some(S0 + 180)), 170usize),
        ("comet", sc::comet_chain(None), sc::comet_chain(Some(30)), 29usize),
    ] {
        let mut a = RiskIndex::new(name, RiskConfig::default()).unwrap();
        let want = a.commit(&ChainSegment::new(main.clone()).unwrap(), &BTreeMap::new());
        let mut b = RiskIndex::new(name, RiskConfig::default()).unwrap();
        let mut got =
            b.commit(&ChainSegment::new(main[..from].to_vec()).unwrap(), &BTreeMap::new());
        let branch: Vec<_> = fork
            .iter()
            .filter(|x| x.header.number > main[from - 1].header.number)
            .cloned()
            .collect();
        let seg = ChainSegment::new(branch).unwrap();
        b.commit(&seg, &BTreeMap::new());
        b.revert(&seg).unwrap();
        // A reorg was seen, so only the reorg component may differ; everything else matches.
        let again = b.commit(&ChainSegment::new(main[from..].to_vec()).unwrap(), &BTreeMap::new());
        got.extend(again);
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(&want) {
            for c in ["finality", "duties", "liveness"] {
                assert_eq!(g.component(c), w.component(c), "{name} block {}: {c}", g.block.number);
            }
        }
    }
}
