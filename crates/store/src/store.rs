//! The store: SQLite or PostgreSQL through sqlx's `Any` driver, one schema for both.

use crate::error::db;
use crate::{Result, StoreError};
use palisade_primitives::{BlockRef, Finding, Severity};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor, Row};
use std::time::{SystemTime, UNIX_EPOCH};

/// The database behind the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An embedded SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// Schema migrations, applied in order; the same statements run on both backends.
const MIGRATIONS: &[&[&str]] = &[
    &[
        "CREATE TABLE IF NOT EXISTS alerts (
        key TEXT PRIMARY KEY,
        chain TEXT NOT NULL,
        detector TEXT NOT NULL,
        kind TEXT NOT NULL,
        severity TEXT NOT NULL,
        severity_rank BIGINT NOT NULL,
        block_number BIGINT NOT NULL,
        block_hash TEXT NOT NULL,
        title TEXT NOT NULL,
        body TEXT NOT NULL,
        status TEXT NOT NULL,
        created_ms BIGINT NOT NULL,
        updated_ms BIGINT NOT NULL,
        acked_by TEXT,
        ack_note TEXT)",
        "CREATE INDEX IF NOT EXISTS alerts_by_block ON alerts (chain, block_hash)",
        "CREATE INDEX IF NOT EXISTS alerts_by_status ON alerts (status, block_number)",
        "CREATE TABLE IF NOT EXISTS outbox (
        alert_key TEXT NOT NULL,
        sink TEXT NOT NULL,
        action TEXT NOT NULL,
        enqueued_ms BIGINT NOT NULL,
        ord BIGINT NOT NULL,
        attempts BIGINT NOT NULL,
        next_ms BIGINT NOT NULL,
        delivered_ms BIGINT,
        last_error TEXT,
        PRIMARY KEY (alert_key, sink, action))",
        "CREATE INDEX IF NOT EXISTS outbox_due ON outbox (delivered_ms, next_ms, ord)",
        "CREATE TABLE IF NOT EXISTS chain_blocks (
        chain TEXT NOT NULL,
        number BIGINT NOT NULL,
        hash TEXT NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (chain, number))",
        "CREATE TABLE IF NOT EXISTS checkpoints (
        chain TEXT NOT NULL,
        detector TEXT NOT NULL,
        state TEXT NOT NULL,
        PRIMARY KEY (chain, detector))",
        "CREATE TABLE IF NOT EXISTS block_log (
        chain TEXT NOT NULL,
        seq BIGINT NOT NULL,
        action TEXT NOT NULL,
        number BIGINT NOT NULL,
        hash TEXT NOT NULL,
        PRIMARY KEY (chain, seq))",
        "CREATE TABLE IF NOT EXISTS chain_state (
        chain TEXT PRIMARY KEY,
        next_seq BIGINT NOT NULL)",
    ],
    &[
        // Automated responses: one row per responder and finding, updated with each outcome.
        "CREATE TABLE IF NOT EXISTS responses (
        id TEXT PRIMARY KEY,
        responder TEXT NOT NULL,
        kind TEXT NOT NULL,
        chain TEXT NOT NULL,
        alert_key TEXT NOT NULL,
        stage TEXT NOT NULL,
        dry_run BIGINT NOT NULL,
        outcome TEXT NOT NULL,
        detail TEXT NOT NULL,
        error TEXT,
        created_ms BIGINT NOT NULL,
        updated_ms BIGINT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS responses_by_alert ON responses (alert_key)",
    ],
    &[
        // An alert reopened by a reorg that returns to its block (A -> B -> A) is notified again:
        // each notification carries the alert's revision, part of the outbox key.
        "ALTER TABLE alerts ADD COLUMN revision BIGINT NOT NULL DEFAULT 0",
        "CREATE TABLE outbox_v3 (
        alert_key TEXT NOT NULL,
        sink TEXT NOT NULL,
        action TEXT NOT NULL,
        revision BIGINT NOT NULL,
        enqueued_ms BIGINT NOT NULL,
        ord BIGINT NOT NULL,
        attempts BIGINT NOT NULL,
        next_ms BIGINT NOT NULL,
        delivered_ms BIGINT,
        last_error TEXT,
        PRIMARY KEY (alert_key, sink, action, revision))",
        "INSERT INTO outbox_v3 (alert_key, sink, action, revision, enqueued_ms, ord, attempts,
            next_ms, delivered_ms, last_error)
         SELECT alert_key, sink, action, 0, enqueued_ms, ord, attempts, next_ms, delivered_ms,
            last_error FROM outbox",
        "DROP TABLE outbox",
        "ALTER TABLE outbox_v3 RENAME TO outbox",
        // Delivery is in order per sink.
        "CREATE INDEX IF NOT EXISTS outbox_by_sink ON outbox (sink, delivered_ms, ord)",
        "CREATE INDEX IF NOT EXISTS outbox_by_ord ON outbox (ord)",
        // Responders' actions, counted against their rate limits: kept in the store so that a
        // restart (or another process) is held to the same window.
        "CREATE TABLE IF NOT EXISTS action_slots (
        responder TEXT NOT NULL,
        id TEXT NOT NULL,
        at_ms BIGINT NOT NULL,
        PRIMARY KEY (responder, id))",
        "CREATE INDEX IF NOT EXISTS action_slots_by_time ON action_slots (responder, at_ms)",
    ],
    &[
        // Several processes: the newest fencing token of each chain's lease (a deposed owner's
        // writes carry an older one and are refused), and which deliverer drains which sink.
        "CREATE TABLE IF NOT EXISTS chain_leases (
        chain TEXT PRIMARY KEY,
        token BIGINT NOT NULL,
        holder TEXT NOT NULL,
        updated_ms BIGINT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS sink_claims (
        sink TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        until_ms BIGINT NOT NULL)",
    ],
    &[
        // Every acknowledgement (and its note) is kept: a later ack never erases an earlier
        // note. `alerts.ack_note` keeps the latest note for the one-line views.
        "CREATE TABLE IF NOT EXISTS alert_notes (
        alert_key TEXT NOT NULL,
        seq BIGINT NOT NULL,
        at_ms BIGINT NOT NULL,
        author TEXT NOT NULL,
        action TEXT NOT NULL,
        note TEXT,
        PRIMARY KEY (alert_key, seq))",
        "INSERT INTO alert_notes (alert_key, seq, at_ms, author, action, note)
         SELECT key, 1, updated_ms, acked_by, 'ack', ack_note FROM alerts WHERE acked_by IS NOT NULL",
    ],
    &[
        // A notification the receiver refused for what it is (HTTP 400, 413, 422): parked with
        // the receiver's answer rather than retried forever or left blocking its sink's queue.
        "ALTER TABLE outbox ADD COLUMN parked_ms BIGINT",
    ],
    &[
        // Operators silence an alert for a while: its notifications wait until the silence ends.
        "ALTER TABLE alerts ADD COLUMN silenced_until_ms BIGINT",
        // What changed since: the dashboard's live view reads alerts by their last change.
        "CREATE INDEX IF NOT EXISTS alerts_by_update ON alerts (updated_ms)",
        "CREATE INDEX IF NOT EXISTS alerts_by_time ON alerts (created_ms, block_number, key)",
    ],
    &[
        // Amounts in units (tokens' symbol and decimals read when the alert was stored).
        "ALTER TABLE alerts ADD COLUMN amounts TEXT",
    ],
    &[
        // The settlement-risk index of each canonical block (a revert deletes its point).
        "CREATE TABLE IF NOT EXISTS risk_points (
        chain TEXT NOT NULL,
        number BIGINT NOT NULL,
        hash TEXT NOT NULL,
        timestamp BIGINT,
        index_e6 BIGINT NOT NULL,
        inputs_hash TEXT NOT NULL,
        body TEXT NOT NULL,
        stored_ms BIGINT NOT NULL,
        PRIMARY KEY (chain, number))",
        "CREATE INDEX IF NOT EXISTS risk_by_time ON risk_points (chain, timestamp)",
    ],
];

