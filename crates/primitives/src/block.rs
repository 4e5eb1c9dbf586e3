//! Typed blocks, built leniently from the JSON shapes of the standard JSON-RPC methods.

use crate::quantity as q;
use crate::{Error, RecordedBlock, Result};
use alloy_primitives::{keccak256, Address, Bytes, B256, U256};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A reference to one block of one chain: number and hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct BlockRef {
    /// Block number (height).
    pub number: u64,
    /// Block hash. For recorded data without hashes this is a synthetic hash, see
    /// [`BlockRef::hash_known`].
    pub hash: B256,
    /// False when the data carried no hash and `hash` was synthesized from the number.
    pub hash_known: bool,
}

impl BlockRef {
    /// A reference whose hash is known.
    pub const fn new(number: u64, hash: B256) -> Self {
        Self { number, hash, hash_known: true }
    }

    /// The deterministic stand-in used when recorded data has no block hash.
    pub fn synthetic(number: u64) -> Self {
        let mut buf = Vec::with_capacity(40);
        buf.extend_from_slice(b"palisade:synthetic-block-hash:");
        buf.extend_from_slice(&number.to_be_bytes());
        Self { number, hash: keccak256(&buf), hash_known: false }
    }

    /// A reference to block `number` with `hash` when known, else the synthetic stand-in.
    pub fn maybe(number: u64, hash: Option<B256>) -> Self {
        match hash {
            Some(h) => Self::new(number, h),
            None => Self::synthetic(number),
        }
    }

    /// The hash, or `None` when it was synthesized.
    pub fn known_hash(&self) -> Option<B256> {
        self.hash_known.then_some(self.hash)
    }
}

impl std::fmt::Display for BlockRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.hash_known {
            write!(f, "#{} ({:#.8})", self.number, self.hash)
        } else {
            write!(f, "#{}", self.number)
        }
    }
}

/// The header fields Palisade uses. Everything but `number` may be absent in third-party data.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// Block number.
    pub number: u64,
    /// Block hash, when the data has it.
    pub hash: Option<B256>,
    /// Parent hash, when the data has it.
    pub parent_hash: Option<B256>,
    /// Unix timestamp in seconds.
    pub timestamp: Option<u64>,
    /// Fee recipient.
    pub miner: Option<Address>,
    /// Gas limit.
    pub gas_limit: Option<u64>,
    /// Gas used.
    pub gas_used: Option<u64>,
    /// EIP-1559 base fee in wei.
    pub base_fee_per_gas: Option<u128>,
    /// State root.
    pub state_root: Option<B256>,
    /// Transactions root.
    pub transactions_root: Option<B256>,
    /// Receipts root.
    pub receipts_root: Option<B256>,
}

/// A transaction as far as the data describes it. Data that lists only hashes gives entries with
/// just `hash` and `index`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    /// Position in the block.
    pub index: u64,
    /// Transaction hash.
    pub hash: Option<B256>,
    /// Sender.
    pub from: Option<Address>,
    /// Recipient; `None` for contract creation or when unknown.
    pub to: Option<Address>,
    /// Value in wei.
    pub value: Option<U256>,
    /// Gas limit.
    pub gas: Option<u64>,
    /// Calldata.
    pub input: Option<Bytes>,
    /// Sender nonce.
    pub nonce: Option<u64>,
    /// EIP-2718 type.
    pub tx_type: Option<u64>,
}

/// An event log.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Log {
    /// Emitting contract.
    pub address: Address,
    /// Topics, the first being the event signature hash for non-anonymous events.
    pub topics: Vec<B256>,
    /// Non-indexed data.
    pub data: Bytes,
    /// Index of the log in the block.
    pub log_index: Option<u64>,
}

/// A transaction receipt.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// Hash of the transaction.
    pub transaction_hash: Option<B256>,
    /// Position of the transaction in the block.
    pub transaction_index: Option<u64>,
    /// True for success, false for revert; `None` for pre-Byzantium receipts or trimmed data.
    pub status: Option<bool>,
    /// Gas used by this transaction.
    pub gas_used: Option<u64>,
    /// Address of the contract created, if any.
    pub contract_address: Option<Address>,
    /// Logs emitted.
    pub logs: Vec<Log>,
}

