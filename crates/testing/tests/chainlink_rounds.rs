//! The `oracle` detector on real Chainlink rounds (testdata/chainlink, from getRoundData on
//! mainnet): ETH/USD (1 h heartbeat), stETH/ETH (24 h) and ETH/BTC. Each feed is replayed as
//! the blocks a monitor would see: one at each round's `updatedAt`, and one a second before the
//! next round (the oldest the round ever gets). Expected counts are computed here from the CSV,
//! independently of the detector.

use palisade_detect::{Detector, DetectorConfig};
use palisade_primitives::{
    Address, BlockData, Bytes, ChainSegment, Findings, Header, ViewCallResult, U256,
};
use palisade_testing::fixtures;
use std::sync::Arc;

/// A round: (round id, answer, startedAt, updatedAt, answeredInRound).
type Round = (U256, U256, U256, u64, U256);

fn rounds(file: &str) -> (Vec<Round>, Vec<Round>) {
    let text = fixtures::text(&format!("chainlink/{file}.csv.zst"));
    let mut real = Vec::new();
    let mut empty = Vec::new();
    for line in text.lines().skip(1) {
        let c: Vec<&str> = line.split(',').collect();
        let n = |i: usize| U256::from_str_radix(c[i], 10).unwrap();
        let r = (n(1), n(2), n(3), c[4].parse::<u64>().unwrap(), n(5));
        if r.3 == 0 {
            empty.push(r);
        } else {
            real.push(r);
        }
    }
    real.sort_by_key(|r| r.0);
    (real, empty)
}

fn encode(r: &Round) -> Bytes {
    let mut out = Vec::with_capacity(160);
    for w in [r.0, r.1, r.2, U256::from(r.3), r.4] {
        out.extend_from_slice(&w.to_be_bytes::<32>());
    }
    out.into()
}

/// Blocks at each round's update and just before the next; `extra` rounds are served in blocks
/// after the last one.
fn blocks(feed: Address, rs: &[Round], extra: &[Round]) -> Vec<Arc<BlockData>> {
    let mut seen: Vec<(u64, &Round)> = Vec::new();
    for (i, r) in rs.iter().enumerate() {
        seen.push((r.3, r));
        if let Some(next) = rs.get(i + 1) {
            if next.3 > r.3 + 1 {
                seen.push((next.3 - 1, r));
            }
        }
    }
    let last = rs.last().map(|r| r.3).unwrap_or(0);
    for (i, r) in extra.iter().enumerate() {
        seen.push((last + 1 + i as u64, r));
    }
    let mut out = Vec::with_capacity(seen.len());
    for (i, (ts, r)) in seen.into_iter().enumerate() {
        let number = 1_000 + i as u64;
        out.push(Arc::new(BlockData {
            header: Header {
                number,
                hash: Some(fixtures::fake_hash(7, number)),
                parent_hash: Some(fixtures::fake_hash(7, number - 1)),
                timestamp: Some(ts),
                ..Default::default()
            },
            calls: Some(vec![ViewCallResult {
                to: feed,
                data: Bytes::from_static(&[0xfe, 0xaf, 0x96, 0x8c]),
                result: Some(encode(r)),
            }]),
            ..Default::default()
        }));
    }
    out
}

fn run(feed: Address, extra_cfg: &str, bs: Vec<Arc<BlockData>>) -> Vec<(u64, String)> {
    let src =
        format!("type = 'oracle'\nname = 'o'\nfeeds = [{{ address = '{feed:#x}', {extra_cfg} }}]");
    let cfg: DetectorConfig = toml::from_str(&src).unwrap();
    let mut d: Box<dyn Detector> = cfg.build("mainnet", None, &Default::default()).unwrap();
    let mut out = Findings::new();
    // In chunks, as a live run would see them.
    for chunk in bs.chunks(64) {
        d.commit(&ChainSegment::new(chunk.to_vec()).unwrap(), &mut out).unwrap();
    }
    out.emitted()
        .iter()
        .map(|f| (f.anchor.number, f.evidence["check"].as_str().unwrap_or("").to_string()))
        .collect()
}

const ETH_USD: &str = "0x5f4eC3Df9cbd43714FE2740f5E3616155c5b8419";
const STETH_ETH: &str = "0x86392dC19c0b719886221c78AB11eb8Cf5c52812";
const ETH_BTC: &str = "0xAc559F25B1619171CbC396a50854A3240b6A4e99";

fn addr(s: &str) -> Address {
    s.parse().unwrap()
}

#[test]
fn the_real_histories_raise_nothing_with_each_feeds_own_heartbeat() {
    for (feed, hb, n) in [(ETH_USD, 3600, 11_106), (STETH_ETH, 86_400, 745), (ETH_BTC, 3600, 813)] {
        let (real, _) = rounds(feed);
        assert_eq!(real.len(), n, "{feed}");
        let got =
            run(addr(feed), &format!("heartbeat_secs = {hb}"), blocks(addr(feed), &real, &[]));
        assert!(got.is_empty(), "{feed}: {got:?}");
    }
}

#[test]
fn the_all_zero_round_is_a_critical_nonexistent_round() {
    let (real, empty) = rounds(ETH_USD);
    // The CSV's last row: round 110680464442257309696 with answer, startedAt and updatedAt zero
    // (what getRoundData returns for a round the aggregator never had).
    assert_eq!(empty.len(), 1);
    assert!(empty[0].1.is_zero() && empty[0].2.is_zero() && empty[0].3 == 0);
    let bs = blocks(addr(ETH_USD), &real, &empty);
    let last = bs.last().unwrap().header.number;
    let got = run(addr(ETH_USD), "heartbeat_secs = 3600", bs);
    assert_eq!(got, vec![(last, "nonexistent_round".to_string())]);
}

