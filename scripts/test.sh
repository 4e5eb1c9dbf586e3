#!/usr/bin/env bash
# Palisade's test command: installs what the tests need when missing (anvil, cast and solcjs from npm,
# pinned), points the service-backed tests at this machine's PostgreSQL, then runs every test.
#
#   scripts/test.sh            # everything
#   scripts/test.sh -p palisade-detect   # extra arguments go to `cargo test`
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

FOUNDRY_VERSION=1.7.1
PLAYWRIGHT_VERSION=1.57.0
SOLC_VERSION=0.8.28
tools="${PALISADE_TOOLS:-$HOME/.cache/palisade-tools}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/palisade-target}"

have_version() { [ -x "$1" ] && "$1" --version 2>/dev/null | grep -q "$FOUNDRY_VERSION"; }
if ! have_version "$tools/node_modules/.bin/anvil" || ! have_version "$tools/node_modules/.bin/cast"; then
  echo "installing anvil and cast $FOUNDRY_VERSION from npm into $tools" >&2
  mkdir -p "$tools"
  npm install --no-audit --no-fund --prefix "$tools" \
    "@foundry-rs/anvil-linux-amd64@$FOUNDRY_VERSION" "@foundry-rs/cast-linux-amd64@$FOUNDRY_VERSION" >&2
fi
# playwright-core drives Debian's Chromium in the dashboard's browser tests.
if ! grep -q "\"version\": \"$PLAYWRIGHT_VERSION\"" "$tools/node_modules/playwright-core/package.json" 2>/dev/null; then
  echo "installing playwright-core $PLAYWRIGHT_VERSION from npm into $tools" >&2
  mkdir -p "$tools"
  npm install --no-audit --no-fund --prefix "$tools" \
    "@foundry-rs/anvil-linux-amd64@$FOUNDRY_VERSION" "@foundry-rs/cast-linux-amd64@$FOUNDRY_VERSION" \
    "playwright-core@$PLAYWRIGHT_VERSION" >&2
fi
# solcjs (npm `solc`) compiles the example assertions, as a user compiles theirs.
if ! grep -q "\"version\": \"$SOLC_VERSION\"" "$tools/node_modules/solc/package.json" 2>/dev/null; then
  echo "installing solcjs $SOLC_VERSION from npm into $tools" >&2
  mkdir -p "$tools"
  npm install --no-audit --no-fund --prefix "$tools" "solc@$SOLC_VERSION" >&2
fi
# promtool (Debian's prometheus package) checks and unit-tests deploy/prometheus's alert rules;
# chromium (Debian's) runs the dashboard's browser tests.
missing=()
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
[ -x /usr/bin/chromium ] || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]} (Debian packages)" >&2
  if [ "$(id -u)" = 0 ]; then apt_get="apt-get"; else apt_get="sudo apt-get"; fi
  $apt_get install -y --no-install-recommends "${missing[@]}" >&2 \
    || { $apt_get update >&2 && $apt_get install -y --no-install-recommends "${missing[@]}" >&2; }
fi
export PALISADE_PLAYWRIGHT="${PALISADE_PLAYWRIGHT:-$tools/node_modules/playwright-core}"
export PALISADE_ANVIL="${PALISADE_ANVIL:-$tools/node_modules/.bin/anvil}"
export PALISADE_CAST="${PALISADE_CAST:-$tools/node_modules/.bin/cast}"
export PALISADE_SOLCJS="${PALISADE_SOLCJS:-$tools/node_modules/.bin/solcjs}"
export PALISADE_TEST_POSTGRES_URL="${PALISADE_TEST_POSTGRES_URL:-postgres://root@127.0.0.1:5432/test}"
export PALISADE_TEST_NATS_URL="${PALISADE_TEST_NATS_URL:-nats://127.0.0.1:4222}"
"$PALISADE_ANVIL" --version | head -1 >&2

cargo test --workspace --locked "$@"
