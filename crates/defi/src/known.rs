//! What is recognised: function selectors, event topics, well-known addresses, and the lending
//! markets of Compound and Cream (cToken -> underlying, from mev-inspect-py, MIT).
//!
//! Selectors and topics are written out; a unit test recomputes each from its signature.

use palisade_primitives::{address, b256, Address, B256};
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// The pseudo-address for ether in actions (as mev-inspect and many protocols write it).
pub const ETH: Address = address!("eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee");
/// Wrapped ether on mainnet.
pub const WETH: Address = address!("c02aaa39b223fe8d0a0e5c4f27ead9083c756cc2");
/// Aave v1's lending pool on mainnet.
pub const AAVE_V1_POOL: Address = address!("398ec7346dcd622edc5ae82352f02be94c62d119");
/// dYdX's SoloMargin on mainnet.
pub const DYDX_SOLO: Address = address!("1e0447b19bb6ecfdae1e4ae1694b0c3659614e4e");
/// Compound's ether market (cETH).
pub const COMPOUND_CETH: Address = address!("4ddc2d193948926d02f9b1fe9e1daa0718270ed5");
/// Cream's ether market (crETH).
pub const CREAM_CRETH: Address = address!("d06527d5e56a3495252a528c4987003b712860ee");
/// Uniswap V3's NonfungiblePositionManager on mainnet: it owns, in the pools, the positions
/// of everyone who adds liquidity through it.
pub const UNISWAP_V3_POSITIONS: Address = address!("c36442b4a4522e871399cd717abdd847ab11fe88");
/// DAI on mainnet.
pub const DAI: Address = address!("6b175474e89094c44da98b954eedeac495271d0f");
/// Maker's DssFlash on mainnet (flash mints of DAI).
pub const DSS_FLASH: Address = address!("60744434d6339a6b27d73d9eda62b6f66a0a04fa");
/// Balancer V2's vault (the same address on every chain).
pub const BALANCER_VAULT: Address = address!("ba12222222228d8ba445958a75a0704d566bf2c8");

