//! `pause_tx`: signs and sends a configured transaction (for example `pause()` on the guarded
//! contract), priced to be ordered before the transaction that triggered it, with nonce
//! management and replacement when it is not mined.

use crate::keys::Key;
use crate::RespondError;
use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, Bytes, TxKind, B256, U256};
use alloy_signer::SignerSync;
use palisade_source::evm_rpc::RpcClient;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// The transaction of a `pause_tx` responder and how it is priced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PauseTxConfig {
    /// The contract called.
    pub to: Address,
    /// The function called, without arguments (`pause()`), or raw calldata (`0x8456cb59`).
    pub call: String,
    /// Gas limit (default 200000).
    #[serde(default = "gas")]
    pub gas_limit: u64,
    /// Priority fee over the triggering transaction's, in percent (default 50: its tip x 1.5).
    #[serde(default = "fifty")]
    pub fee_bump_percent: u64,
    /// Lowest priority fee paid, in wei (default 2 gwei).
    #[serde(default = "two_gwei")]
    pub min_priority_fee: u64,
    /// Highest priority fee paid, in gwei (default 1000): the budget of a race.
    #[serde(default = "thousand")]
    pub max_priority_fee_gwei: u64,
    /// Highest fee cap, in gwei (default 5000): the pause's cap goes above the trigger's up to
    /// this (only base fee and tip are paid).
    #[serde(default = "five_thousand")]
    pub max_fee_gwei: u64,
    /// Resend with higher fees when not mined after this many milliseconds (default 3000).
    #[serde(default = "three_s")]
    pub replace_after_ms: u64,
    /// Replacements at most (default 3).
    #[serde(default = "three")]
    pub max_replacements: u32,
}

fn gas() -> u64 {
    200_000
}
fn fifty() -> u64 {
    50
}
fn two_gwei() -> u64 {
    2_000_000_000
}
fn thousand() -> u64 {
    1000
}
fn five_thousand() -> u64 {
    5000
}
fn three_s() -> u64 {
    3000
}
fn three() -> u32 {
    3
}

const GWEI: u128 = 1_000_000_000;

impl PauseTxConfig {
    /// A call to `to` with every pricing default (`call` empty: set it).
    pub fn defaults(to: Address) -> Self {
        Self {
            to,
            call: String::new(),
            gas_limit: gas(),
            fee_bump_percent: fifty(),
            min_priority_fee: two_gwei(),
            max_priority_fee_gwei: thousand(),
            max_fee_gwei: five_thousand(),
            replace_after_ms: three_s(),
            max_replacements: three(),
        }
    }

    /// The calldata: the selector of `call`, or `call` itself when it is hex.
    pub fn calldata(&self) -> Result<Bytes, String> {
        let c = self.call.trim();
        if let Some(hex) = c.strip_prefix("0x") {
            return alloy_primitives::hex::decode(hex)
                .map(Bytes::from)
                .map_err(|e| format!("not hex calldata: {e}"));
        }
        let open = c.find('(').ok_or("give a signature like pause() or hex calldata")?;
        if !c.ends_with("()") || open + 2 != c.len() || c[..open].is_empty() {
            return Err("only functions without arguments are supported as signatures; give hex calldata for others".into());
        }
        Ok(Bytes::copy_from_slice(&alloy_primitives::keccak256(c.as_bytes())[..4]))
    }
}

/// What the responder will send: the fee race, fixed before signing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pricing {
    /// Priority fee, wei.
    pub priority_fee: u128,
    /// Fee cap, wei.
    pub max_fee: u128,
    /// True when the budget (`max_priority_fee_gwei`) stopped it from outbidding the trigger.
    pub capped: bool,
}

/// What is known of the transaction a pause must precede.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Trigger {
    /// Its effective tip at the base fee.
    pub tip: Option<u128>,
    /// Its fee cap.
    pub max_fee: Option<u128>,
}

/// Prices the pause to be ordered before `trigger`: its tip plus the bump, at least
/// `min_priority_fee`, at most the budget. The fee cap leaves room for two base-fee rises and is
/// also above the trigger's cap (plus the bump): some block builders (anvil among them) order by
/// fee cap rather than by effective tip, and a cap costs nothing beyond base fee and tip.
pub fn price(cfg: &PauseTxConfig, trigger: Trigger, base_fee: u128) -> Pricing {
    let budget = cfg.max_priority_fee_gwei as u128 * GWEI;
    let bumped = |t: u128| t.saturating_mul(100 + cfg.fee_bump_percent as u128) / 100 + 1;
    let want = trigger.tip.map(bumped).unwrap_or(0).max(cfg.min_priority_fee as u128);
    let priority_fee = want.min(budget);
    let cap_budget = cfg.max_fee_gwei as u128 * GWEI;
    let cap = base_fee
        .saturating_mul(2)
        .saturating_add(priority_fee)
        .max(trigger.max_fee.map(bumped).unwrap_or(0).min(cap_budget));
    Pricing { priority_fee, max_fee: cap, capped: want > budget }
}

