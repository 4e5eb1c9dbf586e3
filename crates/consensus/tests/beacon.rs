//! The light-client checks on real mainnet data (a16z/helios test data, Capella, August 2023):
//! a bootstrap with its 512-key sync committee, six sync-committee updates across six periods,
//! a finality and an optimistic update, and three full signed blocks.

use palisade_consensus::beacon::light_client::LightClient;
use palisade_consensus::beacon::types::{
    LightClientBootstrap, LightClientUpdate, SignedBeaconBlock, Versioned,
};
use palisade_consensus::beacon::{period_of, Network};
use palisade_consensus::ConsensusError;

fn text(rel: &str) -> String {
    let p = format!("{}/../../testdata/consensus/beacon/{rel}", env!("CARGO_MANIFEST_DIR"));
    let b = std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"));
    String::from_utf8(zstd::stream::decode_all(&b[..]).unwrap()).unwrap()
}

fn bootstrap() -> LightClientBootstrap {
    serde_json::from_str::<Versioned<LightClientBootstrap>>(&text("bootstrap.json.zst"))
        .unwrap()
        .data
}

fn updates() -> Vec<LightClientUpdate> {
    serde_json::from_str::<Vec<Versioned<LightClientUpdate>>>(&text("updates.json.zst"))
        .unwrap()
        .into_iter()
        .map(|v| v.data)
        .collect()
}

fn client() -> LightClient {
    let b = bootstrap();
    LightClient::bootstrap(Network::mainnet(), b.header.beacon.root(), &b).unwrap()
}

#[test]
fn six_periods_of_updates_verify_with_each_committee_handing_over_to_the_next() {
    let mut lc = client();
    assert_eq!(lc.period(), 862);
    let mut periods = Vec::new();
    for u in updates() {
        let v = lc
            .apply(&u)
            .unwrap_or_else(|e| panic!("update at slot {}: {e}", u.attested_header.beacon.slot));
        assert!(v.handover, "each update proves the next committee");
        assert!(v.participants >= 510);
        periods.push(v.period);
        // The attested and finalized headers' execution blocks are proven against their body roots.
        assert_eq!(v.execution.len(), 2);
    }
    assert_eq!(periods, vec![862, 863, 864, 865, 866, 867]);
    assert_eq!(lc.period(), 867);
    assert!(lc.knows_next());
    // The finality update of slot 7109430 (period 867) verifies with the handed-over committee.
    let f = serde_json::from_str::<Versioned<LightClientUpdate>>(&text("finality.json.zst"))
        .unwrap()
        .data;
    let v = lc.apply(&f).unwrap();
    assert_eq!(v.attested.slot, 7_109_430);
    assert_eq!(period_of(v.attested.slot), 867);
    let o = serde_json::from_str::<Versioned<LightClientUpdate>>(&text("optimistic.json.zst"))
        .unwrap()
        .data;
    lc.verify(&o).unwrap();
}

#[test]
fn a_full_block_is_tied_to_the_header_the_committee_signed_and_to_its_execution_block() {
    let mut lc = client();
    for u in updates() {
        lc.apply(&u).unwrap();
    }
    let f = serde_json::from_str::<Versioned<LightClientUpdate>>(&text("finality.json.zst"))
        .unwrap()
        .data;
    let v = lc.apply(&f).unwrap();
    let block: SignedBeaconBlock =
        serde_json::from_str::<Versioned<SignedBeaconBlock>>(&text("blocks/7109430.json.zst"))
            .unwrap()
            .data;
    // The body served for slot 7109430 hashes (SSZ) to the header the sync committee signed.
    assert_eq!(block.message.root(), v.attested_root);
    let payload = block.message.body.execution_payload.as_ref().unwrap();
    assert_eq!(payload.block_number, 17_923_112);
    assert_eq!(v.execution[0], (7_109_430, 17_923_112, payload.block_hash));
    // The other two blocks hash to headers whose parent links hold.
    let b1: SignedBeaconBlock =
        serde_json::from_str::<Versioned<SignedBeaconBlock>>(&text("blocks/7109431.json.zst"))
            .unwrap()
            .data;
    assert_eq!(b1.message.parent_root, block.message.root());
}

#[test]
fn a_changed_byte_anywhere_is_caught_with_the_slot_and_what_failed() {
    let lc = client();
    let u = updates().remove(0);
    // The signature.
    let mut bad = u.clone();
    bad.sync_aggregate.sync_committee_signature.0[10] ^= 1;
    assert!(lc.verify(&bad).is_err());
    // The attested header (its root, hence the signed message, changes).
    let mut bad = u.clone();
    bad.attested_header.beacon.proposer_index += 1;
    assert!(matches!(
        lc.verify(&bad),
        Err(ConsensusError::Branch { .. } | ConsensusError::Signature { .. })
    ));
    let mut bad = u.clone();
    bad.attested_header.beacon.parent_root.0[0] ^= 1;
    assert!(matches!(lc.verify(&bad), Err(ConsensusError::Signature { slot: 7_061_719, .. })));
    // The finality branch.
    let mut bad = u.clone();
    bad.finality_branch[3].0[31] ^= 1;
    let e = lc.verify(&bad).unwrap_err();
    assert!(e.to_string().contains("finalized header branch"), "{e}");
    // The next committee.
    let mut bad = u.clone();
    bad.next_sync_committee.as_mut().unwrap().aggregate_pubkey.0[5] ^= 1;
    assert!(lc.verify(&bad).unwrap_err().to_string().contains("next sync committee"));
    // The execution payload header.
    let mut bad = u.clone();
    bad.attested_header.execution.as_mut().unwrap().block_number += 1;
    assert!(lc.verify(&bad).unwrap_err().to_string().contains("execution payload header"));
    // A participant bit dropped: the aggregate no longer matches.
    let mut bad = u.clone();
    let i = (0..512).find(|i| bad.sync_aggregate.sync_committee_bits.get(*i).unwrap()).unwrap();
    bad.sync_aggregate.sync_committee_bits.set(i, false).unwrap();
    assert!(matches!(lc.verify(&bad), Err(ConsensusError::Signature { .. })));
    // An update from two periods ahead has no known committee.
    let far = updates().remove(2);
    assert!(lc.verify(&far).unwrap_err().to_string().contains("known committees"));
    // A bootstrap for another root.
    let b = bootstrap();
    assert!(matches!(
        LightClient::bootstrap(Network::mainnet(), alloy_primitives::B256::ZERO, &b),
        Err(ConsensusError::Bootstrap { .. })
    ));
    let mut bb = b.clone();
    bb.current_sync_committee_branch[0].0[0] ^= 1;
    assert!(LightClient::bootstrap(Network::mainnet(), b.header.beacon.root(), &bb).is_err());
}
