//! Solidity assertions, run in revm.
//!
//! An assertion is a contract whose functions revert when a transaction breaks a property of the
//! contract it protects (its *adopter*). Palisade deploys it once on an empty state, asks its
//! `triggers()` what runs each function, and then, for every transaction checked, runs the
//! triggered functions on the state after the transaction. While one runs, calls to the
//! cheatcode contract ([`abi::PH_EVM`], Phylax's address and interface) switch the state it reads
//! to before or after the transaction or one of its calls, and answer questions about the
//! transaction: its logs, its calls' inputs and outputs, the values a slot held. Each function
//! has a gas budget; one that runs out is reported and the others still run.
//!
//! Everything here is pure: the caller gives the state before the transaction (any revm
//! [`DatabaseRef`]: proven state loaded from a node, or state recorded with a block).

pub mod abi;
mod block;
mod cheats;
pub mod forks;
mod trace;

use abi::TriggerRecorder;
use alloy_primitives::{keccak256, Address, Bytes, Log as EvmLog, B256, U256};
use alloy_sol_types::{SolCall, SolInterface};
pub use block::{
    authorization_list, block_cfg, block_env, check_block, last_candidate, tx_env, NotRecorded,
    PrestateDb, ReadSet, Reads, TxRun,
};
use cheats::{Cheats, TxFacts};
use forks::{Fork, ForkDb, Overlay};
pub use palisade_primitives::assertion::{
    AssertionOutcome, AssertionSpec, Trigger, TriggerHit, TriggerKind, ValueRead, Verdict,
    DEFAULT_GAS_BUDGET,
};
use revm::context::result::{ExecutionResult, HaltReason, Output};
use revm::context::{BlockEnv, CfgEnv, TxEnv};
use revm::database::EmptyDB;
use revm::database_interface::{DatabaseRef, WrapDatabaseRef};
use revm::primitives::TxKind;
use revm::state::EvmState;
use revm::{Context, ExecuteEvm, InspectEvm, MainBuilder, MainContext};
use std::sync::Arc;
pub use trace::CallRecord;
use trace::TxTracer;

/// Errors of the assertion executor.
#[derive(Debug, thiserror::Error)]
pub enum AssertError {
    /// The assertion contract could not be deployed or would not say its triggers.
    #[error("assertion {name}: {reason}")]
    Prepare {
        /// The assertion's name.
        name: String,
        /// What went wrong.
        reason: String,
    },
    /// The transaction could not be executed on the state given (state missing, or revm refused
    /// it).
    #[error("transaction {tx}: {reason}")]
    Execute {
        /// The transaction.
        tx: B256,
        /// What went wrong.
        reason: String,
    },
}

/// The account assertions run as.
fn caller() -> Address {
    Address::from_word(keccak256(b"palisade assertion caller"))
}

/// An assertion contract deployed and ready: its code and storage after its constructor, and its
/// triggers (the config's and those its `triggers()` registered).
#[derive(Debug)]
pub struct Prepared {
    spec: Arc<AssertionSpec>,
    address: Address,
    account: Overlay,
    triggers: Vec<Trigger>,
}

