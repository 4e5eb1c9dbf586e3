//! A line of recorded chain data (the replay format): decode never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;
use palisade_primitives::{BlockData, RecordedBlock};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(rec) = RecordedBlock::from_json_line(s) {
        if let Ok(b) = BlockData::from_recorded(rec) {
            let _ = b.calls();
            let _ = b.block_ref();
            let _ = b.tx_hash(0);
        }
    }
});
