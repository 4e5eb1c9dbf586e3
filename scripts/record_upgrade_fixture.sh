#!/usr/bin/env bash
# Records testdata/anvil/upgrade-{chain,fork}.jsonl.zst from a real anvil node: OpenZeppelin's
# ERC-1967 proxy over a UUPS implementation (testdata/contracts: OpenUpgradeV1), upgraded to
# OpenUpgradeV2 and then to RiskyUpgradeV2, recorded with the code upgrade_audit asks for; the
# fork replaces the last upgrade with one back to V1. The files are committed; tests never run
# this. Needs anvil, cast (scripts/test.sh installs them) and a built palisade.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tools="${PALISADE_TOOLS:-$HOME/.cache/palisade-tools}"
anvil="${PALISADE_ANVIL:-$tools/node_modules/.bin/anvil}"
cast="${PALISADE_CAST:-$tools/node_modules/.bin/cast}"
target="${CARGO_TARGET_DIR:-$HOME/.cache/palisade-target}"
(cd "$root" && cargo build --locked -q -p palisade)
palisade="$target/debug/palisade"
port=18646
rpc="http://127.0.0.1:$port"
a0=0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266
a1=0x70997970c51812dc3a010c7d01b50e0d17dc79c8
"$anvil" --port "$port" --silent --timestamp 1700000000 --no-mining &
pid=$!
cfg=$(mktemp)
trap 'kill $pid 2>/dev/null; rm -f "$cfg"' EXIT
for _ in $(seq 50); do "$cast" chain-id --rpc-url "$rpc" >/dev/null 2>&1 && break; sleep 0.1; done
"$cast" rpc --rpc-url "$rpc" anvil_setBlockTimestampInterval 1 >/dev/null
mine() { "$cast" rpc --rpc-url "$rpc" evm_mine >/dev/null; }
art() { python3 -c "import json;print(json.load(open('$root/testdata/contracts/$1.json'))['bytecode'])"; }
deploy() { # deploy ARTIFACT [CTOR ARGS...] -> address
  local name=$1; shift
  local code; code=$(art "$name")
  if [ $# -gt 0 ]; then code="$code$("$cast" abi-encode "$@" | cut -c3-)"; fi
  local h; h=$("$cast" send --rpc-url "$rpc" --unlocked --from $a0 --async --gas-limit 5000000 --create "$code")
  mine
  "$cast" receipt --rpc-url "$rpc" "$h" contractAddress
}
upgrade() { "$cast" send --rpc-url "$rpc" --unlocked --from $a1 --async "$proxy" "upgradeToAndCall(address,bytes)" "$1" 0x >/dev/null; mine; }
v1=$(deploy OpenUpgradeV1)                               # block 1
proxy=$(deploy ScenarioProxy "f(address)" "$v1")         # block 2: Upgraded(V1)
v2=$(deploy OpenUpgradeV2)                               # block 3
risky=$(deploy RiskyUpgradeV2)                           # block 4
upgrade "$v2"                                            # block 5: V1 -> V2
upgrade "$risky"                                         # block 6: V2 -> risky
mine; mine                                               # blocks 7, 8
head=$("$cast" block-number --rpc-url "$rpc")
printf '[[detectors]]\ntype = "upgrade_audit"\n' > "$cfg"
mkdir -p "$root/testdata/anvil"
"$palisade" record --rpc "$rpc" --from 1 --to "$head" --config "$cfg" \
  -o "$root/testdata/anvil/upgrade-chain.jsonl.zst"
# The fork: blocks 6.. replaced; the proxy (running V2) goes back to V1 instead.
back=$("$cast" calldata "upgradeToAndCall(address,bytes)" "$v1" 0x)
"$cast" rpc --rpc-url "$rpc" anvil_reorg 3 \
  "[[{\"from\":\"$a1\",\"to\":\"$proxy\",\"data\":\"$back\",\"gas\":\"0x100000\"},0]]" >/dev/null
mine
new_head=$("$cast" block-number --rpc-url "$rpc")
"$palisade" record --rpc "$rpc" --from $((head - 2)) --to "$new_head" --config "$cfg" \
  -o "$root/testdata/anvil/upgrade-fork.jsonl.zst"
echo "proxy $proxy: V1 $v1, V2 $v2, risky $risky; chain 1..$head, fork $((head - 2))..$new_head"
