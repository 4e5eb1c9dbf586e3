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

/// A block built directly: `n` on fork `fork` at `ts`, with transactions to `to` and view-call
/// results `calls`.
fn raw(
    n: u64,
    fork: u8,
    ts: u64,
    to: &[palisade_primitives::Address],
    calls: Vec<palisade_primitives::ViewCallResult>,
) -> Arc<BlockData> {
    use palisade_primitives::{Header, Transaction};
    let h = |n: u64, f: u8| {
        let mut x = [0u8; 32];
        x[..8].copy_from_slice(&n.to_be_bytes());
        x[8] = f;
        B256::from(x)
    };
    Arc::new(BlockData {
        header: Header {
            number: n,
            hash: Some(h(n, fork)),
            parent_hash: Some(h(n.wrapping_sub(1), if n > 0 { fork } else { 0 })),
            timestamp: Some(ts),
            ..Default::default()
        },
        transactions: to
            .iter()
            .enumerate()
            .map(|(i, a)| Transaction { index: i as u64, to: Some(*a), ..Default::default() })
            .collect(),
        calls: (!calls.is_empty()).then_some(calls),
        ..Default::default()
    })
}

fn round(answer: u64, started: u64, updated: u64) -> palisade_primitives::Bytes {
    let mut out = Vec::new();
    for w in [7u64, answer, started, updated, 7] {
        out.extend_from_slice(&alloy_primitives::U256::from(w).to_be_bytes::<32>());
    }
    out.into()
}

fn call(
    to: palisade_primitives::Address,
    result: Option<palisade_primitives::Bytes>,
) -> palisade_primitives::ViewCallResult {
    palisade_primitives::ViewCallResult {
        to,
        data: palisade_primitives::Bytes::from_static(&[0xfe, 0xaf, 0x96, 0x8c]),
        result,
    }
}

#[test]
fn rollup_postings_follow_l2beats_z_score_and_revert_with_their_blocks() {
    let inbox = palisade_primitives::Address::repeat_byte(0x11);
    let cfg = RiskConfig {
        rollups: vec![RollupWatch {
            name: "op".into(),
            chain: "l1".into(),
            batch_inbox: Some(inbox),
            state_roots: None,
        }],
        ..Default::default()
    };
    let mut idx = RiskIndex::new("l1", cfg.clone()).unwrap();
    // Another chain's index does not read them.
    assert!(RiskIndex::new("l2", cfg).unwrap().rollups.is_empty());
    // Blocks every 12 s for two days; a batch every 50 blocks (600 s) with a 60 s jitter.
    let mut ts = 1_700_000_000u64;
    let mut last = Vec::new();
    for n in 0..14_400u64 {
        ts += 12;
        let posts = n % 50 == (n / 50) % 5;
        let to: &[palisade_primitives::Address] = if posts { &[inbox] } else { &[] };
        last = idx.commit(&seg(vec![raw(n, 0, ts, to, vec![])]), &BTreeMap::new());
    }
    let c =
        |p: &RiskPoint| p.components.iter().find(|c| c.name == "rollup_liveness").cloned().unwrap();
    let steady = c(&last[0]);
    assert!(steady.value < 0.05, "{steady:?}");
    let e = &steady.inputs["op:batches"];
    // The intervals are 600 s +- 12..48 s: mean 600 s (every posting counted, computed here).
    assert!((e["mean_secs"].as_f64().unwrap() - 600.0).abs() < 2.0, "{e}");
    assert_eq!(e["l2beat_anomaly"], json!(false));
    // Six hours with no batch: far past 15 standard deviations.
    let mut n = 14_400;
    for _ in 0..1800 {
        ts += 12;
        last = idx.commit(&seg(vec![raw(n, 0, ts, &[], vec![])]), &BTreeMap::new());
        n += 1;
    }
    let gap = c(&last[0]);
    assert_eq!(gap.value, 1.0, "{gap:?}");
    assert_eq!(gap.inputs["op:batches"]["l2beat_anomaly"], json!(true));
    // A batch at last: the block that carries it still shows the gap it closed; one more
    // block and it is over. Reverting that block brings the gap back.
    ts += 12;
    let p = idx.commit(&seg(vec![raw(n, 0, ts, &[inbox], vec![])]), &BTreeMap::new());
    assert_eq!(c(&p[0]).value, 1.0);
    let cp = idx.checkpoint();
    let after = idx.commit(&seg(vec![raw(n + 1, 0, ts + 12, &[], vec![])]), &BTreeMap::new());
    assert_eq!(c(&after[0]).value, 0.0, "{:?}", c(&after[0]));
    idx.revert(&seg(vec![raw(n + 1, 0, ts + 12, &[], vec![])])).unwrap();
    idx.revert(&seg(vec![raw(n, 0, ts, &[inbox], vec![])])).unwrap();
    let other = idx.commit(&seg(vec![raw(n, 1, ts, &[], vec![])]), &BTreeMap::new());
    assert_eq!(c(&other[0]).value, 1.0, "the reverted batch no longer counts");
    assert_ne!(idx.checkpoint(), cp);
}

