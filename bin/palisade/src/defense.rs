//! `palisade demo --scenario defense`: the end-to-end defense on a local anvil.
//!
//! anvil mines every second with fee ordering. A vault holding depositors' ether has a guardian
//! who may pause it (the key Palisade's responder signs with, from an encrypted keystore). An
//! attacker sends a draining transaction through its own contract right after a block. Palisade
//! sees it pending, simulates it on the latest verified state, finds that the vault would be
//! emptied while its shares stay (an invariant breaks), and sends `pause()` with a higher
//! priority fee. Fee ordering puts the pause first: the attack reverts, the vault keeps its
//! ether. With `--benign`, the vault's owner redeems 40% of the vault instead: nothing breaks,
//! nothing is paused.

use eyre::{eyre, WrapErr};
use palisade_primitives::U256;
use palisade_store::Store;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const ETH: u128 = 1_000_000_000_000_000_000;
/// anvil's well-known test accounts (funded only on anvil).
const OWNER: &str = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266";
const ATTACKER: &str = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8";
const GUARDIAN: &str = "0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc";
const DEPOSITOR: &str = "0x90f79bf6eb2c4f870365e785982e1f101e93b906";
/// The guardian's key: anvil's third test key, public and funded only on anvil. The demo writes
/// it to an encrypted keystore with a random password, as an operator would.
const GUARDIAN_KEY: &str = "5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a";
const PASSWORD_ENV: &str = "PALISADE_DEMO_GUARDIAN_PASSWORD";

const VAULT_ARTIFACT: &str = include_str!("../../../testdata/contracts/GuardedVault.json");
const DRAINER_ARTIFACT: &str = include_str!("../../../testdata/contracts/VaultDrainer.json");
/// The example assertions (examples/assertions/Examples.sol) the `--assertions` variant guards
/// the vault with.
const SHARE_PRICE_ARTIFACT: &str =
    include_str!("../../../testdata/contracts/SharePriceAssertion.json");
const OUTFLOW_ARTIFACT: &str =
    include_str!("../../../testdata/contracts/OutflowBoundAssertion.json");

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// The anvil binary: `PALISADE_ANVIL`, `anvil` on PATH, or the one scripts/test.sh installs.
fn anvil_binary() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("PALISADE_ANVIL") {
        let p = PathBuf::from(p);
        return p.is_file().then_some(p);
    }
    if let Some(paths) = std::env::var_os("PATH") {
        for d in std::env::split_paths(&paths) {
            let p = d.join("anvil");
            if p.is_file() {
                return Some(p);
            }
        }
    }
    let tools = std::env::var("PALISADE_TOOLS").map(PathBuf::from).ok().or_else(|| {
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/palisade-tools"))
    })?;
    let p = tools.join("node_modules/.bin/anvil");
    p.is_file().then_some(p)
}

