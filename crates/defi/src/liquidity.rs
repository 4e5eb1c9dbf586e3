//! Concentrated liquidity: positions added to, removed from and collected from Uniswap V3 pools
//! (and the forks that share the pool interface), from the pools' `mint`, `burn` and `collect`
//! calls or their `Mint`, `Burn` and `Collect` logs; and JIT liquidity found across a block
//! from them: a position added just before other accounts' swaps in its pool and removed just
//! after, so that it earns their fees.

use crate::frames::{CallKind, Frame};
use crate::known::{sel, topic};
use crate::mev::signed;
use crate::words::{addr, args, topic_addr, uint, word};
use crate::{dec, BlockActions, Position, Protocol};
use palisade_primitives::{Address, Log, I256, U256};
use serde::Serialize;

/// What a liquidity change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LiquidityKind {
    /// Liquidity added (`mint`): the amounts were paid into the pool.
    Add,
    /// Liquidity removed (`burn`): the amounts became owed to the position (principal at the
    /// pool's price then), to be collected.
    Remove,
    /// Tokens owed to the position sent out (`collect`): principal released and fees earned.
    Collect,
}

/// One change to a position in a concentrated-liquidity pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LiquidityChange {
    /// Where it was seen.
    #[serde(flatten)]
    pub at: Position,
    /// Protocol.
    pub protocol: Protocol,
    /// What it did.
    pub kind: LiquidityKind,
    /// The pool.
    pub pool: Address,
    /// The position's owner (the pool keys positions by owner and ticks).
    pub owner: Address,
    /// Lower tick of the position.
    pub tick_lower: i32,
    /// Upper tick of the position.
    pub tick_upper: i32,
    /// Liquidity added or removed (zero for a collect); a decimal string in JSON (it may not
    /// fit a JSON number).
    #[serde(serialize_with = "dec_u128")]
    pub liquidity: u128,
    /// Amount of the pool's token0 (the lower address of its pair).
    #[serde(serialize_with = "dec")]
    pub amount0: U256,
    /// Amount of the pool's token1.
    #[serde(serialize_with = "dec")]
    pub amount1: U256,
    /// Undone by a revert.
    pub reverted: bool,
}

/// An `int24` ABI word (sign-extended to 32 bytes): its value, when it is one.
fn tick(w: [u8; 32]) -> Option<i32> {
    let v = i32::from_be_bytes([w[28], w[29], w[30], w[31]]);
    let ext = if v < 0 { 0xff } else { 0 };
    (w[..28].iter().all(|b| *b == ext) && (-(1 << 23)..(1 << 23)).contains(&v)).then_some(v)
}

/// A `uint128` ABI word.
fn u128_word(data: &[u8], i: usize) -> Option<u128> {
    uint(data, i).and_then(|v| u128::try_from(v).ok())
}

/// A change to a position, when its ticks make one (lower below upper).
#[allow(clippy::too_many_arguments)]
fn change(
    at: Position,
    kind: LiquidityKind,
    pool: Address,
    owner: Address,
    ticks: (i32, i32),
    liquidity: u128,
    amounts: (U256, U256),
    reverted: bool,
) -> Option<LiquidityChange> {
    (ticks.0 < ticks.1).then_some(LiquidityChange {
        at,
        protocol: Protocol::UniswapV3,
        kind,
        pool,
        owner,
        tick_lower: ticks.0,
        tick_upper: ticks.1,
        liquidity,
        amount0: amounts.0,
        amount1: amounts.1,
        reverted,
    })
}

