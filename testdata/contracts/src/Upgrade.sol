// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {UUPSUpgradeable} from "@openzeppelin/contracts/proxy/utils/UUPSUpgradeable.sol";

/// An upgrade of Defi.sol's OpenUpgradeV1 that an audit must catch: it keeps V1's functions and
/// adds a mint anyone can call and a self-destruct.
contract RiskyUpgradeV2 is UUPSUpgradeable {
    mapping(address => uint256) public minted;

    function version() external pure returns (uint256) {
        return 2;
    }

    function _authorizeUpgrade(address) internal override {}

    // FLAW: no access check.
    function mint(address to, uint256 amount) external {
        minted[to] += amount;
    }

    function destroy() external {
        selfdestruct(payable(msg.sender));
    }
}
