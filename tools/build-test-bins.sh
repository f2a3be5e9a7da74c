#!/usr/bin/env bash
# Builds the real processes the end-to-end tests and the demo run — etcd, kube-apiserver,
# kube-controller-manager, kubectl, spire-server, spire-agent — with Go from the module proxy,
# at the versions pinned by the go.mod files beside this script, into a cache outside the repo:
#
#   ${NODE_ATTESTOR_CACHE:-${XDG_CACHE_HOME:-~/.cache}/node-attestor}/bin/<component>-<version>/
#
# Idempotent (a finished directory is reused), safe when two runs start at once (one flock per
# component; output built in a temp dir and renamed into place), and it never writes into the repo.
#
# usage: tools/build-test-bins.sh [--print] [component ...]
#   components: kubernetes etcd spire (default: all)
#   --print   do not build; print "<name>=<path>" for every binary, exit 3 if any is missing
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${NODE_ATTESTOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/node-attestor}
print_only=0
components=()
for a in "$@"; do
  case "$a" in
    --print) print_only=1 ;;
    kubernetes | etcd | spire) components+=("$a") ;;
    -h | --help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-test-bins: unknown argument '$a' (want kubernetes, etcd, spire or --print)" >&2; exit 2 ;;
  esac
done
[ ${#components[@]} -gt 0 ] || components=(kubernetes etcd spire)

# The version of module $2 pinned in tools/$1/go.mod (the one source of truth).
pinned() {
  local v
  v=$(awk -v m="$2" '$1 == m && $2 ~ /^v/ { print $2; exit } $1 == "require" && $2 == m { print $3; exit }' "$here/$1/go.mod")
  [ -n "$v" ] || { echo "build-test-bins: no version of $2 in tools/$1/go.mod" >&2; exit 1; }
  echo "$v"
}

# component -> "module dir|version|binaries"
spec() {
  case "$1" in
    kubernetes) echo "k8s|$(pinned k8s k8s.io/kubernetes)|kube-apiserver kube-controller-manager kubectl" ;;
    etcd) echo "etcd|$(pinned etcd go.etcd.io/etcd/server/v3)|etcd" ;;
    spire) echo "spire|$(pinned spire github.com/spiffe/spire)|spire-server spire-agent" ;;
  esac
}

missing=0
for c in "${components[@]}"; do
  IFS='|' read -r _ version bins <<<"$(spec "$c")"
  for b in $bins; do
    p="$cache/bin/$c-$version/$b"
    if [ -x "$p" ]; then echo "$b=$p"; else echo "$b=" ; missing=1; fi
  done
done >"${TMPDIR:-/tmp}/.na-bins.$$"
if [ "$print_only" = 1 ]; then
  cat "${TMPDIR:-/tmp}/.na-bins.$$"; rm -f "${TMPDIR:-/tmp}/.na-bins.$$"
  exit $((missing * 3))
fi
rm -f "${TMPDIR:-/tmp}/.na-bins.$$"

if ! command -v go >/dev/null 2>&1; then
  echo "build-test-bins: Go is not installed (or not on PATH). The end-to-end tests and the demo need" >&2
  echo "  Go >= 1.26 with access to the Go module proxy to build etcd, Kubernetes and SPIRE once." >&2
  echo "  Install Go (https://go.dev/doc/install) and run: npm run test-bins" >&2
  exit 1
fi
export GOTOOLCHAIN=local GOFLAGS=-trimpath

# Kubernetes stamps its version into two packages; the value must match the source tag, because
# it becomes the binary version used for emulation-version checks.
k8s_ldflags() {
  local v=$1 maj min d
  maj=${v#v}; maj=${maj%%.*}
  min=${v#v*.}; min=${min%%.*}
  d=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  local out="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    out+=" -X $p.gitVersion=$v -X $p.gitMajor=$maj -X $p.gitMinor=$min -X $p.gitTreeState=clean -X $p.gitCommit=unknown -X $p.buildDate=$d"
  done
  echo "$out"
}

build_one() {
  local c=$1 moddir version bins
  IFS='|' read -r moddir version bins <<<"$(spec "$c")"
  local dest="$cache/bin/$c-$version"
  mkdir -p "$cache/bin"
  exec 9>"$cache/bin/.$c-$version.lock"
  if ! flock -n 9; then
    echo "build-test-bins: another build of $c $version is running; waiting for it…" >&2
    flock 9
  fi
  if [ -f "$dest/.complete" ]; then
    echo "build-test-bins: $c $version: cached in $dest" >&2
    exec 9>&-
    return 0
  fi
  local tmp
  tmp=$(mktemp -d "$cache/bin/.$c-$version.XXXXXX")
  # shellcheck disable=SC2064
  trap "rm -rf '$tmp'" EXIT
  local cgo=0 ldflags="-s -w" pkgs=()
  case "$c" in
    kubernetes)
      ldflags=$(k8s_ldflags "$version")
      pkgs=(k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kubectl) ;;
    etcd)
      ldflags="-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=$version"
      pkgs=(go.etcd.io/etcd/server/v3) ;;
    spire)
      cgo=1 # the sqlite datastore needs cgo
      pkgs=(github.com/spiffe/spire/cmd/spire-server github.com/spiffe/spire/cmd/spire-agent) ;;
  esac
  echo "build-test-bins: building $c $version ($bins) with $(go env GOVERSION); a cold build takes minutes…" >&2
  local start=$SECONDS timefile="$tmp/.time"
  (
    cd "$here/$moddir"
    go mod download >&2
    for p in "${pkgs[@]}"; do
      local name=${p##*/}
      [ "$p" = go.etcd.io/etcd/server/v3 ] && name=etcd
      echo "build-test-bins:   go build $p" >&2
      if [ -x /usr/bin/time ]; then
        CGO_ENABLED=$cgo /usr/bin/time -f "%M" -a -o "$timefile" go build -ldflags "$ldflags" -o "$tmp/$name" "$p"
      else
        CGO_ENABLED=$cgo go build -ldflags "$ldflags" -o "$tmp/$name" "$p"
      fi
    done
  )
  local peak=""
  [ -f "$timefile" ] && peak=$(sort -n "$timefile" | tail -1)
  {
    echo "component=$c"
    echo "version=$version"
    echo "go=$(go env GOVERSION)"
    echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "seconds=$((SECONDS - start))"
    [ -n "$peak" ] && echo "peak_rss_kib=$peak"
  } >"$tmp/BUILD-INFO"
  rm -f "$timefile"
  touch "$tmp/.complete"
  rm -rf "$dest"
  mv "$tmp" "$dest"
  trap - EXIT
  echo "build-test-bins: $c $version: built in $((SECONDS - start)) s${peak:+, largest process ${peak} KiB} → $dest" >&2
  exec 9>&-
}

for c in "${components[@]}"; do build_one "$c"; done
"$0" --print "${components[@]}"
