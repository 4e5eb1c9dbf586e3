//! Checks of one recorded block (the replay format, or what a node served live).

use crate::VerifyError;
use alloy_consensus::proofs::{
    calculate_receipt_root, calculate_transaction_root, calculate_withdrawals_root,
};
use alloy_consensus::transaction::SignerRecoverable;
use alloy_consensus::{
    Eip658Value, Header, Receipt, ReceiptEnvelope, ReceiptWithBloom, TxEnvelope, TxReceipt,
};
use alloy_eips::eip2718::Encodable2718;
use alloy_eips::eip4895::Withdrawal;
use alloy_primitives::{keccak256, Address, Bloom, Log, B256};
use palisade_primitives::{quantity as q, RecordedBlock};
use rayon::prelude::*;
use serde::Serialize;
use serde_json::Value;

/// The checks Palisade makes on a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// The block hash is the keccak of the RLP header.
    BlockHash,
    /// Each transaction's hash is the hash of its fields.
    TxHashes,
    /// The transactions root rebuilt from the transactions.
    TransactionsRoot,
    /// Each transaction's signature recovers the sender the node claims.
    Senders,
    /// The receipts root rebuilt from the receipts.
    ReceiptsRoot,
    /// The header's logs bloom rebuilt from the receipts' logs.
    LogsBloom,
    /// The withdrawals root rebuilt from the withdrawals.
    WithdrawalsRoot,
    /// Recorded account and storage proofs lead to the header's state root.
    Proofs,
    /// The recorded code of created contracts hashes to their proven code hash.
    Code,
    /// The recorded state before the block (for assertions) is the parent's: it names the
    /// block's parent, its proofs lead to the state root it names, and its code hashes to the
    /// proven code hashes. (That root is the parent's when the parent block was verified.)
    Prestate,
    /// Recorded view-call results. Never checked: `eth_call` executes on the endpoint, and no
    /// proof covers its result; listed so that a report says so.
    Calls,
}

impl Check {
    /// Snake-case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::BlockHash => "block_hash",
            Self::TxHashes => "tx_hashes",
            Self::TransactionsRoot => "transactions_root",
            Self::Senders => "senders",
            Self::ReceiptsRoot => "receipts_root",
            Self::LogsBloom => "logs_bloom",
            Self::WithdrawalsRoot => "withdrawals_root",
            Self::Proofs => "proofs",
            Self::Code => "code",
            Self::Prestate => "prestate",
            Self::Calls => "calls",
        }
    }
}

/// What verifying one block found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlockReport {
    /// Block number, when the data has one.
    pub number: Option<u64>,
    /// Checks made that passed.
    pub passed: Vec<Check>,
    /// Checks made that failed.
    pub failed: Vec<VerifyError>,
    /// Checks the data did not allow, with the reason.
    pub unchecked: Vec<(Check, String)>,
    /// Remarks on checks that passed in an unusual way.
    pub notes: Vec<String>,
}

impl BlockReport {
    fn skip(&mut self, c: Check, why: impl Into<String>) {
        self.unchecked.push((c, why.into()));
    }

    /// The checks of `required` that could not be made, as failures. Data fetched live for
    /// verification must allow every check asked for: a check the data evades is not a pass.
    pub fn unverifiable(&self, required: &[Check]) -> Vec<VerifyError> {
        self.unchecked
            .iter()
            .filter(|(c, _)| required.contains(c))
            .map(|(c, why)| VerifyError::Unverifiable {
                number: self.number.unwrap_or(0),
                check: c.as_str(),
                reason: why.clone(),
            })
            .collect()
    }
}

fn field_b256(v: &Value, k: &str) -> Option<B256> {
    v.get(k).and_then(|x| q::b256(x).ok())
}

/// Verifies everything the recorded data allows: header hash, transaction hashes, transactions
/// root and senders (full transactions with signatures), receipts root and logs bloom (receipts),
/// withdrawals root (withdrawals).
pub fn verify_block(rec: &RecordedBlock) -> BlockReport {
    verify_block_with(rec, true)
}

