//! Automated responses, behind explicit policy and dry-run by default.
//!
//! A responder is a [`Policy`] (which detectors, minimum severity, pending or confirmed
//! findings, rate limit) in front of an action:
//! - `pause_tx` signs and sends a configured transaction (`pause()` on the guarded contract) from
//!   an encrypted keystore, priced above the transaction that triggered it, with nonce management
//!   and replacement ([`pause`]);
//! - `quarantine_node` benches the endpoint a finding names ([`NodeControl`]);
//! - `webhook_action` posts the finding to an automation endpoint (a Defender action, an
//!   incident bot).
//!
//! Every decision is a [`ResponseRecord`]: planned, dry run, sent, mined, reverted, failed or
//! refused by the rate limit, stored by the runtime with its outcome. Records and logs carry
//! addresses, hashes and fees, never keys, passwords or webhook URLs.

pub mod keys;
pub mod pause;
pub mod policy;

pub use keys::{Key, KeyConfig};
pub use pause::{PauseTxConfig, Pricing};
pub use policy::{
    is_pending, ActionLedger, MemoryLedger, Policy, RateLimit, Refusal, Reservation, When,
};

use alloy_primitives::{Bytes, B256};
use palisade_alert::SecretString;
use palisade_primitives::Finding;
use palisade_source::evm_rpc::RpcClient;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Errors of responders.
#[derive(Debug, thiserror::Error)]
pub enum RespondError {
    /// A responder's configuration is wrong.
    #[error("responder {responder}: {field}: {reason}")]
    Config {
        /// Responder name.
        responder: String,
        /// The field.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// The key cannot be loaded (never says what the key or password is).
    #[error("responder {responder}: key: {reason}")]
    Key {
        /// Responder name.
        responder: String,
        /// What is wrong.
        reason: String,
    },
    /// Signing failed.
    #[error("signing: {0}")]
    Sign(String),
    /// The node refused or failed.
    #[error("rpc: {0}")]
    Rpc(String),
    /// The transaction was not mined in time.
    #[error("transaction {tx_hash} not mined in time")]
    NotMined {
        /// Its last version.
        tx_hash: B256,
    },
    /// The webhook failed.
    #[error("webhook: {0}")]
    Webhook(String),
    /// The node could not quarantine the endpoint.
    #[error("quarantine: {0}")]
    Quarantine(String),
}

/// The action types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// Sign and send a transaction.
    PauseTx,
    /// Bench an RPC endpoint.
    QuarantineNode,
    /// Post to an automation endpoint.
    WebhookAction,
    /// Publish a chain's settlement-risk index to a feed contract.
    PublishRisk,
}

impl ActionKind {
    /// As written in configs.
    pub fn name(self) -> &'static str {
        match self {
            Self::PauseTx => "pause_tx",
            Self::QuarantineNode => "quarantine_node",
            Self::WebhookAction => "webhook_action",
            Self::PublishRisk => "publish_risk",
        }
    }
}

/// The webhook of a `webhook_action` responder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// URL (a secret: it often carries a token): a string or `{ env = "VAR" }`.
    pub url: SecretString,
}

fn yes() -> bool {
    true
}

/// What a `publish_risk` responder sends: `function(int256)` on `to` with the index x 10^6
/// (the `decimals` 6 of `/risk/{chain}/latest_round_data`), when the index moved by
/// `deviation` points since the last publication or `heartbeat_secs` passed (Chainlink's
/// rule for its own feeds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishConfig {
    /// The feed contract.
    pub to: alloy_primitives::Address,
    /// Its update function, with one `int256` argument (default `update(int256)`).
    #[serde(default = "update_fn")]
    pub function: String,
    /// The chain whose index is published (default: the responder's `chain`).
    #[serde(default)]
    pub index_of: Option<String>,
    /// Index points of change that publish (default 5).
    #[serde(default = "five")]
    pub deviation: f64,
    /// Seconds of block time after which the index is published even unchanged (default 3600).
    #[serde(default = "hour_secs")]
    pub heartbeat_secs: u64,
    /// Gas limit (default 200000).
    #[serde(default = "gas_limit")]
    pub gas_limit: u64,
}

fn update_fn() -> String {
    "update(int256)".into()
}
fn five() -> f64 {
    5.0
}
fn hour_secs() -> u64 {
    3600
}
fn gas_limit() -> u64 {
    200_000
}

