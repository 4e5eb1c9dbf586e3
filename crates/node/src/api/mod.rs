//! The HTTP API and the dashboard it serves: `/api/v1/...` (alerts with filters and cursor
//! paging, alert detail with evidence, deliveries and note history, ack / resolve / silence /
//! notes, chains, endpoints and their history, mempool watch, responders, the detector catalog,
//! the effective config with secrets redacted, live changes over server-sent events, its
//! OpenAPI document), `/health`, `/metrics`, and the embedded dashboard at `/`.
//!
//! # Access
//! Bound to 127.0.0.1 by default. Reads need a token only when a `read` token is configured;
//! changes need an `operate` token, given as `Authorization: Bearer TOKEN`; in read-only mode
//! (`[api] read_only = true`) nothing can be changed at all. What is done with a token is
//! recorded under the token's name.

mod auth;
mod dashboard;
mod events;
mod risk;

use crate::metrics::Metrics;
use crate::status::ChainStatus;
use auth::{Access, Caller};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use palisade_alert::Outbox;
use palisade_store::{AlertCursor, AlertFilter, OperatorAction, Store, StoreError};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

pub(crate) use auth::Access as ApiAccess;

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
    /// The effective config (shown redacted, and for the responders and detectors it names).
    pub(crate) config: Arc<crate::config::Config>,
    /// Who may do what.
    pub(crate) access: Arc<Access>,
}

/// Every route the API serves: (method, path). The OpenAPI document lists exactly these (a
/// test checks both ways).
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/health"),
    ("get", "/metrics"),
    ("get", "/alerts"),
    ("get", "/api/v1"),
    ("get", "/api/v1/openapi.json"),
    ("get", "/api/v1/alerts"),
    ("get", "/api/v1/alerts/{key}"),
    ("post", "/api/v1/alerts/{key}/ack"),
    ("post", "/api/v1/alerts/{key}/resolve"),
    ("post", "/api/v1/alerts/{key}/silence"),
    ("post", "/api/v1/alerts/{key}/notes"),
    ("get", "/api/v1/events"),
    ("get", "/api/v1/chains"),
    ("get", "/api/v1/chains/{chain}/blocks"),
    ("get", "/api/v1/endpoints"),
    ("get", "/api/v1/mempool"),
    ("get", "/api/v1/responders"),
    ("get", "/api/v1/detectors"),
    ("get", "/api/v1/config"),
    ("get", "/risk/{chain}"),
    ("get", "/risk/{chain}/history"),
    ("get", "/risk/{chain}/latest_round_data"),
    ("get", "/risk/{chain}/events"),
];

/// The OpenAPI document (checked against [`ROUTES`] by the tests).
pub const OPENAPI: &str = include_str!("openapi.json");

/// The router.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/alerts", get(legacy_alerts))
        .route("/api/v1", get(meta))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/alerts", get(list_alerts))
        .route("/api/v1/alerts/{key}", get(alert_detail))
        .route("/api/v1/alerts/{key}/ack", post(ack))
        .route("/api/v1/alerts/{key}/resolve", post(resolve))
        .route("/api/v1/alerts/{key}/silence", post(silence))
        .route("/api/v1/alerts/{key}/notes", post(note))
        .route("/api/v1/events", get(events::events))
        .route("/api/v1/chains", get(chains))
        .route("/api/v1/chains/{chain}/blocks", get(chain_blocks))
        .route("/api/v1/endpoints", get(endpoints))
        .route("/api/v1/mempool", get(mempool))
        .route("/api/v1/responders", get(responders))
        .route("/api/v1/detectors", get(detectors))
        .route("/api/v1/config", get(config))
        .route("/risk/{chain}", get(risk::risk_latest))
        .route("/risk/{chain}/history", get(risk::risk_history))
        .route("/risk/{chain}/latest_round_data", get(risk::risk_round))
        .route("/risk/{chain}/events", get(risk::risk_events))
        .merge(dashboard::routes())
        .fallback(not_found)
        .with_state(state)
}

/// An API error: a status and a message, as `{"error": "..."}`.
#[derive(Debug)]
pub(crate) struct ApiError(pub(crate) StatusCode, pub(crate) String);

