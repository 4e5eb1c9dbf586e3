//! CometBFT light-client vectors from tendermint-rs (real Ed25519 signatures): every
//! model-based single-step case gives its expected verdict step by step, and every bisection
//! case its expected outcome, attacks included (conflicting headers from witnesses, a malicious
//! validator set, a header out of the trusting period, too few commits).

use palisade_consensus::comet::{
    bisect, detect_fork, options, verify_commit, verify_link, verify_step, LightBlockJson,
    StepVerdict, Witnessed,
};
use serde_json::Value;
use std::time::Duration;
use tendermint_light_client_verifier::types::{LightBlock, Time};

fn load(rel: &str) -> Value {
    let p = format!("{}/../../testdata/consensus/tendermint/{rel}", env!("CARGO_MANIFEST_DIR"));
    let b = std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"));
    serde_json::from_slice(&zstd::stream::decode_all(&b[..]).unwrap()).unwrap()
}

fn files(dir: &str) -> Vec<String> {
    let d = format!("{}/../../testdata/consensus/tendermint/{dir}", env!("CARGO_MANIFEST_DIR"));
    let mut v: Vec<String> = std::fs::read_dir(&d)
        .unwrap()
        .map(|e| format!("{dir}/{}", e.unwrap().file_name().to_string_lossy()))
        .collect();
    v.sort();
    v
}

fn block(v: &Value) -> LightBlock {
    serde_json::from_value::<LightBlockJson>(v.clone()).unwrap().into_light_block()
}

fn time(v: &Value) -> Time {
    Time::parse_from_rfc3339(v.as_str().unwrap()).unwrap()
}

fn nanos(v: &Value) -> Duration {
    Duration::from_nanos(v.as_str().map(|s| s.parse().unwrap()).or_else(|| v.as_u64()).unwrap())
}

#[test]
fn single_step_verdicts() {
    let mut steps = 0;
    let mut seen = std::collections::BTreeSet::new();
    let all = files("model_based/single_step");
    assert_eq!(all.len(), 40);
    for f in all {
        let tc = load(&f);
        let init = &tc["initial"];
        let trusted_json = serde_json::json!({
            "signed_header": init["signed_header"],
            "validator_set": init["next_validator_set"],
            "next_validator_set": init["next_validator_set"],
        });
        let mut trusted = block(&trusted_json);
        let opts = options(nanos(&init["trusting_period"]), Duration::from_secs(1));
        for (i, step) in tc["input"].as_array().unwrap().iter().enumerate() {
            let untrusted = block(&step["block"]);
            let (got, why) = verify_step(&trusted, &untrusted, &opts, time(&step["now"]));
            let want: StepVerdict = serde_json::from_value(step["verdict"].clone()).unwrap();
            assert_eq!(got, want, "{f} step {i}: {why}");
            seen.insert(format!("{want:?}"));
            if got == StepVerdict::Success {
                trusted = untrusted;
            }
            steps += 1;
        }
    }
    assert_eq!(steps, 98);
    assert_eq!(seen.len(), 3, "every verdict occurs: {seen:?}");
}

/// The bisection vectors were generated with Tendermint v0.32, whose headers, validator sets and
/// votes are amino-encoded: CometBFT (v0.34 on) hashes and signs protobuf encodings, so their
/// original hashes and signatures cannot verify (checked below). Each light block is re-signed
/// with tendermint-testgen's deterministic keys (one per validator address), keeping what the scenarios are made of: chain,
/// heights, times, app hashes, proposers, every validator set with its voting powers, who signed
/// each commit, and so what differs between the primary and the witnesses.
fn resign(chain: &[Value]) -> Vec<LightBlock> {
    use tendermint_testgen::{Commit, Generator, Header, LightBlock as TgBlock, Validator, Vote};
    let vals = |set: &Value| -> Vec<Validator> {
        set["validators"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                Validator::new(&v["address"].as_str().unwrap()[..16])
                    .voting_power(v["voting_power"].as_str().unwrap().parse().unwrap())
            })
            .collect()
    };
    let mut out: Vec<LightBlock> = Vec::new();
    for b in chain {
        let h = &b["signed_header"]["header"];
        let validators = vals(&b["validator_set"]);
        let next = vals(&b["next_validator_set"]);
        let mut header = Header::new(&validators)
            .next_validators(&next)
            .chain_id(h["chain_id"].as_str().unwrap())
            .height(h["height"].as_str().unwrap().parse().unwrap())
            .time(time(&h["time"]));
        // The proposer, by its place among the validators as testgen orders them.
        let proposer = &h["proposer_address"].as_str().unwrap()[..16];
        let order = tendermint_testgen::validator::sort_validators(&validators);
        if let Some(i) = order.iter().position(|v| v.id.as_deref() == Some(proposer)) {
            header = header.proposer(i);
        }
        let app = h["app_hash"].as_str().unwrap();
        if !app.is_empty() {
            header = header.app_hash(tendermint::AppHash::from_hex_upper(app).unwrap());
        }
        if let Some(prev) = out.last() {
            header = header.last_block_id_hash(prev.signed_header.header.hash());
        }
        let signers: Vec<&str> = b["signed_header"]["commit"]["signatures"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["block_id_flag"] == 2)
            .map(|s| &s["validator_address"].as_str().unwrap()[..16])
            .collect();
        let votes: Vec<Vote> = validators
            .iter()
            .filter(|v| signers.contains(&v.id.as_deref().unwrap()))
            .map(|v| Vote::new(v.clone(), header.clone()).round(1))
            .collect();
        let commit = Commit::new_with_votes(header.clone(), 1, votes);
        let tm = TgBlock::new(header, commit).next_validators(&next).generate().unwrap();
        out.push(LightBlock::new(tm.signed_header, tm.validators, tm.next_validators, tm.provider));
    }
    out
}

