//! The fast path for recorded lines: typed deserialization straight into [`BlockData`], with
//! borrowed strings and no intermediate `serde_json::Value` tree.
//!
//! Whenever both paths accept a line they produce exactly the same [`BlockData`]. The fast path
//! accepts a subset of what the `Value` path accepts, with one documented exception
//! ([`lexical_only`]): serde_json checks the range of numbers and the validity of escapes only
//! when it materialises a value, so a field this path skips may hold an out-of-range number
//! that the `Value` path refuses. The fields Palisade reads are checked alike on both paths.
//! Otherwise, on anything else (snake_case aliases, odd types, malformed values)
//! it fails and [`BlockData::from_json_line`] falls back to the `Value` path, which produces the
//! precise error message. The differential test in `crates/testing/tests/decode_robustness.rs`
//! holds the two paths equal on real and mutated data.

use crate::block::{notes_for, CallFrame, Header, Log, Receipt, Trace, TraceAction, Transaction};
use crate::quantity::parse_u256_str;
use crate::{BlockData, RecordedBlock};
use alloy_primitives::{Address, Bytes, B256, U256};
use serde::de::{self, Deserializer, IgnoredAny, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// A quantity as it appears in JSON: a string (hex or decimal) or a number.
#[derive(Debug)]
enum Q<'a> {
    Str(Cow<'a, str>),
    U64(u64),
    F64(f64),
}

impl<'de: 'a, 'a> Deserialize<'de> for Q<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Q<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a quantity")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Q::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Q::Str(Cow::Owned(v.to_string())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Q::U64(v))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Q::F64(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// Same rules as `quantity::u256` on a `Value`.
fn q256(q: &Q<'_>) -> Result<U256, String> {
    match q {
        Q::Str(s) => parse_u256_str(s),
        Q::U64(u) => Ok(U256::from(*u)),
        Q::F64(f) => {
            if *f >= 0.0 && f.fract() == 0.0 && *f < 1e38 {
                Ok(U256::from(*f as u128))
            } else {
                Err("not a non-negative integer".into())
            }
        }
    }
}

fn qu64(q: &Option<Q<'_>>) -> Result<Option<u64>, String> {
    q.as_ref()
        .map(|q| q256(q).and_then(|x| u64::try_from(x).map_err(|_| "too large".to_string())))
        .transpose()
}

fn qu128(q: &Option<Q<'_>>) -> Result<Option<u128>, String> {
    q.as_ref()
        .map(|q| q256(q).and_then(|x| u128::try_from(x).map_err(|_| "too large".to_string())))
        .transpose()
}

fn qu256(q: &Option<Q<'_>>) -> Result<Option<U256>, String> {
    q.as_ref().map(q256).transpose()
}

fn hash(s: &Option<Cow<'_, str>>) -> Result<Option<B256>, String> {
    s.as_ref().map(|s| s.parse::<B256>().map_err(|e| e.to_string())).transpose()
}

fn addr(s: &Option<Cow<'_, str>>) -> Result<Option<Address>, String> {
    s.as_ref().map(|s| s.parse::<Address>().map_err(|e| e.to_string())).transpose()
}

fn bytes(s: &Option<Cow<'_, str>>) -> Result<Option<Bytes>, String> {
    s.as_ref().map(|s| s.parse::<Bytes>().map_err(|e| e.to_string())).transpose()
}

/// `Some(value)` when the key is present (even with null), `None` when absent.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line<'a> {
    #[serde(borrow)]
    block: RawBlock<'a>,
    #[serde(default, borrow)]
    receipts: Option<Vec<RawReceipt<'a>>>,
    #[serde(default, borrow)]
    traces: Option<Vec<RawTrace<'a>>>,
    #[serde(default, borrow)]
    call_traces: Option<&'a RawValue>,
    #[serde(default, borrow)]
    proofs: Option<&'a RawValue>,
    #[serde(default, borrow)]
    calls: Option<&'a RawValue>,
    #[serde(default, borrow)]
    code: Option<&'a RawValue>,
    #[serde(default, borrow)]
    beacon: Option<&'a RawValue>,
    #[serde(default, borrow)]
    comet: Option<&'a RawValue>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawBlock<'a> {
    #[serde(borrow)]
    number: Option<Q<'a>>,
    #[serde(borrow)]
    hash: Option<Cow<'a, str>>,
    #[serde(borrow)]
    parent_hash: Option<Cow<'a, str>>,
    #[serde(borrow)]
    timestamp: Option<Q<'a>>,
    #[serde(borrow)]
    miner: Option<Cow<'a, str>>,
    #[serde(borrow)]
    gas_limit: Option<Q<'a>>,
    #[serde(borrow)]
    gas_used: Option<Q<'a>>,
    #[serde(borrow)]
    base_fee_per_gas: Option<Q<'a>>,
    #[serde(borrow)]
    state_root: Option<Cow<'a, str>>,
    #[serde(borrow)]
    transactions_root: Option<Cow<'a, str>>,
    #[serde(borrow)]
    receipts_root: Option<Cow<'a, str>>,
    #[serde(borrow)]
    transactions: Option<Vec<TxOrHash<'a>>>,
}

enum TxOrHash<'a> {
    Hash(Cow<'a, str>),
    Tx(Box<RawTx<'a>>),
}

impl<'de: 'a, 'a> Deserialize<'de> for TxOrHash<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = TxOrHash<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a transaction or its hash")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(TxOrHash::Hash(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(TxOrHash::Hash(Cow::Owned(v.to_string())))
            }
            fn visit_map<M: de::MapAccess<'de>>(self, m: M) -> Result<Self::Value, M::Error> {
                RawTx::deserialize(de::value::MapAccessDeserializer::new(m))
                    .map(|t| TxOrHash::Tx(Box::new(t)))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTx<'a> {
    #[serde(borrow)]
    transaction_index: Option<Q<'a>>,
    #[serde(borrow)]
    hash: Option<Cow<'a, str>>,
    #[serde(borrow)]
    from: Option<Cow<'a, str>>,
    #[serde(borrow)]
    to: Option<Cow<'a, str>>,
    #[serde(borrow)]
    value: Option<Q<'a>>,
    #[serde(borrow)]
    gas: Option<Q<'a>>,
    #[serde(default, borrow, deserialize_with = "present")]
    input: Option<Option<Cow<'a, str>>>,
    #[serde(borrow)]
    data: Option<Cow<'a, str>>,
    #[serde(borrow)]
    nonce: Option<Q<'a>>,
    #[serde(rename = "type", borrow)]
    tx_type: Option<Q<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawReceipt<'a> {
    #[serde(borrow)]
    transaction_hash: Option<Cow<'a, str>>,
    #[serde(borrow)]
    transaction_index: Option<Q<'a>>,
    #[serde(borrow)]
    status: Option<Q<'a>>,
    #[serde(borrow)]
    gas_used: Option<Q<'a>>,
    #[serde(borrow)]
    contract_address: Option<Cow<'a, str>>,
    #[serde(borrow)]
    logs: Option<Vec<RawLog<'a>>>,
    #[serde(rename = "transaction_hash")]
    alias1: Option<IgnoredAny>,
    #[serde(rename = "transaction_index")]
    alias2: Option<IgnoredAny>,
    #[serde(rename = "gas_used")]
    alias3: Option<IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawLog<'a> {
    #[serde(borrow)]
    address: Option<Cow<'a, str>>,
    #[serde(borrow)]
    topics: Option<Vec<Cow<'a, str>>>,
    #[serde(borrow)]
    data: Option<Cow<'a, str>>,
    #[serde(borrow)]
    log_index: Option<Q<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTrace<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    action: RawAction<'a>,
    #[serde(borrow)]
    result: Option<RawResult<'a>>,
    #[serde(borrow)]
    error: Option<Cow<'a, str>>,
    trace_address: Option<Vec<u64>>,
    #[serde(borrow)]
    transaction_position: Option<Q<'a>>,
    #[serde(borrow)]
    transaction_hash: Option<Cow<'a, str>>,
    #[serde(rename = "trace_address")]
    alias1: Option<IgnoredAny>,
    #[serde(rename = "transaction_position")]
    alias2: Option<IgnoredAny>,
    #[serde(rename = "transaction_hash")]
    alias3: Option<IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawAction<'a> {
    #[serde(default, borrow, deserialize_with = "present")]
    from: Option<Option<Cow<'a, str>>>,
    #[serde(borrow)]
    author: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "present")]
    to: Option<Option<Cow<'a, str>>>,
    #[serde(borrow)]
    address: Option<Cow<'a, str>>,
    #[serde(borrow)]
    call_type: Option<Cow<'a, str>>,
    #[serde(rename = "call_type")]
    alias1: Option<IgnoredAny>,
    #[serde(default, borrow, deserialize_with = "present")]
    input: Option<Option<Cow<'a, str>>>,
    #[serde(borrow)]
    init: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "present")]
    value: Option<Option<Q<'a>>>,
    #[serde(borrow)]
    balance: Option<Q<'a>>,
}

