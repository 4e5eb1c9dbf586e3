//! The state recorded before a block for assertions (`prestate`), on the assertions fixture
//! recorded from a real anvil: it verifies against the parent's state root; a changed balance,
//! another parent, or a false hash for the parent among the BLOCKHASH reads, does not.

use palisade_primitives::quantity::b256;
use palisade_verify::verify_prestate;
use serde_json::Value;

fn lines() -> Vec<Value> {
    palisade_testing::fixtures::text("anvil/assertions-chain.jsonl.zst")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn a_recorded_prestate_verifies_and_a_changed_one_does_not() {
    let with: Vec<Value> = lines().into_iter().filter(|l| !l["prestate"].is_null()).collect();
    assert_eq!(with.len(), 4, "the blocks that reach the vault carry their prestate");
    for l in &with {
        let n = palisade_primitives::quantity::u64(&l["block"]["number"]).unwrap();
        let parent = b256(&l["block"]["parentHash"]).ok();
        verify_prestate(n, parent, &l["prestate"]).unwrap();

        let mut p = l["prestate"].clone();
        p["accounts"][0]["balance"] = Value::String("0x1".into());
        let e = verify_prestate(n, parent, &p).unwrap_err();
        assert_eq!(e.check(), "prestate", "{e}");

        let e = verify_prestate(n, Some(Default::default()), &l["prestate"]).unwrap_err();
        assert!(e.to_string().contains("the block's parent is"), "{e}");

        let mut p = l["prestate"].clone();
        p["blockHashes"] = serde_json::json!([{"number": l["prestate"]["parent"]["number"],
            "hash": format!("0x{}", "11".repeat(32))}]);
        let e = verify_prestate(n, parent, &p).unwrap_err();
        assert!(e.to_string().contains("has hash"), "{e}");
        // The parent's own hash among them is fine.
        p["blockHashes"][0]["hash"] = l["prestate"]["parent"]["hash"].clone();
        verify_prestate(n, parent, &p).unwrap();
    }
}
