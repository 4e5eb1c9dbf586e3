//! Decoders never panic on damaged input: seeded mutations of real recorded lines and JSON-RPC
//! answers (bytes flipped, cut, spliced; values swapped for values of other types). The
//! coverage-guided fuzz targets in fuzz/ go further; this runs on every test run.

use palisade_primitives::{BlockData, RecordedBlock};
use palisade_testing::conformance::Lcg;
use serde_json::{json, Value};

/// Real lines, trimmed to a few transactions so thousands of mutations stay fast.
fn seeds() -> Vec<Value> {
    let mut out = Vec::new();
    for f in [
        "mainnet/mev-inspect-20.jsonl.zst",
        "mainnet/etl-17173049-17173050.jsonl.zst",
        "mainnet/helios-21925176.jsonl.zst",
    ] {
        let text = palisade_testing::fixtures::text(f);
        for line in text.lines().take(2) {
            let mut v: Value = serde_json::from_str(line).unwrap();
            for (key, n) in [("receipts", 3), ("traces", 12)] {
                if let Some(a) = v[key].as_array_mut() {
                    a.truncate(n);
                }
            }
            if let Some(a) = v["block"]["transactions"].as_array_mut() {
                a.truncate(3);
            }
            out.push(v);
        }
    }
    out
}

/// Decodes on both paths: whenever the fast path accepts a line, it must give exactly what the
/// `Value` path gives.
fn decode(s: &str) -> bool {
    let slow = RecordedBlock::from_json_line(s).and_then(BlockData::from_recorded);
    if let Ok(b) = &slow {
        let _ = b.calls();
        let _ = b.tx_hash(1);
    }
    match palisade_primitives::fast::decode(s) {
        Ok(fast) => {
            let slow = slow.unwrap_or_else(|e| {
                panic!("the fast path accepted a line the Value path rejects ({e}): {s:.300}")
            });
            assert_eq!(fast, slow, "the two decoding paths disagree on {s:.300}");
            true
        }
        Err(_) => false,
    }
}

fn random_value(rng: &mut Lcg) -> Value {
    match rng.below(9) {
        0 => Value::Null,
        1 => json!(-1),
        2 => json!(1.5e300),
        3 => json!("0x"),
        4 => json!("0xzz"),
        5 => json!("0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"),
        6 => json!([]),
        7 => json!({}),
        _ => json!(true),
    }
}

/// Replaces one random node of the tree.
fn mutate_tree(v: &mut Value, rng: &mut Lcg, depth: usize) {
    match v {
        Value::Object(m) if !m.is_empty() && depth < 8 => {
            let k = m.keys().nth(rng.below(m.len() as u64) as usize).unwrap().clone();
            if rng.below(4) == 0 {
                *m.get_mut(&k).unwrap() = random_value(rng);
            } else if rng.below(8) == 0 {
                m.remove(&k);
            } else {
                mutate_tree(m.get_mut(&k).unwrap(), rng, depth + 1);
            }
        }
        Value::Array(a) if !a.is_empty() && depth < 8 => {
            let i = rng.below(a.len() as u64) as usize;
            if rng.below(4) == 0 {
                a[i] = random_value(rng);
            } else {
                mutate_tree(&mut a[i], rng, depth + 1);
            }
        }
        other => *other = random_value(rng),
    }
}

#[test]
fn the_fast_path_takes_every_real_line_and_agrees_with_the_value_path() {
    let mut n = 0;
    for f in [
        "mainnet/mev-inspect-20.jsonl.zst",
        "mainnet/etl-17173049-17173050.jsonl.zst",
        "mainnet/helios-21925176.jsonl.zst",
    ] {
        let text = palisade_testing::fixtures::text(f);
        for line in text.lines() {
            assert!(decode(line), "the fast path refused a real line of {f}");
            n += 1;
        }
    }
    assert_eq!(n, 23);
    // Third-party shapes the fast path leaves to the Value path still decode the same.
    let snake = r#"{"block":{"number":1},"traces":[{"type":"call","action":{"from":"0x0000000000000000000000000000000000000001","call_type":"call","input":"0x"},"trace_address":[],"transaction_position":0}]}"#;
    assert!(!decode(snake));
    assert_eq!(
        BlockData::from_json_line(snake).unwrap().traces.unwrap()[0].action.call_type.as_deref(),
        Some("call")
    );
}

