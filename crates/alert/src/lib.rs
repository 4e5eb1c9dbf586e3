//! Alert delivery: the sinks (stdout, JSON lines, signed webhooks, Slack, Discord) and the outbox
//! worker that drains the notifications the store ([`palisade_store`]) queues for each sink, at
//! least once and idempotently.
//!
//! # Invariants
//! - An outbox row is removed from the due list only after its sink acknowledged delivery.
//! - Each sink gets its notifications in the order they were queued (block order; a resolve
//!   after its alert; a reopened alert after its resolve), from one deliverer at a time.

mod error;
mod outbox;
mod secret;
pub mod sink;

pub use error::{AlertError, Result};
pub use outbox::{backoff_ms, Outbox, OutboxMetrics, SinkBackoff};
pub use secret::SecretString;
pub use sink::{build_sinks, AlertSink, Notification, SinkConfig};
