//! A client of the standard Ethereum Beacon API (the `/eth/v1` and `/eth/v2` REST endpoints
//! every consensus client serves): headers, blocks, finality checkpoints, validators, proposer,
//! attester and sync duties, light-client bootstrap and updates, and the server-sent events
//! stream (`head`, `block`, `finalized_checkpoint`, `chain_reorg`), with timeouts, a response
//! size cap, retries on another endpoint, and reconnection of the stream.
//!
//! Answers are untrusted JSON: this module checks their shape; the light client checks their
//! meaning.

use crate::{SensitiveUrl, SourceError};
use serde_json::{json, Value};
use std::time::Duration;
use tokio::sync::mpsc;

type Result<T, E = SourceError> = std::result::Result<T, E>;

/// Largest answer accepted (a full validator set on mainnet is a few hundred MB).
const MAX_RESPONSE_BYTES: usize = 1 << 30;

/// One Beacon API endpoint.
#[derive(Debug, Clone)]
pub struct BeaconClient {
    http: reqwest::Client,
    url: SensitiveUrl,
}

/// An event from the `/eth/v1/events` stream.
#[derive(Debug, Clone, PartialEq)]
pub struct BeaconEvent {
    /// Topic (`head`, `block`, `finalized_checkpoint`, `chain_reorg`).
    pub topic: String,
    /// Its JSON data.
    pub data: Value,
}

impl BeaconClient {
    /// A client of the endpoint at `url`, with a per-request timeout.
    pub fn new(url: &str, timeout: Duration) -> Result<Self> {
        let url = SensitiveUrl::parse(url)
            .map_err(|reason| SourceError::Transport { url: "<beacon url>".into(), reason })?;
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .build()
            .map_err(|e| SourceError::Transport { url: url.to_string(), reason: e.to_string() })?;
        Ok(Self { http, url })
    }

    /// The endpoint (redacted when shown).
    pub fn url(&self) -> &SensitiveUrl {
        &self.url
    }

    fn full(&self, path: &str) -> String {
        format!("{}{}", self.url.expose().trim_end_matches('/'), path)
    }

