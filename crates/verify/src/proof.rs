//! EIP-1186 account and storage proofs.

use crate::VerifyError;
use alloy_primitives::{keccak256, B256};
use alloy_rpc_types_eth::EIP1186AccountProofResponse;
use alloy_trie::{proof::verify_proof, Nibbles, TrieAccount};
use serde_json::Value;

/// Verifies an `eth_getProof` account proof against a state root (from a verified header):
/// the account's nonce, balance, storage root and code hash are what the state holds (or, for an
/// empty account, that it is absent).
pub fn verify_account_proof(
    state_root: B256,
    p: &EIP1186AccountProofResponse,
) -> Result<(), VerifyError> {
    let key = Nibbles::unpack(keccak256(p.address));
    let expected = if p.is_empty() {
        None
    } else {
        let acc = TrieAccount {
            nonce: p.nonce,
            balance: p.balance,
            storage_root: p.storage_hash,
            code_hash: p.code_hash,
        };
        Some(alloy_rlp::encode(acc))
    };
    verify_proof(state_root, key, expected, &p.account_proof).map_err(|e| VerifyError::Proof {
        what: format!("account {}", p.address),
        root: state_root,
        reason: e.to_string(),
    })
}

/// Verifies every storage proof of an `eth_getProof` answer against the account's storage root
/// (itself proven by [`verify_account_proof`]).
pub fn verify_storage_proofs(p: &EIP1186AccountProofResponse) -> Result<(), VerifyError> {
    for sp in &p.storage_proof {
        let slot = sp.key.as_b256();
        let key = Nibbles::unpack(keccak256(slot));
        let expected = (!sp.value.is_zero()).then(|| alloy_rlp::encode(sp.value));
        verify_proof(p.storage_hash, key, expected, &sp.proof).map_err(|e| VerifyError::Proof {
            what: format!("slot {slot} of {}", p.address),
            root: p.storage_hash,
            reason: e.to_string(),
        })?;
    }
    Ok(())
}

/// Verifies the `proofs` of a recorded line (an array of `eth_getProof` answers) against the
/// block's state root: every account proof, then every storage proof under the proven storage
/// root. Returns how many accounts were proven.
pub fn verify_proofs(state_root: B256, proofs: &Value) -> Result<usize, VerifyError> {
    let list = proofs.as_array().ok_or_else(|| VerifyError::Proof {
        what: "proofs".into(),
        root: state_root,
        reason: "not an array of eth_getProof answers".into(),
    })?;
    for (i, v) in list.iter().enumerate() {
        let p: EIP1186AccountProofResponse =
            serde_json::from_value(v.clone()).map_err(|e| VerifyError::Proof {
                what: format!("proofs[{i}]"),
                root: state_root,
                reason: format!("not an eth_getProof answer: {e}"),
            })?;
        verify_account_proof(state_root, &p)?;
        verify_storage_proofs(&p)?;
    }
    Ok(list.len())
}

/// Checks the `prestate` of a recorded line: it names `parent_hash` (the block's parent), its
/// accounts' proofs lead to the state root it names, each account's code hashes to its proven
/// code hash, and a BLOCKHASH read of the parent gives the parent's hash.
pub fn verify_prestate(
    number: u64,
    parent_hash: Option<B256>,
    prestate: &Value,
) -> Result<(), VerifyError> {
    let q = |v: &Value| palisade_primitives::quantity::b256(v).ok();
    let q_u64 = |v: &Value| palisade_primitives::quantity::u64(v).ok();
    let mut hashes = Vec::new();
    for h in prestate.get("blockHashes").and_then(Value::as_array).into_iter().flatten() {
        match (h.get("number").and_then(q_u64), h.get("hash").and_then(q)) {
            (Some(n), Some(x)) => hashes.push((n, x)),
            _ => {
                return Err(VerifyError::Prestate {
                    number,
                    reason: format!("a blockHashes entry is malformed: {h}"),
                })
            }
        }
    }
    let empty = Value::Array(Vec::new());
    check_prestate(
        number,
        parent_hash,
        (
            prestate.pointer("/parent/number").and_then(q_u64),
            prestate.pointer("/parent/hash").and_then(q),
            prestate.pointer("/parent/stateRoot").and_then(q),
        ),
        prestate.get("accounts").unwrap_or(&empty),
        &hashes,
    )
}

