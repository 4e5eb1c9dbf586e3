//! BLOCKHASH in a block's re-execution: what it read is recorded with the prestate (through
//! `ReadSet`), and the recorded prestate answers it again (the parent's hash always, older ones
//! as recorded), and names a hash it lacks.

use alloy_primitives::B256;
use palisade_assert::{PrestateDb, ReadSet, Reads};
use palisade_primitives::assertion::Prestate;
use palisade_primitives::BlockRef;
use revm::database::{CacheDB, EmptyDB};
use revm::DatabaseRef;

#[test]
fn block_hashes_read_are_recorded_and_answered_from_the_prestate() {
    let reads = Reads::default();
    let node = ReadSet::new(CacheDB::new(EmptyDB::default()), reads.clone());
    let h98 = node.block_hash_ref(98).unwrap();
    assert_eq!(h98, EmptyDB::default().block_hash_ref(98).unwrap());
    assert_eq!(reads.take_hashes(), vec![(98, h98)]);

    let parent = B256::repeat_byte(0x99);
    let p = Prestate {
        parent: BlockRef::new(99, parent),
        state_root: B256::ZERO,
        accounts: Vec::new(),
        proofs: serde_json::Value::Null,
        txs: Vec::new(),
        prevrandao: None,
        excess_blob_gas: None,
        chain_id: 1,
        block_hashes: vec![(98, h98)],
    };
    let db = PrestateDb::new(&p);
    assert_eq!(db.block_hash_ref(99).unwrap(), parent);
    assert_eq!(db.block_hash_ref(98).unwrap(), h98);
    let e = db.block_hash_ref(97).unwrap_err().to_string();
    assert!(e.contains("block 97") && e.contains("not in the recorded prestate"), "{e}");
    // Read from the recorded line's JSON, as replay does.
    let v = serde_json::json!({
        "parent": {"number": "0x63", "hash": parent, "stateRoot": B256::ZERO},
        "chainId": "0x1",
        "accounts": [],
        "blockHashes": [{"number": "0x62", "hash": h98}],
    });
    let parsed = Prestate::parse(&v, &serde_json::json!({"transactions": []})).unwrap().unwrap();
    assert_eq!(parsed.block_hashes, vec![(98, h98)]);
}
