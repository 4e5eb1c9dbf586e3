//! Palisade against a real anvil node: ordered processing, reorgs of depth 1, 3 and 10 with
//! retraction, kill -9 and restart, rules on direct and internal calls and on events, webhook
//! delivery across an outage and a restart, and replay == live.

mod common;

use common::*;
use palisade_testing::anvil::{
    artifact_bytecode, calldata, Anvil, ACCOUNT0, ACCOUNT1, ACCOUNT2, KEY1,
};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};

fn detectors(vault: &str) -> String {
    format!(
        r#"
[[detectors]]
type = "chain_health"
expected_block_time_secs = 1
stall_after_secs = 3600
allow_equal_timestamps = true

[[detectors]]
type = "rule"
name = "poke"
severity = "low"
events = [{{ signature = "Poked(address indexed by, uint256 value)" }}]

[[detectors]]
type = "rule"
name = "owner-change"
severity = "critical"
addresses = ["{vault}"]
functions = [{{ signature = "setOwner(address newOwner)" }}]
events = [{{ signature = "OwnerChanged(address indexed previousOwner, address indexed newOwner)" }}]

[[detectors]]
type = "rule"
name = "hijack-to-account2"
severity = "high"
addresses = ["{vault}"]
functions = [{{ signature = "setOwner(address newOwner)", expression = "newOwner == {ACCOUNT2} and call.depth > 0" }}]
"#
    )
}

async fn deploy_vault(anvil: &Anvil) -> String {
    anvil.deploy(ACCOUNT0, &artifact_bytecode("Vault")).await
}

fn poke(value: u64) -> String {
    calldata("poke(uint256)", &[&format!("{value:x}")])
}

