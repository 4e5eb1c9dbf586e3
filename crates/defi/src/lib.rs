//! DeFi actions decoded from a block: token and ether transfers, swaps (Uniswap V2 and its
//! forks, Uniswap V3 and PancakeSwap V3, Curve, Balancer V1 and V2 with batch swaps, Bancor v2,
//! 0x v3 and v4, CoW Protocol settlements), flash loans (Aave, Balancer, dYdX, ERC-3156, Uniswap flash swaps), liquidations
//! (Aave v1/v2/v3, Compound v2 and forks such as Cream), arbitrages with their profit and kind, sandwiches across transactions
//! (several front-runs, multi-hop), concentrated liquidity added, removed and collected (Uniswap
//! V3 positions) and the JIT liquidity built from it, and the composer that gives each
//! transaction to at most one MEV finding; CEX-DEX arbitrage candidates against a quotes file.
//!
//! Pure: no I/O, no clock. The same block gives the same actions. Detectors and
//! `palisade inspect` share it.
//!
//! ```
//! let line = r#"{"block":{"number":"0x1","transactions":[]},"receipts":[]}"#;
//! let b = palisade_primitives::BlockData::from_json_line(line).unwrap();
//! let actions = palisade_defi::classify(&b);
//! assert!(actions.txs.is_empty());
//! ```
//!
//! # Sources
//! When the block carries receipts, actions come from the logs the contracts emitted (the
//! amounts they report); ether transfers, which emit no log, come from the call tree when it is
//! there too. Without receipts, everything comes from the call tree (Parity traces or callTracer):
//! token transfers are `transfer`/`transferFrom` calls that did not return false, swaps and
//! liquidations are the calls that made them, with their amounts read from the transfers in and
//! around them (mev-inspect-py's method). Frames whose effects were undone stay in the result,
//! marked `reverted`, so a failed arbitrage is still seen.
//!
//! # Assumptions
//! - Amounts are raw token units, exact (`U256`), printed as decimal strings.
//! - Ether is written as the pseudo-address [`known::ETH`].

mod cex;
mod compose;
mod exploit;
mod frames;
pub mod known;
mod lending;
mod liquidity;
mod mev;
mod orders;
#[cfg(test)]
mod protocol_tests;
mod swaps;
mod transfers;
pub use palisade_primitives::units;
mod words;

pub use cex::{cex_dex, CexDex, Quote, Quotes, QuotesError};
pub use compose::{compose, liquidation_profit, LiquidationGain, Mev, TokenAmount};
pub use exploit::{exploit_shape, ExploitShape};
pub use frames::{frames, CallKind, Frame, TxFrames};
pub use liquidity::{jits, Jit, LiquidityChange, LiquidityKind};
pub use mev::{arbitrages, sandwiches, Sandwich, SwapRef};
pub use transfers::{flows, net_flow, Flow};

use palisade_primitives::{Address, BlockData, B256, I256, U256};
use serde::{Serialize, Serializer};

/// Where in a transaction an action was seen.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(untagged)]
pub enum Position {
    /// A frame of the call tree (its trace address).
    Trace {
        /// Trace address.
        trace_address: Vec<u32>,
    },
    /// A log of the receipt (its index in the block).
    Log {
        /// Log index.
        log_index: u64,
    },
}

impl Position {
    /// The trace address, for actions seen in the call tree.
    pub fn trace_address(&self) -> Option<&[u32]> {
        match self {
            Self::Trace { trace_address } => Some(trace_address),
            Self::Log { .. } => None,
        }
    }
}

/// Protocols whose actions are decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Protocol {
    /// Uniswap V2 and its forks (SushiSwap and others share the pair interface).
    UniswapV2,
    /// Uniswap V3 and its forks (PancakeSwap V3 shares its pool calls and, but for two fields
    /// at the end of `Swap`, its logs).
    UniswapV3,
    /// Curve pools.
    Curve,
    /// Balancer V1 pools.
    BalancerV1,
    /// Balancer V2's vault.
    BalancerV2,
    /// Bancor v2 converters.
    Bancor,
    /// 0x: the exchange proxy's native orders (v4) and the v3 Exchange's orders.
    ZeroEx,
    /// CoW Protocol: the settlement contract's batch of signed orders.
    CowProtocol,
    /// 1inch's limit orders (v5 and v6 routers; Fusion's resolvers fill through them).
    OneInch,
    /// UniswapX's reactors: signed orders filled by fillers.
    UniswapX,
    /// DODO's proactive market maker pools (V1 and V2).
    Dodo,
    /// Maker's peg stability module (gem for DAI at a fixed rate, less a fee).
    MakerPsm,
    /// Maker's DssFlash: DAI minted for one transaction (ERC-3156).
    MakerFlash,
    /// Aave v1.
    AaveV1,
    /// Aave v2 or v3 (same interface).
    Aave,
    /// Compound v2 and forks not otherwise known.
    CompoundV2,
    /// Cream (a Compound fork).
    Cream,
    /// dYdX SoloMargin.
    Dydx,
    /// An ERC-3156 flash lender.
    Erc3156,
}

