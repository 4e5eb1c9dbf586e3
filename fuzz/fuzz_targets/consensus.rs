//! Untrusted consensus data: Beacon API blocks and light-client updates, and the server-sent
//! events stream. Decoding and the checks on what decodes
//! never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use palisade_consensus::beacon::summary::block_info;
use palisade_consensus::beacon::types::{LightClientUpdate, SignedBeaconBlock, Versioned};

fuzz_target!(|data: &[u8]| {
    let mut sse = palisade_source::beacon_api::SseParser::default();
    let _ = sse.feed(data);
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(b) = serde_json::from_str::<Versioned<SignedBeaconBlock>>(s) {
        let _ = b.data.message.root();
        let _ = block_info(&b.data, None);
    }
    if let Ok(u) = serde_json::from_str::<Versioned<LightClientUpdate>>(s) {
        let _ = u.data.attested_header.beacon.root();
        let _ = palisade_consensus::beacon::light_client::verify_execution(&u.data.attested_header, "capella");
    }
    // CometBFT light blocks are decoded by the tendermint crate, whose base64 decoder panics on
    // some input this target found (testdata/consensus/fuzz-base64-panic.json); Palisade catches
    // that panic (`comet::from_json`, tested), which this target, built with panic=abort, cannot.
});
