//! JSON as deep as a call tree of 1,024 frames, and deeper: parsing (`palisade_primitives::json`)
//! and decoding call frames never overflow the stack, even on a thread stack as small as 256 KiB,
//! and anything nested beyond the limit is refused with an error.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let data = data.to_vec();
    std::thread::Builder::new()
        .stack_size(256 << 10)
        .spawn(move || {
            let depth = palisade_primitives::json::depth(&data);
            match palisade_primitives::json::from_slice::<serde_json::Value>(&data) {
                Ok(v) => {
                    assert!(depth <= palisade_primitives::json::MAX_JSON_DEPTH);
                    let rec = palisade_primitives::RecordedBlock {
                        block: serde_json::json!({"number": "0x1"}),
                        receipts: serde_json::Value::Null,
                        traces: serde_json::Value::Null,
                        call_traces: serde_json::json!([{"result": v}]),
                        proofs: serde_json::Value::Null,
                        calls: serde_json::Value::Null,
                        code: serde_json::Value::Null,
                        beacon: serde_json::Value::Null,
                        comet: serde_json::Value::Null,
                    };
                    if let Ok(b) = palisade_primitives::BlockData::from_recorded(rec.clone()) {
                        let _ = b.calls();
                    }
                    palisade_primitives::json::drop_deep(rec.call_traces);
                }
                Err(_) => {}
            }
        })
        .unwrap()
        .join()
        .unwrap();
});