#[tokio::test(flavor = "multi_thread")]
async fn reorgs_of_depth_1_3_and_10_are_followed_and_findings_retracted() {
    let anvil = Anvil::start(&[]).await;
    let vault = deploy_vault(&anvil).await;
    anvil.mine(12).await;
    let dir = tempfile::tempdir().unwrap();
    let mut p = Palisade::start(dir.path(), &anvil, &detectors(&vault));
    p.wait_synced(&anvil).await;
    let store = p.store().await;

    for depth in [1u64, 3, 10] {
        // A poke in the newest block: its alert must be retracted when that block is reorged out.
        let tx = anvil.send(ACCOUNT1, Some(&vault), &poke(depth), 0).await;
        let poked_block = anvil.block_number().await;
        let old_hash = anvil.block_hash(poked_block).await;
        anvil.mine(depth - 1).await; // the poke is `depth` blocks deep
        p.wait_synced(&anvil).await;
        let before = p.alerts().await;
        let old_alert = before
            .iter()
            .find(|a| {
                a.finding.detector == "rule:poke"
                    && a.finding.tx_hashes.iter().any(|h| format!("{h:#x}") == tx)
            })
            .unwrap_or_else(|| panic!("no poke alert before the reorg of depth {depth}"))
            .clone();
        assert_eq!(old_alert.status, "open");

        // Replace the last `depth` blocks; the new chain pokes with another value.
        let head = anvil.block_number().await;
        let replacement =
            json!({"from": ACCOUNT2, "to": vault, "data": poke(1000 + depth), "gas": "0x100000"});
        anvil.rpc("anvil_reorg", json!([depth, [[replacement, 0]]])).await;
        assert_eq!(anvil.block_number().await, head);
        assert_ne!(anvil.block_hash(poked_block).await, old_hash);
        p.wait_synced(&anvil).await;

        let log = store.block_log("anvil").await.unwrap();
        let chain = tip_of(&log);
        // The processed chain is exactly the canonical chain.
        for (n, h) in chain.iter().rev().take(depth as usize + 2) {
            assert_eq!(
                *h,
                anvil.block_hash(*n).await,
                "block {n} after the reorg of depth {depth}"
            );
        }
        let alerts = p.alerts().await;
        let old = alerts.iter().find(|a| a.finding.key == old_alert.finding.key).unwrap();
        assert_eq!(
            old.status, "reorged",
            "the poke of a reorged-out block is retracted (depth {depth})"
        );
        let reorg = alerts
            .iter()
            .find(|a| {
                a.finding.evidence["check"] == "reorg" && a.finding.evidence["depth"] == depth
            })
            .unwrap_or_else(|| panic!("no reorg alert of depth {depth}"));
        assert_eq!(reorg.finding.evidence["old_hashes"].as_array().unwrap().len() as u64, depth);
        assert!(reorg.finding.evidence["old_hashes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h == &json!(old_hash)));
        let expected_sev = if depth >= 4 {
            "high"
        } else if depth >= 2 {
            "medium"
        } else {
            "low"
        };
        assert_eq!(reorg.finding.severity.as_str(), expected_sev);
        let new_poke = alerts
            .iter()
            .find(|a| {
                a.finding.detector == "rule:poke"
                    && a.finding.evidence["matched"][0]["args"]["value"]
                        == json!((1000 + depth).to_string())
            })
            .unwrap_or_else(|| panic!("no alert for the replacement chain's poke (depth {depth})"));
        assert_eq!(new_poke.status, "open");
        assert_eq!(new_poke.finding.anchor.number, head - depth + 1);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_mid_stream_and_restart_processes_the_canonical_chain_exactly_once() {
    let anvil = Anvil::start(&[]).await;
    let vault = deploy_vault(&anvil).await;
    let dir = tempfile::tempdir().unwrap();
    let mut p = Palisade::start(dir.path(), &anvil, &detectors(&vault));
    p.wait_synced(&anvil).await;
    // Blocks keep coming while palisade is killed without warning, three times; while it is
    // down the chain also reorgs below its stored head.
    let anvil = std::sync::Arc::new(anvil);
    for round in 0..3u64 {
        let a = anvil.clone();
        let v = vault.clone();
        let sender = tokio::spawn(async move {
            for i in 0..30u64 {
                a.send(ACCOUNT1, Some(&v), &poke(round * 100 + i), 0).await;
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        });
        tokio::time::sleep(std::time::Duration::from_millis(120 + 60 * round)).await;
        p.kill9();
        tokio::time::sleep(std::time::Duration::from_millis(80)).await;
        p.restart();
        sender.await.unwrap();
        // Let it store the head, then kill it and reorg blocks it has already processed: on
        // restart it must revert them before going on.
        p.wait_synced(&anvil).await;
        p.kill9();
        anvil.rpc("anvil_reorg", json!([4, []])).await;
        anvil.mine(5).await;
        p.restart();
    }
    p.wait_synced(&anvil).await;
    let log = p.store().await.block_log("anvil").await.unwrap();
    let chain = tip_of(&log); // panics on a block committed twice or a bad revert
    let reverts = log.iter().filter(|e| e.action == "revert").count();
    assert!(
        reverts >= 12,
        "each restart reverted the 4 reorged-out blocks it had stored ({reverts} reverts)"
    );
    assert!(p.log().contains("no longer canonical"), "the restart noticed the dead fork");
    let first = chain[0].0;
    let head = anvil.block_number().await;
    assert_eq!(chain.len() as u64, head - first + 1, "no gap: every block from {first} to {head}");
    for (n, h) in &chain {
        assert_eq!(*h, anvil.block_hash(*n).await, "block {n} is canonical");
    }
    // Every canonical poke has exactly one open alert; none of a reorged-out block stays open.
    let alerts = p.alerts().await;
    let open_pokes: Vec<_> =
        alerts.iter().filter(|a| a.finding.detector == "rule:poke" && a.status == "open").collect();
    let canonical: BTreeSet<_> = chain.iter().map(|(_, h)| h.clone()).collect();
    for a in &open_pokes {
        assert!(
            canonical.contains(&format!("{:#x}", a.finding.anchor.hash)),
            "open alert in a non-canonical block"
        );
    }
    let mut canonical_pokes = 0;
    for (n, _) in &chain {
        let b = anvil.rpc("eth_getBlockByNumber", json!([format!("{n:#x}"), true])).await;
        for t in b["transactions"].as_array().unwrap() {
            if t["to"].as_str() == Some(vault.to_lowercase().as_str())
                && t["input"].as_str().unwrap_or("").starts_with(&poke(0)[..10])
            {
                canonical_pokes += 1;
            }
        }
    }
    assert_eq!(open_pokes.len(), canonical_pokes, "one open alert per canonical poke");
}

#[tokio::test(flavor = "multi_thread")]
async fn rules_match_direct_and_internal_calls_and_events() {
    let anvil = Anvil::start(&[]).await;
    let vault = deploy_vault(&anvil).await;
    let attacker = anvil.deploy(ACCOUNT0, &artifact_bytecode("Attacker")).await;
    let dir = tempfile::tempdir().unwrap();
    let mut p = Palisade::start(dir.path(), &anvil, &detectors(&vault));
    p.wait_synced(&anvil).await;
    let direct =
        anvil.send(ACCOUNT0, Some(&vault), &calldata("setOwner(address)", &[ACCOUNT1]), 0).await;
    let inner = anvil
        .send(
            ACCOUNT1,
            Some(&attacker),
            &calldata("hijack(address,address)", &[&vault, ACCOUNT2]),
            0,
        )
        .await;
    assert_eq!(anvil.receipt(&inner).await["status"], "0x1");
    p.wait_synced(&anvil).await;
    let alerts = p.alerts().await;
    let find = |det: &str, tx: &str| {
        alerts
            .iter()
            .find(|a| {
                a.finding.detector == det
                    && a.finding.tx_hashes.iter().any(|h| format!("{h:#x}") == tx)
            })
            .cloned()
    };
    let d = find("rule:owner-change", &direct).expect("direct setOwner raises the alert");
    assert_eq!(d.finding.severity.as_str(), "critical");
    let m = &d.finding.evidence["matched"];
    assert!(m.as_array().unwrap().iter().any(|x| x["type"] == "function"
        && x["depth"] == 0
        && x["args"]["newOwner"]
            == json!(ACCOUNT1.parse::<palisade_primitives::Address>().unwrap().to_string())));
    assert!(m
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["type"] == "event" && x["signature"] == "OwnerChanged(address,address)"));

    let i = find("rule:owner-change", &inner)
        .expect("setOwner called from another contract raises the alert");
    let f = i.finding.evidence["matched"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["type"] == "function")
        .cloned()
        .unwrap();
    assert_eq!(f["depth"], 1, "the call was found inside the attacker's call");
    assert_eq!(f["caller"].as_str().unwrap().to_lowercase(), attacker.to_lowercase());
    assert_ne!(i.finding.evidence["calls_from"], "transactions", "internal calls come from traces");
    // The expression rule: only the internal call to ACCOUNT2 matches.
    assert!(find("rule:hijack-to-account2", &inner).is_some());
    assert!(find("rule:hijack-to-account2", &direct).is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn webhook_down_across_a_restart_gets_every_alert_once_signed() {
    let anvil = Anvil::start(&[]).await;
    let vault = deploy_vault(&anvil).await;
    let port = palisade_testing::anvil::free_port();
    let rx = Receiver::new(port);
    let dir = tempfile::tempdir().unwrap();
    let body = format!(
        "{}\n[[sinks]]\ntype = 'webhook'\nurl = 'http://127.0.0.1:{port}/hook'\nsecret = {{ env = 'PALISADE_TEST_WEBHOOK_SECRET' }}\n\n[[sinks]]\ntype = 'jsonl'\npath = 'alerts.jsonl'\n",
        detectors(&vault)
    );
    let mut p = Palisade::start(dir.path(), &anvil, &body);
    p.wait_synced(&anvil).await;
    for i in 0..6u64 {
        anvil.send(ACCOUNT1, Some(&vault), &poke(i), 0).await;
    }
    p.wait_synced(&anvil).await;
    // Delivery was attempted and failed while the receiver is down.
    let store = p.store().await;
    wait_for(20, "failed delivery attempts", || async {
        let depth = store.outbox_depth().await.ok()?;
        (depth >= 6 && p.log().contains("Delivery failed")).then_some(())
    })
    .await;
    p.kill9();
    for i in 6..9u64 {
        anvil.send(ACCOUNT1, Some(&vault), &poke(i), 0).await;
    }
    p.restart();
    p.wait_synced(&anvil).await;
    rx.up().await;
    let expected: BTreeSet<String> = p
        .alerts()
        .await
        .iter()
        .filter(|a| a.status == "open")
        .map(|a| a.finding.key.to_string())
        .collect();
    assert!(expected.len() >= 9, "9 pokes give at least 9 alerts, got {}", expected.len());
    let got = wait_for(60, "every alert at the webhook", || async {
        let got = rx.received();
        let keys: BTreeSet<String> =
            got.iter().filter_map(|r| r.body["key"].as_str().map(str::to_string)).collect();
        (keys.is_superset(&expected)).then_some(got)
    })
    .await;
    let mut per_key: BTreeMap<String, usize> = BTreeMap::new();
    for r in &got {
        let ts = r.header("x-palisade-timestamp").expect("timestamp header");
        assert_eq!(
            r.header("x-palisade-signature"),
            Some(expected_signature(ts, &r.raw).as_str()),
            "valid HMAC signature"
        );
        let key = r.body["key"].as_str().unwrap().to_string();
        assert_eq!(r.header("idempotency-key"), Some(format!("{key}:alert").as_str()));
        *per_key.entry(key).or_default() += 1;
    }
    assert!(per_key.values().all(|n| *n == 1), "each alert arrives once: {per_key:?}");
    let jsonl = std::fs::read_to_string(dir.path().join("alerts.jsonl")).unwrap();
    assert!(jsonl.lines().count() >= expected.len(), "the jsonl sink has every alert too");
}

#[tokio::test(flavor = "multi_thread")]
async fn replay_of_recorded_blocks_gives_the_same_finding_keys_as_live() {
    let anvil = Anvil::start(&[]).await;
    let vault = deploy_vault(&anvil).await;
    let attacker = anvil.deploy(ACCOUNT0, &artifact_bytecode("Attacker")).await;
    let dir = tempfile::tempdir().unwrap();
    let mut p = Palisade::start(dir.path(), &anvil, &detectors(&vault));
    p.wait_synced(&anvil).await;
    let from = anvil.block_number().await + 1;
    for i in 0..5u64 {
        anvil.send(ACCOUNT1, Some(&vault), &poke(i), 0).await;
    }
    anvil
        .send(
            ACCOUNT1,
            Some(&attacker),
            &calldata("hijack(address,address)", &[&vault, ACCOUNT2]),
            0,
        )
        .await;
    anvil.send(ACCOUNT0, Some(&vault), &calldata("setOwner(address)", &[ACCOUNT1]), 0).await;
    let to = anvil.block_number().await;
    p.wait_synced(&anvil).await;
    let live: BTreeSet<String> = p
        .alerts()
        .await
        .iter()
        .filter(|a| {
            (from..=to).contains(&a.finding.anchor.number)
                && a.finding.detector.starts_with("rule:")
        })
        .map(|a| a.finding.key.to_string())
        .collect();
    assert!(live.len() >= 8, "the scenario raises alerts live: {}", live.len());
    let file = dir.path().join("rec.jsonl.zst");
    record(&anvil, from, to, &file);
    let replayed: BTreeSet<String> = replay_json(&file, &p.config, &[])
        .into_iter()
        .filter(|v| v["detector"].as_str().unwrap().starts_with("rule:"))
        .map(|v| v["key"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(live, replayed, "replay and live give the same finding keys");
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_chain_id_is_refused_with_a_clear_message() {
    let anvil = Anvil::start(&[]).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("p.toml");
    std::fs::write(
        &config,
        format!("data_dir = '{}'\n[api]\nlisten = ''\n[[chains]]\nname = 'mainnet'\nchain_id = 1\nendpoints = [{{ url = '{}' }}]\n", dir.path().display(), anvil.http_url()),
    )
    .unwrap();
    let out = std::process::Command::new(BIN)
        .args(["run", "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("chain id is 31337, but the config says 1"), "{e}");
    assert!(!e.contains("panicked"), "{e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn api_serves_health_metrics_and_alerts() {
    let anvil = Anvil::start(&[]).await;
    let vault = deploy_vault(&anvil).await;
    let dir = tempfile::tempdir().unwrap();
    let mut p = Palisade::start(dir.path(), &anvil, &detectors(&vault));
    p.wait_synced(&anvil).await;
    anvil.send(ACCOUNT1, Some(&vault), &poke(7), 0).await;
    p.wait_synced(&anvil).await;
    anvil.rpc("anvil_reorg", json!([1, []])).await;
    p.wait_synced(&anvil).await;
    let base = format!("http://127.0.0.1:{}", p.api_port);
    let http = reqwest::Client::new();
    let health: serde_json::Value = wait_for(10, "/health", || async {
        let r = http.get(format!("{base}/health")).send().await.ok()?;
        let v: serde_json::Value = r.json().await.ok()?;
        (v["chains"]["anvil"]["tip"].as_u64()? == anvil.block_number().await).then_some(v)
    })
    .await;
    assert_eq!(health["status"], "ok");
    let metrics = http.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
    for m in [
        "palisade_chain_blocks_processed_total{chain=\"anvil\"}",
        "palisade_chain_reorgs_total{chain=\"anvil\"} 1",
        "palisade_chain_head_lag_blocks{chain=\"anvil\"} 0",
        "palisade_detect_findings_total{chain=\"anvil\",detector=\"rule:poke\"} 1",
        "palisade_alert_outbox_depth",
        "palisade_alert_sink_failures_total",
        "palisade_detect_block_to_alert_seconds_count{chain=\"anvil\"} ",
    ] {
        assert!(metrics.contains(m), "{m} missing from /metrics:\n{metrics}\n{}", p.log());
    }
    // The block that held the poke had its alert timed.
    let timed: f64 = metrics
        .lines()
        .find_map(|l| {
            l.strip_prefix("palisade_detect_block_to_alert_seconds_count{chain=\"anvil\"} ")
        })
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0);
    assert!(timed >= 1.0, "no block-to-alert latency observed:\n{metrics}");
    let alerts: serde_json::Value = http
        .get(format!("{base}/alerts?status=reorged"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(alerts.as_array().unwrap().len(), 1, "the reorged-out poke: {alerts}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reorg_deeper_than_the_maximum_is_a_critical_alert_and_monitoring_goes_on() {
    let anvil = Anvil::start(&[]).await;
    let vault = deploy_vault(&anvil).await;
    anvil.mine(10).await;
    let dir = tempfile::tempdir().unwrap();
    let mut p = Palisade::start_with(dir.path(), &anvil, 3, &detectors(&vault));
    p.wait_synced(&anvil).await;
    anvil.mine(5).await;
    p.wait_synced(&anvil).await;
    anvil.rpc("anvil_reorg", json!([6, []])).await;
    p.wait_synced(&anvil).await;
    let alerts = p.alerts().await;
    let deep =
        alerts.iter().find(|a| a.finding.evidence["check"] == "deep_reorg").unwrap_or_else(|| {
            panic!(
                "no deep-reorg alert: {:?}",
                alerts.iter().map(|a| &a.finding.title).collect::<Vec<_>>()
            )
        });
    assert_eq!(deep.finding.severity.as_str(), "critical");
    assert_eq!(deep.finding.evidence["max_reorg_depth"], 3);
    // Even beyond the window, the processed chain is exactly the canonical one, without a gap.
    let chain = tip_of(&p.store().await.block_log("anvil").await.unwrap());
    let head = anvil.block_number().await;
    assert_eq!(chain.len() as u64, head - chain[0].0 + 1);
    for (n, h) in &chain {
        assert_eq!(*h, anvil.block_hash(*n).await, "block {n}");
    }
    assert_eq!(deep.finding.evidence["fork_point"], head - 6);
    // It keeps following the chain afterwards.
    anvil.send(ACCOUNT1, Some(&vault), &poke(5), 0).await;
    p.wait_synced(&anvil).await;
    assert!(p
        .alerts()
        .await
        .iter()
        .any(|a| a.finding.detector == "rule:poke" && a.status == "open"));
    // The same while it is down: on restart no stored block is canonical any more.
    p.kill9();
    anvil.rpc("anvil_reorg", json!([8, []])).await;
    anvil.mine(2).await;
    p.restart();
    p.wait_synced(&anvil).await;
    let chain = tip_of(&p.store().await.block_log("anvil").await.unwrap());
    let head = anvil.block_number().await;
    assert_eq!(
        chain.len() as u64,
        head - chain[0].0 + 1,
        "no gap after a deep reorg across a restart"
    );
    for (n, h) in &chain {
        assert_eq!(*h, anvil.block_hash(*n).await, "block {n} after the restart");
    }
    let pokes: Vec<_> =
        p.alerts().await.into_iter().filter(|a| a.finding.detector == "rule:poke").collect();
    assert!(
        pokes.iter().all(|a| a.status == "reorged"),
        "the poke's block was reorged out while palisade was down"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stalled_chain_raises_one_alert_per_stall() {
    let anvil = Anvil::start(&[]).await;
    let dir = tempfile::tempdir().unwrap();
    let body = "[[detectors]]\ntype = 'chain_health'\nstall_after_secs = 1\nallow_equal_timestamps = true\n";
    let mut p = Palisade::start(dir.path(), &anvil, body);
    p.wait_synced(&anvil).await;
    let store = p.store().await;
    let stalls = || async {
        store
            .list_alerts(&Default::default())
            .await
            .unwrap()
            .into_iter()
            .filter(|a| a.finding.evidence["check"] == "stall")
            .collect::<Vec<_>>()
    };
    let first = wait_for(10, "a stall alert", || async {
        let s = stalls().await;
        (!s.is_empty()).then_some(s)
    })
    .await;
    assert_eq!(first[0].finding.severity.as_str(), "high");
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(stalls().await.len(), 1, "one alert per stall, not one per second");
    // A new block ends the stall; the next stall is a new alert.
    anvil.mine(1).await;
    p.wait_synced(&anvil).await;
    wait_for(10, "a second stall alert", || async { (stalls().await.len() == 2).then_some(()) })
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn when_an_endpoint_goes_down_monitoring_fails_over_to_the_next() {
    let anvil = Anvil::start(&[]).await;
    let vault = deploy_vault(&anvil).await;
    let proxy = Proxy::start(anvil.port).await;
    let endpoints = format!(
        "[{{ url = 'http://127.0.0.1:{p}', ws = 'ws://127.0.0.1:{p}' }}, {{ url = '{}', ws = '{}' }}]",
        anvil.http_url(),
        anvil.ws_url(),
        p = proxy.port
    );
    let dir = tempfile::tempdir().unwrap();
    let mut p = Palisade::start_endpoints(dir.path(), &endpoints, 32, &detectors(&vault));
    p.wait_synced(&anvil).await;
    anvil.send(ACCOUNT1, Some(&vault), &poke(1), 0).await;
    p.wait_synced(&anvil).await;
    proxy.cut();
    for i in 2..6u64 {
        anvil.send(ACCOUNT1, Some(&vault), &poke(i), 0).await;
    }
    p.wait_synced(&anvil).await;
    let pokes = p.alerts().await.into_iter().filter(|a| a.finding.detector == "rule:poke").count();
    assert_eq!(pokes, 5, "every poke before and after the endpoint went down");
    let health: serde_json::Value = reqwest::get(format!("http://127.0.0.1:{}/health", p.api_port))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["chains"]["anvil"]["active_endpoint"], 1, "{health}");
    assert!(p.log().contains("Failed over"), "the failover is logged");
}

fn jsonl_actions(dir: &std::path::Path, tx: &str) -> Vec<String> {
    std::fs::read_to_string(dir.join("alerts.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["tx_hashes"].as_array().is_some_and(|t| t.iter().any(|h| h == tx)))
        .map(|v| v["action"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn confirmations_hold_delivery_and_a_reorg_before_them_sends_nothing() {
    let anvil = Anvil::start(&[]).await;
    let vault = deploy_vault(&anvil).await;
    let dir = tempfile::tempdir().unwrap();
    let endpoints = format!("[{{ url = '{}', ws = '{}' }}]", anvil.http_url(), anvil.ws_url());
    let body = format!("{}\n[[sinks]]\ntype = 'jsonl'\npath = 'alerts.jsonl'\n", detectors(&vault));
    let mut p = Palisade::start_full(dir.path(), &endpoints, 32, "confirmations = 2", &body);
    p.wait_synced(&anvil).await;
    let tx = anvil.send(ACCOUNT1, Some(&vault), &poke(1), 0).await;
    p.wait_synced(&anvil).await;
    anvil.mine(1).await;
    p.wait_synced(&anvil).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        jsonl_actions(dir.path(), &tx).is_empty(),
        "one confirmation of two: not delivered yet"
    );
    anvil.mine(1).await;
    p.wait_synced(&anvil).await;
    wait_for(10, "delivery after two confirmations", || async {
        (jsonl_actions(dir.path(), &tx) == ["alert"]).then_some(())
    })
    .await;

    let tx2 = anvil.send(ACCOUNT1, Some(&vault), &poke(2), 0).await;
    p.wait_synced(&anvil).await;
    anvil.rpc("anvil_reorg", json!([1, []])).await;
    p.wait_synced(&anvil).await;
    anvil.mine(3).await;
    p.wait_synced(&anvil).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        jsonl_actions(dir.path(), &tx2).is_empty(),
        "reorged out before its confirmations: never sent"
    );
    let a = p
        .alerts()
        .await
        .into_iter()
        .find(|a| a.finding.tx_hashes.iter().any(|h| format!("{h:#x}") == tx2))
        .unwrap();
    assert_eq!(a.status, "reorged");
}

#[tokio::test(flavor = "multi_thread")]
async fn sinks_are_told_when_an_alert_is_reorged_out() {
    let anvil = Anvil::start(&[]).await;
    let vault = deploy_vault(&anvil).await;
    let dir = tempfile::tempdir().unwrap();
    let body = format!("{}\n[[sinks]]\ntype = 'jsonl'\npath = 'alerts.jsonl'\n", detectors(&vault));
    let mut p = Palisade::start(dir.path(), &anvil, &body);
    p.wait_synced(&anvil).await;
    let tx = anvil.send(ACCOUNT1, Some(&vault), &poke(1), 0).await;
    p.wait_synced(&anvil).await;
    wait_for(10, "the alert", || async {
        (jsonl_actions(dir.path(), &tx) == ["alert"]).then_some(())
    })
    .await;
    anvil.rpc("anvil_reorg", json!([1, []])).await;
    p.wait_synced(&anvil).await;
    wait_for(10, "the resolution", || async {
        (jsonl_actions(dir.path(), &tx) == ["alert", "resolve"]).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn blocks_recorded_from_a_node_pass_every_verification() {
    let anvil = Anvil::start(&[]).await;
    let vault = deploy_vault(&anvil).await;
    let from = anvil.block_number().await;
    for i in 0..4u64 {
        anvil.send(ACCOUNT1, Some(&vault), &poke(i), 0).await;
    }
    // A legacy (type 0) transaction too.
    let legacy = json!({"from": ACCOUNT2, "to": ACCOUNT1, "value": "0x1", "gasPrice": "0x77359400", "gas": "0x5208"});
    let h = anvil.rpc("eth_sendTransaction", json!([legacy])).await;
    anvil.receipt(h.as_str().unwrap()).await;
    let to = anvil.block_number().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rec.jsonl");
    record(&anvil, from, to, &file);
    let out = std::process::Command::new(BIN)
        .args(["verify", file.to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let reports: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(reports.len() as u64, to - from + 1);
    for r in &reports {
        for c in [
            "block_hash",
            "tx_hashes",
            "transactions_root",
            "senders",
            "receipts_root",
            "logs_bloom",
        ] {
            assert!(r["passed"].as_array().unwrap().iter().any(|x| x == c), "{c} not passed: {r}");
        }
    }
    // A forged sender in one recorded transaction is named.
    let text = std::fs::read_to_string(&file).unwrap();
    let mut lines: Vec<serde_json::Value> =
        text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    lines[1]["block"]["transactions"][0]["from"] = json!(ACCOUNT2);
    std::fs::write(&file, lines.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
    let out =
        std::process::Command::new(BIN).args(["verify", file.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let o = String::from_utf8_lossy(&out.stdout);
    assert!(o.contains("FAILED senders") && o.contains("the signature recovers"), "{o}");
}

/// A lying endpoint: blocks come with a changed header field (their hash no longer matches).
struct LieAboutGasUsed;

impl Lie for LieAboutGasUsed {
    fn response(
        &self,
        method: &str,
        _: &serde_json::Value,
        result: &mut serde_json::Value,
    ) -> Option<u64> {
        let full = result.get("transactions").is_some_and(|t| {
            t.as_array().is_some_and(|a| a.first().is_some_and(|x| x.is_object()))
        });
        if method.starts_with("eth_getBlockBy") && full {
            result["gasUsed"] = json!("0x1");
            return Some(0);
        }
        None
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_block_that_fails_verification_is_reported_and_fetched_from_another_endpoint() {
    let anvil = Anvil::start(&[]).await;
    let vault = deploy_vault(&anvil).await;
    let liar = Tamper::start(anvil.http_url(), LieAboutGasUsed).await;
    let endpoints = format!(
        "[{{ url = 'http://127.0.0.1:{}' }}, {{ url = '{}', ws = '{}' }}]",
        liar.port,
        anvil.http_url(),
        anvil.ws_url()
    );
    let dir = tempfile::tempdir().unwrap();
    let mut p = Palisade::start_endpoints(dir.path(), &endpoints, 32, &detectors(&vault));
    p.wait_synced(&anvil).await;
    for i in 0..3u64 {
        anvil.send(ACCOUNT1, Some(&vault), &poke(i), 0).await;
    }
    p.wait_synced(&anvil).await;
    let alerts = p.alerts().await;
    let bad: Vec<_> = alerts
        .iter()
        .filter(|a| {
            a.finding.detector == "source_integrity" && a.finding.evidence["check"] == "bad_data"
        })
        .collect();
    assert!(!bad.is_empty(), "the lying endpoint is reported");
    assert_eq!(bad[0].finding.severity.as_str(), "critical");
    assert_eq!(bad[0].finding.evidence["endpoint"], format!("http://127.0.0.1:{}", liar.port));
    assert_eq!(bad[0].finding.evidence["failures"][0]["check"], "block_hash");
    // Monitoring went on from the honest endpoint: every poke, and the processed chain is canonical.
    assert_eq!(alerts.iter().filter(|a| a.finding.detector == "rule:poke").count(), 3);
    for (n, h) in tip_of(&p.store().await.block_log("anvil").await.unwrap()) {
        assert_eq!(h, anvil.block_hash(n).await);
    }
}

/// The pre-EIP-155 transaction that deploys the deterministic-deployment proxy on any chain
/// (Nick's method: nobody holds the key of its signer, and its signature binds no chain id).
const PRE_EIP155_TX: &str = "0xf8a58085174876e800830186a08080b853604580600e600039806000f350fe7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffe03601600081602082378035828234f58015156039578182fd5b8082525050506014600cf31ba02222222222222222222222222222222222222222222222222222222222222222a02222222222222222222222222222222222222222222222222222222222222222";
const PRE_EIP155_SIGNER: &str = "0x3fab184622dc19b6109349b94811493bf2a45362";

#[tokio::test(flavor = "multi_thread")]
async fn senders_of_every_transaction_type_recorded_from_a_node_verify() {
    let anvil = Anvil::start(&[]).await;
    let from = anvil.block_number().await + 1;
    anvil.send(ACCOUNT0, Some(PRE_EIP155_SIGNER), "0x", 100_000_000_000_000_000).await;
    anvil.cast(&["publish", PRE_EIP155_TX]);
    let list = format!("[{{\"address\":\"{ACCOUNT2}\",\"storageKeys\":[]}}]");
    let dir = tempfile::tempdir().unwrap();
    let blob = dir.path().join("blob.bin");
    std::fs::write(&blob, vec![7u8; 1000]).unwrap();
    let sends: [&[&str]; 5] = [
        &["--legacy", "--value", "1"],                         // 0, EIP-155
        &["--legacy", "--access-list", &list, "--value", "1"], // 1, EIP-2930
        &["--value", "1"],                                     // 2, EIP-1559
        &["--blob", "--eip4844", "--path", blob.to_str().unwrap()], // 3, EIP-4844
        &["--auth", ACCOUNT2],                                 // 4, EIP-7702
    ];
    for extra in sends {
        let mut args = vec!["send", "--private-key", KEY1, ACCOUNT2];
        args.extend_from_slice(extra);
        anvil.cast(&args);
    }
    let to = anvil.block_number().await;
    let file = dir.path().join("rec.jsonl");
    record(&anvil, from, to, &file);
    let text = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<serde_json::Value> =
        text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let txs: Vec<&serde_json::Value> =
        lines.iter().flat_map(|l| l["block"]["transactions"].as_array().unwrap().iter()).collect();
    let types: BTreeSet<&str> = txs.iter().map(|t| t["type"].as_str().unwrap()).collect();
    assert_eq!(types, BTreeSet::from(["0x0", "0x1", "0x2", "0x3", "0x4"]), "every type recorded");
    let unprotected = txs
        .iter()
        .find(|t| t["from"] == PRE_EIP155_SIGNER)
        .expect("the pre-EIP-155 transaction was mined");
    assert!(unprotected["chainId"].is_null() && unprotected["v"] == "0x1b", "{unprotected}");

    let out = std::process::Command::new(BIN)
        .args(["verify", file.to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    for r in String::from_utf8(out.stdout).unwrap().lines() {
        let r: serde_json::Value = serde_json::from_str(r).unwrap();
        for c in ["block_hash", "tx_hashes", "transactions_root", "senders", "receipts_root"] {
            assert!(r["passed"].as_array().unwrap().iter().any(|x| x == c), "{c}: {r}");
        }
    }
    // A forged sender is caught for each type.
    for (li, line) in lines.iter().enumerate() {
        for (ti, tx) in line["block"]["transactions"].as_array().unwrap().iter().enumerate() {
            let mut forged = lines.clone();
            forged[li]["block"]["transactions"][ti]["from"] =
                json!("0x000000000000000000000000000000000000dead");
            let f = dir.path().join("forged.jsonl");
            std::fs::write(&f, forged.iter().map(|l| format!("{l}\n")).collect::<String>())
                .unwrap();
            let out = std::process::Command::new(BIN)
                .args(["verify", f.to_str().unwrap()])
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(1), "type {} forged sender not caught", tx["type"]);
            let o = String::from_utf8_lossy(&out.stdout);
            assert!(
                o.contains(&format!("transaction {ti}")) && o.contains("FAILED senders"),
                "{o}"
            );
        }
    }
}

fn storage_detectors(vault: &str, proxy: &str) -> String {
    format!(
        r#"
[[detectors]]
type = "storage_watch"
name = "guard"
severity = "critical"
slots = [{{ contract = "{proxy}", slot = "eip1967.implementation", label = "implementation" }}, {{ contract = "{vault}", slot = "0", label = "owner", severity = "high" }}]
accounts = [{{ address = "{proxy}", min_balance_change = "1000" }}]
"#
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn storage_watches_report_changes_without_events_follow_reorgs_and_replay_alike() {
    let anvil = Anvil::start(&[]).await;
    let vault = deploy_vault(&anvil).await;
    let ctor =
        format!("{}{:0>64}", artifact_bytecode("QuietProxy"), vault.trim_start_matches("0x"));
    let proxy = anvil.deploy(ACCOUNT0, &ctor).await;
    let dir = tempfile::tempdir().unwrap();
    let mut p = Palisade::start(dir.path(), &anvil, &storage_detectors(&vault, &proxy));
    p.wait_synced(&anvil).await;
    let first = anvil.block_number().await;
    let upgrade = |to: &str| calldata("upgradeTo(address)", &[to]);

    // A quiet upgrade: no event, only the slot changes.
    let tx = anvil.send(ACCOUNT0, Some(&proxy), &upgrade(ACCOUNT2), 0).await;
    let receipt = anvil.receipt(&tx).await;
    assert!(receipt["logs"].as_array().unwrap().is_empty(), "no event was emitted");
    let upgraded_at = anvil.block_number().await;
    p.wait_synced(&anvil).await;
    let found = wait_for(10, "the slot change", || async {
        p.alerts().await.into_iter().find(|a| a.finding.detector == "storage_watch:guard")
    })
    .await;
    assert_eq!(found.finding.severity.as_str(), "critical");
    assert_eq!(found.finding.anchor.number, upgraded_at);
    assert_eq!(found.finding.evidence["old_address"], json!(vault));
    assert_eq!(found.finding.evidence["new_address"], json!(ACCOUNT2));
    // Small balance changes are not reported; the owner slot has its own severity.
    anvil.send(ACCOUNT0, Some(&proxy), "0x", 10).await;
    anvil.send(ACCOUNT1, Some(&vault), &calldata("setOwner(address)", &[ACCOUNT1]), 0).await;
    p.wait_synced(&anvil).await;
    let owner = wait_for(10, "the owner change", || async {
        p.alerts().await.into_iter().find(|a| a.finding.evidence["label"] == "owner")
    })
    .await;
    assert_eq!(owner.finding.severity.as_str(), "high");
    assert!(!p.alerts().await.iter().any(|a| a.finding.evidence["check"] == "balance"));

    // The upgrade is reorged out: its alert is retracted, and the detector forgets it (the
    // next upgrade is reported from the original implementation).
    let depth = anvil.block_number().await - upgraded_at + 1;
    anvil.rpc("anvil_reorg", json!([depth, []])).await;
    p.wait_synced(&anvil).await;
    let alerts = p.alerts().await;
    for key in [found.finding.key, owner.finding.key] {
        let old = alerts.iter().find(|a| a.finding.key == key).unwrap();
        assert_eq!(old.status, "reorged");
    }
    anvil.send(ACCOUNT0, Some(&proxy), &upgrade(ACCOUNT1), 0).await;
    p.wait_synced(&anvil).await;
    let again = wait_for(10, "the second upgrade", || async {
        p.alerts()
            .await
            .into_iter()
            .find(|a| a.finding.evidence["label"] == "implementation" && a.status == "open")
    })
    .await;
    assert_eq!(again.finding.evidence["old_address"], json!(vault), "state reverted exactly");
    assert_eq!(again.finding.evidence["new_address"], json!(ACCOUNT1));

    // Recorded with proofs and replayed: the same alerts with the same keys.
    let last = anvil.block_number().await;
    let file = dir.path().join("rec.jsonl");
    let st = std::process::Command::new(BIN)
        .args([
            "record",
            "--rpc",
            &anvil.http_url(),
            "--from",
            &first.to_string(),
            "--to",
            &last.to_string(),
        ])
        .args([
            "--proof",
            &format!("{proxy}:eip1967.implementation"),
            "--proof",
            &format!("{vault}:0"),
        ])
        .args(["-o", file.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(st.success());
    let cfg = dir.path().join("replay.toml");
    std::fs::write(&cfg, storage_detectors(&vault, &proxy)).unwrap();
    let replayed: BTreeSet<String> = replay_json(&file, &cfg, &["--chain", "anvil"])
        .iter()
        .map(|v| v["key"].as_str().unwrap().to_string())
        .collect();
    let live: BTreeSet<String> = p
        .alerts()
        .await
        .iter()
        .filter(|a| a.finding.detector == "storage_watch:guard" && a.status == "open")
        .map(|a| a.finding.key.to_string())
        .collect();
    // The owner change was reorged out with the first upgrade: the second upgrade is what stands.
    assert_eq!(live.len(), 1, "the second upgrade");
    assert_eq!(live, replayed);
}