#[derive(Deserialize)]
struct RawResult<'a> {
    #[serde(borrow)]
    address: Option<Cow<'a, str>>,
    #[serde(borrow)]
    output: Option<Cow<'a, str>>,
    #[serde(borrow)]
    code: Option<Cow<'a, str>>,
}

/// First present key wins, as in the `Value` path (`opt2`).
fn either<T>(first: Option<Option<T>>, second: Option<T>) -> Option<T> {
    match first {
        Some(v) => v,
        None => second,
    }
}

fn tx(index: u64, t: TxOrHash<'_>) -> Result<Transaction, String> {
    Ok(match t {
        TxOrHash::Hash(h) => Transaction { index, hash: hash(&Some(h))?, ..Default::default() },
        TxOrHash::Tx(t) => Transaction {
            index: qu64(&t.transaction_index)?.unwrap_or(index),
            hash: hash(&t.hash)?,
            from: addr(&t.from)?,
            to: addr(&t.to)?,
            value: qu256(&t.value)?,
            gas: qu64(&t.gas)?,
            input: bytes(&either(t.input, t.data))?,
            nonce: qu64(&t.nonce)?,
            tx_type: qu64(&t.tx_type)?,
        },
    })
}

fn receipt(r: RawReceipt<'_>) -> Result<Receipt, String> {
    if (r.transaction_hash.is_none() && r.alias1.is_some())
        || (r.transaction_index.is_none() && r.alias2.is_some())
        || (r.gas_used.is_none() && r.alias3.is_some())
    {
        return Err("snake_case receipt fields".into());
    }
    let logs = r
        .logs
        .unwrap_or_default()
        .into_iter()
        .map(|l| {
            Ok(Log {
                address: addr(&l.address)?.ok_or("log has no address")?,
                topics: l
                    .topics
                    .unwrap_or_default()
                    .iter()
                    .map(|t| t.parse::<B256>().map_err(|e| e.to_string()))
                    .collect::<Result<_, String>>()?,
                data: bytes(&l.data)?.unwrap_or_default(),
                log_index: qu64(&l.log_index)?,
            })
        })
        .collect::<Result<_, String>>()?;
    Ok(Receipt {
        transaction_hash: hash(&r.transaction_hash)?,
        transaction_index: qu64(&r.transaction_index)?,
        status: qu64(&r.status)?.map(|s| s == 1),
        gas_used: qu64(&r.gas_used)?,
        contract_address: addr(&r.contract_address)?,
        logs,
    })
}

