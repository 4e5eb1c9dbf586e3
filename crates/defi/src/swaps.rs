//! Swaps: from the calls that make them (amounts read from the transfers in and around the
//! call, as mev-inspect-py does) or from the events pools emit.

use crate::frames::{caller_of, CallKind, Frame};
use crate::known::{sel, topic, DAI, ETH};
use crate::transfers::{inside, prior};
use crate::words::{addr, args, int, topic_addr, uint};
use crate::{Position, Protocol, Swap, Transfer};
use palisade_primitives::{Address, Log, U256};

/// 0x's internal fills, called by the exchange proxy on itself.
const ZEROX_FILL_LIMIT_INTERNAL: [u8; 4] = [0x41, 0x4e, 0x4c, 0xcf];
const ZEROX_FILL_RFQ_INTERNAL: [u8; 4] = [0xaa, 0x6b, 0x21, 0xcd];

/// Swaps made by calls in the tree.
pub(crate) fn from_frames(frames: &[Frame<'_>], ts: &[Transfer]) -> Vec<Swap> {
    let mut out = Vec::new();
    for f in frames.iter().filter(|f| f.kind == CallKind::DelegateCall) {
        // A pool's code run in another contract's context (a pool behind a proxy, or a bot
        // that borrows the code): the context is the pool, its caller the trader.
        if let Some(
            sel::CURVE_EXCHANGE | sel::CURVE_EXCHANGE_UNDERLYING | sel::CURVE_EXCHANGE_CRYPTO,
        ) = f.selector()
        {
            let trader = caller_of(frames, f).map_or(f.from, |p| p.from);
            out.extend(
                swap_at(f, ts, Protocol::Curve, f.from, trader, false)
                    .or_else(|| any_out_swap_at(f, ts, Protocol::Curve, f.from)),
            );
        }
    }
    out.extend(zeroex_v3(frames));
    out.extend(balancer_v2_batch(frames));
    out.extend(cow_settle(frames));
    out.extend(crate::orders::one_inch_from_frames(frames, ts));
    for f in frames.iter().filter(|f| f.kind == CallKind::Call) {
        let a = args(f.input);
        let swap = match f.selector() {
            Some(sel::V2_SWAP) => addr(a, 2)
                .and_then(|to| pool_swap(f, ts, Protocol::UniswapV2, to, true))
                .map(|mut s| {
                    if let Some((after, received)) = v2_pair_view(frames, f, &s) {
                        s.reserves = Some(after);
                        // A fee taken on the way in: the pair got less than was sent.
                        if let Some(r) = received.filter(|r| *r < s.amount_in && !r.is_zero()) {
                            s.amount_in = r;
                        }
                    }
                    s
                }),
            Some(sel::V3_SWAP) => {
                addr(a, 0).and_then(|to| pool_swap(f, ts, Protocol::UniswapV3, to, false))
            }
            Some(
                sel::CURVE_EXCHANGE
                | sel::CURVE_EXCHANGE_UNDERLYING
                | sel::CURVE_EXCHANGE_CRYPTO
                | sel::CURVE_EXCHANGE_CRYPTO_ETH,
            ) => pool_swap(f, ts, Protocol::Curve, f.from, false)
                .or_else(|| any_out_swap(f, ts, Protocol::Curve)),
            // The same with the receiver named (the 5th argument; the 6th for crypto pools).
            Some(sel::CURVE_EXCHANGE_TO | sel::CURVE_EXCHANGE_UNDERLYING_TO) => addr(a, 4)
                .and_then(|to| pool_swap(f, ts, Protocol::Curve, to, false))
                .or_else(|| any_out_swap(f, ts, Protocol::Curve)),
            Some(sel::CURVE_EXCHANGE_CRYPTO_TO) => addr(a, 5)
                .and_then(|to| pool_swap(f, ts, Protocol::Curve, to, false))
                .or_else(|| any_out_swap(f, ts, Protocol::Curve)),
            // NG pools' exchange_received: the tokens in were sent to the pool before the call.
            Some(sel::CURVE_EXCHANGE_RECEIVED | sel::CURVE_EXCHANGE_RECEIVED_CRYPTO) => {
                addr(a, 4).and_then(|to| pool_swap(f, ts, Protocol::Curve, to, true))
            }
            Some(sel::BALANCER_V1_IN | sel::BALANCER_V1_OUT) => balancer_v1(f, ts),
            Some(sel::BANCOR_CONVERT) => bancor(f),
            Some(sel::BALANCER_V2_SWAP) => {
                addr(a, 3).and_then(|to| pool_swap(f, ts, Protocol::BalancerV2, to, false))
            }
            Some(
                sel::ZEROX_FILL_LIMIT
                | sel::ZEROX_FILL_RFQ
                | sel::ZEROX_FOK_LIMIT
                | sel::ZEROX_FOK_RFQ
                | ZEROX_FILL_LIMIT_INTERNAL
                | ZEROX_FILL_RFQ_INTERNAL,
            ) => zeroex(f),
            _ => None,
        };
        out.extend(swap);
    }
    // In call-tree order (pre-order: a call before what it calls, siblings in order).
    out.sort_by(|x, y| x.at.trace_address().cmp(&y.at.trace_address()));
    out
}

/// The steps of Balancer V2 batch swaps, one swap each, from the vault's `onSwap` call to each
/// step's pool (its swap request: kind, tokens, the given amount, the funds' sender and
/// recipient; the pool returns the calculated amount). An intermediate step's tokens stay in
/// the vault, so each step is a swap of the pool with the batch's sender and recipient, as the
/// vault's `Swap` log of that step reports it. Steps whose pool call failed or whose batch was
/// undone are marked by their frame.
fn balancer_v2_batch(frames: &[Frame<'_>]) -> Vec<Swap> {
    let mut out = Vec::new();
    for batch in frames.iter().filter(|f| {
        f.kind == CallKind::Call && !f.error && f.selector() == Some(sel::BALANCER_V2_BATCH)
    }) {
        let vault = batch.to;
        for f in frames.iter().filter(|g| {
            batch.is_ancestor_of(&g.path)
                && g.kind == CallKind::Call
                && g.from == vault
                && !g.error
                && matches!(
                    g.selector(),
                    Some(sel::BALANCER_V2_ON_SWAP_MINIMAL | sel::BALANCER_V2_ON_SWAP_GENERAL)
                )
        }) {
            out.extend(balancer_v2_step(f));
        }
    }
    out
}

/// One `onSwap` call: (kind, tokenIn, tokenOut, amount, poolId, lastChangeBlock, from, to,
/// userData) at the offset of its first argument; it returns the calculated amount.
fn balancer_v2_step(f: &Frame<'_>) -> Option<Swap> {
    let a = args(f.input);
    let offset = usize::try_from(uint(a, 0)?).ok()?;
    let r = a.get(offset..)?;
    let given_in = uint(r, 0)?.is_zero();
    let (token_in, token_out, given) = (addr(r, 1)?, addr(r, 2)?, uint(r, 3)?);
    let calculated = uint(f.output, 0)?;
    let (amount_in, amount_out) = if given_in { (given, calculated) } else { (calculated, given) };
    Some(Swap {
        at: Position::Trace { trace_address: f.path.clone() },
        protocol: Protocol::BalancerV2,
        pool: f.to,
        from: addr(r, 6)?,
        to: addr(r, 7)?,
        token_in,
        amount_in,
        token_out,
        amount_out,
        reverted: f.reverted,
        reserves: None,
    })
}

/// `getReserves()`.
const GET_RESERVES: [u8; 4] = [0x09, 0x02, 0xf1, 0xac];

/// `balanceOf(address)`.
const BALANCE_OF: [u8; 4] = [0x70, 0xa0, 0x82, 0x31];

/// A Uniswap V2 pair's reserves after `swap`, from the calls alone (what its `Sync` log
/// would say): the pair reads its own balances of both tokens at the end of `swap()`
/// (`balanceOf(pair)` inside the call) and stores them. With its `getReserves()` answer read
/// in the same transaction before the swap (as routers do to price it, no other swap on the
/// pair in between), the amount the pair really received is its balance after less its
/// reserve before: less than the transfer's amount for a token that takes a fee on transfer.
/// Returns the reserves after, and that received amount when it is known.
fn v2_pair_view(
    frames: &[Frame<'_>],
    f: &Frame<'_>,
    swap: &Swap,
) -> Option<([U256; 2], Option<U256>)> {
    let pair = f.to;
    let balance = |token: Address| {
        frames
            .iter()
            .filter(|g| f.is_ancestor_of(&g.path) && g.path.len() == f.path.len() + 1)
            .filter(|g| g.to == token && g.selector() == Some(BALANCE_OF) && !g.reverted)
            .filter(|g| addr(args(g.input), 0) == Some(pair))
            .filter_map(|g| uint(g.output, 0))
            .next_back()
    };
    let (t0, t1) = if swap.token_in < swap.token_out {
        (swap.token_in, swap.token_out)
    } else {
        (swap.token_out, swap.token_in)
    };
    let after = [balance(t0)?, balance(t1)?];
    let mut before = None;
    for g in frames {
        if g.path == f.path {
            break;
        }
        if g.to != pair || g.reverted {
            continue;
        }
        match g.selector() {
            Some(GET_RESERVES) if g.output.len() >= 64 => {
                before = Some([uint(g.output, 0)?, uint(g.output, 1)?]);
            }
            Some(sel::V2_SWAP) => before = None,
            _ => {}
        }
    }
    let i = usize::from(swap.token_in != t0);
    let received = before.and_then(|b| after[i].checked_sub(b[i]));
    Some((after, received))
}

/// A swap with a pool: what went into the pool (before the call when `in_before`, as Uniswap V2
/// pairs are paid first, else inside it) and the one transfer from the pool to `recipient`
/// inside the call.
fn pool_swap(
    f: &Frame<'_>,
    ts: &[Transfer],
    protocol: Protocol,
    recipient: Address,
    in_before: bool,
) -> Option<Swap> {
    swap_at(f, ts, protocol, f.to, recipient, in_before)
}

/// [`pool_swap`] with the pool named: a delegatecall's pool is its context, not its callee.
fn swap_at(
    f: &Frame<'_>,
    ts: &[Transfer],
    protocol: Protocol,
    pool: Address,
    recipient: Address,
    in_before: bool,
) -> Option<Swap> {
    let at = Position::Trace { trace_address: f.path.clone() };
    let mut ins: Vec<&Transfer> = if in_before {
        prior(ts, &at).filter(|t| t.to == pool && t.from != pool).collect()
    } else {
        Vec::new()
    };
    if ins.is_empty() {
        // Inside the call, or the call's own ether.
        ins = ts
            .iter()
            .filter(|t| {
                t.to == pool
                    && t.from != pool
                    && t.at.trace_address().is_some_and(|p| p.starts_with(&f.path))
            })
            .collect();
    }
    let outs: Vec<&Transfer> =
        inside(ts, &f.path).filter(|t| t.from == pool && t.to == recipient).collect();
    let [tout] = outs.as_slice() else { return None };
    // What the pool got of another token than it paid: a pool that redeems or mints on a
    // lending market inside the call (Curve's exchange_underlying) also receives the token it
    // pays out. Inside the call, the trader's own payment comes first.
    ins.retain(|t| t.token != tout.token);
    let tin = if in_before {
        ins.last()?
    } else {
        ins.iter().find(|t| t.from == f.from).or(ins.first())?
    };
    Some(Swap {
        at,
        protocol,
        pool,
        from: tin.from,
        to: tout.to,
        token_in: tin.token,
        amount_in: tin.amount,
        token_out: tout.token,
        amount_out: tout.amount,
        reverted: f.reverted,
        reserves: None,
    })
}

/// A swap whose tokens leave the pool for someone else than the caller (a router's recipient).
fn any_out_swap(f: &Frame<'_>, ts: &[Transfer], protocol: Protocol) -> Option<Swap> {
    any_out_swap_at(f, ts, protocol, f.to)
}

fn any_out_swap_at(
    f: &Frame<'_>,
    ts: &[Transfer],
    protocol: Protocol,
    pool: Address,
) -> Option<Swap> {
    let outs: Vec<&Transfer> = inside(ts, &f.path).filter(|t| t.from == pool).collect();
    let [tout] = outs.as_slice() else { return None };
    swap_at(f, ts, protocol, pool, tout.to, false)
}

/// A Bancor v2 converter's step: `convert(sourceToken, targetToken, sourceAmount, trader,
/// beneficiary)` returns the target amount it sent the beneficiary. The network has moved the
/// source tokens to the converter before (or sent ether with the call).
fn bancor(f: &Frame<'_>) -> Option<Swap> {
    let a = args(f.input);
    Some(Swap {
        at: Position::Trace { trace_address: f.path.clone() },
        protocol: Protocol::Bancor,
        pool: f.to,
        from: addr(a, 3)?,
        to: addr(a, 4)?,
        token_in: addr(a, 0)?,
        amount_in: uint(a, 2)?,
        token_out: addr(a, 1)?,
        amount_out: uint(f.output, 0).unwrap_or_default(),
        reverted: f.reverted,
        reserves: None,
    })
}

/// A Balancer V1 pool's swap: the tokens and the fixed amount from the call
/// (`swapExactAmountIn(tokenIn, tokenAmountIn, tokenOut, minAmountOut, maxPrice)`,
/// `swapExactAmountOut(tokenIn, maxAmountIn, tokenOut, tokenAmountOut, maxPrice)`), the other
/// amount from what it returned (the amount, then the spot price after), else from the
/// transfer of that token inside the call. The pool pulls from and pays the caller.
fn balancer_v1(f: &Frame<'_>, ts: &[Transfer]) -> Option<Swap> {
    let a = args(f.input);
    let (token_in, token_out) = (addr(a, 0)?, addr(a, 2)?);
    let exact_in = f.selector() == Some(sel::BALANCER_V1_IN);
    let moved = |token: Address, to_pool: bool| {
        inside(ts, &f.path)
            .find(|t| t.token == token && if to_pool { t.to == f.to } else { t.from == f.to })
            .map(|t| t.amount)
    };
    let returned = uint(f.output, 0);
    let (amount_in, amount_out) = if exact_in {
        (uint(a, 1)?, returned.or_else(|| moved(token_out, false)).unwrap_or_default())
    } else {
        (returned.or_else(|| moved(token_in, true)).unwrap_or_default(), uint(a, 3)?)
    };
    Some(Swap {
        at: Position::Trace { trace_address: f.path.clone() },
        protocol: Protocol::BalancerV1,
        pool: f.to,
        from: f.from,
        to: f.from,
        token_in,
        amount_in,
        token_out,
        amount_out,
        reverted: f.reverted,
        reserves: None,
    })
}

/// A 0x native-order fill: tokens from the order, amounts from what the call returned.
fn zeroex(f: &Frame<'_>) -> Option<Swap> {
    let a = args(f.input);
    let (maker_token, taker_token) = (addr(a, 0)?, addr(a, 1)?);
    let (taker_filled, maker_filled) = match f.output.len() {
        64 => (uint(f.output, 0)?, uint(f.output, 1)?),
        // fillOrKill*: returns what the maker paid; the taker paid the amount asked.
        32 => {
            let fill_word = match f.selector() {
                Some(sel::ZEROX_FOK_LIMIT) => 16,
                _ => 14,
            };
            (uint(a, fill_word)?, uint(f.output, 0)?)
        }
        _ => return None,
    };
    if taker_filled.is_zero() && maker_filled.is_zero() {
        return None;
    }
    Some(Swap {
        at: Position::Trace { trace_address: f.path.clone() },
        protocol: Protocol::ZeroEx,
        pool: f.to,
        from: f.from,
        to: f.to,
        token_in: taker_token,
        amount_in: taker_filled,
        token_out: maker_token,
        amount_out: maker_filled,
        reverted: f.reverted,
        reserves: None,
    })
}

/// 0x v3 Exchange fills, one swap per order filled: `fillOrder` and `fillOrKillOrder` calls,
/// the exchange's delegatecalls of `fillOrder` on itself (how `batchFillOrdersNoThrow` and the
/// market variants fill each order: the taker is their caller), and `batchFillOrders` and
/// `batchFillOrKillOrders` (filled inside the call, one result per order). Tokens from the
/// orders' ERC-20 asset data (ERC20Proxy or ERC20Bridge), amounts from the fill results the
/// exchange returned; other assets (ERC-721, multi-asset) are not swaps.
fn zeroex_v3(frames: &[Frame<'_>]) -> Vec<Swap> {
    let mut out = Vec::new();
    for f in frames {
        let (self_call, batch) = match (f.kind, f.selector()) {
            (CallKind::Call, Some(sel::ZEROX_V3_FILL | sel::ZEROX_V3_FOK)) => (false, false),
            (CallKind::DelegateCall, Some(sel::ZEROX_V3_FILL)) if f.from == f.to => (true, false),
            (CallKind::Call, Some(sel::ZEROX_V3_BATCH_FILL | sel::ZEROX_V3_BATCH_FOK)) => {
                (false, true)
            }
            _ => continue,
        };
        let taker = if self_call {
            match caller_of(frames, f) {
                Some(p) => p.from,
                None => continue,
            }
        } else {
            f.from
        };
        let a = args(f.input);
        // (order, fill results) pairs: the order's offset in the arguments, results' first word.
        let orders: Vec<(usize, usize)> = if batch {
            (|| {
                let list = offset(a, 0, 0)?;
                let n = usize::try_from(uint(a, list / 32)?).ok()?;
                let results = offset(f.output, 0, 0)?;
                if uint(f.output, results / 32)? != U256::from(n) || n > a.len() / 32 {
                    return None;
                }
                (0..n)
                    .map(|i| {
                        Some((offset(a, list / 32 + 1 + i, list + 32)?, results / 32 + 1 + 5 * i))
                    })
                    .collect()
            })()
            .unwrap_or_default()
        } else {
            offset(a, 0, 0).map(|o| vec![(o, 0)]).unwrap_or_default()
        };
        for (order, results) in orders {
            let s = (|| {
                let o = &a[order..];
                let token_out = erc20_asset(o, offset(o, 10, 0)?)?;
                let token_in = erc20_asset(o, offset(o, 11, 0)?)?;
                let (amount_out, amount_in) =
                    (uint(f.output, results)?, uint(f.output, results + 1)?);
                if amount_in.is_zero() && amount_out.is_zero() {
                    return None;
                }
                Some(Swap {
                    at: Position::Trace { trace_address: f.path.clone() },
                    protocol: Protocol::ZeroEx,
                    pool: f.to,
                    from: taker,
                    to: taker,
                    token_in,
                    amount_in,
                    token_out,
                    amount_out,
                    reverted: f.reverted,
                    reserves: None,
                })
            })();
            out.extend(s);
        }
    }
    out
}

/// An ABI offset read from word `i` of `data`, plus `base`, checked to lie inside `data`.
fn offset(data: &[u8], i: usize, base: usize) -> Option<usize> {
    let o = usize::try_from(uint(data, i)?).ok()?.checked_add(base)?;
    (o < data.len() && o % 32 == 0).then_some(o)
}

/// The token of a 0x v3 asset data held at `at` in `data` (length word, then the bytes):
/// `ERC20Token(address)` (proxy id 0xf47261b0) or `ERC20Bridge(address,address,bytes)`
/// (0xdc1600f3), whose first argument is the token.
fn erc20_asset(data: &[u8], at: usize) -> Option<Address> {
    let len = usize::try_from(uint(data, at / 32)?).ok()?;
    let bytes = data.get(at + 32..at.checked_add(32)?.checked_add(len)?)?;
    match bytes.get(..4)? {
        [0xf4, 0x72, 0x61, 0xb0] if len == 36 => addr(&bytes[4..], 0),
        [0xdc, 0x16, 0x00, 0xf3] if len >= 100 => addr(&bytes[4..], 0),
        _ => None,
    }
}

/// One order of a CoW Protocol settlement, as its `settle` call gives it.
struct CowTrade {
    sell_token: Address,
    buy_token: Address,
    /// Zero: the owner.
    receiver: Address,
    /// What the order bought, as the settlement computes it from the clearing prices.
    executed_buy: U256,
}

/// The trades of a `settle(tokens, clearingPrices, trades, interactions)` call's arguments:
/// each trade is (sellTokenIndex, buyTokenIndex, receiver, sellAmount, buyAmount, validTo,
/// appData, feeAmount, flags, executedAmount, signature). A sell order (flags bit 0 clear)
/// sells its sell amount, or the executed amount when partially fillable (bit 1), and buys
/// that times the sell token's price over the buy token's (rounded down); a buy order buys its
/// buy amount, or the executed amount.
fn cow_trades(a: &[u8]) -> Option<Vec<CowTrade>> {
    let len_at = |at: usize| usize::try_from(uint(a, at / 32)?).ok();
    let tokens_at = offset(a, 0, 0)?;
    let prices_at = offset(a, 1, 0)?;
    let token = |i: usize| (i < len_at(tokens_at)?).then(|| addr(a, tokens_at / 32 + 1 + i))?;
    let price = |i: usize| (i < len_at(prices_at)?).then(|| uint(a, prices_at / 32 + 1 + i))?;
    let trades_at = offset(a, 2, 0)?;
    let base = trades_at + 32;
    let mut out = Vec::new();
    for k in 0..len_at(trades_at)? {
        let t = offset(a, base / 32 + k, base)? / 32;
        let idx = |j: usize| usize::try_from(uint(a, t + j)?).ok();
        let (sell, buy) = (idx(0)?, idx(1)?);
        let flags = uint(a, t + 8)?;
        let (buy_order, partial) = (flags.bit(0), flags.bit(1));
        let executed_buy = if buy_order {
            if partial {
                uint(a, t + 9)?
            } else {
                uint(a, t + 4)?
            }
        } else {
            let sold = if partial { uint(a, t + 9)? } else { uint(a, t + 3)? };
            let p_buy = price(buy)?;
            if p_buy.is_zero() {
                return None;
            }
            sold.checked_mul(price(sell)?)? / p_buy
        };
        out.push(CowTrade {
            sell_token: token(sell)?,
            buy_token: token(buy)?,
            receiver: addr(a, t + 2)?,
            executed_buy,
        });
    }
    Some(out)
}

/// CoW Protocol orders from the call tree: each trade of a `settle` call is a swap of its
/// owner with the settlement, paying what the vault relayer's `transferFromAccounts` took from
/// the owner (sell amount and fee; the relayer's transfers come in the order of the trades) and
/// receiving the executed buy amount (sent to the order's receiver).
fn cow_settle(frames: &[Frame<'_>]) -> Vec<Swap> {
    let mut out = Vec::new();
    for f in frames
        .iter()
        .filter(|f| f.kind == CallKind::Call && !f.error && f.selector() == Some(sel::COW_SETTLE))
    {
        let Some(trades) = cow_trades(args(f.input)) else { continue };
        let paid: Vec<(Address, Address, U256)> = frames
            .iter()
            .filter(|g| g.path.len() == f.path.len() + 1 && f.is_ancestor_of(&g.path))
            .filter(|g| !g.error && g.selector() == Some(sel::COW_TRANSFER_FROM_ACCOUNTS))
            .flat_map(|g| cow_paid(args(g.input)).unwrap_or_default())
            .collect();
        if paid.len() != trades.len()
            || trades.iter().zip(&paid).any(|(t, (_, token, _))| *token != t.sell_token)
        {
            continue;
        }
        for (t, (owner, _, amount)) in trades.iter().zip(paid) {
            out.push(Swap {
                at: Position::Trace { trace_address: f.path.clone() },
                protocol: Protocol::CowProtocol,
                pool: f.to,
                from: owner,
                to: if t.receiver.is_zero() { owner } else { t.receiver },
                token_in: t.sell_token,
                amount_in: amount,
                token_out: t.buy_token,
                amount_out: t.executed_buy,
                reverted: f.reverted,
                reserves: None,
            });
        }
    }
    out
}

/// `transferFromAccounts((account, token, amount, balance)[])`: (account, token, amount) each.
fn cow_paid(a: &[u8]) -> Option<Vec<(Address, Address, U256)>> {
    let at = offset(a, 0, 0)? / 32;
    let n = usize::try_from(uint(a, at)?).ok()?;
    (0..n)
        .map(|i| {
            let w = at + 1 + 4 * i;
            Some((addr(a, w)?, addr(a, w + 1)?, uint(a, w + 2)?))
        })
        .collect()
}

/// A CoW Protocol `Trade` event: the owner (indexed), then sell token, buy token, sell amount,
/// buy amount, fee, order id. The owner paid the sell amount and the fee; the receiver, which
/// the event does not name, is taken to be the owner.
fn cow_log(l: &Log, at: &Position, reverted: bool) -> Option<Swap> {
    let d = &l.data[..];
    let owner = topic_addr(l.topics.get(1)?)?;
    Some(Swap {
        at: at.clone(),
        protocol: Protocol::CowProtocol,
        pool: l.address,
        from: owner,
        to: owner,
        token_in: addr(d, 0)?,
        amount_in: uint(d, 2)?.checked_add(uint(d, 4)?)?,
        token_out: addr(d, 1)?,
        amount_out: uint(d, 3)?,
        reverted,
        reserves: None,
    })
}

/// A 0x v3 `Fill` event: the maker's and taker's asset data are its first two (dynamic)
/// fields, then the taker, the sender and the filled amounts.
fn zeroex_v3_log(l: &Log, at: &Position, reverted: bool) -> Option<Swap> {
    let d = &l.data[..];
    let taker = addr(d, 4)?;
    Some(Swap {
        at: at.clone(),
        protocol: Protocol::ZeroEx,
        pool: l.address,
        from: taker,
        to: taker,
        token_in: erc20_asset(d, offset(d, 1, 0)?)?,
        amount_in: uint(d, 7)?,
        token_out: erc20_asset(d, offset(d, 0, 0)?)?,
        amount_out: uint(d, 6)?,
        reverted,
        reserves: None,
    })
}

/// Swaps from the events pools emit, with the tokens read from the transfers around them.
pub(crate) fn from_logs(logs: &[Log], ts: &[Transfer], reverted: bool) -> Vec<Swap> {
    let mut out = Vec::new();
    for (i, l) in logs.iter().enumerate() {
        let at = Position::Log { log_index: l.log_index.unwrap_or(i as u64) };
        let Some(t0) = l.topics.first() else { continue };
        let s = if *t0 == topic::V2_SWAP && l.topics.len() == 3 {
            v2_log(l, i.checked_sub(1).and_then(|j| logs.get(j)), &at, ts)
        } else if (*t0 == topic::V3_SWAP || *t0 == topic::PANCAKE_V3_SWAP) && l.topics.len() == 3 {
            v3_log(l, &at, ts)
        } else if (*t0 == topic::CURVE_EXCHANGE
            || *t0 == topic::CURVE_EXCHANGE_UNDERLYING
            || *t0 == topic::CURVE_EXCHANGE_CRYPTO
            || *t0 == topic::CURVE_EXCHANGE_CRYPTO_NG)
            && l.topics.len() == 2
        {
            curve_log(l, &at, ts)
        } else if *t0 == topic::BALANCER_V2_SWAP && l.topics.len() == 4 {
            balancer_v2_log(l, &at, ts)
        } else if *t0 == topic::BALANCER_V1_SWAP && l.topics.len() == 4 {
            (|| {
                let caller = topic_addr(&l.topics[1])?;
                Some(Swap {
                    at: at.clone(),
                    protocol: Protocol::BalancerV1,
                    pool: l.address,
                    from: caller,
                    to: caller,
                    token_in: topic_addr(&l.topics[2])?,
                    amount_in: uint(&l.data, 0)?,
                    token_out: topic_addr(&l.topics[3])?,
                    amount_out: uint(&l.data, 1)?,
                    reverted,
                    reserves: None,
                })
            })()
        } else if *t0 == topic::BANCOR_CONVERSION && l.topics.len() == 4 {
            (|| {
                let trader = topic_addr(&l.topics[3])?;
                Some(Swap {
                    at: at.clone(),
                    protocol: Protocol::Bancor,
                    pool: l.address,
                    from: trader,
                    // The beneficiary is not in the event: where the target token went.
                    to: latest(ts, &at, uint(&l.data, 1), |t| t.from == l.address)
                        .map_or(trader, |t| t.to),
                    token_in: topic_addr(&l.topics[1])?,
                    amount_in: uint(&l.data, 0)?,
                    token_out: topic_addr(&l.topics[2])?,
                    amount_out: uint(&l.data, 1)?,
                    reverted,
                    reserves: None,
                })
            })()
        } else if *t0 == topic::ZEROX_LIMIT_FILLED && l.topics.len() == 1 {
            zeroex_log(l, &at, 2, 4, 6)
        } else if *t0 == topic::ZEROX_RFQ_FILLED && l.topics.len() == 1 {
            zeroex_log(l, &at, 2, 3, 5)
        } else if *t0 == topic::ZEROX_V3_FILL && l.topics.len() == 4 {
            zeroex_v3_log(l, &at, reverted)
        } else if *t0 == topic::COW_TRADE && l.topics.len() == 2 {
            cow_log(l, &at, reverted)
        } else if *t0 == topic::DODO_SWAP && l.topics.len() == 1 {
            dodo_v2_log(l, &at, ts)
        } else if (*t0 == topic::DODO_SELL_BASE || *t0 == topic::DODO_BUY_BASE)
            && l.topics.len() == 2
        {
            dodo_v1_log(l, &at, ts)
        } else if (*t0 == topic::PSM_SELL_GEM || *t0 == topic::PSM_BUY_GEM) && l.topics.len() == 2 {
            psm_log(l, &at, ts)
        } else if (*t0 == topic::ONE_INCH_V5_FILLED && l.topics.len() == 2)
            || (*t0 == topic::ONE_INCH_V6_FILLED && l.topics.len() == 1)
        {
            crate::orders::one_inch_log(logs, i, ts)
        } else if *t0 == topic::UNISWAPX_FILL && l.topics.len() == 4 {
            crate::orders::uniswapx_log(logs, i, ts)
        } else {
            None
        };
        out.extend(s.map(|mut s| {
            s.reverted = reverted;
            s
        }));
    }
    out
}

/// A DODO V2 pool's `DODOSwap(fromToken, toToken, fromAmount, toAmount, trader, receiver)`:
/// everything but the payer, who sent the tokens in before the call (the trader, usually
/// DODO's proxy, when no transfer says otherwise).
fn dodo_v2_log(l: &Log, at: &Position, ts: &[Transfer]) -> Option<Swap> {
    let d = &l.data[..];
    let (token_in, amount_in) = (addr(d, 0)?, uint(d, 2)?);
    let paid = latest(ts, at, Some(amount_in), |t| t.to == l.address && t.token == token_in);
    Some(Swap {
        at: at.clone(),
        protocol: Protocol::Dodo,
        pool: l.address,
        from: paid.map_or(addr(d, 4)?, |t| t.from),
        to: addr(d, 5)?,
        token_in,
        amount_in,
        token_out: addr(d, 1)?,
        amount_out: uint(d, 3)?,
        reverted: false,
        reserves: None,
    })
}

/// A DODO V1 pool's `SellBaseToken(seller, payBase, receiveQuote)` or `BuyBaseToken(buyer,
/// receiveBase, payQuote)`, logged after both tokens moved between the pool and the trader
/// (the tokens are read from those transfers).
fn dodo_v1_log(l: &Log, at: &Position, ts: &[Transfer]) -> Option<Swap> {
    let (pool, trader) = (l.address, topic_addr(&l.topics[1])?);
    let (first, second) = (uint(&l.data, 0)?, uint(&l.data, 1)?);
    let (amount_in, amount_out) =
        if l.topics[0] == topic::DODO_SELL_BASE { (first, second) } else { (second, first) };
    let tout = latest(ts, at, Some(amount_out), |t| t.from == pool && t.to == trader)?;
    let tin = latest(ts, at, Some(amount_in), |t| {
        t.to == pool && t.from == trader && t.token != tout.token
    })?;
    Some(Swap {
        at: at.clone(),
        protocol: Protocol::Dodo,
        pool,
        from: trader,
        to: trader,
        token_in: tin.token,
        amount_in,
        token_out: tout.token,
        amount_out,
        reverted: false,
        reserves: None,
    })
}

/// Maker's PSM (the original DssPsm and the Lite PSM log alike): `SellGem(usr, gemAmt, fee)`
/// after the gem came in from the caller and DAI went to `usr`; `BuyGem(usr, gemAmt, fee)`
/// after DAI came in to the PSM and the gem went to `usr`. The DAI amount (the gem amount in
/// 18 decimals less or plus the fee) is the DAI transfer's.
fn psm_log(l: &Log, at: &Position, ts: &[Transfer]) -> Option<Swap> {
    let usr = topic_addr(&l.topics[1])?;
    let gem_amount = uint(&l.data, 0)?;
    let gem = |to: Option<Address>| {
        latest(ts, at, Some(gem_amount), |t| {
            t.token != DAI && t.amount == gem_amount && to.is_none_or(|to| t.to == to)
        })
    };
    let (from, token_in, amount_in, token_out, amount_out) = if l.topics[0] == topic::PSM_SELL_GEM {
        let dai = latest(ts, at, None, |t| t.token == DAI && t.to == usr)?;
        let paid = gem(None)?;
        (paid.from, paid.token, gem_amount, DAI, dai.amount)
    } else {
        let dai = latest(ts, at, None, |t| t.token == DAI && t.to == l.address)?;
        let got = gem(Some(usr))?;
        (dai.from, DAI, dai.amount, got.token, gem_amount)
    };
    Some(Swap {
        at: at.clone(),
        protocol: Protocol::MakerPsm,
        pool: l.address,
        from,
        to: usr,
        token_in,
        amount_in,
        token_out,
        amount_out,
        reverted: false,
        reserves: None,
    })
}

/// The latest transfer before `at` matching `pred`, preferring one of `amount`.
fn latest<'a>(
    ts: &'a [Transfer],
    at: &Position,
    amount: Option<U256>,
    pred: impl Fn(&Transfer) -> bool,
) -> Option<&'a Transfer> {
    let cands: Vec<&Transfer> = prior(ts, at).filter(|t| pred(t)).collect();
    amount
        .and_then(|a| cands.iter().rev().find(|t| t.amount == a).copied())
        .or_else(|| cands.last().copied())
}

fn v2_log(l: &Log, prev: Option<&Log>, at: &Position, ts: &[Transfer]) -> Option<Swap> {
    v2_log_parts(l, prev, at, ts).map(|(s, _, _)| s)
}

/// A Uniswap V2 `Swap` log's swap, with where the pair was paid and where it paid out.
pub(crate) fn v2_log_parts(
    l: &Log,
    prev: Option<&Log>,
    at: &Position,
    ts: &[Transfer],
) -> Option<(Swap, Position, Position)> {
    let pool = l.address;
    let to = topic_addr(&l.topics[2])?;
    let (in0, in1, out0, out1) =
        (uint(&l.data, 0)?, uint(&l.data, 1)?, uint(&l.data, 2)?, uint(&l.data, 3)?);
    let amount_out = if out0.is_zero() { out1 } else { out0 };
    let amount_in = if in0.is_zero() { in1 } else { in0 };
    let tout = latest(ts, at, Some(amount_out), |t| t.from == pool && t.to == to)
        .or_else(|| latest(ts, at, Some(amount_out), |t| t.from == pool))?;
    let tin = latest(ts, at, Some(amount_in), |t| {
        t.to == pool && t.from != pool && t.token != tout.token
    })?;
    // The pair logs Sync(reserve0, reserve1) just before Swap.
    let reserves = prev
        .filter(|p| p.address == pool && p.topics.first() == Some(&topic::V2_SYNC))
        .and_then(|p| Some([uint(&p.data, 0)?, uint(&p.data, 1)?]));
    let swap = Swap {
        at: at.clone(),
        protocol: Protocol::UniswapV2,
        pool,
        from: tin.from,
        to: tout.to,
        token_in: tin.token,
        amount_in,
        token_out: tout.token,
        amount_out,
        reverted: false,
        reserves,
    };
    Some((swap, tin.at.clone(), tout.at.clone()))
}

fn v3_log(l: &Log, at: &Position, ts: &[Transfer]) -> Option<Swap> {
    let pool = l.address;
    let recipient = topic_addr(&l.topics[2])?;
    let (a0, neg0) = int(&l.data, 0)?;
    let (a1, neg1) = int(&l.data, 1)?;
    let (amount_in, amount_out) = match (neg0, neg1) {
        (false, true) => (a0, a1),
        (true, false) => (a1, a0),
        _ => return None,
    };
    let tout = latest(ts, at, Some(amount_out), |t| t.from == pool && t.to == recipient)
        .or_else(|| latest(ts, at, Some(amount_out), |t| t.from == pool))?;
    let tin = latest(ts, at, Some(amount_in), |t| {
        t.to == pool && t.from != pool && t.token != tout.token
    })?;
    Some(Swap {
        at: at.clone(),
        protocol: Protocol::UniswapV3,
        pool,
        from: tin.from,
        to: tout.to,
        token_in: tin.token,
        amount_in,
        token_out: tout.token,
        amount_out,
        reverted: false,
        reserves: None,
    })
}

fn curve_log(l: &Log, at: &Position, ts: &[Transfer]) -> Option<Swap> {
    let pool = l.address;
    let buyer = topic_addr(&l.topics[1])?;
    let (sold, bought) = (uint(&l.data, 1)?, uint(&l.data, 3)?);
    let tout = latest(ts, at, Some(bought), |t| t.from == pool && t.to == buyer)
        .or_else(|| latest(ts, at, Some(bought), |t| t.from == pool))?;
    let tin =
        latest(ts, at, Some(sold), |t| t.to == pool && t.from != pool && t.token != tout.token)?;
    Some(Swap {
        at: at.clone(),
        protocol: Protocol::Curve,
        pool,
        from: tin.from,
        to: tout.to,
        token_in: tin.token,
        amount_in: sold,
        token_out: tout.token,
        amount_out: bought,
        reverted: false,
        reserves: None,
    })
}

fn balancer_v2_log(l: &Log, at: &Position, ts: &[Transfer]) -> Option<Swap> {
    let vault = l.address;
    let (token_in, token_out) = (topic_addr(&l.topics[2])?, topic_addr(&l.topics[3])?);
    let (amount_in, amount_out) = (uint(&l.data, 0)?, uint(&l.data, 1)?);
    // The vault moves the tokens after it logs the swap: look at the whole transaction.
    let paid = ts.iter().find(|t| {
        t.to == vault && (t.token == token_in || (t.token == ETH)) && t.amount == amount_in
    });
    let got = ts.iter().find(|t| t.from == vault && t.token == token_out && t.amount == amount_out);
    Some(Swap {
        at: at.clone(),
        protocol: Protocol::BalancerV2,
        pool: vault,
        from: paid.map_or(Address::ZERO, |t| t.from),
        to: got.map_or(Address::ZERO, |t| t.to),
        token_in,
        amount_in,
        token_out,
        amount_out,
        reverted: false,
        reserves: None,
    })
}

/// 0x fills: `taker` word, maker token word, and the filled amounts (taker's first).
fn zeroex_log(
    l: &Log,
    at: &Position,
    taker: usize,
    maker_token: usize,
    amounts: usize,
) -> Option<Swap> {
    let taker = addr(&l.data, taker)?;
    Some(Swap {
        at: at.clone(),
        protocol: Protocol::ZeroEx,
        pool: l.address,
        from: taker,
        to: taker,
        token_in: addr(&l.data, maker_token + 1)?,
        amount_in: uint(&l.data, amounts)?,
        token_out: addr(&l.data, maker_token)?,
        amount_out: uint(&l.data, amounts + 1)?,
        reverted: false,
        reserves: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balancer_v2_steps_read_from_the_pools_on_swap_calls_match_the_vaults_transfers() {
        // Batch swaps run each step through the same vault-to-pool `onSwap` call as a single
        // `swap`; on the real single swaps of mev-inspect's blocks, the step read from that call
        // must be the swap the vault's token transfers show (the pool, tokens and amounts).
        let mut checked = 0;
        for b in palisade_testing::fixtures::blocks("mainnet/mev-inspect-20.jsonl.zst") {
            let actions = crate::classify(&b);
            for tf in crate::frames::frames(&b).unwrap_or_default() {
                let t = actions.txs.iter().find(|t| t.index == tf.index).unwrap();
                for single in
                    tf.frames.iter().filter(|f| f.selector() == Some(sel::BALANCER_V2_SWAP))
                {
                    let step = tf
                        .frames
                        .iter()
                        .filter(|g| single.is_ancestor_of(&g.path) && g.from == single.to)
                        .find(|g| g.selector() == Some(sel::BALANCER_V2_ON_SWAP_MINIMAL))
                        .and_then(balancer_v2_step)
                        .expect("the vault asked the pool");
                    let by_transfers = t
                        .swaps
                        .iter()
                        .find(|s| s.at.trace_address() == Some(&single.path[..]))
                        .filter(|_| !single.reverted);
                    // A reverted transaction moved no tokens: nothing to hold the step to.
                    let Some(by_transfers) = by_transfers else {
                        assert!(step.reverted);
                        continue;
                    };
                    assert_eq!(
                        (step.token_in, step.amount_in, step.token_out, step.amount_out),
                        (
                            by_transfers.token_in,
                            by_transfers.amount_in,
                            by_transfers.token_out,
                            by_transfers.amount_out
                        )
                    );
                    assert_eq!(step.to, by_transfers.to);
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 2);
    }

    #[test]
    fn a_real_cow_settlement_trade_buys_what_the_settlement_sent_its_receiver() {
        // Block 13666184, transaction 2 (mev-inspect's blocks): one order settled through 1inch.
        // The key: the settlement's own transfer of the buy token to the receiver, which must be
        // the buy amount worked out from the order and the clearing prices.
        let blocks = palisade_testing::fixtures::blocks("mainnet/mev-inspect-20.jsonl.zst");
        let b = blocks.iter().find(|b| b.header.number == 13_666_184).unwrap();
        let actions = crate::classify(b);
        let t = actions.txs.iter().find(|t| t.index == 2).unwrap();
        let cow: Vec<_> = t.swaps.iter().filter(|s| s.protocol == Protocol::CowProtocol).collect();
        let [s] = cow.as_slice() else { panic!("{:?}", t.swaps) };
        let sent = t
            .transfers
            .iter()
            .find(|x| x.from == s.pool && x.to == s.to && x.token == s.token_out)
            .expect("the settlement paid the receiver");
        assert_eq!(sent.amount, s.amount_out);
        let paid = t
            .transfers
            .iter()
            .find(|x| x.from == s.from && x.token == s.token_in && x.amount == s.amount_in);
        assert!(paid.is_some(), "the owner paid the sell amount and fee");
        assert_ne!(s.token_in, s.token_out);
    }
}
