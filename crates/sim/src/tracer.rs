//! An inspector that records the call tree of a simulated transaction, in the shape of
//! `callTracer` frames, so that the DeFi decoders and block detectors read it like a traced
//! block.

use alloy_primitives::{Address, Bytes};
use palisade_primitives::CallFrame;
use revm::context_interface::ContextTr;
use revm::interpreter::{CallInputs, CallOutcome, CallScheme, CreateInputs, CreateOutcome};
use revm::Inspector;

/// Records call frames as they open and close.
#[derive(Debug, Default)]
pub struct CallTracer {
    stack: Vec<CallFrame>,
    root: Option<CallFrame>,
    touched: Vec<Address>,
}

impl CallTracer {
    /// Every address called into (call targets, code addresses, created contracts), in order,
    /// without repeats.
    pub fn touched(&self) -> Vec<Address> {
        self.touched.clone()
    }

    /// The root frame.
    pub fn into_root(self) -> Option<CallFrame> {
        self.root
    }

    fn touch(&mut self, a: Address) {
        if !self.touched.contains(&a) {
            self.touched.push(a);
        }
    }

    fn open(&mut self, f: CallFrame) {
        self.stack.push(f);
    }

    fn close(
        &mut self,
        ok: bool,
        output: Bytes,
        error: impl FnOnce() -> String,
        to: Option<Address>,
    ) {
        let Some(mut f) = self.stack.pop() else { return };
        if to.is_some() {
            f.to = to;
        }
        if ok {
            f.output = Some(output);
        } else {
            f.error = Some(error());
            if !output.is_empty() {
                f.output = Some(output);
            }
        }
        match self.stack.last_mut() {
            Some(parent) => parent.calls.push(f),
            None => self.root = Some(f),
        }
    }
}

impl<CTX: ContextTr> Inspector<CTX> for CallTracer {
    fn call(&mut self, ctx: &mut CTX, inputs: &mut CallInputs) -> Option<CallOutcome> {
        self.touch(inputs.target_address);
        self.touch(inputs.bytecode_address);
        let kind = match inputs.scheme {
            CallScheme::Call => "CALL",
            CallScheme::CallCode => "CALLCODE",
            CallScheme::DelegateCall => "DELEGATECALL",
            CallScheme::StaticCall => "STATICCALL",
        };
        let value = match inputs.scheme {
            CallScheme::DelegateCall | CallScheme::StaticCall => None,
            _ => Some(inputs.value.get()),
        };
        let to = match inputs.scheme {
            CallScheme::DelegateCall | CallScheme::CallCode => inputs.bytecode_address,
            _ => inputs.target_address,
        };
        self.open(CallFrame {
            kind: kind.into(),
            from: Some(inputs.caller),
            to: Some(to),
            input: inputs.input.bytes(ctx),
            value,
            error: None,
            output: None,
            calls: Vec::new(),
        });
        None
    }

    fn call_end(&mut self, _ctx: &mut CTX, _inputs: &CallInputs, outcome: &mut CallOutcome) {
        let r = &outcome.result;
        let result = r.result;
        self.close(
            result.is_ok(),
            r.output.clone(),
            || if result.is_revert() { "execution reverted".into() } else { format!("{result:?}") },
            None,
        );
    }

    fn create(&mut self, _ctx: &mut CTX, inputs: &mut CreateInputs) -> Option<CreateOutcome> {
        self.open(CallFrame {
            kind: "CREATE".into(),
            from: Some(inputs.caller()),
            to: None,
            input: inputs.init_code().clone(),
            value: Some(inputs.value()),
            error: None,
            output: None,
            calls: Vec::new(),
        });
        None
    }

    fn create_end(&mut self, _ctx: &mut CTX, _inputs: &CreateInputs, outcome: &mut CreateOutcome) {
        if let Some(a) = outcome.address {
            self.touch(a);
        }
        let result = outcome.result.result;
        self.close(
            result.is_ok(),
            outcome.result.output.clone(),
            || if result.is_revert() { "execution reverted".into() } else { format!("{result:?}") },
            outcome.address,
        );
    }
}
