//! A recorded line (block, receipts, proofs) through every block check: verification never
//! panics, and what it reports is consistent (no check both passed and failed).
#![no_main]
use libfuzzer_sys::fuzz_target;
use palisade_primitives::RecordedBlock;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let Ok(rec) = RecordedBlock::from_json_line(s) else { return };
    for senders in [true, false] {
        let r = palisade_verify::verify_block_with(&rec, senders);
        for e in &r.failed {
            assert!(
                !r.passed.iter().any(|c| c.as_str() == e.check()),
                "{} both passed and failed",
                e.check()
            );
        }
        let _ = r.unverifiable(&r.passed);
    }
});
