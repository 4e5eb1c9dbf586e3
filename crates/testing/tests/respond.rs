//! Responders on a real anvil: a pause signed from an encrypted keystore, priced above the
//! triggering transaction, replaced with higher fees while it is not mined, mined once, with the
//! next nonce for the next pause; a dry run sends nothing. The guarded contract is the defense
//! scenario's `GuardedVault` (testdata/contracts/src/Defense.sol).

use palisade_primitives::{BlockRef, Finding, PendingFacts, Severity};
use palisade_respond::{ChainLink, MemoryLedger, ResponderConfig, Responders, ResponseRecord};
use palisade_source::evm_rpc::{EndpointConfig, RpcClient, RpcSettings};
use palisade_testing::anvil::{artifact_bytecode, calldata, Anvil, ACCOUNT0, ACCOUNT2};
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// anvil's third test key (public; ACCOUNT2, the vault's guardian).
const GUARDIAN_KEY: &str = "5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a";

fn finding(n: u64, tip_gwei: u128) -> Finding {
    let mut f = Finding::new(
        "simulation:vault",
        "simulation",
        "local",
        BlockRef::synthetic(n),
        &format!("invariant:{n}"),
        Severity::Critical,
        "pending tx would break invariant",
    );
    f.facts.pending = Some(PendingFacts {
        hash: Default::default(),
        sender: "0x70997970c51812dc3a010c7d01b50e0d17dc79c8".parse().unwrap(),
        nonce: 0,
        priority_fee: tip_gwei * 1_000_000_000,
        max_fee: 100 * 1_000_000_000,
    });
    f
}

async fn setup(
    dir: &std::path::Path,
    dry_run: bool,
    max_actions: u32,
) -> (Anvil, String, Responders) {
    let anvil = Anvil::start(&[]).await;
    let guardian = format!("{:0>64}", ACCOUNT2.trim_start_matches("0x"));
    let vault =
        anvil.deploy(ACCOUNT0, &format!("{}{guardian}", artifact_bytecode("GuardedVault"))).await;
    let secret: Vec<u8> =
        (0..32).map(|i| u8::from_str_radix(&GUARDIAN_KEY[2 * i..2 * i + 2], 16).unwrap()).collect();
    let ks =
        palisade_respond::keys::write_keystore(dir, &secret, "test password 1", "guardian.json")
            .unwrap();
    std::env::set_var("PALISADE_TEST_RESPOND_PASSWORD", "test password 1");
    let cfg: ResponderConfig = serde_json::from_value(json!({
        "name": "pause-vault", "type": "pause_tx", "chain": "local", "dry_run": dry_run,
        "policy": {"detectors": ["simulation:vault"], "stage": "pending", "max_actions": max_actions, "per_seconds": 60},
        "tx": {"to": vault, "call": "pause()", "gas_limit": 100000, "replace_after_ms": 200, "max_replacements": 5},
        "key": {"keystore": ks, "password_env": "PALISADE_TEST_RESPOND_PASSWORD"},
    }))
    .unwrap();
    let rpc = Arc::new(
        RpcClient::new(&EndpointConfig::http(&anvil.http_url()), &RpcSettings::default()).unwrap(),
    );
    let links = HashMap::from([("local".to_string(), ChainLink { rpc, chain_id: 31337 })]);
    let rs = Responders::build(&[cfg], &links, None).unwrap();
    (anvil, vault, rs)
}

#[tokio::test]
async fn a_pause_not_mined_is_replaced_with_higher_fees_and_lands_once() {
    let dir = tempfile::tempdir().unwrap();
    let (anvil, vault, mut rs) = setup(dir.path(), false, 2).await;
    let ledger = MemoryLedger::default();
    anvil.rpc("evm_setAutomine", json!([false])).await;
    let jobs = rs.consider("local", &[finding(5, 4)], 1_000_000_000, &ledger).await;
    assert_eq!(jobs.len(), 1);
    let rec = jobs[0].record().clone();
    assert_eq!(
        rec.detail["priority_fee"],
        (6_000_000_001u128).to_string(),
        "50% over the trigger's 4 gwei"
    );
    assert_eq!(rec.detail["outbid"], true);
    let steps: Arc<Mutex<Vec<ResponseRecord>>> = Default::default();
    let s2 = steps.clone();
    let job = tokio::spawn(
        jobs.into_iter().next().unwrap().run(move |r| s2.lock().unwrap().push(r.clone())),
    );
    // Nothing is mined for a while: the pause is replaced.
    tokio::time::sleep(Duration::from_millis(900)).await;
    anvil.rpc("evm_mine", json!([])).await;
    let done = job.await.unwrap();
    assert_eq!(done.outcome, "mined", "{done:?}");
    assert!(done.detail["replacements"].as_u64().unwrap() >= 1, "{}", done.detail);
    assert_eq!(done.detail["nonce"], 0);
    let sent = steps.lock().unwrap().iter().find(|r| r.outcome == "sent").cloned().unwrap();
    assert_ne!(
        sent.detail["tx_hash"], done.detail["tx_hash"],
        "a replacement landed, not the first version"
    );
    // The mined version paid more than the first.
    let receipt = anvil.receipt(done.detail["tx_hash"].as_str().unwrap()).await;
    let paid = u128::from_str_radix(
        receipt["effectiveGasPrice"].as_str().unwrap().trim_start_matches("0x"),
        16,
    )
    .unwrap();
    assert!(paid > 6_000_000_001, "{paid}");
    let paused = anvil
        .rpc("eth_call", json!([{"to": vault, "data": calldata("paused()", &[])}, "latest"]))
        .await;
    assert!(paused.as_str().unwrap().ends_with('1'), "the vault is paused");
    // Only one version was mined: the guardian's nonce is 1.
    let nonce = anvil.rpc("eth_getTransactionCount", json!([ACCOUNT2, "latest"])).await;
    assert_eq!(nonce, json!("0x1"));
    // The next pause takes the next nonce.
    anvil.rpc("evm_setAutomine", json!([true])).await;
    let jobs = rs.consider("local", &[finding(6, 1)], 1_000_000_000, &ledger).await;
    let done = jobs.into_iter().next().unwrap().run(|_| {}).await;
    assert_eq!(
        (done.outcome.as_str(), &done.detail["nonce"]),
        ("reverted", &json!(1)),
        "pausing twice reverts: {done:?}"
    );
    // No step carries the key or the password.
    let all = format!("{:?}", steps.lock().unwrap());
    assert!(!all.contains(GUARDIAN_KEY) && !all.contains("test password 1"));
}

