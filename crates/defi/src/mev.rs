//! Arbitrages (within a transaction) and sandwiches (across transactions), over decoded swaps.

use crate::{Arbitrage, ArbitrageKind, BlockActions, Position, Protocol, Swap};
use palisade_primitives::{Address, I256, U256};
use serde::Serialize;

/// Longest route searched for an arbitrage, and most swaps of a transaction considered.
const MAX_ROUTE: usize = 10;
const MAX_SWAPS: usize = 64;

/// An amount as a signed value (saturating at `I256::MAX`), for profits and nets.
pub(crate) fn signed(v: U256) -> I256 {
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
        let route = rotate_to_profit(swaps, route, &pools);
        let (first, last) = (&swaps[route[0]], &swaps[route[route.len() - 1]]);
        out.push(Arbitrage {
            account: first.from,
            profit_token: first.token_in,
            start_amount: first.amount_in,
            end_amount: last.amount_out,
            profit: signed(last.amount_out) - signed(first.amount_in),
            reverted: route.iter().any(|i| swaps[*i].reverted),
            kind: kind_of(swaps, &route),
            swaps: route.clone(),
        });
        used.extend(route);
    }
    if out.len() > 1 {
        out.retain(|a| swaps[a.swaps[0]].at < swaps[a.swaps[a.swaps.len() - 1]].at);
    }
    out
}

/// The kind of an arbitrage route (see [`ArbitrageKind`]).
fn kind_of(swaps: &[Swap], route: &[usize]) -> ArbitrageKind {
    use palisade_primitives::units;
    let mut tokens: Vec<Address> = Vec::new();
    for s in route.iter().map(|i| &swaps[*i]) {
        for t in [s.token_in, s.token_out] {
            if !tokens.contains(&t) {
                tokens.push(t);
            }
        }
    }
    if tokens.iter().all(units::usd_stablecoin) {
        ArbitrageKind::Stablecoin
    } else if tokens.iter().any(|t| units::token(t).is_none()) {
        ArbitrageKind::LongTail
    } else if tokens.len() == 2 {
        ArbitrageKind::CrossPair
    } else {
        ArbitrageKind::Triangular
    }
}

