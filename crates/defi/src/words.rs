//! Reading ABI-encoded words from calldata, return data and log data, without panicking on short
//! or malformed input.

use palisade_primitives::{Address, B256, U256};

/// The `i`-th 32-byte word of `data`.
pub(crate) fn word(data: &[u8], i: usize) -> Option<[u8; 32]> {
    let start = i.checked_mul(32)?;
    data.get(start..start.checked_add(32)?).map(|w| {
        let mut out = [0u8; 32];
        out.copy_from_slice(w);
        out
    })
}

/// The `i`-th word as an unsigned integer.
pub(crate) fn uint(data: &[u8], i: usize) -> Option<U256> {
    word(data, i).map(U256::from_be_bytes)
}

/// The `i`-th word as an address (the upper 12 bytes must be zero).
pub(crate) fn addr(data: &[u8], i: usize) -> Option<Address> {
    let w = word(data, i)?;
    w[..12].iter().all(|b| *b == 0).then(|| Address::from_slice(&w[12..]))
}

/// The `i`-th word as a two's-complement signed integer: (magnitude, negative).
pub(crate) fn int(data: &[u8], i: usize) -> Option<(U256, bool)> {
    let v = uint(data, i)?;
    if v.bit(255) {
        Some(((!v).wrapping_add(U256::from(1)), true))
    } else {
        Some((v, false))
    }
}

/// Arguments of a call: the calldata after the selector.
pub(crate) fn args(input: &[u8]) -> &[u8] {
    input.get(4..).unwrap_or(&[])
}

/// An indexed address topic.
pub(crate) fn topic_addr(t: &B256) -> Option<Address> {
    t.0[..12].iter().all(|b| *b == 0).then(|| Address::from_slice(&t.0[12..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_or_dirty_input_gives_none() {
        assert_eq!(word(&[0u8; 31], 0), None);
        assert_eq!(word(&[0u8; 64], usize::MAX), None);
        let mut w = [0u8; 32];
        w[0] = 1;
        assert_eq!(addr(&w, 0), None, "an address word with dirty upper bytes");
        let minus_one = [0xffu8; 32];
        assert_eq!(int(&minus_one, 0), Some((U256::from(1), true)));
        assert_eq!(args(&[1, 2]), &[] as &[u8]);
    }
}
