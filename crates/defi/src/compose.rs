//! The composer: the block's MEV findings with each transaction in at most one of them.
//!
//! The decoders see the same transaction from several sides: a sandwich's back-run may also
//! close an arbitrage cycle, a liquidation bought its debt token with a swap that looks like one
//! leg of a route, a JIT position's mint and burn may also be a sandwich's front-run and
//! back-run. The composer gives each transaction to one finding, the most specific first: JIT
//! sandwiches (a sandwich whose front-run adds the JIT position and whose back-run removes it),
//! sandwiches (they span transactions and explain the legs inside them), JIT liquidity, then
//! liquidations (their swaps serve the liquidation), then atomic arbitrages.

use crate::liquidity::Jit;
use crate::mev::{signed, Sandwich};
use crate::{BlockActions, Liquidation, Swap};
use palisade_primitives::{Address, I256, U256};
use serde::Serialize;

/// One MEV finding of a block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Mev {
    /// A sandwich whose front-run also added a JIT position and whose back-run removed it.
    JitSandwich {
        /// Index into the sandwiches given to [`compose`].
        sandwich: usize,
        /// Index into the JIT findings given to [`compose`].
        jit: usize,
        /// The attacker's transactions.
        txs: Vec<u64>,
    },
    /// A sandwich: its index in the block's sandwiches and the attacker's transactions
    /// (front-runs, then the back-run).
    Sandwich {
        /// Index into the sandwiches given to [`compose`].
        sandwich: usize,
        /// The attacker's transactions.
        txs: Vec<u64>,
    },
    /// JIT liquidity: its adding and removing transactions.
    Jit {
        /// Index into the JIT findings given to [`compose`].
        jit: usize,
        /// The provider's transactions (adding, removing).
        txs: Vec<u64>,
    },
    /// The liquidations of one transaction, with the liquidator's gain in each when it is
    /// stated in one token.
    Liquidation {
        /// Transaction position.
        tx: u64,
        /// The liquidations.
        liquidations: Vec<LiquidationGain>,
    },
    /// The atomic arbitrages of one transaction.
    Arbitrage {
        /// Transaction position.
        tx: u64,
        /// Indices in the transaction's `arbitrages`.
        arbitrages: Vec<usize>,
    },
}

impl Mev {
    /// The transactions this finding owns.
    pub fn txs(&self) -> Vec<u64> {
        match self {
            Mev::Sandwich { txs, .. } | Mev::JitSandwich { txs, .. } | Mev::Jit { txs, .. } => {
                txs.clone()
            }
            Mev::Liquidation { tx, .. } | Mev::Arbitrage { tx, .. } => vec![*tx],
        }
    }
}

/// One liquidation of a transaction and its gain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LiquidationGain {
    /// Index in the transaction's `liquidations`.
    pub index: usize,
    /// See [`liquidation_profit`].
    pub profit: Option<TokenAmount>,
}

/// A signed amount of one token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TokenAmount {
    /// The token.
    pub token: Address,
    /// Raw units, negative for a loss.
    #[serde(serialize_with = "crate::dec_signed")]
    pub amount: I256,
}

/// A liquidator's gain in token units, when it can be stated in one token without prices:
/// collateral received less debt repaid when both are the same token; otherwise collateral
/// received less the collateral the transaction sold for the debt token (the swaps, by anyone
/// in the transaction, paying the received token for the debt token: a flash swap that
/// funds the repayment, or a purchase just before it). `None` when the debt was paid from the
/// liquidator's own balance in another token (the gain then needs a price).
pub fn liquidation_profit(l: &Liquidation, swaps: &[Swap]) -> Option<TokenAmount> {
    if l.reverted {
        return None;
    }
    let token = l.received_token;
    if token == l.debt_token {
        return Some(TokenAmount {
            token,
            amount: signed(l.received_amount) - signed(l.debt_amount),
        });
    }
    let buys =
        swaps.iter().filter(|s| !s.reverted && s.token_in == token && s.token_out == l.debt_token);
    let (mut spent, mut bought, mut any) = (U256::ZERO, U256::ZERO, false);
    for s in buys {
        spent = spent.saturating_add(s.amount_in);
        bought = bought.saturating_add(s.amount_out);
        any = true;
    }
    // The swaps must have paid for the repayment, not a small part of it.
    (any && bought >= l.debt_amount)
        .then(|| TokenAmount { token, amount: signed(l.received_amount) - signed(spent) })
}

