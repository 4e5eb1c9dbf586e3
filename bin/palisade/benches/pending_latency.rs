//! Pending-transaction latency on a local anvil: a draining transaction sent -> its critical
//! `simulation` finding received by a local webhook (Palisade: subscription, pool, revm
//! simulation on the verified tip with proven state, detectors, store, outbox, signed webhook),
//! over N transactions (default 200; `PENDING_TXS`). Every 10th transaction runs on a new tip
//! (a fresh state cache: every account and slot fetched and proven again); the others find the
//! tip's state cached.
//!
//! References measured in the same run: the time until a bare WebSocket
//! `newPendingTransactions` subscriber hears of the same transaction (the floor for any
//! mempool monitor), and the time revm alone takes to execute it on a local cached database
//! (the floor for any simulation).
//!
//! Run: `cargo bench -p palisade --bench pending_latency` (needs PALISADE_ANVIL);
//! `PENDING_GUARD=assertions` guards the vault with the example Solidity assertions instead.

#[path = "../tests/common/mod.rs"]
#[allow(missing_docs)]
mod common;

use common::{pct, Palisade, Receiver};
use futures::{SinkExt, StreamExt};
use palisade_testing::anvil::{
    artifact_bytecode, calldata, free_port, Anvil, ACCOUNT0, ACCOUNT1, ACCOUNT2,
};
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

/// Answers every request this many milliseconds later, unchanged.
struct Delay(u64);

impl common::Lie for Delay {
    fn response(&self, _: &str, _: &serde_json::Value, _: &mut serde_json::Value) -> Option<u64> {
        None
    }

