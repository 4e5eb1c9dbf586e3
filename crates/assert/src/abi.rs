//! The cheatcode contracts' interfaces, as Phylax's credible-std declares them (MIT): function
//! signatures and addresses are interface facts, so assertions written for Phylax's executor run
//! here unchanged where they use these.

use alloy_primitives::{address, Address};

/// `PhEvm`: `address(uint160(uint256(keccak256("Kim Jong Un Sucks"))))`.
pub const PH_EVM: Address = address!("4461812e00718ff8D80929E3bF595AEaaa7b881E");
/// `TriggerRecorder`: `address(uint160(uint256(keccak256("TriggerRecorder"))))`.
pub const TRIGGER_RECORDER: Address = address!("55bb9ad8dc1ee06d47279fc2b23cd755b7f2d326");

alloy_sol_types::sol! {
    /// The cheatcodes an assertion calls.
    interface PhEvm {
        /// An event the transaction emitted.
        struct Log { bytes32[] topics; bytes data; address emitter; }
        /// A call the transaction made.
        struct CallInputs {
            bytes input;
            uint64 gas_limit;
            address bytecode_address;
            address target_address;
            address caller;
            uint256 value;
            uint256 id;
        }
        /// The transaction.
        struct TxObject {
            address from;
            address to;
            uint256 value;
            uint64 chain_id;
            uint64 gas_limit;
            uint128 gas_price;
            bytes input;
        }
        function forkPreTx() external;
        function forkPostTx() external;
        function forkPreCall(uint256 id) external;
        function forkPostCall(uint256 id) external;
        function load(address target, bytes32 slot) external view returns (bytes32 data);
        function getLogs() external returns (Log[] memory logs);
        function getCallInputs(address target, bytes4 selector) external view returns (CallInputs[] memory calls);
        function getAllCallInputs(address target, bytes4 selector) external view returns (CallInputs[] memory calls);
        function getStaticCallInputs(address target, bytes4 selector) external view returns (CallInputs[] memory calls);
        function getDelegateCallInputs(address target, bytes4 selector) external view returns (CallInputs[] memory calls);
        function getCallCodeInputs(address target, bytes4 selector) external view returns (CallInputs[] memory calls);
        function callOutputAt(uint256 id) external view returns (bytes memory output);
        function callinputAt(uint256 id) external view returns (bytes memory input);
        function getStateChanges(address contractAddress, bytes32 slot) external view returns (bytes32[] memory stateChanges);
        function forbidChangeForSlot(bytes32 slot) external view returns (bool);
        function forbidChangeForSlots(bytes32[] slots) external view returns (bool);
        function getAssertionAdopter() external view returns (address);
        function getTxObject() external view returns (TxObject memory txObject);
    }

    /// Where an assertion's `triggers()` registers what runs it.
    interface TriggerRecorder {
        function registerCallTrigger(bytes4 fnSelector, bytes4 triggerSelector) external view;
        function registerCallTrigger(bytes4 fnSelector) external view;
        function registerStorageChangeTrigger(bytes4 fnSelector, bytes32 slot) external view;
        function registerStorageChangeTrigger(bytes4 fnSelector) external view;
        function registerBalanceChangeTrigger(bytes4 fnSelector) external view;
        /// Palisade's addition: run at the end of any transaction that touched the adopter.
        function registerTxEndTrigger(bytes4 fnSelector) external view;
    }

    /// What Palisade calls on an assertion contract.
    interface AssertionContract {
        function triggers() external view;
    }
}
