//! The N-of-M vote: the outcome does not depend on the order of the ballots, and an agreement
//! has at least the quorum behind it and no other hash with as much.
#![no_main]
use libfuzzer_sys::fuzz_target;
use palisade_primitives::B256;
use palisade_verify::agreement::{tally, Tally};

fuzz_target!(|data: &[u8]| {
    if data.is_empty() {
        return;
    }
    let quorum = usize::from(data[0] % 8);
    let ballots: Vec<(usize, Option<B256>)> = data[1..]
        .iter()
        .enumerate()
        .take(16)
        .map(|(i, b)| (i, (*b != 0).then(|| B256::repeat_byte(*b % 4))))
        .collect();
    let t = tally(&ballots, quorum);
    let mut rev = ballots.clone();
    rev.reverse();
    assert_eq!(t, tally(&rev, quorum), "order changed the outcome");
    if let Tally::Agreed { hash, voters, dissenters, .. } = &t {
        assert!(voters.len() >= quorum.max(1));
        assert!(voters.iter().all(|v| ballots[*v].1 == Some(*hash)));
        assert!(dissenters.iter().all(|(d, h)| ballots[*d].1 == Some(*h) && h != hash));
    }
});
