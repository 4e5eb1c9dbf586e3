//! Signed-order protocols: 1inch's limit orders (v5's OrderMixin and RFQ orders, v6's
//! LimitOrderProtocol v4, which Fusion's resolvers fill) and UniswapX's reactors. A fill is a
//! swap seen from the taker (the filler): it pays the order's taker asset and receives the
//! maker's asset, with the exchange (router or reactor) as the pool.

use crate::frames::{CallKind, Frame};
use crate::known::{sel, ETH};
use crate::transfers::{inside, prior};
use crate::words::{addr, args, topic_addr, uint, word};
use crate::{Position, Protocol, Swap, Transfer};
use palisade_primitives::{Address, Log, U256};

/// Where a 1inch fill call keeps its order's fields, as word indexes from the order's start.
struct OrderLayout {
    maker: usize,
    maker_asset: usize,
    taker_asset: usize,
    /// v6 writes addresses as uint256 whose upper bits may carry flags: read the low 160.
    wide: bool,
}

/// v5 `Order` (salt, makerAsset, takerAsset, maker, receiver, allowedSender, ...).
const V5: OrderLayout = OrderLayout { maker: 3, maker_asset: 1, taker_asset: 2, wide: false };
/// v5 `OrderRFQ` (info, makerAsset, takerAsset, maker, allowedSender, ...).
const V5_RFQ: OrderLayout = OrderLayout { maker: 3, maker_asset: 1, taker_asset: 2, wide: false };
/// v6 `Order` (salt, maker, receiver, makerAsset, takerAsset, ...), addresses as uint256.
const V6: OrderLayout = OrderLayout { maker: 1, maker_asset: 3, taker_asset: 4, wide: true };

/// 1inch limit-order fills made by calls in the tree. Every fill function returns
/// (making amount, taking amount, order hash): the amounts that moved, exact.
pub(crate) fn one_inch_from_frames(frames: &[Frame<'_>], ts: &[Transfer]) -> Vec<Swap> {
    frames
        .iter()
        .filter(|f| f.kind == CallKind::Call && !f.error)
        .filter_map(|f| {
            let a = args(f.input);
            // The order: behind an offset (v5's Order holds bytes) or inline (RFQ, v6).
            let (order, layout) = match f.selector()? {
                sel::ONE_INCH_V5_FILL
                | sel::ONE_INCH_V5_FILL_TO
                | sel::ONE_INCH_V5_FILL_TO_PERMIT => {
                    let o = usize::try_from(uint(a, 0)?).ok()?;
                    (a.get(o..)?, V5)
                }
                sel::ONE_INCH_V5_RFQ
                | sel::ONE_INCH_V5_RFQ_TO
                | sel::ONE_INCH_V5_RFQ_COMPACT
                | sel::ONE_INCH_V5_RFQ_TO_PERMIT => (a, V5_RFQ),
                sel::ONE_INCH_V6_FILL
                | sel::ONE_INCH_V6_FILL_ARGS
                | sel::ONE_INCH_V6_FILL_CONTRACT
                | sel::ONE_INCH_V6_FILL_CONTRACT_ARGS => (a, V6),
                _ => return None,
            };
            let field = |i| match layout.wide {
                true => word(order, i).map(|w| Address::from_slice(&w[12..])),
                false => addr(order, i),
            };
            let (maker, maker_asset, taker_asset) =
                (field(layout.maker)?, field(layout.maker_asset)?, field(layout.taker_asset)?);
            let (making, taking) = (uint(f.output, 0)?, uint(f.output, 1)?);
            if making.is_zero() && taking.is_zero() {
                return None;
            }
            // Who got the maker's asset: the fill's own transfer from the maker says it (a
            // target argument, the taker, or the router on the way to unwrapping ether).
            let to = inside(ts, &f.path)
                .find(|t| t.token == maker_asset && t.from == maker && t.amount == making)
                .map_or(f.from, |t| t.to);
            Some(Swap {
                at: Position::Trace { trace_address: f.path.clone() },
                protocol: Protocol::OneInch,
                pool: f.to,
                from: f.from,
                to,
                token_in: taker_asset,
                amount_in: taking,
                token_out: maker_asset,
                amount_out: making,
                reverted: f.reverted,
                reserves: None,
            })
        })
        .collect()
}

/// The transfers of one fill's window in a transaction's logs: after the previous log of the
/// same kind from the same emitter (or the transaction's start) and before `at`, or, for
/// protocols that log before they move tokens, after `at` and before the next such log.
fn window<'a>(
    logs: &[Log],
    i: usize,
    ts: &'a [Transfer],
    after: bool,
) -> impl Iterator<Item = &'a Transfer> {
    let l = &logs[i];
    let same = |m: &&Log| m.address == l.address && m.topics.first() == l.topics.first();
    let index = |j: usize| logs[j].log_index.unwrap_or(j as u64);
    let (lo, hi) = if after {
        let next = logs[i + 1..].iter().position(|m| same(&m)).map(|k| index(i + 1 + k));
        (Some(index(i)), next)
    } else {
        let prev = logs[..i].iter().rposition(|m| same(&m)).map(index);
        (prev, Some(index(i)))
    };
    ts.iter().filter(move |t| match t.at {
        Position::Log { log_index } => {
            lo.is_none_or(|lo| log_index > lo) && hi.is_none_or(|hi| log_index < hi)
        }
        Position::Trace { .. } => false,
    })
}

