//! The settlement-risk index in the runtime: each chain's engine scores its blocks
//! (`palisade-risk`); here the points become store rows and gauges, the runtime's own
//! observations (its sources' standing) become a component, and a stall between blocks gets a
//! provisional point.

use crate::metrics::Metrics;
use crate::status::ChainStatus;
use palisade_risk::{Observed, RiskPoint};
use palisade_store::RiskRow;
use serde_json::json;
use std::collections::BTreeMap;

/// A point as a store row.
pub(crate) fn row(p: &RiskPoint) -> RiskRow {
    RiskRow {
        block: p.block,
        timestamp: p.timestamp,
        index_e6: (p.index * 1e6).round() as i64,
        inputs_hash: format!("{:#x}", p.inputs_hash),
        body: serde_json::to_string(p).unwrap_or_default(),
        stored_ms: 0,
    }
}

/// Sets the chain's risk gauges to `p`.
pub(crate) fn gauge(m: &Metrics, p: &RiskPoint) {
    m.risk_index.with_label_values(&[&p.chain]).set(p.index);
    for c in &p.components {
        m.risk_component.with_label_values(&[&p.chain, &c.name]).set(c.value);
    }
}

/// What the runtime observed of a chain for the index: its mempool watch's view, and the
/// source-integrity component from its endpoints: the quorum's margin, endpoints
/// quarantined, on probation or unreachable. Absent while every endpoint counts (so a healthy
/// live run scores exactly as a replay of its blocks, which cannot see the sources), and before
/// the chain reported its endpoints.
pub(crate) fn observed(st: &ChainStatus) -> Observed {
    // The mempool watch's newest view (its inclusion delay is of the last tip it processed).
    let mut o = Observed {
        mempool: st.mempool.as_ref().map(|m| palisade_risk::MempoolSeen {
            pending: m.pending,
            inclusion_delay_ms: m.inclusion_delay_ms,
            included_seen: m.included_seen,
        }),
        ..Default::default()
    };
    if st.endpoints.is_empty() {
        return o;
    }
    let n = st.endpoints.len() as f64;
    let count = |s: &str| st.endpoints.iter().filter(|e| e.state == s).count();
    let (quarantined, probation, unreachable) =
        (count("quarantined"), count("probation"), count("unreachable"));
    let strikes: u32 = st.endpoints.iter().map(|e| e.strikes).sum();
    let margin = st.quorum.counting as i64 - st.quorum.required as i64;
    // Quorum lost is the worst; otherwise the share of endpoints that do not count, a
    // quarantine (a node that lied) weighing double.
    let v = if !st.quorum.met {
        1.0
    } else {
        ((2.0 * quarantined as f64 + probation as f64 + unreachable as f64) / (2.0 * n)).min(0.9)
    };
    if v <= 0.0 {
        return o;
    }
    let inputs = BTreeMap::from([
        ("endpoints".to_string(), json!(st.endpoints.len())),
        ("quorum_required".to_string(), json!(st.quorum.required)),
        ("quorum_counting".to_string(), json!(st.quorum.counting)),
        ("quorum_margin".to_string(), json!(margin)),
        ("quarantined".to_string(), json!(quarantined)),
        ("probation".to_string(), json!(probation)),
        ("unreachable".to_string(), json!(unreachable)),
        ("strikes".to_string(), json!(strikes)),
    ]);
    o.components.insert("source_integrity".into(), (v, inputs));
    o
}
