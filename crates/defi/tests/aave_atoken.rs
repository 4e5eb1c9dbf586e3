//! An Aave V2 liquidation that pays the liquidator in aTokens (`receiveAToken = true`): the
//! collateral moves through the aToken's `transferOnLiquidation`, not a token transfer. The
//! call tree has Aave V2's shape (LendingPool.liquidationCall -> the debt token's transferFrom
//! from the liquidator -> aToken.transferOnLiquidation(user, liquidator, amount)), with mainnet's
//! addresses; no recorded mainnet block of this kind is bundled.

use palisade_defi::{classify, Protocol};
use palisade_primitives::{
    Address, BlockData, Bytes, Header, Trace, TraceAction, Transaction, B256, U256,
};

const POOL: &str = "0x7d2768de32b0b80b7a3454c06bdac94a69ddc7a9"; // Aave V2 LendingPool
const WETH: &str = "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2";
const USDC: &str = "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48";
const AWETH: &str = "0x030ba81f1c18d280636f32af80b9aad02cf0854e";
const AUSDC: &str = "0xbcca60bb61934080951369a648fb03df4f96263c";

fn a(s: &str) -> Address {
    s.parse().unwrap()
}

fn word_a(x: Address) -> [u8; 32] {
    let mut w = [0u8; 32];
    w[12..].copy_from_slice(x.as_slice());
    w
}

fn word_u(x: u64) -> [u8; 32] {
    U256::from(x).to_be_bytes()
}

fn call(sel: [u8; 4], words: &[[u8; 32]]) -> Bytes {
    let mut v = sel.to_vec();
    for w in words {
        v.extend_from_slice(w);
    }
    v.into()
}

fn trace(from: Address, to: Address, input: Bytes, at: &[u64], output: Bytes) -> Trace {
    Trace {
        kind: "call".into(),
        action: TraceAction {
            from: Some(from),
            to: Some(to),
            call_type: Some("call".into()),
            input,
            value: Some(U256::ZERO),
        },
        output: Some(output),
        trace_address: at.to_vec(),
        transaction_position: Some(0),
        transaction_hash: Some(B256::repeat_byte(7)),
        ..Default::default()
    }
}

fn block(receive_atoken: bool) -> BlockData {
    let (liquidator, user) = (Address::repeat_byte(0x11), Address::repeat_byte(0x22));
    let ok = Bytes::from(word_u(1).to_vec());
    let mut traces = vec![
        trace(
            liquidator,
            a(POOL),
            // liquidationCall(collateralAsset, debtAsset, user, debtToCover, receiveAToken)
            call(
                [0x00, 0xa7, 0x18, 0xa9],
                &[
                    word_a(a(WETH)),
                    word_a(a(USDC)),
                    word_a(user),
                    word_u(5_000_000_000),
                    word_u(u64::from(receive_atoken)),
                ],
            ),
            &[],
            Bytes::new(),
        ),
        // USDC.transferFrom(liquidator, aUSDC, 5,000 USDC)
        trace(
            a(POOL),
            a(USDC),
            call(
                [0x23, 0xb8, 0x72, 0xdd],
                &[word_a(liquidator), word_a(a(AUSDC)), word_u(5_000_000_000)],
            ),
            &[0],
            ok.clone(),
        ),
    ];
    if receive_atoken {
        // aWETH.transferOnLiquidation(user, liquidator, 2.1 aWETH)
        traces.push(trace(
            a(POOL),
            a(AWETH),
            call(
                [0xf8, 0x66, 0xc3, 0x19],
                &[word_a(user), word_a(liquidator), word_u(2_100_000_000_000_000_000)],
            ),
            &[1],
            Bytes::new(),
        ));
    } else {
        // aWETH.burn(user, liquidator, 2.1 WETH, index) -> WETH.transfer(liquidator, 2.1 WETH)
        traces.push(trace(
            a(POOL),
            a(AWETH),
            call([0x3d, 0xae, 0x44, 0x6a], &[]),
            &[1],
            Bytes::new(),
        ));
        traces.push(trace(
            a(AWETH),
            a(WETH),
            call(
                [0xa9, 0x05, 0x9c, 0xbb],
                &[word_a(liquidator), word_u(2_100_000_000_000_000_000)],
            ),
            &[1, 0],
            ok,
        ));
    }
    BlockData {
        header: Header {
            number: 12_000_000,
            hash: Some(B256::repeat_byte(1)),
            ..Default::default()
        },
        transactions: vec![Transaction {
            index: 0,
            hash: Some(B256::repeat_byte(7)),
            from: Some(liquidator),
            to: Some(a(POOL)),
            ..Default::default()
        }],
        traces: Some(traces),
        ..Default::default()
    }
}

#[test]
fn a_liquidation_paid_in_atokens_is_reported_with_the_atoken_and_amount() {
    for receive_atoken in [true, false] {
        let b = block(receive_atoken);
        let actions = classify(&b);
        let ls = &actions.txs[0].liquidations;
        assert_eq!(ls.len(), 1, "receiveAToken = {receive_atoken}: {ls:?}");
        let l = &ls[0];
        assert_eq!(l.protocol, Protocol::Aave);
        assert_eq!(l.liquidated_user, Address::repeat_byte(0x22));
        assert_eq!((l.debt_token, l.debt_amount), (a(USDC), U256::from(5_000_000_000u64)));
        let token = if receive_atoken { a(AWETH) } else { a(WETH) };
        assert_eq!(l.received_token, token, "receiveAToken = {receive_atoken}");
        assert_eq!(l.received_amount, U256::from(2_100_000_000_000_000_000u64));
    }
}
