//! JSON as deep as a call tree of 1,024 frames, and deeper: parsing (`palisade_primitives::json`),
//! decoding call frames and writing the recorded line back never overflow the stack, even on a
//! thread stack as small as 256 KiB, and anything nested beyond the limit is refused with an
//! error.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let data = data.to_vec();
    std::thread::Builder::new()
        .stack_size(256 << 10)
        .spawn(move || {
            let depth = palisade_primitives::json::depth(&data);
            let Ok(v) = palisade_primitives::json::from_slice::<serde_json::Value>(&data) else {
                return;
            };
            assert!(depth <= palisade_primitives::json::MAX_JSON_DEPTH);
            // Built by hand: `json!` would clone `v` by serializing it, recursively.
            let mut tx = serde_json::Map::new();
            tx.insert("result".into(), v);
            let rec = palisade_primitives::RecordedBlock {
                block: serde_json::json!({"number": "0x1"}),
                receipts: serde_json::Value::Null,
                traces: serde_json::Value::Null,
                call_traces: serde_json::Value::Array(vec![serde_json::Value::Object(tx)]),
                proofs: serde_json::Value::Null,
                calls: serde_json::Value::Null,
                code: serde_json::Value::Null,
                beacon: serde_json::Value::Null,
                comet: serde_json::Value::Null,
            };
            // The line as the live service stores it, then decoded as replay does.
            let line = rec.to_json_line();
            let direct = palisade_primitives::BlockData::from_recorded(rec).map(|b| b.calls().len());
            let again = palisade_primitives::BlockData::from_json_line(&line).map(|b| b.calls().len());
            assert_eq!(direct.ok(), again.ok(), "the stored line decodes as the block did");
        })
        .unwrap()
        .join()
        .unwrap();
});
