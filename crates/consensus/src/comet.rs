//! CometBFT light blocks: single-step verification, skipping verification by bisection, fork
//! detection against witnesses, and the checks a monitor makes on every block it follows
//! (commit signatures by more than 2/3 of the voting power, validator-set hashes chained from
//! height to height). On the tendermint light-client verifier (`ProdVerifier`: Ed25519
//! signatures, voting-power tallies, trusting period, clock drift).

use crate::{ConsensusError, Result};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tendermint::block::signed_header::SignedHeader;
use tendermint::validator;
use tendermint_light_client_verifier::options::Options;
use tendermint_light_client_verifier::types::{LightBlock, PeerId, Time, TrustThreshold};
use tendermint_light_client_verifier::{ProdVerifier, Verdict, Verifier};

/// A light block as the CometBFT RPC and the tendermint-rs test vectors write it: a signed
/// header, the validator set that signed it and the next one.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LightBlockJson {
    /// Header and commit.
    pub signed_header: SignedHeader,
    /// Validators of this height.
    pub validator_set: validator::Set,
    /// Validators of the next height.
    pub next_validator_set: validator::Set,
    /// The peer that served it, when recorded.
    #[serde(default)]
    pub provider: Option<String>,
}

/// Decodes untrusted CometBFT JSON into tendermint types. The tendermint crate's base64
/// decoding panics on some malformed input (found by fuzzing: `testdata/consensus/
/// fuzz-base64-panic.json`); the panic is caught here and becomes an error, so a lying node
/// cannot stop the monitor.
pub fn from_json<T: serde::de::DeserializeOwned>(what: &str, v: &serde_json::Value) -> Result<T> {
    let err = |reason: String| ConsensusError::Decode { what: what.to_string(), reason };
    match std::panic::catch_unwind(|| serde_json::from_value::<T>(v.clone())) {
        Ok(Ok(x)) => Ok(x),
        Ok(Err(e)) => Err(err(e.to_string())),
        Err(_) => Err(err("the decoder panicked on malformed input".into())),
    }
}

/// A placeholder peer for blocks whose provider is not known.
fn default_peer() -> PeerId {
    PeerId::new([0u8; 20])
}

impl LightBlockJson {
    /// The verifier's light block.
    pub fn into_light_block(self) -> LightBlock {
        let provider =
            self.provider.as_deref().and_then(|p| p.parse().ok()).unwrap_or_else(default_peer);
        LightBlock::new(self.signed_header, self.validator_set, self.next_validator_set, provider)
    }
}

/// The outcome of one verification step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StepVerdict {
    /// The untrusted block verifies from the trusted one.
    Success,
    /// It is valid, but the trusted validators' overlap is below the trust threshold: a block
    /// in between must be verified first.
    NotEnoughTrust,
    /// It is invalid (bad signatures, hashes, times, heights, or fewer than 2/3 signing).
    Invalid,
}

/// Verification options: trust threshold (default 1/3), trusting period, clock drift.
pub fn options(trusting_period: Duration, clock_drift: Duration) -> Options {
    Options { trust_threshold: TrustThreshold::ONE_THIRD, trusting_period, clock_drift }
}

/// Verifies `untrusted` from `trusted` at time `now`, with the reason when it fails.
pub fn verify_step(
    trusted: &LightBlock,
    untrusted: &LightBlock,
    opts: &Options,
    now: Time,
) -> (StepVerdict, String) {
    let v = ProdVerifier::default().verify_update_header(
        untrusted.as_untrusted_state(),
        trusted.as_trusted_state(),
        opts,
        now,
    );
    match v {
        Verdict::Success => (StepVerdict::Success, String::new()),
        Verdict::NotEnoughTrust(t) => {
            (StepVerdict::NotEnoughTrust, format!("not enough trust: {t}"))
        }
        Verdict::Invalid(e) => (StepVerdict::Invalid, e.to_string()),
    }
}

/// The checks on a block followed one height at a time: its validator sets hash to what its
/// header says, and more than 2/3 of its own validators' voting power signed its commit with
/// valid Ed25519 signatures.
pub fn verify_commit(b: &LightBlock) -> Result<()> {
    let height = b.signed_header.header.height.value();
    let v = ProdVerifier::default();
    let err = |reason: String| ConsensusError::Comet { height, reason };
    match v.verify_validator_sets(&b.as_untrusted_state()) {
        Verdict::Success => {}
        other => return Err(err(format!("validator sets: {}", verdict_text(&other)))),
    }
    match v.verify_commit(&b.as_untrusted_state()) {
        Verdict::Success => Ok(()),
        other => Err(err(format!("commit: {}", verdict_text(&other)))),
    }
}

