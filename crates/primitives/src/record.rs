//! The replay format: one JSON object a line, in the shapes of the standard JSON-RPC methods.

use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One line of recorded chain data:
/// `{"block": eth_getBlockByNumber(n, true), "receipts": eth_getBlockReceipts | null,
///   "traces": trace_block | null, "call_traces": debug_traceBlockByNumber(callTracer) | null,
///   "proofs": [eth_getProof(address, slots, block)...],
///   "calls": [{"to", "data", "result" | null}...], "code": [{"address", "code"}...]}`.
/// `proofs`, `calls` and `code` are Palisade's optional extensions (watched state, view calls
/// made at the block's hash, the code of contracts the block created) and omitted when empty.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedBlock {
    /// The block object, with full transactions, hashes only, or partial objects.
    pub block: Value,
    /// Receipts of the block's transactions, or null.
    #[serde(default)]
    pub receipts: Value,
    /// Parity-style traces, or null.
    #[serde(default)]
    pub traces: Value,
    /// callTracer results, or null.
    #[serde(default)]
    pub call_traces: Value,
    /// `eth_getProof` answers for watched accounts at this block, or null.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub proofs: Value,
    /// View calls made at this block (`eth_call` pinned to its hash), or null.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub calls: Value,
    /// Code of the contracts this block created (`eth_getCode` at its hash), or null.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub code: Value,
    /// A beacon block's consensus data ([`crate::consensus::BeaconInfo`]), or null.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub beacon: Value,
    /// A CometBFT block's commit and validators ([`crate::consensus::CometInfo`]), or null.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub comet: Value,
    /// The state before the block that re-executing its transactions (and the assertions they
    /// trigger) reads: `{"parent": {"number", "hash", "stateRoot"}, "accounts":
    /// [eth_getProof(address, slots, parent) with its "code"...]}`, or null.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub prestate: Value,
}

impl RecordedBlock {
    /// Parses one line of the replay format.
    pub fn from_json_line(line: &str) -> Result<Self> {
        // Call trees may nest as deep as the EVM allows (see [`crate::json`]).
        let v: Value = crate::json::from_str(line).map_err(Error::Malformed)?;
        Self::from_value(v)
    }

    /// Builds a record from a parsed JSON value.
    pub fn from_value(v: Value) -> Result<Self> {
        let Value::Object(mut m) = v else {
            crate::json::drop_deep(v);
            return Err(Error::Malformed("a line must be a JSON object".into()));
        };
        let Some(block) = m.remove("block") else {
            crate::json::drop_deep(Value::Object(m));
            return Err(Error::Malformed("line has no \"block\" field".into()));
        };
        if let Some(k) = m.keys().find(|k| {
            !matches!(
                k.as_str(),
                "receipts"
                    | "traces"
                    | "call_traces"
                    | "proofs"
                    | "calls"
                    | "code"
                    | "beacon"
                    | "comet"
                    | "prestate"
            )
        }) {
            let e = Error::Malformed(format!("unknown field {k:?}"));
            crate::json::drop_deep(Value::Object(m));
            crate::json::drop_deep(block);
            return Err(e);
        }
        Ok(Self {
            block,
            receipts: m.remove("receipts").unwrap_or(Value::Null),
            traces: m.remove("traces").unwrap_or(Value::Null),
            call_traces: m.remove("call_traces").unwrap_or(Value::Null),
            proofs: m.remove("proofs").unwrap_or(Value::Null),
            calls: m.remove("calls").unwrap_or(Value::Null),
            code: m.remove("code").unwrap_or(Value::Null),
            beacon: m.remove("beacon").unwrap_or(Value::Null),
            comet: m.remove("comet").unwrap_or(Value::Null),
            prestate: m.remove("prestate").unwrap_or(Value::Null),
        })
    }

    /// Addresses of the contracts this block created, as its receipts (`contractAddress`) and
    /// traces (`create` results, `CREATE`/`CREATE2` frames) show them, in first-seen order.
    pub fn created_contracts(&self) -> Vec<alloy_primitives::Address> {
        let mut out = Vec::new();
        let mut add = |v: Option<&Value>| {
            if let Some(a) = v.and_then(|x| crate::quantity::address(x).ok()) {
                if !out.contains(&a) {
                    out.push(a);
                }
            }
        };
        for r in self.receipts.as_array().into_iter().flatten() {
            add(r.get("contractAddress"));
        }
        for t in self.traces.as_array().into_iter().flatten() {
            if t.get("type").and_then(Value::as_str) == Some("create") && t.get("error").is_none() {
                add(t.pointer("/result/address"));
            }
        }
        fn walk(f: &Value, add: &mut dyn FnMut(Option<&Value>)) {
            let kind = f.get("type").and_then(Value::as_str).unwrap_or("");
            if kind.starts_with("CREATE") && f.get("error").is_none() {
                add(f.get("to"));
            }
            for c in f.get("calls").and_then(Value::as_array).into_iter().flatten() {
                walk(c, add);
            }
        }
        for t in self.call_traces.as_array().into_iter().flatten() {
            walk(t.get("result").unwrap_or(t), &mut add);
        }
        out
    }

