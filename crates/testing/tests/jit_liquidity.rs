//! JIT liquidity on a real anvil running Uniswap V3's own factory and pool bytecode (npm
//! `@uniswap/v3-core`) and PancakeSwap V3's pool bytecode (npm `@pancakeswap/v3-core`): a
//! position added just before another account's swap in one block and removed just after, read
//! from the call tree and from the pool's logs. The key is the chain's own word: the accounts'
//! `balanceOf` before and after the block (the provider's net in each token, the victim's swap)
//! and the pool's `feeGrowthGlobal` accumulators (the fees the position earned).

use palisade_defi::{classify, compose, jits, sandwiches, Jit, LiquidityKind, Mev};
use palisade_primitives::{Address, I256, U256};
use palisade_testing::anvil::{Anvil, ACCOUNT0, ACCOUNT1, ACCOUNT2};
use serde_json::json;

const E18: &str = "000000000000000000";
/// Liquidity of the passive position (±10 tick spacings) and of the JIT one (±1).
const PASSIVE_L: &str = "1000000000000000000000";
const JIT_L: u128 = 1_000_000_000_000_000_000_000_000;

fn uint(s: &str) -> U256 {
    // cast prints "123 [1.23e2]" for large numbers.
    s.split_whitespace().next().unwrap().parse().unwrap()
}

/// Which pool code runs.
#[derive(Clone, Copy, Debug)]
enum Dex {
    /// Uniswap V3, fee 0.3 % (tick spacing 60), created by its factory.
    Uniswap,
    /// PancakeSwap V3, fee 0.25 % (tick spacing 50), created by `PoolDeployer`.
    Pancake,
}

struct Pool {
    anvil: Anvil,
    /// Tick spacing.
    spacing: i32,
    pool: String,
    tokens: [String; 2],
    jit: String,
    victim: String,
}

impl Pool {
    fn read(&self, block: u64, to: &str, sig: &str, args: &[&str]) -> U256 {
        let n = block.to_string();
        let mut a = vec!["call", "--block", &n, to, sig];
        a.extend_from_slice(args);
        uint(&self.anvil.cast(&a))
    }

    fn balances(&self, block: u64, who: &str) -> [U256; 2] {
        let b = |t: &str| self.read(block, t, "balanceOf(address)(uint256)", &[who]);
        [b(&self.tokens[0]), b(&self.tokens[1])]
    }

    fn fee_growth(&self, block: u64) -> [U256; 2] {
        let g = |sig: &str| self.read(block, &self.pool, sig, &[]);
        [g("feeGrowthGlobal0X128()(uint256)"), g("feeGrowthGlobal1X128()(uint256)")]
    }

    /// Sends `sig(args)` to `to` from `from` at `gwei` without waiting (automine is off).
    async fn queue(&self, from: &str, to: &str, gwei: u64, sig: &str, args: &[&str]) -> String {
        let mut a = vec!["calldata", sig];
        a.extend_from_slice(args);
        let data = palisade_testing::anvil::cast_offline(&a);
        let tx = json!({"from": from, "to": to, "data": data, "gas": "0x7a1200",
                        "gasPrice": format!("{:#x}", gwei * 1_000_000_000)});
        self.anvil.rpc("eth_sendTransaction", json!([tx])).await.as_str().unwrap().to_string()
    }

    /// Mines the queued transactions in one block and checks they landed in `order`.
    async fn mine(&self, order: &[&str]) -> u64 {
        self.anvil.rpc("evm_mine", json!([])).await;
        let n = self.anvil.block_number().await;
        for (i, h) in order.iter().enumerate() {
            let r = self.anvil.receipt(h).await;
            assert_eq!(r["status"], "0x1", "{r}");
            assert_eq!(r["blockNumber"], format!("{n:#x}"));
            assert_eq!(r["transactionIndex"], format!("{i:#x}"), "transaction order in the block");
        }
        n
    }
}