/// Function selectors.
pub mod sel {
    /// `transfer(address,uint256)`
    pub const TRANSFER: [u8; 4] = [0xa9, 0x05, 0x9c, 0xbb];
    /// `transferFrom(address,address,uint256)`
    pub const TRANSFER_FROM: [u8; 4] = [0x23, 0xb8, 0x72, 0xdd];
    /// Uniswap V2 pair `swap(uint256,uint256,address,bytes)`
    pub const V2_SWAP: [u8; 4] = [0x02, 0x2c, 0x0d, 0x9f];
    /// Uniswap V3 pool `swap(address,bool,int256,uint160,bytes)`
    pub const V3_SWAP: [u8; 4] = [0x12, 0x8a, 0xcb, 0x08];
    /// Uniswap V3 pool `mint(address,int24,int24,uint128,bytes)`
    pub const V3_MINT: [u8; 4] = [0x3c, 0x8a, 0x7d, 0x8d];
    /// Uniswap V3 pool `burn(int24,int24,uint128)`
    pub const V3_BURN: [u8; 4] = [0xa3, 0x41, 0x23, 0xa7];
    /// Uniswap V3 pool `collect(address,int24,int24,uint128,uint128)`
    pub const V3_COLLECT: [u8; 4] = [0x4f, 0x1e, 0xb3, 0xd8];
    /// Uniswap V3 pool `flash(address,uint256,uint256,bytes)`
    pub const V3_FLASH: [u8; 4] = [0x49, 0x0e, 0x6c, 0xbc];
    /// Curve `exchange(int128,int128,uint256,uint256)`
    pub const CURVE_EXCHANGE: [u8; 4] = [0x3d, 0xf0, 0x21, 0x24];
    /// Curve `exchange_underlying(int128,int128,uint256,uint256)`
    pub const CURVE_EXCHANGE_UNDERLYING: [u8; 4] = [0xa6, 0x41, 0x7e, 0xd6];
    /// Curve crypto pools `exchange(uint256,uint256,uint256,uint256)`
    pub const CURVE_EXCHANGE_CRYPTO: [u8; 4] = [0x5b, 0x41, 0xb9, 0x08];
    /// Curve `exchange(int128,int128,uint256,uint256,address)` (with a receiver)
    pub const CURVE_EXCHANGE_TO: [u8; 4] = [0xdd, 0xc1, 0xf5, 0x9d];
    /// Curve `exchange_underlying(int128,int128,uint256,uint256,address)` (with a receiver)
    pub const CURVE_EXCHANGE_UNDERLYING_TO: [u8; 4] = [0x44, 0xee, 0x19, 0x86];
    /// Curve crypto pools `exchange(uint256,uint256,uint256,uint256,bool)` (ether or WETH)
    pub const CURVE_EXCHANGE_CRYPTO_ETH: [u8; 4] = [0x39, 0x47, 0x47, 0xc5];
    /// Curve crypto pools `exchange(uint256,uint256,uint256,uint256,bool,address)`
    pub const CURVE_EXCHANGE_CRYPTO_TO: [u8; 4] = [0xce, 0x7d, 0x65, 0x03];
    /// Curve NG `exchange_received(int128,int128,uint256,uint256,address)`: the pool takes
    /// tokens sent to it before the call
    pub const CURVE_EXCHANGE_RECEIVED: [u8; 4] = [0xaf, 0xb4, 0x30, 0x12];
    /// Curve NG crypto pools `exchange_received(uint256,uint256,uint256,uint256,address)`
    pub const CURVE_EXCHANGE_RECEIVED_CRYPTO: [u8; 4] = [0x76, 0x76, 0x91, 0xe7];
    /// Balancer V1 `swapExactAmountIn(address,uint256,address,uint256,uint256)`
    pub const BALANCER_V1_IN: [u8; 4] = [0x82, 0x01, 0xaa, 0x3f];
    /// Balancer V1 `swapExactAmountOut(address,uint256,address,uint256,uint256)`
    pub const BALANCER_V1_OUT: [u8; 4] = [0x7c, 0x5e, 0x9e, 0xa4];
    /// Bancor v2 converter `convert(address,address,uint256,address,address)` (called by the
    /// BancorNetwork for each step of `convertByPath`)
    pub const BANCOR_CONVERT: [u8; 4] = [0xe8, 0xdc, 0x12, 0xff];
    /// Balancer V2 vault `swap((bytes32,uint8,address,address,uint256,bytes),(address,bool,address,bool),uint256,uint256)`
    pub const BALANCER_V2_SWAP: [u8; 4] = [0x52, 0xbb, 0xbe, 0x29];
    /// CoW Protocol settlement `settle(address[],uint256[],(uint256,uint256,address,uint256,uint256,uint32,bytes32,uint256,uint256,uint256,bytes)[],(address,uint256,bytes)[][3])`
    pub const COW_SETTLE: [u8; 4] = [0x13, 0xd7, 0x9a, 0x0b];
    /// CoW Protocol vault relayer `transferFromAccounts((address,address,uint256,bytes32)[])`:
    /// what each order's owner pays, in the settlement's order of trades.
    pub const COW_TRANSFER_FROM_ACCOUNTS: [u8; 4] = [0x7d, 0x10, 0xd1, 0x1f];
    /// Balancer V2 vault `batchSwap(uint8,(bytes32,uint256,uint256,uint256,bytes)[],address[],(address,bool,address,bool),int256[],uint256)`
    pub const BALANCER_V2_BATCH: [u8; 4] = [0x94, 0x5b, 0xce, 0xc9];
    /// Balancer V2 pool `onSwap(SwapRequest,uint256,uint256)` (pools with two tokens' balances
    /// given: weighted, stable with two tokens), called by the vault for each step.
    pub const BALANCER_V2_ON_SWAP_MINIMAL: [u8; 4] = [0x9d, 0x2c, 0x11, 0x0c];
    /// Balancer V2 pool `onSwap(SwapRequest,uint256[],uint256,uint256)` (general pools).
    pub const BALANCER_V2_ON_SWAP_GENERAL: [u8; 4] = [0x01, 0xec, 0x95, 0x4a];
    /// 0x `fillLimitOrder(...)` (NativeOrdersFeature)
    pub const ZEROX_FILL_LIMIT: [u8; 4] = [0xf6, 0x27, 0x4f, 0x66];
    /// 0x `fillRfqOrder(...)`
    pub const ZEROX_FILL_RFQ: [u8; 4] = [0xaa, 0x77, 0x47, 0x6c];
    /// 0x `fillOrKillLimitOrder(...)`
    pub const ZEROX_FOK_LIMIT: [u8; 4] = [0x92, 0x40, 0x52, 0x9c];
    /// 0x `fillOrKillRfqOrder(...)`
    pub const ZEROX_FOK_RFQ: [u8; 4] = [0x43, 0x8c, 0xdf, 0xc5];
    /// 0x v3 Exchange `fillOrder(Order,uint256,bytes)` (also what its NoThrow and market
    /// variants delegatecall on itself for each order)
    pub const ZEROX_V3_FILL: [u8; 4] = [0x9b, 0x44, 0xd5, 0x56];
    /// 0x v3 Exchange `fillOrKillOrder(Order,uint256,bytes)`
    pub const ZEROX_V3_FOK: [u8; 4] = [0xe1, 0x4b, 0x58, 0xc4];
    /// 0x v3 Exchange `batchFillOrders(Order[],uint256[],bytes[])`
    pub const ZEROX_V3_BATCH_FILL: [u8; 4] = [0x96, 0x94, 0xa4, 0x02];
    /// 0x v3 Exchange `batchFillOrKillOrders(Order[],uint256[],bytes[])`
    pub const ZEROX_V3_BATCH_FOK: [u8; 4] = [0xbe, 0xee, 0x2e, 0x14];
    /// Aave `liquidationCall(address,address,address,uint256,bool)` (v1, v2, v3)
    pub const AAVE_LIQUIDATION: [u8; 4] = [0x00, 0xa7, 0x18, 0xa9];
    /// Compound `liquidateBorrow(address,uint256,address)` (ERC-20 markets)
    pub const COMPOUND_LIQUIDATE: [u8; 4] = [0xf5, 0xe3, 0xc4, 0x62];
    /// Compound `liquidateBorrow(address,address)` (the ether market, payable)
    pub const COMPOUND_LIQUIDATE_ETH: [u8; 4] = [0xaa, 0xe4, 0x0a, 0x2a];
    /// Compound `seize(address,address,uint256)`
    pub const COMPOUND_SEIZE: [u8; 4] = [0xb2, 0xa0, 0x2f, 0xf1];
    /// Aave v2/v3 `flashLoan(address,address[],uint256[],uint256[],address,bytes,uint16)`
    pub const AAVE_FLASH_LOAN: [u8; 4] = [0xab, 0x9c, 0x4b, 0x5d];
    /// Aave v3 `flashLoanSimple(address,address,uint256,bytes,uint16)`
    pub const AAVE_FLASH_LOAN_SIMPLE: [u8; 4] = [0x42, 0xb0, 0xb7, 0x7c];
    /// Aave v1 and ERC-3156 `flashLoan(address,address,uint256,bytes)`
    pub const FLASH_LOAN_3156: [u8; 4] = [0x5c, 0xff, 0xe9, 0xde];
    /// Balancer V2 vault `flashLoan(address,address[],uint256[],bytes)`
    pub const BALANCER_FLASH_LOAN: [u8; 4] = [0x5c, 0x38, 0x44, 0x9e];
    /// dYdX SoloMargin `operate((address,uint256)[],(uint8,uint256,(bool,uint8,uint8,uint256),uint256,uint256,address,uint256,bytes)[])`
    pub const DYDX_OPERATE: [u8; 4] = [0xa6, 0x7a, 0x6a, 0x45];
    /// 1inch v5 `fillOrder(Order,bytes,bytes,uint256,uint256,uint256)`
    pub const ONE_INCH_V5_FILL: [u8; 4] = [0x62, 0xe2, 0x38, 0xbb];
    /// 1inch v5 `fillOrderTo(Order,bytes,bytes,uint256,uint256,uint256,address)`
    pub const ONE_INCH_V5_FILL_TO: [u8; 4] = [0xe5, 0xd7, 0xbd, 0xe6];
    /// 1inch v5 `fillOrderToWithPermit(Order,bytes,bytes,uint256,uint256,uint256,address,bytes)`
    pub const ONE_INCH_V5_FILL_TO_PERMIT: [u8; 4] = [0xd3, 0x65, 0xc6, 0x95];
    /// 1inch v5 `fillOrderRFQ(OrderRFQ,bytes,uint256)`
    pub const ONE_INCH_V5_RFQ: [u8; 4] = [0x3e, 0xca, 0x9c, 0x0a];
    /// 1inch v5 `fillOrderRFQTo(OrderRFQ,bytes,uint256,address)`
    pub const ONE_INCH_V5_RFQ_TO: [u8; 4] = [0x5a, 0x09, 0x98, 0x43];
    /// 1inch v5 `fillOrderRFQCompact(OrderRFQ,bytes32,bytes32,uint256)`
    pub const ONE_INCH_V5_RFQ_COMPACT: [u8; 4] = [0x95, 0x70, 0xee, 0xee];
    /// 1inch v5 `fillOrderRFQToWithPermit(OrderRFQ,bytes,uint256,address,bytes)`
    pub const ONE_INCH_V5_RFQ_TO_PERMIT: [u8; 4] = [0x70, 0xcc, 0xbd, 0x31];
    /// 1inch v6 `fillOrder(Order,bytes32,bytes32,uint256,uint256)`
    pub const ONE_INCH_V6_FILL: [u8; 4] = [0x9f, 0xda, 0x64, 0xbd];
    /// 1inch v6 `fillOrderArgs(Order,bytes32,bytes32,uint256,uint256,bytes)`
    pub const ONE_INCH_V6_FILL_ARGS: [u8; 4] = [0xf4, 0x97, 0xdf, 0x75];
    /// 1inch v6 `fillContractOrder(Order,bytes,uint256,uint256)`
    pub const ONE_INCH_V6_FILL_CONTRACT: [u8; 4] = [0xcc, 0x71, 0x3a, 0x04];
    /// 1inch v6 `fillContractOrderArgs(Order,bytes,uint256,uint256,bytes)`
    pub const ONE_INCH_V6_FILL_CONTRACT_ARGS: [u8; 4] = [0x56, 0xa7, 0x58, 0x68];
}