/// Fees of a replacement: at least 12.5% over both of the previous ones (nodes require 10%).
pub fn bump(p: &Pricing) -> Pricing {
    let up = |x: u128| x.saturating_add(x / 8).saturating_add(1);
    Pricing { priority_fee: up(p.priority_fee), max_fee: up(p.max_fee), capped: p.capped }
}

/// A signed transaction ready to send.
#[derive(Debug, Clone)]
pub struct Signed {
    /// Its hash.
    pub hash: B256,
    /// EIP-2718 encoding.
    pub raw: Bytes,
}

/// Signs the pause transaction.
pub fn sign(
    key: &Key,
    cfg: &PauseTxConfig,
    chain_id: u64,
    nonce: u64,
    p: &Pricing,
) -> Result<Signed, RespondError> {
    let input = cfg.calldata().map_err(|reason| RespondError::Config {
        responder: "pause_tx".into(),
        field: "call".into(),
        reason,
    })?;
    let tx = TxEip1559 {
        chain_id,
        nonce,
        gas_limit: cfg.gas_limit,
        max_fee_per_gas: p.max_fee,
        max_priority_fee_per_gas: p.priority_fee,
        to: TxKind::Call(cfg.to),
        value: U256::ZERO,
        access_list: Default::default(),
        input,
    };
    let sig = key
        .signer()
        .sign_hash_sync(&tx.signature_hash())
        .map_err(|e| RespondError::Sign(e.to_string()))?;
    let env: TxEnvelope = tx.into_signed(sig).into();
    Ok(Signed { hash: *env.tx_hash(), raw: env.encoded_2718().into() })
}

/// How a sent pause ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Landed {
    /// The transaction that was mined.
    pub tx_hash: B256,
    /// Its block.
    pub block_number: u64,
    /// True when it succeeded.
    pub success: bool,
    /// Replacements sent before it was mined.
    pub replacements: u32,
    /// Milliseconds from the first send to the receipt.
    pub ms_to_receipt: u64,
}

/// Sends the nonce manager's pause and watches it: replaced with higher fees when it is not
/// mined within `replace_after_ms`, at most `max_replacements` times.
#[derive(Debug)]
pub struct Sender<'a> {
    /// The RPC to send through.
    pub rpc: &'a RpcClient,
    /// The key.
    pub key: &'a Key,
    /// The transaction.
    pub cfg: &'a PauseTxConfig,
    /// The chain id signed into it.
    pub chain_id: u64,
}