impl PublishConfig {
    /// The calldata publishing `index` (0 to 100).
    pub fn calldata(&self, index: f64) -> Result<Bytes, String> {
        let f = self.function.trim().replace(' ', "");
        let open = f.find('(').ok_or("give the function as name(int256)")?;
        if &f[open..] != "(int256)" || open == 0 {
            return Err(format!("{f:?}: the update function takes one int256 (the index x 10^6)"));
        }
        let mut data = alloy_primitives::keccak256(f.as_bytes())[..4].to_vec();
        let answer = alloy_primitives::I256::try_from((index * 1e6).round() as i64)
            .map_err(|e| e.to_string())?;
        data.extend_from_slice(&answer.to_be_bytes::<32>());
        Ok(data.into())
    }
}

/// One `[[responders]]` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponderConfig {
    /// Name, unique.
    pub name: String,
    /// The action.
    #[serde(rename = "type")]
    pub kind: ActionKind,
    /// The chain it acts on (findings of other chains are ignored; required for `pause_tx`).
    #[serde(default)]
    pub chain: Option<String>,
    /// Plan and record, but do not act (default true).
    #[serde(default = "yes")]
    pub dry_run: bool,
    /// When it acts (`publish_risk`: only its rate limit counts; optional there).
    #[serde(default)]
    pub policy: Policy,
    /// `pause_tx`: the transaction.
    #[serde(default)]
    pub tx: Option<PauseTxConfig>,
    /// `pause_tx`: the key.
    #[serde(default)]
    pub key: Option<KeyConfig>,
    /// `webhook_action`: the endpoint.
    #[serde(default)]
    pub webhook: Option<WebhookConfig>,
    /// `publish_risk`: the feed and when to publish.
    #[serde(default)]
    pub publish: Option<PublishConfig>,
}

impl ResponderConfig {
    /// The environment variables it needs that are not set: (field, variable). Only whether
    /// they are set is looked at, never their values.
    pub fn unset_env(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if let Some(w) = &self.webhook {
            out.extend(w.url.unset_env().map(|v| ("webhook.url", v.to_string())));
        }
        if let Some(k) = &self.key {
            for (field, var) in [
                ("key.password_env", k.password_env.as_ref().filter(|_| k.keystore.is_some())),
                ("key.private_key_env", k.private_key_env.as_ref()),
            ] {
                if let Some(var) = var {
                    if std::env::var_os(var).is_none() {
                        out.push((field, var.clone()));
                    }
                }
            }
        }
        out
    }

    /// Checks the config without reading secrets.
    pub fn check(&self) -> Result<(), RespondError> {
        let err = |field: &str, reason: String| RespondError::Config {
            responder: self.name.clone(),
            field: field.into(),
            reason,
        };
        if self.name.trim().is_empty() {
            return Err(err("name", "must not be empty".into()));
        }
        if self.policy.detectors.is_empty() && self.kind != ActionKind::PublishRisk {
            return Err(err("policy.detectors", "name the detectors it acts on".into()));
        }
        if self.policy.max_actions == 0 || self.policy.per_seconds == 0 {
            return Err(err(
                "policy.max_actions",
                "the rate limit must allow at least one action per second or more".into(),
            ));
        }
        let extra = |field: &str, present: bool| -> Result<(), RespondError> {
            if present {
                Err(err(field, format!("not used by {}", self.kind.name())))
            } else {
                Ok(())
            }
        };
        match self.kind {
            ActionKind::PauseTx => {
                let tx = self.tx.as_ref().ok_or_else(|| {
                    err("tx", "pause_tx needs [responders.tx] with to and call".into())
                })?;
                tx.calldata().map_err(|e| err("tx.call", e))?;
                if self.chain.is_none() {
                    return Err(err("chain", "pause_tx needs the chain it sends on".into()));
                }
                self.key
                    .as_ref()
                    .ok_or_else(|| {
                        err("key", "pause_tx needs [responders.key] with a keystore".into())
                    })?
                    .check(&self.name)?;
                extra("webhook", self.webhook.is_some())
            }
            ActionKind::WebhookAction => {
                if self.webhook.is_none() {
                    return Err(err(
                        "webhook",
                        "webhook_action needs [responders.webhook] with url".into(),
                    ));
                }
                extra("tx", self.tx.is_some())?;
                extra("key", self.key.is_some())
            }
            ActionKind::QuarantineNode => {
                extra("tx", self.tx.is_some())?;
                extra("key", self.key.is_some())?;
                extra("webhook", self.webhook.is_some())?;
                extra("publish", self.publish.is_some())
            }
            ActionKind::PublishRisk => {
                let p = self.publish.as_ref().ok_or_else(|| {
                    err("publish", "publish_risk needs [responders.publish] with to".into())
                })?;
                p.calldata(0.0).map_err(|e| err("publish.function", e))?;
                if !(p.deviation.is_finite() && p.deviation >= 0.0) || p.heartbeat_secs == 0 {
                    return Err(err("publish", "deviation >= 0 and heartbeat_secs >= 1".into()));
                }
                if self.chain.is_none() {
                    return Err(err("chain", "publish_risk needs the chain it sends on".into()));
                }
                self.key
                    .as_ref()
                    .ok_or_else(|| {
                        err("key", "publish_risk needs [responders.key] with a keystore".into())
                    })?
                    .check(&self.name)?;
                extra("tx", self.tx.is_some())?;
                extra("webhook", self.webhook.is_some())
            }
        }
    }
}

