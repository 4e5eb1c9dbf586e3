//! Transfers of tokens and ether, from the call tree or from logs.

use crate::frames::{CallKind, Frame};
use crate::known::{sel, topic, ETH};
use crate::words::{addr, args, topic_addr, uint};
use crate::{Position, Transfer};
use palisade_primitives::{Address, Log, U256};
use std::collections::BTreeMap;

/// A `transfer`/`transferFrom` call that returned `false` moved nothing.
fn returned_false(f: &Frame<'_>) -> bool {
    f.output.len() == 32 && f.output.iter().all(|b| *b == 0)
}

/// Token and ether transfers made by the frames. Delegatecalls are not transfers of their own
/// (a proxy hop re-runs its caller's call), static calls move nothing, and neither is a call a
/// forwarding proxy makes to its implementation with the calldata it was given (Synthetix's
/// SNX, sUSD and synths: the token is the proxy, and the implementation's caller is the proxy,
/// not the holder).
pub(crate) fn from_frames(frames: &[Frame<'_>]) -> Vec<Transfer> {
    let mut out = Vec::new();
    // Open ancestors of the current frame (indices into `frames`, pre-order).
    let mut open: Vec<usize> = Vec::new();
    for (i, f) in frames.iter().enumerate() {
        while open.last().is_some_and(|&p| !frames[p].is_ancestor_of(&f.path)) {
            open.pop();
        }
        let parent = open.last().map(|&p| &frames[p]);
        open.push(i);
        let at = || Position::Trace { trace_address: f.path.clone() };
        if matches!(f.kind, CallKind::Call | CallKind::Create) && !f.value.is_zero() {
            out.push(Transfer {
                at: at(),
                token: ETH,
                from: f.from,
                to: f.to,
                amount: f.value,
                reverted: f.reverted,
            });
        }
        // A call that failed is still an attempted transfer, kept as reverted with everything
        // else its transaction undid (a failed arbitrage's swaps need their legs).
        if f.kind != CallKind::Call || returned_false(f) || forwarded(parent, f) {
            continue;
        }
        let a = args(f.input);
        let t = match f.selector() {
            Some(sel::TRANSFER) => (|| Some((f.from, addr(a, 0)?, uint(a, 1)?)))(),
            Some(sel::TRANSFER_FROM) => (|| Some((addr(a, 0)?, addr(a, 1)?, uint(a, 2)?)))(),
            _ => None,
        };
        if let Some((from, to, amount)) = t {
            out.push(Transfer { at: at(), token: f.to, from, to, amount, reverted: f.reverted });
        }
    }
    out
}

/// `f` re-sends its caller's own call: the caller is a proxy passing its calldata on.
fn forwarded(parent: Option<&Frame<'_>>, f: &Frame<'_>) -> bool {
    parent.is_some_and(|p| p.kind == CallKind::Call && p.to == f.from && p.input == f.input)
}

/// Ether transfers of the call tree only (logs do not show them).
pub(crate) fn ether_from_frames(frames: &[Frame<'_>]) -> Vec<Transfer> {
    from_frames(frames).into_iter().filter(|t| t.token == ETH).collect()
}

/// ERC-20 `Transfer` logs (three topics: ERC-721 transfers index the token id and are not
/// fungible transfers), and WETH `Deposit`/`Withdrawal` as mints from and burns to the zero
/// address.
pub(crate) fn from_logs(logs: &[Log], reverted: bool) -> Vec<Transfer> {
    let mut out = Vec::new();
    for (i, l) in logs.iter().enumerate() {
        let at = Position::Log { log_index: l.log_index.unwrap_or(i as u64) };
        let Some(t0) = l.topics.first() else { continue };
        let t = if *t0 == topic::TRANSFER && l.topics.len() == 3 && l.data.len() == 32 {
            (|| Some((topic_addr(&l.topics[1])?, topic_addr(&l.topics[2])?, uint(&l.data, 0)?)))()
        } else if *t0 == topic::WETH_DEPOSIT && l.topics.len() == 2 && l.data.len() == 32 {
            (|| Some((Address::ZERO, topic_addr(&l.topics[1])?, uint(&l.data, 0)?)))()
        } else if *t0 == topic::WETH_WITHDRAWAL && l.topics.len() == 2 && l.data.len() == 32 {
            (|| Some((topic_addr(&l.topics[1])?, Address::ZERO, uint(&l.data, 0)?)))()
        } else {
            None
        };
        if let Some((from, to, amount)) = t {
            out.push(Transfer { at, token: l.address, from, to, amount, reverted });
        }
    }
    out
}

/// The transfers that happened before `at` and are not inside it (for a call: not in its
/// subtree).
pub(crate) fn prior<'a>(ts: &'a [Transfer], at: &Position) -> impl Iterator<Item = &'a Transfer> {
    let at = at.clone();
    ts.iter().filter(move |t| match (&t.at, &at) {
        // Pre-order: earlier frames, and no descendant of `at` (those sort after it).
        (Position::Trace { trace_address: a }, Position::Trace { trace_address: b }) => a < b,
        (Position::Log { log_index: a }, Position::Log { log_index: b }) => a < b,
        _ => false,
    })
}

