//! Every pending-transaction detector passes the pending conformance laws
//! (`conformance::check_pending`), on real mainnet transactions fed as if pending: each with the
//! receipt and call tree the chain gave it standing in for its simulation, and priority fees
//! falling with the position in the block (as fee ordering would have placed them).
//! `simulation`'s run is on real revm simulations on anvil (`tests/sim.rs`).

use palisade_detect::pending::PendingDetector;
use palisade_detect::DetectorConfig;
use palisade_primitives::pending::{would_be_block, PendingTx, Simulation};
use palisade_primitives::{BlockData, BlockRef, Header, U256};
use palisade_testing::conformance::{check_pending, PendingInput};
use palisade_testing::fixtures;

fn pending(toml_src: &str) -> Box<dyn PendingDetector> {
    let cfg: DetectorConfig = toml::from_str(toml_src).unwrap();
    cfg.build_pending("mainnet", None).unwrap().expect("a pending detector")
}

/// A recorded block's transactions as pending ones, in the order given.
fn inputs(b: &BlockData, reverse: bool) -> Vec<PendingInput> {
    let parent = Header {
        number: b.header.number - 1,
        hash: b.header.parent_hash,
        base_fee_per_gas: b.header.base_fee_per_gas,
        ..Default::default()
    };
    let n = b.transactions.len() as u128;
    let mut out: Vec<PendingInput> = b
        .transactions
        .iter()
        .filter_map(|t| {
            let receipt =
                b.receipts.as_ref()?.iter().find(|r| r.transaction_index == Some(t.index))?;
            let fee = (n - t.index as u128) * 1_000_000_000;
            let tx = PendingTx {
                hash: t.hash?,
                from: t.from?,
                to: t.to,
                nonce: t.nonce.unwrap_or_default(),
                value: t.value.unwrap_or(U256::ZERO),
                input: t.input.clone().unwrap_or_default(),
                gas: t.gas.unwrap_or_default(),
                priority_fee: fee,
                max_fee: fee + 100_000_000_000,
                tx_type: t.tx_type.unwrap_or(2),
                authorizations: Vec::new(),
            };
            let frame = b.call_traces.as_ref().and_then(|cs| {
                cs.iter().find(|(h, _)| *h == Some(tx.hash)).map(|(_, f)| f.clone())
            });
            let sim = Simulation {
                state_block: BlockRef::maybe(parent.number, parent.hash),
                success: receipt.status.unwrap_or(true),
                error: None,
                gas_used: receipt.gas_used.unwrap_or_default(),
                touched: receipt.logs.iter().map(|l| l.address).collect(),
                balances: vec![],
                slots: vec![],
                views: vec![],
                exec_micros: 0,
                total_micros: 0,
                fetched: 0,
                assertions: vec![],
                assert_micros: 0,
            };
            let block = would_be_block(&parent, &tx, Some((&sim, receipt.logs.clone(), frame)));
            Some(PendingInput { tx, block, sim: Some(sim) })
        })
        .collect();
    if reverse {
        out.reverse();
    }
    out
}

#[test]
fn mempool_frontrun_obeys_the_laws_on_a_real_block_with_a_sandwich() {
    // ETL block 17173049 holds a Uniswap V2 sandwich; fed newest first (as a victim is seen
    // before the attacker who reacts to it), the front-run arrives after its victim with a
    // higher fee.
    let blocks = fixtures::blocks("mainnet/etl-17173049-17173050.jsonl.zst");
    let mut all = Vec::new();
    for b in &blocks {
        all.extend(inputs(b, true));
    }
    assert!(all.len() > 200, "{} transactions", all.len());
    let found = check_pending("mempool_frontrun", &|| pending("type = 'mempool_frontrun'"), &all);
    assert!(
        found.iter().any(|f| f.evidence["check"] == "pending_frontrun"),
        "the sandwich's front-run is seen: {:?}",
        found.iter().map(|f| &f.title).collect::<Vec<_>>()
    );
}

#[test]
fn admin_call_pending_obeys_the_laws_on_real_calls() {
    // Any USDC transfer() made as a watched "privileged" function: the pending path (calldata
    // and the call tree of each transaction) on the ETL blocks' real calls.
    let mut all = Vec::new();
    for b in &fixtures::blocks("mainnet/etl-17173049-17173050.jsonl.zst") {
        all.extend(inputs(b, false));
    }
    let cfg = "type = 'admin_call'\nname = 'a'\ncontracts = ['0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48']\nfunctions = ['transfer(address,uint256)']\nbuiltin_events = false";
    let found = check_pending("admin_call (pending)", &|| pending(cfg), &all);
    assert!(found.len() > 3, "{} findings", found.len());
    assert!(found.iter().all(|f| f.title.contains("in pending tx")), "{:?}", found[0].title);
    // With pending = false, there is no pending part.
    let off: DetectorConfig = toml::from_str(&format!("{cfg}\npending = false")).unwrap();
    assert!(off.build_pending("mainnet", None).unwrap().is_none());
}

#[test]
fn every_pending_detector_type_is_covered() {
    for info in palisade_detect::catalog() {
        let cfg: Result<DetectorConfig, _> = toml::from_str(&format!(
            "type = '{}'\nname = 'x'\ncontracts = ['0x0000000000000000000000000000000000000001']",
            info.kind
        ));
        if let Ok(c) = cfg {
            if c.pending_only() {
                assert!(
                    ["mempool_frontrun", "simulation"].contains(&info.kind),
                    "{} has no pending conformance run",
                    info.kind
                );
            }
        }
    }
}
