//! `palisade bench`: replay throughput next to plain serde_json parsing of the same lines,
//! measured in the same run (the machines are shared and noisy: read the ratio).

use crate::demo::{demo_config, DATASETS};
use palisade_node::config::{build_detectors, Config};
use palisade_node::engine::ChainEngine;
use palisade_primitives::BlockData;
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

fn load_lines(file: Option<&str>) -> eyre::Result<Vec<String>> {
    let mut blobs: Vec<Vec<u8>> = Vec::new();
    match file {
        Some(f) => blobs.push(std::fs::read(f)?),
        None => blobs.extend(DATASETS.iter().map(|d| d.2.to_vec())),
    }
    let mut lines = Vec::new();
    for b in blobs {
        let text = if b.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            let mut s = String::new();
            zstd::stream::read::Decoder::new(&b[..])?.read_to_string(&mut s)?;
            s
        } else {
            String::from_utf8(b)?
        };
        lines.extend(text.lines().filter(|l| !l.trim().is_empty()).map(str::to_string));
    }
    Ok(lines)
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn rss_kb() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()
}

pub(crate) fn cmd(
    file: Option<String>,
    config: Option<PathBuf>,
    loops: u64,
    blocks: Option<u64>,
) -> eyre::Result<ExitCode> {
    let cfg: Config = match config {
        Some(p) => match crate::cli::load_config(&p) {
            Ok(c) => c,
            Err(code) => return Ok(code),
        },
        None => demo_config()?,
    };
    let lines = load_lines(file.as_deref())?;
    let bytes: usize = lines.iter().map(|l| l.len() + 1).sum();
    let n = lines.len() as f64;
    outln!(
        "input: {} blocks, {:.1} MB of JSON; {} detectors; {} passes; one core",
        lines.len(),
        bytes as f64 / 1e6,
        cfg.detectors.len(),
        loops
    );
    let (mut parse_t, mut full_t) = (Vec::new(), Vec::new());
    let mut findings = 0;
    for _ in 0..loops.max(1) {
        let t = Instant::now();
        for l in &lines {
            let v: serde_json::Value = serde_json::from_str(l)?;
            std::hint::black_box(v);
        }
        parse_t.push(t.elapsed().as_secs_f64());

        let mut engine = ChainEngine::new(
            "mainnet",
            build_detectors(&cfg.detectors, "mainnet", &Default::default())?,
            64,
            true,
        );
        let t = Instant::now();
        findings = 0;
        for l in &lines {
            let b = BlockData::from_json_line(l)?;
            if let palisade_chain::Outcome::Event(ev) = engine.connect(vec![Arc::new(b)])? {
                findings += engine.apply(&ev)?.findings.len();
            }
        }
        full_t.push(t.elapsed().as_secs_f64());
    }
    let (p, f) = (median(parse_t), median(full_t));
    outln!(
        "{:<44} {:>10.0} blocks/s {:>8.1} MB/s",
        "reference: serde_json::Value parse only",
        n / p,
        bytes as f64 / p / 1e6
    );
    outln!(
        "{:<44} {:>10.0} blocks/s {:>8.1} MB/s",
        "palisade replay: decode + track + detect",
        n / f,
        bytes as f64 / f / 1e6
    );
    outln!("ratio replay/parse: {:.2}x (target <= 2.0x); {findings} findings per pass", f / p);

    workers(&lines, &cfg.detectors, loops)?;
    verification()?;
    defi(&lines, loops)?;
    consensus(loops)?;

    if let Some(total) = blocks {
        // Memory: one long-lived engine over `total` blocks (the data looped, renumbered so the
        // chain keeps growing and the window keeps pruning).
        let mut engine = ChainEngine::new(
            "mainnet",
            build_detectors(&cfg.detectors, "mainnet", &Default::default())?,
            64,
            true,
        );
        let parsed: Vec<BlockData> =
            lines.iter().map(|l| Ok(BlockData::from_json_line(l)?)).collect::<eyre::Result<_>>()?;
        let step = (total / 10).max(1);
        let mut samples = Vec::new();
        let t = Instant::now();
        for i in 0..total {
            let mut b = parsed[(i % parsed.len() as u64) as usize].clone();
            b.header.number = i;
            b.header.hash = None;
            b.header.parent_hash = None;
            b.header.timestamp = Some(1_700_000_000 + i * 12);
            if let palisade_chain::Outcome::Event(ev) = engine.connect(vec![Arc::new(b)])? {
                std::hint::black_box(engine.apply(&ev)?);
            }
            if (i + 1) % step == 0 {
                samples.push((i + 1, rss_kb().unwrap_or(0)));
            }
        }
        outln!("memory over {total} blocks ({:.1} s):", t.elapsed().as_secs_f64());
        for (i, kb) in &samples {
            outln!("  after {i:>8} blocks: RSS {:>7.1} MB", *kb as f64 / 1024.0);
        }
        if let (Some(first), Some(last)) = (samples.first(), samples.last()) {
            outln!("RSS last/first: {:.2}x (flat is ~1.0x)", last.1 as f64 / first.1.max(1) as f64);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Replay and inspect on several workers next to one worker, over the input looped into a file
/// (blocks renumbered so the chain keeps growing): decoding goes ahead on the workers, blocks are
/// committed (or printed) in order.
fn workers(
    lines: &[String],
    detectors: &[palisade_detect::DetectorConfig],
    loops: u64,
) -> eyre::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("looped.jsonl");
    let copies = (2000 / lines.len().max(1)).max(4);
    let mut out = String::new();
    let mut n = 0u64;
    for _ in 0..copies {
        for l in lines {
            let mut v: serde_json::Value = serde_json::from_str(l)?;
            n += 1;
            v["block"]["number"] = serde_json::json!(format!("{n:#x}"));
            v["block"]["timestamp"] = serde_json::json!(format!("{:#x}", 1_700_000_000 + n * 12));
            if let Some(b) = v["block"].as_object_mut() {
                b.remove("hash");
                b.remove("parentHash");
            }
            out.push_str(&v.to_string());
            out.push('\n');
        }
    }
    std::fs::write(&path, out)?;
    let file = path.to_string_lossy().to_string();
    let cores = palisade_node::replay::default_workers();
    let mut counts = vec![1, 2];
    if cores > 2 {
        counts.push(cores);
    }
    let time = |f: &dyn Fn() -> eyre::Result<()>| -> eyre::Result<f64> {
        let mut xs = Vec::new();
        for _ in 0..loops.clamp(1, 5) {
            let t = Instant::now();
            f()?;
            xs.push(t.elapsed().as_secs_f64());
        }
        Ok(median(xs))
    };
    outln!("replay and inspect of {n} blocks on workers (decode ahead, commit in order), {cores} cores here:");
    let mut base = (0.0, 0.0);
    for w in counts {
        let replay = time(&|| {
            let input = palisade_node::replay::Input {
                chain: "mainnet".into(),
                max_reorg_depth: 64,
                reader: palisade_source::replay::open(&file)?,
                risk: Default::default(),
            };
            palisade_node::replay::run_replay(
                vec![input],
                detectors,
                w,
                |_| {},
                |_, _, a| {
                    std::hint::black_box(a);
                    Ok(())
                },
            )?;
            Ok(())
        })?;
        let inspect = time(&|| {
            let reader = palisade_source::replay::open(&file)?;
            for r in palisade_node::replay::map_ahead(reader, w, |r| {
                r.map(|l| {
                    let a = palisade_defi::classify(&l.block);
                    palisade_defi::sandwiches(&a).len()
                })
            }) {
                std::hint::black_box(r?);
            }
            Ok(())
        })?;
        if w == 1 {
            base = (replay, inspect);
        }
        outln!(
            "  {w:>2} worker(s): replay {:>8.0} blocks/s ({:.2}x one worker)   inspect {:>8.0} blocks/s ({:.2}x one worker)",
            n as f64 / replay,
            base.0 / replay,
            n as f64 / inspect,
            base.1 / inspect
        );
    }
    Ok(())
}

/// DeFi decoding throughput (the like-for-like comparison with mev-inspect-py) and the cost per
/// block of each execution-layer detector, each next to a `Value` parse of the same blocks.
fn defi(lines: &[String], loops: u64) -> eyre::Result<()> {
    let parsed: Vec<Arc<BlockData>> = lines
        .iter()
        .map(|l| Ok(Arc::new(BlockData::from_json_line(l)?)))
        .collect::<eyre::Result<_>>()?;
    let traced: Vec<usize> = (0..parsed.len())
        .filter(|i| parsed[*i].traces.is_some() || parsed[*i].call_traces.is_some())
        .collect();
    let n = lines.len() as f64;
    let passes = loops.max(1);
    let time = |f: &mut dyn FnMut()| -> f64 {
        median(
            (0..passes)
                .map(|_| {
                    let t = Instant::now();
                    f();
                    t.elapsed().as_secs_f64()
                })
                .collect(),
        )
    };
    let parse = time(&mut || {
        for l in lines {
            std::hint::black_box(serde_json::from_str::<serde_json::Value>(l).ok());
        }
    });
    // What reading the bytes costs: every byte of every line touched once (a vectorised fold,
    // memory-bound), the floor under any decoder.
    let read = time(&mut || {
        for l in lines {
            std::hint::black_box(l.bytes().fold(0u8, |a, b| a ^ b));
        }
    });
    let decode = time(&mut || {
        for l in lines {
            std::hint::black_box(BlockData::from_json_line(l).ok());
        }
    });
    let classify = time(&mut || {
        for l in lines {
            if let Ok(b) = BlockData::from_json_line(l) {
                let a = palisade_defi::classify(&b);
                std::hint::black_box(palisade_defi::sandwiches(&a));
            }
        }
    });
    outln!("DeFi decoding over {} blocks ({} with traces), one core:", lines.len(), traced.len());
    outln!("{:<52} {:>10.0} blocks/s", "reference: a plain read of the bytes", n / read);
    outln!("{:<52} {:>10.0} blocks/s", "reference: serde_json::Value parse only", n / parse);
    outln!(
        "{:<52} {:>10.0} blocks/s  ratio to parse {:.2}x",
        "decode (the typed fast path)",
        n / decode,
        decode / parse
    );
    outln!(
        "{:<52} {:>10.0} blocks/s  ratio to parse {:.2}x",
        "decode + transfers, swaps, loans, liquidations, arbs, sandwiches",
        n / classify,
        classify / parse
    );
    outln!(
        "  (mev-inspect-py, as measured on a machine like this one, same kind of blocks: 7.55 blocks/s: {:.0}x)",
        n / classify / 7.55
    );
    let labels = include_str!("../../../testdata/forta/ethereum-etherscan-malicious-labels.csv");
    let detectors: &[(&str, &str, Option<&str>)] = &[
        ("sandwich", "type = 'sandwich'", None),
        ("admin_call", "type = 'admin_call'\nname = 'a'\ncontracts = ['0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48', '0x7d2768de32b0b80b7a3454c06bdac94a69ddc7a9']\nfunctions = ['upgradeTo(address)', 'upgradeToAndCall(address,bytes)', 'transferOwnership(address)', 'pause()']", None),
        ("contract_deployment (7,259 labels)", "type = 'contract_deployment'", Some(labels)),
        ("liquidity_drain", "type = 'liquidity_drain'\nname = 'p'\ncontracts = ['0x7054b0f980a7eb5b3a6b3446f3c947d80162775c', '0x0f23d49bc92ec52ff591d091b3e16c937034496e']\ntokens = [{ token = '0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2', max_outflow = '100000000000000000000' }]", None),
        ("liquidation_health", "type = 'liquidation_health'\nname = 'l'\nmarkets = ['0x7d2768de32b0b80b7a3454c06bdac94a69ddc7a9']\nfeed = '0x5f4eC3Df9cbd43714FE2740f5E3616155c5b8419'", None),
    ];
    outln!(
        "detector cost per block over {} real blocks (each its own one-block segment):",
        parsed.len()
    );
    outln!(
        "{:<52} {:>10.1} us/block",
        "reference: serde_json::Value parse of the block",
        parse / n * 1e6
    );
    // Committing every block to a fresh detector of `src`, each block its own one-block
    // segment; fresh blocks and detectors for each pass, made outside the clock. With
    // `decoded`, the blocks' DeFi actions are decoded beforehand (not timed).
    let commits = |src: &str, side: Option<&str>, decoded: bool| -> eyre::Result<f64> {
        let cfg =
            Config::parse(&format!("[[detectors]]\n{src}"), "bench", std::path::Path::new("."))
                .map_err(|e| eyre::eyre!("{e}"))?
                .detectors
                .remove(0);
        let mut runs = Vec::new();
        for _ in 0..passes {
            let segs: Vec<palisade_primitives::ChainSegment> = parsed
                .iter()
                .map(|b| {
                    let b = Arc::new((**b).clone());
                    if decoded {
                        palisade_defi::actions(&b);
                    }
                    palisade_primitives::ChainSegment::new(vec![b])
                })
                .collect::<Result<_, _>>()?;
            runs.push((cfg.build("mainnet", side, &Default::default())?, segs));
        }
        Ok(time(&mut || {
            if let Some((mut d, segs)) = runs.pop() {
                let mut out = palisade_primitives::Findings::new();
                for s in &segs {
                    let _ = d.commit(s, &mut out);
                }
                std::hint::black_box(out);
            }
        }))
    };
    for (name, src, side) in detectors {
        let t = commits(src, *side, false)?;
        outln!("{:<52} {:>10.1} us/block  ratio to parse {:.2}x", *name, t / n * 1e6, t / parse);
    }
    // Anomaly scoring alone, in transactions a second (goal 50,000 on one core): the blocks'
    // DeFi actions are decoded beforehand, outside the clock; the reference is that decoding.
    let txs: usize = parsed.iter().map(|b| palisade_defi::actions(b).txs.len()).sum();
    let t = commits("type = 'anomaly'\nmin_history = 5", None, true)?;
    outln!(
        "{:<52} {:>10.0} tx/s",
        "reference: decode + classify, per transaction",
        txs as f64 / classify
    );
    outln!(
        "{:<52} {:>10.0} tx/s  (goal >= 50,000 a core)",
        "anomaly scoring, actions decoded beforehand",
        txs as f64 / t
    );
    // The settlement-risk index: its cost per block next to the block's decode (goal 0.05x).
    let mut runs = Vec::new();
    for _ in 0..passes {
        let segs: Vec<palisade_primitives::ChainSegment> = parsed
            .iter()
            .map(|b| palisade_primitives::ChainSegment::new(vec![Arc::new((**b).clone())]))
            .collect::<Result<_, _>>()?;
        runs.push((palisade_risk::RiskIndex::new("mainnet", Default::default())?, segs));
    }
    let none = std::collections::BTreeMap::new();
    let t = time(&mut || {
        if let Some((mut idx, segs)) = runs.pop() {
            for s in &segs {
                std::hint::black_box(idx.commit(s, &none));
            }
        }
    });
    outln!(
        "{:<52} {:>10.1} us/block  ratio to parse {:.3}x (goal <= 0.05x)",
        "settlement-risk index (palisade-risk)",
        t / n * 1e6,
        t / parse
    );
    // All of them on one engine: the block's DeFi actions are decoded once and shared.
    let mut src = String::new();
    for (_, d, _) in detectors.iter().filter(|(_, _, side)| side.is_none()) {
        src.push_str(&format!("[[detectors]]\n{d}\n"));
    }
    let cfg =
        Config::parse(&src, "bench", std::path::Path::new(".")).map_err(|e| eyre::eyre!("{e}"))?;
    let t = time(&mut || {
        let dets = build_detectors(&cfg.detectors, "mainnet", &Default::default());
        if let Ok(dets) = dets {
            let mut engine = ChainEngine::new("mainnet", dets, 64, true);
            for b in &parsed {
                let mut b = (**b).clone();
                b.header.hash = None;
                b.header.parent_hash = None;
                if let Ok(palisade_chain::Outcome::Event(ev)) = engine.connect(vec![Arc::new(b)]) {
                    std::hint::black_box(engine.apply(&ev).ok());
                }
            }
        }
    });
    outln!(
        "{:<52} {:>10.1} us/block  ratio to parse {:.2}x",
        format!("the {} above without labels, one engine", cfg.detectors.len()),
        t / n * 1e6,
        t / parse
    );
    Ok(())
}

fn unzstd(bytes: &[u8]) -> eyre::Result<String> {
    let mut s = String::new();
    zstd::stream::read::Decoder::new(bytes)?.read_to_string(&mut s)?;
    Ok(s)
}

/// Consensus signatures: a real mainnet sync-committee update (511 of 512 signers) verified in
/// full by the light client, next to blst's raw `fast_aggregate_verify` of the same keys,
/// message and signature; and a 150-validator CometBFT commit verified by the tendermint
/// verifier and in one Ed25519 batch, next to ed25519-dalek's raw verify of the same votes.
fn consensus(loops: u64) -> eyre::Result<()> {
    use palisade_consensus::beacon::light_client::LightClient;
    use palisade_consensus::beacon::types::{LightClientBootstrap, LightClientUpdate, Versioned};
    use palisade_consensus::beacon::Network;
    use palisade_consensus::comet;
    let boot: Versioned<LightClientBootstrap> = serde_json::from_str(&unzstd(include_bytes!(
        "../../../testdata/consensus/beacon/bootstrap.json.zst"
    ))?)?;
    let updates: Vec<Versioned<LightClientUpdate>> = serde_json::from_str(&unzstd(
        include_bytes!("../../../testdata/consensus/beacon/updates.json.zst"),
    )?)?;
    let lc =
        LightClient::bootstrap(Network::mainnet(), boot.data.header.beacon.root(), &boot.data)?;
    let u = &updates[0].data;
    let (keys, msg, sig) = lc.signing_inputs(u)?;
    let reps = 100usize;
    let per_sec = |f: &mut dyn FnMut()| -> f64 {
        let runs: Vec<f64> = (0..loops.max(1))
            .map(|_| {
                let t = Instant::now();
                for _ in 0..reps {
                    f();
                }
                reps as f64 / t.elapsed().as_secs_f64()
            })
            .collect();
        median(runs)
    };
    let raw = per_sec(&mut || {
        std::hint::black_box(palisade_consensus::bls::fast_aggregate_verify(
            &keys,
            msg.as_slice(),
            &sig,
        ));
    });
    let full = per_sec(&mut || {
        std::hint::black_box(lc.verify(u).is_ok());
    });
    outln!("sync committee: a real mainnet update, {} of 512 signers, one core:", keys.len());
    outln!("{:<52} {:>10.0} verifications/s", "reference: blst fast_aggregate_verify", raw);
    outln!(
        "{:<52} {:>10.0} verifications/s  ratio {:.2}x",
        "palisade: keys, SSZ roots, branches, domain, verify",
        full,
        raw / full
    );
    let v: serde_json::Value = serde_json::from_str(&unzstd(include_bytes!(
        "../../../testdata/consensus/comet-150-validators.json.zst"
    ))?)?;
    let b = serde_json::from_value::<comet::LightBlockJson>(v)?.into_light_block();
    let votes = comet::commit_votes(&b)?;
    let n = votes.keys.len();
    let raw_each = per_sec(&mut || {
        for i in 0..n {
            std::hint::black_box(
                votes.keys[i].verify_strict(&votes.messages[i], &votes.signatures[i]).is_ok(),
            );
        }
    });
    let refs: Vec<&[u8]> = votes.messages.iter().map(Vec::as_slice).collect();
    let raw_batch = per_sec(&mut || {
        std::hint::black_box(
            ed25519_dalek::verify_batch(&refs, &votes.signatures, &votes.keys).is_ok(),
        );
    });
    let tm = per_sec(&mut || {
        std::hint::black_box(comet::verify_commit(&b).is_ok());
    });
    let batch = per_sec(&mut || {
        std::hint::black_box(comet::verify_commit_batch(&b).is_ok());
    });
    outln!("CometBFT commit: {n} validators, every one signing, one core:");
    outln!(
        "{:<52} {:>10.0} commits/s",
        "reference: ed25519-dalek verify, each signature",
        raw_each
    );
    outln!("{:<52} {:>10.0} commits/s", "reference: ed25519-dalek verify_batch", raw_batch);
    outln!(
        "{:<52} {:>10.0} commits/s  ratio {:.2}x (stops at 2/3)",
        "palisade: tendermint verifier (hashes, 2/3 power)",
        tm,
        raw_each / tm
    );
    outln!(
        "{:<52} {:>10.0} commits/s  ratio {:.2}x",
        "palisade: hashes, sign bytes, one batch, all 150",
        batch,
        raw_batch / batch
    );
    Ok(())
}

/// Verification throughput on real mainnet execution payloads (three blocks, 400+ signed
/// transactions of every common type), one core and all cores, next to raw secp256k1 recovery
/// of the same signatures with each library (k256, and the libsecp256k1 bindings that alloy is
/// built to use here) in the same run.
fn verification() -> eyre::Result<()> {
    use alloy_eips::eip2718::Decodable2718;
    use rayon::prelude::*;
    let mut text = String::new();
    zstd::stream::read::Decoder::new(
        &include_bytes!("../../../testdata/verify/helios-execution-payloads.json.zst")[..],
    )?
    .read_to_string(&mut text)?;
    let payloads: Vec<serde_json::Value> = serde_json::from_str(&text)?;
    let payloads: Vec<&serde_json::Value> =
        payloads.iter().map(|p| &p["execution_payload"]).collect();
    // (signing hash, r||s, recovery id, sender) of every transaction.
    let mut sigs: Vec<([u8; 32], [u8; 64], u8, alloy_primitives::Address)> = Vec::new();
    for p in &payloads {
        for raw in p["transactions"].as_array().into_iter().flatten() {
            let b: alloy_primitives::Bytes = raw.as_str().unwrap_or_default().parse()?;
            let tx = alloy_consensus::TxEnvelope::decode_2718(&mut b.as_ref())
                .map_err(|e| eyre::eyre!("{e}"))?;
            use alloy_consensus::transaction::SignerRecoverable;
            let from = tx.recover_signer().map_err(|e| eyre::eyre!("{e}"))?;
            let sig = tx.signature();
            let mut rs = [0u8; 64];
            rs[..32].copy_from_slice(&sig.r().to_be_bytes::<32>());
            rs[32..].copy_from_slice(&sig.s().to_be_bytes::<32>());
            sigs.push((tx.signature_hash().0, rs, u8::from(sig.v()), from));
        }
    }
    let to_address = |uncompressed: &[u8]| {
        alloy_primitives::Address::from_slice(
            &alloy_primitives::keccak256(&uncompressed[1..])[12..],
        )
    };
    let k256_recover = |(h, rs, v, _): &([u8; 32], [u8; 64], u8, alloy_primitives::Address)| {
        let sig = k256::ecdsa::Signature::from_slice(rs).ok()?;
        let id = k256::ecdsa::RecoveryId::from_byte(*v)?;
        let key = k256::ecdsa::VerifyingKey::recover_from_prehash(h, &sig, id).ok()?;
        Some(to_address(key.to_encoded_point(false).as_bytes()))
    };
    let secp_recover = |(h, rs, v, _): &([u8; 32], [u8; 64], u8, alloy_primitives::Address)| {
        use secp256k1::ecdsa::{RecoverableSignature, RecoveryId};
        let id = RecoveryId::try_from(i32::from(*v)).ok()?;
        let sig = RecoverableSignature::from_compact(rs, id).ok()?;
        let key =
            secp256k1::SECP256K1.recover_ecdsa(&secp256k1::Message::from_digest(*h), &sig).ok()?;
        Some(to_address(&key.serialize_uncompressed()))
    };
    // Both libraries recover every real sender (soundness before speed).
    for s in &sigs {
        eyre::ensure!(k256_recover(s) == Some(s.3), "k256 recovered another sender");
        eyre::ensure!(secp_recover(s) == Some(s.3), "libsecp256k1 recovered another sender");
    }
    let verify_all = || -> eyre::Result<()> {
        for p in &payloads {
            let r = palisade_verify::verify_execution_payload(p).map_err(|e| eyre::eyre!(e))?;
            eyre::ensure!(r.failed.is_empty(), "a real payload failed verification");
        }
        Ok(())
    };
    // All cores: blocks side by side (as `palisade verify` and backfills do), and each block's
    // transactions spread too.
    let verify_all_par = || -> eyre::Result<()> {
        payloads.par_iter().try_for_each(|p| {
            let r = palisade_verify::verify_execution_payload(p).map_err(|e| eyre::eyre!(e))?;
            eyre::ensure!(r.failed.is_empty(), "a real payload failed verification");
            Ok(())
        })
    };
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    let cores = rayon::current_num_threads();
    let time = |f: &dyn Fn() -> eyre::Result<()>| -> eyre::Result<f64> {
        let mut ts = Vec::new();
        for _ in 0..9 {
            let t = Instant::now();
            f()?;
            ts.push(t.elapsed().as_secs_f64());
        }
        Ok(median(ts))
    };
    let k256_one = time(&|| {
        sigs.iter().for_each(|s| {
            std::hint::black_box(k256_recover(s));
        });
        Ok(())
    })?;
    let secp_one = time(&|| {
        sigs.iter().for_each(|s| {
            std::hint::black_box(secp_recover(s));
        });
        Ok(())
    })?;
    let secp_all = time(&|| {
        sigs.par_iter().for_each(|s| {
            std::hint::black_box(secp_recover(s));
        });
        Ok(())
    })?;
    let full_one = time(&|| one.install(verify_all))?;
    let full_all = time(&verify_all_par)?;
    let (n, b) = (sigs.len() as f64, payloads.len() as f64);
    outln!(
        "verification: {} real mainnet blocks, {} signed transactions",
        payloads.len(),
        sigs.len()
    );
    outln!("{:<52} {:>10.0} tx/s", "reference: raw recovery, k256, one core", n / k256_one);
    outln!(
        "{:<52} {:>10.0} tx/s  ({:.2}x k256)",
        "reference: raw recovery, libsecp256k1, one core",
        n / secp_one,
        k256_one / secp_one
    );
    outln!(
        "{:<52} {:>10.0} tx/s {:>8.1} blocks/s",
        "palisade: decode + roots + hash + senders, one core",
        n / full_one,
        b / full_one
    );
    outln!(
        "ratio verification/recovery (libsecp256k1), one core: {:.2}x (target <= 1.25x)",
        full_one / secp_one
    );
    outln!(
        "{:<52} {:>10.0} tx/s",
        format!("reference: raw recovery, libsecp256k1, {cores} cores"),
        n / secp_all
    );
    outln!(
        "{:<52} {:>10.0} tx/s {:>8.1} blocks/s",
        format!("palisade: the same, {cores} cores"),
        n / full_all,
        b / full_all
    );
    outln!(
        "ratio verification/recovery, {cores} cores: {:.2}x (target <= 1.25x)",
        full_all / secp_all
    );
    Ok(())
}