impl ApiError {
    pub(crate) fn bad(msg: impl Into<String>) -> Self {
        Self(StatusCode::BAD_REQUEST, msg.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({"error": self.1}))).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(_) => Self(StatusCode::NOT_FOUND, e.to_string()),
            StoreError::Ambiguous(_) => Self(StatusCode::CONFLICT, e.to_string()),
            _ => {
                tracing::warn!(target: "palisade::api", error = %e, "Store error serving a request.");
                Self(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
            }
        }
    }
}

pub(crate) type ApiResult<T = Json<Value>> = Result<T, ApiError>;

async fn not_found() -> ApiError {
    ApiError(StatusCode::NOT_FOUND, "no such route: see /api/v1/openapi.json".into())
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

async fn openapi() -> impl IntoResponse {
    ([("content-type", "application/json")], OPENAPI)
}

async fn meta(State(s): State<ApiState>, caller: Caller) -> ApiResult {
    Ok(Json(json!({
        "name": "palisade",
        "version": env!("CARGO_PKG_VERSION"),
        "read_only": s.access.read_only,
        "reads_need_token": s.access.reads_need_token(),
        "writes_enabled": s.access.writes_enabled(),
        "caller": caller.name,
        "scope": caller.scope,
        "chains": s.chains.lock().map(|c| c.keys().cloned().collect::<Vec<_>>()).unwrap_or_default(),
        "cluster": s.cluster.is_some(),
    })))
}

/// Query of `GET /api/v1/alerts`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertsQuery {
    status: Option<String>,
    chain: Option<String>,
    detector: Option<String>,
    /// Minimum severity.
    severity: Option<String>,
    /// RFC 3339 time or ms since the epoch.
    since: Option<String>,
    until: Option<String>,
    cursor: Option<String>,
    limit: Option<i64>,
}

/// The statuses an alert can have.
pub(crate) const STATUSES: &[&str] = &["pending", "open", "acked", "resolved", "reorged"];

fn parse_time(what: &str, v: &str) -> Result<i64, ApiError> {
    if let Ok(ms) = v.parse::<i64>() {
        return Ok(ms);
    }
    palisade_primitives::time::parse_rfc3339_ms(v).ok_or_else(|| {
        ApiError::bad(format!(
            "{what}: {v:?} is neither RFC 3339 (2026-12-05T08:00:00Z) nor ms since the epoch"
        ))
    })
}

fn filter(q: AlertsQuery) -> Result<AlertFilter, ApiError> {
    if let Some(st) = &q.status {
        if !STATUSES.contains(&st.as_str()) {
            return Err(ApiError::bad(format!(
                "status: {st:?} is not one of {}",
                STATUSES.join(", ")
            )));
        }
    }
    let min_severity = match &q.severity {
        None => None,
        Some(s) => Some(palisade_primitives::Severity::parse(s).ok_or_else(|| {
            ApiError::bad(format!(
                "severity: {s:?} is not one of info, low, medium, high, critical"
            ))
        })?),
    };
    Ok(AlertFilter {
        status: q.status,
        min_severity,
        chain: q.chain,
        detector: q.detector,
        since_ms: q.since.as_deref().map(|v| parse_time("since", v)).transpose()?,
        until_ms: q.until.as_deref().map(|v| parse_time("until", v)).transpose()?,
        after: q
            .cursor
            .as_deref()
            .map(|c| c.parse::<AlertCursor>().map_err(|e| ApiError::bad(e.to_string())))
            .transpose()?,
        limit: Some(q.limit.unwrap_or(100).clamp(1, 1000)),
    })
}

/// An alert as the API shows it: its JSON with amounts in units beside the raw ones.
pub(crate) fn alert_json(a: &palisade_store::AlertRow) -> Value {
    let mut v = a.to_json();
    v["amounts"] = json!(a.amounts);
    v
}