    /// GETs (or POSTs `body` to) `path`; `None` on 404 (an unknown block or state).
    pub async fn request(&self, path: &str, body: Option<&Value>) -> Result<Option<Value>> {
        let url = self.url.to_string();
        let transport = |reason: String| SourceError::Transport { url: url.clone(), reason };
        let req = match body {
            Some(b) => self.http.post(self.full(path)).json(b),
            None => self.http.get(self.full(path)),
        };
        let mut resp = req
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| transport(format!("{path}: {}", e.without_url())))?;
        let status = resp.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let mut buf = Vec::new();
        while let Some(chunk) =
            resp.chunk().await.map_err(|e| transport(format!("{path}: {}", e.without_url())))?
        {
            if buf.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(transport(format!(
                    "{path}: answer larger than {MAX_RESPONSE_BYTES} bytes"
                )));
            }
            buf.extend_from_slice(&chunk);
        }
        if !status.is_success() {
            let msg = serde_json::from_slice::<Value>(&buf)
                .ok()
                .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_string))
                .unwrap_or_default();
            return Err(transport(format!("{path}: HTTP {status} {msg}")));
        }
        serde_json::from_slice(&buf).map(Some).map_err(|e| SourceError::Malformed {
            url,
            method: path.to_string(),
            reason: format!("not JSON: {e}"),
        })
    }

    /// The `data` of an answer, which must be present.
    async fn data(&self, path: &str, body: Option<&Value>) -> Result<Option<Value>> {
        match self.request(path, body).await? {
            None => Ok(None),
            Some(mut v) => match v.get_mut("data") {
                Some(d) => Ok(Some(d.take())),
                None => Err(SourceError::Malformed {
                    url: self.url.to_string(),
                    method: path.to_string(),
                    reason: "no \"data\" in the answer".into(),
                }),
            },
        }
    }

    /// `/eth/v1/beacon/headers/{id}`'s data (`root`, `header.message`).
    pub async fn header(&self, block_id: &str) -> Result<Option<Value>> {
        self.data(&format!("/eth/v1/beacon/headers/{block_id}"), None).await
    }

    /// `/eth/v2/beacon/blocks/{id}`: the whole versioned answer (`version`, `data`).
    pub async fn block(&self, block_id: &str) -> Result<Option<Value>> {
        self.request(&format!("/eth/v2/beacon/blocks/{block_id}"), None).await
    }

    /// `/eth/v1/beacon/states/{id}/finality_checkpoints`.
    pub async fn finality(&self, state_id: &str) -> Result<Option<Value>> {
        self.data(&format!("/eth/v1/beacon/states/{state_id}/finality_checkpoints"), None).await
    }

    /// `/eth/v1/validator/duties/proposer/{epoch}`.
    pub async fn proposer_duties(&self, epoch: u64) -> Result<Option<Value>> {
        self.data(&format!("/eth/v1/validator/duties/proposer/{epoch}"), None).await
    }

    /// `POST /eth/v1/validator/duties/attester/{epoch}` for these validators.
    pub async fn attester_duties(&self, epoch: u64, indices: &[u64]) -> Result<Option<Value>> {
        let body = json!(indices.iter().map(|i| i.to_string()).collect::<Vec<_>>());
        self.data(&format!("/eth/v1/validator/duties/attester/{epoch}"), Some(&body)).await
    }

    /// `POST /eth/v1/validator/duties/sync/{epoch}` for these validators.
    pub async fn sync_duties(&self, epoch: u64, indices: &[u64]) -> Result<Option<Value>> {
        let body = json!(indices.iter().map(|i| i.to_string()).collect::<Vec<_>>());
        self.data(&format!("/eth/v1/validator/duties/sync/{epoch}"), Some(&body)).await
    }

    /// `/eth/v1/beacon/states/{id}/validators`, for these indices or (empty) the whole set.
    pub async fn validators(&self, state_id: &str, indices: &[u64]) -> Result<Option<Value>> {
        let q = if indices.is_empty() {
            String::new()
        } else {
            format!("?id={}", indices.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(","))
        };
        self.data(&format!("/eth/v1/beacon/states/{state_id}/validators{q}"), None).await
    }

    /// `/eth/v1/beacon/light_client/bootstrap/{root}`: the whole versioned answer.
    pub async fn bootstrap(&self, root: &str) -> Result<Option<Value>> {
        self.request(&format!("/eth/v1/beacon/light_client/bootstrap/{root}"), None).await
    }

    /// `/eth/v1/beacon/light_client/updates?start_period&count`: a list of versioned updates.
    pub async fn updates(&self, start_period: u64, count: u64) -> Result<Option<Value>> {
        self.request(
            &format!(
                "/eth/v1/beacon/light_client/updates?start_period={start_period}&count={count}"
            ),
            None,
        )
        .await
    }

    /// Opens `/eth/v1/events?topics=...` and forwards each event until the stream ends, fails,
    /// or `tx` is closed. Returns why it stopped.
    pub async fn events(&self, topics: &[&str], tx: &mpsc::Sender<BeaconEvent>) -> Result<()> {
        let url = self.url.to_string();
        let transport = |reason: String| SourceError::Transport { url: url.clone(), reason };
        let mut resp = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| transport(e.to_string()))?
            .get(self.full(&format!("/eth/v1/events?topics={}", topics.join(","))))
            .header("accept", "text/event-stream")
            .send()
            .await
            .map_err(|e| transport(format!("events: {}", e.without_url())))?;
        if !resp.status().is_success() {
            return Err(transport(format!("events: HTTP {}", resp.status())));
        }
        let mut parser = SseParser::default();
        while let Some(chunk) =
            resp.chunk().await.map_err(|e| transport(format!("events: {}", e.without_url())))?
        {
            for ev in parser.feed(&chunk) {
                if tx.send(ev).await.is_err() {
                    return Ok(());
                }
            }
        }
        Err(transport("events: the stream ended".into()))
    }
}

/// Incremental parser of a server-sent events stream (`event:` and `data:` lines, a blank line
/// ends an event). Events whose data is not JSON are skipped.
#[derive(Debug, Default)]
pub struct SseParser {
    buf: Vec<u8>,
    event: Option<String>,
    data: String,
}

impl SseParser {
    /// Feeds bytes; returns the events they complete.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<BeaconEvent> {
        self.buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        while let Some(nl) = self.buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.buf.drain(..=nl).collect();
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\n', '\r']);
            if line.is_empty() {
                if let (Some(topic), false) = (self.event.take(), self.data.is_empty()) {
                    if let Ok(data) = serde_json::from_str(&self.data) {
                        out.push(BeaconEvent { topic, data });
                    }
                }
                self.data.clear();
            } else if let Some(v) = line.strip_prefix("event:") {
                self.event = Some(v.trim().to_string());
            } else if let Some(v) = line.strip_prefix("data:") {
                if !self.data.is_empty() {
                    self.data.push('\n');
                }
                self.data.push_str(v.trim_start());
            }
            // Comments (`:`), `id:` and `retry:` lines are ignored.
        }
        // A stream that never ends a line must not grow without bound.
        if self.buf.len() > 1 << 24 {
            self.buf.clear();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_parsed_across_chunks_and_comments_ignored() {
        let mut p = SseParser::default();
        let mut got = p.feed(b": keep-alive\n\nevent: head\nda");
        assert!(got.is_empty());
        got.extend(p.feed(b"ta: {\"slot\":\"7\",\"block\":\"0x01\"}\r\n\nevent: chain_reorg\ndata: {\"depth\":\"2\"}\n\n"));
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].topic, "head");
        assert_eq!(got[0].data["slot"], "7");
        assert_eq!(got[1].data["depth"], "2");
        // Not JSON: skipped.
        assert!(p.feed(b"event: head\ndata: {oops\n\n").is_empty());
    }
}