/// The action of a Parity-style trace.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceAction {
    /// Caller.
    pub from: Option<Address>,
    /// Callee (calls) or `None` (creations).
    pub to: Option<Address>,
    /// `call`, `delegatecall`, `staticcall`, `callcode` for calls.
    pub call_type: Option<String>,
    /// Calldata (calls) or init code (creations).
    pub input: Bytes,
    /// Value transferred in wei.
    pub value: Option<U256>,
}

/// One entry of a Parity `trace_block` result.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trace {
    /// `call`, `create`, `suicide` or `reward`.
    pub kind: String,
    /// What was done.
    pub action: TraceAction,
    /// Address created by a `create` trace.
    pub created: Option<Address>,
    /// What the frame returned (`result.output`), or the code a `create` deployed
    /// (`result.code`).
    pub output: Option<Bytes>,
    /// Error when this frame reverted or failed.
    pub error: Option<String>,
    /// Path in the call tree (empty for the top-level call).
    pub trace_address: Vec<u64>,
    /// Position of the transaction in the block (`None` for block rewards).
    pub transaction_position: Option<u64>,
    /// Hash of the transaction.
    pub transaction_hash: Option<B256>,
}

/// One frame of a `callTracer` result (nested).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallFrame {
    /// `CALL`, `DELEGATECALL`, `STATICCALL`, `CREATE`, `CREATE2`, `SELFDESTRUCT`...
    pub kind: String,
    /// Caller.
    pub from: Option<Address>,
    /// Callee or created contract.
    pub to: Option<Address>,
    /// Calldata or init code.
    pub input: Bytes,
    /// Value in wei.
    pub value: Option<U256>,
    /// Error when the frame reverted.
    pub error: Option<String>,
    /// What the frame returned (for a creation: the code deployed).
    pub output: Option<Bytes>,
    /// Sub-calls, in order.
    pub calls: Vec<CallFrame>,
}

/// An account's state at a block, as proven by an `eth_getProof` answer (the proof itself stays
/// in the recorded line, where `palisade verify` and the live verifier check it against the
/// block's state root).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountState {
    /// The account.
    pub address: Address,
    /// Balance in wei.
    pub balance: U256,
    /// Nonce.
    pub nonce: u64,
    /// Keccak of the account's code (the empty-code hash for accounts without code).
    pub code_hash: B256,
    /// Root of the account's storage trie.
    pub storage_hash: B256,
    /// Proven storage slots and their values, in the order asked.
    pub storage: Vec<(B256, U256)>,
}

impl AccountState {
    /// The proven value of `slot`, if it was asked for.
    pub fn slot(&self, slot: &B256) -> Option<U256> {
        self.storage.iter().find(|(k, _)| k == slot).map(|(_, v)| *v)
    }
}

/// A view call made at a block (`eth_call` pinned to the block's hash) and what it returned.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewCallResult {
    /// The contract called.
    pub to: Address,
    /// Calldata.
    pub data: Bytes,
    /// What it returned; `None` when it reverted.
    pub result: Option<Bytes>,
}

/// A block with the data attached to it (receipts, traces), as the detectors see it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockData {
    /// Header fields.
    pub header: Header,
    /// Transactions in block order.
    pub transactions: Vec<Transaction>,
    /// Receipts in block order, when available.
    pub receipts: Option<Vec<Receipt>>,
    /// Parity traces, when available.
    pub traces: Option<Vec<Trace>>,
    /// callTracer frames per transaction (transaction hash, root frame), when available.
    pub call_traces: Option<Vec<(Option<B256>, CallFrame)>>,
    /// Proven state of watched accounts at this block, when attached.
    pub state: Option<Vec<AccountState>>,
    /// View calls made at this block, when attached.
    pub calls: Option<Vec<ViewCallResult>>,
    /// Code of the contracts this block created, when attached.
    pub code: Option<Vec<(Address, Bytes)>>,
    /// Observations made while decoding: fields that were missing or could not be checked.
    pub notes: Vec<String>,
    /// A beacon block's consensus data (beacon chains).
    pub beacon: Option<std::sync::Arc<crate::consensus::BeaconInfo>>,
    /// A CometBFT block's commit and validators (CometBFT chains).
    pub comet: Option<std::sync::Arc<crate::consensus::CometInfo>>,
    /// The state before the block that re-executing it reads, when attached (assertions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prestate: Option<std::sync::Arc<crate::assertion::Prestate>>,
    /// What is derived from the block once and shared by every detector (the DeFi actions);
    /// not part of the data: empty in clones, equal in comparisons, not serialized.
    #[serde(skip)]
    pub derived: Derived,
}

