//! Test helpers (dev-only): the real recorded fixtures in `testdata/`, the detector conformance
//! suite every detector passes, and a rig that runs a real anvil node.
//!
//! # Assumptions
//! - Tests run from a checkout: fixtures are read from `testdata/` at the workspace root.
//! - `PALISADE_ANVIL` names the anvil binary (scripts/test.sh installs it); otherwise `anvil` on
//!   `PATH` is used.

pub mod anvil;
pub mod beacon_scenario;
pub mod conformance;
pub mod fixtures;
