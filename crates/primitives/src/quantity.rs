//! Lenient decoding of JSON-RPC quantities and data.
//!
//! Nodes send quantities as `0x`-prefixed hex strings; exports made by third parties often use
//! JSON numbers or decimal strings. These helpers accept all three and reject anything else with a
//! message naming the value.

use alloy_primitives::{Address, Bytes, B256, U256};
use serde_json::Value;

/// Decodes a quantity as `U256` from a hex string, decimal string or JSON number.
pub fn u256(v: &Value) -> Result<U256, String> {
    match v {
        Value::String(s) => parse_u256_str(s),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                Ok(U256::from(u))
            } else if let Some(f) = n.as_f64() {
                // Large integers exported as floats by some tools: only accept exact integers.
                if f >= 0.0 && f.fract() == 0.0 && f < 1e38 {
                    Ok(U256::from(f as u128))
                } else {
                    Err(format!("{n} is not a non-negative integer"))
                }
            } else {
                Err(format!("{n} is not a non-negative integer"))
            }
        }
        other => Err(format!("expected a quantity, found {}", kind(other))),
    }
}

/// Parses a quantity string: `0x` hex or decimal.
pub fn parse_u256_str(s: &str) -> Result<U256, String> {
    let t = s.trim();
    if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        if hex.is_empty() {
            return Ok(U256::ZERO);
        }
        // Most quantities fit 64 bits: read those digit by digit (the same value `from_str_radix`
        // gives; anything else, signs and separators included, goes to it).
        if hex.len() <= 16 {
            let mut v = 0u64;
            let mut plain = true;
            for c in hex.bytes() {
                let d = match c {
                    b'0'..=b'9' => c - b'0',
                    b'a'..=b'f' => c - b'a' + 10,
                    b'A'..=b'F' => c - b'A' + 10,
                    _ => {
                        plain = false;
                        break;
                    }
                };
                v = (v << 4) | u64::from(d);
            }
            if plain {
                return Ok(U256::from(v));
            }
        }
        U256::from_str_radix(hex, 16).map_err(|e| format!("bad hex quantity {s:?}: {e}"))
    } else {
        U256::from_str_radix(t, 10).map_err(|e| format!("bad quantity {s:?}: {e}"))
    }
}

/// Decodes a quantity that must fit in `u64`.
pub fn u64(v: &Value) -> Result<u64, String> {
    let x = u256(v)?;
    u64::try_from(x).map_err(|_| format!("quantity {x} does not fit in 64 bits"))
}

/// Decodes a quantity that must fit in `u128`.
pub fn u128(v: &Value) -> Result<u128, String> {
    let x = u256(v)?;
    u128::try_from(x).map_err(|_| format!("quantity {x} does not fit in 128 bits"))
}

/// Decodes a 32-byte hash.
pub fn b256(v: &Value) -> Result<B256, String> {
    match v {
        Value::String(s) => s.parse::<B256>().map_err(|e| format!("bad 32-byte hash {s:?}: {e}")),
        other => Err(format!("expected a hash string, found {}", kind(other))),
    }
}

/// Decodes a 20-byte address.
pub fn address(v: &Value) -> Result<Address, String> {
    match v {
        Value::String(s) => s.parse::<Address>().map_err(|e| format!("bad address {s:?}: {e}")),
        other => Err(format!("expected an address string, found {}", kind(other))),
    }
}

/// Decodes hex data (`0x...`).
pub fn bytes(v: &Value) -> Result<Bytes, String> {
    match v {
        Value::String(s) => s.parse::<Bytes>().map_err(|e| format!("bad hex data: {e}")),
        other => Err(format!("expected hex data, found {}", kind(other))),
    }
}

/// Short name of a JSON value's type for error messages.
pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn accepts_hex_decimal_and_numbers() {
        assert_eq!(u64(&json!("0x10")).unwrap(), 16);
        assert_eq!(u64(&json!("16")).unwrap(), 16);
        assert_eq!(u64(&json!(16)).unwrap(), 16);
        assert_eq!(u64(&json!("0x")).unwrap(), 0);
        assert!(u64(&json!("0xzz")).is_err());
        assert!(u64(&json!(-1)).is_err());
        assert!(u64(&json!("0x1ffffffffffffffff")).is_err());
        assert!(b256(&json!(12)).is_err());
    }
}