/// A movement of a token or of ether.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Transfer {
    /// Where it was seen.
    #[serde(flatten)]
    pub at: Position,
    /// The token ([`known::ETH`] for ether).
    pub token: Address,
    /// Sender.
    pub from: Address,
    /// Recipient.
    pub to: Address,
    /// Amount in raw units.
    #[serde(serialize_with = "dec")]
    pub amount: U256,
    /// Undone by a revert.
    pub reverted: bool,
}

/// A swap in a pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Swap {
    /// Where it was seen.
    #[serde(flatten)]
    pub at: Position,
    /// Protocol.
    pub protocol: Protocol,
    /// The pool (or vault, or exchange) swapped with.
    pub pool: Address,
    /// Who paid the pool.
    pub from: Address,
    /// Who received the tokens out.
    pub to: Address,
    /// Token paid in.
    pub token_in: Address,
    /// Amount paid in.
    #[serde(serialize_with = "dec")]
    pub amount_in: U256,
    /// Token received.
    pub token_out: Address,
    /// Amount received.
    #[serde(serialize_with = "dec")]
    pub amount_out: U256,
    /// Undone by a revert.
    pub reverted: bool,
    /// A Uniswap V2 pair's reserves (token0, token1) after the swap, from its `Sync` log.
    #[serde(skip)]
    pub reserves: Option<[U256; 2]>,
}

/// A flash loan: borrowed and repaid in one transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlashLoan {
    /// Where it was seen.
    #[serde(flatten)]
    pub at: Position,
    /// Protocol.
    pub protocol: Protocol,
    /// The lender (pool, vault, pair).
    pub lender: Address,
    /// Who received the loan.
    pub receiver: Address,
    /// Token lent.
    pub token: Address,
    /// Amount lent.
    #[serde(serialize_with = "dec")]
    pub amount: U256,
    /// Undone by a revert.
    pub reverted: bool,
}

/// A liquidation of a borrower's position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Liquidation {
    /// Where it was seen.
    #[serde(flatten)]
    pub at: Position,
    /// Protocol.
    pub protocol: Protocol,
    /// The lending pool or market called.
    pub market: Address,
    /// Whose position was liquidated.
    pub liquidated_user: Address,
    /// Who liquidated.
    pub liquidator: Address,
    /// Token of the debt repaid.
    pub debt_token: Address,
    /// Debt repaid.
    #[serde(serialize_with = "dec")]
    pub debt_amount: U256,
    /// Token received (collateral, aToken or cToken).
    pub received_token: Address,
    /// Amount received.
    #[serde(serialize_with = "dec")]
    pub received_amount: U256,
    /// Undone by a revert.
    pub reverted: bool,
}

/// A chain of swaps that starts and ends with the same token for the same account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Arbitrage {
    /// Indices of its swaps in the transaction's `swaps`, in route order.
    pub swaps: Vec<usize>,
    /// Who started it (paid into the first swap).
    pub account: Address,
    /// Token it starts and ends with.
    pub profit_token: Address,
    /// Amount put into the first swap.
    #[serde(serialize_with = "dec")]
    pub start_amount: U256,
    /// Amount out of the last swap.
    #[serde(serialize_with = "dec")]
    pub end_amount: U256,
    /// `end_amount - start_amount` (negative for a loss).
    #[serde(serialize_with = "dec_signed")]
    pub profit: I256,
    /// One of its swaps was undone by a revert.
    pub reverted: bool,
    /// What kind of arbitrage it is.
    pub kind: ArbitrageKind,
}

/// The kinds of atomic arbitrage (Brontes's categories), first match wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ArbitrageKind {
    /// Every token of the route is a US-dollar stablecoin (a peg traded across pools).
    Stablecoin,
    /// A token of the route is not a well-known one (a thin market's mispricing).
    LongTail,
    /// One pair of tokens traded back and forth across two or more pools.
    CrossPair,
    /// Three or more tokens in a cycle.
    Triangular,
}

/// Where a transaction's actions were read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The receipt's logs (plus ether transfers from the call tree when present).
    Logs,
    /// The call tree.
    Traces,
}

/// Everything decoded from one transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TxActions {
    /// Position in the block.
    pub index: u64,
    /// Hash.
    pub hash: Option<B256>,
    /// Sender.
    pub from: Option<Address>,
    /// Recipient of the transaction's own call.
    pub to: Option<Address>,
    /// The transaction failed.
    pub reverted: bool,
    /// Where the actions were read from.
    pub source: Source,
    /// Transfers of tokens and ether.
    pub transfers: Vec<Transfer>,
    /// Swaps.
    pub swaps: Vec<Swap>,
    /// Flash loans.
    pub flash_loans: Vec<FlashLoan>,
    /// Liquidations.
    pub liquidations: Vec<Liquidation>,
    /// Arbitrages (over `swaps`).
    pub arbitrages: Vec<Arbitrage>,
    /// Concentrated liquidity added, removed and collected.
    pub liquidity: Vec<LiquidityChange>,
}

