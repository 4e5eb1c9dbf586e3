//! What operators do to alerts (acknowledge, resolve, silence, annotate), each kept in the
//! alert's note history, and what live views and the API read: alerts changed since a time,
//! an alert's deliveries.

use crate::error::db;
use crate::store::{enqueue, now_ms};
use crate::{AlertRow, Result, Store};
use sqlx::Row;

/// What an operator did to an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperatorAction {
    /// Someone is on it: the alert becomes `acked`; sinks that were told of it are told
    /// (PagerDuty resolves its incident).
    Ack,
    /// Dealt with: the alert becomes `resolved`; sinks that were told of it are told.
    Resolve,
    /// Its notifications wait until then (ms since epoch); its status does not change.
    Silence {
        /// End of the silence (ms since epoch).
        until_ms: i64,
    },
    /// A note only.
    Note,
}

impl OperatorAction {
    /// The name kept in the note history: `ack`, `resolve`, `silence` or `note`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Ack => "ack",
            Self::Resolve => "resolve",
            Self::Silence { .. } => "silence",
            Self::Note => "note",
        }
    }

    /// The outbox action that tells sinks about it, if any: `ack` or `close`.
    fn notification(&self) -> Option<&'static str> {
        match self {
            Self::Ack => Some("ack"),
            Self::Resolve => Some("close"),
            Self::Silence { .. } | Self::Note => None,
        }
    }
}

/// Where one notification about an alert stands at one sink.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Delivery {
    /// Sink id.
    pub sink: String,
    /// `alert`, `resolve` (reorged out), `ack` or `close`.
    pub action: String,
    /// The alert's revision it is about.
    pub revision: i64,
    /// Attempts so far.
    pub attempts: i64,
    /// When the sink took it (ms since epoch).
    pub delivered_ms: Option<i64>,
    /// When it was parked (refused for what it is).
    pub parked_ms: Option<i64>,
    /// The last error or refusal.
    pub last_error: Option<String>,
}

impl Store {
    /// Records what an operator did to the alert `key_prefix` (a key or unique prefix), with an
    /// optional note, in its history (never overwritten), and tells the sinks that were told of
    /// it when the action is one they hear of. A retracted (`reorged`) alert keeps its status.
    pub async fn act(
        &self,
        key_prefix: &str,
        by: &str,
        action: OperatorAction,
        note: Option<&str>,
    ) -> Result<AlertRow> {
        let a = self.get_alert(key_prefix).await?;
        let key = a.finding.key.to_string();
        let now = now_ms();
        let mut tx = self.pool.begin().await.map_err(db("act"))?;
        let set = match action {
            OperatorAction::Ack => "status = CASE WHEN status IN ('reorged', 'resolved') THEN status ELSE 'acked' END, acked_by = $1, ack_note = COALESCE($2, ack_note)",
            OperatorAction::Resolve => "status = CASE WHEN status = 'reorged' THEN status ELSE 'resolved' END, acked_by = COALESCE(acked_by, $1), ack_note = COALESCE($2, ack_note)",
            OperatorAction::Silence { .. } => "silenced_until_ms = $5, ack_note = COALESCE($2, ack_note), acked_by = COALESCE(acked_by, $1)",
            OperatorAction::Note => "ack_note = COALESCE($2, ack_note), acked_by = COALESCE(acked_by, $1)",
        };
        let until = match action {
            OperatorAction::Silence { until_ms } => Some(until_ms),
            _ => None,
        };
        let sql = format!("UPDATE alerts SET {set}, updated_ms = $3 WHERE key = $4");
        let mut q = sqlx::query(&sql).bind(by).bind(note.map(str::to_string)).bind(now).bind(&key);
        if let Some(u) = until {
            q = q.bind(u);
        }
        q.execute(&mut *tx).await.map_err(db("act"))?;
        sqlx::query(
            "INSERT INTO alert_notes (alert_key, seq, at_ms, author, action, note)
             SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4, $5 FROM alert_notes WHERE alert_key = $1",
        )
        .bind(&key)
        .bind(now)
        .bind(by)
        .bind(action.as_str())
        .bind(note.map(str::to_string))
        .execute(&mut *tx)
        .await
        .map_err(db("act"))?;
        if let Some(what) = action.notification().filter(|_| a.status != "reorged") {
            let told: Vec<String> = sqlx::query(
                "SELECT DISTINCT sink FROM outbox WHERE alert_key = $1 AND action = 'alert' AND revision = $2 ORDER BY sink",
            )
            .bind(&key)
            .bind(a.revision)
            .fetch_all(&mut *tx)
            .await
            .map_err(db("act"))?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<std::result::Result<_, sqlx::Error>>()
            .map_err(db("act"))?;
            let last: Option<i64> = sqlx::query("SELECT MAX(ord) FROM outbox")
                .fetch_one(&mut *tx)
                .await
                .and_then(|r| r.try_get(0))
                .map_err(db("act"))?;
            let mut ord = now.saturating_mul(1_000).max(last.unwrap_or(0));
            for s in &told {
                enqueue(&mut tx, (&key, s, what, a.revision), now, &mut ord).await?;
            }
        }
        tx.commit().await.map_err(db("act"))?;
        self.touch();
        self.get_alert(&key).await
    }

