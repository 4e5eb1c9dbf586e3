//! Prometheus metrics: `palisade_<area>_<name>_<unit>[_total]`, bounded labels (chain names and
//! detector ids come from the config).

use prometheus::{GaugeVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry};

/// All metrics of one process.
#[derive(Debug, Clone)]
pub struct Metrics {
    /// The registry `/metrics` renders.
    pub registry: Registry,
    /// Blocks committed, per chain.
    pub blocks: IntCounterVec,
    /// Blocks reverted, per chain.
    pub reverted: IntCounterVec,
    /// Reorgs, per chain.
    pub reorgs: IntCounterVec,
    /// Findings, per chain and detector.
    pub findings: IntCounterVec,
    /// Processed tip, per chain.
    pub tip: IntGaugeVec,
    /// Newest head seen from the node, per chain.
    pub head: IntGaugeVec,
    /// Head minus processed tip, per chain.
    pub lag: IntGaugeVec,
    /// Source errors, per chain.
    pub source_errors: IntCounterVec,
    /// Sink delivery failures.
    pub sink_failures: IntCounter,
    /// Notifications delivered.
    pub delivered: IntCounter,
    /// Undelivered outbox rows.
    pub outbox_depth: IntGauge,
    /// Seconds since each chain's last committed block.
    pub last_block_age: IntGaugeVec,
    /// 1 when a quorum of endpoints counts, per chain.
    pub quorum_met: IntGaugeVec,
    /// Endpoints that count (active and reachable), per chain.
    pub endpoints_counting: IntGaugeVec,
    /// 1 for each endpoint's current state (active, quarantined, probation, unreachable).
    pub endpoint_state: IntGaugeVec,
    /// Blocks an endpoint's head is behind the quorum head.
    pub endpoint_lag: IntGaugeVec,
    /// Mean request latency of an endpoint, in seconds.
    pub endpoint_latency: GaugeVec,
    /// Endpoints benched, per chain, endpoint and fault.
    pub endpoint_faults: IntCounterVec,
    /// Failed verification checks, per chain and check.
    pub verify_failures: IntCounterVec,
    /// Pending transactions seen (new to the pool), per chain.
    pub pending_seen: IntCounterVec,
    /// Pending transactions simulated, per chain and result (`ok`, `reverted`, `error`).
    pub pending_simulated: IntCounterVec,
    /// Seconds from a pending transaction's arrival to its verdict (detectors done, findings
    /// stored), per chain.
    pub pending_verdict_seconds: prometheus::HistogramVec,
    /// From hearing of a block to its alerts stored, per chain.
    pub block_to_alert_seconds: prometheus::HistogramVec,
    /// Responses, per responder and outcome.
    pub responses: IntCounterVec,
    /// The settlement-risk index of each chain's newest block (0 to 100).
    pub risk_index: GaugeVec,
    /// Each component of the settlement-risk index (0 to 1), per chain.
    pub risk_component: GaugeVec,
}

