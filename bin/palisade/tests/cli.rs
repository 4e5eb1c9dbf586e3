//! The CLI as a user meets it: help everywhere, clear errors with exit codes (2 for usage and
//! config errors), never a panic on bad input.

use std::io::Write;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_palisade");

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).env("PALISADE_LOG", "warn").output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

fn no_panic(o: &Output) {
    let e = stderr(o);
    assert!(!e.contains("panicked") && !e.contains("RUST_BACKTRACE"), "panic: {e}");
}

fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn help_everywhere() {
    for cmd in [
        vec!["--help"],
        vec!["run", "--help"],
        vec!["replay", "--help"],
        vec!["record", "--help"],
        vec!["validate", "--help"],
        vec!["detectors", "--help"],
        vec!["alerts", "--help"],
        vec!["alerts", "list", "--help"],
        vec!["alerts", "show", "--help"],
        vec!["alerts", "ack", "--help"],
        vec!["alerts", "parked", "--help"],
        vec!["completions", "--help"],
        vec!["man", "--help"],
        vec!["sinks", "test", "--help"],
        vec!["demo", "--help"],
        vec!["bench", "--help"],
        vec!["verify", "--help"],
        vec!["inspect", "--help"],
        vec!["status", "--help"],
    ] {
        let o = run(&cmd);
        assert!(o.status.success(), "{cmd:?}");
        assert!(String::from_utf8_lossy(&o.stdout).contains("Usage"), "{cmd:?}");
    }
    let o = run(&["no-such-command"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn validate_points_at_line_and_field_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.toml");
    std::fs::write(
        &p,
        "[[chains]]\nname = 'x'\nchain_id = 1\nendpoints = [{ url = 'http://127.0.0.1:1' }]\n\n[[detectors]]\ntype = 'rule'\nname = 'r'\nevents = [{ signature = 'Transfer(address indexed from, address indexed to, uint256 value)', expression = 'value >> 1' }]\n",
    )
    .unwrap();
    let o = run(&["validate", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.contains("bad.toml:6"), "{e}");
    assert!(e.contains("detectors[0].events[0].expression"), "{e}");
    std::fs::write(&p, "[[chains]]\nname = 'x'\nchain_id = 'one'\n").unwrap();
    let o = run(&["validate", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("bad.toml:3"), "{}", stderr(&o));
    let o = run(&["validate", "/no/such/file.toml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("cannot read"));
    for ex in ["examples/anvil-local.toml", "examples/cluster.toml"] {
        let o = run(&["validate", root().join(ex).to_str().unwrap()]);
        assert!(o.status.success(), "{ex}: {}", stderr(&o));
    }
    // The demo's config has no chain: it is for replay.
    let demo = root().join("examples/demo.toml");
    let o = run(&["validate", demo.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--replay"), "{}", stderr(&o));
    assert!(run(&["validate", "--replay", demo.to_str().unwrap()]).status.success());
}

/// Issue 11, defect 7: configs that cannot run or cannot alert are refused by `validate`, and
/// the store's errors say what and where, once, quickly.
#[test]
fn validate_refuses_configs_that_cannot_run_or_alert() {
    let dir = tempfile::tempdir().unwrap();
    let file_as_dir = dir.path().join("not-a-dir");
    std::fs::write(&file_as_dir, "x").unwrap();
    let chain =
        "[[chains]]\nname = 'x'\nchain_id = 1\nendpoints = [{ url = 'http://127.0.0.1:1' }]\n";
    let cases: Vec<(String, String, &str)> = vec![
        ("empty".into(), String::new(), "nothing to monitor"),
        ("mysql".into(), format!("[store]\nurl = 'mysql://root:pw@db/x'\n{chain}"), "store.url"),
        (
            "data_dir is a file".into(),
            format!("data_dir = '{}'\n{chain}", file_as_dir.display()),
            "is not a directory",
        ),
        ("timeout 0".into(), format!("{chain}rpc = {{ timeout_ms = 0 }}\n"), "rpc.timeout_ms"),
        (
            "start_block i64::MAX".into(),
            format!("{chain}start_block = 9223372036854775807\n"),
            "start_block",
        ),
        (
            "confirmations i64::MAX".into(),
            format!("{chain}confirmations = 9223372036854775807\n"),
            "confirmations",
        ),
    ];
    for (what, text, want) in cases {
        let p = dir.path().join("c.toml");
        std::fs::write(&p, text).unwrap();
        let o = run(&["validate", p.to_str().unwrap()]);
        no_panic(&o);
        assert_eq!(o.status.code(), Some(2), "{what}: {}", stderr(&o));
        assert!(stderr(&o).contains(want), "{what}: {}", stderr(&o));
        assert!(!stderr(&o).contains("pw@"), "{what}: the URL's password is never shown");
    }
    // A PostgreSQL server with nothing listening: said at once, with where (not the password).
    let port = palisade_testing::anvil::free_port();
    let p = dir.path().join("pg.toml");
    std::fs::write(
        &p,
        format!("[store]\nurl = 'postgres://root:s3cret@127.0.0.1:{port}/test'\n[api]\nlisten = ''\n{chain}"),
    )
    .unwrap();
    let t = std::time::Instant::now();
    let o = run(&["run", "--config", p.to_str().unwrap()]);
    let e = stderr(&o);
    assert!(!o.status.success());
    assert!(e.contains(&format!("127.0.0.1:{port}")) && !e.contains("s3cret"), "{e}");
    assert!(t.elapsed() < std::time::Duration::from_secs(8), "took {:?}: {e}", t.elapsed());
    // A database that does not exist: one sentence, once.
    if let Ok(pg) = std::env::var("PALISADE_TEST_POSTGRES_URL") {
        let missing =
            format!("{}_no_such_db", pg.rsplit_once('/').unwrap().0.to_string() + "/palisade");
        std::fs::write(&p, format!("[store]\nurl = '{missing}'\n[api]\nlisten = ''\n{chain}"))
            .unwrap();
        let e = stderr(&run(&["run", "--config", p.to_str().unwrap()]));
        assert_eq!(e.matches("does not exist").count(), 1, "{e}");
    }
    // An unwritable SQLite file is named.
    let p2 = dir.path().join("sq.toml");
    let bad = file_as_dir.join("store.sqlite");
    std::fs::write(
        &p2,
        format!("[store]\nurl = 'sqlite://{}'\n[api]\nlisten = ''\n{chain}", bad.display()),
    )
    .unwrap();
    let e = stderr(&run(&["run", "--config", p2.to_str().unwrap()]));
    assert!(e.contains(&bad.display().to_string()), "{e}");
}

#[test]
fn bad_recorded_files_give_file_and_line_never_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let good = "{\"block\":{\"number\":\"0x1\"}}\n";
    let cases: &[(&str, Vec<u8>, &str)] = &[
        (
            "bad-json.jsonl",
            format!("{good}{{\"block\": {{\"number\": \"0x2\"\n").into_bytes(),
            ":2:",
        ),
        (
            "no-number.jsonl",
            format!("{good}{{\"block\":{{\"hash\":null}}}}\n").into_bytes(),
            "no \"number\"",
        ),
        (
            "bad-field.jsonl",
            format!(
                "{good}{{\"block\":{{\"number\":2,\"transactions\":[{{\"value\":\"0xzz\"}}]}}}}\n"
            )
            .into_bytes(),
            "transactions[0]",
        ),
        ("not-object.jsonl", b"[1,2,3]\n".to_vec(), ":1:"),
        ("binary.jsonl", vec![0xff, 0xfe, 0x00, 0x01, b'\n'], ":1:"),
    ];
    for (name, bytes, want) in cases {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        let o = run(&["replay", p.to_str().unwrap(), "--json"]);
        no_panic(&o);
        assert_eq!(o.status.code(), Some(1), "{name}: {}", stderr(&o));
        assert!(stderr(&o).contains(want), "{name}: want {want:?} in {}", stderr(&o));
    }
    // A truncated zstd file (a recording cut short).
    let full =
        std::fs::read(root().join("testdata/mainnet/etl-17173049-17173050.jsonl.zst")).unwrap();
    let p = dir.path().join("truncated.jsonl.zst");
    std::fs::write(&p, &full[..full.len() / 2]).unwrap();
    let o = run(&["replay", p.to_str().unwrap()]);
    no_panic(&o);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("truncated.jsonl.zst:"), "{}", stderr(&o));
    // A missing file is a usage error.
    let o = run(&["replay", "/no/such/file.jsonl"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn replay_reads_stdin_and_reports_what_it_could_not_check() {
    let mut child = Command::new(BIN)
        .args(["replay", "-", "--json"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Third-party shapes: numbers as JSON numbers, transactions as bare hashes, no receipts.
    let h = format!("0x{}", "11".repeat(32));
    let lines = format!(
        "{{\"block\":{{\"number\":100,\"timestamp\":1000,\"transactions\":[\"{h}\"]}}}}\n{{\"block\":{{\"number\":101,\"timestamp\":1100}},\"receipts\":null}}\n"
    );
    child.stdin.take().unwrap().write_all(lines.as_bytes()).unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("replayed 2 blocks"), "{e}");
    assert!(e.contains("not checked in 2 blocks: no receipts"), "{e}");
    // 100 s between blocks against a 12 s expectation: a slow block, in JSON with the fields
    // the issue names.
    let out = String::from_utf8(o.stdout).unwrap();
    let f: serde_json::Value =
        serde_json::from_str(out.lines().next().expect("a finding")).unwrap();
    for k in [
        "detector",
        "severity",
        "chain",
        "block_number",
        "block_hash",
        "tx_hashes",
        "title",
        "evidence",
    ] {
        assert!(f.get(k).is_some(), "missing {k} in {f}");
    }
    assert_eq!(f["block_number"], 101);
    assert_eq!(f["block_hash"], serde_json::Value::Null, "no hash in the data: null, not invented");
    assert_eq!(f["evidence"]["interval_secs"], 100);
}

#[test]
fn detectors_lists_every_type_with_fields() {
    let o = run(&["detectors", "--json"]);
    assert!(o.status.success());
    let kinds: Vec<serde_json::Value> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(kinds
        .iter()
        .any(|k| k["type"] == "chain_health" && !k["fields"].as_array().unwrap().is_empty()));
    assert!(kinds.iter().any(|k| k["type"] == "rule"));
}

#[test]
fn garbage_json_rpc_and_bad_urls_are_clear_errors() {
    // A server that answers every request with garbage.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in listener.incoming().take(16) {
            let Ok(mut s) = s else { continue };
            let mut buf = [0u8; 4096];
            let _ = std::io::Read::read(&mut s, &mut buf);
            let body = "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"number\":\"banana\"}}";
            let _ = write!(s, "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.jsonl");
    let o = run(&[
        "record",
        "--rpc",
        &format!("http://127.0.0.1:{port}"),
        "--from",
        "1",
        "--to",
        "1",
        "-o",
        out.to_str().unwrap(),
    ]);
    no_panic(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("malformed") || stderr(&o).contains("block"), "{}", stderr(&o));

    let o = run(&[
        "record",
        "--rpc",
        "ftp://x",
        "--from",
        "1",
        "--to",
        "1",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn demo_runs_without_a_node() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(&["demo", "--data-dir", dir.path().to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(out.contains("mev-inspect-20.jsonl.zst") && out.contains("alerts stored in"), "{out}");
    // Issue 13: the commands it suggests work outside a checkout (run from another directory).
    let elsewhere = tempfile::tempdir().unwrap();
    for line in out.lines().filter_map(|l| l.trim().strip_prefix("palisade ")) {
        let line = line.split("  #").next().unwrap().trim();
        let args: Vec<&str> = line.split_whitespace().collect();
        let args: Vec<&str> = match args[0] {
            "run" => vec!["validate", args[2]],
            "demo" => continue,
            _ => args,
        };
        let o = Command::new(BIN).args(&args).current_dir(elsewhere.path()).output().unwrap();
        assert!(o.status.success(), "`palisade {line}`: {}", stderr(&o));
    }
    let store = format!("sqlite://{}", dir.path().join("demo.sqlite").display());
    let o = run(&["alerts", "--store", &store, "list", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let first: serde_json::Value =
        serde_json::from_str(String::from_utf8(o.stdout).unwrap().lines().next().unwrap()).unwrap();
    let key = first["key"].as_str().unwrap();
    let o =
        run(&["alerts", "--store", &store, "ack", &key[..10], "--by", "tester", "--note", "seen"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&["alerts", "--store", &store, "show", &key[..10]]);
    let shown: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(shown["status"], "acked");
    assert_eq!(shown["acked_by"], "tester");
    let o = run(&[
        "alerts",
        "--store",
        &format!("sqlite://{}/none.sqlite", dir.path().display()),
        "list",
    ]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn verify_checks_recorded_blocks_and_names_the_failure() {
    let root = root();
    let o = run(&[
        "verify",
        root.join("testdata/mainnet/helios-21925176.jsonl.zst").to_str().unwrap(),
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for c in ["block_hash", "receipts_root", "logs_bloom", "withdrawals_root"] {
        assert!(v["passed"].as_array().unwrap().iter().any(|x| x == c), "{c}: {v}");
    }
    assert!(stderr(&o).contains("not checked: transactions_root"), "{}", stderr(&o));
    // The same block with one byte of one receipt changed: exit 1, block and field named.
    let mut line: serde_json::Value = {
        let mut s = String::new();
        std::io::Read::read_to_string(
            &mut zstd::stream::read::Decoder::new(
                std::fs::File::open(root.join("testdata/mainnet/helios-21925176.jsonl.zst"))
                    .unwrap(),
            )
            .unwrap(),
            &mut s,
        )
        .unwrap();
        serde_json::from_str(s.trim()).unwrap()
    };
    line["receipts"][0]["cumulativeGasUsed"] = serde_json::json!("0x1");
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.jsonl");
    std::fs::write(&p, format!("{line}\n")).unwrap();
    let o = run(&["verify", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("block 21925176") && out.contains("FAILED receipts_root"), "{out}");
    assert_eq!(run(&["verify", "/no/such/file"]).status.code(), Some(2));
}

/// Issue 11, defect 3: a tampered field that cannot be parsed fails its check (exit 1); it is
/// not left "not checked" with exit 0.
#[test]
fn verify_fails_fields_that_cannot_be_parsed() {
    let root = root();
    let first_line = |file: &str| -> serde_json::Value {
        let mut s = String::new();
        std::io::Read::read_to_string(
            &mut zstd::stream::read::Decoder::new(std::fs::File::open(root.join(file)).unwrap())
                .unwrap(),
            &mut s,
        )
        .unwrap();
        serde_json::from_str(s.lines().next().unwrap()).unwrap()
    };
    let good = first_line("testdata/anvil/defi-chain.jsonl.zst");
    let dir = tempfile::tempdir().unwrap();
    let check = |what: &str, line: &serde_json::Value, want_exit: i32, want: &[&str]| {
        let p = dir.path().join("t.jsonl");
        std::fs::write(&p, format!("{line}\n")).unwrap();
        let o = run(&["verify", p.to_str().unwrap()]);
        no_panic(&o);
        let out = format!("{}{}", String::from_utf8_lossy(&o.stdout), stderr(&o));
        assert_eq!(o.status.code(), Some(want_exit), "{what}: {out}");
        for w in want {
            assert!(out.contains(w), "{what}: wants {w:?} in\n{out}");
        }
    };
    check("untouched", &good, 0, &["0 failed checks"]);
    // The value changed by one: the hash and root checks fail.
    let mut l = good.clone();
    l["block"]["transactions"][0]["value"] = serde_json::json!("0x1");
    check("value changed", &l, 1, &["FAILED tx_hashes"]);
    // The same value as a 100-digit hex: a failure too, naming the field.
    let mut l = good.clone();
    l["block"]["transactions"][0]["value"] = serde_json::json!(format!("0x{}", "9".repeat(100)));
    check("100-digit value", &l, 1, &["transactions[0].value is malformed"]);
    let mut l = good.clone();
    l["block"]["gasUsed"] = serde_json::json!(format!("0x{}", "f".repeat(64)));
    check("gasUsed 2^256-1", &l, 1, &["gasUsed is malformed", "FAILED block_hash"]);
    let mut l = good.clone();
    l["block"]["hash"] = serde_json::json!("0xabcd");
    check("2-byte block hash", &l, 1, &["hash is malformed"]);
    let mut l = good.clone();
    for r in l["receipts"].as_array_mut().unwrap() {
        r.as_object_mut().unwrap().remove("status");
    }
    check(
        "receipts without status",
        &l,
        1,
        &["receipts[0].status is malformed", "FAILED receipts_root"],
    );
}

#[test]
fn inspect_prints_each_transactions_actions_and_exits_2_without_input() {
    let f = root().join("testdata/mainnet/mev-inspect-20.jsonl.zst");
    let o = run(&["inspect", f.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    // The Aave liquidation of block 13244807, with its exact amounts.
    assert!(
        out.contains("block 13244807: 4 swaps, 0 arbitrages, 1 liquidations, 1 flash loans"),
        "{out}"
    );
    assert!(
        out.contains("user 0xd16404ca0a74a15e66d8ad7c925592fb02422ffe liquidated by 0x19256c009781bc2d1545db745af6dfd30c7e9cfa; repaid 26503300291 USDT (26503.300291), received 8182733924513576561 WETH (8.182733924513576561)"),
        "{out}"
    );
    assert!(out.contains("REVERTED"), "the reverted arbitrage of block 12483198 is marked");
    let o = run(&["inspect", f.to_str().unwrap(), "--json"]);
    let first: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&o.stdout).lines().next().unwrap()).unwrap();
    assert!(
        first["transactions"][0]["swaps"][0]["amount_in"].is_string(),
        "amounts are exact decimal strings"
    );
    let o = run(&["inspect"]);
    assert_eq!(o.status.code(), Some(2));
    no_panic(&o);
    let o = run(&["inspect", "/no/such/file.jsonl"]);
    assert_eq!(o.status.code(), Some(2));
    no_panic(&o);
}

#[test]
fn inspect_marks_swaps_out_at_cex_quotes_and_names_a_bad_quotes_line() {
    let f = root().join("testdata/mainnet/etl-17173049-17173050.jsonl.zst");
    let dir = tempfile::tempdir().unwrap();
    // Block 17173050 is at 1683030011 (2023-05-02T12:20:11Z); ETH quoted 5 s before it.
    let q = dir.path().join("quotes.csv");
    std::fs::write(&q, "time,pair,bid,ask\n2023-05-02T12:20:06Z,ETH-USDT,1829.9,1830.0\n").unwrap();
    let o = run(&["inspect", f.to_str().unwrap(), "--cex-quotes", q.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    // The searcher's 12.0135 WETH -> 22,018.22 DAI swap: 22,018.22 - 12.0135 x 1,830.
    assert!(out.contains("mev cex-dex     tx 17 swaps [0]: received $22018.22 at the CEX bid, paid $21984.62 at the ask; profit $33.60"), "{out}");
    let o = run(&["inspect", f.to_str().unwrap(), "--cex-quotes", q.to_str().unwrap(), "--json"]);
    let last: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&o.stdout).lines().last().unwrap()).unwrap();
    assert!(last["cex_dex"].as_array().unwrap().iter().any(|c| c["tx"] == 17), "{last}");
    // A bad line: exit 2, the line named, nothing printed.
    std::fs::write(&q, "time,pair,bid,ask\n1683030006,ETH-USDT,1830.0,1829.9\n").unwrap();
    let o = run(&["inspect", f.to_str().unwrap(), "--cex-quotes", q.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("line 2: bid 1830 is above ask 1829.9"), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    no_panic(&o);
}

#[test]
fn a_closed_stdout_ends_the_output_without_a_panic() {
    let f = root().join("testdata/mainnet/mev-inspect-20.jsonl.zst");
    let mut child = Command::new(BIN)
        .args(["inspect", f.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Read one chunk, then close the pipe as `| head -1` does.
    let mut buf = [0u8; 64];
    std::io::Read::read(child.stdout.as_mut().unwrap(), &mut buf).unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    no_panic(&o);
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn validate_refuses_a_plaintext_key_and_unknown_detectors_in_responders() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("resp.toml");
    let base = "[[chains]]\nname = 'x'\nchain_id = 1\nendpoints = [{ url = 'http://127.0.0.1:1' }]\n[chains.mempool]\nenabled = true\n\n[[detectors]]\ntype = 'simulation'\nname = 'vault'\ncontracts = ['0x00000000000000000000000000000000000000aa']\n\n";
    let responder = |key: &str, dets: &str| {
        format!("{base}[[responders]]\nname = 'pause'\ntype = 'pause_tx'\nchain = 'x'\n[responders.policy]\ndetectors = [{dets}]\n[responders.tx]\nto = '0x00000000000000000000000000000000000000aa'\ncall = 'pause()'\n[responders.key]\n{key}\n")
    };
    std::fs::write(&p, responder("private_key_env = 'GUARDIAN_KEY'", "'simulation:vault'"))
        .unwrap();
    let o = run(&["validate", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    let header = base.lines().count() + 1;
    assert!(e.contains(&format!("resp.toml:{header}:")), "{e}");
    assert!(e.contains("responders[0].key.private_key_env"), "{e}");
    assert!(e.contains("local_test_chain"), "{e}");
    std::fs::write(&p, responder("keystore = 'k.json'\npassword_env = 'PW'", "'simulation:other'"))
        .unwrap();
    let o = run(&["validate", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("responders[0].policy.detectors"), "{}", stderr(&o));
    std::fs::write(&p, responder("keystore = 'k.json'\npassword_env = 'PW'", "'simulation:vault'"))
        .unwrap();
    // Issue 13: the keystore's password variable must be set for `run`, so `validate` says so.
    let o = Command::new(BIN)
        .args(["validate", p.to_str().unwrap()])
        .env_remove("PW")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("responders[0] (pause).key.password_env") && e.contains("PW is not set"),
        "{e}"
    );
    let o =
        Command::new(BIN).args(["validate", p.to_str().unwrap()]).env("PW", "pw").output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    no_panic(&o);
}

/// Issue 13: commands that never use a secret read the config without it; `run` and
/// `validate` name the unset variable (and never print a secret's value).
#[test]
fn only_the_commands_that_use_secrets_demand_them() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("s.toml");
    std::fs::write(
        &p,
        format!(
            "data_dir = '{}'\n[api]\nlisten = '127.0.0.1:1'\n\n[[chains]]\nname = 'x'\nchain_id = 1\nendpoints = [{{ url = 'http://127.0.0.1:1' }}]\n\n[[sinks]]\ntype = 'slack'\nurl = {{ env = 'PALISADE_T_UNSET_HOOK' }}\n\n[[sinks]]\ntype = 'webhook'\nurl = {{ env = 'PALISADE_T_SET_HOOK' }}\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let cmd = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .env_remove("PALISADE_T_UNSET_HOOK")
            .env("PALISADE_T_SET_HOOK", "http://127.0.0.1:1/very-secret-token")
            .output()
            .unwrap()
    };
    let o = cmd(&["validate", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("sinks[0] (slack).url") && e.contains("PALISADE_T_UNSET_HOOK is not set"),
        "{e}"
    );
    assert!(!e.contains("very-secret-token"), "{e}");
    let o = cmd(&["run", "--config", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("PALISADE_T_UNSET_HOOK"));
    // `alerts` and `status` read the store location and the API address only.
    let o = cmd(&["alerts", "--config", p.to_str().unwrap(), "list"]);
    let e = stderr(&o);
    assert!(!e.contains("is not set") && e.contains("no store at"), "{e}");
    let o = cmd(&["status", "--config", p.to_str().unwrap()]);
    let e = stderr(&o);
    assert!(!e.contains("is not set") && e.contains("cannot reach the Palisade API"), "{e}");
    no_panic(&o);
}

/// Issue 13: shell completions and a man page come from the binary itself.
#[test]
fn completions_and_man_page() {
    let o = run(&["completions", "bash"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("complete") && out.contains("palisade") && out.contains("replay"),
        "{out}"
    );
    // bash accepts the script.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("palisade.bash");
    std::fs::write(&p, out.as_bytes()).unwrap();
    let b = Command::new("bash").args(["-n", p.to_str().unwrap()]).output().unwrap();
    assert!(b.status.success(), "{}", String::from_utf8_lossy(&b.stderr));
    let o = run(&["completions", "zsh"]);
    assert!(o.status.success() && String::from_utf8_lossy(&o.stdout).contains("#compdef palisade"));
    assert_eq!(run(&["completions", "tcsh"]).status.code(), Some(2));
    let o = run(&["man"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let man = String::from_utf8_lossy(&o.stdout);
    assert!(man.starts_with(".ie") || man.contains(".TH palisade"), "{man}");
    assert!(man.contains("replay") && man.contains("validate"), "{man}");
}

/// Issue 13: the release binary is lean (it was 177 MB with line-table debug info).
#[test]
fn the_release_profile_ships_no_debug_info() {
    let manifest: toml::Table =
        toml::from_str(&std::fs::read_to_string(root().join("Cargo.toml")).unwrap()).unwrap();
    let release = &manifest["profile"]["release"];
    assert_eq!(release.get("debug").and_then(|v| v.as_bool()), Some(false), "{release}");
    assert_eq!(release.get("strip").and_then(|v| v.as_bool()), Some(true), "{release}");
}

/// Issue 13: an unknown log format or alert status is a usage error, not silently ignored; logs
/// that do not go to a terminal carry no colour codes.
#[test]
fn unknown_choices_are_usage_errors_and_piped_logs_have_no_colours() {
    let o = run(&["--log-format", "yaml", "detectors"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("yaml"), "{}", stderr(&o));
    let o = run(&["alerts", "list", "--status", "bogus"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("bogus") && stderr(&o).contains("acked"), "{}", stderr(&o));
    let o = run(&["alerts", "list", "--severity", "urgent"]);
    assert_eq!(o.status.code(), Some(2));
    let data = root().join("testdata/mainnet/mev-inspect-20.jsonl.zst");
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite://{}", dir.path().join("s.sqlite").display());
    let o = Command::new(BIN)
        .args(["-vv", "replay", data.to_str().unwrap(), "--store", &store])
        .env_remove("PALISADE_LOG")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("DEBUG"), "-vv logs at debug: {e}");
    assert!(!e.contains('\u{1b}'), "colour codes in a piped log: {e:?}");
}

/// Issue 13: `palisade sinks test` sends one marked test notification through each sink and
/// says what each answered; a sink that fails makes it exit 1.
#[test]
fn sinks_test_sends_a_marked_notification_through_each_sink() {
    use std::io::Read;
    // A receiver: 200 on /ok (recording the body), 404 `no_service` elsewhere.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let g = got.clone();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 65536];
            let req = loop {
                let n = s.read(&mut chunk).unwrap_or(0);
                buf.extend_from_slice(&chunk[..n]);
                let t = String::from_utf8_lossy(&buf).to_string();
                let Some(i) = t.find("\r\n\r\n") else {
                    if n == 0 {
                        break t;
                    } else {
                        continue;
                    }
                };
                let len: usize = t[..i]
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap_or(0))
                    })
                    .unwrap_or(0);
                if buf.len() >= i + 4 + len || n == 0 {
                    break t;
                }
            };
            let (status, body) = if req.starts_with("POST /ok") {
                ("200 OK", "ok")
            } else {
                ("404 Not Found", "no_service")
            };
            g.lock().unwrap().push(req);
            let _ = write!(
                s,
                "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("s.toml");
    let cfg = |sinks: &str| {
        format!(
            "data_dir = '{}'\n\n[[chains]]\nname = 'x'\nchain_id = 1\nendpoints = [{{ url = 'http://127.0.0.1:1' }}]\n\n{sinks}",
            dir.path().display()
        )
    };
    let good = format!("[[sinks]]\ntype = 'webhook'\nurl = 'http://127.0.0.1:{port}/ok'\n\n[[sinks]]\ntype = 'jsonl'\npath = 'a.jsonl'\n");
    std::fs::write(&p, cfg(&good)).unwrap();
    let o = run(&["sinks", "test", "--config", p.to_str().unwrap()]);
    assert!(o.status.success(), "{}{}", String::from_utf8_lossy(&o.stdout), stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("ok      webhook") && out.contains("ok      jsonl"), "{out}");
    let sent = got.lock().unwrap().join("\n");
    assert!(sent.contains("\"test\":true") && sent.contains("TEST notification"), "{sent}");
    let line = std::fs::read_to_string(dir.path().join("a.jsonl")).unwrap();
    assert!(line.contains("palisade:test"), "{line}");
    // A Slack URL the service does not know: reported with its words, exit 1.
    let bad = format!(
        "{good}\n[[sinks]]\ntype = 'slack'\nurl = 'http://127.0.0.1:{port}/services/T0KEN'\n"
    );
    std::fs::write(&p, cfg(&bad)).unwrap();
    let o = run(&["sinks", "test", "--config", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("FAILED  slack") && out.contains("404") && out.contains("no_service"),
        "{out}"
    );
    assert!(!out.contains("T0KEN"), "{out}");
    no_panic(&o);
}
