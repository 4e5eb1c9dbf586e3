//! Trust no node: three endpoints in front of real anvil nodes, one or two of them lying through a
//! tampering proxy. Each lie is caught (by verification or by the vote), the liar is quarantined
//! at the first block it lies about, no finding is made from its data, and monitoring goes on
//! with the honest endpoints; two liars alike are reported as a loss of quorum. Quarantined
//! endpoints are re-admitted after probation; lagging, stalled, syncing, isolated and slow
//! endpoints are reported; endpoints that disagree with no quorum are a divergence.

mod common;

use common::*;
use palisade_store::AlertRow;
use palisade_testing::anvil::{artifact_bytecode, calldata, free_port, Anvil, ACCOUNT0, ACCOUNT1};
use serde_json::{json, Value};
use std::time::Duration;

/// What a liar does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    WrongBlockHash,
    ChangedTxField,
    ForgedLog,
    DroppedLog,
    ReorderedLogs,
    WrongReceiptsRoot,
    WrongChainId,
    StaleHead,
    BadStorageProof,
    /// A transaction changed so that it cannot be rebuilt (an unknown type): evading the checks
    /// must not pass them.
    EvasiveTx,
    /// Not a lie of the proxy: it fronts a second anvil (another chain, same chain id).
    DifferentChain,
}

fn hex_u64(v: &Value) -> Option<u64> {
    u64::from_str_radix(v.as_str()?.trim_start_matches("0x"), 16).ok()
}

/// Changes the last hex digit of a hex string.
fn flip(v: &mut Value) {
    let s = v.as_str().unwrap_or("0x0").to_string();
    let new = if s.ends_with('0') { '1' } else { '0' };
    *v = Value::String(format!("{}{new}", &s[..s.len() - 1]));
}

fn is_full_block(r: &Value) -> bool {
    r.get("transactions")
        .is_some_and(|t| t.as_array().is_some_and(|a| a.iter().all(|x| x.is_object())))
}

/// The first receipt's block number.
fn receipts_block(r: &Value) -> Option<u64> {
    r.as_array()?.first().and_then(|x| hex_u64(&x["blockNumber"]))
}

const OWNER_CHANGED: &str = "0x8be0079c531659141344cd1fd0a4f28419497f9722a3daafe3b4186f6b6457e0";

impl Lie for Fault {
    fn request(&self, req: &mut Value) {
        if *self == Fault::StaleHead
            && req["method"] == "eth_getBlockByNumber"
            && req["params"][0] == "latest"
        {
            req["params"][0] = json!("0x1");
        }
    }

    fn response(&self, method: &str, params: &Value, r: &mut Value) -> Option<u64> {
        let block_method = method.starts_with("eth_getBlockBy") && r.is_object();
        let number = hex_u64(&r["number"]);
        match self {
            Fault::WrongBlockHash if block_method => {
                flip(&mut r["hash"]);
                number
            }
            Fault::ChangedTxField if block_method && is_full_block(r) => {
                let txs = r["transactions"].as_array_mut()?;
                let tx = txs.first_mut()?;
                tx["value"] = json!("0x56bc75e2d63100000"); // 100 ether
                number
            }
            Fault::EvasiveTx if block_method && is_full_block(r) => {
                let tx = r["transactions"].as_array_mut()?.first_mut()?;
                tx["type"] = json!("0x7e");
                tx["value"] = json!("0x56bc75e2d63100000");
                number
            }
            Fault::WrongReceiptsRoot if block_method => {
                flip(&mut r["receiptsRoot"]);
                number
            }
            Fault::ForgedLog if method == "eth_getBlockReceipts" => {
                let n = receipts_block(r)?;
                let first = r.as_array_mut()?.first_mut()?;
                let emitter =
                    first["to"].as_str().or(first["contractAddress"].as_str())?.to_string();
                let forged = json!({
                    "address": emitter,
                    "topics": [OWNER_CHANGED,
                        format!("0x{:0>64}", ACCOUNT0.trim_start_matches("0x")),
                        format!("0x{:0>64}", "66".repeat(20))],
                    "data": "0x", "logIndex": "0x63", "removed": false,
                    "blockNumber": first["blockNumber"], "blockHash": first["blockHash"],
                    "transactionHash": first["transactionHash"],
                    "transactionIndex": first["transactionIndex"],
                });
                first["logs"].as_array_mut()?.push(forged);
                Some(n)
            }
            Fault::DroppedLog if method == "eth_getBlockReceipts" => {
                let n = receipts_block(r)?;
                let with_logs = r
                    .as_array_mut()?
                    .iter_mut()
                    .find(|x| x["logs"].as_array().is_some_and(|l| !l.is_empty()))?;
                with_logs["logs"].as_array_mut()?.pop();
                Some(n)
            }
            Fault::ReorderedLogs if method == "eth_getBlockReceipts" => {
                let n = receipts_block(r)?;
                let list = r.as_array_mut()?;
                let with: Vec<usize> = (0..list.len())
                    .filter(|&i| list[i]["logs"].as_array().is_some_and(|l| !l.is_empty()))
                    .collect();
                if with.len() < 2 {
                    return None;
                }
                let a = list[with[0]]["logs"].take();
                let b = std::mem::replace(&mut list[with[1]]["logs"], a);
                list[with[0]]["logs"] = b;
                Some(n)
            }
            Fault::WrongChainId if method == "eth_chainId" => {
                *r = json!("0x1");
                Some(0)
            }
            Fault::StaleHead if method == "eth_blockNumber" => {
                *r = json!("0x1");
                Some(0)
            }
            Fault::StaleHead if method == "eth_getBlockByNumber" => {
                let asked = hex_u64(&params[0]);
                if asked.is_some_and(|n| n > 1) {
                    *r = Value::Null;
                    return asked;
                }
                (params[0] == "latest").then_some(0)
            }
            Fault::BadStorageProof if method == "eth_getProof" => {
                let sp = r["storageProof"].as_array_mut()?.first_mut()?;
                sp["value"] = json!("0xdead");
                Some(0)
            }
            _ => None,
        }
    }
}