/// Event topics.
pub mod topic {
    use super::*;
    /// `Transfer(address,address,uint256)`
    pub const TRANSFER: B256 =
        b256!("ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef");
    /// WETH `Deposit(address,uint256)`
    pub const WETH_DEPOSIT: B256 =
        b256!("e1fffcc4923d04b559f4d29a8bfc6cda04eb5b0d3c460751c2402c5c5cc9109c");
    /// WETH `Withdrawal(address,uint256)`
    pub const WETH_WITHDRAWAL: B256 =
        b256!("7fcf532c15f0a6db0bd6d0e038bea71d30d808c7d98cb3bf7268a95bf5081b65");
    /// Uniswap V2 `Swap(address,uint256,uint256,uint256,uint256,address)`
    pub const V2_SWAP: B256 =
        b256!("d78ad95fa46c994b6551d0da85fc275fe613ce37657fb8d5e3d130840159d822");
    /// Uniswap V2 `Sync(uint112,uint112)`
    pub const V2_SYNC: B256 =
        b256!("1c411e9a96e071241c2f21f7726b17ae89e3cab4c78be50e062b03a9fffbbad1");
    /// Uniswap V3 `Swap(address,address,int256,int256,uint160,uint128,int24)`
    pub const V3_SWAP: B256 =
        b256!("c42079f94a6350d7e6235f29174924f928cc2ac818eb64fed8004e115fbcca67");
    /// Uniswap V3 `Mint(address,address,int24,int24,uint128,uint256,uint256)`
    pub const V3_MINT: B256 =
        b256!("7a53080ba414158be7ec69b987b5fb7d07dee101fe85488f0853ae16239d0bde");
    /// Uniswap V3 `Burn(address,int24,int24,uint128,uint256,uint256)`
    pub const V3_BURN: B256 =
        b256!("0c396cd989a39f4459b5fa1aed6a9a8dcdbc45908acfd67e028cd568da98982c");
    /// Uniswap V3 `Collect(address,address,int24,int24,uint128,uint128)`
    pub const V3_COLLECT: B256 =
        b256!("70935338e69775456a85ddef226c395fb668b63fa0115f5f20610b388e6ca9c0");
    /// CoW Protocol `Trade(address,address,address,uint256,uint256,uint256,bytes)`
    pub const COW_TRADE: B256 =
        b256!("a07a543ab8a018198e99ca0184c93fe9050a79400a0a723441f84de1d972cc17");
    /// PancakeSwap V3 `Swap(address,address,int256,int256,uint160,uint128,int24,uint128,uint128)`
    /// (Uniswap V3's, with the protocol fees of each token after it)
    pub const PANCAKE_V3_SWAP: B256 =
        b256!("19b47279256b2a23a1665c810c8d55a1758940ee09377d4f8d26497a3577dc83");
    /// Curve `TokenExchange(address,int128,uint256,int128,uint256)`
    pub const CURVE_EXCHANGE: B256 =
        b256!("8b3e96f2b889fa771c53c981b40daf005f63f637f1869f707052d15a3dd97140");
    /// Curve `TokenExchangeUnderlying(address,int128,uint256,int128,uint256)`
    pub const CURVE_EXCHANGE_UNDERLYING: B256 =
        b256!("d013ca23e77a65003c2c659c5442c00c805371b7fc1ebd4c206c41d1536bd90b");
    /// Curve NG crypto pools `TokenExchange(address,uint256,uint256,uint256,uint256,uint256,uint256)`
    /// (the older crypto pools' event with the fee and the packed price scale after it)
    pub const CURVE_EXCHANGE_CRYPTO_NG: B256 =
        b256!("143f1f8e861fbdeddd5b46e844b7d3ac7b86a122f36e8c463859ee6811b1f29c");
    /// Curve crypto pools `TokenExchange(address,uint256,uint256,uint256,uint256)`
    pub const CURVE_EXCHANGE_CRYPTO: B256 =
        b256!("b2e76ae99761dc136e598d4a629bb347eccb9532a5f8bbd72e18467c3c34cc98");
    /// Balancer V2 `Swap(bytes32,address,address,uint256,uint256)`
    pub const BALANCER_V2_SWAP: B256 =
        b256!("2170c741c41531aec20e7c107c24eecfdd15e69c9bb0a8dd37b1840b9e0b207b");
    /// Bancor v2 converter `Conversion(address,address,address,uint256,uint256,int256)`
    pub const BANCOR_CONVERSION: B256 =
        b256!("276856b36cbc45526a0ba64f44611557a2a8b68662c5388e9fe6d72e86e1c8cb");
    /// Balancer V1 `LOG_SWAP(address,address,address,uint256,uint256)`
    pub const BALANCER_V1_SWAP: B256 =
        b256!("908fb5ee8f16c6bc9bc3690973819f32a4d4b10188134543c88706e0e1d43378");
    /// 0x `LimitOrderFilled(bytes32,address,address,address,address,address,uint128,uint128,uint128,uint256,bytes32)`
    pub const ZEROX_LIMIT_FILLED: B256 =
        b256!("ab614d2b738543c0ea21f56347cf696a3a0c42a7cbec3212a5ca22a4dcff2124");
    /// 0x `RfqOrderFilled(bytes32,address,address,address,address,uint128,uint128,bytes32)`
    pub const ZEROX_RFQ_FILLED: B256 =
        b256!("829fa99d94dc4636925b38632e625736a614c154d55006b7ab6bea979c210c32");
    /// 0x v3 Exchange `Fill(address,address,bytes,bytes,bytes,bytes,bytes32,address,address,uint256,uint256,uint256,uint256,uint256)`
    pub const ZEROX_V3_FILL: B256 =
        b256!("6869791f0a34781b29882982cc39e882768cf2c96995c2a110c577c53bc932d5");
    /// Aave v2/v3 `LiquidationCall(address,address,address,uint256,uint256,address,bool)`
    pub const AAVE_LIQUIDATION: B256 =
        b256!("e413a321e8681d831f4dbccbca790d2952b56f977908e45be37335533e005286");
    /// Aave v1 `LiquidationCall(address,address,address,uint256,uint256,uint256,address,bool,uint256)`
    pub const AAVE_V1_LIQUIDATION: B256 =
        b256!("56864757fd5b1fc9f38f5f3a981cd8ae512ce41b902cf73fc506ee369c6bc237");
    /// Compound `LiquidateBorrow(address,address,uint256,address,uint256)`
    pub const COMPOUND_LIQUIDATE: B256 =
        b256!("298637f684da70674f26509b10f07ec2fbc77a335ab1e7d6215a4b2484d8bb52");
    /// Aave v2 `FlashLoan(address,address,address,uint256,uint256,uint16)`
    pub const AAVE_V2_FLASH_LOAN: B256 =
        b256!("631042c832b07452973831137f2d73e395028b44b250dedc5abb0ee766e168ac");
    /// Aave v3 `FlashLoan(address,address,address,uint256,uint8,uint256,uint16)`
    pub const AAVE_V3_FLASH_LOAN: B256 =
        b256!("efefaba5e921573100900a3ad9cf29f222d995fb3b6045797eaea7521bd8d6f0");
    /// Aave v1 `FlashLoan(address,address,uint256,uint256,uint256,uint256)`
    pub const AAVE_V1_FLASH_LOAN: B256 =
        b256!("5b8f46461c1dd69fb968f1a003acee221ea3e19540e350233b612ddb43433b55");
    /// Balancer V2 `FlashLoan(address,address,uint256,uint256)`
    pub const BALANCER_FLASH_LOAN: B256 =
        b256!("0d7d75e01ab95780d3cd1c8ec0dd6c2ce19e3a20427eec8bf53283b6fb8e95f0");
    /// Uniswap V3 `Flash(address,address,uint256,uint256,uint256,uint256)`
    pub const V3_FLASH: B256 =
        b256!("bdbdb71d7860376ba52b25a5028beea23581364a40522f6bcfb86bb1f2dca633");
    /// dYdX `LogWithdraw(address,uint256,uint256,((bool,uint256),(bool,uint128)),address)`
    pub const DYDX_WITHDRAW: B256 =
        b256!("bc83c08f0b269b1726990c8348ffdf1ae1696244a14868d766e542a2f18cd7d4");
    /// dYdX `LogCall(address,uint256,address)`
    pub const DYDX_CALL: B256 =
        b256!("ab38cdc4a831ebe6542bf277d36b65dbc5c66a4d03ec6cf56ac38de05dc30098");
    /// 1inch v5 `OrderFilled(address,bytes32,uint256)` (maker indexed)
    pub const ONE_INCH_V5_FILLED: B256 =
        b256!("b9ed0243fdf00f0545c63a0af8850c090d86bb46682baec4bf3c496814fe4f02");
    /// 1inch v6 `OrderFilled(bytes32,uint256)`
    pub const ONE_INCH_V6_FILLED: B256 =
        b256!("fec331350fce78ba658e082a71da20ac9f8d798a99b3c79681c8440cbfe77e07");
    /// UniswapX `Fill(bytes32,address,address,uint256)` (all but the nonce indexed)
    pub const UNISWAPX_FILL: B256 =
        b256!("78ad7ec0e9f89e74012afa58738b6b661c024cb0fd185ee2f616c0a28924bd66");
    /// DODO V2 `DODOSwap(address,address,uint256,uint256,address,address)`
    pub const DODO_SWAP: B256 =
        b256!("c2c0245e056d5fb095f04cd6373bc770802ebd1e6c918eb78fdef843cdb37b0f");
    /// DODO V1 `SellBaseToken(address,uint256,uint256)`
    pub const DODO_SELL_BASE: B256 =
        b256!("d8648b6ac54162763c86fd54bf2005af8ecd2f9cb273a5775921fd7f91e17b2d");
    /// DODO V1 `BuyBaseToken(address,uint256,uint256)`
    pub const DODO_BUY_BASE: B256 =
        b256!("e93ad76094f247c0dafc1c61adc2187de1ac2738f7a3b49cb20b2263420251a3");
    /// Maker PSM `SellGem(address,uint256,uint256)`
    pub const PSM_SELL_GEM: B256 =
        b256!("ef75f5a47cc9a929968796ceb84f19e7541617b4577f2c228ea95200e1572081");
    /// Maker PSM `BuyGem(address,uint256,uint256)`
    pub const PSM_BUY_GEM: B256 =
        b256!("085d06ecf4c34b237767a31c0888e121d89546a77f186f1987c6b8715e1a8caa");
}

