// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

// The cheatcode interface Palisade serves inside revm. Addresses and function signatures are
// those of Phylax's credible-std (MIT), so assertions written against it compile and run here
// unchanged where they use these; registerTxEndTrigger is Palisade's addition.

interface PhEvm {
    struct Log {
        bytes32[] topics;
        bytes data;
        address emitter;
    }

    struct CallInputs {
        bytes input; // the arguments, without the selector
        uint64 gas_limit;
        address bytecode_address;
        address target_address;
        address caller;
        uint256 value;
        uint256 id; // the call's id, for forkPreCall/forkPostCall/callOutputAt
    }

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
    function forbidChangeForSlots(bytes32[] memory slots) external view returns (bool);
    function getAssertionAdopter() external view returns (address);
    function getTxObject() external view returns (TxObject memory txObject);
}

interface TriggerRecorder {
    function registerCallTrigger(bytes4 fnSelector, bytes4 triggerSelector) external view;
    function registerCallTrigger(bytes4 fnSelector) external view;
    function registerStorageChangeTrigger(bytes4 fnSelector, bytes32 slot) external view;
    function registerStorageChangeTrigger(bytes4 fnSelector) external view;
    function registerBalanceChangeTrigger(bytes4 fnSelector) external view;
    function registerTxEndTrigger(bytes4 fnSelector) external view;
}

abstract contract Credible {
    PhEvm internal constant ph = PhEvm(address(uint160(uint256(keccak256("Kim Jong Un Sucks")))));
}

/// An assertion: its functions revert when a transaction breaks the property they state.
abstract contract Assertion is Credible {
    TriggerRecorder internal constant triggerRecorder =
        TriggerRecorder(address(uint160(uint256(keccak256("TriggerRecorder")))));

    /// Registers what runs each assertion function.
    function triggers() external view virtual;

    function registerCallTrigger(bytes4 fnSelector, bytes4 triggerSelector) internal view {
        triggerRecorder.registerCallTrigger(fnSelector, triggerSelector);
    }

    function registerCallTrigger(bytes4 fnSelector) internal view {
        triggerRecorder.registerCallTrigger(fnSelector);
    }

    function registerStorageChangeTrigger(bytes4 fnSelector, bytes32 slot) internal view {
        triggerRecorder.registerStorageChangeTrigger(fnSelector, slot);
    }

    function registerBalanceChangeTrigger(bytes4 fnSelector) internal view {
        triggerRecorder.registerBalanceChangeTrigger(fnSelector);
    }

    function registerTxEndTrigger(bytes4 fnSelector) internal view {
        triggerRecorder.registerTxEndTrigger(fnSelector);
    }
}
