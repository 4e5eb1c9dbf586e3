//! `palisade verify`: every check the recorded data allows, block by block.

use crate::EXIT_USAGE;
use palisade_primitives::RecordedBlock;
use palisade_verify::verify_block;
use rayon::prelude::*;
use serde_json::json;
use std::collections::BTreeMap;
use std::process::ExitCode;

pub(crate) fn cmd(file: &str, as_json: bool) -> eyre::Result<ExitCode> {
    let mut reader = match palisade_source::replay::open(file) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(EXIT_USAGE));
        }
    };
    // check -> (passed, failed, unchecked)
    let mut totals: Totals = BTreeMap::new();
    let mut reasons: BTreeMap<(&'static str, String), u64> = BTreeMap::new();
    let (mut blocks, mut failures) = (0u64, 0u64);
    // Blocks are verified in batches spread over the cores; reports come out in file order.
    let mut done = false;
    while !done {
        let mut batch = Vec::with_capacity(64);
        while batch.len() < 64 {
            match reader.next_raw() {
                None => {
                    done = true;
                    break;
                }
                Some(Err(e)) => {
                    eprintln!("error: {e}");
                    return Ok(ExitCode::FAILURE);
                }
                Some(Ok((line, text))) => match RecordedBlock::from_json_line(text) {
                    Ok(r) => batch.push((line, r)),
                    Err(e) => {
                        eprintln!("error: {file}:{line}: {e}");
                        return Ok(ExitCode::FAILURE);
                    }
                },
            }
        }
        let reports: Vec<_> = batch.par_iter().map(|(_, rec)| verify_block(rec)).collect();
        for ((line, _), r) in batch.iter().zip(reports) {
            report(&r, *line, as_json, &mut totals, &mut reasons);
            blocks += 1;
            failures += r.failed.len() as u64;
        }
    }
    eprintln!("verified {blocks} blocks: {failures} failed checks");
    for (c, (p, f, u)) in &totals {
        eprintln!("  {c:<18} passed {p:>6}  failed {f:>4}  not checked {u:>6}");
    }
    for ((c, why), n) in &reasons {
        eprintln!("  not checked: {c} in {n} blocks: {why}");
    }
    Ok(if failures > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

type Totals = BTreeMap<&'static str, (u64, u64, u64)>;

fn report(
    r: &palisade_verify::BlockReport,
    line: u64,
    as_json: bool,
    totals: &mut Totals,
    reasons: &mut BTreeMap<(&'static str, String), u64>,
) {
    for c in &r.passed {
        totals.entry(c.as_str()).or_default().0 += 1;
    }
    for e in &r.failed {
        totals.entry(e.check()).or_default().1 += 1;
    }
    for (c, why) in &r.unchecked {
        totals.entry(c.as_str()).or_default().2 += 1;
        *reasons.entry((c.as_str(), why.clone())).or_default() += 1;
    }
    if as_json {
        outln!(
            "{}",
            json!({
                "block_number": r.number,
                "line": line,
                "passed": r.passed.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
                "failed": r.failed.iter().map(|e| json!({"check": e.check(), "message": e.to_string()})).collect::<Vec<_>>(),
                "unchecked": r.unchecked.iter().map(|(c, why)| json!({"check": c.as_str(), "reason": why})).collect::<Vec<_>>(),
                "notes": r.notes,
            })
        );
    } else {
        let n = r.number.map_or("?".to_string(), |n| n.to_string());
        let passed: Vec<_> = r.passed.iter().map(|c| c.as_str()).collect();
        outln!(
            "block {n}: {} passed{}",
            passed.len(),
            if passed.is_empty() { String::new() } else { format!(" ({})", passed.join(", ")) }
        );
        for e in &r.failed {
            outln!("  FAILED {}: {e}", e.check());
        }
        for note in &r.notes {
            outln!("  note: {note}");
        }
    }
}
