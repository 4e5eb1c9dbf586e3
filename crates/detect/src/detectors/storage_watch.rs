//! `storage_watch`: watched storage slots, balances, nonces and code hashes, proven against each
//! block's state root, reported when they change, whether or not an event says so.
//!
//! The runtime attaches to each block (every `every` blocks) the `eth_getProof` answers for the
//! watched accounts, verified against the block's verified state root (see
//! `palisade_verify::verify_proofs`); recorded data carries them in its `proofs` field, so a
//! replay gives the same findings. A value seen for the first time is the baseline. A change is
//! one finding with the old and the new value and the block since which the old value held.
//!
//! Balance changes smaller than `min_balance_change` are not reported, and the baseline stays
//! where it was, so many small changes are reported once their sum crosses the threshold.

use crate::{Checkpoint, DetectError, Detector, Needs, Result, StateWatch};
use palisade_primitives::{
    keccak256, Address, BlockData, BlockRef, ChainSegment, Finding, Findings, Severity, B256, U256,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::{BTreeMap, VecDeque};

/// The EIP-1967 implementation slot: `keccak256("eip1967.proxy.implementation") - 1`.
pub const EIP1967_IMPLEMENTATION: B256 =
    palisade_primitives::b256!("360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc");
/// The EIP-1967 admin slot: `keccak256("eip1967.proxy.admin") - 1`.
pub const EIP1967_ADMIN: B256 =
    palisade_primitives::b256!("b53127684a568b3173ae13b9f8a6016e243e63b6e8ee1178d6a717850b5d6103");
/// The EIP-1967 beacon slot: `keccak256("eip1967.proxy.beacon") - 1`.
pub const EIP1967_BEACON: B256 =
    palisade_primitives::b256!("a3f0ad74e5423aebfd80d3ef4346578335a9a72aeaee59ff6cb3582b35133d50");

/// Keccak of empty code: an account without code.
const EMPTY_CODE_HASH: B256 =
    palisade_primitives::b256!("c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");

/// Config of `storage_watch`.
#[derive(Debug, Clone, Serialize, Deserialize, palisade_derive::ConfigDoc)]
#[serde(deny_unknown_fields)]
pub struct StorageWatchConfig {
    /// Instance name; the detector id is `storage_watch:<name>`.
    pub name: String,
    /// Limit to one chain.
    #[serde(default)]
    #[config(default = "every chain")]
    pub chain: Option<String>,
    /// Severity of the findings; a slot can override it.
    #[serde(default = "default_severity")]
    pub severity: Severity,
    /// Prove the watched state at block numbers that are multiples of this.
    #[serde(default = "one")]
    pub every: u64,
    /// Storage slots to watch.
    #[serde(default)]
    #[config(nested)]
    pub slots: Vec<SlotWatch>,
    /// Accounts whose balance, nonce or code hash to watch.
    #[serde(default)]
    #[config(nested)]
    pub accounts: Vec<AccountWatch>,
}

fn default_severity() -> Severity {
    Severity::High
}

fn one() -> u64 {
    1
}

fn yes() -> bool {
    true
}

/// A watched storage slot.
#[derive(Debug, Clone, Serialize, Deserialize, palisade_derive::ConfigDoc)]
#[serde(deny_unknown_fields)]
pub struct SlotWatch {
    /// The contract.
    pub contract: Address,
    /// `eip1967.implementation`, `eip1967.admin`, `eip1967.beacon`, `erc7201:<namespace>`
    /// (an ERC-7201 namespaced-storage root, such as `erc7201:openzeppelin.storage.Ownable`), a
    /// 32-byte hex slot, or a decimal slot number.
    pub slot: String,
    /// Name in findings.
    #[serde(default)]
    #[config(default = "the slot as written")]
    pub label: Option<String>,
    /// Severity for this slot.
    #[serde(default)]
    #[config(default = "the detector's")]
    pub severity: Option<Severity>,
}

/// A watched account.
#[derive(Debug, Clone, Serialize, Deserialize, palisade_derive::ConfigDoc)]
#[serde(deny_unknown_fields)]
pub struct AccountWatch {
    /// The account.
    pub address: Address,
    /// Name in findings.
    #[serde(default)]
    #[config(default = "the address")]
    pub label: Option<String>,
    /// Report balance changes.
    #[serde(default = "yes")]
    pub balance: bool,
    /// Smallest balance change reported, in wei, as a decimal string: smaller changes are not
    /// reported and add up until they cross it.
    #[serde(default)]
    #[config(default = "\"0\"")]
    pub min_balance_change: Option<String>,
    /// Report code changes: deployment, replacement, self-destruct.
    #[serde(default = "yes")]
    pub code: bool,
    /// Report nonce changes.
    #[serde(default)]
    pub nonce: bool,
}

/// Catalog entry.
pub const INFO: crate::About = crate::About {
    kind: "storage_watch",
    description: "Watched storage slots (EIP-1967 implementation/admin/beacon, ERC-7201 roots, any slot), balances, nonces and code hashes, proven with eth_getProof against each block's state root; a change is a finding with old and new values, even without an event.",
    needs_no_config: false,
};

/// Parses a slot as written in the config.
pub fn parse_slot(s: &str) -> std::result::Result<B256, String> {
    let t = s.trim();
    match t {
        "eip1967.implementation" => return Ok(EIP1967_IMPLEMENTATION),
        "eip1967.admin" => return Ok(EIP1967_ADMIN),
        "eip1967.beacon" => return Ok(EIP1967_BEACON),
        _ => {}
    }
    if let Some(ns) = t.strip_prefix("erc7201:") {
        if ns.is_empty() {
            return Err("erc7201: needs a namespace id".into());
        }
        // keccak256(abi.encode(uint256(keccak256(id)) - 1)) & ~bytes32(uint256(0xff))
        let inner = U256::from_be_bytes(keccak256(ns.as_bytes()).0) - U256::from(1);
        let mut root = keccak256(inner.to_be_bytes::<32>());
        root.0[31] = 0;
        return Ok(root);
    }
    if let Some(h) = t.strip_prefix("0x") {
        if h.len() != 64 {
            return Err(format!("a hex slot must have 32 bytes (64 hex digits), got {}", h.len()));
        }
        return t.parse::<B256>().map_err(|e| format!("bad hex slot {t:?}: {e}"));
    }
    U256::from_str_radix(t, 10).map(B256::from).map_err(|_| {
        format!("unknown slot {t:?}: want eip1967.implementation, eip1967.admin, eip1967.beacon, erc7201:<namespace>, 0x<32 bytes> or a decimal number")
    })
}

/// What a key of the watched state is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Item {
    Slot(Address, B256),
    Balance(Address),
    Code(Address),
    Nonce(Address),
}

