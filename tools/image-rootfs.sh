#!/usr/bin/env bash
# Plans or assembles the root filesystem of a shell-less container image: the given executables,
# exactly the shared libraries `ldd` lists for them (and the dynamic loader), /etc/passwd and
# /etc/group with the `nonroot` user (images/etc/), the host's CA bundle and an empty /tmp —
# no shell, no coreutils, nothing else. tools/build-images.sh runs it; it knows no image.
#
# usage: tools/image-rootfs.sh plan <spec>...          print the plan, one entry a line
#        tools/image-rootfs.sh assemble <dir> <spec>... write the plan into <dir> (must not exist)
#   spec: exe:<path in image>=<file on this machine>   an executable and the libraries it links
#         file:<path in image>=<file on this machine>  a plain file (mode kept)
#         link:<path in image>=<target>                a symbolic link
# Plan lines (tab-separated): file <dest> <mode> <src> | link <dest> <target> | dir <dest> <mode>
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
die() { echo "image-rootfs: $*" >&2; exit 1; }
usage() { echo "image-rootfs: $* (usage: image-rootfs.sh plan <spec>... | assemble <dir> <spec>...)" >&2; exit 2; }

[ $# -ge 1 ] || usage "no mode"
mode=$1
shift
case "$mode" in
  plan) ;;
  assemble) [ $# -ge 1 ] || usage "assemble needs a directory"; out=$1; shift ;;
  *) usage "unknown mode '$mode'" ;;
esac

# The CA bundle Debian's ca-certificates package writes; the same path every glibc distribution's
# OpenSSL and Go look at, so neither Node nor SPIRE needs telling.
ca_bundle=/etc/ssl/certs/ca-certificates.crt
[ -f "$ca_bundle" ] || die "$ca_bundle is missing: apt-get install ca-certificates"

declare -A seen=()
plan=""
add() { # <dest> <line>: one entry per path in the image, the first one wins
  [ -n "${seen[$1]:-}" ] && return 0
  seen[$1]=1
  plan+="$2"$'\n'
}
add_file() { # <dest> <src> [mode]
  [ -f "$2" ] || die "$2 (for $1) does not exist"
  add "$1" "file	$1	${3:-$(stat -L -c %a "$2")}	$2"
}

# The libraries an executable loads, as ldd resolves them here: "name => /path (addr)" lines and
# the loader's own "/lib64/ld-linux-x86-64.so.2 (addr)"; the vDSO has no file.
libraries() {
  local out
  if ! out=$(ldd "$1" 2>&1); then
    # A statically linked executable has no libraries.
    grep -q 'not a dynamic executable' <<<"$out" && return 0
    die "ldd $1 failed: $out"
  fi
  grep -q 'statically linked' <<<"$out" && return 0
  if grep -q 'not found' <<<"$out"; then die "$1 needs a library this machine lacks: $(grep 'not found' <<<"$out" | head -1)"; fi
  awk '$2 == "=>" && $3 ~ /^\// { print $3 } $2 != "=>" && $1 ~ /^\// { print $1 }' <<<"$out"
}

for spec in "$@"; do
  kind=${spec%%:*}
  rest=${spec#*:}
  dest=${rest%%=*}
  src=${rest#*=}
  [ "$kind" != "$spec" ] && [ "$dest" != "$rest" ] && [ "${dest:0:1}" = / ] || die "bad spec '$spec' (want exe:|file:|link:/path/in/image=source)"
  case "$kind" in
    exe)
      add_file "$dest" "$src" 755
      libs=$(libraries "$src")
      while read -r lib; do [ -z "$lib" ] || add_file "$lib" "$(readlink -f "$lib")"; done <<<"$libs"
      ;;
    file) add_file "$dest" "$src" ;;
    link) add "$dest" "link	$dest	$src" ;;
    *) die "bad spec '$spec' (unknown kind '$kind')" ;;
  esac
done
add_file /etc/passwd "$here/../images/etc/passwd" 644
add_file /etc/group "$here/../images/etc/group" 644
add_file "$ca_bundle" "$(readlink -f "$ca_bundle")" 644
# Node, SPIRE's sockets and the CLI's default identity directory all live under /tmp.
add /tmp "dir	/tmp	1777"

if [ "$mode" = plan ]; then
  printf '%s' "$plan" | sort
  exit 0
fi

[ ! -e "$out" ] || die "$out already exists"
mkdir -p "$out"
while IFS=$'\t' read -r kind dest a b; do
  case "$kind" in
    file) install -D -m "$a" "$b" "$out$dest" ;;
    link) mkdir -p "$out$(dirname "$dest")"; ln -s "$a" "$out$dest" ;;
    dir) install -d -m "$a" "$out$dest" ;;
  esac
done <<<"$plan"
# Directories made on the way are root's and 0755 whatever the umask; /tmp keeps its own mode.
find "$out" -mindepth 1 -type d ! -path "$out/tmp" -exec chmod 0755 {} +