/// What the node lets responders do to its sources.
pub trait NodeControl: Send + Sync + std::fmt::Debug {
    /// Benches `endpoint` (as a finding names it) of `chain`, as an offence under the chain's
    /// health policy (penalty, strikes, probation).
    fn quarantine(&self, chain: &str, endpoint: &str, reason: &str) -> Result<(), String>;
}

/// One decision of a responder, stored with its outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResponseRecord {
    /// `<responder>/<alert key>`: one response per responder and finding.
    pub id: String,
    /// Responder name.
    pub responder: String,
    /// Action type.
    pub kind: &'static str,
    /// Chain.
    pub chain: String,
    /// The finding that triggered it.
    pub alert_key: String,
    /// `pending` or `confirmed`.
    pub stage: &'static str,
    /// True when it only planned.
    pub dry_run: bool,
    /// `dry_run`, `sent`, `mined`, `reverted`, `failed`, `rate_limited`.
    pub outcome: String,
    /// What it did or would do: transaction hash, nonce, fees, endpoint; never secrets.
    pub detail: Value,
    /// Why it failed.
    pub error: Option<String>,
    /// Milliseconds since the Unix epoch.
    pub at_ms: i64,
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// A chain's RPC as responders use it.
#[derive(Debug, Clone)]
pub struct ChainLink {
    /// The client.
    pub rpc: Arc<RpcClient>,
    /// Its chain id.
    pub chain_id: u64,
}

#[derive(Debug)]
enum Action {
    Pause { tx: Box<PauseTxConfig>, key: Key, link: ChainLink },
    Publish { cfg: Box<PublishConfig>, key: Key, link: ChainLink },
    Quarantine { control: Option<Arc<dyn NodeControl>> },
    Webhook { url: SecretString, http: reqwest::Client },
}

#[derive(Debug)]
struct Responder {
    cfg: ResponderConfig,
    rate: RateLimit,
    action: Action,
    acted: VecDeque<String>,
    /// `publish_risk`: the last index published (or planned, dry) and its block time.
    published: Option<(f64, u64)>,
}

/// Work a responder decided to do; run it with [`Job::run`] (off the detection path).
#[derive(Debug)]
pub struct Job {
    record: ResponseRecord,
    work: Work,
}

#[derive(Debug)]
enum Work {
    None,
    Pause { tx: Box<PauseTxConfig>, key: Key, link: ChainLink, pricing: Pricing },
    Quarantine { control: Arc<dyn NodeControl>, endpoint: String, reason: String },
    Webhook { url: SecretString, http: reqwest::Client, body: Value },
}

fn missing(c: &ResponderConfig, field: &str) -> RespondError {
    RespondError::Config {
        responder: c.name.clone(),
        field: field.into(),
        reason: "missing".into(),
    }
}

/// The chain link and the loaded key of a responder that sends transactions.
fn signer(
    c: &ResponderConfig,
    links: &HashMap<String, ChainLink>,
) -> Result<(ChainLink, Key), RespondError> {
    let chain = c.chain.clone().unwrap_or_default();
    let link = links.get(&chain).cloned().ok_or_else(|| RespondError::Config {
        responder: c.name.clone(),
        field: "chain".into(),
        reason: format!("no EVM chain named {chain:?}"),
    })?;
    let key =
        c.key.as_ref().map(|k| k.load(&c.name)).transpose()?.ok_or_else(|| missing(c, "key"))?;
    Ok((link, key))
}

