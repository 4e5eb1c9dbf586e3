// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// The part of Uniswap V3's pool interface the actor uses (v3-core's IUniswapV3Pool).
interface IUniswapV3PoolActions {
    function token0() external view returns (address);
    function token1() external view returns (address);
    function mint(address recipient, int24 tickLower, int24 tickUpper, uint128 amount, bytes calldata data)
        external
        returns (uint256 amount0, uint256 amount1);
    function burn(int24 tickLower, int24 tickUpper, uint128 amount) external returns (uint256 amount0, uint256 amount1);
    function collect(
        address recipient,
        int24 tickLower,
        int24 tickUpper,
        uint128 amount0Requested,
        uint128 amount1Requested
    ) external returns (uint128 amount0, uint128 amount1);
    function swap(address recipient, bool zeroForOne, int256 amountSpecified, uint160 sqrtPriceLimitX96, bytes calldata data)
        external
        returns (int256 amount0, int256 amount1);
}

/// A Uniswap V3 liquidity provider and trader for tests: it holds tokens, adds and removes
/// liquidity and swaps directly on a pool, paying the pool from its own balance in the pool's
/// callbacks (as JIT bots and routers do).
contract V3Actor {
    uint160 internal constant MIN_SQRT_RATIO_PLUS_ONE = 4295128740;
    uint160 internal constant MAX_SQRT_RATIO_MINUS_ONE = 1461446703485210103287273052203988822378723970341;

    /// Adds `liquidity` between the ticks, owned by this contract.
    function mint(address pool, int24 lower, int24 upper, uint128 liquidity) public {
        IUniswapV3PoolActions(pool).mint(address(this), lower, upper, liquidity, "");
    }

    /// Removes `liquidity` between the ticks and collects everything owed (principal and fees).
    function exit(address pool, int24 lower, int24 upper, uint128 liquidity) public {
        IUniswapV3PoolActions(pool).burn(lower, upper, liquidity);
        IUniswapV3PoolActions(pool).collect(address(this), lower, upper, type(uint128).max, type(uint128).max);
    }

    /// Swaps `amount` (exact input when positive) of token0 for token1, or the other way.
    function swap(address pool, bool zeroForOne, int256 amount) public {
        IUniswapV3PoolActions(pool).swap(
            address(this), zeroForOne, amount, zeroForOne ? MIN_SQRT_RATIO_PLUS_ONE : MAX_SQRT_RATIO_MINUS_ONE, ""
        );
    }

    /// A JIT sandwich's first leg: a swap, then liquidity added.
    function swapThenMint(address pool, bool zeroForOne, int256 amount, int24 lower, int24 upper, uint128 liquidity)
        external
    {
        swap(pool, zeroForOne, amount);
        mint(pool, lower, upper, liquidity);
    }

    /// A JIT sandwich's last leg: liquidity removed, then a swap.
    function exitThenSwap(address pool, int24 lower, int24 upper, uint128 liquidity, bool zeroForOne, int256 amount)
        external
    {
        exit(pool, lower, upper, liquidity);
        swap(pool, zeroForOne, amount);
    }

    function uniswapV3MintCallback(uint256 owed0, uint256 owed1, bytes calldata) external {
        pay(owed0, owed1);
    }

    function uniswapV3SwapCallback(int256 delta0, int256 delta1, bytes calldata) external {
        pay(delta0 > 0 ? uint256(delta0) : 0, delta1 > 0 ? uint256(delta1) : 0);
    }

    /// PancakeSwap V3's pools call their callbacks by these names.
    function pancakeV3MintCallback(uint256 owed0, uint256 owed1, bytes calldata) external {
        pay(owed0, owed1);
    }

    function pancakeV3SwapCallback(int256 delta0, int256 delta1, bytes calldata) external {
        pay(delta0 > 0 ? uint256(delta0) : 0, delta1 > 0 ? uint256(delta1) : 0);
    }

    function pay(uint256 owed0, uint256 owed1) internal {
        IUniswapV3PoolActions pool = IUniswapV3PoolActions(msg.sender);
        if (owed0 > 0) require(IERC20(pool.token0()).transfer(msg.sender, owed0), "pay token0");
        if (owed1 > 0) require(IERC20(pool.token1()).transfer(msg.sender, owed1), "pay token1");
    }
}

/// Deploys a concentrated-liquidity pool from its creation code: PancakeSwap V3's pools read
/// their parameters from their deployer in their constructor (as Uniswap V3's read them from
/// their factory), and PancakeSwap publishes the pool's artifact but not its deployer's.
contract PoolDeployer {
    struct Parameters {
        address factory;
        address token0;
        address token1;
        uint24 fee;
        int24 tickSpacing;
    }

    /// What the pool being created reads (this contract stands in for its factory).
    Parameters public parameters;
    /// The last pool deployed.
    address public pool;

    function deploy(bytes memory code, address tokenA, address tokenB, uint24 fee, int24 tickSpacing)
        external
        returns (address created)
    {
        (address t0, address t1) = tokenA < tokenB ? (tokenA, tokenB) : (tokenB, tokenA);
        parameters = Parameters(address(this), t0, t1, fee, tickSpacing);
        assembly {
            created := create(0, add(code, 0x20), mload(code))
        }
        require(created != address(0), "create");
        delete parameters;
        pool = created;
    }
}
