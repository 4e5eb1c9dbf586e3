//! Sandwiches on real blocks with logs: the two candidates in ethereum-etl's blocks 17173049
//! and 17173050 (found by hand, not an upstream label) confirmed by reading the swaps' logs: the
//! same account buys before the victim and sells after it, on the same pair.

use palisade_defi::{classify, sandwiches};
use palisade_primitives::{Address, B256, I256};
use palisade_testing::fixtures;
use serde_json::Value;

#[test]
fn the_candidate_sandwiches_are_found_with_their_profit_and_nothing_before_the_frontrun_joins() {
    let blocks = fixtures::blocks("mainnet/etl-17173049-17173050.jsonl.zst");
    let cand: Value =
        serde_json::from_str(&fixtures::text("mainnet/etl-candidate-sandwiches.json")).unwrap();
    let weth: Address = "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2".parse().unwrap();
    for c in cand["sandwiches"].as_array().unwrap() {
        let b = blocks.iter().find(|b| b.header.number == c["block"].as_u64().unwrap()).unwrap();
        let actions = classify(b);
        let found = sandwiches(&actions);
        let pool: Address = c["pool"].as_str().unwrap().parse().unwrap();
        let s = found.iter().find(|s| s.pool == pool).unwrap_or_else(|| panic!("{c}: {found:?}"));
        let tx = |r: palisade_defi::SwapRef| actions.txs.iter().find(|t| t.index == r.tx).unwrap();
        let hash = |v: &Value| -> B256 { v.as_str().unwrap().parse().unwrap() };
        assert_eq!(tx(s.frontrun).hash, Some(hash(&c["frontrun"]["tx"])));
        assert_eq!(tx(s.backrun).hash, Some(hash(&c["backrun"]["tx"])));
        let victims: Vec<_> = s.victims.iter().map(|v| tx(*v).hash.unwrap()).collect();
        let want: Vec<_> =
            c["victims"].as_array().unwrap().iter().map(|v| hash(&v["tx"])).collect();
        assert_eq!(victims, want);
        // The gross profit in WETH, whichever leg it falls in.
        let gross: I256 = c["gross_profit_token1"].to_string().parse().unwrap();
        let weth_profit = if s.profit_token == weth { s.profit } else { s.other_profit };
        assert!(s.profit_token == weth || s.other_token == weth);
        assert_eq!(weth_profit, gross, "{c}");
        assert_eq!(
            s.attacker,
            "0x6b75d8af000000e20b7a7ddf000ba900b4009a80".parse::<Address>().unwrap()
        );
    }
}
