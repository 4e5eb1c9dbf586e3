//! Execution payloads as carried in beacon blocks (consensus-layer JSON: snake_case, decimal
//! quantities, raw transactions): the block hash is rebuilt from the payload's fields, its
//! transactions and withdrawals.

use crate::{BlockReport, Check, VerifyError};
use alloy_consensus::constants::EMPTY_OMMER_ROOT_HASH;
use alloy_consensus::proofs::calculate_withdrawals_root;
use alloy_consensus::transaction::SignerRecoverable;
use alloy_consensus::{Header, TxEnvelope};
use alloy_eips::eip2718::Decodable2718;
use alloy_eips::eip4895::Withdrawal;
use alloy_primitives::{Bloom, B64, U256};
use palisade_primitives::quantity as q;
use rayon::prelude::*;
use serde_json::Value;

fn get<'a>(p: &'a Value, k: &str) -> Result<&'a Value, String> {
    p.get(k).ok_or_else(|| format!("payload has no {k}"))
}

/// Verifies a Capella-or-later execution payload: each raw transaction decodes and its signature
/// recovers a sender, and the header built from the payload's fields with the recomputed
/// transactions and withdrawals roots hashes to the payload's `block_hash`.
pub fn verify_execution_payload(p: &Value) -> Result<BlockReport, String> {
    let number = q::u64(get(p, "block_number")?)?;
    let mut r = BlockReport { number: Some(number), ..Default::default() };
    let raws = get(p, "transactions")?.as_array().ok_or("transactions is not a list")?;
    // The transactions as the block commits to them (their EIP-2718 bytes), hex-decoded on
    // every core. Then the transactions trie, which is serial, is built on one core while the
    // others decode each transaction and recover its signer (the bulk of the work), so the
    // trie no longer waits for recovery.
    let bytes: Vec<Result<alloy_primitives::Bytes, String>> =
        raws.par_iter().with_min_len(16).map(q::bytes).collect();
    let bytes = bytes.into_iter().collect::<Result<Vec<_>, String>>()?;
    // Per transaction: if it decodes, why recovery failed (None: it recovered).
    type Done = Result<Option<String>, String>;
    let (transactions_root, done) = rayon::join(
        || {
            alloy_trie::root::ordered_trie_root_with_encoder(&bytes, |e, buf| {
                buf.extend_from_slice(e)
            })
        },
        || -> Vec<Done> {
            bytes
                .par_iter()
                .with_min_len(4)
                .enumerate()
                .map(|(i, raw)| {
                    let tx = TxEnvelope::decode_2718(&mut raw.as_ref())
                        .map_err(|e| format!("transaction {i}: {e}"))?;
                    Ok(tx.recover_signer().err().map(|e| e.to_string()))
                })
                .collect()
        },
    );
    for (i, d) in done.into_iter().enumerate() {
        if let Some(reason) = d? {
            r.failed.push(VerifyError::Signature { number, index: i, reason });
        }
    }
    if r.failed.is_empty() {
        r.passed.push(Check::Senders);
    }
    let withdrawals: Vec<Withdrawal> = p
        .get("withdrawals")
        .map(|w| {
            w.as_array()
                .ok_or("withdrawals is not a list")?
                .iter()
                .map(|w| {
                    Ok(Withdrawal {
                        index: q::u64(get(w, "index")?)?,
                        validator_index: q::u64(get(w, "validator_index")?)?,
                        address: q::address(get(w, "address")?)?,
                        amount: q::u64(get(w, "amount")?)?,
                    })
                })
                .collect::<Result<Vec<_>, String>>()
        })
        .transpose()?
        .unwrap_or_default();
    let header = Header {
        parent_hash: q::b256(get(p, "parent_hash")?)?,
        ommers_hash: EMPTY_OMMER_ROOT_HASH,
        beneficiary: q::address(get(p, "fee_recipient")?)?,
        state_root: q::b256(get(p, "state_root")?)?,
        transactions_root,
        receipts_root: q::b256(get(p, "receipts_root")?)?,
        logs_bloom: get(p, "logs_bloom")?
            .as_str()
            .ok_or("logs_bloom")?
            .parse::<Bloom>()
            .map_err(|e| e.to_string())?,
        difficulty: U256::ZERO,
        number,
        gas_limit: q::u64(get(p, "gas_limit")?)?,
        gas_used: q::u64(get(p, "gas_used")?)?,
        timestamp: q::u64(get(p, "timestamp")?)?,
        extra_data: q::bytes(get(p, "extra_data")?)?,
        mix_hash: q::b256(get(p, "prev_randao")?)?,
        nonce: B64::ZERO,
        base_fee_per_gas: Some(q::u64(get(p, "base_fee_per_gas")?)?),
        withdrawals_root: p.get("withdrawals").map(|_| calculate_withdrawals_root(&withdrawals)),
        blob_gas_used: p.get("blob_gas_used").map(q::u64).transpose()?,
        excess_blob_gas: p.get("excess_blob_gas").map(q::u64).transpose()?,
        parent_beacon_block_root: None,
        requests_hash: None,
    };
    let claimed = q::b256(get(p, "block_hash")?)?;
    let computed = header.hash_slow();
    if claimed == computed {
        r.passed.push(Check::BlockHash);
        // The hash commits to the recomputed roots, so they are right too.
        r.passed.push(Check::TransactionsRoot);
        if p.get("withdrawals").is_some() {
            r.passed.push(Check::WithdrawalsRoot);
        }
    } else {
        r.failed.push(VerifyError::BlockHash { number, claimed, computed });
    }
    Ok(r)
}
