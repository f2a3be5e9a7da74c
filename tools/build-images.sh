#!/usr/bin/env bash
# Builds the container images — node-attestor, spire-server and spire-agent with the k8s_csr
# and k8s_pod_cert plugins — with buildah, no daemon and no registry: every Dockerfile (images/<name>/) is FROM
# scratch and copies a root filesystem that tools/image-rootfs.sh assembles from this machine's
# files (the executables and exactly the glibc libraries they link). Each image is kept as an OCI
# archive in a cache outside the repo, keyed by the content hash of everything that goes into it:
#
#   ${NODE_ATTESTOR_CACHE:-${XDG_CACHE_HOME:-~/.cache}/node-attestor}/images/<name>-<key>/image.oci.tar
#
# Idempotent (an archive whose inputs have not changed is reused), one run at a time (flock),
# output built in a temp dir and renamed into place; it never writes into the repo.
#
# usage: tools/build-images.sh [--print | --context DIR] [image ...]
#   images: node-attestor spire-server spire-agent pause (default: all)
#   pause: the test node's pod sandbox image, our own tools/pause/main.go built static with Go
#   --print        do not build; print "<image>=<archive>" for each, exit 3 if any is not built
#   --context DIR  do not build; write each image's build context (Dockerfile + rootfs/) into
#                  DIR/<image>/ for `docker build` / `podman build` (needs no buildah)
# Needs dist/node-attestor (npm run build) and, for the SPIRE images, spire-server/spire-agent
# (npm run test-bins); `npm run images` does all three. Progress goes to stderr; stdout has one
# "<image>=<archive>" line per image, then the sizes.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
cache=${NODE_ATTESTOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/node-attestor}
store=$cache/images
say() { echo "build-images: $*" >&2; }
die() { say "$*"; exit 1; }

print_only=0
context_dir=""
images=()
while [ $# -gt 0 ]; do
  case "$1" in
    --print) print_only=1 ;;
    --context) [ $# -ge 2 ] || die "--context needs a directory"; context_dir=$2; shift ;;
    node-attestor | spire-server | spire-agent | pause) images+=("$1") ;;
    -h | --help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-images: unknown argument '$1' (want node-attestor, spire-server, spire-agent, pause, --print or --context DIR)" >&2; exit 2 ;;
  esac
  shift
