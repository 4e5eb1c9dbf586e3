#!/usr/bin/env bash
# Records testdata/anvil/assertions-{chain,fork}.jsonl.zst from a real anvil node: the defense
# scenario's GuardedVault (testdata/contracts) with 10 ether deposited, a depositor's redemption
# of 2 ether (which breaks no assertion), then VaultDrainer taking the rest through migrate()
# (which breaks the share price and the outflow bound), recorded with testdata/anvil/
# assertions.toml, so each block that reaches the vault carries the proven state before it. The
# fork replaces the drain's block and those after it with a redemption of 1 ether. The files are
# committed; tests never run this. Needs anvil, cast (scripts/test.sh installs them) and a built
# palisade.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tools="${PALISADE_TOOLS:-$HOME/.cache/palisade-tools}"
anvil="${PALISADE_ANVIL:-$tools/node_modules/.bin/anvil}"
cast="${PALISADE_CAST:-$tools/node_modules/.bin/cast}"
target="${CARGO_TARGET_DIR:-$HOME/.cache/palisade-target}"
(cd "$root" && cargo build --locked -q -p palisade)
palisade="$target/debug/palisade"
port=18647
rpc="http://127.0.0.1:$port"
a0=0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266 # depositor (and the vault's deployer)
a1=0x70997970c51812dc3a010c7d01b50e0d17dc79c8 # attacker
a2=0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc # guardian
"$anvil" --port "$port" --silent --timestamp 1700000000 --no-mining &
pid=$!
trap 'kill $pid 2>/dev/null' EXIT
for _ in $(seq 50); do "$cast" chain-id --rpc-url "$rpc" >/dev/null 2>&1 && break; sleep 0.1; done
"$cast" rpc --rpc-url "$rpc" anvil_setBlockTimestampInterval 1 >/dev/null
mine() { "$cast" rpc --rpc-url "$rpc" evm_mine >/dev/null; }
art() { python3 -c "import json;print(json.load(open('$root/testdata/contracts/$1.json'))['bytecode'])"; }
deploy() { # deploy FROM ARTIFACT [CTOR ARGS...] -> address
  local from=$1 name=$2; shift 2
  local code; code=$(art "$name")
  if [ $# -gt 0 ]; then code="$code$("$cast" abi-encode "$@" | cut -c3-)"; fi
  local h; h=$("$cast" send --rpc-url "$rpc" --unlocked --from "$from" --async --gas-limit 5000000 --create "$code")
  mine
  "$cast" receipt --rpc-url "$rpc" "$h" contractAddress
}
send() { "$cast" send --rpc-url "$rpc" --unlocked --async --gas-limit 1000000 "$@" >/dev/null; mine; }
# Block 1 is empty: anvil's genesis header carries the empty trie's root, not its state's, so
# the state before block 1 cannot be proven.
mine                                                          # block 1
vault=$(deploy $a0 GuardedVault "f(address)" $a2)             # block 2
send --from $a0 --value 10ether "$vault" "deposit()"          # block 3
drainer=$(deploy $a1 VaultDrainer)                            # block 4
send --from $a0 "$vault" "redeem(uint256)" 2000000000000000000 # block 5: holds
send --from $a1 "$drainer" "run(address)" "$vault"            # block 6: the drain
mine; mine                                                    # blocks 7, 8
head=$("$cast" block-number --rpc-url "$rpc")
cfg="$root/testdata/anvil/assertions.toml"
grep -qi "contract = \"$vault\"" "$cfg" || { echo "the vault is at $vault, not where $cfg says" >&2; exit 1; }
"$palisade" record --rpc "$rpc" --from 1 --to "$head" --config "$cfg" \
  -o "$root/testdata/anvil/assertions-chain.jsonl.zst"
# The fork: blocks 6.. replaced; the depositor redeems 1 ether instead of the drain.
redeem=$("$cast" calldata "redeem(uint256)" 1000000000000000000)
"$cast" rpc --rpc-url "$rpc" anvil_reorg 3 \
  "[[{\"from\":\"$a0\",\"to\":\"$vault\",\"data\":\"$redeem\",\"gas\":\"0x100000\"},0]]" >/dev/null
mine
new_head=$("$cast" block-number --rpc-url "$rpc")
"$palisade" record --rpc "$rpc" --from $((head - 2)) --to "$new_head" --config "$cfg" \
  -o "$root/testdata/anvil/assertions-fork.jsonl.zst"
echo "vault $vault, drainer $drainer; chain 1..$head, fork $((head - 2))..$new_head"
