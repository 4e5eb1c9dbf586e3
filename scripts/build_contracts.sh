#!/usr/bin/env bash
# Rebuilds the test contracts' artifacts in testdata/contracts/ with solcjs (npm `solc`, pinned),
# against OpenZeppelin Contracts (npm, pinned), and copies the Uniswap V2 artifacts from their npm
# packages (pinned), the example assertions of examples/assertions, into testdata/contracts/uniswap/ (with Uniswap V3's factory), and 0x v3's Exchange and ERC20Proxy from npm
# @0x/contract-artifacts into testdata/contracts/zeroex/. The artifacts are committed; tests never
# compile.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tools="${PALISADE_TOOLS:-$HOME/.cache/palisade-tools}"
need() { [ -e "$tools/node_modules/$1/package.json" ] && grep -q "\"version\": \"$2\"" "$tools/node_modules/$1/package.json"; }
pkgs=()
need solc 0.8.28 || pkgs+=(solc@0.8.28)
need @openzeppelin/contracts 5.1.0 || pkgs+=(@openzeppelin/contracts@5.1.0)
need @uniswap/v2-core 1.0.1 || pkgs+=(@uniswap/v2-core@1.0.1)
need @uniswap/v2-periphery 1.1.0-beta.0 || pkgs+=(@uniswap/v2-periphery@1.1.0-beta.0)
need @0x/contract-artifacts 3.18.1 || pkgs+=(@0x/contract-artifacts@3.18.1)
need @uniswap/v3-core 1.0.1 || pkgs+=(@uniswap/v3-core@1.0.1)
need @pancakeswap/v3-core 1.0.2 || pkgs+=(@pancakeswap/v3-core@1.0.2)
if [ ${#pkgs[@]} -gt 0 ]; then
  npm install --no-audit --no-fund --prefix "$tools" "${pkgs[@]}" >/dev/null
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cd "$root/testdata/contracts/src"
for src in Scenario.sol Defi.sol Defense.sol V3.sol Upgrade.sol Manipulation.sol; do
  "$tools/node_modules/.bin/solcjs" --bin --abi --optimize --base-path . \
    --include-path "$tools/node_modules" -o "$out" "$src" 2>&1 | grep -v '^$' | grep -iv 'selfdestruct\|^ *-->\|^ *|\|EIP-6780' || true
done
# The example assertions (examples/assertions), compiled the same way.
cd "$root/examples/assertions"
"$tools/node_modules/.bin/solcjs" --bin --abi --optimize --base-path . -o "$out" Examples.sol 2>&1 | grep -v '^$' || true
python3 - "$out" "$root/testdata/contracts" "$tools/node_modules" <<'PY'
import json, os, sys
src, dst, nm = sys.argv[1], sys.argv[2], sys.argv[3]
arts = {}
for f in sorted(os.listdir(src)):
    base, ext = os.path.splitext(f)
    # Only the contracts of our own source files (OpenZeppelin's are compiled into them).
    for unit, compiler in (("Scenario_sol_", "solcjs 0.8.28 --optimize"),
                           ("Defi_sol_", "solcjs 0.8.28 --optimize, OpenZeppelin Contracts 5.1.0"),
                           ("Defense_sol_", "solcjs 0.8.28 --optimize, OpenZeppelin Contracts 5.1.0"),
                           ("V3_sol_", "solcjs 0.8.28 --optimize, OpenZeppelin Contracts 5.1.0"),
                           ("Upgrade_sol_", "solcjs 0.8.28 --optimize, OpenZeppelin Contracts 5.1.0"),
                           ("Manipulation_sol_", "solcjs 0.8.28 --optimize, OpenZeppelin Contracts 5.1.0"),
                           ("Examples_sol_", "solcjs 0.8.28 --optimize (examples/assertions)")):
        if base.startswith(unit):
            name = base[len(unit):]
            break
    else:
        continue
    data = open(os.path.join(src, f)).read()
    a = arts.setdefault(name, {"compiler": compiler})
    if ext == ".bin":
        a["bytecode"] = "0x" + data.strip()
    elif ext == ".abi":
        a["abi"] = json.loads(data)
for name, a in sorted(arts.items()):
    if a.get("bytecode", "0x") == "0x":
        continue  # interfaces and abstract contracts
    with open(os.path.join(dst, name + ".json"), "w") as fh:
        json.dump(a, fh, indent=1)
    print(name)
os.makedirs(os.path.join(dst, "uniswap"), exist_ok=True)
for pkg, name in [("@uniswap/v2-core", "UniswapV2Factory"), ("@uniswap/v2-core", "UniswapV2Pair"),
                  ("@uniswap/v2-periphery", "UniswapV2Router02"), ("@uniswap/v2-periphery", "WETH9")]:
    v = json.load(open(os.path.join(nm, pkg, "build", name + ".json")))
    version = json.load(open(os.path.join(nm, pkg, "package.json")))["version"]
    art = {"abi": v["abi"], "bytecode": "0x" + v["bytecode"].removeprefix("0x"),
           "compiler": f"as published in npm {pkg}@{version} (build/{name}.json)"}
    with open(os.path.join(dst, "uniswap", name + ".json"), "w") as fh:
        json.dump(art, fh, indent=1)
    print("uniswap/" + name)
# Uniswap V3's factory, as Uniswap published it (BUSL-1.1, GPL-2.0-or-later since its change
# date): its creation code carries the pool's, which it deploys for each pair and fee.
v = json.load(open(os.path.join(nm, "@uniswap/v3-core/artifacts/contracts/UniswapV3Factory.sol/UniswapV3Factory.json")))
art = {"abi": v["abi"], "bytecode": v["bytecode"],
       "origin": "npm @uniswap/v3-core 1.0.1, artifacts/contracts/UniswapV3Factory.sol/UniswapV3Factory.json: abi and creation bytecode, unchanged"}
with open(os.path.join(dst, "uniswap", "UniswapV3Factory.json"), "w") as fh:
    json.dump(art, fh, indent=1)
print("uniswap/UniswapV3Factory")
# PancakeSwap V3's pool, as PancakeSwap published it (GPL-2.0-or-later): deployed in tests by
# V3.sol's PoolDeployer.
v = json.load(open(os.path.join(nm, "@pancakeswap/v3-core/artifacts/contracts/PancakeV3Pool.sol/PancakeV3Pool.json")))
art = {"abi": v["abi"], "bytecode": v["bytecode"],
       "origin": "npm @pancakeswap/v3-core 1.0.2 (GPL-2.0-or-later), artifacts/contracts/PancakeV3Pool.sol/PancakeV3Pool.json: abi and creation bytecode, unchanged"}
os.makedirs(os.path.join(dst, "pancakeswap"), exist_ok=True)
with open(os.path.join(dst, "pancakeswap", "PancakeV3Pool.json"), "w") as fh:
    json.dump(art, fh, indent=1)
print("pancakeswap/PancakeV3Pool")
# 0x v3's Exchange and ERC20Proxy, as 0x published them (Apache-2.0).
os.makedirs(os.path.join(dst, "zeroex"), exist_ok=True)
for name in ["Exchange", "ERC20Proxy"]:
    d = json.load(open(os.path.join(nm, "@0x/contract-artifacts/lib/artifacts", name + ".json")))
    art = {"abi": d["compilerOutput"]["abi"], "bytecode": d["compilerOutput"]["evm"]["bytecode"]["object"],
           "origin": "npm @0x/contract-artifacts 3.18.1 (Apache-2.0), lib/artifacts/%s.json: abi and creation bytecode, unchanged" % name,
           "compiler": d["compiler"]["name"] + " " + d["compiler"]["version"]}
    with open(os.path.join(dst, "zeroex", name + ".json"), "w") as fh:
        json.dump(art, fh, indent=1)
    print("zeroex/" + name)
PY
