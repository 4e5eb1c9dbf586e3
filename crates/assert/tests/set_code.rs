//! EIP-7702 set-code transactions are re-executed with their authorizations, as a node does:
//! an account that delegates its code to the drainer in the same transaction drains the vault,
//! and the assertions see it. The transaction is read from its JSON-RPC object.

mod support;

use alloy_primitives::{Address, B256, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use palisade_assert::{tx_env, Verdict};
use palisade_primitives::assertion::ExecTx;
use revm::context::transaction::Authorization;
use revm::DatabaseRef;
use support::*;

#[test]
fn a_set_code_transaction_runs_with_its_authorization_and_breaks_the_assertions() {
    let (mut c, vault, drainer) = vault_chain();
    let assertions = vault_assertions(vault);
    // An account with a real key delegates its code to the drainer (whose boss is the
    // attacker); the attacker's set-code transaction then calls it.
    let key = PrivateKeySigner::random();
    let authority = key.address();
    let auth = Authorization { chain_id: U256::from(1), address: drainer, nonce: 0 };
    let sig = key.sign_hash_sync(&auth.signature_hash()).unwrap();
    let mut input = sel("run(address)").to_vec();
    input.extend(word(vault));
    let json = serde_json::json!({
        "hash": B256::repeat_byte(7),
        "from": ATTACKER,
        "to": authority,
        "value": "0x0",
        "input": format!("0x{}", alloy_primitives::hex::encode(&input)),
        "gas": "0x4c4b40",
        "maxFeePerGas": "0x0",
        "maxPriorityFeePerGas": "0x0",
        "nonce": "0x1",
        "type": "0x4",
        "chainId": "0x1",
        "accessList": [],
        "authorizationList": [{
            "chainId": "0x1",
            "address": drainer,
            "nonce": "0x0",
            "yParity": if sig.v() { "0x1" } else { "0x0" },
            "r": format!("{:#x}", sig.r()),
            "s": format!("{:#x}", sig.s()),
        }],
    });
    let t = ExecTx::from_json(&json).unwrap();
    assert_eq!((t.tx_type, t.authorizations.len()), (4, 1));
    let before = c.db.basic_ref(vault).unwrap().unwrap().balance;
    let r = c.run(tx_env(&t), &assertions);
    assert!(r.success);
    // The authority now runs the drainer's code, and the vault was emptied through it.
    let code = c.db.basic_ref(authority).unwrap().unwrap().code.unwrap().original_bytes();
    assert_eq!(&code[..3], &[0xef, 0x01, 0x00]);
    assert_eq!(Address::from_slice(&code[3..]), drainer);
    assert!(before > U256::ZERO);
    assert_eq!(c.db.basic_ref(vault).unwrap().unwrap().balance, U256::ZERO);
    let verdicts: Vec<&Verdict> = r.outcomes.iter().map(|o| &o.verdict).collect();
    assert_eq!(r.outcomes.len(), 2, "{:#?}", r.outcomes);
    assert!(r.outcomes.iter().all(|o| o.violated()), "{verdicts:?}");
    // The call that triggered the share-price assertion: the delegated account's migrate.
    assert_eq!(r.outcomes[0].trigger.caller, Some(authority));

    // A set-code transaction without its authorizations cannot be re-executed: said so.
    let mut bare = json.clone();
    bare.as_object_mut().unwrap().remove("authorizationList");
    let e = ExecTx::from_json(&bare).unwrap_err();
    assert!(e.contains("authorizationList"), "{e}");
    let mut broken = json.clone();
    broken["authorizationList"][0]["r"] = serde_json::json!("zz");
    let e = ExecTx::from_json(&broken).unwrap_err();
    assert!(e.contains("authorizationList[0].r"), "{e}");
}