fn detectors(vault: &str) -> String {
    format!(
        r#"
[[detectors]]
type = "rule"
name = "poke"
severity = "low"
events = [{{ signature = "Poked(address indexed by, uint256 value)" }}]

[[detectors]]
type = "rule"
name = "owner-change"
severity = "critical"
events = [{{ signature = "OwnerChanged(address indexed previousOwner, address indexed newOwner)" }}]

[[detectors]]
type = "rule"
name = "whale"
severity = "high"
transaction = {{ expression = "tx.value >= 10000000000000000000" }}

[[detectors]]
type = "storage_watch"
name = "vault"
slots = [{{ contract = "{vault}", slot = "0", label = "owner" }}]
accounts = [{{ address = "{vault}" }}]
"#
    )
}

const HEALTH: &str = "health = { quarantine_secs = 3600, probation_blocks = 3, probe_interval_ms = 200, min_peers = 0 }";

fn poke(v: u64) -> String {
    calldata("poke(uint256)", &[&format!("{v:x}")])
}

/// Sends two pokes mined in one block (so a block has two receipts with logs).
async fn two_pokes_in_one_block(anvil: &Anvil, vault: &str, a: u64, b: u64) {
    anvil.rpc("evm_setAutomine", json!([false])).await;
    let mut hashes = Vec::new();
    for v in [a, b] {
        let tx = json!({"from": ACCOUNT1, "to": vault, "data": poke(v), "gas": "0x100000"});
        hashes.push(anvil.rpc("eth_sendTransaction", json!([tx])).await);
    }
    anvil.rpc("evm_mine", json!([])).await;
    anvil.rpc("evm_setAutomine", json!([true])).await;
    for h in hashes {
        anvil.receipt(h.as_str().unwrap()).await;
    }
}

async fn health(p: &Palisade) -> Value {
    reqwest::get(format!("http://127.0.0.1:{}/health", p.api_port))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The state of the endpoint whose URL is `url`.
async fn endpoint_state(p: &Palisade, url: &str) -> Value {
    let h = health(p).await;
    h["chains"]["anvil"]["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["url"] == url)
        .cloned()
        .unwrap_or_else(|| panic!("no endpoint {url} in {h}"))
}

fn by(alerts: &[AlertRow], detector: &str) -> usize {
    alerts.iter().filter(|a| a.finding.detector == detector).count()
}

/// Alerts about the endpoint at `url`.
fn about<'a>(alerts: &'a [AlertRow], url: &str) -> Vec<&'a AlertRow> {
    alerts.iter().filter(|a| a.finding.evidence["endpoint"] == url).collect()
}

/// The checks that catch each lie.
fn expected_checks(f: Fault) -> &'static [&'static str] {
    match f {
        // Caught at the first block it lies about: the genesis, whose header does not hash to
        // what it claims.
        Fault::WrongBlockHash => &["lost_vote", "bad_data"],
        Fault::ChangedTxField
        | Fault::ForgedLog
        | Fault::DroppedLog
        | Fault::ReorderedLogs
        | Fault::EvasiveTx => &["bad_data"],
        Fault::WrongReceiptsRoot => &["bad_data", "lost_vote"],
        Fault::WrongChainId => &["wrong_chain_id"],
        Fault::StaleHead => &["lagging", "stalled"],
        Fault::BadStorageProof => &["bad_data"],
        Fault::DifferentChain => &["different_chain", "lost_vote"],
    }
}

struct Scene {
    anvil: Anvil,
    _other: Option<Anvil>,
    vault: String,
    liars: Vec<String>,
    tampers: Vec<Tamper>,
    _proxy: Option<Proxy>,
    p: Palisade,
    _dir: tempfile::TempDir,
}

/// An honest anvil with the vault, `n_liars` lying endpoints first in the list, honest
/// endpoints after them (three in all), and palisade started on them.
async fn scene(fault: Fault, n_liars: usize) -> Scene {
    let anvil = Anvil::start(&[]).await;
    let vault = anvil.deploy(ACCOUNT0, &artifact_bytecode("Vault")).await;
    // A chain long enough that an endpoint stuck at block 1 is far behind.
    anvil.mine(10).await;
    let other = if fault == Fault::DifferentChain {
        Some(Anvil::start(&["--timestamp", "1000"]).await)
    } else {
        None
    };
    let mut tampers = Vec::new();
    let mut liars = Vec::new();
    let mut entries = Vec::new();
    for _ in 0..n_liars {
        let target = other.as_ref().unwrap_or(&anvil).http_url();
        // The different chain is served as it is: the proxy tells no lie of its own.
        let t = Tamper::start(target, fault).await;
        liars.push(t.url());
        entries.push(format!("{{ url = '{}' }}", t.url()));
        tampers.push(t);
    }
    entries.push(format!("{{ url = '{}', ws = '{}' }}", anvil.http_url(), anvil.ws_url()));
    let proxy = if n_liars < 2 {
        let pr = Proxy::start(anvil.port).await;
        entries.push(format!(
            "{{ url = 'http://127.0.0.1:{p}', ws = 'ws://127.0.0.1:{p}' }}",
            p = pr.port
        ));
        Some(pr)
    } else {
        None
    };
    let dir = tempfile::tempdir().unwrap();
    let endpoints = format!("[{}]", entries.join(", "));
    let mut p = Palisade::start_full(dir.path(), &endpoints, 32, HEALTH, &detectors(&vault));
    p.wait_synced(&anvil).await;
    Scene { anvil, _other: other, vault, liars, tampers, _proxy: proxy, p, _dir: dir }
}