impl Prepared {
    /// Deploys `spec`'s contract on an empty state (its constructor must not read chain state)
    /// and reads its triggers.
    pub fn new(spec: Arc<AssertionSpec>, chain_id: u64) -> Result<Self, AssertError> {
        let fail = |reason: String| AssertError::Prepare { name: spec.name.clone(), reason };
        let deployer = caller();
        let mut evm = Context::mainnet()
            .with_db(EmptyDB::default())
            .with_cfg(assertion_cfg(chain_id))
            .build_mainnet();
        let res = evm
            .transact(TxEnv {
                caller: deployer,
                kind: TxKind::Create,
                data: spec.init_code.clone(),
                gas_limit: 30_000_000,
                gas_price: 0,
                chain_id: Some(chain_id),
                ..Default::default()
            })
            .map_err(|e| fail(format!("deploying: {e}")))?;
        let address = match &res.result {
            ExecutionResult::Success { output: Output::Create(_, Some(a)), .. } => *a,
            other => return Err(fail(format!("deploying: {}", describe(other)))),
        };
        let mut account = Overlay::default();
        if let Some(acc) = res.state.get(&address) {
            account.put(
                address,
                forks::OverlayAccount {
                    info: acc.info.clone(),
                    fresh: true,
                    storage: acc.storage.iter().map(|(k, s)| (*k, s.present_value)).collect(),
                },
            );
        }
        // Solidity checks that a contract it calls has code: the cheatcode addresses get one byte.
        for a in [abi::PH_EVM, abi::TRIGGER_RECORDER] {
            let code = revm::bytecode::Bytecode::new_raw(Bytes::from_static(&[0x00]));
            let info = revm::state::AccountInfo::default().with_code(code);
            account
                .put(a, forks::OverlayAccount { info, fresh: true, storage: Default::default() });
        }
        let mut p = Self { spec: spec.clone(), address, account, triggers: spec.triggers.clone() };
        // What triggers() registers (a contract without one registers nothing).
        let empty = EmptyDB::default();
        let db = ForkDb { base: &empty, fork: Fork::PostTx, overlay: None, persistent: &p.account };
        let mut evm = Context::mainnet()
            .with_db(db)
            .with_cfg(assertion_cfg(chain_id))
            .build_mainnet_with_inspector(Cheats::recording_triggers(address));
        let call = abi::AssertionContract::triggersCall {}.abi_encode();
        let res = evm
            .inspect_tx(assertion_tx(address, call.into(), 30_000_000, chain_id))
            .map_err(|e| fail(format!("triggers(): {e}")))?;
        if res.result.is_success() {
            for t in std::mem::take(&mut evm.inspector.registered) {
                if !p.triggers.contains(&t) {
                    p.triggers.push(t);
                }
            }
        }
        if p.triggers.is_empty() {
            let why = if res.result.is_success() {
                "its triggers() registered none".to_string()
            } else {
                format!("triggers() failed ({})", describe(&res.result))
            };
            return Err(fail(format!("no triggers: {why}, and the config names none")));
        }
        Ok(p)
    }

    /// The assertion as configured.
    pub fn spec(&self) -> &AssertionSpec {
        &self.spec
    }

    /// Its triggers.
    pub fn triggers(&self) -> &[Trigger] {
        &self.triggers
    }

    fn function_name(&self, selector: [u8; 4]) -> String {
        self.spec
            .functions
            .iter()
            .find(|(s, _)| *s == selector)
            .map(|(_, n)| n.clone())
            .unwrap_or_else(|| format!("0x{}", alloy_primitives::hex::encode(selector)))
    }
}

/// Decodes a `TriggerRecorder` call into the trigger it registers.
pub(crate) fn registered(input: &[u8]) -> Option<Trigger> {
    use TriggerRecorder::TriggerRecorderCalls as C;
    let (function, kind) = match C::abi_decode(input).ok()? {
        C::registerCallTrigger_0(c) => {
            (c.fnSelector.0, TriggerKind::Call { selector: c.triggerSelector.0 })
        }
        C::registerCallTrigger_1(c) => (c.fnSelector.0, TriggerKind::AnyCall),
        C::registerStorageChangeTrigger_0(c) => {
            (c.fnSelector.0, TriggerKind::StorageChange { slot: Some(c.slot) })
        }
        C::registerStorageChangeTrigger_1(c) => {
            (c.fnSelector.0, TriggerKind::StorageChange { slot: None })
        }
        C::registerBalanceChangeTrigger(c) => (c.fnSelector.0, TriggerKind::BalanceChange),
        C::registerTxEndTrigger(c) => (c.fnSelector.0, TriggerKind::TxEnd),
    };
    Some(Trigger { kind, function })
}

/// A transaction checked: how it ran and what the assertions it triggered said.
#[derive(Debug)]
pub struct Checked {
    /// True when it succeeded.
    pub success: bool,
    /// Gas it used.
    pub gas_used: u64,
    /// Its logs.
    pub logs: Vec<EvmLog>,
    /// The state it left (for the caller to commit before the next transaction of a block).
    pub state: EvmState,
    /// Its calls, by id.
    pub calls: Vec<CallRecord>,
    /// One outcome per assertion function it triggered.
    pub outcomes: Vec<AssertionOutcome>,
}

