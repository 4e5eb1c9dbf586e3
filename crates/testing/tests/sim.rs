//! Pre-execution with revm on a real anvil: the defense scenario's vault and drainer (compiled
//! from testdata/contracts/src/Defense.sol), state loaded lazily and proven against the block's
//! state root.

use palisade_primitives::pending::{PendingTx, SimNeeds};
use palisade_primitives::{Address, BlockData, Bytes, B256, U256};
use palisade_sim::{SimError, Simulator};
use palisade_source::evm_rpc::{EndpointConfig, Enrich, RpcClient, RpcSettings};
use palisade_testing::anvil::{artifact_bytecode, calldata, Anvil, ACCOUNT0, ACCOUNT1, ACCOUNT2};
use serde_json::json;
use std::sync::Arc;

const ETH: u128 = 1_000_000_000_000_000_000;

struct Setup {
    anvil: Anvil,
    rpc: Arc<RpcClient>,
    vault: Address,
    drainer: Address,
}

async fn setup() -> Setup {
    let anvil = Anvil::start(&[]).await;
    let code =
        format!("{}{:0>64}", artifact_bytecode("GuardedVault"), ACCOUNT2.trim_start_matches("0x"));
    let vault = anvil.deploy(ACCOUNT0, &code).await;
    anvil.send(ACCOUNT0, Some(&vault), &calldata("deposit()", &[]), 10 * ETH).await;
    let drainer = anvil.deploy(ACCOUNT1, &artifact_bytecode("VaultDrainer")).await;
    let rpc = Arc::new(
        RpcClient::new(&EndpointConfig::http(&anvil.http_url()), &RpcSettings::default()).unwrap(),
    );
    Setup { anvil, rpc, vault: vault.parse().unwrap(), drainer: drainer.parse().unwrap() }
}

async fn tip(s: &Setup) -> BlockData {
    let n = s.anvil.block_number().await;
    let rec = s.rpc.block_by_number(n, Enrich::default()).await.unwrap().unwrap();
    BlockData::from_recorded(rec).unwrap()
}

fn pending(from: &str, to: Address, data: &str) -> PendingTx {
    PendingTx {
        hash: B256::repeat_byte(0x77),
        from: from.parse().unwrap(),
        to: Some(to),
        nonce: 0,
        value: U256::ZERO,
        input: data.parse().unwrap(),
        gas: 500_000,
        priority_fee: 2_000_000_000,
        max_fee: 100_000_000_000,
        tx_type: 2,
        authorizations: Vec::new(),
    }
}

fn sel(sig: &str) -> Bytes {
    calldata(sig, &[]).parse().unwrap()
}

fn needs(s: &Setup) -> SimNeeds {
    SimNeeds {
        watched: vec![s.vault],
        tokens: vec![],
        views: vec![(s.vault, sel("totalAssets()")), (s.vault, sel("totalShares()"))],
        all: false,
        assertions: vec![],
    }
}

fn word(b: &Option<Bytes>) -> U256 {
    U256::from_be_slice(&b.as_ref().expect("view returned")[..32])
}

#[tokio::test]
async fn a_drain_through_a_contract_is_seen_before_inclusion_on_proven_state() {
    let s = setup().await;
    let b = tip(&s).await;
    let sim = Simulator::new(s.rpc.clone(), 31337);
    sim.set_tip(&b.header).unwrap();
    let vault_word = format!("{:x}", s.vault);
    let attack = pending(ACCOUNT1, s.drainer, &calldata("run(address)", &[&vault_word]));
    let out = sim.simulate(&attack, &needs(&s)).await.unwrap();
    let r = &out.sim;
    assert!(r.success, "{:?}", r.error);
    assert_eq!(r.state_block.hash, b.header.hash.unwrap());
    // The vault is reached only inside the drainer's call.
    assert_eq!(r.touched.first(), Some(&s.drainer));
    assert!(r.touches_any(&[s.vault]));
    let root = out.frame.as_ref().unwrap();
    assert_eq!(root.to, Some(s.drainer));
    let inner = &root.calls[0];
    assert_eq!(inner.to, Some(s.vault));
    assert_eq!(&inner.input[..4], &sel("migrate(address)")[..4]);
    // The vault would lose all 10 ether; the shares stay.
    let bal = r.balances.iter().find(|c| c.account == s.vault && c.asset.is_none()).unwrap();
    assert_eq!((bal.before, bal.after), (U256::from(10 * ETH), U256::ZERO));
    assert_eq!(word(&r.views[0].before), U256::from(10 * ETH));
    assert_eq!(word(&r.views[0].after), U256::ZERO);
    assert_eq!(word(&r.views[1].before), word(&r.views[1].after));
    // The vault's Migrated event is in the simulated logs.
    let migrated = palisade_primitives::keccak256("Migrated(address,uint256)");
    assert!(out.logs.iter().any(|l| l.address == s.vault && l.topics[0] == migrated));
    assert!(r.fetched > 0);
    // Nothing was sent: the node's vault still holds its ether.
    let on_chain =
        s.anvil.rpc("eth_getBalance", json!([format!("{:#x}", s.vault), "latest"])).await;
    assert_eq!(on_chain, json!(format!("{:#x}", 10 * ETH)));
    // A second run on the same block is served from the block's cache.
    let again = sim.simulate(&attack, &needs(&s)).await.unwrap();
    assert_eq!(again.sim.fetched, 0);
    assert_eq!(again.sim.balances, r.balances);
}