    /// Alerts whose last change (stored, confirmed, retracted, reopened, or acted on) comes
    /// after `(updated_ms, key)` in the order of changes, oldest change first, at most `limit`:
    /// page through with the last row's `(updated_ms, key)`.
    pub async fn changed_after(
        &self,
        updated_ms: i64,
        key: &str,
        limit: i64,
    ) -> Result<Vec<AlertRow>> {
        let rows = sqlx::query(
            "SELECT body, status, created_ms, acked_by, ack_note, revision, updated_ms, silenced_until_ms, amounts
             FROM alerts WHERE updated_ms > $1 OR (updated_ms = $1 AND key > $2)
             ORDER BY updated_ms, key LIMIT $3",
        )
        .bind(updated_ms)
        .bind(key)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(db("changed alerts"))?;
        rows.iter().map(Self::row_to_alert).collect()
    }

    /// Where each notification about alert `key` stands, in queue order.
    pub async fn deliveries(&self, key: &str) -> Result<Vec<Delivery>> {
        let rows = sqlx::query(
            "SELECT sink, action, revision, attempts, delivered_ms, parked_ms, last_error
             FROM outbox WHERE alert_key = $1 ORDER BY ord, sink",
        )
        .bind(key)
        .fetch_all(&self.pool)
        .await
        .map_err(db("deliveries"))?;
        rows.iter()
            .map(|r| {
                Ok(Delivery {
                    sink: r.try_get(0)?,
                    action: r.try_get(1)?,
                    revision: r.try_get(2)?,
                    attempts: r.try_get(3)?,
                    delivered_ms: r.try_get(4)?,
                    parked_ms: r.try_get(5)?,
                    last_error: r.try_get(6)?,
                })
            })
            .collect::<std::result::Result<_, sqlx::Error>>()
            .map_err(db("deliveries"))
    }

    /// The responses recorded for alert `key`.
    pub async fn responses_for(&self, key: &str) -> Result<Vec<crate::ResponseRow>> {
        Ok(self.list_responses(10_000).await?.into_iter().filter(|r| r.alert_key == key).collect())
    }

    /// The recent blocks of `chain` in the store's window: (number, hash, recorded line),
    /// newest first, at most `limit`.
    pub async fn recent_blocks(
        &self,
        chain: &str,
        limit: i64,
    ) -> Result<Vec<(u64, String, String)>> {
        let rows = sqlx::query(
            "SELECT number, hash, data FROM chain_blocks WHERE chain = $1 ORDER BY number DESC LIMIT $2",
        )
        .bind(chain)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(db("recent blocks"))?;
        rows.iter()
            .map(|r| {
                let n: i64 = r.try_get(0)?;
                Ok((n as u64, r.try_get(1)?, r.try_get(2)?))
            })
            .collect::<std::result::Result<_, sqlx::Error>>()
            .map_err(db("recent blocks"))
    }

    /// How many blocks of `chain` reorgs reverted, and the deepest reorg's depth, from its
    /// block log.
    pub async fn reorg_stats(&self, chain: &str) -> Result<(u64, u64)> {
        let log = self.block_log(chain).await?;
        let (mut reverted, mut deepest, mut run) = (0u64, 0u64, 0u64);
        for b in &log {
            if b.action == "revert" {
                reverted += 1;
                run += 1;
                deepest = deepest.max(run);
            } else {
                run = 0;
            }
        }
        Ok((reverted, deepest))
    }
}

impl Store {
    /// The newest stored risk points of `chain` (newest first), at most `limit`, with block
    /// timestamps in `[from, to)` (seconds) when given.
    pub async fn risk_points(
        &self,
        chain: &str,
        from: Option<u64>,
        to: Option<u64>,
        limit: i64,
    ) -> Result<Vec<crate::RiskRow>> {
        let rows = sqlx::query(
            "SELECT number, hash, timestamp, index_e6, inputs_hash, body, stored_ms FROM risk_points
             WHERE chain = $1 AND COALESCE(timestamp, 0) >= $2 AND COALESCE(timestamp, 0) < $3
             ORDER BY number DESC LIMIT $4",
        )
        .bind(chain)
        .bind(from.map_or(0, |f| f.min(i64::MAX as u64) as i64))
        .bind(to.map_or(i64::MAX, |t| t.min(i64::MAX as u64) as i64))
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(db("risk points"))?;
        rows.iter()
            .map(|r| {
                let n: i64 = r.try_get(0)?;
                let h: String = r.try_get(1)?;
                let ts: Option<i64> = r.try_get(2)?;
                let hash = h.parse().unwrap_or_default();
                Ok(crate::RiskRow {
                    block: palisade_primitives::BlockRef::new(n as u64, hash),
                    timestamp: ts.map(|t| t as u64),
                    index_e6: r.try_get(3)?,
                    inputs_hash: r.try_get(4)?,
                    body: r.try_get(5)?,
                    stored_ms: r.try_get(6)?,
                })
            })
            .collect::<std::result::Result<_, sqlx::Error>>()
            .map_err(db("risk points"))
    }
}
