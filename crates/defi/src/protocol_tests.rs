//! Decoders of protocols the bundled data does not (or only once) exercise, checked on the logs
//! each contract emits, in the order its code emits them: the ERC-20 `Transfer` events of the
//! tokens it moves, then its own event. Where a real transaction exists (1inch v6 in the helios
//! block), the expected swap is read from that transaction's own transfer events.

use crate::known::{topic, DAI, DSS_FLASH, WETH};
use crate::{lending, swaps, transfers, Protocol, Swap};
use palisade_primitives::{Address, Bytes, Log, B256, U256};

fn data(words: &[U256]) -> Bytes {
    words.iter().flat_map(|w| w.to_be_bytes::<32>()).collect::<Vec<u8>>().into()
}

fn a2u(a: Address) -> U256 {
    U256::from_be_bytes(a.into_word().0)
}

/// A log at index `i`.
fn log(i: u64, address: Address, topics: Vec<B256>, d: &[U256]) -> Log {
    Log { address, topics, data: data(d), log_index: Some(i) }
}

/// An ERC-20 `Transfer(from, to, amount)` of `token` at index `i`.
fn erc20(i: u64, token: Address, from: Address, to: Address, amount: U256) -> Log {
    log(i, token, vec![topic::TRANSFER, from.into_word(), to.into_word()], &[amount])
}

fn swaps_of(logs: &[Log]) -> Vec<Swap> {
    let ts = transfers::from_logs(logs, false);
    swaps::from_logs(logs, &ts, false)
}

const fn a(b: u8) -> Address {
    Address::repeat_byte(b)
}

#[test]
fn dodo_v2_swap_log_names_everything_and_the_payer_comes_from_the_transfer_in() {
    // DODO V2 `sellBase(to)`: the proxy sent the base token in beforehand; the pool pays the
    // quote out to the receiver and logs DODOSwap(from, to, fromAmount, toAmount, trader, receiver).
    let (pool, proxy, user, base, quote) = (a(1), a(2), a(3), a(4), a(5));
    let (amt_in, amt_out) = (U256::from(5_000u64), U256::from(123u64));
    let logs = vec![
        erc20(0, base, proxy, pool, amt_in),
        erc20(1, quote, pool, user, amt_out),
        log(
            2,
            pool,
            vec![topic::DODO_SWAP],
            &[a2u(base), a2u(quote), amt_in, amt_out, a2u(proxy), a2u(user)],
        ),
    ];
    let s = swaps_of(&logs);
    assert_eq!(s.len(), 1);
    let s = &s[0];
    assert_eq!((s.protocol, s.pool, s.from, s.to), (Protocol::Dodo, pool, proxy, user));
    assert_eq!(
        (s.token_in, s.amount_in, s.token_out, s.amount_out),
        (base, amt_in, quote, amt_out)
    );
}

#[test]
fn dodo_v1_sell_and_buy_base_read_their_tokens_from_the_transfers_before_the_log() {
    let (pool, trader, base, quote) = (a(1), a(2), a(4), a(5));
    // sellBaseToken: quote out to the seller, base in from the seller, then the log.
    let sell = vec![
        erc20(0, quote, pool, trader, U256::from(99u64)),
        erc20(1, base, trader, pool, U256::from(7u64)),
        log(
            2,
            pool,
            vec![topic::DODO_SELL_BASE, trader.into_word()],
            &[U256::from(7u64), U256::from(99u64)],
        ),
    ];
    let s = &swaps_of(&sell)[0];
    assert_eq!(
        (s.token_in, s.amount_in, s.token_out, s.amount_out),
        (base, U256::from(7u64), quote, U256::from(99u64))
    );
    // buyBaseToken: base out to the buyer, quote in, then BuyBaseToken(buyer, receiveBase, payQuote).
    let buy = vec![
        erc20(0, base, pool, trader, U256::from(7u64)),
        erc20(1, quote, trader, pool, U256::from(101u64)),
        log(
            2,
            pool,
            vec![topic::DODO_BUY_BASE, trader.into_word()],
            &[U256::from(7u64), U256::from(101u64)],
        ),
    ];
    let s = &swaps_of(&buy)[0];
    assert_eq!(
        (s.token_in, s.amount_in, s.token_out, s.amount_out),
        (quote, U256::from(101u64), base, U256::from(7u64))
    );
    assert_eq!((s.from, s.to, s.protocol), (trader, trader, Protocol::Dodo));
}