impl Item {
    fn key(&self) -> String {
        match self {
            Self::Slot(a, s) => format!("slot:{a:#x}:{s:#x}"),
            Self::Balance(a) => format!("balance:{a:#x}"),
            Self::Code(a) => format!("code:{a:#x}"),
            Self::Nonce(a) => format!("nonce:{a:#x}"),
        }
    }
}

/// A value and the block it was first seen at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Known {
    value: B256,
    since: u64,
}

/// Undo data of one committed block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Undo {
    number: u64,
    hash: Option<B256>,
    /// (key, value before this block), for each key this block changed.
    prev: Vec<(String, Option<Known>)>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct State {
    known: BTreeMap<String, Known>,
    journal: VecDeque<Undo>,
}

#[derive(Debug, Clone)]
struct Watched {
    item: Item,
    label: String,
    severity: Severity,
    min_change: U256,
}

/// The `storage_watch` detector.
#[derive(Debug)]
pub struct StorageWatch {
    id: String,
    chain: String,
    every: u64,
    watched: Vec<Watched>,
    state: State,
}

impl StorageWatch {
    /// Builds the detector for `chain`.
    pub fn new(cfg: StorageWatchConfig, chain: &str) -> Result<Self> {
        let id = format!("storage_watch:{}", cfg.name);
        let bad = |field: String, reason: String| DetectError::Config {
            detector: id.clone(),
            field,
            reason,
        };
        if cfg.name.trim().is_empty() {
            return Err(bad("name".into(), "must not be empty".into()));
        }
        if cfg.every == 0 {
            return Err(bad("every".into(), "must be at least 1".into()));
        }
        if cfg.slots.is_empty() && cfg.accounts.is_empty() {
            return Err(bad("slots".into(), "watch at least one slot or account".into()));
        }
        let mut watched = Vec::new();
        for (i, s) in cfg.slots.iter().enumerate() {
            let slot = parse_slot(&s.slot).map_err(|e| bad(format!("slots[{i}].slot"), e))?;
            watched.push(Watched {
                item: Item::Slot(s.contract, slot),
                label: s.label.clone().unwrap_or_else(|| s.slot.clone()),
                severity: s.severity.unwrap_or(cfg.severity),
                min_change: U256::ZERO,
            });
        }
        for (i, a) in cfg.accounts.iter().enumerate() {
            let label = a.label.clone().unwrap_or_else(|| format!("{:#x}", a.address));
            let min_change = match &a.min_balance_change {
                Some(s) => U256::from_str_radix(s.trim(), 10).map_err(|_| {
                    bad(
                        format!("accounts[{i}].min_balance_change"),
                        format!("want a decimal amount of wei, got {s:?}"),
                    )
                })?,
                None => U256::ZERO,
            };
            if !(a.balance || a.code || a.nonce) {
                return Err(bad(
                    format!("accounts[{i}]"),
                    "watches nothing: set balance, code or nonce".into(),
                ));
            }
            let mut add = |item| {
                watched.push(Watched {
                    item,
                    label: label.clone(),
                    severity: cfg.severity,
                    min_change,
                })
            };
            if a.balance {
                add(Item::Balance(a.address));
            }
            if a.code {
                add(Item::Code(a.address));
            }
            if a.nonce {
                add(Item::Nonce(a.address));
            }
        }
        watched.sort_by_key(|w| w.item);
        watched.dedup_by_key(|w| w.item);
        Ok(Self { id, chain: chain.into(), every: cfg.every, watched, state: State::default() })
    }