done
[ ${#images[@]} -gt 0 ] || images=(node-attestor spire-server spire-agent pause)

version=$(node -p 'require(process.argv[1]).version' "$repo/package.json")
exe=$repo/dist/node-attestor

# The SPIRE binaries as tools/build-test-bins.sh built them (the one place that knows where),
# looked up once, before anything else, for the images that need them.
declare -A spire_bins=()
for name in "${images[@]}"; do
  case "$name" in spire-*) ;; *) continue ;; esac
  line=$(bash "$here/build-test-bins.sh" --print spire | grep "^$name=" || true)
  [ -n "${line#*=}" ] || die "$name is not built: run npm run test-bins (or bash tools/build-test-bins.sh spire)"
  spire_bins[$name]=${line#*=}
done
spire_bin() { echo "${spire_bins[$1]}"; }
spire_version() { basename "$(dirname "$1")" | sed 's/^spire-v//'; }

# The pause executable, built from tools/pause by Go into a directory keyed by its source, so a
# changed source is a new file (and so a new image key) and an unchanged one is never rebuilt.
pause_src=$here/pause
pause_bin=""
for name in "${images[@]}"; do
  [ "$name" != pause ] || pause_bin=$store/.bin/pause-$(cat "$pause_src/go.mod" "$pause_src/main.go" | sha256sum | cut -c1-16)/pause
done
build_pause() {
  [ -x "$pause_bin" ] && return 0
  command -v go >/dev/null || die "pause: Go is needed to build tools/pause (https://go.dev/dl)"
  local tmpd
  mkdir -p "$store/.bin"
  tmpd=$(mktemp -d "$store/.bin/.pause.XXXXXX")
  say "pause: building tools/pause with Go (static)…"
  # Static, so the image holds one file and no libraries; -trimpath keeps this machine's paths out.
  if ! (cd "$pause_src" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags='-s -w' -o "$tmpd/pause" .) >&2; then
    rm -rf "$tmpd"
    die "pause: go build in tools/pause failed (above)"
  fi
  mkdir -p "$(dirname "$pause_bin")"
  mv "$tmpd/pause" "$pause_bin"
  rm -rf "$tmpd"
}

# image -> its tag, and the rootfs specs tools/image-rootfs.sh takes.
ref_of() {
  case "$1" in
    node-attestor) echo "localhost/node-attestor:$version" ;;
    spire-server | spire-agent) echo "localhost/$1:$(spire_version "$(spire_bin "$1")")-k8s-csr-$version" ;;
    pause) echo "localhost/pause:$version" ;;
  esac
}
specs_of() {
  case "$1" in
    node-attestor)
      echo "exe:/usr/local/bin/node-attestor=$exe"
      echo "file:/usr/local/bin/node-attestor.sha256=$exe.sha256"
      echo "link:/usr/local/bin/k8s-csr-agent-plugin=node-attestor"
      echo "link:/usr/local/bin/k8s-csr-server-plugin=node-attestor"
      echo "link:/usr/local/bin/k8s-pod-cert-agent-plugin=node-attestor"
      echo "link:/usr/local/bin/k8s-pod-cert-server-plugin=node-attestor"
      ;;
    spire-server | spire-agent)
      local role=${1#spire-}
      echo "exe:/opt/spire/bin/$1=$(spire_bin "$1")"
      echo "exe:/opt/spire/plugins/node-attestor=$exe"
      echo "file:/opt/spire/plugins/node-attestor.sha256=$exe.sha256"
      echo "link:/opt/spire/plugins/k8s-csr-$role-plugin=node-attestor"
      echo "link:/opt/spire/plugins/k8s-pod-cert-$role-plugin=node-attestor"
      ;;
    pause) echo "exe:/pause=$pause_bin" ;;
  esac
}

# Every image but pause holds the node-attestor executable.
needs_exe=0
for name in "${images[@]}"; do [ "$name" = pause ] || needs_exe=1; done
[ "$needs_exe" = 0 ] || { [ -x "$exe" ] && [ -f "$exe.sha256" ]; } || die "$exe is missing: run npm run build first"

# The cache key: the plan (paths, modes, sources), the content of every source file, the
# Dockerfile and the two scripts that make the image.
key_of() {
  local name=$1 plan
  mapfile -t specs < <(specs_of "$name")
  plan=$(bash "$here/image-rootfs.sh" plan "${specs[@]}")
  {
    printf '%s\n' "$plan" | cut -f1-3
    printf '%s\n' "$plan" | awk -F'\t' '$1 == "file" { print $4 }' | xargs -r -d '\n' sha256sum | cut -d' ' -f1
    sha256sum "$repo/images/$name/Dockerfile" "$here/image-rootfs.sh" "$0" | cut -d' ' -f1
    ref_of "$name"
  } | sha256sum | cut -c1-16
}

if [ -n "$context_dir" ]; then
  for name in "${images[@]}"; do
    [ "$name" != pause ] || build_pause
    mapfile -t specs < <(specs_of "$name")
    rm -rf "${context_dir:?}/$name"
    mkdir -p "$context_dir/$name"
    bash "$here/image-rootfs.sh" assemble "$context_dir/$name/rootfs" "${specs[@]}"
    cp "$repo/images/$name/Dockerfile" "$context_dir/$name/Dockerfile"
    say "$name: build context in $context_dir/$name (docker build -t $(ref_of "$name") $context_dir/$name)"
  done
  exit 0
fi

# Sizes as a person compares them: MB of 10^6 bytes, one decimal.
mb() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1e6 }'; }
report() { # <name> <dir>
  local info=$2/info
  echo "$1=$2/image.oci.tar"
  say "$1: $(sed -n 's/^ref=//p' "$info"), archive $(mb "$(sed -n 's/^archive_bytes=//p' "$info")") (compressed), unpacked $(mb "$(sed -n 's/^unpacked_bytes=//p' "$info")") in $(sed -n 's/^files=//p' "$info") files"
}