#[test]
fn bisection_and_fork_detection_outcomes() {
    let all: Vec<String> =
        files("bisection/single_peer").into_iter().chain(files("bisection/multi_peer")).collect();
    assert_eq!(all.len(), 8);
    for f in all {
        let tc = load(&f);
        // As recorded, the v0.32 validator sets do not hash to what their headers say.
        let raw = block(&tc["primary"]["lite_blocks"][0]);
        assert!(verify_commit(&raw).is_err(), "{f}: a v0.32 block verified");
        let primary = resign(tc["primary"]["lite_blocks"].as_array().unwrap());
        let witnesses: Vec<Vec<LightBlock>> = tc["witnesses"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| resign(w["value"]["lite_blocks"].as_array().unwrap()))
            .collect();
        let t = &tc["trust_options"];
        let th: u64 = t["height"].as_str().unwrap().parse().unwrap();
        let trusted = primary.iter().find(|b| b.height().value() == th).unwrap().clone();
        let opts = options(nanos(&t["period"]), Duration::from_secs(1));
        let now = time(&tc["now"]);
        let target: u64 = tc["height_to_verify"].as_str().unwrap().parse().unwrap();
        let from = |set: &Vec<LightBlock>| {
            let set = set.clone();
            move |h: u64| set.iter().find(|b| b.height().value() == h).cloned()
        };
        let fetch = from(&primary);
        let outcome = bisect(&trusted, target, &fetch, &opts, now)
            .map_err(|e| e.to_string())
            .and_then(|(v, report)| {
                let ws: Vec<Box<dyn Fn(u64) -> Option<LightBlock>>> = witnesses
                    .iter()
                    .map(|w| Box::new(from(w)) as Box<dyn Fn(u64) -> Option<LightBlock>>)
                    .collect();
                let refs: Vec<&dyn Fn(u64) -> Option<LightBlock>> =
                    ws.iter().map(|w| w.as_ref()).collect();
                match detect_fork(&v, &trusted, &refs, &opts, now) {
                    Witnessed::Agree => Ok(report),
                    Witnessed::Conflict { height, .. } => {
                        Err(format!("conflicting headers at height {height}"))
                    }
                    Witnessed::FaultyWitnesses(bad) if bad.len() == refs.len() => {
                        Err("no honest witness left".into())
                    }
                    Witnessed::FaultyWitnesses(_) => Ok(report),
                }
            });
        let want_ok = tc["expected_output"] == "no error";
        assert_eq!(outcome.is_ok(), want_ok, "{f}: {outcome:?}");
        // And for the reason the case is about.
        let why = outcome.as_ref().err().cloned().unwrap_or_default();
        let reason = [
            ("conflicting", "conflicting headers"),
            ("malicious", "conflicting headers"),
            ("trusting_period", "trusting period"),
            ("not_enough_commits", "height 6"),
        ];
        for (case, text) in reason {
            if f.contains(case) {
                assert!(why.contains(text), "{f}: {why}");
            }
        }
        if let Ok(report) = &outcome {
            // The trust chain ends at the target and every height in it was verified once.
            // (`expected_num_of_bisections` counts the steps of the Go light client of 2019,
            // whose pivots differ; it is not compared.)
            assert_eq!(report.verified.last(), Some(&target), "{f}");
            assert!(report.verified.windows(2).all(|w| w[0] < w[1]), "{f}: {report:?}");
        }
    }
}