/// A 1inch fill from its log alone (data without call traces), read from the transfers of
/// the fill. v5's `OrderFilled(maker, hash, remaining)` is logged before the tokens move: the
/// maker's transfer out and the payment into the maker follow it. v6's `OrderFilled(hash,
/// remaining)` names no maker and is logged after both transfers: the maker is the one
/// account in the window that both paid a token and was paid another. Without both legs no
/// swap is reported.
pub(crate) fn one_inch_log(logs: &[Log], i: usize, ts: &[Transfer]) -> Option<Swap> {
    let l = &logs[i];
    let at = Position::Log { log_index: l.log_index.unwrap_or(i as u64) };
    let v5 = l.topics.len() == 2;
    let w: Vec<&Transfer> = window(logs, i, ts, v5).collect();
    let paid_by = |m: Address| w.iter().find(|t| t.from == m).copied();
    let (out, pay) = if v5 {
        let maker = topic_addr(&l.topics[1])?;
        let out = paid_by(maker)?;
        (out, w.iter().find(|t| t.to == maker && t.token != out.token).copied()?)
    } else {
        let mut pairs = w.iter().filter_map(|out| {
            let pay = w.iter().find(|p| p.to == out.from && p.token != out.token)?;
            Some((*out, *pay))
        });
        let first = pairs.next()?;
        // Two makers in one window: not one fill.
        if pairs.any(|(o, _)| o.from != first.0.from) {
            return None;
        }
        first
    };
    Some(Swap {
        at,
        protocol: Protocol::OneInch,
        pool: l.address,
        from: pay.from,
        to: out.to,
        token_in: pay.token,
        amount_in: pay.amount,
        token_out: out.token,
        amount_out: out.amount,
        reverted: false,
        reserves: None,
    })
}

