//! A JSON-RPC answer from a node: response parsing and head decoding never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    if let Ok(result) = palisade_source::evm_rpc::parse_response(v, "eth_getBlockByNumber", "fuzz") {
        let _ = palisade_source::evm_rpc::head_of(&result);
        let rec = palisade_primitives::RecordedBlock {
            block: result,
            receipts: serde_json::Value::Null,
            traces: serde_json::Value::Null,
            call_traces: serde_json::Value::Null,
            proofs: serde_json::Value::Null,
            calls: serde_json::Value::Null,
            code: serde_json::Value::Null,
            beacon: serde_json::Value::Null,
            comet: serde_json::Value::Null,
        };
        let _ = palisade_primitives::BlockData::from_recorded(rec);
    }
});
