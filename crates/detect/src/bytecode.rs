//! Reading runtime bytecode without running it: the functions its dispatcher routes to (by
//! selector), and, for each, what the code it can reach does: write storage, read the caller
//! (every access check does: `msg.sender == owner`, role lookups), self-destruct, delegate.
//!
//! Reachability is over-approximated the way static EVM analysers do it: a jump whose target is
//! pushed just before it goes there; a jump with a computed target (an internal function's
//! return) may go to any jump destination pushed in the code reached so far (the return
//! addresses pushed by the callers). Bounded: a function explores at most
//! [`MAX_BLOCKS`] basic blocks.

use palisade_primitives::keccak256;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, VecDeque};

/// Most basic blocks explored from one function's entry.
pub const MAX_BLOCKS: usize = 4096;

const STOP: u8 = 0x00;
const EQ: u8 = 0x14;
const CALLER: u8 = 0x33;
const SSTORE: u8 = 0x55;
const JUMP: u8 = 0x56;
const JUMPI: u8 = 0x57;
const JUMPDEST: u8 = 0x5b;
const PUSH1: u8 = 0x60;
const PUSH4: u8 = 0x63;
const PUSH32: u8 = 0x7f;
const DUP2: u8 = 0x81;
const CALLCODE: u8 = 0xf2;
const RETURN: u8 = 0xf3;
const DELEGATECALL: u8 = 0xf4;
const REVERT: u8 = 0xfd;
const INVALID: u8 = 0xfe;
const SELFDESTRUCT: u8 = 0xff;

/// One instruction: where it is, its opcode, and its immediate for a push (up to 8 bytes
/// kept: jump targets and selectors fit).
#[derive(Debug, Clone, Copy)]
struct Op {
    pc: usize,
    op: u8,
    imm: Option<u64>,
    /// Push width in bytes (0 for other opcodes).
    width: usize,
}

fn decode(code: &[u8]) -> Vec<Op> {
    let mut out = Vec::with_capacity(code.len() / 2);
    let mut pc = 0;
    while pc < code.len() {
        let op = code[pc];
        if (PUSH1..=PUSH32).contains(&op) {
            let n = usize::from(op - PUSH1) + 1;
            let data = code.get(pc + 1..(pc + 1 + n).min(code.len())).unwrap_or(&[]);
            let imm = (n <= 8).then(|| data.iter().fold(0u64, |a, b| (a << 8) | u64::from(*b)));
            out.push(Op { pc, op, imm, width: n });
            pc += 1 + n;
        } else {
            out.push(Op { pc, op, imm: None, width: 0 });
            pc += 1;
        }
    }
    out
}

/// What one function's reachable code does.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Function {
    /// Its 4-byte selector.
    pub selector: [u8; 4],
    /// Its signature, when it is a well-known one.
    pub name: Option<String>,
    /// It can write storage (SSTORE).
    pub writes_storage: bool,
    /// It reads the caller (CALLER): every access check does.
    pub reads_caller: bool,
    /// It can self-destruct the contract.
    pub selfdestruct: bool,
    /// It can delegate to other code (DELEGATECALL).
    pub delegatecall: bool,
}

impl Function {
    /// The signature if known, else the selector in hex.
    pub fn label(&self) -> String {
        self.name.clone().unwrap_or_else(|| format!("0x{}", hex_of(&self.selector)))
    }
}

fn hex_of(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// What a contract's runtime code shows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeSummary {
    /// Code size in bytes.
    pub size: usize,
    /// The functions its dispatcher routes to, by selector.
    pub functions: Vec<Function>,
    /// SELFDESTRUCT appears in the code.
    pub selfdestruct: bool,
    /// DELEGATECALL appears in the code.
    pub delegatecall: bool,
    /// CALLCODE appears in the code.
    pub callcode: bool,
}

/// Signatures named in reports when a selector is theirs.
const KNOWN: &[&str] = &[
    "mint(address,uint256)",
    "mint(uint256)",
    "burn(uint256)",
    "burn(address,uint256)",
    "transfer(address,uint256)",
    "transferFrom(address,address,uint256)",
    "approve(address,uint256)",
    "transferOwnership(address)",
    "renounceOwnership()",
    "acceptOwnership()",
    "setOwner(address)",
    "owner()",
    "grantRole(bytes32,address)",
    "revokeRole(bytes32,address)",
    "upgradeTo(address)",
    "upgradeToAndCall(address,bytes)",
    "changeAdmin(address)",
    "setImplementation(address)",
    "initialize()",
    "initialize(address)",
    "pause()",
    "unpause()",
    "withdraw(uint256)",
    "withdraw(address,uint256)",
    "withdrawAll()",
    "sweep(address)",
    "rescueTokens(address,address,uint256)",
    "execute(address,uint256,bytes)",
    "multicall(bytes[])",
    "destroy()",
    "kill()",
    "version()",
    "proxiableUUID()",
    "setFee(uint256)",
    "setOracle(address)",
    "setMinter(address)",
];

