//! Arbitrages (within a transaction) and sandwiches (across transactions), over decoded swaps.

use crate::{Arbitrage, BlockActions, Position, Protocol, Swap};
use palisade_primitives::{Address, I256, U256};
use serde::Serialize;

/// Longest route searched for an arbitrage, and most swaps of a transaction considered.
const MAX_ROUTE: usize = 10;
const MAX_SWAPS: usize = 64;

fn signed(v: U256) -> I256 {
    I256::try_from(v).unwrap_or(I256::MAX)
}

/// Arbitrages among one transaction's swaps (mev-inspect-py's method): a route of swaps, each
/// paying in what the previous one paid out (same token, within 1 %), from a start whose payer
/// is not a pool to an end
/// that pays that payer back in the token it started with. Shortest routes first; a swap is in at
/// most one arbitrage. With several, only those whose route runs forward in the call tree stay.
pub fn arbitrages(swaps: &[Swap]) -> Vec<Arbitrage> {
    if swaps.len() < 2 || swaps.len() > MAX_SWAPS {
        return Vec::new();
    }
    let pools: Vec<Address> = swaps.iter().map(|s| s.pool).collect();
    let mut starts: Vec<(usize, Vec<usize>)> = Vec::new();
    for (i, s) in swaps.iter().enumerate() {
        let ends: Vec<usize> = (0..swaps.len())
            .filter(|&j| {
                j != i
                    && s.token_in == swaps[j].token_out
                    && s.from == swaps[j].to
                    && !pools.contains(&s.from)
            })
            .collect();
        if !ends.is_empty() {
            starts.push((i, ends));
        }
    }
    let all: Vec<usize> = (0..swaps.len()).collect();
    let mut used: Vec<usize> = Vec::new();
    let mut out = Vec::new();
    for (start, ends) in starts {
        if used.contains(&start) {
            continue;
        }
        let unused: Vec<usize> = ends.into_iter().filter(|e| !used.contains(e)).collect();
        let Some(route) = shortest_route(swaps, start, &unused, &all, Some(MAX_ROUTE)) else {
            continue;
        };
        let (first, last) = (&swaps[route[0]], &swaps[route[route.len() - 1]]);
        out.push(Arbitrage {
            account: first.from,
            profit_token: first.token_in,
            start_amount: first.amount_in,
            end_amount: last.amount_out,
            profit: signed(last.amount_out) - signed(first.amount_in),
            reverted: route.iter().any(|i| swaps[*i].reverted),
            swaps: route.clone(),
        });
        used.extend(route);
    }
    if out.len() > 1 {
        out.retain(|a| swaps[a.swaps[0]].at < swaps[a.swaps[a.swaps.len() - 1]].at);
    }
    out
}

/// A route passes on what it got: the next swap pays in the token the previous one paid out,
/// within 1 % of the amount (a bot may keep dust or add a little).
fn passes_on(out: &Swap, next: &Swap) -> bool {
    if out.token_out != next.token_in || next.amount_in.is_zero() {
        return false;
    }
    let (a, b) = (out.amount_out, next.amount_in);
    let diff = if a > b { a - b } else { b - a };
    // |a/b - 1| < 1 %  <=>  100 * |a - b| < b
    diff.saturating_mul(U256::from(100)) < b
}

fn shortest_route(
    swaps: &[Swap],
    start: usize,
    ends: &[usize],
    all: &[usize],
    max_len: Option<usize>,
) -> Option<Vec<usize>> {
    for &e in ends {
        if passes_on(&swaps[start], &swaps[e]) {
            return Some(vec![start, e]);
        }
    }
    if max_len.is_some_and(|m| m <= 2) {
        return None;
    }
    let others: Vec<usize> =
        all.iter().copied().filter(|&i| i != start && !ends.contains(&i)).collect();
    let mut best: Option<Vec<usize>> = None;
    let mut max_rest = max_len.map(|m| m - 1);
    for &next in &others {
        if !passes_on(&swaps[start], &swaps[next]) {
            continue;
        }
        if let Some(r) = shortest_route(swaps, next, ends, &others, max_rest) {
            if best.as_ref().is_none_or(|b| r.len() < b.len()) {
                max_rest = Some(r.len());
                best = Some(r);
            }
        }
    }
    best.map(|b| std::iter::once(start).chain(b).collect())
}

/// A swap of a block: its transaction's position and the swap's index in that transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SwapRef {
    /// Position of the transaction in the block.
    pub tx: u64,
    /// Index in the transaction's `swaps`.
    pub swap: usize,
}

