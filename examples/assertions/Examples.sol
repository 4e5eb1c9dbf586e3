// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

// Example assertions, one per scenario of Palisade's tests. Each protects one contract (its
// "adopter", given in config) and is compiled with scripts/build_contracts.sh.

import {Assertion, PhEvm} from "./Credible.sol";

interface IShareVault {
    function convertToAssets(uint256 shares) external view returns (uint256);
}

interface IOwnable {
    function owner() external view returns (address);
}

/// An ERC-4626 vault's share price never drops within a transaction: not after it, and not at
/// the end of any deposit, mint, withdraw, redeem or other registered entry point it made.
contract SharePriceAssertion is Assertion {
    uint256 private constant ONE = 1e18;
    bytes4[] private entryPoints;

    /// `entryPoints_`: the vault's functions whose every call is checked (ERC-4626's four when
    /// empty).
    constructor(bytes4[] memory entryPoints_) {
        if (entryPoints_.length == 0) {
            entryPoints.push(bytes4(keccak256("deposit(uint256,address)")));
            entryPoints.push(bytes4(keccak256("mint(uint256,address)")));
            entryPoints.push(bytes4(keccak256("withdraw(uint256,address,address)")));
            entryPoints.push(bytes4(keccak256("redeem(uint256,address,address)")));
        } else {
            entryPoints = entryPoints_;
        }
    }

    function triggers() external view override {
        registerCallTrigger(this.assertSharePrice.selector);
    }

    function price(address vault) internal view returns (uint256) {
        return IShareVault(vault).convertToAssets(ONE);
    }

    function assertSharePrice() external {
        address vault = ph.getAssertionAdopter();
        ph.forkPreTx();
        uint256 before = price(vault);
        for (uint256 i = 0; i < entryPoints.length; i++) {
            PhEvm.CallInputs[] memory calls = ph.getAllCallInputs(vault, entryPoints[i]);
            for (uint256 j = 0; j < calls.length; j++) {
                ph.forkPostCall(calls[j].id);
                require(price(vault) >= before, "share price dropped during a call");
            }
        }
        ph.forkPostTx();
        require(price(vault) >= before, "share price dropped");
    }
}

/// The owner of an Ownable contract changes only through its timelock's transferOwnership.
contract OwnerTimelockAssertion is Assertion {
    address public immutable timelock;

    constructor(address timelock_) {
        timelock = timelock_;
    }

    function triggers() external view override {
        registerTxEndTrigger(this.assertOwnerChange.selector);
    }

    function assertOwnerChange() external {
        address target = ph.getAssertionAdopter();
        ph.forkPreTx();
        address before = IOwnable(target).owner();
        ph.forkPostTx();
        address now_ = IOwnable(target).owner();
        if (now_ == before) return;
        PhEvm.CallInputs[] memory calls =
            ph.getCallInputs(target, bytes4(keccak256("transferOwnership(address)")));
        for (uint256 i = 0; i < calls.length; i++) {
            if (calls[i].caller == timelock && abi.decode(calls[i].input, (address)) == now_) return;
        }
        revert("owner changed outside the timelock");
    }
}

/// An EIP-1967 proxy's implementation slot is written only by its admin's upgrade call
/// (upgradeToAndCall from `admin`: the UUPS owner, or a transparent proxy's ProxyAdmin).
contract ImplementationSlotAssertion is Assertion {
    bytes32 private constant IMPLEMENTATION =
        0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc;
    address public immutable admin;

    constructor(address admin_) {
        admin = admin_;
    }

    function triggers() external view override {
        registerStorageChangeTrigger(this.assertUpgradeByAdmin.selector, IMPLEMENTATION);
    }

    function assertUpgradeByAdmin() external {
        address proxy = ph.getAssertionAdopter();
        bytes32[] memory values = ph.getStateChanges(proxy, IMPLEMENTATION);
        if (values.length == 0) return;
        address implementation = address(uint160(uint256(values[values.length - 1])));
        PhEvm.CallInputs[] memory calls =
            ph.getCallInputs(proxy, bytes4(keccak256("upgradeToAndCall(address,bytes)")));
        for (uint256 i = 0; i < calls.length; i++) {
            (address to,) = abi.decode(calls[i].input, (address, bytes));
            if (calls[i].caller == admin && to == implementation) return;
        }
        revert("implementation changed without the admin's upgrade");
    }
}

/// No transaction takes more than a share of the contract's ether.
contract OutflowBoundAssertion is Assertion {
    uint256 public immutable maxBps;

    /// `maxBps_`: the largest share of its balance one transaction may take, in basis points.
    constructor(uint256 maxBps_) {
        maxBps = maxBps_;
    }

    function triggers() external view override {
        registerBalanceChangeTrigger(this.assertOutflow.selector);
    }

    function assertOutflow() external {
        address target = ph.getAssertionAdopter();
        ph.forkPreTx();
        uint256 before = target.balance;
        ph.forkPostTx();
        uint256 after_ = target.balance;
        if (after_ >= before) return;
        require((before - after_) * 10_000 <= before * maxBps, "outflow above the bound");
    }
}

/// An assertion that never finishes: what a gas budget is for.
contract RunawayAssertion is Assertion {
    uint256 private counter;

    function triggers() external view override {
        registerCallTrigger(this.assertForever.selector);
    }

    function assertForever() external {
        while (true) {
            counter += 1;
        }
    }
}
