//! CEX-DEX arbitrage: swaps on chain that a centralized exchange's quotes at the block's time
//! make profitable, given a quotes file the user supplies (CSV: `time,pair,bid,ask`).
//!
//! Each swap is marked out at the exchange: what it received is sold at the bid, what it paid
//! is bought back at the ask, both in US dollars (a pair quoted in a dollar stablecoin, or a
//! dollar stablecoin itself at 1). A transaction whose swaps together come out ahead is a
//! CEX-DEX arbitrage candidate with that profit. Exchange fees, gas and the exchange leg's
//! slippage are not known here, so the figure is an upper bound of the arbitrageur's gain, and
//! values are floating-point dollars (the quotes are).

use crate::{BlockActions, Swap};
use palisade_primitives::{units, Address, U256};
use serde::Serialize;
use std::collections::BTreeMap;

/// One quote of a pair.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Quote {
    /// When (ms since the epoch).
    pub time_ms: i64,
    /// Best bid (quote currency per unit of base).
    pub bid: f64,
    /// Best ask.
    pub ask: f64,
}

/// A quotes file, by base asset (pairs quoted in US dollars or a dollar stablecoin).
#[derive(Debug, Clone, Default)]
pub struct Quotes {
    by_base: BTreeMap<String, Vec<Quote>>,
    max_age_ms: i64,
}

/// A line of a quotes file that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {why}")]
pub struct QuotesError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong with it.
    pub why: String,
}

/// Quote currencies taken as US dollars.
const USD: &[&str] = &["USD", "USDT", "USDC", "DAI", "BUSD", "FDUSD", "TUSD", "USDP"];

/// The asset an on-chain token is quoted as on an exchange (wrapped ether is ether).
fn asset(symbol: &str) -> String {
    match symbol {
        "WETH" => "ETH".into(),
        "WBTC" => "BTC".into(),
        s => s.to_ascii_uppercase(),
    }
}

impl Quotes {
    /// Reads a CSV of `time,pair,bid,ask` lines (a header line is allowed; blank lines and
    /// lines starting with `#` are skipped). `time` is unix seconds (fractions allowed) or
    /// RFC 3339; `pair` is `BASE-QUOTE`, `BASE/QUOTE` or `BASE_QUOTE` with a dollar quote
    /// currency (USD, USDT, USDC, DAI, BUSD, FDUSD, TUSD, USDP); bid and ask are positive, bid
    /// not above ask. Lines may come in any order. A quote is used for blocks up to `max_age_s`
    /// seconds after it.
    pub fn parse(csv: &str, max_age_s: u64) -> Result<Self, QuotesError> {
        let mut q = Quotes {
            by_base: BTreeMap::new(),
            max_age_ms: i64::try_from(max_age_s.saturating_mul(1000)).unwrap_or(i64::MAX),
        };
        for (i, raw) in csv.lines().enumerate() {
            let line = i + 1;
            let err = |why: String| QuotesError { line, why };
            let l = raw.trim();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            let f: Vec<&str> = l.split(',').map(str::trim).collect();
            if line == 1 && f.first().is_some_and(|x| x.eq_ignore_ascii_case("time")) {
                continue;
            }
            let [time, pair, bid, ask] = f[..] else {
                return Err(err(format!(
                    "expected 4 fields (time,pair,bid,ask), found {}",
                    f.len()
                )));
            };
            let time_ms = match time.parse::<f64>() {
                Ok(s) if s.is_finite() && s >= 0.0 => (s * 1000.0).round() as i64,
                _ => palisade_primitives::time::parse_rfc3339_ms(time).ok_or_else(|| {
                    err(format!("time {time:?} is neither unix seconds nor RFC 3339"))
                })?,
            };
            let Some((base, quote)) = pair.split_once(['-', '/', '_']) else {
                return Err(err(format!("pair {pair:?} is not BASE-QUOTE")));
            };
            let quote = quote.to_ascii_uppercase();
            if !USD.contains(&quote.as_str()) {
                return Err(err(format!(
                    "pair {pair:?}: quote currency {quote} is not a dollar ({})",
                    USD.join(", ")
                )));
            }
            let price = |what: &str, v: &str| match v.parse::<f64>() {
                Ok(p) if p.is_finite() && p > 0.0 => Ok(p),
                _ => Err(err(format!("{what} {v:?} is not a positive number"))),
            };
            let (bid, ask) = (price("bid", bid)?, price("ask", ask)?);
            if bid > ask {
                return Err(err(format!("bid {bid} is above ask {ask}")));
            }
            q.by_base.entry(asset(base)).or_default().push(Quote { time_ms, bid, ask });
        }
        for v in q.by_base.values_mut() {
            v.sort_by_key(|x| x.time_ms);
        }
        Ok(q)
    }

    /// The latest quote of `base` at or before `time_ms`, when not older than the maximum age.
    pub fn at(&self, base: &str, time_ms: i64) -> Option<Quote> {
        let v = self.by_base.get(base)?;
        let i = v.partition_point(|q| q.time_ms <= time_ms);
        let q = v.get(i.checked_sub(1)?)?;
        (time_ms - q.time_ms <= self.max_age_ms).then_some(*q)
    }