/// A sandwich: a front-run and a back-run by the same account on one pool, around other
/// accounts' swaps in the front-run's direction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sandwich {
    /// The pool.
    pub pool: Address,
    /// The account that received the front-run's tokens and paid the back-run.
    pub attacker: Address,
    /// The front-run.
    pub frontrun: SwapRef,
    /// The victims, in block order.
    pub victims: Vec<SwapRef>,
    /// The back-run.
    pub backrun: SwapRef,
    /// Token the attacker started and ended with.
    pub profit_token: Address,
    /// Back-run out minus front-run in (negative for a loss).
    #[serde(serialize_with = "crate::dec_signed")]
    pub profit: I256,
    /// The other leg's result, in the token the front-run bought: front-run out minus
    /// back-run in (what the attacker kept of it; negative when it paid more back).
    pub other_token: Address,
    /// See `other_token`.
    #[serde(serialize_with = "crate::dec_signed")]
    pub other_profit: I256,
    /// What the victims received less than without the front-run, in the token they bought
    /// (only for Uniswap V2 pairs whose reserves are known from their `Sync` logs).
    #[serde(serialize_with = "opt_dec")]
    pub victim_loss: Option<U256>,
}

fn opt_dec<S: serde::Serializer>(v: &Option<U256>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.serialize_str(&v.to_string()),
        None => s.serialize_none(),
    }
}

/// Sandwiches in a block (mev-inspect-py's method, with its known false positives removed): for
/// each swap in block order taken as a front-run, the later swaps by others on the same pool in
/// the same direction are victims until the front-run's recipient swaps back on that pool.
/// Not sandwiches: legs inside arbitrage transactions (a multi-pool route that happens to cross
/// the pool twice), a "back-run" on another pool, swaps before the front-run, reverted swaps, and
/// front-runs whose recipient is the pool itself.
pub fn sandwiches(b: &BlockActions) -> Vec<Sandwich> {
    let mut ordered: Vec<(SwapRef, &Swap)> = Vec::new();
    for t in &b.txs {
        let in_arb: Vec<usize> = t.arbitrages.iter().flat_map(|a| a.swaps.clone()).collect();
        for (i, s) in t.swaps.iter().enumerate() {
            if !s.reverted && !t.reverted && !in_arb.contains(&i) {
                ordered.push((SwapRef { tx: t.index, swap: i }, s));
            }
        }
    }
    let mut out = Vec::new();
    for (k, (fr, front)) in ordered.iter().enumerate() {
        let attacker = front.to;
        if attacker == front.pool {
            continue;
        }
        let mut victims: Vec<(SwapRef, &Swap)> = Vec::new();
        for (r, other) in &ordered[k + 1..] {
            if r.tx == fr.tx || other.pool != front.pool {
                continue;
            }
            let same_dir = other.token_in == front.token_in && other.token_out == front.token_out;
            let back_dir = other.token_in == front.token_out && other.token_out == front.token_in;
            if same_dir && other.from != attacker && other.to != attacker {
                victims.push((*r, other));
            } else if back_dir && (other.from == attacker || other.to == attacker) {
                if !victims.is_empty() && r.tx != fr.tx {
                    out.push(Sandwich {
                        pool: front.pool,
                        attacker,
                        frontrun: *fr,
                        victims: victims.iter().map(|(v, _)| *v).collect(),
                        backrun: *r,
                        profit_token: front.token_in,
                        profit: signed(other.amount_out) - signed(front.amount_in),
                        other_token: front.token_out,
                        other_profit: signed(front.amount_out) - signed(other.amount_in),
                        victim_loss: victim_loss(front, &victims),
                    });
                }
                break;
            }
        }
    }
    out
}

/// For a Uniswap V2 pair: the victims' shortfall, replaying them against the reserves the
/// front-run found (its `Sync` reserves less its own trade), with the pair's 0.3 % fee.
fn victim_loss(front: &Swap, victims: &[(SwapRef, &Swap)]) -> Option<U256> {
    if front.protocol != Protocol::UniswapV2 {
        return None;
    }
    let [r0, r1] = front.reserves?;
    // token0 is the lower address.
    let (mut r_in, mut r_out) = if front.token_in < front.token_out { (r0, r1) } else { (r1, r0) };
    r_in = r_in.checked_sub(front.amount_in)?;
    r_out = r_out.checked_add(front.amount_out)?;
    let mut loss = U256::ZERO;
    for (_, v) in victims {
        let fee_in = v.amount_in.checked_mul(U256::from(997))?;
        let out =
            fee_in.checked_mul(r_out)? / r_in.checked_mul(U256::from(1000))?.checked_add(fee_in)?;
        loss = loss.saturating_add(out.saturating_sub(v.amount_out));
        r_in = r_in.checked_add(v.amount_in)?;
        r_out = r_out.checked_sub(out)?;
    }
    Some(loss)
}

impl Swap {
    /// Its position, for ordering within a transaction.
    pub fn position(&self) -> &Position {
        &self.at
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Source, TxActions};

