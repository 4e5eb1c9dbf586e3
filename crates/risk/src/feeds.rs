//! The components read from contracts: `oracle_freshness` (price feeds' `latestRoundData()` at
//! the block) and `rollup_liveness` (an L2's sequencer uptime feed, read on the L2, and a
//! rollup's batch and state-root postings, seen on its L1).
//!
//! - `oracle_freshness`: each watched feed read at the block scores 0 while its round is
//!   younger than its heartbeat plus grace (the `oracle` detector's staleness rule, so the two
//!   agree), 0.5 just past it and 1 at twice it; a feed with a reference feed scores its
//!   deviation the same way against `max_deviation_pct`. The component is the mean over the
//!   feeds read at the block, with the share past their heartbeat as an input.
//! - `rollup_liveness`: the sequencer uptime feed (Chainlink's L2 feeds: answer 1 = down, 0 =
//!   up, `startedAt` = when it changed) scores 1 while down and 0.5 within the grace period
//!   after it came back (consumers commonly refuse prices then); postings score L2BEAT's rule:
//!   the time since the last posting as a z-score against the mean and standard deviation of
//!   the posting intervals of the last 30 days (0 below 3, 1 at 15, where L2BEAT calls it an
//!   anomaly). The larger part is the component.

use crate::{clamp01, r6, Component};
use palisade_detect::detectors::oracle::{Round, LATEST_ROUND_DATA};
use palisade_primitives::{Address, BlockData, U256};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{BTreeMap, VecDeque};

/// A price feed whose freshness counts (`[[risk.feeds]]`; the feeds of the chain's `oracle`
/// detectors are added to them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedWatch {
    /// The chain it is on (default: every chain).
    #[serde(default)]
    pub chain: Option<String>,
    /// The feed (a Chainlink aggregator proxy or anything with `latestRoundData()`).
    pub address: Address,
    /// A name for it in the inputs (default: the address).
    #[serde(default)]
    pub label: Option<String>,
    /// Its heartbeat in seconds.
    pub heartbeat_secs: u64,
    /// Grace over the heartbeat, in percent (default 10, as the `oracle` detector's).
    #[serde(default = "ten")]
    pub grace_pct: f64,
    /// Another feed of the same price to measure its deviation against.
    #[serde(default)]
    pub reference_feed: Option<Address>,
    /// Deviation from the reference at which it counts, in percent (default 3).
    #[serde(default = "three")]
    pub max_deviation_pct: f64,
}

fn ten() -> f64 {
    10.0
}

fn three() -> f64 {
    3.0
}

fn hour() -> u64 {
    3600
}

/// An L2 sequencer uptime feed (`[[risk.sequencer_feeds]]`), read on the L2 chain it serves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SequencerFeed {
    /// The L2 chain (as named in `[[chains]]`).
    pub chain: String,
    /// The feed.
    pub address: Address,
    /// The grace period after the sequencer comes back (default 3600 s).
    #[serde(default = "hour")]
    pub grace_secs: u64,
}

/// A rollup whose postings on its L1 count (`[[risk.rollups]]`): a posting is a successful
/// transaction to one of its addresses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RollupWatch {
    /// The rollup's name (in the inputs).
    pub name: String,
    /// The L1 chain its postings land on.
    pub chain: String,
    /// Where its batches go (an inbox address or the sequencer inbox contract).
    #[serde(default)]
    pub batch_inbox: Option<Address>,
    /// Where its state roots go (an output oracle or dispute game factory).
    #[serde(default)]
    pub state_roots: Option<Address>,
}

/// Seconds in L2BEAT's rolling window.
const WINDOW_SECS: u64 = 30 * 86_400;
/// Postings kept per stream (the window's, bounded).
const MAX_POSTINGS: usize = 65_536;
/// Intervals a baseline needs.
const MIN_INTERVALS: usize = 8;

/// A feed's round at the block, if the block carries the call.
fn round_at(b: &BlockData, feed: Address) -> Option<Option<Round>> {
    let calls = b.calls.as_ref()?;
    let c = calls.iter().find(|c| c.to == feed && c.data.as_ref() == LATEST_ROUND_DATA)?;
    Some(c.result.as_ref().and_then(|r| Round::decode(r)))
}

fn past(x: f64, limit: f64) -> f64 {
    if x <= limit {
        0.0
    } else {
        clamp01(0.5 + 0.5 * (x - limit) / limit)
    }
}

/// `oracle_freshness` of `b` over `feeds`; absent when none is read at the block.
pub(crate) fn oracle_freshness(
    b: &BlockData,
    feeds: &[FeedWatch],
    weight: f64,
) -> Option<Component> {
    let now = b.header.timestamp?;
    let mut scores = Vec::new();
    let mut stale = Vec::new();
    let mut deviating = Vec::new();
    let mut worst_age = 0u64;
    for f in feeds {
        let Some(r) = round_at(b, f.address) else { continue };
        let label = f.label.clone().unwrap_or_else(|| format!("{:#x}", f.address));
        // A call that reverted or a round that does not decode: no price to settle with.
        let Some(r) = r.filter(|r| !r.updated_at.is_zero()) else {
            stale.push(json!({"feed": label, "round": Value::Null}));
            scores.push(1.0);
            continue;
        };
        let updated = u64::try_from(r.updated_at).unwrap_or(u64::MAX);
        let age = now.saturating_sub(updated);
        worst_age = worst_age.max(age);
        let limit = f.heartbeat_secs as f64 * (1.0 + f.grace_pct / 100.0);
        let s = past(age as f64, limit);
        if s > 0.0 {
            stale.push(json!({"feed": label, "age_secs": age, "heartbeat_secs": f.heartbeat_secs}));
        }
        let mut d = 0.0;
        if let (Some(rf), Some(a)) = (f.reference_feed, r.positive()) {
            if let Some(Some(rr)) = round_at(b, rf) {
                if let Some(x) = rr.positive() {
                    let dev = (a / x - 1.0).abs() * 100.0;
                    d = past(dev, f.max_deviation_pct);
                    if d > 0.0 {
                        deviating.push(json!({"feed": label, "deviation_pct": r6(dev)}));
                    }
                }
            }
        }
        scores.push(s.max(d));
    }
    if scores.is_empty() {
        return None;
    }
    let n = scores.len();
    let inputs = BTreeMap::from([
        ("feeds_read".to_string(), json!(n)),
        ("past_heartbeat".to_string(), json!(stale.len())),
        ("past_heartbeat_share".to_string(), json!(r6(stale.len() as f64 / n as f64))),
        ("oldest_round_age_secs".to_string(), json!(worst_age)),
        ("stale".to_string(), Value::Array(stale)),
        ("deviating".to_string(), Value::Array(deviating)),
    ]);
    Some(Component {
        name: "oracle_freshness".into(),
        value: r6(clamp01(scores.iter().sum::<f64>() / n as f64)),
        weight,
        inputs,
    })
}

