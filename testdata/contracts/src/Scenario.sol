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
