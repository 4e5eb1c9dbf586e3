//! Live latency on a local anvil: block mined -> alert received by a local webhook, over N blocks
//! (default 1000; `LATENCY_BLOCKS`), next to the reference measured in the same run: the time
//! until a bare WebSocket `newHeads` subscriber hears of the same block (the floor for any
//! push-based monitor).
//!
//! With `LATENCY_ENDPOINTS=3`, palisade follows the node through three endpoints (the node
//! itself and two TCP proxies in front of it, each with a WebSocket) with a quorum of 2: every
//! block is voted on before it is fetched.
//!
//! Run: scripts/bench.sh (or `cargo bench -p palisade --bench live_latency`; needs PALISADE_ANVIL).

#[path = "../tests/common/mod.rs"]
#[allow(missing_docs)]
mod common;

use common::{pct, Palisade, Proxy, Receiver};
use palisade_testing::anvil::{artifact_bytecode, calldata, free_port, Anvil, ACCOUNT0, ACCOUNT1};
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: u64 = std::env::var("LATENCY_BLOCKS").ok().and_then(|s| s.parse().ok()).unwrap_or(1000);
    let anvil = Anvil::start(&[]).await;
    let vault = anvil.deploy(ACCOUNT0, &artifact_bytecode("Vault")).await;
    anvil.rpc("evm_setAutomine", json!([false])).await;
    let port = free_port();
    let rx = Receiver::new(port);
    rx.up().await;
    let dir = tempfile::tempdir().unwrap();
    let body = format!(
        "[[detectors]]\ntype = 'rule'\nname = 'poke'\naddresses = ['{vault}']\nevents = [{{ signature = 'Poked(address indexed by, uint256 value)' }}]\n\n[[sinks]]\ntype = 'webhook'\nurl = 'http://127.0.0.1:{port}/hook'\nsecret = {{ env = 'PALISADE_TEST_WEBHOOK_SECRET' }}\n"
    );
    let endpoints: u64 =
        std::env::var("LATENCY_ENDPOINTS").ok().and_then(|s| s.parse().ok()).unwrap_or(1);
    let mut proxies = Vec::new();
    let mut list = vec![format!("{{ url = '{}', ws = '{}' }}", anvil.http_url(), anvil.ws_url())];
    for _ in 1..endpoints {
        let pr = Proxy::start(anvil.port).await;
        list.push(format!(
            "{{ url = 'http://127.0.0.1:{p}', ws = 'ws://127.0.0.1:{p}' }}",
            p = pr.port
        ));
        proxies.push(pr);
    }
    let mut p = Palisade::start_endpoints(dir.path(), &format!("[{}]", list.join(", ")), 32, &body);
    p.wait_synced(&anvil).await;

    // The reference: a bare newHeads subscriber.
    let heard = common::heads_heard(&anvil).await;

    let (mut alert_ms, mut ref_ms) = (Vec::new(), Vec::new());
    for i in 0..n {
        anvil.rpc("eth_sendTransaction", json!([{"from": ACCOUNT1, "to": vault, "data": calldata("poke(uint256)", &[&format!("{i:x}")]), "gas": "0x100000"}])).await;
        let t0 = Instant::now();
        anvil.rpc("evm_mine", json!([])).await;
        let block = anvil.block_number().await;
        let got = common::wait_for(10, "the alert", || async {
            rx.received().iter().find(|r| r.body["block_number"] == block).map(|r| r.at)
        })
        .await;
        alert_ms.push((got - t0).as_secs_f64() * 1e3);
        if let Some(t) = heard.lock().unwrap().get(&block) {
            ref_ms.push((*t - t0).as_secs_f64() * 1e3);
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let (a50, a99, amax) =
        (pct(&mut alert_ms, 0.5), pct(&mut alert_ms, 0.99), pct(&mut alert_ms, 1.0));
    let (r50, r99) = (pct(&mut ref_ms, 0.5), pct(&mut ref_ms, 0.99));
    println!(
        "live latency over {n} blocks (anvil, {endpoints} endpoint(s), quorum {}, WebSocket newHeads, SQLite store, signed webhook):",
        endpoints / 2 + 1
    );
    println!(
        "  reference: newHeads heard by a bare subscriber   p50 {r50:7.2} ms   p99 {r99:7.2} ms"
    );
    println!("  palisade: block mined -> alert at the webhook    p50 {a50:7.2} ms   p99 {a99:7.2} ms   max {amax:7.2} ms");
    println!(
        "  ratio palisade/reference: p50 {:.1}x, p99 {:.1}x (target: p99 under 50 ms)",
        a50 / r50.max(1e-3),
        a99 / r99.max(1e-3)
    );
    let alerts = p.alerts().await.len();
    assert!(alerts as u64 >= n, "every block's alert was stored ({alerts})");
    p.kill9();
}
