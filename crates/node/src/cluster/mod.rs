//! Several processes, one truth: the roles of one member of a cluster that shares the work
//! through NATS JetStream (leases, membership, streams) and one PostgreSQL store.
//!
//! - **Owner**: holds the lease of some chains (a JetStream key-value entry per chain, created
//!   when free, updated with the expected revision, expiring after `lease_ttl_ms` without
//!   renewal). The revision at which it took the lease is its fencing token: every store write
//!   for the chain carries it and is refused once a newer owner has stamped a newer one. It runs
//!   those chains exactly as a single process does (a new owner resumes as a restart does:
//!   revert to the fork point, backfill), publishes each verified block and reorg to the chain's
//!   stream, and each stored finding to the findings stream. Chains are placed by rendezvous
//!   hashing over the live owners ([`place`]), so they spread and move when members come and go.
//! - **Deliverer**: drains the outbox, claiming one sink at a time in the store.
//! - **Responder**: runs the responders on the findings stream (a shared durable consumer; the
//!   store's ledger keeps them to one action per finding and to their rate limits).
//! - **API**: serves the API from the store, the membership and the leases, and follows the
//!   verified-chain streams for the chains' tips.

mod place;

use crate::config::{ClusterConfig, Config, Role};
use crate::run::{Attach, Runtime};
use crate::service::ChainNote;
use crate::status::{ClusterStatus, LeaseStatus, MemberStatus};
use async_nats::jetstream::{self, kv};
use bytes::Bytes;
use eyre::eyre;
use futures::StreamExt;
use palisade_primitives::Finding;
use palisade_store::{now_ms, Fence};
use place::{Holder, Step};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// What a lease entry holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct LeaseValue {
    holder: String,
    /// When it was taken or last renewed (ms since the epoch).
    at_ms: i64,
    /// When it was taken.
    since_ms: i64,
}

/// What a member entry holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct MemberValue {
    node_id: String,
    roles: Vec<Role>,
    owns: Vec<String>,
    at_ms: i64,
    since_ms: i64,
}

/// The cluster's handles on NATS.
#[derive(Clone)]
pub(crate) struct Nats {
    client: async_nats::Client,
    js: jetstream::Context,
    leases: kv::Store,
    members: kv::Store,
    prefix: String,
    /// The longest a lease or membership operation may take (a fifth of the lease TTL): a
    /// NATS that stopped answering must not keep an owner writing past its lease.
    op: Duration,
}

impl std::fmt::Debug for Nats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Nats").field("prefix", &self.prefix).finish_non_exhaustive()
    }
}

/// A name JetStream accepts in stream and consumer names and subjects.
fn token(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
        .collect()
}

/// The URL's host and port only (a NATS URL may carry a user and password).
fn nats_host(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.rsplit('@').next().unwrap_or(rest).split('/').next().unwrap_or("").to_string()
}

async fn bucket(js: &jetstream::Context, name: &str, max_age: Duration) -> eyre::Result<kv::Store> {
    if let Ok(b) = js.get_key_value(name).await {
        return Ok(b);
    }
    js.create_key_value(kv::Config {
        bucket: name.to_string(),
        history: 1,
        max_age,
        storage: jetstream::stream::StorageType::File,
        ..Default::default()
    })
    .await
    .map_err(|e| eyre!("creating the JetStream key-value bucket {name}: {e}"))
}

impl Nats {
    /// Connects and opens (creating when missing) the buckets and the findings stream.
    pub(crate) async fn connect(cl: &ClusterConfig) -> eyre::Result<Self> {
        let host = nats_host(&cl.nats_url);
        let client = async_nats::ConnectOptions::new()
            .connection_timeout(Duration::from_secs(5))
            .max_reconnects(None)
            .connect(cl.nats_url.as_str())
            .await
            .map_err(|e| {
                eyre!("cannot reach NATS at {host}: {e} (is nats-server running with -js?)")
            })?;
        let js = jetstream::new(client.clone());
        let ttl = Duration::from_millis(cl.lease_ttl_ms.max(500));
        let p = token(&cl.prefix);
        let leases = bucket(&js, &format!("{p}_leases"), ttl).await?;
        let members = bucket(&js, &format!("{p}_members"), ttl * 3).await?;
        js.get_or_create_stream(jetstream::stream::Config {
            name: format!("{p}_findings"),
            subjects: vec![format!("{p}.findings.>")],
            max_age: Duration::from_secs(7 * 24 * 3600),
            duplicate_window: Duration::from_secs(120),
            ..Default::default()
        })
        .await
        .map_err(|e| {
            eyre!("creating the findings stream: {e} (is JetStream enabled on {host}?)")
        })?;
        Ok(Self {
            client,
            js,
            leases,
            members,
            prefix: p,
            op: (ttl / 5).max(Duration::from_millis(200)),
        })
    }

    fn chain_stream(&self, chain: &str) -> String {
        format!("{}_chain_{}", self.prefix, token(chain))
    }

    fn chain_subject(&self, chain: &str) -> String {
        format!("{}.chain.{}", self.prefix, token(chain))
    }

