//! What a transaction did, as assertions ask about it: every call with its id (the order calls
//! started in, from 0 for the transaction's own call), input and output; every value each storage
//! slot held; and, on request, the state at the start and at the end of one call.

use crate::forks::Overlay;
use alloy_primitives::{Address, Bytes, U256};
use revm::context::ContextTr;
use revm::context_interface::JournalTr;
use revm::interpreter::interpreter_types::{InputsTr, Jumps};
use revm::interpreter::{CallInputs, CallOutcome, CallScheme, Interpreter};
use revm::state::EvmState;
use revm::Inspector;
use std::collections::HashMap;

/// One call of the transaction.
#[derive(Debug, Clone)]
pub struct CallRecord {
    /// Its id.
    pub id: u64,
    /// CALL, STATICCALL, DELEGATECALL or CALLCODE.
    pub scheme: CallScheme,
    /// The account whose storage it runs on.
    pub target: Address,
    /// The account whose code runs.
    pub bytecode: Address,
    /// Who called.
    pub caller: Address,
    /// Value sent (apparent value for a delegate call).
    pub value: U256,
    /// Gas given to it.
    pub gas_limit: u64,
    /// Calldata.
    pub input: Bytes,
    /// What it returned (or its revert data).
    pub output: Bytes,
    /// True when it returned without reverting.
    pub success: bool,
}

/// Records calls and slot writes; snapshots the state around one call when asked.
#[derive(Debug, Default)]
pub struct TxTracer {
    pub(crate) calls: Vec<CallRecord>,
    open: Vec<usize>,
    /// Values written to each slot, in order (the value it held before is read from the state).
    pub(crate) writes: HashMap<(Address, U256), Vec<U256>>,
    pending_write: Option<(Address, U256)>,
    snapshot_of: Option<u64>,
    pub(crate) pre: Option<Overlay>,
    pub(crate) post: Option<Overlay>,
}

const SSTORE: u8 = 0x55;

impl TxTracer {
    /// A tracer that also snapshots the state at the start and end of call `id`.
    pub fn snapshotting(id: u64) -> Self {
        Self { snapshot_of: Some(id), ..Default::default() }
    }
}

impl<CTX> Inspector<CTX> for TxTracer
where
    CTX: ContextTr,
    CTX::Journal: JournalTr<State = EvmState>,
{
    fn step(&mut self, interp: &mut Interpreter, _ctx: &mut CTX) {
        if interp.bytecode.opcode() == SSTORE {
            if let Ok(key) = interp.stack.peek(0) {
                self.pending_write = Some((interp.input.target_address(), key));
            }
        }
    }

    fn step_end(&mut self, _interp: &mut Interpreter, ctx: &mut CTX) {
        if let Some((a, key)) = self.pending_write.take() {
            // The value now in the slot: a write that failed (out of gas) left it unchanged.
            let v = ctx
                .journal_ref()
                .evm_state()
                .get(&a)
                .and_then(|acc| acc.storage.get(&key))
                .map(|s| s.present_value);
            if let Some(v) = v {
                let seq = self.writes.entry((a, key)).or_default();
                if seq.last() != Some(&v) {
                    seq.push(v);
                }
            }
        }
    }

    fn call(&mut self, ctx: &mut CTX, inputs: &mut CallInputs) -> Option<CallOutcome> {
        let id = self.calls.len() as u64;
        if self.snapshot_of == Some(id) {
            self.pre = Some(Overlay::from_state(ctx.journal_ref().evm_state()));
        }
        self.open.push(self.calls.len());
        self.calls.push(CallRecord {
            id,
            scheme: inputs.scheme,
            target: inputs.target_address,
            bytecode: inputs.bytecode_address,
            caller: inputs.caller,
            value: inputs.value.get(),
            gas_limit: inputs.gas_limit,
            input: inputs.input.bytes(ctx),
            output: Bytes::new(),
            success: false,
        });
        None
    }

    fn call_end(&mut self, ctx: &mut CTX, _inputs: &CallInputs, outcome: &mut CallOutcome) {
        if let Some(i) = self.open.pop() {
            let c = &mut self.calls[i];
            c.output = outcome.result.output.clone();
            c.success = outcome.result.result.is_ok();
            if self.snapshot_of == Some(c.id) {
                self.post = Some(Overlay::from_state(ctx.journal_ref().evm_state()));
            }
        }
    }
}