/// A value derived from a block once, on first use, and shared by every reader of the block
/// (detectors hold blocks through `Arc`). Holds one value of any type; see
/// [`Derived::get_or_init`].
#[derive(Default)]
pub struct Derived(std::sync::OnceLock<std::sync::Arc<dyn std::any::Any + Send + Sync>>);

impl Derived {
    /// The value of type `T`, computed by `f` on first use. When the slot already holds another
    /// type, `f`'s value is returned without being kept.
    pub fn get_or_init<T: std::any::Any + Send + Sync>(
        &self,
        f: impl FnOnce() -> T,
    ) -> std::sync::Arc<T> {
        if let Some(v) = self.0.get() {
            return v.clone().downcast::<T>().unwrap_or_else(|_| std::sync::Arc::new(f()));
        }
        let v = std::sync::Arc::new(f());
        // Another reader may have set it meanwhile: same block, same value.
        let _ = self.0.set(v.clone());
        v
    }
}

impl Clone for Derived {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl PartialEq for Derived {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for Derived {}

impl std::fmt::Debug for Derived {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() { "Derived(set)" } else { "Derived(empty)" })
    }
}

/// Decodes an optional `beacon` or `comet` field.
pub(crate) fn parse_consensus<T: serde::de::DeserializeOwned>(
    v: &Value,
) -> std::result::Result<Option<std::sync::Arc<T>>, String> {
    if v.is_null() {
        return Ok(None);
    }
    serde_json::from_value(v.clone())
        .map(|x| Some(std::sync::Arc::new(x)))
        .map_err(|e| e.to_string())
}

/// A call seen in a block, at any depth, in a form independent of where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallView<'a> {
    /// Position of the transaction in the block.
    pub tx_index: u64,
    /// Depth in the call tree, 0 for the transaction's own call.
    pub depth: usize,
    /// Caller.
    pub from: Option<Address>,
    /// Callee.
    pub to: Option<Address>,
    /// Calldata.
    pub input: &'a Bytes,
    /// Value in wei.
    pub value: U256,
    /// Call type in lower case (`call`, `delegatecall`, `staticcall`...).
    pub call_type: &'a str,
    /// True when this frame reverted.
    pub reverted: bool,
    /// True for a delegatecall that forwards its caller frame's calldata unchanged (a proxy hop):
    /// the same logical call as its parent.
    pub forwarded: bool,
}

impl BlockData {
    /// Decodes a recorded block. Only the header's `number` is required; every other field is
    /// decoded when present and reported in `notes` when absent in a way that limits checks.
    pub fn from_recorded(rec: RecordedBlock) -> Result<Self> {
        let b = Self::from_recorded_ref(&rec);
        // Its JSON may nest as deep as a call tree of 1,024 frames: dropped without recursion.
        rec.drop_deep();
        b
    }