/// One entry of an alert's history of acknowledgements and notes (never overwritten).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AlertNote {
    /// When (ms since epoch).
    pub at_ms: i64,
    /// Who.
    pub by: String,
    /// What they did (`ack`).
    pub action: String,
    /// Their note, if any.
    pub note: Option<String>,
}

/// What [`Store::apply_logged`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    /// Alerts stored or reopened.
    pub alerts: usize,
    /// The block-log sequence of the batch's first reverted or committed block (the rest
    /// follow: reverts newest first, then commits oldest first).
    pub first_seq: i64,
}

/// What a chain's owner stamps on its writes in a cluster: the revision of its lease (a token
/// that grows with each new lease) and its name. A write with a token older than one already
/// stored for the chain is refused ([`StoreError::Fenced`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    /// The lease's revision.
    pub token: i64,
    /// The process holding it (its `node_id`).
    pub holder: String,
}

/// What [`Store::reserve_action`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// The action may go ahead; it now counts against the responder's window.
    Granted,
    /// This responder already acted on (or decided about) this finding.
    Duplicate,
    /// The responder's window is full.
    RateLimited,
}

/// One stored response (see `palisade-respond`): what a responder decided and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseRow {
    /// `<responder>/<alert key>`.
    pub id: String,
    /// Responder name.
    pub responder: String,
    /// Action type.
    pub kind: String,
    /// Chain.
    pub chain: String,
    /// The triggering alert.
    pub alert_key: String,
    /// `pending` or `confirmed`.
    pub stage: String,
    /// Planned only.
    pub dry_run: bool,
    /// Latest outcome.
    pub outcome: String,
    /// JSON detail (no secrets).
    pub detail: String,
    /// Error, if it failed.
    pub error: Option<String>,
    /// First recorded (ms since the epoch).
    pub created_ms: i64,
    /// Last updated (ms since the epoch).
    pub updated_ms: i64,
}

/// The file of a `sqlite:` URL (not a secret).
fn sqlite_path(url: &str) -> &str {
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    rest.split('?').next().unwrap_or(rest)
}

/// The host and port of a PostgreSQL URL, without user, password or options.
fn pg_host(url: &str) -> String {
    let rest = url.split_once("://").map_or("", |(_, r)| r);
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or("");
    if host.is_empty() {
        "the default host".into()
    } else {
        host.to_string()
    }
}

/// Milliseconds since the Unix epoch (for bookkeeping only; detectors never see it).
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// A handle to the store. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) pool: AnyPool,
    backend: Backend,
    /// Bumped after every write that changes alerts (see [`Store::changes`]).
    changes: std::sync::Arc<tokio::sync::watch::Sender<u64>>,
}

/// Everything one chain event changes, written in one transaction.
#[derive(Debug, Default)]
pub struct Batch {
    /// Chain name.
    pub chain: String,
    /// Blocks reverted, newest first.
    pub reverted: Vec<BlockRef>,
    /// Blocks committed, oldest first, with their recorded JSON line (kept for restarts).
    pub committed: Vec<(BlockRef, String)>,
    /// Stored blocks at or below this number can be dropped (finalized).
    pub prune_below: Option<u64>,
    /// Detector checkpoints (detector id, JSON state).
    pub checkpoints: Vec<(String, String)>,
    /// New findings.
    pub findings: Vec<Finding>,
    /// Blocks whose alerts are retracted.
    pub retracted: Vec<BlockRef>,
    /// Sink ids that receive alerts no route matches (the default route; every sink when no
    /// `[[routes]]` are configured).
    pub sinks: Vec<String>,
    /// On-call routes: a finding goes to the sinks of every route it matches, else to `sinks`.
    pub routes: Vec<crate::Route>,
    /// Alerts at or below this block number are confirmed and delivered; `None` delivers at once.
    pub confirmed_upto: Option<u64>,
    /// In a cluster, the chain owner's lease: the write is refused if a newer owner has written.
    pub fence: Option<Fence>,
    /// Settlement-risk points of committed blocks.
    pub risk: Vec<RiskRow>,
    /// Blocks whose risk points are retracted.
    pub risk_retracted: Vec<BlockRef>,
    /// The amounts of findings' evidence in units, by finding key (see [`AlertRow::amounts`]);
    /// findings without an entry get the bundled token table's.
    pub amounts:
        std::collections::HashMap<palisade_primitives::FindingKey, Vec<(String, String, String)>>,
}

/// A block's settlement-risk point as stored (see `palisade-risk`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RiskRow {
    /// The block.
    pub block: BlockRef,
    /// Its timestamp (seconds).
    pub timestamp: Option<u64>,
    /// The index × 1,000,000 (0 to 100,000,000).
    pub index_e6: i64,
    /// The point's `inputs_hash` (hex).
    pub inputs_hash: String,
    /// The point as JSON.
    pub body: String,
    /// When stored (ms since epoch; rows read back only).
    pub stored_ms: i64,
}

/// The stored state of a chain, for a restart.
#[derive(Debug, Default)]
pub struct ChainState {
    /// Recent canonical blocks (number, hash, recorded JSON line), oldest first.
    pub blocks: Vec<(u64, String, String)>,
    /// Detector checkpoints (detector id, JSON state).
    pub checkpoints: Vec<(String, String)>,
}

/// One entry of the block log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedBlock {
    /// Sequence number.
    pub seq: i64,
    /// `commit` or `revert`.
    pub action: String,
    /// Block number.
    pub number: u64,
    /// Block hash (hex).
    pub hash: String,
}

/// A stored alert.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRow {
    /// The finding.
    pub finding: Finding,
    /// `pending` (awaiting confirmations), `open`, `acked` or `reorged`.
    pub status: String,
    /// When stored (ms since epoch).
    pub created_ms: i64,
    /// Who acknowledged it.
    pub acked_by: Option<String>,
    /// Acknowledgement note.
    pub ack_note: Option<String>,
    /// How many times a reorg reopened it (0: never retracted and re-found).
    pub revision: i64,
    /// Last changed (ms since epoch): stored, confirmed, retracted, reopened, acknowledged.
    pub updated_ms: i64,
    /// Notifications about it wait until then (ms since epoch), when an operator silenced it.
    pub silenced_until_ms: Option<i64>,
    /// The raw amounts of its evidence in units: (path, raw, in units), as worked out when it
    /// was stored (the bundled token table, or the token's own `symbol()` and `decimals()`).
    pub amounts: Vec<(String, String, String)>,
}

