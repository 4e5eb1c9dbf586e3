//! Field-by-field checks of what a block's JSON holds: a field that is present but cannot be
//! parsed as its type (a 100-digit value, a 2-byte hash, a gas figure beyond 64 bits) is a failed
//! check, not a check the data "did not allow". Only absent fields leave a check unchecked.

use crate::block::Check;
use crate::VerifyError;
use palisade_primitives::quantity as q;
use serde_json::Value;

/// How a field must parse.
#[derive(Debug, Clone, Copy)]
enum Kind {
    U64,
    U128,
    U256,
    /// A quantity that must be 0 or 1 (a receipt's status).
    Bit,
    Hash,
    Address,
    Bytes,
    /// 8 bytes (the PoW nonce).
    B64,
    /// 256 bytes.
    Bloom,
    /// An array of 32-byte hashes.
    Hashes,
    /// An array of objects (access and authorization lists: checked by the rebuild).
    Array,
}

/// Header fields (JSON-RPC names) and their types: each is part of the hashed header.
const HEADER: &[(&str, Kind)] = &[
    ("number", Kind::U64),
    ("hash", Kind::Hash),
    ("parentHash", Kind::Hash),
    ("sha3Uncles", Kind::Hash),
    ("miner", Kind::Address),
    ("stateRoot", Kind::Hash),
    ("transactionsRoot", Kind::Hash),
    ("receiptsRoot", Kind::Hash),
    ("logsBloom", Kind::Bloom),
    ("difficulty", Kind::U256),
    ("gasLimit", Kind::U64),
    ("gasUsed", Kind::U64),
    ("timestamp", Kind::U64),
    ("extraData", Kind::Bytes),
    ("mixHash", Kind::Hash),
    ("nonce", Kind::B64),
    ("baseFeePerGas", Kind::U64),
    ("withdrawalsRoot", Kind::Hash),
    ("blobGasUsed", Kind::U64),
    ("excessBlobGas", Kind::U64),
    ("parentBeaconBlockRoot", Kind::Hash),
    ("requestsHash", Kind::Hash),
];

/// Transaction fields: each is hashed into the transaction (or names it).
const TX: &[(&str, Kind)] = &[
    ("hash", Kind::Hash),
    ("type", Kind::U64),
    ("nonce", Kind::U64),
    ("from", Kind::Address),
    ("to", Kind::Address),
    ("value", Kind::U256),
    ("gas", Kind::U64),
    ("gasPrice", Kind::U128),
    ("maxFeePerGas", Kind::U128),
    ("maxPriorityFeePerGas", Kind::U128),
    ("maxFeePerBlobGas", Kind::U128),
    ("input", Kind::Bytes),
    ("chainId", Kind::U64),
    ("v", Kind::U256),
    ("r", Kind::U256),
    ("s", Kind::U256),
    ("yParity", Kind::Bit),
    ("accessList", Kind::Array),
    ("blobVersionedHashes", Kind::Hashes),
    ("authorizationList", Kind::Array),
    ("transactionIndex", Kind::U64),
    ("blockNumber", Kind::U64),
    ("blockHash", Kind::Hash),
];

/// Receipt fields that go into the receipts root and bloom, or name the receipt.
const RECEIPT: &[(&str, Kind)] = &[
    ("type", Kind::U64),
    ("status", Kind::Bit),
    ("root", Kind::Hash),
    ("cumulativeGasUsed", Kind::U64),
    ("gasUsed", Kind::U64),
    ("logsBloom", Kind::Bloom),
    ("transactionHash", Kind::Hash),
    ("transactionIndex", Kind::U64),
    ("contractAddress", Kind::Address),
];

const LOG: &[(&str, Kind)] =
    &[("address", Kind::Address), ("topics", Kind::Hashes), ("data", Kind::Bytes)];

const WITHDRAWAL: &[(&str, Kind)] = &[
    ("index", Kind::U64),
    ("validatorIndex", Kind::U64),
    ("address", Kind::Address),
    ("amount", Kind::U64),
];

fn fixed(v: &Value, len: usize) -> Result<(), String> {
    let b = q::bytes(v)?;
    if b.len() == len {
        Ok(())
    } else {
        Err(format!("{} bytes where {len} are required", b.len()))
    }
}

fn parse(kind: Kind, v: &Value) -> Result<(), String> {
    match kind {
        Kind::U64 => q::u64(v).map(drop),
        Kind::U128 => q::u128(v).map(drop),
        Kind::U256 => q::u256(v).map(drop),
        Kind::Bit => match q::u64(v)? {
            0 | 1 => Ok(()),
            other => Err(format!("{other} where 0 or 1 is required")),
        },
        Kind::Hash => fixed(v, 32),
        Kind::Address => fixed(v, 20),
        Kind::Bytes => q::bytes(v).map(drop),
        Kind::B64 => fixed(v, 8),
        Kind::Bloom => fixed(v, 256),
        Kind::Hashes => match v {
            Value::Array(xs) => xs
                .iter()
                .enumerate()
                .try_for_each(|(i, x)| fixed(x, 32).map_err(|e| format!("item {i}: {e}"))),
            other => Err(format!("an array is required, found {}", q::kind(other))),
        },
        Kind::Array => match v {
            Value::Array(_) => Ok(()),
            other => Err(format!("an array is required, found {}", q::kind(other))),
        },
    }
}