/// Like [`verify_block`]; without `senders` the signature recoveries (the costly part) are
/// skipped and reported as unchecked.
pub fn verify_block_with(rec: &RecordedBlock, senders: bool) -> BlockReport {
    let b = &rec.block;
    let number = b.get("number").and_then(|v| q::u64(v).ok());
    let mut r = BlockReport { number, ..Default::default() };
    let n = number.unwrap_or(0);

    // Header hash.
    let header = {
        let mut h = b.clone();
        if let Value::Object(m) = &mut h {
            for k in ["transactions", "withdrawals", "uncles"] {
                m.remove(k);
            }
        }
        serde_json::from_value::<Header>(h)
    };
    match (&header, field_b256(b, "hash")) {
        (Ok(h), Some(claimed)) => {
            let computed = h.hash_slow();
            if computed == claimed {
                r.passed.push(Check::BlockHash);
            } else {
                r.failed.push(VerifyError::BlockHash { number: n, claimed, computed });
            }
        }
        (Ok(_), None) => r.skip(Check::BlockHash, "no block hash to check against"),
        (Err(e), _) => r.skip(Check::BlockHash, format!("header incomplete: {e}")),
    }

    check_transactions(b, n, senders, &mut r);
    check_receipts(b, &rec.receipts, n, &mut r);

    // Withdrawals.
    match (b.get("withdrawals"), field_b256(b, "withdrawalsRoot")) {
        (Some(w @ Value::Array(_)), Some(claimed)) => {
            match serde_json::from_value::<Vec<Withdrawal>>(w.clone()) {
                Ok(ws) => {
                    let computed = calculate_withdrawals_root(&ws);
                    if computed == claimed {
                        r.passed.push(Check::WithdrawalsRoot);
                    } else {
                        r.failed.push(root_err(n, "withdrawalsRoot", claimed, computed));
                    }
                }
                Err(e) => r.skip(Check::WithdrawalsRoot, format!("withdrawals malformed: {e}")),
            }
        }
        (_, None) => {}
        (_, Some(_)) => r.skip(Check::WithdrawalsRoot, "withdrawals not included"),
    }

    // Account and storage proofs.
    match (&rec.proofs, field_b256(b, "stateRoot")) {
        (Value::Null, _) => r.skip(Check::Proofs, "no proofs recorded"),
        (p, Some(root)) => match crate::verify_proofs(root, p) {
            Ok(_) => r.passed.push(Check::Proofs),
            Err(e) => r.failed.push(e),
        },
        (_, None) => r.skip(Check::Proofs, "no stateRoot in the header"),
    }

    // Code of created contracts: each must hash to the code hash its proof gives.
    if !rec.code.is_null() {
        match crate::proof::verify_code(n, &rec.code, &rec.proofs) {
            Ok(()) if r.passed.contains(&Check::Proofs) => r.passed.push(Check::Code),
            Ok(()) => r.skip(Check::Code, "the code's proofs were not verified"),
            Err(e) => r.failed.push(e),
        }
    }
    if !rec.prestate.is_null() {
        match crate::proof::verify_prestate(n, field_b256(b, "parentHash"), &rec.prestate) {
            Ok(()) => r.passed.push(Check::Prestate),
            Err(e) => r.failed.push(e),
        }
    }
    if !rec.calls.is_null() {
        r.skip(
            Check::Calls,
            "view-call results are the endpoint's word (no proof covers execution)",
        );
    }
    // A field present but unparseable fails the check it feeds; that check is then failed, not
    // "not checked" (the skip above only saw that it could not be rebuilt).
    let malformed = crate::fields::malformed(b, &rec.receipts, n);
    if !malformed.is_empty() {
        let failed: Vec<&'static str> = malformed.iter().map(VerifyError::check).collect();
        let feeds = |c: Check| -> bool {
            failed.contains(&c.as_str())
                || (c == Check::TransactionsRoot || c == Check::Senders)
                    && failed.contains(&Check::TxHashes.as_str())
                || c == Check::LogsBloom && failed.contains(&Check::ReceiptsRoot.as_str())
        };
        r.unchecked.retain(|(c, _)| !feeds(*c));
        r.passed.retain(|c| !failed.contains(&c.as_str()));
        r.failed.extend(malformed);
    }
    r
}

