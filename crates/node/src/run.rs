//! Wiring: the store, the sinks and their outbox, the API, the responders, and each chain's
//! service (with its mempool watch), as tasks of one process; or, with `[cluster]`, the roles
//! this process takes ([`crate::cluster`]).

use crate::api::{self, ApiState};
use crate::config::{ChainSettings, Config};
use crate::error::{NodeError, Result};
use crate::metrics::Metrics;
use crate::persist::Persist;
use crate::respond::{Control, ResponseHub};
use crate::service::ChainService;
use crate::sources::ChainSource;
use crate::status::ChainStatus;
use eyre::{eyre, WrapErr};
use futures::future::BoxFuture;
use palisade_alert::Outbox;
use palisade_store::{Fence, Store};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;

/// The cancellation token that stops [`run`].
pub type Shutdown = CancellationToken;

/// Per-chain status shared with the API.
pub(crate) type StatusMap = Arc<Mutex<BTreeMap<String, ChainStatus>>>;

/// What a chain's service is given besides its config: in a cluster, the lease it writes under,
/// the verified-chain stream it publishes to, and the findings stream responders read.
#[derive(Debug, Default, Clone)]
pub(crate) struct Attach {
    pub(crate) fence: Option<Fence>,
    pub(crate) feed: Option<tokio::sync::mpsc::Sender<crate::service::ChainNote>>,
    pub(crate) tap: Option<tokio::sync::mpsc::Sender<(palisade_primitives::Finding, u128)>>,
}

/// What every part of a process shares, built once at start.
#[derive(Debug, Clone)]
pub(crate) struct Runtime {
    pub(crate) cfg: Arc<Config>,
    pub(crate) store: Store,
    pub(crate) outbox: Outbox,
    pub(crate) metrics: Metrics,
    pub(crate) status: StatusMap,
    /// The responders, when this process runs them.
    pub(crate) hub: Option<Arc<ResponseHub>>,
    pub(crate) control: Arc<Control>,
}

impl Runtime {
    /// Opens the store, builds the sinks (and checks them) and, when `responders`, the
    /// responders (their keys are loaded now: a wrong password stops the start, not an attack).
    pub(crate) async fn build(cfg: Config, responders: bool) -> eyre::Result<Self> {
        std::fs::create_dir_all(&cfg.data_dir)
            .wrap_err_with(|| format!("creating {}", cfg.data_dir.display()))?;
        let store = Store::open(&cfg.store_url()).await?;
        let sinks = palisade_alert::build_sinks(&cfg.sinks, &cfg.data_dir)?;
        let outbox = Outbox::new(store.clone(), sinks);
        outbox.healthchecks().await;
        let metrics = Metrics::new();
        let control = Arc::new(Control::default());
        let hub = if responders && !cfg.responders.is_empty() {
            let mut links = HashMap::new();
            for c in &cfg.chains {
                let ep =
                    c.endpoints.first().ok_or_else(|| eyre!("chain {}: no endpoint", c.name))?;
                let rpc = palisade_source::evm_rpc::RpcClient::new(ep, &c.rpc)
                    .wrap_err_with(|| format!("chain {}", c.name))?;
                links.insert(
                    c.name.clone(),
                    palisade_respond::ChainLink { rpc: Arc::new(rpc), chain_id: c.chain_id },
                );
            }
            let ctl: Arc<dyn palisade_respond::NodeControl> = control.clone();
            let responders =
                palisade_respond::Responders::build(&cfg.responders, &links, Some(ctl))?;
            Some(ResponseHub::new(responders, store.clone(), metrics.clone()))
        } else {
            None
        };
        Ok(Self {
            cfg: Arc::new(cfg),
            store,
            outbox,
            metrics,
            status: Default::default(),
            hub,
            control,
        })
    }

    /// Every chain's name, of every kind, in config order.
    pub(crate) fn chain_names(&self) -> Vec<String> {
        let c = &self.cfg;
        c.chains
            .iter()
            .map(|x| x.name.clone())
            .chain(c.comet_chains.iter().map(|x| x.name.clone()))
            .chain(c.beacon_chains.iter().map(|x| x.name.clone()))
            .collect()
    }