/// Blocks with pokes (one with two receipts with logs), then everything the issue asks of a
/// liar among honest endpoints.
async fn one_liar_among_three(fault: Fault) {
    let mut s = scene(fault, 1).await;
    let liar = s.liars[0].clone();
    let first_block = s.p.store().await.block_log("anvil").await.unwrap()[0].number;
    for i in 1..=3u64 {
        s.anvil.send(ACCOUNT1, Some(&s.vault), &poke(i), 0).await;
    }
    two_pokes_in_one_block(&s.anvil, &s.vault, 4, 5).await;
    s.anvil.mine(1).await;
    s.p.wait_synced(&s.anvil).await;
    let alerts = s.p.alerts().await;

    // Detected, and the liar named.
    let mine = about(&alerts, &liar);
    let caught: Vec<&AlertRow> = mine
        .iter()
        .copied()
        .filter(|a| {
            expected_checks(fault).contains(&a.finding.evidence["check"].as_str().unwrap_or(""))
        })
        .collect();
    assert!(
        !caught.is_empty(),
        "{fault:?}: no finding names the liar with {:?}; about it: {:?}\n{}",
        expected_checks(fault),
        mine.iter().map(|a| &a.finding.title).collect::<Vec<_>>(),
        s.p.log()
    );
    // Quarantined within one block: at the first block it lied about (or at start, for lies
    // about no block).
    let at = caught
        .iter()
        .map(|a| {
            a.finding.evidence["block_number"]
                .as_u64()
                .or(a.finding.evidence["height"].as_u64())
                .unwrap_or(a.finding.anchor.number)
        })
        .min()
        .unwrap();
    let first_lie = s.tampers[0].first_lie().filter(|n| *n > 0).unwrap_or(first_block);
    assert!(
        at <= first_lie.max(first_block),
        "{fault:?}: quarantined at block {at}, first lie at {first_lie} (first block {first_block})"
    );
    let st = endpoint_state(&s.p, &liar).await;
    assert_eq!(st["state"], "quarantined", "{fault:?}: {st}");
    // No finding from its data.
    assert_eq!(
        by(&alerts, "rule:owner-change"),
        0,
        "{fault:?}: a forged OwnerChanged was believed"
    );
    assert_eq!(by(&alerts, "rule:whale"), 0, "{fault:?}: a forged transaction value was believed");
    assert_eq!(
        by(&alerts, "storage_watch:vault"),
        0,
        "{fault:?}: a forged storage value was believed"
    );
    // Monitoring went on: every poke, exactly the canonical chain, the quorum met.
    assert_eq!(by(&alerts, "rule:poke"), 5, "{fault:?}: pokes");
    for (n, h) in tip_of(&s.p.store().await.block_log("anvil").await.unwrap()) {
        assert_eq!(h, s.anvil.block_hash(n).await, "{fault:?}: block {n}");
    }
    let h = health(&s.p).await;
    assert_eq!(h["chains"]["anvil"]["quorum"]["met"], true, "{fault:?}: {h}");
    assert_eq!(h["status"], "ok", "{fault:?}: {h}");
    assert!(
        !alerts.iter().any(|a| a.finding.evidence["check"] == "quorum_lost"),
        "{fault:?}: one liar of three does not lose the quorum"
    );
}

macro_rules! one_liar {
    ($($name:ident: $fault:expr,)*) => {$(
        #[tokio::test(flavor = "multi_thread")]
        async fn $name() {
            one_liar_among_three($fault).await;
        }
    )*};
}

one_liar! {
    one_liar_wrong_block_hash: Fault::WrongBlockHash,
    one_liar_changed_transaction_field: Fault::ChangedTxField,
    one_liar_forged_log: Fault::ForgedLog,
    one_liar_dropped_log: Fault::DroppedLog,
    one_liar_reordered_logs: Fault::ReorderedLogs,
    one_liar_wrong_receipts_root: Fault::WrongReceiptsRoot,
    one_liar_wrong_chain_id: Fault::WrongChainId,
    one_liar_stale_head: Fault::StaleHead,
    one_liar_different_chain: Fault::DifferentChain,
    one_liar_bad_storage_proof: Fault::BadStorageProof,
    one_liar_transaction_that_evades_the_checks: Fault::EvasiveTx,
}

