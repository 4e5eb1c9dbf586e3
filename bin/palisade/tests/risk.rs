//! Issue 14: the settlement-risk index live on anvil: a stall raises liveness without a new
//! block, an `anvil_reorg` of depth 3 raises the reorg component and replaces the reverted
//! blocks' points, full blocks raise congestion; the API's reads (latest, history,
//! latestRoundData); a lying endpoint behind the tampering proxy raises source integrity; and a
//! replay of the recorded chain gives the live series, hash for hash.

mod common;

use common::*;
use palisade_testing::anvil::{Anvil, ACCOUNT1, ACCOUNT2};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// `n` blocks one second apart ending about now: a baseline of 1 s intervals.
async fn history(anvil: &Anvil, n: u64) {
    anvil.rpc("evm_setNextBlockTimestamp", json!([now() - n])).await;
    anvil.rpc("anvil_mine", json!([format!("{n:#x}"), "0x1"])).await;
}

async fn get(port: u16, path: &str) -> (u16, Value) {
    let r = reqwest::get(format!("http://127.0.0.1:{port}{path}")).await.unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

fn component(p: &Value, name: &str) -> Option<f64> {
    p["components"].as_array()?.iter().find(|c| c["name"] == name)?["value"].as_f64()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stall_a_reorg_and_full_blocks_move_their_components() {
    // A small gas limit: ten transfers fill a block.
    let genesis = (now() - 300).to_string();
    let anvil = Anvil::start(&["--gas-limit", "210000", "--timestamp", &genesis]).await;
    history(&anvil, 40).await;
    let dir = tempfile::tempdir().unwrap();
    let endpoints = format!("[{{ url = '{}', ws = '{}' }}]", anvil.http_url(), anvil.ws_url());
    let body = "[risk]\nthresholds = [{ on = 'liveness', above = 0.9, clear_below = 0.2, severity = 'high' }]\n";
    let mut p = Palisade::start_full(dir.path(), &endpoints, 32, "start_block = 0", body);
    p.wait_synced(&anvil).await;
    let port = p.api_port;
    let (s, latest) = get(port, "/risk/anvil").await;
    assert_eq!(s, 200, "{latest}");
    assert_eq!(latest["block"]["number"], json!(anvil.block_number().await));
    assert_eq!(component(&latest, "liveness"), Some(0.0), "{latest}");
    assert_eq!(latest["methodology_version"], palisade_risk::METHODOLOGY_VERSION);

    // Mining stops: within one poll after the stall passes 15 spreads, liveness >= 0.9.
    let stalled = wait_for(40, "liveness >= 0.9 while stalled", || async {
        let (_, l) = get(port, "/risk/anvil").await;
        (l["stall"] == true && component(&l, "liveness")? >= 0.9).then_some(l)
    })
    .await;
    assert!(stalled["index"].as_f64().unwrap() >= 90.0, "{stalled}");
    let (_, round) = get(port, "/risk/anvil/latest_round_data").await;
    assert_eq!(round["decimals"], 6);
    assert_eq!(round["roundId"], stalled["block"]["number"].as_u64().unwrap().to_string());
    assert!(round["answer"].as_str().unwrap().parse::<i64>().unwrap() >= 90_000_000, "{round}");

    // Blocks again, one second apart from now on, then a reorg of depth 3.
    let stalled_at = stalled["block"]["number"].as_u64().unwrap();
    anvil.rpc("evm_setNextBlockTimestamp", json!([now()])).await;
    anvil.rpc("anvil_mine", json!(["0x6", "0x1"])).await;
    p.wait_synced(&anvil).await;
    let head = anvil.block_number().await;
    // The block that ended the stall crossed the liveness threshold: one alert, at that block.
    let crossed: Vec<_> =
        p.alerts().await.into_iter().filter(|a| a.finding.detector == "settlement_risk").collect();
    assert_eq!(
        crossed.len(),
        1,
        "{:?}",
        crossed.iter().map(|a| &a.finding.title).collect::<Vec<_>>()
    );
    assert_eq!(crossed[0].finding.anchor.number, stalled_at + 1);
    assert!(crossed[0].finding.title.contains("liveness"), "{}", crossed[0].finding.title);
    let before: Vec<String> = {
        let (_, h) = get(port, "/risk/anvil/history?limit=3").await;
        h["points"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["block"]["hash"].as_str().unwrap().to_string())
            .collect()
    };
    anvil.rpc("anvil_reorg", json!([3, []])).await;
    p.wait_synced(&anvil).await;
    let (_, l) = get(port, "/risk/anvil").await;
    assert_eq!(l["block"]["number"], json!(head));
    let reorgs = component(&l, "reorgs").unwrap();
    assert!(reorgs >= 0.5, "depth 3 raises the reorg component: {l}");
    // The reverted blocks' points are gone: the history holds the canonical blocks only.
    let (_, h) = get(port, "/risk/anvil/history?limit=1000").await;
    let points = h["points"].as_array().unwrap();
    let mut by_number = BTreeMap::new();
    for x in points {
        by_number.insert(
            x["block"]["number"].as_u64().unwrap(),
            x["block"]["hash"].as_str().unwrap().to_string(),
        );
    }
    for n in head - 2..=head {
        assert_eq!(by_number[&n], anvil.block_hash(n).await, "block {n}");
        assert!(!before.contains(&by_number[&n]), "block {n} still has its reverted point");
    }

    // A burst: ten transfers fill one block.
    anvil.rpc("evm_setAutomine", json!([false])).await;
    for _ in 0..10 {
        anvil
            .rpc(
                "eth_sendTransaction",
                json!([{"from": ACCOUNT1, "to": ACCOUNT2, "value": "0x1", "gas": "0x5208"}]),
            )
            .await;
    }
    anvil.rpc("evm_mine", json!([])).await;
    p.wait_synced(&anvil).await;
    let (_, full) = get(port, "/risk/anvil").await;
    let congestion = component(&full, "congestion").unwrap();
    let quiet = component(&l, "congestion").unwrap();
    assert!(
        congestion >= 0.4 && congestion > quiet,
        "a full block: {congestion} (before {quiet}): {full}"
    );
    let inputs =
        &full["components"].as_array().unwrap().iter().find(|c| c["name"] == "congestion").unwrap()
            ["inputs"];
    assert_eq!(inputs["gas_used"], json!(210_000));
    // Prometheus gauges per component.
    let metrics = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("palisade_risk_component{chain=\"anvil\",component=\"congestion\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("palisade_risk_index{chain=\"anvil\"}"));
}

/// Serves every block with a wrong hash.
struct FlipHash;

impl Lie for FlipHash {
    fn response(&self, method: &str, _: &Value, r: &mut Value) -> Option<u64> {
        if !(method.starts_with("eth_getBlockBy") && r.is_object()) {
            return None;
        }
        let h = r["hash"].as_str()?.to_string();
        let last = if h.ends_with('0') { "1" } else { "0" };
        r["hash"] = json!(format!("{}{last}", &h[..h.len() - 1]));
        u64::from_str_radix(r["number"].as_str()?.trim_start_matches("0x"), 16).ok()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lying_endpoint_raises_source_integrity() {
    let anvil = Anvil::start(&[]).await;
    anvil.mine(3).await;
    // Three endpoints: one behind the tampering proxy (honest for now), two honest.
    let tamper = Tamper::start(anvil.http_url(), FlipHash).await;
    tamper.set_lying(false);
    let relay = Proxy::start(anvil.port).await;
    let endpoints = format!(
        "[{{ url = '{}' }}, {{ url = '{}', ws = '{}' }}, {{ url = 'http://127.0.0.1:{r}', ws = 'ws://127.0.0.1:{r}' }}]",
        tamper.url(),
        anvil.http_url(),
        anvil.ws_url(),
        r = relay.port
    );
    let dir = tempfile::tempdir().unwrap();
    let health = "start_block = 0\nhealth = { quarantine_secs = 3600, probation_blocks = 3, probe_interval_ms = 200, min_peers = 0 }";
    let mut p = Palisade::start_full(dir.path(), &endpoints, 32, health, "");
    anvil.mine(2).await;
    p.wait_synced(&anvil).await;
    let port = p.api_port;
    let (_, honest) = get(port, "/risk/anvil").await;
    assert_eq!(component(&honest, "source_integrity"), None, "every endpoint counts: {honest}");

    // It lies: its blocks' hashes are wrong. It is quarantined and the index says so.
    tamper.set_lying(true);
    anvil.mine(3).await;
    let lied = wait_for(30, "source integrity above 0", || async {
        anvil.mine(1).await;
        let (_, l) = get(port, "/risk/anvil").await;
        (component(&l, "source_integrity")? > 0.0).then_some(l)
    })
    .await;
    let c = lied["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "source_integrity")
        .unwrap();
    assert_eq!(c["inputs"]["endpoints"], json!(3), "{c}");
    assert_eq!(c["inputs"]["quarantined"], json!(1), "{c}\n{}", p.log());
    // One of three quarantined, the quorum still met: (2 x 1) / (2 x 3).
    assert!((c["value"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-5, "{c}");
    assert!(lied["index"].as_f64().unwrap() > honest["index"].as_f64().unwrap());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replay_of_the_recorded_chain_gives_the_live_series() {
    let genesis = (now() - 300).to_string();
    let anvil = Anvil::start(&["--gas-limit", "210000", "--timestamp", &genesis]).await;
    history(&anvil, 30).await;
    let dir = tempfile::tempdir().unwrap();
    let endpoints = format!("[{{ url = '{}', ws = '{}' }}]", anvil.http_url(), anvil.ws_url());
    let mut p = Palisade::start_full(dir.path(), &endpoints, 32, "start_block = 0", "");
    p.wait_synced(&anvil).await;
    for i in 0..12u64 {
        for _ in 0..(i % 5) * 2 {
            anvil
                .rpc(
                    "eth_sendTransaction",
                    json!([{"from": ACCOUNT1, "to": ACCOUNT2, "value": "0x1", "gas": "0x5208"}]),
                )
                .await;
        }
        anvil.rpc("evm_mine", json!([])).await;
    }
    p.wait_synced(&anvil).await;
    let head = anvil.block_number().await;
    let store = p.store().await;
    let live: BTreeMap<u64, String> = store
        .risk_points("anvil", None, None, 10_000)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.block.number, r.inputs_hash))
        .collect();
    assert_eq!(live.len() as u64, head + 1, "a point for every block from genesis");
    let file = dir.path().join("rec.jsonl");
    let st = std::process::Command::new(BIN)
        .args(["record", "--rpc", &anvil.http_url(), "--from", "0", "--to", &head.to_string()])
        .args(["-o", file.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(st.success());
    let out = std::process::Command::new(BIN)
        .args(["risk", file.to_str().unwrap(), "--chain", "anvil"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let replayed: BTreeMap<u64, String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v.get("retract").is_none())
        .map(|v| {
            (v["block"]["number"].as_u64().unwrap(), v["inputs_hash"].as_str().unwrap().to_string())
        })
        .collect();
    assert_eq!(replayed, live, "replay = live, point for point");
    let csv = std::process::Command::new(BIN)
        .args(["risk", file.to_str().unwrap(), "--chain", "anvil", "--csv"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&csv.stdout);
    assert!(text.starts_with("chain,block,hash,timestamp,time,index,liveness"), "{text}");
    assert_eq!(text.lines().count() as u64, head + 2, "a header and a row per block");
    assert!(String::from_utf8_lossy(&csv.stderr).contains("series hash 0x"));
}

/// `PriceFeed(6, "risk", 0)`'s deployment code (testdata/contracts, solcjs), owned by the sender.
fn price_feed_code() -> String {
    let w = |hex: &str| format!("{hex:0>64}");
    let name = format!("{:0<64}", "7269736b"); // "risk"
    format!(
        "{}{}{}{}{}{name}",
        palisade_testing::anvil::artifact_bytecode("PriceFeed"),
        w("6"),
        w("60"),
        w("0"),
        w("4")
    )
}

/// The feed's `latestRoundData()` answer.
async fn feed_answer(anvil: &Anvil, feed: &str) -> i64 {
    let out = anvil.rpc("eth_call", json!([{"to": feed, "data": "0xfeaf968c"}, "latest"])).await;
    let hex = out.as_str().unwrap().trim_start_matches("0x");
    i64::from_str_radix(&hex[64 + 48..128], 16).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_index_is_published_to_a_feed_contract_when_it_moves_and_dry_runs_send_nothing() {
    use palisade_testing::anvil::{ACCOUNT0, KEY0};
    let genesis = (now() - 300).to_string();
    let anvil = Anvil::start(&["--timestamp", &genesis]).await;
    history(&anvil, 20).await;
    let feed = anvil.deploy(ACCOUNT0, &price_feed_code()).await;
    assert_eq!(feed_answer(&anvil, &feed).await, 0);
    let dir = tempfile::tempdir().unwrap();
    let secret: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&KEY0.trim_start_matches("0x")[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let ks = palisade_respond::keys::write_keystore(dir.path(), &secret, "publish pw", "k.json")
        .unwrap();
    std::env::set_var("PALISADE_TEST_PUBLISH_PW", "publish pw");
    let responder = |name: &str, dry: bool| {
        format!(
            "[[responders]]\nname = '{name}'\ntype = 'publish_risk'\nchain = 'anvil'\ndry_run = {dry}\n[responders.policy]\nmax_actions = 100\nper_seconds = 60\n[responders.publish]\nto = '{feed}'\nfunction = 'update(int256)'\ndeviation = 5\n[responders.key]\nkeystore = '{}'\npassword_env = 'PALISADE_TEST_PUBLISH_PW'\n",
            ks.display()
        )
    };
    let body = format!("{}\n{}", responder("publish", false), responder("publish-dry", true));
    let endpoints = format!("[{{ url = '{}', ws = '{}' }}]", anvil.http_url(), anvil.ws_url());
    let p = Palisade::start_full(dir.path(), &endpoints, 32, "start_block = 0", &body);
    // Not waited for with wait_synced: each publication mines a block of its own.
    let port = p.api_port;
    wait_for(60, "the first risk point", || async {
        let r = reqwest::get(format!("http://127.0.0.1:{port}/risk/anvil")).await.ok()?;
        (r.status().as_u16() == 200).then_some(())
    })
    .await;
    // The first point is published (there was none).
    let store = p.store().await;
    let first = wait_for(30, "a publication mined", || async {
        store
            .list_responses(100)
            .await
            .ok()?
            .into_iter()
            .find(|r| r.responder == "publish" && r.outcome == "mined")
    })
    .await;
    let detail: Value = serde_json::from_str(&first.detail).unwrap();
    let answer = detail["answer"].as_i64().unwrap();
    assert_eq!(feed_answer(&anvil, &feed).await, answer, "{detail}");
    // The published answer is the stored point of its block.
    let point_at = |h: &Value, block: &Value| -> i64 {
        let p = h["points"].as_array().unwrap().iter().find(|x| x["block"]["number"] == *block);
        (p.unwrap()["index"].as_f64().unwrap() * 1e6).round() as i64
    };
    let (_, h) = get(p.api_port, "/risk/anvil/history?limit=1000").await;
    assert_eq!(point_at(&h, &detail["block"]), answer);

    // Buried under a few blocks, then a reorg of depth 3 (of empty blocks) moves the index by
    // far more than 5 points: published again, the feed answers the new point.
    anvil.mine(5).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    anvil.rpc("anvil_reorg", json!([3, []])).await;
    let moved = wait_for(30, "the moved index published", || async {
        store.list_responses(100).await.ok()?.into_iter().find(|r| {
            let d: Value = serde_json::from_str(&r.detail).unwrap_or_default();
            r.responder == "publish"
                && r.outcome == "mined"
                && d["answer"].as_i64().is_some_and(|a| a > answer + 5_000_000)
        })
    })
    .await;
    let d: Value = serde_json::from_str(&moved.detail).unwrap();
    let want = d["answer"].as_i64().unwrap();
    assert!(d["last_published"].as_f64().is_some(), "{d}");
    let (_, h) = get(p.api_port, "/risk/anvil/history?limit=1000").await;
    assert_eq!(point_at(&h, &d["block"]), want, "{d}");
    assert!(point_at(&h, &d["block"]) > 0);
    wait_for(10, "the feed's answer", || async {
        (feed_answer(&anvil, &feed).await == want).then_some(())
    })
    .await;
    // The dry-run responder planned the same publications and sent none: only the live one
    // signs (nonces of the key: one deployment + the live publications).
    let rows = store.list_responses(100).await.unwrap();
    let dry: Vec<_> = rows.iter().filter(|r| r.responder == "publish-dry").collect();
    let live: Vec<_> =
        rows.iter().filter(|r| r.responder == "publish" && r.outcome == "mined").collect();
    assert!(dry.len() >= 2 && dry.iter().all(|r| r.outcome == "dry_run" && r.dry_run), "{dry:?}");
    let nonce = anvil.rpc("eth_getTransactionCount", json!([ACCOUNT0, "latest"])).await;
    let sent = u64::from_str_radix(nonce.as_str().unwrap().trim_start_matches("0x"), 16).unwrap();
    // Counted after the reorg: the history's transactions were from other accounts.
    assert!(sent as usize >= live.len(), "{sent} {}", live.len());
    assert!(!p.log().contains("publish pw"));
}
