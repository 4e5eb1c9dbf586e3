//! Helpers for the live tests: the palisade process, a webhook receiver, polling.
#![allow(dead_code, unreachable_pub)]

pub mod cluster;

use hmac::{Hmac, Mac};
use palisade_store::{AlertFilter, AlertRow, LoggedBlock, Store};
use palisade_testing::anvil::{free_port, Anvil};
use serde_json::Value;
use sha2::Sha256;
use std::future::Future;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub const BIN: &str = env!("CARGO_BIN_EXE_palisade");
pub const WEBHOOK_SECRET: &str = "test-secret-not-for-production";

/// Polls `f` until it returns Some, or panics after `secs` with `what`.
pub async fn wait_for<T, F, Fut>(secs: u64, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let t = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        if t.elapsed() > Duration::from_secs(secs) {
            panic!("timed out after {secs} s waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A running `palisade run`.
pub struct Palisade {
    pub child: Child,
    pub dir: PathBuf,
    pub config: PathBuf,
    pub api_port: u16,
}

impl Palisade {
    /// Writes a config for `anvil` (chain `anvil`) with `body` appended (detectors, sinks) and
    /// starts palisade on it.
    pub fn start(dir: &std::path::Path, anvil: &Anvil, body: &str) -> Self {
        Self::start_with(dir, anvil, 32, body)
    }

    /// Like [`Palisade::start`] with a given `max_reorg_depth`.
    pub fn start_with(
        dir: &std::path::Path,
        anvil: &Anvil,
        max_reorg_depth: u64,
        body: &str,
    ) -> Self {
        let endpoints = format!("[{{ url = '{}', ws = '{}' }}]", anvil.http_url(), anvil.ws_url());
        Self::start_endpoints(dir, &endpoints, max_reorg_depth, body)
    }

    /// Starts palisade on chain `anvil` (31337) with the given endpoints list (TOML).
    pub fn start_endpoints(
        dir: &std::path::Path,
        endpoints: &str,
        max_reorg_depth: u64,
        body: &str,
    ) -> Self {
        Self::start_full(dir, endpoints, max_reorg_depth, "", body)
    }

    /// Starts palisade with `chain_extra` added to the `[[chains]]` entry.
    pub fn start_full(
        dir: &std::path::Path,
        endpoints: &str,
        max_reorg_depth: u64,
        chain_extra: &str,
        body: &str,
    ) -> Self {
        let api_port = free_port();
        let config = dir.join("palisade.toml");
        let src = format!(
            "data_dir = '{}'\n[api]\nlisten = '127.0.0.1:{api_port}'\n\n[[chains]]\nname = 'anvil'\nchain_id = 31337\nmax_reorg_depth = {max_reorg_depth}\nendpoints = {endpoints}\nrpc = {{ poll_interval_ms = 200, timeout_ms = 2000 }}\n{chain_extra}\n\n{body}",
            dir.display(),
        );
        std::fs::write(&config, src).unwrap();
        Self::spawn(dir, config, api_port)
    }

    pub fn spawn(dir: &std::path::Path, config: PathBuf, api_port: u16) -> Self {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("palisade.log"))
            .unwrap();
        let child = Command::new(BIN)
            .args(["run", "--config", config.to_str().unwrap()])
            .env("PALISADE_TEST_WEBHOOK_SECRET", WEBHOOK_SECRET)
            .env("PALISADE_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        Self { child, dir: dir.to_path_buf(), config, api_port }
    }

    /// Starts again on the same config (after a kill).
    pub fn restart(&mut self) {
        let _ = self.child.wait();
        *self = Self::spawn(&self.dir.clone(), self.config.clone(), self.api_port);
    }

    /// SIGKILL: no chance to clean up.
    pub fn kill9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("palisade.log")).unwrap_or_default()
    }

    pub async fn store(&self) -> Store {
        Store::open(&format!("sqlite://{}", self.dir.join("palisade.sqlite").display()))
            .await
            .unwrap()
    }

    /// Waits until palisade's processed tip is the anvil head.
    pub async fn wait_synced(&mut self, anvil: &Anvil) {
        self.wait_chain_synced("anvil", anvil).await
    }

    /// Waits until palisade's processed tip of `chain` is the head of `anvil`.
    pub async fn wait_chain_synced(&mut self, chain: &str, anvil: &Anvil) {
        let head = anvil.block_number().await;
        let hash = anvil.block_hash(head).await;
        let store = wait_for(30, "the store", || async { Some(self.store().await) }).await;
        let log = self.log();
        let t = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("palisade exited ({status}) while syncing:\n{}", self.log());
            }
            let tip = tip_of(&store.block_log(chain).await.unwrap_or_default());
            if tip.last().map(|b| (b.0, b.1.as_str())) == Some((head, hash.as_str())) {
                return;
            }
            if t.elapsed() > Duration::from_secs(30) {
                panic!(
                    "palisade did not reach head {head} {hash}; tip {:?}\n{log}\n{}",
                    tip.last(),
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn alerts(&self) -> Vec<AlertRow> {
        self.store()
            .await
            .list_alerts(&AlertFilter { limit: Some(10_000), ..Default::default() })
            .await
            .unwrap()
    }
}

impl Drop for Palisade {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Replays the block log: the canonical chain it leaves, and panics if a block is committed
/// twice without being reverted in between, or a revert does not undo the tip.
pub fn tip_of(log: &[LoggedBlock]) -> Vec<(u64, String)> {
    let mut chain: Vec<(u64, String)> = Vec::new();
    for e in log {
        match e.action.as_str() {
            "commit" => {
                if let Some(last) = chain.last() {
                    assert!(
                        e.number > last.0,
                        "block {} committed after {} without a revert",
                        e.number,
                        last.0
                    );
                }
                assert!(
                    !chain.iter().any(|(_, h)| *h == e.hash),
                    "block {} {} committed twice",
                    e.number,
                    e.hash
                );
                chain.push((e.number, e.hash.clone()));
            }
            "revert" => {
                let top = chain.pop().expect("revert of an empty chain");
                assert_eq!(
                    top,
                    (e.number, e.hash.clone()),
                    "revert of a block that is not the tip"
                );
            }
            other => panic!("unknown log action {other}"),
        }
    }
    chain
}

/// Hex of HMAC-SHA256(secret, timestamp + "." + body), computed here independently of the
/// implementation.
pub fn expected_signature(ts: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256>>::new_from_slice(WEBHOOK_SECRET.as_bytes()).unwrap();
    mac.update(ts.as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: Vec<(String, String)>,
    pub body: Value,
    pub raw: Vec<u8>,
    pub at: Instant,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A minimal HTTP/1.1 webhook receiver on a fixed port; answers 200 to every POST.
#[derive(Clone)]
pub struct Receiver {
    pub port: u16,
    pub got: Arc<Mutex<Vec<Received>>>,
    stop: Arc<tokio::sync::Notify>,
}

impl Receiver {
    /// A receiver for `port` that is not listening yet (the sink is "down").
    pub fn new(port: u16) -> Self {
        Self { port, got: Default::default(), stop: Default::default() }
    }

    /// Starts listening.
    pub async fn up(&self) {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port)).await.unwrap();
        let got = self.got.clone();
        let stop = self.stop.clone();
        tokio::spawn(async move {
            loop {
                let (mut sock, _) = tokio::select! {
                    r = listener.accept() => match r { Ok(x) => x, Err(_) => return },
                    () = stop.notified() => return,
                };
                let got = got.clone();
                tokio::spawn(async move {
                    loop {
                        let Some((headers, raw)) = read_request(&mut sock).await else { return };
                        let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
                        got.lock().unwrap().push(Received {
                            headers,
                            body,
                            raw,
                            at: Instant::now(),
                        });
                        if sock
                            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                });
            }
        });
    }

    pub fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// When the first request matching `pred` arrived, looked up without copying what was
    /// received (a poll that clones every body each millisecond slows the receiver it waits on).
    pub fn first_at(&self, pred: impl Fn(&Received) -> bool) -> Option<Instant> {
        self.got.lock().unwrap().iter().filter(|r| pred(r)).map(|r| r.at).min()
    }
}

/// A TCP proxy in front of a local port that can be cut off (an endpoint going down).
pub struct Proxy {
    pub port: u16,
    stop: tokio_util_like::Stop,
}

mod tokio_util_like {
    use std::sync::Arc;
    /// A stop switch shared by the proxy tasks.
    #[derive(Clone, Default)]
    pub struct Stop(pub Arc<tokio::sync::watch::Sender<bool>>);
}

impl Proxy {
    pub async fn start(target: u16) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = tokio::sync::watch::channel(false);
        let stop = tokio_util_like::Stop(Arc::new(tx));
        tokio::spawn(async move {
            let mut rx_accept = rx.clone();
            loop {
                let (mut inbound, _) = tokio::select! {
                    r = listener.accept() => match r { Ok(x) => x, Err(_) => return },
                    _ = rx_accept.changed() => return,
                };
                let mut rx_conn = rx.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) =
                        tokio::net::TcpStream::connect(("127.0.0.1", target)).await
                    else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = rx_conn.changed() => {}
                    }
                });
            }
        });
        Self { port, stop }
    }

    /// Cuts every connection and stops listening.
    pub fn cut(&self) {
        let _ = self.stop.0.send(true);
    }
}

