//! A beacon chain followed through the Beacon API, against a local server that serves real
//! mainnet responses (a16z/helios test data, Capella, August 2023): the light-client bootstrap,
//! six sync-committee periods of updates and the full blocks of slots 7109430 and 7109431, over
//! HTTP and server-sent events. Palisade verifies the committees' handovers, each block's SSZ
//! root and the sync aggregate it carries over its parent, and benches an endpoint that serves a
//! forged block. Finality checkpoints, duties and validators are not in the recorded data and
//! are not served (404), which Palisade must take in its stride.

mod common;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use common::*;
use palisade_consensus::beacon::period_of;
use palisade_consensus::beacon::types::{SignedBeaconBlock, Versioned};
use palisade_testing::anvil::free_port;
use palisade_testing::fixtures;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// A Beacon API server over recorded data.
#[derive(Clone)]
struct Beacon {
    blocks: Arc<BTreeMap<String, Value>>,
    head: watch::Sender<String>,
    /// Roots whose block this server serves altered (a forged block of its own instead).
    forged: Arc<Mutex<BTreeMap<String, Value>>>,
    requests: Arc<Mutex<Vec<String>>>,
}

fn data(rel: &str) -> Value {
    serde_json::from_str(&fixtures::text(&format!("consensus/beacon/{rel}"))).unwrap()
}

fn root_of(block: &Value) -> String {
    let b: Versioned<SignedBeaconBlock> = serde_json::from_value(block.clone()).unwrap();
    format!("{:#x}", b.data.message.root())
}

impl Beacon {
    fn new(head: &str) -> (Self, Vec<String>) {
        let mut blocks = BTreeMap::new();
        let mut roots = Vec::new();
        for slot in [7_109_344, 7_109_430, 7_109_431] {
            let b = data(&format!("blocks/{slot}.json.zst"));
            let r = root_of(&b);
            roots.push(r.clone());
            blocks.insert(r, b);
        }
        let head = if head.is_empty() { roots[1].clone() } else { head.to_string() };
        let (tx, _) = watch::channel(head);
        (
            Self {
                blocks: Arc::new(blocks),
                head: tx,
                forged: Arc::new(Mutex::new(BTreeMap::new())),
                requests: Arc::new(Mutex::new(Vec::new())),
            },
            roots,
        )
    }

    fn block(&self, root: &str) -> Option<Value> {
        self.forged.lock().unwrap().get(root).cloned().or_else(|| self.blocks.get(root).cloned())
    }

    async fn serve(self) -> u16 {
        let port = free_port();
        let app = axum::Router::new().fallback(handle).with_state(self);
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        port
    }
}

fn ok(v: Value) -> Response {
    (StatusCode::OK, axum::Json(v)).into_response()
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, axum::Json(json!({"code": 404, "message": "not found"})))
        .into_response()
}

fn header_of(block: &Value) -> Value {
    let b: Versioned<SignedBeaconBlock> = serde_json::from_value(block.clone()).unwrap();
    let h = b.data.message.header();
    json!({"data": {"root": h.root(), "canonical": true, "header": {"message": h, "signature": b.data.signature}}})
}

