//! EVM JSON-RPC: a client per endpoint, `newHeads` over WebSocket with HTTP polling as fallback,
//! and block assembly (block, receipts, traces, proofs) in the replay format. Several endpoints
//! of one chain, with voting and quarantine, are [`crate::pool`]'s business.

use crate::{Result, SensitiveUrl, SourceError};
use futures::{SinkExt, StreamExt};
use palisade_primitives::{quantity as q, Address, Bytes, RecordedBlock, B256};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

/// Largest response body accepted (bytes): a block with full traces can be tens of MB.
pub const MAX_RESPONSE_BYTES: usize = 256 << 20;

/// One endpoint of a chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointConfig {
    /// HTTP(S) URL for requests. Path and query are treated as secret (API keys) and redacted.
    pub url: String,
    /// WebSocket URL for `eth_subscribe` newHeads (default: none, poll over HTTP).
    #[serde(default)]
    pub ws: Option<String>,
}

impl EndpointConfig {
    /// An HTTP-only endpoint.
    pub fn http(url: &str) -> Self {
        Self { url: url.into(), ws: None }
    }
}

/// Timeouts and limits of the RPC client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RpcSettings {
    /// Per-request timeout in milliseconds (default 10000).
    pub timeout_ms: u64,
    /// Concurrent requests per block fetch, for per-transaction receipts (default 8).
    pub concurrency: usize,
    /// HTTP polling interval when no WebSocket is up, in milliseconds (default 1000).
    pub poll_interval_ms: u64,
    /// Hedging: when the endpoint asked first has not answered within three times its usual
    /// time for that request, and at least this many milliseconds, the next endpoint is asked
    /// too and the first good answer wins (default 100; 0 asks the next one only after an
    /// error or the timeout).
    pub hedge_after_ms: u64,
}

impl Default for RpcSettings {
    fn default() -> Self {
        Self { timeout_ms: 10_000, concurrency: 8, poll_interval_ms: 1000, hedge_after_ms: 100 }
    }
}

/// A JSON-RPC client over HTTP for one endpoint.
#[derive(Debug)]
pub struct RpcClient {
    url: SensitiveUrl,
    ws: Option<SensitiveUrl>,
    http: reqwest::Client,
    next_id: AtomicU64,
    timeout: Duration,
    concurrency: usize,
    /// Times a request answered 429 (or 503 with Retry-After) is tried again (default 0).
    rate_limit_retries: u32,
}

