//! A real anvil node for tests: started on a free port, stopped on drop.

use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running anvil.
#[derive(Debug)]
pub struct Anvil {
    child: Child,
    /// HTTP and WebSocket port.
    pub port: u16,
    http: reqwest::Client,
}

/// anvil's first default account (unlocked, funded).
pub const ACCOUNT0: &str = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266";
/// anvil's second default account.
pub const ACCOUNT1: &str = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8";
/// anvil's third default account.
pub const ACCOUNT2: &str = "0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc";

/// A free local TCP port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

/// The anvil binary: `PALISADE_ANVIL`, else `anvil` on `PATH`.
pub fn binary() -> String {
    std::env::var("PALISADE_ANVIL").unwrap_or_else(|_| "anvil".into())
}

/// The cast binary: `PALISADE_CAST`, else `cast` on `PATH`.
pub fn cast_binary() -> String {
    std::env::var("PALISADE_CAST").unwrap_or_else(|_| "cast".into())
}

/// anvil's first default account's private key (public test key, funded only on anvil).
pub const KEY0: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
/// anvil's second default account's private key.
pub const KEY1: &str = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";

impl Anvil {
    /// Starts anvil with extra arguments (for example `["--chain-id", "5"]`) and waits until it
    /// answers.
    ///
    /// # Panics
    /// When anvil cannot be started: scripts/test.sh installs it.
    pub async fn start(extra: &[&str]) -> Self {
        Self::start_on(free_port(), extra).await
    }

