//! Responders in the runtime: findings (pending and confirmed) pass through every responder's
//! gate; the work they decide runs in its own task, and every step is stored in `responses`.

use crate::metrics::Metrics;
use palisade_primitives::Finding;
use palisade_respond::{Responders, ResponseRecord};
use palisade_store::{ResponseRow, Store};
use std::sync::Arc;
use tokio::sync::Mutex;

/// The responders of a configuration, shared by every chain's services.
#[derive(Debug)]
pub struct ResponseHub {
    responders: Mutex<Responders>,
    store: Store,
    metrics: Metrics,
}

fn row(r: &ResponseRecord) -> ResponseRow {
    ResponseRow {
        id: r.id.clone(),
        responder: r.responder.clone(),
        kind: r.kind.to_string(),
        chain: r.chain.clone(),
        alert_key: r.alert_key.clone(),
        stage: r.stage.to_string(),
        dry_run: r.dry_run,
        outcome: r.outcome.clone(),
        detail: r.detail.to_string(),
        error: r.error.clone(),
        created_ms: r.at_ms,
        updated_ms: r.at_ms,
    }
}

impl ResponseHub {
    /// A hub over built responders.
    pub fn new(responders: Responders, store: Store, metrics: Metrics) -> Arc<Self> {
        Arc::new(Self { responders: Mutex::new(responders), store, metrics })
    }

    /// Passes stored findings of `chain` to the responders and starts what they decide.
    /// `base_fee` prices transactions for the next block.
    pub async fn consider(self: &Arc<Self>, chain: &str, findings: &[Finding], base_fee: u128) {
        if findings.is_empty() {
            return;
        }
        // The store is the ledger: a finding acted on before a restart (the same pending
        // transaction polled again, a finding re-raised) is never acted on twice, and the rate
        // limits hold across restarts and processes.
        let jobs =
            self.responders.lock().await.consider(chain, findings, base_fee, &self.store).await;
        self.start(jobs);
    }

    /// Offers `chain`'s newest settlement-risk point to the `publish_risk` responders and
    /// starts what they decide.
    pub async fn publish_risk(
        self: &Arc<Self>,
        chain: &str,
        index: f64,
        block: palisade_primitives::BlockRef,
        timestamp: u64,
        base_fee: u128,
    ) {
        let jobs = self
            .responders
            .lock()
            .await
            .publish(chain, index, block, timestamp, base_fee, &self.store)
            .await;
        self.start(jobs);
    }

    /// Runs each job in its own task, storing every step in order.
    fn start(self: &Arc<Self>, jobs: Vec<palisade_respond::Job>) {
        for job in jobs {
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<ResponseRecord>();
            let hub = self.clone();
            tokio::spawn(async move {
                while let Some(r) = rx.recv().await {
                    hub.store_record(&r).await;
                }
            });
            tokio::spawn(async move {
                let rec = job
                    .run(move |r| {
                        let _ = tx.send(r.clone());
                    })
                    .await;
                tracing::info!(target: "palisade::respond", responder = %rec.responder, outcome = %rec.outcome,
                    dry_run = rec.dry_run, alert = %rec.alert_key, detail = %rec.detail, "Response.");
            });
        }
    }

    async fn store_record(&self, r: &ResponseRecord) {
        self.metrics.responses.with_label_values(&[&r.responder, &r.outcome]).inc();
        for attempt in 0..5u64 {
            match self.store.record_response(&row(r)).await {
                Ok(()) => return,
                Err(e) => {
                    tracing::error!(target: "palisade::respond", error = %e, attempt, "Storing a response failed; retrying.");
                    tokio::time::sleep(std::time::Duration::from_millis(100 * (attempt + 1))).await;
                }
            }
        }
    }
}

/// Quarantine requests from `quarantine_node` responders, applied by each chain's service on its
/// next tick (within a second).
#[derive(Debug, Default)]
pub struct Control {
    requests: std::sync::Mutex<Vec<(String, String, String)>>,
}

impl palisade_respond::NodeControl for Control {
    fn quarantine(&self, chain: &str, endpoint: &str, reason: &str) -> Result<(), String> {
        let mut r = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        if r.len() >= 1024 {
            return Err("too many quarantine requests waiting".into());
        }
        r.push((chain.into(), endpoint.into(), reason.into()));
        Ok(())
    }
}

impl Control {
    /// Takes the requests for `chain`: (endpoint, reason).
    pub fn take(&self, chain: &str) -> Vec<(String, String)> {
        let mut r = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        let (mine, rest): (Vec<_>, Vec<_>) = r.drain(..).partition(|(c, _, _)| c == chain);
        *r = rest;
        mine.into_iter().map(|(_, e, why)| (e, why)).collect()
    }
}
