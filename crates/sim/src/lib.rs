//! Pre-execution of pending transactions.
//!
//! A [`Simulator`] runs a pending transaction with revm on the state of the latest *verified*
//! block, before any block includes it. State is loaded lazily from the node at that block's hash
//! with `eth_getProof`, and every account and slot is checked against the verified state root
//! before revm sees it (code against its proven code hash): a lying node cannot make a drain look
//! harmless. What was loaded is cached for the block and shared by every simulation on it; a new
//! tip starts a new cache.
//!
//! The simulation records the call tree (so that a watched contract reached from inside an
//! attacker's contract is seen), the logs, the balances and storage of watched contracts before
//! and after, and view calls (invariants) before and after. Detectors judge the
//! [`Simulation`]; this crate only executes.

mod db;
mod prestate;
mod tracer;

pub use db::{BlockState, DbError, ForkDb};
pub use prestate::record_prestate;

use alloy_primitives::{Address, Bytes, TxKind, U256};
use palisade_assert::{AssertionSpec, Prepared};
pub use palisade_primitives::pending::SimNeeds;
use palisade_primitives::pending::{BalanceChange, PendingTx, Simulation, SlotChange, ViewPair};
use palisade_primitives::{BlockRef, CallFrame, Header, Log};
use palisade_source::evm_rpc::RpcClient;
use revm::context::result::{EVMError, ExecutionResult};
use revm::context::{BlockEnv, CfgEnv, TxEnv};
use revm::database::CacheDB;
use revm::{Context, DatabaseCommit, ExecuteEvm, InspectEvm, MainBuilder, MainContext};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Errors of the simulator.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// No verified block yet to simulate on.
    #[error("no verified block to simulate on yet")]
    NoState,
    /// The header lacks a field the simulation needs.
    #[error("block {number}: header has no {field}")]
    Header {
        /// Block number.
        number: u64,
        /// The missing field.
        field: &'static str,
    },
    /// Loading state from the node failed, or what it sent did not match the verified root.
    #[error("state of block {number}: {reason}")]
    State {
        /// Block number.
        number: u64,
        /// What went wrong.
        reason: String,
    },
    /// The node's answer contradicts the verified state (a failing proof, code that does not
    /// hash to its proven hash): the node lied, and nothing it said was used.
    #[error("state of block {number}: {reason}")]
    Lie {
        /// Block number.
        number: u64,
        /// What did not match.
        reason: String,
    },
    /// revm refused the transaction or its environment.
    #[error("transaction {hash}: {reason}")]
    Evm {
        /// The transaction.
        hash: alloy_primitives::B256,
        /// revm's error.
        reason: String,
    },
    /// The worker thread failed.
    #[error("simulation worker: {0}")]
    Worker(String),
}

/// A simulation's full result: the summary detectors judge, the logs the transaction would emit
/// and its call tree.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The summary.
    pub sim: Simulation,
    /// Logs it would emit (none when it fails).
    pub logs: Vec<Log>,
    /// Its call tree.
    pub frame: Option<CallFrame>,
}

/// Runs pending transactions on the latest verified state of one chain.
#[derive(Debug)]
pub struct Simulator {
    rpc: Arc<RpcClient>,
    chain_id: u64,
    current: Mutex<Option<Arc<BlockState>>>,
    /// Assertion contracts deployed once each (or why one could not be).
    prepared: Mutex<Vec<PreparedAssertion>>,
}

/// An assertion contract and its deployment (or why it could not be deployed).
type PreparedAssertion = (Arc<AssertionSpec>, Result<Arc<Prepared>, String>);

/// Accounts of the previous tip warmed for the next one.
const PREFETCH_ACCOUNTS: usize = 256;
/// Prefetch requests at once.
const PREFETCH_CONCURRENCY: usize = 8;

/// Gas of view calls and of transactions that name none (the EIP-7825 per-transaction cap).
const GAS_CAP: u64 = 1 << 24;

