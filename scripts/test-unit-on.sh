#!/usr/bin/env bash
# npm run test:node -- <22|24|26|all>: the unit suite on a pinned Node line (tools/node-runtimes.json,
# installed by tools/node-runtime.sh), without coverage. `npm test` runs it on the shipped line.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 1 ] || { echo "usage: npm run test:node -- <22|24|26|all>" >&2; exit 2; }
node scripts/ensure-deps.mjs
status=0
for node_bin in $(bash tools/node-runtime.sh "$1"); do
  echo "=== unit tests on Node $("$node_bin" --version)"
  # shellcheck disable=SC2046 # one argument per test file
  "$node_bin" --import tsx --test --test-reporter=spec $(node scripts/list-tests.mjs unit) || status=1
done
exit $status