    /// The contracts whose code a detector that asks for code gets: those this block created,
    /// then the implementations its upgrade events name (EIP-1967 `Upgraded(address)`, emitted
    /// by proxies and beacons, and Safe's `ChangedMasterCopy(address)`), then the code those
    /// proxies delegated to in the block's traces (the implementation a UUPS upgrade replaces),
    /// in first-seen order.
    pub fn code_wanted(&self) -> Vec<alloy_primitives::Address> {
        const UPGRADED: &str = "0xbc7cd75a20ee27fd9adebab32041f755214dbc6bffa90cc0225b39da2e5c2d3b";
        const CHANGED_MASTER_COPY: &str =
            "0x75e41bc35ff1bf14d81d1d2f649c0084a0f974f9289c803ec9898eeec4c8d0b8";
        let mut out = self.created_contracts();
        let mut proxies = Vec::new();
        for r in self.receipts.as_array().into_iter().flatten() {
            if r.get("status").and_then(Value::as_str) == Some("0x0") {
                continue;
            }
            for l in r.get("logs").and_then(Value::as_array).into_iter().flatten() {
                let topics = l.get("topics").and_then(Value::as_array);
                let t0 = topics.and_then(|t| t.first()).and_then(Value::as_str);
                let word = match t0.map(str::to_ascii_lowercase).as_deref() {
                    Some(UPGRADED) if topics.is_some_and(|t| t.len() == 2) => {
                        topics.and_then(|t| t[1].as_str()).map(str::to_string)
                    }
                    Some(CHANGED_MASTER_COPY) => {
                        l.get("data").and_then(Value::as_str).map(str::to_string)
                    }
                    _ => None,
                };
                let a = word
                    .as_deref()
                    .and_then(|w| w.strip_prefix("0x"))
                    .filter(|h| h.len() == 64)
                    .and_then(|h| h[24..].parse::<alloy_primitives::Address>().ok());
                if let Some(a) = a.filter(|a| !out.contains(a)) {
                    out.push(a);
                    proxies.push(l.get("address").and_then(|x| crate::quantity::address(x).ok()));
                }
            }
        }
        // The code each upgraded proxy delegated to in this block: a UUPS upgrade runs in the
        // implementation it replaces, which is how the previous one is known when the proxy
        // was deployed before monitoring began.
        let proxies: Vec<alloy_primitives::Address> = proxies.into_iter().flatten().collect();
        let mut add = |from: Option<&Value>, to: Option<&Value>| {
            let from = from.and_then(|x| crate::quantity::address(x).ok());
            let to = to.and_then(|x| crate::quantity::address(x).ok());
            if let (Some(f), Some(t)) = (from, to) {
                if proxies.contains(&f) && !out.contains(&t) {
                    out.push(t);
                }
            }
        };
        for t in self.traces.as_array().into_iter().flatten() {
            if t.pointer("/action/callType").and_then(Value::as_str) == Some("delegatecall") {
                add(t.pointer("/action/from"), t.pointer("/action/to"));
            }
        }
        fn walk(f: &Value, add: &mut dyn FnMut(Option<&Value>, Option<&Value>)) {
            if f.get("type").and_then(Value::as_str) == Some("DELEGATECALL") {
                add(f.get("from"), f.get("to"));
            }
            for c in f.get("calls").and_then(Value::as_array).into_iter().flatten() {
                walk(c, add);
            }
        }
        if !proxies.is_empty() {
            for t in self.call_traces.as_array().into_iter().flatten() {
                walk(t.get("result").unwrap_or(t), &mut add);
            }
        }
        out
    }

    /// Drops the record without recursing through its JSON (which may nest as deep as a call
    /// tree of 1,024 frames: a plain drop would recurse thousands of times).
    pub fn drop_deep(self) {
        for v in [
            self.block,
            self.receipts,
            self.traces,
            self.call_traces,
            self.proofs,
            self.calls,
            self.code,
            self.beacon,
            self.comet,
        ] {
            crate::json::drop_deep(v);
        }
    }

    /// Serializes the record as one line (no trailing newline).
    pub fn to_json_line(&self) -> String {
        // Serializing a `Value` tree cannot fail. A call tree as deep as the EVM allows recurses
        // thousands of times: run on a stack that grows on the heap when this one runs low
        // (found by the deep_json fuzz target on a small stack).
        stacker::maybe_grow(1 << 20, 16 << 20, || serde_json::to_string(self).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_non_objects_and_unknown_fields() {
        assert!(RecordedBlock::from_json_line("[]").is_err());
        assert!(RecordedBlock::from_json_line("{\"receipts\":null}").is_err());
        assert!(RecordedBlock::from_json_line("{\"block\":{},\"x\":1}").is_err());
        assert!(RecordedBlock::from_json_line("{\"block\":{\"number\":1}").is_err());
        let r = RecordedBlock::from_json_line("{\"block\":{\"number\":1}}").unwrap();
        assert_eq!(RecordedBlock::from_json_line(&r.to_json_line()).unwrap(), r);
    }
}