impl Simulator {
    /// A simulator that loads state through `rpc` (one endpoint of the chain; what it sends is
    /// checked against verified roots).
    pub fn new(rpc: Arc<RpcClient>, chain_id: u64) -> Self {
        Self { rpc, chain_id, current: Mutex::new(None), prepared: Mutex::new(Vec::new()) }
    }

    /// Moves to a new verified tip: later simulations run on its state, with a fresh cache.
    /// What simulations loaded on the previous tip is loaded again for the new one in the
    /// background (one proven `eth_getProof` per account with all its slots, several at once),
    /// so that the next simulations find their state warm. Call within a Tokio runtime.
    pub fn set_tip(&self, header: &Header) -> Result<(), SimError> {
        let state = Arc::new(BlockState::new(header)?);
        let previous =
            self.current.lock().unwrap_or_else(|p| p.into_inner()).replace(state.clone());
        if let (Some(prev), Ok(rt)) = (previous, tokio::runtime::Handle::try_current()) {
            let hot = prev.hot_keys(PREFETCH_ACCOUNTS);
            if !hot.is_empty() {
                let db = ForkDb::new(state, self.rpc.clone(), rt.clone());
                rt.spawn(async move {
                    use futures::StreamExt;
                    futures::stream::iter(hot)
                        .for_each_concurrent(PREFETCH_CONCURRENCY, |(a, slots)| {
                            let db = db.clone();
                            async move {
                                // A failure here is not fatal: the simulation that needs the
                                // entry loads it (and reports a lie) itself.
                                let _ = db.fetch(a, &slots).await;
                            }
                        })
                        .await;
                });
            }
        }
        Ok(())
    }

    /// The assertions of `specs`, each deployed once (on first use) and kept; one that cannot
    /// be deployed is reported once and left out.
    fn prepare(&self, specs: &[Arc<AssertionSpec>]) -> Vec<Arc<Prepared>> {
        let mut cache = self.prepared.lock().unwrap_or_else(|p| p.into_inner());
        specs
            .iter()
            .filter_map(|spec| {
                if let Some((_, r)) = cache.iter().find(|(s, _)| s == spec) {
                    return r.as_ref().ok().cloned();
                }
                let r = Prepared::new(spec.clone(), self.chain_id).map(Arc::new).map_err(|e| {
                    tracing::error!(target: "palisade::sim", error = %e, "Assertion not deployed; it will not run.");
                    e.to_string()
                });
                cache.push((spec.clone(), r.clone()));
                r.ok()
            })
            .collect()
    }

    /// The block simulations currently run on.
    pub fn tip(&self) -> Option<BlockRef> {
        self.current.lock().unwrap_or_else(|p| p.into_inner()).as_ref().map(|s| s.block())
    }

    /// Simulates `tx` on the current tip, off the async runtime (revm is synchronous and state
    /// loads block on the node).
    pub async fn simulate(&self, tx: &PendingTx, needs: &SimNeeds) -> Result<Outcome, SimError> {
        let state = self
            .current
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or(SimError::NoState)?;
        let db = ForkDb::new(state, self.rpc.clone(), tokio::runtime::Handle::current());
        let assertions = self.prepare(&needs.assertions);
        let (tx, needs, chain_id) = (tx.clone(), needs.clone(), self.chain_id);
        tokio::task::spawn_blocking(move || run(db, chain_id, &tx, &needs, &assertions))
            .await
            .map_err(|e| SimError::Worker(e.to_string()))?
    }
}

fn block_env(s: &BlockState) -> BlockEnv {
    let h = s.header();
    BlockEnv {
        number: U256::from(h.number + 1),
        beneficiary: h.miner.unwrap_or_default(),
        timestamp: U256::from(h.timestamp.unwrap_or_default() + 1),
        gas_limit: h.gas_limit.unwrap_or(GAS_CAP),
        basefee: h.base_fee_per_gas.unwrap_or_default().min(u64::MAX as u128) as u64,
        prevrandao: Some(Default::default()),
        ..Default::default()
    }
}

