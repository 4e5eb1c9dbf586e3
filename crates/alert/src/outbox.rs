//! The outbox worker: delivers each sink's notifications in the order they were queued, retrying
//! a sink that fails with exponential backoff, across restarts (rows live in the store).
//!
//! # Order
//! Each sink has its own queue, delivered strictly in order: block order, and a `resolve` after
//! its own `alert`. A failed delivery stops that sink (the others go on) until its backoff has
//! passed; then the same notification is tried first, and once the sink answers, its whole
//! backlog is drained at once, in order. Backoff is per sink, not per notification, so a backlog
//! never comes out shuffled by the different retry times of its rows.

use crate::sink::{AlertSink, Notification};
use crate::Result;
use palisade_store::{now_ms, Store};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
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

/// A sink's delivery state: consecutive failures and when it may be tried again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SinkBackoff {
    /// Failed attempts since the last success.
    pub failures: i64,
    /// Not before this time (ms since the epoch).
    pub next_ms: i64,
}

/// The delivery worker.
#[derive(Debug, Clone)]
pub struct Outbox {
    store: Store,
    sinks: Arc<BTreeMap<String, Arc<dyn AlertSink>>>,
    backoff: Arc<Mutex<BTreeMap<String, SinkBackoff>>>,
    wake: Arc<Notify>,
    /// With several deliverers sharing the store: this one's name and how long its claim on a
    /// sink lasts.
    claims: Option<(String, i64)>,
    /// Counters.
    pub metrics: Arc<OutboxMetrics>,
}

/// Delay before attempt `n + 1` after `n` failures: 500 ms doubling, at most 60 s.
pub fn backoff_ms(attempts: i64) -> i64 {
    500_i64.saturating_mul(1 << attempts.clamp(0, 7)).min(60_000)
}

/// Rows read from the store per round while draining a sink.
const PAGE: i64 = 512;

impl Outbox {
    /// A worker for these sinks.
    pub fn new(store: Store, sinks: Vec<Arc<dyn AlertSink>>) -> Self {
        let sinks = sinks.into_iter().map(|s| (s.id().to_string(), s)).collect();
        Self {
            store,
            sinks: Arc::new(sinks),
            backoff: Default::default(),
            wake: Arc::new(Notify::new()),
            claims: None,
            metrics: Default::default(),
        }
    }

    /// Shares the store with other deliverers: a sink is drained only while this deliverer
    /// (`holder`) has claimed it in the store (claims last `ttl_ms` and are renewed each pass),
    /// so each sink's notifications go out from one deliverer at a time, in order.
    pub fn with_claims(mut self, holder: &str, ttl_ms: i64) -> Self {
        self.claims = Some((holder.to_string(), ttl_ms));
        self
    }

    /// Sink ids, in order.
    pub fn sink_ids(&self) -> Vec<String> {
        self.sinks.keys().cloned().collect()
    }

    /// Wakes the worker (call after storing new alerts).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// The backoff of each sink that failed since its last success.
    pub fn backoffs(&self) -> BTreeMap<String, SinkBackoff> {
        self.backoff.lock().unwrap_or_else(|p| p.into_inner()).clone()
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

    /// Sinks stopped because their receiver refuses them (HTTP 401, 403, 404, 410).
    pub fn stopped_sinks(&self) -> Vec<String> {
        self.backoff
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|(_, b)| b.next_ms == i64::MAX)
            .map(|(s, _)| s.clone())
            .collect()
    }

    fn ready(&self, sink: &str, now: i64) -> bool {
        self.backoff
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(sink)
            .is_none_or(|b| b.next_ms <= now)
    }

    fn succeeded(&self, sink: &str) {
        self.backoff.lock().unwrap_or_else(|p| p.into_inner()).remove(sink);
    }

    /// Records a failure of `sink`; returns when it may be tried again.
    fn failed(&self, sink: &str, now: i64) -> i64 {
        let mut b = self.backoff.lock().unwrap_or_else(|p| p.into_inner());
        let e = b.entry(sink.to_string()).or_default();
        e.next_ms = now + backoff_ms(e.failures);
        e.failures += 1;
        e.next_ms
    }

