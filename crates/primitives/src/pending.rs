//! Pending transactions and what simulating one on the latest verified state showed.

use crate::quantity as q;
use crate::{BlockData, BlockRef, CallFrame, Header, Log, Receipt, Transaction};
use alloy_primitives::{Address, Bytes, B256, U256};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A transaction seen in a node's pool, not yet in a block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingTx {
    /// Hash.
    pub hash: B256,
    /// Sender.
    pub from: Address,
    /// Recipient (none for a creation).
    pub to: Option<Address>,
    /// Nonce.
    pub nonce: u64,
    /// Value in wei.
    pub value: U256,
    /// Calldata.
    pub input: Bytes,
    /// Gas limit.
    pub gas: u64,
    /// EIP-1559 tip cap, or the legacy gas price.
    pub priority_fee: u128,
    /// EIP-1559 fee cap, or the legacy gas price.
    pub max_fee: u128,
    /// Transaction type (0 legacy, 1 access list, 2 EIP-1559, 3 blob, 4 set-code).
    pub tx_type: u64,
    /// Signed authorizations (type 4, EIP-7702): simulated as the chain would apply them.
    #[serde(default)]
    pub authorizations: Vec<crate::assertion::SetCodeAuth>,
}

impl PendingTx {
    /// Reads a JSON-RPC transaction object (`eth_getTransactionByHash`, `txpool_content`, a
    /// full `newPendingTransactions` notification).
    pub fn from_json(v: &Value) -> Result<Self, String> {
        if !v.is_object() {
            return Err(format!("expected a transaction object, got {}", q::kind(v)));
        }
        let field = |k: &str| v.get(k).filter(|x| !x.is_null());
        let u = |k: &str| field(k).map(q::u64).transpose().map_err(|e| format!("{k}: {e}"));
        let big = |k: &str| -> Result<Option<u128>, String> {
            field(k)
                .map(|x| {
                    let n = q::u256(x).map_err(|e| format!("{k}: {e}"))?;
                    u128::try_from(n).map_err(|_| format!("{k}: {n} does not fit in 128 bits"))
                })
                .transpose()
        };
        let gas_price = big("gasPrice")?;
        let max_fee = big("maxFeePerGas")?.or(gas_price).unwrap_or(0);
        let priority_fee = big("maxPriorityFeePerGas")?.or(gas_price).unwrap_or(0);
        Ok(Self {
            hash: q::b256(field("hash").ok_or("no hash")?).map_err(|e| format!("hash: {e}"))?,
            from: q::address(field("from").ok_or("no from")?).map_err(|e| format!("from: {e}"))?,
            to: field("to").map(q::address).transpose().map_err(|e| format!("to: {e}"))?,
            nonce: u("nonce")?.ok_or("no nonce")?,
            value: field("value")
                .map(q::u256)
                .transpose()
                .map_err(|e| format!("value: {e}"))?
                .unwrap_or_default(),
            input: field("input")
                .or(field("data"))
                .map(q::bytes)
                .transpose()
                .map_err(|e| format!("input: {e}"))?
                .unwrap_or_default(),
            gas: u("gas")?.unwrap_or(0),
            priority_fee: priority_fee.min(max_fee),
            max_fee,
            tx_type: u("type")?.unwrap_or(0),
            authorizations: crate::assertion::SetCodeAuth::list_from_json(v)?,
        })
    }

    /// The tip per gas this transaction pays a block proposer at `base_fee`, the key of fee
    /// ordering (`None` when it cannot pay the base fee).
    pub fn effective_tip(&self, base_fee: u128) -> Option<u128> {
        self.max_fee.checked_sub(base_fee).map(|room| room.min(self.priority_fee))
    }
}

/// What a simulation should look at besides the transaction itself: the union of what the
/// pending detectors of a chain ask for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimNeeds {
    /// Contracts whose native balance and storage changes are reported.
    pub watched: Vec<Address>,
    /// ERC-20 tokens whose balances of the watched contracts are reported (`balanceOf`).
    pub tokens: Vec<Address>,
    /// View calls made before and after, when the transaction touches a watched contract.
    pub views: Vec<(Address, Bytes)>,
    /// Simulate every pending transaction, watched or not (for its logs: swaps).
    pub all: bool,
    /// Solidity assertions run on each transaction that triggers them.
    pub assertions: Vec<std::sync::Arc<crate::assertion::AssertionSpec>>,
}

impl SimNeeds {
    /// Adds `other`'s entries that are not already here.
    pub fn merge(&mut self, other: &SimNeeds) {
        fn add<T: PartialEq + Clone>(into: &mut Vec<T>, from: &[T]) {
            for x in from {
                if !into.contains(x) {
                    into.push(x.clone());
                }
            }
        }
        add(&mut self.watched, &other.watched);
        add(&mut self.tokens, &other.tokens);
        add(&mut self.views, &other.views);
        add(&mut self.assertions, &other.assertions);
        self.all |= other.all;
    }

    /// True when no detector needs a simulation.
    pub fn is_empty(&self) -> bool {
        self.watched.is_empty() && !self.all && self.assertions.is_empty()
    }
}

/// An account's balance of one asset before and after a simulated transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BalanceChange {
    /// The account.
    pub account: Address,
    /// The token (`None` for the native currency).
    pub asset: Option<Address>,
    /// Before the transaction.
    pub before: U256,
    /// After it.
    pub after: U256,
}