#[test]
fn mutated_recorded_lines_never_panic() {
    let mut rng = Lcg::new(2026);
    let mut both_paths = 0;
    for seed in seeds() {
        let base = seed.to_string();
        decode(&base);
        for _ in 0..300 {
            let mut v = seed.clone();
            for _ in 0..1 + rng.below(3) {
                mutate_tree(&mut v, &mut rng, 0);
            }
            both_paths += usize::from(decode(&v.to_string()));
        }
        let bytes = base.as_bytes();
        for _ in 0..200 {
            let mut b = bytes.to_vec();
            match rng.below(3) {
                0 => {
                    let i = rng.below(b.len() as u64) as usize;
                    b[i] = (rng.below(256)) as u8;
                }
                1 => b.truncate(rng.below(b.len() as u64) as usize),
                _ => {
                    let i = rng.below(b.len() as u64) as usize;
                    let j = (i + rng.below(64) as usize).min(b.len());
                    let chunk = b[i..j].to_vec();
                    let k = rng.below(b.len() as u64) as usize;
                    b.splice(k..k, chunk);
                }
            }
            decode(&String::from_utf8_lossy(&b));
        }
        // What the hand-written scanner must judge like serde_json: quotes, escapes, raw
        // control characters, whitespace, numbers of every shape and structure, put anywhere.
        const TOKENS: &[&str] = &[
            "\"",
            "\\",
            "\\\"",
            "\t",
            "\n",
            " ",
            "\u{1}",
            ",",
            ":",
            "[",
            "]",
            "{",
            "}",
            "null",
            "-1",
            "1e5",
            "01",
            "1.5",
            "0",
            "18446744073709551616",
            "\"0x\"",
            "é",
        ];
        for _ in 0..300 {
            let mut s = base.clone();
            let mut i = rng.below(s.len() as u64) as usize;
            while !s.is_char_boundary(i) {
                i -= 1;
            }
            s.insert_str(i, TOKENS[rng.below(TOKENS.len() as u64) as usize]);
            both_paths += usize::from(decode(&s));
        }
    }
    // The differential check means something only if many mutants take the fast path.
    assert!(both_paths >= 250, "only {both_paths} mutated lines were compared on both paths");
}

#[test]
fn mutated_json_rpc_answers_never_panic() {
    let mut rng = Lcg::new(7);
    let seeds = seeds();
    for _ in 0..600 {
        let block = seeds[rng.below(seeds.len() as u64) as usize]["block"].clone();
        let mut resp = json!({"jsonrpc": "2.0", "id": 1, "result": block});
        mutate_tree(&mut resp, &mut rng, 0);
        if let Ok(r) = palisade_source::evm_rpc::parse_response(resp, "eth_getBlockByHash", "test")
        {
            let _ = palisade_source::evm_rpc::head_of(&r);
            let rec = RecordedBlock {
                prestate: serde_json::Value::Null,
                block: r,
                receipts: Value::Null,
                traces: Value::Null,
                call_traces: Value::Null,
                proofs: Value::Null,
                calls: Value::Null,
                code: Value::Null,
                beacon: Value::Null,
                comet: Value::Null,
            };
            let _ = BlockData::from_recorded(rec);
        }
    }
}

#[test]
fn an_invalid_escape_in_an_unread_field_is_judged_like_the_value_path() {
    // Found by the recorded_line fuzz target: a lone surrogate in a field neither path reads.
    let line = r#"{"block":{"number":"0x1","extraData":"\ud800"}}"#;
    assert!(RecordedBlock::from_json_line(line).is_err());
    assert!(palisade_primitives::fast::decode(line).is_err());
    assert!(BlockData::from_json_line(line).is_err());
}

#[test]
fn an_out_of_range_number_in_an_unread_field_is_the_one_documented_difference() {
    // Found by the recorded_line fuzz target.
    let line = r#"{"block":{"number":"0x1"},"traces":[{"type":"call","action":{"from":"0x0000000000000000000000000000000000000001","input":"0x"},"transactionPosition":0,"blockNumber":10e21991}]}"#;
    let e = RecordedBlock::from_json_line(line).unwrap_err().to_string();
    assert!(palisade_primitives::fast::lexical_only(&e), "{e}");
    let b = palisade_primitives::fast::decode(line).unwrap();
    assert_eq!(b.traces.unwrap().len(), 1);
    // In a field Palisade reads, both paths refuse it.
    let read = r#"{"block":{"number":10e21991}}"#;
    assert!(palisade_primitives::fast::decode(read).is_err());
    assert!(BlockData::from_json_line(read).is_err());
}