/// Two of three lie alike: the vote alone would follow them; verification catches them, and
/// Palisade says it has lost its quorum while it goes on with the honest endpoint.
async fn two_liars_alike(fault: Fault) {
    let mut s = scene(fault, 2).await;
    for i in 1..=3u64 {
        s.anvil.send(ACCOUNT1, Some(&s.vault), &poke(i), 0).await;
    }
    s.p.wait_synced(&s.anvil).await;
    let lost = wait_for(10, "a quorum_lost alert", || async {
        s.p.alerts().await.into_iter().find(|a| a.finding.evidence["check"] == "quorum_lost")
    })
    .await;
    let alerts = s.p.alerts().await;
    assert_eq!(lost.finding.severity.as_str(), "critical");
    assert_eq!(lost.finding.evidence["required"], 2);
    for liar in &s.liars {
        assert_eq!(endpoint_state(&s.p, liar).await["state"], "quarantined", "{fault:?}: {liar}");
    }
    assert_eq!(by(&alerts, "rule:owner-change"), 0, "{fault:?}");
    assert_eq!(by(&alerts, "storage_watch:vault"), 0, "{fault:?}");
    assert_eq!(
        by(&alerts, "rule:poke"),
        3,
        "{fault:?}: monitoring goes on with the honest endpoint"
    );
    for (n, h) in tip_of(&s.p.store().await.block_log("anvil").await.unwrap()) {
        assert_eq!(h, s.anvil.block_hash(n).await, "{fault:?}: block {n}");
    }
    let h = health(&s.p).await;
    assert_eq!(h["status"], "degraded", "{h}");
    assert_eq!(h["chains"]["anvil"]["quorum"]["met"], false, "{h}");
}