/// What a lying endpoint does to the requests it forwards and the answers it returns.
pub trait Lie: Send + Sync + 'static {
    /// Rewrites a request before it is forwarded (default: unchanged).
    fn request(&self, _req: &mut Value) {}
    /// Rewrites an answer's `result`; returns the number of the block the lie is about, or
    /// `Some(0)` for a lie about no block in particular, or `None` when it left it alone.
    fn response(&self, method: &str, params: &Value, result: &mut Value) -> Option<u64>;
    /// Delay before answering.
    fn delay(&self) -> Duration {
        Duration::ZERO
    }
}

/// An HTTP JSON-RPC proxy in front of a node that rewrites requests and answers: a lying
/// endpoint. Its lies can be switched off and on, and it records the blocks it lied about.
pub struct Tamper {
    pub port: u16,
    /// Lying (true) or honest (false).
    pub lying: Arc<std::sync::atomic::AtomicBool>,
    /// Blocks it lied about, in order.
    pub lied: Arc<Mutex<Vec<u64>>>,
}

impl Tamper {
    /// Forwards every request to `target`, lying as `lie` says.
    pub async fn start(target: String, lie: impl Lie) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let http = reqwest::Client::new();
        let lie = Arc::new(lie);
        let lying = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let lied = Arc::new(Mutex::new(Vec::new()));
        let (on, log) = (lying.clone(), lied.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else { return };
                let (http, target, lie, on, log) =
                    (http.clone(), target.clone(), lie.clone(), on.clone(), log.clone());
                tokio::spawn(async move {
                    loop {
                        let Some((_, raw)) = read_request(&mut sock).await else { return };
                        let mut req: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
                        let lying = on.load(std::sync::atomic::Ordering::SeqCst);
                        let method = req["method"].as_str().unwrap_or("").to_string();
                        let params = req["params"].clone();
                        if lying {
                            lie.request(&mut req);
                        }
                        let Ok(resp) = http.post(&target).json(&req).send().await else { return };
                        let mut v: Value = resp.json().await.unwrap_or(Value::Null);
                        if lying {
                            if let Some(r) = v.get_mut("result") {
                                if let Some(n) = lie.response(&method, &params, r) {
                                    log.lock().unwrap().push(n);
                                }
                            }
                            tokio::time::sleep(lie.delay()).await;
                        }
                        let body = v.to_string();
                        let out = format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}", body.len());
                        if sock.write_all(out.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Self { port, lying, lied }
    }

    /// The endpoint's URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Stops or resumes lying.
    pub fn set_lying(&self, on: bool) {
        self.lying.store(on, std::sync::atomic::Ordering::SeqCst);
    }

    /// The first block it lied about.
    pub fn first_lie(&self) -> Option<u64> {
        self.lied.lock().unwrap().first().copied()
    }
}

/// Reads one HTTP/1.1 request from a kept-alive connection: its headers and body. `None` when
/// the connection closes.
async fn read_request(
    sock: &mut tokio::net::TcpStream,
) -> Option<(Vec<(String, String)>, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 8192];
    let header_end = loop {
        match sock.read(&mut tmp).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&tmp[..n]),
        }
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
    };
    let headers: Vec<(String, String)> = String::from_utf8_lossy(&buf[..header_end])
        .lines()
        .skip(1)
        .filter_map(|l| {
            l.split_once(':').map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        })
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < header_end + len {
        match sock.read(&mut tmp).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&tmp[..n]),
        }
    }
    Some((headers, buf[header_end..header_end + len].to_vec()))
}