fn trace(t: RawTrace<'_>) -> Result<Trace, String> {
    if (t.trace_address.is_none() && t.alias1.is_some())
        || (t.transaction_position.is_none() && t.alias2.is_some())
        || (t.transaction_hash.is_none() && t.alias3.is_some())
        || (t.action.call_type.is_none() && t.action.alias1.is_some())
    {
        return Err("snake_case trace fields".into());
    }
    let a = t.action;
    Ok(Trace {
        kind: t.kind.into_owned(),
        action: TraceAction {
            from: addr(&either(a.from, a.author))?,
            to: addr(&either(a.to, a.address))?,
            call_type: a.call_type.map(Cow::into_owned),
            input: bytes(&either(a.input, a.init))?.unwrap_or_default(),
            value: qu256(&either(a.value, a.balance))?,
        },
        created: match &t.result {
            Some(r) => addr(&r.address)?,
            None => None,
        },
        output: match t.result {
            Some(r) => bytes(&r.output.or(r.code))?,
            None => None,
        },
        error: t.error.map(Cow::into_owned),
        trace_address: t.trace_address.unwrap_or_default(),
        transaction_position: qu64(&t.transaction_position)?,
        transaction_hash: hash(&t.transaction_hash)?,
    })
}

/// True for errors of the `Value` path that the fast path does not raise on fields it skips
/// (see the module docs).
pub fn lexical_only(value_path_error: &str) -> bool {
    value_path_error.contains("number out of range") || value_path_error.contains("surrogate")
}

