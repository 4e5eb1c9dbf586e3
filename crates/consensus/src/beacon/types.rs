//! Beacon containers as the standard Beacon API serves them (JSON, integers quoted) and as SSZ
//! hashes them (`tree_hash`): one type for both, so a root is computed from exactly what was
//! served. Phase0 to Deneb; Electra's attestations and requests are not modelled yet.

use alloy_primitives::{Address, FixedBytes, B256, U256};
use serde::{Deserialize, Serialize};
use ssz_types::typenum::{
    U1048576, U1073741824, U128, U16, U2, U2048, U256 as N256, U32, U33, U4096, U512,
};
use ssz_types::{BitList, BitVector, FixedVector, VariableList};
use tree_hash::TreeHash;
use tree_hash_derive::TreeHash;

/// A 48-byte BLS public key.
pub type BlsPublicKey = FixedBytes<48>;
/// A 96-byte BLS signature.
pub type BlsSignature = FixedBytes<96>;

/// Integers that the Beacon API quotes (`"123"`), read from strings or numbers.
pub mod quoted {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serializes as a string.
    pub fn serialize<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    /// Reads a quoted or bare integer.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Q {
            S(String),
            N(u64),
        }
        match Q::deserialize(d)? {
            Q::S(s) => s.parse().map_err(serde::de::Error::custom),
            Q::N(n) => Ok(n),
        }
    }
}

/// Lists of quoted integers.
mod quoted_list {
    use serde::{Deserialize, Deserializer, Serializer};
    use ssz_types::typenum::Unsigned;
    use ssz_types::VariableList;

    pub(super) fn serialize<S: Serializer, N: Unsigned>(
        v: &VariableList<u64, N>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|x| x.to_string()))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>, N: Unsigned>(
        d: D,
    ) -> Result<VariableList<u64, N>, D::Error> {
        let v: Vec<String> = Vec::deserialize(d)?;
        let v = v
            .iter()
            .map(|s| s.parse::<u64>().map_err(serde::de::Error::custom))
            .collect::<Result<Vec<_>, _>>()?;
        VariableList::new(v).map_err(|e| serde::de::Error::custom(format!("{e:?}")))
    }
}

/// Quoted uint256 (`base_fee_per_gas`).
mod quoted_u256 {
    use alloy_primitives::U256;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(v: &U256, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<U256, D::Error> {
        let s = String::deserialize(d)?;
        U256::from_str_radix(s.trim(), 10).map_err(serde::de::Error::custom)
    }
}

/// Hex byte lists (`extra_data`, transactions).
mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};
    use ssz_types::typenum::Unsigned;
    use ssz_types::VariableList;

    pub(super) fn serialize<S: Serializer, N: Unsigned>(
        v: &VariableList<u8, N>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("0x{}", alloy_primitives::hex::encode(&v[..])))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>, N: Unsigned>(
        d: D,
    ) -> Result<VariableList<u8, N>, D::Error> {
        let s = String::deserialize(d)?;
        let b = alloy_primitives::hex::decode(s.trim_start_matches("0x"))
            .map_err(serde::de::Error::custom)?;
        VariableList::new(b).map_err(|e| serde::de::Error::custom(format!("{e:?}")))
    }
}

/// A list of transactions, each a hex byte list.
mod hex_tx_list {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use ssz_types::typenum::{U1048576, U1073741824};
    use ssz_types::VariableList;

    type Tx = VariableList<u8, U1073741824>;

