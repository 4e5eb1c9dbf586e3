//! A line of recorded chain data (the replay format): decoding never panics, and whenever the
//! fast typed path accepts a line it gives exactly what the `Value` path gives (or the `Value`
//! path refused only a lexical oddity in a field neither reads).
#![no_main]
use libfuzzer_sys::fuzz_target;
use palisade_primitives::{BlockData, RecordedBlock};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let slow = RecordedBlock::from_json_line(s).and_then(BlockData::from_recorded);
    if let Ok(b) = &slow {
        let _ = b.calls();
        let _ = b.block_ref();
        let _ = b.tx_hash(0);
    }
    if let Ok(fast) = palisade_primitives::fast::decode(s) {
        match slow {
            Ok(slow) => assert_eq!(fast, slow, "the decoding paths disagree"),
            Err(e) => assert!(
                palisade_primitives::fast::lexical_only(&e.to_string()),
                "the fast path accepted a line the Value path rejects: {e}"
            ),
        }
    }
});
