//! Solidity assertions: what to run (an [`AssertionSpec`]) and what running one showed (an
//! [`AssertionOutcome`]). The executor lives in `palisade-assert`; these types cross crates
//! (config -> simulator -> detectors -> store).

use alloy_primitives::{Address, Bytes, B256};
use serde::{Deserialize, Serialize};

/// The gas an assertion function may use per run unless configured otherwise (Phylax's budget).
pub const DEFAULT_GAS_BUDGET: u64 = 3_000_000;

/// What makes an assertion function run for a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "on")]
pub enum TriggerKind {
    /// A call to the protected contract with this selector.
    Call {
        /// The protected contract's function selector.
        selector: [u8; 4],
    },
    /// Any call to the protected contract.
    AnyCall,
    /// A storage slot of the protected contract changed (any slot when none is named).
    StorageChange {
        /// The slot.
        slot: Option<B256>,
    },
    /// The protected contract's ether balance changed, or its balance of an ERC-20 token (a
    /// `Transfer` to or from it).
    BalanceChange,
    /// The end of a transaction that touched the protected contract (called it, delegated to it,
    /// or saw it emit a log).
    TxEnd,
}

/// One trigger: when it fires, which assertion function runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Trigger {
    /// The condition.
    #[serde(flatten)]
    pub kind: TriggerKind,
    /// The assertion contract's function that runs (a selector).
    pub function: [u8; 4],
}

/// An assertion contract as configured: its creation code, what it protects, and its triggers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssertionSpec {
    /// Name, used in findings.
    pub name: String,
    /// The protected contract (the "assertion adopter").
    pub adopter: Address,
    /// Creation code (bytecode followed by ABI-encoded constructor arguments).
    pub init_code: Bytes,
    /// Triggers from the config; those the contract registers in `triggers()` are added.
    pub triggers: Vec<Trigger>,
    /// Gas each assertion function may use per run.
    pub gas_budget: u64,
    /// Names of the contract's functions by selector (from its ABI), for reports.
    pub functions: Vec<([u8; 4], String)>,
}

/// What fired an assertion function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriggerHit {
    /// The trigger.
    pub kind: TriggerKind,
    /// The call that fired it (its id, as `forkPreCall` takes it), when a call did.
    pub call_id: Option<u64>,
    /// That call's caller.
    pub caller: Option<Address>,
    /// That call's selector.
    pub selector: Option<[u8; 4]>,
}

/// How an assertion function ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "verdict")]
pub enum Verdict {
    /// It returned: the transaction keeps the property.
    Held,
    /// It reverted: the transaction breaks the property.
    Violated {
        /// The revert reason (`Error(string)`, a custom error, or the raw bytes).
        reason: String,
    },
    /// It ran out of its gas budget: nothing is known; the other assertions still ran.
    OverBudget,
    /// It could not run (it halted for another reason, or state could not be read).
    Failed {
        /// Why.
        reason: String,
    },
}

/// A value an assertion read while it ran: a storage slot through `load`, or what a call it made
/// to another contract returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValueRead {
    /// The state it read: `pre_tx`, `post_tx`, `pre_call:<id>`, `post_call:<id>`.
    pub fork: String,
    /// The contract read.
    pub contract: Address,
    /// `load(slot)` or the call's selector and arguments (`0x01234567...`).
    pub what: String,
    /// The value (a slot's word, or the call's return data).
    pub value: Bytes,
}

/// One assertion function run for one transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssertionOutcome {
    /// The assertion's configured name.
    pub assertion: String,
    /// The protected contract.
    pub adopter: Address,
    /// The function that ran (its name when the ABI was given, else its selector).
    pub function: String,
    /// The transaction checked.
    pub tx: B256,
    /// What fired it (the first trigger that did).
    pub trigger: TriggerHit,
    /// How it ended.
    #[serde(flatten)]
    pub verdict: Verdict,
    /// Gas it used.
    pub gas_used: u64,
    /// Values it read (the first 32).
    pub reads: Vec<ValueRead>,
}

