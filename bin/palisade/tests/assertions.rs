//! Solidity assertions (examples/assertions, compiled into testdata/contracts) on a real anvil:
//! the defense scenario's vault drain lands on a committed block, and the share-price and
//! outflow assertions name it there, with the call that triggered them and the values they read;
//! the depositor's own redemption in the same run breaks nothing; an assertion that never ends
//! is reported over its gas budget without stopping the others. The same blocks, recorded with
//! `palisade record --config` (which keeps the state before them), give the same findings in
//! `palisade replay` and the same verdicts in `palisade assertions test`.

use palisade_testing::anvil::{artifact_bytecode, calldata, Anvil, ACCOUNT0, ACCOUNT1, ACCOUNT2};
use serde_json::Value;
use std::process::Command;

#[path = "common/mod.rs"]
#[allow(missing_docs)]
mod common;

const BIN: &str = env!("CARGO_BIN_EXE_palisade");
const ETH: u128 = 1_000_000_000_000_000_000;

fn copy_artifact(dir: &std::path::Path, name: &str) {
    let src = format!("{}/../../testdata/contracts/{name}.json", env!("CARGO_MANIFEST_DIR"));
    std::fs::copy(src, dir.join(format!("{name}.json"))).unwrap();
}

/// `palisade assertions test FILE --config CONFIG`.
fn assertions_test(file: &std::path::Path, config: &std::path::Path) -> std::process::Output {
    Command::new(BIN)
        .args(["assertions", "test"])
        .arg(file)
        .arg("--config")
        .arg(config)
        .output()
        .unwrap()
}

fn selector(sig: &str) -> String {
    format!("0x{}", &hex::encode(palisade_primitives::keccak256(sig))[..8])
}

