//! `sandwich`: a front-run and a back-run by the same account on one pool around other accounts'
//! swaps in the front-run's direction, in one block; with the attacker's profit and the victims'
//! loss. Works on blocks with logs and on blocks with call traces only (see `palisade_defi`).

use crate::{DetectError, Needs, Result};
use palisade_defi::{sandwiches, SwapRef};
use palisade_primitives::{Address, BlockData, Finding, Findings, Severity};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Config of `sandwich`.
#[derive(Debug, Clone, Serialize, Deserialize, palisade_derive::ConfigDoc)]
#[serde(deny_unknown_fields)]
pub struct SandwichConfig {
    /// Instance name; the detector id is `sandwich` or `sandwich:<name>`.
    #[serde(default)]
    pub name: Option<String>,
    /// Limit to one chain.
    #[serde(default)]
    #[config(default = "every chain")]
    pub chain: Option<String>,
    /// Severity of the findings.
    #[serde(default = "default_severity")]
    pub severity: Severity,
    /// Only sandwiches on these pools.
    #[serde(default)]
    #[config(default = "`[]` (any)")]
    pub pools: Vec<Address>,
    /// Fewest victims for a finding.
    #[serde(default = "one")]
    pub min_victims: usize,
}

fn default_severity() -> Severity {
    Severity::High
}

fn one() -> usize {
    1
}

impl Default for SandwichConfig {
    fn default() -> Self {
        Self {
            name: None,
            chain: None,
            severity: default_severity(),
            pools: Vec::new(),
            min_victims: 1,
        }
    }
}

/// Catalog entry.
pub const INFO: crate::About = crate::About {
    kind: "sandwich",
    description: "Front-run, victim(s) and back-run on one pool in a block: attacker, profit and victims' loss; from logs or call traces; legs inside arbitrages, back-runs on other pools and earlier same-direction swaps are not taken.",
    needs_no_config: true,
};

/// The `sandwich` detector. Stateless: each block is judged alone.
#[derive(Debug)]
pub struct Sandwich {
    id: String,
    chain: String,
    cfg: SandwichConfig,
}

impl Sandwich {
    /// Builds the detector for `chain`.
    pub fn new(cfg: SandwichConfig, chain: &str) -> Result<Self> {
        let id = cfg.name.as_ref().map_or("sandwich".into(), |n| format!("sandwich:{n}"));
        if cfg.min_victims == 0 {
            return Err(DetectError::Config {
                detector: id,
                field: "min_victims".into(),
                reason: "must be at least 1".into(),
            });
        }
        Ok(Self { id, chain: chain.into(), cfg })
    }

    fn scan(&self, b: &BlockData, out: &mut Findings) {
        let actions = palisade_defi::actions(b);
        let hash = |r: SwapRef| actions.txs.iter().find(|t| t.index == r.tx).and_then(|t| t.hash);
        let swap_json = |r: SwapRef| -> Value {
            let t = actions.txs.iter().find(|t| t.index == r.tx);
            let s = t.and_then(|t| t.swaps.get(r.swap));
            json!({"tx_index": r.tx, "tx_hash": t.and_then(|t| t.hash), "from": t.and_then(|t| t.from), "swap": s})
        };
        for s in sandwiches(&actions) {
            if (!self.cfg.pools.is_empty() && !self.cfg.pools.contains(&s.pool))
                || s.victims.len() < self.cfg.min_victims
            {
                continue;
            }
            let subject = format!("sandwich:{}:{}:{:#x}", s.frontrun.tx, s.backrun.tx, s.pool);
            let txs = s
                .frontruns
                .iter()
                .copied()
                .chain(s.victims.iter().copied())
                .chain(std::iter::once(s.backrun))
                .filter_map(hash);
            let hops = if s.pools.len() > 1 {
                format!(" (and {} more pools on the route)", s.pools.len() - 1)
            } else {
                String::new()
            };
            let title = format!(
                "Sandwich on pool {:#x}{hops} by {:#x} in block {}: front-run tx {}, {} victim(s), back-run tx {}",
                s.pool,
                s.attacker,
                b.header.number,
                s.frontrun.tx,
                s.victims.len(),
                s.backrun.tx
            );
            out.push(
                Finding::new(
                    &self.id,
                    "sandwich",
                    &self.chain,
                    b.block_ref(),
                    &subject,
                    self.cfg.severity,
                    title,
                )
                .with_txs(txs)
                .with_evidence(json!({
                    "check": "sandwich",
                    "pool": s.pool,
                    "attacker": s.attacker,
                    "frontrun": swap_json(s.frontrun),
                    "frontruns": s.frontruns.iter().map(|f| swap_json(*f)).collect::<Vec<_>>(),
                    "victims": s.victims.iter().map(|v| swap_json(*v)).collect::<Vec<_>>(),
                    "backrun": swap_json(s.backrun),
                    "profit_token": s.profit_token,
                    "profit": s.profit.to_string(),
                    "other_token": s.other_token,
                    "other_profit": s.other_profit.to_string(),
                    "victim_loss": s.victim_loss.map(|l| l.to_string()),
                    "pools": s.pools,
                    "net": s.net.iter().map(|(t, n)| json!({"token": t, "net": n.to_string()})).collect::<Vec<_>>(),
                })),
            );
        }
    }
}

impl crate::Stateless for Sandwich {
    const KIND: &'static str = "sandwich";

    fn instance(&self) -> &str {
        &self.id
    }

    fn wants(&self) -> Needs {
        Needs { receipts: true, traces: true, actions: true, ..Needs::default() }
    }

    fn judge(&self, b: &BlockData, out: &mut Findings) {
        self.scan(b, out);
    }
}
