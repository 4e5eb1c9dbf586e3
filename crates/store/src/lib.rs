//! The store: what Palisade keeps, in SQLite (embedded, the default) or PostgreSQL (shared by the
//! processes of a cluster), with one schema and one migration list for both.
//!
//! It holds alerts and their outbox (the notifications each sink is owed, in order), each chain's
//! window of recent blocks, detector checkpoints and block log, responders' decisions and the
//! ledger their rate limits are counted in, and, in a cluster, the fencing token of each chain's
//! lease.
//!
//! ```no_run
//! # async fn f() -> Result<(), palisade_store::StoreError> {
//! let store = palisade_store::Store::open("sqlite://palisade.sqlite").await?;
//! let open = store.list_alerts(&Default::default()).await?;
//! # Ok(()) }
//! ```
//!
//! # Invariants
//! - An alert's key is its finding's content key: storing the same finding twice is a no-op,
//!   unless a reorg retracted it and the chain came back to its block: then it reopens.
//! - [`Store::apply`] writes alerts, retractions, outbox rows, the chain window, the block log
//!   and detector checkpoints in one database transaction: after a crash either all of a chain
//!   event is stored or none of it. With a fencing token, the same transaction first checks that
//!   no newer owner of the chain has written: a deposed owner's late write changes nothing.
//! - An outbox row leaves the queue only once its sink acknowledged delivery.

mod error;
mod operator;
mod route;
mod store;

pub use error::{Result, StoreError};
pub use operator::{Delivery, OperatorAction};
pub use route::{sinks_for, Route};
pub use store::{
    now_ms, AlertCursor, AlertFilter, AlertNote, AlertRow, Backend, Batch, ChainState, DueItem,
    Fence, LoggedBlock, Reservation, ResponseRow, RiskRow, Store, Stored,
};