    async fn ensure_chain_stream(&self, chain: &str) -> eyre::Result<()> {
        self.js
            .get_or_create_stream(jetstream::stream::Config {
                name: self.chain_stream(chain),
                subjects: vec![self.chain_subject(chain)],
                max_age: Duration::from_secs(24 * 3600),
                max_messages: 100_000,
                duplicate_window: Duration::from_secs(120),
                ..Default::default()
            })
            .await
            .map_err(|e| eyre!("creating the verified-chain stream of {chain}: {e}"))?;
        Ok(())
    }

    /// Runs a lease or membership operation with the operation deadline.
    async fn within<T, E: std::fmt::Display>(
        &self,
        what: &str,
        f: impl std::future::Future<Output = Result<T, E>>,
    ) -> eyre::Result<T> {
        match tokio::time::timeout(self.op, f).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(eyre!("{what}: {e}")),
            Err(_) => Err(eyre!("{what}: NATS did not answer within {} ms", self.op.as_millis())),
        }
    }

    async fn lease(&self, chain: &str) -> eyre::Result<Option<(LeaseValue, u64)>> {
        let what = format!("reading the lease of {chain}");
        match self.within(&what, self.leases.entry(token(chain))).await? {
            Some(e) if e.operation == kv::Operation::Put => {
                let v: LeaseValue = serde_json::from_slice(&e.value)
                    .map_err(|err| eyre!("lease of {chain}: {err}"))?;
                Ok(Some((v, e.revision)))
            }
            _ => Ok(None),
        }
    }

    async fn live_members(&self, ttl: Duration) -> eyre::Result<Vec<MemberValue>> {
        match tokio::time::timeout(self.op * 2, self.read_members(ttl)).await {
            Ok(r) => r,
            Err(_) => Err(eyre!("members: NATS did not answer in time")),
        }
    }

    async fn read_members(&self, ttl: Duration) -> eyre::Result<Vec<MemberValue>> {
        let mut keys = self.members.keys().await.map_err(|e| eyre!("members: {e}"))?;
        let mut out = Vec::new();
        let now = now_ms();
        while let Some(k) = keys.next().await {
            let Ok(k) = k else { continue };
            if let Ok(Some(v)) = self.members.get(&k).await {
                if let Ok(m) = serde_json::from_slice::<MemberValue>(&v) {
                    if now - m.at_ms < ttl.as_millis() as i64 {
                        out.push(m);
                    }
                }
            }
        }
        out.sort_by(|a, b| a.node_id.cmp(&b.node_id));
        Ok(out)
    }
}

/// A chain this member owns.
#[derive(Debug)]
struct Owned {
    /// The revision the lease was taken at: the fencing token.
    token: u64,
    /// The lease's current revision.
    revision: u64,
    since_ms: i64,
    last_renewed: Instant,
    stop: CancellationToken,
    task: JoinHandle<crate::Result<()>>,
}

/// What the API shows of the cluster.
#[derive(Debug, Clone)]
pub(crate) struct ClusterView {
    node_id: String,
    roles: Vec<Role>,
    nats: Nats,
    ttl: Duration,
    chains: Vec<String>,
}

impl ClusterView {
    /// Members, their roles, and who owns which chain with the lease's age.
    pub(crate) async fn status(&self) -> ClusterStatus {
        let now = now_ms();
        let members = self.nats.live_members(self.ttl).await.unwrap_or_default();
        let mut leases = BTreeMap::new();
        for c in &self.chains {
            if let Ok(Some((v, rev))) = self.nats.lease(c).await {
                leases.insert(
                    c.clone(),
                    LeaseStatus {
                        owner: v.holder,
                        revision: rev,
                        held_ms: (now - v.since_ms).max(0) as u64,
                        renewed_ms_ago: (now - v.at_ms).max(0) as u64,
                    },
                );
            }
        }
        ClusterStatus {
            node_id: self.node_id.clone(),
            roles: self.roles.iter().map(|r| r.as_str().to_string()).collect(),
            members: members
                .into_iter()
                .map(|m| MemberStatus {
                    node_id: m.node_id,
                    roles: m.roles.iter().map(|r| r.as_str().to_string()).collect(),
                    owns: m.owns,
                    up_ms: (now - m.since_ms).max(0) as u64,
                    seen_ms_ago: (now - m.at_ms).max(0) as u64,
                })
                .collect(),
            leases,
        }
    }
}