    fn from_recorded_ref(rec: &RecordedBlock) -> Result<Self> {
        let RecordedBlock {
            block,
            receipts,
            traces,
            call_traces,
            proofs,
            calls,
            code,
            beacon,
            comet,
            prestate,
        } = rec;
        let obj = match &block {
            Value::Object(m) => m,
            other => {
                return Err(Error::Malformed(format!(
                    "\"block\" must be an object, found {}",
                    q::kind(other)
                )))
            }
        };
        let number = match obj.get("number") {
            Some(v) if !v.is_null() => q::u64(v).map_err(|r| inv("block.number", r))?,
            _ => return Err(Error::Malformed("block has no \"number\"".into())),
        };
        let ctx = |f: &str| format!("block {number}: {f}");
        let header = Header {
            number,
            hash: opt(obj, "hash", q::b256).map_err(|r| inv(ctx("hash"), r))?,
            parent_hash: opt(obj, "parentHash", q::b256).map_err(|r| inv(ctx("parentHash"), r))?,
            timestamp: opt(obj, "timestamp", q::u64).map_err(|r| inv(ctx("timestamp"), r))?,
            miner: opt(obj, "miner", q::address).map_err(|r| inv(ctx("miner"), r))?,
            gas_limit: opt(obj, "gasLimit", q::u64).map_err(|r| inv(ctx("gasLimit"), r))?,
            gas_used: opt(obj, "gasUsed", q::u64).map_err(|r| inv(ctx("gasUsed"), r))?,
            base_fee_per_gas: opt(obj, "baseFeePerGas", q::u128)
                .map_err(|r| inv(ctx("baseFeePerGas"), r))?,
            state_root: opt(obj, "stateRoot", q::b256).map_err(|r| inv(ctx("stateRoot"), r))?,
            transactions_root: opt(obj, "transactionsRoot", q::b256)
                .map_err(|r| inv(ctx("transactionsRoot"), r))?,
            receipts_root: opt(obj, "receiptsRoot", q::b256)
                .map_err(|r| inv(ctx("receiptsRoot"), r))?,
        };
        let has_tx_list = !matches!(obj.get("transactions"), None | Some(Value::Null));
        let transactions = match obj.get("transactions") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    out.push(
                        parse_tx(i as u64, item)
                            .map_err(|r| inv(ctx(&format!("transactions[{i}]")), r))?,
                    );
                }
                out
            }
            Some(other) => {
                return Err(inv(
                    ctx("transactions"),
                    format!("expected an array, found {}", q::kind(other)),
                ))
            }
        };
        let receipts = match receipts {
            Value::Null => None,
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    out.push(
                        parse_receipt(item).map_err(|r| inv(ctx(&format!("receipts[{i}]")), r))?,
                    );
                }
                Some(out)
            }
            other => {
                return Err(inv(
                    ctx("receipts"),
                    format!("expected an array or null, found {}", q::kind(other)),
                ))
            }
        };
        let traces = match traces {
            Value::Null => None,
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    out.push(parse_trace(item).map_err(|r| inv(ctx(&format!("traces[{i}]")), r))?);
                }
                Some(out)
            }
            other => {
                return Err(inv(
                    ctx("traces"),
                    format!("expected an array or null, found {}", q::kind(other)),
                ))
            }
        };
        let call_traces = match call_traces {
            Value::Null => None,
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    let (h, frame) = match item {
                        Value::Object(m) if m.contains_key("result") => (
                            opt(m, "txHash", q::b256)
                                .map_err(|r| inv(ctx(&format!("call_traces[{i}].txHash")), r))?,
                            m.get("result").unwrap_or(&Value::Null),
                        ),
                        other => (None, other),
                    };
                    out.push((
                        h,
                        parse_frame(frame, 0)
                            .map_err(|r| inv(ctx(&format!("call_traces[{i}]")), r))?,
                    ));
                }
                Some(out)
            }
            other => {
                return Err(inv(
                    ctx("call_traces"),
                    format!("expected an array or null, found {}", q::kind(other)),
                ))
            }
        };
        let state = parse_proofs(proofs).map_err(|r| inv(ctx("proofs"), r))?;
        let calls = parse_calls(calls).map_err(|r| inv(ctx("calls"), r))?;
        let code = parse_code(code).map_err(|r| inv(ctx("code"), r))?;
        let beacon = parse_consensus(beacon).map_err(|r| inv(ctx("beacon"), r))?;
        let comet = parse_consensus(comet).map_err(|r| inv(ctx("comet"), r))?;
        let prestate = crate::assertion::Prestate::parse(prestate, block)
            .map_err(|r| inv(ctx("prestate"), r))?
            .map(std::sync::Arc::new);
        let notes = notes_for(
            &header,
            has_tx_list,
            receipts.is_none(),
            traces.is_none() && call_traces.is_none(),
        );
        Ok(Self {
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
            prestate,
            derived: Derived::default(),
        })
    }

    /// Decodes one line of the replay format: the fast typed path, falling back to the `Value`
    /// path (which gives the precise error) when the fast path cannot take the line.
    pub fn from_json_line(line: &str) -> Result<Self> {
        match crate::fast::decode(line) {
            Ok(b) => Ok(b),
            Err(_) => RecordedBlock::from_json_line(line).and_then(Self::from_recorded),
        }
    }

    /// The block's reference (synthetic hash when the data has none).
    pub fn block_ref(&self) -> BlockRef {
        BlockRef::maybe(self.header.number, self.header.hash)
    }

    /// Hash of the transaction at `index`, when known (from the transaction, its receipt or its
    /// traces).
    pub fn tx_hash(&self, index: u64) -> Option<B256> {
        let i = usize::try_from(index).ok()?;
        self.transactions
            .get(i)
            .and_then(|t| t.hash)
            .or_else(|| self.receipts.as_ref()?.get(i)?.transaction_hash)
            .or_else(|| {
                self.traces
                    .as_ref()?
                    .iter()
                    .find(|t| t.transaction_position == Some(index))?
                    .transaction_hash
            })
    }

    /// Receipt of the transaction at `index`, when receipts are attached.
    pub fn receipt(&self, index: u64) -> Option<&Receipt> {
        self.receipts.as_ref()?.get(usize::try_from(index).ok()?)
    }

    /// Where calls come from: `"traces"`, `"call_traces"` or `"transactions"` (top level only).
    pub fn call_source(&self) -> &'static str {
        if self.traces.is_some() {
            "traces"
        } else if self.call_traces.is_some() {
            "call_traces"
        } else {
            "transactions"
        }
    }

    /// Every call in the block, at any depth when traces are attached, otherwise the transactions'
    /// own calls. Order: block order, then call-tree pre-order.
    pub fn calls(&self) -> Vec<CallView<'_>> {
        let mut out = Vec::new();
        if let Some(traces) = &self.traces {
            // Parity traces come in pre-order; keep the path of open frames to find each parent.
            let mut stack: Vec<(&[u64], &Bytes, Option<u64>)> = Vec::new();
            for t in traces {
                let Some(pos) = t.transaction_position else { continue };
                while let Some((addr, _, p)) = stack.last() {
                    let is_parent = *p == Some(pos)
                        && addr.len() + 1 == t.trace_address.len()
                        && t.trace_address.starts_with(addr);
                    if is_parent {
                        break;
                    }
                    stack.pop();
                }
                let parent_input = stack.last().map(|(_, i, _)| *i);
                stack.push((&t.trace_address, &t.action.input, Some(pos)));
                if t.kind != "call" {
                    continue;
                }
                let call_type = t.action.call_type.as_deref().unwrap_or("call");
                out.push(CallView {
                    tx_index: pos,
                    depth: t.trace_address.len(),
                    from: t.action.from,
                    to: t.action.to,
                    input: &t.action.input,
                    value: t.action.value.unwrap_or_default(),
                    call_type,
                    reverted: t.error.is_some(),
                    forwarded: call_type == "delegatecall" && parent_input == Some(&t.action.input),
                });
            }
        } else if let Some(cts) = &self.call_traces {
            for (i, (_, frame)) in cts.iter().enumerate() {
                walk_frame(i as u64, frame, 0, false, None, &mut out);
            }
        } else {
            for t in &self.transactions {
                let (Some(input), Some(_)) = (&t.input, t.to) else { continue };
                out.push(CallView {
                    tx_index: t.index,
                    depth: 0,
                    from: t.from,
                    to: t.to,
                    input,
                    value: t.value.unwrap_or_default(),
                    call_type: "call",
                    reverted: self.receipt(t.index).and_then(|r| r.status) == Some(false),
                    forwarded: false,
                });
            }
        }
        out
    }
}

