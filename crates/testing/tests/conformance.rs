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
    ("sandwich", "type = 'sandwich'"),
    // Short histories and no score floor, so that these 23 blocks are judged at all.
    ("anomaly", "type = 'anomaly'\nmin_history = 5\nmin_score = 0.0\nlevel = '10%'"),
    // The helios block's OwnershipTransferred.
    ("admin_call", "type = 'admin_call'\nname = 'a'\ncontracts = ['0x896d64b4b7265273ddcd00808f3579563f9790a8']\nfunctions = ['transferOwnership(address)']"),
    // The gas-token contracts of block 11935012 contain SELFDESTRUCT.
    ("contract_deployment", "type = 'contract_deployment'\nmin_score = 20"),
    // The token the victim of the ETL blocks' sandwich bought, leaving its Uniswap V2 pair.
    ("liquidity_drain", "type = 'liquidity_drain'\nname = 'p'\ncontracts = ['0x7054b0f980a7eb5b3a6b3446f3c947d80162775c']\ntokens = [{ token = '0x1ce270557c1f68cfb577b856766310bf8b47fd9c', max_outflow = '1' }]\nwindow_blocks = 3"),
];

/// Detectors that need state proofs, on blocks recorded from a real anvil with `eth_getProof` of
/// the watched accounts (scripts/record_fixtures.sh): a vault, a proxy whose EIP-1967
/// implementation changes without an event, and an address where code is deployed.
const PROVEN_CONFIGS: &[(&str, &str)] = &[(
    "storage_watch",
    "type = 'storage_watch'\nname = 'w'\nslots = [{ contract = '0x5fbdb2315678afecb367f032d93f642f64180aa3', slot = '0', label = 'owner' }, { contract = '0xe7f1725e7734ce288f8367e1bb143e90bb3f0512', slot = 'eip1967.implementation' }]\naccounts = [{ address = '0xe7f1725e7734ce288f8367e1bb143e90bb3f0512' }, { address = '0xcf7ed3acca5a467e9e704c703e8d87f634fb0fc9' }]",
)];

/// Detectors run on the upgrade fixture (scripts/record_upgrade_fixture.sh): a UUPS proxy
/// upgraded twice, the fork replacing the second upgrade.
const UPGRADE_CONFIGS: &[(&str, &str)] = &[("upgrade_audit", "type = 'upgrade_audit'")];

/// The detectors of the DeFi fixture recorded from a real anvil with view calls and new
/// contracts' code (scripts/record_fixtures.sh), from its committed config.
fn defi_configs() -> Vec<(String, String)> {
    #[derive(serde::Deserialize)]
    struct File {
        detectors: Vec<toml::Value>,
    }
    let f: File = toml::from_str(&fixtures::text("anvil/defi.toml")).unwrap();
    let mut out: Vec<(String, String)> = f
        .detectors
        .into_iter()
        .map(|d| (d["type"].as_str().unwrap().to_string(), toml::to_string(&d).unwrap()))
        .collect();
    // The fixture's flash-loan drain of a vault (FlashExploiter), found with no configuration.
    out.push(("exploit_shape".into(), "type = 'exploit_shape'".into()));
    // The destination half of a bridge on that chain (its source chain is not in the fixture).
    // The fixture's ERC-20 Transfers stand in for its events: as signer changes (findings at
    // once) and as mints (kept in the shared ledger, waiting for the other chain).
    out.push((
        "bridge_invariant".into(),
        "type = 'bridge_invariant'\nname = 'b'\nsource_chain = 'l1'\ndest_chain = 'mainnet'\nsource_contract = '0x0000000000000000000000000000000000000001'\ndest_contract = '0x5fbdb2315678afecb367f032d93f642f64180aa3'\nlock_event = 'Locked(address indexed sender, address indexed recipient, uint256 amount, uint256 nonce)'\nmint_event = 'Transfer(address indexed from, address indexed nonce, uint256 amount)'\nsigner_events = ['Transfer(address indexed from, address indexed to, uint256 value)']".into(),
    ));
    out
}

/// The assertion detectors of the assertions fixture, recorded from a real anvil with the state
/// before each block that reaches the vault (scripts/record_assertions_fixture.sh), each with
/// its compiled assertion: (name, config, artifact text).
fn assertion_configs() -> Vec<(String, DetectorConfig, String)> {
    #[derive(serde::Deserialize)]
    struct File {
        detectors: Vec<DetectorConfig>,
    }
    let f: File = toml::from_str(&fixtures::text("anvil/assertions.toml")).unwrap();
    f.detectors
        .into_iter()
        .map(|d| {
            let (_, path) = d.side_file().expect("an assertion names its artifact");
            let artifact = fixtures::text(&format!("anvil/{}", path.display()));
            let DetectorConfig::Assertion(a) = &d else { panic!("not an assertion: {d:?}") };
            (format!("assertion ({})", a.name), d.clone(), artifact)
        })
        .collect()
}

/// Beacon-chain detectors: their conformance run is on the beacon scenario chain and its fork
/// (`beacon_detectors.rs`).
const BEACON: &[&str] = &[
    "beacon_finality",
    "beacon_proposals",
    "beacon_attestations",
    "beacon_sync_committee",
    "beacon_slashings",
    "beacon_validators",
    "stake_concentration",
    "beacon_execution_link",
    "comet_validators",
];

/// Pending-transaction detectors: their conformance laws are `check_pending`
/// (`pending_conformance.rs`, and `sim.rs` for `simulation` on real simulations).
const PENDING_ONLY: &[&str] = &["mempool_frontrun", "simulation"];

