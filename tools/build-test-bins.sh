#!/usr/bin/env bash
# Builds the real processes the end-to-end tests and the demo run — etcd, kube-apiserver,
# kube-controller-manager, kubectl, kube-scheduler, kubelet, the CNI plugins, spire-server,
# spire-agent — with Go from the module proxy,
# at the versions pinned by the go.mod files beside this script, into a cache outside the repo:
#
#   ${NODE_ATTESTOR_CACHE:-${XDG_CACHE_HOME:-~/.cache}/node-attestor}/bin/<component>-<version>/
#
# Idempotent (a finished directory is reused), safe when two runs start at once (one flock per
# component; output built in a temp dir and renamed into place), and it never writes into the repo.
#
# usage: tools/build-test-bins.sh [--print | --plan] [component ...]
#   components: kubernetes kubernetes-node cni etcd spire (default: all)
#   --print   do not build; print "<name>=<path>" for every binary, exit 3 if any is missing
#   --plan    do not build; print "cache=<dir>" and "missing=<component>" for each one not built
# Before building it runs scripts/prereqs.mjs, which stops at once if Go, gcc, flock or disk space
# is missing. Progress (phase, packages compiled out of total, elapsed) goes to stderr: one
# updating line on a terminal, a plain line every 5 s otherwise (CI=true or not a terminal).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${NODE_ATTESTOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/node-attestor}
print_only=0
plan_only=0
components=()
for a in "$@"; do
  case "$a" in
    --print) print_only=1 ;;
    --plan) plan_only=1 ;;
    kubernetes | kubernetes-node | cni | etcd | spire) components+=("$a") ;;
    -h | --help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-test-bins: unknown argument '$a' (want kubernetes, kubernetes-node, cni, etcd, spire, --print or --plan)" >&2; exit 2 ;;
  esac
done
[ ${#components[@]} -gt 0 ] || components=(kubernetes kubernetes-node cni etcd spire)

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
    # The node's programs: a separate cache entry so that adding them did not rebuild the control
    # plane; same module and version, so the Go build cache makes them cheap after it.
    kubernetes-node) echo "k8s|$(pinned k8s k8s.io/kubernetes)|kubelet kube-scheduler" ;;
    cni) echo "cni|$(pinned cni github.com/containernetworking/plugins)|bridge host-local loopback portmap" ;;
    etcd) echo "etcd|$(pinned etcd go.etcd.io/etcd/server/v3)|etcd" ;;
    spire) echo "spire|$(pinned spire github.com/spiffe/spire)|spire-server spire-agent" ;;
  esac
}

missing=0
unbuilt=()
listing=""
for c in "${components[@]}"; do
  IFS='|' read -r _ version bins <<<"$(spec "$c")"
  built=1
  for b in $bins; do
    p="$cache/bin/$c-$version/$b"
    if [ -x "$p" ]; then listing+="$b=$p"$'\n'; else listing+="$b="$'\n'; missing=1; built=0; fi
  done
  [ "$built" = 1 ] || unbuilt+=("$c")
done
if [ "$print_only" = 1 ]; then
  printf '%s' "$listing"
  exit $((missing * 3))
fi
if [ "$plan_only" = 1 ]; then
  echo "cache=$cache"
  for c in "${unbuilt[@]}"; do echo "missing=$c"; done
  exit 0
fi

# Everything a build needs, checked in a second rather than discovered half an hour in.
node "$here/../scripts/prereqs.mjs" test-bins "${components[@]}" || exit 1
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
    local waited=$SECONDS
    until flock -w 10 9; do
      echo "build-test-bins: still waiting for the other build of $c ($((SECONDS - waited)) s)…" >&2
    done
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
  local cgo=0 ldflags="-s -w" targets=()
  case "$c" in
    kubernetes)
      ldflags=$(k8s_ldflags "$version")
      targets=(kube-apiserver=k8s.io/kubernetes/cmd/kube-apiserver
        kube-controller-manager=k8s.io/kubernetes/cmd/kube-controller-manager
        kubectl=k8s.io/kubernetes/cmd/kubectl) ;;
    kubernetes-node)
      ldflags=$(k8s_ldflags "$version")
      targets=(kubelet=k8s.io/kubernetes/cmd/kubelet
        kube-scheduler=k8s.io/kubernetes/cmd/kube-scheduler) ;;
    cni)
      targets=(bridge=github.com/containernetworking/plugins/plugins/main/bridge
        host-local=github.com/containernetworking/plugins/plugins/ipam/host-local
        loopback=github.com/containernetworking/plugins/plugins/main/loopback
        portmap=github.com/containernetworking/plugins/plugins/meta/portmap) ;;
    etcd)
      ldflags="-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=$version"
      targets=(etcd=go.etcd.io/etcd/server/v3) ;;
    spire)
      cgo=1 # the sqlite datastore needs cgo
      targets=(spire-server=github.com/spiffe/spire/cmd/spire-server
        spire-agent=github.com/spiffe/spire/cmd/spire-agent) ;;
  esac
  echo "build-test-bins: building $c $version ($bins) with $(go env GOVERSION); a cold build takes minutes…" >&2
  local start=$SECONDS timefile="$tmp/.time"
  # Downloads, then one go build per binary, showing progress; on failure it prints the tail of
  # Go's output and exits non-zero (set -e stops here, the trap removes the temp dir).
  (
    cd "$here/$moddir"
    CGO_ENABLED=$cgo node "$here/../scripts/go-build-progress.mjs" --label "$c" --ldflags="$ldflags" \
      --out "$tmp" --timefile "$timefile" "${targets[@]}"
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