#[test]
fn followed_blocks_have_valid_commits_and_chain_their_validator_sets() {
    let tc = load("bisection/single_peer/_happy_path.json.zst");
    let blocks = resign(tc["primary"]["lite_blocks"].as_array().unwrap());
    for b in &blocks {
        verify_commit(b).unwrap_or_else(|e| panic!("{e}"));
    }
    for w in blocks.windows(2) {
        verify_link(&w[0], &w[1]).unwrap_or_else(|e| panic!("{e}"));
    }
    // A signature changed: the commit no longer verifies.
    let mut bad = blocks[3].clone();
    let sig = bad.signed_header.commit.signatures.iter_mut().find_map(|s| match s {
        tendermint::block::CommitSig::BlockIdFlagCommit { signature: Some(sig), .. } => Some(sig),
        _ => None,
    });
    let sig = sig.unwrap();
    let mut bytes = sig.as_bytes().to_vec();
    bytes[0] ^= 1;
    *sig = tendermint::Signature::try_from(bytes).unwrap();
    assert!(verify_commit(&bad).unwrap_err().to_string().contains("height 4"));
    // Out of order, or a validator set the previous block did not announce.
    assert!(verify_link(&blocks[0], &blocks[2]).is_err());
    let mut other = blocks[1].clone();
    other.signed_header.header.validators_hash =
        blocks[0].signed_header.header.app_hash.to_string().parse().unwrap_or_default();
    assert!(verify_link(&blocks[0], &other).is_err());
}

const FIXTURE_150: &str = "comet-150-validators.json.zst";

/// Regenerates the 150-validator light block the benchmark and the test below use (testgen
/// keys; every validator signs). `cargo test -p palisade-consensus --test tendermint_vectors --
/// --ignored write_the_150_validator_fixture`.
#[test]
#[ignore]
fn write_the_150_validator_fixture() {
    use tendermint_testgen::{Commit, Generator, Header, LightBlock as TgBlock, Validator};
    let vals: Vec<Validator> = (0..150)
        .map(|i| Validator::new(&format!("validator-{i:03}")).voting_power(10 + i % 7))
        .collect();
    let header = Header::new(&vals)
        .chain_id("palisade-bench")
        .height(1_000)
        .time(Time::parse_from_rfc3339("2026-11-26T00:00:00Z").unwrap());
    let commit = Commit::new(header.clone(), 1);
    let tm = TgBlock::new(header, commit).generate().unwrap();
    let json = serde_json::json!({
        "signed_header": tm.signed_header,
        "validator_set": tm.validators,
        "next_validator_set": tm.next_validators,
    });
    let p = format!("{}/../../testdata/consensus/{FIXTURE_150}", env!("CARGO_MANIFEST_DIR"));
    std::fs::write(p, zstd::stream::encode_all(json.to_string().as_bytes(), 19).unwrap()).unwrap();
}

#[test]
fn a_150_validator_commit_verifies_one_by_one_and_in_one_batch() {
    let p = format!("{}/../../testdata/consensus/{FIXTURE_150}", env!("CARGO_MANIFEST_DIR"));
    let v: Value =
        serde_json::from_slice(&zstd::stream::decode_all(&std::fs::read(p).unwrap()[..]).unwrap())
            .unwrap();
    let b = block(&v);
    assert_eq!(b.validators.validators().len(), 150);
    verify_commit(&b).unwrap();
    let signed = palisade_consensus::comet::verify_commit_batch(&b).unwrap();
    assert_eq!(signed, b.validators.total_voting_power().value());
    // One signature changed: both paths refuse the commit.
    let mut bad = b.clone();
    let sig = bad.signed_header.commit.signatures.iter_mut().rev().find_map(|s| match s {
        tendermint::block::CommitSig::BlockIdFlagCommit { signature: Some(sig), .. } => Some(sig),
        _ => None,
    });
    let sig = sig.unwrap();
    let mut bytes = sig.as_bytes().to_vec();
    bytes[7] ^= 1;
    *sig = tendermint::Signature::try_from(bytes).unwrap();
    assert!(palisade_consensus::comet::verify_commit_batch(&bad).is_err());
}

#[test]
fn malformed_base64_from_a_node_is_an_error_not_a_panic() {
    // Found by the `consensus` fuzz target: the tendermint crate's base64 decoder panics on it.
    let p =
        format!("{}/../../testdata/consensus/fuzz-base64-panic.json", env!("CARGO_MANIFEST_DIR"));
    let v: Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
    let e = palisade_consensus::comet::from_json::<LightBlockJson>("light block", &v).unwrap_err();
    assert!(e.to_string().contains("light block"), "{e}");
}

#[test]
fn the_tendermint_decoder_does_panic_on_it_so_the_guard_is_needed() {
    let p =
        format!("{}/../../testdata/consensus/fuzz-base64-panic.json", env!("CARGO_MANIFEST_DIR"));
    let v: Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
    assert!(
        std::panic::catch_unwind(|| serde_json::from_value::<LightBlockJson>(v.clone())).is_err()
    );
}