fn name_of(sel: [u8; 4]) -> Option<String> {
    KNOWN.iter().find(|s| keccak256(s.as_bytes())[..4] == sel).map(|s| (*s).to_string())
}

/// Reads `code` (runtime bytecode).
pub fn summarize(code: &[u8]) -> CodeSummary {
    let ops = decode(code);
    let dests: BTreeSet<usize> = ops.iter().filter(|o| o.op == JUMPDEST).map(|o| o.pc).collect();
    let index_of = |pc: usize| ops.binary_search_by_key(&pc, |o| o.pc).ok();
    // The dispatcher: PUSH4 sel, [DUP2], EQ, PUSH dest, JUMPI.
    let mut entries: Vec<([u8; 4], usize)> = Vec::new();
    for (i, o) in ops.iter().enumerate() {
        if o.op != PUSH4 {
            continue;
        }
        let mut j = i + 1;
        if ops.get(j).is_some_and(|x| x.op == DUP2) {
            j += 1;
        }
        let (Some(eq), Some(dest), Some(jumpi)) = (ops.get(j), ops.get(j + 1), ops.get(j + 2))
        else {
            continue;
        };
        if eq.op == EQ && dest.width > 0 && jumpi.op == JUMPI {
            if let (Some(sel), Some(d)) = (o.imm, dest.imm) {
                let d = usize::try_from(d).unwrap_or(usize::MAX);
                let sel = u32::try_from(sel).unwrap_or_default().to_be_bytes();
                if dests.contains(&d) && !entries.iter().any(|(s, _)| *s == sel) {
                    entries.push((sel, d));
                }
            }
        }
    }
    let functions = entries
        .into_iter()
        .map(|(selector, entry)| {
            let mut f = Function { selector, name: name_of(selector), ..Default::default() };
            let mut seen: BTreeSet<usize> = BTreeSet::new();
            let mut returns: BTreeSet<usize> = BTreeSet::new();
            let mut queue: VecDeque<usize> = VecDeque::from([entry]);
            let mut dynamic = false;
            while let Some(start) = queue.pop_front() {
                if seen.len() >= MAX_BLOCKS || !seen.insert(start) {
                    continue;
                }
                let Some(mut i) = index_of(start) else { continue };
                while let Some(o) = ops.get(i) {
                    if i > 0 && o.op == JUMPDEST && o.pc != start {
                        queue.push_back(o.pc); // falls through into the next block
                        break;
                    }
                    match o.op {
                        SSTORE => f.writes_storage = true,
                        CALLER => f.reads_caller = true,
                        SELFDESTRUCT => f.selfdestruct = true,
                        DELEGATECALL => f.delegatecall = true,
                        _ => {}
                    }
                    if o.width > 0 {
                        if let Some(t) = o.imm.and_then(|v| usize::try_from(v).ok()) {
                            if dests.contains(&t) {
                                returns.insert(t);
                            }
                        }
                    }
                    if o.op == JUMP || o.op == JUMPI {
                        let pushed =
                            i.checked_sub(1).and_then(|p| ops.get(p)).filter(|p| p.width > 0);
                        match pushed.and_then(|p| p.imm).and_then(|v| usize::try_from(v).ok()) {
                            Some(t) if dests.contains(&t) => queue.push_back(t),
                            _ => dynamic = true,
                        }
                        if o.op == JUMPI {
                            if let Some(next) = ops.get(i + 1) {
                                queue.push_back(next.pc);
                            }
                        }
                        break;
                    }
                    if matches!(o.op, STOP | RETURN | REVERT | INVALID | SELFDESTRUCT) {
                        break;
                    }
                    i += 1;
                }
                if dynamic && queue.is_empty() {
                    // Computed jumps go back to the return addresses pushed so far.
                    queue.extend(returns.iter().filter(|r| !seen.contains(r)));
                }
            }
            f
        })
        .collect();
    CodeSummary {
        size: code.len(),
        functions,
        selfdestruct: ops.iter().any(|o| o.op == SELFDESTRUCT),
        delegatecall: ops.iter().any(|o| o.op == DELEGATECALL),
        callcode: ops.iter().any(|o| o.op == CALLCODE),
    }
}

/// What an upgrade changed, with a risk score and its reasons.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UpgradeDiff {
    /// Functions the new code has and the old had not.
    pub added: Vec<String>,
    /// Functions the old code had and the new has not.
    pub removed: Vec<String>,
    /// Added functions that write storage.
    pub storage_writing_added: Vec<String>,
    /// Added functions that write storage without reading the caller (no access check).
    pub unguarded_added: Vec<String>,
    /// Old and new code size.
    pub size: (usize, usize),
    /// Risk score, 0 to 100.
    pub score: u32,
    /// Why.
    pub reasons: Vec<String>,
}