async fn setup(dex: Dex) -> Pool {
    let anvil = Anvil::start(&[]).await;
    let supply = format!("1000000000000{E18}");
    let mut tokens = Vec::new();
    for name in ["A", "B"] {
        let ctor = ["f(string,string,uint256)", name, name, &supply];
        tokens.push(anvil.deploy_artifact(ACCOUNT0, "TestToken", &ctor).await);
    }
    let (a, b) = (&tokens[0], &tokens[1]);
    let (pool, spacing) = match dex {
        Dex::Uniswap => {
            let factory = anvil.deploy_artifact(ACCOUNT0, "uniswap/UniswapV3Factory", &[]).await;
            let create = "createPool(address,address,uint24)";
            anvil.transact(ACCOUNT0, &factory, create, &[a, b, "3000"]).await;
            let get = "getPool(address,address,uint24)(address)";
            (anvil.cast(&["call", &factory, get, a, b, "3000"]), 60)
        }
        Dex::Pancake => {
            let deployer = anvil.deploy_artifact(ACCOUNT0, "PoolDeployer", &[]).await;
            let code = palisade_testing::anvil::artifact_bytecode("pancakeswap/PancakeV3Pool");
            let deploy = "deploy(bytes,address,address,uint24,int24)";
            anvil.transact(ACCOUNT0, &deployer, deploy, &[&code, a, b, "2500", "50"]).await;
            (anvil.cast(&["call", &deployer, "pool()(address)"]), 50)
        }
    };
    let pool = pool.to_lowercase();
    // Price 1 (sqrtPriceX96 = 2^96).
    anvil
        .transact(ACCOUNT0, &pool, "initialize(uint160)", &["79228162514264337593543950336"])
        .await;
    let token0 = anvil.cast(&["call", &pool, "token0()(address)"]).to_lowercase();
    let token1 = anvil.cast(&["call", &pool, "token1()(address)"]).to_lowercase();
    let mut actors = Vec::new();
    for _ in 0..3 {
        let actor = anvil.deploy_artifact(ACCOUNT0, "V3Actor", &[]).await;
        for t in &tokens {
            let lots = format!("10000000{E18}");
            anvil.transact(ACCOUNT0, t, "transfer(address,uint256)", &[&actor, &lots]).await;
        }
        actors.push(actor);
    }
    // A passive position, there before the block.
    let mint = "mint(address,int24,int24,uint128)";
    let (lo, hi) = ((-10 * spacing).to_string(), (10 * spacing).to_string());
    anvil.transact(ACCOUNT0, &actors[0], mint, &[&pool, &lo, &hi, PASSIVE_L]).await;
    Pool {
        anvil,
        spacing,
        pool,
        tokens: [token0, token1],
        jit: actors[1].clone(),
        victim: actors[2].clone(),
    }
}

fn signed(v: U256) -> I256 {
    I256::try_from(v).unwrap()
}

fn addr(s: &str) -> Address {
    s.parse().unwrap()
}

#[tokio::test]
async fn jit_liquidity_around_a_victims_swap_with_the_pools_own_fees_uniswap_v3() {
    jit_around_a_swap(Dex::Uniswap).await;
}

#[tokio::test]
async fn jit_liquidity_and_swaps_on_pancakeswap_v3_pools() {
    jit_around_a_swap(Dex::Pancake).await;
}

async fn jit_around_a_swap(dex: Dex) {
    let p = setup(dex).await;
    let before = p.anvil.block_number().await;
    let (bal0, fg0) = (p.balances(before, &p.jit), p.fee_growth(before));
    let victim0 = p.balances(before, &p.victim);
    p.anvil.rpc("evm_setAutomine", json!([false])).await;
    let (pool, l) = (p.pool.as_str(), JIT_L.to_string());
    let (lo, hi) = ((-p.spacing).to_string(), p.spacing.to_string());
    let mint = "mint(address,int24,int24,uint128)";
    let add = p.queue(ACCOUNT1, &p.jit, 5, mint, &[pool, &lo, &hi, &l]).await;
    let swap = format!("10{E18}");
    let victim =
        p.queue(ACCOUNT2, &p.victim, 3, "swap(address,bool,int256)", &[pool, "true", &swap]).await;
    let remove = "exit(address,int24,int24,uint128)";
    let remove = p.queue(ACCOUNT1, &p.jit, 2, remove, &[pool, &lo, &hi, &l]).await;
    let n = p.mine(&[&add, &victim, &remove]).await;
    p.anvil.rpc("evm_setAutomine", json!([true])).await;
    assert_eq!(n, before + 1);

    // The key: the provider's net in each token, and the fees the pool's accumulators give a
    // position of JIT_L liquidity that stayed in range (fee growth inside = global growth since
    // its ticks were first used, which was in this block).
    let bal1 = p.balances(n, &p.jit);
    let net = [signed(bal1[0]) - signed(bal0[0]), signed(bal1[1]) - signed(bal0[1])];
    let fg1 = p.fee_growth(n);
    let fee = |k: usize| {
        let growth = fg1[k] - fg0[k];
        signed((U256::from(JIT_L) * growth) >> 128)
    };
    assert!(fee(0) > I256::ZERO, "the victim paid token0 in, so fees in token0");
    assert_eq!(fee(1), I256::ZERO);
    let victim1 = p.balances(n, &p.victim);

    for (how, b) in p.anvil.block_both_ways(n).await {
        let actions = classify(&b);
        let changes: Vec<_> = actions.txs.iter().flat_map(|t| &t.liquidity).collect();
        let kinds: Vec<_> = changes.iter().map(|c| c.kind).collect();
        assert_eq!(
            kinds,
            [LiquidityKind::Add, LiquidityKind::Remove, LiquidityKind::Collect],
            "{how}"
        );
        let js = jits(&actions);
        assert_eq!(js.len(), 1, "{how}: {js:?}");
        let j: &Jit = &js[0];
        assert_eq!((j.pool, j.owner), (addr(&p.pool), addr(&p.jit)), "{how}");
        assert_eq!((j.tick_lower, j.tick_upper, j.liquidity), (-p.spacing, p.spacing, JIT_L));
        assert_eq!((j.mint_tx, j.burn_tx, j.victims.clone()), (0, 2, vec![1]), "{how}");
        let (t0, t1) = (addr(&p.tokens[0]), addr(&p.tokens[1]));
        assert_eq!(j.tokens, Some([t0, t1]), "{how}");
        assert_eq!(j.profit, net, "{how}: the provider's net is its balance change");
        assert_eq!(j.fees, [fee(0), fee(1)], "{how}: fees are the pool's fee growth");
        // The victim's swap: what it paid and got, as its balances say.
        let [s] = actions.txs[1].swaps.as_slice() else { panic!("{how}: one swap") };
        assert_eq!((s.pool, s.token_in, s.token_out), (addr(&p.pool), t0, t1), "{how}");
        assert_eq!(s.amount_in, victim0[0] - victim1[0], "{how}");
        assert_eq!(s.amount_out, victim1[1] - victim0[1], "{how}");
        // The composer gives the two transactions to the JIT finding, not the victim.
        let sw = sandwiches(&actions);
        let mev = compose(&actions, &sw, &js);
        assert_eq!(mev, vec![Mev::Jit { jit: 0, txs: vec![0, 2] }], "{how}");
    }
}

