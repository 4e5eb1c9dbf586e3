//! The runtime: the config file, the engine that drives detectors over chain events (shared by
//! live monitoring and replay), each chain's live service and its verified, voted sources, the
//! mempool watch, the one path findings take to the store, the outbox and the responders,
//! metrics and the HTTP API; and, with `[cluster]`, several processes sharing that work through
//! NATS JetStream and PostgreSQL.
//!
//! ```no_run
//! # async fn f() -> eyre::Result<()> {
//! let cfg = palisade_node::config::Config::load(std::path::Path::new("palisade.toml"))?;
//! palisade_node::run(cfg, palisade_node::Shutdown::new()).await?;
//! # Ok(()) }
//! ```
//!
//! # Layout
//! `config` and `status` are leaves (types only). `sources` builds on them; `service` drives a
//! chain's sources through `engine` and hands what it finds to `persist`, which stores, wakes
//! the outbox and calls the responders (`respond`); `mempool` does the same for pending
//! transactions. `run` wires one process; `cluster` wires one member of several.
//!
//! # Invariants
//! - Live, backfill and replay feed detectors through the same [`engine::ChainEngine`].
//! - A chain event's findings, retractions, window change and detector checkpoints are stored in
//!   one transaction before the next event is processed; in a cluster, stamped with the owner's
//!   lease, so a deposed owner's late write changes nothing.

mod api;
mod cluster;
pub mod config;
pub mod engine;
mod error;
mod mempool;
mod metrics;
mod persist;
pub mod replay;
mod respond;
mod risk;
mod run;
mod service;
mod sources;
pub mod status;
mod units;

pub use api::{OPENAPI, ROUTES};
pub use cluster::cluster_replay;
pub use config::{Config, ConfigError};
pub use error::{NodeError, Result};
pub use metrics::Metrics;
pub use run::{run, Shutdown};
