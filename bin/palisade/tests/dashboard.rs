//! The dashboard in a real browser: Debian's Chromium driven by playwright-core (npm), against
//! `palisade run` on a live anvil chain. Alerts appear live, an `anvil_reorg` marks one
//! retracted (not gone), an ack made on the page survives a restart, and the public read-only
//! mode refuses an ack. Needs node, /usr/bin/chromium and playwright-core (scripts/test.sh
//! installs them); on CI (CI=true) it never skips.

mod common;

use common::*;
use palisade_testing::anvil::{artifact_bytecode, free_port, Anvil, ACCOUNT0, ACCOUNT1};
use serde_json::Value;
use std::path::PathBuf;

const TOKEN: &str = "dashboard-test-operate-token-0001";

/// Where playwright-core is, when the browser tooling is here.
fn browser_tools() -> Option<PathBuf> {
    let dir = std::env::var("PALISADE_PLAYWRIGHT").map(PathBuf::from).unwrap_or_else(|_| {
        PathBuf::from(std::env::var("HOME").unwrap_or_default())
            .join(".cache/palisade-tools/node_modules/playwright-core")
    });
    let chromium =
        std::env::var("PALISADE_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let ok = dir.join("package.json").exists()
        && std::path::Path::new(&chromium).exists()
        && std::process::Command::new("node").arg("--version").output().is_ok();
    if ok {
        return Some(dir);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("CI=true but the browser tests cannot run: need node, {chromium} and playwright-core at {} (scripts/test.sh installs them)", dir.display());
    }
    eprintln!("browser tooling missing: dashboard browser test skipped");
    None
}

fn config(
    dir: &std::path::Path,
    anvil: &Anvil,
    port: u16,
    vault: &str,
    read_only: bool,
) -> PathBuf {
    let src = format!(
        r#"data_dir = '{dir}'

[api]
listen = '127.0.0.1:{port}'
read_only = {read_only}

[[api.tokens]]
name = "oncall"
scope = "operate"
token = "{TOKEN}"

[[chains]]
name = 'anvil'
chain_id = 31337
endpoints = [{{ url = '{http}', ws = '{ws}' }}]
rpc = {{ poll_interval_ms = 200, timeout_ms = 2000 }}

[[detectors]]
type = "rule"
name = "poke"
severity = "low"
addresses = ["{vault}"]
events = [{{ signature = "Poked(address indexed by, uint256 value)" }}]
"#,
        dir = dir.display(),
        http = anvil.http_url(),
        ws = anvil.ws_url(),
    );
    let path = dir.join(if read_only { "read-only.toml" } else { "palisade.toml" });
    std::fs::write(&path, src).unwrap();
    path
}

fn node(tools: &PathBuf, phase: &str, env: &[(&str, String)]) -> Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser/dashboard.cjs");
    let out = std::process::Command::new("node")
        .arg(script)
        .arg(phase)
        .env("PALISADE_PLAYWRIGHT", tools)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "browser phase {phase} failed:\n{}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.lines().last().unwrap_or("")).expect("the phase prints JSON")
}

#[tokio::test(flavor = "multi_thread")]
async fn alerts_appear_live_a_reorg_retracts_an_ack_survives_a_restart_and_read_only_refuses() {
    let Some(tools) = browser_tools() else { return };
    let anvil = Anvil::start(&[]).await;
    let vault = anvil.deploy(ACCOUNT0, &artifact_bytecode("Vault")).await;
    anvil.mine(3).await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let cfg = config(dir.path(), &anvil, port, &vault, false);
    let mut p = Palisade::spawn(dir.path(), cfg, port);
    p.wait_synced(&anvil).await;
    let selector = palisade_testing::anvil::calldata("poke(uint256)", &[]);
    let base = vec![
        ("PALISADE_URL", format!("http://127.0.0.1:{port}")),
        ("ANVIL_URL", anvil.http_url()),
        ("VAULT", vault.clone()),
        ("POKE_FROM", ACCOUNT1.to_string()),
        ("POKE_SELECTOR", selector),
        ("TOKEN", TOKEN.to_string()),
    ];
    let got = node(&tools, "live", &base);
    let key = |k: &str| got[k].as_str().expect(k).to_string();
    let (acked, open, retracted) = (key("acked"), key("open"), key("retracted"));
    // What the page showed is what the store holds.
    let store = p.store().await;
    assert_eq!(store.get_alert(&acked).await.unwrap().status, "acked");
    assert_eq!(store.get_alert(&retracted).await.unwrap().status, "reorged");
    let notes =
        store.notes(&store.get_alert(&acked).await.unwrap().finding.key.to_string()).await.unwrap();
    assert_eq!(
        notes.last().map(|n| (n.by.as_str(), n.note.as_deref())),
        Some(("oncall", Some("checked on the page")))
    );

    // Restart: the ack and its note are still there, the retracted alert still retracted.
    p.kill9();
    p.restart();
    p.wait_synced(&anvil).await;
    let mut env = base.clone();
    env.push(("ACK_KEY", acked.clone()));
    env.push(("RETRACTED_KEY", retracted.clone()));
    node(&tools, "restarted", &env);

    // Public read-only mode: the page offers no ack, and one sent anyway is refused.
    p.kill9();
    let ro = config(dir.path(), &anvil, port, &vault, true);
    let mut p = Palisade::spawn(dir.path(), ro, port);
    p.wait_synced(&anvil).await;
    let mut env = base.clone();
    env.push(("OPEN_KEY", open.clone()));
    node(&tools, "read-only", &env);
    assert_eq!(p.store().await.get_alert(&open).await.unwrap().status, "open");
}
