//! Verification against real mainnet data with known answers (the headers' own roots and
//! hashes), and a one-byte change in each input is caught.

use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{keccak256, B256};
use alloy_rpc_types_eth::EIP1186AccountProofResponse;
use alloy_trie::{HashBuilder, Nibbles};
use palisade_primitives::RecordedBlock;
use palisade_testing::fixtures::testdata;
use palisade_verify::{
    verify_account_proof, verify_block, verify_execution_payload, verify_storage_proofs, Check,
    VerifyError,
};
use serde_json::Value;
use std::collections::BTreeMap;

fn lines(rel: &str) -> Vec<RecordedBlock> {
    palisade_testing::fixtures::text(rel)
        .lines()
        .map(|l| RecordedBlock::from_json_line(l).unwrap())
        .collect()
}

fn json(rel: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(testdata(rel)).unwrap()).unwrap()
}

/// Flips the last hex digit of a hex string (a one-byte change that keeps it valid hex).
fn flip(v: &mut Value) {
    let s = v.as_str().unwrap().to_string();
    let last = s.chars().last().unwrap();
    let new = if last == '0' { '1' } else { '0' };
    *v = Value::String(format!("{}{new}", &s[..s.len() - 1]));
}

#[test]
fn block_21925176_header_receipts_bloom_and_withdrawals_verify() {
    let rec = &lines("mainnet/helios-21925176.jsonl.zst")[0];
    let r = verify_block(rec);
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    for c in [Check::BlockHash, Check::ReceiptsRoot, Check::LogsBloom, Check::WithdrawalsRoot] {
        assert!(r.passed.contains(&c), "{c:?} not passed: {r:?}");
    }
    assert_eq!(rec.receipts.as_array().unwrap().len(), 202);
    // Transactions are listed by hash only: said, not guessed.
    assert!(r
        .unchecked
        .iter()
        .any(|(c, why)| *c == Check::TransactionsRoot && why.contains("hash only")));

    // One byte changed in a header field, a log, a withdrawal: each is caught.
    let with_logs: Vec<usize> = rec
        .receipts
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .filter(|(_, r)| !r["logs"].as_array().unwrap().is_empty())
        .map(|(i, _)| i)
        .collect();
    let (a, b) = (with_logs[with_logs.len() / 2], with_logs[1]);
    let mut bad = rec.clone();
    flip(&mut bad.block["gasUsed"]);
    assert!(matches!(
        verify_block(&bad).failed[0],
        VerifyError::BlockHash { number: 21925176, .. }
    ));
    let mut bad = rec.clone();
    flip(&mut bad.receipts[a]["logs"][0]["data"]);
    let f = verify_block(&bad).failed;
    assert!(
        f.iter().any(|e| matches!(e, VerifyError::Root { field: "receiptsRoot", .. })),
        "{f:?}"
    );
    let mut bad = rec.clone();
    flip(&mut bad.receipts[7]["cumulativeGasUsed"]);
    assert!(verify_block(&bad)
        .failed
        .iter()
        .any(|e| matches!(e, VerifyError::Root { field: "receiptsRoot", .. })));
    let mut bad = rec.clone();
    flip(&mut bad.receipts[b]["logs"][0]["address"]);
    let f = verify_block(&bad).failed;
    assert!(
        f.iter().any(|e| matches!(e, VerifyError::Root { field: "logsBloom", .. })),
        "a forged log address changes the bloom: {f:?}"
    );
    let mut bad = rec.clone();
    flip(&mut bad.block["withdrawals"][3]["amount"]);
    assert!(verify_block(&bad)
        .failed
        .iter()
        .any(|e| matches!(e, VerifyError::Root { field: "withdrawalsRoot", .. })));
    // A dropped log.
    let mut bad = rec.clone();
    bad.receipts[a]["logs"].as_array_mut().unwrap().pop();
    assert!(!verify_block(&bad).failed.is_empty());
}