async fn list_alerts(
    State(s): State<ApiState>,
    _c: Caller,
    q: Result<Query<AlertsQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let Query(q) = q.map_err(|e| ApiError::bad(e.body_text()))?;
    let f = filter(q)?;
    let limit = f.limit.unwrap_or(100);
    let rows = s.store.list_alerts(&f).await?;
    let next = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|a| AlertCursor::after(a).to_string()))
        .flatten();
    Ok(Json(json!({
        "items": rows.iter().map(alert_json).collect::<Vec<_>>(),
        "next_cursor": next,
    })))
}

#[derive(Debug, Deserialize)]
struct LegacyQuery {
    status: Option<String>,
    chain: Option<String>,
    limit: Option<i64>,
}

/// `/alerts`: the first API's plain array (kept for existing scrapers).
async fn legacy_alerts(
    State(s): State<ApiState>,
    _c: Caller,
    Query(q): Query<LegacyQuery>,
) -> ApiResult {
    let f = AlertFilter {
        status: q.status,
        chain: q.chain,
        limit: Some(q.limit.unwrap_or(100).clamp(1, 1000)),
        ..Default::default()
    };
    let rows = s.store.list_alerts(&f).await?;
    Ok(Json(json!(rows.iter().map(|r| r.to_json()).collect::<Vec<_>>())))
}

async fn alert_detail(State(s): State<ApiState>, _c: Caller, Path(key): Path<String>) -> ApiResult {
    let a = s.store.get_alert(&key).await?;
    let k = a.finding.key.to_string();
    let notes = s.store.notes(&k).await?;
    let deliveries = s.store.deliveries(&k).await?;
    let responses = s.store.responses_for(&k).await?;
    let mut v = alert_json(&a);
    v["notes"] = json!(notes
        .iter()
        .map(|n| json!({"at": palisade_primitives::time::rfc3339_ms(n.at_ms), "at_ms": n.at_ms,
            "by": n.by, "action": n.action, "note": n.note}))
        .collect::<Vec<_>>());
    v["deliveries"] = json!(deliveries
        .iter()
        .map(|d| {
            let mut j = json!(d);
            j["delivered_at"] = json!(d.delivered_ms.map(palisade_primitives::time::rfc3339_ms));
            j
        })
        .collect::<Vec<_>>());
    v["responses"] = json!(responses.iter().map(response_json).collect::<Vec<_>>());
    Ok(Json(v))
}

/// Body of ack, resolve, silence and notes.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ActBody {
    note: Option<String>,
    /// Silence: how long (`30m`, `2h`, `1d`).
    #[serde(rename = "for")]
    duration: Option<String>,
}

async fn act(
    s: ApiState,
    caller: Caller,
    key: String,
    body: Result<Json<ActBody>, axum::extract::rejection::JsonRejection>,
    what: &str,
) -> ApiResult {
    let by = s.access.may_change(&caller)?;
    let b = match body {
        Ok(Json(b)) => b,
        Err(axum::extract::rejection::JsonRejection::MissingJsonContentType(_)) => {
            ActBody::default()
        }
        Err(e) => return Err(ApiError::bad(format!("body: {}", e.body_text()))),
    };
    let note = b.note.as_deref().map(str::trim).filter(|n| !n.is_empty());
    if note.is_some_and(|n| n.len() > 4000) {
        return Err(ApiError::bad("note: at most 4000 bytes"));
    }
    let action = match what {
        "ack" => OperatorAction::Ack,
        "resolve" => OperatorAction::Resolve,
        "note" => {
            if note.is_none() {
                return Err(ApiError::bad("note: give the note to add"));
            }
            OperatorAction::Note
        }
        _ => {
            let d = b
                .duration
                .as_deref()
                .ok_or_else(|| ApiError::bad("for: give how long to silence it (30m, 2h, 1d)"))?;
            let d = humantime::parse_duration(d)
                .map_err(|e| ApiError::bad(format!("for: {d:?}: {e}")))?;
            OperatorAction::Silence {
                until_ms: palisade_store::now_ms().saturating_add(d.as_millis() as i64),
            }
        }
    };
    let a = s.store.act(&key, &by, action, note).await?;
    tracing::info!(target: "palisade::api", key = %a.finding.key, by = %by, action = action.as_str(), "Alert changed through the API.");
    Ok(Json(alert_json(&a)))
}