impl AlertRow {
    /// The alert as JSON: the finding's fields, then `status`, `revision`, `created_ms` and
    /// `created_at` (RFC 3339, UTC), and the latest acknowledgement. One shape for the CLI, the
    /// API and the sinks.
    pub fn to_json(&self) -> serde_json::Value {
        let mut j = self.finding.to_json();
        j["status"] = serde_json::json!(self.status);
        j["revision"] = serde_json::json!(self.revision);
        j["created_ms"] = serde_json::json!(self.created_ms);
        j["amounts"] = serde_json::json!(self.amounts);
        j["created_at"] = serde_json::json!(palisade_primitives::time::rfc3339_ms(self.created_ms));
        j["updated_ms"] = serde_json::json!(self.updated_ms);
        j["acked_by"] = serde_json::json!(self.acked_by);
        j["ack_note"] = serde_json::json!(self.ack_note);
        j["silenced_until"] =
            serde_json::json!(self.silenced_until_ms.map(palisade_primitives::time::rfc3339_ms));
        j
    }
}

/// Filter for [`Store::list_alerts`].
#[derive(Debug, Clone, Default)]
pub struct AlertFilter {
    /// Only this status.
    pub status: Option<String>,
    /// Only at least this severity.
    pub min_severity: Option<Severity>,
    /// Only this chain.
    pub chain: Option<String>,
    /// Only this detector id.
    pub detector: Option<String>,
    /// Only found at or after this time (ms since epoch).
    pub since_ms: Option<i64>,
    /// Only found before this time (ms since epoch).
    pub until_ms: Option<i64>,
    /// Only after this position in the listing (a page's [`AlertCursor`]).
    pub after: Option<AlertCursor>,
    /// At most this many (newest first); default 100.
    pub limit: Option<i64>,
}

/// A position in the listing of alerts (newest first: by time found, block, key), for paging:
/// the next page starts after the last alert of the previous one, whatever was stored since.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertCursor {
    /// The alert's `created_ms`.
    pub created_ms: i64,
    /// Its block number.
    pub block_number: u64,
    /// Its key.
    pub key: String,
}

impl AlertCursor {
    /// The cursor just after `a`.
    pub fn after(a: &AlertRow) -> Self {
        Self {
            created_ms: a.created_ms,
            block_number: a.finding.anchor.number,
            key: a.finding.key.to_string(),
        }
    }
}

impl std::fmt::Display for AlertCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.created_ms, self.block_number, self.key)
    }
}

impl std::str::FromStr for AlertCursor {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self> {
        let bad = || StoreError::NotFound(format!("cursor {s:?}: not one this API gave"));
        let mut it = s.splitn(3, '.');
        let created_ms = it.next().and_then(|x| x.parse().ok()).ok_or_else(bad)?;
        let block_number = it.next().and_then(|x| x.parse().ok()).ok_or_else(bad)?;
        let key = it
            .next()
            .filter(|k| k.chars().all(|c| c.is_ascii_hexdigit() || c == 'x'))
            .ok_or_else(bad)?;
        Ok(Self { created_ms, block_number, key: key.to_string() })
    }
}

/// An outbox row that is due.
#[derive(Debug, Clone)]
pub struct DueItem {
    /// Alert key.
    pub key: String,
    /// Sink id.
    pub sink: String,
    /// `alert` or `resolve`.
    pub action: String,
    /// The alert's revision this notification is about.
    pub revision: i64,
    /// Attempts so far.
    pub attempts: i64,
    /// The alert.
    pub alert: AlertRow,
}

fn hex_hash(r: &BlockRef) -> String {
    format!("{:#x}", r.hash)
}