/// The votes of a commit, ready for Ed25519: each signer's sign bytes, signature and key.
#[derive(Debug, Clone)]
pub struct CommitVotes {
    /// Canonical vote sign bytes, one per signature.
    pub messages: Vec<Vec<u8>>,
    /// Signatures.
    pub signatures: Vec<ed25519_dalek::Signature>,
    /// Signers' keys.
    pub keys: Vec<ed25519_dalek::VerifyingKey>,
    /// Voting power of the signers.
    pub signed_power: u64,
    /// Voting power of the whole set.
    pub total_power: u64,
}

/// Checks that the block's validator sets hash to its header and that the commit is for this
/// header, then collects the votes of its commit.
pub fn commit_votes(b: &LightBlock) -> Result<CommitVotes> {
    use ed25519_dalek::{Signature, VerifyingKey};
    use tendermint::block::CommitSig;
    use tendermint::vote::{SignedVote, Type, ValidatorIndex, Vote};
    let sh = &b.signed_header;
    let height = sh.header.height.value();
    let err = |reason: String| ConsensusError::Comet { height, reason };
    match ProdVerifier::default().verify_validator_sets(&b.as_untrusted_state()) {
        Verdict::Success => {}
        other => return Err(err(format!("validator sets: {}", verdict_text(&other)))),
    }
    if sh.header.hash() != sh.commit.block_id.hash {
        return Err(err(format!(
            "the commit is for block {}, not this header {}",
            sh.commit.block_id.hash,
            sh.header.hash()
        )));
    }
    let mut out = CommitVotes {
        messages: Vec::new(),
        signatures: Vec::new(),
        keys: Vec::new(),
        signed_power: 0,
        total_power: b.validators.total_voting_power().value(),
    };
    let mut seen = std::collections::BTreeSet::new();
    for (i, cs) in sh.commit.signatures.iter().enumerate() {
        let CommitSig::BlockIdFlagCommit { validator_address, timestamp, signature } = cs else {
            continue;
        };
        let Some(v) = b.validators.validator(*validator_address) else {
            return Err(err(format!("signature by {validator_address}, who is not a validator")));
        };
        if !seen.insert(*validator_address) {
            return Err(err(format!("{validator_address} signed twice")));
        }
        let index = ValidatorIndex::try_from(i).map_err(|e| err(e.to_string()))?;
        let vote = Vote {
            vote_type: Type::Precommit,
            height: sh.commit.height,
            round: sh.commit.round,
            block_id: Some(sh.commit.block_id),
            timestamp: Some(*timestamp),
            validator_address: *validator_address,
            validator_index: index,
            signature: signature.clone(),
            extension: Default::default(),
            extension_signature: None,
        };
        let Some(sv) = SignedVote::from_vote(vote, sh.header.chain_id.clone()) else {
            return Err(err(format!(
                "{validator_address}: a commit signature without a signature"
            )));
        };
        let key = v
            .pub_key
            .ed25519()
            .ok_or_else(|| err(format!("{validator_address}: not an Ed25519 key")))?;
        let bytes: [u8; 32] = key
            .as_bytes()
            .try_into()
            .map_err(|_| err(format!("{validator_address}: key length")))?;
        out.keys.push(VerifyingKey::from_bytes(&bytes).map_err(|e| err(e.to_string()))?);
        out.signatures.push(
            Signature::from_slice(sv.signature().as_bytes()).map_err(|e| err(e.to_string()))?,
        );
        out.messages.push(sv.sign_bytes());
        out.signed_power += v.power();
    }
    Ok(out)
}

/// [`verify_commit`] with every signature checked (no early stop at 2/3), in one Ed25519 batch
/// (ed25519-dalek's batch verification). Returns the voting power that signed.
pub fn verify_commit_batch(b: &LightBlock) -> Result<u64> {
    let height = b.signed_header.header.height.value();
    let err = |reason: String| ConsensusError::Comet { height, reason };
    let v = commit_votes(b)?;
    let refs: Vec<&[u8]> = v.messages.iter().map(Vec::as_slice).collect();
    ed25519_dalek::verify_batch(&refs, &v.signatures, &v.keys)
        .map_err(|_| err("a commit signature does not verify".into()))?;
    if v.signed_power * 3 <= v.total_power * 2 {
        return Err(err(format!(
            "{} of {} voting power signed, not more than 2/3",
            v.signed_power, v.total_power
        )));
    }
    Ok(v.signed_power)
}

fn verdict_text(v: &Verdict) -> String {
    match v {
        Verdict::Success => "ok".into(),
        Verdict::NotEnoughTrust(t) => format!("not enough voting power signed: {t}"),
        Verdict::Invalid(e) => e.to_string(),
    }
}