    /// The path `chain`'s findings take: stamped with the lease in a cluster, and there handed
    /// to the responders through the findings stream (`tap`) rather than in this process.
    pub(crate) fn persist(&self, chain: &str, attach: &Attach) -> Persist {
        let hub = if attach.tap.is_some() { None } else { self.hub.clone() };
        let mut p = Persist::new(chain, self.store.clone(), self.outbox.clone(), hub)
            .routed(self.cfg.routes.clone(), self.cfg.default_route.clone())
            .with_risk(self.cfg.risk.clone());
        // EVM chains: tokens the bundled table does not know are asked for their units.
        if let Some(ep) = self.cfg.chains.iter().find(|c| c.name == chain).and_then(|c| {
            c.endpoints
                .first()
                .and_then(|ep| palisade_source::evm_rpc::RpcClient::new(ep, &c.rpc).ok())
        }) {
            p = p.with_units(Arc::new(crate::units::TokenUnits::new(Arc::new(ep))));
        }
        if let Some(f) = &attach.fence {
            p = p.fenced(f.clone());
        }
        if let Some(t) = &attach.tap {
            p = p.tapped(t.clone());
        }
        p
    }

    /// Serves the API until `shutdown`.
    pub(crate) async fn serve_api(
        &self,
        shutdown: CancellationToken,
        cluster: Option<crate::cluster::ClusterView>,
    ) -> eyre::Result<Option<BoxFuture<'static, eyre::Result<()>>>> {
        if self.cfg.api.listen.is_empty() {
            return Ok(None);
        }
        let listener = tokio::net::TcpListener::bind(&self.cfg.api.listen)
            .await
            .wrap_err_with(|| format!("binding the API to {}", self.cfg.api.listen))?;
        let access = api::ApiAccess::from_config(&self.cfg.api);
        tracing::info!(target: "palisade::node", listen = %self.cfg.api.listen,
            read_only = access.read_only, changes = access.writes_enabled(),
            "API and dashboard listening (http://{}/).", self.cfg.api.listen);
        let app = api::router(ApiState {
            metrics: self.metrics.clone(),
            store: self.store.clone(),
            outbox: self.outbox.clone(),
            chains: self.status.clone(),
            cluster,
            config: self.cfg.clone(),
            access: Arc::new(access),
        });
        Ok(Some(Box::pin(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move { shutdown.cancelled().await })
                .await?;
            Ok(())
        })))
    }

    /// Starts the service of chain `name` (and its mempool watch): connects its sources,
    /// restores it from the store (reverting a dead fork), and returns its task, which runs
    /// until `shutdown` or an error. With a `fence`, every write is stamped with it.
    pub(crate) async fn start_chain(
        &self,
        name: &str,
        attach: Attach,
        shutdown: CancellationToken,
    ) -> Result<BoxFuture<'static, Result<()>>> {
        let cfg = &self.cfg;
        let persist = self.persist(name, &attach);
        if let Some(c) = cfg.chains.iter().find(|c| c.name == name) {
            let mut svc = ChainService::start(
                c.clone(),
                &cfg.detectors,
                &cfg.links,
                persist.clone(),
                self.metrics.clone(),
                self.status.clone(),
            )
            .await?;
            let mut mempool = None;
            if c.mempool.enabled {
                let (tx, rx) = tokio::sync::mpsc::channel(crate::mempool::TIP_CHANNEL);
                svc = svc.with_tips(tx);
                mempool = Some(
                    crate::mempool::MempoolService::new(
                        c,
                        &cfg.detectors,
                        rx,
                        persist,
                        self.metrics.clone(),
                        self.status.clone(),
                    )
                    .map_err(|e| NodeError::Config(format!("{e:#}")))?,
                );
            }
            let mut svc = self.with_control(svc);
            if let Some(feed) = attach.feed {
                svc = svc.with_feed(feed).await?;
            }
            return Ok(Box::pin(async move {
                match mempool {
                    None => svc.run(shutdown).await,
                    Some(m) => {
                        // The chain and its mempool watch stop together.
                        let s = shutdown.child_token();
                        let (a, b) = tokio::join!(
                            async {
                                let r = svc.run(s.clone()).await;
                                s.cancel();
                                r
                            },
                            async {
                                let r = m.run(s.clone()).await;
                                s.cancel();
                                r
                            }
                        );
                        a.and(b)
                    }
                }
            }));
        }
        let build = |e: eyre::Report| NodeError::Config(format!("{e:#}"));
        if let Some(c) = cfg.comet_chains.iter().find(|c| c.name == name) {
            let dets = crate::config::build_detectors(&cfg.detectors, &c.name, &cfg.links)
                .map_err(build)?;
            let sources = crate::sources::comet::CometSources::new(c).map_err(build)?;
            return self.start_with(c.into(), sources, dets, persist, attach, shutdown).await;
        }
        if let Some(c) = cfg.beacon_chains.iter().find(|c| c.name == name) {
            let dets = crate::config::build_detectors(&cfg.detectors, &c.name, &cfg.links)
                .map_err(build)?;
            let sources = crate::sources::beacon::BeaconSources::new(c).map_err(build)?;
            return self.start_with(c.into(), sources, dets, persist, attach, shutdown).await;
        }
        Err(NodeError::Config(format!("no chain named {name:?}")))
    }

    async fn start_with<S: ChainSource + Send + 'static>(
        &self,
        settings: ChainSettings,
        sources: S,
        dets: Vec<Box<dyn palisade_detect::Detector>>,
        persist: Persist,
        attach: Attach,
        shutdown: CancellationToken,
    ) -> Result<BoxFuture<'static, Result<()>>> {
        let svc = ChainService::start_with(
            settings,
            sources,
            dets,
            &self.cfg.detectors,
            persist,
            self.metrics.clone(),
            self.status.clone(),
        )
        .await?;
        let mut svc = self.with_control(svc);
        if let Some(feed) = attach.feed {
            svc = svc.with_feed(feed).await?;
        }
        Ok(Box::pin(async move { svc.run(shutdown).await }))
    }

    fn with_control<S: ChainSource>(&self, svc: ChainService<S>) -> ChainService<S> {
        if self.hub.is_some() {
            svc.with_control(self.control.clone())
        } else {
            svc
        }
    }
}

