//! 0x v3 order fills decoded as swaps, on a real anvil running 0x's own Exchange v3 and
//! ERC20Proxy bytecode (npm `@0x/contract-artifacts`): `fillOrder`, `marketSellOrdersNoThrow`
//! (the exchange delegatecalls `fillOrder` on itself for each order) and `batchFillOrders`, read
//! from the call tree and from the exchange's `Fill` logs. The key is the chain's own word: the
//! exchange's `filled(orderHash)` (the taker amount filled so far, per order) and the
//! tokens' `balanceOf` before and after each transaction.

use palisade_defi::{classify, Protocol, Swap};
use palisade_primitives::{Address, BlockData, U256};
use palisade_testing::anvil::{cast_offline as cast, Anvil, ACCOUNT0, ACCOUNT1, ACCOUNT2};

const ORDER: &str = "(address,address,address,address,uint256,uint256,uint256,uint256,uint256,uint256,bytes,bytes,bytes,bytes)";
const E18: &str = "000000000000000000";

fn uint(s: &str) -> U256 {
    // cast prints "123 [1.23e2]" for large numbers.
    s.split_whitespace().next().unwrap().parse().unwrap()
}

struct Book {
    anvil: Anvil,
    exchange: String,
    maker_token: String,
    taker_token: String,
}

impl Book {
    /// An order selling `make` maker tokens for `take` taker tokens (whole tokens), presigned by
    /// its maker (0x v3's PreSigned signature type, 0x06): (tuple, hash).
    async fn order(&self, make: u64, take: u64, salt: u64) -> (String, String) {
        let asset = |t: &str| format!("0xf47261b0{:0>64}", t.trim_start_matches("0x"));
        let zero = format!("{:?}", Address::ZERO);
        let o = format!(
            "({ACCOUNT1},{zero},{zero},{zero},{make}{E18},{take}{E18},0,0,99999999999,{salt},{},{},0x,0x)",
            asset(&self.maker_token),
            asset(&self.taker_token)
        );
        let info = self.anvil.cast(&[
            "call",
            &self.exchange,
            &format!("getOrderInfo({ORDER})((uint8,bytes32,uint256))"),
            &o,
        ]);
        let hash = info.split(", ").nth(1).unwrap().to_string();
        self.anvil.transact(ACCOUNT1, &self.exchange, "preSign(bytes32)", &[&hash]).await;
        (o, hash)
    }

    fn read(&self, to: &str, sig: &str, arg: &str, block: u64) -> U256 {
        uint(&self.anvil.cast(&["call", "--block", &block.to_string(), to, sig, arg]))
    }

    fn filled(&self, hash: &str, block: u64) -> U256 {
        self.read(&self.exchange, "filled(bytes32)(uint256)", hash, block)
    }

    fn balance(&self, token: &str, block: u64) -> U256 {
        self.read(token, "balanceOf(address)(uint256)", ACCOUNT2, block)
    }
}

async fn setup() -> Book {
    let anvil = Anvil::start(&[]).await;
    let proxy = anvil.deploy_artifact(ACCOUNT0, "zeroex/ERC20Proxy", &[]).await;
    let exchange =
        anvil.deploy_artifact(ACCOUNT0, "zeroex/Exchange", &["f(uint256)", "31337"]).await;
    let supply = format!("1000000{E18}");
    let ctor = |n: &'static str| ["f(string,string,uint256)", n, n, ""];
    let (mut a, mut b) = (ctor("MAKE"), ctor("TAKE"));
    a[3] = &supply;
    b[3] = &supply;
    let maker_token = anvil.deploy_artifact(ACCOUNT0, "TestToken", &a).await;
    let taker_token = anvil.deploy_artifact(ACCOUNT0, "TestToken", &b).await;
    anvil.transact(ACCOUNT0, &exchange, "registerAssetProxy(address)", &[&proxy]).await;
    anvil.transact(ACCOUNT0, &proxy, "addAuthorizedAddress(address)", &[&exchange]).await;
    let lots = format!("100000{E18}");
    for (token, who) in [(&maker_token, ACCOUNT1), (&taker_token, ACCOUNT2)] {
        anvil.transact(ACCOUNT0, token, "transfer(address,uint256)", &[who, &lots]).await;
        anvil.transact(who, token, "approve(address,uint256)", &[&proxy, &lots]).await;
    }
    Book { anvil, exchange, maker_token, taker_token }
}