#[test]
fn the_sequencer_uptime_feed_down_and_in_its_grace_period() {
    let feed = palisade_primitives::Address::repeat_byte(0x22);
    let cfg = RiskConfig {
        sequencer_feeds: vec![SequencerFeed {
            chain: "l2".into(),
            address: feed,
            grace_secs: 3600,
        }],
        ..Default::default()
    };
    let mut idx = RiskIndex::new("l2", cfg).unwrap();
    assert_eq!(idx.needs().calls.len(), 1, "the index asks for the feed's latestRoundData");
    let t0 = 1_700_000_000u64;
    let at = |idx: &mut RiskIndex, n: u64, ts: u64, r: Option<palisade_primitives::Bytes>| {
        let p = idx.commit(&seg(vec![raw(n, 0, ts, &[], vec![call(feed, r)])]), &BTreeMap::new());
        p[0].components.iter().find(|c| c.name == "rollup_liveness").cloned().unwrap()
    };
    // Up since a day: 0. Down: 1. Back up 10 minutes ago: within the hour's grace, 0.5. Back
    // up two hours ago: 0. A call that reverts: 1.
    assert_eq!(at(&mut idx, 0, t0, Some(round(0, t0 - 86_400, t0 - 60))).value, 0.0);
    let down = at(&mut idx, 1, t0 + 2, Some(round(1, t0 + 1, t0 + 1)));
    assert_eq!(down.value, 1.0);
    assert_eq!(down.inputs[&format!("sequencer:{feed:#x}")]["status"], json!("down"));
    let grace = at(&mut idx, 2, t0 + 601, Some(round(0, t0 + 1, t0 + 1)));
    assert_eq!(grace.value, 0.5);
    assert_eq!(grace.inputs[&format!("sequencer:{feed:#x}")]["in_grace"], json!(true));
    assert_eq!(at(&mut idx, 3, t0 + 7201, Some(round(0, t0 + 1, t0 + 1))).value, 0.0);
    assert_eq!(at(&mut idx, 4, t0 + 7202, None).value, 1.0);
}

#[test]
fn oracle_freshness_counts_past_the_heartbeat_and_deviation_from_a_reference() {
    let (a, r) = (
        palisade_primitives::Address::repeat_byte(0x33),
        palisade_primitives::Address::repeat_byte(0x44),
    );
    let cfg = RiskConfig {
        feeds: vec![FeedWatch {
            chain: None,
            address: a,
            label: Some("ETH/USD".into()),
            heartbeat_secs: 3600,
            grace_pct: 10.0,
            reference_feed: Some(r),
            max_deviation_pct: 3.0,
        }],
        ..Default::default()
    };
    let mut idx = RiskIndex::new("c", cfg).unwrap();
    assert_eq!(idx.needs().calls.len(), 2);
    let t0 = 1_700_000_000u64;
    let mut n = 0;
    let mut at = |ts: u64, upd: u64, price: u64, reference: u64| {
        let calls =
            vec![call(a, Some(round(price, upd, upd))), call(r, Some(round(reference, ts, ts)))];
        let p = idx.commit(&seg(vec![raw(n, 0, ts, &[], calls)]), &BTreeMap::new());
        n += 1;
        p[0].components.iter().find(|c| c.name == "oracle_freshness").cloned().unwrap()
    };
    assert_eq!(at(t0, t0 - 100, 2000, 2000).value, 0.0);
    // 3,960 s is the limit (3,600 + 10 %): at it 0, just past it 0.5, at twice it 1.
    assert_eq!(at(t0 + 3860, t0 - 100, 2000, 2000).value, 0.0);
    let s = at(t0 + 3861, t0 - 100, 2000, 2000);
    assert!((s.value - 0.5).abs() < 1e-3, "{s:?}");
    assert_eq!(s.inputs["past_heartbeat_share"], json!(1.0));
    assert_eq!(at(t0 + 7820, t0 - 100, 2000, 2000).value, 1.0);
    // Fresh but 4.5 % off its reference (3 % allowed): 0.5 + 0.5 x 1.5/3.
    let d = at(t0 + 8000, t0 + 7990, 2090, 2000);
    assert!((d.value - 0.75).abs() < 1e-6, "{d:?}");
    // A block without the feed's call has no oracle component.
    let p = idx.commit(&seg(vec![raw(n, 0, t0 + 8012, &[], vec![])]), &BTreeMap::new());
    assert_eq!(p[0].component("oracle_freshness"), None);
}