/// A UniswapX `Fill(orderHash, filler, swapper, nonce)`, logged after the order's outputs were
/// paid. The swapper's input went to the filler before the filler's callback (the reactor
/// pulls it through Permit2); the outputs went from the filler (or, for ether, from the reactor)
/// to the swapper since the previous fill. Seen from the filler: it paid the outputs and
/// received the input.
pub(crate) fn uniswapx_log(logs: &[Log], i: usize, ts: &[Transfer]) -> Option<Swap> {
    let l = &logs[i];
    let at = Position::Log { log_index: l.log_index.unwrap_or(i as u64) };
    let (filler, swapper) = (topic_addr(&l.topics[2])?, topic_addr(&l.topics[3])?);
    let input = prior(ts, &at).filter(|t| t.from == swapper && t.to == filler).last()?;
    let outputs: Vec<&Transfer> = window(logs, i, ts, false)
        .filter(|t| {
            t.to == swapper
                && t.token != input.token
                && (t.from == filler || (t.token == ETH && t.from == l.address))
        })
        .collect();
    let token_in = outputs.first()?.token;
    let amount_in = outputs
        .iter()
        .filter(|t| t.token == token_in)
        .try_fold(U256::ZERO, |s, t| s.checked_add(t.amount))?;
    Some(Swap {
        at,
        protocol: Protocol::UniswapX,
        pool: l.address,
        from: filler,
        to: filler,
        token_in,
        amount_in,
        token_out: input.token,
        amount_out: input.amount,
        reverted: false,
        reserves: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::known::topic;
    use palisade_primitives::B256;

    use crate::transfers::test_transfer as transfer;

    fn log(i: u64, address: Address, topics: Vec<B256>) -> Log {
        Log { address, topics, data: Default::default(), log_index: Some(i) }
    }

    #[test]
    fn a_uniswapx_fill_is_the_fillers_payment_to_the_swapper_against_the_swappers_input() {
        // Two orders filled in one batch: both inputs move first (to the filler), then each
        // order's outputs and its Fill. The second fill must not take the first one's outputs.
        let [reactor, filler, alice, bob, usdc, weth] =
            [1u8, 2, 3, 4, 5, 6].map(Address::repeat_byte);
        let ts = vec![
            transfer(0, usdc, alice, filler, 1_000),
            transfer(1, usdc, bob, filler, 2_000),
            transfer(2, weth, filler, alice, 5),
            transfer(4, weth, filler, bob, 7),
            transfer(5, ETH, reactor, bob, 3),
        ];
        let fill = |i, swapper: Address| {
            log(
                i,
                reactor,
                vec![topic::UNISWAPX_FILL, B256::ZERO, filler.into_word(), swapper.into_word()],
            )
        };
        let logs = vec![
            log(0, usdc, vec![topic::TRANSFER]),
            log(1, usdc, vec![topic::TRANSFER]),
            log(2, weth, vec![topic::TRANSFER]),
            fill(3, alice),
            log(4, weth, vec![topic::TRANSFER]),
            fill(6, bob),
        ];
        let swaps = crate::swaps::from_logs(&logs, &ts, false);
        assert_eq!(swaps.len(), 2);
        let (a, b) = (&swaps[0], &swaps[1]);
        assert_eq!(
            (a.token_in, a.amount_in, a.token_out, a.amount_out),
            (weth, U256::from(5), usdc, U256::from(1_000))
        );
        assert_eq!(
            (a.from, a.to, a.pool, a.protocol),
            (filler, filler, reactor, Protocol::UniswapX)
        );
        // Bob's outputs: WETH from the filler (the ether from the reactor is another token).
        assert_eq!(
            (b.token_in, b.amount_in, b.token_out, b.amount_out),
            (weth, U256::from(7), usdc, U256::from(2_000))
        );
    }

    fn frame(
        path: Vec<u32>,
        from: Address,
        to: Address,
        input: &[u8],
        output: &[u8],
    ) -> Frame<'static> {
        Frame {
            path,
            kind: CallKind::Call,
            from,
            to,
            input: Box::leak(input.to_vec().into_boxed_slice()),
            output: Box::leak(output.to_vec().into_boxed_slice()),
            value: U256::ZERO,
            error: false,
            reverted: false,
        }
    }

    fn words(ws: &[U256]) -> Vec<u8> {
        ws.iter().flat_map(|w| w.to_be_bytes::<32>()).collect()
    }

    fn u(a: Address) -> U256 {
        U256::from_be_bytes(a.into_word().0)
    }

    #[test]
    fn one_inch_fill_calls_give_the_amounts_they_return_and_the_receiver_of_the_makers_asset() {
        let [router, resolver, maker, target, usdc, weth] =
            [1u8, 2, 3, 4, 5, 6].map(Address::repeat_byte);
        let (making, taking) = (U256::from(10u64), U256::from(31_000u64));
        let out = words(&[making, taking, U256::from(0xabu64)]);
        // v6 fillOrderArgs: the order inline (salt, maker, receiver, makerAsset, takerAsset,
        // making, taking, traits), then r, vs, amount, takerTraits, args.
        let mut v6 = sel::ONE_INCH_V6_FILL_ARGS.to_vec();
        v6.extend(words(&[
            U256::from(1u64),
            u(maker),
            U256::ZERO,
            u(weth),
            u(usdc),
            making,
            taking,
            U256::ZERO,
        ]));
        v6.extend(words(&[
            U256::ZERO,
            U256::ZERO,
            making,
            U256::ZERO,
            U256::from(13 * 32u64),
            U256::ZERO,
        ]));
        // v5 fillOrderTo: an offset to the order (it holds bytes), then the other arguments.
        let mut v5 = sel::ONE_INCH_V5_FILL_TO.to_vec();
        v5.extend(words(&[
            U256::from(7 * 32u64),
            U256::ZERO,
            U256::ZERO,
            U256::ZERO,
            taking,
            U256::ZERO,
            u(target),
        ]));
        v5.extend(words(&[
            U256::from(1u64),
            u(weth),
            u(usdc),
            u(maker),
            U256::ZERO,
            U256::ZERO,
            making,
            taking,
            U256::ZERO,
            U256::from(10 * 32u64),
            U256::ZERO,
        ]));
        let frames = vec![
            frame(vec![0], resolver, router, &v6, &out),
            frame(vec![0, 0], router, weth, &sel::TRANSFER_FROM, &[]),
            frame(vec![1], resolver, router, &v5, &out),
        ];
        let ts = vec![Transfer {
            at: Position::Trace { trace_address: vec![1, 0] },
            token: weth,
            from: maker,
            to: target,
            amount: making,
            reverted: false,
        }];
        let swaps = one_inch_from_frames(&frames, &ts);
        assert_eq!(swaps.len(), 2);
        for s in &swaps {
            assert_eq!((s.protocol, s.pool, s.from), (Protocol::OneInch, router, resolver));
            assert_eq!(
                (s.token_in, s.amount_in, s.token_out, s.amount_out),
                (usdc, taking, weth, making)
            );
        }
        // No transfer under the v6 call: the taker itself; the v5 one went to its target.
        assert_eq!((swaps[0].to, swaps[1].to), (resolver, target));
    }

    #[test]
    fn a_one_inch_v5_log_without_the_payment_to_the_maker_gives_no_swap() {
        let [router, maker, pair, token] = [1u8, 2, 3, 4].map(Address::repeat_byte);
        let logs = vec![log(0, router, vec![topic::ONE_INCH_V5_FILLED, maker.into_word()])];
        let ts = vec![transfer(1, token, maker, pair, 10)];
        assert!(crate::swaps::from_logs(&logs, &ts, false).is_empty());
    }
}