/// Counts an action of `r` on `id` against its rate limit in `ledger` (its own window when
/// the ledger cannot answer): `None` for an action already decided, else whether it may act.
async fn reserve(
    cfg: &ResponderConfig,
    rate: &mut RateLimit,
    id: &str,
    ledger: &dyn ActionLedger,
) -> Option<bool> {
    let window = Duration::from_secs(cfg.policy.per_seconds);
    match ledger.reserve(&cfg.name, id, cfg.policy.max_actions, window).await {
        Ok(Reservation::Duplicate) => None,
        Ok(Reservation::RateLimited) => Some(false),
        // This process's own window stays in step with the ledger's.
        Ok(Reservation::Granted) => {
            rate.take(Instant::now());
            Some(true)
        }
        Err(e) => {
            tracing::warn!(target: "palisade::respond", responder = %cfg.name, error = %e, "The action ledger cannot be read; this process's own rate window decides.");
            Some(rate.take(Instant::now()))
        }
    }
}

/// Every responder of a configuration.
#[derive(Debug, Default)]
pub struct Responders {
    list: Vec<Responder>,
}

impl Responders {
    /// Builds the responders: checks each config and loads keys (a wrong password fails here,
    /// at start, not during an attack). `links` gives each chain's RPC.
    pub fn build(
        cfgs: &[ResponderConfig],
        links: &HashMap<String, ChainLink>,
        control: Option<Arc<dyn NodeControl>>,
    ) -> Result<Self, RespondError> {
        let mut list = Vec::new();
        for c in cfgs {
            c.check()?;
            let action = match c.kind {
                ActionKind::PauseTx => {
                    let (link, key) = signer(c, links)?;
                    let tx = c.tx.clone().ok_or_else(|| missing(c, "tx"))?;
                    Action::Pause { tx: Box::new(tx), key, link }
                }
                ActionKind::PublishRisk => {
                    let (link, key) = signer(c, links)?;
                    let cfg = c.publish.clone().ok_or_else(|| missing(c, "publish"))?;
                    Action::Publish { cfg: Box::new(cfg), key, link }
                }
                ActionKind::QuarantineNode => Action::Quarantine { control: control.clone() },
                ActionKind::WebhookAction => Action::Webhook {
                    url: c
                        .webhook
                        .as_ref()
                        .map(|w| w.url.clone())
                        .unwrap_or_else(|| SecretString::new("")),
                    http: reqwest::Client::builder()
                        .timeout(Duration::from_secs(10))
                        .build()
                        .map_err(|e| RespondError::Webhook(e.to_string()))?,
                },
            };
            tracing::info!(
                responder = %c.name,
                kind = c.kind.name(),
                dry_run = c.dry_run,
                signer = ?match &action { Action::Pause { key, .. } | Action::Publish { key, .. } => Some(key.address()), _ => None },
                "responder ready"
            );
            list.push(Responder {
                rate: RateLimit::new(
                    c.policy.max_actions,
                    Duration::from_secs(c.policy.per_seconds),
                ),
                cfg: c.clone(),
                action,
                acted: VecDeque::new(),
                published: None,
            });
        }
        Ok(Self { list })
    }

    /// True when there is no responder.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The chains pending findings must reach responders on (those with a pending-stage
    /// responder, or every chain when a responder has no chain).
    pub fn wants_pending(&self, chain: &str) -> bool {
        self.list.iter().any(|r| {
            r.cfg.policy.stage != When::Confirmed
                && r.cfg.chain.as_deref().is_none_or(|c| c == chain)
        })
    }

