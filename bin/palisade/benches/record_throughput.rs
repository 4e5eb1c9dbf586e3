//! `palisade record` from a node 25 ms away: anvil behind a local proxy that adds 25 ms to
//! every request. In the same run, the reference is the way record fetched before (one block
//! at a time, block, receipts and traces one request each: `RpcClient::block_by_number`), then
//! `palisade record` with one block in flight (one batch per block) and with its default window
//! of 16.
//!
//! Run: `cargo bench -p palisade --bench record_throughput` (needs PALISADE_ANVIL;
//! `RECORD_BLOCKS` blocks, default 1000).

#[path = "../tests/common/mod.rs"]
#[allow(missing_docs)]
mod common;

use palisade_source::evm_rpc::{EndpointConfig, Enrich, RpcClient};
use palisade_testing::anvil::{Anvil, ACCOUNT1, ACCOUNT2};
use serde_json::json;
use std::time::Instant;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: u64 = std::env::var("RECORD_BLOCKS").ok().and_then(|s| s.parse().ok()).unwrap_or(1000);
    let anvil = Anvil::start(&[]).await;
    for i in 0..n {
        anvil
            .rpc(
                "eth_sendTransaction",
                json!([{"from": ACCOUNT1, "to": ACCOUNT2, "value": format!("{:#x}", i + 1)}]),
            )
            .await;
    }
    // Transactions sent quickly can share a block: empty blocks make up the count.
    let mined = anvil.block_number().await;
    if mined < n {
        anvil.mine(n - mined).await;
    }
    let head = anvil.block_number().await;
    let (url, proxy) = common::slow_proxy(&anvil, 0, 0).await;
    let dir = tempfile::tempdir().unwrap();

    // The reference: how record fetched before, one block and three requests at a time.
    let eps = RpcClient::new(&EndpointConfig::http(&url), &Default::default()).unwrap();
    let enrich = Enrich { receipts: true, traces: true };
    let t = Instant::now();
    for b in 1..=head {
        eps.block_by_number(b, enrich).await.unwrap().unwrap();
    }
    let before = t.elapsed().as_secs_f64();
    let before_requests = proxy.requests.load(std::sync::atomic::Ordering::SeqCst);

    let run = |c: &str| {
        let out = dir.path().join(format!("rec-{c}.jsonl.zst"));
        let t = Instant::now();
        let st = std::process::Command::new(common::BIN)
            .args(["record", "--rpc", &url, "--from", "1", "--to", &head.to_string()])
            .args(["-o", out.to_str().unwrap(), "--concurrency", c])
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(st.success());
        t.elapsed().as_secs_f64()
    };
    let one = run("1");
    let sixteen = run("16");
    let rate = |s: f64| head as f64 / s;
    println!("record_throughput: {head} anvil blocks (nearly all with a transfer) through a proxy adding 25 ms per request");
    println!(
        "  reference: one block at a time, 3 requests each ({before_requests} requests): {:.1} s, {:.1} blocks/s",
        before,
        rate(before)
    );
    println!(
        "  palisade record --concurrency 1 (one batch per block): {one:.1} s, {:.1} blocks/s ({:.2}x)",
        rate(one),
        before / one
    );
    println!(
        "  palisade record --concurrency 16 (default):            {sixteen:.1} s, {:.1} blocks/s ({:.2}x)",
        rate(sixteen),
        before / sixteen
    );
    println!("  goal >= 10x: {}", if before / sixteen >= 10.0 { "met" } else { "NOT met" });
}