/// A float gauge vector, registered.
fn fgv(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> GaugeVec {
    let g = GaugeVec::new(Opts::new(name, help), labels)
        .unwrap_or_else(|e| panic!("metric {name}: {e}"));
    registry.register(Box::new(g.clone())).unwrap_or_else(|e| panic!("metric {name}: {e}"));
    g
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Creates every series of `chain` at zero (and its detectors' finding counters), so that
    /// dashboards and alert rules see them from the start rather than only after the first
    /// event.
    pub fn init_chain(&self, chain: &str, detectors: &[String]) {
        for c in [&self.blocks, &self.reverted, &self.reorgs, &self.source_errors] {
            c.with_label_values(&[chain]);
        }
        for g in [
            &self.tip,
            &self.head,
            &self.lag,
            &self.quorum_met,
            &self.endpoints_counting,
            &self.last_block_age,
        ] {
            g.with_label_values(&[chain]);
        }
        for d in detectors {
            self.findings.with_label_values(&[chain, d]);
        }
        self.block_to_alert_seconds.with_label_values(&[chain]);
        self.risk_index.with_label_values(&[chain]);
        for c in ["liveness", "reorgs", "congestion", "source_integrity"] {
            self.risk_component.with_label_values(&[chain, c]);
        }
    }

    /// Brings a counter up to a total counted elsewhere (totals only grow).
    pub fn catch_up_counter(c: &IntCounter, total: u64) {
        let now = c.get();
        if total > now {
            c.inc_by(total - now);
        }
    }

    /// Registers every metric.
    pub fn new() -> Self {
        let registry = Registry::new();
        // The process's CPU, memory, open files and start time (process_*; Linux).
        #[cfg(target_os = "linux")]
        if let Err(e) =
            registry.register(Box::new(prometheus::process_collector::ProcessCollector::for_self()))
        {
            tracing::warn!(target: "palisade::node", error = %e, "Process metrics unavailable.");
        }
        let cv = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels)
                .unwrap_or_else(|e| panic!("metric {name}: {e}"));
            registry.register(Box::new(c.clone())).unwrap_or_else(|e| panic!("metric {name}: {e}"));
            c
        };
        let gl = |name: &str, help: &str, labels: &[&str]| {
            let g = IntGaugeVec::new(Opts::new(name, help), labels)
                .unwrap_or_else(|e| panic!("metric {name}: {e}"));
            registry.register(Box::new(g.clone())).unwrap_or_else(|e| panic!("metric {name}: {e}"));
            g
        };
        let gv = |name: &str, help: &str| {
            let g = IntGaugeVec::new(Opts::new(name, help), &["chain"])
                .unwrap_or_else(|e| panic!("metric {name}: {e}"));
            registry.register(Box::new(g.clone())).unwrap_or_else(|e| panic!("metric {name}: {e}"));
            g
        };
        let c = |name: &str, help: &str| {
            let c = IntCounter::new(name, help).unwrap_or_else(|e| panic!("metric {name}: {e}"));
            registry.register(Box::new(c.clone())).unwrap_or_else(|e| panic!("metric {name}: {e}"));
            c
        };
        let g = |name: &str, help: &str| {
            let g = IntGauge::new(name, help).unwrap_or_else(|e| panic!("metric {name}: {e}"));
            registry.register(Box::new(g.clone())).unwrap_or_else(|e| panic!("metric {name}: {e}"));
            g
        };
        Self {
            blocks: cv(
                "palisade_chain_blocks_processed_total",
                "Blocks committed to detectors.",
                &["chain"],
            ),
            reverted: cv(
                "palisade_chain_blocks_reverted_total",
                "Blocks reverted by reorgs.",
                &["chain"],
            ),
            reorgs: cv("palisade_chain_reorgs_total", "Reorgs seen.", &["chain"]),
            findings: cv(
                "palisade_detect_findings_total",
                "Findings emitted.",
                &["chain", "detector"],
            ),
            source_errors: cv(
                "palisade_source_errors_total",
                "Errors fetching from endpoints.",
                &["chain"],
            ),
            tip: gv("palisade_chain_tip_number", "Newest block processed."),
            head: gv("palisade_chain_head_number", "Newest head announced by the node."),
            lag: gv("palisade_chain_head_lag_blocks", "Announced head minus processed tip."),
            sink_failures: c("palisade_alert_sink_failures_total", "Failed delivery attempts."),
            delivered: c("palisade_alert_delivered_total", "Notifications delivered."),
            last_block_age: gv(
                "palisade_chain_last_block_age_seconds",
                "Seconds since the chain's last block was committed.",
            ),
            outbox_depth: g("palisade_alert_outbox_depth", "Notifications waiting in the outbox."),
            quorum_met: gl(
                "palisade_source_quorum_met",
                "1 when a quorum of endpoints counts.",
                &["chain"],
            ),
            endpoints_counting: gl(
                "palisade_source_endpoints_counting",
                "Endpoints that count (active and reachable).",
                &["chain"],
            ),
            endpoint_state: gl(
                "palisade_source_endpoint_state",
                "1 for the endpoint's current state.",
                &["chain", "endpoint", "url", "state"],
            ),
            endpoint_lag: gl(
                "palisade_source_endpoint_head_lag_blocks",
                "Blocks the endpoint's head is behind the quorum head.",
                &["chain", "endpoint"],
            ),
            endpoint_latency: {
                let g = GaugeVec::new(
                    Opts::new(
                        "palisade_source_endpoint_latency_seconds",
                        "Mean request latency of the endpoint.",
                    ),
                    &["chain", "endpoint"],
                )
                .unwrap_or_else(|e| panic!("metric latency: {e}"));
                registry
                    .register(Box::new(g.clone()))
                    .unwrap_or_else(|e| panic!("metric latency: {e}"));
                g
            },
            endpoint_faults: cv(
                "palisade_source_endpoint_faults_total",
                "Endpoints benched, by fault.",
                &["chain", "endpoint", "fault"],
            ),
            verify_failures: cv(
                "palisade_verify_failures_total",
                "Failed verification checks.",
                &["chain", "check"],
            ),
            pending_seen: cv(
                "palisade_mempool_pending_seen_total",
                "Pending transactions new to the pool.",
                &["chain"],
            ),
            pending_simulated: cv(
                "palisade_mempool_simulated_total",
                "Pending transactions simulated, by result.",
                &["chain", "result"],
            ),
            pending_verdict_seconds: {
                let h = prometheus::HistogramVec::new(
                    prometheus::HistogramOpts::new(
                        "palisade_mempool_verdict_seconds",
                        "From a pending transaction's arrival to its verdict.",
                    )
                    .buckets(vec![
                        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                    ]),
                    &["chain"],
                )
                .unwrap_or_else(|e| panic!("metric verdict: {e}"));
                registry
                    .register(Box::new(h.clone()))
                    .unwrap_or_else(|e| panic!("metric verdict: {e}"));
                h
            },
            block_to_alert_seconds: {
                let h = prometheus::HistogramVec::new(
                    prometheus::HistogramOpts::new(
                        "palisade_detect_block_to_alert_seconds",
                        "From the poll that heard of a block's head to its alerts stored and handed to the outbox.",
                    )
                    .buckets(vec![
                        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                    ]),
                    &["chain"],
                )
                .unwrap_or_else(|e| panic!("metric block_to_alert: {e}"));
                registry
                    .register(Box::new(h.clone()))
                    .unwrap_or_else(|e| panic!("metric block_to_alert: {e}"));
                h
            },
            responses: cv(
                "palisade_respond_responses_total",
                "Responses, by responder and outcome.",
                &["responder", "outcome"],
            ),
            risk_index: fgv(
                &registry,
                "palisade_risk_index",
                "Settlement-risk index of the chain's newest block (0 to 100).",
                &["chain"],
            ),
            risk_component: fgv(
                &registry,
                "palisade_risk_component",
                "Component of the settlement-risk index (0 to 1).",
                &["chain", "component"],
            ),
            registry,
        }
    }

    /// Renders the text exposition format.
    pub fn render(&self) -> String {
        let enc = prometheus::TextEncoder::new();
        enc.encode_to_string(&self.registry.gather()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules_dir() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/prometheus")
    }

    /// Every `palisade_*` metric the shipped alert rules use is one Palisade exports (a renamed
    /// metric would leave a rule that never fires).
    #[test]
    fn the_alert_rules_use_exported_metrics() {
        let m = Metrics::new();
        m.init_chain("c", &["d".to_string()]);
        // Series with labels beyond the chain exist once something happened.
        m.verify_failures.with_label_values(&["c", "receipts_root"]);
        let text = m.render();
        let rules = std::fs::read_to_string(rules_dir().join("palisade.rules.yml")).unwrap();
        let mut used = 0;
        for (i, _) in rules.match_indices("palisade_") {
            let name: String = rules[i..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_' || c.is_ascii_digit())
                .collect();
            let family = ["_bucket", "_count", "_sum"]
                .iter()
                .find_map(|s| name.strip_suffix(s))
                .unwrap_or(&name);
            if family == "palisade_" {
                continue;
            }
            used += 1;
            assert!(text.contains(&format!("# TYPE {family} ")), "{family} is not exported");
        }
        assert!(used >= 8, "{used}");
    }

    /// Every metric Palisade declares (each `"palisade_..."` name in this file) appears in a
    /// panel of the provisionable Grafana dashboards, and each dashboard file is one Grafana
    /// provisions: a uid, a title, panels whose Prometheus targets use the `${datasource}`
    /// variable.
    #[test]
    fn every_metric_is_on_a_grafana_dashboard() {
        let src = include_str!("metrics.rs");
        let mut declared = std::collections::BTreeSet::new();
        for (i, _) in src.match_indices("\"palisade_") {
            let name: String = src[i + 1..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_' || c.is_ascii_digit())
                .collect();
            if name.len() > "palisade_".len() {
                declared.insert(name);
            }
        }
        assert!(declared.len() >= 24, "{declared:?}");
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../deploy/grafana/dashboards");
        let mut exprs = String::new();
        let mut n = 0;
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            let d: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            assert!(d["uid"].as_str().is_some_and(|u| u.starts_with("palisade-")), "{p:?}");
            assert!(d["title"].is_string(), "{p:?}");
            let panels = d["panels"].as_array().unwrap();
            assert!(!panels.is_empty(), "{p:?}");
            for panel in panels {
                assert_eq!(
                    panel["datasource"]["uid"], "${datasource}",
                    "{p:?}: {}",
                    panel["title"]
                );
                for t in panel["targets"].as_array().unwrap() {
                    exprs.push_str(t["expr"].as_str().unwrap());
                    exprs.push('\n');
                }
            }
            n += 1;
        }
        assert_eq!(n, 3, "chains and sources; detectors and alerts; mempool and defense");
        for m in &declared {
            assert!(exprs.contains(m.as_str()), "{m} is on no dashboard panel");
        }
    }

    /// The rules pass `promtool check rules` and their unit tests (`promtool test rules`):
    /// Debian's `prometheus` package, installed by scripts/test.sh; required on CI.
    #[test]
    fn promtool_checks_and_tests_the_alert_rules() {
        let dir = rules_dir();
        let run = |args: &[&str]| {
            std::process::Command::new("promtool").args(args).current_dir(&dir).output()
        };
        match run(&["check", "rules", "palisade.rules.yml"]) {
            Err(e) if std::env::var("CI").as_deref() != Ok("true") => {
                eprintln!("promtool not found ({e}); skipped (scripts/test.sh installs it)");
                return;
            }
            Err(e) => panic!("CI=true but promtool cannot run: {e}"),
            Ok(o) => assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout)),
        }
        let o = run(&["test", "rules", "palisade.rules.test.yml"]).unwrap();
        assert!(
            o.status.success(),
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }
}