/// What the data does not allow to check, in the same words on every decoding path.
pub(crate) fn notes_for(
    header: &Header,
    has_tx_list: bool,
    no_receipts: bool,
    no_traces: bool,
) -> Vec<String> {
    let mut notes = Vec::new();
    if header.hash.is_none() {
        notes.push("no block hash: reorgs cannot be detected for this block".to_string());
    }
    if !has_tx_list {
        notes.push("no transaction list".to_string());
    }
    if no_receipts {
        notes.push("no receipts: event rules and transaction status cannot be checked".into());
    }
    if no_traces {
        notes.push("no traces: only top-level calls can be matched".into());
    }
    notes
}

/// Flattens a call tree in pre-order without recursion (a tree may be 1,024 frames deep).
fn walk_frame<'a>(
    tx: u64,
    root: &'a CallFrame,
    depth: usize,
    parent_reverted: bool,
    parent_input: Option<&'a Bytes>,
    out: &mut Vec<CallView<'a>>,
) {
    let mut todo = vec![(root, depth, parent_reverted, parent_input)];
    while let Some((f, depth, parent_reverted, parent_input)) = todo.pop() {
        let reverted = parent_reverted || f.error.is_some();
        if !f.kind.starts_with("CREATE") && f.kind != "SELFDESTRUCT" {
            let call_type = lower_kind(&f.kind);
            out.push(CallView {
                forwarded: call_type == "delegatecall" && parent_input == Some(&f.input),
                tx_index: tx,
                depth,
                from: f.from,
                to: f.to,
                input: &f.input,
                value: f.value.unwrap_or_default(),
                call_type,
                reverted,
            });
        }
        // Children in reverse so the first is visited next.
        todo.extend(f.calls.iter().rev().map(|c| (c, depth + 1, reverted, Some(&f.input))));
    }
}