#[test]
fn every_detector_type_is_covered() {
    let defi = defi_configs();
    for info in palisade_detect::catalog() {
        assert!(
            CONFIGS
                .iter()
                .chain(PROVEN_CONFIGS)
                .chain(UPGRADE_CONFIGS)
                .map(|(n, _)| n.to_string())
                .chain(defi.iter().map(|(n, _)| n.clone()))
                .chain(assertion_configs().into_iter().map(|(n, _, _)| n))
                .chain(BEACON.iter().map(|n| n.to_string()))
                .chain(PENDING_ONLY.iter().map(|n| n.to_string()))
                .any(|n| n.starts_with(info.kind)),
            "{} has no conformance run",
            info.kind
        );
    }
}

type Chain = Vec<std::sync::Arc<palisade_primitives::BlockData>>;

/// A recorded chain and its recorded fork (anvil_reorg), with where the fork starts.
fn recorded_fork(name: &str) -> (Chain, Chain, usize) {
    let load = |part: &str| -> Chain {
        fixtures::blocks(&format!("anvil/{name}-{part}.jsonl.zst"))
            .into_iter()
            .map(std::sync::Arc::new)
            .collect()
    };
    let (chain, fork) = (load("chain"), load("fork"));
    let fork_at = chain.iter().position(|b| b.header.number == fork[0].header.number).unwrap();
    assert_eq!(fork[0].header.parent_hash, chain[fork_at - 1].header.hash);
    (chain, fork, fork_at)
}

/// The laws for the detector of config `src` on `chain` and its `fork`, and its findings on
/// `chain`, which must not be empty (else the laws were not exercised).
fn laws_with_findings(
    name: &str,
    src: &str,
    chain: &Chain,
    fork: &Chain,
    fork_at: usize,
) -> Vec<palisade_primitives::Finding> {
    laws_with_findings_of(name, &|| detector(src), chain, fork, fork_at)
}

/// [`laws_with_findings`] for the detectors `make` builds.
fn laws_with_findings_of(
    name: &str,
    make: &dyn Fn() -> Box<dyn Detector>,
    chain: &Chain,
    fork: &Chain,
    fork_at: usize,
) -> Vec<palisade_primitives::Finding> {
    conformance::check(name, make, chain, fork, fork_at);
    let mut d = make();
    let mut out = palisade_primitives::Findings::new();
    d.commit(&palisade_primitives::ChainSegment::new(chain.clone()).unwrap(), &mut out).unwrap();
    assert!(
        !out.emitted().is_empty(),
        "{name}: the fixture gives no findings, so the laws are not exercised"
    );
    out.emitted().to_vec()
}

#[test]
fn defi_detectors_obey_the_laws_on_a_real_fork_with_view_calls_and_code() {
    let (chain, fork, fork_at) = recorded_fork("defi");
    for (name, src) in defi_configs() {
        laws_with_findings(&name, &src, &chain, &fork, fork_at);
    }
}

#[test]
fn upgrade_audits_obey_the_laws_on_a_real_fork_with_the_implementations_code() {
    let (chain, fork, fork_at) = recorded_fork("upgrade");
    for (name, src) in UPGRADE_CONFIGS {
        let found = laws_with_findings(name, src, &chain, &fork, fork_at);
        // The deployment, the benign upgrade and the risky one, each audited from its code.
        let audited: Vec<_> = found.iter().filter(|f| f.evidence["audited"] == true).collect();
        assert_eq!(audited.len(), 3, "{name}: {found:#?}");
        assert_eq!(audited[2].severity.as_str(), "high");
        // Monitoring that starts after the proxy's deployment (block 2): the first upgrade seen
        // is audited against the code the proxy delegated to in that transaction (UUPS runs the
        // upgrade in the implementation it replaces), recorded with the block.
        let late = palisade_primitives::ChainSegment::new(chain[4..].to_vec()).unwrap();
        let mut d = detector(src);
        let mut out = palisade_primitives::Findings::new();
        d.commit(&late, &mut out).unwrap();
        let seen = out.emitted();
        assert_eq!(seen.len(), 2, "{seen:#?}");
        assert_eq!(seen[0].evidence["previous_code_seen"], true, "{}", seen[0].title);
        assert_eq!(
            seen[0].evidence["old_implementation"],
            audited[0].evidence["new_implementation"]
        );
        assert_eq!(seen[0].evidence["score"], 0, "{}", seen[0].title);
        assert_eq!(seen[1].severity.as_str(), "high");
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
        laws_with_findings(name, src, &chain, &fork, fork_at);
    }
}

#[test]
fn detectors_that_read_proven_state_obey_the_laws_on_a_real_fork() {
    // The fork replaces the chain from its first block on (anvil_reorg).
    let (chain, fork, fork_at) = recorded_fork("vault");
    for (name, src) in PROVEN_CONFIGS {
        laws_with_findings(name, src, &chain, &fork, fork_at);
    }
}

#[test]
fn assertions_obey_the_laws_on_a_real_fork_with_the_state_before_each_block() {
    // The chain's block 6 is the drain (both assertions violated); the fork replaces it with a
    // redemption that breaks neither.
    let (chain, fork, fork_at) = recorded_fork("assertions");
    let mut violated = Vec::new();
    for (name, cfg, artifact) in assertion_configs() {
        let make = || cfg.build("mainnet", Some(&artifact), &Default::default()).unwrap();
        let found = laws_with_findings_of(&name, &make, &chain, &fork, fork_at);
        violated.extend(
            found
                .iter()
                .filter(|f| f.evidence["check"] == "violated")
                .map(|f| (f.detector.clone(), f.anchor.number)),
        );
    }
    let drain = chain[fork_at].header.number;
    assert_eq!(
        violated,
        [("assertion:vault-shares".to_string(), drain), ("assertion:vault-outflow".into(), drain)]
    );
}