async fn ack(
    State(s): State<ApiState>,
    c: Caller,
    Path(key): Path<String>,
    body: Result<Json<ActBody>, axum::extract::rejection::JsonRejection>,
) -> ApiResult {
    act(s, c, key, body, "ack").await
}

async fn resolve(
    State(s): State<ApiState>,
    c: Caller,
    Path(key): Path<String>,
    body: Result<Json<ActBody>, axum::extract::rejection::JsonRejection>,
) -> ApiResult {
    act(s, c, key, body, "resolve").await
}

async fn silence(
    State(s): State<ApiState>,
    c: Caller,
    Path(key): Path<String>,
    body: Result<Json<ActBody>, axum::extract::rejection::JsonRejection>,
) -> ApiResult {
    act(s, c, key, body, "silence").await
}

async fn note(
    State(s): State<ApiState>,
    c: Caller,
    Path(key): Path<String>,
    body: Result<Json<ActBody>, axum::extract::rejection::JsonRejection>,
) -> ApiResult {
    act(s, c, key, body, "note").await
}

async fn chains(State(s): State<ApiState>, _c: Caller) -> ApiResult {
    let status = s.chains.lock().map(|c| c.clone()).unwrap_or_default();
    let mut out = Vec::new();
    for name in chain_names(&s) {
        let st = status.get(&name).cloned().unwrap_or_default();
        let (reverted, deepest) = s.store.reorg_stats(&name).await?;
        out.push(json!({
            "name": name,
            "tip": st.tip,
            "head": st.head,
            "lag": match (st.head, st.tip) { (Some(h), Some(t)) => Some(h.saturating_sub(t)), _ => None },
            "confirmed": st.confirmed,
            "last_block_age_secs": st.last_block_age_secs,
            "error": st.error,
            "quorum": st.quorum,
            "reorged_blocks": reverted,
            "deepest_reorg": deepest,
            "endpoints": st.endpoints.len(),
        }));
    }
    Ok(Json(json!(out)))
}

