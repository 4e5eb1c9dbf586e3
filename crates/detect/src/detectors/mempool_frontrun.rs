//! `mempool_frontrun`: front-running and sandwiches while they are still pending.
//!
//! - **Front-run**: a pending swap on the same pool and in the same direction as an earlier
//!   pending swap by another sender, paying a higher priority fee (so fee ordering puts it
//!   first). Swaps are read from each transaction's simulated logs.
//! - **Sandwich**: a front-runner's next transaction (same sender, higher nonce) paying less
//!   than the victim, so ordered after it: the back-run. It is judged from sender, nonce and fee,
//!   because simulated alone on the tip it usually reverts (it sells what the front-run buys).
//! - **Copied calldata**: a pending transaction by another sender whose calldata is another
//!   pending transaction's, or contains its arguments, paying at least as much (generalized
//!   front-runners copy and resend profitable transactions).
//!
//! Entries leave when their transaction is mined or replaced; the set is bounded.

use crate::pending::{mark_pending, Pending, PendingDetector};
use crate::{DetectError, Result};
use palisade_primitives::pending::SimNeeds;
use palisade_primitives::{Address, Bytes, Finding, Findings, Severity, B256};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::VecDeque;

/// Config of `mempool_frontrun`.
#[derive(Debug, Clone, Serialize, Deserialize, palisade_derive::ConfigDoc)]
#[serde(deny_unknown_fields)]
pub struct MempoolFrontrunConfig {
    /// Instance name; the id is `mempool_frontrun:<name>`.
    #[serde(default = "default_name")]
    pub name: String,
    /// Limit to one chain.
    #[serde(default)]
    #[config(default = "every chain")]
    pub chain: Option<String>,
    /// Pools watched (empty: every pool).
    #[serde(default)]
    #[config(default = "`[]` (every pool)")]
    pub pools: Vec<Address>,
    /// Severity of a front-run.
    #[serde(default = "medium")]
    pub severity: Severity,
    /// Severity of a sandwich.
    #[serde(default = "high")]
    pub sandwich_severity: Severity,
    /// Report calldata copied from another pending transaction.
    #[serde(default = "yes")]
    pub copied_calldata: bool,
    /// Shortest calldata (bytes, selector included) considered for copying.
    #[serde(default = "min_copy")]
    pub min_copy_len: usize,
    /// Pending transactions remembered (the oldest are forgotten first).
    #[serde(default = "max_tracked")]
    pub max_tracked: usize,
}

fn default_name() -> String {
    "default".into()
}
fn medium() -> Severity {
    Severity::Medium
}
fn high() -> Severity {
    Severity::High
}
fn yes() -> bool {
    true
}
fn min_copy() -> usize {
    36
}
fn max_tracked() -> usize {
    4096
}

/// Catalog entry.
pub const INFO: crate::About = crate::About {
    kind: "mempool_frontrun",
    description: "Pending front-runs (same pool and direction, higher priority fee, later), pending sandwiches (the front-runner's next transaction ordered after the victim) and calldata copied from another pending transaction. Needs [chains.mempool].",
    needs_no_config: false,
};

#[derive(Debug, Clone)]
struct Entry {
    hash: B256,
    from: Address,
    to: Option<Address>,
    fee: u128,
    input: Bytes,
    /// (pool, token in, token out) of its simulated swaps.
    swaps: Vec<(Address, Address, Address)>,
}

#[derive(Debug, Clone)]
struct FrontRun {
    attacker: Address,
    front: B256,
    front_nonce: u64,
    victim: B256,
    victim_fee: u128,
    pool: Address,
}

/// The `mempool_frontrun` detector.
#[derive(Debug)]
pub struct MempoolFrontrun {
    id: String,
    chain: String,
    cfg: MempoolFrontrunConfig,
    entries: VecDeque<Entry>,
    fronts: VecDeque<FrontRun>,
}

impl MempoolFrontrun {
    /// Builds the detector for `chain`.
    pub fn new(cfg: MempoolFrontrunConfig, chain: &str) -> Result<Self> {
        let id = format!("mempool_frontrun:{}", cfg.name);
        if cfg.max_tracked == 0 {
            return Err(DetectError::Config {
                detector: id,
                field: "max_tracked".into(),
                reason: "must be at least 1".into(),
            });
        }
        if cfg.min_copy_len < 5 {
            return Err(DetectError::Config {
                detector: id,
                field: "min_copy_len".into(),
                reason: "must be at least 5 (a selector and an argument byte)".into(),
            });
        }
        Ok(Self { id, chain: chain.into(), cfg, entries: VecDeque::new(), fronts: VecDeque::new() })
    }

