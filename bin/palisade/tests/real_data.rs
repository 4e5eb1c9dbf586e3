//! Detectors on real mainnet blocks, checked against answers that do not come from Palisade:
//! mev-inspect-py's asserted liquidations, and ERC-20 transfers counted directly from the raw
//! receipts' logs.

use palisade_detect::DetectorConfig;
use palisade_primitives::{ChainEvent, ChainSegment, Findings, B256, U256};
use palisade_testing::fixtures;
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::Arc;

fn run(cfg: &str, blocks: &[palisade_primitives::BlockData]) -> Vec<palisade_primitives::Finding> {
    let c: DetectorConfig = toml::from_str(cfg).unwrap();
    let mut d = c.build("mainnet", None, &Default::default()).unwrap();
    let mut out = Findings::new();
    for b in blocks {
        let ev = ChainEvent::Committed { new: Arc::new(ChainSegment::single(Arc::new(b.clone()))) };
        palisade_detect::drive(d.as_mut(), &ev, &mut out).unwrap();
    }
    out.take().0
}

#[test]
fn liquidation_rule_finds_every_liquidation_mev_inspect_asserts_at_its_depth() {
    let blocks = fixtures::blocks("mainnet/mev-inspect-20.jsonl.zst");
    let cfg = "type = 'rule'\nname = 'liq'\nfunctions = [\
        { signature = 'liquidationCall(address collateral, address debt, address user, uint256 debtToCover, bool receiveAToken)' },\
        { signature = 'liquidateBorrow(address borrower, uint256 repayAmount, address cTokenCollateral)' },\
        { signature = 'liquidateBorrow(address borrower, address cTokenCollateral)' }]";
    let found = run(cfg, &blocks);
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures::testdata(
            "mainnet/mev-inspect-expected-liquidations.json",
        ))
        .unwrap(),
    )
    .unwrap();
    let expected = expected["liquidations"].as_array().unwrap();
    assert_eq!(expected.len(), 10);
    for e in expected {
        let tx: B256 = e["transaction_hash"].as_str().unwrap().parse().unwrap();
        let depth = e["trace_address"].as_array().unwrap().len();
        let f = found
            .iter()
            .find(|f| f.tx_hashes.contains(&tx))
            .unwrap_or_else(|| panic!("liquidation {tx} ({}) not found", e["protocol"]));
        assert_eq!(f.anchor.number, e["block_number"].as_u64().unwrap());
        let matched = f.evidence["matched"].as_array().unwrap();
        assert!(
            matched.iter().any(|m| m["depth"] == depth),
            "{tx}: expected a call at depth {depth}, got {matched:?}"
        );
        // The liquidated user mev-inspect names is the decoded `user`/`borrower` argument.
        let user = e["liquidated_user"].as_str().unwrap().to_lowercase();
        assert!(
            matched.iter().any(|m| {
                let a = &m["args"];
                a.get("user")
                    .or_else(|| a.get("borrower"))
                    .and_then(Value::as_str)
                    .map(str::to_lowercase)
                    == Some(user.clone())
            }),
            "{tx}: liquidated user {user} not among the decoded arguments {matched:?}"
        );
    }
    // mev-inspect lists two liquidations in 0xf687...: both calls are in one finding.
    let two = found.iter().find(|f| f.tx_hashes[0].to_string().starts_with("0xf687fedb")).unwrap();
    assert_eq!(two.evidence["matched"].as_array().unwrap().len(), 2);
}

#[test]
fn transfer_rule_agrees_with_a_direct_count_of_the_logs() {
    let usdc: palisade_primitives::Address =
        "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48".parse().unwrap();
    let topic0: B256 =
        "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef".parse().unwrap();
    let threshold = U256::from(50_000_000_000u64); // 50,000 USDC
    let mut blocks = fixtures::blocks("mainnet/etl-17173049-17173050.jsonl.zst");
    blocks.extend(fixtures::blocks("mainnet/helios-21925176.jsonl.zst"));
    // The oracle: walk the logs by hand.
    let mut expected = BTreeSet::new();
    for b in &blocks {
        for (i, r) in b.receipts.as_ref().unwrap().iter().enumerate() {
            for l in &r.logs {
                if l.address == usdc
                    && l.topics.len() == 3
                    && l.topics[0] == topic0
                    && U256::from_be_slice(&l.data) >= threshold
                {
                    expected.insert((b.header.number, i as u64));
                }
            }
        }
    }
    assert!(expected.len() >= 2, "the fixture has large USDC transfers");
    let cfg = "type = 'rule'\nname = 'usdc'\naddresses = ['0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48']\nevents = [{ signature = 'Transfer(address indexed from, address indexed to, uint256 value)', expression = 'value >= 50_000_000000' }]";
    let got: BTreeSet<(u64, u64)> = run(cfg, &blocks)
        .iter()
        .map(|f| (f.anchor.number, f.evidence["tx_index"].as_u64().unwrap()))
        .collect();
    assert_eq!(got, expected);
}