/// Fields of `obj` (named `path` in messages) present, not null, and not parseable.
fn scan(
    obj: &Value,
    path: &str,
    table: &[(&str, Kind)],
    check: Check,
    number: u64,
    out: &mut Vec<VerifyError>,
) {
    let Value::Object(m) = obj else {
        out.push(VerifyError::Malformed {
            number,
            check: check.as_str(),
            field: path.to_string(),
            reason: format!("an object is required, found {}", q::kind(obj)),
        });
        return;
    };
    for (name, kind) in table {
        match m.get(*name) {
            None | Some(Value::Null) => {}
            Some(v) => {
                if let Err(reason) = parse(*kind, v) {
                    out.push(VerifyError::Malformed {
                        number,
                        check: check.as_str(),
                        field: if path.is_empty() {
                            (*name).to_string()
                        } else {
                            format!("{path}.{name}")
                        },
                        reason,
                    });
                }
            }
        }
    }
}

/// Every field of the recorded block (header, transactions, receipts and their logs,
/// withdrawals) that is present but does not parse as its type, as failures of the check that
/// field feeds.
pub(crate) fn malformed(block: &Value, receipts: &Value, number: u64) -> Vec<VerifyError> {
    let mut out = Vec::new();
    scan(block, "", HEADER, Check::BlockHash, number, &mut out);
    match block.get("transactions") {
        Some(Value::Array(txs)) => {
            for (i, t) in txs.iter().enumerate() {
                match t {
                    // Listed by hash only.
                    Value::String(_) => {
                        if let Err(reason) = parse(Kind::Hash, t) {
                            out.push(VerifyError::Malformed {
                                number,
                                check: Check::TxHashes.as_str(),
                                field: format!("transactions[{i}]"),
                                reason,
                            });
                        }
                    }
                    _ => scan(
                        t,
                        &format!("transactions[{i}]"),
                        TX,
                        Check::TxHashes,
                        number,
                        &mut out,
                    ),
                }
            }
        }
        None | Some(Value::Null) => {}
        Some(other) => out.push(VerifyError::Malformed {
            number,
            check: Check::TransactionsRoot.as_str(),
            field: "transactions".into(),
            reason: format!("an array is required, found {}", q::kind(other)),
        }),
    }
    match block.get("withdrawals") {
        Some(Value::Array(ws)) => {
            for (i, w) in ws.iter().enumerate() {
                scan(
                    w,
                    &format!("withdrawals[{i}]"),
                    WITHDRAWAL,
                    Check::WithdrawalsRoot,
                    number,
                    &mut out,
                );
            }
        }
        None | Some(Value::Null) => {}
        Some(other) => out.push(VerifyError::Malformed {
            number,
            check: Check::WithdrawalsRoot.as_str(),
            field: "withdrawals".into(),
            reason: format!("an array is required, found {}", q::kind(other)),
        }),
    }
    match receipts {
        Value::Array(rs) => {
            for (i, r) in rs.iter().enumerate() {
                let path = format!("receipts[{i}]");
                scan(r, &path, RECEIPT, Check::ReceiptsRoot, number, &mut out);
                let Value::Object(m) = r else { continue };
                // A receipt commits to its outcome: a status (since Byzantium) or a state root.
                let has = |k: &str| m.get(k).is_some_and(|v| !v.is_null());
                if !has("status") && !has("root") {
                    out.push(VerifyError::Malformed {
                        number,
                        check: Check::ReceiptsRoot.as_str(),
                        field: format!("{path}.status"),
                        reason: "a receipt needs a status or a post-state root; it has neither"
                            .into(),
                    });
                }
                match m.get("logs") {
                    Some(Value::Array(logs)) => {
                        for (j, l) in logs.iter().enumerate() {
                            scan(
                                l,
                                &format!("{path}.logs[{j}]"),
                                LOG,
                                Check::ReceiptsRoot,
                                number,
                                &mut out,
                            );
                        }
                    }
                    None | Some(Value::Null) => out.push(VerifyError::Malformed {
                        number,
                        check: Check::ReceiptsRoot.as_str(),
                        field: format!("{path}.logs"),
                        reason: "a receipt needs its logs (an empty array when there are none)"
                            .into(),
                    }),
                    Some(other) => out.push(VerifyError::Malformed {
                        number,
                        check: Check::ReceiptsRoot.as_str(),
                        field: format!("{path}.logs"),
                        reason: format!("an array is required, found {}", q::kind(other)),
                    }),
                }
            }
        }
        Value::Null => {}
        other => out.push(VerifyError::Malformed {
            number,
            check: Check::ReceiptsRoot.as_str(),
            field: "receipts".into(),
            reason: format!("an array is required, found {}", q::kind(other)),
        }),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn present_but_unparseable_fields_are_named() {
        let block = json!({
            "number": "0x10",
            "hash": "0xabcd",
            "gasUsed": format!("0x{}", "f".repeat(64)),
            "transactions": [{"value": format!("0x{}", "1".repeat(100)), "to": null}],
        });
        let receipts = json!([{"cumulativeGasUsed": "0x1", "logs": []}]);
        let got = malformed(&block, &receipts, 16);
        let fields: Vec<_> = got
            .iter()
            .map(|e| match e {
                VerifyError::Malformed { field, check, .. } => (field.as_str(), *check),
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(
            fields,
            vec![
                ("hash", "block_hash"),
                ("gasUsed", "block_hash"),
                ("transactions[0].value", "tx_hashes"),
                ("receipts[0].status", "receipts_root"),
            ]
        );
        // Absent and null fields are not malformed (third-party data may lack them).
        assert!(malformed(&json!({"number": "0x1", "miner": null}), &Value::Null, 1).is_empty());
    }
}