fn parse_markets(json: &str) -> BTreeMap<Address, Address> {
    serde_json::from_str::<BTreeMap<String, String>>(json)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(k, v)| Some((k.parse().ok()?, v.parse().ok()?)))
        .collect()
}

/// Compound v2's markets: cToken -> underlying (ether as [`ETH`]).
pub fn compound_markets() -> &'static BTreeMap<Address, Address> {
    static M: OnceLock<BTreeMap<Address, Address>> = OnceLock::new();
    M.get_or_init(|| {
        let mut m = parse_markets(include_str!("../data/comp_markets.json"));
        m.insert(COMPOUND_CETH, ETH);
        m
    })
}

/// Cream's markets: crToken -> underlying (ether as [`ETH`]).
pub fn cream_markets() -> &'static BTreeMap<Address, Address> {
    static M: OnceLock<BTreeMap<Address, Address>> = OnceLock::new();
    M.get_or_init(|| {
        let mut m = parse_markets(include_str!("../data/cream_markets.json"));
        m.insert(CREAM_CRETH, ETH);
        m
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_primitives::keccak256;

    #[test]
    fn selectors_and_topics_are_the_hashes_of_their_signatures() {
        let s = |sig: &str| -> [u8; 4] { keccak256(sig.as_bytes())[..4].try_into().unwrap() };
        for (got, sig) in [
            (sel::TRANSFER, "transfer(address,uint256)"),
            (sel::TRANSFER_FROM, "transferFrom(address,address,uint256)"),
            (sel::V2_SWAP, "swap(uint256,uint256,address,bytes)"),
            (sel::V3_SWAP, "swap(address,bool,int256,uint160,bytes)"),
            (sel::V3_FLASH, "flash(address,uint256,uint256,bytes)"),
            (sel::CURVE_EXCHANGE, "exchange(int128,int128,uint256,uint256)"),
            (sel::CURVE_EXCHANGE_UNDERLYING, "exchange_underlying(int128,int128,uint256,uint256)"),
            (sel::CURVE_EXCHANGE_CRYPTO, "exchange(uint256,uint256,uint256,uint256)"),
            (sel::CURVE_EXCHANGE_TO, "exchange(int128,int128,uint256,uint256,address)"),
            (sel::CURVE_EXCHANGE_UNDERLYING_TO, "exchange_underlying(int128,int128,uint256,uint256,address)"),
            (sel::CURVE_EXCHANGE_CRYPTO_ETH, "exchange(uint256,uint256,uint256,uint256,bool)"),
            (sel::CURVE_EXCHANGE_CRYPTO_TO, "exchange(uint256,uint256,uint256,uint256,bool,address)"),
            (sel::CURVE_EXCHANGE_RECEIVED, "exchange_received(int128,int128,uint256,uint256,address)"),
            (sel::CURVE_EXCHANGE_RECEIVED_CRYPTO, "exchange_received(uint256,uint256,uint256,uint256,address)"),
            (sel::BALANCER_V1_IN, "swapExactAmountIn(address,uint256,address,uint256,uint256)"),
            (sel::BALANCER_V1_OUT, "swapExactAmountOut(address,uint256,address,uint256,uint256)"),
            (sel::BANCOR_CONVERT, "convert(address,address,uint256,address,address)"),
            (sel::BALANCER_V2_SWAP, "swap((bytes32,uint8,address,address,uint256,bytes),(address,bool,address,bool),uint256,uint256)"),
            (sel::COW_SETTLE, "settle(address[],uint256[],(uint256,uint256,address,uint256,uint256,uint32,bytes32,uint256,uint256,uint256,bytes)[],(address,uint256,bytes)[][3])"),
            (sel::COW_TRANSFER_FROM_ACCOUNTS, "transferFromAccounts((address,address,uint256,bytes32)[])"),
            (sel::BALANCER_V2_BATCH, "batchSwap(uint8,(bytes32,uint256,uint256,uint256,bytes)[],address[],(address,bool,address,bool),int256[],uint256)"),
            (sel::BALANCER_V2_ON_SWAP_MINIMAL, "onSwap((uint8,address,address,uint256,bytes32,uint256,address,address,bytes),uint256,uint256)"),
            (sel::BALANCER_V2_ON_SWAP_GENERAL, "onSwap((uint8,address,address,uint256,bytes32,uint256,address,address,bytes),uint256[],uint256,uint256)"),
            (sel::ZEROX_FILL_LIMIT, "fillLimitOrder((address,address,uint128,uint128,uint128,address,address,address,address,bytes32,uint64,uint256),(uint8,uint8,bytes32,bytes32),uint128)"),
            (sel::ZEROX_FILL_RFQ, "fillRfqOrder((address,address,uint128,uint128,address,address,address,bytes32,uint64,uint256),(uint8,uint8,bytes32,bytes32),uint128)"),
            (sel::ZEROX_FOK_LIMIT, "fillOrKillLimitOrder((address,address,uint128,uint128,uint128,address,address,address,address,bytes32,uint64,uint256),(uint8,uint8,bytes32,bytes32),uint128)"),
            (sel::ZEROX_FOK_RFQ, "fillOrKillRfqOrder((address,address,uint128,uint128,address,address,address,bytes32,uint64,uint256),(uint8,uint8,bytes32,bytes32),uint128)"),
            (sel::ZEROX_V3_FILL, "fillOrder((address,address,address,address,uint256,uint256,uint256,uint256,uint256,uint256,bytes,bytes,bytes,bytes),uint256,bytes)"),
            (sel::ZEROX_V3_FOK, "fillOrKillOrder((address,address,address,address,uint256,uint256,uint256,uint256,uint256,uint256,bytes,bytes,bytes,bytes),uint256,bytes)"),
            (sel::ZEROX_V3_BATCH_FILL, "batchFillOrders((address,address,address,address,uint256,uint256,uint256,uint256,uint256,uint256,bytes,bytes,bytes,bytes)[],uint256[],bytes[])"),
            (sel::ZEROX_V3_BATCH_FOK, "batchFillOrKillOrders((address,address,address,address,uint256,uint256,uint256,uint256,uint256,uint256,bytes,bytes,bytes,bytes)[],uint256[],bytes[])"),
            (sel::AAVE_LIQUIDATION, "liquidationCall(address,address,address,uint256,bool)"),
            (sel::COMPOUND_LIQUIDATE, "liquidateBorrow(address,uint256,address)"),
            (sel::COMPOUND_LIQUIDATE_ETH, "liquidateBorrow(address,address)"),
            (sel::COMPOUND_SEIZE, "seize(address,address,uint256)"),
            (sel::AAVE_FLASH_LOAN, "flashLoan(address,address[],uint256[],uint256[],address,bytes,uint16)"),
            (sel::AAVE_FLASH_LOAN_SIMPLE, "flashLoanSimple(address,address,uint256,bytes,uint16)"),
            (sel::FLASH_LOAN_3156, "flashLoan(address,address,uint256,bytes)"),
            (sel::BALANCER_FLASH_LOAN, "flashLoan(address,address[],uint256[],bytes)"),
            (sel::DYDX_OPERATE, "operate((address,uint256)[],(uint8,uint256,(bool,uint8,uint8,uint256),uint256,uint256,address,uint256,bytes)[])"),
            (sel::ONE_INCH_V5_FILL, "fillOrder((uint256,address,address,address,address,address,uint256,uint256,uint256,bytes),bytes,bytes,uint256,uint256,uint256)"),
            (sel::ONE_INCH_V5_FILL_TO, "fillOrderTo((uint256,address,address,address,address,address,uint256,uint256,uint256,bytes),bytes,bytes,uint256,uint256,uint256,address)"),
            (sel::ONE_INCH_V5_FILL_TO_PERMIT, "fillOrderToWithPermit((uint256,address,address,address,address,address,uint256,uint256,uint256,bytes),bytes,bytes,uint256,uint256,uint256,address,bytes)"),
            (sel::ONE_INCH_V5_RFQ, "fillOrderRFQ((uint256,address,address,address,address,uint256,uint256),bytes,uint256)"),
            (sel::ONE_INCH_V5_RFQ_TO, "fillOrderRFQTo((uint256,address,address,address,address,uint256,uint256),bytes,uint256,address)"),
            (sel::ONE_INCH_V5_RFQ_COMPACT, "fillOrderRFQCompact((uint256,address,address,address,address,uint256,uint256),bytes32,bytes32,uint256)"),
            (sel::ONE_INCH_V5_RFQ_TO_PERMIT, "fillOrderRFQToWithPermit((uint256,address,address,address,address,uint256,uint256),bytes,uint256,address,bytes)"),
            (sel::ONE_INCH_V6_FILL, "fillOrder((uint256,uint256,uint256,uint256,uint256,uint256,uint256,uint256),bytes32,bytes32,uint256,uint256)"),
            (sel::ONE_INCH_V6_FILL_ARGS, "fillOrderArgs((uint256,uint256,uint256,uint256,uint256,uint256,uint256,uint256),bytes32,bytes32,uint256,uint256,bytes)"),
            (sel::ONE_INCH_V6_FILL_CONTRACT, "fillContractOrder((uint256,uint256,uint256,uint256,uint256,uint256,uint256,uint256),bytes,uint256,uint256)"),
            (sel::ONE_INCH_V6_FILL_CONTRACT_ARGS, "fillContractOrderArgs((uint256,uint256,uint256,uint256,uint256,uint256,uint256,uint256),bytes,uint256,uint256,bytes)"),
        ] {
            assert_eq!(got, s(sig), "{sig}");
        }
        for (got, sig) in [
            (topic::TRANSFER, "Transfer(address,address,uint256)"),
            (topic::WETH_DEPOSIT, "Deposit(address,uint256)"),
            (topic::WETH_WITHDRAWAL, "Withdrawal(address,uint256)"),
            (topic::V2_SWAP, "Swap(address,uint256,uint256,uint256,uint256,address)"),
            (topic::V2_SYNC, "Sync(uint112,uint112)"),
            (topic::V3_SWAP, "Swap(address,address,int256,int256,uint160,uint128,int24)"),
            (topic::COW_TRADE, "Trade(address,address,address,uint256,uint256,uint256,bytes)"),
            (topic::PANCAKE_V3_SWAP, "Swap(address,address,int256,int256,uint160,uint128,int24,uint128,uint128)"),
            (topic::CURVE_EXCHANGE, "TokenExchange(address,int128,uint256,int128,uint256)"),
            (topic::CURVE_EXCHANGE_UNDERLYING, "TokenExchangeUnderlying(address,int128,uint256,int128,uint256)"),
            (topic::CURVE_EXCHANGE_CRYPTO, "TokenExchange(address,uint256,uint256,uint256,uint256)"),
            (topic::CURVE_EXCHANGE_CRYPTO_NG, "TokenExchange(address,uint256,uint256,uint256,uint256,uint256,uint256)"),
            (topic::BALANCER_V2_SWAP, "Swap(bytes32,address,address,uint256,uint256)"),
            (topic::BALANCER_V1_SWAP, "LOG_SWAP(address,address,address,uint256,uint256)"),
            (topic::BANCOR_CONVERSION, "Conversion(address,address,address,uint256,uint256,int256)"),
            (topic::ZEROX_LIMIT_FILLED, "LimitOrderFilled(bytes32,address,address,address,address,address,uint128,uint128,uint128,uint256,bytes32)"),
            (topic::ZEROX_RFQ_FILLED, "RfqOrderFilled(bytes32,address,address,address,address,uint128,uint128,bytes32)"),
            (topic::ZEROX_V3_FILL, "Fill(address,address,bytes,bytes,bytes,bytes,bytes32,address,address,uint256,uint256,uint256,uint256,uint256)"),
            (topic::AAVE_LIQUIDATION, "LiquidationCall(address,address,address,uint256,uint256,address,bool)"),
            (topic::AAVE_V1_LIQUIDATION, "LiquidationCall(address,address,address,uint256,uint256,uint256,address,bool,uint256)"),
            (topic::COMPOUND_LIQUIDATE, "LiquidateBorrow(address,address,uint256,address,uint256)"),
            (topic::AAVE_V2_FLASH_LOAN, "FlashLoan(address,address,address,uint256,uint256,uint16)"),
            (topic::AAVE_V3_FLASH_LOAN, "FlashLoan(address,address,address,uint256,uint8,uint256,uint16)"),
            (topic::AAVE_V1_FLASH_LOAN, "FlashLoan(address,address,uint256,uint256,uint256,uint256)"),
            (topic::BALANCER_FLASH_LOAN, "FlashLoan(address,address,uint256,uint256)"),
            (topic::V3_FLASH, "Flash(address,address,uint256,uint256,uint256,uint256)"),
            (topic::DYDX_WITHDRAW, "LogWithdraw(address,uint256,uint256,((bool,uint256),(bool,uint128)),address)"),
            (topic::DYDX_CALL, "LogCall(address,uint256,address)"),
            (topic::ONE_INCH_V5_FILLED, "OrderFilled(address,bytes32,uint256)"),
            (topic::ONE_INCH_V6_FILLED, "OrderFilled(bytes32,uint256)"),
            (topic::UNISWAPX_FILL, "Fill(bytes32,address,address,uint256)"),
            (topic::DODO_SWAP, "DODOSwap(address,address,uint256,uint256,address,address)"),
            (topic::DODO_SELL_BASE, "SellBaseToken(address,uint256,uint256)"),
            (topic::DODO_BUY_BASE, "BuyBaseToken(address,uint256,uint256)"),
            (topic::PSM_SELL_GEM, "SellGem(address,uint256,uint256)"),
            (topic::PSM_BUY_GEM, "BuyGem(address,uint256,uint256)"),
        ] {
            assert_eq!(got, keccak256(sig.as_bytes()), "{sig}");
        }
    }

    #[test]
    fn market_maps_load() {
        assert_eq!(compound_markets().len(), 18);
        assert_eq!(cream_markets().len(), 91);
        let cusdc: Address = "0x39aa39c021dfbae8fac545936693ac917d5e7563".parse().unwrap();
        assert_eq!(
            compound_markets()[&cusdc],
            "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48".parse::<Address>().unwrap()
        );
    }
}
