//! The index on synthetic chains whose right answers are known by construction.

use super::*;
use palisade_primitives::{BlockData, Severity};
use std::sync::Arc;

/// A block `n` of fork `fork` at `ts`, with `gas_used` of 30M and `base_fee`.
fn block(n: u64, fork: u8, ts: u64, gas_used: u64, base_fee: u128) -> Arc<BlockData> {
    let mut h = [0u8; 32];
    h[..8].copy_from_slice(&n.to_be_bytes());
    h[8] = fork;
    let mut p = [0u8; 32];
    p[..8].copy_from_slice(&n.wrapping_sub(1).to_be_bytes());
    p[8] = if fork > 0 && n > 0 { fork } else { 0 };
    let v = json!({
        "number": format!("{n:#x}"), "hash": format!("0x{}", hex(&h)), "parentHash": format!("0x{}", hex(&p)),
        "timestamp": format!("{ts:#x}"), "gasUsed": format!("{gas_used:#x}"), "gasLimit": "0x1c9c380",
        "baseFeePerGas": format!("{base_fee:#x}"), "transactions": [],
    });
    Arc::new(BlockData::from_json_line(&json!({"block": v}).to_string()).expect("block"))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn seg(blocks: Vec<Arc<BlockData>>) -> ChainSegment {
    ChainSegment::new(blocks).expect("segment")
}

/// 300 blocks 12 s apart (a little jitter), half full, steady base fee.
fn steady(index: &mut RiskIndex) -> Vec<RiskPoint> {
    let mut out = Vec::new();
    let mut ts = 1_700_000_000;
    for n in 0..300u64 {
        ts += 12 + (n % 3);
        out.extend(
            index.commit(&seg(vec![block(n, 0, ts, 15_000_000, 10_000_000_000)]), &BTreeMap::new()),
        );
    }
    out
}

#[test]
fn a_steady_chain_scores_low_and_a_long_gap_scores_liveness_high() {
    let mut idx = RiskIndex::new("c", RiskConfig::default()).unwrap();
    let pts = steady(&mut idx);
    let last = pts.last().unwrap();
    assert!(last.index < 5.0, "{last:?}");
    assert_eq!(last.component("liveness"), Some(0.0));
    // A block 5 minutes after the last (a 12 s chain): far past 15 spreads.
    let ts = last.timestamp.unwrap() + 300;
    let p = idx.commit(&seg(vec![block(300, 0, ts, 15_000_000, 10_000_000_000)]), &BTreeMap::new());
    assert_eq!(p[0].component("liveness"), Some(1.0), "{:?}", p[0]);
    assert!(p[0].index >= 99.9, "one component at 1 gives 100: {}", p[0].index);
    assert_eq!(p[0].components[0].name, "liveness", "the top component comes first");
    assert_eq!(p[0].components[0].inputs["interval_secs"], json!(300));
}

#[test]
fn a_stall_between_blocks_is_scored_without_a_new_block() {
    let mut idx = RiskIndex::new("c", RiskConfig::default()).unwrap();
    let pts = steady(&mut idx);
    let tip = pts.last().unwrap();
    let now = tip.timestamp.unwrap();
    assert_eq!(idx.stalled(now + 13).unwrap().component("liveness"), Some(0.0));
    let s = idx.stalled(now + 600).unwrap();
    assert!(s.stall);
    assert_eq!(s.block, tip.block);
    assert!(s.component("liveness").unwrap() >= 0.9, "{s:?}");
}

#[test]
fn a_reorg_retracts_exactly_its_points_and_raises_the_reorg_component() {
    let mut idx = RiskIndex::new("c", RiskConfig::default()).unwrap();
    let pts = steady(&mut idx);
    assert_eq!(pts.last().unwrap().component("reorgs"), Some(0.0));
    let before = idx.checkpoint();
    // Replace the last 3 blocks with another fork.
    let old: Vec<_> = (297..300u64)
        .map(|n| block(n, 0, pts[n as usize].timestamp.unwrap(), 15_000_000, 10_000_000_000))
        .collect();
    let gone = idx.revert(&seg(old)).unwrap();
    assert_eq!(gone.iter().map(|b| b.number).collect::<Vec<_>>(), vec![299, 298, 297]);
    assert_eq!(gone[0], pts[299].block, "the retracted points are the reverted blocks'");
    // Reverting a block below the tip is refused (the runtime would be out of step).
    assert!(idx.revert(&seg(vec![block(100, 0, 1, 1, 1)])).is_err());
    let ts = pts[296].timestamp.unwrap();
    let mut new = vec![block(297, 0, ts + 12, 15_000_000, 10_000_000_000)];
    // Link the fork: 297' has parent 296 (fork 0), 298' and 299' are fork 1.
    new.push(block(298, 1, ts + 24, 15_000_000, 10_000_000_000));
    new.push(block(299, 1, ts + 36, 15_000_000, 10_000_000_000));
    let p = idx.commit(&seg(vec![new[0].clone()]), &BTreeMap::new());
    let r = &p[0].components.iter().find(|c| c.name == "reorgs").unwrap();
    assert_eq!(r.inputs["short_deepest"], json!(3));
    assert_eq!(r.value, 0.5, "depth 3 of 6");
    assert!(p[0].index > pts[296].index);
    // The checkpoint taken before carries across a restart: same points from there.
    let mut again = RiskIndex::new("c", RiskConfig::default()).unwrap();
    again.restore(&before).unwrap();
    assert_eq!(again.checkpoint(), before);
}

#[test]
fn congestion_rises_with_full_blocks_and_a_base_fee_above_its_history() {
    let mut idx = RiskIndex::new("c", RiskConfig::default()).unwrap();
    let pts = steady(&mut idx);
    assert_eq!(pts.last().unwrap().component("congestion"), Some(0.0));
    let ts = pts.last().unwrap().timestamp.unwrap() + 12;
    let p = idx.commit(&seg(vec![block(300, 0, ts, 30_000_000, 50_000_000_000)]), &BTreeMap::new());
    let c = p[0].component("congestion").unwrap();
    assert!((c - 1.0).abs() < 1e-9, "full block at the top of its fee history: {c}");
}

#[test]
fn observed_components_count_and_unknown_ones_weigh_nothing() {
    let mut idx = RiskIndex::new("c", RiskConfig::default()).unwrap();
    let ts = steady(&mut idx).last().unwrap().timestamp.unwrap() + 13;
    let mut obs = BTreeMap::new();
    let mut o = Observed::default();
    o.components.insert(
        "source_integrity".into(),
        (0.5, BTreeMap::from([("quarantined".into(), json!(1))])),
    );
    o.components.insert("made_up".into(), (1.0, BTreeMap::new()));
    obs.insert(300, o);
    let p = idx.commit(&seg(vec![block(300, 0, ts, 15_000_000, 10_000_000_000)]), &obs);
    // source_integrity at 0.5 with weight 0.8 of the top 1.0: 1 - 0.5^0.8.
    let want = 100.0 * (1.0 - 0.5f64.powf(0.8));
    assert!((p[0].index - want).abs() < 1e-3, "{} vs {want}", p[0].index);
}

#[test]
fn two_runs_over_the_same_blocks_give_the_same_hashes() {
    let (mut a, mut b) = (
        RiskIndex::new("c", RiskConfig::default()).unwrap(),
        RiskIndex::new("c", RiskConfig::default()).unwrap(),
    );
    let (pa, pb) = (steady(&mut a), steady(&mut b));
    assert_eq!(series_hash(&pa), series_hash(&pb));
    assert_eq!(pa, pb);
    // Another chain name or another weight is another series.
    let mut cfg = RiskConfig::default();
    cfg.weights.congestion = 0.9;
    let mut c = RiskIndex::new("c", cfg).unwrap();
    let pc = steady(&mut c);
    assert_eq!(pa[0].index, pc[0].index);
    assert_ne!(series_hash(&pa), series_hash(&pc));
}

#[test]
fn bad_configs_are_refused() {
    let mut cfg = RiskConfig::default();
    cfg.weights.liveness = -1.0;
    assert!(RiskIndex::new("c", cfg).is_err());
    let cfg = RiskConfig { baseline_blocks: 2, ..Default::default() };
    assert!(RiskIndex::new("c", cfg).is_err());
    let cfg = RiskConfig { short_window: 64, long_window: 32, ..Default::default() };
    assert!(RiskIndex::new("c", cfg).is_err());
}

#[test]
fn robust_statistics() {
    assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
    assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    assert_eq!(median_abs_dev(&[1.0, 1.0, 2.0, 2.0, 4.0, 6.0, 9.0], 2.0), 1.0);
    assert_eq!(rank(&[1.0, 2.0, 3.0, 4.0], 5.0), 1.0);
    assert_eq!(rank(&[1.0, 2.0, 3.0, 4.0], 0.0), 0.0);
    assert_eq!(rank(&[1.0, 2.0, 2.0, 4.0], 2.0), 0.5);
}

#[test]
fn a_threshold_fires_once_until_it_clears_and_a_revert_restores_its_state() {
    let cfg = RiskConfig {
        thresholds: vec![Threshold {
            on: "liveness".into(),
            above: 0.9,
            clear_below: Some(0.2),
            severity: Severity::High,
        }],
        ..Default::default()
    };
    let mut idx = RiskIndex::new("c", cfg).unwrap();
    let pts = steady(&mut idx);
    assert!(pts.iter().all(|p| p.crossed.is_empty()));
    let mut ts = pts.last().unwrap().timestamp.unwrap();
    let mut next = |n: u64, gap: u64, idx: &mut RiskIndex| {
        ts += gap;
        idx.commit(&seg(vec![block(n, 0, ts, 15_000_000, 10_000_000_000)]), &BTreeMap::new())
            .remove(0)
    };
    let a = next(300, 600, &mut idx);
    assert_eq!(a.crossed, vec![0], "fires on the stall");
    let b = next(301, 600, &mut idx);
    assert!(b.crossed.is_empty(), "still firing: no second finding");
    // Reverting 301 and scoring another long gap there gives the same answer (state undone).
    idx.revert(&seg(vec![block(301, 0, 0, 15_000_000, 10_000_000_000)])).unwrap();
    let c = next(301, 0, &mut idx);
    assert!(c.crossed.is_empty(), "firing state restored by the revert");
    let d = next(302, 13, &mut idx);
    assert!(d.crossed.is_empty() && d.component("liveness") == Some(0.0), "clears");
    let e = next(303, 600, &mut idx);
    assert_eq!(e.crossed, vec![0], "fires again after clearing");
    let bad = RiskConfig {
        thresholds: vec![Threshold {
            on: "nope".into(),
            above: 0.5,
            clear_below: None,
            severity: Severity::High,
        }],
        ..Default::default()
    };
    assert!(RiskIndex::new("c", bad).unwrap_err().to_string().contains("nope"));
}
