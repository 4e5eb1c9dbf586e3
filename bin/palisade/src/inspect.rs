//! `palisade inspect`: the DeFi actions of recorded blocks, or of one block fetched from a node,
//! transaction by transaction, for incident forensics.

use crate::EXIT_USAGE;
use palisade_defi::{
    classify, compose, jits, sandwiches, BlockActions, Jit, Mev, Sandwich, TxActions,
};
use palisade_primitives::{Address, BlockData};
use palisade_source::evm_rpc::{EndpointConfig, Enrich, RpcClient};
use serde_json::json;
use std::fmt::Write as _;
use std::process::ExitCode;

/// A raw amount of token `a`, with the token, and in its units beside it when the token is
/// well known: `26503300291 USDT (26503.300291)`.
fn amount(raw: impl std::fmt::Display, a: &Address) -> String {
    let raw = raw.to_string();
    match palisade_defi::units::token(a) {
        Some(t) => {
            format!("{raw} {} ({})", t.symbol, palisade_defi::units::scaled(&raw, t.decimals))
        }
        None => format!("{raw} {a:#x}"),
    }
}

fn at(p: &palisade_defi::Position) -> String {
    match p {
        palisade_defi::Position::Trace { trace_address } => format!(
            "trace [{}]",
            trace_address.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
        ),
        palisade_defi::Position::Log { log_index } => format!("log {log_index}"),
    }
}

fn print_tx(out: &mut String, t: &TxActions) {
    let _ = writeln!(
        out,
        "  tx {} {}{}{}",
        t.index,
        t.hash.map(|h| format!("{h:#x}")).unwrap_or_else(|| "(no hash)".into()),
        t.from.map(|f| format!(" from {f:#x}")).unwrap_or_default(),
        if t.reverted { " REVERTED" } else { "" }
    );
    for f in &t.flash_loans {
        let _ = writeln!(
            out,
            "    flash loan   {:?} lender {:#x} -> {:#x}: {}{}  ({})",
            f.protocol,
            f.lender,
            f.receiver,
            amount(f.amount, &f.token),
            if f.reverted { " reverted" } else { "" },
            at(&f.at)
        );
    }
    for (i, s) in t.swaps.iter().enumerate() {
        let _ = writeln!(
            out,
            "    swap #{i:<3}     {:?} pool {:#x}: {} -> {}  from {:#x} to {:#x}{}  ({})",
            s.protocol,
            s.pool,
            amount(s.amount_in, &s.token_in),
            amount(s.amount_out, &s.token_out),
            s.from,
            s.to,
            if s.reverted { " reverted" } else { "" },
            at(&s.at)
        );
    }
    for l in &t.liquidations {
        let _ = writeln!(
        out,
            "    liquidation  {:?} market {:#x}: user {:#x} liquidated by {:#x}; repaid {}, received {}{}  ({})",
            l.protocol,
            l.market,
            l.liquidated_user,
            l.liquidator,
            amount(l.debt_amount, &l.debt_token),
            amount(l.received_amount, &l.received_token),
            if l.reverted { " reverted" } else { "" },
            at(&l.at)
        );
    }
    for l in &t.liquidity {
        let _ = writeln!(
            out,
            "    liquidity    {:?} {:?} pool {:#x} owner {:#x} ticks [{}, {}] liquidity {}: token0 {}, token1 {}{}  ({})",
            l.protocol,
            l.kind,
            l.pool,
            l.owner,
            l.tick_lower,
            l.tick_upper,
            l.liquidity,
            l.amount0,
            l.amount1,
            if l.reverted { " reverted" } else { "" },
            at(&l.at)
        );
    }
    for a in &t.arbitrages {
        let _ = writeln!(
            out,
            "    arbitrage    {:?} account {:#x}: {} -> {} (profit {}) over swaps {:?}{}",
            a.kind,
            a.account,
            a.start_amount,
            amount(a.end_amount, &a.profit_token),
            amount(a.profit, &a.profit_token),
            a.swaps,
            if a.reverted { " REVERTED" } else { "" }
        );
    }
}

fn print_sandwich(out: &mut String, s: &Sandwich, b: &BlockActions) {
    let hash = |tx: u64| {
        b.txs
            .iter()
            .find(|t| t.index == tx)
            .and_then(|t| t.hash)
            .map(|h| format!("{h:#.8}"))
            .unwrap_or_default()
    };
    let _ = writeln!(
        out,
        "  sandwich on pool {:#x} by {:#x}: front-run tx {}, victims {}, back-run tx {} {}; profit {} and {}{}",
        s.pool,
        s.attacker,
        s.frontruns.iter().map(|f| format!("{} {}", f.tx, hash(f.tx))).collect::<Vec<_>>().join(" + "),
        s.victims.iter().map(|v| format!("tx {} {}", v.tx, hash(v.tx))).collect::<Vec<_>>().join(", "),
        s.backrun.tx,
        hash(s.backrun.tx),
        amount(s.profit, &s.profit_token),
        amount(s.other_profit, &s.other_token),
        s.victim_loss.map(|l| format!("; victims got {l} less")).unwrap_or_default()
    );
}