/// Postings of each rollup stream ("name:batches", "name:state_roots"): (block, timestamp).
pub(crate) type Postings = BTreeMap<String, VecDeque<(u64, u64)>>;

/// Records the postings `b` carries for `rollups`.
pub(crate) fn record_postings(b: &BlockData, rollups: &[RollupWatch], into: &mut Postings) {
    let (Some(ts), number) = (b.header.timestamp, b.header.number) else { return };
    let ok = |i: usize| {
        b.receipts.as_ref().and_then(|r| r.get(i)).and_then(|r| r.status).unwrap_or(true)
    };
    for r in rollups {
        for (kind, to) in [("batches", r.batch_inbox), ("state_roots", r.state_roots)] {
            let Some(to) = to else { continue };
            let posted = b.transactions.iter().enumerate().any(|(i, t)| t.to == Some(to) && ok(i));
            let q = into.entry(format!("{}:{kind}", r.name)).or_default();
            if posted {
                q.push_back((number, ts));
            }
            // Keep a day beyond the window (a reorg does not go back a day) and a bound.
            while q.front().is_some_and(|p| p.1 + WINDOW_SECS + 86_400 < ts)
                || q.len() > MAX_POSTINGS
            {
                q.pop_front();
            }
        }
    }
}

/// Undoes [`record_postings`] for block `number` and above.
pub(crate) fn revert_postings(number: u64, from: &mut Postings) {
    for q in from.values_mut() {
        while q.back().is_some_and(|p| p.0 >= number) {
            q.pop_back();
        }
    }
}

/// The z-score part of `rollup_liveness` at a block at `now` (postings up to and including the
/// block recorded); the sequencer part from the block's calls. Absent when neither applies.
pub(crate) fn rollup_liveness(
    b: &BlockData,
    rollups: &[RollupWatch],
    postings: &Postings,
    sequencers: &[SequencerFeed],
    weight: f64,
) -> Option<Component> {
    let now = b.header.timestamp?;
    let mut inputs = BTreeMap::new();
    let mut value: Option<f64> = None;
    for r in rollups {
        for kind in ["batches", "state_roots"] {
            let key = format!("{}:{kind}", r.name);
            let Some(q) = postings.get(&key) else { continue };
            let times: Vec<u64> =
                q.iter().map(|p| p.1).filter(|t| t + WINDOW_SECS >= now).collect();
            let Some(&last) = times.last() else { continue };
            let intervals: Vec<f64> = times.windows(2).map(|w| (w[1] - w[0]) as f64).collect();
            // The interval in progress: since the posting before this block's own.
            let since = if q.back().is_some_and(|p| p.0 == b.header.number) {
                times.len().checked_sub(2).map_or(0, |i| now - times[i])
            } else {
                now.saturating_sub(last)
            };
            let mut e = json!({"secs_since_last": since, "intervals_30d": intervals.len()});
            if intervals.len() >= MIN_INTERVALS {
                let n = intervals.len() as f64;
                let mean = intervals.iter().sum::<f64>() / n;
                let var = intervals.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
                let sd = var.sqrt().max(1.0);
                let z = (since as f64 - mean) / sd;
                e["mean_secs"] = json!(r6(mean));
                e["stddev_secs"] = json!(r6(sd));
                e["z"] = json!(r6(z));
                e["l2beat_anomaly"] = json!(z >= 15.0);
                let v = clamp01((z - 3.0) / 12.0);
                value = Some(value.unwrap_or(0.0).max(v));
            } else {
                value = Some(value.unwrap_or(0.0));
            }
            inputs.insert(key, e);
        }
    }
    for s in sequencers {
        let Some(r) = round_at(b, s.address) else { continue };
        let key = format!("sequencer:{:#x}", s.address);
        let Some(r) = r else {
            inputs.insert(key, json!({"status": "unreadable"}));
            value = Some(1.0);
            continue;
        };
        let down = r.answer != U256::ZERO;
        let started = u64::try_from(r.started_at).unwrap_or(0);
        let since = now.saturating_sub(started);
        let v = if down {
            1.0
        } else if since < s.grace_secs {
            0.5
        } else {
            0.0
        };
        inputs.insert(
            key,
            json!({"status": if down { "down" } else { "up" }, "since_secs": since, "grace_secs": s.grace_secs, "in_grace": !down && since < s.grace_secs}),
        );
        value = Some(value.unwrap_or(0.0).max(v));
    }
    value.map(|v| Component {
        name: "rollup_liveness".into(),
        value: r6(clamp01(v)),
        weight,
        inputs,
    })
}
