//! The one path by which findings are kept and acted on, whoever made them (a chain event, the
//! sources, a stall, a pending transaction): store them (with their chain event, in one
//! transaction), retrying what a retry can fix; wake the outbox; hand them to the responders.

use crate::error::{NodeError, Result};
use crate::respond::ResponseHub;
use palisade_alert::Outbox;
use palisade_primitives::Finding;
use palisade_store::{Batch, Fence, Store, Stored};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Attempts at storing one batch before the process gives up (a restart resumes from the store).
const ATTEMPTS: u64 = 6;

/// Where one chain's findings go.
#[derive(Debug, Clone)]
pub struct Persist {
    chain: String,
    store: Store,
    outbox: Outbox,
    hub: Option<Arc<ResponseHub>>,
    /// In a cluster, the owner's lease: stamped on every write.
    fence: Arc<Mutex<Option<Fence>>>,
    /// Also told of each stored finding (the cluster's findings stream, for responders in other
    /// processes).
    tap: Option<tokio::sync::mpsc::Sender<(Finding, u128)>>,
    /// On-call routes, and the sinks of findings no route matches (`None`: every sink).
    routes: Arc<(Vec<palisade_store::Route>, Option<Vec<String>>)>,
    /// Reads tokens' units for findings' amounts (EVM chains).
    units: Option<Arc<crate::units::TokenUnits>>,
    /// The settlement-risk index's weights and windows for this chain's engine.
    risk: Arc<palisade_risk::RiskConfig>,
}

impl Persist {
    /// A path for `chain`'s findings.
    pub fn new(chain: &str, store: Store, outbox: Outbox, hub: Option<Arc<ResponseHub>>) -> Self {
        Self {
            chain: chain.into(),
            store,
            outbox,
            hub,
            fence: Default::default(),
            tap: None,
            routes: Default::default(),
            units: None,
            risk: Default::default(),
        }
    }

    /// Scores this chain's blocks with `cfg` (the config's `[risk]`).
    pub(crate) fn with_risk(mut self, cfg: palisade_risk::RiskConfig) -> Self {
        self.risk = Arc::new(cfg);
        self
    }

    /// The risk config the chain's engine scores with.
    pub(crate) fn risk(&self) -> &palisade_risk::RiskConfig {
        &self.risk
    }

    /// Works out findings' amounts in units with `units` (tokens' own symbol and decimals).
    pub(crate) fn with_units(mut self, units: Arc<crate::units::TokenUnits>) -> Self {
        self.units = Some(units);
        self
    }

    /// Routes findings: to the sinks of every route they match, else to `default_route`
    /// (`None`: every sink).
    pub fn routed(
        mut self,
        routes: Vec<palisade_store::Route>,
        default_route: Option<Vec<String>>,
    ) -> Self {
        self.routes = Arc::new((routes, default_route));
        self
    }

    /// Stamps `fence` on every write from now on.
    pub fn fenced(self, fence: Fence) -> Self {
        *self.fence.lock().unwrap_or_else(|p| p.into_inner()) = Some(fence);
        self
    }

    /// Sends each stored finding to `tap` too, with the base fee it was judged at (never
    /// blocking detection: a full channel drops; the store keeps every finding anyway).
    pub fn tapped(mut self, tap: tokio::sync::mpsc::Sender<(Finding, u128)>) -> Self {
        self.tap = Some(tap);
        self
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Stores `batch` (its sinks and fence set here), retrying transient failures; then wakes
    /// the outbox and hands the findings to the responders, with `base_fee` (the next block's
    /// expected base fee, for pricing a transaction). A fenced write is
    /// [`NodeError::Deposed`]: the chain is someone else's now.
    pub async fn save(&self, mut batch: Batch, base_fee: u128) -> Result<Stored> {
        batch.chain = self.chain.clone();
        batch.sinks = self.routes.1.clone().unwrap_or_else(|| self.outbox.sink_ids());
        batch.routes = self.routes.0.clone();
        batch.fence = self.fence.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(u) = &self.units {
            for f in &batch.findings {
                if let Some(a) = u.amounts(f).await {
                    batch.amounts.insert(f.key, a);
                }
            }
        }
        let mut attempt = 0;
        let stored = loop {
            match self.store.apply_logged(&batch).await {
                Ok(n) => break n,
                Err(e) if e.is_fenced() => return Err(NodeError::from_store(&self.chain, e)),
                Err(e) if attempt + 1 < ATTEMPTS => {
                    attempt += 1;
                    tracing::error!(target: "palisade::node", chain = %self.chain, error = %e, attempt, "Storing failed; retrying.");
                    tokio::time::sleep(Duration::from_millis(250 * attempt)).await;
                }
                Err(e) => return Err(NodeError::from_store(&self.chain, e)),
            }
        };
        self.outbox.wake();
        // The newest settlement-risk point, for responders that publish the index on-chain.
        if let (Some(hub), Some(p)) = (&self.hub, batch.risk.last()) {
            if let Some(ts) = p.timestamp {
                hub.publish_risk(&self.chain, p.index_e6 as f64 / 1e6, p.block, ts, base_fee).await;
            }
        }
        if !batch.findings.is_empty() {
            if let Some(tap) = &self.tap {
                for f in &batch.findings {
                    if tap.try_send((f.clone(), base_fee)).is_err() {
                        tracing::warn!(target: "palisade::node", chain = %self.chain, "The findings stream is behind; a finding goes to responders late (it is stored).");
                    }
                }
            }
            if let Some(hub) = &self.hub {
                hub.consider(&self.chain, &batch.findings, base_fee).await;
            }
        }
        Ok(stored)
    }

    /// Stores findings that are not part of a chain event (endpoints, stalls, deep reorgs,
    /// pending transactions); `confirmed_upto: None` delivers them at once.
    pub async fn findings(
        &self,
        findings: Vec<Finding>,
        confirmed_upto: Option<u64>,
        base_fee: u128,
    ) -> Result<usize> {
        if findings.is_empty() {
            return Ok(0);
        }
        let b = Batch { findings, confirmed_upto, ..Default::default() };
        self.save(b, base_fee).await.map(|s| s.alerts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_primitives::{BlockRef, Severity};

    #[tokio::test]
    async fn a_fenced_write_deposes_and_stores_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&format!("sqlite://{}", dir.path().join("p.sqlite").display()))
            .await
            .unwrap();
        let outbox = Outbox::new(store.clone(), vec![]);
        let newer = Fence { token: 7, holder: "b".into() };
        store.fence("c", &newer).await.unwrap();
        let old = Persist::new("c", store.clone(), outbox.clone(), None)
            .fenced(Fence { token: 5, holder: "a".into() });
        let f = Finding::new("d", "d", "c", BlockRef::synthetic(1), "s", Severity::High, "t");
        let e = old.findings(vec![f.clone()], None, 0).await.unwrap_err();
        assert!(matches!(e, NodeError::Deposed { .. }), "{e}");
        assert!(store.list_alerts(&Default::default()).await.unwrap().is_empty());
        let new = Persist::new("c", store.clone(), outbox, None).fenced(newer);
        assert_eq!(new.findings(vec![f], None, 0).await.unwrap(), 1);
    }
}