impl AssertionOutcome {
    /// An assertion that could not run on a transaction at all (its state could not be read).
    pub fn not_run(spec: &AssertionSpec, tx: B256, reason: String) -> Self {
        Self {
            assertion: spec.name.clone(),
            adopter: spec.adopter,
            function: "-".into(),
            tx,
            trigger: TriggerHit {
                kind: TriggerKind::TxEnd,
                call_id: None,
                caller: None,
                selector: None,
            },
            verdict: Verdict::Failed { reason },
            gas_used: 0,
            reads: Vec::new(),
        }
    }

    /// True when the transaction breaks the assertion.
    pub fn violated(&self) -> bool {
        matches!(self.verdict, Verdict::Violated { .. })
    }
}

/// A transaction with everything re-executing it needs (the block's own transaction objects).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecTx {
    /// Hash.
    pub hash: B256,
    /// Sender.
    pub from: Address,
    /// Recipient (none for a creation).
    pub to: Option<Address>,
    /// Value.
    pub value: alloy_primitives::U256,
    /// Calldata.
    pub input: Bytes,
    /// Gas limit.
    pub gas: u64,
    /// Gas price (legacy) or fee cap.
    pub max_fee: u128,
    /// Priority fee cap (EIP-1559 and later).
    pub priority_fee: Option<u128>,
    /// Nonce.
    pub nonce: u64,
    /// EIP-2718 type.
    pub tx_type: u8,
    /// Access list.
    pub access_list: Vec<(Address, Vec<B256>)>,
    /// Blob versioned hashes (type 3).
    pub blob_hashes: Vec<B256>,
    /// Blob fee cap (type 3).
    pub max_fee_per_blob_gas: Option<u128>,
    /// The chain id it was signed for (none for a legacy transaction without EIP-155).
    pub chain_id: Option<u64>,
    /// Signed authorizations (type 4, EIP-7702 set-code transactions).
    #[serde(default)]
    pub authorizations: Vec<SetCodeAuth>,
}

/// A signed EIP-7702 authorization: `authority` (recovered from the signature) delegates its
/// code to `address`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetCodeAuth {
    /// The chain it is valid on (0: any).
    pub chain_id: alloy_primitives::U256,
    /// The code it delegates to.
    pub address: Address,
    /// The authority's nonce it expects.
    pub nonce: u64,
    /// Signature parity.
    pub y_parity: u8,
    /// Signature r.
    pub r: alloy_primitives::U256,
    /// Signature s.
    pub s: alloy_primitives::U256,
}

/// An account as it was before a block: balance, nonce, code, and the slots that were read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreAccount {
    /// The account.
    pub address: Address,
    /// Balance.
    pub balance: alloy_primitives::U256,
    /// Nonce.
    pub nonce: u64,
    /// Code hash.
    pub code_hash: B256,
    /// Code (empty for accounts without code).
    pub code: Bytes,
    /// Slots read, with their values.
    pub storage: Vec<(B256, alloy_primitives::U256)>,
}

/// The state before a block that re-executing it reads (with the `eth_getProof` answers that
/// prove it against the parent's state root), and what re-execution needs of the block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prestate {
    /// The parent block.
    pub parent: crate::BlockRef,
    /// The parent's state root, as recorded (checked against the parent block when it was seen).
    pub state_root: B256,
    /// The accounts.
    pub accounts: Vec<PreAccount>,
    /// The `eth_getProof` answers, for [`Prestate::state_root`].
    pub proofs: serde_json::Value,
    /// The block's transactions.
    pub txs: Vec<ExecTx>,
    /// The block's `mixHash` (prevrandao after the merge).
    pub prevrandao: Option<B256>,
    /// The block's excess blob gas.
    pub excess_blob_gas: Option<u64>,
    /// The chain's id (what `CHAINID` returns).
    pub chain_id: u64,
    /// Hashes of earlier blocks the re-execution read (`BLOCKHASH`): the parent's is proven (it
    /// is the block's `parentHash`), older ones are the node's word.
    #[serde(default)]
    pub block_hashes: Vec<(u64, B256)>,
}