/// A JIT position's figures per token, in units when the pool's tokens are known.
fn jit_amounts(j: &Jit, v: [impl std::fmt::Display; 2]) -> String {
    match j.tokens {
        Some([t0, t1]) => format!("{} and {}", amount(&v[0], &t0), amount(&v[1], &t1)),
        None => format!("token0 {}, token1 {}", v[0], v[1]),
    }
}

fn print_jit(out: &mut String, j: &Jit) {
    let _ = writeln!(
        out,
        "  jit liquidity on pool {:#x} by {:#x}: added tx {}, victims {:?}, removed tx {}; ticks [{}, {}]; added {}; collected {}; fees {}; net {}",
        j.pool,
        j.owner,
        j.mint_tx,
        j.victims,
        j.burn_tx,
        j.tick_lower,
        j.tick_upper,
        jit_amounts(j, j.added),
        jit_amounts(j, j.collected),
        jit_amounts(j, j.fees),
        jit_amounts(j, j.profit)
    );
}

/// One line per composed MEV finding (each transaction in at most one).
fn print_mev(out: &mut String, m: &Mev, b: &BlockActions, sw: &[Sandwich], js: &[Jit]) {
    let tx = |i: u64| b.txs.iter().find(|t| t.index == i);
    match m {
        Mev::JitSandwich { sandwich, jit, txs } => {
            let (s, j) = (&sw[*sandwich], &js[*jit]);
            let _ = writeln!(
                out,
                "  mev jit sandwich txs {txs:?} by {:#x}: {} victim swaps, swap profit {}, position net {}",
                s.attacker,
                s.victims.len(),
                amount(s.profit, &s.profit_token),
                jit_amounts(j, j.profit)
            );
        }
        Mev::Jit { jit, txs } => {
            let j = &js[*jit];
            let _ = writeln!(
                out,
                "  mev jit         txs {txs:?} by {:#x}: {} victims, fees {}, net {}",
                j.owner,
                j.victims.len(),
                jit_amounts(j, j.fees),
                jit_amounts(j, j.profit)
            );
        }
        Mev::Sandwich { sandwich, txs } => {
            let s = &sw[*sandwich];
            let _ = writeln!(
                out,
                "  mev sandwich    txs {txs:?} by {:#x}: {} victim swaps, profit {}",
                s.attacker,
                s.victims.len(),
                amount(s.profit, &s.profit_token)
            );
        }
        Mev::Liquidation { tx: i, liquidations } => {
            for g in liquidations {
                let Some(l) = tx(*i).and_then(|t| t.liquidations.get(g.index)) else { continue };
                let _ = writeln!(
                    out,
                    "  mev liquidation tx {i} by {:#x}: repaid {}, received {}; profit {}",
                    l.liquidator,
                    amount(l.debt_amount, &l.debt_token),
                    amount(l.received_amount, &l.received_token),
                    g.profit
                        .map(|p| amount(p.amount, &p.token))
                        .unwrap_or_else(|| "not in one token (needs prices)".into())
                );
            }
        }
        Mev::Arbitrage { tx: i, arbitrages } => {
            for a in arbitrages.iter().filter_map(|k| tx(*i).and_then(|t| t.arbitrages.get(*k))) {
                let _ = writeln!(
                    out,
                    "  mev arbitrage   tx {i} by {:#x}: {:?}, {} swaps, profit {}",
                    a.account,
                    a.kind,
                    a.swaps.len(),
                    amount(a.profit, &a.profit_token)
                );
            }
        }
    }
}

/// CEX quotes to mark swaps out against (`--cex-quotes`).
pub(crate) struct Cex {
    /// The quotes.
    pub(crate) quotes: palisade_defi::Quotes,
    /// The smallest profit reported (dollars).
    pub(crate) min_profit: f64,
}