#[tokio::test(flavor = "multi_thread")]
async fn a_drain_breaks_the_assertions_on_its_block_in_replay_and_in_assertions_test() {
    let anvil = Anvil::start(&[]).await;
    let guardian = format!("{:0>64}", ACCOUNT2.trim_start_matches("0x"));
    let vault =
        anvil.deploy(ACCOUNT0, &format!("{}{guardian}", artifact_bytecode("GuardedVault"))).await;
    anvil.send(ACCOUNT0, Some(&vault), &calldata("deposit()", &[]), 10 * ETH).await;
    let drainer = anvil.deploy(ACCOUNT1, &artifact_bytecode("VaultDrainer")).await;

    let dir = tempfile::tempdir().unwrap();
    for a in ["SharePriceAssertion", "OutflowBoundAssertion", "RunawayAssertion"] {
        copy_artifact(dir.path(), a);
    }
    let entry_points = ["deposit()", "redeem(uint256)", "migrate(address)"].map(selector).join(",");
    let body = format!(
        "[[detectors]]\ntype = 'assertion'\nname = 'vault-shares'\ncontract = '{vault}'\nartifact = 'SharePriceAssertion.json'\nargs = ['[{entry_points}]']\n\n\
         [[detectors]]\ntype = 'assertion'\nname = 'vault-outflow'\ncontract = '{vault}'\nartifact = 'OutflowBoundAssertion.json'\nargs = ['5000']\n\n\
         [[detectors]]\ntype = 'assertion'\nname = 'runaway'\ncontract = '{vault}'\nartifact = 'RunawayAssertion.json'\ngas_budget = 200000\nseverity = 'high'\n"
    );
    let mut p = common::Palisade::start(dir.path(), &anvil, &body);
    p.wait_synced(&anvil).await;

    // The depositor takes back a fifth: the price holds, the outflow is within its bound.
    let redeem = anvil
        .send(
            ACCOUNT0,
            Some(&vault),
            &calldata("redeem(uint256)", &[&format!("{:064x}", 2 * ETH)]),
            0,
        )
        .await;
    // The drain: migrate() called from inside the drainer takes the rest, shares untouched.
    let vault_word = format!("{:0>64}", vault.trim_start_matches("0x"));
    let drain =
        anvil.send(ACCOUNT1, Some(&drainer), &calldata("run(address)", &[&vault_word]), 0).await;
    assert_eq!(anvil.receipt(&drain).await["status"], "0x1", "the drain must land");
    let drain_block = u64::from_str_radix(
        anvil.receipt(&drain).await["blockNumber"].as_str().unwrap()[2..].as_ref(),
        16,
    )
    .unwrap();
    anvil.mine(1).await;
    p.wait_synced(&anvil).await;

    let alerts = p.alerts().await;
    let of = |id: &str| -> Vec<Value> {
        alerts
            .iter()
            .filter(|a| a.finding.detector == id)
            .map(|a| serde_json::to_value(&a.finding).unwrap())
            .collect()
    };
    // The share price: violated by the drain (its migrate call), with the values read.
    let shares = of("assertion:vault-shares");
    assert_eq!(shares.len(), 1, "{shares:#?}");
    let f = &shares[0];
    assert_eq!(f["severity"], "critical", "{f}");
    assert_eq!(f["anchor"]["number"], drain_block, "{f}");
    let ev = &f["evidence"];
    assert_eq!(ev["check"], "violated", "{ev}");
    assert_eq!(ev["stage"], "committed", "{ev}");
    assert_eq!(ev["tx"].as_str().unwrap().to_lowercase(), drain.to_lowercase(), "{ev}");
    assert!(f["title"].as_str().unwrap().contains("share price dropped"), "{f}");
    let reads = ev["reads"].as_array().unwrap();
    assert!(!reads.is_empty(), "a violation names the values it read: {ev}");
    // Outflow: the whole balance (8 ETH of 8) against a 50 % bound.
    let outflow = of("assertion:vault-outflow");
    assert_eq!(outflow.len(), 1, "{outflow:#?}");
    assert_eq!(outflow[0]["evidence"]["tx"].as_str().unwrap().to_lowercase(), drain.to_lowercase());
    assert!(outflow[0]["title"].as_str().unwrap().contains("outflow above the bound"));
    // The redemption broke nothing.
    for a in &alerts {
        let tx = serde_json::to_value(&a.finding).unwrap()["evidence"]["tx"]
            .as_str()
            .unwrap_or_default()
            .to_lowercase();
        if tx == redeem.to_lowercase() {
            assert_ne!(a.finding.evidence["check"], "violated", "{:?}", a.finding);
        }
    }
    // The runaway assertion: over its budget on each transaction it was triggered by, low, and
    // never a violation.
    let runaway = of("assertion:runaway");
    assert!(!runaway.is_empty(), "{alerts:#?}");
    for r in &runaway {
        assert_eq!(r["evidence"]["check"], "over_budget", "{r}");
        assert_eq!(r["severity"], "low", "{r}");
    }

    // The same blocks recorded with the state before them: replay finds exactly what the live
    // run found.
    common::replay_agrees_with_live(&p, &anvil).await;
    let file = dir.path().join("recorded-anvil.jsonl");
    let out = assertions_test(&file, &p.config);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "a violation exits 1:\n{stdout}\n{stderr}");
    let violated: Vec<&str> = stdout.lines().filter(|l| l.contains("VIOLATED")).collect();
    assert_eq!(violated.len(), 2, "{stdout}");
    assert!(violated.iter().all(|l| l.to_lowercase().contains(&drain.to_lowercase())), "{stdout}");
    assert!(stdout.contains("over its gas budget (200000)"), "{stdout}");
    assert!(stdout.contains("    read at "), "{stdout}");
    let held = stdout
        .lines()
        .filter(|l| l.to_lowercase().contains(&redeem.to_lowercase()) && l.ends_with(')'))
        .filter(|l| l.contains(": held (gas"))
        .count();
    assert!(held >= 2, "the redemption holds for both assertions:\n{stdout}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    // The recorded state is proven: `palisade verify` passes it, and a balance changed in it
    // is caught there and by `assertions test`, which then judges nothing on that block.
    let out = Command::new(BIN).args(["verify", file.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    let text = std::fs::read_to_string(&file).unwrap();
    let mut tampered_lines = Vec::new();
    let mut tampered = 0;
    for line in text.lines() {
        let mut v: Value = serde_json::from_str(line).unwrap();
        if let Some(accounts) = v.pointer_mut("/prestate/accounts").and_then(|a| a.as_array_mut()) {
            for a in accounts.iter_mut() {
                if a["address"].as_str().unwrap().eq_ignore_ascii_case(&vault) {
                    a["balance"] = Value::String("0xde0b6b3a7640000000".into());
                    tampered += 1;
                }
            }
        }
        tampered_lines.push(v.to_string());
    }
    assert!(tampered >= 1, "the vault's state is recorded before the drain's block");
    let bad = dir.path().join("tampered.jsonl");
    std::fs::write(&bad, tampered_lines.join("\n") + "\n").unwrap();
    let out = Command::new(BIN).args(["verify", bad.to_str().unwrap()]).output().unwrap();
    let report =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{report}");
    assert!(report.contains("prestate"), "{report}");
    let out = assertions_test(&bad, &p.config);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("the recorded state is not proven"), "{stdout}");
    assert!(!stdout.contains("VIOLATED"), "{stdout}");
    // Replay uses a prestate only once proven: the tampered one is dropped, said so, and no
    // assertion judges the drain's block on it.
    let out = Command::new(BIN)
        .args(["replay", bad.to_str().unwrap(), "--config", p.config.to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    let (stdout, stderr) =
        (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("is not proven, assertions do not run on it"), "{stderr}");
    assert!(!stdout.contains("\"violated\""), "{stdout}");

    // A recording without the state: said so, nothing judged.
    let plain = dir.path().join("plain.jsonl");
    common::record(&anvil, drain_block, drain_block, &plain);
    let out = assertions_test(&plain, &p.config);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("record with `palisade record --config"), "{stderr}");
}

#[test]
fn a_bad_assertion_config_is_a_clear_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    copy_artifact(dir.path(), "OutflowBoundAssertion");
    let cfg = dir.path().join("p.toml");
    let write = |detector: &str| {
        std::fs::write(
            &cfg,
            format!(
                "data_dir = '{}'\n[[chains]]\nname = 'x'\nchain_id = 1\nendpoints = [{{ url = 'http://127.0.0.1:1' }}]\n\n[[detectors]]\ntype = 'assertion'\nname = 'o'\ncontract = '0x5FbDB2315678afecb367f032d93F642f64180aa3'\n{detector}",
                dir.path().display()
            ),
        )
        .unwrap();
    };
    let run = || {
        let out = Command::new(BIN)
            .args(["assertions", "test", "none.jsonl", "--config", cfg.to_str().unwrap()])
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).to_string())
    };
    write("artifact = 'OutflowBoundAssertion.json'\n");
    let (code, e) = run();
    assert_eq!(code, Some(2), "{e}");
    assert!(e.contains("args") && e.contains("uint256"), "{e}");
    write("artifact = 'OutflowBoundAssertion.json'\nargs = ['many']\n");
    let (code, e) = run();
    assert_eq!(code, Some(2), "{e}");
    assert!(e.contains("args[0]") && e.contains("many"), "{e}");
    write("artifact = 'missing.json'\nargs = ['1']\n");
    let (code, e) = run();
    assert_eq!(code, Some(2), "{e}");
    assert!(e.contains("missing.json"), "{e}");
    std::fs::write(dir.path().join("broken.json"), "{\"abi\": []}").unwrap();
    write("artifact = 'broken.json'\n");
    let (code, e) = run();
    assert_eq!(code, Some(2), "{e}");
    assert!(e.contains("bytecode") && !e.contains("panicked"), "{e}");
}
