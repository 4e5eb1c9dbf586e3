//! A CometBFT chain followed through its RPC, against a local server: forty heights signed with
//! real Ed25519 signatures (tendermint-testgen's deterministic validator keys) in the shapes of
//! the CometBFT RPC, served over HTTP, with new blocks announced over the WebSocket. Palisade
//! verifies every block from a trusted height, and its `comet_validators` detector reports a
//! watched validator's missed blocks, a validator-set change bringing a validator to a
//! dangerous share, a watched validator leaving the set, and double-sign evidence. An endpoint
//! that serves a block whose commit was tampered with is reported and benched.

mod common;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use common::*;
use futures::{SinkExt, StreamExt};
use palisade_testing::anvil::free_port;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tendermint_testgen::{Commit, Generator, Header, LightBlock as TgBlock, Validator, Vote};
use tokio::sync::watch;

const CHAIN: &str = "palisade-test-1";
/// The watched validator: misses heights 11..=20, leaves at 30.
const D: &str = "validator-d";
const HEIGHTS: u64 = 40;

struct Block {
    signed_header: Value,
    validators: Vec<Value>,
    evidence: Vec<Value>,
    hash: String,
}

fn addr(id: &str) -> String {
    Validator::new(id).generate().unwrap().address.to_string()
}

/// The chain: A, B, C with 30 each and D with 10; E joins with 60 at height 25; D leaves at 30;
/// D does not sign heights 11..=20; block 35 carries evidence of B signing twice.
fn chain() -> Vec<Block> {
    let base = |extra: &[(&str, u64)], without_d: bool| -> Vec<Validator> {
        let mut v: Vec<Validator> =
            [("validator-a", 30), ("validator-b", 30), ("validator-c", 30), (D, 10)]
                .iter()
                .filter(|(id, _)| !(without_d && *id == D))
                .map(|(id, p)| Validator::new(id).voting_power(*p))
                .collect();
        v.extend(extra.iter().map(|(id, p)| Validator::new(id).voting_power(*p)));
        v
    };
    let set_at = |h: u64| -> Vec<Validator> {
        if h >= 30 {
            base(&[("validator-e", 60)], true)
        } else if h >= 25 {
            base(&[("validator-e", 60)], false)
        } else {
            base(&[], false)
        }
    };
    let mut out: Vec<Block> = Vec::new();
    let mut prev: Option<tendermint::Hash> = None;
    for h in 1..=HEIGHTS {
        let vals = set_at(h);
        let next = set_at(h + 1);
        let mut header =
            Header::new(&vals).next_validators(&next).chain_id(CHAIN).height(h).time(
                tendermint::Time::from_unix_timestamp(1_700_000_000 + h as i64 * 6, 0).unwrap(),
            );
        if let Some(p) = prev {
            header = header.last_block_id_hash(p);
        }
        let votes: Vec<Vote> = vals
            .iter()
            .filter(|v| !(v.id.as_deref() == Some(D) && (11..=20).contains(&h)))
            .map(|v| Vote::new(v.clone(), header.clone()).round(1))
            .collect();
        let tm = TgBlock::new(
            header,
            Commit::new_with_votes(header_clone(&vals, &next, h, prev), 1, votes),
        )
        .next_validators(&next)
        .generate()
        .unwrap();
        let hash = tm.signed_header.header.hash();
        prev = Some(hash);
        let evidence = if h == 35 {
            vec![json!({"type": "tendermint/DuplicateVoteEvidence", "value": {
                "vote_a": {"type": 2, "height": "33", "round": 0, "validator_address": addr("validator-b")},
                "vote_b": {"type": 2, "height": "33", "round": 0, "validator_address": addr("validator-b")},
                "TotalVotingPower": "160", "ValidatorPower": "30", "Timestamp": "2023-11-14T22:16:38Z"}})]
        } else {
            Vec::new()
        };
        out.push(Block {
            signed_header: serde_json::to_value(&tm.signed_header).unwrap(),
            validators: tm
                .validators
                .validators()
                .iter()
                .map(|v| serde_json::to_value(v).unwrap())
                .collect(),
            evidence,
            hash: hash.to_string(),
        });
    }
    out
}