    /// Passes findings through every responder's gate; returns the work to run. `base_fee` is
    /// the next block's expected base fee on `chain` (for pricing a pause). Each action is
    /// counted in `ledger` against its responder's rate limit (a finding the ledger already
    /// knows is skipped); when the ledger cannot answer, this process's own window decides.
    pub async fn consider(
        &mut self,
        chain: &str,
        findings: &[Finding],
        base_fee: u128,
        ledger: &dyn ActionLedger,
    ) -> Vec<Job> {
        let mut jobs = Vec::new();
        for r in &mut self.list {
            if r.cfg.chain.as_deref().is_some_and(|c| c != chain)
                || r.cfg.kind == ActionKind::PublishRisk
            {
                continue;
            }
            let own = match &r.action {
                Action::Pause { key, .. } => Some(key.address()),
                _ => None,
            };
            for f in findings {
                if r.cfg.policy.matches(f).is_err() {
                    continue;
                }
                // A responder's own pending transaction (its pause) never triggers it.
                let sender = f.facts.pending.map(|p| p.sender);
                if own.is_some() && own == sender {
                    continue;
                }
                let id = format!("{}/{}", r.cfg.name, f.key);
                if r.acted.contains(&id) {
                    continue;
                }
                r.acted.push_back(id.clone());
                if r.acted.len() > 4096 {
                    r.acted.pop_front();
                }
                let mut record = ResponseRecord {
                    id,
                    responder: r.cfg.name.clone(),
                    kind: r.cfg.kind.name(),
                    chain: chain.into(),
                    alert_key: f.key.to_string(),
                    stage: f.stage().as_str(),
                    dry_run: r.cfg.dry_run,
                    outcome: String::new(),
                    detail: json!({"finding": f.title, "detector": f.detector, "severity": f.severity}),
                    error: None,
                    at_ms: now_ms(),
                };
                let Some(allowed) = reserve(&r.cfg, &mut r.rate, &record.id, ledger).await else {
                    tracing::info!(target: "palisade::respond", id = %record.id, "Already decided about this finding before; not again.");
                    continue;
                };
                if !allowed {
                    record.outcome = "rate_limited".into();
                    jobs.push(Job { record, work: Work::None });
                    continue;
                }
                let work = match &r.action {
                    Action::Pause { tx, key, link } => {
                        let trig = trigger(f, base_fee);
                        let tip = trig.tip;
                        let pricing = pause::price(tx, trig, base_fee);
                        record.detail["to"] = json!(tx.to);
                        record.detail["call"] = json!(tx.call);
                        record.detail["from"] = json!(key.address());
                        record.detail["trigger_tip"] = json!(tip.map(|t| t.to_string()));
                        record.detail["priority_fee"] = json!(pricing.priority_fee.to_string());
                        record.detail["max_fee"] = json!(pricing.max_fee.to_string());
                        record.detail["outbid"] = json!(!pricing.capped);
                        Work::Pause {
                            tx: tx.clone(),
                            key: key.clone(),
                            link: link.clone(),
                            pricing,
                        }
                    }
                    Action::Quarantine { control } => {
                        let endpoint = f.facts.endpoint.as_deref();
                        record.detail["endpoint"] = json!(endpoint);
                        match (endpoint, control) {
                            (Some(e), Some(c)) => Work::Quarantine {
                                control: c.clone(),
                                endpoint: e.to_string(),
                                reason: format!("responder {}: {}", r.cfg.name, f.title),
                            },
                            (None, _) => {
                                record.outcome = "failed".into();
                                record.error = Some("the finding names no endpoint".into());
                                Work::None
                            }
                            (_, None) => {
                                record.outcome = "failed".into();
                                record.error =
                                    Some("this runtime cannot quarantine endpoints".into());
                                Work::None
                            }
                        }
                    }
                    Action::Publish { .. } => Work::None,
                    Action::Webhook { url, http } => Work::Webhook {
                        url: url.clone(),
                        http: http.clone(),
                        body: json!({"responder": r.cfg.name, "finding": f.to_json()}),
                    },
                };
                if r.cfg.dry_run && record.outcome.is_empty() {
                    record.outcome = "dry_run".into();
                    jobs.push(Job { record, work: Work::None });
                    continue;
                }
                jobs.push(Job { record, work });
            }
        }
        jobs
    }
}