impl Prestate {
    /// Decodes the `prestate` field of a recorded line, with `block`, the line's block object.
    pub fn parse(v: &serde_json::Value, block: &serde_json::Value) -> Result<Option<Self>, String> {
        use crate::quantity as q;
        use serde_json::Value;
        if v.is_null() {
            return Ok(None);
        }
        let parent = v.get("parent").ok_or("no parent")?;
        let pnum = q::u64(parent.get("number").ok_or("parent: no number")?)
            .map_err(|e| format!("parent.number: {e}"))?;
        let phash = q::b256(parent.get("hash").ok_or("parent: no hash")?)
            .map_err(|e| format!("parent.hash: {e}"))?;
        let state_root = q::b256(parent.get("stateRoot").ok_or("parent: no stateRoot")?)
            .map_err(|e| format!("parent.stateRoot: {e}"))?;
        let proofs = v.get("accounts").cloned().unwrap_or(Value::Array(Vec::new()));
        let list = proofs.as_array().ok_or("accounts must be an array")?;
        let mut accounts = Vec::with_capacity(list.len());
        for (i, a) in list.iter().enumerate() {
            let at =
                |k: &str| a.get(k).filter(|x| !x.is_null()).ok_or(format!("accounts[{i}]: no {k}"));
            let mut storage = Vec::new();
            for (j, s) in
                a.get("storageProof").and_then(Value::as_array).into_iter().flatten().enumerate()
            {
                let key = s.get("key").ok_or(format!("accounts[{i}].storageProof[{j}]: no key"))?;
                let key = q::b256(key)
                    .or_else(|_| q::u256(key).map(B256::from))
                    .map_err(|e| format!("accounts[{i}].storageProof[{j}].key: {e}"))?;
                let value = q::u256(
                    s.get("value").ok_or(format!("accounts[{i}].storageProof[{j}]: no value"))?,
                )
                .map_err(|e| format!("accounts[{i}].storageProof[{j}].value: {e}"))?;
                storage.push((key, value));
            }
            accounts.push(PreAccount {
                address: q::address(at("address")?)
                    .map_err(|e| format!("accounts[{i}].address: {e}"))?,
                balance: q::u256(at("balance")?)
                    .map_err(|e| format!("accounts[{i}].balance: {e}"))?,
                nonce: q::u64(at("nonce")?).map_err(|e| format!("accounts[{i}].nonce: {e}"))?,
                code_hash: q::b256(at("codeHash")?)
                    .map_err(|e| format!("accounts[{i}].codeHash: {e}"))?,
                code: match a.get("code") {
                    None | Some(Value::Null) => Bytes::new(),
                    Some(c) => q::bytes(c).map_err(|e| format!("accounts[{i}].code: {e}"))?,
                },
                storage,
            });
        }
        let txs = block
            .get("transactions")
            .and_then(Value::as_array)
            .ok_or("the block has no transaction list")?
            .iter()
            .enumerate()
            .map(|(i, t)| ExecTx::from_json(t).map_err(|e| format!("block.transactions[{i}]: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        let prevrandao = block.get("mixHash").and_then(|x| q::b256(x).ok());
        let excess_blob_gas = block.get("excessBlobGas").and_then(|x| q::u64(x).ok());
        let chain_id = match v.get("chainId") {
            Some(c) => q::u64(c).map_err(|e| format!("chainId: {e}"))?,
            None => txs.iter().find_map(|t| t.chain_id).ok_or("no chainId")?,
        };
        let mut block_hashes = Vec::new();
        for (i, h) in
            v.get("blockHashes").and_then(Value::as_array).into_iter().flatten().enumerate()
        {
            let n = h.get("number").ok_or(format!("blockHashes[{i}]: no number"))?;
            let n = q::u64(n).map_err(|e| format!("blockHashes[{i}].number: {e}"))?;
            let x = h.get("hash").ok_or(format!("blockHashes[{i}]: no hash"))?;
            let x = q::b256(x).map_err(|e| format!("blockHashes[{i}].hash: {e}"))?;
            block_hashes.push((n, x));
        }
        Ok(Some(Self {
            parent: crate::BlockRef::new(pnum, phash),
            state_root,
            accounts,
            proofs,
            txs,
            prevrandao,
            excess_blob_gas,
            chain_id,
            block_hashes,
        }))
    }
}

impl SetCodeAuth {
    /// The `authorizationList` of a JSON-RPC transaction object (empty when it has none).
    pub fn list_from_json(t: &serde_json::Value) -> Result<Vec<Self>, String> {
        use crate::quantity as q;
        let list = t.get("authorizationList").and_then(serde_json::Value::as_array);
        let mut out = Vec::new();
        for (i, a) in list.into_iter().flatten().enumerate() {
            let at = |k: &str| {
                a.get(k).filter(|x| !x.is_null()).ok_or(format!("authorizationList[{i}]: no {k}"))
            };
            let ctx = |k: &str, e: String| format!("authorizationList[{i}].{k}: {e}");
            let parity = a.get("yParity").or(a.get("v")).filter(|x| !x.is_null());
            out.push(Self {
                chain_id: q::u256(at("chainId")?).map_err(|e| ctx("chainId", e.to_string()))?,
                address: q::address(at("address")?).map_err(|e| ctx("address", e.to_string()))?,
                nonce: q::u64(at("nonce")?).map_err(|e| ctx("nonce", e.to_string()))?,
                y_parity: parity
                    .ok_or(format!("authorizationList[{i}]: no yParity"))
                    .and_then(|p| q::u64(p).map_err(|e| ctx("yParity", e.to_string())))
                    .and_then(|p| u8::try_from(p).map_err(|e| ctx("yParity", e.to_string())))?,
                r: q::u256(at("r")?).map_err(|e| ctx("r", e.to_string()))?,
                s: q::u256(at("s")?).map_err(|e| ctx("s", e.to_string()))?,
            });
        }
        Ok(out)
    }
}

impl ExecTx {
    /// Reads a full JSON-RPC transaction object: what a pending transaction has
    /// ([`crate::pending::PendingTx::from_json`]), held to what re-execution needs (gas and fee
    /// given), and the access list, blob fields and chain id.
    pub fn from_json(t: &serde_json::Value) -> Result<Self, String> {
        use crate::quantity as q;
        use serde_json::Value;
        if !t.is_object() {
            return Err("re-execution needs full transaction objects, not hashes".into());
        }
        let p = crate::pending::PendingTx::from_json(t)?;
        let f = |k: &str| t.get(k).filter(|x| !x.is_null());
        f("gas").ok_or("no gas")?;
        f("maxFeePerGas").or(f("gasPrice")).ok_or("no gasPrice or maxFeePerGas")?;
        if p.tx_type == 4 && p.authorizations.is_empty() {
            return Err("a set-code transaction (EIP-7702) without its authorizationList".into());
        }
        let mut access_list = Vec::new();
        for e in f("accessList").and_then(Value::as_array).into_iter().flatten() {
            let a = q::address(e.get("address").ok_or("accessList: no address")?)
                .map_err(|e| format!("accessList: {e}"))?;
            let keys = e
                .get("storageKeys")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|k| q::b256(k).map_err(|e| format!("accessList: {e}")))
                .collect::<Result<Vec<_>, _>>()?;
            access_list.push((a, keys));
        }
        let blob_hashes = f("blobVersionedHashes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|k| q::b256(k).map_err(|e| format!("blobVersionedHashes: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            hash: p.hash,
            from: p.from,
            to: p.to,
            value: p.value,
            input: p.input,
            gas: p.gas,
            max_fee: p.max_fee,
            // Legacy and access-list transactions have none (their gas price is the fee).
            priority_fee: f("maxPriorityFeePerGas").map(|_| p.priority_fee),
            nonce: p.nonce,
            tx_type: u8::try_from(p.tx_type)
                .map_err(|_| format!("type: {} is no type", p.tx_type))?,
            access_list,
            blob_hashes,
            max_fee_per_blob_gas: f("maxFeePerBlobGas")
                .map(q::u128)
                .transpose()
                .map_err(|e| format!("maxFeePerBlobGas: {e}"))?,
            chain_id: f("chainId").map(q::u64).transpose().map_err(|e| format!("chainId: {e}"))?,
            authorizations: p.authorizations,
        })
    }
}