/// An EIP-7702 set-code transaction is simulated with its authorization, as the chain applies
/// it: an account that delegates its code to the drainer in the same transaction drains the
/// vault when called (without the delegation it has no code and nothing would happen).
#[tokio::test]
async fn a_set_code_drain_is_simulated_with_its_delegation() {
    use alloy_signer::SignerSync;
    let s = setup().await;
    let b = tip(&s).await;
    let sim = Simulator::new(s.rpc.clone(), 31337);
    sim.set_tip(&b.header).unwrap();
    let key = alloy_signer_local::PrivateKeySigner::random();
    let auth = alloy_eips::eip7702::Authorization {
        chain_id: U256::from(31337),
        address: s.drainer,
        nonce: 0,
    };
    let sig = key.sign_hash_sync(&auth.signature_hash()).unwrap();
    let vault_word = format!("{:x}", s.vault);
    let tx = json!({
        "hash": B256::repeat_byte(0x78), "from": ACCOUNT1, "to": key.address(), "nonce": "0x2",
        "value": "0x0", "input": calldata("run(address)", &[&vault_word]), "gas": "0x7a120",
        "maxPriorityFeePerGas": "0x77359400", "maxFeePerGas": "0x174876e800", "type": "0x4",
        "chainId": "0x7a69", "accessList": [],
        "authorizationList": [{"chainId": "0x7a69", "address": s.drainer, "nonce": "0x0",
            "yParity": if sig.v() { "0x1" } else { "0x0" }, "r": format!("{:#x}", sig.r()),
            "s": format!("{:#x}", sig.s())}],
    });
    let attack = PendingTx::from_json(&tx).unwrap();
    assert_eq!(attack.authorizations.len(), 1);
    let out = sim.simulate(&attack, &needs(&s)).await.unwrap();
    assert!(out.sim.success, "{:?}", out.sim.error);
    let bal = out.sim.balances.iter().find(|c| c.account == s.vault && c.asset.is_none()).unwrap();
    assert_eq!((bal.before, bal.after), (U256::from(10 * ETH), U256::ZERO));
    // The same transaction without its authorization: the account has no code, nothing moves.
    let mut bare = attack.clone();
    bare.authorizations.clear();
    bare.tx_type = 2;
    let out = sim.simulate(&bare, &needs(&s)).await.unwrap();
    assert!(!out.sim.balances.iter().any(|c| c.account == s.vault && c.before != c.after));
}

#[tokio::test]
async fn a_rightful_redemption_keeps_the_shares_backed() {
    let s = setup().await;
    let b = tip(&s).await;
    let sim = Simulator::new(s.rpc.clone(), 31337);
    sim.set_tip(&b.header).unwrap();
    let four = format!("{:x}", 4 * ETH);
    let redeem = pending(ACCOUNT0, s.vault, &calldata("redeem(uint256)", &[&four]));
    let r = sim.simulate(&redeem, &needs(&s)).await.unwrap().sim;
    assert!(r.success, "{:?}", r.error);
    assert_eq!(word(&r.views[0].after), U256::from(6 * ETH));
    assert_eq!(word(&r.views[1].after), U256::from(6 * ETH));
    // Someone without shares cannot redeem: the simulation says it would revert.
    let thief = pending(ACCOUNT1, s.vault, &calldata("redeem(uint256)", &[&four]));
    let r = sim.simulate(&thief, &needs(&s)).await.unwrap().sim;
    assert!(!r.success);
    assert!(r.balances.is_empty());
}