fn lower_kind(k: &str) -> &'static str {
    match k {
        "DELEGATECALL" => "delegatecall",
        "STATICCALL" => "staticcall",
        "CALLCODE" => "callcode",
        _ => "call",
    }
}

fn inv(what: impl Into<String>, reason: String) -> Error {
    Error::Invalid { what: what.into(), reason }
}

/// Reads an optional field: absent or null gives `None`, a malformed value an error.
fn opt<T>(
    obj: &Map<String, Value>,
    key: &str,
    f: impl Fn(&Value) -> Result<T, String>,
) -> Result<Option<T>, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => f(v).map(Some).map_err(|r| format!("field {key}: {r}")),
    }
}

/// Like [`opt`], trying each spelling of a key in turn (camelCase, then snake_case).
fn opt2<T>(
    obj: &Map<String, Value>,
    keys: &[&str],
    f: impl Fn(&Value) -> Result<T, String>,
) -> Result<Option<T>, String> {
    for k in keys {
        if let Some(v) = obj.get(*k) {
            if v.is_null() {
                return Ok(None);
            }
            return f(v).map(Some).map_err(|r| format!("field {k}: {r}"));
        }
    }
    Ok(None)
}

fn as_obj<'a>(v: &'a Value, what: &str) -> Result<&'a Map<String, Value>, String> {
    v.as_object().ok_or_else(|| format!("{what} must be an object, found {}", q::kind(v)))
}

fn parse_tx(index: u64, v: &Value) -> Result<Transaction, String> {
    if let Value::String(_) = v {
        return Ok(Transaction { index, hash: Some(q::b256(v)?), ..Default::default() });
    }
    let o = as_obj(v, "transaction")?;
    let index = opt(o, "transactionIndex", q::u64)?.unwrap_or(index);
    Ok(Transaction {
        index,
        hash: opt(o, "hash", q::b256)?,
        from: opt(o, "from", q::address)?,
        to: opt(o, "to", q::address)?,
        value: opt(o, "value", q::u256)?,
        gas: opt(o, "gas", q::u64)?,
        input: opt2(o, &["input", "data"], q::bytes)?,
        nonce: opt(o, "nonce", q::u64)?,
        tx_type: opt(o, "type", q::u64)?,
    })
}

fn parse_log(v: &Value) -> Result<Log, String> {
    let o = as_obj(v, "log")?;
    let topics = match o.get("topics") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(ts)) => ts.iter().map(q::b256).collect::<Result<_, _>>()?,
        Some(other) => return Err(format!("topics must be an array, found {}", q::kind(other))),
    };
    Ok(Log {
        address: opt(o, "address", q::address)?.ok_or("log has no address")?,
        topics,
        data: opt(o, "data", q::bytes)?.unwrap_or_default(),
        log_index: opt(o, "logIndex", q::u64)?,
    })
}

fn parse_receipt(v: &Value) -> Result<Receipt, String> {
    let o = as_obj(v, "receipt")?;
    let logs = match o.get("logs") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(ls)) => ls
            .iter()
            .enumerate()
            .map(|(i, l)| parse_log(l).map_err(|e| format!("logs[{i}]: {e}")))
            .collect::<Result<_, _>>()?,
        Some(other) => return Err(format!("logs must be an array, found {}", q::kind(other))),
    };
    let status = opt(o, "status", q::u64)?.map(|s| s == 1);
    Ok(Receipt {
        transaction_hash: opt2(o, &["transactionHash", "transaction_hash"], q::b256)?,
        transaction_index: opt2(o, &["transactionIndex", "transaction_index"], q::u64)?,
        status,
        gas_used: opt2(o, &["gasUsed", "gas_used"], q::u64)?,
        contract_address: opt(o, "contractAddress", q::address)?,
        logs,
    })
}

