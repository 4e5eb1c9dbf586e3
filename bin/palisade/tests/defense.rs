//! `palisade demo --scenario defense` end to end, on a real anvil (mining every second, fee
//! ordering) with the vault and drainer compiled from testdata/contracts/src/Defense.sol: the
//! attack is seen pending, simulated, and paused before it lands; the benign twin pauses
//! nothing. Secrets stay out of the output and the store.

use serde_json::Value;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_palisade");
/// The guardian's key the demo encrypts into its keystore (anvil's third public test key).
const GUARDIAN_KEY: &str = "5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a";

/// The demos run one at a time: each races a one-second block, and two at once on two cores
/// would measure the machine, not Palisade.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn demo(extra: &[&str]) -> (Value, String, tempfile::TempDir) {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["demo", "--scenario", "defense", "--json", "--data-dir"])
        .arg(dir.path())
        .args(extra)
        .env("PALISADE_LOG", "info")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "demo failed: {stderr}");
    let last = stdout.lines().last().unwrap_or_default();
    let summary: Value = serde_json::from_str(last).unwrap_or_else(|e| panic!("{e}: {last:?}"));
    (summary, format!("{stdout}\n{stderr}"), dir)
}

fn files_contain(dir: &std::path::Path, needle: &[u8]) -> bool {
    std::fs::read_dir(dir).unwrap().flatten().any(|e| {
        let p = e.path();
        if p.is_dir() {
            files_contain(&p, needle)
        } else {
            std::fs::read(&p).is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle))
        }
    })
}

#[test]
fn the_drain_is_seen_pending_and_the_vault_paused_before_it_lands() {
    let (s, output, dir) = demo(&[]);
    assert_eq!(s["vault_before"], "10000000000000000000", "{s}");
    assert_eq!(s["vault_after"], s["vault_before"], "{s}");
    assert_eq!(s["paused"], true, "{s}");
    assert_eq!(s["attacker_tx_status"], "failed", "{s}");
    assert_eq!(s["pause_outcome"], "mined", "{s}");
    let (detect, sent) = (s["detect_ms"].as_i64().unwrap(), s["pause_sent_ms"].as_i64().unwrap());
    assert!(detect >= 0 && detect <= sent && sent < 1000, "{s}");
    let found: Vec<&str> =
        s["findings"].as_array().unwrap().iter().filter_map(|v| v.as_str()).collect();
    assert!(found.contains(&"simulation:vault"), "{s}");
    assert!(found.contains(&"admin_call:vault"), "{s}");
    // The key is in the keystore only, encrypted: never printed, never stored in clear.
    assert!(!output.contains(GUARDIAN_KEY), "the guardian key leaked into the output");
    assert!(
        !files_contain(dir.path(), GUARDIAN_KEY.as_bytes()),
        "the guardian key is stored in clear"
    );
    assert!(
        !output.to_lowercase().contains("password\":")
            && !output.contains("PALISADE_DEMO_GUARDIAN_PASSWORD=")
    );
    // The stored response, as `palisade alerts responses` shows it.
    let store = s["store"].as_str().unwrap();
    let out = Command::new(BIN)
        .args(["alerts", "responses", "--json", "--store", store])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let r: Value = serde_json::from_str(text.lines().next().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(r["responder"], "pause-vault", "{r}");
    assert_eq!(
        (r["outcome"].as_str(), r["dry_run"].as_bool()),
        (Some("mined"), Some(false)),
        "{r}"
    );
    assert_eq!(r["stage"], "pending");
    assert!(r["detail"]["tx_hash"].is_string() && r["detail"]["outbid"] == true, "{r}");
    assert!(!text.contains(GUARDIAN_KEY));
}

#[test]
fn the_owners_large_redemption_pauses_nothing() {
    let (s, _, _dir) = demo(&["--benign"]);
    assert_eq!(s["scenario"], "defense-benign");
    assert_eq!(s["paused"], false, "{s}");
    assert_eq!(s["attacker_tx_status"], "success", "{s}");
    assert_eq!(s["vault_after"], "6000000000000000000", "{s}");
    assert_eq!(s["pause_outcome"], Value::Null, "{s}");
    assert_eq!(s["findings"], serde_json::json!([]), "{s}");
}

/// The same drain with the vault guarded by Solidity assertions alone (the share price never
/// drops within a transaction; no transaction takes more than half its ether): each is run on
/// the pending transaction's simulation, the violation pauses the vault before the drain lands.
#[test]
fn with_assertions_the_drain_breaks_them_pending_and_the_vault_is_paused() {
    let (s, output, _dir) = demo(&["--assertions"]);
    assert_eq!(s["guard"], "assertions", "{s}");
    assert_eq!(s["paused"], true, "{s}\n{output}");
    assert_eq!(s["vault_after"], s["vault_before"], "{s}");
    assert_eq!(s["attacker_tx_status"], "failed", "{s}");
    assert_eq!(s["pause_outcome"], "mined", "{s}");
    let found: Vec<&str> =
        s["findings"].as_array().unwrap().iter().filter_map(|v| v.as_str()).collect();
    assert!(found.contains(&"assertion:vault-shares"), "{s}");
    assert!(found.contains(&"assertion:vault-outflow"), "{s}");
    assert!(!found.contains(&"simulation:vault"), "the simulation guard is off: {s}");
    let store = s["store"].as_str().unwrap();
    let out =
        Command::new(BIN).args(["alerts", "list", "--json", "--store", store]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let shares = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|a| a["detector"] == "assertion:vault-shares")
        .unwrap_or_else(|| panic!("no assertion alert stored: {text}"));
    assert_eq!(shares["evidence"]["stage"], "pending", "{shares}");
    assert_eq!(shares["evidence"]["check"], "violated", "{shares}");
    assert!(shares["evidence"]["reads"].as_array().is_some_and(|r| !r.is_empty()), "{shares}");
}

#[test]
fn with_assertions_the_owners_large_redemption_breaks_none() {
    let (s, _, _dir) = demo(&["--benign", "--assertions"]);
    assert_eq!(s["paused"], false, "{s}");
    assert_eq!(s["attacker_tx_status"], "success", "{s}");
    assert_eq!(s["findings"], serde_json::json!([]), "{s}");
}

#[test]
fn without_anvil_the_scenario_says_how_to_get_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["demo", "--scenario", "defense", "--data-dir"])
        .arg(dir.path())
        .env("PALISADE_ANVIL", dir.path().join("no-anvil-here"))
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{e}");
    assert!(e.contains("needs anvil") && e.contains("scripts/test.sh"), "{e}");
    assert!(!e.contains("panicked"), "{e}");
}

