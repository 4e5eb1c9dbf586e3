//! `palisade demo --scenario defense` end to end, on a real anvil (mining every second, fee
//! ordering) with the vault and drainer compiled from testdata/contracts/src/Defense.sol: the
//! attack is seen pending, simulated, and paused before it lands; the benign twin pauses
//! nothing. Secrets stay out of the output and the store.

use serde_json::Value;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_palisade");
/// The guardian's key the demo encrypts into its keystore (anvil's third public test key).
const GUARDIAN_KEY: &str = "5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a";

fn demo(extra: &[&str]) -> (Value, String, tempfile::TempDir) {
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
