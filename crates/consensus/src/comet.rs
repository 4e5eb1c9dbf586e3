//! CometBFT light blocks (see the crate docs).