    pub(super) fn serialize<S: Serializer>(
        v: &VariableList<Tx, U1048576>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let strs: Vec<String> =
            v.iter().map(|t| format!("0x{}", alloy_primitives::hex::encode(&t[..]))).collect();
        strs.serialize(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<VariableList<Tx, U1048576>, D::Error> {
        let v: Vec<String> = Vec::deserialize(d)?;
        let txs = v
            .iter()
            .map(|s| {
                let b = alloy_primitives::hex::decode(s.trim_start_matches("0x"))
                    .map_err(serde::de::Error::custom)?;
                Tx::new(b).map_err(|e| serde::de::Error::custom(format!("{e:?}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        VariableList::new(txs).map_err(|e| serde::de::Error::custom(format!("{e:?}")))
    }
}

/// A beacon block header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TreeHash)]
pub struct BeaconBlockHeader {
    /// Slot.
    #[serde(with = "quoted")]
    pub slot: u64,
    /// Index of the proposer.
    #[serde(with = "quoted")]
    pub proposer_index: u64,
    /// Root of the parent block.
    pub parent_root: B256,
    /// Root of the post-state.
    pub state_root: B256,
    /// Root of the body.
    pub body_root: B256,
}

impl BeaconBlockHeader {
    /// The block root (`hash_tree_root` of the header).
    pub fn root(&self) -> B256 {
        self.tree_hash_root()
    }
}

/// A header with its proposer's signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TreeHash)]
pub struct SignedBeaconBlockHeader {
    /// The header.
    pub message: BeaconBlockHeader,
    /// Proposer's signature.
    pub signature: BlsSignature,
}

/// A sync committee: 512 keys and their aggregate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TreeHash)]
pub struct SyncCommittee {
    /// Members' keys, in committee order.
    pub pubkeys: FixedVector<BlsPublicKey, U512>,
    /// The aggregate of all 512 keys.
    pub aggregate_pubkey: BlsPublicKey,
}

/// A sync committee's bits and aggregate signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TreeHash)]
pub struct SyncAggregate {
    /// One bit per committee member that signed.
    pub sync_committee_bits: BitVector<U512>,
    /// Aggregate signature over the previous slot's block root.
    pub sync_committee_signature: BlsSignature,
}

/// An execution payload header (Capella; Deneb adds the blob gas fields).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutionPayloadHeader {
    /// Parent execution block hash.
    pub parent_hash: B256,
    /// Fee recipient.
    pub fee_recipient: Address,
    /// Execution state root.
    pub state_root: B256,
    /// Receipts root.
    pub receipts_root: B256,
    /// Logs bloom.
    #[serde(with = "ssz_types::serde_utils::hex_fixed_vec")]
    pub logs_bloom: FixedVector<u8, N256>,
    /// RANDAO mix.
    pub prev_randao: B256,
    /// Execution block number.
    #[serde(with = "quoted")]
    pub block_number: u64,
    /// Gas limit.
    #[serde(with = "quoted")]
    pub gas_limit: u64,
    /// Gas used.
    #[serde(with = "quoted")]
    pub gas_used: u64,
    /// Timestamp.
    #[serde(with = "quoted")]
    pub timestamp: u64,
    /// Extra data.
    #[serde(with = "hex_bytes")]
    pub extra_data: VariableList<u8, U32>,
    /// Base fee.
    #[serde(with = "quoted_u256")]
    pub base_fee_per_gas: U256,
    /// Execution block hash.
    pub block_hash: B256,
    /// Root of the transactions list.
    pub transactions_root: B256,
    /// Root of the withdrawals list.
    pub withdrawals_root: B256,
    /// Blob gas used (Deneb on).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_quoted")]
    pub blob_gas_used: Option<u64>,
    /// Excess blob gas (Deneb on).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_quoted")]
    pub excess_blob_gas: Option<u64>,
}

mod opt_quoted {
    use serde::{Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(v: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => super::quoted::serialize(v, s),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        super::quoted::deserialize(d).map(Some)
    }
}

/// Merkleizes a container from its field roots (padded to a power of two).
pub(crate) fn container_root(fields: &[B256]) -> B256 {
    let mut hasher = tree_hash::MerkleHasher::with_leaves(fields.len());
    for f in fields {
        // Field roots are 32 bytes: the hasher takes them whole.
        let _ = hasher.write(f.as_slice());
    }
    hasher.finish().unwrap_or_default()
}

impl ExecutionPayloadHeader {
    /// `hash_tree_root`, with the Deneb fields when present.
    pub fn root(&self) -> B256 {
        let mut f = vec![
            self.parent_hash.tree_hash_root(),
            self.fee_recipient.tree_hash_root(),
            self.state_root.tree_hash_root(),
            self.receipts_root.tree_hash_root(),
            self.logs_bloom.tree_hash_root(),
            self.prev_randao.tree_hash_root(),
            self.block_number.tree_hash_root(),
            self.gas_limit.tree_hash_root(),
            self.gas_used.tree_hash_root(),
            self.timestamp.tree_hash_root(),
            self.extra_data.tree_hash_root(),
            self.base_fee_per_gas.tree_hash_root(),
            self.block_hash.tree_hash_root(),
            self.transactions_root.tree_hash_root(),
            self.withdrawals_root.tree_hash_root(),
        ];
        if let (Some(a), Some(b)) = (self.blob_gas_used, self.excess_blob_gas) {
            f.push(a.tree_hash_root());
            f.push(b.tree_hash_root());
        }
        container_root(&f)
    }
}

/// A light-client header: the beacon header, and from Capella on the execution payload header
/// with the branch tying it to the beacon block's body root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LightClientHeader {
    /// The beacon block header.
    pub beacon: BeaconBlockHeader,
    /// The execution payload header (Capella on).
    #[serde(default)]
    pub execution: Option<ExecutionPayloadHeader>,
    /// Branch from the execution payload header to the body root.
    #[serde(default)]
    pub execution_branch: Vec<B256>,
}

/// `LightClientBootstrap`: a trusted header and its sync committee.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LightClientBootstrap {
    /// The header whose root the client trusts.
    pub header: LightClientHeader,
    /// Its period's sync committee.
    pub current_sync_committee: SyncCommittee,
    /// Branch from the committee to the header's state root.
    pub current_sync_committee_branch: Vec<B256>,
}

/// `LightClientUpdate` (also finality and optimistic updates, whose missing fields are absent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LightClientUpdate {
    /// The header the sync committee signed.
    pub attested_header: LightClientHeader,
    /// The next period's committee, proven in the attested state.
    #[serde(default)]
    pub next_sync_committee: Option<SyncCommittee>,
    /// Its branch.
    #[serde(default)]
    pub next_sync_committee_branch: Vec<B256>,
    /// The finalized header, proven in the attested state.
    #[serde(default)]
    pub finalized_header: Option<LightClientHeader>,
    /// Its branch.
    #[serde(default)]
    pub finality_branch: Vec<B256>,
    /// Who signed, and the signature.
    pub sync_aggregate: SyncAggregate,
    /// The slot the signature was made at.
    #[serde(with = "quoted")]
    pub signature_slot: u64,
}

/// A Beacon API envelope: `{"version": "capella", "data": ...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Versioned<T> {
    /// Fork name (`altair`, `bellatrix`, `capella`, `deneb`, `electra`).
    #[serde(default)]
    pub version: Option<String>,
    /// The payload.
    pub data: T,
}

/// A checkpoint (epoch, root).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TreeHash)]
pub struct Checkpoint {
    /// Epoch.
    #[serde(with = "quoted")]
    pub epoch: u64,
    /// Block root.
    pub root: B256,
}

/// What an attestation votes for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TreeHash)]
pub struct AttestationData {
    /// Slot.
    #[serde(with = "quoted")]
    pub slot: u64,
    /// Committee index.
    #[serde(with = "quoted")]
    pub index: u64,
    /// Head vote.
    pub beacon_block_root: B256,
    /// Source checkpoint.
    pub source: Checkpoint,
    /// Target checkpoint.
    pub target: Checkpoint,
}

/// An aggregate attestation (Phase0 to Deneb).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TreeHash)]
pub struct Attestation {
    /// Which committee members attested.
    pub aggregation_bits: BitList<U2048>,
    /// The vote.
    pub data: AttestationData,
    /// Aggregate signature.
    pub signature: BlsSignature,
}

/// An attestation with explicit validator indices (in attester slashings).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TreeHash)]
pub struct IndexedAttestation {
    /// Attesting validators.
    #[serde(with = "quoted_list")]
    pub attesting_indices: VariableList<u64, U2048>,
    /// The vote.
    pub data: AttestationData,
    /// Aggregate signature.
    pub signature: BlsSignature,
}

/// Two conflicting headers by one proposer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TreeHash)]
pub struct ProposerSlashing {
    /// First header.
    pub signed_header_1: SignedBeaconBlockHeader,
    /// Second header.
    pub signed_header_2: SignedBeaconBlockHeader,
}

/// Two conflicting attestations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TreeHash)]
pub struct AttesterSlashing {
    /// First attestation.
    pub attestation_1: IndexedAttestation,
    /// Second attestation.
    pub attestation_2: IndexedAttestation,
}

/// Deposit contract data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TreeHash)]
pub struct Eth1Data {
    /// Deposit tree root.
    pub deposit_root: B256,
    /// Deposits so far.
    #[serde(with = "quoted")]
    pub deposit_count: u64,
    /// Execution block hash.
    pub block_hash: B256,
}

/// A deposit's data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TreeHash)]
pub struct DepositData {
    /// Validator key.
    pub pubkey: BlsPublicKey,
    /// Withdrawal credentials.
    pub withdrawal_credentials: B256,
    /// Amount in gwei.
    #[serde(with = "quoted")]
    pub amount: u64,
    /// Signature.
    pub signature: BlsSignature,
}

/// A deposit with its proof.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TreeHash)]
pub struct Deposit {
    /// Branch in the deposit tree.
    pub proof: FixedVector<B256, U33>,
    /// The deposit.
    pub data: DepositData,
}

/// A voluntary exit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TreeHash)]
pub struct VoluntaryExit {
    /// Earliest exit epoch.
    #[serde(with = "quoted")]
    pub epoch: u64,
    /// Exiting validator.
    #[serde(with = "quoted")]
    pub validator_index: u64,
}

/// A signed voluntary exit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TreeHash)]
pub struct SignedVoluntaryExit {
    /// The exit.
    pub message: VoluntaryExit,
    /// Signature.
    pub signature: BlsSignature,
}

/// A withdrawal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TreeHash)]
pub struct Withdrawal {
    /// Withdrawal index.
    #[serde(with = "quoted")]
    pub index: u64,
    /// Validator.
    #[serde(with = "quoted")]
    pub validator_index: u64,
    /// Recipient.
    pub address: Address,
    /// Amount in gwei.
    #[serde(with = "quoted")]
    pub amount: u64,
}

/// A change of withdrawal credentials to an execution address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TreeHash)]
pub struct BlsToExecutionChange {
    /// Validator.
    #[serde(with = "quoted")]
    pub validator_index: u64,
    /// Its BLS withdrawal key.
    pub from_bls_pubkey: BlsPublicKey,
    /// The new execution address.
    pub to_execution_address: Address,
}

/// A signed credentials change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TreeHash)]
pub struct SignedBlsToExecutionChange {
    /// The change.
    pub message: BlsToExecutionChange,
    /// Signature.
    pub signature: BlsSignature,
}

/// An execution payload (Capella; Deneb adds the blob gas fields).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutionPayload {
    /// Parent execution block hash.
    pub parent_hash: B256,
    /// Fee recipient.
    pub fee_recipient: Address,
    /// Execution state root.
    pub state_root: B256,
    /// Receipts root.
    pub receipts_root: B256,
    /// Logs bloom.
    #[serde(with = "ssz_types::serde_utils::hex_fixed_vec")]
    pub logs_bloom: FixedVector<u8, N256>,
    /// RANDAO mix.
    pub prev_randao: B256,
    /// Execution block number.
    #[serde(with = "quoted")]
    pub block_number: u64,
    /// Gas limit.
    #[serde(with = "quoted")]
    pub gas_limit: u64,
    /// Gas used.
    #[serde(with = "quoted")]
    pub gas_used: u64,
    /// Timestamp.
    #[serde(with = "quoted")]
    pub timestamp: u64,
    /// Extra data.
    #[serde(with = "hex_bytes")]
    pub extra_data: VariableList<u8, U32>,
    /// Base fee.
    #[serde(with = "quoted_u256")]
    pub base_fee_per_gas: U256,
    /// Execution block hash.
    pub block_hash: B256,
    /// Raw transactions.
    #[serde(with = "hex_tx_list")]
    pub transactions: VariableList<VariableList<u8, U1073741824>, U1048576>,
    /// Withdrawals.
    pub withdrawals: VariableList<Withdrawal, U16>,
    /// Blob gas used (Deneb on).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_quoted")]
    pub blob_gas_used: Option<u64>,
    /// Excess blob gas (Deneb on).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_quoted")]
    pub excess_blob_gas: Option<u64>,
}

impl ExecutionPayload {
    /// The payload's header (lists replaced by their roots): same `hash_tree_root`.
    pub fn header(&self) -> ExecutionPayloadHeader {
        ExecutionPayloadHeader {
            parent_hash: self.parent_hash,
            fee_recipient: self.fee_recipient,
            state_root: self.state_root,
            receipts_root: self.receipts_root,
            logs_bloom: self.logs_bloom.clone(),
            prev_randao: self.prev_randao,
            block_number: self.block_number,
            gas_limit: self.gas_limit,
            gas_used: self.gas_used,
            timestamp: self.timestamp,
            extra_data: self.extra_data.clone(),
            base_fee_per_gas: self.base_fee_per_gas,
            block_hash: self.block_hash,
            transactions_root: self.transactions.tree_hash_root(),
            withdrawals_root: self.withdrawals.tree_hash_root(),
            blob_gas_used: self.blob_gas_used,
            excess_blob_gas: self.excess_blob_gas,
        }
    }
}

/// A block body, Bellatrix-style fields through Deneb (Altair without a payload also reads).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BeaconBlockBody {
    /// RANDAO reveal.
    pub randao_reveal: BlsSignature,
    /// Deposit contract vote.
    pub eth1_data: Eth1Data,
    /// Graffiti.
    pub graffiti: B256,
    /// Proposer slashings.
    pub proposer_slashings: VariableList<ProposerSlashing, U16>,
    /// Attester slashings.
    pub attester_slashings: VariableList<AttesterSlashing, U2>,
    /// Attestations.
    pub attestations: VariableList<Attestation, U128>,
    /// Deposits.
    pub deposits: VariableList<Deposit, U16>,
    /// Voluntary exits.
    pub voluntary_exits: VariableList<SignedVoluntaryExit, U16>,
    /// Sync committee participation (Altair on).
    #[serde(default)]
    pub sync_aggregate: Option<SyncAggregate>,
    /// Execution payload (Bellatrix on).
    #[serde(default)]
    pub execution_payload: Option<ExecutionPayload>,
    /// Credentials changes (Capella on).
    #[serde(default)]
    pub bls_to_execution_changes: Option<VariableList<SignedBlsToExecutionChange, U16>>,
    /// Blob commitments (Deneb on).
    #[serde(default)]
    pub blob_kzg_commitments: Option<VariableList<BlsPublicKey, U4096>>,
}

impl BeaconBlockBody {
    /// `hash_tree_root`, with the fields of the fork the body has.
    pub fn root(&self) -> B256 {
        let mut f = vec![
            self.randao_reveal.tree_hash_root(),
            self.eth1_data.tree_hash_root(),
            self.graffiti.tree_hash_root(),
            self.proposer_slashings.tree_hash_root(),
            self.attester_slashings.tree_hash_root(),
            self.attestations.tree_hash_root(),
            self.deposits.tree_hash_root(),
            self.voluntary_exits.tree_hash_root(),
        ];
        if let Some(s) = &self.sync_aggregate {
            f.push(s.tree_hash_root());
        }
        if let Some(p) = &self.execution_payload {
            f.push(p.header().root());
        }
        if let Some(c) = &self.bls_to_execution_changes {
            f.push(c.tree_hash_root());
        }
        if let Some(k) = &self.blob_kzg_commitments {
            f.push(k.tree_hash_root());
        }
        container_root(&f)
    }
}

/// A beacon block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BeaconBlock {
    /// Slot.
    #[serde(with = "quoted")]
    pub slot: u64,
    /// Proposer.
    #[serde(with = "quoted")]
    pub proposer_index: u64,
    /// Parent root.
    pub parent_root: B256,
    /// Post-state root.
    pub state_root: B256,
    /// Body.
    pub body: BeaconBlockBody,
}

impl BeaconBlock {
    /// The header: the body replaced by its root.
    pub fn header(&self) -> BeaconBlockHeader {
        BeaconBlockHeader {
            slot: self.slot,
            proposer_index: self.proposer_index,
            parent_root: self.parent_root,
            state_root: self.state_root,
            body_root: self.body.root(),
        }
    }

    /// The block root.
    pub fn root(&self) -> B256 {
        self.header().root()
    }
}

/// A signed beacon block (`/eth/v2/beacon/blocks/{id}`'s `data`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedBeaconBlock {
    /// The block.
    pub message: BeaconBlock,
    /// Proposer's signature.
    pub signature: BlsSignature,
}