/// Runs Palisade live until `shutdown` or a fatal error: one process doing everything (every
/// chain, the outbox, the API, the responders), or, with `[cluster]`, the roles this process
/// takes in a cluster.
pub async fn run(cfg: Config, shutdown: Shutdown) -> eyre::Result<()> {
    if cfg.chains.is_empty() && cfg.beacon_chains.is_empty() && cfg.comet_chains.is_empty() {
        return Err(eyre!(
            "the config has no [[chains]], [[beacon_chains]] or [[comet_chains]]: nothing to monitor"
        ));
    }
    if cfg.cluster.is_some() {
        return crate::cluster::run(cfg, shutdown).await;
    }
    let rt = Runtime::build(cfg, true).await?;
    let mut tasks: tokio::task::JoinSet<eyre::Result<()>> = tokio::task::JoinSet::new();
    tasks.spawn({
        let (o, s) = (rt.outbox.clone(), shutdown.clone());
        async move {
            o.run(s).await;
            Ok(())
        }
    });
    if let Some(api) = rt.serve_api(shutdown.clone(), None).await? {
        tasks.spawn(api);
    }
    // Each chain starts on its own: one whose node is down waits for it (and a shutdown)
    // without holding the others back.
    for name in rt.chain_names() {
        let (rt, s) = (rt.clone(), shutdown.clone());
        tasks.spawn(async move {
            let task = tokio::select! {
                t = rt.start_chain(&name, Attach::default(), s.clone()) => t?,
                () = s.cancelled() => return Ok(()),
            };
            task.await.map_err(eyre::Report::new)
        });
    }
    wait(tasks, &shutdown).await
}

/// Waits for every task; the first error stops them all and is returned.
pub(crate) async fn wait(
    mut tasks: tokio::task::JoinSet<eyre::Result<()>>,
    shutdown: &CancellationToken,
) -> eyre::Result<()> {
    let mut result = Ok(());
    while let Some(r) = tasks.join_next().await {
        let r = r.map_err(|e| eyre!("task panicked: {e}")).and_then(|x| x);
        if let Err(e) = r {
            tracing::error!(target: "palisade::node", error = %format!("{e:#}"), "Fatal error; shutting down.");
            if result.is_ok() {
                result = Err(e);
            }
            shutdown.cancel();
        }
    }
    result
}