pub(crate) fn chain_names(s: &ApiState) -> Vec<String> {
    let c = &s.config;
    let mut names: Vec<String> = c
        .chains
        .iter()
        .map(|x| x.name.clone())
        .chain(c.comet_chains.iter().map(|x| x.name.clone()))
        .chain(c.beacon_chains.iter().map(|x| x.name.clone()))
        .collect();
    if let Ok(st) = s.chains.lock() {
        for k in st.keys() {
            if !names.contains(k) {
                names.push(k.clone());
            }
        }
    }
    names
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BlocksQuery {
    limit: Option<i64>,
}

/// Recent blocks of a chain with their times (for the block-time chart).
async fn chain_blocks(
    State(s): State<ApiState>,
    _c: Caller,
    Path(chain): Path<String>,
    q: Result<Query<BlocksQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let Query(q) = q.map_err(|e| ApiError::bad(e.body_text()))?;
    if !chain_names(&s).contains(&chain) {
        return Err(ApiError(StatusCode::NOT_FOUND, format!("no chain named {chain:?}")));
    }
    let rows = s.store.recent_blocks(&chain, q.limit.unwrap_or(100).clamp(1, 1000)).await?;
    let blocks: Vec<Value> = rows
        .iter()
        .map(|(n, h, line)| {
            let ts = serde_json::from_str::<Value>(line).ok().and_then(|v| block_time(&v));
            json!({"number": n, "hash": h, "timestamp": ts})
        })
        .collect();
    Ok(Json(json!({"chain": chain, "blocks": blocks})))
}

/// A recorded block's timestamp (seconds), wherever its kind keeps it.
fn block_time(v: &Value) -> Option<u64> {
    let t = v
        .pointer("/header/timestamp")
        .or_else(|| v.pointer("/block/header/timestamp"))
        .or_else(|| v.get("timestamp"))
        .or_else(|| v.pointer("/block/timestamp"))?;
    match t {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => {
            s.strip_prefix("0x").map_or_else(|| s.parse().ok(), |h| u64::from_str_radix(h, 16).ok())
        }
        _ => None,
    }
}

async fn endpoints(State(s): State<ApiState>, _c: Caller) -> ApiResult {
    let status = s.chains.lock().map(|c| c.clone()).unwrap_or_default();
    let failures = s
        .store
        .list_alerts(&AlertFilter {
            detector: Some("source_integrity".into()),
            limit: Some(200),
            ..Default::default()
        })
        .await?;
    let out: Vec<Value> = status
        .iter()
        .map(|(name, st)| {
            json!({
                "chain": name,
                "quorum": st.quorum,
                "endpoints": st.endpoints,
                "history": st.endpoint_history,
                "verification_failures": failures
                    .iter()
                    .filter(|a| &a.finding.chain == name)
                    .map(alert_json)
                    .collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(Json(json!(out)))
}

async fn mempool(State(s): State<ApiState>, _c: Caller) -> ApiResult {
    let status = s.chains.lock().map(|c| c.clone()).unwrap_or_default();
    let recent =
        s.store.list_alerts(&AlertFilter { limit: Some(500), ..Default::default() }).await?;
    let pending: Vec<Value> = recent
        .iter()
        .filter(|a| a.finding.facts.pending.is_some())
        .take(100)
        .map(alert_json)
        .collect();
    let watches: Vec<Value> = status
        .iter()
        .filter_map(|(name, st)| st.mempool.as_ref().map(|m| json!({"chain": name, "watch": m})))
        .collect();
    Ok(Json(json!({"watches": watches, "findings": pending})))
}

fn response_json(r: &palisade_store::ResponseRow) -> Value {
    json!({
        "id": r.id, "responder": r.responder, "kind": r.kind, "chain": r.chain,
        "alert_key": r.alert_key, "stage": r.stage, "dry_run": r.dry_run, "outcome": r.outcome,
        "detail": serde_json::from_str::<Value>(&r.detail).unwrap_or(Value::Null),
        "error": r.error,
        "created_at": palisade_primitives::time::rfc3339_ms(r.created_ms),
        "updated_at": palisade_primitives::time::rfc3339_ms(r.updated_ms),
    })
}

async fn responders(State(s): State<ApiState>, _c: Caller) -> ApiResult {
    let plans: Vec<Value> = s
        .config
        .responders
        .iter()
        .map(|r| redact(serde_json::to_value(r).unwrap_or(Value::Null)))
        .collect();
    let rows = s.store.list_responses(200).await?;
    Ok(Json(json!({
        "responders": plans,
        "responses": rows.iter().map(response_json).collect::<Vec<_>>(),
    })))
}

async fn detectors(State(s): State<ApiState>, _c: Caller) -> ApiResult {
    let configured: Vec<Value> = s
        .config
        .detectors
        .iter()
        .map(|d| redact(serde_json::to_value(d).unwrap_or(Value::Null)))
        .collect();
    Ok(Json(json!({"catalog": palisade_detect::catalog(), "configured": configured})))
}

async fn config(State(s): State<ApiState>, _c: Caller) -> ApiResult {
    Ok(Json(redact(serde_json::to_value(&*s.config).unwrap_or(Value::Null))))
}

/// The config as JSON with every secret hidden: secret fields already serialize as
/// `<secret>`; URLs keep only their scheme and host (paths and queries carry API keys, the
/// user part passwords).
pub(crate) fn redact(v: Value) -> Value {
    match v {
        Value::String(s) if s.contains("://") => Value::String(redact_url(&s)),
        Value::Array(a) => Value::Array(a.into_iter().map(redact).collect()),
        Value::Object(o) => Value::Object(o.into_iter().map(|(k, v)| (k, redact(v))).collect()),
        other => other,
    }
}

fn redact_url(s: &str) -> String {
    let Some((scheme, rest)) = s.split_once("://") else { return "<redacted>".into() };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or("");
    let tail = &rest[authority.len()..];
    let tail = if tail.is_empty() || tail == "/" { tail } else { "/<redacted>" };
    format!("{scheme}://{host}{tail}")
}

#[cfg(test)]
mod tests;