/// The configuration assertion functions run with: no fees, no nonce or balance checks.
fn assertion_cfg(chain_id: u64) -> CfgEnv {
    let mut cfg = CfgEnv::default();
    cfg.chain_id = chain_id;
    cfg.disable_nonce_check = true;
    cfg.disable_base_fee = true;
    cfg.disable_block_gas_limit = true;
    cfg.disable_balance_check = true;
    cfg.limit_contract_code_size = Some(usize::MAX);
    cfg.tx_gas_limit_cap = Some(u64::MAX);
    cfg
}

fn assertion_tx(to: Address, data: Bytes, gas_limit: u64, chain_id: u64) -> TxEnv {
    TxEnv {
        caller: caller(),
        kind: TxKind::Call(to),
        data,
        gas_limit,
        gas_price: 0,
        chain_id: Some(chain_id),
        ..Default::default()
    }
}

const TRANSFER: B256 =
    alloy_primitives::b256!("ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef");

/// Executes `tx` on `db` (the state before it) and runs the assertions it triggers.
///
/// `cfg` is how the transaction itself runs (a pending one skips the nonce and fee checks);
/// assertion functions always run without fees. A transaction that fails changes nothing and
/// triggers nothing.
pub fn check_tx<D>(
    db: &D,
    block: &BlockEnv,
    cfg: &CfgEnv,
    tx: &TxEnv,
    hash: B256,
    assertions: &[Arc<Prepared>],
) -> Result<Checked, AssertError>
where
    D: DatabaseRef,
    D::Error: std::fmt::Display,
{
    let mut evm = Context::mainnet()
        .with_db(WrapDatabaseRef(db))
        .with_block(block.clone())
        .with_cfg(cfg.clone())
        .build_mainnet_with_inspector(TxTracer::default());
    let res = evm
        .inspect_tx(tx.clone())
        .map_err(|e| AssertError::Execute { tx: hash, reason: e.to_string() })?;
    let tracer = std::mem::take(&mut evm.inspector);
    let (success, gas_used) = (res.result.is_success(), res.result.tx_gas_used());
    let logs = res.result.logs().to_vec();
    let mut checked = Checked {
        success,
        gas_used,
        logs,
        state: res.state,
        calls: tracer.calls,
        outcomes: Vec::new(),
    };
    if !success || assertions.is_empty() {
        return Ok(checked);
    }
    let post = Arc::new(Overlay::from_state(&checked.state));
    let facts = TxFacts {
        hash,
        tx: tx.clone(),
        block: block.clone(),
        cfg: cfg.clone(),
        calls: &checked.calls,
        logs: &checked.logs,
        writes: &tracer.writes,
        post: post.clone(),
        snapshots: Default::default(),
    };
    for p in assertions {
        let adopter = p.spec.adopter;
        let mut ran: Vec<[u8; 4]> = Vec::new();
        for t in &p.triggers {
            if ran.contains(&t.function) {
                continue;
            }
            let Some(hit) = fired(t, adopter, db, &checked, &tracer.writes) else { continue };
            ran.push(t.function);
            checked.outcomes.push(run_one(p, t.function, hit, db, &facts)?);
        }
    }
    Ok(checked)
}

/// Whether `t` fires for the transaction, and on what.
fn fired<D: DatabaseRef>(
    t: &Trigger,
    adopter: Address,
    db: &D,
    c: &Checked,
    writes: &std::collections::HashMap<(Address, U256), Vec<U256>>,
) -> Option<TriggerHit> {
    let hit = |call: Option<&CallRecord>| TriggerHit {
        kind: t.kind,
        call_id: call.map(|c| c.id),
        caller: call.map(|c| c.caller),
        selector: call.and_then(|c| c.input.get(..4)).and_then(|s| s.try_into().ok()),
    };
    match t.kind {
        TriggerKind::Call { selector } => c
            .calls
            .iter()
            .find(|k| k.target == adopter && k.input.get(..4) == Some(&selector[..]))
            .map(|k| hit(Some(k))),
        TriggerKind::AnyCall => c.calls.iter().find(|k| k.target == adopter).map(|k| hit(Some(k))),
        TriggerKind::TxEnd => {
            let touched = c.calls.iter().any(|k| k.target == adopter || k.bytecode == adopter)
                || c.logs.iter().any(|l| l.address == adopter);
            touched.then(|| hit(None))
        }
        TriggerKind::StorageChange { slot } => {
            let changed = writes.iter().any(|((a, k), vals)| {
                *a == adopter
                    && slot.is_none_or(|s| U256::from_be_bytes(s.0) == *k)
                    && db
                        .storage_ref(*a, *k)
                        .map(|pre| vals.iter().any(|v| *v != pre))
                        .unwrap_or(true)
            });
            changed.then(|| hit(None))
        }
        TriggerKind::BalanceChange => {
            let eth = c.state.get(&adopter).is_some_and(|acc| {
                db.basic_ref(adopter)
                    .map(|pre| pre.map(|p| p.balance).unwrap_or_default() != acc.info.balance)
                    .unwrap_or(true)
            });
            let token = c.logs.iter().any(|l| {
                let topics = l.data.topics();
                topics.len() == 3
                    && topics[0] == TRANSFER
                    && (Address::from_word(topics[1]) == adopter
                        || Address::from_word(topics[2]) == adopter)
                    && l.data.data.iter().any(|b| *b != 0)
            });
            (eth || token).then(|| hit(None))
        }
    }
}