/// The leg a cycle really starts with. A route is found from whichever of its legs comes first
/// in the decoded order, and passing on allows 1 %: a bot that keeps each leg's output and pays
/// the next itself, keeping a profit under 1 %, gives a cycle that closes at every joint. The
/// profit is where the bot kept more than it passed on: the cycle is turned to start after the
/// joint with the largest relative surplus, among joints where the bot itself received and paid
/// (not a pool paying the next pool).
fn rotate_to_profit(swaps: &[Swap], route: Vec<usize>, pools: &[Address]) -> Vec<usize> {
    let n = route.len();
    let surplus = |k: usize| -> Option<f64> {
        let (prev, next) = (&swaps[route[(k + n - 1) % n]], &swaps[route[k]]);
        if prev.to != next.from || pools.contains(&next.from) || next.amount_in.is_zero() {
            return None;
        }
        let (o, i) = (f64::from(prev.amount_out), f64::from(next.amount_in));
        Some((o - i) / i)
    };
    let Some(here) = surplus(0) else { return route };
    let best = (1..n)
        .filter_map(|k| surplus(k).map(|s| (k, s)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .filter(|(_, s)| *s > here);
    match best {
        Some((k, _)) => route[k..].iter().chain(&route[..k]).copied().collect(),
        None => route,
    }
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
    /// The (first) front-run.
    pub frontrun: SwapRef,
    /// Every front-run on `pool` before the back-run, in block order (`frontrun` first): an
    /// attacker may front-run several victims in turn and back-run once. The victims between
    /// two front-runs are the earlier one's.
    pub frontruns: Vec<SwapRef>,
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
    /// Every pool the two transactions sandwiched (a multi-hop sandwich has several; `pool`
    /// is the first).
    pub pools: Vec<Address>,
    /// The attacker's net result over every swap of the front-run and back-run transactions,
    /// per token (received less paid; tokens that net to zero left out). For a multi-hop
    /// sandwich, `profit` is this net in the token it started with and `other_profit` the
    /// largest remainder in another token, not a per-pool figure in a token it passed on.
    #[serde(serialize_with = "net_ser")]
    pub net: Vec<(Address, I256)>,
}

fn net_ser<S: serde::Serializer>(v: &[(Address, I256)], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let mut seq = s.serialize_seq(Some(v.len()))?;
    for (t, n) in v {
        seq.serialize_element(&serde_json::json!({"token": t, "net": n.to_string()}))?;
    }
    seq.end()
}

/// The attacker's net per token over the swaps of transactions `txs` (received less paid),
/// in order of first appearance; zero nets left out.
fn net_of(b: &BlockActions, txs: [u64; 2], attacker: Address) -> Vec<(Address, I256)> {
    let mut net: Vec<(Address, I256)> = Vec::new();
    let mut add = |token: Address, v: I256| match net.iter_mut().find(|x| x.0 == token) {
        Some(x) => x.1 += v,
        None => net.push((token, v)),
    };
    for t in b.txs.iter().filter(|t| txs.contains(&t.index) && !t.reverted) {
        for s in t.swaps.iter().filter(|s| !s.reverted) {
            if s.from == attacker {
                add(s.token_in, -signed(s.amount_in));
            }
            if s.to == attacker {
                add(s.token_out, signed(s.amount_out));
            }
        }
    }
    net.retain(|x| !x.1.is_zero());
    net
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
    let pools: Vec<Address> = ordered.iter().map(|(_, s)| s.pool).collect();
    let mut out = Vec::new();
    // Later front-runs of a sandwich already found: not the start of another.
    let mut claimed: Vec<SwapRef> = Vec::new();
    for (k, (fr, front)) in ordered.iter().enumerate() {
        if front.to == front.pool || claimed.contains(fr) {
            continue;
        }
        // A hop of a route pays the next pool: the attacker is where the route ends.
        let mut attacker = front.to;
        for _ in 0..MAX_ROUTE {
            if !pools.contains(&attacker) {
                break;
            }
            match ordered.iter().find(|(r, s)| r.tx == fr.tx && s.pool == attacker) {
                Some((_, next)) => attacker = next.to,
                None => break,
            }
        }
        if attacker == front.pool {
            continue;
        }
        let mut victims: Vec<(SwapRef, &Swap)> = Vec::new();
        let mut fronts: Vec<(SwapRef, &Swap)> = vec![(*fr, *front)];
        for (r, other) in &ordered[k + 1..] {
            if r.tx == fr.tx || other.pool != front.pool {
                continue;
            }
            let same_dir = other.token_in == front.token_in && other.token_out == front.token_out;
            let back_dir = other.token_in == front.token_out && other.token_out == front.token_in;
            let by_attacker = other.from == attacker || other.to == attacker;
            if same_dir && !by_attacker {
                victims.push((*r, other));
            } else if same_dir && !victims.is_empty() {
                // Another front-run, for the victims that follow it.
                fronts.push((*r, other));
            } else if back_dir && by_attacker {
                if !victims.is_empty() && r.tx != fr.tx {
                    let sum = |f: fn(&Swap) -> U256| {
                        fronts.iter().fold(I256::ZERO, |a, (_, x)| a + signed(f(x)))
                    };
                    out.push(Sandwich {
                        pool: front.pool,
                        attacker,
                        frontrun: *fr,
                        frontruns: fronts.iter().map(|(f, _)| *f).collect(),
                        victims: victims.iter().map(|(v, _)| *v).collect(),
                        backrun: *r,
                        profit_token: front.token_in,
                        profit: signed(other.amount_out) - sum(|x| x.amount_in),
                        other_token: front.token_out,
                        other_profit: sum(|x| x.amount_out) - signed(other.amount_in),
                        victim_loss: victim_loss(front, &victims),
                        pools: vec![front.pool],
                        net: Vec::new(),
                    });
                    claimed.extend(fronts.iter().skip(1).map(|(f, _)| *f));
                }
                break;
            }
        }
    }
    merge_hops(b, out)
}

/// One sandwich per front-run and back-run transaction pair and attacker: the pools of a
/// multi-hop route are one attack, whose profit is the attacker's net over both transactions.
fn merge_hops(b: &BlockActions, found: Vec<Sandwich>) -> Vec<Sandwich> {
    let mut out: Vec<Sandwich> = Vec::new();
    for s in found {
        let same = out.iter_mut().find(|o| {
            o.attacker == s.attacker
                && o.frontrun.tx == s.frontrun.tx
                && o.backrun.tx == s.backrun.tx
        });
        match same {
            Some(o) => {
                o.pools.push(s.pool);
                for v in s.victims {
                    if !o.victims.contains(&v) {
                        o.victims.push(v);
                    }
                }
                o.victims.sort_by_key(|v| (v.tx, v.swap));
                o.victim_loss = match (o.victim_loss, s.victim_loss) {
                    (Some(a), Some(b)) if o.other_token == s.other_token => Some(a + b),
                    (a, None) => a,
                    _ => None,
                };
            }
            None => out.push(s),
        }
    }
    for s in &mut out {
        s.net = net_of(b, [s.frontrun.tx, s.backrun.tx], s.attacker);
        if s.pools.len() < 2 {
            continue;
        }
        // Multi-hop: the start token is what the attacker paid first in the front-run.
        let start = b
            .txs
            .iter()
            .find(|t| t.index == s.frontrun.tx)
            .and_then(|t| t.swaps.iter().find(|x| x.from == s.attacker && !x.reverted))
            .map(|x| x.token_in)
            .unwrap_or(s.profit_token);
        let of = |t: Address| s.net.iter().find(|x| x.0 == t).map_or(I256::ZERO, |x| x.1);
        s.profit_token = start;
        s.profit = of(start);
        let rest = s.net.iter().filter(|x| x.0 != start).max_by_key(|x| x.1.unsigned_abs());
        if let Some((t, v)) = rest {
            (s.other_token, s.other_profit) = (*t, *v);
        } else {
            s.other_profit = I256::ZERO;
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
pub(crate) mod tests {
    use super::*;
    use crate::{Source, TxActions};

    const POOL: Address = Address::repeat_byte(0x50);
    const POOL2: Address = Address::repeat_byte(0x51);
    const A: Address = Address::repeat_byte(0x0a);
    const B: Address = Address::repeat_byte(0x0b);
    const BOT: Address = Address::repeat_byte(0xb0);
    const USER: Address = Address::repeat_byte(0x11);
    const OTHER: Address = Address::repeat_byte(0x22);

    /// A Uniswap V2 swap by `who` on `pool` (the unit tests' swap).
    pub(crate) fn swap(
        pool: Address,
        who: Address,
        tin: Address,
        ain: u64,
        tout: Address,
        aout: u64,
    ) -> Swap {
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
                    liquidity: Vec::new(),
                })
                .collect(),
        }
    }

    #[test]
    fn a_multi_hop_sandwich_is_one_attack_with_its_net_gain_in_the_start_token() {
        // The front-run buys C with A through B (A->B on POOL, B->C on POOL2, the pools pass
        // B along); a victim buys on each pool; the back-run sells C back to A the same way.
        const C: Address = Address::repeat_byte(0x0c);
        let hop = |pool, from, tin, ain, tout, aout, to| Swap {
            from,
            to,
            ..swap(pool, from, tin, ain, tout, aout)
        };
        let b = block(vec![
            vec![hop(POOL, BOT, A, 100, B, 50, POOL2), hop(POOL2, POOL, B, 50, C, 200, BOT)],
            vec![swap(POOL, USER, A, 10, B, 4)],
            vec![swap(POOL2, OTHER, B, 4, C, 15)],
            vec![hop(POOL2, BOT, C, 200, B, 52, POOL), hop(POOL, POOL2, B, 52, A, 103, BOT)],
        ]);
        let s = sandwiches(&b);
        assert_eq!(s.len(), 1, "one attack, not one per pool: {s:?}");
        let s = &s[0];
        assert_eq!(s.pools, vec![POOL, POOL2]);
        assert_eq!(s.victims.len(), 2);
        // Net: paid 100 A, got 103 A; C bought and sold in full: +3 A and nothing else.
        assert_eq!((s.profit_token, s.profit), (A, I256::try_from(3).unwrap()));
        assert_eq!(s.net, vec![(A, I256::try_from(3).unwrap())]);
        assert_eq!(s.other_profit, I256::ZERO);
    }

    #[test]
    fn a_cycle_found_from_an_intermediate_leg_states_its_profit_in_the_start_token() {
        // The bot holds each leg's output and pays the next itself; it keeps 0.5 % of A. The
        // legs decode B->C, C->A, A->B (a later leg first): the cycle starts with A.
        const C: Address = Address::repeat_byte(0x0c);
        let swaps = vec![
            swap(POOL, BOT, B, 1_000_000, C, 2_000_000),
            swap(POOL2, BOT, C, 2_000_000, A, 1_005_000),
            swap(Address::repeat_byte(0x52), BOT, A, 1_000_000, B, 1_000_000),
        ];
        let arbs = arbitrages(&swaps);
        assert_eq!(arbs.len(), 1, "{arbs:?}");
        let a = &arbs[0];
        assert_eq!(a.swaps, vec![2, 0, 1]);
        assert_eq!(a.profit_token, A);
        assert_eq!((a.start_amount, a.end_amount), (U256::from(1_000_000), U256::from(1_005_000)));
        assert_eq!(a.profit, I256::try_from(5_000).unwrap());
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

    #[test]
    fn several_front_runs_each_with_its_victims_are_one_sandwich() {
        let b = block(vec![
            vec![swap(POOL, BOT, A, 100, B, 90)],
            vec![swap(POOL, USER, A, 50, B, 40)],
            vec![swap(POOL, BOT, A, 30, B, 20)],
            vec![swap(POOL, OTHER, A, 20, B, 10)],
            vec![swap(POOL, BOT, B, 110, A, 140)],
        ]);
        let s = sandwiches(&b);
        assert_eq!(s.len(), 1, "{s:#?}");
        let tx = |v: &[SwapRef]| v.iter().map(|r| r.tx).collect::<Vec<_>>();
        assert_eq!(tx(&s[0].frontruns), vec![0, 2]);
        assert_eq!(tx(&s[0].victims), vec![1, 3]);
        assert_eq!(s[0].backrun.tx, 4);
        assert_eq!(s[0].profit, I256::try_from(140 - 130).unwrap());
        assert_eq!(s[0].other_profit, I256::ZERO);
    }

    #[test]
    fn arbitrages_are_sorted_into_kinds() {
        let usdc: Address = "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48".parse().unwrap();
        let dai: Address = "0x6B175474E89094C44Da98b954EedeAC495271d0F".parse().unwrap();
        let weth: Address = "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2".parse().unwrap();
        let wbtc: Address = "0x2260FAC5E5542a773Aa44fBCfeDf7C193bc2C599".parse().unwrap();
        let kind = |legs: Vec<Swap>| arbitrages(&legs)[0].kind;
        let p3 = Address::repeat_byte(0x52);
        assert_eq!(
            kind(vec![swap(POOL, BOT, usdc, 100, dai, 101), swap(POOL2, BOT, dai, 101, usdc, 102)]),
            ArbitrageKind::Stablecoin
        );
        assert_eq!(
            kind(vec![swap(POOL, BOT, weth, 100, A, 50), swap(POOL2, BOT, A, 50, weth, 102)]),
            ArbitrageKind::LongTail
        );
        assert_eq!(
            kind(vec![swap(POOL, BOT, weth, 100, usdc, 50), swap(POOL2, BOT, usdc, 50, weth, 102)]),
            ArbitrageKind::CrossPair
        );
        assert_eq!(
            kind(vec![
                swap(POOL, BOT, weth, 100, usdc, 50),
                swap(POOL2, BOT, usdc, 50, wbtc, 7),
                swap(p3, BOT, wbtc, 7, weth, 102)
            ]),
            ArbitrageKind::Triangular
        );
    }
}