/// Liquidity changes read from the call tree: calls of a pool's `mint`, `burn` and `collect`
/// that returned (a failed call changed nothing; one whose effects a caller undid is marked
/// `reverted`). Each returns (amount0, amount1).
pub(crate) fn from_frames(frames: &[Frame<'_>]) -> Vec<LiquidityChange> {
    let mut out = Vec::new();
    for f in frames.iter().filter(|f| f.kind == CallKind::Call && !f.error) {
        let a = args(f.input);
        // (kind, owner, word of the lower tick, word of the liquidity)
        let (kind, owner, ticks_at, liquidity_at) = match f.selector() {
            // mint(recipient, tickLower, tickUpper, amount, data): the recipient's position.
            Some(sel::V3_MINT) => (LiquidityKind::Add, addr(a, 0), 1, Some(3)),
            // burn(tickLower, tickUpper, amount): the caller's position.
            Some(sel::V3_BURN) => (LiquidityKind::Remove, Some(f.from), 0, Some(2)),
            // collect(recipient, tickLower, tickUpper, max0, max1): the caller's position.
            Some(sel::V3_COLLECT) => (LiquidityKind::Collect, Some(f.from), 1, None),
            _ => continue,
        };
        let c = (|| {
            change(
                Position::Trace { trace_address: f.path.clone() },
                kind,
                f.to,
                owner?,
                (tick(word(a, ticks_at)?)?, tick(word(a, ticks_at + 1)?)?),
                liquidity_at.map_or(Some(0), |i| u128_word(a, i))?,
                (uint(f.output, 0)?, uint(f.output, 1)?),
                f.reverted,
            )
        })();
        out.extend(c);
    }
    out
}

/// Liquidity changes read from a receipt's logs (`Mint`, `Burn` and `Collect` of a pool): the
/// owner and ticks are indexed; the data is Mint (sender, amount, amount0, amount1), Burn
/// (amount, amount0, amount1) or Collect (recipient, amount0, amount1).
pub(crate) fn from_logs(logs: &[Log], reverted: bool) -> Vec<LiquidityChange> {
    let mut out = Vec::new();
    for (i, l) in logs.iter().enumerate() {
        let Some(t0) = l.topics.first() else { continue };
        // (kind, word of the liquidity, word of amount0)
        let (kind, liquidity_at, amounts_at) = match *t0 {
            t if t == topic::V3_MINT => (LiquidityKind::Add, Some(1), 2),
            t if t == topic::V3_BURN => (LiquidityKind::Remove, Some(0), 1),
            t if t == topic::V3_COLLECT => (LiquidityKind::Collect, None, 1),
            _ => continue,
        };
        if l.topics.len() != 4 {
            continue;
        }
        let d = &l.data[..];
        let c = (|| {
            change(
                Position::Log { log_index: l.log_index.unwrap_or(i as u64) },
                kind,
                l.address,
                topic_addr(&l.topics[1])?,
                (tick(l.topics[2].0)?, tick(l.topics[3].0)?),
                liquidity_at.map_or(Some(0), |k| u128_word(d, k))?,
                (uint(d, amounts_at)?, uint(d, amounts_at + 1)?),
                reverted,
            )
        })();
        out.extend(c);
    }
    out
}

/// JIT liquidity: a position added to a pool in one transaction and removed in a later one of
/// the same block, with other accounts' swaps in that pool between them (the victims, whose
/// fees the position earned).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Jit {
    /// The pool.
    pub pool: Address,
    /// The pool's tokens (token0, token1), from the victims' swaps.
    pub tokens: Option<[Address; 2]>,
    /// The position's owner.
    pub owner: Address,
    /// Lower tick.
    pub tick_lower: i32,
    /// Upper tick.
    pub tick_upper: i32,
    /// Liquidity added (a decimal string in JSON).
    #[serde(serialize_with = "dec_u128")]
    pub liquidity: u128,
    /// The transaction that added it.
    pub mint_tx: u64,
    /// The transaction that removed it.
    pub burn_tx: u64,
    /// The transactions between them that swapped in the pool.
    pub victims: Vec<u64>,
    /// Paid into the pool when adding (token0, token1).
    #[serde(serialize_with = "dec_pair")]
    pub added: [U256; 2],
    /// Principal released when removing.
    #[serde(serialize_with = "dec_pair")]
    pub removed: [U256; 2],
    /// Collected in the removing transaction (principal and fees).
    #[serde(serialize_with = "dec_pair")]
    pub collected: [U256; 2],
    /// Fees earned: collected less principal released (per token).
    #[serde(serialize_with = "dec_signed_pair")]
    pub fees: [I256; 2],
    /// The provider's net in each token: collected less added (fees, and the inventory the
    /// victims' swaps moved through the position).
    #[serde(serialize_with = "dec_signed_pair")]
    pub profit: [I256; 2],
}