/// The block's MEV findings, each transaction in at most one: JIT sandwiches first, then
/// sandwiches (their front-run and back-run transactions), JIT liquidity (its adding and
/// removing transactions), liquidations, then arbitrages, in block order within each kind.
/// Reverted transactions own nothing. `sandwiches` and `jits` are the block's, from
/// [`crate::sandwiches`] and [`crate::jits`].
pub fn compose(b: &BlockActions, sandwiches: &[Sandwich], jits: &[Jit]) -> Vec<Mev> {
    let mut owned: Vec<u64> = Vec::new();
    let mut out = Vec::new();
    let sandwich_txs = |s: &Sandwich| {
        let mut txs: Vec<u64> = s.frontruns.iter().map(|f| f.tx).collect();
        txs.push(s.backrun.tx);
        txs.dedup();
        txs
    };
    for (i, s) in sandwiches.iter().enumerate() {
        let txs = sandwich_txs(s);
        let jit = jits.iter().position(|j| {
            j.pool == s.pool && txs.first() == Some(&j.mint_tx) && txs.last() == Some(&j.burn_tx)
        });
        if let Some(jit) = jit.filter(|_| !txs.iter().any(|t| owned.contains(t))) {
            owned.extend(&txs);
            out.push(Mev::JitSandwich { sandwich: i, jit, txs });
        }
    }
    for (i, s) in sandwiches.iter().enumerate() {
        let txs = sandwich_txs(s);
        if txs.iter().any(|t| owned.contains(t)) {
            continue;
        }
        owned.extend(&txs);
        out.push(Mev::Sandwich { sandwich: i, txs });
    }
    for (i, j) in jits.iter().enumerate() {
        let txs = vec![j.mint_tx, j.burn_tx];
        if txs.iter().any(|t| owned.contains(t)) {
            continue;
        }
        owned.extend(&txs);
        out.push(Mev::Jit { jit: i, txs });
    }
    let live = || b.txs.iter().filter(|t| !t.reverted);
    for t in live() {
        if owned.contains(&t.index) {
            continue;
        }
        let liquidations: Vec<LiquidationGain> = t
            .liquidations
            .iter()
            .enumerate()
            .filter(|(_, l)| !l.reverted)
            .map(|(index, l)| LiquidationGain { index, profit: liquidation_profit(l, &t.swaps) })
            .collect();
        if !liquidations.is_empty() {
            owned.push(t.index);
            out.push(Mev::Liquidation { tx: t.index, liquidations });
        }
    }
    for t in live() {
        if owned.contains(&t.index) {
            continue;
        }
        let arbs: Vec<usize> =
            t.arbitrages.iter().enumerate().filter(|(_, a)| !a.reverted).map(|(i, _)| i).collect();
        if !arbs.is_empty() {
            owned.push(t.index);
            out.push(Mev::Arbitrage { tx: t.index, arbitrages: arbs });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Position, Protocol};

    const COLL: Address = Address::repeat_byte(0xc0);
    const DEBT: Address = Address::repeat_byte(0xd0);

    fn liq(received: u64, debt: u64, received_token: Address) -> Liquidation {
        Liquidation {
            at: Position::Log { log_index: 0 },
            protocol: Protocol::Aave,
            market: Address::repeat_byte(1),
            liquidated_user: Address::repeat_byte(2),
            liquidator: Address::repeat_byte(3),
            debt_token: DEBT,
            debt_amount: U256::from(debt),
            received_token,
            received_amount: U256::from(received),
            reverted: false,
        }
    }

    fn swap(tin: Address, ain: u64, tout: Address, aout: u64) -> Swap {
        crate::mev::tests::swap(
            Address::repeat_byte(0x50),
            Address::repeat_byte(3),
            tin,
            ain,
            tout,
            aout,
        )
    }

    #[test]
    fn liquidation_profit_is_collateral_less_what_bought_the_debt() {
        // Flash swap: 95 collateral sold for the 1000 debt repaid; 105 collateral received.
        let p = liquidation_profit(&liq(105, 1000, COLL), &[swap(COLL, 95, DEBT, 1000)]).unwrap();
        assert_eq!((p.token, p.amount), (COLL, I256::try_from(10).unwrap()));
        // Same token: received less repaid.
        let p = liquidation_profit(&liq(1080, 1000, DEBT), &[]).unwrap();
        assert_eq!(p.amount, I256::try_from(80).unwrap());
        // Repaid from the liquidator's own balance in another token: needs a price.
        assert_eq!(liquidation_profit(&liq(105, 1000, COLL), &[]), None);
        // A swap that bought only part of the debt does not state the profit.
        assert_eq!(liquidation_profit(&liq(105, 1000, COLL), &[swap(COLL, 9, DEBT, 100)]), None);
    }
}
