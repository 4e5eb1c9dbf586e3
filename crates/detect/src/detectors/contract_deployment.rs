//! `contract_deployment`: each new contract (CREATE or CREATE2), scored for risk from its
//! bytecode and its deployer's history.
//!
//! Bytecode features (runtime code, fetched at the block and checked against the proven code
//! hash, or the code a `create` trace returned): SELFDESTRUCT, DELEGATECALL to a target that is
//! not a constant, CALLCODE, embedded addresses of watched contracts, flash-loan callback and
//! `approve`/`transferFrom` selectors, and proxy patterns (EIP-1167 clones, EIP-1967 slots).
//! Deployer: a labelled address itself, or funded earlier by a labelled address or a mixer
//! (transfers of ether or tokens seen by this detector since it started).
//!
//! The score is the sum of the weights of what was found, capped at 100; contracts scoring at
//! least `min_score` are reported, with every reason.

use crate::journal::Journal;
use crate::{Checkpoint, DetectError, Detector, Needs, Result};

use palisade_defi::known::ETH;
use palisade_primitives::{
    address, keccak256, Address, BlockData, BlockRef, Bytes, ChainSegment, Finding, Findings,
    Severity, B256,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::{BTreeMap, VecDeque};

/// Tornado Cash's ether pools (0.1, 1, 10 and 100 ETH), as listed by OFAC in August 2022.
pub const TORNADO_POOLS: [(Address, &str); 4] = [
    (address!("12d66f87a04a9e220743712ce6d9bb1b5616b8fc"), "Tornado Cash 0.1 ETH"),
    (address!("47ce0c6ed5b0ce3d3a51fdb1c52dc66a7c3c2936"), "Tornado Cash 1 ETH"),
    (address!("910cbd523d972eb0a6f4cae4618ad62622b39dbf"), "Tornado Cash 10 ETH"),
    (address!("a160cdab225685da1d56aa342ad8841c3b53f291"), "Tornado Cash 100 ETH"),
];

/// Flash-loan callbacks an attack contract implements.
pub const FLASH_CALLBACKS: &[&str] = &[
    "executeOperation(address[],uint256[],uint256[],address,bytes)",
    "executeOperation(address,uint256,uint256,address,bytes)",
    "onFlashLoan(address,address,uint256,uint256,bytes)",
    "uniswapV2Call(address,uint256,uint256,bytes)",
    "uniswapV3FlashCallback(uint256,uint256,bytes)",
    "receiveFlashLoan(address[],uint256[],uint256[],bytes)",
    "callFunction(address,(address,uint256),bytes)",
];

/// Config of `contract_deployment`.
#[derive(Debug, Clone, Serialize, Deserialize, palisade_derive::ConfigDoc)]
#[serde(deny_unknown_fields)]
pub struct ContractDeploymentConfig {
    /// Instance name.
    #[serde(default)]
    pub name: Option<String>,
    /// Limit to one chain.
    #[serde(default)]
    #[config(default = "every chain")]
    pub chain: Option<String>,
    /// Contracts whose address embedded in new code is a risk (your protocol's).
    #[serde(default)]
    pub watched: Vec<Address>,
    /// Labelled addresses (exploiters, phishers, mixers) in addition to the built-in Tornado Cash
    /// pools.
    #[serde(default)]
    #[config(default = "`[]` (+ Tornado Cash's four ether pools)")]
    pub labelled: Vec<Address>,
    /// CSV of labelled addresses (first column the address, second a label; a header is skipped;
    /// RFC 4180 quoting), relative to the config file, or
    /// `bundled:forta-etherscan-malicious-labels`: Forta's 7,259 Etherscan-labelled phishing,
    /// exploit and heist addresses (MIT), built into the binary so a config copied anywhere
    /// keeps working.
    #[serde(default)]
    #[config(default = "none")]
    pub labels_file: Option<std::path::PathBuf>,
    /// Lowest score reported (0-100).
    #[serde(default = "forty")]
    pub min_score: u32,
    /// Most funded addresses remembered (the oldest are forgotten first).
    #[serde(default = "cap")]
    pub max_tracked: usize,
}

fn forty() -> u32 {
    40
}

fn cap() -> usize {
    100_000
}

impl Default for ContractDeploymentConfig {
    fn default() -> Self {
        Self {
            name: None,
            chain: None,
            watched: Vec::new(),
            labelled: Vec::new(),
            labels_file: None,
            min_score: 40,
            max_tracked: cap(),
        }
    }
}

/// Catalog entry.
pub const INFO: crate::About = crate::About {
    kind: "contract_deployment",
    description: "Each new contract scored for risk: SELFDESTRUCT, DELEGATECALL to a variable target, CALLCODE, embedded watched addresses, flash-loan callbacks, approve/transferFrom, proxy patterns, and a deployer labelled or funded by labelled addresses or mixers.",
    needs_no_config: true,
};

/// What the bytecode shows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Features {
    /// Has SELFDESTRUCT.
    pub selfdestruct: bool,
    /// Has DELEGATECALL whose target is not a pushed constant.
    pub delegatecall_variable: bool,
    /// Has CALLCODE.
    pub callcode: bool,
    /// Watched addresses embedded as constants.
    pub embedded_watched: Vec<Address>,
    /// Flash-loan callback functions it implements.
    pub flash_callbacks: Vec<&'static str>,
    /// Mentions `approve` or `transferFrom`.
    pub approve_or_transfer_from: bool,
    /// A proxy pattern: `eip1167` or `eip1967`.
    pub proxy: Option<&'static str>,
}

