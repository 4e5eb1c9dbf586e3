#!/usr/bin/env python3
"""Rebuild testdata/ from the shared real-data folder (../shared/data by default).

Converts each dataset to Palisade's replay format (one JSON line a block, in the shapes of the
standard JSON-RPC methods; see docs/ARCHITECTURE.md) and compresses it with zstd. Nothing here
changes values: fields are renamed and numbers hex-encoded as a node would send them.

Usage: python3 scripts/import_testdata.py [SHARED_DATA_DIR]
"""
import json, os, shutil, subprocess, sys
from collections import defaultdict

SRC = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")
OUT = os.path.join(os.path.dirname(__file__), "..", "testdata")

def hx(n):
    return None if n is None else hex(int(n))

def write(name, lines):
    path = os.path.join(OUT, "mainnet", name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    raw = path[:-4]
    with open(raw, "w") as f:
        for l in lines:
            f.write(json.dumps(l, separators=(",", ":")) + "\n")
    subprocess.run(["zstd", "-q", "-19", "-f", "--rm", raw, "-o", path], check=True)
    print(path, os.path.getsize(path))

def camel_trace(t):
    a = dict(t["action"])
    out = {"action": a, "result": t.get("result"), "subtraces": t.get("subtraces"),
           "traceAddress": t.get("trace_address", []), "transactionHash": t.get("transaction_hash"),
           "transactionPosition": t.get("transaction_position"), "type": t["type"],
           "blockNumber": t.get("block_number")}
    if t.get("error") is not None:
        out["error"] = t["error"]
    return out

def mev_inspect():
    d = os.path.join(SRC, "mev-inspect-py", "blocks")
    lines = []
    for fn in sorted(os.listdir(d), key=lambda s: int(s.split(".")[0])):
        b = json.load(open(os.path.join(d, fn)))
        txs = [{"hash": r["transaction_hash"], "transactionIndex": hx(r["transaction_index"]), "to": r.get("to")}
               for r in sorted(b["receipts"], key=lambda r: r["transaction_index"])]
        block = {"number": hx(b["block_number"]), "miner": b["miner"].lower(), "transactions": txs}
        if b.get("block_timestamp") is not None:
            block["timestamp"] = hx(b["block_timestamp"])
        if b.get("base_fee_per_gas"):
            block["baseFeePerGas"] = hx(b["base_fee_per_gas"])
        # Receipts are trimmed upstream (no logs, no status): record them as absent, not empty.
        lines.append({"block": block, "receipts": None, "traces": [camel_trace(t) for t in b["traces"]], "call_traces": None})
    write("mev-inspect-20.jsonl.zst", lines)

def etl():
    d = os.path.join(SRC, "ethereum-etl", "tests", "resources", "test_stream", "blocks_17173049_17173050")
    blocks = [json.loads(l) for l in open(os.path.join(d, "expected_blocks.json"))]
    txs = [json.loads(l) for l in open(os.path.join(d, "expected_transactions.json"))]
    logs = [json.loads(l) for l in open(os.path.join(d, "expected_logs.json"))]
    logs_by_tx = defaultdict(list)
    for l in sorted(logs, key=lambda l: l["log_index"]):
        logs_by_tx[l["transaction_hash"]].append(l)
    lines = []
    for b in blocks:
        btx = sorted([t for t in txs if t["block_number"] == b["number"]], key=lambda t: t["transaction_index"])
        block = {"number": hx(b["number"]), "hash": b["hash"], "parentHash": b["parent_hash"], "nonce": b["nonce"],
                 "sha3Uncles": b["sha3_uncles"], "logsBloom": b["logs_bloom"], "transactionsRoot": b["transactions_root"],
                 "stateRoot": b["state_root"], "receiptsRoot": b["receipts_root"], "miner": b["miner"],
                 "difficulty": hx(b["difficulty"]), "totalDifficulty": hx(b["total_difficulty"]), "size": hx(b["size"]),
                 "extraData": b["extra_data"], "gasLimit": hx(b["gas_limit"]), "gasUsed": hx(b["gas_used"]),
                 "timestamp": hx(b["timestamp"]), "baseFeePerGas": hx(b["base_fee_per_gas"]),
                 "withdrawalsRoot": b.get("withdrawals_root"), "transactions": []}
        receipts = []
        for t in btx:
            tx = {"hash": t["hash"], "nonce": hx(t["nonce"]), "blockHash": b["hash"], "blockNumber": hx(b["number"]),
                  "transactionIndex": hx(t["transaction_index"]), "from": t["from_address"], "to": t["to_address"],
                  "value": hx(t["value"]), "gas": hx(t["gas"]), "gasPrice": hx(t["gas_price"]), "input": t["input"],
                  "type": hx(t["transaction_type"])}
            if t.get("max_fee_per_gas") is not None:
                tx["maxFeePerGas"] = hx(t["max_fee_per_gas"])
                tx["maxPriorityFeePerGas"] = hx(t["max_priority_fee_per_gas"])
            block["transactions"].append(tx)
            receipts.append({"transactionHash": t["hash"], "transactionIndex": hx(t["transaction_index"]),
                             "blockHash": b["hash"], "blockNumber": hx(b["number"]), "from": t["from_address"],
                             "to": t["to_address"], "cumulativeGasUsed": hx(t["receipt_cumulative_gas_used"]),
                             "gasUsed": hx(t["receipt_gas_used"]), "contractAddress": t["receipt_contract_address"],
                             "status": hx(t["receipt_status"]), "effectiveGasPrice": hx(t["receipt_effective_gas_price"]),
                             "type": hx(t["transaction_type"]),
                             "logs": [{"address": l["address"], "topics": l["topics"], "data": l["data"],
                                       "blockNumber": hx(b["number"]), "blockHash": b["hash"],
                                       "transactionHash": t["hash"], "transactionIndex": hx(t["transaction_index"]),
                                       "logIndex": hx(l["log_index"]), "removed": False} for l in logs_by_tx[t["hash"]]]})
        lines.append({"block": block, "receipts": receipts, "traces": None, "call_traces": None})
    write("etl-17173049-17173050.jsonl.zst", lines)

def helios():
    d = os.path.join(SRC, "helios", "tests", "testdata", "rpc")
    block = json.load(open(os.path.join(d, "block.json")))
    receipts = json.load(open(os.path.join(d, "receipts.json")))
    write("helios-21925176.jsonl.zst", [{"block": block, "receipts": receipts, "traces": None, "call_traces": None}])

def verify_data():
    """Inputs with known answers for the verification crate (issue 3)."""
    out = os.path.join(OUT, "verify")
    os.makedirs(out, exist_ok=True)
    # Execution payloads of three real beacon blocks (helios): block hash, transactions root and
    # senders can be recomputed from the raw transactions.
    payloads = []
    for slot in ("7109344", "7109430", "7109431"):
        b = json.load(open(os.path.join(SRC, "helios", "ethereum", "testdata", "blocks", slot + ".json")))
        payloads.append({"slot": slot, "execution_payload": b["data"]["message"]["body"]["execution_payload"]})
    raw = os.path.join(out, "helios-execution-payloads.json")
    json.dump(payloads, open(raw, "w"))
    subprocess.run(["zstd", "-q", "-19", "-f", "--rm", raw, "-o", raw + ".zst"], check=True)
    for f in ("proof.json", "block_miner_proof.json"):
        shutil.copy(os.path.join(SRC, "helios", "tests", "testdata", "rpc", f), os.path.join(out, "helios-21925176-" + f))
    d = os.path.join(SRC, "ethers-rs", "ethers-core", "testdata")
    for f in sorted(os.listdir(d)):
        if f.startswith("receipt-"):
            shutil.copy(os.path.join(d, f), os.path.join(out, "ethers-" + f))
    t = os.path.join(SRC, "ethereum-tests", "TrieTests")
    for f in ("trietest.json", "trieanyorder.json", "trietest_secureTrie.json", "trieanyorder_secureTrie.json"):
        shutil.copy(os.path.join(t, f), os.path.join(out, "TrieTests-" + f))
    print(out, sorted(os.listdir(out)))

def licences():
    for ds, lic in [("mev-inspect-py", "LICENSE"), ("ethereum-etl", "LICENSE"), ("helios", "LICENSE"),
                    ("ethers-rs", "LICENSE-MIT"), ("ethereum-tests", "LICENSE")]:
        os.makedirs(os.path.join(OUT, "licenses"), exist_ok=True)
        shutil.copy(os.path.join(SRC, ds, lic), os.path.join(OUT, "licenses", f"{ds}-{lic}"))

if __name__ == "__main__":
    mev_inspect(); etl(); helios(); verify_data(); licences()
