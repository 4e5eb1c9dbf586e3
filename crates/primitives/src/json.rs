//! JSON as deep as the EVM allows: a call tree may nest 1,024 frames (two JSON levels each),
//! well past serde_json's default limit of 128 levels, which would reject a real reentrancy
//! attack's `debug_traceBlockByNumber` answer as malformed.
//!
//! [`from_str`] and [`from_slice`] parse with serde_json's own limit first (no cost for ordinary
//! data); only when that limit is hit do they measure the nesting and, up to
//! [`MAX_JSON_DEPTH`], parse again without the limit on a stack that grows on the heap
//! (`serde_stacker`), so hostile input can neither overflow the stack nor be too deep to refuse.

use serde::de::DeserializeOwned;

/// The deepest call tree accepted: the EVM's call depth limit.
pub const MAX_CALL_DEPTH: usize = 1024;

/// The deepest JSON accepted: a call tree of [`MAX_CALL_DEPTH`] frames (a frame object and its
/// `calls` array are two levels) inside a recorded line or an RPC answer.
pub const MAX_JSON_DEPTH: usize = 2 * MAX_CALL_DEPTH + 64;

/// The deepest nesting of arrays and objects in `bytes` (strings are skipped; the text need
/// not be valid JSON).
pub fn depth(bytes: &[u8]) -> usize {
    let (mut cur, mut max, mut in_str, mut esc) = (0usize, 0usize, false, false);
    for &b in bytes {
        if in_str {
            if esc {
                esc = false;
            } else if b == b'\\' {
                esc = true;
            } else if b == b'"' {
                in_str = false;
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'[' | b'{' => {
                cur += 1;
                max = max.max(cur);
            }
            b']' | b'}' => cur = cur.saturating_sub(1),
            _ => {}
        }
    }
    max
}

fn too_deep(e: &serde_json::Error) -> bool {
    e.to_string().starts_with("recursion limit exceeded")
}

fn deep<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    let d = depth(bytes);
    if d > MAX_JSON_DEPTH {
        return Err(format!(
            "JSON nested {d} levels deep, more than the {MAX_JSON_DEPTH} a call tree of {MAX_CALL_DEPTH} frames needs"
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    de.disable_recursion_limit();
    let v = T::deserialize(serde_stacker::Deserializer::new(&mut de)).map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    Ok(v)
}

/// Parses JSON text, accepting nesting up to [`MAX_JSON_DEPTH`].
pub fn from_str<T: DeserializeOwned>(s: &str) -> Result<T, String> {
    from_slice(s.as_bytes())
}

/// Parses JSON bytes, accepting nesting up to [`MAX_JSON_DEPTH`].
pub fn from_slice<T: DeserializeOwned>(b: &[u8]) -> Result<T, String> {
    match serde_json::from_slice(b) {
        Ok(v) => Ok(v),
        Err(e) if too_deep(&e) => deep(b),
        Err(e) => Err(e.to_string()),
    }
}

/// Drops a value that may be deeply nested without deep recursion (a `Value` of 2,000 levels
/// dropped on a small thread stack could overflow it).
pub fn drop_deep(v: serde_json::Value) {
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        match v {
            serde_json::Value::Array(xs) => stack.extend(xs),
            serde_json::Value::Object(m) => stack.extend(m.into_iter().map(|(_, v)| v)),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// A callTracer answer whose tree is `frames` deep.
    pub(crate) fn nested_frames(frames: usize) -> String {
        let mut s = String::new();
        for _ in 0..frames {
            s.push_str(r#"{"type":"CALL","from":"0x00000000000000000000000000000000000000aa","to":"0x00000000000000000000000000000000000000bb","input":"0x","calls":["#);
        }
        s.push_str(r#"{"type":"CALL","input":"0x"}"#);
        for _ in 0..frames {
            s.push_str("]}");
        }
        s
    }

    #[test]
    fn depth_counts_nesting_outside_strings() {
        assert_eq!(depth(br#"{"a":[1,{"b":"[[[{{"}]}"#), 3);
        assert_eq!(depth(br#""\"[[""#), 0);
        assert_eq!(depth(nested_frames(65).as_bytes()), 131);
    }

    #[test]
    fn call_trees_as_deep_as_the_evm_allows_parse_and_deeper_ones_are_refused() {
        let ok = nested_frames(MAX_CALL_DEPTH);
        assert!(serde_json::from_str::<Value>(&ok).is_err(), "serde_json's own limit");
        let v: Value = from_str(&ok).unwrap();
        drop_deep(v);
        let e = from_str::<Value>(&nested_frames(MAX_CALL_DEPTH + 64)).unwrap_err();
        assert!(e.contains("nested"), "{e}");
        // Hostile: a million open brackets is refused by the measure, not by the stack.
        let hostile = "[".repeat(1_000_000);
        assert!(from_str::<Value>(&hostile).is_err());
    }
}
