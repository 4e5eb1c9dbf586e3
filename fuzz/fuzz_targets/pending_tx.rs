//! A pending transaction from a node (`eth_subscribe` notification, `eth_getTransactionByHash`,
//! `txpool_content`): decoding never panics; what decodes keeps its fee invariants, goes through
//! the pool, and makes a would-be block; and rule expressions with arithmetic evaluate without
//! panicking on any values.
#![no_main]
use libfuzzer_sys::fuzz_target;
use palisade_primitives::pending::{would_be_block, PendingTx};
use palisade_primitives::Header;
use palisade_source::mempool::Pool;

fuzz_target!(|data: &[u8]| {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    let Ok(tx) = PendingTx::from_json(&v) else { return };
    assert!(tx.priority_fee <= tx.max_fee, "tip above the cap");
    for base in [0u128, 1, tx.max_fee, u128::MAX] {
        if let Some(t) = tx.effective_tip(base) {
            assert!(t <= tx.priority_fee && base.saturating_add(t) <= tx.max_fee);
        }
    }
    let mut pool = Pool::new(2);
    pool.insert(tx.clone());
    pool.mined(&[(tx.hash, tx.from, tx.nonce)]);
    assert!(pool.is_empty());
    let b = would_be_block(&Header { number: u64::MAX, ..Default::default() }, &tx, None);
    assert_eq!(b.transactions.len(), 1);
});
