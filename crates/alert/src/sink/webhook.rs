//! HTTP delivery: Palisade's own signed JSON, Slack and Discord webhooks, PagerDuty Events v2,
//! Opsgenie's Alert API and Telegram's Bot API.

use super::{AlertSink, Notification};
use crate::{AlertError, Result, SecretString};
use futures::future::BoxFuture;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use std::time::Duration;

/// Payload format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookFormat {
    /// The finding as JSON, with `X-Palisade-*` headers.
    Palisade,
    /// `{"text": ..., "blocks": [...]}` for Slack incoming webhooks.
    Slack,
    /// `{"content": ..., "embeds": [...]}` for Discord webhooks.
    Discord,
    /// A PagerDuty Events API v2 event: `trigger` for an alert, `resolve` when a reorg retracts
    /// it, with the alert key as `dedup_key`.
    PagerDuty,
    /// Opsgenie's Alert API: create with the alert key as `alias`; acknowledge on an ack; close
    /// on a retraction or a resolution.
    Opsgenie,
    /// Telegram's Bot API `sendMessage` to one chat.
    Telegram,
}

/// The HMAC-SHA256 signature Palisade puts in `X-Palisade-Signature`: hex of
/// HMAC(secret, timestamp_ms + "." + body), prefixed with `sha256=`.
pub fn sign(secret: &[u8], timestamp_ms: &str, body: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256>>::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
    mac.update(timestamp_ms.as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// A webhook sink.
#[derive(Debug)]
pub struct Webhook {
    id: String,
    url: SecretString,
    secret: Option<SecretString>,
    format: WebhookFormat,
    http: reqwest::Client,
    /// PagerDuty: the integration's routing key; Opsgenie: the API key; Telegram: the bot token.
    routing_key: Option<SecretString>,
    /// Telegram: the chat id.
    chat_id: Option<String>,
}

impl Webhook {
    /// Builds the sink.
    pub fn new(
        id: String,
        url: &SecretString,
        secret: Option<SecretString>,
        timeout_ms: u64,
        format: WebhookFormat,
    ) -> Result<Self> {
        let u = url.expose();
        // An unset variable is reported by name where the secret is needed (`run`, `validate`).
        if url.unset_env().is_none() && !(u.starts_with("http://") || u.starts_with("https://")) {
            return Err(AlertError::SinkConfig {
                sink: id,
                reason: "url must start with http:// or https://".into(),
            });
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(timeout_ms))
            .build()
            .map_err(|e| AlertError::SinkConfig { sink: id.clone(), reason: e.to_string() })?;
        Ok(Self { id, url: url.clone(), secret, format, http, routing_key: None, chat_id: None })
    }

    /// An Opsgenie sink (`url`: the API's base, `https://api.opsgenie.com` by default, or
    /// `https://api.eu.opsgenie.com`).
    pub fn opsgenie(
        id: String,
        url: &SecretString,
        api_key: SecretString,
        timeout_ms: u64,
    ) -> Result<Self> {
        let mut w = Self::new(id, url, None, timeout_ms, WebhookFormat::Opsgenie)?;
        w.routing_key = Some(api_key);
        Ok(w)
    }

    /// A Telegram sink (`url`: the Bot API's base, `https://api.telegram.org` by default).
    pub fn telegram(
        id: String,
        url: &SecretString,
        bot_token: SecretString,
        chat_id: String,
        timeout_ms: u64,
    ) -> Result<Self> {
        let mut w = Self::new(id, url, None, timeout_ms, WebhookFormat::Telegram)?;
        w.routing_key = Some(bot_token);
        w.chat_id = Some(chat_id);
        Ok(w)
    }

    /// Where a notification is posted (the base URL plus the API's path for the action).
    fn target(&self, n: &Notification) -> String {
        let base = self.url.expose().trim_end_matches('/');
        let key = || self.routing_key.as_ref().map(|k| k.expose()).unwrap_or_default();
        match self.format {
            WebhookFormat::Opsgenie => {
                let alias = n.alert.finding.key.to_string();
                match n.action.as_str() {
                    "alert" => format!("{base}/v2/alerts"),
                    "ack" => format!("{base}/v2/alerts/{alias}/acknowledge?identifierType=alias"),
                    _ => format!("{base}/v2/alerts/{alias}/close?identifierType=alias"),
                }
            }
            WebhookFormat::Telegram => format!("{base}/bot{}/sendMessage", key()),
            _ => base.to_string(),
        }
    }

    /// A PagerDuty Events API v2 sink (`url`: the events endpoint,
    /// `https://events.pagerduty.com/v2/enqueue` by default).
    pub fn pagerduty(
        id: String,
        url: &SecretString,
        routing_key: SecretString,
        timeout_ms: u64,
    ) -> Result<Self> {
        let mut w = Self::new(id, url, None, timeout_ms, WebhookFormat::PagerDuty)?;
        w.routing_key = Some(routing_key);
        Ok(w)
    }

    /// The JSON body sent for a notification, in this sink's format.
    pub fn body(&self, n: &Notification) -> Value {
        let f = &n.alert.finding;
        match self.format {
            WebhookFormat::Palisade => n.payload(),
            WebhookFormat::Slack => json!({
                "text": n.text(),
                "blocks": [
                    {"type": "header", "text": {"type": "plain_text", "text": format!("{} {}", f.severity.as_str().to_uppercase(), f.title).chars().take(150).collect::<String>()}},
                    {"type": "section", "fields": [
                        {"type": "mrkdwn", "text": format!("*Chain*\n{}", f.chain)},
                        {"type": "mrkdwn", "text": format!("*Block*\n{}", f.anchor)},
                        {"type": "mrkdwn", "text": format!("*Detector*\n{}", f.detector)},
                        {"type": "mrkdwn", "text": format!("*Status*\n{}", if n.ends_incident() { n.headline() } else { "open".into() })},
                    ]},
                    {"type": "context", "elements": [{"type": "mrkdwn", "text": format!("key `{}`", f.key)}]},
                ],
            }),
            WebhookFormat::PagerDuty => {
                let key = self.routing_key.as_ref().map(|k| k.expose()).unwrap_or_default();
                // A retraction, an acknowledgement or a resolution in Palisade resolves the
                // incident (an operator already has it in hand).
                if n.ends_incident() {
                    json!({"routing_key": key, "event_action": "resolve", "dedup_key": f.key.to_string()})
                } else {
                    json!({
                        "routing_key": key,
                        "event_action": "trigger",
                        "dedup_key": f.key.to_string(),
                        "payload": {
                            "summary": format!("[{}] {}", f.chain, f.title).chars().take(1024).collect::<String>(),
                            "source": format!("palisade/{}", f.chain),
                            "severity": match f.severity {
                                palisade_primitives::Severity::Critical => "critical",
                                palisade_primitives::Severity::High => "error",
                                palisade_primitives::Severity::Medium => "warning",
                                _ => "info",
                            },
                            "component": f.detector,
                            "group": f.chain,
                            "class": f.kind,
                            "custom_details": n.payload(),
                        },
                    })
                }
            }
            WebhookFormat::Opsgenie => {
                let by = n.alert.acked_by.clone().unwrap_or_else(|| "palisade".into());
                match n.action.as_str() {
                    "alert" => json!({
                        "message": format!("[{}] {}", f.chain, f.title).chars().take(130).collect::<String>(),
                        "alias": f.key.to_string(),
                        "description": n.text().chars().take(15000).collect::<String>(),
                        "priority": match f.severity {
                            palisade_primitives::Severity::Critical => "P1",
                            palisade_primitives::Severity::High => "P2",
                            palisade_primitives::Severity::Medium => "P3",
                            palisade_primitives::Severity::Low => "P4",
                            _ => "P5",
                        },
                        "source": "palisade",
                        "entity": f.chain,
                        "tags": [f.chain.clone(), f.detector.clone(), f.severity.as_str().to_string()],
                        "details": {
                            "chain": f.chain, "detector": f.detector, "kind": f.kind,
                            "block": f.anchor.to_string(), "key": f.key.to_string(),
                            "revision": n.revision.to_string(),
                        },
                    }),
                    "ack" => {
                        json!({"user": by, "source": "palisade", "note": n.alert.ack_note.clone().unwrap_or_default()})
                    }
                    _ => json!({"user": by, "source": "palisade", "note": n.headline()}),
                }
            }
            WebhookFormat::Telegram => json!({
                "chat_id": self.chat_id,
                "text": n.text().chars().take(4096).collect::<String>(),
                "disable_web_page_preview": true,
            }),
            WebhookFormat::Discord => json!({
                "content": n.text().chars().take(2000).collect::<String>(),
                "embeds": [{
                    "title": f.title.chars().take(256).collect::<String>(),
                    "color": match f.severity { palisade_primitives::Severity::Critical => 0x99_00_00, palisade_primitives::Severity::High => 0xe0_30_30, palisade_primitives::Severity::Medium => 0xe0_a0_30, _ => 0x60_90_c0 },
                    "fields": [
                        {"name": "Chain", "value": f.chain, "inline": true},
                        {"name": "Block", "value": f.anchor.to_string(), "inline": true},
                        {"name": "Detector", "value": f.detector, "inline": true},
                    ],
                    "footer": {"text": format!("key {}", f.key)},
                }],
            }),
        }
    }

    fn err(&self, reason: impl Into<String>) -> AlertError {
        AlertError::Sink { sink: self.id.clone(), reason: reason.into() }
    }
}

impl AlertSink for Webhook {
    fn id(&self) -> &str {
        &self.id
    }

    fn healthcheck(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            // Same host and port as delivery; no request is made, so nobody gets paged.
            let rest = self.url.expose().split("://").nth(1).unwrap_or("");
            let authority = rest.split(['/', '?']).next().unwrap_or("");
            let host = authority.rsplit('@').next().unwrap_or(authority);
            let with_port = if host.contains(':') && !host.ends_with(']') {
                host.to_string()
            } else if self.url.expose().starts_with("https") {
                format!("{host}:443")
            } else {
                format!("{host}:80")
            };
            tokio::time::timeout(Duration::from_secs(5), tokio::net::TcpStream::connect(with_port))
                .await
                .map_err(|_| self.err("connect timed out"))?
                .map(|_| ())
                .map_err(|e| self.err(format!("cannot connect: {e}")))?;
            // Chat services can be asked whether a URL is theirs without posting anything:
            // Slack answers an empty message `400 no_text` on a live hook and 403/404 on a
            // wrong one; Discord answers a GET with the hook's description, or 401/404.
            let probe = match self.format {
                // No request: any event would page someone.
                WebhookFormat::Palisade | WebhookFormat::PagerDuty | WebhookFormat::Opsgenie => {
                    return Ok(())
                }
                // `getMe` answers 401 for a wrong bot token, and sends nothing to anyone.
                WebhookFormat::Telegram => {
                    let base = self.url.expose().trim_end_matches('/');
                    let token = self.routing_key.as_ref().map(|k| k.expose()).unwrap_or_default();
                    self.http.get(format!("{base}/bot{token}/getMe"))
                }
                WebhookFormat::Slack => self
                    .http
                    .post(self.url.expose())
                    .header("content-type", "application/json")
                    .body("{}"),
                WebhookFormat::Discord => self.http.get(self.url.expose()),
            };
            let resp = probe.send().await.map_err(|e| self.err(cause(e)))?;
            let status = resp.status().as_u16();
            if matches!(status, 401 | 403 | 404 | 410) {
                let said: String =
                    resp.text().await.unwrap_or_default().trim().chars().take(200).collect();
                return Err(AlertError::Refused { sink: self.id.clone(), status, said });
            }
            Ok(())
        })
    }

    fn deliver<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let body = serde_json::to_vec(&self.body(n)).map_err(|e| self.err(e.to_string()))?;
            let ts = palisade_store::now_ms().to_string();
            let mut req = self
                .http
                .post(self.target(n))
                .header("content-type", "application/json")
                .header("idempotency-key", n.idempotency_key())
                .header("x-palisade-timestamp", &ts);
            if let Some(s) = &self.secret {
                req = req.header("x-palisade-signature", sign(s.expose().as_bytes(), &ts, &body));
            }
            if let (WebhookFormat::Opsgenie, Some(k)) = (self.format, &self.routing_key) {
                req = req.header("authorization", format!("GenieKey {}", k.expose()));
            }
            let resp = req.body(body).send().await.map_err(|e| self.err(cause(e)))?;
            let status = resp.status();
            if status.is_success() {
                Ok(())
            } else {
                // The receiver's own words (Slack: `invalid_token`, `no_service`), short.
                let said = resp.text().await.unwrap_or_default();
                let said: String = said.trim().chars().take(200).collect();
                if status.is_client_error() && !matches!(status.as_u16(), 408 | 429) {
                    return Err(AlertError::Refused {
                        sink: self.id.clone(),
                        status: status.as_u16(),
                        said,
                    });
                }
                Err(self.err(if said.is_empty() {
                    format!("HTTP {status}")
                } else {
                    format!("HTTP {status}: {said}")
                }))
            }
        })
    }
}