struct Anvil {
    child: Child,
    url: String,
    http: reqwest::Client,
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Anvil {
    async fn start(bin: &Path) -> eyre::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = Command::new(bin)
            .args(["--port", &port.to_string(), "--host", "127.0.0.1", "--silent"])
            .args(["--block-time", "1", "--order", "fees"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .wrap_err_with(|| format!("starting {}", bin.display()))?;
        let a = Self { child, url: format!("127.0.0.1:{port}"), http: reqwest::Client::new() };
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(20) {
            if a.rpc("eth_chainId", json!([])).await.is_ok() {
                return Ok(a);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(eyre!("anvil did not answer on port {port}"))
    }

    async fn rpc(&self, method: &str, params: Value) -> eyre::Result<Value> {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let v: Value =
            self.http.post(format!("http://{}", self.url)).json(&body).send().await?.json().await?;
        if let Some(e) = v.get("error") {
            return Err(eyre!("{method}: {e}"));
        }
        Ok(v["result"].clone())
    }

    async fn send(
        &self,
        from: &str,
        to: Option<&str>,
        data: &str,
        value: u128,
        tip: u128,
    ) -> eyre::Result<String> {
        let mut tx = json!({"from": from, "data": data, "value": format!("{value:#x}"), "gas": "0x1e8480",
            "maxPriorityFeePerGas": format!("{tip:#x}"), "maxFeePerGas": format!("{:#x}", 100_000_000_000u128)});
        if let Some(t) = to {
            tx["to"] = json!(t);
        }
        let h = self.rpc("eth_sendTransaction", json!([tx])).await?;
        h.as_str().map(str::to_string).ok_or_else(|| eyre!("eth_sendTransaction: no hash"))
    }

    async fn receipt(&self, hash: &str) -> eyre::Result<Value> {
        let t = Instant::now();
        loop {
            let r = self.rpc("eth_getTransactionReceipt", json!([hash])).await?;
            if !r.is_null() {
                return Ok(r);
            }
            if t.elapsed() > Duration::from_secs(30) {
                return Err(eyre!("transaction {hash} was not mined in 30 s"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn mined(
        &self,
        from: &str,
        to: Option<&str>,
        data: &str,
        value: u128,
    ) -> eyre::Result<Value> {
        let h = self.send(from, to, data, value, 1_000_000_000).await?;
        let r = self.receipt(&h).await?;
        if r["status"] != "0x1" {
            return Err(eyre!("setup transaction {h} failed: {r}"));
        }
        Ok(r)
    }

    async fn block_number(&self) -> eyre::Result<u64> {
        let v = self.rpc("eth_blockNumber", json!([])).await?;
        palisade_primitives::quantity::u64(&v).map_err(|e| eyre!("eth_blockNumber: {e}"))
    }

    async fn balance(&self, a: &str) -> eyre::Result<U256> {
        let v = self.rpc("eth_getBalance", json!([a, "latest"])).await?;
        palisade_primitives::quantity::u256(&v).map_err(|e| eyre!("eth_getBalance: {e}"))
    }

    async fn call_word(&self, to: &str, sig: &str) -> eyre::Result<U256> {
        let v = self.rpc("eth_call", json!([{"to": to, "data": selector(sig)}, "latest"])).await?;
        let b =
            palisade_primitives::quantity::bytes(&v).map_err(|e| eyre!("eth_call {sig}: {e}"))?;
        Ok(U256::from_be_slice(b.get(..32).unwrap_or(&[])))
    }
}

fn selector(sig: &str) -> String {
    format!(
        "0x{}",
        alloy_primitives::hex::encode(&palisade_primitives::keccak256(sig.as_bytes())[..4])
    )
}

fn word(hex_addr: &str) -> String {
    format!("{:0>64}", hex_addr.trim_start_matches("0x"))
}

fn bytecode(artifact: &str) -> eyre::Result<String> {
    let v: Value = serde_json::from_str(artifact)?;
    v["bytecode"].as_str().map(str::to_string).ok_or_else(|| eyre!("artifact without bytecode"))
}

/// The guard: the simulation detector's loss limit, invariant and privileged slot; or, with
/// `assertions`, the example Solidity assertions alone (the vault's share price never drops
/// within a transaction; no transaction takes more than half its ether).
fn guard(vault: &str, assertions: bool) -> (String, &'static str) {
    if assertions {
        let entry_points =
            ["deposit()", "redeem(uint256)", "migrate(address)"].map(selector).join(",");
        let text = format!(
            r#"# The vault's properties, written in Solidity (examples/assertions/Examples.sol) and
# checked on every pending transaction that triggers them, before inclusion.
[[detectors]]
type = 'assertion'
name = 'vault-shares'
contract = '{vault}'
artifact = 'SharePriceAssertion.json'
args = ['[{entry_points}]']   # deposit(), redeem(uint256), migrate(address)

[[detectors]]
type = 'assertion'
name = 'vault-outflow'
contract = '{vault}'
artifact = 'OutflowBoundAssertion.json'
args = ['5000']               # at most 50% of its ether per transaction
"#
        );
        (text, "'assertion:vault-shares', 'assertion:vault-outflow'")
    } else {
        let text = format!(
            r#"# What the vault must never do: pay out more than its shares are worth, lose half its ether to
# one transaction, or change owner.
[[detectors]]
type = 'simulation'
name = 'vault'
contracts = ['{vault}']
max_loss_percent = 50.0
[[detectors.invariants]]
name = 'shares-backed'
contract = '{vault}'
views = ['totalAssets()', 'totalShares()']
expr = 'after.totalAssets >= after.totalShares'
[[detectors.privileged_slots]]
contract = '{vault}'
slot = '0'
name = 'owner'
size = 20      # Ownable's owner shares slot 0 with Pausable's flag
"#
        );
        (text, "'simulation:vault'")
    }
}

fn config(
    dir: &Path,
    rpc: &str,
    vault: &str,
    owner: &str,
    keystore: &Path,
    assertions: bool,
) -> String {
    let (guard, respond_to) = guard(vault, assertions);
    format!(
        r#"# Written by `palisade demo --scenario defense`.
data_dir = '{data}'

[api]
listen = ''

[[chains]]
name = 'local'
chain_id = 31337
endpoints = [{{ url = 'http://{rpc}', ws = 'ws://{rpc}' }}]
[chains.mempool]
enabled = true
poll_interval_ms = 200

{guard}
# migrate() is the owner's: anyone else calling it, pending or mined, is reported.
[[detectors]]
type = 'admin_call'
name = 'vault'
contracts = ['{vault}']
functions = ['migrate(address)']
allowed_callers = ['{owner}', '{GUARDIAN}']

[[detectors]]
type = 'mempool_frontrun'

# Pause the vault when a pending transaction would break it. Live, not a dry run.
[[responders]]
name = 'pause-vault'
type = 'pause_tx'
chain = 'local'
dry_run = false
[responders.policy]
detectors = [{respond_to}]
min_severity = 'critical'
stage = 'pending'
max_actions = 1
per_seconds = 3600
[responders.tx]
to = '{vault}'
call = 'pause()'
gas_limit = 100000
[responders.key]
keystore = '{ks}'
password_env = '{PASSWORD_ENV}'
"#,
        data = dir.display(),
        ks = keystore.display(),
    )
}

/// Runs the scenario; prints what happens, and the summary as the last line with `json`.
pub(crate) async fn cmd(
    data_dir: Option<PathBuf>,
    json_out: bool,
    benign: bool,
    assertions: bool,
) -> eyre::Result<ExitCode> {
    let Some(bin) = anvil_binary() else {
        eprintln!("error: the defense scenario needs anvil: put it on PATH, set PALISADE_ANVIL, or run scripts/test.sh (it installs it)");
        return Ok(ExitCode::from(2));
    };
    let say = |s: &str| {
        if json_out {
            eprintln!("{s}");
        } else {
            println!("{s}");
        }
    };
    let base = data_dir.unwrap_or_else(|| PathBuf::from(".palisade"));
    std::fs::create_dir_all(&base).wrap_err_with(|| format!("creating {}", base.display()))?;
    // Kept after the run: its store holds the alerts and the responses (`palisade alerts list`,
    // `palisade alerts responses` with `--store`).
    let dir = tempfile::Builder::new().prefix("defense-").tempdir_in(&base)?.keep();
    say(&format!(
        "Palisade defense demo{}: anvil mining every second with fee ordering ({}).",
        if benign { " (benign twin)" } else { "" },
        bin.display()
    ));
    let anvil = Anvil::start(&bin).await?;

    // The vault, its deposits, the attacker's contract.
    let r = anvil
        .mined(OWNER, None, &format!("{}{}", bytecode(VAULT_ARTIFACT)?, word(GUARDIAN)), 0)
        .await?;
    let vault =
        r["contractAddress"].as_str().ok_or_else(|| eyre!("vault not deployed"))?.to_string();
    anvil.mined(OWNER, Some(&vault), &selector("deposit()"), 6 * ETH).await?;
    anvil.mined(DEPOSITOR, Some(&vault), &selector("deposit()"), 4 * ETH).await?;
    let r = anvil.mined(ATTACKER, None, &bytecode(DRAINER_ARTIFACT)?, 0).await?;
    let drainer =
        r["contractAddress"].as_str().ok_or_else(|| eyre!("drainer not deployed"))?.to_string();
    let vault_before = anvil.balance(&vault).await?;
    say(&format!(
        "Vault {vault} holds {} wei of two depositors; guardian {GUARDIAN}.",
        vault_before
    ));

    // The guardian's key, encrypted, with a random password given through the environment.
    let password = palisade_respond::keys::random_password();
    let secret = alloy_primitives::hex::decode(GUARDIAN_KEY)?;
    let ks =
        palisade_respond::keys::write_keystore(dir.as_path(), &secret, &password, "guardian.json")?;
    std::env::set_var(PASSWORD_ENV, &password);

    if assertions {
        std::fs::write(dir.as_path().join("SharePriceAssertion.json"), SHARE_PRICE_ARTIFACT)?;
        std::fs::write(dir.as_path().join("OutflowBoundAssertion.json"), OUTFLOW_ARTIFACT)?;
    }
    let cfg_text = config(dir.as_path(), &anvil.url, &vault, OWNER, &ks, assertions);
    let cfg_path = dir.as_path().join("defense.toml");
    std::fs::write(&cfg_path, &cfg_text)?;
    let cfg = palisade_node::config::Config::parse(
        &cfg_text,
        &cfg_path.display().to_string(),
        dir.as_path(),
    )
    .map_err(|e| eyre!("{e}"))?;
    let store_url = cfg.store_url();
    let shutdown = palisade_node::Shutdown::new();
    let node = tokio::spawn(palisade_node::run(cfg, shutdown.clone()));
    let store = {
        let t = Instant::now();
        loop {
            if let Ok(s) = Store::open(&store_url).await {
                if !s.block_log("local").await.unwrap_or_default().is_empty() {
                    break s;
                }
            }
            if node.is_finished() || t.elapsed() > Duration::from_secs(30) {
                shutdown.cancel();
                return Err(match node.await {
                    Ok(Err(e)) => e.wrap_err("Palisade stopped"),
                    _ => eyre!("Palisade did not follow the chain within 30 s"),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    say("Palisade follows the chain, verifies each block, and watches the mempool.");
    // Let the pending subscription settle, then strike right after a block.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let n = anvil.block_number().await?;
    while anvil.block_number().await? == n {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (who, to, data) = if benign {
        let redeem = format!("{}{:0>64x}", selector("redeem(uint256)"), 4 * ETH);
        (OWNER, vault.clone(), redeem)
    } else {
        (ATTACKER, drainer.clone(), format!("{}{}", selector("run(address)"), word(&vault)))
    };
    let sent_at = now_ms();
    let hash = anvil.send(who, Some(&to), &data, 0, 2_000_000_000).await?;
    say(&format!(
        "{} sends {hash} (priority fee 2 gwei) right after block {}.",
        if benign { "The owner" } else { "The attacker" },
        n + 1
    ));
    let receipt = anvil.receipt(&hash).await?;
    let status = if receipt["status"] == "0x1" { "success" } else { "failed" };
    // Give a pause that was sent time to land, and a benign run time to show it sends nothing.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let vault_after = anvil.balance(&vault).await?;
    let paused = !anvil.call_word(&vault, "paused()").await?.is_zero();
    let tx_hash: palisade_primitives::B256 = hash.parse().wrap_err("transaction hash")?;
    let alerts: Vec<_> = store
        .list_alerts(&Default::default())
        .await?
        .into_iter()
        .filter(|a| a.finding.tx_hashes.contains(&tx_hash))
        .collect();
    let first_alert = alerts.iter().map(|a| a.created_ms).min();
    let responses = store.list_responses(10).await?;
    let pause = responses.iter().find(|r| r.responder == "pause-vault");
    let pause_detail: Value = pause
        .map(|p| serde_json::from_str(&p.detail).unwrap_or(Value::Null))
        .unwrap_or(Value::Null);
    let pause_sent_at = pause_detail["sent_at_ms"].as_i64();
    for a in &alerts {
        say(&format!("  [{:?}] {}: {}", a.finding.severity, a.finding.detector, a.finding.title));
    }
    if let Some(p) = pause {
        say(&format!(
            "  pause {} from the guardian: {} (tx {}, priority fee {} wei)",
            if p.dry_run { "planned" } else { "sent" },
            p.outcome,
            pause_detail["tx_hash"].as_str().unwrap_or("-"),
            pause_detail["priority_fee"].as_str().unwrap_or("-")
        ));
    }
    say(&format!(
        "After block {}: the {} transaction {status}; the vault holds {vault_after} wei; paused: {paused}.",
        receipt["blockNumber"].as_str().and_then(|h| u64::from_str_radix(h.trim_start_matches("0x"), 16).ok()).unwrap_or_default(),
        if benign { "owner's" } else { "attacker's" },
    ));
    let summary = json!({
        "scenario": if benign { "defense-benign" } else { "defense" },
        "guard": if assertions { "assertions" } else { "simulation" },
        "vault_before": vault_before.to_string(),
        "vault_after": vault_after.to_string(),
        "paused": paused,
        "attacker_tx_status": status,
        "detect_ms": first_alert.map(|t| t - sent_at),
        "pause_sent_ms": pause_sent_at.map(|t| t - sent_at),
        "pause_outcome": pause.map(|p| p.outcome.clone()),
        "findings": alerts.iter().map(|a| a.finding.detector.clone()).collect::<Vec<_>>(),
        "store": store_url,
    });
    if let Some(d) = first_alert.map(|t| t - sent_at) {
        say(&format!(
            "Judged {d} ms after the transaction was sent{}.",
            pause_sent_at
                .map(|t| format!("; the pause was sent {} ms after it", t - sent_at))
                .unwrap_or_default()
        ));
    }
    say(&format!(
        "Stored in {}: palisade alerts list --store {store_url}; palisade alerts responses --store {store_url}",
        dir.display()
    ));
    shutdown.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(5), node).await;
    if json_out {
        println!("{summary}");
    }
    Ok(ExitCode::SUCCESS)
}
