//! Wiring: the config file, the engine that drives detectors over chain events (shared by live
//! monitoring and replay), the live chain service and its verified, voted sources, metrics and
//! the HTTP API.
//!
//! ```no_run
//! # async fn f() -> eyre::Result<()> {
//! let cfg = palisade_node::config::Config::load(std::path::Path::new("palisade.toml"))?;
//! # Ok(()) }
//! ```
//!
//! # Invariants
//! - Live, backfill and replay feed detectors through the same [`engine::ChainEngine`].
//! - A chain event's findings, retractions, window change and detector checkpoints are stored in
//!   one transaction before the next event is processed.

pub mod api;
pub mod beacon;
pub mod chain_source;
pub mod comet;
pub mod config;
pub mod endpoints;
pub mod engine;
pub mod mempool;
pub mod metrics;
pub mod respond;
pub mod service;
pub mod sources;

pub use config::{Config, ConfigError};