#[path = "common/mod.rs"]
#[allow(missing_docs)]
mod common;

/// A crash and restart while the attack is still pending: the transaction is polled again and
/// judged again (the same finding), and the responder does not pause a second time.
#[tokio::test(flavor = "multi_thread")]
async fn after_a_crash_the_same_pending_attack_is_not_answered_twice() {
    use palisade_testing::anvil::{
        artifact_bytecode, calldata, Anvil, ACCOUNT0, ACCOUNT1, ACCOUNT2,
    };
    use serde_json::json;
    let anvil = Anvil::start(&[]).await;
    let guardian = format!("{:0>64}", ACCOUNT2.trim_start_matches("0x"));
    let vault =
        anvil.deploy(ACCOUNT0, &format!("{}{guardian}", artifact_bytecode("GuardedVault"))).await;
    anvil
        .send(ACCOUNT0, Some(&vault), &calldata("deposit()", &[]), 5_000_000_000_000_000_000)
        .await;
    let drainer = anvil.deploy(ACCOUNT1, &artifact_bytecode("VaultDrainer")).await;
    let dir = tempfile::tempdir().unwrap();
    let secret: Vec<u8> =
        (0..32).map(|i| u8::from_str_radix(&GUARDIAN_KEY[2 * i..2 * i + 2], 16).unwrap()).collect();
    let ks = palisade_respond::keys::write_keystore(dir.path(), &secret, "restart pw", "g.json")
        .unwrap();
    std::env::set_var("PALISADE_TEST_RESTART_PW", "restart pw");
    let body = format!(
        "[[detectors]]\ntype = 'simulation'\nname = 'vault'\ncontracts = ['{vault}']\nmax_loss_percent = 50.0\n\n[[responders]]\nname = 'pause-vault'\ntype = 'pause_tx'\nchain = 'anvil'\ndry_run = false\n[responders.policy]\ndetectors = ['simulation:vault']\nmin_severity = 'high'\nstage = 'pending'\nmax_actions = 5\nper_seconds = 60\n[responders.tx]\nto = '{vault}'\ncall = 'pause()'\nreplace_after_ms = 60000\n[responders.key]\nkeystore = '{}'\npassword_env = 'PALISADE_TEST_RESTART_PW'\n",
        ks.display()
    );
    let endpoints = format!("[{{ url = '{}', ws = '{}' }}]", anvil.http_url(), anvil.ws_url());
    let mut p = common::Palisade::start_full(
        dir.path(),
        &endpoints,
        32,
        "[chains.mempool]\nenabled = true\npoll_interval_ms = 200",
        &body,
    );
    p.wait_synced(&anvil).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    anvil.rpc("evm_setAutomine", json!([false])).await;
    let vault_word = vault.trim_start_matches("0x");
    anvil
        .rpc(
            "eth_sendTransaction",
            json!([{"from": ACCOUNT1, "to": drainer, "data": calldata("run(address)", &[vault_word]), "gas": "0x100000"}]),
        )
        .await;
    let pending_pauses =
        || async { anvil.rpc("eth_getTransactionCount", json!([ACCOUNT2, "pending"])).await };
    common::wait_for(20, "the pause sent", || async {
        (pending_pauses().await == json!("0x1")).then_some(())
    })
    .await;
    p.kill9();
    p.restart();
    // The attack is still pending: the poll brings it back, it is judged again.
    common::wait_for(20, "the restarted watch judging it again", || async {
        p.log().matches("would take 100.00%").count().ge(&2).then_some(())
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(pending_pauses().await, json!("0x1"), "a second pause was sent");
    assert!(p.log().contains("Already decided about this finding"), "{}", p.log());
    let rows = p.store().await.list_responses(10).await.unwrap();
    assert_eq!(rows.iter().filter(|r| r.responder == "pause-vault").count(), 1, "{rows:?}");
    anvil.rpc("evm_setAutomine", json!([true])).await;
    // The settlement-risk index sees the mempool watch: its backlog, and once the waiting
    // transactions are mined, how long they waited (congestion's inputs).
    anvil.mine(1).await;
    let port = p.api_port;
    let congestion = common::wait_for(30, "the mempool in the risk index", || async {
        anvil.mine(1).await;
        let v: Value =
            reqwest::get(format!("http://127.0.0.1:{port}/risk/anvil/history?limit=1000"))
                .await
                .ok()?
                .json()
                .await
                .ok()?;
        v["points"].as_array()?.iter().find_map(|p| {
            let c = p["components"].as_array()?.iter().find(|c| c["name"] == "congestion")?;
            c["inputs"].get("inclusion_delay_ms").is_some().then(|| c.clone())
        })
    })
    .await;
    assert!(congestion["inputs"]["mempool_pending"].is_u64(), "{congestion}");
    assert!(congestion["inputs"]["mempool_included_seen"].as_u64().unwrap() >= 1, "{congestion}");
    p.kill9();
}
