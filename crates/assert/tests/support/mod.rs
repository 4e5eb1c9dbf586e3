//! The test chain the example assertions run on (shared by the tests and the bench): an
//! in-memory revm database with the defense scenario's vault, its depositors and the drainer,
//! deployed from testdata/contracts, and the example assertions prepared against it.
#![allow(dead_code, missing_docs, unreachable_pub)]

use alloy_primitives::{keccak256, Address, Bytes, FixedBytes, B256, U256};
use alloy_sol_types::SolValue;
use palisade_assert::{check_tx, Checked, Prepared};
use palisade_primitives::assertion::{AssertionSpec, DEFAULT_GAS_BUDGET};
use revm::context::{BlockEnv, CfgEnv, TxEnv};
use revm::database::{CacheDB, EmptyDB};
use revm::primitives::TxKind;
use revm::state::AccountInfo;
use revm::DatabaseCommit;
use std::sync::Arc;

pub const ETH: u128 = 1_000_000_000_000_000_000;

pub fn artifact(name: &str) -> (Bytes, Vec<([u8; 4], String)>) {
    let path = format!("{}/../../testdata/contracts/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let code: Bytes = v["bytecode"].as_str().unwrap().parse().unwrap();
    let mut fns = Vec::new();
    for f in v["abi"].as_array().unwrap() {
        if f["type"] == "function" {
            let args: Vec<&str> = f["inputs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["type"].as_str().unwrap())
                .collect();
            let name = f["name"].as_str().unwrap();
            let sig = format!("{name}({})", args.join(","));
            fns.push((keccak256(sig.as_bytes())[..4].try_into().unwrap(), name.to_string()));
        }
    }
    (code, fns)
}

pub fn sel(sig: &str) -> [u8; 4] {
    keccak256(sig.as_bytes())[..4].try_into().unwrap()
}

pub struct Chain {
    pub db: CacheDB<EmptyDB>,
    pub nonce: u64,
}

impl Chain {
    pub fn new(accounts: &[Address]) -> Self {
        let mut db = CacheDB::new(EmptyDB::default());
        for a in accounts {
            db.insert_account_info(
                *a,
                AccountInfo { balance: U256::from(100 * ETH), ..Default::default() },
            );
        }
        Self { db, nonce: 0 }
    }

    pub fn tx(&mut self, from: Address, to: Option<Address>, data: Vec<u8>, value: u128) -> TxEnv {
        self.nonce += 1;
        TxEnv {
            caller: from,
            kind: to.map(TxKind::Call).unwrap_or(TxKind::Create),
            data: data.into(),
            value: U256::from(value),
            gas_limit: 5_000_000,
            gas_price: 0,
            chain_id: Some(1),
            nonce: self.nonce,
            ..Default::default()
        }
    }

    pub fn cfg() -> CfgEnv {
        let mut cfg = CfgEnv::default();
        cfg.chain_id = 1;
        cfg.disable_nonce_check = true;
        cfg.disable_base_fee = true;
        cfg
    }

    /// Runs and commits a transaction, checking `assertions` on it.
    pub fn run(&mut self, tx: TxEnv, assertions: &[Arc<Prepared>]) -> Checked {
        let hash = B256::from(U256::from(self.nonce));
        let c =
            check_tx(&self.db, &BlockEnv::default(), &Self::cfg(), &tx, hash, assertions).unwrap();
        self.db.commit(c.state.clone());
        c
    }

    pub fn deploy(&mut self, from: Address, code: Bytes, args: Vec<u8>) -> Address {
        let mut data = code.to_vec();
        data.extend(args);
        let tx = self.tx(from, None, data, 0);
        let nonce = self.db.cache.accounts.get(&from).map(|a| a.info.nonce).unwrap_or(0);
        let c = self.run(tx, &[]);
        assert!(c.success, "deploying failed");
        from.create(nonce)
    }
}

pub fn prepared(
    name: &str,
    artifact_name: &str,
    adopter: Address,
    args: Vec<u8>,
    budget: u64,
) -> Arc<Prepared> {
    let (code, functions) = artifact(artifact_name);
    let mut init = code.to_vec();
    init.extend(args);
    let spec = AssertionSpec {
        name: name.into(),
        adopter,
        init_code: init.into(),
        triggers: Vec::new(),
        gas_budget: budget,
        functions,
    };
    Arc::new(Prepared::new(Arc::new(spec), 1).unwrap())
}

pub fn word(a: Address) -> Vec<u8> {
    a.into_word().to_vec()
}

pub const OWNER: Address = Address::repeat_byte(0x01);
pub const GUARDIAN: Address = Address::repeat_byte(0x02);
pub const DEPOSITOR: Address = Address::repeat_byte(0x03);
pub const ATTACKER: Address = Address::repeat_byte(0x04);

pub fn vault_chain() -> (Chain, Address, Address) {
    let mut c = Chain::new(&[OWNER, GUARDIAN, DEPOSITOR, ATTACKER]);
    let vault = c.deploy(OWNER, artifact("GuardedVault").0, word(GUARDIAN));
    let t = c.tx(OWNER, Some(vault), sel("deposit()").to_vec(), 6 * ETH);
    assert!(c.run(t, &[]).success);
    let t = c.tx(DEPOSITOR, Some(vault), sel("deposit()").to_vec(), 4 * ETH);
    assert!(c.run(t, &[]).success);
    let drainer = c.deploy(ATTACKER, artifact("VaultDrainer").0, Vec::new());
    (c, vault, drainer)
}

pub fn vault_assertions(vault: Address) -> Vec<Arc<Prepared>> {
    let entry: Vec<FixedBytes<4>> = ["deposit()", "redeem(uint256)", "migrate(address)"]
        .iter()
        .map(|s| sel(s).into())
        .collect();
    vec![
        prepared(
            "share-price",
            "SharePriceAssertion",
            vault,
            (entry,).abi_encode_params(),
            DEFAULT_GAS_BUDGET,
        ),
        prepared(
            "outflow",
            "OutflowBoundAssertion",
            vault,
            U256::from(5000).abi_encode(),
            DEFAULT_GAS_BUDGET,
        ),
    ]
}
