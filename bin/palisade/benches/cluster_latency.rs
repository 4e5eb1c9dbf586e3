//! A cluster on one machine: 4 chains (4 anvils) over 3 `palisade run` members sharing the
//! machine's NATS JetStream and PostgreSQL. Measures, in the same run:
//!
//! - block mined -> alert at a local webhook, over N blocks per chain (default 100;
//!   `CLUSTER_BLOCKS`), next to a bare WebSocket `newHeads` subscriber hearing the same blocks;
//! - takeover: the owner of a chain killed with SIGKILL while a block is mined every 100 ms: the
//!   time from the kill to the first alert of a block mined after it, next to the lease TTL.
//!
//! Run: `cargo bench -p palisade --bench cluster_latency` (needs PALISADE_ANVIL,
//! PALISADE_TEST_POSTGRES_URL and NATS at PALISADE_TEST_NATS_URL or 127.0.0.1:4222).

#[path = "../tests/common/mod.rs"]
#[allow(missing_docs)]
mod common;

use common::cluster::*;
use common::{heads_heard, pct, Receiver};
use palisade_testing::anvil::{artifact_bytecode, calldata, free_port, Anvil, ACCOUNT0, ACCOUNT1};
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let Some((pg, nats)) = services().await else {
        eprintln!("cluster_latency: PostgreSQL and NATS are needed");
        return;
    };
    let n: u64 = std::env::var("CLUSTER_BLOCKS").ok().and_then(|s| s.parse().ok()).unwrap_or(100);
    let db = fresh_db(&pg).await;
    let prefix = prefix();
    let mut anvils = Vec::new();
    let mut vault = String::new();
    for _ in 0..4 {
        let a = Anvil::start(&[]).await;
        // The same deployer and nonce on every anvil: one address.
        vault = a.deploy(ACCOUNT0, &artifact_bytecode("Vault")).await;
        a.rpc("evm_setAutomine", json!([false])).await;
        anvils.push(a);
    }
    let port = free_port();
    let rx = Receiver::new(port);
    rx.up().await;
    let dir = tempfile::tempdir().unwrap();
    let names = ["c0", "c1", "c2", "c3"];
    let pairs: Vec<(&str, &Anvil)> = names.iter().copied().zip(anvils.iter()).collect();
    let chains = chains_toml(&pairs);
    let body = format!(
        "[[detectors]]\ntype = 'rule'\nname = 'poke'\nevents = [{{ signature = 'Poked(address indexed by, uint256 value)' }}]\n\n[[sinks]]\ntype = 'webhook'\nurl = 'http://127.0.0.1:{port}/hook'\nsecret = {{ env = 'PALISADE_TEST_WEBHOOK_SECRET' }}\n"
    );
    let all = ["owner", "deliverer", "responder", "api"];
    let mut members: Vec<Member> = ["a", "b", "c"]
        .iter()
        .map(|m| Member::new(dir.path(), m, &all, &db, &nats, &prefix, &chains, &body))
        .collect();
    // Every chain owned and followed.
    common::wait_for(60, "every chain owned", || async {
        let h = members[0].health().await?;
        (h["cluster"]["leases"].as_object()?.len() == 4).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut heard = Vec::new();
    for a in &anvils {
        heard.push(heads_heard(a).await);
    }
    let (mut alert_ms, mut ref_ms) = (Vec::new(), Vec::new());
    let block_of = |chain: &str, number: u64, rx: &Receiver| {
        rx.received()
            .iter()
            .find(|r| r.body["chain"] == chain && r.body["block_number"] == number)
            .map(|r| r.at)
    };
    for i in 0..n {
        for (k, a) in anvils.iter().enumerate() {
            a.rpc("eth_sendTransaction", json!([{"from": ACCOUNT1, "to": vault, "data": calldata("poke(uint256)", &[&format!("{i:x}")]), "gas": "0x100000"}])).await;
            let t0 = Instant::now();
            a.rpc("evm_mine", json!([])).await;
            let number = a.block_number().await;
            let got =
                common::wait_for(20, "the alert", || async { block_of(names[k], number, &rx) })
                    .await;
            alert_ms.push((got - t0).as_secs_f64() * 1e3);
            if let Some(t) = heard[k].lock().unwrap().get(&number) {
                ref_ms.push((*t - t0).as_secs_f64() * 1e3);
            }
        }
    }
    let (a50, a99) = (pct(&mut alert_ms, 0.5), pct(&mut alert_ms, 0.99));
    let (r50, r99) = (pct(&mut ref_ms, 0.5), pct(&mut ref_ms, 0.99));
    println!("cluster: 4 chains over 3 members (NATS JetStream leases, shared PostgreSQL), {n} blocks per chain:");
    println!(
        "  reference: newHeads heard by a bare subscriber   p50 {r50:7.2} ms   p99 {r99:7.2} ms"
    );
    println!("  palisade: block mined -> alert at the webhook    p50 {a50:7.2} ms   p99 {a99:7.2} ms (target: p99 under 50 ms)");

    // Takeover: a block every 100 ms on c0; kill its owner.
    for a in &anvils {
        a.rpc("evm_setAutomine", json!([true])).await;
    }
    let mut takeovers = Vec::new();
    for round in 0..3 {
        let owner = common::wait_for(20, "c0's owner", || async {
            for m in &members {
                if let Some(h) = m.health().await {
                    if let Some(o) = h["cluster"]["leases"]["c0"]["owner"].as_str() {
                        return Some(o.to_string());
                    }
                }
            }
            None
        })
        .await;
        let i = members.iter().position(|m| m.name == owner).unwrap();
        // Steady state first: blocks of c0 alerted promptly.
        for v in 0..5 {
            anvils[0]
                .send(
                    ACCOUNT1,
                    Some(&vault),
                    &calldata("poke(uint256)", &[&format!("{:x}", 10_000 + round * 100 + v)]),
                    0,
                )
                .await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        members[i].kill9();
        let killed = Instant::now();
        let first_after = anvils[0].block_number().await + 1;
        let mut got = None;
        while killed.elapsed() < Duration::from_secs(30) {
            anvils[0].send(ACCOUNT1, Some(&vault), &calldata("poke(uint256)", &["1"]), 0).await;
            if let Some(at) = rx
                .received()
                .iter()
                .filter(|r| {
                    r.body["chain"] == "c0"
                        && r.body["block_number"].as_u64().unwrap_or(0) >= first_after
                })
                .map(|r| r.at)
                .min()
            {
                got = Some(at);
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let t = got.map(|at| (at - killed).as_secs_f64() * 1e3).unwrap_or(f64::NAN);
        takeovers.push(t);
        members[i].start();
        tokio::time::sleep(Duration::from_millis(TTL_MS * 2)).await;
    }
    println!(
        "  takeover after kill -9 of an owner (lease TTL {TTL_MS} ms, a block every 100 ms): kill -> first alert of a later block {:?} ms; ratio to TTL + one block: {:.2}x (target <= 1.0x)",
        takeovers.iter().map(|t| t.round()).collect::<Vec<_>>(),
        takeovers.iter().copied().fold(0.0, f64::max) / (TTL_MS as f64 + 100.0)
    );
}
