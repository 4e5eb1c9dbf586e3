// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

// The DeFi scenarios of Palisade's tests. OpenZeppelin Contracts 5.1.0 (MIT) provide the token,
// flash loans, ownership, roles, pausing and proxies; Uniswap V2 comes from its npm artifacts.
// Each contract below carries the flaw its scenario needs, and says so.

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20FlashMint} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20FlashMint.sol";
import {IERC3156FlashBorrower} from "@openzeppelin/contracts/interfaces/IERC3156FlashBorrower.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts/proxy/utils/UUPSUpgradeable.sol";
import {ERC1967Proxy} from "@openzeppelin/contracts/proxy/ERC1967/ERC1967Proxy.sol";

/// An ERC-20 with ERC-3156 flash loans (OpenZeppelin's ERC20FlashMint): the scenarios' tokens
/// and their flash lender.
contract TestToken is ERC20, ERC20FlashMint {
    constructor(string memory name, string memory symbol, uint256 supply) ERC20(name, symbol) {
        _mint(msg.sender, supply);
    }
}

/// A Chainlink-style aggregator (AggregatorV3Interface) whose rounds its owner sets.
contract PriceFeed is Ownable {
    struct Round {
        int256 answer;
        uint256 startedAt;
        uint256 updatedAt;
        uint80 answeredInRound;
    }

    uint8 public immutable decimals;
    string public description;
    uint80 public latestRound;
    mapping(uint80 => Round) internal rounds;

    event AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt);
    event NewRound(uint256 indexed roundId, address indexed startedBy, uint256 startedAt);

    constructor(uint8 _decimals, string memory _description, int256 initial) Ownable(msg.sender) {
        decimals = _decimals;
        description = _description;
        _update(initial);
    }

    /// A new round with this answer.
    function update(int256 answer) external onlyOwner {
        _update(answer);
    }

    /// A new round that carries the previous round's answer (answeredInRound < roundId).
    function carry() external onlyOwner {
        uint80 id = latestRound + 1;
        rounds[id] = Round(rounds[latestRound].answer, block.timestamp, block.timestamp, latestRound);
        latestRound = id;
        emit NewRound(id, msg.sender, block.timestamp);
    }

    function _update(int256 answer) internal {
        uint80 id = latestRound + 1;
        rounds[id] = Round(answer, block.timestamp, block.timestamp, id);
        latestRound = id;
        emit NewRound(id, msg.sender, block.timestamp);
        emit AnswerUpdated(answer, id, block.timestamp);
    }

    function latestRoundData() external view returns (uint80, int256, uint256, uint256, uint80) {
        Round memory r = rounds[latestRound];
        return (latestRound, r.answer, r.startedAt, r.updatedAt, r.answeredInRound);
    }

    function getRoundData(uint80 id) external view returns (uint80, int256, uint256, uint256, uint80) {
        Round memory r = rounds[id];
        return (id, r.answer, r.startedAt, r.updatedAt, r.answeredInRound);
    }

    function version() external pure returns (uint256) {
        return 4;
    }
}

/// A treasury with OpenZeppelin's Ownable, AccessControl and Pausable, and a re-initialization
/// flaw: `initialize` can be called again, by anyone (the bug class of several real hijacks).
contract Treasury is Ownable, AccessControl, Pausable {
    bytes32 public constant MANAGER_ROLE = keccak256("MANAGER_ROLE");

    constructor() Ownable(msg.sender) {
        _grantRole(DEFAULT_ADMIN_ROLE, msg.sender);
    }

    /// Deliberately unguarded.
    function initialize(address newOwner) external {
        _transferOwnership(newOwner);
    }

    function pause() external onlyOwner {
        _pause();
    }

    function unpause() external onlyOwner {
        _unpause();
    }
}

/// Takes a Treasury over from inside a contract call: top-level matching cannot see it.
contract Hijacker {
    function hijack(Treasury t) external {
        t.initialize(msg.sender);
    }
}

/// A UUPS implementation whose upgrade is not restricted (a missing `onlyOwner` on
/// `_authorizeUpgrade`): anyone can upgrade the proxy in front of it.
contract OpenUpgradeV1 is UUPSUpgradeable {
    function version() external pure virtual returns (uint256) {
        return 1;
    }

    function _authorizeUpgrade(address) internal override {}
}

/// The next implementation.
contract OpenUpgradeV2 is OpenUpgradeV1 {
    function version() external pure override returns (uint256) {
        return 2;
    }
}

/// OpenZeppelin's ERC-1967 proxy, deployed as is.
contract ScenarioProxy is ERC1967Proxy {
    constructor(address implementation) ERC1967Proxy(implementation, "") {}
}