#[tokio::test]
async fn a_dry_run_records_the_plan_and_sends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (anvil, _vault, mut rs) = setup(dir.path(), true, 1).await;
    let ledger = MemoryLedger::default();
    let jobs = rs.consider("local", &[finding(5, 4)], 1_000_000_000, &ledger).await;
    let done = jobs.into_iter().next().unwrap().run(|_| {}).await;
    assert_eq!(done.outcome, "dry_run");
    assert!(done.dry_run);
    assert_eq!(done.detail["to"].as_str().map(str::to_lowercase), Some(_vault.to_lowercase()));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let nonce = anvil.rpc("eth_getTransactionCount", json!([ACCOUNT2, "pending"])).await;
    assert_eq!(nonce, json!("0x0"), "nothing was sent");
    // The rate limit (1) is spent: the next finding is refused and recorded so.
    let jobs = rs.consider("local", &[finding(6, 4)], 1_000_000_000, &ledger).await;
    assert_eq!(jobs[0].record().outcome, "rate_limited");
}

#[tokio::test]
async fn a_wrong_keystore_password_stops_the_start_and_says_why_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let secret = [7u8; 32];
    let ks =
        palisade_respond::keys::write_keystore(dir.path(), &secret, "right one", "k.json").unwrap();
    std::env::set_var("PALISADE_TEST_RESPOND_WRONG", "wrong one");
    let cfg: ResponderConfig = serde_json::from_value(json!({
        "name": "p", "type": "pause_tx", "chain": "local",
        "policy": {"detectors": ["simulation"]},
        "tx": {"to": "0x00000000000000000000000000000000000000aa", "call": "pause()"},
        "key": {"keystore": ks, "password_env": "PALISADE_TEST_RESPOND_WRONG"},
    }))
    .unwrap();
    let rpc = Arc::new(
        RpcClient::new(&EndpointConfig::http("http://127.0.0.1:1"), &RpcSettings::default())
            .unwrap(),
    );
    let links = HashMap::from([("local".to_string(), ChainLink { rpc, chain_id: 1 })]);
    let e = Responders::build(&[cfg], &links, None).unwrap_err().to_string();
    assert!(e.contains("wrong password") && e.contains("k.json"), "{e}");
    assert!(!e.contains("wrong one") && !e.contains("right one"), "{e}");
}

/// A one-request HTTP server: returns what was posted.
async fn one_post(listener: tokio::net::TcpListener) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (mut s, _) = listener.accept().await.unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = s.read(&mut chunk).await.unwrap();
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).to_string();
        if let Some(i) = text.find("\r\n\r\n") {
            let len: usize = text
                .lines()
                .find_map(|l| {
                    l.to_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            if buf.len() >= i + 4 + len {
                s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").await.unwrap();
                return text[i + 4..].to_string();
            }
        }
        if n == 0 {
            return String::new();
        }
    }
}

#[tokio::test]
async fn a_webhook_action_posts_the_finding_and_never_shows_its_url() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(one_post(listener));
    std::env::set_var(
        "PALISADE_TEST_ACTION_URL",
        format!("http://127.0.0.1:{port}/hooks/s3cr3t-token"),
    );
    let mk = |name: &str| -> ResponderConfig {
        serde_json::from_value(json!({
            "name": name, "type": "webhook_action", "dry_run": false,
            "policy": {"detectors": ["simulation"], "stage": "both"},
            "webhook": {"url": {"env": "PALISADE_TEST_ACTION_URL"}},
        }))
        .unwrap()
    };
    let mut rs = Responders::build(&[mk("incident-bot")], &HashMap::new(), None).unwrap();
    let ledger = MemoryLedger::default();
    let jobs = rs.consider("local", &[finding(9, 1)], 0, &ledger).await;
    let done = jobs.into_iter().next().unwrap().run(|_| {}).await;
    assert_eq!(done.outcome, "done", "{done:?}");
    let body: serde_json::Value = serde_json::from_str(&server.await.unwrap()).unwrap();
    assert_eq!(body["responder"], "incident-bot");
    assert_eq!(body["finding"]["detector"], "simulation:vault");
    assert!(!format!("{done:?}").contains("s3cr3t"));
    // Down: a failure that says what, not where.
    drop(rs);
    let mut rs = Responders::build(&[mk("incident-bot-2")], &HashMap::new(), None).unwrap();
    let jobs = rs.consider("local", &[finding(10, 1)], 0, &ledger).await;
    let done = jobs.into_iter().next().unwrap().run(|_| {}).await;
    assert_eq!(done.outcome, "failed");
    let e = done.error.clone().unwrap();
    assert!(e.contains("cannot connect") && !e.contains("s3cr3t"), "{e}");
}