/// The transfers made inside the call at `path` (strict descendants).
pub(crate) fn inside<'a>(
    ts: &'a [Transfer],
    path: &'a [u32],
) -> impl Iterator<Item = &'a Transfer> {
    ts.iter().filter(move |t| match &t.at {
        Position::Trace { trace_address } => {
            trace_address.len() > path.len() && trace_address.starts_with(path)
        }
        Position::Log { .. } => false,
    })
}

/// What one account received and sent of one token.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Flow {
    /// Received.
    pub inflow: U256,
    /// Sent.
    pub outflow: U256,
}

impl Flow {
    /// Net received, when it received more than it sent.
    pub fn gained(&self) -> Option<U256> {
        (self.inflow > self.outflow).then(|| self.inflow - self.outflow)
    }

    /// Net sent, when it sent more than it received.
    pub fn lost(&self) -> Option<U256> {
        (self.outflow > self.inflow).then(|| self.outflow - self.inflow)
    }
}

/// Every account's flows in `ts`, account -> token -> [`Flow`], for the transfers `keep`
/// accepts (reverted ones and transfers to oneself are always left out), each token counted as
/// `asset(token)` (to count two tokens as one asset).
pub fn flows(
    ts: &[Transfer],
    keep: impl Fn(&Transfer) -> bool,
    asset: impl Fn(Address) -> Address,
) -> BTreeMap<Address, BTreeMap<Address, Flow>> {
    let mut out: BTreeMap<Address, BTreeMap<Address, Flow>> = BTreeMap::new();
    for t in ts.iter().filter(|t| !t.reverted && t.from != t.to && keep(t)) {
        let token = asset(t.token);
        let o = out.entry(t.from).or_default().entry(token).or_default();
        o.outflow = o.outflow.saturating_add(t.amount);
        let i = out.entry(t.to).or_default().entry(token).or_default();
        i.inflow = i.inflow.saturating_add(t.amount);
    }
    out
}

/// A transfer at log `i`, for tests.
#[cfg(test)]
pub(crate) fn test_transfer(
    i: u64,
    token: Address,
    from: Address,
    to: Address,
    amount: u64,
) -> Transfer {
    Transfer {
        at: Position::Log { log_index: i },
        token,
        from,
        to,
        amount: U256::from(amount),
        reverted: false,
    }
}

/// What `who` received and sent of `token` in `ts` (reverted transfers left out).
pub fn net_flow(ts: &[Transfer], token: Address, who: Address) -> (U256, U256) {
    let (mut inflow, mut outflow) = (U256::ZERO, U256::ZERO);
    for t in ts.iter().filter(|t| t.token == token && !t.reverted && t.from != t.to) {
        if t.to == who {
            inflow = inflow.saturating_add(t.amount);
        }
        if t.from == who {
            outflow = outflow.saturating_add(t.amount);
        }
    }
    (inflow, outflow)
}
