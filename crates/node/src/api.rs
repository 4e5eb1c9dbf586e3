//! The HTTP API: `/health`, `/metrics` and `/alerts`, for local operators and scrapers.

use crate::metrics::Metrics;
use crate::status::ChainStatus;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use palisade_alert::Outbox;
use palisade_store::{AlertFilter, Store};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

/// Shared state of the API.
#[derive(Debug, Clone)]
pub struct ApiState {
    /// Metrics.
    pub metrics: Metrics,
    /// Store.
    pub store: Store,
    /// Outbox (for its counters).
    pub outbox: Outbox,
    /// Per-chain status.
    pub chains: Arc<Mutex<BTreeMap<String, ChainStatus>>>,
    /// The cluster, when this process is a member of one.
    pub(crate) cluster: Option<crate::cluster::ClusterView>,
}

/// The router.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/alerts", get(alerts))
        .with_state(state)
}

async fn health(State(s): State<ApiState>) -> impl IntoResponse {
    let chains = s.chains.lock().map(|c| c.clone()).unwrap_or_default();
    let ok = chains.values().all(|c| c.error.is_none() && c.quorum.met);
    let mut body = json!({"status": if ok { "ok" } else { "degraded" }, "chains": chains,
        "outbox_depth": s.outbox.metrics.depth.load(Ordering::Relaxed)});
    if let Some(c) = &s.cluster {
        body["cluster"] = json!(c.status().await);
    }
    (if ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE }, Json(body))
}

async fn metrics(State(s): State<ApiState>) -> impl IntoResponse {
    s.metrics.outbox_depth.set(s.outbox.metrics.depth.load(Ordering::Relaxed));
    crate::metrics::Metrics::catch_up_counter(
        &s.metrics.sink_failures,
        s.outbox.metrics.failures.load(Ordering::Relaxed),
    );
    crate::metrics::Metrics::catch_up_counter(
        &s.metrics.delivered,
        s.outbox.metrics.delivered.load(Ordering::Relaxed),
    );
    if let Ok(chains) = s.chains.lock() {
        for (name, c) in chains.iter() {
            if let Some(age) = c.last_block_age_secs {
                s.metrics.last_block_age.with_label_values(&[name]).set(age as i64);
            }
        }
    }
    ([("content-type", "text/plain; version=0.0.4")], s.metrics.render())
}

#[derive(Debug, Deserialize)]
struct AlertsQuery {
    status: Option<String>,
    chain: Option<String>,
    limit: Option<i64>,
}

async fn alerts(State(s): State<ApiState>, Query(q): Query<AlertsQuery>) -> impl IntoResponse {
    let f = AlertFilter {
        status: q.status,
        chain: q.chain,
        limit: Some(q.limit.unwrap_or(100).clamp(1, 1000)),
        ..Default::default()
    };
    match s.store.list_alerts(&f).await {
        Ok(rows) => {
            let v: Vec<Value> = rows.iter().map(|r| r.to_json()).collect();
            (StatusCode::OK, Json(json!(v)))
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({"error": e.to_string()}))),
    }
}