    fn delay(&self) -> Duration {
        Duration::from_millis(self.0)
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: u64 = std::env::var("PENDING_TXS").ok().and_then(|s| s.parse().ok()).unwrap_or(200);
    let workers: usize =
        std::env::var("PENDING_WORKERS").ok().and_then(|s| s.parse().ok()).unwrap_or(4);
    let anvil = Anvil::start(&[]).await;
    let guardian = format!("{:0>64}", ACCOUNT2.trim_start_matches("0x"));
    let vault =
        anvil.deploy(ACCOUNT0, &format!("{}{guardian}", artifact_bytecode("GuardedVault"))).await;
    anvil
        .send(ACCOUNT0, Some(&vault), &calldata("deposit()", &[]), 10_000_000_000_000_000_000)
        .await;
    let drainer = anvil.deploy(ACCOUNT1, &artifact_bytecode("VaultDrainer")).await;
    anvil.rpc("evm_setAutomine", json!([false])).await;
    let port = free_port();
    let rx = Receiver::new(port);
    rx.up().await;
    let dir = tempfile::tempdir().unwrap();
    // PENDING_GUARD=assertions: the vault guarded by the example Solidity assertions (share
    // price over its three entry points, outflow bound) instead of the simulation detector.
    let assertions = std::env::var("PENDING_GUARD").is_ok_and(|g| g == "assertions");
    let guard = if assertions {
        for a in ["SharePriceAssertion", "OutflowBoundAssertion"] {
            let src = format!("{}/../../testdata/contracts/{a}.json", env!("CARGO_MANIFEST_DIR"));
            std::fs::copy(src, dir.path().join(format!("{a}.json"))).unwrap();
        }
        let sel = |s: &str| format!("0x{}", &hex::encode(palisade_primitives::keccak256(s))[..8]);
        let entry = ["deposit()", "redeem(uint256)", "migrate(address)"].map(sel).join(",");
        format!("[[detectors]]\ntype = 'assertion'\nname = 'vault-shares'\ncontract = '{vault}'\nartifact = 'SharePriceAssertion.json'\nargs = ['[{entry}]']\n\n[[detectors]]\ntype = 'assertion'\nname = 'vault-outflow'\ncontract = '{vault}'\nartifact = 'OutflowBoundAssertion.json'\nargs = ['5000']\n")
    } else {
        format!("[[detectors]]\ntype = 'simulation'\nname = 'vault'\ncontracts = ['{vault}']\nmax_loss_percent = 50.0\ninvariants = [{{ name = 'backed', contract = '{vault}', views = ['totalAssets()', 'totalShares()'], expr = 'after.totalAssets >= after.totalShares' }}]\n")
    };
    let body = format!(
        "{guard}\n[[sinks]]\ntype = 'webhook'\nurl = 'http://127.0.0.1:{port}/hook'\nsecret = {{ env = 'PALISADE_TEST_WEBHOOK_SECRET' }}\n"
    );
    // With PENDING_RPC_DELAY_MS, requests (state proofs included) go through a proxy that
    // answers that much later, as a remote node would; the subscription stays direct.
    let delay: u64 =
        std::env::var("PENDING_RPC_DELAY_MS").ok().and_then(|s| s.parse().ok()).unwrap_or(0);
    let slow = if delay > 0 {
        Some(common::Tamper::start(anvil.http_url(), Delay(delay)).await)
    } else {
        None
    };
    let http = slow.as_ref().map(|t| t.url()).unwrap_or_else(|| anvil.http_url());
    let endpoints = format!("[{{ url = '{http}', ws = '{}' }}]", anvil.ws_url());
    let mut p = Palisade::start_full(
        dir.path(),
        &endpoints,
        32,
        &format!("[chains.mempool]\nenabled = true\npoll_interval_ms = 0\nsim_workers = {workers}"),
        &body,
    );
    p.wait_synced(&anvil).await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    // The reference: a bare newPendingTransactions subscriber.
    let heard: Arc<Mutex<HashMap<String, Instant>>> = Default::default();
    let (mut ws, _) = tokio_tungstenite::connect_async(anvil.ws_url()).await.unwrap();
    ws.send(Message::text(
        json!({"jsonrpc":"2.0","id":1,"method":"eth_subscribe","params":["newPendingTransactions"]})
            .to_string(),
    ))
    .await
    .unwrap();
    let h = heard.clone();
    tokio::spawn(async move {
        while let Some(Ok(m)) = ws.next().await {
            let Message::Text(t) = m else { continue };
            let v: serde_json::Value = serde_json::from_str(&t).unwrap_or_default();
            if let Some(hash) = v.pointer("/params/result").and_then(|x| x.as_str()) {
                h.lock().unwrap().insert(hash.to_lowercase(), Instant::now());
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;

    let data = calldata("run(address)", &[&vault]);
    let (mut warm, mut cold, mut reference) = (Vec::new(), Vec::new(), Vec::new());
    // (latency, index) of the warm samples: which ones are slow.
    let mut warm_at: Vec<(f64, u64, Option<f64>)> = Vec::new();
    for i in 0..n {
        let is_cold = i % 10 == 0;
        if is_cold {
            // A new tip: drop what is pending, mine an empty block, wait until Palisade has it.
            anvil.rpc("anvil_dropAllTransactions", json!([])).await;
            anvil.rpc("evm_mine", json!([])).await;
            let block = anvil.block_number().await;
            common::wait_for(10, "the new tip", || async {
                let log = p.store().await.block_log("anvil").await.unwrap_or_default();
                log.iter().any(|l| l.number == block).then_some(())
            })
            .await;
        }
        let t0 = Instant::now();
        let sent_wall = std::time::SystemTime::now();
        let hash = anvil
            .rpc(
                "eth_sendTransaction",
                json!([{"from": ACCOUNT1, "to": drainer, "data": data, "gas": "0x100000"}]),
            )
            .await
            .as_str()
            .unwrap_or_default()
            .to_lowercase();
        let started = Instant::now();
        let got = loop {
            let at = rx.first_at(|r| {
                r.body["tx_hashes"].as_array().is_some_and(|a| {
                    a.first().and_then(|h| h.as_str()).map(str::to_lowercase).as_deref()
                        == Some(hash.as_str())
                })
            });
            if let Some(at) = at {
                break at;
            }
            if started.elapsed() > Duration::from_secs(10) {
                let log = p.log();
                let tail: Vec<&str> = log.lines().rev().take(30).collect();
                let bodies: Vec<String> =
                    rx.received().iter().take(2).map(|r| r.body.to_string()).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                panic!(
                    "no finding for {hash} in 10 s; webhook got {bodies:?}; log tail:\n{}",
                    tail.join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        };
        let ms = (got - t0).as_secs_f64() * 1e3;
        if is_cold {
            cold.push(ms)
        } else {
            warm.push(ms);
            // When the alert was stored, relative to the send: before or after the slow part.
            let created = rx
                .received()
                .iter()
                .filter(|r| {
                    r.body["tx_hashes"][0].as_str().map(str::to_lowercase).as_deref()
                        == Some(hash.as_str())
                })
                .find_map(|r| r.body["created_at"].as_str().map(str::to_string));
            let stored_ms = created.and_then(|c| {
                let t = humantime::parse_rfc3339(&c).ok()?;
                Some(t.duration_since(sent_wall).ok()?.as_secs_f64() * 1e3)
            });
            warm_at.push((ms, i, stored_ms));
        }
        if let Some(t) = heard.lock().unwrap().get(&hash) {
            reference.push((*t - t0).as_secs_f64() * 1e3);
        }
    }

    // Throughput: a burst of transactions sent without waiting, on a new tip (every
    // simulation of the burst starts with an empty cache), until every one has its finding.
    let burst: usize =
        std::env::var("PENDING_BURST").ok().and_then(|s| s.parse().ok()).unwrap_or(100);
    anvil.rpc("anvil_dropAllTransactions", json!([])).await;
    anvil.rpc("evm_mine", json!([])).await;
    let block = anvil.block_number().await;
    common::wait_for(10, "the burst's tip", || async {
        let log = p.store().await.block_log("anvil").await.unwrap_or_default();
        log.iter().any(|l| l.number == block).then_some(())
    })
    .await;
    let t0 = Instant::now();
    let mut hashes = Vec::new();
    for _ in 0..burst {
        let h = anvil
            .rpc(
                "eth_sendTransaction",
                json!([{"from": ACCOUNT1, "to": drainer, "data": data, "gas": "0x100000"}]),
            )
            .await;
        hashes.push(h.as_str().unwrap_or_default().to_lowercase());
    }
    let sent = t0.elapsed();
    let all = common::wait_for(60, "every finding of the burst", || async {
        let got: std::collections::HashSet<String> = rx
            .received()
            .iter()
            .filter_map(|r| r.body["tx_hashes"][0].as_str().map(str::to_lowercase))
            .collect();
        hashes.iter().all(|h| got.contains(h)).then(Instant::now)
    })
    .await;
    let heard_all = {
        let h = heard.lock().unwrap();
        hashes.iter().filter_map(|x| h.get(x)).max().copied()
    };
    let burst_s = (all - t0).as_secs_f64();

    // The revm-alone reference: the same transaction on a local database that already holds
    // everything it reads (the work no simulator can skip).
    let revm_ms = revm_alone(&anvil, &drainer, &data, 200).await;

    let (w50, w99) = (pct(&mut warm, 0.5), pct(&mut warm, 0.99));
    warm_at.sort_by(|a, b| b.0.total_cmp(&a.0));
    let slowest: Vec<String> = warm_at
        .iter()
        .take(5)
        .map(|(ms, i, st)| format!("#{i} {ms:.1} ms (stored at {:.1} ms)", st.unwrap_or(f64::NAN)))
        .collect();
    let (c50, c99) = (pct(&mut cold, 0.5), pct(&mut cold, 0.99));
    let (r50, r99) = (pct(&mut reference.clone(), 0.5), pct(&mut reference, 0.99));
    let mut rv = revm_ms.clone();
    let (v50, v99) = (pct(&mut rv, 0.5), pct(&mut rv.clone(), 0.99));
    println!("pending latency over {n} transactions (anvil, one endpoint, WebSocket newPendingTransactions, SQLite store, signed webhook, sim_workers {workers}, RPC delay {delay} ms, guard: {}):", if assertions { "Solidity assertions (share price, outflow bound)" } else { "simulation detector" });
    println!("  reference: pending tx heard by a bare subscriber     p50 {r50:7.2} ms   p99 {r99:7.2} ms");
    println!("  reference: revm alone on a warm local database       p50 {v50:7.3} ms   p99 {v99:7.3} ms");
    println!("  palisade: sent -> finding at the webhook, warm cache p50 {w50:7.2} ms   p99 {w99:7.2} ms");
    println!(
        "    slowest warm samples (every 10th transaction, #0, #10..., is on a new tip): {}",
        slowest.join(", ")
    );
    // Palisade's own arrival -> verdict histogram: where the slow ones spent their time.
    let metrics = reqwest::get(format!("http://127.0.0.1:{}/metrics", p.api_port)).await;
    if let Ok(m) = metrics {
        let text = m.text().await.unwrap_or_default();
        let buckets: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("palisade_mempool_verdict_seconds_bucket"))
            .collect();
        println!("    arrival -> verdict inside Palisade: {}", buckets.join(" | "));
    }
    println!("  palisade: sent -> finding at the webhook, new tip    p50 {c50:7.2} ms   p99 {c99:7.2} ms");
    println!(
        "  ratio palisade(warm)/bare subscriber: p50 {:.1}x, p99 {:.1}x",
        w50 / r50.max(1e-3),
        w99 / r99.max(1e-3)
    );
    println!(
        "  burst of {burst} sent at once (sending took {:.0} ms): all heard by the bare subscriber after {:.0} ms; all findings at the webhook after {:.0} ms: {:.0} tx/s",
        sent.as_secs_f64() * 1e3,
        heard_all.map_or(f64::NAN, |t| (t - t0).as_secs_f64() * 1e3),
        burst_s * 1e3,
        burst as f64 / burst_s
    );
    p.kill9();
}

/// Milliseconds revm takes to run the drain on a CacheDB already holding the state it reads,
/// `loops` times.
async fn revm_alone(anvil: &Anvil, drainer: &str, data: &str, loops: usize) -> Vec<f64> {
    use palisade_primitives::pending::{PendingTx, SimNeeds};
    use palisade_primitives::BlockData;
    use palisade_sim::Simulator;
    use palisade_source::evm_rpc::{EndpointConfig, Enrich, RpcClient, RpcSettings};
    // Warm a simulator's block cache once, then time the pure execution it reports.
    let rpc = Arc::new(
        RpcClient::new(&EndpointConfig::http(&anvil.http_url()), &RpcSettings::default()).unwrap(),
    );
    let n = anvil.block_number().await;
    let b =
        BlockData::from_recorded(rpc.block_by_number(n, Enrich::default()).await.unwrap().unwrap())
            .unwrap();
    let sim = Simulator::new(rpc, 31337);
    sim.set_tip(&b.header).unwrap();
    let tx = PendingTx {
        hash: Default::default(),
        from: ACCOUNT1.parse().unwrap(),
        to: Some(drainer.parse().unwrap()),
        nonce: 0,
        value: Default::default(),
        input: data.parse().unwrap(),
        gas: 1_000_000,
        priority_fee: 1,
        max_fee: 100_000_000_000,
        tx_type: 2,
        authorizations: Vec::new(),
    };
    let needs = SimNeeds::default();
    sim.simulate(&tx, &needs).await.unwrap();
    let mut out = Vec::new();
    for _ in 0..loops {
        let o = sim.simulate(&tx, &needs).await.unwrap();
        assert_eq!(o.sim.fetched, 0);
        out.push(o.sim.exec_micros as f64 / 1e3);
    }
    out
}