/// The same header again (testgen's commit is built from the header it signs).
fn header_clone(
    vals: &[Validator],
    next: &[Validator],
    h: u64,
    prev: Option<tendermint::Hash>,
) -> Header {
    let mut header = Header::new(vals)
        .next_validators(next)
        .chain_id(CHAIN)
        .height(h)
        .time(tendermint::Time::from_unix_timestamp(1_700_000_000 + h as i64 * 6, 0).unwrap());
    if let Some(p) = prev {
        header = header.last_block_id_hash(p);
    }
    header
}

#[derive(Clone)]
struct Comet {
    blocks: Arc<Vec<Block>>,
    head: watch::Sender<u64>,
    /// Heights whose commit this server tampers with.
    tamper: Arc<Mutex<Vec<u64>>>,
}

fn rpc(v: Value) -> Response {
    (StatusCode::OK, axum::Json(json!({"jsonrpc": "2.0", "id": -1, "result": v}))).into_response()
}

fn rpc_err(msg: &str) -> Response {
    (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(json!({"jsonrpc": "2.0", "id": -1, "error": {"code": -32603, "message": "Internal error", "data": msg}})))
        .into_response()
}

async fn handle(State(s): State<Comet>, req: Request) -> Response {
    let path = req.uri().path().trim_start_matches('/').to_string();
    let q: BTreeMap<String, String> = req
        .uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|kv| {
            kv.split_once('=').map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
        })
        .collect();
    let head = *s.head.borrow();
    let height = |k: &str| q.get(k).and_then(|h| h.parse::<u64>().ok());
    let get = |h: u64| (h >= 1 && h <= head).then(|| &s.blocks[h as usize - 1]);
    match path.as_str() {
        "status" => {
            let b = &s.blocks[head as usize - 1];
            rpc(
                json!({"node_info": {"network": CHAIN}, "sync_info": {"latest_block_height": head.to_string(), "latest_block_hash": b.hash}}),
            )
        }
        "commit" => match height("height").and_then(get) {
            Some(b) => {
                let mut sh = b.signed_header.clone();
                if s.tamper.lock().unwrap().contains(&height("height").unwrap()) {
                    // Another app hash under the same commit: the header no longer hashes to
                    // what the validators signed.
                    sh["header"]["app_hash"] = json!("DEADBEEF");
                }
                rpc(json!({"signed_header": sh, "canonical": true}))
            }
            None => rpc_err("height not available"),
        },
        "validators" => {
            // The set of a height; for head + 1, the next set the head announced.
            let h = height("height").unwrap_or(head);
            let src = if h == head + 1 {
                get(head).map(|_| next_set(&s, head))
            } else {
                get(h).map(|b| b.validators.clone())
            };
            match src {
                Some(v) => rpc(
                    json!({"block_height": h.to_string(), "validators": v, "count": v.len().to_string(), "total": v.len().to_string()}),
                ),
                None => rpc_err("height not available"),
            }
        }
        "block" | "block_by_hash" => {
            let b = if path == "block" {
                height("height").and_then(get)
            } else {
                let want = q
                    .get("hash")
                    .map(|h| h.trim_start_matches("0x").to_uppercase())
                    .unwrap_or_default();
                s.blocks[..head as usize].iter().find(|b| b.hash == want)
            };
            match b {
                Some(b) => {
                    rpc(json!({"block_id": b.signed_header["commit"]["block_id"], "block": {
                    "header": b.signed_header["header"], "data": {"txs": []},
                    "evidence": {"evidence": b.evidence}, "last_commit": null}}))
                }
                None => rpc_err("block not found"),
            }
        }
        _ => (StatusCode::NOT_FOUND, "").into_response(),
    }
}

fn next_set(s: &Comet, head: u64) -> Vec<Value> {
    // Height head + 1's set: what the next block has, or (past the end) the head's own.
    s.blocks
        .get(head as usize)
        .map_or_else(|| s.blocks[head as usize - 1].validators.clone(), |b| b.validators.clone())
}