    /// The (bid, ask) in dollars of one unit of `token` at `time_ms`: a dollar stablecoin is 1
    /// unless the file quotes it; other tokens need a quote.
    fn price(&self, token: &Address, time_ms: i64) -> Option<(f64, f64)> {
        let t = units::token(token)?;
        match self.at(&asset(t.symbol), time_ms) {
            Some(q) => Some((q.bid, q.ask)),
            None if units::usd_stablecoin(token) => Some((1.0, 1.0)),
            None => None,
        }
    }
}

/// A transaction whose swaps a CEX's quotes make profitable.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CexDex {
    /// Transaction position.
    pub tx: u64,
    /// Indices of its swaps (all of them, each marked out).
    pub swaps: Vec<usize>,
    /// Received tokens valued at the CEX bid, in dollars.
    pub received_usd: f64,
    /// Paid tokens valued at the CEX ask, in dollars.
    pub paid_usd: f64,
    /// `received_usd - paid_usd`.
    pub profit_usd: f64,
    /// The time the quotes were taken at (the block's timestamp, ms).
    pub time_ms: i64,
}

fn units_of(amount: U256, token: &Address) -> Option<f64> {
    let d = units::token(token)?.decimals;
    let v: f64 = amount.to_string().parse().ok()?;
    Some(v / 10f64.powi(i32::from(d)))
}

/// One swap marked out at the CEX: (received at the bid, paid at the ask), in dollars.
fn markout(s: &Swap, quotes: &Quotes, time_ms: i64) -> Option<(f64, f64)> {
    let (out_bid, _) = quotes.price(&s.token_out, time_ms)?;
    let (_, in_ask) = quotes.price(&s.token_in, time_ms)?;
    Some((
        units_of(s.amount_out, &s.token_out)? * out_bid,
        units_of(s.amount_in, &s.token_in)? * in_ask,
    ))
}

/// The block's CEX-DEX arbitrage candidates: transactions not in `owned` (the composer's),
/// not reverted, whose every swap the quotes price at the block's `timestamp` (seconds), and
/// whose swaps together come out ahead by more than `min_profit_usd`.
pub fn cex_dex(
    b: &BlockActions,
    timestamp: u64,
    quotes: &Quotes,
    owned: &[u64],
    min_profit_usd: f64,
) -> Vec<CexDex> {
    let time_ms = i64::try_from(timestamp.saturating_mul(1000)).unwrap_or(i64::MAX);
    let mut out = Vec::new();
    for t in b.txs.iter().filter(|t| !t.reverted && !owned.contains(&t.index)) {
        let live: Vec<(usize, &Swap)> =
            t.swaps.iter().enumerate().filter(|(_, s)| !s.reverted).collect();
        if live.is_empty() {
            continue;
        }
        let marks: Option<Vec<(f64, f64)>> =
            live.iter().map(|(_, s)| markout(s, quotes, time_ms)).collect();
        let Some(marks) = marks else { continue };
        let (received_usd, paid_usd) =
            marks.iter().fold((0.0, 0.0), |(r, p), (x, y)| (r + x, p + y));
        let profit_usd = received_usd - paid_usd;
        if profit_usd > min_profit_usd {
            out.push(CexDex {
                tx: t.index,
                swaps: live.iter().map(|(i, _)| *i).collect(),
                received_usd,
                paid_usd,
                profit_usd,
                time_ms,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_files_are_read_in_any_order_and_bad_lines_named() {
        let q = Quotes::parse(
            "time,pair,bid,ask\n1700000060,ETH-USDT,2001,2002\n2023-11-14T22:13:20Z,eth/usd,2000,2000.5\n# a note\n\n",
            30,
        )
        .unwrap();
        // 2023-11-14T22:13:20Z is 1700000000.
        assert_eq!(q.at("ETH", 1_700_000_010_000).map(|x| x.bid), Some(2000.0));
        assert_eq!(q.at("ETH", 1_700_000_060_000).map(|x| x.bid), Some(2001.0));
        assert_eq!(q.at("ETH", 1_700_000_031_000), None, "older than 30 s");
        assert_eq!(q.at("ETH", 1_699_999_999_000), None, "before the first quote");
        for (bad, line, says) in [
            ("1,ETH-USDT,2\n", 1, "4 fields"),
            ("time,pair,bid,ask\nnoon,ETH-USDT,1,2\n", 2, "unix seconds"),
            ("1,ETHUSDT,1,2\n", 1, "BASE-QUOTE"),
            ("1,ETH-EUR,1,2\n", 1, "not a dollar"),
            ("1,ETH-USD,-1,2\n", 1, "positive"),
            ("1,ETH-USD,3,2\n", 1, "above ask"),
        ] {
            let e = Quotes::parse(bad, 30).unwrap_err();
            assert_eq!(e.line, line, "{bad}");
            assert!(e.to_string().contains(says), "{e}");
        }
    }
}
