//! The states an assertion can read (before and after the transaction, before and after one of
//! its calls), each the state before the transaction with what had changed by then laid over it,
//! and the database revm reads them through.

use alloy_primitives::{Address, B256, U256};
use revm::bytecode::Bytecode;
use revm::database_interface::{DBErrorMarker, Database, DatabaseRef};
use revm::state::{AccountInfo, EvmState};
use std::collections::HashMap;
use std::sync::Arc;

/// Which state an assertion reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fork {
    /// Before the transaction.
    PreTx,
    /// After it.
    PostTx,
    /// At the start of call `id`.
    PreCall(u64),
    /// At the end of call `id`.
    PostCall(u64),
}

impl std::fmt::Display for Fork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fork::PreTx => f.write_str("pre_tx"),
            Fork::PostTx => f.write_str("post_tx"),
            Fork::PreCall(id) => write!(f, "pre_call:{id}"),
            Fork::PostCall(id) => write!(f, "post_call:{id}"),
        }
    }
}

/// Accounts and slots that differ from the state before the transaction.
#[derive(Debug, Default, Clone)]
pub struct Overlay {
    accounts: HashMap<Address, OverlayAccount>,
    codes: HashMap<B256, Bytecode>,
}

#[derive(Debug, Default, Clone)]
pub(crate) struct OverlayAccount {
    pub(crate) info: AccountInfo,
    /// Created (or destroyed) in the transaction: slots not listed are zero.
    pub(crate) fresh: bool,
    pub(crate) storage: HashMap<U256, U256>,
}

impl Overlay {
    /// The accounts of a journal's (or an execution result's) state, as they are now.
    pub fn from_state(state: &EvmState) -> Self {
        let mut o = Overlay::default();
        for (a, acc) in state {
            let mut info = acc.info.clone();
            if let Some(code) = &info.code {
                o.codes.insert(info.code_hash, code.clone());
            }
            info.account_id = None;
            let fresh = acc.is_created() || acc.is_selfdestructed();
            let storage = acc.storage.iter().map(|(k, s)| (*k, s.present_value)).collect();
            o.accounts.insert(*a, OverlayAccount { info, fresh, storage });
        }
        o
    }

    /// Adds (or replaces) one account, with all of its storage.
    pub(crate) fn put(&mut self, a: Address, acc: OverlayAccount) {
        if let Some(code) = &acc.info.code {
            self.codes.insert(acc.info.code_hash, code.clone());
        }
        self.accounts.insert(a, acc);
    }
}

/// A state read failed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct StateError(pub String);

impl DBErrorMarker for StateError {}

/// The database an assertion runs on: the state before the transaction (`base`), the active
/// fork's overlay over it, and the accounts every fork shares (the assertion contract).
#[derive(Debug)]
pub struct ForkDb<'a, D> {
    pub(crate) base: &'a D,
    pub(crate) fork: Fork,
    pub(crate) overlay: Option<Arc<Overlay>>,
    pub(crate) persistent: &'a Overlay,
}

impl<D: DatabaseRef> ForkDb<'_, D>
where
    D::Error: std::fmt::Display,
{
    fn account(&self, a: &Address) -> Option<&OverlayAccount> {
        self.persistent
            .accounts
            .get(a)
            .or_else(|| self.overlay.as_ref().and_then(|o| o.accounts.get(a)))
    }

    /// An account on the active fork.
    pub fn info(&self, a: Address) -> Result<Option<AccountInfo>, StateError> {
        match self.account(&a) {
            Some(acc) => Ok(Some(acc.info.clone())),
            None => self.base.basic_ref(a).map_err(|e| StateError(e.to_string())),
        }
    }

    /// A slot on the active fork.
    pub fn slot(&self, a: Address, key: U256) -> Result<U256, StateError> {
        if let Some(acc) = self.account(&a) {
            if let Some(v) = acc.storage.get(&key) {
                return Ok(*v);
            }
            if acc.fresh {
                return Ok(U256::ZERO);
            }
        }
        self.base.storage_ref(a, key).map_err(|e| StateError(e.to_string()))
    }
}

impl<D: DatabaseRef> Database for ForkDb<'_, D>
where
    D::Error: std::fmt::Display,
{
    type Error = StateError;

    fn basic(&mut self, address: Address) -> Result<Option<AccountInfo>, StateError> {
        self.info(address)
    }

    fn code_by_hash(&mut self, code_hash: B256) -> Result<Bytecode, StateError> {
        let found = self
            .persistent
            .codes
            .get(&code_hash)
            .or_else(|| self.overlay.as_ref().and_then(|o| o.codes.get(&code_hash)));
        match found {
            Some(c) => Ok(c.clone()),
            None => self.base.code_by_hash_ref(code_hash).map_err(|e| StateError(e.to_string())),
        }
    }

    fn storage(&mut self, address: Address, index: U256) -> Result<U256, StateError> {
        self.slot(address, index)
    }

    fn block_hash(&mut self, number: u64) -> Result<B256, StateError> {
        self.base.block_hash_ref(number).map_err(|e| StateError(e.to_string()))
    }
}
