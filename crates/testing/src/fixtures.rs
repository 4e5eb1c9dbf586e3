//! The real recorded data in `testdata/`.

use alloy_primitives::{keccak256, B256};
use palisade_primitives::BlockData;
use std::path::PathBuf;
use std::sync::Arc;

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Path of a file under `testdata/`.
pub fn testdata(rel: &str) -> PathBuf {
    root().join("testdata").join(rel)
}

/// The text of a file under `testdata/`, decompressed when it ends in `.zst`.
///
/// # Panics
/// When the file is missing or unreadable: fixtures are part of the repository.
pub fn text(rel: &str) -> String {
    let p = testdata(rel);
    let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let bytes = if rel.ends_with(".zst") {
        zstd::stream::decode_all(&bytes[..]).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    } else {
        bytes
    };
    String::from_utf8(bytes).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A JSON file under `testdata/` whose integer literals of more than 15 digits are read as
/// strings, so that amounts beyond what an f64 holds stay exact (mev-inspect-py's EXPECTED.json
/// writes them as JSON numbers).
///
/// # Panics
/// When the file is missing or not JSON.
pub fn json_exact(rel: &str) -> serde_json::Value {
    let text = text(rel);
    let (mut out, mut digits, mut in_str, mut esc) = (String::new(), String::new(), false, false);
    for c in text.chars() {
        if !in_str && c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        if !digits.is_empty() {
            if digits.len() > 15 {
                out.push_str(&format!("\"{digits}\""));
            } else {
                out.push_str(&digits);
            }
            digits.clear();
        }
        if in_str {
            esc = !esc && c == '\\';
            if c == '"' && !esc {
                in_str = false;
            }
        } else if c == '"' {
            in_str = true;
        }
        out.push(c);
    }
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Decodes every block of a recorded file under `testdata/`.
///
/// # Panics
/// When the file is missing or malformed: fixtures are part of the repository.
pub fn blocks(rel: &str) -> Vec<BlockData> {
    let p = testdata(rel);
    palisade_source::replay::open(p.to_str().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}"))
        .map(|r| r.unwrap_or_else(|e| panic!("{e}")).block)
        .collect()
}

/// Every bundled mainnet block, in file order.
pub fn all_mainnet() -> Vec<BlockData> {
    let mut v = blocks("mainnet/mev-inspect-20.jsonl.zst");
    v.extend(blocks("mainnet/etl-17173049-17173050.jsonl.zst"));
    v.extend(blocks("mainnet/helios-21925176.jsonl.zst"));
    v
}

/// The bundled blocks renumbered into one contiguous, parent-linked chain starting at `first`,
/// with hashes derived from `salt` (two salts give two competing forks of the same numbers).
pub fn chain(first: u64, salt: u8, blocks: &[BlockData]) -> Vec<Arc<BlockData>> {
    chain_after(first, fake_hash(salt, first.wrapping_sub(1)), salt, blocks)
}

/// Like [`chain`], with the first block's parent hash given (to fork off an existing chain).
pub fn chain_after(
    first: u64,
    parent: B256,
    salt: u8,
    blocks: &[BlockData],
) -> Vec<Arc<BlockData>> {
    let mut prev = parent;
    blocks
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let n = first + i as u64;
            let mut b = b.clone();
            b.header.number = n;
            b.header.parent_hash = Some(prev);
            b.header.hash = Some(fake_hash(salt, n));
            prev = fake_hash(salt, n);
            Arc::new(b)
        })
        .collect()
}

/// The hash [`chain`] gives block `n` of fork `salt`.
pub fn fake_hash(salt: u8, n: u64) -> B256 {
    let mut buf = vec![salt];
    buf.extend_from_slice(&n.to_be_bytes());
    keccak256(buf)
}