impl Comet {
    async fn serve(self) -> (u16, u16) {
        let port = free_port();
        let app = axum::Router::new().fallback(handle).with_state(self.clone());
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        // The WebSocket: a NewBlock event whenever the head moves.
        let ws_port = free_port();
        let l = tokio::net::TcpListener::bind(("127.0.0.1", ws_port)).await.unwrap();
        let head = self.head.clone();
        tokio::spawn(async move {
            while let Ok((sock, _)) = l.accept().await {
                let mut rx = head.subscribe();
                tokio::spawn(async move {
                    let Ok(mut ws) = tokio_tungstenite::accept_async(sock).await else { return };
                    let _ = ws.next().await; // the subscribe request
                    loop {
                        let h = *rx.borrow_and_update();
                        let ev = json!({"jsonrpc": "2.0", "id": 1, "result": {"query": "tm.event='NewBlock'",
                            "data": {"type": "tendermint/event/NewBlock", "value": {"block": {"header": {"height": h.to_string()}}}}}});
                        if ws
                            .send(tokio_tungstenite::tungstenite::Message::text(ev.to_string()))
                            .await
                            .is_err()
                            || rx.changed().await.is_err()
                        {
                            return;
                        }
                    }
                });
            }
        });
        (port, ws_port)
    }
}

fn config(
    dir: &std::path::Path,
    servers: &[(u16, u16)],
    trusted: &str,
) -> (std::path::PathBuf, u16) {
    let api_port = free_port();
    let eps: Vec<String> = servers
        .iter()
        .map(|(p, w)| {
            format!("{{ url = 'http://127.0.0.1:{p}', ws = 'ws://127.0.0.1:{w}/websocket' }}")
        })
        .collect();
    let src = format!(
        "data_dir = '{}'\n[api]\nlisten = '127.0.0.1:{api_port}'\n\n[[comet_chains]]\nname = 'cosmos'\nchain_id = '{CHAIN}'\nendpoints = [{}]\ntrusted_height = 1\ntrusted_hash = '0x{trusted}'\ntrusting_period_secs = 3153600000\npoll_interval_ms = 300\ntimeout_ms = 3000\n\n[[detectors]]\ntype = 'comet_validators'\nvalidators = ['{}']\nmissed_tiers = [3, 8, 20, 40]\n",
        dir.display(),
        eps.join(", "),
        addr(D)
    );
    let p = dir.join("palisade.toml");
    std::fs::write(&p, src).unwrap();
    (p, api_port)
}