async fn handle(State(s): State<Beacon>, req: Request) -> Response {
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    s.requests.lock().unwrap().push(path.clone());
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match parts.as_slice() {
        ["eth", "v1", "beacon", "genesis"] => ok(json!({"data": {
            "genesis_validators_root": "0x4b363db94e286120d76eb905340fdd4e54bfe9f06bf33ff6cf5ad27f511bfe95",
            "genesis_time": "1606824023", "genesis_fork_version": "0x00000000"}})),
        ["eth", "v1", "beacon", "light_client", "bootstrap", root] => {
            let b = data("bootstrap.json.zst");
            let want = {
                let v: Versioned<palisade_consensus::beacon::types::LightClientBootstrap> =
                    serde_json::from_value(b.clone()).unwrap();
                format!("{:#x}", v.data.header.beacon.root())
            };
            if *root == want {
                ok(b)
            } else {
                not_found()
            }
        }
        ["eth", "v1", "beacon", "light_client", "updates"] => {
            let q: BTreeMap<String, u64> = query
                .split('&')
                .filter_map(|kv| {
                    kv.split_once('=').and_then(|(k, v)| Some((k.to_string(), v.parse().ok()?)))
                })
                .collect();
            let (start, count) = (q["start_period"], q["count"]);
            let ups: Vec<Value> = data("updates.json.zst")
                .as_array()
                .unwrap()
                .iter()
                .filter(|u| {
                    let slot: u64 = u["data"]["attested_header"]["beacon"]["slot"]
                        .as_str()
                        .unwrap()
                        .parse()
                        .unwrap();
                    (start..start + count).contains(&period_of(slot))
                })
                .cloned()
                .collect();
            ok(Value::Array(ups))
        }
        ["eth", "v1", "beacon", "headers", id] => {
            let id = if *id == "head" { s.head.borrow().clone() } else { id.to_string() };
            match s.block(&id) {
                Some(b) => ok(header_of(&b)),
                None => not_found(),
            }
        }
        ["eth", "v2", "beacon", "blocks", id] => match s.block(id) {
            Some(b) => ok(b),
            None => not_found(),
        },
        ["eth", "v1", "events"] => {
            let mut rx = s.head.subscribe();
            let stream = async_stream(
                move |tx: tokio::sync::mpsc::Sender<Result<String, std::io::Error>>| async move {
                    loop {
                        let head = rx.borrow_and_update().clone();
                        let ev = format!(
                            "event: head\ndata: {}\n\n",
                            json!({"block": head, "slot": "0", "state": head})
                        );
                        if tx.send(Ok(ev)).await.is_err() || rx.changed().await.is_err() {
                            return;
                        }
                    }
                },
            );
            Response::builder()
                .header("content-type", "text/event-stream")
                .body(Body::from_stream(stream))
                .unwrap()
        }
        _ => not_found(),
    }
}

/// A body stream fed by a task.
fn async_stream<F, Fut>(f: F) -> impl futures::Stream<Item = Result<String, std::io::Error>>
where
    F: FnOnce(tokio::sync::mpsc::Sender<Result<String, std::io::Error>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    tokio::spawn(f(tx));
    futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|x| (x, rx)) })
}

fn config(dir: &std::path::Path, ports: &[u16], extra: &str) -> (std::path::PathBuf, u16) {
    let b = data("bootstrap.json.zst");
    let v: Versioned<palisade_consensus::beacon::types::LightClientBootstrap> =
        serde_json::from_value(b).unwrap();
    let checkpoint = format!("{:#x}", v.data.header.beacon.root());
    let api_port = free_port();
    let endpoints: Vec<String> =
        ports.iter().map(|p| format!("{{ url = 'http://127.0.0.1:{p}' }}")).collect();
    let src = format!(
        "data_dir = '{}'\n[api]\nlisten = '127.0.0.1:{api_port}'\n\n[[beacon_chains]]\nname = 'beacon'\nendpoints = [{}]\ncheckpoint = '{checkpoint}'\npoll_interval_ms = 300\ntimeout_ms = 3000\n\n[[detectors]]\ntype = 'chain_health'\n{extra}",
        dir.display(),
        endpoints.join(", ")
    );
    let p = dir.join("palisade.toml");
    std::fs::write(&p, src).unwrap();
    (p, api_port)
}