#[test]
fn blocks_17173049_and_17173050_receipts_roots_and_blooms_verify() {
    for rec in lines("mainnet/etl-17173049-17173050.jsonl.zst") {
        let r = verify_block(&rec);
        assert!(r.failed.is_empty(), "{:?}", r.failed);
        assert!(
            r.passed.contains(&Check::ReceiptsRoot) && r.passed.contains(&Check::LogsBloom),
            "{r:?}"
        );
        // ethereum-etl drops mixHash and signatures: the hash and senders cannot be checked.
        assert!(r.unchecked.iter().any(|(c, _)| *c == Check::BlockHash));
        assert!(r.unchecked.iter().any(|(c, _)| *c == Check::Senders));
        let mut bad = rec.clone();
        flip(&mut bad.receipts[0]["logs"][0]["topics"][1]);
        let f = verify_block(&bad).failed;
        assert!(
            f.iter().any(|e| matches!(e, VerifyError::Root { field: "receiptsRoot", .. })),
            "{f:?}"
        );
    }
}

#[test]
fn execution_payloads_in_beacon_blocks_rebuild_their_block_hash_and_senders() {
    let s = palisade_testing::fixtures::text("verify/helios-execution-payloads.json.zst");
    let payloads: Vec<Value> = serde_json::from_str(&s).unwrap();
    let mut numbers = Vec::new();
    for p in &payloads {
        let ep = &p["execution_payload"];
        let r = verify_execution_payload(ep).unwrap();
        assert!(r.failed.is_empty(), "{:?}", r.failed);
        assert!(
            r.passed.contains(&Check::BlockHash)
                && r.passed.contains(&Check::Senders)
                && r.passed.contains(&Check::TransactionsRoot)
        );
        numbers.push(r.number.unwrap());
        // One byte changed in one raw transaction (its last signature byte): caught.
        let mut bad = ep.clone();
        let n = bad["transactions"].as_array().unwrap().len();
        flip(&mut bad["transactions"][n / 2]);
        // Either it no longer decodes (an error: caught) or a check fails.
        if let Ok(r) = verify_execution_payload(&bad) {
            assert!(!r.failed.is_empty(), "a changed transaction went unnoticed");
        }
    }
    assert_eq!(numbers, vec![17923026, 17923112, 17923113]);
}

#[test]
fn account_and_storage_proofs_verify_against_the_state_root() {
    let block = &lines("mainnet/helios-21925176.jsonl.zst")[0].block;
    let state_root: B256 = block["stateRoot"].as_str().unwrap().parse().unwrap();
    for f in ["verify/helios-21925176-proof.json", "verify/helios-21925176-block_miner_proof.json"]
    {
        let p: EIP1186AccountProofResponse = serde_json::from_value(json(f)).unwrap();
        verify_account_proof(state_root, &p).unwrap_or_else(|e| panic!("{f}: {e}"));
        verify_storage_proofs(&p).unwrap_or_else(|e| panic!("{f}: {e}"));
        let mut bad = p.clone();
        bad.balance += alloy_primitives::U256::from(1);
        assert!(
            verify_account_proof(state_root, &bad).is_err(),
            "{f}: a changed balance is caught"
        );
        let mut bad = p.clone();
        bad.nonce += 1;
        assert!(verify_account_proof(state_root, &bad).is_err());
        assert!(verify_account_proof(B256::repeat_byte(1), &p).is_err(), "another state root");
        if !p.storage_proof.is_empty() {
            let mut bad = p.clone();
            bad.storage_proof[0].value += alloy_primitives::U256::from(1);
            assert!(verify_storage_proofs(&bad).is_err(), "{f}: a changed storage value is caught");
        }
    }
}

#[test]
fn ethers_receipts_rebuild_their_consensus_rlp() {
    for i in [2, 6, 12] {
        let v = json(&format!("verify/ethers-receipt-17451262-{i}.json"));
        let want = hex::decode(
            std::fs::read_to_string(testdata(&format!("verify/ethers-receipt-17451262-{i}.hex")))
                .unwrap()
                .trim()
                .trim_start_matches("0x"),
        )
        .unwrap();
        let env = palisade_verify::receipt_envelope(&v).unwrap();
        assert_eq!(env.encoded_2718(), want, "receipt {i}");
        let mut bad = v.clone();
        flip(&mut bad["logs"][0]["data"]);
        assert_ne!(palisade_verify::receipt_envelope(&bad).unwrap().encoded_2718(), want);
    }
}

fn trie_bytes(v: &Value) -> Option<Vec<u8>> {
    let s = v.as_str()?;
    Some(match s.strip_prefix("0x") {
        Some(h) => hex::decode(h).unwrap(),
        None => s.as_bytes().to_vec(),
    })
}