impl TxActions {
    /// True when nothing was decoded.
    pub fn is_empty(&self) -> bool {
        self.transfers.is_empty()
            && self.swaps.is_empty()
            && self.flash_loans.is_empty()
            && self.liquidations.is_empty()
            && self.liquidity.is_empty()
    }
}

/// Everything decoded from one block.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BlockActions {
    /// Block number.
    pub number: u64,
    /// Transactions with their actions, in block order (every transaction the data knows).
    pub txs: Vec<TxActions>,
}

impl BlockActions {
    /// Every swap of the block with its transaction, in block order.
    pub fn swaps(&self) -> impl Iterator<Item = (&TxActions, &Swap)> {
        self.txs.iter().flat_map(|t| t.swaps.iter().map(move |s| (t, s)))
    }
}

fn dec<S: Serializer>(v: &U256, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&v.to_string())
}

fn dec_signed<S: Serializer>(v: &I256, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&v.to_string())
}

/// [`classify`], computed once per block and shared by every detector that asks (the block
/// keeps it in [`BlockData::derived`]).
pub fn actions(b: &BlockData) -> std::sync::Arc<BlockActions> {
    b.derived.get_or_init(|| classify(b))
}

/// Decodes every transaction of the block (see the crate docs for the sources used).
pub fn classify(b: &BlockData) -> BlockActions {
    let frames = frames::frames(b);
    let mut indices: Vec<u64> = b.transactions.iter().map(|t| t.index).collect();
    if let Some(rs) = &b.receipts {
        indices.extend(0..rs.len() as u64);
    }
    if let Some(fs) = &frames {
        indices.extend(fs.iter().map(|f| f.index));
    }
    indices.sort_unstable();
    indices.dedup();
    let mut txs = Vec::with_capacity(indices.len());
    for index in indices {
        let tx = b.transactions.iter().find(|t| t.index == index);
        let receipt = b.receipt(index);
        let tf = frames.as_ref().and_then(|f| f.iter().find(|f| f.index == index));
        let top_error = tf.and_then(|f| f.frames.first()).is_some_and(|f| f.error);
        let mut a = TxActions {
            index,
            hash: b.tx_hash(index),
            from: tx
                .and_then(|t| t.from)
                .or_else(|| tf.and_then(|f| f.frames.first()).map(|f| f.from)),
            to: tx.and_then(|t| t.to).or_else(|| tf.and_then(|f| f.frames.first()).map(|f| f.to)),
            reverted: receipt.and_then(|r| r.status).map(|s| !s).unwrap_or(top_error),
            source: Source::Traces,
            transfers: Vec::new(),
            swaps: Vec::new(),
            flash_loans: Vec::new(),
            liquidations: Vec::new(),
            arbitrages: Vec::new(),
            liquidity: Vec::new(),
        };
        match (receipt, tf) {
            (Some(r), _) if b.receipts.is_some() => {
                a.source = Source::Logs;
                let logs = &r.logs;
                a.transfers = transfers::from_logs(logs, a.reverted);
                if let Some(tf) = tf {
                    a.transfers.extend(transfers::ether_from_frames(&tf.frames));
                }
                a.swaps = swaps::from_logs(logs, &a.transfers, a.reverted);
                a.liquidations = lending::liquidations_from_logs(logs, &a.transfers, a.reverted);
                a.flash_loans = lending::flash_loans_from_logs(logs, &a.transfers, a.reverted);
                a.liquidity = liquidity::from_logs(logs, a.reverted);
                // Loans that emit no event (ERC-3156 lenders) are seen in the call tree.
                if let Some(tf) = tf {
                    for l in lending::flash_loans_from_frames(&tf.frames, &a.transfers) {
                        let known = a.flash_loans.iter().any(|x| {
                            x.lender == l.lender && x.token == l.token && x.amount == l.amount
                        });
                        if !known {
                            a.flash_loans.push(l);
                        }
                    }
                }
            }
            (_, Some(tf)) => {
                a.transfers = transfers::from_frames(&tf.frames);
                a.swaps = swaps::from_frames(&tf.frames, &a.transfers);
                a.liquidations = lending::liquidations_from_frames(&tf.frames, &a.transfers);
                a.flash_loans = lending::flash_loans_from_frames(&tf.frames, &a.transfers);
                a.liquidity = liquidity::from_frames(&tf.frames);
            }
            _ => {}
        }
        a.arbitrages = mev::arbitrages(&a.swaps);
        txs.push(a);
    }
    BlockActions { number: b.header.number, txs }
}
