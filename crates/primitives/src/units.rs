//! Amounts as people read them: a bundled table of well-known mainnet tokens (symbol and
//! decimals) and exact decimal scaling of raw integer amounts. Raw amounts stay the source of
//! truth; these are shown beside them.

use crate::Address;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// A token's symbol and decimals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    /// Ticker.
    pub symbol: &'static str,
    /// Decimals of its raw amounts.
    pub decimals: u8,
}

/// Well-known Ethereum mainnet tokens, EIP-55 checksummed (a test checks every checksum, so a
/// mistyped address cannot slip in); ether is the pseudo-address `0xEeee…EEeE` that DeFi
/// protocols use for it.
const TABLE: &[(&str, &str, u8)] = &[
    ("0xEeeeeEeeeEeEeeEeEeEeeEEEeeeeEeeeeeeeEEeE", "ETH", 18),
    ("0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2", "WETH", 18),
    ("0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48", "USDC", 6),
    ("0xdAC17F958D2ee523a2206206994597C13D831ec7", "USDT", 6),
    ("0x6B175474E89094C44Da98b954EedeAC495271d0F", "DAI", 18),
    ("0x2260FAC5E5542a773Aa44fBCfeDf7C193bc2C599", "WBTC", 8),
    ("0x514910771AF9Ca656af840dff83E8264EcF986CA", "LINK", 18),
    ("0x1f9840a85d5aF5bf1D1762F925BDADdC4201F984", "UNI", 18),
    ("0x7Fc66500c84A76Ad7e9c93437bFc5Ac33E2DDaE9", "AAVE", 18),
    ("0x9f8F72aA9304c8B593d555F12eF6589cC3A579A2", "MKR", 18),
    ("0xae7ab96520DE3A18E5e111B5EaAb095312D7fE84", "stETH", 18),
    ("0x7f39C581F595B53c5cb19bD0b3f8dA6c935E2Ca0", "wstETH", 18),
    ("0xae78736Cd615f374D3085123A210448E74Fc6393", "rETH", 18),
    ("0xD533a949740bb3306d119CC777fa900bA034cd52", "CRV", 18),
    ("0xc00e94Cb662C3520282E6f5717214004A7f26888", "COMP", 18),
    ("0x6B3595068778DD592e39A122f4f5a5cF09C90fE2", "SUSHI", 18),
    ("0x0bc529c00C6401aEF6D220BE8C6Ea1667F6Ad93e", "YFI", 18),
    ("0xC011a73ee8576Fb46F5E1c5751cA3B9Fe0af2a6F", "SNX", 18),
    ("0x853d955aCEf822Db058eb8505911ED77F175b99e", "FRAX", 18),
    ("0x5f98805A4E8be255a32880FDeC7F6728C6568bA0", "LUSD", 18),
    ("0x0000000000085d4780B73119b644AE5ecd22b376", "TUSD", 18),
    ("0x4Fabb145d64652a948d72533023f6E7A623C7C53", "BUSD", 18),
    ("0x57Ab1ec28D129707052df4dF418D58a2D46d5f51", "sUSD", 18),
    ("0x8E870D67F660D95d5be530380D0eC0bd388289E1", "USDP", 18),
    ("0x056Fd409E1d7A124BD7017459dFEa2F387b6d5Cd", "GUSD", 2),
    ("0x99D8a9C45b2ecA8864373A26D1459e3Dff1e17F3", "MIM", 18),
    ("0xf939E0A03FB07F59A73314E73794Be0E57ac1b4E", "crvUSD", 18),
    ("0x6c3ea9036406852006290770BEdFcAbA0e23A0e8", "PYUSD", 6),
];

/// The tickers in [`TABLE`] that are US-dollar stablecoins.
const USD_STABLECOINS: &[&str] = &[
    "USDC", "USDT", "DAI", "FRAX", "LUSD", "TUSD", "BUSD", "sUSD", "USDP", "GUSD", "MIM", "crvUSD",
    "PYUSD",
];