/// Runs this member's roles until `shutdown` or a fatal error.
pub(crate) async fn run(cfg: Config, shutdown: CancellationToken) -> eyre::Result<()> {
    let cl = cfg.cluster.clone().ok_or_else(|| eyre!("no [cluster] table"))?;
    if !cfg.store_url().starts_with("postgres") {
        return Err(eyre!(
            "[cluster] needs a shared PostgreSQL store ([store] url = \"postgres://...\"): SQLite is one process's"
        ));
    }
    let nats = Nats::connect(&cl).await?;
    let rt = Runtime::build(cfg, cl.has(Role::Responder)).await?;
    let ttl = Duration::from_millis(cl.lease_ttl_ms.max(500));
    let chains = rt.chain_names();
    tracing::info!(target: "palisade::cluster", node = %cl.node_id, roles = ?cl.roles, chains = chains.len(), nats = %nats_host(&cl.nats_url), "Joining the cluster.");
    let owned: Arc<Mutex<BTreeSet<String>>> = Default::default();
    let since = now_ms();
    let mut tasks: tokio::task::JoinSet<eyre::Result<()>> = tokio::task::JoinSet::new();
    // Membership: a heartbeat every quarter TTL.
    tasks.spawn(heartbeat(nats.clone(), cl.clone(), owned.clone(), since, shutdown.clone()));
    if cl.has(Role::Deliverer) {
        // A sink's claim lasts one lease TTL (renewed at every pass, at least once a second):
        // a deliverer killed while holding it is replaced as fast as a chain's owner.
        let outbox = rt.outbox.clone().with_claims(&cl.node_id, ttl.as_millis() as i64);
        let o = outbox.clone();
        tasks.spawn(wake_on_stored(nats.clone(), move || o.wake(), shutdown.clone()));
        let s = shutdown.clone();
        tasks.spawn(async move {
            outbox.run(s).await;
            Ok(())
        });
    }
    if cl.has(Role::Api) {
        let view = ClusterView {
            node_id: cl.node_id.clone(),
            roles: cl.roles.clone(),
            nats: nats.clone(),
            ttl,
            chains: chains.clone(),
        };
        if let Some(api) = rt.serve_api(shutdown.clone(), Some(view)).await? {
            tasks.spawn(api);
        }
        // The dashboard's live view: what owners stored elsewhere is read as soon as they say so.
        let store = rt.store.clone();
        tasks.spawn(wake_on_stored(nats.clone(), move || store.touch(), shutdown.clone()));
        tasks.spawn(follow_chains(
            nats.clone(),
            rt.clone(),
            owned.clone(),
            chains.clone(),
            shutdown.clone(),
        ));
    }
    if cl.has(Role::Responder) && rt.hub.is_some() {
        tasks.spawn(respond(nats.clone(), rt.clone(), shutdown.clone()));
    }
    if cl.has(Role::Owner) {
        // Owners also work ranges of cluster replays.
        tasks.spawn(replay_worker(nats.clone(), shutdown.clone()));
        tasks.spawn(own(nats, rt, cl, owned, chains, shutdown.clone()));
    }
    crate::run::wait(tasks, &shutdown).await
}

/// Keeps this member's entry fresh.
async fn heartbeat(
    nats: Nats,
    cl: ClusterConfig,
    owned: Arc<Mutex<BTreeSet<String>>>,
    since_ms: i64,
    shutdown: CancellationToken,
) -> eyre::Result<()> {
    let every = Duration::from_millis(cl.lease_ttl_ms.max(500) / 4);
    loop {
        let v = MemberValue {
            node_id: cl.node_id.clone(),
            roles: cl.roles.clone(),
            owns: owned.lock().unwrap_or_else(|p| p.into_inner()).iter().cloned().collect(),
            at_ms: now_ms(),
            since_ms,
        };
        let body = Bytes::from(serde_json::to_vec(&v)?);
        if let Err(e) = nats.within("membership", nats.members.put(token(&cl.node_id), body)).await
        {
            tracing::warn!(target: "palisade::cluster", error = %e, "Cannot publish membership; NATS unreachable?");
        }
        tokio::select! {
            () = shutdown.cancelled() => {
                let _ = nats.within("leaving", nats.members.delete(token(&cl.node_id))).await;
                return Ok(());
            }
            () = tokio::time::sleep(every) => {}
        }
    }
}

/// Calls `wake` whenever an owner anywhere has stored a chain event or a finding (the owners
/// publish each to its stream after the store commits): a deliverer's outbox delivers at once,
/// not at its next poll (up to a second later); an API member's live views read the change.
async fn wake_on_stored(
    nats: Nats,
    wake: impl Fn() + Send + 'static,
    shutdown: CancellationToken,
) -> eyre::Result<()> {
    use futures::StreamExt;
    loop {
        let subs = futures::future::try_join(
            nats.client.subscribe(format!("{}.chain.>", nats.prefix)),
            nats.client.subscribe(format!("{}.findings.>", nats.prefix)),
        )
        .await;
        let mut stored = match subs {
            Ok((a, b)) => futures::stream::select(a, b),
            Err(e) => {
                tracing::warn!(target: "palisade::cluster", error = %e, "Cannot subscribe to stored events; the outbox polls.");
                tokio::select! {
                    () = shutdown.cancelled() => return Ok(()),
                    () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                }
            }
        };
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                m = stored.next() => match m {
                    Some(_) => wake(),
                    None => break,
                },
            }
        }
    }
}