fn parse_trace(v: &Value) -> Result<Trace, String> {
    let o = as_obj(v, "trace")?;
    let kind = match o.get("type") {
        Some(Value::String(s)) => s.clone(),
        _ => return Err("trace has no \"type\"".into()),
    };
    let a = match o.get("action") {
        Some(a) => as_obj(a, "trace action")?,
        None => return Err("trace has no \"action\"".into()),
    };
    let input = opt2(a, &["input", "init"], q::bytes)?.unwrap_or_default();
    let action = TraceAction {
        from: opt2(a, &["from", "author"], q::address)?,
        to: opt2(a, &["to", "address"], q::address)?,
        call_type: match a.get("callType").or_else(|| a.get("call_type")) {
            Some(Value::String(s)) => Some(s.clone()),
            _ => None,
        },
        input,
        value: opt2(a, &["value", "balance"], q::u256)?,
    };
    let (created, output) = match o.get("result") {
        Some(Value::Object(r)) => (
            opt(r, "address", q::address)?,
            match opt(r, "output", q::bytes)? {
                Some(b) => Some(b),
                None => opt(r, "code", q::bytes)?,
            },
        ),
        _ => (None, None),
    };
    let trace_address = match o.get("traceAddress").or_else(|| o.get("trace_address")) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(xs)) => xs.iter().map(q::u64).collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(format!("traceAddress must be an array, found {}", q::kind(other)))
        }
    };
    Ok(Trace {
        kind,
        action,
        created,
        output,
        error: match o.get("error") {
            Some(Value::String(s)) => Some(s.clone()),
            _ => None,
        },
        trace_address,
        transaction_position: opt2(o, &["transactionPosition", "transaction_position"], q::u64)?,
        transaction_hash: opt2(o, &["transactionHash", "transaction_hash"], q::b256)?,
    })
}

/// Decodes the `calls` field of a recorded line: null, or `[{"to", "data", "result"}]`.
pub(crate) fn parse_calls(v: &Value) -> Result<Option<Vec<ViewCallResult>>, String> {
    let Value::Array(items) = v else {
        return match v {
            Value::Null => Ok(None),
            other => Err(format!("expected an array or null, found {}", q::kind(other))),
        };
    };
    items
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let o = as_obj(c, "call").map_err(|e| format!("[{i}]: {e}"))?;
            Ok(ViewCallResult {
                to: opt(o, "to", q::address)?.ok_or(format!("[{i}]: no to"))?,
                data: opt(o, "data", q::bytes)?.unwrap_or_default(),
                result: opt(o, "result", q::bytes)?,
            })
        })
        .collect::<Result<Vec<_>, String>>()
        .map(Some)
}

/// Decodes the `code` field of a recorded line: null, or `[{"address", "code"}]`.
pub(crate) fn parse_code(v: &Value) -> Result<Option<Vec<(Address, Bytes)>>, String> {
    let Value::Array(items) = v else {
        return match v {
            Value::Null => Ok(None),
            other => Err(format!("expected an array or null, found {}", q::kind(other))),
        };
    };
    items
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let o = as_obj(c, "code entry").map_err(|e| format!("[{i}]: {e}"))?;
            Ok((
                opt(o, "address", q::address)?.ok_or(format!("[{i}]: no address"))?,
                opt(o, "code", q::bytes)?.unwrap_or_default(),
            ))
        })
        .collect::<Result<Vec<_>, String>>()
        .map(Some)
}

/// Decodes the `proofs` field of a recorded line: null, or an array of `eth_getProof` answers.
pub(crate) fn parse_proofs(v: &Value) -> Result<Option<Vec<AccountState>>, String> {
    match v {
        Value::Null => Ok(None),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, p)| parse_account_state(p).map_err(|e| format!("[{i}]: {e}")))
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        other => Err(format!("expected an array or null, found {}", q::kind(other))),
    }
}

fn parse_account_state(v: &Value) -> Result<AccountState, String> {
    let o = as_obj(v, "proof")?;
    let req = |k: &str| o.get(k).filter(|x| !x.is_null()).ok_or(format!("no {k}"));
    let storage = match o.get("storageProof") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(sp)) => sp
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let slot = || -> Result<(B256, U256), String> {
                    let so = as_obj(s, "storage proof")?;
                    let key = so.get("key").ok_or("no key")?;
                    // Nodes send keys as 32-byte hex or as a short quantity.
                    let key = q::b256(key).or_else(|_| q::u256(key).map(B256::from))?;
                    Ok((key, q::u256(so.get("value").ok_or("no value")?)?))
                };
                slot().map_err(|e| format!("storageProof[{i}]: {e}"))
            })
            .collect::<Result<Vec<_>, String>>()?,
        Some(other) => {
            return Err(format!("storageProof must be an array, found {}", q::kind(other)))
        }
    };
    Ok(AccountState {
        address: q::address(req("address")?).map_err(|e| format!("address: {e}"))?,
        balance: q::u256(req("balance")?).map_err(|e| format!("balance: {e}"))?,
        nonce: q::u64(req("nonce")?).map_err(|e| format!("nonce: {e}"))?,
        code_hash: q::b256(req("codeHash")?).map_err(|e| format!("codeHash: {e}"))?,
        storage_hash: q::b256(req("storageHash")?).map_err(|e| format!("storageHash: {e}"))?,
        storage,
    })
}