#[test]
fn maker_psm_sell_and_buy_gem_take_the_dai_amount_from_the_dai_transfer() {
    // DssPsm.sellGem(usr, 1,000 USDC) with tin = 0.1%: USDC from the caller to the gem join,
    // DAI minted to usr (1,000e18 less the fee), SellGem(usr, gemAmt, fee).
    let (psm, join, caller, usr, usdc) = (a(1), a(2), a(3), a(4), a(5));
    let gem = U256::from(1_000_000_000u64);
    let gem18 = gem * U256::from(10u64).pow(U256::from(12u64));
    let fee = gem18 / U256::from(1000u64);
    let sell = vec![
        erc20(0, usdc, caller, join, gem),
        erc20(1, DAI, Address::ZERO, usr, gem18 - fee),
        log(2, psm, vec![topic::PSM_SELL_GEM, usr.into_word()], &[gem, fee]),
    ];
    let s = &swaps_of(&sell)[0];
    assert_eq!((s.protocol, s.pool, s.from, s.to), (Protocol::MakerPsm, psm, caller, usr));
    assert_eq!((s.token_in, s.amount_in, s.token_out, s.amount_out), (usdc, gem, DAI, gem18 - fee));
    // buyGem(usr, gemAmt): DAI from the caller to the PSM (gem in 18 decimals plus the fee),
    // then the gem out of the join to usr, then BuyGem(usr, gemAmt, fee).
    let buy = vec![
        erc20(0, DAI, caller, psm, gem18 + fee),
        erc20(1, DAI, psm, Address::ZERO, gem18 + fee),
        erc20(2, usdc, join, usr, gem),
        log(3, psm, vec![topic::PSM_BUY_GEM, usr.into_word()], &[gem, fee]),
    ];
    let s = &swaps_of(&buy)[0];
    assert_eq!((s.from, s.to), (caller, usr));
    assert_eq!((s.token_in, s.amount_in, s.token_out, s.amount_out), (DAI, gem18 + fee, usdc, gem));
}

#[test]
fn dss_flash_loans_are_read_from_its_flash_loan_log() {
    // DssFlash logs FlashLoan(receiver indexed, token, amount, fee): Balancer's signature with
    // one indexed argument, so Balancer's vault loans (two indexed) are not taken for it.
    let receiver = a(9);
    let amount = U256::from(10u64).pow(U256::from(24u64));
    let logs = vec![
        erc20(0, DAI, Address::ZERO, receiver, amount),
        log(
            1,
            DSS_FLASH,
            vec![topic::BALANCER_FLASH_LOAN, receiver.into_word()],
            &[a2u(DAI), amount, U256::ZERO],
        ),
        erc20(2, DAI, receiver, DSS_FLASH, amount),
    ];
    let ts = transfers::from_logs(&logs, false);
    let loans = lending::flash_loans_from_logs(&logs, &ts, false);
    assert_eq!(loans.len(), 1);
    let l = &loans[0];
    assert_eq!(
        (l.protocol, l.lender, l.receiver, l.token, l.amount),
        (Protocol::MakerFlash, DSS_FLASH, receiver, DAI, amount)
    );
}

#[test]
fn one_inch_v6_fill_in_the_helios_block_is_the_exchange_its_transfers_show() {
    // Mainnet block 21925176, transaction 0xff98...ef20 to 1inch's v6 router: its own Transfer
    // events, read from the receipt here, show the maker 0xfbee...8737 paying 0xb0ff...2b91 to
    // the router (for the taker) and being paid WETH by 0x5141...a190, then OrderFilled.
    let blocks = palisade_testing::fixtures::blocks("mainnet/helios-21925176.jsonl.zst");
    let hash: B256 =
        "0xff9855155d61139d548257587646ee632fe76ad8f6e03685852f2c726212ef20".parse().unwrap();
    let router: Address = "0x111111125421ca6dc452d289314280a0f8842a65".parse().unwrap();
    let maker: Address = "0xfbeedcfe378866dab6abbafd8b2986f5c1768737".parse().unwrap();
    let token: Address = "0xb0ffa8000886e57f86dd5264b9582b2ad87b2b91".parse().unwrap();
    let receipts = blocks[0].receipts.as_deref().unwrap_or_default();
    let receipt = receipts.iter().find(|r| r.transaction_hash == Some(hash)).expect("the tx");
    let transfer = |token: Address, to: Address| {
        receipt
            .logs
            .iter()
            .find(|l| {
                l.address == token
                    && l.topics.first() == Some(&topic::TRANSFER)
                    && l.topics.get(2) == Some(&to.into_word())
            })
            .map(|l| (Address::from_slice(&l.topics[1].0[12..]), U256::from_be_slice(&l.data)))
            .expect("the transfer")
    };
    let (payer, paid) = transfer(WETH, maker);
    let (from_maker, got) = transfer(token, router);
    assert_eq!(from_maker, maker);
    let actions = crate::classify(&blocks[0]);
    let t = actions.txs.iter().find(|t| t.hash == Some(hash)).unwrap();
    let fills: Vec<&Swap> = t.swaps.iter().filter(|s| s.protocol == Protocol::OneInch).collect();
    assert_eq!(fills.len(), 1, "{:?}", t.swaps);
    let s = fills[0];
    assert_eq!((s.pool, s.from, s.to), (router, payer, router));
    assert_eq!((s.token_in, s.amount_in, s.token_out, s.amount_out), (WETH, paid, token, got));
    // No other transaction of the bundled blocks is taken for a 1inch or UniswapX fill.
    let others: usize = palisade_testing::fixtures::all_mainnet()
        .iter()
        .flat_map(|b| crate::classify(b).txs)
        .flat_map(|t| t.swaps)
        .filter(|s| matches!(s.protocol, Protocol::OneInch | Protocol::UniswapX))
        .count();
    assert_eq!(others, 1);
}
