//! The cheatcode contracts, served by an inspector: a call to [`PH_EVM`] or
//! [`TRIGGER_RECORDER`] never reaches the EVM; the inspector answers it.

use crate::abi::{PhEvm, PH_EVM, TRIGGER_RECORDER};
use crate::forks::{Fork, ForkDb, Overlay};
use crate::trace::{CallRecord, TxTracer};
use alloy_primitives::{Address, Bytes, Log as EvmLog, B256, U256};
use alloy_sol_types::{SolCall, SolError, SolInterface};
use palisade_primitives::assertion::{Trigger, ValueRead};
use revm::context::{BlockEnv, CfgEnv, TxEnv};
use revm::database_interface::{DatabaseRef, WrapDatabaseRef};
use revm::handler::MainnetContext;
use revm::interpreter::{
    CallInputs, CallOutcome, CallScheme, Gas, InstructionResult, InterpreterResult,
};
use revm::{Context, InspectEvm, Inspector, MainBuilder, MainContext};
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

/// The most values a report keeps of what an assertion read.
const MAX_READS: usize = 32;
/// Gas a cheatcode call costs, plus 3 per word it returns.
const CHEAT_GAS: u64 = 100;

/// What the transaction did, for the cheatcodes to answer from.
pub(crate) struct TxFacts<'a> {
    pub(crate) hash: B256,
    pub(crate) tx: TxEnv,
    pub(crate) block: BlockEnv,
    pub(crate) cfg: CfgEnv,
    pub(crate) calls: &'a [CallRecord],
    pub(crate) logs: &'a [EvmLog],
    pub(crate) writes: &'a HashMap<(Address, U256), Vec<U256>>,
    pub(crate) post: Arc<Overlay>,
    /// State at the start and end of calls, computed when first asked for.
    pub(crate) snapshots: RefCell<HashMap<u64, Around>>,
}

/// The state at the start and at the end of one call.
pub(crate) type Around = (Arc<Overlay>, Arc<Overlay>);

/// The cheatcode inspector.
pub(crate) struct Cheats<'a> {
    assertion: Address,
    adopter: Address,
    facts: Option<&'a TxFacts<'a>>,
    /// Triggers registered (while `triggers()` runs).
    pub(crate) registered: Vec<Trigger>,
    /// Values the assertion read.
    pub(crate) reads: Vec<ValueRead>,
    /// A state read failed: the run says nothing about the transaction.
    pub(crate) error: Option<String>,
    /// Calls the assertion itself made, open: (input, target), or None for deeper calls.
    open: Vec<Option<(Bytes, Address)>>,
    fork: Fork,
}

impl<'a> Cheats<'a> {
    pub(crate) fn recording_triggers(assertion: Address) -> Self {
        Self {
            assertion,
            adopter: Address::ZERO,
            facts: None,
            registered: Vec::new(),
            reads: Vec::new(),
            error: None,
            open: Vec::new(),
            fork: Fork::PostTx,
        }
    }

    pub(crate) fn running(assertion: Address, adopter: Address, facts: &'a TxFacts<'a>) -> Self {
        Self { adopter, facts: Some(facts), ..Self::recording_triggers(assertion) }
    }

    fn read(&mut self, contract: Address, what: String, value: Bytes) {
        if self.reads.len() < MAX_READS {
            self.reads.push(ValueRead { fork: self.fork.to_string(), contract, what, value });
        }
    }
}

type Ctx<'b, D> = MainnetContext<ForkDb<'b, D>>;

fn outcome(inputs: &CallInputs, result: InstructionResult, output: Bytes) -> CallOutcome {
    let mut gas = Gas::new(inputs.gas_limit);
    let cost = CHEAT_GAS + 3 * (output.len() as u64).div_ceil(32);
    let result = if gas.record_regular_cost(cost) { result } else { InstructionResult::OutOfGas };
    CallOutcome::new(
        InterpreterResult::new(result, output, gas),
        inputs.return_memory_offset.clone(),
    )
}

fn revert(inputs: &CallInputs, msg: String) -> CallOutcome {
    let data = alloy_sol_types::Revert::from(msg).abi_encode();
    outcome(inputs, InstructionResult::Revert, data.into())
}