/// The owner role: takes, renews, hands over and gives up chain leases, and runs the chains it
/// holds.
async fn own(
    nats: Nats,
    rt: Runtime,
    cl: ClusterConfig,
    owned_names: Arc<Mutex<BTreeSet<String>>>,
    chains: Vec<String>,
    shutdown: CancellationToken,
) -> eyre::Result<()> {
    let ttl = Duration::from_millis(cl.lease_ttl_ms.max(500));
    let me = cl.node_id.clone();
    let mut owned: BTreeMap<String, Owned> = BTreeMap::new();
    let mut free_since: BTreeMap<String, Instant> = BTreeMap::new();
    let mut last_renew = Instant::now() - ttl;
    // The findings stream and the verified-chain streams are fed by one publisher each.
    let (tap_tx, tap_rx) = tokio::sync::mpsc::channel::<(Finding, u128)>(4096);
    let (feed_tx, feed_rx) = tokio::sync::mpsc::channel::<ChainNote>(4096);
    tokio::spawn(publish_findings(nats.clone(), tap_rx));
    tokio::spawn(publish_chain(nats.clone(), feed_rx));
    loop {
        // A lease not renewed for most of its TTL may be gone: stop writing for the chain
        // before anyone else can take it.
        let stale: Vec<String> = owned
            .iter()
            .filter(|(_, o)| o.last_renewed.elapsed() > ttl.mul_f64(0.7))
            .map(|(c, _)| c.clone())
            .collect();
        for c in stale {
            tracing::error!(target: "palisade::cluster", chain = %c, "Cannot renew the lease; stopping writes for the chain until it can be taken again.");
            if let Some(o) = owned.remove(&c) {
                stop(o).await;
            }
        }
        // Chains whose service ended: deposed (another member took them) or failed.
        let ended: Vec<String> =
            owned.iter().filter(|(_, o)| o.task.is_finished()).map(|(c, _)| c.clone()).collect();
        for c in ended {
            let Some(o) = owned.remove(&c) else { continue };
            match o.task.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) if e.is_fatal() => {
                    release_all(&nats, &mut owned).await;
                    return Err(eyre!(e).wrap_err(format!("chain {c}")));
                }
                Ok(Err(e)) => {
                    tracing::warn!(target: "palisade::cluster", chain = %c, error = %e, "Stopped owning the chain.");
                }
                Err(e) => return Err(eyre!("chain {c}: task panicked: {e}")),
            }
        }
        let owners: BTreeSet<String> = match nats.live_members(ttl).await {
            Ok(ms) => ms
                .into_iter()
                .filter(|m| m.roles.contains(&Role::Owner))
                .map(|m| m.node_id)
                .collect(),
            Err(e) => {
                tracing::warn!(target: "palisade::cluster", error = %e, "Cannot read the members.");
                BTreeSet::new()
            }
        };
        let mut owners = owners;
        owners.insert(me.clone());
        let renew_due = last_renew.elapsed() >= ttl / 4;
        for chain in &chains {
            let lease = nats.lease(chain).await;
            let holder = match (&lease, owned.contains_key(chain)) {
                // NATS unreachable: the watchdog above stops the chain in time.
                (Err(e), _) => {
                    tracing::debug!(target: "palisade::cluster", chain = %chain, error = %e, "Cannot read the lease.");
                    continue;
                }
                (Ok(None), true) => {
                    // Expired under us (a long pause): stop at once; take it again if free.
                    tracing::error!(target: "palisade::cluster", chain = %chain, "The lease expired; stopping the chain.");
                    if let Some(o) = owned.remove(chain) {
                        stop(o).await;
                    }
                    Holder::Free(Duration::ZERO)
                }
                (Ok(None), false) => {
                    let t = *free_since.entry(chain.clone()).or_insert_with(Instant::now);
                    Holder::Free(t.elapsed())
                }
                (Ok(Some((v, rev))), true) => {
                    let o = &owned[chain];
                    if v.holder != me || *rev != o.revision {
                        tracing::error!(target: "palisade::cluster", chain = %chain, holder = %v.holder, "The lease moved to another member; stopping the chain.");
                        if let Some(o) = owned.remove(chain) {
                            stop(o).await;
                        }
                        continue;
                    }
                    Holder::Me
                }
                (Ok(Some((v, rev))), false) if v.holder == me => {
                    // A lease of this member's previous life (a restart under the same id):
                    // take it over with a new revision, hence a new token.
                    match take(&nats, &rt, chain, &me, Some(*rev), &feed_tx, &tap_tx, &shutdown)
                        .await
                    {
                        Ok(o) => {
                            owned.insert(chain.clone(), o);
                        }
                        Err(e) => {
                            tracing::warn!(target: "palisade::cluster", chain = %chain, error = %format!("{e:#}"), "Cannot resume the chain.")
                        }
                    }
                    continue;
                }
                (Ok(Some((v, _))), false) => Holder::Other(v.holder.clone()),
            };
            if !matches!(holder, Holder::Free(_)) {
                free_since.remove(chain);
            }
            match place::step(chain, &holder, &me, &owners, ttl) {
                Step::Acquire => {
                    match take(&nats, &rt, chain, &me, None, &feed_tx, &tap_tx, &shutdown).await {
                        Ok(o) => {
                            free_since.remove(chain);
                            owned.insert(chain.clone(), o);
                        }
                        Err(e) => {
                            tracing::warn!(target: "palisade::cluster", chain = %chain, error = %format!("{e:#}"), "Cannot take the chain.")
                        }
                    }
                }
                Step::Renew if renew_due => {
                    let Some(o) = owned.get_mut(chain) else { continue };
                    let v =
                        LeaseValue { holder: me.clone(), at_ms: now_ms(), since_ms: o.since_ms };
                    match nats
                        .leases
                        .update(token(chain), Bytes::from(serde_json::to_vec(&v)?), o.revision)
                        .await
                    {
                        Ok(rev) => {
                            o.revision = rev;
                            o.last_renewed = Instant::now();
                        }
                        Err(e) => {
                            tracing::error!(target: "palisade::cluster", chain = %chain, error = %e, "Renewing the lease failed; stopping the chain.");
                            if let Some(o) = owned.remove(chain) {
                                stop(o).await;
                            }
                        }
                    }
                }
                Step::HandOver => {
                    if let Some(o) = owned.remove(chain) {
                        tracing::info!(target: "palisade::cluster", chain = %chain, "Handing the chain over to its preferred owner.");
                        let rev = o.revision;
                        stop(o).await;
                        let _ = nats
                            .within(
                                "releasing",
                                nats.leases.delete_expect_revision(token(chain), Some(rev)),
                            )
                            .await;
                    }
                }
                Step::Renew | Step::Wait => {}
            }
        }
        if renew_due {
            last_renew = Instant::now();
        }
        *owned_names.lock().unwrap_or_else(|p| p.into_inner()) = owned.keys().cloned().collect();
        tokio::select! {
            () = shutdown.cancelled() => {
                release_all(&nats, &mut owned).await;
                return Ok(());
            }
            () = tokio::time::sleep((ttl / 20).max(Duration::from_millis(50))) => {}
        }
    }
}

