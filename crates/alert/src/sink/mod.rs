//! Alert sinks: where alerts go. Each sink is config + healthcheck + deliver; delivery is driven
//! by the outbox, at least once, and idempotent on the alert key where the receiver allows.

mod command;
mod email;
mod webhook;

use crate::{AlertError, Result, SecretString};
use futures::future::BoxFuture;
use palisade_store::AlertRow;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

pub use command::Command;
pub use email::Email;
pub use webhook::{sign, Webhook, WebhookFormat};

/// What is delivered: a new alert (`alert`), its retraction by a reorg (`resolve`), or what an
/// operator did to it (`ack`, `close`). An alert that a reorg retracted and the chain then
/// brought back (A -> B -> A) is delivered again with the next `revision`.
#[derive(Debug, Clone)]
pub struct Notification {
    /// `alert`, `resolve` (reorged out), `ack` (acknowledged) or `close` (resolved by an operator).
    pub action: String,
    /// The alert's revision (0 until a reorg reopens it).
    pub revision: i64,
    /// The alert.
    pub alert: AlertRow,
}

impl Notification {
    /// A test notification, marked as such in its title, its detector (`palisade:test`) and its
    /// evidence (`"test": true`), for `palisade sinks test`: receivers can tell it from an
    /// alert, and its key is new each time (so a deduplicating receiver shows it).
    pub fn test() -> Self {
        let now = palisade_store::now_ms();
        let f = palisade_primitives::Finding::new(
            "palisade:test",
            "test",
            "test",
            palisade_primitives::BlockRef::synthetic(0),
            &format!("sinks-test:{now}"),
            palisade_primitives::Severity::Info,
            "TEST notification from `palisade sinks test`: no action needed",
        )
        .with_evidence(json!({"test": true}));
        Self {
            action: "alert".into(),
            revision: 0,
            alert: AlertRow {
                finding: f,
                status: "open".into(),
                created_ms: now,
                acked_by: None,
                ack_note: None,
                revision: 0,
                updated_ms: 0,
                silenced_until_ms: None,
                amounts: Vec::new(),
            },
        }
    }

    /// The idempotency key: alert key and action, and the revision when it is not the first
    /// (so a receiver that deduplicates still takes a reopened alert).
    pub fn idempotency_key(&self) -> String {
        if self.revision == 0 {
            format!("{}:{}", self.alert.finding.key, self.action)
        } else {
            format!("{}:{}:{}", self.alert.finding.key, self.action, self.revision)
        }
    }

    /// The JSON payload (the alert's fields with `created_at`, plus `action`, `status` and
    /// `revision`). The status is the one the action announces (`open` for an alert,
    /// `reorged` for a resolve), not whatever the alert became since it was queued.
    pub fn payload(&self) -> Value {
        let mut v = self.alert.to_json();
        v["amounts"] = json!(self.amounts());
        v["action"] = json!(self.action);
        v["status"] = json!(self.status());
        v["revision"] = json!(self.revision);
        v
    }

    /// The status this notification announces.
    pub fn status(&self) -> &str {
        match (self.action.as_str(), self.alert.status.as_str()) {
            ("resolve", _) => "reorged",
            ("ack", _) => "acked",
            ("close", _) => "resolved",
            (_, _) => "open",
        }
    }

    /// True when it ends the alert's incident at receivers that track incidents (a reorg
    /// retracted it, or an operator acknowledged or resolved it).
    pub fn ends_incident(&self) -> bool {
        self.action != "alert"
    }

    /// What it says in words: `RESOLVED (reorged out)`, `ACKNOWLEDGED by alice: note`, ...;
    /// the severity for a new alert.
    pub fn headline(&self) -> String {
        let who = || {
            let by = self.alert.acked_by.as_deref().unwrap_or("an operator");
            match &self.alert.ack_note {
                Some(n) => format!(" by {by}: {n}"),
                None => format!(" by {by}"),
            }
        };
        match self.action.as_str() {
            "resolve" => "RESOLVED (reorged out)".into(),
            "ack" => format!("ACKNOWLEDGED{}", who()),
            "close" => format!("RESOLVED{}", who()),
            _ => self.alert.finding.severity.as_str().to_uppercase(),
        }
    }

    /// The amounts in the alert's evidence in units people read: (path, raw, in units).
    pub fn amounts(&self) -> Vec<(String, String, String)> {
        self.alert.amounts.clone()
    }