#[tokio::test]
async fn state_that_does_not_match_the_verified_root_is_refused() {
    let s = setup().await;
    let mut b = tip(&s).await;
    b.header.state_root = Some(B256::repeat_byte(0xab));
    let sim = Simulator::new(s.rpc.clone(), 31337);
    sim.set_tip(&b.header).unwrap();
    let vault_word = format!("{:x}", s.vault);
    let attack = pending(ACCOUNT1, s.drainer, &calldata("run(address)", &[&vault_word]));
    let e = sim.simulate(&attack, &needs(&s)).await.unwrap_err();
    assert!(matches!(e, SimError::Lie { .. }), "{e}");
    assert!(e.to_string().contains("does not match the verified root"), "{e}");
}

#[tokio::test]
async fn no_simulation_before_a_verified_tip() {
    let s = setup().await;
    let sim = Simulator::new(s.rpc.clone(), 31337);
    let e = sim.simulate(&pending(ACCOUNT1, s.vault, "0x"), &needs(&s)).await.unwrap_err();
    assert!(matches!(e, SimError::NoState));
}

/// `simulation` obeys the pending conformance laws on real simulations: an attack, a rightful
/// redemption, a deposit and a failing theft, each simulated on the same verified tip.
#[tokio::test]
async fn the_simulation_detector_obeys_the_laws_on_real_simulations() {
    use palisade_detect::DetectorConfig;
    use palisade_primitives::pending::would_be_block;
    use palisade_testing::conformance::{check_pending, PendingInput};
    let s = setup().await;
    let b = tip(&s).await;
    let sim = Simulator::new(s.rpc.clone(), 31337);
    sim.set_tip(&b.header).unwrap();
    let vault_word = format!("{:x}", s.vault);
    let four = format!("{:x}", 4 * ETH);
    let mut txs = vec![
        pending(ACCOUNT1, s.drainer, &calldata("run(address)", &[&vault_word])),
        pending(ACCOUNT0, s.vault, &calldata("redeem(uint256)", &[&four])),
        pending(ACCOUNT2, s.vault, &calldata("deposit()", &[])),
        pending(ACCOUNT1, s.vault, &calldata("redeem(uint256)", &[&four])),
    ];
    for (i, t) in txs.iter_mut().enumerate() {
        t.hash = B256::repeat_byte(0x10 + i as u8);
    }
    txs[2].value = U256::from(ETH);
    let mut inputs = Vec::new();
    for t in &txs {
        let o = sim.simulate(t, &needs(&s)).await.unwrap();
        let block = would_be_block(&b.header, t, Some((&o.sim, o.logs.clone(), o.frame.clone())));
        inputs.push(PendingInput { tx: t.clone(), block, sim: Some(o.sim) });
    }
    let cfg: DetectorConfig = toml::from_str(&format!(
        "type = 'simulation'\nname = 'vault'\ncontracts = ['{v}']\nmax_loss_percent = 50.0\ninvariants = [{{ name = 'backed', contract = '{v}', views = ['totalAssets()', 'totalShares()'], expr = 'after.totalAssets >= after.totalShares' }}]",
        v = s.vault
    ))
    .unwrap();
    let found = check_pending(
        "simulation",
        &|| cfg.build_pending("local", None).unwrap().unwrap(),
        &inputs,
    );
    // Only the attack: a loss of all 10 ether and a broken invariant.
    assert!(found.iter().all(|f| f.tx_hashes[0] == txs[0].hash), "{found:?}");
    let checks: Vec<&str> = found.iter().filter_map(|f| f.evidence["check"].as_str()).collect();
    assert_eq!(checks, vec!["loss", "invariant"]);
}

