//! State of one verified block, loaded lazily from a node and proven against the block's state
//! root before use.

use crate::SimError;
use alloy_primitives::{keccak256, Address, Bytes, B256, KECCAK256_EMPTY, U256};
use alloy_rpc_types_eth::EIP1186AccountProofResponse;
use palisade_primitives::{BlockRef, Header};
use palisade_source::evm_rpc::RpcClient;
use revm::bytecode::Bytecode;
use revm::database_interface::{DBErrorMarker, DatabaseRef};
use revm::state::AccountInfo;
use serde_json::json;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Why state could not be loaded: the node failed, or its answer did not match the verified
/// state root. revm aborts the simulation with it.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{msg}")]
pub struct DbError {
    /// What went wrong.
    pub msg: String,
    /// True when the node's answer contradicts the verified state (a proof that fails, code
    /// that does not hash to the proven code hash): the node lied or serves another chain.
    pub lie: bool,
}

impl DBErrorMarker for DbError {}

#[derive(Debug, Clone)]
pub(crate) struct Account {
    info: Option<AccountInfo>,
    storage_root: B256,
}

/// The state of one verified block as far as simulations have needed it: accounts, code and
/// storage, each proven against the block's state root when it was loaded. Shared by every
/// simulation on the block.
#[derive(Debug)]
pub struct BlockState {
    header: Header,
    hash: B256,
    state_root: B256,
    accounts: Mutex<HashMap<Address, Account>>,
    storage: Mutex<HashMap<(Address, U256), U256>>,
    codes: Mutex<HashMap<B256, Bytecode>>,
    block_hashes: Mutex<HashMap<u64, B256>>,
    views: Mutex<HashMap<(Address, Bytes), Option<Bytes>>>,
    fetched: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl BlockState {
    /// An empty cache over the state of the verified block `header`.
    pub fn new(header: &Header) -> Result<Self, SimError> {
        let number = header.number;
        let hash = header.hash.ok_or(SimError::Header { number, field: "hash" })?;
        let state_root =
            header.state_root.ok_or(SimError::Header { number, field: "stateRoot" })?;
        Ok(Self {
            header: header.clone(),
            hash,
            state_root,
            accounts: Mutex::default(),
            storage: Mutex::default(),
            codes: Mutex::default(),
            block_hashes: Mutex::new(HashMap::from([(number, hash)])),
            views: Mutex::default(),
            fetched: AtomicU64::new(0),
        })
    }

    /// The block's header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The block's number.
    pub fn number(&self) -> u64 {
        self.header.number
    }

    /// The block.
    pub fn block(&self) -> BlockRef {
        BlockRef::new(self.header.number, self.hash)
    }

    /// How many entries were loaded from the node so far.
    pub fn fetched(&self) -> u64 {
        self.fetched.load(Ordering::Relaxed)
    }

    /// A watched account's balance at the block (loaded when it was not).
    pub(crate) fn balance_of(&self, a: Address) -> U256 {
        lock(&self.accounts)
            .get(&a)
            .and_then(|acc| acc.info.as_ref().map(|i| i.balance))
            .unwrap_or_default()
    }

    /// What simulations on this block loaded: each account with its slots (for warming the next
    /// block's cache), at most `max_accounts` accounts.
    pub fn hot_keys(&self, max_accounts: usize) -> Vec<(Address, Vec<U256>)> {
        let mut out: HashMap<Address, Vec<U256>> =
            lock(&self.accounts).keys().take(max_accounts).map(|a| (*a, Vec::new())).collect();
        for (a, slot) in lock(&self.storage).keys() {
            if let Some(slots) = out.get_mut(a).filter(|s| s.len() < 256) {
                slots.push(*slot);
            }
        }
        out.into_iter().collect()
    }

    /// Results of view calls on the block's state: cached ones, and `compute` for the rest.
    pub(crate) fn views_before(
        &self,
        calls: &[(Address, Bytes)],
        compute: impl FnOnce(&[(Address, Bytes)]) -> Result<Vec<Option<Bytes>>, SimError>,
    ) -> Result<Vec<Option<Bytes>>, SimError> {
        let missing: Vec<(Address, Bytes)> = {
            let cached = lock(&self.views);
            calls.iter().filter(|c| !cached.contains_key(*c)).cloned().collect()
        };
        if !missing.is_empty() {
            let got = compute(&missing)?;
            let mut cached = lock(&self.views);
            for (c, r) in missing.into_iter().zip(got) {
                cached.insert(c, r);
            }
        }
        let cached = lock(&self.views);
        Ok(calls.iter().map(|c| cached.get(c).cloned().flatten()).collect())
    }
}

/// revm's view of a [`BlockState`]: a cache miss asks the node (`eth_getProof` at the block's
/// hash, `eth_getCode`) and checks the answer against the verified state root before revm sees
/// it. Runs on a blocking thread; `rt` drives the requests.
#[derive(Debug, Clone)]
pub struct ForkDb {
    state: Arc<BlockState>,
    rpc: Arc<RpcClient>,
    rt: tokio::runtime::Handle,
}

impl ForkDb {
    /// A database over `state` that loads what it lacks through `rpc`.
    pub fn new(state: Arc<BlockState>, rpc: Arc<RpcClient>, rt: tokio::runtime::Handle) -> Self {
        Self { state, rpc, rt }
    }

    /// The block state behind it.
    pub fn state(&self) -> &Arc<BlockState> {
        &self.state
    }

    fn err(&self, what: String) -> DbError {
        DbError { msg: format!("block {}: {what}", self.state.number()), lie: false }
    }