impl Store {
    /// Opens (creating when missing) the store at `url`: `sqlite://PATH` or `postgres://...`.
    /// Applies migrations.
    pub async fn open(url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            // The URL is not repeated: it may carry a password.
            return Err(StoreError::Url(
                "unsupported store url: want sqlite://PATH or postgres://USER@HOST:PORT/DB (the value is not shown: it may hold a password)".into(),
            ));
        };
        let url = if backend == Backend::Sqlite && !url.contains("mode=") {
            format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' })
        } else {
            url.to_string()
        };
        // One plain connection first, with a deadline: a server that is down, a missing
        // database or an unwritable file is said at once, in its own words (the pool would
        // retry quietly until its own timeout).
        let first = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            <sqlx::AnyConnection as sqlx::Connection>::connect(&url),
        )
        .await;
        let what = match backend {
            Backend::Sqlite => format!("SQLite file {}", sqlite_path(&url)),
            Backend::Postgres => format!("PostgreSQL at {}", pg_host(&url)),
        };
        match first {
            Err(_) => {
                return Err(StoreError::Db {
                    op: "connect",
                    message: format!("{what}: no answer within 10 s"),
                    transient: true,
                })
            }
            Ok(Err(e)) => {
                let (message, transient) = crate::error::describe(&e);
                return Err(StoreError::Db {
                    op: "connect",
                    message: format!("{what}: {message}"),
                    transient,
                });
            }
            Ok(Ok(c)) => {
                let _ = sqlx::Connection::close(c).await;
            }
        }
        let pool = AnyPoolOptions::new()
            .acquire_timeout(std::time::Duration::from_secs(10))
            .max_connections(if backend == Backend::Sqlite { 4 } else { 8 })
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        conn.execute("PRAGMA journal_mode=WAL").await?;
                        conn.execute("PRAGMA synchronous=NORMAL").await?;
                        conn.execute("PRAGMA busy_timeout=10000").await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await
            .map_err(db("connect"))?;
        let store =
            Self { pool, backend, changes: std::sync::Arc::new(tokio::sync::watch::channel(0).0) };
        store.migrate().await?;
        Ok(store)
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A receiver that sees a new value after each write of this process that changed alerts
    /// (and after [`Store::touch`]): what live views wait on before reading what changed.
    pub fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Tells live views that alerts may have changed elsewhere (another process of a cluster
    /// wrote them to the shared store).
    pub fn touch(&self) {
        self.changes.send_modify(|v| *v = v.wrapping_add(1));
    }

    async fn migrate(&self) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(db("migrate"))?;
        if self.backend == Backend::Postgres {
            // Several processes may share one database: migrate one at a time.
            tx.execute("SELECT pg_advisory_xact_lock(7245001)").await.map_err(db("migrate"))?;
        }
        tx.execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")
            .await
            .map_err(db("migrate"))?;
        let cur: Option<i64> = sqlx::query("SELECT MAX(version) FROM schema_version")
            .fetch_one(&mut *tx)
            .await
            .map_err(db("migrate"))?
            .try_get(0)
            .ok();
        let cur = cur.unwrap_or(0);
        for (i, stmts) in MIGRATIONS.iter().enumerate() {
            let v = i as i64 + 1;
            if v <= cur {
                continue;
            }
            for s in *stmts {
                tx.execute(*s).await.map_err(db("migrate"))?;
            }
            sqlx::query("INSERT INTO schema_version (version) VALUES ($1)")
                .bind(v)
                .execute(&mut *tx)
                .await
                .map_err(db("migrate"))?;
        }
        tx.commit().await.map_err(db("migrate"))
    }

    /// Records a response, or its new outcome when it is already stored.
    pub async fn record_response(&self, r: &ResponseRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO responses (id, responder, kind, chain, alert_key, stage, dry_run, outcome,
                detail, error, created_ms, updated_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)
             ON CONFLICT (id) DO UPDATE SET outcome = excluded.outcome, detail = excluded.detail,
                error = excluded.error, updated_ms = excluded.updated_ms",
        )
        .bind(&r.id)
        .bind(&r.responder)
        .bind(&r.kind)
        .bind(&r.chain)
        .bind(&r.alert_key)
        .bind(&r.stage)
        .bind(r.dry_run as i64)
        .bind(&r.outcome)
        .bind(&r.detail)
        .bind(r.error.as_deref())
        .bind(r.updated_ms)
        .execute(&self.pool)
        .await
        .map_err(db("record response"))?;
        Ok(())
    }

    /// True when a response with this id is stored (a responder acted, or planned to, on this
    /// finding before a restart).
    pub async fn response_exists(&self, id: &str) -> Result<bool> {
        let row = sqlx::query("SELECT COUNT(*) FROM responses WHERE id = $1")
            .bind(id)
            .fetch_one(&self.pool)
            .await
            .map_err(db("response exists"))?;
        Ok(row.try_get::<i64, _>(0).map_err(db("response exists"))? > 0)
    }

    /// Stored responses, newest first.
    pub async fn list_responses(&self, limit: i64) -> Result<Vec<ResponseRow>> {
        let rows = sqlx::query(
            "SELECT id, responder, kind, chain, alert_key, stage, dry_run, outcome, detail, error,
                created_ms, updated_ms FROM responses ORDER BY updated_ms DESC, id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(db("list responses"))?;
        rows.iter()
            .map(|r| {
                Ok(ResponseRow {
                    id: r.try_get(0).map_err(db("list responses"))?,
                    responder: r.try_get(1).map_err(db("list responses"))?,
                    kind: r.try_get(2).map_err(db("list responses"))?,
                    chain: r.try_get(3).map_err(db("list responses"))?,
                    alert_key: r.try_get(4).map_err(db("list responses"))?,
                    stage: r.try_get(5).map_err(db("list responses"))?,
                    dry_run: r.try_get::<i64, _>(6).map_err(db("list responses"))? != 0,
                    outcome: r.try_get(7).map_err(db("list responses"))?,
                    detail: r.try_get(8).map_err(db("list responses"))?,
                    error: r.try_get(9).map_err(db("list responses"))?,
                    created_ms: r.try_get(10).map_err(db("list responses"))?,
                    updated_ms: r.try_get(11).map_err(db("list responses"))?,
                })
            })
            .collect()
    }

    /// Loads a chain's stored window and detector checkpoints.
    pub async fn load_chain(&self, chain: &str) -> Result<ChainState> {
        let rows = sqlx::query(
            "SELECT number, hash, data FROM chain_blocks WHERE chain = $1 ORDER BY number",
        )
        .bind(chain)
        .fetch_all(&self.pool)
        .await
        .map_err(db("load chain"))?;
        let blocks = rows
            .iter()
            .map(|r| Ok((r.try_get::<i64, _>(0)? as u64, r.try_get(1)?, r.try_get(2)?)))
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(db("load chain"))?;
        let rows = sqlx::query(
            "SELECT detector, state FROM checkpoints WHERE chain = $1 ORDER BY detector",
        )
        .bind(chain)
        .fetch_all(&self.pool)
        .await
        .map_err(db("load checkpoints"))?;
        let checkpoints = rows
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(db("load checkpoints"))?;
        Ok(ChainState { blocks, checkpoints })
    }

    /// Writes one chain event's effects in one transaction. Returns how many alerts were stored
    /// or reopened: a finding already stored is skipped, unless a reorg had retracted it (the
    /// chain came back to its block), in which case its alert is reopened with the next revision
    /// and notified again.
    pub async fn apply(&self, b: &Batch) -> Result<usize> {
        self.apply_logged(b).await.map(|s| s.alerts)
    }

    /// [`Store::apply`], saying also where the batch's blocks went in the block log.
    pub async fn apply_logged(&self, b: &Batch) -> Result<Stored> {
        let now = now_ms();
        let mut tx = self.pool.begin().await.map_err(db("begin"))?;
        let chain = b.chain.as_str();
        // A write first: on SQLite it takes the write lock (waiting for it), so no other
        // writer can slip in between this transaction's reads and writes. With a fence, the
        // write is the token check itself (it locks the chain's lease row on PostgreSQL).
        if let Some(f) = &b.fence {
            check_fence(&mut tx, chain, f).await?;
        }
        sqlx::query("INSERT INTO chain_state (chain, next_seq) VALUES ($1, 0) ON CONFLICT (chain) DO NOTHING")
            .bind(chain)
            .execute(&mut *tx)
            .await
            .map_err(db("chain state"))?;
        // Delivery order: by batch, then by position in the batch (block order). Always above
        // every row already queued, so a later batch is never delivered before an earlier one.
        let last: Option<i64> = sqlx::query("SELECT MAX(ord) FROM outbox")
            .fetch_one(&mut *tx)
            .await
            .and_then(|r| r.try_get(0))
            .map_err(db("outbox order"))?;
        let mut ord = now.saturating_mul(1_000).max(last.unwrap_or(0));
        let first_seq: i64 = sqlx::query("SELECT next_seq FROM chain_state WHERE chain = $1")
            .bind(chain)
            .fetch_one(&mut *tx)
            .await
            .and_then(|r| r.try_get(0))
            .map_err(db("chain state"))?;
        let mut seq = first_seq;
        let log = |seq: i64, action: &'static str, r: &BlockRef| {
            sqlx::query("INSERT INTO block_log (chain, seq, action, number, hash) VALUES ($1, $2, $3, $4, $5)")
                .bind(chain.to_string())
                .bind(seq)
                .bind(action)
                .bind(r.number as i64)
                .bind(hex_hash(r))
        };
        for r in &b.reverted {
            log(seq, "revert", r).execute(&mut *tx).await.map_err(db("block log"))?;
            seq += 1;
            sqlx::query("DELETE FROM chain_blocks WHERE chain = $1 AND number = $2")
                .bind(chain)
                .bind(r.number as i64)
                .execute(&mut *tx)
                .await
                .map_err(db("window"))?;
        }
        for (r, line) in &b.committed {
            log(seq, "commit", r).execute(&mut *tx).await.map_err(db("block log"))?;
            seq += 1;
            sqlx::query("DELETE FROM chain_blocks WHERE chain = $1 AND number = $2")
                .bind(chain)
                .bind(r.number as i64)
                .execute(&mut *tx)
                .await
                .map_err(db("window"))?;
            sqlx::query(
                "INSERT INTO chain_blocks (chain, number, hash, data) VALUES ($1, $2, $3, $4)",
            )
            .bind(chain)
            .bind(r.number as i64)
            .bind(hex_hash(r))
            .bind(line.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db("window"))?;
        }
        sqlx::query("UPDATE chain_state SET next_seq = $1 WHERE chain = $2")
            .bind(seq)
            .bind(chain)
            .execute(&mut *tx)
            .await
            .map_err(db("chain state"))?;
        if let Some(p) = b.prune_below {
            sqlx::query("DELETE FROM chain_blocks WHERE chain = $1 AND number < $2")
                .bind(chain)
                .bind(p as i64)
                .execute(&mut *tx)
                .await
                .map_err(db("prune"))?;
        }
        for (d, state) in &b.checkpoints {
            sqlx::query("INSERT INTO checkpoints (chain, detector, state) VALUES ($1, $2, $3) ON CONFLICT (chain, detector) DO UPDATE SET state = excluded.state")
                .bind(chain)
                .bind(d.as_str())
                .bind(state.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db("checkpoint"))?;
        }
        for r in &b.risk_retracted {
            sqlx::query("DELETE FROM risk_points WHERE chain = $1 AND number = $2 AND hash = $3")
                .bind(chain)
                .bind(r.number as i64)
                .bind(hex_hash(r))
                .execute(&mut *tx)
                .await
                .map_err(db("risk"))?;
        }
        for p in &b.risk {
            sqlx::query(
                "INSERT INTO risk_points (chain, number, hash, timestamp, index_e6, inputs_hash, body, stored_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT (chain, number) DO UPDATE SET hash = excluded.hash, timestamp = excluded.timestamp,
                 index_e6 = excluded.index_e6, inputs_hash = excluded.inputs_hash, body = excluded.body, stored_ms = excluded.stored_ms",
            )
            .bind(chain)
            .bind(p.block.number as i64)
            .bind(hex_hash(&p.block))
            .bind(p.timestamp.map(|t| t as i64))
            .bind(p.index_e6)
            .bind(p.inputs_hash.as_str())
            .bind(p.body.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db("risk"))?;
        }
        // Retractions: alerts anchored in reverted blocks are resolved as reorged out; sinks that
        // were told about them are told they are resolved.
        for r in &b.retracted {
            let keys: Vec<(String, String, i64)> = sqlx::query(
                "SELECT key, status, revision FROM alerts WHERE chain = $1 AND block_hash = $2 AND block_number = $3 AND status <> 'reorged' ORDER BY key",
            )
            .bind(chain)
            .bind(hex_hash(r))
            .bind(r.number as i64)
            .fetch_all(&mut *tx)
            .await
            .map_err(db("retract"))?
            .iter()
            .map(|row| Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(db("retract"))?;
            for (key, status, revision) in keys {
                sqlx::query("UPDATE alerts SET status = 'reorged', updated_ms = $1 WHERE key = $2")
                    .bind(now)
                    .bind(key.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(db("retract"))?;
                if status != "pending" {
                    // The sinks that were told of it (routes may have changed since).
                    let told: Vec<String> = sqlx::query(
                        "SELECT DISTINCT sink FROM outbox WHERE alert_key = $1 AND action = 'alert' AND revision = $2 ORDER BY sink",
                    )
                    .bind(key.as_str())
                    .bind(revision)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(db("retract"))?
                    .iter()
                    .map(|row| row.try_get(0))
                    .collect::<Result<_, sqlx::Error>>()
                    .map_err(db("retract"))?;
                    for s in &told {
                        enqueue(&mut tx, (&key, s, "resolve", revision), now, &mut ord).await?;
                    }
                }
            }
        }
        let mut inserted = 0;
        for f in &b.findings {
            let status = if b.confirmed_upto.is_some_and(|c| f.anchor.number > c) {
                "pending"
            } else {
                "open"
            };
            let body = serde_json::to_string(f).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let res = sqlx::query(
                "INSERT INTO alerts (key, chain, detector, kind, severity, severity_rank, block_number, block_hash, title, body, status, created_ms, updated_ms, amounts)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) ON CONFLICT (key) DO NOTHING",
            )
            .bind(f.key.to_string())
            .bind(f.chain.as_str())
            .bind(f.detector.as_str())
            .bind(f.kind.as_str())
            .bind(f.severity.as_str())
            .bind(f.severity as i64)
            .bind(f.anchor.number as i64)
            .bind(hex_hash(&f.anchor))
            .bind(f.title.as_str())
            .bind(body)
            .bind(status)
            .bind(now)
            .bind(now)
            .bind(b.amounts.get(&f.key).map(|a| serde_json::json!(a).to_string()))
            .execute(&mut *tx)
            .await
            .map_err(db("insert alert"))?;
            let key = f.key.to_string();
            let revision = if res.rows_affected() > 0 {
                Some(0)
            } else {
                // Already stored. A finding retracted by a reorg and found again in the same
                // block (the chain went A -> B -> A) reopens its alert, and the sinks that were
                // told it was resolved are told again, after the resolve.
                let reopened = sqlx::query(
                    "UPDATE alerts SET status = $1, revision = revision + 1, updated_ms = $2 WHERE key = $3 AND status = 'reorged'",
                )
                .bind(status)
                .bind(now)
                .bind(key.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db("reopen alert"))?;
                if reopened.rows_affected() > 0 {
                    let rev: i64 = sqlx::query("SELECT revision FROM alerts WHERE key = $1")
                        .bind(key.as_str())
                        .fetch_one(&mut *tx)
                        .await
                        .and_then(|r| r.try_get(0))
                        .map_err(db("reopen alert"))?;
                    Some(rev)
                } else {
                    None
                }
            };
            if let Some(revision) = revision {
                inserted += 1;
                if status == "open" {
                    for s in crate::sinks_for(&b.routes, &b.sinks, f) {
                        enqueue(&mut tx, (&key, &s, "alert", revision), now, &mut ord).await?;
                    }
                }
            }
        }
        // Pending alerts that now have enough confirmations.
        if let Some(c) = b.confirmed_upto {
            let keys: Vec<(String, i64, String)> = sqlx::query(
                "SELECT key, revision, body FROM alerts WHERE chain = $1 AND status = 'pending' AND block_number <= $2 ORDER BY block_number, key",
            )
            .bind(chain)
            .bind(c as i64)
            .fetch_all(&mut *tx)
            .await
            .map_err(db("confirm"))?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(db("confirm"))?;
            for (k, revision, body) in keys {
                let f: Finding = serde_json::from_str(&body)
                    .map_err(|e| StoreError::Corrupt(format!("alert {k}: {e}")))?;
                let sinks = crate::sinks_for(&b.routes, &b.sinks, &f);
                sqlx::query("UPDATE alerts SET status = 'open', updated_ms = $1 WHERE key = $2")
                    .bind(now)
                    .bind(k.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(db("confirm"))?;
                for s in &sinks {
                    enqueue(&mut tx, (&k, s, "alert", revision), now, &mut ord).await?;
                }
            }
        }
        tx.commit().await.map_err(db("commit"))?;
        if inserted > 0
            || !b.retracted.is_empty()
            || b.confirmed_upto.is_some()
            || !b.risk.is_empty()
            || !b.risk_retracted.is_empty()
        {
            self.touch();
        }
        Ok(Stored { alerts: inserted, first_seq })
    }

    /// The stored window of `chain` with the block-log sequence of each block's commit:
    /// (seq, number, hash, recorded line), oldest first. What a new owner republishes.
    pub async fn window_log(&self, chain: &str) -> Result<Vec<(i64, u64, String, String)>> {
        let rows = sqlx::query(
            "SELECT (SELECT MAX(l.seq) FROM block_log l WHERE l.chain = b.chain AND l.number = b.number
                     AND l.hash = b.hash AND l.action = 'commit'), b.number, b.hash, b.data
             FROM chain_blocks b WHERE b.chain = $1 ORDER BY b.number",
        )
        .bind(chain)
        .fetch_all(&self.pool)
        .await
        .map_err(db("window log"))?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get::<Option<i64>, _>(0)?.unwrap_or(0),
                    r.try_get::<i64, _>(1)? as u64,
                    r.try_get(2)?,
                    r.try_get(3)?,
                ))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(db("window log"))
    }

    /// The hash Palisade currently holds as canonical at `number` (from the block log), if any.
    pub async fn logged_hash_at(&self, chain: &str, number: u64) -> Result<Option<String>> {
        let row = sqlx::query("SELECT action, hash FROM block_log WHERE chain = $1 AND number = $2 ORDER BY seq DESC LIMIT 1")
            .bind(chain)
            .bind(number as i64)
            .fetch_optional(&self.pool)
            .await
            .map_err(db("block log"))?;
        match row {
            Some(r) => {
                let action: String = r.try_get(0).map_err(db("block log"))?;
                Ok((action == "commit")
                    .then(|| r.try_get(1))
                    .transpose()
                    .map_err(db("block log"))?)
            }
            None => Ok(None),
        }
    }

    /// The block log of a chain, in order.
    pub async fn block_log(&self, chain: &str) -> Result<Vec<LoggedBlock>> {
        let rows = sqlx::query(
            "SELECT seq, action, number, hash FROM block_log WHERE chain = $1 ORDER BY seq",
        )
        .bind(chain)
        .fetch_all(&self.pool)
        .await
        .map_err(db("block log"))?;
        rows.iter()
            .map(|r| {
                Ok(LoggedBlock {
                    seq: r.try_get(0)?,
                    action: r.try_get(1)?,
                    number: r.try_get::<i64, _>(2)? as u64,
                    hash: r.try_get(3)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(db("block log"))
    }

    pub(crate) fn row_to_alert(r: &AnyRow) -> Result<AlertRow> {
        let body: String = r.try_get("body").map_err(db("read alert"))?;
        let finding: Finding = serde_json::from_str(&body)
            .map_err(|e| StoreError::Corrupt(format!("alert body: {e}")))?;
        Ok(AlertRow {
            status: r.try_get("status").map_err(db("read alert"))?,
            created_ms: r.try_get("created_ms").map_err(db("read alert"))?,
            acked_by: r.try_get("acked_by").map_err(db("read alert"))?,
            ack_note: r.try_get("ack_note").map_err(db("read alert"))?,
            revision: r.try_get("revision").map_err(db("read alert"))?,
            updated_ms: r.try_get("updated_ms").map_err(db("read alert"))?,
            silenced_until_ms: r.try_get("silenced_until_ms").map_err(db("read alert"))?,
            amounts: r
                .try_get::<Option<String>, _>("amounts")
                .map_err(db("read alert"))?
                .and_then(|j| serde_json::from_str(&j).ok())
                .unwrap_or_else(|| {
                    palisade_primitives::units::describe_evidence(&finding.evidence)
                }),
            finding,
        })
    }

    /// Lists alerts, newest first.
    pub async fn list_alerts(&self, f: &AlertFilter) -> Result<Vec<AlertRow>> {
        let mut sql = String::from(
            "SELECT body, status, created_ms, acked_by, ack_note, revision, updated_ms, silenced_until_ms, amounts FROM alerts WHERE 1 = 1",
        );
        let mut n = 0;
        let mut next = || {
            n += 1;
            format!("${n}")
        };
        if f.status.is_some() {
            sql += &format!(" AND status = {}", next());
        }
        if f.min_severity.is_some() {
            sql += &format!(" AND severity_rank >= {}", next());
        }
        if f.chain.is_some() {
            sql += &format!(" AND chain = {}", next());
        }
        if f.detector.is_some() {
            sql += &format!(" AND detector = {}", next());
        }
        if f.since_ms.is_some() {
            sql += &format!(" AND created_ms >= {}", next());
        }
        if f.until_ms.is_some() {
            sql += &format!(" AND created_ms < {}", next());
        }
        if f.after.is_some() {
            let (a, b, c) = (next(), next(), next());
            sql += &format!(
                " AND (created_ms < {a} OR (created_ms = {a} AND (block_number < {b} OR (block_number = {b} AND key < {c}))))"
            );
        }
        sql += &format!(" ORDER BY created_ms DESC, block_number DESC, key DESC LIMIT {}", next());
        let mut q = sqlx::query(&sql);
        if let Some(s) = &f.status {
            q = q.bind(s.as_str());
        }
        if let Some(s) = f.min_severity {
            q = q.bind(s as i64);
        }
        if let Some(c) = &f.chain {
            q = q.bind(c.as_str());
        }
        if let Some(d) = &f.detector {
            q = q.bind(d.as_str());
        }
        if let Some(t) = f.since_ms {
            q = q.bind(t);
        }
        if let Some(t) = f.until_ms {
            q = q.bind(t);
        }
        if let Some(c) = &f.after {
            q = q.bind(c.created_ms).bind(c.block_number as i64).bind(c.key.clone());
        }
        q = q.bind(f.limit.unwrap_or(100));
        let rows = q.fetch_all(&self.pool).await.map_err(db("list alerts"))?;
        rows.iter().map(Self::row_to_alert).collect()
    }

    /// Finds one alert by key or unique key prefix.
    pub async fn get_alert(&self, key_prefix: &str) -> Result<AlertRow> {
        let prefix: String =
            key_prefix.trim_start_matches("0x").chars().filter(char::is_ascii_hexdigit).collect();
        if prefix.len() < 4 {
            return Err(StoreError::NotFound(format!("{key_prefix} (give at least 4 hex digits)")));
        }
        let rows = sqlx::query(
            "SELECT body, status, created_ms, acked_by, ack_note, revision, updated_ms, silenced_until_ms, amounts FROM alerts WHERE key LIKE $1 LIMIT 2",
        )
        .bind(format!("{}%", prefix.to_ascii_lowercase()))
        .fetch_all(&self.pool)
        .await
        .map_err(db("get alert"))?;
        match rows.as_slice() {
            [one] => Self::row_to_alert(one),
            [] => Err(StoreError::NotFound(key_prefix.into())),
            _ => Err(StoreError::Ambiguous(key_prefix.into())),
        }
    }

    /// Acknowledges an alert (see [`Store::act`]).
    pub async fn ack(&self, key_prefix: &str, by: &str, note: Option<&str>) -> Result<AlertRow> {
        self.act(key_prefix, by, crate::OperatorAction::Ack, note).await
    }

    /// An alert's history of acknowledgements and notes, oldest first.
    pub async fn notes(&self, key: &str) -> Result<Vec<AlertNote>> {
        let rows = sqlx::query(
            "SELECT at_ms, author, action, note FROM alert_notes WHERE alert_key = $1 ORDER BY seq",
        )
        .bind(key)
        .fetch_all(&self.pool)
        .await
        .map_err(db("notes"))?;
        rows.iter()
            .map(|r| {
                Ok(AlertNote {
                    at_ms: r.try_get(0)?,
                    by: r.try_get(1)?,
                    action: r.try_get(2)?,
                    note: r.try_get(3)?,
                })
            })
            .collect::<std::result::Result<_, sqlx::Error>>()
            .map_err(db("notes"))
    }

    /// The sinks that have undelivered notifications.
    pub async fn sinks_with_backlog(&self) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT DISTINCT sink FROM outbox WHERE delivered_ms IS NULL AND parked_ms IS NULL ORDER BY sink",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db("outbox"))?;
        rows.iter().map(|r| r.try_get(0)).collect::<Result<_, _>>().map_err(db("outbox"))
    }

    /// The next undelivered notifications of `sink`, in delivery order (the order they were
    /// queued: block order, and a resolve after its alert).
    pub async fn due_for_sink(&self, sink: &str, limit: i64) -> Result<Vec<DueItem>> {
        let rows = sqlx::query(
            "SELECT o.alert_key, o.sink, o.action, o.revision, o.attempts, a.body, a.status, a.created_ms, a.acked_by, a.ack_note, a.revision, a.updated_ms, a.silenced_until_ms, a.amounts
             FROM outbox o JOIN alerts a ON a.key = o.alert_key
             WHERE o.sink = $1 AND o.delivered_ms IS NULL AND o.parked_ms IS NULL
               AND NOT (o.action = 'alert' AND COALESCE(a.silenced_until_ms, 0) > $3)
             ORDER BY o.ord, o.revision, o.action, o.alert_key LIMIT $2",
        )
        .bind(sink)
        .bind(limit)
        .bind(now_ms())
        .fetch_all(&self.pool)
        .await
        .map_err(db("outbox"))?;
        rows.iter()
            .map(|r| {
                Ok(DueItem {
                    key: r.try_get(0).map_err(db("outbox"))?,
                    sink: r.try_get(1).map_err(db("outbox"))?,
                    action: r.try_get(2).map_err(db("outbox"))?,
                    revision: r.try_get(3).map_err(db("outbox"))?,
                    attempts: r.try_get(4).map_err(db("outbox"))?,
                    alert: Self::row_to_alert(r)?,
                })
            })
            .collect()
    }

    /// Every undelivered notification, in delivery order per sink (sinks in name order).
    pub async fn undelivered(&self, limit: i64) -> Result<Vec<DueItem>> {
        let mut out = Vec::new();
        for s in self.sinks_with_backlog().await? {
            out.extend(self.due_for_sink(&s, limit).await?);
        }
        Ok(out)
    }

    /// Marks an outbox row delivered.
    pub async fn delivered(&self, d: &DueItem) -> Result<()> {
        sqlx::query("UPDATE outbox SET delivered_ms = $1, attempts = attempts + 1, last_error = NULL WHERE alert_key = $2 AND sink = $3 AND action = $4 AND revision = $5")
            .bind(now_ms())
            .bind(d.key.as_str())
            .bind(d.sink.as_str())
            .bind(d.action.as_str())
            .bind(d.revision)
            .execute(&self.pool)
            .await
            .map_err(db("outbox"))?;
        Ok(())
    }

    /// Parks a notification its receiver refused for what it is: it is not tried again, and
    /// the sink's queue goes on. Listed by [`Store::parked`].
    pub async fn park(&self, d: &DueItem, error: &str) -> Result<()> {
        sqlx::query("UPDATE outbox SET attempts = attempts + 1, parked_ms = $1, last_error = $2 WHERE alert_key = $3 AND sink = $4 AND action = $5 AND revision = $6")
            .bind(now_ms())
            .bind(error)
            .bind(d.key.to_string())
            .bind(&d.sink)
            .bind(&d.action)
            .bind(d.revision)
            .execute(&self.pool)
            .await
            .map_err(db("outbox"))?;
        Ok(())
    }

    /// Parked notifications: (alert key, sink, action, the receiver's answer), oldest first.
    pub async fn parked(&self) -> Result<Vec<(String, String, String, String)>> {
        let rows = sqlx::query(
            "SELECT alert_key, sink, action, COALESCE(last_error, '') FROM outbox WHERE parked_ms IS NOT NULL AND delivered_ms IS NULL ORDER BY parked_ms",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db("outbox"))?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?)))
            .collect::<std::result::Result<_, sqlx::Error>>()
            .map_err(db("outbox"))
    }

    /// Records a failed attempt on a row (its sink waits `next_ms` before trying again).
    pub async fn failed(&self, d: &DueItem, next_ms: i64, error: &str) -> Result<()> {
        sqlx::query("UPDATE outbox SET attempts = attempts + 1, next_ms = $1, last_error = $2 WHERE alert_key = $3 AND sink = $4 AND action = $5 AND revision = $6")
            .bind(next_ms)
            .bind(error.chars().take(500).collect::<String>())
            .bind(d.key.as_str())
            .bind(d.sink.as_str())
            .bind(d.action.as_str())
            .bind(d.revision)
            .execute(&self.pool)
            .await
            .map_err(db("outbox"))?;
        Ok(())
    }

    /// Stamps a newly taken lease on `chain` before its owner does anything else: from now on a
    /// write with an older token (a deposed owner waking up) is refused. Fails with
    /// [`StoreError::Fenced`] when a newer token is already stored.
    pub async fn fence(&self, chain: &str, f: &Fence) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(db("fence"))?;
        check_fence(&mut tx, chain, f).await?;
        tx.commit().await.map_err(db("fence"))
    }

    /// The newest fencing token stored for each chain: (chain, token, holder, updated ms).
    pub async fn fences(&self) -> Result<Vec<(String, i64, String, i64)>> {
        let rows =
            sqlx::query("SELECT chain, token, holder, updated_ms FROM chain_leases ORDER BY chain")
                .fetch_all(&self.pool)
                .await
                .map_err(db("fences"))?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(db("fences"))
    }

    /// Claims `sink` for `holder` until `now + ttl_ms` when it is free, expired or already
    /// `holder`'s: one deliverer drains a sink at a time, so its notifications keep their order
    /// and none is delivered by two deliverers at once. True when `holder` has it.
    pub async fn claim_sink(
        &self,
        sink: &str,
        holder: &str,
        ttl_ms: i64,
        now: i64,
    ) -> Result<bool> {
        let r = sqlx::query(
            "INSERT INTO sink_claims (sink, holder, until_ms) VALUES ($1, $2, $3)
             ON CONFLICT (sink) DO UPDATE SET holder = excluded.holder, until_ms = excluded.until_ms
             WHERE sink_claims.holder = excluded.holder OR sink_claims.until_ms < $4",
        )
        .bind(sink)
        .bind(holder)
        .bind(now + ttl_ms)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(db("claim sink"))?;
        Ok(r.rows_affected() > 0)
    }

    /// Gives up `holder`'s claim on `sink` (on shutdown), so another deliverer takes it at once.
    pub async fn release_sink(&self, sink: &str, holder: &str) -> Result<()> {
        sqlx::query("DELETE FROM sink_claims WHERE sink = $1 AND holder = $2")
            .bind(sink)
            .bind(holder)
            .execute(&self.pool)
            .await
            .map_err(db("release sink"))?;
        Ok(())
    }

    /// Counts an action of `responder` on finding `id` against its rate limit (at most `max`
    /// in any `window_ms`), atomically and durably: a restart, or another process sharing the
    /// store, is held to the same window. A finding it already acted on (or was refused on, or
    /// has a stored response for) is a [`Reservation::Duplicate`].
    pub async fn reserve_action(
        &self,
        responder: &str,
        id: &str,
        max: u32,
        window_ms: i64,
        now: i64,
    ) -> Result<Reservation> {
        let mut tx = self.pool.begin().await.map_err(db("reserve action"))?;
        if self.backend == Backend::Postgres {
            // One decision at a time per responder across processes.
            sqlx::query("SELECT pg_advisory_xact_lock(7245002, hashtext($1))")
                .bind(responder)
                .execute(&mut *tx)
                .await
                .map_err(db("reserve action"))?;
        }
        // The slot is written first (on SQLite this takes the write lock, so reservations are
        // one at a time), then checked; a refused one is rolled back.
        let fresh = sqlx::query(
            "INSERT INTO action_slots (responder, id, at_ms) VALUES ($1, $2, $3) ON CONFLICT (responder, id) DO NOTHING",
        )
        .bind(responder)
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db("reserve action"))?;
        let responded: i64 = sqlx::query("SELECT COUNT(*) FROM responses WHERE id = $1")
            .bind(id)
            .fetch_one(&mut *tx)
            .await
            .and_then(|r| r.try_get(0))
            .map_err(db("reserve action"))?;
        if fresh.rows_affected() == 0 || responded > 0 {
            return Ok(Reservation::Duplicate);
        }
        let taken: i64 = sqlx::query(
            "SELECT COUNT(*) FROM action_slots WHERE responder = $1 AND at_ms > $2 AND at_ms <= $3",
        )
        .bind(responder)
        .bind(now.saturating_sub(window_ms))
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .and_then(|r| r.try_get(0))
        .map_err(db("reserve action"))?;
        if taken > i64::from(max) {
            return Ok(Reservation::RateLimited);
        }
        tx.commit().await.map_err(db("reserve action"))?;
        Ok(Reservation::Granted)
    }

    /// Outbox rows not yet delivered.
    pub async fn outbox_depth(&self) -> Result<i64> {
        sqlx::query("SELECT COUNT(*) FROM outbox WHERE delivered_ms IS NULL AND parked_ms IS NULL")
            .fetch_one(&self.pool)
            .await
            .and_then(|r| r.try_get(0))
            .map_err(db("outbox"))
    }

    /// Deletes everything of one chain (used by tests and `replay` into a fresh store).
    pub async fn reset_chain(&self, chain: &str) -> Result<()> {
        for t in ["chain_blocks", "checkpoints", "block_log", "chain_state"] {
            sqlx::query(&format!("DELETE FROM {t} WHERE chain = $1"))
                .bind(chain)
                .execute(&self.pool)
                .await
                .map_err(db("reset"))?;
        }
        sqlx::query(
            "DELETE FROM outbox WHERE alert_key IN (SELECT key FROM alerts WHERE chain = $1)",
        )
        .bind(chain)
        .execute(&self.pool)
        .await
        .map_err(db("reset"))?;
        sqlx::query("DELETE FROM alerts WHERE chain = $1")
            .bind(chain)
            .execute(&self.pool)
            .await
            .map_err(db("reset"))?;
        Ok(())
    }
}

