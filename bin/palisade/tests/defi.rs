//! DeFi detectors on a real anvil with real contracts: Uniswap V2 from its npm artifacts,
//! OpenZeppelin's proxy, Ownable, AccessControl, Pausable and flash-mint token, a Chainlink-style
//! feed and our own contracts (testdata/contracts/src/Defi.sol). Each scenario has a benign twin
//! on the same chain that must raise nothing.

mod common;

use common::*;
use palisade_store::AlertRow;
use palisade_testing::anvil::{cast_offline as cast, Anvil, ACCOUNT0, ACCOUNT1, ACCOUNT2};
use serde_json::{json, Value};

const ACCOUNT3: &str = "0x90f79bf6eb2c4f870365e785982e1f101e93b906";
const ACCOUNT4: &str = "0x15d34aaf54267db7d7c367839aaf71a00a2c6a65";
const ACCOUNT5: &str = "0x9965507d1a55bcc2695c58ba16fb37d819b0a4dc";
const ACCOUNT6: &str = "0x976ea74026e726554db657fa54763abd0c3a0aa9";
const ACCOUNT9: &str = "0xa0ee7a142d267c1f36714e4a8f75612f20a79720";
const E18: u128 = 1_000_000_000_000_000_000;

fn calldata(sig: &str, args: &[&str]) -> String {
    let mut a = vec!["calldata", sig];
    a.extend_from_slice(args);
    cast(&a)
}

/// Submits a call without waiting (automine off), with a priority fee in gwei.
async fn submit(anvil: &Anvil, from: &str, to: &str, data: &str, tip_gwei: u64) -> String {
    let tx = json!({"from": from, "to": to, "data": data, "gas": "0x7a120",
        "maxPriorityFeePerGas": format!("{:#x}", tip_gwei * 1_000_000_000),
        "maxFeePerGas": format!("{:#x}", 100 * 1_000_000_000u64)});
    anvil.rpc("eth_sendTransaction", json!([tx])).await.as_str().unwrap().to_string()
}

/// A view call's first return value.
fn view(anvil: &Anvil, to: &str, sig: &str, args: &[&str]) -> String {
    let mut a = vec!["call", to, sig];
    a.extend_from_slice(args);
    anvil.cast(&a).split_whitespace().next().unwrap_or_default().to_string()
}

fn balance(anvil: &Anvil, token: &str, who: &str) -> u128 {
    view(anvil, token, "balanceOf(address)(uint256)", &[who]).parse().unwrap()
}

fn of<'a>(alerts: &'a [AlertRow], detector: &str) -> Vec<&'a AlertRow> {
    alerts.iter().filter(|a| a.finding.detector == detector).collect()
}

fn has_tx(a: &AlertRow, tx: &str) -> bool {
    a.finding.tx_hashes.iter().any(|h| format!("{h:#x}") == tx)
}

fn lower(s: &str) -> String {
    s.to_lowercase()
}

fn addr_json(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_lowercase()
}

/// Uniswap V2 from its npm artifacts: WETH9, the factory, Router02, two test tokens and their
/// pair with 1,000 of each; `traders` get 100 of each and approve the router.
struct Uni {
    router: String,
    a: String,
    b: String,
    pair: String,
}

const MAX: &str = "115792089237316195423570985008687907853269984665640564039457584007913129639935";

async fn uniswap(anvil: &Anvil, traders: &[&str]) -> Uni {
    let weth = anvil.deploy_artifact(ACCOUNT0, "uniswap/WETH9", &[]).await;
    let factory = anvil
        .deploy_artifact(ACCOUNT0, "uniswap/UniswapV2Factory", &["constructor(address)", ACCOUNT0])
        .await;
    let router = anvil
        .deploy_artifact(
            ACCOUNT0,
            "uniswap/UniswapV2Router02",
            &["constructor(address,address)", &factory, &weth],
        )
        .await;
    let supply = (1_000_000 * E18).to_string();
    let a = anvil
        .deploy_artifact(
            ACCOUNT0,
            "TestToken",
            &["constructor(string,string,uint256)", "Token A", "A", &supply],
        )
        .await;
    let b = anvil
        .deploy_artifact(
            ACCOUNT0,
            "TestToken",
            &["constructor(string,string,uint256)", "Token B", "B", &supply],
        )
        .await;
    for t in [&a, &b] {
        anvil.transact(ACCOUNT0, t, "approve(address,uint256)", &[&router, MAX]).await;
    }
    let liq = (1000 * E18).to_string();
    anvil
        .transact(
            ACCOUNT0,
            &router,
            "addLiquidity(address,address,uint256,uint256,uint256,uint256,address,uint256)",
            &[&a, &b, &liq, &liq, "0", "0", ACCOUNT0, "99999999999"],
        )
        .await;
    let pair = lower(&view(anvil, &factory, "getPair(address,address)(address)", &[&a, &b]));
    for who in traders {
        anvil
            .transact(ACCOUNT0, &a, "transfer(address,uint256)", &[who, &(100 * E18).to_string()])
            .await;
        anvil
            .transact(ACCOUNT0, &b, "transfer(address,uint256)", &[who, &(100 * E18).to_string()])
            .await;
        anvil.transact(who, &a, "approve(address,uint256)", &[&router, MAX]).await;
        anvil.transact(who, &b, "approve(address,uint256)", &[&router, MAX]).await;
    }
    Uni { router, a, b, pair }
}

