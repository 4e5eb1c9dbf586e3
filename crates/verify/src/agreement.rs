//! N-of-M agreement: which block hash, if any, enough endpoints report at one height.
//!
//! A vote is pure: the caller asks each endpoint for its canonical block hash at a height and
//! passes the answers in; [`tally`] says whether a quorum agrees, who dissents and who had no
//! block there yet. What to do about dissenters (quarantine them only once the agreed block has
//! verified) is the caller's decision.

use alloy_primitives::B256;
use serde::Serialize;

/// What one endpoint answered for a height: its block hash there, or `None` when it has no
/// block at that height (it lags).
pub type Ballot = (usize, Option<B256>);

/// The outcome of a vote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Tally {
    /// Exactly one hash has at least `quorum` votes.
    Agreed {
        /// The agreed hash.
        hash: B256,
        /// Endpoints that reported it, in index order.
        voters: Vec<usize>,
        /// Endpoints that reported another hash, with that hash.
        dissenters: Vec<(usize, B256)>,
        /// Endpoints with no block at that height.
        absent: Vec<usize>,
    },
    /// No hash reached the quorum, or two different hashes both did (a quorum below a majority
    /// can be met twice).
    NoQuorum {
        /// Each reported hash with its voters, most votes first (ties by hash).
        groups: Vec<(B256, Vec<usize>)>,
        /// Endpoints with no block at that height.
        absent: Vec<usize>,
    },
}

impl Tally {
    /// True when endpoints reported at least two different hashes (a fork between them, or an
    /// eclipse of some of them).
    pub fn is_split(&self) -> bool {
        match self {
            Self::Agreed { dissenters, .. } => !dissenters.is_empty(),
            Self::NoQuorum { groups, .. } => groups.len() > 1,
        }
    }

    /// The agreed hash, if any.
    pub fn agreed(&self) -> Option<B256> {
        match self {
            Self::Agreed { hash, .. } => Some(*hash),
            Self::NoQuorum { .. } => None,
        }
    }
}

/// Counts the ballots. `quorum` is the number of identical answers needed (at least 1).
/// The result does not depend on the order of the ballots.
pub fn tally(ballots: &[Ballot], quorum: usize) -> Tally {
    let quorum = quorum.max(1);
    let mut groups: Vec<(B256, Vec<usize>)> = Vec::new();
    let mut absent = Vec::new();
    for &(endpoint, answer) in ballots {
        match answer {
            None => absent.push(endpoint),
            Some(h) => match groups.iter_mut().find(|(g, _)| *g == h) {
                Some((_, voters)) => voters.push(endpoint),
                None => groups.push((h, vec![endpoint])),
            },
        }
    }
    for (_, v) in &mut groups {
        v.sort_unstable();
        v.dedup();
    }
    absent.sort_unstable();
    absent.dedup();
    groups.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));
    let reaching = groups.iter().filter(|(_, v)| v.len() >= quorum).count();
    if reaching != 1 {
        return Tally::NoQuorum { groups, absent };
    }
    let (hash, voters) = groups[0].clone();
    let mut dissenters: Vec<(usize, B256)> =
        groups[1..].iter().flat_map(|(h, v)| v.iter().map(move |e| (*e, *h))).collect();
    dissenters.sort_unstable();
    Tally::Agreed { hash, voters, dissenters, absent }
}

/// The height at least `quorum` endpoints have reached: the `quorum`-th highest of their heads.
/// `None` when fewer than `quorum` heads are known.
pub fn quorum_height(heads: &[u64], quorum: usize) -> Option<u64> {
    let mut hs = heads.to_vec();
    hs.sort_unstable_by(|a, b| b.cmp(a));
    hs.get(quorum.max(1) - 1).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(b: u8) -> B256 {
        B256::repeat_byte(b)
    }

    #[test]
    fn two_of_three_agree_and_the_third_dissents() {
        let t = tally(&[(0, Some(h(9))), (1, Some(h(1))), (2, Some(h(1)))], 2);
        assert_eq!(
            t,
            Tally::Agreed {
                hash: h(1),
                voters: vec![1, 2],
                dissenters: vec![(0, h(9))],
                absent: vec![]
            }
        );
        assert!(t.is_split());
        // Order of ballots does not matter.
        assert_eq!(t, tally(&[(2, Some(h(1))), (0, Some(h(9))), (1, Some(h(1)))], 2));
    }

    #[test]
    fn absent_endpoints_neither_vote_nor_dissent() {
        let t = tally(&[(0, None), (1, Some(h(1))), (2, Some(h(1)))], 2);
        assert_eq!(t.agreed(), Some(h(1)));
        assert!(!t.is_split());
        let t = tally(&[(0, None), (1, None), (2, Some(h(1)))], 2);
        assert_eq!(t, Tally::NoQuorum { groups: vec![(h(1), vec![2])], absent: vec![0, 1] });
    }

    #[test]
    fn a_three_way_split_has_no_quorum() {
        let t = tally(&[(0, Some(h(3))), (1, Some(h(1))), (2, Some(h(2)))], 2);
        let Tally::NoQuorum { groups, .. } = &t else { panic!("{t:?}") };
        assert_eq!(groups.len(), 3);
        assert_eq!(groups[0].0, h(1), "ties are ordered by hash");
        assert!(t.is_split());
    }

    #[test]
    fn two_groups_meeting_a_low_quorum_is_a_conflict_not_an_agreement() {
        let t = tally(&[(0, Some(h(1))), (1, Some(h(2)))], 1);
        assert!(t.agreed().is_none());
        assert!(t.is_split());
        assert_eq!(tally(&[(0, Some(h(1)))], 1).agreed(), Some(h(1)));
        // Two liars alike out-vote one honest endpoint: the vote alone cannot tell, which is
        // why the caller verifies the agreed block before trusting it.
        assert_eq!(
            tally(&[(0, Some(h(7))), (1, Some(h(7))), (2, Some(h(1)))], 2).agreed(),
            Some(h(7))
        );
    }

    #[test]
    fn quorum_height_is_the_kth_highest_head() {
        assert_eq!(quorum_height(&[10, 12, 11], 2), Some(11));
        assert_eq!(quorum_height(&[10, 12, 11], 1), Some(12));
        assert_eq!(quorum_height(&[10], 2), None);
        assert_eq!(quorum_height(&[], 1), None);
    }
}