const EIP1167_PREFIX: &[u8] = &[0x36, 0x3d, 0x3d, 0x37, 0x3d, 0x3d, 0x3d, 0x36, 0x3d, 0x73];
const EIP1967_SLOT: B256 =
    palisade_primitives::b256!("360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc");

/// Reads runtime bytecode (skipping push data) for the features above. Watched addresses count
/// as embedded when pushed as 20-byte constants or as 32-byte words (Solidity immutables).
pub fn analyze(code: &[u8], watched: &[Address]) -> Features {
    let mut f = Features::default();
    let callbacks: Vec<([u8; 4], &'static str)> = FLASH_CALLBACKS
        .iter()
        .map(|s| (keccak256(s.as_bytes())[..4].try_into().unwrap_or_default(), *s))
        .collect();
    let approve = keccak256(b"approve(address,uint256)");
    let transfer_from = keccak256(b"transferFrom(address,address,uint256)");
    let mut pc = 0;
    let mut last_push20: Option<usize> = None;
    let mut i = 0usize;
    while pc < code.len() {
        let op = code[pc];
        i += 1;
        match op {
            0x60..=0x7f => {
                let n = (op - 0x5f) as usize;
                let data = code.get(pc + 1..(pc + 1 + n).min(code.len())).unwrap_or(&[]);
                if n == 20 && data.len() == 20 {
                    last_push20 = Some(i);
                    let a = Address::from_slice(data);
                    if watched.contains(&a) && !f.embedded_watched.contains(&a) {
                        f.embedded_watched.push(a);
                    }
                }
                if n == 4 && data.len() == 4 {
                    if let Some((_, name)) = callbacks.iter().find(|(s, _)| s[..] == data[..]) {
                        if !f.flash_callbacks.contains(name) {
                            f.flash_callbacks.push(name);
                        }
                    }
                    if data == &approve[..4] || data == &transfer_from[..4] {
                        f.approve_or_transfer_from = true;
                    }
                }
                if n == 32 && data == EIP1967_SLOT.as_slice() {
                    f.proxy = Some("eip1967");
                }
                // Solidity immutables sit in the runtime code as 32-byte pushes.
                if n == 32 && data.len() == 32 && data[..12].iter().all(|x| *x == 0) {
                    let a = Address::from_slice(&data[12..]);
                    if watched.contains(&a) && !f.embedded_watched.contains(&a) {
                        f.embedded_watched.push(a);
                    }
                }
                pc += 1 + n;
                continue;
            }
            0xff => f.selfdestruct = true,
            0xf2 => f.callcode = true,
            0xf4 if last_push20.is_none_or(|p| i - p > 3) => f.delegatecall_variable = true,
            _ => {}
        }
        pc += 1;
    }
    if code.starts_with(EIP1167_PREFIX) {
        f.proxy = Some("eip1167");
    }
    f
}

/// The score and reasons of a new contract.
fn score(
    f: &Features,
    deployer_label: Option<&str>,
    funded_by: Option<&str>,
) -> (u32, Vec<String>) {
    let mut s = 0u32;
    let mut why = Vec::new();
    let mut add = |w: u32, r: String| {
        s += w;
        why.push(r);
    };
    if f.selfdestruct {
        add(20, "contains SELFDESTRUCT".into());
    }
    if f.callcode {
        add(15, "contains CALLCODE".into());
    }
    if f.delegatecall_variable {
        if f.proxy.is_some() {
            add(5, "delegates to a variable target (a proxy)".into());
        } else {
            add(15, "delegates to a variable target".into());
        }
    }
    if !f.embedded_watched.is_empty() {
        let w = (25 * f.embedded_watched.len() as u32).min(50);
        add(w, format!("embeds watched addresses {:?}", f.embedded_watched));
    }
    if !f.flash_callbacks.is_empty() {
        add(25, format!("implements flash-loan callbacks {:?}", f.flash_callbacks));
    }
    if f.approve_or_transfer_from {
        add(5, "calls approve or transferFrom".into());
    }
    if let Some(l) = deployer_label {
        add(50, format!("deployed by a labelled address ({l})"));
    }
    if let Some(l) = funded_by {
        add(40, format!("deployer funded by a labelled address or mixer ({l})"));
    }
    (s.min(100), why)
}

/// The `contract_deployment` detector.
#[derive(Debug)]
pub struct ContractDeployment {
    id: String,
    chain: String,
    cfg: ContractDeploymentConfig,
    labels: BTreeMap<Address, String>,
    /// Funded address -> label of its funder, with insertion order for the cap.
    funded: BTreeMap<Address, String>,
    order: VecDeque<Address>,
    /// Per block: the addresses it marked as funded (removed on revert).
    journal: Journal<Vec<Address>>,
}

impl ContractDeployment {
    /// Builds the detector for `chain`; `labels_csv` is the content of `labels_file`.
    pub fn new(
        cfg: ContractDeploymentConfig,
        chain: &str,
        labels_csv: Option<&str>,
    ) -> Result<Self> {
        let id = cfg
            .name
            .as_ref()
            .map_or("contract_deployment".into(), |n| format!("contract_deployment:{n}"));
        if cfg.min_score > 100 {
            return Err(DetectError::Config {
                detector: id,
                field: "min_score".into(),
                reason: "scores go from 0 to 100".into(),
            });
        }
        let mut labels: BTreeMap<Address, String> =
            TORNADO_POOLS.iter().map(|(a, l)| (*a, (*l).to_string())).collect();
        for a in &cfg.labelled {
            labels.entry(*a).or_insert_with(|| "labelled".into());
        }
        if let Some(csv) = labels_csv {
            for (n, line) in csv.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                let cols = csv_fields(line);
                let Some(a) = cols.first().and_then(|c| c.trim().parse::<Address>().ok()) else {
                    if n == 0 {
                        continue; // header
                    }
                    return Err(DetectError::Config {
                        detector: id,
                        field: "labels_file".into(),
                        reason: format!("line {}: the first column is not an address", n + 1),
                    });
                };
                let label =
                    cols.get(1).map(|l| l.trim()).filter(|l| !l.is_empty()).unwrap_or("labelled");
                labels.entry(a).or_insert_with(|| label.to_string());
            }
        }
        Ok(Self {
            id,
            chain: chain.into(),
            cfg,
            labels,
            funded: BTreeMap::new(),
            order: VecDeque::new(),
            journal: Journal::default(),
        })
    }

    fn scan(&mut self, b: &BlockData, out: &mut Findings) {
        let at = b.block_ref();
        let actions = palisade_defi::actions(b);
        let mut added = Vec::new();
        // Deployments first, judged on what was known before this block's transfers... and
        // after them too: a deployer funded earlier in the same block counts.
        for tx in &actions.txs {
            for t in tx.transfers.iter().filter(|t| !t.reverted) {
                if let Some(l) = self.labels.get(&t.from).cloned() {
                    if !self.funded.contains_key(&t.to) && !self.labels.contains_key(&t.to) {
                        self.funded.insert(
                            t.to,
                            format!(
                                "{l} sent {} of {}",
                                t.amount,
                                if t.token == ETH {
                                    "ETH".into()
                                } else {
                                    format!("{:#x}", t.token)
                                }
                            ),
                        );
                        self.order.push_back(t.to);
                        added.push(t.to);
                    }
                }
            }
        }
        for (addr, code, tx_index, creator) in created(b) {
            let deployer = b
                .transactions
                .iter()
                .find(|t| t.index == tx_index)
                .and_then(|t| t.from)
                .or(creator);
            let f = analyze(&code, &self.cfg.watched);
            let dl = deployer.and_then(|d| self.labels.get(&d)).map(String::as_str);
            let fb = deployer.and_then(|d| self.funded.get(&d)).map(String::as_str);
            let (s, reasons) = score(&f, dl, fb);
            if s < self.cfg.min_score {
                continue;
            }
            let sev = if s >= 70 {
                Severity::High
            } else if s >= 50 {
                Severity::Medium
            } else {
                Severity::Low
            };
            out.push(
                Finding::new(&self.id, "contract_deployment", &self.chain, at, &format!("create:{addr:#x}"), sev,
                    format!("New contract {addr:#x} scores {s}/100: {}", reasons.join("; ")))
                .with_txs(b.tx_hash(tx_index))
                .with_evidence(json!({"check": "contract_deployment", "address": addr, "deployer": deployer, "creator": creator,
                    "tx_index": tx_index, "score": s, "reasons": reasons, "features": f, "code_size": code.len(),
                    "code_hash": keccak256(&code)})),
            );
        }
        // Bounded memory: forget the oldest funded addresses beyond the cap (their journal
        // entries are final by then in practice; a revert of a forgotten one is a no-op).
        while self.order.len() > self.cfg.max_tracked {
            if let Some(a) = self.order.pop_front() {
                self.funded.remove(&a);
            }
        }
        self.journal.push(b, added);
    }
}