impl Responders {
    /// Offers the settlement-risk index of `chain` at `block` (block time `timestamp`) to the
    /// `publish_risk` responders: each publishes it when it moved by its `deviation` since
    /// its last publication, or its `heartbeat_secs` passed, within its policy's rate limit
    /// (counted in `ledger`); dry-run ones record what they would send.
    pub async fn publish(
        &mut self,
        chain: &str,
        index: f64,
        block: palisade_primitives::BlockRef,
        timestamp: u64,
        base_fee: u128,
        ledger: &dyn ActionLedger,
    ) -> Vec<Job> {
        let mut jobs = Vec::new();
        for r in &mut self.list {
            let Action::Publish { cfg, key, link } = &r.action else { continue };
            if cfg.index_of.as_deref().or(r.cfg.chain.as_deref()) != Some(chain) {
                continue;
            }
            let due = match r.published {
                None => true,
                Some((last, at)) => {
                    (index - last).abs() >= cfg.deviation
                        || timestamp.saturating_sub(at) >= cfg.heartbeat_secs
                }
            };
            if !due {
                continue;
            }
            let id = format!("{}/risk:{chain}:{}:{:#x}", r.cfg.name, block.number, block.hash);
            let calldata = match cfg.calldata(index) {
                Ok(d) => d,
                Err(e) => {
                    tracing::error!(target: "palisade::respond", responder = %r.cfg.name, error = %e, "Cannot build the publication.");
                    continue;
                }
            };
            let mut record = ResponseRecord {
                id: id.clone(),
                responder: r.cfg.name.clone(),
                kind: r.cfg.kind.name(),
                chain: r.cfg.chain.clone().unwrap_or_default(),
                alert_key: format!("risk:{chain}:{}", block.number),
                stage: "confirmed",
                dry_run: r.cfg.dry_run,
                outcome: String::new(),
                detail: json!({
                    "index_of": chain, "index": index, "answer": (index * 1e6).round() as i64,
                    "block": block.number, "block_hash": format!("{:#x}", block.hash),
                    "timestamp": timestamp, "to": cfg.to, "function": cfg.function,
                    "from": key.address(), "last_published": r.published.map(|p| p.0),
                }),
                error: None,
                at_ms: now_ms(),
            };
            let Some(allowed) = reserve(&r.cfg, &mut r.rate, &id, ledger).await else {
                continue;
            };
            if !allowed {
                record.outcome = "rate_limited".into();
                jobs.push(Job { record, work: Work::None });
                continue;
            }
            r.published = Some((index, timestamp));
            if r.cfg.dry_run {
                record.outcome = "dry_run".into();
                jobs.push(Job { record, work: Work::None });
                continue;
            }
            let tx = PauseTxConfig {
                to: cfg.to,
                call: format!("0x{}", alloy_primitives::hex::encode(&calldata)),
                gas_limit: cfg.gas_limit,
                ..PauseTxConfig::defaults(cfg.to)
            };
            let pricing = pause::price(&tx, pause::Trigger { tip: None, max_fee: None }, base_fee);
            record.detail["priority_fee"] = json!(pricing.priority_fee.to_string());
            record.detail["max_fee"] = json!(pricing.max_fee.to_string());
            jobs.push(Job {
                record,
                work: Work::Pause {
                    tx: Box::new(tx),
                    key: key.clone(),
                    link: link.clone(),
                    pricing,
                },
            });
        }
        jobs
    }
}

/// The fees of the pending transaction behind a finding: its effective tip at `base_fee`, and
/// its cap.
fn trigger(f: &Finding, base_fee: u128) -> pause::Trigger {
    match f.facts.pending {
        Some(p) => pause::Trigger {
            tip: Some(p.max_fee.saturating_sub(base_fee).min(p.priority_fee)),
            max_fee: Some(p.max_fee),
        },
        None => pause::Trigger { tip: None, max_fee: None },
    }
}

impl Job {
    /// The record as decided (before running).
    pub fn record(&self) -> &ResponseRecord {
        &self.record
    }