/// Takes `chain`'s lease (creating it, or, from a previous life of this member, updating it at
/// `previous`), stamps its token in the store before anything else, and starts the chain.
#[allow(clippy::too_many_arguments)]
async fn take(
    nats: &Nats,
    rt: &Runtime,
    chain: &str,
    me: &str,
    previous: Option<u64>,
    feed: &tokio::sync::mpsc::Sender<ChainNote>,
    tap: &tokio::sync::mpsc::Sender<(Finding, u128)>,
    shutdown: &CancellationToken,
) -> eyre::Result<Owned> {
    let since_ms = now_ms();
    let v = LeaseValue { holder: me.to_string(), at_ms: since_ms, since_ms };
    let body = Bytes::from(serde_json::to_vec(&v)?);
    let rev = match previous {
        None => nats.leases.create(token(chain), body).await.map_err(|e| eyre!("lease: {e}"))?,
        Some(r) => {
            nats.leases.update(token(chain), body, r).await.map_err(|e| eyre!("lease: {e}"))?
        }
    };
    let fence = Fence { token: rev as i64, holder: me.to_string() };
    let started = async {
        // From here on, a deposed owner's late write is refused.
        rt.store.fence(chain, &fence).await?;
        nats.ensure_chain_stream(chain).await?;
        let stop = shutdown.child_token();
        let attach =
            Attach { fence: Some(fence.clone()), feed: Some(feed.clone()), tap: Some(tap.clone()) };
        let task = rt.start_chain(chain, attach, stop.clone()).await.map_err(|e| eyre!(e))?;
        Ok::<_, eyre::Report>((stop, tokio::spawn(task)))
    }
    .await;
    match started {
        Ok((stop, task)) => {
            tracing::info!(target: "palisade::cluster", chain = %chain, token = rev, "Took the chain's lease; following it.");
            Ok(Owned {
                token: rev,
                revision: rev,
                since_ms,
                last_renewed: Instant::now(),
                stop,
                task,
            })
        }
        Err(e) => {
            // Give the lease back so another member can try.
            let _ = nats
                .within("releasing", nats.leases.delete_expect_revision(token(chain), Some(rev)))
                .await;
            Err(e)
        }
    }
}

/// Stops a chain's service and waits for it (at most 10 s).
async fn stop(o: Owned) {
    o.stop.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(10), o.task).await;
}

/// On shutdown: stops every chain and releases its lease so a standby takes it at once.
async fn release_all(nats: &Nats, owned: &mut BTreeMap<String, Owned>) {
    for (chain, o) in std::mem::take(owned) {
        let rev = o.revision;
        let t = o.token;
        stop(o).await;
        let _ = nats
            .within("releasing", nats.leases.delete_expect_revision(token(&chain), Some(rev)))
            .await;
        tracing::info!(target: "palisade::cluster", chain = %chain, token = t, "Released the chain's lease.");
    }
}

/// One message of a verified-chain stream.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ChainMessage {
    /// `commit` or `revert`.
    pub(crate) action: String,
    /// Chain name.
    pub(crate) chain: String,
    /// Block-log sequence.
    pub(crate) seq: i64,
    /// Block number.
    pub(crate) number: u64,
    /// Block hash.
    pub(crate) hash: String,
    /// The recorded line (commits), when it fits in a message; else it is in the store's
    /// window (`chain_blocks`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) line: Option<String>,
}

/// Largest recorded line carried in a message (NATS's default maximum payload is 1 MiB).
const MAX_LINE: usize = 900 * 1024;