/// Decodes a recorded line on the fast path. An error means "use the `Value` path", not
/// necessarily that the line is invalid.
pub fn decode(line: &str) -> Result<BlockData, String> {
    // Fields this path skips are not unescaped, so an invalid escape there (a lone surrogate)
    // would go unnoticed; chain data has no escapes, so leave any line with one to the strict
    // `Value` path.
    if line.contains("\\u") {
        return Err("string escapes: use the Value path".into());
    }
    let l: Line<'_> = serde_json::from_str(line).map_err(|e| e.to_string())?;
    let b = l.block;
    let number = qu64(&b.number)?.ok_or("no number")?;
    let header = Header {
        number,
        hash: hash(&b.hash)?,
        parent_hash: hash(&b.parent_hash)?,
        timestamp: qu64(&b.timestamp)?,
        miner: addr(&b.miner)?,
        gas_limit: qu64(&b.gas_limit)?,
        gas_used: qu64(&b.gas_used)?,
        base_fee_per_gas: qu128(&b.base_fee_per_gas)?,
        state_root: hash(&b.state_root)?,
        transactions_root: hash(&b.transactions_root)?,
        receipts_root: hash(&b.receipts_root)?,
    };
    let has_tx_list = b.transactions.is_some();
    let transactions = b
        .transactions
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, t)| tx(i as u64, t))
        .collect::<Result<Vec<_>, _>>()?;
    let receipts = l
        .receipts
        .map(|rs| rs.into_iter().map(receipt).collect::<Result<Vec<_>, _>>())
        .transpose()?;
    let traces =
        l.traces.map(|ts| ts.into_iter().map(trace).collect::<Result<Vec<_>, _>>()).transpose()?;
    let call_traces: Option<Vec<(Option<B256>, CallFrame)>> = match l.call_traces {
        None => None,
        // Rare: decode this part through the `Value` path.
        Some(raw) => {
            let v: serde_json::Value =
                serde_json::from_str(raw.get()).map_err(|e| e.to_string())?;
            let rec = RecordedBlock {
                block: serde_json::json!({"number": number}),
                receipts: serde_json::Value::Null,
                traces: serde_json::Value::Null,
                call_traces: v,
                proofs: serde_json::Value::Null,
                calls: serde_json::Value::Null,
                code: serde_json::Value::Null,
                beacon: serde_json::Value::Null,
                comet: serde_json::Value::Null,
            };
            BlockData::from_recorded(rec).map_err(|e| e.to_string())?.call_traces
        }
    };
    let state = match l.proofs {
        None => None,
        // Small and rare: decode through the `Value` path's parser.
        Some(raw) => {
            let v: serde_json::Value =
                serde_json::from_str(raw.get()).map_err(|e| e.to_string())?;
            crate::block::parse_proofs(&v)?
        }
    };
    let raw = |r: Option<&RawValue>| -> Result<serde_json::Value, String> {
        r.map_or(Ok(serde_json::Value::Null), |r| {
            serde_json::from_str(r.get()).map_err(|e| e.to_string())
        })
    };
    let calls = crate::block::parse_calls(&raw(l.calls)?)?;
    let code = crate::block::parse_code(&raw(l.code)?)?;
    let beacon = crate::block::parse_consensus(&raw(l.beacon)?)?;
    let comet = crate::block::parse_consensus(&raw(l.comet)?)?;
    let notes = notes_for(
        &header,
        has_tx_list,
        receipts.is_none(),
        traces.is_none() && call_traces.is_none(),
    );
    Ok(BlockData {
        header,
        transactions,
        receipts,
        traces,
        call_traces,
        state,
        calls,
        code,
        notes,
        beacon,
        comet,
        derived: Default::default(),
    })
}