fn table() -> &'static BTreeMap<Address, Token> {
    static M: OnceLock<BTreeMap<Address, Token>> = OnceLock::new();
    M.get_or_init(|| {
        TABLE
            .iter()
            .filter_map(|(a, symbol, decimals)| {
                Some((a.parse().ok()?, Token { symbol, decimals: *decimals }))
            })
            .collect()
    })
}

/// The bundled entry for `a`, if it is a well-known token.
pub fn token(a: &Address) -> Option<Token> {
    table().get(a).copied()
}

/// True when `a` is a well-known US-dollar stablecoin.
pub fn usd_stablecoin(a: &Address) -> bool {
    token(a).is_some_and(|t| USD_STABLECOINS.contains(&t.symbol))
}

/// A raw integer amount (decimal, optionally negative) scaled by `decimals`, exactly, with
/// trailing zeros dropped: `scaled("26503300291", 6)` is `26503.300291`.
pub fn scaled(raw: &str, decimals: u8) -> String {
    let (sign, digits) = match raw.strip_prefix('-') {
        Some(d) => ("-", d),
        None => ("", raw),
    };
    let d = usize::from(decimals);
    let padded = format!("{digits:0>width$}", width = d + 1);
    let (int, frac) = padded.split_at(padded.len() - d);
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        format!("{sign}{int}")
    } else {
        format!("{sign}{int}.{frac}")
    }
}

/// `raw` of token `a` in its units (`8.18 WETH`), when the token is well known.
pub fn human(raw: &str, a: &Address) -> Option<String> {
    token(a).map(|t| format!("{} {}", scaled(raw, t.decimals), t.symbol))
}

/// Evidence keys that hold raw token amounts (beside a `token` address).
const AMOUNT_KEYS: &[&str] = &[
    "amount",
    "value",
    "lost",
    "gain",
    "net_outflow",
    "outflow",
    "inflow",
    "balance_at_start",
    "max_outflow",
    "balance",
    "profit",
    "loss",
    "debt",
    "collateral",
];

/// The amounts in a finding's evidence in units people read, beside the raw ones: each
/// `(path, raw, human)` for raw amounts next to a well-known `token` (or one whose `decimals`
/// and `symbol` the evidence gives), and for fields in wei (`*_wei`: ETH) and gwei (`*_gwei`).
pub fn describe_evidence(evidence: &serde_json::Value) -> Vec<(String, String, String)> {
    describe_evidence_with(evidence, &|_| None)
}

/// [`describe_evidence`], asking `lookup` for the symbol and decimals of tokens the bundled
/// table does not know (the runtime reads them from the token at the finding's block).
pub fn describe_evidence_with(
    evidence: &serde_json::Value,
    lookup: &dyn Fn(&Address) -> Option<(String, u8)>,
) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    walk(evidence, String::new(), &mut out, 0, lookup);
    out
}

