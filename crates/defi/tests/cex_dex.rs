//! CEX-DEX arbitrage against a quotes file, on real mainnet blocks (ethereum-etl's 17173049 and
//! 17173050, with receipts): a searcher contract (0xa69b…e78c) sold 12.0135 WETH for 22,018.22
//! DAI on Uniswap V3 in one transaction of its own. Given CEX quotes at the block's time, the
//! swap is marked out at the exchange (DAI at 1 dollar; WETH bought back at the ETH ask).

use palisade_defi::{cex_dex, classify, compose, jits, sandwiches, Quotes};
use palisade_primitives::Address;
use palisade_testing::fixtures;

const SEARCHER: &str = "0xa69babef1ca67a37ffaf7a485dfff3382056e78c";

#[test]
fn a_searchers_swap_is_marked_out_at_the_cex_quotes_of_the_blocks_time() {
    let blocks = fixtures::blocks("mainnet/etl-17173049-17173050.jsonl.zst");
    let searcher: Address = SEARCHER.parse().unwrap();
    let weth: Address = "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2".parse().unwrap();
    let dai: Address = "0x6B175474E89094C44Da98b954EedeAC495271d0F".parse().unwrap();
    let mut found = 0;
    for b in &blocks {
        let ts = b.header.timestamp.unwrap();
        let a = classify(b);
        let sw = sandwiches(&a);
        let owned: Vec<u64> = compose(&a, &sw, &jits(&a)).iter().flat_map(|m| m.txs()).collect();
        let Some(t) = a.txs.iter().find(|t| t.swaps.iter().any(|s| s.from == searcher)) else {
            continue;
        };
        let s = &t.swaps[0];
        assert_eq!((t.swaps.len(), s.token_in, s.token_out), (1, weth, dai));
        let weth_in = s.amount_in.to_string().parse::<f64>().unwrap() / 1e18;
        let dai_out = s.amount_out.to_string().parse::<f64>().unwrap() / 1e18;
        // The exchange's ETH quote 5 s before the block: ask 1,830 makes the sale worth more on
        // chain (22,018.22 DAI) than buying the WETH back costs (12.0135 x 1,830 = 21,984.62).
        let csv =
            |t: u64, bid: f64, ask: f64| format!("time,pair,bid,ask\n{t},ETH-USDT,{bid},{ask}\n");
        let q = Quotes::parse(&csv(ts - 5, 1829.9, 1830.0), 30).unwrap();
        let got = cex_dex(&a, ts, &q, &owned, 0.0);
        let c = got.iter().find(|c| c.tx == t.index).expect("the searcher's transaction");
        let expected = dai_out - weth_in * 1830.0;
        assert!((c.profit_usd - expected).abs() < 1e-3, "{} vs {expected}", c.profit_usd);
        assert!(
            (c.received_usd - dai_out).abs() < 1e-6 && (c.paid_usd - weth_in * 1830.0).abs() < 1e-3
        );
        assert!(expected > 33.0 && expected < 34.0, "{expected}");
        // Users who bought or sold ETH at worse than the exchange are not arbitrageurs.
        for c in &got {
            assert!(c.profit_usd > 0.0 && !owned.contains(&c.tx));
        }
        // A higher ask, a minimum profit above the gain, or a quote too old: not reported.
        let higher = Quotes::parse(&csv(ts - 5, 1839.9, 1840.0), 30).unwrap();
        assert!(cex_dex(&a, ts, &higher, &owned, 0.0).iter().all(|c| c.tx != t.index));
        assert!(cex_dex(&a, ts, &q, &owned, 50.0).iter().all(|c| c.tx != t.index));
        let stale = Quotes::parse(&csv(ts - 31, 1829.9, 1830.0), 30).unwrap();
        assert!(cex_dex(&a, ts, &stale, &owned, 0.0).iter().all(|c| c.tx != t.index));
        // A transaction the composer gave to another finding is not reported again.
        assert!(cex_dex(&a, ts, &q, &[t.index], 0.0).iter().all(|c| c.tx != t.index));
        found += 1;
    }
    assert_eq!(found, 1);
}
