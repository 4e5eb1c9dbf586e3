//! Assertions over committed blocks: the block's transactions executed in order on the state
//! before it (recorded with the block, or loaded from a node), each checked like a pending one.

use crate::{check_tx, AssertError, Prepared};
use alloy_primitives::{Address, B256, U256};
use palisade_primitives::assertion::{AssertionOutcome, ExecTx, Prestate};
use palisade_primitives::{BlockData, Header};
use revm::bytecode::Bytecode;
use revm::context::{BlockEnv, CfgEnv, TxEnv};
use revm::database::CacheDB;
use revm::database_interface::DatabaseRef;
use revm::primitives::TxKind;
use revm::state::AccountInfo;
use revm::DatabaseCommit;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

/// One transaction of a block, re-executed and checked.
#[derive(Debug, Clone)]
pub struct TxRun {
    /// The transaction.
    pub hash: B256,
    /// Its index in the block.
    pub index: usize,
    /// True when the re-execution succeeded.
    pub success: bool,
    /// Gas the re-execution used.
    pub gas_used: u64,
    /// The assertions it triggered.
    pub outcomes: Vec<AssertionOutcome>,
}

/// The revm transaction of a block transaction.
pub fn tx_env(t: &ExecTx) -> TxEnv {
    TxEnv {
        tx_type: t.tx_type,
        caller: t.from,
        gas_limit: t.gas,
        gas_price: t.max_fee,
        kind: t.to.map(TxKind::Call).unwrap_or(TxKind::Create),
        value: t.value,
        data: t.input.clone(),
        nonce: t.nonce,
        chain_id: t.chain_id,
        access_list: t
            .access_list
            .iter()
            .map(|(a, keys)| revm::context::transaction::AccessListItem {
                address: *a,
                storage_keys: keys.clone(),
            })
            .collect::<Vec<_>>()
            .into(),
        gas_priority_fee: t.priority_fee,
        blob_hashes: t.blob_hashes.clone(),
        max_fee_per_blob_gas: t.max_fee_per_blob_gas.unwrap_or_default(),
        // EIP-7702: revm recovers each authority from its signature, as a node does.
        authorization_list: authorization_list(&t.authorizations),
    }
}

/// The signed authorizations of a set-code transaction, as revm takes them (it recovers each
/// authority from its signature).
pub fn authorization_list(
    auths: &[palisade_primitives::assertion::SetCodeAuth],
) -> Vec<
    revm::context::either::Either<
        revm::context::transaction::SignedAuthorization,
        revm::context::transaction::RecoveredAuthorization,
    >,
> {
    auths
        .iter()
        .map(|a| {
            revm::context::either::Either::Left(
                revm::context::transaction::SignedAuthorization::new_unchecked(
                    revm::context::transaction::Authorization {
                        chain_id: a.chain_id,
                        address: a.address,
                        nonce: a.nonce,
                    },
                    a.y_parity,
                    a.r,
                    a.s,
                ),
            )
        })
        .collect()
}

/// The revm block of a block header (and what its prestate recorded of the rest).
pub fn block_env(h: &Header, p: &Prestate) -> BlockEnv {
    let mut b = BlockEnv {
        number: U256::from(h.number),
        beneficiary: h.miner.unwrap_or_default(),
        timestamp: U256::from(h.timestamp.unwrap_or_default()),
        gas_limit: h.gas_limit.unwrap_or(u64::MAX),
        basefee: h.base_fee_per_gas.unwrap_or_default().min(u64::MAX as u128) as u64,
        prevrandao: Some(p.prevrandao.unwrap_or_default()),
        ..Default::default()
    };
    if let Some(excess) = p.excess_blob_gas {
        b.set_blob_excess_gas_and_price(
            excess,
            revm::primitives::eip4844::BLOB_BASE_FEE_UPDATE_FRACTION_PRAGUE,
        );
    }
    b
}

/// How committed transactions run: every check on, as the chain ran them.
pub fn block_cfg(chain_id: u64) -> CfgEnv {
    let mut cfg = CfgEnv::default();
    cfg.chain_id = chain_id;
    cfg
}

/// The index of the last transaction of `b` that may trigger an assertion of `adopters`: one
/// sent to one, one whose logs name one (as emitter or in a topic), or one whose call trace
/// reaches one. Without receipts every transaction may.
pub fn last_candidate(b: &BlockData, adopters: &[Address]) -> Option<usize> {
    let n = b.prestate.as_ref().map(|p| p.txs.len()).unwrap_or(b.transactions.len());
    let Some(receipts) = &b.receipts else { return n.checked_sub(1) };
    let named = |a: &Address| adopters.contains(a);
    let mut last = None;
    for (i, t) in b.transactions.iter().enumerate() {
        let mut hit = t.to.as_ref().is_some_and(named);
        if let Some(r) = receipts.get(i) {
            hit |= r.logs.iter().any(|l| {
                named(&l.address) || l.topics.iter().skip(1).any(|w| named(&Address::from_word(*w)))
            });
        }
        if let Some(traces) = &b.call_traces {
            if let Some((_, f)) = traces.get(i) {
                hit |= reaches(f, &named);
            }
        }
        if hit {
            last = Some(i);
        }
    }
    last
}

/// True when `f` or a frame below it calls one of the named accounts (iteratively: call trees
/// nest up to 1,024 deep).
fn reaches(f: &palisade_primitives::CallFrame, named: &dyn Fn(&Address) -> bool) -> bool {
    let mut stack = vec![f];
    while let Some(f) = stack.pop() {
        if f.to.as_ref().is_some_and(named) {
            return true;
        }
        stack.extend(f.calls.iter());
    }
    false
}