#[test]
fn two_replays_of_100000_looped_blocks_give_identical_hashes() {
    // 1,000 blocks with varied intervals, fullness and base fees, looped 100 times under new
    // numbers, with a reorg of depth 3 in every loop.
    let pattern: Vec<(u64, u64, u128)> = (0..1000u64)
        .map(|i| {
            let x = i.wrapping_mul(2_654_435_761) % 1000;
            (
                10 + x % 5 + if x == 7 { 120 } else { 0 },
                5_000_000 + x * 25_000,
                1_000_000_000 + (x as u128) * 7_000_000,
            )
        })
        .collect();
    let blocks: Vec<Arc<BlockData>> = {
        let mut ts = 1_700_000_000;
        (0..100_000u64)
            .map(|n| {
                let (dt, gas, fee) = pattern[(n % 1000) as usize];
                ts += dt;
                block(n, 0, ts, gas, fee)
            })
            .collect()
    };
    let run = || {
        let mut idx = RiskIndex::new("loop", RiskConfig::default()).unwrap();
        let mut pts: Vec<RiskPoint> = Vec::with_capacity(100_000);
        for chunk in blocks.chunks(50) {
            let s = seg(chunk.to_vec());
            let n = chunk[0].header.number;
            if n % 1000 == 500 {
                // A competing branch of three blocks replaced by the canonical ones.
                let ts = chunk[0].header.timestamp.unwrap();
                let side = seg((n..n + 3).map(|k| block(k, 1, ts + (k - n) * 12, 1, 1)).collect());
                idx.commit(&side, &BTreeMap::new());
                idx.revert(&side).unwrap();
            }
            pts.extend(idx.commit(&s, &BTreeMap::new()));
        }
        pts
    };
    let (a, b) = (run(), run());
    assert_eq!(a.len(), 100_000);
    assert_eq!(series_hash(&a), series_hash(&b));
    assert!(a.iter().zip(&b).all(|(x, y)| x.inputs_hash == y.inputs_hash));
    // The loops' reorgs count: the reorg component is above 0 after each.
    assert!(a[600].component("reorgs").unwrap() > 0.0);
}

#[test]
fn a_watched_mempool_adds_its_inclusion_delay_to_congestion() {
    let mut idx = RiskIndex::new("c", RiskConfig::default()).unwrap();
    let pts = steady(&mut idx);
    let ts = pts.last().unwrap().timestamp.unwrap() + 13;
    let seen = |ms| Observed {
        mempool: Some(MempoolSeen {
            pending: 900,
            inclusion_delay_ms: Some(ms),
            included_seen: 40,
        }),
        ..Default::default()
    };
    // Half-full blocks at a steady fee: congestion from the block alone is low; transactions
    // that waited one block (13 s) add nothing, five blocks (65 s) make it 1.
    let quiet = idx.commit(
        &seg(vec![block(300, 0, ts, 15_000_000, 10_000_000_000)]),
        &BTreeMap::from([(300, seen(13_000))]),
    );
    let c = quiet[0].components.iter().find(|c| c.name == "congestion").unwrap();
    assert!(c.value < 0.35, "{c:?}");
    assert_eq!(c.inputs["mempool_pending"], json!(900));
    assert_eq!(c.inputs["inclusion_delay_blocks"], json!(1.0));
    let busy = idx.commit(
        &seg(vec![block(301, 0, ts + 13, 15_000_000, 10_000_000_000)]),
        &BTreeMap::from([(301, seen(65_000))]),
    );
    assert_eq!(busy[0].component("congestion"), Some(1.0), "{:?}", busy[0]);
}