fn cfg_env(chain_id: u64) -> CfgEnv {
    let mut cfg = CfgEnv::default();
    cfg.chain_id = chain_id;
    // A pending transaction may wait behind others of its sender: judge what it does, not
    // whether its nonce is next. Fees are what they are: the base fee of the next block is not
    // known yet, so the cap is not checked against it.
    cfg.disable_nonce_check = true;
    cfg.disable_base_fee = true;
    cfg.disable_block_gas_limit = true;
    cfg
}

fn view_cfg(chain_id: u64) -> CfgEnv {
    let mut cfg = cfg_env(chain_id);
    cfg.disable_balance_check = true;
    cfg
}

fn tx_env(tx: &PendingTx, chain_id: u64) -> TxEnv {
    let dynamic = tx.tx_type >= 2;
    let set_code = !tx.authorizations.is_empty();
    TxEnv {
        tx_type: if set_code {
            4
        } else if dynamic {
            2
        } else {
            0
        },
        // EIP-7702: the delegations it sets are applied before it runs, as on chain.
        authorization_list: palisade_assert::authorization_list(&tx.authorizations),
        caller: tx.from,
        gas_limit: if tx.gas == 0 { GAS_CAP } else { tx.gas.min(GAS_CAP) },
        gas_price: tx.max_fee,
        kind: tx.to.map(TxKind::Call).unwrap_or(TxKind::Create),
        value: tx.value,
        data: tx.input.clone(),
        nonce: tx.nonce,
        chain_id: Some(chain_id),
        gas_priority_fee: dynamic.then_some(tx.priority_fee),
        ..Default::default()
    }
}

fn view_tx(to: Address, data: Bytes, nonce: u64, chain_id: u64) -> TxEnv {
    TxEnv {
        tx_type: 0,
        caller: Address::ZERO,
        gas_limit: GAS_CAP,
        gas_price: 0,
        kind: TxKind::Call(to),
        data,
        nonce,
        chain_id: Some(chain_id),
        ..Default::default()
    }
}

const BALANCE_OF: [u8; 4] = [0x70, 0xa0, 0x82, 0x31];

fn balance_of_call(token: Address, holder: Address) -> (Address, Bytes) {
    let mut data = BALANCE_OF.to_vec();
    data.extend_from_slice(&[0u8; 12]);
    data.extend_from_slice(holder.as_slice());
    (token, data.into())
}

