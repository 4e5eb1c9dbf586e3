//! The alert pipeline: findings become alerts in a store (SQLite by default, PostgreSQL when the
//! URL says so; one schema), retractions mark alerts resolved as reorged out, and every alert is
//! delivered to every sink through a persistent outbox, at least once and idempotently.
//!
//! ```no_run
//! # async fn f() -> Result<(), palisade_alert::AlertError> {
//! let store = palisade_alert::Store::open("sqlite://palisade.sqlite").await?;
//! let open = store.list_alerts(&Default::default()).await?;
//! # Ok(()) }
//! ```
//!
//! # Invariants
//! - An alert's key is its finding's content key: storing the same finding twice is a no-op.
//! - [`Store::apply`] writes alerts, retractions, outbox rows, the chain window, the block log
//!   and detector checkpoints in one database transaction: after a crash either all of a chain
//!   event is stored or none of it.
//! - An outbox row is removed from the due list only after its sink acknowledged delivery.
//! - Each sink gets its notifications in the order they were queued (block order; a resolve
//!   after its alert; a reopened alert after its resolve).

mod error;
mod outbox;
mod secret;
pub mod sink;
mod store;

pub use error::{AlertError, Result};
pub use outbox::{backoff_ms, Outbox, OutboxMetrics, SinkBackoff};
pub use secret::SecretString;
pub use sink::{build_sinks, AlertSink, Notification, SinkConfig};
pub use store::{
    AlertFilter, AlertRow, Backend, Batch, ChainState, DueItem, LoggedBlock, Reservation,
    ResponseRow, Store,
};