async fn tip(p: &Palisade) -> Option<u64> {
    tip_of(&p.store().await.block_log("cosmos").await.unwrap_or_default()).last().map(|t| t.0)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_verified_cometbft_chain_and_its_validator_set_findings() {
    let blocks = Arc::new(chain());
    let trusted = blocks[0].hash.clone();
    let (head, _) = watch::channel(5u64);
    let server = Comet { blocks, head, tamper: Arc::new(Mutex::new(Vec::new())) };
    let ports = server.clone().serve().await;
    let dir = tempfile::tempdir().unwrap();
    let (cfg, api) = config(dir.path(), &[ports], &trusted);
    let p = Palisade::spawn(dir.path(), cfg, api);
    wait_for(60, "height 5 followed", || async { (tip(&p).await >= Some(5)).then_some(()) }).await;
    // The chain grows; each new head is announced over the WebSocket.
    for h in [12, 22, 27, 33, HEIGHTS] {
        server.head.send_replace(h);
        wait_for(60, &format!("height {h} followed"), || async {
            (tip(&p).await == Some(h)).then_some(())
        })
        .await;
    }
    let alerts = p.alerts().await;
    assert!(alerts.iter().all(|a| a.finding.detector != "source_integrity"), "{}", p.log());
    let f: Vec<(String, String, u64)> = alerts
        .iter()
        .filter(|a| a.finding.detector == "comet_validators")
        .map(|a| {
            (
                a.finding.evidence["check"].as_str().unwrap().to_string(),
                a.finding.severity.as_str().to_string(),
                a.finding.anchor.number,
            )
        })
        .collect();
    let has =
        |check: &str, sev: &str, h: u64| f.iter().any(|x| x.0 == check && x.1 == sev && x.2 == h);
    // D misses 11..=20: 3 misses at 13 (low), 8 at 18 (medium).
    assert!(has("missed_blocks", "low", 13), "{f:?}");
    assert!(has("missed_blocks", "medium", 18), "{f:?}");
    // E joins at 25 with 60 of 160: the set moved 37.5 % (high) and E holds a dangerous share.
    assert!(has("set_change", "high", 25), "{f:?}");
    assert!(has("dangerous_share", "critical", 25), "{f:?}");
    // D, watched, leaves at 30.
    assert!(has("left_set", "critical", 30), "{f:?}");
    // B's double vote, as evidence in block 35.
    assert!(has("evidence", "high", 35), "{f:?}");
    let ev = alerts.iter().find(|a| a.finding.evidence["check"] == "evidence").unwrap();
    assert_eq!(ev.finding.evidence["validator"], addr("validator-b"));
    assert_eq!(ev.finding.evidence["kind"], "duplicate_vote");

    // The settlement-risk index: while D (10 of 100) does not sign, the commit's margin over
    // two thirds shrinks (90 % signed: 1 - 3 x (0.9 - 2/3) = 0.3) and missed power shows in
    // duties; before, both are 0.
    let body: Value =
        reqwest::get(format!("http://127.0.0.1:{api}/risk/cosmos/history?limit=1000"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    let comp = |p: &Value, n: &str| {
        p["components"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == n)
            .map(|c| c["value"].as_f64().unwrap())
    };
    let points = body["points"].as_array().expect("risk history");
    let at = |h: u64| points.iter().find(|p| p["block"]["number"] == h);
    for h in 2..=9 {
        let Some(p) = at(h) else { continue };
        assert_eq!(
            (comp(p, "finality"), comp(p, "duties")),
            (Some(0.0), Some(0.0)),
            "height {h}: {p}"
        );
    }
    let missed: Vec<&Value> = (11..=21)
        .filter_map(at)
        .filter(|p| comp(p, "finality").is_some_and(|v| (v - 0.3).abs() < 1e-5))
        .collect();
    assert!(missed.len() >= 9, "heights 11..=20 score finality 0.3: {body}");
    assert!(missed.iter().all(|p| comp(p, "duties").unwrap() > 0.0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tampered_commit_is_reported_against_its_endpoint_and_the_chain_followed_elsewhere() {
    let blocks = Arc::new(chain());
    let trusted = blocks[0].hash.clone();
    let (h1, _) = watch::channel(10u64);
    let (h2, _) = watch::channel(10u64);
    let liar = Comet {
        blocks: blocks.clone(),
        head: h1,
        tamper: Arc::new(Mutex::new((2..=HEIGHTS).collect())),
    };
    let honest = Comet { blocks, head: h2, tamper: Arc::new(Mutex::new(Vec::new())) };
    let (lp, hp) = (liar.clone().serve().await, honest.clone().serve().await);
    let dir = tempfile::tempdir().unwrap();
    let (cfg, api) = config(dir.path(), &[lp, hp], &trusted);
    let p = Palisade::spawn(dir.path(), cfg, api);
    wait_for(60, "height 10 followed", || async { (tip(&p).await == Some(10)).then_some(()) })
        .await;
    let bad: Vec<_> =
        p.alerts().await.into_iter().filter(|a| a.finding.detector == "source_integrity").collect();
    assert_eq!(bad.len(), 1, "one strike, then benched");
    assert_eq!(bad[0].finding.evidence["endpoint_index"], 0);
    assert_eq!(bad[0].finding.evidence["check"], "block_hash");
    assert_eq!(bad[0].finding.severity.as_str(), "critical");
}