fn swap_data(amount: u128, path: [&str; 2], to: &str) -> String {
    calldata(
        "swapExactTokensForTokens(uint256,uint256,address[],address,uint256)",
        &[&amount.to_string(), "0", &format!("[{},{}]", path[0], path[1]), to, "99999999999"],
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sandwich_on_a_uniswap_v2_pair_is_found_with_profit_and_victim_loss_and_its_twin_is_not()
{
    let anvil = Anvil::start(&[]).await;
    let Uni { router, a, b, pair } = uniswap(&anvil, &[ACCOUNT1, ACCOUNT2, ACCOUNT3]).await;
    let dir = tempfile::tempdir().unwrap();
    let mut p = Palisade::start(dir.path(), &anvil, "[[detectors]]\ntype = 'sandwich'\n");
    p.wait_synced(&anvil).await;

    let swap = |amount: u128, path: [&str; 2], to: &str| {
        calldata(
            "swapExactTokensForTokens(uint256,uint256,address[],address,uint256)",
            &[&amount.to_string(), "0", &format!("[{},{}]", path[0], path[1]), to, "99999999999"],
        )
    };
    let amounts_out = |amount: u128, path: [&str; 2]| -> u128 {
        let out = anvil.cast(&[
            "call",
            &router,
            "getAmountsOut(uint256,address[])(uint256[])",
            &amount.to_string(),
            &format!("[{},{}]", path[0], path[1]),
        ]);
        // "[20000000000000000000 [2e19], 19...]" -> the second number.
        out.trim_matches(|c| c == '[' || c == ']')
            .split(',')
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };

    // The sandwich: ACCOUNT1 buys B ahead of ACCOUNT2's purchase and sells it back after.
    let front_in = 20 * E18;
    let victim_in = 10 * E18;
    let front_out = amounts_out(front_in, [&a, &b]);
    let victim_alone = amounts_out(victim_in, [&a, &b]);
    let a1_before = balance(&anvil, &a, ACCOUNT1);
    let v_before = balance(&anvil, &b, ACCOUNT2);
    anvil.rpc("evm_setAutomine", json!([false])).await;
    let front = submit(&anvil, ACCOUNT1, &router, &swap(front_in, [&a, &b], ACCOUNT1), 5).await;
    let victim = submit(&anvil, ACCOUNT2, &router, &swap(victim_in, [&a, &b], ACCOUNT2), 2).await;
    let back = submit(&anvil, ACCOUNT1, &router, &swap(front_out, [&b, &a], ACCOUNT1), 1).await;
    anvil.rpc("evm_mine", json!([])).await;
    let sandwich_block = anvil.block_number().await;
    let profit = balance(&anvil, &a, ACCOUNT1) as i128 - a1_before as i128;
    let victim_got = balance(&anvil, &b, ACCOUNT2) - v_before;
    // Its twin: ACCOUNT3 buys, ACCOUNT2 sells B (the other direction), ACCOUNT3 sells back.
    let t_front_out = amounts_out(front_in, [&a, &b]);
    let t1 = submit(&anvil, ACCOUNT3, &router, &swap(front_in, [&a, &b], ACCOUNT3), 5).await;
    let t2 = submit(&anvil, ACCOUNT2, &router, &swap(victim_in, [&b, &a], ACCOUNT2), 2).await;
    let t3 = submit(&anvil, ACCOUNT3, &router, &swap(t_front_out, [&b, &a], ACCOUNT3), 1).await;
    anvil.rpc("evm_mine", json!([])).await;
    anvil.rpc("evm_setAutomine", json!([true])).await;
    for h in [&front, &victim, &back, &t1, &t2, &t3] {
        assert_eq!(anvil.receipt(h).await["status"], "0x1", "swap {h} failed");
    }
    p.wait_synced(&anvil).await;

    let alerts = p.alerts().await;
    let found = of(&alerts, "sandwich");
    assert_eq!(
        found.len(),
        1,
        "one sandwich, not its twin: {:#?}",
        found.iter().map(|a| &a.finding.title).collect::<Vec<_>>()
    );
    let f = &found[0].finding;
    assert_eq!(f.anchor.number, sandwich_block);
    assert_eq!(f.severity.as_str(), "high");
    let ev = &f.evidence;
    assert_eq!(addr_json(&ev["pool"]), pair);
    assert_eq!(addr_json(&ev["attacker"]), ACCOUNT1);
    assert_eq!(ev["frontrun"]["tx_hash"], front);
    assert_eq!(ev["backrun"]["tx_hash"], back);
    assert_eq!(ev["victims"][0]["tx_hash"], victim);
    assert_eq!(addr_json(&ev["victims"][0]["from"]), ACCOUNT2);
    // The attacker's profit is its change of token A balance, as the token contract tells it.
    assert!(profit > 0, "the attacker made money");
    assert_eq!(ev["profit"], profit.to_string());
    assert_eq!(addr_json(&ev["profit_token"]), lower(&a));
    // The victim's loss is what the router would have given it alone, less what it got.
    assert_eq!(ev["victim_loss"], (victim_alone - victim_got).to_string());
    assert!(has_tx(found[0], &front) && has_tx(found[0], &victim) && has_tx(found[0], &back));
    replay_agrees_with_live(&p, &anvil).await;
    // The same block with its receipts dropped (call traces only) gives the same sandwich.
    let rec = p.dir.join("recorded-anvil.jsonl");
    let block = palisade_source::replay::open(rec.to_str().unwrap())
        .unwrap()
        .map(|r| r.unwrap().block)
        .find(|b| b.header.number == sandwich_block)
        .unwrap();
    let mut traces_only = block.clone();
    traces_only.receipts = None;
    let from_logs = palisade_defi::sandwiches(&palisade_defi::classify(&block));
    let from_traces = palisade_defi::sandwiches(&palisade_defi::classify(&traces_only));
    assert_eq!(from_traces.len(), 1);
    let (l, t) = (&from_logs[0], &from_traces[0]);
    assert_eq!(
        (l.pool, l.attacker, l.frontrun, l.backrun, l.profit),
        (t.pool, t.attacker, t.frontrun, t.backrun, t.profit)
    );
    assert_eq!(t.profit.to_string(), profit.to_string());
}

#[tokio::test(flavor = "multi_thread")]
async fn unauthorized_upgrades_ownership_hijacks_and_pauses_alert_and_allowed_admin_calls_do_not() {
    let anvil = Anvil::start(&[]).await;
    let v1 = anvil.deploy_artifact(ACCOUNT0, "OpenUpgradeV1", &[]).await;
    let v2 = anvil.deploy_artifact(ACCOUNT0, "OpenUpgradeV2", &[]).await;
    let proxy =
        anvil.deploy_artifact(ACCOUNT0, "ScenarioProxy", &["constructor(address)", &v1]).await;
    let treasury = anvil.deploy_artifact(ACCOUNT0, "Treasury", &[]).await;
    let hijacker = anvil.deploy_artifact(ACCOUNT1, "Hijacker", &[]).await;
    let dir = tempfile::tempdir().unwrap();
    let body = format!(
        r#"
[[detectors]]
type = "admin_call"
name = "guard"
contracts = ["{proxy}", "{treasury}"]
functions = ["upgradeToAndCall(address newImplementation, bytes data)", "initialize(address newOwner)",
             "transferOwnership(address newOwner)", "grantRole(bytes32 role, address account)", "pause()"]
allowed_callers = ["{ACCOUNT0}"]

[[detectors]]
type = "exploit_shape"
"#
    );
    let mut p = Palisade::start(dir.path(), &anvil, &body);
    p.wait_synced(&anvil).await;
    let manager = format!("{}", alloy_primitives::keccak256(b"MANAGER_ROLE"));

    // Benign: the team's account upgrades and grants a role.
    let ok_upgrade =
        anvil.transact(ACCOUNT0, &proxy, "upgradeToAndCall(address,bytes)", &[&v2, "0x"]).await;
    let ok_grant = anvil
        .transact(ACCOUNT0, &treasury, "grantRole(bytes32,address)", &[&manager, ACCOUNT2])
        .await;
    // Attacks: an outsider upgrades the proxy (the implementation forgot its guard), takes the
    // treasury over through a contract, then pauses it.
    let bad_upgrade =
        anvil.transact(ACCOUNT1, &proxy, "upgradeToAndCall(address,bytes)", &[&v1, "0x"]).await;
    let hijack = anvil.transact(ACCOUNT1, &hijacker, "hijack(address)", &[&treasury]).await;
    assert_eq!(
        lower(&view(&anvil, &treasury, "owner()(address)", &[])),
        ACCOUNT1,
        "the hijack worked"
    );
    let pause = anvil.transact(ACCOUNT1, &treasury, "pause()", &[]).await;
    p.wait_synced(&anvil).await;

    let alerts = p.alerts().await;
    let found = of(&alerts, "admin_call:guard");
    for ok in [&ok_upgrade, &ok_grant] {
        assert!(
            !found.iter().any(|a| has_tx(a, ok)),
            "the allowed account's call {ok} raised an alert"
        );
    }
    assert_eq!(found.len(), 3, "{:#?}", found.iter().map(|a| &a.finding.title).collect::<Vec<_>>());
    let get = |tx: &str| {
        found.iter().find(|a| has_tx(a, tx)).unwrap_or_else(|| panic!("no alert for {tx}"))
    };

    let u = &get(&bad_upgrade).finding;
    assert_eq!(u.severity.as_str(), "critical");
    let m = u.evidence["matched"].as_array().unwrap();
    let f = m.iter().find(|x| x["kind"] == "call").expect("the upgrade call is named");
    assert_eq!(f["function"], "upgradeToAndCall(address,bytes)");
    assert_eq!(addr_json(&f["caller"]), ACCOUNT1);
    assert_eq!(lower(f["args"]["newImplementation"].as_str().unwrap()), lower(&v1));
    assert!(m.iter().any(|x| x["kind"] == "event" && x["event"] == "Upgraded(address)"), "{m:#?}");

    let h = &get(&hijack).finding;
    assert_eq!(h.severity.as_str(), "critical");
    let m = h.evidence["matched"].as_array().unwrap();
    let f = m.iter().find(|x| x["kind"] == "call").unwrap();
    assert_eq!(f["function"], "initialize(address)");
    assert_eq!(f["depth"], 1, "found inside the hijacker's call");
    assert_eq!(addr_json(&f["caller"]), lower(&hijacker));
    assert!(m
        .iter()
        .any(|x| x["kind"] == "event" && x["event"] == "OwnershipTransferred(address,address)"));

    // With no configuration: the treasury's owner changed while the owner took no part. The
    // team's own calls, and the deployment's first owner, are not taken for hijacks.
    let shaped = of(&alerts, "exploit_shape");
    assert_eq!(
        shaped.len(),
        1,
        "{:#?}",
        shaped.iter().map(|a| &a.finding.title).collect::<Vec<_>>()
    );
    let e = &shaped[0].finding;
    assert!(has_tx(shaped[0], &hijack));
    assert_eq!(e.evidence["check"], "control_hijack");
    assert_eq!(e.severity.as_str(), "critical");
    assert_eq!(addr_json(&e.evidence["contract"]), lower(&treasury));
    assert_eq!(addr_json(&e.evidence["previous"]), ACCOUNT0);
    assert_eq!(addr_json(&e.evidence["new"]), ACCOUNT1);

    let pz = &get(&pause).finding;
    assert_eq!(pz.severity.as_str(), "critical", "pause() is a watched function");
    assert!(pz.evidence["matched"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["event"] == "Paused(address)"));
}

async fn increase_time(anvil: &Anvil, secs: u64) {
    anvil.rpc("evm_increaseTime", json!([secs])).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stale_feed_and_a_deviating_feed_alert_and_fresh_close_feeds_do_not() {
    let anvil = Anvil::start(&[]).await;
    let ctor = "constructor(uint8,string,int256)";
    let main = anvil
        .deploy_artifact(ACCOUNT0, "PriceFeed", &[ctor, "8", "ETH / USD", "200000000000"])
        .await;
    let backup = anvil
        .deploy_artifact(ACCOUNT0, "PriceFeed", &[ctor, "8", "ETH / USD backup", "200000000000"])
        .await;
    let dir = tempfile::tempdir().unwrap();
    let body = format!(
        r#"
[[detectors]]
type = "oracle"
name = "feeds"
feeds = [
  {{ address = "{main}", label = "ETH/USD", heartbeat_secs = 3600 }},
  {{ address = "{backup}", label = "ETH/USD backup", heartbeat_secs = 3600, reference_feed = "{main}", max_deviation_pct = 3 }},
]
"#
    );
    let mut p = Palisade::start(dir.path(), &anvil, &body);
    p.wait_synced(&anvil).await;
    let upd = "update(int256)";
    // Benign: both move a little, 0.25 % apart.
    anvil.transact(ACCOUNT0, &main, upd, &["201000000000"]).await;
    anvil.transact(ACCOUNT0, &backup, upd, &["200500000000"]).await;
    // The backup deviates 8.5 % from the main feed, then comes back.
    let deviating = anvil.transact(ACCOUNT0, &backup, upd, &["218000000000"]).await;
    let deviating_block = anvil.receipt(&deviating).await["blockNumber"]
        .as_str()
        .map(|s| u64::from_str_radix(&s[2..], 16).unwrap())
        .unwrap();
    anvil.transact(ACCOUNT0, &backup, upd, &["201200000000"]).await;
    // 3,000 s without a main round: within its heartbeat (3,600 s + 10 %).
    increase_time(&anvil, 3000).await;
    anvil.transact(ACCOUNT0, &backup, upd, &["201100000000"]).await;
    p.wait_synced(&anvil).await;
    assert!(of(&p.alerts().await, "oracle:feeds")
        .iter()
        .all(|a| a.finding.evidence["check"] != "stale"));
    // 1,000 s more: the main feed is 4,000 s old.
    increase_time(&anvil, 1000).await;
    anvil.transact(ACCOUNT0, &backup, upd, &["201300000000"]).await;
    p.wait_synced(&anvil).await;

    let alerts = p.alerts().await;
    let found = of(&alerts, "oracle:feeds");
    let checks: Vec<&str> =
        found.iter().map(|a| a.finding.evidence["check"].as_str().unwrap()).collect();
    assert_eq!(
        checks.len(),
        2,
        "{:#?}",
        found.iter().map(|a| &a.finding.title).collect::<Vec<_>>()
    );
    let dev =
        found.iter().find(|a| a.finding.evidence["check"] == "deviation").expect("the deviation");
    assert_eq!(dev.finding.anchor.number, deviating_block);
    assert_eq!(addr_json(&dev.finding.evidence["feed"]), lower(&backup));
    // 2180 against 2010: 8.46 %.
    assert_eq!(dev.finding.evidence["deviation_pct"], json!(8.46));
    assert_eq!(dev.finding.severity.as_str(), "high");
    let stale =
        found.iter().find(|a| a.finding.evidence["check"] == "stale").expect("the stale feed");
    assert_eq!(addr_json(&stale.finding.evidence["feed"]), lower(&main));
    let age = stale.finding.evidence["age_secs"].as_u64().unwrap();
    assert!((4000..4010).contains(&age), "age {age}");
}

#[tokio::test(flavor = "multi_thread")]
async fn vaults_drained_over_blocks_and_by_a_flash_loan_alert_and_a_suspicious_deployment_is_scored(
) {
    let anvil = Anvil::start(&[]).await;
    let supply = (1_000_000 * E18).to_string();
    let token = anvil
        .deploy_artifact(
            ACCOUNT0,
            "TestToken",
            &["constructor(string,string,uint256)", "Stake", "STK", &supply],
        )
        .await;
    let min_stake = (100 * E18).to_string();
    let slow = anvil
        .deploy_artifact(
            ACCOUNT0,
            "StakeVault",
            &["constructor(address,uint256)", &token, &min_stake],
        )
        .await;
    let fast = anvil
        .deploy_artifact(
            ACCOUNT0,
            "StakeVault",
            &["constructor(address,uint256)", &token, &min_stake],
        )
        .await;
    for v in [&slow, &fast] {
        anvil
            .transact(
                ACCOUNT0,
                &token,
                "transfer(address,uint256)",
                &[v, &(1000 * E18).to_string()],
            )
            .await;
    }
    anvil.transact(ACCOUNT0, &token, "transfer(address,uint256)", &[ACCOUNT1, &min_stake]).await;
    let dir = tempfile::tempdir().unwrap();
    let labels =
        palisade_testing::fixtures::testdata("forta/ethereum-etherscan-malicious-labels.csv");
    let body = format!(
        r#"
[[detectors]]
type = "liquidity_drain"
name = "vaults"
contracts = ["{slow}", "{fast}"]
tokens = [{{ token = "{token}", label = "STK", max_outflow_pct = 20 }}]
window_blocks = 10

[[detectors]]
type = "exploit_shape"

[[detectors]]
type = "contract_deployment"
watched = ["{slow}", "{fast}"]
labelled = ["{ACCOUNT9}"]
labels_file = "{}"
"#,
        labels.display()
    );
    let mut p = Palisade::start(dir.path(), &anvil, &body);
    p.wait_synced(&anvil).await;
    let w = "withdraw(uint256)";
    // Benign: a staker takes 5 %, then nothing for a window.
    anvil.transact(ACCOUNT1, &slow, w, &[&(50 * E18).to_string()]).await;
    anvil.mine(10).await;
    // The slow drain: 8 % a block; the window crosses 20 % at the third.
    let mut drains = Vec::new();
    for _ in 0..4 {
        drains.push(anvil.transact(ACCOUNT1, &slow, w, &[&(80 * E18).to_string()]).await);
    }
    // A deployer funded by a labelled account deploys an exploit contract; an ordinary token
    // deployment is its twin.
    anvil.send(ACCOUNT9, Some(ACCOUNT3), "0x", 5 * E18).await;
    let exploiter =
        anvil.deploy_artifact(ACCOUNT3, "FlashExploiter", &["constructor(address)", &fast]).await;
    let token2 = anvil
        .deploy_artifact(
            ACCOUNT4,
            "TestToken",
            &["constructor(string,string,uint256)", "Other", "OTH", &supply],
        )
        .await;
    // A harmless flash loan, then the flash-loan drain.
    let loan = (100 * E18).to_string();
    let harmless =
        anvil.transact(ACCOUNT3, &exploiter, "attack(uint256,uint256)", &[&loan, "0"]).await;
    let before = balance(&anvil, &token, ACCOUNT3);
    let attack = anvil
        .transact(
            ACCOUNT3,
            &exploiter,
            "attack(uint256,uint256)",
            &[&loan, &(600 * E18).to_string()],
        )
        .await;
    assert_eq!(balance(&anvil, &token, ACCOUNT3) - before, 600 * E18);
    p.wait_synced(&anvil).await;

    let alerts = p.alerts().await;
    let drain = of(&alerts, "liquidity_drain:vaults");
    let titles: Vec<&String> = drain.iter().map(|a| &a.finding.title).collect();
    let window: Vec<_> =
        drain.iter().filter(|a| a.finding.evidence["check"] == "window_outflow").collect();
    let flash: Vec<_> =
        drain.iter().filter(|a| a.finding.evidence["check"] == "flash_loan_drain").collect();
    assert_eq!(flash.len(), 1, "{titles:#?}");
    assert!(!drain.iter().any(|a| has_tx(a, &harmless)), "{titles:#?}");
    let f = &flash[0].finding;
    assert!(has_tx(flash[0], &attack));
    assert_eq!(f.severity.as_str(), "critical");
    assert_eq!(addr_json(&f.evidence["contract"]), lower(&fast));
    assert_eq!(f.evidence["lost"], (600 * E18).to_string());
    assert_eq!(addr_json(&f.evidence["gainer"]), ACCOUNT3);
    assert_eq!(f.evidence["gain"], (600 * E18).to_string());
    assert_eq!(f.evidence["flash_loans"][0]["protocol"], "erc3156");
    // Amounts in units: the token is not in the bundled table, so its own symbol() and
    // decimals() were read at the finding's block (checked here with cast against the token).
    let rpc = anvil.http_url();
    let sym = cast(&["call", &token, "symbol()(string)", "--rpc-url", &rpc]);
    let sym = sym.trim().trim_matches('"');
    let dec = cast(&["call", &token, "decimals()(uint8)", "--rpc-url", &rpc]);
    assert_eq!(dec.trim(), "18");
    let lost = flash[0].amounts.iter().find(|(p, _, _)| p == "lost").expect("lost in units");
    assert_eq!(
        (lost.1.as_str(), lost.2.as_str()),
        (&*(600 * E18).to_string(), &*format!("600 {sym}"))
    );
    // Window findings: the slow vault once (at the third 8 % withdrawal: 24 % of 950), and the
    // fast vault's 60 % in the attack's block.
    assert_eq!(window.len(), 2, "{titles:#?}");
    let s =
        window.iter().find(|a| addr_json(&a.finding.evidence["contract"]) == lower(&slow)).unwrap();
    let third = anvil.receipt(&drains[2]).await["blockNumber"].clone();
    assert_eq!(json!(format!("{:#x}", s.finding.anchor.number)), third);
    assert_eq!(s.finding.evidence["net_outflow"], (240 * E18).to_string());
    assert_eq!(s.finding.evidence["balance_at_start"], (950 * E18).to_string());
    let fw =
        window.iter().find(|a| addr_json(&a.finding.evidence["contract"]) == lower(&fast)).unwrap();
    assert_eq!(
        json!(format!("{:#x}", fw.finding.anchor.number)),
        anvil.receipt(&attack).await["blockNumber"]
    );
    assert_eq!(fw.finding.evidence["net_outflow"], (600 * E18).to_string());

    // The same drain, found with no configuration at all: the vault only lost, the sender's
    // side kept it; the harmless flash loan and the stakers' withdrawals are not exploit-shaped.
    let shaped = of(&alerts, "exploit_shape");
    assert_eq!(
        shaped.len(),
        1,
        "{:#?}",
        shaped.iter().map(|a| &a.finding.title).collect::<Vec<_>>()
    );
    let e = &shaped[0].finding;
    assert!(has_tx(shaped[0], &attack));
    assert_eq!(e.severity.as_str(), "critical");
    assert_eq!(addr_json(&e.evidence["victim"]), lower(&fast));
    assert_eq!(addr_json(&e.evidence["losses"][0]["token"]), lower(&token));
    assert_eq!(e.evidence["losses"][0]["amount"], format!("-{}", 600 * E18));
    assert_eq!(e.evidence["gains"][0]["amount"], (600 * E18).to_string());

    let deploys = of(&alerts, "contract_deployment");
    assert_eq!(
        deploys.len(),
        1,
        "{:#?}",
        deploys.iter().map(|a| &a.finding.title).collect::<Vec<_>>()
    );
    let d = &deploys[0].finding;
    assert_eq!(addr_json(&d.evidence["address"]), lower(&exploiter));
    assert_ne!(addr_json(&d.evidence["address"]), lower(&token2));
    assert_eq!(addr_json(&d.evidence["deployer"]), ACCOUNT3);
    let feats = &d.evidence["features"];
    assert_eq!(feats["selfdestruct"], true);
    assert_eq!(feats["embedded_watched"][0].as_str().map(lower), Some(lower(&fast)));
    assert!(feats["flash_callbacks"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c == "onFlashLoan(address,address,uint256,uint256,bytes)"));
    let reasons = d.evidence["reasons"].to_string();
    assert!(reasons.contains("funded by a labelled address"), "{reasons}");
    assert_eq!(d.evidence["score"], 100);
    assert_eq!(d.severity.as_str(), "high");
    replay_agrees_with_live(&p, &anvil).await;
}

/// A lending market that prices collateral at a Uniswap V2 pair's spot reserves
/// (testdata/contracts/src/Manipulation.sol), robbed in one transaction: a flash loan buys the
/// collateral (its price goes up 16x), a little of it is pledged and borrowed against at that
/// price, the rest is sold back, the loan repaid. Found by `exploit_shape` with no
/// configuration; its twins, the same borrow at the fair price and the same flash-loan-funded
/// round trip on the pair without the borrow, are silent.
#[tokio::test(flavor = "multi_thread")]
async fn a_flash_loan_price_manipulation_is_found_with_no_config_and_its_twins_are_not() {
    let anvil = Anvil::start(&[]).await;
    // Collateral A, debt B (a flash-mint token), their pair at 1,000 each.
    let u = uniswap(&anvil, &[]).await;
    let market = anvil
        .deploy_artifact(
            ACCOUNT0,
            "SpotLendingPool",
            &["constructor(address,address,address)", &u.a, &u.b, &u.pair],
        )
        .await;
    anvil
        .transact(
            ACCOUNT0,
            &u.b,
            "transfer(address,uint256)",
            &[&market, &(5000 * E18).to_string()],
        )
        .await;
    let attacker = anvil
        .deploy_artifact(ACCOUNT3, "PriceManipulator", &["constructor(address)", &market])
        .await;
    let dir = tempfile::tempdir().unwrap();
    let mut p = Palisade::start(dir.path(), &anvil, "[[detectors]]\ntype = \"exploit_shape\"\n");
    p.wait_synced(&anvil).await;
    let attack_fn = "attack(uint256,uint256)";
    let (loan, pledge) = ((3000 * E18).to_string(), (50 * E18).to_string());
    // Twin 1: 50 A pledged at the fair price (1 B per A), no flash loan: borrows 40 B.
    anvil.transact(ACCOUNT0, &u.a, "transfer(address,uint256)", &[&attacker, &pledge]).await;
    let fair = anvil.transact(ACCOUNT3, &attacker, attack_fn, &["0", &pledge]).await;
    assert_eq!(balance(&anvil, &u.b, ACCOUNT3), 40 * E18);
    // Twin 2: the flash-loan round trip on the pair alone (the attacker pays the pair's fees).
    anvil
        .transact(
            ACCOUNT0,
            &u.b,
            "transfer(address,uint256)",
            &[&attacker, &(100 * E18).to_string()],
        )
        .await;
    let round = anvil.transact(ACCOUNT3, &attacker, attack_fn, &[&loan, "0"]).await;
    // The attack.
    let market_before = balance(&anvil, &u.b, &market);
    let attack = anvil.transact(ACCOUNT3, &attacker, attack_fn, &[&loan, &pledge]).await;
    assert_eq!(anvil.receipt(&attack).await["status"], "0x1");
    let taken = market_before - balance(&anvil, &u.b, &market);
    assert!(taken > 600 * E18, "the market lent {taken} against 50 A");
    p.wait_synced(&anvil).await;

    let alerts = p.alerts().await;
    let shaped = of(&alerts, "exploit_shape");
    let titles: Vec<&String> = shaped.iter().map(|a| &a.finding.title).collect();
    assert_eq!(shaped.len(), 1, "{titles:#?}");
    assert!(has_tx(shaped[0], &attack), "{titles:#?}");
    assert!(!shaped.iter().any(|a| has_tx(a, &fair) || has_tx(a, &round)));
    let e = &shaped[0].finding;
    assert_eq!(e.severity.as_str(), "critical");
    assert_eq!(addr_json(&e.evidence["victim"]), lower(&market));
    assert_eq!(addr_json(&e.evidence["losses"][0]["token"]), lower(&u.b));
    assert_eq!(e.evidence["losses"][0]["amount"], format!("-{taken}"));
    assert_eq!(addr_json(&e.evidence["manipulated"]["token"]), lower(&u.a));
    assert_eq!(addr_json(&e.evidence["manipulated"]["pool"]), lower(&u.pair));
    assert!(e.title.contains("pushed up"), "{}", e.title);
    replay_agrees_with_live(&p, &anvil).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bridge_mint_without_a_lock_on_a_second_chain_and_a_signer_change_alert_and_a_matched_mint_does_not(
) {
    let l1 = Anvil::start(&[]).await;
    let l2 = Anvil::start(&["--chain-id", "31338"]).await;
    let lockbox =
        l1.deploy_artifact(ACCOUNT0, "BridgeLockbox", &["constructor(address)", ACCOUNT5]).await;
    let wrapped =
        l2.deploy_artifact(ACCOUNT0, "BridgedToken", &["constructor(address)", ACCOUNT5]).await;
    // Palisade starts at the head: one block more keeps the deployment (and its initial signer)
    // out of what it sees.
    l1.mine(1).await;
    l2.mine(1).await;
    let dir = tempfile::tempdir().unwrap();
    let api_port = palisade_testing::anvil::free_port();
    let config = dir.path().join("palisade.toml");
    let chain = |name: &str, id: u64, a: &Anvil| {
        format!("[[chains]]\nname = '{name}'\nchain_id = {id}\nendpoints = [{{ url = '{}', ws = '{}' }}]\nrpc = {{ poll_interval_ms = 200, timeout_ms = 2000 }}\n", a.http_url(), a.ws_url())
    };
    std::fs::write(&config, format!(
        r#"data_dir = '{}'
[api]
listen = '127.0.0.1:{api_port}'
{}
{}
[[detectors]]
type = "bridge_invariant"
name = "eth"
source_chain = "l1"
dest_chain = "l2"
source_contract = "{lockbox}"
dest_contract = "{wrapped}"
lock_event = "Locked(address indexed sender, address indexed recipient, uint256 amount, uint256 nonce)"
unlock_event = "Unlocked(address indexed recipient, uint256 amount, uint256 nonce)"
mint_event = "Minted(address indexed recipient, uint256 amount, uint256 nonce)"
burn_event = "Burned(address indexed sender, address indexed recipient, uint256 amount, uint256 nonce)"
max_clock_skew_secs = 0
"#,
        dir.path().display(), chain("l1", 31337, &l1), chain("l2", 31338, &l2)
    )).unwrap();
    let mut p = Palisade::spawn(dir.path(), config, api_port);
    p.wait_chain_synced("l1", &l1).await;
    p.wait_chain_synced("l2", &l2).await;
    // Benign: 2 ETH locked on L1 and minted on L2 for lock 0.
    let lock =
        l1.send(ACCOUNT1, Some(&lockbox), &calldata("lock(address)", &[ACCOUNT1]), 2 * E18).await;
    assert_eq!(l1.receipt(&lock).await["status"], "0x1");
    let ok_mint = l2
        .transact(
            ACCOUNT5,
            &wrapped,
            "mint(address,uint256,uint256)",
            &[ACCOUNT1, &(2 * E18).to_string(), "0"],
        )
        .await;
    // The signer key mints 5 ETH for a lock that never happened, and adds a signer.
    let bad_mint = l2
        .transact(
            ACCOUNT5,
            &wrapped,
            "mint(address,uint256,uint256)",
            &[ACCOUNT2, &(5 * E18).to_string(), "7"],
        )
        .await;
    let signer = l2.transact(ACCOUNT5, &wrapped, "addSigner(address)", &[ACCOUNT6]).await;
    // Both chains move on past those times.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    l1.mine(1).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    l2.mine(1).await;
    p.wait_chain_synced("l1", &l1).await;
    p.wait_chain_synced("l2", &l2).await;
    let alerts = p.alerts().await;
    let found = of(&alerts, "bridge_invariant:eth");
    let checks: Vec<(&str, &str)> = found
        .iter()
        .map(|a| (a.finding.evidence["check"].as_str().unwrap(), a.finding.chain.as_str()))
        .collect();
    assert_eq!(found.len(), 3, "{checks:?}");
    assert!(!found.iter().any(|a| has_tx(a, &ok_mint)), "{checks:?}");
    let m = found
        .iter()
        .find(|a| a.finding.evidence["check"] == "mint_without_lock")
        .expect("the unbacked mint");
    assert!(has_tx(m, &bad_mint));
    assert_eq!(m.finding.chain, "l2");
    assert_eq!(m.finding.severity.as_str(), "critical");
    assert_eq!(m.finding.evidence["amount"], (5 * E18).to_string());
    assert_eq!(m.finding.evidence["id"], "7");
    let c = found
        .iter()
        .find(|a| a.finding.evidence["check"] == "undercollateralized")
        .expect("supply above collateral");
    assert_eq!(c.finding.evidence["excess"], (5 * E18).to_string());
    let s = found
        .iter()
        .find(|a| a.finding.evidence["check"] == "signer_change")
        .expect("the new signer");
    assert!(has_tx(s, &signer));
    assert_eq!(s.finding.evidence["args"]["signer"], ACCOUNT6);
    replay_agrees_with_live_chains(&p, &[("l1", &l1), ("l2", &l2)]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn liquidations_that_stop_after_a_price_drop_alert_and_a_drop_answered_by_liquidations_does_not(
) {
    let anvil = Anvil::start(&[]).await;
    let supply = (1_000_000 * E18).to_string();
    let ctor = "constructor(string,string,uint256)";
    let collateral = anvil
        .deploy_artifact(ACCOUNT0, "TestToken", &[ctor, "Wrapped Ether", "WETH", &supply])
        .await;
    let debt =
        anvil.deploy_artifact(ACCOUNT0, "TestToken", &[ctor, "Dollar", "USD", &supply]).await;
    let feed = anvil
        .deploy_artifact(
            ACCOUNT0,
            "PriceFeed",
            &["constructor(uint8,string,int256)", "8", "ETH / USD", "200000000000"],
        )
        .await;
    let pool = anvil.deploy_artifact(ACCOUNT0, "MiniLendingPool", &[]).await;
    anvil
        .transact(
            ACCOUNT0,
            &collateral,
            "transfer(address,uint256)",
            &[&pool, &(1000 * E18).to_string()],
        )
        .await;
    anvil.transact(ACCOUNT0, &debt, "approve(address,uint256)", &[&pool, &supply]).await;
    let dir = tempfile::tempdir().unwrap();
    let body = format!(
        r#"
[[detectors]]
type = "liquidation_health"
name = "pool"
markets = ["{pool}"]
feed = "{feed}"
drop_pct = 15
window_blocks = 50
grace_blocks = 5
"#
    );
    let mut p = Palisade::start(dir.path(), &anvil, &body);
    p.wait_synced(&anvil).await;
    let liquidate = |user: &'static str| {
        let (c, d, pool) = (collateral.clone(), debt.clone(), pool.clone());
        let anvil = &anvil;
        async move {
            anvil
                .transact(
                    ACCOUNT0,
                    &pool,
                    "liquidationCall(address,address,address,uint256,bool)",
                    &[&c, &d, user, &(10 * E18).to_string(), "false"],
                )
                .await
        }
    };
    // Twin: a 20 % drop answered by a liquidation two blocks later.
    anvil.transact(ACCOUNT0, &feed, "update(int256)", &["160000000000"]).await;
    anvil.mine(1).await;
    let answered = liquidate(ACCOUNT2).await;
    anvil.mine(8).await;
    // Recovery, then a second 20 % drop and silence.
    anvil.transact(ACCOUNT0, &feed, "update(int256)", &["200000000000"]).await;
    anvil.mine(2).await;
    let drop = anvil.transact(ACCOUNT0, &feed, "update(int256)", &["160000000000"]).await;
    let drop_block = u64::from_str_radix(
        anvil.receipt(&drop).await["blockNumber"].as_str().unwrap().trim_start_matches("0x"),
        16,
    )
    .unwrap();
    anvil.mine(6).await;
    p.wait_synced(&anvil).await;

    let alerts = p.alerts().await;
    let found = of(&alerts, "liquidation_health:pool");
    assert_eq!(found.len(), 1, "{:#?}", found.iter().map(|a| &a.finding.title).collect::<Vec<_>>());
    let f = &found[0].finding;
    assert_eq!(f.evidence["since_block"], drop_block);
    assert_eq!(f.anchor.number, drop_block + 5);
    assert_eq!(f.evidence["drop_pct"], json!(20.0));
    assert!(!has_tx(found[0], &answered));
    replay_agrees_with_live(&p, &anvil).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pool_pushed_off_its_twap_and_off_its_feed_alerts_and_a_small_trade_does_not() {
    let anvil = Anvil::start(&[]).await;
    let u = uniswap(&anvil, &[ACCOUNT1]).await;
    // A feed for the pair's price (token1 per token0, 8 decimals): 1.0 at 1,000/1,000.
    let feed = anvil
        .deploy_artifact(
            ACCOUNT0,
            "PriceFeed",
            &["constructor(uint8,string,int256)", "8", "A / B", "100000000"],
        )
        .await;
    let dir = tempfile::tempdir().unwrap();
    let body = format!(
        r#"
[[detectors]]
type = "oracle"
name = "pool"
feeds = [{{ address = "{feed}", label = "A/B", heartbeat_secs = 86400, reference_pool = {{ address = "{pair}" }}, max_deviation_pct = 3 }}]
twap = [{{ address = "{pair}", window_blocks = 5, max_deviation_pct = 5 }}]
"#,
        pair = u.pair
    );
    let mut p = Palisade::start(dir.path(), &anvil, &body);
    p.wait_synced(&anvil).await;
    anvil.mine(3).await;
    // Benign: 1 A moves the price by about 0.2 %.
    let small = anvil
        .transact(
            ACCOUNT1,
            &u.router,
            "swapExactTokensForTokens(uint256,uint256,address[],address,uint256)",
            &[&E18.to_string(), "0", &format!("[{},{}]", u.a, u.b), ACCOUNT1, "99999999999"],
        )
        .await;
    anvil.mine(2).await;
    p.wait_synced(&anvil).await;
    assert!(of(&p.alerts().await, "oracle:pool").is_empty(), "a small trade raised an alert");
    // Manipulation: 90 A in one swap (about 17 % of the price).
    let tx = json!({"from": ACCOUNT1, "to": u.router, "data": swap_data(90 * E18, [&u.a, &u.b], ACCOUNT1), "gas": "0x7a1200"});
    let big = anvil.rpc("eth_sendTransaction", json!([tx])).await.as_str().unwrap().to_string();
    assert_eq!(anvil.receipt(&big).await["status"], "0x1");
    p.wait_synced(&anvil).await;

    let alerts = p.alerts().await;
    let found = of(&alerts, "oracle:pool");
    let block = u64::from_str_radix(
        anvil.receipt(&big).await["blockNumber"].as_str().unwrap().trim_start_matches("0x"),
        16,
    )
    .unwrap();
    let checks: Vec<&str> =
        found.iter().map(|a| a.finding.evidence["check"].as_str().unwrap()).collect();
    assert_eq!(checks.len(), 2, "{checks:?}");
    assert!(found.iter().all(|a| a.finding.anchor.number == block));
    let twap = found
        .iter()
        .find(|a| a.finding.evidence["check"] == "spot_vs_twap")
        .expect("spot off its TWAP");
    assert_eq!(addr_json(&twap.finding.evidence["pool"]), u.pair);
    // The spot the detector read is the pair's own reserves ratio after the swap.
    let reserves = anvil.cast(&["call", &u.pair, "getReserves()(uint112,uint112,uint32)"]);
    let r: Vec<f64> =
        reserves.lines().map(|l| l.split_whitespace().next().unwrap().parse().unwrap()).collect();
    let spot = twap.finding.evidence["spot"].as_f64().unwrap();
    assert!((spot - r[1] / r[0]).abs() < 1e-9, "{spot} vs {}", r[1] / r[0]);
    let dev = found
        .iter()
        .find(|a| a.finding.evidence["check"] == "deviation")
        .expect("feed off the pool");
    assert!(dev.finding.evidence["reference"].as_str().unwrap().contains(&u.pair[2..]));
    assert!(!has_tx(dev, &small));
    replay_agrees_with_live(&p, &anvil).await;
}

/// The same sandwich seen while it is still pending: the victim's swap arrives, then the
/// attacker's swap on the same pair and in the same direction with a higher priority fee (a
/// front-run), then the attacker's next transaction paying less than the victim (the back-run):
/// a pending sandwich, before any block. Its twin (the other direction) raises nothing.
#[tokio::test(flavor = "multi_thread")]
async fn a_pending_sandwich_is_seen_before_inclusion_and_its_twin_is_not() {
    let anvil = Anvil::start(&[]).await;
    let Uni { router, a, b, pair } = uniswap(&anvil, &[ACCOUNT1, ACCOUNT2, ACCOUNT3]).await;
    let dir = tempfile::tempdir().unwrap();
    let endpoints = format!("[{{ url = '{}', ws = '{}' }}]", anvil.http_url(), anvil.ws_url());
    let mut p = Palisade::start_full(
        dir.path(),
        &endpoints,
        32,
        "[chains.mempool]\nenabled = true\npoll_interval_ms = 0",
        &format!("[[detectors]]\ntype = 'mempool_frontrun'\npools = ['{pair}']\n"),
    );
    p.wait_synced(&anvil).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    anvil.rpc("evm_setAutomine", json!([false])).await;
    let victim =
        submit(&anvil, ACCOUNT2, &router, &swap_data(10 * E18, [&a, &b], ACCOUNT2), 2).await;
    let front =
        submit(&anvil, ACCOUNT1, &router, &swap_data(20 * E18, [&a, &b], ACCOUNT1), 5).await;
    let back = submit(&anvil, ACCOUNT1, &router, &swap_data(19 * E18, [&b, &a], ACCOUNT1), 1).await;
    let found = wait_for(20, "the pending sandwich", || async {
        let alerts = p.alerts().await;
        let f = of(&alerts, "mempool_frontrun:default").len();
        (f >= 2).then_some(alerts)
    })
    .await;
    // Nothing is mined yet: both findings came from the pending transactions alone.
    assert_eq!(anvil.rpc("eth_getTransactionReceipt", json!([front])).await, Value::Null);
    let fr = of(&found, "mempool_frontrun:default");
    let frontrun = fr.iter().find(|a| a.finding.evidence["check"] == "pending_frontrun").unwrap();
    assert_eq!(frontrun.finding.evidence["pending_tx"], front);
    assert_eq!(frontrun.finding.evidence["victim"], victim);
    assert_eq!(addr_json(&frontrun.finding.evidence["pool"]), pair);
    let sandwich = fr.iter().find(|a| a.finding.evidence["check"] == "pending_sandwich").unwrap();
    assert_eq!(sandwich.finding.severity.as_str(), "high");
    assert_eq!(sandwich.finding.evidence["back_run"], back);
    assert_eq!(sandwich.finding.evidence["front_run"], front);
    assert_eq!(sandwich.finding.evidence["victim"], victim);
    // /health shows the watch.
    let h: Value = reqwest::get(format!("http://127.0.0.1:{}/health", p.api_port))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let m = &h["chains"]["anvil"]["mempool"];
    assert!(m["judged"].as_u64().unwrap() >= 3 && m["findings"].as_u64().unwrap() >= 2, "{h}");
    anvil.rpc("evm_mine", json!([])).await;
    p.wait_synced(&anvil).await;
    // The twin: a buy, then a sale of B (the other direction) by another sender, then the
    // buyer's sale: no front-run, no sandwich.
    let before = of(&p.alerts().await, "mempool_frontrun:default").len();
    submit(&anvil, ACCOUNT3, &router, &swap_data(20 * E18, [&a, &b], ACCOUNT3), 5).await;
    submit(&anvil, ACCOUNT2, &router, &swap_data(10 * E18, [&b, &a], ACCOUNT2), 2).await;
    submit(&anvil, ACCOUNT3, &router, &swap_data(19 * E18, [&b, &a], ACCOUNT3), 1).await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let after = of(&p.alerts().await, "mempool_frontrun:default").len();
    assert_eq!(after, before, "the twin raised a finding");
    anvil.rpc("evm_setAutomine", json!([true])).await;
}

/// Every upgrade audited with no configuration beyond the detector's type: OpenZeppelin's
/// ERC-1967 proxy over a UUPS implementation, upgraded to a benign next version (scored low)
/// and then to one that adds a self-destruct and a mint anyone can call (both reasons, high).
#[tokio::test(flavor = "multi_thread")]
async fn upgrades_are_audited_against_the_implementation_before() {
    let anvil = Anvil::start(&[]).await;
    let dir = tempfile::tempdir().unwrap();
    let mut p = Palisade::start(dir.path(), &anvil, "[[detectors]]\ntype = 'upgrade_audit'\n");
    p.wait_synced(&anvil).await;
    let v1 = anvil.deploy_artifact(ACCOUNT0, "OpenUpgradeV1", &[]).await;
    let proxy =
        anvil.deploy_artifact(ACCOUNT0, "ScenarioProxy", &["constructor(address)", &v1]).await;
    let v2 = anvil.deploy_artifact(ACCOUNT0, "OpenUpgradeV2", &[]).await;
    let risky = anvil.deploy_artifact(ACCOUNT0, "RiskyUpgradeV2", &[]).await;
    let up = "upgradeToAndCall(address,bytes)";
    let benign = anvil.transact(ACCOUNT1, &proxy, up, &[&v2, "0x"]).await;
    let bad = anvil.transact(ACCOUNT1, &proxy, up, &[&risky, "0x"]).await;
    // The proxy now runs the risky code: its version is 2 and anyone can mint.
    assert_eq!(view(&anvil, &proxy, "version()(uint256)", &[]).trim(), "2");
    p.wait_synced(&anvil).await;

    let alerts = p.alerts().await;
    let audits = of(&alerts, "upgrade_audit");
    let titles: Vec<&String> = audits.iter().map(|a| &a.finding.title).collect();
    assert_eq!(audits.len(), 3, "{titles:#?}");
    // The deployment set V1, not seen before: audited on its own code.
    let first = audits
        .iter()
        .find(|a| addr_json(&a.finding.evidence["new_implementation"]) == lower(&v1))
        .unwrap();
    assert_eq!(first.finding.evidence["previous_code_seen"], false);
    assert_eq!(addr_json(&first.finding.evidence["proxy"]), lower(&proxy));
    // V1 -> V2 changes a constant only.
    let b = audits.iter().find(|a| has_tx(a, &benign)).unwrap();
    assert_eq!(addr_json(&b.finding.evidence["old_implementation"]), lower(&v1));
    assert_eq!(b.finding.evidence["score"], 0, "{}", b.finding.title);
    assert_eq!(b.finding.severity.as_str(), "low");
    assert_eq!(b.finding.evidence["diff"]["added"], json!([]));
    // V2 -> the risky one: both reasons, high.
    let r = audits.iter().find(|a| has_tx(a, &bad)).unwrap();
    assert_eq!(addr_json(&r.finding.evidence["old_implementation"]), lower(&v2));
    let reasons = r.finding.evidence["reasons"].to_string();
    assert!(reasons.contains("adds SELFDESTRUCT"), "{reasons}");
    assert!(reasons.contains("without a caller check: mint(address,uint256)"), "{reasons}");
    assert_eq!(r.finding.severity.as_str(), "high", "{}", r.finding.title);
    let added = r.finding.evidence["diff"]["added"].to_string();
    assert!(added.contains("destroy()") && added.contains("mint(address,uint256)"), "{added}");
    replay_agrees_with_live(&p, &anvil).await;
}