/// The longest Retry-After honoured; longer ones wait this long.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// The wait a 429 or 503 answer asks for: `Retry-After` in seconds or as an HTTP date, else
/// an exponential backoff from 500 ms by attempt; at most [`MAX_RETRY_AFTER`].
fn retry_after(headers: &reqwest::header::HeaderMap, attempt: u32) -> Duration {
    let backoff = Duration::from_millis(500u64.saturating_mul(1 << attempt.min(6)));
    let asked =
        headers.get(reqwest::header::RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(|v| {
            let v = v.trim();
            v.parse::<u64>().ok().map(Duration::from_secs).or_else(|| {
                let at = httpdate::parse_http_date(v).ok()?;
                Some(at.duration_since(std::time::SystemTime::now()).unwrap_or_default())
            })
        });
    asked.unwrap_or(backoff).min(MAX_RETRY_AFTER)
}

impl RpcClient {
    /// Builds a client.
    pub fn new(cfg: &EndpointConfig, settings: &RpcSettings) -> Result<Self> {
        let url = SensitiveUrl::parse(&cfg.url).map_err(SourceError::Config)?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(SourceError::Config(format!(
                "endpoint url {url} must be http(s); put WebSocket URLs in `ws`"
            )));
        }
        let ws =
            cfg.ws.as_deref().map(SensitiveUrl::parse).transpose().map_err(SourceError::Config)?;
        if let Some(w) = &ws {
            if !matches!(w.scheme(), "ws" | "wss") {
                return Err(SourceError::Config(format!("ws url {w} must be ws(s)")));
            }
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(settings.timeout_ms))
            .connect_timeout(Duration::from_millis(settings.timeout_ms.min(5000)))
            .pool_max_idle_per_host(8)
            .build()
            .map_err(|e| SourceError::Config(format!("http client: {e}")))?;
        Ok(Self {
            url,
            ws,
            http,
            next_id: AtomicU64::new(1),
            timeout: Duration::from_millis(settings.timeout_ms),
            concurrency: settings.concurrency,
            rate_limit_retries: 0,
        })
    }

    /// Tries a request that was answered 429 Too Many Requests (or 503 with a Retry-After)
    /// again up to `n` times, after the wait the answer asks for (at most a minute), else a
    /// backoff. The live path keeps 0: there another endpoint answers instead.
    pub fn with_rate_limit_retries(mut self, n: u32) -> Self {
        self.rate_limit_retries = n;
        self
    }

    /// The redacted URL.
    pub fn url(&self) -> &SensitiveUrl {
        &self.url
    }

    /// True when the endpoint has a WebSocket URL for head subscriptions.
    pub fn has_ws(&self) -> bool {
        self.ws.is_some()
    }

    /// Posts `body` and reads the answer, honouring 429 as [`Self::with_rate_limit_retries`]
    /// says.
    async fn post(&self, body: &Value, method: &str) -> Result<(reqwest::StatusCode, Vec<u8>)> {
        let transport =
            |reason: String| SourceError::Transport { url: self.url.to_string(), reason };
        let mut attempt = 0u32;
        loop {
            let mut resp = self
                .http
                .post(self.url.expose())
                .json(body)
                .send()
                .await
                .map_err(|e| transport(without_url(e)))?;
            let status = resp.status();
            let limited = status == reqwest::StatusCode::TOO_MANY_REQUESTS
                || (status == reqwest::StatusCode::SERVICE_UNAVAILABLE
                    && resp.headers().contains_key(reqwest::header::RETRY_AFTER));
            if limited && attempt < self.rate_limit_retries {
                let wait = retry_after(resp.headers(), attempt);
                tracing::debug!(
                    method,
                    status = status.as_u16(),
                    wait_ms = wait.as_millis() as u64,
                    "rate limited; waiting as asked"
                );
                tokio::time::sleep(wait).await;
                attempt += 1;
                continue;
            }
            let mut buf =
                Vec::with_capacity(resp.content_length().unwrap_or(4096).min(1 << 24) as usize);
            while let Some(chunk) = resp.chunk().await.map_err(|e| transport(without_url(e)))? {
                if buf.len() + chunk.len() > MAX_RESPONSE_BYTES {
                    return Err(transport(format!(
                        "{method}: response larger than {MAX_RESPONSE_BYTES} bytes"
                    )));
                }
                buf.extend_from_slice(&chunk);
            }
            return Ok((status, buf));
        }
    }

    /// Calls several methods in one JSON-RPC batch; each answer in the order asked. An
    /// endpoint that does not take batches (an answer that is not an array of them) is an
    /// error of the whole call, so the caller can ask one by one.
    pub async fn call_batch(&self, calls: &[(&str, Value)]) -> Result<Vec<Result<Value>>> {
        let first = self.next_id.fetch_add(calls.len() as u64, Ordering::Relaxed);
        let body: Vec<Value> = calls
            .iter()
            .enumerate()
            .map(|(i, (m, p))| json!({"jsonrpc": "2.0", "id": first + i as u64, "method": m, "params": p}))
            .collect();
        let (status, buf) = self.post(&Value::Array(body), "batch").await?;
        let v: Value = palisade_primitives::json::from_slice(&buf)
            .map_err(|e| self.malformed("batch", format!("HTTP {status}, not JSON: {e}")))?;
        let Value::Array(answers) = v else {
            return Err(self.malformed(
                "batch",
                format!("HTTP {status}: expected an array of answers, got {}", q::kind(&v)),
            ));
        };
        let mut by_id: std::collections::HashMap<u64, Value> =
            answers.into_iter().filter_map(|a| Some((a.get("id")?.as_u64()?, a))).collect();
        Ok(calls
            .iter()
            .enumerate()
            .map(|(i, (m, _))| match by_id.remove(&(first + i as u64)) {
                Some(a) => parse_response(a, m, &self.url.to_string()),
                None => Err(self.malformed(m, "no answer in the batch".into())),
            })
            .collect())
    }

    /// Calls `method` and returns its `result`.
    pub async fn call(&self, method: &str, params: Value) -> Result<Value> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let transport =
            |reason: String| SourceError::Transport { url: self.url.to_string(), reason };
        let (status, buf) = self.post(&body, method).await?;
        if !status.is_success() && buf.is_empty() {
            return Err(transport(format!("{method}: HTTP {status}")));
        }
        let malformed = |reason: String| SourceError::Malformed {
            url: self.url.to_string(),
            method: method.to_string(),
            reason,
        };
        // A trace answer may nest as deep as the EVM's call depth allows.
        let v: Value = palisade_primitives::json::from_slice(&buf).map_err(|e| {
            if status.is_success() {
                malformed(format!("not JSON: {e}"))
            } else {
                transport(format!("{method}: HTTP {status}"))
            }
        })?;
        parse_response(v, method, &self.url.to_string())
    }
}