#[test]
fn chain_health_is_quiet_on_normal_consecutive_mainnet_blocks() {
    // 17173049 -> 17173050 is a normal 12 s slot: no finding, and a base-fee move within 12.5 %.
    let blocks = fixtures::blocks("mainnet/etl-17173049-17173050.jsonl.zst");
    let f = run("type = 'chain_health'", &blocks);
    assert!(f.is_empty(), "{f:?}");
    // The same two blocks with the second's base fee raised by 20 %: beyond EIP-1559's bound.
    let mut bad = blocks.clone();
    let bf = bad[1].header.base_fee_per_gas.unwrap();
    bad[1].header.base_fee_per_gas = Some(bad[0].header.base_fee_per_gas.unwrap() * 6 / 5);
    assert_ne!(bf, bad[1].header.base_fee_per_gas.unwrap());
    let f = run("type = 'chain_health'", &bad);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].evidence["check"], "base_fee_bound");
}

/// Storage watches on blocks recorded from a real anvil with proofs (scripts/record_fixtures.sh):
/// each change the script made by a transaction is found at its block with its old and new
/// values, and the values agree with the proofs' own fields read here directly.
#[test]
fn storage_watch_finds_every_change_the_recorded_transactions_made() {
    let blocks = fixtures::blocks("anvil/vault-chain.jsonl.zst");
    let (vault, proxy, future) = (
        "0x5fbdb2315678afecb367f032d93f642f64180aa3",
        "0xe7f1725e7734ce288f8367e1bb143e90bb3f0512",
        "0xcf7ed3acca5a467e9e704c703e8d87f634fb0fc9",
    );
    let cfg = format!(
        "type = 'storage_watch'\nname = 'w'\nslots = [{{ contract = '{vault}', slot = '0', label = 'owner' }}, {{ contract = '{proxy}', slot = 'eip1967.implementation', label = 'implementation' }}]\naccounts = [{{ address = '{proxy}' }}, {{ address = '{future}', balance = false }}]"
    );
    let found = run(&cfg, &blocks);
    let got: Vec<(u64, String)> = found
        .iter()
        .map(|f| (f.anchor.number, f.evidence["check"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(
        got,
        vec![
            // Block 2 deploys the proxy: its implementation slot is set, its code appears.
            (2, "storage_slot".to_string()),
            (2, "code".to_string()),
            (5, "balance".to_string()),
            (7, "storage_slot".to_string()),
            (9, "storage_slot".to_string()),
            (11, "code".to_string())
        ],
        "{:?}",
        found.iter().map(|f| &f.title).collect::<Vec<_>>()
    );
    // Old and new values, read from the proofs directly.
    let account = |n: u64, a: &str| -> palisade_primitives::AccountState {
        let b = blocks.iter().find(|b| b.header.number == n).unwrap();
        b.state.as_ref().unwrap().iter().find(|s| format!("{:#x}", s.address) == a).unwrap().clone()
    };
    assert_eq!(found[0].evidence["old_address"], "0x0000000000000000000000000000000000000000");
    assert_eq!(
        found[0].evidence["new_address"], vault,
        "the proxy is deployed pointing at the vault"
    );
    let found = &found[2..];
    assert_eq!(found[0].evidence["old"], account(4, proxy).balance.to_string());
    assert_eq!(found[0].evidence["new"], account(5, proxy).balance.to_string());
    assert_eq!(found[0].evidence["new"], "1000000000000000000", "the script sent 1 ether");
    let impl_slot: B256 =
        "0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc".parse().unwrap();
    assert_eq!(
        found[1].evidence["old_address"], vault,
        "the proxy was deployed pointing at the vault"
    );
    assert_eq!(found[1].evidence["new_address"], "0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc");
    assert_eq!(
        found[1].evidence["new"].as_str().unwrap().parse::<B256>().unwrap(),
        B256::from(account(7, proxy).slot(&impl_slot).unwrap())
    );
    assert!(
        blocks[6].receipts.as_ref().unwrap().iter().all(|r| r.logs.is_empty()),
        "the upgrade emitted no event"
    );
    assert_eq!(found[2].evidence["old_address"], "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266");
    assert_eq!(found[2].evidence["new_address"], "0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc");
    assert_eq!(
        found[3].evidence["old"],
        "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470",
        "no code before"
    );
    assert!(found[3].title.contains("Code deployed"), "{}", found[3].title);
    let _ = U256::ZERO;
}