    /// [`Notification::line`], then one line per amount in units beside the raw one
    /// (`lost: 10 WETH (raw 10000000000000000000)`): the text of chat and email messages.
    pub fn text(&self) -> String {
        let mut t = self.line();
        for (path, raw, human) in self.amounts() {
            t.push_str(&format!("\n{path}: {human} (raw {raw})"));
        }
        t
    }

    /// A one-line human-readable form.
    pub fn line(&self) -> String {
        let f = &self.alert.finding;
        let what = self.headline();
        let txs = if f.tx_hashes.is_empty() {
            String::new()
        } else {
            format!(
                " tx {}",
                f.tx_hashes.iter().map(|h| format!("{h:#x}")).collect::<Vec<_>>().join(",")
            )
        };
        format!(
            "[{}] {} {} block {}{}: {} (key {:.12})",
            what,
            f.chain,
            f.detector,
            f.anchor,
            txs,
            f.title,
            f.key.to_string()
        )
    }
}

/// A destination for alerts.
///
/// The outbox worker calls `deliver` for each due notification, in order, and retries failures
/// with backoff, across restarts. `deliver` must be idempotent on
/// [`Notification::idempotency_key`] where the receiver supports it.
pub trait AlertSink: Send + Sync + std::fmt::Debug {
    /// Sink id from the config.
    fn id(&self) -> &str;
    /// A startup probe of the same kind of connection `deliver` makes, without alerting anyone.
    fn healthcheck(&self) -> BoxFuture<'_, Result<()>>;
    /// Delivers one notification.
    fn deliver<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<()>>;
}

/// One `[[sinks]]` entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SinkConfig {
    /// Readable lines on standard output.
    Stdout(StdoutConfig),
    /// One JSON object a line, appended to a file.
    Jsonl(JsonlConfig),
    /// HTTP POST of the JSON payload, signed with HMAC-SHA256.
    Webhook(WebhookConfig),
    /// A Slack incoming webhook.
    Slack(ChatConfig),
    /// A Discord webhook.
    Discord(ChatConfig),
    /// A program run with the alert's JSON on standard input.
    Command(CommandConfig),
    /// PagerDuty Events API v2.
    #[serde(rename = "pagerduty")]
    PagerDuty(PagerDutyConfig),
    /// Opsgenie Alert API.
    Opsgenie(OpsgenieConfig),
    /// Telegram Bot API, one chat.
    Telegram(TelegramConfig),
    /// Email over SMTP with STARTTLS.
    Email(EmailConfig),
}

/// Config of the Opsgenie sink.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpsgenieConfig {
    /// Sink id (default `opsgenie`).
    #[serde(default)]
    pub name: Option<String>,
    /// The API integration's key (a secret). String or `{ env = "VAR" }`.
    pub api_key: SecretString,
    /// The API's base (default `https://api.opsgenie.com`; EU accounts:
    /// `https://api.eu.opsgenie.com`).
    #[serde(default = "opsgenie_url")]
    pub url: String,
    /// Request timeout in milliseconds (default 5000).
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
}

fn opsgenie_url() -> String {
    "https://api.opsgenie.com".into()
}

/// Config of the Telegram sink.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelegramConfig {
    /// Sink id (default `telegram`).
    #[serde(default)]
    pub name: Option<String>,
    /// The bot's token from @BotFather (a secret). String or `{ env = "VAR" }`.
    pub bot_token: SecretString,
    /// The chat to post to: its numeric id (`-1001234567890`) or `@channelname`.
    pub chat_id: String,
    /// The Bot API's base (default `https://api.telegram.org`).
    #[serde(default = "telegram_url")]
    pub url: String,
    /// Request timeout in milliseconds (default 5000).
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
}

fn telegram_url() -> String {
    "https://api.telegram.org".into()
}

/// Config of the email sink: SMTP submission with STARTTLS (the connection is upgraded to TLS
/// before anything is sent; a server that does not offer it is refused).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    /// Sink id (default `email`).
    #[serde(default)]
    pub name: Option<String>,
    /// SMTP server host name (checked against its certificate).
    pub host: String,
    /// SMTP submission port (default 587).
    #[serde(default = "smtp_port")]
    pub port: u16,
    /// Login user, if the server wants one.
    #[serde(default)]
    pub username: Option<String>,
    /// Login password (a secret). String or `{ env = "VAR" }`.
    #[serde(default)]
    pub password: Option<SecretString>,
    /// Sender address.
    pub from: String,
    /// Recipient addresses.
    pub to: Vec<String>,
    /// A PEM file of extra certificate authorities to trust (an internal relay's CA).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Timeout of the SMTP conversation in milliseconds (default 10000).
    #[serde(default = "smtp_timeout")]
    pub timeout_ms: u64,
}