/// What `inspect` says of one block.
fn report(b: &BlockData, as_json: bool, cex: Option<&Cex>) -> String {
    let mut out = String::new();
    let out = &mut out;
    let actions = classify(b);
    let sw = sandwiches(&actions);
    let js = jits(&actions);
    let mev = compose(&actions, &sw, &js);
    let cex_dex = match (cex, b.header.timestamp) {
        (Some(c), Some(ts)) => {
            let owned: Vec<u64> = mev.iter().flat_map(Mev::txs).collect();
            Some(palisade_defi::cex_dex(&actions, ts, &c.quotes, &owned, c.min_profit))
        }
        _ => None,
    };
    if as_json {
        /// One block's report (serialized directly: a value too large for a JSON number is
        /// written as a string by its type, never a panic).
        #[derive(serde::Serialize)]
        struct Report<'a> {
            block_number: u64,
            block_hash: Option<palisade_primitives::B256>,
            transactions: Vec<&'a TxActions>,
            sandwiches: &'a [Sandwich],
            jits: &'a [Jit],
            mev: &'a [Mev],
            cex_dex: Option<&'a [palisade_defi::CexDex]>,
        }
        let r = Report {
            block_number: actions.number,
            block_hash: b.header.hash,
            transactions: actions.txs.iter().filter(|t| !t.is_empty()).collect(),
            sandwiches: &sw,
            jits: &js,
            mev: &mev,
            cex_dex: cex_dex.as_deref(),
        };
        let line = serde_json::to_string(&r).unwrap_or_else(|e| {
            json!({"block_number": actions.number, "error": e.to_string()}).to_string()
        });
        let _ = writeln!(out, "{line}");
        return std::mem::take(out);
    }
    let count = |f: fn(&TxActions) -> usize| actions.txs.iter().map(f).sum::<usize>();
    let _ = writeln!(
        out,
        "block {}: {} swaps, {} arbitrages, {} liquidations, {} flash loans, {} sandwiches, {} jit{}",
        actions.number,
        count(|t| t.swaps.len()),
        count(|t| t.arbitrages.len()),
        count(|t| t.liquidations.len()),
        count(|t| t.flash_loans.len()),
        sw.len(),
        js.len(),
        match (b.receipts.is_some(), b.traces.is_some() || b.call_traces.is_some()) {
            (true, _) => " (from logs)",
            (false, true) => " (from call traces)",
            (false, false) => " (no receipts and no traces: nothing to decode)",
        }
    );
    for t in actions.txs.iter().filter(|t| {
        !t.swaps.is_empty()
            || !t.liquidations.is_empty()
            || !t.flash_loans.is_empty()
            || !t.liquidity.is_empty()
    }) {
        print_tx(out, t);
    }
    for s in &sw {
        print_sandwich(out, s, &actions);
    }
    for j in &js {
        print_jit(out, j);
    }
    for m in &mev {
        print_mev(out, m, &actions, &sw, &js);
    }
    if cex.is_some() && b.header.timestamp.is_none() {
        let _ = writeln!(out, "  cex-dex: the block has no timestamp to take quotes at");
    }
    for c in cex_dex.iter().flatten() {
        let _ = writeln!(
            out,
            "  mev cex-dex     tx {} swaps {:?}: received ${:.2} at the CEX bid, paid ${:.2} at the ask; profit ${:.2} before fees and gas",
            c.tx, c.swaps, c.received_usd, c.paid_usd, c.profit_usd
        );
    }
    std::mem::take(out)
}

pub(crate) async fn cmd(
    file: Option<String>,
    rpc: Option<String>,
    block: Option<u64>,
    as_json: bool,
    workers: usize,
    cex: Option<std::sync::Arc<Cex>>,
) -> eyre::Result<ExitCode> {
    match (file, rpc, block) {
        (Some(f), None, None) => {
            let reader = match palisade_source::replay::open(&f) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("error: {e}");
                    return Ok(ExitCode::from(EXIT_USAGE));
                }
            };
            // Blocks are decoded and classified ahead on `workers` threads; printed in order.
            let reports = palisade_node::replay::map_ahead(reader, workers, move |r| {
                r.map(|rb| report(&rb.block, as_json, cex.as_deref()))
            });
            for r in reports {
                match r {
                    Ok(text) => outln!("{}", text.strip_suffix('\n').unwrap_or(&text)),
                    Err(e) => {
                        eprintln!("error: {e}");
                        return Ok(ExitCode::FAILURE);
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        (None, Some(url), Some(n)) => {
            let node = match RpcClient::new(&EndpointConfig::http(&url), &Default::default()) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("error: --rpc: {e}");
                    return Ok(ExitCode::from(EXIT_USAGE));
                }
            };
            let rec = node
                .block_by_number(n, Enrich { receipts: true, traces: true })
                .await?
                .ok_or_else(|| eyre::eyre!("the node has no block {n}"))?;
            let text = report(&BlockData::from_recorded(rec)?, as_json, cex.as_deref());
            outln!("{}", text.strip_suffix('\n').unwrap_or(&text));
            Ok(ExitCode::SUCCESS)
        }
        _ => {
            eprintln!("error: give a recorded FILE, or --rpc URL and --block N");
            Ok(ExitCode::from(EXIT_USAGE))
        }
    }
}