    /// Runs the work, calling `report` with the record after each step (sent, then mined or
    /// failed), so the runtime stores every outcome.
    pub async fn run<F: FnMut(&ResponseRecord)>(self, mut report: F) -> ResponseRecord {
        let mut rec = self.record;
        match self.work {
            Work::None => {}
            Work::Pause { tx, key, link, pricing } => {
                let sender =
                    pause::Sender { rpc: &link.rpc, key: &key, cfg: &tx, chain_id: link.chain_id };
                let started = Instant::now();
                let signed = async {
                    let nonce = sender.nonce().await?;
                    let s = pause::sign(&key, &tx, link.chain_id, nonce, &pricing)?;
                    sender.send(&s).await?;
                    Ok::<_, RespondError>((nonce, s))
                }
                .await;
                match signed {
                    Err(e) => {
                        rec.outcome = "failed".into();
                        rec.error = Some(e.to_string());
                    }
                    Ok((nonce, s)) => {
                        rec.outcome = "sent".into();
                        rec.detail["tx_hash"] = json!(s.hash);
                        rec.detail["nonce"] = json!(nonce);
                        rec.detail["sent_ms"] = json!(started.elapsed().as_millis() as u64);
                        rec.detail["sent_at_ms"] = json!(now_ms());
                        rec.at_ms = now_ms();
                        report(&rec);
                        match sender
                            .watch(s, nonce, pricing, started, Duration::from_secs(60))
                            .await
                        {
                            Ok(l) => {
                                rec.outcome = if l.success { "mined" } else { "reverted" }.into();
                                rec.detail["tx_hash"] = json!(l.tx_hash);
                                rec.detail["block_number"] = json!(l.block_number);
                                rec.detail["replacements"] = json!(l.replacements);
                                rec.detail["ms_to_receipt"] = json!(l.ms_to_receipt);
                            }
                            Err(e) => {
                                rec.outcome = "failed".into();
                                rec.error = Some(e.to_string());
                            }
                        }
                    }
                }
            }
            Work::Quarantine { control, endpoint, reason } => {
                match control.quarantine(&rec.chain, &endpoint, &reason) {
                    Ok(()) => rec.outcome = "done".into(),
                    Err(e) => {
                        rec.outcome = "failed".into();
                        rec.error = Some(RespondError::Quarantine(e).to_string());
                    }
                }
            }
            Work::Webhook { url, http, body } => {
                match http.post(url.expose()).json(&body).send().await {
                    Ok(r) if r.status().is_success() => {
                        rec.outcome = "done".into();
                        rec.detail["status"] = json!(r.status().as_u16());
                    }
                    Ok(r) => {
                        rec.outcome = "failed".into();
                        rec.error = Some(format!("webhook answered HTTP {}", r.status().as_u16()));
                    }
                    // reqwest's error can print the URL: keep only its kind.
                    Err(e) => {
                        rec.outcome = "failed".into();
                        let kind = if e.is_timeout() {
                            "timed out"
                        } else if e.is_connect() {
                            "cannot connect"
                        } else {
                            "request failed"
                        };
                        rec.error = Some(RespondError::Webhook(kind.into()).to_string());
                    }
                }
            }
        }
        rec.at_ms = now_ms();
        report(&rec);
        rec
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_primitives::{BlockRef, Severity};

    fn cfg(toml_like: Value) -> ResponderConfig {
        serde_json::from_value(toml_like).unwrap()
    }

    #[test]
    fn configs_are_checked_per_type() {
        let base = json!({"name": "p", "type": "pause_tx", "chain": "eth",
            "policy": {"detectors": ["simulation:vault"]},
            "tx": {"to": "0x00000000000000000000000000000000000000aa", "call": "pause()"},
            "key": {"keystore": "/k.json", "password_env": "PW"}});
        let c = cfg(base.clone());
        assert!(c.dry_run, "dry run by default");
        c.check().unwrap();
        let field = |mutate: &dyn Fn(&mut Value)| {
            let mut v = base.clone();
            mutate(&mut v);
            match cfg(v).check() {
                Err(RespondError::Config { field, .. }) => field,
                other => panic!("accepted: {other:?}"),
            }
        };
        assert_eq!(field(&|v| v["key"] = json!({"keystore": "/k.json"})), "key.password_env");
        assert_eq!(field(&|v| v["key"] = json!({"private_key_env": "K"})), "key.private_key_env");
        assert_eq!(
            field(&|v| v.as_object_mut().unwrap().remove("chain").map(|_| ()).unwrap_or(())),
            "chain"
        );
        assert_eq!(field(&|v| v["policy"]["detectors"] = json!([])), "policy.detectors");
        assert_eq!(field(&|v| v["webhook"] = json!({"url": "http://x"})), "webhook");
        assert_eq!(field(&|v| v["tx"]["call"] = json!("pause(uint256)")), "tx.call");
        // A plaintext key on a local test chain is accepted.
        let mut v = base;
        v["key"] = json!({"private_key_env": "K", "local_test_chain": true});
        cfg(v).check().unwrap();
    }

    #[test]
    fn a_publish_risk_responder_sends_the_index_times_a_million_to_an_int256_function() {
        let base = json!({"name": "feed", "type": "publish_risk", "chain": "eth",
            "publish": {"to": "0x00000000000000000000000000000000000000aa"},
            "key": {"keystore": "/k.json", "password_env": "PW"}});
        let c = cfg(base.clone());
        assert!(c.dry_run, "dry run by default");
        c.check().expect("no policy detectors needed");
        let p = c.publish.as_ref().unwrap();
        assert_eq!(
            (p.function.as_str(), p.deviation, p.heartbeat_secs),
            ("update(int256)", 5.0, 3600)
        );
        let data = p.calldata(42.5).unwrap();
        assert_eq!(&data[..4], &alloy_primitives::keccak256(b"update(int256)")[..4]);
        assert_eq!(
            alloy_primitives::U256::from_be_slice(&data[4..]),
            alloy_primitives::U256::from(42_500_000u64)
        );
        let field = |mutate: &dyn Fn(&mut Value)| {
            let mut v = base.clone();
            mutate(&mut v);
            match cfg(v).check() {
                Err(RespondError::Config { field, .. }) => field,
                other => panic!("accepted: {other:?}"),
            }
        };
        assert_eq!(
            field(&|v| v["publish"]["function"] = json!("update(uint256)")),
            "publish.function"
        );
        assert_eq!(field(&|v| v["publish"]["heartbeat_secs"] = json!(0)), "publish");
        assert_eq!(
            field(&|v| v.as_object_mut().unwrap().remove("publish").map(|_| ()).unwrap_or(())),
            "publish"
        );
        assert_eq!(
            field(&|v| v["tx"] =
                json!({"to": "0x00000000000000000000000000000000000000aa", "call": "pause()"})),
            "tx"
        );
        // A pause_tx still needs its detectors.
        let pause = json!({"name": "p", "type": "pause_tx", "chain": "eth",
            "tx": {"to": "0x00000000000000000000000000000000000000aa", "call": "pause()"},
            "key": {"keystore": "/k.json", "password_env": "PW"}});
        assert!(
            matches!(cfg(pause).check(), Err(RespondError::Config { field, .. }) if field == "policy.detectors")
        );
    }

    #[derive(Debug, Default)]
    struct Benches(std::sync::Mutex<Vec<(String, String)>>);

    impl NodeControl for Benches {
        fn quarantine(&self, chain: &str, endpoint: &str, _reason: &str) -> Result<(), String> {
            self.0.lock().unwrap().push((chain.into(), endpoint.into()));
            Ok(())
        }
    }

    fn finding(pending: bool, endpoint: Option<&str>) -> Finding {
        let mut f = Finding::new(
            "chain_health",
            "chain_health",
            "eth",
            BlockRef::synthetic(3),
            "x",
            Severity::Critical,
            "liar",
        )
        .with_evidence(json!({"check": "divergence"}));
        if pending {
            f.facts.pending = Some(palisade_primitives::PendingFacts {
                hash: Default::default(),
                sender: Default::default(),
                nonce: 0,
                priority_fee: 5,
                max_fee: 12,
            });
        }
        if let Some(e) = endpoint {
            f = f.with_endpoint(e);
        }
        f
    }

    #[tokio::test]
    async fn quarantine_acts_once_per_finding_within_its_rate_and_dry_run_only_records() {
        let benches = Arc::new(Benches::default());
        let mk = |dry: bool| {
            cfg(json!({"name": "bench", "type": "quarantine_node", "dry_run": dry,
                "policy": {"detectors": ["chain_health"], "max_actions": 1, "per_seconds": 60}}))
        };
        let control: Arc<dyn NodeControl> = benches.clone();
        let mut rs =
            Responders::build(&[mk(false)], &HashMap::new(), Some(control.clone())).unwrap();
        let f = finding(false, Some("http://node-b"));
        let ledger = MemoryLedger::default();
        let jobs = rs.consider("eth", std::slice::from_ref(&f), 0, &ledger).await;
        assert_eq!(jobs.len(), 1);
        let rec = jobs.into_iter().next().unwrap().run(|_| {}).await;
        assert_eq!(rec.outcome, "done");
        assert_eq!(
            benches.0.lock().unwrap().as_slice(),
            &[("eth".to_string(), "http://node-b".to_string())]
        );
        // The same finding again: nothing. Another one: rate limited, and recorded so.
        assert!(rs.consider("eth", std::slice::from_ref(&f), 0, &ledger).await.is_empty());
        let g = Finding::new(
            "chain_health",
            "chain_health",
            "eth",
            BlockRef::synthetic(4),
            "y",
            Severity::Critical,
            "again",
        )
        .with_endpoint("http://node-c");
        let jobs = rs.consider("eth", &[g], 0, &ledger).await;
        assert_eq!(jobs[0].record().outcome, "rate_limited");
        // Pending findings do not reach a confirmed-stage responder.
        assert!(rs
            .consider("eth", &[finding(true, Some("http://n"))], 0, &ledger)
            .await
            .is_empty());
        // Dry run: recorded, not done.
        let mut rs = Responders::build(&[mk(true)], &HashMap::new(), Some(control)).unwrap();
        let ledger = MemoryLedger::default();
        let jobs = rs.consider("eth", &[finding(false, Some("http://node-d"))], 0, &ledger).await;
        let rec = jobs.into_iter().next().unwrap().run(|_| {}).await;
        assert_eq!(rec.outcome, "dry_run");
        assert_eq!(benches.0.lock().unwrap().len(), 1);
    }

    #[test]
    fn the_trigger_tip_is_its_effective_tip() {
        let f = finding(true, None);
        assert_eq!(trigger(&f, 10).tip, Some(2));
        assert_eq!(trigger(&f, 1), pause::Trigger { tip: Some(5), max_fee: Some(12) });
    }
}
