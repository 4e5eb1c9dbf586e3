//! The state before a committed block that its assertions need, recorded with the block.

use crate::{BlockState, ForkDb, SimError};
use palisade_assert::{
    block_cfg, block_env, check_block, last_candidate, Prepared, ReadSet, Reads,
};
use palisade_primitives::assertion::{AssertionSpec, ExecTx, Prestate};
use palisade_primitives::{Address, BlockData, BlockRef, Header, B256};
use palisade_source::evm_rpc::RpcClient;
use serde_json::{json, Value};
use std::sync::Arc;

/// The `prestate` of a block for `specs`: the block's transactions, up to the last one that
/// reaches an adopter, are executed (with the assertions they trigger) on the state of
/// `parent` (a verified header), loaded lazily from the node and proven against the parent's
/// state root; what was read is then fetched again with `eth_getProof` and `eth_getCode` at the
/// parent and checked. Null when no transaction reaches an adopter.
///
/// `block` is the decoded form of `raw` (the block object with full transactions).
pub async fn record_prestate(
    rpc: Arc<RpcClient>,
    chain_id: u64,
    parent: &Header,
    raw: &Value,
    block: &BlockData,
    specs: &[Arc<AssertionSpec>],
) -> Result<Value, SimError> {
    let number = block.header.number;
    let adopters: Vec<Address> = specs.iter().map(|s| s.adopter).collect();
    let Some(last) = last_candidate(block, &adopters) else { return Ok(Value::Null) };
    let state_err = |reason: String| SimError::State { number, reason };
    let txs = raw
        .get("transactions")
        .and_then(Value::as_array)
        .ok_or_else(|| state_err("the block has no transaction list".into()))?
        .iter()
        .take(last + 1)
        .map(ExecTx::from_json)
        .collect::<Result<Vec<_>, _>>()
        .map_err(state_err)?;
    let parent_hash =
        parent.hash.ok_or(SimError::Header { number: parent.number, field: "hash" })?;
    let state_root =
        parent.state_root.ok_or(SimError::Header { number: parent.number, field: "stateRoot" })?;
    let env_of = Prestate {
        parent: BlockRef::new(parent.number, parent_hash),
        state_root,
        accounts: Vec::new(),
        proofs: Value::Null,
        txs: Vec::new(),
        prevrandao: raw.get("mixHash").and_then(|x| palisade_primitives::quantity::b256(x).ok()),
        excess_blob_gas: raw
            .get("excessBlobGas")
            .and_then(|x| palisade_primitives::quantity::u64(x).ok()),
        chain_id,
        block_hashes: Vec::new(),
    };
    let env = block_env(&block.header, &env_of);
    let state = Arc::new(BlockState::new(parent)?);
    let db = ForkDb::new(state, rpc.clone(), tokio::runtime::Handle::current());
    let reads = Reads::default();
    let (specs, seen) = (specs.to_vec(), reads.clone());
    tokio::task::spawn_blocking(move || {
        let prepared: Vec<Arc<Prepared>> = specs
            .into_iter()
            .filter_map(|s| Prepared::new(s, chain_id).ok().map(Arc::new))
            .collect();
        check_block(ReadSet::new(db, seen), &env, &block_cfg(chain_id), &txs, &prepared)
            .map(|_| ())
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| SimError::Worker(e.to_string()))?
    .map_err(|e| SimError::State { number: parent.number, reason: e })?;
    let hashes: Vec<serde_json::Value> = reads
        .take_hashes()
        .into_iter()
        .map(|(n, h)| json!({"number": format!("{n:#x}"), "hash": h}))
        .collect();
    let wanted: Vec<(Address, Vec<B256>)> = reads
        .take()
        .into_iter()
        .map(|(a, slots)| (a, slots.into_iter().map(B256::from).collect()))
        .collect();
    let fetch_err = |e: palisade_source::SourceError| SimError::State {
        number: parent.number,
        reason: e.to_string(),
    };
    let mut proofs = rpc.proofs(&wanted, parent_hash).await.map_err(fetch_err)?;
    let with_code: Vec<Address> = proofs
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| {
            p.get("codeHash")
                .and_then(|h| palisade_primitives::quantity::b256(h).ok())
                .is_some_and(|h| h != palisade_primitives::keccak256([]))
        })
        .filter_map(|p| {
            p.get("address").and_then(|a| palisade_primitives::quantity::address(a).ok())
        })
        .collect();
    let code = if with_code.is_empty() {
        Value::Array(Vec::new())
    } else {
        rpc.code_at(&with_code, parent_hash).await.map_err(fetch_err)?
    };
    for p in proofs.as_array_mut().into_iter().flatten() {
        let a = p.get("address").and_then(|a| palisade_primitives::quantity::address(a).ok());
        let c = code.as_array().into_iter().flatten().find(|c| {
            c.get("address").and_then(|x| palisade_primitives::quantity::address(x).ok()) == a
        });
        if let (Some(c), Some(o)) = (c, p.as_object_mut()) {
            o.insert("code".into(), c.get("code").cloned().unwrap_or(Value::Null));
        }
    }
    let prestate = json!({
        "parent": {"number": format!("{:#x}", parent.number), "hash": parent_hash, "stateRoot": state_root},
        "chainId": format!("{chain_id:#x}"),
        "accounts": proofs,
        "blockHashes": hashes,
    });
    palisade_verify::verify_prestate(number, Some(parent_hash), &prestate)
        .map_err(|e| SimError::Lie { number: parent.number, reason: e.to_string() })?;
    Ok(prestate)
}