fn run(
    db: ForkDb,
    chain_id: u64,
    tx: &PendingTx,
    needs: &SimNeeds,
    assertions: &[Arc<Prepared>],
) -> Result<Outcome, SimError> {
    let started = Instant::now();
    let state = db.state().clone();
    let block = block_env(&state);
    let cfg = cfg_env(chain_id);
    let mut evm = Context::mainnet()
        .with_db(CacheDB::new(db))
        .with_block(block)
        .with_cfg(cfg)
        .build_mainnet_with_inspector(tracer::CallTracer::default());
    let fetched_before = state.fetched();
    let res = evm.inspect_tx(tx_env(tx, chain_id));
    let exec_micros = started.elapsed().as_micros() as u64;
    let tracer = std::mem::take(&mut evm.inspector);
    let res = match res {
        Ok(r) => r,
        Err(EVMError::Database(e)) => return Err(db_error(state.number(), e)),
        Err(e) => {
            // The transaction is invalid on this state (balance, intrinsic gas): an answer.
            let sim = Simulation {
                state_block: state.block(),
                success: false,
                error: Some(format!("invalid: {e}")),
                gas_used: 0,
                touched: Vec::new(),
                balances: Vec::new(),
                slots: Vec::new(),
                views: Vec::new(),
                exec_micros,
                total_micros: started.elapsed().as_micros() as u64,
                fetched: state.fetched() - fetched_before,
                assertions: Vec::new(),
                assert_micros: 0,
            };
            return Ok(Outcome { sim, logs: Vec::new(), frame: None });
        }
    };
    let (success, error, gas_used, logs) = match &res.result {
        ExecutionResult::Success { logs, .. } => {
            (true, None, res.result.tx_gas_used(), logs.clone())
        }
        ExecutionResult::Revert { output, .. } => {
            (false, Some(revert_reason(output)), res.result.tx_gas_used(), Vec::new())
        }
        ExecutionResult::Halt { reason, .. } => {
            (false, Some(format!("halted: {reason:?}")), res.result.tx_gas_used(), Vec::new())
        }
    };
    let touched = tracer.touched();
    let frame = tracer.into_root();
    let logs: Vec<Log> = logs
        .into_iter()
        .enumerate()
        .map(|(i, l)| Log {
            address: l.address,
            topics: l.data.topics().to_vec(),
            data: l.data.data.clone(),
            log_index: Some(i as u64),
        })
        .collect();

    // Assertions, on the state the simulation loaded (already in its cache): the transaction
    // runs again under the assertion tracer, then each triggered assertion function.
    let assert_started = Instant::now();
    let mut outcomes = Vec::new();
    if success && !assertions.is_empty() {
        let pre = &evm.ctx.journaled_state.database;
        match palisade_assert::check_tx(
            pre,
            &block_env(&state),
            &cfg_env(chain_id),
            &tx_env(tx, chain_id),
            tx.hash,
            assertions,
        ) {
            Ok(c) => outcomes = c.outcomes,
            Err(e) => {
                tracing::warn!(target: "palisade::sim", tx = %tx.hash, error = %e, "Assertions could not run.");
                outcomes = assertions
                    .iter()
                    .map(|p| {
                        palisade_assert::AssertionOutcome::not_run(p.spec(), tx.hash, e.to_string())
                    })
                    .collect();
            }
        }
    }
    let assert_micros = assert_started.elapsed().as_micros() as u64;
    let touches_watched = touched.iter().any(|a| needs.watched.contains(a));
    let mut balances = Vec::new();
    let mut slots = Vec::new();
    let mut views = Vec::new();
    if touches_watched {
        for w in &needs.watched {
            let before = state.balance_of(*w);
            let after = res.state.get(w).map(|a| a.info.balance).unwrap_or(before);
            if before != after {
                balances.push(BalanceChange { account: *w, asset: None, before, after });
            }
            if let Some(acc) = res.state.get(w) {
                let mut changed: Vec<_> = acc
                    .storage
                    .iter()
                    .filter(|(_, s)| s.original_value != s.present_value)
                    .map(|(k, s)| SlotChange {
                        address: *w,
                        slot: (*k).into(),
                        before: s.original_value,
                        after: s.present_value,
                    })
                    .collect();
                changed.sort_by_key(|c| c.slot);
                slots.extend(changed);
            }
        }
        // Views and token balances: before on a fresh cache over the block's state, after on
        // the state the transaction left.
        let mut calls: Vec<(Address, Bytes)> = needs.views.clone();
        let token_calls: Vec<(Address, Address, (Address, Bytes))> = needs
            .tokens
            .iter()
            .flat_map(|t| needs.watched.iter().map(move |w| (*t, *w, balance_of_call(*t, *w))))
            .collect();
        calls.extend(token_calls.iter().map(|(_, _, c)| c.clone()));
        let after = run_views(&mut evm, res.state, &calls)?;
        let before = state.views_before(&calls, |calls| {
            let db = evm.ctx.journaled_state.database.db.clone();
            let mut fresh = Context::mainnet()
                .with_db(CacheDB::new(db))
                .with_block(block_env(&state))
                .with_cfg(view_cfg(chain_id))
                .build_mainnet();
            calls
                .iter()
                .enumerate()
                .map(|(i, (to, data))| {
                    fresh
                        .transact(view_tx(*to, data.clone(), i as u64, chain_id))
                        .map(|r| call_output(&r.result))
                        .map_err(|e| match e {
                            EVMError::Database(e) => db_error(state.number(), e),
                            e => SimError::State { number: state.number(), reason: e.to_string() },
                        })
                })
                .collect()
        });
        let before = before?;
        for (i, (to, data)) in needs.views.iter().enumerate() {
            views.push(ViewPair {
                to: *to,
                data: data.clone(),
                before: before[i].clone(),
                after: after[i].clone(),
            });
        }
        let n = needs.views.len();
        for (j, (token, holder, _)) in token_calls.iter().enumerate() {
            let word = |o: &Option<Bytes>| {
                o.as_ref().filter(|b| b.len() >= 32).map(|b| U256::from_be_slice(&b[..32]))
            };
            if let (Some(b), Some(a)) = (word(&before[n + j]), word(&after[n + j])) {
                if a != b {
                    balances.push(BalanceChange {
                        account: *holder,
                        asset: Some(*token),
                        before: b,
                        after: a,
                    });
                }
            }
        }
    }
    let sim = Simulation {
        state_block: state.block(),
        success,
        error,
        gas_used,
        touched,
        balances,
        slots,
        views,
        exec_micros,
        total_micros: started.elapsed().as_micros() as u64,
        fetched: state.fetched() - fetched_before,
        assertions: outcomes,
        assert_micros,
    };
    Ok(Outcome { sim, logs, frame })
}