    const POOL: Address = Address::repeat_byte(0x50);
    const POOL2: Address = Address::repeat_byte(0x51);
    const A: Address = Address::repeat_byte(0x0a);
    const B: Address = Address::repeat_byte(0x0b);
    const BOT: Address = Address::repeat_byte(0xb0);
    const USER: Address = Address::repeat_byte(0x11);
    const OTHER: Address = Address::repeat_byte(0x22);

    fn swap(pool: Address, who: Address, tin: Address, ain: u64, tout: Address, aout: u64) -> Swap {
        Swap {
            at: Position::Log { log_index: 0 },
            protocol: Protocol::UniswapV2,
            pool,
            from: who,
            to: who,
            token_in: tin,
            amount_in: U256::from(ain),
            token_out: tout,
            amount_out: U256::from(aout),
            reverted: false,
            reserves: None,
        }
    }

    fn block(txs: Vec<Vec<Swap>>) -> BlockActions {
        BlockActions {
            number: 1,
            txs: txs
                .into_iter()
                .enumerate()
                .map(|(i, swaps)| TxActions {
                    index: i as u64,
                    hash: None,
                    from: swaps.first().map(|s| s.from),
                    to: None,
                    reverted: false,
                    source: Source::Logs,
                    transfers: Vec::new(),
                    arbitrages: arbitrages(&swaps),
                    swaps,
                    flash_loans: Vec::new(),
                    liquidations: Vec::new(),
                })
                .collect(),
        }
    }

    #[test]
    fn a_plain_sandwich_has_its_profit_in_both_tokens() {
        let b = block(vec![
            vec![swap(POOL, BOT, A, 100, B, 90)],
            vec![swap(POOL, USER, A, 50, B, 40)],
            vec![swap(POOL, BOT, B, 88, A, 104)],
        ]);
        let s = sandwiches(&b);
        assert_eq!(s.len(), 1);
        assert_eq!((s[0].frontrun.tx, s[0].backrun.tx, s[0].attacker), (0, 2, BOT));
        assert_eq!(s[0].victims, vec![SwapRef { tx: 1, swap: 0 }]);
        assert_eq!(s[0].profit, I256::try_from(4).unwrap());
        assert_eq!(s[0].other_profit, I256::try_from(2).unwrap());
    }

    #[test]
    fn an_earlier_swap_in_the_same_direction_is_not_a_victim() {
        let b = block(vec![
            vec![swap(POOL, OTHER, A, 10, B, 9)],
            vec![swap(POOL, BOT, A, 100, B, 90)],
            vec![swap(POOL, USER, A, 50, B, 40)],
            vec![swap(POOL, BOT, B, 90, A, 104)],
        ]);
        let s = sandwiches(&b);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].victims, vec![SwapRef { tx: 2, swap: 0 }]);
        assert_eq!(s[0].frontrun.tx, 1);
    }

    #[test]
    fn a_back_run_through_another_pool_is_not_a_sandwich() {
        let b = block(vec![
            vec![swap(POOL, BOT, A, 100, B, 90)],
            vec![swap(POOL, USER, A, 50, B, 40)],
            vec![swap(POOL2, BOT, B, 90, A, 104)],
        ]);
        assert!(sandwiches(&b).is_empty());
    }

    #[test]
    fn the_legs_of_a_multi_pool_route_are_not_a_sandwich() {
        // Tx 0 is a cycle A -> B on POOL, B -> A on POOL2 (an arbitrage); tx 2 crosses POOL back.
        let b = block(vec![
            vec![swap(POOL, BOT, A, 100, B, 90), swap(POOL2, BOT, B, 90, A, 101)],
            vec![swap(POOL, USER, A, 50, B, 40)],
            vec![swap(POOL, BOT, B, 40, A, 45)],
        ]);
        assert_eq!(b.txs[0].arbitrages.len(), 1);
        assert!(sandwiches(&b).is_empty());
    }

    #[test]
    fn no_victim_or_a_victim_the_other_way_is_not_a_sandwich() {
        let b = block(vec![
            vec![swap(POOL, BOT, A, 100, B, 90)],
            vec![swap(POOL, USER, B, 50, A, 55)],
            vec![swap(POOL, BOT, B, 90, A, 95)],
        ]);
        assert!(sandwiches(&b).is_empty());
    }

    #[test]
    fn victim_loss_replays_the_victims_against_the_pair_without_the_front_run() {
        // Reserves 1000/1000 before; the front-run pays 100 A for 90 B (Sync after: 1100/910).
        let mut front = swap(POOL, BOT, A, 100, B, 90);
        front.reserves = Some([U256::from(1100), U256::from(910)]);
        let b = block(vec![
            vec![front],
            vec![swap(POOL, USER, A, 50, B, 37)],
            vec![swap(POOL, BOT, B, 90, A, 104)],
        ]);
        let s = sandwiches(&b);
        // Alone, 50 A would have bought 50*997*1000 / (1000*1000 + 50*997) = 47 B.
        assert_eq!(s[0].victim_loss, Some(U256::from(47 - 37)));
    }
}