/// Publishes each stored chain event to its chain's stream, one message per block, with the
/// message id `chain:seq:action:height:hash`: a block published again (a new owner republishing
/// its window) is dropped by the stream's duplicate window; a chain that comes back to a block
/// (A -> B -> A) is a new event with a new sequence.
async fn publish_chain(nats: Nats, mut rx: tokio::sync::mpsc::Receiver<ChainNote>) {
    while let Some(note) = rx.recv().await {
        let mut seq = note.first_seq;
        let mut msgs = Vec::new();
        for r in &note.reverted {
            msgs.push(ChainMessage {
                action: "revert".into(),
                chain: note.chain.clone(),
                seq,
                number: r.number,
                hash: format!("{:#x}", r.hash),
                line: None,
            });
            seq += 1;
        }
        for (r, line) in &note.committed {
            let line = (line.len() <= MAX_LINE).then(|| line.clone());
            msgs.push(ChainMessage {
                action: "commit".into(),
                chain: note.chain.clone(),
                seq,
                number: r.number,
                hash: format!("{:#x}", r.hash),
                line,
            });
            seq += 1;
        }
        for m in msgs {
            let id = format!("{}:{}:{}:{}:{}", m.chain, m.seq, m.action, m.number, m.hash);
            let Ok(body) = serde_json::to_vec(&m) else { continue };
            let publish = jetstream::context::Publish::build().payload(body.into()).message_id(id);
            match nats.js.send_publish(nats.chain_subject(&m.chain), publish).await {
                Ok(ack) => {
                    if let Err(e) = ack.await {
                        tracing::warn!(target: "palisade::cluster", chain = %m.chain, error = %e, "Publishing a verified block was not acknowledged.");
                    }
                }
                Err(e) => {
                    tracing::warn!(target: "palisade::cluster", chain = %m.chain, error = %e, "Cannot publish a verified block.")
                }
            }
        }
    }
}

/// One message of the findings stream.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct FindingMessage {
    base_fee: String,
    finding: Finding,
}

/// Publishes each stored finding to the findings stream (message id: its key), for the
/// responders of the cluster.
async fn publish_findings(nats: Nats, mut rx: tokio::sync::mpsc::Receiver<(Finding, u128)>) {
    while let Some((f, base_fee)) = rx.recv().await {
        let subject = format!("{}.findings.{}", nats.prefix, token(&f.chain));
        let id = f.key.to_string();
        let Ok(body) =
            serde_json::to_vec(&FindingMessage { base_fee: base_fee.to_string(), finding: f })
        else {
            continue;
        };
        let publish = jetstream::context::Publish::build().payload(body.into()).message_id(id);
        match nats.js.send_publish(subject, publish).await {
            Ok(ack) => {
                let _ = ack.await;
            }
            Err(e) => {
                tracing::warn!(target: "palisade::cluster", error = %e, "Cannot publish a finding to the responders (it is stored).")
            }
        }
    }
}

/// The responder role: every finding of the cluster, through the responders (one shared
/// durable consumer: each finding goes to one responder process; the store's ledger keeps
/// them to one decision per finding and to their rate limits across processes).
async fn respond(nats: Nats, rt: Runtime, shutdown: CancellationToken) -> eyre::Result<()> {
    let Some(hub) = rt.hub.clone() else { return Ok(()) };
    let stream = nats
        .js
        .get_stream(format!("{}_findings", nats.prefix))
        .await
        .map_err(|e| eyre!("findings stream: {e}"))?;
    let consumer: jetstream::consumer::PullConsumer = stream
        .get_or_create_consumer(
            "responders",
            jetstream::consumer::pull::Config {
                durable_name: Some("responders".into()),
                deliver_policy: jetstream::consumer::DeliverPolicy::New,
                ack_wait: Duration::from_secs(30),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| eyre!("responders consumer: {e}"))?;
    loop {
        let mut messages = match consumer.messages().await {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(target: "palisade::cluster", error = %e, "Cannot read the findings stream; retrying.");
                tokio::select! {
                    () = shutdown.cancelled() => return Ok(()),
                    () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                }
            }
        };
        loop {
            let m = tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                m = messages.next() => m,
            };
            let Some(Ok(m)) = m else { break };
            if let Ok(fm) = serde_json::from_slice::<FindingMessage>(&m.payload) {
                let base_fee = fm.base_fee.parse().unwrap_or(0);
                hub.consider(&fm.finding.chain.clone(), &[fm.finding], base_fee).await;
            }
            let _ = m.ack().await;
        }
    }
}