/// Stamps `f` on `chain` inside `tx`: succeeds when no newer token is stored (and stores this
/// one), else the write is refused.
async fn check_fence(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    chain: &str,
    f: &Fence,
) -> Result<()> {
    let now = now_ms();
    let stamped = sqlx::query(
        "INSERT INTO chain_leases (chain, token, holder, updated_ms) VALUES ($1, $2, $3, $4)
         ON CONFLICT (chain) DO UPDATE SET token = excluded.token, holder = excluded.holder,
            updated_ms = excluded.updated_ms
         WHERE chain_leases.token <= excluded.token",
    )
    .bind(chain)
    .bind(f.token)
    .bind(f.holder.as_str())
    .bind(now)
    .execute(&mut **tx)
    .await
    .map_err(db("fence"))?;
    if stamped.rows_affected() > 0 {
        return Ok(());
    }
    let row = sqlx::query("SELECT token, holder FROM chain_leases WHERE chain = $1")
        .bind(chain)
        .fetch_one(&mut **tx)
        .await
        .map_err(db("fence"))?;
    Err(StoreError::Fenced {
        chain: chain.to_string(),
        token: f.token,
        current: row.try_get(0).map_err(db("fence"))?,
        holder: row.try_get(1).map_err(db("fence"))?,
    })
}

/// Queues a notification `(alert key, sink, action, revision)` after everything queued so far.
pub(crate) async fn enqueue(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    (key, sink, action, revision): (&str, &str, &str, i64),
    now: i64,
    ord: &mut i64,
) -> Result<()> {
    *ord += 1;
    sqlx::query("INSERT INTO outbox (alert_key, sink, action, revision, enqueued_ms, ord, attempts, next_ms) VALUES ($1, $2, $3, $4, $5, $6, 0, $7) ON CONFLICT (alert_key, sink, action, revision) DO NOTHING")
        .bind(key)
        .bind(sink)
        .bind(action)
        .bind(revision)
        .bind(now)
        .bind(*ord)
        .bind(now)
        .execute(&mut **tx)
        .await
        .map_err(db("enqueue"))?;
    Ok(())
}