    /// Like [`Anvil::start`], on a given port (a node that comes up where a monitor already
    /// waits for it).
    ///
    /// # Panics
    /// When anvil cannot be started: scripts/test.sh installs it.
    pub async fn start_on(port: u16, extra: &[&str]) -> Self {
        let child = Command::new(binary())
            .args(["--port", &port.to_string(), "--host", "127.0.0.1", "--silent"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start anvil ({}): {e}; run scripts/test.sh, which installs it",
                    binary()
                )
            });
        let a = Self { child, port, http: reqwest::Client::new() };
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(20) {
            if a.try_rpc("eth_chainId", json!([])).await.is_ok() {
                return a;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("anvil did not answer on port {port}");
    }

    /// HTTP URL.
    pub fn http_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// WebSocket URL.
    pub fn ws_url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.port)
    }

    async fn try_rpc(&self, method: &str, params: Value) -> eyre::Result<Value> {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let v: Value = self.http.post(self.http_url()).json(&body).send().await?.json().await?;
        if let Some(e) = v.get("error") {
            eyre::bail!("{method}: {e}");
        }
        Ok(v["result"].clone())
    }

    /// Calls a JSON-RPC method.
    ///
    /// # Panics
    /// On any error (tests want to stop there).
    pub async fn rpc(&self, method: &str, params: Value) -> Value {
        self.try_rpc(method, params).await.unwrap_or_else(|e| panic!("{e}"))
    }

    /// Mines `n` blocks.
    pub async fn mine(&self, n: u64) {
        self.rpc("anvil_mine", json!([format!("{n:#x}")])).await;
    }

    /// The current block number.
    pub async fn block_number(&self) -> u64 {
        let v = self.rpc("eth_blockNumber", json!([])).await;
        u64::from_str_radix(v.as_str().unwrap_or("0x0").trim_start_matches("0x"), 16).unwrap_or(0)
    }

    /// Hash of the canonical block `n`.
    pub async fn block_hash(&self, n: u64) -> String {
        let b = self.rpc("eth_getBlockByNumber", json!([format!("{n:#x}"), false])).await;
        b["hash"].as_str().unwrap_or_default().to_string()
    }

    /// Sends a transaction from an unlocked account and returns its hash.
    /// With automine (the default) the transaction is mined in its own block before this returns.
    pub async fn send(&self, from: &str, to: Option<&str>, data: &str, value_wei: u128) -> String {
        let mut tx = json!({"from": from, "data": data, "value": format!("{value_wei:#x}"), "gas": "0x1e8480"});
        if let Some(t) = to {
            tx["to"] = json!(t);
        }
        let h = self
            .rpc("eth_sendTransaction", json!([tx]))
            .await
            .as_str()
            .unwrap_or_default()
            .to_string();
        self.receipt(&h).await;
        h
    }

    /// Receipt of a transaction, waiting up to 10 s for it to be mined.
    pub async fn receipt(&self, hash: &str) -> Value {
        let t = Instant::now();
        loop {
            let r = self.rpc("eth_getTransactionReceipt", json!([hash])).await;
            if !r.is_null() || t.elapsed() > Duration::from_secs(10) {
                return r;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Deploys a contract from creation bytecode and returns its address (mines a block when
    /// automine is on).
    pub async fn deploy(&self, from: &str, bytecode: &str) -> String {
        let h = self.send(from, None, bytecode, 0).await;
        let r = self.receipt(&h).await;
        r["contractAddress"]
            .as_str()
            .unwrap_or_else(|| panic!("deployment failed: {r}"))
            .to_string()
    }
}

impl Anvil {
    /// Runs `cast` against this node (`--rpc-url` appended) and returns its stdout.
    ///
    /// # Panics
    /// When cast fails: scripts/test.sh installs it.
    pub fn cast(&self, args: &[&str]) -> String {
        let out = Command::new(cast_binary())
            .args(args)
            .args(["--rpc-url", &self.http_url()])
            .output()
            .unwrap_or_else(|e| panic!("cannot run cast ({}): {e}", cast_binary()));
        assert!(
            out.status.success(),
            "cast {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Anvil {
    /// Deploys the committed artifact `name` (see [`artifact_bytecode`]) from `from`, with
    /// constructor arguments ABI-encoded by cast (`ctor`: the constructor's signature, then its
    /// arguments; empty for none), with gas enough for large contracts, and returns its address.
    ///
    /// # Panics
    /// When the deployment fails.
    pub async fn deploy_artifact(&self, from: &str, name: &str, ctor: &[&str]) -> String {
        let mut code = artifact_bytecode(name);
        if let Some((sig, args)) = ctor.split_first() {
            let mut a = vec!["abi-encode", sig];
            a.extend_from_slice(args);
            code.push_str(cast_offline(&a).trim_start_matches("0x"));
        }
        let tx = json!({"from": from, "data": code, "gas": "0x1c9c380"});
        let h = self.rpc("eth_sendTransaction", json!([tx])).await;
        let r = self.receipt(h.as_str().unwrap_or_default()).await;
        assert_eq!(r["status"], "0x1", "deploying {name}: {r}");
        r["contractAddress"].as_str().unwrap_or_default().to_string()
    }

    /// Sends `sig(args)` (encoded by cast) from `from` to `to` with 8 M gas, waits for it to be
    /// mined, checks that it succeeded and returns its hash.
    ///
    /// # Panics
    /// When the transaction fails.
    pub async fn transact(&self, from: &str, to: &str, sig: &str, args: &[&str]) -> String {
        let mut a = vec!["calldata", sig];
        a.extend_from_slice(args);
        // Gas enough for a factory deploying a pool.
        let tx = json!({"from": from, "to": to, "data": cast_offline(&a), "gas": "0x7a1200"});
        let h = self.rpc("eth_sendTransaction", json!([tx])).await;
        let h = h.as_str().unwrap_or_default().to_string();
        let r = self.receipt(&h).await;
        assert_eq!(r["status"], "0x1", "{sig} {args:?} from {from} failed: {r}");
        h
    }
}

impl Anvil {
    /// Block `n` with receipts and traces as Palisade fetches it, then the same block twice
    /// more: with its call tree only ("traces") and with its logs only ("logs"), for checking
    /// that both sources decode alike.
    ///
    /// # Panics
    /// When the node does not serve the block.
    pub async fn block_both_ways(
        &self,
        n: u64,
    ) -> [(&'static str, palisade_primitives::BlockData); 2] {
        use palisade_source::evm_rpc::{EndpointConfig, Enrich, RpcClient, RpcSettings};
        let rpc = RpcClient::new(&EndpointConfig::http(&self.http_url()), &RpcSettings::default())
            .expect("an RPC client for anvil");
        let rec = rpc
            .block_by_number(n, Enrich { receipts: true, traces: true })
            .await
            .expect("anvil answers")
            .unwrap_or_else(|| panic!("anvil has no block {n}"));
        let b = palisade_primitives::BlockData::from_recorded(rec).expect("anvil's block decodes");
        let (mut traces_only, mut logs_only) = (b.clone(), b);
        traces_only.receipts = None;
        logs_only.traces = None;
        logs_only.call_traces = None;
        [("traces", traces_only), ("logs", logs_only)]
    }
}

/// Runs `cast` without a node (ABI encoding, hashing) and returns its stdout.
///
/// # Panics
/// When cast fails.
pub fn cast_offline(args: &[&str]) -> String {
    let out = Command::new(cast_binary())
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run cast ({}): {e}", cast_binary()));
    assert!(out.status.success(), "cast {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Bytecode of a committed test contract artifact (`testdata/contracts/<name>.json`).
///
/// # Panics
/// When the artifact is missing.
pub fn artifact_bytecode(name: &str) -> String {
    let p = crate::fixtures::testdata(&format!("contracts/{name}.json"));
    let v: Value = serde_json::from_str(
        &std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())),
    )
    .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    v["bytecode"].as_str().unwrap_or_default().to_string()
}

/// ABI-encodes a call: 4-byte selector of `signature` followed by 32-byte words (addresses and
/// integers given as hex without 0x or as addresses).
pub fn calldata(signature: &str, words: &[&str]) -> String {
    let sel = alloy_primitives::keccak256(signature.as_bytes());
    let mut s = format!("0x{}", alloy_primitives::hex::encode(&sel[..4]));
    for w in words {
        let w = w.trim_start_matches("0x");
        s.push_str(&format!("{w:0>64}"));
    }
    s
}
