//! The settlement-risk index where risk teams read it: the latest point of a chain, its
//! history by block time, a read shaped like Chainlink's AggregatorV3 `latestRoundData`, and a
//! stream of new points.

use super::auth::Caller;
use super::{ApiError, ApiResult, ApiState};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::Json;
use futures::Stream;
use palisade_risk::RiskPoint;
use serde::Deserialize;
use serde_json::{json, Value};
use std::convert::Infallible;

/// Decimals of `answer` in the `latestRoundData` read: the index × 10^6.
pub(crate) const DECIMALS: u32 = 6;

fn known(s: &ApiState, chain: &str) -> Result<(), ApiError> {
    if super::chain_names(s).iter().any(|c| c == chain) {
        Ok(())
    } else {
        Err(ApiError(StatusCode::NOT_FOUND, format!("no chain named {chain:?}")))
    }
}

/// The newest point: a stall's provisional point when the chain is stalled, else the stored
/// point of its newest block.
async fn latest(s: &ApiState, chain: &str) -> Result<Option<(RiskPoint, i64)>, ApiError> {
    let stall = s.chains.lock().ok().and_then(|c| c.get(chain).and_then(|x| x.risk_stall.clone()));
    if let Some(p) = stall {
        return Ok(Some((p, palisade_store::now_ms())));
    }
    let rows = s.store.risk_points(chain, None, None, 1).await?;
    Ok(rows.first().and_then(|r| Some((serde_json::from_str(&r.body).ok()?, r.stored_ms))))
}

fn point_json(p: &RiskPoint) -> Value {
    let mut v = json!(p);
    v["inputs_hash"] = json!(format!("{:#x}", p.inputs_hash));
    v["time"] = json!(p.timestamp.map(palisade_primitives::time::rfc3339_secs));
    v
}

pub(crate) async fn risk_latest(
    State(s): State<ApiState>,
    _c: Caller,
    Path(chain): Path<String>,
) -> ApiResult {
    known(&s, &chain)?;
    match latest(&s, &chain).await? {
        Some((p, _)) => Ok(Json(point_json(&p))),
        None => Err(ApiError(StatusCode::NOT_FOUND, format!("no risk point for {chain} yet"))),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HistoryQuery {
    /// Block time from (RFC 3339 or seconds since the epoch).
    from: Option<String>,
    /// Block time to (exclusive).
    to: Option<String>,
    limit: Option<i64>,
}

fn secs(what: &str, v: &str) -> Result<u64, ApiError> {
    if let Ok(s) = v.parse::<u64>() {
        return Ok(s);
    }
    palisade_primitives::time::parse_rfc3339_ms(v).map(|ms| (ms / 1000) as u64).ok_or_else(|| {
        ApiError::bad(format!("{what}: {v:?} is neither RFC 3339 nor seconds since the epoch"))
    })
}

pub(crate) async fn risk_history(
    State(s): State<ApiState>,
    _c: Caller,
    Path(chain): Path<String>,
    q: Result<Query<HistoryQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let Query(q) = q.map_err(|e| ApiError::bad(e.body_text()))?;
    known(&s, &chain)?;
    let from = q.from.as_deref().map(|v| secs("from", v)).transpose()?;
    let to = q.to.as_deref().map(|v| secs("to", v)).transpose()?;
    let rows =
        s.store.risk_points(&chain, from, to, q.limit.unwrap_or(1000).clamp(1, 10_000)).await?;
    let points: Vec<Value> = rows
        .iter()
        .rev()
        .filter_map(|r| serde_json::from_str::<RiskPoint>(&r.body).ok())
        .map(|p| point_json(&p))
        .collect();
    Ok(Json(
        json!({"chain": chain, "methodology_version": palisade_risk::METHODOLOGY_VERSION, "points": points}),
    ))
}

/// AggregatorV3Interface's `latestRoundData`: `roundId` and `answeredInRound` are the block
/// number, `answer` the index × 10^6, `startedAt` the block's timestamp, `updatedAt` when the
/// point was stored (seconds); a stall's provisional point answers for the stalled block with
/// `updatedAt` now, so grace-period code sees a fresh, high answer.
pub(crate) async fn risk_round(
    State(s): State<ApiState>,
    _c: Caller,
    Path(chain): Path<String>,
) -> ApiResult {
    known(&s, &chain)?;
    let Some((p, stored_ms)) = latest(&s, &chain).await? else {
        return Err(ApiError(StatusCode::NOT_FOUND, format!("no risk point for {chain} yet")));
    };
    let answer = (p.index * 10f64.powi(DECIMALS as i32)).round() as i64;
    Ok(Json(json!({
        "roundId": p.block.number.to_string(),
        "answer": answer.to_string(),
        "startedAt": p.timestamp.unwrap_or(0).to_string(),
        "updatedAt": (stored_ms / 1000).to_string(),
        "answeredInRound": p.block.number.to_string(),
        "decimals": DECIMALS,
        "description": format!("Palisade settlement-risk index {chain} (0-100)"),
        "methodology_version": p.methodology_version,
        "stall": p.stall,
    })))
}

/// New points of a chain as server-sent events (`event: risk`), the latest first.
pub(crate) async fn risk_events(
    State(s): State<ApiState>,
    _c: Caller,
    Path(chain): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    known(&s, &chain)?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Event>(64);
    tokio::spawn(async move {
        let mut changes = s.store.changes();
        let mut last = String::new();
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
        loop {
            if let Ok(Some((p, _))) = latest(&s, &chain).await {
                let key = format!("{:#x}:{}", p.inputs_hash, p.stall);
                if key != last {
                    let ev = Event::default().event("risk").data(point_json(&p).to_string());
                    if tx.send(ev).await.is_err() {
                        return;
                    }
                    last = key;
                }
            }
            tokio::select! {
                r = changes.changed() => if r.is_err() { return },
                _ = tick.tick() => {}
                () = tx.closed() => return,
            }
        }
    });
    let stream = tokio_stream::wrappers::ReceiverStream::new(rx);
    Ok(Sse::new(futures::StreamExt::map(stream, Ok)).keep_alive(KeepAlive::default()))
}