fn root_err(
    number: u64,
    field: &'static str,
    claimed: impl ToString,
    computed: impl ToString,
) -> VerifyError {
    VerifyError::Root {
        number,
        field,
        claimed: claimed.to_string(),
        computed: computed.to_string(),
    }
}

fn check_transactions(b: &Value, n: u64, senders: bool, r: &mut BlockReport) {
    let Some(txs) = b.get("transactions").and_then(Value::as_array) else {
        for c in [Check::TransactionsRoot, Check::TxHashes, Check::Senders] {
            r.skip(c, "no transaction list");
        }
        return;
    };
    if txs.iter().any(|t| !t.is_object()) {
        for c in [Check::TransactionsRoot, Check::TxHashes, Check::Senders] {
            r.skip(c, "transactions are listed by hash only");
        }
        return;
    }
    let mut envs = Vec::with_capacity(txs.len());
    // The transactions as served, when some carried a blob sidecar.
    let mut served: Option<Vec<TxEnvelope>> = None;
    for (i, t) in txs.iter().enumerate() {
        match serde_json::from_value::<alloy_rpc_types_eth::Transaction>(t.clone()) {
            Ok(tx) => {
                let env = tx.inner.into_inner();
                let consensus = consensus_form(env.clone());
                if consensus != env {
                    served.get_or_insert_with(|| envs.iter().map(|(_, e, _)| e).cloned().collect());
                }
                if let Some(s) = &mut served {
                    s.push(env);
                }
                envs.push((i, consensus, t));
            }
            Err(e) => {
                let why = format!("transaction {i} cannot be rebuilt (no signature?): {e}");
                for c in [Check::TransactionsRoot, Check::TxHashes, Check::Senders] {
                    r.skip(c, why.clone());
                }
                return;
            }
        }
    }
    // Hashing and signature recovery dominate: spread them over the cores.
    let checked: Vec<(B256, Option<Result<Address, String>>)> = envs
        .par_iter()
        .with_min_len(4)
        .map(|(_, env, _)| {
            let computed = keccak256(env.encoded_2718());
            (computed, senders.then(|| env.recover_signer().map_err(|e| e.to_string())))
        })
        .collect();
    let (mut hashes_ok, mut senders_ok) = (true, true);
    for ((i, _, raw), (computed, recovered)) in envs.iter().zip(checked) {
        if let Some(claimed) = field_b256(raw, "hash") {
            if claimed != computed {
                hashes_ok = false;
                r.failed.push(VerifyError::TxHash { number: n, index: *i, claimed, computed });
            }
        }
        match recovered {
            None => {}
            Some(Ok(recovered)) => {
                let claimed_from = raw.get("from").and_then(|v| q::address(v).ok());
                if let Some(claimed) = claimed_from {
                    if claimed != recovered {
                        senders_ok = false;
                        r.failed.push(VerifyError::Sender {
                            number: n,
                            index: *i,
                            hash: computed,
                            claimed,
                            recovered,
                        });
                    }
                }
            }
            Some(Err(reason)) => {
                senders_ok = false;
                r.failed.push(VerifyError::Signature { number: n, index: *i, reason });
            }
        }
    }
    if hashes_ok {
        r.passed.push(Check::TxHashes);
    }
    if !senders {
        r.skip(Check::Senders, "sender recovery is off (verification = \"headers\")");
    } else if senders_ok {
        r.passed.push(Check::Senders);
    }
    match field_b256(b, "transactionsRoot") {
        Some(claimed) => {
            let list: Vec<&TxEnvelope> = envs.iter().map(|(_, e, _)| e).collect();
            let computed = calculate_transaction_root(&list);
            let with_sidecars = served.as_ref().map(|s| calculate_transaction_root(s));
            if computed == claimed {
                r.passed.push(Check::TransactionsRoot);
            } else if with_sidecars == Some(claimed) {
                // Every field of every transaction is still bound by this root.
                r.passed.push(Check::TransactionsRoot);
                r.notes.push("transactionsRoot is over the blob transactions with their sidecars, not their consensus form (anvil computes it so; a conforming node does not)".into());
            } else {
                r.failed.push(root_err(n, "transactionsRoot", claimed, computed));
            }
        }
        None => r.skip(Check::TransactionsRoot, "no transactionsRoot in the header"),
    }
}

