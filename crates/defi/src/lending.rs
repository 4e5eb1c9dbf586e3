//! Liquidations and flash loans, from the calls that make them or from the events lenders emit.

use crate::frames::{CallKind, Frame};
use crate::known::{
    compound_markets, cream_markets, sel, topic, AAVE_V1_POOL, BALANCER_VAULT, DSS_FLASH,
    DYDX_SOLO, ETH,
};
use crate::transfers::{inside, prior};
use crate::words::{addr, args, topic_addr, uint};
use crate::{FlashLoan, Liquidation, Position, Protocol, Transfer};
use palisade_primitives::{Address, Log, U256};

fn compound_protocol(market: Address) -> Protocol {
    if cream_markets().contains_key(&market) {
        Protocol::Cream
    } else {
        Protocol::CompoundV2
    }
}

fn underlying(market: Address) -> Option<Address> {
    compound_markets().get(&market).or_else(|| cream_markets().get(&market)).copied()
}

/// `transferOnLiquidation(address,address,uint256)` of Aave V2/V3 aTokens.
const TRANSFER_ON_LIQUIDATION: [u8; 4] = [0xf8, 0x66, 0xc3, 0x19];

/// Liquidations made by calls in the tree: the debt is what the liquidator paid inside the call
/// (or sent with it), the reward what it received (Aave) or the cTokens seized (Compound).
pub(crate) fn liquidations_from_frames(frames: &[Frame<'_>], ts: &[Transfer]) -> Vec<Liquidation> {
    let mut out = Vec::new();
    for f in frames.iter().filter(|f| f.kind == CallKind::Call) {
        let a = args(f.input);
        let l = match f.selector() {
            Some(sel::AAVE_LIQUIDATION) => (|| {
                let user = addr(a, 2)?;
                let liquidator = f.from;
                let debt = inside(ts, &f.path)
                    .find(|t| t.from == liquidator)
                    .map(|t| (t.token, t.amount))
                    .or_else(|| (!f.value.is_zero()).then_some((ETH, f.value)))?;
                // receiveAToken: the collateral moves as aTokens, by the aToken's own
                // transferOnLiquidation(from, to, value), not by a token transfer.
                let got = if uint(a, 4).is_some_and(|v| !v.is_zero()) {
                    frames
                        .iter()
                        .filter(|g| f.is_ancestor_of(&g.path) && g.kind == CallKind::Call)
                        .filter(|g| g.selector() == Some(TRANSFER_ON_LIQUIDATION))
                        .find_map(|g| {
                            let ga = args(g.input);
                            (addr(ga, 1)? == liquidator).then_some((g.to, uint(ga, 2)?))
                        })
                } else {
                    None
                };
                let got = match got {
                    Some(g) => g,
                    None => inside(ts, &f.path)
                        .find(|t| t.to == liquidator)
                        .map(|t| (t.token, t.amount))?,
                };
                Some(Liquidation {
                    at: Position::Trace { trace_address: f.path.clone() },
                    protocol: if f.to == AAVE_V1_POOL { Protocol::AaveV1 } else { Protocol::Aave },
                    market: f.to,
                    liquidated_user: user,
                    liquidator,
                    debt_token: debt.0,
                    debt_amount: debt.1,
                    received_token: got.0,
                    received_amount: got.1,
                    reverted: f.reverted,
                })
            })(),
            Some(s @ (sel::COMPOUND_LIQUIDATE | sel::COMPOUND_LIQUIDATE_ETH)) => (|| {
                let user = addr(a, 0)?;
                let (collateral, repay) = if s == sel::COMPOUND_LIQUIDATE {
                    (addr(a, 2)?, uint(a, 1)?)
                } else {
                    (addr(a, 1)?, f.value)
                };
                let debt_token = match underlying(f.to) {
                    Some(u) => u,
                    None if s == sel::COMPOUND_LIQUIDATE_ETH => ETH,
                    None => inside(ts, &f.path).find(|t| t.from == f.from && t.to == f.to)?.token,
                };
                // The collateral market's seize(liquidator, borrower, seizeTokens), inside.
                let seized = frames.iter().find(|g| {
                    g.kind == CallKind::Call
                        && f.is_ancestor_of(&g.path)
                        && g.to == collateral
                        && g.selector() == Some(sel::COMPOUND_SEIZE)
                })?;
                Some(Liquidation {
                    at: Position::Trace { trace_address: f.path.clone() },
                    protocol: compound_protocol(f.to),
                    market: f.to,
                    liquidated_user: user,
                    liquidator: f.from,
                    debt_token,
                    debt_amount: repay,
                    received_token: collateral,
                    received_amount: uint(args(seized.input), 2)?,
                    reverted: f.reverted,
                })
            })(),
            _ => None,
        };
        out.extend(l);
    }
    out
}

/// Liquidations from lenders' events.
pub(crate) fn liquidations_from_logs(
    logs: &[Log],
    ts: &[Transfer],
    reverted: bool,
) -> Vec<Liquidation> {
    let mut out = Vec::new();
    for (i, l) in logs.iter().enumerate() {
        let at = Position::Log { log_index: l.log_index.unwrap_or(i as u64) };
        let Some(t0) = l.topics.first() else { continue };
        let liq = if *t0 == topic::AAVE_LIQUIDATION && l.topics.len() == 4 {
            (|| {
                let (user, liquidator) = (topic_addr(&l.topics[3])?, addr(&l.data, 2)?);
                let amount = uint(&l.data, 1)?;
                // receiveAToken (the event's last word): the liquidator got the collateral's
                // aToken, moved from the user by the aToken's own Transfer before this event.
                let atoken = uint(&l.data, 3).is_some_and(|v| !v.is_zero()).then(|| {
                    prior(ts, &at)
                        .filter(|t| t.from == user && t.to == liquidator && t.amount == amount)
                        .last()
                        .map(|t| t.token)
                });
                Some(Liquidation {
                    at: at.clone(),
                    protocol: Protocol::Aave,
                    market: l.address,
                    liquidated_user: user,
                    liquidator,
                    debt_token: topic_addr(&l.topics[2])?,
                    debt_amount: uint(&l.data, 0)?,
                    received_token: atoken.flatten().unwrap_or(topic_addr(&l.topics[1])?),
                    received_amount: amount,
                    reverted,
                })
            })()
        } else if *t0 == topic::AAVE_V1_LIQUIDATION && l.topics.len() == 4 {
            (|| {
                Some(Liquidation {
                    at: at.clone(),
                    protocol: Protocol::AaveV1,
                    market: l.address,
                    liquidated_user: topic_addr(&l.topics[3])?,
                    liquidator: addr(&l.data, 3)?,
                    debt_token: topic_addr(&l.topics[2])?,
                    debt_amount: uint(&l.data, 0)?,
                    received_token: topic_addr(&l.topics[1])?,
                    received_amount: uint(&l.data, 1)?,
                    reverted,
                })
            })()
        } else if *t0 == topic::COMPOUND_LIQUIDATE && l.topics.len() == 1 {
            (|| {
                let liquidator = addr(&l.data, 0)?;
                let repay = uint(&l.data, 2)?;
                let debt_token = underlying(l.address).unwrap_or_else(|| {
                    prior(ts, &at)
                        .filter(|t| t.to == l.address && t.amount == repay)
                        .last()
                        .map_or(ETH, |t| t.token)
                });
                Some(Liquidation {
                    at: at.clone(),
                    protocol: compound_protocol(l.address),
                    market: l.address,
                    liquidated_user: addr(&l.data, 1)?,
                    liquidator,
                    debt_token,
                    debt_amount: repay,
                    received_token: addr(&l.data, 3)?,
                    received_amount: uint(&l.data, 4)?,
                    reverted,
                })
            })()
        } else {
            None
        };
        out.extend(liq);
    }
    out
}

/// The items of a dynamic array argument of addresses or integers.
fn array(a: &[u8], arg: usize) -> Option<Vec<U256>> {
    let off = usize::try_from(uint(a, arg)?).ok()? / 32;
    let len = usize::try_from(uint(a, off)?).ok()?;
    if len > 256 {
        return None;
    }
    (0..len).map(|k| uint(a, off + 1 + k)).collect()
}

fn as_addr(v: U256) -> Address {
    Address::from_slice(&v.to_be_bytes::<32>()[12..])
}

/// Flash loans made by calls in the tree.
pub(crate) fn flash_loans_from_frames(frames: &[Frame<'_>], ts: &[Transfer]) -> Vec<FlashLoan> {
    let mut out = Vec::new();
    for f in frames.iter().filter(|f| f.kind == CallKind::Call) {
        let a = args(f.input);
        let at = || Position::Trace { trace_address: f.path.clone() };
        let loan = |protocol, receiver, token, amount| FlashLoan {
            at: at(),
            protocol,
            lender: f.to,
            receiver,
            token,
            amount,
            reverted: f.reverted,
        };
        match f.selector() {
            Some(sel::AAVE_FLASH_LOAN | sel::BALANCER_FLASH_LOAN) => {
                let protocol = if f.selector() == Some(sel::BALANCER_FLASH_LOAN) {
                    Protocol::BalancerV2
                } else {
                    Protocol::Aave
                };
                let (Some(receiver), Some(tokens), Some(amounts)) =
                    (addr(a, 0), array(a, 1), array(a, 2))
                else {
                    continue;
                };
                for (t, amt) in tokens.into_iter().zip(amounts) {
                    out.push(loan(protocol, receiver, as_addr(t), amt));
                }
            }
            Some(sel::AAVE_FLASH_LOAN_SIMPLE) => {
                if let (Some(r), Some(t), Some(amt)) = (addr(a, 0), addr(a, 1), uint(a, 2)) {
                    out.push(loan(Protocol::Aave, r, t, amt));
                }
            }
            Some(sel::FLASH_LOAN_3156) => {
                let protocol = match f.to {
                    AAVE_V1_POOL => Protocol::AaveV1,
                    DSS_FLASH => Protocol::MakerFlash,
                    _ => Protocol::Erc3156,
                };
                if let (Some(r), Some(t), Some(amt)) = (addr(a, 0), addr(a, 1), uint(a, 2)) {
                    out.push(loan(protocol, r, t, amt));
                }
            }
            Some(sel::V2_SWAP) => {
                // A flash swap: the pair sends first and calls the recipient back (non-empty
                // data) to be paid.
                let data_len =
                    uint(a, 3).and_then(|o| usize::try_from(o).ok()).and_then(|o| uint(a, o / 32));
                if data_len.is_some_and(|l| !l.is_zero()) {
                    if let Some(to) = addr(a, 2) {
                        for t in inside(ts, &f.path).filter(|t| t.from == f.to && t.to == to) {
                            out.push(loan(Protocol::UniswapV2, to, t.token, t.amount));
                        }
                    }
                }
            }
            Some(sel::V3_FLASH) => {
                if let Some(r) = addr(a, 0) {
                    for t in inside(ts, &f.path).filter(|t| t.from == f.to && t.to == r) {
                        out.push(loan(Protocol::UniswapV3, r, t.token, t.amount));
                    }
                }
            }
            Some(sel::DYDX_OPERATE) if f.to == DYDX_SOLO => {
                // Withdraw, call, deposit back: what left the margin contract and came back.
                let moved: Vec<&Transfer> = inside(ts, &f.path).collect();
                for t in moved.iter().filter(|t| t.from == f.to) {
                    let repaid = moved.iter().any(|b| {
                        b.at > t.at && b.to == f.to && b.token == t.token && b.amount >= t.amount
                    });
                    if repaid {
                        out.push(loan(Protocol::Dydx, t.to, t.token, t.amount));
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Flash loans from lenders' events.
pub(crate) fn flash_loans_from_logs(
    logs: &[Log],
    ts: &[Transfer],
    reverted: bool,
) -> Vec<FlashLoan> {
    let mut out = Vec::new();
    let dydx_call =
        logs.iter().any(|l| l.address == DYDX_SOLO && l.topics.first() == Some(&topic::DYDX_CALL));
    for (i, l) in logs.iter().enumerate() {
        let at = Position::Log { log_index: l.log_index.unwrap_or(i as u64) };
        let Some(t0) = l.topics.first() else { continue };
        let loan = |protocol, receiver, token, amount| FlashLoan {
            at: at.clone(),
            protocol,
            lender: l.address,
            receiver,
            token,
            amount,
            reverted,
        };
        let t = &l.topics;
        if *t0 == topic::AAVE_V2_FLASH_LOAN && t.len() == 4 {
            if let (Some(r), Some(tok), Some(a)) =
                (topic_addr(&t[1]), topic_addr(&t[3]), uint(&l.data, 0))
            {
                out.push(loan(Protocol::Aave, r, tok, a));
            }
        } else if *t0 == topic::AAVE_V3_FLASH_LOAN && t.len() == 4 {
            if let (Some(r), Some(tok), Some(a)) =
                (topic_addr(&t[1]), topic_addr(&t[2]), uint(&l.data, 1))
            {
                out.push(loan(Protocol::Aave, r, tok, a));
            }
        } else if *t0 == topic::AAVE_V1_FLASH_LOAN && t.len() == 3 {
            if let (Some(r), Some(tok), Some(a)) =
                (topic_addr(&t[1]), topic_addr(&t[2]), uint(&l.data, 0))
            {
                out.push(loan(Protocol::AaveV1, r, tok, a));
            }
        } else if *t0 == topic::BALANCER_FLASH_LOAN && t.len() == 3 && l.address == BALANCER_VAULT {
            if let (Some(r), Some(tok), Some(a)) =
                (topic_addr(&t[1]), topic_addr(&t[2]), uint(&l.data, 0))
            {
                out.push(loan(Protocol::BalancerV2, r, tok, a));
            }
        } else if *t0 == topic::BALANCER_FLASH_LOAN && t.len() == 2 {
            // DssFlash's `FlashLoan(receiver indexed, token, amount, fee)`: Balancer's
            // signature with only the receiver indexed.
            if let (Some(r), Some(tok), Some(a)) =
                (topic_addr(&t[1]), addr(&l.data, 0), uint(&l.data, 1))
            {
                let protocol =
                    if l.address == DSS_FLASH { Protocol::MakerFlash } else { Protocol::Erc3156 };
                out.push(loan(protocol, r, tok, a));
            }
        } else if *t0 == topic::V3_FLASH && t.len() == 3 {
            if let Some(r) = topic_addr(&t[2]) {
                for amt in [uint(&l.data, 0), uint(&l.data, 1)].into_iter().flatten() {
                    if amt.is_zero() {
                        continue;
                    }
                    if let Some(tr) =
                        prior(ts, &at).find(|x| x.from == l.address && x.amount == amt)
                    {
                        out.push(loan(Protocol::UniswapV3, r, tr.token, amt));
                    }
                }
            }
        } else if *t0 == topic::V2_SWAP && t.len() == 3 {
            // A flash swap: the pair paid out before it was paid.
            if let Some((swap, paid_in, paid_out)) =
                crate::swaps::v2_log_parts(l, i.checked_sub(1).and_then(|j| logs.get(j)), &at, ts)
            {
                if paid_out < paid_in {
                    out.push(FlashLoan {
                        at: at.clone(),
                        protocol: Protocol::UniswapV2,
                        lender: l.address,
                        receiver: swap.to,
                        token: swap.token_out,
                        amount: swap.amount_out,
                        reverted,
                    });
                }
            }
        }
    }
    if dydx_call {
        for t in ts.iter().filter(|t| t.from == DYDX_SOLO) {
            let repaid = ts.iter().any(|b| {
                b.at > t.at && b.to == DYDX_SOLO && b.token == t.token && b.amount >= t.amount
            });
            if repaid {
                out.push(FlashLoan {
                    at: t.at.clone(),
                    protocol: Protocol::Dydx,
                    lender: DYDX_SOLO,
                    receiver: t.to,
                    token: t.token,
                    amount: t.amount,
                    reverted,
                });
            }
        }
    }
    out
}