/// [`verify_prestate`] of a prestate already decoded with its block (what replay holds), so
/// the line need not be read again.
pub fn verify_decoded_prestate(
    number: u64,
    parent_hash: Option<B256>,
    p: &palisade_primitives::assertion::Prestate,
) -> Result<(), VerifyError> {
    let parent = (Some(p.parent.number), Some(p.parent.hash), Some(p.state_root));
    check_prestate(number, parent_hash, parent, &p.proofs, &p.block_hashes)
}

/// The checks of [`verify_prestate`]: `parent` is the (number, hash, state root) the prestate
/// names, `accounts` its `eth_getProof` answers (with `code`).
fn check_prestate(
    number: u64,
    parent_hash: Option<B256>,
    parent: (Option<u64>, Option<B256>, Option<B256>),
    accounts: &Value,
    block_hashes: &[(u64, B256)],
) -> Result<(), VerifyError> {
    let bad = |reason: String| VerifyError::Prestate { number, reason };
    let (parent_number, named, root) = parent;
    if named.is_none() || named != parent_hash {
        return Err(bad(format!(
            "it is the state of block {named:?}, the block's parent is {parent_hash:?}"
        )));
    }
    let root = root.ok_or_else(|| bad("no parent.stateRoot".into()))?;
    // BLOCKHASH reads: the parent's hash must be the parent's (older ones cannot be checked
    // here: they are the node's word).
    for (n, x) in block_hashes {
        if Some(*n) == parent_number && Some(*x) != named {
            return Err(bad(format!("it says block {n} has hash {x}, the parent is {named:?}")));
        }
    }
    verify_proofs(root, accounts).map_err(|e| bad(e.to_string()))?;
    let code: Vec<Value> = accounts
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a.get("code").is_some_and(|c| !c.is_null()))
        .map(|a| serde_json::json!({"address": a["address"], "code": a["code"]}))
        .collect();
    verify_code(number, &Value::Array(code), accounts).map_err(|e| bad(e.to_string()))
}

/// Checks the `code` of a recorded line (`[{"address", "code"}]`) against its `proofs`: every
/// address must have a proof whose code hash is the keccak of the code. (The proofs themselves
/// are checked against the state root by [`verify_proofs`].)
pub fn verify_code(number: u64, code: &Value, proofs: &Value) -> Result<(), VerifyError> {
    let bad = |what: String, reason: String| VerifyError::Proof {
        what: format!("block {number}: code of {what}"),
        root: B256::ZERO,
        reason,
    };
    let entries = code.as_array().ok_or_else(|| bad("?".into(), "code is not an array".into()))?;
    for e in entries {
        let addr = e
            .get("address")
            .and_then(|a| palisade_primitives::quantity::address(a).ok())
            .ok_or_else(|| bad("?".into(), "an entry has no address".into()))?;
        let bytes = e
            .get("code")
            .and_then(|c| palisade_primitives::quantity::bytes(c).ok())
            .ok_or_else(|| bad(addr.to_string(), "no code".into()))?;
        let proven = proofs
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| {
                p.get("address").and_then(|a| palisade_primitives::quantity::address(a).ok())
                    == Some(addr)
            })
            .and_then(|p| {
                p.get("codeHash").and_then(|h| palisade_primitives::quantity::b256(h).ok())
            })
            .ok_or_else(|| bad(addr.to_string(), "no proof of the account".into()))?;
        let computed = keccak256(&bytes);
        if computed != proven {
            return Err(bad(
                addr.to_string(),
                format!("code hashes to {computed}, the proven code hash is {proven}"),
            ));
        }
    }
    Ok(())
}