#[tokio::test]
async fn a_jit_sandwich_is_one_finding_with_its_swaps_and_its_position() {
    let p = setup(Dex::Uniswap).await;
    let before = p.anvil.block_number().await;
    let bal0 = p.balances(before, &p.jit);
    p.anvil.rpc("evm_setAutomine", json!([false])).await;
    let (pool, l) = (p.pool.as_str(), JIT_L.to_string());
    let (front, back) = (format!("5{E18}"), format!("-5{E18}"));
    // Front-run in the victim's direction and add the position; the victim; remove the
    // position and buy the front-run's token0 back (exact output).
    let enter = "swapThenMint(address,bool,int256,int24,int24,uint128)";
    let enter = p.queue(ACCOUNT1, &p.jit, 5, enter, &[pool, "true", &front, "-60", "60", &l]).await;
    let swap = format!("10{E18}");
    let victim =
        p.queue(ACCOUNT2, &p.victim, 3, "swap(address,bool,int256)", &[pool, "true", &swap]).await;
    let leave = "exitThenSwap(address,int24,int24,uint128,bool,int256)";
    let leave = p.queue(ACCOUNT1, &p.jit, 2, leave, &[pool, "-60", "60", &l, "false", &back]).await;
    let n = p.mine(&[&enter, &victim, &leave]).await;
    p.anvil.rpc("evm_setAutomine", json!([true])).await;
    let bal1 = p.balances(n, &p.jit);
    let net = [signed(bal1[0]) - signed(bal0[0]), signed(bal1[1]) - signed(bal0[1])];

    for (how, b) in p.anvil.block_both_ways(n).await {
        let actions = classify(&b);
        let (sw, js) = (sandwiches(&actions), jits(&actions));
        assert_eq!(sw.len(), 1, "{how}: {sw:?}");
        assert_eq!(js.len(), 1, "{how}: {js:?}");
        let (s, j) = (&sw[0], &js[0]);
        assert_eq!((s.frontruns.len(), s.frontruns[0].tx, s.backrun.tx), (1, 0, 2), "{how}");
        assert_eq!((j.mint_tx, j.burn_tx, j.victims.clone()), (0, 2, vec![1]), "{how}");
        let mev = compose(&actions, &sw, &js);
        assert_eq!(mev, vec![Mev::JitSandwich { sandwich: 0, jit: 0, txs: vec![0, 2] }], "{how}");
        // The provider's whole net (its swaps and its position) is its balance change: the
        // position's part plus the swaps' (token0: back-run bought exactly the front-run's
        // input back, so the swaps net zero in token0).
        let swaps: Vec<_> = actions.swaps().filter(|(t, _)| t.index != 1).map(|(_, s)| s).collect();
        let mut swap_net = [I256::ZERO; 2];
        for s in swaps {
            let k = |t: Address| usize::from(t == addr(&p.tokens[1]));
            swap_net[k(s.token_in)] -= signed(s.amount_in);
            swap_net[k(s.token_out)] += signed(s.amount_out);
        }
        assert_eq!(swap_net[0], I256::ZERO, "{how}");
        assert_eq!([j.profit[0] + swap_net[0], j.profit[1] + swap_net[1]], net, "{how}");
    }
}