fn dec_u128<S: serde::Serializer>(v: &u128, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&v.to_string())
}

fn dec_pair<S: serde::Serializer>(v: &[U256; 2], s: S) -> Result<S::Ok, S::Error> {
    serde::Serialize::serialize(&[v[0].to_string(), v[1].to_string()], s)
}

fn dec_signed_pair<S: serde::Serializer>(v: &[I256; 2], s: S) -> Result<S::Ok, S::Error> {
    serde::Serialize::serialize(&[v[0].to_string(), v[1].to_string()], s)
}

/// The block's JIT liquidity (see [`Jit`]). A removal must take out at least the liquidity the
/// addition put in, the two transactions must come from the same sender or call the same
/// contract (the same sender when the position's owner is Uniswap's position manager, which
/// holds everyone's positions), and a transaction is a victim when one of its swaps in the pool is not by the
/// provider's transactions. Each addition and removal is in at most one finding.
pub fn jits(b: &BlockActions) -> Vec<Jit> {
    let mut out = Vec::new();
    let mut used_burns: Vec<(u64, usize)> = Vec::new();
    for (ti, t) in b.txs.iter().enumerate() {
        if t.reverted {
            continue;
        }
        for add in t.liquidity.iter().filter(|c| c.kind == LiquidityKind::Add && !c.reverted) {
            if add.liquidity == 0 {
                continue;
            }
            let same_position = |c: &LiquidityChange| {
                !c.reverted
                    && c.pool == add.pool
                    && c.owner == add.owner
                    && c.tick_lower == add.tick_lower
                    && c.tick_upper == add.tick_upper
            };
            // The first later removal of the whole position by the same sender, or through the
            // same bot contract. Not the same position manager: it owns everyone's positions
            // (and calling it is no sign of one actor), so there the sender must match.
            let shared_owner = add.owner == crate::known::UNISWAP_V3_POSITIONS;
            let found = b.txs[ti + 1..].iter().filter(|u| !u.reverted).find_map(|u| {
                let same_actor = (u.from.is_some() && u.from == t.from)
                    || (!shared_owner && u.to.is_some() && u.to == t.to);
                if !same_actor {
                    return None;
                }
                u.liquidity
                    .iter()
                    .enumerate()
                    .find(|(k, c)| {
                        c.kind == LiquidityKind::Remove
                            && same_position(c)
                            && c.liquidity >= add.liquidity
                            && !used_burns.contains(&(u.index, *k))
                    })
                    .map(|(k, c)| (u, k, c))
            });
            let Some((u, k, burn)) = found else { continue };
            let between = b.txs.iter().filter(|v| v.index > t.index && v.index < u.index);
            let mut victims = Vec::new();
            let mut tokens = None;
            for v in between.filter(|v| !v.reverted) {
                let swaps: Vec<_> =
                    v.swaps.iter().filter(|s| s.pool == add.pool && !s.reverted).collect();
                let by_provider = v.from.is_some() && (v.from == t.from || v.from == u.from);
                if swaps.is_empty() || by_provider {
                    continue;
                }
                victims.push(v.index);
                if tokens.is_none() {
                    let (x, y) = (swaps[0].token_in, swaps[0].token_out);
                    tokens = Some(if x < y { [x, y] } else { [y, x] });
                }
            }
            if victims.is_empty() {
                continue;
            }
            used_burns.push((u.index, k));
            let collected = u
                .liquidity
                .iter()
                .filter(|c| c.kind == LiquidityKind::Collect && same_position(c))
                .fold([U256::ZERO; 2], |a, c| {
                    [a[0].saturating_add(c.amount0), a[1].saturating_add(c.amount1)]
                });
            let pair = |x: [U256; 2], y: [U256; 2]| {
                [signed(x[0]) - signed(y[0]), signed(x[1]) - signed(y[1])]
            };
            let added = [add.amount0, add.amount1];
            let removed = [burn.amount0, burn.amount1];
            out.push(Jit {
                pool: add.pool,
                tokens,
                owner: add.owner,
                tick_lower: add.tick_lower,
                tick_upper: add.tick_upper,
                liquidity: add.liquidity,
                mint_tx: t.index,
                burn_tx: u.index,
                victims,
                added,
                removed,
                collected,
                fees: pair(collected, removed),
                profit: pair(collected, added),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::known::UNISWAP_V3_POSITIONS as NPM;
    use crate::{Source, TxActions};

    const POOL: Address = Address::repeat_byte(0x70);

    fn change(kind: LiquidityKind, owner: Address) -> LiquidityChange {
        LiquidityChange {
            at: Position::Log { log_index: 0 },
            protocol: Protocol::UniswapV3,
            kind,
            pool: POOL,
            owner,
            tick_lower: -887_220,
            tick_upper: 887_220,
            liquidity: 1000,
            amount0: U256::from(10),
            amount1: U256::from(10),
            reverted: false,
        }
    }

    fn tx(
        index: u64,
        from: u8,
        to: Address,
        liquidity: Vec<LiquidityChange>,
        swap: bool,
    ) -> TxActions {
        let who = Address::repeat_byte(from);
        let (a, b) = (Address::repeat_byte(0xa0), Address::repeat_byte(0xb0));
        TxActions {
            index,
            hash: None,
            from: Some(who),
            to: Some(to),
            reverted: false,
            source: Source::Logs,
            transfers: Vec::new(),
            swaps: if swap { vec![crate::mev::tests::swap(POOL, who, a, 5, b, 4)] } else { vec![] },
            flash_loans: Vec::new(),
            liquidations: Vec::new(),
            arbitrages: Vec::new(),
            liquidity,
        }
    }

    #[test]
    fn positions_the_position_manager_holds_need_the_same_sender() {
        // Two users of the position manager with the same full-range ticks: one adds, a swap,
        // the other removes. Not JIT; the same user doing both is.
        let block = |remover: u8| BlockActions {
            number: 1,
            txs: vec![
                tx(0, 1, NPM, vec![change(LiquidityKind::Add, NPM)], false),
                tx(1, 9, POOL, vec![], true),
                tx(2, remover, NPM, vec![change(LiquidityKind::Remove, NPM)], false),
            ],
        };
        assert!(jits(&block(2)).is_empty());
        let j = jits(&block(1));
        assert_eq!((j.len(), j[0].victims.clone()), (1, vec![1]));
        // A bot contract that owns its position may be called from several senders.
        let bot = Address::repeat_byte(0xbb);
        let b = BlockActions {
            number: 1,
            txs: vec![
                tx(0, 1, bot, vec![change(LiquidityKind::Add, bot)], false),
                tx(1, 9, POOL, vec![], true),
                tx(2, 2, bot, vec![change(LiquidityKind::Remove, bot)], false),
            ],
        };
        assert_eq!(jits(&b).len(), 1);
    }

    #[test]
    fn ticks_are_sign_extended_int24_words() {
        let mut w = [0xffu8; 32];
        w[28..].copy_from_slice(&(-887_220i32).to_be_bytes());
        assert_eq!(tick(w), Some(-887_220));
        let mut w = [0u8; 32];
        w[28..].copy_from_slice(&887_220i32.to_be_bytes());
        assert_eq!(tick(w), Some(887_220));
        // Not an int24: dirty upper bytes, or out of range.
        w[0] = 1;
        assert_eq!(tick(w), None);
        let mut w = [0u8; 32];
        w[28..].copy_from_slice(&(1i32 << 23).to_be_bytes());
        assert_eq!(tick(w), None);
    }
}