/// A storage slot written by a simulated transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotChange {
    /// The contract.
    pub address: Address,
    /// The slot.
    pub slot: B256,
    /// Value before.
    pub before: U256,
    /// Value after.
    pub after: U256,
}

/// A view call made before and after a simulated transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewPair {
    /// The contract called.
    pub to: Address,
    /// Calldata.
    pub data: Bytes,
    /// Returned data on the state before the transaction (`None`: it reverted).
    pub before: Option<Bytes>,
    /// Returned data on the state after it (`None`: it reverted).
    pub after: Option<Bytes>,
}

/// What executing a pending transaction on the latest verified state showed. The simulator
/// produces it; detectors judge it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Simulation {
    /// The verified block whose state the transaction ran on.
    pub state_block: BlockRef,
    /// True when the transaction succeeded.
    pub success: bool,
    /// Why it reverted or halted, or why it could not be executed (invalid nonce, fees).
    pub error: Option<String>,
    /// Gas used.
    pub gas_used: u64,
    /// Every account its call tree called into (target of each call frame), in call order,
    /// without repeats.
    pub touched: Vec<Address>,
    /// Balances of the watched accounts it changed, per asset.
    pub balances: Vec<BalanceChange>,
    /// Storage of the watched contracts it changed.
    pub slots: Vec<SlotChange>,
    /// The view calls asked for, before and after (made when it touched a watched contract).
    pub views: Vec<ViewPair>,
    /// Execution time of the transaction alone, in microseconds (state loading included).
    pub exec_micros: u64,
    /// Total time of the simulation (with the view calls), in microseconds.
    pub total_micros: u64,
    /// State entries loaded from the node for this simulation (cache misses).
    pub fetched: u64,
    /// Assertions the transaction triggered, and how each ended.
    pub assertions: Vec<crate::assertion::AssertionOutcome>,
    /// Time the assertions took (the transaction run again under their tracer, then each
    /// triggered function), in microseconds; included in `total_micros`.
    pub assert_micros: u64,
}

impl Simulation {
    /// True when the call tree reached one of `watched`.
    pub fn touches_any(&self, watched: &[Address]) -> bool {
        self.touched.iter().any(|a| watched.contains(a))
    }
}

/// The block a pending transaction would make on its own on top of `parent`: the transaction,
/// with its simulated receipt and call tree when a simulation ran, so that block detectors can
/// judge it before inclusion. The header has no hash, so findings about it are anchored at the
/// synthetic reference of its number, which no reorg retracts.
pub fn would_be_block(
    parent: &Header,
    tx: &PendingTx,
    sim: Option<(&Simulation, Vec<Log>, Option<CallFrame>)>,
) -> BlockData {
    let number = parent.number.saturating_add(1);
    let transaction = Transaction {
        index: 0,
        hash: Some(tx.hash),
        from: Some(tx.from),
        to: tx.to,
        value: Some(tx.value),
        gas: Some(tx.gas),
        input: Some(tx.input.clone()),
        nonce: Some(tx.nonce),
        tx_type: Some(tx.tx_type),
    };
    let (receipts, call_traces) = match sim {
        Some((s, logs, frame)) => (
            Some(vec![Receipt {
                transaction_hash: Some(tx.hash),
                transaction_index: Some(0),
                status: Some(s.success),
                gas_used: Some(s.gas_used),
                contract_address: None,
                logs,
            }]),
            frame.map(|f| vec![(Some(tx.hash), f)]),
        ),
        None => (None, None),
    };
    BlockData {
        header: Header {
            number,
            hash: None,
            parent_hash: parent.hash,
            timestamp: parent.timestamp,
            miner: parent.miner,
            gas_limit: parent.gas_limit,
            base_fee_per_gas: parent.base_fee_per_gas,
            ..Default::default()
        },
        transactions: vec![transaction],
        receipts,
        call_traces,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pending_transactions_are_read_from_rpc_objects() {
        let v = json!({"hash": format!("{:#x}", B256::repeat_byte(1)), "from": "0x00000000000000000000000000000000000000aa",
            "to": null, "nonce": "0x2", "value": "0x10", "input": "0x1234", "gas": "0x5208",
            "maxFeePerGas": "0x64", "maxPriorityFeePerGas": "0x3", "type": "0x2"});
        let p = PendingTx::from_json(&v).unwrap();
        assert_eq!((p.nonce, p.max_fee, p.priority_fee, p.tx_type, p.to), (2, 100, 3, 2, None));
        assert_eq!(p.effective_tip(98), Some(2));
        assert_eq!(p.effective_tip(101), None);
        let legacy = json!({"hash": format!("{:#x}", B256::repeat_byte(2)), "from": "0x00000000000000000000000000000000000000aa",
            "nonce": "0x0", "gasPrice": "0x7"});
        let p = PendingTx::from_json(&legacy).unwrap();
        assert_eq!((p.max_fee, p.priority_fee), (7, 7));
        assert!(PendingTx::from_json(&json!({"hash": "0x12"})).unwrap_err().contains("hash"));
        assert!(PendingTx::from_json(&json!([])).is_err());
        let huge = json!({"hash": format!("{:#x}", B256::repeat_byte(2)), "from": "0x00000000000000000000000000000000000000aa",
            "nonce": "0x0", "gasPrice": format!("{:#x}", U256::MAX)});
        assert!(PendingTx::from_json(&huge).unwrap_err().contains("128 bits"));
    }
}
