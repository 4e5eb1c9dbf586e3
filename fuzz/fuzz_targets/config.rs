//! A config file: parsing and checking never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = palisade_node::config::Config::parse(s, "fuzz.toml", std::path::Path::new("/nonexistent"));
    }
});
