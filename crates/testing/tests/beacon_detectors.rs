//! The beacon detectors on the scenario chain (palisade_testing::beacon_scenario): each finds
//! what was planted, at the block where it shows, and passes the conformance suite against a
//! competing fork of the last blocks.

use palisade_detect::{Detector, DetectorConfig};
use palisade_primitives::{ChainSegment, Finding, Findings, Severity};
use palisade_testing::beacon_scenario::{self as sc, OFFLINE, S0, SLASHING_SLOT, WATCHED};
use palisade_testing::conformance;

fn detector(src: &str) -> Box<dyn Detector> {
    let cfg: DetectorConfig = toml::from_str(src).unwrap();
    cfg.build("beacon", None, &Default::default()).unwrap()
}

fn run(src: &str) -> Vec<Finding> {
    let mut d = detector(src);
    let mut out = Findings::new();
    d.commit(&ChainSegment::new(sc::chain(None)).unwrap(), &mut out).unwrap();
    out.take().0
}

fn slot_of(f: &Finding) -> u64 {
    let chain = sc::chain(None);
    chain.iter().find(|b| b.header.number == f.anchor.number).unwrap().beacon.as_ref().unwrap().slot
}

fn checks(fs: &[Finding]) -> Vec<String> {
    fs.iter().map(|f| f.evidence["check"].as_str().unwrap().to_string()).collect()
}

const CONFIGS: &[(&str, &str)] = &[
    ("beacon_finality", "type = 'beacon_finality'"),
    ("beacon_proposals", "type = 'beacon_proposals'\nvalidators = [7]"),
    ("beacon_attestations", "type = 'beacon_attestations'\nvalidators = [7, 8]"),
    ("beacon_sync_committee", "type = 'beacon_sync_committee'\nvalidators = [7]\nmissed_tiers = [4, 16, 31]"),
    ("beacon_slashings", "type = 'beacon_slashings'\nvalidators = [7]"),
    ("beacon_validators", "type = 'beacon_validators'"),
    ("stake_concentration", "type = 'stake_concentration'\nlabels = [{ credentials = '0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', label = 'Big Pool' }]"),
];