    /// The value of `item` proven in block `b`, if its state is attached.
    fn observed(b: &BlockData, item: Item) -> Option<B256> {
        let state = b.state.as_ref()?;
        let acct = |a: Address| state.iter().find(|s| s.address == a);
        match item {
            Item::Slot(a, s) => acct(a)?.slot(&s).map(B256::from),
            Item::Balance(a) => acct(a).map(|x| B256::from(x.balance)),
            Item::Code(a) => acct(a).map(|x| x.code_hash),
            Item::Nonce(a) => acct(a).map(|x| B256::from(U256::from(x.nonce))),
        }
    }

    fn finding(&self, w: &Watched, at: BlockRef, old: Known, new: B256) -> Finding {
        let (check, address, slot) = match w.item {
            Item::Slot(a, s) => ("storage_slot", a, Some(s)),
            Item::Balance(a) => ("balance", a, None),
            Item::Code(a) => ("code", a, None),
            Item::Nonce(a) => ("nonce", a, None),
        };
        let (o, n) = (U256::from_be_bytes(old.value.0), U256::from_be_bytes(new.0));
        let title = match w.item {
            Item::Slot(..) => format!(
                "Storage slot {} of {address:#x} changed from {} to {} at block {}",
                w.label,
                show(old.value),
                show(new),
                at.number
            ),
            Item::Code(_) if old.value == EMPTY_CODE_HASH => {
                format!(
                    "Code deployed at {} (a watched address that had none) at block {}",
                    w.label, at.number
                )
            }
            Item::Code(_) if new == EMPTY_CODE_HASH => {
                format!("Code of {} removed at block {}", w.label, at.number)
            }
            Item::Code(_) => format!(
                "Code of {} replaced at block {} (code hash {:#x} -> {new:#x})",
                w.label, at.number, old.value
            ),
            Item::Balance(_) => {
                format!("Balance of {} changed from {o} to {n} wei at block {}", w.label, at.number)
            }
            Item::Nonce(_) => {
                format!("Nonce of {} changed from {o} to {n} at block {}", w.label, at.number)
            }
        };
        let mut ev = json!({
            "check": check,
            "address": address,
            "label": w.label,
            "old": old.value,
            "new": new,
            "old_since_block": old.since,
            "proven_against": "state root of the verified header",
        });
        if let Some(s) = slot {
            ev["slot"] = json!(s);
            if let (Some(o), Some(n)) = (as_address(old.value), as_address(new)) {
                ev["old_address"] = json!(o);
                ev["new_address"] = json!(n);
            }
        }
        if matches!(w.item, Item::Balance(_) | Item::Nonce(_)) {
            ev["old"] = json!(o.to_string());
            ev["new"] = json!(n.to_string());
        }
        Finding::new(&self.id, "storage_watch", &self.chain, at, &w.item.key(), w.severity, title)
            .with_evidence(ev)
    }
}

