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

# ---------------------------------------------------------------------------------------------
# The DeFi fixture: a chain where every execution-layer detector has something to say, recorded
# with what testdata/anvil/defi.toml's detectors need (view calls, new contracts' code), and a
# competing fork of its last blocks.
kill $pid 2>/dev/null || true
wait $pid 2>/dev/null || true
"$anvil" --port "$port" --silent --timestamp 1700000000 --no-mining &
pid=$!
for _ in $(seq 50); do "$cast" chain-id --rpc-url "$rpc" >/dev/null 2>&1 && break; sleep 0.1; done
"$cast" rpc --rpc-url "$rpc" anvil_setBlockTimestampInterval 1 >/dev/null
a3=0x90f79bf6eb2c4f870365e785982e1f101e93b906
a5=0x9965507d1a55bcc2695c58ba16fb37d819b0a4dc
a9=0xa0ee7a142d267c1f36714e4a8f75612f20a79720
deploy() { # deploy FROM ARTIFACT [CTOR ARGS...] -> address
  local from=$1 name=$2; shift 2
  local code; code=$(art "$name")
  if [ $# -gt 0 ]; then code="$code$("$cast" abi-encode "$@" | cut -c3-)"; fi
  local h; h=$("$cast" send --rpc-url "$rpc" --unlocked --from "$from" --async --gas-limit 5000000 --create "$code")
  mine
  "$cast" receipt --rpc-url "$rpc" "$h" contractAddress
}
e18=000000000000000000
token=$(deploy $a0 TestToken "f(string,string,uint256)" Stake STK 1000000$e18)
feed=$(deploy $a0 PriceFeed "f(uint8,string,int256)" 8 "ETH / USD" 200000000000)
vault=$(deploy $a0 StakeVault "f(address,uint256)" "$token" 100$e18)
pool=$(deploy $a0 MiniLendingPool)
treasury=$(deploy $a0 Treasury)
hijacker=$(deploy $a3 Hijacker)
send $a0 "$token" "transfer(address,uint256)" "$vault" 1000$e18
send $a0 "$token" "transfer(address,uint256)" "$pool" 1000$e18
send $a0 "$token" "transfer(address,uint256)" $a1 100$e18
send $a0 "$token" "approve(address,uint256)" "$pool" 1000000$e18
start=$(( $("$cast" block-number --rpc-url "$rpc") + 1 ))
for _ in 1 2 3; do send $a1 "$vault" "withdraw(uint256)" 80$e18; done       # window drain
send $a0 "$feed" "update(int256)" 160000000000                               # a 20 % drop
send $a0 "$pool" "liquidationCall(address,address,address,uint256,bool)" "$token" "$token" $a2 10$e18 false
send $a9 $a3 --value 5ether                                                  # labelled funder
exploiter=$(deploy $a3 FlashExploiter "f(address)" "$vault")                 # risky deployment
send $a3 "$exploiter" "attack(uint256,uint256)" 100$e18 300$e18              # flash-loan drain
send $a3 "$hijacker" "hijack(address)" "$treasury"                           # hijack, internal call
send $a0 "$feed" "update(int256)" 200000000000                               # recovery
now=$("$cast" block latest --rpc-url "$rpc" -f timestamp)                     # stale feed:
"$cast" rpc --rpc-url "$rpc" evm_setNextBlockTimestamp $((now + 4000)) >/dev/null; mine # 4,000 s on
send $a0 "$feed" "update(int256)" 150000000000                               # drop, no liquidation
mine; mine; mine; mine
head=$("$cast" block-number --rpc-url "$rpc")
cat > "$root/testdata/anvil/defi.toml" <<TOML
# The detectors of the DeFi fixture (scripts/record_fixtures.sh); addresses are anvil's
# deterministic deployment addresses. The conformance suite runs each of them.
[[chains]]
name = "anvil"
chain_id = 31337
endpoints = [{ url = "$rpc" }]

[[detectors]]
type = "oracle"
name = "feed"
feeds = [{ address = "$feed", label = "ETH/USD", heartbeat_secs = 3600 }]

[[detectors]]
type = "liquidity_drain"
name = "vault"
contracts = ["$vault"]
tokens = [{ token = "$token", label = "STK", max_outflow_pct = 20 }]
window_blocks = 5

[[detectors]]
type = "contract_deployment"
watched = ["$vault"]
labelled = ["$a9"]

[[detectors]]
type = "liquidation_health"
name = "pool"
markets = ["$pool"]
feed = "$feed"
drop_pct = 15
window_blocks = 20
grace_blocks = 3

[[detectors]]
type = "admin_call"
name = "treasury"
contracts = ["$treasury"]
functions = ["initialize(address newOwner)"]
allowed_callers = ["$a0"]
TOML
"$palisade" record --rpc "$rpc" --from "$start" --to "$head" --config "$root/testdata/anvil/defi.toml" \
  -o "$root/testdata/anvil/defi-chain.jsonl.zst"
# The fork: the last 5 blocks replaced by 6 where the drop is answered by a liquidation.
liq=$("$cast" calldata "liquidationCall(address,address,address,uint256,bool)" "$token" "$token" $a2 1$e18 false)
upd=$("$cast" calldata "update(int256)" 150000000000)
"$cast" rpc --rpc-url "$rpc" anvil_reorg 5 \
  "[[{\"from\":\"$a0\",\"to\":\"$feed\",\"data\":\"$upd\",\"gas\":\"0x100000\"},0],[{\"from\":\"$a0\",\"to\":\"$pool\",\"data\":\"$liq\",\"gas\":\"0x100000\"},1]]" >/dev/null
mine; mine; mine
new_head=$("$cast" block-number --rpc-url "$rpc")
"$palisade" record --rpc "$rpc" --from $((head - 4)) --to "$new_head" --config "$root/testdata/anvil/defi.toml" \
  -o "$root/testdata/anvil/defi-fork.jsonl.zst"
echo "defi chain $start..$head, fork $((head - 4))..$new_head (fork point $((head - 5)))"