    fn pool_watched(&self, pool: Address) -> bool {
        self.cfg.pools.is_empty() || self.cfg.pools.contains(&pool)
    }

    fn finding(&self, p: &Pending<'_>, subject: &str, sev: Severity, title: String) -> Finding {
        Finding::new(
            &self.id,
            "mempool_frontrun",
            &self.chain,
            p.block.block_ref(),
            subject,
            sev,
            title,
        )
    }

    fn copied(&self, new: &Entry, old: &Entry) -> bool {
        let (n, o) = (&new.input, &old.input);
        if o.len() < self.cfg.min_copy_len || n.len() < self.cfg.min_copy_len {
            return false;
        }
        if n == o {
            return true;
        }
        // The arguments (all but the selector), resent inside another call.
        let args = &o[4..];
        args.len() >= 32 && n.windows(args.len()).any(|w| w == args)
    }
}

impl PendingDetector for MempoolFrontrun {
    fn id(&self) -> &str {
        &self.id
    }

    fn kind(&self) -> &'static str {
        "mempool_frontrun"
    }

    fn sim_needs(&self) -> SimNeeds {
        // Swaps are read from the simulated logs of every pending transaction.
        SimNeeds { all: true, ..SimNeeds::default() }
    }

    fn pending(&mut self, p: &Pending<'_>, out: &mut Findings) {
        let tx = p.tx;
        if self.entries.iter().any(|e| e.hash == tx.hash) {
            return;
        }
        let swaps: Vec<(Address, Address, Address)> = if p.sim.is_some_and(|s| s.success) {
            palisade_defi::actions(p.block)
                .swaps()
                .filter(|(_, s)| !s.reverted && self.pool_watched(s.pool))
                .map(|(_, s)| (s.pool, s.token_in, s.token_out))
                .collect()
        } else {
            Vec::new()
        };
        let new = Entry {
            hash: tx.hash,
            from: tx.from,
            to: tx.to,
            fee: tx.priority_fee,
            input: tx.input.clone(),
            swaps,
        };

        // A back-run: the next transaction of a front-runner, ordered after its victim.
        if let Some(f) = self.fronts.iter().find(|f| {
            f.attacker == tx.from && tx.nonce > f.front_nonce && tx.priority_fee < f.victim_fee
        }) {
            let title = format!(
                "pending sandwich on pool {}: {:#x} front-runs {:#x}, {:#x} back-runs it",
                f.pool, f.front, f.victim, tx.hash
            );
            let ev = json!({"check": "pending_sandwich", "pool": f.pool, "attacker": f.attacker,
                "front_run": f.front, "victim": f.victim, "back_run": tx.hash});
            let fnd = self
                .finding(p, "sandwich", self.cfg.sandwich_severity, title)
                .with_txs([f.front, f.victim])
                .with_evidence(ev);
            out.push(mark_pending(fnd, p));
        }

        for old in &self.entries {
            if old.from == tx.from {
                continue;
            }
            if let Some((pool, tin, tout)) =
                new.swaps.iter().find(|s| old.swaps.contains(s)).copied()
            {
                if new.fee > old.fee {
                    let title = format!(
                        "pending front-run on pool {pool}: {:#x} swaps the same way as {:#x}, later, with a higher priority fee ({} > {} wei)",
                        tx.hash, old.hash, new.fee, old.fee
                    );
                    let ev = json!({"check": "pending_frontrun", "pool": pool, "token_in": tin,
                        "token_out": tout, "victim": old.hash, "victim_fee": old.fee.to_string(),
                        "attacker": tx.from});
                    let fnd = self
                        .finding(p, &format!("frontrun:{:#x}", old.hash), self.cfg.severity, title)
                        .with_txs([old.hash])
                        .with_evidence(ev);
                    out.push(mark_pending(fnd, p));
                    self.fronts.push_back(FrontRun {
                        attacker: tx.from,
                        front: tx.hash,
                        front_nonce: tx.nonce,
                        victim: old.hash,
                        victim_fee: old.fee,
                        pool,
                    });
                    continue;
                }
            }
            if self.cfg.copied_calldata && new.fee >= old.fee && self.copied(&new, old) {
                let exact = new.input == old.input && new.to == old.to;
                let title = format!(
                    "pending tx {:#x} {} the calldata of pending tx {:#x} by {}",
                    tx.hash,
                    if exact { "copies" } else { "embeds" },
                    old.hash,
                    old.from
                );
                let ev = json!({"check": "copied_calldata", "original": old.hash,
                    "original_sender": old.from, "exact": exact, "length": old.input.len()});
                let fnd = self
                    .finding(p, &format!("copy:{:#x}", old.hash), self.cfg.severity, title)
                    .with_txs([old.hash])
                    .with_evidence(ev);
                out.push(mark_pending(fnd, p));
            }
        }
        self.entries.push_back(new);
        while self.entries.len() > self.cfg.max_tracked {
            self.entries.pop_front();
        }
        while self.fronts.len() > self.cfg.max_tracked {
            self.fronts.pop_front();
        }
    }

    fn gone(&mut self, hashes: &[B256]) {
        self.entries.retain(|e| !hashes.contains(&e.hash));
        // A front-run stays remembered until its victim leaves: the back-run may come later.
        self.fronts.retain(|f| !hashes.contains(&f.victim));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_primitives::pending::{would_be_block, PendingTx, Simulation};
    use palisade_primitives::{keccak256, BlockRef, Header, Log, U256};

    const POOL: Address = Address::repeat_byte(0x99);
    const WETH: Address = Address::repeat_byte(0xee);
    const USDC: Address = Address::repeat_byte(0xcc);
    const VICTIM: Address = Address::repeat_byte(0x01);
    const BOT: Address = Address::repeat_byte(0x0b);

    fn word(a: Address) -> B256 {
        B256::left_padding_from(a.as_slice())
    }

    fn amount(x: u64) -> Vec<u8> {
        U256::from(x).to_be_bytes::<32>().to_vec()
    }

    fn transfer(token: Address, from: Address, to: Address, x: u64) -> Log {
        Log {
            address: token,
            topics: vec![keccak256("Transfer(address,address,uint256)"), word(from), word(to)],
            data: amount(x).into(),
            log_index: None,
        }
    }

    /// The logs of a Uniswap V2 swap of `tin` for `tout` by `who` (token0 = WETH).
    fn swap_logs(who: Address, tin: Address, tout: Address) -> Vec<Log> {
        let (a_in, a_out) = (1000, 900);
        let mut data = Vec::new();
        let weth_in = tin == WETH;
        for x in [
            if weth_in { a_in } else { 0 },
            if weth_in { 0 } else { a_in },
            if weth_in { 0 } else { a_out },
            if weth_in { a_out } else { 0 },
        ] {
            data.extend(amount(x));
        }
        vec![
            transfer(tin, who, POOL, a_in),
            transfer(tout, POOL, who, a_out),
            Log {
                address: POOL,
                topics: vec![
                    keccak256("Swap(address,uint256,uint256,uint256,uint256,address)"),
                    word(who),
                    word(who),
                ],
                data: data.into(),
                log_index: None,
            },
        ]
    }

    fn tx(n: u8, from: Address, nonce: u64, fee: u128, input: &str) -> PendingTx {
        PendingTx {
            hash: B256::repeat_byte(n),
            from,
            to: Some(Address::repeat_byte(0x77)),
            nonce,
            value: U256::ZERO,
            input: input.parse().unwrap(),
            gas: 200_000,
            priority_fee: fee,
            max_fee: fee + 100,
            tx_type: 2,
            authorizations: Vec::new(),
        }
    }

    fn feed(
        d: &mut MempoolFrontrun,
        seq: u64,
        t: &PendingTx,
        swap: Option<(Address, Address)>,
    ) -> Findings {
        let parent = Header { number: 10, hash: Some(B256::repeat_byte(10)), ..Default::default() };
        let sim = Simulation {
            state_block: BlockRef::new(10, B256::repeat_byte(10)),
            success: swap.is_some(),
            error: None,
            gas_used: 100_000,
            touched: vec![POOL],
            balances: vec![],
            slots: vec![],
            views: vec![],
            exec_micros: 0,
            total_micros: 0,
            fetched: 0,
            assertions: vec![],
            assert_micros: 0,
        };
        let logs = swap.map(|(i, o)| swap_logs(t.from, i, o)).unwrap_or_default();
        let b = would_be_block(&parent, t, Some((&sim, logs, None)));
        let mut out = Findings::new();
        d.pending(&Pending { tx: t, block: &b, sim: Some(&sim), seq }, &mut out);
        out
    }

    fn det() -> MempoolFrontrun {
        let cfg: MempoolFrontrunConfig = serde_json::from_value(serde_json::json!({})).unwrap();
        MempoolFrontrun::new(cfg, "eth").unwrap()
    }

    #[test]
    fn a_later_same_direction_swap_with_a_higher_fee_is_a_front_run_and_its_sequel_a_sandwich() {
        let mut d = det();
        let victim = tx(1, VICTIM, 0, 2_000, "0x12345678");
        assert!(feed(&mut d, 1, &victim, Some((WETH, USDC))).is_empty());
        // Same pool and direction, later, paying more: a front-run.
        let front = tx(2, BOT, 7, 5_000, "0x87654321");
        let out = feed(&mut d, 2, &front, Some((WETH, USDC)));
        let f = &out.emitted()[0];
        assert_eq!(f.severity, Severity::Medium);
        assert_eq!(f.evidence["check"], "pending_frontrun");
        assert_eq!(f.evidence["stage"], "pending");
        assert_eq!(f.tx_hashes, vec![front.hash, victim.hash]);
        // The bot's next transaction pays less than the victim: it lands after it. A sandwich.
        let back = tx(3, BOT, 8, 1_000, "0xabcdef01");
        let out = feed(&mut d, 3, &back, None);
        let f = &out.emitted()[0];
        assert_eq!(
            (f.severity, f.evidence["check"].as_str()),
            (Severity::High, Some("pending_sandwich"))
        );
        assert_eq!(f.tx_hashes, vec![back.hash, front.hash, victim.hash]);
    }

    #[test]
    fn no_front_run_without_a_higher_fee_the_same_direction_or_another_sender() {
        let mut d = det();
        feed(&mut d, 1, &tx(1, VICTIM, 0, 2_000, "0x01"), Some((WETH, USDC)));
        // The victim's own next swap.
        assert!(feed(&mut d, 4, &tx(4, VICTIM, 1, 9_000, "0x04"), Some((WETH, USDC))).is_empty());
        // Lower fee than both: ordered after them.
        assert!(feed(&mut d, 2, &tx(2, BOT, 0, 1_000, "0x02"), Some((WETH, USDC))).is_empty());
        // Opposite direction.
        assert!(feed(&mut d, 3, &tx(3, BOT, 1, 9_000, "0x03"), Some((USDC, WETH))).is_empty());
        // Once the victim is mined it is forgotten.
        d.gone(&[B256::repeat_byte(1), B256::repeat_byte(4)]);
        assert!(feed(&mut d, 5, &tx(5, BOT, 2, 9_000, "0x05"), Some((WETH, USDC)))
            .emitted()
            .iter()
            .all(|f| f.tx_hashes[1] == B256::repeat_byte(2)));
    }

    #[test]
    fn copied_calldata_is_reported() {
        let mut d = det();
        let args = "0x2e1a7d4d00000000000000000000000000000000000000000000000000000000000003e8";
        feed(&mut d, 1, &tx(1, VICTIM, 0, 2_000, args), None);
        let out = feed(&mut d, 2, &tx(2, BOT, 0, 2_000, args), None);
        assert_eq!(out.emitted()[0].evidence["check"], "copied_calldata");
        assert_eq!(out.emitted()[0].evidence["exact"], true);
        // Embedded in another call, by another sender.
        let wrapped = format!("0xdeadbeef{}", &args[10..]);
        let out = feed(&mut d, 3, &tx(3, Address::repeat_byte(0x0c), 0, 3_000, &wrapped), None);
        assert!(out.emitted().iter().any(|f| f.evidence["exact"] == false));
        // Short calldata is not judged.
        let mut d = det();
        feed(&mut d, 1, &tx(1, VICTIM, 0, 2_000, "0xd0e30db0"), None);
        assert!(feed(&mut d, 2, &tx(2, BOT, 0, 2_000, "0xd0e30db0"), None).is_empty());
    }

    #[test]
    fn findings_about_different_pending_transactions_have_different_keys() {
        let mut d = det();
        feed(&mut d, 1, &tx(1, VICTIM, 0, 2_000, "0x01"), Some((WETH, USDC)));
        let a = feed(&mut d, 2, &tx(2, BOT, 0, 5_000, "0x02"), Some((WETH, USDC)));
        let b = feed(
            &mut d,
            3,
            &tx(3, Address::repeat_byte(0x0d), 0, 6_000, "0x03"),
            Some((WETH, USDC)),
        );
        assert_ne!(a.emitted()[0].key, b.emitted()[0].key);
    }
}