fn run_one<D>(
    p: &Prepared,
    function: [u8; 4],
    trigger: TriggerHit,
    db: &D,
    facts: &TxFacts<'_>,
) -> Result<AssertionOutcome, AssertError>
where
    D: DatabaseRef,
    D::Error: std::fmt::Display,
{
    let budget = p.spec.gas_budget;
    let fork_db = ForkDb {
        base: db,
        fork: Fork::PostTx,
        overlay: Some(facts.post.clone()),
        persistent: &p.account,
    };
    let chain_id = facts.cfg.chain_id;
    let mut evm = Context::mainnet()
        .with_db(fork_db)
        .with_block(facts.block.clone())
        .with_cfg(assertion_cfg(chain_id))
        .build_mainnet_with_inspector(Cheats::running(p.address, p.spec.adopter, facts));
    // The budget is the function's own: the transaction's intrinsic cost comes on top.
    let intrinsic = 21_000 + 16 * 4;
    let res = evm.inspect_tx(assertion_tx(
        p.address,
        Bytes::copy_from_slice(&function),
        budget + intrinsic,
        chain_id,
    ));
    let reads = std::mem::take(&mut evm.inspector.reads);
    let error = evm.inspector.error.take();
    let (verdict, gas_used) = match res {
        Ok(r) => {
            let used = r.result.tx_gas_used().saturating_sub(intrinsic);
            let v = match (&r.result, error) {
                (_, Some(e)) => Verdict::Failed { reason: e },
                (ExecutionResult::Success { .. }, None) => Verdict::Held,
                (ExecutionResult::Halt { reason: HaltReason::OutOfGas(_), .. }, None) => {
                    Verdict::OverBudget
                }
                // A revert that used (nearly) all the budget ran out of gas in a call it made.
                (ExecutionResult::Revert { .. }, None) if used + budget / 64 >= budget => {
                    Verdict::OverBudget
                }
                (ExecutionResult::Revert { output, .. }, None) => {
                    Verdict::Violated { reason: revert_reason(output) }
                }
                (ExecutionResult::Halt { reason, .. }, None) => {
                    Verdict::Failed { reason: format!("halted: {reason:?}") }
                }
            };
            (v, used)
        }
        Err(e) => (Verdict::Failed { reason: e.to_string() }, 0),
    };
    Ok(AssertionOutcome {
        assertion: p.spec.name.clone(),
        adopter: p.spec.adopter,
        function: p.function_name(function),
        tx: facts.hash,
        trigger,
        verdict,
        gas_used,
        reads,
    })
}

fn describe(r: &ExecutionResult) -> String {
    match r {
        ExecutionResult::Success { .. } => "succeeded without creating a contract".into(),
        ExecutionResult::Revert { output, .. } => revert_reason(output),
        ExecutionResult::Halt { reason, .. } => format!("halted: {reason:?}"),
    }
}

/// The reason in revert data: `Error(string)`, `Panic(uint256)`, a custom error's selector, or
/// the raw bytes.
pub fn revert_reason(output: &Bytes) -> String {
    if output.is_empty() {
        return "reverted without a reason".into();
    }
    match alloy_sol_types::decode_revert_reason(output) {
        Some(r) => r,
        None if output.len() == 4 => format!("custom error {output}"),
        None => format!("reverted with {output}"),
    }
}
