//! Call frames of a block's transactions in one shape, from Parity traces or callTracer results,
//! with their position in the call tree and whether their effects were undone.

use palisade_primitives::{Address, BlockData, CallFrame, U256};

/// What a frame is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallKind {
    /// A message call.
    Call,
    /// A delegatecall: runs the callee's code in the caller's context.
    DelegateCall,
    /// A read-only call.
    StaticCall,
    /// The deprecated callcode.
    CallCode,
    /// A contract creation (CREATE or CREATE2).
    Create,
    /// A self-destruct, sending the balance to `to`.
    SelfDestruct,
}

/// One frame of a transaction's call tree.
#[derive(Debug, Clone)]
pub struct Frame<'a> {
    /// Position in the tree (Parity's trace address): empty for the transaction's own call.
    pub path: Vec<u32>,
    /// What it is.
    pub kind: CallKind,
    /// Caller.
    pub from: Address,
    /// Callee, created contract, or a self-destruct's beneficiary.
    pub to: Address,
    /// Calldata, or init code for a creation.
    pub input: &'a [u8],
    /// Returned data, or the code a creation deployed (empty when unknown).
    pub output: &'a [u8],
    /// Value sent, in wei.
    pub value: U256,
    /// This frame failed.
    pub error: bool,
    /// This frame or one of its ancestors failed: its effects were undone.
    pub reverted: bool,
}

impl Frame<'_> {
    /// The 4-byte selector, when the input has one.
    pub fn selector(&self) -> Option<[u8; 4]> {
        self.input.get(..4).map(|s| [s[0], s[1], s[2], s[3]])
    }

    /// True when `other` is a strict descendant of this frame.
    pub fn is_ancestor_of(&self, other: &[u32]) -> bool {
        other.len() > self.path.len() && other.starts_with(&self.path)
    }
}

/// The frame that made `f` (its parent in the tree, which called the account `f` runs as), when
/// it is among `frames`.
pub(crate) fn caller_of<'f, 'a>(frames: &'f [Frame<'a>], f: &Frame<'_>) -> Option<&'f Frame<'a>> {
    let (_, parent) = f.path.split_last()?;
    frames.iter().find(|p| p.path == parent && p.to == f.from)
}

/// The frames of one transaction, in pre-order.
#[derive(Debug, Clone)]
pub struct TxFrames<'a> {
    /// Position of the transaction in the block.
    pub index: u64,
    /// Frames, pre-order (a parent before its children, siblings in order).
    pub frames: Vec<Frame<'a>>,
}

fn kind_of(call_type: &str) -> CallKind {
    let is = |k: &str| call_type.eq_ignore_ascii_case(k);
    if is("call") {
        CallKind::Call
    } else if is("delegatecall") {
        CallKind::DelegateCall
    } else if is("staticcall") {
        CallKind::StaticCall
    } else if is("callcode") {
        CallKind::CallCode
    } else if is("create") || is("create2") {
        CallKind::Create
    } else if is("selfdestruct") || is("suicide") {
        CallKind::SelfDestruct
    } else {
        CallKind::Call
    }
}

/// Every transaction's frames, from the block's Parity traces or, failing those, its callTracer
/// results. `None` when the block has neither.
pub fn frames(b: &BlockData) -> Option<Vec<TxFrames<'_>>> {
    if let Some(traces) = &b.traces {
        let mut out: Vec<TxFrames<'_>> = Vec::new();
        // Open frames of the current transaction: (trace address, reverted).
        let mut stack: Vec<(&[u64], bool)> = Vec::new();
        for t in traces {
            let Some(tx) = t.transaction_position else { continue };
            if out.last().is_none_or(|l| l.index != tx) {
                out.push(TxFrames { index: tx, frames: Vec::new() });
                stack.clear();
            }
            let addr = &t.trace_address[..];
            while let Some((p, _)) = stack.last() {
                if addr.len() > p.len() && addr.starts_with(p) {
                    break;
                }
                stack.pop();
            }
            let error = t.error.is_some();
            let reverted = error || stack.last().is_some_and(|(_, r)| *r);
            stack.push((addr, reverted));
            let path: Vec<u32> = addr.iter().map(|x| *x as u32).collect();
            let kind = match t.kind.as_str() {
                "call" => kind_of(t.action.call_type.as_deref().unwrap_or("call")),
                "create" => CallKind::Create,
                "suicide" => CallKind::SelfDestruct,
                _ => continue,
            };
            let to = match kind {
                CallKind::Create => t.created.unwrap_or_default(),
                _ => t.action.to.unwrap_or_default(),
            };
            if let Some(last) = out.last_mut() {
                last.frames.push(Frame {
                    path,
                    kind,
                    from: t.action.from.unwrap_or_default(),
                    to,
                    input: &t.action.input,
                    output: t.output.as_ref().map_or(&[][..], |o| &o[..]),
                    value: t.action.value.unwrap_or_default(),
                    error,
                    reverted,
                });
            }
        }
        return Some(out);
    }
    let cts = b.call_traces.as_ref()?;
    Some(
        cts.iter()
            .enumerate()
            .map(|(i, (_, root))| {
                let mut frames = Vec::new();
                walk(root, Vec::new(), false, &mut frames);
                TxFrames { index: i as u64, frames }
            })
            .collect(),
    )
}

fn walk<'a>(f: &'a CallFrame, path: Vec<u32>, parent_reverted: bool, out: &mut Vec<Frame<'a>>) {
    let error = f.error.is_some();
    let reverted = parent_reverted || error;
    out.push(Frame {
        path: path.clone(),
        kind: kind_of(&f.kind),
        from: f.from.unwrap_or_default(),
        to: f.to.unwrap_or_default(),
        input: &f.input,
        output: f.output.as_ref().map_or(&[][..], |o| &o[..]),
        value: f.value.unwrap_or_default(),
        error,
        reverted,
    });
    for (i, c) in f.calls.iter().enumerate() {
        let mut p = path.clone();
        p.push(i as u32);
        walk(c, p, reverted, out);
    }
}
