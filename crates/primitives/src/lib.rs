//! Core types shared by every Palisade crate: blocks as recorded or fetched, parent-linked chain
//! segments, the [`ChainEvent`] that carries commits, reorgs and reverts, and the [`Finding`] a
//! detector emits.
//!
//! This crate does no I/O. Everything here is plain data with serde support, so the same values
//! flow through live monitoring, backfill and replay.
//!
//! ```
//! use palisade_primitives::{BlockData, ChainSegment};
//! let line = r#"{"block":{"number":"0x10","hash":null},"receipts":null}"#;
//! let rec = palisade_primitives::RecordedBlock::from_json_line(line).unwrap();
//! let block = BlockData::from_recorded(rec).unwrap();
//! let seg = ChainSegment::single(std::sync::Arc::new(block));
//! assert_eq!(seg.tip().number, 16);
//! ```
//!
//! # Invariants
//! - A [`ChainSegment`] is non-empty, ordered by number, and each block's number is its
//!   predecessor's plus one; when both hashes are known, each block's `parent_hash` equals its
//!   predecessor's hash.
//! - A [`FindingKey`] depends only on content (detector, chain, subject, anchor, positions), never on
//!   time, so the same finding has the same key across restarts, replays and processes.

pub mod assertion;
mod block;
pub mod consensus;
mod error;
mod event;
pub mod fast;
mod finding;
pub mod json;
pub mod pending;
pub mod quantity;
mod record;
pub mod time;
pub mod units;

pub use block::{
    AccountState, BlockData, BlockRef, CallFrame, CallView, Derived, Header, Log, Receipt, Trace,
    TraceAction, Transaction, ViewCallResult,
};
pub use error::{Error, Result};
pub use event::{ChainEvent, ChainSegment};
pub use finding::{Facts, Finding, FindingKey, Findings, PendingFacts, Severity, Stage};
pub use record::RecordedBlock;

/// Re-exported primitive types from alloy, so downstream crates agree on one version.
pub use alloy_primitives::{address, b256, keccak256, Address, Bytes, B256, I256, U256};
