//! Pending transactions: the `newPendingTransactions` subscription (full transactions where the
//! node sends them, otherwise hashes then `eth_getTransactionByHash`), with `txpool_content`
//! polling as fallback and reconciliation; a bounded pool, deduplicated, where a transaction is
//! dropped when it is mined or replaced (same sender and nonce, higher fee).

use crate::evm_rpc::RpcClient;
use crate::{SensitiveUrl, SourceError};
use alloy_primitives::{Address, B256};
use futures::{SinkExt, StreamExt};
pub use palisade_primitives::pending::PendingTx;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

type Result<T, E = SourceError> = std::result::Result<T, E>;

/// What happened in the pool.
#[derive(Debug, Clone, PartialEq)]
pub enum PoolEvent {
    /// A new pending transaction, with when it was first seen.
    Added(PendingTx, Instant),
    /// A transaction replaced by another with the same sender and nonce.
    Replaced {
        /// The one gone.
        old: B256,
        /// The one in its place.
        new: B256,
    },
}

/// The pending transactions known now, bounded.
#[derive(Debug)]
pub struct Pool {
    cap: usize,
    by_hash: HashMap<B256, PendingTx>,
    by_sender: BTreeMap<(Address, u64), B256>,
    order: VecDeque<B256>,
}

impl Pool {
    /// A pool of at most `cap` transactions (the oldest are dropped first).
    pub fn new(cap: usize) -> Self {
        Self {
            cap: cap.max(1),
            by_hash: HashMap::new(),
            by_sender: BTreeMap::new(),
            order: VecDeque::new(),
        }
    }

    /// Number of transactions held.
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    /// The transaction with `hash`.
    pub fn get(&self, hash: &B256) -> Option<&PendingTx> {
        self.by_hash.get(hash)
    }

    /// Every transaction held.
    pub fn iter(&self) -> impl Iterator<Item = &PendingTx> {
        self.by_hash.values()
    }

    /// Adds a transaction: `None` when it was known. Another transaction with the same sender
    /// and nonce is replaced whatever the fees: the node accepted the new one, so the old one is
    /// gone from its pool (replaced, or dropped and then reused), and the new one must be judged
    /// (an attacker could otherwise hide behind a dropped transaction's nonce).
    pub fn insert(&mut self, tx: PendingTx) -> Option<Vec<PoolEvent>> {
        if self.by_hash.contains_key(&tx.hash) {
            return None;
        }
        let mut events = Vec::new();
        let key = (tx.from, tx.nonce);
        if let Some(old) = self.by_sender.get(&key).copied() {
            self.remove(&old);
            events.push(PoolEvent::Replaced { old, new: tx.hash });
        }
        self.by_sender.insert(key, tx.hash);
        self.order.push_back(tx.hash);
        self.by_hash.insert(tx.hash, tx.clone());
        while self.by_hash.len() > self.cap {
            let Some(h) = self.order.pop_front() else { break };
            self.remove(&h);
        }
        events.insert(0, PoolEvent::Added(tx, Instant::now()));
        Some(events)
    }

    /// Removes a transaction.
    pub fn remove(&mut self, hash: &B256) -> Option<PendingTx> {
        let tx = self.by_hash.remove(hash)?;
        if self.by_sender.get(&(tx.from, tx.nonce)) == Some(hash) {
            self.by_sender.remove(&(tx.from, tx.nonce));
        }
        self.order.retain(|h| h != hash);
        Some(tx)
    }

    /// Drops what a mined block settles: its transactions, and every pending transaction of
    /// their senders at or below the nonces they used.
    pub fn mined(&mut self, txs: &[(B256, Address, u64)]) {
        for (h, from, nonce) in txs {
            self.remove(h);
            let stale: Vec<B256> =
                self.by_sender.range((*from, 0)..=(*from, *nonce)).map(|(_, h)| *h).collect();
            for s in stale {
                self.remove(&s);
            }
        }
    }
}

/// Follows an endpoint's pending transactions until `shutdown`, sending each new one on `tx`:
/// the WebSocket subscription when the endpoint has one (reconnecting with backoff), and
/// `txpool_content` polling every `poll` (the fallback, and a sweep for what a subscription
/// missed).
pub async fn follow_pending(
    rpc: std::sync::Arc<RpcClient>,
    ws: Option<SensitiveUrl>,
    poll: Duration,
    tx: mpsc::Sender<PendingTx>,
    shutdown: CancellationToken,
) {
    let poller = {
        let (rpc, tx, shutdown) = (rpc.clone(), tx.clone(), shutdown.clone());
        async move {
            let mut tick = tokio::time::interval(poll);
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    _ = tick.tick() => {}
                }
                match txpool_content(&rpc).await {
                    Ok(list) => {
                        for t in list {
                            if tx.send(t).await.is_err() {
                                return;
                            }
                        }
                    }
                    Err(e) => {
                        tracing::debug!(target: "palisade::mempool", error = %e, "txpool_content failed.")
                    }
                }
            }
        }
    };
    let subscriber = async move {
        let Some(ws) = ws else { return };
        let mut backoff = Duration::from_millis(200);
        loop {
            if let Err(e) = ws_session(&rpc, &ws, &tx, &shutdown).await {
                tracing::debug!(target: "palisade::mempool", error = %e, "Pending subscription down; reconnecting.");
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(30));
        }
    };
    tokio::join!(poller, subscriber);
}