/// The final state after the insertion sequence, rebuilt with alloy's trie builder.
fn trie_root(ops: &[(Vec<u8>, Option<Vec<u8>>)], secure: bool) -> B256 {
    let mut state = BTreeMap::new();
    for (k, v) in ops {
        let k = if secure { keccak256(k).to_vec() } else { k.clone() };
        match v {
            Some(v) if !v.is_empty() => {
                state.insert(Nibbles::unpack(&k), v.clone());
            }
            _ => {
                state.remove(&Nibbles::unpack(&k));
            }
        }
    }
    let mut hb = HashBuilder::default();
    for (k, v) in &state {
        hb.add_leaf(*k, v);
    }
    hb.root()
}

/// alloy's `HashBuilder` builds tries whose keys are never prefixes of one another (true of
/// every Ethereum trie: keys are hashes or RLP-encoded indices). Tests that store a value at a
/// branch (plain keys like "do" and "dog") are outside that and are counted, not run.
fn builder_can_build(ops: &[(Vec<u8>, Option<Vec<u8>>)], secure: bool) -> bool {
    if secure {
        return true;
    }
    // The keys present once the sequence has been applied.
    let mut live = BTreeMap::new();
    for (k, v) in ops {
        match v {
            Some(v) if !v.is_empty() => live.insert(k.clone(), ()),
            _ => live.remove(k),
        };
    }
    let keys: Vec<&Vec<u8>> = live.keys().collect();
    !keys.iter().any(|a| keys.iter().any(|b| a.len() < b.len() && b.starts_with(a)))
}

#[test]
fn ethereum_trie_tests_give_their_roots() {
    let (mut n, mut outside) = (0, 0);
    for (f, secure) in [
        ("trietest.json", false),
        ("trieanyorder.json", false),
        ("trietest_secureTrie.json", true),
        ("trieanyorder_secureTrie.json", true),
    ] {
        let tests = json(&format!("verify/TrieTests-{f}"));
        for (name, t) in tests.as_object().unwrap() {
            let ops: Vec<(Vec<u8>, Option<Vec<u8>>)> = match &t["in"] {
                Value::Array(xs) => {
                    xs.iter().map(|p| (trie_bytes(&p[0]).unwrap(), trie_bytes(&p[1]))).collect()
                }
                Value::Object(m) => m
                    .iter()
                    .map(|(k, v)| (trie_bytes(&Value::String(k.clone())).unwrap(), trie_bytes(v)))
                    .collect(),
                other => panic!("{name}: {other}"),
            };
            let want: B256 = t["root"].as_str().unwrap().parse().unwrap();
            if !builder_can_build(&ops, secure) {
                outside += 1;
                continue;
            }
            assert_eq!(trie_root(&ops, secure), want, "{f} {name}");
            n += 1;
        }
    }
    // The 8 outside are plain-key tests ("do", "dog", "doge"...); their secure-trie twins, the
    // same sequences with hashed keys, are among the 14 that run.
    assert_eq!((n, outside), (14, 8), "{n} trie tests run, {outside} outside the builder's domain");
}

#[test]
fn proofs_recorded_from_a_node_verify_against_each_header_and_a_changed_byte_is_caught() {
    let recs = lines("anvil/vault-chain.jsonl.zst");
    for rec in &recs {
        let r = verify_block(rec);
        assert!(r.failed.is_empty(), "{:?}", r.failed);
        assert!(r.passed.contains(&Check::Proofs), "{r:?}");
    }
    let rec = &recs[8];
    let caught = |bad: &RecordedBlock, what: &str| {
        let f = verify_block(bad).failed;
        assert!(f.iter().any(|e| e.check() == "proofs"), "{what} not caught: {f:?}");
    };
    let mut bad = rec.clone();
    flip(&mut bad.proofs[0]["storageProof"][0]["value"]);
    caught(&bad, "a storage value");
    let mut bad = rec.clone();
    flip(&mut bad.proofs[1]["balance"]);
    caught(&bad, "a balance");
    let mut bad = rec.clone();
    flip(&mut bad.proofs[0]["accountProof"][1]);
    caught(&bad, "a proof node");
    let mut bad = rec.clone();
    flip(&mut bad.proofs[2]["codeHash"]);
    caught(&bad, "a code hash");
    // Proofs of another block's state.
    let mut bad = rec.clone();
    bad.proofs = recs[2].proofs.clone();
    caught(&bad, "another block's proofs");
}