/// A vault that lets anyone holding at least `minStake` tokens withdraw: a check that borrowed
/// funds pass (the flash-loan-enabled bug class).
contract StakeVault {
    IERC20 public immutable token;
    uint256 public immutable minStake;

    event Withdrawn(address indexed to, uint256 amount);

    constructor(IERC20 _token, uint256 _minStake) {
        token = _token;
        minStake = _minStake;
    }

    function withdraw(uint256 amount) external {
        require(token.balanceOf(msg.sender) >= minStake, "stake too small");
        token.transfer(msg.sender, amount);
        emit Withdrawn(msg.sender, amount);
    }
}

/// Borrows with ERC-3156, passes the vault's check with the loan, takes `take`, repays and sends
/// the rest to its owner. With `take` zero it is a harmless flash loan.
contract FlashExploiter is IERC3156FlashBorrower {
    address public immutable owner;
    StakeVault public immutable vault;

    constructor(StakeVault _vault) {
        owner = msg.sender;
        vault = _vault;
    }

    function attack(uint256 loan, uint256 take) external {
        TestToken t = TestToken(address(vault.token()));
        t.flashLoan(this, address(t), loan, abi.encode(take));
        t.transfer(owner, t.balanceOf(address(this)));
    }

    function onFlashLoan(address, address token, uint256 amount, uint256 fee, bytes calldata data)
        external
        returns (bytes32)
    {
        uint256 take = abi.decode(data, (uint256));
        if (take > 0) {
            vault.withdraw(take);
        }
        IERC20(token).approve(msg.sender, amount + fee);
        return keccak256("ERC3156FlashBorrower.onFlashLoan");
    }

    function destroy() external {
        require(msg.sender == owner, "not owner");
        selfdestruct(payable(owner));
    }
}

/// A lending pool reduced to its liquidation: the liquidator repays debt and receives collateral
/// with a 5 % bonus, and the pool emits Aave V2's LiquidationCall event.
contract MiniLendingPool {
    event LiquidationCall(
        address indexed collateralAsset,
        address indexed debtAsset,
        address indexed user,
        uint256 debtToCover,
        uint256 liquidatedCollateralAmount,
        address liquidator,
        bool receiveAToken
    );

    function liquidationCall(
        address collateralAsset,
        address debtAsset,
        address user,
        uint256 debtToCover,
        bool receiveAToken
    ) external {
        IERC20(debtAsset).transferFrom(msg.sender, address(this), debtToCover);
        uint256 seized = debtToCover * 105 / 100;
        IERC20(collateralAsset).transfer(msg.sender, seized);
        emit LiquidationCall(collateralAsset, debtAsset, user, debtToCover, seized, msg.sender, receiveAToken);
    }
}

/// Source side of a lock-and-mint bridge: ether locked here is minted on the destination.
contract BridgeLockbox {
    address public signer;
    uint256 public nonce;

    event Locked(address indexed sender, address indexed recipient, uint256 amount, uint256 nonce);
    event Unlocked(address indexed recipient, uint256 amount, uint256 nonce);

    constructor(address _signer) {
        signer = _signer;
    }

    function lock(address recipient) external payable {
        emit Locked(msg.sender, recipient, msg.value, nonce++);
    }

    /// Releases ether for a burn on the destination (`burnNonce`), on the signer's word.
    function unlock(address payable recipient, uint256 amount, uint256 burnNonce) external {
        require(msg.sender == signer, "not the signer");
        recipient.transfer(amount);
        emit Unlocked(recipient, amount, burnNonce);
    }
}

/// Destination side: a wrapped token minted by the bridge's signers for locks on the source.
contract BridgedToken is ERC20 {
    mapping(address => bool) public signers;
    uint256 public threshold = 1;
    uint256 public burnNonce;

    event Minted(address indexed recipient, uint256 amount, uint256 nonce);
    event Burned(address indexed sender, address indexed recipient, uint256 amount, uint256 nonce);
    event SignerAdded(address indexed signer);
    event SignerRemoved(address indexed signer);
    event ThresholdChanged(uint256 threshold);

    constructor(address signer) ERC20("Bridged Ether", "bETH") {
        signers[signer] = true;
        emit SignerAdded(signer);
    }

    modifier onlySigner() {
        require(signers[msg.sender], "not a signer");
        _;
    }

    /// Mints for the lock numbered `lockNonce` on the source chain.
    function mint(address to, uint256 amount, uint256 lockNonce) external onlySigner {
        _mint(to, amount);
        emit Minted(to, amount, lockNonce);
    }

    /// Burns to unlock on the source chain.
    function burn(address recipient, uint256 amount) external {
        _burn(msg.sender, amount);
        emit Burned(msg.sender, recipient, amount, burnNonce++);
    }

    function addSigner(address s) external onlySigner {
        signers[s] = true;
        emit SignerAdded(s);
    }

    function setThreshold(uint256 t) external onlySigner {
        threshold = t;
        emit ThresholdChanged(t);
    }
}