/// The transaction as the block commits to it: a blob transaction served with its sidecar (blobs,
/// commitments, proofs: anvil includes them) is hashed and put in the trie without it.
fn consensus_form(env: TxEnvelope) -> TxEnvelope {
    match env {
        TxEnvelope::Eip4844(signed) => {
            let (tx, sig, hash) = signed.into_parts();
            let (tx, _sidecar) = tx.strip_sidecar();
            TxEnvelope::Eip4844(alloy_consensus::Signed::new_unchecked(tx, sig, hash))
        }
        other => other,
    }
}

/// Rebuilds a consensus receipt from its JSON-RPC form (type, status or post-state root,
/// cumulative gas, logs).
pub fn receipt_envelope(v: &Value) -> Result<ReceiptEnvelope, String> {
    let ty = v.get("type").map(q::u64).transpose()?.unwrap_or(0);
    let status = match (v.get("status"), v.get("root")) {
        (Some(s), _) if !s.is_null() => Eip658Value::Eip658(q::u64(s)? == 1),
        (_, Some(root)) if !root.is_null() => Eip658Value::PostState(q::b256(root)?),
        _ => return Err("neither status nor root".into()),
    };
    let cumulative_gas_used = q::u64(v.get("cumulativeGasUsed").ok_or("no cumulativeGasUsed")?)?;
    let mut logs = Vec::new();
    for l in v.get("logs").and_then(Value::as_array).ok_or("no logs")? {
        let address: Address = q::address(l.get("address").ok_or("log without address")?)?;
        let topics = l
            .get("topics")
            .and_then(Value::as_array)
            .ok_or("log without topics")?
            .iter()
            .map(q::b256)
            .collect::<Result<Vec<_>, _>>()?;
        let data = q::bytes(l.get("data").ok_or("log without data")?)?;
        logs.push(Log::new_unchecked(address, topics, data));
    }
    let rwb: ReceiptWithBloom<Receipt<Log>> =
        Receipt { status, cumulative_gas_used, logs }.with_bloom();
    Ok(match ty {
        0 => ReceiptEnvelope::Legacy(rwb),
        1 => ReceiptEnvelope::Eip2930(rwb),
        2 => ReceiptEnvelope::Eip1559(rwb),
        3 => ReceiptEnvelope::Eip4844(rwb),
        4 => ReceiptEnvelope::Eip7702(rwb),
        other => return Err(format!("unknown receipt type {other}")),
    })
}

fn check_receipts(b: &Value, receipts: &Value, n: u64, r: &mut BlockReport) {
    let Some(list) = receipts.as_array() else {
        r.skip(Check::ReceiptsRoot, "no receipts");
        r.skip(Check::LogsBloom, "no receipts");
        return;
    };
    let mut envs = Vec::with_capacity(list.len());
    for (i, v) in list.iter().enumerate() {
        match receipt_envelope(v) {
            Ok(e) => envs.push(e),
            Err(e) => {
                r.skip(Check::ReceiptsRoot, format!("receipt {i} cannot be rebuilt: {e}"));
                r.skip(Check::LogsBloom, format!("receipt {i} cannot be rebuilt: {e}"));
                return;
            }
        }
    }
    match field_b256(b, "receiptsRoot") {
        Some(claimed) => {
            let computed = calculate_receipt_root(&envs);
            if computed == claimed {
                r.passed.push(Check::ReceiptsRoot);
            } else {
                r.failed.push(root_err(n, "receiptsRoot", claimed, computed));
            }
        }
        None => r.skip(Check::ReceiptsRoot, "no receiptsRoot in the header"),
    }
    match b.get("logsBloom").and_then(Value::as_str).and_then(|s| s.parse::<Bloom>().ok()) {
        Some(claimed) => {
            let mut computed = Bloom::ZERO;
            for e in &envs {
                computed.accrue_bloom(&e.bloom());
            }
            if computed == claimed {
                r.passed.push(Check::LogsBloom);
            } else {
                r.failed.push(root_err(n, "logsBloom", claimed, computed));
            }
        }
        None => r.skip(Check::LogsBloom, "no logsBloom in the header"),
    }
}
