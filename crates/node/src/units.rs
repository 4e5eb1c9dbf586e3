//! Token units for findings: tokens the bundled table does not know are asked for their
//! `symbol()` and `decimals()` at the finding's block (by hash, so the answer is the state of
//! the verified block), once per token (a bounded cache), and each raw amount of the evidence
//! is stored beside its value in units.

use palisade_primitives::units::{describe_evidence_with, evidence_tokens, token};
use palisade_primitives::{Address, BlockRef, Finding};
use palisade_source::evm_rpc::RpcClient;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Tokens remembered per chain (answers and refusals alike).
const CACHE: usize = 4096;

/// `symbol()` and `decimals()` selectors.
const SYMBOL: &str = "0x95d89b41";
const DECIMALS: &str = "0x313ce567";

/// Reads and remembers tokens' units on one chain.
#[derive(Debug)]
pub(crate) struct TokenUnits {
    rpc: Arc<RpcClient>,
    cache: Mutex<HashMap<Address, Option<(String, u8)>>>,
}

impl TokenUnits {
    pub(crate) fn new(rpc: Arc<RpcClient>) -> Self {
        Self { rpc, cache: Mutex::new(HashMap::new()) }
    }

    /// The amounts of `f`'s evidence in units, reading unknown tokens first; `None` when the
    /// evidence names no token (the bundled description applies).
    pub(crate) async fn amounts(&self, f: &Finding) -> Option<Vec<(String, String, String)>> {
        let tokens = evidence_tokens(&f.evidence);
        if tokens.is_empty() {
            return None;
        }
        for a in tokens {
            let known = token(&a).is_some() || self.cache.lock().ok()?.contains_key(&a);
            if !known {
                let units = self.read(a, &f.anchor).await;
                let mut c = self.cache.lock().ok()?;
                if c.len() >= CACHE {
                    c.clear();
                }
                c.insert(a, units);
            }
        }
        let cache = self.cache.lock().ok()?.clone();
        Some(describe_evidence_with(&f.evidence, &|a| cache.get(a).cloned().flatten()))
    }

    async fn read(&self, a: Address, at: &BlockRef) -> Option<(String, u8)> {
        let block = if at.hash_known {
            json!({"blockHash": format!("{:#x}", at.hash)})
        } else {
            json!(format!("{:#x}", at.number))
        };
        let call = |data: &str| {
            self.rpc
                .call("eth_call", json!([{"to": format!("{a:#x}"), "data": data}, block.clone()]))
        };
        let decimals = hex_bytes(&call(DECIMALS).await.ok()?)?;
        let decimals = decode_decimals(&decimals)?;
        let symbol = hex_bytes(&call(SYMBOL).await.ok()?)?;
        let symbol = decode_symbol(&symbol)?;
        tracing::debug!(target: "palisade::node", token = %a, symbol = %symbol, decimals, "Token units read.");
        Some((symbol, decimals))
    }
}

fn hex_bytes(v: &Value) -> Option<Vec<u8>> {
    hex::decode(v.as_str()?.trim_start_matches("0x")).ok()
}

/// A `uint8` return word; more than 77 decimals cannot be a real token's.
fn decode_decimals(b: &[u8]) -> Option<u8> {
    if b.len() != 32 || b[..31].iter().any(|x| *x != 0) || b[31] > 77 {
        return None;
    }
    Some(b[31])
}

/// A `string` return (offset, length, bytes), or the `bytes32` some old tokens return (MKR):
/// printable text of at most 32 characters.
fn decode_symbol(b: &[u8]) -> Option<String> {
    let raw: Vec<u8> = if b.len() >= 64 {
        let word = |i: usize| -> Option<usize> {
            let w = b.get(i..i + 32)?;
            if w[..24].iter().any(|x| *x != 0) {
                return None;
            }
            Some(u64::from_be_bytes(w[24..].try_into().ok()?) as usize)
        };
        let off = word(0)?;
        let len = word(off)?;
        b.get(off + 32..off.checked_add(32)?.checked_add(len)?)?.to_vec()
    } else if b.len() == 32 {
        b.iter().copied().take_while(|x| *x != 0).collect()
    } else {
        return None;
    };
    let s = String::from_utf8(raw).ok()?;
    let s = s.trim();
    (!s.is_empty() && s.chars().count() <= 32 && s.chars().all(|c| !c.is_control()))
        .then(|| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_and_decimals_decode_from_both_return_shapes() {
        // string "USDC": offset 32, length 4.
        let mut s = vec![0u8; 96];
        s[31] = 32;
        s[63] = 4;
        s[64..68].copy_from_slice(b"USDC");
        assert_eq!(decode_symbol(&s).as_deref(), Some("USDC"));
        // bytes32 "MKR" (Maker's token returns bytes32).
        let mut m = vec![0u8; 32];
        m[..3].copy_from_slice(b"MKR");
        assert_eq!(decode_symbol(&m).as_deref(), Some("MKR"));
        // Lies and garbage are refused, not shown.
        let mut long = s.clone();
        long[63] = 200;
        assert_eq!(decode_symbol(&long), None);
        assert_eq!(decode_symbol(&[0u8; 5]), None);
        let mut ctl = vec![0u8; 32];
        ctl[0] = 7;
        assert_eq!(decode_symbol(&ctl), None);
        let mut d = vec![0u8; 32];
        d[31] = 6;
        assert_eq!(decode_decimals(&d), Some(6));
        d[31] = 200;
        assert_eq!(decode_decimals(&d), None);
        d[0] = 1;
        assert_eq!(decode_decimals(&d), None);
    }
}
