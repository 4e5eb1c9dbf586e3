//! Every detector passes the conformance suite, on real mainnet blocks.

use palisade_detect::{Detector, DetectorConfig};
use palisade_testing::{conformance, fixtures};

fn detector(toml_src: &str) -> Box<dyn Detector> {
    let cfg: DetectorConfig = toml::from_str(toml_src).unwrap();
    cfg.build("mainnet", None, &Default::default()).unwrap()
}

/// Every detector type, configured so it has something to say on the bundled blocks.
const CONFIGS: &[(&str, &str)] = &[
    ("chain_health", "type = 'chain_health'\nwindow = 4\nexpected_block_time_secs = 12"),
    ("rule (calls at depth)", "type = 'rule'\nname = 'liq'\nfunctions = [{ signature = 'liquidationCall(address a, address b, address user, uint256 debt, bool r)' }, { signature = 'liquidateBorrow(address borrower, uint256 repay, address c)' }]"),
    ("rule (events)", "type = 'rule'\nname = 'usdc'\naddresses = ['0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48']\nevents = [{ signature = 'Transfer(address indexed from, address indexed to, uint256 value)', expression = 'value > 1000000000' }]"),
    ("rule (transactions)", "type = 'rule'\nname = 'tx'\ntransaction = { status = 'success', expression = 'tx.value > 1000000000000000000' }"),
];

/// Detectors that need state proofs, on blocks recorded from a real anvil with `eth_getProof` of
/// the watched accounts (scripts/record_fixtures.sh): a vault, a proxy whose EIP-1967
/// implementation changes without an event, and an address where code is deployed.
const PROVEN_CONFIGS: &[(&str, &str)] = &[(
    "storage_watch",
    "type = 'storage_watch'\nname = 'w'\nslots = [{ contract = '0x5fbdb2315678afecb367f032d93f642f64180aa3', slot = '0', label = 'owner' }, { contract = '0xe7f1725e7734ce288f8367e1bb143e90bb3f0512', slot = 'eip1967.implementation' }]\naccounts = [{ address = '0xe7f1725e7734ce288f8367e1bb143e90bb3f0512' }, { address = '0xcf7ed3acca5a467e9e704c703e8d87f634fb0fc9' }]",
)];

#[test]
fn every_detector_type_is_covered() {
    for info in palisade_detect::CATALOG {
        assert!(
            CONFIGS.iter().chain(PROVEN_CONFIGS).any(|(n, _)| n.starts_with(info.kind)),
            "{} has no conformance run",
            info.kind
        );
    }
}

#[test]
fn detectors_obey_the_laws_on_real_blocks() {
    let blocks = fixtures::all_mainnet();
    // A 23-block chain of real blocks; the fork replaces the last 8 with other real blocks
    // (reversed, so content and timestamps differ).
    let chain = fixtures::chain(1000, 1, &blocks);
    let fork_at = chain.len() - 8;
    let mut alt: Vec<_> = blocks[fork_at..].to_vec();
    alt.reverse();
    alt.push(blocks[0].clone());
    let fork = fixtures::chain_after(
        1000 + fork_at as u64,
        chain[fork_at - 1].header.hash.unwrap(),
        2,
        &alt,
    );
    for (name, src) in CONFIGS {
        let make = || detector(src);
        conformance::check(name, &make, &chain, &fork, fork_at);
        // The fixture must exercise the detector: it finds something on this chain.
        let mut d = detector(src);
        let mut out = palisade_primitives::Findings::new();
        d.commit(&palisade_primitives::ChainSegment::new(chain.clone()).unwrap(), &mut out)
            .unwrap();
        assert!(
            !out.emitted().is_empty(),
            "{name}: the fixture gives no findings, so the laws are not exercised"
        );
    }
}

#[test]
fn detectors_that_read_proven_state_obey_the_laws_on_a_real_fork() {
    let chain: Vec<_> = fixtures::blocks("anvil/vault-chain.jsonl.zst")
        .into_iter()
        .map(std::sync::Arc::new)
        .collect();
    let fork: Vec<_> = fixtures::blocks("anvil/vault-fork.jsonl.zst")
        .into_iter()
        .map(std::sync::Arc::new)
        .collect();
    // The fork replaces the chain from its first block on (anvil_reorg).
    let fork_at = chain.iter().position(|b| b.header.number == fork[0].header.number).unwrap();
    assert_eq!(fork[0].header.parent_hash, chain[fork_at - 1].header.hash);
    for (name, src) in PROVEN_CONFIGS {
        let make = || detector(src);
        conformance::check(name, &make, &chain, &fork, fork_at);
        let mut d = detector(src);
        let mut out = palisade_primitives::Findings::new();
        d.commit(&palisade_primitives::ChainSegment::new(chain.clone()).unwrap(), &mut out)
            .unwrap();
        assert!(!out.emitted().is_empty(), "{name}: the fixture gives no findings");
    }
}