/// Every JSON path of a recorded line that verification covers: header fields, transaction
/// fields, receipt status, gas and logs, and the recorded proofs.
fn covered_paths(v: &Value) -> Vec<Vec<Value>> {
    let mut out = Vec::new();
    let b = &v["block"];
    for k in [
        "hash",
        "parentHash",
        "sha3Uncles",
        "miner",
        "stateRoot",
        "transactionsRoot",
        "receiptsRoot",
        "logsBloom",
        "difficulty",
        "number",
        "gasLimit",
        "gasUsed",
        "timestamp",
        "extraData",
        "mixHash",
        "nonce",
        "baseFeePerGas",
        "withdrawalsRoot",
        "blobGasUsed",
        "excessBlobGas",
        "parentBeaconBlockRoot",
        "requestsHash",
    ] {
        if b[k].is_string() {
            out.push(vec![json!("block"), json!(k)]);
        }
    }
    for (i, t) in b["transactions"].as_array().into_iter().flatten().enumerate() {
        for k in [
            "nonce",
            "gas",
            "gasPrice",
            "maxFeePerGas",
            "maxPriorityFeePerGas",
            "to",
            "value",
            "input",
            "r",
            "s",
            "yParity",
            "chainId",
            "hash",
            "from",
        ] {
            let legacy_price = k == "gasPrice" && t["type"] != "0x0" && t["type"] != "0x1";
            if t[k].is_string() && !legacy_price {
                out.push(vec![json!("block"), json!("transactions"), json!(i), json!(k)]);
            }
        }
    }
    for (i, r) in v["receipts"].as_array().into_iter().flatten().enumerate() {
        for k in ["status", "cumulativeGasUsed"] {
            out.push(vec![json!("receipts"), json!(i), json!(k)]);
        }
        for (j, l) in r["logs"].as_array().into_iter().flatten().enumerate() {
            out.push(vec![json!("receipts"), json!(i), json!("logs"), json!(j), json!("address")]);
            out.push(vec![json!("receipts"), json!(i), json!("logs"), json!(j), json!("data")]);
            for t in 0..l["topics"].as_array().map_or(0, Vec::len) {
                out.push(vec![
                    json!("receipts"),
                    json!(i),
                    json!("logs"),
                    json!(j),
                    json!("topics"),
                    json!(t),
                ]);
            }
        }
    }
    for (i, p) in v["proofs"].as_array().into_iter().flatten().enumerate() {
        for k in ["balance", "nonce", "codeHash", "storageHash"] {
            out.push(vec![json!("proofs"), json!(i), json!(k)]);
        }
        for n in 0..p["accountProof"].as_array().map_or(0, Vec::len) {
            out.push(vec![json!("proofs"), json!(i), json!("accountProof"), json!(n)]);
        }
        for s in 0..p["storageProof"].as_array().map_or(0, Vec::len) {
            out.push(vec![
                json!("proofs"),
                json!(i),
                json!("storageProof"),
                json!(s),
                json!("value"),
            ]);
        }
    }
    out
}

fn at<'a>(v: &'a mut Value, path: &[Value]) -> &'a mut Value {
    path.iter().fold(v, |v, k| match k {
        Value::String(s) => &mut v[s.as_str()],
        Value::Number(n) => &mut v[n.as_u64().unwrap() as usize],
        _ => unreachable!(),
    })
}