fn smtp_port() -> u16 {
    587
}

fn smtp_timeout() -> u64 {
    10_000
}

/// Config of the PagerDuty sink.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagerDutyConfig {
    /// Sink id (default `pagerduty`).
    #[serde(default)]
    pub name: Option<String>,
    /// The Events API v2 integration's routing key (a secret). String or `{ env = "VAR" }`.
    pub routing_key: SecretString,
    /// The events endpoint (default `https://events.pagerduty.com/v2/enqueue`).
    #[serde(default = "pagerduty_url")]
    pub url: String,
    /// Request timeout in milliseconds (default 5000).
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
}

fn pagerduty_url() -> String {
    "https://events.pagerduty.com/v2/enqueue".into()
}

/// Config of the command sink.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandConfig {
    /// Sink id (default `command`).
    #[serde(default)]
    pub name: Option<String>,
    /// The program and its arguments, run directly (no shell): `["/usr/local/bin/page", "--team", "defi"]`.
    pub command: Vec<String>,
    /// How long it may run, in milliseconds (default 5000); it is killed after.
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
}

/// Config of the stdout sink.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StdoutConfig {
    /// Sink id (default `stdout`).
    #[serde(default)]
    pub name: Option<String>,
}

/// Config of the JSON-lines sink.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonlConfig {
    /// Sink id (default `jsonl`).
    #[serde(default)]
    pub name: Option<String>,
    /// File to append to (relative paths are relative to the data directory).
    pub path: PathBuf,
}

/// Config of the webhook sink.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Sink id (default `webhook`).
    #[serde(default)]
    pub name: Option<String>,
    /// Receiver URL (a secret: it may carry a token). String or `{ env = "VAR" }`.
    pub url: SecretString,
    /// HMAC-SHA256 key for the `X-Palisade-Signature` header (default: unsigned).
    #[serde(default)]
    pub secret: Option<SecretString>,
    /// Request timeout in milliseconds (default 5000).
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
}

/// Config of the Slack and Discord sinks.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatConfig {
    /// Sink id (default `slack` / `discord`).
    #[serde(default)]
    pub name: Option<String>,
    /// Incoming-webhook URL (a secret). String or `{ env = "VAR" }`.
    pub url: SecretString,
    /// Request timeout in milliseconds (default 5000).
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
}

fn default_timeout() -> u64 {
    5000
}

impl SinkConfig {
    /// The secrets this sink names whose environment variables are not set: (field, variable).
    pub fn unset_secrets(&self) -> Vec<(&'static str, &str)> {
        let mut out = Vec::new();
        match self {
            Self::Webhook(w) => {
                out.extend(w.url.unset_env().map(|v| ("url", v)));
                out.extend(
                    w.secret.as_ref().and_then(SecretString::unset_env).map(|v| ("secret", v)),
                );
            }
            Self::Slack(c) | Self::Discord(c) => out.extend(c.url.unset_env().map(|v| ("url", v))),
            Self::PagerDuty(p) => {
                out.extend(p.routing_key.unset_env().map(|v| ("routing_key", v)));
            }
            Self::Opsgenie(c) => out.extend(c.api_key.unset_env().map(|v| ("api_key", v))),
            Self::Telegram(c) => out.extend(c.bot_token.unset_env().map(|v| ("bot_token", v))),
            Self::Email(c) => out.extend(
                c.password.as_ref().and_then(SecretString::unset_env).map(|v| ("password", v)),
            ),
            Self::Stdout(_) | Self::Jsonl(_) | Self::Command(_) => {}
        }
        out
    }

    /// The sink id.
    pub fn id(&self) -> String {
        match self {
            Self::Stdout(c) => c.name.clone().unwrap_or_else(|| "stdout".into()),
            Self::Jsonl(c) => c.name.clone().unwrap_or_else(|| "jsonl".into()),
            Self::Webhook(c) => c.name.clone().unwrap_or_else(|| "webhook".into()),
            Self::Slack(c) => c.name.clone().unwrap_or_else(|| "slack".into()),
            Self::Discord(c) => c.name.clone().unwrap_or_else(|| "discord".into()),
            Self::Command(c) => c.name.clone().unwrap_or_else(|| "command".into()),
            Self::PagerDuty(c) => c.name.clone().unwrap_or_else(|| "pagerduty".into()),
            Self::Opsgenie(c) => c.name.clone().unwrap_or_else(|| "opsgenie".into()),
            Self::Telegram(c) => c.name.clone().unwrap_or_else(|| "telegram".into()),
            Self::Email(c) => c.name.clone().unwrap_or_else(|| "email".into()),
        }
    }
}