fn without_url(e: reqwest::Error) -> String {
    // reqwest puts the full URL (with any API key) in its messages: strip it.
    let e = e.without_url();
    let mut s = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

/// Parses a JSON-RPC response object.
pub fn parse_response(v: Value, method: &str, url: &str) -> Result<Value> {
    let malformed = |reason: String| SourceError::Malformed {
        url: url.to_string(),
        method: method.to_string(),
        reason,
    };
    let Value::Object(mut m) = v else {
        return Err(malformed(format!("expected a JSON-RPC object, got {}", q::kind(&v))));
    };
    if let Some(err) = m.remove("error") {
        if !err.is_null() {
            let code = err.get("code").and_then(Value::as_i64).unwrap_or(0);
            let message = err
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("(no message)")
                .chars()
                .take(500)
                .collect();
            return Err(SourceError::Rpc { url: url.into(), method: method.into(), code, message });
        }
    }
    m.remove("result").ok_or_else(|| malformed("no \"result\" field".into()))
}

/// A new head announced by an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadSeen {
    /// Block number.
    pub number: u64,
    /// Block hash.
    pub hash: B256,
}

/// What to attach to fetched blocks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Enrich {
    /// Fetch receipts.
    pub receipts: bool,
    /// Fetch traces (`trace_block`, falling back to `debug_traceBlockByHash` with callTracer).
    pub traces: bool,
}

impl RpcClient {
    fn malformed(&self, method: &str, reason: String) -> SourceError {
        SourceError::Malformed { url: self.url.to_string(), method: method.into(), reason }
    }

    /// The chain id the endpoint reports.
    pub async fn chain_id(&self) -> Result<u64> {
        let v = self.call("eth_chainId", json!([])).await?;
        q::u64(&v).map_err(|reason| self.malformed("eth_chainId", reason))
    }

    /// The latest head.
    pub async fn latest_head(&self) -> Result<HeadSeen> {
        let v = self.call("eth_getBlockByNumber", json!(["latest", false])).await?;
        head_of(&v).map_err(|r| self.malformed("eth_getBlockByNumber", r))
    }

    /// The hash of the endpoint's canonical block at `number` (`None` when it has none yet).
    pub async fn hash_at(&self, number: u64) -> Result<Option<B256>> {
        let v = self.call("eth_getBlockByNumber", json!([format!("{number:#x}"), false])).await?;
        if v.is_null() {
            return Ok(None);
        }
        let h = head_of(&v).map_err(|r| self.malformed("eth_getBlockByNumber", r))?;
        if h.number != number {
            return Err(self.malformed(
                "eth_getBlockByNumber",
                format!("asked for block {number}, got block {}", h.number),
            ));
        }
        Ok(Some(h.hash))
    }

    /// `eth_syncing`: `None` when the node is in sync, otherwise its sync status object.
    pub async fn syncing(&self) -> Result<Option<Value>> {
        let v = self.call("eth_syncing", json!([])).await?;
        Ok(match v {
            Value::Bool(false) | Value::Null => None,
            other => Some(other),
        })
    }