/// The 0x swaps of the block's only transaction, from its call tree and from its logs.
async fn swaps(anvil: &Anvil, n: u64) -> (Vec<Swap>, Vec<Swap>) {
    let only = |b: &BlockData| {
        let a = classify(b);
        assert_eq!(a.txs.len(), 1);
        a.txs[0].swaps.iter().filter(|s| s.protocol == Protocol::ZeroEx).cloned().collect()
    };
    let [(_, traces_only), (_, logs_only)] = anvil.block_both_ways(n).await;
    (only(&traces_only), only(&logs_only))
}

#[tokio::test]
async fn zerox_v3_fills_are_swaps_with_the_exchanges_own_amounts() {
    let book = setup().await;
    let (o1, h1) = book.order(1000, 3000, 1).await;
    let (o2, h2) = book.order(500, 2000, 2).await;
    let (o3, h3) = book.order(100, 150, 3).await;
    let (make, take): (Address, Address) =
        (book.maker_token.parse().unwrap(), book.taker_token.parse().unwrap());
    let taker: Address = ACCOUNT2.parse().unwrap();
    let fill = |sig: &str, args: &[&str]| {
        let mut a = vec!["calldata", sig];
        a.extend_from_slice(args);
        cast(&a)
    };
    let txs = [
        (
            fill(
                &format!("fillOrder({ORDER},uint256,bytes)"),
                &[&o1, &format!("600{E18}"), "0x06"],
            ),
            vec![&h1],
        ),
        (
            fill(
                &format!("marketSellOrdersNoThrow({ORDER}[],uint256,bytes[])"),
                &[&format!("[{o1},{o2}]"), &format!("2700{E18}"), "[0x06,0x06]"],
            ),
            vec![&h1, &h2],
        ),
        (
            fill(
                &format!("batchFillOrders({ORDER}[],uint256[],bytes[])"),
                &[&format!("[{o3},{o2}]"), &format!("[30{E18},100{E18}]"), "[0x06,0x06]"],
            ),
            vec![&h3, &h2],
        ),
    ];
    for (data, hashes) in txs {
        let h = book.anvil.send(ACCOUNT2, Some(&book.exchange), &data, 0).await;
        assert_eq!(book.anvil.receipt(&h).await["status"], "0x1", "{data}");
        let n = book.anvil.block_number().await;
        let (from_traces, from_logs) = swaps(&book.anvil, n).await;
        for (how, got) in [("traces", &from_traces), ("logs", &from_logs)] {
            assert_eq!(got.len(), hashes.len(), "{how}: one swap per order filled: {got:#?}");
            for (s, hash) in got.iter().zip(&hashes) {
                // The exchange's own count of what the taker paid into this order.
                let paid = book.filled(hash, n) - book.filled(hash, n - 1);
                assert_eq!(s.amount_in, paid, "{how}: taker amount of order {hash}");
                assert_eq!((s.token_in, s.token_out), (take, make), "{how}");
                assert_eq!((s.from, s.to), (taker, taker), "{how}");
                assert_eq!(s.pool, book.exchange.parse::<Address>().unwrap());
                assert!(!s.reverted);
            }
            // The taker's balances: paid in the taker token, received the maker token.
            let paid = book.balance(&book.taker_token, n - 1) - book.balance(&book.taker_token, n);
            let got_back =
                book.balance(&book.maker_token, n) - book.balance(&book.maker_token, n - 1);
            assert_eq!(got.iter().map(|s| s.amount_in).sum::<U256>(), paid, "{how}");
            assert_eq!(got.iter().map(|s| s.amount_out).sum::<U256>(), got_back, "{how}");
        }
    }
}