if [ "$print_only" = 1 ]; then
  missing=0
  for name in "${images[@]}"; do
    # pause is keyed by its executable, which exists only once built.
    if [ "$name" = pause ] && [ ! -x "$pause_bin" ]; then echo "pause="; missing=1; continue; fi
    dir=$store/$name-$(key_of "$name")
    if [ -f "$dir/.complete" ]; then echo "$name=$dir/image.oci.tar"; else echo "$name="; missing=1; fi
  done
  exit $((missing * 3))
fi

# buildah and flock, each named with how to get it (scripts/prereqs.mjs knows them).
node "$repo/scripts/prereqs.mjs" images || exit 1
[ "$(id -u)" = 0 ] || die "buildah's chroot isolation needs root here (this is uid $(id -u))"

mkdir -p "$store"
exec 9>"$store/.lock"
if ! flock -n 9; then
  say "another image build is running; waiting for it…"
  flock 9
fi
buildah_=(buildah --storage-driver vfs --root "$store/.buildah/root" --runroot "$store/.buildah/run")
tmp=$(mktemp -d "$store/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# Older builds of an image are superseded, but not dropped at once: the build is not
# byte-reproducible, so two checkouts (a CI clone beside a dev tree) key the same image
# differently, and one's build must not delete the archive the other's tests are importing.
# The KEEP most recently built or used stay.
KEEP=3
prune_older() {
  find "$store" -maxdepth 1 -name "$1-*" -type d -printf '%T@ %p\n' | sort -rn | tail -n +$((KEEP + 1)) |
    cut -d' ' -f2- | while IFS= read -r old; do rm -rf "$old"; done
}

for name in "${images[@]}"; do
  started=$SECONDS
  [ "$name" != pause ] || build_pause
  key=$(key_of "$name")
  dir=$store/$name-$key
  ref=$(ref_of "$name")
  if [ -f "$dir/.complete" ]; then
    touch "$dir" # in use: prune_older keeps the most recently used
    say "$name: cached in $dir"
    report "$name" "$dir"
    continue
  fi
  say "$name: assembling the root filesystem…"
  mapfile -t specs < <(specs_of "$name")
  ctx=$tmp/$name
  mkdir -p "$ctx"
  bash "$here/image-rootfs.sh" assemble "$ctx/rootfs" "${specs[@]}"
  cp "$repo/images/$name/Dockerfile" "$ctx/Dockerfile"
  unpacked=$(find "$ctx/rootfs" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
  files=$(find "$ctx/rootfs" ! -type d | wc -l)
  say "$name: building $ref with buildah ($(mb "$unpacked") to copy)…"
  log=$tmp/$name.log
  if ! "${buildah_[@]}" bud --isolation chroot --quiet -t "$ref" "$ctx" >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    die "$name: buildah bud failed (above: the last lines of its output)"
  fi
  say "$name: writing the OCI archive (gzip)…"
  out=$tmp/$name.out
  mkdir -p "$out"
  if ! "${buildah_[@]}" push --quiet "$ref" "oci-archive:$out/image.oci.tar:$ref" >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    die "$name: buildah push to an OCI archive failed (above: the last lines of its output)"
  fi
  # The archive is what is kept; the copy in buildah's storage would only double the disk used.
  "${buildah_[@]}" rmi "$ref" >/dev/null 2>&1 || true
  {
    echo "ref=$ref"
    echo "archive_bytes=$(stat -c %s "$out/image.oci.tar")"
    echo "unpacked_bytes=$unpacked"
    echo "files=$files"
    echo "build_seconds=$((SECONDS - started))"
  } >"$out/info"
  touch "$out/.complete"
  mv "$out" "$dir" # whole: a reader sees no archive or a complete one
  touch "$dir"
  prune_older "$name"
  say "$name: built in $((SECONDS - started)) s"
  report "$name" "$dir"
done

# Beside what goes into them: the executable and SPIRE's own binaries, as they are on disk.
[ "$needs_exe" = 0 ] || say "sizes: node-attestor executable $(mb "$(stat -L -c %s "$exe")")$(for n in "${!spire_bins[@]}"; do printf ', %s %s' "$n" "$(mb "$(stat -L -c %s "${spire_bins[$n]}")")"; done)"
