//! A client of the CometBFT RPC (v0.34 to v0.38 and v1 shapes, JSON-RPC over HTTP GET): status,
//! block (by height and by hash), commit and validators (paged), and the WebSocket `NewBlock`
//! subscription, with timeouts, a response size cap and reconnection. Answers are untrusted:
//! the light-client verifier checks them.

use crate::{SensitiveUrl, SourceError};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

type Result<T, E = SourceError> = std::result::Result<T, E>;

const MAX_RESPONSE_BYTES: usize = 256 << 20;

/// One CometBFT RPC endpoint.
#[derive(Debug, Clone)]
pub struct CometClient {
    http: reqwest::Client,
    url: SensitiveUrl,
    ws: Option<SensitiveUrl>,
}

impl CometClient {
    /// A client of the endpoint at `url` (and `ws`, its WebSocket, for new-block events).
    pub fn new(url: &str, ws: Option<&str>, timeout: Duration) -> Result<Self> {
        let parse = |u: &str| {
            SensitiveUrl::parse(u)
                .map_err(|reason| SourceError::Transport { url: "<comet url>".into(), reason })
        };
        let url = parse(url)?;
        let ws = ws.map(parse).transpose()?;
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .build()
            .map_err(|e| SourceError::Transport { url: url.to_string(), reason: e.to_string() })?;
        Ok(Self { http, url, ws })
    }

    /// The endpoint (redacted when shown).
    pub fn url(&self) -> &SensitiveUrl {
        &self.url
    }

    /// Calls `method` with URI parameters and returns its `result`.
    pub async fn call(&self, method: &str, params: &[(&str, String)]) -> Result<Value> {
        let url = self.url.to_string();
        let transport = |reason: String| SourceError::Transport { url: url.clone(), reason };
        let mut resp = self
            .http
            .get(format!("{}/{method}", self.url.expose().trim_end_matches('/')))
            .query(params)
            .send()
            .await
            .map_err(|e| transport(format!("{method}: {}", e.without_url())))?;
        let status = resp.status();
        let mut buf = Vec::new();
        while let Some(chunk) =
            resp.chunk().await.map_err(|e| transport(format!("{method}: {}", e.without_url())))?
        {
            if buf.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(transport(format!(
                    "{method}: answer larger than {MAX_RESPONSE_BYTES} bytes"
                )));
            }
            buf.extend_from_slice(&chunk);
        }
        let malformed = |reason: String| SourceError::Malformed {
            url: url.clone(),
            method: method.into(),
            reason,
        };
        let v: Value = serde_json::from_slice(&buf).map_err(|e| {
            if status.is_success() {
                malformed(format!("not JSON: {e}"))
            } else {
                transport(format!("{method}: HTTP {status}"))
            }
        })?;
        if let Some(e) = v.get("error").filter(|e| !e.is_null()) {
            return Err(SourceError::Rpc {
                url,
                method: method.into(),
                code: e.get("code").and_then(Value::as_i64).unwrap_or(0),
                message: e
                    .get("data")
                    .or(e.get("message"))
                    .map(|m| m.to_string())
                    .unwrap_or_default(),
            });
        }
        v.get("result").cloned().ok_or_else(|| malformed("no result".into()))
    }

    /// `/status`.
    pub async fn status(&self) -> Result<Value> {
        self.call("status", &[]).await
    }

    /// `/block?height=`.
    pub async fn block(&self, height: u64) -> Result<Value> {
        self.call("block", &[("height", height.to_string())]).await
    }

    /// `/block_by_hash?hash=0x...`.
    pub async fn block_by_hash(&self, hash: &str) -> Result<Value> {
        self.call("block_by_hash", &[("hash", hash.to_string())]).await
    }

    /// `/commit?height=`: the signed header of a height.
    pub async fn commit(&self, height: u64) -> Result<Value> {
        self.call("commit", &[("height", height.to_string())]).await
    }

    /// `/validators?height=`, every page: the whole validator set of a height.
    pub async fn validators(&self, height: u64) -> Result<Vec<Value>> {
        let mut out = Vec::new();
        for page in 1..=1000u32 {
            let r = self
                .call(
                    "validators",
                    &[
                        ("height", height.to_string()),
                        ("page", page.to_string()),
                        ("per_page", "100".into()),
                    ],
                )
                .await?;
            let vs = r.get("validators").and_then(Value::as_array).cloned().unwrap_or_default();
            let total: usize = r
                .get("total")
                .and_then(|t| {
                    t.as_str().and_then(|s| s.parse().ok()).or(t.as_u64().map(|x| x as usize))
                })
                .unwrap_or(vs.len());
            let empty = vs.is_empty();
            out.extend(vs);
            if out.len() >= total || empty {
                break;
            }
        }
        Ok(out)
    }

    /// Subscribes to `NewBlock` events over the WebSocket and forwards each new height until the
    /// connection fails or `tx` is closed.
    pub async fn new_blocks(&self, tx: &mpsc::Sender<u64>) -> Result<()> {
        let Some(ws) = &self.ws else {
            return Err(SourceError::Transport {
                url: self.url.to_string(),
                reason: "no WebSocket URL".into(),
            });
        };
        let transport = |reason: String| crate::ws::transport(ws, reason);
        let sub = json!({"jsonrpc": "2.0", "id": 1, "method": "subscribe", "params": {"query": "tm.event='NewBlock'"}});
        let mut stream = crate::ws::subscribe(ws, Duration::from_secs(10), &sub).await?;
        loop {
            let msg = match tokio::time::timeout(Duration::from_secs(120), stream.next()).await {
                Err(_) => return Err(transport("no message for 120 s".into())),
                Ok(None) => return Err(transport("connection closed".into())),
                Ok(Some(Err(e))) => return Err(transport(e.to_string())),
                Ok(Some(Ok(m))) => m,
            };
            crate::ws::quickack(&stream);
            let text = match msg {
                Message::Text(t) => t.to_string(),
                Message::Ping(p) => {
                    let _ = stream.send(Message::Pong(p)).await;
                    continue;
                }
                Message::Close(_) => return Err(transport("closed by the server".into())),
                _ => continue,
            };
            let Ok(v) = serde_json::from_str::<Value>(&text) else { continue };
            let h = v
                .pointer("/result/data/value/block/header/height")
                .and_then(|h| h.as_str().and_then(|s| s.parse::<u64>().ok()).or(h.as_u64()));
            if let Some(h) = h {
                if tx.send(h).await.is_err() {
                    return Ok(());
                }
            }
        }
    }
}