/// A 32-byte value that holds an address (its upper 12 bytes are zero).
fn as_address(v: B256) -> Option<Address> {
    v.0[..12].iter().all(|b| *b == 0).then(|| Address::from_slice(&v.0[12..]))
}

fn show(v: B256) -> String {
    match as_address(v) {
        Some(a) if v != B256::ZERO => format!("{a:#x}"),
        _ => format!("{v:#x}"),
    }
}

impl Detector for StorageWatch {
    fn id(&self) -> &str {
        &self.id
    }

    fn kind(&self) -> &'static str {
        "storage_watch"
    }

    fn needs(&self) -> Needs {
        let mut per: BTreeMap<Address, Vec<B256>> = BTreeMap::new();
        for w in &self.watched {
            match w.item {
                Item::Slot(a, s) => per.entry(a).or_default().push(s),
                Item::Balance(a) | Item::Code(a) | Item::Nonce(a) => {
                    per.entry(a).or_default();
                }
            }
        }
        Needs {
            state: per
                .into_iter()
                .map(|(address, slots)| StateWatch { address, slots, every: self.every })
                .collect(),
            ..Needs::default()
        }
    }

    fn commit(&mut self, seg: &ChainSegment, out: &mut Findings) -> Result<()> {
        for b in seg.blocks() {
            let at = b.block_ref();
            let mut prev = Vec::new();
            for w in &self.watched {
                let Some(new) = Self::observed(b, w.item) else { continue };
                let key = w.item.key();
                let old = self.state.known.get(&key).copied();
                match old {
                    Some(o) if o.value == new => {}
                    Some(o) => {
                        let below_threshold = !w.min_change.is_zero() && {
                            let (a, b) =
                                (U256::from_be_bytes(o.value.0), U256::from_be_bytes(new.0));
                            a.abs_diff(b) < w.min_change
                        };
                        if below_threshold {
                            // Keep the baseline: small changes add up until they are reported.
                            continue;
                        }
                        out.push(self.finding(w, at, o, new));
                        prev.push((key.clone(), old));
                        self.state.known.insert(key, Known { value: new, since: at.number });
                    }
                    None => {
                        prev.push((key.clone(), None));
                        self.state.known.insert(key, Known { value: new, since: at.number });
                    }
                }
            }
            self.state.journal.push_back(Undo { number: at.number, hash: b.header.hash, prev });
        }
        Ok(())
    }

    fn revert(&mut self, seg: &ChainSegment, _out: &mut Findings) -> Result<()> {
        for b in seg.blocks().iter().rev() {
            match self.state.journal.back() {
                Some(u) if u.number == b.header.number && u.hash == b.header.hash => {}
                _ => {
                    return Err(DetectError::RevertMismatch {
                        detector: self.id.clone(),
                        number: b.header.number,
                    })
                }
            }
            if let Some(u) = self.state.journal.pop_back() {
                for (key, old) in u.prev.into_iter().rev() {
                    match old {
                        Some(k) => self.state.known.insert(key, k),
                        None => self.state.known.remove(&key),
                    };
                }
            }
        }
        Ok(())
    }

    fn finalize(&mut self, upto: BlockRef, _out: &mut Findings) {
        while self.state.journal.front().is_some_and(|u| u.number <= upto.number) {
            self.state.journal.pop_front();
        }
    }

    fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            head: self.state.journal.back().map(|u| BlockRef::maybe(u.number, u.hash)),
            state: serde_json::to_value(&self.state).unwrap_or_default(),
        }
    }

    fn restore(&mut self, cp: &Checkpoint) -> Result<()> {
        self.state = serde_json::from_value(cp.state.clone()).map_err(|e| {
            DetectError::Restore { detector: self.id.clone(), reason: e.to_string() }
        })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_primitives::{AccountState, Header};
    use std::sync::Arc;

    #[test]
    fn named_slots_are_the_published_constants() {
        // EIP-1967: bytes32(uint256(keccak256('eip1967.proxy.implementation')) - 1), etc.
        for (name, id) in [
            ("eip1967.implementation", "eip1967.proxy.implementation"),
            ("eip1967.admin", "eip1967.proxy.admin"),
            ("eip1967.beacon", "eip1967.proxy.beacon"),
        ] {
            let want = B256::from(U256::from_be_bytes(keccak256(id.as_bytes()).0) - U256::from(1));
            assert_eq!(parse_slot(name).unwrap(), want, "{name}");
        }
        // OpenZeppelin v5's OwnableUpgradeable states its ERC-7201 location in its source:
        // 0x9016d09d72d40fdae2fd8ceac6b6234c7706214fd39c1cd1e609a0528c199300.
        assert_eq!(
            parse_slot("erc7201:openzeppelin.storage.Ownable").unwrap(),
            palisade_primitives::b256!(
                "9016d09d72d40fdae2fd8ceac6b6234c7706214fd39c1cd1e609a0528c199300"
            )
        );
        assert_eq!(parse_slot("0").unwrap(), B256::ZERO);
        assert_eq!(parse_slot("5").unwrap(), B256::from(U256::from(5)));
        assert!(parse_slot("0x12").unwrap_err().contains("32 bytes"));
        assert!(parse_slot("owner").is_err());
    }

    fn block(n: u64, owner: u8, balance: u64) -> Arc<BlockData> {
        let a = Address::repeat_byte(0xaa);
        Arc::new(BlockData {
            header: Header {
                number: n,
                hash: Some(B256::with_last_byte(n as u8)),
                parent_hash: Some(B256::with_last_byte(n as u8 - 1)),
                ..Default::default()
            },
            state: Some(vec![AccountState {
                address: a,
                balance: U256::from(balance),
                code_hash: B256::repeat_byte(1),
                storage: vec![(EIP1967_ADMIN, B256::left_padding_from(&[owner]).into())],
                ..Default::default()
            }]),
            ..Default::default()
        })
    }

    fn detector(min: &str) -> StorageWatch {
        let cfg: StorageWatchConfig = toml::from_str(&format!(
            "name = 'w'\nslots = [{{ contract = '0x{a}', slot = 'eip1967.admin', label = 'admin' }}]\naccounts = [{{ address = '0x{a}', min_balance_change = '{min}' }}]",
            a = "aa".repeat(20)
        ))
        .unwrap();
        StorageWatch::new(cfg, "test").unwrap()
    }

    #[test]
    fn a_change_is_reported_once_with_old_and_new_values_and_reverted_exactly() {
        let mut d = detector("0");
        let mut out = Findings::new();
        let seg =
            ChainSegment::new(vec![block(1, 1, 100), block(2, 1, 100), block(3, 2, 100)]).unwrap();
        let before = d.checkpoint();
        d.commit(&seg, &mut out).unwrap();
        let (fs, _) = out.take();
        assert_eq!(fs.len(), 1, "{fs:?}");
        assert_eq!(fs[0].anchor.number, 3);
        assert_eq!(fs[0].evidence["check"], "storage_slot");
        assert_eq!(fs[0].evidence["old_since_block"], 1);
        assert_eq!(fs[0].evidence["new_address"], json!(Address::left_padding_from(&[2])));
        d.revert(&seg, &mut out).unwrap();
        assert_eq!(d.checkpoint(), before);
    }

    #[test]
    fn small_balance_changes_add_up_until_they_cross_the_threshold() {
        let mut d = detector("10");
        let mut out = Findings::new();
        let blocks: Vec<_> = [100, 104, 108, 111, 112]
            .iter()
            .enumerate()
            .map(|(i, b)| block(i as u64 + 1, 1, *b))
            .collect();
        d.commit(&ChainSegment::new(blocks).unwrap(), &mut out).unwrap();
        let (fs, _) = out.take();
        assert_eq!(fs.len(), 1, "{fs:?}");
        assert_eq!(fs[0].anchor.number, 4);
        assert_eq!(fs[0].evidence["old"], "100");
        assert_eq!(fs[0].evidence["new"], "111");
    }

    #[test]
    fn blocks_without_proofs_change_nothing() {
        let mut d = detector("0");
        let mut out = Findings::new();
        let mut b2 = (*block(2, 9, 1)).clone();
        b2.state = None;
        let seg =
            ChainSegment::new(vec![block(1, 1, 100), Arc::new(b2), block(3, 1, 100)]).unwrap();
        d.commit(&seg, &mut out).unwrap();
        assert!(out.take().0.is_empty());
        assert_eq!(
            d.needs().accounts_at(3),
            vec![(Address::repeat_byte(0xaa), vec![EIP1967_ADMIN])]
        );
    }
}