/// ERC-20 losses: OpenZeppelin's ERC-20 held by Defi.sol's `StakeVault`, whose `withdraw` any
/// large holder may call; the simulation reads `balanceOf(vault)` before and after, and the
/// `simulation` detector reports the share taken in that token.
#[tokio::test]
async fn a_token_loss_is_measured_with_balance_of_before_and_after() {
    use palisade_detect::DetectorConfig;
    use palisade_primitives::pending::would_be_block;
    use palisade_primitives::Findings;
    let anvil = Anvil::start(&[]).await;
    let e18 = |x: u128| (x * ETH).to_string();
    let encode = |args: &[&str]| -> String {
        let out = std::process::Command::new(palisade_testing::anvil::cast_binary())
            .arg("abi-encode")
            .args(args)
            .output()
            .expect("cast (scripts/test.sh installs it)");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let args = encode(&["constructor(string,string,uint256)", "Stake", "STK", &e18(1_000_000)]);
    let token =
        anvil.deploy(ACCOUNT0, &format!("{}{}", artifact_bytecode("TestToken"), &args[2..])).await;
    let args = encode(&["constructor(address,uint256)", &token, &e18(100)]);
    let vault =
        anvil.deploy(ACCOUNT0, &format!("{}{}", artifact_bytecode("StakeVault"), &args[2..])).await;
    let vault_word = vault.trim_start_matches("0x").to_string();
    anvil
        .send(
            ACCOUNT0,
            Some(&token),
            &calldata("transfer(address,uint256)", &[&vault_word, &format!("{:x}", 1000 * ETH)]),
            0,
        )
        .await;
    let rpc = Arc::new(
        RpcClient::new(&EndpointConfig::http(&anvil.http_url()), &RpcSettings::default()).unwrap(),
    );
    let n = anvil.block_number().await;
    let b =
        BlockData::from_recorded(rpc.block_by_number(n, Enrich::default()).await.unwrap().unwrap())
            .unwrap();
    let sim = Simulator::new(rpc, 31337);
    sim.set_tip(&b.header).unwrap();
    let (vault_a, token_a): (Address, Address) = (vault.parse().unwrap(), token.parse().unwrap());
    let needs = SimNeeds {
        watched: vec![vault_a],
        tokens: vec![token_a],
        views: vec![],
        all: false,
        assertions: vec![],
    };
    let tx =
        pending(ACCOUNT0, vault_a, &calldata("withdraw(uint256)", &[&format!("{:x}", 600 * ETH)]));
    let o = sim.simulate(&tx, &needs).await.unwrap();
    assert!(o.sim.success, "{:?}", o.sim.error);
    let c =
        o.sim.balances.iter().find(|c| c.asset == Some(token_a)).expect("a token balance change");
    assert_eq!(
        (c.account, c.before, c.after),
        (vault_a, U256::from(1000 * ETH), U256::from(400 * ETH))
    );
    let cfg: DetectorConfig = toml::from_str(&format!(
        "type = 'simulation'\nname = 'stake'\ncontracts = ['{vault}']\ntokens = ['{token}']\nmax_loss_percent = 50.0"
    ))
    .unwrap();
    let mut d = cfg.build_pending("local", None).unwrap().unwrap();
    let block = would_be_block(&b.header, &tx, Some((&o.sim, o.logs.clone(), o.frame.clone())));
    let mut out = Findings::new();
    d.pending(
        &palisade_detect::pending::Pending { tx: &tx, block: &block, sim: Some(&o.sim), seq: 1 },
        &mut out,
    );
    let f = out.take().0;
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].evidence["loss_percent"], "60.00");
    assert_eq!(f[0].evidence["asset"].as_str().map(str::to_lowercase), Some(token.to_lowercase()));
}

/// A new tip starts a new cache, warmed in the background with what simulations loaded on the
/// previous one (proven again against the new root): the next simulation fetches nothing.
#[tokio::test]
async fn a_new_tip_is_warmed_with_what_the_last_one_needed() {
    let s = setup().await;
    let sim = Simulator::new(s.rpc.clone(), 31337);
    sim.set_tip(&tip(&s).await.header).unwrap();
    let vault_word = format!("{:x}", s.vault);
    let attack = pending(ACCOUNT1, s.drainer, &calldata("run(address)", &[&vault_word]));
    let cold = sim.simulate(&attack, &needs(&s)).await.unwrap();
    assert!(cold.sim.fetched > 0);
    s.anvil.mine(1).await;
    let next = tip(&s).await;
    sim.set_tip(&next.header).unwrap();
    let mut warm = None;
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let o = sim.simulate(&attack, &needs(&s)).await.unwrap();
        if o.sim.fetched == 0 {
            warm = Some(o);
            break;
        }
    }
    let warm = warm.expect("the new tip's cache was warmed");
    assert_eq!(warm.sim.state_block.hash, next.header.hash.unwrap());
    assert_eq!(warm.sim.balances, cold.sim.balances);
}