/// The API role: follows the verified-chain streams of chains this member does not own, for
/// their tips, without asking any node.
async fn follow_chains(
    nats: Nats,
    rt: Runtime,
    owned: Arc<Mutex<BTreeSet<String>>>,
    chains: Vec<String>,
    shutdown: CancellationToken,
) -> eyre::Result<()> {
    for chain in chains {
        let (nats, rt, owned, s) = (nats.clone(), rt.clone(), owned.clone(), shutdown.clone());
        tokio::spawn(async move {
            loop {
                let followed = async {
                    nats.ensure_chain_stream(&chain).await?;
                    let stream = nats.js.get_stream(nats.chain_stream(&chain)).await?;
                    let consumer = stream
                        .create_consumer(jetstream::consumer::pull::OrderedConfig {
                            deliver_policy: jetstream::consumer::DeliverPolicy::Last,
                            ..Default::default()
                        })
                        .await?;
                    let mut msgs = consumer.messages().await?;
                    while let Some(m) = msgs.next().await {
                        let m = m?;
                        let Ok(cm) = serde_json::from_slice::<ChainMessage>(&m.payload) else {
                            continue;
                        };
                        if owned.lock().unwrap_or_else(|p| p.into_inner()).contains(&chain) {
                            continue;
                        }
                        let mut st = rt.status.lock().unwrap_or_else(|p| p.into_inner());
                        let e = st.entry(chain.clone()).or_default();
                        e.tip = Some(if cm.action == "commit" {
                            cm.number
                        } else {
                            cm.number.saturating_sub(1)
                        });
                        e.head = e.head.max(e.tip);
                        e.quorum.met = true;
                        e.error = None;
                    }
                    Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
                };
                tokio::select! {
                    () = s.cancelled() => return,
                    r = followed => if let Err(e) = r {
                        tracing::debug!(target: "palisade::cluster", chain = %chain, error = %e, "Following the verified chain failed; retrying.");
                    }
                }
                tokio::select! {
                    () = s.cancelled() => return,
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        });
    }
    shutdown.cancelled().await;
    Ok(())
}

/// A range of a recorded file on the replay work queue.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ReplayTask {
    job: String,
    index: usize,
    file: String,
    chain: String,
    max_reorg_depth: u64,
    detectors: Vec<palisade_detect::DetectorConfig>,
    range: crate::replay::Range,
}

/// What a worker made of one range (in parts, each under a message's size).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ReplayResult {
    job: String,
    index: usize,
    part: usize,
    last: bool,
    findings: Vec<Finding>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

async fn replay_streams(nats: &Nats) -> eyre::Result<()> {
    let p = &nats.prefix;
    nats.js
        .get_or_create_stream(jetstream::stream::Config {
            name: format!("{p}_replay"),
            subjects: vec![format!("{p}.replay.tasks")],
            retention: jetstream::stream::RetentionPolicy::WorkQueue,
            max_age: Duration::from_secs(24 * 3600),
            ..Default::default()
        })
        .await
        .map_err(|e| eyre!("creating the replay work queue: {e}"))?;
    nats.js
        .get_or_create_stream(jetstream::stream::Config {
            name: format!("{p}_replay_results"),
            subjects: vec![format!("{p}.replay.results.>")],
            max_age: Duration::from_secs(3600),
            ..Default::default()
        })
        .await
        .map_err(|e| eyre!("creating the replay results stream: {e}"))?;
    Ok(())
}

/// Works ranges off the replay work queue until `shutdown` (each range goes to one worker; a
/// worker that dies mid-range has it redelivered to another).
async fn replay_worker(nats: Nats, shutdown: CancellationToken) -> eyre::Result<()> {
    // The queue and its consumer, set up again until NATS answers: NATS away when the member
    // starts (or restarts) delays replay work, it does not stop the member.
    let setup = || async {
        replay_streams(&nats).await?;
        let stream = nats
            .js
            .get_stream(format!("{}_replay", nats.prefix))
            .await
            .map_err(|e| eyre!("replay work queue: {e}"))?;
        stream
            .get_or_create_consumer(
                "replayers",
                jetstream::consumer::pull::Config {
                    durable_name: Some("replayers".into()),
                    ack_wait: Duration::from_secs(600),
                    max_ack_pending: 1_000,
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| eyre!("replay consumer: {e}"))
    };
    let mut wait = Duration::from_millis(500);
    let consumer: jetstream::consumer::PullConsumer = loop {
        match setup().await {
            Ok(c) => break c,
            Err(e) => {
                tracing::warn!(target: "palisade::cluster", error = %e, "Cannot set up the replay work queue; trying again.");
                tokio::select! {
                    () = shutdown.cancelled() => return Ok(()),
                    () = tokio::time::sleep(wait) => {}
                }
                wait = (wait * 2).min(Duration::from_secs(10));
            }
        }
    };
    loop {
        // One range at a time per member: fetch one, work it, ack it.
        let batch =
            consumer.fetch().max_messages(1).expires(Duration::from_secs(1)).messages().await;
        let mut batch = match batch {
            Ok(b) => b,
            Err(e) => {
                tracing::debug!(target: "palisade::cluster", error = %e, "Cannot read the replay queue.");
                tokio::select! {
                    () = shutdown.cancelled() => return Ok(()),
                    () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                }
            }
        };
        let m = tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            m = batch.next() => m,
        };
        let Some(Ok(m)) = m else { continue };
        let Ok(task) = serde_json::from_slice::<ReplayTask>(&m.payload) else {
            let _ = m.ack().await;
            continue;
        };
        let t = task.clone();
        let made = tokio::task::spawn_blocking(move || {
            let reader = palisade_source::replay::open(&t.file)?;
            crate::replay::replay_range(reader, &t.chain, t.max_reorg_depth, &t.detectors, &t.range)
        })
        .await;
        let (findings, error) = match made {
            Ok(Ok(f)) => (f, None),
            Ok(Err(e)) => (Vec::new(), Some(format!("{e:#}"))),
            Err(e) => (Vec::new(), Some(format!("worker panicked: {e}"))),
        };
        let subject = format!("{}.replay.results.{}", nats.prefix, task.job);
        // Parts of at most 500 findings (well under a message's size).
        let parts: Vec<Vec<Finding>> = if findings.is_empty() {
            vec![Vec::new()]
        } else {
            findings.chunks(500).map(<[Finding]>::to_vec).collect()
        };
        let n = parts.len();
        let mut sent = true;
        for (part, fs) in parts.into_iter().enumerate() {
            let r = ReplayResult {
                job: task.job.clone(),
                index: task.index,
                part,
                last: part + 1 == n,
                findings: fs,
                error: error.clone(),
            };
            let body = Bytes::from(serde_json::to_vec(&r)?);
            let id = format!("{}:{}:{part}", task.job, task.index);
            let publish = jetstream::context::Publish::build().payload(body).message_id(id);
            match nats.js.send_publish(subject.clone(), publish).await {
                Ok(ack) => sent &= ack.await.is_ok(),
                Err(_) => sent = false,
            }
        }
        if sent {
            let _ = m.ack().await;
        }
    }
}

/// `palisade replay --cluster`: splits `file` into ranges (each with its detectors' warm-up),
/// puts them on the cluster's replay work queue, works ranges itself alongside the cluster's
/// owners, and returns every finding, in block order. The set of finding keys equals a
/// sequential replay's. `file` must be readable at the same path by every member.
pub async fn cluster_replay(
    cl: &ClusterConfig,
    file: &str,
    chain: &str,
    max_reorg_depth: u64,
    detectors: &[palisade_detect::DetectorConfig],
    range_lines: Option<u64>,
) -> eyre::Result<(Vec<Finding>, usize)> {
    let nats = Nats::connect(cl).await?;
    replay_streams(&nats).await?;
    let path = std::fs::canonicalize(file).map_err(|e| eyre!("{file}: {e}"))?;
    let path = path.to_string_lossy().to_string();
    let mut lines = 0u64;
    let mut reader = palisade_source::replay::open(&path)?;
    while let Some(l) = reader.next_raw() {
        l?;
        lines += 1;
    }
    let ranges = match crate::replay::warmup(detectors, chain)? {
        Some(w) => {
            let size = range_lines.unwrap_or_else(|| lines.div_ceil(16).max(4 * w).max(64));
            crate::replay::split(lines, size, w)
        }
        None => {
            tracing::warn!(target: "palisade::cluster", "A detector keeps state without bound: the replay runs as one range.");
            crate::replay::split(lines, lines.max(1), 0)
        }
    };
    let job = format!("{}-{}-{}", token(&cl.node_id), now_ms(), std::process::id());
    let results = nats
        .js
        .get_stream(format!("{}_replay_results", nats.prefix))
        .await
        .map_err(|e| eyre!("replay results: {e}"))?;
    let consumer = results
        .create_consumer(jetstream::consumer::pull::OrderedConfig {
            filter_subject: format!("{}.replay.results.{job}", nats.prefix),
            ..Default::default()
        })
        .await
        .map_err(|e| eyre!("replay results consumer: {e}"))?;
    let mut msgs = consumer.messages().await.map_err(|e| eyre!("replay results: {e}"))?;
    for (index, range) in ranges.iter().enumerate() {
        let task = ReplayTask {
            job: job.clone(),
            index,
            file: path.clone(),
            chain: chain.to_string(),
            max_reorg_depth,
            detectors: detectors.to_vec(),
            range: range.clone(),
        };
        let ack = nats
            .js
            .publish(
                format!("{}.replay.tasks", nats.prefix),
                Bytes::from(serde_json::to_vec(&task)?),
            )
            .await
            .map_err(|e| eyre!("queueing a replay range: {e}"))?;
        ack.await.map_err(|e| eyre!("queueing a replay range: {e}"))?;
    }
    tracing::info!(target: "palisade::cluster", job = %job, ranges = ranges.len(), lines, "Replay ranges queued.");
    // This process works ranges too.
    let stop = CancellationToken::new();
    let worker = tokio::spawn(replay_worker(nats.clone(), stop.clone()));
    let mut done: BTreeMap<usize, bool> = BTreeMap::new();
    let mut parts: BTreeSet<(usize, usize)> = BTreeSet::new();
    let mut findings = Vec::new();
    while done.values().filter(|d| **d).count() < ranges.len() {
        let m = tokio::time::timeout(Duration::from_secs(600), msgs.next())
            .await
            .map_err(|_| eyre!("no replay result for 10 minutes"))?;
        let Some(m) = m else { break };
        let m = m.map_err(|e| eyre!("replay results: {e}"))?;
        let r: ReplayResult = serde_json::from_slice(&m.payload)?;
        if let Some(e) = r.error {
            stop.cancel();
            return Err(eyre!("range {} failed: {e}", r.index));
        }
        if !parts.insert((r.index, r.part)) {
            continue;
        }
        findings.extend(r.findings);
        if r.last {
            // A range is done once all its parts are in.
            let have = parts.iter().filter(|(i, _)| *i == r.index).count();
            done.insert(r.index, have == r.part + 1);
        }
    }
    stop.cancel();
    let _ = worker.await;
    findings.sort_by_key(|f| (f.anchor.number, f.key));
    findings.dedup_by(|a, b| a.key == b.key);
    Ok((findings, ranges.len()))
}
