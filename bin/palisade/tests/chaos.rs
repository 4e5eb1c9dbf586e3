//! What a chaos run found (issue 11), each against a real anvil and a local receiver: a reorg
//! that returns to a block seen before (A -> B -> A) reopens the alert and notifies it again; a
//! restart in the middle of a rate-limited burst does not reset the limit; after a sink outage
//! the backlog arrives at once, in block order, a resolve after its own alert.

mod common;

use common::*;
use palisade_testing::anvil::{artifact_bytecode, calldata, Anvil, ACCOUNT0, ACCOUNT1};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const POKE: &str = r#"
[[detectors]]
type = "rule"
name = "poke"
severity = "low"
events = [{ signature = "Poked(address indexed by, uint256 value)" }]
"#;

fn poke(value: u64) -> String {
    calldata("poke(uint256)", &[&format!("{value:x}")])
}

fn hook(port: u16) -> String {
    format!("\n[[sinks]]\ntype = 'webhook'\nurl = 'http://127.0.0.1:{port}/hook'\nsecret = {{ env = 'PALISADE_TEST_WEBHOOK_SECRET' }}\n")
}

fn hex(v: &Value) -> u64 {
    u64::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

async fn snapshot(anvil: &Anvil) -> Value {
    anvil.rpc("evm_snapshot", json!([])).await
}

/// Mines one block at `timestamp` with a fixed base fee holding `raw` (or nothing).
async fn mine_at(anvil: &Anvil, timestamp: u64, raw: Option<&str>) {
    anvil.rpc("anvil_setNextBlockBaseFeePerGas", json!(["0x3b9aca00"])).await;
    anvil.rpc("evm_setNextBlockTimestamp", json!([timestamp])).await;
    match raw {
        Some(r) => {
            let h = anvil.rpc("eth_sendRawTransaction", json!([r])).await;
            anvil.receipt(h.as_str().unwrap()).await;
        }
        None => {
            anvil.rpc("evm_mine", json!([])).await;
        }
    }
}

/// Issue 11, defect 1: A -> B -> A. The same signed transaction in the identical block A comes
/// back; its finding (same key) must reopen, and the receiver's last word on it must be a new
/// `alert`, after the `resolve`.
#[tokio::test(flavor = "multi_thread")]
async fn a_reorg_that_returns_to_a_block_seen_before_reopens_and_notifies_its_alert() {
    let anvil = Anvil::start(&[]).await;
    let vault = anvil.deploy(ACCOUNT0, &artifact_bytecode("Vault")).await;
    anvil.mine(3).await;
    let port = palisade_testing::anvil::free_port();
    let rx = Receiver::new(port);
    rx.up().await;
    let dir = tempfile::tempdir().unwrap();
    let mut p = Palisade::start(dir.path(), &anvil, &format!("{POKE}{}", hook(port)));
    p.wait_synced(&anvil).await;

    let head = anvil.block_number().await;
    let base = anvil.rpc("eth_getBlockByNumber", json!([format!("{head:#x}"), false])).await;
    let t = hex(&base["timestamp"]) + 100;
    let nonce = anvil.rpc("eth_getTransactionCount", json!([ACCOUNT1, "latest"])).await;
    let raw = anvil
        .rpc(
            "eth_signTransaction",
            json!([{"from": ACCOUNT1, "to": vault, "data": poke(7), "gas": "0x30000",
                "maxFeePerGas": "0x174876e800", "maxPriorityFeePerGas": "0x1", "nonce": nonce,
                "chainId": "0x7a69"}]),
        )
        .await;
    let raw = raw.as_str().unwrap().to_string();

    // A.
    let s = snapshot(&anvil).await;
    mine_at(&anvil, t, Some(&raw)).await;
    let a_hash = anvil.block_hash(head + 1).await;
    p.wait_synced(&anvil).await;
    let key = wait_for(20, "the poke's alert at the receiver", || async {
        rx.received().iter().find(|r| r.body["action"] == "alert").map(|r| r.body["key"].clone())
    })
    .await;
    let key = key.as_str().unwrap().to_string();

    // A -> B: two other blocks at the same heights and one more.
    anvil.rpc("evm_revert", json!([s])).await;
    let s = snapshot(&anvil).await;
    mine_at(&anvil, t + 1, None).await;
    mine_at(&anvil, t + 2, None).await;
    p.wait_synced(&anvil).await;
    wait_for(20, "the resolve at the receiver", || async {
        rx.received()
            .iter()
            .any(|r| r.body["key"] == key && r.body["action"] == "resolve")
            .then_some(())
    })
    .await;

    // B -> A: the identical block A again, then a longer chain on it.
    anvil.rpc("evm_revert", json!([s])).await;
    mine_at(&anvil, t, Some(&raw)).await;
    assert_eq!(anvil.block_hash(head + 1).await, a_hash, "anvil rebuilt the identical block A");
    mine_at(&anvil, t + 3, None).await;
    mine_at(&anvil, t + 4, None).await;
    p.wait_synced(&anvil).await;
    let seen = wait_for(20, "the reopened alert at the receiver", || async {
        let seen: Vec<(String, String, i64)> = rx
            .received()
            .iter()
            .filter(|r| r.body["key"] == key)
            .map(|r| {
                (
                    r.body["action"].as_str().unwrap().to_string(),
                    r.header("idempotency-key").unwrap().to_string(),
                    r.body["revision"].as_i64().unwrap(),
                )
            })
            .collect();
        (seen.len() >= 3).then_some(seen)
    })
    .await;
    assert_eq!(
        seen,
        vec![
            ("alert".to_string(), format!("{key}:alert"), 0),
            ("resolve".to_string(), format!("{key}:resolve"), 0),
            ("alert".to_string(), format!("{key}:alert:1"), 1),
        ],
        "a new notification, in order after the resolve"
    );
    let stored = p.store().await.get_alert(&key).await.unwrap();
    assert_eq!((stored.status.as_str(), stored.revision), ("open", 1));
    // The transaction on the final canonical chain has an active alert, exactly one.
    let open = p.alerts().await.into_iter().filter(|a| a.status == "open").count();
    assert_eq!(open, 1);
}

/// Issue 11, defect 2: `max_actions = 3` per hour held across a restart in the middle of the
/// burst (it sent 6 before).
#[tokio::test(flavor = "multi_thread")]
async fn a_restart_in_a_rate_limited_burst_is_still_held_to_the_limit() {
    let anvil = Anvil::start(&[]).await;
    let vault = anvil.deploy(ACCOUNT0, &artifact_bytecode("Vault")).await;
    let port = palisade_testing::anvil::free_port();
    let actions = Receiver::new(port);
    actions.up().await;
    let dir = tempfile::tempdir().unwrap();
    let body = format!(
        "{POKE}\n[[responders]]\nname = 'incident-bot'\ntype = 'webhook_action'\ndry_run = false\nwebhook = {{ url = 'http://127.0.0.1:{port}/act' }}\n[responders.policy]\ndetectors = ['rule:poke']\nmin_severity = 'low'\nmax_actions = 3\nper_seconds = 3600\n"
    );
    let mut p = Palisade::start(dir.path(), &anvil, &body);
    p.wait_synced(&anvil).await;
    for i in 0..2u64 {
        anvil.send(ACCOUNT1, Some(&vault), &poke(i), 0).await;
    }
    p.wait_synced(&anvil).await;
    wait_for(20, "two actions", || async { (actions.received().len() >= 2).then_some(()) }).await;
    // An ordinary restart (and a crash-looping process alike) in the middle of the burst.
    p.kill9();
    p.restart();
    p.wait_synced(&anvil).await;
    for i in 2..8u64 {
        anvil.send(ACCOUNT1, Some(&vault), &poke(i), 0).await;
    }
    p.wait_synced(&anvil).await;
    let store = p.store().await;
    let rows = wait_for(20, "every decision stored", || async {
        let rows = store.list_responses(100).await.ok()?;
        (rows.len() >= 8).then_some(rows)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(actions.received().len(), 3, "three actions in the hour, restart or not");
    let limited = rows.iter().filter(|r| r.outcome == "rate_limited").count();
    let done = rows.iter().filter(|r| r.outcome == "done").count();
    assert_eq!((done, limited), (3, 5), "{rows:?}");
}

/// Issue 11, defect 5: a backlog built during a sink outage (alerts of many blocks, and the
/// resolve of one reorged out) arrives at once when the sink answers again, in block order, a
/// resolve never before its own alert.
#[tokio::test(flavor = "multi_thread")]
async fn after_a_sink_outage_the_backlog_arrives_at_once_in_block_order() {
    let anvil = Anvil::start(&[]).await;
    let vault = anvil.deploy(ACCOUNT0, &artifact_bytecode("Vault")).await;
    let port = palisade_testing::anvil::free_port();
    let rx = Receiver::new(port);
    let dir = tempfile::tempdir().unwrap();
    let mut p = Palisade::start(dir.path(), &anvil, &format!("{POKE}{}", hook(port)));
    p.wait_synced(&anvil).await;
    for i in 0..40u64 {
        anvil.send(ACCOUNT1, Some(&vault), &poke(i), 0).await;
    }
    // The newest poke's block is reorged out: its resolve joins the backlog after its alert.
    p.wait_synced(&anvil).await;
    anvil.rpc("anvil_reorg", json!([1, []])).await;
    p.wait_synced(&anvil).await;
    let store = p.store().await;
    let t = Instant::now();
    loop {
        let depth = store.outbox_depth().await.unwrap();
        if depth >= 41 && p.log().contains("Delivery failed") {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(30), "backlog {depth}:\n{}", p.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    rx.up().await;
    let up = Instant::now();
    let got = wait_for(90, "the whole backlog", || async {
        let got = rx.received();
        (got.len() >= 41).then_some(got)
    })
    .await;
    let first = got.first().unwrap().at;
    let last = got.last().unwrap().at;
    eprintln!(
        "first delivery {:?} after the sink came back; the backlog of {} took {:?}",
        first.duration_since(up),
        got.len(),
        last.duration_since(first)
    );
    assert!(
        last.duration_since(first) < Duration::from_secs(5),
        "once the sink answered, the backlog came at once (took {:?})",
        last.duration_since(first)
    );
    let order: Vec<(u64, String)> = got
        .iter()
        .map(|r| {
            (
                r.body["block_number"].as_u64().unwrap(),
                r.body["action"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for w in order.windows(2) {
        assert!(
            w[1].0 > w[0].0 || (w[1].0 == w[0].0 && w[0].1 == "alert" && w[1].1 == "resolve"),
            "out of order: {:?} then {:?} in {order:?}",
            w[0],
            w[1]
        );
    }
    assert_eq!(order.last().unwrap().1, "resolve");
}