#[test]
fn finality_delays_and_the_inactivity_leak() {
    let fs = run(CONFIGS[0].1);
    // Stuck at epoch S0/32 + 1 from epoch +3: four epochs later (epoch +5) high, then
    // critical at +6; justification stuck at +2 is a stall from +5 on.
    let got: Vec<(String, Severity, u64)> = fs
        .iter()
        .map(|f| {
            (
                f.evidence["check"].as_str().unwrap().to_string(),
                f.severity,
                slot_of(f) / 32 - S0 / 32,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("finality".into(), Severity::High, 5),
            ("justification".into(), Severity::High, 5),
            ("finality".into(), Severity::Critical, 6),
        ]
    );
}

#[test]
fn missed_slots_and_a_watched_validators_missed_proposal() {
    let fs = run(CONFIGS[1].1);
    let mp: Vec<&Finding> =
        fs.iter().filter(|f| f.evidence["check"] == "missed_proposal").collect();
    assert_eq!(mp.len(), 1, "{:#?}", mp.iter().map(|f| &f.evidence).collect::<Vec<_>>());
    assert_eq!(mp[0].evidence["validator"], WATCHED);
    assert_eq!(mp[0].evidence["slot"], S0 + 41);
    let runs: Vec<&Finding> =
        fs.iter().filter(|f| f.evidence["check"] == "consecutive_missed").collect();
    assert_eq!(runs.len(), 1, "{:#?}", runs.iter().map(|f| &f.evidence).collect::<Vec<_>>());
    assert_eq!(slot_of(runs[0]), S0 + 43);
    assert_eq!(runs[0].evidence["missed"][1]["proposer"], WATCHED);
    // 5 of 224 slots missed: never more than 10 % of a 64-slot window.
    assert!(!fs.iter().any(|f| f.evidence["check"] == "missed_share"));
    // Above 5 %: 4 of 64 slots twice, once with slot +5 and the run of three in the window,
    // again when slot +70 joins the run after +5 has left it.
    let tight = run("type = 'beacon_proposals'\nmax_missed_pct = 5");
    let share: Vec<u64> =
        tight.iter().filter(|f| f.evidence["check"] == "missed_share").map(slot_of).collect();
    assert_eq!(share, vec![S0 + 43, S0 + 71]);
}

#[test]
fn attestations_missed_tiered_and_a_wrong_target() {
    let fs = run(CONFIGS[2].1);
    let missed: Vec<&Finding> =
        fs.iter().filter(|f| f.evidence["check"] == "missed_attestation").collect();
    // OFFLINE's duties of epochs 1..=5 have expired by the end (epoch 6's is not an epoch old).
    assert_eq!(missed.len(), 5);
    assert!(missed.iter().all(|f| f.evidence["validator"] == OFFLINE));
    let sev: Vec<Severity> = missed.iter().map(|f| f.severity).collect();
    assert_eq!(
        sev,
        vec![Severity::Low, Severity::Low, Severity::Medium, Severity::Medium, Severity::Medium]
    );
    let wrong: Vec<&Finding> =
        fs.iter().filter(|f| f.evidence["check"] == "attestation_quality").collect();
    assert_eq!(wrong.len(), 1);
    assert_eq!(wrong[0].evidence["validator"], WATCHED);
    assert_eq!(wrong[0].evidence["target_ok"], false);
    assert_eq!(wrong[0].evidence["head_ok"], true);
    assert_eq!(wrong[0].severity, Severity::Medium);
}

#[test]
fn sync_committee_network_and_member_participation() {
    let fs = run(CONFIGS[3].1);
    let member: Vec<&Finding> =
        fs.iter().filter(|f| f.evidence["check"] == "member_missed").collect();
    // The 31 blocks of epoch 2 (slot +70 was missed) unsigned: 4 (low), 16 (medium), 31 (high).
    assert_eq!(
        member.iter().map(|f| f.severity).collect::<Vec<_>>(),
        vec![Severity::Low, Severity::Medium, Severity::High]
    );
    let net: Vec<&Finding> =
        fs.iter().filter(|f| f.evidence["check"] == "network_participation").collect();
    assert_eq!(net.len(), 1);
    assert!(slot_of(net[0]) >= S0 + 160);
}

#[test]
fn slashings_in_blocks_and_of_watched_validators() {
    let fs = run(CONFIGS[4].1);
    let got: Vec<(String, u64, Severity)> = fs
        .iter()
        .map(|f| {
            (
                f.evidence["check"].as_str().unwrap().to_string(),
                f.evidence["validator"].as_u64().unwrap(),
                f.severity,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("proposer_slashing".into(), 99, Severity::High),
            ("attester_slashing".into(), WATCHED, Severity::Critical),
            ("attester_slashing".into(), 55, Severity::High),
        ]
    );
    assert!(fs.iter().all(|f| slot_of(f) == SLASHING_SLOT));
}

#[test]
fn exits_churn_balance_drops_and_status_changes() {
    let fs = run(CONFIGS[5].1);
    let got: Vec<(String, Severity)> = fs
        .iter()
        .map(|f| (f.evidence["check"].as_str().unwrap().to_string(), f.severity))
        .collect();
    assert_eq!(
        got,
        vec![
            ("balance_drop".into(), Severity::High),
            ("exit_churn".into(), Severity::Medium),
            ("balance_drop".into(), Severity::High),
            ("status_change".into(), Severity::Critical),
        ]
    );
    // Twenty exits planted in epoch 1's first twenty slots, three of which had no block.
    assert_eq!(fs[1].evidence["exits"], 17);
    assert_eq!(fs[0].evidence["drop_gwei"], 10_000_000u64);
}

#[test]
fn stake_concentration_a_third_held_by_one_entity() {
    let fs = run(CONFIGS[6].1);
    assert_eq!(checks(&fs), vec!["entity_share", "nakamoto"]);
    assert_eq!(fs[0].evidence["entity"], "Big Pool");
    assert_eq!(fs[0].evidence["share_pct"], 40.0);
    assert_eq!(fs[0].severity, Severity::Critical);
    assert_eq!(fs[1].evidence["nakamoto_coefficient"], 1);
}

#[test]
fn every_beacon_detector_obeys_the_laws_against_a_fork() {
    let chain = sc::chain(None);
    let full_fork = sc::chain(Some(S0 + 200));
    let fork_at = chain.iter().position(|b| b.beacon.as_ref().unwrap().slot >= S0 + 200).unwrap();
    let fork: Vec<_> = full_fork[fork_at..].to_vec();
    assert_eq!(fork[0].header.parent_hash, chain[fork_at - 1].header.hash);
    let link = "type = 'beacon_execution_link'\nbeacon_chain = 'beacon'\nexecution_chain = 'el'";
    for (name, src) in CONFIGS.iter().chain(&[("beacon_execution_link", link)]) {
        let make = || detector(src);
        conformance::check(name, &make, &chain, &fork, fork_at);
    }
    // And the catalog has nothing beacon-specific left out (execution_link spans two chains:
    // crates/testing/tests/beacon_execution_link.rs).
    for info in palisade_detect::catalog()
        .iter()
        .filter(|i| i.kind.starts_with("beacon_") || i.kind == "stake_concentration")
    {
        assert!(
            CONFIGS.iter().any(|(n, _)| *n == info.kind) || info.kind == "beacon_execution_link",
            "{}",
            info.kind
        );
    }
}

#[test]
fn a_payload_that_is_not_the_execution_chains_block_is_reported_at_the_beacon_block() {
    use palisade_primitives::{BlockData, Header};
    use std::sync::Arc;
    let cfg: DetectorConfig = toml::from_str(
        "type = 'beacon_execution_link'\nbeacon_chain = 'beacon'\nexecution_chain = 'el'",
    )
    .unwrap();
    let links = palisade_detect::Links::default();
    let mut beacon = cfg.build("beacon", None, &links).unwrap();
    let mut el = cfg.build("el", None, &links).unwrap();
    let chain = sc::chain(None);
    // The execution chain has the payloads' blocks, except at one number.
    let bad = chain[40].header.number;
    let el_blocks: Vec<Arc<BlockData>> = chain
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let n = b.header.number;
            let payload = b.beacon.as_ref().unwrap().execution_hash.unwrap();
            let hash =
                if n == bad { palisade_primitives::B256::repeat_byte(0x42) } else { payload };
            let parent = (i == 0).then_some(palisade_primitives::B256::ZERO);
            Arc::new(BlockData {
                header: Header {
                    number: n,
                    hash: Some(hash),
                    parent_hash: parent,
                    ..Default::default()
                },
                ..Default::default()
            })
        })
        .collect();
    let mut out = Findings::new();
    // The beacon chain is ahead at first: nothing can be judged yet.
    beacon.commit(&ChainSegment::new(chain[..60].to_vec()).unwrap(), &mut out).unwrap();
    assert!(out.emitted().is_empty());
    for b in &el_blocks {
        el.commit(&ChainSegment::single(b.clone()), &mut out).unwrap();
    }
    beacon.commit(&ChainSegment::new(chain[60..].to_vec()).unwrap(), &mut out).unwrap();
    let fs = out.take().0;
    assert_eq!(fs.len(), 1, "{:?}", checks(&fs));
    assert_eq!(fs[0].anchor.number, bad);
    assert_eq!(fs[0].severity, Severity::Critical);
    assert_eq!(fs[0].chain, "beacon");
}

