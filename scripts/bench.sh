#!/usr/bin/env bash
# Runs Palisade's benchmarks and prints each figure next to its same-run reference.
# Figures and their meaning are recorded in BENCHMARKS.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/palisade-target}"
tools="${PALISADE_TOOLS:-$HOME/.cache/palisade-tools}"
export PALISADE_ANVIL="${PALISADE_ANVIL:-$tools/node_modules/.bin/anvil}"
cargo build --release --locked -q
bin="$CARGO_TARGET_DIR/release/palisade"
echo "== replay throughput, all bundled mainnet blocks"; "$bin" bench --loops 7
echo "== replay throughput, mev-inspect-py's blocks"; "$bin" bench testdata/mainnet/mev-inspect-20.jsonl.zst --loops 7
echo "== memory over 100,000 blocks"; "$bin" bench --loops 1 --blocks 100000 | sed -n '/memory/,$p'
echo "== live latency, one endpoint"; LATENCY_BLOCKS="${LATENCY_BLOCKS:-1000}" cargo bench --locked -q -p palisade --bench live_latency
echo "== live latency, three endpoints, quorum 2"; LATENCY_ENDPOINTS=3 LATENCY_BLOCKS="${LATENCY_BLOCKS:-1000}" cargo bench --locked -q -p palisade --bench live_latency
echo "== pending transaction -> verdict, simulation guard"; cargo bench --locked -q -p palisade --bench pending_latency
echo "== pending transaction -> verdict, Solidity assertions guard"; PENDING_GUARD=assertions cargo bench --locked -q -p palisade --bench pending_latency
echo "== assertions per transaction, next to revm alone"; cargo bench --locked -q -p palisade-assert --bench assertion_cost