/// The next block links to `prev`: consecutive heights, its `last_block_id` is `prev`'s hash,
/// and its validators are the ones `prev` announced as next.
pub fn verify_link(prev: &LightBlock, next: &LightBlock) -> Result<()> {
    let (p, n) = (&prev.signed_header.header, &next.signed_header.header);
    let height = n.height.value();
    let err = |reason: String| ConsensusError::Comet { height, reason };
    if n.height.value() != p.height.value() + 1 {
        return Err(err(format!("follows height {}", p.height)));
    }
    if n.validators_hash != p.next_validators_hash {
        return Err(err(format!(
            "validators hash {} is not the next validators hash {} announced at height {}",
            n.validators_hash, p.next_validators_hash, p.height
        )));
    }
    if n.last_block_id.map(|id| id.hash) != Some(p.hash()) {
        return Err(err(format!(
            "last block id is not the hash {} of height {}",
            p.hash(),
            p.height
        )));
    }
    Ok(())
}

/// What skipping verification did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bisection {
    /// Heights tried, in order.
    pub attempts: Vec<u64>,
    /// Heights that verified (the trust chain), in order.
    pub verified: Vec<u64>,
}

/// Verifies the block at `target` from `trusted` with skipping verification (tendermint-rs's
/// bisection schedule): try the target; when the trusted validators' overlap is too small, try
/// the midpoint, and so on. `fetch` serves a height from the primary.
pub fn bisect(
    trusted: &LightBlock,
    target: u64,
    fetch: &dyn Fn(u64) -> Option<LightBlock>,
    opts: &Options,
    now: Time,
) -> Result<(LightBlock, Bisection)> {
    let mut trust = trusted.clone();
    let mut pending: Vec<LightBlock> = Vec::new();
    let mut current = target;
    let mut report = Bisection { attempts: Vec::new(), verified: Vec::new() };
    while trust.height().value() < target {
        let block = match pending.iter().position(|b| b.height().value() == current) {
            Some(i) => pending.remove(i),
            None => fetch(current).ok_or_else(|| ConsensusError::Comet {
                height: current,
                reason: "the primary does not serve this height".into(),
            })?,
        };
        report.attempts.push(current);
        match verify_step(&trust, &block, opts, now) {
            (StepVerdict::Success, _) => {
                report.verified.push(current);
                trust = block;
                current = target;
            }
            (StepVerdict::NotEnoughTrust, _) => {
                let low = trust.height().value();
                let mid = low + (current - low) / 2;
                if mid == low {
                    return Err(ConsensusError::Comet {
                        height: current,
                        reason:
                            "no height between the trusted and the untrusted block to bisect at"
                                .into(),
                    });
                }
                pending.push(block);
                current = mid;
            }
            (StepVerdict::Invalid, why) => {
                return Err(ConsensusError::Comet { height: current, reason: why })
            }
        }
    }
    Ok((trust, report))
}

/// What witnesses say about a verified block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Witnessed {
    /// Every witness serves the same header.
    Agree,
    /// A witness serves a different header at the same height that also verifies from the
    /// trusted block: a fork (an attack by validators, or a lying primary).
    Conflict {
        /// Height.
        height: u64,
        /// Index of the witness.
        witness: usize,
        /// The primary's header hash.
        primary: String,
        /// The witness's header hash.
        other: String,
    },
    /// Witnesses that served a different header which does not verify: they are faulty.
    FaultyWitnesses(Vec<usize>),
}

/// Compares the block verified from the primary with each witness's block at its height; a
/// differing block is verified from `trusted` (by bisection over that witness).
pub fn detect_fork(
    verified: &LightBlock,
    trusted: &LightBlock,
    witnesses: &[&dyn Fn(u64) -> Option<LightBlock>],
    opts: &Options,
    now: Time,
) -> Witnessed {
    let h = verified.height().value();
    let mut faulty = Vec::new();
    for (i, w) in witnesses.iter().enumerate() {
        let Some(theirs) = w(h) else {
            faulty.push(i);
            continue;
        };
        if theirs.signed_header.header.hash() == verified.signed_header.header.hash() {
            continue;
        }
        match bisect(trusted, h, *w, opts, now) {
            Ok(_) => {
                return Witnessed::Conflict {
                    height: h,
                    witness: i,
                    primary: verified.signed_header.header.hash().to_string(),
                    other: theirs.signed_header.header.hash().to_string(),
                }
            }
            Err(_) => faulty.push(i),
        }
    }
    if faulty.is_empty() {
        Witnessed::Agree
    } else {
        Witnessed::FaultyWitnesses(faulty)
    }
}
