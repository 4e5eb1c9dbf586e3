//! BLS12-381 signatures with Ethereum's ciphersuite (proof of possession, public keys in G1,
//! signatures in G2), on blst. Keys are validated (in the subgroup, not the identity) as the
//! consensus spec's `KeyValidate` requires; signatures are group-checked.

use crate::{ConsensusError, Result};
use blst::min_pk::{AggregatePublicKey, AggregateSignature, PublicKey, Signature};
use blst::BLST_ERROR;

/// The domain separation tag of Ethereum's BLS signatures.
pub const DST: &[u8] = b"BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_";

fn err(what: &str, e: BLST_ERROR) -> ConsensusError {
    ConsensusError::Bls(format!("{what}: {e:?}"))
}

/// A validated public key from its 48-byte compressed form.
pub fn public_key(bytes: &[u8]) -> Result<PublicKey> {
    PublicKey::key_validate(bytes).map_err(|e| err("public key", e))
}

/// A signature from its 96-byte compressed form, checked to be in G2's subgroup.
pub fn signature(bytes: &[u8]) -> Result<Signature> {
    Signature::sig_validate(bytes, false).map_err(|e| err("signature", e))
}

/// `Verify(pk, message, signature)`.
pub fn verify(pk: &[u8], message: &[u8], sig: &[u8]) -> bool {
    match (public_key(pk), signature(sig)) {
        (Ok(pk), Ok(sig)) => {
            sig.verify(true, message, DST, &[], &pk, false) == BLST_ERROR::BLST_SUCCESS
        }
        _ => false,
    }
}

/// `FastAggregateVerify(pks, message, signature)`: every key signed the same message. False for
/// no keys.
pub fn fast_aggregate_verify(pks: &[PublicKey], message: &[u8], sig: &Signature) -> bool {
    if pks.is_empty() {
        return false;
    }
    let refs: Vec<&PublicKey> = pks.iter().collect();
    sig.fast_aggregate_verify(true, message, DST, &refs) == BLST_ERROR::BLST_SUCCESS
}

/// [`fast_aggregate_verify`] from encoded keys and signature.
pub fn fast_aggregate_verify_bytes(pks: &[&[u8]], message: &[u8], sig: &[u8]) -> bool {
    let Ok(sig) = signature(sig) else { return false };
    let Ok(pks) = pks.iter().map(|p| public_key(p)).collect::<Result<Vec<_>>>() else {
        return false;
    };
    fast_aggregate_verify(&pks, message, &sig)
}

/// `AggregateVerify(pks, messages, signature)`: each key signed its own message. False for no
/// keys or mismatched lengths.
pub fn aggregate_verify(pks: &[&[u8]], messages: &[&[u8]], sig: &[u8]) -> bool {
    if pks.is_empty() || pks.len() != messages.len() {
        return false;
    }
    let Ok(sig) = signature(sig) else { return false };
    let Ok(pks) = pks.iter().map(|p| public_key(p)).collect::<Result<Vec<_>>>() else {
        return false;
    };
    let refs: Vec<&PublicKey> = pks.iter().collect();
    sig.aggregate_verify(true, messages, DST, &refs, false) == BLST_ERROR::BLST_SUCCESS
}

/// `Aggregate(signatures)`: the compressed aggregate. An error for no signatures or an invalid
/// one.
pub fn aggregate(sigs: &[&[u8]]) -> Result<[u8; 96]> {
    if sigs.is_empty() {
        return Err(ConsensusError::Bls("aggregate of no signatures".into()));
    }
    let sigs = sigs.iter().map(|s| signature(s)).collect::<Result<Vec<_>>>()?;
    let refs: Vec<&Signature> = sigs.iter().collect();
    let agg = AggregateSignature::aggregate(&refs, false).map_err(|e| err("aggregate", e))?;
    Ok(agg.to_signature().compress())
}

/// The aggregate of validated public keys (for committee keys computed once).
pub fn aggregate_public_keys(pks: &[PublicKey]) -> Result<PublicKey> {
    let refs: Vec<&PublicKey> = pks.iter().collect();
    Ok(AggregatePublicKey::aggregate(&refs, false)
        .map_err(|e| err("aggregate keys", e))?
        .to_public_key())
}

/// Batch verification of independent (key, message, signature) sets with random scalars: true
/// only when every set verifies.
pub fn batch_verify(sets: &[(&[u8], &[u8], &[u8])], seed: u64) -> bool {
    if sets.is_empty() {
        return false;
    }
    let mut pks = Vec::with_capacity(sets.len());
    let mut sigs = Vec::with_capacity(sets.len());
    for (pk, _, sig) in sets {
        match (public_key(pk), signature(sig)) {
            (Ok(p), Ok(s)) => {
                pks.push(p);
                sigs.push(s);
            }
            _ => return false,
        }
    }
    let msgs: Vec<&[u8]> = sets.iter().map(|s| s.1).collect();
    let pk_refs: Vec<&PublicKey> = pks.iter().collect();
    let sig_refs: Vec<&Signature> = sigs.iter().collect();
    // Non-zero 64-bit scalars from a splitmix64 stream; the caller supplies the seed (a
    // verifier should use fresh randomness; the seed keeps this function pure).
    let mut x = seed;
    let rands: Vec<blst::blst_scalar> = (0..sets.len())
        .map(|_| {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            let mut s = blst::blst_scalar::default();
            s.b[..8].copy_from_slice(&(z | 1).to_le_bytes());
            s
        })
        .collect();
    Signature::verify_multiple_aggregate_signatures(
        &msgs, DST, &pk_refs, false, &sig_refs, true, &rands, 64,
    ) == BLST_ERROR::BLST_SUCCESS
}
