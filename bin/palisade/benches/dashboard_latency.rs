//! Block mined -> finding visible in the browser: `palisade run` on a live anvil, its dashboard
//! open in headless Debian Chromium (playwright-core), a poke in every block. For each block it
//! measures, in the same run, the time from `evm_mine` to
//!
//! - the alert's row painted on the page (the first animation frame after the row entered the
//!   DOM, from the server-sent event), and
//! - the same alert arriving at a local webhook (the reference), and
//! - the block's settlement-risk point arriving on `GET /risk/anvil/events` (server-sent
//!   events: the index visible at the API).
//!
//! Run: `cargo bench -p palisade --bench dashboard_latency` (needs PALISADE_ANVIL, node,
//! /usr/bin/chromium and playwright-core, as scripts/test.sh installs; `DASHBOARD_BLOCKS`
//! blocks, default 250).

#[path = "../tests/common/mod.rs"]
#[allow(missing_docs)]
mod common;

use common::{pct, Receiver, WEBHOOK_SECRET};
use palisade_testing::anvil::{artifact_bytecode, calldata, free_port, Anvil, ACCOUNT0, ACCOUNT1};
use serde_json::json;
use std::collections::HashMap;
use std::io::BufRead;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn epoch_ms() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64() * 1000.0
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let tools = std::env::var("PALISADE_PLAYWRIGHT").unwrap_or_else(|_| {
        format!(
            "{}/.cache/palisade-tools/node_modules/playwright-core",
            std::env::var("HOME").unwrap_or_default()
        )
    });
    if !std::path::Path::new(&tools).join("package.json").exists()
        || !std::path::Path::new("/usr/bin/chromium").exists()
    {
        eprintln!("dashboard_latency: needs playwright-core ({tools}) and /usr/bin/chromium");
        return;
    }
    let n: usize =
        std::env::var("DASHBOARD_BLOCKS").ok().and_then(|s| s.parse().ok()).unwrap_or(250);
    let anvil = Anvil::start(&[]).await;
    let vault = anvil.deploy(ACCOUNT0, &artifact_bytecode("Vault")).await;
    anvil.rpc("evm_setAutomine", json!([false])).await;
    let hook = free_port();
    let rx = Receiver::new(hook);
    rx.up().await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let cfg = dir.path().join("palisade.toml");
    std::fs::write(
        &cfg,
        format!(
            "data_dir = '{}'\n[api]\nlisten = '127.0.0.1:{port}'\n\n[[chains]]\nname = 'anvil'\nchain_id = 31337\nendpoints = [{{ url = '{}', ws = '{}' }}]\nrpc = {{ poll_interval_ms = 200, timeout_ms = 2000 }}\n\n[[detectors]]\ntype = 'rule'\nname = 'poke'\nevents = [{{ signature = 'Poked(address indexed by, uint256 value)' }}]\n\n[[sinks]]\ntype = 'webhook'\nurl = 'http://127.0.0.1:{hook}/hook'\nsecret = {{ env = 'PALISADE_TEST_WEBHOOK_SECRET' }}\n",
            dir.path().display(),
            anvil.http_url(),
            anvil.ws_url()
        ),
    )
    .unwrap();
    let mut p = common::Palisade::spawn(dir.path(), cfg, port);
    anvil.rpc("evm_mine", json!([])).await;
    p.wait_synced(&anvil).await;
    let _ = WEBHOOK_SECRET;

    // The page, open and live before the first block.
    let out = dir.path().join("painted.json");
    let mut node = std::process::Command::new("node")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser/dashboard.cjs"))
        .arg("watch")
        .env("PALISADE_PLAYWRIGHT", &tools)
        .env("PALISADE_URL", format!("http://127.0.0.1:{port}"))
        .env("COUNT", n.to_string())
        .env("OUT", &out)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("node");
    let stdout = node.stdout.take().unwrap();
    let ready = tokio::task::spawn_blocking(move || {
        std::io::BufReader::new(stdout).lines().map_while(Result::ok).any(|l| l == "READY")
    });
    assert!(ready.await.unwrap(), "the page never went live");

    // The risk stream, read as a client would: block number -> when its point arrived.
    let seen: std::sync::Arc<std::sync::Mutex<HashMap<u64, Instant>>> = Default::default();
    {
        let seen = seen.clone();
        let mut resp = reqwest::get(format!("http://127.0.0.1:{port}/risk/anvil/events"))
            .await
            .expect("risk events");
        tokio::spawn(async move {
            let mut buf = String::new();
            while let Ok(Some(chunk)) = resp.chunk().await {
                let at = Instant::now();
                buf.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(i) = buf.find('\n') {
                    let line: String = buf.drain(..=i).collect();
                    if let Some(d) = line.strip_prefix("data:") {
                        if let Ok(v) = serde_json::from_str::<serde_json::Value>(d.trim()) {
                            if let Some(n) = v["block"]["number"].as_u64() {
                                seen.lock().unwrap().entry(n).or_insert(at);
                            }
                        }
                    }
                }
            }
        });
    }
    let mut risk_ms = Vec::new();
    let mut mined: HashMap<String, (Instant, f64)> = HashMap::new();
    let mut hook_ms = Vec::new();
    for i in 0..n {
        let tx = anvil
            .rpc("eth_sendTransaction", json!([{"from": ACCOUNT1, "to": vault, "data": calldata("poke(uint256)", &[&format!("{i:x}")]), "gas": "0x100000"}]))
            .await;
        let tx = tx.as_str().unwrap().to_string();
        let (t0, e0) = (Instant::now(), epoch_ms());
        anvil.rpc("evm_mine", json!([])).await;
        mined.insert(tx.clone(), (t0, e0));
        let at = common::wait_for(20, "the webhook", || async {
            rx.received().iter().find(|r| r.body["tx_hashes"][0] == tx.as_str()).map(|r| r.at)
        })
        .await;
        hook_ms.push(at.duration_since(t0).as_secs_f64() * 1000.0);
        let number = anvil.block_number().await;
        let at = common::wait_for(20, "the risk point", || async {
            seen.lock().unwrap().get(&number).copied()
        })
        .await;
        risk_ms.push(at.duration_since(t0).as_secs_f64() * 1000.0);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let status = tokio::task::spawn_blocking(move || node.wait()).await.unwrap().unwrap();
    assert!(status.success(), "the page watcher failed");
    let painted: HashMap<String, f64> =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let mut page_ms: Vec<f64> =
        mined.iter().filter_map(|(tx, (_, e0))| painted.get(tx).map(|at| at - e0)).collect();
    assert_eq!(page_ms.len(), n, "every block's alert painted");
    let (bp50, bp99, bmax) =
        (pct(&mut page_ms, 0.5), pct(&mut page_ms, 0.99), pct(&mut page_ms, 1.0));
    let (wp50, wp99, wmax) =
        (pct(&mut hook_ms, 0.5), pct(&mut hook_ms, 0.99), pct(&mut hook_ms, 1.0));
    println!("dashboard_latency: {n} blocks, one finding each, page open in headless Chromium");
    println!("  block mined -> row painted in the browser: p50 {bp50:.2} ms, p99 {bp99:.2} ms, max {bmax:.2} ms");
    println!("  block mined -> webhook (reference):        p50 {wp50:.2} ms, p99 {wp99:.2} ms, max {wmax:.2} ms");
    println!("  ratio browser/webhook: p50 {:.2}x, p99 {:.2}x", bp50 / wp50, bp99 / wp99);
    println!("  goal p99 < 100 ms: {}", if bp99 < 100.0 { "met" } else { "NOT met" });
    let (rp50, rp99, rmax) =
        (pct(&mut risk_ms, 0.5), pct(&mut risk_ms, 0.99), pct(&mut risk_ms, 1.0));
    println!("  block mined -> risk point on /risk/anvil/events: p50 {rp50:.2} ms, p99 {rp99:.2} ms, max {rmax:.2} ms");
    println!("  ratio risk/webhook: p50 {:.2}x, p99 {:.2}x", rp50 / wp50, rp99 / wp99);
    println!("  goal p99 < 50 ms: {}", if rp99 < 50.0 { "met" } else { "NOT met" });
}