/// Every transaction of `txpool_content` (pending and queued).
pub async fn txpool_content(rpc: &RpcClient) -> Result<Vec<PendingTx>> {
    let v = rpc.call("txpool_content", json!([])).await?;
    let mut out = Vec::new();
    for section in ["pending", "queued"] {
        let Some(Value::Object(by_sender)) = v.get(section) else { continue };
        for txs in by_sender.values() {
            let Value::Object(by_nonce) = txs else { continue };
            for t in by_nonce.values() {
                if let Ok(p) = PendingTx::from_json(t) {
                    out.push(p);
                }
            }
        }
    }
    Ok(out)
}

async fn ws_session(
    rpc: &RpcClient,
    ws: &SensitiveUrl,
    tx: &mpsc::Sender<PendingTx>,
    shutdown: &CancellationToken,
) -> Result<()> {
    let transport = |reason: String| crate::ws::transport(ws, reason);
    // Full transactions where the node offers them (geth, reth, anvil); hashes otherwise.
    let sub = json!({"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe", "params": ["newPendingTransactions", true]});
    let mut stream = crate::ws::subscribe(ws, Duration::from_secs(10), &sub).await?;
    loop {
        let msg = tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            m = stream.next() => m,
        };
        crate::ws::quickack(&stream);
        let text = match msg {
            None => return Err(transport("connection closed".into())),
            Some(Err(e)) => return Err(transport(e.to_string())),
            Some(Ok(Message::Text(t))) => t.to_string(),
            Some(Ok(Message::Ping(p))) => {
                let _ = stream.send(Message::Pong(p)).await;
                continue;
            }
            Some(Ok(Message::Close(_))) => return Err(transport("closed by the server".into())),
            Some(Ok(_)) => continue,
        };
        let Ok(v) = serde_json::from_str::<Value>(&text) else { continue };
        if let Some(e) = v.get("error") {
            // A node that does not offer full transactions refuses the flag: hashes then.
            if v.get("id") == Some(&json!(1)) {
                tracing::debug!(target: "palisade::mempool", error = %e, "Full pending transactions refused; subscribing to hashes.");
                let sub = json!({"jsonrpc": "2.0", "id": 2, "method": "eth_subscribe", "params": ["newPendingTransactions"]});
                stream
                    .send(Message::text(sub.to_string()))
                    .await
                    .map_err(|e| transport(e.to_string()))?;
                continue;
            }
            return Err(transport(format!("eth_subscribe: {e}")));
        }
        let Some(r) = v.pointer("/params/result") else { continue };
        let p = match r {
            Value::String(h) => {
                // A hash: fetch the transaction.
                match rpc.call("eth_getTransactionByHash", json!([h])).await {
                    Ok(t) if !t.is_null() => PendingTx::from_json(&t).ok(),
                    _ => None,
                }
            }
            obj => PendingTx::from_json(obj).ok(),
        };
        if let Some(p) = p {
            if tx.send(p).await.is_err() {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{Bytes, U256};

    fn tx(h: u8, from: u8, nonce: u64, tip: u128) -> PendingTx {
        PendingTx {
            hash: B256::repeat_byte(h),
            from: Address::repeat_byte(from),
            to: None,
            nonce,
            value: U256::ZERO,
            input: Bytes::new(),
            gas: 21_000,
            priority_fee: tip,
            max_fee: tip,
            tx_type: 2,
            authorizations: Vec::new(),
        }
    }

    #[test]
    fn the_pool_deduplicates_replaces_bounds_and_forgets_what_is_mined() {
        let mut p = Pool::new(3);
        assert!(p.insert(tx(1, 1, 0, 10)).is_some());
        assert!(p.insert(tx(1, 1, 0, 10)).is_none(), "duplicate");
        // Same sender and nonce: the newer one replaces it, whatever its fee (the node took it).
        let ev = p.insert(tx(2, 1, 0, 10)).unwrap();
        assert_eq!(
            ev[1],
            PoolEvent::Replaced { old: B256::repeat_byte(1), new: B256::repeat_byte(2) }
        );
        let ev = p.insert(tx(3, 1, 0, 5)).unwrap();
        assert_eq!(
            ev[1],
            PoolEvent::Replaced { old: B256::repeat_byte(2), new: B256::repeat_byte(3) }
        );
        assert!(p.get(&B256::repeat_byte(1)).is_none() && p.get(&B256::repeat_byte(2)).is_none());
        p.insert(tx(4, 1, 1, 5));
        p.insert(tx(5, 2, 0, 5));
        p.insert(tx(6, 3, 0, 5));
        assert_eq!(p.len(), 3, "bounded, oldest dropped");
        assert!(p.get(&B256::repeat_byte(3)).is_none());
        // Sender 1 mined nonce 1 in another transaction: its pending nonce-1 one is gone too.
        p.mined(&[(B256::repeat_byte(9), Address::repeat_byte(1), 1)]);
        assert!(p.get(&B256::repeat_byte(4)).is_none());
        assert_eq!(p.len(), 2);
    }
}