/// The values a slot held during the transaction: the one before it, then each one written,
/// or nothing when it never changed.
fn state_changes<D: DatabaseRef>(
    facts: &TxFacts<'_>,
    base: &D,
    a: Address,
    slot: B256,
) -> Result<Vec<B256>, String>
where
    D::Error: std::fmt::Display,
{
    let key = U256::from_be_bytes(slot.0);
    let Some(writes) = facts.writes.get(&(a, key)) else { return Ok(Vec::new()) };
    let pre = base.storage_ref(a, key).map_err(|e| e.to_string())?;
    let mut seq = vec![pre];
    for w in writes {
        if seq.last() != Some(w) {
            seq.push(*w);
        }
    }
    if seq.len() == 1 {
        return Ok(Vec::new());
    }
    Ok(seq.into_iter().map(|v| B256::from(v.to_be_bytes::<32>())).collect())
}

fn call_inputs(
    calls: &[CallRecord],
    target: Address,
    selector: [u8; 4],
    scheme: Option<CallScheme>,
) -> Vec<PhEvm::CallInputs> {
    calls
        .iter()
        .filter(|c| scheme.is_none_or(|s| s == c.scheme))
        .filter(|c| {
            c.target == target
                || (matches!(c.scheme, CallScheme::DelegateCall | CallScheme::CallCode)
                    && c.bytecode == target)
        })
        .filter(|c| c.input.get(..4) == Some(&selector[..]))
        .map(|c| PhEvm::CallInputs {
            // The arguments, without the selector, as Phylax's executor gives them.
            input: c.input.slice(4..),
            gas_limit: c.gas_limit,
            bytecode_address: c.bytecode,
            target_address: c.target,
            caller: c.caller,
            value: c.value,
            id: U256::from(c.id),
        })
        .collect()
}

/// Reruns the transaction to take the state at the start and end of call `id`.
fn snapshot<D>(
    facts: &TxFacts<'_>,
    base: &D,
    id: u64,
) -> Result<(Arc<Overlay>, Arc<Overlay>), String>
where
    D: DatabaseRef,
    D::Error: std::fmt::Display,
{
    if let Some(s) = facts.snapshots.borrow().get(&id) {
        return Ok(s.clone());
    }
    let mut evm = Context::mainnet()
        .with_db(WrapDatabaseRef(base))
        .with_block(facts.block.clone())
        .with_cfg(facts.cfg.clone())
        .build_mainnet_with_inspector(TxTracer::snapshotting(id));
    evm.inspect_tx(facts.tx.clone()).map_err(|e| format!("rerunning the transaction: {e}"))?;
    let t = std::mem::take(&mut evm.inspector);
    let (Some(pre), Some(post)) = (t.pre, t.post) else {
        return Err(format!("call {id} did not run again"));
    };
    let s = (Arc::new(pre), Arc::new(post));
    facts.snapshots.borrow_mut().insert(id, s.clone());
    Ok(s)
}

