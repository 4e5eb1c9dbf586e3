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
    /// True when the transaction breaks the assertion.
    pub fn violated(&self) -> bool {
        matches!(self.verdict, Verdict::Violated { .. })
    }
}
