#!/usr/bin/env bash
# Rebuilds the test contracts' artifacts in testdata/contracts/ with solcjs (npm `solc`, pinned).
# The artifacts are committed; tests never compile.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tools="${PALISADE_TOOLS:-$HOME/.cache/palisade-tools}"
if [ ! -x "$tools/node_modules/.bin/solcjs" ]; then
  npm install --no-audit --no-fund --prefix "$tools" solc@0.8.28 >/dev/null
fi
out=$(mktemp -d)
cd "$root/testdata/contracts/src"
"$tools/node_modules/.bin/solcjs" --bin --abi --optimize -o "$out" Scenario.sol >/dev/null
python3 - "$out" "$root/testdata/contracts" <<'PY'
import json, os, sys
src, dst = sys.argv[1], sys.argv[2]
arts = {}
for f in sorted(os.listdir(src)):
    base, ext = os.path.splitext(f)
    name = base.split("_")[-1]
    arts.setdefault(name, {})
    data = open(os.path.join(src, f)).read()
    if ext == ".bin":
        arts[name]["bytecode"] = "0x" + data.strip()
    elif ext == ".abi":
        arts[name]["abi"] = json.loads(data)
for name, a in arts.items():
    a["compiler"] = "solcjs 0.8.28 --optimize"
    with open(os.path.join(dst, name + ".json"), "w") as fh:
        json.dump(a, fh, indent=1)
    print(name)
PY
rm -rf "$out"
