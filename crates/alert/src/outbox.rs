//! The outbox worker: delivers due notifications to their sinks, retrying with exponential
//! backoff until each sink acknowledges, across restarts (rows live in the store).

use crate::sink::{AlertSink, Notification};
use crate::store::now_ms;
use crate::{Result, Store};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Counters the worker keeps, read by the metrics endpoint.
#[derive(Debug, Default)]
pub struct OutboxMetrics {
    /// Notifications delivered.
    pub delivered: AtomicU64,
    /// Failed delivery attempts.
    pub failures: AtomicU64,
    /// Undelivered rows at the last look.
    pub depth: AtomicI64,
}

/// The delivery worker.
#[derive(Debug, Clone)]
pub struct Outbox {
    store: Store,
    sinks: Arc<BTreeMap<String, Arc<dyn AlertSink>>>,
    wake: Arc<Notify>,
    /// Counters.
    pub metrics: Arc<OutboxMetrics>,
}

/// Delay before attempt `n + 1` after `n` failures: 500 ms doubling, at most 60 s.
pub fn backoff_ms(attempts: i64) -> i64 {
    500_i64.saturating_mul(1 << attempts.clamp(0, 7)).min(60_000)
}

impl Outbox {
    /// A worker for these sinks.
    pub fn new(store: Store, sinks: Vec<Arc<dyn AlertSink>>) -> Self {
        let sinks = sinks.into_iter().map(|s| (s.id().to_string(), s)).collect();
        Self {
            store,
            sinks: Arc::new(sinks),
            wake: Arc::new(Notify::new()),
            metrics: Default::default(),
        }
    }

    /// Sink ids, in order.
    pub fn sink_ids(&self) -> Vec<String> {
        self.sinks.keys().cloned().collect()
    }

    /// Wakes the worker (call after storing new alerts).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Runs every sink's healthcheck, logging failures; returns the failures.
    pub async fn healthchecks(&self) -> Vec<(String, String)> {
        let mut bad = Vec::new();
        for (id, s) in self.sinks.iter() {
            if let Err(e) = s.healthcheck().await {
                tracing::warn!(target: "palisade::alert", sink = %id, error = %e, "Sink healthcheck failed; alerts wait in the outbox.");
                bad.push((id.clone(), e.to_string()));
            }
        }
        bad
    }

    /// Delivers what is due once. Returns how many were delivered. A sink that fails is not
    /// tried again in the same pass, so one dead sink does not hold up the others.
    pub async fn pass(&self) -> Result<usize> {
        let mut delivered = 0;
        let mut failed_sinks = BTreeSet::new();
        loop {
            let due = self.store.due(now_ms(), 256).await?;
            let due: Vec<_> = due.into_iter().filter(|d| !failed_sinks.contains(&d.sink)).collect();
            if due.is_empty() {
                break;
            }
            let mut progressed = false;
            for d in due {
                if failed_sinks.contains(&d.sink) {
                    continue;
                }
                let Some(sink) = self.sinks.get(&d.sink) else {
                    // A sink removed from the config: keep the row, retry later (it may come back).
                    self.store
                        .failed(
                            &d.key,
                            &d.sink,
                            &d.action,
                            now_ms() + 60_000,
                            "sink not configured",
                        )
                        .await?;
                    continue;
                };
                let n = Notification { action: d.action.clone(), alert: d.alert };
                match sink.deliver(&n).await {
                    Ok(()) => {
                        self.store.delivered(&d.key, &d.sink, &d.action).await?;
                        self.metrics.delivered.fetch_add(1, Ordering::Relaxed);
                        delivered += 1;
                        progressed = true;
                    }
                    Err(e) => {
                        self.metrics.failures.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(target: "palisade::alert", sink = %d.sink, key = %d.key, attempts = d.attempts + 1, error = %e, "Delivery failed; will retry.");
                        self.store
                            .failed(
                                &d.key,
                                &d.sink,
                                &d.action,
                                now_ms() + backoff_ms(d.attempts),
                                &e.to_string(),
                            )
                            .await?;
                        failed_sinks.insert(d.sink.clone());
                    }
                }
            }
            if !progressed {
                break;
            }
        }
        self.metrics.depth.store(self.store.outbox_depth().await?, Ordering::Relaxed);
        Ok(delivered)
    }

    /// Runs until `shutdown`, delivering as soon as woken and retrying on schedule.
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            if let Err(e) = self.pass().await {
                tracing::error!(target: "palisade::alert", error = %e, "Outbox pass failed.");
            }
            let wait = match self.store.next_due_ms().await {
                Ok(Some(t)) => Duration::from_millis((t - now_ms()).clamp(10, 1000) as u64),
                _ => Duration::from_millis(1000),
            };
            tokio::select! {
                () = shutdown.cancelled() => {
                    // One last pass so alerts stored just before shutdown go out.
                    let _ = self.pass().await;
                    return;
                }
                () = self.wake.notified() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_caps() {
        assert_eq!(backoff_ms(0), 500);
        assert_eq!(backoff_ms(1), 1000);
        assert_eq!(backoff_ms(20), 60_000);
    }
}