    /// `net_peerCount`; `None` when the node does not offer the method.
    pub async fn peer_count(&self) -> Result<Option<u64>> {
        match self.call("net_peerCount", json!([])).await {
            Ok(v) => q::u64(&v).map(Some).map_err(|r| self.malformed("net_peerCount", r)),
            Err(SourceError::Rpc { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The block with full transactions, by number (`None` when the node does not have it).
    pub async fn block_by_number(
        &self,
        number: u64,
        enrich: Enrich,
    ) -> Result<Option<RecordedBlock>> {
        let v = self.call("eth_getBlockByNumber", json!([format!("{number:#x}"), true])).await?;
        self.assemble(v, "eth_getBlockByNumber", enrich).await
    }

    /// The block by number with its receipts and traces asked in one JSON-RPC batch (one round
    /// trip instead of three), checked as [`Self::block_by_number`] checks them; parts the
    /// batch could not give (no `eth_getBlockReceipts` or `trace_block`) are fetched the usual
    /// way, and an endpoint that takes no batches gets the usual requests.
    pub async fn block_by_number_batched(
        &self,
        number: u64,
        enrich: Enrich,
    ) -> Result<Option<RecordedBlock>> {
        let tag = json!(format!("{number:#x}"));
        let mut calls = vec![("eth_getBlockByNumber", json!([tag, true]))];
        if enrich.receipts {
            calls.push(("eth_getBlockReceipts", json!([tag])));
        }
        if enrich.traces {
            calls.push(("trace_block", json!([tag])));
        }
        let mut answers = match self.call_batch(&calls).await {
            Ok(a) => a.into_iter(),
            Err(SourceError::Malformed { .. } | SourceError::Rpc { .. }) => {
                return self.block_by_number(number, enrich).await
            }
            Err(e) => return Err(e),
        };
        let block = answers.next().unwrap_or(Ok(Value::Null))?;
        let mut rec = match self.assemble(block, "eth_getBlockByNumber", Enrich::default()).await? {
            Some(r) => r,
            None => return Ok(None),
        };
        let hash =
            q::b256(&rec.block["hash"]).map_err(|r| self.malformed("eth_getBlockByNumber", r))?;
        let txs: Vec<Value> =
            rec.block.get("transactions").and_then(Value::as_array).cloned().unwrap_or_default();
        if enrich.receipts {
            rec.receipts = match answers.next() {
                Some(Ok(Value::Array(list))) => {
                    self.check_receipts(hash, &txs, &list)?;
                    Value::Array(list)
                }
                _ => self.receipts(hash, &txs).await?,
            };
        }
        if enrich.traces {
            let traced = match answers.next() {
                Some(Ok(Value::Array(ts))) => {
                    self.check_traces(hash, &ts)?;
                    Some((Value::Array(ts), Value::Null))
                }
                _ => None,
            };
            (rec.traces, rec.call_traces) = match traced {
                Some(t) => t,
                None => self.traces(number, hash).await?,
            };
        }
        Ok(Some(rec))
    }

    /// The block with full transactions, by hash (`None` when the node does not have it).
    pub async fn block_by_hash(&self, hash: B256, enrich: Enrich) -> Result<Option<RecordedBlock>> {
        let v = self.call("eth_getBlockByHash", json!([hash, true])).await?;
        self.assemble(v, "eth_getBlockByHash", enrich).await
    }

    async fn assemble(
        &self,
        block: Value,
        method: &str,
        enrich: Enrich,
    ) -> Result<Option<RecordedBlock>> {
        if block.is_null() {
            return Ok(None);
        }
        let hash = block
            .get("hash")
            .ok_or_else(|| self.malformed(method, "block has no hash".into()))
            .and_then(|h| q::b256(h).map_err(|r| self.malformed(method, r)))?;
        let number = block
            .get("number")
            .ok_or_else(|| self.malformed(method, "block has no number".into()))
            .and_then(|h| q::u64(h).map_err(|r| self.malformed(method, r)))?;
        let txs: Vec<Value> =
            block.get("transactions").and_then(Value::as_array).cloned().unwrap_or_default();
        let receipts = if enrich.receipts { self.receipts(hash, &txs).await? } else { Value::Null };
        let (traces, call_traces) = if enrich.traces {
            self.traces(number, hash).await?
        } else {
            (Value::Null, Value::Null)
        };
        Ok(Some(RecordedBlock {
            prestate: serde_json::Value::Null,
            block,
            receipts,
            traces,
            call_traces,
            proofs: Value::Null,
            calls: Value::Null,
            code: Value::Null,
            beacon: Value::Null,
            comet: Value::Null,
        }))
    }

    /// Receipts of a block: `eth_getBlockReceipts`, falling back to one request per transaction.
    /// Checks that each receipt belongs to this block and transaction.
    pub async fn receipts(&self, hash: B256, txs: &[Value]) -> Result<Value> {
        let list = match self.call("eth_getBlockReceipts", json!([hash])).await {
            Ok(Value::Array(rs)) => rs,
            Ok(Value::Null) | Err(SourceError::Rpc { .. }) => {
                let hashes: Vec<Value> = txs
                    .iter()
                    .map(|t| t.get("hash").cloned().unwrap_or_else(|| t.clone()))
                    .collect();
                let fetched: Vec<Result<Value>> = futures::stream::iter(hashes)
                    .map(
                        |h| async move { self.call("eth_getTransactionReceipt", json!([h])).await },
                    )
                    .buffered(self.concurrency.max(1))
                    .collect()
                    .await;
                fetched.into_iter().collect::<Result<Vec<_>>>()?
            }
            Ok(other) => {
                return Err(self.malformed(
                    "eth_getBlockReceipts",
                    format!("expected an array, got {}", q::kind(&other)),
                ))
            }
            Err(e) => return Err(e),
        };
        self.check_receipts(hash, txs, &list)?;
        Ok(Value::Array(list))
    }

    /// Checks that the receipts are one per transaction, none null, each of block `hash`.
    fn check_receipts(&self, hash: B256, txs: &[Value], list: &[Value]) -> Result<()> {
        if list.len() != txs.len() {
            return Err(self.malformed(
                "eth_getBlockReceipts",
                format!("{} receipts for {} transactions in block {hash}", list.len(), txs.len()),
            ));
        }
        for (i, r) in list.iter().enumerate() {
            if r.is_null() {
                return Err(self.malformed(
                    "receipts",
                    format!("receipt {i} of block {hash} is null (was the block reorged out while fetching?)"),
                ));
            }
            if let Some(bh) = r.get("blockHash") {
                if q::b256(bh).ok() != Some(hash) {
                    return Err(
                        self.malformed("receipts", format!("receipt {i} belongs to another block"))
                    );
                }
            }
        }
        Ok(())
    }

    /// Checks that `trace_block`'s traces are of block `hash` (it asks by number).
    fn check_traces(&self, hash: B256, ts: &[Value]) -> Result<()> {
        let other =
            ts.iter().any(|t| t.get("blockHash").is_some_and(|bh| q::b256(bh).ok() != Some(hash)));
        if other {
            return Err(
                self.malformed("trace_block", format!("traces are of another block than {hash}"))
            );
        }
        Ok(())
    }

    /// Traces of a block: Parity `trace_block`, else `debug_traceBlockByHash` with callTracer.
    /// Returns (traces, call_traces), one of them null.
    pub async fn traces(&self, number: u64, hash: B256) -> Result<(Value, Value)> {
        match self.call("trace_block", json!([format!("{number:#x}")])).await {
            Ok(Value::Array(ts)) => {
                // trace_block is by number: make sure the node traced the block we mean.
                self.check_traces(hash, &ts)?;
                return Ok((Value::Array(ts), Value::Null));
            }
            Ok(_) | Err(SourceError::Rpc { .. }) => {}
            Err(e) => return Err(e),
        }
        match self.call("debug_traceBlockByHash", json!([hash, {"tracer": "callTracer"}])).await {
            Ok(v @ Value::Array(_)) => Ok((Value::Null, v)),
            Ok(_) | Err(SourceError::Rpc { .. }) => Ok((Value::Null, Value::Null)),
            Err(e) => Err(e),
        }
    }

    /// `eth_getProof` for each (account, slots) at the block with `hash` (EIP-1898), in order:
    /// the `proofs` field of a recorded line. Checks that each answer is about the account asked.
    pub async fn proofs(&self, accounts: &[(Address, Vec<B256>)], hash: B256) -> Result<Value> {
        let requests: Vec<Value> =
            accounts.iter().map(|(a, slots)| json!([a, slots, {"blockHash": hash}])).collect();
        let fetched: Vec<Result<Value>> = futures::stream::iter(requests)
            .map(|params| async move { self.call("eth_getProof", params).await })
            .buffered(self.concurrency.max(1))
            .collect()
            .await;
        let mut out = Vec::with_capacity(accounts.len());
        for ((a, _), v) in accounts.iter().zip(fetched) {
            let v = v?;
            let got = v.get("address").and_then(|x| q::address(x).ok());
            if got != Some(*a) {
                return Err(self.malformed(
                    "eth_getProof",
                    format!("asked for the proof of {a}, got one for {got:?}"),
                ));
            }
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    /// `eth_call` of each (contract, calldata) at the block with `hash` (EIP-1898), in order: the
    /// `calls` field of a recorded line. A call that reverts gives `"result": null`.
    pub async fn view_calls(&self, calls: &[(Address, Bytes)], hash: B256) -> Result<Value> {
        let mut out = Vec::with_capacity(calls.len());
        for (to, data) in calls {
            let params = json!([{"to": to, "data": data}, {"blockHash": hash}]);
            let mut r = self.call("eth_call", params.clone()).await;
            // A revert is an answer; another node error about a block it just announced (anvil
            // answers for its newest block racily) is asked again once.
            if let Err(SourceError::Rpc { message, .. }) = &r {
                if !message.to_lowercase().contains("revert") {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    r = self.call("eth_call", params).await;
                }
            }
            let result = match r {
                Ok(v @ Value::String(_)) => v,
                Ok(other) => {
                    return Err(self.malformed(
                        "eth_call",
                        format!("expected hex data, got {}", q::kind(&other)),
                    ))
                }
                // A revert is an answer (the contract refused), not an outage.
                Err(SourceError::Rpc { .. }) => Value::Null,
                Err(e) => return Err(e),
            };
            out.push(json!({"to": to, "data": data, "result": result}));
        }
        Ok(Value::Array(out))
    }

    /// `eth_getCode` of each address at the block with `hash`: the `code` field of a recorded
    /// line.
    pub async fn code_at(&self, addresses: &[Address], hash: B256) -> Result<Value> {
        let mut out = Vec::with_capacity(addresses.len());
        for a in addresses {
            let code = self.call("eth_getCode", json!([a, {"blockHash": hash}])).await?;
            if !code.is_string() {
                return Err(self.malformed("eth_getCode", "expected hex code".into()));
            }
            out.push(json!({"address": a, "code": code}));
        }
        Ok(Value::Array(out))
    }

    /// Follows this endpoint's heads until `shutdown`, calling `on_head` with each new one:
    /// `eth_subscribe` newHeads over the endpoint's WebSocket when it has one, HTTP polling
    /// otherwise and while the WebSocket is down (reconnecting with exponential backoff).
    /// Intermediate heads may be skipped: consumers backfill by parent hash.
    pub async fn follow_heads(
        &self,
        poll_interval: Duration,
        mut on_head: impl FnMut(HeadSeen),
        shutdown: CancellationToken,
    ) {
        let poll = poll_interval.max(Duration::from_millis(50));
        let mut backoff = Duration::from_millis(250);
        let mut last = None;
        let mut emit = |h: HeadSeen| {
            if last != Some(h) {
                last = Some(h);
                on_head(h);
            }
        };
        loop {
            if shutdown.is_cancelled() {
                return;
            }
            if let Some(ws) = self.ws.clone() {
                match self.ws_session(&ws, &mut emit, &shutdown).await {
                    Ok(()) => return,
                    Err(e) => {
                        tracing::warn!(target: "palisade::source", endpoint = %ws, error = %e, "WebSocket down; polling over HTTP.");
                    }
                }
                // Poll while waiting to reconnect.
                let until = tokio::time::Instant::now() + backoff;
                while tokio::time::Instant::now() < until {
                    self.poll_once(&mut emit).await;
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        () = tokio::time::sleep(poll.min(backoff)) => {}
                    }
                }
                backoff = (backoff * 2).min(Duration::from_secs(30));
            } else {
                self.poll_once(&mut emit).await;
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(poll) => {}
                }
            }
        }
    }

    async fn poll_once(&self, emit: &mut impl FnMut(HeadSeen)) {
        match self.latest_head().await {
            Ok(h) => emit(h),
            Err(e) => {
                tracing::debug!(target: "palisade::source", error = %e, "Polling for the head failed.")
            }
        }
    }

    async fn ws_session(
        &self,
        ws: &SensitiveUrl,
        emit: &mut impl FnMut(HeadSeen),
        shutdown: &CancellationToken,
    ) -> Result<()> {
        let transport = |reason: String| crate::ws::transport(ws, reason);
        let sub =
            json!({"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe", "params": ["newHeads"]});
        let mut stream = crate::ws::subscribe(ws, self.timeout, &sub).await?;
        tracing::info!(target: "palisade::source", endpoint = %ws, "Subscribed to newHeads.");
        // A head right away, so nothing is missed between connecting and the first notification.
        self.poll_once(emit).await;
        loop {
            let msg = tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                m = tokio::time::timeout(Duration::from_secs(120), stream.next()) => m,
            };
            crate::ws::quickack(&stream);
            let msg = match msg {
                Err(_) => return Err(transport("no message for 120 s".into())),
                Ok(None) => return Err(transport("connection closed".into())),
                Ok(Some(Err(e))) => return Err(transport(e.to_string())),
                Ok(Some(Ok(m))) => m,
            };
            let text = match msg {
                Message::Text(t) => t.to_string(),
                Message::Binary(b) => String::from_utf8_lossy(&b).into_owned(),
                Message::Ping(p) => {
                    let _ = stream.send(Message::Pong(p)).await;
                    continue;
                }
                Message::Close(_) => return Err(transport("closed by the server".into())),
                _ => continue,
            };
            let Ok(v) = serde_json::from_str::<Value>(&text) else {
                tracing::warn!(target: "palisade::source", endpoint = %ws, "Ignored a non-JSON WebSocket message.");
                continue;
            };
            if let Some(err) = v.get("error") {
                return Err(transport(format!("eth_subscribe failed: {err}")));
            }
            let Some(head) = v.pointer("/params/result") else { continue };
            match head_of(head) {
                Ok(h) => emit(h),
                Err(r) => {
                    tracing::warn!(target: "palisade::source", endpoint = %ws, reason = %r, "Ignored a malformed newHeads notification.")
                }
            }
        }
    }
}

/// Number and hash of a block or header object.
pub fn head_of(v: &Value) -> Result<HeadSeen, String> {
    if v.is_null() {
        return Err("no block".into());
    }
    let number = q::u64(v.get("number").ok_or("header has no number")?)?;
    let hash = q::b256(v.get("hash").ok_or("header has no hash")?)?;
    Ok(HeadSeen { number, hash })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_are_checked() {
        assert_eq!(
            parse_response(json!({"jsonrpc":"2.0","id":1,"result":"0x1"}), "m", "u").unwrap(),
            json!("0x1")
        );
        let e = parse_response(json!({"error":{"code":-32601,"message":"nope"}}), "m", "u")
            .unwrap_err();
        assert!(matches!(e, SourceError::Rpc { code: -32601, .. }));
        assert!(parse_response(json!([1]), "m", "u").is_err());
        assert!(parse_response(json!({"id":1}), "m", "u").is_err());
        assert!(head_of(&json!({"number":"0x1"})).is_err());
        assert!(head_of(&json!({"number":"0x1","hash":"0x12"})).is_err());
    }
}