async fn logged(p: &Palisade) -> Vec<(u64, String)> {
    tip_of(&p.store().await.block_log("beacon").await.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread")]
async fn real_blocks_are_verified_through_six_committee_handovers_and_followed_over_sse() {
    let (server, roots) = Beacon::new("");
    let port = server.clone().serve().await;
    let dir = tempfile::tempdir().unwrap();
    let (cfg, api) = config(dir.path(), &[port], "");
    let p = Palisade::spawn(dir.path(), cfg, api);
    // Block 7109430 (execution block 17923112) is the head: verified by its own sync
    // aggregate, signed by period 867's committee, learnt through five handovers.
    let first = wait_for(60, "block 7109430 followed", || async {
        let l = logged(&p).await;
        l.iter().find(|(n, _)| *n == 17_923_112).cloned()
    })
    .await;
    assert_eq!(first.1, roots[1]);
    // The next head arrives over the event stream.
    server.head.send_replace(roots[2].clone());
    let l = wait_for(30, "block 7109431 followed", || async {
        let l = logged(&p).await;
        l.iter().any(|(n, _)| *n == 17_923_113).then_some(l)
    })
    .await;
    assert_eq!(l.last().unwrap().1, roots[2]);
    let reqs = server.requests.lock().unwrap().clone();
    assert!(reqs.iter().any(|r| r.contains("light_client/updates")), "{reqs:?}");
    assert!(reqs.iter().any(|r| r == "/eth/v1/events"), "{reqs:?}");
    // No endpoint was found to lie.
    assert!(
        p.alerts().await.iter().all(|a| a.finding.detector != "source_integrity"),
        "{:?}",
        p.log()
    );
    // The stored lines carry the beacon data: slot, proposer, sync participation, attestations.
    let store = p.store().await;
    let st = store.load_chain("beacon").await.unwrap();
    let line = &st.blocks.iter().find(|(n, _, _)| *n == 17_923_113).unwrap().2;
    let b = palisade_primitives::BlockData::from_json_line(line).unwrap();
    let info = b.beacon.unwrap();
    assert_eq!(info.slot, 7_109_431);
    assert_eq!(format!("{:#x}", info.parent_root), roots[1]);
    assert_eq!(info.parent_slot, Some(7_109_430));
    assert!(info.sync_participants.unwrap() > 400);
    assert!(!info.attestations.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_endpoint_serving_a_forged_block_is_benched_and_the_honest_one_followed() {
    let (honest, roots) = Beacon::new("");
    let (liar, _) = Beacon::new("");
    // The liar's head is a block of its own: slot 7109431's block with a forged sync aggregate
    // (the content hashes to the root it announces, but the committee never signed it).
    let mut forged = data("blocks/7109431.json.zst");
    let sig = forged["data"]["message"]["body"]["sync_aggregate"]["sync_committee_signature"]
        .as_str()
        .unwrap()
        .to_string();
    let other = data("blocks/7109430.json.zst")["data"]["message"]["body"]["sync_aggregate"]
        ["sync_committee_signature"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(sig, other);
    forged["data"]["message"]["body"]["sync_aggregate"]["sync_committee_signature"] = json!(other);
    let forged_root = root_of(&forged);
    liar.forged.lock().unwrap().insert(forged_root.clone(), forged);
    liar.head.send_replace(forged_root.clone());
    let (lp, hp) = (liar.clone().serve().await, honest.clone().serve().await);
    let dir = tempfile::tempdir().unwrap();
    let (cfg, api) = config(dir.path(), &[lp, hp], "");
    let p = Palisade::spawn(dir.path(), cfg, api);
    let alert = wait_for(60, "the forged block reported", || async {
        p.alerts().await.into_iter().find(|a| a.finding.detector == "source_integrity")
    })
    .await;
    assert_eq!(alert.finding.evidence["check"], "sync_aggregate");
    assert_eq!(alert.finding.evidence["endpoint_index"], 0);
    assert_eq!(alert.finding.severity.as_str(), "critical");
    // The honest endpoint's chain is followed; the forged block never is.
    honest.head.send_replace(roots[2].clone());
    let l = wait_for(60, "the honest head followed", || async {
        let l = logged(&p).await;
        l.iter().any(|(_, h)| *h == roots[2]).then_some(l)
    })
    .await;
    assert!(l.iter().all(|(_, h)| *h != forged_root));
    // One strike, one alert: the liar is benched, not asked again and again.
    let n = p.alerts().await.iter().filter(|a| a.finding.detector == "source_integrity").count();
    assert_eq!(n, 1);
}