/// A request error with its causes ("error sending request: connection refused"), never the
/// URL (it may carry a token).
fn cause(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut out = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        src = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_primitives::{BlockRef, Finding, Severity, B256};
    use palisade_store::AlertRow;

    fn note(action: &str) -> Notification {
        let f = Finding::new(
            "rule:x",
            "rule",
            "mainnet",
            BlockRef::new(7, B256::repeat_byte(7)),
            "s",
            Severity::High,
            "Owner changed".repeat(40),
        )
        .with_evidence(serde_json::json!({"amount": "1"}));
        Notification {
            action: action.into(),
            revision: 0,
            alert: AlertRow {
                finding: f,
                status: "open".into(),
                created_ms: 0,
                acked_by: None,
                ack_note: None,
                revision: 0,
                updated_ms: 0,
                silenced_until_ms: None,
                amounts: Vec::new(),
            },
        }
    }

    fn sink(format: WebhookFormat) -> Webhook {
        Webhook::new("s".into(), &SecretString::new("http://127.0.0.1:9/x"), None, 1000, format)
            .unwrap()
    }

    #[test]
    fn slack_and_discord_bodies_follow_their_formats() {
        let slack = sink(WebhookFormat::Slack).body(&note("alert"));
        assert!(slack["text"].as_str().unwrap().contains("HIGH"));
        let blocks = slack["blocks"].as_array().unwrap();
        assert_eq!(blocks[0]["type"], "header");
        // Slack rejects header text over 150 characters.
        assert!(blocks[0]["text"]["text"].as_str().unwrap().chars().count() <= 150);
        assert_eq!(blocks[1]["fields"].as_array().unwrap().len(), 4);
        let discord = sink(WebhookFormat::Discord).body(&note("resolve"));
        assert!(discord["content"].as_str().unwrap().contains("RESOLVED"));
        assert!(discord["content"].as_str().unwrap().chars().count() <= 2000);
        // Discord rejects embed titles over 256 characters.
        assert!(discord["embeds"][0]["title"].as_str().unwrap().chars().count() <= 256);
        assert_eq!(discord["embeds"][0]["color"], 0xe0_30_30);
        let own = sink(WebhookFormat::Palisade).body(&note("alert"));
        assert_eq!(own["action"], "alert");
        assert_eq!(own["created_at"], "1970-01-01T00:00:00.000Z", "the alert says when");
        assert_eq!(own["block_number"], 7);
        assert_eq!(own["evidence"]["amount"], "1");
    }

    #[test]
    fn a_reopened_alert_has_its_own_idempotency_key() {
        let mut n = note("alert");
        let key = n.alert.finding.key.to_string();
        assert_eq!(n.idempotency_key(), format!("{key}:alert"));
        n.revision = 1;
        assert_eq!(n.idempotency_key(), format!("{key}:alert:1"));
        assert_eq!(sink(WebhookFormat::Palisade).body(&n)["revision"], 1);
        n.action = "resolve".into();
        assert_eq!(sink(WebhookFormat::Palisade).body(&n)["status"], "reorged");
    }

    /// A refused connection says so (not only "error sending request"), and a receiver's
    /// answer is quoted; the URL (it may hold a token) is never in the error.
    #[tokio::test]
    async fn delivery_errors_keep_their_cause_and_never_the_url() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        let url = format!("http://127.0.0.1:{port}/hooks/T0KEN-SECRET");
        let s = Webhook::new("s".into(), &SecretString::new(url), None, 1000, WebhookFormat::Slack)
            .unwrap();
        let e = s.deliver(&note("alert")).await.unwrap_err().to_string();
        assert!(e.to_lowercase().contains("refused"), "{e}");
        assert!(!e.contains("T0KEN"), "{e}");
        // A receiver that answers 403 with Slack's words.
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let (mut c, _) = l.accept().await.unwrap();
            let mut buf = vec![0u8; 65536];
            let _ = c.read(&mut buf).await;
            let _ = c
                .write_all(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 13\r\nconnection: close\r\n\r\ninvalid_token")
                .await;
        });
        let s = Webhook::new(
            "s".into(),
            &SecretString::new(format!("http://{addr}/services/T0KEN")),
            None,
            2000,
            WebhookFormat::Slack,
        )
        .unwrap();
        let e = s.deliver(&note("alert")).await.unwrap_err().to_string();
        assert!(e.contains("403") && e.contains("invalid_token"), "{e}");
        assert!(!e.contains("T0KEN"), "{e}");
    }

    #[test]
    fn signature_is_hmac_sha256_of_timestamp_dot_body() {
        // Reference computed independently:
        // python3 -c "import hmac,hashlib;print(hmac.new(b'k',b'1.{}',hashlib.sha256).hexdigest())"
        assert_eq!(
            sign(b"k", "1", b"{}"),
            "sha256=3dd49b2593d0f9a349e9e71c4bde3e2b862c2be4003fe9b4ba81332029310158"
        );
    }
}
