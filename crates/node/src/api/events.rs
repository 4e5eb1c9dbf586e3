//! Live changes over server-sent events (`GET /api/v1/events`): each alert that is stored,
//! confirmed, retracted by a reorg, reopened or acted on (`event: alert`, the alert's JSON), and
//! the chains' heads (`event: chains`, at most once a second, when they moved).
//!
//! A client's stream waits on the store's change signal (bumped after every commit in this
//! process, and, in a cluster, whenever an owner publishes a stored event), then reads what
//! changed since its cursor. It re-reads a short margin behind its cursor (clocks of the
//! processes of a cluster differ a little) and skips what it already sent unchanged.

use super::auth::Caller;
use super::{alert_json, ApiState};
use axum::extract::{Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;
use std::convert::Infallible;
use std::time::Duration;

/// How far behind its cursor a stream re-reads (ms).
const MARGIN_MS: i64 = 2_000;
/// Rows read at a time.
const PAGE: i64 = 500;
/// Events buffered per client before its stream waits for it.
const BUFFER: usize = 256;

#[derive(Debug, Deserialize)]
pub(crate) struct EventsQuery {
    /// Send changes from this time on (ms since the epoch; default: now).
    since_ms: Option<i64>,
    /// For EventSource clients (read by [`Caller`]).
    #[allow(dead_code)]
    access_token: Option<String>,
}

type Fingerprint = (i64, String, i64, Option<i64>, Option<String>);

pub(crate) async fn events(
    State(s): State<ApiState>,
    _c: Caller,
    Query(q): Query<EventsQuery>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Event>(BUFFER);
    tokio::spawn(produce(s, q.since_ms.unwrap_or_else(palisade_store::now_ms), tx));
    let stream = tokio_stream::wrappers::ReceiverStream::new(rx);
    Sse::new(futures::StreamExt::map(stream, Ok)).keep_alive(KeepAlive::default())
}

async fn produce(s: ApiState, since_ms: i64, tx: tokio::sync::mpsc::Sender<Event>) {
    let mut changes = s.store.changes();
    let mut cursor = since_ms;
    let mut sent: HashMap<String, Fingerprint> = HashMap::new();
    let mut last_chains = String::new();
    let hello = json!({"server_ms": palisade_store::now_ms()}).to_string();
    if tx.send(Event::default().event("hello").data(hello)).await.is_err() {
        return;
    }
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        // Everything changed since the cursor (less the margin), page by page.
        let (mut at, mut key) = (cursor - MARGIN_MS, String::new());
        loop {
            let rows = match s.store.changed_after(at, &key, PAGE).await {
                Ok(r) => r,
                Err(e) => {
                    tracing::debug!(target: "palisade::api", error = %e, "Live view cannot read changes; trying again.");
                    break;
                }
            };
            for a in &rows {
                let k = a.finding.key.to_string();
                let fp = (
                    a.updated_ms,
                    a.status.clone(),
                    a.revision,
                    a.silenced_until_ms,
                    a.ack_note.clone(),
                );
                if sent.get(&k) != Some(&fp) {
                    let data = alert_json(a).to_string();
                    if tx.send(Event::default().event("alert").data(data)).await.is_err() {
                        return;
                    }
                    sent.insert(k.clone(), fp);
                }
                cursor = cursor.max(a.updated_ms);
                (at, key) = (a.updated_ms, k);
            }
            if (rows.len() as i64) < PAGE {
                break;
            }
        }
        // What the margin can no longer bring back is forgotten (bounded memory).
        sent.retain(|_, fp| fp.0 >= cursor - 2 * MARGIN_MS);
        tokio::select! {
            r = changes.changed() => if r.is_err() { return },
            _ = tick.tick() => {
                let chains = s.chains.lock().map(|c| {
                    c.iter().map(|(n, st)| (n.clone(), json!({
                        "tip": st.tip, "head": st.head, "confirmed": st.confirmed,
                        "last_block_age_secs": st.last_block_age_secs, "error": st.error,
                        "quorum_met": st.quorum.met,
                    }))).collect::<serde_json::Map<_, _>>()
                }).unwrap_or_default();
                let data = serde_json::Value::Object(chains).to_string();
                if data != last_chains {
                    if tx.send(Event::default().event("chains").data(data.clone())).await.is_err() {
                        return;
                    }
                    last_chains = data;
                }
            }
            () = tx.closed() => return,
        }
    }
}
