//! `palisade assertions test FILE --config CFG`: runs the config's assertions over a recording
//! whose blocks carry the state before them (`palisade record --config CFG` records it), and
//! prints what each triggered assertion said of each transaction: held, violated (with the
//! call and the values read), over its gas budget, or not run.

use crate::EXIT_USAGE;
use palisade_assert::Verdict;
use palisade_detect::detectors::assertion::{diverged, AssertionDetector};
use palisade_detect::DetectorConfig;
use palisade_primitives::BlockData;
use std::path::Path;
use std::process::ExitCode;

/// Exit status when an assertion was violated.
const EXIT_VIOLATED: u8 = 1;

pub(crate) fn test(
    file: &str,
    config: &Path,
    chain: Option<String>,
    json: bool,
) -> eyre::Result<ExitCode> {
    let cfg = match crate::cli::load_config(config) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let chain = chain
        .or_else(|| cfg.chains.first().map(|c| c.name.clone()))
        .unwrap_or_else(|| "mainnet".into());
    let mut dets = Vec::new();
    for d in cfg.detectors.iter().filter(|d| d.applies_to(&chain)) {
        let DetectorConfig::Assertion(c) = d else { continue };
        let side = match d.side_file().map(|(_, p)| DetectorConfig::read_side_file(p)) {
            Some(Ok(s)) => s,
            Some(Err(e)) => {
                eprintln!("error: assertion {:?}: artifact {}: {e}", c.name, c.artifact.display());
                return Ok(ExitCode::from(EXIT_USAGE));
            }
            None => String::new(),
        };
        match AssertionDetector::new(c.clone(), &chain, Some(&side)) {
            Ok(a) => dets.push(a),
            Err(e) => {
                eprintln!("error: {e}");
                return Ok(ExitCode::from(EXIT_USAGE));
            }
        }
    }
    if dets.is_empty() {
        eprintln!("error: {} has no `assertion` detector for chain {chain:?}", config.display());
        return Ok(ExitCode::from(EXIT_USAGE));
    }
    let mut reader = match palisade_source::replay::open(file) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(EXIT_USAGE));
        }
    };
    let (mut blocks, mut with_state, mut checked, mut violated, mut trouble) =
        (0u64, 0u64, 0u64, 0u64, 0u64);
    while let Some(line) = reader.next_raw() {
        let (n, text) = match line {
            Ok(l) => l,
            Err(e) => {
                eprintln!("error: {e}");
                return Ok(ExitCode::from(EXIT_USAGE));
            }
        };
        let b = match BlockData::from_json_line(text) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("error: {file}:{n}: {e}");
                return Ok(ExitCode::from(EXIT_USAGE));
            }
        };
        blocks += 1;
        if let Some(pre) = &b.prestate {
            with_state += 1;
            // The state is checked before anything runs on it: proofs to the parent's root,
            // code to its proven hash, the parent to the block's parentHash.
            if let Err(e) =
                palisade_verify::verify_decoded_prestate(b.header.number, b.header.parent_hash, pre)
            {
                trouble += 1;
                println!(
                    "block {}: the recorded state is not proven, nothing judged: {e}",
                    b.header.number
                );
                continue;
            }
        }
        for d in &dets {
            let Some(run) = d.run_block(&b) else { continue };
            let runs = match run {
                Ok(r) => r,
                Err(e) => {
                    trouble += 1;
                    println!(
                        "block {}: assertion {:?} could not run: {e}",
                        b.header.number,
                        d.spec().name
                    );
                    continue;
                }
            };
            if let Some(why) = diverged(&b, &runs) {
                trouble += 1;
                println!("block {}: {why}", b.header.number);
                continue;
            }
            for o in runs.iter().flat_map(|r| &r.outcomes) {
                checked += 1;
                if json {
                    println!("{}", serde_json::json!({"block": b.header.number, "outcome": o}));
                    if o.violated() {
                        violated += 1;
                    }
                    continue;
                }
                let call = match (o.trigger.call_id, o.trigger.caller) {
                    (Some(id), Some(c)) => format!(" (call {id} from {c})"),
                    _ => String::new(),
                };
                let what = match &o.verdict {
                    Verdict::Held => "held".to_string(),
                    Verdict::Violated { reason } => {
                        violated += 1;
                        format!("VIOLATED: {reason}")
                    }
                    Verdict::OverBudget => {
                        trouble += 1;
                        format!("over its gas budget ({})", d.spec().gas_budget)
                    }
                    Verdict::Failed { reason } => {
                        trouble += 1;
                        format!("not run: {reason}")
                    }
                };
                println!(
                    "block {} tx {:#x}{call}: {} {} on {}: {what} (gas {})",
                    b.header.number, o.tx, o.assertion, o.function, o.adopter, o.gas_used
                );
                if o.violated() {
                    for r in &o.reads {
                        println!("    read at {}: {} {} = {}", r.fork, r.contract, r.what, r.value);
                    }
                }
            }
        }
    }
    eprintln!(
        "{blocks} blocks ({with_state} with recorded state): {checked} assertion runs, {violated} violated, {trouble} not judged"
    );
    if with_state == 0 {
        eprintln!("note: no block of {file} carries the state before it: record with `palisade record --config {}`", config.display());
    }
    Ok(if violated > 0 { ExitCode::from(EXIT_VIOLATED) } else { ExitCode::SUCCESS })
}