/// Records the blocks this palisade processed on chain `anvil`, with what its config's detectors
/// need, replays them with that config and checks that the replay finds exactly the live alerts.
pub async fn replay_agrees_with_live(p: &Palisade, anvil: &Anvil) {
    replay_agrees_with_live_chains(p, &[("anvil", anvil)]).await
}

/// [`replay_agrees_with_live`] for several chains, replayed together (`CHAIN=FILE` inputs).
pub async fn replay_agrees_with_live_chains(p: &Palisade, chains: &[(&str, &Anvil)]) {
    let mut inputs = Vec::new();
    for (chain, anvil) in chains {
        let log = p.store().await.block_log(chain).await.unwrap();
        let tip = tip_of(&log);
        let (from, to) = (tip.first().unwrap().0, tip.last().unwrap().0);
        let file = p.dir.join(format!("recorded-{chain}.jsonl"));
        let st = Command::new(BIN)
            .args(["record", "--rpc", &anvil.http_url(), "--from", &from.to_string()])
            .args(["--to", &to.to_string(), "--config", p.config.to_str().unwrap()])
            .args(["--chain", chain, "-o"])
            .arg(&file)
            .status()
            .unwrap();
        assert!(st.success(), "palisade record --config failed");
        inputs.push(format!("{chain}={}", file.display()));
    }
    let out = Command::new(BIN)
        .arg("replay")
        .args(if chains.len() == 1 {
            vec![inputs[0].split_once('=').unwrap().1.to_string()]
        } else {
            inputs.clone()
        })
        .args(["--config", p.config.to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let replayed: std::collections::BTreeSet<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["key"].as_str().unwrap().to_string())
        .collect();
    let live: std::collections::BTreeSet<String> =
        p.alerts().await.iter().map(|a| a.finding.key.to_string()).collect();
    assert_eq!(replayed, live, "the replay of {inputs:?} disagrees with the live run");
}

/// Runs `palisade record` for blocks `from..=to` of `anvil` into `file`.
pub fn record(anvil: &Anvil, from: u64, to: u64, file: &std::path::Path) {
    let st = Command::new(BIN)
        .args([
            "record",
            "--rpc",
            &anvil.http_url(),
            "--from",
            &from.to_string(),
            "--to",
            &to.to_string(),
            "-o",
        ])
        .arg(file)
        .status()
        .unwrap();
    assert!(st.success(), "palisade record failed");
}

/// Runs `palisade replay FILE --config CONFIG --json` (plus `extra`) and returns its findings.
pub fn replay_json(file: &std::path::Path, config: &std::path::Path, extra: &[&str]) -> Vec<Value> {
    let out = Command::new(BIN)
        .args(["replay", file.to_str().unwrap(), "--config", config.to_str().unwrap(), "--json"])
        .args(extra)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A TCP relay on a fixed local port in front of a service (NATS, PostgreSQL) that can be
/// switched off (every connection cut, new ones closed at once) and on again: the service
/// going away and coming back, as a client sees it.
#[derive(Clone)]
pub struct Switch {
    pub port: u16,
    on: Arc<std::sync::atomic::AtomicBool>,
    epoch: Arc<tokio::sync::watch::Sender<u64>>,
}

impl Switch {
    /// Relays a free local port to `target` (host:port).
    pub async fn start(target: &str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let on = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let (tx, _) = tokio::sync::watch::channel(0u64);
        let epoch = Arc::new(tx);
        let (on2, epoch2, target) = (on.clone(), epoch.clone(), target.to_string());
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else { return };
                if !on2.load(std::sync::atomic::Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let mut cut = epoch2.subscribe();
                let target = target.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        Self { port, on, epoch }
    }

    /// Cuts every connection and refuses new ones.
    pub fn off(&self) {
        self.on.store(false, std::sync::atomic::Ordering::SeqCst);
        self.epoch.send_modify(|e| *e += 1);
    }

    /// Lets connections through again.
    pub fn on(&self) {
        self.on.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// The `p` quantile (0..=1) of `xs` by nearest rank (sorts `xs`); NaN when empty.
pub fn pct(xs: &mut [f64], p: f64) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    xs.sort_by(f64::total_cmp);
    xs[((xs.len() as f64 - 1.0) * p).round() as usize]
}

/// A bare `newHeads` subscriber on `anvil`, the reference the latency benches measure
/// against: block number -> when it was heard.
pub async fn heads_heard(anvil: &Anvil) -> Arc<Mutex<std::collections::HashMap<u64, Instant>>> {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let heard: Arc<Mutex<std::collections::HashMap<u64, Instant>>> = Default::default();
    let (mut ws, _) = tokio_tungstenite::connect_async(anvil.ws_url()).await.unwrap();
    ws.send(Message::text(
        serde_json::json!({"jsonrpc":"2.0","id":1,"method":"eth_subscribe","params":["newHeads"]})
            .to_string(),
    ))
    .await
    .unwrap();
    let h = heard.clone();
    tokio::spawn(async move {
        while let Some(Ok(m)) = ws.next().await {
            let Message::Text(t) = m else { continue };
            let v: Value = serde_json::from_str(&t).unwrap_or_default();
            if let Some(num) = v.pointer("/params/result/number").and_then(|x| x.as_str()) {
                let num = u64::from_str_radix(num.trim_start_matches("0x"), 16).unwrap_or(0);
                h.lock().unwrap().insert(num, Instant::now());
            }
        }
    });
    heard
}

/// A far-away node: see [`slow_proxy`].
#[derive(Clone)]
pub struct Slow {
    target: String,
    http: reqwest::Client,
    /// Requests received.
    pub requests: Arc<std::sync::atomic::AtomicU64>,
    /// Requests answered 429.
    pub limited: Arc<std::sync::atomic::AtomicU64>,
    /// Every this many requests is answered 429 (0: never), up to `max_limited` times.
    every: u64,
    max_limited: u64,
}

async fn relay(
    axum::extract::State(s): axum::extract::State<Slow>,
    body: axum::body::Bytes,
) -> axum::response::Response {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    use std::sync::atomic::Ordering;
    let n = s.requests.fetch_add(1, Ordering::SeqCst) + 1;
    tokio::time::sleep(Duration::from_millis(25)).await;
    if s.every > 0 && n % s.every == 0 && s.limited.load(Ordering::SeqCst) < s.max_limited {
        s.limited.fetch_add(1, Ordering::SeqCst);
        return (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "1")], "slow down")
            .into_response();
    }
    let r = s
        .http
        .post(&s.target)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    (StatusCode::OK, [("content-type", "application/json")], r.bytes().await.unwrap())
        .into_response()
}

/// A JSON-RPC proxy in front of `anvil` that adds 25 ms to every request and answers every
/// `every`th with 429 and `Retry-After: 1` (at most `max_limited` times); its URL.
pub async fn slow_proxy(anvil: &Anvil, every: u64, max_limited: u64) -> (String, Slow) {
    let s = Slow {
        target: anvil.http_url(),
        http: reqwest::Client::new(),
        requests: Arc::default(),
        limited: Arc::default(),
        every,
        max_limited,
    };
    let app = axum::Router::new().fallback(relay).with_state(s.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://127.0.0.1:{port}"), s)
}