/// The fields of one CSV line (RFC 4180 quoting: `"a, b"` and `""` inside quotes).
fn csv_fields(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// Contracts created in the block: (address, runtime code, tx index, creator), from the attached
/// code (receipts say which transaction) or the call tree's creations.
fn created(b: &BlockData) -> Vec<(Address, Bytes, u64, Option<Address>)> {
    let mut out: Vec<(Address, Bytes, u64, Option<Address>)> = Vec::new();
    if let Some(fs) = palisade_defi::frames(b) {
        for tf in fs {
            for f in tf
                .frames
                .iter()
                .filter(|f| f.kind == palisade_defi::CallKind::Create && !f.reverted)
            {
                let code = b
                    .code
                    .iter()
                    .flatten()
                    .find(|(a, _)| *a == f.to)
                    .map(|(_, c)| c.clone())
                    .unwrap_or_else(|| Bytes::copy_from_slice(f.output));
                out.push((f.to, code, tf.index, Some(f.from)));
            }
        }
    }
    for (a, code) in b.code.iter().flatten() {
        if out.iter().any(|(x, ..)| x == a) {
            continue;
        }
        // Code is also fetched for implementations named by upgrade events: only what a
        // receipt says this block created is new.
        let Some(r) = b.receipts.iter().flatten().find(|r| r.contract_address == Some(*a)) else {
            continue;
        };
        out.push((*a, code.clone(), r.transaction_index.unwrap_or(0), None));
    }
    out
}

impl Detector for ContractDeployment {
    fn id(&self) -> &str {
        &self.id
    }

    fn kind(&self) -> &'static str {
        "contract_deployment"
    }

    fn needs(&self) -> Needs {
        Needs { receipts: true, traces: true, code: true, actions: true, ..Needs::default() }
    }

    fn commit(&mut self, seg: &ChainSegment, out: &mut Findings) -> Result<()> {
        for b in seg.blocks() {
            self.scan(b, out);
        }
        Ok(())
    }

    fn revert(&mut self, seg: &ChainSegment, _out: &mut Findings) -> Result<()> {
        for b in seg.blocks().iter().rev() {
            for a in self.journal.pop(&self.id, b)?.iter().rev() {
                self.funded.remove(a);
                if self.order.back() == Some(a) {
                    self.order.pop_back();
                } else {
                    self.order.retain(|x| x != a);
                }
            }
        }
        Ok(())
    }

    fn finalize(&mut self, upto: BlockRef, _out: &mut Findings) {
        self.journal.finalize(upto, 0);
    }

    fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            head: self.journal.head(),
            state: json!({"funded": self.funded, "order": self.order, "journal": self.journal}),
        }
    }

    fn restore(&mut self, cp: &Checkpoint) -> Result<()> {
        if cp.state.is_null() {
            return Ok(());
        }
        self.funded = cp.field(&self.id, "funded")?;
        self.order = cp.field(&self.id, "order")?;
        self.journal = cp.field(&self.id, "journal")?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytecode_features_are_read_without_push_data() {
        // PUSH20 <watched> ; PUSH1 0 ; DELEGATECALL(constant) ; PUSH4 <uniswapV2Call> ; SELFDESTRUCT
        let w = Address::repeat_byte(0x11);
        let mut code = vec![0x73];
        code.extend_from_slice(w.as_slice());
        code.extend_from_slice(&[0x60, 0x00, 0xf4, 0x63]);
        code.extend_from_slice(&keccak256(b"uniswapV2Call(address,uint256,uint256,bytes)")[..4]);
        code.push(0xff);
        let f = analyze(&code, &[w]);
        assert!(f.selfdestruct && !f.delegatecall_variable && !f.callcode);
        assert_eq!(f.embedded_watched, vec![w]);
        assert_eq!(f.flash_callbacks, vec!["uniswapV2Call(address,uint256,uint256,bytes)"]);
        // 0xff inside push data is not an opcode.
        assert!(!analyze(&[0x61, 0xff, 0xff, 0x00], &[]).selfdestruct);
        // A delegatecall far from any constant target.
        assert!(analyze(&[0x54, 0x5a, 0x5a, 0x5a, 0xf4], &[]).delegatecall_variable);
        // An EIP-1167 clone.
        let mut clone = EIP1167_PREFIX.to_vec();
        clone.extend_from_slice(&[0u8; 20]);
        clone.extend_from_slice(&[
            0x5a, 0xf4, 0x3d, 0x82, 0x80, 0x3e, 0x90, 0x3d, 0x91, 0x60, 0x2b, 0x57, 0xfd, 0x5b,
            0xf3,
        ]);
        assert_eq!(analyze(&clone, &[]).proxy, Some("eip1167"));
    }

    #[test]
    fn the_forta_labels_load_with_quoted_labels() {
        let csv = forta_csv();
        let d = ContractDeployment::new(ContractDeploymentConfig::default(), "mainnet", Some(&csv))
            .unwrap();
        // 7,780 rows, 7,259 distinct addresses (checked with Python's csv module), plus the four
        // built-in Tornado Cash pools.
        assert_eq!(d.labels.len(), 7_259 + 4);
        let amzn: Address = "0xc5d88efc558762a53b5e9924c1e7ab995281c2f6".parse().unwrap();
        assert_eq!(d.labels[&amzn], "Amazon.com, Inc. - Common Token (AMZN)");
        assert_eq!(csv_fields(r#"a,"b ""c"", d",e"#), vec!["a", r#"b "c", d"#, "e"]);
        let bad = ContractDeployment::new(
            ContractDeploymentConfig::default(),
            "m",
            Some("address,label\nnot-an-address,x\n"),
        );
        assert!(bad.unwrap_err().to_string().contains("line 2"));
    }

    fn forta_csv() -> String {
        std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../testdata/forta/ethereum-etherscan-malicious-labels.csv"
        ))
        .unwrap()
    }

    #[test]
    fn scores_add_up_with_reasons() {
        let f = Features { selfdestruct: true, flash_callbacks: vec!["x"], ..Default::default() };
        let (s, why) = score(&f, None, Some("Tornado Cash 1 ETH sent 1 of ETH"));
        assert_eq!(s, 85);
        assert_eq!(why.len(), 3);
        assert_eq!(score(&Features::default(), None, None).0, 0);
    }
}