impl<'a> Cheats<'a> {
    /// Moves the assertion to another state: the database answers from it, and what the journal
    /// already loaded is brought to it (the assertion's own account stays as it is).
    fn switch<D>(&mut self, ctx: &mut Ctx<'_, D>, fork: Fork) -> Result<(), String>
    where
        D: DatabaseRef,
        D::Error: std::fmt::Display,
    {
        let facts = self.facts.ok_or("no transaction")?;
        let overlay = match fork {
            Fork::PreTx => None,
            Fork::PostTx => Some(facts.post.clone()),
            Fork::PreCall(id) | Fork::PostCall(id) => {
                if id >= facts.calls.len() as u64 {
                    return Err(format!("the transaction has no call {id}"));
                }
                let (pre, post) = snapshot(facts, ctx.journaled_state.database.base, id)?;
                Some(if matches!(fork, Fork::PreCall(_)) { pre } else { post })
            }
        };
        let j = &mut ctx.journaled_state;
        j.database.fork = fork;
        j.database.overlay = overlay;
        let keep = [self.assertion, crate::caller(), PH_EVM, TRIGGER_RECORDER];
        for (a, acc) in j.inner.state.iter_mut() {
            if keep.contains(a) {
                continue;
            }
            let info = j.database.info(*a).map_err(|e| e.0)?.unwrap_or_default();
            acc.info.balance = info.balance;
            acc.info.nonce = info.nonce;
            if acc.info.code_hash != info.code_hash {
                acc.info.code_hash = info.code_hash;
                acc.info.code = info.code;
            }
            for (k, s) in acc.storage.iter_mut() {
                let v = j.database.slot(*a, *k).map_err(|e| e.0)?;
                s.present_value = v;
                s.original_value = v;
            }
        }
        self.fork = fork;
        Ok(())
    }

    fn cheat<D>(&mut self, ctx: &mut Ctx<'_, D>, inputs: &CallInputs, input: &[u8]) -> CallOutcome
    where
        D: DatabaseRef,
        D::Error: std::fmt::Display,
    {
        use PhEvm::PhEvmCalls as C;
        let Some(facts) = self.facts else {
            return revert(inputs, "cheatcodes answer only while an assertion runs".into());
        };
        let call = match C::abi_decode(input) {
            Ok(c) => c,
            Err(_) => {
                let sel = input.get(..4).map(alloy_primitives::hex::encode).unwrap_or_default();
                return revert(inputs, format!("unknown cheatcode 0x{sel}"));
            }
        };
        let ok = |data: Vec<u8>| outcome(inputs, InstructionResult::Return, data.into());
        let switched =
            |this: &mut Self, ctx: &mut Ctx<'_, D>, fork: Fork| match this.switch(ctx, fork) {
                Ok(()) => outcome(inputs, InstructionResult::Return, Bytes::new()),
                Err(e) => {
                    if !e.starts_with("the transaction has no call") {
                        this.error.get_or_insert_with(|| format!("switching to {fork}: {e}"));
                    }
                    revert(inputs, e)
                }
            };
        let by_id = |id: U256| -> Option<&CallRecord> {
            u64::try_from(id).ok().and_then(|i| facts.calls.get(i as usize))
        };
        match call {
            C::forkPreTx(_) => switched(self, ctx, Fork::PreTx),
            C::forkPostTx(_) => switched(self, ctx, Fork::PostTx),
            C::forkPreCall(c) => match u64::try_from(c.id) {
                Ok(id) => switched(self, ctx, Fork::PreCall(id)),
                Err(_) => revert(inputs, format!("the transaction has no call {}", c.id)),
            },
            C::forkPostCall(c) => match u64::try_from(c.id) {
                Ok(id) => switched(self, ctx, Fork::PostCall(id)),
                Err(_) => revert(inputs, format!("the transaction has no call {}", c.id)),
            },
            C::load(c) => {
                match ctx.journaled_state.database.slot(c.target, U256::from_be_bytes(c.slot.0)) {
                    Ok(v) => {
                        let word = B256::from(v.to_be_bytes::<32>());
                        self.read(
                            c.target,
                            format!("load({})", c.slot),
                            Bytes::copy_from_slice(&word.0),
                        );
                        ok(PhEvm::loadCall::abi_encode_returns(&word))
                    }
                    Err(e) => {
                        self.error.get_or_insert_with(|| format!("load: {e}"));
                        revert(inputs, e.0)
                    }
                }
            }
            C::getLogs(_) => {
                let logs: Vec<PhEvm::Log> = facts
                    .logs
                    .iter()
                    .map(|l| PhEvm::Log {
                        topics: l.data.topics().to_vec(),
                        data: l.data.data.clone(),
                        emitter: l.address,
                    })
                    .collect();
                ok(PhEvm::getLogsCall::abi_encode_returns(&logs))
            }
            C::getCallInputs(c) => ok(PhEvm::getCallInputsCall::abi_encode_returns(&call_inputs(
                facts.calls,
                c.target,
                c.selector.0,
                Some(CallScheme::Call),
            ))),
            C::getAllCallInputs(c) => ok(PhEvm::getAllCallInputsCall::abi_encode_returns(
                &call_inputs(facts.calls, c.target, c.selector.0, None),
            )),
            C::getStaticCallInputs(c) => ok(PhEvm::getStaticCallInputsCall::abi_encode_returns(
                &call_inputs(facts.calls, c.target, c.selector.0, Some(CallScheme::StaticCall)),
            )),
            C::getDelegateCallInputs(c) => {
                ok(PhEvm::getDelegateCallInputsCall::abi_encode_returns(&call_inputs(
                    facts.calls,
                    c.target,
                    c.selector.0,
                    Some(CallScheme::DelegateCall),
                )))
            }
            C::getCallCodeInputs(c) => ok(PhEvm::getCallCodeInputsCall::abi_encode_returns(
                &call_inputs(facts.calls, c.target, c.selector.0, Some(CallScheme::CallCode)),
            )),
            C::callOutputAt(c) => match by_id(c.id) {
                Some(k) => ok(PhEvm::callOutputAtCall::abi_encode_returns(&k.output)),
                None => revert(inputs, format!("the transaction has no call {}", c.id)),
            },
            C::callinputAt(c) => match by_id(c.id) {
                Some(k) => ok(PhEvm::callinputAtCall::abi_encode_returns(&k.input)),
                None => revert(inputs, format!("the transaction has no call {}", c.id)),
            },
            C::getStateChanges(c) => {
                match state_changes(
                    facts,
                    ctx.journaled_state.database.base,
                    c.contractAddress,
                    c.slot,
                ) {
                    Ok(v) => ok(PhEvm::getStateChangesCall::abi_encode_returns(&v)),
                    Err(e) => {
                        self.error.get_or_insert_with(|| format!("getStateChanges: {e}"));
                        revert(inputs, e)
                    }
                }
            }
            C::forbidChangeForSlot(c) => {
                match state_changes(facts, ctx.journaled_state.database.base, self.adopter, c.slot)
                {
                    Ok(v) => ok(PhEvm::forbidChangeForSlotCall::abi_encode_returns(&v.is_empty())),
                    Err(e) => revert(inputs, e),
                }
            }
            C::forbidChangeForSlots(c) => {
                let mut unchanged = true;
                for s in &c.slots {
                    match state_changes(facts, ctx.journaled_state.database.base, self.adopter, *s)
                    {
                        Ok(v) => unchanged &= v.is_empty(),
                        Err(e) => return revert(inputs, e),
                    }
                }
                ok(PhEvm::forbidChangeForSlotsCall::abi_encode_returns(&unchanged))
            }
            C::getAssertionAdopter(_) => {
                ok(PhEvm::getAssertionAdopterCall::abi_encode_returns(&self.adopter))
            }
            C::getTxObject(_) => {
                let t = &facts.tx;
                let o = PhEvm::TxObject {
                    from: t.caller,
                    to: t.kind.to().copied().unwrap_or_default(),
                    value: t.value,
                    chain_id: t.chain_id.unwrap_or(facts.cfg.chain_id),
                    gas_limit: t.gas_limit,
                    gas_price: t.gas_price,
                    input: t.data.clone(),
                };
                ok(PhEvm::getTxObjectCall::abi_encode_returns(&o))
            }
        }
    }
}

impl<'a, 'b, D> Inspector<Ctx<'b, D>> for Cheats<'a>
where
    D: DatabaseRef,
    D::Error: std::fmt::Display,
{
    fn call(&mut self, ctx: &mut Ctx<'b, D>, inputs: &mut CallInputs) -> Option<CallOutcome> {
        let input = inputs.input.bytes(ctx);
        if inputs.target_address == TRIGGER_RECORDER {
            if self.facts.is_none() {
                if let Some(t) = crate::registered(&input) {
                    self.registered.push(t);
                }
            }
            return Some(outcome(inputs, InstructionResult::Return, Bytes::new()));
        }
        if inputs.target_address == PH_EVM {
            return Some(self.cheat(ctx, inputs, &input));
        }
        let own = inputs.caller == self.assertion && inputs.target_address != self.assertion;
        self.open.push(own.then_some((input, inputs.target_address)));
        None
    }

    fn call_end(&mut self, _ctx: &mut Ctx<'b, D>, inputs: &CallInputs, outcome: &mut CallOutcome) {
        if inputs.target_address == PH_EVM || inputs.target_address == TRIGGER_RECORDER {
            return;
        }
        if let Some(Some((input, target))) = self.open.pop() {
            let what = format!("call {input}");
            self.read(target, what, outcome.result.output.clone());
        }
    }
}