    /// Drains one sink's queue in order until it is empty or the sink fails. Returns how many
    /// were delivered.
    async fn drain(&self, id: &str) -> Result<usize> {
        let mut delivered = 0;
        if !self.ready(id, now_ms()) {
            return Ok(0);
        }
        // The claim is taken, then renewed whenever a third of its TTL has passed (a slow
        // sink's backlog may take longer than the TTL): another deliverer takes the sink only
        // once this one has stopped renewing it for the claim's TTL.
        let mut renewed: Option<i64> = None;
        loop {
            let due = self.store.due_for_sink(id, PAGE).await?;
            if due.is_empty() {
                return Ok(delivered);
            }
            for d in due {
                if let Some((holder, ttl)) = &self.claims {
                    let now = now_ms();
                    if renewed.is_none_or(|t| now - t >= ttl / 3) {
                        if !self.store.claim_sink(id, holder, *ttl, now).await? {
                            return Ok(delivered);
                        }
                        renewed = Some(now);
                    }
                }
                let Some(sink) = self.sinks.get(id) else {
                    // A sink removed from the config: keep its rows (it may come back).
                    let next = self.failed(id, now_ms());
                    self.store.failed(&d, next, "sink not configured").await?;
                    return Ok(delivered);
                };
                let n = Notification {
                    action: d.action.clone(),
                    revision: d.revision,
                    alert: d.alert.clone(),
                };
                match sink.deliver(&n).await {
                    Ok(()) => {
                        self.store.delivered(&d).await?;
                        self.succeeded(id);
                        self.metrics.delivered.fetch_add(1, Ordering::Relaxed);
                        delivered += 1;
                    }
                    Err(e) if e.refuses_notification() => {
                        // Trying again cannot change the answer; the queue goes on.
                        self.metrics.failures.fetch_add(1, Ordering::Relaxed);
                        tracing::error!(target: "palisade::alert", sink = %id, key = %d.key, error = %e, "The receiver refused this notification; it is parked (`palisade alerts parked`), the sink's queue goes on.");
                        self.store.park(&d, &e.to_string()).await?;
                    }
                    Err(e) if e.refuses_sink() => {
                        // The URL or the credentials: every notification would be refused.
                        self.metrics.failures.fetch_add(1, Ordering::Relaxed);
                        self.backoff.lock().unwrap_or_else(|p| p.into_inner()).insert(
                            id.to_string(),
                            SinkBackoff { failures: d.attempts + 1, next_ms: i64::MAX },
                        );
                        tracing::error!(target: "palisade::alert", sink = %id, error = %e, "The receiver refuses this sink (its URL or credentials); the sink is stopped until a restart with a fixed config. Its queue is kept.");
                        self.store.failed(&d, i64::MAX, &e.to_string()).await?;
                        return Ok(delivered);
                    }
                    Err(e) => {
                        self.metrics.failures.fetch_add(1, Ordering::Relaxed);
                        let next = self.failed(id, now_ms());
                        tracing::warn!(target: "palisade::alert", sink = %id, key = %d.key, attempts = d.attempts + 1, retry_in_ms = next - now_ms(), error = %e, "Delivery failed; the sink's queue waits and will be retried.");
                        self.store.failed(&d, next, &e.to_string()).await?;
                        return Ok(delivered);
                    }
                }
            }
        }
    }

    /// Delivers what can be delivered now: each sink with a backlog and no backoff pending is
    /// drained in order, the sinks concurrently. Returns how many were delivered.
    pub async fn pass(&self) -> Result<usize> {
        let sinks = self.store.sinks_with_backlog().await?;
        let runs = sinks.iter().map(|s| self.drain(s));
        let mut delivered = 0;
        for r in futures::future::join_all(runs).await {
            delivered += r?;
        }
        self.metrics.depth.store(self.store.outbox_depth().await?, Ordering::Relaxed);
        Ok(delivered)
    }

    /// How long to sleep before the next pass: until the earliest sink backoff ends (at most a
    /// second, so rows queued by another process are picked up).
    fn wait(&self) -> Duration {
        let now = now_ms();
        let next = self
            .backoff
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .map(|b| b.next_ms)
            .min();
        Duration::from_millis(next.map_or(1000, |t| (t - now).clamp(10, 1000)) as u64)
    }

    /// Runs until `shutdown`, delivering as soon as woken and retrying on schedule.
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            if let Err(e) = self.pass().await {
                tracing::error!(target: "palisade::alert", error = %e, "Outbox pass failed.");
            }
            let wait = self.wait();
            tokio::select! {
                () = shutdown.cancelled() => {
                    // One last pass so alerts stored just before shutdown go out; then other
                    // deliverers may take the sinks at once.
                    let _ = self.pass().await;
                    if let Some((holder, _)) = &self.claims {
                        for s in self.sinks.keys() {
                            let _ = self.store.release_sink(s, holder).await;
                        }
                    }
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