/// Executes `txs` in order on `db` (the state before the first) and checks each against
/// `assertions`.
pub fn check_block<D>(
    db: D,
    block: &BlockEnv,
    cfg: &CfgEnv,
    txs: &[ExecTx],
    assertions: &[Arc<Prepared>],
) -> Result<Vec<TxRun>, AssertError>
where
    D: DatabaseRef,
    D::Error: std::fmt::Display,
{
    let mut cache = CacheDB::new(db);
    let mut out = Vec::with_capacity(txs.len());
    for (index, t) in txs.iter().enumerate() {
        let env = tx_env(t);
        let c = check_tx(&cache, block, cfg, &env, t.hash, assertions)?;
        cache.commit(c.state);
        out.push(TxRun {
            hash: t.hash,
            index,
            success: c.success,
            gas_used: c.gas_used,
            outcomes: c.outcomes,
        });
    }
    Ok(out)
}

/// A state read that the recorded prestate cannot answer.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct NotRecorded(pub String);

impl revm::database_interface::DBErrorMarker for NotRecorded {}

/// The state before a block, as recorded with it: any read outside it is an error that names it.
#[derive(Debug)]
pub struct PrestateDb {
    accounts: HashMap<Address, (AccountInfo, HashMap<U256, U256>)>,
    codes: HashMap<B256, Bytecode>,
    hashes: HashMap<u64, B256>,
}

impl PrestateDb {
    /// The database of `p`.
    pub fn new(p: &Prestate) -> Self {
        let mut accounts = HashMap::new();
        let mut codes = HashMap::new();
        for a in &p.accounts {
            let code = Bytecode::new_raw(a.code.clone());
            let info = AccountInfo {
                balance: a.balance,
                nonce: a.nonce,
                code_hash: a.code_hash,
                code: Some(code.clone()),
                ..Default::default()
            };
            codes.insert(a.code_hash, code);
            let e = accounts.entry(a.address).or_insert_with(|| (info, HashMap::new()));
            for (k, v) in &a.storage {
                e.1.insert(U256::from_be_bytes(k.0), *v);
            }
        }
        let mut hashes: HashMap<u64, B256> = p.block_hashes.iter().copied().collect();
        hashes.insert(p.parent.number, p.parent.hash);
        Self { accounts, codes, hashes }
    }
}

impl DatabaseRef for PrestateDb {
    type Error = NotRecorded;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, NotRecorded> {
        match self.accounts.get(&address) {
            Some((info, _)) => Ok(Some(info.clone())),
            None => Err(NotRecorded(format!("account {address} is not in the recorded prestate"))),
        }
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, NotRecorded> {
        self.codes
            .get(&code_hash)
            .cloned()
            .ok_or_else(|| NotRecorded(format!("code {code_hash} is not in the recorded prestate")))
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, NotRecorded> {
        self.accounts.get(&address).and_then(|(_, s)| s.get(&index)).copied().ok_or_else(|| {
            NotRecorded(format!("slot {index:#x} of {address} is not in the recorded prestate"))
        })
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, NotRecorded> {
        self.hashes.get(&number).copied().ok_or_else(|| {
            NotRecorded(format!("the hash of block {number} is not in the recorded prestate"))
        })
    }
}

/// What a [`ReadSet`] saw read: each account with the slots read, and the block hashes.
#[derive(Debug, Clone, Default)]
pub struct Reads(Arc<Mutex<BTreeMap<Address, BTreeSet<U256>>>>, Arc<Mutex<BTreeMap<u64, B256>>>);

impl Reads {
    /// The accounts read so far, each with the slots read.
    pub fn take(&self) -> Vec<(Address, Vec<U256>)> {
        let r = std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()));
        r.into_iter().map(|(a, s)| (a, s.into_iter().collect())).collect()
    }

    /// The block hashes read so far (`BLOCKHASH`), by number.
    pub fn take_hashes(&self) -> Vec<(u64, B256)> {
        std::mem::take(&mut *self.1.lock().unwrap_or_else(|p| p.into_inner())).into_iter().collect()
    }
}

/// A database that remembers every account and slot read through it: what a prestate must hold
/// for the same execution to run again on it.
#[derive(Debug)]
pub struct ReadSet<D> {
    inner: D,
    read: Reads,
}

impl<D> ReadSet<D> {
    /// Wraps `inner`; what is read is kept in `read`.
    pub fn new(inner: D, read: Reads) -> Self {
        Self { inner, read }
    }

    fn note(&self, a: Address, slot: Option<U256>) {
        let mut r = self.read.0.lock().unwrap_or_else(|p| p.into_inner());
        let e = r.entry(a).or_default();
        if let Some(s) = slot {
            e.insert(s);
        }
    }
}

impl<D: DatabaseRef> DatabaseRef for ReadSet<D> {
    type Error = D::Error;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, D::Error> {
        self.note(address, None);
        self.inner.basic_ref(address)
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, D::Error> {
        self.inner.code_by_hash_ref(code_hash)
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, D::Error> {
        self.note(address, Some(index));
        self.inner.storage_ref(address, index)
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, D::Error> {
        let h = self.inner.block_hash_ref(number)?;
        self.read.1.lock().unwrap_or_else(|p| p.into_inner()).insert(number, h);
        Ok(h)
    }
}