/// Builds the sinks; relative JSON-lines paths are resolved against `data_dir`.
pub fn build_sinks(
    cfgs: &[SinkConfig],
    data_dir: &std::path::Path,
) -> Result<Vec<Arc<dyn AlertSink>>> {
    let mut out: Vec<Arc<dyn AlertSink>> = Vec::new();
    let mut ids = std::collections::BTreeSet::new();
    for c in cfgs {
        let id = c.id();
        if !ids.insert(id.clone()) {
            return Err(AlertError::SinkConfig { sink: id, reason: "duplicate sink name".into() });
        }
        out.push(match c {
            SinkConfig::Stdout(_) => Arc::new(Stdout { id }),
            SinkConfig::Jsonl(j) => {
                let path =
                    if j.path.is_absolute() { j.path.clone() } else { data_dir.join(&j.path) };
                Arc::new(Jsonl { id, path, lock: Mutex::new(()) })
            }
            SinkConfig::Webhook(w) => Arc::new(Webhook::new(
                id,
                &w.url,
                w.secret.clone(),
                w.timeout_ms,
                WebhookFormat::Palisade,
            )?),
            SinkConfig::Slack(s) => {
                Arc::new(Webhook::new(id, &s.url, None, s.timeout_ms, WebhookFormat::Slack)?)
            }
            SinkConfig::Command(c) => Arc::new(Command::new(id, c.command.clone(), c.timeout_ms)?),
            SinkConfig::PagerDuty(c) => Arc::new(Webhook::pagerduty(
                id,
                &SecretString::new(c.url.clone()),
                c.routing_key.clone(),
                c.timeout_ms,
            )?),
            SinkConfig::Discord(s) => {
                Arc::new(Webhook::new(id, &s.url, None, s.timeout_ms, WebhookFormat::Discord)?)
            }
            SinkConfig::Opsgenie(c) => Arc::new(Webhook::opsgenie(
                id,
                &SecretString::new(c.url.clone()),
                c.api_key.clone(),
                c.timeout_ms,
            )?),
            SinkConfig::Telegram(c) => Arc::new(Webhook::telegram(
                id,
                &SecretString::new(c.url.clone()),
                c.bot_token.clone(),
                c.chat_id.clone(),
                c.timeout_ms,
            )?),
            SinkConfig::Email(c) => Arc::new(Email::new(id, c, data_dir)?),
        });
    }
    Ok(out)
}

/// Readable lines on standard output.
#[derive(Debug)]
pub struct Stdout {
    id: String,
}

impl AlertSink for Stdout {
    fn id(&self) -> &str {
        &self.id
    }
    fn healthcheck(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async { Ok(()) })
    }
    fn deliver<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let mut out = std::io::stdout().lock();
            writeln!(out, "{}", n.line())
                .map_err(|e| AlertError::Sink { sink: self.id.clone(), reason: e.to_string() })
        })
    }
}

/// JSON lines appended to a file.
#[derive(Debug)]
pub struct Jsonl {
    id: String,
    path: PathBuf,
    lock: Mutex<()>,
}

impl Jsonl {
    fn append(&self, line: &str) -> std::io::Result<()> {
        let _g = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&self.path)?;
        f.write_all(line.as_bytes())?;
        f.write_all(b"\n")?;
        f.flush()
    }
}

impl AlertSink for Jsonl {
    fn id(&self) -> &str {
        &self.id
    }
    fn healthcheck(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let _g = self.lock.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(dir) = self.path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| AlertError::Sink {
                    sink: self.id.clone(),
                    reason: e.to_string(),
                })?;
            }
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)
                .map(|_| ())
                .map_err(|e| AlertError::Sink {
                    sink: self.id.clone(),
                    reason: format!("{}: {e}", self.path.display()),
                })
        })
    }
    fn deliver<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.append(&n.payload().to_string()).map_err(|e| AlertError::Sink {
                sink: self.id.clone(),
                reason: format!("{}: {e}", self.path.display()),
            })
        })
    }
}
