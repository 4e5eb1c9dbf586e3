//! An execution payload as carried in beacon blocks: decoding, sender recovery and the block
//! hash rebuild never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    let _ = palisade_verify::verify_execution_payload(&v);
});