/// The token addresses a finding's evidence names (`token` fields), for looking them up.
pub fn evidence_tokens(evidence: &serde_json::Value) -> Vec<Address> {
    fn go(v: &serde_json::Value, out: &mut Vec<Address>, depth: usize) {
        match v {
            serde_json::Value::Object(o) => {
                if let Some(a) =
                    o.get("token").and_then(|t| t.as_str()).and_then(|t| t.parse().ok())
                {
                    if !out.contains(&a) {
                        out.push(a);
                    }
                }
                for x in o.values().filter(|_| depth < 16) {
                    go(x, out, depth + 1);
                }
            }
            serde_json::Value::Array(a) => {
                for x in a.iter().filter(|_| depth < 16) {
                    go(x, out, depth + 1);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    go(evidence, &mut out, 0);
    out
}

fn walk(
    v: &serde_json::Value,
    path: String,
    out: &mut Vec<(String, String, String)>,
    depth: usize,
    lookup: &dyn Fn(&Address) -> Option<(String, u8)>,
) {
    use serde_json::Value;
    if depth > 16 || out.len() >= 64 {
        return;
    }
    match v {
        Value::Object(o) => {
            let given = match (
                o.get("symbol").and_then(Value::as_str),
                o.get("decimals").and_then(Value::as_u64),
            ) {
                (Some(s), Some(d)) if d <= 77 => Some((s.to_string(), d as u8)),
                _ => None,
            };
            let unit = given.or_else(|| {
                let a: Address = o.get("token")?.as_str()?.parse().ok()?;
                token(&a).map(|t| (t.symbol.to_string(), t.decimals)).or_else(|| lookup(&a))
            });
            for (k, x) in o {
                let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                let raw = match x {
                    Value::String(s)
                        if !s.is_empty()
                            && s.trim_start_matches('-').bytes().all(|b| b.is_ascii_digit()) =>
                    {
                        Some(s.clone())
                    }
                    Value::Number(n) if n.is_u64() || n.is_i64() => Some(n.to_string()),
                    _ => None,
                };
                match raw {
                    Some(r) if k.ends_with("_wei") => {
                        out.push((p, r.clone(), format!("{} ETH", scaled(&r, 18))))
                    }
                    Some(r) if k.ends_with("_gwei") => {
                        out.push((p, r.clone(), format!("{} ETH", scaled(&r, 9))))
                    }
                    Some(r) if AMOUNT_KEYS.contains(&k.as_str()) => {
                        if let Some((sym, d)) = &unit {
                            out.push((p, r.clone(), format!("{} {sym}", scaled(&r, *d))));
                        }
                    }
                    _ => walk(x, p, out, depth + 1, lookup),
                }
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                walk(x, format!("{path}[{i}]"), out, depth + 1, lookup);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bundled_address_carries_a_valid_eip55_checksum() {
        for (a, symbol, _) in TABLE {
            Address::parse_checksummed(a, None)
                .unwrap_or_else(|e| panic!("{symbol} {a}: not a checksummed address: {e}"));
        }
        assert_eq!(table().len(), TABLE.len(), "no address twice");
        let weth: Address = "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2".parse().unwrap();
        let eth: Address = "0xEeeeeEeeeEeEeeEeEeEeeEEEeeeeEeeeeeeeEEeE".parse().unwrap();
        assert_eq!(token(&weth).unwrap().symbol, "WETH");
        assert_eq!(token(&eth).unwrap().decimals, 18);
        for sym in USD_STABLECOINS {
            assert!(TABLE.iter().any(|(_, s, _)| s == sym), "{sym} is in the table");
        }
        assert!(!usd_stablecoin(&weth));
    }

    #[test]
    fn scaling_is_exact() {
        assert_eq!(scaled("26503300291", 6), "26503.300291");
        assert_eq!(scaled("8182733924513576561", 18), "8.182733924513576561");
        assert_eq!(scaled("10000000000000000000", 18), "10");
        assert_eq!(scaled("5", 18), "0.000000000000000005");
        assert_eq!(scaled("-1500000", 6), "-1.5");
        assert_eq!(scaled("0", 8), "0");
        assert_eq!(scaled("123", 0), "123");
    }

    #[test]
    fn evidence_amounts_are_described_in_units() {
        let e = serde_json::json!({
            "token": "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2", "lost": "10000000000000000000",
            "gain": "2500000000000000000", "tx_index": 3, "base_fee_wei": "30000000000",
            "legs": [{"token": "0x1111111111111111111111111111111111111111", "amount": "5", "symbol": "ABC", "decimals": 1}],
            "other": {"token": "0x2222222222222222222222222222222222222222", "amount": "7"},
        });
        let d = describe_evidence(&e);
        let got: Vec<(&str, &str)> = d.iter().map(|(p, _, h)| (p.as_str(), h.as_str())).collect();
        assert!(got.contains(&("lost", "10 WETH")), "{got:?}");
        assert!(got.contains(&("gain", "2.5 WETH")), "{got:?}");
        assert!(got.contains(&("base_fee_wei", "0.00000003 ETH")), "{got:?}");
        assert!(got.contains(&("legs[0].amount", "0.5 ABC")), "{got:?}");
        // An unknown token without decimals is left raw; counters are not amounts.
        assert!(!got.iter().any(|(p, _)| *p == "other.amount" || *p == "tx_index"), "{got:?}");
    }
}
