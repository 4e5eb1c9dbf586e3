#!/usr/bin/env bash
# Records the anvil fixtures in testdata/anvil/ from a real anvil node: a chain where watched
# storage slots (a vault's owner, with an event; a proxy's EIP-1967 implementation, without one),
# a balance and the code at an address change, with eth_getProof of those accounts at every
# block, and a competing fork of its last blocks (made with anvil_reorg).
# The files are committed; tests never run this. Needs anvil, cast (scripts/test.sh installs
# them) and a built palisade.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tools="${PALISADE_TOOLS:-$HOME/.cache/palisade-tools}"
anvil="${PALISADE_ANVIL:-$tools/node_modules/.bin/anvil}"
cast="${PALISADE_CAST:-$tools/node_modules/.bin/cast}"
target="${CARGO_TARGET_DIR:-$HOME/.cache/palisade-target}"
(cd "$root" && cargo build --locked -q -p palisade)
palisade="$target/debug/palisade"
port=18645
rpc="http://127.0.0.1:$port"
a0=0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266
a1=0x70997970c51812dc3a010c7d01b50e0d17dc79c8
a2=0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc
# A fixed genesis timestamp and one-second blocks: the same bytes on every run.
"$anvil" --port "$port" --silent --timestamp 1700000000 --no-mining &
pid=$!
trap 'kill $pid 2>/dev/null' EXIT
for _ in $(seq 50); do "$cast" chain-id --rpc-url "$rpc" >/dev/null 2>&1 && break; sleep 0.1; done
"$cast" rpc --rpc-url "$rpc" anvil_setBlockTimestampInterval 1 >/dev/null
mine() { "$cast" rpc --rpc-url "$rpc" evm_mine >/dev/null; }
send() { local from=$1; shift; "$cast" send --rpc-url "$rpc" --unlocked --async --from "$from" "$@" >/dev/null; mine; }

art() { python3 -c "import json;print(json.load(open('$root/testdata/contracts/$1.json'))['bytecode'])"; }
create() { "$cast" send --rpc-url "$rpc" --unlocked --from $a0 --async --create "$@" >/dev/null; mine; }
# Every change is made by a transaction: anvil's anvil_set* cheat codes leave its state roots
# inconsistent with its proofs (Palisade reports those blocks as failing verification).
create "$(art Vault)"                                           # block 1
vault=0x5fbdb2315678afecb367f032d93f642f64180aa3
create "$(art QuietProxy)$("$cast" abi-encode "f(address)" $vault | cut -c3-)"   # block 2
proxy=0xe7f1725e7734ce288f8367e1bb143e90bb3f0512
# An address watched before anything is deployed there (a CREATE address of account 0).
future=$("$cast" compute-address $a0 --nonce 3 | awk '{print $NF}')
for i in $(seq 3 13); do
  case $i in
    5) send $a1 $proxy --value 1ether ;;                               # balance
    7) send $a0 $proxy "upgradeTo(address)" $a2 ;;                     # EIP-1967 slot, no event
    9) send $a1 $vault "setOwner(address)" $a2 ;;                      # owner slot, with an event
    11) create "$(art Attacker)" ;;                                    # code at the watched address
    *) send $a1 $vault "poke(uint256)" $i ;;
  esac
done
head=$("$cast" block-number --rpc-url "$rpc")
mkdir -p "$root/testdata/anvil"
proofs=(--proof "$vault:0,1" --proof "$proxy:eip1967.implementation,0" --proof "$future")
"$palisade" record --rpc "$rpc" --from 1 --to "$head" "${proofs[@]}" \
  -o "$root/testdata/anvil/vault-chain.jsonl.zst"
# The fork: the last 4 blocks replaced by 5 others, where the proxy is upgraded elsewhere.
upgrade=$("$cast" calldata "upgradeTo(address)" $a1)
"$cast" rpc --rpc-url "$rpc" anvil_reorg 4 \
  "[[{\"from\":\"$a0\",\"to\":\"$proxy\",\"data\":\"$upgrade\",\"gas\":\"0x100000\"},1]]" >/dev/null
mine
new_head=$("$cast" block-number --rpc-url "$rpc")
"$palisade" record --rpc "$rpc" --from $((head - 3)) --to "$new_head" "${proofs[@]}" \
  -o "$root/testdata/anvil/vault-fork.jsonl.zst"
echo "vault $vault, proxy $proxy, watched future address $future"
echo "chain 1..$head, fork $((head - 3))..$new_head (fork point $((head - 4)))"