#[test]
fn comet_validators_on_the_comet_scenario_and_its_laws() {
    let src = &format!(
        "type = 'comet_validators'\nvalidators = ['{}']\nmissed_tiers = [3, 8, 20, 40]",
        "dd".repeat(20)
    );
    let mut d = detector(src);
    let mut out = Findings::new();
    let chain = sc::comet_chain(None);
    d.commit(&ChainSegment::new(chain.clone()).unwrap(), &mut out).unwrap();
    let got: Vec<(String, Severity, u64)> = out
        .emitted()
        .iter()
        .map(|f| (f.evidence["check"].as_str().unwrap().to_string(), f.severity, f.anchor.number))
        .collect();
    assert_eq!(
        got,
        vec![
            ("missed_blocks".into(), Severity::Low, 13),
            ("missed_blocks".into(), Severity::Medium, 18),
            ("set_change".into(), Severity::High, 25),
            ("dangerous_share".into(), Severity::Critical, 25),
            ("left_set".into(), Severity::Critical, 30),
            ("evidence".into(), Severity::High, 35),
        ]
    );
    let fork = sc::comet_chain(Some(33));
    conformance::check("comet_validators", &|| detector(src), &chain, &fork[32..], 32);
}

#[test]
fn a_beacon_reorg_is_reported_by_chain_health_with_its_depth() {
    use palisade_primitives::ChainEvent;
    use std::sync::Arc;
    let chain = sc::chain(None);
    let full_fork = sc::chain(Some(S0 + 200));
    let fork_at = chain.iter().position(|b| b.beacon.as_ref().unwrap().slot >= S0 + 200).unwrap();
    let mut d = detector(
        "type = 'chain_health'\nexpected_block_time_secs = 12\nallow_equal_timestamps = true",
    );
    let mut out = Findings::new();
    palisade_detect::drive(
        d.as_mut(),
        &ChainEvent::Committed { new: Arc::new(ChainSegment::new(chain.clone()).unwrap()) },
        &mut out,
    )
    .unwrap();
    let old = ChainSegment::new(chain[fork_at..].to_vec()).unwrap();
    let new = ChainSegment::new(full_fork[fork_at..].to_vec()).unwrap();
    palisade_detect::drive(
        d.as_mut(),
        &ChainEvent::Reorged { old: Arc::new(old), new: Arc::new(new) },
        &mut out,
    )
    .unwrap();
    let reorg: Vec<&Finding> =
        out.emitted().iter().filter(|f| f.evidence["check"] == "reorg").collect();
    assert_eq!(reorg.len(), 1, "{:?}", checks(out.emitted()));
    assert_eq!(reorg[0].evidence["depth"], (chain.len() - fork_at) as u64);
}
