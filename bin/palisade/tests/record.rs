//! `palisade record` against a node that is far away and rations its answers: a local proxy in
//! front of anvil adds 25 ms to every request and answers some with 429 and a Retry-After.
//! The recording equals one made directly; a recording killed mid-way (its `.zst` cut inside a
//! frame) and one interrupted with Ctrl-C stay readable and `--resume` completes them to the
//! same lines; blocks go one JSON-RPC batch each.

mod common;

use common::{slow_proxy, BIN};
use palisade_testing::anvil::{Anvil, ACCOUNT1, ACCOUNT2};
use serde_json::json;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// A chain of `n` blocks, a transfer in most.
async fn chain(n: u64) -> Anvil {
    let anvil = Anvil::start(&[]).await;
    for i in 0..n {
        if i % 4 != 0 {
            anvil
                .rpc(
                    "eth_sendTransaction",
                    json!([{"from": ACCOUNT1, "to": ACCOUNT2, "value": format!("{:#x}", i + 1)}]),
                )
                .await;
        } else {
            anvil.mine(1).await;
        }
    }
    anvil
}

fn record(rpc: &str, to: u64, out: &std::path::Path, extra: &[&str]) -> std::process::Output {
    std::process::Command::new(BIN)
        .args(["record", "--rpc", rpc, "--from", "0", "--to", &to.to_string()])
        .args(["-o", out.to_str().unwrap()])
        .args(extra)
        .output()
        .unwrap()
}

fn lines(path: &std::path::Path) -> Vec<String> {
    let raw = std::fs::read(path).unwrap();
    let text = if path.extension().is_some_and(|e| e == "zst") {
        zstd::stream::decode_all(&raw[..]).expect("every frame decodes")
    } else {
        raw
    };
    String::from_utf8(text).unwrap().lines().map(str::to_string).collect()
}

fn numbers(ls: &[String]) -> Vec<u64> {
    ls.iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            u64::from_str_radix(v["block"]["number"].as_str().unwrap().trim_start_matches("0x"), 16)
                .unwrap()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_rate_limiting_node_is_recorded_in_order_one_batch_a_block() {
    let anvil = chain(80).await;
    let head = anvil.block_number().await;
    let dir = tempfile::tempdir().unwrap();
    let direct = dir.path().join("direct.jsonl");
    assert!(record(&anvil.http_url(), head, &direct, &["--concurrency", "1"]).status.success());
    // Every 9th request answered 429 with Retry-After: 1 (six times).
    let (url, s) = slow_proxy(&anvil, 9, 6).await;
    let slow = dir.path().join("slow.jsonl.zst");
    let out = record(&url, head, &slow, &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(s.limited.load(Ordering::SeqCst), 6, "the node did ration");
    let (a, b) = (lines(&direct), lines(&slow));
    assert_eq!(numbers(&b), (0..=head).collect::<Vec<_>>(), "every block once, in order");
    assert_eq!(a, b, "the same lines as a direct recording");
    // Block, receipts and traces in one request per block (plus the 429s asked again).
    let requests = s.requests.load(Ordering::SeqCst);
    assert_eq!(requests, head + 1 + 6, "{requests} requests for {} blocks", head + 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_recording_and_an_interrupted_one_resume_to_the_same_lines() {
    let anvil = chain(300).await;
    let head = anvil.block_number().await;
    let dir = tempfile::tempdir().unwrap();
    let direct = dir.path().join("direct.jsonl");
    assert!(record(&anvil.http_url(), head, &direct, &[]).status.success());
    let want = lines(&direct);
    let (url, _s) = slow_proxy(&anvil, 0, 0).await;

    // kill -9 part way (one block in flight at a time, 25 ms each), then the file cut inside
    // its last frame, as a crash in the middle of a write leaves it.
    let killed = dir.path().join("killed.jsonl.zst");
    let mut child = std::process::Command::new(BIN)
        .args(["record", "--rpc", &url, "--from", "0", "--to", &head.to_string()])
        .args(["-o", killed.to_str().unwrap(), "--concurrency", "1"])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    common::wait_for(30, "two frames written", || async {
        (std::fs::metadata(&killed).map(|m| m.len()).unwrap_or(0) > 0 && lines(&killed).len() >= 64)
            .then_some(())
    })
    .await;
    child.kill().unwrap();
    child.wait().unwrap();
    let len = std::fs::metadata(&killed).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&killed).unwrap();
    f.set_len(len - 7).unwrap();
    drop(f);
    let out = record(&url, head, &killed, &["--resume"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("resuming after block") && err.contains("unfinished chunk"), "{err}");
    assert_eq!(lines(&killed), want, "resumed: every block once, the same lines");

    // Ctrl-C (SIGINT): the run stops with the chunks it has, the file decodes whole, and
    // --resume completes it.
    let stopped = dir.path().join("stopped.jsonl.zst");
    let child = std::process::Command::new(BIN)
        .args(["record", "--rpc", &url, "--from", "0", "--to", &head.to_string()])
        .args(["-o", stopped.to_str().unwrap(), "--concurrency", "1"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", String::from_utf8_lossy(&out.stderr));
    let got = lines(&stopped);
    assert!(!got.is_empty() && got.len() < want.len(), "{} of {}", got.len(), want.len());
    assert_eq!(got[..], want[..got.len()]);
    let out = record(&url, head, &stopped, &["--resume"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(lines(&stopped), want);
    // Nothing left to do: a second --resume says so.
    let out = record(&url, head, &stopped, &["--resume"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing to record"));
}
