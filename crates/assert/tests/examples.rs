//! The example assertions (examples/assertions, compiled by scripts/build_contracts.sh) over
//! real transactions on the test contracts, executed in revm on an in-memory chain: each
//! violation is found with its reason, each benign twin holds, a runaway assertion is reported
//! over budget without stopping the others.

mod support;

use alloy_primitives::{Address, Bytes, U256};
use alloy_sol_types::SolValue;
use palisade_assert::Verdict;
use palisade_primitives::assertion::{TriggerKind, DEFAULT_GAS_BUDGET};
use support::*;

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