impl Sender<'_> {
    /// The next nonce of the key (pending transactions counted).
    pub async fn nonce(&self) -> Result<u64, RespondError> {
        let v = self
            .rpc
            .call("eth_getTransactionCount", json!([self.key.address(), "pending"]))
            .await
            .map_err(|e| RespondError::Rpc(e.to_string()))?;
        palisade_primitives::quantity::u64(&v)
            .map_err(|e| RespondError::Rpc(format!("eth_getTransactionCount: {e}")))
    }

    /// Sends a signed transaction; "already known" counts as sent.
    pub async fn send(&self, s: &Signed) -> Result<(), RespondError> {
        match self.rpc.call("eth_sendRawTransaction", json!([s.raw])).await {
            Ok(_) => Ok(()),
            Err(e) if e.to_string().to_lowercase().contains("already known") => Ok(()),
            Err(e) => Err(RespondError::Rpc(e.to_string())),
        }
    }

    async fn receipt(&self, hash: B256) -> Result<Option<Value>, RespondError> {
        let v = self
            .rpc
            .call("eth_getTransactionReceipt", json!([hash]))
            .await
            .map_err(|e| RespondError::Rpc(e.to_string()))?;
        Ok((!v.is_null()).then_some(v))
    }

    /// Watches a sent pause until one of its versions is mined, replacing it on schedule.
    /// `first` was sent at `sent_at` with `pricing` and `nonce`. Gives up after `deadline`.
    pub async fn watch(
        &self,
        first: Signed,
        nonce: u64,
        mut pricing: Pricing,
        sent_at: Instant,
        deadline: Duration,
    ) -> Result<Landed, RespondError> {
        let mut versions = vec![first.hash];
        let mut last_send = Instant::now();
        let replace_after = Duration::from_millis(self.cfg.replace_after_ms.max(100));
        loop {
            for h in versions.iter().rev() {
                if let Some(r) = self.receipt(*h).await? {
                    let n = r.get("blockNumber").map(palisade_primitives::quantity::u64);
                    return Ok(Landed {
                        tx_hash: *h,
                        block_number: n.and_then(Result::ok).unwrap_or_default(),
                        success: r.get("status").and_then(|s| s.as_str()) == Some("0x1"),
                        replacements: versions.len() as u32 - 1,
                        ms_to_receipt: sent_at.elapsed().as_millis() as u64,
                    });
                }
            }
            if sent_at.elapsed() > deadline {
                return Err(RespondError::NotMined {
                    tx_hash: *versions.last().unwrap_or(&first.hash),
                });
            }
            if last_send.elapsed() >= replace_after
                && (versions.len() as u32) <= self.cfg.max_replacements
            {
                // The nonce may have been used by the previous version meanwhile: then a receipt
                // is near, and the node refuses the replacement ("nonce too low"), which is fine.
                pricing = bump(&pricing);
                let s = sign(self.key, self.cfg, self.chain_id, nonce, &pricing)?;
                match self.send(&s).await {
                    Ok(()) => versions.push(s.hash),
                    Err(e) => tracing::debug!(error = %e, "replacement not accepted"),
                }
                last_send = Instant::now();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> PauseTxConfig {
        serde_json::from_value(json!({"to": Address::repeat_byte(0x5a), "call": "pause()"}))
            .unwrap()
    }

    #[test]
    fn the_pause_outbids_the_trigger_within_its_budget() {
        let c = cfg();
        let t = |tip: u128, cap: Option<u128>| Trigger { tip: Some(tip), max_fee: cap };
        let p = price(&c, t(10 * GWEI, None), 7);
        assert_eq!(p.priority_fee, 15 * GWEI + 1);
        assert_eq!(p.max_fee, 14 + 15 * GWEI + 1);
        assert!(!p.capped);
        // The cap also goes over the trigger's, for builders that order by cap.
        let p = price(&c, t(10 * GWEI, Some(100 * GWEI)), 7);
        assert_eq!((p.priority_fee, p.max_fee), (15 * GWEI + 1, 150 * GWEI + 1));
        // Within its budget.
        let p = price(&c, t(10 * GWEI, Some(1_000_000 * GWEI)), 7);
        assert_eq!(p.max_fee, 5000 * GWEI);
        // A tiny tip: at least the minimum.
        assert_eq!(price(&c, t(1, None), 0).priority_fee, 2 * GWEI);
        // A huge tip: the budget, and it says so.
        let p = price(&c, t(10_000 * GWEI, None), 0);
        assert_eq!((p.priority_fee, p.capped), (1000 * GWEI, true));
        // Replacements rise by more than the 10% nodes require.
        let b = bump(&p);
        assert!(b.priority_fee * 10 >= p.priority_fee * 11 && b.max_fee * 10 >= p.max_fee * 11);
    }

    #[test]
    fn calldata_from_a_signature_or_hex() {
        assert_eq!(cfg().calldata().unwrap(), Bytes::from_static(&[0x84, 0x56, 0xcb, 0x59]));
        let mut c = cfg();
        c.call = "0xdeadbeef00".into();
        assert_eq!(c.calldata().unwrap().len(), 5);
        c.call = "pause(uint256)".into();
        assert!(c.calldata().is_err());
        c.call = "0xzz".into();
        assert!(c.calldata().is_err());
    }

    #[test]
    fn the_signed_pause_recovers_to_the_key() {
        use alloy_consensus::transaction::SignerRecoverable;
        use alloy_eips::eip2718::Decodable2718;
        std::env::set_var(
            "PALISADE_TEST_SIGN_KEY",
            "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
        );
        let key = crate::keys::KeyConfig {
            keystore: None,
            password_env: None,
            private_key_env: Some("PALISADE_TEST_SIGN_KEY".into()),
            local_test_chain: true,
        }
        .load("t")
        .unwrap();
        let p = price(&cfg(), Trigger { tip: Some(GWEI), max_fee: None }, 1);
        let s = sign(&key, &cfg(), 31337, 4, &p).unwrap();
        let env = TxEnvelope::decode_2718(&mut s.raw.as_ref()).unwrap();
        assert_eq!(*env.tx_hash(), s.hash);
        assert_eq!(env.recover_signer().unwrap(), key.address());
        let TxEnvelope::Eip1559(t) = env else { panic!("not 1559") };
        assert_eq!(
            (t.tx().nonce, t.tx().chain_id, t.tx().to),
            (4, 31337, TxKind::Call(Address::repeat_byte(0x5a)))
        );
    }
}