/// Compares the old implementation (`None`: not seen) with the new one. Without the old code,
/// every function of the new one counts as added and every risky opcode as new.
pub fn diff(old: Option<&CodeSummary>, new: &CodeSummary) -> UpgradeDiff {
    let empty = CodeSummary::default();
    let o = old.unwrap_or(&empty);
    let has = |s: &CodeSummary, f: &Function| s.functions.iter().any(|g| g.selector == f.selector);
    let added: Vec<&Function> = new.functions.iter().filter(|f| !has(o, f)).collect();
    let removed: Vec<&Function> = o.functions.iter().filter(|f| !has(new, f)).collect();
    let mut d = UpgradeDiff {
        added: added.iter().map(|f| f.label()).collect(),
        removed: removed.iter().map(|f| f.label()).collect(),
        storage_writing_added: added
            .iter()
            .filter(|f| f.writes_storage)
            .map(|f| f.label())
            .collect(),
        unguarded_added: added
            .iter()
            .filter(|f| f.writes_storage && !f.reads_caller)
            .map(|f| f.label())
            .collect(),
        size: (o.size, new.size),
        ..Default::default()
    };
    let mut add = |w: u32, r: String| {
        d.score += w;
        d.reasons.push(r);
    };
    if new.selfdestruct && !o.selfdestruct {
        add(40, "adds SELFDESTRUCT".into());
    }
    if new.callcode && !o.callcode {
        add(25, "adds CALLCODE".into());
    }
    if new.delegatecall && !o.delegatecall {
        add(20, "adds DELEGATECALL".into());
    }
    if !d.unguarded_added.is_empty() {
        let w = 30 * u32::try_from(d.unguarded_added.len()).unwrap_or(u32::MAX);
        add(
            w.min(60),
            format!(
                "adds storage-writing functions without a caller check: {}",
                d.unguarded_added.join(", ")
            ),
        );
    }
    let guarded: Vec<&String> =
        d.storage_writing_added.iter().filter(|f| !d.unguarded_added.contains(f)).collect();
    if !guarded.is_empty() {
        add(
            10,
            format!(
                "adds storage-writing functions: {}",
                guarded.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
            ),
        );
    }
    if !d.removed.is_empty() {
        add(5, format!("removes functions: {}", d.removed.join(", ")));
    }
    if old.is_some() && o.size > 0 && (new.size * 2 < o.size || new.size > o.size * 2) {
        add(5, format!("code size {} -> {} bytes", o.size, new.size));
    }
    d.score = d.score.min(100);
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dispatcher_and_each_functions_reach_are_read() {
        // Dispatcher: PUSH1 0 CALLDATALOAD PUSH1 0xe0 SHR
        //   DUP1 PUSH4 aa.. EQ PUSH1 @f1 JUMPI  DUP1 PUSH4 bb.. EQ PUSH1 @f2 JUMPI  STOP
        // f1: JUMPDEST CALLER PUSH1 1 SSTORE STOP       (guarded write)
        // f2: JUMPDEST PUSH1 @helper JUMP                (unguarded write through a helper)
        // helper: JUMPDEST PUSH1 1 PUSH1 0 SSTORE STOP
        let mut c = vec![0x60, 0x00, 0x35, 0x60, 0xe0, 0x1c];
        let f1 = 6 + 2 * 10 + 1; // after both dispatcher entries and STOP
        let f2 = f1 + 6;
        let helper = f2 + 4;
        for (sel, dest) in [([0xaa, 0xaa, 0xaa, 0xaa], f1), ([0xbb, 0xbb, 0xbb, 0xbb], f2)] {
            c.extend([0x80, PUSH4]);
            c.extend(sel);
            c.extend([EQ, PUSH1, dest as u8, JUMPI]);
        }
        c.push(STOP);
        assert_eq!(c.len(), f1);
        c.extend([JUMPDEST, CALLER, PUSH1, 1, SSTORE, STOP]);
        c.extend([JUMPDEST, PUSH1, helper as u8, JUMP]);
        c.extend([JUMPDEST, PUSH1, 1, PUSH1, 0, SSTORE, STOP]);
        let s = summarize(&c);
        assert_eq!(s.functions.len(), 2);
        let (a, b) = (&s.functions[0], &s.functions[1]);
        assert_eq!((a.selector, a.writes_storage, a.reads_caller), ([0xaa; 4], true, true));
        assert_eq!((b.selector, b.writes_storage, b.reads_caller), ([0xbb; 4], true, false));
        // Against a version with only the first function: the second is an unguarded addition.
        let old = CodeSummary { functions: vec![a.clone()], ..s.clone() };
        let d = diff(Some(&old), &s);
        assert_eq!(d.unguarded_added, vec!["0xbbbbbbbb".to_string()]);
        assert!(d.score >= 30, "{d:?}");
        assert_eq!(diff(Some(&s), &s).score, 0);
    }
}