type Evm =
    revm::handler::MainnetEvm<revm::handler::MainnetContext<CacheDB<ForkDb>>, tracer::CallTracer>;

fn run_views(
    evm: &mut Evm,
    state: revm::state::EvmState,
    calls: &[(Address, Bytes)],
) -> Result<Vec<Option<Bytes>>, SimError> {
    evm.ctx.journaled_state.database.commit(state);
    // Views are read as the zero address, which pays nothing.
    evm.ctx.cfg.disable_balance_check = true;
    let mut out = Vec::with_capacity(calls.len());
    for (i, (to, data)) in calls.iter().enumerate() {
        let chain_id = evm.ctx.cfg.chain_id;
        let r = evm.transact(view_tx(*to, data.clone(), i as u64, chain_id));
        match r {
            Ok(r) => out.push(call_output(&r.result)),
            Err(e) => {
                let number = evm.ctx.journaled_state.database.db.state().number();
                return Err(match e {
                    EVMError::Database(e) => db_error(number, e),
                    e => SimError::State { number, reason: e.to_string() },
                });
            }
        }
    }
    Ok(out)
}

fn db_error(number: u64, e: db::DbError) -> SimError {
    if e.lie {
        SimError::Lie { number, reason: e.msg }
    } else {
        SimError::State { number, reason: e.msg }
    }
}

fn call_output(r: &ExecutionResult) -> Option<Bytes> {
    match r {
        ExecutionResult::Success { output, .. } => Some(output.data().clone()),
        _ => None,
    }
}

/// The reason in revert data: `Error(string)`, a custom error's selector, or the raw bytes.
fn revert_reason(output: &Bytes) -> String {
    if output.len() >= 68 && output[..4] == [0x08, 0xc3, 0x79, 0xa0] {
        let len = U256::from_be_slice(&output[36..68]);
        if let Ok(len) = usize::try_from(len) {
            if let Some(s) = output.get(68..68 + len) {
                return format!("reverted: {}", String::from_utf8_lossy(s));
            }
        }
    }
    if output.is_empty() {
        "reverted".into()
    } else if output.len() == 4 {
        format!("reverted with custom error {output}")
    } else {
        format!("reverted with {output}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revert_reasons_are_decoded() {
        let mut data = vec![0x08, 0xc3, 0x79, 0xa0];
        data.extend_from_slice(&U256::from(32).to_be_bytes::<32>());
        data.extend_from_slice(&U256::from(4).to_be_bytes::<32>());
        data.extend_from_slice(b"nope");
        data.extend_from_slice(&[0u8; 28]);
        assert_eq!(revert_reason(&data.into()), "reverted: nope");
        assert_eq!(
            revert_reason(&Bytes::from_static(&[0xd9, 0x3c, 0x06, 0x65])),
            "reverted with custom error 0xd93c0665"
        );
        assert_eq!(revert_reason(&Bytes::new()), "reverted");
    }

    #[test]
    fn balance_of_calls_are_abi_encoded() {
        let (_, data) = balance_of_call(Address::ZERO, Address::repeat_byte(0xab));
        assert_eq!(data.len(), 36);
        assert_eq!(&data[..4], &BALANCE_OF);
        assert_eq!(&data[16..], Address::repeat_byte(0xab).as_slice());
    }
}