#[test]
fn a_missed_heartbeat_is_stale_once_and_a_wrong_heartbeat_shows_every_long_gap() {
    let (mut real, _) = rounds(ETH_USD);
    // Drop one round: the one before it now lives about two hours.
    let gone = real.remove(5_000);
    let prev = real[4_999];
    let got = run(addr(ETH_USD), "heartbeat_secs = 3600", blocks(addr(ETH_USD), &real, &[]));
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].1, "stale");
    assert!(real[5_000].3 - prev.3 > 3960 && gone.3 > prev.3);

    // stETH/ETH judged against a 1 h heartbeat: every gap above 3,960 s is one stale round.
    let (real, _) = rounds(STETH_ETH);
    let long = real.windows(2).filter(|w| w[1].3 - w[0].3 - 1 > 3960).count();
    assert!(long > 600, "{long}");
    let got = run(addr(STETH_ETH), "heartbeat_secs = 3600", blocks(addr(STETH_ETH), &real, &[]));
    assert_eq!(got.iter().filter(|(_, c)| c == "stale").count(), long);
}

#[test]
fn jumps_above_a_threshold_are_the_moves_the_csv_shows() {
    let (real, _) = rounds(ETH_USD);
    let moves: Vec<f64> = real
        .windows(2)
        .map(|w| (f64::from(w[1].1) / f64::from(w[0].1) - 1.0).abs() * 100.0)
        .collect();
    let max = moves.iter().copied().fold(0.0, f64::max);
    // The calibration the defaults rest on: the largest move between two ETH/USD rounds.
    assert!((3.28..3.29).contains(&max), "{max}");
    let over = moves.iter().filter(|m| **m > 1.5).count();
    assert!(over > 0);
    let got = run(
        addr(ETH_USD),
        "heartbeat_secs = 3600, max_jump_pct = 1.5",
        blocks(addr(ETH_USD), &real, &[]),
    );
    assert_eq!(got.iter().filter(|(_, c)| c == "jump").count(), over);
    assert_eq!(got.len(), over);
}

#[test]
fn a_carried_over_round_and_a_negative_answer_are_reported_once_each() {
    let (real, _) = rounds(ETH_USD);
    let last = *real.last().unwrap();
    let one = U256::from(1);
    // The next round carries the previous answer (answeredInRound < roundId), then one answers
    // -1 (two's complement), each a second later.
    let carried = (last.0 + one, last.1, U256::from(last.3 + 1), last.3 + 1, last.0);
    let negative =
        (last.0 + one + one, U256::MAX, U256::from(last.3 + 2), last.3 + 2, last.0 + one + one);
    let tail = &real[real.len() - 50..];
    let bs = blocks(addr(ETH_USD), tail, &[carried, carried, negative]);
    let got = run(addr(ETH_USD), "heartbeat_secs = 3600", bs);
    let checks: Vec<&str> = got.iter().map(|(_, c)| c.as_str()).collect();
    assert_eq!(checks, vec!["answered_in_round", "non_positive_answer"]);
}

/// The settlement-risk index's oracle freshness over the same blocks, with its feeds taken
/// from the detector's config: the blocks where it is above 0, grouped into runs.
fn freshness_runs(src: &str, bs: &[Arc<BlockData>]) -> (Vec<u64>, usize) {
    let cfg: DetectorConfig = toml::from_str(src).unwrap();
    let mut risk = palisade_risk::RiskConfig::default();
    risk.adopt_oracle_feeds(&[cfg]);
    let mut idx = palisade_risk::RiskIndex::new("mainnet", risk).unwrap();
    let mut starts = Vec::new();
    let mut stale_blocks = 0;
    let mut was = false;
    for chunk in bs.chunks(64) {
        let seg = ChainSegment::new(chunk.to_vec()).unwrap();
        for p in idx.commit(&seg, &Default::default()) {
            let now =
                p.component("oracle_freshness").expect("the feed is read at every block") > 0.0;
            if now && !was {
                starts.push(p.block.number);
            }
            stale_blocks += usize::from(now);
            was = now;
        }
    }
    (starts, stale_blocks)
}

#[test]
fn the_risk_indexs_oracle_freshness_agrees_with_the_detectors_heartbeat_misses() {
    // ETH/USD with one round removed (one miss), stETH/ETH judged against its own 24 h (no
    // miss) and against 1 h (hundreds): each stale episode the detector reports starts a run
    // of blocks where the index's oracle freshness is above 0, at the same block, and the
    // index is 0 everywhere else.
    let (mut eth, _) = rounds(ETH_USD);
    eth.remove(5_000);
    let (steth, _) = rounds(STETH_ETH);
    for (feed, hb, rs) in
        [(ETH_USD, 3600, &eth), (STETH_ETH, 86_400, &steth), (STETH_ETH, 3600, &steth)]
    {
        let bs = blocks(addr(feed), rs, &[]);
        let extra = format!("heartbeat_secs = {hb}");
        let stale: Vec<u64> = run(addr(feed), &extra, bs.clone())
            .into_iter()
            .filter(|(_, c)| c == "stale")
            .map(|(n, _)| n)
            .collect();
        let src =
            format!("type = 'oracle'\nname = 'o'\nfeeds = [{{ address = '{feed}', {extra} }}]");
        assert_eq!(stale.is_empty(), hb == 86_400, "{feed} at {hb} s: {}", stale.len());
        let (starts, n) = freshness_runs(&src, &bs);
        assert_eq!(starts, stale, "{feed} at {hb} s");
        // In these blocks a stale round is seen once, just before the next round: a run is
        // one block long.
        assert_eq!(n, stale.len(), "{feed} at {hb} s");
    }
}
