// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/// A vault with an owner: the target of Palisade's rule scenarios.
contract Vault {
    address public owner;
    uint256 public counter;

    event OwnerChanged(address indexed previousOwner, address indexed newOwner);
    event Poked(address indexed by, uint256 value);

    constructor() {
        owner = msg.sender;
    }

    /// Deliberately unguarded: the monitor must notice who calls it.
    function setOwner(address newOwner) external {
        emit OwnerChanged(owner, newOwner);
        owner = newOwner;
    }

    /// A harmless call that emits an event (one finding per block in live-vs-replay tests).
    function poke(uint256 value) external {
        counter += value;
        emit Poked(msg.sender, value);
    }
}

/// Calls the vault from inside another contract: top-level matching cannot see this.
contract Attacker {
    function hijack(Vault vault, address newOwner) external {
        vault.setOwner(newOwner);
    }
}

/// A proxy that keeps its implementation in the EIP-1967 slot but emits no `Upgraded` event when
/// it changes: the case storage-proof watches exist for.
contract QuietProxy {
    bytes32 private constant IMPLEMENTATION =
        0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc;
    address public admin;

    constructor(address implementation) {
        admin = msg.sender;
        assembly {
            sstore(IMPLEMENTATION, implementation)
        }
    }

    /// Changes the implementation without an event.
    function upgradeTo(address implementation) external {
        require(msg.sender == admin, "not admin");
        assembly {
            sstore(IMPLEMENTATION, implementation)
        }
    }

    receive() external payable {}

    fallback() external payable {
        assembly {
            let impl := sload(IMPLEMENTATION)
            calldatacopy(0, 0, calldatasize())
            let ok := delegatecall(gas(), impl, 0, calldatasize(), 0, 0)
            returndatacopy(0, 0, returndatasize())
            switch ok
            case 0 { revert(0, returndatasize()) }
            default { return(0, returndatasize()) }
        }
    }
}