    fn lie(&self, what: String) -> DbError {
        DbError { msg: format!("block {}: {what}", self.state.number()), lie: true }
    }

    /// Fetches and proves `address` with `slots` (blocking: revm's database is synchronous).
    fn load(&self, address: Address, slots: &[U256]) -> Result<Account, DbError> {
        self.rt.block_on(self.fetch(address, slots))
    }

    /// Fetches and proves `address` with `slots` in one `eth_getProof`; caches the account and
    /// the slots.
    pub(crate) async fn fetch(&self, address: Address, slots: &[U256]) -> Result<Account, DbError> {
        let keys: Vec<B256> = slots.iter().map(|s| B256::from(*s)).collect();
        let params = json!([address, keys, {"blockHash": self.state.hash}]);
        let v = self
            .rpc
            .call("eth_getProof", params)
            .await
            .map_err(|e| self.err(format!("eth_getProof {address}: {e}")))?;
        let p: EIP1186AccountProofResponse = serde_json::from_value(v)
            .map_err(|e| self.err(format!("eth_getProof {address}: not a proof: {e}")))?;
        if p.address != address {
            return Err(self.lie(format!("asked for {address}, the node proved {}", p.address)));
        }
        palisade_verify::verify_account_proof(self.state.state_root, &p).map_err(|e| {
            self.lie(format!("the node's state does not match the verified root: {e}"))
        })?;
        palisade_verify::verify_storage_proofs(&p).map_err(|e| {
            self.lie(format!("the node's storage does not match the proven root: {e}"))
        })?;
        self.state.fetched.fetch_add(1, Ordering::Relaxed);
        let info = if p.is_empty() {
            None
        } else {
            let code = if p.code_hash == KECCAK256_EMPTY || p.code_hash == B256::ZERO {
                Bytecode::default()
            } else {
                self.code(address, p.code_hash).await?
            };
            Some(AccountInfo::new(p.balance, p.nonce, p.code_hash, code))
        };
        let acc = Account { info, storage_root: p.storage_hash };
        lock(&self.state.accounts).entry(address).or_insert_with(|| acc.clone());
        let mut storage = lock(&self.state.storage);
        for sp in &p.storage_proof {
            storage.insert((address, U256::from_be_bytes(sp.key.as_b256().0)), sp.value);
        }
        for s in slots {
            storage.entry((address, *s)).or_insert(U256::ZERO);
        }
        Ok(acc)
    }

    async fn code(&self, address: Address, hash: B256) -> Result<Bytecode, DbError> {
        if let Some(c) = lock(&self.state.codes).get(&hash) {
            return Ok(c.clone());
        }
        let v = self
            .rpc
            .call("eth_getCode", json!([address, {"blockHash": self.state.hash}]))
            .await
            .map_err(|e| self.err(format!("eth_getCode {address}: {e}")))?;
        let bytes: Bytes = palisade_primitives::quantity::bytes(&v)
            .map_err(|e| self.err(format!("eth_getCode {address}: {e}")))?;
        if keccak256(&bytes) != hash {
            return Err(self.lie(format!(
                "the code the node sent for {address} does not hash to the proven code hash {hash}"
            )));
        }
        self.state.fetched.fetch_add(1, Ordering::Relaxed);
        let code = Bytecode::new_raw(bytes);
        lock(&self.state.codes).insert(hash, code.clone());
        Ok(code)
    }

    fn account(&self, address: Address) -> Result<Account, DbError> {
        if let Some(a) = lock(&self.state.accounts).get(&address) {
            return Ok(a.clone());
        }
        self.load(address, &[])
    }
}

impl DatabaseRef for ForkDb {
    type Error = DbError;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, DbError> {
        Ok(self.account(address)?.info)
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, DbError> {
        if code_hash == KECCAK256_EMPTY {
            return Ok(Bytecode::default());
        }
        lock(&self.state.codes)
            .get(&code_hash)
            .cloned()
            .ok_or_else(|| self.err(format!("code {code_hash} asked before its account")))
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, DbError> {
        if let Some(v) = lock(&self.state.storage).get(&(address, index)) {
            return Ok(*v);
        }
        let known = lock(&self.state.accounts).get(&address).cloned();
        if let Some(acc) = known {
            if acc.info.is_none() || acc.storage_root == alloy_trie::EMPTY_ROOT_HASH {
                return Ok(U256::ZERO);
            }
        }
        self.load(address, &[index])?;
        Ok(lock(&self.state.storage).get(&(address, index)).copied().unwrap_or_default())
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, DbError> {
        if let Some(h) = lock(&self.state.block_hashes).get(&number) {
            return Ok(*h);
        }
        // Hashes of older blocks come from the node unproven (BLOCKHASH is rare in attacks and
        // the chain service verifies the canonical chain separately).
        let h = self
            .rt
            .block_on(self.rpc.hash_at(number))
            .map_err(|e| self.err(format!("hash of block {number}: {e}")))?
            .unwrap_or_default();
        lock(&self.state.block_hashes).insert(number, h);
        Ok(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_needs_a_hash_and_a_state_root() {
        let h = Header { number: 5, ..Default::default() };
        assert!(matches!(BlockState::new(&h), Err(SimError::Header { field: "hash", .. })));
        let h = Header { number: 5, hash: Some(B256::repeat_byte(1)), ..Default::default() };
        assert!(matches!(BlockState::new(&h), Err(SimError::Header { field: "stateRoot", .. })));
    }
}