fn parse_frame(v: &Value, depth: usize) -> Result<CallFrame, String> {
    if depth > crate::json::MAX_CALL_DEPTH {
        return Err(format!("call tree deeper than {} frames", crate::json::MAX_CALL_DEPTH));
    }
    // A tree as deep as the EVM allows recurses 1,024 times: grow the stack on the heap when
    // it runs low rather than overflow a small thread stack.
    stacker::maybe_grow(64 * 1024, 1024 * 1024, || parse_frame_at(v, depth))
}

fn parse_frame_at(v: &Value, depth: usize) -> Result<CallFrame, String> {
    let o = as_obj(v, "call frame")?;
    let calls = match o.get("calls") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(cs)) => {
            cs.iter().map(|c| parse_frame(c, depth + 1)).collect::<Result<_, _>>()?
        }
        Some(other) => return Err(format!("calls must be an array, found {}", q::kind(other))),
    };
    Ok(CallFrame {
        kind: match o.get("type") {
            Some(Value::String(s)) => s.to_ascii_uppercase(),
            _ => "CALL".into(),
        },
        from: opt(o, "from", q::address)?,
        to: opt(o, "to", q::address)?,
        input: opt(o, "input", q::bytes)?.unwrap_or_default(),
        value: opt(o, "value", q::u256)?,
        error: match o.get("error") {
            Some(Value::String(s)) => Some(s.clone()),
            _ => None,
        },
        output: opt(o, "output", q::bytes)?,
        calls,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rec(block: Value) -> RecordedBlock {
        RecordedBlock {
            prestate: serde_json::Value::Null,
            block,
            receipts: Value::Null,
            traces: Value::Null,
            call_traces: Value::Null,
            proofs: Value::Null,
            calls: Value::Null,
            code: Value::Null,
            beacon: Value::Null,
            comet: Value::Null,
        }
    }

    #[test]
    fn only_number_is_required() {
        let b = BlockData::from_recorded(rec(json!({"number": 5}))).unwrap();
        assert_eq!(b.header.number, 5);
        assert!(!b.block_ref().hash_known);
        assert!(b.notes.iter().any(|n| n.contains("no block hash")));
        assert!(BlockData::from_recorded(rec(json!({"hash": "0x00"}))).is_err());
    }

    #[test]
    fn malformed_field_names_block_and_field() {
        let err = BlockData::from_recorded(rec(
            json!({"number": "0x5", "transactions": [{"hash": "0x12"}]}),
        ))
        .unwrap_err()
        .to_string();
        assert!(err.contains("block 5"), "{err}");
        assert!(err.contains("transactions[0]"), "{err}");
        assert!(err.contains("hash"), "{err}");
    }

    #[test]
    fn transactions_may_be_hashes() {
        let h = format!("0x{}", "ab".repeat(32));
        let b = BlockData::from_recorded(rec(json!({"number": 1, "transactions": [h]}))).unwrap();
        assert_eq!(b.transactions[0].hash.unwrap().to_string(), h);
        assert_eq!(b.tx_hash(0).unwrap().to_string(), h);
    }

    #[test]
    fn nested_call_frames_are_walked() {
        let to1 = "0x0000000000000000000000000000000000000001";
        let to2 = "0x0000000000000000000000000000000000000002";
        let r = RecordedBlock {
            prestate: serde_json::Value::Null,
            block: json!({"number": 1}),
            receipts: Value::Null,
            traces: Value::Null,
            call_traces: json!([{"txHash": null, "result": {"type": "CALL", "to": to1,
                "input": "0x01", "calls": [{"type": "DELEGATECALL", "to": to2, "input": "0x02",
                "error": "execution reverted"}]}}]),
            proofs: Value::Null,
            calls: Value::Null,
            code: Value::Null,
            beacon: Value::Null,
            comet: Value::Null,
        };
        let b = BlockData::from_recorded(r).unwrap();
        let calls = b.calls();
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[1].depth, 1);
        assert_eq!(calls[1].call_type, "delegatecall");
        assert!(calls[1].reverted && !calls[0].reverted);
    }
}
