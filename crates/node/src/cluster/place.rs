//! Where chains go: pure decisions from what the lease and member buckets say, so that they can
//! be tested without a server.
//!
//! Each chain has a preferred owner among the live members that take the owner role:
//! rendezvous (highest random weight) hashing of (chain, member), so chains spread evenly and
//! only the chains of a member that leaves or joins move. A free chain is taken by its
//! preferred owner at once, and by anyone once it has been free for a lease TTL (a preferred
//! owner that is gone but not yet known to be gone). A chain held by a member that is no longer
//! preferred is handed over: its holder stops it and releases the lease.

use std::collections::BTreeSet;
use std::time::Duration;

/// FNV-1a, 64 bits, finalized: the same on every member and every build.
fn fnv(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in *p {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        // A separator, so ("ab","c") and ("a","bc") differ.
        h ^= 0xff;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    // splitmix64's finalizer: FNV alone mixes short, similar names poorly.
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// The preferred owner of `chain` among `owners` (live members with the owner role).
pub(crate) fn preferred<'a>(chain: &str, owners: &'a BTreeSet<String>) -> Option<&'a str> {
    owners
        .iter()
        .max_by_key(|m| (fnv(&[chain.as_bytes(), m.as_bytes()]), m.as_str()))
        .map(|m| m.as_str())
}

/// What the lease bucket says of a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Holder {
    /// Nobody holds it; it has been free this long, as far as this member has seen.
    Free(Duration),
    /// This member holds it.
    Me,
    /// Another member holds it.
    Other(String),
}

/// What this member should do about a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// Take the free lease and start the chain.
    Acquire,
    /// Keep it: renew the lease.
    Renew,
    /// Stop the chain and release the lease to its preferred owner.
    HandOver,
    /// Nothing.
    Wait,
}

/// The step for `chain` held as `holder`, where `me` is this member, `owners` the live members
/// with the owner role (this one included when it takes the role) and `ttl` the lease TTL.
pub(crate) fn step(
    chain: &str,
    holder: &Holder,
    me: &str,
    owners: &BTreeSet<String>,
    ttl: Duration,
) -> Step {
    let pref = preferred(chain, owners);
    match holder {
        Holder::Me if pref.is_some_and(|p| p != me) => Step::HandOver,
        Holder::Me => Step::Renew,
        Holder::Free(_) if !owners.contains(me) => Step::Wait,
        Holder::Free(_) if pref == Some(me) => Step::Acquire,
        Holder::Free(for_) if *for_ >= ttl => Step::Acquire,
        Holder::Free(_) | Holder::Other(_) => Step::Wait,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(xs: &[&str]) -> BTreeSet<String> {
        xs.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn chains_spread_and_only_a_leavers_chains_move() {
        let three = set(&["a", "b", "c"]);
        let chains: Vec<String> = (0..300).map(|i| format!("chain-{i}")).collect();
        let before: Vec<&str> = chains.iter().map(|c| preferred(c, &three).unwrap()).collect();
        for m in ["a", "b", "c"] {
            let n = before.iter().filter(|p| **p == m).count();
            assert!((70..130).contains(&n), "{m} prefers {n} of 300");
        }
        let two = set(&["a", "c"]);
        for (c, b) in chains.iter().zip(&before) {
            let after = preferred(c, &two).unwrap();
            if *b != "b" {
                assert_eq!(after, *b, "{c} moved although its owner stayed");
            }
        }
    }

    #[test]
    fn steps() {
        let ttl = Duration::from_secs(5);
        let owners = set(&["a", "b"]);
        let c =
            (0..100).map(|i| format!("c{i}")).find(|c| preferred(c, &owners) == Some("a")).unwrap();
        assert_eq!(step(&c, &Holder::Free(Duration::ZERO), "a", &owners, ttl), Step::Acquire);
        assert_eq!(step(&c, &Holder::Free(Duration::ZERO), "b", &owners, ttl), Step::Wait);
        assert_eq!(step(&c, &Holder::Free(ttl), "b", &owners, ttl), Step::Acquire, "a is slow");
        assert_eq!(step(&c, &Holder::Me, "a", &owners, ttl), Step::Renew);
        assert_eq!(step(&c, &Holder::Me, "b", &owners, ttl), Step::HandOver);
        assert_eq!(step(&c, &Holder::Other("a".into()), "b", &owners, ttl), Step::Wait);
        // A member without the owner role never takes a chain.
        assert_eq!(step(&c, &Holder::Free(ttl), "x", &owners, ttl), Step::Wait);
        // Alone, a member keeps what it holds.
        assert_eq!(step(&c, &Holder::Me, "b", &set(&["b"]), ttl), Step::Renew);
    }
}