#[test]
fn changing_any_byte_that_verification_covers_is_caught_and_damage_never_panics() {
    let mut lines: Vec<Value> = Vec::new();
    for f in ["anvil/vault-chain.jsonl.zst", "mainnet/helios-21925176.jsonl.zst"] {
        let text = palisade_testing::fixtures::text(f);
        lines.extend(text.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()));
    }
    let mut rng = Lcg::new(4844);
    let mut flips = 0;
    for v in &lines {
        let rec = RecordedBlock::from_value(v.clone()).unwrap();
        let report = palisade_verify::verify_block(&rec);
        assert!(report.failed.is_empty(), "a real line fails");
        let original = report.passed;
        let paths = covered_paths(v);
        for _ in 0..40 {
            let path = &paths[rng.below(paths.len() as u64) as usize];
            let mut m = v.clone();
            let field = at(&mut m, path);
            let s = field.as_str().unwrap().to_string();
            // Change one hex digit (not the "0x"): a different value of the same shape.
            let digits = s.len() - 2;
            if digits == 0 {
                continue;
            }
            let i = 2 + rng.below(digits as u64) as usize;
            let old = s.as_bytes()[i];
            let new = b"0123456789abcdef"[(rng.below(15) as usize
                + 1
                + "0123456789abcdef".find(old.to_ascii_lowercase() as char).unwrap_or(0))
                % 16];
            let mut bytes = s.into_bytes();
            bytes[i] = new;
            *field = Value::String(String::from_utf8(bytes).unwrap());
            flips += 1;
            // Refused outright is caught too; otherwise it must fail a check, or make a check
            // impossible (which live verification fails).
            if let Ok(r) = RecordedBlock::from_value(m.clone()) {
                let report = palisade_verify::verify_block(&r);
                let evaded = report.unverifiable(&original);
                assert!(
                    !report.failed.is_empty() || !evaded.is_empty(),
                    "a changed {path:?} went unnoticed"
                );
            }
        }
        // Damage of any kind: no panic in any verification entry point.
        for _ in 0..60 {
            let mut m = v.clone();
            for _ in 0..1 + rng.below(3) {
                mutate_tree(&mut m, &mut rng, 0);
            }
            if let Ok(r) = RecordedBlock::from_value(m.clone()) {
                let _ = palisade_verify::verify_block(&r);
            }
            let root = palisade_primitives::B256::repeat_byte(rng.below(256) as u8);
            let _ = palisade_verify::verify_proofs(root, &m["proofs"]);
            let _ = palisade_verify::verify_execution_payload(&m["block"]);
        }
    }
    assert!(flips > 500, "{flips}");
}

/// A callTracer tree `frames` deep under one transaction.
fn deep_line(frames: usize) -> String {
    let mut tree = String::new();
    for _ in 0..frames {
        tree.push_str(r#"{"type":"CALL","from":"0x00000000000000000000000000000000000000aa","to":"0x00000000000000000000000000000000000000bb","input":"0x01","gas":"0x1","gasUsed":"0x1","value":"0x0","calls":["#);
    }
    tree.push_str(r#"{"type":"CALL","from":"0x00000000000000000000000000000000000000aa","to":"0x00000000000000000000000000000000000000cc","input":"0x"}"#);
    for _ in 0..frames {
        tree.push_str("]}");
    }
    format!(
        r#"{{"block":{{"number":"0x7","hash":"0x0707070707070707070707070707070707070707070707070707070707070707","transactions":[{{"hash":"0x0101010101010101010101010101010101010101010101010101010101010101","transactionIndex":"0x0","to":"0x00000000000000000000000000000000000000aa"}}]}},"call_traces":[{{"txHash":"0x0101010101010101010101010101010101010101010101010101010101010101","result":{tree}}}]}}"#
    )
}

/// Issue 11, defect 10: a real reentrancy attack's 65-frame call tree failed replay with
/// "recursion limit exceeded". Trees as deep as the EVM allows (1,024 frames) decode, on a
/// stack far smaller than a runtime worker's, are written back
/// as recorded lines, and deeper ones are refused with a clear error.
#[test]
fn call_trees_as_deep_as_the_evm_allows_decode_on_a_small_stack() {
    let run = || {
        for frames in [65, 300, palisade_primitives::json::MAX_CALL_DEPTH] {
            let line = deep_line(frames);
            let b =
                BlockData::from_json_line(&line).unwrap_or_else(|e| panic!("{frames} frames: {e}"));
            let calls = b.calls();
            assert_eq!(calls.len(), frames + 1, "{frames} frames: every frame is a call");
            assert_eq!(calls.last().unwrap().depth, frames);
            // Written back as the live service stores it, it decodes to the same calls.
            let rec = RecordedBlock::from_json_line(&line).unwrap();
            let again = rec.to_json_line();
            rec.drop_deep();
            let b = BlockData::from_json_line(&again).unwrap();
            assert_eq!(b.calls().len(), frames + 1, "{frames} frames, written back");
        }
        let e = BlockData::from_json_line(&deep_line(2_000)).unwrap_err().to_string();
        assert!(e.contains("nested") || e.contains("deeper"), "{e}");
    };
    // 256 KiB: well under tokio's 2 MiB worker threads (the deep_json fuzz target's stack).
    std::thread::Builder::new().stack_size(256 << 10).spawn(run).unwrap().join().unwrap();
}