#[tokio::test(flavor = "multi_thread")]
async fn two_liars_alike_with_a_forged_block_hash_lose_the_quorum() {
    two_liars_alike(Fault::WrongBlockHash).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn two_liars_alike_with_a_forged_log_lose_the_quorum() {
    two_liars_alike(Fault::ForgedLog).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn two_liars_alike_with_a_forged_storage_proof_lose_the_quorum() {
    two_liars_alike(Fault::BadStorageProof).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_quarantined_endpoint_is_readmitted_after_probation_and_penalties_grow() {
    let anvil = Anvil::start(&[]).await;
    let vault = anvil.deploy(ACCOUNT0, &artifact_bytecode("Vault")).await;
    let liar = Tamper::start(anvil.http_url(), Fault::ForgedLog).await;
    let proxy = Proxy::start(anvil.port).await;
    let endpoints = format!(
        "[{{ url = '{}' }}, {{ url = '{}', ws = '{}' }}, {{ url = 'http://127.0.0.1:{}' }}]",
        liar.url(),
        anvil.http_url(),
        anvil.ws_url(),
        proxy.port
    );
    let dir = tempfile::tempdir().unwrap();
    let health_cfg =
        "health = { quarantine_secs = 1, probation_blocks = 3, probe_interval_ms = 200, min_peers = 0 }";
    let mut p = Palisade::start_full(dir.path(), &endpoints, 32, health_cfg, &detectors(&vault));
    p.wait_synced(&anvil).await;
    anvil.send(ACCOUNT1, Some(&vault), &poke(1), 0).await;
    p.wait_synced(&anvil).await;
    let first = wait_for(10, "the first quarantine", || async {
        p.alerts().await.into_iter().find(|a| {
            a.finding.evidence["endpoint"] == liar.url()
                && a.finding.evidence["check"] == "bad_data"
        })
    })
    .await;
    assert_eq!(first.finding.evidence["quarantine"]["penalty_secs"], 1);
    assert_eq!(first.finding.evidence["quarantine"]["strikes"], 1);

    // It stops lying; after its penalty it must answer three blocks right before it counts.
    liar.set_lying(false);
    tokio::time::sleep(Duration::from_millis(1300)).await;
    for i in 2..=5u64 {
        anvil.send(ACCOUNT1, Some(&vault), &poke(i), 0).await;
        p.wait_synced(&anvil).await;
    }
    wait_for(10, "re-admission", || async {
        p.alerts().await.into_iter().find(|a| {
            a.finding.evidence["endpoint"] == liar.url()
                && a.finding.evidence["check"] == "readmitted"
        })
    })
    .await;
    assert_eq!(endpoint_state(&p, &liar.url()).await["state"], "active");

    // It lies again: benched again, for twice as long.
    liar.set_lying(true);
    anvil.send(ACCOUNT1, Some(&vault), &poke(6), 0).await;
    p.wait_synced(&anvil).await;
    let second = wait_for(10, "the second quarantine", || async {
        p.alerts().await.into_iter().find(|a| {
            a.finding.evidence["endpoint"] == liar.url()
                && a.finding.evidence["check"] == "bad_data"
                && a.finding.evidence["quarantine"]["strikes"] == 2
        })
    })
    .await;
    assert_eq!(second.finding.evidence["quarantine"]["penalty_secs"], 2);
    let alerts = p.alerts().await;
    assert_eq!(by(&alerts, "rule:owner-change"), 0);
    assert_eq!(by(&alerts, "rule:poke"), 6);
    let metrics = reqwest::get(format!("http://127.0.0.1:{}/metrics", p.api_port))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("palisade_source_endpoint_faults_total{chain=\"anvil\",endpoint=\"0\",fault=\"bad_data\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("palisade_source_endpoint_state{chain=\"anvil\",endpoint=\"0\""),
        "{metrics}"
    );
}

/// Not lies, conditions: an endpoint that says it is syncing, one with no peers, one that is
/// slow, one whose head stops moving.
struct Condition(&'static str);

impl Lie for Condition {
    fn response(&self, method: &str, _: &Value, r: &mut Value) -> Option<u64> {
        match (self.0, method) {
            ("syncing", "eth_syncing") => {
                *r =
                    json!({"startingBlock": "0x0", "currentBlock": "0x1", "highestBlock": "0x100"});
                Some(0)
            }
            ("slow", _) => Some(0),
            _ => None,
        }
    }

    fn delay(&self) -> Duration {
        if self.0 == "slow" {
            Duration::from_millis(250)
        } else {
            Duration::ZERO
        }
    }
}

/// An honest endpoint that answers every request late.
struct Late(Duration);

impl Lie for Late {
    fn response(&self, _: &str, _: &Value, _: &mut Value) -> Option<u64> {
        None
    }

    fn delay(&self) -> Duration {
        self.0
    }
}

/// Issue 11, defect 6: a slow preferred endpoint held following up for a whole request (10.9 s
/// between two blocks' alerts). Requests are hedged: a vote a quorum has decided does not wait
/// for it, and a block it has not served within a small multiple of its usual time is asked of
/// the next endpoint.
#[tokio::test(flavor = "multi_thread")]
async fn a_slow_preferred_endpoint_does_not_hold_following_up() {
    let anvil = Anvil::start(&[]).await;
    let vault = anvil.deploy(ACCOUNT0, &artifact_bytecode("Vault")).await;
    let slow = Tamper::start(anvil.http_url(), Late(Duration::from_millis(2500))).await;
    let relay = Proxy::start(anvil.port).await;
    let endpoints = format!(
        "[{{ url = '{}' }}, {{ url = '{}', ws = '{}' }}, {{ url = 'http://127.0.0.1:{}' }}]",
        slow.url(),
        anvil.http_url(),
        anvil.ws_url(),
        relay.port,
    );
    let dir = tempfile::tempdir().unwrap();
    let cfg = "quorum = 2\nrpc = { poll_interval_ms = 200, timeout_ms = 6000 }\nhealth = { max_latency_ms = 100000, stall_secs = 600, max_lag_blocks = 1000 }";
    let body = detectors(&vault);
    let config = dir.path().join("palisade.toml");
    let api_port = palisade_testing::anvil::free_port();
    std::fs::write(
        &config,
        format!(
            "data_dir = '{}'\n[api]\nlisten = '127.0.0.1:{api_port}'\n\n[[chains]]\nname = 'anvil'\nchain_id = 31337\nendpoints = {endpoints}\n{cfg}\n\n{body}",
            dir.path().display()
        ),
    )
    .unwrap();
    let mut p = Palisade::spawn(dir.path(), config, api_port);
    p.wait_synced(&anvil).await;
    let mut worst = Duration::ZERO;
    for i in 0..5u64 {
        let sent = std::time::Instant::now();
        anvil.send(ACCOUNT1, Some(&vault), &poke(100 + i), 0).await;
        wait_for(20, "the poke's alert", || async {
            let n = p.alerts().await.iter().filter(|a| a.finding.detector == "rule:poke").count();
            (n as u64 > i).then_some(())
        })
        .await;
        worst = worst.max(sent.elapsed());
    }
    eprintln!("slowest block -> alert with a 2.5 s endpoint first: {worst:?}");
    assert!(
        worst < Duration::from_millis(1500),
        "a block waited {worst:?} for the slow endpoint (it answers in 2.5 s)"
    );
}

/// anvil has no `net_peerCount`: this proxy answers it with 0 peers.
struct NoPeers;

impl Lie for NoPeers {
    fn request(&self, req: &mut Value) {
        if req["method"] == "net_peerCount" {
            // Ask for something anvil has, and answer 0 below.
            req["method"] = json!("eth_chainId");
            req["params"] = json!([]);
        }
    }

    fn response(&self, method: &str, _: &Value, r: &mut Value) -> Option<u64> {
        (method == "net_peerCount").then(|| {
            *r = json!("0x0");
            0
        })
    }
}

/// Freezes its `latest` head at the block it had when `lying` was switched on.
struct Frozen(std::sync::Mutex<Option<String>>);

impl Lie for Frozen {
    fn request(&self, req: &mut Value) {
        if req["method"] == "eth_getBlockByNumber" && req["params"][0] == "latest" {
            if let Some(n) = self.0.lock().unwrap().clone() {
                req["params"][0] = json!(n);
            }
        }
    }

    fn response(&self, method: &str, params: &Value, r: &mut Value) -> Option<u64> {
        if method == "eth_getBlockByNumber" && params[0] == "latest" {
            let mut f = self.0.lock().unwrap();
            if f.is_none() {
                *f = r["number"].as_str().map(str::to_string);
            }
            return Some(0);
        }
        None
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn syncing_isolated_slow_and_stalled_endpoints_are_reported() {
    let anvil = Anvil::start(&[]).await;
    let vault = anvil.deploy(ACCOUNT0, &artifact_bytecode("Vault")).await;
    let syncing = Tamper::start(anvil.http_url(), Condition("syncing")).await;
    let lonely = Tamper::start(anvil.http_url(), NoPeers).await;
    let slow = Tamper::start(anvil.http_url(), Condition("slow")).await;
    let frozen = Tamper::start(anvil.http_url(), Frozen(Default::default())).await;
    let endpoints = format!(
        "[{{ url = '{}', ws = '{}' }}, {{ url = '{}' }}, {{ url = '{}' }}, {{ url = '{}' }}, {{ url = '{}' }}]",
        anvil.http_url(),
        anvil.ws_url(),
        syncing.url(),
        lonely.url(),
        slow.url(),
        frozen.url(),
    );
    let dir = tempfile::tempdir().unwrap();
    let cfg = "quorum = 1\nhealth = { probe_interval_ms = 200, max_latency_ms = 100, stall_secs = 2, max_lag_blocks = 50, min_peers = 1 }";
    let mut p = Palisade::start_full(dir.path(), &endpoints, 32, cfg, &detectors(&vault));
    p.wait_synced(&anvil).await;
    // The chain moves on for longer than stall_secs; the frozen endpoint does not.
    for i in 0..6u64 {
        anvil.send(ACCOUNT1, Some(&vault), &poke(i), 0).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    p.wait_synced(&anvil).await;
    for (who, check, state) in [
        (&syncing, "syncing", Some("quarantined")),
        (&lonely, "peers", None),
        (&slow, "latency", None),
        (&frozen, "stalled", Some("quarantined")),
    ] {
        let a = wait_for(10, check, || async {
            p.alerts().await.into_iter().find(|a| {
                a.finding.evidence["endpoint"] == who.url() && a.finding.evidence["check"] == check
            })
        })
        .await;
        assert_eq!(a.finding.detector, "source_health", "{check}");
        if let Some(s) = state {
            assert_eq!(endpoint_state(&p, &who.url()).await["state"], s, "{check}");
        }
    }
    // Each condition is reported once, not once per block.
    let alerts = p.alerts().await;
    for check in ["syncing", "peers", "latency", "stalled"] {
        let n = alerts.iter().filter(|a| a.finding.evidence["check"] == check).count();
        assert_eq!(n, 1, "{check} reported {n} times");
    }
    assert_eq!(by(&alerts, "rule:poke"), 6);
    // The status command shows every endpoint and why.
    let out = std::process::Command::new(BIN)
        .args(["status", "--api", &format!("127.0.0.1:{}", p.api_port)])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("quarantined") && text.contains("reports that it is syncing"), "{text}");
    assert!(text.contains(&slow.url()) && text.contains("active"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn endpoints_that_disagree_without_a_quorum_are_a_divergence_and_nothing_is_followed() {
    let a = Anvil::start(&[]).await;
    let b = Anvil::start(&["--timestamp", "1000"]).await;
    a.mine(3).await;
    b.mine(3).await;
    let endpoints = format!("[{{ url = '{}' }}, {{ url = '{}' }}]", a.http_url(), b.http_url());
    let dir = tempfile::tempdir().unwrap();
    let p = Palisade::start_full(dir.path(), &endpoints, 32, HEALTH, "");
    let d = wait_for(20, "a divergence alert", || async {
        p.alerts().await.into_iter().find(|x| x.finding.evidence["check"] == "divergence")
    })
    .await;
    assert_eq!(d.finding.severity.as_str(), "critical");
    assert_eq!(d.finding.evidence["groups"].as_array().unwrap().len(), 2);
    let log = p.store().await.block_log("anvil").await.unwrap();
    assert!(log.is_empty(), "no block is followed without agreement: {log:?}");

    // With the genesis pinned, the endpoint on the other chain is benched and the rest followed.
    drop(p);
    let genesis = a.block_hash(0).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = format!("quorum = 1\ngenesis_hash = '{genesis}'\n{HEALTH}");
    let mut p = Palisade::start_full(dir.path(), &endpoints, 32, &cfg, "");
    p.wait_synced(&a).await;
    let alerts = p.alerts().await;
    let other =
        alerts.iter().find(|x| x.finding.evidence["check"] == "different_chain").unwrap_or_else(
            || panic!("{:?}", alerts.iter().map(|x| &x.finding.title).collect::<Vec<_>>()),
        );
    assert_eq!(other.finding.evidence["endpoint"], b.http_url());
}

/// A `quarantine_node` responder benches the endpoint a finding names: the endpoint without
/// peers is only reported by Palisade (a condition, medium), and the responder the operator
/// configured for `source_health` findings benches it, recorded in `responses`.
#[tokio::test(flavor = "multi_thread")]
async fn a_quarantine_responder_benches_the_endpoint_a_finding_names() {
    let anvil = Anvil::start(&[]).await;
    let vault = anvil.deploy(ACCOUNT0, &artifact_bytecode("Vault")).await;
    let lonely = Tamper::start(anvil.http_url(), NoPeers).await;
    let endpoints = format!(
        "[{{ url = '{}', ws = '{}' }}, {{ url = '{}' }}]",
        anvil.http_url(),
        anvil.ws_url(),
        lonely.url()
    );
    let dir = tempfile::tempdir().unwrap();
    let cfg =
        "quorum = 1\nhealth = { probe_interval_ms = 200, min_peers = 1, quarantine_secs = 3600 }";
    let body = format!(
        "{}\n[[responders]]\nname = 'bench-lonely'\ntype = 'quarantine_node'\ndry_run = false\n[responders.policy]\ndetectors = ['source_health']\nmin_severity = 'medium'\nmax_actions = 5\nper_seconds = 60\n",
        detectors(&vault)
    );
    let p = Palisade::start_full(dir.path(), &endpoints, 32, cfg, &body);
    let peers = wait_for(20, "the peers finding", || async {
        p.alerts().await.into_iter().find(|a| {
            a.finding.evidence["endpoint"] == lonely.url() && a.finding.evidence["check"] == "peers"
        })
    })
    .await;
    assert_eq!(peers.finding.detector, "source_health");
    let s = wait_for(20, "the endpoint benched", || async {
        let s = endpoint_state(&p, &lonely.url()).await;
        (s["state"] == "quarantined").then_some(s)
    })
    .await;
    assert!(s.to_string().contains("bench-lonely"), "{s}");
    let rows = p.store().await.list_responses(10).await.unwrap();
    let r = rows
        .iter()
        .find(|r| r.responder == "bench-lonely" && r.alert_key == peers.finding.key.to_string())
        .unwrap_or_else(|| panic!("no stored response to the peers finding: {rows:?}"));
    assert_eq!(
        (r.outcome.as_str(), r.dry_run, r.kind.as_str()),
        ("done", false, "quarantine_node")
    );
    // The honest endpoint keeps counting.
    assert_eq!(endpoint_state(&p, &anvil.http_url()).await["state"], "active");
}

/// Inflates every balance it proves: an account proof that no longer matches the state root.
struct RichProofs;

impl Lie for RichProofs {
    fn response(&self, method: &str, _: &Value, r: &mut Value) -> Option<u64> {
        (method == "eth_getProof" && r.is_object()).then(|| {
            r["balance"] = json!("0x56bc75e2d63100000");
            0
        })
    }
}

/// The mempool's simulations load state from the chain's first endpoint; when it lies about
/// that state (a proof that does not match the verified state root), nothing it said is used:
/// a critical `source_integrity` finding names it, and the pending transaction is judged
/// without a simulation (no loss made up from a lie).
#[tokio::test(flavor = "multi_thread")]
async fn state_a_node_lies_about_is_refused_by_the_simulator_and_reported() {
    let anvil = Anvil::start(&[]).await;
    let guardian = format!("{:0>64}", ACCOUNT1.trim_start_matches("0x"));
    let vault =
        anvil.deploy(ACCOUNT0, &format!("{}{guardian}", artifact_bytecode("GuardedVault"))).await;
    anvil
        .send(ACCOUNT0, Some(&vault), &calldata("deposit()", &[]), 5_000_000_000_000_000_000)
        .await;
    let drainer = anvil.deploy(ACCOUNT1, &artifact_bytecode("VaultDrainer")).await;
    let liar = Tamper::start(anvil.http_url(), RichProofs).await;
    let endpoints = format!(
        "[{{ url = '{}', ws = '{}' }}, {{ url = '{}' }}]",
        liar.url(),
        anvil.ws_url(),
        anvil.http_url()
    );
    let dir = tempfile::tempdir().unwrap();
    let body = format!(
        "[[detectors]]\ntype = 'simulation'\nname = 'vault'\ncontracts = ['{vault}']\nmax_loss_percent = 50.0\n"
    );
    let mut p = Palisade::start_full(
        dir.path(),
        &endpoints,
        32,
        "[chains.mempool]\nenabled = true\npoll_interval_ms = 0",
        &body,
    );
    p.wait_synced(&anvil).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    anvil.rpc("evm_setAutomine", json!([false])).await;
    let vault_word = vault.trim_start_matches("0x");
    anvil
        .rpc(
            "eth_sendTransaction",
            json!([{"from": ACCOUNT1, "to": drainer, "data": calldata("run(address)", &[vault_word]), "gas": "0x100000"}]),
        )
        .await;
    let f = wait_for(20, "the lie reported", || async {
        p.alerts().await.into_iter().find(|a| a.finding.evidence["check"] == "simulation_state")
    })
    .await;
    assert_eq!(f.finding.detector, "source_integrity");
    assert_eq!(f.finding.severity.as_str(), "critical");
    assert_eq!(f.finding.evidence["endpoint"], liar.url());
    assert!(f.finding.evidence["reason"]
        .as_str()
        .unwrap()
        .contains("does not match the verified root"));
    // No loss was made up from the lie.
    assert_eq!(by(&p.alerts().await, "simulation:vault"), 0);
    anvil.rpc("evm_setAutomine", json!([true])).await;
}

/// Issue 13: `run` started while its node is down waits for it with backoff, saying why,
/// instead of exiting; it follows the chain once the node is up, and a SIGTERM while it waits
/// stops it cleanly.
#[tokio::test]
async fn run_waits_for_a_node_that_is_down_at_start() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let mut p = Palisade::start_endpoints(dir.path(), &format!("[{{ url = '{url}' }}]"), 32, "");
    wait_for(20, "a waiting message", || async {
        p.log().contains("waiting for the node").then_some(())
    })
    .await;
    assert!(p.child.try_wait().unwrap().is_none(), "exited instead of waiting:\n{}", p.log());
    let anvil = Anvil::start_on(port, &[]).await;
    anvil.rpc("evm_mine", json!([])).await;
    anvil.rpc("evm_mine", json!([])).await;
    p.wait_synced(&anvil).await;
    // A second one, stopped while it waits.
    let dir2 = tempfile::tempdir().unwrap();
    let down = format!("http://127.0.0.1:{}", free_port());
    let mut q = Palisade::start_endpoints(dir2.path(), &format!("[{{ url = '{down}' }}]"), 32, "");
    wait_for(20, "a waiting message", || async {
        q.log().contains("waiting for the node").then_some(())
    })
    .await;
    let pid = q.child.id().to_string();
    std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let t = std::time::Instant::now();
    let status = loop {
        if let Some(s) = q.child.try_wait().unwrap() {
            break s;
        }
        assert!(t.elapsed() < Duration::from_secs(10), "SIGTERM did not stop it:\n{}", q.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status}:\n{}", q.log());
}

/// Issue 13: a catch-up is not silent at -v (info): its start and its end, with the rate.
#[tokio::test]
async fn a_catch_up_says_where_it_starts_and_when_it_ends() {
    let anvil = Anvil::start(&[]).await;
    anvil.rpc("anvil_mine", json!(["0x64"])).await;
    let dir = tempfile::tempdir().unwrap();
    let endpoints = format!("[{{ url = '{}' }}]", anvil.http_url());
    let mut p = Palisade::start_full(dir.path(), &endpoints, 32, "start_block = 1", "");
    p.wait_synced(&anvil).await;
    let log = wait_for(10, "the end of the catch-up", || async {
        let l = p.log();
        l.contains("Caught up.").then_some(l)
    })
    .await;
    assert!(log.contains("Catching up.") && log.contains("blocks=100"), "{log}");
    assert!(log.contains("blocks_per_sec"), "{log}");
}

/// Issue 13: with two endpoints (default quorum 2), one provider's blip shorter than
/// `quorum_grace_secs` pages nobody; an outage that outlasts it is the critical `quorum_lost`,
/// followed by `quorum_restored` when it ends.
#[tokio::test]
async fn a_provider_blip_does_not_page_and_an_outage_does() {
    let anvil = Anvil::start(&[]).await;
    let relay = Switch::start(&format!("127.0.0.1:{}", anvil.port)).await;
    let dir = tempfile::tempdir().unwrap();
    let endpoints = format!(
        "[{{ url = '{}' }}, {{ url = 'http://127.0.0.1:{}' }}]",
        anvil.http_url(),
        relay.port
    );
    let mut p = Palisade::start_full(dir.path(), &endpoints, 32, "quorum_grace_secs = 25", "");
    anvil.rpc("evm_mine", json!([])).await;
    p.wait_synced(&anvil).await;
    let quorum = |h: Value| h["chains"]["anvil"]["quorum"]["met"].as_bool();
    // A blip: the relayed endpoint goes away until Palisade sees the quorum short, then
    // comes back, blocks mined all along.
    relay.off();
    wait_for(20, "the quorum short", || async {
        anvil.rpc("evm_mine", json!([])).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        (quorum(health(&p).await) == Some(false)).then_some(())
    })
    .await;
    relay.on();
    wait_for(20, "the quorum back", || async {
        anvil.rpc("evm_mine", json!([])).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        (quorum(health(&p).await) == Some(true)).then_some(())
    })
    .await;
    p.wait_synced(&anvil).await;
    let lost = |alerts: &[AlertRow]| {
        alerts.iter().filter(|a| a.finding.evidence["check"] == "quorum_lost").count()
    };
    assert_eq!(lost(&p.alerts().await), 0, "a blip paged:\n{}", p.log());
    assert!(p.log().contains("Quorum short"), "{}", p.log());
    // An outage longer than the grace period.
    relay.off();
    let alert = wait_for(60, "a quorum_lost alert", || async {
        anvil.rpc("evm_mine", json!([])).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        p.alerts().await.into_iter().find(|a| a.finding.evidence["check"] == "quorum_lost")
    })
    .await;
    assert_eq!(alert.finding.severity.as_str(), "critical");
    relay.on();
    wait_for(40, "a quorum_restored alert", || async {
        anvil.rpc("evm_mine", json!([])).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        p.alerts().await.into_iter().find(|a| a.finding.evidence["check"] == "quorum_restored")
    })
    .await;
}

/// Issue 13: every per-chain series exists from the start (at zero), no gauge is named
/// `_total`, and the age of the last block is exported per chain.
#[tokio::test]
async fn metrics_exist_from_the_start_and_counters_are_counters() {
    let anvil = Anvil::start(&[]).await;
    let dir = tempfile::tempdir().unwrap();
    let mut p = Palisade::start(dir.path(), &anvil, "[[detectors]]\ntype = 'chain_health'\n");
    p.wait_synced(&anvil).await;
    let url = format!("http://127.0.0.1:{}/metrics", p.api_port);
    let text = wait_for(10, "/metrics with the block age", || async {
        let t = reqwest::get(&url).await.ok()?.text().await.ok()?;
        t.contains("palisade_chain_last_block_age_seconds{chain=\"anvil\"}").then_some(t)
    })
    .await;
    for m in [
        "palisade_chain_reorgs_total{chain=\"anvil\"} 0",
        "palisade_chain_blocks_reverted_total{chain=\"anvil\"} 0",
        "palisade_source_errors_total{chain=\"anvil\"} 0",
        "palisade_detect_findings_total{chain=\"anvil\",detector=\"chain_health\"} 0",
        "# TYPE palisade_alert_delivered_total counter",
        "# TYPE palisade_alert_sink_failures_total counter",
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
    ] {
        assert!(text.contains(m), "{m} missing:\n{text}");
    }
    for l in text.lines().filter(|l| l.starts_with("# TYPE ")) {
        let mut w = l.split_whitespace().skip(2);
        let (name, kind) = (w.next().unwrap(), w.next().unwrap());
        assert!(!(kind == "gauge" && name.ends_with("_total")), "a gauge named _total: {l}");
    }
}

/// Issue 13: `start_block = 0` on a fresh anvil follows the chain from genesis; its only node is
/// not quarantined over the genesis header, and no integrity finding is raised.
#[tokio::test]
async fn start_block_0_on_a_fresh_anvil_follows_from_genesis() {
    let anvil = Anvil::start(&[]).await;
    let dir = tempfile::tempdir().unwrap();
    let endpoints = format!("[{{ url = '{}', ws = '{}' }}]", anvil.http_url(), anvil.ws_url());
    let mut p = Palisade::start_full(dir.path(), &endpoints, 32, "start_block = 0", "");
    anvil.mine(3).await;
    p.wait_synced(&anvil).await;
    let log = p.store().await.block_log("anvil").await.unwrap();
    assert_eq!(
        log.first().map(|b| (b.number, b.hash.clone())),
        Some((0, anvil.block_hash(0).await))
    );
    let h = health(&p).await;
    assert_eq!(h["chains"]["anvil"]["endpoints"][0]["state"], "active", "{h}");
    let integrity: Vec<_> =
        p.alerts().await.into_iter().filter(|a| a.finding.detector == "source_integrity").collect();
    assert!(
        integrity.is_empty(),
        "{:?}\n{}",
        integrity.iter().map(|a| &a.finding.title).collect::<Vec<_>>(),
        p.log()
    );
}
