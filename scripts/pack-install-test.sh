#!/usr/bin/env bash
# The npm package installs and runs, for hosts that have Node: `npm pack` (prepack builds the
# bundles), then `npm i -g` of the tarball into an empty temp prefix with --offline (the package
# has no runtime dependencies: the bundles carry them), then the installed commands run under the
# oldest supported Node line (tools/node-runtimes.json). Used by .ci/run (npm run test:pack).
set -euo pipefail
cd "$(dirname "$0")/.."
die() { echo "pack-install-test: $*" >&2; exit 1; }

oldest="$(node -p 'Object.keys(require("./tools/node-runtimes.json").lines).sort((a, b) => a - b)[0]')"
node_bin="$(bash tools/node-runtime.sh "$oldest")"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# npm, the build and the installed commands all run on that Node.
export PATH="$(dirname "$node_bin"):$PATH"

npm pack --silent --pack-destination "$tmp" >/dev/null
tgz="$(ls "$tmp"/node-attestor-*.tgz)"
contents="$(tar -tzf "$tgz")"
for f in package/dist/node-attestor.mjs package/dist/k8s-csr-agent-plugin.mjs package/dist/k8s-csr-server-plugin.mjs; do
  grep -qx "$f" <<<"$contents" || die "$f is not in $(basename "$tgz")"
done
if grep -E '^package/(src|test|bench|node_modules)/' <<<"$contents" >/dev/null; then
  die "$(basename "$tgz") carries sources or tests: $(grep -E '^package/(src|test|bench|node_modules)/' <<<"$contents" | head -3 | tr '\n' ' ')"
fi

# An empty prefix and an empty npm cache: nothing can come from anywhere but the tarball.
npm i -g --prefix "$tmp/prefix" --cache "$tmp/npm-cache" --offline --no-audit --no-fund "$tgz" >/dev/null ||
  die "npm i -g $(basename "$tgz") into an empty prefix, offline, failed"
installed="$tmp/prefix/lib/node_modules/node-attestor"
[ ! -e "$installed/node_modules" ] || die "the installed package pulled dependencies: $(ls "$installed/node_modules")"

"$tmp/prefix/bin/node-attestor" --help | grep -q '^Usage: node-attestor \[flags\]' || die "node-attestor --help"
"$tmp/prefix/bin/node-attestor" approver --help | grep -q '^Usage: node-attestor approver ' ||
  die "node-attestor approver --help"
for plugin in k8s-csr-agent-plugin k8s-csr-server-plugin; do
  # Started as SPIRE starts it; its first stdout line is the go-plugin handshake, then it is stopped.
  exec {out}< <(NodeAttestor=NodeAttestor PLUGIN_PROTOCOL_VERSIONS=1 exec "$tmp/prefix/bin/$plugin" 2>"$tmp/$plugin.log")
  pid=$!
  line=""
  read -r -t 30 line <&"$out" || true
  kill "$pid" 2>/dev/null || true
  exec {out}<&-
  [[ "$line" =~ ^1\|1\|unix\|[^\|]+\|grpc ]] ||
    die "$plugin did not print the go-plugin handshake (got: \"$line\"; stderr: $(tail -c 300 "$tmp/$plugin.log"))"
done
echo "pack-install-test: $(basename "$tgz") ($(du -k "$tgz" | cut -f1) KB) installs offline into an empty prefix and runs on Node $("$node_bin" --version)"
