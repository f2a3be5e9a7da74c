#!/usr/bin/env bash
# Mints the bootstrap credential of the user "spire-agent": a fresh private key and a client
# certificate signed directly with the cluster CA's private key (the 2018 tutorial's way).
# Needs the CA key — on minikube it is ~/.minikube/ca.key; kubeadm clusters keep it in
# /etc/kubernetes/pki/ca.key on a control-plane node. If you cannot or should not touch the CA
# key, use request-via-csr-api.sh instead.
#
# usage: signcsr.sh [-c ca.crt] [-k ca.key] [-o out-dir] [-d days] [-u user]
#   -c  cluster CA certificate  (default: $CA_CERT or ~/.minikube/ca.crt)
#   -k  cluster CA private key  (default: $CA_KEY or ~/.minikube/ca.key)
#   -o  output directory        (default: this script's directory)
#   -d  validity in days        (default: 360, as in the 2018 tutorial)
#   -u  user name (CN)          (default: spire-agent)
# writes <out>/<user>.key (0600), <out>/<user>.csr, <out>/<user>.crt
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ca_cert=${CA_CERT:-$HOME/.minikube/ca.crt}
ca_key=${CA_KEY:-$HOME/.minikube/ca.key}
out=$here
days=360
user=spire-agent
while getopts "c:k:o:d:u:h" opt; do
  case "$opt" in
    c) ca_cert=$OPTARG ;;
    k) ca_key=$OPTARG ;;
    o) out=$OPTARG ;;
    d) days=$OPTARG ;;
    u) user=$OPTARG ;;
    h) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: $0 [-c ca.crt] [-k ca.key] [-o out-dir] [-d days] [-u user]" >&2; exit 2 ;;
  esac
done
for f in "$ca_cert" "$ca_key"; do
  [ -r "$f" ] || { echo "signcsr.sh: cannot read $f; pass the cluster CA with -c and its key with -k" >&2; exit 3; }
done
[[ "$days" =~ ^[1-9][0-9]*$ ]] || { echo "signcsr.sh: -d must be a positive number of days, got '$days'" >&2; exit 2; }
command -v openssl >/dev/null || { echo "signcsr.sh: openssl is required" >&2; exit 1; }
mkdir -p "$out"
tmp=$(mktemp -d "$out/.signcsr.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# A fresh key every time; created 0600 from the start.
(umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/key" 2>/dev/null)
openssl req -new -key "$tmp/key" -subj "/CN=$user" -out "$tmp/csr"
printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n' >"$tmp/ext"
openssl x509 -req -in "$tmp/csr" -CA "$ca_cert" -CAkey "$ca_key" -CAcreateserial -CAserial "$tmp/srl" \
  -days "$days" -sha256 -extfile "$tmp/ext" -out "$tmp/crt" 2>/dev/null ||
  { echo "signcsr.sh: openssl could not sign with $ca_key (is it the key of $ca_cert?)" >&2; exit 3; }
openssl verify -CAfile "$ca_cert" "$tmp/crt" >/dev/null ||
  { echo "signcsr.sh: the new certificate does not verify against $ca_cert" >&2; exit 3; }
mv "$tmp/key" "$out/$user.key"
mv "$tmp/csr" "$out/$user.csr"
mv "$tmp/crt" "$out/$user.crt"
echo "wrote $out/$user.key (0600) and $out/$user.crt (CN=$user, valid $days days, signed by $ca_cert)"
