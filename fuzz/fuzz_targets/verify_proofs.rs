//! `eth_getProof` answers against a state root: never a panic, and a proof verifies against at
//! most one of two different roots.
#![no_main]
use libfuzzer_sys::fuzz_target;
use palisade_primitives::B256;

fuzz_target!(|data: &[u8]| {
    if data.len() < 32 {
        return;
    }
    let (root, rest) = data.split_at(32);
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(rest) else { return };
    let root = B256::from_slice(root);
    let a = palisade_verify::verify_proofs(root, &v);
    let mut other = root;
    other.0[0] ^= 1;
    let b = palisade_verify::verify_proofs(other, &v);
    if let (Ok(n), Ok(_)) = (&a, &b) {
        assert_eq!(*n, 0, "one account proof verified against two state roots");
    }
});
