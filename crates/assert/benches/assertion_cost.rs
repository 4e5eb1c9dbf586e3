//! What assertions add to a pending transaction's simulation, measured next to the simulation
//! itself in the same run.
//!
//! The defense scenario's vault (testdata/contracts/GuardedVault.json) with two depositors, on an
//! in-memory revm database that already holds every account and slot (a warm cache, as a
//! pending transaction's simulation has once the tip's state is loaded). Each sample is one
//! transaction, alternately the drain (`VaultDrainer.run`, which breaks both assertions) and a
//! depositor's redemption (which holds), measured three ways:
//!
//! - reference: revm alone executing it, no inspector (the floor for any simulator);
//! - the transaction under the assertion tracer, no assertion (what the simulation pays to
//!   know the calls and writes triggers look at);
//! - the transaction and both example assertions it triggers (`SharePriceAssertion` over the
//!   vault's three entry points, `OutflowBoundAssertion`), default gas budget (3,000,000).
//!
//! `cargo bench -p palisade-assert --bench assertion_cost` (`ASSERT_SAMPLES`, default 2000).

#[path = "../tests/support/mod.rs"]
mod support;

use alloy_primitives::{Address, B256, U256};
use palisade_assert::{check_tx, Prepared};
use revm::context::{BlockEnv, TxEnv};
use revm::database_interface::WrapDatabaseRef;
use revm::{Context, ExecuteEvm, MainBuilder, MainContext};
use std::sync::Arc;
use std::time::Instant;
use support::*;

fn pct(xs: &mut [f64], p: f64) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    let i = ((xs.len() as f64 - 1.0) * p).round() as usize;
    xs[i.min(xs.len() - 1)]
}

fn bare(c: &Chain, tx: &TxEnv) -> bool {
    let mut evm = Context::mainnet()
        .with_db(WrapDatabaseRef(&c.db))
        .with_block(BlockEnv::default())
        .with_cfg(Chain::cfg())
        .build_mainnet();
    evm.transact(tx.clone()).expect("executes").result.is_success()
}

fn checked(c: &Chain, tx: &TxEnv, a: &[Arc<Prepared>]) -> (bool, usize) {
    let r = check_tx(&c.db, &BlockEnv::default(), &Chain::cfg(), tx, B256::ZERO, a).expect("runs");
    (r.success, r.outcomes.iter().filter(|o| o.violated()).count())
}

fn main() {
    let samples: usize =
        std::env::var("ASSERT_SAMPLES").ok().and_then(|s| s.parse().ok()).unwrap_or(2000);
    let (mut c, vault, drainer) = vault_chain();
    let assertions = vault_assertions(vault);
    let depositor = Address::repeat_byte(0x03);
    let mut drain_data = sel("run(address)").to_vec();
    drain_data.extend(word(vault));
    let mut redeem_data = sel("redeem(uint256)").to_vec();
    redeem_data.extend(U256::from(ETH).to_be_bytes::<32>());
    let drain = c.tx(Address::repeat_byte(0x04), Some(drainer), drain_data, 0);
    let redeem = c.tx(depositor, Some(vault), redeem_data, 0);
    // Warm: every account and slot either transaction reads is in the database after this.
    for tx in [&drain, &redeem] {
        assert!(bare(&c, tx));
        let _ = checked(&c, tx, &assertions);
    }
    // What each says, once (the bench measures the real verdicts, not a shortcut).
    assert_eq!(checked(&c, &drain, &assertions), (true, 2), "the drain breaks both");
    assert_eq!(checked(&c, &redeem, &assertions), (true, 0), "the redemption breaks none");

    let (mut t_bare, mut t_traced, mut t_assert) = (Vec::new(), Vec::new(), Vec::new());
    let started = Instant::now();
    for i in 0..samples {
        let tx = if i % 2 == 0 { &drain } else { &redeem };
        let t = Instant::now();
        std::hint::black_box(bare(&c, tx));
        t_bare.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        std::hint::black_box(checked(&c, tx, &[]));
        t_traced.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        std::hint::black_box(checked(&c, tx, &assertions));
        t_assert.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let secs = started.elapsed().as_secs_f64();
    let (b50, b99) = (pct(&mut t_bare.clone(), 0.5), pct(&mut t_bare, 0.99));
    let (r50, r99) = (pct(&mut t_traced.clone(), 0.5), pct(&mut t_traced, 0.99));
    let (a50, a99) = (pct(&mut t_assert.clone(), 0.5), pct(&mut t_assert, 0.99));
    println!("{samples} transactions (drain and redemption alternately), warm in-memory state, {secs:.1} s");
    println!("| | p50 | p99 | p99 / revm alone |");
    println!("|---|---|---|---|");
    println!("| reference: revm alone, no inspector | {b50:.3} ms | {b99:.3} ms | 1.0x |");
    println!(
        "| the transaction under the assertion tracer | {r50:.3} ms | {r99:.3} ms | {:.1}x |",
        r99 / b99
    );
    println!(
        "| the transaction and its 2 assertions (budget 3,000,000 each) | {a50:.3} ms | {a99:.3} ms | {:.1}x |",
        a99 / b99
    );
    println!("goal: assertions per pending transaction p99 < 20 ms: {a99:.3} ms");
}
