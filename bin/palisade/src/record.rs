//! `palisade record`.

use crate::EXIT_USAGE;
use eyre::WrapErr;
use indicatif::{ProgressBar, ProgressStyle};
use palisade_source::evm_rpc::{EndpointConfig, Enrich, RpcClient};
use std::io::{IsTerminal, Write};
use std::process::ExitCode;

pub(crate) async fn cmd(
    rpc: &str,
    from: u64,
    to: u64,
    output: &str,
    enrich: Enrich,
    proofs: &[String],
    needs: &palisade_detect::Needs,
) -> eyre::Result<ExitCode> {
    if to < from {
        eprintln!("error: --to ({to}) is below --from ({from})");
        return Ok(ExitCode::from(EXIT_USAGE));
    }
    let accounts = match parse_proofs(proofs) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: --proof: {e}");
            return Ok(ExitCode::from(EXIT_USAGE));
        }
    };
    let eps = match RpcClient::new(&EndpointConfig::http(rpc), &Default::default()) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: --rpc: {e}");
            return Ok(ExitCode::from(EXIT_USAGE));
        }
    };
    let raw: Box<dyn Write> = if output == "-" {
        Box::new(std::io::stdout().lock())
    } else {
        Box::new(std::fs::File::create(output).wrap_err_with(|| format!("creating {output}"))?)
    };
    let mut out: Box<dyn Write> = if output.ends_with(".zst") {
        Box::new(zstd::stream::write::Encoder::new(raw, 9)?.auto_finish())
    } else {
        Box::new(std::io::BufWriter::new(raw))
    };
    let bar = if std::io::stderr().is_terminal() && output != "-" {
        let b = ProgressBar::new(to - from + 1);
        b.set_style(
            ProgressStyle::with_template(
                "{bar:40} {pos}/{len} blocks [{elapsed_precise}, eta {eta}]",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Some(b)
    } else {
        None
    };
    let mut with_traces = 0u64;
    for n in from..=to {
        let mut rec = eps
            .block_by_number(n, enrich)
            .await
            .wrap_err_with(|| format!("fetching block {n}"))?
            .ok_or_else(|| eyre::eyre!("the node has no block {n}"))?;
        let hash = palisade_primitives::quantity::b256(&rec.block["hash"])
            .map_err(|e| eyre::eyre!("block {n}: {e}"))?;
        // The --proof accounts and the detectors' watched accounts, slots merged per account.
        let mut wanted: std::collections::BTreeMap<_, Vec<_>> =
            needs.accounts_at(n).into_iter().collect();
        for (a, slots) in &accounts {
            let e = wanted.entry(*a).or_default();
            e.extend(slots.iter().filter(|s| !e.contains(s)).copied().collect::<Vec<_>>());
        }
        // New contracts' code, with account proofs that tie it to the state root.
        let created = if needs.code { rec.created_contracts() } else { Vec::new() };
        for a in &created {
            wanted.entry(*a).or_default();
        }
        let wanted: Vec<_> = wanted.into_iter().collect();
        if !wanted.is_empty() {
            rec.proofs = eps
                .proofs(&wanted, hash)
                .await
                .wrap_err_with(|| format!("fetching proofs at block {n}"))?;
        }
        let calls = needs.calls_at(n);
        if !calls.is_empty() {
            rec.calls = eps
                .view_calls(&calls, hash)
                .await
                .wrap_err_with(|| format!("making view calls at block {n}"))?;
        }
        if !created.is_empty() {
            rec.code = eps
                .code_at(&created, hash)
                .await
                .wrap_err_with(|| format!("fetching new contracts' code at block {n}"))?;
        }
        if !rec.traces.is_null() || !rec.call_traces.is_null() {
            with_traces += 1;
        }
        out.write_all(rec.to_json_line().as_bytes())?;
        out.write_all(b"\n")?;
        if let Some(b) = &bar {
            b.inc(1);
        }
    }
    out.flush()?;
    drop(out);
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    eprintln!("recorded {} blocks ({} with traces) to {output}", to - from + 1, with_traces);
    Ok(ExitCode::SUCCESS)
}

/// `ADDRESS[:SLOT,SLOT...]` entries, slots in the `storage_watch` syntax.
fn parse_proofs(
    args: &[String],
) -> Result<Vec<(palisade_primitives::Address, Vec<palisade_primitives::B256>)>, String> {
    args.iter()
        .map(|a| {
            let (addr, slots) = a.split_once(':').unwrap_or((a, ""));
            let addr = addr.parse().map_err(|e| format!("{addr:?}: {e}"))?;
            let slots = slots
                .split(',')
                .filter(|s| !s.is_empty())
                .map(palisade_detect::detectors::storage_watch::parse_slot)
                .collect::<Result<Vec<_>, _>>()?;
            Ok((addr, slots))
        })
        .collect()
}
