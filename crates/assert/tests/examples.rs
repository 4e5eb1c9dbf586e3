//! The example assertions (examples/assertions, compiled by scripts/build_contracts.sh) over
//! real transactions on the test contracts, executed in revm on an in-memory chain: each
//! violation is found with its reason, each benign twin holds, a runaway assertion is reported
//! over budget without stopping the others.

use alloy_primitives::{keccak256, Address, Bytes, FixedBytes, B256, U256};
use alloy_sol_types::SolValue;
use palisade_assert::{check_tx, Checked, Prepared, Verdict};
use palisade_primitives::assertion::{AssertionSpec, TriggerKind, DEFAULT_GAS_BUDGET};
use revm::context::{BlockEnv, CfgEnv, TxEnv};
use revm::database::{CacheDB, EmptyDB};
use revm::primitives::TxKind;
use revm::state::AccountInfo;
use revm::DatabaseCommit;
use std::sync::Arc;

const ETH: u128 = 1_000_000_000_000_000_000;

fn artifact(name: &str) -> (Bytes, Vec<([u8; 4], String)>) {
    let path = format!("{}/../../testdata/contracts/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let code: Bytes = v["bytecode"].as_str().unwrap().parse().unwrap();
    let mut fns = Vec::new();
    for f in v["abi"].as_array().unwrap() {
        if f["type"] == "function" {
            let args: Vec<&str> = f["inputs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["type"].as_str().unwrap())
                .collect();
            let name = f["name"].as_str().unwrap();
            let sig = format!("{name}({})", args.join(","));
            fns.push((keccak256(sig.as_bytes())[..4].try_into().unwrap(), name.to_string()));
        }
    }
    (code, fns)
}

fn sel(sig: &str) -> [u8; 4] {
    keccak256(sig.as_bytes())[..4].try_into().unwrap()
}

struct Chain {
    db: CacheDB<EmptyDB>,
    nonce: u64,
}

impl Chain {
    fn new(accounts: &[Address]) -> Self {
        let mut db = CacheDB::new(EmptyDB::default());
        for a in accounts {
            db.insert_account_info(
                *a,
                AccountInfo { balance: U256::from(100 * ETH), ..Default::default() },
            );
        }
        Self { db, nonce: 0 }
    }

    fn tx(&mut self, from: Address, to: Option<Address>, data: Vec<u8>, value: u128) -> TxEnv {
        self.nonce += 1;
        TxEnv {
            caller: from,
            kind: to.map(TxKind::Call).unwrap_or(TxKind::Create),
            data: data.into(),
            value: U256::from(value),
            gas_limit: 5_000_000,
            gas_price: 0,
            chain_id: Some(1),
            nonce: self.nonce,
            ..Default::default()
        }
    }

    fn cfg() -> CfgEnv {
        let mut cfg = CfgEnv::default();
        cfg.chain_id = 1;
        cfg.disable_nonce_check = true;
        cfg.disable_base_fee = true;
        cfg
    }

    /// Runs and commits a transaction, checking `assertions` on it.
    fn run(&mut self, tx: TxEnv, assertions: &[Arc<Prepared>]) -> Checked {
        let hash = B256::from(U256::from(self.nonce));
        let c =
            check_tx(&self.db, &BlockEnv::default(), &Self::cfg(), &tx, hash, assertions).unwrap();
        self.db.commit(c.state.clone());
        c
    }

    fn deploy(&mut self, from: Address, code: Bytes, args: Vec<u8>) -> Address {
        let mut data = code.to_vec();
        data.extend(args);
        let tx = self.tx(from, None, data, 0);
        let nonce = self.db.cache.accounts.get(&from).map(|a| a.info.nonce).unwrap_or(0);
        let c = self.run(tx, &[]);
        assert!(c.success, "deploying failed");
        from.create(nonce)
    }
}

fn prepared(
    name: &str,
    artifact_name: &str,
    adopter: Address,
    args: Vec<u8>,
    budget: u64,
) -> Arc<Prepared> {
    let (code, functions) = artifact(artifact_name);
    let mut init = code.to_vec();
    init.extend(args);
    let spec = AssertionSpec {
        name: name.into(),
        adopter,
        init_code: init.into(),
        triggers: Vec::new(),
        gas_budget: budget,
        functions,
    };
    Arc::new(Prepared::new(Arc::new(spec), 1).unwrap())
}

fn word(a: Address) -> Vec<u8> {
    a.into_word().to_vec()
}

const OWNER: Address = Address::repeat_byte(0x01);
const GUARDIAN: Address = Address::repeat_byte(0x02);
const DEPOSITOR: Address = Address::repeat_byte(0x03);
const ATTACKER: Address = Address::repeat_byte(0x04);

fn vault_chain() -> (Chain, Address, Address) {
    let mut c = Chain::new(&[OWNER, GUARDIAN, DEPOSITOR, ATTACKER]);
    let vault = c.deploy(OWNER, artifact("GuardedVault").0, word(GUARDIAN));
    let t = c.tx(OWNER, Some(vault), sel("deposit()").to_vec(), 6 * ETH);
    assert!(c.run(t, &[]).success);
    let t = c.tx(DEPOSITOR, Some(vault), sel("deposit()").to_vec(), 4 * ETH);
    assert!(c.run(t, &[]).success);
    let drainer = c.deploy(ATTACKER, artifact("VaultDrainer").0, Vec::new());
    (c, vault, drainer)
}

fn vault_assertions(vault: Address) -> Vec<Arc<Prepared>> {
    let entry: Vec<FixedBytes<4>> = ["deposit()", "redeem(uint256)", "migrate(address)"]
        .iter()
        .map(|s| sel(s).into())
        .collect();
    vec![
        prepared(
            "share-price",
            "SharePriceAssertion",
            vault,
            (entry,).abi_encode_params(),
            DEFAULT_GAS_BUDGET,
        ),
        prepared(
            "outflow",
            "OutflowBoundAssertion",
            vault,
            U256::from(5000).abi_encode(),
            DEFAULT_GAS_BUDGET,
        ),
    ]
}

#[test]
fn the_vault_drain_breaks_the_share_price_and_the_outflow_bound() {
    let (mut c, vault, drainer) = vault_chain();
    let assertions = vault_assertions(vault);
    assert_eq!(assertions[0].triggers()[0].kind, TriggerKind::AnyCall);
    assert_eq!(assertions[1].triggers()[0].kind, TriggerKind::BalanceChange);
    let mut data = sel("run(address)").to_vec();
    data.extend(word(vault));
    let t = c.tx(ATTACKER, Some(drainer), data, 0);
    let r = c.run(t, &assertions);
    assert!(r.success);
    assert_eq!(r.outcomes.len(), 2, "{:#?}", r.outcomes);
    let price = &r.outcomes[0];
    assert_eq!(price.function, "assertSharePrice");
    assert_eq!(
        price.verdict,
        Verdict::Violated { reason: "revert: share price dropped during a call".into() },
        "{price:#?}"
    );
    // The trigger: the drainer's call into the vault (call 1), by the drainer.
    assert_eq!((price.trigger.call_id, price.trigger.caller), (Some(1), Some(drainer)));
    assert_eq!(price.trigger.selector, Some(sel("migrate(address)")));
    // What it read: the price before (1e18 per share) and after migrate (0).
    let values: Vec<(String, U256)> =
        price.reads.iter().map(|r| (r.fork.clone(), U256::from_be_slice(&r.value))).collect();
    assert_eq!(
        values,
        vec![("pre_tx".into(), U256::from(ETH)), ("post_call:1".into(), U256::ZERO)],
        "{price:#?}"
    );
    let outflow = &r.outcomes[1];
    assert_eq!(
        outflow.verdict,
        Verdict::Violated { reason: "revert: outflow above the bound".into() }
    );
}

#[test]
fn the_owners_redemption_holds() {
    let (mut c, vault, _) = vault_chain();
    let assertions = vault_assertions(vault);
    let mut data = sel("redeem(uint256)").to_vec();
    data.extend(U256::from(4 * ETH).to_be_bytes::<32>());
    let t = c.tx(OWNER, Some(vault), data, 0);
    let r = c.run(t, &assertions);
    assert!(r.success);
    assert_eq!(r.outcomes.len(), 2);
    for o in &r.outcomes {
        assert_eq!(o.verdict, Verdict::Held, "{o:#?}");
        assert!(o.gas_used > 0 && o.gas_used < DEFAULT_GAS_BUDGET);
    }
    // A transaction that does not reach the vault triggers nothing.
    let t = c.tx(OWNER, Some(DEPOSITOR), Vec::new(), ETH);
    assert!(c.run(t, &assertions).outcomes.is_empty());
}

#[test]
fn a_runaway_assertion_is_reported_over_budget_and_the_others_still_run() {
    let (mut c, vault, drainer) = vault_chain();
    let mut assertions = vec![prepared("runaway", "RunawayAssertion", vault, Vec::new(), 200_000)];
    assertions.extend(vault_assertions(vault));
    let mut data = sel("run(address)").to_vec();
    data.extend(word(vault));
    let t = c.tx(ATTACKER, Some(drainer), data, 0);
    let r = c.run(t, &assertions);
    assert_eq!(r.outcomes.len(), 3);
    assert_eq!(r.outcomes[0].verdict, Verdict::OverBudget, "{:#?}", r.outcomes[0]);
    assert!(r.outcomes[0].gas_used <= 200_000);
    assert!(r.outcomes[1].violated() && r.outcomes[2].violated());
}

#[test]
fn the_owner_changes_only_through_the_timelock() {
    const TIMELOCK: Address = Address::repeat_byte(0x05);
    let mut c = Chain::new(&[OWNER, ATTACKER, TIMELOCK]);
    let treasury = c.deploy(TIMELOCK, artifact("Treasury").0, Vec::new());
    let hijacker = c.deploy(ATTACKER, artifact("Hijacker").0, Vec::new());
    let a = vec![prepared(
        "owner",
        "OwnerTimelockAssertion",
        treasury,
        word(TIMELOCK),
        DEFAULT_GAS_BUDGET,
    )];
    assert_eq!(a[0].triggers()[0].kind, TriggerKind::TxEnd);
    // The timelock hands the treasury to the owner: allowed.
    let mut data = sel("transferOwnership(address)").to_vec();
    data.extend(word(OWNER));
    let t = c.tx(TIMELOCK, Some(treasury), data, 0);
    let r = c.run(t, &a);
    assert_eq!(r.outcomes.len(), 1);
    assert_eq!(r.outcomes[0].verdict, Verdict::Held);
    // The hijack through the unguarded initialize: not.
    let mut data = sel("hijack(address)").to_vec();
    data.extend(word(treasury));
    let t = c.tx(ATTACKER, Some(hijacker), data, 0);
    let r = c.run(t, &a);
    assert!(r.success);
    assert_eq!(
        r.outcomes[0].verdict,
        Verdict::Violated { reason: "revert: owner changed outside the timelock".into() }
    );
}

#[test]
fn the_implementation_slot_is_written_only_by_the_admins_upgrade() {
    let mut c = Chain::new(&[OWNER, ATTACKER]);
    let v1 = c.deploy(OWNER, artifact("OpenUpgradeV1").0, Vec::new());
    let v2 = c.deploy(OWNER, artifact("OpenUpgradeV2").0, Vec::new());
    let proxy = c.deploy(OWNER, artifact("ScenarioProxy").0, word(v1));
    let a = vec![prepared(
        "impl",
        "ImplementationSlotAssertion",
        proxy,
        word(OWNER),
        DEFAULT_GAS_BUDGET,
    )];
    assert!(matches!(a[0].triggers()[0].kind, TriggerKind::StorageChange { slot: Some(_) }));
    let upgrade = |to: Address| {
        let mut data = sel("upgradeToAndCall(address,bytes)").to_vec();
        data.extend((to, Bytes::new()).abi_encode_params());
        data
    };
    let t = c.tx(OWNER, Some(proxy), upgrade(v2), 0);
    let r = c.run(t, &a);
    assert!(r.success);
    assert_eq!(r.outcomes.len(), 1);
    assert_eq!(r.outcomes[0].verdict, Verdict::Held, "{:#?}", r.outcomes[0]);
    // OpenUpgradeV1/V2 forget the owner check: anyone can upgrade, and the assertion says so.
    let t = c.tx(ATTACKER, Some(proxy), upgrade(v1), 0);
    let r = c.run(t, &a);
    assert!(r.success);
    assert_eq!(
        r.outcomes[0].verdict,
        Verdict::Violated {
            reason: "revert: implementation changed without the admin's upgrade".into()
        }
    );
    // A call that leaves the slot alone runs nothing.
    let t = c.tx(ATTACKER, Some(proxy), sel("version()").to_vec(), 0);
    assert!(c.run(t, &a).outcomes.is_empty());
}
